/* The node as one supervision tree of actors (docs/node.md "Supervision
 * tree"), built on the actor runtime (include/tickraft/actor_sup.h):
 *
 *   root (rest_for_one)
 *     writer     act_writer.c     appends batches to the durable log, writes
 *                                  checkpoints once durable, latency samples
 *     collector  act_collector.c  pipe_node: lws connections, REST pollers,
 *                                  deduplicator; sends one message per batch
 *     publisher  act_front.c      tr_pub (clients, tickraft-ctl admin calls)
 *     http       act_front.c      /healthz /readyz /livez /api/status /metrics
 *
 * Started in that order, stopped in reverse: the HTTP endpoint and the
 * publisher first (no new subscriptions), then the collector (waits for
 * REST repairs, flushes its last batch, commits and checkpoints through the
 * writer, closes provider connections), then the writer.
 *
 * struct act_ctx is what the actors share; main owns it and the log, both
 * outlive the tree. Fields marked (mu) are read and written under `mu`. */
#ifndef TR_NODE_ACT_H
#define TR_NODE_ACT_H

#include <pthread.h>
#include <stdatomic.h>

#include "pipe.h"
#include "pipe_lact.h"
#include "tickraft/actor_sup.h"

struct tr_config;
struct tr_metrics;
struct tr_nlog;

/* Writer actor figures, published for the collector's status (mu). */
struct act_wfigs {
    uint64_t appended, batches, append_errors, stale_batches;
    struct pipe_lat lat, append_lat, recv_lat, ev_lat;
    struct pipe_lat stage[PIPE_ST_N];
};

struct act_ctx {
    const struct pipe_cfg *pcfg;
    const struct tr_config *cfg;
    struct tr_nlog *lg;
    struct tr_metrics *metrics;
    struct tr_log *log;          /* opened by main, closed after the tree */
    const char *publish;         /* publisher URL, NULL = off */
    _Atomic(struct tr_sup *) root;
    struct tr_system *sys;
    atomic_int fatal;            /* the log failed (TR_EIO): exit 3 */
    atomic_ullong epoch;         /* writer fencing epoch (HELLO bumps it) */
    atomic_int writer_up;
    /* batch coalescing (act_collector.c r_busy): batch messages the writer
     * has handled, the collector's "wake me when done" flag and its wake-up
     * handle (wake_mu; NULL while no collector runs) */
    atomic_ullong batches_done;
    atomic_int flush_wanted;
    pthread_mutex_t wake_mu;
    struct uv_async_s *wake;     /* (wake_mu) */
    atomic_int rotate_req;       /* SIGUSR1 */
    atomic_int stopping;         /* SIGTERM seen */
    atomic_llong stop_t0_ns;     /* when (pipe_now_ns), for the 30 s bound */
    /* fault injection for tests: crash once after this many ms (0 = off),
     * from $TR_NODE_FAULT_COLLECTOR_CRASH_MS / $TR_NODE_FAULT_WRITER_CRASH_MS */
    uint32_t fault_collector_ms, fault_writer_ms;
    int fault_repeat;            /* $TR_NODE_FAULT_REPEAT=1: crash in every incarnation */
    /* $TR_NODE_FAULT_COLLECTOR_HANG_MS: the collector's loop blocks once,
     * that many ms after it starts, for ACT_FAULT_HANG_S (0 = off) */
    uint32_t fault_hang_ms;
    /* $TR_NODE_FAULT_DEDUP_CRASH_MS: the deduplicator (the collector)
     * reports a broken invariant once, that many ms after it starts */
    uint32_t fault_dedup_ms;
    atomic_int fault_dedup_done;
    atomic_int fault_hang_done;
    atomic_int fault_collector_done, fault_writer_done;
    /* $TR_NODE_FAULT_CONN_CRASH_MS / $TR_NODE_FAULT_POLLER_CRASH_MS: the
     * connection / REST poller loop actor of feed $TR_NODE_FAULT_FEED (the
     * first if unset) fails once, that many ms after it started */
    struct pipe_lact_faults lact_faults;
    /* the running collector's operator commands (pipe_admin.h), NULL while
     * it restarts; held shared by publisher workers during a call */
    pthread_rwlock_t admin_lk;
    struct pipe_admin *admin;    /* (admin_lk) */
    struct pipe_node *node;      /* (admin_lk) for pipe_node_snapshot (any thread) */
    pthread_mutex_t mu;
    struct pipe_snap snap;       /* (mu) collector's last snapshot */
    int have_snap;               /* (mu) */
    struct tr_buf status;        /* (mu) collector's last /api/status JSON */
    struct act_wfigs wf;         /* (mu) */
};

/* Hang detection of the collector (docs/node.md "Hang detection"): the
 * supervisor pings it every ACT_COLLECTOR_HEARTBEAT_MS; no answer within
 * ACT_COLLECTOR_HANG_MS (above the 5 s a send may wait for room in the
 * writer's mailbox) and it is abandoned and restarted. */
#define ACT_COLLECTOR_HEARTBEAT_MS 1000u
#define ACT_COLLECTOR_HANG_MS      10000u
#define ACT_FAULT_HANG_S           16u /* the injected hang: past the bound, then returns */

extern const struct tr_actor_def act_writer_def;    /* arg: struct act_ctx * */
extern const struct tr_actor_def act_collector_def; /* arg: struct act_ctx * */
extern const struct tr_actor_def act_pub_def;       /* arg: struct act_ctx * */
extern const struct tr_actor_def act_http_def;      /* arg: struct act_ctx * */

/* Builds the tree's child specs for `ctx` in start order (at most 4) and
 * the root spec. The specs point into `kids`, which must outlive the
 * supervisor's start (tr_sup_start copies them). */
void act_tree_spec(struct act_ctx *ctx, struct tr_child_spec kids[4],
                   struct tr_sup_spec *root);
/* Metrics collect callback for the tree (actor restarts, mailbox depths,
 * log gauges); registered by main, runs at render on the HTTP thread. */
void act_metrics_collect(void *arg, struct tr_metrics *m);

#endif
