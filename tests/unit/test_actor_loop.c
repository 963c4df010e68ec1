/* Loop actors (include/tickraft/actor_loop.h), deterministically: a mock
 * clock and manual stepping decide restarts; the loop (uv_run NOWAIT)
 * delivers queued messages. Covers delivery by call and send, a crash of
 * one child restarting only it (one_for_one) or its group (rest_for_one,
 * one_for_all), failures reported outside a handler, failed starts, restart
 * kinds, backoff, intensity and escalation, the mailbox bound, the
 * registry's figures and names, the timer-driven (non-manual) mode, and
 * dynamic children (added at run time, terminated and restarted on
 * purpose without touching the intensity, a start with nothing to do). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>
#include <uv.h>

#include "test_actor_util.h"
#include "tickraft/actor_loop.h"

#define M_CRASH 1
#define M_EXIT  2
#define M_WORK  3
#define M_FAIL  4 /* reports through tr_lact_fail and returns 0 */
#define M_TERM  5 /* asks its supervisor to terminate itself: refused */

static struct evlog g_log = EVLOG_INIT;
static struct tr_lsup *g_sup; /* the fixture's, for handlers that address it */
static int g_start_fail;     /* start_cb fails while > 0 (decremented) */
static int g_start_idle;     /* start_cb finds nothing to do (TR_ACTOR_STOP) while set */
static uint64_t g_worked[4]; /* per child index (arg) */

struct kid {
    int idx;
    uint64_t seen;           /* messages this incarnation handled */
};

static int k_start(struct tr_lact *self, void *arg, void **state)
{
    if (g_start_fail > 0) {
        g_start_fail--;
        return TR_EIO;
    }
    struct kid *k = calloc(1, sizeof *k);
    k->idx = (int)(intptr_t)arg;
    *state = k;
    evlog_add(&g_log, '+', tr_lact_name(self));
    return g_start_idle ? TR_ACTOR_STOP : 0;
}

static int k_handle(struct tr_lact *self, void *state, const struct tr_lact_msg *m)
{
    struct kid *k = state;
    k->seen++;
    switch (m->type) {
    case M_CRASH: return TR_EPROTO;
    case M_EXIT: return TR_ACTOR_STOP;
    case M_FAIL: tr_lact_fail(self, TR_EINTERNAL, "invariant broken"); return 0;
    case M_TERM: return tr_lsup_terminate_child(g_sup, self) == TR_EBUSY ? 0 : TR_EPROTO;
    case M_WORK:
        g_worked[k->idx] += m->len ? ((const uint8_t *)m->data)[0] : 1;
        return 0;
    default: return 0;
    }
}

static void k_stop(struct tr_lact *self, void *state, int reason)
{
    (void)reason;
    evlog_add(&g_log, '-', tr_lact_name(self));
    free(state);
}

static const struct tr_lact_def kid_def = {"testkind", k_start, k_handle, k_stop};

struct fx {
    struct mock_clock mc;
    struct tr_actor_clock clk;
    struct tr_system *sys;
    uv_loop_t loop;
    struct tr_lsup *sup;
    int escalated, esc_reason;
};

static void on_escalate(void *arg, int reason)
{
    struct fx *f = arg;
    f->escalated++;
    f->esc_reason = reason;
}

static int setup(void **st)
{
    struct fx *f = calloc(1, sizeof *f);
    f->mc.now = 1000 * 1000000ull;
    f->mc.rnd = 0; /* no jitter: delays exact */
    f->clk = mock_clock_ops(&f->mc);
    struct tr_system_opts o = {.name = "lt", .clock = &f->clk};
    assert_int_equal(tr_system_alloc(&o, &f->sys, NULL), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    g_start_fail = 0;
    g_start_idle = 0;
    memset(g_worked, 0, sizeof g_worked);
    char junk[4096];
    evlog_take(&g_log, junk, sizeof junk);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;
    tr_lsup_close(f->sup);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* the close callbacks free it */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    tr_system_free(f->sys);
    free(f);
    return 0;
}

static void start3(struct fx *f, enum tr_sup_strategy s, int manual)
{
    static const struct tr_lact_spec kids[3] = {
        {.id = "a", .def = &kid_def, .arg = (void *)0, .backoff_base_ms = 100, .backoff_max_ms = 1000},
        {.id = "b", .def = &kid_def, .arg = (void *)1, .backoff_base_ms = 100, .backoff_max_ms = 1000},
        {.id = "c", .def = &kid_def, .arg = (void *)2, .backoff_base_ms = 100, .backoff_max_ms = 1000},
    };
    struct tr_lsup_spec spec = {.name = "grp", .strategy = s, .intensity = 3, .period_ms = 10000,
                                .children = kids, .n_children = 3, .manual = manual,
                                .escalate_cb = on_escalate, .escalate_arg = f};
    assert_int_equal(tr_lsup_start(f->sys, &f->loop, &spec, &f->sup, NULL), 0);
    g_sup = f->sup;
}

static void expect_log(const char *want)
{
    char got[4096];
    evlog_take(&g_log, got, sizeof got);
    assert_string_equal(got, want);
}

static struct tr_lact *K(struct fx *f, const char *id)
{
    struct tr_lact *a = tr_lsup_find(f->sup, id);
    assert_non_null(a);
    return a;
}

static void call_runs_now_and_send_runs_on_a_later_turn_in_order(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE, 1);
    expect_log("+a +b +c ");
    uint8_t two = 2;
    assert_int_equal(tr_lact_call(K(f, "a"), M_WORK, &two, 1), TR_ACTOR_CONTINUE);
    assert_int_equal(g_worked[0], 2); /* on the caller's stack */
    for (uint8_t i = 1; i <= 5; i++)
        assert_int_equal(tr_lact_send(K(f, "b"), M_WORK, &i, 1), 0);
    assert_int_equal(g_worked[1], 0); /* queued, not handled yet */
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "b", &s), 0);
    assert_int_equal(s.mailbox_depth, 5);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(g_worked[1], 15);
    assert_int_equal(tr_system_stats(f->sys, "b", &s), 0);
    assert_int_equal(s.mailbox_depth, 0);
    assert_int_equal(s.handled, 5);
    assert_string_equal(s.kind, "testkind");
    assert_int_equal(s.running, 1);
    assert_int_equal(s.mailbox_hwm, 1024);
}

static void crash_restarts_only_that_child_after_its_backoff(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE, 1);
    expect_log("+a +b +c ");
    assert_int_equal(tr_lact_call(K(f, "b"), M_CRASH, NULL, 0), TR_EPROTO);
    /* down at once (refuses messages) but stop_cb not run under the caller */
    assert_false(tr_lact_running(K(f, "b")));
    assert_int_equal(tr_lact_send(K(f, "b"), M_WORK, NULL, 0), TR_ECLOSED);
    expect_log("");
    assert_int_equal(tr_lsup_step(f->sup), 1);
    expect_log("-b ");
    struct tr_child_info ci;
    assert_int_equal(tr_lsup_child_info(f->sup, "b", &ci), 0);
    assert_int_equal(ci.state, TR_CHILD_WAITING);
    assert_int_equal(ci.last_delay_ms, 100); /* base, attempt 0, no jitter */
    assert_int_equal(ci.last_exit_reason, TR_EPROTO);
    mock_advance_ms(&f->mc, 99);
    tr_lsup_step(f->sup);
    expect_log("");
    mock_advance_ms(&f->mc, 1);
    tr_lsup_step(f->sup);
    expect_log("+b ");
    assert_int_equal(tr_lsup_child_info(f->sup, "b", &ci), 0);
    assert_int_equal(ci.state, TR_CHILD_RUNNING);
    assert_int_equal(ci.incarnation, 2);
    assert_int_equal(ci.restarts, 1);
    /* the siblings kept running: same incarnation */
    assert_int_equal(tr_lact_incarnation(K(f, "a")), 1);
    assert_int_equal(tr_lact_incarnation(K(f, "c")), 1);
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "b", &s), 0);
    assert_int_equal(s.restarts, 1);
    assert_string_equal(s.last_restart_reason, "error TR_EPROTO"); /* tr_exit_str */
    assert_int_equal(tr_system_stats(f->sys, "a", &s), 0);
    assert_int_equal(s.restarts, 0);
}

static void failure_reported_outside_a_handler_is_handled_by_the_next_step(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE, 1);
    expect_log("+a +b +c ");
    tr_lact_fail(K(f, "c"), TR_EINTERNAL, "adapter internal error");
    assert_false(tr_lact_running(K(f, "c")));
    expect_log("");
    tr_lsup_step(f->sup);
    expect_log("-c ");
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "c", &s), 0);
    assert_string_equal(s.last_restart_reason, "adapter internal error");
    /* and from inside a handler that then returns 0 */
    mock_advance_ms(&f->mc, 100);
    tr_lsup_step(f->sup);
    expect_log("+c ");
    assert_int_equal(tr_lact_call(K(f, "c"), M_FAIL, NULL, 0), 0);
    assert_false(tr_lact_running(K(f, "c")));
    tr_lsup_step(f->sup);
    expect_log("-c ");
}

static void rest_for_one_restarts_the_child_and_those_after_it(void **st)
{
    struct fx *f = *st;
    start3(f, TR_REST_FOR_ONE, 1);
    expect_log("+a +b +c ");
    tr_lact_call(K(f, "b"), M_CRASH, NULL, 0);
    tr_lsup_step(f->sup);
    expect_log("-b -c ");
    assert_true(tr_lact_running(K(f, "a")));
    mock_advance_ms(&f->mc, 100);
    tr_lsup_step(f->sup);
    expect_log("+b +c ");
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "c", &s), 0);
    assert_int_equal(s.restarts, 0); /* a group restart counts once, for b */
    assert_int_equal(tr_lact_incarnation(K(f, "c")), 2);
}

static void one_for_all_stops_others_in_reverse_and_restarts_all_in_order(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ALL, 1);
    expect_log("+a +b +c ");
    tr_lact_call(K(f, "b"), M_CRASH, NULL, 0);
    tr_lsup_step(f->sup);
    expect_log("-b -c -a ");
    mock_advance_ms(&f->mc, 100);
    tr_lsup_step(f->sup);
    expect_log("+a +b +c ");
}

static void queued_messages_of_a_crashed_incarnation_are_dropped_and_counted(void **st)
{
    struct fx *f = *st;
    static const struct tr_lact_spec one = {.id = "small", .def = &kid_def, .mailbox_hwm = 3,
                                            .backoff_base_ms = 10};
    struct tr_lsup_spec spec = {.name = "g", .children = &one, .n_children = 1, .manual = 1};
    assert_int_equal(tr_lsup_start(f->sys, &f->loop, &spec, &f->sup, NULL), 0);
    struct tr_lact *a = K(f, "small");
    assert_int_equal(tr_lact_send(a, M_CRASH, NULL, 0), 0);
    assert_int_equal(tr_lact_send(a, M_WORK, NULL, 0), 0);
    assert_int_equal(tr_lact_send(a, M_WORK, NULL, 0), 0);
    assert_int_equal(tr_lact_send(a, M_WORK, NULL, 0), TR_EOVERLOADED); /* exactly hwm */
    uv_run(&f->loop, UV_RUN_NOWAIT); /* the crash; the two after it stay queued */
    assert_int_equal(g_worked[0], 0);
    tr_lsup_step(f->sup);
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "small", &s), 0);
    assert_int_equal(s.dropped, 2);
    assert_int_equal(s.handled, 1);
    assert_int_equal(s.mailbox_depth, 0);
}

static void failed_start_is_a_crash_and_is_retried_with_growing_backoff(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE, 1);
    expect_log("+a +b +c ");
    tr_lact_call(K(f, "a"), M_CRASH, NULL, 0);
    g_start_fail = 1;
    tr_lsup_step(f->sup);
    mock_advance_ms(&f->mc, 100);
    tr_lsup_step(f->sup); /* start fails: next delay doubles */
    struct tr_child_info ci;
    assert_int_equal(tr_lsup_child_info(f->sup, "a", &ci), 0);
    assert_int_equal(ci.state, TR_CHILD_WAITING);
    assert_int_equal(ci.last_delay_ms, 200);
    assert_int_equal(ci.last_exit_reason, TR_EIO);
    mock_advance_ms(&f->mc, 200);
    tr_lsup_step(f->sup);
    assert_true(tr_lact_running(K(f, "a")));
    expect_log("-a +a ");
}

static void restart_kinds_follow_otp(void **st)
{
    struct fx *f = *st;
    static const struct tr_lact_spec kids[3] = {
        {.id = "perm", .def = &kid_def, .restart = TR_PERMANENT, .backoff_base_ms = 10},
        {.id = "trans", .def = &kid_def, .restart = TR_TRANSIENT, .backoff_base_ms = 10},
        {.id = "temp", .def = &kid_def, .restart = TR_TEMPORARY, .backoff_base_ms = 10},
    };
    struct tr_lsup_spec spec = {.name = "g", .children = kids, .n_children = 3, .manual = 1,
                                .intensity = 10};
    assert_int_equal(tr_lsup_start(f->sys, &f->loop, &spec, &f->sup, NULL), 0);
    tr_lact_call(K(f, "perm"), M_EXIT, NULL, 0);  /* normal exit: restarted anyway */
    tr_lact_call(K(f, "trans"), M_EXIT, NULL, 0); /* normal exit: stays down */
    tr_lact_call(K(f, "temp"), M_CRASH, NULL, 0); /* never restarted */
    tr_lsup_step(f->sup);
    mock_advance_ms(&f->mc, 10);
    tr_lsup_step(f->sup);
    assert_true(tr_lact_running(K(f, "perm")));
    assert_false(tr_lact_running(K(f, "trans")));
    assert_false(tr_lact_running(K(f, "temp")));
}

static void intensity_exceeded_stops_all_and_escalates(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE, 1);
    for (int i = 0; i < 3; i++) {
        tr_lact_call(K(f, "b"), M_CRASH, NULL, 0);
        assert_int_equal(tr_lsup_step(f->sup), 1);
        mock_advance_ms(&f->mc, 1000);
        assert_int_equal(tr_lsup_step(f->sup), 1);
        assert_true(tr_lact_running(K(f, "b")));
    }
    expect_log("+a +b +c -b +b -b +b -b +b ");
    tr_lact_call(K(f, "b"), M_CRASH, NULL, 0);
    assert_int_equal(tr_lsup_step(f->sup), 0); /* the fourth within 10 s */
    expect_log("-b -c -a ");
    assert_int_equal(f->escalated, 1);
    assert_int_equal(f->esc_reason, TR_EPROTO);
    assert_false(tr_lact_running(K(f, "a")));
}

static void names_are_shared_with_thread_actors_but_not_routable(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE, 1);
    struct tr_actor *c;
    assert_int_equal(tr_actor_client_open(f->sys, "cl", &c, NULL), 0);
    assert_int_equal(tr_actor_send(c, "a", M_WORK, NULL, 0, 0), TR_ENOTFOUND);
    tr_actor_client_close(c);
    struct tr_actor *t;
    assert_int_equal(tr_actor_spawn(f->sys, "a", &tr_actor_diag_def, NULL, NULL, &t, NULL),
                     TR_EEXISTS);
    /* a second supervisor (the owner restarted) takes the names over */
    struct tr_lsup *old = f->sup;
    tr_lsup_close(old);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    f->sup = NULL;
    start3(f, TR_ONE_FOR_ONE, 1);
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "a", &s), 0);
    assert_int_equal(s.running, 1);
}

/* A thread actor watching loop actor "b": "U" / "D<reason>" per notice. */
static struct evlog g_watch = EVLOG_INIT;

static int w_init(struct tr_actor *self, void *arg, void **state)
{
    (void)arg;
    *state = NULL;
    return tr_actor_monitor(self, "b");
}

static int w_handle(struct tr_actor *self, void *state, const struct tr_msg *m)
{
    (void)self;
    (void)state;
    struct tr_lifecycle ev;
    if (m->type == TR_MSG_LIFECYCLE && tr_lifecycle_decode(m, &ev) == 0) {
        char what[32];
        snprintf(what, sizeof what, "%s%d", ev.event == TR_LIFECYCLE_UP ? "U" : "D",
                 ev.event == TR_LIFECYCLE_UP ? 0 : ev.reason);
        evlog_add(&g_watch, ' ', what);
    }
    return 0;
}

static const struct tr_actor_def watcher_def = {"watcher", w_init, w_handle, NULL};

static int watch_has(const char *want)
{
    pthread_mutex_lock(&g_watch.mu);
    int ok = strcmp(g_watch.buf, want) == 0;
    pthread_mutex_unlock(&g_watch.mu);
    return ok;
}

static void thread_actors_can_monitor_a_loop_actor(void **st)
{
    struct fx *f = *st;
    char junk[4096];
    evlog_take(&g_watch, junk, sizeof junk);
    struct tr_actor *w;
    assert_int_equal(tr_actor_spawn(f->sys, "watch", &watcher_def, NULL, NULL, &w, NULL), 0);
    start3(f, TR_ONE_FOR_ONE, 1);
    assert_true(POLL_UNTIL(watch_has(" U0 ")));
    tr_lact_call(K(f, "b"), M_CRASH, NULL, 0);
    tr_lsup_step(f->sup);
    mock_advance_ms(&f->mc, 100);
    tr_lsup_step(f->sup);
    char want[64];
    snprintf(want, sizeof want, " U0  D%d  U0 ", TR_EPROTO);
    assert_true(POLL_UNTIL(watch_has(want)));
    tr_actor_stop(w, 0);
    tr_actor_join(w);
}

static void timer_mode_restarts_on_its_own(void **st)
{
    struct fx *f = *st;
    /* real clock for this one: the loop's timer decides */
    tr_system_free(f->sys);
    struct tr_system_opts o = {.name = "lt2"};
    assert_int_equal(tr_system_alloc(&o, &f->sys, NULL), 0);
    static const struct tr_lact_spec one = {.id = "t", .def = &kid_def, .backoff_base_ms = 1,
                                            .backoff_max_ms = 2};
    struct tr_lsup_spec spec = {.name = "g", .children = &one, .n_children = 1};
    assert_int_equal(tr_lsup_start(f->sys, &f->loop, &spec, &f->sup, NULL), 0);
    assert_int_equal(tr_lact_send(K(f, "t"), M_CRASH, NULL, 0), 0);
    for (int i = 0; i < 10000 && tr_lact_incarnation(K(f, "t")) < 2; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(tr_lact_incarnation(K(f, "t")), 2);
    assert_true(tr_lact_running(K(f, "t")));
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "t", &s), 0);
    assert_int_equal(s.restarts, 1);
}

/* Dynamic children (a provider's extra sockets): added at run time,
 * restarted on failure after their backoff, ended on purpose without a
 * restart and without touching the intensity, started again later. */
static const struct tr_lact_spec dyn_x = {.id = "x", .def = &kid_def, .arg = (void *)3,
                                          .restart = TR_TRANSIENT, .backoff_base_ms = 100,
                                          .backoff_max_ms = 1000};

static void dynamic_child_fails_alone_and_is_terminated_without_a_restart(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE, 1);
    assert_int_equal(tr_lsup_add(f->sup, &dyn_x, NULL), 0);
    expect_log("+a +b +c +x ");
    struct tr_lact *x = K(f, "x");
    tr_lact_call(x, M_CRASH, NULL, 0);
    tr_lsup_step(f->sup);
    mock_advance_ms(&f->mc, 100);
    tr_lsup_step(f->sup);
    expect_log("-x +x "); /* only x, after its backoff */
    assert_int_equal(tr_lact_incarnation(K(f, "a")), 1);
    /* ended on purpose: stop_cb under the call, never restarted */
    assert_int_equal(tr_lsup_terminate_child(f->sup, x), 0);
    expect_log("-x ");
    struct tr_child_info ci;
    assert_int_equal(tr_lsup_child_info(f->sup, "x", &ci), 0);
    assert_int_equal(ci.state, TR_CHILD_STOPPED);
    assert_int_equal(ci.last_exit_reason, TR_EXIT_SHUTDOWN);
    mock_advance_ms(&f->mc, 5000);
    tr_lsup_step(f->sup);
    expect_log("");
    assert_int_equal(tr_lsup_terminate_child(f->sup, x), 0); /* idempotent */
    /* started again: not a restart (nothing failed) */
    assert_int_equal(tr_lsup_restart_child(f->sup, x, NULL), 0);
    expect_log("+x ");
    assert_int_equal(tr_lact_incarnation(x), 3);
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "x", &s), 0);
    assert_int_equal(s.restarts, 1);
    assert_int_equal(s.running, 1);
    /* a failure whose restart is waiting: terminating cancels the restart */
    tr_lact_call(x, M_CRASH, NULL, 0);
    tr_lsup_step(f->sup);
    expect_log("-x ");
    assert_int_equal(tr_lsup_child_info(f->sup, "x", &ci), 0);
    assert_int_equal(ci.state, TR_CHILD_WAITING);
    assert_int_equal(tr_lsup_terminate_child(f->sup, x), 0);
    expect_log(""); /* its stop already ran */
    mock_advance_ms(&f->mc, 5000);
    tr_lsup_step(f->sup);
    expect_log("");
    assert_false(tr_lact_running(x));
    /* a failure reported, not handled yet: terminated with its code, not restarted */
    assert_int_equal(tr_lsup_restart_child(f->sup, x, NULL), 0);
    tr_lact_fail(x, TR_EINTERNAL, "fault");
    assert_int_equal(tr_lsup_terminate_child(f->sup, x), 0);
    expect_log("+x -x ");
    assert_int_equal(tr_lsup_child_info(f->sup, "x", &ci), 0);
    assert_int_equal(ci.last_exit_reason, TR_EINTERNAL);
    tr_lsup_step(f->sup);
    mock_advance_ms(&f->mc, 5000);
    tr_lsup_step(f->sup);
    expect_log("");
    assert_int_equal(tr_lsup_child_info(f->sup, "x", &ci), 0);
    assert_int_equal(ci.state, TR_CHILD_STOPPED);
    assert_int_equal(ci.restarts, 2); /* the two handled failures only */
}

static void intensity_counts_failures_not_children_ended_on_purpose(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE, 1); /* intensity 3 in 10 s */
    assert_int_equal(tr_lsup_add(f->sup, &dyn_x, NULL), 0);
    struct tr_lact *x = K(f, "x");
    for (int i = 0; i < 20; i++) { /* sockets opened and closed on purpose */
        assert_int_equal(tr_lsup_terminate_child(f->sup, x), 0);
        assert_int_equal(tr_lsup_restart_child(f->sup, x, NULL), 0);
        assert_int_equal(tr_lsup_step(f->sup), 1);
    }
    for (int i = 0; i < 20; i++) { /* a transient ending normally: not a failure either */
        assert_int_equal(tr_lact_call(x, M_EXIT, NULL, 0), TR_ACTOR_STOP);
        assert_int_equal(tr_lsup_step(f->sup), 1);
        assert_false(tr_lact_running(x));
        assert_int_equal(tr_lsup_restart_child(f->sup, x, NULL), 0);
    }
    assert_int_equal(f->escalated, 0);
    for (int i = 0; i < 3; i++) { /* three failures: within 3 in 10 s */
        tr_lact_call(x, M_CRASH, NULL, 0);
        assert_int_equal(tr_lsup_step(f->sup), 1);
        mock_advance_ms(&f->mc, 1000);
        assert_int_equal(tr_lsup_step(f->sup), 1);
    }
    tr_lact_call(x, M_CRASH, NULL, 0);
    assert_int_equal(tr_lsup_step(f->sup), 0); /* the fourth failure escalates */
    assert_int_equal(f->escalated, 1);
}

static void start_with_nothing_to_do_ends_normally(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE, 1);
    expect_log("+a +b +c ");
    g_start_idle = 1;
    assert_int_equal(tr_lsup_add(f->sup, &dyn_x, NULL), 0); /* added, stopped */
    struct tr_lact *x = K(f, "x");
    assert_false(tr_lact_running(x));
    expect_log("+x -x "); /* what its start took is released at once */
    tr_lsup_step(f->sup);
    expect_log("");
    struct tr_child_info ci;
    assert_int_equal(tr_lsup_child_info(f->sup, "x", &ci), 0);
    assert_int_equal(ci.state, TR_CHILD_STOPPED); /* transient, normal: not restarted */
    assert_int_equal(ci.last_exit_reason, TR_EXIT_NORMAL);
    assert_int_equal(ci.restarts, 0);
    /* a failure whose restart finds nothing to do: ends there */
    g_start_idle = 0;
    assert_int_equal(tr_lsup_restart_child(f->sup, x, NULL), 0);
    tr_lact_call(x, M_CRASH, NULL, 0);
    tr_lsup_step(f->sup);
    g_start_idle = 1;
    mock_advance_ms(&f->mc, 100);
    tr_lsup_step(f->sup); /* restarted: finds nothing */
    expect_log("+x -x +x -x ");
    assert_int_equal(tr_lsup_child_info(f->sup, "x", &ci), 0);
    assert_int_equal(ci.state, TR_CHILD_STOPPED);
    assert_int_equal(ci.restarts, 1);
    mock_advance_ms(&f->mc, 5000);
    tr_lsup_step(f->sup);
    expect_log("");
    /* a permanent child too (OTP's ignore), and nothing counted */
    static const struct tr_lact_spec perm = {.id = "p", .def = &kid_def, .backoff_base_ms = 10};
    assert_int_equal(tr_lsup_add(f->sup, &perm, NULL), 0);
    expect_log("+p -p ");
    mock_advance_ms(&f->mc, 5000);
    tr_lsup_step(f->sup);
    expect_log("");
    assert_int_equal(tr_lsup_child_info(f->sup, "p", &ci), 0);
    assert_int_equal(ci.state, TR_CHILD_STOPPED);
    assert_int_equal(f->escalated, 0);
}

static void restart_child_refuses_what_is_not_stopped(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE, 1);
    static const struct tr_lact_spec tmp = {.id = "t", .def = &kid_def,
                                            .restart = TR_TEMPORARY};
    assert_int_equal(tr_lsup_add(f->sup, &dyn_x, NULL), 0);
    assert_int_equal(tr_lsup_add(f->sup, &tmp, NULL), 0);
    struct tr_lact *x = K(f, "x");
    assert_int_equal(tr_lsup_restart_child(f->sup, x, NULL), TR_EBUSY); /* running */
    tr_lact_call(x, M_CRASH, NULL, 0);
    assert_int_equal(tr_lsup_restart_child(f->sup, x, NULL), TR_EBUSY); /* failure pending */
    tr_lsup_step(f->sup);
    assert_int_equal(tr_lsup_restart_child(f->sup, x, NULL), TR_EBUSY); /* backoff */
    assert_int_equal(tr_lsup_terminate_child(f->sup, K(f, "t")), 0);
    assert_int_equal(tr_lsup_restart_child(f->sup, K(f, "t"), NULL), TR_ENOTFOUND);
    /* a start that fails leaves it stopped: nothing restarts it */
    assert_int_equal(tr_lsup_terminate_child(f->sup, x), 0);
    g_start_fail = 1;
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(tr_lsup_restart_child(f->sup, x, &err), TR_EIO);
    struct tr_child_info ci;
    assert_int_equal(tr_lsup_child_info(f->sup, "x", &ci), 0);
    assert_int_equal(ci.state, TR_CHILD_STOPPED);
    mock_advance_ms(&f->mc, 5000);
    tr_lsup_step(f->sup);
    assert_false(tr_lact_running(x));
    /* not from its own handler */
    assert_int_equal(tr_lsup_restart_child(f->sup, x, NULL), 0);
    assert_int_equal(tr_lact_call(x, M_TERM, NULL, 0), 0);
    assert_true(tr_lact_running(x));
    assert_int_equal(tr_lsup_terminate_child(f->sup, NULL), TR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(call_runs_now_and_send_runs_on_a_later_turn_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_restarts_only_that_child_after_its_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(failure_reported_outside_a_handler_is_handled_by_the_next_step, setup, teardown),
        cmocka_unit_test_setup_teardown(rest_for_one_restarts_the_child_and_those_after_it, setup, teardown),
        cmocka_unit_test_setup_teardown(one_for_all_stops_others_in_reverse_and_restarts_all_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(queued_messages_of_a_crashed_incarnation_are_dropped_and_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_start_is_a_crash_and_is_retried_with_growing_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_kinds_follow_otp, setup, teardown),
        cmocka_unit_test_setup_teardown(intensity_exceeded_stops_all_and_escalates, setup, teardown),
        cmocka_unit_test_setup_teardown(names_are_shared_with_thread_actors_but_not_routable, setup, teardown),
        cmocka_unit_test_setup_teardown(thread_actors_can_monitor_a_loop_actor, setup, teardown),
        cmocka_unit_test_setup_teardown(timer_mode_restarts_on_its_own, setup, teardown),
        cmocka_unit_test_setup_teardown(dynamic_child_fails_alone_and_is_terminated_without_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(intensity_counts_failures_not_children_ended_on_purpose, setup, teardown),
        cmocka_unit_test_setup_teardown(start_with_nothing_to_do_ends_normally, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_child_refuses_what_is_not_stopped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
