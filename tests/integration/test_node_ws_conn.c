/* A provider connection (node/pipe_ws.c over an lws raw socket) against a
 * misbehaving server written here on the same libuv loop, so the test
 * decides every byte: the node's upgrade request and its masked subscribe
 * frame are checked; a fragmented message with a ping between its
 * fragments is delivered as one message and the ping answered with its
 * payload; a masked server frame is a protocol error: counted, logged,
 * answered with a 1002 close frame and a reconnect; a 403 answer to the
 * upgrade is a refused connection logged with its status; a close frame
 * with 1008 is answered with the same code and alerts; a silent server is
 * pinged after ping_interval and dropped after ping_timeout (ping_timeout
 * cause). A real pipeline runs (log, deduplicator) in a temporary dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nlog.h"
#include "pipe_feed.h"
#include "ws.h"

enum { M_FRAGS_THEN_MASKED, M_REFUSE_403, M_CLOSE_1008, M_SILENT };

struct srv;
struct peer {
    uv_tcp_t h;
    struct srv *s;
    struct tr_buf in;
    int upgraded, closing;
    struct peer *next;
};

struct srv {
    uv_loop_t *loop;
    uv_tcp_t lis;
    int port, mode;
    struct peer *peers;
    /* what the node sent */
    int upgrades, subscribes, pings, close_code;
    char pong[32];
    char request[2048];
};

struct wreq {
    uv_write_t w;
    char *buf;
};

static void write_cb(uv_write_t *w, int status)
{
    (void)status;
    struct wreq *r = (struct wreq *)w;
    free(r->buf);
    free(r);
}

static void put(struct peer *p, const void *b, size_t n)
{
    struct wreq *r = malloc(sizeof *r);
    r->buf = malloc(n);
    memcpy(r->buf, b, n);
    uv_buf_t ub = uv_buf_init(r->buf, (unsigned)n);
    if (uv_write(&r->w, (uv_stream_t *)&p->h, &ub, 1, write_cb)) {
        free(r->buf);
        free(r);
    }
}

/* A server frame (unmasked, or masked to break the rules). */
static void frame(struct peer *p, int fin, int op, const void *pl, size_t n, int masked)
{
    uint8_t b[256];
    assert_true(n < 126 && n + 6 <= sizeof b);
    b[0] = (uint8_t)((fin ? 0x80 : 0) | op);
    b[1] = (uint8_t)((masked ? 0x80 : 0) | n);
    size_t h = 2;
    if (masked) {
        memset(b + 2, 0, 4); /* a zero mask: the payload reads the same */
        h = 6;
    }
    memcpy(b + h, pl, n);
    put(p, b, h + n);
}

static void peer_closed(uv_handle_t *h)
{
    struct peer *p = h->data;
    struct srv *s = p->s;
    for (struct peer **pp = &s->peers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    tr_buf_free(&p->in);
    free(p);
}

static void hang_up(struct peer *p)
{
    if (p->closing)
        return;
    p->closing = 1;
    uv_close((uv_handle_t *)&p->h, peer_closed);
}

static void on_upgrade(struct peer *p, const char *req)
{
    struct srv *s = p->s;
    if (!strstr(req, "Upgrade: websocket")) { /* the REST poller: nothing here */
        const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        put(p, nf, strlen(nf));
        hang_up(p);
        return;
    }
    s->upgrades++;
    snprintf(s->request, sizeof s->request, "%s", req);
    if (s->mode == M_REFUSE_403) {
        const char *no = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
        put(p, no, strlen(no));
        hang_up(p);
        return;
    }
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    assert_non_null(k);
    char key[WS_KEY_LEN + 1], acc[29], ans[256];
    memcpy(key, k + 19, WS_KEY_LEN);
    key[WS_KEY_LEN] = 0;
    ws_accept_for(key, acc);
    int n = snprintf(ans, sizeof ans,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     acc);
    put(p, ans, (size_t)n);
    p->upgraded = 1;
    switch (s->mode) {
    case M_FRAGS_THEN_MASKED:
        frame(p, 0, WS_OP_TEXT, "{\"type\":", 8, 0);
        frame(p, 1, WS_OP_PING, "hello", 5, 0);
        frame(p, 1, WS_OP_CONT, "\"hb\"}", 5, 0);
        frame(p, 1, WS_OP_TEXT, "{}", 2, 1); /* masked: breaks RFC 6455 5.1 */
        break;
    case M_CLOSE_1008: frame(p, 1, WS_OP_CLOSE, "\x03\xf0" "creds", 7, 0); break;
    case M_SILENT: frame(p, 1, WS_OP_PING, "hello", 5, 0); break; /* then nothing */
    }
}

/* Client frames: masked, small (the node sends subscriptions and control
 * frames). */
static void client_frames(struct peer *p)
{
    struct srv *s = p->s;
    for (;;) {
        uint8_t *b = p->in.data;
        if (p->in.len < 2)
            return;
        assert_true(b[1] & 0x80); /* a client frame must be masked */
        size_t l7 = b[1] & 0x7F, hl = l7 == 126 ? 4 : 2, n = l7;
        assert_true(l7 != 127);
        if (p->in.len < hl + 4)
            return;
        if (l7 == 126)
            n = (size_t)b[2] << 8 | b[3];
        if (p->in.len < hl + 4 + n)
            return;
        char pl[70000];
        for (size_t i = 0; i < n; i++)
            pl[i] = (char)(b[hl + 4 + i] ^ b[hl + (i & 3)]);
        pl[n] = 0;
        int op = b[0] & 0x0F;
        if (op == WS_OP_TEXT && strstr(pl, "\"subscribe\"") && strstr(pl, "SIM-0"))
            s->subscribes++;
        else if (op == WS_OP_PONG)
            snprintf(s->pong, sizeof s->pong, "%.31s", pl);
        else if (op == WS_OP_PING)
            s->pings++;
        else if (op == WS_OP_CLOSE && n >= 2) {
            s->close_code = (uint8_t)pl[0] << 8 | (uint8_t)pl[1];
            hang_up(p); /* the server ends TCP after the close handshake */
        }
        size_t used = hl + 4 + n;
        memmove(p->in.data, p->in.data + used, p->in.len - used);
        p->in.len -= used;
    }
}

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(sz);
    buf->len = sz;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct peer *p = st->data;
    if (nread < 0) {
        hang_up(p);
    } else if (nread > 0 && !p->closing) {
        assert_int_equal(tr_buf_append(&p->in, buf->base, (size_t)nread), 0);
        if (!p->upgraded) {
            assert_int_equal(tr_buf_append(&p->in, "", 1), 0);
            char *end = strstr((char *)p->in.data, "\r\n\r\n");
            p->in.len--;
            if (end) {
                size_t hl = (size_t)(end + 4 - (char *)p->in.data);
                end[2] = 0;
                on_upgrade(p, (const char *)p->in.data);
                memmove(p->in.data, p->in.data + hl, p->in.len - hl);
                p->in.len -= hl;
            }
        }
        if (p->upgraded && !p->closing)
            client_frames(p);
    }
    free(buf->base);
}

static void conn_cb(uv_stream_t *lis, int status)
{
    struct srv *s = lis->data;
    if (status)
        return;
    struct peer *p = calloc(1, sizeof *p);
    p->s = s;
    tr_buf_init(&p->in);
    uv_tcp_init(s->loop, &p->h);
    p->h.data = p;
    p->next = s->peers;
    s->peers = p;
    if (uv_accept(lis, (uv_stream_t *)&p->h) == 0)
        uv_read_start((uv_stream_t *)&p->h, alloc_cb, read_cb);
    else
        hang_up(p);
}

static void srv_open(struct srv *s, uv_loop_t *loop, int mode)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->mode = mode;
    uv_tcp_init(loop, &s->lis);
    s->lis.data = s;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->lis, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->lis, 16, conn_cb), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&s->lis, (struct sockaddr *)&got, &len);
    s->port = ntohs(got.sin_port);
}

static void srv_close(struct srv *s)
{
    while (s->peers) {
        struct peer *p = s->peers;
        if (!p->closing)
            hang_up(p);
        uv_run(s->loop, UV_RUN_NOWAIT);
        if (s->peers == p && p->closing)
            uv_run(s->loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&s->lis, NULL);
}

/* ---- the node side ---- */

struct fx {
    uv_loop_t loop;
    struct srv srv;
    struct pipe_cfg cfg;
    char *inst[1];
    struct tr_nlog *lg;
    struct tr_buf logged;
    struct pipe_node *n;
    struct pipe_feed *f;
    int stopped;
};

static void log_cb(void *arg, const char *line, size_t len)
{
    struct fx *x = arg;
    tr_buf_append(&x->logged, line, len);
}

static int logged(struct fx *x, const char *what)
{
    if (tr_buf_append(&x->logged, "", 1))
        return 0;
    x->logged.len--;
    return strstr((const char *)x->logged.data, what) != NULL;
}

static void fx_open(struct fx *x, int mode)
{
    memset(x, 0, sizeof *x);
    assert_int_equal(uv_loop_init(&x->loop), 0);
    srv_open(&x->srv, &x->loop, mode);
    tr_buf_init(&x->logged);
    struct tr_nlog_options o;
    tr_nlog_options_init(&o);
    o.level = TR_NLOG_INFO;
    o.burst = 0;
    o.write_cb = log_cb;
    o.write_arg = x;
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(tr_nlog_open(&x->lg, &o, &err), 0);
    struct pipe_cfg *c = &x->cfg;
    snprintf(c->path, sizeof c->path, "test");
    snprintf(c->data_dir, sizeof c->data_dir, "/tmp/tr-test-wsconn.XXXXXX");
    assert_non_null(mkdtemp(c->data_dir));
    c->node_id = 1;
    c->sync = TR_LOG_SYNC_NONE;
    c->batch_max = 4096;
    c->reorder_max = 1000;
    c->shutdown_ms = 1000;
    c->n_feeds = 1;
    struct pipe_feed_cfg *f = &c->feeds[0];
    snprintf(f->name, sizeof f->name, "fake");
    snprintf(f->provider, sizeof f->provider, "sim");
    snprintf(f->host, sizeof f->host, "127.0.0.1");
    f->port = x->srv.port;
    snprintf(f->ws_path, sizeof f->ws_path, "/native");
    snprintf(f->rest_prefix, sizeof f->rest_prefix, "/native");
    x->inst[0] = "SIM-0";
    f->instruments[0] = x->inst[0];
    f->n_instruments = 1;
    f->channels = TR_CH_TRADES;
    f->backoff_base_ms = 20; /* reconnects come quickly */
    f->backoff_max_ms = 50;
    f->registry_backoff_base_ms = f->registry_backoff_max_ms = 60000;
    f->registry_refresh_s = 600;
    f->rest_backoff_base_ms = f->rest_backoff_max_ms = 60000;
    f->snapshot_backoff_base_ms = f->snapshot_backoff_max_ms = 60000;
    f->ping_s = 1;
    f->hangup_s = 2;
    f->max_conns = 1;
    assert_int_equal(pipe_node_open(&x->n, &x->loop, c, x->lg, &err), 0);
    x->f = pipe_node_feed(x->n, 0);
}

/* Runs the loop until cond(x) holds; a bound (not a timing assertion)
 * turns a hang into a failure. */
static void run_until(struct fx *x, int (*cond)(struct fx *))
{
    int64_t end = pipe_now_ns() + 20 * 1000000000ll;
    while (!cond(x)) {
        if (pipe_now_ns() > end)
            fail_msg("condition not reached; log:\n%.*s", (int)x->logged.len,
                     (const char *)x->logged.data);
        uv_run(&x->loop, UV_RUN_ONCE);
    }
}

static void done_cb(void *arg, int rc)
{
    (void)rc;
    ((struct fx *)arg)->stopped = 1;
}

static int stopped(struct fx *x) { return x->stopped; }

static void fx_close(struct fx *x)
{
    pipe_node_stop(x->n, done_cb, x);
    run_until(x, stopped);
    srv_close(&x->srv);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(pipe_node_close(x->n, &err), 0);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    tr_nlog_close(x->lg);
    tr_buf_free(&x->logged);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->cfg.data_dir);
    assert_int_equal(system(cmd), 0);
}

static int protocol_error_reconnected(struct fx *x)
{
    return x->f->reconnects[PC_C_CLOSE_OTHER] >= 1 && x->srv.close_code && x->srv.pong[0];
}

static void fragments_pings_and_a_masked_frame(void **state)
{
    (void)state;
    struct fx x;
    fx_open(&x, M_FRAGS_THEN_MASKED);
    run_until(&x, protocol_error_reconnected);
    /* the upgrade request the node sent */
    assert_non_null(strstr(x.srv.request, "GET /native HTTP/1.1\r\n"));
    assert_non_null(strstr(x.srv.request, "Sec-WebSocket-Version: 13\r\n"));
    /* (no subscription went out: the error came in the same read as the
     * 101, and nothing but the pong and the close is sent once closing) */
    /* the ping between the fragments was answered with its payload, and
     * the fragments made one message */
    assert_string_equal(x.srv.pong, "hello");
    assert_true(x.f->frames >= 1);
    /* the masked frame: counted, logged, closed with 1002, reconnected */
    assert_true(x.f->ws_errors >= 1);
    assert_true(x.f->malformed >= x.f->ws_errors);
    assert_int_equal(x.srv.close_code, WS_CLOSE_PROTOCOL);
    assert_true(logged(&x, "websocket protocol error"));
    assert_true(logged(&x, "masked frame from the server"));
    assert_true(logged(&x, "cause=close_other code=1002"));
    fx_close(&x);
}

static int refused_twice(struct fx *x) { return x->f->reconnects[PC_C_REFUSED] >= 2; }

static void refused_upgrade_is_logged_with_its_status(void **state)
{
    (void)state;
    struct fx x;
    fx_open(&x, M_REFUSE_403);
    run_until(&x, refused_twice);
    assert_true(x.srv.upgrades >= 2);
    assert_int_equal(x.f->frames, 0);
    assert_true(logged(&x, "websocket upgrade failed"));
    assert_true(logged(&x, "http_status=403"));
    assert_true(logged(&x, "cause=refused"));
    fx_close(&x);
}

static int closed_1008(struct fx *x)
{
    return x->f->reconnects[PC_C_CLOSE_1008] >= 1 && x->srv.close_code;
}

static void peer_close_is_answered_with_its_code(void **state)
{
    (void)state;
    struct fx x;
    fx_open(&x, M_CLOSE_1008);
    run_until(&x, closed_1008);
    assert_int_equal(x.srv.close_code, 1008);
    assert_true(x.f->alerts >= 1);
    assert_true(logged(&x, "check credentials"));
    assert_int_equal(x.f->ws_errors, 0);
    fx_close(&x);
}

static int ping_timed_out(struct fx *x) { return x->f->reconnects[PC_C_PING_TIMEOUT] >= 1; }

static void silent_server_is_pinged_then_dropped(void **state)
{
    (void)state;
    struct fx x;
    fx_open(&x, M_SILENT);
    run_until(&x, ping_timed_out);
    assert_true(x.srv.subscribes >= 1); /* a masked text frame naming SIM-0 */
    assert_string_equal(x.srv.pong, "hello");
    assert_true(x.srv.pings >= 1); /* the heartbeat ping before the hang-up */
    assert_true(logged(&x, "ping timeout: hanging up"));
    assert_true(logged(&x, "cause=ping_timeout"));
    fx_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fragments_pings_and_a_masked_frame),
        cmocka_unit_test(refused_upgrade_is_logged_with_its_status),
        cmocka_unit_test(peer_close_is_answered_with_its_code),
        cmocka_unit_test(silent_server_is_pinged_then_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
