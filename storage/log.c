/* Opening, recovering and closing the log; options, default filesystem
 * operations and figures.
 *
 * Recovery procedure (docs/storage.md, "Recovery"):
 *  1. Take an exclusive flock on <dir>/LOCK (TR_EBUSY if held).
 *  2. List <id>.seg files; delete leftover *.tmp files and index files
 *     without a segment.
 *  3. Every segment but the last is sealed: load its <id>.idx if its CRC,
 *     segment id, first LSN and the segment's file size all match; else scan
 *     the segment strictly (every header CRC, payload CRC, decompression,
 *     record CRC, LSN continuity) and rewrite the index. Any defect is
 *     TR_ECORRUPT: a sealed segment is never repaired. Segment first LSNs
 *     must continue the previous segment's last LSN.
 *  4. The last segment is scanned the same way but stops at the first bad
 *     block and truncates the file there (a torn or partial write from a
 *     crash: nothing after it was ever reported durable, because an fsync
 *     covers every earlier byte). A header shorter than 64 bytes is
 *     rewritten; a bad header with data after it is TR_ECORRUPT.
 *  5. fsync the last segment and the directory, so that what readers now
 *     see cannot be taken back by a later power loss. */
#include "internal.h"

#include <dirent.h>
#include <lz4hc.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- default filesystem operations ---- */
static int fs_open(void *ctx, const char *path, int flags, mode_t mode)
{
    int fd = open(path, flags, mode);
    return fd < 0 ? -errno : fd;
}
static ssize_t fs_pwrite(void *ctx, int fd, const void *buf, size_t n, off_t off)
{
    ssize_t r;
    do
        r = pwrite(fd, buf, n, off);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}
static int fs_fsync(void *ctx, int fd)
{
    return fdatasync(fd) == 0 ? 0 : -errno;
}
static int fs_ftruncate(void *ctx, int fd, off_t len)
{
    return ftruncate(fd, len) == 0 ? 0 : -errno;
}
static const struct tr_log_fs_ops default_fs = {
    TR_LOG_FS_OPS_VERSION, NULL, fs_open, fs_pwrite, fs_fsync, fs_ftruncate,
};
const struct tr_log_fs_ops *tr_log_fs_default(void)
{
    return &default_fs;
}

void tr_log_options_init(struct tr_log_options *o)
{
    memset(o, 0, sizeof *o);
    o->sync = TR_LOG_SYNC_GROUP;
    o->group_commit_ms = 2;
    o->group_commit_bytes = 8u << 20;
    o->segment_bytes = 64u << 20;
    o->prezero_bytes = 4u << 20;
    o->sync_threads = 1;
    o->block_bytes = 64u << 10;
    o->index_every = 64;
    o->recompress_level = 4;
    o->recompress_bytes_per_s = 8u << 20;
}

int64_t now_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int check_options(const struct tr_log_options *o, struct tr_error *err)
{
    if (o->sync < TR_LOG_SYNC_NONE || o->sync > TR_LOG_SYNC_GROUP)
        return tr_errorf(err, TR_EINVAL, "bad sync mode %d", o->sync);
    if (o->block_bytes < 256 || o->block_bytes > (16u << 20))
        return tr_errorf(err, TR_EINVAL, "block_bytes %" PRIu32 " outside 256..16 MiB",
                         o->block_bytes);
    if (o->segment_bytes < 1024)
        return tr_errorf(err, TR_EINVAL, "segment_bytes %" PRIu64 " below 1024", o->segment_bytes);
    if (o->compression_level < 0 || o->compression_level > 12)
        return tr_errorf(err, TR_EINVAL, "compression_level %d outside 0..12", o->compression_level);
    if (o->recompress_level < 0 || o->recompress_level > 12)
        return tr_errorf(err, TR_EINVAL, "recompress_level %d outside 0..12", o->recompress_level);
    if (o->sync_threads > TR_LOG_SYNC_THREADS_MAX)
        return tr_errorf(err, TR_EINVAL, "sync_threads %u outside 1..%d", o->sync_threads,
                         TR_LOG_SYNC_THREADS_MAX);
    if (o->index_every == 0)
        return tr_errorf(err, TR_EINVAL, "index_every is 0");
    if (o->fs && o->fs->version != TR_LOG_FS_OPS_VERSION)
        return tr_errorf(err, TR_EVERSION, "fs ops version %d, expected %d", o->fs->version,
                         TR_LOG_FS_OPS_VERSION);
    return 0;
}

int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return r;
}

/* Creates segment `id` holding LSNs from `first_lsn`; returns its fd. */
static int create_segment(struct tr_log *log, uint64_t id, uint64_t first_lsn, int *fd_out,
                          struct tr_error *err)
{
    char path[4096];
    uint8_t hdr[SEG_HDR_SIZE];
    seg_path(log, id, "seg", path, sizeof path);
    seg_header_encode(hdr, id, first_lsn, now_realtime_ns());
    int fd = log->fs->open(log->fs->ctx, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return tr_errorf(err, tr_err_from_errno(-fd), "create segment %s: %s", path,
                         strerror(-fd));
    ssize_t n = log->fs->pwrite(log->fs->ctx, fd, hdr, sizeof hdr, 0);
    int r = n == (ssize_t)sizeof hdr ? log->fs->fsync(log->fs->ctx, fd) : (n < 0 ? (int)n : -ENOSPC);
    if (r == 0)
        r = fsync_dir(log->dir);
    if (r < 0) {
        close(fd);
        unlink(path);
        if (errno_is_space(-r))
            return tr_errorf(err, TR_ENOSPACE, "create segment %s: %s (disk full: nothing of "
                             "this append was stored, the log stays readable, retry once space "
                             "is freed)", path, strerror(-r));
        return tr_errorf(err, tr_err_from_errno(-r), "create segment %s: %s", path, strerror(-r));
    }
    *fd_out = fd;
    return 0;
}

static struct seg *push_seg(struct tr_log *log, uint64_t id, uint64_t first_lsn)
{
    if (log->n_segs == log->cap_segs) {
        size_t cap = log->cap_segs ? log->cap_segs * 2 : 16;
        struct seg *ns = realloc(log->segs, cap * sizeof *ns);
        if (!ns)
            return NULL;
        log->segs = ns;
        log->cap_segs = cap;
    }
    struct seg *s = &log->segs[log->n_segs++];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->first_lsn = first_lsn;
    s->last_lsn = first_lsn - 1;
    s->size = SEG_HDR_SIZE;
    return s;
}

int seg_create_add(struct tr_log *log, uint64_t id, uint64_t first_lsn, int *fd,
                       struct tr_error *err)
{
    int rc = create_segment(log, id, first_lsn, fd, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&log->mu);
    struct seg *s = push_seg(log, id, first_lsn);
    pthread_mutex_unlock(&log->mu);
    if (!s) {
        close(*fd);
        return tr_errorf(err, TR_ENOMEM, "no memory for segment table");
    }
    return 0;
}

struct scan_ctx {
    struct tr_log *log;
    uint64_t seg_id;
};

static int visit_index(void *arg, const struct rec_view *v, uint64_t lsn)
{
    struct scan_ctx *c = arg;
    return index_note(&c->log->idx, c->log->o.index_every, c->seg_id, v->key, v->key_len,
                      v->seq, v->ts, lsn);
}

static int read_header(const char *path, uint64_t id, uint64_t *first_lsn, uint64_t *size,
                       uint32_t *flags, struct tr_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tr_errorf(err, tr_err_from_errno(errno), "open %s: %s", path, strerror(errno));
    uint8_t hdr[SEG_HDR_SIZE];
    struct stat st;
    ssize_t n = pread(fd, hdr, sizeof hdr, 0);
    int rc = fstat(fd, &st);
    close(fd);
    if (n < 0 || rc != 0)
        return tr_errorf(err, TR_EIO, "read %s: %s", path, strerror(errno));
    *size = (uint64_t)st.st_size;
    uint64_t hid;
    if ((rc = seg_header_decode(hdr, (size_t)n, &hid, first_lsn, err)) != 0)
        return rc;
    if (hid != id)
        return tr_errorf(err, TR_ECORRUPT, "header names segment %" PRIu64, hid);
    *flags = seg_header_flags(hdr);
    return 0;
}

/* Checks the header and payload CRC of every block of an index-loaded
 * sealed segment (no decompression). */
static int verify_crcs(const char *path, const struct seg *s, struct tr_error *err)
{
    uint8_t *buf;
    size_t len;
    int rc = read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->n_blocks && rc == 0; i++) {
        const struct blk *b = &s->blocks[i];
        struct blk_hdr h;
        if (b->off + b->len > len)
            rc = tr_errorf(err, TR_ECORRUPT, "block at %" PRIu64 " past end of file", b->off);
        else if ((rc = block_header_decode(buf + b->off, b->len, &h, err)) == 0 &&
                 tr_log_crc32c(0, buf + b->off + BLK_HDR_SIZE, h.stored_len) != h.payload_crc)
            rc = tr_errorf(err, TR_ECORRUPT, "bad block payload CRC");
        if (rc)
            tr_error_wrap(err, rc, "at offset %" PRIu64, b->off);
    }
    free(buf);
    return rc;
}

static int open_sealed(struct tr_log *log, uint64_t id, uint64_t expect_first, struct tr_error *err)
{
    char path[4096];
    uint64_t first = 0, size = 0;
    uint32_t flags = 0;
    seg_path(log, id, "seg", path, sizeof path);
    int rc = read_header(path, id, &first, &size, &flags, err);
    if (rc == 0 && expect_first && first != expect_first)
        rc = tr_errorf(err, TR_ECORRUPT, "starts at LSN %" PRIu64 ", previous segment ends at %"
                       PRIu64, first, expect_first - 1);
    if (rc)
        return tr_error_wrap(err, rc, "sealed segment %s", path);
    struct seg *s = push_seg(log, id, first);
    if (!s)
        return tr_errorf(err, TR_ENOMEM, "no memory for segment table");
    s->sealed = 1;
    s->flags = flags;
    rc = idx_load(log, s, size, err);
    if (rc == 0) {
        if (log->o.verify_sealed && (rc = verify_crcs(path, s, err)) != 0)
            return tr_error_wrap(err, rc, "sealed segment %s", path);
        return 0;
    }
    if (rc != TR_ENOTFOUND)
        return rc;
    /* No usable index: scan strictly and write a fresh one. */
    s->n_blocks = 0;
    uint8_t *buf;
    size_t len;
    uint64_t good;
    if ((rc = read_file(path, &buf, &len, err)) != 0)
        return tr_error_wrap(err, rc, "sealed segment");
    struct scan_ctx c = {log, id};
    rc = seg_scan(buf, len, s, visit_index, &c, &good, err);
    free(buf);
    if (rc == TR_ENOMEM)
        return tr_errorf(err, rc, "sealed segment %s: no memory for its index", path);
    if (rc)
        return tr_error_wrap(err, TR_ECORRUPT, "sealed segment %s", path);
    log->rebuilt++;
    if (!log->o.read_only)
        idx_write(log, s, NULL); /* best effort: rebuilt again next time if it fails */
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static int open_tail(struct tr_log *log, uint64_t id, uint64_t expect_first, struct tr_error *err)
{
    char path[4096], ipath[4096];
    seg_path(log, id, "seg", path, sizeof path);
    seg_path(log, id, "idx", ipath, sizeof ipath);
    if (!log->o.read_only)
        unlink(ipath); /* the open segment's index lives in memory only */
    uint8_t *buf;
    size_t len;
    uint64_t first, hid, good;
    int rc = read_file(path, &buf, &len, err);
    if (rc)
        return tr_error_wrap(err, rc, "last segment");
    struct tr_error herr;
    rc = seg_header_decode(buf, len, &hid, &first, &herr);
    if (rc == 0 && hid != id)
        rc = tr_errorf(&herr, TR_ECORRUPT, "header names segment %" PRIu64, hid);
    if (rc == 0 && expect_first && first != expect_first)
        rc = tr_errorf(&herr, TR_ECORRUPT, "starts at LSN %" PRIu64 ", previous ends at %" PRIu64,
                       first, expect_first - 1);
    if (rc && len <= SEG_HDR_SIZE && rc != TR_EVERSION) {
        /* Torn at creation: the header is fsynced before any block, so
         * nothing was ever stored here. Start it again. */
        free(buf);
        if (log->o.read_only) {
            if (!push_seg(log, id, expect_first ? expect_first : 1))
                return tr_errorf(err, TR_ENOMEM, "no memory for segment table");
            return 0;
        }
        int fd;
        if ((rc = seg_create_add(log, id, expect_first ? expect_first : 1, &fd, err)) != 0)
            return rc;
        close(fd);
        log->truncated_bytes += len;
        return 0;
    }
    if (rc) {
        free(buf);
        tr_errorf(err, rc, "%s", herr.msg);
        return tr_error_wrap(err, rc, "last segment %s", path);
    }
    struct seg *s = push_seg(log, id, first);
    if (!s) {
        free(buf);
        return tr_errorf(err, TR_ENOMEM, "no memory for segment table");
    }
    s->flags = seg_header_flags(buf);
    struct scan_ctx c = {log, id};
    struct tr_error serr;
    rc = seg_scan(buf, len, s, visit_index, &c, &good, &serr);
    /* zeros written ahead by prezero.c are not a torn tail: cut, not counted */
    int zero_tail = rc != TR_ENOMEM && good < len && all_zero(buf + good, len - good);
    free(buf);
    if (rc == TR_ENOMEM)
        return tr_errorf(err, rc, "last segment %s: no memory for its index", path);
    if (rc == 0 && good == len)
        return 0;
    if (log->o.read_only) /* leave the file alone: read the valid prefix */
        return 0;
    /* Torn or corrupt tail: cut it off. */
    int fd = log->fs->open(log->fs->ctx, path, O_WRONLY | O_CLOEXEC, 0);
    int r = fd < 0 ? fd : log->fs->ftruncate(log->fs->ctx, fd, (off_t)good);
    if (r == 0)
        r = log->fs->fsync(log->fs->ctx, fd);
    if (fd >= 0)
        close(fd);
    if (r < 0)
        return tr_errorf(err, tr_err_from_errno(-r), "truncate torn tail of %s at %" PRIu64 ": %s",
                         path, good, strerror(-r));
    if (!zero_tail)
        log->truncated_bytes += len - good;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists segment ids, sorted; removes temporary files. */
static int list_segments(struct tr_log *log, uint64_t **ids, size_t *n, struct tr_error *err)
{
    DIR *d = opendir(log->dir);
    if (!d)
        return tr_errorf(err, tr_err_from_errno(errno), "list %s: %s", log->dir, strerror(errno));
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        size_t l = strlen(nm);
        char path[4096];
        if (l > 4 && strcmp(nm + l - 4, ".tmp") == 0) {
            snprintf(path, sizeof path, "%s/%s", log->dir, nm);
            if (!log->o.read_only)
                unlink(path);
            continue;
        }
        if (l != 24 || strcmp(nm + 20, ".seg") != 0 || strspn(nm, "0123456789") != 20)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *ni = realloc(*ids, cap * sizeof *ni);
            if (!ni) {
                closedir(d);
                return tr_errorf(err, TR_ENOMEM, "list %s: no memory", log->dir);
            }
            *ids = ni;
        }
        (*ids)[(*n)++] = strtoull(nm, NULL, 10);
    }
    closedir(d);
    if (*n > 1)
        qsort(*ids, *n, sizeof **ids, cmp_u64);
    return 0;
}

/* Index files whose segment is gone (retention crashed between unlinks). */
static void remove_orphan_indexes(struct tr_log *log)
{
    DIR *d = opendir(log->dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l != 24 || strcmp(e->d_name + 20, ".idx") != 0)
            continue;
        char seg[4096], idx[4096];
        snprintf(idx, sizeof idx, "%s/%s", log->dir, e->d_name);
        snprintf(seg, sizeof seg, "%s/%.20s.seg", log->dir, e->d_name);
        if (access(seg, F_OK) != 0)
            unlink(idx);
    }
    closedir(d);
}

static int recover(struct tr_log *log, struct tr_error *err)
{
    uint64_t *ids;
    size_t n;
    int rc = list_segments(log, &ids, &n, err);
    if (rc)
        return rc;
    if (!log->o.read_only)
        remove_orphan_indexes(log);
    for (size_t i = 0; i + 1 < n && rc == 0; i++)
        rc = open_sealed(log, ids[i], i ? log->segs[i - 1].last_lsn + 1 : 0, err);
    if (rc == 0 && n)
        rc = open_tail(log, ids[n - 1], n > 1 ? log->segs[n - 2].last_lsn + 1 : 0, err);
    free(ids);
    if (rc)
        return rc;
    if (n == 0 && log->o.read_only)
        return tr_errorf(err, TR_ENOTFOUND, "no segment files in %s", log->dir);
    if (log->o.read_only)
        return 0;
    if (n == 0) {
        int fd;
        if ((rc = seg_create_add(log, 1, 1, &fd, err)) != 0)
            return rc;
        close(fd);
    }
    int r = fsync_dir(log->dir);
    if (r < 0)
        return tr_errorf(err, tr_err_from_errno(-r), "fsync %s: %s", log->dir, strerror(-r));
    return 0;
}

static int open_active(struct tr_log *log, struct tr_error *err)
{
    struct seg *s = &log->segs[log->n_segs - 1];
    log->first_lsn = log->segs[0].first_lsn;
    log->written_lsn = log->durable_lsn = log->committed_lsn = s->last_lsn;
    log->next_lsn = s->last_lsn + 1;
    atomic_store(&log->appended_lsn, s->last_lsn);
    log->raw_first_lsn = log->next_lsn;
    if (log->o.read_only)
        return 0;
    char path[4096];
    seg_path(log, s->id, "seg", path, sizeof path);
    int fd = log->fs->open(log->fs->ctx, path, O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return tr_errorf(err, tr_err_from_errno(-fd), "open %s: %s", path, strerror(-fd));
    int r = log->fs->fsync(log->fs->ctx, fd);
    if (r < 0) {
        close(fd);
        return tr_errorf(err, tr_err_from_errno(-r), "fsync %s: %s", path, strerror(-r));
    }
    log->fd = fd;
    log->active_id = s->id;
    return 0;
}

static int lock_dir(struct tr_log *log, struct tr_error *err)
{
    if (log->o.read_only) /* a writer may hold it: readers do not need it */
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/LOCK", log->dir);
    log->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (log->lock_fd < 0)
        return tr_errorf(err, tr_err_from_errno(errno), "open %s: %s", path, strerror(errno));
    if (flock(log->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return tr_errorf(err, errno == EWOULDBLOCK ? TR_EBUSY : tr_err_from_errno(errno),
                         "lock %s: %s", path,
                         errno == EWOULDBLOCK ? "held by another process" : strerror(errno));
    return 0;
}

static void log_free(struct tr_log *log)
{
    for (size_t i = 0; i < log->n_segs; i++)
        free(log->segs[i].blocks);
    free(log->segs);
    index_free(&log->idx);
    for (int i = 0; i < MAX_NOTIFY_FDS; i++)
        if (log->notify_fds[i] >= 0)
            close(log->notify_fds[i]);
    if (log->fd >= 0)
        close(log->fd);
    if (log->lock_fd >= 0)
        close(log->lock_fd);
    pthread_mutex_destroy(&log->mu);
    pthread_mutex_destroy(&log->wmu);
    pthread_mutex_destroy(&log->sync_mu);
    pthread_cond_destroy(&log->cv);
    pthread_cond_destroy(&log->wcv);
    pthread_cond_destroy(&log->sync_cv);
    pthread_cond_destroy(&log->rc_cv);
    free(log->raw);
    free(log->cuts);
    free(log->pend);
    free(log->out);
    free(log->hc_state);
    free(log->dir);
    free(log);
}

static void init_cond(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

int tr_log_open(struct tr_log **out, const char *dir, const struct tr_log_options *opts,
                struct tr_error *err)
{
    struct tr_log_options o;
    if (opts)
        o = *opts;
    else
        tr_log_options_init(&o);
    int rc = check_options(&o, err);
    if (rc)
        return tr_error_wrap(err, rc, "open log %s", dir);
    struct tr_log *log = calloc(1, sizeof *log);
    if (!log || !(log->dir = strdup(dir))) {
        free(log);
        return tr_errorf(err, TR_ENOMEM, "open log %s: no memory", dir);
    }
    log->o = o;
    log->fs = o.fs ? o.fs : &default_fs;
    log->fd = log->lock_fd = -1;
    for (int i = 0; i < MAX_NOTIFY_FDS; i++)
        log->notify_fds[i] = -1;
    pthread_mutex_init(&log->mu, NULL);
    pthread_mutex_init(&log->wmu, NULL);
    pthread_mutex_init(&log->sync_mu, NULL);
    init_cond(&log->cv);
    init_cond(&log->wcv);
    init_cond(&log->sync_cv);
    init_cond(&log->rc_cv);
    index_init(&log->idx);
    if (!o.no_create && !o.read_only && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        rc = tr_errorf(err, tr_err_from_errno(errno), "mkdir: %s", strerror(errno));
        goto fail;
    }
    if ((rc = lock_dir(log, err)) != 0 || (rc = recover(log, err)) != 0 ||
        (rc = open_active(log, err)) != 0)
        goto fail;
    if (o.compression_level > 0 && !(log->hc_state = malloc((size_t)LZ4_sizeofStateHC()))) {
        rc = tr_errorf(err, TR_ENOMEM, "no memory for the LZ4HC state");
        goto fail;
    }
    /* only the sync thread writes zeros ahead (prezero.c) */
    log->pz_on = o.sync == TR_LOG_SYNC_GROUP && !o.read_only && o.prezero_bytes > 0 &&
                 log->fs == &default_fs && prezero_usable(dir);
    if (o.sync == TR_LOG_SYNC_GROUP && !o.read_only && (rc = sync_start(log, err)) != 0)
        goto fail;
    if (o.recompress_level > 0 && !o.read_only && (rc = rc_start(log, err)) != 0) {
        sync_stop(log);
        goto fail;
    }
    *out = log;
    return 0;
fail:
    log_free(log);
    return tr_error_wrap(err, rc, "open log %s", dir);
}

int tr_log_close(struct tr_log *log, struct tr_error *err)
{
    if (!log)
        return 0;
    rc_stop(log);
    sync_stop(log);
    int rc = log->o.read_only ? 0 : tr_log_flush(log, err);
    /* a cleanly closed segment ends at its last block: no zeros to cut at
     * the next open. Failures are harmless: the flush above made the data
     * durable, and recovery cuts zeros it finds. */
    if (!log->o.read_only && log->zeroed_to && prezero_cut(log) == 0)
        (void)fsync(log->fd);
    pthread_mutex_lock(&log->mu);
    log->closing = 1;
    pthread_cond_broadcast(&log->cv);
    pthread_cond_broadcast(&log->wcv);
    pthread_mutex_unlock(&log->mu);
    log_free(log);
    return rc;
}

void tr_log_stats(struct tr_log *log, struct tr_log_stats *st)
{
    memset(st, 0, sizeof *st);
    st->last_lsn = tr_log_last_lsn(log);
    pthread_mutex_lock(&log->mu);
    st->first_lsn = log->first_lsn;
    st->committed_lsn = log->committed_lsn;
    st->written_lsn = log->written_lsn;
    st->durable_lsn = log->durable_lsn;
    st->segments = log->n_segs;
    for (size_t i = 0; i < log->n_segs; i++) {
        st->disk_bytes += log->segs[i].size;
        st->raw_bytes += log->segs[i].raw_bytes;
    }
    st->streams = log->idx.n;
    st->index_points = log->idx.n_points;
    st->recovered_truncated_bytes = log->truncated_bytes;
    st->rebuilt_indexes = log->rebuilt;
    st->syncs = log->syncs;
    st->nospace = log->nospace;
    st->recompressed = log->rc_done;
    st->recompress_failed = log->rc_failed;
    st->recompress_kept = log->rc_kept;
    st->recompress_deferred = log->rc_deferred;
    st->recompress_low_space = log->rc_low_space;
    snprintf(st->recompress_error, sizeof st->recompress_error, "%s", log->rc_error);
    st->recompress_saved_bytes = log->rc_saved_bytes;
    for (size_t i = 0; i + 1 < log->n_segs; i++) {
        if (log->segs[i].flags & SEG_FLAG_RECOMPRESSED) {
            st->sealed_rc_disk_bytes += log->segs[i].size;
            st->sealed_rc_raw_bytes += log->segs[i].raw_bytes;
        }
    }
    st->active_disk_bytes = log->segs[log->n_segs - 1].size;
    st->active_raw_bytes = log->segs[log->n_segs - 1].raw_bytes;
    pthread_mutex_unlock(&log->mu);
}

uint64_t tr_log_durable_lsn_at(struct tr_log *log, int64_t *at_ns)
{
    pthread_mutex_lock(&log->mu);
    uint64_t v = log->durable_lsn;
    *at_ns = log->durable_at_ns;
    pthread_mutex_unlock(&log->mu);
    return v;
}

uint64_t tr_log_durable_lsn(struct tr_log *log)
{
    pthread_mutex_lock(&log->mu);
    uint64_t v = log->durable_lsn;
    pthread_mutex_unlock(&log->mu);
    return v;
}

uint64_t tr_log_committed_lsn(struct tr_log *log)
{
    pthread_mutex_lock(&log->mu);
    uint64_t v = log->committed_lsn;
    pthread_mutex_unlock(&log->mu);
    return v;
}

uint64_t tr_log_written_lsn(struct tr_log *log)
{
    pthread_mutex_lock(&log->mu);
    uint64_t v = log->written_lsn;
    pthread_mutex_unlock(&log->mu);
    return v;
}

uint64_t tr_log_last_lsn(struct tr_log *log)
{
    pthread_mutex_lock(&log->wmu);
    uint64_t v = log->next_lsn - 1;
    pthread_mutex_unlock(&log->wmu);
    return v;
}

uint64_t tr_log_first_lsn(struct tr_log *log)
{
    pthread_mutex_lock(&log->mu);
    uint64_t v = log->first_lsn;
    pthread_mutex_unlock(&log->mu);
    return v;
}
