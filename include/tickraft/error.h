/* tickraft error codes: one table for the whole project.
 *
 * Every function that can fail returns 0 on success or a negative TR_E*
 * code from the table below. Foreign codes (errno, libuv, nng, raft, lws,
 * libpq) are translated at the module that calls the dependency and never
 * cross a module boundary raw. A `struct tr_error` carries a human message
 * that each layer prefixes with what it was doing, e.g.
 *   "open log data/: recover segment 00000042: bad CRC at offset 8192". */
#ifndef TICKRAFT_ERROR_H
#define TICKRAFT_ERROR_H

#include <stddef.h>

/* X(name, value, description) */
#define TR_ERRNO_MAP(X)                                                      \
    X(INVAL,       -1,  "invalid argument")                                  \
    X(NOMEM,       -2,  "out of memory")                                     \
    X(IO,          -3,  "input/output error")                                \
    X(NOSPACE,     -4,  "no space left on device")                           \
    X(CORRUPT,     -5,  "data is corrupt")                                   \
    X(NOTFOUND,    -6,  "not found")                                         \
    X(EXISTS,      -7,  "already exists")                                    \
    X(TOOBIG,      -8,  "value too large")                                   \
    X(RANGE,       -9,  "number out of range")                               \
    X(PARSE,       -10, "malformed input")                                   \
    X(VERSION,     -11, "unsupported format version")                        \
    X(AGAIN,       -12, "resource temporarily unavailable")                  \
    X(TIMEDOUT,    -13, "timed out")                                         \
    X(CLOSED,      -14, "object is closed")                                  \
    X(SHUTDOWN,    -15, "shutting down")                                     \
    X(OVERLOADED,  -16, "overloaded: queue is full")                         \
    X(BUSY,        -17, "resource busy")                                     \
    X(NOTLEADER,   -18, "not the leader")                                    \
    X(STALE_EPOCH, -19, "stale epoch")                                       \
    X(PERM,        -20, "permission denied")                                 \
    X(AUTH,        -21, "authentication failed")                             \
    X(PROTO,       -22, "protocol error")                                    \
    X(CONNREFUSED, -23, "connection refused")                                \
    X(CONNRESET,   -24, "connection reset")                                  \
    X(CANCELED,    -25, "operation canceled")                                \
    X(UNSUPPORTED, -26, "operation not supported")                           \
    X(INTERNAL,    -27, "internal error")                                    \
    X(CONFIG,      -28, "bad configuration")

enum tr_errno {
    TR_OK = 0,
#define TR_ERR_ENUM_(name, val, desc) TR_E##name = (val),
    TR_ERRNO_MAP(TR_ERR_ENUM_)
#undef TR_ERR_ENUM_
};

/* Returns a static description of `code` ("unknown error" if not ours). */
const char *tr_strerror(int code);
/* Returns the static symbolic name of `code` ("TR_ECORRUPT"). */
const char *tr_err_name(int code);

#define TR_ERRMSG_SIZE 512

/* An error with its context chain. Caller-owned; no heap memory. */
struct tr_error {
    int code;                 /* 0 or a TR_E* code */
    char msg[TR_ERRMSG_SIZE]; /* "outer: inner: innermost" */
};

/* Resets `err` to "no error". `err` may be NULL. */
void tr_error_clear(struct tr_error *err);

/* Sets code and message (printf format) and returns `code`, so callers can
 * write `return tr_errorf(err, TR_ECORRUPT, "bad CRC at %zu", off);`.
 * `err` may be NULL: the code is still returned. */
int tr_errorf(struct tr_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with "<context>: " and returns err->code
 * (or `code` if err is NULL). Used by each layer on the way out. */
int tr_error_wrap(struct tr_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Replaces the code of an error whose message stays (an invalid field is
 * EINVAL to a builder but EPARSE to a decoder). Returns `code`. */
int tr_error_recode(struct tr_error *err, int code);

/* Translates an errno value (positive) to a TR_E* code. */
int tr_err_from_errno(int e);

#endif
