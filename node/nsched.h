/* Opt-in scheduling of the node's latency-critical threads (the log's sync
 * threads, the writer actor, the collector): `[node] latency_sched` in the
 * config (docs/configuration.md). Off by default; when the process is not
 * allowed to (no CAP_SYS_NICE / RLIMIT_RTPRIO), a warning is logged once per
 * thread and the thread runs at its normal priority: never a failure. */
#ifndef TR_NODE_NSCHED_H
#define TR_NODE_NSCHED_H

#include <stddef.h>

struct tr_nlog;

enum { NSCHED_OFF = 0, NSCHED_NICE, NSCHED_FIFO, NSCHED_RR };

struct nsched {
    int policy; /* NSCHED_* */
    int prio;   /* NICE: -20..19; FIFO/RR: 1..99 */
};

/* Parses "off", "nice:N" (-20..19), "fifo:N" or "rr:N" (1..99) into *s.
 * 0, or -1 (s unchanged) for anything else. */
int nsched_parse(const char *v, struct nsched *s);
/* Writes the config form of *s ("off", "fifo:10", ...) into buf. */
void nsched_format(const struct nsched *s, char *buf, size_t cap);
/* Applies *s to the calling thread and logs the outcome (info when applied,
 * warn with the reason when not) under component "sched", naming `thread`.
 * `kind` says what the thread runs. fifo/rr make only NSCHED_PLAIN threads
 * real-time (priority prio): the log's sync threads and the publisher's
 * workers (both through nsched_log_thread_cb), a client's own thread; an
 * NSCHED_LOOP thread (the collector and writer: libuv loops, which can
 * spin on a lower-priority thread, nsched.c) gets nice NSCHED_LOOP_NICE
 * instead. nice:N sets N on all. lg may be NULL. Returns 0, or a negative
 * errno when not applied. */
enum { NSCHED_LOOP = 0, NSCHED_PLAIN = 1 };
#define NSCHED_LOOP_NICE (-10)
int nsched_apply(const struct nsched *s, int kind, const char *thread, struct tr_nlog *lg);

/* For tr_log_options.thread_cb (the log's sync threads) and
 * tr_pub_options.thread_cb (the publisher's workers): plain threads, no
 * libuv loop. arg is a struct nsched_log borrowed for their lifetime. */
struct nsched_log {
    struct nsched s;
    struct tr_nlog *lg;
};
void nsched_log_thread_cb(void *arg, const char *role, unsigned n);

#endif
