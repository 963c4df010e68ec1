/* Unit tests of the collector -> writer hand-off (node/pipe_writer.c in
 * remote mode, node/act_writer.c's side): a batch built by a remote writer
 * is appended by a local writer with the LSNs the collector predicted (the
 * deduplicator's last_lsn), keys and payloads intact; a checkpoint message
 * carries the positions at the last LSN sent; a truncated or corrupted
 * batch message is refused whole (TR_EPARSE, nothing queued). Real log in
 * a temporary directory; the "send" is a function that keeps the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pipe.h"
#include "unit/test_log_util.h"

struct sink {
    uint32_t type[8];
    struct tr_buf msg[8];
    size_t n;
    int fail;
};

static int sink_send(void *arg, uint32_t type, const void *p, size_t n, int sync,
                     uint64_t *reply_lsn, struct tr_error *err)
{
    struct sink *k = arg;
    (void)sync;
    (void)reply_lsn;
    if (k->fail)
        return tr_errorf(err, TR_EOVERLOADED, "writer full");
    assert_true(k->n < 8);
    k->type[k->n] = type;
    tr_buf_init(&k->msg[k->n]);
    assert_int_equal(tr_buf_append(&k->msg[k->n], p, n), 0);
    k->n++;
    return 0;
}

static void sink_free(struct sink *k)
{
    for (size_t i = 0; i < k->n; i++)
        tr_buf_free(&k->msg[i]);
}

static struct tr_event trade(uint64_t id)
{
    struct tr_event ev;
    tr_event_init(&ev);
    ev.kind = TR_KIND_TRADE;
    snprintf(ev.provider, sizeof ev.provider, "sim");
    snprintf(ev.instrument, sizeof ev.instrument, "SIM-0");
    ev.seq = id;
    ev.fields |= TR_F_SEQ;
    return ev;
}

static void batch_lands_at_predicted_lsns(void **state)
{
    (void)state;
    char *dir = tl_mkdtemp();
    struct tr_log *log;
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(tr_log_open(&log, dir, NULL, &err), 0);
    /* something already in the log: predictions start after it */
    struct tr_log_record pre = {.stream = "x", .stream_len = 1, .seq = 1, .payload = "p",
                                .payload_len = 1};
    uint64_t l0;
    assert_int_equal(tr_log_append(log, &pre, &l0, &err), 0);

    struct sink k = {0};
    struct pipe_wremote rem = {.arg = &k, .send = sink_send};
    struct pipe_writer cw, ww;
    assert_int_equal(pipe_writer_init(&cw, NULL, 16), 0);
    pipe_writer_set_remote(&cw, &rem, tr_log_last_lsn(log) + 1, 7);
    assert_int_equal(pipe_writer_init(&ww, log, 16), 0);

    uint64_t hint[3];
    static const char *keys[3] = {"sim/trade/SIM-0", "sim/book/SIM-1", "sim/trade/SIM-0"};
    for (int i = 0; i < 3; i++) {
        struct tr_event ev = trade(100 + (uint64_t)i);
        assert_int_equal(pipe_writer_add2(&cw, keys[i], strlen(keys[i]), 100 + (uint64_t)i,
                                          1000 + i, 0, 0, &ev, NULL, 0, &hint[i], &err),
                         0);
    }
    assert_int_equal(hint[0], l0 + 1);
    assert_int_equal(hint[2], l0 + 3);
    assert_int_equal(k.n, 0); /* nothing sent before the flush */
    assert_int_equal(pipe_writer_flush(&cw, &err), 0);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.type[0], PIPE_WMSG_BATCH);
    assert_int_equal(pipe_writer_last_lsn(&cw), l0 + 3);

    struct pipe_wire_hdr h;
    memcpy(&h, k.msg[0].data, sizeof h);
    assert_int_equal(h.epoch, 7);
    assert_int_equal(h.count, 3);
    assert_int_equal(h.first_lsn, tr_log_last_lsn(log) + 1);
    assert_int_equal(pipe_writer_add_wire(&ww, k.msg[0].data, k.msg[0].len, &err), 0);
    assert_int_equal(pipe_writer_flush(&ww, &err), 0);
    assert_int_equal(tr_log_last_lsn(log), hint[2]);
    assert_int_equal(tr_log_flush(log, &err), 0);

    struct tr_log_reader *r;
    struct tr_log_reader_options o = {.from = TR_LOG_FROM_LSN, .lsn = l0 + 1};
    assert_int_equal(tr_log_reader_alloc(log, &o, &r, &err), 0);
    struct tr_log_record rec;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tr_log_reader_next(r, &rec, &err), 1);
        assert_int_equal(rec.lsn, hint[i]);
        assert_int_equal(rec.seq, 100 + (uint64_t)i);
        assert_int_equal(rec.ts_ns, 1000 + i);
        assert_memory_equal(rec.stream, keys[i], strlen(keys[i]));
        struct tr_event ev;
        struct tr_event_scratch sc;
        tr_event_scratch_init(&sc);
        size_t used;
        assert_int_equal(tr_event_decode(rec.payload, rec.payload_len, &used, &ev, &sc, &err), 0);
        assert_int_equal(ev.seq, 100 + (uint64_t)i);
        tr_event_scratch_free(&sc);
    }
    tr_log_reader_free(r);

    /* a failed send keeps nothing half-sent: the collector must stop */
    k.fail = 1;
    struct tr_event ev = trade(200);
    assert_int_equal(pipe_writer_add2(&cw, keys[0], strlen(keys[0]), 200, 1, 0, 0, &ev, NULL, 0,
                                      NULL, &err),
                     0);
    assert_int_not_equal(pipe_writer_flush(&cw, &err), 0);
    assert_true(cw.failed);
    assert_int_equal(pipe_writer_last_lsn(&cw), l0 + 3); /* not advanced */

    pipe_writer_close(&cw);
    pipe_writer_close(&ww);
    sink_free(&k);
    assert_int_equal(tr_log_close(log, &err), 0);
    tl_rmdir(dir);
    free(dir);
}

static int64_t wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The stage figures split receive -> durable per sample: the collector's
 * queue (received -> sent, from the batch header's stamp), the hop, the
 * append, the fsync (appended -> the durable advance) and the notification
 * (the advance -> the writer saw it). Samples without a sent stamp (local
 * mode) add no stage figures. */
static void stage_figures_split_receive_to_durable(void **state)
{
    (void)state;
    char *dir = tl_mkdtemp();
    struct tr_log *log;
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(tr_log_open(&log, dir, NULL, &err), 0);
    struct sink k = {0};
    struct pipe_wremote rem = {.arg = &k, .send = sink_send};
    struct pipe_writer cw, ww;
    assert_int_equal(pipe_writer_init(&cw, NULL, 16), 0);
    pipe_writer_set_remote(&cw, &rem, 1, 1);
    assert_int_equal(pipe_writer_init(&ww, log, 16), 0);
    ww.samp_every = 1;
    int64_t t0 = wall_now() - 10000000000ll; /* received 10 s ago */
    for (int i = 0; i < 3; i++) {
        struct tr_event ev = trade(1 + (uint64_t)i);
        assert_int_equal(pipe_writer_add2(&cw, "sim/trade/SIM-0", 15, 1 + (uint64_t)i, 1, t0,
                                          t0, &ev, NULL, 0, NULL, &err),
                         0);
    }
    assert_int_equal(pipe_writer_flush(&cw, &err), 0);
    struct pipe_wire_hdr h;
    memcpy(&h, k.msg[0].data, sizeof h);
    assert_true(h.sent_ns > t0);
    h.sent_ns = t0 + 2000000000ll; /* sent 2 s after it was received */
    memcpy(k.msg[0].data, &h, sizeof h);
    assert_int_equal(pipe_writer_add_wire(&ww, k.msg[0].data, k.msg[0].len, &err), 0);
    assert_int_equal(pipe_writer_flush(&ww, &err), 0);
    /* a local-mode sample: no sent stamp */
    struct tr_event ev = trade(9);
    assert_int_equal(pipe_writer_add2(&ww, "sim/trade/SIM-1", 15, 9, 1, t0, t0, &ev, NULL, 0,
                                      NULL, &err),
                     0);
    assert_int_equal(pipe_writer_flush(&ww, &err), 0);
    assert_int_equal(tr_log_flush(log, &err), 0);
    int64_t now = wall_now();
    pipe_writer_durable_at(&ww, 4, now + 500000000ll, now + 1000000000ll);
    assert_int_equal(ww.recv_lat.n, 4);
    for (int s = 0; s < PIPE_ST_N; s++)
        assert_int_equal(ww.stage[s].n, 3);
    /* percentiles are bucket lower bounds (8 sub-buckets per power of two) */
    uint64_t q = pipe_lat_pct(&ww.stage[PIPE_ST_QUEUE], 0.5);
    assert_true(q > 1800000 && q <= 2000000);
    uint64_t hop = pipe_lat_pct(&ww.stage[PIPE_ST_HOP], 0.5);
    assert_true(hop > 6000000 && hop <= 8000000);
    uint64_t sy = pipe_lat_pct(&ww.stage[PIPE_ST_SYNC], 0.5);
    assert_true(sy > 400000 && sy <= 600000);
    uint64_t no = pipe_lat_pct(&ww.stage[PIPE_ST_NOTIFY], 0.5);
    assert_true(no > 400000 && no <= 500000);
    pipe_writer_close(&cw);
    pipe_writer_close(&ww);
    sink_free(&k);
    assert_int_equal(tr_log_close(log, &err), 0);
    tl_rmdir(dir);
    free(dir);
}

static void malformed_batch_is_refused_whole(void **state)
{
    (void)state;
    char *dir = tl_mkdtemp();
    struct tr_log *log;
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(tr_log_open(&log, dir, NULL, &err), 0);
    struct sink k = {0};
    struct pipe_wremote rem = {.arg = &k, .send = sink_send};
    struct pipe_writer cw, ww;
    assert_int_equal(pipe_writer_init(&cw, NULL, 16), 0);
    pipe_writer_set_remote(&cw, &rem, 1, 1);
    assert_int_equal(pipe_writer_init(&ww, log, 16), 0);
    for (int i = 0; i < 2; i++) {
        struct tr_event ev = trade(1 + (uint64_t)i);
        assert_int_equal(pipe_writer_add2(&cw, "k", 1, 1 + (uint64_t)i, 1, 0, 0, &ev, NULL, 0,
                                          NULL, &err),
                         0);
    }
    assert_int_equal(pipe_writer_flush(&cw, &err), 0);
    const uint8_t *m = k.msg[0].data;
    size_t len = k.msg[0].len;
    /* every truncation is refused and queues nothing */
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(pipe_writer_add_wire(&ww, m, cut, &err), TR_EPARSE);
        assert_int_equal(ww.n, 0);
    }
    /* trailing garbage and a bad magic too */
    uint8_t *big = malloc(len + 3);
    memcpy(big, m, len);
    memset(big + len, 0xff, 3);
    assert_int_equal(pipe_writer_add_wire(&ww, big, len + 3, &err), TR_EPARSE);
    big[0] ^= 1;
    assert_int_equal(pipe_writer_add_wire(&ww, big, len, &err), TR_EPARSE);
    assert_int_equal(ww.n, 0);
    free(big);
    /* the intact message still goes through */
    assert_int_equal(pipe_writer_add_wire(&ww, m, len, &err), 0);
    assert_int_equal(ww.n, 2);
    assert_int_equal(pipe_writer_flush(&ww, &err), 0);
    assert_int_equal(tr_log_last_lsn(log), 2);
    pipe_writer_close(&cw);
    pipe_writer_close(&ww);
    sink_free(&k);
    assert_int_equal(tr_log_close(log, &err), 0);
    tl_rmdir(dir);
    free(dir);
}

/* The headline latency ends when the fsync covering the record returned
 * (the log's stamp), not when the writer's thread heard of it: received
 * 100 ms ago, durable 100 ms from now, heard of 900 ms from now -> ~200 ms,
 * not ~1 s. A stamp before the append (an older advance) is clamped up to
 * the append, never earlier. */
static void latency_ends_at_the_durable_stamp(void **state)
{
    (void)state;
    char *dir = tl_mkdtemp();
    struct tr_log *log;
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(tr_log_open(&log, dir, NULL, &err), 0);
    struct pipe_writer ww;
    assert_int_equal(pipe_writer_init(&ww, log, 16), 0);
    ww.samp_every = 1;
    int64_t now = wall_now();
    struct tr_event ev = trade(1);
    assert_int_equal(pipe_writer_add2(&ww, "sim/trade/SIM-1", 15, 1, 1, now - 100000000ll,
                                      now - 100000000ll, &ev, NULL, 0, NULL, &err),
                     0);
    assert_int_equal(pipe_writer_flush(&ww, &err), 0);
    assert_int_equal(tr_log_flush(log, &err), 0);
    pipe_writer_durable_at(&ww, 1, now + 100000000ll, now + 900000000ll);
    assert_int_equal(ww.recv_lat.n, 1);
    uint64_t r = pipe_lat_pct(&ww.recv_lat, 0.5);
    assert_true(r >= 160000 && r <= 240000);
    pipe_writer_close(&ww);
    assert_int_equal(tr_log_close(log, &err), 0);
    tl_rmdir(dir);
    free(dir);
}

/* The histogram's layout: exact below 32 us, then buckets 1/32 of their
 * power of two wide, so values ~3 % apart around 1 ms are told apart and
 * every value lies in [lower bound, next lower bound). */
static void latency_buckets_are_fine_enough(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < 5000000; v += v < 4096 ? 1 : 997) {
        struct pipe_lat h;
        memset(&h, 0, sizeof h);
        pipe_lat_add(&h, v);
        uint64_t lo = pipe_lat_pct(&h, 0.5);
        assert_true(lo <= v);
        assert_true(v - lo <= (v < 32 ? 0 : v / 32));
    }
    for (size_t b = 0; b + 1 < PIPE_LAT_NB; b++)
        assert_true(pipe_lat_value(b) < pipe_lat_value(b + 1));
    struct pipe_lat a, c;
    memset(&a, 0, sizeof a);
    memset(&c, 0, sizeof c);
    pipe_lat_add(&a, 990);
    pipe_lat_add(&c, 1020);
    assert_true(pipe_lat_pct(&a, 0.5) < pipe_lat_pct(&c, 0.5));
    assert_int_equal(pipe_lat_pct(&c, 0.5), 1008);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_lands_at_predicted_lsns),
        cmocka_unit_test(malformed_batch_is_refused_whole),
        cmocka_unit_test(stage_figures_split_receive_to_durable),
        cmocka_unit_test(latency_ends_at_the_durable_stamp),
        cmocka_unit_test(latency_buckets_are_fine_enough),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
