/* The truth file is the ground truth: the same seed (and --epoch) gives the
 * same events for every dialect whatever the tick, a different seed different ones, and what
 * the provider adapters (providers/) make of the simulator's WebSocket
 * frames is exactly what the truth file says was published. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "integration/sim_harness.h"
#include "tickraft/provider.h"

static const char *const providers[] = {"sim", "coinbase", "binance", "kalshi"};

/* Lines of `path` for one provider, joined; caller frees. */
static char *provider_lines(const char *path, const char *prov, long *n)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char key[64];
    snprintf(key, sizeof key, "\"provider\":\"%s\"", prov);
    struct tr_buf out;
    tr_buf_init(&out);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    *n = 0;
    while ((len = getline(&line, &cap, f)) > 0)
        if (strstr(line, key)) {
            tr_buf_append(&out, line, (size_t)len);
            (*n)++;
        }
    tr_buf_append(&out, "", 1);
    free(line);
    fclose(f);
    return (char *)out.data;
}

static void run_sim(const char *seed, const char *truth, const char *tick_us)
{
    const char *args[] = {"--seed", seed, "--dialect", "native,coinbase,binance,kalshi",
                          "--instruments", "5", "--rate", "40000", "--epoch", "1700000000000000000",
                          "--max-events", "2000", "--truth", truth, "--tick-us", tick_us, NULL};
    struct simproc p;
    assert_int_equal(simproc_start(&p, args), 0);
    for (int i = 0; i < 200 && file_count(truth, NULL) < 8000; i++)
        sleep_ms(50);
    simproc_stop(&p);
    assert_int_equal(file_count(truth, NULL), 8000);
}

static void same_seed_gives_the_same_truth_per_dialect(void **state)
{
    /* b uses a 50x coarser tick: what is generated, and each event's
     * timestamp, do not depend on the tick, only on seed, epoch and rate. */
    run_sim("42", "sim_det_a.jsonl", "100");
    run_sim("42", "sim_det_b.jsonl", "5000");
    run_sim("43", "sim_det_c.jsonl", "100");
    for (size_t i = 0; i < 4; i++) {
        long na, nb, nc;
        char *a = provider_lines("sim_det_a.jsonl", providers[i], &na);
        char *b = provider_lines("sim_det_b.jsonl", providers[i], &nb);
        char *c = provider_lines("sim_det_c.jsonl", providers[i], &nc);
        assert_int_equal(na, 2000);
        assert_int_equal(nb, 2000);
        assert_string_equal(a, b);
        assert_true(strcmp(a, c) != 0);
        free(a);
        free(b);
        free(c);
    }
}

/* ---- adapters over simulator frames ---- */

struct lines {
    char **v;
    size_t n;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct lines load_truth(const char *path)
{
    struct lines l = {0};
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = 0;
        l.v = realloc(l.v, (l.n + 1) * sizeof *l.v);
        l.v[l.n++] = strdup(line);
    }
    free(line);
    fclose(f);
    qsort(l.v, l.n, sizeof *l.v, cmp_str);
    return l;
}

struct check {
    const char *dialect, *path, *subscribe;
};

static const struct check checks[] = {
    {"native", "/native",
     "{\"type\":\"subscribe\",\"channels\":[\"trade\",\"book\",\"ticker\"],\"instruments\":[\"SIM-0\",\"SIM-1\"]}"},
    {"coinbase", "/coinbase",
     "{\"type\":\"subscribe\",\"product_ids\":[\"SIM0-USD\",\"SIM1-USD\"],\"channels\":[\"matches\",\"level2\",\"ticker\"]}"},
    {"binance", "/binance/stream?streams=sim0usdt@trade/sim0usdt@depth@100ms/sim0usdt@bookTicker", NULL},
    {"kalshi", "/kalshi/trade-api/ws/v2",
     "{\"id\":1,\"cmd\":\"subscribe\",\"params\":{\"channels\":[\"orderbook_delta\",\"trade\",\"ticker\"],"
     "\"market_tickers\":[\"KXSIM-26JAN01-T0\",\"KXSIM-26JAN01-T1\"]}}"},
};

static void adapters_normalise_sim_frames_to_the_truth(void **state)
{
    static const char *const args[] = {"--seed", "9", "--dialect", "native,coinbase,binance,kalshi",
                                       "--instruments", "2", "--rate", "2000", "--truth",
                                       "sim_adapt_truth.jsonl", NULL};
    struct simproc p;
    assert_int_equal(simproc_start(&p, args), 0);
    struct sim_rc rc[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sim_ws_open(&rc[i], p.port, checks[i].path, 5000), 0);
        if (checks[i].subscribe)
            sim_ws_send(&rc[i], 1, checks[i].subscribe, strlen(checks[i].subscribe));
    }
    /* collect frames per dialect, then compare against the whole truth */
    char **frames[4] = {0};
    size_t nf[4] = {0};
    for (int round = 0; round < 300; round++)
        for (int i = 0; i < 4; i++) {
            int op;
            char *m;
            size_t n;
            if (sim_ws_recv(&rc[i], &op, &m, &n, 2000) != 0)
                continue;
            if (op != 1) {
                free(m);
                continue;
            }
            frames[i] = realloc(frames[i], (nf[i] + 1) * sizeof *frames[i]);
            frames[i][nf[i]++] = m;
        }
    for (int i = 0; i < 4; i++)
        sim_rc_close(&rc[i]);
    sleep_ms(100);
    simproc_stop(&p);
    struct lines truth = load_truth("sim_adapt_truth.jsonl");
    for (int i = 0; i < 4; i++) {
        const struct tr_provider_ops *ops = tr_provider_find(checks[i].dialect);
        assert_non_null(ops);
        struct tr_provider pr;
        struct tr_error err;
        assert_int_equal(tr_provider_init(&pr, ops, &err), 0);
        struct tr_frame fr;
        tr_frame_init(&fr);
        struct tr_buf js;
        tr_buf_init(&js);
        size_t matched = 0, missing = 0;
        for (size_t k = 0; k < nf[i]; k++) {
            if (tr_provider_parse(&pr, frames[i][k], strlen(frames[i][k]), 0, &fr, &err) != 0)
                fail_msg("%s: adapter rejects sim frame: %s: %.200s", checks[i].dialect, err.msg,
                         frames[i][k]);
            for (size_t e = 0; e < fr.n_events; e++) {
                struct tr_event ev = fr.events[e];
                if (ev.kind == TR_KIND_BOOK_SNAPSHOT || ev.kind == TR_KIND_GAP)
                    continue;
                ev.fields &= ~(uint32_t)(TR_F_TS_RECEIVE | TR_F_RAW | TR_F_ORIGIN);
                ev.ts_receive = 0;
                js.len = 0;
                tr_event_to_json(&ev, &js);
                tr_buf_append(&js, "", 1);
                const char *key = (const char *)js.data;
                if (bsearch(&key, truth.v, truth.n, sizeof *truth.v, cmp_str)) {
                    matched++;
                } else {
                    if (missing++ < 3)
                        print_message("%s: not in truth: %s\n", checks[i].dialect, key);
                }
            }
            free(frames[i][k]);
        }
        free(frames[i]);
        print_message("%s: %zu events matched the truth, %zu did not\n", checks[i].dialect,
                      matched, missing);
        assert_true(matched > 0);
        assert_int_equal(missing, 0);
        tr_buf_free(&js);
        tr_frame_free(&fr);
        tr_provider_close(&pr);
    }
    for (size_t i = 0; i < truth.n; i++)
        free(truth.v[i]);
    free(truth.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_gives_the_same_truth_per_dialect),
        cmocka_unit_test(adapters_normalise_sim_frames_to_the_truth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
