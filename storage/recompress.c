/* Background recompression of sealed segments: a low-priority thread
 * rewrites each sealed segment's records into full blocks compressed with
 * LZ4HC (same block format, codec 1), and swaps the new file in.
 *
 * Why: the writer compresses with LZ4's fast mode to keep appends above
 * 1.5 M events/s, and with group_commit_ms = 0 every fsync cuts a partial
 * block, so at moderate rates blocks hold a few records each. Sealed
 * segments never change again, so they can be rewritten later, off the
 * writer's path, at LZ4HC's ratio (docs/storage.md has the figures).
 *
 * Crash safety. The rewrite goes to <id>.seg.tmp; every block written is
 * decompressed again and compared with the records it came from; the file
 * gets its header (flag SEG_FLAG_RECOMPRESSED) and is fsynced; then, while
 * holding the log mutex, it is renamed over <id>.seg and the in-memory
 * block table is swapped; then the directory is fsynced and a new index is
 * written (tmp, fsync, rename). A crash before the rename leaves a .tmp
 * that open deletes; after it, the new segment (complete: it was fsynced
 * before the rename) with either index: index files record the segment
 * header's flags, so an index of the other version is stale and the
 * segment is scanned instead. Records keep their LSNs, so the sparse
 * index points (seq, ts, LSN) stay valid; only the block table changes.
 *
 * Readers open segment files while holding the log mutex (reader.c), so
 * an fd always matches the table it was located with; a reader still on
 * the old file reads the old inode, which holds the same records.
 *
 * A segment that fails to read back (damaged), whose rewrite fails (full
 * disk, I/O error), or whose rewrite would not be smaller, is left exactly
 * as it was and not tried again until the log is reopened. Segments
 * retention is about to drop are not rewritten. No rewrite starts unless
 * the disk has room for it plus segment_bytes of headroom for the writer:
 * the recompressor waits for space rather than fill the disk. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lz4hc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct job {
    struct tr_log *log;
    uint64_t id, first_lsn, last_lsn, raw_bytes, old_size;
    struct blk *old;
    size_t n_old;
    struct seg ns;            /* the new version: blocks, size */
    int fd_in, fd_out;
    uint8_t *io, *raw, *pend, *out, *check;
    size_t io_cap, raw_cap, pend_cap, out_cap, check_cap;
    size_t pend_len;
    uint64_t flushed;         /* tmp file bytes written back so far */
    uint64_t t_start;         /* monotonic ns when the rewrite started */
    uint32_t pend_n;
    uint64_t pend_first, next_lsn;
    int64_t pmin, pmax;
    void *hc;
};

static int write_all(struct job *j, const uint8_t *p, size_t n, uint64_t off, struct tr_error *err)
{
    const struct tr_log_fs_ops *fs = j->log->fs;
    size_t done = 0;
    while (done < n) {
        ssize_t w = fs->pwrite(fs->ctx, j->fd_out, p + done, n - done, (off_t)(off + done));
        if (w <= 0) {
            int e = w < 0 ? (int)-w : ENOSPC;
            return tr_errorf(err, errno_is_space(e) ? TR_ENOSPACE : tr_err_from_errno(e),
                             "write at %" PRIu64 ": %s", off + done, strerror(e));
        }
        done += (size_t)w;
    }
    return 0;
}

static int stopping(struct tr_log *log)
{
    return __atomic_load_n(&log->rc_stop, __ATOMIC_RELAXED);
}

/* Writes the tmp file back in small steps as it grows, waiting for each:
 * left to the final fsync, tens of MB of dirty data would go out in one
 * burst, and on ext4 the log's own fsyncs (journal commits) would wait
 * behind it - measured: durable p99 50-300 ms at 50 k events/s while a
 * 64 MiB segment was rewritten. */
#define TRICKLE_BYTES (64u << 10)
static int trickle(struct job *j, uint64_t end, int all, struct tr_error *err)
{
    if (!all && end - j->flushed < TRICKLE_BYTES)
        return 0;
    if (sync_file_range(j->fd_out, (off64_t)j->flushed, (off64_t)(end - j->flushed),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
        int e = errno;
        return tr_errorf(err, errno_is_space(e) ? TR_ENOSPACE : tr_err_from_errno(e),
                         "write back at %" PRIu64 ": %s", j->flushed, strerror(e));
    }
    j->flushed = end;
    /* Pace the rewrite (recompress_bytes_per_s on average), so the device
     * has idle gaps for the log's fsyncs. Rewrites have no deadline. */
    uint64_t bps = j->log->o.recompress_bytes_per_s;
    if (!bps)
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t t = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    uint64_t due = j->t_start + (uint64_t)((double)end * 1e9 / (double)bps);
    if (due > t && !stopping(j->log)) {
        struct timespec d = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL);
    }
    return 0;
}

/* Compresses the pending records into one block, checks that it decodes
 * back to exactly them, and writes it. */
static int emit(struct job *j, struct tr_error *err)
{
    if (!j->pend_n)
        return 0;
    if (buf_grow(&j->out, &j->out_cap, block_bound(j->pend_len), 65536) ||
        buf_grow(&j->check, &j->check_cap, j->pend_len, 65536))
        return tr_errorf(err, TR_ENOMEM, "no memory for a block");
    size_t len = block_encode(j->out, j->pend, j->pend_len, j->pend_first, j->pend_n,
                              j->log->o.recompress_level, j->hc);
    struct blk_hdr h;
    int rc = block_header_decode(j->out, len, &h, err);
    if (rc == 0)
        rc = block_payload_decode(&h, j->out + BLK_HDR_SIZE, j->check, err);
    if (rc == 0 && memcmp(j->check, j->pend, j->pend_len) != 0)
        rc = tr_errorf(err, TR_ECORRUPT, "rewritten block does not read back");
    if (rc)
        return tr_error_wrap(err, rc, "self-check of the new block at LSN %" PRIu64,
                             j->pend_first);
    if ((rc = write_all(j, j->out, len, j->ns.size, err)) != 0)
        return rc;
    if ((rc = trickle(j, j->ns.size + len, 0, err)) != 0)
        return rc;
    struct blk b = {j->ns.size, j->pend_first, j->pend_n, (uint32_t)len, j->pmin, j->pmax};
    if (seg_add_block(&j->ns, &b) != 0)
        return tr_errorf(err, TR_ENOMEM, "no memory for the block table");
    j->ns.size += len;
    j->ns.raw_bytes += j->pend_len;
    j->pend_len = 0;
    j->pend_n = 0;
    return 0;
}

/* Blocks are cut like the writer cuts them (at the first record boundary
 * past the target), at least 64 KiB: LZ4's whole match window, and what a
 * small block_bytes or window-0 commits left as many small blocks. */
static size_t rc_block_bytes(const struct tr_log *log)
{
    return log->o.block_bytes > (64u << 10) ? log->o.block_bytes : (64u << 10);
}

/* Reads every old block (all CRCs checked), re-cuts its records into
 * blocks of rc_block_bytes and writes them after a header. */
static int rewrite(struct job *j, struct tr_error *err)
{
    struct tr_log *log = j->log;
    j->ns.size = SEG_HDR_SIZE;
    j->flushed = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    j->t_start = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    j->next_lsn = j->first_lsn;
    for (size_t k = 0; k < j->n_old; k++) {
        if (stopping(log))
            return tr_errorf(err, TR_ECLOSED, "log closing");
        const struct blk *b = &j->old[k];
        if (buf_grow(&j->io, &j->io_cap, b->len, 65536))
            return tr_errorf(err, TR_ENOMEM, "no memory for a block");
        ssize_t n = pread(j->fd_in, j->io, b->len, (off_t)b->off);
        struct blk_hdr h;
        int rc = n == (ssize_t)b->len ? block_header_decode(j->io, b->len, &h, err)
                                       : tr_errorf(err, TR_ECORRUPT, "short read");
        if (rc == 0 && (h.first_lsn != b->first_lsn || h.n != b->n || h.first_lsn != j->next_lsn))
            rc = tr_errorf(err, TR_ECORRUPT, "block header disagrees with the index");
        if (rc == 0 && buf_grow(&j->raw, &j->raw_cap, h.raw_len, 65536))
            return tr_errorf(err, TR_ENOMEM, "no memory for a block");
        if (rc == 0)
            rc = block_payload_decode(&h, j->io + BLK_HDR_SIZE, j->raw, err);
        size_t off = 0;
        for (uint32_t i = 0; rc == 0 && i < h.n; i++) {
            struct rec_view v;
            size_t next;
            if ((rc = rec_decode(j->raw, h.raw_len, off, &v, &next, err)) != 0)
                break;
            size_t rl = next - off;
            if (buf_grow(&j->pend, &j->pend_cap, j->pend_len + rl, 65536))
                return tr_errorf(err, TR_ENOMEM, "no memory for records");
            memcpy(j->pend + j->pend_len, j->raw + off, rl);
            if (!j->pend_n) {
                j->pend_first = j->next_lsn;
                j->pmin = j->pmax = v.ts;
            }
            if (v.ts < j->pmin)
                j->pmin = v.ts;
            if (v.ts > j->pmax)
                j->pmax = v.ts;
            j->pend_len += rl;
            j->pend_n++;
            j->next_lsn++;
            off = next;
            if (j->pend_len >= rc_block_bytes(log) && (rc = emit(j, err)) != 0)
                break;
        }
        if (rc == 0 && off != h.raw_len)
            rc = tr_errorf(err, TR_ECORRUPT, "block has bytes after its records");
        if (rc)
            return tr_error_wrap(err, rc, "old block at offset %" PRIu64, b->off);
    }
    int rc = emit(j, err);
    if (rc)
        return rc;
    if (j->next_lsn != j->last_lsn + 1 || j->ns.raw_bytes != j->raw_bytes)
        return tr_errorf(err, TR_ECORRUPT, "rewrite has LSNs to %" PRIu64 " and %" PRIu64
                         " raw bytes, expected %" PRIu64 " and %" PRIu64, j->next_lsn - 1,
                         j->ns.raw_bytes, j->last_lsn, j->raw_bytes);
    uint8_t hdr[SEG_HDR_SIZE];
    int64_t created = now_realtime_ns();
    if (pread(j->fd_in, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr)
        created = (int64_t)get_le64(hdr + 32); /* keep the segment's creation time */
    seg_header_encode(hdr, j->id, j->first_lsn, created);
    seg_header_set_flags(hdr, SEG_FLAG_RECOMPRESSED);
    if ((rc = write_all(j, hdr, sizeof hdr, 0, err)) != 0)
        return rc;
    int r = log->fs->fsync(log->fs->ctx, j->fd_out);
    if (r < 0)
        return tr_errorf(err, errno_is_space(-r) ? TR_ENOSPACE : tr_err_from_errno(-r), "fsync: %s",
                         strerror(-r));
    return 0;
}

/* First segment to rewrite, or -1. Skips what retention would drop now.
 * Caller holds mu. */
static long pick(struct tr_log *log)
{
    uint64_t total = 0;
    for (size_t i = 0; i < log->n_segs; i++)
        total += log->segs[i].size;
    int64_t now = log->o.retain_age_ns ? now_realtime_ns() : 0;
    int prefix = 1; /* retention drops a prefix: from the first survivor on, nothing */
    for (size_t i = 0; i + 1 < log->n_segs; i++) {
        const struct seg *s = &log->segs[i];
        int doomed = prefix && ((log->o.retain_bytes && total > log->o.retain_bytes) ||
                                (log->o.retain_age_ns && s->n_blocks &&
                                 s->max_ts < now - log->o.retain_age_ns));
        total -= s->size;
        if (doomed)
            continue; /* goes at the next roll or tr_log_retain */
        prefix = 0;
        if (s->sealed && !s->rc_skip && !(s->flags & SEG_FLAG_RECOMPRESSED) && s->n_blocks)
            return (long)i;
    }
    return -1;
}

/* Rewrites segment segs[i] (mu held on entry and exit, released inside). */
static void run_job(struct tr_log *log, long i, struct job *j)
{
    const struct seg *s = &log->segs[i];
    struct tr_error err = {0};
    char path[4096], tmp[4112];
    j->id = s->id;
    j->first_lsn = s->first_lsn;
    j->last_lsn = s->last_lsn;
    j->raw_bytes = s->raw_bytes;
    j->old_size = s->size;
    j->n_old = s->n_blocks;
    j->old = malloc(s->n_blocks * sizeof *j->old);
    memset(&j->ns, 0, sizeof j->ns);
    j->ns.id = s->id;
    j->ns.first_lsn = s->first_lsn;
    if (j->old)
        memcpy(j->old, s->blocks, s->n_blocks * sizeof *j->old);
    log->rc_busy = j->id;
    pthread_mutex_unlock(&log->mu);

    seg_path(log, j->id, "seg", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = j->old ? 0 : tr_errorf(&err, TR_ENOMEM, "no memory for the block table");
    j->fd_in = -1;
    j->fd_out = -1;
    if (rc == 0 && (j->fd_in = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        rc = tr_errorf(&err, tr_err_from_errno(errno), "open: %s", strerror(errno));
    if (rc == 0) {
        j->fd_out = log->fs->open(log->fs->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                                  0644);
        if (j->fd_out < 0) {
            rc = tr_errorf(&err, tr_err_from_errno(-j->fd_out), "create %s: %s", tmp,
                           strerror(-j->fd_out));
            j->fd_out = -1;
        }
    }
    if (rc == 0)
        rc = rewrite(j, &err);
    int kept = rc == 0 && j->ns.size >= j->old_size; /* not smaller: not worth a swap */
    if (j->fd_in >= 0)
        close(j->fd_in);
    if (j->fd_out >= 0)
        close(j->fd_out);
    uint8_t *img = NULL;
    size_t img_len = 0;
    int swapped = 0;

    pthread_mutex_lock(&log->mu);
    long k = seg_find(log, j->id);
    if (kept && k >= 0) {
        log->segs[k].rc_skip = 1;
        log->rc_kept++;
        rc = TR_EEXISTS; /* not an error: the original stays */
    }
    if (rc == 0 && k >= 0 && rename(tmp, path) != 0)
        rc = tr_errorf(&err, tr_err_from_errno(errno), "rename %s: %s", tmp, strerror(errno));
    if (rc == 0 && k >= 0) {
        struct seg *t = &log->segs[k];
        free(t->blocks);
        t->blocks = j->ns.blocks;
        t->n_blocks = j->ns.n_blocks;
        t->cap_blocks = j->ns.cap_blocks;
        j->ns.blocks = NULL;
        t->size = j->ns.size;
        t->flags |= SEG_FLAG_RECOMPRESSED;
        t->gen++;
        log->rc_done++;
        if (j->old_size > t->size)
            log->rc_saved_bytes += j->old_size - t->size;
        swapped = 1;
        if (idx_image(log, t, &img, &img_len) != 0)
            img = NULL; /* no index file: the next open scans this segment */
    } else if (rc && rc != TR_ECLOSED && rc != TR_EEXISTS && k >= 0) {
        log->segs[k].rc_skip = 1;
        log->rc_failed++;
        snprintf(log->rc_error, sizeof log->rc_error, "recompressing %.120s left it as it was: %.300s",
                 path, err.msg);
    }
    pthread_mutex_unlock(&log->mu);

    if (!swapped)
        unlink(tmp); /* failed, closing, or retention dropped the segment meanwhile */
    else {
        fsync_dir(log->dir);
        if (img)
            idx_write_image(log, j->id, img, img_len, NULL); /* best effort, like at roll */
    }
    free(img);
    free(j->old);
    j->old = NULL;
    free(j->ns.blocks);
    pthread_mutex_lock(&log->mu);
    log->rc_busy = 0; /* only now: waiters see the files settled too */
    pthread_cond_broadcast(&log->cv);
}

/* A rewrite needs room for the new file (at most the old one's size) while
 * the old one still exists, and the writer must keep a segment's worth of
 * headroom: a recompressor must never be what makes appends fail with
 * TR_ENOSPACE. */
#define LOW_SPACE_RETRY_S 5
static int space_ok(struct tr_log *log, uint64_t size)
{
    struct statvfs v;
    if (statvfs(log->dir, &v) != 0)
        return 1; /* cannot tell: the write itself will say */
    return (uint64_t)v.f_bavail * v.f_frsize >= size + log->o.segment_bytes;
}

static void *rc_main(void *arg)
{
    struct tr_log *log = arg;
    /* Lowest CPU priority for this thread only (Linux: per-thread nice).
     * Not the idle I/O class: under a busy disk it can starve the rewrite's
     * waits for seconds, and close waits for them; pacing (trickle) keeps
     * the disk free for the log's fsyncs instead. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    struct job j;
    memset(&j, 0, sizeof j);
    j.log = log;
    j.hc = malloc((size_t)LZ4_sizeofStateHC());
    pthread_mutex_lock(&log->mu);
    while (!log->rc_stop) {
        long i = j.hc ? pick(log) : -1;
        if (i < 0) {
            pthread_cond_wait(&log->rc_cv, &log->mu);
            continue;
        }
        if (!space_ok(log, log->segs[i].size)) {
            /* The rewrite would eat the writer's headroom: wait for space
             * (retention, an operator) instead of filling the disk. */
            if (!log->rc_low_space)
                log->rc_deferred++;
            log->rc_low_space = 1;
            pthread_cond_broadcast(&log->cv);
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += LOW_SPACE_RETRY_S;
            pthread_cond_timedwait(&log->rc_cv, &log->mu, &ts);
            continue;
        }
        log->rc_low_space = 0;
        run_job(log, i, &j);
    }
    pthread_mutex_unlock(&log->mu);
    free(j.hc);
    free(j.io);
    free(j.raw);
    free(j.pend);
    free(j.out);
    free(j.check);
    return NULL;
}

int rc_start(struct tr_log *log, struct tr_error *err)
{
    int r = pthread_create(&log->rc_thread, NULL, rc_main, log);
    if (r)
        return tr_errorf(err, TR_ENOMEM, "start recompression thread: %s", strerror(r));
    log->rc_running = 1;
    return 0;
}

void rc_stop(struct tr_log *log)
{
    if (!log->rc_running)
        return;
    pthread_mutex_lock(&log->mu);
    __atomic_store_n(&log->rc_stop, 1, __ATOMIC_RELAXED);
    pthread_cond_signal(&log->rc_cv);
    pthread_mutex_unlock(&log->mu);
    pthread_join(log->rc_thread, NULL);
    log->rc_running = 0;
}

void rc_kick(struct tr_log *log)
{
    if (log->rc_running)
        pthread_cond_signal(&log->rc_cv);
}

int tr_log_wait_recompressed(struct tr_log *log, int timeout_ms)
{
    if (!log->rc_running)
        return TR_EINVAL;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t deadline = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec +
                        (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    int rc = 0;
    pthread_mutex_lock(&log->mu);
    while (rc == 0 && (log->rc_busy || (pick(log) >= 0 && !log->rc_low_space))) {
        if (timeout_ms < 0)
            pthread_cond_wait(&log->cv, &log->mu);
        else if (pthread_cond_timedwait(&log->cv, &log->mu, &ts) == ETIMEDOUT)
            rc = TR_ETIMEDOUT;
    }
    pthread_mutex_unlock(&log->mu);
    return rc;
}

int seg_reload_locked(struct tr_log *log, size_t i, int fd, struct tr_error *err)
{
    struct seg *s = &log->segs[i];
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < SEG_HDR_SIZE)
        return tr_errorf(err, TR_ECORRUPT, "replaced segment has %lld bytes", (long long)end);
    uint8_t *buf = malloc((size_t)end);
    if (!buf)
        return tr_errorf(err, TR_ENOMEM, "no memory to re-scan a segment");
    int rc = 0;
    if (pread(fd, buf, (size_t)end, 0) != (ssize_t)end)
        rc = tr_errorf(err, TR_EIO, "read replaced segment: %s", strerror(errno));
    struct seg t;
    memset(&t, 0, sizeof t);
    t.id = s->id;
    t.first_lsn = s->first_lsn;
    uint64_t good;
    if (rc == 0)
        rc = seg_scan(buf, (size_t)end, &t, NULL, NULL, &good, err);
    if (rc == 0 && (get_le64(buf + 24) != s->first_lsn || t.last_lsn < s->last_lsn))
        rc = tr_errorf(err, TR_ECORRUPT, "replaced segment holds other LSNs");
    if (rc == 0) {
        free(s->blocks);
        s->blocks = t.blocks;
        s->n_blocks = t.n_blocks;
        s->cap_blocks = t.cap_blocks;
        s->size = t.size;
        s->raw_bytes = t.raw_bytes;
        s->flags = seg_header_flags(buf);
        s->gen++;
        t.blocks = NULL;
    }
    free(t.blocks);
    free(buf);
    return rc;
}
