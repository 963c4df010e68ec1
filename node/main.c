/* tickraft-node: one node of the collection cluster (docs/node.md).
 *
 *   tickraft-node --config FILE [--publish URL|off]
 *
 * The publisher (node/pub.h) serves clients from the same log at URL
 * (default tcp://127.0.0.1:7411); admin calls need $TICKRAFT_ADMIN_TOKEN,
 * reads need $TICKRAFT_DATA_TOKEN when it is set.
 * SIGUSR1 rotates every feed's connection make-before-break (as the
 * scheduled `rotate` does).
 * Reads the configuration (node/config.h), opens the durable log, and runs
 * the node as one supervision tree (node/act.h: writer, collector,
 * publisher, HTTP endpoint, rest_for_one) until SIGTERM/SIGINT, when the
 * tree stops in reverse start order, which is the reference stop order.
 * Exit codes:
 *   0  stopped cleanly (everything collected is durable)
 *   1  startup failed (log, lws context, HTTP listen, publisher listen)
 *   2  usage or configuration error (the message names file, line, key)
 *   3  stopped on a runtime error (log I/O failure): data up to the error
 *      is durable; restart after fixing the disk
 *   4  a second signal forced an immediate exit (the log recovers at the
 *      next start, as after kill -9)
 *   86 the tree gave up: more restarts than its intensity allows
 *      (TR_SUP_EXIT_ESCALATED; systemd Restart=on-failure restarts it) */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "act.h"
#include "config.h"
#include "fault_fs.h"
#include "pipe_feed.h" /* pipe_now_ns */
#include "metrics.h"
#include "nlog.h"
#include "tickraft/protocol.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: tickraft-node --config FILE [--publish URL|off]\n"
                 "  --publish URL   where clients subscribe and query (default "
                 TR_PROTO_DEFAULT_URL ");\n"
                 "                  tokens from $TICKRAFT_ADMIN_TOKEN / $TICKRAFT_DATA_TOKEN\n"
                 "  Collects the configured feeds into the node's durable log.\n"
                 "  SIGTERM/SIGINT stop it gracefully (bounded at 30 s);\n"
                 "  SIGUSR1 rotates the feed connections (make-before-break).\n"
                 "  Exit: 0 clean, 1 startup failure, 2 bad usage/config,\n"
                 "        3 runtime error, 4 forced by a second signal,\n"
                 "        86 the supervision tree gave up (restart intensity).\n");
}

/* Signals are blocked in every thread and taken here with sigwait, so the
 * handling may log and call into the tree. */
static void *signal_thread(void *arg)
{
    struct act_ctx *c = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    int signals = 0;
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig))
            continue;
        if (sig == SIGUSR1) {
            tr_nlog(c->lg, TR_NLOG_INFO, "node", "signal: rotating connections",
                    TR_KV_INT("signal", sig));
            atomic_store(&c->rotate_req, 1);
            continue;
        }
        if (++signals > 1) {
            tr_nlog(c->lg, TR_NLOG_WARN, "node", "second signal: exiting now",
                    TR_KV_INT("signal", sig));
            _exit(4);
        }
        tr_nlog(c->lg, TR_NLOG_INFO, "node", "signal: graceful stop", TR_KV_INT("signal", sig));
        atomic_store(&c->stop_t0_ns, pipe_now_ns());
        atomic_store(&c->stopping, 1);
        struct tr_sup *root = atomic_load(&c->root);
        if (root)
            tr_sup_stop(root);
    }
    return NULL;
}

static uint32_t env_ms(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? (uint32_t)strtoul(v, NULL, 10) : 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *publish = TR_PROTO_DEFAULT_URL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
        } else if (strcmp(argv[i], "--publish") == 0 && i + 1 < argc) {
            publish = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "tickraft-node: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a dead peer must not kill the node */

    static struct tr_config cfg;
    static struct pipe_cfg pcfg;
    struct tr_error err;
    tr_error_clear(&err);
    tr_config_init(&cfg);
    if (tr_config_load(&cfg, path, &err)) {
        fprintf(stderr, "tickraft-node: %s\n", err.msg);
        tr_config_close(&cfg);
        return 2;
    }
    if (pipe_cfg_from(&pcfg, &cfg, &err)) {
        fprintf(stderr, "tickraft-node: %s\n", err.msg);
        tr_config_close(&cfg);
        return 2;
    }

    /* test hook: the log's fsyncs fail with EIO after this many ms */
    static struct nfault_fs fault_fs;
    uint32_t eio_ms = env_ms("TR_NODE_FAULT_LOG_EIO_MS");
    const char *synced = getenv("TR_NODE_FAULT_LOG_SYNCED"); /* power-loss emulation */
    if (eio_ms || (synced && *synced)) {
        nfault_fs_init(&fault_fs, eio_ms);
        if (synced && *synced)
            nfault_fs_powerloss(&fault_fs, synced, env_ms("TR_NODE_FAULT_LOG_SYNC_DELAY_MS"));
        pcfg.log_fs = &fault_fs.ops;
    }

    struct tr_nlog *lg = NULL;
    struct tr_nlog_options lo;
    tr_nlog_options_init(&lo);
    lo.level = cfg.log_level;
    lo.format = cfg.log_format;
    lo.path = cfg.log_file;
    if (cfg.log_burst)
        lo.burst = cfg.log_burst;
    if (cfg.log_interval_ms)
        lo.interval_ms = cfg.log_interval_ms;
    if (tr_nlog_open(&lg, &lo, &err)) {
        fprintf(stderr, "tickraft-node: %s\n", err.msg);
        tr_config_close(&cfg);
        return 1;
    }
    /* every thread started from here on inherits the blocked signals */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    static struct act_ctx ctx;
    ctx.pcfg = &pcfg;
    ctx.cfg = &cfg;
    ctx.lg = lg;
    ctx.publish = strcmp(publish, "off") != 0 ? publish : NULL;
    ctx.fault_collector_ms = env_ms("TR_NODE_FAULT_COLLECTOR_CRASH_MS");
    ctx.fault_writer_ms = env_ms("TR_NODE_FAULT_WRITER_CRASH_MS");
    ctx.fault_repeat = env_ms("TR_NODE_FAULT_REPEAT") != 0;
    ctx.fault_hang_ms = env_ms("TR_NODE_FAULT_COLLECTOR_HANG_MS");
    ctx.fault_dedup_ms = env_ms("TR_NODE_FAULT_DEDUP_CRASH_MS");
    ctx.lact_faults.conn_ms = env_ms("TR_NODE_FAULT_CONN_CRASH_MS");
    ctx.lact_faults.poll_ms = env_ms("TR_NODE_FAULT_POLLER_CRASH_MS");
    ctx.lact_faults.repeat = ctx.fault_repeat;
    const char *slot = getenv("TR_NODE_FAULT_CONN_SLOT"); /* "next", 2..: which socket's actor */
    if (slot)
        ctx.lact_faults.conn_role = strcmp(slot, "next") == 0 ? PL_NEXT : atoi(slot);
    if (getenv("TR_NODE_FAULT_FEED"))
        snprintf(ctx.lact_faults.feed, sizeof ctx.lact_faults.feed, "%s",
                 getenv("TR_NODE_FAULT_FEED"));
    pthread_mutex_init(&ctx.mu, NULL);
    pthread_rwlock_init(&ctx.admin_lk, NULL);
    pthread_mutex_init(&ctx.wake_mu, NULL);
    tr_buf_init(&ctx.status);
    int code = 0;
    struct tr_system *sys = NULL;
    struct tr_sup *sup = NULL;
    pcfg.sched_log.lg = lg;
    if (pipe_log_open(&ctx.log, &pcfg, &err)) {
        tr_nlog(lg, TR_NLOG_ERROR, "node", "startup failed", TR_KV_ERR(&err));
        code = 1;
        goto out;
    }
    if (tr_metrics_alloc(&ctx.metrics, &err) == 0)
        tr_metrics_set_collect_cb(ctx.metrics, act_metrics_collect, &ctx);
    char sysname[32];
    snprintf(sysname, sizeof sysname, "node%u", cfg.node_id);
    if (tr_system_alloc(&(struct tr_system_opts){.name = sysname}, &sys, &err)) {
        tr_nlog(lg, TR_NLOG_ERROR, "node", "startup failed", TR_KV_ERR(&err));
        code = 1;
        goto out;
    }
    ctx.sys = sys;
    pthread_t sigth;
    if (pthread_create(&sigth, NULL, signal_thread, &ctx) == 0)
        pthread_detach(sigth);
    struct tr_child_spec kids[4];
    struct tr_sup_spec root;
    act_tree_spec(&ctx, kids, &root);
    if (tr_sup_start(sys, &root, &sup, &err)) {
        tr_nlog(lg, TR_NLOG_ERROR, "node", "startup failed", TR_KV_ERR(&err));
        code = err.code == TR_ECONFIG ? 2 : 1;
        sup = NULL;
        goto out;
    }
    atomic_store(&ctx.root, sup);
    tr_nlog(lg, TR_NLOG_INFO, "node", "started", TR_KV_STR("config", path),
            TR_KV_INT("node_id", cfg.node_id), TR_KV_UINT("feeds", cfg.n_feeds),
            TR_KV_UINT("actors", root.n_children));
    if (atomic_load(&ctx.stopping)) /* a signal before the root was known */
        tr_sup_stop(sup);
    code = tr_sup_run(sup);
    atomic_store(&ctx.root, NULL);
    if (code)
        tr_nlog(lg, TR_NLOG_ERROR, "node", "supervision tree gave up (restart intensity)",
                TR_KV_INT("exit", code));
out:
    if (sup)
        tr_sup_free(sup);
    if (sys)
        tr_system_free(sys);
    if (ctx.log) {
        int rc = tr_log_close(ctx.log, &err);
        if (rc || atomic_load(&ctx.fatal)) {
            tr_nlog(lg, TR_NLOG_ERROR, "node", "stopped on error",
                    TR_KV_STR("code", tr_err_name(rc ? rc : atomic_load(&ctx.fatal))),
                    TR_KV_STR("err", rc ? err.msg : "log append failed"));
            if (!code || code == TR_SUP_EXIT_ESCALATED)
                code = 3;
        } else if (!code) {
            tr_nlog(lg, TR_NLOG_INFO, "node", "stopped cleanly");
        }
    }
    tr_metrics_free(ctx.metrics);
    tr_buf_free(&ctx.status);
    tr_nlog_close(lg);
    tr_config_close(&cfg);
    return code;
}
