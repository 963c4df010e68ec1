/* Test hook: a filesystem for the node's log whose fsync starts failing
 * with EIO at a set time ($TR_NODE_FAULT_LOG_EIO_MS, node/main.c), so a
 * test can drive the writer's "log refused an append" path (exit code 3)
 * in the real program. Off unless the variable is set. */
#ifndef TR_NODE_FAULT_FS_H
#define TR_NODE_FAULT_FS_H

#include <stdatomic.h>
#include <stdint.h>

#include "tickraft/log.h"

struct nfault_fs {
    struct tr_log_fs_ops ops;   /* hand &ops to tr_log_options.fs */
    int64_t fail_after_ns;      /* CLOCK_MONOTONIC: fsync fails from then on */
    atomic_ullong failed;       /* fsyncs refused so far */
};

/* Arms `f` (caller-owned, must outlive the log): every fsync from `ms`
 * milliseconds after this call returns -EIO, without syncing; writes and
 * everything before that go to the default filesystem. */
void nfault_fs_init(struct nfault_fs *f, uint32_t ms);

#endif
