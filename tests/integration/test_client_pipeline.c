/* Pipelined FETCH (protocol 1.1, docs/protocol.md "Pipelining") against a
 * real publisher over a real log, driven with raw nng contexts so the order
 * in which requests reach the node is chosen by the test: a FETCH sent
 * ahead of its turn is answered after the one before it with the records
 * that follow it; one without a spare worker is refused with TR_EBUSY and
 * counted, and served when sent again; numbers too far ahead are refused;
 * unsubscribing with fetches outstanding frees the session safely; the
 * SDK delivers everything in order at every pipeline depth, by poll and
 * by callback (tr_client_sub_run), keeps one FETCH at a time on a node that speaks 1.0, and a run
 * ends on tr_client_sub_stop from another thread; the publisher's
 * thread_cb runs once on every worker. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "client_harness.h"
#include "pub_int.h"
#include "tickraft/protocol.h"

/* One raw connection with two request contexts. */
struct raw {
    nng_socket sk;
    nng_ctx ctx[2];
    nng_aio *aio[2];
};

static void raw_open(struct raw *r, const char *url)
{
    assert_int_equal(nng_req0_open(&r->sk), 0);
    assert_int_equal(nng_dial(r->sk, url, NULL, 0), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(nng_ctx_open(&r->ctx[i], r->sk), 0);
        assert_int_equal(nng_aio_alloc(&r->aio[i], NULL, NULL), 0);
        nng_aio_set_timeout(r->aio[i], 10000);
    }
}

static void raw_close(struct raw *r)
{
    for (int i = 0; i < 2; i++) {
        nng_aio_free(r->aio[i]);
        nng_ctx_close(r->ctx[i]);
    }
    nng_close(r->sk);
}

/* Sends a request built in b on context i and starts the receive. */
static void raw_send(struct raw *r, int i, struct tr_buf *b)
{
    nng_msg *m;
    assert_int_equal(nng_msg_alloc(&m, 0), 0);
    assert_int_equal(nng_msg_append(m, b->data, b->len), 0);
    nng_aio_set_msg(r->aio[i], m);
    nng_ctx_send(r->ctx[i], r->aio[i]);
    nng_aio_wait(r->aio[i]);
    assert_int_equal(nng_aio_result(r->aio[i]), 0);
    nng_ctx_recv(r->ctx[i], r->aio[i]);
    tr_buf_free(b);
}

/* Waits for context i's reply: its status; for a FETCH reply the seqs of
 * its records in seqs[] (up to cap) and their count in *n. */
static int raw_reply(struct raw *r, int i, uint64_t *seqs, size_t cap, size_t *n)
{
    nng_aio_wait(r->aio[i]);
    assert_int_equal(nng_aio_result(r->aio[i]), 0);
    nng_msg *m = nng_aio_get_msg(r->aio[i]);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct tr_proto_reply rep;
    struct tr_error err;
    assert_int_equal(tr_proto_parse_reply(nng_msg_body(m), nng_msg_len(m), &u, &rep, &err), 0);
    int st = rep.status;
    if (n)
        *n = 0;
    if (!st && n && rep.body && rep.body->size == 2 &&
        rep.body->ptr[1].type == MSGPACK_OBJECT_ARRAY) {
        const msgpack_object_array *recs = &rep.body->ptr[1].via.array;
        for (uint32_t k = 0; k < recs->size && *n < cap; k++)
            seqs[(*n)++] = recs->ptr[k].via.array.ptr[1].via.u64;
    }
    msgpack_unpacked_destroy(&u);
    nng_msg_free(m);
    return st;
}

static void pack_subscribe_earliest(struct tr_buf *b)
{
    tr_buf_init(b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, tr_proto_buf_write);
    tr_proto_pack_req(&pk, TR_PROTO_SUBSCRIBE, NULL, 6);
    for (int i = 0; i < 3; i++)
        msgpack_pack_nil(&pk);
    msgpack_pack_uint32(&pk, TR_PROTO_START_EARLIEST);
    msgpack_pack_int64(&pk, 0);
    msgpack_pack_nil(&pk);
}

static void pack_fetch(struct tr_buf *b, uint64_t id, uint64_t no, uint32_t max, uint32_t wait)
{
    tr_buf_init(b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, tr_proto_buf_write);
    tr_proto_pack_req(&pk, TR_PROTO_FETCH, NULL, 4);
    msgpack_pack_uint64(&pk, id);
    msgpack_pack_uint64(&pk, no);
    msgpack_pack_uint32(&pk, max);
    msgpack_pack_uint32(&pk, wait);
}

/* SUBSCRIBE from earliest on context 0; the session id. */
static uint64_t raw_subscribe(struct raw *r)
{
    struct tr_buf b;
    pack_subscribe_earliest(&b);
    raw_send(r, 0, &b);
    nng_aio_wait(r->aio[0]);
    assert_int_equal(nng_aio_result(r->aio[0]), 0);
    nng_msg *m = nng_aio_get_msg(r->aio[0]);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct tr_proto_reply rep;
    struct tr_error err;
    assert_int_equal(tr_proto_parse_reply(nng_msg_body(m), nng_msg_len(m), &u, &rep, &err), 0);
    assert_int_equal(rep.status, 0);
    uint64_t id = rep.body->ptr[0].via.u64;
    msgpack_unpacked_destroy(&u);
    nng_msg_free(m);
    return id;
}

static void fetch_sent_ahead_is_answered_after_the_one_before(void **state)
{
    (void)state;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "pipe-order", 0, NULL), 0);
    assert_int_equal(ch_write(n.log, 1, 1, 100, 0), 0);
    struct raw r;
    raw_open(&r, n.url);
    uint64_t id = raw_subscribe(&r);
    /* FETCH 2 reaches the node first; it must wait for FETCH 1 */
    struct tr_buf b;
    pack_fetch(&b, id, 2, 10, 100);
    raw_send(&r, 1, &b);
    pack_fetch(&b, id, 1, 10, 100);
    raw_send(&r, 0, &b);
    uint64_t s1[16], s2[16];
    size_t n1, n2;
    assert_int_equal(raw_reply(&r, 0, s1, 16, &n1), 0);
    assert_int_equal(raw_reply(&r, 1, s2, 16, &n2), 0);
    assert_int_equal(n1, 10);
    assert_int_equal(n2, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(s1[i], 1 + i);  /* FETCH 1: the first ten */
        assert_int_equal(s2[i], 11 + i); /* FETCH 2: the next ten */
    }
    /* a number more than TR_PROTO_PIPELINE_MAX ahead is refused at once */
    pack_fetch(&b, id, 3 + TR_PROTO_PIPELINE_MAX, 10, 100);
    raw_send(&r, 0, &b);
    assert_int_equal(raw_reply(&r, 0, NULL, 0, NULL), TR_EPROTO);
    raw_close(&r);
    ch_node_close(&n);
}

static void fetch_ahead_without_spare_worker_is_busy_then_served(void **state)
{
    (void)state;
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    po.workers = 3;          /* one may wait: two stay free */
    po.max_wait_ms = 20000; /* FETCH 1 waits until the test writes */
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "pipe-busy", 0, &po), 0);
    struct raw r;
    raw_open(&r, n.url);
    uint64_t id = raw_subscribe(&r);
    /* FETCH 1 long-polls on the empty log, taking the only waiter place */
    struct tr_buf b;
    pack_fetch(&b, id, 1, 10, 5000);
    raw_send(&r, 0, &b);
    while (atomic_load(&n.pub->waiters) == 0)
        usleep(1000);
    /* FETCH 2 ahead of its turn finds no spare worker: TR_EBUSY, counted */
    pack_fetch(&b, id, 2, 10, 100);
    raw_send(&r, 1, &b);
    assert_int_equal(raw_reply(&r, 1, NULL, 0, NULL), TR_EBUSY);
    struct tr_pub_stats st;
    tr_pub_stats(n.pub, &st);
    assert_int_equal(st.busy, 1);
    /* a record ends FETCH 1's wait; FETCH 2 sent again is served */
    assert_int_equal(ch_write(n.log, 1, 1, 1, 0), 0);
    uint64_t seqs[4];
    size_t got;
    assert_int_equal(raw_reply(&r, 0, seqs, 4, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(ch_write(n.log, 1, 2, 2, 0), 0);
    pack_fetch(&b, id, 2, 10, 100);
    raw_send(&r, 1, &b);
    assert_int_equal(raw_reply(&r, 1, seqs, 4, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(seqs[0], 2);
    raw_close(&r);
    ch_node_close(&n);
}

static void unsubscribe_with_fetches_outstanding_frees_the_session(void **state)
{
    (void)state;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "pipe-unsub", 0, NULL), 0);
    struct raw r;
    raw_open(&r, n.url);
    uint64_t id = raw_subscribe(&r);
    struct tr_buf b;
    pack_fetch(&b, id, 1, 10, 2000); /* long-polls */
    raw_send(&r, 0, &b);
    pack_fetch(&b, id, 2, 10, 2000); /* waits for its turn */
    raw_send(&r, 1, &b);
    while (atomic_load(&n.pub->waiters) < 2)
        usleep(1000);
    /* UNSUBSCRIBE on a second connection while both are held */
    struct raw r2;
    raw_open(&r2, n.url);
    tr_buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, tr_proto_buf_write);
    tr_proto_pack_req(&pk, TR_PROTO_UNSUBSCRIBE, NULL, 1);
    msgpack_pack_uint64(&pk, id);
    raw_send(&r2, 0, &b);
    assert_int_equal(raw_reply(&r2, 0, NULL, 0, NULL), 0);
    struct tr_pub_stats st;
    tr_pub_stats(n.pub, &st);
    assert_int_equal(st.subscribers, 0);
    /* the held fetches still get a reply each (ASan checks the freeing) */
    int st1 = raw_reply(&r, 0, NULL, 0, NULL);
    int st2 = raw_reply(&r, 1, NULL, 0, NULL);
    assert_true(st1 == 0 || st1 == TR_ENOTFOUND);
    assert_int_equal(st2, TR_ENOTFOUND);
    raw_close(&r2);
    raw_close(&r);
    ch_node_close(&n);
}

/* The SDK at depths 1..4 (batches of 50, so many fetches are in flight):
 * every event once, in order, history then live. */
static void sdk_delivers_in_order_at_every_pipeline_depth(void **state)
{
    (void)state;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "pipe-sdk", 0, NULL), 0);
    assert_int_equal(ch_write(n.log, 3, 1, 500, 0), 0);
    const char *urls[] = {n.url};
    struct tr_client_options co = {.nodes = urls, .n_nodes = 1, .rpc_timeout_ms = 5000};
    struct tr_client *c;
    struct tr_error err;
    assert_int_equal(tr_client_open(&c, &co, &err), 0);
    uint64_t last = 500;
    for (unsigned depth = 1; depth <= TR_PROTO_PIPELINE_MAX; depth++) {
        struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .batch = 50,
                                           .wait_ms = 50, .pipeline = depth};
        struct tr_client_sub *s;
        assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
        struct ch_check chk;
        ch_check_init(&chk, 1);
        struct tr_client_msg m;
        /* history, then 100 more per instrument written while subscribed */
        while (chk.total < 3 * last) {
            int rc = tr_client_sub_poll(s, &m, 2000, &err);
            assert_int_equal(rc, 1);
            ch_check_msg(&chk, &m);
        }
        assert_int_equal(ch_write(n.log, 3, last + 1, last + 100, 0), 0);
        last += 100;
        while (chk.total < 3 * last) {
            int rc = tr_client_sub_poll(s, &m, 2000, &err);
            assert_int_equal(rc, 1);
            ch_check_msg(&chk, &m);
        }
        assert_int_equal(chk.bad, 0);
        assert_int_equal(tr_client_sub_poll(s, &m, 20, &err), 0);
        struct tr_client_sub_stats st;
        tr_client_sub_stats(s, &st);
        assert_int_equal(st.duplicates, 0);
        tr_client_sub_free(s);
    }
    tr_client_close(c);
    ch_node_close(&n);
}

/* A 1.1 SDK on a node that speaks 1.0 (HELLO minor 0, refuses FETCHes
 * ahead): it keeps one FETCH outstanding, so the node never sees one
 * ahead, and everything arrives once, in order. */
static void sdk_on_a_1_0_node_fetches_one_at_a_time(void **state)
{
    (void)state;
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    po.speak_1_0 = 1;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "pipe-v10", 0, &po), 0);
    assert_int_equal(ch_write(n.log, 2, 1, 300, 0), 0);
    const char *urls[] = {n.url};
    struct tr_client_options co = {.nodes = urls, .n_nodes = 1, .rpc_timeout_ms = 5000};
    struct tr_client *c;
    struct tr_error err;
    assert_int_equal(tr_client_open(&c, &co, &err), 0);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .batch = 40,
                                       .wait_ms = 50, .pipeline = 4};
    struct tr_client_sub *s;
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    struct ch_check chk;
    ch_check_init(&chk, 1);
    struct tr_client_msg m;
    while (chk.total < 600) {
        assert_int_equal(tr_client_sub_poll(s, &m, 2000, &err), 1);
        ch_check_msg(&chk, &m);
    }
    assert_int_equal(chk.bad, 0);
    struct tr_pub_stats st;
    tr_pub_stats(n.pub, &st);
    assert_int_equal(st.errors, 0); /* no FETCH ahead was ever refused */
    assert_int_equal(st.busy, 0);
    tr_client_sub_free(s);
    tr_client_close(c);
    ch_node_close(&n);
}

/* Callback mode (tr_client_sub_run). The callback writes the live part
 * itself (it runs on this thread, the log's writer). */
struct run_ctx {
    struct ch_check chk;
    struct tr_log *log;
    uint64_t hist, last;
};

static int run_cb(void *arg, const struct tr_client_msg *m)
{
    struct run_ctx *r = arg;
    if (m->type != TR_CLIENT_EVENT)
        return 0;
    ch_check_msg(&r->chk, m);
    if (r->chk.total == 3 * r->hist)
        assert_int_equal(ch_write(r->log, 3, r->hist + 1, r->last, 0), 0);
    return r->chk.total == 3 * r->last;
}

static void sdk_run_delivers_in_order_at_every_pipeline_depth(void **state)
{
    (void)state;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "pipe-run", 0, NULL), 0);
    assert_int_equal(ch_write(n.log, 3, 1, 400, 0), 0);
    const char *urls[] = {n.url};
    struct tr_client_options co = {.nodes = urls, .n_nodes = 1, .rpc_timeout_ms = 5000};
    struct tr_client *c;
    struct tr_error err;
    assert_int_equal(tr_client_open(&c, &co, &err), 0);
    uint64_t hist = 400;
    for (unsigned depth = 1; depth <= TR_PROTO_PIPELINE_MAX; depth++) {
        struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .batch = 50,
                                           .wait_ms = 50, .pipeline = depth};
        struct tr_client_sub *s;
        assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
        struct run_ctx r = {.log = n.log, .hist = hist, .last = hist + 100};
        ch_check_init(&r.chk, 1);
        assert_int_equal(tr_client_sub_run(s, run_cb, &r, &err), 0);
        assert_int_equal(r.chk.bad, 0);
        assert_int_equal(r.chk.total, 3 * r.last);
        /* a poll after run: nothing more, the FETCHes run left outstanding
         * are answered empty at the end of their long-poll */
        struct tr_client_msg m;
        assert_int_equal(tr_client_sub_poll(s, &m, 20, &err), 0);
        struct tr_client_sub_stats st;
        tr_client_sub_stats(s, &st);
        assert_int_equal(st.duplicates, 0);
        assert_int_equal(st.failovers, 0);
        tr_client_sub_free(s);
        hist += 100;
    }
    tr_client_close(c);
    ch_node_close(&n);
}

struct stopper {
    struct tr_client_sub *s;
    struct tr_pub *pub;
    uint64_t fetches; /* the node's count before run starts */
};

/* Stops the subscription once a FETCH of the run waits at the node. */
static void *stop_main(void *arg)
{
    struct stopper *st = arg;
    struct tr_pub_stats ps;
    do {
        usleep(1000);
        tr_pub_stats(st->pub, &ps);
    } while (ps.fetches <= st->fetches);
    tr_client_sub_stop(st->s);
    return NULL;
}

static int never_cb(void *arg, const struct tr_client_msg *m)
{
    (void)arg;
    (void)m;
    return 0;
}

/* tr_client_sub_stop from another thread ends a run that is waiting with
 * nothing to deliver (TR_ECLOSED), and the subscription frees cleanly. */
static void sdk_run_ends_on_stop_from_another_thread(void **state)
{
    (void)state;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "pipe-stop", 0, NULL), 0);
    const char *urls[] = {n.url};
    struct tr_client_options co = {.nodes = urls, .n_nodes = 1, .rpc_timeout_ms = 5000};
    struct tr_client *c;
    struct tr_error err;
    assert_int_equal(tr_client_open(&c, &co, &err), 0);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_LATEST, .wait_ms = 100};
    struct tr_client_sub *s;
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    struct tr_pub_stats ps;
    tr_pub_stats(n.pub, &ps);
    struct stopper st = {.s = s, .pub = n.pub, .fetches = ps.fetches};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_main, &st), 0);
    assert_int_equal(tr_client_sub_run(s, never_cb, NULL, &err), TR_ECLOSED);
    pthread_join(th, NULL);
    tr_client_sub_free(s);
    tr_client_close(c);
    ch_node_close(&n);
}

/* tr_pub_options.thread_cb (the node's latency_sched for the workers):
 * called once on each worker, role "pub", numbered 0..workers-1. */
struct seen_workers {
    atomic_uint calls, mask, bad_role;
};

static void count_worker(void *arg, const char *role, unsigned n)
{
    struct seen_workers *w = arg;
    if (strcmp(role, "pub") != 0 || n >= 32)
        atomic_fetch_add(&w->bad_role, 1);
    else
        atomic_fetch_or(&w->mask, 1u << n);
    atomic_fetch_add(&w->calls, 1);
}

static void thread_cb_runs_once_on_every_worker(void **state)
{
    (void)state;
    struct seen_workers w = {0};
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    po.workers = 6;
    po.thread_cb = count_worker;
    po.thread_arg = &w;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "pipe-thr", 0, &po), 0);
    while (atomic_load(&w.calls) < 6) /* the workers start on their own */
        usleep(1000);
    ch_node_close(&n);
    assert_int_equal(atomic_load(&w.calls), 6);
    assert_int_equal(atomic_load(&w.mask), 0x3f);
    assert_int_equal(atomic_load(&w.bad_role), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fetch_sent_ahead_is_answered_after_the_one_before),
        cmocka_unit_test(fetch_ahead_without_spare_worker_is_busy_then_served),
        cmocka_unit_test(unsubscribe_with_fetches_outstanding_frees_the_session),
        cmocka_unit_test(sdk_delivers_in_order_at_every_pipeline_depth),
        cmocka_unit_test(sdk_on_a_1_0_node_fetches_one_at_a_time),
        cmocka_unit_test(sdk_run_delivers_in_order_at_every_pipeline_depth),
        cmocka_unit_test(sdk_run_ends_on_stop_from_another_thread),
        cmocka_unit_test(thread_cb_runs_once_on_every_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
