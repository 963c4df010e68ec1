/* Zeros written ahead of the active segment (storage/prezero.c): they
 * appear after fsync rounds, are never read as data, are cut at a clean
 * close and at a seal, and recovery after a crash cuts an all-zero tail
 * without counting it as torn while a torn block before zeros still is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "unit/test_log_util.h"

/* The log's directory must be on a disk for the feature to be on. */
static int on_tmpfs(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "stat -f -c %%T %s | grep -q tmpfs", dir);
    return system(cmd) == 0;
}

static uint64_t file_size(const char *dir, uint64_t id)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%020llu.seg", dir, (unsigned long long)id);
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int tail_is_zero(const char *dir, uint64_t id, uint64_t from)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%020llu.seg", dir, (unsigned long long)id);
    FILE *f = fopen(p, "rb");
    if (!f || fseek(f, (long)from, SEEK_SET) != 0)
        return 0;
    int c, ok = 1;
    while ((c = fgetc(f)) != EOF)
        ok &= c == 0;
    fclose(f);
    return ok;
}

static struct tr_log *open_log(const char *dir, uint64_t seg_bytes)
{
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.group_commit_ms = 0;
    o.recompress_level = 0;
    if (seg_bytes)
        o.segment_bytes = seg_bytes;
    struct tr_log *log = NULL;
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(tr_log_open(&log, dir, &o, &err), 0);
    return log;
}

/* `rounds` appends of `per` records, each waited durable: one round of
 * the sync thread, which writes the zeros (a tr_log_flush would sync on
 * the caller's thread instead). */
static void append_rounds(struct tr_log *log, uint64_t *next, int rounds, uint64_t per)
{
    struct tr_error err;
    for (int i = 0; i < rounds; i++) {
        assert_int_equal(tl_append_range(log, *next, *next + per - 1, (size_t)per, &err), 0);
        *next += per;
        assert_int_equal(tr_log_wait_durable(log, *next - 1, 5000), 0);
    }
}

static void copy_dir(const char *from, const char *to)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "cp -a %s/. %s/ && rm -f %s/LOCK %s/*.lock", from, to, to, to);
    assert_int_equal(system(cmd), 0);
}

static void zeros_ahead_cut_at_close_and_not_torn_after_crash(void **state)
{
    (void)state;
    char *dir = tl_mkdtemp(), *crash = tl_mkdtemp();
    if (on_tmpfs(dir)) {
        skip(); /* the feature is off on tmpfs by design */
    }
    struct tr_log *log = open_log(dir, 0);
    uint64_t next = 1;
    append_rounds(log, &next, 40, 20);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    uint64_t data = st.active_disk_bytes, size = file_size(dir, 1);
    assert_true(size > data + (512u << 10)); /* zeros ahead after 40 rounds */
    assert_true(tail_is_zero(dir, 1, data));
    /* a crash now: the copy holds the zeros; recovery cuts them uncounted */
    copy_dir(dir, crash);
    struct tr_error err;
    long bad;
    uint64_t last;
    assert_int_equal(tl_read_all(log, &last, &bad, &err), (long)(next - 1));
    assert_int_equal(bad, 0);
    assert_int_equal(tr_log_close(log, &err), 0);
    assert_int_equal(file_size(dir, 1), data); /* clean close: no zeros left */

    struct tr_log *re = open_log(crash, 0);
    tr_log_stats(re, &st);
    assert_int_equal(st.recovered_truncated_bytes, 0);
    assert_int_equal(tl_read_all(re, &last, &bad, &err), (long)(next - 1));
    assert_int_equal(bad, 0);
    assert_int_equal(last, next - 1);
    /* appending after the recovery continues at the right place */
    append_rounds(re, &next, 3, 20);
    assert_int_equal(tr_log_close(re, &err), 0);
    re = open_log(crash, 0);
    assert_int_equal(tl_read_all(re, &last, &bad, &err), (long)(next - 1));
    assert_int_equal(bad, 0);
    assert_int_equal(tr_log_close(re, &err), 0);
    tl_rmdir(dir);
    tl_rmdir(crash);
    free(dir);
    free(crash);
}

/* A torn block written over the zeros is still a torn tail (counted). */
static void torn_block_before_zeros_is_counted(void **state)
{
    (void)state;
    char *dir = tl_mkdtemp(), *crash = tl_mkdtemp();
    if (on_tmpfs(dir)) {
        skip();
    }
    struct tr_log *log = open_log(dir, 0);
    uint64_t next = 1;
    append_rounds(log, &next, 30, 20);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    uint64_t data = st.active_disk_bytes;
    copy_dir(dir, crash);
    struct tr_error err;
    assert_int_equal(tr_log_close(log, &err), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/%020llu.seg", crash, 1ull);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)data, SEEK_SET), 0);
    fputs("not a block header", f);
    fclose(f);
    struct tr_log *re = open_log(crash, 0);
    tr_log_stats(re, &st);
    assert_true(st.recovered_truncated_bytes > 0);
    long bad;
    uint64_t last;
    assert_int_equal(tl_read_all(re, &last, &bad, &err), (long)(next - 1));
    assert_int_equal(bad, 0);
    assert_int_equal(tr_log_close(re, &err), 0);
    assert_int_equal(file_size(crash, 1), data);
    tl_rmdir(dir);
    tl_rmdir(crash);
    free(dir);
    free(crash);
}

/* Sealed segments end at their last block: the zeros are cut at the roll,
 * so the sealed files and their indexes agree and verify on open. */
static void sealed_segments_hold_no_zeros(void **state)
{
    (void)state;
    char *dir = tl_mkdtemp();
    if (on_tmpfs(dir)) {
        skip();
    }
    struct tr_log *log = open_log(dir, 256u << 10);
    uint64_t next = 1;
    append_rounds(log, &next, 60, 400);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    assert_true(st.segments >= 3);
    struct tr_error err;
    assert_int_equal(tr_log_close(log, &err), 0);
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.verify_sealed = 1;
    o.recompress_level = 0;
    assert_int_equal(tr_log_open(&log, dir, &o, &err), 0);
    tr_log_stats(log, &st);
    assert_int_equal(st.rebuilt_indexes, 0);
    assert_int_equal(st.recovered_truncated_bytes, 0);
    uint64_t total = 0;
    for (uint64_t id = 1; id <= st.segments; id++)
        total += file_size(dir, id);
    assert_int_equal(total, st.disk_bytes);
    long bad;
    uint64_t last;
    assert_int_equal(tl_read_all(log, &last, &bad, &err), (long)(next - 1));
    assert_int_equal(bad, 0);
    assert_int_equal(tr_log_close(log, &err), 0);
    tl_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zeros_ahead_cut_at_close_and_not_torn_after_crash),
        cmocka_unit_test(torn_block_before_zeros_is_counted),
        cmocka_unit_test(sealed_segments_hold_no_zeros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
