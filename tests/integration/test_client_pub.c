/* The SDK against a real publisher over a real durable log: delivery in
 * order, filters, live tail, failover to another node and restart of the
 * node mid-stream without loss or duplicates, cursor resume on another
 * node, a slow consumer (catches up from history; explicit FELL_BEHIND when
 * retention overtakes it), bad tokens / malformed / oversized / wrong
 * version requests, history paging across log segments, admin calls
 * through a test-double node callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "client_harness.h"
#include "tickraft/protocol.h"

static struct tr_client *client_for(const char *const *urls, size_t n, const char *token)
{
    struct tr_client_options o = {.nodes = urls, .n_nodes = n, .token = token,
                                  .rpc_timeout_ms = 5000};
    struct tr_client *c = NULL;
    struct tr_error err;
    assert_int_equal(tr_client_open(&c, &o, &err), 0);
    return c;
}

/* Polls until `want` events arrived (or 200 empty polls in a row). */
static void drain(struct tr_client_sub *s, struct ch_check *chk, uint64_t want, int *notices)
{
    struct tr_client_msg m;
    struct tr_error err;
    int idle = 0;
    while (chk->total < want && idle < 200) {
        int rc = tr_client_sub_poll(s, &m, 100, &err);
        if (rc == 1 && m.type == TR_CLIENT_EVENT) {
            ch_check_msg(chk, &m);
            idle = 0;
        } else if (rc == 1) {
            if (notices)
                notices[m.type]++;
        } else {
            idle++;
        }
    }
}

static void subscribe_earliest_receives_everything_in_order(void **state)
{
    (void)state;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "all", 0, NULL), 0);
    assert_int_equal(ch_write(n.log, 3, 1, 2000, 0), 0);
    const char *urls[] = {n.url};
    struct tr_client *c = client_for(urls, 1, NULL);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .batch = 700};
    struct tr_client_sub *s;
    struct tr_error err;
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    struct ch_check chk;
    ch_check_init(&chk, 1);
    drain(s, &chk, 6000, NULL);
    assert_int_equal(chk.total, 6000);
    assert_int_equal(chk.bad, 0);
    /* nothing more */
    struct tr_client_msg m;
    assert_int_equal(tr_client_sub_poll(s, &m, 50, &err), 0);
    tr_client_sub_free(s);

    /* a filter: only instrument I-1 */
    so.instrument = "I-1";
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    ch_check_init(&chk, 1);
    drain(s, &chk, 2000, NULL);
    assert_int_equal(chk.total, 2000);
    assert_int_equal(chk.bad, 0);
    assert_int_equal(chk.next[1], 2001);
    assert_int_equal(chk.next[0], 1);
    tr_client_sub_free(s);
    tr_client_close(c);
    ch_node_close(&n);
}

static void subscribe_latest_sees_only_new_events(void **state)
{
    (void)state;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "latest", 0, NULL), 0);
    assert_int_equal(ch_write(n.log, 2, 1, 100, 0), 0);
    const char *urls[] = {n.url};
    struct tr_client *c = client_for(urls, 1, NULL);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_LATEST};
    struct tr_client_sub *s;
    struct tr_error err;
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    assert_int_equal(ch_write(n.log, 2, 101, 150, 0), 0);
    struct ch_check chk;
    ch_check_init(&chk, 101);
    drain(s, &chk, 100, NULL);
    assert_int_equal(chk.total, 100);
    assert_int_equal(chk.bad, 0);
    tr_client_sub_free(s);
    tr_client_close(c);
    ch_node_close(&n);
}

/* Two nodes with the same canonical content in different LSN order: the
 * subscriber reads part on A, A goes away, it resumes on B from its cursor. */
static void failover_to_next_node_no_loss_no_duplicates(void **state)
{
    (void)state;
    struct ch_node a, b;
    assert_int_equal(ch_node_open(&a, "fa", 0, NULL), 0);
    assert_int_equal(ch_node_open(&b, "fb", 0, NULL), 0);
    assert_int_equal(ch_write(a.log, 4, 1, 3000, 0), 0);
    assert_int_equal(ch_write(b.log, 4, 1, 3000, 3), 0);
    const char *urls[] = {a.url, b.url};
    struct tr_client *c = client_for(urls, 2, NULL);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .batch = 500};
    struct tr_client_sub *s;
    struct tr_error err;
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    struct ch_check chk;
    ch_check_init(&chk, 1);
    int notices[4] = {0};
    drain(s, &chk, 5000, notices);
    assert_int_equal(chk.total, 5000);
    tr_pub_close(a.pub); /* node A is gone */
    a.pub = NULL;
    drain(s, &chk, 12000, notices);
    assert_int_equal(chk.total, 12000);
    assert_int_equal(chk.bad, 0);
    for (int k = 0; k < 4; k++)
        assert_int_equal(chk.next[k], 3001);
    assert_int_equal(notices[TR_CLIENT_FAILOVER], 1);
    struct tr_client_sub_stats st;
    tr_client_sub_stats(s, &st);
    assert_int_equal(st.failovers, 1);
    /* live events on B keep coming */
    assert_int_equal(ch_write(b.log, 4, 3001, 3010, 0), 0);
    drain(s, &chk, 12040, notices);
    assert_int_equal(chk.total, 12040);
    assert_int_equal(chk.bad, 0);
    tr_client_sub_free(s);
    tr_client_close(c);
    ch_node_close(&a);
    ch_node_close(&b);
}

/* The node restarts (publisher and log closed and reopened on the same
 * address) mid-stream; the subscriber resumes there from its cursor. */
static void node_restart_mid_stream_resumes_from_cursor(void **state)
{
    (void)state;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "restart", 0, NULL), 0);
    assert_int_equal(ch_write(n.log, 2, 1, 2000, 0), 0);
    const char *urls[] = {n.url};
    struct tr_client *c = client_for(urls, 1, NULL);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .batch = 300};
    struct tr_client_sub *s;
    struct tr_error err;
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    struct ch_check chk;
    ch_check_init(&chk, 1);
    drain(s, &chk, 1000, NULL);
    tr_pub_close(n.pub);
    tr_log_close(n.log, NULL);
    assert_int_equal(ch_log_open(&n, 0), 0);
    assert_int_equal(ch_write(n.log, 2, 2001, 2500, 0), 0);
    assert_int_equal(ch_pub_open(&n, NULL), 0);
    drain(s, &chk, 5000, NULL);
    assert_int_equal(chk.total, 5000);
    assert_int_equal(chk.bad, 0);
    tr_client_sub_free(s);
    tr_client_close(c);
    ch_node_close(&n);
}

static void cursor_saved_on_one_node_resumes_on_another(void **state)
{
    (void)state;
    struct ch_node a, b;
    assert_int_equal(ch_node_open(&a, "ca", 0, NULL), 0);
    assert_int_equal(ch_node_open(&b, "cb", 0, NULL), 0);
    assert_int_equal(ch_write(a.log, 3, 1, 1000, 0), 0);
    assert_int_equal(ch_write(b.log, 3, 1, 1000, 2), 0);
    const char *ua[] = {a.url}, *ub[] = {b.url};
    struct tr_client *ca = client_for(ua, 1, NULL), *cb = client_for(ub, 1, NULL);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .batch = 100};
    struct tr_client_sub *s;
    struct tr_error err;
    assert_int_equal(tr_client_subscribe(ca, &so, &s, &err), 0);
    struct ch_check chk;
    ch_check_init(&chk, 1);
    drain(s, &chk, 1234, NULL);
    struct tr_buf cur;
    tr_buf_init(&cur);
    assert_int_equal(tr_client_sub_cursor(s, &cur), 0);
    tr_client_sub_free(s);
    so.start = TR_CLIENT_START_CURSOR;
    so.cursor = cur.data;
    so.cursor_len = cur.len;
    assert_int_equal(tr_client_subscribe(cb, &so, &s, &err), 0);
    drain(s, &chk, 3000, NULL);
    assert_int_equal(chk.total, 3000);
    assert_int_equal(chk.bad, 0);
    tr_client_sub_free(s);
    tr_buf_free(&cur);
    tr_client_close(ca);
    tr_client_close(cb);
    ch_node_close(&a);
    ch_node_close(&b);
}

/* A consumer that reads slowly while the writer races ahead reads the
 * rest from history; when retention drops what it has not read it gets an
 * explicit FELL_BEHIND (next test). */
static void slow_consumer_catches_up_from_history(void **state)
{
    (void)state;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "slow", 64 << 10, NULL), 0);
    assert_int_equal(ch_write(n.log, 1, 1, 100, 0), 0);
    const char *urls[] = {n.url};
    struct tr_client *c = client_for(urls, 1, NULL);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .batch = 10};
    struct tr_client_sub *s;
    struct tr_error err;
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    struct ch_check chk;
    ch_check_init(&chk, 1);
    drain(s, &chk, 5, NULL);
    /* the writer runs far ahead: 20000 more while the consumer sleeps */
    assert_int_equal(ch_write(n.log, 1, 101, 20100, 0), 0);
    drain(s, &chk, 20100, NULL);
    assert_int_equal(chk.total, 20100);
    assert_int_equal(chk.bad, 0);

    tr_client_sub_free(s);
    tr_client_close(c);
    ch_node_close(&n);
}

/* Reads events until the seq jumps (the retention hole) and returns how
 * many FELL_BEHIND notices came right before the jump; *jump_to gets the
 * first seq after it. `prev` is the last seq read before. */
static int notices_at_hole(struct tr_client_sub *s, uint64_t prev, uint64_t *jump_to)
{
    struct tr_client_msg m;
    struct tr_error err;
    int behind = 0;
    *jump_to = 0;
    for (int i = 0; i < 100000 && !*jump_to; i++) {
        int rc = tr_client_sub_poll(s, &m, 100, &err);
        if (rc == 1 && m.type == TR_CLIENT_FELL_BEHIND) {
            behind++;
        } else if (rc == 1 && m.type == TR_CLIENT_EVENT) {
            if (m.seq != prev + 1)
                *jump_to = m.seq;
            else if (behind)
                return -1; /* a notice without a hole */
            prev = m.seq;
        }
    }
    return behind;
}

static void retention_overtaking_a_subscriber_gives_fell_behind(void **state)
{
    (void)state;
    struct ch_node n;
    memset(&n, 0, sizeof n);
    snprintf(n.dir, sizeof n.dir, "/tmp/tr_client_ret_XXXXXX");
    assert_non_null(mkdtemp(n.dir));
    snprintf(n.url, sizeof n.url, "ipc://%s/pub.sock", n.dir);
    struct tr_log_options lo;
    tr_log_options_init(&lo);
    lo.sync = TR_LOG_SYNC_NONE;
    lo.segment_bytes = 64 << 10;
    lo.block_bytes = 4096;
    lo.retain_bytes = 256 << 10;
    struct tr_error err;
    assert_int_equal(tr_log_open(&n.log, n.dir, &lo, &err), 0);
    assert_int_equal(ch_pub_open(&n, NULL), 0);
    assert_int_equal(ch_write(n.log, 1, 1, 100, 0), 0);
    const char *urls[] = {n.url};
    struct tr_client *c = client_for(urls, 1, NULL);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .batch = 10};
    struct tr_client_sub *s;
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    struct ch_check chk;
    ch_check_init(&chk, 1);
    drain(s, &chk, 10, NULL);
    assert_int_equal(chk.total, 10);
    /* the writer runs far ahead and retention drops the oldest segments */
    assert_int_equal(ch_write(n.log, 1, 101, 30000, 0), 0);
    assert_true(tr_log_first_lsn(n.log) > 11);
    uint64_t first = 0;
    assert_int_equal(notices_at_hole(s, 10, &first), 1);
    assert_true(first >= tr_log_first_lsn(n.log)); /* seq == lsn in this log */
    struct tr_pub_stats ps;
    tr_pub_stats(n.pub, &ps);
    assert_int_equal(ps.fell_behind, 1);
    tr_client_sub_free(s);

    /* resuming from a cursor whose event is gone says so too */
    struct tr_cursor cur;
    tr_cursor_init(&cur);
    cur.base_ts = 0;
    tr_cursor_set(&cur, "sim/trade/I-0", 13, 5);
    struct tr_buf cb;
    tr_buf_init(&cb);
    assert_int_equal(tr_cursor_encode(&cur, &cb), 0);
    so.start = TR_CLIENT_START_CURSOR;
    so.cursor = cb.data;
    so.cursor_len = cb.len;
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    assert_int_equal(notices_at_hole(s, 5, &first), 1);
    assert_true(first > 6);
    tr_client_sub_free(s);
    tr_buf_free(&cb);
    tr_cursor_free(&cur);
    tr_client_close(c);
    ch_node_close(&n);
}

/* A stream may repeat a seq (a book gap notice and its snapshot share
 * one): a cursor taken between two records of one seq resumes on another
 * node with the rest of them, none twice. */
static void repeated_seq_resumes_between_records_of_one_seq(void **state)
{
    (void)state;
    static const uint64_t seqs[] = {1, 2, 3, 3, 3, 4, 5};
    struct ch_node a, b;
    assert_int_equal(ch_node_open(&a, "ra", 0, NULL), 0);
    assert_int_equal(ch_node_open(&b, "rb", 0, NULL), 0);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(ch_append(a.log, "sim", "I-0", seqs[i], 1), 0);
        assert_int_equal(ch_append(b.log, "sim", "I-1", seqs[i], 0), 0); /* other interleaving */
        assert_int_equal(ch_append(b.log, "sim", "I-0", seqs[i], 1), 0);
    }
    const char *ua[] = {a.url}, *ub[] = {b.url};
    struct tr_client *ca = client_for(ua, 1, NULL), *cb = client_for(ub, 1, NULL);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .batch = 1,
                                       .instrument = "I-0"};
    struct tr_client_sub *s;
    struct tr_error err;
    struct tr_client_msg m;
    assert_int_equal(tr_client_subscribe(ca, &so, &s, &err), 0);
    for (int i = 0; i < 4; i++) { /* 1, 2, 3, 3 */
        assert_int_equal(tr_client_sub_poll(s, &m, 2000, &err), 1);
        assert_int_equal(m.seq, seqs[i]);
    }
    struct tr_buf cur;
    tr_buf_init(&cur);
    assert_int_equal(tr_client_sub_cursor(s, &cur), 0);
    tr_client_sub_free(s);
    so.start = TR_CLIENT_START_CURSOR;
    so.cursor = cur.data;
    so.cursor_len = cur.len;
    assert_int_equal(tr_client_subscribe(cb, &so, &s, &err), 0);
    for (int i = 4; i < 7; i++) { /* the third 3, then 4, 5 */
        assert_int_equal(tr_client_sub_poll(s, &m, 2000, &err), 1);
        assert_int_equal(m.type, TR_CLIENT_EVENT);
        assert_int_equal(m.seq, seqs[i]);
    }
    assert_int_equal(tr_client_sub_poll(s, &m, 50, &err), 0);
    tr_client_sub_free(s);
    tr_buf_free(&cur);
    tr_client_close(ca);
    tr_client_close(cb);
    ch_node_close(&a);
    ch_node_close(&b);
}

/* Sends raw bytes as one request and returns the reply status. */
static int raw_request(const char *url, const void *p, size_t len)
{
    nng_socket sk;
    assert_int_equal(nng_req0_open(&sk), 0);
    nng_socket_set_ms(sk, NNG_OPT_RECVTIMEO, 3000);
    assert_int_equal(nng_dial(sk, url, NULL, 0), 0);
    assert_int_equal(nng_send(sk, (void *)p, len, 0), 0);
    void *buf;
    size_t n;
    assert_int_equal(nng_recv(sk, &buf, &n, NNG_FLAG_ALLOC), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct tr_proto_reply rep;
    struct tr_error err;
    assert_int_equal(tr_proto_parse_reply(buf, n, &u, &rep, &err), 0);
    int st = rep.status;
    msgpack_unpacked_destroy(&u);
    nng_free(buf, n);
    nng_close(sk);
    return st;
}

static void bad_token_malformed_oversized_get_error_replies_and_are_counted(void **state)
{
    (void)state;
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    po.admin_token = "s3cret-admin";
    po.data_token = "s3cret-data";
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "auth", 0, &po), 0);
    assert_int_equal(ch_write(n.log, 1, 1, 10, 0), 0);
    const char *urls[] = {n.url};
    struct tr_error err;

    struct tr_client *bad = client_for(urls, 1, "wrong");
    struct tr_client_table t;
    assert_int_equal(tr_client_admin(bad, "status", NULL, 0, &t, &err), TR_EAUTH);
    assert_non_null(strstr(err.msg, "token"));
    struct tr_client_sub *s;
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST};
    assert_int_equal(tr_client_subscribe(bad, &so, &s, &err), TR_EAUTH);
    tr_client_close(bad);

    /* not msgpack at all */
    assert_int_equal(raw_request(n.url, "hello there", 11), TR_EPARSE);
    /* msgpack but a wrong shape */
    static const uint8_t arr[] = {0x93, 0x01, 0x02, 0x03};
    assert_int_equal(raw_request(n.url, arr, sizeof arr), TR_EPARSE);
    /* oversized */
    size_t big = TR_PROTO_MAX_REQUEST + 1000;
    char *blob = calloc(1, big);
    assert_int_equal(raw_request(n.url, blob, big), TR_ETOOBIG);
    free(blob);
    /* unknown major version */
    struct tr_buf b;
    tr_buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, tr_proto_buf_write);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint32(&pk, 9);
    msgpack_pack_uint32(&pk, 0);
    msgpack_pack_uint32(&pk, TR_PROTO_HELLO);
    msgpack_pack_nil(&pk);
    msgpack_pack_array(&pk, 0);
    assert_int_equal(raw_request(n.url, b.data, b.len), TR_EVERSION);
    /* a valid envelope with a malformed body */
    b.len = 0;
    tr_proto_pack_req(&pk, TR_PROTO_FETCH, "s3cret-data", 1);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "abc", 3);
    assert_int_equal(raw_request(n.url, b.data, b.len), TR_EPARSE);
    tr_buf_free(&b);

    struct tr_pub_stats st;
    tr_pub_stats(n.pub, &st);
    assert_int_equal(st.unauthenticated, 2);
    assert_int_equal(st.malformed, 3);
    assert_int_equal(st.oversized, 1);
    assert_int_equal(st.bad_version, 1);

    /* the node still serves the right tokens */
    struct tr_client *good = client_for(urls, 1, "s3cret-data");
    assert_int_equal(tr_client_subscribe(good, &so, &s, &err), 0);
    struct ch_check chk;
    ch_check_init(&chk, 1);
    drain(s, &chk, 10, NULL);
    assert_int_equal(chk.total, 10);
    tr_client_sub_free(s);
    assert_int_equal(tr_client_admin(good, "status", NULL, 0, &t, &err), TR_EAUTH);
    tr_client_close(good);
    struct tr_client *adm = client_for(urls, 1, "s3cret-admin");
    assert_int_equal(tr_client_admin(adm, "metrics", NULL, 0, &t, &err), 0);
    int found = 0;
    for (size_t r = 0; r < t.n_rows; r++)
        if (strcmp(t.cells[r * 2], "tickraft_pub_unauthenticated_total") == 0)
            found = atoi(t.cells[r * 2 + 1]);
    assert_int_equal(found, 3);
    tr_client_table_free(&t);
    tr_client_close(adm);
    ch_node_close(&n);
}

static int count_cb(void *arg, const struct tr_client_msg *m)
{
    struct ch_check *c = arg;
    ch_check_msg(c, m);
    return 0;
}

static void history_query_spans_segments_with_paging(void **state)
{
    (void)state;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "query", 64 << 10, NULL), 0);
    assert_int_equal(ch_write(n.log, 2, 1, 5000, 0), 0);
    struct tr_log_stats ls;
    tr_log_stats(n.log, &ls);
    assert_true(ls.segments >= 4);
    const char *urls[] = {n.url};
    struct tr_client *c = client_for(urls, 1, NULL);
    struct tr_error err;
    struct ch_check chk;
    ch_check_init(&chk, 100);
    struct tr_client_query q = {.stream = "sim/trade/I-1", .by = TR_CLIENT_BY_SEQ, .from = 100,
                                .to = 4000, .page = 333};
    assert_int_equal(tr_client_query(c, &q, count_cb, &chk, &err), 3901);
    assert_int_equal(chk.bad, 0);
    assert_int_equal(chk.next[1], 4001);
    /* by time: ts = seq µs */
    ch_check_init(&chk, 2500);
    q = (struct tr_client_query){.stream = "sim/trade/I-0", .by = TR_CLIENT_BY_TIME,
                                 .from = 2500 * 1000, .to = 2999 * 1000, .page = 77};
    assert_int_equal(tr_client_query(c, &q, count_cb, &chk, &err), 500);
    assert_int_equal(chk.bad, 0);
    /* one page at a time */
    uint64_t after = 0;
    int more = 0;
    q = (struct tr_client_query){.stream = "sim/trade/I-0", .by = TR_CLIENT_BY_SEQ, .from = 1,
                                 .page = 10};
    assert_int_equal(tr_client_query_page(c, &q, &after, &more, NULL, NULL, &err), 10);
    assert_int_equal(after, 10);
    assert_int_equal(more, 1);
    tr_client_close(c);
    ch_node_close(&n);
}

/* A test double of the node: feeds it can pause and resume. */
struct fake_node {
    int paused;
};

static int fake_admin_cb(void *arg, const char *cmd, const char *const *args, size_t nargs,
                         struct tr_client_table *t, struct tr_error *err)
{
    struct fake_node *fn = arg;
    if (strcmp(cmd, "status") == 0)
        return tr_client_table_kv(t, "pipeline", "running");
    if (strcmp(cmd, "feeds") != 0)
        return TR_ENOTFOUND;
    if (nargs >= 2 && strcmp(args[0], "pause") == 0 && strcmp(args[1], "sim") == 0)
        fn->paused = 1;
    else if (nargs >= 2 && strcmp(args[0], "resume") == 0 && strcmp(args[1], "sim") == 0)
        fn->paused = 0;
    else if (nargs >= 1 && strcmp(args[0], "list") != 0)
        return tr_errorf(err, TR_ENOTFOUND, "no feed '%s'", nargs >= 2 ? args[1] : "");
    static const char *const cols[] = {"feed", "state"};
    tr_client_table_cols(t, 2, cols);
    const char *row[] = {"sim", fn->paused ? "paused" : "running"};
    return tr_client_table_row(t, row);
}

static void admin_calls_reach_the_node_callback(void **state)
{
    (void)state;
    struct fake_node fn = {0};
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    po.admin_token = "tok";
    po.admin_cb = fake_admin_cb;
    po.admin_arg = &fn;
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "admin", 0, &po), 0);
    const char *urls[] = {n.url};
    struct tr_client *c = client_for(urls, 1, "tok");
    struct tr_error err;
    struct tr_client_table t;
    const char *args[] = {"pause", "sim"};
    assert_int_equal(tr_client_admin(c, "feeds", args, 2, &t, &err), 0);
    assert_int_equal(fn.paused, 1);
    assert_string_equal(t.cells[1], "paused");
    tr_client_table_free(&t);
    const char *bad[] = {"pause", "nope"};
    assert_int_equal(tr_client_admin(c, "feeds", bad, 2, &t, &err), TR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nope"));
    assert_int_equal(tr_client_admin(c, "status", NULL, 0, &t, &err), 0);
    assert_string_equal(t.cells[(t.n_rows - 1) * 2 + 1], "running");
    tr_client_table_free(&t);
    assert_int_equal(tr_client_admin(c, "frobnicate", NULL, 0, &t, &err), TR_ENOTFOUND);
    tr_client_close(c);
    ch_node_close(&n);
}

static void unreachable_nodes_give_connrefused(void **state)
{
    (void)state;
    const char *urls[] = {"ipc:///tmp/tr_client_nobody_here.sock", "tcp://127.0.0.1:1"};
    struct tr_client *c = client_for(urls, 2, NULL);
    struct tr_error err;
    assert_int_equal(tr_client_connect(c, &err), TR_ECONNREFUSED);
    tr_client_close(c);
}

/* More idle long-polling subscribers than publisher workers: admin calls
 * still get through and every subscriber still gets every new event. */
struct idle_sub {
    struct tr_client *c;
    pthread_t th;
    struct ch_check chk;
    atomic_int state; /* 0 starting, 1 subscribed, -1 subscribe failed */
};

static void *idle_main(void *arg)
{
    struct idle_sub *is = arg;
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_LATEST};
    struct tr_client_sub *s;
    struct tr_error err;
    if (tr_client_subscribe(is->c, &so, &s, &err)) {
        fprintf(stderr, "idle subscriber: %s\n", err.msg);
        atomic_store(&is->state, -1);
        return NULL;
    }
    atomic_store(&is->state, 1);
    drain(s, &is->chk, 20, NULL);
    tr_client_sub_free(s);
    return NULL;
}

static void more_idle_subscribers_than_workers_do_not_block_others(void **state)
{
    (void)state;
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    po.workers = 4;
    po.admin_token = "t";
    struct ch_node n;
    assert_int_equal(ch_node_open(&n, "idle", 0, &po), 0);
    const char *urls[] = {n.url};
    struct idle_sub subs[8];
    for (int i = 0; i < 8; i++) {
        subs[i].c = client_for(urls, 1, "t");
        ch_check_init(&subs[i].chk, 1);
        atomic_store(&subs[i].state, 0);
        assert_int_equal(pthread_create(&subs[i].th, NULL, idle_main, &subs[i]), 0);
    }
    /* wait until each of the eight has subscribed (or failed to) */
    for (int i = 0; i < 8; i++)
        while (atomic_load(&subs[i].state) == 0)
            usleep(1000);
    for (int i = 0; i < 8; i++)
        assert_int_equal(atomic_load(&subs[i].state), 1);
    struct tr_client *adm = client_for(urls, 1, "t");
    struct tr_client_table t;
    struct tr_error err;
    assert_int_equal(tr_client_admin(adm, "status", NULL, 0, &t, &err), 0);
    tr_client_table_free(&t);
    assert_int_equal(ch_write(n.log, 2, 1, 10, 0), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(subs[i].th, NULL);
        assert_int_equal(subs[i].chk.total, 20);
        assert_int_equal(subs[i].chk.bad, 0);
        tr_client_close(subs[i].c);
    }
    tr_client_close(adm);
    ch_node_close(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscribe_earliest_receives_everything_in_order),
        cmocka_unit_test(subscribe_latest_sees_only_new_events),
        cmocka_unit_test(failover_to_next_node_no_loss_no_duplicates),
        cmocka_unit_test(node_restart_mid_stream_resumes_from_cursor),
        cmocka_unit_test(cursor_saved_on_one_node_resumes_on_another),
        cmocka_unit_test(repeated_seq_resumes_between_records_of_one_seq),
        cmocka_unit_test(slow_consumer_catches_up_from_history),
        cmocka_unit_test(retention_overtaking_a_subscriber_gives_fell_behind),
        cmocka_unit_test(bad_token_malformed_oversized_get_error_replies_and_are_counted),
        cmocka_unit_test(history_query_spans_segments_with_paging),
        cmocka_unit_test(admin_calls_reach_the_node_callback),
        cmocka_unit_test(unreachable_nodes_give_connrefused),
        cmocka_unit_test(more_idle_subscribers_than_workers_do_not_block_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
