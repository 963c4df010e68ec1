/* The durable log: a segmented, append-only, CRC-checked, LZ4-compressed
 * record log in one data directory (storage/, docs/storage.md).
 *
 * A record is (stream key, seq, ts_ns, payload). The payload is opaque here;
 * the node stores msgpack-encoded tr_event there. Every appended record gets
 * a log sequence number (LSN): 1, 2, 3, ... without holes. The log tells the
 * caller when a record is durable (on disk after fsync) three ways: the
 * durable LSN (tr_log_durable_lsn, tr_log_wait_durable), an optional
 * callback, and notification eventfds a libuv loop can poll.
 *
 * Threads: one writer thread calls the append functions; any number of
 * threads may read through their own readers at the same time. In group
 * commit mode the log runs one sync thread of its own. */
#ifndef TICKRAFT_LOG_H
#define TICKRAFT_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tickraft/error.h"

struct tr_log;
struct tr_log_reader;

/* ---- filesystem operations (swappable for fault injection in tests) ----
 * Each returns >= 0 on success or -errno. Reads, renames and unlinks go to
 * libc directly: the faults that matter (full disk, failed fsync) are on
 * these four. They are called from the writer's thread, the group-commit
 * sync thread and the recompression thread, possibly at the same time. */
#define TR_LOG_FS_OPS_VERSION 1
struct tr_log_fs_ops {
    int version; /* TR_LOG_FS_OPS_VERSION */
    void *ctx;   /* passed back to every call */
    int (*open)(void *ctx, const char *path, int flags, mode_t mode); /* fd */
    ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t n, off_t off);
    int (*fsync)(void *ctx, int fd); /* fdatasync semantics are enough */
    int (*ftruncate)(void *ctx, int fd, off_t len);
};
/* The libc implementation (static, never freed). */
const struct tr_log_fs_ops *tr_log_fs_default(void);

/* ---- options ---- */
#define TR_LOG_SYNC_THREADS_MAX 4
enum tr_log_sync {
    TR_LOG_SYNC_NONE = 0,  /* never fsync on append (close still syncs) */
    TR_LOG_SYNC_EVERY = 1, /* fsync inside every append call */
    TR_LOG_SYNC_GROUP = 2, /* a sync thread fsyncs every window / M bytes (or at once: window 0) */
};

/* Called from the thread that completed an fsync (the sync thread, or the
 * appending thread in EVERY mode and in tr_log_flush) with no lock held,
 * each time the durable LSN advances. It may run just after waiters in
 * tr_log_wait_durable have woken, and, when tr_log_flush races the sync
 * thread, two calls may arrive out of order: keep the maximum. Must be
 * quick; it may call only tr_log_durable_lsn / tr_log_committed_lsn (the
 * writer lock may be held: anything else can deadlock). */
typedef void (*tr_log_durable_cb)(void *arg, uint64_t durable_lsn);

struct tr_log_options {
    int sync;                    /* enum tr_log_sync; default GROUP */
    uint32_t group_commit_ms;    /* window; default 2. 0 = leader/follower commit: fsync as soon
                                  * as anything is unsynced, appends made during one fsync go
                                  * into the next (durable in ~1-2 fsyncs, smaller blocks) */
    uint64_t group_commit_bytes; /* sync early past this many unsynced bytes; default 8 MiB */
    uint64_t segment_bytes;      /* roll segments past this size; default 64 MiB */
    uint64_t prezero_bytes;      /* zeros kept written ahead of the active segment's end, so an
                                  * fsync after an append commits no file size (faster, see
                                  * docs/storage.md); default 4 MiB, 0 = off. Cut at seal and
                                  * close; off on tmpfs and with custom fs ops */
    uint32_t sync_threads;       /* GROUP mode: fsyncs that may run at once (1..
                                  * TR_LOG_SYNC_THREADS_MAX, default 1). With 2, a record
                                  * appended while an fsync runs gets its own fsync at once on
                                  * a second thread (own fd) instead of waiting for the one in
                                  * flight to return: see docs/storage.md "Overlapping syncs" */
    uint32_t block_bytes;        /* uncompressed bytes per block; default 64 KiB */
    uint32_t index_every;        /* a sparse index point per N records of a stream; default 64 */
    int compression_level;       /* 0 = LZ4 fast (default); 1..12 = LZ4HC level: smaller, slower
                                  * to write (about 3.2x vs 2.7x on trades at level 2, 4-5x
                                  * slower), same read speed and format */
    int recompress_level;        /* background recompression of sealed segments with LZ4HC at
                                  * this level, re-cut into full blocks (default 4: ~3.3x vs
                                  * 2.7x on trades, off the writer's path); 0 = off. Never in
                                  * read-only opens. See docs/storage.md. */
    uint64_t recompress_bytes_per_s; /* pace of the rewrites' writes (default 8 MiB/s, so the
                                  * disk keeps gaps for the log's fsyncs); 0 = unpaced */
    uint64_t retain_bytes;       /* drop oldest sealed segments past this total; 0 = keep */
    int64_t retain_age_ns;       /* drop sealed segments whose newest record ts is older; 0 = keep */
    int verify_sealed;           /* open: check the CRC of every sealed block (no decompression) */
    int no_create;               /* open: fail with TR_ENOTFOUND if the directory is missing */
    int read_only;               /* open without the lock and without changing any file: a
                                  * torn tail is skipped in memory, not cut; appends, flush
                                  * and retain give TR_EPERM. A snapshot as of open, for
                                  * tools reading a live node's log (a writer may run). */
    tr_log_durable_cb durable_cb;
    void *durable_arg;
    /* optional: called first thing on each of the log's sync threads (not the
     * recompressor) with `role` "sync" and the thread's number, e.g. to name
     * it or raise its scheduling priority; NULL = nothing */
    void (*thread_cb)(void *arg, const char *role, unsigned n);
    void *thread_arg;
    const struct tr_log_fs_ops *fs; /* NULL = tr_log_fs_default(); borrowed, must outlive the log */
};
/* Fills `o` with the defaults above. */
void tr_log_options_init(struct tr_log_options *o);

/* ---- records ---- */
#define TR_LOG_STREAM_MAX 255             /* bytes in a stream key */
#define TR_LOG_PAYLOAD_MAX (16u << 20)    /* bytes in one payload */

struct tr_log_record {
    const char *stream;  /* key, e.g. "coinbase/trade/BTC-USD" (not NUL-terminated on read) */
    size_t stream_len;   /* append: 0 means strlen(stream) */
    uint64_t seq;        /* the stream's native sequence */
    int64_t ts_ns;       /* event time, ns since the Unix epoch */
    const void *payload; /* opaque bytes */
    size_t payload_len;
    uint64_t lsn;        /* set by readers; ignored by append */
};

/* ---- open / close ---- */
/* Opens (creating if needed) the log in directory `dir` and recovers it:
 * sealed segments are loaded from their index files (rebuilt by scanning
 * when missing), the last segment is scanned and a torn or corrupt tail is
 * truncated. Returns 0 and a heap log in *out (free with tr_log_close), or
 * TR_ECORRUPT (a sealed segment is damaged: nothing is repaired), TR_EBUSY
 * (another process has the log open), TR_EIO, TR_ENOSPACE, TR_ENOMEM,
 * TR_EINVAL (bad options). `opts` may be NULL (defaults); it is copied. */
int tr_log_open(struct tr_log **out, const char *dir,
                const struct tr_log_options *opts, struct tr_error *err);

/* Stops the sync thread, writes and fsyncs what is buffered, closes files
 * and frees the log. Readers must be freed, notification fds closed and no
 * other thread may be inside a tr_log call (e.g. a wait) any more. Returns
 * 0 or the error of the final sync (the log is freed either way). NULL is a
 * no-op. */
int tr_log_close(struct tr_log *log, struct tr_error *err);

/* ---- append (writer thread only) ---- */
/* Appends `n` records as one unit: either all get LSNs (the last one in
 * *last_lsn, the first is *last_lsn - n + 1) or none does. Records are
 * copied; the caller keeps ownership of `recs`. In EVERY mode they are
 * durable when the call returns 0; in GROUP mode when tr_log_durable_lsn()
 * reaches their LSN (at most about group_commit_ms later, or one to two
 * fsyncs later with group_commit_ms = 0); in NONE mode
 * never guaranteed. Errors: TR_EINVAL / TR_ETOOBIG (a bad record; nothing
 * appended), TR_ENOSPACE (disk full; nothing of this call appended, the log
 * stays readable, retry later), TR_EIO (an fsync failed: the log refuses
 * further appends and must be reopened). */
int tr_log_append_many(struct tr_log *log, const struct tr_log_record *recs,
                       size_t n, uint64_t *last_lsn, struct tr_error *err);
/* One record; same contract. */
int tr_log_append(struct tr_log *log, const struct tr_log_record *rec,
                  uint64_t *lsn, struct tr_error *err);

/* Writes buffered records and fsyncs now, in any mode; on return 0 every
 * record appended so far is durable. Writer thread only. */
int tr_log_flush(struct tr_log *log, struct tr_error *err);

/* ---- durability and notification ---- */
/* Highest LSN known durable (0 = none). Any thread. */
uint64_t tr_log_durable_lsn(struct tr_log *log);
/* The same, and in *at_ns when it last advanced (CLOCK_REALTIME, ns; 0 =
 * never): the moment the fsync that made it durable returned, for latency
 * figures that should not include the waiter's own wake-up. Any thread. */
uint64_t tr_log_durable_lsn_at(struct tr_log *log, int64_t *at_ns);
/* Highest LSN readers can see: the durable LSN in EVERY/GROUP mode, the
 * last LSN written to the file in NONE mode. Readers never see records
 * that a crash could take back (except in NONE mode). Any thread. */
uint64_t tr_log_committed_lsn(struct tr_log *log);
/* Highest LSN in the segment file (written by pwrite, readable through the
 * page cache), durable or not: what live readers see. Any thread. */
uint64_t tr_log_written_lsn(struct tr_log *log);
/* Blocks until records past after_lsn have been appended (new records for
 * live readers, which write the writer's partial block themselves when
 * they reach it). 0, TR_ETIMEDOUT, TR_ECLOSED. */
int tr_log_wait_appended(struct tr_log *log, uint64_t after_lsn, int timeout_ms);
/* Highest LSN handed out by append (0 = empty log). */
uint64_t tr_log_last_lsn(struct tr_log *log);
/* LSN of the oldest record still kept (retention moves it forward). */
uint64_t tr_log_first_lsn(struct tr_log *log);

/* Blocks until the durable LSN is >= lsn. 0, TR_ETIMEDOUT (timeout_ms < 0
 * waits forever), TR_EIO (the sync failed: it will never be durable in this
 * log object), TR_ENOSPACE (the disk is full and the records are still in
 * memory: retry after freeing space). */
int tr_log_wait_durable(struct tr_log *log, uint64_t lsn, int timeout_ms);
/* Blocks until the committed LSN is > after_lsn (new records for readers).
 * 0, TR_ETIMEDOUT, TR_ECLOSED (the log is closing). */
int tr_log_wait_committed(struct tr_log *log, uint64_t after_lsn, int timeout_ms);

/* A non-blocking eventfd that becomes readable whenever the committed LSN
 * advances (read 8 bytes to reset it), for a libuv poll handle. The log
 * owns it; release with tr_log_notify_fd_close. At most 16 at once:
 * TR_EOVERLOADED past that. */
int tr_log_notify_fd_open(struct tr_log *log, int *fd, struct tr_error *err);
void tr_log_notify_fd_close(struct tr_log *log, int fd);

/* ---- retention ---- */
/* Drops whole oldest sealed segments while the total size exceeds
 * retain_bytes or their newest record is older than now_ns - retain_age_ns.
 * The active segment is never dropped. Also run after each segment roll
 * with the real-time clock. *dropped (may be NULL) gets the segment count. */
int tr_log_retain(struct tr_log *log, int64_t now_ns, unsigned *dropped,
                  struct tr_error *err);

/* Blocks until the background recompressor has nothing left to do (every
 * sealed segment rewritten or given up, or it waits for free disk space).
 * 0, TR_ETIMEDOUT, TR_EINVAL
 * (recompression is off). Any thread; for tests and benchmarks. */
int tr_log_wait_recompressed(struct tr_log *log, int timeout_ms);

/* ---- verification and figures ---- */
/* Reads every block of every segment up to the committed LSN and checks
 * header and payload CRCs, decompression and record CRCs. 0 or TR_ECORRUPT
 * naming segment and offset. Any thread. */
int tr_log_verify(struct tr_log *log, struct tr_error *err);

struct tr_log_stats {
    uint64_t first_lsn, last_lsn, committed_lsn, durable_lsn;
    uint64_t written_lsn;     /* in the segment file, durable or not (live readers) */
    uint64_t segments;        /* files, including the active one */
    uint64_t disk_bytes;      /* bytes in segment files */
    uint64_t raw_bytes;       /* uncompressed block bytes on disk */
    uint64_t streams;         /* distinct stream keys indexed */
    uint64_t index_points;    /* sparse index points in memory */
    uint64_t recovered_truncated_bytes; /* torn tail cut off at open */
    uint64_t rebuilt_indexes; /* sealed segments scanned at open (index missing/stale) */
    uint64_t syncs;           /* fsyncs done since open */
    int nospace;              /* 1 while the last write failed for lack of space */
    uint64_t recompressed;    /* sealed segments rewritten since open */
    uint64_t recompress_failed; /* rewrites given up (damaged segment, full disk, ...) */
    uint64_t recompress_kept; /* rewrites discarded because they were not smaller */
    uint64_t recompress_deferred; /* times rewrites waited for free space (< segment size
                                   * + segment_bytes free: the writer's headroom comes first) */
    int recompress_low_space;     /* 1 while they wait */
    char recompress_error[512]; /* the last rewrite given up, and why ("" = none) */
    uint64_t recompress_saved_bytes; /* disk bytes saved by the rewrites since open */
    uint64_t sealed_rc_disk_bytes, sealed_rc_raw_bytes; /* recompressed sealed segments */
    uint64_t active_disk_bytes, active_raw_bytes;       /* the active segment */
};
void tr_log_stats(struct tr_log *log, struct tr_log_stats *st);

/* ---- readers ---- */
enum tr_log_from {
    TR_LOG_FROM_START = 0, /* oldest kept record */
    TR_LOG_FROM_LSN = 1,   /* first record with lsn >= from.lsn */
    TR_LOG_FROM_SEQ = 2,   /* first record of `stream` with seq >= from.seq */
    TR_LOG_FROM_TIME = 3,  /* first record (of `stream` if set) with ts_ns >= from.ts_ns */
    TR_LOG_FROM_END = 4,   /* only records committed after the reader opens */
};

struct tr_log_reader_options {
    const char *stream; /* only this stream; NULL = every stream in LSN order */
    size_t stream_len;  /* 0 = strlen(stream) */
    int from;           /* enum tr_log_from */
    uint64_t lsn;
    uint64_t seq;
    int64_t ts_ns;
    int live;           /* 1: see every record whose append call returned, durable or not;
                         * a machine crash may take such records back. The writer keeps
                         * the last, partial block of an append in memory; a live reader
                         * that reaches it writes it to the segment file itself (so blocks
                         * are as large as the reader's pace allows) and reads it back
                         * from there (tr_log_written_lsn moves). A live follower is woken
                         * by the append (tr_log_wait_appended).
                         * 0: committed records only (durable in EVERY/GROUP mode). */
};

/* Creates a reader (heap, free with tr_log_reader_free) positioned as asked.
 * Seeking by seq or time uses the sparse index and assumes seq and ts_ns
 * are non-decreasing within a stream. TR_EINVAL (FROM_SEQ without a
 * stream), TR_ENOMEM. `o` is copied. */
int tr_log_reader_alloc(struct tr_log *log, const struct tr_log_reader_options *o,
                        struct tr_log_reader **out, struct tr_error *err);
void tr_log_reader_free(struct tr_log_reader *r);

/* Next record: returns 1 and fills *rec (pointers into the reader's buffer,
 * valid until the next call on this reader), 0 when the reader has caught
 * up with the committed LSN, or TR_ECORRUPT (a block failed its CRC: the
 * record is not returned; the reader stays on it), TR_ENOTFOUND (retention
 * dropped the records the reader was about to read), TR_EIO. */
int tr_log_reader_next(struct tr_log_reader *r, struct tr_log_record *rec,
                       struct tr_error *err);
/* Follower: blocks until records past the reader's position are committed
 * (a live reader: written). 0, TR_ETIMEDOUT, TR_ECLOSED. */
int tr_log_reader_wait(struct tr_log_reader *r, int timeout_ms);
/* LSN the reader will look at next. */
uint64_t tr_log_reader_position(const struct tr_log_reader *r);

#endif
