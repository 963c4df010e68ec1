/* Crash test of the durable log: a child process (log_crash_child, built
 * beside this test) appends in EVERY and GROUP sync modes and reports each
 * acknowledged-durable LSN on a pipe (group commit both with a 1 ms window
 * and leader/follower, group_commit_ms = 0; and while a background thread
 * recompresses sealed segments); it is killed with SIGKILL after a
 * seeded-random number of acknowledgements, many rounds on the same
 * directory. After each kill the log is reopened: every acknowledged record
 * must be there exactly once, in LSN order, with the right content, and
 * nothing else (no garbage). No timing is asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <libgen.h>
#include <signal.h>
#include <sys/wait.h>

#include "test_log_util.h"

#define ROUNDS 20

static char child_path[4096];

/* Runs one child until it has acknowledged `acks` times (or died), kills
 * it, and returns the highest acknowledged LSN. */
static uint64_t run_child(const char *dir, const char *mode, unsigned seed, unsigned acks)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        char s[32];
        snprintf(s, sizeof s, "%u", seed);
        execl(child_path, child_path, dir, mode, s, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *in = fdopen(p[0], "r");
    char line[128];
    uint64_t max_ack = 0;
    unsigned seen = 0;
    int killed = 0;
    while (fgets(line, sizeof line, in)) {
        unsigned long long v;
        if (sscanf(line, "A %llu", &v) == 1) {
            if (v > max_ack)
                max_ack = v;
            if (++seen >= acks && !killed) {
                kill(pid, SIGKILL);
                killed = 1; /* keep reading: acks written before death count */
            }
        }
    }
    fclose(in);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    return max_ack;
}

static void crash_rounds(const char *mode, unsigned seed0)
{
    char *dir = tl_mkdtemp();
    unsigned seed = seed0;
    uint64_t acked = 0;
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.sync = TR_LOG_SYNC_NONE; /* the checker only reads */
    o.recompress_level = 0;    /* ...and changes no segment */
    o.block_bytes = 2048;
    o.segment_bytes = 64 << 10;
    for (int round = 0; round < ROUNDS; round++) {
        unsigned acks = 1 + (unsigned)(rand_r(&seed) % 300);
        uint64_t a = run_child(dir, mode, rand_r(&seed), acks);
        assert_true(a >= acked); /* acknowledged LSNs only grow across rounds */
        acked = a;
        int tmp_left = tl_count_tmp(dir); /* > 0: killed in the middle of a rewrite */
        struct tr_log *log = NULL;
        struct tr_error err = {0};
        int rc = tr_log_open(&log, dir, &o, &err);
        if (rc)
            print_error("reopen after kill: %s\n", err.msg);
        assert_int_equal(rc, 0);
        long bad;
        uint64_t last;
        long n = tl_read_all(log, &last, &bad, &err);
        assert_true(n >= 0);
        assert_int_equal(bad, 0);                /* nothing garbled, nothing twice */
        assert_int_equal((uint64_t)n, last);     /* LSNs 1..last, each once */
        assert_true(last >= acked);              /* nothing acknowledged lost */
        assert_int_equal(tr_log_verify(log, &err), 0);
        assert_int_equal(tl_count_tmp(dir), 0); /* open removed half-done rewrites */
        struct tr_log_stats st;
        tr_log_stats(log, &st);
        print_message("%s round %d: acked %llu, recovered %llu, %llu segments, cut %llu bytes, "
                      "%d tmp file(s) at the kill, %llu index(es) rebuilt\n",
                      mode, round, (unsigned long long)acked, (unsigned long long)last,
                      (unsigned long long)st.segments,
                      (unsigned long long)st.recovered_truncated_bytes, tmp_left,
                      (unsigned long long)st.rebuilt_indexes);
        assert_int_equal(tr_log_close(log, &err), 0);
    }
    tl_rmdir(dir);
    free(dir);
}

static void kill9_during_every_write_appends_loses_no_acknowledged_record(void **state)
{
    crash_rounds("every", 20261123);
}

static void kill9_during_group_commit_appends_loses_no_acknowledged_record(void **state)
{
    crash_rounds("group", 777);
}

static void kill9_during_leader_follower_commit_loses_no_acknowledged_record(void **state)
{
    crash_rounds("group0", 4242);
}

static void kill9_during_recompression_loses_no_record_and_returns_no_garbage(void **state)
{
    crash_rounds("recompress", 9001);
}

int main(int argc, char **argv)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 1;
    self[n] = 0;
    snprintf(child_path, sizeof child_path, "%s/log_crash_child", dirname(self));
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill9_during_every_write_appends_loses_no_acknowledged_record),
        cmocka_unit_test(kill9_during_group_commit_appends_loses_no_acknowledged_record),
        cmocka_unit_test(kill9_during_leader_follower_commit_loses_no_acknowledged_record),
        cmocka_unit_test(kill9_during_recompression_loses_no_record_and_returns_no_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
