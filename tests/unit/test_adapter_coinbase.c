/* Coinbase adapter: the real 2021 recording (every frame parses, all match
 * trade_ids contiguous per product, level2 splits into bids/asks), and
 * samples in the published format: taker side, heartbeats revealing a
 * gap, duplicates, subscribe errors, rejects naming the field, REST. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/test_provider_util.h"

struct fx {
    struct tr_provider p;
    struct tr_frame f;
    struct tr_error err;
};

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    assert_int_equal(tr_provider_init(&x->p, &tr_provider_coinbase, &x->err), 0);
    tr_frame_init(&x->f);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    tr_frame_free(&x->f);
    tr_provider_close(&x->p);
    free(x);
    return 0;
}

#define MAX_PRODUCTS 16
struct per_product {
    char id[TR_INSTRUMENT_MAX];
    uint64_t last, n;
};

static void recording_every_frame_parses_and_matches_are_contiguous(void **state)
{
    struct fx *x = *state;
    size_t len;
    char *buf = tp_recording("COINBASE.ws.28.0", &len);
    assert_non_null(buf);
    char *cur = buf;
    struct tp_line l;
    struct per_product pp[MAX_PRODUCTS] = {0};
    size_t np = 0, frames = 0, matches = 0, l2 = 0, snaps = 0, tickers = 0, subs = 0;
    while (tp_next_line(&cur, &l)) {
        if (!l.json || l.direction != 0)
            continue;
        frames++;
        int rc = tr_provider_parse(&x->p, l.json, strlen(l.json), l.recv_ns, &x->f, &x->err);
        if (rc)
            fail_msg("frame %zu rejected: %s", frames, x->err.msg);
        if (x->f.ctl.kind == TR_CTL_SUBSCRIBED)
            subs++;
        for (size_t i = 0; i < x->f.n_events; i++) {
            const struct tr_event *ev = &x->f.events[i];
            assert_int_equal(tr_event_validate(ev, &x->err), 0);
            assert_string_equal(ev->provider, "coinbase");
            assert_true(ev->fields & TR_F_TS_RECEIVE);
            if (ev->kind == TR_KIND_TRADE) {
                matches++;
                size_t k = 0;
                while (k < np && strcmp(pp[k].id, ev->instrument) != 0)
                    k++;
                if (k == np) {
                    assert_true(np < MAX_PRODUCTS);
                    strcpy(pp[np++].id, ev->instrument);
                } else {
                    assert_int_equal(ev->seq, pp[k].last + 1); /* contiguous trade_id */
                }
                pp[k].last = ev->seq;
                pp[k].n++;
                assert_true(ev->side == TR_SIDE_BUY || ev->side == TR_SIDE_SELL);
                assert_true(ev->price.mant > 0 && ev->size.mant > 0);
            } else if (ev->kind == TR_KIND_BOOK_DELTA) {
                l2++;
                assert_int_equal(ev->fields & TR_F_SEQ, 0); /* level2 has none */
                assert_true(ev->n_bids + ev->n_asks >= 1);
            } else if (ev->kind == TR_KIND_BOOK_SNAPSHOT) {
                snaps++;
                assert_true(ev->n_bids > 0 && ev->n_asks > 0);
            } else if (ev->kind == TR_KIND_TICKER) {
                tickers++;
            }
        }
    }
    /* README: 9,719 l2update, 97 match (+10 last_match), 10 snapshots. */
    assert_int_equal(matches, 97 + 10);
    assert_int_equal(l2, 9719);
    assert_int_equal(snaps, 10);
    assert_int_equal(tickers, 107);
    assert_int_equal(subs, 3);
    assert_int_equal(x->p.rejects, 0);
    free(buf);
}

static void recording_sequencer_reports_no_gap(void **state)
{
    struct fx *x = *state;
    char *buf = tp_recording("COINBASE.ws.28.0", NULL);
    assert_non_null(buf);
    struct tr_sequencer *s;
    assert_int_equal(tr_sequencer_alloc(&tr_provider_coinbase, &s, &x->err), 0);
    struct tp_sink *sink = calloc(1, sizeof *sink);
    char *cur = buf;
    struct tp_line l;
    while (tp_next_line(&cur, &l)) {
        if (!l.json || l.direction != 0)
            continue;
        assert_int_equal(tp_parse(&x->p, &x->f, l.json, &x->err), 0);
        assert_int_equal(tr_sequencer_step(s, &x->f, tp_sink_cb, sink), 0);
    }
    assert_int_equal(sink->gaps, 0);
    assert_int_equal(tr_sequencer_stats(s)->dups, 0);
    tr_sequencer_free(s);
    free(sink);
    free(buf);
}

static void match_side_is_taker_side(void **state)
{
    struct fx *x = *state;
    const char *m =
        "{\"type\":\"match\",\"trade_id\":10,\"maker_order_id\":\"a\",\"taker_order_id\":\"b\","
        "\"side\":\"sell\",\"size\":\"0.00100000\",\"price\":\"64000.01\",\"product_id\":"
        "\"BTC-USD\",\"sequence\":50,\"time\":\"2021-04-17T16:43:37.089723Z\",\"new\":1}";
    assert_int_equal(tp_parse(&x->p, &x->f, m, &x->err), 0);
    assert_int_equal(x->f.n_events, 1);
    const struct tr_event *ev = &x->f.events[0];
    assert_int_equal(ev->kind, TR_KIND_TRADE);
    assert_int_equal(ev->side, TR_SIDE_BUY); /* maker sold: taker bought */
    assert_string_equal(ev->instrument, "BTC-USD");
    assert_string_equal(ev->id, "10");
    assert_int_equal(ev->seq, 10);
    assert_string_equal(tp_dec(ev->size), "0.00100000"); /* places kept */
    assert_string_equal(tp_dec(ev->price), "64000.01");
    assert_int_equal(ev->ts_exchange, 1618677817089723000LL);
}

static void l2update_splits_bids_and_asks(void **state)
{
    struct fx *x = *state;
    const char *m = "{\"type\":\"l2update\",\"product_id\":\"BTC-USD\",\"changes\":[[\"sell\","
                    "\"10.5\",\"1\"],[\"buy\",\"10.1\",\"0\"],[\"buy\",\"10.0\",\"2.5\"]],"
                    "\"time\":\"2021-04-17T16:43:37Z\"}";
    assert_int_equal(tp_parse(&x->p, &x->f, m, &x->err), 0);
    const struct tr_event *ev = &x->f.events[0];
    assert_int_equal(ev->kind, TR_KIND_BOOK_DELTA);
    assert_int_equal(ev->n_bids, 2);
    assert_int_equal(ev->n_asks, 1);
    assert_string_equal(tp_dec(ev->levels[0].price), "10.1");
    assert_string_equal(tp_dec(ev->levels[0].size), "0");
    assert_string_equal(tp_dec(ev->levels[1].price), "10.0");
    assert_string_equal(tp_dec(ev->levels[2].price), "10.5");
}

static void heartbeat_ahead_of_trades_is_a_gap_and_duplicates_drop(void **state)
{
    struct fx *x = *state;
    struct tr_sequencer *s;
    assert_int_equal(tr_sequencer_alloc(&tr_provider_coinbase, &s, &x->err), 0);
    struct tp_sink *sink = calloc(1, sizeof *sink);
    char m[512];
    static const int ids[] = {100, 101, 101, 100, 104, 105};
    for (size_t i = 0; i < 6; i++) {
        snprintf(m, sizeof m,
                 "{\"type\":\"match\",\"trade_id\":%d,\"side\":\"buy\",\"size\":\"1\","
                 "\"price\":\"2\",\"product_id\":\"ETH-USD\",\"sequence\":%d,"
                 "\"time\":\"2021-04-17T16:43:37.1Z\"}",
                 ids[i], 1000 + (int)i);
        assert_int_equal(tp_parse(&x->p, &x->f, m, &x->err), 0);
        assert_int_equal(tr_sequencer_step(s, &x->f, tp_sink_cb, sink), 0);
    }
    /* 100 101 [dup 101] [late 100] gap(102..103) 104 105 */
    assert_int_equal(sink->n, 5);
    assert_int_equal(sink->ev[2].kind, TR_KIND_GAP);
    assert_int_equal(sink->ev[2].from_seq, 102);
    assert_int_equal(sink->ev[2].to_seq, 103);
    assert_string_equal(sink->ev[2].instrument, "ETH-USD");
    assert_int_equal(tr_sequencer_stats(s)->dups, 2);
    const char *hb = "{\"type\":\"heartbeat\",\"sequence\":2000,\"last_trade_id\":108,"
                     "\"product_id\":\"ETH-USD\",\"time\":\"2021-04-17T16:43:38Z\"}";
    assert_int_equal(tp_parse(&x->p, &x->f, hb, &x->err), 0);
    assert_int_equal(x->f.ctl.kind, TR_CTL_HEARTBEAT);
    assert_int_equal(x->f.n_marks, 1);
    assert_int_equal(x->f.marks[0].last_trade_id, 108);
    assert_int_equal(tr_sequencer_step(s, &x->f, tp_sink_cb, sink), 0);
    assert_int_equal(sink->n, 6);
    assert_int_equal(sink->ev[5].kind, TR_KIND_GAP);
    assert_int_equal(sink->ev[5].from_seq, 106);
    assert_int_equal(sink->ev[5].to_seq, 108);
    tr_sequencer_free(s);
    free(sink);
}

static void subscribe_errors_are_classified(void **state)
{
    struct fx *x = *state;
    assert_int_equal(tp_parse(&x->p, &x->f,
                              "{\"type\":\"error\",\"message\":\"Failed to subscribe\",\"reason\":"
                              "\"FOO-BAR is not a valid product\"}",
                              &x->err),
                     0);
    assert_int_equal(x->f.ctl.kind, TR_CTL_SUB_ERROR);
    assert_int_equal(x->f.ctl.sub_error, TR_SUBERR_UNKNOWN_MARKET);
    assert_string_equal(x->f.ctl.instrument, "FOO-BAR");
    assert_int_equal(tr_policy_for_sub_error(x->f.ctl.sub_error), TR_POLICY_DROP_MARKET);
    assert_int_equal(tp_parse(&x->p, &x->f,
                              "{\"type\":\"error\",\"message\":\"Failed to subscribe\",\"reason\":"
                              "\"matchez is not a valid channel\"}",
                              &x->err),
                     0);
    assert_int_equal(x->f.ctl.sub_error, TR_SUBERR_UNKNOWN_CHANNEL);
    assert_int_equal(tp_parse(&x->p, &x->f,
                              "{\"type\":\"error\",\"message\":\"Failed to subscribe\",\"reason\":"
                              "\"subscription limit exceeded\"}",
                              &x->err),
                     0);
    assert_int_equal(x->f.ctl.sub_error, TR_SUBERR_LIMIT);
    assert_int_equal(tp_parse(&x->p, &x->f, "{\"type\":\"error\",\"message\":\"boom\"}", &x->err),
                     0);
    assert_int_equal(x->f.ctl.kind, TR_CTL_SERVER_ERROR);
    assert_int_equal(tp_parse(&x->p, &x->f, "{\"type\":\"received\",\"x\":1}", &x->err), 0);
    assert_int_equal(x->f.ctl.kind, TR_CTL_IGNORED);
}

static void rejects_name_the_field_and_leave_no_event(void **state)
{
    struct fx *x = *state;
    static const struct {
        const char *frame, *want;
        int code;
    } cases[] = {
        {"{\"type\":\"match\",\"trade_id\":1,\"side\":\"buy\",\"size\":\"1\",\"product_id\":\"A\","
         "\"time\":\"2021-04-17T16:43:37Z\"}",
         "coinbase match: field 'price': missing", TR_EPARSE},
        {"{\"type\":\"match\",\"trade_id\":1,\"side\":\"buy\",\"size\":\"1\",\"price\":true,"
         "\"product_id\":\"A\",\"time\":\"2021-04-17T16:43:37Z\"}",
         "coinbase match: field 'price': expected a decimal", TR_EPARSE},
        {"{\"type\":\"match\",\"trade_id\":1,\"side\":\"buy\",\"size\":\"1\",\"price\":"
         "\"99999999999999999999\",\"product_id\":\"A\",\"time\":\"2021-04-17T16:43:37Z\"}",
         "coinbase match: field 'price': decimal", TR_ERANGE},
        {"{\"type\":\"match\",\"trade_id\":-1,\"side\":\"buy\",\"size\":\"1\",\"price\":\"1\","
         "\"product_id\":\"A\",\"time\":\"2021-04-17T16:43:37Z\"}",
         "coinbase match: field 'trade_id'", TR_ERANGE},
        {"{\"type\":\"match\",\"trade_id\":1,\"side\":\"up\",\"size\":\"1\",\"price\":\"1\","
         "\"product_id\":\"A\",\"time\":\"2021-04-17T16:43:37Z\"}",
         "coinbase match: field 'side'", TR_EPARSE},
        {"{\"type\":\"match\",\"trade_id\":1,\"side\":\"buy\",\"size\":\"1\",\"price\":\"1\","
         "\"product_id\":\"A\",\"time\":\"yesterday\"}",
         "coinbase match: field 'time'", TR_EPARSE},
        {"{\"type\":\"l2update\",\"product_id\":\"A\",\"changes\":[[\"buy\",\"1\"]],"
         "\"time\":\"2021-04-17T16:43:37Z\"}",
         "coinbase l2update: field 'changes'", TR_EPARSE},
        {"[1,2]", "coinbase: frame is not an object", TR_EPARSE},
        {"{\"type\":\"match\"", "coinbase", TR_EPARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = tp_parse(&x->p, &x->f, cases[i].frame, &x->err);
        if (rc != cases[i].code || strncmp(x->err.msg, cases[i].want, strlen(cases[i].want)))
            fail_msg("case %zu: rc %d msg '%s'", i, rc, x->err.msg);
        assert_int_equal(x->f.n_events, 0);
    }
}

static void subscribe_message_and_rest_paths(void **state)
{
    struct fx *x = *state;
    struct tr_buf b;
    tr_buf_init(&b);
    const char *ids[] = {"BTC-USD", "ETH-USD"};
    struct tr_sub_req req = {.channels = TR_CH_TRADES | TR_CH_BOOK, .instruments = ids,
                             .n_instruments = 2};
    assert_int_equal(tr_provider_coinbase.subscribe(&req, &b, &x->err), 0);
    assert_int_equal(tr_buf_append(&b, "", 1), 0);
    assert_string_equal((char *)b.data,
                        "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\",\"ETH-USD\"],"
                        "\"channels\":[\"matches\",\"heartbeat\",\"level2\"]}");
    tr_buf_free(&b);
    char path[256];
    struct tr_rest_req r = {.kind = TR_REST_TRADES, .prefix = "/coinbase",
                            .instrument = "BTC-USD", .after_id = 41, .has_after_id = 1,
                            .limit = 100};
    assert_int_equal(tr_provider_coinbase.rest_path(&r, path, sizeof path, &x->err), 0);
    assert_string_equal(path, "/coinbase/products/BTC-USD/trades?limit=100&before=41");
    r.kind = TR_REST_BOOK;
    assert_int_equal(tr_provider_coinbase.rest_path(&r, path, sizeof path, &x->err), 0);
    assert_string_equal(path, "/coinbase/products/BTC-USD/book?level=2");
    r.kind = TR_REST_STATUS;
    r.prefix = NULL;
    assert_int_equal(tr_provider_coinbase.rest_path(&r, path, sizeof path, &x->err), 0);
    assert_string_equal(path, "/status");
    assert_int_equal(tr_provider_coinbase.rest_path(&r, path, 4, &x->err), TR_ETOOBIG);
}

static void rest_trades_come_back_ascending_with_taker_side(void **state)
{
    struct fx *x = *state;
    const char *body =
        "[{\"time\":\"2021-04-17T16:43:39.000001Z\",\"trade_id\":44,\"price\":\"3.00\","
        "\"size\":\"1\",\"side\":\"buy\"},{\"time\":\"2021-04-17T16:43:38Z\",\"trade_id\":43,"
        "\"price\":\"2.00\",\"size\":\"1\",\"side\":\"sell\"},{\"time\":\"2021-04-17T16:43:37Z\","
        "\"trade_id\":42,\"price\":\"1.00\",\"size\":\"1\",\"side\":\"buy\"}]";
    struct tr_rest_req r = {.kind = TR_REST_TRADES, .instrument = "BTC-USD", .after_id = 41,
                            .has_after_id = 1, .limit = 3};
    struct tr_rest_result res;
    tr_rest_result_init(&res);
    assert_int_equal(
        tr_provider_coinbase.rest_parse(&r, body, strlen(body), &x->f, &res, &x->err), 0);
    assert_int_equal(x->f.n_events, 3);
    assert_int_equal(x->f.events[0].seq, 42);
    assert_int_equal(x->f.events[2].seq, 44);
    assert_int_equal(x->f.events[0].side, TR_SIDE_SELL);
    assert_string_equal(x->f.events[0].instrument, "BTC-USD");
    assert_int_equal(res.next_after_id, 44);
    assert_true(res.more);
    const char *book = "{\"sequence\":77,\"bids\":[[\"1.0\",\"2\",3]],\"asks\":[]}";
    r.kind = TR_REST_BOOK;
    assert_int_equal(
        tr_provider_coinbase.rest_parse(&r, book, strlen(book), &x->f, &res, &x->err), 0);
    assert_int_equal(x->f.events[0].kind, TR_KIND_BOOK_SNAPSHOT);
    assert_int_equal(x->f.events[0].seq, 77);
    assert_int_equal(x->f.events[0].n_bids, 1);
    const char *st = "{\"status\":\"maintenance\",\"resume_time\":\"2021-04-17T17:00:00Z\"}";
    r.kind = TR_REST_STATUS;
    assert_int_equal(tr_provider_coinbase.rest_parse(&r, st, strlen(st), &x->f, &res, &x->err),
                     0);
    assert_int_equal(res.status, TR_XSTATUS_MAINTENANCE);
    assert_int_equal(res.resume_ns, 1618678800LL * 1000000000LL);
    char *products = tp_recording("COINBASE.0", NULL);
    assert_non_null(products);
    char *json = strstr(products, ": [");
    assert_non_null(json);
    json += 2;
    char *nl = strchr(json, '\n');
    if (nl)
        *nl = '\0';
    r.kind = TR_REST_MARKETS;
    assert_int_equal(
        tr_provider_coinbase.rest_parse(&r, json, strlen(json), &x->f, &res, &x->err), 0);
    assert_true(res.n_names > 100);
    free(products);
    tr_rest_result_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(recording_every_frame_parses_and_matches_are_contiguous,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(recording_sequencer_reports_no_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(match_side_is_taker_side, setup, teardown),
        cmocka_unit_test_setup_teardown(l2update_splits_bids_and_asks, setup, teardown),
        cmocka_unit_test_setup_teardown(heartbeat_ahead_of_trades_is_a_gap_and_duplicates_drop,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(subscribe_errors_are_classified, setup, teardown),
        cmocka_unit_test_setup_teardown(rejects_name_the_field_and_leave_no_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(subscribe_message_and_rest_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(rest_trades_come_back_ascending_with_taker_side, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
