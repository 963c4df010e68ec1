/* The collector actor: the existing pipeline (pipe_node: lws connections,
 * REST pollers, deduplicator) on this actor's own libuv loop, with the
 * writer in remote mode, so each batch leaves as one message to the writer
 * actor (node/act.h, node/pipe_writer.c).
 *
 * Start: HELLO to the writer (a new epoch fences batches of a previous
 * incarnation still in flight, and the log is made durable so that the
 * restore scan sees every record), then pipe_node_open_ext restores the
 * positions from the checkpoint and the log and connects.
 * Every 100 ms: SIGUSR1 rotation requests; every second: the status JSON,
 * the admin snapshot and the metrics totals are published to the context
 * for the publisher and HTTP threads (they never touch the pipeline).
 * Stop (terminate_cb): a requested shutdown runs the pipeline's graceful
 * stop in the reference order on this loop (REST repairs, last batch,
 * SYNC + checkpoint through the writer, 1001 closes); a crash, or a stop
 * while the writer is down, tears it down at once (nothing more is written;
 * the next incarnation backfills from the log's positions).
 * Hang detection: a collector whose loop stops turning is abandoned by the
 * supervisor and a new one started; the old thread's teardown runs when
 * (if) its handler returns, beside its successor. It then takes the abort
 * path and leaves the shared context alone (stale_ns below). */
#include "act.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "metrics.h"
#include "nlog.h"
#include "pipe_admin.h"
#include "pipe_feed.h" /* pipe_now_ns */

#define AC_TIMER_TICK  1u
#define AC_TIMER_FAULT 2u
#define AC_TIMER_HANG  3u
#define AC_TIMER_DEDUP 4u

struct ac {
    struct act_ctx *ctx;
    struct tr_actor *self;
    struct pipe_node *n;
    struct pipe_cfg *pcfg; /* own copy: the stop shortens shutdown_ms */
    struct pipe_wremote remote;
    uv_handle_t *base[8]; /* the runtime's own handles on the loop */
    size_t n_base;
    uint64_t tick_id, fault_id, hang_id, dedup_id;
    int64_t last_tick_ns;   /* the loop's last 100 ms tick (hang: abandoned) */
    int gone;               /* found abandoned: the shared context is not ours */
    unsigned ticks;
    int done, done_rc;
    struct tr_buf status;
    uv_async_t *wake;       /* the writer finished a batch we waited for */
    uint64_t msgs_sent;     /* batch messages sent by this incarnation */
    uint64_t done_base;     /* ctx->batches_done when it started */
};

static int r_send(void *arg, uint32_t type, const void *p, size_t n, int sync,
                  uint64_t *reply_lsn, struct tr_error *err)
{
    struct ac *st = arg;
    int rc;
    if (!sync) {
        /* waits while the writer's mailbox is full: backpressure up to the
         * provider sockets. In 100 ms slices, so that a writer that died
         * (its mailbox looks full while it restarts) fails the send at
         * once instead of after 5 s; 5 s in all means it is stuck */
        rc = TR_EOVERLOADED;
        for (int i = 0; i < 50 && rc == TR_EOVERLOADED; i++) {
            if (!atomic_load(&st->ctx->writer_up))
                return tr_errorf(err, TR_ECLOSED, "the writer is down");
            rc = tr_actor_send(st->self, "writer", type, p, n, 100);
        }
        if (!rc && type == PIPE_WMSG_BATCH)
            st->msgs_sent++;
        return rc ? tr_errorf(err, rc, "send to the writer") : 0;
    }
    struct tr_reply r;
    rc = tr_actor_call(st->self, "writer", type, p, n, 30000, &r);
    if (rc)
        return tr_errorf(err, rc, "call the writer");
    if (reply_lsn && r.len >= sizeof *reply_lsn)
        memcpy(reply_lsn, r.data, sizeof *reply_lsn);
    tr_reply_free(&r);
    return 0;
}

static void r_refresh(void *arg, struct pipe_writer *w)
{
    struct ac *st = arg;
    struct act_ctx *c = st->ctx;
    pthread_mutex_lock(&c->mu);
    w->appended = c->wf.appended;
    w->batches = c->wf.batches;
    w->append_errors = c->wf.append_errors;
    w->lat = c->wf.lat;
    w->append_lat = c->wf.append_lat;
    w->recv_lat = c->wf.recv_lat;
    w->ev_lat = c->wf.ev_lat;
    memcpy(w->stage, c->wf.stage, sizeof w->stage);
    pthread_mutex_unlock(&c->mu);
}

/* Busy while a batch this incarnation sent is not handled yet: the
 * end-of-turn flush then keeps collecting, and the writer wakes us when it
 * is done (flag first, then the count: the writer counts, then takes the
 * flag, so one of the two sees the other). Stale batches of an older
 * incarnation counted here only make it send sooner. */
static int r_busy(void *arg)
{
    struct ac *st = arg;
    struct act_ctx *c = st->ctx;
    if (!atomic_load(&c->writer_up))
        return 0; /* let the send fail at once */
    atomic_store(&c->flush_wanted, 1);
    int64_t in_flight =
        (int64_t)st->msgs_sent - (int64_t)(atomic_load(&c->batches_done) - st->done_base);
    if (in_flight < 1) {
        atomic_store(&c->flush_wanted, 0);
        return 0;
    }
    return 1;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void wake_cb(uv_async_t *h)
{
    struct ac *st = h->data;
    if (!st->n || st->done)
        return;
    struct tr_error err;
    tr_error_clear(&err);
    int rc = pipe_writer_flush_soft(pipe_node_writer(st->n), &err);
    if (rc && rc != TR_ENOSPACE) {
        tr_nlog(st->ctx->lg, TR_NLOG_ERROR, "writer", "append failed", TR_KV_ERR(&err));
        pipe_node_fatal(st->n, rc, "append to the log");
    }
}

static void done_cb(void *arg, int rc)
{
    struct ac *st = arg;
    st->done = 1;
    st->done_rc = rc;
}

static void base_cb(uv_handle_t *h, void *arg)
{
    struct ac *st = arg;
    if (st->n_base < 8)
        st->base[st->n_base++] = h;
}

static void foreign_cb(uv_handle_t *h, void *arg)
{
    struct ac *st = arg;
    for (size_t i = 0; i < st->n_base; i++)
        if (st->base[i] == h)
            return;
    st->done++; /* reused as a counter by wait_foreign */
}

/* Runs the loop until only the runtime's own handles are left (lws closes
 * its handles asynchronously, as in the single-loop node's main). */
static void wait_foreign(struct ac *st, uv_loop_t *loop)
{
    for (int i = 0; i < 100000; i++) {
        int saved = st->done;
        st->done = 0;
        uv_walk(loop, foreign_cb, st);
        int left = st->done;
        st->done = saved;
        if (!left)
            return;
        uv_run(loop, UV_RUN_ONCE);
    }
}

/* Stuck longer than the supervisor's hang bound: it has abandoned this
 * incarnation and may have started the next one, which owns the shared
 * context now. */
static int abandoned(struct ac *st)
{
    if (pipe_now_ns() - st->last_tick_ns >= (int64_t)ACT_COLLECTOR_HANG_MS * 1000000)
        st->gone = 1;
    return st->gone;
}

static void publish(struct ac *st)
{
    struct act_ctx *c = st->ctx;
    struct pipe_snap *sn = malloc(sizeof *sn);
    if (!sn)
        return;
    pipe_node_snapshot(st->n, sn);
    st->status.len = 0;
    int ok = pipe_node_status_json(st->n, &st->status) == 0;
    pthread_mutex_lock(&c->mu);
    c->snap = *sn;
    c->have_snap = 1;
    if (ok) {
        c->status.len = 0;
        tr_buf_append(&c->status, st->status.data, st->status.len);
    }
    pthread_mutex_unlock(&c->mu);
    free(sn);
    pipe_node_metrics_collect(st->n);
}

static int ac_init(struct tr_actor *self, void *arg, void **state)
{
    struct act_ctx *c = arg;
    struct ac *st = calloc(1, sizeof *st);
    if (!st)
        return TR_ENOMEM;
    st->ctx = c;
    st->self = self;
    pthread_setname_np(pthread_self(), "tr-collector"); /* per-thread CPU in top, the bench */
    nsched_apply(&c->pcfg->latency_sched, NSCHED_LOOP, "tr-collector",
                 c->lg);
    tr_buf_init(&st->status);
    uv_walk(tr_actor_loop(self), base_cb, st);
    struct tr_error err;
    tr_error_clear(&err);
    struct tr_reply r;
    int rc = tr_actor_call(self, "writer", PIPE_WMSG_HELLO, NULL, 0, 30000, &r);
    uint64_t rep[2] = {0, 0};
    if (!rc) {
        if (r.len >= sizeof rep)
            memcpy(rep, r.data, sizeof rep);
        else
            rc = TR_EPROTO;
        tr_reply_free(&r);
    }
    if (rc) {
        tr_nlog(c->lg, TR_NLOG_ERROR, "collector", "writer did not answer HELLO",
                TR_KV_STR("code", tr_err_name(rc)));
        free(st);
        return rc;
    }
    /* every batch message sent before HELLO has been handled */
    st->done_base = atomic_load(&c->batches_done);
    st->remote = (struct pipe_wremote){.arg = st, .send = r_send, .refresh = r_refresh,
                                       .busy = r_busy};
    struct pipe_node_ext ext = {.log = c->log, .remote = &st->remote, .next_lsn = rep[1] + 1,
                                .epoch = rep[0], .sys = c->sys, .faults = &c->lact_faults};
    st->pcfg = malloc(sizeof *st->pcfg);
    if (!st->pcfg) {
        free(st);
        return TR_ENOMEM;
    }
    *st->pcfg = *c->pcfg; /* instrument names stay borrowed from the config */
    if ((rc = pipe_node_open_ext(&st->n, tr_actor_loop(self), st->pcfg, c->lg, &ext, &err))) {
        tr_nlog(c->lg, TR_NLOG_ERROR, "collector", "startup failed", TR_KV_ERR(&err));
        if (rc != TR_ECONFIG)
            rc = TR_EIO;
        tr_buf_free(&st->status);
        free(st->pcfg);
        free(st);
        return rc;
    }
    pipe_node_set_stop_cb(st->n, done_cb, st);
    st->wake = malloc(sizeof *st->wake);
    if (st->wake && uv_async_init(tr_actor_loop(self), st->wake, wake_cb) == 0) {
        st->wake->data = st;
        pthread_mutex_lock(&c->wake_mu);
        c->wake = st->wake;
        pthread_mutex_unlock(&c->wake_mu);
    } else {
        free(st->wake); /* no coalescing: every turn sends */
        st->wake = NULL;
        st->remote.busy = NULL;
    }
    pthread_rwlock_wrlock(&c->admin_lk);
    c->admin = pipe_node_admin(st->n);
    c->node = st->n;
    pthread_rwlock_unlock(&c->admin_lk);
    if (c->metrics) {
        pipe_node_set_metrics(st->n, c->metrics);
        /* totals are mirrored from here each second, not at render time
         * on the HTTP thread (the pipeline is this thread's alone) */
        tr_metrics_set_collect_cb(c->metrics, act_metrics_collect, c);
    }
    tr_actor_timer_start(self, 100, 100, AC_TIMER_TICK, &st->tick_id);
    st->last_tick_ns = pipe_now_ns();
    if (c->fault_collector_ms && !atomic_load(&c->fault_collector_done))
        tr_actor_timer_start(self, c->fault_collector_ms, 0, AC_TIMER_FAULT, &st->fault_id);
    if (c->fault_hang_ms && !atomic_load(&c->fault_hang_done))
        tr_actor_timer_start(self, c->fault_hang_ms, 0, AC_TIMER_HANG, &st->hang_id);
    if (c->fault_dedup_ms && !atomic_load(&c->fault_dedup_done))
        tr_actor_timer_start(self, c->fault_dedup_ms, 0, AC_TIMER_DEDUP, &st->dedup_id);
    tr_nlog(c->lg, TR_NLOG_INFO, "collector", "started", TR_KV_UINT("epoch", rep[0]),
            TR_KV_UINT("next_lsn", rep[1] + 1));
    publish(st);
    *state = st;
    return 0;
}

static int ac_handle(struct tr_actor *self, void *state, const struct tr_msg *msg)
{
    struct ac *st = state;
    struct act_ctx *c = st->ctx;
    (void)self;
    switch (msg->type) {
    case AC_TIMER_TICK:
        /* the first tick after a hang past the bound: the supervisor has
         * given up on us; leave (the successor owns the context) */
        if (abandoned(st))
            return TR_ECLOSED;
        st->last_tick_ns = pipe_now_ns();
        if (st->done) /* the pipeline stopped on its own (writer unreachable) */
            return st->done_rc ? st->done_rc : TR_EINTERNAL;
        if (atomic_exchange(&c->rotate_req, 0)) {
            tr_nlog(c->lg, TR_NLOG_INFO, "collector", "rotating connections (SIGUSR1)");
            pipe_node_rotate(st->n);
        }
        if (++st->ticks % 10 == 0)
            publish(st);
        return TR_ACTOR_CONTINUE;
    case AC_TIMER_FAULT:
        if (atomic_exchange(&c->fault_collector_done, !c->fault_repeat))
            return TR_ACTOR_CONTINUE;
        tr_nlog(c->lg, TR_NLOG_WARN, "collector", "fault injection: collector crashing");
        return TR_EINTERNAL;
    case AC_TIMER_DEDUP:
        /* the deduplicator is this actor (docs/node.md "Shape"): a broken
         * invariant of its streams stops the pipeline as fatal, and the
         * restart re-derives them from the checkpoint and the log, and
         * starts every connection and poller (they point into them) anew */
        if (atomic_exchange(&c->fault_dedup_done, !c->fault_repeat))
            return TR_ACTOR_CONTINUE;
        tr_nlog(c->lg, TR_NLOG_WARN, "collector", "fault injection: deduplicator invariant broken");
        pipe_node_fatal(st->n, TR_EINTERNAL, "deduplicator invariant broken (fault injection)");
        return TR_ACTOR_CONTINUE;
    case AC_TIMER_HANG: {
        if (atomic_exchange(&c->fault_hang_done, 1))
            return TR_ACTOR_CONTINUE;
        tr_nlog(c->lg, TR_NLOG_WARN, "collector", "fault injection: collector hanging",
                TR_KV_UINT("secs", ACT_FAULT_HANG_S));
        struct timespec ts = {ACT_FAULT_HANG_S, 0};
        while (nanosleep(&ts, &ts) != 0)
            ;
        tr_nlog(c->lg, TR_NLOG_WARN, "collector", "fault injection: hang over");
        return TR_ACTOR_CONTINUE;
    }
    default:
        return TR_ACTOR_CONTINUE;
    }
}

static void ac_terminate(struct tr_actor *self, void *state, int reason)
{
    struct ac *st = state;
    struct act_ctx *c = st->ctx;
    uv_loop_t *loop = tr_actor_loop(self);
    tr_actor_timer_stop(self, st->tick_id);
    tr_actor_timer_stop(self, st->fault_id);
    tr_actor_timer_stop(self, st->hang_id);
    tr_actor_timer_stop(self, st->dedup_id);
    char why[64];
    tr_exit_str(reason, why, sizeof why);
    int gone = abandoned(st);
    if (gone)
        tr_nlog(c->lg, TR_NLOG_WARN, "collector", "abandoned as hung: tearing down beside the next",
                TR_KV_INT("stuck_ms", (pipe_now_ns() - st->last_tick_ns) / 1000000));
    if (st->wake) { /* the writer must not wake a handle being closed */
        pthread_mutex_lock(&c->wake_mu);
        if (c->wake == st->wake) /* not the successor's */
            c->wake = NULL;
        pthread_mutex_unlock(&c->wake_mu);
        st->remote.busy = NULL; /* the stop's flushes send at once */
        uv_close((uv_handle_t *)st->wake, free_handle);
        st->wake = NULL;
    }
    /* admin calls waiting on this loop return now; none start any more */
    pipe_admin_closing(pipe_node_admin(st->n));
    pthread_rwlock_wrlock(&c->admin_lk);
    if (c->node == st->n) { /* not the successor's */
        c->admin = NULL;
        c->node = NULL;
    }
    pthread_rwlock_unlock(&c->admin_lk);
    if (!st->done) {
        if (tr_exit_is_normal(reason) && atomic_load(&c->writer_up) && !gone) {
            /* the whole stop stays within shutdown_timeout of the signal:
             * the REST wait gets what is left minus 3 s (close frames, the
             * last commit and the writer's drain) */
            int64_t t0 = atomic_load(&c->stop_t0_ns);
            if (t0 > 0) {
                int64_t left_ms = (int64_t)c->pcfg->shutdown_ms - (pipe_now_ns() - t0) / 1000000;
                st->pcfg->shutdown_ms = left_ms > 3000 ? (uint32_t)(left_ms - 3000) : 0;
            }
            tr_nlog(c->lg, TR_NLOG_INFO, "collector", "graceful stop", TR_KV_STR("reason", why),
                    TR_KV_UINT("repair_wait_max_ms", st->pcfg->shutdown_ms));
            pipe_node_stop(st->n, done_cb, st);
            while (!st->done)
                uv_run(loop, UV_RUN_ONCE);
        } else {
            tr_nlog(c->lg, TR_NLOG_WARN, "collector", "torn down without flushing",
                    TR_KV_STR("reason", why), TR_KV_BOOL("writer_up", atomic_load(&c->writer_up)));
            pipe_node_abort(st->n, reason < 0 ? reason : TR_ECLOSED);
        }
    }
    if (!gone)
        publish(st); /* else the successor's status stands */
    else
        pipe_node_metrics_collect(st->n); /* its last totals (ignored once the next mirrored) */
    wait_foreign(st, loop);
    struct tr_error err;
    tr_error_clear(&err);
    int rc = pipe_node_close(st->n, &err);
    wait_foreign(st, loop);
    tr_nlog(c->lg, rc ? TR_NLOG_WARN : TR_NLOG_INFO, "collector", "stopped",
            TR_KV_STR("reason", why), TR_KV_STR("code", tr_err_name(rc)));
    tr_buf_free(&st->status);
    free(st->pcfg);
    free(st);
}

const struct tr_actor_def act_collector_def = {"collector", ac_init, ac_handle, ac_terminate};
