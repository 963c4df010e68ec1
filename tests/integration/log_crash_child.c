/* Crash-test child for the durable log: opens the log in <dir> with the
 * given sync mode, appends records whose content is a function of their
 * LSN (tests/unit/test_log_util.h) in random-size batches, and prints
 * "A <lsn>\n" on stdout each time records up to <lsn> are acknowledged
 * durable. It never stops on its own: the test kills it with SIGKILL.
 *
 * usage: log_crash_child <dir> every|group|group0|recompress <seed>
 * (group: 1 ms window; group0: leader/follower commit, group_commit_ms = 0;
 * recompress: group0 with 16 KiB segments and slow LZ4HC level 12 background
 * recompression, so a kill usually lands in the middle of a rewrite or a swap) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit/test_log_util.h"

static void say(const char *tag, uint64_t lsn)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%s %llu\n", tag, (unsigned long long)lsn);
    if (write(1, line, (size_t)n) != n)
        _exit(9); /* the parent is gone */
}

static void on_durable(void *arg, uint64_t lsn)
{
    say("A", lsn);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.sync = strcmp(argv[2], "every") == 0 ? TR_LOG_SYNC_EVERY : TR_LOG_SYNC_GROUP;
    o.block_bytes = 2048;
    o.segment_bytes = 64 << 10;
    o.index_every = 8;
    int rc_mode = strcmp(argv[2], "recompress") == 0;
    o.group_commit_ms = strcmp(argv[2], "group0") == 0 || rc_mode ? 0 : 1;
    o.recompress_level = rc_mode ? 12 : 0;
    if (rc_mode)
        o.segment_bytes = 16 << 10;
    if (o.sync == TR_LOG_SYNC_GROUP)
        o.durable_cb = on_durable;
    unsigned seed = (unsigned)strtoul(argv[3], NULL, 10);
    struct tr_log *log;
    struct tr_error err = {0};
    int rc = tr_log_open(&log, argv[1], &o, &err);
    if (rc) {
        fprintf(stderr, "child: %s\n", err.msg);
        return 3;
    }
    uint64_t next = tr_log_last_lsn(log) + 1;
    say("S", next);
    for (;;) {
        size_t n = 1 + (size_t)(rand_r(&seed) % 40);
        if ((rc = tl_append_range(log, next, next + n - 1, n, &err)) != 0) {
            fprintf(stderr, "child: append: %s\n", err.msg);
            return 4;
        }
        next += n;
        if (o.sync == TR_LOG_SYNC_EVERY)
            say("A", next - 1);
    }
}
