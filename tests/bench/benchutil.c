/* Shared benchmark helpers; see benchutil.h. */
#include "benchutil.h"

#include <sched.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

double bench_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    double mb = 0;
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) {
            mb = (double)kb / 1024.0;
            break;
        }
    }
    fclose(f);
    return mb;
}

const char *bench_arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

long bench_arg_long(int argc, char **argv, const char *name, long def)
{
    const char *v = bench_arg(argc, argv, name, NULL);
    return v ? strtol(v, NULL, 10) : def;
}

void bench_bin_dir(int argc, char **argv, char *buf, size_t cap)
{
    char self[1024];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    snprintf(buf, cap, "%s", bench_arg(argc, argv, "--bin", self));
}

int bench_free_port(void)
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

void bench_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

int bench_pin_self(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -1;
}

void bench_frames_add(struct bench_frames *f, const char *s, size_t n)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->v = realloc(f->v, f->cap * sizeof *f->v);
        f->len = realloc(f->len, f->cap * sizeof *f->len);
        if (!f->v || !f->len) {
            fprintf(stderr, "bench: out of memory\n");
            exit(1);
        }
    }
    f->v[f->n] = malloc(n + 1);
    if (!f->v[f->n]) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    memcpy(f->v[f->n], s, n);
    f->v[f->n][n] = 0;
    f->len[f->n] = n;
    f->bytes += n;
    f->n++;
}

void bench_frames_free(struct bench_frames *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i]);
    free(f->v);
    free(f->len);
    memset(f, 0, sizeof *f);
}

int bench_frames_load(struct bench_frames *f, const char *dir, const char *file,
                      const char *needle)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        char *j = line;
        if (*j != '{') {
            char *c = strstr(line, ": {");
            if (!c || line[0] < '0' || line[0] > '9')
                continue;
            j = c + 2;
        }
        if (!needle || strstr(j, needle))
            bench_frames_add(f, j, strlen(j));
    }
    free(line);
    fclose(fp);
    return 0;
}

pid_t bench_spawn(char *const argv[], const char *out)
{
    return bench_spawn_on(argv, out, -1);
}

pid_t bench_spawn_on(char *const argv[], const char *out, int cpu)
{
    pid_t p = fork();
    if (p == 0) {
        if (cpu >= 0 && bench_pin_self(cpu) != 0)
            _exit(126);
        if (!freopen(out, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    return p;
}

void bench_stop(pid_t pid, int sig, long bound_ms)
{
    if (pid <= 0)
        return;
    kill(pid, sig);
    for (long waited = 0; waited < bound_ms; waited += 50) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        bench_sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int bench_simnode_start(const struct bench_simnode_opts *o, pid_t *sim, pid_t *node)
{
    char conf[1100], listen[32] = "off";
    snprintf(conf, sizeof conf, "%s/node.conf", o->dir);
    if (o->http_port > 0)
        snprintf(listen, sizeof listen, "127.0.0.1:%d", o->http_port);
    FILE *f = fopen(conf, "w");
    if (!f) {
        perror(conf);
        return -1;
    }
    fprintf(f, "[node]\nid = 1\ndata_dir = %s/data\n", o->dir);
    if (o->latency_sched)
        fprintf(f, "latency_sched = %s\n", o->latency_sched);
    fprintf(f, "[log]\nlevel = warn\n[http]\n"
               "listen = %s\n[storage]\nsync = group\ngroup_commit_ms = %ld\n",
            listen, o->group_commit_ms);
    if (o->sync_threads > 0)
        fprintf(f, "sync_threads = %ld\n", o->sync_threads);
    fprintf(f, "[feed sim]\nprovider = sim\n");
    if (o->tls)
        fprintf(f, "ws_url = wss://localhost:%d/native\nrest_url = https://127.0.0.1:%d/native\n"
                   "ca_file = %s/ca.pem\ninstruments = ",
                o->sim_port, o->rest_port, o->dir);
    else
        fprintf(f, "ws_url = ws://127.0.0.1:%d/native\nrest_url = http://127.0.0.1:%d/native\n"
                   "instruments = ",
                o->sim_port, o->sim_port);
    for (long i = 0; i < o->instruments; i++)
        fprintf(f, "%sSIM-%ld", i ? ", " : "", i);
    fprintf(f, "\nchannels = trades, book\nping_interval = 1s\nping_timeout = 3s\n");
    fclose(f);
    char sp[16], sr[32], si[16], stk[16], sbp[32], srp[16], scp[16], cert[1100], key[1100];
    snprintf(sp, sizeof sp, "%d", o->sim_port);
    snprintf(sr, sizeof sr, "%ld", o->rate);
    snprintf(si, sizeof si, "%ld", o->instruments);
    snprintf(stk, sizeof stk, "%ld", o->tick_us);
    snprintf(sbp, sizeof sbp, "%ld", o->backpressure);
    char *sargv[] = {(char *)o->sim, "--port", sp, "--seed", "1", "--dialect", "native",
                     "--instruments", si, "--rate", sr, "--history", "30",
                     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                     NULL, NULL, NULL, NULL, NULL};
    int k = 13;
    if (o->tick_us > 0) {
        sargv[k++] = "--tick-us";
        sargv[k++] = stk;
    }
    if (o->backpressure > 0) {
        sargv[k++] = "--backpressure";
        sargv[k++] = sbp;
    }
    if (o->tls) {
        snprintf(srp, sizeof srp, "%d", o->rest_port);
        snprintf(scp, sizeof scp, "%d", o->control_port);
        snprintf(cert, sizeof cert, "%s/sim.pem", o->dir);
        snprintf(key, sizeof key, "%s/sim.key", o->dir);
        char *more[] = {"--tls-cert", cert, "--tls-key", key, "--rest-port", srp,
                        "--control-port", scp};
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
            sargv[k++] = more[i];
    }
    *sim = bench_spawn_on(sargv, o->simlog, o->pin ? 1 : -1);
    bench_sleep_ms(500);
    char *nargv[] = {(char *)o->node, "--config", conf, "--publish", (char *)o->publish, NULL};
    *node = bench_spawn_on(nargv, o->nodelog, o->pin ? 0 : -1);
    return 0;
}

int bench_make_certs(const char *dir)
{
    static const char *const steps[] = {
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout '%1$s/ca.key' -out '%1$s/ca.pem' -days 2 -subj /CN=bench-ca",
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout '%1$s/sim.key' -out '%1$s/sim.csr' -subj /CN=tickraft-sim",
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > '%1$s/sim.ext'",
        "openssl x509 -req -in '%1$s/sim.csr' -CA '%1$s/ca.pem' -CAkey '%1$s/ca.key' "
        "-CAcreateserial -out '%1$s/sim.pem' -days 2 -extfile '%1$s/sim.ext'",
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char cmd[4096], full[4400];
        snprintf(cmd, sizeof cmd, steps[i], dir);
        snprintf(full, sizeof full, "(%s) >>'%s/openssl.log' 2>&1", cmd, dir);
        if (system(full) != 0)
            return -1;
    }
    return 0;
}
