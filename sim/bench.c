/* The simulator's throughput benchmark (`tickraft-sim --bench SECONDS` and
 * `tickraft-bench sim`): one native-dialect server on this thread's loop
 * generating, encoding and sending events as fast as it can to one raw
 * loopback client on another thread that subscribes to every instrument and
 * reads everything. Prints one JSON object as its last line: events written
 * per second, frames per second and events per frame, the send age
 * (event timestamp -> its frame written to the socket, p50/p99), and the
 * server thread's CPU over the window (cores, ns per event written, and
 * events per CPU-second: the one-core rate, whatever else the machine runs). */
#include "sim.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bench_client {
    int port;
    uint32_t n_inst;
    uint64_t frames, bytes;
    volatile int stop;
    int ok;
};

static void *client_main(void *arg)
{
    struct bench_client *bc = arg;
    struct sim_rc c;
    if (sim_ws_open(&c, bc->port, "/native", 5000) != 0)
        return NULL;
    struct tr_buf m;
    tr_buf_init(&m);
    sim_put(&m, "{\"type\":\"subscribe\",\"channels\":[\"trade\",\"book\",\"ticker\"],\"instruments\":[");
    for (uint32_t i = 0; i < bc->n_inst; i++)
        sim_putf(&m, "%s\"SIM-%u\"", i ? "," : "", i);
    sim_put(&m, "]}");
    sim_ws_send(&c, 1, m.data, m.len);
    tr_buf_free(&m);
    bc->ok = 1;
    while (!bc->stop) {
        int op;
        char *p = NULL;
        size_t n = 0;
        int rc = sim_ws_recv(&c, &op, &p, &n, 200);
        if (rc == TR_ETIMEDOUT)
            continue;
        if (rc)
            break;
        bc->frames++;
        bc->bytes += n;
        free(p);
    }
    sim_rc_close(&c);
    return NULL;
}

struct bench_state {
    struct sim_server *s;
    uv_timer_t t;
    double secs;
    int64_t t0;
    int64_t cpu0, cpu1; /* the server thread's CPU time at the window's ends */
    uint64_t gen0, sent0, bytes0, frames0;
    int phase;
};

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void bench_timer_cb(uv_timer_t *t)
{
    struct bench_state *b = t->data;
    if (b->phase == 0) { /* warm-up over: start measuring */
        b->phase = 1;
        b->t0 = sim_now_ns();
        b->cpu0 = thread_cpu_ns(); /* this callback runs on the server's loop thread */
        b->gen0 = b->s->ev_generated;
        b->sent0 = b->s->ev_written;
        b->bytes0 = b->s->bytes_sent;
        b->frames0 = b->s->frames_sent;
        memset(&b->s->age, 0, sizeof b->s->age); /* ages of the measured window only */
        uv_timer_start(t, bench_timer_cb, (uint64_t)(b->secs * 1000), 0);
        return;
    }
    b->cpu1 = thread_cpu_ns();
    uv_close((uv_handle_t *)t, NULL);
    sim_server_stop(b->s);
}

int sim_bench_run(double secs, double rate, uint32_t inst, const char *truth, int tick_us)
{
    struct sim_config cfg = {0};
    cfg.seed = 1;
    cfg.dialects = 1u << SIM_D_NATIVE;
    cfg.instruments = inst;
    cfg.rate = rate;
    cfg.history_s = 10;
    cfg.epoch_ns = -1;
    cfg.truth = truth;
    cfg.tick_us = tick_us; /* 0: the server's default */
    cfg.queue_limit = 1u << 30;
    cfg.backpressure = 4u << 20;
    static struct sim_server s;
    struct tr_error err;
    tr_error_clear(&err);
    if (sim_server_open(&s, &cfg, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    struct bench_client bc = {.port = s.cfg.port, .n_inst = inst};
    pthread_t th;
    pthread_create(&th, NULL, client_main, &bc);
    struct bench_state b = {.s = &s, .secs = secs};
    uv_timer_init(&s.loop, &b.t);
    b.t.data = &b;
    uv_timer_start(&b.t, bench_timer_cb, 500, 0);
    sim_server_run(&s);
    double el = (double)(sim_now_ns() - b.t0) / 1e9;
    uint64_t gen = s.ev_generated - b.gen0, sent = s.ev_written - b.sent0, bytes = s.bytes_sent - b.bytes0;
    uint64_t frames = s.frames_sent - b.frames0;
    double cpu = (double)(b.cpu1 - b.cpu0) / 1e9; /* server thread, seconds */
    int tick = s.cfg.tick_us;
    double age50 = sim_age_quantile(&s.age, 0.5), age99 = sim_age_quantile(&s.age, 0.99);
    bc.stop = 1;
    sim_server_close(&s);
    pthread_join(th, NULL);
    printf("{\"bench\":\"sim\",\"dialect\":\"native\",\"instruments\":%u,\"target_rate\":%.0f,"
           "\"tick_us\":%d,\"seconds\":%.2f,\"events_generated_per_s\":%.0f,\"events_per_s\":%.0f,"
           "\"mb_per_s\":%.1f,\"frames_per_s\":%.0f,\"events_per_frame\":%.1f,"
           "\"send_age_p50_us\":%.0f,\"send_age_p99_us\":%.0f,\"client_frames\":%llu,"
           "\"server_cpu_cores\":%.2f,\"server_ns_per_event\":%.0f,"
           "\"events_per_server_cpu_s\":%.0f,\"truth\":%s}\n",
           inst, rate, tick, el, gen / el, sent / el, bytes / el / 1e6, frames / el,
           frames ? (double)sent / (double)frames : 0.0, age50, age99,
           (unsigned long long)bc.frames, cpu / el, sent ? cpu * 1e9 / (double)sent : 0.0,
           cpu > 0 ? (double)sent / cpu : 0.0, truth ? "true" : "false");
    return bc.ok ? 0 : 1;
}
