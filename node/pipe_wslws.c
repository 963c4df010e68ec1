/* The transport of wss:// provider connections: lws's own WebSocket client.
 * ws:// connections use the cheaper raw socket + node codec of pipe_ws.c;
 * wss:// cannot yet, because Debian's lws 4.1.6 starts TLS on a raw client
 * before its socket is connected ("tls start fail", EBADF; measured with
 * lws's info log), and TLS stays lws's. So a wss:// connection keeps the
 * per-byte parser (docs/node.md "Connections": not built).
 *
 * lws facts this relies on (../shared/FACTS.md): a close we start must be
 * lws_close_reason + a 1 us wsi timer + -1 from LWS_CALLBACK_TIMER, or the
 * libuv backend drops the socket without a close frame; a silent peer is
 * only noticed with a per-connection retry_and_idle_policy; every pong
 * makes the connection writeable unasked. */
#include "pipe_feed.h"

#include <string.h>

#include <libwebsockets.h>

static const lws_retry_bo_t *retry_policy(const struct pipe_feed_cfg *cfg)
{
    /* lws keeps a pointer: one static policy per (ping, hangup) pair used */
    static _Thread_local lws_retry_bo_t pol[8];
    static _Thread_local int n;
    for (int i = 0; i < n; i++)
        if (pol[i].secs_since_valid_ping == cfg->ping_s &&
            pol[i].secs_since_valid_hangup == cfg->hangup_s)
            return &pol[i];
    if (n == 8)
        return &pol[7];
    pol[n] = (lws_retry_bo_t){.secs_since_valid_ping = (uint16_t)cfg->ping_s,
                              .secs_since_valid_hangup = (uint16_t)cfg->hangup_s};
    return &pol[n++];
}

int pipe_wslws_connect(struct pipe_conn *c, struct lws_client_connect_info *ci)
{
    ci->method = NULL; /* a WebSocket upgrade by lws */
    ci->userdata = c;
    ci->retry_and_idle_policy = retry_policy(c->feed->cfg);
    return lws_client_connect_via_info(ci) ? 0 : TR_ECONNREFUSED;
}

void pipe_wslws_close(struct pipe_conn *c, int code)
{
    lws_close_reason(c->wsi, (enum lws_close_status)code, NULL, 0);
    lws_set_timer_usecs(c->wsi, 1);
}

static int on_writeable(struct pipe_conn *c, struct lws *wsi)
{
    /* one queued message per callback (pongs also make us writeable) */
    if (c->txq_i >= c->txq_n || c->state != PC_OPEN)
        return 0;
    size_t k = c->txq_i++;
    pipe_raw_sent(c, c->tx.data + c->txq_off[k], c->txq_len[k]);
    c->wout.len = LWS_PRE; /* lws_write needs LWS_PRE bytes before the payload */
    if (tr_buf_append(&c->wout, c->tx.data + c->txq_off[k], c->txq_len[k]))
        return -1;
    if (lws_write(wsi, c->wout.data + LWS_PRE, c->txq_len[k], LWS_WRITE_TEXT) < 0)
        return -1;
    if (c->txq_i < c->txq_n)
        lws_callback_on_writable(wsi);
    return 0;
}

int pipe_wslws_cb(struct lws *wsi, int reason, struct pipe_conn *c, void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->state = PC_OPEN;
        c->wsi = wsi;
        c->hs_done = 1;
        return pipe_conn_established(c);
    case LWS_CALLBACK_CLIENT_WRITEABLE: return on_writeable(c, wsi);
    case LWS_CALLBACK_CLIENT_RECEIVE:
        c->last_rx_ns = pipe_now_ns();
        if (lws_is_first_fragment(wsi))
            c->rx.len = 0;
        if (lws_is_final_fragment(wsi) && c->rx.len == 0) {
            if (c->state == PC_OPEN)
                pipe_conn_message(c, in, len);
            return 0;
        }
        if (tr_buf_append(&c->rx, in, len))
            return -1;
        if (lws_is_final_fragment(wsi)) {
            if (c->state == PC_OPEN)
                pipe_conn_message(c, (const char *)c->rx.data, c->rx.len);
            c->rx.len = 0;
        }
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const uint8_t *b = in;
            c->peer_code = (b[0] << 8) | b[1];
        } else {
            c->peer_code = 1005;
        }
        return 0;
    case LWS_CALLBACK_TIMER: return c->state == PC_CLOSING ? -1 : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c->state != PC_IDLE) {
            int was = c->state, cause = pipe_conn_failed(c, wsi, in, len);
            pipe_conn_ended(c, was == PC_CONNECTING ? cause : PC_C_CLOSE_1006, 1006);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c->state != PC_IDLE) {
            int code = c->peer_code ? c->peer_code : 1006;
            int cause = c->peer_code ? pc_cause_of(code) : PC_C_CLOSE_1006;
            /* no close frame from a peer that stopped answering pings: the
             * hang-up policy closed it */
            if (c->resync)
                cause = PC_C_RESYNC;
            else if (!c->peer_code && !c->close_code && c->last_rx_ns &&
                     pipe_now_ns() - c->last_rx_ns >= (int64_t)c->feed->cfg->ping_s * 1000000000)
                cause = PC_C_PING_TIMEOUT;
            pipe_conn_ended(c, cause, code);
        }
        return 0;
    default: return 0;
    }
}
