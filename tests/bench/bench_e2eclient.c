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
 * Readers only see durable records, so the group-commit window
 * (--group-commit-ms; 0 = leader/follower commit) is on this path.
 * All three processes share this 2-core machine. Prints one JSON object
 * last. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "tickraft/client.h"

const char bench_e2eclient_help[] =
    "sim -> node -> SDK subscriber: provider-to-callback p50/p99 and events/s\n"
    "  --seconds S (5) --warmup S (2) --rate R events/s (50000) --instruments N (8)\n"
    "  --group-commit-ms MS (2; 0 = leader/follower) --tick-us US (simulator's default)\n"
    "  --bin DIR (next to this program)";

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    int port = -1;
    if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
        !getsockname(fd, (struct sockaddr *)&a, &l))
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static pid_t spawn(char *const argv[], const char *out)
{
    pid_t p = fork();
    if (p == 0) {
        if (!freopen(out, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    return p;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void stop(pid_t p, int sig)
{
    if (p <= 0)
        return;
    kill(p, sig);
    for (int i = 0; i < 200; i++) {
        if (waitpid(p, NULL, WNOHANG) == p)
            return;
        sleep_ms(50);
    }
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
}

static int64_t now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define MAX_SAMPLES (1u << 22)

int bench_e2eclient_main(int argc, char **argv)
{
    long secs = bench_arg_long(argc, argv, "--seconds", 5);
    long warm = bench_arg_long(argc, argv, "--warmup", 2);
    long rate = bench_arg_long(argc, argv, "--rate", 50000);
    long inst = bench_arg_long(argc, argv, "--instruments", 8);
    long gc = bench_arg_long(argc, argv, "--group-commit-ms", 2);
    long tick = bench_arg_long(argc, argv, "--tick-us", 0);
    if (tick <= 0)
        tick = bench_arg_long(argc, argv, "--tick-ms", 0) * 1000;
    char self[1024], bindir[1024];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    snprintf(bindir, sizeof bindir, "%s", bench_arg(argc, argv, "--bin", self));
    char dir[] = "/tmp/tr-bench-e2eclient.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int sport = free_port(), pport = free_port();
    while (pport == sport)
        pport = free_port();
    char pub[64], conf[1100], sim[1100], node[1100], simlog[1100], nodelog[1100];
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%d", pport);
    snprintf(conf, sizeof conf, "%s/node.conf", dir);
    snprintf(sim, sizeof sim, "%s/tickraft-sim", bindir);
    snprintf(node, sizeof node, "%s/tickraft-node", bindir);
    snprintf(simlog, sizeof simlog, "%s/sim.log", dir);
    snprintf(nodelog, sizeof nodelog, "%s/node.log", dir);
    FILE *f = fopen(conf, "w");
    if (!f) {
        perror(conf);
        return 1;
    }
    fprintf(f, "[node]\nid = 1\ndata_dir = %s/data\n[log]\nlevel = warn\n[http]\nlisten = off\n"
               "[storage]\nsync = group\ngroup_commit_ms = %ld\n"
               "[feed sim]\nprovider = sim\nws_url = ws://127.0.0.1:%d/native\n"
               "rest_url = http://127.0.0.1:%d/native\ninstruments = ",
            dir, gc, sport, sport);
    for (long i = 0; i < inst; i++)
        fprintf(f, "%sSIM-%ld", i ? ", " : "", i);
    fprintf(f, "\nchannels = trades, book\nping_interval = 1s\nping_timeout = 3s\n");
    fclose(f);
    char sp[16], sr[32], si[16], stk[16];
    snprintf(sp, sizeof sp, "%d", sport);
    snprintf(sr, sizeof sr, "%ld", rate);
    snprintf(si, sizeof si, "%ld", inst);
    snprintf(stk, sizeof stk, "%ld", tick);
    char *sargv[] = {sim, "--port", sp, "--seed", "1", "--dialect", "native", "--instruments", si,
                     "--rate", sr, "--history", "30", tick > 0 ? "--tick-us" : NULL, stk, NULL};
    pid_t spid = spawn(sargv, simlog);
    sleep_ms(500);
    char *nargv[] = {node, "--config", conf, "--publish", pub, NULL};
    pid_t npid = spawn(nargv, nodelog);

    const char *nodes[] = {pub};
    struct tr_client_options co = {.nodes = nodes, .n_nodes = 1, .name = "bench-e2eclient"};
    struct tr_client *c = NULL;
    struct tr_client_sub *s = NULL;
    struct tr_error err;
    tr_error_clear(&err);
    int rc = tr_client_open(&c, &co, &err);
    for (int i = 0; !rc && i < 100 && tr_client_connect(c, &err); i++)
        sleep_ms(100);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_LATEST, .wait_ms = 200};
    if (rc || (rc = tr_client_subscribe(c, &so, &s, &err))) {
        fprintf(stderr, "e2eclient: %s (logs in %s)\n", err.msg, dir);
        tr_client_close(c);
        stop(npid, SIGKILL);
        stop(spid, SIGTERM);
        return 1;
    }
    double *lx = malloc(MAX_SAMPLES * sizeof *lx), *lr = malloc(MAX_SAMPLES * sizeof *lr);
    size_t nx = 0, nr = 0;
    uint64_t events = 0;
    int64_t t_warm = now_real() + warm * 1000000000ll, t_end = t_warm + secs * 1000000000ll;
    int64_t now;
    while (lx && lr && (now = now_real()) < t_end) {
        struct tr_client_msg m;
        int r = tr_client_sub_poll(s, &m, 100, &err);
        if (r < 0) {
            fprintf(stderr, "e2eclient: %s\n", err.msg);
            break;
        }
        if (r != 1 || m.type != TR_CLIENT_EVENT || now < t_warm)
            continue;
        now = now_real();
        events++;
        if ((m.ev.fields & TR_F_TS_EXCHANGE) && nx < MAX_SAMPLES)
            lx[nx++] = (double)(now - m.ev.ts_exchange) / 1e3;
        if ((m.ev.fields & TR_F_TS_RECEIVE) && nr < MAX_SAMPLES)
            lr[nr++] = (double)(now - m.ev.ts_receive) / 1e3;
    }
    tr_client_sub_free(s);
    tr_client_close(c);
    stop(npid, SIGTERM);
    stop(spid, SIGTERM);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "e2eclient: could not remove %s\n", dir);
    printf("{\"bench\":\"e2eclient\",\"target_rate\":%ld,\"instruments\":%ld,\"seconds\":%ld,"
           "\"group_commit_ms\":%ld,\"tick_us\":%ld,\"events_per_s\":%.0f,"
           "\"latency_p50_us\":%.0f,\"latency_p99_us\":%.0f,"
           "\"receive_to_client_p50_us\":%.0f,\"receive_to_client_p99_us\":%.0f,"
           "\"samples\":%zu}\n",
           rate, inst, secs, gc, tick, (double)events / (double)secs,
           nx ? bench_percentile(lx, nx, 50) : 0, nx ? bench_percentile(lx, nx, 99) : 0,
           nr ? bench_percentile(lr, nr, 50) : 0, nr ? bench_percentile(lr, nr, 99) : 0, nx);
    free(lx);
    free(lr);
    return 0;
}
