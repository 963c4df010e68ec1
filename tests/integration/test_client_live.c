/* Live subscriptions (protocol 1.2, docs/protocol.md "Live subscriptions")
 * against a real publisher over a real log whose fsyncs the test holds
 * (fault-injection fs ops): a live subscriber receives records that are
 * written but not durable while a durable subscriber on the same node
 * receives nothing until the fsync is let go; a 1.1-form SUBSCRIBE (six
 * elements, minor 1) still works on a 1.2 node; a live subscribe on a node
 * that speaks 1.1 fails with a clear TR_EUNSUPPORTED from the SDK (and a
 * raw 1.2 SUBSCRIBE there gets TR_EPARSE, never durable-only delivery);
 * a live subscription failing over to a 1.1 node gets TR_EUNSUPPORTED from
 * its poll; unknown SUBSCRIBE options are refused. No timing asserts: while the
 * fsync is held the durable subscriber cannot get anything, whatever the
 * wait. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "client_harness.h"
#include "tickraft/protocol.h"

/* fs ops whose fsync waits while `held` (the test's verdict). */
struct gate {
    struct tr_log_fs_ops ops;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int held;
    long entered; /* fsyncs started */
};

static int g_open(void *ctx, const char *p, int flags, mode_t mode)
{
    (void)ctx;
    return tr_log_fs_default()->open(NULL, p, flags, mode);
}
static ssize_t g_pwrite(void *ctx, int fd, const void *b, size_t n, off_t off)
{
    (void)ctx;
    return tr_log_fs_default()->pwrite(NULL, fd, b, n, off);
}
static int g_fsync(void *ctx, int fd)
{
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (g->held)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return tr_log_fs_default()->fsync(NULL, fd);
}
static int g_ftruncate(void *ctx, int fd, off_t len)
{
    (void)ctx;
    return tr_log_fs_default()->ftruncate(NULL, fd, len);
}

static void gate_init(struct gate *g)
{
    memset(g, 0, sizeof *g);
    g->ops = (struct tr_log_fs_ops){TR_LOG_FS_OPS_VERSION, g, g_open, g_pwrite, g_fsync,
                                    g_ftruncate};
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_hold(struct gate *g, int held)
{
    pthread_mutex_lock(&g->mu);
    g->held = held;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait_entered(struct gate *g, long n)
{
    pthread_mutex_lock(&g->mu);
    while (g->entered < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* A node whose log is in group-commit mode (window 0) on the gate. */
static void node_open(struct ch_node *n, struct gate *g, struct tr_pub_options *po)
{
    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "/tmp/tr_client_live_XXXXXX");
    assert_non_null(mkdtemp(n->dir));
    snprintf(n->url, sizeof n->url, "ipc://%s/pub.sock", n->dir);
    struct tr_log_options lo;
    tr_log_options_init(&lo);
    lo.sync = TR_LOG_SYNC_GROUP;
    lo.group_commit_ms = 0;
    lo.fs = &g->ops;
    struct tr_error err;
    assert_int_equal(tr_log_open(&n->log, n->dir, &lo, &err), 0);
    assert_int_equal(ch_pub_open(n, po), 0);
}

static void client_open(struct ch_node *n, struct tr_client **c)
{
    const char *nodes[] = {n->url};
    struct tr_client_options co = {.nodes = nodes, .n_nodes = 1, .rpc_timeout_ms = 10000};
    struct tr_error err;
    assert_int_equal(tr_client_open(c, &co, &err), 0);
}

/* Polls until `n` events came (in seq order from `first`, stream
 * sim/trade/I-0), failing on anything else. */
static void expect_events(struct tr_client_sub *s, uint64_t first, uint64_t n)
{
    struct tr_client_msg m;
    struct tr_error err;
    for (uint64_t i = 0; i < n; i++) {
        int rc;
        do
            rc = tr_client_sub_poll(s, &m, 1000, &err);
        while (rc == 0);
        assert_int_equal(rc, 1);
        assert_int_equal(m.type, TR_CLIENT_EVENT);
        assert_string_equal(m.stream, "sim/trade/I-0");
        assert_int_equal(m.seq, first + i);
        assert_int_equal(m.ev.seq, first + i);
    }
}

static void live_subscriber_gets_written_records_that_durable_one_does_not(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    struct ch_node n;
    node_open(&n, &g, NULL);
    struct tr_client *c;
    client_open(&n, &c);
    struct tr_error err;
    struct tr_client_sub *live, *durable;
    struct tr_client_sub_options lo = {.start = TR_CLIENT_START_LATEST, .live = 1, .wait_ms = 100};
    struct tr_client_sub_options dopt = {.start = TR_CLIENT_START_LATEST, .wait_ms = 100};
    assert_int_equal(tr_client_subscribe(c, &lo, &live, &err), 0);
    assert_int_equal(tr_client_subscribe(c, &dopt, &durable, &err), 0);

    /* From here no fsync returns: record 1 wakes the sync thread, which
     * blocks in its fsync; 2..50 are written while it is held. */
    pthread_mutex_lock(&g.mu);
    long base = g.entered;
    pthread_mutex_unlock(&g.mu);
    gate_hold(&g, 1);
    assert_int_equal(ch_append(n.log, "sim", "I-0", 1, 0), 0);
    gate_wait_entered(&g, base + 1);
    for (uint64_t s = 2; s <= 50; s++)
        assert_int_equal(ch_append(n.log, "sim", "I-0", s, 0), 0);
    assert_int_equal(tr_log_durable_lsn(n.log), 0);

    expect_events(live, 1, 50); /* every one, in order, none durable */
    assert_int_equal(tr_log_written_lsn(n.log), 50); /* in the file (page cache) */
    assert_int_equal(tr_log_durable_lsn(n.log), 0);
    struct tr_client_msg m;
    /* the durable subscriber gets nothing while the fsync is held (several
     * long-polls expire meanwhile) */
    assert_int_equal(tr_client_sub_poll(durable, &m, 400, &err), 0);
    assert_int_equal(tr_client_sub_poll(live, &m, 0, &err), 0); /* nothing more for live */

    gate_hold(&g, 0);
    assert_int_equal(tr_log_wait_durable(n.log, 50, -1), 0);
    expect_events(durable, 1, 50);
    /* and both follow new records, each once */
    for (uint64_t s = 51; s <= 60; s++)
        assert_int_equal(ch_append(n.log, "sim", "I-0", s, 0), 0);
    expect_events(live, 51, 10);
    expect_events(durable, 51, 10);
    struct tr_client_sub_stats st;
    tr_client_sub_stats(live, &st);
    assert_int_equal(st.events, 60);
    assert_int_equal(st.duplicates, 0);
    struct tr_pub_stats ps;
    tr_pub_stats(n.pub, &ps);
    assert_int_equal(ps.live_subscribes, 1);
    assert_int_equal(ps.errors, 0);
    tr_client_sub_free(live);
    tr_client_sub_free(durable);
    tr_client_close(c);
    ch_node_close(&n);
}

/* ---- raw requests ---- */
static int raw_call(nng_socket sk, struct tr_buf *b, msgpack_unpacked *u,
                    struct tr_proto_reply *rep)
{
    nng_msg *m;
    assert_int_equal(nng_msg_alloc(&m, 0), 0);
    assert_int_equal(nng_msg_append(m, b->data, b->len), 0);
    tr_buf_free(b);
    assert_int_equal(nng_sendmsg(sk, m, 0), 0);
    assert_int_equal(nng_recvmsg(sk, &m, 0), 0);
    struct tr_error err;
    static struct tr_buf keep; /* the reply's bytes outlive the message */
    keep.len = 0;
    tr_buf_append(&keep, nng_msg_body(m), nng_msg_len(m));
    nng_msg_free(m);
    assert_int_equal(tr_proto_parse_reply(keep.data, keep.len, u, rep, &err), 0);
    return rep->status;
}

/* A SUBSCRIBE from earliest with envelope minor `minor` and, when
 * opts >= 0, the 1.2 options element. */
static void pack_subscribe(struct tr_buf *b, unsigned minor, long long opts)
{
    tr_buf_init(b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, tr_proto_buf_write);
    msgpack_pack_array(&pk, 5); /* [major, minor, type, token, body] by hand: minor chosen */
    msgpack_pack_uint32(&pk, TR_PROTO_MAJOR);
    msgpack_pack_uint32(&pk, minor);
    msgpack_pack_uint32(&pk, TR_PROTO_SUBSCRIBE);
    msgpack_pack_nil(&pk);
    msgpack_pack_array(&pk, opts >= 0 ? 7 : 6);
    for (int i = 0; i < 3; i++)
        msgpack_pack_nil(&pk);
    msgpack_pack_uint32(&pk, TR_PROTO_START_EARLIEST);
    msgpack_pack_int64(&pk, 0);
    msgpack_pack_nil(&pk);
    if (opts >= 0)
        msgpack_pack_uint64(&pk, (uint64_t)opts);
}

static void raw_open(nng_socket *sk, const char *url)
{
    assert_int_equal(nng_req0_open(sk), 0);
    assert_int_equal(nng_dial(*sk, url, NULL, 0), 0);
    assert_int_equal(nng_socket_set_ms(*sk, NNG_OPT_RECVTIMEO, 10000), 0);
}

static void old_protocol_subscribe_still_works(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    struct ch_node n;
    node_open(&n, &g, NULL);
    for (uint64_t s = 1; s <= 20; s++)
        assert_int_equal(ch_append(n.log, "sim", "I-0", s, 0), 0);
    assert_int_equal(tr_log_flush(n.log, NULL), 0);
    nng_socket sk;
    raw_open(&sk, n.url);
    struct tr_buf b;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct tr_proto_reply rep;
    pack_subscribe(&b, 1, -1); /* exactly what a 1.1 client sends */
    assert_int_equal(raw_call(sk, &b, &u, &rep), 0);
    uint64_t id = rep.body->ptr[0].via.u64;
    tr_buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, tr_proto_buf_write);
    tr_proto_pack_req(&pk, TR_PROTO_FETCH, NULL, 4);
    msgpack_pack_uint64(&pk, id);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint32(&pk, 100);
    msgpack_pack_uint32(&pk, 100);
    assert_int_equal(raw_call(sk, &b, &u, &rep), 0);
    const msgpack_object_array *recs = &rep.body->ptr[1].via.array;
    assert_int_equal(recs->size, 20);
    for (uint32_t k = 0; k < recs->size; k++)
        assert_int_equal(recs->ptr[k].via.array.ptr[1].via.u64, k + 1);
    msgpack_unpacked_destroy(&u);
    nng_close(sk);
    struct tr_pub_stats ps;
    tr_pub_stats(n.pub, &ps);
    assert_int_equal(ps.live_subscribes, 0);
    assert_int_equal(ps.errors, 0);
    ch_node_close(&n);
}

static void live_on_a_1_1_node_is_refused_clearly(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    struct ch_node n;
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    po.speak_1_1 = 1;
    node_open(&n, &g, &po);
    for (uint64_t s = 1; s <= 5; s++)
        assert_int_equal(ch_append(n.log, "sim", "I-0", s, 0), 0);
    assert_int_equal(tr_log_flush(n.log, NULL), 0);
    struct tr_client *c;
    client_open(&n, &c);
    struct tr_error err;
    struct tr_client_sub *s = NULL;
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .live = 1};
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), TR_EUNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(err.msg, "speaks protocol 1.1"));
    assert_non_null(strstr(err.msg, "live subscriptions need 1.2"));
    /* the SDK asked the handshake: the node saw no malformed request */
    struct tr_pub_stats ps;
    tr_pub_stats(n.pub, &ps);
    assert_int_equal(ps.malformed, 0);
    assert_int_equal(ps.subscribes, 0);
    /* a client that sends the 1.2 SUBSCRIBE anyway gets an error, not a
     * durable-only subscription */
    nng_socket sk;
    raw_open(&sk, n.url);
    struct tr_buf b;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct tr_proto_reply rep;
    pack_subscribe(&b, TR_PROTO_MINOR, TR_PROTO_SUB_LIVE);
    assert_int_equal(raw_call(sk, &b, &u, &rep), TR_EPARSE);
    msgpack_unpacked_destroy(&u);
    nng_close(sk);
    tr_pub_stats(n.pub, &ps);
    assert_int_equal(ps.malformed, 1);
    /* without live the same SDK works there */
    so.live = 0;
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    expect_events(s, 1, 5);
    tr_client_sub_free(s);
    tr_client_close(c);
    ch_node_close(&n);
}

/* A live subscription whose node goes away fails over like any other; a
 * next node that speaks 1.1 refuses it with TR_EUNSUPPORTED from the poll
 * (never a durable-only subscription), and a later poll tries on. */
static void live_failover_to_a_1_1_node_is_an_error_not_durable_delivery(void **state)
{
    (void)state;
    struct gate ga, gb;
    gate_init(&ga);
    gate_init(&gb);
    struct ch_node a, b;
    node_open(&a, &ga, NULL);
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    po.speak_1_1 = 1;
    node_open(&b, &gb, &po);
    for (uint64_t s = 1; s <= 5; s++) {
        assert_int_equal(ch_append(a.log, "sim", "I-0", s, 0), 0);
        assert_int_equal(ch_append(b.log, "sim", "I-0", s, 0), 0);
    }
    assert_int_equal(tr_log_flush(a.log, NULL), 0);
    assert_int_equal(tr_log_flush(b.log, NULL), 0);
    const char *nodes[] = {a.url, b.url};
    struct tr_client_options co = {.nodes = nodes, .n_nodes = 2, .rpc_timeout_ms = 10000};
    struct tr_client *c;
    struct tr_error err;
    assert_int_equal(tr_client_open(&c, &co, &err), 0);
    struct tr_client_sub *s;
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .live = 1,
                                       .wait_ms = 100};
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    expect_events(s, 1, 5);
    tr_pub_close(a.pub); /* node a goes away */
    a.pub = NULL;
    for (uint64_t q = 6; q <= 8; q++) /* b has more, which must not arrive */
        assert_int_equal(ch_append(b.log, "sim", "I-0", q, 0), 0);
    assert_int_equal(tr_log_flush(b.log, NULL), 0);
    struct tr_client_msg m;
    int rc = 0;
    for (int i = 0; i < 100 && rc != TR_EUNSUPPORTED; i++) {
        rc = tr_client_sub_poll(s, &m, 200, &err);
        assert_true(rc == 0 || rc == TR_ECONNREFUSED || rc == TR_EUNSUPPORTED);
    }
    assert_int_equal(rc, TR_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "live subscriptions need 1.2"));
    assert_non_null(strstr(err.msg, b.url));
    struct tr_pub_stats ps;
    tr_pub_stats(b.pub, &ps);
    assert_int_equal(ps.subscribes, 0); /* b never served it, durable or not */
    tr_client_sub_free(s);
    tr_client_close(c);
    ch_node_close(&a);
    ch_node_close(&b);
}

static void unknown_subscribe_options_are_refused(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    struct ch_node n;
    node_open(&n, &g, NULL);
    nng_socket sk;
    raw_open(&sk, n.url);
    struct tr_buf b;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct tr_proto_reply rep;
    pack_subscribe(&b, TR_PROTO_MINOR, 6); /* bits 2 and 4: not defined */
    assert_int_equal(raw_call(sk, &b, &u, &rep), TR_EUNSUPPORTED);
    char msg[256];
    snprintf(msg, sizeof msg, "%.*s", (int)rep.msg_len, rep.msg);
    assert_non_null(strstr(msg, "options 0x6 not supported"));
    pack_subscribe(&b, TR_PROTO_MINOR, 0); /* the element with no option: durable */
    assert_int_equal(raw_call(sk, &b, &u, &rep), 0);
    msgpack_unpacked_destroy(&u);
    nng_close(sk);
    struct tr_pub_stats ps;
    tr_pub_stats(n.pub, &ps);
    assert_int_equal(ps.errors, 1);
    assert_int_equal(ps.live_subscribes, 0);
    ch_node_close(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(live_subscriber_gets_written_records_that_durable_one_does_not),
        cmocka_unit_test(old_protocol_subscribe_still_works),
        cmocka_unit_test(live_on_a_1_1_node_is_refused_clearly),
        cmocka_unit_test(live_failover_to_a_1_1_node_is_an_error_not_durable_delivery),
        cmocka_unit_test(unknown_subscribe_options_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
