/* The tree's front actors and its shape (node/act.h): the publisher
 * (tr_pub: clients and tickraft-ctl admin calls) and the HTTP endpoint
 * (node/http.h) as actors, the child specs of the root supervisor, and the
 * tree's metrics collect callback. Neither front actor touches the
 * pipeline: they read what the collector publishes to the context each
 * second (snapshot, status JSON) and the log through their own readers. */
#include "act.h"
#include "nsched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "metrics.h"
#include "nlog.h"
#include "pipe_admin.h"
#include "pub.h"

/* ---- publisher ---- */

/* Admin calls from tickraft-ctl (publisher threads, several at once). */
static int admin_cb(void *arg, const char *cmd, const char *const *args, size_t nargs,
                    struct tr_client_table *t, struct tr_error *err)
{
    struct act_ctx *c = arg;
    /* commands that change the pipeline go to the collector's loop */
    struct pipe_snap *sn = malloc(sizeof *sn);
    if (!sn)
        return TR_ENOMEM;
    pthread_rwlock_rdlock(&c->admin_lk);
    int hc = c->admin ? pipe_admin_call(c->admin, cmd, args, nargs, t, err) : TR_ENOTFOUND;
    /* the running collector's own snapshot (a command refreshes it at
     * once); while it restarts, the last one it published */
    int live = c->node != NULL;
    if (live)
        pipe_node_snapshot(c->node, sn);
    pthread_rwlock_unlock(&c->admin_lk);
    if (hc != TR_ENOTFOUND || err->code) {
        free(sn);
        return hc;
    }
    if (!live) {
        pthread_mutex_lock(&c->mu);
        *sn = c->snap;
        pthread_mutex_unlock(&c->mu);
    }
    int rc = 0;
    if (!strcmp(cmd, "status")) {
        rc = tr_client_table_kv(t, "pipeline", "%s", sn->stopping ? "stopping" : "running");
        if (!rc)
            rc = tr_client_table_kv(t, "events_per_s", "%.0f", sn->events_per_s);
        if (!rc)
            rc = tr_client_table_kv(t, "written", "%llu", (unsigned long long)sn->written);
        if (!rc)
            rc = tr_client_table_kv(t, "duplicates", "%llu", (unsigned long long)sn->dups);
        if (!rc)
            rc = tr_client_table_kv(t, "gaps", "%llu (filled %llu, unfilled %llu)",
                                    (unsigned long long)sn->gaps,
                                    (unsigned long long)sn->gaps_filled,
                                    (unsigned long long)sn->gaps_unfilled);
        if (!rc)
            rc = tr_client_table_kv(t, "durable_lsn", "%llu", (unsigned long long)sn->durable_lsn);
        if (!rc)
            rc = tr_client_table_kv(t, "provider_to_durable_us", "p50 %llu p99 %llu",
                                    (unsigned long long)sn->lat_p50_us,
                                    (unsigned long long)sn->lat_p99_us);
    } else if (!strcmp(cmd, "feeds")) {
        static const char *const cols[] = {"feed", "provider", "connected", "events",
                                           "reconnects", "malformed", "alerts", "state"};
        rc = tr_client_table_cols(t, 8, cols);
        for (size_t i = 0; !rc && i < sn->n_feeds; i++) {
            const struct pipe_snap_feed *f = &sn->feeds[i];
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
        rc = tr_client_table_kv(t, "pipeline", "%s", sn->stopping ? "stopping" : "ok");
    } else {
        rc = TR_ENOTFOUND;
    }
    free(sn);
    return rc;
}

struct apub {
    struct act_ctx *ctx;
    struct tr_pub *pub;
};

static int pub_init(struct tr_actor *self, void *arg, void **state)
{
    struct act_ctx *c = arg;
    (void)self;
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    const char *urls[1] = {c->publish};
    po.listen = urls;
    po.n_listen = 1;
    po.log = c->log;
    po.admin_token = getenv("TICKRAFT_ADMIN_TOKEN");
    po.data_token = getenv("TICKRAFT_DATA_TOKEN");
    po.admin_cb = admin_cb;
    po.admin_arg = c;
    po.tls_cert_key_file = c->pcfg->pub_tls_cert_key;
    po.tls_ca_file = c->pcfg->pub_tls_ca;
    if (c->pcfg->latency_sched.policy != NSCHED_OFF) {
        /* the worker holding a subscriber's long-poll reads and sends the
         * records once durable: on the same latency path as the writer */
        po.thread_cb = nsched_log_thread_cb; /* only reads its argument */
        po.thread_arg = (void *)&c->pcfg->sched_log;
    }
    char name[32];
    snprintf(name, sizeof name, "tickraft-node-%u", c->pcfg->node_id);
    po.node_name = name;
    struct tr_pub *p = NULL;
    struct tr_error err;
    tr_error_clear(&err);
    int rc = tr_pub_open(&p, &po, &err);
    if (rc) {
        tr_nlog(c->lg, TR_NLOG_ERROR, "node", "publisher failed", TR_KV_ERR(&err));
        return rc;
    }
    tr_nlog(c->lg, TR_NLOG_INFO, "node", "publisher listening", TR_KV_STR("url", c->publish));
    struct apub *st = malloc(sizeof *st);
    if (!st) {
        tr_pub_close(p);
        return TR_ENOMEM;
    }
    *st = (struct apub){c, p};
    *state = st;
    return 0;
}

static int pub_handle(struct tr_actor *self, void *state, const struct tr_msg *msg)
{
    (void)self;
    (void)state;
    (void)msg;
    return TR_ACTOR_CONTINUE;
}

static void pub_terminate(struct tr_actor *self, void *state, int reason)
{
    struct apub *st = state;
    (void)self;
    tr_pub_close(st->pub); /* step 1 of the stop order: no new subscriptions */
    char why[64];
    tr_nlog(st->ctx->lg, TR_NLOG_INFO, "node", "publisher closed",
            TR_KV_STR("reason", tr_exit_str(reason, why, sizeof why)));
    free(st);
}

const struct tr_actor_def act_pub_def = {"publisher", pub_init, pub_handle, pub_terminate};

/* ---- HTTP endpoint ---- */

struct ah {
    struct act_ctx *ctx;
    struct tr_http *h;
};

static void actor_json_cb(void *arg, const struct tr_actor_stats *s)
{
    struct tr_buf *b = arg;
    char line[256];
    int k = snprintf(line, sizeof line,
                     "%s{\"name\":\"%s\",\"running\":%d,\"restarts\":%u,\"mailbox_depth\":%u,"
                     "\"mailbox_hwm\":%u,\"handled\":%llu,\"dropped\":%llu}",
                     b->data[b->len - 1] == '[' ? "" : ",", s->name, s->running, s->restarts,
                     s->mailbox_depth, s->mailbox_hwm, (unsigned long long)s->handled,
                     (unsigned long long)s->dropped);
    if (k > 0 && (size_t)k < sizeof line)
        tr_buf_append(b, line, (size_t)k);
}

/* /api/status: the collector's last document (<= 1 s old) plus the actors. */
static int status_cb(void *arg, struct tr_buf *out)
{
    struct ah *st = arg;
    struct act_ctx *c = st->ctx;
    pthread_mutex_lock(&c->mu);
    int rc = c->status.len > 2 ? tr_buf_append(out, c->status.data, c->status.len - 1)
                               : tr_buf_append(out, "{", 1);
    pthread_mutex_unlock(&c->mu);
    if (rc)
        return rc;
    const char *sep = out->len > 1 ? "," : "";
    tr_buf_append(out, sep, strlen(sep));
    tr_buf_append(out, "\"actors\":[", 10);
    tr_system_stats_foreach(c->sys, actor_json_cb, out);
    return tr_buf_append(out, "]}", 2);
}

/* /livez: answering proves this loop turns. /readyz: tr_http_readiness
 * (log open, a feed subscribed) from the collector's last snapshot. */
static int probe_cb(void *arg, int probe, struct tr_buf *detail)
{
    struct ah *st = arg;
    struct act_ctx *c = st->ctx;
    if (probe == TR_HTTP_LIVEZ)
        return 1;
    struct pipe_snap *sn = malloc(sizeof *sn);
    if (!sn)
        return 0;
    pthread_mutex_lock(&c->mu);
    *sn = c->snap;
    int have = c->have_snap;
    pthread_mutex_unlock(&c->mu);
    struct tr_http_feed_state fs[64];
    size_t n = sn->n_feeds < 64 ? sn->n_feeds : 64;
    for (size_t i = 0; i < n; i++)
        fs[i] = (struct tr_http_feed_state){.name = sn->feeds[i].name,
                                            .subscribed = sn->feeds[i].connected};
    int ok = have && !sn->stopping && !atomic_load(&c->stopping) &&
             tr_http_readiness(atomic_load(&c->writer_up), fs, n, detail);
    free(sn);
    return ok;
}

static int http_init(struct tr_actor *self, void *arg, void **state)
{
    struct act_ctx *c = arg;
    const struct tr_config *cfg = c->cfg;
    struct ah *st = calloc(1, sizeof *st);
    if (!st)
        return TR_ENOMEM;
    st->ctx = c;
    struct tr_http_options ho;
    tr_http_options_init(&ho);
    ho.host = cfg->http_host;
    ho.port = cfg->http_port;
    if (cfg->http_request_timeout_ms)
        ho.request_timeout_ms = cfg->http_request_timeout_ms;
    if (cfg->http_max_request_bytes)
        ho.max_request_bytes = cfg->http_max_request_bytes;
    if (cfg->http_max_connections)
        ho.max_connections = cfg->http_max_connections;
    ho.status_cb = status_cb;
    ho.probe_cb = probe_cb;
    ho.arg = st;
    ho.metrics = c->metrics;
    struct tr_error err;
    tr_error_clear(&err);
    int rc = tr_http_start(&st->h, tr_actor_loop(self), &ho, &err);
    if (rc) {
        tr_nlog(c->lg, TR_NLOG_ERROR, "node", "http endpoint failed", TR_KV_ERR(&err));
        free(st);
        return rc;
    }
    tr_nlog(c->lg, TR_NLOG_INFO, "node", "http listening", TR_KV_STR("host", cfg->http_host),
            TR_KV_INT("port", tr_http_port(st->h)));
    *state = st;
    return 0;
}

static void http_terminate(struct tr_actor *self, void *state, int reason)
{
    struct ah *st = state;
    (void)self;
    (void)reason;
    tr_http_stop(st->h, free, st); /* freed on a later turn: the runtime runs the loop */
}

const struct tr_actor_def act_http_def = {"http", http_init, pub_handle, http_terminate};

/* ---- the tree ---- */

void act_tree_spec(struct act_ctx *c, struct tr_child_spec kids[4], struct tr_sup_spec *root)
{
    size_t n = 0;
    uint32_t stop_ms = c->pcfg->shutdown_ms ? c->pcfg->shutdown_ms : 30000;
    /* the writer: its restart costs its queued batches (the collector is
     * restarted with it and backfills them) and one HELLO */
    kids[n++] = (struct tr_child_spec){.id = "writer",
                                       .start = {.def = &act_writer_def, .arg = c,
                                                 .opts = {.mailbox_hwm = 64}},
                                       .restart = TR_PERMANENT,
                                       .shutdown = TR_SHUTDOWN_TIMEOUT,
                                       .shutdown_ms = 10000,
                                       .type = TR_WORKER,
                                       .backoff_base_ms = 200,
                                       .backoff_max_ms = 10000};
    /* the collector: REST repairs (<= shutdown_timeout) + close frames (2 s).
     * Its restart backoff is [node] dedup_backoff_*: the deduplicator lives
     * here, and a failure to hand its records to the writer (the reference's
     * "Deduplicator (DB)" retry) crashes it and is retried by this restart */
    const struct tr_backoff_cfg *db = c->cfg ? &c->cfg->dedup_backoff : NULL;
    kids[n++] = (struct tr_child_spec){.id = "collector",
                                       .start = {.def = &act_collector_def, .arg = c},
                                       .restart = TR_PERMANENT,
                                       .shutdown = TR_SHUTDOWN_TIMEOUT,
                                       .shutdown_ms = stop_ms + 3000,
                                       .type = TR_WORKER,
                                       .backoff_base_ms = db ? db->base_ms : 500,
                                       .backoff_max_ms = db ? db->max_ms : 30000,
                                       .heartbeat_ms = ACT_COLLECTOR_HEARTBEAT_MS,
                                       .heartbeat_deadline_ms = ACT_COLLECTOR_HANG_MS};
    if (c->publish)
        kids[n++] = (struct tr_child_spec){.id = "publisher",
                                           .start = {.def = &act_pub_def, .arg = c},
                                           .restart = TR_PERMANENT,
                                           .shutdown = TR_SHUTDOWN_TIMEOUT,
                                           .shutdown_ms = 3000,
                                           .type = TR_WORKER,
                                           .backoff_base_ms = 500,
                                           .backoff_max_ms = 30000};
    if (c->cfg->http_enabled)
        kids[n++] = (struct tr_child_spec){.id = "http",
                                           .start = {.def = &act_http_def, .arg = c},
                                           .restart = TR_PERMANENT,
                                           .shutdown = TR_SHUTDOWN_TIMEOUT,
                                           .shutdown_ms = 2000,
                                           .type = TR_WORKER,
                                           .backoff_base_ms = 500,
                                           .backoff_max_ms = 30000};
    *root = (struct tr_sup_spec){.name = "node",
                                 .strategy = TR_REST_FOR_ONE,
                                 .intensity = 5,
                                 .period_ms = 60000,
                                 .children = kids,
                                 .n_children = n};
}

static void stats_metrics_cb(void *arg, const struct tr_actor_stats *s)
{
    struct tr_metrics *m = arg;
    const char *v[1] = {s->name};
    tr_counter_set(tr_metrics_counter(m, TR_M_ACTOR_RESTARTS, v), s->restarts);
    tr_gauge_set(tr_metrics_gauge(m, TR_M_MAILBOX_DEPTH, v), s->mailbox_depth);
}

void act_metrics_collect(void *arg, struct tr_metrics *m)
{
    struct act_ctx *c = arg;
    /* runs under the system's lock; tr_metrics_* take only the registry's */
    tr_system_stats_foreach(c->sys, stats_metrics_cb, m);
    struct tr_log_stats ls;
    tr_log_stats(c->log, &ls);
    tr_gauge_set(tr_metrics_gauge(m, TR_M_LOG_DURABLE_LSN, NULL), (double)ls.durable_lsn);
    tr_gauge_set(tr_metrics_gauge(m, TR_M_LOG_BYTES, NULL), (double)ls.disk_bytes);
    tr_counter_set(tr_metrics_counter(m, TR_M_LOG_LINES_SUPPRESSED, NULL),
                   tr_nlog_suppressed(c->lg));
}
