/* Unit tests of overlapping syncs (tr_log_options.sync_threads = 2): a
 * record appended while an fsync runs gets its own fsync at once on the
 * second thread; the durable LSN moves to the largest start LSN of the
 * fsyncs that returned 0, whatever order they return in; and after a failed
 * fsync nothing more is reported durable, even by an overlapping fsync that
 * returned 0. Each fsync is held by the test until it gives that fsync (by
 * the order they started in) its verdict: deterministic, no timing asserts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>

#include "test_log_util.h"

#define MAXT 64

/* fs ops whose fsyncs wait for a verdict per ticket (their start order). */
struct tgate {
    struct tr_log_fs_ops ops;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pass_all;      /* 1: every fsync passes at once (open, close) */
    long entered, done;
    int verdict[MAXT]; /* 0 wait, 1 pass, -1 fail with EIO */
};

static int t_open(void *ctx, const char *p, int flags, mode_t mode)
{
    (void)ctx;
    return tr_log_fs_default()->open(NULL, p, flags, mode);
}
static ssize_t t_pwrite(void *ctx, int fd, const void *b, size_t n, off_t off)
{
    (void)ctx;
    return tr_log_fs_default()->pwrite(NULL, fd, b, n, off);
}
static int t_fsync(void *ctx, int fd)
{
    struct tgate *g = ctx;
    pthread_mutex_lock(&g->mu);
    long t = g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->pass_all && t < MAXT && g->verdict[t] == 0)
        pthread_cond_wait(&g->cv, &g->mu);
    int v = g->pass_all || t >= MAXT ? 1 : g->verdict[t];
    pthread_mutex_unlock(&g->mu);
    int r = v > 0 ? tr_log_fs_default()->fsync(NULL, fd) : -EIO;
    pthread_mutex_lock(&g->mu);
    g->done++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return r;
}
static int t_ftruncate(void *ctx, int fd, off_t len)
{
    (void)ctx;
    return tr_log_fs_default()->ftruncate(NULL, fd, len);
}

static void tgate_init(struct tgate *g)
{
    memset(g, 0, sizeof *g);
    g->ops = (struct tr_log_fs_ops){TR_LOG_FS_OPS_VERSION, g, t_open, t_pwrite, t_fsync,
                                    t_ftruncate};
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->pass_all = 1;
}

static void tgate_set(struct tgate *g, long ticket, int v)
{
    pthread_mutex_lock(&g->mu);
    if (ticket < 0)
        g->pass_all = v > 0;
    else
        g->verdict[ticket] = v;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void tgate_wait(struct tgate *g, const long *field, long n)
{
    pthread_mutex_lock(&g->mu);
    while (*field < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Opens a 2-sync-thread, window-0 log on the gate and starts two fsyncs:
 * the first for LSN 1 (ticket base), the second for LSNs up to 10 (ticket
 * base + 1), both held. */
static struct tr_log *two_in_flight(const char *dir, struct tgate *g, long *base)
{
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.group_commit_ms = 0;
    o.sync_threads = 2;
    o.recompress_level = 0;
    o.fs = &g->ops;
    struct tr_log *log = NULL;
    struct tr_error err = {0};
    assert_int_equal(tr_log_open(&log, dir, &o, &err), 0);
    pthread_mutex_lock(&g->mu);
    *base = g->entered;
    g->pass_all = 0;
    pthread_mutex_unlock(&g->mu);
    assert_int_equal(tl_append_range(log, 1, 1, 1, &err), 0);
    tgate_wait(g, &g->entered, *base + 1);
    assert_int_equal(tl_append_range(log, 2, 10, 9, &err), 0); /* one call: one target */
    tgate_wait(g, &g->entered, *base + 2); /* the second thread did not wait */
    assert_int_equal(tr_log_durable_lsn(log), 0);
    assert_int_equal(tr_log_committed_lsn(log), 0);
    return log;
}

static void later_fsync_returning_first_makes_everything_before_it_durable(void **state)
{
    (void)state;
    char *dir = tl_mkdtemp();
    struct tgate g;
    tgate_init(&g);
    long base;
    struct tr_log *log = two_in_flight(dir, &g, &base);
    struct tr_error err = {0};

    tgate_set(&g, base + 1, 1); /* the second fsync returns first */
    assert_int_equal(tr_log_wait_durable(log, 10, -1), 0);
    assert_int_equal(tr_log_durable_lsn(log), 10);
    pthread_mutex_lock(&g.mu);
    assert_int_equal(g.done - base, 1); /* the first is still running */
    pthread_mutex_unlock(&g.mu);
    tgate_set(&g, base, 1);
    tgate_wait(&g, &g.done, base + 2);
    assert_int_equal(tr_log_durable_lsn(log), 10); /* its LSN 1 takes nothing back */

    tgate_set(&g, -1, 1);
    assert_int_equal(tl_append_range(log, 11, 500, 7, &err), 0);
    assert_int_equal(tr_log_wait_durable(log, 500, -1), 0);
    assert_int_equal(tr_log_close(log, &err), 0);
    struct tr_log_options o;
    tr_log_options_init(&o);
    assert_int_equal(tr_log_open(&log, dir, &o, &err), 0);
    long bad;
    uint64_t last;
    assert_int_equal(tl_read_all(log, &last, &bad, &err), 500);
    assert_int_equal(bad, 0);
    assert_int_equal(tr_log_close(log, &err), 0);
    tl_rmdir(dir);
    free(dir);
}

static void failed_fsync_stops_durability_even_if_an_overlapping_one_passes(void **state)
{
    (void)state;
    char *dir = tl_mkdtemp();
    struct tgate g;
    tgate_init(&g);
    long base;
    struct tr_log *log = two_in_flight(dir, &g, &base);
    struct tr_error err = {0};

    tgate_set(&g, base, -1); /* the first fsync fails */
    assert_int_equal(tr_log_wait_durable(log, 1, -1), TR_EIO); /* wakes on the failure */
    tgate_set(&g, base + 1, 1); /* the overlapping one returns 0 */
    tgate_wait(&g, &g.done, base + 2);
    assert_int_equal(tr_log_durable_lsn(log), 0);
    assert_int_equal(tr_log_committed_lsn(log), 0);
    assert_int_equal(tr_log_wait_durable(log, 10, 0), TR_EIO);
    assert_int_equal(tl_append_range(log, 11, 11, 1, &err), TR_EIO);

    tgate_set(&g, -1, 1);
    tr_log_close(log, &err); /* refuses the final flush: the log failed */
    tl_rmdir(dir);
    free(dir);
}

/* Many rolls with two sync threads: each reopens its own fd on the new
 * segment; every record is durable, readable and verified after a reopen. */
static void two_sync_threads_follow_segment_rolls(void **state)
{
    (void)state;
    char *dir = tl_mkdtemp();
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.group_commit_ms = 0;
    o.sync_threads = 2;
    o.block_bytes = 1024;
    o.segment_bytes = 16384;
    struct tr_log *log = NULL;
    struct tr_error err = {0};
    assert_int_equal(tr_log_open(&log, dir, &o, &err), 0);
    for (uint64_t l = 1; l <= 3000; l += 50) {
        assert_int_equal(tl_append_range(log, l, l + 49, 7, &err), 0);
        if (l % 200 == 1)
            assert_int_equal(tr_log_wait_durable(log, l + 49, -1), 0);
    }
    assert_int_equal(tr_log_wait_durable(log, 3000, -1), 0);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    assert_true(st.segments > 5);
    assert_int_equal(tr_log_close(log, &err), 0);
    assert_int_equal(tr_log_open(&log, dir, &o, &err), 0);
    long bad;
    uint64_t last;
    assert_int_equal(tl_read_all(log, &last, &bad, &err), 3000);
    assert_int_equal(bad, 0);
    assert_int_equal(tr_log_verify(log, &err), 0);
    assert_int_equal(tr_log_close(log, &err), 0);
    tl_rmdir(dir);
    free(dir);
}

static void sync_threads_out_of_range_is_refused(void **state)
{
    (void)state;
    char *dir = tl_mkdtemp();
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.sync_threads = TR_LOG_SYNC_THREADS_MAX + 1;
    struct tr_log *log = NULL;
    struct tr_error err = {0};
    assert_int_equal(tr_log_open(&log, dir, &o, &err), TR_EINVAL);
    assert_non_null(strstr(err.msg, "sync_threads"));
    tl_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(later_fsync_returning_first_makes_everything_before_it_durable),
        cmocka_unit_test(failed_fsync_stops_durability_even_if_an_overlapping_one_passes),
        cmocka_unit_test(two_sync_threads_follow_segment_rolls),
        cmocka_unit_test(sync_threads_out_of_range_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
