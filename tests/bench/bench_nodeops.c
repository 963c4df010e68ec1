/* tickraft-bench nodeops: what the node's operations modules cost on the
 * hot path. Counter increments and histogram observations from 1 and 2
 * threads on one series (the worst case: one shared cache line), a
 * /metrics rendering of a registry shaped like a busy node, and a log line
 * printed vs. one dropped by the rate limiter. Prints a JSON object last. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "node/metrics.h"
#include "node/nlog.h"

const char bench_nodeops_help[] = "cost of metrics updates, /metrics rendering and log lines";

struct thr {
    struct tr_counter *c;
    struct tr_histogram *h;
    long n;
};

static void *count_thread(void *p)
{
    struct thr *t = p;
    for (long i = 0; i < t->n; i++)
        tr_counter_inc(t->c);
    return NULL;
}

static void *observe_thread(void *p)
{
    struct thr *t = p;
    for (long i = 0; i < t->n; i++)
        tr_histogram_observe(t->h, (uint64_t)(i & 0xfffff) * 64);
    return NULL;
}

/* ns per operation with `threads` threads doing n each. */
static double run(void *(*fn)(void *), struct thr *t, int threads)
{
    pthread_t th[2];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, fn, t);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    return (double)(bench_now_ns() - t0) / (double)(t->n * threads);
}

static void null_sink(void *arg, const char *line, size_t len)
{
    (void)line;
    *(size_t *)arg += len;
}

int bench_nodeops_main(int argc, char **argv)
{
    long n = bench_arg_long(argc, argv, "--ops", 20000000);
    int feeds = (int)bench_arg_long(argc, argv, "--feeds", 20);
    struct tr_metrics *m;
    if (tr_metrics_alloc(&m, NULL))
        return 1;
    struct thr t = {
        .c = tr_metrics_counter(m, TR_M_EVENTS_RECEIVED, (const char *const[]){"f", "trade"}),
        .h = tr_metrics_histogram(m, TR_M_PROVIDER_TO_LOG, (const char *const[]){"f"}),
        .n = n,
    };
    double c1 = run(count_thread, &t, 1), c2 = run(count_thread, &t, 2);
    double h1 = run(observe_thread, &t, 1), h2 = run(observe_thread, &t, 2);

    /* a registry like a busy node: every per-feed family for `feeds` feeds */
    static const char *const kinds[] = {"trade", "book_delta", "book_snapshot", "ticker"};
    for (int f = 0; f < feeds; f++) {
        char name[32];
        snprintf(name, sizeof name, "feed-%d", f);
        for (int k = 0; k < 4; k++)
            for (int id = TR_M_EVENTS_RECEIVED; id <= TR_M_GAPS_UNFILLED; id++)
                tr_counter_inc(tr_metrics_counter(m, id, (const char *const[]){name, kinds[k]}));
        tr_histogram_observe(tr_metrics_histogram(m, TR_M_PROVIDER_TO_LOG,
                                                  (const char *const[]){name}), 250000);
        tr_gauge_set(tr_metrics_gauge(m, TR_M_CONNECTIONS, (const char *const[]){name}), 1);
    }
    struct tr_buf b;
    tr_buf_init(&b);
    double rv[50];
    for (int i = 0; i < 50; i++) {
        b.len = 0;
        uint64_t t0 = bench_now_ns();
        tr_metrics_render(m, &b);
        rv[i] = (double)(bench_now_ns() - t0) / 1000.0;
    }
    size_t render_bytes = b.len;
    double render_us = bench_percentile(rv, 50, 50);

    size_t sunk = 0;
    struct tr_nlog_options o;
    tr_nlog_options_init(&o);
    o.write_cb = null_sink;
    o.write_arg = &sunk;
    o.burst = 0;
    struct tr_nlog *lg;
    if (tr_nlog_open(&lg, &o, NULL))
        return 1;
    long lines = n / 20;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < lines; i++)
        tr_nlog(lg, TR_NLOG_WARN, "conn", "malformed frame", TR_KV_STR("feed", "coinbase-main"),
                TR_KV_INT("len", i), TR_KV_STR("err", "json: expected ':' at byte 17"));
    double line_ns = (double)(bench_now_ns() - t0) / (double)lines;
    tr_nlog_close(lg);
    o.burst = 10;
    tr_nlog_open(&lg, &o, NULL);
    t0 = bench_now_ns();
    for (long i = 0; i < lines; i++)
        tr_nlog(lg, TR_NLOG_WARN, "conn", "malformed frame", TR_KV_STR("feed", "coinbase-main"),
                TR_KV_INT("len", i), TR_KV_STR("err", "json: expected ':' at byte 17"));
    double dropped_ns = (double)(bench_now_ns() - t0) / (double)lines;
    tr_nlog_close(lg);

    printf("counter_inc: %.1f ns (1 thread), %.1f ns/op (2 threads, one series)\n", c1, c2);
    printf("histogram_observe: %.1f ns (1 thread), %.1f ns/op (2 threads)\n", h1, h2);
    printf("render: %.0f us median for %zu bytes (%d feeds)\n", render_us, render_bytes, feeds);
    printf("log line: %.0f ns printed (logfmt, 3 fields), %.0f ns rate-limited away\n", line_ns,
           dropped_ns);
    printf("{\"counter_inc_ns\":%.1f,\"counter_inc_2thr_ns\":%.1f,\"observe_ns\":%.1f,"
           "\"observe_2thr_ns\":%.1f,\"render_us\":%.0f,\"render_bytes\":%zu,"
           "\"log_line_ns\":%.0f,\"log_dropped_ns\":%.0f}\n",
           c1, c2, h1, h2, render_us, render_bytes, line_ns, dropped_ns);
    tr_buf_free(&b);
    tr_metrics_free(m);
    return 0;
}
