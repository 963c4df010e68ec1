/* libtickraft: the client SDK. Connects to a list of tickraft nodes over nng
 * (tcp://, ipc://, tls+tcp://), subscribes to live streams, reads history
 * and makes admin calls. docs/sdk.md is the tour; docs/protocol.md the wire.
 *
 * Failover: every call and every subscription talks to one node at a time.
 * When that node stops answering (connection refused, reset, timeout) the
 * SDK moves to the next node in the list, round robin. A subscription then
 * re-subscribes there from its cursor: the per-stream native sequence of the
 * last event it delivered, which names the same event on every node. It
 * delivers nothing twice (events at or below the cursor are dropped) and
 * skips nothing (the node resumes each stream right after its cursor).
 *
 * Threads and ownership:
 *  - A struct tr_client may be used from several threads at once for
 *    admin calls and queries (each call uses its own nng context); open and
 *    close it from one thread, after every subscription is freed.
 *  - A struct tr_client_sub belongs to one thread at a time: call
 *    tr_client_sub_poll / _run / _cursor from one thread only. The only call
 *    allowed from another thread is tr_client_sub_stop.
 *  - Everything a tr_client_msg points to (stream key, payload, the decoded
 *    event's levels and raw frame) is owned by the subscription and valid
 *    until the next poll/callback on it; copy what you keep.
 *  - Tables returned by admin calls are owned by the caller
 *    (tr_client_table_free).
 * Every function returns 0 (or a count) on success and a negative TR_E*
 * code on failure, with a message in `err` (may be NULL). */
#ifndef TICKRAFT_CLIENT_H
#define TICKRAFT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "tickraft/error.h"
#include "tickraft/event.h"

struct tr_client;
struct tr_client_sub;

struct tr_client_options {
    const char *const *nodes; /* node URLs, e.g. "tcp://127.0.0.1:7411"; copied */
    size_t n_nodes;
    const char *token;        /* admin (and data, if the node wants one) token; NULL = none */
    const char *name;         /* client name sent in the handshake; NULL = "libtickraft" */
    int rpc_timeout_ms;       /* per request before trying the next node; default 3000 */
    /* TLS, for tls+tcp:// node URLs (nng's TLS; docs/sdk.md "TLS"). Paths are
     * copied; the files are read at each connect. */
    const char *tls_ca_file;       /* PEM: CA(s) the node's certificate must chain to;
                                      required for tls+tcp:// */
    const char *tls_cert_key_file; /* PEM: this client's certificate + key, for nodes that
                                      ask for one (tls_ca_file on the node); NULL = none */
    const char *tls_server_name;   /* name the node's certificate must carry; NULL = the
                                      host in the URL */
};

/* Opens a client (heap; free with tr_client_close). Connects lazily: the
 * first call dials the first node that answers the handshake. TR_EINVAL
 * (no nodes), TR_ENOMEM. `o` and its strings are copied. */
int tr_client_open(struct tr_client **out, const struct tr_client_options *o,
                   struct tr_error *err);
/* Closes the sockets and frees the client. NULL is a no-op. */
void tr_client_close(struct tr_client *c);

/* Connects now (handshake with the first node that answers, trying each
 * once). TR_ECONNREFUSED when none answers, TR_EVERSION when a node speaks
 * another major version, TR_EAUTH... */
int tr_client_connect(struct tr_client *c, struct tr_error *err);
/* URL of the node the client last talked to (static until the next call). */
const char *tr_client_node(const struct tr_client *c);

/* ---- tables (admin replies) ---- */
struct tr_client_table {
    size_t n_cols, n_rows;
    char **cols;  /* n_cols column names */
    char **cells; /* n_rows * n_cols cells, row-major, never NULL */
};
void tr_client_table_free(struct tr_client_table *t);

/* Admin call `cmd` ("status", "health", "metrics", "feeds", "backfill", ...)
 * with string arguments. On success *out (caller-owned) holds the reply
 * table. TR_EAUTH (bad or missing token), TR_EPERM (admin disabled on the
 * node), TR_ENOTFOUND (unknown command), TR_ECONNREFUSED (no node answers),
 * or the node's own error code with its message. */
int tr_client_admin(struct tr_client *c, const char *cmd, const char *const *args, size_t nargs,
                    struct tr_client_table *out, struct tr_error *err);

/* ---- delivered messages ---- */
enum tr_client_msg_type {
    TR_CLIENT_EVENT = 1,       /* an event of the stream */
    TR_CLIENT_FELL_BEHIND = 2, /* the node's retention dropped events this subscriber had not
                                * read yet: delivery continues at the oldest event kept. The
                                * cursor (tr_client_sub_cursor) still names the last event
                                * delivered before the hole. */
    TR_CLIENT_FAILOVER = 3,    /* the subscription moved to node `node` and resumed from its
                                * cursor there */
};

struct tr_client_msg {
    int type;               /* enum tr_client_msg_type */
    const char *stream;     /* "provider/kind/instrument", NUL-terminated */
    uint64_t seq;           /* the stream's native sequence */
    int64_t ts_ns;          /* event time */
    const uint8_t *payload; /* the msgpack event (tr_event_decode form) */
    size_t payload_len;
    struct tr_event ev;     /* payload decoded (levels/raw point into subscription memory) */
    int64_t recv_ns;        /* CLOCK_REALTIME when the batch holding it arrived */
    const char *node;       /* node URL that served it */
};

/* ---- history ---- */
enum tr_client_by { TR_CLIENT_BY_SEQ = 0, TR_CLIENT_BY_TIME = 1 };

struct tr_client_query {
    const char *stream; /* exact key "provider/kind/instrument" */
    int by;             /* enum tr_client_by */
    int64_t from, to;   /* inclusive; seq (as int64) or ns; to <= 0 means open-ended */
    uint32_t page;      /* events per page (per request); default 1000, max 10000 */
};

/* Called per event; return nonzero to stop early (the query then returns 0). */
typedef int (*tr_client_event_cb)(void *arg, const struct tr_client_msg *m);

/* Reads one page: events of `q` after *after_seq (0 = from the range start),
 * calling `cb` per event. On return *after_seq is the last seq delivered
 * and *more 1 when the range holds more. Returns the number of events. */
int tr_client_query_page(struct tr_client *c, const struct tr_client_query *q,
                         uint64_t *after_seq, int *more, tr_client_event_cb cb, void *arg,
                         struct tr_error *err);
/* Pages through the whole range (failing over between pages if a node
 * goes away). Returns the number of events delivered. */
int64_t tr_client_query(struct tr_client *c, const struct tr_client_query *q,
                        tr_client_event_cb cb, void *arg, struct tr_error *err);

/* ---- subscriptions ---- */
enum tr_client_start {
    TR_CLIENT_START_LATEST = 0,   /* only events committed from now on */
    TR_CLIENT_START_EARLIEST = 1, /* everything the node still keeps */
    TR_CLIENT_START_TIME = 2,     /* events with ts_ns >= start_ts */
    TR_CLIENT_START_CURSOR = 3,   /* right after a cursor saved by tr_client_sub_cursor */
};

struct tr_client_sub_options {
    const char *provider;   /* glob on the provider, NULL = any */
    const char *kind;       /* glob on the stream kind ("trade", ...), NULL = any */
    const char *instrument; /* glob on the instrument, NULL = any */
    int start;              /* enum tr_client_start */
    int64_t start_ts;       /* TR_CLIENT_START_TIME */
    const uint8_t *cursor;  /* TR_CLIENT_START_CURSOR: bytes from tr_client_sub_cursor */
    size_t cursor_len;
    uint32_t batch;         /* max events per fetch; default 4096 */
    int wait_ms;            /* server long-poll per fetch; default 200 */
    int no_decode;          /* 1: leave m->ev empty (payload only), saves ~120 ns/event */
    unsigned pipeline;      /* FETCHes kept outstanding at the node (1..4, default 2): with 2 the
                             * next one already waits there while this thread delivers a batch,
                             * so new events need no round trip; 1 = one at a time. A 1.0 node
                             * always gets 1. At most pipeline x batch events are in flight. */
    int live;               /* 1: receive events as soon as the node has written them to its
                             * log's file (page cache), before they are durable there: one
                             * fsync less latency (~0.1-0.3 ms), at a price. A node that
                             * crashes (power, kernel; a killed process keeps its written
                             * records) may lose events this subscriber already got. The
                             * cursor is unchanged (native seq per stream), so on resume the
                             * node's re-collected copies are skipped: nothing twice, nothing
                             * skipped. But what that node could not collect again exists
                             * nowhere in its log (a gap event marks the hole there) while
                             * this subscriber has seen it, and another node's log need not
                             * hold it either. Use it for trading/signals that want the
                             * freshest tick; use the default (0, durable only) for anything
                             * that must agree with the stored history (backtests, audits,
                             * aggregates written elsewhere). Needs a 1.2 node: an older one
                             * gives TR_EUNSUPPORTED (at subscribe, or from poll on failover
                             * to it), never durable-only delivery. */
};

/* Subscribes (heap; free with tr_client_sub_free). The subscription has its
 * own connection; it borrows `c`, which must outlive it. */
int tr_client_subscribe(struct tr_client *c, const struct tr_client_sub_options *o,
                        struct tr_client_sub **out, struct tr_error *err);
/* Next message: 1 and *m filled, 0 when nothing arrived within timeout_ms
 * (-1 waits until a message or tr_client_sub_stop), or an error: TR_ECLOSED
 * (stopped), TR_ECONNREFUSED (every node failed in a row for longer than
 * the rpc timeout; polling again retries), TR_EAUTH, TR_EPROTO. */
int tr_client_sub_poll(struct tr_client_sub *s, struct tr_client_msg *m, int timeout_ms,
                       struct tr_error *err);
/* Callback mode: calls `cb` for every message until it returns nonzero
 * (returns 0), tr_client_sub_stop (TR_ECLOSED) or an error. Runs on the
 * calling thread. */
int tr_client_sub_run(struct tr_client_sub *s, tr_client_event_cb cb, void *arg,
                      struct tr_error *err);
/* Makes poll/run return TR_ECLOSED soon (within the long-poll wait). Any thread. */
void tr_client_sub_stop(struct tr_client_sub *s);
/* Appends the opaque cursor of the last event delivered to `out`
 * (caller-owned buffer). Works on every node of the cluster. */
int tr_client_sub_cursor(struct tr_client_sub *s, struct tr_buf *out);

struct tr_client_sub_stats {
    uint64_t events;      /* delivered */
    uint64_t duplicates;  /* dropped because at or below the cursor */
    uint64_t failovers;   /* node changes */
    uint64_t fell_behind; /* FELL_BEHIND notices */
    uint64_t fetches;     /* requests sent */
};
void tr_client_sub_stats(const struct tr_client_sub *s, struct tr_client_sub_stats *st);
/* Unsubscribes (best effort) and frees. NULL is a no-op. */
void tr_client_sub_free(struct tr_client_sub *s);

/* Hex form of a cursor, for command lines and files (2 chars per byte). */
int tr_client_cursor_to_hex(const uint8_t *p, size_t n, struct tr_buf *out);
int tr_client_cursor_from_hex(const char *hex, struct tr_buf *out, struct tr_error *err);

#endif
