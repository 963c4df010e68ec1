/* Helpers shared by the tickraft-bench subcommands: monotonic time,
 * percentiles, resident memory. Benchmarks print figures; they never assert
 * timings (machines here are shared and noisy). */
#ifndef TR_BENCHUTIL_H
#define TR_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);
/* Sorts `v` in place and returns the p-th percentile (0..100). */
double bench_percentile(double *v, size_t n, double p);
/* Resident set size of this process in MiB (from /proc/self/status). */
double bench_rss_mb(void);
/* Value of "--name V" in argv, or `def`. */
const char *bench_arg(int argc, char **argv, const char *name, const char *def);
long bench_arg_long(int argc, char **argv, const char *name, long def);

#endif
