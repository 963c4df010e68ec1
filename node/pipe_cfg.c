/* The pipeline's view of the node configuration: node/config.h parses and
 * validates the file; this picks what the data path needs, resolves host
 * names once before the loop runs (lws would resolve them blocking on the
 * loop thread, FACTS.md) and applies the pipeline's defaults. */
#include "pipe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "pipe_feed.h"

_Static_assert(TR_CFG_FEED_CONN_MAX + 1 == 2 + PIPE_OVF_PAIR &&
                   2 + 2 * PIPE_OVF_PAIR == PIPE_CONN_SLOTS,
               "max_connections counts the primary pair and each overflow pair as one connection");

static int resolve(const char *host, char *out, size_t cap, struct tr_error *err)
{
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) == 1) {
        snprintf(out, cap, "%s", host);
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc || !res)
        return tr_errorf(err, TR_ENOTFOUND, "resolve %s: %s", host, gai_strerror(rc));
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out, (socklen_t)cap);
    freeaddrinfo(res);
    return 0;
}

/* The CA bundle of a feed with a TLS endpoint: its ca_file (checked by
 * the parser, with its line) or the system's, which is checked here so that
 * a machine without ca-certificates fails at start, not at each handshake. */
static int ca_file_of(const struct pipe_cfg *cfg, const struct tr_feed_cfg *fc,
                      struct pipe_feed_cfg *f, struct tr_error *err)
{
    const char *ca = fc->ca_file ? fc->ca_file : TR_CFG_CA_DEFAULT;
    if (!fc->ca_file && access(ca, R_OK) != 0)
        return tr_errorf(err, TR_ECONFIG,
                         "%s:%d: section [feed %s]: the default CA bundle %s cannot be read "
                         "(%s): install ca-certificates or set ca_file",
                         cfg->path, fc->line, fc->name, ca, strerror(errno));
    if (strlen(ca) >= sizeof f->ca_file)
        return tr_errorf(err, TR_ECONFIG, "%s:%d: section [feed %s]: ca_file path too long",
                         cfg->path, fc->line, fc->name);
    int n = pipe_tls_ca_count(ca);
    if (n <= 0)
        return tr_errorf(err, TR_ECONFIG, "%s:%d: section [feed %s]: ca_file %s %s", cfg->path,
                         fc->line, fc->name, ca,
                         n < 0 ? "cannot be opened" : "holds no PEM certificate");
    snprintf(f->ca_file, sizeof f->ca_file, "%s", ca);
    return 0;
}

static uint32_t secs_ceil(uint32_t ms, uint32_t dflt)
{
    if (!ms)
        return dflt;
    uint32_t s = (ms + 999) / 1000;
    return s ? s : 1;
}

int pipe_cfg_from(struct pipe_cfg *cfg, const struct tr_config *c, struct tr_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", c->path ? c->path : "config");
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", c->data_dir ? c->data_dir : "data");
    cfg->node_id = (uint16_t)c->node_id;
    cfg->sync = c->sync;
    cfg->group_commit_ms = c->group_commit_ms; /* 0 = leader/follower commit */
    cfg->group_commit_bytes = c->group_commit_bytes;
    cfg->sync_threads = c->sync_threads;
    cfg->latency_sched = c->latency_sched;
    cfg->sched_log.s = c->latency_sched; /* .lg: set by the caller that has the logger */
    cfg->segment_bytes = c->segment_bytes;
    cfg->retain_bytes = c->retention_bytes;
    cfg->retain_age_ns = (int64_t)c->retention_age_ms * 1000000;
    cfg->batch_max = 4096;
    cfg->reorder_max = 100000;
    cfg->shutdown_ms = c->shutdown_timeout_ms ? c->shutdown_timeout_ms : 30000;
    cfg->pub_tls_cert_key = c->pub_tls_cert_key_file;
    cfg->pub_tls_ca = c->pub_tls_ca_file;
    if (c->n_feeds > sizeof cfg->feeds / sizeof cfg->feeds[0])
        return tr_errorf(err, TR_ECONFIG, "%s: %zu feeds, at most %zu", cfg->path, c->n_feeds,
                         sizeof cfg->feeds / sizeof cfg->feeds[0]);
    for (size_t i = 0; i < c->n_feeds; i++) {
        const struct tr_feed_cfg *fc = &c->feeds[i];
        struct pipe_feed_cfg *f = &cfg->feeds[cfg->n_feeds++];
        snprintf(f->name, sizeof f->name, "%s", fc->name);
        snprintf(f->provider, sizeof f->provider, "%s", fc->provider_name);
        int rc = resolve(fc->ws.host, f->host, sizeof f->host, err);
        if (rc)
            return tr_error_wrap(err, rc, "%s: feed %s: ws_url", cfg->path, fc->name);
        f->port = fc->ws.port;
        snprintf(f->ws_name, sizeof f->ws_name, "%s", fc->ws.host);
        f->ws_tls = fc->ws.tls;
        snprintf(f->ws_path, sizeof f->ws_path, "%s", fc->ws.path);
        /* REST has its own host and port (Binance: stream.binance.com and
         * api.binance.com); its URL path is the prefix of every request */
        if ((rc = resolve(fc->rest.host, f->rest_host, sizeof f->rest_host, err)))
            return tr_error_wrap(err, rc, "%s: feed %s: rest_url", cfg->path, fc->name);
        f->rest_port = fc->rest.port;
        snprintf(f->rest_name, sizeof f->rest_name, "%s", fc->rest.host);
        f->rest_tls = fc->rest.tls;
        if (strcmp(fc->rest.path, "/") != 0)
            snprintf(f->rest_prefix, sizeof f->rest_prefix, "%s", fc->rest.path);
        if ((f->ws_tls || f->rest_tls) && (rc = ca_file_of(cfg, fc, f, err)))
            return rc;
        if (fc->n_instruments > PIPE_MAX_INST)
            return tr_errorf(err, TR_ECONFIG, "%s: feed %s: more than %d instruments", cfg->path,
                             fc->name, PIPE_MAX_INST);
        for (size_t k = 0; k < fc->n_instruments; k++)
            f->instruments[k] = fc->instruments[k];
        f->n_instruments = fc->n_instruments;
        f->channels = fc->channels;
        f->backoff_base_ms = fc->ws_backoff.base_ms ? fc->ws_backoff.base_ms : 1000;
        f->backoff_max_ms = fc->ws_backoff.max_ms ? fc->ws_backoff.max_ms : 300000;
        f->registry_backoff_base_ms =
            fc->registry_backoff.base_ms ? fc->registry_backoff.base_ms : 1000;
        f->registry_backoff_max_ms =
            fc->registry_backoff.max_ms ? fc->registry_backoff.max_ms : 300000;
        f->registry_refresh_s = 600;
        f->rest_backoff_base_ms = fc->rest_backoff.base_ms ? fc->rest_backoff.base_ms : 1000;
        f->rest_backoff_max_ms = fc->rest_backoff.max_ms ? fc->rest_backoff.max_ms : 60000;
        f->snapshot_backoff_base_ms =
            fc->snapshot_backoff.base_ms ? fc->snapshot_backoff.base_ms : 1000;
        f->snapshot_backoff_max_ms =
            fc->snapshot_backoff.max_ms ? fc->snapshot_backoff.max_ms : 60000;
        f->ping_s = secs_ceil(fc->ping_interval_ms, 1);
        f->hangup_s = secs_ceil(fc->ping_timeout_ms, 3);
        if (f->hangup_s <= f->ping_s)
            f->hangup_s = f->ping_s + 1;
        f->rotate_s = (uint32_t)(fc->rotate_ms / 1000);
        f->max_conns = fc->max_connections ? fc->max_connections : 4;
        f->rotate_overlap_ms = fc->rotate_overlap_ms;
        f->snapshot_attempts = fc->snapshot_attempts;
        f->maint_poll_ms = fc->maintenance_poll_ms ? fc->maintenance_poll_ms : 30000;
        f->maint_max_ms = fc->maintenance_max_ms ? fc->maintenance_max_ms : 6 * 3600000ull;
        /* the simulator's history covers its whole run: collect it all */
        f->backfill_initial = fc->provider == TR_PROV_SIM;
        f->raw_capture = fc->raw_capture;
    }
    return 0;
}
