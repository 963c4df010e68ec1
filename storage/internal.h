/* Internal structures of the durable log shared by the storage/ sources: the
 * on-disk format constants (documented byte by byte in segment.c and
 * docs/storage.md), the in-memory index, and the log object. */
#ifndef TR_STORAGE_INTERNAL_H
#define TR_STORAGE_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickraft/error.h"
#include "tickraft/log.h"

/* ---- on-disk format (all integers little-endian) ---- */
#define SEG_MAGIC "TRLOGSEG"
#define IDX_MAGIC "TRLOGIDX"
#define FORMAT_VERSION 1u
#define SEG_HDR_SIZE 64
#define BLK_MAGIC 0x4b424c54u /* "TLBK" read as little-endian u32 */
#define BLK_HDR_SIZE 40
#define REC_HDR_SIZE 26   /* len u32, crc u32, seq u64, ts i64, key_len u16 */
#define IDX_HDR_SIZE 72
#define IDX_BLK_SIZE 40
#define IDX_POINT_SIZE 32
#define CODEC_NONE 0
#define CODEC_LZ4 1
#define BLK_RAW_MAX (64u << 20) /* a block never holds more than this */
#define SEG_FLAGS_OFF 40        /* segment header: u32 flags */
#define SEG_FLAG_RECOMPRESSED 1u /* rewritten by the recompressor (recompress.c) */
#define IDX_SEGFLAGS_OFF 60     /* index header: the segment header flags it describes */

static inline void put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32);
}

/* Grows a byte buffer to hold at least `need` bytes, doubling from `first`
 * (its capacity when empty) so that repeated appends stay amortised O(1).
 * Returns 0 or TR_ENOMEM (the buffer is then unchanged). */
static inline int buf_grow(uint8_t **p, size_t *cap, size_t need, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : first;
    while (c < need)
        c *= 2;
    uint8_t *np = realloc(*p, c);
    if (!np)
        return TR_ENOMEM;
    *p = np;
    *cap = c;
    return 0;
}

/* The errnos that mean "no room": reported as TR_ENOSPACE, which promises
 * the caller that nothing of the failed write was stored. */
static inline int errno_is_space(int e)
{
    return e == ENOSPC || e == EFBIG || e == EDQUOT;
}

/* ---- in-memory index ---- */
struct blk {               /* one block of a segment */
    uint64_t off;          /* offset of its header in the segment file */
    uint64_t first_lsn;
    uint32_t n;            /* records */
    uint32_t len;          /* header + stored payload bytes */
    int64_t min_ts, max_ts;
};

struct seg {
    uint64_t id;
    uint64_t first_lsn;    /* from the header; last_lsn = first_lsn - 1 when empty */
    uint64_t last_lsn;
    uint64_t size;         /* bytes of valid data in the file */
    uint64_t raw_bytes;    /* uncompressed bytes of its blocks */
    int64_t min_ts, max_ts;
    int sealed;
    uint32_t flags;        /* segment header flags (SEG_FLAG_*) */
    uint32_t gen;          /* bumped each time the file is replaced (recompression) */
    int rc_skip;           /* recompressor: leave alone (damaged, or failed this session) */
    struct blk *blocks;
    size_t n_blocks, cap_blocks;
};

struct point {             /* sparse index: a record of a stream */
    uint64_t seq;
    int64_t ts;
    uint64_t lsn;
};

struct stream {
    char *key;
    uint16_t len;
    uint64_t hash;
    struct point *pts;
    size_t n_pts, cap_pts;
    uint64_t since_point;  /* records since the last point */
    uint64_t last_seg;     /* segment id of the last point */
};

struct index {
    struct stream **tab;   /* open addressing, power of two */
    size_t cap, n;
    uint64_t n_points;
};

/* A record parsed out of a raw block. */
struct rec_view {
    const char *key;
    uint16_t key_len;
    uint64_t seq;
    int64_t ts;
    const uint8_t *payload;
    uint32_t payload_len;
};

/* ---- the log ---- */
#define MAX_NOTIFY_FDS 16

struct tr_log {
    char *dir;
    struct tr_log_options o;
    const struct tr_log_fs_ops *fs;
    int lock_fd;

    /* mu guards everything readers look at: segments, index, LSNs, state. */
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* committed/durable LSN moved, or state changed */
    pthread_cond_t wcv;         /* written LSN moved (live readers wait here), or closing */
    struct seg *segs;
    size_t n_segs, cap_segs;
    struct index idx;
    uint64_t first_lsn;         /* oldest kept */
    uint64_t written_lsn;       /* last LSN in the file */
    uint64_t durable_lsn;
    int64_t durable_at_ns;      /* when durable_lsn last advanced (realtime) */
    uint64_t committed_lsn;
    int sync_err;               /* sticky TR_EIO after a failed fsync */
    int nospace;                /* last write hit ENOSPC */
    int closing;
    int notify_fds[MAX_NOTIFY_FDS];
    uint64_t truncated_bytes, rebuilt, syncs;

    /* wmu guards the writer state below (append thread and sync thread). */
    pthread_mutex_t wmu;
    int fd;                     /* active segment, write side */
    uint64_t next_lsn;          /* LSN of the next appended record */
    uint8_t *raw;               /* records not yet written, framed */
    size_t raw_len, raw_cap;
    uint64_t raw_first_lsn;     /* LSN of the first record in raw */
    struct cut {                /* where a full block ends in raw */
        size_t off;
        uint64_t next_lsn;      /* LSN after the block's last record */
    } *cuts;
    size_t n_cuts, cap_cuts;
    struct pend {               /* blocks of one write_raw call */
        size_t raw_off, raw_len, out_off, out_len;
        uint64_t first_lsn;
        uint32_t n;
    } *pend;
    size_t cap_pend;
    int sync_stop;
    uint64_t last_sync_ns;      /* monotonic */
    uint8_t *out;               /* compression output */
    size_t out_cap;
    void *hc_state;             /* LZ4HC state when compression_level > 0 */
    uint64_t unsynced_bytes;
    /* Live readers (reader.c). They see every appended record: one that
     * finds records appended but still in raw (the writer's partial block)
     * writes them itself (live_pull), so blocks stay as large as the
     * reader's pace allows; one waiting for records counts in live_waiting,
     * and an append that sees it wakes it (wcv). appended_lsn mirrors
     * next_lsn - 1 (stored under wmu after an append succeeded). */
    atomic_uint live_waiting;
    atomic_uint_fast64_t appended_lsn;
    /* prezero.c: zeros written ahead of the active segment (wmu) */
    uint64_t zeroed_to;         /* file offset the zeros reach; 0 = none */
    int pz_on;                  /* usable here: real fs ops, not tmpfs, writable */
    int pz_failed;              /* a zero write failed: off until the next segment */

    /* sync_mu is held around an fsync of the active fd, so a roll never
     * closes the fd under the sync thread. Order: wmu, then sync_mu. */
    pthread_mutex_t sync_mu;
    struct sync_worker {        /* sync.c: one per sync thread */
        struct tr_log *log;
        pthread_t th;
        int fd;                 /* own fd on segment seg_id (sync_threads > 1), -1 = none */
        uint64_t seg_id;
    } sync_w[TR_LOG_SYNC_THREADS_MAX];
    unsigned n_sync;            /* sync threads running */
    unsigned sync_idle;         /* of which waiting for work (wmu) */
    uint64_t sync_started_lsn;  /* highest LSN an fsync was started for (wmu) */
    uint64_t active_id;         /* id of the active segment, i.e. of fd (wmu) */
    pthread_cond_t sync_cv;     /* wakes a sync thread (with wmu) */

    /* Background recompression of sealed segments (recompress.c); its
     * state is guarded by mu. */
    pthread_t rc_thread;
    int rc_running, rc_stop;
    pthread_cond_t rc_cv;       /* wakes the recompressor (with mu) */
    uint64_t rc_busy;           /* segment id being rewritten, 0 = none */
    uint64_t rc_done, rc_failed, rc_kept, rc_saved_bytes, rc_deferred;
    int rc_low_space;           /* waiting for free space (recompress.c) */
    char rc_error[512];         /* the last failure, for tr_log_stats */
};

/* ---- crc ---- */
#include "crc32c.h"

/* ---- segment.c: files and blocks ---- */
void seg_path(const struct tr_log *log, uint64_t id, const char *ext, char *buf, size_t cap);
/* Encodes a segment header into hdr[SEG_HDR_SIZE] (flags 0). */
void seg_header_encode(uint8_t *hdr, uint64_t id, uint64_t first_lsn, int64_t created_ns);
/* 0 or TR_ECORRUPT/TR_EVERSION with a message. */
int seg_header_decode(const uint8_t *hdr, size_t len, uint64_t *id, uint64_t *first_lsn,
                      struct tr_error *err);
/* Sets the header's flags field and its CRC again. */
void seg_header_set_flags(uint8_t *hdr, uint32_t flags);
static inline uint32_t seg_header_flags(const uint8_t *hdr) { return get_le32(hdr + SEG_FLAGS_OFF); }
/* Frames one record at `dst` (REC_HDR_SIZE + key + payload bytes). */
size_t rec_encode(uint8_t *dst, const struct tr_log_record *r, size_t key_len);
/* Parses and checks the record at raw+off; 0 and *next, or TR_ECORRUPT. */
int rec_decode(const uint8_t *raw, size_t len, size_t off, struct rec_view *v, size_t *next,
               struct tr_error *err);
/* Compresses raw[0..n) into out as one block (header + payload); returns the
 * block's length. `out` must hold block_bound(n). */
size_t block_encode(uint8_t *out, const uint8_t *raw, size_t n, uint64_t first_lsn, uint32_t n_recs,
                    int level, void *hc_state);
size_t block_bound(size_t n);
/* Checks a block header at p (len bytes available). 0 or TR_ECORRUPT. */
struct blk_hdr {
    uint64_t first_lsn;
    uint32_t n, raw_len, stored_len, payload_crc;
    uint8_t codec;
};
int block_header_decode(const uint8_t *p, size_t len, struct blk_hdr *h, struct tr_error *err);
/* Verifies the payload CRC and decompresses into raw (cap >= h->raw_len). */
int block_payload_decode(const struct blk_hdr *h, const uint8_t *payload, uint8_t *raw,
                         struct tr_error *err);

/* Visitor for scans: called per record with its LSN; non-zero stops. */
typedef int (*rec_visit_fn)(void *arg, const struct rec_view *v, uint64_t lsn);
/* Scans a whole segment image (buf, len), filling `s` (blocks, lsns, ts) and
 * calling `visit` per record. Stops at the first defect: *good_len gets
 * the length of the valid prefix and the return is TR_ECORRUPT with a
 * message (strict callers report it; the tail scan truncates there). */
int seg_scan(const uint8_t *buf, size_t len, struct seg *s, rec_visit_fn visit, void *arg,
             uint64_t *good_len, struct tr_error *err);
int seg_add_block(struct seg *s, const struct blk *b);
/* Reads a whole file into a heap buffer. */
int read_file(const char *path, uint8_t **buf, size_t *len, struct tr_error *err);

/* ---- index.c ---- */
void index_init(struct index *ix);
void index_free(struct index *ix);
struct stream *index_find(struct index *ix, const char *key, size_t len);
struct stream *index_get(struct index *ix, const char *key, size_t len); /* creates */
/* Records one record in the sparse index (adds a point when due). */
int index_note(struct index *ix, uint32_t every, uint64_t seg_id, const char *key, size_t len,
               uint64_t seq, int64_t ts, uint64_t lsn);
/* Drops points with lsn < first_lsn. */
void index_trim(struct index *ix, uint64_t first_lsn);
/* Last point of `st` with seq <= target (or ts <= target); NULL if none. */
const struct point *stream_seek_seq(const struct stream *st, uint64_t seq);
const struct point *stream_seek_ts(const struct stream *st, int64_t ts);
/* Writes / loads the per-segment index file (seg id `s->id`). */
int idx_write(struct tr_log *log, const struct seg *s, struct tr_error *err);
/* The same in two steps, for the recompressor: build the image while
 * holding mu (it reads the shared index), write it without. *img is heap. */
int idx_image(struct tr_log *log, const struct seg *s, uint8_t **img, size_t *len);
int idx_write_image(struct tr_log *log, uint64_t id, const uint8_t *img, size_t len,
                    struct tr_error *err);
int idx_load(struct tr_log *log, struct seg *s, uint64_t file_size, struct tr_error *err);

/* ---- log.c / sync.c ---- */
/* Locates the block holding `lsn`: fills *seg_id and *b. 0, TR_ENOTFOUND
 * (before the first kept LSN), TR_EAGAIN (not written yet). Caller holds mu. */
int locate_block(struct tr_log *log, uint64_t lsn, uint64_t *seg_id, struct blk *b);
/* Index of segment `id` in log->segs, or -1. Caller holds mu. */
long seg_find(const struct tr_log *log, uint64_t id);
/* Marks LSNs committed/durable, wakes waiters, notifies (takes mu itself). */
void publish_lsns(struct tr_log *log, uint64_t written, uint64_t durable, int synced);
int sync_start(struct tr_log *log, struct tr_error *err);
void sync_stop(struct tr_log *log);
/* Whether an append should wake a sync thread (one waits for work, or
 * group_commit_bytes is reached); caller holds wmu. The wake itself,
 * sync_kick, is done after releasing wmu: a woken sync thread (running at
 * once on the other CPU, or preempting the writer under latency_sched)
 * would otherwise block on wmu straight away and be woken a second time.
 * No wake is lost: a sync thread decides to wait under wmu, so the
 * append that made the log dirty happened either before (it sees it) or
 * after it waits (the signal reaches it). */
int sync_kick_wanted(struct tr_log *log);
void sync_kick(struct tr_log *log);
/* Writes raw[0..upto) as blocks at the end of the active segment. Caller
 * holds wmu. On failure the file is cut back and raw is left untouched. */
int write_raw(struct tr_log *log, size_t upto, struct tr_error *err);
int do_fsync(struct tr_log *log, int fd, struct tr_error *err);
/* Live readers: writes whatever the writer holds in raw (its partial
 * block) to the file, so records appended so far become readable. Takes
 * wmu; any thread. A failure is left for the writer to see (as the sync
 * thread's write would be). */
void live_pull(struct tr_log *log);
/* prezero.c. All but prezero_usable: caller holds wmu (or owns the log). */
int prezero_usable(const char *dir); /* 1 unless the directory is on tmpfs/ramfs */
void prezero_ahead(struct tr_log *log); /* after an fsync: extend the zeros by a chunk */
int prezero_cut(struct tr_log *log);    /* cut the active file back to its data; -errno */
void prezero_reset(struct tr_log *log); /* forget the zeros (the file was cut or replaced) */
int64_t now_realtime_ns(void);
int fsync_dir(const char *dir);
/* ---- recompress.c ---- */
int rc_start(struct tr_log *log, struct tr_error *err);
void rc_stop(struct tr_log *log);
void rc_kick(struct tr_log *log); /* a segment was sealed; caller holds mu */
/* Read-only logs: re-scans segs[i] from `fd` after another process
 * replaced the file, and swaps its block table. Caller holds mu. */
int seg_reload_locked(struct tr_log *log, size_t i, int fd, struct tr_error *err);
/* Creates segment file `id` (header fsynced) and appends it to the table;
 * *fd gets its write fd. */
int seg_create_add(struct tr_log *log, uint64_t id, uint64_t first_lsn, int *fd,
                   struct tr_error *err);

#endif
