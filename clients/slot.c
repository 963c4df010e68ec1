/* Pipelined requests on one connection: each slot is an nng context of the
 * connection's req socket with one request outstanding, so a subscription
 * can have several FETCHes waiting at the node at once (protocol 1.1,
 * docs/protocol.md "Pipelining"). The caller decides the order in which it
 * waits for the slots (a subscription waits in FETCH-number order), so
 * replies that arrive out of order are simply held in their slot.
 *
 * Two receive aios per slot. A bounded wait (poll with a timeout) needs a
 * completion it can wait for with a deadline, so its aio has a callback;
 * nng runs that callback on one of its task threads, which then wakes the
 * subscription's thread. An unbounded wait (poll -1, tr_client_sub_run)
 * uses an aio without a callback: nng then completes it on the thread that
 * finished the receive, which wakes the waiter in nng_aio_wait directly,
 * one thread hand-off fewer on every batch (docs/sdk.md has the figures).
 * Such a wait cannot time out on its own terms: it ends with the reply
 * (the node answers an idle long-poll within wait_ms, so
 * tr_client_sub_stop is seen as soon as before), the slot's own deadline
 * (the aio's timeout), or the loss of the node: with resends off
 * (NNG_OPT_REQ_RESENDTIME infinite, below) nng 1.5.2 fails a pending
 * receive with NNG_ECONNRESET as soon as the pipe closes
 * (test_client_kill9 checks it with a one-minute rpc timeout). */
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
    if (!rv)
        rv = nng_aio_alloc(&sl->daio, NULL, NULL);
    if (!rv && (rv = nng_ctx_open(&sl->ctx, k->sock)) == 0) {
        /* a reply never comes twice: the node answers a repeated number
         * with the same batch, but nng must not resend on its own */
        nng_ctx_set_ms(sl->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
        sl->open = 1;
        return 0;
    }
    nng_aio_free(sl->daio);
    nng_aio_free(sl->raio);
    nng_aio_free(sl->saio);
    sl->daio = sl->raio = sl->saio = NULL;
    return tr_errorf(err, conn_map_nng(rv), "%s: open context: %s", conn_url(k), nng_strerror(rv));
}

int conn_slot_send(struct conn *k, unsigned i, const struct tr_buf *req, int timeout_ms,
                   int direct, struct tr_error *err)
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
    nng_aio *a = direct ? sl->daio : sl->raio;
    nng_aio_set_timeout(a, timeout_ms);
    nng_ctx_recv(sl->ctx, a);
    sl->pending = 1;
    sl->direct = direct;
    sl->sent_ms = conn_mono_ms();
    sl->deadline_ms = sl->sent_ms + timeout_ms;
    return 0;
}

static int direct_wait(struct conn *k, struct conn_slot *sl, nng_msg **out, struct tr_error *err)
{
    nng_aio_wait(sl->daio);
    sl->pending = 0;
    int rv = nng_aio_result(sl->daio);
    if (rv == 0) {
        *out = nng_aio_get_msg(sl->daio);
        return 1;
    }
    const char *why = atomic_load(&k->lost) || rv == NNG_ECANCELED ? "connection lost"
                      : rv == NNG_ETIMEDOUT ? "no reply in time" : nng_strerror(rv);
    return tr_errorf(err, TR_ECONNRESET, "%s: %s", conn_url(k), why);
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
    if (sl->direct)
        return direct_wait(k, sl, out, err);
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
        nng_aio *a = sl->direct ? sl->daio : sl->raio;
        nng_aio_cancel(a);
        nng_aio_wait(a);
        if (nng_aio_result(a) == 0)
            nng_msg_free(nng_aio_get_msg(a));
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
        if (sl->direct) { /* bounded by its own deadline; a loss ends it */
            nng_aio_wait(sl->daio);
            continue;
        }
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
        nng_aio_free(sl->daio);
        nng_aio_free(sl->saio);
        nng_ctx_close(sl->ctx);
        sl->raio = sl->daio = sl->saio = NULL;
        sl->open = 0;
    }
}
