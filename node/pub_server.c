/* The publisher's sockets, worker threads, request dispatch, authentication
 * and admin calls (node/pub.h, docs/protocol.md).
 *
 * One nng rep socket listens on every URL; `workers` threads each own an
 * nng context and serve one request at a time, so long-polling
 * subscribers do not block each other up to that many at once. Each
 * receive has a 200 ms timeout so a worker notices shutdown without an
 * aio left outstanding at nng_close (FACTS.md: that can hang). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pub_int.h"

#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#define RECV_POLL_MS 200

int64_t pub_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void tr_pub_options_init(struct tr_pub_options *o)
{
    memset(o, 0, sizeof *o);
    o->workers = 32;
    o->max_subscribers = 256;
    o->idle_ms = 60000;
    o->max_batch_events = 4096;
    o->max_batch_bytes = 1u << 20;
    o->max_request = TR_PROTO_MAX_REQUEST;
    o->max_wait_ms = 250;
}

static void reply_reset(struct pub_reply *r)
{
    r->b.len = 0;
    msgpack_packer_init(&r->pk, &r->b, tr_proto_buf_write);
}

void pub_reply_error(struct tr_pub *p, struct pub_reply *r, int status, const char *fmt, ...)
{
    char msg[TR_ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_reset(r);
    tr_proto_pack_reply(&r->pk, status, msg, -1);
    atomic_fetch_add(&p->c.errors, 1);
}

static int authorised(const char *want, const struct tr_proto_req *q)
{
    if (!want || !want[0])
        return 1;
    return q->token && tr_proto_token_equal(want, q->token, q->token_len);
}

static void do_hello(struct tr_pub *p, struct pub_reply *r)
{
    tr_proto_pack_reply(&r->pk, 0, NULL, 5);
    msgpack_pack_str(&r->pk, strlen(p->node_name));
    msgpack_pack_str_body(&r->pk, p->node_name, strlen(p->node_name));
    msgpack_pack_uint32(&r->pk, TR_PROTO_MAJOR);
    msgpack_pack_uint32(&r->pk, p->o.speak_1_0 ? 0 : p->o.speak_1_1 ? 1 : TR_PROTO_MINOR);
    msgpack_pack_uint64(&r->pk, p->o.max_request);
    if (p->data_token)
        msgpack_pack_true(&r->pk);
    else
        msgpack_pack_false(&r->pk);
}

/* ---- admin ---- */
static int builtin_rows(struct tr_pub *p, const char *cmd, struct tr_client_table *t)
{
    struct tr_pub_stats st;
    tr_pub_stats(p, &st);
    struct tr_log_stats ls;
    tr_log_stats(p->o.log, &ls);
    if (strcmp(cmd, "status") == 0) {
        tr_client_table_kv(t, "node", "%s", p->node_name);
        tr_client_table_kv(t, "protocol", "%d.%d", TR_PROTO_MAJOR, TR_PROTO_MINOR);
        tr_client_table_kv(t, "log.first_lsn", "%llu", (unsigned long long)ls.first_lsn);
        tr_client_table_kv(t, "log.committed_lsn", "%llu", (unsigned long long)ls.committed_lsn);
        tr_client_table_kv(t, "log.written_lsn", "%llu", (unsigned long long)ls.written_lsn);
        tr_client_table_kv(t, "log.durable_lsn", "%llu", (unsigned long long)ls.durable_lsn);
        tr_client_table_kv(t, "log.segments", "%llu", (unsigned long long)ls.segments);
        tr_client_table_kv(t, "log.streams", "%llu", (unsigned long long)ls.streams);
        tr_client_table_kv(t, "log.disk_bytes", "%llu", (unsigned long long)ls.disk_bytes);
        tr_client_table_kv(t, "clients.subscribers", "%llu", (unsigned long long)st.subscribers);
        return 0;
    }
    if (strcmp(cmd, "health") == 0) {
        static const char *const cols[] = {"check", "state", "detail"};
        char detail[128];
        tr_client_table_cols(t, 3, cols);
        snprintf(detail, sizeof detail, "committed lsn %llu%s",
                 (unsigned long long)ls.committed_lsn, ls.nospace ? ", disk full" : "");
        const char *row[] = {"log", ls.nospace ? "fail" : "ok", detail};
        tr_client_table_row(t, row);
        const char *row2[] = {"publisher", "ok", "serving"};
        tr_client_table_row(t, row2);
        return 0;
    }
    if (strcmp(cmd, "metrics") == 0) {
        static const char *const cols[] = {"metric", "value"};
        tr_client_table_cols(t, 2, cols);
#define ROW(name, v)                                                                     \
    do {                                                                                 \
        char val_[32];                                                                   \
        snprintf(val_, sizeof val_, "%llu", (unsigned long long)(v));                    \
        const char *r_[] = {name, val_};                                                 \
        tr_client_table_row(t, r_);                                                      \
    } while (0)
        ROW("tickraft_pub_requests_total", st.requests);
        ROW("tickraft_pub_errors_total", st.errors);
        ROW("tickraft_pub_malformed_total", st.malformed);
        ROW("tickraft_pub_oversized_total", st.oversized);
        ROW("tickraft_pub_unauthenticated_total", st.unauthenticated);
        ROW("tickraft_pub_bad_version_total", st.bad_version);
        ROW("tickraft_pub_events_sent_total", st.events_sent);
        ROW("tickraft_pub_bytes_sent_total", st.bytes_sent);
        ROW("tickraft_pub_fell_behind_total", st.fell_behind);
        ROW("tickraft_pub_fetch_busy_total", st.busy);
        ROW("tickraft_pub_live_subscribes_total", st.live_subscribes);
        ROW("tickraft_pub_subscribers", st.subscribers);
        ROW("tickraft_log_committed_lsn", ls.committed_lsn);
#undef ROW
        return 0;
    }
    return TR_ENOTFOUND;
}

static void do_admin(struct tr_pub *p, const msgpack_object_array *body, struct pub_reply *r)
{
    atomic_fetch_add(&p->c.admin_calls, 1);
    const char *cmdp;
    size_t cmdn;
    if (body->size != 2 || tr_proto_str(&body->ptr[0], &cmdp, &cmdn) || !cmdp || cmdn == 0 ||
        cmdn > 63 || body->ptr[1].type != MSGPACK_OBJECT_ARRAY ||
        body->ptr[1].via.array.size > 32) {
        atomic_fetch_add(&p->c.malformed, 1);
        pub_reply_error(p, r, TR_EPARSE, "admin: body must be [command, [args...]]");
        return;
    }
    char cmd[64];
    memcpy(cmd, cmdp, cmdn);
    cmd[cmdn] = 0;
    char *args[32];
    size_t nargs = 0;
    const msgpack_object_array *a = &body->ptr[1].via.array;
    int rc = 0;
    for (; nargs < a->size; nargs++) {
        const char *s;
        size_t n;
        if (tr_proto_str(&a->ptr[nargs], &s, &n) || !(args[nargs] = strndup(s ? s : "", n))) {
            rc = TR_EPARSE;
            break;
        }
    }
    struct tr_client_table t;
    tr_client_table_init(&t);
    struct tr_error err;
    tr_error_clear(&err);
    if (rc) {
        atomic_fetch_add(&p->c.malformed, 1);
        pub_reply_error(p, r, rc, "admin: arguments must be strings");
        goto out;
    }
    int brc = builtin_rows(p, cmd, &t);
    if (p->o.admin_cb) {
        rc = p->o.admin_cb(p->o.admin_arg, cmd, (const char *const *)args, nargs, &t, &err);
        if (rc == TR_ENOTFOUND && brc == 0)
            rc = 0; /* a built-in command the node adds nothing to */
    } else {
        rc = brc;
    }
    if (rc == TR_ENOTFOUND && !err.msg[0])
        tr_errorf(&err, rc, "unknown admin command '%s'", cmd);
    if (rc) {
        pub_reply_error(p, r, rc, "%s", err.msg[0] ? err.msg : tr_strerror(rc));
        goto out;
    }
    if (!t.n_cols) {
        static const char *const ok[] = {"result"};
        tr_client_table_cols(&t, 1, ok);
    }
    tr_proto_pack_reply(&r->pk, 0, NULL, 2);
    tr_client_table_pack(&t, &r->pk);
out:
    tr_client_table_free(&t);
    while (nargs--)
        free(args[nargs]);
}

/* ---- dispatch ---- */
void pub_handle(struct tr_pub *p, const void *data, size_t len, struct pub_reply *r)
{
    atomic_fetch_add(&p->c.requests, 1);
    reply_reset(r);
    if (len > p->o.max_request) {
        atomic_fetch_add(&p->c.oversized, 1);
        pub_reply_error(p, r, TR_ETOOBIG, "request of %zu bytes is larger than the limit %zu",
                        len, p->o.max_request);
        return;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct tr_proto_req q;
    struct tr_error err;
    tr_error_clear(&err);
    if (tr_proto_parse_req(data, len, &u, &q, &err)) {
        atomic_fetch_add(&p->c.malformed, 1);
        pub_reply_error(p, r, TR_EPARSE, "malformed request: %s", err.msg);
        goto out;
    }
    if (q.major != TR_PROTO_MAJOR) {
        atomic_fetch_add(&p->c.bad_version, 1);
        pub_reply_error(p, r, TR_EVERSION,
                        "protocol major version %u is not supported (this node speaks %d.%d)",
                        q.major, TR_PROTO_MAJOR, TR_PROTO_MINOR);
        goto out;
    }
    if (q.type == TR_PROTO_ADMIN) {
        if (!p->admin_token) {
            pub_reply_error(p, r, TR_EPERM, "admin calls are disabled on this node (no token set)");
        } else if (!authorised(p->admin_token, &q)) {
            atomic_fetch_add(&p->c.unauthenticated, 1);
            pub_reply_error(p, r, TR_EAUTH, "bad or missing admin token");
        } else {
            do_admin(p, q.body, r);
        }
        goto out;
    }
    if (q.type != TR_PROTO_HELLO && !authorised(p->data_token, &q)) {
        atomic_fetch_add(&p->c.unauthenticated, 1);
        pub_reply_error(p, r, TR_EAUTH, "bad or missing data token");
        goto out;
    }
    switch (q.type) {
    case TR_PROTO_HELLO: do_hello(p, r); break;
    case TR_PROTO_SUBSCRIBE: pub_subscribe(p, q.body, r); break;
    case TR_PROTO_FETCH: pub_fetch(p, q.body, r); break;
    case TR_PROTO_UNSUBSCRIBE: pub_unsubscribe(p, q.body, r); break;
    case TR_PROTO_QUERY: pub_query(p, q.body, r); break;
    default:
        atomic_fetch_add(&p->c.malformed, 1);
        pub_reply_error(p, r, TR_EUNSUPPORTED, "unknown request type %u", q.type);
    }
out:
    msgpack_unpacked_destroy(&u);
}

struct worker_arg {
    struct tr_pub *p;
    unsigned n;
};

static void *worker(void *arg)
{
    struct worker_arg *wa = arg;
    struct tr_pub *p = wa->p;
    char name[16];
    snprintf(name, sizeof name, "tr-pub%u", wa->n);
    pthread_setname_np(pthread_self(), name); /* for ps -L / top -H */
    if (p->o.thread_cb)
        p->o.thread_cb(p->o.thread_arg, "pub", wa->n);
    nng_ctx ctx;
    nng_aio *aio = NULL;
    struct pub_reply r;
    tr_buf_init(&r.b);
    if (nng_ctx_open(&ctx, p->sock) != 0)
        return NULL;
    if (nng_aio_alloc(&aio, NULL, NULL) != 0) {
        nng_ctx_close(ctx);
        return NULL;
    }
    nng_aio_set_timeout(aio, RECV_POLL_MS);
    while (!atomic_load(&p->stopping)) {
        nng_ctx_recv(ctx, aio);
        nng_aio_wait(aio);
        int rv = nng_aio_result(aio);
        if (rv == NNG_ETIMEDOUT)
            continue;
        if (rv != 0)
            break; /* socket closed */
        nng_msg *m = nng_aio_get_msg(aio);
        pub_handle(p, nng_msg_body(m), nng_msg_len(m), &r);
        /* reuse the request message for the reply (keeps nng's header) */
        nng_msg_clear(m);
        if (nng_msg_append(m, r.b.data, r.b.len) != 0) {
            nng_msg_free(m);
            continue;
        }
        atomic_fetch_add(&p->c.bytes_sent, r.b.len);
        nng_aio_set_msg(aio, m);
        nng_ctx_send(ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0)
            nng_msg_free(nng_aio_get_msg(aio)); /* peer gone: drop the reply */
    }
    nng_aio_stop(aio);
    nng_aio_free(aio);
    nng_ctx_close(ctx);
    tr_buf_free(&r.b);
    return NULL;
}

/* One listen URL; tls+tcp:// gets the certificate (and client CA). The
 * files are read by nng when the option is set, so a missing or bad file
 * fails here, naming it. */
static int listen_one(struct tr_pub *p, const char *url, struct tr_error *err)
{
    int tls = strncmp(url, "tls+", 4) == 0;
    if (tls && !p->o.tls_cert_key_file)
        return tr_errorf(err, TR_EINVAL,
                         "publisher: %s needs a certificate ([publish] tls_cert_key_file)", url);
    nng_listener l;
    int rv = nng_listener_create(&l, p->sock, url);
    if (!rv && tls && (rv = nng_listener_set_string(l, NNG_OPT_TLS_CERT_KEY_FILE,
                                                    p->o.tls_cert_key_file))) {
        nng_listener_close(l);
        return tr_errorf(err, TR_EINVAL, "publisher: %s: certificate/key file %s: %s", url,
                         p->o.tls_cert_key_file, nng_strerror(rv));
    }
    if (!rv && tls && p->o.tls_ca_file &&
        ((rv = nng_listener_set_string(l, NNG_OPT_TLS_CA_FILE, p->o.tls_ca_file)) ||
         (rv = nng_listener_set_int(l, NNG_OPT_TLS_AUTH_MODE, NNG_TLS_AUTH_MODE_REQUIRED)))) {
        nng_listener_close(l);
        return tr_errorf(err, TR_EINVAL, "publisher: %s: client CA file %s: %s", url,
                         p->o.tls_ca_file, nng_strerror(rv));
    }
    if (!rv)
        rv = nng_listener_start(l, 0);
    if (rv)
        return tr_errorf(err, TR_EIO, "publisher: listen on %s: %s", url, nng_strerror(rv));
    return 0;
}

static char *dup_opt(const char *s)
{
    return s && s[0] ? strdup(s) : NULL;
}

static void pub_free(struct tr_pub *p)
{
    if (p->listen)
        for (size_t i = 0; i < p->o.n_listen; i++)
            free(p->listen[i]);
    free(p->listen);
    free(p->node_name);
    free(p->admin_token);
    free(p->data_token);
    free(p->threads);
    free(p->wargs);
    free(p->sessions);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int tr_pub_open(struct tr_pub **out, const struct tr_pub_options *o, struct tr_error *err)
{
    if (!o || !o->log)
        return tr_errorf(err, TR_EINVAL, "publisher: no log");
    struct tr_pub *p = calloc(1, sizeof *p);
    if (!p)
        return tr_errorf(err, TR_ENOMEM, "publisher: out of memory");
    pthread_mutex_init(&p->mu, NULL);
    p->o = *o;
    struct tr_pub_options d;
    tr_pub_options_init(&d);
#define DEF(f) if (!p->o.f) p->o.f = d.f
    DEF(workers); DEF(max_subscribers); DEF(idle_ms); DEF(max_batch_events);
    DEF(max_batch_bytes); DEF(max_request);
#undef DEF
    static const char *const def_url[] = {TR_PROTO_DEFAULT_URL};
    const char *const *urls = o->listen && o->n_listen ? o->listen : def_url;
    p->o.n_listen = o->listen && o->n_listen ? o->n_listen : 1;
    p->listen = calloc(p->o.n_listen, sizeof *p->listen);
    p->node_name = strdup(o->node_name ? o->node_name : "tickraft-node");
    p->admin_token = dup_opt(o->admin_token);
    p->data_token = dup_opt(o->data_token);
    p->threads = calloc(p->o.workers, sizeof *p->threads);
    p->wargs = calloc(p->o.workers, sizeof *p->wargs);
    for (unsigned i = 0; p->wargs && i < p->o.workers; i++)
        p->wargs[i] = (struct worker_arg){p, i};
    p->sessions = calloc(p->o.max_subscribers, sizeof *p->sessions);
    p->next_id = ((uint64_t)pub_now_ns() << 16) | 1; /* ids differ across restarts */
    int rc = TR_ENOMEM;
    if (!p->listen || !p->node_name || !p->threads || !p->wargs || !p->sessions ||
        (o->admin_token && o->admin_token[0] && !p->admin_token) ||
        (o->data_token && o->data_token[0] && !p->data_token)) {
        tr_errorf(err, rc, "publisher: out of memory");
        goto fail_mem;
    }
    for (size_t i = 0; i < p->o.n_listen; i++)
        if (!(p->listen[i] = strdup(urls[i]))) {
            tr_errorf(err, rc, "publisher: out of memory");
            goto fail_mem;
        }
    int rv = nng_rep0_open(&p->sock);
    if (rv) {
        tr_errorf(err, rc = TR_EIO, "publisher: open socket: %s", nng_strerror(rv));
        goto fail_mem;
    }
    nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, TR_PROTO_HARD_MAX);
    for (size_t i = 0; i < p->o.n_listen; i++)
        if ((rc = listen_one(p, p->listen[i], err)))
            goto fail_sock;
    for (; p->n_threads < p->o.workers; p->n_threads++)
        if (pthread_create(&p->threads[p->n_threads], NULL, worker,
                           &p->wargs[p->n_threads])) {
            tr_errorf(err, rc = TR_ENOMEM, "publisher: start worker thread");
            goto fail_threads;
        }
    *out = p;
    return 0;
fail_threads:
    atomic_store(&p->stopping, 1);
    while (p->n_threads)
        pthread_join(p->threads[--p->n_threads], NULL);
fail_sock:
    nng_close(p->sock);
fail_mem:
    pub_free(p);
    return rc;
}

void tr_pub_close(struct tr_pub *p)
{
    if (!p)
        return;
    atomic_store(&p->stopping, 1);
    pub_sessions_wake(p);
    for (unsigned i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    nng_close(p->sock);
    pub_sessions_free(p);
    pub_free(p);
}

void tr_pub_stats(struct tr_pub *p, struct tr_pub_stats *st)
{
    memset(st, 0, sizeof *st);
#define G(f) st->f = atomic_load(&p->c.f)
    G(requests); G(errors); G(malformed); G(oversized); G(unauthenticated); G(bad_version);
    G(subscribes); G(fetches); G(queries); G(admin_calls); G(events_sent); G(bytes_sent);
    G(fell_behind); G(busy); G(live_subscribes);
#undef G
    pthread_mutex_lock(&p->mu);
    st->subscribers = p->n_sessions;
    pthread_mutex_unlock(&p->mu);
}
