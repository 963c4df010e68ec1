/* Process actors: a child process (tickraft-actor-host, fork+exec) behind an
 * ipc:// address, supervised like a thread actor. A parser dying of SIGSEGV
 * or killed with SIGKILL costs one restart of that child, a hung one is
 * found by heartbeat and SIGKILLed, and shutdown stops it gracefully. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "unit/test_actor_util.h"

struct fx {
    struct mock_clock mc;
    struct tr_actor_clock clock;
    struct tr_system *sys;
    struct tr_actor *client;
    struct tr_sup *sup;
};

static int setup(void **st)
{
    struct fx *f = calloc(1, sizeof *f);
    f->mc.now = 5000ull * 1000000000ull;
    f->clock = mock_clock_ops(&f->mc);
    assert_int_equal(tr_system_alloc(&(struct tr_system_opts){.name = "p", .clock = &f->clock},
                                     &f->sys, NULL), 0);
    assert_int_equal(tr_actor_client_open(f->sys, "client", &f->client, NULL), 0);
    struct tr_child_spec kids[1] = {{.id = "parser", .start = {.process_kind = "diag"},
                                     .restart = TR_PERMANENT, .shutdown = TR_SHUTDOWN_TIMEOUT,
                                     .shutdown_ms = 5000, .type = TR_WORKER,
                                     .heartbeat_ms = 1000, .heartbeat_deadline_ms = 500}};
    struct tr_sup_spec spec = {.name = "root", .strategy = TR_ONE_FOR_ONE, .children = kids,
                               .n_children = 1, .manual = 1};
    struct tr_error err;
    tr_error_clear(&err);
    int rc = tr_sup_start(f->sys, &spec, &f->sup, &err);
    if (rc)
        fprintf(stderr, "start: %s\n", err.msg);
    assert_int_equal(rc, 0);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;
    tr_sup_free(f->sup);
    tr_actor_client_close(f->client);
    tr_system_free(f->sys);
    free(f);
    return 0;
}

static struct tr_child_info info(struct fx *f)
{
    struct tr_child_info ci;
    assert_int_equal(tr_sup_child_info(f->sup, "parser", &ci), 0);
    return ci;
}

static void echo_works(struct fx *f)
{
    struct tr_reply r;
    assert_int_equal(tr_actor_call(f->client, "parser", TR_DIAG_ECHO, "ping", 4, 10000, &r), 0);
    assert_int_equal(r.len, 4);
    assert_memory_equal(r.data, "ping", 4);
    tr_reply_free(&r);
}

static void restart_now(struct fx *f)
{
    struct tr_child_info ci = info(f);
    assert_int_equal(ci.state, TR_CHILD_WAITING);
    atomic_store(&f->mc.now, ci.restart_at_ns);
    tr_sup_step(f->sup);
    assert_int_equal(info(f).state, TR_CHILD_RUNNING);
}

static void process_child_killed_by_sigsegv_is_restarted(void **st)
{
    struct fx *f = *st;
    echo_works(f);
    long pid1 = info(f).pid;
    assert_true(pid1 > 0);
    assert_int_equal(tr_actor_send(f->client, "parser", TR_DIAG_SEGV, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL((tr_sup_step(f->sup), info(f).state == TR_CHILD_WAITING)));
    assert_int_equal(info(f).last_exit_reason, TR_EXIT_SIGNAL(SIGSEGV));
    restart_now(f);
    assert_true(info(f).pid != pid1);
    assert_int_equal(info(f).incarnation, 2);
    echo_works(f);
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "parser", &s), 0);
    assert_int_equal(s.is_process, 1);
    assert_int_equal(s.restarts, 1);
    assert_string_equal(s.last_restart_reason, "signal 11 (SEGV)");
}

static void process_child_killed_by_sigkill_is_restarted(void **st)
{
    struct fx *f = *st;
    long pid1 = info(f).pid;
    assert_int_equal(kill((pid_t)pid1, SIGKILL), 0);
    assert_true(POLL_UNTIL((tr_sup_step(f->sup), info(f).state == TR_CHILD_WAITING)));
    assert_int_equal(info(f).last_exit_reason, TR_EXIT_SIGNAL(SIGKILL));
    restart_now(f);
    assert_true(info(f).pid != pid1);
    echo_works(f);
}

static void hung_process_child_is_sigkilled_and_restarted(void **st)
{
    struct fx *f = *st;
    long pid1 = info(f).pid;
    /* healthy first: a ping is answered */
    mock_advance_ms(&f->mc, 1000);
    tr_sup_step(f->sup);
    assert_int_equal(tr_sup_settle(f->sup, "parser", 10000), 0);
    assert_int_equal(tr_actor_send(f->client, "parser", TR_DIAG_HANG, NULL, 0, -1), 0);
    /* a ping may still be answered before the handler picks up HANG; the
     * first ping left unanswered is the one that counts */
    int hung = 0;
    for (int i = 0; i < 20 && !hung; i++) {
        mock_advance_ms(&f->mc, 1000);
        tr_sup_step(f->sup);
        if (tr_sup_settle(f->sup, "parser", 300) == TR_ETIMEDOUT) {
            mock_advance_ms(&f->mc, 500);
            tr_sup_step(f->sup);
            hung = 1;
        }
    }
    assert_true(hung);
    assert_int_equal(info(f).state, TR_CHILD_WAITING);
    assert_int_equal(info(f).last_exit_reason, TR_EXIT_HUNG);
    assert_int_equal(kill((pid_t)pid1, 0), -1); /* SIGKILLed and reaped */
    assert_int_equal(errno, ESRCH);
    restart_now(f);
    echo_works(f);
}

static void shutdown_stops_process_child_gracefully(void **st)
{
    struct fx *f = *st;
    long pid = info(f).pid;
    for (int i = 0; i < 50; i++)
        assert_int_equal(tr_actor_send(f->client, "parser", 77, "x", 1, -1), 0);
    tr_sup_stop(f->sup);
    assert_int_equal(tr_sup_step(f->sup), 0);
    assert_int_equal(tr_sup_wait(f->sup), 0);
    assert_int_equal(info(f).last_exit_reason, TR_EXIT_SHUTDOWN);
    assert_int_equal(kill((pid_t)pid, 0), -1);
}

static _Atomic int g_fwd;

static int col_handle(struct tr_actor *self, void *state, const struct tr_msg *m)
{
    (void)self;
    (void)state;
    if (m->type == TR_DIAG_FORWARD + 100 && m->len == 3 && memcmp(m->payload, "fwd", 3) == 0)
        atomic_fetch_add(&g_fwd, 1);
    return 0;
}

static const struct tr_actor_def coldef = {"collector", NULL, col_handle, NULL};

/* Location transparency the other way: the process actor sends to a thread
 * actor of the node that also listens on ipc://, by its URL. */
static void process_actor_reaches_node_actor_over_ipc(void **st)
{
    struct fx *f = *st;
    struct tr_actor *col;
    struct tr_actor_opts o = {.listen_ipc = 1};
    assert_int_equal(tr_actor_spawn(f->sys, "collector", &coldef, NULL, &o, &col, NULL), 0);
    char url[256];
    assert_int_equal(tr_system_ipc_url(f->sys, "collector", url, sizeof url), 0);
    struct tr_reply r;
    assert_int_equal(tr_actor_call(f->client, "parser", TR_DIAG_FORWARD, url, strlen(url), 10000, &r), 0);
    tr_reply_free(&r);
    assert_true(POLL_UNTIL(atomic_load(&g_fwd) == 1));
    tr_actor_stop(col, 1);
    tr_actor_join(col);
}

/* A node that is its own host: the supervisor passes a subcommand first. */
static void host_subcommand_is_passed_first(void **st)
{
    (void)st;
    struct tr_system *sys;
    assert_int_equal(tr_system_alloc(&(struct tr_system_opts){.name = "sub",
                                                              .host_subcommand = "--actor-host"},
                                     &sys, NULL), 0);
    struct tr_actor *c;
    assert_int_equal(tr_actor_client_open(sys, "c", &c, NULL), 0);
    struct tr_child_spec kid = {.id = "p2", .start = {.process_kind = "diag"},
                                .restart = TR_PERMANENT, .shutdown = TR_SHUTDOWN_BRUTAL_KILL,
                                .type = TR_WORKER};
    struct tr_sup_spec spec = {.name = "r", .children = &kid, .n_children = 1, .manual = 1};
    struct tr_sup *sup;
    assert_int_equal(tr_sup_start(sys, &spec, &sup, NULL), 0);
    struct tr_reply r;
    assert_int_equal(tr_actor_call(c, "p2", TR_DIAG_ECHO, "x", 1, 10000, &r), 0);
    tr_reply_free(&r);
    tr_sup_stop(sup);
    assert_int_equal(tr_sup_wait(sup), 0);
    tr_sup_free(sup);
    tr_actor_client_close(c);
    tr_system_free(sys);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* every tickraft process does (ARCHITECTURE.md) */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(process_child_killed_by_sigsegv_is_restarted),
        T(process_child_killed_by_sigkill_is_restarted),
        T(hung_process_child_is_sigkilled_and_restarted),
        T(shutdown_stops_process_child_gracefully),
        T(process_actor_reaches_node_actor_over_ipc),
        cmocka_unit_test(host_subcommand_is_passed_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
