/* The node's HTTP endpoint: health probes, status and metrics on a libuv
 * loop the caller owns (docs/operations.md).
 *
 *   GET /livez       200 while the loop runs (answering proves it)
 *   GET /readyz      200 when the probe callback says ready, else 503
 *   GET /healthz     200 when live and ready (or what the callback says)
 *   GET /api/status  JSON from the status callback
 *   GET /metrics     Prometheus text from the metrics registry
 *   ?verbose on a probe lists each check ("[+]log ok") as Kubernetes does.
 *
 * A deliberately small HTTP/1.1 server written on libuv TCP: GET and HEAD
 * only, no bodies, one request per connection (the response carries
 * "Connection: close"), bounded request size (431 for an oversized header
 * block, 413 when a body is announced), a deadline per connection from
 * accept to the last byte written (slow or idle clients are cut off), and a
 * cap on open connections. It never blocks the loop: responses are built in
 * memory and written asynchronously. Loopback only unless configured. */
#ifndef TR_NODE_HTTP_H
#define TR_NODE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "metrics.h"
#include "tickraft/error.h"
#include "tickraft/event.h"

enum tr_http_probe {
    TR_HTTP_LIVEZ = 0,
    TR_HTTP_READYZ = 1,
    TR_HTTP_HEALTHZ = 2,
};

/* Decides a probe. Appends check lines ("[+]log ok\n", "[-]feed cb: not
 * subscribed\n") to `detail` (printed with ?verbose or on failure) and
 * returns 1 (pass) or 0 (fail). Runs on the loop thread: must be quick. */
typedef int (*tr_http_probe_cb)(void *arg, int probe, struct tr_buf *detail);
/* Appends the /api/status JSON document to `out`. 0, or a TR_E* code
 * (the endpoint answers 500). Loop thread. */
typedef int (*tr_http_status_cb)(void *arg, struct tr_buf *out);

/* The node's readiness rule, for a probe_cb to call: ready when the log is
 * open and at least one configured feed is subscribed (or none is
 * configured). Appends one check line per item ("[+]log ok",
 * "[-]feed cb: not subscribed") to `detail` and returns 1 or 0. */
struct tr_http_feed_state {
    const char *name;
    int subscribed; /* at least one connection subscribed */
};
int tr_http_readiness(int log_open, const struct tr_http_feed_state *feeds, size_t n_feeds,
                      struct tr_buf *detail);

struct tr_http_options {
    const char *host;            /* IP literal; default "127.0.0.1" */
    uint16_t port;               /* 0 = any free port (see tr_http_port) */
    uint32_t request_timeout_ms; /* accept to response written; default 10000 */
    uint32_t max_request_bytes;  /* request line + headers; default 8192 */
    uint32_t max_connections;    /* more are accepted and closed at once; default 64 */
    tr_http_probe_cb probe_cb;   /* NULL: every probe passes */
    tr_http_status_cb status_cb; /* NULL: /api/status answers 404 */
    void *arg;                   /* passed to both callbacks */
    struct tr_metrics *metrics;  /* NULL: /metrics answers 404; borrowed */
};
void tr_http_options_init(struct tr_http_options *o);

struct tr_http;

/* Binds and listens on `loop` (loop thread). Heap server in *out. TR_EINVAL
 * (bad host), TR_EBUSY (address in use), TR_EPERM, TR_EIO, TR_ENOMEM, with
 * the address in the message. `o` is copied; `loop`, the metrics and the
 * callbacks' arg are borrowed and must outlive the server. */
int tr_http_start(struct tr_http **out, uv_loop_t *loop, const struct tr_http_options *o,
                  struct tr_error *err);
/* The port actually bound (useful with port 0). */
int tr_http_port(const struct tr_http *h);
/* Requests served since start (any status). */
uint64_t tr_http_requests(const struct tr_http *h);

/* Stops listening and closes every connection (loop thread). The server
 * frees itself once libuv has closed its handles, during a later turn of
 * the loop; then `done_cb` (may be NULL) runs. `h` must not be used after
 * this call. NULL is a no-op. */
void tr_http_stop(struct tr_http *h, void (*done_cb)(void *arg), void *arg);

/* ---- the request parser (http_parse.c), exposed for tests and fuzzing ---- */

struct tr_http_request {
    const char *method; /* "GET" / "HEAD" */
    const char *path;   /* "/metrics", NUL-terminated, query cut off */
    const char *query;  /* after '?', or NULL */
    int head;           /* 1 for HEAD */
};

/* Length of the header block (through its blank line, CRLF or bare LF) in
 * `len` bytes of `b`, or 0 if it is not complete yet. */
size_t tr_http_header_end(const char *b, size_t len);
/* Parses the header block `buf[0..len)` in place (NULs are written into
 * it; the request's pointers point into it). Returns 0 for a GET or HEAD
 * this endpoint can serve, or the status to refuse with: 400 (malformed,
 * control bytes, missing Host on 1.1), 405 (other method), 413 (a body is
 * announced), 505 (other HTTP version). Never reads past `len`. */
int tr_http_parse_request(char *buf, size_t len, struct tr_http_request *rq);

#endif
