/* Helpers shared by the durable-log tests: temporary directories,
 * deterministic record contents derived from the LSN, and a fault-injecting
 * filesystem-ops table (countdown ENOSPC on pwrite, failing fsync). */
#ifndef TEST_LOG_UTIL_H
#define TEST_LOG_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tickraft/log.h"

static inline char *tl_mkdtemp(void)
{
    char *t = strdup("/tmp/tr_log_test_XXXXXX");
    if (!mkdtemp(t)) {
        perror("mkdtemp");
        exit(1);
    }
    return t;
}

/* Removes a flat directory (the log never makes subdirectories). */
static inline void tl_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Number of *.tmp files in a flat directory. */
static inline int tl_count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        n += l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0;
    }
    if (d)
        closedir(d);
    return n;
}

/* Deterministic content of the record with LSN `lsn` (tests append records
 * in LSN order from 1, so a reader can check each record it gets). */
struct tl_rec {
    char key[32];
    uint8_t payload[300];
    struct tr_log_record r;
};

static inline void tl_make(struct tl_rec *t, uint64_t lsn)
{
    snprintf(t->key, sizeof t->key, "prov/trade/I-%u", (unsigned)(lsn % 7));
    size_t n = 16 + (size_t)((lsn * 31) % 200);
    for (size_t j = 0; j < n; j++)
        t->payload[j] = (uint8_t)(lsn * 7 + j + (j >= 8 ? 0 : lsn >> (8 * j)));
    t->r = (struct tr_log_record){.stream = t->key, .seq = lsn, .ts_ns = (int64_t)lsn * 1000,
                                  .payload = t->payload, .payload_len = n};
}

/* 1 if `rec` is exactly what tl_make(rec->lsn) would produce. */
static inline int tl_check(const struct tr_log_record *rec)
{
    struct tl_rec t;
    tl_make(&t, rec->lsn);
    return rec->stream_len == strlen(t.key) && memcmp(rec->stream, t.key, rec->stream_len) == 0 &&
           rec->seq == t.r.seq && rec->ts_ns == t.r.ts_ns && rec->payload_len == t.r.payload_len &&
           memcmp(rec->payload, t.payload, rec->payload_len) == 0;
}

/* Appends records first..last (LSN order) in batches of `batch`. */
static inline int tl_append_range(struct tr_log *log, uint64_t first, uint64_t last, size_t batch,
                                  struct tr_error *err)
{
    struct tl_rec *t = calloc(batch, sizeof *t);
    struct tr_log_record *rs = calloc(batch, sizeof *rs);
    int rc = 0;
    for (uint64_t l = first; l <= last && rc == 0;) {
        size_t n = 0;
        for (; n < batch && l <= last; n++, l++) {
            tl_make(&t[n], l);
            rs[n] = t[n].r;
        }
        uint64_t got = 0;
        rc = tr_log_append_many(log, rs, n, &got, err);
        if (rc == 0 && got != l - 1)
            rc = -1000;
    }
    free(t);
    free(rs);
    return rc;
}

/* Reads every committed record from the start; returns the count, or a
 * negative error; *bad counts records that are not what tl_make says or
 * out of LSN order. */
static inline long tl_read_all(struct tr_log *log, uint64_t *last_lsn, long *bad, struct tr_error *err)
{
    struct tr_log_reader *r;
    struct tr_log_reader_options o = {.from = TR_LOG_FROM_START};
    if (last_lsn)
        *last_lsn = 0;
    *bad = 0;
    int rc = tr_log_reader_alloc(log, &o, &r, err);
    if (rc)
        return rc;
    struct tr_log_record rec;
    long n = 0;
    uint64_t expect = tr_log_first_lsn(log);
    *bad = 0;
    while ((rc = tr_log_reader_next(r, &rec, err)) == 1) {
        if (rec.lsn != expect || !tl_check(&rec))
            (*bad)++;
        expect = rec.lsn + 1;
        n++;
    }
    if (last_lsn)
        *last_lsn = expect - 1;
    tr_log_reader_free(r);
    return rc < 0 ? rc : n;
}

/* ---- fault-injecting filesystem ops ---- */
struct tl_faults {
    struct tr_log_fs_ops ops;
    int nospace;          /* pwrite: write half, then fail with ENOSPC */
    int fail_fsync;       /* fsync fails with EIO */
    long pwrite_countdown;/* >0: this many pwrites succeed, then nospace turns on */
    long fsyncs, pwrites;
};

static inline int tlf_open(void *ctx, const char *p, int flags, mode_t mode)
{
    return tr_log_fs_default()->open(NULL, p, flags, mode);
}
static inline ssize_t tlf_pwrite(void *ctx, int fd, const void *b, size_t n, off_t off)
{
    struct tl_faults *f = ctx;
    f->pwrites++;
    if (f->pwrite_countdown > 0 && --f->pwrite_countdown == 0)
        f->nospace = 1;
    if (f->nospace) {
        if (n > 1) {
            ssize_t w = tr_log_fs_default()->pwrite(NULL, fd, b, n / 2, off);
            if (w > 0)
                return w; /* a short write; the retry then fails */
        }
        return -ENOSPC;
    }
    return tr_log_fs_default()->pwrite(NULL, fd, b, n, off);
}
static inline int tlf_fsync(void *ctx, int fd)
{
    struct tl_faults *f = ctx;
    f->fsyncs++;
    return f->fail_fsync ? -EIO : tr_log_fs_default()->fsync(NULL, fd);
}
static inline int tlf_ftruncate(void *ctx, int fd, off_t len)
{
    return tr_log_fs_default()->ftruncate(NULL, fd, len);
}
static inline void tl_faults_init(struct tl_faults *f)
{
    memset(f, 0, sizeof *f);
    f->ops = (struct tr_log_fs_ops){TR_LOG_FS_OPS_VERSION, f, tlf_open, tlf_pwrite, tlf_fsync,
                                    tlf_ftruncate};
}

#endif
