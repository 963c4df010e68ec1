/* Trade losses that no sequence can pin on a market (Kalshi): the trade
 * channel's per-subscription `seq` says how many trade messages a
 * connection missed, but not of which market, and Kalshi trade ids (UUIDs)
 * say nothing about neighbours. The node reconnects (fresh subscription)
 * and backfills every trade stream of that connection's markets by time;
 * when all those repairs are done it compares:
 *
 *   missed   = trade messages the subscription's seq skipped
 *   written  = trades those repairs wrote that the stream had not seen
 *              (REST answers, and live trades held during the repair)
 *
 * written counts more than the missed trades it recovered (it includes the
 * reconnect's own window), so missed > written proves at least
 * missed - written trades are lost for good. Then every trade stream of
 * the connection gets an explicit gap event saying so (which market lost
 * them is unknown): never a silent hole. missed <= written proves nothing
 * either way and writes nothing (docs/node.md "Kalshi trade losses").
 *
 * Rotations (make-before-break): while a rotation's two connections both
 * serve a group's markets, a skip on one of them proves nothing when the
 * other one is subscribed (it delivered those messages, or counts its own
 * skip), so it is not counted; when the markets move to the new slot of an
 * overflow pair, the group's counters and repairs move with them. */
#include "pipe_feed.h"

#include <stdio.h>
#include <string.h>

#include "nlog.h"

void pipe_loss_missed(struct pipe_feed *f, int g, uint64_t n)
{
    if (g < 0 || g >= PIPE_CONN_SLOTS)
        return;
    f->loss[g].missed += n;
    f->loss_missed_total += n;
}

int pipe_loss_skip_group(const struct pipe_feed *f, const struct pipe_conn *c)
{
    const struct pipe_conn *o = NULL; /* the other connection of the same markets */
    if (c->slot < 2) {
        o = &f->conn[1 - c->slot]; /* the primary pair: both serve group 0 */
    } else {
        int p = pipe_ovf_partner(c->slot);
        if (f->conn[p].succ_of == c->slot || c->succ_of == p) /* rotating */
            o = &f->conn[p];
    }
    if (o && o->state == PC_OPEN && o->subscribed)
        return -1;
    return pipe_conn_sub_group(c);
}

void pipe_loss_skipped(struct pipe_conn *c, uint64_t n)
{
    struct pipe_feed *f = c->feed;
    int g = pipe_loss_skip_group(f, c);
    if (g >= 0) {
        pipe_loss_missed(f, g, n);
        return;
    }
    tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "dedup",
            "trade messages skipped during a rotation: the other connection delivers them, not counted",
            TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot), TR_KV_UINT("skipped", n));
}

void pipe_loss_moved(struct pipe_feed *f, struct pd_stream *all, int from, int to)
{
    if (from == to || from < 0 || from >= PIPE_CONN_SLOTS || to < 0 || to >= PIPE_CONN_SLOTS)
        return;
    struct pipe_loss *a = &f->loss[from], *b = &f->loss[to];
    /* (b is normally empty; if not, comparing the sums still proves no more
     * than the two comparisons would) */
    b->missed += a->missed;
    b->missed_now += a->missed_now;
    b->written += a->written;
    b->pending += a->pending;
    memset(a, 0, sizeof *a);
    for (struct pd_stream *s = all; s; s = s->next_all)
        if (s->feed == f && s->loss_group == from + 1)
            s->loss_group = (uint8_t)(to + 1);
}

void pipe_loss_repairs_started(struct pipe_feed *f, int g)
{
    if (g < 0 || g >= PIPE_CONN_SLOTS || !f->loss[g].missed || f->loss[g].pending)
        return;
    struct pipe_dedup *d = pipe_node_dedup(f->node);
    for (struct pd_stream *s = d->all; s; s = s->next_all) {
        if (s->feed != f || s->kind != TR_KIND_TRADE || s->mode != PD_MODE_IDSET ||
            s->state != PD_REPAIRING || s->loss_group)
            continue;
        int i = -1;
        for (size_t k = 0; k < f->cfg->n_instruments && i < 0; k++)
            if (!strcmp(f->cfg->instruments[k], s->instrument))
                i = (int)k;
        if (i < 0 || f->home[i] != g)
            continue;
        s->loss_group = (uint8_t)(g + 1);
        s->loss_written0 = s->written;
        f->loss[g].pending++;
    }
    f->loss[g].missed_now = f->loss[g].missed;
    f->loss[g].missed = 0;
    f->loss[g].written = 0;
    if (!f->loss[g].pending) /* nothing to repair: nothing can be claimed */
        f->loss[g].missed_now = 0;
}

void pipe_loss_repair_done(struct pipe_feed *f, struct pd_stream *s)
{
    if (!s->loss_group)
        return;
    int g = s->loss_group - 1;
    s->loss_group = 0;
    struct pipe_loss *l = &f->loss[g];
    l->written += s->written - s->loss_written0;
    if (!l->pending || --l->pending)
        return;
    uint64_t missed = l->missed_now;
    l->missed_now = 0;
    if (missed <= l->written)
        return;
    uint64_t lost = missed - l->written;
    f->loss_lost_total += lost;
    char why[TR_TEXT_MAX];
#define U32(x) ((unsigned)((x) > UINT32_MAX ? UINT32_MAX : (x)))
    snprintf(why, sizeof why, "trades lost: >= %u (%u missed on the subscription, %u repaired)",
             U32(lost), U32(missed), U32(l->written));
    tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "dedup", "unrecoverable trade loss: gap events",
            TR_KV_STR("feed", f->cfg->name), TR_KV_INT("group", g), TR_KV_UINT("missed", missed),
            TR_KV_UINT("written", l->written), TR_KV_UINT("lost_at_least", lost));
    struct pipe_dedup *d = pipe_node_dedup(f->node);
    for (size_t i = 0; i < f->cfg->n_instruments; i++) {
        if (f->home[i] != g || f->dropped[i])
            continue;
        struct pd_stream *t = pipe_dedup_stream(d, f->ops->name, TR_KIND_TRADE,
                                                f->cfg->instruments[i],
                                                f->ops->stream(TR_KIND_TRADE));
        if (!t || !t->have)
            continue;
        int rc = pipe_dedup_gap_note(d, t, why);
        if (rc < 0) {
            pipe_node_fatal(f->node, rc, "deduplicate/write");
            return;
        }
    }
}
