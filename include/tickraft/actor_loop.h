/* tickraft loop actors: actors that share their parent's thread and libuv
 * loop, supervised like the others.
 *
 * A thread actor (actor.h) costs a thread and a hop per message; a process
 * actor two encodes and an ipc hop. Parts of one pipeline that exchange
 * every event (a provider connection and the deduplicator) cannot pay
 * that, yet each should fail alone. A loop actor is the third kind: its
 * own state, start/stop callbacks and bounded mailbox, run on the loop of
 * the thread that owns its supervisor. Delivery is a call (the handler
 * runs now, on the caller's stack) or a queued send (copied into the
 * mailbox, handled in a later turn of the same loop). Its failure (the
 * handler returning an error, tr_lact_fail from its own callbacks, a start
 * that fails) restarts only it, or its group, per the supervisor's
 * strategy, after the usual backoff, within the usual intensity.
 *
 * Everything here runs on the loop's thread: no function is thread-safe
 * and none may be called from another thread. Names share the system's
 * registry (and its figures: tr_system_stats shows kind, restarts, last
 * restart reason, mailbox depth and handled of each); a loop actor has no
 * URL, so tr_actor_send by name to one is TR_ENOTFOUND: it is reached
 * through its handle. docs/actors.md "Loop actors" says why and what it
 * costs. */
#ifndef TICKRAFT_ACTOR_LOOP_H
#define TICKRAFT_ACTOR_LOOP_H

#include "tickraft/actor_sup.h"

struct tr_lact; /* one loop actor: the handle stays valid across its restarts */
struct tr_lsup; /* a supervisor of loop actors on one loop */

struct tr_lact_msg {
    uint32_t type;
    const void *data; /* valid during the handler only */
    size_t len;
};

struct tr_lact_def {
    const char *kind; /* shown in the stats */
    /* Starts an incarnation and sets *state. `arg` is the spec's, borrowed.
     * A negative return counts as a crash (restart after backoff).
     * TR_ACTOR_STOP: nothing to do (e.g. a restart finds its job gone;
     * OTP's `ignore`): stop_cb runs at once with TR_EXIT_NORMAL and the
     * child stays stopped whatever its kind (not a failure, not counted). */
    int (*start_cb)(struct tr_lact *self, void *arg, void **state);
    /* One message: TR_ACTOR_CONTINUE, TR_ACTOR_STOP (normal exit) or < 0
     * (crash with that code). NULL: the actor takes no messages. */
    int (*handle_cb)(struct tr_lact *self, void *state, const struct tr_lact_msg *msg);
    /* Ends an incarnation: releases what start_cb took (uv_close'd handles
     * may finish closing on later turns). `reason`: TR_EXIT_* or the crash
     * code. Never runs on the stack of the caller that reported a failure. */
    void (*stop_cb)(struct tr_lact *self, void *state, int reason);
};

struct tr_lact_spec {
    const char *id;              /* unique in the system: its figures' name */
    const struct tr_lact_def *def;
    void *arg;                   /* passed to start_cb; borrowed */
    enum tr_restart restart;     /* as tr_child_spec */
    uint32_t backoff_base_ms;    /* 0 = 1000 */
    uint32_t backoff_max_ms;     /* 0 = 300000 */
    uint32_t mailbox_hwm;        /* queued sends beyond this: TR_EOVERLOADED; 0 = 1024 */
};

struct tr_lsup_spec {
    const char *name;            /* for logs and the escalation callback */
    enum tr_sup_strategy strategy;
    uint32_t intensity;          /* max restarts in period; default 3 */
    uint32_t period_ms;          /* default 30000 */
    const struct tr_lact_spec *children; /* started in order; copied */
    size_t n_children;
    int manual;                  /* 1: restarts happen only in tr_lsup_step
                                    (tests move a mock clock); 0: a timer on
                                    the loop runs them when due */
    /* Intensity exceeded: every child has been stopped (reverse order) and
     * this is called on the loop; the owner escalates (e.g. its thread
     * actor crashes, so its own supervisor decides). May be NULL. */
    void (*escalate_cb)(void *arg, int reason);
    void *escalate_arg;
};

/* Starts a supervisor on `loop` (the caller's thread runs it) with the
 * system's clock, and starts its children in order. If a child's first
 * start fails, the ones started are stopped and the error returned (as
 * tr_sup_start). Caller owns *out: tr_lsup_close it, then run the loop
 * until its handles have closed (it frees itself then). */
int tr_lsup_start(struct tr_system *sys, struct uv_loop_s *loop, const struct tr_lsup_spec *spec,
                  struct tr_lsup **out, struct tr_error *err);
/* Adds a child at the end and starts it. TR_EEXISTS if the id is a running
 * thread or process actor, or a child of this supervisor; its start_cb's
 * code if the first start fails (the child is not added then). A start_cb
 * that returns TR_ACTOR_STOP leaves it added and stopped. */
int tr_lsup_add(struct tr_lsup *sup, const struct tr_lact_spec *spec, struct tr_error *err);
/* The child `id`, or NULL. */
struct tr_lact *tr_lsup_find(struct tr_lsup *sup, const char *id);
/* Ends child `a` on purpose (OTP terminate_child): its stop_cb runs now,
 * under this call, with TR_EXIT_SHUTDOWN (or the code of a failure reported
 * but not yet handled), a restart it waits for is cancelled, and it is not
 * restarted whatever its kind: the intensity counts failures only. It
 * stays a stopped child (a temporary one is gone: OTP deletes those), and
 * tr_lsup_restart_child starts it again. 0 also when it was not running;
 * TR_EBUSY from its own handler or start_cb; TR_EINVAL if not sup's. From
 * its own stop_cb it changes nothing. */
int tr_lsup_terminate_child(struct tr_lsup *sup, struct tr_lact *a);
/* Starts a stopped child again now (OTP restart_child): one terminated,
 * or a transient one that ended normally. No backoff and not counted as a
 * restart (nothing failed). TR_EBUSY while it runs, waits for a restart
 * or has a failure pending; TR_ENOTFOUND for a temporary child that
 * ended; TR_ECLOSED once the supervisor stopped; its start_cb's code if
 * that fails (it stays stopped: nothing restarts it). */
int tr_lsup_restart_child(struct tr_lsup *sup, struct tr_lact *a, struct tr_error *err);
/* Handles reported failures and restarts that are due at the clock's now.
 * Returns 1 while the supervisor runs, 0 once stopped or escalated. */
int tr_lsup_step(struct tr_lsup *sup);
/* Stops every child in reverse start order (stop_cb with `reason`, e.g.
 * TR_EXIT_SHUTDOWN); no restarts after. Idempotent. */
void tr_lsup_stop(struct tr_lsup *sup, int reason);
/* Stops (if not yet) and closes the supervisor's handles; its memory is
 * freed by their close callbacks, so the caller runs the loop after. The
 * children's figures stay in the system's registry. NULL is a no-op. */
void tr_lsup_close(struct tr_lsup *sup);
/* State of child `id` (tr_child_info as thread children); TR_ENOTFOUND. */
int tr_lsup_child_info(struct tr_lsup *sup, const char *id, struct tr_child_info *out);

/* ---- delivery (on the loop's thread only) ---- */
/* Runs the handler now and returns its result: TR_ACTOR_CONTINUE,
 * TR_ACTOR_STOP or its error, which also takes the actor down (its
 * stop_cb runs on a later step, never under this call). TR_ECLOSED if the
 * actor is not running (stopped, failed, waiting for its restart);
 * TR_EBUSY if called from the actor's own handler. */
int tr_lact_call(struct tr_lact *a, uint32_t type, const void *p, size_t len);
/* Queues a copy, handled in a later turn (in order with other sends; the
 * supervisor hands each actor at most 256 messages per turn). TR_ECLOSED
 * if not running, TR_EOVERLOADED at the high-water mark, TR_ENOMEM.
 * Queued messages of an incarnation that ends are dropped and counted. */
int tr_lact_send(struct tr_lact *a, uint32_t type, const void *p, size_t len);
/* Reports a failure of a running actor from anywhere on the loop (its own
 * callbacks: an invariant broken, an adapter's internal error, a fault
 * hook): it stops taking messages now and is stopped and restarted by the
 * next step. `why` is logged in the figures (last restart reason). No-op if
 * it is not running. */
void tr_lact_fail(struct tr_lact *a, int code, const char *why);

int tr_lact_running(const struct tr_lact *a);
void *tr_lact_state(struct tr_lact *a); /* the running incarnation's, else NULL */
const char *tr_lact_name(const struct tr_lact *a);
struct uv_loop_s *tr_lact_loop(struct tr_lact *a);
uint64_t tr_lact_incarnation(const struct tr_lact *a); /* 1 for the first start */

#endif
