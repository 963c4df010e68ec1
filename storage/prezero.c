/* Zeros written ahead of the active segment's end, so that appends
 * overwrite blocks the file already has instead of growing it.
 *
 * Why: an fdatasync after an append that grew the file must also commit
 * the new file size, i.e. an ext4 journal commit (its own kernel thread and
 * a second flush); after an overwrite of blocks already written it is one
 * data write and one device flush. Measured on this VM's disk: 4 KiB
 * appends + fdatasync p50 184-216 us / p99 326-476 us, the same over a
 * pre-zeroed region p50 105-138 us / p99 226-231 us, and in the node at
 * 50k events/s the fsync stage of a record fell from p50 ~220 to ~140 us
 * (docs/storage.md). PostgreSQL pre-zeroes its WAL segments for the same
 * reason. fallocate() is not enough: its unwritten extents need a journal
 * commit when first written.
 *
 * The zeros are a tail that is never data: a segment is cut back to its
 * real size before it is sealed and at a clean close, and recovery after a
 * crash cuts an all-zero tail without counting it as torn (log.c). The
 * sync thread tops the region up by one PZ_CHUNK after an fsync whenever
 * it is a chunk short of prezero_bytes, with the writer lock held (it must
 * not overlap an append): one size commit per 1 MiB of log, about two a
 * second at 45k events/s. Chunks of 64 KiB (~30 slower fsyncs a second)
 * touched ~1 % of records, i.e. the p99 itself; 4 MiB ones stalled longer
 * (docs/storage.md).
 * Off on tmpfs (no flush to save, and memory), with custom file
 * operations (tests' fault injection counts their calls) and in read-only
 * opens. A failed zero write (disk full) is cut back and turns the
 * feature off for the segment: appends then grow the file as before. */
#include "internal.h"

#include <errno.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#define PZ_CHUNK (1u << 20)

static const uint8_t pz_zeros[PZ_CHUNK];

int prezero_usable(const char *dir)
{
    struct statfs sf;
    if (statfs(dir, &sf) != 0)
        return 0;
    return sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC;
}

void prezero_reset(struct tr_log *log)
{
    log->zeroed_to = 0;
    log->pz_failed = 0;
}

int prezero_cut(struct tr_log *log)
{
    struct seg *s = &log->segs[log->n_segs - 1];
    if (log->zeroed_to <= s->size) {
        prezero_reset(log);
        return 0;
    }
    int rc = ftruncate(log->fd, (off_t)s->size) == 0 ? 0 : -errno;
    prezero_reset(log);
    return rc;
}

void prezero_ahead(struct tr_log *log)
{
    if (!log->pz_on || log->pz_failed || log->fd < 0)
        return;
    struct seg *s = &log->segs[log->n_segs - 1];
    uint64_t target = s->size + log->o.prezero_bytes;
    if (target > log->o.segment_bytes)
        target = log->o.segment_bytes;
    if (log->zeroed_to < s->size)
        log->zeroed_to = s->size;
    if (log->zeroed_to >= target || target - log->zeroed_to < PZ_CHUNK)
        return;
    uint64_t n = PZ_CHUNK;
    ssize_t w = pwrite(log->fd, pz_zeros, (size_t)n, (off_t)log->zeroed_to);
    if (w != (ssize_t)n) {
        /* disk full or an error: give the space back, grow as before */
        if (ftruncate(log->fd, (off_t)log->zeroed_to) != 0) {
            /* the tail stays zeros, which recovery and sealing cut anyway */
        }
        log->pz_failed = 1;
        return;
    }
    log->zeroed_to += n;
}
