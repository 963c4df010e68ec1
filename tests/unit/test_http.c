/* Tests of the node's HTTP endpoint (node/http.c): the server runs on a
 * libuv loop in its own thread on 127.0.0.1 port 0, and the test talks raw
 * HTTP over blocking sockets: probes with Kubernetes semantics, status and
 * metrics, and every refusal (400, 404, 405, 413, 431, 505), slowloris and
 * idle clients cut off, the connection cap, and a clean stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"

struct fixture {
    uv_loop_t loop;
    uv_async_t stop;
    pthread_t th;
    struct tr_http *http;
    struct tr_metrics *metrics;
    int port;
    atomic_int ready;   /* what the readyz probe answers */
    atomic_int status_fails;
    int stopped;
};

static int probe_cb(void *arg, int probe, struct tr_buf *detail)
{
    struct fixture *f = arg;
    if (probe == TR_HTTP_LIVEZ) {
        tr_buf_append(detail, "[+]loop ok\n", 11);
        return 1;
    }
    if (atomic_load(&f->ready)) {
        tr_buf_append(detail, "[+]log ok\n[+]feeds ok\n", 22);
        return 1;
    }
    tr_buf_append(detail, "[+]log ok\n[-]feed cb: not subscribed\n", 37);
    return 0;
}

static int status_cb(void *arg, struct tr_buf *out)
{
    struct fixture *f = arg;
    if (atomic_load(&f->status_fails))
        return TR_EINTERNAL;
    const char *doc = "{\"feeds\":[{\"name\":\"cb\",\"connected\":true}]}";
    return tr_buf_append(out, doc, strlen(doc));
}

static void done_cb(void *arg)
{
    ((struct fixture *)arg)->stopped = 1;
}

static void stop_cb(uv_async_t *a)
{
    struct fixture *f = a->data;
    tr_http_stop(f->http, done_cb, f);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_thread(void *p)
{
    struct fixture *f = p;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

static struct fixture *start(uint32_t timeout_ms, uint32_t max_conns)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(tr_metrics_alloc(&f->metrics, NULL), 0);
    tr_metrics_add(f->metrics, TR_M_EVENTS_RECEIVED, (const char *const[]){"cb", "trade"}, 5);
    atomic_init(&f->ready, 1);
    struct tr_http_options o;
    tr_http_options_init(&o);
    o.port = 0;
    o.request_timeout_ms = timeout_ms;
    o.max_connections = max_conns;
    o.max_request_bytes = 1024;
    o.probe_cb = probe_cb;
    o.status_cb = status_cb;
    o.arg = f;
    o.metrics = f->metrics;
    struct tr_error err;
    int rc = tr_http_start(&f->http, &f->loop, &o, &err);
    if (rc)
        fail_msg("%s", err.msg);
    f->port = tr_http_port(f->http);
    assert_true(f->port > 0);
    uv_async_init(&f->loop, &f->stop, stop_cb);
    f->stop.data = f;
    pthread_create(&f->th, NULL, loop_thread, f);
    return f;
}

static void finish(struct fixture *f)
{
    uv_async_send(&f->stop);
    pthread_join(f->th, NULL);
    assert_true(f->stopped);
    assert_int_equal(uv_loop_close(&f->loop), 0); /* every handle closed */
    tr_metrics_free(f->metrics);
    free(f);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {20, 0}; /* a hung server fails the test instead of hanging it */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the server may have answered and closed already */
        p = (const char *)p + w;
        n -= (size_t)w;
    }
}

/* Reads until the server closes. Returns a heap string. */
static char *read_all(int fd)
{
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    for (;;) {
        if (len + 1024 > cap)
            b = realloc(b, cap *= 2);
        ssize_t r = recv(fd, b + len, cap - len - 1, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    b[len] = '\0';
    return b;
}

static char *request(struct fixture *f, const char *raw)
{
    int fd = connect_to(f->port);
    send_all(fd, raw, strlen(raw));
    char *resp = read_all(fd);
    close(fd);
    return resp;
}

static void expect(struct fixture *f, const char *raw, const char *status, const char *body_part)
{
    char *r = request(f, raw);
    if (strncmp(r, status, strlen(status)) != 0 || (body_part && !strstr(r, body_part)))
        fail_msg("request %.40s...: expected \"%s\" with \"%s\", got \"%.300s\"", raw, status,
                 body_part ? body_part : "", r);
    free(r);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: x\r\n\r\n"

static void probes_follow_kubernetes_semantics(void **state)
{
    (void)state;
    struct fixture *f = start(5000, 64);
    expect(f, GET("/livez"), "HTTP/1.1 200 OK\r\n", "\r\n\r\nok\n");
    expect(f, GET("/readyz"), "HTTP/1.1 200 OK\r\n", "\r\n\r\nok\n");
    expect(f, GET("/healthz"), "HTTP/1.1 200 OK\r\n", "ok\n");
    expect(f, GET("/readyz?verbose"), "HTTP/1.1 200", "[+]log ok\n[+]feeds ok\nreadyz check passed\n");
    atomic_store(&f->ready, 0);
    expect(f, GET("/readyz"), "HTTP/1.1 503 Service Unavailable\r\n",
           "[-]feed cb: not subscribed\nreadyz check failed\n");
    expect(f, GET("/livez"), "HTTP/1.1 200", "ok\n"); /* not ready is not dead */
    expect(f, GET("/healthz?verbose=1"), "HTTP/1.1 503", "[+]loop ok\n[+]log ok\n[-]feed cb");
    finish(f);
}

static void status_and_metrics_are_served(void **state)
{
    (void)state;
    struct fixture *f = start(5000, 64);
    expect(f, GET("/api/status"), "HTTP/1.1 200", "Content-Type: application/json\r\n");
    expect(f, GET("/api/status"), "HTTP/1.1 200", "\r\n\r\n{\"feeds\":[{\"name\":\"cb\"");
    expect(f, GET("/metrics"), "HTTP/1.1 200", "Content-Type: text/plain; version=0.0.4");
    expect(f, GET("/metrics"), "HTTP/1.1 200",
           "tickraft_events_received_total{feed=\"cb\",kind=\"trade\"} 5\n");
    /* the endpoint counts itself, with bounded labels */
    expect(f, GET("/metrics"), "HTTP/1.1 200",
           "tickraft_http_requests_total{path=\"/metrics\",code=\"200\"} 2\n");
    expect(f, GET("/../../etc/passwd"), "HTTP/1.1 404", NULL);
    expect(f, GET("/metrics"), "HTTP/1.1 200",
           "tickraft_http_requests_total{path=\"other\",code=\"404\"} 1\n");
    atomic_store(&f->status_fails, 1);
    expect(f, GET("/api/status"), "HTTP/1.1 500", "status unavailable");
    /* HEAD: headers with the length of the body, no body */
    char *r = request(f, "HEAD /livez HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_non_null(strstr(r, "Content-Length: 3\r\n"));
    assert_string_equal(strstr(r, "\r\n\r\n"), "\r\n\r\n");
    free(r);
    /* HTTP/1.0 needs no Host; bare LF line ends are accepted */
    expect(f, "GET /livez HTTP/1.0\n\n", "HTTP/1.1 200", "ok\n");
    finish(f);
}

static void bad_requests_are_refused(void **state)
{
    (void)state;
    struct fixture *f = start(5000, 64);
    expect(f, GET("/nope"), "HTTP/1.1 404 Not Found", NULL);
    expect(f, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405", "Allow: GET, HEAD\r\n");
    expect(f, "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400", NULL); /* no Host */
    expect(f, "GET /metrics\r\nHost: x\r\n\r\n", "HTTP/1.1 400", NULL);
    expect(f, "GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400", NULL);
    expect(f, "GET metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400", NULL);
    expect(f, "GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505", NULL);
    expect(f, "GET /metrics FTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400", NULL);
    expect(f, "G(T /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400", NULL);
    expect(f, "GET /metrics HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", "HTTP/1.1 400", NULL);
    expect(f, "GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "HTTP/1.1 400", NULL);
    expect(f, "GET /metrics HTTP/1.1\r\nHo st: x\r\n\r\n", "HTTP/1.1 400", NULL);
    expect(f, "GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400", NULL);
    expect(f, "GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
           "HTTP/1.1 413", NULL);
    expect(f, "GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 200", NULL);
    expect(f, "GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 400",
           NULL);
    expect(f, "GET /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
           "HTTP/1.1 413", NULL);
    /* a header block larger than max_request_bytes (1 KiB here) */
    char big[4096];
    int n = snprintf(big, sizeof big, "GET /livez HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    memset(big + n, 'a', 2000);
    strcpy(big + n + 2000, "\r\n\r\n");
    expect(f, big, "HTTP/1.1 431", NULL);
    /* binary garbage ending like a header block */
    char junk[605];
    for (size_t i = 0; i < 600; i++)
        junk[i] = (char)((i * 37 + 11) % 255 + 1);
    memcpy(junk + 600, "\r\n\r\n", 5);
    expect(f, junk, "HTTP/1.1 400", NULL);
    /* the server still works after all that */
    expect(f, GET("/livez"), "HTTP/1.1 200", "ok\n");
    finish(f);
}

static void slow_and_idle_clients_are_cut_off(void **state)
{
    (void)state;
    struct fixture *f = start(300, 64); /* 300 ms per connection */
    /* idle: connects and says nothing */
    int idle = connect_to(f->port);
    /* slowloris: one byte at a time, never finishing the headers */
    int slow = connect_to(f->port);
    const char *part = "GET /livez HTTP/1.1\r\nHost: x\r\nX-A: b\r\n";
    int cut = 0;
    for (size_t i = 0; i < 400 && !cut; i++) {
        ssize_t w = send(slow, part + (i % strlen(part)), 1, MSG_NOSIGNAL);
        if (w <= 0)
            cut = 1;
        struct pollfd p = {slow, POLLIN, 0};
        if (poll(&p, 1, 20) > 0) {
            char c;
            if (recv(slow, &c, 1, 0) <= 0)
                cut = 1;
        }
    }
    assert_true(cut);                   /* trickling bytes did not extend the deadline */
    char *r = read_all(idle);            /* the server closes the idle one too */
    assert_string_equal(r, "");
    free(r);
    close(idle);
    close(slow);
    /* meanwhile a normal client is served */
    expect(f, GET("/livez"), "HTTP/1.1 200", "ok\n");
    finish(f);
}

static void connections_beyond_the_cap_are_closed(void **state)
{
    (void)state;
    struct fixture *f = start(2000, 2);
    /* the loop accepts in backlog order, so c is the third it sees */
    int a = connect_to(f->port), b = connect_to(f->port);
    int c = connect_to(f->port);
    char *r = read_all(c); /* closed without a response */
    assert_string_equal(r, "");
    free(r);
    close(c);
    send_all(a, GET("/livez"), strlen(GET("/livez")));
    r = read_all(a);
    assert_non_null(strstr(r, "HTTP/1.1 200"));
    free(r);
    close(a);
    close(b);
    finish(f);
}

static void stop_with_open_connections_closes_everything(void **state)
{
    (void)state;
    struct fixture *f = start(60000, 64);
    int a = connect_to(f->port);
    send_all(a, "GET /livez HTTP/1.1\r\n", 21); /* half a request */
    expect(f, GET("/livez"), "HTTP/1.1 200", NULL);
    finish(f); /* returns only if every handle closed */
    char *r = read_all(a);
    assert_string_equal(r, "");
    free(r);
    close(a);
}

static void busy_port_and_bad_host_are_reported(void **state)
{
    (void)state;
    struct fixture *f = start(1000, 4);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct tr_http_options o;
    tr_http_options_init(&o);
    o.port = (uint16_t)f->port;
    struct tr_http *h;
    struct tr_error err;
    assert_int_equal(tr_http_start(&h, &loop, &o, &err), TR_EBUSY);
    assert_non_null(strstr(err.msg, "127.0.0.1:"));
    o.host = "localhost";
    assert_int_equal(tr_http_start(&h, &loop, &o, &err), TR_EINVAL);
    uv_run(&loop, UV_RUN_DEFAULT); /* lets the failed listener's handle close */
    assert_int_equal(uv_loop_close(&loop), 0);
    finish(f);
}

static int parse(const char *text, struct tr_http_request *rq, char *buf)
{
    size_t n = strlen(text);
    memcpy(buf, text, n + 1);
    size_t end = tr_http_header_end(buf, n);
    return tr_http_parse_request(buf, end ? end : n, rq);
}

static void parser_splits_path_query_and_method(void **state)
{
    (void)state;
    struct tr_http_request rq;
    char buf[512];
    assert_int_equal(parse("GET /readyz?verbose&x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: k\r\n\r\n",
                           &rq, buf), 0);
    assert_string_equal(rq.method, "GET");
    assert_string_equal(rq.path, "/readyz");
    assert_string_equal(rq.query, "verbose&x=1");
    assert_false(rq.head);
    assert_int_equal(parse("HEAD / HTTP/1.0\n\n", &rq, buf), 0);
    assert_true(rq.head);
    assert_null(rq.query);
    assert_int_equal(parse("DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", &rq, buf), 405);
    assert_int_equal(parse("GET / HTTP/1.1\r\nhOsT:a\r\ncontent-length: 00\r\n\r\n", &rq, buf),
                     0);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", &rq, buf),
                     413);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n", &rq, buf), 400); /* unfinished */
    assert_int_equal(parse("GET / HTTP/3\r\n\r\n", &rq, buf), 505);
    assert_int_equal(parse("\r\n\r\n", &rq, buf), 400);
    assert_int_equal(tr_http_header_end("GET / HTTP/1.0\r\n\r", 17), 0);
    assert_int_equal(tr_http_header_end("GET / HTTP/1.0\r\n\r\nrest", 22), 18);
}

static void readiness_rule_needs_log_and_one_subscribed_feed(void **state)
{
    (void)state;
    struct tr_buf d;
    tr_buf_init(&d);
    struct tr_http_feed_state f[2] = {{"cb", 0}, {"bn", 1}};
    assert_int_equal(tr_http_readiness(1, f, 2, &d), 1);
    assert_int_equal(tr_buf_append(&d, "", 1), 0);
    assert_string_equal((char *)d.data, "[+]log ok\n[-]feed cb: not subscribed\n[+]feed bn ok\n");
    d.len = 0;
    f[1].subscribed = 0;
    assert_int_equal(tr_http_readiness(1, f, 2, &d), 0);
    assert_int_equal(tr_http_readiness(1, NULL, 0, &d), 1); /* no feeds configured */
    d.len = 0;
    assert_int_equal(tr_http_readiness(0, NULL, 0, &d), 0);
    assert_int_equal(tr_buf_append(&d, "", 1), 0);
    assert_string_equal((char *)d.data, "[-]log: not open\n");
    tr_buf_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readiness_rule_needs_log_and_one_subscribed_feed),
        cmocka_unit_test(parser_splits_path_query_and_method),
        cmocka_unit_test(probes_follow_kubernetes_semantics),
        cmocka_unit_test(status_and_metrics_are_served),
        cmocka_unit_test(bad_requests_are_refused),
        cmocka_unit_test(slow_and_idle_clients_are_cut_off),
        cmocka_unit_test(connections_beyond_the_cap_are_closed),
        cmocka_unit_test(stop_with_open_connections_closes_everything),
        cmocka_unit_test(busy_port_and_bad_host_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
