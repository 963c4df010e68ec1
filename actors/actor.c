/* Thread actors: one thread and one libuv loop per actor.
 *
 * The mailbox is an nng pull socket with exactly one receive aio
 * outstanding (several would reorder messages). The aio callback (an nng
 * thread) pushes the message onto a bounded ring and wakes the loop with
 * uv_async_send; the loop hands messages to the handler, at most
 * TR_WAKE_BUDGET per turn so timers, heartbeats and lifecycle notices are
 * served between them. When the ring reaches the high-water mark the
 * callback does not post the next receive: nng's own queues (bounded) fill
 * and senders block, then time out with TR_EOVERLOADED. Nothing is dropped
 * on the way in.
 *
 * Senders in the same process that address a thread actor by name skip
 * nng (actor_fast_send): they put the message on the ring themselves under
 * the mailbox mutex and wake the loop, and wait on room_cv while the ring
 * is at the high-water mark. Same bound, same TR_EOVERLOADED, same order
 * per sender; one thread hop instead of two. nng still carries everything
 * else (ipc senders, sends by URL, replies). The ring has one slot more
 * than the high-water mark: the receive aio in flight when fast senders
 * fill the ring lands there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

size_t lifecycle_encode(const struct tr_lifecycle *ev, uint8_t *buf);
int sys_ensure_run_dir(struct tr_system *sys);

static void recv_cb(void *arg)
{
    struct tr_actor *a = arg;
    if (nng_aio_result(a->raio) != 0)
        return; /* stopped or closed */
    nng_msg *m = nng_aio_get_msg(a->raio);
    pthread_mutex_lock(&a->mu);
    a->ring[(a->head + a->count) % a->slots] = m;
    a->count++;
    atomic_store(&a->reg->depth, a->count);
    int again = a->count < a->cap && !a->intake_closed;
    if (!again)
        a->recv_paused = 1;
    if (a->wake_ok)
        uv_async_send(&a->wake);
    pthread_mutex_unlock(&a->mu);
    if (again)
        nng_recv_aio(a->mbox, a->raio);
}

static nng_msg *ring_pop(struct tr_actor *a)
{
    int rearm = 0;
    pthread_mutex_lock(&a->mu);
    if (a->count == 0) {
        pthread_mutex_unlock(&a->mu);
        return NULL;
    }
    nng_msg *m = a->ring[a->head];
    a->head = (a->head + 1) % a->slots;
    a->count--;
    atomic_store(&a->reg->depth, a->count);
    if (a->pins)
        pthread_cond_broadcast(&a->room_cv); /* a fast sender waits for room */
    if (a->recv_paused && !a->intake_closed) {
        a->recv_paused = 0;
        rearm = 1;
    }
    pthread_mutex_unlock(&a->mu);
    if (rearm)
        nng_recv_aio(a->mbox, a->raio);
    return m;
}

/* Ends the loop: after this, no more handler calls. */
static void begin_exit(struct tr_actor *a, int reason)
{
    if (a->exiting)
        return;
    a->exiting = 1;
    a->exit_reason = reason;
    uv_stop(&a->loop);
}

/* Runs the handler on one message and applies its verdict. */
static void dispatch(struct tr_actor *a, const struct tr_msg *msg)
{
    int rc = a->def->handle_cb(a, a->state, msg);
    atomic_fetch_add(&a->reg->handled, 1);
    if (rc == TR_ACTOR_STOP)
        begin_exit(a, TR_EXIT_NORMAL);
    else if (rc < 0)
        begin_exit(a, rc);
}

static void dispatch_nng(struct tr_actor *a, nng_msg *m)
{
    struct tr_msg msg;
    char sender[TR_URL_MAX];
    if (env_parse(nng_msg_body(m), nng_msg_len(m), &msg, sender, sizeof sender) == 0)
        dispatch(a, &msg);
    else
        atomic_fetch_add(&a->reg->dropped, 1); /* malformed envelope: counted */
    nng_msg_free(m);
}

static void deliver_notices(struct tr_actor *a)
{
    pthread_mutex_lock(&a->mu);
    struct ctl_notice *n = a->notices;
    a->notices = NULL;
    a->notices_tail = &a->notices;
    pthread_mutex_unlock(&a->mu);
    while (n) {
        struct ctl_notice *next = n->next;
        if (!a->exiting) {
            uint8_t buf[128];
            struct tr_msg msg = {TR_MSG_LIFECYCLE, 0, "", buf, lifecycle_encode(&n->ev, buf)};
            dispatch(a, &msg);
        }
        free(n);
        n = next;
    }
}

/* Drain mode: stop intake, then handle what is queued in the ring and in
 * nng's buffers. Producers are stopped before consumers (reverse start
 * order), so nothing new arrives in a well-ordered shutdown. */
static void drain_all(struct tr_actor *a)
{
    pthread_mutex_lock(&a->mu);
    a->intake_closed = 1;
    pthread_cond_broadcast(&a->room_cv); /* fast senders stop waiting on us */
    pthread_mutex_unlock(&a->mu);
    nng_aio_stop(a->raio);
    nng_msg *m;
    while (!a->exiting && (m = ring_pop(a)))
        dispatch_nng(a, m);
    /* Messages a sender's queue already accepted are still moving through
     * nng: take them until the mailbox has been quiet for a short while
     * (the supervisor's shutdown bound caps the whole drain). */
    nng_socket_set_ms(a->mbox, NNG_OPT_RECVTIMEO, TR_DRAIN_QUIET_MS);
    while (!a->exiting && nng_recvmsg(a->mbox, &m, 0) == 0)
        dispatch_nng(a, m);
    begin_exit(a, TR_EXIT_SHUTDOWN);
}

static void wake_cb(uv_async_t *h)
{
    struct tr_actor *a = h->data;
    atomic_store(&a->pong, atomic_load(&a->ping)); /* heartbeat: the loop turns */
    deliver_notices(a);
    int stop = atomic_load(&a->stop_req);
    if (stop == 2)
        begin_exit(a, TR_EXIT_SHUTDOWN);
    if (stop == 1)
        drain_all(a);
    for (int i = 0; i < TR_WAKE_BUDGET && !a->exiting; i++) {
        if (atomic_load(&a->stop_req) == 2) {
            begin_exit(a, TR_EXIT_SHUTDOWN);
            return;
        }
        nng_msg *m = ring_pop(a);
        if (!m)
            return;
        dispatch_nng(a, m);
        /* progress is liveness: a long run of quick handlers is not a hang */
        atomic_store(&a->pong, atomic_load(&a->ping));
    }
    if (!a->exiting)
        uv_async_send(&a->wake); /* more queued: come back after other handles */
}

static int open_mailbox(struct tr_actor *a, struct tr_error *err)
{
    int rv = nng_pull0_open(&a->mbox);
    if (rv)
        return tr_errorf(err, tr_err_from_nng(rv), "open mailbox: %s", nng_strerror(rv));
    a->mbox_open = 1;
    const char *urls[2] = {a->listen_url[0] ? a->listen_url : a->url, a->ipc_url};
    for (int i = 0; i < 2; i++) {
        if (!urls[i][0])
            continue;
        if (strncmp(urls[i], "ipc://", 6) == 0) {
            sys_ensure_run_dir(a->sys);
            unlink(urls[i] + 6); /* a stale socket left by a killed owner */
        }
        rv = nng_listen(a->mbox, urls[i], NULL, 0);
        if (rv)
            return tr_errorf(err, tr_err_from_nng(rv), "listen on %s: %s", urls[i],
                             nng_strerror(rv));
    }
    rv = nng_aio_alloc(&a->raio, recv_cb, a);
    if (rv)
        return tr_errorf(err, TR_ENOMEM, "mailbox aio: %s", nng_strerror(rv));
    return 0;
}

static void timer_close_cb(uv_handle_t *h)
{
    free(h->data);
}

static void walk_close_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL); /* actor's own handles it forgot: closed, not freed */
}

/* Ends an instance on its own thread: mailbox, terminate_cb, loop. */
static void finish(struct tr_actor *a)
{
    if (a->raio)
        nng_aio_stop(a->raio);
    pthread_mutex_lock(&a->mu);
    a->intake_closed = 1;
    a->wake_ok = 0;
    pthread_cond_broadcast(&a->room_cv);
    pthread_mutex_unlock(&a->mu);
    if (a->mbox_open)
        nng_close(a->mbox);
    a->mbox_open = 0;
    nng_msg *m;
    uint64_t dropped = 0;
    while ((m = ring_pop(a))) {
        nng_msg_free(m);
        dropped++;
    }
    atomic_fetch_add(&a->reg->dropped, dropped);
    if (a->def->terminate_cb)
        a->def->terminate_cb(a, a->state, a->exit_reason);
    for (struct atimer *t = a->timers, *n; t; t = n) {
        n = t->next;
        uv_close((uv_handle_t *)&t->t, timer_close_cb);
    }
    a->timers = NULL;
    uv_close((uv_handle_t *)&a->wake, NULL);
    uv_walk(&a->loop, walk_close_cb, NULL);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    uv_loop_close(&a->loop);
    actor_close_sockets(a);
}

static void actor_free(struct tr_actor *a)
{
    /* a fast sender may still hold a pin (it saw this instance before it
     * stopped): intake is closed, it leaves at once; wait for it */
    pthread_mutex_lock(&a->mu);
    a->intake_closed = 1;
    pthread_cond_broadcast(&a->room_cv);
    while (a->pins)
        pthread_cond_wait(&a->room_cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    struct ctl_notice *n = a->notices;
    while (n) {
        struct ctl_notice *next = n->next;
        free(n);
        n = next;
    }
    if (a->raio)
        nng_aio_free(a->raio);
    free(a->ring);
    pthread_cond_destroy(&a->room_cv);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static void set_running(struct tr_actor *a, int up, int reason)
{
    struct tr_system *sys = a->sys;
    pthread_mutex_lock(&sys->mu);
    struct reg_entry *e = a->reg;
    if (up) {
        e->running = 1;
        reg_notify_locked(sys, e, TR_LIFECYCLE_UP, 0);
    } else if (e->cur == a) {
        e->cur = NULL;
        e->running = 0;
        e->last_exit_reason = reason;
        atomic_store(&e->depth, 0);
        reg_notify_locked(sys, e, TR_LIFECYCLE_DOWN, reason);
    }
    pthread_mutex_unlock(&sys->mu);
}

static const struct tr_actor_def no_def;

static void *actor_main(void *arg)
{
    struct tr_actor *a = arg;
    struct tr_error err;
    tr_error_clear(&err);
    int rc = uv_loop_init(&a->loop);
    if (rc == 0)
        rc = uv_async_init(&a->loop, &a->wake, wake_cb);
    if (rc) {
        /* nothing else was set up: report and leave */
        pthread_mutex_lock(&a->mu);
        a->init_rc = TR_EIO;
        a->started = a->finished = 1;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_mutex_lock(&a->sys->mu);
        a->sys->live_threads--;
        pthread_cond_broadcast(&a->sys->threads_cv);
        pthread_mutex_unlock(&a->sys->mu);
        return NULL;
    }
    a->wake.data = a;
    rc = open_mailbox(a, &err);
    if (rc == 0)
        rc = a->def->init_cb ? a->def->init_cb(a, a->arg, &a->state) : 0;
    if (rc == 0) {
        pthread_mutex_lock(&a->mu);
        a->wake_ok = 1;
        pthread_mutex_unlock(&a->mu);
        set_running(a, 1, 0);
        nng_recv_aio(a->mbox, a->raio);
    }
    pthread_mutex_lock(&a->mu);
    a->init_rc = rc;
    a->started = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (rc == 0) {
        uv_run(&a->loop, UV_RUN_DEFAULT);
        if (!a->exiting) /* the loop ran out of work: cannot happen (wake is live) */
            a->exit_reason = TR_EINTERNAL;
    }
    if (rc != 0) {
        a->exit_reason = rc;
        a->def = &no_def; /* no terminate without init */
    }
    finish(a);
    if (rc == 0)
        set_running(a, 0, a->exit_reason);
    pthread_mutex_lock(&a->mu);
    a->finished = 1;
    int abandoned = a->abandoned;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    struct tr_system *sys = a->sys;
    if (abandoned)
        actor_free(a); /* the supervisor moved on; nobody joins us */
    else if (a->exit_cb && rc == 0)
        a->exit_cb(a->exit_arg, a, a->exit_reason);
    pthread_mutex_lock(&sys->mu);
    sys->live_threads--;
    pthread_cond_broadcast(&sys->threads_cv);
    pthread_mutex_unlock(&sys->mu);
    return NULL;
}

int actor_spawn(struct tr_system *sys, const char *name, const struct tr_actor_def *def,
                void *arg, const struct tr_actor_opts *opts, const char *listen_url,
                actor_exit_cb exit_cb, void *exit_arg, struct tr_actor **out,
                struct tr_error *err)
{
    struct tr_actor *a = calloc(1, sizeof *a);
    if (!a)
        return tr_errorf(err, TR_ENOMEM, "spawn %s: out of memory", name);
    a->sys = sys;
    snprintf(a->name, sizeof a->name, "%s", name);
    a->def = def;
    a->arg = arg;
    if (opts)
        a->opts = *opts;
    if (!a->opts.mailbox_hwm)
        a->opts.mailbox_hwm = 1024;
    a->cap = a->opts.mailbox_hwm;
    a->slots = a->cap + 1;
    a->ring = calloc(a->slots, sizeof *a->ring);
    a->exit_cb = exit_cb;
    a->exit_arg = exit_arg;
    a->notices_tail = &a->notices;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    pthread_cond_init(&a->room_cv, NULL);
    if (listen_url)
        snprintf(a->listen_url, sizeof a->listen_url, "%s", listen_url);
    tr_system_url(sys, name, a->url, sizeof a->url);
    if (a->opts.listen_ipc && tr_system_ipc_url(sys, name, a->ipc_url, sizeof a->ipc_url))
        a->ipc_url[0] = '\0';

    pthread_mutex_lock(&sys->mu);
    struct reg_entry *e = reg_get(sys, name, 1);
    int busy = e && (e->cur != NULL || (e->is_loop && e->running));
    if (e && !busy) {
        e->is_loop = 0;
        e->loop_owner = NULL;
        a->reg = e;
        e->cur = a; /* reserves the name */
        a->instance = ++sys->next_instance;
        e->hwm = a->cap;
        e->is_process = 0;
        e->pid = 0;
        snprintf(e->kind, sizeof e->kind, "%s", def->kind ? def->kind : "");
        snprintf(e->url, sizeof e->url, "%s", a->listen_url[0] ? a->listen_url : a->url);
    }
    pthread_mutex_unlock(&sys->mu);
    if (!a->ring || !e || busy) {
        int code = !e ? TR_EINVAL : busy ? TR_EEXISTS : TR_ENOMEM;
        actor_free(a);
        return tr_errorf(err, code, "spawn %s: %s", name,
                         code == TR_EEXISTS ? "name is running" : tr_strerror(code));
    }
    pthread_mutex_lock(&sys->mu);
    sys->live_threads++;
    pthread_mutex_unlock(&sys->mu);
    if (pthread_create(&a->th, NULL, actor_main, a) != 0) {
        pthread_mutex_lock(&sys->mu);
        sys->live_threads--;
        e->cur = NULL;
        pthread_mutex_unlock(&sys->mu);
        actor_free(a);
        return tr_errorf(err, TR_ENOMEM, "spawn %s: cannot create thread", name);
    }
    pthread_mutex_lock(&a->mu);
    while (!a->started)
        pthread_cond_wait(&a->cv, &a->mu);
    int rc = a->init_rc;
    pthread_mutex_unlock(&a->mu);
    if (rc) {
        pthread_join(a->th, NULL);
        pthread_mutex_lock(&sys->mu);
        if (e->cur == a)
            e->cur = NULL;
        pthread_mutex_unlock(&sys->mu);
        actor_free(a);
        return tr_errorf(err, rc, "spawn %s: start failed: %s", name, tr_strerror(rc));
    }
    *out = a;
    return 0;
}

int tr_actor_spawn(struct tr_system *sys, const char *name, const struct tr_actor_def *def,
                   void *arg, const struct tr_actor_opts *opts, struct tr_actor **out,
                   struct tr_error *err)
{
    return actor_spawn(sys, name, def, arg, opts, NULL, NULL, NULL, out, err);
}

/* ---- in-process fast path (see the top of this file) ---- */

#define FAST_SLICE_NS 10000000u /* re-check the registry at least this often */

static uint64_t fast_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Under a->mu: the instance takes messages now. */
static int fast_open(const struct tr_actor *a)
{
    return a->wake_ok && !a->intake_closed;
}

static void fast_push(struct tr_actor *a, nng_msg *m)
{
    a->ring[(a->head + a->count) % a->slots] = m;
    a->count++;
    atomic_store(&a->reg->depth, a->count);
    uv_async_send(&a->wake);
}

int actor_fast_send(struct tr_system *sys, const char *name, nng_msg *m, int timeout_ms)
{
    if (strstr(name, "://"))
        return 1;
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX
                                       : fast_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        pthread_mutex_lock(&sys->mu);
        struct reg_entry *e = reg_get(sys, name, 0);
        if (!e || e->is_process) {
            pthread_mutex_unlock(&sys->mu);
            return 1;
        }
        struct tr_actor *a = e->cur;
        if (a) {
            /* lock order: sys->mu, then a->mu (as reg_notify_locked) */
            pthread_mutex_lock(&a->mu);
            pthread_mutex_unlock(&sys->mu);
            if (fast_open(a) && a->count < a->cap) {
                fast_push(a, m);
                pthread_mutex_unlock(&a->mu);
                return 0;
            }
            if (fast_open(a) && timeout_ms != 0) {
                /* full: wait for room on this instance; the pin keeps it
                 * from being freed under us once sys->mu is released */
                a->pins++;
                while (fast_open(a) && a->count >= a->cap) {
                    uint64_t now = fast_now_ns();
                    if (now >= deadline)
                        break;
                    uint64_t until = deadline - now > FAST_SLICE_NS ? now + FAST_SLICE_NS
                                                                    : deadline;
                    struct timespec ts = {(time_t)(until / 1000000000u),
                                          (long)(until % 1000000000u)};
                    pthread_cond_timedwait(&a->room_cv, &a->mu, &ts);
                }
                int done = fast_open(a) && a->count < a->cap;
                if (done)
                    fast_push(a, m);
                if (--a->pins == 0)
                    pthread_cond_broadcast(&a->room_cv); /* actor_free may wait */
                pthread_mutex_unlock(&a->mu);
                if (done)
                    return 0;
            } else {
                pthread_mutex_unlock(&a->mu);
            }
        } else {
            pthread_mutex_unlock(&sys->mu);
        }
        /* full past the deadline, or the name is (re)starting: wait for
         * the next instance like a send into nng's queue would */
        uint64_t now = fast_now_ns();
        if (now >= deadline)
            return TR_EOVERLOADED;
        uint64_t nap = deadline - now < 1000000u ? deadline - now : 1000000u;
        struct timespec ts = {0, (long)nap};
        nanosleep(&ts, NULL);
    }
}

void actor_wake(struct tr_actor *a)
{
    pthread_mutex_lock(&a->mu);
    if (a->wake_ok)
        uv_async_send(&a->wake);
    pthread_mutex_unlock(&a->mu);
}

void tr_actor_stop(struct tr_actor *a, int drain)
{
    int want = drain ? 1 : 2, cur = atomic_load(&a->stop_req);
    if (cur == 0 || want > cur)
        atomic_store(&a->stop_req, want);
    actor_wake(a);
}

int actor_finished(struct tr_actor *a)
{
    pthread_mutex_lock(&a->mu);
    int f = a->finished;
    pthread_mutex_unlock(&a->mu);
    return f;
}

int tr_actor_join(struct tr_actor *a)
{
    pthread_join(a->th, NULL);
    int reason = a->exit_reason;
    actor_free(a);
    return reason;
}

int actor_abandon(struct tr_actor *a)
{
    pthread_mutex_lock(&a->mu);
    if (a->finished) {
        pthread_mutex_unlock(&a->mu);
        return 0;
    }
    a->abandoned = 1;
    a->intake_closed = 1;
    pthread_cond_broadcast(&a->room_cv);
    pthread_mutex_unlock(&a->mu);
    atomic_store(&a->stop_req, 2);
    /* Free the name now: stop intake and close the sockets under the hung
     * handler; a blocked tr_actor_call returns TR_ECLOSED, and the thread
     * exits (and frees itself) whenever its handler returns. */
    nng_aio_stop(a->raio);
    nng_close(a->mbox);
    if (a->rsock_open)
        nng_close(a->rsock);
    struct tr_system *sys = a->sys;
    pthread_mutex_lock(&sys->mu);
    if (a->reg->cur == a) {
        a->reg->cur = NULL;
        a->reg->running = 0;
        a->reg->last_exit_reason = TR_EXIT_HUNG;
        atomic_fetch_add(&a->reg->dropped, atomic_load(&a->reg->depth));
        atomic_store(&a->reg->depth, 0);
        reg_notify_locked(sys, a->reg, TR_LIFECYCLE_DOWN, TR_EXIT_HUNG);
    }
    pthread_mutex_unlock(&sys->mu);
    pthread_detach(a->th);
    actor_wake(a); /* so it sees stop_req as soon as its handler returns */
    return 1;
}

const char *tr_actor_name(const struct tr_actor *self) { return self->name; }
struct tr_system *tr_actor_system(struct tr_actor *self) { return self->sys; }
struct uv_loop_s *tr_actor_loop(struct tr_actor *self)
{
    return self->is_client ? NULL : &self->loop;
}

/* ---- timers ---- */
static void timer_cb(uv_timer_t *h)
{
    struct atimer *t = h->data;
    struct tr_actor *a = t->a;
    if (a->exiting)
        return;
    struct tr_msg msg = {t->type, 0, "", NULL, 0};
    if (!uv_timer_get_repeat(h)) {
        /* one-shot: unlink before the handler (it may start new timers) */
        for (struct atimer **p = &a->timers; *p; p = &(*p)->next)
            if (*p == t) {
                *p = t->next;
                break;
            }
        uv_close((uv_handle_t *)h, timer_close_cb);
    }
    dispatch(a, &msg);
}

int tr_actor_timer_start(struct tr_actor *self, uint64_t after_ms, uint64_t repeat_ms,
                         uint32_t type, uint64_t *id)
{
    if (self->is_client)
        return TR_EINVAL;
    struct atimer *t = calloc(1, sizeof *t);
    if (!t)
        return TR_ENOMEM;
    uv_timer_init(&self->loop, &t->t);
    t->t.data = t;
    t->a = self;
    t->type = type;
    t->id = ++self->next_timer;
    t->next = self->timers;
    self->timers = t;
    uv_timer_start(&t->t, timer_cb, after_ms, repeat_ms);
    if (id)
        *id = t->id;
    return 0;
}

int tr_actor_timer_stop(struct tr_actor *self, uint64_t id)
{
    for (struct atimer **p = &self->timers; *p; p = &(*p)->next)
        if ((*p)->id == id) {
            struct atimer *t = *p;
            *p = t->next;
            uv_close((uv_handle_t *)&t->t, timer_close_cb);
            return 0;
        }
    return TR_ENOTFOUND;
}
