/* Structured logger: formats one line per event (logfmt or JSON) into a
 * fixed stack buffer, rate-limits repeats per (component, message) and
 * writes the line with one write(2) under a mutex. See nlog.h. */
#include "nlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_ 8192
#define VALUE_MAX 2048 /* bytes of one string value before it is cut */
#define RL_SLOTS 256   /* rate limiter table (direct-mapped) */

/* ------------------------------------------------------------- secrets */

void tr_secret_init(struct tr_secret *s)
{
    s->value_ = NULL;
    s->len_ = 0;
}

int tr_secret_set(struct tr_secret *s, const char *p, size_t len)
{
    char *v = malloc(len + 1);
    if (!v)
        return TR_ENOMEM;
    memcpy(v, p, len);
    v[len] = '\0';
    tr_secret_close(s);
    s->value_ = v;
    s->len_ = len;
    return 0;
}

int tr_secret_is_set(const struct tr_secret *s)
{
    return s && s->value_ != NULL;
}

const char *tr_secret_reveal(const struct tr_secret *s, size_t *len)
{
    if (len)
        *len = s && s->value_ ? s->len_ : 0;
    return s && s->value_ ? s->value_ : "";
}

void tr_secret_close(struct tr_secret *s)
{
    if (s->value_) {
        explicit_bzero(s->value_, s->len_);
        free(s->value_);
    }
    s->value_ = NULL;
    s->len_ = 0;
}

/* --------------------------------------------------------------- names */

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

const char *tr_nlog_level_name(int level)
{
    return level >= 0 && level <= TR_NLOG_OFF ? level_names[level] : "unknown";
}

int tr_nlog_level_parse(const char *s)
{
    for (int i = 0; i <= TR_NLOG_OFF; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return strcmp(s, "warning") == 0 ? TR_NLOG_WARN : -1;
}

int tr_nlog_format_parse(const char *s)
{
    if (strcmp(s, "logfmt") == 0)
        return TR_NLOG_LOGFMT;
    if (strcmp(s, "json") == 0)
        return TR_NLOG_JSON;
    return -1;
}

/* -------------------------------------------------------------- logger */

struct rl_slot {
    char component[32], msg[96]; /* key copies (compared as truncated) */
    uint64_t hash;
    int64_t window_start;
    uint32_t count;      /* lines printed in this window */
    uint64_t suppressed; /* lines dropped since the last printed one */
};

struct tr_nlog {
    struct tr_nlog_options o;
    char *path;
    int fd;
    int own_fd;
    atomic_int level;
    atomic_uint_fast64_t suppressed_total;
    pthread_mutex_t mu;
    struct rl_slot slots[RL_SLOTS];
};

void tr_nlog_options_init(struct tr_nlog_options *o)
{
    memset(o, 0, sizeof *o);
    o->level = TR_NLOG_INFO;
    o->format = TR_NLOG_LOGFMT;
    o->burst = 10;
    o->interval_ms = 1000;
}

static int64_t real_clock(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int tr_nlog_open(struct tr_nlog **out, const struct tr_nlog_options *o, struct tr_error *err)
{
    *out = NULL;
    struct tr_nlog *lg = calloc(1, sizeof *lg);
    if (!lg)
        return tr_errorf(err, TR_ENOMEM, "logger: out of memory");
    if (o)
        lg->o = *o;
    else
        tr_nlog_options_init(&lg->o);
    if (!lg->o.clock_cb)
        lg->o.clock_cb = real_clock;
    if (lg->o.level < 0 || lg->o.level > TR_NLOG_OFF || lg->o.format < 0 ||
        lg->o.format > TR_NLOG_JSON) {
        free(lg);
        return tr_errorf(err, TR_EINVAL, "logger: bad level or format");
    }
    lg->fd = STDERR_FILENO;
    if (!lg->o.write_cb && lg->o.path && strcmp(lg->o.path, "-") != 0) {
        lg->fd = open(lg->o.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (lg->fd < 0) {
            int e = errno;
            free(lg);
            return tr_errorf(err, tr_err_from_errno(e), "logger: open %s: %s", o->path,
                             strerror(e));
        }
        lg->own_fd = 1;
        lg->path = strdup(lg->o.path);
    }
    lg->o.path = lg->path;
    atomic_init(&lg->level, lg->o.level);
    atomic_init(&lg->suppressed_total, 0);
    pthread_mutex_init(&lg->mu, NULL);
    *out = lg;
    return 0;
}

void tr_nlog_set_level(struct tr_nlog *lg, int level)
{
    if (lg && level >= 0 && level <= TR_NLOG_OFF)
        atomic_store(&lg->level, level);
}

int tr_nlog_enabled(const struct tr_nlog *lg, int level)
{
    return lg && level < TR_NLOG_OFF &&
           level >= atomic_load_explicit(&((struct tr_nlog *)lg)->level, memory_order_relaxed);
}

uint64_t tr_nlog_suppressed(const struct tr_nlog *lg)
{
    return lg ? atomic_load(&((struct tr_nlog *)lg)->suppressed_total) : 0;
}

/* ----------------------------------------------------------- formatting */

struct line {
    char b[LINE_MAX_];
    size_t n;
    int cut;
    int json;
};

static void put(struct line *l, const char *s, size_t n)
{
    /* keep room for the truncation marker and the newline */
    size_t room = sizeof l->b - 40 - l->n;
    if (n > room) {
        n = room;
        l->cut = 1;
    }
    memcpy(l->b + l->n, s, n);
    l->n += n;
}

static void puts_(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

static int is_bare(unsigned char c)
{
    return c > ' ' && c != '"' && c != '=' && c != '\\' && c < 0x7f;
}

/* A string value: JSON always quotes; logfmt quotes when the value is
 * empty or has a space, '=', '"', '\\' or a control byte. */
static void put_str(struct line *l, const char *s, size_t n)
{
    int cut = 0;
    if (n > VALUE_MAX) {
        n = VALUE_MAX;
        cut = 1;
    }
    int quote = l->json || n == 0;
    for (size_t i = 0; i < n && !quote; i++)
        if (!is_bare((unsigned char)s[i]))
            quote = 1;
    if (quote)
        put(l, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char hex[8];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20 || c == 0x7f) {
            snprintf(hex, sizeof hex, "\\u%04x", c);
            esc = hex;
        }
        if (esc) {
            put(l, s + run, i - run);
            puts_(l, esc);
            run = i + 1;
        }
    }
    put(l, s + run, n - run);
    if (cut)
        puts_(l, "...");
    if (quote)
        put(l, "\"", 1);
}

static void put_key(struct line *l, const char *key)
{
    char k[64];
    size_t n = 0;
    for (; key && key[n] && n < sizeof k - 1; n++) {
        char c = key[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        k[n] = ok ? c : '_';
    }
    if (n == 0)
        k[n++] = '_';
    if (l->json) {
        put(l, ",\"", 2);
        put(l, k, n);
        put(l, "\":", 2);
    } else {
        put(l, " ", 1);
        put(l, k, n);
        put(l, "=", 1);
    }
}

static void put_fmt(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(struct line *l, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(l, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void put_kv(struct line *l, const struct tr_kv *kv)
{
    if (kv->type == TR_KV_T_NONE)
        return;
    put_key(l, kv->key);
    switch (kv->type) {
    case TR_KV_T_STR:
        if (kv->v.s)
            put_str(l, kv->v.s, strlen(kv->v.s));
        else
            puts_(l, l->json ? "null" : "\"\"");
        break;
    case TR_KV_T_STRN:
        put_str(l, kv->v.s ? kv->v.s : "", kv->v.s ? kv->len : 0);
        break;
    case TR_KV_T_INT:
        put_fmt(l, "%" PRId64, kv->v.i);
        break;
    case TR_KV_T_UINT:
        put_fmt(l, "%" PRIu64, kv->v.u);
        break;
    case TR_KV_T_F64:
        if (kv->v.d != kv->v.d || kv->v.d - kv->v.d != 0) /* NaN, inf: not JSON */
            put_str(l, "nan", 3);
        else
            put_fmt(l, "%.9g", kv->v.d);
        break;
    case TR_KV_T_BOOL:
        puts_(l, kv->v.i ? "true" : "false");
        break;
    case TR_KV_T_SECRET:
        put_str(l, "***", 3); /* the only thing a secret ever prints as */
        break;
    default:
        put_str(l, "?", 1);
        break;
    }
}

static void put_ts(struct line *l, int64_t ns)
{
    time_t sec = (time_t)(ns / 1000000000);
    long us = (long)((ns % 1000000000) / 1000);
    if (ns < 0) {
        sec = 0;
        us = 0;
    }
    struct tm tm;
    gmtime_r(&sec, &tm);
    char ts[80];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
    if (l->json) {
        puts_(l, "{\"ts\":\"");
        puts_(l, ts);
        puts_(l, "\"");
    } else {
        puts_(l, "ts=");
        puts_(l, ts);
    }
}

static void format_line(struct line *l, int json, int64_t now, int level, const char *component,
                        const char *msg, const struct tr_kv *kv, size_t n, uint64_t suppressed)
{
    l->n = 0;
    l->cut = 0;
    l->json = json;
    put_ts(l, now);
    put_key(l, "level");
    put_str(l, tr_nlog_level_name(level), strlen(tr_nlog_level_name(level)));
    put_key(l, "component");
    put_str(l, component ? component : "", component ? strlen(component) : 0);
    put_key(l, "msg");
    put_str(l, msg ? msg : "", msg ? strlen(msg) : 0);
    for (size_t i = 0; i < n; i++)
        put_kv(l, &kv[i]);
    if (suppressed)
        put_kv(l, &TR_KV_UINT("suppressed", suppressed));
    if (l->cut) {
        /* put() kept 40 bytes spare for exactly this */
        const char *m = json ? ",\"truncated\":true" : " truncated=true";
        memcpy(l->b + l->n, m, strlen(m));
        l->n += strlen(m);
    }
    if (json)
        l->b[l->n++] = '}';
    l->b[l->n++] = '\n';
}

/* ---------------------------------------------------------- rate limiter */

static uint64_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *s = a ? a : ""; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *s = b ? b : ""; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int same_key(const struct rl_slot *s, uint64_t h, const char *c, const char *m)
{
    return s->hash == h && strncmp(s->component, c, sizeof s->component - 1) == 0 &&
           strncmp(s->msg, m, sizeof s->msg - 1) == 0;
}

/* Decides under the mutex whether this line prints. *suppressed gets the
 * number of lines of this key dropped before it (printed with it). */
static int rl_admit(struct tr_nlog *lg, int64_t now, const char *component, const char *msg,
                    uint64_t *suppressed)
{
    *suppressed = 0;
    if (lg->o.burst == 0)
        return 1;
    component = component ? component : "";
    msg = msg ? msg : "";
    uint64_t h = hash2(component, msg);
    struct rl_slot *s = &lg->slots[h % RL_SLOTS];
    int64_t interval = (int64_t)lg->o.interval_ms * 1000000;
    if (!same_key(s, h, component, msg)) {
        /* A colliding key takes the slot over; what the old key dropped is
         * still counted in suppressed_total. */
        *s = (struct rl_slot){.hash = h, .window_start = now};
        snprintf(s->component, sizeof s->component, "%s", component);
        snprintf(s->msg, sizeof s->msg, "%s", msg);
    }
    if (now - s->window_start >= interval || now < s->window_start) {
        s->window_start = now;
        s->count = 0;
    }
    if (s->count >= lg->o.burst) {
        s->suppressed++;
        atomic_fetch_add(&lg->suppressed_total, 1);
        return 0;
    }
    s->count++;
    *suppressed = s->suppressed;
    s->suppressed = 0;
    return 1;
}

static void emit(struct tr_nlog *lg, const struct line *l)
{
    if (lg->o.write_cb) {
        lg->o.write_cb(lg->o.write_arg, l->b, l->n);
        return;
    }
    size_t off = 0;
    while (off < l->n) {
        ssize_t w = write(lg->fd, l->b + off, l->n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a logger cannot report its own failure anywhere */
        off += (size_t)w;
    }
}

void tr_nlog_write(struct tr_nlog *lg, int level, const char *component, const char *msg,
                   const struct tr_kv *kv, size_t n)
{
    if (!tr_nlog_enabled(lg, level))
        return;
    struct line l;
    int64_t now = lg->o.clock_cb(lg->o.clock_arg);
    pthread_mutex_lock(&lg->mu);
    uint64_t suppressed;
    if (rl_admit(lg, now, component, msg, &suppressed)) {
        format_line(&l, lg->o.format == TR_NLOG_JSON, now, level, component, msg, kv, n,
                    suppressed);
        emit(lg, &l);
    }
    pthread_mutex_unlock(&lg->mu);
}

void tr_nlog_close(struct tr_nlog *lg)
{
    if (!lg)
        return;
    if (lg->own_fd)
        close(lg->fd);
    pthread_mutex_destroy(&lg->mu);
    free(lg->path);
    free(lg);
}
