/* Provider adapters: one versioned ops table per market-data provider
 * (coinbase, binance, kalshi, and the simulator's native dialect).
 *
 * An adapter knows a provider's wire formats and nothing about sockets: it
 * builds subscribe/unsubscribe messages and REST request paths, parses one
 * WebSocket frame or one REST body into normalised struct tr_event plus a
 * control outcome, describes each stream's sequence semantics and identity
 * (what the deduplicator may merge on), and maps close codes, HTTP statuses
 * and subscribe errors to the policies the node acts on. The connection and
 * poller actors own the I/O; tests and `tickraft-ctl normalize` drive the
 * same code with recorded frames.
 *
 * Sequencing is reusable code beside the adapters: tr_seqtrack says
 * ok / duplicate / gap(from,to) / resync for one stream, tr_booksync buffers
 * book deltas until a snapshot arrives and applies the "drop u <= L, first
 * must straddle L+1, then contiguous" rule, and tr_sequencer runs one tracker
 * per stream of a connection and inserts gap events. docs/providers.md. */
#ifndef TICKRAFT_PROVIDER_H
#define TICKRAFT_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "tickraft/error.h"
#include "tickraft/event.h"
#include "tickraft/json.h"

#define TR_PROVIDER_OPS_VERSION 1

/* ---------------------------------------------------------------- streams */

/* Channels a subscription may name (bit mask). */
enum tr_channel {
    TR_CH_TRADES = 1u << 0,
    TR_CH_BOOK = 1u << 1,
    TR_CH_TICKER = 1u << 2,
};

/* What identifies one event of a stream across connections: the
 * deduplicator merges copies from several gatherers only on an
 * exchange-wide identity. */
enum tr_identity {
    TR_IDENT_NONE = 0,       /* nothing: take one source at a time */
    TR_IDENT_TRADE_ID = 1,   /* exchange-wide trade id (event.id) */
    TR_IDENT_EXCHANGE_SEQ = 2, /* exchange-wide sequence (event.seq) */
    TR_IDENT_CONNECTION = 3, /* sequence valid on one connection only
                                (Kalshi seq per sid, Coinbase level2 with
                                no sequence): switch source only at a
                                snapshot */
};

/* How a gap is detected on one connection. */
enum tr_gap_rule {
    TR_GAP_NONE = 0,       /* undetectable (lossy tickers, Coinbase level2) */
    TR_GAP_CONTIGUOUS = 1, /* event.seq == previous seq + 1, per instrument */
    TR_GAP_CHAIN = 2,      /* event.first_seq == previous seq + 1 (Binance
                              U/u), per instrument; snapshot rule applies */
    TR_GAP_CONNECTION = 3, /* frame conn_seq contiguous per subscription id
                              (frame sid), across its instruments (Kalshi) */
};

/* How a stream recovers what a gap lost. */
enum tr_resync {
    TR_RESYNC_NONE = 0,
    TR_RESYNC_BACKFILL_ID = 1,     /* REST trades after an id */
    TR_RESYNC_BACKFILL_CURSOR = 2, /* REST trades by time, cursor pages */
    TR_RESYNC_SNAPSHOT = 3,        /* REST snapshot + buffered deltas */
    TR_RESYNC_RESUBSCRIBE = 4,     /* resubscribe: snapshot comes in-band */
};

struct tr_stream_desc {
    uint8_t kind;     /* enum tr_kind of the stream's data events */
    uint8_t identity; /* enum tr_identity */
    uint8_t gaps;     /* enum tr_gap_rule */
    uint8_t resync;   /* enum tr_resync */
};

/* ------------------------------------------------------- control outcome */

enum tr_ctl_kind {
    TR_CTL_DATA = 0,       /* data frame: see events */
    TR_CTL_SUBSCRIBED = 1, /* subscribe acknowledged (subs[] names them) */
    TR_CTL_UNSUBSCRIBED = 2,
    TR_CTL_SUB_ERROR = 3,  /* subscribe refused: sub_error classifies it */
    TR_CTL_HEARTBEAT = 4,  /* liveness; marks[] carry last seq / trade id */
    TR_CTL_SERVER_ERROR = 5, /* other error message from the server */
    TR_CTL_IGNORED = 6,    /* understood, nothing to do (kline, pong...) */
};

enum tr_sub_error {
    TR_SUBERR_NONE = 0,
    TR_SUBERR_UNKNOWN_CHANNEL = 1, /* a bug on our side: never retry */
    TR_SUBERR_UNKNOWN_MARKET = 2,  /* drop that market, keep the rest */
    TR_SUBERR_LIMIT = 3,           /* shed subscriptions, alert */
    TR_SUBERR_OTHER = 4,
};

#define TR_CTL_SUBS_MAX 8
#define TR_CTL_NAME_MAX 32

/* One acknowledged subscription: channel name as the provider says it and
 * its subscription id (Kalshi sid; 0 elsewhere). */
struct tr_ctl_sub {
    char channel[TR_CTL_NAME_MAX];
    uint64_t sid;
};

/* A heartbeat's position for one instrument. */
struct tr_ctl_mark {
    char instrument[TR_INSTRUMENT_MAX];
    uint64_t last_seq;      /* provider sequence (0: not given) */
    uint64_t last_trade_id; /* last trade id (0: not given) */
};

struct tr_ctl {
    uint8_t kind;      /* enum tr_ctl_kind */
    uint8_t sub_error; /* enum tr_sub_error, TR_CTL_SUB_ERROR only */
    int64_t req_id;    /* request id echoed by the server, -1 if none */
    int64_t code;      /* provider error code, 0 if none */
    char text[TR_TEXT_MAX];        /* error message / reason */
    char instrument[TR_INSTRUMENT_MAX]; /* market named by an error, if any */
    uint32_t n_subs;
    struct tr_ctl_sub subs[TR_CTL_SUBS_MAX];
};

/* ------------------------------------------------------------- the frame */

/* What one parse produced. Caller-owned, reused for every frame of a
 * connection: events, their levels and marks are valid until the next parse
 * into the same frame (or tr_frame_free). On error no events are left in it
 * (never a half-filled event). */
struct tr_frame {
    struct tr_event *events;
    size_t n_events, cap_events;
    struct tr_event_scratch levels;   /* book levels of events */
    struct tr_ctl ctl;
    struct tr_ctl_mark *marks;        /* heartbeat positions */
    size_t n_marks, cap_marks;
    uint64_t sid;      /* subscription id the frame belongs to, has_sid */
    uint8_t has_sid;
    /* Per-connection sequence of the frame (Kalshi `seq` per sid). Kept
     * out of the events on purpose: it identifies nothing across
     * connections, so it must not reach the canonical store. */
    uint8_t has_conn_seq;
    uint64_t conn_seq;
    /* When the provider sent the frame (ns since the Unix epoch, the
     * provider's CLOCK_REALTIME), if its dialect says (the simulator's
     * native "sent_ns"). Per frame, not per event, and not stored: it only
     * starts the node's provider-to-durable latency clock. */
    uint8_t has_sent;
    int64_t sent_ns;
    /* tokenizer scratch, grown as frames need */
    struct tr_json_tok *toks;
    size_t cap_toks;
};

void tr_frame_init(struct tr_frame *f);
/* Forgets the previous frame's content (keeps memory). */
void tr_frame_reset(struct tr_frame *f);
void tr_frame_free(struct tr_frame *f);

/* ----------------------------------------------------------------- REST */

enum tr_rest_kind {
    TR_REST_TRADES = 1,  /* backfill trades */
    TR_REST_BOOK = 2,    /* order-book snapshot */
    TR_REST_MARKETS = 3, /* market registry */
    TR_REST_STATUS = 4,  /* exchange status */
};

/* Request flags. */
#define TR_REQ_RAW_TRADES 1u /* Binance: @trade/historicalTrades instead of
                                @aggTrade/aggTrades (one choice per feed:
                                the two id spaces differ) */

struct tr_rest_req {
    uint8_t kind;         /* enum tr_rest_kind */
    uint32_t flags;       /* TR_REQ_* */
    const char *prefix;   /* path prefix ("" for the real host, "/coinbase"
                             on the simulator); NULL = "" */
    const char *instrument;
    uint64_t after_id;    /* TRADES: return trades with id > after_id
                             (has_after_id) */
    uint8_t has_after_id;
    const char *cursor;   /* TRADES (Kalshi) / MARKETS: page cursor or NULL */
    int64_t since_ns;     /* TRADES by time (Kalshi min_ts); 0 = none */
    uint32_t limit;       /* page size; 0 = provider default */
};

enum tr_xstatus {
    TR_XSTATUS_UNKNOWN = 0,
    TR_XSTATUS_OPEN = 1,
    TR_XSTATUS_MAINTENANCE = 2,    /* exchange down; resume_ns if announced */
    TR_XSTATUS_TRADING_HALTED = 3, /* books move, no trades (Kalshi) */
};

#define TR_CURSOR_MAX 256

/* What a REST body said besides events. Caller-owned; free `names` with
 * tr_rest_result_free. */
struct tr_rest_result {
    char cursor[TR_CURSOR_MAX]; /* next page cursor ("" = none) */
    uint64_t next_after_id;     /* TRADES: after_id for the next page */
    uint8_t more;               /* TRADES: another page may follow */
    uint8_t status;             /* STATUS: enum tr_xstatus */
    int64_t resume_ns;          /* STATUS: announced resume time, 0 = none */
    struct tr_buf names;        /* MARKETS: NUL-terminated names back to back */
    size_t n_names;
};
void tr_rest_result_init(struct tr_rest_result *r);
void tr_rest_result_free(struct tr_rest_result *r);

/* ------------------------------------------------------ subscribe request */

struct tr_sub_req {
    uint32_t channels;  /* TR_CH_* */
    uint32_t flags;     /* TR_REQ_* */
    const char *const *instruments;
    size_t n_instruments;
    const uint64_t *sids; /* unsubscribe by sid (Kalshi) */
    size_t n_sids;
    int64_t req_id;     /* id the server echoes (Binance, Kalshi) */
};

/* ------------------------------------------------------------- policies */

enum tr_policy {
    TR_POLICY_OK = 0,
    TR_POLICY_RECONNECT_NOW = 1, /* WS 1000 */
    TR_POLICY_BACKOFF = 2,       /* WS 1001/1006/1011, HTTP 429/5xx: retry
                                    with exponential backoff + jitter */
    TR_POLICY_CHECK_CREDENTIALS = 3, /* WS 1008: alert, check credentials */
    TR_POLICY_NO_RETRY = 4,      /* HTTP 400: log, give up this request */
    TR_POLICY_HALT = 5,          /* HTTP 401/403: halt component, alert */
    TR_POLICY_SKIP = 6,          /* HTTP 404: skip the resource */
    TR_POLICY_CHECK_STATUS = 7,  /* HTTP 503: poll exchange status until the
                                    announced resume time */
    TR_POLICY_BUG = 8,           /* unknown channel: log, never retry */
    TR_POLICY_DROP_MARKET = 9,   /* unknown market: drop it, continue */
    TR_POLICY_SHED = 10,         /* subscription limit: shed, alert */
};
const char *tr_policy_name(int policy);
/* Reference policies (shared/reference, ARCHITECTURE "Provider behaviour"). */
int tr_policy_for_close(int ws_close_code);
int tr_policy_for_http(int http_status);
int tr_policy_for_sub_error(int sub_error);

/* ------------------------------------------------------------ ops table */

struct tr_provider_ops {
    uint32_t version;      /* TR_PROVIDER_OPS_VERSION */
    const char *name;      /* provider name put in events: "coinbase" */
    const char *dialect;   /* dialect name ("native" for provider "sim") */

    /* Per-connection adapter state (e.g. Kalshi's books, which turn
     * relative deltas into absolute levels). state_size bytes, caller
     * memory; init may allocate, close frees. Either may be NULL. */
    size_t state_size;
    int (*state_init)(void *state, struct tr_error *err);
    void (*state_close)(void *state);

    /* Stream semantics of the data events of `kind` (TR_KIND_TRADE,
     * _BOOK_DELTA, _BOOK_SNAPSHOT, _TICKER); NULL if it has none. */
    const struct tr_stream_desc *(*stream)(int kind);

    /* Appends a subscribe / unsubscribe message (one WS text frame) to
     * `out`. TR_EINVAL if the request cannot be expressed. */
    int (*subscribe)(const struct tr_sub_req *req, struct tr_buf *out,
                     struct tr_error *err);
    int (*unsubscribe)(const struct tr_sub_req *req, struct tr_buf *out,
                       struct tr_error *err);

    /* Parses one WS text frame into `out` (reset first). recv_ns, if not
     * 0, becomes every event's ts_receive. Returns 0 or TR_EPARSE /
     * TR_ERANGE / TR_ETOOBIG / TR_ENOMEM with err naming the message type
     * and field ("coinbase match: field 'price': ..."); TR_EINTERNAL when
     * the adapter's own per-connection state is broken, not the frame:
     * the node then restarts that connection (its connection actor)
     * instead of counting a malformed frame. */
    int (*parse)(void *state, const char *frame, size_t len, int64_t recv_ns,
                 struct tr_frame *out, struct tr_error *err);

    /* Writes the path and query of a REST request (relative to the host)
     * into buf (cap bytes, NUL-terminated). TR_EUNSUPPORTED if the
     * provider has no such endpoint, TR_ETOOBIG if it does not fit. */
    int (*rest_path)(const struct tr_rest_req *req, char *buf, size_t cap,
                     struct tr_error *err);

    /* Parses a 200 body answering `req`: TRADES -> trade events in
     * ascending id/time order within the page; BOOK -> one book_snapshot
     * event; MARKETS -> res->names; STATUS -> res->status/resume_ns. */
    int (*rest_parse)(const struct tr_rest_req *req, const char *body,
                      size_t len, struct tr_frame *out,
                      struct tr_rest_result *res, struct tr_error *err);
};

extern const struct tr_provider_ops tr_provider_coinbase;
extern const struct tr_provider_ops tr_provider_binance;
extern const struct tr_provider_ops tr_provider_kalshi;
extern const struct tr_provider_ops tr_provider_native;

/* Finds an adapter by provider or dialect name ("coinbase", "binance",
 * "kalshi", "sim" or "native"); NULL if unknown. */
const struct tr_provider_ops *tr_provider_find(const char *name);

/* An adapter instance for one connection: ops plus its state. */
struct tr_provider {
    const struct tr_provider_ops *ops;
    void *state;
    uint64_t rejects; /* frames rejected by parse */
};
/* Allocates the state. On failure nothing is left to free. */
int tr_provider_init(struct tr_provider *p, const struct tr_provider_ops *ops,
                     struct tr_error *err);
void tr_provider_close(struct tr_provider *p);
/* ops->parse with reject counting. */
int tr_provider_parse(struct tr_provider *p, const char *frame, size_t len,
                      int64_t recv_ns, struct tr_frame *out,
                      struct tr_error *err);

/* ------------------------------------------------------------ sequencing */

enum tr_seq_verdict {
    TR_SEQ_OK = 0,     /* next in order */
    TR_SEQ_FIRST = 1,  /* first event seen on the stream */
    TR_SEQ_DUP = 2,    /* already covered (duplicate, late or stale) */
    TR_SEQ_GAP = 3,    /* [gap_from, gap_to] missing; tracker moved on */
    TR_SEQ_RESYNC = 4, /* inconsistent (overlapping chain): resync */
};
const char *tr_seq_verdict_name(int v);

/* One stream's position. Caller memory; zero it (or _init) to start. */
struct tr_seqtrack {
    uint64_t last;  /* last sequence covered */
    uint8_t have;   /* last is meaningful */
    uint8_t loose;  /* just after a snapshot: the next event may straddle */
};
void tr_seqtrack_init(struct tr_seqtrack *t);
/* Checks an event covering [first, last] (first == last for contiguous
 * streams) and advances on OK / FIRST / GAP. */
int tr_seqtrack_step(struct tr_seqtrack *t, uint64_t first, uint64_t last,
                     uint64_t *gap_from, uint64_t *gap_to);
/* A snapshot at sequence `seq` was applied: events with last <= seq are
 * stale; the first one after must have first <= seq + 1 <= last. */
void tr_seqtrack_snapshot(struct tr_seqtrack *t, uint64_t seq);

/* Book sync for TR_RESYNC_SNAPSHOT streams: buffers deltas (deep copies)
 * until a snapshot is given, then releases those that follow it. */
typedef int (*tr_event_cb)(void *arg, const struct tr_event *ev);

enum tr_book_state {
    TR_BOOK_BUFFERING = 0, /* waiting for a snapshot */
    TR_BOOK_LIVE = 1,
};
struct tr_booksync {
    uint8_t state;         /* enum tr_book_state */
    struct tr_seqtrack track;
    struct tr_event *buf;  /* buffered deltas (own copies of levels) */
    size_t n, cap, max;    /* max buffered before TR_EOVERLOADED */
    uint64_t stale, applied;
};
/* `max_buffered`: deltas held while waiting (0 = 10000). */
void tr_booksync_init(struct tr_booksync *b, size_t max_buffered);
void tr_booksync_close(struct tr_booksync *b);
/* Back to buffering (after a gap or reconnect): drops the buffer. */
void tr_booksync_reset(struct tr_booksync *b);
/* Feeds one delta. LIVE: emits it via cb if it continues the chain and
 * returns TR_SEQ_OK (or TR_SEQ_DUP: stale, not emitted); on a gap returns
 * TR_SEQ_GAP with the range (TR_SEQ_RESYNC with the delta's own range if it
 * overlaps), goes back to BUFFERING and keeps this delta as the first of
 * the new buffer: fetch a snapshot. BUFFERING: copies it (returns
 * TR_SEQ_FIRST), TR_EOVERLOADED if the buffer is full, TR_ENOMEM. The
 * caller's delta (and its levels) is not kept. */
int tr_booksync_delta(struct tr_booksync *b, const struct tr_event *delta,
                      tr_event_cb cb, void *arg, uint64_t *gap_from,
                      uint64_t *gap_to);
/* Applies a snapshot (event.seq = its last update id L): drops buffered
 * deltas with last <= L; the first kept must have first <= L+1 <= last.
 * Emits the snapshot then the kept deltas and goes LIVE (TR_SEQ_OK).
 * Returns TR_SEQ_RESYNC (still buffering, nothing emitted) when the
 * buffer starts after L+1: the snapshot is too old, fetch another. Returns
 * TR_SEQ_GAP when the buffer itself has a hole after what was emitted: the
 * sync is back to buffering (empty) and wants another snapshot. If the
 * buffer is empty the snapshot is emitted and the stream goes LIVE. */
int tr_booksync_snapshot(struct tr_booksync *b, const struct tr_event *snap,
                         tr_event_cb cb, void *arg);

/* A connection's streams: one tracker per (stream, instrument) or per
 * (stream, sid) following the adapter's tr_stream_desc, inserting gap
 * events. Heap object. */
struct tr_sequencer;
struct tr_seq_stats {
    uint64_t events, gaps, dups, resyncs, heartbeat_gaps;
};
int tr_sequencer_alloc(const struct tr_provider_ops *ops,
                       struct tr_sequencer **out, struct tr_error *err);
void tr_sequencer_free(struct tr_sequencer *s);
/* Passes the frame's events through the trackers, in order, to cb: events
 * in order are emitted; duplicates are dropped (counted); a gap emits a
 * TR_KIND_GAP event (from_seq/to_seq, text saying which stream and how to
 * resync) before the event that revealed it. Heartbeat marks with a last
 * trade id beyond the trade tracker also emit a gap. Snapshots reset the
 * book tracker (Binance rule). Returns cb's first error or 0. */
int tr_sequencer_step(struct tr_sequencer *s, const struct tr_frame *f,
                      tr_event_cb cb, void *arg);
/* Forgets every stream (new connection: per-connection sequences restart). */
void tr_sequencer_reset(struct tr_sequencer *s);
const struct tr_seq_stats *tr_sequencer_stats(const struct tr_sequencer *s);

/* ------------------------------------------------------------- helpers */

/* Parses ISO8601 UTC "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)" to
 * ns since the epoch, fraction up to 9 digits (more are truncated), no
 * floating point. TR_EPARSE / TR_ERANGE. */
int tr_time_parse_iso8601(const char *s, size_t len, int64_t *ns);

#endif
