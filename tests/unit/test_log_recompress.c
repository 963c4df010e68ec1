/* Unit tests of background recompression of sealed segments
 * (storage/recompress.c): every record survives a rewrite, a crash at any
 * step of the file swap recovers each record exactly once, readers and
 * followers keep working across a swap (including a reader that still has
 * the old file open and a read-only snapshot in another log object),
 * damaged segments are reported and never rewritten, a full disk leaves the
 * original segment in place, and segments retention is about to drop are
 * not rewritten. Steps that race the recompressor are gated through the
 * fault-injection fs ops; no sleeps, no timing asserts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "test_log_util.h"

#define N_RECS 2000

static struct tr_log_options opts(int rc_level)
{
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.block_bytes = 1024;
    o.segment_bytes = 16384;
    o.index_every = 4;
    o.recompress_level = rc_level;
    return o;
}

static struct tr_log *open_ok(const char *dir, const struct tr_log_options *o)
{
    struct tr_log *log = NULL;
    struct tr_error err = {0};
    int rc = tr_log_open(&log, dir, o, &err);
    if (rc)
        print_error("open: %s: %s\n", tr_err_name(rc), err.msg);
    assert_int_equal(rc, 0);
    return log;
}

static void close_ok(struct tr_log *log)
{
    struct tr_error err = {0};
    assert_int_equal(tr_log_close(log, &err), 0);
}

static void seg_file(const char *dir, uint64_t id, const char *ext, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%020llu.%s", dir, (unsigned long long)id, ext);
}

struct blob {
    uint8_t *p;
    size_t n;
};

static struct blob slurp(const char *path)
{
    struct blob b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return b;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc(n > 0 ? (size_t)n : 1);
    b.n = fread(b.p, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void spit(const char *path, const struct blob *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->p, 1, n, f), n);
    fclose(f);
}

/* Writes N_RECS records with recompression off; returns the sealed count. */
static uint64_t make_log(const char *dir)
{
    struct tr_log_options o = opts(0);
    struct tr_log *log = open_ok(dir, &o);
    struct tr_error err = {0};
    assert_int_equal(tl_append_range(log, 1, N_RECS, 10, &err), 0);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    assert_true(st.segments >= 4);
    close_ok(log);
    return st.segments - 1;
}

/* Reads everything: N_RECS records, each once, in order, exact. */
static void check_all(struct tr_log *log)
{
    struct tr_error err = {0};
    long bad;
    uint64_t last;
    long n = tl_read_all(log, &last, &bad, &err);
    if (n < 0)
        print_error("read: %s\n", err.msg);
    assert_int_equal(n, N_RECS);
    assert_int_equal(bad, 0);
    assert_int_equal(last, N_RECS);
    assert_int_equal(tr_log_verify(log, &err), 0);
}

static void recompression_rewrites_sealed_segments_and_keeps_every_record(void **state)
{
    char *dir = tl_mkdtemp();
    uint64_t sealed = make_log(dir);
    struct tr_log_options o = opts(9);
    struct tr_log *log = open_ok(dir, &o);
    assert_int_equal(tr_log_wait_recompressed(log, -1), 0);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    assert_int_equal(st.recompressed, sealed);
    assert_int_equal(st.recompress_failed, 0);
    assert_true(st.recompress_saved_bytes > 0);
    assert_true(st.sealed_rc_disk_bytes < st.sealed_rc_raw_bytes);
    check_all(log);
    /* Appends go on; newly sealed segments are rewritten too. */
    struct tr_error err = {0};
    assert_int_equal(tl_append_range(log, N_RECS + 1, 2 * N_RECS, 10, &err), 0);
    assert_int_equal(tr_log_wait_recompressed(log, -1), 0);
    tr_log_stats(log, &st);
    assert_int_equal(st.recompressed, st.segments - 1);
    close_ok(log);
    /* Reopen: the new index files load (no scan), every record is there. */
    o.recompress_level = 0;
    log = open_ok(dir, &o);
    tr_log_stats(log, &st);
    assert_int_equal(st.rebuilt_indexes, 0);
    long bad;
    uint64_t last;
    assert_int_equal(tl_read_all(log, &last, &bad, &err), 2 * N_RECS);
    assert_int_equal(bad, 0);
    /* Seeks by stream sequence still land right (index points are by LSN). */
    struct tr_log_reader *r;
    struct tr_log_reader_options ro = {.stream = "prov/trade/I-3", .from = TR_LOG_FROM_SEQ,
                                       .seq = 1500};
    assert_int_equal(tr_log_reader_alloc(log, &ro, &r, &err), 0);
    struct tr_log_record rec;
    assert_int_equal(tr_log_reader_next(r, &rec, &err), 1);
    assert_int_equal(rec.lsn, 1501); /* seq = lsn, and 1501 % 7 == 3 */
    assert_true(tl_check(&rec));
    tr_log_reader_free(r);
    close_ok(log);
    tl_rmdir(dir);
    free(dir);
}

/* The files of segment 1 before and after its rewrite are combined into
 * every state a crash can leave (and one it cannot), then opened. */
static void crash_at_each_step_of_a_swap_recovers_every_record_once(void **state)
{
    char *dir = tl_mkdtemp();
    make_log(dir);
    char seg[4096], idx[4096], stmp[4200], itmp[4200];
    seg_file(dir, 1, "seg", seg, sizeof seg);
    seg_file(dir, 1, "idx", idx, sizeof idx);
    snprintf(stmp, sizeof stmp, "%s.tmp", seg);
    snprintf(itmp, sizeof itmp, "%s.tmp", idx);
    struct blob old_seg = slurp(seg), old_idx = slurp(idx);
    assert_non_null(old_idx.p);
    struct tr_log_options o = opts(4);
    struct tr_log *log = open_ok(dir, &o);
    assert_int_equal(tr_log_wait_recompressed(log, -1), 0);
    close_ok(log);
    struct blob new_seg = slurp(seg), new_idx = slurp(idx);
    assert_non_null(new_idx.p);
    assert_true(new_seg.n < old_seg.n);
    assert_int_equal(new_seg.p[40], 1); /* header flag: recompressed */
    assert_int_equal(old_seg.p[40], 0);

    struct {
        const char *what;
        const struct blob *seg, *idx, *seg_tmp, *idx_tmp;
        size_t tmp_len; /* 0 = whole */
    } states[] = {
        {"rewrite half written", &old_seg, &old_idx, &new_seg, NULL, 1000},
        {"rewrite written, not renamed", &old_seg, &old_idx, &new_seg, NULL, 0},
        {"renamed, old index", &new_seg, &old_idx, NULL, NULL, 0},
        {"renamed, no index", &new_seg, NULL, NULL, NULL, 0},
        {"renamed, new index half written", &new_seg, &old_idx, NULL, &new_idx, 100},
        {"renamed, new index", &new_seg, &new_idx, NULL, NULL, 0},
        {"old segment, new index (not a reachable state)", &old_seg, &new_idx, NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof states / sizeof *states; i++) {
        print_message("state: %s\n", states[i].what);
        spit(seg, states[i].seg, states[i].seg->n);
        unlink(idx);
        if (states[i].idx)
            spit(idx, states[i].idx, states[i].idx->n);
        if (states[i].seg_tmp)
            spit(stmp, states[i].seg_tmp, states[i].tmp_len ? states[i].tmp_len
                                                           : states[i].seg_tmp->n);
        if (states[i].idx_tmp)
            spit(itmp, states[i].idx_tmp, states[i].tmp_len ? states[i].tmp_len
                                                           : states[i].idx_tmp->n);
        o.recompress_level = 0;
        log = open_ok(dir, &o);
        check_all(log);
        assert_int_equal(tl_count_tmp(dir), 0);
        close_ok(log);
        struct blob now = slurp(seg); /* open never rewrites a sealed segment */
        assert_int_equal(now.n, states[i].seg->n);
        assert_memory_equal(now.p, states[i].seg->p, now.n);
        free(now.p);
        /* ...and the recompressor picks up where the crash left it. */
        o.recompress_level = 4;
        log = open_ok(dir, &o);
        assert_int_equal(tr_log_wait_recompressed(log, -1), 0);
        check_all(log);
        close_ok(log);
    }
    free(old_seg.p);
    free(old_idx.p);
    free(new_seg.p);
    free(new_idx.p);
    tl_rmdir(dir);
    free(dir);
}

/* ---- fs ops: hold the recompressor at its tmp file, or fail its writes ---- */
struct rcfs {
    struct tr_log_fs_ops ops;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int hold;          /* opening a .seg.tmp waits while set */
    int held;          /* the recompressor is waiting */
    int fail_seg_tmp;  /* pwrite to a .seg.tmp: ENOSPC */
    int fail_idx_tmp;  /* pwrite to an .idx.tmp: ENOSPC */
    int kind[1024];    /* by fd: 1 = .seg.tmp, 2 = .idx.tmp */
};

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int r_open(void *ctx, const char *p, int flags, mode_t mode)
{
    struct rcfs *f = ctx;
    int seg_tmp = ends_with(p, ".seg.tmp");
    pthread_mutex_lock(&f->mu);
    while (seg_tmp && f->hold) {
        f->held = 1;
        pthread_cond_broadcast(&f->cv);
        pthread_cond_wait(&f->cv, &f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    int fd = tr_log_fs_default()->open(NULL, p, flags, mode);
    if (fd >= 0 && fd < 1024)
        f->kind[fd] = seg_tmp ? 1 : ends_with(p, ".idx.tmp") ? 2 : 0;
    return fd;
}
static ssize_t r_pwrite(void *ctx, int fd, const void *b, size_t n, off_t off)
{
    struct rcfs *f = ctx;
    int k = fd >= 0 && fd < 1024 ? f->kind[fd] : 0;
    if ((k == 1 && f->fail_seg_tmp) || (k == 2 && f->fail_idx_tmp))
        return -ENOSPC;
    return tr_log_fs_default()->pwrite(NULL, fd, b, n, off);
}
static int r_fsync(void *ctx, int fd)
{
    return tr_log_fs_default()->fsync(NULL, fd);
}
static int r_ftruncate(void *ctx, int fd, off_t len)
{
    return tr_log_fs_default()->ftruncate(NULL, fd, len);
}
static void rcfs_init(struct rcfs *f)
{
    memset(f, 0, sizeof *f);
    f->ops = (struct tr_log_fs_ops){TR_LOG_FS_OPS_VERSION, f, r_open, r_pwrite, r_fsync,
                                    r_ftruncate};
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
}

static void reader_holding_the_old_file_reads_on_across_a_swap(void **state)
{
    char *dir = tl_mkdtemp();
    uint64_t sealed = make_log(dir);
    struct rcfs f;
    rcfs_init(&f);
    f.hold = 1;
    struct tr_log_options o = opts(4);
    o.fs = &f.ops;
    struct tr_log *log = open_ok(dir, &o);
    /* The recompressor is parked before it writes anything. */
    pthread_mutex_lock(&f.mu);
    while (!f.held)
        pthread_cond_wait(&f.cv, &f.mu);
    pthread_mutex_unlock(&f.mu);
    struct tr_error err = {0};
    struct tr_log_reader *r;
    struct tr_log_reader_options ro = {.from = TR_LOG_FROM_START};
    assert_int_equal(tr_log_reader_alloc(log, &ro, &r, &err), 0);
    struct tr_log_record rec;
    uint64_t expect = 1;
    for (; expect <= 5; expect++) { /* opens segment 1 (old file), loads its first block */
        assert_int_equal(tr_log_reader_next(r, &rec, &err), 1);
        assert_int_equal(rec.lsn, expect);
        assert_true(tl_check(&rec));
    }
    pthread_mutex_lock(&f.mu);
    f.hold = 0;
    pthread_cond_broadcast(&f.cv);
    pthread_mutex_unlock(&f.mu);
    assert_int_equal(tr_log_wait_recompressed(log, -1), 0);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    assert_int_equal(st.recompressed, sealed); /* segment 1 was swapped under the reader */
    int rc;
    while ((rc = tr_log_reader_next(r, &rec, &err)) == 1) {
        assert_int_equal(rec.lsn, expect);
        assert_true(tl_check(&rec));
        expect++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(expect, N_RECS + 1);
    tr_log_reader_free(r);
    check_all(log); /* and a reader that starts after the swap */
    close_ok(log);
    tl_rmdir(dir);
    free(dir);
}

struct follower {
    struct tr_log *log;
    uint64_t want;
    long got, bad;
    int rc;
};

static void *follow_main(void *arg)
{
    struct follower *f = arg;
    struct tr_log_reader *r;
    struct tr_log_reader_options ro = {.from = TR_LOG_FROM_START};
    struct tr_error err = {0};
    if ((f->rc = tr_log_reader_alloc(f->log, &ro, &r, &err)) != 0)
        return NULL;
    uint64_t expect = 1;
    while (expect <= f->want) {
        struct tr_log_record rec;
        int rc = tr_log_reader_next(r, &rec, &err);
        if (rc < 0) {
            fprintf(stderr, "follower: %s\n", err.msg);
            f->rc = rc;
            break;
        }
        if (rc == 0) {
            if ((rc = tr_log_reader_wait(r, 60000)) != 0) {
                f->rc = rc;
                break;
            }
            continue;
        }
        if (rec.lsn != expect++ || !tl_check(&rec))
            f->bad++;
        f->got++;
    }
    tr_log_reader_free(r);
    return NULL;
}

static void followers_read_everything_while_segments_are_recompressed(void **state)
{
    char *dir = tl_mkdtemp();
    struct tr_log_options o = opts(9);
    o.group_commit_ms = 0;
    struct tr_log *log = open_ok(dir, &o);
    const uint64_t total = 20000;
    struct follower f[2] = {{log, total, 0, 0, 0}, {log, total, 0, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, follow_main, &f[i]), 0);
    struct tr_error err = {0};
    for (uint64_t l = 1; l <= total; l += 50)
        assert_int_equal(tl_append_range(log, l, l + 49, 50, &err), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(f[i].rc, 0);
        assert_int_equal(f[i].got, (long)total);
        assert_int_equal(f[i].bad, 0);
    }
    assert_int_equal(tr_log_wait_recompressed(log, -1), 0);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    assert_true(st.segments > 10);
    assert_int_equal(st.recompressed, st.segments - 1);
    long bad;
    uint64_t last;
    assert_int_equal(tl_read_all(log, &last, &bad, &err), (long)total);
    assert_int_equal(bad, 0);
    close_ok(log);
    tl_rmdir(dir);
    free(dir);
}

static void flip(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* Reading from the start must stop at the damaged block with TR_ECORRUPT,
 * after returning only good records. */
static void expect_corrupt_read(struct tr_log *log)
{
    struct tr_error err = {0};
    struct tr_log_reader *r;
    struct tr_log_reader_options ro = {.from = TR_LOG_FROM_START};
    assert_int_equal(tr_log_reader_alloc(log, &ro, &r, &err), 0);
    struct tr_log_record rec;
    int rc;
    while ((rc = tr_log_reader_next(r, &rec, &err)) == 1)
        assert_true(tl_check(&rec));
    assert_int_equal(rc, TR_ECORRUPT);
    assert_int_equal(tr_log_reader_next(r, &rec, &err), TR_ECORRUPT); /* stays on it */
    tr_log_reader_free(r);
    assert_int_equal(tr_log_verify(log, &err), TR_ECORRUPT);
}

static void corruption_in_a_recompressed_segment_is_reported_not_returned(void **state)
{
    char *dir = tl_mkdtemp();
    make_log(dir);
    struct tr_log_options o = opts(4);
    struct tr_log *log = open_ok(dir, &o);
    assert_int_equal(tr_log_wait_recompressed(log, -1), 0);
    close_ok(log);
    char seg[4096];
    seg_file(dir, 2, "seg", seg, sizeof seg);
    struct blob b = slurp(seg);
    assert_int_equal(b.p[40], 1);
    flip(seg, (long)b.n - 7); /* in the last block's payload */
    log = open_ok(dir, &o);   /* index loads: the damage shows when read */
    expect_corrupt_read(log);
    close_ok(log);
    o.verify_sealed = 1;
    struct tr_error err = {0};
    assert_int_equal(tr_log_open(&log, dir, &o, &err), TR_ECORRUPT);
    free(b.p);
    tl_rmdir(dir);
    free(dir);
}

static void damaged_sealed_segment_is_left_alone_and_still_reported(void **state)
{
    char *dir = tl_mkdtemp();
    uint64_t sealed = make_log(dir);
    char seg[4096];
    seg_file(dir, 2, "seg", seg, sizeof seg);
    flip(seg, 64 + 40 + 20); /* first block's payload */
    struct blob before = slurp(seg);
    struct tr_log_options o = opts(4);
    struct tr_log *log = open_ok(dir, &o);
    assert_int_equal(tr_log_wait_recompressed(log, -1), 0);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    assert_int_equal(st.recompress_failed, 1);
    assert_int_equal(st.recompressed, sealed - 1);
    assert_non_null(strstr(st.recompress_error, "00000000000000000002.seg"));
    assert_non_null(strstr(st.recompress_error, "CRC"));
    struct blob after = slurp(seg);
    assert_int_equal(after.n, before.n);
    assert_memory_equal(after.p, before.p, before.n); /* never rewritten */
    expect_corrupt_read(log);
    close_ok(log);
    free(before.p);
    free(after.p);
    tl_rmdir(dir);
    free(dir);
}

static void full_disk_during_recompression_leaves_the_original_in_place(void **state)
{
    char *dir = tl_mkdtemp();
    uint64_t sealed = make_log(dir);
    struct blob before[64];
    char seg[4096];
    assert_true(sealed < 64);
    for (uint64_t i = 1; i <= sealed; i++) {
        seg_file(dir, i, "seg", seg, sizeof seg);
        before[i - 1] = slurp(seg);
    }
    struct rcfs f;
    rcfs_init(&f);
    f.fail_seg_tmp = 1;
    struct tr_log_options o = opts(4);
    o.fs = &f.ops;
    struct tr_log *log = open_ok(dir, &o);
    assert_int_equal(tr_log_wait_recompressed(log, -1), 0);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    assert_int_equal(st.recompressed, 0);
    assert_int_equal(st.recompress_failed, sealed);
    assert_non_null(strstr(st.recompress_error, "No space left"));
    assert_int_equal(st.nospace, 0); /* the writer's own state is not touched */
    assert_int_equal(tl_count_tmp(dir), 0);
    for (uint64_t i = 1; i <= sealed; i++) {
        seg_file(dir, i, "seg", seg, sizeof seg);
        struct blob now = slurp(seg);
        assert_int_equal(now.n, before[i - 1].n);
        assert_memory_equal(now.p, before[i - 1].p, now.n);
        free(now.p);
        free(before[i - 1].p);
    }
    check_all(log);
    struct tr_error err = {0}; /* appends carry on */
    assert_int_equal(tl_append_range(log, N_RECS + 1, N_RECS + 10, 10, &err), 0);
    assert_int_equal(tr_log_flush(log, &err), 0);
    close_ok(log);

    /* The segment swap succeeds but its index cannot be written: the next
     * open scans that segment instead. */
    rcfs_init(&f);
    f.fail_idx_tmp = 1;
    log = open_ok(dir, &o);
    assert_int_equal(tr_log_wait_recompressed(log, -1), 0);
    tr_log_stats(log, &st);
    sealed = st.segments - 1; /* the appends above may have rolled once */
    assert_int_equal(st.recompressed, sealed);
    close_ok(log);
    o.fs = NULL;
    o.recompress_level = 0;
    log = open_ok(dir, &o);
    tr_log_stats(log, &st);
    assert_true(st.rebuilt_indexes >= sealed);
    long bad;
    uint64_t last;
    assert_int_equal(tl_read_all(log, &last, &bad, &err), N_RECS + 10);
    assert_int_equal(bad, 0);
    close_ok(log);
    tl_rmdir(dir);
    free(dir);
}

/* Runs in a child with a private 512 KiB tmpfs at `mnt`; returns the
 * number of the first failed check, 0 if all held. */
static int tmpfs_scenario(const char *mnt)
{
    char dir[4200], filler[4200];
    snprintf(dir, sizeof dir, "%s/log", mnt);
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    struct tr_log_options o = opts(0);
    struct tr_log *log = NULL;
    struct tr_error err = {0};
    struct tr_log_stats st;
    long bad;
    uint64_t last;
    if (tr_log_open(&log, dir, &o, &err) || tl_append_range(log, 1, N_RECS, 10, &err) ||
        tr_log_close(log, &err))
        return 1;
    /* Fill the disk. */
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    static uint8_t chunk[4096];
    while (fd >= 0 && write(fd, chunk, sizeof chunk) == (ssize_t)sizeof chunk) {
    }
    if (fd < 0 || errno != ENOSPC)
        return 2;
    close(fd);
    o.recompress_level = 4;
    if (tr_log_open(&log, dir, &o, &err) || tr_log_wait_recompressed(log, -1))
        return 3;
    tr_log_stats(log, &st);
    if (st.recompressed || st.recompress_deferred < 1 || !st.recompress_low_space ||
        tl_count_tmp(dir))
        return 4; /* it waits for space instead of starting a rewrite */
    if (tl_read_all(log, &last, &bad, &err) != N_RECS || bad || tr_log_verify(log, &err))
        return 5;
    /* The writer meets the full disk itself: a clear error, nothing lost. */
    int rc = tl_append_range(log, N_RECS + 1, N_RECS + 400, 10, &err);
    if (rc == 0)
        rc = tr_log_flush(log, &err);
    if (rc != TR_ENOSPACE)
        return 6;
    if (tl_read_all(log, &last, &bad, &err) < N_RECS || bad || tr_log_verify(log, &err))
        return 7;
    tr_log_close(log, &err); /* its final flush may fail for lack of space too */
    /* Space again: the rewrites happen. */
    unlink(filler);
    if (tr_log_open(&log, dir, &o, &err) || tr_log_wait_recompressed(log, -1))
        return 8;
    tr_log_stats(log, &st);
    if (st.recompressed != st.segments - 1 || st.recompress_failed || st.recompress_low_space)
        return 9;
    if (tl_read_all(log, &last, &bad, &err) < N_RECS || bad || tr_log_verify(log, &err))
        return 10;
    if (tr_log_close(log, &err))
        return 11;
    return 0;
}

static void full_tmpfs_makes_recompression_wait_and_loses_nothing(void **state)
{
    char *mnt = tl_mkdtemp();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A private mount namespace: the tmpfs is gone when the child is. */
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("tmpfs", mnt, "tmpfs", 0, "size=512k") != 0)
            _exit(77);
        _exit(tmpfs_scenario(mnt));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    rmdir(mnt);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        free(mnt);
        print_message("no tmpfs here (needs root and mount namespaces): skipped\n");
        skip();
    }
    free(mnt);
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void segments_retention_will_drop_are_not_rewritten(void **state)
{
    char *dir = tl_mkdtemp();
    uint64_t sealed = make_log(dir);
    uint64_t total = 0;
    char seg[4096];
    for (uint64_t i = 1; i <= sealed + 1; i++) {
        seg_file(dir, i, "seg", seg, sizeof seg);
        struct blob b = slurp(seg);
        total += b.n;
        free(b.p);
    }
    struct tr_log_options o = opts(4);
    o.retain_bytes = total / 2; /* retention runs at the next roll or retain call */
    struct tr_log *log = open_ok(dir, &o);
    assert_int_equal(tr_log_wait_recompressed(log, -1), 0);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    uint64_t rewritten = st.recompressed;
    unsigned dropped = 0;
    struct tr_error err = {0};
    assert_int_equal(tr_log_retain(log, 0, &dropped, &err), 0);
    assert_true(dropped > 0);
    assert_true(rewritten > 0);
    /* Rewrites only shrink the total, so a segment that was not doomed
     * when rewritten never becomes doomed: none of the dropped was. */
    assert_int_equal(rewritten + dropped, sealed);
    tr_log_stats(log, &st);
    assert_int_equal(st.sealed_rc_disk_bytes + st.active_disk_bytes, st.disk_bytes);
    close_ok(log);
    tl_rmdir(dir);
    free(dir);
}

static void read_only_snapshot_reads_segments_the_writer_replaced(void **state)
{
    char *dir = tl_mkdtemp();
    uint64_t sealed = make_log(dir);
    struct tr_log_options ro_o = opts(4);
    ro_o.read_only = 1;
    struct tr_log *ro = open_ok(dir, &ro_o); /* snapshot: old block tables */
    struct tr_log_options o = opts(4);
    struct tr_log *w = open_ok(dir, &o);
    assert_int_equal(tr_log_wait_recompressed(w, -1), 0);
    struct tr_log_stats st;
    tr_log_stats(w, &st);
    assert_int_equal(st.recompressed, sealed);
    check_all(ro); /* opens the replaced files, notices, re-scans them */
    check_all(w);
    close_ok(ro);
    close_ok(w);
    tl_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recompression_rewrites_sealed_segments_and_keeps_every_record),
        cmocka_unit_test(crash_at_each_step_of_a_swap_recovers_every_record_once),
        cmocka_unit_test(reader_holding_the_old_file_reads_on_across_a_swap),
        cmocka_unit_test(followers_read_everything_while_segments_are_recompressed),
        cmocka_unit_test(corruption_in_a_recompressed_segment_is_reported_not_returned),
        cmocka_unit_test(damaged_sealed_segment_is_left_alone_and_still_reported),
        cmocka_unit_test(full_disk_during_recompression_leaves_the_original_in_place),
        cmocka_unit_test(full_tmpfs_makes_recompression_wait_and_loses_nothing),
        cmocka_unit_test(segments_retention_will_drop_are_not_rewritten),
        cmocka_unit_test(read_only_snapshot_reads_segments_the_writer_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
