/* tickraft supervisors: Erlang/OTP supervision for tickraft actors.
 *
 * A supervisor starts its children in order and stops them in reverse; it
 * restarts them by strategy (one_for_one, one_for_all, rest_for_one) after an
 * exponential backoff with 0-25 % jitter, detects hung children by heartbeat,
 * and gives up past its restart intensity (more than `intensity` restarts
 * within `period_ms`): it stops its children and escalates to its parent;
 * the root's escalation makes tr_sup_run return TR_SUP_EXIT_ESCALATED.
 * A child runs on a thread in this process or, with `process_kind` set, in
 * a child process (`tickraft-actor-host`, fork+exec) reached over ipc://.
 * docs/actors.md explains the choices. */
#ifndef TICKRAFT_ACTOR_SUP_H
#define TICKRAFT_ACTOR_SUP_H

#include "tickraft/actor.h"

struct tr_sup;

enum tr_sup_strategy { TR_ONE_FOR_ONE, TR_ONE_FOR_ALL, TR_REST_FOR_ONE };
enum tr_restart { TR_PERMANENT, TR_TRANSIENT, TR_TEMPORARY };
enum tr_shutdown { TR_SHUTDOWN_BRUTAL_KILL, TR_SHUTDOWN_TIMEOUT, TR_SHUTDOWN_INFINITY };
enum tr_child_type { TR_WORKER, TR_SUPERVISOR };

/* Exit code of a process whose root supervisor escalated (systemd restarts
 * it: Restart=on-failure). Distinct from 0 (shutdown) and 1 (startup error). */
#define TR_SUP_EXIT_ESCALATED 86

struct tr_sup_spec;

/* How to start a child (Erlang's "start"). Exactly one of: def (thread
 * actor), process_kind (process actor run by the host program), sup (a
 * nested supervisor, with type TR_SUPERVISOR). */
struct tr_child_start {
    const struct tr_actor_def *def;
    void *arg;                      /* passed to def->init_cb; borrowed */
    const char *process_kind;       /* kind known to the host program */
    const char *process_arg;        /* one string passed to the host (--arg) */
    const struct tr_sup_spec *sup;
    struct tr_actor_opts opts;
};

struct tr_child_spec {
    const char *id;                 /* actor name; unique in the system */
    struct tr_child_start start;
    enum tr_restart restart;
    enum tr_shutdown shutdown;
    uint32_t shutdown_ms;           /* bound for TR_SHUTDOWN_TIMEOUT */
    enum tr_child_type type;
    uint32_t backoff_base_ms;       /* 0 = 1000 */
    uint32_t backoff_max_ms;        /* 0 = 300000 */
    uint32_t heartbeat_ms;          /* ping interval; 0 = no hang detection */
    uint32_t heartbeat_deadline_ms; /* 0 = heartbeat_ms */
};

struct tr_sup_spec {
    const char *name;               /* supervisor's name (for stats/logs) */
    enum tr_sup_strategy strategy;
    uint32_t intensity;             /* max restarts in period; default 3 */
    uint32_t period_ms;             /* default 30000 */
    const struct tr_child_spec *children; /* started in order; copied */
    size_t n_children;
    int manual;                     /* 1: no thread, caller drives tr_sup_step
                                       (deterministic tests with a mock clock) */
    uint32_t tick_ms;               /* threaded mode poll period; default 10 */
};

/* The backoff before restart number `attempt` (0 = first): min(base *
 * 2^attempt, max) plus jitter uniform in [0, 25 %) of that, from `rnd`. */
uint64_t tr_backoff_ms(uint32_t base_ms, uint32_t max_ms, uint32_t attempt, uint64_t rnd);

/* Allocates a supervisor and starts its children in order (threaded mode:
 * on its own thread; manual mode: here). If a child fails to start, the
 * ones started are stopped and the error returned. Caller owns *out and
 * frees it with tr_sup_free after it stopped. */
int tr_sup_start(struct tr_system *sys, const struct tr_sup_spec *spec,
                 struct tr_sup **out, struct tr_error *err);
/* Adds and starts a child at the end (thread-safe; callable from a child's
 * handler). TR_EEXISTS if the id is taken; TR_EBUSY while the supervisor
 * is stopping a child (it may be waiting for the caller). The spec is
 * copied; `start.arg` and `start.def` stay borrowed. */
int tr_sup_start_child(struct tr_sup *sup, const struct tr_child_spec *spec,
                       struct tr_error *err);
/* Stops and removes a child (per its shutdown spec). TR_ENOTFOUND, or
 * TR_EBUSY as for tr_sup_start_child. Not from the child itself. */
int tr_sup_terminate_child(struct tr_sup *sup, const char *id);
/* Manual mode: handles exits, restarts due, heartbeats, shutdown requests
 * at the clock's current time. Returns 1 while running, 0 once stopped. */
int tr_sup_step(struct tr_sup *sup);
/* Requests graceful shutdown: children stopped in reverse start order, each
 * drained within its shutdown bound. Thread- and async-signal-safe. */
void tr_sup_stop(struct tr_sup *sup);
/* Threaded mode: waits until the supervisor stopped. Returns 0 after a
 * requested shutdown, TR_SUP_EXIT_ESCALATED if it gave up. */
int tr_sup_wait(struct tr_sup *sup);
/* For the root: runs until stopped (by tr_sup_stop, e.g. from a SIGTERM
 * handler) or escalation and returns the process exit code (0 or
 * TR_SUP_EXIT_ESCALATED). Same as tr_sup_wait for threaded supervisors. */
int tr_sup_run(struct tr_sup *sup);
void tr_sup_free(struct tr_sup *sup);

/* Child state for tests and metrics (TR_EBUSY as tr_sup_start_child). */
enum tr_child_state { TR_CHILD_RUNNING, TR_CHILD_WAITING, TR_CHILD_STOPPED };
struct tr_child_info {
    enum tr_child_state state;
    uint32_t restarts;
    uint32_t attempt;               /* consecutive restarts (backoff exponent) */
    uint64_t restart_at_ns;         /* when WAITING: clock time of the restart */
    uint64_t last_delay_ms;         /* last backoff chosen */
    int last_exit_reason;
    long pid;                       /* process child */
    uint64_t incarnation;           /* increments with every start */
    int heartbeat_outstanding;
};
int tr_sup_child_info(struct tr_sup *sup, const char *id, struct tr_child_info *out);
/* Waits (manual mode: keeps stepping) until the child's outstanding heartbeat
 * is answered or it stops; for tests that advance a mock clock. Bounded by
 * `max_ms` of real time. 0 or TR_ETIMEDOUT. */
int tr_sup_settle(struct tr_sup *sup, const char *id, int max_ms);

/* ---- the host program for process actors ----
 * `tickraft-actor-host --kind K --name N --url U --ctl C [--arg S]` runs one
 * actor of kind K from `kinds` (NULL-terminated). A program that needs its
 * own kinds calls this from its main. Returns the process exit code. */
int tr_actor_host_main(int argc, char **argv, const struct tr_actor_def *const *kinds);

/* The diagnostic kind "diag" (tests, benchmarks, smoke checks): ECHO replies
 * with the payload, SEGV raises SIGSEGV, HANG blocks forever, BATCH counts
 * batch items, COUNT replies [msgs u64 BE, items u64 BE], EXIT stops,
 * FORWARD sends type FORWARD+100 "fwd" to the URL in its payload (and
 * replies with the send's result when called). */
#define TR_DIAG_ECHO  1
#define TR_DIAG_SEGV  2
#define TR_DIAG_HANG  3
#define TR_DIAG_BATCH 4
#define TR_DIAG_COUNT 5
#define TR_DIAG_EXIT  6
#define TR_DIAG_FORWARD 7
extern const struct tr_actor_def tr_actor_diag_def;

#endif
