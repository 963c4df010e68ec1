/* tickraft-bench client: one SDK subscriber against a real publisher on
 * tcp loopback, in one process.
 *  1. throughput: --events N already in the log, read from EARLIEST with
 *     every event decoded (events_per_s) and without decoding
 *     (events_per_s_nodecode);
 *  2. latency at --rate events/s for --seconds: a writer thread appends
 *     batches every millisecond, stamping ts_receive (CLOCK_REALTIME) as the
 *     node's pipeline would on the provider frame; the subscriber measures
 *     callback time minus ts_receive. --sync group (the node's default,
 *     2 ms group commit: readers see records once durable) or flush (an
 *     fsync per 1 ms batch); --group-commit-ms sets the group window (0 =
 *     leader/follower commit, docs/storage.md). The log's durable callback
 *     stamps when each record became durable, which splits the latency in
 *     two: append -> durable (the storage's part) and durable -> callback
 *     (the publisher and the SDK: wake-up, read, reply, nng, delivery).
 *     --pipeline N: FETCHes the SDK keeps outstanding (0 = its default).
 *     --deliver run (default: tr_client_sub_run, events reach a callback)
 *     or poll (tr_client_sub_poll with a 1 s timeout). --live subscribes
 *     with the SDK's live option (records once written to the log, before
 *     durable; durable_to_client_* is then mostly negative: not a cost). The
 *     latency phase also
 *     reports the process's CPU time per event and context switches per
 *     FETCH, which a shared machine disturbs less than the percentiles.
 * Prints a JSON object last. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "node/pub.h"
#include "tickraft/client.h"
#include "tickraft/log.h"

const char bench_client_help[] =
    "SDK subscriber throughput and provider-to-callback latency "
    "[--events N] [--rate R] [--seconds S] [--sync group|flush] [--group-commit-ms MS] [--port P]\n"
    "  [--pipeline N] [--deliver run|poll] [--live]";

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* When each LSN became durable: (lsn, CLOCK_REALTIME ns) in call order,
 * filled by the log's sync thread. Calls may come out of order; a record's
 * time is that of the first call at or past its LSN. */
struct durable_marks {
    pthread_mutex_t mu;
    size_t n, cap;
    uint64_t *lsn;
    int64_t *t;
};

static void durable_mark_cb(void *arg, uint64_t lsn)
{
    struct durable_marks *d = arg;
    int64_t t = real_ns();
    pthread_mutex_lock(&d->mu);
    if (d->n < d->cap) {
        d->lsn[d->n] = lsn;
        d->t[d->n++] = t;
    }
    pthread_mutex_unlock(&d->mu);
}

/* Time the record `lsn` became durable, or 0. Marks are searched from the
 * hint forward (samples come in LSN order). */
static int64_t durable_time(const struct durable_marks *d, uint64_t lsn, size_t *hint)
{
    size_t i = *hint;
    while (i < d->n && d->lsn[i] < lsn)
        i++;
    *hint = i;
    if (i == d->n)
        return 0;
    int64_t t = d->t[i]; /* a later call with a smaller LSN may have come first: take the min */
    for (size_t j = i + 1; j < d->n && j < i + 4; j++)
        if (d->lsn[j] >= lsn && d->t[j] < t)
            t = d->t[j];
    return t;
}

static int append_one(struct tr_log *log, uint64_t seq, int k, struct tr_buf *b)
{
    struct tr_event ev;
    tr_event_init(&ev);
    ev.kind = TR_KIND_TRADE;
    ev.side = TR_SIDE_SELL;
    ev.fields = TR_F_SEQ | TR_F_PRICE | TR_F_SIZE | TR_F_TS_EXCHANGE | TR_F_TS_RECEIVE | TR_F_ID;
    strcpy(ev.provider, "sim");
    snprintf(ev.instrument, sizeof ev.instrument, "BTC-USD-%d", k);
    ev.seq = seq;
    ev.ts_receive = real_ns();
    ev.ts_exchange = ev.ts_receive - 1000;
    snprintf(ev.id, sizeof ev.id, "%llu", (unsigned long long)seq);
    tr_decimal_parse("43210.55", 8, &ev.price);
    tr_decimal_parse("0.0125", 6, &ev.size);
    b->len = 0;
    tr_event_encode(&ev, b);
    char key[96];
    snprintf(key, sizeof key, "sim/trade/%s", ev.instrument);
    struct tr_log_record r = {.stream = key, .seq = seq, .ts_ns = ev.ts_exchange,
                              .payload = b->data, .payload_len = b->len};
    uint64_t lsn;
    return tr_log_append(log, &r, &lsn, NULL);
}

struct writer {
    struct tr_log *log;
    long rate, seconds;
    int flush;
    uint64_t seq0;
    atomic_int done;
    uint64_t written;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct tr_buf b;
    tr_buf_init(&b);
    long per_ms = w->rate / 1000 > 0 ? w->rate / 1000 : 1;
    uint64_t t0 = bench_now_ns(), seq = w->seq0;
    for (long ms = 0; ms < w->seconds * 1000; ms++) {
        for (long i = 0; i < per_ms; i++, seq++)
            append_one(w->log, seq, (int)(seq % 10), &b);
        if (w->flush)
            tr_log_flush(w->log, NULL);
        uint64_t next = t0 + (uint64_t)(ms + 1) * 1000000, now = bench_now_ns();
        if (next > now)
            nanosleep(&(struct timespec){0, (long)(next - now)}, NULL);
    }
    w->written = seq - w->seq0;
    tr_log_flush(w->log, NULL);
    atomic_store(&w->done, 1);
    tr_buf_free(&b);
    return NULL;
}

/* CPU time (user + system, µs) and context switches (voluntary and not)
 * of the whole process so far: on a shared machine these move less with
 * other people's load than the latency percentiles do. */
static void usage_now(double *cpu_us, double *csw)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *cpu_us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
              (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    *csw = (double)(ru.ru_nvcsw + ru.ru_nivcsw);
}

/* The live phase's subscriber side: one sample per event delivered. */
struct live {
    struct writer *w;
    struct tr_client_sub *s;
    size_t cap, n;
    double *lat;
    uint64_t *seqs;
    int64_t *tcb;
    atomic_size_t got; /* n, for the watchdog */
    atomic_int finished;
};

/* Callback (tr_client_sub_run) or per polled message: records the sample;
 * nonzero once everything the writer wrote has arrived. */
static int live_cb(void *arg, const struct tr_client_msg *m)
{
    struct live *l = arg;
    if (m->type == TR_CLIENT_EVENT && l->n < l->cap) {
        int64_t now = real_ns();
        l->seqs[l->n] = m->seq; /* one record per append: seq = LSN in this log */
        l->tcb[l->n] = now;
        l->lat[l->n++] = (double)(now - m->ev.ts_receive) / 1000.0;
        atomic_store(&l->got, l->n);
    }
    return atomic_load(&l->w->done) && l->n >= l->w->written;
}

/* tr_client_sub_run has no timeout: once the writer is done, stop it when
 * every event has arrived (the last one may come before `done` is set, and
 * then no callback sees both), or after 3 s with events missing (a bug;
 * the counts then show it). */
static void *watchdog_main(void *arg)
{
    struct live *l = arg;
    int after = 0;
    while (!atomic_load(&l->finished)) {
        bench_sleep_ms(1);
        if (!atomic_load(&l->w->done))
            continue;
        if (atomic_load(&l->got) >= l->w->written) {
            tr_client_sub_stop(l->s);
            break;
        }
        if (++after == 3000) {
            fprintf(stderr, "client: %zu of %llu events after 3 s; stopping\n",
                    atomic_load(&l->got), (unsigned long long)l->w->written);
            tr_client_sub_stop(l->s);
            break;
        }
    }
    return NULL;
}

static void rmrf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static double read_all(struct tr_client *c, long n, int no_decode)
{
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .no_decode = no_decode};
    struct tr_client_sub *s;
    struct tr_error err;
    if (tr_client_subscribe(c, &so, &s, &err)) {
        fprintf(stderr, "subscribe: %s\n", err.msg);
        return 0;
    }
    struct tr_client_msg m;
    long got = 0;
    uint64_t t0 = bench_now_ns();
    while (got < n) {
        int rc = tr_client_sub_poll(s, &m, 2000, &err);
        if (rc <= 0) {
            fprintf(stderr, "poll: %d %s\n", rc, err.msg);
            break;
        }
        got += m.type == TR_CLIENT_EVENT;
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    tr_client_sub_free(s);
    return got / secs;
}

int bench_client_main(int argc, char **argv)
{
    long n = bench_arg_long(argc, argv, "--events", 2000000);
    long rate = bench_arg_long(argc, argv, "--rate", 50000);
    long seconds = bench_arg_long(argc, argv, "--seconds", 5);
    long port = bench_arg_long(argc, argv, "--port", 7491);
    const char *sync = bench_arg(argc, argv, "--sync", "group");
    /* 0: leader/follower group commit (docs/storage.md): an fsync as soon as
     * the previous one ends, no window */
    long gcm = bench_arg_long(argc, argv, "--group-commit-ms", 2);
    long pipeline = bench_arg_long(argc, argv, "--pipeline", 0);
    /* run: tr_client_sub_run, the callback the figure ends in;
     * poll: tr_client_sub_poll with a timeout, as before */
    const char *deliver = bench_arg(argc, argv, "--deliver", "run");
    int by_poll = strcmp(deliver, "poll") == 0;
    int live_opt = 0;
    for (int i = 1; i < argc; i++)
        live_opt |= strcmp(argv[i], "--live") == 0;
    char dir[] = "/tmp/tr_bench_client_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    struct tr_log_options lo;
    tr_log_options_init(&lo);
    lo.sync = TR_LOG_SYNC_GROUP;
    lo.group_commit_ms = gcm < 0 ? 2 : (uint32_t)gcm;
    struct durable_marks dm = {.cap = (size_t)(rate * seconds) + (size_t)n + 1024};
    pthread_mutex_init(&dm.mu, NULL);
    dm.lsn = malloc(dm.cap * sizeof *dm.lsn);
    dm.t = malloc(dm.cap * sizeof *dm.t);
    if (!dm.lsn || !dm.t)
        return 1;
    lo.durable_cb = durable_mark_cb;
    lo.durable_arg = &dm;
    struct tr_error err;
    struct tr_log *log;
    if (tr_log_open(&log, dir, &lo, &err)) {
        fprintf(stderr, "log: %s\n", err.msg);
        return 1;
    }
    struct tr_buf b;
    tr_buf_init(&b);
    uint64_t t0 = bench_now_ns();
    for (long i = 1; i <= n; i++)
        append_one(log, (uint64_t)i, (int)(i % 10), &b);
    tr_log_flush(log, NULL);
    double write_s = (double)(bench_now_ns() - t0) / 1e9;
    tr_buf_free(&b);

    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%ld", port);
    const char *urls[] = {url};
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    po.listen = urls;
    po.n_listen = 1;
    po.log = log;
    struct tr_pub *pub;
    if (tr_pub_open(&pub, &po, &err)) {
        fprintf(stderr, "publisher: %s\n", err.msg);
        return 1;
    }
    struct tr_client_options co = {.nodes = urls, .n_nodes = 1};
    struct tr_client *c;
    tr_client_open(&c, &co, &err);
    double eps = read_all(c, n, 0);
    double eps_raw = read_all(c, n, 1);
    fprintf(stderr, "history: %.0f events/s decoded, %.0f raw (%ld events, written in %.2f s)\n",
            eps, eps_raw, n, write_s);

    /* live latency */
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_LATEST,
                                       .pipeline = (unsigned)pipeline, .live = live_opt};
    struct tr_client_sub *s;
    if (tr_client_subscribe(c, &so, &s, &err)) {
        fprintf(stderr, "subscribe: %s\n", err.msg);
        return 1;
    }
    struct writer w = {.log = log, .rate = rate, .seconds = seconds,
                       .flush = strcmp(sync, "flush") == 0, .seq0 = (uint64_t)n + 1};
    struct tr_client_sub_stats st0, st1;
    tr_client_sub_stats(s, &st0);
    double cpu0, csw0, cpu1, csw1;
    struct tr_log_stats ls0, ls1;
    tr_log_stats(log, &ls0);
    usage_now(&cpu0, &csw0);
    pthread_t th;
    pthread_create(&th, NULL, writer_main, &w);
    size_t cap = (size_t)(rate * seconds) + 16;
    double *lat = malloc(cap * sizeof *lat);
    uint64_t *seqs = malloc(cap * sizeof *seqs);
    int64_t *tcb = malloc(cap * sizeof *tcb);
    if (!lat || !seqs || !tcb)
        return 1;
    struct live l = {.w = &w, .s = s, .cap = cap, .lat = lat, .seqs = seqs, .tcb = tcb};
    pthread_t wd;
    pthread_create(&wd, NULL, watchdog_main, &l);
    if (by_poll) {
        struct tr_client_msg m;
        while (!atomic_load(&w.done) || l.n < w.written) {
            int rc = tr_client_sub_poll(s, &m, 1000, &err);
            if (rc == 0 && atomic_load(&w.done))
                break;
            if (rc == 1 && live_cb(&l, &m))
                break;
        }
    } else {
        tr_client_sub_run(s, live_cb, &l, &err);
    }
    atomic_store(&l.finished, 1);
    pthread_join(wd, NULL);
    size_t nlat = l.n;
    pthread_join(th, NULL);
    usage_now(&cpu1, &csw1);
    tr_client_sub_stats(s, &st1);
    tr_log_flush(log, NULL);
    tr_log_stats(log, &ls1);
    /* the log's bytes per event in the latency phase: live readers make
     * every append write its partial block (smaller blocks, LZ4 less
     * effective) until recompression re-cuts the sealed segment */
    double disk_per_event = w.written ? (double)(ls1.disk_bytes + ls1.recompress_saved_bytes -
                                                 ls0.disk_bytes - ls0.recompress_saved_bytes) /
                                            (double)w.written : 0;
    /* per event: the whole process (writer, log, publisher, nng, SDK);
     * per fetch: how many thread switches one reply costs end to end */
    double cpu_per_event = nlat ? (cpu1 - cpu0) / (double)nlat : 0;
    uint64_t nfetch = st1.fetches - st0.fetches;
    double csw_per_fetch = nfetch ? (csw1 - csw0) / (double)nfetch : 0;
    /* the publish path alone: durable -> callback */
    double *d2c = malloc((nlat + 1) * sizeof *d2c);
    size_t npub = 0, hint = 0;
    pthread_mutex_lock(&dm.mu);
    for (size_t i = 0; d2c && i < nlat; i++) {
        int64_t td = durable_time(&dm, seqs[i], &hint);
        if (td)
            d2c[npub++] = (double)(tcb[i] - td) / 1000.0;
    }
    pthread_mutex_unlock(&dm.mu);
    double pub50 = npub ? bench_percentile(d2c, npub, 50) : 0,
           pub99 = npub ? bench_percentile(d2c, npub, 99) : 0;
    double p50 = bench_percentile(lat, nlat, 50), p99 = bench_percentile(lat, nlat, 99),
           p999 = bench_percentile(lat, nlat, 99.9);
    tr_client_sub_free(s);
    tr_client_close(c);
    tr_pub_close(pub);
    tr_log_close(log, NULL);
    rmrf(dir);
    printf("{\"bench\":\"client\",\"events\":%ld,\"events_per_s\":%.0f,"
           "\"events_per_s_nodecode\":%.0f,\"rate\":%ld,\"sync\":\"%s\",\"group_commit_ms\":%ld,"
           "\"latency_samples\":%zu,"
           "\"latency_p50_us\":%.1f,\"latency_p99_us\":%.1f,\"latency_p999_us\":%.1f,"
           "\"durable_to_client_p50_us\":%.1f,\"durable_to_client_p99_us\":%.1f,"
           "\"cpu_us_per_event\":%.2f,\"fetches\":%llu,\"csw_per_fetch\":%.1f,"
           "\"pipeline\":%ld,\"deliver\":\"%s\",\"live\":%s,\"log_bytes_per_event\":%.1f,"
           "\"rss_mb\":%.1f}\n",
           n, eps, eps_raw, rate, sync, gcm, nlat, p50, p99, p999, pub50, pub99, cpu_per_event,
           (unsigned long long)nfetch, csw_per_fetch, pipeline, by_poll ? "poll" : "run",
           live_opt ? "true" : "false", disk_per_event, bench_rss_mb());
    free(lat);
    free(d2c);
    free(seqs);
    free(tcb);
    free(dm.lsn);
    free(dm.t);
    pthread_mutex_destroy(&dm.mu);
    return 0;
}
