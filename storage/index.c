/* The sparse index: per stream, a point (seq, ts, lsn) for the first record
 * of the stream in each segment and then every `index_every` records, so a
 * seek by (stream, seq) or (stream, time) reads at most that many of the
 * stream's records too many. Kept in memory; persisted per sealed segment
 * in <id>.idx so opening a big log never decompresses sealed segments.
 *
 * INDEX FILE FORMAT, version 1 (little-endian, CRC = CRC32C):
 *   0  8  magic "TRLOGIDX"
 *   8  4  format version (1)
 *  12  4  CRC of every byte from offset 16 to the end of the file
 *  16  8  segment id
 *  24  8  size in bytes of the segment file it describes (a mismatch
 *         means stale: the index is rebuilt by scanning the segment)
 *  32  8  first LSN      40  8  last LSN
 *  48  4  block count B  52  4  stream count S  56  4  point count P
 *  60  4  flags of the segment header it describes (0 in files written
 *         before the recompressor existed; a mismatch = stale)
 *  64  8  uncompressed bytes of all blocks
 *  72     B blocks x 40: offset u64, first LSN u64, records u32,
 *         length (header + payload) u32, min ts i64, max ts i64
 *         S streams: key length u16, key bytes
 *         P points x 32: stream number u32 (0..S-1), zero u32, seq u64,
 *         ts i64, LSN u64 (grouped by stream, LSN ascending)
 * Written to <id>.idx.tmp, fsynced, renamed. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)k[i]) * 1099511628211ull;
    return h;
}

void index_init(struct index *ix)
{
    memset(ix, 0, sizeof *ix);
}

void index_free(struct index *ix)
{
    for (size_t i = 0; i < ix->cap; i++) {
        if (ix->tab[i]) {
            free(ix->tab[i]->key);
            free(ix->tab[i]->pts);
            free(ix->tab[i]);
        }
    }
    free(ix->tab);
    memset(ix, 0, sizeof *ix);
}

static struct stream **slot(struct index *ix, const char *key, size_t len, uint64_t h)
{
    size_t mask = ix->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct stream *s = ix->tab[i];
        if (!s || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return &ix->tab[i];
    }
}

struct stream *index_find(struct index *ix, const char *key, size_t len)
{
    if (!ix->cap)
        return NULL;
    return *slot(ix, key, len, hash_key(key, len));
}

static int grow(struct index *ix)
{
    size_t cap = ix->cap ? ix->cap * 2 : 64;
    struct stream **tab = calloc(cap, sizeof *tab);
    if (!tab)
        return TR_ENOMEM;
    struct index old = *ix;
    ix->tab = tab;
    ix->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.tab[i])
            *slot(ix, old.tab[i]->key, old.tab[i]->len, old.tab[i]->hash) = old.tab[i];
    free(old.tab);
    return 0;
}

struct stream *index_get(struct index *ix, const char *key, size_t len)
{
    if ((ix->n + 1) * 2 > ix->cap && grow(ix) != 0)
        return NULL;
    uint64_t h = hash_key(key, len);
    struct stream **sp = slot(ix, key, len, h);
    if (*sp)
        return *sp;
    struct stream *s = calloc(1, sizeof *s);
    if (!s || !(s->key = malloc(len ? len : 1))) {
        free(s);
        return NULL;
    }
    memcpy(s->key, key, len);
    s->len = (uint16_t)len;
    s->hash = h;
    *sp = s;
    ix->n++;
    return s;
}

static int push_point(struct index *ix, struct stream *st, uint64_t seq, int64_t ts, uint64_t lsn)
{
    if (st->n_pts == st->cap_pts) {
        size_t cap = st->cap_pts ? st->cap_pts * 2 : 8;
        struct point *np = realloc(st->pts, cap * sizeof *np);
        if (!np)
            return TR_ENOMEM;
        st->pts = np;
        st->cap_pts = cap;
    }
    st->pts[st->n_pts++] = (struct point){seq, ts, lsn};
    ix->n_points++;
    return 0;
}

int index_note(struct index *ix, uint32_t every, uint64_t seg_id, const char *key, size_t len,
               uint64_t seq, int64_t ts, uint64_t lsn)
{
    struct stream *st = index_get(ix, key, len);
    if (!st)
        return TR_ENOMEM;
    if (st->n_pts == 0 || st->last_seg != seg_id || st->since_point >= every) {
        if (push_point(ix, st, seq, ts, lsn) != 0)
            return TR_ENOMEM;
        st->since_point = 0;
        st->last_seg = seg_id;
    }
    st->since_point++;
    return 0;
}

void index_trim(struct index *ix, uint64_t first_lsn)
{
    for (size_t i = 0; i < ix->cap; i++) {
        struct stream *st = ix->tab[i];
        if (!st)
            continue;
        size_t k = 0;
        while (k < st->n_pts && st->pts[k].lsn < first_lsn)
            k++;
        if (k) {
            memmove(st->pts, st->pts + k, (st->n_pts - k) * sizeof *st->pts);
            st->n_pts -= k;
            ix->n_points -= k;
        }
    }
}

const struct point *stream_seek_seq(const struct stream *st, uint64_t seq)
{
    size_t lo = 0, hi = st->n_pts; /* first point with seq > target */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->pts[mid].seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &st->pts[lo - 1] : NULL;
}

const struct point *stream_seek_ts(const struct stream *st, int64_t ts)
{
    size_t lo = 0, hi = st->n_pts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->pts[mid].ts <= ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &st->pts[lo - 1] : NULL;
}

/* First point of `st` with lsn >= lsn. */
static size_t first_point_from(const struct stream *st, uint64_t lsn)
{
    size_t lo = 0, hi = st->n_pts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->pts[mid].lsn < lsn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- index files ---- */

struct wbuf {
    uint8_t *p;
    size_t len, cap;
};

static uint8_t *wb_take(struct wbuf *b, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np)
            return NULL;
        b->p = np;
        b->cap = cap;
    }
    uint8_t *r = b->p + b->len;
    b->len += n;
    return r;
}

static int idx_build(struct tr_log *log, const struct seg *s, struct wbuf *b)
{
    uint8_t *h = wb_take(b, IDX_HDR_SIZE);
    if (!h)
        return TR_ENOMEM;
    memset(h, 0, IDX_HDR_SIZE);
    for (size_t i = 0; i < s->n_blocks; i++) {
        uint8_t *e = wb_take(b, IDX_BLK_SIZE);
        if (!e)
            return TR_ENOMEM;
        const struct blk *k = &s->blocks[i];
        put_le64(e, k->off);
        put_le64(e + 8, k->first_lsn);
        put_le32(e + 16, k->n);
        put_le32(e + 20, k->len);
        put_le64(e + 24, (uint64_t)k->min_ts);
        put_le64(e + 32, (uint64_t)k->max_ts);
    }
    /* Streams that have points in this segment, then their points. */
    uint32_t n_streams = 0, n_points = 0;
    struct index *ix = &log->idx;
    for (size_t i = 0; i < ix->cap; i++) {
        struct stream *st = ix->tab[i];
        if (!st)
            continue;
        size_t k = first_point_from(st, s->first_lsn);
        if (k >= st->n_pts || st->pts[k].lsn > s->last_lsn)
            continue;
        uint8_t *e = wb_take(b, 2 + st->len);
        if (!e)
            return TR_ENOMEM;
        put_le16(e, st->len);
        memcpy(e + 2, st->key, st->len);
        n_streams++;
    }
    uint32_t sno = 0;
    for (size_t i = 0; i < ix->cap; i++) {
        struct stream *st = ix->tab[i];
        if (!st)
            continue;
        size_t k = first_point_from(st, s->first_lsn);
        if (k >= st->n_pts || st->pts[k].lsn > s->last_lsn)
            continue;
        for (; k < st->n_pts && st->pts[k].lsn <= s->last_lsn; k++) {
            uint8_t *e = wb_take(b, IDX_POINT_SIZE);
            if (!e)
                return TR_ENOMEM;
            memset(e, 0, IDX_POINT_SIZE);
            put_le32(e, sno);
            put_le64(e + 8, st->pts[k].seq);
            put_le64(e + 16, (uint64_t)st->pts[k].ts);
            put_le64(e + 24, st->pts[k].lsn);
            n_points++;
        }
        sno++;
    }
    h = b->p;
    memcpy(h, IDX_MAGIC, 8);
    put_le32(h + 8, FORMAT_VERSION);
    put_le64(h + 16, s->id);
    put_le64(h + 24, s->size);
    put_le64(h + 32, s->first_lsn);
    put_le64(h + 40, s->last_lsn);
    put_le32(h + 48, (uint32_t)s->n_blocks);
    put_le32(h + 52, n_streams);
    put_le32(h + 56, n_points);
    put_le32(h + IDX_SEGFLAGS_OFF, s->flags);
    put_le64(h + 64, s->raw_bytes);
    put_le32(h + 12, tr_log_crc32c(0, b->p + 16, b->len - 16));
    return 0;
}

int idx_image(struct tr_log *log, const struct seg *s, uint8_t **img, size_t *len)
{
    struct wbuf b = {0};
    int rc = idx_build(log, s, &b);
    if (rc) {
        free(b.p);
        return rc;
    }
    *img = b.p;
    *len = b.len;
    return 0;
}

int idx_write_image(struct tr_log *log, uint64_t id, const uint8_t *img, size_t len,
                    struct tr_error *err)
{
    char path[4096], tmp[4112];
    int fd = -1, rc = 0;
    seg_path(log, id, "idx", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = log->fs->open(log->fs->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = tr_errorf(err, tr_err_from_errno(-fd), "create %s: %s", tmp, strerror(-fd));
        fd = -1;
        goto out;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = log->fs->pwrite(log->fs->ctx, fd, img + done, len - done, (off_t)done);
        if (n <= 0) {
            int e = n < 0 ? (int)-n : ENOSPC;
            rc = tr_errorf(err, tr_err_from_errno(e), "write %s: %s", tmp, strerror(e));
            goto out;
        }
        done += (size_t)n;
    }
    int r = log->fs->fsync(log->fs->ctx, fd);
    if (r < 0) {
        rc = tr_errorf(err, tr_err_from_errno(-r), "fsync %s: %s", tmp, strerror(-r));
        goto out;
    }
    if (rename(tmp, path) != 0)
        rc = tr_errorf(err, tr_err_from_errno(errno), "rename %s: %s", tmp, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp);
    return rc;
}

int idx_write(struct tr_log *log, const struct seg *s, struct tr_error *err)
{
    uint8_t *img;
    size_t len;
    if (idx_image(log, s, &img, &len) != 0) {
        char path[4096];
        seg_path(log, s->id, "idx", path, sizeof path);
        return tr_errorf(err, TR_ENOMEM, "write index %s: no memory", path);
    }
    int rc = idx_write_image(log, s->id, img, len, err);
    free(img);
    return rc;
}

/* Checks an index file image fully before anything is applied. */
static int idx_check(const uint8_t *p, size_t len, const struct seg *s, uint64_t file_size)
{
    if (len < IDX_HDR_SIZE || memcmp(p, IDX_MAGIC, 8) != 0 ||
        get_le32(p + 8) != FORMAT_VERSION ||
        tr_log_crc32c(0, p + 16, len - 16) != get_le32(p + 12) ||
        get_le64(p + 16) != s->id || get_le64(p + 24) != file_size ||
        get_le64(p + 32) != s->first_lsn || get_le32(p + IDX_SEGFLAGS_OFF) != s->flags)
        return -1;
    uint64_t nb = get_le32(p + 48), ns = get_le32(p + 52), np = get_le32(p + 56);
    uint64_t last = get_le64(p + 40);
    if (nb == 0 || IDX_HDR_SIZE + nb * IDX_BLK_SIZE > len)
        return -1;
    const uint8_t *e = p + IDX_HDR_SIZE;
    uint64_t off = SEG_HDR_SIZE, lsn = s->first_lsn;
    for (uint64_t i = 0; i < nb; i++, e += IDX_BLK_SIZE) {
        if (get_le64(e) != off || get_le64(e + 8) != lsn || get_le32(e + 16) == 0 ||
            get_le32(e + 20) < BLK_HDR_SIZE)
            return -1;
        off += get_le32(e + 20);
        lsn += get_le32(e + 16);
    }
    if (off != file_size || lsn - 1 != last)
        return -1;
    const uint8_t *end = p + len;
    for (uint64_t i = 0; i < ns; i++) {
        if (end - e < 2 || get_le16(e) == 0 || get_le16(e) > TR_LOG_STREAM_MAX ||
            end - e - 2 < get_le16(e))
            return -1;
        e += 2 + get_le16(e);
    }
    if ((uint64_t)(end - e) != np * IDX_POINT_SIZE)
        return -1;
    for (uint64_t i = 0; i < np; i++, e += IDX_POINT_SIZE) {
        uint64_t pl = get_le64(e + 24);
        if (get_le32(e) >= ns || pl < s->first_lsn || pl > last)
            return -1;
    }
    return 0;
}

int idx_load(struct tr_log *log, struct seg *s, uint64_t file_size, struct tr_error *err)
{
    char path[4096];
    uint8_t *p = NULL;
    size_t len = 0;
    seg_path(log, s->id, "idx", path, sizeof path);
    if (read_file(path, &p, &len, NULL) != 0)
        return TR_ENOTFOUND;
    int rc = 0;
    struct stream **map = NULL;
    if (idx_check(p, len, s, file_size) != 0) {
        rc = TR_ENOTFOUND; /* stale or damaged: the caller rebuilds it */
        goto out;
    }
    uint32_t nb = get_le32(p + 48), ns = get_le32(p + 52), np = get_le32(p + 56);
    const uint8_t *e = p + IDX_HDR_SIZE;
    for (uint32_t i = 0; i < nb; i++, e += IDX_BLK_SIZE) {
        struct blk b = {get_le64(e), get_le64(e + 8), get_le32(e + 16), get_le32(e + 20),
                        (int64_t)get_le64(e + 24), (int64_t)get_le64(e + 32)};
        if (seg_add_block(s, &b) != 0)
            goto nomem;
    }
    s->size = file_size;
    s->raw_bytes = get_le64(p + 64);
    map = calloc(ns ? ns : 1, sizeof *map);
    if (!map)
        goto nomem;
    for (uint32_t i = 0; i < ns; i++) {
        uint16_t kl = get_le16(e);
        if (!(map[i] = index_get(&log->idx, (const char *)e + 2, kl)))
            goto nomem;
        e += 2 + kl;
    }
    for (uint32_t i = 0; i < np; i++, e += IDX_POINT_SIZE) {
        struct stream *st = map[get_le32(e)];
        if (push_point(&log->idx, st, get_le64(e + 8), (int64_t)get_le64(e + 16),
                       get_le64(e + 24)) != 0)
            goto nomem;
        st->last_seg = s->id;
        st->since_point = 0;
    }
    goto out;
nomem:
    rc = tr_errorf(err, TR_ENOMEM, "load index %s: no memory", path);
out:
    free(map);
    free(p);
    return rc;
}
