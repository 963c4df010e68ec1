/* The node's fsync-EIO test hook (fault_fs.h). An fsync that fails is the
 * failure a disk gives when it lost writes it had accepted: the log then
 * refuses every later append (TR_EIO, sticky), which the writer actor
 * turns into a stop with exit code 3 (docs/node.md). */
#include "fault_fs.h"

#include <errno.h>
#include <time.h>

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int f_open(void *ctx, const char *path, int flags, mode_t mode)
{
    (void)ctx;
    return tr_log_fs_default()->open(NULL, path, flags, mode);
}

static ssize_t f_pwrite(void *ctx, int fd, const void *buf, size_t n, off_t off)
{
    (void)ctx;
    return tr_log_fs_default()->pwrite(NULL, fd, buf, n, off);
}

static int f_fsync(void *ctx, int fd)
{
    struct nfault_fs *f = ctx;
    if (mono_ns() >= f->fail_after_ns) {
        atomic_fetch_add(&f->failed, 1);
        return -EIO;
    }
    return tr_log_fs_default()->fsync(NULL, fd);
}

static int f_ftruncate(void *ctx, int fd, off_t len)
{
    (void)ctx;
    return tr_log_fs_default()->ftruncate(NULL, fd, len);
}

void nfault_fs_init(struct nfault_fs *f, uint32_t ms)
{
    f->ops = (struct tr_log_fs_ops){TR_LOG_FS_OPS_VERSION, f, f_open, f_pwrite, f_fsync,
                                    f_ftruncate};
    f->fail_after_ns = mono_ns() + (int64_t)ms * 1000000;
    atomic_init(&f->failed, 0);
}
