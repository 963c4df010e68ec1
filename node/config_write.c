/* Prints the effective configuration (every default filled in) in the
 * file's own format, for `tickraft-node --check-config` and for logs at
 * start. Credentials appear only as their source (key_env = VAR), never as
 * bytes: this file never calls tr_secret_reveal. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tickraft/provider.h"

static int out(struct tr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int out(struct tr_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TR_EINVAL;
    return tr_buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A duration in the largest unit that divides it. */
static const char *dur(char *buf, size_t cap, uint64_t ms)
{
    static const struct { const char *u; uint64_t m; } units[] = {
        {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
    };
    if (ms == 0) {
        snprintf(buf, cap, "0");
        return buf;
    }
    for (size_t i = 0; i < 5; i++)
        if (ms % units[i].m == 0) {
            snprintf(buf, cap, "%" PRIu64 "%s", ms / units[i].m, units[i].u);
            break;
        }
    return buf;
}

static const char *size(char *buf, size_t cap, uint64_t b)
{
    static const struct { const char *u; int shift; } units[] = {
        {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10},
    };
    for (size_t i = 0; i < 4; i++)
        if (b && b % (1ull << units[i].shift) == 0) {
            snprintf(buf, cap, "%" PRIu64 "%s", b >> units[i].shift, units[i].u);
            return buf;
        }
    snprintf(buf, cap, "%" PRIu64, b);
    return buf;
}

/* Quotes a string value when it would not survive the lexer bare. */
static int put_str(struct tr_buf *b, const char *key, const char *v)
{
    int quote = *v == '\0' || *v == ' ' || *v == '"' || strpbrk(v, "#;") != NULL;
    if (!quote)
        return out(b, "%s = %s\n", key, v);
    int rc = out(b, "%s = \"", key);
    for (const char *s = v; rc == 0 && *s; s++)
        rc = *s == '"' || *s == '\\' ? out(b, "\\%c", *s) : out(b, "%c", *s);
    return rc ? rc : out(b, "\"\n");
}

static int put_backoff(struct tr_buf *b, const char *name, const struct tr_backoff_cfg *bo)
{
    char d1[32], d2[32];
    return out(b, "%s_base = %s\n%s_max = %s\n", name, dur(d1, sizeof d1, bo->base_ms), name,
               dur(d2, sizeof d2, bo->max_ms));
}

static int write_feed(const struct tr_feed_cfg *f, struct tr_buf *b)
{
    char d1[32], d2[32];
    int rc = out(b, "\n[feed %s]\nprovider = %s\n", f->name, f->provider_name);
    if (rc == 0 && f->ws_url)
        rc = put_str(b, "ws_url", f->ws_url);
    if (rc == 0 && f->rest_url)
        rc = put_str(b, "rest_url", f->rest_url);
    if (rc == 0 && f->ca_file)
        rc = put_str(b, "ca_file", f->ca_file);
    else if (rc == 0 && (f->ws.tls || f->rest.tls)) /* a comment: the file re-parses anywhere */
        rc = out(b, "# ca_file = %s (default)\n", TR_CFG_CA_DEFAULT);
    if (rc == 0)
        rc = out(b, "instruments = ");
    for (size_t i = 0; rc == 0 && i < f->n_instruments; i++)
        rc = out(b, "%s%s", i ? ", " : "", f->instruments[i]);
    if (rc == 0)
        rc = out(b, "\nchannels = %s%s%s%s%s\n", f->channels & TR_CH_TRADES ? "trades" : "",
                 (f->channels & TR_CH_TRADES) && (f->channels & ~TR_CH_TRADES) ? ", " : "",
                 f->channels & TR_CH_BOOK ? "book" : "",
                 (f->channels & TR_CH_BOOK) && (f->channels & TR_CH_TICKER) ? ", " : "",
                 f->channels & TR_CH_TICKER ? "ticker" : "");
    if (rc == 0 && f->key_source) {
        /* "env:VAR" or "file:PATH": the source, never the key */
        int env = strncmp(f->key_source, "env:", 4) == 0;
        rc = put_str(b, env ? "key_env" : "key_file", f->key_source + (env ? 4 : 5));
    }
    if (rc == 0)
        rc = put_backoff(b, "ws_backoff", &f->ws_backoff);
    if (rc == 0)
        rc = put_backoff(b, "registry_backoff", &f->registry_backoff);
    if (rc == 0)
        rc = put_backoff(b, "snapshot_backoff", &f->snapshot_backoff);
    if (rc == 0)
        rc = put_backoff(b, "rest_backoff", &f->rest_backoff);
    if (rc == 0)
        rc = out(b, "ping_interval = %s\nping_timeout = %s\n",
                 dur(d1, sizeof d1, f->ping_interval_ms), dur(d2, sizeof d2, f->ping_timeout_ms));
    if (rc == 0)
        rc = out(b, "raw_capture = %s\nrotate = %s\n", f->raw_capture ? "on" : "off",
                 f->rotate_ms ? dur(d1, sizeof d1, f->rotate_ms) : "off");
    if (rc == 0)
        rc = out(b, "rotate_overlap = %s\nmax_connections = %u\n",
                 dur(d2, sizeof d2, f->rotate_overlap_ms), f->max_connections);
    if (rc == 0)
        rc = out(b, "snapshot_attempts = %u\nmaintenance_poll = %s\nmaintenance_max = %s\n",
                 f->snapshot_attempts, dur(d1, sizeof d1, f->maintenance_poll_ms),
                 dur(d2, sizeof d2, f->maintenance_max_ms));
    return rc;
}

int tr_config_write(const struct tr_config *cfg, struct tr_buf *b)
{
    char d1[32], d2[32];
    static const char *const sync_names[] = {"none", "every-write", "group"};
    int rc = out(b, "[node]\nid = %u\n", cfg->node_id);
    if (rc == 0 && cfg->data_dir)
        rc = put_str(b, "data_dir", cfg->data_dir);
    if (rc == 0)
        rc = put_backoff(b, "dedup_backoff", &cfg->dedup_backoff);
    if (rc == 0) {
        nsched_format(&cfg->latency_sched, d2, sizeof d2);
        rc = out(b, "latency_sched = %s\n", d2);
    }
    if (rc == 0)
        rc = out(b, "shutdown_timeout = %s\n\n[log]\nlevel = %s\nformat = %s\n",
                 dur(d1, sizeof d1, cfg->shutdown_timeout_ms), tr_nlog_level_name(cfg->log_level),
                 cfg->log_format == TR_NLOG_JSON ? "json" : "logfmt");
    if (rc == 0)
        rc = put_str(b, "file", cfg->log_file ? cfg->log_file : "-");
    if (rc == 0)
        rc = out(b, "rate_burst = %u\nrate_interval = %s\n\n[http]\n", cfg->log_burst,
                 dur(d1, sizeof d1, cfg->log_interval_ms));
    if (rc == 0) {
        int v6 = strchr(cfg->http_host, ':') != NULL;
        rc = cfg->http_enabled ? out(b, "listen = %s%s%s:%u\n", v6 ? "[" : "", cfg->http_host,
                                     v6 ? "]" : "", cfg->http_port)
                               : out(b, "listen = off\n");
    }
    if (rc == 0)
        rc = out(b, "request_timeout = %s\nmax_request_size = %s\nmax_connections = %u\n",
                 dur(d1, sizeof d1, cfg->http_request_timeout_ms),
                 size(d2, sizeof d2, cfg->http_max_request_bytes), cfg->http_max_connections);
    if (rc == 0 && (cfg->pub_tls_cert_key_file || cfg->pub_tls_ca_file))
        rc = out(b, "\n[publish]\n");
    if (rc == 0 && cfg->pub_tls_cert_key_file)
        rc = out(b, "tls_cert_key_file = %s\n", cfg->pub_tls_cert_key_file);
    if (rc == 0 && cfg->pub_tls_ca_file)
        rc = out(b, "tls_ca_file = %s\n", cfg->pub_tls_ca_file);
    if (rc == 0)
        rc = out(b, "\n[storage]\nsync = %s\ngroup_commit_ms = %u\nsync_threads = %u\n",
                 cfg->sync >= 0 && cfg->sync <= 2 ? sync_names[cfg->sync] : "group",
                 cfg->group_commit_ms, cfg->sync_threads ? cfg->sync_threads : 1);
    if (rc == 0)
        rc = out(b, "group_commit_bytes = %s\n", size(d1, sizeof d1, cfg->group_commit_bytes));
    if (rc == 0)
        rc = out(b, "segment_size = %s\n", size(d1, sizeof d1, cfg->segment_bytes));
    if (rc == 0)
        rc = out(b, "retention_size = %s\nretention_age = %s\n",
                 size(d1, sizeof d1, cfg->retention_bytes),
                 dur(d2, sizeof d2, cfg->retention_age_ms));
    for (size_t i = 0; rc == 0 && i < cfg->n_feeds; i++)
        rc = write_feed(&cfg->feeds[i], b);
    return rc;
}
