/* The transport of a provider connection: an lws *raw* client socket on
 * the node's libuv loop (lws keeps TCP connect, the loop integration and
 * the per-connection timer) carrying RFC 6455 done by the node's own codec
 * (node/ws.h), over TLS done by the node too for wss:// (pipe_tlsmem.c).
 * lws's WebSocket client parsed payload one byte per call, about half of
 * the node's CPU at 700k events/s; here a receive buffer is decoded in
 * place and whole messages reach the adapter without a copy (docs/node.md
 * "Connections").
 *
 * One connection's life: connect (lws) -> RAW_CONNECTED: send the upgrade
 * request -> RAW_RX until the 101 answer checks out (a refusal is logged
 * with its HTTP status and counts as a refused connection) -> PC_OPEN:
 * pipe_conn_established subscribes, messages go to pipe_conn_message ->
 * a close frame from either side (we answer the peer's with its code and
 * drop the socket once ours went out; after sending ours we wait up to
 * CLOSE_WAIT_MS for the answer) -> RAW_CLOSE: pipe_conn_ended with the
 * cause. The per-wsi lws timer does the heartbeat rule of the feed: a
 * ping after ping_s without any byte received, a hang-up (cause
 * ping_timeout) after hangup_s; it also bounds the upgrade and the close.
 * A frame that breaks RFC 6455 closes the connection with 1002 (1009 past
 * the size bounds), counted as malformed and logged.
 *
 * wss://: Debian's lws 4.1.6 cannot start TLS on a raw client (it starts
 * the handshake before the socket is connected, lws issue #2916), so the
 * raw socket carries ciphertext: RAW_CONNECTED opens a pipe_tlsmem session
 * (its ClientHello goes out first), what is read goes through it and its
 * plaintext to the upgrade check and the decoder, and what we send (the
 * upgrade request, subscriptions, pongs, close) is encrypted in the
 * writeable callback once the handshake is done. A certificate that fails
 * the check is the alert and reconnect cause tls (pipe_conn_tls_failed);
 * the peer's close_notify ends the connection like a socket closed
 * (counted; logged at info when no close frame came first). Whenever we drop a wss:// socket whose
 * handshake is done (after the close handshake, a protocol error, a
 * timeout, the peer's close_notify), our close_notify goes out first
 * (tls_bye): written at once if the socket takes it, never waited for,
 * so a dead peer stalls nothing. Each connection offers the feed's last
 * TLS session (pipe_tlsmem_cache); handshakes are counted full or
 * resumed, with their duration in the log. */
#include "pipe_feed.h"

#include <string.h>

#include <libwebsockets.h>

#include "nlog.h"
#include "ws.h"

#define CLOSE_WAIT_MS 1000     /* our close frame sent: wait this long for the answer */
#define UPGRADE_TIMEOUT_S 10   /* TCP up, no 101 answer after this: give up (refused) */
#define MAX_MSG (64u << 20)    /* a provider message larger than this is an error (1009) */
#define SEC 1000000000ll

static uint32_t mask_key(struct pipe_conn *c)
{
    return (uint32_t)pipe_node_rand(c->feed->node);
}

static void arm(struct pipe_conn *c, int64_t ns)
{
    if (c->wsi)
        lws_set_timer_usecs(c->wsi, ns < 1000 ? 1 : (lws_usec_t)(ns / 1000));
}

void pipe_ws_want_write(struct pipe_conn *c)
{
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

/* Queues one frame (encoded now) and asks for a writeable callback. */
static int send_frame(struct pipe_conn *c, int op, const void *p, size_t n)
{
    int rc = ws_enc_frame(&c->wout, op, p, n, mask_key(c));
    if (!rc)
        pipe_ws_want_write(c);
    return rc;
}

/* The one place the client connection is described to lws: always a raw
 * socket without lws's TLS (wss:// is ours: RAW_CONNECTED). */
int pipe_ws_connect(struct pipe_conn *c)
{
    struct pipe_feed *f = c->feed;
    if (!c->ws_inited) {
        ws_dec_init(&c->dec, MAX_MSG, MAX_MSG);
        tr_buf_init(&c->wout);
        tr_buf_init(&c->plain);
        tr_buf_init(&c->wtls);
        c->ws_inited = 1;
    }
    pipe_tlsmem_close(&c->tls); /* an earlier connection's session, if any */
    c->tls_on = f->cfg->ws_tls;
    c->tls_rejected = 0;
    c->wtls.len = 0;
    if (c->tls_on && tr_buf_reserve(&c->wtls, LWS_PRE + 4096))
        return TR_ENOMEM;
    c->wtls.len = LWS_PRE;
    ws_dec_reset(&c->dec);
    c->wout.len = 0;
    if (tr_buf_reserve(&c->wout, LWS_PRE + 256))
        return TR_ENOMEM;
    c->wout.len = LWS_PRE; /* lws_write may use the bytes before what it sends */
    c->hs_done = c->hs_status = c->ping_out = c->ping_timeout = c->proto_err = 0;
    c->drop_after_write = 0;
    c->close_sent_ns = 0;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = pipe_node_lws(f->node);
    const char *name = f->cfg->ws_name[0] ? f->cfg->ws_name : f->cfg->host;
    ci.address = f->cfg->host; /* resolved at start (pipe_cfg.c) */
    ci.port = f->cfg->port;
    ci.path = f->cfg->ws_path;
    ci.host = name;
    ci.origin = name;
    ci.ssl_connection = 0;
    ci.local_protocol_name = "tr-ws";
    ci.opaque_user_data = c;
    ci.pwsi = &c->wsi;
    ci.method = "RAW";
    if (!lws_client_connect_via_info(&ci))
        return TR_ECONNREFUSED;
    return 0;
}

void pipe_conn_close(struct pipe_conn *c, int code)
{
    if (!c->wsi || c->state == PC_CLOSING || c->state == PC_IDLE)
        return;
    int was_open = c->hs_done;
    c->close_code = code;
    c->state = PC_CLOSING;
    if (!was_open || ws_enc_close(&c->wout, code, NULL, mask_key(c))) {
        arm(c, 0); /* nothing to say yet (or no memory): drop the socket */
        return;
    }
    c->close_sent_ns = pipe_now_ns();
    pipe_ws_want_write(c);
    arm(c, (int64_t)CLOSE_WAIT_MS * 1000000);
}

/* The heartbeat rule: next check at the earlier of "ping due" and
 * "hang up due", counted from the last byte received. */
static void arm_heartbeat(struct pipe_conn *c, int64_t now)
{
    const struct pipe_feed_cfg *cfg = c->feed->cfg;
    int64_t hang = c->last_rx_ns + (int64_t)cfg->hangup_s * SEC;
    int64_t next = hang;
    if (!c->ping_out && c->last_rx_ns + (int64_t)cfg->ping_s * SEC < next)
        next = c->last_rx_ns + (int64_t)cfg->ping_s * SEC;
    int64_t d = next - now;
    arm(c, d < 10000000 ? 10000000 : d);
}

/* LWS_CALLBACK_TIMER. Returns -1 to drop the socket. */
static int on_timer(struct pipe_conn *c)
{
    struct pipe_feed *f = c->feed;
    int64_t now = pipe_now_ns();
    if (c->state == PC_CLOSING) /* armed for the close's deadline (or at once) */
        return -1;
    if (!c->hs_done) {
        tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "conn", "websocket upgrade timed out",
                TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot),
                TR_KV_INT("after_s", UPGRADE_TIMEOUT_S));
        return -1;
    }
    int64_t idle = now - c->last_rx_ns;
    if (idle >= (int64_t)f->cfg->hangup_s * SEC) {
        c->ping_timeout = 1;
        tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "conn", "ping timeout: hanging up",
                TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot),
                TR_KV_INT("silent_ms", idle / 1000000));
        return -1;
    }
    if (idle >= (int64_t)f->cfg->ping_s * SEC && !c->ping_out) {
        if (send_frame(c, WS_OP_PING, "tr", 2))
            return -1;
        c->ping_out = 1;
    }
    arm_heartbeat(c, now);
    return 0;
}

/* What on_msg returns to stop decoding (ws_dec_feed passes it on). */
enum { MSG_GO = 0, MSG_STOP = 1, MSG_DROP = 2 };

/* A message or control frame from the decoder: MSG_GO to go on, MSG_STOP
 * once the peer's close was answered (the answer still has to go out),
 * MSG_DROP to drop the socket now. */
static int on_msg(void *arg, const struct ws_msg *m)
{
    struct pipe_conn *c = arg;
    switch (m->opcode) {
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (c->state == PC_OPEN) /* nothing more is taken once we close */
            pipe_conn_message(c, (const char *)m->p, m->len);
        return MSG_GO;
    case WS_OP_PING:
        return send_frame(c, WS_OP_PONG, m->p, m->len) ? MSG_DROP : MSG_GO;
    case WS_OP_PONG:
        return MSG_GO;
    case WS_OP_CLOSE:
        c->peer_code = m->close_code;
        if (c->state == PC_CLOSING && c->close_sent_ns)
            return MSG_DROP; /* the answer to ours: done */
        /* answer with the same code, then drop once it went out */
        c->state = PC_CLOSING;
        c->drop_after_write = 1;
        if (ws_enc_close(&c->wout, m->close_code == WS_CLOSE_NO_CODE ? 1000 : m->close_code,
                         NULL, mask_key(c)))
            return MSG_DROP;
        c->close_sent_ns = pipe_now_ns();
        pipe_ws_want_write(c);
        arm(c, (int64_t)CLOSE_WAIT_MS * 1000000);
        return MSG_STOP;
    default: return MSG_GO;
    }
}

/* Bytes after the upgrade (or the whole read): frames. -1 drops. */
static int decode(struct pipe_conn *c, const uint8_t *p, size_t n)
{
    struct tr_error err;
    tr_error_clear(&err);
    int rc = ws_dec_feed(&c->dec, p, n, on_msg, c, &err);
    if (rc >= 0)
        return rc == MSG_DROP ? -1 : 0;
    struct pipe_feed *f = c->feed;
    f->malformed++;
    f->ws_errors++;
    c->proto_err = c->dec.close_hint ? c->dec.close_hint : WS_CLOSE_PROTOCOL;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "conn", "websocket protocol error: closing",
            TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot),
            TR_KV_INT("code", c->proto_err), TR_KV_ERR(&err));
    pipe_conn_close(c, c->proto_err);
    return 0;
}

/* The answer to the upgrade, possibly followed by the first frames. */
static int on_upgrade_rx(struct pipe_conn *c, const uint8_t *in, size_t len)
{
    struct pipe_feed *f = c->feed;
    if (tr_buf_append(&c->rx, in, len))
        return -1;
    struct tr_error err;
    tr_error_clear(&err);
    int st = 0;
    int rc = ws_upgrade_check((const char *)c->rx.data, c->rx.len, c->ws_key, &st, &err);
    if (rc == 0)
        return 0;
    if (rc < 0) {
        c->hs_status = st;
        tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "conn", "websocket upgrade failed",
                TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot),
                TR_KV_INT("http_status", st), TR_KV_ERR(&err));
        return -1;
    }
    c->hs_done = 1;
    c->state = PC_OPEN;
    c->last_rx_ns = pipe_now_ns();
    arm_heartbeat(c, c->last_rx_ns);
    if (pipe_conn_established(c) < 0)
        return -1;
    size_t used = (size_t)rc, rest = c->rx.len - used;
    int r = 0;
    if (rest && c->state != PC_IDLE) /* frames that came with the answer */
        r = decode(c, c->rx.data + used, rest);
    c->rx.len = 0;
    return r;
}

static int on_writeable(struct pipe_conn *c, struct lws *wsi)
{
    /* queued subscriptions first, as text frames */
    while (c->state == PC_OPEN && c->txq_i < c->txq_n) {
        size_t k = c->txq_i++;
        pipe_raw_sent(c, c->tx.data + c->txq_off[k], c->txq_len[k]);
        if (ws_enc_frame(&c->wout, WS_OP_TEXT, c->tx.data + c->txq_off[k], c->txq_len[k],
                         mask_key(c)))
            return -1;
    }
    struct tr_buf *out = &c->wout;
    if (c->tls_on) { /* the frames once the handshake is done, and TLS's own bytes */
        if (c->tls.ready && c->wout.len > LWS_PRE) {
            if (pipe_tlsmem_tx(&c->tls, c->wout.data + LWS_PRE, c->wout.len - LWS_PRE))
                return -1;
            c->wout.len = LWS_PRE;
        }
        if (pipe_tlsmem_pending(&c->tls, &c->wtls))
            return -1;
        out = &c->wtls;
    }
    if (out->len > LWS_PRE) { /* lws keeps what the socket did not take */
        int n = lws_write(wsi, out->data + LWS_PRE, out->len - LWS_PRE, LWS_WRITE_RAW);
        out->len = LWS_PRE;
        if (n < 0)
            return -1;
    }
    return c->drop_after_write ? -1 : 0;
}

/* Plaintext from the peer: the upgrade's answer, then frames. -1 drops. */
static int plain_rx(struct pipe_conn *c, const uint8_t *p, size_t n)
{
    if (!c->hs_done) /* closed before the upgrade was answered: drop it */
        return c->state == PC_CLOSING ? -1 : on_upgrade_rx(c, p, n);
    return decode(c, p, n);
}

/* wss://: ciphertext from the socket. -1 drops (a failed handshake with
 * its cause noted for on_closed; the peer's close_notify). */
static int tls_rx(struct pipe_conn *c, const uint8_t *in, size_t len)
{
    struct pipe_feed *f = c->feed;
    int was_ready = c->tls.ready, was_closed = c->tls.closed;
    c->plain.len = 0;
    int rc = pipe_tlsmem_rx(&c->tls, in, len, &c->plain);
    if (!was_ready && c->tls.ready) {
        if (c->tls.resumed)
            f->tls_resumed++;
        else
            f->tls_full++;
        tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "conn", "TLS handshake done",
                TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot),
                TR_KV_BOOL("resumed", c->tls.resumed), TR_KV_BOOL("offered", c->tls.offered),
                TR_KV_INT("handshake_us", (pipe_now_ns() - c->tls_start_ns) / 1000));
    }
    if (rc) {
        if (!c->hs_done && c->tls.failed) {
            /* the verdict without tlsmem's prefix: the same text as lws's */
            long v = SSL_get_verify_result(c->tls.ssl);
            const char *why = c->tls.cert_rejected ? X509_verify_cert_error_string(v)
                                                   : c->tls.why;
            c->tls_rejected = pipe_conn_tls_failed(c, why, c->tls.cert_rejected) == PC_C_TLS;
        } else {
            tr_nlog(pipe_node_log(c->feed->node), TR_NLOG_WARN, "conn", "TLS failed: dropping",
                    TR_KV_STR("feed", c->feed->cfg->name), TR_KV_INT("slot", c->slot),
                    TR_KV_STR("error", rc == TR_ENOMEM ? "out of memory" : c->tls.why));
        }
        return -1;
    }
    /* handshake answers to send, or the upgrade request waiting for it */
    if (BIO_ctrl_pending(c->tls.wbio) || (c->tls.ready && c->wout.len > LWS_PRE))
        pipe_ws_want_write(c);
    int r = c->plain.len ? plain_rx(c, c->plain.data, c->plain.len) : 0;
    if (!was_closed && c->tls.closed) {
        /* after a close frame (ours answered, or theirs) it is the usual
         * end of a TLS connection: counted; without one, logged too */
        f->tls_notify_in++;
        if (!c->peer_code)
            tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "conn", "TLS close_notify from the peer",
                    TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot),
                    TR_KV_STR("websocket_close", "none"));
    }
    if (r == 0 && c->tls.closed && !c->drop_after_write)
        return -1; /* close_notify: nothing more comes (an answer still queued goes first) */
    return r;
}

/* Our close_notify before a wss:// socket is dropped: queued and written
 * now, only if the socket has room (lws keeps nothing for us then, so the
 * drop is not held up; a peer that stopped reading gets none). */
static void tls_bye(struct pipe_conn *c, struct lws *wsi)
{
    if (!c->tls_on || !pipe_tlsmem_shutdown(&c->tls))
        return;
    c->wtls.len = LWS_PRE;
    if (pipe_tlsmem_pending(&c->tls, &c->wtls) || c->wtls.len == LWS_PRE ||
        lws_send_pipe_choked(wsi))
        return;
    int n = lws_write(wsi, c->wtls.data + LWS_PRE, c->wtls.len - LWS_PRE, LWS_WRITE_RAW);
    if (n == (int)(c->wtls.len - LWS_PRE))
        c->feed->tls_notify_out++;
    c->wtls.len = LWS_PRE;
}

static void on_closed(struct pipe_conn *c)
{
    pipe_tlsmem_close(&c->tls);
    if (c->state == PC_IDLE)
        return;
    int cause, code;
    if (!c->hs_done) { /* TCP was up, TLS or the upgrade failed or timed out */
        cause = c->tls_rejected ? PC_C_TLS : PC_C_REFUSED;
        code = 1006;
    } else if (c->resync) {
        cause = PC_C_RESYNC;
        code = c->close_code;
    } else if (c->peer_code) {
        code = c->peer_code;
        cause = pc_cause_of(code);
    } else if (c->proto_err) {
        code = c->proto_err;
        cause = pc_cause_of(code);
    } else if (c->ping_timeout) {
        cause = PC_C_PING_TIMEOUT;
        code = 1006;
    } else { /* the socket ended without a close frame */
        cause = PC_C_CLOSE_1006;
        code = 1006;
    }
    pipe_conn_ended(c, cause, code);
}

static int conn_cb(struct pipe_conn *c, struct lws *wsi, int reason, void *in, size_t len);

int pipe_conn_protocol_cb(struct lws *wsi, int reason, void *user, void *in, size_t len)
{
    /* lws asks the context's first protocol (this one) to check every
     * client certificate, REST's included; `user` is OpenSSL's */
    if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION)
        return pipe_tls_verify_cb(wsi, user, len);
    struct pipe_conn *c = lws_get_opaque_user_data(wsi);
    if (!c)
        return 0;
    if (c->wsi && c->wsi != wsi) /* a socket of an earlier connection of this slot */
        return reason == LWS_CALLBACK_RAW_RX || reason == LWS_CALLBACK_RAW_WRITEABLE ||
                       reason == LWS_CALLBACK_TIMER
                   ? -1
                   : 0;
    int r = conn_cb(c, wsi, reason, in, len);
    if (r < 0 && c->wsi == wsi) /* lws drops the socket on -1: our close_notify first */
        tls_bye(c, wsi);
    return r;
}

/* A callback of the connection's current socket. -1 drops it. */
static int conn_cb(struct pipe_conn *c, struct lws *wsi, int reason, void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED: {
        c->wsi = wsi;
        if (c->state == PC_CLOSING) /* closed while connecting */
            return -1;
        const struct pipe_feed_cfg *fc = c->feed->cfg;
        uint64_t r[2] = {pipe_node_rand(c->feed->node), pipe_node_rand(c->feed->node)};
        uint8_t key[16];
        memcpy(key, r, 16);
        size_t at = c->wout.len;
        /* Host: the URL's name, with the port unless it is the scheme's */
        int port = fc->port == (fc->ws_tls ? 443 : 80) ? 0 : fc->port;
        if (ws_upgrade_request(&c->wout, fc->ws_name[0] ? fc->ws_name : fc->host, port,
                               fc->ws_path, key, c->ws_key) < 0) {
            c->wout.len = at;
            return -1;
        }
        c->rx.len = 0;
        if (c->tls_on) { /* the request waits for the handshake: ClientHello first */
            struct tr_error err;
            tr_error_clear(&err);
            c->tls_start_ns = pipe_now_ns();
            if (pipe_tlsmem_open(&c->tls, c->feed->tls_ctx,
                                 fc->ws_name[0] ? fc->ws_name : fc->host, &c->feed->tls_cache,
                                 &err)) {
                pipe_conn_tls_failed(c, err.msg, 0);
                return -1;
            }
        }
        pipe_ws_want_write(c);
        arm(c, (int64_t)UPGRADE_TIMEOUT_S * SEC);
        return 0;
    }
    case LWS_CALLBACK_RAW_RX:
        if (c->state == PC_IDLE)
            return -1;
        c->last_rx_ns = pipe_now_ns(); /* any byte proves the peer alive */
        c->ping_out = 0;
        return c->tls_on ? tls_rx(c, in, len) : plain_rx(c, in, len);
    case LWS_CALLBACK_RAW_WRITEABLE:
        return on_writeable(c, wsi);
    case LWS_CALLBACK_TIMER:
        return on_timer(c);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c->state != PC_IDLE) {
            int was = c->state, cause = pipe_conn_failed(c, wsi, in, len);
            pipe_conn_ended(c, was == PC_CONNECTING ? cause : PC_C_CLOSE_1006, 1006);
        }
        return 0;
    case LWS_CALLBACK_RAW_CLOSE:
        on_closed(c);
        return 0;
    default: return 0;
    }
}
