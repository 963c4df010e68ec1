/* The provider adapters (providers/) and the simulator agree end to end:
 * for each dialect, REST requests built by the adapter are answered by the
 * simulator and parsed back by the adapter (trades found in the truth file,
 * one book snapshot, the market list, the exchange status before and during
 * a maintenance window), subscribe messages built by the adapter are
 * acknowledged, and the simulator's subscribe errors (unknown market,
 * subscription limit) are classified by the adapter as the policy expects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "integration/sim_harness.h"
#include "tickraft/provider.h"

#define TRUTH "sim_adapters_truth.jsonl"

static struct simproc sp;

struct dia {
    const char *name, *prefix, *ws_path, *inst0, *inst1;
};

static const struct dia dias[] = {
    {"native", "/native", "/native", "SIM-0", "SIM-1"},
    {"coinbase", "/coinbase", "/coinbase", "SIM0-USD", "SIM1-USD"},
    {"binance", "/binance", "/binance/ws", "SIM0USDT", "SIM1USDT"},
    {"kalshi", "/kalshi", "/kalshi/trade-api/ws/v2", "KXSIM-26JAN01-T0", "KXSIM-26JAN01-T1"},
};

static int setup(void **state)
{
    static const char *const args[] = {"--seed", "21", "--dialect", "native,coinbase,binance,kalshi",
                                       "--instruments", "2", "--rate", "2000", "--truth", TRUTH, NULL};
    if (simproc_start(&sp, args) != 0)
        return -1;
    sleep_ms(500);
    return 0;
}

static int teardown(void **state)
{
    simproc_stop(&sp);
    return 0;
}

static int in_truth(const struct tr_event *ev)
{
    struct tr_event e = *ev;
    e.fields &= ~(uint32_t)(TR_F_TS_RECEIVE | TR_F_RAW | TR_F_ORIGIN);
    e.ts_receive = 0;
    struct tr_buf js;
    tr_buf_init(&js);
    tr_event_to_json(&e, &js);
    tr_buf_append(&js, "\n", 2);
    FILE *f = fopen(TRUTH, "r");
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    while (!found && getline(&line, &cap, f) > 0)
        found = strcmp(line, (char *)js.data) == 0;
    if (!found)
        print_message("not in truth: %s", (char *)js.data);
    free(line);
    fclose(f);
    tr_buf_free(&js);
    return found;
}

/* Builds, fetches and parses one REST request; returns the HTTP status. */
static int rest(const struct tr_provider_ops *ops, struct tr_rest_req *req, struct tr_frame *fr,
                struct tr_rest_result *res)
{
    char path[1024];
    struct tr_error err;
    if (ops->rest_path(req, path, sizeof path, &err) != 0)
        fail_msg("%s: rest_path: %s", ops->name, err.msg);
    char *body = NULL;
    int st = http_get(sp.port, path, &body);
    if (st == 200 && ops->rest_parse(req, body, strlen(body), fr, res, &err) != 0)
        fail_msg("%s: rest_parse %s: %s: %.200s", ops->name, path, err.msg, body);
    free(body);
    return st;
}

static void rest_round_trip(const struct dia *d)
{
    const struct tr_provider_ops *ops = tr_provider_find(d->name);
    assert_non_null(ops);
    struct tr_frame fr;
    struct tr_rest_result res;
    tr_frame_init(&fr);
    tr_rest_result_init(&res);
    struct tr_rest_req req = {.kind = TR_REST_TRADES, .prefix = d->prefix, .instrument = d->inst0,
                              .has_after_id = d->name[0] != 'k', .after_id = 0, .limit = 5};
    assert_int_equal(rest(ops, &req, &fr, &res), 200);
    assert_true(fr.n_events > 0);
    for (size_t i = 0; i < fr.n_events; i++) {
        assert_int_equal(fr.events[i].kind, TR_KIND_TRADE);
        assert_true(in_truth(&fr.events[i]));
    }
    req = (struct tr_rest_req){.kind = TR_REST_BOOK, .prefix = d->prefix, .instrument = d->inst0};
    assert_int_equal(rest(ops, &req, &fr, &res), 200);
    assert_int_equal(fr.n_events, 1);
    assert_int_equal(fr.events[0].kind, TR_KIND_BOOK_SNAPSHOT);
    assert_true(fr.events[0].n_bids > 0 && fr.events[0].n_asks > 0);
    req = (struct tr_rest_req){.kind = TR_REST_MARKETS, .prefix = d->prefix};
    assert_int_equal(rest(ops, &req, &fr, &res), 200);
    assert_int_equal(res.n_names, 2);
    assert_string_equal((char *)res.names.data, d->inst0);
    req = (struct tr_rest_req){.kind = TR_REST_STATUS, .prefix = d->prefix};
    assert_int_equal(rest(ops, &req, &fr, &res), 200);
    assert_int_equal(res.status, TR_XSTATUS_OPEN);
    char what[128];
    snprintf(what, sizeof what, "maintenance?secs=60&dialect=%s", d->name);
    assert_int_equal(sim_ctl(sp.port, what), 200);
    assert_int_equal(rest(ops, &req, &fr, &res), 200);
    assert_int_equal(res.status, TR_XSTATUS_MAINTENANCE);
    if (d->name[0] != 'b') /* binance's status has no resume time */
        assert_true(res.resume_ns > sim_now_ns());
    req = (struct tr_rest_req){.kind = TR_REST_BOOK, .prefix = d->prefix, .instrument = d->inst0};
    int st = rest(ops, &req, &fr, &res);
    assert_int_equal(st, 503);
    assert_int_equal(tr_policy_for_http(st), TR_POLICY_CHECK_STATUS);
    snprintf(what, sizeof what, "clear?dialect=%s", d->name);
    assert_int_equal(sim_ctl(sp.port, what), 200);
    tr_rest_result_free(&res);
    tr_frame_free(&fr);
}

/* Sends an adapter-built subscribe and returns the first control outcome. */
static int subscribe(const struct tr_provider_ops *ops, struct tr_provider *pr, struct sim_rc *c,
                     const char *const *inst, size_t n, int64_t id, struct tr_frame *fr)
{
    struct tr_sub_req sub = {.channels = TR_CH_TRADES | TR_CH_BOOK, .instruments = inst,
                             .n_instruments = n, .req_id = id};
    struct tr_buf m;
    tr_buf_init(&m);
    struct tr_error err;
    assert_int_equal(ops->subscribe(&sub, &m, &err), 0);
    assert_int_equal(sim_ws_send(c, 1, m.data, m.len), 0);
    tr_buf_free(&m);
    for (int i = 0; i < 2000; i++) {
        int op;
        char *p;
        size_t len;
        assert_int_equal(sim_ws_recv(c, &op, &p, &len, 5000), 0);
        if (op != 1) {
            free(p);
            continue;
        }
        int rc = tr_provider_parse(pr, p, len, 0, fr, &err);
        if (rc != 0)
            fail_msg("%s: %s: %.200s", ops->name, err.msg, p);
        free(p);
        /* Kalshi acknowledges each channel: skip answers to earlier ids */
        if ((fr->ctl.kind == TR_CTL_SUBSCRIBED || fr->ctl.kind == TR_CTL_SUB_ERROR) &&
            (fr->ctl.req_id < 0 || fr->ctl.req_id == id))
            return fr->ctl.kind;
    }
    return -1;
}

static void subscribe_round_trip(const struct dia *d)
{
    const struct tr_provider_ops *ops = tr_provider_find(d->name);
    struct tr_provider pr;
    struct tr_error err;
    assert_int_equal(tr_provider_init(&pr, ops, &err), 0);
    struct tr_frame fr;
    tr_frame_init(&fr);
    struct sim_rc c;
    assert_int_equal(sim_ws_open(&c, sp.port, d->ws_path, 5000), 0);
    const char *ok[] = {d->inst0};
    assert_int_equal(subscribe(ops, &pr, &c, ok, 1, 1, &fr), TR_CTL_SUBSCRIBED);
    const char *bad[] = {"NOPE"};
    assert_int_equal(subscribe(ops, &pr, &c, bad, 1, 2, &fr), TR_CTL_SUB_ERROR);
    assert_int_equal(fr.ctl.sub_error, TR_SUBERR_UNKNOWN_MARKET);
    assert_int_equal(tr_policy_for_sub_error(fr.ctl.sub_error), TR_POLICY_DROP_MARKET);
    sim_rc_close(&c);
    /* a limit of one instrument per connection, then ask for two */
    char what[128];
    snprintf(what, sizeof what, "sub_limit?max=1&dialect=%s", d->name);
    assert_int_equal(sim_ctl(sp.port, what), 200);
    assert_int_equal(sim_ws_open(&c, sp.port, d->ws_path, 5000), 0);
    const char *two[] = {d->inst0, d->inst1};
    assert_int_equal(subscribe(ops, &pr, &c, two, 2, 3, &fr), TR_CTL_SUB_ERROR);
    assert_int_equal(fr.ctl.sub_error, TR_SUBERR_LIMIT);
    assert_int_equal(tr_policy_for_sub_error(fr.ctl.sub_error), TR_POLICY_SHED);
    sim_rc_close(&c);
    snprintf(what, sizeof what, "clear?dialect=%s", d->name);
    assert_int_equal(sim_ctl(sp.port, what), 200);
    tr_frame_free(&fr);
    tr_provider_close(&pr);
}

static void native_rest_round_trip(void **state) { rest_round_trip(&dias[0]); }
static void coinbase_rest_round_trip(void **state) { rest_round_trip(&dias[1]); }
static void binance_rest_round_trip(void **state) { rest_round_trip(&dias[2]); }
static void kalshi_rest_round_trip(void **state) { rest_round_trip(&dias[3]); }
static void native_subscribe_and_errors(void **state) { subscribe_round_trip(&dias[0]); }
static void coinbase_subscribe_and_errors(void **state) { subscribe_round_trip(&dias[1]); }
static void binance_subscribe_and_errors(void **state) { subscribe_round_trip(&dias[2]); }
static void kalshi_subscribe_and_errors(void **state) { subscribe_round_trip(&dias[3]); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(native_rest_round_trip),
        cmocka_unit_test(coinbase_rest_round_trip),
        cmocka_unit_test(binance_rest_round_trip),
        cmocka_unit_test(kalshi_rest_round_trip),
        cmocka_unit_test(native_subscribe_and_errors),
        cmocka_unit_test(coinbase_subscribe_and_errors),
        cmocka_unit_test(binance_subscribe_and_errors),
        cmocka_unit_test(kalshi_subscribe_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
