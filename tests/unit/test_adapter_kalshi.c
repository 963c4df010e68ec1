/* Kalshi adapter: the real trade and ticker recordings with exact decimals,
 * and samples in the published v2 format: orderbook snapshot then relative
 * deltas turned into absolute levels, seq gaps per sid, subscribe acks and
 * error codes, rejects, REST trades with cursor pages and exchange status. */
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
    assert_int_equal(tr_provider_init(&x->p, &tr_provider_kalshi, &x->err), 0);
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

static void recorded_trades_parse_with_exact_decimals(void **state)
{
    struct fx *x = *state;
    char *buf = tp_recording("kalshi_trade.jsonl", NULL);
    assert_non_null(buf);
    struct tp_line l;
    size_t n = 0;
    for (char *cur = buf; tp_next_line(&cur, &l);) {
        if (!l.json)
            continue;
        if (tp_parse(&x->p, &x->f, l.json, &x->err))
            fail_msg("rejected: %s", x->err.msg);
        assert_int_equal(x->f.n_events, 1);
        const struct tr_event *ev = &x->f.events[0];
        assert_int_equal(ev->kind, TR_KIND_TRADE);
        assert_int_equal(ev->fields & TR_F_SEQ, 0); /* per-sid seq stays out */
        assert_true(x->f.has_sid && x->f.has_conn_seq);
        assert_int_equal(strlen(ev->id), 36); /* UUID */
        assert_int_equal(ev->price.scale, 4);
        assert_int_equal(ev->size.scale, 2);
        if (n == 0) {
            assert_string_equal(ev->instrument, "KXSOLD-26FEB1217-T79.9999");
            assert_string_equal(tp_dec(ev->price), "0.7700");
            assert_string_equal(tp_dec(ev->size), "75.00");
            assert_int_equal(ev->side, TR_SIDE_BUY);
            assert_int_equal(ev->ts_exchange, 1770897981LL * 1000000000);
            assert_int_equal(x->f.conn_seq, 10);
        }
        if (n == 1)
            assert_int_equal(ev->side, TR_SIDE_SELL); /* taker bought NO */
        n++;
    }
    assert_int_equal(n, 10);
    free(buf);
    buf = tp_recording("kalshi_ticker.jsonl", NULL);
    assert_non_null(buf);
    n = 0;
    for (char *cur = buf; tp_next_line(&cur, &l);) {
        if (!l.json)
            continue;
        assert_int_equal(tp_parse(&x->p, &x->f, l.json, &x->err), 0);
        assert_int_equal(x->f.events[0].kind, TR_KIND_TICKER);
        assert_true(x->f.events[0].fields & TR_F_BID);
        n++;
    }
    assert_true(n > 0);
    assert_int_equal(x->p.rejects, 0);
    free(buf);
}

static void book_deltas_become_absolute_levels(void **state)
{
    struct fx *x = *state;
    const char *snap =
        "{\"type\":\"orderbook_snapshot\",\"sid\":2,\"seq\":1,\"msg\":{\"market_ticker\":"
        "\"FED-23DEC-T3.00\",\"yes_dollars\":[[\"0.0800\",\"300.00\"],[\"0.2200\",\"333.00\"]],"
        "\"no_dollars\":[[\"0.5400\",\"20.00\"]]}}";
    assert_int_equal(tp_parse(&x->p, &x->f, snap, &x->err), 0);
    const struct tr_event *ev = &x->f.events[0];
    assert_int_equal(ev->kind, TR_KIND_BOOK_SNAPSHOT);
    assert_int_equal(ev->n_bids, 2);
    assert_int_equal(ev->n_asks, 1);
    assert_string_equal(tp_dec(ev->levels[2].price), "0.5400"); /* NO price as sent */
    const char *d1 = "{\"type\":\"orderbook_delta\",\"sid\":2,\"seq\":2,\"msg\":{\"market_ticker\":"
                     "\"FED-23DEC-T3.00\",\"price_dollars\":\"0.0800\",\"delta_fp\":\"-54.50\","
                     "\"side\":\"yes\",\"ts\":\"2023-12-01T15:00:00.123Z\"}}";
    assert_int_equal(tp_parse(&x->p, &x->f, d1, &x->err), 0);
    ev = &x->f.events[0];
    assert_int_equal(ev->kind, TR_KIND_BOOK_DELTA);
    assert_int_equal(ev->n_bids, 1);
    assert_string_equal(tp_dec(ev->levels[0].size), "245.50");
    assert_int_equal(ev->ts_exchange, 1701442800123000000LL);
    const char *d2 = "{\"type\":\"orderbook_delta\",\"sid\":2,\"seq\":3,\"msg\":{\"market_ticker\":"
                     "\"FED-23DEC-T3.00\",\"price_dollars\":\"0.5500\",\"delta_fp\":\"7.00\","
                     "\"side\":\"no\"}}";
    assert_int_equal(tp_parse(&x->p, &x->f, d2, &x->err), 0);
    assert_int_equal(x->f.events[0].n_asks, 1);
    assert_string_equal(tp_dec(x->f.events[0].levels[0].size), "7.00");
    /* Removing more than is there is an inconsistency, not a negative level. */
    const char *bad = "{\"type\":\"orderbook_delta\",\"sid\":2,\"seq\":4,\"msg\":{\"market_ticker\":"
                      "\"FED-23DEC-T3.00\",\"price_dollars\":\"0.5500\",\"delta_fp\":\"-8.00\","
                      "\"side\":\"no\"}}";
    assert_int_equal(tp_parse(&x->p, &x->f, bad, &x->err), TR_ERANGE);
    assert_string_equal(x->err.msg, "kalshi orderbook_delta: field 'delta_fp': level size would "
                                    "be negative or overflow");
    assert_int_equal(x->f.n_events, 0);
    const char *orphan = "{\"type\":\"orderbook_delta\",\"sid\":2,\"seq\":5,\"msg\":{"
                         "\"market_ticker\":\"OTHER\",\"price_dollars\":\"0.5\",\"delta_fp\":"
                         "\"1\",\"side\":\"no\"}}";
    assert_int_equal(tp_parse(&x->p, &x->f, orphan, &x->err), TR_EPROTO);
}

static void seq_gaps_are_per_sid(void **state)
{
    struct fx *x = *state;
    struct tr_sequencer *s;
    assert_int_equal(tr_sequencer_alloc(&tr_provider_kalshi, &s, &x->err), 0);
    struct tp_sink *sink = calloc(1, sizeof *sink);
    /* sid 1 seq 1,2,4 ; sid 2 seq 1,2 (independent) ; sid 1 seq 4 again (dup) */
    static const int sids[] = {1, 1, 2, 2, 1, 1}, seqs[] = {1, 2, 1, 2, 4, 4};
    char m[512];
    for (int i = 0; i < 6; i++) {
        snprintf(m, sizeof m,
                 "{\"type\":\"trade\",\"sid\":%d,\"seq\":%d,\"msg\":{\"trade_id\":\"t%d\","
                 "\"market_ticker\":\"M%d\",\"yes_price_dollars\":\"0.5000\",\"no_price_dollars\":"
                 "\"0.5000\",\"count_fp\":\"1.00\",\"taker_side\":\"yes\",\"ts\":1770897981}}",
                 sids[i], seqs[i], i, sids[i]);
        assert_int_equal(tp_parse(&x->p, &x->f, m, &x->err), 0);
        assert_int_equal(tr_sequencer_step(s, &x->f, tp_sink_cb, sink), 0);
    }
    assert_int_equal(sink->gaps, 1);
    assert_int_equal(sink->ev[4].kind, TR_KIND_GAP);
    assert_int_equal(sink->ev[4].from_seq, 3);
    assert_int_equal(sink->ev[4].to_seq, 3);
    assert_int_equal(tr_sequencer_stats(s)->dups, 1);
    tr_sequencer_free(s);
    free(sink);
}

static void control_messages(void **state)
{
    struct fx *x = *state;
    assert_int_equal(tp_parse(&x->p, &x->f,
                              "{\"id\":1,\"type\":\"subscribed\",\"msg\":{\"channel\":"
                              "\"orderbook_delta\",\"sid\":7}}",
                              &x->err),
                     0);
    assert_int_equal(x->f.ctl.kind, TR_CTL_SUBSCRIBED);
    assert_int_equal(x->f.ctl.n_subs, 1);
    assert_int_equal(x->f.ctl.subs[0].sid, 7);
    assert_string_equal(x->f.ctl.subs[0].channel, "orderbook_delta");
    static const struct {
        int code, want;
        const char *msg;
    } errs[] = {{8, TR_SUBERR_UNKNOWN_CHANNEL, "Unknown channel name"},
                {16, TR_SUBERR_UNKNOWN_MARKET, "Market not found"},
                {18, TR_SUBERR_LIMIT, "Subscription limit exceeded"}, /* the simulator's */
                {26, TR_SUBERR_LIMIT, "Subscription market limit exceeded"},
                {11, TR_SUBERR_OTHER, "Invalid parameter"}};
    for (int i = 0; i < 5; i++) {
        char m[256];
        snprintf(m, sizeof m, "{\"id\":3,\"type\":\"error\",\"msg\":{\"code\":%d,\"msg\":\"%s\"}}",
                 errs[i].code, errs[i].msg);
        assert_int_equal(tp_parse(&x->p, &x->f, m, &x->err), 0);
        assert_int_equal(x->f.ctl.kind, TR_CTL_SUB_ERROR);
        assert_int_equal(x->f.ctl.sub_error, errs[i].want);
        assert_int_equal(x->f.ctl.req_id, 3);
    }
    assert_int_equal(tp_parse(&x->p, &x->f,
                              "{\"id\":4,\"type\":\"error\",\"msg\":{\"code\":18,\"msg\":"
                              "\"Command timeout\"}}",
                              &x->err),
                     0);
    assert_int_equal(x->f.ctl.kind, TR_CTL_SERVER_ERROR);
    assert_int_equal(tp_parse(&x->p, &x->f, "{\"type\":\"trade\",\"sid\":1,\"seq\":1}", &x->err),
                     TR_EPARSE);
    assert_string_equal(x->err.msg, "kalshi message: field 'msg': missing or not an object");
    assert_int_equal(
        tp_parse(&x->p, &x->f,
                 "{\"type\":\"trade\",\"sid\":1,\"seq\":1,\"msg\":{\"trade_id\":\"a\","
                 "\"market_ticker\":\"M\",\"yes_price_dollars\":0.5,\"count_fp\":\"1e3\","
                 "\"taker_side\":\"yes\",\"ts\":1}}",
                 &x->err),
        TR_EPARSE);
    assert_string_equal(x->err.msg, "kalshi trade: field 'count_fp': not a decimal: '1e3'");
}

static void subscribe_and_rest(void **state)
{
    struct fx *x = *state;
    struct tr_buf b;
    tr_buf_init(&b);
    const char *t[] = {"KXBTC-1"};
    struct tr_sub_req req = {.channels = TR_CH_TRADES | TR_CH_BOOK, .instruments = t,
                             .n_instruments = 1, .req_id = 5};
    assert_int_equal(tr_provider_kalshi.subscribe(&req, &b, &x->err), 0);
    assert_int_equal(tr_buf_append(&b, "", 1), 0);
    assert_string_equal((char *)b.data,
                        "{\"id\":5,\"cmd\":\"subscribe\",\"params\":{\"channels\":[\"orderbook_delta\","
                        "\"trade\"],\"market_tickers\":[\"KXBTC-1\"]}}");
    b.len = 0;
    uint64_t sids[] = {1, 2};
    struct tr_sub_req un = {.sids = sids, .n_sids = 2, .req_id = 6};
    assert_int_equal(tr_provider_kalshi.unsubscribe(&un, &b, &x->err), 0);
    assert_int_equal(tr_buf_append(&b, "", 1), 0);
    assert_string_equal((char *)b.data,
                        "{\"id\":6,\"cmd\":\"unsubscribe\",\"params\":{\"sids\":[1,2]}}");
    tr_buf_free(&b);
    char path[256];
    struct tr_rest_req r = {.kind = TR_REST_TRADES, .prefix = "/kalshi", .instrument = "KXBTC-1",
                            .cursor = "abc=", .since_ns = 1770897981LL * 1000000000, .limit = 2};
    assert_int_equal(tr_provider_kalshi.rest_path(&r, path, sizeof path, &x->err), 0);
    assert_string_equal(path, "/kalshi/trade-api/v2/markets/trades?ticker=KXBTC-1&limit=2"
                              "&min_ts=1770897981&cursor=abc%3D");
    const char *body =
        "{\"trades\":[{\"trade_id\":\"b\",\"ticker\":\"KXBTC-1\",\"yes_price_dollars\":\"0.6100\","
        "\"no_price_dollars\":\"0.3900\",\"count_fp\":\"3.00\",\"taker_side\":\"no\","
        "\"created_time\":\"2026-02-12T12:06:22.5Z\"},{\"trade_id\":\"a\",\"ticker\":\"KXBTC-1\","
        "\"yes_price_dollars\":\"0.6000\",\"no_price_dollars\":\"0.4000\",\"count_fp\":\"1.00\","
        "\"taker_side\":\"yes\",\"created_time\":\"2026-02-12T12:06:21Z\"}],\"cursor\":\"next1\"}";
    struct tr_rest_result res;
    tr_rest_result_init(&res);
    assert_int_equal(tr_provider_kalshi.rest_parse(&r, body, strlen(body), &x->f, &res, &x->err),
                     0);
    assert_int_equal(x->f.n_events, 2);
    assert_string_equal(x->f.events[0].id, "a"); /* oldest first */
    assert_string_equal(res.cursor, "next1");
    assert_true(res.more);
    r.kind = TR_REST_STATUS;
    const char *st = "{\"exchange_active\":false,\"trading_active\":false,"
                     "\"exchange_estimated_resume_time\":\"2026-02-12T13:00:00Z\"}";
    assert_int_equal(tr_provider_kalshi.rest_parse(&r, st, strlen(st), &x->f, &res, &x->err), 0);
    assert_int_equal(res.status, TR_XSTATUS_MAINTENANCE);
    assert_true(res.resume_ns > 0);
    const char *st2 = "{\"exchange_active\":true,\"trading_active\":false,"
                      "\"exchange_estimated_resume_time\":null}";
    assert_int_equal(tr_provider_kalshi.rest_parse(&r, st2, strlen(st2), &x->f, &res, &x->err), 0);
    assert_int_equal(res.status, TR_XSTATUS_TRADING_HALTED);
    r.kind = TR_REST_BOOK;
    const char *ob = "{\"orderbook_fp\":{\"yes_dollars\":[[\"0.5100\",\"100.00\"]],"
                     "\"no_dollars\":[]}}";
    assert_int_equal(tr_provider_kalshi.rest_parse(&r, ob, strlen(ob), &x->f, &res, &x->err), 0);
    assert_int_equal(x->f.events[0].n_bids, 1);
    assert_string_equal(x->f.events[0].instrument, "KXBTC-1");
    tr_rest_result_free(&res);
}

/* Field lookup (providers/pjson.c indexes a message object's keys once):
 * the first of repeated keys wins, escaped keys and objects wider than
 * the index still resolve, a key that shares the first 8 bytes and the
 * length of another is not taken for it, and a missing or null field is a
 * counted reject naming it. */
#define KT_HEAD "{\"type\":\"trade\",\"sid\":2,\"seq\":1,\"msg\":{"
#define KT_TAIL "\"trade_id\":\"f851595a-6d92-424e-09f8-0d2669de70ae\",\"yes_price_dollars\":" \
                "\"0.7700\",\"count_fp\":\"75.00\",\"taker_side\":\"yes\",\"ts\":1770897981}}"

static void field_lookup_first_wins_escapes_and_wide_objects(void **state)
{
    struct fx *x = *state;
    /* repeated key: the first wins; a decoy with the same 8-byte prefix
     * and length comes first and is not taken */
    assert_int_equal(tp_parse(&x->p, &x->f, KT_HEAD "\"market_tickeq\":\"DECOY\","
                              "\"market_ticker\":\"FIRST\",\"market_ticker\":\"SECOND\"," KT_TAIL,
                              &x->err), 0);
    assert_string_equal(x->f.events[0].instrument, "FIRST");
    assert_string_equal(tp_dec(x->f.events[0].price), "0.7700");
    /* an escaped key (market_ticker with \u005f) */
    assert_int_equal(tp_parse(&x->p, &x->f, KT_HEAD "\"market\\u005fticker\":\"ESC\"," KT_TAIL,
                              &x->err), 0);
    assert_string_equal(x->f.events[0].instrument, "ESC");
    /* wider than the index: 30 unknown keys before the fields */
    char wide[4096] = KT_HEAD;
    for (int i = 0; i < 30; i++)
        snprintf(wide + strlen(wide), sizeof wide - strlen(wide), "\"k%02d\":%d,", i, i);
    snprintf(wide + strlen(wide), sizeof wide - strlen(wide), "\"market_ticker\":\"WIDE\","
             KT_TAIL);
    assert_int_equal(tp_parse(&x->p, &x->f, wide, &x->err), 0);
    assert_string_equal(x->f.events[0].instrument, "WIDE");
    assert_string_equal(tp_dec(x->f.events[0].size), "75.00");
    /* missing and null fields: rejects that name the field, counted */
    uint64_t before = x->p.rejects;
    assert_int_equal(tp_parse(&x->p, &x->f, KT_HEAD "\"market_ticker\":\"M\",\"trade_id\":"
                              "\"f851595a-6d92-424e-09f8-0d2669de70ae\",\"yes_price_dollars\":"
                              "\"0.77\",\"taker_side\":\"yes\",\"ts\":1}}", &x->err),
                     TR_EPARSE);
    assert_non_null(strstr(x->err.msg, "'count_fp'"));
    assert_int_equal(x->f.n_events, 0);
    assert_int_equal(tp_parse(&x->p, &x->f, KT_HEAD "\"market_ticker\":null," KT_TAIL, &x->err),
                     TR_EPARSE);
    assert_non_null(strstr(x->err.msg, "'market_ticker'"));
    assert_int_equal(x->p.rejects, before + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(recorded_trades_parse_with_exact_decimals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(book_deltas_become_absolute_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(seq_gaps_are_per_sid, setup, teardown),
        cmocka_unit_test_setup_teardown(control_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(subscribe_and_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(field_lookup_first_wins_escapes_and_wide_objects, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
