/* Readers and followers: iterate committed records in LSN order, all
 * streams or one, from the start, an LSN, a stream sequence or a time.
 * A live reader (tr_log_reader_options.live) reads up to the written LSN
 * instead: records in the segment file (the page cache) whose fsync may
 * not have returned yet. That is safe for a concurrent reader because a
 * block enters the block table (under mu) only after its pwrite returned
 * whole, and the file is never cut below a block in the table (a failed
 * write cuts back only what it added); what a live reader cannot have is
 * the promise that the record survives a machine crash.
 *
 * A reader holds its own fd on the segment it reads and one decompressed
 * block; it takes the log's mutex only to find the next block (binary
 * search of the segment and block tables), so readers and the writer run
 * side by side. The reader's fd is opened while holding that mutex, so it
 * always belongs to the version of the segment the block table describes:
 * the recompressor replaces a sealed segment (rename) and its table under
 * the same mutex, and a reader that still has the old file open keeps
 * reading the old inode, whose blocks hold the same records. A read-only
 * log (another process writes) checks the header flags instead and
 * re-scans a segment that was replaced since it looked. Every block is
 * checked (header CRC, payload CRC, exact decompression) and every record
 * (CRC, bounds) before it is returned: a damaged block is reported as
 * TR_ECORRUPT, never returned. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { F_NONE, F_SEQ, F_TS };

struct tr_log_reader {
    struct tr_log *log;
    char *stream;
    size_t stream_len;
    int filter;
    uint64_t fseq;
    int64_t fts;
    uint64_t next_lsn;
    uint64_t committed;   /* committed (live: written) LSN seen at the last block lookup */
    int live;             /* reads up to the written LSN, not the committed one */
    /* the loaded block */
    uint8_t *raw, *io;
    size_t raw_cap, io_cap;
    uint32_t raw_len, blk_n;
    uint64_t blk_first;
    size_t blk_off;       /* offset in raw of record next_lsn */
    int loaded;
    int fd;
    uint64_t fd_seg;
    uint32_t fd_gen;
};

long seg_find(const struct tr_log *log, uint64_t id)
{
    size_t lo = 0, hi = log->n_segs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < log->n_segs && log->segs[lo].id == id ? (long)lo : -1;
}

int locate_block(struct tr_log *log, uint64_t lsn, uint64_t *seg_id, struct blk *b)
{
    if (lsn < log->first_lsn)
        return TR_ENOTFOUND;
    size_t lo = 0, hi = log->n_segs; /* last segment with first_lsn <= lsn */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid].first_lsn <= lsn)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return TR_ENOTFOUND;
    const struct seg *s = &log->segs[lo - 1];
    lo = 0;
    hi = s->n_blocks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->blocks[mid].first_lsn <= lsn)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || lsn >= s->blocks[lo - 1].first_lsn + s->blocks[lo - 1].n)
        return TR_EAGAIN;
    *seg_id = s->id;
    *b = s->blocks[lo - 1];
    return 0;
}

/* First block (all streams) whose newest record is at or after ts. */
static uint64_t lsn_for_time(struct tr_log *log, int64_t ts)
{
    for (size_t i = 0; i < log->n_segs; i++) {
        const struct seg *s = &log->segs[i];
        if (!s->n_blocks || s->max_ts < ts)
            continue;
        for (size_t k = 0; k < s->n_blocks; k++)
            if (s->blocks[k].max_ts >= ts)
                return s->blocks[k].first_lsn;
    }
    return log->written_lsn + 1;
}

static uint64_t start_lsn(struct tr_log *log, const struct tr_log_reader *r,
                          const struct tr_log_reader_options *o)
{
    switch (o->from) {
    case TR_LOG_FROM_LSN:
        return o->lsn ? o->lsn : 1;
    case TR_LOG_FROM_END:
        return (r->live ? atomic_load(&log->appended_lsn) : log->committed_lsn) + 1;
    case TR_LOG_FROM_SEQ:
    case TR_LOG_FROM_TIME: {
        if (!r->stream)
            return lsn_for_time(log, o->ts_ns);
        const struct stream *st = index_find(&log->idx, r->stream, r->stream_len);
        if (!st)
            return log->written_lsn + 1; /* nothing of it written yet */
        if (!st->n_pts)
            return log->first_lsn;
        const struct point *p = o->from == TR_LOG_FROM_SEQ ? stream_seek_seq(st, o->seq)
                                                            : stream_seek_ts(st, o->ts_ns);
        return p ? p->lsn : st->pts[0].lsn;
    }
    default:
        return log->first_lsn;
    }
}

int tr_log_reader_alloc(struct tr_log *log, const struct tr_log_reader_options *o,
                        struct tr_log_reader **out, struct tr_error *err)
{
    struct tr_log_reader_options def = {0};
    if (!o)
        o = &def;
    if (o->from < TR_LOG_FROM_START || o->from > TR_LOG_FROM_END)
        return tr_errorf(err, TR_EINVAL, "reader: bad 'from' %d", o->from);
    if (o->from == TR_LOG_FROM_SEQ && !o->stream)
        return tr_errorf(err, TR_EINVAL, "reader: seeking by sequence needs a stream");
    struct tr_log_reader *r = calloc(1, sizeof *r);
    if (!r)
        return tr_errorf(err, TR_ENOMEM, "reader: no memory");
    r->log = log;
    r->fd = -1;
    r->live = o->live != 0;
    if (o->stream) {
        r->stream_len = o->stream_len ? o->stream_len : strlen(o->stream);
        if (r->stream_len == 0 || r->stream_len > TR_LOG_STREAM_MAX ||
            !(r->stream = malloc(r->stream_len))) {
            int code = r->stream_len && r->stream_len <= TR_LOG_STREAM_MAX ? TR_ENOMEM : TR_EINVAL;
            free(r);
            return tr_errorf(err, code, "reader: bad stream key");
        }
        memcpy(r->stream, o->stream, r->stream_len);
    }
    if (o->from == TR_LOG_FROM_SEQ) {
        r->filter = F_SEQ;
        r->fseq = o->seq;
    } else if (o->from == TR_LOG_FROM_TIME) {
        r->filter = F_TS;
        r->fts = o->ts_ns;
    }
    pthread_mutex_lock(&log->mu);
    r->next_lsn = start_lsn(log, r, o);
    pthread_mutex_unlock(&log->mu);
    *out = r;
    return 0;
}

void tr_log_reader_free(struct tr_log_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->stream);
    free(r->raw);
    free(r->io);
    free(r);
}

uint64_t tr_log_reader_position(const struct tr_log_reader *r)
{
    return r->next_lsn;
}

static int grow(uint8_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    uint8_t *np = realloc(*p, need);
    if (!np)
        return TR_ENOMEM;
    *p = np;
    *cap = need;
    return 0;
}

static int load_block(struct tr_log_reader *r, uint64_t seg_id, const struct blk *b,
                      struct tr_error *err)
{
    char path[4096];
    seg_path(r->log, seg_id, "seg", path, sizeof path);
    if (grow(&r->io, &r->io_cap, b->len) != 0)
        return tr_errorf(err, TR_ENOMEM, "reader: no memory for a %" PRIu32 "-byte block", b->len);
    ssize_t n = pread(r->fd, r->io, b->len, (off_t)b->off);
    if (n < 0)
        return tr_errorf(err, TR_EIO, "read %s at %" PRIu64 ": %s", path, b->off, strerror(errno));
    struct blk_hdr h;
    int rc = block_header_decode(r->io, (size_t)n, &h, err);
    if (rc == 0 && (h.first_lsn != b->first_lsn || h.n != b->n ||
                    BLK_HDR_SIZE + h.stored_len != b->len))
        rc = tr_errorf(err, TR_ECORRUPT, "block header disagrees with the index");
    if (rc == 0 && grow(&r->raw, &r->raw_cap, h.raw_len) != 0)
        return tr_errorf(err, TR_ENOMEM, "reader: no memory for %" PRIu32 " bytes", h.raw_len);
    if (rc == 0)
        rc = block_payload_decode(&h, r->io + BLK_HDR_SIZE, r->raw, err);
    if (rc)
        return tr_error_wrap(err, rc, "segment %s offset %" PRIu64, path, b->off);
    r->raw_len = h.raw_len;
    r->blk_first = h.first_lsn;
    r->blk_n = h.n;
    r->blk_off = 0;
    r->loaded = 1;
    return 0;
}

/* Opens the file of segment `seg_id` for r, matching the table's version
 * of it. Caller holds mu. For a read-only log a segment replaced by the
 * writing process since it was indexed is re-scanned (the table changes:
 * the caller locates its block again). */
static int open_seg_locked(struct tr_log_reader *r, uint64_t seg_id, struct tr_error *err)
{
    struct tr_log *log = r->log;
    char path[4096];
    seg_path(log, seg_id, "seg", path, sizeof path);
    if (r->fd >= 0)
        close(r->fd);
    r->fd_seg = 0; /* no segment has id 0: reopened next time unless all goes well */
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return tr_errorf(err, errno == ENOENT ? TR_ENOTFOUND : tr_err_from_errno(errno),
                         "open %s: %s", path, strerror(errno));
    long i = seg_find(log, seg_id);
    if (i < 0)
        return tr_errorf(err, TR_ENOTFOUND, "segment %s was dropped", path);
    if (log->o.read_only) {
        uint8_t hdr[SEG_HDR_SIZE];
        if (pread(r->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
            return tr_errorf(err, TR_ECORRUPT, "read header of %s", path);
        if (seg_header_flags(hdr) != log->segs[i].flags) {
            int rc = seg_reload_locked(log, (size_t)i, r->fd, err);
            if (rc)
                return tr_error_wrap(err, rc, "segment %s was replaced", path);
        }
    }
    r->fd_seg = seg_id;
    r->fd_gen = log->segs[i].gen;
    return 0;
}

/* Makes the loaded block hold next_lsn, positioned on it: 1 ready, 0 not
 * committed yet, <0 error. */
static int position(struct tr_log_reader *r, struct tr_error *err)
{
    struct tr_log *log = r->log;
    /* a live reader past the written records the writer still holds: take
     * them out of its partial block (lock order wmu, then mu) */
    if (r->live && r->next_lsn > r->committed && atomic_load(&log->appended_lsn) >= r->next_lsn)
        live_pull(log);
    pthread_mutex_lock(&log->mu);
    uint64_t committed = r->live ? log->written_lsn : log->committed_lsn, seg_id = 0;
    struct blk b;
    int rc = r->next_lsn > committed ? 1 : locate_block(log, r->next_lsn, &seg_id, &b);
    if (rc == 0) {
        long i = seg_find(log, seg_id);
        if (r->fd < 0 || r->fd_seg != seg_id || (i >= 0 && r->fd_gen != log->segs[i].gen)) {
            int orc = open_seg_locked(r, seg_id, err);
            if (orc == 0) {
                rc = locate_block(log, r->next_lsn, &seg_id, &b); /* may have moved */
            } else if (orc == TR_ENOTFOUND) {
                rc = orc; /* retention dropped it meanwhile */
            } else {
                pthread_mutex_unlock(&log->mu);
                r->loaded = 0;
                return orc;
            }
        }
    }
    uint64_t first = log->first_lsn;
    pthread_mutex_unlock(&log->mu);
    r->committed = committed;
    if (rc == 1 || rc == TR_EAGAIN)
        return 0;
    if (rc == TR_ENOTFOUND)
        return tr_errorf(err, TR_ENOTFOUND, "reader at LSN %" PRIu64 ": records before LSN %"
                         PRIu64 " were dropped by retention", r->next_lsn, first);
    if ((rc = load_block(r, seg_id, &b, err)) != 0) {
        r->loaded = 0;
        return rc;
    }
    struct rec_view v;
    for (uint64_t l = r->blk_first; l < r->next_lsn; l++) {
        if ((rc = rec_decode(r->raw, r->raw_len, r->blk_off, &v, &r->blk_off, err)) != 0) {
            r->loaded = 0;
            return tr_error_wrap(err, rc, "segment %020" PRIu64 " block at %" PRIu64,
                                 seg_id, b.off);
        }
    }
    return 1;
}

int tr_log_reader_next(struct tr_log_reader *r, struct tr_log_record *rec, struct tr_error *err)
{
    for (;;) {
        /* The committed LSN (and the written one) always ends a block, so
         * a block found below it is in the file whole and can be read
         * without the lock. */
        if (!r->loaded || r->next_lsn < r->blk_first || r->next_lsn >= r->blk_first + r->blk_n ||
            r->next_lsn > r->committed) {
            int rc = position(r, err);
            if (rc <= 0)
                return rc;
        }
        struct rec_view v;
        size_t next;
        int rc = rec_decode(r->raw, r->raw_len, r->blk_off, &v, &next, err);
        if (rc) {
            r->loaded = 0;
            return tr_error_wrap(err, rc, "reader at LSN %" PRIu64, r->next_lsn);
        }
        uint64_t lsn = r->next_lsn++;
        r->blk_off = next;
        if (r->stream && (v.key_len != r->stream_len || memcmp(v.key, r->stream, v.key_len)))
            continue;
        if (r->filter == F_SEQ && v.seq < r->fseq)
            continue;
        if (r->filter == F_TS && v.ts < r->fts)
            continue;
        r->filter = F_NONE; /* from here on, everything of the stream */
        rec->stream = v.key;
        rec->stream_len = v.key_len;
        rec->seq = v.seq;
        rec->ts_ns = v.ts;
        rec->payload = v.payload;
        rec->payload_len = v.payload_len;
        rec->lsn = lsn;
        return 1;
    }
}

int tr_log_reader_wait(struct tr_log_reader *r, int timeout_ms)
{
    if (r->live)
        return tr_log_wait_appended(r->log, r->next_lsn - 1, timeout_ms);
    return tr_log_wait_committed(r->log, r->next_lsn - 1, timeout_ms);
}

int tr_log_verify(struct tr_log *log, struct tr_error *err)
{
    struct tr_log_reader *r;
    struct tr_log_reader_options o = {.from = TR_LOG_FROM_START};
    int rc = tr_log_reader_alloc(log, &o, &r, err);
    if (rc)
        return rc;
    struct tr_log_record rec;
    while ((rc = tr_log_reader_next(r, &rec, err)) == 1) {
    }
    tr_log_reader_free(r);
    return rc ? tr_error_wrap(err, rc, "verify log %s", log->dir) : 0;
}
