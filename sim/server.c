/* The simulator's server: a libuv loop owned by the program, one
 * libwebsockets 4.1 context on it (LWS_SERVER_OPTION_LIBUV + foreign_loops,
 * never lws_service), bound to 127.0.0.1. One protocol handles both HTTP
 * (REST + /control) and WebSocket connections; the URL prefix picks the
 * dialect. A tick (a timerfd every --tick-us µs, polled on the loop, since
 * libuv's timers count whole milliseconds) generates the due events of every exchange, writes
 * them to the truth file and queues them on subscribed connections (conn.c),
 * whose writeable callbacks drain them within a per-callback budget.
 *
 * lws facts this file relies on (../shared/FACTS.md): close codes only reach
 * the peer through lws_close_reason + lws_set_timer_usecs(wsi, 1) + return -1
 * from LWS_CALLBACK_TIMER; every pong triggers an unasked-for writeable
 * callback (the handler checks its queue); a busy port still gives a context
 * (we bind-test the port first and check the vhost's listen port);
 * shutdown calls lws_context_destroy twice around uv_run. */
#include "sim.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

static const struct sim_dialect_ops *const ops_of[SIM_D_COUNT] = {
    &sim_native_ops, &sim_coinbase_ops, &sim_binance_ops, &sim_kalshi_ops};

/* ---------- HTTP ---------- */

static void req_args(struct lws *wsi, struct sim_req *rq)
{
    char frag[300];
    rq->nargs = 0;
    for (int i = 0; rq->nargs < SIM_ARGS_MAX; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0)
            break;
        char *eq = strchr(frag, '=');
        if (eq)
            *eq = 0;
        size_t kl = strlen(frag), vl = eq ? strlen(eq + 1) : 0;
        if (kl >= sizeof rq->key[0] || vl >= sizeof rq->val[0])
            continue;
        memcpy(rq->key[rq->nargs], frag, kl + 1);
        memcpy(rq->val[rq->nargs], eq ? eq + 1 : "", vl + 1);
        rq->nargs++;
    }
}

static int http_reply(struct lws *wsi, struct sim_resp *rs)
{
    unsigned char hdr[LWS_PRE + 1024];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)rs->status, "application/json",
                                    rs->body.len, &p, end))
        return -1;
    if (rs->hname[0] &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)rs->hname,
                                    (const unsigned char *)rs->hval, (int)strlen(rs->hval), &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (rs->body.len) {
        unsigned char *b = malloc(LWS_PRE + rs->body.len);
        if (!b)
            return -1;
        memcpy(b + LWS_PRE, rs->body.data, rs->body.len);
        int m = lws_write(wsi, b + LWS_PRE, rs->body.len, LWS_WRITE_HTTP_FINAL);
        free(b);
        if (m < 0)
            return -1;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int dialect_of_path(const char *path, const char **rest)
{
    for (int d = 0; d < SIM_D_COUNT; d++) {
        size_t n = strlen(sim_dialects[d].prefix);
        if (strncmp(path, sim_dialects[d].prefix, n) == 0 && (path[n] == '/' || path[n] == 0)) {
            *rest = path + n;
            return d;
        }
    }
    return -1;
}

static int on_http(struct sim_server *s, struct lws *wsi, const char *path)
{
    struct sim_req rq;
    struct sim_resp rs;
    memset(&rq, 0, sizeof rq);
    memset(&rs, 0, sizeof rs);
    tr_buf_init(&rs.body);
    req_args(wsi, &rq);
    rq.post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    const char *rest = NULL;
    int d;
    if (strncmp(path, "/control/", 9) == 0) {
        rs.status = sim_fault_apply(s, path + 9, &rq, &rs);
    } else if (strcmp(path, "/stats") == 0) {
        sim_putf(&rs.body, "{\"generated\":%llu,\"queued\":%llu,\"written\":%llu,\"frames\":%llu,\"bytes\":%llu,\"ws_refused\":%llu,"
                 "\"tls_full\":%llu,\"tls_resumed\":%llu,\"tls_close_notify_in\":%llu,\"tls_rekeys\":%llu}",
                 (unsigned long long)s->ev_generated, (unsigned long long)s->ev_sent,
                 (unsigned long long)s->ev_written,
                 (unsigned long long)s->frames_sent, (unsigned long long)s->bytes_sent,
                 (unsigned long long)s->ws_refused, (unsigned long long)s->tls_full,
                 (unsigned long long)s->tls_resumed, (unsigned long long)s->tls_notify_rx,
                 (unsigned long long)s->tls_rekeys);
        rs.body.len--; /* the closing brace: the close codes clients sent follow */
        sim_put(&rs.body, ",\"client_close\":{");
        for (int k = 0, first = 1; k < 17; k++)
            if (s->client_close[k]) {
                char key[8];
                if (k < 16)
                    snprintf(key, sizeof key, "%d", 1000 + k);
                else
                    snprintf(key, sizeof key, "other");
                sim_putf(&rs.body, "%s\"%s\":%llu", first ? "" : ",", key,
                         (unsigned long long)s->client_close[k]);
                first = 0;
            }
        sim_put(&rs.body, "}}");
        rs.status = 200;
    } else if ((d = dialect_of_path(path, &rest)) >= 0 && s->active[d] && s->rvh &&
               lws_get_vhost(wsi) != s->rvh) {
        /* --rest-port: the exchange's REST lives on another host than its
         * stream, as on Binance; asking the stream's port is a client bug */
        sim_resp_json(&rs, 404, "{\"error\":\"REST is served on the rest port\"}");
    } else if (d >= 0 && s->active[d]) {
        rq.path = rest;
        int is_status = strcmp(rest, ops_of[d]->status_path()) == 0;
        if (!sim_fault_rest(s, &s->x[d], sim_rest_endpoint(rest, is_status), &rs)) {
            if (s->replay)
                sim_replay_rest(s, d, path, &rq, &rs);
            else
                ops_of[d]->rest(&s->x[d], &rq, &rs);
        }
    } else {
        sim_resp_json(&rs, 404, "{\"error\":\"not found\"}");
    }
    int rc = http_reply(wsi, &rs);
    tr_buf_free(&rs.body);
    return rc;
}

/* ---------- WebSocket ---------- */

static int on_established(struct sim_server *s, struct sim_conn *c, struct lws *wsi)
{
    char uri[512];
    memset(c, 0, sizeof *c);
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
        return -1;
    const char *rest = NULL;
    int d = dialect_of_path(uri, &rest);
    if (d < 0 || !s->active[d])
        return -1;
    c->srv = s;
    c->wsi = wsi;
    c->dialect = d;
    c->x = &s->x[d];
    c->last_ping = sim_now_ns();
    tr_buf_init(&c->rx);
    tr_buf_init(&c->out);
    c->subs = calloc(c->x->n_inst, 1);
    if (!c->subs)
        return -1;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    c->ready = 1;
    struct sim_req rq;
    memset(&rq, 0, sizeof rq);
    req_args(wsi, &rq);
    if (s->replay) {
        sim_replay_open_conn(s, c);
        return 0;
    }
    if (ops_of[d]->open && ops_of[d]->open(c, rest, &rq) != 0)
        sim_conn_close(c, 1008);
    if (c->x->f.stall_until)
        lws_rx_flow_control(wsi, 0);
    return 0;
}

static void on_closed(struct sim_server *s, struct sim_conn *c)
{
    if (!c->ready)
        return;
    c->ready = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    sim_conn_free_queue(c);
    free(c->subs);
    tr_buf_free(&c->rx);
    tr_buf_free(&c->out);
    free(c->toks);
    c->toks = NULL;
}

static int on_receive(struct sim_conn *c, struct lws *wsi, const void *in, size_t len)
{
    if (!c->ready || c->srv->replay)
        return 0;
    if (lws_is_first_fragment(wsi))
        c->rx.len = 0;
    if (c->rx.len + len > (1u << 20))
        return -1;
    if (sim_putn(&c->rx, in, len))
        return -1;
    if (!lws_is_final_fragment(wsi))
        return 0;
    ops_of[c->dialect]->rx(c, (const char *)c->rx.data, c->rx.len);
    return 0;
}

static int refused(struct sim_server *s, struct lws *wsi)
{
    int64_t now = sim_now_ns();
    if (s->refuse_until > now) {
        s->ws_refused++;
        return 1;
    }
    char uri[256];
    const char *rest;
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) > 0) {
        int d = dialect_of_path(uri, &rest);
        if (d >= 0 && (s->x[d].f.refuse_until > now || s->x[d].f.maint_until > now)) {
            s->ws_refused++; /* counted: a test asks how many attempts a maintenance saw */
            return 1;
        }
    }
    return 0;
}

static int sim_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    struct sim_server *s = lws_context_user(lws_get_context(wsi));
    struct sim_conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return s && s->refuse_until > sim_now_ns() &&
               (lws_get_vhost(wsi) == s->vh || (s->rvh && lws_get_vhost(wsi) == s->rvh));
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: /* a WebSocket upgrade */
        return refused(s, wsi) || (s->rvh && lws_get_vhost(wsi) == s->rvh);
    case LWS_CALLBACK_HTTP:
        return on_http(s, wsi, (const char *)in);
    case LWS_CALLBACK_HTTP_BODY:
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_ESTABLISHED:
        sim_tls_established(s, wsi);
        return on_established(s, c, wsi);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(c, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c->ready ? sim_conn_write(c) : 0;
    case LWS_CALLBACK_TIMER:
        if (!c->ready || !c->close_code)
            return 0;
        if (c->close_code == 1006) {
            shutdown(lws_get_socket_fd(wsi), SHUT_RDWR);
            return -1;
        }
        lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)"tickraft-sim", 12);
        return -1;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: /* in: the code (big-endian), the reason */
        if (len >= 2) {
            int code = ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1];
            s->client_close[code >= 1000 && code < 1016 ? code - 1000 : 16]++;
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
        sim_tls_closed(s, wsi);
        on_closed(s, c);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"tickraft-sim", sim_cb, sizeof(struct sim_conn), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---------- ticks ---------- */

/* Encodes the tick's native events once, each text followed by '\n': the
 * truth file takes the whole buffer as its lines, the connections take the
 * texts into their batches. */
static int native_json(struct sim_server *s, const struct sim_exch *x, size_t n)
{
    s->njson.len = 0;
    if (s->noffcap < n + 1) {
        size_t *o = realloc(s->noff, (n + 1) * sizeof *o);
        if (!o)
            return TR_ENOMEM;
        s->noff = o;
        s->noffcap = n + 1;
    }
    for (size_t i = 0; i < n; i++) {
        s->noff[i] = s->njson.len;
        if (sim_nj_event(x, &s->evbuf[i], &s->njson) || sim_putn(&s->njson, "\n", 1))
            return TR_ENOMEM;
    }
    s->noff[n] = s->njson.len;
    return 0;
}

static void truth_native(struct sim_server *s, size_t n)
{
    size_t lost = 0;
    for (size_t i = 0; i < n; i++)
        lost += (s->evbuf[i].flags & SIM_EV_LOST) != 0;
    s->truth.lines += n;
    if (!lost) { /* the usual case: the encoded texts are the lines */
        sim_truth_write(&s->truth, s->njson.data, s->njson.len);
        return;
    }
    struct tr_buf *b = &s->truth.line;
    b->len = 0;
    for (size_t i = 0; i < n; i++) {
        int is_lost = s->evbuf[i].flags & SIM_EV_LOST;
        if (is_lost)
            sim_put(b, "{\"marker\":\"unrecoverable\",\"event\":");
        sim_putn(b, (const char *)s->njson.data + s->noff[i], s->noff[i + 1] - s->noff[i] - 1);
        sim_putn(b, is_lost ? "}\n" : "\n", is_lost ? 2 : 1);
    }
    sim_truth_write(&s->truth, b->data, b->len);
}

static void tick_exchange(struct sim_server *s, int d, int64_t now)
{
    struct sim_exch *x = &s->x[d];
    if (x->f.maint_until)
        return;
    if (s->cfg.backpressure) {
        for (struct sim_conn *c = s->conns; c; c = c->next)
            if (c->dialect == d && c->qbytes > s->cfg.backpressure) {
                sim_exch_rebase(x, now);
                return;
            }
    }
    /* Catch up at most 20 ms of schedule per tick (at least 4 ticks): a loop
     * that woke late (a busy or shared CPU) must not fall behind its
     * schedule for good, which it did with a 4-tick cap (timestamps drifting
     * seconds behind the clock at 1 M/s on a loaded machine). */
    double span_us = s->cfg.tick_us * 4.0 > 20000 ? s->cfg.tick_us * 4.0 : 20000;
    uint64_t cap = (uint64_t)(x->rate * span_us / 1e6) + 16;
    uint64_t n = sim_exch_due(x, now, cap);
    if (s->cfg.max_events && x->generated + n > s->cfg.max_events)
        n = s->cfg.max_events > x->generated ? s->cfg.max_events - x->generated : 0;
    if (n == 0)
        return;
    if (n > s->evcap) {
        struct sim_ev *e = realloc(s->evbuf, n * sizeof *e);
        if (!e)
            return;
        s->evbuf = e;
        s->evcap = n;
    }
    for (uint64_t i = 0; i < n; i++)
        sim_exch_next(x, &s->evbuf[i]);
    s->ev_generated += n;
    struct sim_tick tk = {0};
    int has_conn = 0;
    for (struct sim_conn *c = s->conns; c; c = c->next)
        if (c->dialect == d)
            has_conn = 1;
    if (d == SIM_D_NATIVE && (has_conn || s->has_truth)) {
        if (native_json(s, x, n))
            return;
        tk.json = &s->njson;
        tk.off = s->noff;
        if (s->has_truth)
            truth_native(s, n);
    } else if (s->has_truth) {
        for (uint64_t i = 0; i < n; i++)
            sim_truth_event(&s->truth, x, &s->evbuf[i]);
    }
    for (struct sim_conn *c = s->conns; c; c = c->next)
        if (c->dialect == d && c->n_subs && !c->close_code)
            ops_of[d]->publish(c, s->evbuf, n, &tk);
}

static void tick_cb(uv_poll_t *h, int status, int events)
{
    struct sim_server *s = h->data;
    uint64_t expirations;
    (void)status;
    (void)events;
    /* Drain the timerfd; missed ticks need no catch-up call: each exchange
     * generates whatever its schedule says is due now. */
    if (read(s->tick_fd, &expirations, sizeof expirations) != (ssize_t)sizeof expirations)
        return;
    int64_t now = sim_now_ns();
    sim_fault_tick(s, now);
    if (s->replay) {
        sim_replay_tick(s, now);
    } else {
        for (int d = 0; d < SIM_D_COUNT; d++)
            if (s->active[d])
                tick_exchange(s, d, now);
    }
    if (s->has_truth)
        sim_truth_flush(&s->truth);
}

/* Arms the tick: a periodic timerfd watched by a uv_poll. */
static int tick_start(struct sim_server *s, struct tr_error *err)
{
    s->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->tick_fd < 0)
        return tr_errorf(err, TR_EIO, "simulator: timerfd_create failed");
    long us = s->cfg.tick_us;
    struct itimerspec its = {.it_interval = {us / 1000000, (us % 1000000) * 1000}};
    its.it_value = its.it_interval;
    if (timerfd_settime(s->tick_fd, 0, &its, NULL) != 0 ||
        uv_poll_init(&s->loop, &s->tick, s->tick_fd) != 0) {
        close(s->tick_fd);
        s->tick_fd = -1;
        return tr_errorf(err, TR_EIO, "simulator: tick timer");
    }
    s->tick.data = s;
    uv_poll_start(&s->tick, UV_READABLE, tick_cb);
    s->tick_on = 1;
    return 0;
}

static void tick_stop(struct sim_server *s)
{
    if (s->tick_on)
        uv_poll_stop(&s->tick);
}

static void tick_closed_cb(uv_handle_t *h)
{
    struct sim_server *s = h->data;
    close(s->tick_fd);
    s->tick_fd = -1;
}

static void tick_close(struct sim_server *s)
{
    if (!s->tick_on)
        return;
    s->tick_on = 0;
    uv_poll_stop(&s->tick);
    uv_close((uv_handle_t *)&s->tick, tick_closed_cb);
}

static void second_cb(uv_timer_t *t)
{
    struct sim_server *s = t->data;
    int64_t now = sim_now_ns();
    if (s->replay)
        return;
    for (struct sim_conn *c = s->conns; c; c = c->next)
        if (!c->close_code && !c->x->f.stall_until && ops_of[c->dialect]->second)
            ops_of[c->dialect]->second(c, now);
}

void sim_server_close_conns(struct sim_server *s, int dialect, int code)
{
    for (struct sim_conn *c = s->conns; c; c = c->next)
        if (dialect < 0 || c->dialect == dialect)
            sim_conn_close(c, code);
}

void sim_server_status_event(struct sim_server *s, int d, const char *status)
{
    struct tr_event e;
    tr_event_init(&e);
    e.kind = TR_KIND_STATUS;
    snprintf(e.provider, sizeof e.provider, "%s", sim_dialects[d].provider);
    snprintf(e.text, sizeof e.text, "%s", status);
    e.ts_exchange = sim_now_ns();
    e.fields = TR_F_TEXT | TR_F_TS_EXCHANGE;
    sim_truth_raw_event(&s->truth, &e);
}

/* ---------- lifecycle ---------- */

static void signal_cb(uv_signal_t *h, int signum)
{
    sim_server_stop(h->data);
}

/* lws reports a busy port by listening on nothing: try the bind ourselves. */
static int port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A listening vhost on 127.0.0.1:port; tls: with --tls-cert/--tls-key
 * (lws checks that the key matches the certificate when it loads them). */
static struct lws_vhost *make_vhost(struct sim_server *s, int port, const char *name, int tls,
                                    struct tr_error *err)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.vhost_name = name;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    if (tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = s->cfg.tls_cert;
        info.ssl_private_key_filepath = s->cfg.tls_key;
    }
    if (port && !port_free(port)) {
        tr_errorf(err, TR_EBUSY, "listen on 127.0.0.1:%d: address in use", port);
        return NULL;
    }
    struct lws_vhost *vh = lws_create_vhost(s->ctx, &info);
    if (!vh && tls) {
        tr_errorf(err, TR_EIO, "listen on 127.0.0.1:%d: cannot load certificate %s / key %s",
                  port, s->cfg.tls_cert, s->cfg.tls_key);
        return NULL;
    }
    if (!vh || lws_get_vhost_listen_port(vh) <= 0) {
        tr_errorf(err, TR_EIO, "listen on 127.0.0.1:%d failed", port);
        return NULL;
    }
    return vh;
}

int sim_server_open(struct sim_server *s, const struct sim_config *cfg, struct tr_error *err)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (s->cfg.tick_us <= 0)
        s->cfg.tick_us = SIM_TICK_US_DEFAULT;
    s->tick_fd = -1;
    if (!s->cfg.queue_limit)
        s->cfg.queue_limit = 256u << 20;
    tr_buf_init(&s->njson);
    int64_t now = sim_now_ns();
    int64_t epoch = cfg->epoch_ns >= 0 ? cfg->epoch_ns : now;
    int nd = 0;
    for (int d = 0; d < SIM_D_COUNT; d++)
        nd += (cfg->dialects >> d) & 1;
    for (int d = 0; d < SIM_D_COUNT; d++) {
        if (!((cfg->dialects >> d) & 1))
            continue;
        if (sim_exch_init(&s->x[d], d, cfg->seed, cfg->instruments, cfg->rate / (nd ? nd : 1),
                          cfg->history_s, epoch, now))
            return tr_errorf(err, TR_ENOMEM, "simulator: allocate exchange %s", sim_dialects[d].name);
        s->x[d].markets_page = cfg->markets_page;
        s->active[d] = 1;
    }
    if (cfg->truth) {
        if (sim_truth_open(&s->truth, cfg->truth, err))
            return tr_error_wrap(err, TR_EIO, "simulator");
        s->has_truth = 1;
    }
    if (cfg->replay && sim_replay_open(s, cfg->replay, cfg->speed, err))
        return tr_error_wrap(err, TR_EINVAL, "simulator: replay");
    if (uv_loop_init(&s->loop))
        return tr_errorf(err, TR_EIO, "simulator: uv_loop_init failed");
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = {&s->loop};
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_DISABLE_IPV6;
    int tls = cfg->tls_cert != NULL;
    if (tls != (cfg->tls_key != NULL))
        return tr_errorf(err, TR_EINVAL, "simulator: --tls-cert and --tls-key go together");
    if (tls && (!cfg->control_port || cfg->control_port == cfg->port))
        return tr_errorf(err, TR_EINVAL, "simulator: TLS needs --control-port (the control "
                         "port stays plain HTTP for tickraft-sim ctl)");
    if (tls)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = loops;
    info.user = s;
    info.port = CONTEXT_PORT_NO_LISTEN;
    lws_set_log_level(LLL_ERR, NULL);
    s->ctx = lws_create_context(&info);
    if (!s->ctx)
        return tr_errorf(err, TR_EIO,
                         "simulator: lws_create_context failed (is libwebsockets-evlib-uv installed?)");
    s->vh = make_vhost(s, cfg->port, "sim", tls, err);
    if (!s->vh)
        return tr_error_wrap(err, TR_EIO, "simulator");
    s->cfg.port = lws_get_vhost_listen_port(s->vh);
    if (cfg->control_port && cfg->control_port != cfg->port) {
        s->cvh = make_vhost(s, cfg->control_port, "control", 0, err);
        if (!s->cvh)
            return tr_error_wrap(err, TR_EIO, "simulator: control port");
    }
    if (cfg->rest_port) {
        s->rvh = make_vhost(s, cfg->rest_port, "rest", tls, err);
        if (!s->rvh)
            return tr_error_wrap(err, TR_EIO, "simulator: rest port");
        s->cfg.rest_port = lws_get_vhost_listen_port(s->rvh);
    }
    if (tick_start(s, err))
        return TR_EIO;
    uv_timer_init(&s->loop, &s->second);
    uv_timer_init(&s->loop, &s->grace);
    s->second.data = s->grace.data = s;
    uv_timer_start(&s->second, second_cb, 1000, 1000);
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, signal_cb, SIGINT);
    uv_signal_start(&s->sigterm, signal_cb, SIGTERM);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int sim_server_run(struct sim_server *s)
{
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return 0;
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void stop_now(struct sim_server *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    uv_timer_stop(&s->second);
    uv_timer_stop(&s->grace);
    tick_close(s);
    uv_close((uv_handle_t *)&s->second, NULL);
    uv_close((uv_handle_t *)&s->grace, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    if (s->has_truth)
        sim_truth_flush(&s->truth);
    lws_context_destroy(s->ctx); /* first call: starts closing lws's handles */
}

static void grace_cb(uv_timer_t *t)
{
    stop_now(t->data);
}

/* A clean stop tells clients "going away" (1001) the only way that works on
 * lws's libuv backend (per-connection timer close), then gives the close
 * frames 200 ms to leave before the context goes. */
void sim_server_stop(struct sim_server *s)
{
    if (s->stopping || s->draining)
        return;
    if (!s->conns)
        return stop_now(s);
    s->draining = 1;
    tick_stop(s); /* nothing more is published */
    s->refuse_until = INT64_MAX;
    sim_server_close_conns(s, -1, 1001);
    uv_timer_start(&s->grace, grace_cb, 200, 0);
}

void sim_server_close(struct sim_server *s)
{
    if (s->ctx) {
        if (!s->stopping) {
            s->stopping = 1;
            lws_context_destroy(s->ctx);
        }
        uv_run(&s->loop, UV_RUN_DEFAULT);
        lws_context_destroy(s->ctx); /* second call frees the rest */
        s->ctx = NULL;
        uv_walk(&s->loop, close_walk_cb, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
    }
    if (s->tick_fd >= 0) { /* the loop closed the poll without tick_close */
        close(s->tick_fd);
        s->tick_fd = -1;
    }
    for (int d = 0; d < SIM_D_COUNT; d++)
        if (s->active[d])
            sim_exch_free(&s->x[d]);
    if (s->has_truth)
        sim_truth_close(&s->truth);
    if (s->replay)
        sim_replay_free(s->replay);
    free(s->evbuf);
    free(s->noff);
    tr_buf_free(&s->njson);
}
