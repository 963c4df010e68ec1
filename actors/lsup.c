/* Supervisors of loop actors (include/tickraft/actor_loop.h): the same
 * policy as thread supervisors (actors/sup.c: strategies, restart kinds,
 * backoff with jitter, a sliding intensity window, escalation), run on the
 * owning loop instead of a thread of their own. Decisions happen in
 * tr_lsup_step at the system clock's now; a uv_async (failures, queued
 * messages) and a uv_timer (the next restart due) call it when not manual. */
#include <stdlib.h>
#include <string.h>

#include "lact_internal.h"

static void wake_cb(uv_async_t *h);
static void timer_cb(uv_timer_t *t);

void lsup_wake(struct tr_lsup *sup)
{
    if (!sup->handles_left)
        uv_async_send(&sup->wake);
}

static size_t index_of(struct tr_lsup *sup, struct tr_lact *a)
{
    for (size_t i = 0; i < sup->n; i++)
        if (sup->kids[i] == a)
            return i;
    return sup->n;
}

static void stat_restart(struct tr_lact *a, int reason)
{
    char why[64];
    if (a->fail_why[0])
        snprintf(why, sizeof why, "%s", a->fail_why);
    else
        tr_exit_str(reason, why, sizeof why);
    struct tr_system *sys = a->sup->sys;
    pthread_mutex_lock(&sys->mu);
    if (a->reg && a->reg->loop_owner == a) {
        a->reg->restarts++;
        snprintf(a->reg->last_restart_reason, sizeof a->reg->last_restart_reason, "%s", why);
    }
    pthread_mutex_unlock(&sys->mu);
}

/* Records a restart; 1 if that exceeds the intensity. */
static int intensity_exceeded(struct tr_lsup *sup, uint64_t now)
{
    return sup_window_exceeded(sup->window, &sup->nwin, sup->intensity, sup->period_ms, now);
}

/* Stops children [from, n) in reverse order, except `skip`. */
static void stop_range(struct tr_lsup *sup, size_t from, size_t skip, int reason)
{
    for (size_t i = sup->n; i-- > from;) {
        struct tr_lact *a = sup->kids[i];
        if (i == skip || a->st == L_REMOVED)
            continue;
        lact_stop(a, a->st == L_FAILED ? a->fail_code : reason);
        a->st = a->spec.restart == TR_TEMPORARY ? L_REMOVED : L_STOPPED;
    }
}

static int should_restart(const struct tr_lact *a, int reason)
{
    switch (a->spec.restart) {
    case TR_PERMANENT: return 1;
    case TR_TRANSIENT: return !tr_exit_is_normal(reason);
    default: return 0;
    }
}

/* Child `a` ended with `reason` (its stop_cb has run). */
static void handle_exit(struct tr_lsup *sup, struct tr_lact *a, int reason, uint64_t now)
{
    if (!should_restart(a, reason)) {
        a->st = a->spec.restart == TR_TEMPORARY ? L_REMOVED : L_STOPPED;
        return;
    }
    if (intensity_exceeded(sup, now)) {
        stop_range(sup, 0, (size_t)-1, TR_EXIT_ESCALATED);
        sup->state = LS_ESCALATED;
        if (sup->escalate_cb)
            sup->escalate_cb(sup->escalate_arg, reason);
        return;
    }
    uint64_t rnd = sup->sys->clock->rand_u64(sup->sys->clock->ctx);
    uint64_t delay = sup_restart_delay(a->started_at, now, sup->period_ms, &a->attempt,
                                       a->spec.backoff_base_ms, a->spec.backoff_max_ms, rnd);
    a->restarts++;
    a->last_delay_ms = delay;
    stat_restart(a, reason);
    size_t i = index_of(sup, a);
    if (sup->strategy == TR_ONE_FOR_ALL)
        stop_range(sup, 0, i, TR_EXIT_SHUTDOWN);
    else if (sup->strategy == TR_REST_FOR_ONE)
        stop_range(sup, i + 1, i, TR_EXIT_SHUTDOWN);
    size_t from = sup->strategy == TR_ONE_FOR_ALL ? 0 : i;
    size_t to = sup->strategy == TR_ONE_FOR_ONE ? i + 1 : sup->n;
    a->st = L_STOPPED;
    for (size_t k = from; k < to; k++) {
        struct tr_lact *x = sup->kids[k];
        if (x->st == L_STOPPED) {
            x->st = L_WAITING;
            x->restart_at = now + delay * MS_NS;
        }
    }
}

static void arm_timer(struct tr_lsup *sup, uint64_t now)
{
    if (sup->manual || sup->handles_left)
        return;
    uint64_t next = 0;
    for (size_t i = 0; i < sup->n; i++) {
        struct tr_lact *a = sup->kids[i];
        if (a->st == L_WAITING && (!next || a->restart_at < next))
            next = a->restart_at;
    }
    if (!next || sup->state != LS_RUNNING) {
        uv_timer_stop(&sup->timer);
        return;
    }
    uint64_t ms = next > now ? (next - now + MS_NS - 1) / MS_NS : 0;
    uv_timer_start(&sup->timer, timer_cb, ms, 0);
}

int tr_lsup_step(struct tr_lsup *sup)
{
    if (sup->state != LS_RUNNING)
        return 0;
    if (sup->in_step)
        return 1; /* a stop_cb or start_cb reported something: next round */
    sup->in_step = 1;
    uint64_t now = clk_now(sup->sys->clock);
    /* failures first, in start order; a group stop may end later ones */
    for (size_t i = 0; i < sup->n && sup->state == LS_RUNNING; i++) {
        struct tr_lact *a = sup->kids[i];
        if (a->st != L_FAILED)
            continue;
        int reason = a->fail_code;
        lact_stop(a, reason);
        handle_exit(sup, a, reason, now);
    }
    for (size_t i = 0; i < sup->n && sup->state == LS_RUNNING; i++) {
        struct tr_lact *a = sup->kids[i];
        if (a->st != L_WAITING || now < a->restart_at)
            continue;
        int rc = lact_start(a, now);
        if (rc < 0)
            handle_exit(sup, a, rc, now);
        else if (rc == TR_ACTOR_STOP) /* nothing to do: ignored, whatever its kind */
            a->st = a->spec.restart == TR_TEMPORARY ? L_REMOVED : L_STOPPED;
    }
    int again = 0;
    for (size_t i = 0; i < sup->n; i++)
        again |= sup->kids[i]->st == L_FAILED;
    sup->in_step = 0;
    arm_timer(sup, now);
    if (again)
        lsup_wake(sup);
    return sup->state == LS_RUNNING;
}

static void wake_cb(uv_async_t *h)
{
    struct tr_lsup *sup = h->data;
    if (lact_drain_all(sup))
        lsup_wake(sup); /* more than a turn's budget: let the loop breathe */
    if (!sup->manual)
        tr_lsup_step(sup);
}

static void timer_cb(uv_timer_t *t)
{
    tr_lsup_step(t->data);
}

static int copy_spec(struct tr_lact *a, const struct tr_lact_spec *s)
{
    if (!s->id || !s->def || strlen(s->id) >= sizeof a->id)
        return TR_EINVAL;
    a->spec = *s;
    snprintf(a->id, sizeof a->id, "%s", s->id);
    a->spec.id = a->id;
    if (!a->spec.backoff_base_ms)
        a->spec.backoff_base_ms = 1000;
    if (!a->spec.backoff_max_ms)
        a->spec.backoff_max_ms = 300000;
    if (!a->spec.mailbox_hwm)
        a->spec.mailbox_hwm = 1024;
    return 0;
}

/* Claims the registry name: TR_EEXISTS while a thread or process actor
 * runs under it. A loop actor of an older supervisor (the owner was
 * restarted, or abandoned while hung) loses the entry to this one. */
static int claim_name(struct tr_lsup *sup, struct tr_lact *a)
{
    struct tr_system *sys = sup->sys;
    pthread_mutex_lock(&sys->mu);
    struct reg_entry *e = reg_get(sys, a->id, 1);
    int rc = 0;
    if (!e)
        rc = TR_EINVAL;
    else if (e->cur || (e->running && !e->is_loop))
        rc = TR_EEXISTS;
    else {
        e->is_loop = 1;
        e->loop_owner = a;
        e->is_process = 0;
        e->pid = 0;
        e->hwm = a->spec.mailbox_hwm;
        snprintf(e->kind, sizeof e->kind, "%s", a->spec.def->kind ? a->spec.def->kind : "loop");
        e->url[0] = '\0';
        a->reg = e;
    }
    pthread_mutex_unlock(&sys->mu);
    return rc;
}

int tr_lsup_add(struct tr_lsup *sup, const struct tr_lact_spec *spec, struct tr_error *err)
{
    if (sup->state != LS_RUNNING)
        return tr_errorf(err, TR_ECLOSED, "loop supervisor %s: stopped", sup->name);
    if (spec->id && tr_lsup_find(sup, spec->id))
        return tr_errorf(err, TR_EEXISTS, "loop actor %s: id taken", spec->id);
    struct tr_lact *a = calloc(1, sizeof *a);
    if (!a)
        return tr_errorf(err, TR_ENOMEM, "loop actor: out of memory");
    a->sup = sup;
    int rc = copy_spec(a, spec);
    if (rc) {
        free(a);
        return tr_errorf(err, rc, "loop actor: bad spec (id, def)");
    }
    if (sup->n == sup->cap) {
        size_t cap = sup->cap ? sup->cap * 2 : 8;
        struct tr_lact **k = realloc(sup->kids, cap * sizeof *k);
        if (!k) {
            free(a);
            return tr_errorf(err, TR_ENOMEM, "loop actor: out of memory");
        }
        sup->kids = k;
        sup->cap = cap;
    }
    if ((rc = claim_name(sup, a))) {
        free(a);
        return tr_errorf(err, rc, "loop actor %s: name in use", spec->id);
    }
    if ((rc = lact_start(a, clk_now(sup->sys->clock))) < 0) {
        lact_free(a);
        return tr_errorf(err, rc, "loop actor %s: start failed", spec->id);
    }
    if (rc == TR_ACTOR_STOP && a->spec.restart == TR_TEMPORARY)
        a->st = L_REMOVED;
    sup->kids[sup->n++] = a;
    return 0;
}

int tr_lsup_start(struct tr_system *sys, struct uv_loop_s *loop, const struct tr_lsup_spec *spec,
                  struct tr_lsup **out, struct tr_error *err)
{
    struct tr_lsup *sup = calloc(1, sizeof *sup);
    if (!sup)
        return tr_errorf(err, TR_ENOMEM, "loop supervisor: out of memory");
    sup->sys = sys;
    sup->loop = loop;
    snprintf(sup->name, sizeof sup->name, "%s", spec->name ? spec->name : "lsup");
    sup->strategy = spec->strategy;
    sup->intensity = spec->intensity ? spec->intensity : 3;
    sup->period_ms = spec->period_ms ? spec->period_ms : 30000;
    sup->manual = spec->manual;
    sup->escalate_cb = spec->escalate_cb;
    sup->escalate_arg = spec->escalate_arg;
    sup->window = calloc(sup->intensity + 2, sizeof *sup->window);
    if (!sup->window || uv_async_init(loop, &sup->wake, wake_cb)) {
        free(sup->window);
        free(sup);
        return tr_errorf(err, TR_ENOMEM, "loop supervisor: handles");
    }
    uv_timer_init(loop, &sup->timer);
    sup->wake.data = sup->timer.data = sup;
    for (size_t i = 0; i < spec->n_children; i++) {
        int rc = tr_lsup_add(sup, &spec->children[i], err);
        if (rc) {
            tr_lsup_close(sup);
            return rc;
        }
    }
    *out = sup;
    return 0;
}

struct tr_lact *tr_lsup_find(struct tr_lsup *sup, const char *id)
{
    for (size_t i = 0; i < sup->n; i++)
        if (strcmp(sup->kids[i]->id, id) == 0)
            return sup->kids[i];
    return NULL;
}

int tr_lsup_terminate_child(struct tr_lsup *sup, struct tr_lact *a)
{
    if (!a || a->sup != sup)
        return TR_EINVAL;
    if (a->in_handler || a->in_start)
        return TR_EBUSY;
    if (a->st == L_RUNNING)
        lact_stop(a, TR_EXIT_SHUTDOWN);
    else if (a->st == L_FAILED)
        lact_stop(a, a->fail_code); /* ended on purpose anyway: not restarted */
    if (a->st != L_REMOVED)
        a->st = a->spec.restart == TR_TEMPORARY ? L_REMOVED : L_STOPPED;
    if (!sup->in_step) /* a restart it waited for may have been the timer's */
        arm_timer(sup, clk_now(sup->sys->clock));
    return 0;
}

int tr_lsup_restart_child(struct tr_lsup *sup, struct tr_lact *a, struct tr_error *err)
{
    if (!a || a->sup != sup)
        return tr_errorf(err, TR_EINVAL, "loop supervisor %s: not its child", sup->name);
    if (sup->state != LS_RUNNING)
        return tr_errorf(err, TR_ECLOSED, "loop supervisor %s: stopped", sup->name);
    if (a->st == L_REMOVED)
        return tr_errorf(err, TR_ENOTFOUND, "loop actor %s: temporary, ended", a->id);
    if (a->st != L_STOPPED)
        return tr_errorf(err, TR_EBUSY, "loop actor %s: running or restarting", a->id);
    int rc = lact_start(a, clk_now(sup->sys->clock));
    if (rc < 0)
        return tr_errorf(err, rc, "loop actor %s: start failed", a->id);
    if (rc == TR_ACTOR_STOP && a->spec.restart == TR_TEMPORARY)
        a->st = L_REMOVED;
    return 0;
}

void tr_lsup_stop(struct tr_lsup *sup, int reason)
{
    if (sup->state == LS_RUNNING)
        sup->state = LS_STOPPED;
    stop_range(sup, 0, (size_t)-1, reason);
    if (!sup->handles_left)
        uv_timer_stop(&sup->timer);
}

static void closed_cb(uv_handle_t *h)
{
    struct tr_lsup *sup = h->data;
    if (--sup->handles_left)
        return;
    for (size_t i = 0; i < sup->n; i++)
        lact_free(sup->kids[i]);
    free(sup->kids);
    free(sup->window);
    free(sup);
}

void tr_lsup_close(struct tr_lsup *sup)
{
    if (!sup || sup->handles_left)
        return;
    tr_lsup_stop(sup, TR_EXIT_SHUTDOWN);
    sup->handles_left = 2;
    uv_close((uv_handle_t *)&sup->wake, closed_cb);
    uv_close((uv_handle_t *)&sup->timer, closed_cb);
}

int tr_lsup_child_info(struct tr_lsup *sup, const char *id, struct tr_child_info *out)
{
    struct tr_lact *a = tr_lsup_find(sup, id);
    if (!a)
        return TR_ENOTFOUND;
    memset(out, 0, sizeof *out);
    out->state = a->st == L_RUNNING ? TR_CHILD_RUNNING
                 : a->st == L_WAITING ? TR_CHILD_WAITING : TR_CHILD_STOPPED;
    out->restarts = a->restarts;
    out->attempt = a->attempt;
    out->restart_at_ns = a->restart_at;
    out->last_delay_ms = a->last_delay_ms;
    out->last_exit_reason = a->last_reason;
    out->incarnation = a->incarnation;
    return 0;
}
