/* Loop actors (include/tickraft/actor_loop.h): one incarnation's start and
 * stop, its mailbox, and delivery by call or queued send. All on the
 * owning loop's thread; the system's registry (shared with other threads)
 * is only touched under its lock, for the figures. */
#include <stdlib.h>
#include <string.h>

#include "lact_internal.h"

/* Figures kept per name in the system's registry, and UP/DOWN notices to
 * thread actors that monitor the name. A later supervisor that reuses the
 * name (the owner restarted) takes the entry over. */
static void reg_update(struct tr_lact *a, int running, int exit_reason, int notify)
{
    struct tr_system *sys = a->sup->sys;
    pthread_mutex_lock(&sys->mu);
    struct reg_entry *e = a->reg;
    if (e && e->loop_owner == a) {
        e->running = running;
        if (!running)
            e->last_exit_reason = exit_reason;
        atomic_store(&e->depth, a->depth);
        if (notify)
            reg_notify_locked(sys, e, running ? TR_LIFECYCLE_UP : TR_LIFECYCLE_DOWN, exit_reason);
    }
    pthread_mutex_unlock(&sys->mu);
}

static void drop_queue(struct tr_lact *a);

int lact_start(struct tr_lact *a, uint64_t now)
{
    a->incarnation++;
    a->started_at = now;
    a->state = NULL;
    a->fail_code = 0;
    a->fail_why[0] = '\0';
    a->st = L_RUNNING; /* start_cb may already send to itself */
    a->in_start = 1;
    int rc = a->spec.def->start_cb ? a->spec.def->start_cb(a, a->spec.arg, &a->state) : 0;
    a->in_start = 0;
    if (rc < 0) {
        a->st = L_STOPPED;
        a->state = NULL;
        a->last_reason = rc;
        reg_update(a, 0, rc, 0);
        return rc;
    }
    if (rc == TR_ACTOR_STOP) { /* nothing to do (OTP's ignore): never ran */
        a->st = L_STOPPED;
        drop_queue(a); /* what start_cb sent itself */
        if (a->spec.def->stop_cb)
            a->spec.def->stop_cb(a, a->state, TR_EXIT_NORMAL);
        a->state = NULL;
        a->last_reason = TR_EXIT_NORMAL;
        reg_update(a, 0, TR_EXIT_NORMAL, 0);
        return TR_ACTOR_STOP;
    }
    reg_update(a, 1, 0, 1);
    return 0;
}

static void drop_queue(struct tr_lact *a)
{
    uint64_t n = 0;
    while (a->head) {
        struct lmsg *m = a->head;
        a->head = m->next;
        free(m);
        n++;
    }
    a->tail = NULL;
    a->depth = 0;
    if (n && a->reg) {
        pthread_mutex_lock(&a->sup->sys->mu);
        if (a->reg->loop_owner == a)
            atomic_fetch_add(&a->reg->dropped, n);
        pthread_mutex_unlock(&a->sup->sys->mu);
    }
}

void lact_stop(struct tr_lact *a, int reason)
{
    if (a->st != L_RUNNING && a->st != L_FAILED)
        return;
    a->st = L_STOPPED; /* sends from stop_cb (to itself) are refused */
    drop_queue(a);
    if (a->spec.def->stop_cb)
        a->spec.def->stop_cb(a, a->state, reason);
    a->state = NULL;
    a->last_reason = reason;
    reg_update(a, 0, reason, 1);
}

void lact_free(struct tr_lact *a)
{
    drop_queue(a);
    struct tr_system *sys = a->sup->sys;
    pthread_mutex_lock(&sys->mu);
    if (a->reg && a->reg->loop_owner == a) {
        a->reg->loop_owner = NULL;
        a->reg->running = 0;
    }
    pthread_mutex_unlock(&sys->mu);
    free(a);
}

static void down(struct tr_lact *a, int code, const char *why)
{
    a->st = L_FAILED;
    a->fail_code = code;
    if (why)
        snprintf(a->fail_why, sizeof a->fail_why, "%s", why);
    lsup_wake(a->sup);
}

static int handle(struct tr_lact *a, uint32_t type, const void *p, size_t len)
{
    if (!a->spec.def->handle_cb)
        return TR_ACTOR_CONTINUE;
    struct tr_lact_msg m = {type, p, len};
    a->in_handler = 1;
    int rc = a->spec.def->handle_cb(a, a->state, &m);
    a->in_handler = 0;
    if (a->reg)
        atomic_fetch_add(&a->reg->handled, 1); /* atomic: read by other threads */
    if (a->st != L_RUNNING)
        return rc; /* it reported a failure itself (tr_lact_fail) */
    if (rc == TR_ACTOR_STOP)
        down(a, TR_EXIT_NORMAL, NULL);
    else if (rc < 0)
        down(a, rc, NULL);
    return rc;
}

int tr_lact_call(struct tr_lact *a, uint32_t type, const void *p, size_t len)
{
    if (a->st != L_RUNNING)
        return TR_ECLOSED;
    if (a->in_handler)
        return TR_EBUSY;
    return handle(a, type, p, len);
}

int tr_lact_send(struct tr_lact *a, uint32_t type, const void *p, size_t len)
{
    if (a->st != L_RUNNING)
        return TR_ECLOSED;
    if (a->depth >= a->spec.mailbox_hwm)
        return TR_EOVERLOADED;
    struct lmsg *m = malloc(sizeof *m + len);
    if (!m)
        return TR_ENOMEM;
    m->next = NULL;
    m->type = type;
    m->len = len;
    if (len)
        memcpy(m->data, p, len);
    if (a->tail)
        a->tail->next = m;
    else
        a->head = m;
    a->tail = m;
    a->depth++;
    if (a->reg)
        atomic_store(&a->reg->depth, a->depth);
    lsup_wake(a->sup);
    return 0;
}

int lact_drain_all(struct tr_lsup *sup)
{
    int more = 0;
    for (size_t i = 0; i < sup->n; i++) {
        struct tr_lact *a = sup->kids[i];
        for (int k = 0; k < LACT_BUDGET && a->head && a->st == L_RUNNING; k++) {
            struct lmsg *m = a->head;
            a->head = m->next;
            if (!a->head)
                a->tail = NULL;
            a->depth--;
            handle(a, m->type, m->data, m->len);
            free(m);
        }
        if (a->reg)
            atomic_store(&a->reg->depth, a->depth);
        more |= a->head && a->st == L_RUNNING;
    }
    return more;
}

void tr_lact_fail(struct tr_lact *a, int code, const char *why)
{
    if (!a || a->st != L_RUNNING)
        return;
    down(a, code < 0 ? code : TR_EINTERNAL, why);
}

int tr_lact_running(const struct tr_lact *a) { return a && a->st == L_RUNNING; }
void *tr_lact_state(struct tr_lact *a) { return a->st == L_RUNNING ? a->state : NULL; }
const char *tr_lact_name(const struct tr_lact *a) { return a->id; }
struct uv_loop_s *tr_lact_loop(struct tr_lact *a) { return a->sup->loop; }
uint64_t tr_lact_incarnation(const struct tr_lact *a) { return a->incarnation; }
