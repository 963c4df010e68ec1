/* Operator commands that change the pipeline: the hand-over from the
 * publisher's threads to the data-path loop (pipe_admin.h), and feed
 * pause/resume.
 *
 * Pause (docs/node.md "Pausing a feed"): the feed's connections are closed
 * with 1000 (unsubscribing), its reconnect, rotation and market-registry
 * timers stop, and nothing reconnects it until resume. REST requests
 * already queued finish: they repair holes that existed before the pause,
 * and failing them would turn recoverable holes into gap events. Resume
 * reconnects; the new subscription closes the hole the normal way (trades
 * backfill over REST from the last stored id, books resync from a
 * snapshot, what cannot be recovered becomes a gap event). The paused flag
 * lives in memory only: a restarted node collects every configured feed. */
#include "pipe_admin.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlog.h"
#include "pipe_bfjob.h"
#include "pipe_feed.h"
#include "tickraft/protocol.h"

#define WAIT_MS 2000 /* a worker waits this long for the loop to apply a command */

enum pa_op { PA_PAUSE = 1, PA_RESUME, PA_BACKFILL };

struct pa_cmd {
    int op;
    char feed[PIPE_NAME_MAX];
    struct pipe_bfjob_args bf;
    /* answer, written by the loop under the mutex */
    int done, rc;
    char state[32];
    char msg[200];
    int abandoned; /* the worker stopped waiting: the loop frees it */
    struct pa_cmd *next;
};

struct pipe_admin {
    struct pipe_node *node;
    uv_async_t async;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pa_cmd *head, *tail;
    int closing, handle_open;
    struct pipe_bfjobs *jobs;
};

static struct pipe_feed *feed_by_name(struct pipe_node *n, const char *name)
{
    for (size_t i = 0; i < pipe_node_n_feeds(n); i++) {
        struct pipe_feed *f = pipe_node_feed(n, i);
        if (strcmp(f->cfg->name, name) == 0)
            return f;
    }
    return NULL;
}

/* ---- pause / resume (loop thread) ---- */

static void feed_pause(struct pipe_feed *f, struct pa_cmd *c)
{
    if (f->paused) {
        snprintf(c->msg, sizeof c->msg, "already paused");
        return;
    }
    f->paused = 1;
    uv_timer_stop(&f->retry_timer);
    uv_timer_stop(&f->rotate_timer);
    uv_timer_stop(&f->overlap_timer);
    uv_timer_stop(&f->registry_timer);
    pipe_shed_stop(f);
    for (int k = 0; k < PIPE_CONN_SLOTS; k++)
        if (f->conn[k].state == PC_OPEN)
            pipe_conn_close(&f->conn[k], 1000); /* a connecting one closes when established */
    f->connected = 0;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "admin", "feed paused by operator",
            TR_KV_STR("feed", f->cfg->name));
    snprintf(c->msg, sizeof c->msg, "paused: connections closed, nothing collected until resume");
}

static void feed_resume(struct pipe_feed *f, struct pa_cmd *c)
{
    if (!f->paused) {
        snprintf(c->msg, sizeof c->msg, "not paused");
        return;
    }
    f->paused = 0;
    f->attempt = 0;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "admin", "feed resumed by operator",
            TR_KV_STR("feed", f->cfg->name));
    if (f->conn[f->active].state == PC_IDLE)
        pipe_feed_start(f); /* connects; the subscription starts the repairs */
    else /* still closing: its end reconnects it (paused is clear now) */
        pipe_feed_start_rotation(f);
    pipe_shed_kick(f); /* overflow connections of shed markets reopen too */
    pipe_registry_start(f);
    snprintf(c->msg, sizeof c->msg, "resumed: reconnecting, the hole is repaired from REST");
}

static void apply(struct pipe_admin *a, struct pa_cmd *c)
{
    struct pipe_node *n = a->node;
    if (pipe_node_stopping(n)) {
        c->rc = TR_ESHUTDOWN;
        snprintf(c->msg, sizeof c->msg, "the node is stopping");
        return;
    }
    if (c->op == PA_BACKFILL) {
        c->rc = pipe_bfjob_start(a->jobs, &c->bf, c->state, sizeof c->state, c->msg,
                                 sizeof c->msg);
        return;
    }
    struct pipe_feed *f = feed_by_name(n, c->feed);
    if (!f) {
        c->rc = TR_ENOTFOUND;
        snprintf(c->msg, sizeof c->msg, "no feed named '%s'", c->feed);
        return;
    }
    if (c->op == PA_PAUSE)
        feed_pause(f, c);
    else
        feed_resume(f, c);
    snprintf(c->state, sizeof c->state, "%s", f->paused ? "paused" : "collecting");
    pipe_node_refresh_snapshot(n); /* `feeds list` shows it at once */
}

static void async_cb(uv_async_t *h)
{
    struct pipe_admin *a = h->data;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        struct pa_cmd *c = a->head, res;
        if (c) {
            a->head = c->next;
            if (!a->head)
                a->tail = NULL;
            res = *c; /* applied on this copy without the lock: the worker only waits */
        }
        pthread_mutex_unlock(&a->mu);
        if (!c)
            break;
        apply(a, &res);
        pthread_mutex_lock(&a->mu);
        int abandoned = c->abandoned;
        if (!abandoned) {
            c->rc = res.rc;
            memcpy(c->state, res.state, sizeof c->state);
            memcpy(c->msg, res.msg, sizeof c->msg);
            c->done = 1;
            pthread_cond_broadcast(&a->cv);
        }
        pthread_mutex_unlock(&a->mu);
        if (abandoned)
            free(c);
    }
}

/* ---- hand-over (any thread) ---- */

static int submit(struct pipe_admin *a, struct pa_cmd *c, struct tr_error *err)
{
    pthread_mutex_lock(&a->mu);
    if (a->closing) {
        pthread_mutex_unlock(&a->mu);
        free(c);
        return tr_errorf(err, TR_ESHUTDOWN, "the node is stopping");
    }
    if (a->tail)
        a->tail->next = c;
    else
        a->head = c;
    a->tail = c;
    uv_async_send(&a->async);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += WAIT_MS / 1000;
    int to = 0;
    while (!c->done && !a->closing && !to)
        to = pthread_cond_timedwait(&a->cv, &a->mu, &dl) == ETIMEDOUT;
    if (!c->done) { /* the loop frees it when it gets to it */
        c->abandoned = 1;
        pthread_mutex_unlock(&a->mu);
        return tr_errorf(err, a->closing ? TR_ESHUTDOWN : TR_ETIMEDOUT,
                         a->closing ? "the node is stopping"
                                    : "the node's loop did not answer within 2 s (the command "
                                      "may still be applied)");
    }
    pthread_mutex_unlock(&a->mu);
    return 0;
}

int pipe_admin_call(struct pipe_admin *a, const char *cmd, const char *const *args,
                    size_t nargs, struct tr_client_table *t, struct tr_error *err)
{
    int op = 0;
    if (!strcmp(cmd, "feeds") && nargs == 2 && !strcmp(args[0], "pause"))
        op = PA_PAUSE;
    else if (!strcmp(cmd, "feeds") && nargs == 2 && !strcmp(args[0], "resume"))
        op = PA_RESUME;
    else if (!strcmp(cmd, "backfill") && nargs == 2 && !strcmp(args[0], "status"))
        return pipe_bfjob_status(a->jobs, args[1], t, err);
    else if (!strcmp(cmd, "backfill"))
        op = PA_BACKFILL;
    else
        return TR_ENOTFOUND;
    struct pa_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return tr_errorf(err, TR_ENOMEM, "allocate admin command");
    c->op = op;
    int rc;
    if (op == PA_BACKFILL) {
        if ((rc = pipe_bfjob_parse(&c->bf, args, nargs, err))) {
            free(c);
            return rc;
        }
    } else {
        if (strlen(args[1]) >= sizeof c->feed) {
            free(c);
            return tr_errorf(err, TR_ENOTFOUND, "no feed named '%s'", args[1]);
        }
        snprintf(c->feed, sizeof c->feed, "%s", args[1]);
    }
    if ((rc = submit(a, c, err)))
        return rc;
    rc = c->rc;
    if (rc) {
        tr_errorf(err, rc, "%s", c->msg);
    } else if (op == PA_BACKFILL) {
        static const char *const cols[] = {"job", "state", "detail"};
        const char *row[] = {c->state, "running", c->msg};
        if (!(rc = tr_client_table_cols(t, 3, cols)))
            rc = tr_client_table_row(t, row);
    } else {
        static const char *const cols[] = {"feed", "state", "detail"};
        const char *row[] = {c->feed, c->state, c->msg};
        if (!(rc = tr_client_table_cols(t, 3, cols)))
            rc = tr_client_table_row(t, row);
    }
    free(c);
    return rc;
}

/* ---- lifecycle ---- */

int pipe_admin_open(struct pipe_admin **out, struct pipe_node *n, uv_loop_t *loop,
                    struct tr_error *err)
{
    struct pipe_admin *a = calloc(1, sizeof *a);
    if (!a)
        return tr_errorf(err, TR_ENOMEM, "allocate admin");
    a->node = n;
    int rc = pipe_bfjobs_open(&a->jobs, n, err);
    if (rc) {
        free(a);
        return rc;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    uv_async_init(loop, &a->async, async_cb);
    a->async.data = a;
    a->handle_open = 1;
    *out = a;
    return 0;
}

void pipe_admin_closing(struct pipe_admin *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->closing = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void pipe_admin_close_handles(struct pipe_admin *a)
{
    if (!a || !a->handle_open)
        return;
    pipe_admin_closing(a);
    pipe_bfjobs_stop(a->jobs);
    uv_close((uv_handle_t *)&a->async, NULL);
    a->handle_open = 0;
}

void pipe_admin_free(struct pipe_admin *a)
{
    if (!a)
        return;
    /* commands nobody applied: their workers stopped waiting (closing) */
    while (a->head) {
        struct pa_cmd *c = a->head;
        a->head = c->next;
        free(c);
    }
    pipe_bfjobs_free(a->jobs);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}
