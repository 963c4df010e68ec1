/* The deduplicator: one canonical stream per (provider, kind, instrument).
 *
 * Each stream keeps the last native sequence handed to the writer. An event
 * at or below it is a duplicate (replays, duplicate frames, the overlap of a
 * make-before-break rotation, a REST page that overlaps live data) and is
 * dropped. The next one in order is emitted at once (the hot path: no copy,
 * no allocation). One that leaves a hole goes into a bounded reorder buffer
 * (encoded copies, sorted by sequence) and starts a repair:
 *   - trade streams (TR_RESYNC_BACKFILL_*): a REST backfill from the last
 *     stored id; pages fill the hole, the buffer drains behind them; what
 *     REST cannot supply becomes an explicit gap event;
 *   - book streams (TR_RESYNC_SNAPSHOT): deltas are buffered until a
 *     snapshot arrives; deltas it supersedes become a gap event, the
 *     snapshot is written, buffered deltas that follow it are replayed;
 *   - streams without repair: the hole becomes a gap event at once.
 * Sequences are per stream: trades by numeric trade id (contiguous at every
 * supported provider), books by update id with Binance's U/u chain rule. */
#include "pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *stream_kind_name(int kind)
{
    switch (kind) {
    case TR_KIND_TRADE: return "trade";
    case TR_KIND_BOOK_DELTA:
    case TR_KIND_BOOK_SNAPSHOT: return "book";
    case TR_KIND_TICKER: return "ticker";
    case TR_KIND_STATUS: return "status";
    default: return "other";
    }
}

/* Per event on the hot path: three copies instead of snprintf (which
 * showed up at ~1.5 % of the collector's time in a profile at 180k/s). */
int pipe_stream_key(const char *provider, int kind, const char *instrument, char *out, size_t cap)
{
    const char *k = stream_kind_name(kind);
    size_t a = strlen(provider), b = strlen(k), c = strlen(instrument);
    size_t n = a + 1 + b + 1 + c;
    if (n >= cap || n > TR_LOG_STREAM_MAX)
        return TR_ETOOBIG;
    memcpy(out, provider, a);
    out[a] = '/';
    memcpy(out + a + 1, k, b);
    out[a + 1 + b] = '/';
    memcpy(out + a + 2 + b, instrument, c);
    out[n] = 0;
    return (int)n;
}

/* In-memory hashes only (stream slots, IDSET ids: nothing stored), so the
 * function is free to change: 8 bytes per multiply instead of FNV's one
 * (a Kalshi UUID is 36 bytes, a stream key ~20, hashed per event). */
static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 32;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

/* ---- id sets (IDSET mode) ---- */

#define IDSET_GEN 32768

static struct pd_idset *idset_alloc(void)
{
    struct pd_idset *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->gen = IDSET_GEN;
    x->slots = 2 * IDSET_GEN;
    x->cur = calloc(x->slots, sizeof *x->cur);
    x->prev = calloc(x->slots, sizeof *x->prev);
    if (!x->cur || !x->prev) {
        free(x->cur);
        free(x->prev);
        free(x);
        return NULL;
    }
    return x;
}

static void idset_free(struct pd_idset *x)
{
    if (x) {
        free(x->cur);
        free(x->prev);
        free(x);
    }
}

static int tab_has(const uint64_t *t, size_t slots, uint64_t h)
{
    for (size_t i = h & (slots - 1);; i = (i + 1) & (slots - 1)) {
        if (!t[i])
            return 0;
        if (t[i] == h)
            return 1;
    }
}

static int idset_has(const struct pd_idset *x, uint64_t h)
{
    return tab_has(x->cur, x->slots, h) || tab_has(x->prev, x->slots, h);
}

/* Adds an id known to be absent (the caller just asked idset_has). */
static void idset_insert(struct pd_idset *x, uint64_t h)
{
    if (x->n_cur >= x->gen) { /* the current generation is full: age it */
        uint64_t *t = x->prev;
        x->prev = x->cur;
        x->cur = t;
        memset(x->cur, 0, x->slots * sizeof *x->cur);
        x->n_cur = 0;
    }
    size_t i = h & (x->slots - 1);
    while (x->cur[i])
        i = (i + 1) & (x->slots - 1);
    x->cur[i] = h;
    x->n_cur++;
}

static void idset_add(struct pd_idset *x, uint64_t h)
{
    if (!idset_has(x, h))
        idset_insert(x, h);
}

static uint64_t id_hash(const char *id)
{
    uint64_t h = fnv(id, strlen(id));
    return h ? h : 1;
}

void pipe_dedup_remember(struct pd_stream *s, const char *id)
{
    if (s->ids)
        idset_add(s->ids, id_hash(id));
}

int pipe_dedup_init(struct pipe_dedup *d, const struct pd_ops *ops, uint32_t reorder_max,
                    uint16_t origin)
{
    memset(d, 0, sizeof *d);
    d->ops = *ops;
    d->reorder_max = reorder_max ? reorder_max : 100000;
    d->origin = origin;
    d->n_slots = 64;
    d->slots = calloc(d->n_slots, sizeof *d->slots);
    tr_buf_init(&d->scratch);
    return d->slots ? 0 : TR_ENOMEM;
}

static void items_free(struct pd_stream *s)
{
    for (size_t i = s->head; i < s->n; i++)
        free(s->buf[i].enc);
    s->head = s->n = 0;
}

void pipe_dedup_close(struct pipe_dedup *d)
{
    struct pd_stream *s = d->all;
    while (s) {
        struct pd_stream *nx = s->next_all;
        items_free(s);
        free(s->buf);
        idset_free(s->ids);
        free(s);
        s = nx;
    }
    free(d->slots);
    tr_buf_free(&d->scratch);
    memset(d, 0, sizeof *d);
}

static struct pd_stream **slot_of(struct pipe_dedup *d, const char *key, size_t len)
{
    size_t mask = d->n_slots - 1, i = (size_t)fnv(key, len) & mask;
    for (;;) {
        struct pd_stream *s = d->slots[i];
        if (!s || (s->key_len == len && memcmp(s->key, key, len) == 0))
            return &d->slots[i];
        i = (i + 1) & mask;
    }
}

static int grow(struct pipe_dedup *d)
{
    size_t n = d->n_slots * 2;
    struct pd_stream **ns = calloc(n, sizeof *ns);
    if (!ns)
        return TR_ENOMEM;
    free(d->slots);
    d->slots = ns;
    d->n_slots = n;
    for (struct pd_stream *s = d->all; s; s = s->next_all)
        *slot_of(d, s->key, s->key_len) = s;
    return 0;
}

/* Finds or creates a stream by key; provider/instrument parsed from it. */
static struct pd_stream *by_key(struct pipe_dedup *d, const char *key, size_t len)
{
    if (len > TR_LOG_STREAM_MAX)
        return NULL;
    struct pd_stream **sl = slot_of(d, key, len);
    if (*sl)
        return *sl;
    if ((d->n_streams + 1) * 2 > d->n_slots) {
        if (grow(d))
            return NULL;
        sl = slot_of(d, key, len);
    }
    struct pd_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    memcpy(s->key, key, len);
    s->key_len = len;
    const char *a = memchr(key, '/', len);
    const char *b = a ? memchr(a + 1, '/', len - (size_t)(a + 1 - key)) : NULL;
    if (a && b) {
        snprintf(s->provider, sizeof s->provider, "%.*s", (int)(a - key), key);
        snprintf(s->instrument, sizeof s->instrument, "%.*s", (int)(len - (size_t)(b + 1 - key)),
                 b + 1);
        size_t kl = (size_t)(b - a - 1);
        s->kind = kl == 5 && !memcmp(a + 1, "trade", 5)  ? TR_KIND_TRADE
                  : kl == 4 && !memcmp(a + 1, "book", 4) ? TR_KIND_BOOK_DELTA
                  : kl == 6 && !memcmp(a + 1, "ticker", 6) ? TR_KIND_TICKER
                                                           : TR_KIND_STATUS;
    }
    s->mode = PD_MODE_PASS;
    *sl = s;
    s->next_all = d->all;
    d->all = s;
    d->n_streams++;
    return s;
}

struct pd_stream *pipe_dedup_stream(struct pipe_dedup *d, const char *provider, int kind,
                                    const char *instrument, const struct tr_stream_desc *desc)
{
    char key[TR_LOG_STREAM_MAX + 1];
    int n = pipe_stream_key(provider, kind, instrument, key, sizeof key);
    if (n < 0)
        return NULL;
    struct pd_stream *s = by_key(d, key, (size_t)n);
    if (s && !s->configured && desc) {
        s->configured = 1;
        s->resync = desc->resync;
        s->mode = desc->gaps == TR_GAP_CONTIGUOUS || desc->gaps == TR_GAP_CHAIN ||
                          desc->gaps == TR_GAP_CONNECTION ||
                          desc->identity == TR_IDENT_TRADE_ID
                      ? PD_MODE_SEQ
                      : PD_MODE_PASS;
        if (kind == TR_KIND_TICKER)
            s->mode = desc->identity == TR_IDENT_EXCHANGE_SEQ ? PD_MODE_MONO : PD_MODE_PASS;
        if (desc->identity == TR_IDENT_CONNECTION && s->kind == TR_KIND_BOOK_DELTA)
            s->mode = PD_MODE_CONN;
        if (s->kind == TR_KIND_TRADE && desc->resync == TR_RESYNC_BACKFILL_CURSOR) {
            s->mode = PD_MODE_IDSET;
            if (!(s->ids = idset_alloc())) {
                s->mode = PD_MODE_PASS; /* no memory: collect without dedup */
                s->configured = 0;
            }
        }
        if (s->mode == PD_MODE_SEQ && s->kind == TR_KIND_BOOK_DELTA && !s->have)
            s->state = PD_BUFFERING;
    }
    return s;
}

void pipe_dedup_restore(struct pipe_dedup *d, const char *key, size_t key_len, uint64_t seq,
                        int64_t ts, uint64_t lsn)
{
    struct pd_stream *s = by_key(d, key, key_len);
    if (!s)
        return;
    if (ts > s->last_ts_exchange)
        s->last_ts_exchange = ts;
    if (!s->have || seq > s->last)
        s->last = seq;
    s->have = 1;
    s->last_lsn = lsn;
    if (s->state == PD_BUFFERING)
        s->state = PD_LIVE; /* a live book continues from the log; a hole resyncs */
}

/* ---- sequences of an event ---- */

static int parse_u64(const char *p, uint64_t *out)
{
    if (!*p)
        return -1;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}

/* [first, last] an event covers; -1 if it has no usable sequence. */
static int ev_range(const struct tr_event *ev, uint64_t *first, uint64_t *last)
{
    if (ev->kind == TR_KIND_TRADE) {
        if ((ev->fields & TR_F_ID) && parse_u64(ev->id, last) == 0) {
            *first = *last;
            return 0;
        }
        if (!(ev->fields & TR_F_SEQ))
            return -1;
        *first = *last = ev->seq;
        return 0;
    }
    if (!(ev->fields & TR_F_SEQ))
        return -1;
    *last = ev->seq;
    *first = (ev->fields & TR_F_FIRST_SEQ) && ev->first_seq <= ev->seq ? ev->first_seq : ev->seq;
    return 0;
}

/* ---- emission ---- */

static int emit(struct pipe_dedup *d, struct pd_stream *s, uint64_t last, const struct tr_event *ev,
                const uint8_t *enc, size_t len)
{
    int rc;
    if (ev) {
        struct tr_event c = *ev;
        c.origin = d->origin;
        c.fields |= TR_F_ORIGIN;
        c.fields &= ~(uint32_t)TR_F_RAW;
        c.raw = NULL;
        c.raw_len = 0;
        rc = d->ops.emit(d->ops.arg, s, last, &c, NULL, 0);
    } else {
        rc = d->ops.emit(d->ops.arg, s, last, NULL, enc, len);
    }
    if (rc)
        return rc;
    if (!s->have || last > s->last)
        s->last = last;
    s->have = 1;
    s->written++;
    return 0;
}

static int emit_gap(struct pipe_dedup *d, struct pd_stream *s, uint64_t from, uint64_t to,
                    const char *why)
{
    struct tr_event g;
    tr_event_init(&g);
    g.kind = TR_KIND_GAP;
    snprintf(g.provider, sizeof g.provider, "%s", s->provider);
    snprintf(g.instrument, sizeof g.instrument, "%s", s->instrument);
    g.from_seq = from;
    g.to_seq = to;
    g.seq = to;
    snprintf(g.text, sizeof g.text, "%s", why);
    g.fields = TR_F_GAP | TR_F_TEXT | TR_F_SEQ;
    g.ts_exchange = s->last_ts_exchange;
    if (g.ts_exchange)
        g.fields |= TR_F_TS_EXCHANGE;
    return emit(d, s, to, &g, NULL, 0);
}

/* Inserts an encoded copy into the reorder buffer; 1 if it was there. */
static int buffer_put(struct pipe_dedup *d, struct pd_stream *s, uint64_t first, uint64_t last,
                      const struct tr_event *ev, uint64_t idh)
{
    /* find position (usually the end) */
    size_t i = s->n;
    while (i > s->head && s->buf[i - 1].first > first)
        i--;
    if (i > s->head && s->buf[i - 1].first == first && s->mode != PD_MODE_IDSET)
        return 1; /* (IDSET keys are times: equal times are distinct trades) */
    if (s->n - s->head >= d->reorder_max) {
        /* full: drop the oldest buffered item's hole by force */
        s->overflow++;
        return -1;
    }
    if (s->head > 0 && s->n == s->cap) {
        memmove(s->buf, s->buf + s->head, (s->n - s->head) * sizeof *s->buf);
        i -= s->head;
        s->n -= s->head;
        s->head = 0;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        struct pd_item *nb = realloc(s->buf, nc * sizeof *nb);
        if (!nb)
            return TR_ENOMEM;
        s->buf = nb;
        s->cap = nc;
    }
    struct tr_event c = *ev;
    c.origin = d->origin;
    c.fields |= TR_F_ORIGIN;
    c.fields &= ~(uint32_t)TR_F_RAW;
    d->scratch.len = 0;
    if (tr_event_encode(&c, &d->scratch))
        return TR_ENOMEM;
    uint8_t *enc = malloc(d->scratch.len);
    if (!enc)
        return TR_ENOMEM;
    memcpy(enc, d->scratch.data, d->scratch.len);
    memmove(s->buf + i + 1, s->buf + i, (s->n - i) * sizeof *s->buf);
    s->buf[i] = (struct pd_item){first, last, idh, ev->ts_exchange, enc, d->scratch.len};
    s->n++;
    return 0;
}

/* Emits buffered items that now continue the stream; drops stale ones. */
static int drain(struct pipe_dedup *d, struct pd_stream *s)
{
    while (s->head < s->n) {
        struct pd_item *it = &s->buf[s->head];
        if (s->have && it->last <= s->last) {
            free(it->enc);
            s->head++;
            continue;
        }
        if (s->have && it->first > s->last + 1)
            break;
        int rc = emit(d, s, it->last, NULL, it->enc, it->len);
        free(it->enc);
        s->head++;
        if (rc)
            return rc;
    }
    if (s->head == s->n)
        s->head = s->n = 0;
    return 0;
}

static size_t buffered(const struct pd_stream *s)
{
    return s->n - s->head;
}

static void start_repair(struct pipe_dedup *d, struct pd_stream *s)
{
    if (s->req_out)
        return;
    if (s->resync == TR_RESYNC_SNAPSHOT) {
        s->state = PD_BUFFERING;
        d->ops.want_snapshot(d->ops.arg, s);
    } else {
        s->state = PD_REPAIRING;
        d->ops.want_backfill(d->ops.arg, s);
    }
}

/* Without repair (or after it failed): every hole in the buffer is a gap. */
static int give_up_holes(struct pipe_dedup *d, struct pd_stream *s, const char *why)
{
    int rc = 0;
    while (!rc && buffered(s)) {
        struct pd_item *it = &s->buf[s->head];
        if (s->have && it->first > s->last + 1) {
            if ((rc = emit_gap(d, s, s->last + 1, it->first - 1, why)))
                break;
            s->gaps_unfilled++;
            d->gaps_unfilled++;
        }
        rc = drain(d, s);
    }
    return rc;
}

static int book_unbased(struct pipe_dedup *d, struct pd_stream *s, uint64_t to, const char *why);

/* Per-connection identity: the owner's records, numbered by the node. */
static int offer_conn(struct pipe_dedup *d, struct pd_stream *s, const struct tr_event *ev,
                      const void *src)
{
    int rc;
    uint64_t next = s->have ? s->last + 1 : 1;
    if (ev->kind != TR_KIND_BOOK_SNAPSHOT) {
        if (!src || src != s->src) {
            s->foreign++; /* not the owner (or no owner yet): wait for a snapshot */
            return 0;
        }
        return emit(d, s, next, ev, NULL, 0);
    }
    if (!s->src && s->have) {
        /* the owner went away: what it did not deliver is unknown */
        if ((rc = emit_gap(d, s, next, next, "book resync: new connection, deltas unknown")))
            return rc;
        s->gaps++;
        d->gaps++;
        s->gaps_filled++;
        d->gaps_filled++;
        next++;
    }
    s->src = src;
    s->resyncs++;
    return emit(d, s, next, ev, NULL, 0);
}

/* ---- IDSET: exchange-wide ids without order ---- */

static uint64_t ts_key(const struct tr_event *ev)
{
    return ev->ts_exchange > 0 ? (uint64_t)ev->ts_exchange : 0;
}

static int emit_new_id(struct pipe_dedup *d, struct pd_stream *s, uint64_t h,
                       const struct tr_event *ev, const uint8_t *enc, size_t len)
{
    if (idset_has(s->ids, h)) {
        s->dups++;
        d->dups++;
        return 0;
    }
    idset_insert(s->ids, h);
    return emit(d, s, s->have ? s->last + 1 : 1, ev, enc, len);
}

static void idset_repair(struct pipe_dedup *d, struct pd_stream *s)
{
    if (s->req_out)
        return;
    /* from a little before the last trade written (min_ts has 1 s steps) */
    s->since_ns = s->last_ts_exchange > 2000000000 ? s->last_ts_exchange - 2000000000 : 0;
    s->cursor[0] = 0;
    s->state = PD_REPAIRING;
    d->ops.want_backfill(d->ops.arg, s);
}

static int offer_idset(struct pipe_dedup *d, struct pd_stream *s, const struct tr_event *ev)
{
    if (!(ev->fields & TR_F_ID))
        return emit(d, s, s->have ? s->last + 1 : 1, ev, NULL, 0);
    uint64_t h = id_hash(ev->id);
    if (s->state == PD_LIVE)
        return emit_new_id(d, s, h, ev, NULL, 0);
    int rc = buffer_put(d, s, ts_key(ev), ts_key(ev), ev, h);
    return rc == -1 ? 0 : rc; /* buffer full: REST will bring it back */
}

/* Writes the buffer in exchange-time order, ids not seen yet only. */
static int drain_idset(struct pipe_dedup *d, struct pd_stream *s)
{
    int rc = 0;
    while (!rc && s->head < s->n) {
        struct pd_item *it = &s->buf[s->head];
        s->last_ts_exchange = it->ts > s->last_ts_exchange ? it->ts : s->last_ts_exchange;
        rc = emit_new_id(d, s, it->idh, NULL, it->enc, it->len);
        free(it->enc);
        s->head++;
    }
    if (s->head == s->n)
        s->head = s->n = 0;
    return rc;
}

static int backfill_idset(struct pipe_dedup *d, struct pd_stream *s, const struct tr_event *evs,
                          size_t n, int more, int failed)
{
    int rc = 0;
    int64_t oldest = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!(evs[i].fields & TR_F_ID))
            continue;
        if (!oldest || evs[i].ts_exchange < oldest)
            oldest = evs[i].ts_exchange;
        rc = buffer_put(d, s, ts_key(&evs[i]), ts_key(&evs[i]), &evs[i], id_hash(evs[i].id));
        rc = rc == -1 ? 0 : rc;
    }
    if (rc)
        return rc;
    s->backfilled += n;
    if (!failed && more && n > 0 && oldest >= s->since_ns) {
        d->ops.want_backfill(d->ops.arg, s); /* next (older) page: s->cursor */
        return 0;
    }
    if (failed) {
        uint64_t next = s->have ? s->last + 1 : 1;
        if ((rc = emit_gap(d, s, next, next, "backfill failed")))
            return rc;
        s->gaps_unfilled++;
        d->gaps_unfilled++;
    }
    s->state = PD_LIVE;
    return drain_idset(d, s);
}

void pipe_dedup_source_lost(struct pipe_dedup *d, const void *src)
{
    for (struct pd_stream *s = d->all; s; s = s->next_all)
        if (s->src == src)
            s->src = NULL;
}

int pipe_dedup_offer(struct pipe_dedup *d, struct pd_stream *s, const struct tr_event *ev,
                     const void *src)
{
    uint64_t first, last;
    if (ev->fields & TR_F_TS_EXCHANGE)
        s->last_ts_exchange = ev->ts_exchange;
    if (s->mode == PD_MODE_CONN)
        return offer_conn(d, s, ev, src);
    if (s->mode == PD_MODE_IDSET)
        return offer_idset(d, s, ev);
    if (s->mode == PD_MODE_MONO && (ev->fields & TR_F_SEQ)) {
        if (s->have && ev->seq <= s->last) {
            s->dups++;
            d->dups++;
            return 0;
        }
        return emit(d, s, ev->seq, ev, NULL, 0);
    }
    if (ev->kind == TR_KIND_BOOK_SNAPSHOT)
        return pipe_dedup_snapshot(d, s, ev);
    if (s->mode == PD_MODE_PASS || ev_range(ev, &first, &last) < 0)
        return emit(d, s, (ev->fields & TR_F_SEQ) ? ev->seq : (s->have ? s->last : 0), ev,
                    NULL, 0);
    if (s->have && last <= s->last) {
        s->dups++;
        d->dups++;
        return 0;
    }
    /* the hot path: next in order on a live stream */
    if (s->state == PD_LIVE && (!s->have || first <= s->last + 1) && !buffered(s))
        return emit(d, s, last, ev, NULL, 0);
    int rc = buffer_put(d, s, first, last, ev, 0);
    if (rc == 1) {
        s->dups++;
        d->dups++;
        return 0;
    }
    if (rc == -1 && s->need_base) /* a book without a base: nothing may be drained */
        return book_unbased(d, s, last, "reorder buffer overflow");
    if (rc == -1) { /* reorder buffer full: what is missing is lost */
        if ((rc = give_up_holes(d, s, "reorder buffer overflow")))
            return rc;
        s->state = PD_LIVE;
        return pipe_dedup_offer(d, s, ev, src);
    }
    if (rc)
        return rc;
    if (s->state == PD_BUFFERING) {
        if (!s->req_out)
            start_repair(d, s);
        return 0;
    }
    if ((rc = drain(d, s)))
        return rc;
    if (!buffered(s) || s->state != PD_LIVE)
        return 0;
    /* a hole opened on a live stream */
    s->gaps++;
    d->gaps++;
    if (s->resync == TR_RESYNC_SNAPSHOT || s->resync == TR_RESYNC_BACKFILL_ID ||
        s->resync == TR_RESYNC_BACKFILL_CURSOR) {
        start_repair(d, s);
        return 0;
    }
    return give_up_holes(d, s, "sequence gap (no repair for this stream)");
}

int pipe_dedup_backfill(struct pipe_dedup *d, struct pd_stream *s, const struct tr_event *evs,
                        size_t n, int more, int failed)
{
    int rc = 0;
    s->req_out = 0;
    if (s->mode == PD_MODE_IDSET)
        return backfill_idset(d, s, evs, n, more, failed);
    uint64_t before = s->last;
    for (size_t i = 0; !rc && i < n; i++) {
        uint64_t first, last;
        if (ev_range(&evs[i], &first, &last) < 0 || (s->have && last <= s->last))
            continue;
        if (!s->have || first <= s->last + 1) {
            rc = emit(d, s, last, &evs[i], NULL, 0);
            s->backfilled++;
            if (!rc)
                rc = drain(d, s);
        } else {
            rc = buffer_put(d, s, first, last, &evs[i], 0);
            rc = (rc == 1 || rc == -1) ? 0 : rc; /* dup / buffer full */
        }
    }
    if (rc < 0)
        return rc;
    if ((rc = drain(d, s)))
        return rc;
    int progressed = s->last > before || n > 0;
    if (!failed && more && progressed) {
        d->ops.want_backfill(d->ops.arg, s); /* next page */
        return 0;
    }
    if (buffered(s)) {
        if ((rc = give_up_holes(d, s, failed ? "backfill failed" : "not in provider history")))
            return rc;
    } else if (s->gaps_filled + s->gaps_unfilled < s->gaps) {
        s->gaps_filled++;
        d->gaps_filled++;
    }
    s->state = PD_LIVE;
    return 0;
}

/* A book without a base: everything buffered, up to `to`, becomes one gap
 * event; the stream waits for a snapshot at or after its end. */
static int book_unbased(struct pipe_dedup *d, struct pd_stream *s, uint64_t to, const char *why)
{
    uint64_t from = s->have ? s->last + 1 : 0;
    for (size_t i = s->head; i < s->n; i++) {
        if (!s->have && (i == s->head || s->buf[i].first < from))
            from = s->buf[i].first;
        if (s->buf[i].last > to)
            to = s->buf[i].last;
        free(s->buf[i].enc);
    }
    s->head = s->n = 0;
    s->state = PD_BUFFERING;
    s->need_base = 1;
    if (!from || to < from || (s->have && to <= s->last))
        return 0; /* nothing missing yet */
    int rc = emit_gap(d, s, from, to, why);
    if (rc)
        return rc;
    s->gaps_unfilled++;
    d->gaps_unfilled++;
    return 0;
}

int pipe_dedup_gap_note(struct pipe_dedup *d, struct pd_stream *s, const char *why)
{
    uint64_t next = s->have ? s->last + 1 : 1;
    int rc = emit_gap(d, s, next, next, why);
    if (rc)
        return rc;
    s->gaps++;
    d->gaps++;
    s->gaps_unfilled++;
    d->gaps_unfilled++;
    return 0;
}

int pipe_dedup_snapshot_skipped(struct pipe_dedup *d, struct pd_stream *s)
{
    if (s->mode != PD_MODE_SEQ)
        return 0; /* per-connection books resync in band */
    s->req_out = 1; /* asked again later by the REST poller */
    return book_unbased(d, s, 0, "book snapshot failed: skipped, asked again later");
}

int pipe_dedup_snapshot(struct pipe_dedup *d, struct pd_stream *s, const struct tr_event *snap)
{
    int rc;
    s->req_out = 0;
    if (!snap) /* fetch failed for good: keep buffering (bounded) */
        return 0;
    uint64_t L = snap->seq;
    /* drop deltas the snapshot already contains */
    while (buffered(s) && s->buf[s->head].last <= L) {
        free(s->buf[s->head].enc);
        s->head++;
    }
    if (buffered(s) && s->buf[s->head].first > L + 1) {
        s->resyncs++; /* snapshot older than the buffer: fetch a newer one */
        d->ops.want_snapshot(d->ops.arg, s);
        return 0;
    }
    if (s->need_base && s->have && L < s->last) {
        s->resyncs++; /* older than the gap written without it: a newer one */
        d->ops.want_snapshot(d->ops.arg, s);
        return 0;
    }
    if (s->need_base && s->have && L == s->last) {
        /* the base right after the gap: it starts the book again */
        s->need_base = 0;
        s->resyncs++;
        if ((rc = emit(d, s, L, snap, NULL, 0)))
            return rc;
        s->state = PD_LIVE;
        return drain(d, s);
    }
    if (s->have && L <= s->last) {
        s->state = PD_LIVE;
        return drain(d, s);
    }
    if (s->have && L > s->last) {
        if ((rc = emit_gap(d, s, s->last + 1, L, "book resync: deltas superseded by snapshot")))
            return rc;
        s->gaps_filled++;
        d->gaps_filled++;
    }
    s->resyncs++;
    s->need_base = 0;
    if ((rc = emit(d, s, L, snap, NULL, 0)))
        return rc;
    s->state = PD_LIVE;
    return drain(d, s);
}

void pipe_dedup_mark(struct pipe_dedup *d, struct pd_stream *s, uint64_t seq)
{
    if (s->mode != PD_MODE_SEQ || s->state != PD_LIVE || !s->have || seq <= s->last ||
        buffered(s) || s->resync != TR_RESYNC_BACKFILL_ID)
        return;
    s->gaps++;
    d->gaps++;
    start_repair(d, s);
}

void pipe_dedup_resume(struct pipe_dedup *d, struct pd_stream *s)
{
    if (s->mode == PD_MODE_IDSET) {
        if (s->state == PD_LIVE && s->have)
            idset_repair(d, s);
        return;
    }
    if (s->mode != PD_MODE_SEQ || s->state != PD_LIVE || !s->have ||
        (s->resync != TR_RESYNC_BACKFILL_ID && s->resync != TR_RESYNC_BACKFILL_CURSOR))
        return;
    start_repair(d, s);
}
