/* The node's log test hooks (fault_fs.h): fsync EIO, and power loss. An fsync that fails is the
 * failure a disk gives when it lost writes it had accepted: the log then
 * refuses every later append (TR_EIO, sticky), which the writer actor
 * turns into a stop with exit code 3 (docs/node.md). */
#include "fault_fs.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* Power-loss hook: after a successful fsync of a segment, FILE says which
 * segment is durable up to which size: the size when the fsync started
 * (POSIX: data written before fdatasync starts is covered; what was
 * appended during it may not be). Written to FILE.tmp then renamed, so a
 * SIGKILL leaves the previous or the new record, never half of one. */
static void note_synced(const struct nfault_fs *f, int fd, off_t size)
{
    char link[64], path[1024], tmp[1100];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return;
    path[n] = 0;
    size_t pl = (size_t)n;
    if (pl < 4 || strcmp(path + pl - 4, ".seg") != 0)
        return; /* the checkpoint and other files: not the log's data */
    snprintf(tmp, sizeof tmp, "%s.tmp", f->synced_file);
    FILE *o = fopen(tmp, "w");
    if (!o)
        return;
    fprintf(o, "%s %lld\n", path, (long long)size);
    if (fclose(o) == 0)
        rename(tmp, f->synced_file);
}

static int f_fsync(void *ctx, int fd)
{
    struct nfault_fs *f = ctx;
    if (mono_ns() >= f->fail_after_ns) {
        atomic_fetch_add(&f->failed, 1);
        return -EIO;
    }
    if (!f->synced_file)
        return tr_log_fs_default()->fsync(NULL, fd);
    struct stat st;
    off_t size = fstat(fd, &st) == 0 ? st.st_size : -1;
    struct timespec d = {(time_t)(f->sync_delay_ms / 1000), (long)(f->sync_delay_ms % 1000) * 1000000};
    nanosleep(&d, NULL);
    int r = tr_log_fs_default()->fsync(NULL, fd);
    if (r == 0 && size >= 0)
        note_synced(f, fd, size);
    return r;
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
    f->fail_after_ns = ms ? mono_ns() + (int64_t)ms * 1000000 : INT64_MAX;
    atomic_init(&f->failed, 0);
    f->synced_file = NULL;
    f->sync_delay_ms = 0;
}

void nfault_fs_powerloss(struct nfault_fs *f, const char *synced_file, uint32_t delay_ms)
{
    f->synced_file = synced_file;
    f->sync_delay_ms = delay_ms;
}
