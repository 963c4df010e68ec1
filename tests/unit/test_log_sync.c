/* Unit tests of the log's leader/follower group commit (group_commit_ms = 0):
 * a record is acknowledged only after an fsync that covers it, and whatever
 * is appended while one fsync runs goes into the next one. The fsync is
 * gated by the test (fault-injection fs ops), so every step is deterministic:
 * no sleeps, no timing asserts. Also live readers (records readable once
 * written, before their fsync returns). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>

#include "test_log_util.h"

/* fs ops whose fsync waits until the test grants it ("allow"). */
struct gate {
    struct tr_log_fs_ops ops;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long allow;   /* fsyncs that may complete; < 0 = unlimited */
    long entered; /* fsyncs that have started */
    long done;
};

static int g_open(void *ctx, const char *p, int flags, mode_t mode)
{
    return tr_log_fs_default()->open(NULL, p, flags, mode);
}
static ssize_t g_pwrite(void *ctx, int fd, const void *b, size_t n, off_t off)
{
    return tr_log_fs_default()->pwrite(NULL, fd, b, n, off);
}
static int g_fsync(void *ctx, int fd)
{
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (g->allow == 0)
        pthread_cond_wait(&g->cv, &g->mu);
    if (g->allow > 0)
        g->allow--;
    pthread_mutex_unlock(&g->mu);
    int r = tr_log_fs_default()->fsync(NULL, fd);
    pthread_mutex_lock(&g->mu);
    g->done++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return r;
}
static int g_ftruncate(void *ctx, int fd, off_t len)
{
    return tr_log_fs_default()->ftruncate(NULL, fd, len);
}

static void gate_init(struct gate *g)
{
    memset(g, 0, sizeof *g);
    g->ops = (struct tr_log_fs_ops){TR_LOG_FS_OPS_VERSION, g, g_open, g_pwrite, g_fsync,
                                    g_ftruncate};
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->allow = -1;
}

static void gate_set(struct gate *g, long allow)
{
    pthread_mutex_lock(&g->mu);
    g->allow = allow;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Waits until `n` fsyncs have started. */
static void gate_wait_entered(struct gate *g, long n)
{
    pthread_mutex_lock(&g->mu);
    while (g->entered < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void leader_follower_commit_acknowledges_after_fsync_and_batches_followers(void **state)
{
    char *dir = tl_mkdtemp();
    struct gate g;
    gate_init(&g);
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.group_commit_ms = 0;
    o.fs = &g.ops;
    struct tr_log *log = NULL;
    struct tr_error err = {0};
    assert_int_equal(tr_log_open(&log, dir, &o, &err), 0);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    uint64_t syncs0 = st.syncs;
    pthread_mutex_lock(&g.mu);
    long base = g.entered; /* the open's own fsyncs */
    g.allow = 0;
    pthread_mutex_unlock(&g.mu);

    /* One record: the sync thread starts an fsync for it at once (no window). */
    assert_int_equal(tl_append_range(log, 1, 1, 1, &err), 0);
    gate_wait_entered(&g, base + 1);
    assert_int_equal(tr_log_durable_lsn(log), 0);          /* not before its fsync returns */
    assert_int_equal(tr_log_wait_durable(log, 1, 0), TR_ETIMEDOUT);
    /* 100 more appends while that fsync runs: none is durable yet. */
    assert_int_equal(tl_append_range(log, 2, 101, 1, &err), 0);
    assert_int_equal(tr_log_durable_lsn(log), 0);
    assert_int_equal(tr_log_committed_lsn(log), 0);        /* readers see nothing either */

    gate_set(&g, 1);                                       /* fsync 1 completes */
    assert_int_equal(tr_log_wait_durable(log, 1, -1), 0);
    gate_wait_entered(&g, base + 2);                       /* the followers' fsync starts */
    assert_int_equal(tr_log_durable_lsn(log), 1);          /* fsync 1 covered LSN 1 only */
    gate_set(&g, 1);
    assert_int_equal(tr_log_wait_durable(log, 101, -1), 0);
    /* All 100 followers went into one fsync. */
    tr_log_stats(log, &st);
    assert_int_equal(st.syncs - syncs0, 2);
    pthread_mutex_lock(&g.mu);
    assert_int_equal(g.entered - base, 2);
    pthread_mutex_unlock(&g.mu);

    /* Quiet log: no fsync without data. */
    gate_set(&g, -1);
    long dummy;
    uint64_t last;
    assert_int_equal(tl_read_all(log, &last, &dummy, &err), 101);
    assert_int_equal(dummy, 0);
    assert_int_equal(tr_log_close(log, &err), 0);
    log = NULL;
    o.fs = NULL;
    assert_int_equal(tr_log_open(&log, dir, &o, &err), 0);
    assert_int_equal(tl_read_all(log, &last, &dummy, &err), 101);
    assert_int_equal(dummy, 0);
    assert_int_equal(tr_log_close(log, &err), 0);
    tl_rmdir(dir);
    free(dir);
}

/* The M-bytes bound still applies with window 0, and a quiet writer's
 * last record becomes durable without any further call. */
static void leader_follower_commit_makes_every_record_durable_without_flush(void **state)
{
    char *dir = tl_mkdtemp();
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.group_commit_ms = 0;
    o.group_commit_bytes = 4096;
    o.block_bytes = 1024;
    o.segment_bytes = 16384;
    struct tr_log *log = NULL;
    struct tr_error err = {0};
    assert_int_equal(tr_log_open(&log, dir, &o, &err), 0);
    for (uint64_t l = 1; l <= 3000; l += 50) {
        assert_int_equal(tl_append_range(log, l, l + 49, 7, &err), 0);
        assert_int_equal(tr_log_wait_durable(log, l + 49, -1), 0);
        assert_true(tr_log_committed_lsn(log) >= l + 49);
    }
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    assert_true(st.syncs >= 60); /* one wait per round, each needed an fsync */
    assert_true(st.segments > 1);
    long bad;
    uint64_t last;
    assert_int_equal(tl_read_all(log, &last, &bad, &err), 3000);
    assert_int_equal(bad, 0);
    assert_int_equal(tr_log_verify(log, &err), 0);
    assert_int_equal(tr_log_close(log, &err), 0);
    tl_rmdir(dir);
    free(dir);
}

/* Reads every record `r` has now; returns the count (each checked, in LSN
 * order from `first`), or -1 on a bad one. */
static long drain(struct tr_log_reader *r, uint64_t first)
{
    struct tr_log_record rec;
    struct tr_error err = {0};
    long n = 0;
    int rc;
    while ((rc = tr_log_reader_next(r, &rec, &err)) == 1) {
        if (!tl_check(&rec) || rec.lsn != first + (uint64_t)n)
            return -1;
        n++;
    }
    return rc == 0 ? n : -1;
}

struct live_waiter {
    struct tr_log_reader *r;
    int rc;
};

static void *live_wait_main(void *arg)
{
    struct live_waiter *w = arg;
    w->rc = tr_log_reader_wait(w->r, -1);
    return NULL;
}

/* A live reader sees every appended record, with every fsync held; a
 * durable reader of the same log sees none of them until an fsync covering
 * them returns. With the sync thread stuck in a held fsync later appends
 * stay in the writer's partial block; a live reader that reaches them
 * writes them to the file itself and reads them from there. */
static void live_reader_sees_written_records_before_they_are_durable(unsigned window_ms)
{
    char *dir = tl_mkdtemp();
    struct gate g;
    gate_init(&g);
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.group_commit_ms = window_ms;
    o.fs = &g.ops;
    struct tr_log *log = NULL;
    struct tr_error err = {0};
    assert_int_equal(tr_log_open(&log, dir, &o, &err), 0);
    pthread_mutex_lock(&g.mu);
    long base = g.entered;
    g.allow = 0; /* every fsync from here on waits for the test */
    pthread_mutex_unlock(&g.mu);

    /* LSN 1 wakes the idle sync thread, which writes it and blocks in a
     * held fsync: from now on nothing becomes durable. */
    assert_int_equal(tl_append_range(log, 1, 1, 1, &err), 0);
    gate_wait_entered(&g, base + 1);
    assert_int_equal(tr_log_written_lsn(log), 1);
    /* No live reader yet: records appended while the sync thread is busy
     * stay in the writer's partial block, not readable by anyone. */
    assert_int_equal(tl_append_range(log, 2, 3, 1, &err), 0);
    assert_int_equal(tr_log_written_lsn(log), 1);

    struct tr_log_reader *live, *live_end, *durable;
    struct tr_log_reader_options lo = {.from = TR_LOG_FROM_START, .live = 1};
    struct tr_log_reader_options eo = {.from = TR_LOG_FROM_END, .live = 1};
    struct tr_log_reader_options dopt = {.from = TR_LOG_FROM_START};
    assert_int_equal(tr_log_reader_alloc(log, &lo, &live, &err), 0);
    assert_int_equal(tr_log_reader_alloc(log, &eo, &live_end, &err), 0);
    assert_int_equal(tr_log_reader_alloc(log, &dopt, &durable, &err), 0);
    /* LSN 1 is in the file; 2..3 the live reader takes out of the
     * writer's partial block itself. None is durable. */
    assert_int_equal(drain(live, 1), 3);
    assert_int_equal(tr_log_written_lsn(log), 3);
    assert_int_equal(drain(durable, 1), 0);

    /* A live follower blocked in its wait is woken by the append itself. */
    struct live_waiter w = {.r = live_end, .rc = 1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, live_wait_main, &w), 0);
    /* An append wakes a live follower; the records stay in the partial
     * block until a live reader wants them. */
    assert_int_equal(tl_append_range(log, 4, 40, 3, &err), 0);
    pthread_join(th, NULL);
    assert_int_equal(w.rc, 0);
    /* still in the writer's partial block: the live reader writes it */
    assert_int_equal(tr_log_written_lsn(log), 3);
    assert_int_equal(drain(live, 4), 37);
    assert_int_equal(tr_log_written_lsn(log), 40);
    assert_int_equal(drain(live_end, 4), 37);       /* from the appended end at its open */
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    assert_true(st.active_raw_bytes > 0);
    assert_int_equal(drain(durable, 1), 0);
    assert_int_equal(tr_log_durable_lsn(log), 0);
    assert_int_equal(tr_log_reader_wait(durable, 0), TR_ETIMEDOUT);
    assert_int_equal(tr_log_reader_wait(live, 0), TR_ETIMEDOUT); /* caught up */

    /* Let the fsyncs go: the durable reader gets the same records. */
    gate_set(&g, -1);
    assert_int_equal(tr_log_wait_durable(log, 40, -1), 0);
    assert_int_equal(drain(durable, 1), 40);
    tr_log_reader_free(live);
    tr_log_reader_free(live_end);
    tr_log_reader_free(durable);
    assert_int_equal(tr_log_close(log, &err), 0);

    /* Reopened: everything is there once, and verifies. */
    log = NULL;
    o.fs = NULL;
    assert_int_equal(tr_log_open(&log, dir, &o, &err), 0);
    long bad;
    uint64_t last;
    assert_int_equal(tl_read_all(log, &last, &bad, &err), 40);
    assert_int_equal(bad, 0);
    assert_int_equal(tr_log_verify(log, &err), 0);
    assert_int_equal(tr_log_close(log, &err), 0);
    tl_rmdir(dir);
    free(dir);
}

static void live_reader_leader_follower_commit(void **state)
{
    live_reader_sees_written_records_before_they_are_durable(0);
}

static void live_reader_window_commit(void **state)
{
    live_reader_sees_written_records_before_they_are_durable(2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(leader_follower_commit_acknowledges_after_fsync_and_batches_followers),
        cmocka_unit_test(leader_follower_commit_makes_every_record_durable_without_flush),
        cmocka_unit_test(live_reader_leader_follower_commit),
        cmocka_unit_test(live_reader_window_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
