/* Every fault tickraft-sim injects is observable by a client: close codes
 * (1000/1001/1008/1011 with a close frame, 1006 as a TCP drop), stalls,
 * refused connections, 429/5xx/401/403 storms, maintenance windows, gaps
 * (recoverable over REST or not), duplicates, malformed frames, the
 * unknown-market fault and the subscription limit; each leaves a marker in
 * the truth file. One simulator process, native dialect, SIM-0 followed so
 * sequences are easy to follow (gaps target SIM-0); control on a separate port so that the
 * refuse fault can be lifted. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "integration/sim_harness.h"

#define TRUTH "sim_faults_truth.jsonl"

static struct simproc sp;
static int cport;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static int setup(void **state)
{
    static char cp[16];
    cport = free_port();
    snprintf(cp, sizeof cp, "%d", cport);
    const char *args[] = {"--seed", "5", "--dialect", "native,coinbase", "--instruments", "2",
                          "--rate", "300", "--truth", TRUTH, "--control-port", cp, NULL};
    return simproc_start(&sp, args) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    simproc_stop(&sp);
    return 0;
}

static void ctl(const char *what)
{
    int st = sim_ctl(cport, what);
    if (st != 200)
        fail_msg("control %s: status %d", what, st);
}

static void open_native(struct sim_rc *c, const char *channels)
{
    assert_int_equal(sim_ws_open(c, sp.port, "/native", 5000), 0);
    char m[256];
    snprintf(m, sizeof m, "{\"type\":\"subscribe\",\"channels\":[%s],\"instruments\":[\"SIM-0\"]}", channels);
    assert_int_equal(sim_ws_send(c, 1, m, strlen(m)), 0);
    char *r = ws_expect(c, "\"type\":\"subscribed\"", 5000, NULL);
    assert_non_null(r);
    free(r);
}

static void close_codes_reach_the_client(void **state)
{
    static const int codes[] = {1000, 1001, 1008, 1011, 1006};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        struct sim_rc c;
        open_native(&c, "\"trade\"");
        char what[64];
        snprintf(what, sizeof what, "close?code=%d&dialect=native", codes[i]);
        ctl(what);
        assert_int_equal(ws_wait_close(&c, 5000), codes[i]);
        sim_rc_close(&c);
    }
    assert_true(file_count(TRUTH, "\"marker\":\"fault\",\"fault\":\"close\"") >= 5);
}

static void stall_silences_then_resumes(void **state)
{
    struct sim_rc c;
    open_native(&c, "\"trade\",\"book\"");
    char *m = ws_expect(&c, "\"type\":\"batch\"", 5000, NULL);
    assert_non_null(m);
    free(m);
    ctl("stall?secs=4&dialect=native");
    /* frames already in flight may still arrive; then nothing, not even pings */
    int op;
    char *p;
    size_t n;
    int64_t t0 = sim_now_ns();
    while (sim_ws_recv(&c, &op, &p, &n, 150) == 0)
        free(p);
    int rc = sim_ws_recv(&c, &op, &p, &n, 1000);
    assert_int_equal(rc, TR_ETIMEDOUT);
    assert_true(sim_now_ns() - t0 < 4000000000ll); /* we were inside the window */
    m = ws_expect(&c, "\"type\":\"batch\"", 8000, NULL);
    assert_non_null(m); /* resumes, with what was queued meanwhile */
    free(m);
    sim_rc_close(&c);
}

static void refuse_drops_connections_until_lifted(void **state)
{
    ctl("refuse?secs=30");
    struct sim_rc c;
    assert_int_not_equal(sim_ws_open(&c, sp.port, "/native", 2000), 0);
    sim_rc_close(&c);
    assert_true(http_get(sp.port, "/native/status", NULL) < 0);
    ctl("clear");
    open_native(&c, "\"trade\"");
    sim_rc_close(&c);
    ctl("refuse?secs=30&dialect=native"); /* per dialect: WS handshake refused */
    assert_int_not_equal(sim_ws_open(&c, sp.port, "/native", 2000), 0);
    sim_rc_close(&c);
    ctl("clear");
}

static void rest_storms_429_5xx_auth(void **state)
{
    char *hdr = NULL, *body = NULL;
    ctl("http429?secs=30&retry_after=7&dialect=native");
    int st = sim_http(sp.port, "GET", "/native/markets", &body, &hdr, 5000);
    assert_int_equal(st, 429);
    assert_non_null(strstr(hdr, "retry-after: 7"));
    free(hdr);
    free(body);
    assert_int_equal(http_get(sp.port, "/coinbase/products", NULL), 200); /* other dialect fine */
    ctl("clear?dialect=native");
    ctl("http5xx?secs=30&code=502");
    assert_int_equal(http_get(sp.port, "/native/markets", NULL), 502);
    assert_int_equal(http_get(sp.port, "/coinbase/products", NULL), 502);
    ctl("clear");
    ctl("auth?secs=30&code=403");
    assert_int_equal(http_get(sp.port, "/native/markets", NULL), 403);
    ctl("auth?secs=30&code=401");
    assert_int_equal(http_get(sp.port, "/native/markets", NULL), 401);
    ctl("clear");
    assert_int_equal(http_get(sp.port, "/native/markets", NULL), 200);
}

static void maintenance_closes_1001_reports_status_and_503s(void **state)
{
    struct sim_rc c;
    open_native(&c, "\"trade\"");
    ctl("maintenance?secs=30&dialect=native");
    assert_int_equal(ws_wait_close(&c, 5000), 1001);
    sim_rc_close(&c);
    char *body = NULL;
    assert_int_equal(http_get(sp.port, "/native/status", &body), 200);
    assert_non_null(strstr(body, "\"status\":\"maintenance\""));
    assert_null(strstr(body, "\"resume_ns\":0"));
    free(body);
    assert_int_equal(http_get(sp.port, "/native/markets", NULL), 503);
    assert_int_not_equal(sim_ws_open(&c, sp.port, "/native", 2000), 0);
    sim_rc_close(&c);
    ctl("clear?dialect=native");
    assert_int_equal(http_get(sp.port, "/native/status", &body), 200);
    assert_non_null(strstr(body, "\"status\":\"open\""));
    free(body);
    assert_true(file_count(TRUTH, "\"kind\":\"status\"") >= 2);
}

/* Scans a batch for SIM-0 trade seqs; returns the first missing seq if the
 * batch skips one after *prev (0 if none). */
static uint64_t scan_trades(const char *m, uint64_t *prev)
{
    static const char key[] = "\"kind\":\"trade\",\"instrument\":\"SIM-0\",\"seq\":";
    uint64_t gap_at = 0;
    for (const char *p = m; (p = strstr(p, key));) {
        p += sizeof key - 1;
        uint64_t s = strtoull(p, NULL, 10);
        if (*prev && s != *prev + 1 && !gap_at)
            gap_at = *prev + 1;
        *prev = s;
    }
    return gap_at;
}

/* First missing trade seq seen on the connection; 0 if none in 300 frames. */
static uint64_t next_gap(struct sim_rc *c, uint64_t *prev)
{
    for (int i = 0; i < 300; i++) {
        char *m = ws_expect(c, "\"kind\":\"trade\"", 5000, NULL);
        if (!m)
            return 0;
        uint64_t g = scan_trades(m, prev);
        free(m);
        if (g)
            return g;
    }
    return 0;
}

static void gap_is_recoverable_over_rest(void **state)
{
    struct sim_rc c;
    open_native(&c, "\"trade\"");
    uint64_t prev = 0;
    char *m = ws_expect(&c, "\"kind\":\"trade\"", 5000, NULL);
    assert_non_null(m);
    scan_trades(m, &prev);
    free(m);
    ctl("gap?count=5&instrument=SIM-0&kind=trade&dialect=native");
    uint64_t missing = next_gap(&c, &prev);
    assert_true(missing > 0);
    char path[128], *body = NULL;
    snprintf(path, sizeof path, "/native/trades?instrument=SIM-0&from_seq=%llu&limit=1",
             (unsigned long long)missing);
    assert_int_equal(http_get(sp.port, path, &body), 200);
    char want[64];
    snprintf(want, sizeof want, "\"seq\":%llu,", (unsigned long long)missing);
    assert_non_null(strstr(body, want));
    free(body);
    sim_rc_close(&c);
}

static void unrecoverable_gap_is_nowhere_and_marked(void **state)
{
    struct sim_rc c;
    open_native(&c, "\"trade\"");
    uint64_t prev = 0;
    char *m = ws_expect(&c, "\"kind\":\"trade\"", 5000, NULL);
    assert_non_null(m);
    scan_trades(m, &prev);
    free(m);
    ctl("gap?count=40&lost=1&instrument=SIM-0&dialect=native");
    uint64_t missing = next_gap(&c, &prev);
    assert_true(missing > 0);
    char path[128], *body = NULL;
    snprintf(path, sizeof path, "/native/trades?instrument=SIM-0&from_seq=%llu&limit=1",
             (unsigned long long)missing);
    assert_int_equal(http_get(sp.port, path, &body), 200);
    char want[64];
    snprintf(want, sizeof want, "\"seq\":%llu,", (unsigned long long)missing);
    assert_null(strstr(body, want));
    free(body);
    sim_rc_close(&c);
    assert_true(file_count(TRUTH, "{\"marker\":\"unrecoverable\",\"event\":{") > 0);
}

static void duplicate_and_malformed_frames(void **state)
{
    struct sim_rc c;
    open_native(&c, "\"trade\",\"book\",\"ticker\"");
    char *m = ws_expect(&c, "\"type\":\"batch\"", 5000, NULL);
    free(m);
    ctl("duplicate?count=1&dialect=native");
    char *prev = NULL;
    int dup = 0;
    for (int i = 0; i < 50 && !dup; i++) {
        m = ws_expect(&c, "\"type\":\"batch\"", 5000, NULL);
        assert_non_null(m);
        dup = prev && strcmp(prev, m) == 0;
        free(prev);
        prev = m;
    }
    free(prev);
    assert_true(dup);
    ctl("malformed?count=1&mode=truncated&dialect=native");
    int bad = 0;
    struct tr_json_tok toks[4096];
    for (int i = 0; i < 50 && !bad; i++) {
        int op;
        char *p;
        size_t n;
        assert_int_equal(sim_ws_recv(&c, &op, &p, &n, 5000), 0);
        if (op == 1 && p[0] == '{')
            bad = tr_json_parse(p, n, toks, 4096, NULL) == TR_EPARSE;
        free(p);
    }
    assert_true(bad);
    sim_rc_close(&c);
}

static void unknown_market_fault_and_subscription_limit(void **state)
{
    struct sim_rc c;
    assert_int_equal(sim_ws_open(&c, sp.port, "/native", 5000), 0);
    ctl("unknown_market?count=1&dialect=native");
    const char *sub = "{\"type\":\"subscribe\",\"channels\":[\"trade\"],\"instruments\":[\"SIM-0\"]}";
    sim_ws_send(&c, 1, sub, strlen(sub));
    char *m = ws_expect(&c, "\"code\":\"unknown_market\"", 5000, NULL);
    assert_non_null(m);
    free(m);
    sim_ws_send(&c, 1, sub, strlen(sub)); /* the fault was for one subscribe only */
    m = ws_expect(&c, "\"type\":\"subscribed\"", 5000, NULL);
    assert_non_null(m);
    free(m);
    sim_rc_close(&c);
    ctl("sub_limit?max=1&dialect=native");
    assert_int_equal(sim_ws_open(&c, sp.port, "/native", 5000), 0);
    const char *two = "{\"type\":\"subscribe\",\"channels\":[\"trade\"],\"instruments\":[\"SIM-0\",\"SIM-1\"]}";
    sim_ws_send(&c, 1, two, strlen(two));
    m = ws_expect(&c, "\"code\":\"subscription_limit\"", 5000, NULL);
    assert_non_null(m);
    free(m);
    m = ws_expect(&c, "{\"type\":\"subscribed\",\"instruments\":[\"SIM-0\"]}", 5000, NULL);
    assert_non_null(m);
    free(m);
    sim_rc_close(&c);
    ctl("clear");
}

static void sigterm_says_going_away_1001(void **state)
{
    static const char *const args[] = {"--dialect", "native", "--instruments", "1", "--rate", "100", NULL};
    struct simproc p;
    assert_int_equal(simproc_start(&p, args), 0);
    struct sim_rc c;
    assert_int_equal(sim_ws_open(&c, p.port, "/native", 5000), 0);
    const char *sub = "{\"type\":\"subscribe\",\"instruments\":[\"SIM-0\"]}";
    sim_ws_send(&c, 1, sub, strlen(sub));
    char *m = ws_expect(&c, "\"type\":\"subscribed\"", 5000, NULL);
    assert_non_null(m);
    free(m);
    kill(p.pid, SIGTERM);
    assert_int_equal(ws_wait_close(&c, 5000), 1001);
    sim_rc_close(&c);
    int st = simproc_stop(&p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(close_codes_reach_the_client),
        cmocka_unit_test(stall_silences_then_resumes),
        cmocka_unit_test(refuse_drops_connections_until_lifted),
        cmocka_unit_test(rest_storms_429_5xx_auth),
        cmocka_unit_test(maintenance_closes_1001_reports_status_and_503s),
        cmocka_unit_test(gap_is_recoverable_over_rest),
        cmocka_unit_test(unrecoverable_gap_is_nowhere_and_marked),
        cmocka_unit_test(duplicate_and_malformed_frames),
        cmocka_unit_test(unknown_market_fault_and_subscription_limit),
        cmocka_unit_test(sigterm_says_going_away_1001),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
