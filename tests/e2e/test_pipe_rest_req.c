/* Regression test for the node's REST requests (node/pipe_rest.c): the
 * request the node hands to an adapter must name the stream's instrument
 * for book snapshots and trade backfills. A BOOK request without it made
 * the Binance depth parser call strlen(NULL) (its answer does not name the
 * symbol). Builds the request as the node does and feeds a real depth body
 * to the Binance adapter. No I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pipe_feed.h"

static void book_request_names_instrument_and_binance_parses_it(void **state)
{
    (void)state;
    struct pipe_feed_cfg fc;
    memset(&fc, 0, sizeof fc);
    snprintf(fc.rest_prefix, sizeof fc.rest_prefix, "/binance");
    struct pipe_feed f;
    memset(&f, 0, sizeof f);
    f.cfg = &fc;
    f.ops = &tr_provider_binance;
    struct pd_stream s;
    memset(&s, 0, sizeof s);
    snprintf(s.instrument, sizeof s.instrument, "SIM0USDT");
    struct pipe_rest_req r = {.kind = TR_REST_BOOK, .s = &s};
    struct tr_rest_req q;
    pipe_rest_build_req(&f, &r, &q);
    assert_non_null(q.instrument);
    assert_string_equal(q.instrument, "SIM0USDT");

    char path[512];
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(f.ops->rest_path(&q, path, sizeof path, &err), 0);
    assert_non_null(strstr(path, "SIM0USDT"));

    static const char body[] =
        "{\"lastUpdateId\":1027024,\"bids\":[[\"4.00000000\",\"431.00000000\"]],"
        "\"asks\":[[\"4.00000200\",\"12.00000000\"]]}";
    struct tr_frame fr;
    tr_frame_init(&fr);
    struct tr_rest_result res;
    tr_rest_result_init(&res);
    assert_int_equal(f.ops->rest_parse(&q, body, sizeof body - 1, &fr, &res, &err), 0);
    assert_int_equal(fr.n_events, 1);
    assert_int_equal(fr.events[0].kind, TR_KIND_BOOK_SNAPSHOT);
    assert_string_equal(fr.events[0].instrument, "SIM0USDT");
    assert_int_equal(fr.events[0].seq, 1027024);
    tr_rest_result_free(&res);
    tr_frame_free(&fr);
}

static void trade_backfill_request_names_instrument_and_position(void **state)
{
    (void)state;
    struct pipe_feed_cfg fc;
    memset(&fc, 0, sizeof fc);
    struct pipe_feed f;
    memset(&f, 0, sizeof f);
    f.cfg = &fc;
    f.ops = &tr_provider_binance;
    struct pd_stream s;
    memset(&s, 0, sizeof s);
    snprintf(s.instrument, sizeof s.instrument, "SIM1USDT");
    s.have = 1;
    s.last = 41;
    struct pipe_rest_req r = {.kind = TR_REST_TRADES, .s = &s};
    struct tr_rest_req q;
    pipe_rest_build_req(&f, &r, &q);
    assert_string_equal(q.instrument, "SIM1USDT");
    assert_null(q.prefix); /* "" for a real host */
    assert_int_equal(q.has_after_id, 1);
    assert_int_equal(q.after_id, 41);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(book_request_names_instrument_and_binance_parses_it),
        cmocka_unit_test(trade_backfill_request_names_instrument_and_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
