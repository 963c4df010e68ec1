/* `tickraft-bench ingest`: simulator -> node with durable group commit.
 *
 * Starts tickraft-sim (native dialect) and tickraft-node as separate
 * processes on loopback, lets the node collect for --seconds after a
 * warm-up, and reads the node's /api/status: events written to the log per
 * second (every one deduplicated and durable: the figure is taken from the
 * log's durable LSN), provider-to-durable latency percentiles over the
 * measured window (two snapshots of the node's histogram, diffed; the node
 * samples every 8th live event when the log reports it durable), and the
 * node's RSS. latency_* starts at the simulator's frame-sent stamp
 * (sent_ns, written just before the frame goes to the socket);
 * event_to_durable_* at the event's own time (when the simulator's
 * schedule made it due, up to one --tick-us earlier: the figure before the
 * stamp existed); receive_to_durable_* when the node parsed the frame (on
 * loopback, a few µs after the send unless the node is behind, which
 * latency_* then shows). --pin puts the node alone on CPU 0 (the
 * simulator and this program on CPU 1), so node_cpu_cores is the node's
 * share of its own core. sim_*: the simulator's events generated and
 * written to the node's socket per second (its /stats) and its CPU per
 * event written.
 * CPU: the node's total and its collector and writer threads (named
 * tr-collector / tr-writer), in cores, over the window.
 * Both processes share this 2-core machine with the benchmark.
 * --tls: the feed is wss:// + https:// (REST on a second port) with a CA the
 * benchmark makes with the openssl command line, to measure what TLS costs.
 * Prints one JSON object last. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

const char bench_ingest_help[] =
    "simulator -> node, durable group commit: events/s, provider->durable p50/p99, node RSS\n"
    "  --seconds S (10) --warmup S (2) --rate R events/s (1000000) --instruments N (8)\n"
    "  --group-commit-ms MS (2) --tick-us US (simulator tick, its default; or --tick-ms MS)\n"
    "  --pin (the node on CPU 0, the simulator and this program on CPU 1)\n"
    "  --sync-threads N (the node's [storage] sync_threads: fsyncs at once; 0 = its default)\n"
    "  --latency-sched off|nice:N|fifo:N|rr:N (the node's [node] latency_sched)\n"
    "  --backpressure MB (the simulator pauses while more is queued for the node:\n"
    "    the node's ceiling instead of an overload; default off)\n"
    "  --tls (wss:// + https:// on a second port, a CA made with openssl: TLS's cost)\n"
    "  --bin DIR (next to this program)";

/* GET `path` into buf; 0 or -1. */
static int http_get_doc(int port, const char *path, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char rq[256];
    snprintf(rq, sizeof rq, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             path);
    if (write(fd, rq, strlen(rq)) < 0) {
        close(fd);
        return -1;
    }
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = 0;
    close(fd);
    return strstr(buf, "\r\n\r\n") ? 0 : -1;
}

/* The node's /api/status. */
static int get_status(int port, char *buf, size_t cap)
{
    return http_get_doc(port, "/api/status", buf, cap);
}

static double num(const char *doc, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(doc, k);
    return p ? strtod(p + strlen(k), NULL) : -1;
}

/* The node's latency histogram `name` from /api/status ("latency_hist":
 * [[bucket,count],...], node/pipe_writer.c) into h[LAT_NB]. The layout is
 * node/pipe.h's pipe_lat: exact below 32 us, then 32 linear sub-buckets
 * per power of two (PIPE_LAT_SUB_BITS 5, PIPE_LAT_NB). */
#define LAT_SUB_BITS 5
#define LAT_SUB (1u << LAT_SUB_BITS)
#define LAT_NB (40u << LAT_SUB_BITS)
static void hist_of(const char *doc, const char *name, double *h)
{
    memset(h, 0, LAT_NB * sizeof *h);
    char k[96];
    snprintf(k, sizeof k, "\"%s\":[", name);
    const char *p = strstr(doc, "\"latency_hist\"");
    p = p ? strstr(p, k) : NULL;
    if (!p)
        return;
    p += strlen(k);
    unsigned b;
    double c;
    int used;
    while (sscanf(p, "[%u,%lf]%n", &b, &c, &used) == 2) {
        if (b < LAT_NB)
            h[b] = c;
        p += used;
        if (*p == ',')
            p++;
    }
}

/* Lower bound in us of bucket b (the node's pipe_lat layout). */
static double lat_value(unsigned b)
{
    if (b < LAT_SUB)
        return b;
    unsigned p = b / LAT_SUB + LAT_SUB_BITS - 1, sub = b % LAT_SUB;
    return (double)(((unsigned long long)LAT_SUB + sub) << (p - LAT_SUB_BITS));
}

/* Percentile q over the window: the difference of two histograms. */
static double window_pct(const double *h0, const double *h1, double q, double *n_out)
{
    double n = 0, acc = 0;
    for (unsigned i = 0; i < LAT_NB; i++)
        n += h1[i] - h0[i];
    if (n_out)
        *n_out = n;
    if (n <= 0)
        return -1;
    double want = q * n;
    for (unsigned i = 0; i < LAT_NB; i++) {
        acc += h1[i] - h0[i];
        if (acc > want)
            return lat_value(i);
    }
    return lat_value(LAT_NB - 1);
}

/* On stderr: the streams of /api/status whose deduplicator dropped
 * anything since the node started, to tell where duplicates come from. */
static void dups_by_stream(const char *doc)
{
    const char *p = strstr(doc, "\"streams\":[");
    int any = 0;
    while (p && (p = strstr(p, "{\"key\":\"")) != NULL) {
        p += 8;
        const char *e = strchr(p, '"'), *d = strstr(p, "\"dups\":");
        if (!e || !d)
            break;
        double n = strtod(d + 7, NULL);
        if (n > 0)
            fprintf(stderr, "%s %.*s %.0f", any++ ? "," : "ingest: dups by stream:", (int)(e - p),
                    p, n);
    }
    if (any)
        fprintf(stderr, "\n");
}

static double rss_of(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    double mb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            mb = strtod(line + 6, NULL) / 1024.0;
    if (f)
        fclose(f);
    return mb;
}

/* CPU seconds (utime + stime) in one /proc stat file whose comm is
 * `comm` (any when NULL); 0 otherwise. */
static double stat_cpu(const char *path, const char *comm)
{
    char line[1024];
    double v = 0;
    FILE *f = fopen(path, "r");
    if (f && fgets(line, sizeof line, f)) {
        char *o = strchr(line, '('), *c = strrchr(line, ')');
        unsigned long ut = 0, st = 0;
        if (o && c && (!comm || ((size_t)(c - o - 1) == strlen(comm) &&
                                 !strncmp(o + 1, comm, strlen(comm)))) &&
            /* after ") ": fields 3..; utime and stime are fields 14 and 15 */
            sscanf(c + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            v = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    if (f)
        fclose(f);
    return v;
}

/* CPU seconds of the process, or of its threads named `comm`. */
static double cpu_of(pid_t pid, const char *comm)
{
    char path[300];
    if (!comm) {
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        return stat_cpu(path, NULL);
    }
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    double total = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, e->d_name);
        total += stat_cpu(path, comm);
    }
    if (d)
        closedir(d);
    return total;
}

int bench_ingest_main(int argc, char **argv)
{
    double secs = (double)bench_arg_long(argc, argv, "--seconds", 10);
    long warm = bench_arg_long(argc, argv, "--warmup", 2);
    long rate = bench_arg_long(argc, argv, "--rate", 1000000);
    long inst = bench_arg_long(argc, argv, "--instruments", 8);
    long gc = bench_arg_long(argc, argv, "--group-commit-ms", 2);
    /* simulator tick in µs; --tick-ms is the older spelling */
    long tick = bench_arg_long(argc, argv, "--tick-us", bench_arg_long(argc, argv, "--tick-ms", 0) * 1000);
    long bp_mb = bench_arg_long(argc, argv, "--backpressure", 0);
    long sync_threads = bench_arg_long(argc, argv, "--sync-threads", 0);
    const char *lsched = bench_arg(argc, argv, "--latency-sched", NULL);
    int pin = 0, tls = 0;
    for (int i = 1; i < argc; i++) {
        pin |= strcmp(argv[i], "--pin") == 0;
        tls |= strcmp(argv[i], "--tls") == 0;
    }
    if (pin && bench_pin_self(1) != 0) {
        perror("ingest: --pin: sched_setaffinity to CPU 1");
        return 1;
    }
    char bindir[1024];
    bench_bin_dir(argc, argv, bindir, sizeof bindir);
    char dir[] = "/tmp/tr-bench-ingest.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int sport = bench_free_port(), hport = bench_free_port(), pport = bench_free_port();
    while (hport == sport)
        hport = bench_free_port();
    while (pport == sport || pport == hport)
        pport = bench_free_port();
    int rport = 0, cport = 0; /* --tls: REST and the simulator's plain control port */
    if (tls) {
        if (bench_make_certs(dir) != 0) {
            fprintf(stderr, "ingest: --tls: openssl failed (see %s/openssl.log)\n", dir);
            return 1;
        }
        while (!rport || rport == sport || rport == hport || rport == pport)
            rport = bench_free_port();
        while (!cport || cport == sport || cport == hport || cport == pport || cport == rport)
            cport = bench_free_port();
    }
    int stats_port = tls ? cport : sport;
    char pub[64], sim[1100], node[1100], simlog[1100], nodelog[1100];
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%d", pport);
    snprintf(sim, sizeof sim, "%s/tickraft-sim", bindir);
    snprintf(node, sizeof node, "%s/tickraft-node", bindir);
    snprintf(simlog, sizeof simlog, "%s/sim.log", dir);
    snprintf(nodelog, sizeof nodelog, "%s/node.log", dir);
    struct bench_simnode_opts sno = {.sim = sim, .node = node, .dir = dir, .simlog = simlog,
                                    .nodelog = nodelog, .sim_port = sport,
                                    .http_port = hport, .publish = pub,
                                    .group_commit_ms = gc, .rate = rate, .instruments = inst,
                                    .tick_us = tick, .pin = pin,
                                    .backpressure = bp_mb << 20,
                                    .sync_threads = sync_threads, .latency_sched = lsched,
                                    .tls = tls, .rest_port = rport, .control_port = cport};
    pid_t spid, npid;
    if (bench_simnode_start(&sno, &spid, &npid))
        return 1;
    static char doc[1 << 20];
    int up = 0;
    for (int i = 0; i < 100 && !up; i++) {
        bench_sleep_ms(100);
        up = get_status(hport, doc, sizeof doc) == 0;
    }
    if (!up) {
        fprintf(stderr, "ingest: node did not come up (logs in %s)\n", dir);
        bench_stop(npid, SIGKILL, 20000);
        bench_stop(spid, SIGTERM, 20000);
        return 1;
    }
    bench_sleep_ms(warm * 1000);
    get_status(hport, doc, sizeof doc);
    uint64_t t0 = bench_now_ns();
    double d0 = num(doc, "durable_lsn"), e0 = num(doc, "events"), dups0 = num(doc, "dups");
    static double lh0[LAT_NB], lh1[LAT_NB], rh0[LAT_NB], rh1[LAT_NB], eh0[LAT_NB], eh1[LAT_NB];
    hist_of(doc, "provider_to_durable", lh0);
    hist_of(doc, "receive_to_durable", rh0);
    hist_of(doc, "event_to_durable", eh0);
    char sst[4096];
    http_get_doc(stats_port, "/stats", sst, sizeof sst);
    double sw0 = num(sst, "written"), sg0 = num(sst, "generated");
    double s0 = cpu_of(spid, NULL);
    /* where receive-to-durable goes (node/pipe.h PIPE_ST_*) */
    static const char *const stn[5] = {"stage_queue", "stage_hop", "stage_append",
                                       "stage_sync", "stage_notify"};
    static double sh0[5][LAT_NB], sh1[5][LAT_NB];
    for (int k = 0; k < 5; k++)
        hist_of(doc, stn[k], sh0[k]);
    double c0 = cpu_of(npid, NULL), cc0 = cpu_of(npid, "tr-collector"),
           cw0 = cpu_of(npid, "tr-writer");
    bench_sleep_ms((long)(secs * 1000));
    get_status(hport, doc, sizeof doc);
    uint64_t t1 = bench_now_ns();
    double d1 = num(doc, "durable_lsn"), e1 = num(doc, "events");
    double s1 = cpu_of(spid, NULL);
    http_get_doc(stats_port, "/stats", sst, sizeof sst);
    double sw1 = num(sst, "written"), sg1 = num(sst, "generated");
    double c1 = cpu_of(npid, NULL), cc1 = cpu_of(npid, "tr-collector"),
           cw1 = cpu_of(npid, "tr-writer");
    /* percentiles over the measured window only (not warm-up and start) */
    hist_of(doc, "provider_to_durable", lh1);
    hist_of(doc, "receive_to_durable", rh1);
    hist_of(doc, "event_to_durable", eh1);
    double ep50 = window_pct(eh0, eh1, 0.5, NULL), ep99 = window_pct(eh0, eh1, 0.99, NULL);
    fprintf(stderr, "ingest: stages p50/p99 us:");
    for (int k = 0; k < 5; k++) {
        hist_of(doc, stn[k], sh1[k]);
        fprintf(stderr, " %s %.0f/%.0f", stn[k] + 6, window_pct(sh0[k], sh1[k], 0.5, NULL),
                window_pct(sh0[k], sh1[k], 0.99, NULL));
    }
    fprintf(stderr, "\n");
    double rp50 = window_pct(rh0, rh1, 0.5, NULL), rp99 = window_pct(rh0, rh1, 0.99, NULL);
    double samples = 0;
    double p50 = window_pct(lh0, lh1, 0.5, &samples), p99 = window_pct(lh0, lh1, 0.99, NULL);
    double ap99 = num(doc, "append_p99"), batches = num(doc, "batches"),
           written = num(doc, "written"), dups = num(doc, "dups"), gaps = num(doc, "gaps");
    dups_by_stream(doc);
    double rss = rss_of(npid);
    bench_stop(npid, SIGTERM, 20000);
    bench_stop(spid, SIGTERM, 20000);
    double el = (double)(t1 - t0) / 1e9;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "ingest: could not remove %s\n", dir);
    printf("{\"bench\":\"ingest\",\"target_rate\":%ld,\"instruments\":%ld,\"seconds\":%.2f,"
           "\"group_commit_ms\":%ld,\"events_per_s\":%.0f,\"received_per_s\":%.0f,"
           "\"latency_p50_us\":%.0f,\"latency_p99_us\":%.0f,\"append_p99_us\":%.0f,"
           "\"receive_to_durable_p50_us\":%.0f,\"receive_to_durable_p99_us\":%.0f,"
           "\"event_to_durable_p50_us\":%.0f,\"event_to_durable_p99_us\":%.0f,"
           "\"latency_samples\":%.0f,"
           "\"records_per_batch\":%.1f,\"dups\":%.0f,\"dups_window\":%.0f,\"gaps\":%.0f,"
           "\"rss_mb\":%.1f,"
           "\"node_cpu_cores\":%.2f,\"collector_cpu_cores\":%.2f,\"writer_cpu_cores\":%.2f,"
           "\"sim_cpu_cores\":%.2f,\"sim_generated_per_s\":%.0f,\"sim_written_per_s\":%.0f,"
           "\"sim_ns_per_event\":%.0f,\"pinned\":%s,\"backpressure_mb\":%ld,"
           "\"sync_threads\":%ld,\"latency_sched\":\"%s\",\"tls\":%s}\n",
           rate, inst, el, gc, (d1 - d0) / el, (e1 - e0) / el, p50, p99, ap99, rp50, rp99, ep50,
           ep99, samples,
           batches > 0 ? written / batches : 0, dups, dups - dups0, gaps, rss, (c1 - c0) / el,
           (cc1 - cc0) / el, (cw1 - cw0) / el, (s1 - s0) / el, (sg1 - sg0) / el, (sw1 - sw0) / el,
           sw1 > sw0 ? (s1 - s0) * 1e9 / (sw1 - sw0) : 0.0, pin ? "true" : "false", bp_mb,
           sync_threads, lsched ? lsched : "off", tls ? "true" : "false");
    return 0;
}
