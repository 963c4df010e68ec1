/* Sending: the per-actor cache of push sockets (one per destination URL),
 * send, call/reply over a per-actor reply inbox, client actors, and the
 * batcher that carries the hot path as many items per envelope. A send by
 * name to a thread actor of the same process skips nng (actor_fast_send,
 * actor.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int sys_ensure_run_dir(struct tr_system *sys);

#define REPLY_SEND_TIMEOUT_MS 1000
#define TR_SENDBUF 16

static int is_ipc(const char *url)
{
    return strncmp(url, "ipc://", 6) == 0;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Returns the cached push socket for `url`, dialing on first use. A known
 * name that is not listening right now (restarting) is dialed in the
 * background so sends wait for it instead of failing. */
static int peer_get(struct tr_actor *a, const char *url, int registered, struct peer **out)
{
    struct peer *lru = NULL;
    for (size_t i = 0; i < a->n_peers; i++) {
        if (strcmp(a->peers[i].url, url) == 0) {
            a->peers[i].used = ++a->peer_clock;
            *out = &a->peers[i];
            return 0;
        }
        if (!lru || a->peers[i].used < lru->used)
            lru = &a->peers[i];
    }
    if (a->n_peers == TR_PEERS_MAX) { /* evict the least recently used */
        nng_close(lru->s);
        *lru = a->peers[--a->n_peers];
    }
    struct peer *p = &a->peers[a->n_peers];
    nng_socket s;
    int rv = nng_push0_open(&s);
    if (rv)
        return tr_err_from_nng(rv);
    nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 2);
    nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 50);
    /* a small sender-side queue, so timeout 0 means "no room" rather than
     * "the pipe was busy this instant"; it bounds what a sender may have in
     * flight beyond the receiver's high-water mark */
    nng_socket_set_int(s, NNG_OPT_SENDBUF, TR_SENDBUF);
    rv = nng_dial(s, url, NULL, 0);
    if (rv == NNG_ECONNREFUSED && registered)
        rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
    if (rv) {
        nng_close(s);
        return tr_err_from_nng(rv);
    }
    a->n_peers++;
    snprintf(p->url, sizeof p->url, "%s", url);
    p->s = s;
    p->timeout_ms = -2; /* unknown: set before first blocking send */
    p->used = ++a->peer_clock;
    *out = p;
    return 0;
}

/* Sends m (ownership passes on success; on failure the caller keeps it). */
static int peer_send(struct peer *p, nng_msg *m, int timeout_ms)
{
    int flags = 0;
    if (timeout_ms == 0) {
        flags = NNG_FLAG_NONBLOCK;
    } else if (p->timeout_ms != timeout_ms) {
        nng_socket_set_ms(p->s, NNG_OPT_SENDTIMEO,
                          timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
        p->timeout_ms = timeout_ms;
    }
    int rv = nng_sendmsg(p->s, m, flags);
    if (rv == NNG_EAGAIN || rv == NNG_ETIMEDOUT)
        return TR_EOVERLOADED;
    return tr_err_from_nng(rv);
}

/* The address a receiver can answer a plain send at. */
static const char *self_addr(const struct tr_actor *a, const char *to_url)
{
    if (a->is_client)
        return "";
    if (a->listen_url[0])
        return a->listen_url;
    if (is_ipc(to_url) && a->ipc_url[0])
        return a->ipc_url;
    return a->url;
}

static int send_env(struct tr_actor *a, const char *to, uint32_t type, const char *sender,
                    uint64_t corr, const void *payload, size_t len, int timeout_ms,
                    const char *url, int registered)
{
    nng_msg *m;
    int rc = env_build(&m, type, sender, corr, payload, len);
    if (rc)
        return rc;
    /* a thread actor of this process, by name: straight into its ring */
    if (registered && (rc = actor_fast_send(a->sys, to, m, timeout_ms)) != 1) {
        if (rc)
            nng_msg_free(m);
        return rc;
    }
    struct peer *p;
    rc = peer_get(a, url, registered, &p);
    if (rc == 0)
        rc = peer_send(p, m, timeout_ms);
    if (rc)
        nng_msg_free(m);
    return rc;
}

int tr_actor_send(struct tr_actor *self, const char *to, uint32_t type, const void *payload,
                  size_t len, int timeout_ms)
{
    char url[TR_URL_MAX];
    int registered;
    int rc = reg_resolve(self->sys, to, url, sizeof url, &registered);
    if (rc)
        return rc;
    return send_env(self, to, type, self_addr(self, url), 0, payload, len, timeout_ms, url,
                    registered);
}

/* Opens the reply inbox (inproc always, ipc when calling an ipc target). */
static int reply_inbox(struct tr_actor *a, int want_ipc)
{
    int rv;
    if (!a->rsock_open) {
        if ((rv = nng_pull0_open(&a->rsock)) != 0)
            return tr_err_from_nng(rv);
        a->rsock_open = 1;
        snprintf(a->reply_url, sizeof a->reply_url, "inproc://tr.%s.%s.r%llu", a->sys->name,
                 a->name, (unsigned long long)a->instance);
        if ((rv = nng_listen(a->rsock, a->reply_url, NULL, 0)) != 0)
            return tr_err_from_nng(rv);
    }
    if (want_ipc && !a->rsock_ipc) {
        sys_ensure_run_dir(a->sys);
        snprintf(a->reply_ipc_url, sizeof a->reply_ipc_url, "ipc://%s/%s.r%llu-%ld.sock",
                 a->sys->run_dir, a->name, (unsigned long long)a->instance, (long)getpid());
        unlink(a->reply_ipc_url + 6);
        if ((rv = nng_listen(a->rsock, a->reply_ipc_url, NULL, 0)) != 0)
            return tr_err_from_nng(rv);
        a->rsock_ipc = 1;
    }
    return 0;
}

int tr_actor_call(struct tr_actor *self, const char *to, uint32_t type, const void *payload,
                  size_t len, int timeout_ms, struct tr_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    char url[TR_URL_MAX];
    int registered;
    int rc = reg_resolve(self->sys, to, url, sizeof url, &registered);
    if (rc)
        return rc;
    if ((rc = reply_inbox(self, is_ipc(url))) != 0)
        return rc;
    uint64_t corr = ++self->next_corr;
    uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    rc = send_env(self, to, type, is_ipc(url) ? self->reply_ipc_url : self->reply_url, corr,
                  payload, len, timeout_ms, url, registered);
    if (rc)
        return rc;
    for (;;) {
        if (timeout_ms >= 0) {
            uint64_t now = mono_ms();
            if (now >= deadline)
                return TR_ETIMEDOUT;
            nng_socket_set_ms(self->rsock, NNG_OPT_RECVTIMEO, (nng_duration)(deadline - now));
        } else {
            nng_socket_set_ms(self->rsock, NNG_OPT_RECVTIMEO, NNG_DURATION_INFINITE);
        }
        nng_msg *m;
        int rv = nng_recvmsg(self->rsock, &m, 0);
        if (rv)
            return rv == NNG_ETIMEDOUT ? TR_ETIMEDOUT : tr_err_from_nng(rv);
        struct tr_msg msg;
        char sender[TR_URL_MAX];
        if (env_parse(nng_msg_body(m), nng_msg_len(m), &msg, sender, sizeof sender) != 0 ||
            msg.corr != corr) {
            self->late_replies++; /* a reply to a call that already timed out */
            nng_msg_free(m);
            continue;
        }
        if (msg.type == TR_MSG_REPLY_ERR) {
            int code = TR_EPROTO;
            if (msg.len == 4)
                code = (int)(int32_t)((uint32_t)msg.payload[0] << 24 | (uint32_t)msg.payload[1] << 16 |
                                      (uint32_t)msg.payload[2] << 8 | msg.payload[3]);
            nng_msg_free(m);
            return code < 0 ? code : TR_EPROTO;
        }
        reply->data = (uint8_t *)msg.payload;
        reply->len = msg.len;
        reply->owner_ = m;
        return 0;
    }
}

void tr_reply_free(struct tr_reply *r)
{
    if (r && r->owner_)
        nng_msg_free(r->owner_);
    if (r)
        memset(r, 0, sizeof *r);
}

static int reply_raw(struct tr_actor *self, const struct tr_msg *req, uint32_t type,
                     const void *payload, size_t len)
{
    if (req->corr == 0 || !req->sender || !req->sender[0])
        return 0;
    return send_env(self, req->sender, type, "", req->corr, payload, len, REPLY_SEND_TIMEOUT_MS,
                    req->sender, 0);
}

int tr_actor_reply(struct tr_actor *self, const struct tr_msg *req, const void *payload,
                   size_t len)
{
    return reply_raw(self, req, TR_MSG_REPLY, payload, len);
}

int tr_actor_reply_error(struct tr_actor *self, const struct tr_msg *req, int code)
{
    uint32_t c = (uint32_t)code;
    uint8_t b[4] = {(uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    return reply_raw(self, req, TR_MSG_REPLY_ERR, b, 4);
}

void actor_close_sockets(struct tr_actor *a)
{
    for (size_t i = 0; i < a->n_peers; i++)
        nng_close(a->peers[i].s);
    a->n_peers = 0;
    if (a->rsock_open)
        nng_close(a->rsock);
    a->rsock_open = 0;
}

/* ---- clients ---- */
int tr_actor_client_open(struct tr_system *sys, const char *name, struct tr_actor **out,
                         struct tr_error *err)
{
    struct tr_actor *c = calloc(1, sizeof *c);
    if (!c)
        return tr_errorf(err, TR_ENOMEM, "client %s: out of memory", name);
    c->sys = sys;
    c->is_client = 1;
    snprintf(c->name, sizeof c->name, "%s", name);
    pthread_mutex_lock(&sys->mu);
    c->instance = ++sys->next_instance;
    pthread_mutex_unlock(&sys->mu);
    *out = c;
    return 0;
}

void tr_actor_client_close(struct tr_actor *c)
{
    if (!c)
        return;
    actor_close_sockets(c);
    free(c);
}

/* ---- batches ---- */
int tr_batch_init(struct tr_batch *b, struct tr_actor *from, const char *to, uint32_t type,
                  size_t max_bytes, int timeout_ms)
{
    memset(b, 0, sizeof *b);
    if (strlen(to) >= sizeof b->to)
        return TR_ETOOBIG;
    b->from = from;
    snprintf(b->to, sizeof b->to, "%s", to);
    b->type = type;
    b->max_bytes = max_bytes ? max_bytes : 65536;
    b->max_items = 1024;
    b->timeout_ms = timeout_ms;
    return 0;
}

int tr_batch_add(struct tr_batch *b, const void *item, size_t len)
{
    if (!b->msg_) {
        char url[TR_URL_MAX];
        int registered;
        int rc = reg_resolve(b->from->sys, b->to, url, sizeof url, &registered);
        if (rc)
            return rc;
        const char *sender = self_addr(b->from, url);
        size_t h = env_header_size(strlen(sender));
        nng_msg *m;
        if (nng_msg_alloc(&m, h + 5) != 0)
            return TR_ENOMEM;
        nng_msg_reserve(m, b->max_bytes + 256);
        env_write_header(nng_msg_body(m), b->type, sender, 0, 0);
        ((uint8_t *)nng_msg_body(m))[h] = 0xdd;
        b->msg_ = m;
        b->count = 0;
    }
    if (nng_msg_append(b->msg_, item, len) != 0)
        return TR_ENOMEM;
    b->count++;
    if (nng_msg_len(b->msg_) >= b->max_bytes || b->count >= b->max_items)
        return tr_batch_flush(b);
    return 0;
}

int tr_batch_flush(struct tr_batch *b)
{
    if (!b->msg_ || b->count == 0)
        return 0;
    nng_msg *m = b->msg_;
    uint8_t *p = nng_msg_body(m);
    /* patch bin32 length and array32 count in place (fixed widths) */
    size_t h = 0;
    uint8_t st = p[7];
    size_t slen = st == 0xd9 ? p[8] : ((size_t)p[8] << 8 | p[9]);
    h = env_header_size(slen);
    uint32_t plen = (uint32_t)(nng_msg_len(m) - h);
    p[h - 4] = (uint8_t)(plen >> 24); p[h - 3] = (uint8_t)(plen >> 16);
    p[h - 2] = (uint8_t)(plen >> 8);  p[h - 1] = (uint8_t)plen;
    p[h + 1] = (uint8_t)(b->count >> 24); p[h + 2] = (uint8_t)(b->count >> 16);
    p[h + 3] = (uint8_t)(b->count >> 8);  p[h + 4] = (uint8_t)b->count;
    char url[TR_URL_MAX];
    int registered;
    int rc = reg_resolve(b->from->sys, b->to, url, sizeof url, &registered);
    if (rc == 0 && registered && (rc = actor_fast_send(b->from->sys, b->to, m, b->timeout_ms)) != 1) {
        if (rc)
            return rc; /* kept: retried by the next flush */
        b->msg_ = NULL;
        b->count = 0;
        b->batches_sent++;
        return 0;
    }
    rc = rc == 1 ? 0 : rc;
    struct peer *peer;
    if (rc == 0)
        rc = peer_get(b->from, url, registered, &peer);
    if (rc == 0)
        rc = peer_send(peer, m, b->timeout_ms);
    if (rc)
        return rc; /* kept: retried by the next flush */
    b->msg_ = NULL;
    b->count = 0;
    b->batches_sent++;
    return 0;
}

void tr_batch_close(struct tr_batch *b)
{
    if (b->msg_)
        nng_msg_free(b->msg_);
    b->msg_ = NULL;
}
