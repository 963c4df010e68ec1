/* The node's collection pipeline (docs/node.md): provider connections and
 * REST pollers feed a deduplicator that keeps one canonical stream per
 * (provider, kind, instrument) and hands ordered, deduplicated records to
 * the writer, which appends them in batches to the durable log.
 *
 * Everything here runs on one libuv loop and thread (the data path): the
 * lws context sits on that loop as a foreign loop, frames are parsed,
 * deduplicated and appended without crossing threads. The only other
 * thread is the log's group-commit sync thread, whose durability callback
 * wakes the loop through a uv_async. This file is internal to node/. */
#ifndef TR_NODE_PIPE_H
#define TR_NODE_PIPE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tickraft/error.h"
#include "tickraft/event.h"
#include "tickraft/log.h"
#include "tickraft/provider.h"

#include "nsched.h"

struct tr_nlog;
struct tr_histogram;
struct lws;
struct lws_context;

/* ------------------------------------------------------------ config */

#define PIPE_NAME_MAX 48
#define PIPE_MAX_INST 256
/* WebSocket connections per feed: the primary and the incoming one of a
 * rotation (slots 0-1, one connection in max_connections), then overflow
 * connections for markets a subscription limit shed (docs/node.md): slots
 * 2..7, each paired with slot s + PIPE_OVF_PAIR (8..13) that a rotation
 * opens the successor on (the pair counts as one connection, like 0-1) */
#define PIPE_CONN_SLOTS 14
#define PIPE_OVF_PAIR 6

struct pipe_feed_cfg {
    char name[PIPE_NAME_MAX];      /* feed name, unique */
    char provider[PIPE_NAME_MAX];  /* adapter: sim/native, coinbase, binance, kalshi */
    char host[256];                /* WebSocket: IPv4 address (lws resolves names blocking) */
    int port;
    char ws_name[256];             /* its host name as in ws_url: SNI, Host, certificate
                                      check; "" = host */
    int ws_tls;                    /* wss:// */
    char ws_path[512];             /* e.g. "/native" */
    char rest_host[256];           /* REST: IPv4 address; "" = host and port (one server) */
    int rest_port;
    char rest_name[256];           /* as in rest_url; "" = rest_host */
    int rest_tls;                  /* https:// */
    char rest_prefix[512];          /* e.g. "/native"; "" for a real host */
    char ca_file[512];             /* PEM CA bundle of the TLS endpoints ("" = no TLS) */
    char *instruments[PIPE_MAX_INST];
    size_t n_instruments;
    uint32_t channels;             /* TR_CH_* */
    uint32_t backoff_base_ms;      /* WS reconnect: default 1000 */
    uint32_t backoff_max_ms;       /* default 300000 */
    uint32_t registry_backoff_base_ms, registry_backoff_max_ms; /* market registry */
    uint32_t registry_refresh_s;   /* registry refresh period, default 600 */
    uint32_t rest_backoff_base_ms; /* REST retry: default 1000 */
    uint32_t rest_backoff_max_ms;  /* default 60000 */
    uint32_t snapshot_backoff_base_ms, snapshot_backoff_max_ms; /* book snapshots: 1 s .. 1 min */
    uint32_t snapshot_attempts;    /* failed tries before a snapshot is skipped (default 4) */
    uint32_t maint_poll_ms;        /* maintenance: status poll cap / interval without a time (30 s) */
    uint64_t maint_max_ms;         /* maintenance: longest WebSocket hold (default 6 h) */
    uint32_t ping_s, hangup_s;     /* idle ping / hang-up: default 1 / 3 */
    uint32_t rotate_s;             /* make-before-break rotation period, 0 = off */
    uint32_t rotate_overlap_ms;    /* both connections kept this long after the new one subscribed */
    uint32_t max_conns;            /* connections per feed (overflow for shed markets) */
    int backfill_initial;          /* first start: backfill trades from the start */
    int raw_capture;               /* keep frames as received in raw/<feed> (pipe_raw.c) */
};

struct pipe_cfg {
    char path[512];                /* the config file, for messages */
    char data_dir[512];
    uint16_t node_id;
    char http_addr[64];
    int http_port;                 /* 0 = no HTTP endpoint */
    int sync;                      /* enum tr_log_sync, default GROUP */
    uint32_t group_commit_ms;      /* log group-commit window, default 2; 0 = sync at once */
    uint32_t sync_threads;         /* fsyncs at once, 0/1 = one (tr_log_options) */
    struct nsched latency_sched;   /* for the collector, writer and sync threads (nsched.h) */
    struct nsched_log sched_log;   /* the log's thread_cb argument (pipe_log_open) */
    uint64_t group_commit_bytes, segment_bytes, retain_bytes; /* 0 = log default / keep */
    int64_t retain_age_ns;
    uint32_t batch_max;            /* records per append batch, default 4096 */
    uint32_t reorder_max;          /* buffered events per stream, default 100000 */
    uint32_t shutdown_ms;          /* graceful stop bound, default 30 s */
    const char *pub_tls_cert_key;  /* [publish] tls_cert_key_file, borrowed; NULL = none */
    const char *pub_tls_ca;        /* [publish] tls_ca_file, borrowed; NULL = none */
    const struct tr_log_fs_ops *log_fs; /* the log's filesystem; NULL = libc (tests swap it) */
    struct pipe_feed_cfg feeds[64];
    size_t n_feeds;
};

struct tr_config;
/* Fills the pipeline's view of the node configuration (node/config.h);
 * `c` must outlive `cfg` (instrument names are borrowed). Host names are
 * resolved here, before the loop runs (lws resolves blocking). */
int pipe_cfg_from(struct pipe_cfg *cfg, const struct tr_config *c, struct tr_error *err);

/* ------------------------------------------------------------ writer */

/* Log-linear latency histogram, microseconds: values below 32 us exactly,
 * then 32 linear sub-buckets per power of two (a bucket is 1/32 of its
 * power: 32 us wide at 1,024-2,047 us, ~3 %), up to 2^44 us. Finer than
 * the 8 per power it had, which could not tell 990 from 1,020 us (both in
 * [896, 1024) or [1024, 1152)). tests/bench/bench_ingest.c reads the same
 * layout from /api/status. */
#define PIPE_LAT_SUB_BITS 5
#define PIPE_LAT_NB (40u << PIPE_LAT_SUB_BITS)
struct pipe_lat {
    uint64_t b[PIPE_LAT_NB];
    uint64_t n;
};
void pipe_lat_add(struct pipe_lat *h, uint64_t us);
uint64_t pipe_lat_pct(const struct pipe_lat *h, double p);
/* Appends the non-empty buckets as JSON [[bucket,count],...]; bucket b
 * covers [pipe_lat_value(b), pipe_lat_value(b + 1)) us. */
int pipe_lat_json(const struct pipe_lat *h, struct tr_buf *out);
uint64_t pipe_lat_value(size_t bucket);

/* Remote mode (the supervision tree, node/act.h): the collector's writer
 * sends each batch to the writer actor as one message instead of appending
 * it. `send` delivers a message of `type` (PIPE_WMSG_*); sync = 1 waits for
 * the writer's answer (its last LSN in *reply_lsn). `refresh` copies the
 * writer actor's figures (appended, batches, latencies) into w. */
struct pipe_dedup;
#define PIPE_WMSG_BATCH 0x7401u /* records, see pipe_writer.c for the layout */
#define PIPE_WMSG_CKPT  0x7402u /* write DIR/checkpoint once durable */
#define PIPE_WMSG_SYNC  0x7403u /* call: append all, fsync, reply last LSN */
#define PIPE_WMSG_HELLO 0x7404u /* call: new epoch (fences older batches) */
struct pipe_writer;
struct pipe_wremote {
    void *arg;
    int (*send)(void *arg, uint32_t type, const void *p, size_t n, int sync,
                uint64_t *reply_lsn, struct tr_error *err);
    void (*refresh)(void *arg, struct pipe_writer *w);
    /* optional: 1 while the writer still works on a batch sent earlier;
     * the end-of-turn flush then keeps collecting (the owner flushes again
     * when the writer is done) */
    int (*busy)(void *arg);
};

/* Stages of receive-to-durable (struct pipe_writer `stage`). */
enum { PIPE_ST_QUEUE, PIPE_ST_HOP, PIPE_ST_APPEND, PIPE_ST_SYNC, PIPE_ST_NOTIFY, PIPE_ST_N };
extern const char *const pipe_stage_names[PIPE_ST_N];

struct pipe_writer {
    struct tr_log *log;
    const struct pipe_wremote *remote; /* NULL: append here (local mode) */
    struct tr_buf wire;         /* remote: the batch message being built */
    uint64_t next_lsn;          /* remote: LSN the next record sent gets */
    uint64_t epoch;             /* remote: fencing epoch from HELLO */
    uint64_t base_lsn;          /* local: log's last LSN when the batch began */
    uint64_t sent;              /* remote: records handed to the writer actor */
    struct tr_log_record *recs;
    size_t *offs;               /* payload offset in arena per record */
    size_t *koffs;              /* key offset in arena, SIZE_MAX: caller's key */
    size_t n, cap;
    struct tr_buf arena;
    uint32_t batch_max;
    uint64_t appended, batches, append_errors;
    int failed;                 /* TR_EIO from the log: stop the node */
    /* provider-to-durable latency samples: (lsn, provider send time (the
     * frame-sent stamp, else the event time), receive time, event time,
     * and the stage stamps: batch sent by the collector, handled by the
     * writer, appended) */
    struct pipe_samp { uint64_t lsn; int64_t ts, recv, ev, sent, handled, appended; } *samp;
    int64_t cur_sent, cur_handled; /* stamps of the batch message being added */
    size_t samp_head, samp_len, samp_cap;
    uint32_t samp_every, samp_ctr;
    struct pipe_lat lat;        /* provider frame sent (else ts_exchange) -> durable, us */
    struct pipe_lat ev_lat;     /* ts_exchange -> durable, us */
    struct pipe_lat recv_lat;   /* frame received by the node -> durable, us */
    struct pipe_lat append_lat; /* append_many call, us */
    /* where receive-to-durable goes, per sample (us; remote mode only):
     * PIPE_ST_QUEUE received -> batch sent to the writer actor, HOP sent ->
     * handled by the writer, APPEND handled -> appended, SYNC appended ->
     * the fsync that made the log durable past it returned (the wait for an
     * fsync in flight, then its own), NOTIFY that fsync -> the writer saw
     * it. SYNC + NOTIFY are exact sums; the split uses the time of the
     * latest durable advance, so a sample made durable one fsync earlier
     * than the writer looked counts a little more SYNC, less NOTIFY. */
    struct pipe_lat stage[PIPE_ST_N];
    /* Prometheus histograms (NULL: none), observed in ns / records */
    struct tr_histogram *h_lat, *h_append, *h_batch;
};

int pipe_writer_init(struct pipe_writer *w, struct tr_log *log, uint32_t batch_max);
void pipe_writer_close(struct pipe_writer *w);
/* Queues one record (payload copied). May flush when the batch is full. */
/* `enc` (enc_len bytes) is the event already encoded, or NULL: then `ev`
 * is encoded here. `ts` is the record time; `lat_ts` (0: none) the time the
 * provider sent it, sampled for the provider-to-durable latency (`ts`, the
 * event time for live events, is sampled with it for event-to-durable). */
int pipe_writer_add(struct pipe_writer *w, const char *stream, size_t stream_len,
                    uint64_t seq, int64_t ts, int64_t lat_ts, const struct tr_event *ev,
                    const uint8_t *enc, size_t enc_len, uint64_t *lsn_hint,
                    struct tr_error *err);
/* The same with the time the node received the frame (0: unknown), for the
 * receive-to-durable latency. */
int pipe_writer_add2(struct pipe_writer *w, const char *stream, size_t stream_len,
                     uint64_t seq, int64_t ts, int64_t lat_ts, int64_t recv_ts,
                     const struct tr_event *ev, const uint8_t *enc, size_t enc_len,
                     uint64_t *lsn_hint, struct tr_error *err);
/* The end-of-loop-turn flush: as pipe_writer_flush, except that in remote
 * mode a batch below batch_max waits while the writer is busy (fewer,
 * larger messages under load; no wait when the writer is idle). Anything
 * that needs the records sent (checkpoint, commit, stop) uses
 * pipe_writer_flush. */
int pipe_writer_flush_soft(struct pipe_writer *w, struct tr_error *err);
/* Appends what is queued as one unit. TR_ENOSPACE keeps it queued. */
int pipe_writer_flush(struct pipe_writer *w, struct tr_error *err);
/* Durable LSN advanced: turns samples into latency. */
void pipe_writer_durable(struct pipe_writer *w, uint64_t durable_lsn, int64_t now_ns);
/* The same, with when durable_lsn was reached (tr_log_durable_lsn_at; 0 =
 * unknown) for the SYNC / NOTIFY stage split. */
void pipe_writer_durable_at(struct pipe_writer *w, uint64_t durable_lsn, int64_t at_ns,
                            int64_t now_ns);
/* Remote mode: sends to the writer actor instead of the log; `next_lsn` is
 * the LSN the first record will get, `epoch` the one HELLO returned. */
void pipe_writer_set_remote(struct pipe_writer *w, const struct pipe_wremote *r,
                            uint64_t next_lsn, uint64_t epoch);
/* Last LSN appended (local) or sent (remote), queued records excluded. */
uint64_t pipe_writer_last_lsn(struct pipe_writer *w);
/* Makes everything appended so far durable: tr_log_flush (local) or a SYNC
 * call to the writer actor (remote). Flush first. */
int pipe_writer_commit(struct pipe_writer *w, struct tr_error *err);
/* Checkpoint at `lsn` (everything up to it flushed or sent): writes it
 * (local) or hands it to the writer actor, which writes it once the log is
 * durable to lsn (sync = 1 waits for that). */
int pipe_writer_ckpt(struct pipe_writer *w, const char *dir, struct pipe_dedup *d, uint64_t lsn,
                     int sync, struct tr_error *err);
/* Remote mode: pulls the writer actor's figures into w (no-op locally). */
void pipe_writer_refresh(struct pipe_writer *w);

/* The batch message (host byte order: the actors share one process). */
struct pipe_wire_hdr {
    uint32_t magic;             /* PIPE_WIRE_MAGIC */
    uint32_t count;
    uint64_t epoch;
    uint64_t first_lsn;         /* the LSN the collector expects for record 0 */
    int64_t sent_ns;            /* when the collector sent it (pipe_now_ns), for the
                                 * per-stage latency figures */
};
struct pipe_wire_rec {          /* followed by key_len + payload_len bytes */
    uint64_t seq;
    int64_t ts, lat_ts, recv_ts;
    uint32_t payload_len;
    uint16_t key_len;
    uint16_t pad;
};
#define PIPE_WIRE_MAGIC 0x74726231u
/* Appends the records of one batch message to a local writer (the writer
 * actor). TR_EPARSE for a malformed message (nothing queued). */
int pipe_writer_add_wire(struct pipe_writer *w, const uint8_t *p, size_t n,
                         struct tr_error *err);

/* ------------------------------------------------------ checkpoints */

struct pipe_dedup;
/* Restores every stream's position: loads DIR/checkpoint (if any), then
 * reads the log from the LSN after it (the log is the truth; the file only
 * saves the scan). *scanned gets the records read. */
int pipe_ckpt_restore(struct tr_log *log, const char *dir, struct pipe_dedup *d,
                      uint64_t *scanned, struct tr_error *err);
/* Writes DIR/checkpoint (tmp + fsync + rename) with every stream's last
 * seq; call only when everything appended is durable (after a flush). */
int pipe_ckpt_save(const char *dir, struct pipe_dedup *d, uint64_t lsn, struct tr_error *err);
/* The same in two halves: the file's text, and writing it atomically. */
int pipe_ckpt_format(struct pipe_dedup *d, uint64_t lsn, struct tr_buf *out);
int pipe_ckpt_write(const char *dir, const void *text, size_t len, struct tr_error *err);
/* IDSET streams: reloads the ids of their last `window_ns` from the log. */
int pipe_ckpt_load_ids(struct tr_log *log, struct pipe_dedup *d, int64_t window_ns,
                       struct tr_error *err);

/* ------------------------------------------------------------ dedup */

enum pd_state { PD_LIVE = 0, PD_REPAIRING = 1, PD_BUFFERING = 2 };
/* SEQ: ordered by a native sequence (trade id, exchange-wide update id).
 * PASS: no identity: written as received (tickers).
 * CONN: per-connection identity (Coinbase level2, Kalshi books): one
 * connection owns the stream; another takes over only at its snapshot;
 * records are numbered by the node (no native sequence to order by).
 * MONO: an exchange-wide sequence that jumps (tickers of Binance and
 * Coinbase): anything at or below the last is a duplicate; no holes.
 * IDSET: exchange-wide ids without order (Kalshi trade UUIDs): a set of
 * recent ids drops duplicates, records are numbered by the node, repairs
 * backfill by time and merge in exchange-time order. */
enum pd_mode { PD_MODE_SEQ = 0, PD_MODE_PASS = 1, PD_MODE_CONN = 2, PD_MODE_MONO = 3,
               PD_MODE_IDSET = 4 };

/* Two generations of id hashes: the current one fills up to `gen` ids,
 * then becomes the previous one (so the set remembers gen..2*gen ids). */
struct pd_idset {
    uint64_t *cur, *prev; /* open addressing, 0 = empty; 2*gen slots each */
    size_t n_cur, gen, slots;
};

struct pd_item {
    uint64_t first, last;
    uint64_t idh;   /* IDSET: hash of the id */
    int64_t ts;
    uint8_t *enc;   /* msgpack event, malloc'd */
    size_t len;
};

struct pipe_feed;

struct pd_stream {
    char key[TR_LOG_STREAM_MAX + 1];
    size_t key_len;
    char provider[TR_PROVIDER_MAX];
    char instrument[TR_INSTRUMENT_MAX];
    uint8_t kind;      /* data kind: TRADE, BOOK_DELTA (book), TICKER */
    uint8_t mode;      /* enum pd_mode */
    uint8_t resync;    /* enum tr_resync */
    uint8_t state;     /* enum pd_state */
    uint8_t have;      /* last is meaningful */
    uint8_t req_out;   /* a repair request is in flight */
    uint8_t need_base; /* book: a gap was written without a snapshot after it yet */
    uint8_t loss_group; /* IDSET repair counted for connection group loss_group-1 (pipe_loss.c) */
    uint64_t loss_written0; /* `written` when that repair started */
    uint64_t last;     /* last seq handed to the writer */
    uint64_t last_lsn; /* LSN of that record (0 before this run) */
    struct pd_item *buf; /* reorder buffer: [head, n) sorted by first */
    size_t head, n, cap;
    uint8_t configured; /* mode/resync come from an adapter's desc */
    struct pipe_feed *feed; /* who repairs it */
    const void *src;        /* CONN mode: the connection that owns it (NULL: none) */
    struct pd_idset *ids;   /* IDSET mode */
    char cursor[TR_CURSOR_MAX]; /* IDSET repair: next REST page ("" = first) */
    int64_t since_ns;       /* IDSET repair: backfill trades from this time */
    uint64_t foreign;       /* CONN mode: deltas from a non-owning connection dropped */
    int64_t last_ts_exchange, last_write_ns;
    uint64_t written, dups, gaps, gaps_filled, gaps_unfilled, resyncs, overflow;
    uint64_t backfilled;
    struct pd_stream *next_all;
};

/* What the deduplicator calls out to. */
struct pd_ops {
    void *arg;
    /* a record is ready, in canonical order */
    int (*emit)(void *arg, struct pd_stream *s, uint64_t seq, const struct tr_event *ev,
                const uint8_t *enc, size_t enc_len);
    /* trades: fetch over REST what follows s->last */
    void (*want_backfill)(void *arg, struct pd_stream *s);
    /* books: fetch a snapshot */
    void (*want_snapshot)(void *arg, struct pd_stream *s);
};

struct pipe_dedup {
    struct pd_ops ops;
    struct pd_stream **slots;
    size_t n_slots, n_streams;
    struct pd_stream *all;
    uint32_t reorder_max;
    uint16_t origin;
    uint64_t dups, gaps, gaps_filled, gaps_unfilled, rejected;
    struct tr_buf scratch;
};

int pipe_dedup_init(struct pipe_dedup *d, const struct pd_ops *ops, uint32_t reorder_max,
                    uint16_t origin);
void pipe_dedup_close(struct pipe_dedup *d);
/* Stream key of an event: "provider/kind/instrument" (kind "trade", "book",
 * "ticker"...). Returns its length or TR_ETOOBIG. */
int pipe_stream_key(const char *provider, int kind, const char *instrument, char *out,
                    size_t cap);
/* Finds or creates the stream for `key`. */
struct pd_stream *pipe_dedup_stream(struct pipe_dedup *d, const char *provider, int kind,
                                    const char *instrument, const struct tr_stream_desc *desc);
/* Restores a stream's position from the log (startup). */
void pipe_dedup_restore(struct pipe_dedup *d, const char *key, size_t key_len, uint64_t seq,
                        int64_t ts, uint64_t lsn);
/* Offers one live event (trade, book delta/snapshot, ticker) received on
 * connection `src` (any unique pointer; NULL for REST). */
int pipe_dedup_offer(struct pipe_dedup *d, struct pd_stream *s, const struct tr_event *ev,
                     const void *src);
/* Remembers an IDSET stream's id (startup: ids reloaded from the log). */
void pipe_dedup_remember(struct pd_stream *s, const char *id);
/* Connection `src` ended: the streams it owned wait for another one's
 * snapshot. */
void pipe_dedup_source_lost(struct pipe_dedup *d, const void *src);
/* A REST backfill page for s arrived (ascending events). `more`: another
 * page may follow. failed: REST gave up (no retry possible). */
int pipe_dedup_backfill(struct pipe_dedup *d, struct pd_stream *s, const struct tr_event *evs,
                        size_t n, int more, int failed);
/* A REST/in-band snapshot for a book stream arrived (NULL: fetch failed). */
int pipe_dedup_snapshot(struct pipe_dedup *d, struct pd_stream *s, const struct tr_event *snap);
/* A book's snapshot was skipped after persistent failures (pipe_rest.c):
 * one gap event over what is missing and buffered (deltas without a base
 * are of no use), the buffer emptied; the stream keeps buffering and its
 * next snapshot must be at or after that gap's end (need_base). The
 * request stays out (req_out): it is asked again later. */
int pipe_dedup_snapshot_skipped(struct pipe_dedup *d, struct pd_stream *s);
/* Writes a gap event `why` at the stream's next sequence (a loss that no
 * sequence range describes: Kalshi trades, pipe_loss.c). */
int pipe_dedup_gap_note(struct pipe_dedup *d, struct pd_stream *s, const char *why);
/* Heartbeat says the stream reached `seq`; starts a repair if behind. */
void pipe_dedup_mark(struct pipe_dedup *d, struct pd_stream *s, uint64_t seq);
/* A new connection subscribed: trades backfill from their position. */
void pipe_dedup_resume(struct pipe_dedup *d, struct pd_stream *s);

/* ------------------------------------------------------- data path */

/* pipe_path.c: the per-event path shared by the node and tickraft-bench
 * pipeline. Offers every data event of a parsed frame (received on `src`,
 * any unique pointer) to its stream, created on first use with the
 * adapter's descriptor and owned by `feed` (may be NULL); events whose
 * stream key does not fit are counted in d->rejected. *offered gets the
 * events offered. Returns 0 or the deduplicator's/writer's negative error
 * (fatal: the log failed). Everything stays the caller's. */
int pipe_path_offer_frame(struct pipe_dedup *d, const struct tr_provider_ops *ops,
                          const struct tr_frame *fr, const void *src, struct pipe_feed *feed,
                          uint64_t *offered);
/* The deduplicator's emit: queues record `seq` of stream s in the writer's
 * batch (ev encoded here, or enc/enc_len already encoded), with the
 * latency sample and the stream's last LSN and write time. */
int pipe_path_emit(struct pipe_writer *w, struct pd_stream *s, uint64_t seq,
                   const struct tr_event *ev, const uint8_t *enc, size_t enc_len,
                   struct tr_error *err);
/* The same, with the provider's send stamp of the frame the event came in
 * (ns; 0: none): a live event's provider-to-durable latency starts there
 * instead of at its ts_exchange. */
int pipe_path_emit_sent(struct pipe_writer *w, struct pd_stream *s, uint64_t seq,
                        const struct tr_event *ev, const uint8_t *enc, size_t enc_len,
                        int64_t sent_ns, struct tr_error *err);

/* ------------------------------------------------------------ node */

struct pipe_node;

/* Runs the pipeline on `loop`. cfg borrowed (must outlive). */
int pipe_node_open(struct pipe_node **out, uv_loop_t *loop, const struct pipe_cfg *cfg,
                   struct tr_nlog *lg, struct tr_error *err);
/* Opens the node's durable log with the configuration's storage options. */
int pipe_log_open(struct tr_log **out, const struct pipe_cfg *cfg, struct tr_error *err);
/* As pipe_node_open, for the supervision tree (node/act_collector.c): the
 * log is the caller's (borrowed, not closed) and records go to the writer
 * actor through `remote`, the first one getting LSN next_lsn. */
struct pipe_lact_faults;
struct tr_system;
struct pipe_node_ext {
    struct tr_log *log;
    const struct pipe_wremote *remote;
    uint64_t next_lsn, epoch;
    /* set: each feed's connections and REST poller run as loop actors of
     * this system on the node's loop (node/pipe_lact.h); faults may be NULL */
    struct tr_system *sys;
    struct pipe_lact_faults *faults;
};
int pipe_node_open_ext(struct pipe_node **out, uv_loop_t *loop, const struct pipe_cfg *cfg,
                       struct tr_nlog *lg, const struct pipe_node_ext *ext,
                       struct tr_error *err);
/* Tears the pipeline down at once (a crashed collector): nothing more is
 * written, no waiting for REST or close frames; done_cb runs; then run the
 * loop until its handles closed and call pipe_node_close. */
void pipe_node_abort(struct pipe_node *n, int rc);
/* Mirrors the totals into the metrics registry now (on the node's thread;
 * the actor tree calls it each second instead of at render time). */
void pipe_node_metrics_collect(struct pipe_node *n);
/* Who to tell when the pipeline stopped on its own (a fatal log error)
 * rather than through pipe_node_stop. */
void pipe_node_set_stop_cb(struct pipe_node *n, void (*done_cb)(void *arg, int rc), void *arg);
/* Graceful stop in the reference order; calls done_cb when everything is
 * closed and the log is durable (the loop may then be run to completion). */
void pipe_node_stop(struct pipe_node *n, void (*done_cb)(void *arg, int rc), void *arg);
/* Frees after stop completed and the loop ran out. Returns the final log
 * close result. */
int pipe_node_close(struct pipe_node *n, struct tr_error *err);
struct tr_metrics;
/* Exposes the pipeline's figures in `m` (node/metrics.h): totals are
 * mirrored at each render by a collect callback, histograms observed as
 * they happen. `m` is borrowed and must outlive the node. Loop thread. */
void pipe_node_set_metrics(struct pipe_node *n, struct tr_metrics *m);
/* Make-before-break rotation of every feed's connection now (SIGUSR1). */
void pipe_node_rotate(struct pipe_node *n);
/* The node's durable log (for the publisher / readers). Borrowed: valid
 * until pipe_node_close. */
struct tr_log *pipe_node_log_handle(struct pipe_node *n);
/* A copy of the figures other threads may read (the publisher's admin
 * calls run on its own threads): refreshed once a second on the loop. */
struct pipe_snap_feed {
    char name[PIPE_NAME_MAX], provider[PIPE_NAME_MAX];
    int connected, maintenance, rest_halted, paused;
    uint64_t events, malformed, reconnects, alerts, rotations;
};
struct pipe_snap {
    double events_per_s, written_per_s;
    uint64_t written, dups, gaps, gaps_filled, gaps_unfilled, durable_lsn, streams;
    uint64_t lat_p50_us, lat_p99_us;
    int stopping;
    size_t n_feeds;
    struct pipe_snap_feed feeds[64];
};
/* Copies the last snapshot. Any thread. */
void pipe_node_snapshot(struct pipe_node *n, struct pipe_snap *out);
/* Operator commands (pipe_admin.h); NULL before open. */
struct pipe_admin *pipe_node_admin(struct pipe_node *n);
/* Status JSON (the /api/status body). */
int pipe_node_status_json(struct pipe_node *n, struct tr_buf *out);

#endif
