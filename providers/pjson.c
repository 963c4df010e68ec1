/* Field access for the adapters: typed getters over the core tokenizer that
 * turn every missing field, wrong type or out-of-range number into a reject
 * naming the message and the field, plus the tr_frame memory (events,
 * levels, heartbeat marks, tokens) they fill. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tr_frame_init(struct tr_frame *f)
{
    memset(f, 0, sizeof *f);
    tr_event_scratch_init(&f->levels);
}

void tr_frame_reset(struct tr_frame *f)
{
    f->n_events = 0;
    f->n_marks = 0;
    f->has_sid = 0;
    f->sid = 0;
    f->has_conn_seq = 0;
    f->conn_seq = 0;
    f->has_sent = 0;
    f->sent_ns = 0;
    memset(&f->ctl, 0, sizeof f->ctl);
    f->ctl.req_id = -1;
    tr_event_scratch_reset(&f->levels);
}

void tr_frame_free(struct tr_frame *f)
{
    free(f->events);
    free(f->marks);
    free(f->toks);
    tr_event_scratch_free(&f->levels);
    memset(f, 0, sizeof *f);
}

void tr_rest_result_init(struct tr_rest_result *r)
{
    memset(r, 0, sizeof *r);
    tr_buf_init(&r->names);
}

void tr_rest_result_free(struct tr_rest_result *r)
{
    tr_buf_free(&r->names);
    memset(r, 0, sizeof *r);
}

int pj_tokenize(struct tr_frame *f, const char *text, size_t len, const char *who,
                struct tr_error *err)
{
    if (!f->toks) {
        f->cap_toks = 256;
        f->toks = malloc(f->cap_toks * sizeof *f->toks);
        if (!f->toks)
            return tr_errorf(err, TR_ENOMEM, "%s: tokens", who);
    }
    for (;;) {
        int n = tr_json_parse(text, len, f->toks, f->cap_toks, err);
        if (n != TR_ETOOBIG)
            return n < 0 ? tr_error_wrap(err, n, "%s", who) : n;
        /* A token takes at least one byte of text, so len+1 always fits. */
        size_t cap = f->cap_toks * 4;
        if (cap > len + 1)
            cap = len + 1;
        if (cap <= f->cap_toks)
            return tr_errorf(err, TR_EINTERNAL, "%s: tokenizer wants more tokens than bytes", who);
        struct tr_json_tok *t = realloc(f->toks, cap * sizeof *t);
        if (!t)
            return tr_errorf(err, TR_ENOMEM, "%s: %zu tokens", who, cap);
        f->toks = t;
        f->cap_toks = cap;
    }
}

int pj_fail(struct pctx *c, const char *key, int code, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (key)
        return tr_errorf(c->err, code, "%s: field '%s': %s", c->what, key, reason);
    return tr_errorf(c->err, code, "%s: %s", c->what, reason);
}

int pj_type(struct pctx *c, int i)
{
    return i < 0 ? 0 : c->t[i].type;
}

/* One walk over the keys of object `obj`; the first occurrence of a key
 * wins, as with tr_json_get. */
static void index_build(struct pctx *c, struct pj_index *x, int obj)
{
    x->t = c->t;
    x->obj = obj;
    x->n = 0;
    x->ok = c->t[obj].count <= PJ_INDEX_MAX;
    uint32_t i = (uint32_t)obj + 1;
    for (uint32_t k = 0; x->ok && k < c->t[obj].count; k++) {
        const struct tr_json_tok *t = &c->t[i];
        if (t->escaped) {
            x->ok = 0;
            break;
        }
        x->k[x->n++] = (struct pj_key){t->start, t->len, (int)i + 1};
        i = c->t[i + 1].end;
    }
}

static int index_get(const struct pctx *c, const struct pj_index *x, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t j = 0; j < x->n; j++) {
        const char *k = c->text + x->k[j].start;
        if (x->k[j].len == n && k[0] == key[0] && memcmp(k, key, n) == 0)
            return x->k[j].v;
    }
    return -1;
}

int pj_opt(struct pctx *c, int obj, const char *key)
{
    if (obj < 0 || c->t[obj].type != TR_JSON_OBJECT)
        return -1;
    /* slot 0 keeps the root, slot 1 the last other object */
    struct pj_index *x = &c->ix[obj != 0];
    if (x->t != c->t || x->obj != obj)
        index_build(c, x, obj);
    int i = x->ok ? index_get(c, x, key) : tr_json_get(c->text, c->t, obj, key);
    if (i >= 0 && c->t[i].type == TR_JSON_NULL)
        return -1;
    return i;
}

int pj_req(struct pctx *c, int obj, const char *key, int *idx)
{
    int i = pj_opt(c, obj, key);
    if (i < 0)
        return pj_fail(c, key, TR_EPARSE, "missing");
    *idx = i;
    return 0;
}

static const char *type_name(int type)
{
    switch (type) {
    case TR_JSON_OBJECT: return "object";
    case TR_JSON_ARRAY: return "array";
    case TR_JSON_STRING: return "string";
    case TR_JSON_NUMBER: return "number";
    case TR_JSON_TRUE:
    case TR_JSON_FALSE: return "boolean";
    default: return "null";
    }
}

int pj_u64_at(struct pctx *c, int i, const char *key, uint64_t *v)
{
    int rc = tr_json_u64(c->text, c->t, i, v);
    if (rc == TR_ERANGE)
        return pj_fail(c, key, rc, "out of range for an unsigned 64-bit id");
    if (rc)
        return pj_fail(c, key, TR_EPARSE, "expected an unsigned integer, got %s",
                       type_name(c->t[i].type));
    return 0;
}

int pj_u64(struct pctx *c, int obj, const char *key, uint64_t *v)
{
    int i, rc = pj_req(c, obj, key, &i);
    return rc ? rc : pj_u64_at(c, i, key, v);
}

int pj_i64(struct pctx *c, int obj, const char *key, int64_t *v)
{
    int i, rc = pj_req(c, obj, key, &i);
    if (rc)
        return rc;
    rc = tr_json_i64(c->text, c->t, i, v);
    if (rc == TR_ERANGE)
        return pj_fail(c, key, rc, "out of range for a 64-bit integer");
    if (rc)
        return pj_fail(c, key, TR_EPARSE, "expected an integer");
    return 0;
}

int pj_dec_at(struct pctx *c, int i, const char *key, struct tr_decimal *v)
{
    if (c->t[i].type != TR_JSON_STRING && c->t[i].type != TR_JSON_NUMBER)
        return pj_fail(c, key, TR_EPARSE, "expected a decimal, got %s",
                       type_name(c->t[i].type));
    int rc = tr_json_decimal(c->text, c->t, i, v);
    if (rc == TR_ERANGE)
        return pj_fail(c, key, rc, "decimal '%.*s' does not fit 64 bits / 18 places",
                       (int)(c->t[i].len > 40 ? 40 : c->t[i].len), c->text + c->t[i].start);
    if (rc)
        return pj_fail(c, key, TR_EPARSE, "not a decimal: '%.*s'",
                       (int)(c->t[i].len > 40 ? 40 : c->t[i].len), c->text + c->t[i].start);
    return 0;
}

int pj_dec(struct pctx *c, int obj, const char *key, struct tr_decimal *v)
{
    int i, rc = pj_req(c, obj, key, &i);
    return rc ? rc : pj_dec_at(c, i, key, v);
}

int pj_bool(struct pctx *c, int obj, const char *key, int *v)
{
    int i, rc = pj_req(c, obj, key, &i);
    if (rc)
        return rc;
    if (c->t[i].type == TR_JSON_TRUE)
        *v = 1;
    else if (c->t[i].type == TR_JSON_FALSE)
        *v = 0;
    else
        return pj_fail(c, key, TR_EPARSE, "expected a boolean, got %s", type_name(c->t[i].type));
    return 0;
}

int pj_str_at(struct pctx *c, int i, const char *key, char *out, size_t cap)
{
    const struct tr_json_tok *t = &c->t[i];
    if (t->type != TR_JSON_STRING)
        return pj_fail(c, key, TR_EPARSE, "expected a string, got %s", type_name(t->type));
    if (!t->escaped) {
        if (t->len >= cap)
            return pj_fail(c, key, TR_ETOOBIG, "longer than %zu bytes", cap - 1);
        memcpy(out, c->text + t->start, t->len);
        out[t->len] = '\0';
        return 0;
    }
    int rc = tr_json_str(c->text, c->t, i, out, cap);
    if (rc == TR_ETOOBIG)
        return pj_fail(c, key, rc, "longer than %zu bytes", cap - 1);
    if (rc)
        return pj_fail(c, key, rc, "bad string");
    return 0;
}

int pj_str(struct pctx *c, int obj, const char *key, char *out, size_t cap)
{
    int i, rc = pj_req(c, obj, key, &i);
    return rc ? rc : pj_str_at(c, i, key, out, cap);
}

int pj_iso(struct pctx *c, int obj, const char *key, int64_t *ns)
{
    int i, rc = pj_req(c, obj, key, &i);
    if (rc)
        return rc;
    if (c->t[i].type != TR_JSON_STRING || c->t[i].escaped)
        return pj_fail(c, key, TR_EPARSE, "expected an ISO8601 string");
    rc = tr_time_parse_iso8601(c->text + c->t[i].start, c->t[i].len, ns);
    if (rc)
        return pj_fail(c, key, rc, "bad ISO8601 time '%.*s'",
                       (int)(c->t[i].len > 40 ? 40 : c->t[i].len), c->text + c->t[i].start);
    return 0;
}

int pj_epoch(struct pctx *c, int obj, const char *key, int64_t unit_ns, int64_t *ns)
{
    int64_t v;
    int rc = pj_i64(c, obj, key, &v);
    if (rc)
        return rc;
    if (v < 0 || v > INT64_MAX / unit_ns)
        return pj_fail(c, key, TR_ERANGE, "epoch %lld out of range", (long long)v);
    *ns = v * unit_ns;
    return 0;
}

int pj_is(struct pctx *c, int i, const char *s)
{
    if (i < 0 || c->t[i].type != TR_JSON_STRING)
        return 0;
    const struct tr_json_tok *t = &c->t[i];
    if (!t->escaped) {
        size_t n = strlen(s);
        return t->len == n && memcmp(c->text + t->start, s, n) == 0;
    }
    return tr_json_eq(c->text, c->t, i, s);
}

struct tr_event *pj_event_slot(struct pctx *c)
{
    struct tr_frame *f = c->out;
    if (f->n_events == f->cap_events) {
        size_t cap = f->cap_events ? f->cap_events * 2 : 16;
        struct tr_event *e = realloc(f->events, cap * sizeof *e);
        if (!e) {
            tr_errorf(c->err, TR_ENOMEM, "%s: %zu events", c->what, cap);
            return NULL;
        }
        f->events = e;
        f->cap_events = cap;
    }
    return &f->events[f->n_events++];
}

struct tr_event *pj_event(struct pctx *c, int kind)
{
    struct tr_event *ev = pj_event_slot(c);
    if (!ev)
        return NULL;
    tr_event_clear(ev);
    ev->kind = (uint8_t)kind;
    memcpy(ev->provider, c->provider, strlen(c->provider) + 1);
    if (c->recv_ns) {
        ev->ts_receive = c->recv_ns;
        ev->fields |= TR_F_TS_RECEIVE;
    }
    return ev;
}

struct tr_level *pj_alloc_levels(struct pctx *c, struct tr_event *ev, size_t nb, size_t na)
{
    if (nb > TR_LEVELS_MAX || na > TR_LEVELS_MAX) {
        pj_fail(c, nb > TR_LEVELS_MAX ? "bids" : "asks", TR_ETOOBIG, "more than %d levels",
                TR_LEVELS_MAX);
        return NULL;
    }
    ev->n_bids = (uint32_t)nb;
    ev->n_asks = (uint32_t)na;
    if (nb + na == 0) {
        ev->levels = NULL;
        return (struct tr_level *)ev; /* non-NULL: nothing to fill */
    }
    struct tr_level *l = tr_event_scratch_levels(&c->out->levels, nb + na);
    if (!l) {
        tr_errorf(c->err, TR_ENOMEM, "%s: %zu levels", c->what, nb + na);
        return NULL;
    }
    ev->levels = l;
    return l;
}

int pj_levels(struct pctx *c, int arr, const char *key, struct tr_level *dst)
{
    if (c->t[arr].type != TR_JSON_ARRAY)
        return pj_fail(c, key, TR_EPARSE, "expected an array of levels");
    uint32_t n = c->t[arr].count;
    int i = arr + 1;
    for (uint32_t k = 0; k < n; k++) {
        const struct tr_json_tok *lv = &c->t[i];
        if (lv->type != TR_JSON_ARRAY || lv->count < 2)
            return pj_fail(c, key, TR_EPARSE, "level %u: expected [price, size, ...]", k);
        int rc = pj_dec_at(c, i + 1, key, &dst[k].price);
        if (!rc)
            rc = pj_dec_at(c, c->t[i + 1].end, key, &dst[k].size);
        if (rc)
            return tr_error_wrap(c->err, rc, "level %u", k);
        i = (int)lv->end;
    }
    return 0;
}

struct tr_ctl_mark *pj_mark(struct pctx *c)
{
    struct tr_frame *f = c->out;
    if (f->n_marks == f->cap_marks) {
        size_t cap = f->cap_marks ? f->cap_marks * 2 : 8;
        struct tr_ctl_mark *m = realloc(f->marks, cap * sizeof *m);
        if (!m) {
            tr_errorf(c->err, TR_ENOMEM, "%s: marks", c->what);
            return NULL;
        }
        f->marks = m;
        f->cap_marks = cap;
    }
    struct tr_ctl_mark *m = &f->marks[f->n_marks++];
    memset(m, 0, sizeof *m);
    return m;
}

int pj_done(struct pctx *c, int rc)
{
    if (rc) {
        c->out->n_events = 0;
        c->out->n_marks = 0;
        c->out->has_sent = 0;
        tr_event_scratch_reset(&c->out->levels);
    }
    return rc;
}

int pj_plain(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
            return 0;
    return 1;
}

int pj_bprintf(struct tr_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return TR_ETOOBIG;
    return tr_buf_append(b, tmp, (size_t)n);
}

int pj_bstr(struct tr_buf *b, const char *s)
{
    return tr_json_put_str(b, s, strlen(s));
}

int pj_sprintf(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
    if (*pos >= cap)
        return TR_ETOOBIG;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *pos)
        return TR_ETOOBIG;
    *pos += (size_t)n;
    return 0;
}

int pj_urlenc(char *buf, size_t cap, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
                    ch == '~';
        size_t need = plain ? 1 : 3;
        if (*pos + need >= cap)
            return TR_ETOOBIG;
        if (plain) {
            buf[(*pos)++] = (char)ch;
        } else {
            buf[(*pos)++] = '%';
            buf[(*pos)++] = hex[ch >> 4];
            buf[(*pos)++] = hex[ch & 15];
        }
    }
    buf[*pos] = '\0';
    return 0;
}

int pj_add_name(struct tr_rest_result *r, const char *s, size_t len)
{
    int rc = tr_buf_append(&r->names, s, len);
    if (!rc)
        rc = tr_buf_append(&r->names, "", 1);
    if (!rc)
        r->n_names++;
    return rc;
}

void pj_reverse(struct tr_frame *f, size_t from)
{
    if (f->n_events < 2)
        return;
    for (size_t a = from, b = f->n_events - 1; a < b; a++, b--) {
        struct tr_event tmp = f->events[a];
        f->events[a] = f->events[b];
        f->events[b] = tmp;
    }
}
