/* Supervision, deterministically: manual stepping and a mock clock. Covers
 * each strategy's restart set and order, restart types, intensity
 * escalation (and its sliding window), backoff bounds, hung-child detection,
 * nested escalation and shutdown order/draining. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_actor_util.h"

#define W_CRASH 100
#define W_EXIT  101
#define W_BLOCK 102
#define W_WORK  103

static struct evlog g_log = EVLOG_INIT;
static struct gate *g_gate;
static _Atomic uint64_t g_work;

static int w_init(struct tr_actor *self, void *arg, void **state)
{
    (void)arg;
    *state = NULL;
    evlog_add(&g_log, '+', tr_actor_name(self));
    return 0;
}

static int w_handle(struct tr_actor *self, void *state, const struct tr_msg *m)
{
    (void)self;
    (void)state;
    switch (m->type) {
    case W_CRASH: return TR_EIO;
    case W_EXIT: return TR_ACTOR_STOP;
    case W_BLOCK: gate_pass(g_gate); return 0;
    case W_WORK: atomic_fetch_add(&g_work, 1); return 0;
    default: return 0;
    }
}

static void w_term(struct tr_actor *self, void *state, int reason)
{
    (void)state;
    (void)reason;
    evlog_add(&g_log, '-', tr_actor_name(self));
}

static const struct tr_actor_def wdef = {"worker", w_init, w_handle, w_term};

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
    f->mc.now = 1000ull * 1000000000ull;
    f->mc.rnd = 0;
    f->clock = mock_clock_ops(&f->mc);
    assert_int_equal(tr_system_alloc(&(struct tr_system_opts){.name = "s", .clock = &f->clock},
                                     &f->sys, NULL), 0);
    assert_int_equal(tr_actor_client_open(f->sys, "client", &f->client, NULL), 0);
    g_log.buf[0] = '\0';
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

static struct tr_child_spec worker(const char *id, enum tr_restart r)
{
    struct tr_child_spec c = {.id = id, .start = {.def = &wdef}, .restart = r,
                              .shutdown = TR_SHUTDOWN_TIMEOUT, .shutdown_ms = 5000,
                              .type = TR_WORKER, .backoff_base_ms = 1000,
                              .backoff_max_ms = 300000};
    return c;
}

static void start3(struct fx *f, enum tr_sup_strategy s)
{
    struct tr_child_spec kids[3] = {worker("a", TR_PERMANENT), worker("b", TR_PERMANENT),
                                    worker("c", TR_PERMANENT)};
    struct tr_sup_spec spec = {.name = "root", .strategy = s, .intensity = 3,
                               .period_ms = 30000, .children = kids, .n_children = 3,
                               .manual = 1};
    assert_int_equal(tr_sup_start(f->sys, &spec, &f->sup, NULL), 0);
    char log[256];
    evlog_take(&g_log, log, sizeof log);
    assert_string_equal(log, "+a +b +c ");
}

static struct tr_child_info info(struct fx *f, const char *id)
{
    struct tr_child_info ci;
    assert_int_equal(tr_sup_child_info(f->sup, id, &ci), 0);
    return ci;
}

/* Crashes `id` and steps until the supervisor has handled its exit. */
static void crash(struct fx *f, const char *id)
{
    uint32_t before = info(f, id).restarts;
    assert_int_equal(tr_actor_send(f->client, id, W_CRASH, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL((tr_sup_step(f->sup), tr_sup_child_info(f->sup, id, &(struct tr_child_info){0}) != 0 ||
                            info(f, id).state != TR_CHILD_RUNNING || info(f, id).restarts != before)));
}

/* Advances the clock to the pending restart and steps once. */
static void run_restart(struct fx *f, const char *id)
{
    struct tr_child_info ci = info(f, id);
    assert_int_equal(ci.state, TR_CHILD_WAITING);
    atomic_store(&f->mc.now, ci.restart_at_ns);
    tr_sup_step(f->sup);
}

static void one_for_one_restarts_only_the_crashed_child(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE);
    crash(f, "b");
    assert_int_equal(info(f, "a").state, TR_CHILD_RUNNING);
    assert_int_equal(info(f, "c").state, TR_CHILD_RUNNING);
    assert_int_equal(info(f, "b").last_exit_reason, TR_EIO);
    /* not before its backoff */
    atomic_fetch_add(&f->mc.now, info(f, "b").restart_at_ns - atomic_load(&f->mc.now) - 1);
    tr_sup_step(f->sup);
    assert_int_equal(info(f, "b").state, TR_CHILD_WAITING);
    run_restart(f, "b");
    assert_int_equal(info(f, "b").state, TR_CHILD_RUNNING);
    assert_int_equal(info(f, "b").incarnation, 2);
    assert_int_equal(info(f, "a").incarnation, 1);
    assert_int_equal(info(f, "c").incarnation, 1);
    char log[256];
    evlog_take(&g_log, log, sizeof log);
    assert_string_equal(log, "-b +b ");
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "b", &s), 0);
    assert_int_equal(s.restarts, 1);
    assert_string_equal(s.last_restart_reason, "error TR_EIO");
}

static void one_for_all_stops_others_in_reverse_and_restarts_all_in_order(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ALL);
    crash(f, "b");
    char log[256];
    evlog_take(&g_log, log, sizeof log);
    assert_string_equal(log, "-b -c -a ");
    for (const char *id = "a"; *id <= 'c'; id = (const char *[]){"b", "c", "d"}[*id - 'a'])
        assert_int_equal(info(f, id).state, TR_CHILD_WAITING);
    run_restart(f, "a");
    evlog_take(&g_log, log, sizeof log);
    assert_string_equal(log, "+a +b +c ");
    assert_int_equal(info(f, "c").incarnation, 2);
}

static void rest_for_one_restarts_the_child_and_those_after_it(void **st)
{
    struct fx *f = *st;
    start3(f, TR_REST_FOR_ONE);
    crash(f, "b");
    char log[256];
    evlog_take(&g_log, log, sizeof log);
    assert_string_equal(log, "-b -c ");
    assert_int_equal(info(f, "a").state, TR_CHILD_RUNNING);
    run_restart(f, "b");
    evlog_take(&g_log, log, sizeof log);
    assert_string_equal(log, "+b +c ");
    assert_int_equal(info(f, "a").incarnation, 1);
}

static void restart_types_follow_otp(void **st)
{
    struct fx *f = *st;
    struct tr_child_spec kids[3] = {worker("perm", TR_PERMANENT), worker("trans", TR_TRANSIENT),
                                    worker("temp", TR_TEMPORARY)};
    struct tr_sup_spec spec = {.name = "root", .strategy = TR_ONE_FOR_ONE, .intensity = 10,
                               .period_ms = 30000, .children = kids, .n_children = 3, .manual = 1};
    assert_int_equal(tr_sup_start(f->sys, &spec, &f->sup, NULL), 0);
    /* transient: a normal exit is final, a crash is restarted */
    assert_int_equal(tr_actor_send(f->client, "trans", W_EXIT, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL((tr_sup_step(f->sup), info(f, "trans").state == TR_CHILD_STOPPED)));
    /* permanent: even a normal exit is restarted */
    assert_int_equal(tr_actor_send(f->client, "perm", W_EXIT, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL((tr_sup_step(f->sup), info(f, "perm").state == TR_CHILD_WAITING)));
    /* temporary: never restarted, removed */
    assert_int_equal(tr_actor_send(f->client, "temp", W_CRASH, NULL, 0, -1), 0);
    struct tr_child_info ci;
    assert_true(POLL_UNTIL((tr_sup_step(f->sup), tr_sup_child_info(f->sup, "temp", &ci) == TR_ENOTFOUND)));
    run_restart(f, "perm");
    assert_int_equal(info(f, "perm").state, TR_CHILD_RUNNING);
    assert_int_equal(info(f, "trans").state, TR_CHILD_STOPPED);
}

static void intensity_exceeded_escalates_with_distinct_exit_code(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE); /* 3 restarts in 30 s allowed */
    for (int i = 0; i < 3; i++) {
        crash(f, "b");
        run_restart(f, "b");
        assert_int_equal(info(f, "b").state, TR_CHILD_RUNNING);
    }
    g_log.buf[0] = '\0';
    assert_int_equal(tr_actor_send(f->client, "b", W_CRASH, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL(tr_sup_step(f->sup) == 0));
    assert_int_equal(tr_sup_wait(f->sup), TR_SUP_EXIT_ESCALATED);
    char log[256];
    evlog_take(&g_log, log, sizeof log);
    assert_string_equal(log, "-b -c -a ");
}

static void restarts_outside_the_period_slide_out_of_the_window(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE);
    for (int i = 0; i < 8; i++) {
        crash(f, "b");
        run_restart(f, "b");
        mock_advance_ms(&f->mc, 11000); /* 3 in 30 s never reached */
        assert_int_equal(tr_sup_step(f->sup), 1);
    }
    assert_int_equal(info(f, "b").restarts, 8);
}

static void backoff_stays_within_base_doubling_cap_and_25_percent_jitter(void **st)
{
    (void)st;
    static const uint32_t table[][2] = {{1000, 300000}, {1000, 60000}, {1000, 30000}, {50, 1000}};
    for (size_t t = 0; t < 4; t++) {
        uint32_t base = table[t][0], max = table[t][1];
        for (uint32_t a = 0; a < 40; a++) {
            uint64_t d = base;
            for (uint32_t i = 0; i < a && d < max; i++)
                d *= 2;
            if (d > max)
                d = max;
            uint64_t lo = tr_backoff_ms(base, max, a, 0);
            uint64_t hi = tr_backoff_ms(base, max, a, UINT64_MAX - 1);
            assert_int_equal(lo, d);
            assert_true(hi >= d && hi < d + d / 4);
            for (uint64_t r = 1; r < 1000000; r = r * 7 + 3) {
                uint64_t x = tr_backoff_ms(base, max, a, r);
                assert_true(x >= d && x < d + d / 4 + (d / 4 == 0));
            }
        }
    }
    assert_int_equal(tr_backoff_ms(1000, 300000, 0, 0), 1000);
    assert_int_equal(tr_backoff_ms(1000, 300000, 8, 0), 256000);
    assert_int_equal(tr_backoff_ms(1000, 300000, 9, 0), 300000);
    assert_int_equal(tr_backoff_ms(1000, 300000, 9, 74999), 374999);
}

static void consecutive_crashes_double_the_restart_delay(void **st)
{
    struct fx *f = *st;
    f->mc.rnd = 99; /* jitter = 99 % (d/4) */
    struct tr_child_spec kids[1] = {worker("ws", TR_PERMANENT)};
    kids[0].backoff_base_ms = 1000;
    kids[0].backoff_max_ms = 4000;
    struct tr_sup_spec spec = {.name = "root", .strategy = TR_ONE_FOR_ONE, .intensity = 100,
                               .period_ms = 60000, .children = kids, .n_children = 1, .manual = 1};
    assert_int_equal(tr_sup_start(f->sys, &spec, &f->sup, NULL), 0);
    uint64_t want[] = {1000 + 99, 2000 + 99, 4000 + 99, 4000 + 99};
    for (int i = 0; i < 4; i++) {
        uint64_t t0 = atomic_load(&f->mc.now);
        crash(f, "ws");
        assert_int_equal(info(f, "ws").last_delay_ms, want[i]);
        assert_int_equal(info(f, "ws").restart_at_ns - t0, want[i] * 1000000ull);
        run_restart(f, "ws");
    }
    /* after running stably for the period, the backoff starts over */
    mock_advance_ms(&f->mc, 60000);
    crash(f, "ws");
    assert_int_equal(info(f, "ws").last_delay_ms, 1000 + 99);
}

static void hung_child_is_detected_by_heartbeat_and_restarted(void **st)
{
    struct fx *f = *st;
    struct gate g = GATE_INIT;
    g_gate = &g;
    struct tr_child_spec kids[1] = {worker("h", TR_PERMANENT)};
    kids[0].heartbeat_ms = 1000;
    kids[0].heartbeat_deadline_ms = 500;
    struct tr_sup_spec spec = {.name = "root", .strategy = TR_ONE_FOR_ONE, .children = kids,
                               .n_children = 1, .manual = 1};
    assert_int_equal(tr_sup_start(f->sys, &spec, &f->sup, NULL), 0);
    /* healthy: pings are answered, never declared hung */
    for (int i = 0; i < 3; i++) {
        mock_advance_ms(&f->mc, 1000);
        tr_sup_step(f->sup);
        assert_true(info(f, "h").heartbeat_outstanding);
        assert_int_equal(tr_sup_settle(f->sup, "h", 10000), 0);
        mock_advance_ms(&f->mc, 600);
        tr_sup_step(f->sup);
        assert_int_equal(info(f, "h").state, TR_CHILD_RUNNING);
        assert_int_equal(info(f, "h").incarnation, 1);
    }
    /* now it blocks inside its handler */
    assert_int_equal(tr_actor_send(f->client, "h", W_BLOCK, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL(atomic_load(&g.waiting) == 1));
    mock_advance_ms(&f->mc, 1000);
    tr_sup_step(f->sup); /* ping */
    mock_advance_ms(&f->mc, 499);
    tr_sup_step(f->sup);
    assert_int_equal(info(f, "h").state, TR_CHILD_RUNNING);
    mock_advance_ms(&f->mc, 1);
    tr_sup_step(f->sup); /* deadline reached */
    struct tr_child_info ci = info(f, "h");
    assert_int_equal(ci.state, TR_CHILD_WAITING);
    assert_int_equal(ci.last_exit_reason, TR_EXIT_HUNG);
    run_restart(f, "h");
    assert_int_equal(info(f, "h").state, TR_CHILD_RUNNING);
    assert_int_equal(info(f, "h").incarnation, 2);
    /* the new incarnation owns the name and answers */
    assert_int_equal(tr_actor_send(f->client, "h", W_WORK, NULL, 0, 5000), 0);
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "h", &s), 0);
    assert_string_equal(s.last_restart_reason, "hung (missed heartbeat)");
    gate_open(&g); /* the abandoned thread returns and frees itself */
    assert_true(POLL_UNTIL(atomic_load(&g.waiting) == 0));
}

static struct tr_child_spec inner_kids[1];

static void nested_supervisor_escalation_is_restarted_by_parent(void **st)
{
    struct fx *f = *st;
    inner_kids[0] = worker("leaf", TR_PERMANENT);
    struct tr_sup_spec inner = {.name = "inner", .strategy = TR_ONE_FOR_ONE, .intensity = 0,
                                .period_ms = 1000, .children = inner_kids, .n_children = 1};
    struct tr_child_spec kids[2] = {worker("sib", TR_PERMANENT),
                                    {.id = "inner", .start = {.sup = &inner}, .restart = TR_PERMANENT,
                                     .shutdown = TR_SHUTDOWN_INFINITY, .type = TR_SUPERVISOR}};
    struct tr_sup_spec spec = {.name = "root", .strategy = TR_ONE_FOR_ONE, .children = kids,
                               .n_children = 2, .manual = 1};
    assert_int_equal(tr_sup_start(f->sys, &spec, &f->sup, NULL), 0);
    assert_int_equal(tr_actor_send(f->client, "leaf", W_CRASH, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL((tr_sup_step(f->sup), info(f, "inner").state == TR_CHILD_WAITING)));
    assert_int_equal(info(f, "inner").last_exit_reason, TR_EXIT_ESCALATED);
    assert_int_equal(info(f, "sib").incarnation, 1);
    run_restart(f, "inner");
    assert_int_equal(info(f, "inner").incarnation, 2);
    assert_int_equal(tr_actor_send(f->client, "leaf", W_WORK, NULL, 0, 5000), 0);
}

static void dynamic_child_and_terminate_child(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE);
    struct tr_child_spec d = worker("d", TR_PERMANENT);
    assert_int_equal(tr_sup_start_child(f->sup, &d, NULL), 0);
    assert_int_equal(tr_sup_start_child(f->sup, &d, NULL), TR_EEXISTS);
    assert_int_equal(tr_sup_terminate_child(f->sup, "d"), 0);
    char log[256];
    evlog_take(&g_log, log, sizeof log);
    assert_string_equal(log, "+d -d ");
}

/* Shutdown: reverse start order, each child drains what it was sent. */
static void shutdown_stops_in_reverse_order_and_drains(void **st)
{
    struct fx *f = *st;
    start3(f, TR_ONE_FOR_ONE);
    atomic_store(&g_work, 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(tr_actor_send(f->client, (const char *[]){"a", "b", "c"}[i % 3], W_WORK,
                                       NULL, 0, -1), 0);
    tr_sup_stop(f->sup);
    assert_int_equal(tr_sup_step(f->sup), 0);
    assert_int_equal(tr_sup_wait(f->sup), 0);
    char log[256];
    evlog_take(&g_log, log, sizeof log);
    assert_string_equal(log, "-c -b -a ");
    assert_int_equal(atomic_load(&g_work), 200);
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "a", &s), 0);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.last_exit_reason, TR_EXIT_SHUTDOWN);
}

struct step_thread {
    struct tr_sup *sup;
    _Atomic int done;
    int result;
};

static void *step_main(void *arg)
{
    struct step_thread *t = arg;
    t->result = tr_sup_step(t->sup);
    atomic_store(&t->done, 1);
    return NULL;
}

/* A child stuck in its handler during shutdown is abandoned once its
 * shutdown bound passes on the supervisor's clock; shutdown completes. */
static void shutdown_bound_exceeded_abandons_a_stuck_child(void **st)
{
    struct fx *f = *st;
    struct gate g = GATE_INIT;
    g_gate = &g;
    struct tr_child_spec kids[2] = {worker("first", TR_PERMANENT), worker("stuck", TR_PERMANENT)};
    kids[1].shutdown_ms = 3000;
    struct tr_sup_spec spec = {.name = "root", .strategy = TR_ONE_FOR_ONE, .children = kids,
                               .n_children = 2, .manual = 1};
    assert_int_equal(tr_sup_start(f->sys, &spec, &f->sup, NULL), 0);
    assert_int_equal(tr_actor_send(f->client, "stuck", W_BLOCK, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL(atomic_load(&g.waiting) == 1));
    tr_sup_stop(f->sup);
    struct step_thread t = {f->sup, 0, -1};
    pthread_t th;
    pthread_create(&th, NULL, step_main, &t);
    struct tr_child_info ci;
    assert_true(POLL_UNTIL(tr_sup_child_info(f->sup, "stuck", &ci) == TR_EBUSY)); /* stopping it */
    mock_advance_ms(&f->mc, 2999);
    assert_int_equal(atomic_load(&t.done), 0); /* still within its bound */
    mock_advance_ms(&f->mc, 1);
    assert_true(POLL_UNTIL(atomic_load(&t.done)));
    pthread_join(th, NULL);
    assert_int_equal(t.result, 0);
    char log[256];
    evlog_take(&g_log, log, sizeof log);
    assert_string_equal(log, "+first +stuck -first "); /* stuck never returned */
    gate_open(&g);
    assert_true(POLL_UNTIL(atomic_load(&g.waiting) == 0));
}

/* brutal_kill does not drain: what was queued is counted as dropped. */
static void brutal_kill_counts_queued_messages_as_dropped(void **st)
{
    struct fx *f = *st;
    struct gate g = GATE_INIT;
    g_gate = &g;
    struct tr_child_spec kids[1] = {worker("brute", TR_PERMANENT)};
    kids[0].shutdown = TR_SHUTDOWN_BRUTAL_KILL;
    struct tr_sup_spec spec = {.name = "root", .strategy = TR_ONE_FOR_ONE, .children = kids,
                               .n_children = 1, .manual = 1};
    assert_int_equal(tr_sup_start(f->sys, &spec, &f->sup, NULL), 0);
    assert_int_equal(tr_actor_send(f->client, "brute", W_BLOCK, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL(atomic_load(&g.waiting) == 1));
    for (int i = 0; i < 10; i++)
        assert_int_equal(tr_actor_send(f->client, "brute", W_WORK, NULL, 0, -1), 0);
    struct tr_actor_stats s;
    assert_true(POLL_UNTIL(tr_system_stats(f->sys, "brute", &s) == 0 && s.mailbox_depth == 10));
    tr_sup_stop(f->sup);
    struct step_thread t = {f->sup, 0, -1};
    pthread_t th;
    pthread_create(&th, NULL, step_main, &t);
    struct tr_child_info ci;
    assert_true(POLL_UNTIL(tr_sup_child_info(f->sup, "brute", &ci) == TR_EBUSY)); /* stopping it */
    gate_open(&g);
    pthread_join(th, NULL);
    assert_int_equal(tr_system_stats(f->sys, "brute", &s), 0);
    assert_int_equal(s.handled, 1);
    assert_int_equal(s.dropped, 10);
}

/* Threaded mode: the supervisor runs on its own thread with the real
 * clock; tr_sup_run returns 0 after tr_sup_stop. */
static void threaded_root_restarts_and_returns_zero_on_stop(void **st)
{
    struct fx *f = *st;
    tr_actor_client_close(f->client);
    tr_system_free(f->sys);
    assert_int_equal(tr_system_alloc(&(struct tr_system_opts){.name = "r"}, &f->sys, NULL), 0);
    assert_int_equal(tr_actor_client_open(f->sys, "client", &f->client, NULL), 0);
    struct tr_child_spec kids[1] = {worker("x", TR_PERMANENT)};
    kids[0].backoff_base_ms = 1;
    kids[0].backoff_max_ms = 4;
    struct tr_sup_spec spec = {.name = "root", .strategy = TR_ONE_FOR_ONE, .children = kids,
                               .n_children = 1, .tick_ms = 1};
    assert_int_equal(tr_sup_start(f->sys, &spec, &f->sup, NULL), 0);
    assert_int_equal(tr_actor_send(f->client, "x", W_CRASH, NULL, 0, -1), 0);
    struct tr_child_info ci;
    assert_true(POLL_UNTIL(tr_sup_child_info(f->sup, "x", &ci) == 0 && ci.incarnation == 2 &&
                           ci.state == TR_CHILD_RUNNING));
    tr_sup_stop(f->sup);
    assert_int_equal(tr_sup_run(f->sup), 0);
}

/* Threaded root: past its intensity it stops everything and tr_sup_run
 * returns the distinct exit code the node exits with. */
static void threaded_root_escalation_returns_distinct_exit_code(void **st)
{
    struct fx *f = *st;
    tr_actor_client_close(f->client);
    tr_system_free(f->sys);
    assert_int_equal(tr_system_alloc(&(struct tr_system_opts){.name = "e"}, &f->sys, NULL), 0);
    assert_int_equal(tr_actor_client_open(f->sys, "client", &f->client, NULL), 0);
    struct tr_child_spec kids[2] = {worker("y1", TR_PERMANENT), worker("y2", TR_PERMANENT)};
    struct tr_sup_spec spec = {.name = "root", .strategy = TR_ONE_FOR_ONE, .intensity = 0,
                               .period_ms = 30000, .children = kids, .n_children = 2, .tick_ms = 1};
    assert_int_equal(tr_sup_start(f->sys, &spec, &f->sup, NULL), 0);
    g_log.buf[0] = '\0';
    assert_int_equal(tr_actor_send(f->client, "y1", W_CRASH, NULL, 0, -1), 0);
    assert_int_equal(tr_sup_run(f->sup), TR_SUP_EXIT_ESCALATED);
    char log[256];
    evlog_take(&g_log, log, sizeof log);
    assert_string_equal(log, "-y1 -y2 ");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* every tickraft process does (ARCHITECTURE.md) */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(one_for_one_restarts_only_the_crashed_child),
        T(one_for_all_stops_others_in_reverse_and_restarts_all_in_order),
        T(rest_for_one_restarts_the_child_and_those_after_it),
        T(restart_types_follow_otp),
        T(intensity_exceeded_escalates_with_distinct_exit_code),
        T(restarts_outside_the_period_slide_out_of_the_window),
        T(backoff_stays_within_base_doubling_cap_and_25_percent_jitter),
        T(consecutive_crashes_double_the_restart_delay),
        T(hung_child_is_detected_by_heartbeat_and_restarted),
        T(nested_supervisor_escalation_is_restarted_by_parent),
        T(dynamic_child_and_terminate_child),
        T(shutdown_stops_in_reverse_order_and_drains),
        T(shutdown_bound_exceeded_abandons_a_stuck_child),
        T(brutal_kill_counts_queued_messages_as_dropped),
        T(threaded_root_restarts_and_returns_zero_on_stop),
        T(threaded_root_escalation_returns_distinct_exit_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
