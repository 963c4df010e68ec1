/* The simulator's generator, history, schedule, truth mapping and text
 * helpers, in process (no sockets): determinism from the seed, contiguous
 * ids, the history window, gap flags, and the exact normalised form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim.h"

#define EPOCH 1700000000000000000ll

static void same_seed_same_events_other_seed_other_events(void **state)
{
    struct sim_exch a, b, c;
    assert_int_equal(sim_exch_init(&a, SIM_D_NATIVE, 7, 5, 1000, 60, EPOCH, EPOCH), 0);
    assert_int_equal(sim_exch_init(&b, SIM_D_NATIVE, 7, 5, 1000, 60, EPOCH, EPOCH), 0);
    assert_int_equal(sim_exch_init(&c, SIM_D_NATIVE, 8, 5, 1000, 60, EPOCH, EPOCH), 0);
    int differ = 0;
    for (int i = 0; i < 20000; i++) {
        struct sim_ev x, y, z;
        sim_exch_next(&a, &x);
        sim_exch_next(&b, &y);
        sim_exch_next(&c, &z);
        assert_memory_equal(&x, &y, sizeof x);
        differ |= memcmp(&x, &z, sizeof x) != 0;
    }
    assert_true(differ);
    sim_exch_free(&a);
    sim_exch_free(&b);
    sim_exch_free(&c);
}

static void ids_are_contiguous_per_instrument(void **state)
{
    struct sim_exch x;
    assert_int_equal(sim_exch_init(&x, SIM_D_COINBASE, 3, 4, 1000, 60, EPOCH, EPOCH), 0);
    uint64_t trade[4] = {0}, delta[4] = {0}, seq[4] = {0};
    int kinds[8] = {0};
    for (int i = 0; i < 50000; i++) {
        struct sim_ev e;
        sim_exch_next(&x, &e);
        assert_true(e.inst < 4);
        assert_int_equal(e.xseq, seq[e.inst] + 1);
        seq[e.inst] = e.xseq;
        kinds[e.kind]++;
        if (e.kind == TR_KIND_TRADE) {
            assert_int_equal(e.seq, trade[e.inst] + 1);
            assert_int_equal(e.trade_id, e.seq);
            trade[e.inst] = e.seq;
        } else if (e.kind == TR_KIND_BOOK_DELTA) {
            assert_int_equal(e.seq, delta[e.inst] + 1);
            delta[e.inst] = e.seq;
        }
        assert_true(e.ts >= EPOCH);
    }
    assert_true(kinds[TR_KIND_TRADE] > 0 && kinds[TR_KIND_BOOK_DELTA] > 0 && kinds[TR_KIND_TICKER] > 0);
    sim_exch_free(&x);
}

static void kalshi_prices_stay_between_1_and_99_cents(void **state)
{
    struct sim_exch x;
    assert_int_equal(sim_exch_init(&x, SIM_D_KALSHI, 1, 3, 1000, 60, EPOCH, EPOCH), 0);
    for (int i = 0; i < 20000; i++) {
        struct sim_ev e;
        sim_exch_next(&x, &e);
        if (e.kind != TR_KIND_TICKER) {
            assert_true(e.price >= 1 && e.price <= 99);
        }
        int64_t bid = sim_best(&x.inst[e.inst], 0), ask = sim_best(&x.inst[e.inst], 1);
        assert_true(!bid || !ask || bid < ask);
    }
    sim_exch_free(&x);
}

static void history_keeps_the_window_and_finds_ids(void **state)
{
    struct sim_exch x;
    /* 1 s of history at 1000 events/s, one instrument: ~250 trades */
    assert_int_equal(sim_exch_init(&x, SIM_D_NATIVE, 2, 1, 1000, 1, EPOCH, EPOCH), 0);
    struct sim_ev e;
    for (int i = 0; i < 3000; i++)
        sim_exch_next(&x, &e);
    const struct sim_inst *in = &x.inst[0];
    assert_true(in->hist_len > 100);
    const struct sim_ev *first = sim_hist_at(in, 0), *last = sim_hist_at(in, in->hist_len - 1);
    assert_true(last->ts - first->ts <= 1000000000ll);
    assert_int_equal(last->seq, in->n_trades);
    assert_int_equal(last->seq - first->seq + 1, in->hist_len);
    assert_int_equal(sim_hist_lower(in, first->seq + 5), 5);
    assert_int_equal(sim_hist_lower(in, 1), 0); /* older than the window: the oldest */
    assert_int_equal(sim_hist_lower(in, last->seq + 1), in->hist_len);
    sim_exch_free(&x);
}

static void gap_hides_or_loses_the_next_events(void **state)
{
    struct sim_exch x;
    assert_int_equal(sim_exch_init(&x, SIM_D_NATIVE, 2, 1, 1000, 60, EPOCH, EPOCH), 0);
    struct sim_ev e;
    x.f.gap_left = 50;
    for (int i = 0; i < 50; i++) {
        sim_exch_next(&x, &e);
        assert_int_equal(e.flags, SIM_EV_HIDDEN);
    }
    sim_exch_next(&x, &e);
    assert_int_equal(e.flags, 0);
    size_t before = x.inst[0].hist_len;
    uint64_t trades_before = x.inst[0].n_trades;
    x.f.gap_left = 50;
    x.f.gap_lost = 1;
    for (int i = 0; i < 50; i++) {
        sim_exch_next(&x, &e);
        assert_int_equal(e.flags, SIM_EV_LOST);
    }
    assert_int_equal(x.inst[0].hist_len, before); /* lost trades are nowhere */
    assert_true(x.inst[0].n_trades > trades_before); /* but their ids are used */
    sim_exch_free(&x);
}

static void schedule_counts_due_events_and_rebases(void **state)
{
    struct sim_exch x;
    assert_int_equal(sim_exch_init(&x, SIM_D_NATIVE, 2, 1, 1000, 60, EPOCH, EPOCH), 0);
    assert_int_equal(sim_exch_due(&x, EPOCH + 500000000ll, 1000000), 500);
    assert_int_equal(sim_exch_due(&x, EPOCH + 500000000ll, 100), 100);
    struct sim_ev e;
    for (int i = 0; i < 500; i++)
        sim_exch_next(&x, &e);
    assert_int_equal(sim_exch_due(&x, EPOCH + 500000000ll, 1000000), 0);
    sim_exch_rebase(&x, EPOCH + 10000000000ll);
    assert_int_equal(sim_exch_due(&x, EPOCH + 10000000000ll, 1000000), 0);
    assert_int_equal(sim_exch_due(&x, EPOCH + 10100000000ll, 1000000), 100);
    sim_exch_next(&x, &e);
    assert_int_equal(e.ts, EPOCH + 10000000000ll); /* no catch-up: time restarts */
    sim_exch_free(&x);
}

static void normalised_forms_follow_each_adapter(void **state)
{
    struct sim_exch k, b;
    assert_int_equal(sim_exch_init(&k, SIM_D_KALSHI, 1, 1, 1000, 60, EPOCH, EPOCH), 0);
    assert_int_equal(sim_exch_init(&b, SIM_D_BINANCE, 1, 1, 1000, 60, EPOCH, EPOCH), 0);
    struct tr_event ev;
    struct tr_level lv[2];
    struct tr_buf js;
    tr_buf_init(&js);
    struct sim_ev d = {.ts = EPOCH + 123456789, .kind = TR_KIND_BOOK_DELTA, .side = 2, .price = 52, .size = 7, .seq = 9};
    sim_ev_to_event(&k, &d, &ev, lv);
    tr_event_to_json(&ev, &js);
    tr_buf_append(&js, "", 1);
    assert_string_equal((char *)js.data,
                        "{\"provider\":\"kalshi\",\"kind\":\"book_delta\",\"instrument\":\"KXSIM-26JAN01-T0\","
                        "\"ts_exchange\":1700000000123456000,\"bids\":[],\"asks\":[[\"0.4800\",\"7.00\"]]}");
    struct sim_ev t = {.ts = EPOCH + 123456789, .kind = TR_KIND_TICKER, .side = 1, .price = 4000000,
                       .bid = 3999999, .ask = 4000001, .seq = 77};
    sim_ev_to_event(&b, &t, &ev, lv);
    js.len = 0;
    tr_event_to_json(&ev, &js);
    tr_buf_append(&js, "", 1);
    assert_string_equal((char *)js.data,
                        "{\"provider\":\"binance\",\"kind\":\"ticker\",\"instrument\":\"SIM0USDT\",\"seq\":77,"
                        "\"bid\":\"39999.99000000\",\"ask\":\"40000.01000000\"}");
    tr_buf_free(&js);
    sim_exch_free(&k);
    sim_exch_free(&b);
}

/* The generic text of an event: what the fast encoder must reproduce. */
static void generic_json(const struct sim_exch *x, const struct sim_ev *ev, struct tr_buf *b)
{
    struct tr_event e;
    struct tr_level lv[2];
    b->len = 0;
    sim_ev_to_event(x, ev, &e, lv);
    assert_int_equal(tr_event_to_json(&e, b), 0);
}

static void expect_same_text(const struct sim_exch *x, const struct sim_ev *ev, struct tr_buf *a,
                             struct tr_buf *b)
{
    generic_json(x, ev, a);
    b->len = 0;
    assert_int_equal(sim_nj_event(x, ev, b), 0);
    if (a->len != b->len || memcmp(a->data, b->data, a->len))
        fail_msg("fast %.*s\ngeneric %.*s", (int)b->len, (char *)b->data, (int)a->len,
                 (char *)a->data);
}

static void native_fast_encoder_matches_the_generic_one(void **state)
{
    for (int d = 0; d < SIM_D_COUNT; d++) { /* other dialects take the generic path */
        struct sim_exch x;
        assert_int_equal(sim_exch_init(&x, d, 3, 12, 1000, 60, EPOCH, EPOCH), 0);
        struct tr_buf a, b;
        tr_buf_init(&a);
        tr_buf_init(&b);
        int kinds = 0;
        for (int i = 0; i < (d == SIM_D_NATIVE ? 200000 : 5000); i++) {
            struct sim_ev ev;
            sim_exch_next(&x, &ev);
            kinds |= 1 << ev.kind;
            expect_same_text(&x, &ev, &a, &b);
        }
        assert_int_equal(kinds, (1 << TR_KIND_TRADE) | (1 << TR_KIND_BOOK_DELTA) | (1 << TR_KIND_TICKER));
        if (d == SIM_D_NATIVE) { /* edges the generator rarely makes */
            static const int64_t vals[] = {0, 1, 9, 10, 99, 100, 12345, 999999, 1000000,
                                           INT64_C(123456789012345)};
            for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++)
                for (int kind = TR_KIND_BOOK_DELTA; kind <= TR_KIND_TICKER; kind++)
                    for (int side = 0; side <= 3; side++) {
                        struct sim_ev ev = {.ts = vals[k] * 7, .seq = (uint64_t)vals[k],
                                            .price = vals[k], .size = vals[k] / 3,
                                            .bid = vals[k] / 2, .ask = vals[k] % 5,
                                            .inst = (uint32_t)(k % 12), .kind = (uint8_t)kind,
                                            .side = (uint8_t)side, .trade_id = (uint64_t)vals[k]};
                        if (kind != TR_KIND_BOOK_DELTA || side == 1 || side == 2)
                            expect_same_text(&x, &ev, &a, &b);
                        ev.kind = TR_KIND_TRADE;
                        expect_same_text(&x, &ev, &a, &b);
                    }
        }
        tr_buf_free(&a);
        tr_buf_free(&b);
        sim_exch_free(&x);
    }
}

static void iso_times_and_decimals(void **state)
{
    struct tr_buf b;
    tr_buf_init(&b);
    sim_put_iso(&b, 1618677817089723000ll, 6);
    sim_put(&b, " ");
    sim_put_qdec(&b, sim_price_dec(SIM_D_BINANCE, 35));
    sim_put(&b, " ");
    sim_put_u64(&b, 18446744073709551615ull);
    sim_put(&b, " ");
    sim_put_i64(&b, -42);
    tr_buf_append(&b, "", 1);
    assert_string_equal((char *)b.data,
                        "\"2021-04-17T16:43:37.089723Z\" \"0.35000000\" 18446744073709551615 -42");
    tr_buf_free(&b);
}

static void truth_lines_parse_back_and_markers_are_marked(void **state)
{
    char path[] = "/tmp/test_sim_truth_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct sim_truth t;
    assert_int_equal(sim_truth_open(&t, path, NULL), 0);
    struct sim_exch x;
    assert_int_equal(sim_exch_init(&x, SIM_D_COINBASE, 4, 2, 1000, 60, EPOCH, EPOCH), 0);
    struct sim_ev e;
    for (int i = 0; i < 200; i++) {
        sim_exch_next(&x, &e);
        sim_truth_event(&t, &x, &e);
    }
    sim_truth_marker(&t, "close", "{\"code\":\"1001\"}", 5);
    sim_truth_close(&t);
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int n = 0, markers = 0;
    struct tr_event_scratch s;
    tr_event_scratch_init(&s);
    while ((len = getline(&line, &cap, f)) > 0) {
        if (strstr(line, "\"marker\"")) {
            assert_string_equal(line, "{\"marker\":\"fault\",\"fault\":\"close\",\"args\":{\"code\":\"1001\"},\"ts\":5}\n");
            markers++;
            continue;
        }
        struct tr_event ev;
        struct tr_error err;
        tr_event_scratch_reset(&s);
        if (tr_event_from_json(line, (size_t)len - 1, &ev, &s, &err) != 0)
            fail_msg("truth line does not parse: %s: %s", err.msg, line);
        n++;
    }
    free(line);
    fclose(f);
    unlink(path);
    tr_event_scratch_free(&s);
    assert_int_equal(n, 200);
    assert_int_equal(markers, 1);
    sim_exch_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_events_other_seed_other_events),
        cmocka_unit_test(ids_are_contiguous_per_instrument),
        cmocka_unit_test(kalshi_prices_stay_between_1_and_99_cents),
        cmocka_unit_test(history_keeps_the_window_and_finds_ids),
        cmocka_unit_test(gap_hides_or_loses_the_next_events),
        cmocka_unit_test(schedule_counts_due_events_and_rebases),
        cmocka_unit_test(normalised_forms_follow_each_adapter),
        cmocka_unit_test(native_fast_encoder_matches_the_generic_one),
        cmocka_unit_test(iso_times_and_decimals),
        cmocka_unit_test(truth_lines_parse_back_and_markers_are_marked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
