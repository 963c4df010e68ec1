/* Make-before-break rotation of overflow connections (docs/node.md
 * "Subscription limits"). The primary pair (slots 0-1) rotates in
 * pipe_conn.c; an overflow connection of shed markets (slot s) rotates the
 * same way on the other slot of its pair (pipe_ovf_partner): at the feed's
 * rotation (the schedule, SIGUSR1) a new connection opens there and
 * subscribes the old one's markets while the old one keeps delivering
 * (the deduplicator drops what both deliver); rotate_overlap after the new
 * one is subscribed its slot becomes the markets' home and the old one is
 * closed with 1000. Both are overflow loop actors ("conn-<feed>.<slot>"),
 * so the new one's failure restarts it alone (it reconnects while the
 * rotation can still go on), and the old one, left without markets, ends
 * on purpose like any overflow connection shedding emptied.
 *
 * Why the pair's other slot rather than a second copy of the primary's
 * rotation state per slot: the markets' `home` is the slot that
 * subscribes them, so moving them is one assignment and everything that
 * follows them (shedding, reconnects, the actor's restart) needs no
 * change; a rotation never needs a slot that placement could take, since
 * placement counts a pair as one connection. */
#include "pipe_feed.h"

#include "nlog.h"
#include "pipe_lact.h"

static void xrot_cb(uv_timer_t *t);

/* Fires the timer when the earliest subscribed successor's overlap ends
 * (never at 0 ms: libuv would run a timer re-armed at 0 from its own
 * callback again in the same pass, for ever). */
static void arm_next(struct pipe_feed *f)
{
    int64_t due = 0, now = pipe_now_ns();
    for (int s = 2; s < PIPE_CONN_SLOTS; s++) {
        const struct pipe_conn *c = &f->conn[s];
        if (!c->succ_of || !c->succ_sub_ns || c->state != PC_OPEN || !c->subscribed)
            continue;
        int64_t d = c->succ_sub_ns + (int64_t)f->cfg->rotate_overlap_ms * 1000000;
        if (!due || d < due)
            due = d;
    }
    if (!due) {
        uv_timer_stop(&f->xrot_timer);
        return;
    }
    uint64_t ms = due > now ? (uint64_t)(due - now + 999999) / 1000000 : 1;
    uv_timer_start(&f->xrot_timer, xrot_cb, ms, 0);
}

/* The new connection c takes the markets of its old one over. */
static void promote(struct pipe_feed *f, struct pipe_conn *c, const char *why)
{
    int g = c->succ_of;
    struct pipe_conn *old = &f->conn[g];
    for (size_t i = 0; i < f->cfg->n_instruments; i++)
        if (f->home[i] == g)
            f->home[i] = (int8_t)c->slot;
    /* trades the group missed and its repairs under way follow the markets
     * (else their gap events would find no market at home on g) */
    pipe_loss_moved(f, pipe_node_dedup(f->node)->all, g, c->slot);
    int64_t sub_ns = c->succ_sub_ns;
    c->succ_of = 0;
    c->succ_sub_ns = 0;
    f->x_rotations++;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "conn", "overflow connection rotated",
            TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot), TR_KV_INT("old_slot", g),
            TR_KV_STR("why", why),
            TR_KV_INT("overlap_ms", sub_ns ? (pipe_now_ns() - sub_ns) / 1000000 : 0),
            TR_KV_UINT("new_data_frames", c->data_frames),
            TR_KV_UINT("old_frames_in_overlap",
                       old->frames >= c->succ_old_frames ? old->frames - c->succ_old_frames : 0));
    /* markets still awaiting an answer on the old one were in this one's
     * subscription, which was answered */
    pipe_shed_confirmed(f, c->slot, 1);
    if (old->state != PC_IDLE) {
        old->retiring = 1;
        pipe_conn_close(old, 1000); /* its end finds no markets: its actor ends */
    } else {
        pipe_lact_conn_release(f, g); /* waiting for a reconnect or a restart: not needed */
    }
}

static void xrot_cb(uv_timer_t *t)
{
    struct pipe_feed *f = t->data;
    if (pipe_node_stopping(f->node) || f->paused)
        return;
    int64_t now = pipe_now_ns(), overlap = (int64_t)f->cfg->rotate_overlap_ms * 1000000;
    for (int s = 2; s < PIPE_CONN_SLOTS; s++) {
        struct pipe_conn *c = &f->conn[s];
        if (c->succ_of && c->succ_sub_ns && c->state == PC_OPEN && c->subscribed &&
            now - c->succ_sub_ns >= overlap)
            promote(f, c, "overlap");
    }
    arm_next(f);
}

void pipe_xrot_rotate(struct pipe_feed *f)
{
    if (pipe_node_stopping(f->node) || f->paused || f->halted_ws || f->ws_hold)
        return;
    for (int g = 2; g < PIPE_CONN_SLOTS; g++) {
        struct pipe_conn *c = &f->conn[g];
        int p = pipe_ovf_partner(g);
        struct pipe_conn *n = &f->conn[p];
        if (c->state != PC_OPEN || !c->subscribed || c->succ_of || c->retiring ||
            !pipe_shed_group_size(f, g) || n->state != PC_IDLE || n->succ_of ||
            pipe_shed_group_size(f, p))
            continue;
        tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "conn",
                "overflow rotation: opening new connection", TR_KV_STR("feed", f->cfg->name),
                TR_KV_INT("slot", p), TR_KV_INT("old_slot", g),
                TR_KV_UINT("markets", (uint64_t)pipe_shed_group_size(f, g)));
        f->reconnects[PC_C_ROTATE]++;
        n->succ_of = g;
        n->succ_sub_ns = 0;
        /* (with actors: "conn-<feed>.<p>" starts and owns it) */
        if (pipe_conn_open(f, p) < 0) {
            n->succ_of = 0;
            pipe_lact_conn_release(f, p); /* the rotation is over */
        }
    }
}

void pipe_xrot_subscribed(struct pipe_conn *c)
{
    struct pipe_feed *f = c->feed;
    c->succ_sub_ns = pipe_now_ns();
    c->succ_old_frames = f->conn[c->succ_of].frames;
    arm_next(f);
}

int pipe_xrot_ended(struct pipe_conn *c, int cause)
{
    struct pipe_feed *f = c->feed;
    int quiet = pipe_node_stopping(f->node) || f->paused;
    if (c->succ_of) { /* the new one ended before taking over: the rotation is over */
        if (!quiet) {
            f->reconnects[cause]++;
            tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "conn",
                    "overflow rotation: new connection ended, keeping the old one",
                    TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot),
                    TR_KV_STR("cause", pc_cause_name(cause)));
        }
        c->succ_of = 0;
        c->succ_sub_ns = 0;
        pipe_lact_conn_release(f, c->slot);
        arm_next(f);
        return 1;
    }
    struct pipe_conn *n = &f->conn[pipe_ovf_partner(c->slot)];
    if (quiet || n->succ_of != c->slot || n->state != PC_OPEN)
        return 0;
    /* the old one died during its rotation: the new one takes over now */
    f->reconnects[cause]++;
    promote(f, n, "old connection ended");
    arm_next(f);
    return 1;
}

int pipe_xrot_pending(const struct pipe_feed *f, int s)
{
    const struct pipe_conn *c = &f->conn[s];
    return c->succ_of && !pipe_node_stopping(f->node) && !f->paused && !f->ws_hold &&
           !f->halted_ws && f->conn[c->succ_of].state == PC_OPEN &&
           pipe_shed_group_size(f, c->succ_of) && !pipe_shed_group_size(f, s);
}
