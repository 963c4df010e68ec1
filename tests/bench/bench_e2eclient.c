/* `tickraft-bench e2eclient`: provider frame -> SDK callback through a
 * running node (issue 6's latency figure, end to end).
 *
 * Starts tickraft-sim (native dialect) and tickraft-node (publisher on tcp
 * loopback, durable group commit) as processes, subscribes in this process
 * with the SDK from LATEST, and after a warm-up measures for --seconds, per
 * event delivered to the callback:
 *   latency_*          callback time - ts_exchange: the simulator stamps an
 *                      event when it generates it, up to one simulator tick
 *                      (--tick-us) before it sends the frame, so this
 *                      includes that wait;
 *   receive_to_client_* callback time - ts_receive: the node stamps when it
 *                      parsed the frame (the path node -> log -> durable ->
 *                      publisher -> SDK).
 *   frame_to_client_*  callback time - the simulator's frame-sent stamp
 *                      (sent_ns): issue 6's figure. The stored event has no
 *                      field for sent_ns, so the node is started with
 *                      $TICKRAFT_FRAME_STAMPS (node/pipe_conn.c: per data
 *                      frame its receive time and sent_ns) and the bench
 *                      joins each event to its frame by ts_receive after
 *                      the run, the way the node joins sent_ns to the
 *                      durable time for `tickraft-bench ingest`.
 * --live subscribes with the live option (records once written to the
 * node's log, before they are durable).
 * Events reach the bench through tr_client_sub_run's callback (--deliver
 * run, the default) or a timed tr_client_sub_poll (--deliver poll).
 * Durable subscribers only see durable records, so the group-commit
 * window (--group-commit-ms; 0 = leader/follower commit) is on their path.
 * All three processes share this 2-core machine. Prints one JSON object
 * last. */
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "node/nsched.h"
#include "tickraft/client.h"

const char bench_e2eclient_help[] =
    "sim -> node -> SDK subscriber: provider-to-callback p50/p99 and events/s\n"
    "  --seconds S (5) --warmup S (2) --rate R events/s (50000) --instruments N (8)\n"
    "  --group-commit-ms MS (2; 0 = leader/follower) --tick-us US (simulator's default)\n"
    "  --pipeline N (FETCHes the SDK keeps outstanding; 0 = its default)\n"
    "  --deliver run|poll (run: tr_client_sub_run's callback, the default)\n"
    "  --live (the SDK's live option: records once written, before durable)\n"
    "  --latency-sched off|nice:N|fifo:N|rr:N (the node's [node] latency_sched, and the\n"
    "    same for this subscriber process)\n"
    "  --bin DIR (next to this program)";

static int64_t now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define MAX_SAMPLES (1u << 22)

/* The subscriber's side: a sample per event delivered in the window. */
struct e2e_run {
    double *lx, *lr;
    size_t nx, nr;
    int64_t (*fr)[2];  /* (ts_receive, callback time) per event, joined after the run */
    size_t nf;
    uint64_t events;
    int64_t t_warm, t_end;
    struct tr_client_sub *s;
    atomic_int finished;
    pid_t npid;
    double node_cpu0; /* the node's CPU seconds at the first sample */
};

static double proc_cpu_s(pid_t pid);

/* Callback (tr_client_sub_run) or per polled message; nonzero at the end
 * of the window. */
static int e2e_cb(void *arg, const struct tr_client_msg *m)
{
    struct e2e_run *e = arg;
    int64_t now = now_real();
    if (m->type != TR_CLIENT_EVENT || now < e->t_warm)
        return now >= e->t_end;
    if (!e->events++)
        e->node_cpu0 = proc_cpu_s(e->npid); /* the node's CPU over the window */
    if ((m->ev.fields & TR_F_TS_EXCHANGE) && e->nx < MAX_SAMPLES)
        e->lx[e->nx++] = (double)(now - m->ev.ts_exchange) / 1e3;
    if ((m->ev.fields & TR_F_TS_RECEIVE) && e->nr < MAX_SAMPLES) {
        e->lr[e->nr++] = (double)(now - m->ev.ts_receive) / 1e3;
        e->fr[e->nf][0] = m->ev.ts_receive;
        e->fr[e->nf++][1] = now;
    }
    return now >= e->t_end;
}

/* run has no timeout: stop it when the window is over and no event came
 * to end it (the node stopped sending). */
static void *e2e_watchdog(void *arg)
{
    struct e2e_run *e = arg;
    while (!atomic_load(&e->finished)) {
        bench_sleep_ms(10);
        if (now_real() > e->t_end + 1000000000ll) {
            tr_client_sub_stop(e->s);
            break;
        }
    }
    return NULL;
}

/* CPU seconds (user + system) process `pid` has used so far; 0 if unknown. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command may hold spaces */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_stamp(const void *a, const void *b)
{
    int64_t x = ((const int64_t *)a)[0], y = ((const int64_t *)b)[0];
    return x < y ? -1 : x > y;
}

/* Joins the callback samples (ts_receive, callback time) with the node's
 * frame stamps (receive time, sent_ns) in `path`: fills out[] with
 * callback - sent_ns in µs and returns how many joined. */
static size_t join_frames(const char *path, int64_t (*fr)[2], size_t nf, double *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t cap = 1 << 16, n = 0;
    int64_t(*st)[2] = malloc(cap * sizeof *st);
    while (st && fread(st[n], sizeof st[n], 1, f) == 1) {
        if (++n == cap) {
            int64_t(*ns)[2] = realloc(st, 2 * cap * sizeof *st);
            if (!ns)
                break;
            st = ns;
            cap *= 2;
        }
    }
    fclose(f);
    size_t got = 0;
    if (st && n) {
        qsort(st, n, sizeof *st, cmp_stamp);
        for (size_t i = 0; i < nf; i++) {
            int64_t key[2] = {fr[i][0], 0};
            const int64_t *hit = bsearch(key, st, n, sizeof *st, cmp_stamp);
            if (hit)
                out[got++] = (double)(fr[i][1] - hit[1]) / 1e3;
        }
    }
    free(st);
    return got;
}

int bench_e2eclient_main(int argc, char **argv)
{
    long secs = bench_arg_long(argc, argv, "--seconds", 5);
    long warm = bench_arg_long(argc, argv, "--warmup", 2);
    long rate = bench_arg_long(argc, argv, "--rate", 50000);
    long inst = bench_arg_long(argc, argv, "--instruments", 8);
    long gc = bench_arg_long(argc, argv, "--group-commit-ms", 2);
    long tick = bench_arg_long(argc, argv, "--tick-us", 0);
    long pipeline = bench_arg_long(argc, argv, "--pipeline", 0);
    /* run: events reach a callback (tr_client_sub_run); poll: a timed poll */
    int by_poll = strcmp(bench_arg(argc, argv, "--deliver", "run"), "poll") == 0;
    int live = 0;
    for (int i = 1; i < argc; i++)
        live |= strcmp(argv[i], "--live") == 0;
    /* the node's [node] latency_sched (collector, writer, sync threads and
     * the publisher's workers), and the same for this subscriber process
     * (its thread and nng's, which start after it is applied) */
    const char *lsched = bench_arg(argc, argv, "--latency-sched", NULL);
    struct nsched ns = {NSCHED_OFF, 0};
    if (lsched && nsched_parse(lsched, &ns)) {
        fprintf(stderr, "e2eclient: bad --latency-sched %s\n", lsched);
        return 2;
    }
    if (tick <= 0)
        tick = bench_arg_long(argc, argv, "--tick-ms", 0) * 1000;
    char bindir[1024];
    bench_bin_dir(argc, argv, bindir, sizeof bindir);
    char dir[] = "/tmp/tr-bench-e2eclient.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int sport = bench_free_port(), pport = bench_free_port();
    while (pport == sport)
        pport = bench_free_port();
    char pub[64], sim[1100], node[1100], simlog[1100], nodelog[1100];
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%d", pport);
    snprintf(sim, sizeof sim, "%s/tickraft-sim", bindir);
    snprintf(node, sizeof node, "%s/tickraft-node", bindir);
    snprintf(simlog, sizeof simlog, "%s/sim.log", dir);
    snprintf(nodelog, sizeof nodelog, "%s/node.log", dir);
    char stamps[1100];
    snprintf(stamps, sizeof stamps, "%s/frames.bin", dir);
    setenv("TICKRAFT_FRAME_STAMPS", stamps, 1); /* the node's frame stamps, for the join */
    struct bench_simnode_opts sno = {.sim = sim, .node = node, .dir = dir, .simlog = simlog,
                                    .nodelog = nodelog, .sim_port = sport,
                                    .http_port = 0, .publish = pub,
                                    .group_commit_ms = gc, .rate = rate, .instruments = inst,
                                    .tick_us = tick, .latency_sched = lsched};
    pid_t spid, npid;
    if (bench_simnode_start(&sno, &spid, &npid))
        return 1;

    /* after the children started (they would inherit it), before nng's
     * threads exist in this process */
    if (ns.policy != NSCHED_OFF && nsched_apply(&ns, NSCHED_PLAIN, "e2eclient", NULL))
        fprintf(stderr, "e2eclient: --latency-sched %s not applied to the subscriber\n", lsched);
    const char *nodes[] = {pub};
    struct tr_client_options co = {.nodes = nodes, .n_nodes = 1, .name = "bench-e2eclient"};
    struct tr_client *c = NULL;
    struct tr_client_sub *s = NULL;
    struct tr_error err;
    tr_error_clear(&err);
    int rc = tr_client_open(&c, &co, &err);
    for (int i = 0; !rc && i < 100 && tr_client_connect(c, &err); i++)
        bench_sleep_ms(100);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_LATEST, .wait_ms = 200,
                                       .pipeline = (unsigned)pipeline, .live = live};
    if (rc || (rc = tr_client_subscribe(c, &so, &s, &err))) {
        fprintf(stderr, "e2eclient: %s (logs in %s)\n", err.msg, dir);
        tr_client_close(c);
        bench_stop(npid, SIGKILL, 10000);
        bench_stop(spid, SIGTERM, 10000);
        return 1;
    }
    struct e2e_run e = {.lx = malloc(MAX_SAMPLES * sizeof *e.lx),
                        .lr = malloc(MAX_SAMPLES * sizeof *e.lr),
                        .fr = malloc(MAX_SAMPLES * sizeof *e.fr), .s = s};
    e.t_warm = now_real() + warm * 1000000000ll;
    e.npid = npid;
    e.t_end = e.t_warm + secs * 1000000000ll;
    if (e.lx && e.lr && e.fr && by_poll) {
        for (;;) {
            struct tr_client_msg m;
            int r = tr_client_sub_poll(s, &m, 100, &err);
            if (r < 0) {
                fprintf(stderr, "e2eclient: %s\n", err.msg);
                break;
            }
            if (r == 1 ? e2e_cb(&e, &m) : now_real() >= e.t_end)
                break;
        }
    } else if (e.lx && e.lr && e.fr) {
        pthread_t wd;
        pthread_create(&wd, NULL, e2e_watchdog, &e);
        int r = tr_client_sub_run(s, e2e_cb, &e, &err);
        if (r && r != TR_ECLOSED)
            fprintf(stderr, "e2eclient: %s\n", err.msg);
        atomic_store(&e.finished, 1);
        pthread_join(wd, NULL);
    }
    double node_cpu = e.node_cpu0 > 0 ? proc_cpu_s(npid) - e.node_cpu0 : 0;
    double *lx = e.lx, *lr = e.lr;
    size_t nx = e.nx, nr = e.nr;
    uint64_t events = e.events;
    tr_client_sub_free(s);
    tr_client_close(c);
    bench_stop(npid, SIGTERM, 10000); /* graceful: the node flushes its frame stamps */
    bench_stop(spid, SIGTERM, 10000);
    /* the node's log size after the run: live subscribers make the writer
     * write each append's partial block at once (smaller blocks) */
    char du[1200];
    snprintf(du, sizeof du, "cat %s/data/*.seg 2>/dev/null | wc -c", dir);
    double log_mb = 0;
    FILE *pf = popen(du, "r");
    if (pf) {
        if (fscanf(pf, "%lf", &log_mb) != 1)
            log_mb = 0;
        pclose(pf);
    }
    log_mb /= 1e6;
    double *lf = malloc((e.nf ? e.nf : 1) * sizeof *lf);
    size_t nfj = lf && e.fr ? join_frames(stamps, e.fr, e.nf, lf) : 0;
    free(e.fr);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "e2eclient: could not remove %s\n", dir);
    printf("{\"bench\":\"e2eclient\",\"target_rate\":%ld,\"instruments\":%ld,\"seconds\":%ld,"
           "\"group_commit_ms\":%ld,\"tick_us\":%ld,\"pipeline\":%ld,\"deliver\":\"%s\",\"latency_sched\":\"%s\","
           "\"live\":%s,\"events_per_s\":%.0f,"
           "\"frame_to_client_p50_us\":%.0f,\"frame_to_client_p99_us\":%.0f,"
           "\"frame_samples\":%zu,\"node_log_mb\":%.1f,\"node_cpu_us_per_event\":%.2f,"
           "\"latency_p50_us\":%.0f,\"latency_p99_us\":%.0f,"
           "\"receive_to_client_p50_us\":%.0f,\"receive_to_client_p99_us\":%.0f,"
           "\"samples\":%zu}\n",
           rate, inst, secs, gc, tick, pipeline, by_poll ? "poll" : "run",
           lsched ? lsched : "off", live ? "true" : "false", (double)events / (double)secs,
           nfj ? bench_percentile(lf, nfj, 50) : 0, nfj ? bench_percentile(lf, nfj, 99) : 0, nfj, log_mb,
           events ? node_cpu * 1e6 / (double)events : 0,
           nx ? bench_percentile(lx, nx, 50) : 0, nx ? bench_percentile(lx, nx, 99) : 0,
           nr ? bench_percentile(lr, nr, 50) : 0, nr ? bench_percentile(lr, nr, 99) : 0, nx);
    free(lx);
    free(lr);
    free(lf);
    return 0;
}
