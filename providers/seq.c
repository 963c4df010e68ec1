/* Sequencing, reusable by every adapter: tr_seqtrack (one stream's
 * position: ok / duplicate / gap / resync), tr_booksync (snapshot plus
 * buffered deltas, the Binance U/u rule written once for every provider with
 * a chained book), and tr_sequencer (one tracker per stream of a connection,
 * keyed as the adapter's tr_stream_desc says, inserting gap events). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const verdict_names[] = {"ok", "first", "dup", "gap", "resync"};

const char *tr_seq_verdict_name(int v)
{
    return v >= 0 && v <= TR_SEQ_RESYNC ? verdict_names[v] : "unknown";
}

void tr_seqtrack_init(struct tr_seqtrack *t)
{
    memset(t, 0, sizeof *t);
}

void tr_seqtrack_snapshot(struct tr_seqtrack *t, uint64_t seq)
{
    t->last = seq;
    t->have = 1;
    t->loose = 1;
}

int tr_seqtrack_step(struct tr_seqtrack *t, uint64_t first, uint64_t last, uint64_t *gap_from,
                     uint64_t *gap_to)
{
    if (first > last)
        first = last; /* a malformed range counts as its last id */
    if (!t->have) {
        t->last = last;
        t->have = 1;
        return TR_SEQ_FIRST;
    }
    if (last <= t->last)
        return TR_SEQ_DUP;
    if (t->loose) {
        /* First event after a snapshot: it must straddle last+1. */
        if (first <= t->last + 1) {
            t->loose = 0;
            t->last = last;
            return TR_SEQ_OK;
        }
    } else if (first == t->last + 1) {
        t->last = last;
        return TR_SEQ_OK;
    } else if (first <= t->last) {
        /* Overlaps what we have but extends it: the chain is inconsistent. */
        t->last = last;
        return TR_SEQ_RESYNC;
    }
    if (gap_from)
        *gap_from = t->last + 1;
    if (gap_to)
        *gap_to = first - 1;
    t->loose = 0;
    t->last = last;
    return TR_SEQ_GAP;
}

/* ---------------------------------------------------------------- booksync */

static void event_drop(struct tr_event *ev)
{
    free((void *)ev->levels);
    ev->levels = NULL;
}

/* Deep copy: the delta's levels live in the caller's frame scratch. */
static int event_copy(struct tr_event *dst, const struct tr_event *src)
{
    *dst = *src;
    dst->raw = NULL;
    dst->raw_len = 0;
    dst->fields &= ~(uint32_t)TR_F_RAW;
    size_t n = (size_t)src->n_bids + src->n_asks;
    dst->levels = NULL;
    if (n && src->levels) {
        struct tr_level *l = malloc(n * sizeof *l);
        if (!l)
            return TR_ENOMEM;
        memcpy(l, src->levels, n * sizeof *l);
        dst->levels = l;
    }
    return 0;
}

void tr_booksync_init(struct tr_booksync *b, size_t max_buffered)
{
    memset(b, 0, sizeof *b);
    b->max = max_buffered ? max_buffered : 10000;
}

void tr_booksync_reset(struct tr_booksync *b)
{
    for (size_t i = 0; i < b->n; i++)
        event_drop(&b->buf[i]);
    b->n = 0;
    b->state = TR_BOOK_BUFFERING;
    tr_seqtrack_init(&b->track);
}

void tr_booksync_close(struct tr_booksync *b)
{
    tr_booksync_reset(b);
    free(b->buf);
    b->buf = NULL;
    b->cap = 0;
}

static uint64_t first_of(const struct tr_event *ev)
{
    return (ev->fields & TR_F_FIRST_SEQ) ? ev->first_seq : ev->seq;
}

static int buffer_delta(struct tr_booksync *b, const struct tr_event *delta)
{
    if (b->n == b->max)
        return TR_EOVERLOADED;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        if (cap > b->max)
            cap = b->max;
        struct tr_event *e = realloc(b->buf, cap * sizeof *e);
        if (!e)
            return TR_ENOMEM;
        b->buf = e;
        b->cap = cap;
    }
    int rc = event_copy(&b->buf[b->n], delta);
    if (rc)
        return rc;
    b->n++;
    return TR_SEQ_FIRST;
}

int tr_booksync_delta(struct tr_booksync *b, const struct tr_event *delta, tr_event_cb cb,
                      void *arg, uint64_t *gap_from, uint64_t *gap_to)
{
    if (b->state == TR_BOOK_BUFFERING)
        return buffer_delta(b, delta);
    uint64_t from = 0, to = 0;
    int v = tr_seqtrack_step(&b->track, first_of(delta), delta->seq, &from, &to);
    if (v == TR_SEQ_DUP) {
        b->stale++;
        return TR_SEQ_DUP;
    }
    if (v == TR_SEQ_GAP || v == TR_SEQ_RESYNC) {
        if (gap_from)
            *gap_from = v == TR_SEQ_GAP ? from : first_of(delta);
        if (gap_to)
            *gap_to = v == TR_SEQ_GAP ? to : delta->seq;
        tr_booksync_reset(b);
        int rc = buffer_delta(b, delta);
        return rc < 0 ? rc : v;
    }
    b->applied++;
    int rc = cb ? cb(arg, delta) : 0;
    return rc ? rc : TR_SEQ_OK;
}

int tr_booksync_snapshot(struct tr_booksync *b, const struct tr_event *snap, tr_event_cb cb,
                         void *arg)
{
    uint64_t L = snap->seq;
    size_t i = 0;
    while (i < b->n && b->buf[i].seq <= L)
        i++;
    if (i < b->n && first_of(&b->buf[i]) > L + 1)
        return TR_SEQ_RESYNC; /* the snapshot is older than the buffer */
    int rc = cb ? cb(arg, snap) : 0;
    if (rc)
        return rc;
    b->stale += i;
    tr_seqtrack_snapshot(&b->track, L);
    b->state = TR_BOOK_LIVE;
    size_t n = b->n;
    b->n = 0; /* the buffer is handed out below; a gap inside re-buffers */
    int out = TR_SEQ_OK;
    for (size_t k = 0; k < n; k++) {
        struct tr_event *d = &b->buf[k];
        if (k >= i && out == TR_SEQ_OK) {
            uint64_t from, to;
            int v = tr_seqtrack_step(&b->track, first_of(d), d->seq, &from, &to);
            if (v == TR_SEQ_OK || v == TR_SEQ_FIRST) {
                b->applied++;
                if (cb && (rc = cb(arg, d)))
                    out = rc;
            } else if (v == TR_SEQ_DUP) {
                b->stale++;
            } else {
                out = TR_SEQ_GAP; /* a hole inside the buffer */
            }
        }
        event_drop(d);
    }
    if (out == TR_SEQ_GAP)
        tr_booksync_reset(b);
    return out;
}

/* --------------------------------------------------------------- sequencer */

struct slot {
    char *key; /* NULL = empty */
    struct tr_seqtrack t;
};

struct tr_sequencer {
    const struct tr_provider_ops *ops;
    struct slot *slots;
    size_t cap, used;
    struct tr_seq_stats stats;
};

int tr_sequencer_alloc(const struct tr_provider_ops *ops, struct tr_sequencer **out,
                       struct tr_error *err)
{
    struct tr_sequencer *s = calloc(1, sizeof *s);
    if (s)
        s->slots = calloc(64, sizeof *s->slots);
    if (!s || !s->slots) {
        free(s);
        return tr_errorf(err, TR_ENOMEM, "sequencer");
    }
    s->cap = 64;
    s->ops = ops;
    *out = s;
    return 0;
}

void tr_sequencer_reset(struct tr_sequencer *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        free(s->slots[i].key);
        s->slots[i].key = NULL;
    }
    s->used = 0;
}

void tr_sequencer_free(struct tr_sequencer *s)
{
    if (!s)
        return;
    tr_sequencer_reset(s);
    free(s->slots);
    free(s);
}

const struct tr_seq_stats *tr_sequencer_stats(const struct tr_sequencer *s)
{
    return &s->stats;
}

static uint64_t fnv(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

static struct slot *find_slot(struct slot *slots, size_t cap, const char *key)
{
    size_t i = fnv(key) & (cap - 1);
    while (slots[i].key && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static struct tr_seqtrack *track_for(struct tr_sequencer *s, const char *key)
{
    struct slot *sl = find_slot(s->slots, s->cap, key);
    if (sl->key)
        return &sl->t;
    if ((s->used + 1) * 10 > s->cap * 7) {
        size_t cap = s->cap * 2;
        struct slot *n = calloc(cap, sizeof *n);
        if (!n)
            return NULL;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i].key)
                *find_slot(n, cap, s->slots[i].key) = s->slots[i];
        free(s->slots);
        s->slots = n;
        s->cap = cap;
        sl = find_slot(s->slots, s->cap, key);
    }
    sl->key = strdup(key);
    if (!sl->key)
        return NULL;
    tr_seqtrack_init(&sl->t);
    s->used++;
    return &sl->t;
}

static int emit_gap(struct tr_sequencer *s, const struct tr_event *ev, const char *stream,
                    uint64_t from, uint64_t to, const char *how, tr_event_cb cb, void *arg)
{
    struct tr_event g;
    tr_event_init(&g);
    g.kind = TR_KIND_GAP;
    memcpy(g.provider, ev->provider, sizeof g.provider);
    memcpy(g.instrument, ev->instrument, sizeof g.instrument);
    g.from_seq = from;
    g.to_seq = to;
    g.fields = TR_F_GAP | TR_F_TEXT;
    snprintf(g.text, sizeof g.text, "%s: %s", stream, how);
    if (ev->fields & TR_F_TS_RECEIVE) {
        g.ts_receive = ev->ts_receive;
        g.fields |= TR_F_TS_RECEIVE;
    }
    s->stats.gaps++;
    return cb(arg, &g);
}

static const char *resync_how(int resync)
{
    switch (resync) {
    case TR_RESYNC_BACKFILL_ID: return "sequence gap, backfill by id over REST";
    case TR_RESYNC_BACKFILL_CURSOR: return "sequence gap, backfill by time over REST";
    case TR_RESYNC_SNAPSHOT: return "sequence gap, resync from a REST snapshot";
    case TR_RESYNC_RESUBSCRIBE: return "sequence gap, resubscribe for a snapshot";
    default: return "sequence gap";
    }
}

static int stream_key(char *key, size_t cap, const struct tr_frame *f, const struct tr_event *ev,
                      const struct tr_stream_desc *d)
{
    int klass = d->kind == TR_KIND_BOOK_SNAPSHOT ? TR_KIND_BOOK_DELTA : d->kind;
    int n;
    if (d->gaps == TR_GAP_CONNECTION)
        n = snprintf(key, cap, "%d|#%llu", klass, f->has_sid ? (unsigned long long)f->sid : 0ull);
    else
        n = snprintf(key, cap, "%d|%s", klass, ev->instrument);
    return n > 0 && (size_t)n < cap ? 0 : TR_ETOOBIG;
}

static int step_event(struct tr_sequencer *s, const struct tr_frame *f, const struct tr_event *ev,
                      tr_event_cb cb, void *arg)
{
    const struct tr_stream_desc *d = s->ops->stream ? s->ops->stream(ev->kind) : NULL;
    s->stats.events++;
    if (!d || d->gaps == TR_GAP_NONE)
        return cb(arg, ev);
    char key[TR_INSTRUMENT_MAX + 32];
    if (stream_key(key, sizeof key, f, ev, d))
        return cb(arg, ev);
    struct tr_seqtrack *t = track_for(s, key);
    if (!t)
        return TR_ENOMEM;
    const char *name = tr_kind_name(d->kind == TR_KIND_BOOK_SNAPSHOT ? TR_KIND_BOOK_DELTA : d->kind);
    if (ev->kind == TR_KIND_BOOK_SNAPSHOT && d->gaps != TR_GAP_CONNECTION) {
        if (ev->fields & TR_F_SEQ)
            tr_seqtrack_snapshot(t, ev->seq);
        else
            tr_seqtrack_init(t);
        return cb(arg, ev);
    }
    uint64_t first, last, from = 0, to = 0;
    if (d->gaps == TR_GAP_CONNECTION) {
        if (!f->has_conn_seq)
            return cb(arg, ev);
        first = last = f->conn_seq;
    } else {
        if (!(ev->fields & TR_F_SEQ))
            return cb(arg, ev);
        first = (ev->fields & TR_F_FIRST_SEQ) ? ev->first_seq : ev->seq;
        last = ev->seq;
    }
    int v = tr_seqtrack_step(t, first, last, &from, &to);
    int rc;
    switch (v) {
    case TR_SEQ_DUP:
        s->stats.dups++;
        return 0;
    case TR_SEQ_GAP:
        if ((rc = emit_gap(s, ev, name, from, to, resync_how(d->resync), cb, arg)))
            return rc;
        break;
    case TR_SEQ_RESYNC:
        s->stats.resyncs++;
        if ((rc = emit_gap(s, ev, name, first, last, "overlapping update, resync", cb, arg)))
            return rc;
        break;
    default:
        break;
    }
    return cb(arg, ev);
}

static int step_marks(struct tr_sequencer *s, const struct tr_frame *f, tr_event_cb cb, void *arg)
{
    const struct tr_stream_desc *d = s->ops->stream ? s->ops->stream(TR_KIND_TRADE) : NULL;
    if (!d || d->gaps != TR_GAP_CONTIGUOUS)
        return 0;
    for (size_t i = 0; i < f->n_marks; i++) {
        const struct tr_ctl_mark *m = &f->marks[i];
        if (!m->last_trade_id)
            continue;
        char key[TR_INSTRUMENT_MAX + 32];
        snprintf(key, sizeof key, "%d|%s", TR_KIND_TRADE, m->instrument);
        struct slot *sl = find_slot(s->slots, s->cap, key);
        if (!sl->key || !sl->t.have || m->last_trade_id <= sl->t.last)
            continue;
        struct tr_event ref;
        tr_event_init(&ref);
        snprintf(ref.provider, sizeof ref.provider, "%s", s->ops->name);
        memcpy(ref.instrument, m->instrument, sizeof ref.instrument);
        uint64_t from = sl->t.last + 1;
        sl->t.last = m->last_trade_id;
        s->stats.heartbeat_gaps++;
        int rc = emit_gap(s, &ref, "trade", from, m->last_trade_id,
                          "heartbeat is ahead, backfill by id over REST", cb, arg);
        if (rc)
            return rc;
    }
    return 0;
}

int tr_sequencer_step(struct tr_sequencer *s, const struct tr_frame *f, tr_event_cb cb, void *arg)
{
    for (size_t i = 0; i < f->n_events; i++) {
        int rc = step_event(s, f, &f->events[i], cb, arg);
        if (rc)
            return rc;
    }
    return step_marks(s, f, cb, arg);
}
