/* tickraft-bench actors: what the actor runtime moves, beside raw nng
 * measured the same way (same payloads, same batch sizes, same one sender
 * thread and one receiver, blocking sends).
 *
 *   msgs:   one-way, one 200-byte payload per message
 *   events: one-way, 150-byte msgpack items batched into ~64 KiB messages
 *           (tr_batch, as the hot path does), counted on receipt
 *   rtt:    call/reply of 200 bytes, one outstanding
 * inproc:// between threads of this process; ipc:// to a process actor
 * (tickraft-actor-host) for the runtime, between two threads for raw nng.
 *   loop:   a loop actor (actor_loop.h) on this thread's loop: ns per
 *           tr_lact_call of a 150-byte item, and per tr_lact_send (copy
 *           queued, then handled in a loop turn), one actor, no hop */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "benchutil.h"
#include "tickraft/actor_loop.h"
#include "tickraft/event.h"

const char bench_actors_help[] =
    "actor runtime vs raw nng: msgs/s, batched events/s, call RTT (inproc, ipc) "
    "[--seconds S] [--batch-bytes N] [--rtt-n N]";

#define PAYLOAD 200
#define EVENT 150

static uint8_t g_event[EVENT];
static int g_event_real;

/* Fills g_event with a real tr_event_encode'd trade (16-digit trade id plus
 * a short raw frame kept for audit, sized so the encoding is exactly EVENT
 * bytes); falls back to an opaque msgpack bin of EVENT bytes. */
static void make_event(void)
{
    memset(g_event, 0x5a, sizeof g_event);
    g_event[0] = 0xc4; /* msgpack bin8 of 148 bytes */
    g_event[1] = EVENT - 2;
    static const uint8_t raw[EVENT] = "{\"type\":\"match\",\"trade_id\":1234567890123456,\"side\":\"sell\"}"
                                      "..........................................................";
    struct tr_buf buf;
    tr_buf_init(&buf);
    for (uint32_t raw_len = 0; raw_len < EVENT; raw_len++) {
        struct tr_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = TR_KIND_TRADE;
        ev.side = TR_SIDE_SELL;
        ev.fields = TR_F_SEQ | TR_F_ID | TR_F_PRICE | TR_F_SIZE | TR_F_TS_EXCHANGE |
                    TR_F_TS_RECEIVE | TR_F_ORIGIN | TR_F_RAW;
        strcpy(ev.provider, "coinbase");
        strcpy(ev.instrument, "BTC-USD");
        ev.seq = 81234567890ull;
        strcpy(ev.id, "1234567890123456");
        ev.ts_exchange = 1763900000123456789ll;
        ev.ts_receive = 1763900000124456789ll;
        ev.origin = 2;
        ev.raw = raw;
        ev.raw_len = raw_len;
        tr_decimal_parse("64123.45", 8, &ev.price);
        tr_decimal_parse("0.01250000", 10, &ev.size);
        buf.len = 0;
        if (tr_event_encode(&ev, &buf) != 0)
            break;
        if (buf.len == EVENT) {
            memcpy(g_event, buf.data, EVENT);
            g_event_real = 1;
            break;
        }
        if (buf.len > EVENT)
            break;
    }
    tr_buf_free(&buf);
}

/* ---------- raw nng, same shapes ---------- */
struct raw_rx {
    nng_socket s;
    long n;
    int events_per_msg;
    uint64_t t_end;
};

static void *raw_rx_main(void *arg)
{
    struct raw_rx *r = arg;
    for (long i = 0; i < r->n; i++) {
        nng_msg *m;
        if (nng_recvmsg(r->s, &m, 0) != 0)
            break;
        nng_msg_free(m);
    }
    r->t_end = bench_now_ns();
    return NULL;
}

/* One-way rate of `n` messages of `size` bytes from one thread to another. */
static double raw_oneway(const char *url, long n, size_t size, int sendbuf)
{
    nng_socket pull, push;
    nng_pull0_open(&pull);
    nng_listen(pull, url, NULL, 0);
    nng_push0_open(&push);
    nng_socket_set_int(push, NNG_OPT_SENDBUF, sendbuf);
    nng_dial(push, url, NULL, 0);
    struct raw_rx r = {pull, n, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, raw_rx_main, &r);
    uint8_t *buf = calloc(1, size);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        nng_send(push, buf, size, 0);
    pthread_join(th, NULL);
    free(buf);
    nng_close(push);
    nng_close(pull);
    return (double)n / ((double)(r.t_end - t0) / 1e9);
}

struct raw_echo {
    nng_socket in, out;
    long n;
};

static void *raw_echo_main(void *arg)
{
    struct raw_echo *e = arg;
    for (long i = 0; i < e->n; i++) {
        nng_msg *m;
        if (nng_recvmsg(e->in, &m, 0) != 0)
            break;
        nng_sendmsg(e->out, m, 0);
    }
    return NULL;
}

/* Round trips over two push/pull pairs (the runtime's call path shape). */
static void raw_rtt(const char *base, long n, double *p50, double *p99)
{
    char u1[128], u2[128];
    snprintf(u1, sizeof u1, "%s.req", base);
    snprintf(u2, sizeof u2, "%s.rep", base);
    nng_socket a_out, a_in, b_in, b_out;
    nng_pull0_open(&b_in);
    nng_listen(b_in, u1, NULL, 0);
    nng_pull0_open(&a_in);
    nng_listen(a_in, u2, NULL, 0);
    nng_push0_open(&a_out);
    nng_dial(a_out, u1, NULL, 0);
    nng_push0_open(&b_out);
    nng_dial(b_out, u2, NULL, 0);
    struct raw_echo e = {b_in, b_out, n};
    pthread_t th;
    pthread_create(&th, NULL, raw_echo_main, &e);
    double *v = calloc((size_t)n, sizeof *v);
    uint8_t buf[PAYLOAD] = {0};
    for (long i = 0; i < n; i++) {
        uint64_t t0 = bench_now_ns();
        nng_send(a_out, buf, sizeof buf, 0);
        nng_msg *m;
        nng_recvmsg(a_in, &m, 0);
        nng_msg_free(m);
        v[i] = (double)(bench_now_ns() - t0) / 1000.0;
    }
    pthread_join(th, NULL);
    *p50 = bench_percentile(v, (size_t)n, 50);
    *p99 = bench_percentile(v, (size_t)n, 99);
    free(v);
    nng_close(a_out);
    nng_close(b_out);
    nng_close(a_in);
    nng_close(b_in);
}

/* ---------- the runtime ---------- */
static int count_items(struct tr_actor *c, const char *to, uint64_t *msgs, uint64_t *items)
{
    struct tr_reply r;
    int rc = tr_actor_call(c, to, TR_DIAG_COUNT, NULL, 0, 60000, &r);
    if (rc)
        return rc;
    uint64_t m = 0, it = 0;
    for (int i = 0; i < 8; i++) {
        m = m << 8 | r.data[i];
        it = it << 8 | r.data[8 + i];
    }
    *msgs = m;
    *items = it;
    tr_reply_free(&r);
    return 0;
}

static double rt_msgs(struct tr_actor *c, const char *to, long n)
{
    uint8_t buf[PAYLOAD] = {0};
    uint64_t before_m, before_i, m, it;
    count_items(c, to, &before_m, &before_i);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if (tr_actor_send(c, to, 77, buf, sizeof buf, -1) != 0)
            return 0;
    count_items(c, to, &m, &it); /* queued behind the sends: all handled */
    return (double)n / ((double)(bench_now_ns() - t0) / 1e9);
}

static double rt_events(struct tr_actor *c, const char *to, long n, size_t batch_bytes,
                        uint64_t *batches)
{
    struct tr_batch b;
    uint64_t m0, i0, m1, i1;
    count_items(c, to, &m0, &i0);
    tr_batch_init(&b, c, to, TR_DIAG_BATCH, batch_bytes, -1);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if (tr_batch_add(&b, g_event, EVENT) != 0)
            return 0;
    tr_batch_flush(&b);
    count_items(c, to, &m1, &i1);
    double rate = (double)(i1 - i0) / ((double)(bench_now_ns() - t0) / 1e9);
    *batches = b.batches_sent;
    tr_batch_close(&b);
    return rate;
}

static void rt_rtt(struct tr_actor *c, const char *to, long n, double *p50, double *p99)
{
    double *v = calloc((size_t)n, sizeof *v);
    uint8_t buf[PAYLOAD] = {0};
    for (long i = 0; i < n; i++) {
        struct tr_reply r;
        uint64_t t0 = bench_now_ns();
        tr_actor_call(c, to, TR_DIAG_ECHO, buf, sizeof buf, 10000, &r);
        v[i] = (double)(bench_now_ns() - t0) / 1000.0;
        tr_reply_free(&r);
    }
    *p50 = bench_percentile(v, (size_t)n, 50);
    *p99 = bench_percentile(v, (size_t)n, 99);
    free(v);
}

/* Scales a count so a phase lasts about `seconds` given a rough rate. */
static long for_secs(double seconds, double rate)
{
    long n = (long)(seconds * rate);
    return n < 1000 ? 1000 : n;
}

/* ---- loop actors: a counter on this thread's loop ---- */
static uint64_t g_loop_items, g_loop_bytes;

static int lc_handle(struct tr_lact *self, void *state, const struct tr_lact_msg *m)
{
    (void)self;
    (void)state;
    g_loop_items++;
    g_loop_bytes += m->len;
    return TR_ACTOR_CONTINUE;
}

static const struct tr_lact_def lc_def = {"bench", NULL, lc_handle, NULL};

/* ns per call and per send (queued + handled), n items each. */
static int loop_actor_ns(struct tr_system *sys, long n, double *call_ns, double *send_ns)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct tr_lact_spec kid = {.id = "lsink", .def = &lc_def, .mailbox_hwm = 1024};
    struct tr_lsup_spec spec = {.name = "bench", .children = &kid, .n_children = 1};
    struct tr_lsup *sup;
    if (tr_lsup_start(sys, &loop, &spec, &sup, NULL))
        return -1;
    struct tr_lact *a = tr_lsup_find(sup, "lsink");
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        tr_lact_call(a, 1, g_event, EVENT);
    *call_ns = (double)(bench_now_ns() - t0) / (double)n;
    g_loop_items = 0;
    t0 = bench_now_ns();
    for (long i = 0; i < n;) {
        while (i < n && tr_lact_send(a, 1, g_event, EVENT) == 0)
            i++;
        uv_run(&loop, UV_RUN_NOWAIT); /* full (or done): let the loop hand them over */
    }
    while (g_loop_items < (uint64_t)n)
        uv_run(&loop, UV_RUN_NOWAIT);
    *send_ns = (double)(bench_now_ns() - t0) / (double)n;
    tr_lsup_close(sup);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}

int bench_actors_main(int argc, char **argv)
{
    double secs = (double)bench_arg_long(argc, argv, "--seconds", 2);
    size_t batch_bytes = (size_t)bench_arg_long(argc, argv, "--batch-bytes", 65536);
    long rtt_n = bench_arg_long(argc, argv, "--rtt-n", 20000);
    make_event();
    int per_batch = (int)((batch_bytes - 64) / EVENT);

    struct tr_error err;
    tr_error_clear(&err);
    struct tr_system *sys;
    if (tr_system_alloc(&(struct tr_system_opts){.name = "bench"}, &sys, &err)) {
        fprintf(stderr, "actors: %s\n", err.msg);
        return 1;
    }
    struct tr_actor *client, *sink;
    tr_actor_client_open(sys, "bench", &client, NULL);
    struct tr_actor_opts o = {.mailbox_hwm = 1024};
    if (tr_actor_spawn(sys, "sink", &tr_actor_diag_def, NULL, &o, &sink, &err)) {
        fprintf(stderr, "actors: %s\n", err.msg);
        return 1;
    }
    /* the process actor, under a (threaded) supervisor */
    struct tr_child_spec kid = {.id = "psink", .start = {.process_kind = "diag"},
                                .restart = TR_PERMANENT, .shutdown = TR_SHUTDOWN_TIMEOUT,
                                .shutdown_ms = 5000, .type = TR_WORKER};
    struct tr_sup_spec spec = {.name = "bench", .strategy = TR_ONE_FOR_ONE, .children = &kid,
                               .n_children = 1};
    struct tr_sup *sup;
    uint64_t t_spawn = bench_now_ns();
    if (tr_sup_start(sys, &spec, &sup, &err)) {
        fprintf(stderr, "actors: process actor: %s\n", err.msg);
        return 1;
    }
    double spawn_ms = (double)(bench_now_ns() - t_spawn) / 1e6;

    printf("actors: one sender thread, one receiver; %zu-byte batches of %d x %d-byte events (%s)\n",
           batch_bytes, per_batch, EVENT, g_event_real ? "encoded trades" : "opaque msgpack");
    /* raw nng with the runtime's sender queue (16), and without (nng's default) */
    double raw_msgs = raw_oneway("inproc://bench.raw.m", for_secs(secs, 100000), PAYLOAD, 16);
    double raw_msgs_nobuf = raw_oneway("inproc://bench.raw.m0", for_secs(secs, 30000), PAYLOAD, 0);
    double raw_batch_msgs = raw_oneway("inproc://bench.raw.b", for_secs(secs, 15000),
                                       (size_t)per_batch * EVENT + 64, 16);
    char ipc_url[200];
    snprintf(ipc_url, sizeof ipc_url, "ipc:///tmp/tickraft-bench-%ld", (long)getpid());
    double raw_ipc_batch_msgs =
        raw_oneway(ipc_url, for_secs(secs, 8000), (size_t)per_batch * EVENT + 64, 16);
    unlink(ipc_url + 6);
    double raw_p50, raw_p99, raw_ipc_p50, raw_ipc_p99;
    raw_rtt("inproc://bench.raw.rtt", rtt_n, &raw_p50, &raw_p99);
    raw_rtt(ipc_url, rtt_n / 2, &raw_ipc_p50, &raw_ipc_p99);
    char u[200];
    snprintf(u, sizeof u, "%s.req", ipc_url + 6);
    unlink(u);
    snprintf(u, sizeof u, "%s.rep", ipc_url + 6);
    unlink(u);

    uint64_t batches = 0, ipc_batches = 0;
    double msgs = rt_msgs(client, "sink", for_secs(secs, 30000));
    double events = rt_events(client, "sink", for_secs(secs, 5e6), batch_bytes, &batches);
    double p50, p99;
    rt_rtt(client, "sink", rtt_n, &p50, &p99);
    double ipc_events = rt_events(client, "psink", for_secs(secs, 2e6), batch_bytes, &ipc_batches);
    double ipc_p50, ipc_p99;
    rt_rtt(client, "psink", rtt_n / 2, &ipc_p50, &ipc_p99);
    double ipc_msgs = rt_msgs(client, "psink", for_secs(secs / 2, 20000));
    double loop_call_ns = 0, loop_send_ns = 0;
    loop_actor_ns(sys, for_secs(secs / 4, 20e6), &loop_call_ns, &loop_send_ns);

    printf("%-28s %14s %14s\n", "", "runtime", "raw nng");
    printf("%-28s %14.0f %14.0f\n", "inproc msgs/s (200 B)", msgs, raw_msgs);
    printf("%-28s %14s %14.0f\n", "  raw, no sender queue", "-", raw_msgs_nobuf);
    printf("%-28s %14.0f %14.0f\n", "inproc events/s (batched)", events, raw_batch_msgs * per_batch);
    printf("%-28s %14.1f %14.1f\n", "inproc rtt p50 us", p50, raw_p50);
    printf("%-28s %14.1f %14.1f\n", "inproc rtt p99 us", p99, raw_p99);
    printf("%-28s %14.0f %14.0f\n", "ipc events/s (batched)", ipc_events, raw_ipc_batch_msgs * per_batch);
    printf("%-28s %14.1f %14.1f\n", "ipc rtt p50 us", ipc_p50, raw_ipc_p50);
    printf("%-28s %14.1f %14.1f\n", "ipc rtt p99 us", ipc_p99, raw_ipc_p99);
    printf("%-28s %14.0f %14s\n", "ipc msgs/s (200 B)", ipc_msgs, "-");
    printf("process actor start (spawn+exec+ready): %.1f ms\n", spawn_ms);
    printf("loop actor (same thread): call %.1f ns, send (queued + handled) %.1f ns per %d-byte item\n",
           loop_call_ns, loop_send_ns, EVENT);

    tr_sup_stop(sup);
    tr_sup_wait(sup);
    tr_sup_free(sup);
    tr_actor_stop(sink, 0);
    tr_actor_join(sink);
    tr_actor_client_close(client);
    tr_system_free(sys);

    printf("{\"bench\":\"actors\",\"event_kind\":\"%s\",\"batch_bytes\":%zu,\"events_per_batch\":%d,\"event_bytes\":%d,"
           "\"inproc_msgs_per_s\":%.0f,\"inproc_events_per_s\":%.0f,"
           "\"inproc_rtt_p50_us\":%.1f,\"inproc_rtt_p99_us\":%.1f,"
           "\"ipc_events_per_s\":%.0f,\"ipc_rtt_p50_us\":%.1f,\"ipc_rtt_p99_us\":%.1f,"
           "\"ipc_msgs_per_s\":%.0f,\"process_actor_start_ms\":%.1f,"
           "\"raw_nng_inproc_msgs_per_s\":%.0f,\"raw_nng_inproc_msgs_per_s_nobuf\":%.0f,"
           "\"raw_nng_inproc_events_per_s\":%.0f,"
           "\"raw_nng_inproc_rtt_p50_us\":%.1f,\"raw_nng_inproc_rtt_p99_us\":%.1f,"
           "\"raw_nng_ipc_events_per_s\":%.0f,\"raw_nng_ipc_rtt_p50_us\":%.1f,"
           "\"raw_nng_ipc_rtt_p99_us\":%.1f,\"loop_call_ns\":%.1f,\"loop_send_ns\":%.1f}\n",
           g_event_real ? "encoded_trade" : "opaque", batch_bytes, per_batch, EVENT, msgs, events, p50, p99, ipc_events, ipc_p50, ipc_p99,
           ipc_msgs, spawn_ms, raw_msgs, raw_msgs_nobuf, raw_batch_msgs * per_batch, raw_p50, raw_p99,
           raw_ipc_batch_msgs * per_batch, raw_ipc_p50, raw_ipc_p99, loop_call_ns, loop_send_ns);
    return 0;
}
