/* The event model's helpers: names, validation, equality, and the growable
 * buffer and scratch memory the encoders use. */
#include "tickraft/event.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
    [TR_KIND_TRADE] = "trade",   [TR_KIND_BOOK_DELTA] = "book_delta",
    [TR_KIND_BOOK_SNAPSHOT] = "book_snapshot", [TR_KIND_TICKER] = "ticker",
    [TR_KIND_STATUS] = "status", [TR_KIND_GAP] = "gap",
};

const char *tr_kind_name(int kind)
{
    return kind > 0 && kind <= TR_KIND_MAX ? kind_names[kind] : NULL;
}

int tr_kind_from_name(const char *name, size_t len)
{
    for (int k = 1; k <= TR_KIND_MAX; k++)
        if (strlen(kind_names[k]) == len && memcmp(kind_names[k], name, len) == 0)
            return k;
    return TR_KIND_NONE;
}

const char *tr_side_name(int side)
{
    return side == TR_SIDE_BUY ? "buy" : side == TR_SIDE_SELL ? "sell" : NULL;
}

void tr_event_init(struct tr_event *ev)
{
    memset(ev, 0, sizeof *ev);
}

void tr_event_clear(struct tr_event *ev)
{
    memset(ev, 0, offsetof(struct tr_event, id));
    ev->id[0] = '\0';
    ev->text[0] = '\0';
    ev->levels = NULL;
    ev->n_bids = ev->n_asks = 0;
    ev->raw = NULL;
    ev->raw_len = 0;
}

int tr_event_set_str(char *field, size_t cap, const char *s, size_t len)
{
    if (len >= cap)
        return TR_ETOOBIG;
    memcpy(field, s, len);
    field[len] = '\0';
    return 0;
}

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

int tr_event_validate(const struct tr_event *ev, struct tr_error *err)
{
    if (!tr_kind_name(ev->kind))
        return tr_errorf(err, TR_EINVAL, "event: field 'kind': unknown kind %d", ev->kind);
    if (ev->side > TR_SIDE_SELL)
        return tr_errorf(err, TR_EINVAL, "event: field 'side': unknown side %d", ev->side);
    if (ev->fields & ~TR_F_ALL)
        return tr_errorf(err, TR_EINVAL, "event: field 'fields': unknown flags 0x%x", ev->fields);
    if (!terminated(ev->provider, sizeof ev->provider) || !ev->provider[0])
        return tr_errorf(err, TR_EINVAL, "event: field 'provider': missing");
    if (!terminated(ev->instrument, sizeof ev->instrument))
        return tr_errorf(err, TR_EINVAL, "event: field 'instrument': not terminated");
    if (!terminated(ev->id, sizeof ev->id) || !terminated(ev->text, sizeof ev->text))
        return tr_errorf(err, TR_EINVAL, "event: field 'id'/'text': not terminated");
    const struct tr_decimal *d[] = {&ev->price, &ev->size, &ev->bid, &ev->ask};
    for (size_t i = 0; i < 4; i++)
        if (!tr_decimal_valid(*d[i]))
            return tr_errorf(err, TR_EINVAL, "event: decimal field %zu: bad scale", i);
    uint64_t n = (uint64_t)ev->n_bids + ev->n_asks;
    if (ev->n_bids > TR_LEVELS_MAX || ev->n_asks > TR_LEVELS_MAX || (n && !ev->levels))
        return tr_errorf(err, TR_EINVAL, "event: field 'levels': bad count");
    for (uint64_t i = 0; i < n; i++)
        if (!tr_decimal_valid(ev->levels[i].price) || !tr_decimal_valid(ev->levels[i].size))
            return tr_errorf(err, TR_EINVAL, "event: level %llu: bad scale", (unsigned long long)i);
    if ((ev->fields & TR_F_RAW) && ev->raw_len && !ev->raw)
        return tr_errorf(err, TR_EINVAL, "event: field 'raw': missing bytes");
    return 0;
}

static int dec_eq(struct tr_decimal a, struct tr_decimal b)
{
    return a.mant == b.mant && a.scale == b.scale;
}

int tr_event_equal(const struct tr_event *a, const struct tr_event *b)
{
    uint32_t f = a->fields;
    if (a->kind != b->kind || a->side != b->side || f != b->fields)
        return 0;
    if (strcmp(a->provider, b->provider) || strcmp(a->instrument, b->instrument))
        return 0;
    if (((f & TR_F_SEQ) && a->seq != b->seq) ||
        ((f & TR_F_FIRST_SEQ) && a->first_seq != b->first_seq) ||
        ((f & TR_F_GAP) && (a->from_seq != b->from_seq || a->to_seq != b->to_seq)) ||
        ((f & TR_F_TS_EXCHANGE) && a->ts_exchange != b->ts_exchange) ||
        ((f & TR_F_TS_RECEIVE) && a->ts_receive != b->ts_receive) ||
        ((f & TR_F_ORIGIN) && a->origin != b->origin))
        return 0;
    if (((f & TR_F_PRICE) && !dec_eq(a->price, b->price)) ||
        ((f & TR_F_SIZE) && !dec_eq(a->size, b->size)) ||
        ((f & TR_F_BID) && !dec_eq(a->bid, b->bid)) ||
        ((f & TR_F_ASK) && !dec_eq(a->ask, b->ask)))
        return 0;
    if (((f & TR_F_ID) && strcmp(a->id, b->id)) || ((f & TR_F_TEXT) && strcmp(a->text, b->text)))
        return 0;
    if (a->n_bids != b->n_bids || a->n_asks != b->n_asks)
        return 0;
    for (uint32_t i = 0; i < a->n_bids + a->n_asks; i++)
        if (!dec_eq(a->levels[i].price, b->levels[i].price) ||
            !dec_eq(a->levels[i].size, b->levels[i].size))
            return 0;
    if (f & TR_F_RAW)
        return a->raw_len == b->raw_len && (a->raw_len == 0 || memcmp(a->raw, b->raw, a->raw_len) == 0);
    return 1;
}

void tr_buf_init(struct tr_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

int tr_buf_reserve(struct tr_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t need = b->len + extra;
    if (need < b->len)
        return TR_ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return TR_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int tr_buf_append(struct tr_buf *b, const void *p, size_t n)
{
    int rc = tr_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void tr_buf_free(struct tr_buf *b)
{
    free(b->data);
    tr_buf_init(b);
}

struct tr_scratch_chunk {
    struct tr_scratch_chunk *next;
    size_t used, cap;
    struct tr_level lv[];
};

#define SCRATCH_CHUNK_LEVELS 4096

void tr_event_scratch_init(struct tr_event_scratch *s)
{
    s->chunks = NULL;
}

struct tr_level *tr_event_scratch_levels(struct tr_event_scratch *s, size_t n)
{
    if (n == 0)
        n = 1; /* a valid pointer even for empty books */
    for (struct tr_scratch_chunk *c = s->chunks; c; c = c->next)
        if (c->cap - c->used >= n) {
            struct tr_level *lv = c->lv + c->used;
            c->used += n;
            return lv;
        }
    size_t cap = n > SCRATCH_CHUNK_LEVELS ? n : SCRATCH_CHUNK_LEVELS;
    struct tr_scratch_chunk *c = malloc(sizeof *c + cap * sizeof(struct tr_level));
    if (!c)
        return NULL;
    c->next = s->chunks;
    c->cap = cap;
    c->used = n;
    s->chunks = c;
    return c->lv;
}

void tr_event_scratch_reset(struct tr_event_scratch *s)
{
    for (struct tr_scratch_chunk *c = s->chunks; c; c = c->next)
        c->used = 0;
}

void tr_event_scratch_free(struct tr_event_scratch *s)
{
    struct tr_scratch_chunk *c = s->chunks;
    while (c) {
        struct tr_scratch_chunk *next = c->next;
        free(c);
        c = next;
    }
    s->chunks = NULL;
}
