/* libtickraft: connections with failover, the handshake, admin calls and
 * history queries (include/tickraft/client.h, docs/sdk.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_int.h"

#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

/* nng calls this on its own threads, possibly holding its locks: only
 * flag the loss and wake the waiter, never call back into nng here. */
static void pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    struct conn *k = arg;
    /* a socket closed at failover may report its pipe after the next one
     * opened: only the current socket's pipes count */
    if (ev == NNG_PIPE_EV_REM_POST &&
        nng_socket_id(nng_pipe_socket(pipe)) == atomic_load(&k->sock_id)) {
        atomic_store(&k->lost, 1);
        pthread_mutex_lock(&k->mu);
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
    }
}

static void aio_cb(void *arg)
{
    struct conn *k = arg;
    pthread_mutex_lock(&k->mu);
    k->done = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

/* Waits for the aio started after k->done was cleared. Cancels it (from
 * this thread) when the node's pipe goes away or the deadline passes, then
 * waits for the completion the cancel brings. */
static void wait_aio(struct conn *k, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t ns = dl.tv_nsec + (int64_t)(timeout_ms + 1000) * 1000000;
    dl.tv_sec += ns / 1000000000;
    dl.tv_nsec = ns % 1000000000;
    int canceled = 0;
    pthread_mutex_lock(&k->mu);
    while (!k->done) {
        int timed_out = 0;
        if (!canceled && !atomic_load(&k->lost))
            timed_out = pthread_cond_timedwait(&k->cv, &k->mu, &dl) != 0;
        if (!k->done && !canceled && (timed_out || atomic_load(&k->lost))) {
            pthread_mutex_unlock(&k->mu);
            nng_aio_cancel(k->aio);
            pthread_mutex_lock(&k->mu);
            canceled = 1;
        } else if (!k->done && canceled) {
            pthread_cond_wait(&k->cv, &k->mu);
        }
    }
    pthread_mutex_unlock(&k->mu);
}

int conn_alloc(const struct tr_client *c, size_t first_node, struct conn **out)
{
    struct conn *k = calloc(1, sizeof *k);
    if (!k)
        return TR_ENOMEM;
    k->c = c;
    k->node = first_node % c->n_nodes;
    msgpack_unpacked_init(&k->u);
    pthread_mutex_init(&k->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cv, &ca);
    pthread_condattr_destroy(&ca);

    *out = k;
    return 0;
}

static void conn_close(struct conn *k)
{
    if (k->open) {
        atomic_store(&k->sock_id, -1);
        conn_slots_close(k);
        /* each socket has its own aio: stop (cancel + wait) and free it
         * before the socket closes, so no operation is outstanding at
         * nng_close (FACTS.md) and nothing of this socket can reach the
         * next one's aio */
        nng_aio_free(k->aio);
        k->aio = NULL;
        nng_close(k->sock);
        k->open = 0;
    }
}

void conn_free(struct conn *k)
{
    if (!k)
        return;
    conn_close(k);
    if (k->reply)
        nng_msg_free(k->reply);
    msgpack_unpacked_destroy(&k->u);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

void conn_next(struct conn *k)
{
    conn_close(k);
    k->node = (k->node + 1) % k->c->n_nodes;
}

const char *conn_url(const struct conn *k)
{
    return k->c->nodes[k->node];
}

int64_t conn_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int conn_map_nng(int rv)
{
    switch (rv) {
    case NNG_ECONNREFUSED: return TR_ECONNREFUSED;
    case NNG_ETIMEDOUT: return TR_ETIMEDOUT;
    case NNG_ECLOSED: return TR_ECLOSED;
    case NNG_ENOMEM: return TR_ENOMEM;
    case NNG_EADDRINVAL: return TR_EINVAL;
    default: return TR_ECONNRESET;
    }
}

/* Sends and receives one message on the open socket. */
static int roundtrip(struct conn *k, const struct tr_buf *req, int timeout_ms,
                     struct tr_proto_reply *rep, struct tr_error *err)
{
    nng_msg *m;
    if (nng_msg_alloc(&m, 0) || nng_msg_append(m, req->data, req->len)) {
        if (m)
            nng_msg_free(m);
        return tr_errorf(err, TR_ENOMEM, "out of memory");
    }
    if (atomic_load(&k->lost)) {
        nng_msg_free(m);
        return tr_errorf(err, TR_ECONNRESET, "%s: connection lost", conn_url(k));
    }
    int rv = nng_sendmsg(k->sock, m, 0);
    if (rv) {
        nng_msg_free(m);
        return tr_errorf(err, conn_map_nng(rv), "send to %s: %s", conn_url(k), nng_strerror(rv));
    }
    nng_aio_set_timeout(k->aio, timeout_ms);
    pthread_mutex_lock(&k->mu);
    k->done = 0;
    pthread_mutex_unlock(&k->mu);
    nng_recv_aio(k->sock, k->aio);
    wait_aio(k, timeout_ms);
    if ((rv = nng_aio_result(k->aio))) {
        int code = rv == NNG_ECANCELED ? TR_ECONNRESET : conn_map_nng(rv);
        return tr_errorf(err, code, "%s: %s", conn_url(k),
                         rv == NNG_ECANCELED ? "connection lost" : nng_strerror(rv));
    }
    if (k->reply)
        nng_msg_free(k->reply);
    k->reply = nng_aio_get_msg(k->aio);
    int rc = tr_proto_parse_reply(nng_msg_body(k->reply), nng_msg_len(k->reply), &k->u, rep, err);
    if (rc)
        return tr_error_wrap(err, TR_EPROTO, "reply from %s", conn_url(k));
    if (rep->major != TR_PROTO_MAJOR)
        return tr_errorf(err, TR_EVERSION, "%s speaks protocol %u, this SDK %d", conn_url(k),
                         rep->major, TR_PROTO_MAJOR);
    if (rep->status)
        return tr_errorf(err, rep->status, "%.*s", (int)rep->msg_len, rep->msg);
    return 0;
}

/* Dials the current node and does the handshake. */
/* tls+tcp://: a dialer with the CA (and client certificate) set before it
 * starts; the synchronous start returns after the TLS handshake, so a node
 * whose certificate the CA does not vouch for is refused here. Returns an
 * nng error (> 0), or a TR_E* code (< 0) with the message in err. */
static int dial_tls(struct conn *k, const char *url, struct tr_error *err)
{
    const struct tr_client *c = k->c;
    if (!c->tls_ca)
        return tr_errorf(err, TR_EINVAL,
                         "connect to %s: TLS needs tls_ca_file (the CA that signed the node's "
                         "certificate)", url);
    nng_dialer d;
    int rv = nng_dialer_create(&d, k->sock, url);
    if (rv)
        return rv;
    const char *what = "CA file";
    if (!(rv = nng_dialer_set_string(d, NNG_OPT_TLS_CA_FILE, c->tls_ca)) && c->tls_cert) {
        what = "certificate/key file";
        rv = nng_dialer_set_string(d, NNG_OPT_TLS_CERT_KEY_FILE, c->tls_cert);
    }
    if (!rv && c->tls_name) {
        what = "server name";
        rv = nng_dialer_set_string(d, NNG_OPT_TLS_SERVER_NAME, c->tls_name);
    }
    if (rv) {
        nng_dialer_close(d);
        return tr_errorf(err, TR_EINVAL, "connect to %s: TLS %s %s: %s", url, what,
                         !strcmp(what, "CA file") ? c->tls_ca
                         : !strcmp(what, "server name") ? c->tls_name : c->tls_cert,
                         nng_strerror(rv));
    }
    rv = nng_dialer_start(d, 0);
    if (rv == NNG_EPEERAUTH || rv == NNG_ECRYPTO)
        return tr_errorf(err, TR_EAUTH,
                         "connect to %s: TLS handshake refused: the node's certificate is not "
                         "signed by %s or does not name the host, or the node wants a client "
                         "certificate (%s)", url, c->tls_ca, nng_strerror(rv));
    return rv;
}

static int connect_one(struct conn *k, struct tr_error *err)
{
    const char *url = conn_url(k);
    int rv = nng_aio_alloc(&k->aio, aio_cb, k);
    if (rv)
        return tr_errorf(err, TR_ENOMEM, "allocate aio: %s", nng_strerror(rv));
    if ((rv = nng_req0_open(&k->sock))) {
        nng_aio_free(k->aio);
        k->aio = NULL;
        return tr_errorf(err, TR_ENOMEM, "open socket: %s", nng_strerror(rv));
    }
    k->open = 1;
    atomic_store(&k->lost, 0);
    atomic_store(&k->sock_id, nng_socket_id(k->sock));
    nng_socket_set_ms(k->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(k->sock, NNG_OPT_SENDTIMEO, k->c->timeout_ms);
    nng_socket_set_size(k->sock, NNG_OPT_RECVMAXSZ, 0);
    nng_socket_set_ms(k->sock, NNG_OPT_RECONNMINT, 50);
    nng_pipe_notify(k->sock, NNG_PIPE_EV_REM_POST, pipe_cb, k);
    if ((rv = strncmp(url, "tls+", 4) == 0 ? dial_tls(k, url, err) : nng_dial(k->sock, url, NULL, 0))) {
        conn_close(k);
        if (rv < 0)
            return rv; /* dial_tls said why */
        return tr_errorf(err, conn_map_nng(rv), "connect to %s: %s", url, nng_strerror(rv));
    }
    struct tr_buf b;
    tr_buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, tr_proto_buf_write);
    tr_proto_pack_req(&pk, TR_PROTO_HELLO, k->c->token, 1);
    msgpack_pack_str(&pk, strlen(k->c->name));
    msgpack_pack_str_body(&pk, k->c->name, strlen(k->c->name));
    struct tr_proto_reply rep;
    int rc = roundtrip(k, &b, k->c->timeout_ms, &rep, err);
    tr_buf_free(&b);
    uint64_t minor = 0;
    if (!rc && (!rep.body || rep.body->size < 3 || tr_proto_u64(&rep.body->ptr[2], &minor)))
        rc = tr_errorf(err, TR_EPROTO, "%s: bad handshake reply", url);
    k->minor = minor > UINT32_MAX ? UINT32_MAX : (uint32_t)minor;
    if (rc) {
        conn_close(k);
        return tr_error_wrap(err, rc, "handshake with %s", url);
    }
    return 0;
}

static int is_transport(int rc)
{
    return rc == TR_ECONNREFUSED || rc == TR_ECONNRESET || rc == TR_ETIMEDOUT ||
           rc == TR_ECLOSED || rc == TR_ESHUTDOWN;
}

int conn_open(struct conn *k, struct tr_error *err)
{
    int rc = 0;
    if (!k->open) {
        rc = TR_ECONNREFUSED;
        for (size_t i = 0; i < k->c->n_nodes; i++) {
            tr_error_clear(err);
            rc = connect_one(k, err);
            if (rc == 0 || !is_transport(rc))
                break;
            k->node = (k->node + 1) % k->c->n_nodes;
        }
        if (rc)
            return is_transport(rc) ? tr_error_recode(err, TR_ECONNREFUSED) : rc;
    }
    return 0;
}

int conn_call(struct conn *k, const struct tr_buf *req, int extra_ms,
              struct tr_proto_reply *rep, struct tr_error *err)
{
    int rc = conn_open(k, err);
    if (rc)
        return rc;
    rc = roundtrip(k, req, k->c->timeout_ms + extra_ms, rep, err);
    if (is_transport(rc)) {
        conn_next(k);
        return tr_error_recode(err, TR_ECONNRESET);
    }
    return rc;
}

/* ---- client ---- */
int tr_client_open(struct tr_client **out, const struct tr_client_options *o,
                   struct tr_error *err)
{
    if (!o || !o->n_nodes || !o->nodes)
        return tr_errorf(err, TR_EINVAL, "client: no nodes given");
    struct tr_client *c = calloc(1, sizeof *c);
    if (!c)
        return tr_errorf(err, TR_ENOMEM, "client: out of memory");
    pthread_mutex_init(&c->mu, NULL);
    c->nodes = calloc(o->n_nodes, sizeof *c->nodes);
    c->n_nodes = o->n_nodes;
    c->token = o->token ? strdup(o->token) : NULL;
    c->name = strdup(o->name ? o->name : "libtickraft");
    c->timeout_ms = o->rpc_timeout_ms > 0 ? o->rpc_timeout_ms : 3000;
    c->tls_ca = o->tls_ca_file ? strdup(o->tls_ca_file) : NULL;
    c->tls_cert = o->tls_cert_key_file ? strdup(o->tls_cert_key_file) : NULL;
    c->tls_name = o->tls_server_name ? strdup(o->tls_server_name) : NULL;
    int bad = !c->nodes || !c->name || (o->token && !c->token) ||
              (o->tls_ca_file && !c->tls_ca) || (o->tls_cert_key_file && !c->tls_cert) ||
              (o->tls_server_name && !c->tls_name);
    for (size_t i = 0; !bad && i < o->n_nodes; i++)
        bad = !(c->nodes[i] = strdup(o->nodes[i]));
    if (bad || conn_alloc(c, 0, &c->rpc)) {
        tr_client_close(c);
        return tr_errorf(err, TR_ENOMEM, "client: out of memory");
    }
    *out = c;
    return 0;
}

void tr_client_close(struct tr_client *c)
{
    if (!c)
        return;
    conn_free(c->rpc);
    for (size_t i = 0; c->nodes && i < c->n_nodes; i++)
        free(c->nodes[i]);
    free(c->nodes);
    free(c->token);
    free(c->name);
    free(c->tls_ca);
    free(c->tls_cert);
    free(c->tls_name);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const char *tr_client_node(const struct tr_client *c)
{
    return conn_url(c->rpc);
}

int tr_client_connect(struct tr_client *c, struct tr_error *err)
{
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    if (!c->rpc->open) {
        rc = TR_ECONNREFUSED;
        for (size_t i = 0; i < c->n_nodes; i++) {
            tr_error_clear(err);
            if ((rc = connect_one(c->rpc, err)) == 0 || !is_transport(rc))
                break;
            c->rpc->node = (c->rpc->node + 1) % c->n_nodes;
        }
        if (is_transport(rc))
            rc = tr_error_recode(err, TR_ECONNREFUSED);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* A call on the shared connection, retried once per node on transport errors. */
static int call(struct tr_client *c, const struct tr_buf *req, struct tr_proto_reply *rep,
                struct tr_error *err)
{
    int rc = TR_ECONNREFUSED;
    for (size_t i = 0; i <= c->n_nodes; i++) {
        tr_error_clear(err);
        rc = conn_call(c->rpc, req, 0, rep, err);
        if (rc != TR_ECONNRESET)
            break;
    }
    return rc;
}

int tr_client_admin(struct tr_client *c, const char *cmd, const char *const *args, size_t nargs,
                    struct tr_client_table *out, struct tr_error *err)
{
    struct tr_buf b;
    tr_buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, tr_proto_buf_write);
    tr_proto_pack_req(&pk, TR_PROTO_ADMIN, c->token, 2);
    msgpack_pack_str(&pk, strlen(cmd));
    msgpack_pack_str_body(&pk, cmd, strlen(cmd));
    msgpack_pack_array(&pk, (uint32_t)nargs);
    for (size_t i = 0; i < nargs; i++) {
        msgpack_pack_str(&pk, strlen(args[i]));
        msgpack_pack_str_body(&pk, args[i], strlen(args[i]));
    }
    pthread_mutex_lock(&c->mu);
    struct tr_proto_reply rep;
    int rc = call(c, &b, &rep, err);
    if (!rc) {
        if (!rep.body || rep.body->size != 2)
            rc = tr_errorf(err, TR_EPROTO, "admin %s: bad reply", cmd);
        else
            rc = tr_client_table_unpack(out, &rep.body->ptr[0], &rep.body->ptr[1], err);
    }
    pthread_mutex_unlock(&c->mu);
    tr_buf_free(&b);
    return rc;
}

int client_record(const msgpack_object *o, char *keybuf, struct tr_client_msg *m)
{
    const char *k;
    size_t kl;
    int64_t ts;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
        return TR_EPROTO;
    const msgpack_object *e = o->via.array.ptr;
    if (tr_proto_str(&e[0], &k, &kl) || !k || kl > TR_LOG_STREAM_MAX_CLIENT ||
        tr_proto_u64(&e[1], &m->seq) || tr_proto_i64(&e[2], &ts) ||
        tr_proto_bin(&e[3], &m->payload, &m->payload_len))
        return TR_EPROTO;
    memcpy(keybuf, k, kl);
    keybuf[kl] = 0;
    m->type = TR_CLIENT_EVENT;
    m->stream = keybuf;
    m->ts_ns = ts;
    return 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int tr_client_query_page(struct tr_client *c, const struct tr_client_query *q,
                         uint64_t *after_seq, int *more, tr_client_event_cb cb, void *arg,
                         struct tr_error *err)
{
    if (!q->stream || !q->stream[0] || q->by < TR_CLIENT_BY_SEQ || q->by > TR_CLIENT_BY_TIME)
        return tr_errorf(err, TR_EINVAL, "query: stream and range kind required");
    struct tr_buf b;
    tr_buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, tr_proto_buf_write);
    tr_proto_pack_req(&pk, TR_PROTO_QUERY, c->token, 6);
    msgpack_pack_str(&pk, strlen(q->stream));
    msgpack_pack_str_body(&pk, q->stream, strlen(q->stream));
    msgpack_pack_uint32(&pk, (uint32_t)q->by);
    msgpack_pack_int64(&pk, q->from);
    msgpack_pack_int64(&pk, q->to);
    msgpack_pack_uint32(&pk, q->page ? q->page : 1000);
    if (*after_seq)
        msgpack_pack_uint64(&pk, *after_seq);
    else
        msgpack_pack_nil(&pk);
    pthread_mutex_lock(&c->mu);
    struct tr_proto_reply rep;
    int rc = call(c, &b, &rep, err);
    tr_buf_free(&b);
    int n = 0;
    if (!rc && (!rep.body || rep.body->size != 3 || rep.body->ptr[0].type != MSGPACK_OBJECT_ARRAY ||
                rep.body->ptr[1].type != MSGPACK_OBJECT_BOOLEAN))
        rc = tr_errorf(err, TR_EPROTO, "query: bad reply");
    if (rc)
        goto out;
    const msgpack_object_array *recs = &rep.body->ptr[0].via.array;
    *more = rep.body->ptr[1].via.boolean;
    char key[TR_LOG_STREAM_MAX_CLIENT + 1];
    struct tr_event_scratch sc;
    tr_event_scratch_init(&sc);
    int64_t t = now_ns();
    for (uint32_t i = 0; i < recs->size; i++) {
        struct tr_client_msg m;
        memset(&m, 0, sizeof m);
        if ((rc = client_record(&recs->ptr[i], key, &m))) {
            tr_errorf(err, rc, "query: bad record %u", i);
            break;
        }
        size_t used;
        tr_event_scratch_reset(&sc);
        if ((rc = tr_event_decode(m.payload, m.payload_len, &used, &m.ev, &sc, err))) {
            tr_error_wrap(err, rc, "query: record %s/%llu", key, (unsigned long long)m.seq);
            break;
        }
        m.recv_ns = t;
        m.node = conn_url(c->rpc);
        *after_seq = m.seq;
        n++;
        if (cb && cb(arg, &m)) {
            *more = 0;
            break;
        }
    }
    tr_event_scratch_free(&sc);
out:
    pthread_mutex_unlock(&c->mu);
    return rc ? rc : n;
}

int64_t tr_client_query(struct tr_client *c, const struct tr_client_query *q,
                        tr_client_event_cb cb, void *arg, struct tr_error *err)
{
    uint64_t after = 0;
    int64_t total = 0;
    int more = 1;
    while (more) {
        int n = tr_client_query_page(c, q, &after, &more, cb, arg, err);
        if (n < 0)
            return n;
        total += n;
        if (n == 0)
            break;
    }
    return total;
}

int tr_client_cursor_to_hex(const uint8_t *p, size_t n, struct tr_buf *out)
{
    static const char hx[] = "0123456789abcdef";
    if (tr_buf_reserve(out, 2 * n + 1))
        return TR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        out->data[out->len++] = (uint8_t)hx[p[i] >> 4];
        out->data[out->len++] = (uint8_t)hx[p[i] & 15];
    }
    out->data[out->len] = 0;
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int tr_client_cursor_from_hex(const char *hex, struct tr_buf *out, struct tr_error *err)
{
    size_t n = strlen(hex);
    if (n % 2)
        return tr_errorf(err, TR_EINVAL, "cursor: odd number of hex digits");
    if (tr_buf_reserve(out, n / 2))
        return tr_errorf(err, TR_ENOMEM, "cursor: out of memory");
    for (size_t i = 0; i < n; i += 2) {
        int a = hexval(hex[i]), b2 = hexval(hex[i + 1]);
        if (a < 0 || b2 < 0)
            return tr_errorf(err, TR_EINVAL, "cursor: not hex at %zu", i);
        out->data[out->len++] = (uint8_t)(a << 4 | b2);
    }
    return 0;
}
