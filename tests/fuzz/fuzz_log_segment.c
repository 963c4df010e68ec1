/* libFuzzer target: arbitrary bytes as a segment file, fed to recovery and
 * the reader. The first input byte picks the role:
 *   bit 0: 0 = the bytes are the whole file; 1 = a valid 64-byte segment
 *          header is prepended (so the fuzzer reaches block parsing fast);
 *   bit 1: 0 = the segment is the last (open) one: recovery truncates a bad
 *          tail and the reader must return only well-formed records;
 *          1 = it is a sealed segment followed by an empty last segment:
 *          recovery must report TR_ECORRUPT or load it, never crash.
 * Invariants checked: open never crashes; after a successful open every
 * record returned has a stream key of 1..255 bytes and LSNs increase by
 * one; a second open of the recovered directory gives the same records. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../storage/internal.h"
#include "tickraft/log.h"

static char dir[64];

static int nosync(void *ctx, int fd)
{
    return 0; /* fsync adds nothing to what the fuzzer can find */
}
static int fz_open(void *ctx, const char *p, int flags, mode_t mode)
{
    return tr_log_fs_default()->open(NULL, p, flags, mode);
}
static ssize_t fz_pwrite(void *ctx, int fd, const void *b, size_t n, off_t off)
{
    return tr_log_fs_default()->pwrite(NULL, fd, b, n, off);
}
static int fz_ftruncate(void *ctx, int fd, off_t len)
{
    return tr_log_fs_default()->ftruncate(NULL, fd, len);
}
static const struct tr_log_fs_ops fz_fs = {TR_LOG_FS_OPS_VERSION, NULL, fz_open, fz_pwrite, nosync,
                                           fz_ftruncate};

static void remove_dir(void)
{
    rmdir(dir);
}

static void write_file(const char *name, const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        abort();
    if ((na && write(fd, a, na) != (ssize_t)na) || (nb && write(fd, b, nb) != (ssize_t)nb))
        abort();
    close(fd);
}

static void clean(void)
{
    const char *names[] = {"00000000000000000001.seg", "00000000000000000002.seg",
                           "00000000000000000001.idx", "00000000000000000002.idx",
                           "00000000000000000003.seg", "LOCK"};
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
}

/* Reads everything; returns the record count or -1 on a broken invariant. */
static long read_all(struct tr_log *log, uint64_t *sum)
{
    struct tr_log_reader *r;
    struct tr_log_reader_options o = {.from = TR_LOG_FROM_START};
    if (tr_log_reader_alloc(log, &o, &r, NULL) != 0)
        return -1;
    struct tr_log_record rec;
    long n = 0;
    uint64_t expect = tr_log_first_lsn(log);
    int rc;
    while ((rc = tr_log_reader_next(r, &rec, NULL)) == 1) {
        if (rec.lsn != expect++ || rec.stream_len == 0 || rec.stream_len > TR_LOG_STREAM_MAX)
            abort();
        *sum += rec.seq ^ (uint64_t)rec.ts_ns ^ rec.payload_len;
        n++;
    }
    tr_log_reader_free(r);
    return rc < 0 ? -(long)1000 + rc : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_log_segment_%d", (int)getpid());
        mkdir(dir, 0755);
        atexit(remove_dir);
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    uint8_t hdr[SEG_HDR_SIZE];
    seg_header_encode(hdr, 1, 1, 0);
    clean();
    write_file("00000000000000000001.seg", hdr, (mode & 1) ? sizeof hdr : 0, data, size);
    int sealed_valid = 0;
    if (mode & 2) {
        /* Sealed segment 1, then an empty segment 2 starting right after
         * the records of segment 1's valid prefix. If that prefix is not
         * the whole file, open must refuse with TR_ECORRUPT. */
        size_t len = ((mode & 1) ? sizeof hdr : 0) + size;
        uint8_t *img = malloc(len ? len : 1);
        if (mode & 1)
            memcpy(img, hdr, sizeof hdr);
        if (size)
            memcpy(img + ((mode & 1) ? sizeof hdr : 0), data, size);
        struct seg sg = {0};
        uint64_t id, first = 1, good = 0;
        if (seg_header_decode(img, len, &id, &first, NULL) == 0 && id == 1) {
            sg.first_lsn = first;
            sealed_valid = seg_scan(img, len, &sg, NULL, NULL, &good, NULL) == 0 && good == len;
        } else {
            sg.last_lsn = 0;
        }
        free(sg.blocks);
        free(img);
        uint8_t h2[SEG_HDR_SIZE];
        seg_header_encode(h2, 2, sg.last_lsn + 1 ? sg.last_lsn + 1 : 1, 0);
        write_file("00000000000000000002.seg", h2, sizeof h2, NULL, 0);
    }
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.sync = TR_LOG_SYNC_NONE;
    o.fs = &fz_fs;
    o.recompress_level = 0; /* deterministic: no background rewrite between the opens */
    struct tr_log *log;
    struct tr_error err;
    int rc = tr_log_open(&log, dir, &o, &err);
    if ((mode & 2) && sealed_valid != (rc == 0))
        abort(); /* a damaged sealed segment must be refused, a valid one taken */
    if (rc == 0) {
        uint64_t s1 = 0, s2 = 0;
        long n1 = read_all(log, &s1);
        tr_log_close(log, NULL);
        /* Recovery is idempotent: the same records again. */
        if (tr_log_open(&log, dir, &o, &err) != 0)
            abort();
        long n2 = read_all(log, &s2);
        if (n1 >= 0 && (n1 != n2 || s1 != s2))
            abort();
        tr_log_close(log, NULL);
    }
    clean();
    return 0;
}
