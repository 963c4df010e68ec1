/* The node's configuration file: a small INI-like format parsed by hand
 * (docs/configuration.md has the grammar and a complete example).
 *
 *   [node]            id, data_dir, dedup backoff, shutdown timeout
 *   [log]             level, format, file, rate limit
 *   [http]            listen address, timeouts, request size limit
 *   [storage]         sync mode, group commit, segment size, retention
 *   [feed NAME]       one per feed: provider, endpoints, instruments,
 *                     channels, credentials, backoffs, pings, raw capture,
 *                     connection rotation
 *
 * Strict on purpose: an unknown section or key, a repeated key or section,
 * a bad value or a missing required key is an error TR_ECONFIG whose
 * message names the file, the line and the key:
 *   "node.conf:12: key 'rate': unknown key in section [feed cb]"
 *   "node.conf: section [node]: missing required key 'data_dir'"
 * Credentials (key_env / key_file) are read at load time into a struct
 * tr_secret, which logs as "***" and is never written by tr_config_write. */
#ifndef TR_NODE_CONFIG_H
#define TR_NODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "nlog.h"
#include "nsched.h"
#include "tickraft/error.h"
#include "tickraft/event.h"

#define TR_CFG_NAME_MAX 48     /* feed name bytes incl. NUL */
#define TR_CFG_FEED_CONN_MAX 7 /* max_connections bound (the pipeline's slots - 1) */
#define TR_CFG_FEEDS_MAX 64
#define TR_HTTP_DEFAULT_PORT 7480
/* The system's CA bundle (Debian's ca-certificates): the trust store of a
 * feed's wss:// and https:// endpoints when it names no ca_file. lws's own
 * default (LWS_OPENSSL_CLIENT_CERTS, "../share" in Debian's build) is not
 * a usable path, so the node always passes one. */
#define TR_CFG_CA_DEFAULT "/etc/ssl/certs/ca-certificates.crt"

/* Reconnect / retry backoff: delay = min(base * 2^attempt, max) plus 0-25 %
 * jitter (reference error-handling doc). */
struct tr_backoff_cfg {
    uint32_t base_ms;
    uint32_t max_ms;
};

/* A parsed ws:// wss:// http:// https:// URL. */
struct tr_url {
    int tls;        /* wss / https */
    char host[256]; /* no brackets for IPv6 */
    uint16_t port;  /* default 80 / 443 when absent */
    char path[512]; /* "/..." ("/" when absent), query kept */
};

enum tr_provider_kind {
    TR_PROV_COINBASE = 1,
    TR_PROV_BINANCE = 2,
    TR_PROV_KALSHI = 3,
    TR_PROV_SIM = 4,
};

struct tr_feed_cfg {
    char name[TR_CFG_NAME_MAX];     /* from the section header */
    int line;                       /* where the section starts */
    int provider;                   /* enum tr_provider_kind */
    char provider_name[TR_PROVIDER_MAX]; /* "coinbase" ... as tr_event.provider */
    char *ws_url, *rest_url;        /* heap; defaults per provider (sim: required) */
    struct tr_url ws, rest;         /* the same, parsed; each has its own host and port */
    char *ca_file;                  /* heap; PEM CA bundle the TLS endpoints' certificates must
                                       chain to; NULL = TR_CFG_CA_DEFAULT */
    char **instruments;             /* heap array of heap strings */
    size_t n_instruments;
    unsigned channels;              /* TR_CH_* bits from tickraft/provider.h */
    struct tr_secret key;           /* credential (key_env / key_file), may be unset */
    char *key_source;               /* "env:VAR" or "file:PATH" (safe to log) */
    struct tr_backoff_cfg ws_backoff;       /* 1 s .. 5 min */
    struct tr_backoff_cfg registry_backoff; /* 1 s .. 5 min */
    struct tr_backoff_cfg snapshot_backoff; /* 1 s .. 1 min */
    struct tr_backoff_cfg rest_backoff;     /* backfill: 1 s .. 5 min */
    uint32_t ping_interval_ms;      /* default 10 s */
    uint32_t ping_timeout_ms;       /* default 30 s */
    int raw_capture;                /* default off */
    uint64_t rotate_ms;             /* make-before-break rotation period; 0 = never.
                                       default 23 h for binance (closes at 24 h), else 0 */
    uint32_t rotate_overlap_ms;     /* how long old and new overlap; default 5 s */
    uint32_t max_connections;       /* connections per feed incl. overflow ones for
                                       markets a subscription limit shed; default 4 */
    uint32_t snapshot_attempts;     /* failed book snapshot tries before it is skipped
                                       (a gap, asked again later); default 4, 0 = never */
    uint32_t maintenance_poll_ms;   /* status poll cap in a maintenance, and the interval
                                       without an announced time; default 30 s */
    uint64_t maintenance_max_ms;    /* longest WebSocket hold in a maintenance; default 6 h */
};

struct tr_config {
    char *path; /* as given to tr_config_load (heap) */
    /* [node] */
    uint32_t node_id;                /* required, 1..65535 (event origin) */
    char *data_dir;                  /* required */
    struct tr_backoff_cfg dedup_backoff; /* collector restarts: 0.5 s .. 30 s */
    uint32_t shutdown_timeout_ms;    /* default 30 s */
    /* [log] */
    int log_level;                   /* enum tr_nlog_level, default info */
    int log_format;                  /* enum tr_nlog_format, default logfmt */
    char *log_file;                  /* NULL = stderr */
    uint32_t log_burst;              /* default 10 */
    uint32_t log_interval_ms;        /* default 1 s */
    /* [http] */
    int http_enabled;                /* listen = off disables it; default on */
    char http_host[64];              /* default 127.0.0.1 */
    uint16_t http_port;              /* default TR_HTTP_DEFAULT_PORT; 0 = any */
    uint32_t http_request_timeout_ms; /* default 10 s */
    uint32_t http_max_request_bytes; /* default 8 KiB */
    uint32_t http_max_connections;   /* default 64 */
    /* [publish] (the client-facing publisher, docs/protocol.md "TLS") */
    char *pub_tls_cert_key_file;     /* PEM: certificate chain + private key; NULL = no TLS */
    char *pub_tls_ca_file;           /* PEM: CA that client certificates must chain to; NULL = none asked */
    struct nsched latency_sched;     /* [node] priority of the latency-critical threads; off */
    /* [storage] */
    int sync;                        /* enum tr_log_sync values: 0 none, 1 every-write, 2 group */
    uint32_t group_commit_ms;        /* default 2 */
    uint32_t sync_threads;           /* fsyncs at once (tr_log_options.sync_threads), default 1 */
    uint64_t group_commit_bytes;     /* default 8 MiB */
    uint64_t segment_bytes;          /* default 64 MiB */
    uint64_t retention_bytes;        /* 0 = keep */
    uint64_t retention_age_ms;       /* 0 = keep */
    /* [feed NAME]... */
    struct tr_feed_cfg *feeds;       /* heap array */
    size_t n_feeds;
};

/* Fills `cfg` with the defaults (no feeds, no required keys). */
void tr_config_init(struct tr_config *cfg);
/* Frees everything `cfg` owns (secrets wiped). Safe after a failed load. */
void tr_config_close(struct tr_config *cfg);

/* Reads and parses file `path` into `cfg` (which must be freshly
 * tr_config_init'ed). 0, or TR_ECONFIG with "path:line: key 'k': why";
 * TR_EIO / TR_ENOTFOUND when the file cannot be read; TR_ENOMEM. On error
 * `cfg` still needs tr_config_close. */
int tr_config_load(struct tr_config *cfg, const char *path, struct tr_error *err);
/* Parses `len` bytes of `text`; `name` stands for the file in messages
 * and is the base for a relative key_file. Same contract as load. */
int tr_config_parse(struct tr_config *cfg, const char *name, const char *text, size_t len,
                    struct tr_error *err);

/* Appends the effective configuration (defaults filled in) in the file's
 * own format to `out`, credentials shown only by their source. */
int tr_config_write(const struct tr_config *cfg, struct tr_buf *out);

/* Returns the feed called `name` or NULL. */
const struct tr_feed_cfg *tr_config_feed(const struct tr_config *cfg, const char *name);

/* Value parsers, exported for the command line and tests.
 * Durations: "250ms" "10s" "5m" "2h" "7d" (a bare number is an error:
 * units are never guessed). Sizes: "4096" "64KiB" "8MiB" "1GiB" "2TiB"
 * (also KB/MB/GB as powers of 1000). 0 or TR_EINVAL / TR_ERANGE. */
int tr_config_parse_duration(const char *s, uint64_t *ms);
int tr_config_parse_size(const char *s, uint64_t *bytes);
/* "ws://host:port/path" etc. 0 or TR_EINVAL with a reason in `err`. */
int tr_config_parse_url(const char *s, struct tr_url *u, struct tr_error *err);

/* Static provider names; parse returns the kind or 0. */
const char *tr_config_provider_name(int provider);
int tr_config_provider_parse(const char *s);

#endif
