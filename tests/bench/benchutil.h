/* Helpers shared by the tickraft-bench subcommands: monotonic time,
 * percentiles, resident memory, and the child processes (simulator, node)
 * of the end-to-end benchmarks. Benchmarks print figures; they never assert
 * timings (machines here are shared and noisy). */
#ifndef TR_BENCHUTIL_H
#define TR_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);
/* Sorts `v` in place and returns the p-th percentile (0..100). */
double bench_percentile(double *v, size_t n, double p);
/* Resident set size of this process in MiB (from /proc/self/status). */
double bench_rss_mb(void);
/* Value of "--name V" in argv, or `def`. */
const char *bench_arg(int argc, char **argv, const char *name, const char *def);
long bench_arg_long(int argc, char **argv, const char *name, long def);

/* The directory of the programs: --bin DIR, else this program's own. */
void bench_bin_dir(int argc, char **argv, char *buf, size_t cap);
/* A free loopback TCP port (bound once, then released), or -1. */
int bench_free_port(void);
/* Sleeps `ms` milliseconds, through signals. */
void bench_sleep_ms(long ms);
/* fork + execv(argv[0], argv) with stderr to the file `out` and stdout to
 * /dev/null. Returns the child's pid (the caller stops it with bench_stop)
 * or -1. */
pid_t bench_spawn(char *const argv[], const char *out);
/* The same, with the child bound to CPU `cpu` (sched_setaffinity after the
 * fork, before the exec: every thread it starts inherits it); cpu < 0:
 * anywhere. */
pid_t bench_spawn_on(char *const argv[], const char *out, int cpu);
/* Binds the calling process (its later threads too) to CPU `cpu`. 0 or -1. */
int bench_pin_self(int cpu);
/* Sends `sig` to `pid` and reaps it; SIGKILL after `bound_ms`. pid <= 0:
 * nothing. */
void bench_stop(pid_t pid, int sig, long bound_ms);

/* Provider frames held in memory (each NUL-terminated). */
struct bench_frames {
    char **v;
    size_t *len;
    size_t n, cap, bytes;
};
/* Appends a copy of s[0..n); exits the program when out of memory. */
void bench_frames_add(struct bench_frames *f, const char *s, size_t n);
void bench_frames_free(struct bench_frames *f);
/* Appends the received frames of the recording DIR/FILE: "<time>: <json>"
 * lines (cryptofeed) or one JSON object per line (Kalshi); with `needle`,
 * only those whose JSON contains it. -1 (errno set) if the file cannot be
 * opened, else 0. */
int bench_frames_load(struct bench_frames *f, const char *dir, const char *file,
                      const char *needle);

/* The simulator (native dialect, seed 1, 30 s history) and a node that
 * collects trades and books of its instruments SIM-0..SIM-<n-1> with
 * durable group commit, both on loopback. */
struct bench_simnode_opts {
    const char *sim, *node;  /* program paths */
    const char *dir;         /* work directory: node.conf, data/ */
    const char *simlog, *nodelog; /* their stderr */
    int sim_port;
    int http_port;           /* the node's HTTP endpoint; 0 = off */
    const char *publish;     /* the node's --publish URL */
    long group_commit_ms, rate, instruments;
    long tick_us;            /* simulator tick; <= 0 = its default */
    int pin;                 /* 1: the simulator bound to CPU 1, the node to
                                CPU 0; 0: both anywhere */
    long backpressure;       /* > 0: the simulator pauses generation while
                                a connection has more bytes queued */
    long sync_threads;       /* [storage] sync_threads; <= 0 = the node's default */
    const char *latency_sched; /* [node] latency_sched ("fifo:10"...); NULL = default */
    int tls;                 /* 1: wss://localhost:sim_port + https://127.0.0.1:rest_port
                                with DIR/ca.pem (bench_make_certs); the simulator's
                                /stats then on control_port (plain) */
    int rest_port, control_port;
};
/* Makes DIR/ca.pem and a server certificate DIR/sim.pem + DIR/sim.key for
 * localhost and 127.0.0.1 with the openssl command line (EC P-256).
 * 0 or -1 (openssl missing or failed: its output is in DIR/openssl.log). */
int bench_make_certs(const char *dir);
/* Writes DIR/node.conf and starts the simulator, then (500 ms later) the
 * node. Fills *sim and *node with their pids; the caller stops both with
 * bench_stop. Returns 0, or -1 when the config cannot be written. */
int bench_simnode_start(const struct bench_simnode_opts *o, pid_t *sim, pid_t *node);

#endif
