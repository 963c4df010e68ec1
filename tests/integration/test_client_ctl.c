/* tickraft-ctl's publisher subcommands and the SDK examples as processes
 * against a real publisher over a real log (this test is the node): output
 * shapes, --json, exit codes for a bad token (4), an unreachable node (3)
 * and bad usage (2), admin calls reaching the node's callback, history to
 * CSV, tail with --count, the VWAP example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "client_harness.h"

static struct ch_node g_node;
static int g_paused;

static int admin_cb(void *arg, const char *cmd, const char *const *args, size_t nargs,
                    struct tr_client_table *t, struct tr_error *err)
{
    (void)arg;
    if (strcmp(cmd, "feeds") != 0)
        return TR_ENOTFOUND;
    if (nargs == 2 && strcmp(args[0], "pause") == 0)
        g_paused = 1;
    static const char *const cols[] = {"feed", "state"};
    tr_client_table_cols(t, 2, cols);
    const char *row[] = {"sim", g_paused ? "paused" : "running"};
    (void)err;
    return tr_client_table_row(t, row);
}

/* Runs a command line; returns its exit code and its stdout in out. */
static int run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static const char *bin(void)
{
    const char *b = getenv("TR_BIN_DIR");
    return b ? b : "build/bin";
}

static int setup(void **state)
{
    (void)state;
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    po.admin_token = "adm";
    po.admin_cb = admin_cb;
    if (ch_node_open(&g_node, "ctl", 0, &po))
        return -1;
    return ch_write(g_node.log, 3, 1, 200, 0);
}

static int teardown(void **state)
{
    (void)state;
    ch_node_close(&g_node);
    return 0;
}

static char out[1 << 20];

static void status_and_health_print_tables_and_json(void **state)
{
    (void)state;
    assert_int_equal(run(out, sizeof out, "%s/tickraft-ctl status --node %s --token adm", bin(),
                         g_node.url), 0);
    assert_non_null(strstr(out, "log.committed_lsn"));
    assert_non_null(strstr(out, "600"));
    assert_int_equal(run(out, sizeof out, "%s/tickraft-ctl status --json --node %s --token adm",
                         bin(), g_node.url), 0);
    assert_non_null(strstr(out, "{\"key\":\"log.committed_lsn\",\"value\":\"600\"}"));
    assert_int_equal(run(out, sizeof out, "%s/tickraft-ctl health --node %s --token adm", bin(),
                         g_node.url), 0);
    assert_non_null(strstr(out, "publisher"));
    assert_int_equal(run(out, sizeof out, "%s/tickraft-ctl metrics --node %s --token adm", bin(),
                         g_node.url), 0);
    assert_non_null(strstr(out, "tickraft_pub_requests_total"));
}

static void exit_codes_name_the_failure(void **state)
{
    (void)state;
    assert_int_equal(run(out, sizeof out, "%s/tickraft-ctl status --node %s --token nope 2>&1",
                         bin(), g_node.url), 4);
    assert_non_null(strstr(out, "token"));
    assert_int_equal(lines(out), 1);
    assert_int_equal(run(out, sizeof out,
                         "%s/tickraft-ctl status --node ipc:///tmp/tr_nobody.sock 2>&1", bin()),
                     3);
    assert_non_null(strstr(out, "no node reachable"));
    assert_int_equal(lines(out), 1);
    assert_int_equal(run(out, sizeof out, "%s/tickraft-ctl feeds frob 2>&1", bin()), 2);
    assert_int_equal(run(out, sizeof out, "%s/tickraft-ctl query 2>&1", bin()), 2);
    assert_int_equal(run(out, sizeof out, "%s/tickraft-ctl tail --help", bin()), 0);
    assert_non_null(strstr(out, "exit codes"));
}

static void feeds_pause_reaches_the_node(void **state)
{
    (void)state;
    assert_int_equal(run(out, sizeof out, "%s/tickraft-ctl feeds pause sim --node %s --token adm",
                         bin(), g_node.url), 0);
    assert_int_equal(g_paused, 1);
    assert_non_null(strstr(out, "paused"));
}

static void query_and_tail_print_events(void **state)
{
    (void)state;
    assert_int_equal(run(out, sizeof out,
                         "%s/tickraft-ctl query sim/trade/I-2 --from 1 --to 100 --format csv "
                         "--page 30 --node %s 2>/dev/null",
                         bin(), g_node.url), 0);
    assert_int_equal(lines(out), 101);
    assert_non_null(strstr(out, "sim/trade/I-2,100,"));
    assert_int_equal(run(out, sizeof out,
                         "%s/tickraft-ctl tail --earliest --instrument 'I-1' --count 7 --json "
                         "--node %s 2>/dev/null",
                         bin(), g_node.url), 0);
    assert_int_equal(lines(out), 7);
    assert_non_null(strstr(out, "\"instrument\":\"I-1\""));
}

static void vwap_example_prints_bars(void **state)
{
    (void)state;
    assert_int_equal(run(out, sizeof out, "%s/tickraft-example-vwap --since 0 --count 600 %s",
                         bin(), g_node.url), 0);
    /* header + one bar per instrument (all trades fall in the first minute) */
    assert_int_equal(lines(out), 4);
    assert_non_null(strstr(out, "I-0,0,"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_and_health_print_tables_and_json),
        cmocka_unit_test(exit_codes_name_the_failure),
        cmocka_unit_test(feeds_pause_reaches_the_node),
        cmocka_unit_test(query_and_tail_print_events),
        cmocka_unit_test(vwap_example_prints_bars),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
