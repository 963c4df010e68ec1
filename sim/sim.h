/* tickraft-sim internals: the deterministic exchange simulator.
 *
 * One `struct sim_exch` per dialect is one simulated exchange: its own
 * instruments, order books, sequence counters, trade history and faults.
 * Events come from a generator that is a pure function of (seed, dialect,
 * global index) plus the per-instrument state it advances, so the same seed
 * always gives the same stream. The server (server.c) owns a libuv loop and a
 * libwebsockets context on it; each tick it asks every exchange for the
 * events that are due, writes them to the truth file and hands them to the
 * dialect encoders (d_*.c) of the connections that subscribed. */
#ifndef TICKRAFT_SIM_H
#define TICKRAFT_SIM_H

#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "tickraft/error.h"
#include "tickraft/event.h"
#include "tickraft/json.h"

#define SIM_LEVELS 10       /* price levels per book side */
#define SIM_NAME_MAX 32

enum sim_dialect {
    SIM_D_NATIVE = 0,
    SIM_D_COINBASE = 1,
    SIM_D_BINANCE = 2,
    SIM_D_KALSHI = 3,
    SIM_D_COUNT = 4,
};

/* Channel bits of a subscription (per connection, per instrument). */
enum {
    SIM_CH_TRADE = 1,
    SIM_CH_BOOK = 2,
    SIM_CH_TICKER = 4,
    SIM_CH_AGGTRADE = 8,  /* binance: <s>@aggTrade besides <s>@trade */
    SIM_CH_HEARTBEAT = 16 /* coinbase heartbeat channel */
};

enum {
    SIM_EV_HIDDEN = 1, /* gap fault: not sent on WS, still in history/truth */
    SIM_EV_LOST = 2,   /* unrecoverable gap: published nowhere */
};

/* One generated event, before any dialect formats it. Prices are in ticks
 * and sizes in units; each dialect scales them to its own decimals. */
struct sim_ev {
    int64_t ts;     /* ns since the epoch */
    uint64_t seq;   /* trade: trade id; delta: update id; ticker: last update id */
    uint64_t xseq;  /* per-instrument sequence shared by all kinds (Coinbase) */
    int64_t price;  /* trade/ticker price, delta level price (ticks) */
    int64_t size;   /* trade size, delta new absolute size, ticker last size */
    int64_t bid, ask; /* ticker best bid/ask ticks (0: none) */
    int64_t prev;   /* delta: size before this delta (Kalshi sends the change) */
    int64_t bsz, asz; /* ticker: sizes at best bid/ask */
    uint32_t inst;
    uint8_t kind;   /* TR_KIND_TRADE, TR_KIND_BOOK_DELTA, TR_KIND_TICKER */
    uint8_t side;   /* trade: taker side TR_SIDE_*; delta: 1 bid, 2 ask */
    uint8_t flags;  /* SIM_EV_* */
    uint8_t pad;
    uint64_t trade_id; /* ticker: last trade id */
};

struct sim_inst {
    char name[SIM_NAME_MAX];
    int64_t mid;                    /* ticks; bids at mid-1-k, asks at mid+1+k */
    int64_t book[2][SIM_LEVELS];    /* sizes: [0] bids, [1] asks */
    uint64_t n_trades, n_deltas, n_seq; /* last assigned ids (0: none yet) */
    int64_t last_price, last_size;
    uint8_t last_side;
    struct sim_ev *hist;            /* ring of published trades, oldest first */
    size_t hist_cap, hist_head, hist_len;
};

/* Fault state of one exchange (fault.c sets it, everyone reads it). Times
 * are CLOCK_REALTIME ns; 0 means off. */
struct sim_faults {
    int64_t stall_until, refuse_until, maint_until;
    int64_t r429_until, r5xx_until, auth_until, r4xx_until;
    int r5xx_code, auth_code, retry_after, r4xx_code;
    /* which REST endpoints the 429/5xx/auth/4xx faults answer (SIM_EP_*,
     * 0: all of them) */
    uint8_t ep429, ep5xx, epauth, ep4xx;
    int maint_silent;           /* maintenance announced without a resume time */
    uint32_t gap_left;          /* next N events hidden (or lost) */
    int gap_lost;               /* 1: unrecoverable */
    int gap_inst;               /* -1: any instrument */
    int gap_kind;               /* TR_KIND_*, 0: any kind */
    uint32_t dup_left;          /* next N data frames sent twice */
    uint32_t bad_left;          /* next N data frames malformed */
    int bad_truncate;           /* 1: truncated, 0: garbage */
    uint32_t badframe_left;     /* next N data frames replaced by a frame breaking RFC 6455 */
    int badframe_kind;          /* enum sim_badframe */
    uint32_t unknown_left;      /* next N subscribes of real markets fail */
    uint32_t sub_limit;         /* max instruments per connection, 0 = none */
    int stalled;                /* stall currently applied to connections */
};

struct sim_exch {
    int dialect;
    uint64_t seed;
    uint32_t n_inst;
    struct sim_inst *inst;
    double rate;               /* events/s for this exchange */
    uint64_t generated;        /* events generated so far (global index) */
    uint64_t base_count;       /* schedule: due = base_count + rate*(now-base_time) */
    int64_t base_time, base_ts;
    int64_t history_ns;
    size_t hist_max;           /* per-instrument trade history cap */
    struct sim_faults f;
    uint32_t kalshi_sid;       /* Kalshi: last sid handed out (exchange-wide) */
    uint32_t markets_page;     /* Kalshi /markets: most markets per page (0: 1000) */
};

/* ---- gen.c ---- */
/* Sets up an exchange; `epoch_ns` is the timestamp of event 0. Returns 0 or
 * TR_ENOMEM. Free with sim_exch_free. */
int sim_exch_init(struct sim_exch *x, int dialect, uint64_t seed, uint32_t n_inst,
                  double rate, int64_t history_s, int64_t epoch_ns, int64_t now_ns);
void sim_exch_free(struct sim_exch *x);
/* Generates the next event into `ev` (advances books, counters, history). */
void sim_exch_next(struct sim_exch *x, struct sim_ev *ev);
/* Number of events due at `now_ns` not yet generated (capped at `max`). */
uint64_t sim_exch_due(const struct sim_exch *x, int64_t now_ns, uint64_t max);
/* Restarts the schedule at `now_ns` (after a pause: no catch-up burst). */
void sim_exch_rebase(struct sim_exch *x, int64_t now_ns);
/* Instrument index by name, or -1. */
int sim_exch_find(const struct sim_exch *x, const char *name, size_t len);
/* Trade history entry i (0 = oldest) of instrument `in`. */
const struct sim_ev *sim_hist_at(const struct sim_inst *in, size_t i);
/* Index of the first history trade with trade id >= id (hist_len if none). */
size_t sim_hist_lower(const struct sim_inst *in, uint64_t id);
/* Best bid / ask ticks of an instrument (0 if that side is empty). */
int64_t sim_best(const struct sim_inst *in, int side);
/* Price in ticks of book level k on side s (0 bid, 1 ask). */
int64_t sim_level_price(const struct sim_inst *in, int s, int k);
uint64_t sim_mix(uint64_t x);

/* ---- fmt.c: text helpers (append to a tr_buf; return 0 or TR_ENOMEM) ---- */
struct sim_dialect_info {
    const char *name;     /* --dialect name */
    const char *provider; /* provider name in the truth file */
    const char *prefix;   /* URL prefix */
    int price_scale;      /* decimals of a printed price */
    int64_t tick_mant;    /* mantissa units per tick at price_scale */
    int size_scale;       /* decimals of a printed size */
    int64_t size_mant;    /* mantissa units per size unit */
    int64_t mid_base;     /* mid price of instrument 0 in ticks */
    int64_t ts_unit;      /* ns resolution of the dialect's timestamps */
};
extern const struct sim_dialect_info sim_dialects[SIM_D_COUNT];
int sim_dialect_by_name(const char *name, size_t len);
void sim_inst_name(int dialect, uint32_t i, char *out, size_t cap);

struct tr_decimal sim_price_dec(int dialect, int64_t ticks);
struct tr_decimal sim_size_dec(int dialect, int64_t units);
int sim_put(struct tr_buf *b, const char *s);
int sim_putn(struct tr_buf *b, const char *s, size_t n);
int sim_putf(struct tr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sim_put_u64(struct tr_buf *b, uint64_t v);
int sim_put_i64(struct tr_buf *b, int64_t v);
int sim_put_dec(struct tr_buf *b, struct tr_decimal d); /* unquoted */
int sim_put_qdec(struct tr_buf *b, struct tr_decimal d); /* quoted */
int sim_put_iso(struct tr_buf *b, int64_t ns, int frac_digits); /* quoted ISO8601 */
int64_t sim_now_ns(void);

/* ---- njson.c: the native dialect's event encoder ---- */
#define SIM_NJ_MAX 512 /* room one event text may need */
/* Appends the JSON text of a native-dialect event to `out`: byte for byte
 * what sim_ev_to_event + tr_event_to_json give, written directly (the
 * simulator's hot path). 0 or TR_ENOMEM. */
int sim_nj_event(const struct sim_exch *x, const struct sim_ev *ev, struct tr_buf *out);

/* ---- truth.c: the ground-truth file ---- */
struct sim_truth {
    FILE *f;
    struct tr_buf line;
    struct tr_level lv[2 * SIM_LEVELS];
    uint64_t lines;
};
int sim_truth_open(struct sim_truth *t, const char *path, struct tr_error *err);
void sim_truth_close(struct sim_truth *t);
/* Fills `out` with the normalised form of `ev` as an adapter would give it;
 * `lv` receives the book level(s) (borrowed by out). */
void sim_ev_to_event(const struct sim_exch *x, const struct sim_ev *ev,
                     struct tr_event *out, struct tr_level *lv);
/* Writes one event line (or an "unrecoverable" marker for lost events). */
int sim_truth_event(struct sim_truth *t, const struct sim_exch *x, const struct sim_ev *ev);
/* Writes a tr_event as is (replay, status changes). */
int sim_truth_raw_event(struct sim_truth *t, const struct tr_event *ev);
/* Writes {"marker":"fault","fault":F,"args":{..},"ts":ns}; args_json is an
 * object text. */
int sim_truth_marker(struct sim_truth *t, const char *fault, const char *args_json, int64_t ts);
void sim_truth_flush(struct sim_truth *t);
/* Appends whole lines (n bytes) after what is buffered: one write(2) of the
 * caller's buffer, no copy through stdio (a tick's native texts). */
void sim_truth_write(struct sim_truth *t, const void *p, size_t n);

void sim_kalshi_trade_id(const struct sim_exch *x, uint32_t inst, uint64_t n, char *out,
                         size_t cap);

/* ---- conn.c: connections and their outgoing queues ---- */
struct lws;
struct sim_server;

/* What the badframe fault sends instead of a data frame (conn.c). */
enum sim_badframe {
    SIM_BAD_MASKED = 0, /* a masked frame: servers must not mask (RFC 6455 5.1) */
    SIM_BAD_RSV,        /* RSV1 set with no extension agreed (5.2) */
    SIM_BAD_OPCODE,     /* reserved data opcode 0x3 */
    SIM_BAD_OVERSIZE,   /* a text frame announcing 65 MiB (clients bound messages) */
    SIM_BAD_CLOSE_CODE, /* a close frame with code 1005, which must never be sent (7.4.1) */
    SIM_BAD_PING_LONG,  /* a ping of 126 bytes: control frames carry <= 125 (5.5) */
    SIM_BAD_COUNT
};
/* The kind named `name` ("masked", "rsv", "opcode", "oversize",
 * "close_code", "ping_long"), -1 if none. */
int sim_badframe_kind(const char *name);

struct sim_frame {
    struct sim_frame *next;
    size_t len, cap; /* cap: bytes of room after LWS_PRE */
    int ping;
    int raw;      /* badframe: the bytes are a whole frame, written as they are */
    uint32_t nev; /* events carried (statistics) */
    int64_t ts;   /* timestamp of its oldest event (0: not recorded) */
    uint32_t stamp_off; /* offset of the 19-digit "sent_ns" value written at
                           the send (0: none) */
    int same_stamp;     /* duplicate fault: repeat the previous frame's stamp,
                           so the copy is byte for byte the original */
    unsigned char buf[]; /* LWS_PRE headroom, then len bytes */
};

/* A native batch frame: {"type":"batch","sent_ns":<19 digits>,"events":[...]}.
 * The stamp sits at a fixed offset and is overwritten in place just before
 * lws_write (CLOCK_REALTIME ns, never below the connection's previous
 * stamp). A batch grows until the connection is writeable or it reaches
 * SIM_BATCH_BYTES, so a tick makes one frame when the peer keeps up and
 * frames grow when it lags. */
#define SIM_BATCH_HEAD "{\"type\":\"batch\",\"sent_ns\":"
#define SIM_STAMP_DIGITS 19
#define SIM_BATCH_BYTES (256u << 10)

#define SIM_KSID_BOOK 0
#define SIM_KSID_TRADE 1
#define SIM_KSID_TICKER 2

/* One WebSocket connection; lives in lws's per-session memory. */
struct sim_conn {
    struct sim_server *srv;
    struct lws *wsi;
    struct sim_exch *x;
    int dialect;
    int ready;              /* established and linked */
    uint8_t *subs;          /* per instrument SIM_CH_* bits */
    uint32_t n_subs;        /* instruments with any bit */
    int combined;           /* binance /stream: wrap {"stream","data"} */
    uint32_t sid[3];        /* kalshi sids per channel (0: none) */
    uint64_t sseq[3];       /* kalshi per-sid seq */
    struct sim_frame *qhead, *qtail;
    size_t qbytes;          /* queued bytes, the open batch included */
    struct sim_frame *pend; /* native: the open batch (not yet queued) */
    size_t pend_hint;       /* size of the last batch cut: the next one
                               starts with room for about as much */
    int64_t last_stamp;     /* last sent_ns written (kept monotone) */
    int close_code;         /* pending close via the wsi timer */
    int tls_bye;            /* close_notify fault: alert sent, nothing more written */
    int64_t last_ping;
    size_t rp_idx;          /* replay: next recorded frame */
    int64_t rp_t0;          /* replay: when this connection started */
    struct tr_buf rx;       /* fragment reassembly */
    struct tr_buf out;      /* encoder scratch */
    struct tr_json_tok *toks; /* client message tokens (grown) */
    size_t toks_cap;
    struct sim_conn *next, *prev;
};

/* Per-tick encodings shared by all connections of one dialect. */
struct sim_tick {
    const struct tr_buf *json; /* native: event JSON texts, each followed by '\n'
                                  (the truth file's lines, written as is) */
    const size_t *off;         /* native: offset of event i; off[n] = end; text i
                                  is off[i] .. off[i+1] - 1 (without the '\n') */
};

/* Queues one text frame. `data` frames are subject to the duplicate and
 * malformed faults. Copies `p`. 0 or TR_ENOMEM / TR_EOVERLOADED (queue
 * limit: the connection is closed with 1008). */
int sim_conn_text(struct sim_conn *c, const char *p, size_t n, int data);
/* Same, for a data frame carrying `nev` events (counted when written). */
int sim_conn_data(struct sim_conn *c, const char *p, size_t n, uint32_t nev);
/* Native: appends one event text (n bytes) to the connection's open batch,
 * opening one if needed; `ts` is its timestamp (send-age figures). A batch
 * that reaches SIM_BATCH_BYTES is queued. 0 or TR_ENOMEM / TR_EOVERLOADED. */
int sim_conn_batch_add(struct sim_conn *c, const char *p, size_t n, int64_t ts);
/* Queues the open batch, if any, as a data frame (duplicate and malformed
 * faults apply). Called before any other frame is queued (order) and when
 * the connection is writeable. */
int sim_conn_seal(struct sim_conn *c);
/* The frame's bytes (after the LWS_PRE headroom). */
const unsigned char *sim_frame_text(const struct sim_frame *f);
int sim_conn_ping(struct sim_conn *c);
/* Writes queued frames (writeable callback). 0, or -1 to close. */
int sim_conn_write(struct sim_conn *c);
void sim_conn_free_queue(struct sim_conn *c);
/* Starts a close with `code` (1006: drop TCP without a close frame). */
void sim_conn_close(struct sim_conn *c, int code);
/* Sets channel bits for an instrument; honours the subscription limit.
 * Returns 0 or TR_EOVERLOADED (limit reached). */
int sim_conn_sub(struct sim_conn *c, uint32_t inst, uint8_t bits);
void sim_conn_unsub(struct sim_conn *c, uint32_t inst, uint8_t bits);
/* True if the unknown-market fault consumes this subscribe. */
int sim_fault_take_unknown(struct sim_exch *x);
/* Tokenizes a client message into the connection's token buffer (grown to
 * fit any message of that length); returns the tokens or NULL if the
 * message is not a JSON object. */
struct tr_json_tok *sim_conn_parse(struct sim_conn *c, const char *msg, size_t len);
/* Appends a JSON array of book levels [["p","s"(,"1")],...] of side s, best first. */
int sim_put_levels(struct tr_buf *b, const struct sim_exch *x, const struct sim_inst *in, int s,
                   int with_count);

/* ---- http.c: REST requests ---- */
#define SIM_ARGS_MAX 16
struct sim_req {
    const char *path; /* after the dialect prefix, e.g. "/products" */
    int post;
    int nargs;
    char key[SIM_ARGS_MAX][32];
    char val[SIM_ARGS_MAX][256];
};
struct sim_resp {
    int status;
    struct tr_buf body;
    char hname[32], hval[64]; /* one extra header ("retry-after:", "cb-after:") */
};
const char *sim_req_arg(const struct sim_req *rq, const char *key);
int sim_resp_json(struct sim_resp *rs, int status, const char *text);

/* Dialect operations (d_*.c). */
struct sim_dialect_ops {
    int (*open)(struct sim_conn *c, const char *uri, const struct sim_req *args);
    void (*rx)(struct sim_conn *c, const char *msg, size_t len);
    void (*publish)(struct sim_conn *c, const struct sim_ev *ev, size_t n,
                    const struct sim_tick *tk);
    void (*second)(struct sim_conn *c, int64_t now);
    void (*rest)(struct sim_exch *x, const struct sim_req *rq, struct sim_resp *rs);
    const char *(*status_path)(void);
};
extern const struct sim_dialect_ops sim_native_ops, sim_coinbase_ops, sim_binance_ops,
    sim_kalshi_ops;

/* ---- server.c: the program's loop, lws context and tick ---- */
struct sim_config {
    int port, control_port;     /* control_port 0: same port */
    uint64_t seed;
    unsigned dialects;          /* bit per enum sim_dialect */
    uint32_t instruments;
    double rate;                /* events/s, all dialects together */
    int64_t history_s;
    int64_t epoch_ns;           /* timestamp of event 0; <0: now */
    const char *truth;
    uint32_t max_subs;          /* 0: no limit */
    uint32_t markets_page;      /* Kalshi /markets page cap (0: 1000, Kalshi's maximum limit) */
    int tick_us;                /* generation tick in µs (0: SIM_TICK_US_DEFAULT) */
    uint64_t max_events;        /* per exchange: stop after this many (0: never) */
    const char *replay;
    double speed;
    size_t queue_limit;         /* bytes queued per connection before 1008 */
    size_t backpressure;        /* bench: pause generation while a queue holds more */
    const char *tls_cert;       /* PEM certificate (chain): serve TLS on port and rest_port */
    const char *tls_key;        /* PEM private key of tls_cert */
    int rest_port;              /* >0: REST on its own port, not on `port`; 0: same port */
};

#define SIM_TICK_US_DEFAULT 200

/* Age of events when written: event timestamp -> its frame handed to the
 * socket (native frames; the oldest event of each frame), in 10 µs buckets
 * up to 20 ms, the last bucket holding everything older. */
#define SIM_AGE_BUCKETS 2001
struct sim_age {
    uint64_t n, bucket[SIM_AGE_BUCKETS];
};
/* Quantile q (0..1) of the recorded ages in µs (bucket upper bound); 0 if none. */
double sim_age_quantile(const struct sim_age *a, double q);

struct sim_replay;
struct lws_context;
struct lws_vhost;

struct sim_server {
    struct sim_config cfg;
    uv_loop_t loop;
    struct lws_context *ctx;
    struct lws_vhost *vh, *cvh, *rvh; /* exchange, control, separate REST */
    uv_poll_t tick;             /* on tick_fd: a timerfd firing every tick_us */
    int tick_fd, tick_on;
    uv_timer_t second, grace;
    uv_signal_t sigint, sigterm;
    struct sim_exch x[SIM_D_COUNT];
    int active[SIM_D_COUNT];
    struct sim_truth truth;
    int has_truth;
    struct sim_conn *conns;
    struct sim_ev *evbuf;
    size_t evcap;
    struct tr_buf njson;
    size_t *noff;
    size_t noffcap;
    int64_t refuse_until;
    uint64_t ws_refused;        /* WebSocket handshakes refused (refuse, maintenance) */
    void *tls_ctx;              /* SSL_CTX of the stream port (tls.c; lws owns it) */
    uint64_t tls_full, tls_resumed; /* WebSocket TLS handshakes, full / resumed */
    uint64_t tls_notify_rx;     /* WebSocket connections whose client sent close_notify */
    uint64_t tls_rekeys;        /* tls_rekey faults applied */
    uint64_t client_close[17];  /* close frames from clients by code: 1000..1015, [16] others */
    uint64_t ev_generated, ev_sent, ev_written, frames_sent, bytes_sent;
    struct sim_age age;         /* native frames: event timestamp -> written */
    struct sim_replay *replay;
    int stopping, draining;
    int port_bound;
};

/* Builds everything and starts listening. 0 or TR_E* with a message. */
int sim_server_open(struct sim_server *s, const struct sim_config *cfg, struct tr_error *err);
/* Runs the loop until SIGINT/SIGTERM or sim_server_stop (which closes
 * every connection with 1001 first). */
int sim_server_run(struct sim_server *s);
void sim_server_stop(struct sim_server *s);
void sim_server_close(struct sim_server *s);
/* Closes every connection of `dialect` (-1: all) with `code`. */
void sim_server_close_conns(struct sim_server *s, int dialect, int code);
/* Writes out a status event for an exchange (maintenance start/end). */
void sim_server_status_event(struct sim_server *s, int dialect, const char *status);

/* ---- tls.c ---- */
/* A WebSocket connection over TLS was established / closed: counts a full
 * or resumed handshake, a close_notify received. Nothing without TLS. */
void sim_tls_established(struct sim_server *s, struct lws *wsi);
void sim_tls_closed(struct sim_server *s, struct lws *wsi);
/* tls_rekey fault: new session ticket keys for the stream port, and its
 * session cache flushed, so no earlier session resumes. 0 or TR_EINTERNAL. */
int sim_tls_rekey(struct sim_server *s);
/* close_notify fault: the TLS close alert, no close frame; the connection
 * stays open for the client to drop. */
void sim_tls_close_notify(struct sim_conn *c);

/* ---- fault.c ---- */
/* Applies fault `name` with request args to the server; fills the JSON
 * response. Returns the HTTP status. */
int sim_fault_apply(struct sim_server *s, const char *name, const struct sim_req *rq,
                    struct sim_resp *rs);
/* Called each second: ends expired faults (stall, maintenance). */
void sim_fault_tick(struct sim_server *s, int64_t now);
/* REST endpoints, as the faults' `endpoint=` argument names them. */
enum { SIM_EP_ANY = 0, SIM_EP_STATUS, SIM_EP_BOOK, SIM_EP_TRADES, SIM_EP_MARKETS };
/* The endpoint a dialect-relative REST path is (status when is_status). */
int sim_rest_endpoint(const char *path, int is_status);
/* REST gate: fills rs and returns 1 if a fault answers this request to
 * endpoint `ep` (SIM_EP_*). */
int sim_fault_rest(struct sim_server *s, struct sim_exch *x, int ep, struct sim_resp *rs);

/* ---- replay.c ---- */
int sim_replay_open(struct sim_server *s, const char *path, double speed, struct tr_error *err);
void sim_replay_free(struct sim_replay *r);
/* Sends what is due now; returns 1 when the recording is exhausted. */
int sim_replay_tick(struct sim_server *s, int64_t now);
void sim_replay_rest(struct sim_server *s, int dialect, const char *fullpath,
                     const struct sim_req *rq, struct sim_resp *rs);
void sim_replay_open_conn(struct sim_server *s, struct sim_conn *c);

/* ---- bench.c ---- */
/* Runs the publish-rate benchmark for `secs` and prints one JSON line.
 * Returns 0 when the client connected. */
int sim_bench_run(double secs, double rate, uint32_t inst, const char *truth, int tick_us);

/* ---- rawclient.c: a minimal blocking loopback HTTP/WebSocket client for
 * `ctl`, the tests and the benchmark (no lws: it must see raw behaviour). */
struct sim_rc {
    int fd;
    uint8_t *buf;
    size_t len, cap;
};
/* Connects to 127.0.0.1:port. 0 or negative TR_E*. */
int sim_rc_connect(struct sim_rc *c, int port, int timeout_ms);
void sim_rc_close(struct sim_rc *c);
/* One HTTP/1.1 request ("GET"/"POST") with Connection: close; returns the
 * status code (>0) and the body (malloc'd, NUL-terminated) and headers. */
int sim_http(int port, const char *method, const char *path, char **body,
             char **headers, int timeout_ms);
/* WebSocket handshake on `path`. 0 or TR_E*. */
int sim_ws_open(struct sim_rc *c, int port, const char *path, int timeout_ms);
int sim_ws_send(struct sim_rc *c, int opcode, const void *p, size_t n);
/* Reads one frame (reassembling continuations): *opcode, payload (malloc'd,
 * NUL-terminated, caller frees). Returns 0, TR_ETIMEDOUT, TR_ECLOSED (EOF
 * without a close frame: 1006) or TR_EIO. Pings are answered (pong) and
 * returned too. */
int sim_ws_recv(struct sim_rc *c, int *opcode, char **payload, size_t *n, int timeout_ms);

#endif
