/* The write path: framing records into the raw buffer, cutting it into
 * LZ4 blocks, one pwrite per call, segment rolls, flush and retention.
 *
 * All-or-nothing appends: a call's records are framed into the raw buffer
 * after any records still pending from earlier calls; the complete blocks
 * are compressed into one output buffer and written with a single pwrite at
 * the end of the active segment. If that write fails (ENOSPC, EFBIG, EIO),
 * the file is cut back to its previous size and the raw buffer back to its
 * content before the call, so the call appended nothing and earlier pending
 * records stay pending. A partial last block stays in memory (better
 * compression, fewer syscalls) until it fills, the sync thread flushes it,
 * a live reader that reached it writes it (live_pull), or at once in
 * EVERY mode. */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct seg *active(struct tr_log *log)
{
    return &log->segs[log->n_segs - 1];
}

/* Splits raw[0..upto) into blocks (at cuts, plus a last partial one) and
 * compresses them into log->out. Returns the block count or -1. */
static long build_blocks(struct tr_log *log, size_t upto, size_t *out_len)
{
    size_t nb = 0, start = 0, total_bound = 0;
    uint64_t lsn = log->raw_first_lsn;
    for (size_t i = 0; i <= log->n_cuts; i++) {
        size_t end = i < log->n_cuts ? log->cuts[i].off : upto;
        uint64_t next = i < log->n_cuts ? log->cuts[i].next_lsn : log->next_lsn;
        if (end > upto || start >= end)
            break;
        if (nb == log->cap_pend) {
            size_t cap = log->cap_pend ? log->cap_pend * 2 : 16;
            struct pend *np = realloc(log->pend, cap * sizeof *np);
            if (!np)
                return -1;
            log->pend = np;
            log->cap_pend = cap;
        }
        log->pend[nb++] = (struct pend){start, end - start, 0, 0, lsn, (uint32_t)(next - lsn)};
        total_bound += block_bound(end - start);
        start = end;
        lsn = next;
    }
    if (buf_grow(&log->out, &log->out_cap, total_bound, 4096) != 0)
        return -1;
    size_t off = 0;
    for (size_t i = 0; i < nb; i++) {
        struct pend *p = &log->pend[i];
        p->out_off = off;
        p->out_len = block_encode(log->out + off, log->raw + p->raw_off, p->raw_len,
                                  p->first_lsn, p->n, log->o.compression_level, log->hc_state);
        off += p->out_len;
    }
    *out_len = off;
    return (long)nb;
}

/* Adds written blocks to the segment table and the sparse index. */
static int commit_blocks(struct tr_log *log, long nb, uint64_t base)
{
    struct seg *s = active(log);
    int rc = 0;
    for (long i = 0; i < nb && rc == 0; i++) {
        struct pend *p = &log->pend[i];
        struct blk b = {base + p->out_off, p->first_lsn, p->n, (uint32_t)p->out_len, 0, 0};
        const uint8_t *r = log->raw + p->raw_off;
        for (uint32_t k = 0; k < p->n && rc == 0; k++) {
            uint32_t len = get_le32(r);
            uint16_t kl = get_le16(r + 24);
            int64_t ts = (int64_t)get_le64(r + 16);
            if (k == 0 || ts < b.min_ts)
                b.min_ts = ts;
            if (k == 0 || ts > b.max_ts)
                b.max_ts = ts;
            rc = index_note(&log->idx, log->o.index_every, s->id, (const char *)r + REC_HDR_SIZE,
                            kl, get_le64(r + 8), ts, p->first_lsn + k);
            r += len;
        }
        if (rc == 0)
            rc = seg_add_block(s, &b);
        s->raw_bytes += p->raw_len;
    }
    return rc;
}

int write_raw(struct tr_log *log, size_t upto, struct tr_error *err)
{
    if (upto == 0)
        return 0;
    struct seg *s = active(log);
    size_t len;
    long nb = build_blocks(log, upto, &len);
    if (nb < 0)
        return tr_errorf(err, TR_ENOMEM, "append: no memory for compressed blocks");
    size_t done = 0;
    int e = 0;
    while (done < len) {
        ssize_t n = log->fs->pwrite(log->fs->ctx, log->fd, log->out + done, len - done,
                                    (off_t)(s->size + done));
        if (n <= 0) {
            e = n < 0 ? (int)-n : ENOSPC;
            break;
        }
        done += (size_t)n;
    }
    if (e) {
        int t = log->fs->ftruncate(log->fs->ctx, log->fd, (off_t)s->size);
        prezero_reset(log); /* the cut took the zeros ahead too */
        pthread_mutex_lock(&log->mu);
        if (errno_is_space(e))
            log->nospace = 1;
        if (t < 0)
            log->sync_err = TR_EIO;
        pthread_cond_broadcast(&log->cv);
        pthread_mutex_unlock(&log->mu);
        if (t < 0)
            return tr_errorf(err, TR_EIO, "write segment %020" PRIu64 " at offset %" PRIu64
                             ": %s, and cutting the partial write back failed: %s",
                             s->id, s->size, strerror(e), strerror(-t));
        if (errno_is_space(e))
            return tr_errorf(err, TR_ENOSPACE, "write segment %020" PRIu64 " at offset %" PRIu64
                             ": %s (disk full: nothing of this append was stored, the log "
                             "stays readable, retry once space is freed)",
                             s->id, s->size, strerror(e));
        return tr_errorf(err, tr_err_from_errno(e), "write segment %020" PRIu64 " at offset %"
                         PRIu64 ": %s", s->id, s->size, strerror(e));
    }
    uint64_t last = log->pend[nb - 1].first_lsn + log->pend[nb - 1].n - 1;
    pthread_mutex_lock(&log->mu);
    int rc = commit_blocks(log, nb, s->size);
    s->size += len;
    log->written_lsn = last;
    log->nospace = 0;
    pthread_mutex_unlock(&log->mu);
    if (rc) {
        pthread_mutex_lock(&log->mu);
        log->sync_err = TR_ENOMEM;
        pthread_mutex_unlock(&log->mu);
        return tr_errorf(err, TR_ENOMEM, "append: no memory for the index");
    }
    log->unsynced_bytes += len;
    /* Drop what was written from raw. */
    memmove(log->raw, log->raw + upto, log->raw_len - upto);
    log->raw_len -= upto;
    log->raw_first_lsn = last + 1;
    size_t k = 0;
    for (size_t i = 0; i < log->n_cuts; i++)
        if (log->cuts[i].off > upto)
            log->cuts[k++] = (struct cut){log->cuts[i].off - upto, log->cuts[i].next_lsn};
    log->n_cuts = k;
    if (log->o.sync == TR_LOG_SYNC_NONE)
        publish_lsns(log, last, 0, 0);
    return 0;
}

/* fsyncs the active segment and publishes the written LSN as durable.
 * Caller holds wmu. */
static int sync_active(struct tr_log *log, struct tr_error *err)
{
    uint64_t target = log->written_lsn;
    if (target > log->sync_started_lsn)
        log->sync_started_lsn = target;
    pthread_mutex_lock(&log->sync_mu);
    int rc = do_fsync(log, log->fd, err);
    pthread_mutex_unlock(&log->sync_mu);
    if (rc == 0) {
        log->unsynced_bytes = 0;
        publish_lsns(log, target, target, 1);
    }
    return rc;
}

static int failed(struct tr_log *log, struct tr_error *err)
{
    if (log->o.read_only)
        return tr_errorf(err, TR_EPERM, "log %s is open read-only", log->dir);
    pthread_mutex_lock(&log->mu);
    int e = log->sync_err;
    pthread_mutex_unlock(&log->mu);
    if (e)
        return tr_errorf(err, e, "log is failed after an earlier fsync/write error (%s): "
                         "reopen it", tr_strerror(e));
    return 0;
}

static int retain_locked(struct tr_log *log, int64_t now_ns, unsigned *dropped,
                         struct tr_error *err);

/* Seals the active segment and starts the next one. Caller holds wmu and
 * has written every pending record. */
static int roll(struct tr_log *log, struct tr_error *err)
{
    int rc = prezero_cut(log); /* a sealed segment ends at its last block */
    if (rc)
        return tr_errorf(err, tr_err_from_errno(-rc), "roll: cut the zeros after segment %020"
                         PRIu64 ": %s", active(log)->id, strerror(-rc));
    rc = sync_active(log, err);
    if (rc)
        return rc;
    struct seg *s = active(log);
    idx_write(log, s, NULL); /* best effort: rebuilt by scanning if missing */
    int fd;
    if ((rc = seg_create_add(log, s->id + 1, log->next_lsn, &fd, err)) != 0) {
        if (rc == TR_ENOSPACE) {
            pthread_mutex_lock(&log->mu);
            log->nospace = 1;
            pthread_mutex_unlock(&log->mu);
        }
        return tr_error_wrap(err, rc, "roll segment");
    }
    pthread_mutex_lock(&log->mu);
    log->segs[log->n_segs - 2].sealed = 1;
    rc_kick(log);
    pthread_mutex_unlock(&log->mu);
    pthread_mutex_lock(&log->sync_mu);
    close(log->fd);
    log->fd = fd;
    log->active_id++; /* the sync threads reopen their own fds (sync.c) */
    prezero_reset(log);
    pthread_mutex_unlock(&log->sync_mu);
    if (log->o.retain_bytes || log->o.retain_age_ns)
        retain_locked(log, now_realtime_ns(), NULL, NULL);
    return 0;
}

static int maybe_roll(struct tr_log *log, struct tr_error *err)
{
    if (active(log)->size < log->o.segment_bytes)
        return 0;
    int rc = write_raw(log, log->raw_len, err);
    return rc ? rc : roll(log, err);
}

static int check_record(const struct tr_log_record *r, size_t i, size_t *klen, struct tr_error *err)
{
    size_t kl = r->stream ? (r->stream_len ? r->stream_len : strlen(r->stream)) : 0;
    if (kl == 0 || kl > TR_LOG_STREAM_MAX)
        return tr_errorf(err, TR_EINVAL, "append record %zu: stream key of %zu bytes (1..%d)", i,
                         kl, TR_LOG_STREAM_MAX);
    if (r->payload_len > TR_LOG_PAYLOAD_MAX)
        return tr_errorf(err, TR_ETOOBIG, "append record %zu: payload of %zu bytes (max %u)", i,
                         r->payload_len, TR_LOG_PAYLOAD_MAX);
    if (r->payload_len && !r->payload)
        return tr_errorf(err, TR_EINVAL, "append record %zu: NULL payload", i);
    *klen = kl;
    return 0;
}

static int push_cut(struct tr_log *log)
{
    if (log->n_cuts == log->cap_cuts) {
        size_t cap = log->cap_cuts ? log->cap_cuts * 2 : 16;
        struct cut *nc = realloc(log->cuts, cap * sizeof *nc);
        if (!nc)
            return TR_ENOMEM;
        log->cuts = nc;
        log->cap_cuts = cap;
    }
    log->cuts[log->n_cuts++] = (struct cut){log->raw_len, log->next_lsn};
    return 0;
}

int tr_log_append_many(struct tr_log *log, const struct tr_log_record *recs, size_t n,
                       uint64_t *last_lsn, struct tr_error *err)
{
    size_t need = 0, kl;
    for (size_t i = 0; i < n; i++) {
        int rc = check_record(&recs[i], i, &kl, err);
        if (rc)
            return rc;
        need += REC_HDR_SIZE + kl + recs[i].payload_len;
    }
    int kick = 0, wake = 0;
    pthread_mutex_lock(&log->wmu);
    int rc = failed(log, err);
    if (rc == 0)
        rc = maybe_roll(log, err);
    if (rc == 0 && buf_grow(&log->raw, &log->raw_cap, log->raw_len + need, 4096) != 0)
        rc = tr_errorf(err, TR_ENOMEM, "append: no memory for %zu bytes", need);
    if (rc)
        goto out;
    size_t raw0 = log->raw_len, cuts0 = log->n_cuts;
    uint64_t lsn0 = log->next_lsn;
    size_t block_start = log->n_cuts ? log->cuts[log->n_cuts - 1].off : 0;
    for (size_t i = 0; i < n; i++) {
        check_record(&recs[i], i, &kl, NULL);
        log->raw_len += rec_encode(log->raw + log->raw_len, &recs[i], kl);
        log->next_lsn++;
        if (log->raw_len - block_start >= log->o.block_bytes) {
            if (push_cut(log) != 0) {
                rc = tr_errorf(err, TR_ENOMEM, "append: no memory for block cuts");
                goto undo;
            }
            block_start = log->raw_len;
        }
    }
    /* Full blocks go to the file now; the partial last one waits in raw
     * for more records (or the sync thread, or a live reader that wants
     * it: live_pull), except in EVERY mode. */
    size_t upto = log->o.sync == TR_LOG_SYNC_EVERY ? log->raw_len
                  : log->n_cuts ? log->cuts[log->n_cuts - 1].off : 0;
    if ((rc = write_raw(log, upto, err)) != 0)
        goto undo;
    if (log->o.sync == TR_LOG_SYNC_EVERY)
        rc = sync_active(log, err);
    else if (log->o.sync == TR_LOG_SYNC_GROUP)
        kick = sync_kick_wanted(log);
    if (last_lsn)
        *last_lsn = log->next_lsn - 1;
    atomic_store(&log->appended_lsn, log->next_lsn - 1);
    wake = atomic_load(&log->live_waiting) != 0;
    goto out;
undo:
    log->raw_len = raw0;
    log->n_cuts = cuts0;
    log->next_lsn = lsn0;
out:
    pthread_mutex_unlock(&log->wmu);
    if (kick)
        sync_kick(log);
    if (wake) { /* a live reader waits: it pulls the records itself */
        pthread_mutex_lock(&log->mu);
        pthread_cond_broadcast(&log->wcv);
        pthread_mutex_unlock(&log->mu);
    }
    return rc;
}

void live_pull(struct tr_log *log)
{
    pthread_mutex_lock(&log->wmu);
    if (log->raw_len && !log->o.read_only) {
        pthread_mutex_lock(&log->mu);
        int bad = log->sync_err != 0;
        pthread_mutex_unlock(&log->mu);
        if (!bad)
            (void)write_raw(log, log->raw_len, NULL); /* on failure raw stays: the
                                                       * writer or sync thread retries */
    }
    pthread_mutex_unlock(&log->wmu);
}

int tr_log_append(struct tr_log *log, const struct tr_log_record *rec, uint64_t *lsn,
                  struct tr_error *err)
{
    return tr_log_append_many(log, rec, 1, lsn, err);
}

int tr_log_flush(struct tr_log *log, struct tr_error *err)
{
    pthread_mutex_lock(&log->wmu);
    int rc = failed(log, err);
    if (rc == 0)
        rc = write_raw(log, log->raw_len, err);
    if (rc == 0)
        rc = sync_active(log, err);
    pthread_mutex_unlock(&log->wmu);
    return rc;
}

static int retain_locked(struct tr_log *log, int64_t now_ns, unsigned *dropped,
                         struct tr_error *err)
{
    pthread_mutex_lock(&log->mu);
    uint64_t total = 0;
    for (size_t i = 0; i < log->n_segs; i++)
        total += log->segs[i].size;
    size_t k = 0;
    while (k + 1 < log->n_segs) {
        struct seg *s = &log->segs[k];
        int too_big = log->o.retain_bytes && total > log->o.retain_bytes;
        int too_old = log->o.retain_age_ns && s->n_blocks &&
                      s->max_ts < now_ns - log->o.retain_age_ns;
        if (!too_big && !too_old)
            break;
        total -= s->size;
        k++;
    }
    uint64_t *ids = k ? malloc(k * sizeof *ids) : NULL;
    if (k && !ids) {
        pthread_mutex_unlock(&log->mu);
        return tr_errorf(err, TR_ENOMEM, "retention: no memory");
    }
    for (size_t i = 0; i < k; i++) {
        ids[i] = log->segs[i].id;
        free(log->segs[i].blocks);
    }
    if (k) {
        memmove(log->segs, log->segs + k, (log->n_segs - k) * sizeof *log->segs);
        log->n_segs -= k;
        log->first_lsn = log->segs[0].first_lsn;
        index_trim(&log->idx, log->first_lsn);
    }
    pthread_mutex_unlock(&log->mu);
    for (size_t i = 0; i < k; i++) {
        char path[4096];
        seg_path(log, ids[i], "seg", path, sizeof path);
        unlink(path);
        seg_path(log, ids[i], "idx", path, sizeof path);
        unlink(path);
    }
    free(ids);
    if (dropped)
        *dropped = (unsigned)k;
    return 0;
}

int tr_log_retain(struct tr_log *log, int64_t now_ns, unsigned *dropped, struct tr_error *err)
{
    if (log->o.read_only)
        return tr_errorf(err, TR_EPERM, "log %s is open read-only", log->dir);
    pthread_mutex_lock(&log->wmu);
    int rc = retain_locked(log, now_ns, dropped, err);
    pthread_mutex_unlock(&log->wmu);
    return rc;
}
