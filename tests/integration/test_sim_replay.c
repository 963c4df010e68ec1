/* tickraft-sim --replay serves each real recording over its dialect: a
 * client receives every recorded frame, in order and unchanged; REST
 * requests are answered from the recording's REST responses; the truth
 * file holds the adapters' events of the recording. --speed 0 so the tests
 * do not wait for the recorded pace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "integration/sim_harness.h"

struct rec {
    const char *file, *ws_path, *truth, *rest_path, *rest_needle;
};

static const struct rec recs[] = {
    {"COINBASE.ws.28.0", "/coinbase", "\"provider\":\"coinbase\"", "/coinbase/products", "\"id\":\"SKL-EUR\""},
    {"BINANCE.ws.1.0", "/binance/stream?streams=nknusdt@depth@100ms", "\"provider\":\"binance\"",
     "/binance/api/v3/depth?symbol=NKNUSDT&limit=1000", "{\"lastUpdateId\":"},
    {"kalshi_trade.jsonl", "/kalshi/trade-api/ws/v2", "\"kind\":\"trade\"", NULL, NULL},
    {"kalshi_ticker.jsonl", "/kalshi/trade-api/ws/v2", "\"kind\":\"ticker\"", NULL, NULL},
};

/* The recorded received frames of a file, in order (JSON text only). */
static char **recorded_frames(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char **v = NULL;
    *n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int jsonl = strstr(path, ".jsonl") != NULL;
    while ((len = getline(&line, &cap, f)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        const char *p = NULL;
        if (jsonl && len)
            p = line;
        else if (len && line[0] >= '0' && line[0] <= '9' && strstr(line, ": "))
            p = strstr(line, ": ") + 2;
        if (!p)
            continue;
        v = realloc(v, (*n + 1) * sizeof *v);
        v[(*n)++] = strdup(p);
    }
    free(line);
    fclose(f);
    return v;
}

static void replay_one(const struct rec *r)
{
    const char *src = getenv("TR_SOURCE_DIR");
    char path[1024], truth[256];
    snprintf(path, sizeof path, "%s/../shared/fixtures/recorded/%s", src ? src : ".", r->file);
    if (access(path, R_OK) != 0)
        snprintf(path, sizeof path, "/work/shared/fixtures/recorded/%s", r->file);
    snprintf(truth, sizeof truth, "sim_replay_%s.truth", r->file);
    const char *args[] = {"--replay", path, "--speed", "0", "--truth", truth, NULL};
    struct simproc p;
    assert_int_equal(simproc_start(&p, args), 0);
    size_t n = 0;
    char **want = recorded_frames(path, &n);
    assert_true(n > 0);
    struct sim_rc c;
    assert_int_equal(sim_ws_open(&c, p.port, r->ws_path, 5000), 0);
    for (size_t i = 0; i < n; i++) {
        int op;
        char *m;
        size_t len;
        do {
            assert_int_equal(sim_ws_recv(&c, &op, &m, &len, 5000), 0);
            if (op != 1)
                free(m);
        } while (op != 1);
        if (strcmp(m, want[i]) != 0)
            fail_msg("%s frame %zu differs: %.120s", r->file, i, m);
        free(m);
        free(want[i]);
    }
    free(want);
    sim_rc_close(&c);
    if (r->rest_path) {
        char *body = NULL;
        assert_int_equal(http_get(p.port, r->rest_path, &body), 200);
        assert_non_null(strstr(body, r->rest_needle));
        free(body);
    }
    simproc_stop(&p);
    assert_true(file_count(truth, r->truth) > 0);
    print_message("%s: %zu frames replayed, %ld truth events\n", r->file, n, file_count(truth, NULL));
}

static void replays_coinbase_recording(void **state) { replay_one(&recs[0]); }
static void replays_binance_recording(void **state) { replay_one(&recs[1]); }
static void replays_kalshi_trades(void **state) { replay_one(&recs[2]); }
static void replays_kalshi_tickers(void **state) { replay_one(&recs[3]); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replays_coinbase_recording),
        cmocka_unit_test(replays_binance_recording),
        cmocka_unit_test(replays_kalshi_trades),
        cmocka_unit_test(replays_kalshi_tickers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
