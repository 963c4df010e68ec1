/* The event's msgpack wire form, version 1 (docs/formats.md has it byte by
 * byte). Layout: one msgpack array of 19 elements
 *
 *   [0] version (uint, 1)     [1] kind (uint)        [2] fields (uint, TR_F_*)
 *   [3] provider (str)        [4] instrument (str)   [5] seq (uint)
 *   [6] first_seq (uint)      [7] from_seq (uint)    [8] to_seq (uint)
 *   [9] ts_exchange (int)     [10] ts_receive (int)  [11] origin (uint)
 *   [12] side (uint)
 *   [13] decimals: array of 8 ints: price mant, scale, size mant, scale,
 *        bid mant, scale, ask mant, scale
 *   [14] id (str)             [15] text (str)        [16] n_bids (uint)
 *   [17] levels: array of 4*(n_bids+n_asks) ints (price mant, scale,
 *        size mant, scale per level; bids first)
 *   [18] raw (bin, or nil when absent)
 *
 * Absent fields are written as 0 or "" and marked absent in `fields`.
 * A decoder accepts longer arrays (later minor versions append elements)
 * but rejects another version number.
 *
 * Encoding uses msgpack-c's packer. Decoding uses the bounds-checked cursor
 * below instead of msgpack_unpack: msgpack-c allocates a zone per call (two
 * mallocs per event, FACTS.md) and copies nothing we could borrow, while the
 * cursor lets `raw` point into the caller's buffer with no allocation. */
#include "tickraft/event.h"

#include <msgpack.h>
#include <string.h>

#define WIRE_ELEMENTS 19

/* msgpack-c's packer for tr_event_batch_begin (once per batch). */
static int buf_write_cb(void *data, const char *p, size_t n)
{
    return tr_buf_append(data, p, n) ? -1 : 0;
}

/* The event encoder writes msgpack directly into room reserved up front
 * instead of going through msgpack-c's packer, whose write callback runs
 * once per element (~30 calls per event: ~5 % of the node's per-event CPU
 * in tickraft-bench pipeline). It picks the same smallest forms as
 * msgpack-c 4.0's pack_uint* / pack_int64 / pack_str / pack_array, so the
 * bytes are identical (test_event checks that against msgpack-c). */
static inline uint8_t *w_be(uint8_t *o, uint8_t tag, uint64_t v, int n)
{
    *o++ = tag;
    for (int i = n - 1; i >= 0; i--)
        *o++ = (uint8_t)(v >> (8 * i));
    return o;
}

static inline uint8_t *w_uint(uint8_t *o, uint64_t v)
{
    if (v < 128) {
        *o++ = (uint8_t)v;
        return o;
    }
    if (v < 256)
        return w_be(o, 0xcc, v, 1);
    if (v < 65536)
        return w_be(o, 0xcd, v, 2);
    if (v < 4294967296ull)
        return w_be(o, 0xce, v, 4);
    return w_be(o, 0xcf, v, 8);
}

static inline uint8_t *w_int(uint8_t *o, int64_t v)
{
    if (v >= -32)
        return v < 128 ? (*o++ = (uint8_t)v, o) : w_uint(o, (uint64_t)v);
    if (v >= -128)
        return w_be(o, 0xd0, (uint64_t)v, 1);
    if (v >= -32768)
        return w_be(o, 0xd1, (uint64_t)v, 2);
    if (v >= -2147483648ll)
        return w_be(o, 0xd2, (uint64_t)v, 4);
    return w_be(o, 0xd3, (uint64_t)v, 8);
}

/* Array header; the caller reserved 5 bytes. */
static inline uint8_t *w_array(uint8_t *o, uint64_t n)
{
    if (n < 16) {
        *o++ = (uint8_t)(0x90 | n);
        return o;
    }
    return n < 65536 ? w_be(o, 0xdc, n, 2) : w_be(o, 0xdd, n, 4);
}

static inline uint8_t *w_str(uint8_t *o, const char *s, size_t n)
{
    if (n < 32)
        *o++ = (uint8_t)(0xa0 | n);
    else if (n < 256)
        o = w_be(o, 0xd9, n, 1);
    else if (n < 65536)
        o = w_be(o, 0xda, n, 2);
    else
        o = w_be(o, 0xdb, n, 4);
    memcpy(o, s, n);
    return o + n;
}

static inline uint8_t *w_decimal(uint8_t *o, struct tr_decimal d)
{
    o = w_int(o, d.mant);
    return w_uint(o, d.scale);
}

/* strnlen over a fixed field: a string that fills it is cut, as a
 * decoder of the field would see it */
static size_t fld_len(const char *s, size_t cap)
{
    const char *z = memchr(s, 0, cap);
    return z ? (size_t)(z - s) : cap;
}

int tr_event_encode(const struct tr_event *ev, struct tr_buf *out)
{
    size_t nlv = (size_t)ev->n_bids + ev->n_asks;
    size_t raw = (ev->fields & TR_F_RAW) ? ev->raw_len : 0;
    size_t lp = fld_len(ev->provider, sizeof ev->provider),
           li = fld_len(ev->instrument, sizeof ev->instrument), ld = fld_len(ev->id, sizeof ev->id),
           lt = fld_len(ev->text, sizeof ev->text);
    /* worst case: 1+ array, 9 per number, 5+len per string, 9 per level int */
    size_t need = 8 + 19 * 9 + 4 * 5 + lp + li + ld + lt + 8 * 9 + 5 + nlv * 4 * 9 + 5 + raw;
    if (nlv > SIZE_MAX / 64 || tr_buf_reserve(out, need))
        return TR_ENOMEM;
    uint8_t *o = out->data + out->len;
    o = w_array(o, WIRE_ELEMENTS);
    o = w_uint(o, TR_EVENT_WIRE_VERSION);
    o = w_uint(o, ev->kind);
    o = w_uint(o, ev->fields);
    o = w_str(o, ev->provider, lp);
    o = w_str(o, ev->instrument, li);
    o = w_uint(o, ev->seq);
    o = w_uint(o, ev->first_seq);
    o = w_uint(o, ev->from_seq);
    o = w_uint(o, ev->to_seq);
    o = w_int(o, ev->ts_exchange);
    o = w_int(o, ev->ts_receive);
    o = w_uint(o, ev->origin);
    o = w_uint(o, ev->side);
    *o++ = 0x98; /* array of 8 */
    o = w_decimal(o, ev->price);
    o = w_decimal(o, ev->size);
    o = w_decimal(o, ev->bid);
    o = w_decimal(o, ev->ask);
    o = w_str(o, ev->id, ld);
    o = w_str(o, ev->text, lt);
    o = w_uint(o, ev->n_bids);
    o = w_array(o, (uint64_t)nlv * 4);
    for (size_t i = 0; i < nlv; i++) {
        o = w_decimal(o, ev->levels[i].price);
        o = w_decimal(o, ev->levels[i].size);
    }
    if (ev->fields & TR_F_RAW) {
        if (raw < 256)
            o = w_be(o, 0xc4, raw, 1);
        else if (raw < 65536)
            o = w_be(o, 0xc5, raw, 2);
        else
            o = w_be(o, 0xc6, raw, 4);
        if (raw)
            memcpy(o, ev->raw, raw);
        o += raw;
    } else {
        *o++ = 0xc0;
    }
    out->len = (size_t)(o - out->data);
    return 0;
}

int tr_event_batch_begin(struct tr_buf *out, uint32_t n_events)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write_cb);
    return msgpack_pack_array(&pk, n_events) ? TR_ENOMEM : 0;
}

/* ---- bounds-checked msgpack cursor ---- */

struct cur {
    const uint8_t *p, *end;
};

static int need(struct cur *c, size_t n)
{
    return (size_t)(c->end - c->p) >= n;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Reads an integer of any msgpack int encoding. *neg tells the sign class. */
static int rd_int(struct cur *c, uint64_t *u, int *neg)
{
    if (!need(c, 1))
        return TR_EPARSE;
    uint8_t t = *c->p++;
    *neg = 0;
    if (t <= 0x7f) { *u = t; return 0; }
    if (t >= 0xe0) { *u = (uint64_t)(int64_t)(int8_t)t; *neg = 1; return 0; }
    int n;
    int is_signed;
    switch (t) {
    case 0xcc: n = 1; is_signed = 0; break;
    case 0xcd: n = 2; is_signed = 0; break;
    case 0xce: n = 4; is_signed = 0; break;
    case 0xcf: n = 8; is_signed = 0; break;
    case 0xd0: n = 1; is_signed = 1; break;
    case 0xd1: n = 2; is_signed = 1; break;
    case 0xd2: n = 4; is_signed = 1; break;
    case 0xd3: n = 8; is_signed = 1; break;
    default: return TR_EPARSE;
    }
    if (!need(c, (size_t)n))
        return TR_EPARSE;
    uint64_t v = be(c->p, n);
    c->p += n;
    if (is_signed) {
        int shift = 64 - 8 * n;
        int64_t s = (int64_t)(v << shift) >> shift;
        *u = (uint64_t)s;
        *neg = s < 0;
    } else {
        *u = v;
    }
    return 0;
}

static int rd_uint(struct cur *c, uint64_t max, uint64_t *out)
{
    int neg;
    if (rd_int(c, out, &neg))
        return TR_EPARSE;
    return neg || *out > max ? TR_ERANGE : 0;
}

static int rd_i64(struct cur *c, int64_t *out)
{
    uint64_t u;
    int neg;
    if (rd_int(c, &u, &neg))
        return TR_EPARSE;
    if (!neg && u > (uint64_t)INT64_MAX)
        return TR_ERANGE;
    *out = (int64_t)u;
    return 0;
}

/* Reads an array header; returns its length. */
static int rd_array(struct cur *c, uint32_t *n)
{
    if (!need(c, 1))
        return TR_EPARSE;
    uint8_t t = *c->p++;
    if ((t & 0xf0) == 0x90) { *n = t & 0x0f; return 0; }
    int w = t == 0xdc ? 2 : t == 0xdd ? 4 : 0;
    if (!w || !need(c, (size_t)w))
        return TR_EPARSE;
    *n = (uint32_t)be(c->p, w);
    c->p += w;
    return 0;
}

/* Reads a str (or, if allow_bin, a bin) header and borrows its bytes. */
static int rd_bytes(struct cur *c, int bin, const uint8_t **p, uint32_t *n)
{
    if (!need(c, 1))
        return TR_EPARSE;
    uint8_t t = *c->p++;
    int w;
    if (!bin && (t & 0xe0) == 0xa0) {
        *n = t & 0x1f;
        w = 0;
    } else if (!bin && t >= 0xd9 && t <= 0xdb) {
        w = 1 << (t - 0xd9);
    } else if (bin && t >= 0xc4 && t <= 0xc6) {
        w = 1 << (t - 0xc4);
    } else {
        return TR_EPARSE;
    }
    if (w) {
        if (!need(c, (size_t)w))
            return TR_EPARSE;
        *n = (uint32_t)be(c->p, w);
        c->p += w;
    }
    if (!need(c, *n))
        return TR_EPARSE;
    *p = c->p;
    c->p += *n;
    return 0;
}

static int rd_str(struct cur *c, char *dst, size_t cap)
{
    const uint8_t *p;
    uint32_t n;
    if (rd_bytes(c, 0, &p, &n))
        return TR_EPARSE;
    if (memchr(p, '\0', n))
        return TR_EPARSE;
    return tr_event_set_str(dst, cap, (const char *)p, n);
}

static int rd_decimal(struct cur *c, struct tr_decimal *d)
{
    uint64_t scale = 0;
    int rc = rd_i64(c, &d->mant);
    if (!rc)
        rc = rd_uint(c, TR_DECIMAL_MAX_SCALE, &scale);
    d->scale = (uint8_t)scale;
    return rc;
}

/* Skips one msgpack value of any type (for elements of later versions). */
static int skip_value(struct cur *c, int depth);

static int skip_n(struct cur *c, uint64_t n, int depth)
{
    for (uint64_t i = 0; i < n; i++)
        if (skip_value(c, depth + 1))
            return TR_EPARSE;
    return 0;
}

static int skip_value(struct cur *c, int depth)
{
    if (depth > 32 || !need(c, 1))
        return TR_EPARSE;
    uint8_t t = *c->p;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) { c->p++; return 0; }
    if ((t >= 0xcc && t <= 0xd3)) { uint64_t u; int neg; return rd_int(c, &u, &neg); }
    if ((t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb)) { const uint8_t *p; uint32_t n; return rd_bytes(c, 0, &p, &n); }
    if (t >= 0xc4 && t <= 0xc6) { const uint8_t *p; uint32_t n; return rd_bytes(c, 1, &p, &n); }
    if (t == 0xca) { c->p++; return need(c, 4) ? (c->p += 4, 0) : TR_EPARSE; }
    if (t == 0xcb) { c->p++; return need(c, 8) ? (c->p += 8, 0) : TR_EPARSE; }
    if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
        uint32_t n;
        return rd_array(c, &n) ? TR_EPARSE : skip_n(c, n, depth);
    }
    if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf) {
        c->p++;
        uint64_t n = t & 0x0f;
        if (t == 0xde || t == 0xdf) {
            int w = t == 0xde ? 2 : 4;
            if (!need(c, (size_t)w))
                return TR_EPARSE;
            n = be(c->p, w);
            c->p += w;
        }
        return skip_n(c, 2 * n, depth);
    }
    return TR_EPARSE; /* ext types are never written by us */
}

#define FIELD(expr, name)                                                        \
    do {                                                                         \
        int rc_ = (expr);                                                        \
        if (rc_)                                                                 \
            return tr_errorf(err, rc_ == TR_ETOOBIG ? TR_ETOOBIG : rc_ == TR_ERANGE ? TR_ERANGE : TR_EPARSE, \
                             "event msgpack: field '%s': %s", name, tr_strerror(rc_)); \
    } while (0)

static int decode_levels(struct cur *c, struct tr_event *ev, struct tr_event_scratch *s,
                         uint64_t n_bids, struct tr_error *err)
{
    uint32_t n;
    FIELD(rd_array(c, &n), "levels");
    if (n % 4 || n / 4 < n_bids || n / 4 - n_bids > TR_LEVELS_MAX)
        return tr_errorf(err, TR_EPARSE, "event msgpack: field 'levels': %u values for %llu bids",
                         n, (unsigned long long)n_bids);
    size_t nlv = n / 4;
    /* Every level needs at least 4 bytes on the wire: refuse to allocate
     * for counts the input cannot hold. */
    if ((size_t)(c->end - c->p) < nlv * 4)
        return tr_errorf(err, TR_EPARSE, "event msgpack: field 'levels': truncated");
    struct tr_level *lv = NULL;
    if (nlv) {
        lv = tr_event_scratch_levels(s, nlv);
        if (!lv)
            return tr_errorf(err, TR_ENOMEM, "event msgpack: %zu levels", nlv);
    }
    for (size_t i = 0; i < nlv; i++) {
        FIELD(rd_decimal(c, &lv[i].price), "levels.price");
        FIELD(rd_decimal(c, &lv[i].size), "levels.size");
    }
    ev->levels = lv;
    ev->n_bids = (uint32_t)n_bids;
    ev->n_asks = (uint32_t)(nlv - n_bids);
    return 0;
}

static int decode_event(const uint8_t *p, size_t len, size_t *used,
                        struct tr_event *ev, struct tr_event_scratch *s,
                        struct tr_error *err)
{
    struct cur c = {p, p + len};
    uint32_t n;
    uint64_t v;
    tr_event_init(ev);
    FIELD(rd_array(&c, &n), "event");
    if (n < WIRE_ELEMENTS)
        return tr_errorf(err, TR_EPARSE, "event msgpack: %u elements, need %d", n, WIRE_ELEMENTS);
    uint32_t extra = n - WIRE_ELEMENTS; /* appended by a later minor version */
    FIELD(rd_uint(&c, 255, &v), "version");
    if (v != TR_EVENT_WIRE_VERSION)
        return tr_errorf(err, TR_EVERSION, "event msgpack: version %llu, this build reads %d",
                         (unsigned long long)v, TR_EVENT_WIRE_VERSION);
    FIELD(rd_uint(&c, TR_KIND_MAX, &v), "kind");
    ev->kind = (uint8_t)v;
    FIELD(rd_uint(&c, TR_F_ALL, &v), "fields");
    ev->fields = (uint32_t)v;
    FIELD(rd_str(&c, ev->provider, sizeof ev->provider), "provider");
    FIELD(rd_str(&c, ev->instrument, sizeof ev->instrument), "instrument");
    FIELD(rd_uint(&c, UINT64_MAX, &ev->seq), "seq");
    FIELD(rd_uint(&c, UINT64_MAX, &ev->first_seq), "first_seq");
    FIELD(rd_uint(&c, UINT64_MAX, &ev->from_seq), "from_seq");
    FIELD(rd_uint(&c, UINT64_MAX, &ev->to_seq), "to_seq");
    FIELD(rd_i64(&c, &ev->ts_exchange), "ts_exchange");
    FIELD(rd_i64(&c, &ev->ts_receive), "ts_receive");
    FIELD(rd_uint(&c, UINT16_MAX, &v), "origin");
    ev->origin = (uint16_t)v;
    FIELD(rd_uint(&c, TR_SIDE_SELL, &v), "side");
    ev->side = (uint8_t)v;
    FIELD(rd_array(&c, &n), "decimals");
    if (n != 8)
        return tr_errorf(err, TR_EPARSE, "event msgpack: field 'decimals': %u values, need 8", n);
    FIELD(rd_decimal(&c, &ev->price), "price");
    FIELD(rd_decimal(&c, &ev->size), "size");
    FIELD(rd_decimal(&c, &ev->bid), "bid");
    FIELD(rd_decimal(&c, &ev->ask), "ask");
    FIELD(rd_str(&c, ev->id, sizeof ev->id), "id");
    FIELD(rd_str(&c, ev->text, sizeof ev->text), "text");
    FIELD(rd_uint(&c, TR_LEVELS_MAX, &v), "n_bids");
    int rc = decode_levels(&c, ev, s, v, err);
    if (rc)
        return rc;
    if (need(&c, 1) && *c.p == 0xc0) {
        c.p++;
        if (ev->fields & TR_F_RAW)
            return tr_errorf(err, TR_EPARSE, "event msgpack: field 'raw': flagged but nil");
    } else {
        FIELD(rd_bytes(&c, 1, &ev->raw, &ev->raw_len), "raw");
        if (!(ev->fields & TR_F_RAW))
            return tr_errorf(err, TR_EPARSE, "event msgpack: field 'raw': present but not flagged");
    }
    FIELD(skip_n(&c, extra, 0), "extension");
    *used = (size_t)(c.p - p);
    /* Shape checks above, meaning checks here: one definition of valid. */
    if (tr_event_validate(ev, err)) {
        tr_error_wrap(err, TR_EPARSE, "event msgpack");
        return tr_error_recode(err, TR_EPARSE);
    }
    return 0;
}

int tr_event_decode(const uint8_t *p, size_t len, size_t *used,
                    struct tr_event *ev, struct tr_event_scratch *s,
                    struct tr_error *err)
{
    int rc = decode_event(p, len, used, ev, s, err);
    if (rc)
        tr_event_init(ev); /* never hand back a half-filled event */
    return rc;
}

int tr_event_batch_header(const uint8_t *p, size_t len, uint32_t *n_events,
                          size_t *used, struct tr_error *err)
{
    struct cur c = {p, p + len};
    if (rd_array(&c, n_events))
        return tr_errorf(err, TR_EPARSE, "event batch: not a msgpack array");
    *used = (size_t)(c.p - p);
    return 0;
}
