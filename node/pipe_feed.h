/* A feed's connections and REST poller (pipe_conn.c, pipe_rest.c) and the
 * node that owns them (pipe_node.c). Internal to node/. */
#ifndef TR_NODE_PIPE_FEED_H
#define TR_NODE_PIPE_FEED_H

#include "pipe.h"
#include "ws.h"
#include "pipe_tlsmem.h"

struct pipe_node;
struct pipe_feed;
struct lws_vhost;

enum pc_state { PC_IDLE = 0, PC_CONNECTING, PC_OPEN, PC_CLOSING };

/* Reconnect causes counted per feed (metrics: reconnects by cause). */
enum pc_cause {
    PC_C_CLOSE_1000 = 0, PC_C_CLOSE_1001, PC_C_CLOSE_1006, PC_C_CLOSE_1008, PC_C_CLOSE_1011,
    PC_C_CLOSE_OTHER, PC_C_REFUSED, PC_C_PING_TIMEOUT, PC_C_ROTATE, PC_C_RESYNC,
    PC_C_TLS, /* the server's certificate failed verification (unknown CA, wrong name) */
    PC_C_MAX
};
const char *pc_cause_name(int c);
/* The cause a close code counts as (close_1000 ... close_other). */
int pc_cause_of(int code);

struct pipe_conn {
    struct pipe_feed *feed;
    int slot;                 /* index in feed->conn */
    struct lws *wsi;
    int state;                /* enum pc_state */
    int peer_code;            /* close code the peer sent (0: none) */
    int close_code;           /* close we initiated (0: none) */
    int retiring;             /* rotation: old connection being replaced */
    int incoming;             /* rotation: new connection not yet promoted */
    int resync;               /* closed by us after a per-subscription seq hole */
    int succ_of;              /* overflow rotation: the group (slot) whose markets this
                                 new connection subscribes, until it takes them over (0: none) */
    int64_t succ_sub_ns;      /* ... when it was subscribed (0: not yet) */
    uint64_t succ_old_frames; /* ... the old one's frames by then */
    struct { uint64_t sid, last; } sids[8]; /* per-subscription seq (Kalshi) */
    size_t n_sids;
    int subscribed;
    struct tr_provider prov;
    int prov_ok;
    int inited;               /* frame / rx / tx initialised */
    struct tr_frame frame;
    struct tr_buf rx;         /* the upgrade answer while it arrives */
    struct tr_buf tx;         /* pending subscribe messages (payloads) */
    size_t tx_len;            /* unused: kept for layout clarity */
    size_t txq_off[PIPE_MAX_INST + 1], txq_len[PIPE_MAX_INST + 1];
    size_t txq_n, txq_i;      /* messages queued / sent */
    int per_inst;             /* subscribing one market per request (to find a bad one) */
    int reask_due;            /* a limit refusal named no market: ask again for the rest (reask_timer) */
    int64_t opened_ns, last_rx_ns, first_data_ns; /* last_rx_ns: any byte received */
    uint64_t frames, data_frames;
    /* the WebSocket transport (pipe_ws.c) */
    int ws_inited;            /* dec / wout initialised */
    int tls_on;               /* wss://: the bytes go through tls (pipe_tlsmem.c) */
    int tls_rejected;         /* the server's certificate failed the check (cause tls) */
    struct pipe_tlsmem tls;   /* wss://: this connection's session (ssl NULL: none) */
    struct tr_buf plain;      /* wss://: the plaintext of the last read */
    struct tr_buf wtls;       /* wss://: ciphertext to send, after LWS_PRE bytes */
    struct ws_dec dec;
    struct tr_buf wout;       /* encoded frames to send, after LWS_PRE bytes */
    char ws_key[WS_KEY_LEN + 1]; /* our Sec-WebSocket-Key */
    int hs_done;              /* the 101 answer checked out */
    int hs_status;            /* HTTP status of a refused upgrade (0: none) */
    int ping_out;             /* a ping went out since the last byte received */
    int ping_timeout;         /* we hung up: silent past hangup_s */
    int proto_err;            /* we closed for a protocol error: the code sent */
    int drop_after_write;     /* the peer's close was answered: drop once written */
    int64_t close_sent_ns;    /* our close frame was queued (0: not) */
    int64_t tls_start_ns;     /* wss://: when the ClientHello was made (handshake time) */
    /* the connection actor that owns this socket (pipe_lact.c): set when it
     * opens, moved to the primary one when a rotation promotes it; NULL
     * when the node runs without actors */
    struct tr_lact *act;
};

/* Roles of a feed's connection actors (pipe_lact.c), an index into
 * pipe_feed.conn_act: the primary ("conn-<feed>", permanent: the active
 * connection and the one a rotation retires), a rotation's incoming one
 * ("conn-<feed>.next") and overflow slot s >= 2 ("conn-<feed>.<s>"), both
 * transient: they exist while their socket has a job. */
enum { PL_PRIMARY = 0, PL_NEXT = 1 };

/* What a connection actor's spec points at (stable: inside the feed). */
struct pipe_conn_ref {
    struct pipe_feed *f;
    int role;
    int by_node;              /* started by the node, which opens the socket after */
};

struct pipe_bfjob;

struct pipe_rest_req {
    uint8_t kind;             /* TR_REST_TRADES / BOOK / STATUS */
    struct pd_stream *s;
    struct pipe_bfjob *job;   /* an operator backfill job's page (pipe_bfjob.c), else NULL */
    char path[1024];          /* the path requested (raw capture records it) */
    uint32_t attempts;        /* answers that asked for a retry (429, 5xx, none) */
    int64_t due_ns;           /* rq_later: when it goes back in the queue */
    struct pipe_rest_req *next;
};

#define PIPE_HTTP_CODES 8 /* counted statuses: 2xx 400 401 403 404 429 5xx other */

/* Trade messages a connection group's subscription missed (Kalshi seq),
 * and what the repairs after it wrote (pipe_loss.c). */
struct pipe_loss {
    uint64_t missed;          /* missed, repairs not started yet */
    uint64_t missed_now;      /* missed, covered by the repairs under way */
    uint64_t written;         /* trades those repairs wrote */
    int pending;              /* repairs under way */
};

struct pipe_feed {
    struct pipe_node *node;
    const struct pipe_feed_cfg *cfg;
    const struct tr_provider_ops *ops;
    int idx;
    /* 0-1: the active connection + the incoming one of a rotation (either
     * slot may be active); 2..: overflow connections for shed markets */
    struct pipe_conn conn[PIPE_CONN_SLOTS];
    int active;
    uv_timer_t retry_timer, rotate_timer;
    uv_timer_t overlap_timer; /* rotation: promotes the incoming connection */
    int64_t rot_sub_ns;       /* rotation: when the incoming one was subscribed */
    uint64_t rot_old_frames;  /* rotation: the old one's frames by then */
    uint32_t attempt;
    int64_t retry_at_ns;
    uint8_t dropped[PIPE_MAX_INST];
    /* subscription-limit shedding (pipe_shed.c): which connection subscribes
     * market i (0: the primary pair, s >= 2: overflow slot s, -1: shed and
     * waiting for a place), and whether its subscription there is still
     * unanswered */
    int8_t home[PIPE_MAX_INST];
    uint8_t confirming[PIPE_MAX_INST];
    uv_timer_t shed_timer;    /* places shed markets, reopens overflow connections */
    int64_t shed_due_ns;      /* when shed_timer fires (0: not armed) */
    uint32_t shed_attempt;    /* at the bound: asks refused in a row (backoff) */
    uint32_t x_attempt;       /* overflow reconnects in a row (backoff) */
    uint64_t shed_total, resubscribed;
    uv_timer_t reask_timer;   /* asks again for the rest once a request's refusals are in */
    uv_timer_t xrot_timer;    /* overflow rotations: takes over the markets after the overlap */
    uint64_t x_rotations;     /* overflow connections rotated make-before-break */
    int halted_ws;            /* unknown channel / 1008 repeated: needs an operator */
    struct lws_vhost *vhost;  /* https://: the client vhost holding its CA bundle; NULL =
                                 the context's default one (pipe_tls.c) */
    SSL_CTX *tls_ctx;         /* wss://: the client context its sessions verify with
                                 (one reference; pipe_tls_ws_ctx) */
    struct pipe_tlsmem_cache tls_cache; /* wss://: the session the next connection
                                 offers (pipe_tlsmem.c; freed by pipe_tls_ws_ctx_free) */
    uint64_t tls_full, tls_resumed; /* wss:// handshakes done: full / resumed */
    uint64_t tls_notify_in, tls_notify_out; /* close_notify received / sent */
    /* REST */
    struct lws *rwsi;
    struct pipe_rest_req *rq_head, *rq_tail, *inflight;
    struct tr_buf rbody;
    int rstatus, rdone;
    int retry_after_s;
    uv_timer_t rest_timer;
    int rest_waiting;
    uint32_t rest_attempt;
    int halted_rest;
    int maintenance;          /* the status endpoint reported maintenance (pipe_maint.c) */
    int64_t resume_ns;        /* its announced resume time (0: none) */
    int64_t maint_since_ns;   /* this maintenance's first report (the bound counts from it) */
    int ws_hold;              /* enum pm_hold: WebSocket (re)connects wait for the status */
    int64_t held_since_ns;    /* when the current hold began */
    uint64_t held_delay_ms;   /* PM_HOLD_CHECK: the backoff the reconnect would have taken */
    int status_urgent;        /* a status poll goes ahead of a REST backoff wait */
    uint64_t ws_attempts;     /* WebSocket connection attempts, every slot */
    uint64_t maint_windows, maint_held_ms;
    struct pipe_rest_req *rq_later; /* skipped book snapshots, asked again when due */
    uv_timer_t later_timer;
    uint64_t snapshots_skipped;
    struct pipe_loss loss[PIPE_CONN_SLOTS]; /* per connection group (pipe_loss.c) */
    uint64_t loss_missed_total, loss_lost_total;
    struct tr_frame rframe;
    /* market registry (refreshed every registry_refresh_s; retried forever) */
    uv_timer_t registry_timer;
    uint32_t registry_attempt;
    uint64_t registry_listed, registry_missing, registry_refreshes;
    char reg_cursor[TR_CURSOR_MAX]; /* the next page of the market list ("" = the first) */
    struct tr_buf reg_names;  /* names of the pages read so far (NUL-terminated) */
    size_t reg_n;
    uint32_t reg_pages, reg_pages_last; /* pages read in this / the last full refresh */
    /* figures */
    uint64_t reconnects[PC_C_MAX];
    uint64_t frames, events, malformed, sub_errors, alerts, rotations;
    uint64_t ws_errors;       /* frames that broke RFC 6455 (also counted in malformed) */
    uint64_t rest_ok, rest_codes[PIPE_HTTP_CODES], rest_conn_errors;
    int connected;
    int paused;               /* an operator paused it (pipe_admin.c); not persisted */
    uint64_t raw_seq, raw_records, raw_errors; /* raw capture (pipe_raw.c) */
    char raw_key[PIPE_NAME_MAX + 8]; /* "raw/<feed>": the writer keeps a pointer to it */
    /* its loop actors (pipe_lact.c), NULL when the node runs without them:
     * connection actors by role (PL_*; NULL until first needed) and the
     * REST poller */
    struct tr_lact *conn_act[PIPE_CONN_SLOTS], *poll_act;
    struct pipe_conn_ref conn_ref[PIPE_CONN_SLOTS];
};

/* pipe_conn.c */
/* Opens connection `slot` of the feed (async). With actors, through the
 * connection actor of the slot's role (pipe_lact_conn_open): started
 * first if it is not running; 0 without opening anything while it waits
 * for its restart (which opens it). < 0: the connect failed at once. */
int pipe_conn_open(struct pipe_feed *f, int slot);
/* The socket itself (the actor's owner set in c->act by the caller). */
int pipe_conn_connect(struct pipe_feed *f, int slot);
/* Makes the rotation's incoming connection c the active one (owned by
 * the primary actor from now on; the rotation's actor ends). */
void pipe_feed_promote(struct pipe_feed *f, struct pipe_conn *c);
/* The transport's events (pipe_ws.c -> pipe_conn.c): the upgrade was
 * accepted (state PC_OPEN; subscribe; < 0 drops the socket), a whole
 * message arrived (borrowed for the call), the connection ended with
 * `cause` (enum pc_cause) and close `code` (reconnect per policy). */
int pipe_conn_established(struct pipe_conn *c);
void pipe_conn_message(struct pipe_conn *c, const char *p, size_t len);
void pipe_conn_ended(struct pipe_conn *c, int cause, int code);
/* A connection attempt failed (lws's CLIENT_CONNECTION_ERROR with its
 * text: TCP): logs why and returns the cause, PC_C_REFUSED. */
int pipe_conn_failed(struct pipe_conn *c, struct lws *wsi, const void *in, size_t len);
/* A TLS handshake failed: `why` says why (borrowed). A rejected certificate
 * (`cert`) is logged as the alert and returns PC_C_TLS; anything else a
 * warning and PC_C_REFUSED. */
int pipe_conn_tls_failed(struct pipe_conn *c, const char *why, int cert);

/* pipe_ws.c: the transport (lws raw socket + RFC 6455, node/ws.h) */
/* The lws protocol callback of provider connections ("tr-ws"). */
int pipe_conn_protocol_cb(struct lws *wsi, int reason, void *user, void *in, size_t len);
/* Starts connecting c (async; lws client connect info set up here only). */
int pipe_ws_connect(struct pipe_conn *c);
/* Asks for a writeable callback (queued subscriptions in c->txq). */
void pipe_ws_want_write(struct pipe_conn *c);
/* Starts a clean close of a connection with `code` (sent as a close
 * frame; before the upgrade is answered the socket is just dropped). */
void pipe_conn_close(struct pipe_conn *c, int code);
void pipe_feed_start(struct pipe_feed *f);
/* "paused", "rest halted", "maintenance", "collecting" or "connecting". */
const char *pipe_feed_state(const struct pipe_feed *f);
/* (Re)starts the scheduled rotation timer (no-op without `rotate`). */
void pipe_feed_start_rotation(struct pipe_feed *f);
/* Rotation: open a second connection, retire the first once it overlaps. */
void pipe_feed_rotate(struct pipe_feed *f);

/* The connection group a connection serves: 0 for the primary pair,
 * its slot for an overflow connection (the `home` of its markets). */
static inline int pipe_conn_group(const struct pipe_conn *c) { return c->slot < 2 ? 0 : c->slot; }
/* The markets a connection subscribes: its group's, or for an overflow
 * rotation's new connection those of the group it takes over. */
static inline int pipe_conn_sub_group(const struct pipe_conn *c)
{
    return c->succ_of ? c->succ_of : pipe_conn_group(c);
}
/* The other slot of overflow slot s's pair (the rotation's successor). */
static inline int pipe_ovf_partner(int s)
{
    return s < 2 + PIPE_OVF_PAIR ? s + PIPE_OVF_PAIR : s - PIPE_OVF_PAIR;
}
/* Subscribes markets `idx` (n of them, indices into the feed's
 * instruments) on open connection `c` in addition to what it has. */
int pipe_conn_subscribe_more(struct pipe_conn *c, const int *idx, size_t n);
/* Backfills trade stream of market i (a subscription now covers it). */
void pipe_feed_resume_market(struct pipe_feed *f, size_t i);

/* (Re)connects the feed's primary connection in `delay_ms` (if it is idle)
 * and reopens its overflow connections: the end of a maintenance hold. */
void pipe_feed_reconnect_in(struct pipe_feed *f, uint64_t delay_ms);

/* pipe_maint.c: exchange maintenance (docs/node.md "Exchange maintenance").
 * While the provider's status endpoint reports maintenance, the feed's
 * WebSocket (re)connects wait (PM_HOLD_MAINT) until it reports open, for at
 * most maintenance_max from the first report; a close 1001 or a refused
 * connection first asks the status (PM_HOLD_CHECK) before reconnecting. */
enum pm_hold { PM_HOLD_NONE = 0, PM_HOLD_CHECK, PM_HOLD_MAINT };
/* Connection ended with cause/code and would reconnect after delay_ms:
 * 1 when the reconnect is held instead (the caller starts no timer). */
int pipe_maint_hold_ws(struct pipe_feed *f, int cause, int code, uint64_t delay_ms);
/* A status answer (TR_XSTATUS_*, resume_ns 0 = no time announced).
 * Returns the delay before the next status poll, 0 when none is needed. */
uint64_t pipe_maint_status(struct pipe_feed *f, int status, int64_t resume_ns);
/* The status poll got no usable answer while no maintenance was known:
 * a held reconnect goes ahead with its own backoff. */
void pipe_maint_status_unknown(struct pipe_feed *f);
/* The wait before polling the status again: until the announced resume
 * time plus a margin, capped at poll_ms; poll_ms without a time in the
 * future (the reference's 30 s). Pure, for the unit test. */
uint64_t pipe_maint_poll_ms(int64_t now_ns, int64_t resume_ns, uint32_t poll_ms);
/* 1 while reconnects may be held: maintenance reported less than max_ms ago. */
int pipe_maint_within_bound(int64_t now_ns, int64_t since_ns, uint64_t max_ms);

/* pipe_loss.c: trade losses no sequence pins on a market (Kalshi). The
 * subscription of connection group g skipped n trade messages; its
 * streams' repairs started (after the resubscription); one of them is done
 * (its backfill ended). When all are done and fewer trades were written
 * than were missed, every trade stream of the group gets a gap event. */
void pipe_loss_missed(struct pipe_feed *f, int g, uint64_t n);
void pipe_loss_repairs_started(struct pipe_feed *f, int g);
void pipe_loss_repair_done(struct pipe_feed *f, struct pd_stream *s);
/* The group a skip of n trade messages on connection c's subscription
 * counts for: the group whose markets it subscribes (an overflow
 * rotation's new connection: the old one's), or -1 when the rotation's
 * other connection of those markets is open and subscribed (it delivers
 * them, or counts its own skip). Pure. pipe_loss_skipped counts it (or
 * logs why not). */
int pipe_loss_skip_group(const struct pipe_feed *f, const struct pipe_conn *c);
void pipe_loss_skipped(struct pipe_conn *c, uint64_t n);
/* The markets of group `from` moved to group `to` (an overflow rotation's
 * new connection took them over): its counters and the repairs under way
 * (streams of the feed in `all`, the deduplicator's list) go with them. */
void pipe_loss_moved(struct pipe_feed *f, struct pd_stream *all, int from, int to);

/* pipe_shed.c: markets a subscription limit refused go to an overflow
 * connection of the feed (up to max_connections) or, at that bound, are
 * asked for again with backoff on the connection with the fewest markets */
void pipe_shed_init(struct pipe_feed *f, uv_loop_t *loop);
void pipe_shed_close(struct pipe_feed *f); /* uv_close of the timer */
/* Connection c's subscription of market i was refused for a limit (i < 0:
 * not named; the last one asked on c is taken). Returns the market shed,
 * or -1 when none could be named. */
int pipe_shed_market(struct pipe_feed *f, struct pipe_conn *c, int i);
/* A limit refusal that named no market may have failed the whole request
 * (Coinbase, Kalshi): asks again on c for the markets c still serves
 * (already subscribed ones are acknowledged again at no cost). */
void pipe_shed_ask_rest(struct pipe_feed *f, struct pipe_conn *c);
/* The same, ~100 ms later (after the other refusals of the request that
 * drew this one); c (owned by f) is asked then if still open. */
void pipe_shed_reask_later(struct pipe_feed *f, struct pipe_conn *c);
/* Connection group g's subscription was answered: its markets awaiting an
 * answer are subscribed (their trade streams resume when `resume`). */
void pipe_shed_confirmed(struct pipe_feed *f, int g, int resume);
/* Markets connection group g subscribes (not dropped). */
int pipe_shed_group_size(const struct pipe_feed *f, int g);
/* Overflow connection c ended: reconnect it (backoff per close code)
 * unless it has no markets left (then its actor ends). */
void pipe_shed_conn_ended(struct pipe_conn *c, int cause, int code);
/* (Re)opens overflow connections and places shed markets soon (start,
 * resume after a pause); pipe_shed_stop stops doing so. */
void pipe_shed_kick(struct pipe_feed *f);
void pipe_shed_stop(struct pipe_feed *f);
/* Make-before-break for overflow connections (the feed's rotation: the
 * schedule, SIGUSR1): each open, subscribed overflow connection gets a new
 * one on its pair's other slot subscribing the same markets; rotate_overlap
 * after that one is subscribed it takes the markets over and the old one
 * is closed with 1000 (its actor then ends: no markets left). */
void pipe_xrot_rotate(struct pipe_feed *f);
/* Overflow connection c (an old one, or a rotation's new one) ended: 1
 * when the rotation handled it (the new one promoted at once, or the
 * rotation is over), 0 for the usual handling. */
int pipe_xrot_ended(struct pipe_conn *c, int cause);
/* The rotation's new connection c was subscribed: the overlap starts. */
void pipe_xrot_subscribed(struct pipe_conn *c);
/* 1 while overflow slot s is a rotation's new connection that may still
 * go on (its restart reconnects it). */
int pipe_xrot_pending(const struct pipe_feed *f, int s);
/* Markets shed and not subscribed again yet (status), and open
 * connections of the feed. */
size_t pipe_shed_pending(const struct pipe_feed *f, int *idx, size_t max);
int pipe_feed_open_conns(const struct pipe_feed *f);

/* pipe_raw.c: raw capture (raw_capture = on), no-ops when the feed has it off */
void pipe_raw_open(struct pipe_conn *c);                          /* connection established */
void pipe_raw_frame(struct pipe_conn *c, const void *p, size_t len, int64_t recv_ns);
void pipe_raw_sent(struct pipe_conn *c, const void *p, size_t len); /* a frame we sent */
/* A 2xx REST answer to `path` (as requested, rest_prefix included). */
void pipe_raw_rest(struct pipe_feed *f, const char *path, const void *body, size_t len);

/* pipe_rest.c */
int pipe_rest_protocol_cb(struct lws *wsi, int reason, void *user, void *in, size_t len);
void pipe_rest_enqueue(struct pipe_feed *f, int kind, struct pd_stream *s);
/* Queues the next trades page of a backfill job (after the live repairs). */
void pipe_rest_enqueue_job(struct pipe_feed *f, struct pipe_bfjob *job);
/* The adapter's view of request r (path builder and body parser both get
 * it: Binance's depth answer does not name its symbol, so BOOK requests
 * must carry the stream's instrument). */
void pipe_rest_build_req(const struct pipe_feed *f, const struct pipe_rest_req *r,
                         struct tr_rest_req *q);
void pipe_rest_pump(struct pipe_feed *f);
/* Delay before retrying request r after `attempt` failures (429, 5xx, no
 * answer): book snapshots use snapshot_backoff_*, everything else
 * rest_backoff_*; `rnd` draws the 0-25 % jitter. */
uint64_t pipe_rest_retry_ms(const struct pipe_feed_cfg *cfg, const struct pipe_rest_req *r,
                            uint32_t attempt, uint64_t rnd);
int pipe_rest_busy(const struct pipe_feed *f);
/* Frees the skipped snapshots set aside (their streams stay req_out: the
 * poller's restart queues them again). */
void pipe_rest_drop_later(struct pipe_feed *f);
/* Asks the exchange status now, ahead of the queue and of a backoff wait
 * (the answer goes to pipe_maint_status). */
void pipe_rest_status_now(struct pipe_feed *f);
/* 1 when a book snapshot that failed `attempts` times (429, 5xx, no
 * answer) is skipped: an explicit gap, asked again later. Pure. */
int pipe_rest_snapshot_skip(const struct pipe_feed_cfg *cfg, const struct pipe_rest_req *r);
/* Market registry: fetch now; on failure retry with the registry backoff. */
void pipe_registry_start(struct pipe_feed *f);

/* pipe_tls.c: TLS to providers. The CA bundle of the first TLS feed goes
 * on the context (the default vhost), with OpenSSL's initialisation;
 * nothing when no feed uses TLS. */
struct lws_context_creation_info;
struct lws_protocols;
const char *pipe_tls_context_ca(const struct pipe_cfg *cfg);
void pipe_tls_context_info(const struct pipe_cfg *cfg, struct lws_context_creation_info *info);
/* After the context exists: gives each feed whose ca_file differs from the
 * context's a client vhost holding it (f->vhost; feeds naming the same
 * file share one). TR_ECONFIG naming the feed and file when lws cannot
 * load it. The vhosts go with the context. */
int pipe_tls_vhosts(struct lws_context *ctx, const struct lws_protocols *protocols,
                    struct pipe_feed *feeds, size_t n, struct tr_error *err);
/* Gives each wss:// feed the OpenSSL client context its connections'
 * sessions (pipe_tlsmem) verify with: f->tls_ctx, shared (one reference
 * each) by feeds naming the same ca_file. TR_ECONFIG naming the feed and
 * file, TR_ENOMEM. pipe_tls_ws_ctx_free drops every feed's reference
 * (also after a failure). */
int pipe_tls_ws_ctx(struct pipe_feed *feeds, size_t n, struct tr_error *err);
void pipe_tls_ws_ctx_free(struct pipe_feed *feeds, size_t n);
/* A server certificate of feed `f` failed the check (`why`): the alert,
 * counted in f->alerts and logged by `component` (conn, rest) with the
 * host, port and the feed's CA file. */
void pipe_tls_cert_alert(struct pipe_feed *f, const char *component, const char *host, int port,
                         const char *why);
/* Certificates in the PEM file `path` (0: none, the file is not a CA
 * bundle), or -1 when it cannot be opened. */
int pipe_tls_ca_count(const char *path);
/* lws_client_connect_info.host for `name`: "name:port" in `buf` when the
 * port is not the scheme's default, else `name`. */
const char *pipe_tls_host(char *buf, size_t cap, const char *name, int port, int tls);
/* lws_client_connect_info.ssl_connection for an endpoint: verified TLS or
 * nothing. */
int pipe_tls_flags(int tls);
/* Both protocol callbacks hand LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION
 * here first (its `user` is OpenSSL's X509_STORE_CTX, not the connection's
 * data): a failed check is noted for wsi. Returns 0, which leaves OpenSSL's
 * verdict as it is. */
int pipe_tls_verify_cb(struct lws *wsi, void *x509_ctx, size_t preverify_ok);
/* Why wsi's handshake failed verification ("unable to get local issuer
 * certificate (depth 0)", "hostname mismatch (depth 0)"), or NULL when it
 * did not. Consumes the note; the text lives until the next handshake on
 * this thread. */
const char *pipe_tls_failure(const struct lws *wsi);

/* pipe_lwslog.c: lws's own (error) log lines go to `lg` as component=lws
 * lines from now on, process-wide. */
struct tr_nlog;
void pipe_lws_log_to(struct tr_nlog *lg);

/* pipe_node.c: services the feeds use */
struct lws_context *pipe_node_lws(struct pipe_node *n);
struct pipe_dedup *pipe_node_dedup(struct pipe_node *n);
/* The send stamp (ns, 0: none) of the frame whose events are being offered
 * to the deduplicator now: live events emitted meanwhile take it as the
 * start of their provider-to-durable latency. */
void pipe_node_set_frame_sent(struct pipe_node *n, int64_t sent_ns);
struct tr_nlog *pipe_node_log(struct pipe_node *n);
int pipe_node_stopping(struct pipe_node *n);
int pipe_node_accepting(struct pipe_node *n); /* still taking data frames */
uint64_t pipe_node_rand(struct pipe_node *n);
int64_t pipe_now_ns(void); /* CLOCK_REALTIME */
void pipe_node_fatal(struct pipe_node *n, int code, const char *what);
size_t pipe_node_n_feeds(struct pipe_node *n);
struct pipe_feed *pipe_node_feed(struct pipe_node *n, size_t i);
/* Refreshes the snapshot other threads read (after an admin command). */
void pipe_node_refresh_snapshot(struct pipe_node *n);
struct pipe_writer *pipe_node_writer(struct pipe_node *n);
uv_loop_t *pipe_node_loop(struct pipe_node *n);
unsigned pipe_node_origin(struct pipe_node *n); /* the node id stamped on events */
/* The loop supervisor of the feeds' actors (pipe_lact.c) and the fault
 * hooks it reads; NULL without them. */
struct tr_lsup;
struct pipe_lact_faults;
struct tr_lsup *pipe_node_lsup(struct pipe_node *n);
void pipe_node_set_lsup(struct pipe_node *n, struct tr_lsup *sup);
struct pipe_lact_faults *pipe_node_lact_faults(struct pipe_node *n);
void pipe_node_set_lact_faults(struct pipe_node *n, struct pipe_lact_faults *fx);

#endif
