/* Parser of the node's configuration file (format: docs/configuration.md).
 *
 * Line oriented: "[section]" or "[feed NAME]" headers, "key = value" lines,
 * '#' or ';' comments on their own line or after whitespace, values
 * optionally in double quotes (\" and \\ escapes), and a value ending in ','
 * continues on the next line (long instrument lists). Every key is
 * described once in a table (name, type, offset, bounds), so checking
 * unknown, repeated and missing keys is the same code for every section.
 * Strictness is the point: a typo must stop the node at start, not
 * silently run it with a default. */
#include "config.h"
#include "tickraft/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tickraft/provider.h"

#define CONFIG_FILE_MAX (4u << 20) /* bytes; a config is not a data file */
#define KEYS_MAX 48                /* distinct keys in one section */

/* ------------------------------------------------------------ key table */

enum vtype {
    V_U32,      /* plain integer */
    V_DUR32,    /* duration in ms, uint32_t */
    V_DUR64,    /* duration in ms, uint64_t */
    V_SIZE64,   /* bytes, uint64_t */
    V_SIZE32,   /* bytes, uint32_t */
    V_BOOL,     /* int */
    V_PATH,     /* char * (heap) */
    V_LEVEL,    /* int log level */
    V_FORMAT,   /* int log format */
    V_SYNC,     /* int sync mode */
    V_LISTEN,   /* http_enabled/host/port */
    V_PROVIDER, /* provider + provider_name */
    V_WSURL,    /* ws_url + ws */
    V_RESTURL,  /* rest_url + rest */
    V_INSTR,    /* instruments */
    V_CHANNELS, /* channels */
    V_KEYENV,   /* key from an environment variable */
    V_KEYFILE,  /* key from a file */
    V_CAFILE,   /* char * (heap): a readable PEM file */
    V_SCHED,    /* struct nsched (nsched.h) */
};

struct keydef {
    const char *name;
    int type;
    size_t off;    /* into struct tr_config or struct tr_feed_cfg */
    uint64_t min, max;
    int required;
};

#define C(f) offsetof(struct tr_config, f)
#define F(f) offsetof(struct tr_feed_cfg, f)
#define DAY_MS (86400000ull)

static const struct keydef node_keys[] = {
    {"id", V_U32, C(node_id), 1, 65535, 1},
    {"data_dir", V_PATH, C(data_dir), 0, 0, 1},
    {"dedup_backoff_base", V_DUR32, C(dedup_backoff.base_ms), 1, DAY_MS, 0},
    {"dedup_backoff_max", V_DUR32, C(dedup_backoff.max_ms), 1, DAY_MS, 0},
    {"shutdown_timeout", V_DUR32, C(shutdown_timeout_ms), 100, 3600000, 0},
    {"latency_sched", V_SCHED, C(latency_sched), 0, 0, 0},
    {0},
};
static const struct keydef log_keys[] = {
    {"level", V_LEVEL, C(log_level), 0, 0, 0},
    {"format", V_FORMAT, C(log_format), 0, 0, 0},
    {"file", V_PATH, C(log_file), 0, 0, 0},
    {"rate_burst", V_U32, C(log_burst), 0, 1000000, 0},
    {"rate_interval", V_DUR32, C(log_interval_ms), 1, 3600000, 0},
    {0},
};
static const struct keydef http_keys[] = {
    {"listen", V_LISTEN, 0, 0, 0, 0},
    {"request_timeout", V_DUR32, C(http_request_timeout_ms), 100, 600000, 0},
    {"max_request_size", V_SIZE32, C(http_max_request_bytes), 512, 1u << 20, 0},
    {"max_connections", V_U32, C(http_max_connections), 1, 100000, 0},
    {0},
};
static const struct keydef publish_keys[] = {
    {"tls_cert_key_file", V_PATH, C(pub_tls_cert_key_file), 0, 0, 0},
    {"tls_ca_file", V_PATH, C(pub_tls_ca_file), 0, 0, 0},
    {0},
};
static const struct keydef storage_keys[] = {
    {"sync", V_SYNC, C(sync), 0, 0, 0},
    {"group_commit_ms", V_U32, C(group_commit_ms), 0, 10000, 0},
    {"sync_threads", V_U32, C(sync_threads), 1, TR_LOG_SYNC_THREADS_MAX, 0},
    {"group_commit_bytes", V_SIZE64, C(group_commit_bytes), 4096, 1ull << 34, 0},
    {"segment_size", V_SIZE64, C(segment_bytes), 1u << 16, 1ull << 40, 0},
    {"retention_size", V_SIZE64, C(retention_bytes), 0, UINT64_MAX, 0},
    {"retention_age", V_DUR64, C(retention_age_ms), 0, 3650 * DAY_MS, 0},
    {0},
};
static const struct keydef feed_keys[] = {
    {"provider", V_PROVIDER, 0, 0, 0, 1},
    {"ws_url", V_WSURL, 0, 0, 0, 0},
    {"rest_url", V_RESTURL, 0, 0, 0, 0},
    {"ca_file", V_CAFILE, F(ca_file), 0, 0, 0},
    {"instruments", V_INSTR, 0, 0, 0, 1},
    {"channels", V_CHANNELS, 0, 0, 0, 1},
    {"key_env", V_KEYENV, 0, 0, 0, 0},
    {"key_file", V_KEYFILE, 0, 0, 0, 0},
    {"ws_backoff_base", V_DUR32, F(ws_backoff.base_ms), 1, DAY_MS, 0},
    {"ws_backoff_max", V_DUR32, F(ws_backoff.max_ms), 1, DAY_MS, 0},
    {"registry_backoff_base", V_DUR32, F(registry_backoff.base_ms), 1, DAY_MS, 0},
    {"registry_backoff_max", V_DUR32, F(registry_backoff.max_ms), 1, DAY_MS, 0},
    {"snapshot_backoff_base", V_DUR32, F(snapshot_backoff.base_ms), 1, DAY_MS, 0},
    {"snapshot_backoff_max", V_DUR32, F(snapshot_backoff.max_ms), 1, DAY_MS, 0},
    {"rest_backoff_base", V_DUR32, F(rest_backoff.base_ms), 1, DAY_MS, 0},
    {"rest_backoff_max", V_DUR32, F(rest_backoff.max_ms), 1, DAY_MS, 0},
    {"ping_interval", V_DUR32, F(ping_interval_ms), 100, 3600000, 0},
    {"ping_timeout", V_DUR32, F(ping_timeout_ms), 100, 3600000, 0},
    {"raw_capture", V_BOOL, F(raw_capture), 0, 0, 0},
    {"rotate", V_DUR64, F(rotate_ms), 0, 30 * DAY_MS, 0},
    {"rotate_overlap", V_DUR32, F(rotate_overlap_ms), 0, 3600000, 0},
    {"max_connections", V_U32, F(max_connections), 1, TR_CFG_FEED_CONN_MAX, 0},
    {"snapshot_attempts", V_U32, F(snapshot_attempts), 0, 1000, 0},
    {"maintenance_poll", V_DUR32, F(maintenance_poll_ms), 100, 3600000, 0},
    {"maintenance_max", V_DUR64, F(maintenance_max_ms), 1000, 30 * DAY_MS, 0},
    {0},
};

struct section_def {
    const char *name;
    const struct keydef *keys;
};
static const struct section_def sections[] = {
    {"node", node_keys},       {"log", log_keys},   {"http", http_keys},
    {"storage", storage_keys}, {"feed", feed_keys}, {"publish", publish_keys}, {0},
};

/* ----------------------------------------------------------- parse state */

struct pstate {
    struct tr_config *cfg;
    const char *name; /* file name for messages */
    struct tr_error *err;
    const struct section_def *sec; /* NULL before the first header */
    char sec_label[TR_CFG_NAME_MAX + 8]; /* "node", "feed cb" */
    int sec_line;
    struct tr_feed_cfg *feed;          /* current feed section */
    const char *seen[KEYS_MAX];        /* keys given in this section (table names) */
    size_t n_seen;
    unsigned sections_seen;            /* bit per non-feed section */
};

static int key_error(struct pstate *p, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int key_error(struct pstate *p, int line, const char *key, const char *fmt, ...)
{
    char why[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return tr_errorf(p->err, TR_ECONFIG, "%s:%d: key '%s': %s", p->name, line, key, why);
}

static int line_error(struct pstate *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int line_error(struct pstate *p, int line, const char *fmt, ...)
{
    char why[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return tr_errorf(p->err, TR_ECONFIG, "%s:%d: %s", p->name, line, why);
}

/* --------------------------------------------------------- value parsers */

static int parse_u64(const char *s, uint64_t *out, const char **end)
{
    if (*s < '0' || *s > '9')
        return TR_EINVAL;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return TR_ERANGE;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    *end = s;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"};
    static const char *const no[] = {"off", "false", "no", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return TR_EINVAL;
}

/* ------------------------------------------------------ typed assignment */

static void *field(struct pstate *p, const struct keydef *k)
{
    char *base = p->feed ? (char *)p->feed : (char *)p->cfg;
    return base + k->off;
}

static int set_str(struct pstate *p, int line, const char *key, char **dst, const char *v)
{
    char *s = strdup(v);
    if (!s)
        return key_error(p, line, key, "out of memory");
    free(*dst);
    *dst = s;
    return 0;
}

static int set_number(struct pstate *p, int line, const struct keydef *k, const char *v)
{
    uint64_t x;
    int rc;
    const char *e;
    const char *what;
    switch (k->type) {
    case V_U32:
        rc = parse_u64(v, &x, &e);
        if (rc == 0 && *e)
            rc = TR_EINVAL;
        what = "an integer";
        break;
    case V_DUR32:
    case V_DUR64:
        rc = strcmp(v, "off") == 0 && k->min == 0 ? (x = 0, 0) : tr_config_parse_duration(v, &x);
        what = "a duration with a unit (250ms, 10s, 5m, 2h, 7d)";
        break;
    default:
        rc = tr_config_parse_size(v, &x);
        what = "a size (4096, 64KiB, 8MiB, 1GiB)";
        break;
    }
    if (rc == TR_EINVAL)
        return key_error(p, line, k->name, "'%s' is not %s", v, what);
    if (rc || x < k->min || x > k->max)
        return key_error(p, line, k->name, "%s is out of range [%llu, %llu]%s", v,
                         (unsigned long long)k->min, (unsigned long long)k->max,
                         k->type == V_DUR32 || k->type == V_DUR64 ? " ms"
                         : k->type == V_U32                      ? ""
                                                                 : " bytes");
    void *f = field(p, k);
    if (k->type == V_DUR64 || k->type == V_SIZE64)
        *(uint64_t *)f = x;
    else
        *(uint32_t *)f = (uint32_t)x;
    return 0;
}

static int set_listen(struct pstate *p, int line, const char *v)
{
    struct tr_config *c = p->cfg;
    if (strcmp(v, "off") == 0) {
        c->http_enabled = 0;
        return 0;
    }
    const char *colon = strrchr(v, ':');
    if (!colon)
        return key_error(p, line, "listen", "expected ADDRESS:PORT or off, got '%s'", v);
    const char *h = v;
    size_t hl = (size_t)(colon - v);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    char host[64];
    if (hl == 0 || hl >= sizeof host)
        return key_error(p, line, "listen", "missing or too long address in '%s'", v);
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    unsigned char buf[16];
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
        return key_error(p, line, "listen",
                         "'%s' is not an IP address (names are not resolved)", host);
    uint64_t port;
    const char *e;
    if (parse_u64(colon + 1, &port, &e) != 0 || *e || port > 65535)
        return key_error(p, line, "listen", "bad port in '%s'", v);
    c->http_enabled = 1;
    snprintf(c->http_host, sizeof c->http_host, "%s", host);
    c->http_port = (uint16_t)port;
    return 0;
}

/* Splits a comma-separated list into trimmed non-empty items; calls `cb`
 * on each. */
static int each_item(const char *v, int (*cb)(void *arg, const char *item, size_t n), void *arg)
{
    while (*v) {
        const char *e = strchr(v, ',');
        size_t n = e ? (size_t)(e - v) : strlen(v);
        const char *s = v;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        int rc = cb(arg, s, n);
        if (rc)
            return rc;
        if (!e)
            break;
        v = e + 1;
    }
    return 0;
}

struct item_ctx {
    struct pstate *p;
    int line;
    const char *key;
};

static int add_instrument(void *arg, const char *s, size_t n)
{
    struct item_ctx *x = arg;
    struct tr_feed_cfg *f = x->p->feed;
    if (n == 0)
        return key_error(x->p, x->line, x->key, "empty item in list");
    if (n >= TR_INSTRUMENT_MAX)
        return key_error(x->p, x->line, x->key, "instrument '%.*s' longer than %d bytes", (int)n,
                         s, TR_INSTRUMENT_MAX - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == '"' || s[i] == '/' || s[i] == 0x7f)
            return key_error(x->p, x->line, x->key, "bad character in instrument '%.*s'",
                             (int)n, s);
    for (size_t i = 0; i < f->n_instruments; i++)
        if (strlen(f->instruments[i]) == n && memcmp(f->instruments[i], s, n) == 0)
            return key_error(x->p, x->line, x->key, "instrument '%.*s' listed twice", (int)n, s);
    char **grown = realloc(f->instruments, (f->n_instruments + 1) * sizeof *grown);
    if (!grown)
        return key_error(x->p, x->line, x->key, "out of memory");
    f->instruments = grown;
    if (!(grown[f->n_instruments] = strndup(s, n)))
        return key_error(x->p, x->line, x->key, "out of memory");
    f->n_instruments++;
    return 0;
}

static int add_channel(void *arg, const char *s, size_t n)
{
    struct item_ctx *x = arg;
    static const struct { const char *name; unsigned bit; } chans[] = {
        {"trades", TR_CH_TRADES}, {"trade", TR_CH_TRADES}, {"book", TR_CH_BOOK},
        {"ticker", TR_CH_TICKER},
    };
    for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++)
        if (strlen(chans[i].name) == n && memcmp(chans[i].name, s, n) == 0) {
            x->p->feed->channels |= chans[i].bit;
            return 0;
        }
    return key_error(x->p, x->line, x->key, "unknown channel '%.*s' (trades, book, ticker)",
                     (int)n, s);
}

static int read_key_file(struct pstate *p, int line, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return key_error(p, line, "key_file", "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    char buf[8192];
    ssize_t n = -1;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = key_error(p, line, "key_file", "%s is not a regular file", path);
    else if (st.st_mode & 0007)
        rc = key_error(p, line, "key_file", "%s is readable by others (chmod 600 it)", path);
    else if ((n = read(fd, buf, sizeof buf)) < 0)
        rc = key_error(p, line, "key_file", "cannot read %s: %s", path, strerror(errno));
    else if ((size_t)n == sizeof buf)
        rc = key_error(p, line, "key_file", "%s is larger than %zu bytes", path, sizeof buf - 1);
    close(fd);
    if (rc == 0) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        if (n == 0)
            rc = key_error(p, line, "key_file", "%s is empty", path);
        else if (tr_secret_set(&p->feed->key, buf, (size_t)n) != 0)
            rc = key_error(p, line, "key_file", "out of memory");
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

static int set_key_source(struct pstate *p, int line, const struct keydef *k, const char *v)
{
    struct tr_feed_cfg *f = p->feed;
    if (f->key_source)
        return key_error(p, line, k->name, "only one of key_env and key_file may be given");
    if (k->type == V_KEYENV) {
        const char *val = getenv(v);
        if (!val || !*val)
            return key_error(p, line, k->name, "environment variable %s is not set", v);
        if (tr_secret_set(&f->key, val, strlen(val)) != 0)
            return key_error(p, line, k->name, "out of memory");
    } else {
        int rc = read_key_file(p, line, v);
        if (rc)
            return rc;
    }
    size_t n = strlen(v) + 6;
    if (!(f->key_source = malloc(n)))
        return key_error(p, line, k->name, "out of memory");
    snprintf(f->key_source, n, "%s:%s", k->type == V_KEYENV ? "env" : "file", v);
    return 0;
}

/* A CA bundle must be there when the node starts, not at the first TLS
 * handshake: an unreadable one would otherwise surface as every
 * connection of the feed failing verification. Its content is checked by
 * OpenSSL when the node loads it (docs/configuration.md). */
static int set_ca_file(struct pstate *p, int line, const struct keydef *k, const char *v)
{
    int fd = open(v, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return key_error(p, line, k->name, "cannot open %s: %s", v, strerror(errno));
    struct stat st;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
    close(fd);
    if (!ok)
        return key_error(p, line, k->name, "%s is not a non-empty regular file", v);
    return set_str(p, line, k->name, (char **)field(p, k), v);
}

static int set_url(struct pstate *p, int line, const struct keydef *k, const char *v)
{
    struct tr_feed_cfg *f = p->feed;
    struct tr_error uerr;
    tr_error_clear(&uerr);
    struct tr_url *u = k->type == V_WSURL ? &f->ws : &f->rest;
    if (tr_config_parse_url(v, u, &uerr) != 0)
        return key_error(p, line, k->name, "bad URL '%s': %s", v, uerr.msg);
    int ws = strncmp(v, "ws", 2) == 0;
    if (ws != (k->type == V_WSURL))
        return key_error(p, line, k->name, "'%s' needs a %s URL", v,
                         k->type == V_WSURL ? "ws:// or wss://" : "http:// or https://");
    return set_str(p, line, k->name, k->type == V_WSURL ? &f->ws_url : &f->rest_url, v);
}

static int assign(struct pstate *p, int line, const struct keydef *k, const char *v)
{
    int x;
    struct item_ctx ic = {p, line, k->name};
    switch (k->type) {
    case V_U32:
    case V_DUR32:
    case V_DUR64:
    case V_SIZE32:
    case V_SIZE64:
        return set_number(p, line, k, v);
    case V_BOOL:
        if (parse_bool(v, &x))
            return key_error(p, line, k->name, "'%s' is not on/off/true/false/yes/no", v);
        *(int *)field(p, k) = x;
        return 0;
    case V_PATH:
        return set_str(p, line, k->name, (char **)field(p, k), v);
    case V_LEVEL:
        if ((x = tr_nlog_level_parse(v)) < 0)
            return key_error(p, line, k->name, "'%s' is not debug, info, warn, error or off", v);
        *(int *)field(p, k) = x;
        return 0;
    case V_FORMAT:
        if ((x = tr_nlog_format_parse(v)) < 0)
            return key_error(p, line, k->name, "'%s' is not logfmt or json", v);
        *(int *)field(p, k) = x;
        return 0;
    case V_SCHED:
        if (nsched_parse(v, (struct nsched *)field(p, k)) != 0)
            return key_error(p, line, k->name, "'%s' is not off, nice:N (-20..19), fifo:N or "
                             "rr:N (1..99)", v);
        return 0;
    case V_SYNC:
        if (strcmp(v, "every-write") == 0)
            x = 1;
        else if (strcmp(v, "group") == 0)
            x = 2;
        else if (strcmp(v, "none") == 0)
            x = 0;
        else
            return key_error(p, line, k->name, "'%s' is not every-write, group or none", v);
        *(int *)field(p, k) = x;
        return 0;
    case V_LISTEN:
        return set_listen(p, line, v);
    case V_PROVIDER:
        if (!(x = tr_config_provider_parse(v)))
            return key_error(p, line, k->name, "unknown provider '%s' (coinbase, binance, "
                                               "kalshi, sim)", v);
        p->feed->provider = x;
        snprintf(p->feed->provider_name, sizeof p->feed->provider_name, "%s", v);
        return 0;
    case V_WSURL:
    case V_RESTURL:
        return set_url(p, line, k, v);
    case V_INSTR:
        return each_item(v, add_instrument, &ic);
    case V_CHANNELS:
        return each_item(v, add_channel, &ic);
    case V_KEYENV:
    case V_KEYFILE:
        return set_key_source(p, line, k, v);
    case V_CAFILE:
        return set_ca_file(p, line, k, v);
    }
    return key_error(p, line, k->name, "internal: no parser");
}

/* -------------------------------------------------------- sections */

static void feed_defaults(struct tr_feed_cfg *f)
{
    memset(f, 0, sizeof *f);
    tr_secret_init(&f->key);
    f->ws_backoff = (struct tr_backoff_cfg){1000, 300000};
    f->registry_backoff = (struct tr_backoff_cfg){1000, 300000};
    f->snapshot_backoff = (struct tr_backoff_cfg){1000, 60000};
    f->rest_backoff = (struct tr_backoff_cfg){1000, 300000};
    f->ping_interval_ms = 10000;
    f->ping_timeout_ms = 30000;
    f->rotate_ms = UINT64_MAX; /* "not given": resolved per provider at the end */
    f->rotate_overlap_ms = 5000;
    f->max_connections = 4;
    f->snapshot_attempts = 4;
    f->maintenance_poll_ms = 30000;
    f->maintenance_max_ms = 6 * 3600000ull;
}

/* The providers' public production endpoints, used when a feed names none. */
static int default_urls(struct tr_feed_cfg *f)
{
    static const char *const urls[][2] = {
        [TR_PROV_COINBASE] = {"wss://ws-feed.exchange.coinbase.com",
                              "https://api.exchange.coinbase.com"},
        [TR_PROV_BINANCE] = {"wss://stream.binance.com:9443/ws", "https://api.binance.com"},
        [TR_PROV_KALSHI] = {"wss://api.elections.kalshi.com/trade-api/ws/v2",
                            "https://api.elections.kalshi.com/trade-api/v2"},
    };
    if (f->provider < TR_PROV_COINBASE || f->provider > TR_PROV_KALSHI)
        return 0;
    if (!f->ws_url) {
        if (!(f->ws_url = strdup(urls[f->provider][0])))
            return TR_ENOMEM;
        tr_config_parse_url(f->ws_url, &f->ws, NULL);
    }
    if (!f->rest_url) {
        if (!(f->rest_url = strdup(urls[f->provider][1])))
            return TR_ENOMEM;
        tr_config_parse_url(f->rest_url, &f->rest, NULL);
    }
    return 0;
}

static const char *seen_key(struct pstate *p, const char *name)
{
    for (size_t i = 0; i < p->n_seen; i++)
        if (strcmp(p->seen[i], name) == 0)
            return p->seen[i];
    return NULL;
}

/* Checks what a finished section lacks and what does not fit together. */
static int end_section(struct pstate *p)
{
    if (!p->sec)
        return 0;
    for (const struct keydef *k = p->sec->keys; k->name; k++)
        if (k->required && !seen_key(p, k->name))
            return tr_errorf(p->err, TR_ECONFIG, "%s:%d: section [%s]: missing required key '%s'",
                             p->name, p->sec_line, p->sec_label, k->name);
    struct tr_feed_cfg *f = p->feed;
    if (f) {
        if (f->provider == TR_PROV_SIM && (!f->ws_url || !f->rest_url))
            return tr_errorf(p->err, TR_ECONFIG,
                             "%s:%d: section [%s]: provider sim needs 'ws_url' and 'rest_url'",
                             p->name, p->sec_line, p->sec_label);
        if (default_urls(f) != 0)
            return tr_errorf(p->err, TR_ENOMEM, "%s: out of memory", p->name);
        const struct { struct tr_backoff_cfg *b; const char *name; } bs[] = {
            {&f->ws_backoff, "ws_backoff"}, {&f->registry_backoff, "registry_backoff"},
            {&f->snapshot_backoff, "snapshot_backoff"}, {&f->rest_backoff, "rest_backoff"},
        };
        for (size_t i = 0; i < 4; i++)
            if (bs[i].b->base_ms > bs[i].b->max_ms)
                return tr_errorf(p->err, TR_ECONFIG,
                                 "%s:%d: section [%s]: %s_base is larger than %s_max", p->name,
                                 p->sec_line, p->sec_label, bs[i].name, bs[i].name);
        if (f->ping_timeout_ms < f->ping_interval_ms)
            return tr_errorf(p->err, TR_ECONFIG,
                             "%s:%d: section [%s]: ping_timeout is shorter than ping_interval",
                             p->name, p->sec_line, p->sec_label);
        if (f->rotate_ms == UINT64_MAX)
            f->rotate_ms = f->provider == TR_PROV_BINANCE ? 23 * 3600000ull : 0;
        if (f->rotate_ms && f->rotate_ms < 60000)
            return tr_errorf(p->err, TR_ECONFIG,
                             "%s:%d: section [%s]: rotate shorter than 1m would never settle",
                             p->name, p->sec_line, p->sec_label);
    } else if (p->cfg->dedup_backoff.base_ms > p->cfg->dedup_backoff.max_ms &&
               strcmp(p->sec->name, "node") == 0) {
        return tr_errorf(p->err, TR_ECONFIG,
                         "%s:%d: section [node]: dedup_backoff_base is larger than "
                         "dedup_backoff_max", p->name, p->sec_line);
    }
    return 0;
}

static int valid_feed_name(const char *s, size_t n)
{
    if (n == 0 || n >= TR_CFG_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static int begin_section(struct pstate *p, int line, const char *h, size_t n)
{
    int rc = end_section(p);
    if (rc)
        return rc;
    p->feed = NULL;
    p->n_seen = 0;
    p->sec_line = line;
    size_t wl = 0; /* `h` is not NUL-terminated: the file's bytes */
    while (wl < n && h[wl] != ' ' && h[wl] != '\t')
        wl++;
    const struct section_def *sd = NULL;
    for (const struct section_def *s = sections; s->name; s++)
        if (strlen(s->name) == wl && memcmp(s->name, h, wl) == 0)
            sd = s;
    if (!sd)
        return line_error(p, line, "section [%.*s]: unknown section (node, log, http, storage, "
                          "feed NAME)", (int)n, h);
    const char *arg = h + wl;
    size_t an = n - wl;
    while (an && (*arg == ' ' || *arg == '\t'))
        arg++, an--;
    if (sd->keys != feed_keys) {
        if (an)
            return line_error(p, line, "section [%.*s]: [%s] takes no name", (int)n, h, sd->name);
        unsigned bit = 1u << (sd - sections);
        if (p->sections_seen & bit)
            return line_error(p, line, "section [%s]: given twice", sd->name);
        p->sections_seen |= bit;
        snprintf(p->sec_label, sizeof p->sec_label, "%s", sd->name);
        p->sec = sd;
        return 0;
    }
    if (!valid_feed_name(arg, an))
        return line_error(p, line, "section [%.*s]: feed name must be 1-%d of A-Z a-z 0-9 _ - .",
                          (int)n, h, TR_CFG_NAME_MAX - 1);
    struct tr_config *c = p->cfg;
    for (size_t i = 0; i < c->n_feeds; i++)
        if (strlen(c->feeds[i].name) == an && memcmp(c->feeds[i].name, arg, an) == 0)
            return line_error(p, line, "section [feed %.*s]: given twice (first at line %d)",
                              (int)an, arg, c->feeds[i].line);
    if (c->n_feeds == TR_CFG_FEEDS_MAX)
        return line_error(p, line, "more than %d feeds", TR_CFG_FEEDS_MAX);
    struct tr_feed_cfg *grown = realloc(c->feeds, (c->n_feeds + 1) * sizeof *grown);
    if (!grown)
        return line_error(p, line, "out of memory");
    c->feeds = grown;
    p->feed = &c->feeds[c->n_feeds++];
    feed_defaults(p->feed);
    memcpy(p->feed->name, arg, an);
    p->feed->line = line;
    snprintf(p->sec_label, sizeof p->sec_label, "feed %s", p->feed->name);
    p->sec = sd;
    return 0;
}

static int key_value(struct pstate *p, int line, const char *key, const char *value)
{
    if (!p->sec)
        return key_error(p, line, key, "outside any section (start with [node])");
    const struct keydef *k = NULL;
    for (const struct keydef *d = p->sec->keys; d->name; d++)
        if (strcmp(d->name, key) == 0)
            k = d;
    if (!k)
        return key_error(p, line, key, "unknown key in section [%s]", p->sec_label);
    if (seen_key(p, k->name))
        return key_error(p, line, key, "given twice in section [%s]", p->sec_label);
    if (p->n_seen < KEYS_MAX)
        p->seen[p->n_seen++] = k->name;
    if (*value == '\0')
        return key_error(p, line, key, "empty value");
    return assign(p, line, k, value);
}

/* ------------------------------------------------------------ the lexer */

/* Unquotes/trims `v` (n bytes) into `out` (cap bytes). Stops at a comment
 * ('#' or ';' after whitespace) outside quotes. */
static int lex_value(struct pstate *p, int line, const char *key, const char *v, size_t n,
                     char *out, size_t cap)
{
    size_t o = 0, i = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    if (i < n && v[i] == '"') {
        for (i++; i < n && v[i] != '"'; i++) {
            char c = v[i];
            if (c == '\\' && i + 1 < n && (v[i + 1] == '"' || v[i + 1] == '\\'))
                c = v[++i];
            if (o + 1 >= cap)
                return key_error(p, line, key, "value too long");
            out[o++] = c;
        }
        if (i >= n)
            return key_error(p, line, key, "unterminated quoted value");
        for (i++; i < n && (v[i] == ' ' || v[i] == '\t'); i++)
            ;
        if (i < n && v[i] != '#' && v[i] != ';')
            return key_error(p, line, key, "text after the closing quote");
        out[o] = '\0';
        return 0;
    }
    for (; i < n; i++) {
        if ((v[i] == '#' || v[i] == ';') && (o == 0 || out[o - 1] == ' ' || out[o - 1] == '\t'))
            break;
        if ((unsigned char)v[i] < ' ' && v[i] != '\t')
            return key_error(p, line, key, "control character in value");
        if (o + 1 >= cap)
            return key_error(p, line, key, "value too long");
        out[o++] = v[i];
    }
    while (o && (out[o - 1] == ' ' || out[o - 1] == '\t'))
        o--;
    out[o] = '\0';
    return 0;
}

static int valid_key(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* One logical line (after continuation joining is decided by the caller). */
static int parse_line(struct pstate *p, int line, const char *s, size_t n, char *val,
                      size_t vcap, char *key, int *pending)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    if (*pending) {
        /* continuation of a list value that ended with ',' */
        if (n && *s == '[')
            return key_error(p, line, key, "list ends with ',' but the next line is a section");
        char more[4096];
        int rc = lex_value(p, line, key, s, n, more, sizeof more);
        if (rc)
            return rc;
        if (strlen(val) + strlen(more) + 1 >= vcap)
            return key_error(p, line, key, "value too long");
        strcat(val, more);
        size_t l = strlen(val);
        *pending = l && val[l - 1] == ',';
        return 0;
    }
    if (n == 0 || *s == '#' || *s == ';')
        return 0;
    if (*s == '[') {
        if (s[n - 1] != ']')
            return line_error(p, line, "syntax error: section header must end with ']'");
        const char *h = s + 1;
        size_t hn = n - 2;
        while (hn && (*h == ' ' || *h == '\t'))
            h++, hn--;
        while (hn && (h[hn - 1] == ' ' || h[hn - 1] == '\t'))
            hn--;
        return begin_section(p, line, h, hn);
    }
    const char *eq = memchr(s, '=', n);
    if (!eq)
        return line_error(p, line, "syntax error: expected 'key = value' or '[section]'");
    size_t kn = (size_t)(eq - s);
    while (kn && (s[kn - 1] == ' ' || s[kn - 1] == '\t'))
        kn--;
    if (!valid_key(s, kn) || kn >= 64)
        return line_error(p, line, "syntax error: bad key name '%.*s' (a-z 0-9 _)",
                          (int)(kn > 64 ? 64 : kn), s);
    memcpy(key, s, kn);
    key[kn] = '\0';
    int rc = lex_value(p, line, key, eq + 1, n - (size_t)(eq - s) - 1, val, vcap);
    if (rc)
        return rc;
    size_t l = strlen(val);
    *pending = l && val[l - 1] == ',';
    return 0;
}

int tr_config_parse(struct tr_config *cfg, const char *name, const char *text, size_t len,
                    struct tr_error *err)
{
    struct pstate p = {.cfg = cfg, .name = name, .err = err};
    if (!cfg->path && !(cfg->path = strdup(name)))
        return tr_errorf(err, TR_ENOMEM, "%s: out of memory", name);
    size_t vcap = 1u << 20;
    char *val = malloc(vcap);
    if (!val)
        return tr_errorf(err, TR_ENOMEM, "%s: out of memory", name);
    char key[64] = "";
    int pending = 0, key_line = 0, rc = 0, line = 0;
    size_t pos = 0;
    while (pos < len && rc == 0) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        if (memchr(s, '\0', n)) {
            rc = line_error(&p, line, "NUL byte in file");
            break;
        }
        int was_pending = pending;
        rc = parse_line(&p, line, s, n, val, vcap, key, &pending);
        if (rc || key[0] == '\0')
            continue; /* blank, comment or section header */
        if (!was_pending)
            key_line = line;
        if (!pending) {
            rc = key_value(&p, key_line, key, val);
            key[0] = '\0';
        }
    }
    if (rc == 0 && pending)
        rc = key_error(&p, key_line, key, "list continues past the end of the file");
    if (rc == 0)
        rc = end_section(&p);
    if (rc == 0 && !(p.sections_seen & 1u))
        rc = tr_errorf(err, TR_ECONFIG, "%s: section [node]: missing (it needs 'id' and "
                       "'data_dir')", name);
    free(val);
    return rc;
}

int tr_config_load(struct tr_config *cfg, const char *path, struct tr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tr_errorf(err, errno == ENOENT ? TR_ENOTFOUND : TR_EIO, "%s: cannot open: %s",
                         path, strerror(errno));
    char *buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return tr_errorf(err, TR_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad)
        rc = tr_errorf(err, TR_EIO, "%s: read error", path);
    else if (n > CONFIG_FILE_MAX)
        rc = tr_errorf(err, TR_ECONFIG, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
    else
        rc = tr_config_parse(cfg, path, buf, n, err);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------ lifecycle */

void tr_config_init(struct tr_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->dedup_backoff = (struct tr_backoff_cfg){500, 30000};
    cfg->shutdown_timeout_ms = 30000;
    cfg->log_level = TR_NLOG_INFO;
    cfg->log_format = TR_NLOG_LOGFMT;
    cfg->log_burst = 10;
    cfg->log_interval_ms = 1000;
    cfg->http_enabled = 1;
    snprintf(cfg->http_host, sizeof cfg->http_host, "127.0.0.1");
    cfg->http_port = TR_HTTP_DEFAULT_PORT;
    cfg->http_request_timeout_ms = 10000;
    cfg->http_max_request_bytes = 8192;
    cfg->http_max_connections = 64;
    cfg->sync = 2;
    cfg->group_commit_ms = 2;
    cfg->sync_threads = 1;
    cfg->group_commit_bytes = 8u << 20;
    cfg->segment_bytes = 64u << 20;
}

void tr_config_close(struct tr_config *cfg)
{
    for (size_t i = 0; i < cfg->n_feeds; i++) {
        struct tr_feed_cfg *f = &cfg->feeds[i];
        free(f->ws_url);
        free(f->rest_url);
        free(f->ca_file);
        for (size_t j = 0; j < f->n_instruments; j++)
            free(f->instruments[j]);
        free(f->instruments);
        tr_secret_close(&f->key);
        free(f->key_source);
    }
    free(cfg->feeds);
    free(cfg->path);
    free(cfg->data_dir);
    free(cfg->log_file);
    free(cfg->pub_tls_cert_key_file);
    free(cfg->pub_tls_ca_file);
    memset(cfg, 0, sizeof *cfg);
}

const struct tr_feed_cfg *tr_config_feed(const struct tr_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_feeds; i++)
        if (strcmp(cfg->feeds[i].name, name) == 0)
            return &cfg->feeds[i];
    return NULL;
}
