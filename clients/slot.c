/* Pipelined requests on one connection: each slot is an nng context of the
 * connection's req socket with one request outstanding, so a subscription
 * can have several FETCHes waiting at the node at once (protocol 1.1,
 * docs/protocol.md "Pipelining"). The caller decides the order in which it
 * waits for the slots (a subscription waits in FETCH-number order), so
 * replies that arrive out of order are simply held in their slot. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_int.h"

#include <nng/protocol/reqrep0/req.h>

/* nng's thread: only flag and wake (the subscription's thread waits on k->cv) */
static void slot_cb(void *arg)
{
    struct conn_slot *sl = arg;
    pthread_mutex_lock(&sl->k->mu);
    sl->done = 1;
    pthread_cond_broadcast(&sl->k->cv);
    pthread_mutex_unlock(&sl->k->mu);
}

static int slot_open(struct conn *k, struct conn_slot *sl, struct tr_error *err)
{
    sl->k = k;
    int rv = nng_aio_alloc(&sl->saio, NULL, NULL);
    if (!rv)
        rv = nng_aio_alloc(&sl->raio, slot_cb, sl);
    if (!rv && (rv = nng_ctx_open(&sl->ctx, k->sock)) == 0) {
        /* a reply never comes twice: the node answers a repeated number
         * with the same batch, but nng must not resend on its own */
        nng_ctx_set_ms(sl->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
        sl->open = 1;
        return 0;
    }
    nng_aio_free(sl->raio);
    nng_aio_free(sl->saio);
    sl->raio = sl->saio = NULL;
    return tr_errorf(err, conn_map_nng(rv), "%s: open context: %s", conn_url(k), nng_strerror(rv));
}

int conn_slot_send(struct conn *k, unsigned i, const struct tr_buf *req, int timeout_ms,
                   struct tr_error *err)
{
    struct conn_slot *sl = &k->slot[i];
    int rc;
    if (!k->open || atomic_load(&k->lost))
        return tr_errorf(err, TR_ECONNRESET, "%s: connection lost", conn_url(k));
    if (!sl->open && (rc = slot_open(k, sl, err)))
        return rc;
    nng_msg *m;
    if (nng_msg_alloc(&m, 0))
        return tr_errorf(err, TR_ENOMEM, "out of memory");
    if (nng_msg_append(m, req->data, req->len)) {
        nng_msg_free(m);
        return tr_errorf(err, TR_ENOMEM, "out of memory");
    }
    nng_aio_set_msg(sl->saio, m);
    nng_aio_set_timeout(sl->saio, k->c->timeout_ms);
    nng_ctx_send(sl->ctx, sl->saio);
    nng_aio_wait(sl->saio);
    int rv = nng_aio_result(sl->saio);
    if (rv) {
        nng_msg_free(nng_aio_get_msg(sl->saio));
        return tr_errorf(err, TR_ECONNRESET, "send to %s: %s", conn_url(k), nng_strerror(rv));
    }
    pthread_mutex_lock(&k->mu);
    sl->done = 0;
    pthread_mutex_unlock(&k->mu);
    nng_aio_set_timeout(sl->raio, timeout_ms);
    nng_ctx_recv(sl->ctx, sl->raio);
    sl->pending = 1;
    sl->sent_ms = conn_mono_ms();
    sl->deadline_ms = sl->sent_ms + timeout_ms;
    return 0;
}

static struct timespec abs_mono(int64_t ms)
{
    return (struct timespec){.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
}

int conn_slot_wait(struct conn *k, unsigned i, int64_t until, nng_msg **out,
                   struct tr_error *err)
{
    struct conn_slot *sl = &k->slot[i];
    if (!sl->pending)
        return tr_errorf(err, TR_EINVAL, "slot %u has no request", i);
    int64_t lim = until < sl->deadline_ms ? until : sl->deadline_ms;
    struct timespec ts = abs_mono(lim);
    pthread_mutex_lock(&k->mu);
    while (!sl->done && !atomic_load(&k->lost))
        if (pthread_cond_timedwait(&k->cv, &k->mu, &ts))
            break;
    int done = sl->done;
    pthread_mutex_unlock(&k->mu);
    if (!done) {
        int lost = atomic_load(&k->lost);
        if (!lost && conn_mono_ms() < sl->deadline_ms)
            return 0; /* the caller's time ran out first: keep waiting next time */
        nng_aio_cancel(sl->raio);
        nng_aio_wait(sl->raio);
        sl->pending = 0;
        if (nng_aio_result(sl->raio) == 0)
            nng_msg_free(nng_aio_get_msg(sl->raio));
        return tr_errorf(err, TR_ECONNRESET, "%s: %s", conn_url(k),
                         lost ? "connection lost" : "no reply in time");
    }
    sl->pending = 0;
    int rv = nng_aio_result(sl->raio);
    if (rv)
        return tr_errorf(err, TR_ECONNRESET, "%s: %s", conn_url(k),
                         rv == NNG_ECANCELED ? "connection lost" : nng_strerror(rv));
    *out = nng_aio_get_msg(sl->raio);
    return 1;
}

void conn_slots_abandon(struct conn *k)
{
    for (unsigned i = 0; i < TR_CLIENT_PIPELINE_MAX; i++) {
        struct conn_slot *sl = &k->slot[i];
        if (!sl->pending)
            continue;
        nng_aio_cancel(sl->raio);
        nng_aio_wait(sl->raio);
        if (nng_aio_result(sl->raio) == 0)
            nng_msg_free(nng_aio_get_msg(sl->raio));
        sl->pending = 0;
    }
}

void conn_slots_drain(struct conn *k, int timeout_ms)
{
    int64_t until = conn_mono_ms() + timeout_ms;
    for (unsigned i = 0; i < TR_CLIENT_PIPELINE_MAX; i++) {
        struct conn_slot *sl = &k->slot[i];
        if (!sl->pending)
            continue;
        struct timespec ts = abs_mono(until);
        pthread_mutex_lock(&k->mu);
        while (!sl->done && !atomic_load(&k->lost))
            if (pthread_cond_timedwait(&k->cv, &k->mu, &ts))
                break;
        pthread_mutex_unlock(&k->mu);
    }
    conn_slots_abandon(k); /* frees what came, cancels what did not */
}

void conn_slots_close(struct conn *k)
{
    conn_slots_abandon(k);
    for (unsigned i = 0; i < TR_CLIENT_PIPELINE_MAX; i++) {
        struct conn_slot *sl = &k->slot[i];
        if (!sl->open)
            continue;
        nng_aio_free(sl->raio); /* stops: no callback runs after this */
        nng_aio_free(sl->saio);
        nng_ctx_close(sl->ctx);
        sl->raio = sl->saio = NULL;
        sl->open = 0;
    }
}
