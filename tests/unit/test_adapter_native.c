/* Native (simulator) adapter: batches of JSON-lines events decode to the
 * same events that were encoded, heartbeats carry per-instrument positions,
 * error codes classify, book sync follows the snapshot seq rule, and REST
 * paths/bodies follow docs/providers.md. */
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
    assert_int_equal(tr_provider_init(&x->p, &tr_provider_native, &x->err), 0);
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

static void make_trade(struct tr_event *ev, uint64_t seq)
{
    tr_event_init(ev);
    ev->kind = TR_KIND_TRADE;
    strcpy(ev->provider, "sim");
    strcpy(ev->instrument, "SIM-0");
    ev->seq = seq;
    snprintf(ev->id, sizeof ev->id, "%llu", (unsigned long long)seq);
    ev->ts_exchange = 1700000000000000000LL + (int64_t)seq;
    tr_decimal_parse("101.25", 6, &ev->price);
    tr_decimal_parse("0.500", 5, &ev->size);
    ev->side = TR_SIDE_SELL;
    ev->fields = TR_F_SEQ | TR_F_ID | TR_F_TS_EXCHANGE | TR_F_PRICE | TR_F_SIZE;
}

static void batch_round_trips_events(void **state)
{
    struct fx *x = *state;
    struct tr_buf b;
    tr_buf_init(&b);
    struct tr_event ev[3];
    static const struct tr_level lv[] = {{{1005, 1}, {3, 0}}, {{1010, 1}, {0, 0}}};
    assert_int_equal(tr_buf_append(&b, "{\"type\":\"batch\",\"events\":[", 26), 0);
    for (int i = 0; i < 3; i++) {
        make_trade(&ev[i], 10 + (uint64_t)i);
        if (i == 2) {
            ev[i].kind = TR_KIND_BOOK_DELTA;
            ev[i].fields = TR_F_SEQ;
            ev[i].side = 0;
            ev[i].id[0] = 0;
            ev[i].levels = lv;
            ev[i].n_bids = 1;
            ev[i].n_asks = 1;
        }
        if (i)
            assert_int_equal(tr_buf_append(&b, ",", 1), 0);
        assert_int_equal(tr_event_to_json(&ev[i], &b), 0);
    }
    assert_int_equal(tr_buf_append(&b, "]}", 3), 0);
    assert_int_equal(tr_provider_parse(&x->p, (char *)b.data, b.len - 1, 0, &x->f, &x->err), 0);
    assert_int_equal(x->f.n_events, 3);
    for (int i = 0; i < 3; i++)
        assert_true(tr_event_equal(&ev[i], &x->f.events[i]));
    tr_buf_free(&b);
}

static void heartbeat_errors_and_rejects(void **state)
{
    struct fx *x = *state;
    assert_int_equal(tp_parse(&x->p, &x->f,
                              "{\"type\":\"heartbeat\",\"ts\":1,\"last_seq\":{\"SIM-0\":41,"
                              "\"SIM-1\":7}}",
                              &x->err),
                     0);
    assert_int_equal(x->f.ctl.kind, TR_CTL_HEARTBEAT);
    assert_int_equal(x->f.n_marks, 2);
    assert_string_equal(x->f.marks[1].instrument, "SIM-1");
    assert_int_equal(x->f.marks[1].last_seq, 7);
    static const struct {
        const char *code;
        int want;
    } e[] = {{"unknown_market", TR_SUBERR_UNKNOWN_MARKET},
             {"unknown_channel", TR_SUBERR_UNKNOWN_CHANNEL},
             {"subscription_limit", TR_SUBERR_LIMIT}};
    for (int i = 0; i < 3; i++) {
        char m[200];
        snprintf(m, sizeof m, "{\"type\":\"error\",\"code\":\"%s\",\"message\":\"m\"}", e[i].code);
        assert_int_equal(tp_parse(&x->p, &x->f, m, &x->err), 0);
        assert_int_equal(x->f.ctl.sub_error, e[i].want);
    }
    assert_int_equal(tp_parse(&x->p, &x->f,
                              "{\"type\":\"batch\",\"events\":[{\"provider\":\"sim\",\"kind\":"
                              "\"trade\",\"instrument\":\"SIM-0\",\"seq\":1},{\"kind\":7}]}",
                              &x->err),
                     TR_EPARSE);
    assert_int_equal(x->f.n_events, 0); /* all or nothing */
    assert_non_null(strstr(x->err.msg, "event 1"));
}

/* The optional frame-sent stamp: parsed when present, absent is fine (older
 * frames), malformed rejects the frame naming the field. */
static void sent_stamp_parsed_optional_and_checked(void **state)
{
    struct fx *x = *state;
    const char *ev = "{\"provider\":\"sim\",\"kind\":\"trade\",\"instrument\":\"SIM-0\","
                     "\"seq\":1,\"id\":\"1\",\"price\":\"1\",\"size\":\"2\",\"side\":\"buy\"}";
    char m[512];
    snprintf(m, sizeof m, "{\"type\":\"batch\",\"sent_ns\":1796000000123456789,\"events\":[%s]}",
             ev);
    if (tp_parse(&x->p, &x->f, m, &x->err))
        fail_msg("%s", x->err.msg);
    assert_int_equal(x->f.n_events, 1);
    assert_int_equal(x->f.has_sent, 1);
    assert_int_equal(x->f.sent_ns, 1796000000123456789LL);
    snprintf(m, sizeof m, "{\"type\":\"batch\",\"events\":[%s]}", ev);
    assert_int_equal(tp_parse(&x->p, &x->f, m, &x->err), 0);
    assert_int_equal(x->f.n_events, 1);
    assert_int_equal(x->f.has_sent, 0); /* reset between frames */
    static const char *const bad[] = {"\"17960\"", "-5", "0", "1.5", "99999999999999999999",
                                      "true", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(m, sizeof m, "{\"type\":\"batch\",\"sent_ns\":%s,\"events\":[%s]}", bad[i],
                 ev);
        int rc = tp_parse(&x->p, &x->f, m, &x->err);
        if (rc != (i == 4 ? TR_ERANGE : TR_EPARSE))
            fail_msg("sent_ns %s: %d %s", bad[i], rc, x->err.msg);
        assert_int_equal(x->f.n_events, 0);
        assert_int_equal(x->f.has_sent, 0);
        assert_non_null(strstr(x->err.msg, "sent_ns"));
    }
}

static void sequencer_over_batches(void **state)
{
    struct fx *x = *state;
    struct tr_sequencer *s;
    assert_int_equal(tr_sequencer_alloc(&tr_provider_native, &s, &x->err), 0);
    struct tp_sink *sink = calloc(1, sizeof *sink);
    struct tr_buf b;
    tr_buf_init(&b);
    static const uint64_t seqs[] = {1, 2, 2, 5, 6};
    assert_int_equal(tr_buf_append(&b, "{\"type\":\"batch\",\"events\":[", 26), 0);
    for (int i = 0; i < 5; i++) {
        struct tr_event ev;
        make_trade(&ev, seqs[i]);
        if (i)
            tr_buf_append(&b, ",", 1);
        tr_event_to_json(&ev, &b);
    }
    tr_buf_append(&b, "]}", 2);
    assert_int_equal(tr_provider_parse(&x->p, (char *)b.data, b.len, 0, &x->f, &x->err), 0);
    assert_int_equal(tr_sequencer_step(s, &x->f, tp_sink_cb, sink), 0);
    assert_int_equal(sink->n, 5); /* 1 2 gap(3..4) 5 6 */
    assert_int_equal(sink->ev[2].kind, TR_KIND_GAP);
    assert_int_equal(sink->ev[2].from_seq, 3);
    assert_int_equal(sink->ev[2].to_seq, 4);
    tr_buf_free(&b);
    tr_sequencer_free(s);
    free(sink);
}

static void rest_paths_and_bodies(void **state)
{
    struct fx *x = *state;
    char path[256];
    struct tr_rest_req r = {.kind = TR_REST_TRADES, .instrument = "SIM-0", .after_id = 9,
                            .has_after_id = 1, .limit = 50};
    assert_int_equal(tr_provider_native.rest_path(&r, path, sizeof path, &x->err), 0);
    assert_string_equal(path, "/native/trades?instrument=SIM-0&from_seq=10&limit=50");
    struct tr_rest_result res;
    tr_rest_result_init(&res);
    const char *st = "{\"status\":\"maintenance\",\"resume_ns\":1700000000000000000}";
    r.kind = TR_REST_STATUS;
    assert_int_equal(tr_provider_native.rest_parse(&r, st, strlen(st), &x->f, &res, &x->err), 0);
    assert_int_equal(res.status, TR_XSTATUS_MAINTENANCE);
    assert_int_equal(res.resume_ns, 1700000000000000000LL);
    const char *mk = "{\"instruments\":[\"SIM-0\",\"SIM-1\"]}";
    r.kind = TR_REST_MARKETS;
    assert_int_equal(tr_provider_native.rest_parse(&r, mk, strlen(mk), &x->f, &res, &x->err), 0);
    assert_int_equal(res.n_names, 2);
    r.kind = TR_REST_TRADES;
    const char *tr = "{\"events\":[{\"provider\":\"sim\",\"kind\":\"trade\",\"instrument\":"
                     "\"SIM-0\",\"seq\":10,\"id\":\"10\",\"price\":\"1\",\"size\":\"2\","
                     "\"side\":\"buy\"}],\"next_seq\":11}";
    assert_int_equal(tr_provider_native.rest_parse(&r, tr, strlen(tr), &x->f, &res, &x->err), 0);
    assert_int_equal(x->f.n_events, 1);
    assert_int_equal(res.next_after_id, 10);
    tr_rest_result_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(batch_round_trips_events, setup, teardown),
        cmocka_unit_test_setup_teardown(heartbeat_errors_and_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(sent_stamp_parsed_optional_and_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(sequencer_over_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(rest_paths_and_bodies, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
