/* Binance adapter: the real 2021 combined-stream recording (every frame
 * parses; each symbol's depth stream syncs against the recorded REST
 * /api/v3/depth snapshot by the buffering rule; aggTrade ids contiguous),
 * and samples in the published format: raw frames, trade side from m,
 * bookTicker, errors, out-of-order/duplicate depth, REST. */
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
    assert_int_equal(tr_provider_init(&x->p, &tr_provider_binance, &x->err), 0);
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

struct item {
    int64_t ts;
    int rest; /* 1 = REST depth body */
    char symbol[32];
    char *json;
};

static int by_time(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

struct sym {
    char name[TR_INSTRUMENT_MAX];
    struct tr_booksync bs;
    int synced;
    uint64_t last_agg;
    size_t aggs;
};

static int count_cb(void *arg, const struct tr_event *ev)
{
    (*(size_t *)arg)++;
    (void)ev;
    return 0;
}

static void recording_depth_syncs_against_rest_snapshots(void **state)
{
    struct fx *x = *state;
    char *ws = tp_recording("BINANCE.ws.1.0", NULL), *http = tp_recording("BINANCE.http.0.0", NULL);
    assert_non_null(ws);
    assert_non_null(http);
    struct item *items = calloc(4096, sizeof *items);
    size_t n = 0;
    struct tp_line l;
    for (char *cur = ws; tp_next_line(&cur, &l);)
        if (l.json && l.direction == 0) {
            assert_true(n < 4096);
            items[n++] = (struct item){.ts = l.recv_ns, .json = l.json};
        }
    for (char *cur = http; tp_next_line(&cur, &l);) {
        if (!l.json || l.direction != 3)
            continue;
        char *s = strstr(l.url, "symbol=");
        assert_non_null(s);
        struct item it = {.ts = l.recv_ns, .rest = 1, .json = l.json};
        sscanf(s + 7, "%31[A-Z0-9]", it.symbol);
        items[n++] = it;
    }
    qsort(items, n, sizeof *items, by_time);
    struct sym syms[8] = {0};
    size_t nsym = 0, emitted = 0, depth = 0, agg = 0, ticks = 0, ignored = 0;
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        if (it->rest) {
            struct tr_rest_req r = {.kind = TR_REST_BOOK, .instrument = it->symbol};
            struct tr_rest_result res;
            tr_rest_result_init(&res);
            assert_int_equal(tr_provider_binance.rest_parse(&r, it->json, strlen(it->json), &x->f,
                                                            &res, &x->err),
                             0);
            size_t k = 0;
            while (k < nsym && strcmp(syms[k].name, it->symbol))
                k++;
            assert_true(k < nsym); /* the stream started before the snapshot */
            assert_int_equal(tr_booksync_snapshot(&syms[k].bs, &x->f.events[0], count_cb, &emitted),
                             TR_SEQ_OK);
            assert_int_equal(syms[k].bs.state, TR_BOOK_LIVE);
            assert_true(syms[k].bs.stale > 0); /* buffered deltas before L were dropped */
            syms[k].synced = 1;
            tr_rest_result_free(&res);
            continue;
        }
        if (tp_parse(&x->p, &x->f, it->json, &x->err))
            fail_msg("rejected: %s", x->err.msg);
        if (x->f.ctl.kind == TR_CTL_IGNORED)
            ignored++;
        for (size_t e = 0; e < x->f.n_events; e++) {
            const struct tr_event *ev = &x->f.events[e];
            assert_int_equal(tr_event_validate(ev, &x->err), 0);
            size_t k = 0;
            while (k < nsym && strcmp(syms[k].name, ev->instrument))
                k++;
            if (k == nsym) {
                assert_true(nsym < 8);
                snprintf(syms[nsym].name, sizeof syms[nsym].name, "%s", ev->instrument);
                tr_booksync_init(&syms[nsym].bs, 0);
                nsym++;
            }
            if (ev->kind == TR_KIND_BOOK_DELTA) {
                depth++;
                uint64_t from, to;
                int v = tr_booksync_delta(&syms[k].bs, ev, count_cb, &emitted, &from, &to);
                /* After the sync a delta may still be stale (u <= L): it
                 * was sent before the snapshot but arrived after the REST
                 * answer. Anything but OK or stale would be a gap. */
                if (syms[k].synced) {
                    if (v != TR_SEQ_OK && v != TR_SEQ_DUP) fail_msg("%s: verdict %d U %llu u %llu last %llu", ev->instrument, v, (unsigned long long)ev->first_seq, (unsigned long long)ev->seq, (unsigned long long)syms[k].bs.track.last);
                } else
                    assert_int_equal(v, TR_SEQ_FIRST); /* buffered */
            } else if (ev->kind == TR_KIND_TRADE) {
                agg++;
                if (syms[k].aggs)
                    assert_true(ev->seq > syms[k].last_agg);
                syms[k].last_agg = ev->seq;
                syms[k].aggs++;
            } else if (ev->kind == TR_KIND_TICKER) {
                ticks++;
                assert_true(ev->fields & TR_F_BID);
            }
        }
    }
    assert_int_equal(nsym, 4);
    for (size_t k = 0; k < nsym; k++) {
        assert_true(syms[k].synced);
        assert_true(syms[k].bs.applied > 0);
        tr_booksync_close(&syms[k].bs);
    }
    assert_true(depth > 0 && agg > 0 && ticks > 0 && ignored > 0); /* kline ignored */
    assert_int_equal(x->p.rejects, 0);
    free(items);
    free(ws);
    free(http);
}

static void raw_and_combined_frames_normalise_alike(void **state)
{
    struct fx *x = *state;
    const char *raw = "{\"e\":\"trade\",\"E\":1672515782136,\"s\":\"BNBBTC\",\"t\":12345,"
                      "\"p\":\"0.001\",\"q\":\"100\",\"T\":1672515782136,\"m\":true,\"M\":true}";
    const char *comb = "{\"stream\":\"bnbbtc@trade\",\"data\":{\"e\":\"trade\",\"E\":1672515782136,"
                       "\"s\":\"BNBBTC\",\"t\":12345,\"p\":\"0.001\",\"q\":\"100\",\"T\":"
                       "1672515782136,\"m\":true,\"M\":true}}";
    struct tr_event a;
    assert_int_equal(tp_parse(&x->p, &x->f, raw, &x->err), 0);
    a = x->f.events[0];
    assert_int_equal(tp_parse(&x->p, &x->f, comb, &x->err), 0);
    assert_true(tr_event_equal(&a, &x->f.events[0]));
    assert_int_equal(a.side, TR_SIDE_SELL); /* buyer was maker: taker sold */
    assert_int_equal(a.seq, 12345);
    assert_string_equal(a.id, "12345");
    assert_int_equal(a.ts_exchange, 1672515782136LL * 1000000);
    assert_string_equal(tp_dec(a.price), "0.001");
    const char *agg = "{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BNBBTC\",\"a\":7,\"p\":\"1.5\","
                      "\"q\":\"2\",\"f\":100,\"l\":105,\"T\":2,\"m\":false,\"M\":true}";
    assert_int_equal(tp_parse(&x->p, &x->f, agg, &x->err), 0);
    assert_int_equal(x->f.events[0].side, TR_SIDE_BUY);
    assert_int_equal(x->f.events[0].seq, 7);
    const char *bt = "{\"u\":400900217,\"s\":\"BNBUSDT\",\"b\":\"25.35190000\",\"B\":"
                     "\"31.21000000\",\"a\":\"25.36520000\",\"A\":\"40.66000000\"}";
    assert_int_equal(tp_parse(&x->p, &x->f, bt, &x->err), 0);
    assert_int_equal(x->f.events[0].kind, TR_KIND_TICKER);
    assert_string_equal(tp_dec(x->f.events[0].ask), "25.36520000");
    assert_int_equal(x->f.events[0].seq, 400900217);
}

static void depth_rule_drops_stale_buffers_and_resyncs_on_gap(void **state)
{
    struct fx *x = *state;
    struct tr_booksync bs;
    tr_booksync_init(&bs, 0);
    char m[256];
    /* buffered: [95..100] [101..103] [104..110] ; snapshot L = 102 */
    static const uint64_t r[][2] = {{95, 100}, {101, 103}, {104, 110}, {111, 111}, {115, 120}};
    size_t emitted = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(m, sizeof m,
                 "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BNBBTC\",\"U\":%llu,\"u\":%llu,"
                 "\"b\":[[\"0.0024\",\"10\"]],\"a\":[]}",
                 (unsigned long long)r[i][0], (unsigned long long)r[i][1]);
        assert_int_equal(tp_parse(&x->p, &x->f, m, &x->err), 0);
        assert_int_equal(tr_booksync_delta(&bs, &x->f.events[0], count_cb, &emitted, NULL, NULL),
                         TR_SEQ_FIRST);
    }
    struct tr_event snap;
    tr_event_init(&snap);
    snap.kind = TR_KIND_BOOK_SNAPSHOT;
    snap.seq = 102;
    snap.fields = TR_F_SEQ;
    /* A snapshot older than the buffer cannot be used. */
    snap.seq = 90;
    assert_int_equal(tr_booksync_snapshot(&bs, &snap, count_cb, &emitted), TR_SEQ_RESYNC);
    assert_int_equal(emitted, 0);
    snap.seq = 102;
    assert_int_equal(tr_booksync_snapshot(&bs, &snap, count_cb, &emitted), TR_SEQ_OK);
    assert_int_equal(emitted, 3); /* snapshot + [101..103] (straddles 103) + [104..110] */
    assert_int_equal(bs.stale, 1);
    for (int i = 3; i < 5; i++) {
        snprintf(m, sizeof m,
                 "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BNBBTC\",\"U\":%llu,\"u\":%llu,"
                 "\"b\":[],\"a\":[[\"0.0026\",\"100\"]]}",
                 (unsigned long long)r[i][0], (unsigned long long)r[i][1]);
        assert_int_equal(tp_parse(&x->p, &x->f, m, &x->err), 0);
        uint64_t from = 0, to = 0;
        int v = tr_booksync_delta(&bs, &x->f.events[0], count_cb, &emitted, &from, &to);
        if (i == 3) {
            assert_int_equal(v, TR_SEQ_OK);
        } else {
            assert_int_equal(v, TR_SEQ_GAP);
            assert_int_equal(from, 112);
            assert_int_equal(to, 114);
            assert_int_equal(bs.state, TR_BOOK_BUFFERING);
            assert_int_equal(bs.n, 1);
        }
    }
    /* A duplicate of an applied update while live is stale, not a gap. */
    tr_booksync_close(&bs);
}

static void sequencer_flags_depth_chain_breaks(void **state)
{
    struct fx *x = *state;
    struct tr_sequencer *s;
    assert_int_equal(tr_sequencer_alloc(&tr_provider_binance, &s, &x->err), 0);
    struct tp_sink *sink = calloc(1, sizeof *sink);
    static const uint64_t r[][2] = {{1, 5}, {6, 8}, {6, 8}, {12, 15}, {14, 16}};
    char m[256];
    for (int i = 0; i < 5; i++) {
        snprintf(m, sizeof m,
                 "{\"stream\":\"x@depth\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\","
                 "\"U\":%llu,\"u\":%llu,\"b\":[],\"a\":[]}}",
                 (unsigned long long)r[i][0], (unsigned long long)r[i][1]);
        assert_int_equal(tp_parse(&x->p, &x->f, m, &x->err), 0);
        assert_int_equal(tr_sequencer_step(s, &x->f, tp_sink_cb, sink), 0);
    }
    /* [1,5] [6,8] (dup dropped) gap 9..11 [12,15] overlap-resync [14,16] */
    assert_int_equal(sink->n, 6);
    assert_int_equal(sink->ev[2].kind, TR_KIND_GAP);
    assert_int_equal(sink->ev[2].from_seq, 9);
    assert_int_equal(sink->ev[2].to_seq, 11);
    assert_int_equal(sink->ev[4].kind, TR_KIND_GAP);
    assert_int_equal(tr_sequencer_stats(s)->resyncs, 1);
    assert_int_equal(tr_sequencer_stats(s)->dups, 1);
    tr_sequencer_free(s);
    free(sink);
}

static void control_frames_and_errors(void **state)
{
    struct fx *x = *state;
    assert_int_equal(tp_parse(&x->p, &x->f, "{\"result\":null,\"id\":7}", &x->err), 0);
    assert_int_equal(x->f.ctl.kind, TR_CTL_SUBSCRIBED);
    assert_int_equal(x->f.ctl.req_id, 7);
    assert_int_equal(tp_parse(&x->p, &x->f,
                              "{\"error\":{\"code\":2,\"msg\":\"Invalid request: unknown stream\"},"
                              "\"id\":1}",
                              &x->err),
                     0);
    assert_int_equal(x->f.ctl.kind, TR_CTL_SUB_ERROR);
    assert_int_equal(x->f.ctl.code, 2);
    assert_int_equal(x->f.ctl.sub_error, TR_SUBERR_UNKNOWN_MARKET);
    assert_int_equal(tp_parse(&x->p, &x->f,
                              "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":9,\"u\":3,"
                              "\"b\":[],\"a\":[]}",
                              &x->err),
                     TR_ERANGE);
    assert_string_equal(x->err.msg,
                        "binance depthUpdate: field 'U': first update id 9 after last 3");
    assert_int_equal(tp_parse(&x->p, &x->f,
                              "{\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":1,\"p\":\"1\",\"q\":\"1\","
                              "\"T\":1,\"m\":\"yes\"}",
                              &x->err),
                     TR_EPARSE);
    assert_string_equal(x->err.msg, "binance trade: field 'm': expected a boolean, got string");
    assert_int_equal(x->f.n_events, 0);
}

static void subscribe_and_rest(void **state)
{
    struct fx *x = *state;
    struct tr_buf b;
    tr_buf_init(&b);
    const char *syms[] = {"BTCUSDT"};
    struct tr_sub_req req = {.channels = TR_CH_TRADES | TR_CH_BOOK | TR_CH_TICKER,
                             .instruments = syms, .n_instruments = 1, .req_id = 3};
    assert_int_equal(tr_provider_binance.subscribe(&req, &b, &x->err), 0);
    assert_int_equal(tr_buf_append(&b, "", 1), 0);
    assert_string_equal((char *)b.data, "{\"method\":\"SUBSCRIBE\",\"params\":[\"btcusdt@aggTrade\","
                                        "\"btcusdt@depth@100ms\",\"btcusdt@bookTicker\"],\"id\":3}");
    tr_buf_free(&b);
    char path[256];
    struct tr_rest_req r = {.kind = TR_REST_TRADES, .prefix = "/binance", .instrument = "BTCUSDT",
                            .after_id = 99, .has_after_id = 1, .limit = 2};
    assert_int_equal(tr_provider_binance.rest_path(&r, path, sizeof path, &x->err), 0);
    assert_string_equal(path, "/binance/api/v3/aggTrades?symbol=BTCUSDT&fromId=100&limit=2");
    const char *body = "[{\"a\":100,\"p\":\"1.0\",\"q\":\"2\",\"f\":1,\"l\":1,\"T\":5,\"m\":true,"
                       "\"M\":true},{\"a\":101,\"p\":\"1.1\",\"q\":\"3\",\"f\":2,\"l\":3,\"T\":6,"
                       "\"m\":false,\"M\":true}]";
    struct tr_rest_result res;
    tr_rest_result_init(&res);
    assert_int_equal(tr_provider_binance.rest_parse(&r, body, strlen(body), &x->f, &res, &x->err),
                     0);
    assert_int_equal(x->f.n_events, 2);
    assert_int_equal(x->f.events[1].seq, 101);
    assert_string_equal(x->f.events[1].instrument, "BTCUSDT");
    assert_int_equal(res.next_after_id, 101);
    assert_true(res.more);
    r.flags = TR_REQ_RAW_TRADES;
    assert_int_equal(tr_provider_binance.rest_path(&r, path, sizeof path, &x->err), 0);
    assert_string_equal(path,
                        "/binance/api/v3/historicalTrades?symbol=BTCUSDT&fromId=100&limit=2");
    const char *hist = "[{\"id\":100,\"price\":\"4.00000100\",\"qty\":\"12.00000000\","
                       "\"quoteQty\":\"48.000012\",\"time\":1499865549590,\"isBuyerMaker\":true,"
                       "\"isBestMatch\":true}]";
    assert_int_equal(tr_provider_binance.rest_parse(&r, hist, strlen(hist), &x->f, &res, &x->err),
                     0);
    assert_int_equal(x->f.events[0].side, TR_SIDE_SELL);
    r.kind = TR_REST_STATUS;
    const char *st = "{\"status\":1,\"msg\":\"system maintenance\"}";
    assert_int_equal(tr_provider_binance.rest_parse(&r, st, strlen(st), &x->f, &res, &x->err), 0);
    assert_int_equal(res.status, TR_XSTATUS_MAINTENANCE);
    r.kind = TR_REST_MARKETS;
    const char *ex = "{\"timezone\":\"UTC\",\"symbols\":[{\"symbol\":\"ETHBTC\",\"status\":"
                     "\"TRADING\"},{\"symbol\":\"LTCBTC\"}]}";
    assert_int_equal(tr_provider_binance.rest_parse(&r, ex, strlen(ex), &x->f, &res, &x->err), 0);
    assert_int_equal(res.n_names, 2);
    assert_string_equal((char *)res.names.data, "ETHBTC");
    tr_rest_result_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(recording_depth_syncs_against_rest_snapshots, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(raw_and_combined_frames_normalise_alike, setup, teardown),
        cmocka_unit_test_setup_teardown(depth_rule_drops_stale_buffers_and_resyncs_on_gap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sequencer_flags_depth_chain_breaks, setup, teardown),
        cmocka_unit_test_setup_teardown(control_frames_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(subscribe_and_rest, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
