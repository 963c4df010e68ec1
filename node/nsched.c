/* Opt-in real-time or nice priority for the node's latency-critical threads
 * (nsched.h). Why: at 50k events/s on two cores shared with the simulator,
 * a record's path from frame to durable crosses the collector, the writer
 * and a sync thread, and each hand-off can wait behind other runnable
 * threads for a scheduler tick; a modest SCHED_FIFO priority lets these
 * short-running threads preempt batch work (docs/node.md figures). Kernel
 * RT throttling (sched_rt_runtime_us) still bounds what they can take. */
#include "nsched.h"
#include "nlog.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const names[] = {"off", "nice", "fifo", "rr"};

int nsched_parse(const char *v, struct nsched *s)
{
    if (strcmp(v, "off") == 0) {
        *s = (struct nsched){NSCHED_OFF, 0};
        return 0;
    }
    for (int p = NSCHED_NICE; p <= NSCHED_RR; p++) {
        size_t n = strlen(names[p]);
        if (strncmp(v, names[p], n) != 0 || v[n] != ':')
            continue;
        char *end;
        errno = 0;
        long x = strtol(v + n + 1, &end, 10);
        if (errno || end == v + n + 1 || *end)
            return -1;
        if (p == NSCHED_NICE ? (x < -20 || x > 19) : (x < 1 || x > 99))
            return -1;
        *s = (struct nsched){p, (int)x};
        return 0;
    }
    return -1;
}

void nsched_format(const struct nsched *s, char *buf, size_t cap)
{
    if (s->policy <= NSCHED_OFF || s->policy > NSCHED_RR)
        snprintf(buf, cap, "off");
    else
        snprintf(buf, cap, "%s:%d", names[s->policy], s->prio);
}

int nsched_apply(const struct nsched *s, int kind, const char *thread, struct tr_nlog *lg)
{
    int prio = s->prio;
    if (s->policy == NSCHED_OFF)
        return 0;
    int e;
    /* Real time only where the thread never waits for a lower-priority
     * one by spinning: libuv's loop (collector, writer) spins with
     * sched_yield while another thread is inside uv_async_send for it, and
     * a FIFO thread yields only to its own priority, so a normal-priority
     * sender preempted there on the same CPU stalls it until RT throttling
     * (seen: the writer at 94 % CPU in that spin, the node pinned to one
     * CPU never came up). The loop threads get a strong nice instead. */
    int rt = s->policy != NSCHED_NICE && kind == NSCHED_PLAIN;
    if (!rt) {
        prio = s->policy == NSCHED_NICE ? s->prio : NSCHED_LOOP_NICE;
        /* Linux: a nice value is per thread (setpriority on the tid) */
        e = setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), prio) == 0 ? 0 : errno;
    } else {
        struct sched_param sp = {.sched_priority = prio};
        e = pthread_setschedparam(pthread_self(), s->policy == NSCHED_FIFO ? SCHED_FIFO : SCHED_RR,
                                  &sp);
    }
    char v[32];
    nsched_format(s, v, sizeof v);
    if (e) {
        tr_nlog(lg, TR_NLOG_WARN, "sched",
                "latency_sched not applied: the thread runs at normal priority (needs "
                "CAP_SYS_NICE, or RLIMIT_RTPRIO / RLIMIT_NICE)",
                TR_KV_STR("thread", thread), TR_KV_STR("latency_sched", v),
                TR_KV_STR("reason", strerror(e)));
        return -e;
    }
    tr_nlog(lg, TR_NLOG_INFO, "sched", "latency_sched applied", TR_KV_STR("thread", thread),
            TR_KV_STR("latency_sched", v), TR_KV_STR("policy", rt ? "realtime" : "nice"),
            TR_KV_INT(rt ? "priority" : "nice", prio));
    return 0;
}

void nsched_log_thread_cb(void *arg, const char *role, unsigned n)
{
    struct nsched_log *l = arg;
    char name[16];
    snprintf(name, sizeof name, "tr-%s%u", role, n); /* the log names its threads so */
    nsched_apply(&l->s, NSCHED_PLAIN, name, l->lg);
}
