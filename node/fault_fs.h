/* Test hooks: a filesystem for the node's log whose fsync starts failing
 * with EIO at a set time ($TR_NODE_FAULT_LOG_EIO_MS, node/main.c), so a
 * test can drive the writer's "log refused an append" path (exit code 3)
 * in the real program; and one that emulates a power loss
 * ($TR_NODE_FAULT_LOG_SYNCED=FILE, $TR_NODE_FAULT_LOG_SYNC_DELAY_MS): each
 * fsync first waits the delay (so records stay written-but-not-durable
 * for that long) and, once it returned, records in FILE which file it
 * made durable up to which size, so a test that kills the node with
 * SIGKILL can cut the segment back to that size: what a machine crash
 * would have left (tests/integration/e2e_client_node.sh). Off unless the
 * variables are set. */
#ifndef TR_NODE_FAULT_FS_H
#define TR_NODE_FAULT_FS_H

#include <stdatomic.h>
#include <stdint.h>

#include "tickraft/log.h"

struct nfault_fs {
    struct tr_log_fs_ops ops;   /* hand &ops to tr_log_options.fs */
    int64_t fail_after_ns;      /* CLOCK_MONOTONIC: fsync fails from then on; INT64_MAX never */
    atomic_ullong failed;       /* fsyncs refused so far */
    const char *synced_file;    /* power-loss hook: "PATH SIZE\n" of the last fsync; NULL off */
    uint32_t sync_delay_ms;     /* power-loss hook: wait before each fsync */
};

/* Arms `f` (caller-owned, must outlive the log): every fsync from `ms`
 * milliseconds after this call returns -EIO, without syncing; writes and
 * everything before that go to the default filesystem. */
void nfault_fs_init(struct nfault_fs *f, uint32_t ms);
/* Arms the power-loss hook on `f` (after nfault_fs_init; ms 0 = no EIO):
 * `synced_file` (borrowed, must outlive the log) and the delay. */
void nfault_fs_powerloss(struct nfault_fs *f, const char *synced_file, uint32_t delay_ms);

#endif
