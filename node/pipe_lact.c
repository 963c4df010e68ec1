/* The collector's loop actors (node/pipe_lact.h): a connection actor per
 * WebSocket connection and a REST poller actor per feed on the
 * collector's own loop, so that the failure of one restarts that one only
 * (about a second of backoff) and not the whole collector (~0.6 s of every
 * feed), nor the feed's other sockets.
 *
 * They wrap the feed's existing machinery (pipe_conn.c, pipe_shed.c,
 * pipe_rest.c) rather than own copies of it: an incarnation's start is
 * what the node did for the socket or the feed (connect, start the
 * registry refresh) and its stop takes it back to "nothing in flight" in a
 * way that the next start, or the deduplicator, repairs exactly like any
 * reconnect:
 *  - connection actors are per socket role, not per slot: "conn-<feed>"
 *    (permanent) owns the feed's active connection and the one a rotation
 *    retires; "conn-<feed>.next" (transient) a rotation's incoming one until
 *    it is promoted (then the primary owns it) or ends; "conn-<feed>.<s>"
 *    (transient) overflow slot s while it has markets or is the new
 *    connection of its pair partner's rotation (pipe_xrot.c). Each socket names its
 *    owner (pipe_conn.act). Roles rather than slots because the rotation
 *    pair swaps slots at every promotion while "conn-<feed>" stays the
 *    feed's connection for an operator (and its restart count one series);
 *    transient children because a socket closed on purpose (a finished
 *    rotation, an overflow left without markets) must not come back, while
 *    a failed one must. The node starts them on first use and ends them
 *    with terminate_child (not a failure: the intensity does not see it);
 *  - connection stop: each socket the actor owns is detached from its
 *    pipe_conn (lws calls back with no user from then on) and killed
 *    without a close frame, the streams it fed marked lost (the primary's
 *    also stops its reconnect and rotation timers); the feed's other
 *    sockets are untouched. The restart (after the feed's ws backoff)
 *    connects and subscribes again if the role still has a job (a rotation
 *    still under way, an overflow slot with markets; else the start ends it
 *    at once: nothing to do), and the subscription resumes the streams
 *    (trades backfilled from the last id written, books resynced from a
 *    snapshot), as after a 1006. A primary restarting during a rotation
 *    whose new connection is already subscribed takes that one over;
 *  - poller stop: timers stopped, the request in flight detached and
 *    killed, the queue freed (an operator backfill job's page fails the
 *    job: it can be run again). The deduplicator's streams still say which
 *    repairs are outstanding (req_out), so the next start queues them
 *    again, restarts the registry refresh and, in maintenance, the status
 *    poll. While the poller is down, requests queue (rest_waiting holds
 *    the pump) and go out when it starts.
 * The hot path does not go through them: frames reach the deduplicator by
 * direct calls as before (docs/node.md has the measurement). */
#include "pipe_lact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "nlog.h"
#include "pipe_bfjob.h"
#include "pipe_feed.h"
#include "tickraft/actor_loop.h"

/* One incarnation of either kind: the fault hook's timer. */
struct pla_inc {
    struct pipe_feed *f;
    struct tr_lact *self;
    uv_timer_t fault;
    int poller;   /* the poller's fault waits until it has a request to lose */
    int role;     /* a connection actor's (PL_*) */
};


static int is_fault_feed(const struct pipe_feed *f, const struct pipe_lact_faults *fx)
{
    if (!fx)
        return 0;
    return fx->feed[0] ? strcmp(fx->feed, f->cfg->name) == 0 : f->idx == 0;
}

static void fault_cb(uv_timer_t *t)
{
    struct pla_inc *in = t->data;
    if (in->poller && !pipe_rest_busy(in->f)) { /* nothing to lose yet: test the requeue */
        uv_timer_start(&in->fault, fault_cb, 20, 0);
        return;
    }
    tr_nlog(pipe_node_log(in->f->node), TR_NLOG_WARN, "actors", "fault injection: actor failing",
            TR_KV_STR("actor", tr_lact_name(in->self)));
    tr_lact_fail(in->self, TR_EINTERNAL, "fault injection");
}

static void free_inc(uv_handle_t *h)
{
    free(h->data);
}

static struct pla_inc *inc_new(struct tr_lact *self, struct pipe_feed *f, int poller,
                               uint32_t fault_ms, atomic_int *done, int repeat)
{
    struct pla_inc *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->f = f;
    in->self = self;
    in->poller = poller;
    uv_timer_init(pipe_node_loop(f->node), &in->fault);
    in->fault.data = in;
    if (fault_ms && !atomic_exchange(done, !repeat))
        uv_timer_start(&in->fault, fault_cb, fault_ms, 0);
    return in;
}

static void inc_free(struct pla_inc *in)
{
    uv_timer_stop(&in->fault);
    uv_close((uv_handle_t *)&in->fault, free_inc); /* frees `in` */
}

/* Cuts a socket loose: no more callbacks reach its owner, and lws closes it
 * on its next turn without a close frame (as a crash would). */
static void detach(struct lws *wsi)
{
    lws_set_wsi_user(wsi, NULL);
    lws_set_opaque_user_data(wsi, NULL); /* provider connections find theirs there */
    lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

/* ---- connection actors: one per WebSocket connection ---- */

static void role_name(const struct pipe_feed *f, int role, char *buf, size_t cap)
{
    if (role == PL_PRIMARY)
        snprintf(buf, cap, "conn-%s", f->cfg->name);
    else if (role == PL_NEXT)
        snprintf(buf, cap, "conn-%s.next", f->cfg->name);
    else
        snprintf(buf, cap, "conn-%s.%d", f->cfg->name, role);
}

/* The socket of `slot` is opened by (and belongs to) actor a. */
static int connect_as(struct tr_lact *a, struct pipe_feed *f, int slot)
{
    f->conn[slot].act = a; /* before: a connect may fail under the call */
    return pipe_conn_connect(f, slot);
}

/* Cuts the sockets `self` owns loose, marks the streams they fed lost;
 * returns how many were open. */
static int cut_owned(struct pipe_feed *f, struct tr_lact *self)
{
    struct pipe_dedup *d = pipe_node_dedup(f->node);
    int dropped = 0;
    for (int k = 0; k < PIPE_CONN_SLOTS; k++) {
        struct pipe_conn *c = &f->conn[k];
        if (c->act != self)
            continue;
        c->act = NULL;
        if (c->state == PC_IDLE)
            continue;
        if (c->wsi)
            detach(c->wsi);
        pipe_dedup_source_lost(d, c);
        c->wsi = NULL;
        c->state = PC_IDLE;
        c->subscribed = c->incoming = c->retiring = 0;
        c->succ_sub_ns = 0; /* (succ_of stays: its restart may go on with the rotation) */
        dropped++;
    }
    return dropped;
}

static void log_restarted(struct tr_lact *self, struct pipe_feed *f)
{
    tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "conn", "connection actor restarted",
            TR_KV_STR("feed", f->cfg->name), TR_KV_STR("actor", tr_lact_name(self)));
}

/* "conn-<feed>": connects the active slot, unless a rotation's incoming
 * connection delivered while this actor was down: that one becomes the
 * active connection (its subscription has already resumed the streams). */
static int primary_start(struct tr_lact *self, struct pipe_feed *f)
{
    /* (ws_hold: a maintenance or its status check holds reconnects; its
     * end reconnects, pipe_maint.c) */
    if (pipe_node_stopping(f->node) || f->paused || f->ws_hold)
        return 0;
    if (tr_lact_incarnation(self) > 1)
        log_restarted(self, f);
    struct pipe_conn *c = &f->conn[f->active], *o = &f->conn[1 - f->active];
    if (c->state == PC_IDLE && o->state == PC_OPEN && o->incoming && o->subscribed) {
        tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "conn",
                "rotation's new connection taken over as the active one",
                TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", o->slot));
        pipe_feed_promote(f, o);
        pipe_feed_start_rotation(f);
    } else if (c->state == PC_IDLE) {
        pipe_feed_start(f); /* connects; the subscription resumes the streams */
    } else {
        pipe_feed_start_rotation(f);
    }
    return 0;
}

/* "conn-<feed>.next" restarted: the rotation goes on if it still can. */
static int next_start(struct tr_lact *self, struct pipe_feed *f)
{
    int other = 1 - f->active;
    if (pipe_node_stopping(f->node) || f->paused || f->ws_hold || f->halted_ws ||
        !pipe_lact_conn_up(f) || f->conn[f->active].state != PC_OPEN ||
        f->conn[other].state != PC_IDLE)
        return TR_ACTOR_STOP; /* the rotation is over: nothing to restart */
    log_restarted(self, f);
    if (connect_as(self, f, other) < 0 || f->conn[other].state == PC_IDLE)
        return TR_ACTOR_STOP;
    return 0;
}

/* "conn-<feed>.<slot>" restarted: reconnects while the slot has markets,
 * or while it is an overflow rotation's new connection and the rotation
 * can still go on (pipe_xrot.c). */
static int overflow_start(struct tr_lact *self, struct pipe_feed *f, int s)
{
    if (f->conn[s].succ_of && !pipe_shed_group_size(f, s)) {
        if (!pipe_xrot_pending(f, s)) {
            f->conn[s].succ_of = 0;
            return TR_ACTOR_STOP; /* the rotation is over: nothing to restart */
        }
        log_restarted(self, f);
        if (connect_as(self, f, s) < 0 || f->conn[s].state == PC_IDLE) {
            f->conn[s].succ_of = 0;
            return TR_ACTOR_STOP;
        }
        return 0;
    }
    if (!pipe_shed_group_size(f, s))
        return TR_ACTOR_STOP; /* its markets moved on */
    log_restarted(self, f);
    if (pipe_node_stopping(f->node) || f->paused || f->ws_hold || f->halted_ws)
        return 0; /* resume or the hold's end reopens it (pipe_shed_kick) */
    if (connect_as(self, f, s) < 0)
        pipe_shed_conn_ended(&f->conn[s], PC_C_REFUSED, 1006); /* its backoff */
    return 0;
}

static int conn_start(struct tr_lact *self, void *arg, void **state)
{
    struct pipe_conn_ref *ref = arg;
    struct pipe_feed *f = ref->f;
    struct pipe_lact_faults *fx = pipe_node_lact_faults(f->node);
    int ours = is_fault_feed(f, fx) && fx->conn_role == ref->role;
    struct pla_inc *in = inc_new(self, f, 0, ours ? fx->conn_ms : 0, ours ? &fx->conn_done : NULL,
                                 fx ? fx->repeat : 0);
    if (!in)
        return TR_ENOMEM;
    in->role = ref->role;
    *state = in;
    f->conn_act[ref->role] = self; /* (the first start runs before tr_lsup_add returns) */
    if (ref->by_node)
        return 0; /* pipe_lact_conn_open connects right after */
    if (ref->role == PL_PRIMARY)
        return primary_start(self, f);
    return ref->role == PL_NEXT ? next_start(self, f) : overflow_start(self, f, ref->role);
}

/* Any connection actor's end: its own sockets are cut, the feed's others
 * keep delivering. */
static void conn_stop(struct tr_lact *self, void *state, int reason)
{
    struct pla_inc *in = state;
    struct pipe_feed *f = in->f;
    if (in->role == PL_PRIMARY) { /* its reconnect and rotation schedule */
        uv_timer_stop(&f->retry_timer);
        uv_timer_stop(&f->rotate_timer);
        f->connected = 0;
    } else if (in->role == PL_NEXT) {
        uv_timer_stop(&f->overlap_timer);
    }
    int dropped = cut_owned(f, self);
    if (!tr_exit_is_normal(reason)) {
        char why[64];
        tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "conn", "connection actor failed",
                TR_KV_STR("feed", f->cfg->name), TR_KV_STR("actor", tr_lact_name(self)),
                TR_KV_STR("reason", tr_exit_str(reason, why, sizeof why)),
                TR_KV_INT("sockets_dropped", dropped));
    }
    inc_free(in);
}

static const struct tr_lact_def conn_def = {"connection", conn_start, NULL, conn_stop};

int pipe_lact_conn_open(struct pipe_feed *f, int slot)
{
    int role = slot >= 2 ? slot : slot == f->active ? PL_PRIMARY : PL_NEXT;
    struct tr_lact *a = f->conn_act[role];
    if (a && tr_lact_running(a))
        return connect_as(a, f, slot);
    struct tr_lsup *sup = pipe_node_lsup(f->node);
    if (role == PL_PRIMARY || !sup)
        return 0; /* waits for its restart, which connects */
    struct pipe_conn_ref *ref = &f->conn_ref[role];
    struct tr_error err;
    tr_error_clear(&err);
    char id[64];
    role_name(f, role, id, sizeof id);
    int rc;
    ref->by_node = 1;
    if (!a) { /* first use of this role: a transient child from now on */
        struct tr_lact_spec spec = {.id = id, .def = &conn_def, .arg = ref,
                                    .restart = TR_TRANSIENT,
                                    .backoff_base_ms = f->cfg->backoff_base_ms,
                                    .backoff_max_ms = f->cfg->backoff_max_ms};
        if (!(rc = tr_lsup_add(sup, &spec, &err)))
            a = f->conn_act[role] = tr_lsup_find(sup, id);
    } else {
        rc = tr_lsup_restart_child(sup, a, &err);
    }
    ref->by_node = 0;
    if (rc == TR_EBUSY)
        return 0; /* failed a moment ago: its restart (after the backoff) connects */
    if (rc < 0) {
        tr_nlog(pipe_node_log(f->node), TR_NLOG_ERROR, "conn", "connection actor not started",
                TR_KV_STR("feed", f->cfg->name), TR_KV_STR("actor", id), TR_KV_ERR(&err));
        return rc;
    }
    return connect_as(a, f, slot);
}

void pipe_lact_conn_release(struct pipe_feed *f, int role)
{
    struct tr_lsup *sup = pipe_node_lsup(f->node);
    if (role == PL_PRIMARY || !sup || !f->conn_act[role])
        return;
    tr_lsup_terminate_child(sup, f->conn_act[role]); /* closed on purpose: no restart */
}

void pipe_lact_conn_adopt(struct pipe_feed *f, struct pipe_conn *c)
{
    if (!f->conn_act[PL_PRIMARY])
        return;
    c->act = f->conn_act[PL_PRIMARY];
    pipe_lact_conn_release(f, PL_NEXT);
}

/* ---- REST poller actor ---- */

static int queued(const struct pipe_feed *f, const struct pd_stream *s)
{
    for (const struct pipe_rest_req *r = f->rq_head; r; r = r->next)
        if (r->s == s)
            return 1;
    return 0;
}

static int poll_start(struct tr_lact *self, void *arg, void **state)
{
    struct pipe_feed *f = arg;
    struct pipe_lact_faults *fx = pipe_node_lact_faults(f->node);
    int ours = is_fault_feed(f, fx);
    struct pla_inc *in = inc_new(self, f, 1, ours ? fx->poll_ms : 0, ours ? &fx->poll_done : NULL,
                                 fx ? fx->repeat : 0);
    if (!in)
        return TR_ENOMEM;
    *state = in;
    f->rest_waiting = 0;
    f->rest_attempt = 0;
    if (tr_lact_incarnation(self) == 1) {
        if (!pipe_node_stopping(f->node))
            pipe_registry_start(f);
        return 0;
    }
    /* a restart: the repairs the deduplicator still waits for */
    size_t n = 0;
    for (struct pd_stream *s = pipe_node_dedup(f->node)->all; s; s = s->next_all)
        if (s->feed == f && s->req_out && !queued(f, s)) {
            pipe_rest_enqueue(f, s->resync == TR_RESYNC_SNAPSHOT ? TR_REST_BOOK : TR_REST_TRADES,
                              s);
            n++;
        }
    if (f->maintenance || f->ws_hold) /* (a held reconnect waits for its answer) */
        pipe_rest_status_now(f);
    if (!pipe_node_stopping(f->node) && !f->paused)
        pipe_registry_start(f);
    pipe_rest_pump(f);
    tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "rest", "poller actor restarted",
            TR_KV_STR("feed", f->cfg->name), TR_KV_UINT("repairs_requeued", n));
    return 0;
}

static void drop_req(struct pipe_rest_req *r)
{
    if (r->job)
        pipe_bfjob_failed(r->job, "REST poller restarted");
    free(r); /* a stream's repair stays marked (req_out): queued again at start */
}

static void poll_stop(struct tr_lact *self, void *state, int reason)
{
    struct pla_inc *in = state;
    struct pipe_feed *f = in->f;
    (void)self;
    uv_timer_stop(&f->rest_timer);
    uv_timer_stop(&f->registry_timer);
    pipe_rest_drop_later(f); /* skipped snapshots: their streams are requeued at start */
    f->rest_waiting = 1; /* holds pipe_rest_pump until the next start */
    if (f->rwsi) {
        detach(f->rwsi);
        f->rwsi = NULL;
    }
    if (f->inflight) {
        drop_req(f->inflight);
        f->inflight = NULL;
    }
    while (f->rq_head) {
        struct pipe_rest_req *r = f->rq_head;
        f->rq_head = r->next;
        drop_req(r);
    }
    f->rq_tail = NULL;
    if (!tr_exit_is_normal(reason)) {
        char why[64];
        tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "rest", "poller actor failed",
                TR_KV_STR("feed", f->cfg->name),
                TR_KV_STR("reason", tr_exit_str(reason, why, sizeof why)));
    }
    inc_free(in);
}

static const struct tr_lact_def poll_def = {"poller", poll_start, NULL, poll_stop};

/* ---- the supervisor ---- */

static void escalate_cb(void *arg, int reason)
{
    struct pipe_node *n = arg;
    (void)reason;
    pipe_node_fatal(n, TR_EINTERNAL, "connection/poller actors restarted too often");
}

int pipe_lact_open(struct pipe_node *n, struct tr_system *sys, struct pipe_lact_faults *faults,
                   struct tr_error *err)
{
    size_t nf = pipe_node_n_feeds(n);
    struct tr_lact_spec *kids = calloc(nf ? 2 * nf : 1, sizeof *kids);
    char (*names)[64] = calloc(nf ? 2 * nf : 1, sizeof *names);
    if (!kids || !names) {
        free(kids);
        free(names);
        return tr_errorf(err, TR_ENOMEM, "loop actors");
    }
    pipe_node_set_lact_faults(n, faults);
    for (size_t i = 0; i < nf; i++) {
        struct pipe_feed *f = pipe_node_feed(n, i);
        snprintf(names[i], sizeof names[i], "poll-%s", f->cfg->name);
        role_name(f, PL_PRIMARY, names[nf + i], sizeof names[nf + i]);
        for (int r = 0; r < PIPE_CONN_SLOTS; r++)
            f->conn_ref[r] = (struct pipe_conn_ref){.f = f, .role = r};
        kids[i] = (struct tr_lact_spec){.id = names[i], .def = &poll_def, .arg = f,
                                        .backoff_base_ms = f->cfg->registry_backoff_base_ms,
                                        .backoff_max_ms = f->cfg->registry_backoff_max_ms};
        kids[nf + i] = (struct tr_lact_spec){.id = names[nf + i], .def = &conn_def,
                                             .arg = &f->conn_ref[PL_PRIMARY],
                                             .backoff_base_ms = f->cfg->backoff_base_ms,
                                             .backoff_max_ms = f->cfg->backoff_max_ms};
    }
    /* one_for_one: a feed's connection and poller share nothing but the
     * feed's figures and the deduplicator's streams, which both survive */
    struct tr_lsup_spec spec = {.name = "collector", .strategy = TR_ONE_FOR_ONE,
                                .intensity = (uint32_t)(3 * nf + 2), .period_ms = 60000,
                                .children = kids, .n_children = 2 * nf,
                                .escalate_cb = escalate_cb, .escalate_arg = n};
    struct tr_lsup *sup = NULL;
    int rc = tr_lsup_start(sys, pipe_node_loop(n), &spec, &sup, err);
    free(kids);
    free(names);
    if (rc)
        return rc;
    pipe_node_set_lsup(n, sup);
    for (size_t i = 0; i < nf; i++) {
        struct pipe_feed *f = pipe_node_feed(n, i);
        char id[64];
        snprintf(id, sizeof id, "poll-%s", f->cfg->name);
        f->poll_act = tr_lsup_find(sup, id);
        role_name(f, PL_PRIMARY, id, sizeof id);
        f->conn_act[PL_PRIMARY] = tr_lsup_find(sup, id);
    }
    return 0;
}

void pipe_lact_close(struct pipe_node *n)
{
    struct tr_lsup *sup = pipe_node_lsup(n);
    if (!sup)
        return;
    tr_lsup_close(sup);
    pipe_node_set_lsup(n, NULL);
    for (size_t i = 0; i < pipe_node_n_feeds(n); i++) {
        struct pipe_feed *f = pipe_node_feed(n, i);
        memset(f->conn_act, 0, sizeof f->conn_act);
        f->poll_act = NULL;
    }
}

int pipe_lact_conn_up(const struct pipe_feed *f)
{
    return !f->conn_act[PL_PRIMARY] || tr_lact_running(f->conn_act[PL_PRIMARY]);
}
