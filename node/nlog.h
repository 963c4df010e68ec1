/* Structured logging for the node: one event per line, with a timestamp, a
 * level, a component, a fixed message and typed key=value fields, written
 * as logfmt or as JSON to stderr, a file or a callback (docs/operations.md).
 *
 *   tr_nlog(lg, TR_NLOG_WARN, "conn", "reconnecting",
 *           TR_KV_STR("feed", name), TR_KV_INT("attempt", n),
 *           TR_KV_SECRET("key", &feed->key));
 * prints
 *   ts=2026-11-23T19:40:01.123456Z level=warn component=conn msg=reconnecting feed=cb attempt=3 key=***
 *
 * Credentials never reach a log line: they live in a struct tr_secret whose
 * bytes are only reachable through tr_secret_reveal(), and the logger's only
 * way to print one (TR_KV_SECRET) prints "***". The message is a constant
 * string on purpose: variable data goes in fields, so lines stay greppable
 * and the rate limiter can recognise repeats.
 *
 * Rate limiting: each (component, message) pair may print `burst` lines per
 * `interval`; further repeats in that window are counted, not printed, and
 * the next line of that pair after the window says how many were dropped
 * (suppressed=N), so a storm of malformed frames costs a few lines, not a
 * full disk. ERROR lines are limited too (a storm of errors is still a storm).
 *
 * Threads: every function may be called from any thread; a line is written
 * with one write(2) under a mutex, so lines never interleave. */
#ifndef TR_NODE_NLOG_H
#define TR_NODE_NLOG_H

#include <stddef.h>
#include <stdint.h>

#include "tickraft/error.h"

/* ------------------------------------------------------------- secrets */

/* A credential. Caller-owned struct, heap bytes; zeroed on close. The value
 * is deliberately behind an accessor so that no printf("%s") can reach it
 * by accident. */
struct tr_secret {
    char *value_; /* NUL-terminated; NULL when unset */
    size_t len_;
};
void tr_secret_init(struct tr_secret *s);
/* Copies `len` bytes of `p`. 0 or TR_ENOMEM. Replaces a previous value. */
int tr_secret_set(struct tr_secret *s, const char *p, size_t len);
/* 1 if a value is set. */
int tr_secret_is_set(const struct tr_secret *s);
/* The bytes, for the one place that must send them (an auth header);
 * *len (may be NULL) gets the length. Borrowed: valid until close/set.
 * Returns "" when unset. */
const char *tr_secret_reveal(const struct tr_secret *s, size_t *len);
/* Wipes and frees the value. */
void tr_secret_close(struct tr_secret *s);

/* --------------------------------------------------------------- fields */

enum tr_nlog_level {
    TR_NLOG_DEBUG = 0,
    TR_NLOG_INFO = 1,
    TR_NLOG_WARN = 2,
    TR_NLOG_ERROR = 3,
    TR_NLOG_OFF = 4, /* as a threshold: print nothing */
};

enum tr_nlog_format {
    TR_NLOG_LOGFMT = 0,
    TR_NLOG_JSON = 1,
};

enum tr_kv_type {
    TR_KV_T_NONE = 0, /* placeholder, skipped */
    TR_KV_T_STR,
    TR_KV_T_STRN,
    TR_KV_T_INT,
    TR_KV_T_UINT,
    TR_KV_T_F64,
    TR_KV_T_BOOL,
    TR_KV_T_SECRET,
};

/* One field. Build them with the TR_KV_* macros; all pointers are borrowed
 * for the duration of the call. */
struct tr_kv {
    const char *key; /* [A-Za-z0-9_.-]; other bytes are printed as '_' */
    int type;        /* enum tr_kv_type */
    size_t len;      /* TR_KV_T_STRN */
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double d;
        const struct tr_secret *secret;
    } v;
};

#define TR_KV_STR(k, x) ((struct tr_kv){.key = (k), .type = TR_KV_T_STR, .v.s = (x)})
#define TR_KV_STRN(k, x, n) \
    ((struct tr_kv){.key = (k), .type = TR_KV_T_STRN, .len = (n), .v.s = (x)})
#define TR_KV_INT(k, x) ((struct tr_kv){.key = (k), .type = TR_KV_T_INT, .v.i = (int64_t)(x)})
#define TR_KV_UINT(k, x) ((struct tr_kv){.key = (k), .type = TR_KV_T_UINT, .v.u = (uint64_t)(x)})
#define TR_KV_F64(k, x) ((struct tr_kv){.key = (k), .type = TR_KV_T_F64, .v.d = (double)(x)})
#define TR_KV_BOOL(k, x) ((struct tr_kv){.key = (k), .type = TR_KV_T_BOOL, .v.i = !!(x)})
#define TR_KV_SECRET(k, x) \
    ((struct tr_kv){.key = (k), .type = TR_KV_T_SECRET, .v.secret = (x)})
/* A struct tr_error as err="message" code=TR_E... (code omitted if 0). */
#define TR_KV_ERR(e) TR_KV_STR("err", (e)->msg), TR_KV_STR("code", tr_err_name((e)->code))

/* --------------------------------------------------------------- logger */

/* Where lines go when not to a file: called under the logger's mutex with
 * one complete line including its '\n'. */
typedef void (*tr_nlog_write_cb)(void *arg, const char *line, size_t len);
/* Clock for timestamps and the rate limiter (tests pass a fake one). */
typedef int64_t (*tr_nlog_clock_cb)(void *arg); /* ns since the Unix epoch */

struct tr_nlog_options {
    int level;            /* threshold, enum tr_nlog_level; default INFO */
    int format;           /* enum tr_nlog_format; default LOGFMT */
    const char *path;     /* NULL or "-" = stderr; else appended to (0640) */
    tr_nlog_write_cb write_cb; /* overrides path when set */
    void *write_arg;
    uint32_t burst;       /* lines per (component, msg) per interval; default 10; 0 = no limit */
    uint32_t interval_ms; /* default 1000 */
    tr_nlog_clock_cb clock_cb; /* default CLOCK_REALTIME */
    void *clock_arg;
};
void tr_nlog_options_init(struct tr_nlog_options *o);

struct tr_nlog;

/* Opens a logger (heap; free with tr_nlog_close). TR_EIO naming the path
 * when the file cannot be opened, TR_ENOMEM. `o` is copied (path too). */
int tr_nlog_open(struct tr_nlog **out, const struct tr_nlog_options *o, struct tr_error *err);
/* Closes the file (not stderr) and frees. NULL ok. */
void tr_nlog_close(struct tr_nlog *lg);

/* Changes the threshold at run time (any thread). */
void tr_nlog_set_level(struct tr_nlog *lg, int level);
/* 1 if a line at `level` would be printed (cheap; use it before building
 * expensive fields). A NULL logger prints nothing. */
int tr_nlog_enabled(const struct tr_nlog *lg, int level);
/* Lines dropped by the rate limiter since open (for a metric). */
uint64_t tr_nlog_suppressed(const struct tr_nlog *lg);

/* Writes one line. `component` and `msg` are printed as given (quoted when
 * needed); `kv` has `n` fields. NULL logger: no-op. Never fails: a line
 * longer than 8 KiB is cut and ends with truncated=true. */
void tr_nlog_write(struct tr_nlog *lg, int level, const char *component, const char *msg,
                   const struct tr_kv *kv, size_t n);

/* The usual way to log: fields as trailing macro arguments (may be none). */
#define tr_nlog(lg, level, component, msg, ...)                                   \
    do {                                                                          \
        if (tr_nlog_enabled((lg), (level))) {                                     \
            const struct tr_kv tr_kv_[] = {{0}, __VA_ARGS__};                     \
            tr_nlog_write((lg), (level), (component), (msg), tr_kv_ + 1,          \
                          sizeof tr_kv_ / sizeof tr_kv_[0] - 1);                  \
        }                                                                         \
    } while (0)

/* Level names "debug" "info" "warn" "error" "off"; parse accepts "warning"
 * too. Parse returns the level or -1. */
const char *tr_nlog_level_name(int level);
int tr_nlog_level_parse(const char *s);
/* "logfmt" / "json"; parse returns the format or -1. */
int tr_nlog_format_parse(const char *s);

#endif
