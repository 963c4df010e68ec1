/* Supervisor policy: restart strategies, restart intensity as a sliding
 * window of monotonic timestamps, exponential backoff with jitter,
 * heartbeats, shutdown in reverse start order, escalation.
 *
 * All decisions happen in sup_step() at the injected clock's "now", under
 * the supervisor's lock: in threaded mode a 10 ms tick and exit notices run
 * it on the supervisor's own thread; in manual mode the caller (a test with
 * a mock clock) runs it, so every decision is reproducible. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup_internal.h"

uint64_t tr_backoff_ms(uint32_t base_ms, uint32_t max_ms, uint32_t attempt, uint64_t rnd)
{
    uint64_t d = base_ms;
    for (uint32_t i = 0; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    uint64_t j = d / 4;
    return d + (j ? rnd % j : 0); /* jitter uniform in [0, 25 %) */
}

static void stat_restart(struct tr_sup *sup, struct child *c, int reason)
{
    char why[64];
    tr_exit_str(reason, why, sizeof why);
    pthread_mutex_lock(&sup->sys->mu);
    struct reg_entry *e = reg_get(sup->sys, c->id, 1);
    if (e) {
        e->restarts++;
        snprintf(e->last_restart_reason, sizeof e->last_restart_reason, "%s", why);
    }
    pthread_mutex_unlock(&sup->sys->mu);
}

int sup_window_exceeded(uint64_t *window, size_t *nwin, uint32_t intensity, uint32_t period_ms,
                        uint64_t now)
{
    uint64_t period = (uint64_t)period_ms * MS_NS;
    size_t k = 0;
    for (size_t i = 0; i < *nwin; i++)
        if (now - window[i] < period)
            window[k++] = window[i];
    *nwin = k;
    if (*nwin > intensity)
        return 1;
    window[(*nwin)++] = now;
    return *nwin > intensity;
}

uint64_t sup_restart_delay(uint64_t started_at, uint64_t now, uint32_t period_ms, uint32_t *attempt,
                           uint32_t base_ms, uint32_t max_ms, uint64_t rnd)
{
    if (started_at && now - started_at >= (uint64_t)period_ms * MS_NS)
        *attempt = 0; /* it ran long enough: start the backoff over */
    return tr_backoff_ms(base_ms, max_ms, (*attempt)++, rnd);
}

/* Records a restart; returns 1 if that exceeds the intensity. */
static int intensity_exceeded(struct tr_sup *sup, uint64_t now)
{
    return sup_window_exceeded(sup->window, &sup->nwin, sup->intensity, sup->period_ms, now);
}

/* Stops children [from, n) in reverse order; restartable ones wait. */
static void stop_range(struct tr_sup *sup, size_t from, size_t skip)
{
    for (size_t i = sup->n; i-- > from;) {
        struct child *c = sup->children[i];
        if (i == skip || c->state == C_REMOVED)
            continue;
        if (c->state == C_RUNNING)
            child_stop(sup, c);
        c->state = c->spec.restart == TR_TEMPORARY ? C_REMOVED : C_STOPPED;
    }
}

static void shutdown_all(struct tr_sup *sup)
{
    stop_range(sup, 0, (size_t)-1);
}

static void escalate(struct tr_sup *sup)
{
    shutdown_all(sup);
    sup->state = S_ESCALATED;
    sup->exit_code = TR_SUP_EXIT_ESCALATED;
}

static int should_restart(const struct child *c, int reason)
{
    switch (c->spec.restart) {
    case TR_PERMANENT: return 1;
    case TR_TRANSIENT: return !tr_exit_is_normal(reason);
    default: return 0;
    }
}

static size_t index_of(struct tr_sup *sup, struct child *c)
{
    for (size_t i = 0; i < sup->n; i++)
        if (sup->children[i] == c)
            return i;
    return sup->n;
}

/* A child ended (crashed, exited, hung, failed to start). */
static void handle_exit(struct tr_sup *sup, struct child *c, int reason, uint64_t now)
{
    c->state = C_STOPPED;
    c->last_reason = reason;
    if (!should_restart(c, reason)) {
        if (c->spec.restart == TR_TEMPORARY)
            c->state = C_REMOVED;
        return;
    }
    if (intensity_exceeded(sup, now)) {
        escalate(sup);
        return;
    }
    uint64_t rnd = sup->sys->clock->rand_u64(sup->sys->clock->ctx);
    uint64_t delay = sup_restart_delay(c->started_at, now, sup->period_ms, &c->attempt,
                                       c->spec.backoff_base_ms, c->spec.backoff_max_ms, rnd);
    c->restarts++;
    c->last_delay_ms = delay;
    stat_restart(sup, c, reason);
    size_t i = index_of(sup, c);
    if (sup->strategy == TR_ONE_FOR_ALL)
        stop_range(sup, 0, i);
    else if (sup->strategy == TR_REST_FOR_ONE)
        stop_range(sup, i + 1, i);
    size_t from = sup->strategy == TR_ONE_FOR_ALL ? 0 : i;
    size_t to = sup->strategy == TR_ONE_FOR_ONE ? i + 1 : sup->n;
    for (size_t k = from; k < to; k++) {
        struct child *x = sup->children[k];
        if (x->state == C_STOPPED) {
            x->state = C_WAITING;
            x->restart_at = now + delay * MS_NS;
        }
    }
}

static struct child *child_by_inst(struct tr_sup *sup, uint64_t inst_id, struct tr_sup *sub)
{
    for (size_t i = 0; i < sup->n; i++) {
        struct child *c = sup->children[i];
        if (c->state != C_RUNNING)
            continue;
        if ((inst_id && c->inst && c->inst_id == inst_id) || (sub && c->sub == sub))
            return c;
    }
    return NULL;
}

static void collect_exits(struct tr_sup *sup, uint64_t now)
{
    pthread_mutex_lock(&sup->nmu);
    struct sup_notice *n = sup->notices;
    sup->notices = NULL;
    pthread_mutex_unlock(&sup->nmu);
    while (n) {
        struct sup_notice *next = n->next;
        struct child *c = child_by_inst(sup, n->inst_id, n->sub);
        if (c && sup->state == S_RUNNING) {
            if (c->inst) {
                tr_actor_join(c->inst);
                c->inst = NULL;
            } else if (c->sub) {
                tr_sup_wait(c->sub);
                tr_sup_free(c->sub);
                c->sub = NULL;
            }
            handle_exit(sup, c, n->reason, now);
        }
        free(n);
        n = next;
    }
    for (size_t i = 0; i < sup->n && sup->state == S_RUNNING; i++) {
        struct child *c = sup->children[i];
        int reason;
        if (c->state != C_RUNNING)
            continue;
        if (c->pid && child_poll_exit(sup, c, &reason)) {
            handle_exit(sup, c, reason, now);
        } else if (c->sub && c->sub->manual && tr_sup_step(c->sub) == 0) {
            reason = c->sub->state == S_ESCALATED ? TR_EXIT_ESCALATED : TR_EXIT_SHUTDOWN;
            tr_sup_free(c->sub);
            c->sub = NULL;
            handle_exit(sup, c, reason, now);
        }
    }
}

static void heartbeats(struct tr_sup *sup, uint64_t now)
{
    for (size_t i = 0; i < sup->n && sup->state == S_RUNNING; i++) {
        struct child *c = sup->children[i];
        if (c->state != C_RUNNING || !c->spec.heartbeat_ms || c->sub)
            continue;
        if (!c->hb_out) {
            if (now >= c->next_ping) {
                c->ping_seq++;
                c->ping_at = now;
                c->hb_out = 1;
                child_ping(sup, c);
            }
            continue;
        }
        if (child_pong(sup, c)) {
            c->hb_out = 0;
            c->next_ping = now + (uint64_t)c->spec.heartbeat_ms * MS_NS;
        } else if (now - c->ping_at >= (uint64_t)c->spec.heartbeat_deadline_ms * MS_NS) {
            child_kill_hung(sup, c);
            handle_exit(sup, c, TR_EXIT_HUNG, now);
        }
    }
}

static void restarts_due(struct tr_sup *sup, uint64_t now)
{
    for (size_t i = 0; i < sup->n && sup->state == S_RUNNING; i++) {
        struct child *c = sup->children[i];
        if (c->state != C_WAITING || now < c->restart_at)
            continue;
        int rc = child_start(sup, c, NULL);
        if (rc)
            handle_exit(sup, c, rc, now);
    }
}

/* One decision round. Caller holds sup->mu. Returns 1 while running. */
static int step_locked(struct tr_sup *sup)
{
    if (sup->state != S_RUNNING)
        return 0;
    uint64_t now = clk_now(sup->sys->clock);
    if (atomic_load(&sup->stop_req)) {
        shutdown_all(sup);
        sup->state = S_STOPPED;
        sup->exit_code = 0;
        return 0;
    }
    collect_exits(sup, now);
    heartbeats(sup, now);
    restarts_due(sup, now);
    return sup->state == S_RUNNING;
}

int tr_sup_step(struct tr_sup *sup)
{
    pthread_mutex_lock(&sup->mu);
    int r = step_locked(sup);
    pthread_mutex_unlock(&sup->mu);
    return r;
}

/* ---- threaded mode ---- */
static void sup_tick_cb(uv_timer_t *t)
{
    struct tr_sup *sup = t->data;
    if (!tr_sup_step(sup))
        uv_stop(&sup->loop);
}

static void sup_wake_cb(uv_async_t *h)
{
    sup_tick_cb(&((struct tr_sup *)h->data)->tick);
}

static void *sup_main(void *arg)
{
    struct tr_sup *sup = arg;
    uv_run(&sup->loop, UV_RUN_DEFAULT);
    atomic_store(&sup->wake_ok, 0);
    uv_close((uv_handle_t *)&sup->wake, NULL);
    uv_close((uv_handle_t *)&sup->tick, NULL);
    uv_run(&sup->loop, UV_RUN_DEFAULT);
    uv_loop_close(&sup->loop);
    pthread_mutex_lock(&sup->mu);
    int escalated = sup->state == S_ESCALATED;
    pthread_mutex_unlock(&sup->mu);
    if (escalated && sup->parent)
        sup_post_notice(sup->parent, 0, sup, TR_EXIT_ESCALATED);
    pthread_mutex_lock(&sup->nmu);
    sup->done = 1;
    pthread_cond_broadcast(&sup->cv);
    pthread_mutex_unlock(&sup->nmu);
    return NULL;
}

void sup_post_notice(struct tr_sup *sup, uint64_t inst_id, struct tr_sup *sub, int reason)
{
    struct sup_notice *n = calloc(1, sizeof *n);
    if (!n)
        return; /* out of memory: the heartbeat or waitpid still notices */
    n->inst_id = inst_id;
    n->sub = sub;
    n->reason = reason;
    pthread_mutex_lock(&sup->nmu);
    struct sup_notice **p = &sup->notices;
    while (*p)
        p = &(*p)->next;
    *p = n;
    pthread_mutex_unlock(&sup->nmu);
    if (atomic_load(&sup->wake_ok))
        uv_async_send(&sup->wake);
}

static int copy_child(struct child *c, const struct tr_child_spec *s)
{
    if (!s->id || strlen(s->id) >= sizeof c->id)
        return TR_EINVAL;
    c->spec = *s;
    snprintf(c->id, sizeof c->id, "%s", s->id);
    c->spec.id = c->id;
    if (s->start.process_kind) {
        snprintf(c->process_kind, sizeof c->process_kind, "%s", s->start.process_kind);
        c->spec.start.process_kind = c->process_kind;
        snprintf(c->process_arg, sizeof c->process_arg, "%s",
                 s->start.process_arg ? s->start.process_arg : "");
        c->spec.start.process_arg = c->process_arg;
    }
    if (s->start.sup) {
        c->sub_spec = *s->start.sup;
        c->spec.start.sup = &c->sub_spec;
    }
    if (!s->start.def && !s->start.process_kind && !s->start.sup)
        return TR_EINVAL;
    if (!c->spec.backoff_base_ms)
        c->spec.backoff_base_ms = 1000;
    if (!c->spec.backoff_max_ms)
        c->spec.backoff_max_ms = 300000;
    if (!c->spec.heartbeat_deadline_ms)
        c->spec.heartbeat_deadline_ms = c->spec.heartbeat_ms;
    if (c->spec.shutdown == TR_SHUTDOWN_TIMEOUT && !c->spec.shutdown_ms)
        c->spec.shutdown_ms = 5000;
    return 0;
}

static int add_child_locked(struct tr_sup *sup, const struct tr_child_spec *s, struct tr_error *err)
{
    for (size_t i = 0; i < sup->n; i++)
        if (sup->children[i]->state != C_REMOVED && strcmp(sup->children[i]->id, s->id) == 0)
            return tr_errorf(err, TR_EEXISTS, "supervisor %s: child %s exists", sup->name, s->id);
    if (sup->n == sup->cap) {
        size_t cap = sup->cap ? sup->cap * 2 : 8;
        struct child **v = realloc(sup->children, cap * sizeof *v);
        if (!v)
            return tr_errorf(err, TR_ENOMEM, "supervisor %s: out of memory", sup->name);
        sup->children = v;
        sup->cap = cap;
    }
    struct child *c = calloc(1, sizeof *c);
    if (!c)
        return tr_errorf(err, TR_ENOMEM, "supervisor %s: out of memory", sup->name);
    int rc = copy_child(c, s);
    if (rc) {
        free(c);
        return tr_errorf(err, rc, "supervisor %s: bad child spec '%s'", sup->name,
                         s->id ? s->id : "(null)");
    }
    rc = child_start(sup, c, err);
    if (rc) {
        free(c);
        return tr_error_wrap(err, rc, "supervisor %s: start child %s", sup->name, s->id);
    }
    sup->children[sup->n++] = c;
    return 0;
}

int sup_start(struct tr_system *sys, const struct tr_sup_spec *spec, struct tr_sup *parent,
              struct tr_sup **out, struct tr_error *err)
{
    struct tr_sup *sup = calloc(1, sizeof *sup);
    if (!sup)
        return tr_errorf(err, TR_ENOMEM, "supervisor: out of memory");
    sup->sys = sys;
    snprintf(sup->name, sizeof sup->name, "%s", spec->name ? spec->name : "sup");
    sup->strategy = spec->strategy;
    sup->intensity = spec->period_ms ? spec->intensity : 3;
    sup->period_ms = spec->period_ms ? spec->period_ms : 30000;
    sup->tick_ms = spec->tick_ms ? spec->tick_ms : 10;
    sup->manual = spec->manual;
    sup->parent = parent;
    sup->window = calloc(sup->intensity + 1, sizeof *sup->window);
    pthread_mutex_init(&sup->mu, NULL);
    pthread_mutex_init(&sup->nmu, NULL);
    pthread_cond_init(&sup->cv, NULL);
    int rc = sup->window ? 0 : tr_errorf(err, TR_ENOMEM, "supervisor: out of memory");
    if (!sup->manual && rc == 0) {
        /* the loop exists before children, so their exit notices can wake it */
        if (uv_loop_init(&sup->loop) || uv_async_init(&sup->loop, &sup->wake, sup_wake_cb))
            rc = tr_errorf(err, TR_EIO, "supervisor %s: libuv loop", sup->name);
        else {
            sup->wake.data = sup;
            uv_timer_init(&sup->loop, &sup->tick);
            sup->tick.data = sup;
            atomic_store(&sup->wake_ok, 1);
        }
    }
    pthread_mutex_lock(&sup->mu);
    for (size_t i = 0; rc == 0 && i < spec->n_children; i++)
        rc = add_child_locked(sup, &spec->children[i], err);
    if (rc)
        shutdown_all(sup);
    pthread_mutex_unlock(&sup->mu);
    if (rc == 0 && !sup->manual) {
        uv_timer_start(&sup->tick, sup_tick_cb, sup->tick_ms, sup->tick_ms);
        if (pthread_create(&sup->th, NULL, sup_main, sup) != 0) {
            pthread_mutex_lock(&sup->mu);
            shutdown_all(sup);
            pthread_mutex_unlock(&sup->mu);
            rc = tr_errorf(err, TR_ENOMEM, "supervisor %s: cannot create thread", sup->name);
        } else {
            sup->has_thread = 1;
        }
    }
    if (rc) {
        if (!sup->manual && atomic_load(&sup->wake_ok)) {
            atomic_store(&sup->wake_ok, 0);
            uv_close((uv_handle_t *)&sup->wake, NULL);
            uv_close((uv_handle_t *)&sup->tick, NULL);
            uv_run(&sup->loop, UV_RUN_DEFAULT);
            uv_loop_close(&sup->loop);
        }
        sup->state = S_STOPPED;
        tr_sup_free(sup);
        return rc;
    }
    *out = sup;
    return 0;
}

int tr_sup_start(struct tr_system *sys, const struct tr_sup_spec *spec, struct tr_sup **out,
                 struct tr_error *err)
{
    return sup_start(sys, spec, NULL, out, err);
}

/* Locks the supervisor for a call from outside its step: possibly from a
 * child's own handler, which the supervisor may be waiting on to stop (it
 * holds the lock meanwhile). Such a caller gets TR_EBUSY instead of a
 * deadlock. */
static int outside_lock(struct tr_sup *sup)
{
    for (;;) {
        if (pthread_mutex_trylock(&sup->mu) == 0)
            return 0;
        if (atomic_load(&sup->stopping))
            return TR_EBUSY;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

int tr_sup_start_child(struct tr_sup *sup, const struct tr_child_spec *spec, struct tr_error *err)
{
    if (outside_lock(sup))
        return tr_errorf(err, TR_EBUSY, "supervisor %s: busy stopping children", sup->name);
    int rc = sup->state == S_RUNNING ? add_child_locked(sup, spec, err)
                                     : tr_errorf(err, TR_ESHUTDOWN, "supervisor %s: stopped", sup->name);
    pthread_mutex_unlock(&sup->mu);
    return rc;
}

int tr_sup_terminate_child(struct tr_sup *sup, const char *id)
{
    int rc = TR_ENOTFOUND;
    if (outside_lock(sup))
        return TR_EBUSY;
    for (size_t i = 0; i < sup->n; i++) {
        struct child *c = sup->children[i];
        if (c->state == C_REMOVED || strcmp(c->id, id) != 0)
            continue;
        if (c->state == C_RUNNING)
            child_stop(sup, c);
        c->state = C_REMOVED;
        rc = 0;
    }
    pthread_mutex_unlock(&sup->mu);
    return rc;
}

void tr_sup_stop(struct tr_sup *sup)
{
    atomic_store(&sup->stop_req, 1);
    if (atomic_load(&sup->wake_ok))
        uv_async_send(&sup->wake);
}

int tr_sup_wait(struct tr_sup *sup)
{
    if (sup->manual) {
        while (tr_sup_step(sup))
            ;
        return sup->exit_code;
    }
    pthread_mutex_lock(&sup->nmu);
    while (!sup->done)
        pthread_cond_wait(&sup->cv, &sup->nmu);
    pthread_mutex_unlock(&sup->nmu);
    if (sup->has_thread) {
        pthread_join(sup->th, NULL);
        sup->has_thread = 0;
    }
    return sup->exit_code;
}

int tr_sup_run(struct tr_sup *sup)
{
    return tr_sup_wait(sup);
}

void tr_sup_free(struct tr_sup *sup)
{
    if (!sup)
        return;
    if (sup->has_thread) {
        tr_sup_stop(sup);
        tr_sup_wait(sup);
    } else if (sup->state == S_RUNNING) {
        pthread_mutex_lock(&sup->mu);
        shutdown_all(sup);
        sup->state = S_STOPPED;
        pthread_mutex_unlock(&sup->mu);
    }
    for (size_t i = 0; i < sup->n; i++)
        free(sup->children[i]);
    free(sup->children);
    struct sup_notice *n = sup->notices;
    while (n) {
        struct sup_notice *next = n->next;
        free(n);
        n = next;
    }
    free(sup->window);
    pthread_cond_destroy(&sup->cv);
    pthread_mutex_destroy(&sup->nmu);
    pthread_mutex_destroy(&sup->mu);
    free(sup);
}

static struct child *find_child(struct tr_sup *sup, const char *id)
{
    for (size_t i = 0; i < sup->n; i++)
        if (sup->children[i]->state != C_REMOVED && strcmp(sup->children[i]->id, id) == 0)
            return sup->children[i];
    return NULL;
}

int tr_sup_child_info(struct tr_sup *sup, const char *id, struct tr_child_info *out)
{
    memset(out, 0, sizeof *out);
    if (outside_lock(sup))
        return TR_EBUSY;
    struct child *c = find_child(sup, id);
    if (c) {
        out->state = c->state == C_RUNNING   ? TR_CHILD_RUNNING
                     : c->state == C_WAITING ? TR_CHILD_WAITING
                                             : TR_CHILD_STOPPED;
        out->restarts = c->restarts;
        out->attempt = c->attempt;
        out->restart_at_ns = c->restart_at;
        out->last_delay_ms = c->last_delay_ms;
        out->last_exit_reason = c->last_reason;
        out->pid = c->pid;
        out->incarnation = c->incarnation;
        out->heartbeat_outstanding = c->hb_out;
    }
    pthread_mutex_unlock(&sup->mu);
    return c ? 0 : TR_ENOTFOUND;
}

int tr_sup_settle(struct tr_sup *sup, const char *id, int max_ms)
{
    for (int i = 0; i < max_ms * 10; i++) {
        if (sup->manual)
            tr_sup_step(sup);
        struct tr_child_info ci;
        if (tr_sup_child_info(sup, id, &ci) != 0 || ci.state != TR_CHILD_RUNNING ||
            !ci.heartbeat_outstanding)
            return 0;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return TR_ETIMEDOUT;
}
