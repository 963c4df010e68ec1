/* The writer actor: the durable log's only appender. Each PIPE_WMSG_BATCH
 * message from the collector is one tr_log_append_many; the log's LZ4, CRC
 * and write() run on this thread, not on the collector's. It also turns the
 * log's durability notifications into provider-to-durable latency, writes
 * the checkpoint file only once the log is durable to its LSN, and fences
 * batches of a collector incarnation that is gone (epochs, node/act.h).
 *
 * Messages (node/pipe.h): BATCH (send), CKPT (send or call), SYNC (call:
 * reply = last LSN, u64), HELLO (call: new epoch; reply = epoch, last LSN).
 * A batch whose first_lsn is not the log's next LSN means the collector's
 * LSN prediction broke: the writer crashes, and rest_for_one restarts the
 * collector too, which re-derives its positions from the log. Each writer
 * start moves the epoch on, so batches sent to a dead predecessor that
 * arrive late are dropped, never checked against the new log position. */
#include "act.h"
#include "pipe_feed.h" /* pipe_now_ns */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "metrics.h"
#include "nlog.h"

#define AW_TIMER_FIGS  1u /* publish figures for the collector's status */
#define AW_TIMER_RETRY 2u /* a batch kept after TR_ENOSPACE */
#define AW_TIMER_FAULT 3u /* fault injection: crash once */

struct aw {
    struct act_ctx *ctx;
    struct pipe_writer w;
    uv_poll_t poll;
    int notify_fd;
    uint64_t stale;
    int dead; /* the log refused an append (TR_EIO): drop everything */
};

static void durable_cb(uv_poll_t *h, int status, int events)
{
    struct aw *st = h->data;
    (void)status;
    (void)events;
    uint64_t v;
    while (read(st->notify_fd, &v, sizeof v) == (ssize_t)sizeof v)
        ;
    int64_t at;
    uint64_t lsn = tr_log_durable_lsn_at(st->ctx->log, &at);
    pipe_writer_durable_at(&st->w, lsn, at, pipe_now_ns());
}

static void publish_figs(struct aw *st)
{
    struct act_ctx *c = st->ctx;
    pthread_mutex_lock(&c->mu);
    c->wf.appended = st->w.appended;
    c->wf.batches = st->w.batches;
    c->wf.append_errors = st->w.append_errors;
    c->wf.stale_batches = st->stale;
    c->wf.lat = st->w.lat;
    c->wf.append_lat = st->w.append_lat;
    c->wf.recv_lat = st->w.recv_lat;
    c->wf.ev_lat = st->w.ev_lat;
    memcpy(c->wf.stage, st->w.stage, sizeof c->wf.stage);
    pthread_mutex_unlock(&c->mu);
}

/* The log refused an append for good: stop the node (exit code 3). */
static void go_fatal(struct aw *st, struct tr_error *err)
{
    struct act_ctx *c = st->ctx;
    tr_nlog(c->lg, TR_NLOG_ERROR, "writer", "append failed, stopping the node", TR_KV_ERR(err));
    st->dead = 1;
    atomic_store(&c->fatal, TR_EIO);
    struct tr_sup *root = atomic_load(&c->root);
    if (root)
        tr_sup_stop(root);
}

static int flush(struct aw *st, struct tr_error *err)
{
    int rc = pipe_writer_flush(&st->w, err);
    if (rc && rc != TR_ENOSPACE)
        go_fatal(st, err);
    return rc;
}

static int aw_init(struct tr_actor *self, void *arg, void **state)
{
    struct act_ctx *c = arg;
    struct aw *st = calloc(1, sizeof *st);
    if (!st)
        return TR_ENOMEM;
    st->ctx = c;
    st->notify_fd = -1;
    pthread_setname_np(pthread_self(), "tr-writer");
    nsched_apply(&c->pcfg->latency_sched, NSCHED_LOOP, "tr-writer", c->lg);
    struct tr_error err;
    tr_error_clear(&err);
    /* a collector batch holds at most batch_max records: one append each */
    int rc = pipe_writer_init(&st->w, c->log, c->pcfg->batch_max);
    if (!rc)
        rc = tr_log_notify_fd_open(c->log, &st->notify_fd, &err);
    if (rc) {
        pipe_writer_close(&st->w);
        free(st);
        return rc;
    }
    if (c->metrics) {
        const char *all[1] = {"all"};
        st->w.h_lat = tr_metrics_histogram(c->metrics, TR_M_PROVIDER_TO_LOG, all);
        st->w.h_append = tr_metrics_histogram(c->metrics, TR_M_APPEND_LATENCY, NULL);
        st->w.h_batch = tr_metrics_histogram(c->metrics, TR_M_BATCH_EVENTS, NULL);
    }
    uv_poll_init(tr_actor_loop(self), &st->poll, st->notify_fd);
    st->poll.data = st;
    uv_poll_start(&st->poll, UV_READABLE, durable_cb);
    uint64_t id;
    tr_actor_timer_start(self, 200, 200, AW_TIMER_FIGS, &id);
    tr_actor_timer_start(self, 100, 100, AW_TIMER_RETRY, &id);
    if (c->fault_writer_ms && !atomic_load(&c->fault_writer_done))
        tr_actor_timer_start(self, c->fault_writer_ms, 0, AW_TIMER_FAULT, &id);
    /* a new writer fences every batch sent to its predecessor and still in
     * flight: a collector blocked in a send while the old writer died must
     * not land its stale (wrongly predicted) batch here; the collector's
     * HELLO after its own restart moves the epoch on again */
    atomic_fetch_add(&c->epoch, 1);
    atomic_store(&c->writer_up, 1);
    tr_nlog(c->lg, TR_NLOG_INFO, "writer", "started",
            TR_KV_UINT("last_lsn", tr_log_last_lsn(c->log)),
            TR_KV_UINT("epoch", atomic_load(&c->epoch)));
    *state = st;
    return 0;
}

/* A batch message was handled (whatever became of it): wake the collector
 * if it holds a batch back until this one is done (act_collector.c). */
static void batch_done(struct act_ctx *c)
{
    atomic_fetch_add(&c->batches_done, 1);
    if (atomic_exchange(&c->flush_wanted, 0)) {
        pthread_mutex_lock(&c->wake_mu);
        if (c->wake)
            uv_async_send(c->wake);
        pthread_mutex_unlock(&c->wake_mu);
    }
}

static int on_batch(struct aw *st, const struct tr_msg *msg);

static int on_batch_done(struct aw *st, const struct tr_msg *msg)
{
    int rc = on_batch(st, msg);
    batch_done(st->ctx);
    return rc;
}

static int on_batch(struct aw *st, const struct tr_msg *msg)
{
    struct act_ctx *c = st->ctx;
    struct pipe_wire_hdr h;
    if (msg->len < sizeof h)
        return TR_ACTOR_CONTINUE;
    memcpy(&h, msg->payload, sizeof h);
    if (st->dead || h.epoch != atomic_load(&c->epoch)) {
        st->stale++; /* a collector incarnation that is gone: fenced */
        return TR_ACTOR_CONTINUE;
    }
    uint64_t want = tr_log_last_lsn(c->log) + st->w.n + 1;
    struct tr_error err;
    tr_error_clear(&err);
    if (h.first_lsn != want) {
        tr_nlog(c->lg, TR_NLOG_ERROR, "writer", "batch out of step with the log: restarting",
                TR_KV_UINT("batch_first_lsn", h.first_lsn), TR_KV_UINT("log_next_lsn", want));
        return TR_EINTERNAL;
    }
    int rc = pipe_writer_add_wire(&st->w, msg->payload, msg->len, &err);
    if (rc == TR_EPARSE) {
        tr_nlog(c->lg, TR_NLOG_ERROR, "writer", "malformed batch", TR_KV_ERR(&err));
        return TR_EINTERNAL; /* LSNs would no longer match: restart both */
    }
    if (rc && rc != TR_EOVERLOADED) {
        go_fatal(st, &err);
        return TR_ACTOR_CONTINUE;
    }
    flush(st, &err);
    return TR_ACTOR_CONTINUE;
}

/* Appends what is queued and makes it durable. */
static int commit(struct aw *st, struct tr_error *err)
{
    if (st->dead)
        return TR_EIO;
    int rc = flush(st, err);
    if (!rc && st->w.n)
        rc = tr_errorf(err, TR_ENOSPACE, "records still queued (disk full)");
    if (!rc && (rc = tr_log_flush(st->ctx->log, err)))
        go_fatal(st, err);
    return rc;
}

static int on_ckpt(struct tr_actor *self, struct aw *st, const struct tr_msg *msg)
{
    struct act_ctx *c = st->ctx;
    uint64_t hdr[2];
    if (msg->len < sizeof hdr)
        return tr_actor_reply_error(self, msg, TR_EINVAL), TR_ACTOR_CONTINUE;
    memcpy(hdr, msg->payload, sizeof hdr);
    struct tr_error err;
    tr_error_clear(&err);
    int rc = 0;
    if (hdr[0] != atomic_load(&c->epoch))
        rc = TR_ECLOSED; /* fenced */
    else if (!(rc = commit(st, &err)) && tr_log_last_lsn(c->log) < hdr[1])
        rc = tr_errorf(&err, TR_EINTERNAL, "checkpoint at %llu past the log",
                       (unsigned long long)hdr[1]);
    /* only now is everything up to the checkpoint's LSN durable */
    if (!rc)
        rc = pipe_ckpt_write(c->pcfg->data_dir, msg->payload + sizeof hdr, msg->len - sizeof hdr,
                             &err);
    if (rc && rc != TR_ECLOSED)
        tr_nlog(c->lg, TR_NLOG_WARN, "writer", "checkpoint not saved", TR_KV_ERR(&err));
    if (rc)
        tr_actor_reply_error(self, msg, rc);
    else
        tr_actor_reply(self, msg, NULL, 0);
    return TR_ACTOR_CONTINUE;
}

static int aw_handle(struct tr_actor *self, void *state, const struct tr_msg *msg)
{
    struct aw *st = state;
    struct act_ctx *c = st->ctx;
    struct tr_error err;
    tr_error_clear(&err);
    switch (msg->type) {
    case PIPE_WMSG_BATCH:
        return on_batch_done(st, msg);
    case PIPE_WMSG_CKPT:
        return on_ckpt(self, st, msg);
    case PIPE_WMSG_SYNC: {
        int rc = commit(st, &err);
        uint64_t last = tr_log_last_lsn(c->log);
        if (rc)
            tr_actor_reply_error(self, msg, rc);
        else
            tr_actor_reply(self, msg, &last, sizeof last);
        return TR_ACTOR_CONTINUE;
    }
    case PIPE_WMSG_HELLO: {
        /* a new collector: fence the old one's batches still in flight, and
         * make everything durable so that its restore scan sees it all */
        uint64_t rep[2];
        rep[0] = atomic_fetch_add(&c->epoch, 1) + 1;
        int rc = commit(st, &err);
        rep[1] = tr_log_last_lsn(c->log);
        if (rc)
            tr_actor_reply_error(self, msg, rc);
        else
            tr_actor_reply(self, msg, rep, sizeof rep);
        return TR_ACTOR_CONTINUE;
    }
    case AW_TIMER_FIGS:
        publish_figs(st);
        return TR_ACTOR_CONTINUE;
    case AW_TIMER_RETRY:
        if (st->w.n && !st->dead)
            flush(st, &err);
        return TR_ACTOR_CONTINUE;
    case AW_TIMER_FAULT:
        if (atomic_exchange(&c->fault_writer_done, !c->fault_repeat))
            return TR_ACTOR_CONTINUE;
        tr_nlog(c->lg, TR_NLOG_WARN, "writer", "fault injection: writer crashing");
        return TR_EINTERNAL;
    default:
        return TR_ACTOR_CONTINUE;
    }
}

static void free_cb(uv_handle_t *h)
{
    struct aw *st = h->data;
    tr_log_notify_fd_close(st->ctx->log, st->notify_fd); /* after the poll closed */
    free(st);
}

static void aw_terminate(struct tr_actor *self, void *state, int reason)
{
    struct aw *st = state;
    struct act_ctx *c = st->ctx;
    (void)self;
    atomic_store(&c->writer_up, 0);
    if (tr_exit_is_normal(reason) && !st->dead) {
        struct tr_error err;
        tr_error_clear(&err);
        if (commit(st, &err))
            tr_nlog(c->lg, TR_NLOG_ERROR, "writer", "final commit failed", TR_KV_ERR(&err));
    }
    durable_cb(&st->poll, 0, 0);
    publish_figs(st);
    char why[64];
    tr_nlog(c->lg, tr_exit_is_normal(reason) ? TR_NLOG_INFO : TR_NLOG_WARN, "writer", "stopped",
            TR_KV_STR("reason", tr_exit_str(reason, why, sizeof why)),
            TR_KV_UINT("durable_lsn", tr_log_durable_lsn(c->log)),
            TR_KV_UINT("stale_batches", st->stale));
    uv_poll_stop(&st->poll);
    pipe_writer_close(&st->w);
    st->poll.data = st;
    uv_close((uv_handle_t *)&st->poll, free_cb); /* the runtime runs the loop after this */
}

const struct tr_actor_def act_writer_def = {"writer", aw_init, aw_handle, aw_terminate};
