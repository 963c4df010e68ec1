/* Markets a subscription limit refused ("shed"), and the overflow
 * connections that take them (docs/node.md "Subscription limits").
 *
 * Providers limit subscriptions per connection (Binance 1024 streams,
 * Kalshi, the simulator's sub_limit fault). A shed market is moved to a
 * new connection of the same feed (overflow slots 2.., up to
 * max_connections per feed, the primary pair counting as one), which
 * subscribes only its own markets. At that bound, the shed markets are
 * asked for again on the open connection with the fewest markets, after
 * min(base * 2^attempt, max) + jitter (the feed's ws_backoff), since a
 * limit may be raised or lifted; every refusal doubles the wait, an
 * accepted subscription resets it. Until a subscription accepts them the
 * markets are listed as shed in /api/status.
 *
 * Overflow connections reconnect like the primary (at once after 1000,
 * else with backoff; their markets resume through the usual repairs) and
 * are rotated make-before-break with it on their pair's other slot
 * (pipe_xrot.c). Each is a loop actor of its own, "conn-<feed>.<slot>"
 * (pipe_lact.c), from its first open until shedding or a rotation leaves
 * it with no market. */
#include "pipe_feed.h"

#include "nlog.h"
#include "pipe_lact.h"
#include "tickraft/actor_sup.h"

#define PLACE_SOON_MS 100 /* lets the refusals of one subscription arrive first */

int pipe_shed_group_size(const struct pipe_feed *f, int g)
{
    int n = 0;
    for (size_t i = 0; i < f->cfg->n_instruments; i++)
        n += f->home[i] == g && !f->dropped[i];
    return n;
}

int pipe_feed_open_conns(const struct pipe_feed *f)
{
    int n = 0;
    for (int k = 0; k < PIPE_CONN_SLOTS; k++)
        n += f->conn[k].state == PC_OPEN;
    return n;
}

size_t pipe_shed_pending(const struct pipe_feed *f, int *idx, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < f->cfg->n_instruments && n < max; i++)
        if (!f->dropped[i] && (f->home[i] < 0 || f->confirming[i]))
            idx[n++] = (int)i;
    return n;
}

static int pair_busy(const struct pipe_feed *f, int s)
{
    const struct pipe_conn *c = &f->conn[s];
    return pipe_shed_group_size(f, s) || c->state != PC_IDLE || c->succ_of;
}

/* An overflow pair within max_connections that serves nothing (its first
 * slot), or -1. A pair counts as one connection: its other slot is for
 * the rotation's new one (pipe_xrot.c). */
static int free_slot(const struct pipe_feed *f)
{
    uint32_t used = 1; /* the primary pair */
    int free_s = -1;
    for (int s = 2; s < 2 + PIPE_OVF_PAIR; s++) {
        if (pair_busy(f, s) || pair_busy(f, pipe_ovf_partner(s)))
            used++;
        else if (free_s < 0 && (uint32_t)s <= f->cfg->max_conns)
            free_s = s; /* slots 2..max_conns: max_conns - 1 overflow connections */
    }
    return used < f->cfg->max_conns ? free_s : -1;
}

static void shed_cb(uv_timer_t *t);

/* Fires the timer in `ms` unless it is already due sooner. */
static void arm(struct pipe_feed *f, uint64_t ms)
{
    int64_t due = pipe_now_ns() + (int64_t)ms * 1000000;
    if (f->shed_due_ns && f->shed_due_ns <= due && uv_is_active((uv_handle_t *)&f->shed_timer))
        return;
    f->shed_due_ns = due;
    uv_timer_start(&f->shed_timer, shed_cb, ms, 0);
}

static uint64_t backoff(struct pipe_feed *f, uint32_t *attempt)
{
    return tr_backoff_ms(f->cfg->backoff_base_ms, f->cfg->backoff_max_ms, (*attempt)++,
                         pipe_node_rand(f->node));
}

/* Markets just asked for on the active primary connection during a
 * rotation's overlap: the new connection sent its subscription at its
 * open, without them, and takes over when the old one closes, so it asks
 * for them too (one still connecting subscribes every market of group 0
 * when it opens, these included). If it cannot, the rotation ends (the
 * new connection closed) and the old one stays with every market. */
static void also_on_incoming(struct pipe_feed *f, const int *idx, size_t n)
{
    struct pipe_conn *o = &f->conn[1 - f->active];
    if (!o->incoming || o->state != PC_OPEN)
        return;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "conn",
            "rotation under way: asking the new connection too", TR_KV_STR("feed", f->cfg->name),
            TR_KV_INT("slot", o->slot), TR_KV_UINT("markets", n));
    if (pipe_conn_subscribe_more(o, idx, n) < 0)
        pipe_conn_close(o, 1000);
}

/* Moves the shed markets to a new connection, or at the bound asks for
 * them again on the least loaded open one. 1: nothing could be done now
 * (retry later). */
static int place(struct pipe_feed *f)
{
    struct tr_nlog *lg = pipe_node_log(f->node);
    int idx[PIPE_MAX_INST];
    size_t n = 0;
    for (size_t i = 0; i < f->cfg->n_instruments; i++)
        if (f->home[i] < 0 && !f->dropped[i])
            idx[n++] = (int)i;
    if (!n)
        return 0;
    int s = free_slot(f);
    if (s >= 2) {
        for (size_t k = 0; k < n; k++) {
            f->home[idx[k]] = (int8_t)s;
            f->confirming[idx[k]] = 1;
        }
        tr_nlog(lg, TR_NLOG_WARN, "conn", "shed markets moved to a new connection",
                TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", s), TR_KV_UINT("markets", n),
                TR_KV_STR("first", f->cfg->instruments[idx[0]]));
        if (pipe_conn_open(f, s) < 0) {
            f->reconnects[PC_C_REFUSED]++;
            return 1;
        }
        return 0;
    }
    /* at the bound: the open, subscribed connection with the fewest markets */
    int best = -1, best_n = 0;
    for (int k = 0; k < PIPE_CONN_SLOTS; k++) {
        const struct pipe_conn *c = &f->conn[k];
        if (c->state != PC_OPEN || !c->subscribed || c->incoming || c->retiring ||
            (k < 2 && k != f->active) || c->succ_of ||
            (k >= 2 && f->conn[pipe_ovf_partner(k)].succ_of)) /* rotating: not now */
            continue;
        int g = pipe_conn_group(c), gn = pipe_shed_group_size(f, g);
        if (best < 0 || gn < best_n) {
            best = k;
            best_n = gn;
        }
    }
    if (best < 0)
        return 1;
    struct pipe_conn *c = &f->conn[best];
    for (size_t k = 0; k < n; k++) {
        f->home[idx[k]] = (int8_t)pipe_conn_group(c);
        f->confirming[idx[k]] = 1;
    }
    tr_nlog(lg, TR_NLOG_WARN, "conn", "connections at max_connections: asking again for shed markets",
            TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", best), TR_KV_UINT("markets", n),
            TR_KV_STR("first", f->cfg->instruments[idx[0]]),
            TR_KV_UINT("attempt", f->shed_attempt));
    if (pipe_conn_subscribe_more(c, idx, n) < 0) {
        for (size_t k = 0; k < n; k++) {
            f->home[idx[k]] = -1;
            f->confirming[idx[k]] = 0;
        }
        return 1;
    }
    if (best < 2)
        also_on_incoming(f, idx, n);
    return 0;
}

static void shed_cb(uv_timer_t *t)
{
    struct pipe_feed *f = t->data;
    f->shed_due_ns = 0;
    if (pipe_node_stopping(f->node) || f->paused || f->halted_ws || f->ws_hold)
        return; /* (a maintenance hold kicks it again at its end) */
    int again = 0;
    for (int s = 2; s < PIPE_CONN_SLOTS; s++)
        if (f->conn[s].state == PC_IDLE && pipe_shed_group_size(f, s) && pipe_conn_open(f, s) < 0) {
            f->reconnects[PC_C_REFUSED]++;
            again = 1;
        }
    if (place(f) || again)
        arm(f, backoff(f, again ? &f->x_attempt : &f->shed_attempt));
}

/* Asks again for the rest on every connection whose limit refusals named
 * no market, now that the refusals of the request are in. */
static void reask_cb(uv_timer_t *t)
{
    struct pipe_feed *f = t->data;
    for (int s = 0; s < PIPE_CONN_SLOTS; s++) {
        struct pipe_conn *c = &f->conn[s];
        if (!c->reask_due)
            continue;
        c->reask_due = 0;
        pipe_shed_ask_rest(f, c);
    }
}

void pipe_shed_init(struct pipe_feed *f, uv_loop_t *loop)
{
    uv_timer_init(loop, &f->shed_timer);
    f->shed_timer.data = f;
    uv_timer_init(loop, &f->reask_timer);
    f->reask_timer.data = f;
    uv_timer_init(loop, &f->xrot_timer);
    f->xrot_timer.data = f;
}

void pipe_shed_close(struct pipe_feed *f)
{
    uv_close((uv_handle_t *)&f->shed_timer, NULL);
    uv_close((uv_handle_t *)&f->reask_timer, NULL);
    uv_close((uv_handle_t *)&f->xrot_timer, NULL);
}

void pipe_shed_kick(struct pipe_feed *f)
{
    arm(f, 0);
}

void pipe_shed_stop(struct pipe_feed *f)
{
    uv_timer_stop(&f->shed_timer);
    uv_timer_stop(&f->reask_timer);
    uv_timer_stop(&f->xrot_timer);
    f->shed_due_ns = 0;
}

int pipe_shed_market(struct pipe_feed *f, struct pipe_conn *c, int i)
{
    int g = pipe_conn_group(c);
    /* not named: the last market asked for on c, preferring those whose
     * subscription is still unanswered (the request just refused) */
    for (size_t k = f->cfg->n_instruments; i < 0 && k-- > 0;)
        if (f->home[k] == g && f->confirming[k] && !f->dropped[k])
            i = (int)k;
    for (size_t k = f->cfg->n_instruments; i < 0 && k-- > 0;)
        if (f->home[k] == g && !f->dropped[k])
            i = (int)k;
    if (i < 0 || f->home[i] < 0)
        return i;
    f->home[i] = -1;
    f->confirming[i] = 0;
    f->shed_total++;
    /* an overflow connection refused all it was opened for: a new one
     * may well be refused too (a limit per account), so the next
     * placement waits the backoff instead of reopening in a loop */
    int emptied = g >= 2 && !pipe_shed_group_size(f, g);
    arm(f, free_slot(f) >= 2 && !emptied ? PLACE_SOON_MS : backoff(f, &f->shed_attempt));
    if (emptied)
        pipe_conn_close(c, 1000);
    return i;
}

void pipe_shed_reask_later(struct pipe_feed *f, struct pipe_conn *c)
{
    /* not at once: one request can draw several refusals (the simulator's
     * native dialect sends one per market over the limit, none naming it),
     * and a re-ask sent among them would be refused again for the markets
     * those later refusals shed, each refusal of it shedding one more */
    c->reask_due = 1;
    if (!uv_is_active((uv_handle_t *)&f->reask_timer))
        uv_timer_start(&f->reask_timer, reask_cb, PLACE_SOON_MS, 0);
}

void pipe_shed_ask_rest(struct pipe_feed *f, struct pipe_conn *c)
{
    int g = pipe_conn_group(c), idx[PIPE_MAX_INST];
    size_t n = 0;
    for (size_t i = 0; i < f->cfg->n_instruments; i++)
        if (f->home[i] == g && !f->dropped[i])
            idx[n++] = (int)i;
    if (!n || c->state != PC_OPEN)
        return;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "conn",
            "limit refusal named no market: asking again for the rest", TR_KV_STR("feed", f->cfg->name),
            TR_KV_INT("slot", c->slot), TR_KV_UINT("markets", n));
    if (pipe_conn_subscribe_more(c, idx, n) < 0)
        pipe_conn_close(c, 1000); /* its reconnect subscribes them */
}

void pipe_shed_confirmed(struct pipe_feed *f, int g, int resume)
{
    int any = 0;
    for (size_t i = 0; i < f->cfg->n_instruments; i++) {
        if (f->home[i] != g || !f->confirming[i])
            continue;
        f->confirming[i] = 0;
        f->resubscribed++;
        any = 1;
        tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "conn", "shed market subscribed again",
                TR_KV_STR("feed", f->cfg->name), TR_KV_STR("instrument", f->cfg->instruments[i]),
                TR_KV_INT("slot", g));
        if (resume)
            pipe_feed_resume_market(f, i);
    }
    if (any)
        f->shed_attempt = 0;
    if (g >= 2)
        f->x_attempt = 0;
}

void pipe_shed_conn_ended(struct pipe_conn *c, int cause, int code)
{
    struct pipe_feed *f = c->feed;
    if (pipe_node_stopping(f->node) || f->paused)
        return;
    if (!pipe_shed_group_size(f, c->slot)) { /* emptied by shedding: the slot is free */
        pipe_lact_conn_release(f, c->slot); /* closed on purpose: its actor ends */
        /* a placement already due (the refusals' backoff) stays as due */
        if (!uv_is_active((uv_handle_t *)&f->shed_timer))
            arm(f, PLACE_SOON_MS);
        return;
    }
    f->reconnects[cause]++;
    /* markets whose subscription never got an answer are asked again with
     * the rest when it reconnects */
    uint64_t delay = cause == PC_C_RESYNC || code == 1000 ? 0 : backoff(f, &f->x_attempt);
    /* maintenance (or a close that may be one): pipe_maint.c reopens it */
    if (delay && pipe_maint_hold_ws(f, cause, code, delay))
        return;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "conn", "overflow connection reconnecting",
            TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot),
            TR_KV_STR("cause", pc_cause_name(cause)), TR_KV_INT("code", code),
            TR_KV_UINT("delay_ms", delay));
    arm(f, delay);
}
