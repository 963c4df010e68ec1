/* The event's JSON-lines form, used by every tool that prints or reads
 * events (docs/formats.md):
 *   {"provider":"coinbase","kind":"trade","instrument":"BTC-USD","seq":123,
 *    "id":"456","ts_exchange":1700000000123456789,"price":"43123.45",
 *    "size":"0.0012","side":"buy"}
 * Decimals are strings (exact digits), absent fields are omitted, book
 * levels are "bids"/"asks" arrays of ["price","size"], a gap carries
 * "from_seq"/"to_seq"/"reason", a status event "status". */
#include "tickraft/event.h"
#include "tickraft/json.h"

#include <stdlib.h>
#include <string.h>

#define PUT(lit) tr_buf_append(out, lit, sizeof(lit) - 1)

int tr_json_put_str(struct tr_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (tr_buf_reserve(out, len * 6 + 2))
        return TR_ENOMEM;
    uint8_t *o = out->data + out->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = c;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = (uint8_t)hex[c >> 4];
            o[5] = (uint8_t)hex[c & 15];
            o += 6;
        } else {
            *o++ = c;
        }
    }
    *o++ = '"';
    out->len = (size_t)(o - out->data);
    return 0;
}

static int put_u64(struct tr_buf *out, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (tr_buf_reserve(out, (size_t)n))
        return TR_ENOMEM;
    while (n)
        out->data[out->len++] = (uint8_t)tmp[--n];
    return 0;
}

static int put_i64(struct tr_buf *out, int64_t v)
{
    if (v < 0) {
        if (PUT("-"))
            return TR_ENOMEM;
        return put_u64(out, 0 - (uint64_t)v);
    }
    return put_u64(out, (uint64_t)v);
}

/* ,"key": */
static int put_key(struct tr_buf *out, const char *key)
{
    size_t n = strlen(key);
    if (tr_buf_reserve(out, n + 4))
        return TR_ENOMEM;
    uint8_t *o = out->data + out->len;
    *o++ = ',';
    *o++ = '"';
    memcpy(o, key, n);
    o += n;
    *o++ = '"';
    *o++ = ':';
    out->len = (size_t)(o - out->data);
    return 0;
}

static int put_decimal(struct tr_buf *out, struct tr_decimal d)
{
    char tmp[TR_DECIMAL_STRLEN];
    size_t n = tr_decimal_format(d, tmp);
    return tr_json_put_str(out, tmp, n);
}

static int put_levels(struct tr_buf *out, const char *key, const struct tr_level *lv, uint32_t n)
{
    int rc = put_key(out, key) | PUT("[");
    for (uint32_t i = 0; i < n && !rc; i++) {
        rc |= (i ? PUT(",[") : PUT("["));
        rc |= put_decimal(out, lv[i].price) | PUT(",");
        rc |= put_decimal(out, lv[i].size) | PUT("]");
    }
    return rc | PUT("]");
}

static const char *text_key(int kind)
{
    return kind == TR_KIND_GAP ? "reason" : kind == TR_KIND_STATUS ? "status" : "text";
}

int tr_event_to_json(const struct tr_event *ev, struct tr_buf *out)
{
    size_t start = out->len;
    uint32_t f = ev->fields;
    const char *kind = tr_kind_name(ev->kind);
    int rc = PUT("{\"provider\":");
    rc |= tr_json_put_str(out, ev->provider, strlen(ev->provider));
    rc |= put_key(out, "kind") | tr_json_put_str(out, kind ? kind : "", kind ? strlen(kind) : 0);
    rc |= put_key(out, "instrument") | tr_json_put_str(out, ev->instrument, strlen(ev->instrument));
    if (f & TR_F_SEQ)
        rc |= put_key(out, "seq") | put_u64(out, ev->seq);
    if (f & TR_F_FIRST_SEQ)
        rc |= put_key(out, "first_seq") | put_u64(out, ev->first_seq);
    if (f & TR_F_ID)
        rc |= put_key(out, "id") | tr_json_put_str(out, ev->id, strlen(ev->id));
    if (f & TR_F_TS_EXCHANGE)
        rc |= put_key(out, "ts_exchange") | put_i64(out, ev->ts_exchange);
    if (f & TR_F_TS_RECEIVE)
        rc |= put_key(out, "ts_receive") | put_i64(out, ev->ts_receive);
    if (f & TR_F_PRICE)
        rc |= put_key(out, "price") | put_decimal(out, ev->price);
    if (f & TR_F_SIZE)
        rc |= put_key(out, "size") | put_decimal(out, ev->size);
    if (tr_side_name(ev->side))
        rc |= put_key(out, "side") | tr_json_put_str(out, tr_side_name(ev->side), strlen(tr_side_name(ev->side)));
    if (f & TR_F_BID)
        rc |= put_key(out, "bid") | put_decimal(out, ev->bid);
    if (f & TR_F_ASK)
        rc |= put_key(out, "ask") | put_decimal(out, ev->ask);
    if (ev->kind == TR_KIND_BOOK_DELTA || ev->kind == TR_KIND_BOOK_SNAPSHOT) {
        rc |= put_levels(out, "bids", ev->levels, ev->n_bids);
        rc |= put_levels(out, "asks", ev->levels ? ev->levels + ev->n_bids : NULL, ev->n_asks);
    }
    if (f & TR_F_GAP) {
        rc |= put_key(out, "from_seq") | put_u64(out, ev->from_seq);
        rc |= put_key(out, "to_seq") | put_u64(out, ev->to_seq);
    }
    if (f & TR_F_TEXT)
        rc |= put_key(out, text_key(ev->kind)) | tr_json_put_str(out, ev->text, strlen(ev->text));
    if (f & TR_F_ORIGIN)
        rc |= put_key(out, "origin") | put_u64(out, ev->origin);
    rc |= PUT("}");
    if (rc) {
        out->len = start;
        return TR_ENOMEM;
    }
    return 0;
}

/* ---- parsing ----
 * One pass over the object's keys finds every known field (the first
 * occurrence of a key wins, as with tr_json_get); the fields are then read
 * in a fixed order so errors do not depend on the key order. */

enum {
    K_PROVIDER, K_KIND, K_INSTRUMENT, K_SEQ, K_FIRST_SEQ, K_TS_EXCHANGE, K_TS_RECEIVE,
    K_PRICE, K_SIZE, K_BID, K_ASK, K_FROM_SEQ, K_TO_SEQ, K_ORIGIN, K_SIDE, K_ID,
    K_REASON, K_STATUS, K_TEXT, K_BIDS, K_ASKS, K_COUNT
};

static const char *const key_names[K_COUNT] = {
    "provider", "kind", "instrument", "seq", "first_seq", "ts_exchange", "ts_receive",
    "price", "size", "bid", "ask", "from_seq", "to_seq", "origin", "side", "id",
    "reason", "status", "text", "bids", "asks",
};

/* Slot of key k (n bytes), or -1 for an unknown key. */
static int key_slot(const char *k, size_t n)
{
    switch (n) {
    case 2: return memcmp(k, "id", 2) == 0 ? K_ID : -1;
    case 3:
        if (memcmp(k, "seq", 3) == 0) return K_SEQ;
        if (memcmp(k, "bid", 3) == 0) return K_BID;
        if (memcmp(k, "ask", 3) == 0) return K_ASK;
        return -1;
    case 4:
        if (memcmp(k, "kind", 4) == 0) return K_KIND;
        if (memcmp(k, "size", 4) == 0) return K_SIZE;
        if (memcmp(k, "side", 4) == 0) return K_SIDE;
        if (memcmp(k, "text", 4) == 0) return K_TEXT;
        if (memcmp(k, "bids", 4) == 0) return K_BIDS;
        if (memcmp(k, "asks", 4) == 0) return K_ASKS;
        return -1;
    case 5: return memcmp(k, "price", 5) == 0 ? K_PRICE : -1;
    case 6:
        if (memcmp(k, "origin", 6) == 0) return K_ORIGIN;
        if (memcmp(k, "reason", 6) == 0) return K_REASON;
        if (memcmp(k, "status", 6) == 0) return K_STATUS;
        if (memcmp(k, "to_seq", 6) == 0) return K_TO_SEQ;
        return -1;
    case 8:
        if (memcmp(k, "provider", 8) == 0) return K_PROVIDER;
        if (memcmp(k, "from_seq", 8) == 0) return K_FROM_SEQ;
        return -1;
    case 9: return memcmp(k, "first_seq", 9) == 0 ? K_FIRST_SEQ : -1;
    case 10: return memcmp(k, "instrument", 10) == 0 ? K_INSTRUMENT
                    : memcmp(k, "ts_receive", 10) == 0 ? K_TS_RECEIVE : -1;
    case 11: return memcmp(k, "ts_exchange", 11) == 0 ? K_TS_EXCHANGE : -1;
    default: return -1;
    }
}

struct jctx {
    const char *text;
    const struct tr_json_tok *t;
    struct tr_error *err;
    int v[K_COUNT]; /* value token of each known key, -1 when absent */
};

/* Fills j->v from one walk over object `obj`'s keys. */
static void index_keys(struct jctx *j, int obj)
{
    for (int k = 0; k < K_COUNT; k++)
        j->v[k] = -1;
    uint32_t i = (uint32_t)obj + 1;
    for (uint32_t k = 0; k < j->t[obj].count; k++) {
        const struct tr_json_tok *key = &j->t[i];
        int slot;
        if (!key->escaped) {
            slot = key_slot(j->text + key->start, key->len);
        } else {
            char buf[16]; /* longer than any known key: unknown */
            slot = tr_json_str(j->text, j->t, (int)i, buf, sizeof buf) == 0
                       ? key_slot(buf, strlen(buf)) : -1;
        }
        if (slot >= 0 && j->v[slot] < 0)
            j->v[slot] = (int)i + 1;
        i = j->t[i + 1].end;
    }
}

static int bad(struct jctx *j, int rc, const char *key)
{
    if (rc != TR_ERANGE && rc != TR_ETOOBIG && rc != TR_ENOMEM)
        rc = TR_EPARSE;
    return tr_errorf(j->err, rc, "event json: key '%s': %s", key, tr_strerror(rc));
}

/* 0 = copied, 1 = absent and optional, <0 = error. */
static int get_str(struct jctx *j, int slot, char *dst, size_t cap, int required)
{
    int v = j->v[slot];
    const char *key = key_names[slot];
    if (v < 0)
        return required ? tr_errorf(j->err, TR_EPARSE, "event json: key '%s': missing", key) : 1;
    int rc = tr_json_str(j->text, j->t, v, dst, cap);
    return rc ? bad(j, rc, key) : 0;
}

/* Reads an optional unsigned field; sets `flag` in *fields when present. */
static int get_u64(struct jctx *j, int slot, uint64_t *dst, uint32_t *fields, uint32_t flag)
{
    int v = j->v[slot];
    if (v < 0)
        return 0;
    if (j->t[v].type != TR_JSON_NUMBER)
        return bad(j, TR_EPARSE, key_names[slot]);
    int rc = tr_json_u64(j->text, j->t, v, dst);
    if (rc)
        return bad(j, rc, key_names[slot]);
    *fields |= flag;
    return 0;
}

static int get_i64(struct jctx *j, int slot, int64_t *dst, uint32_t *fields, uint32_t flag)
{
    int v = j->v[slot];
    if (v < 0)
        return 0;
    if (j->t[v].type != TR_JSON_NUMBER)
        return bad(j, TR_EPARSE, key_names[slot]);
    int rc = tr_json_i64(j->text, j->t, v, dst);
    if (rc)
        return bad(j, rc, key_names[slot]);
    *fields |= flag;
    return 0;
}

static int get_dec(struct jctx *j, int slot, struct tr_decimal *dst, uint32_t *fields, uint32_t flag)
{
    int v = j->v[slot];
    if (v < 0)
        return 0;
    if (j->t[v].type != TR_JSON_STRING)
        return bad(j, TR_EPARSE, key_names[slot]);
    int rc = tr_json_decimal(j->text, j->t, v, dst);
    if (rc)
        return bad(j, rc, key_names[slot]);
    *fields |= flag;
    return 0;
}

static int get_levels(struct jctx *j, int slot, struct tr_level *lv, uint32_t n)
{
    int i = j->v[slot] + 1;
    for (uint32_t k = 0; k < n; k++, i = (int)j->t[i].end) {
        if (j->t[i].type != TR_JSON_ARRAY || j->t[i].count != 2)
            return bad(j, TR_EPARSE, key_names[slot]);
        int rc = tr_json_decimal(j->text, j->t, i + 1, &lv[k].price);
        if (!rc)
            rc = tr_json_decimal(j->text, j->t, i + 2, &lv[k].size);
        if (!rc && (j->t[i + 1].type != TR_JSON_STRING || j->t[i + 2].type != TR_JSON_STRING))
            rc = TR_EPARSE;
        if (rc)
            return bad(j, rc, key_names[slot]);
    }
    return 0;
}

static int level_count(struct jctx *j, int slot, uint32_t *n)
{
    int arr = j->v[slot];
    *n = 0;
    if (arr < 0)
        return 0;
    if (j->t[arr].type != TR_JSON_ARRAY || j->t[arr].count > TR_LEVELS_MAX)
        return bad(j, TR_EPARSE, key_names[slot]);
    *n = j->t[arr].count;
    return 0;
}

static int parse_levels(struct jctx *j, struct tr_event *ev, struct tr_event_scratch *s)
{
    uint32_t nb, na;
    int rc = level_count(j, K_BIDS, &nb);
    if (!rc)
        rc = level_count(j, K_ASKS, &na);
    if (rc)
        return rc;
    struct tr_level *lv = tr_event_scratch_levels(s, (size_t)nb + na);
    if (!lv)
        return tr_errorf(j->err, TR_ENOMEM, "event json: %u levels", nb + na);
    if ((rc = get_levels(j, K_BIDS, lv, nb)) || (rc = get_levels(j, K_ASKS, lv + nb, na)))
        return rc;
    ev->levels = lv;
    ev->n_bids = nb;
    ev->n_asks = na;
    return 0;
}

static int parse_side(struct jctx *j, struct tr_event *ev)
{
    int v = j->v[K_SIDE];
    if (v < 0)
        return 0;
    if (tr_json_eq(j->text, j->t, v, "buy"))
        ev->side = TR_SIDE_BUY;
    else if (tr_json_eq(j->text, j->t, v, "sell"))
        ev->side = TR_SIDE_SELL;
    else
        return bad(j, TR_EPARSE, "side");
    return 0;
}

static int text_slot(int kind)
{
    return kind == TR_KIND_GAP ? K_REASON : kind == TR_KIND_STATUS ? K_STATUS : K_TEXT;
}

static int parse_fields(struct jctx *j, struct tr_event *ev, struct tr_event_scratch *s)
{
    uint32_t *f = &ev->fields;
    char kind[24];
    int rc;
    if ((rc = get_str(j, K_PROVIDER, ev->provider, sizeof ev->provider, 1)) ||
        (rc = get_str(j, K_KIND, kind, sizeof kind, 1)))
        return rc;
    if (!ev->provider[0])
        return tr_errorf(j->err, TR_EPARSE, "event json: key 'provider': empty");
    ev->kind = (uint8_t)tr_kind_from_name(kind, strlen(kind));
    if (!ev->kind)
        return tr_errorf(j->err, TR_EPARSE, "event json: key 'kind': unknown kind '%s'", kind);
    if ((rc = get_str(j, K_INSTRUMENT, ev->instrument, sizeof ev->instrument, 1)))
        return rc;
    uint64_t origin = 0;
    if ((rc = get_u64(j, K_SEQ, &ev->seq, f, TR_F_SEQ)) ||
        (rc = get_u64(j, K_FIRST_SEQ, &ev->first_seq, f, TR_F_FIRST_SEQ)) ||
        (rc = get_i64(j, K_TS_EXCHANGE, &ev->ts_exchange, f, TR_F_TS_EXCHANGE)) ||
        (rc = get_i64(j, K_TS_RECEIVE, &ev->ts_receive, f, TR_F_TS_RECEIVE)) ||
        (rc = get_dec(j, K_PRICE, &ev->price, f, TR_F_PRICE)) ||
        (rc = get_dec(j, K_SIZE, &ev->size, f, TR_F_SIZE)) ||
        (rc = get_dec(j, K_BID, &ev->bid, f, TR_F_BID)) ||
        (rc = get_dec(j, K_ASK, &ev->ask, f, TR_F_ASK)) ||
        (rc = get_u64(j, K_FROM_SEQ, &ev->from_seq, f, TR_F_GAP)) ||
        (rc = get_u64(j, K_TO_SEQ, &ev->to_seq, f, TR_F_GAP)) ||
        (rc = get_u64(j, K_ORIGIN, &origin, f, TR_F_ORIGIN)) ||
        (rc = parse_side(j, ev)))
        return rc;
    if (origin > UINT16_MAX)
        return bad(j, TR_ERANGE, "origin");
    ev->origin = (uint16_t)origin;
    if ((rc = get_str(j, K_ID, ev->id, sizeof ev->id, 0)) < 0)
        return rc;
    if (rc == 0)
        *f |= TR_F_ID;
    if ((rc = get_str(j, text_slot(ev->kind), ev->text, sizeof ev->text, 0)) < 0)
        return rc;
    if (rc == 0)
        *f |= TR_F_TEXT;
    if (ev->kind == TR_KIND_BOOK_DELTA || ev->kind == TR_KIND_BOOK_SNAPSHOT)
        return parse_levels(j, ev, s);
    return 0;
}

int tr_event_from_json_tok(const char *text, const struct tr_json_tok *toks, int obj,
                           struct tr_event *ev, struct tr_event_scratch *s,
                           struct tr_error *err)
{
    tr_event_clear(ev);
    if (obj < 0 || toks[obj].type != TR_JSON_OBJECT)
        return tr_errorf(err, TR_EPARSE, "event json: not an object");
    struct jctx j = {.text = text, .t = toks, .err = err};
    index_keys(&j, obj);
    int rc = parse_fields(&j, ev, s);
    if (!rc && tr_event_validate(ev, err)) {
        tr_error_wrap(err, TR_EPARSE, "event json");
        rc = tr_error_recode(err, TR_EPARSE);
    }
    if (rc)
        tr_event_init(ev); /* never hand back a half-filled event */
    return rc;
}

int tr_event_from_json(const char *line, size_t len, struct tr_event *ev,
                       struct tr_event_scratch *s, struct tr_error *err)
{
    struct tr_json_tok stack_toks[256];
    struct tr_json_tok *toks = stack_toks;
    tr_event_init(ev);
    int n = tr_json_parse(line, len, toks, 256, err);
    if (n == TR_ETOOBIG) {
        size_t max = len / 2 + 4; /* every token but one needs >= 2 bytes */
        toks = malloc(max * sizeof *toks);
        if (!toks)
            return tr_errorf(err, TR_ENOMEM, "event json: %zu tokens", max);
        n = tr_json_parse(line, len, toks, max, err);
    }
    int rc;
    if (n < 0)
        rc = tr_error_wrap(err, n, "event json");
    else
        rc = tr_event_from_json_tok(line, toks, 0, ev, s, err);
    if (toks != stack_toks)
        free(toks);
    return rc;
}
