/* The node's HTTP endpoint on libuv TCP (see http.h).
 *
 * One connection = one request. States: READING (collect the header block
 * into a buffer of max_request_bytes), WRITING (response queued), DRAINING
 * (response written and our side shut down: read and discard until the
 * client closes, so that unread request bytes never turn our close into a
 * RST that destroys the response in flight), then closed. One timer per
 * connection bounds the whole exchange, which is what stops slowloris
 * clients: trickling bytes does not extend the deadline.
 *
 * Why not lws: lws's HTTP server on a foreign loop works, but its shutdown
 * and close paths on the libuv backend are the fragile part (FACTS.md), and
 * five GET routes do not need it. */
#include "http.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { READING, WRITING, DRAINING, CLOSING };

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    uv_shutdown_t sd;
    struct tr_http *srv;
    struct conn *prev, *next;
    char *buf;
    size_t len;
    struct tr_buf resp;
    int state;
    int eof;    /* the client has finished sending */
    int closes; /* handles still to be closed */
};

struct tr_http {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct tr_http_options o;
    char host[64];
    int port;
    int listener_open;
    int stopping;
    struct conn *conns;
    uint32_t n_conns;
    uint64_t requests;
    char scratch[4096]; /* reads we discard land here */
    void (*done_cb)(void *arg);
    void *done_arg;
};

void tr_http_options_init(struct tr_http_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->request_timeout_ms = 10000;
    o->max_request_bytes = 8192;
    o->max_connections = 64;
}

/* ------------------------------------------------------------ teardown */

static void maybe_free_server(struct tr_http *h)
{
    if (!h->stopping || h->conns || h->listener_open)
        return;
    void (*cb)(void *) = h->done_cb;
    void *arg = h->done_arg;
    free(h);
    if (cb)
        cb(arg);
}

static void conn_closed_cb(uv_handle_t *handle)
{
    struct conn *c = handle->data;
    if (--c->closes > 0)
        return;
    struct tr_http *h = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->n_conns--;
    free(c->buf);
    tr_buf_free(&c->resp);
    free(c);
    maybe_free_server(h);
}

static void conn_close(struct conn *c)
{
    if (c->state == CLOSING)
        return;
    c->state = CLOSING;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
    uv_close((uv_handle_t *)&c->timer, conn_closed_cb);
}

static void listener_closed_cb(uv_handle_t *handle)
{
    struct tr_http *h = handle->data;
    h->listener_open = 0;
    maybe_free_server(h);
}

void tr_http_stop(struct tr_http *h, void (*done_cb)(void *arg), void *arg)
{
    if (!h)
        return;
    h->stopping = 1;
    h->done_cb = done_cb;
    h->done_arg = arg;
    for (struct conn *c = h->conns; c; c = c->next)
        conn_close(c);
    if (h->listener_open && !uv_is_closing((uv_handle_t *)&h->listener))
        uv_close((uv_handle_t *)&h->listener, listener_closed_cb);
    else
        maybe_free_server(h);
}

/* ------------------------------------------------------------ responses */

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    }
    return "Error";
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    if (status < 0 || c->state == CLOSING || c->eof) {
        conn_close(c);
        return;
    }
    c->state = DRAINING; /* keep reading until the client closes or the timer fires */
}

static void write_cb(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    if (c->state == CLOSING)
        return;
    c->sd.data = c;
    if (status < 0 || uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, shutdown_cb) != 0)
        conn_close(c);
}

/* Counts the request under a bounded label set (never the raw path: a
 * scanner must not be able to create series at will). */
static void count_request(struct tr_http *h, const char *path, int code)
{
    h->requests++;
    static const char *const known[] = {"/livez", "/readyz", "/healthz", "/api/status",
                                        "/metrics"};
    const char *label = "other";
    for (size_t i = 0; path && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(path, known[i]) == 0)
            label = known[i];
    char cs[8];
    snprintf(cs, sizeof cs, "%d", code);
    tr_metrics_add(h->o.metrics, TR_M_HTTP_REQUESTS, (const char *const[]){label, cs}, 1);
}

/* Queues the whole response; `body` may be NULL for an empty one. */
static void respond(struct conn *c, int code, const char *ctype, const char *extra,
                    const void *body, size_t blen, int head, const char *path)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                     code, reason(code), ctype, blen, extra ? extra : "");
    count_request(c->srv, path, code);
    c->resp.len = 0;
    if (tr_buf_append(&c->resp, hdr, (size_t)n) != 0 ||
        (!head && blen && tr_buf_append(&c->resp, body, blen) != 0)) {
        conn_close(c);
        return;
    }
    c->state = WRITING;
    uv_buf_t b = uv_buf_init((char *)c->resp.data, (unsigned)c->resp.len);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0)
        conn_close(c);
}

static void respond_text(struct conn *c, int code, const char *text, const char *path)
{
    respond(c, code, "text/plain; charset=utf-8", code == 405 ? "Allow: GET, HEAD\r\n" : NULL,
            text, strlen(text), 0, path);
}

/* ------------------------------------------------------------ routes */

int tr_http_readiness(int log_open, const struct tr_http_feed_state *feeds, size_t n_feeds,
                      struct tr_buf *detail)
{
    char line[160];
    int any = 0;
    snprintf(line, sizeof line, log_open ? "[+]log ok\n" : "[-]log: not open\n");
    tr_buf_append(detail, line, strlen(line));
    for (size_t i = 0; i < n_feeds; i++) {
        any |= feeds[i].subscribed != 0;
        snprintf(line, sizeof line, feeds[i].subscribed ? "[+]feed %s ok\n"
                                                        : "[-]feed %s: not subscribed\n",
                 feeds[i].name ? feeds[i].name : "?");
        tr_buf_append(detail, line, strlen(line));
    }
    return log_open && (n_feeds == 0 || any);
}

static int run_probe(struct tr_http *h, int which, struct tr_buf *detail)
{
    if (!h->o.probe_cb)
        return 1;
    if (which != TR_HTTP_HEALTHZ)
        return h->o.probe_cb(h->o.arg, which, detail) ? 1 : 0;
    int live = h->o.probe_cb(h->o.arg, TR_HTTP_LIVEZ, detail);
    int ready = h->o.probe_cb(h->o.arg, TR_HTTP_READYZ, detail);
    return live && ready;
}

static void route_probe(struct conn *c, int which, const char *name, int verbose, int head,
                        const char *path)
{
    struct tr_buf body;
    tr_buf_init(&body);
    int ok = run_probe(c->srv, which, &body);
    char tail[64];
    snprintf(tail, sizeof tail, "%s check %s\n", name, ok ? "passed" : "failed");
    if (ok && !verbose) {
        body.len = 0;
        snprintf(tail, sizeof tail, "ok\n");
    }
    int rc = tr_buf_append(&body, tail, strlen(tail));
    if (rc)
        respond_text(c, 500, "out of memory\n", path);
    else
        respond(c, ok ? 200 : 503, "text/plain; charset=utf-8", NULL, body.data, body.len, head,
                path);
    tr_buf_free(&body);
}

static void route(struct conn *c, const char *path, const char *query, int head)
{
    struct tr_http *h = c->srv;
    int verbose = query && (strcmp(query, "verbose") == 0 || strncmp(query, "verbose=", 8) == 0 ||
                            strstr(query, "&verbose") != NULL);
    if (strcmp(path, "/livez") == 0)
        return route_probe(c, TR_HTTP_LIVEZ, "livez", verbose, head, path);
    if (strcmp(path, "/readyz") == 0)
        return route_probe(c, TR_HTTP_READYZ, "readyz", verbose, head, path);
    if (strcmp(path, "/healthz") == 0)
        return route_probe(c, TR_HTTP_HEALTHZ, "healthz", verbose, head, path);
    struct tr_buf body;
    tr_buf_init(&body);
    if (strcmp(path, "/api/status") == 0 && h->o.status_cb) {
        if (h->o.status_cb(h->o.arg, &body) != 0)
            respond(c, 500, "application/json", NULL, "{\"error\":\"status unavailable\"}\n", 31,
                    head, path);
        else if (tr_buf_append(&body, "\n", 1) != 0)
            respond_text(c, 500, "out of memory\n", path);
        else
            respond(c, 200, "application/json", NULL, body.data, body.len, head, path);
    } else if (strcmp(path, "/metrics") == 0 && h->o.metrics) {
        if (tr_metrics_render(h->o.metrics, &body) != 0)
            respond_text(c, 500, "out of memory\n", path);
        else
            respond(c, 200, TR_METRICS_CONTENT_TYPE, NULL, body.data, body.len, head, path);
    } else {
        respond_text(c, 404, "not found\n", path);
    }
    tr_buf_free(&body);
}

/* The header block is complete in c->buf[0..end). */
static void handle_request(struct conn *c, size_t end)
{
    struct tr_http_request rq;
    int st = tr_http_parse_request(c->buf, end, &rq);
    if (st) {
        const char *msg = st == 413   ? "request bodies are not accepted\n"
                          : st == 405 ? "only GET and HEAD\n"
                          : st == 505 ? "only HTTP/1.0 and HTTP/1.1\n"
                                      : "bad request\n";
        return respond_text(c, st, msg, NULL);
    }
    route(c, rq.path, rq.query, rq.head);
}

/* ------------------------------------------------------------ I/O */

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = handle->data;
    size_t cap = c->srv->o.max_request_bytes;
    if (c->state == READING && c->len < cap)
        *buf = uv_buf_init(c->buf + c->len, (unsigned)(cap - c->len));
    else
        *buf = uv_buf_init(c->srv->scratch, sizeof c->srv->scratch);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;
    if (nread < 0) {
        /* EOF or error: in WRITING the write callback finishes the job */
        c->eof = 1;
        if (c->state != WRITING)
            conn_close(c);
        else
            uv_read_stop(stream);
        return;
    }
    if (c->state != READING || nread == 0)
        return;
    c->len += (size_t)nread;
    /* the new bytes may complete a terminator that started earlier */
    size_t end = tr_http_header_end(c->buf, c->len);
    if (end)
        handle_request(c, end);
    else if (c->len >= c->srv->o.max_request_bytes)
        respond_text(c, 431, "request header block too large\n", NULL);
}

static void timeout_cb(uv_timer_t *t)
{
    conn_close(t->data); /* slow, idle or not reading its response */
}

static void connection_cb(uv_stream_t *server, int status)
{
    struct tr_http *h = server->data;
    if (status < 0 || h->stopping)
        return;
    struct conn *c = calloc(1, sizeof *c);
    char *b = c ? malloc(h->o.max_request_bytes + 1) : NULL;
    if (!c || !b) {
        /* still take it off the backlog so the loop does not spin */
        uv_tcp_t *tmp = malloc(sizeof *tmp);
        if (tmp && uv_tcp_init(h->loop, tmp) == 0) {
            uv_accept(server, (uv_stream_t *)tmp);
            uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
        } else {
            free(tmp);
        }
        free(c);
        free(b);
        return;
    }
    c->buf = b;
    c->srv = h;
    tr_buf_init(&c->resp);
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->closes = 2;
    c->next = h->conns;
    if (h->conns)
        h->conns->prev = c;
    h->conns = c;
    h->n_conns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || h->n_conns > h->o.max_connections) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, timeout_cb, h->o.request_timeout_ms, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
        conn_close(c);
}

/* ------------------------------------------------------------ start */

static int uv_to_tr(int e)
{
    switch (e) {
    case UV_EADDRINUSE: return TR_EBUSY;
    case UV_EACCES:
    case UV_EPERM: return TR_EPERM;
    case UV_EADDRNOTAVAIL:
    case UV_EINVAL: return TR_EINVAL;
    case UV_ENOMEM: return TR_ENOMEM;
    }
    return TR_EIO;
}

static void free_after_close_cb(uv_handle_t *handle)
{
    free(handle->data);
}

int tr_http_start(struct tr_http **out, uv_loop_t *loop, const struct tr_http_options *o,
                  struct tr_error *err)
{
    *out = NULL;
    struct tr_http *h = calloc(1, sizeof *h);
    if (!h)
        return tr_errorf(err, TR_ENOMEM, "http: out of memory");
    h->loop = loop;
    if (o)
        h->o = *o;
    else
        tr_http_options_init(&h->o);
    struct tr_http_options d;
    tr_http_options_init(&d);
    snprintf(h->host, sizeof h->host, "%s", h->o.host ? h->o.host : d.host);
    h->o.host = h->host;
    if (!h->o.request_timeout_ms)
        h->o.request_timeout_ms = d.request_timeout_ms;
    if (h->o.max_request_bytes < 256)
        h->o.max_request_bytes = h->o.max_request_bytes ? 256 : d.max_request_bytes;
    if (!h->o.max_connections)
        h->o.max_connections = d.max_connections;
    struct sockaddr_storage addr;
    if (uv_ip4_addr(h->host, h->o.port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(h->host, h->o.port, (struct sockaddr_in6 *)&addr) != 0) {
        free(h);
        return tr_errorf(err, TR_EINVAL, "http: listen address '%s' is not an IP address",
                         o && o->host ? o->host : "");
    }
    int rc = uv_tcp_init(loop, &h->listener);
    if (rc) {
        free(h);
        return tr_errorf(err, uv_to_tr(rc), "http: %s", uv_strerror(rc));
    }
    h->listener.data = h;
    rc = uv_tcp_bind(&h->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&h->listener, 128, connection_cb);
    if (rc) {
        int code = uv_to_tr(rc);
        tr_errorf(err, code, "http: listen on %s:%u: %s", h->host, h->o.port, uv_strerror(rc));
        /* the handle is live: it frees `h` once the loop has closed it */
        uv_close((uv_handle_t *)&h->listener, free_after_close_cb);
        return code;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&h->listener, (struct sockaddr *)&bound, &blen);
    h->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    h->listener_open = 1;
    *out = h;
    return 0;
}

int tr_http_port(const struct tr_http *h)
{
    return h ? h->port : -1;
}

uint64_t tr_http_requests(const struct tr_http *h)
{
    return h ? h->requests : 0;
}
