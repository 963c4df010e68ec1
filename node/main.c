/* tickraft-node: one node of the collection cluster (docs/node.md).
 *
 *   tickraft-node --config FILE [--publish URL|off]
 *
 * The publisher (node/pub.h) serves clients from the same log at URL
 * (default tcp://127.0.0.1:7411); admin calls need $TICKRAFT_ADMIN_TOKEN,
 * reads need $TICKRAFT_DATA_TOKEN when it is set.
 * SIGUSR1 rotates every feed's connection make-before-break (as the
 * scheduled `rotate` does).
 * Reads the configuration (node/config.h), opens the durable log, starts
 * the collection pipeline (node/pipe_*.c) and the HTTP endpoint on one
 * libuv loop, and runs until SIGTERM/SIGINT, when it stops in the order of
 * the reference docs (pipe_node.c). Exit codes:
 *   0  stopped cleanly (everything collected is durable)
 *   1  startup failed (log, lws context, HTTP listen, publisher listen)
 *   2  usage or configuration error (the message names file, line, key)
 *   3  stopped on a runtime error (log I/O failure): data up to the error
 *      is durable; restart after fixing the disk
 *   4  a second signal forced an immediate exit (the log recovers at the
 *      next start, as after kill -9) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "config.h"
#include "http.h"
#include "nlog.h"
#include "pipe.h"
#include "pipe_admin.h"
#include "pub.h"
#include "tickraft/protocol.h"

struct app {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint, sigusr1;
    struct pipe_node *node;
    struct tr_http *http;
    struct tr_nlog *lg;
    struct tr_metrics *metrics;
    struct tr_pub *pub;
    int signals;
    int stop_rc;
    int stopped;
};

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
                 "        3 runtime error, 4 forced by a second signal.\n");
}

/* Step 1 of the reference stop order: no new client subscriptions. */
static void close_publisher(struct app *a)
{
    if (a->pub) {
        pipe_admin_closing(pipe_node_admin(a->node)); /* wake workers waiting on the loop */
        tr_pub_close(a->pub);
        a->pub = NULL;
        tr_nlog(a->lg, TR_NLOG_INFO, "node", "publisher closed");
    }
}

static void stopped_cb(void *arg, int rc)
{
    struct app *a = arg;
    close_publisher(a);
    a->stopped = 1;
    a->stop_rc = rc;
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigusr1, NULL);
    if (a->http) {
        tr_http_stop(a->http, NULL, NULL);
        a->http = NULL;
    }
}

static void signal_cb(uv_signal_t *h, int signum)
{
    struct app *a = h->data;
    if (++a->signals > 1) {
        tr_nlog(a->lg, TR_NLOG_WARN, "node", "second signal: exiting now",
                TR_KV_INT("signal", signum));
        _exit(4);
    }
    tr_nlog(a->lg, TR_NLOG_INFO, "node", "signal: graceful stop", TR_KV_INT("signal", signum));
    close_publisher(a);
    pipe_node_stop(a->node, stopped_cb, a);
}

/* SIGUSR1: rotate every feed's connection, make-before-break. */
static void rotate_cb(uv_signal_t *h, int signum)
{
    struct app *a = h->data;
    tr_nlog(a->lg, TR_NLOG_INFO, "node", "signal: rotating connections", TR_KV_INT("signal", signum));
    pipe_node_rotate(a->node);
}

static int status_cb(void *arg, struct tr_buf *out)
{
    struct app *a = arg;
    return pipe_node_status_json(a->node, out);
}

/* Admin calls from tickraft-ctl (publisher threads: reads a snapshot). */
static int admin_cb(void *arg, const char *cmd, const char *const *args, size_t nargs,
                    struct tr_client_table *t, struct tr_error *err)
{
    struct app *a = arg;
    /* commands that change the pipeline go to its loop (pipe_admin.c) */
    int hc = pipe_admin_call(pipe_node_admin(a->node), cmd, args, nargs, t, err);
    if (hc != TR_ENOTFOUND || err->code)
        return hc;
    static struct pipe_snap sn; /* large: not on a worker's stack */
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int rc = 0;
    pthread_mutex_lock(&mu);
    pipe_node_snapshot(a->node, &sn);
    if (!strcmp(cmd, "status")) {
        rc = tr_client_table_kv(t, "pipeline", "%s", sn.stopping ? "stopping" : "running");
        if (!rc)
            rc = tr_client_table_kv(t, "events_per_s", "%.0f", sn.events_per_s);
        if (!rc)
            rc = tr_client_table_kv(t, "written", "%llu", (unsigned long long)sn.written);
        if (!rc)
            rc = tr_client_table_kv(t, "duplicates", "%llu", (unsigned long long)sn.dups);
        if (!rc)
            rc = tr_client_table_kv(t, "gaps", "%llu (filled %llu, unfilled %llu)",
                                    (unsigned long long)sn.gaps,
                                    (unsigned long long)sn.gaps_filled,
                                    (unsigned long long)sn.gaps_unfilled);
        if (!rc)
            rc = tr_client_table_kv(t, "durable_lsn", "%llu", (unsigned long long)sn.durable_lsn);
        if (!rc)
            rc = tr_client_table_kv(t, "provider_to_durable_us", "p50 %llu p99 %llu",
                                    (unsigned long long)sn.lat_p50_us,
                                    (unsigned long long)sn.lat_p99_us);
    } else if (!strcmp(cmd, "feeds")) {
        static const char *const cols[] = {"feed", "provider", "connected", "events",
                                           "reconnects", "malformed", "alerts", "state"};
        rc = tr_client_table_cols(t, 8, cols);
        for (size_t i = 0; !rc && i < sn.n_feeds; i++) {
            const struct pipe_snap_feed *f = &sn.feeds[i];
            char ev[24], rcn[24], mal[24], al[24];
            snprintf(ev, sizeof ev, "%llu", (unsigned long long)f->events);
            snprintf(rcn, sizeof rcn, "%llu", (unsigned long long)f->reconnects);
            snprintf(mal, sizeof mal, "%llu", (unsigned long long)f->malformed);
            snprintf(al, sizeof al, "%llu", (unsigned long long)f->alerts);
            const char *row[] = {f->name, f->provider, f->connected ? "yes" : "no", ev, rcn, mal,
                                 al, f->paused         ? "paused"
                                     : f->rest_halted  ? "rest halted"
                                     : f->maintenance ? "maintenance"
                                                      : "collecting"};
            rc = tr_client_table_row(t, row);
        }
    } else if (!strcmp(cmd, "health")) {
        rc = tr_client_table_kv(t, "pipeline", "%s", sn.stopping ? "stopping" : "ok");
    } else {
        rc = TR_ENOTFOUND;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

/* /livez: answering proves the HTTP loop turns. /readyz: the node's
 * readiness rule (tr_http_readiness: log open, a feed subscribed), read from
 * the pipeline's once-a-second snapshot, so any thread may ask. */
static int probe_cb(void *arg, int probe, struct tr_buf *detail)
{
    struct app *a = arg;
    if (probe == TR_HTTP_LIVEZ)
        return 1;
    if (a->stopped || !a->node)
        return tr_http_readiness(0, NULL, 0, detail);
    static struct pipe_snap sn; /* large: not on the stack */
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct tr_http_feed_state fs[64];
    pthread_mutex_lock(&mu);
    pipe_node_snapshot(a->node, &sn);
    size_t n = sn.n_feeds < 64 ? sn.n_feeds : 64;
    for (size_t i = 0; i < n; i++)
        fs[i] = (struct tr_http_feed_state){.name = sn.feeds[i].name,
                                            .subscribed = sn.feeds[i].connected};
    int ok = !sn.stopping && tr_http_readiness(1, fs, n, detail);
    pthread_mutex_unlock(&mu);
    return ok;
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

    static struct app a;
    struct tr_nlog_options lo;
    tr_nlog_options_init(&lo);
    lo.level = cfg.log_level;
    lo.format = cfg.log_format;
    lo.path = cfg.log_file;
    if (cfg.log_burst)
        lo.burst = cfg.log_burst;
    if (cfg.log_interval_ms)
        lo.interval_ms = cfg.log_interval_ms;
    if (tr_nlog_open(&a.lg, &lo, &err)) {
        fprintf(stderr, "tickraft-node: %s\n", err.msg);
        tr_config_close(&cfg);
        return 1;
    }
    int code = 0;
    uv_loop_init(&a.loop);
    if (pipe_node_open(&a.node, &a.loop, &pcfg, a.lg, &err)) {
        tr_nlog(a.lg, TR_NLOG_ERROR, "node", "startup failed", TR_KV_ERR(&err));
        code = err.code == TR_ECONFIG ? 2 : 1;
        goto out_loop;
    }
    pipe_node_set_stop_cb(a.node, stopped_cb, &a);
    if (tr_metrics_alloc(&a.metrics, &err) == 0)
        pipe_node_set_metrics(a.node, a.metrics);
    if (strcmp(publish, "off") != 0) {
        struct tr_pub_options po;
        tr_pub_options_init(&po);
        const char *urls[1] = {publish};
        po.listen = urls;
        po.n_listen = 1;
        po.log = pipe_node_log_handle(a.node);
        po.admin_token = getenv("TICKRAFT_ADMIN_TOKEN");
        po.data_token = getenv("TICKRAFT_DATA_TOKEN");
        po.admin_cb = admin_cb;
        po.admin_arg = &a;
        char name[32];
        snprintf(name, sizeof name, "tickraft-node-%u", cfg.node_id);
        po.node_name = name;
        if (tr_pub_open(&a.pub, &po, &err)) {
            tr_nlog(a.lg, TR_NLOG_ERROR, "node", "publisher failed", TR_KV_ERR(&err));
            code = 1;
            pipe_node_stop(a.node, stopped_cb, &a);
        } else {
            tr_nlog(a.lg, TR_NLOG_INFO, "node", "publisher listening", TR_KV_STR("url", publish));
        }
    }
    if (cfg.http_enabled) {
        struct tr_http_options ho;
        tr_http_options_init(&ho);
        ho.host = cfg.http_host;
        ho.port = cfg.http_port;
        if (cfg.http_request_timeout_ms)
            ho.request_timeout_ms = cfg.http_request_timeout_ms;
        if (cfg.http_max_request_bytes)
            ho.max_request_bytes = cfg.http_max_request_bytes;
        if (cfg.http_max_connections)
            ho.max_connections = cfg.http_max_connections;
        ho.status_cb = status_cb;
        ho.probe_cb = probe_cb;
        ho.arg = &a;
        ho.metrics = a.metrics;
        if (tr_http_start(&a.http, &a.loop, &ho, &err)) {
            tr_nlog(a.lg, TR_NLOG_ERROR, "node", "http endpoint failed", TR_KV_ERR(&err));
            code = 1;
            pipe_node_stop(a.node, stopped_cb, &a);
        } else {
            tr_nlog(a.lg, TR_NLOG_INFO, "node", "http listening", TR_KV_STR("host", cfg.http_host),
                    TR_KV_INT("port", tr_http_port(a.http)));
        }
    }
    uv_signal_init(&a.loop, &a.sigterm);
    uv_signal_init(&a.loop, &a.sigint);
    uv_signal_init(&a.loop, &a.sigusr1);
    a.sigterm.data = a.sigint.data = a.sigusr1.data = &a;
    uv_signal_start(&a.sigterm, signal_cb, SIGTERM);
    uv_signal_start(&a.sigint, signal_cb, SIGINT);
    uv_signal_start(&a.sigusr1, rotate_cb, SIGUSR1);
    tr_nlog(a.lg, TR_NLOG_INFO, "node", "started", TR_KV_STR("config", path),
            TR_KV_INT("node_id", cfg.node_id), TR_KV_UINT("feeds", cfg.n_feeds));

    uv_run(&a.loop, UV_RUN_DEFAULT);

    int rc = pipe_node_close(a.node, &err);
    uv_run(&a.loop, UV_RUN_DEFAULT); /* handles closed by the second destroy */
    if (rc) {
        tr_nlog(a.lg, TR_NLOG_ERROR, "node", "stopped on error", TR_KV_STR("code", tr_err_name(rc)),
                TR_KV_STR("err", err.msg));
        if (!code)
            code = 3;
    } else {
        tr_nlog(a.lg, TR_NLOG_INFO, "node", "stopped cleanly");
    }
out_loop:
    if (uv_loop_close(&a.loop) == UV_EBUSY)
        tr_nlog(a.lg, TR_NLOG_DEBUG, "node", "loop closed with handles open");
    tr_metrics_free(a.metrics);
    tr_nlog_close(a.lg);
    tr_config_close(&cfg);
    return code;
}
