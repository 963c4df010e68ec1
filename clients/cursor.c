/* Cursors (per-stream last delivered native sequence), stream filters and
 * admin tables: the small data types both ends of the protocol share.
 * A cursor names positions by (stream key, native seq) because that pair
 * is the same on every node of a cluster, while LSNs are not (each node's
 * log interleaves streams in its own arrival order). */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickraft/protocol.h"

struct tr_cursor_entry {
    uint64_t seq;
    uint32_t k; /* records with this seq delivered (a stream may repeat a seq:
                 * a book gap notice and its snapshot share one) */
    size_t len;
    char key[]; /* NUL-terminated */
};

static uint64_t hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

void tr_cursor_init(struct tr_cursor *c)
{
    memset(c, 0, sizeof *c);
}

void tr_cursor_free(struct tr_cursor *c)
{
    for (size_t i = 0; i < c->n_slots; i++)
        free(c->slots[i]);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

static struct tr_cursor_entry **slot(const struct tr_cursor *c, const char *key, size_t len)
{
    size_t mask = c->n_slots - 1, i = (size_t)hash(key, len) & mask;
    for (;;) {
        struct tr_cursor_entry *e = c->slots[i];
        if (!e || (e->len == len && memcmp(e->key, key, len) == 0))
            return &c->slots[i];
        i = (i + 1) & mask;
    }
}

int tr_cursor_pos(const struct tr_cursor *c, const char *key, size_t len, uint64_t *seq,
                  uint32_t *k)
{
    if (!c->n_slots)
        return 0;
    struct tr_cursor_entry *e = *slot(c, key, len);
    if (!e)
        return 0;
    *seq = e->seq;
    if (k)
        *k = e->k;
    return 1;
}

int tr_cursor_get(const struct tr_cursor *c, const char *key, size_t len, uint64_t *seq)
{
    return tr_cursor_pos(c, key, len, seq, NULL);
}

static int grow(struct tr_cursor *c)
{
    size_t ns = c->n_slots ? c->n_slots * 2 : 16;
    struct tr_cursor old = *c;
    c->slots = calloc(ns, sizeof *c->slots);
    if (!c->slots) {
        c->slots = old.slots;
        return TR_ENOMEM;
    }
    c->n_slots = ns;
    for (size_t i = 0; i < old.n_slots; i++)
        if (old.slots[i])
            *slot(c, old.slots[i]->key, old.slots[i]->len) = old.slots[i];
    free(old.slots);
    return 0;
}

int tr_cursor_put(struct tr_cursor *c, const char *key, size_t len, uint64_t seq, uint32_t k)
{
    if ((c->n + 1) * 2 > c->n_slots && grow(c))
        return TR_ENOMEM;
    struct tr_cursor_entry **s = slot(c, key, len);
    if (!*s) {
        struct tr_cursor_entry *e = malloc(sizeof *e + len + 1);
        if (!e)
            return TR_ENOMEM;
        e->len = len;
        memcpy(e->key, key, len);
        e->key[len] = 0;
        *s = e;
        c->n++;
    }
    (*s)->seq = seq;
    (*s)->k = k;
    return 0;
}

int tr_cursor_set(struct tr_cursor *c, const char *key, size_t len, uint64_t seq)
{
    return tr_cursor_put(c, key, len, seq, 1);
}

int tr_cursor_advance(struct tr_cursor *c, const char *key, size_t len, uint64_t seq)
{
    uint64_t s0;
    uint32_t k;
    if (tr_cursor_pos(c, key, len, &s0, &k) && s0 == seq)
        return tr_cursor_put(c, key, len, seq, k + 1);
    return tr_cursor_put(c, key, len, seq, 1);
}

int tr_cursor_next(const struct tr_cursor *c, size_t *it, const char **key, size_t *len,
                   uint64_t *seq, uint32_t *k)
{
    while (*it < c->n_slots) {
        struct tr_cursor_entry *e = c->slots[(*it)++];
        if (e) {
            *key = e->key;
            *len = e->len;
            *seq = e->seq;
            if (k)
                *k = e->k;
            return 1;
        }
    }
    return 0;
}

int tr_cursor_encode(const struct tr_cursor *c, struct tr_buf *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, tr_proto_buf_write);
    size_t it = 0, len;
    const char *key;
    uint64_t seq;
    uint32_t k;
    int bad = msgpack_pack_array(&pk, 3) | msgpack_pack_uint32(&pk, 1) |
              msgpack_pack_int64(&pk, c->base_ts) | msgpack_pack_array(&pk, (uint32_t)(c->n * 3));
    while (!bad && tr_cursor_next(c, &it, &key, &len, &seq, &k))
        bad = msgpack_pack_str(&pk, len) | msgpack_pack_str_body(&pk, key, len) |
              msgpack_pack_uint64(&pk, seq) | msgpack_pack_uint32(&pk, k);
    return bad ? TR_ENOMEM : 0;
}

int tr_cursor_decode(struct tr_cursor *c, const uint8_t *p, size_t len, struct tr_error *err)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = TR_EPARSE;
    tr_cursor_free(c);
    if (tr_proto_scan(p, len, NULL) || /* no allocation from a forged count */
        msgpack_unpack_next(&u, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len || u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 3) {
        tr_errorf(err, rc, "cursor: not a cursor");
        goto out;
    }
    const msgpack_object *e = u.data.via.array.ptr;
    uint64_t ver;
    if (tr_proto_u64(&e[0], &ver) || ver != 1) {
        tr_errorf(err, rc = TR_EVERSION, "cursor: unknown version");
        goto out;
    }
    if (tr_proto_i64(&e[1], &c->base_ts) || e[2].type != MSGPACK_OBJECT_ARRAY ||
        e[2].via.array.size % 3) {
        tr_errorf(err, rc, "cursor: bad base time or stream list");
        goto out;
    }
    const msgpack_object_array *a = &e[2].via.array;
    for (uint32_t i = 0; i < a->size; i += 3) {
        const char *k;
        size_t kl;
        uint64_t seq, cnt;
        if (tr_proto_str(&a->ptr[i], &k, &kl) || !k || kl == 0 || kl > 255 ||
            tr_proto_u64(&a->ptr[i + 1], &seq) || tr_proto_u64(&a->ptr[i + 2], &cnt) ||
            cnt == 0 || cnt > UINT32_MAX) {
            tr_errorf(err, rc, "cursor: bad stream entry %u", i / 3);
            goto out;
        }
        if (tr_cursor_put(c, k, kl, seq, (uint32_t)cnt)) {
            tr_errorf(err, rc = TR_ENOMEM, "cursor: out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* ---- filters ---- */
static int glob_part(const char *glob, const char *s, size_t n)
{
    if (!glob[0])
        return 1;
    char tmp[256];
    if (n >= sizeof tmp)
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    return fnmatch(glob, tmp, 0) == 0;
}

int tr_proto_filter_match(const struct tr_proto_filter *f, const char *key, size_t len)
{
    const char *a = memchr(key, '/', len);
    if (!a)
        return 0;
    const char *b = memchr(a + 1, '/', len - (size_t)(a + 1 - key));
    if (!b)
        return 0;
    return glob_part(f->provider, key, (size_t)(a - key)) &&
           glob_part(f->kind, a + 1, (size_t)(b - a - 1)) &&
           glob_part(f->instrument, b + 1, len - (size_t)(b + 1 - key));
}

/* ---- tables ---- */
void tr_client_table_init(struct tr_client_table *t)
{
    memset(t, 0, sizeof *t);
}

void tr_client_table_free(struct tr_client_table *t)
{
    for (size_t i = 0; i < t->n_cols; i++)
        free(t->cols[i]);
    for (size_t i = 0; i < t->n_cols * t->n_rows; i++)
        free(t->cells[i]);
    free(t->cols);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

int tr_client_table_cols(struct tr_client_table *t, size_t n, const char *const *names)
{
    if (t->n_rows || t->n_cols || n == 0)
        return TR_EINVAL;
    t->cols = calloc(n, sizeof *t->cols);
    if (!t->cols)
        return TR_ENOMEM;
    t->n_cols = n;
    for (size_t i = 0; i < n; i++)
        if (!(t->cols[i] = dup_n(names[i], strlen(names[i]))))
            return TR_ENOMEM;
    return 0;
}

int tr_client_table_row(struct tr_client_table *t, const char *const *cells)
{
    if (!t->n_cols)
        return TR_EINVAL;
    char **nc = realloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof *nc);
    if (!nc)
        return TR_ENOMEM;
    t->cells = nc;
    char **row = nc + t->n_rows * t->n_cols;
    for (size_t i = 0; i < t->n_cols; i++) {
        const char *s = cells[i] ? cells[i] : "";
        if (!(row[i] = dup_n(s, strlen(s)))) {
            while (i--)
                free(row[i]);
            return TR_ENOMEM;
        }
    }
    t->n_rows++;
    return 0;
}

int tr_client_table_kv(struct tr_client_table *t, const char *key, const char *fmt, ...)
{
    if (!t->n_cols) {
        static const char *const kv[] = {"key", "value"};
        int rc = tr_client_table_cols(t, 2, kv);
        if (rc)
            return rc;
    }
    if (t->n_cols != 2)
        return TR_EINVAL;
    char val[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    const char *row[2] = {key, val};
    return tr_client_table_row(t, row);
}

void tr_client_table_pack(const struct tr_client_table *t, msgpack_packer *pk)
{
    msgpack_pack_array(pk, (uint32_t)t->n_cols);
    for (size_t i = 0; i < t->n_cols; i++) {
        msgpack_pack_str(pk, strlen(t->cols[i]));
        msgpack_pack_str_body(pk, t->cols[i], strlen(t->cols[i]));
    }
    msgpack_pack_array(pk, (uint32_t)t->n_rows);
    for (size_t r = 0; r < t->n_rows; r++) {
        msgpack_pack_array(pk, (uint32_t)t->n_cols);
        for (size_t i = 0; i < t->n_cols; i++) {
            const char *s = t->cells[r * t->n_cols + i];
            msgpack_pack_str(pk, strlen(s));
            msgpack_pack_str_body(pk, s, strlen(s));
        }
    }
}

int tr_client_table_unpack(struct tr_client_table *t, const msgpack_object *cols,
                          const msgpack_object *rows, struct tr_error *err)
{
    tr_client_table_init(t);
    if (cols->type != MSGPACK_OBJECT_ARRAY || rows->type != MSGPACK_OBJECT_ARRAY ||
        cols->via.array.size == 0 || cols->via.array.size > 64)
        return tr_errorf(err, TR_EPARSE, "table: bad shape");
    size_t nc = cols->via.array.size;
    const char *tmp[64];
    char *own[64] = {0};
    int rc = 0;
    for (size_t i = 0; i < nc && !rc; i++) {
        const char *p;
        size_t n;
        if (tr_proto_str(&cols->via.array.ptr[i], &p, &n) || !(own[i] = dup_n(p ? p : "", n)))
            rc = TR_EPARSE;
        tmp[i] = own[i];
    }
    if (!rc)
        rc = tr_client_table_cols(t, nc, tmp);
    for (uint32_t r = 0; r < rows->via.array.size && !rc; r++) {
        const msgpack_object *row = &rows->via.array.ptr[r];
        if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != nc) {
            rc = TR_EPARSE;
            break;
        }
        for (size_t i = 0; i < nc; i++) {
            free(own[i]);
            const char *p;
            size_t n;
            own[i] = NULL;
            if (tr_proto_str(&row->via.array.ptr[i], &p, &n) || !(own[i] = dup_n(p ? p : "", n)))
                rc = TR_EPARSE;
            tmp[i] = own[i] ? own[i] : "";
        }
        if (!rc)
            rc = tr_client_table_row(t, tmp);
    }
    for (size_t i = 0; i < nc; i++)
        free(own[i]);
    if (rc) {
        tr_client_table_free(t);
        return tr_errorf(err, rc, "table: bad cell");
    }
    return 0;
}
