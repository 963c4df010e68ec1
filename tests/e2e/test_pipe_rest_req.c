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

/* snapshot_backoff_* (book snapshots) and rest_backoff_* (trade
 * backfills, operator jobs) are separate: each retry delay lies in
 * [d, 1.25 d) for d = min(base * 2^attempt, max) of its own pair. */
static void snapshot_retries_use_snapshot_backoff(void **state)
{
    (void)state;
    struct pipe_feed_cfg fc;
    memset(&fc, 0, sizeof fc);
    fc.snapshot_backoff_base_ms = 100;
    fc.snapshot_backoff_max_ms = 400;
    fc.rest_backoff_base_ms = 30000;
    fc.rest_backoff_max_ms = 300000;
    struct pd_stream s;
    memset(&s, 0, sizeof s);
    struct pipe_rest_req book = {.kind = TR_REST_BOOK, .s = &s};
    struct pipe_rest_req trades = {.kind = TR_REST_TRADES, .s = &s};
    static const uint32_t snap_d[] = {100, 200, 400, 400, 400};
    for (uint64_t rnd = 1; rnd < 2000; rnd += 37)
        for (uint32_t a = 0; a < 5; a++) {
            uint64_t b = pipe_rest_retry_ms(&fc, &book, a, rnd * 0x9e3779b97f4a7c15ull);
            assert_in_range(b, snap_d[a], snap_d[a] + snap_d[a] / 4);
            uint64_t t = pipe_rest_retry_ms(&fc, &trades, a, rnd * 0x9e3779b97f4a7c15ull);
            uint64_t td = 30000ull << a < 300000 ? 30000ull << a : 300000;
            assert_in_range(t, td, td + td / 4);
        }
}

/* The reference's snapshot poller "skips on persistent failure": a book
 * snapshot is skipped once it failed snapshot_attempts times (0: never);
 * trade backfills and operator jobs are never skipped. */
static void snapshot_skipped_after_its_attempts_only(void **state)
{
    (void)state;
    struct pipe_feed_cfg fc;
    memset(&fc, 0, sizeof fc);
    fc.snapshot_attempts = 4;
    struct pd_stream s;
    memset(&s, 0, sizeof s);
    struct pipe_rest_req book = {.kind = TR_REST_BOOK, .s = &s};
    struct pipe_rest_req trades = {.kind = TR_REST_TRADES, .s = &s};
    for (uint32_t a = 0; a < 10; a++) {
        book.attempts = trades.attempts = a;
        assert_int_equal(pipe_rest_snapshot_skip(&fc, &book), a >= 4);
        assert_int_equal(pipe_rest_snapshot_skip(&fc, &trades), 0);
    }
    fc.snapshot_attempts = 0;
    book.attempts = 1000;
    assert_int_equal(pipe_rest_snapshot_skip(&fc, &book), 0);
}

/* Maintenance (node/pipe_maint.c): the status is polled at the announced
 * resume time + 0.5 s, at most poll_ms later; without a time, or once it
 * has passed, every poll_ms (the reference's 30 s); reconnects are held
 * for at most maintenance_max from the first report. */
static void maintenance_poll_plan_and_bound(void **state)
{
    (void)state;
    const int64_t s1 = 1000000000, now = 1800000000 * s1;
    assert_int_equal(pipe_maint_poll_ms(now, now + 3 * s1, 30000), 3500);
    assert_int_equal(pipe_maint_poll_ms(now, now + 3600 * s1, 30000), 30000);
    assert_int_equal(pipe_maint_poll_ms(now, 0, 30000), 30000);
    assert_int_equal(pipe_maint_poll_ms(now, now - 5 * s1, 30000), 30000);
    assert_int_equal(pipe_maint_poll_ms(now, now + 1, 2000), 500);
    assert_true(pipe_maint_within_bound(now, now - 10 * s1, 60000));
    assert_false(pipe_maint_within_bound(now, now - 60 * s1, 60000));
    assert_true(pipe_maint_within_bound(now, now - 5 * 3600 * s1, 6 * 3600000ull));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(book_request_names_instrument_and_binance_parses_it),
        cmocka_unit_test(trade_backfill_request_names_instrument_and_position),
        cmocka_unit_test(snapshot_retries_use_snapshot_backoff),
        cmocka_unit_test(snapshot_skipped_after_its_attempts_only),
        cmocka_unit_test(maintenance_poll_plan_and_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
