/* tickraft actor runtime: named actors with bounded mailboxes that exchange
 * msgpack envelopes over nng, on one thread and libuv loop per actor.
 *
 * An actor's address is an nng URL: "inproc://tr.<system>.<name>" inside a
 * node, "ipc://<run_dir>/<name>.sock" for an actor that runs in a child
 * process (actor_sup.h) or that also listens on ipc. Senders pass either a
 * URL (anything containing "://") or a name registered in the same system.
 *
 * Threading: every function taking `struct tr_actor *self` must be called on
 * that actor's own thread (inside its callbacks), or, for a client actor
 * (tr_actor_client_open), on the one thread that uses that client.
 * Design, wire format and measured figures: docs/actors.md. */
#ifndef TICKRAFT_ACTOR_H
#define TICKRAFT_ACTOR_H

#include <stddef.h>
#include <stdint.h>

#include "tickraft/error.h"

struct tr_system;
struct tr_actor;
struct uv_loop_s;

/* ---- injectable clock and randomness (tests step time) ---- */
#define TR_ACTOR_CLOCK_VERSION 1
struct tr_actor_clock {
    int version;                      /* TR_ACTOR_CLOCK_VERSION */
    void *ctx;
    uint64_t (*now_ns)(void *ctx);    /* monotonic nanoseconds */
    uint64_t (*rand_u64)(void *ctx);  /* uniform 64-bit random value */
};
/* The real clock (CLOCK_MONOTONIC) and getrandom(2). Static; never freed. */
const struct tr_actor_clock *tr_actor_clock_real(void);

/* ---- messages ----
 * An envelope on the wire is a msgpack array
 *   [version=1, type:uint, sender:str, corr:uint, payload:bin]
 * (docs/actors.md gives the bytes). Types at or above TR_MSG_SYSTEM_BASE are
 * the runtime's own. */
#define TR_MSG_SYSTEM_BASE 0xFFFF0000u
#define TR_MSG_REPLY       0xFFFF0001u /* a reply to a call (payload: reply) */
#define TR_MSG_REPLY_ERR   0xFFFF0002u /* an error reply (payload: int32 BE) */
#define TR_MSG_LIFECYCLE   0xFFFF0003u /* a monitored actor started/exited */
#define TR_MSG_STOP        0xFFFF0004u /* process actors: stop and drain */

struct tr_msg {
    uint32_t type;
    uint64_t corr;           /* call correlation id; 0 for a plain send */
    const char *sender;      /* reply address (URL) or "" */
    const uint8_t *payload;  /* valid only during the callback */
    size_t len;
};

/* Reasons an actor ends with (its exit reason): 0 normal, or <0: a TR_E*
 * code its handler returned, or one of these. */
#define TR_EXIT_NORMAL     0
#define TR_EXIT_SHUTDOWN   1   /* stopped by request (supervisor/owner) */
#define TR_EXIT_KILLED     2   /* brutal kill / shutdown bound exceeded */
#define TR_EXIT_HUNG       3   /* missed its heartbeat deadline */
#define TR_EXIT_ESCALATED  4   /* a supervisor gave up (intensity) */
#define TR_EXIT_SIGNAL(s)  (1000 + (s)) /* process actor died of signal s */
#define TR_EXIT_STATUS(s)  (2000 + (s)) /* process actor exited with status s (s != 0) */
/* True when `reason` is a normal end (normal or shutdown). */
int tr_exit_is_normal(int reason);
/* Writes a short description of `reason` ("signal 11 (SIGSEGV)") to buf. */
const char *tr_exit_str(int reason, char *buf, size_t cap);

/* Handler return values. */
#define TR_ACTOR_CONTINUE 0
#define TR_ACTOR_STOP     1   /* stop normally after this message */

/* What an actor is. All callbacks run on the actor's own thread. */
struct tr_actor_def {
    const char *kind;
    /* Sets up state; returning <0 fails the start with that code. */
    int (*init_cb)(struct tr_actor *self, void *arg, void **state);
    /* One message: TR_ACTOR_CONTINUE, TR_ACTOR_STOP, or <0 to crash with
     * that code (messages still queued are counted as dropped). */
    int (*handle_cb)(struct tr_actor *self, void *state, const struct tr_msg *msg);
    /* Last call, with the exit reason; frees state. May be NULL. */
    void (*terminate_cb)(struct tr_actor *self, void *state, int reason);
};

struct tr_actor_opts {
    uint32_t mailbox_hwm;    /* messages held before senders block; 0 = 1024 */
    int listen_ipc;          /* also listen on ipc://<run_dir>/<name>.sock */
};

/* ---- systems: one per node process; holds the name registry ---- */
struct tr_system_opts {
    const char *name;        /* short, [A-Za-z0-9_-]; default "node" */
    const struct tr_actor_clock *clock; /* NULL = real; borrowed, must outlive */
    const char *run_dir;     /* for ipc sockets; default /tmp/tickraft-<pid>-<name> */
    const char *host_path;   /* tickraft-actor-host for process actors;
                                default $TR_BIN_DIR/tickraft-actor-host, else
                                next to /proc/self/exe */
    const char *host_subcommand; /* if set, inserted as argv[1] of the host,
                                e.g. a node that is its own host: host_path
                                "/proc/self/exe", subcommand "--actor-host",
                                and its main calls tr_actor_host_main(argc - 1,
                                argv + 1, kinds) when it sees that flag */
};
/* Allocates a system; caller owns it and frees it with tr_system_free after
 * every actor and supervisor of it has stopped. */
int tr_system_alloc(const struct tr_system_opts *opts, struct tr_system **out,
                    struct tr_error *err);
void tr_system_free(struct tr_system *sys);
const struct tr_actor_clock *tr_system_clock(const struct tr_system *sys);
const char *tr_system_run_dir(const struct tr_system *sys);
/* Writes the inproc URL the actor `name` listens on. TR_ETOOBIG if cap is short. */
int tr_system_url(const struct tr_system *sys, const char *name, char *buf, size_t cap);
/* Writes the ipc URL the actor `name` would listen on. */
int tr_system_ipc_url(const struct tr_system *sys, const char *name, char *buf, size_t cap);

/* ---- per-actor figures (for the node's metrics) ----
 * Kept per name, so they survive restarts. */
struct tr_actor_stats {
    char name[64];
    char kind[32];
    uint32_t mailbox_depth;     /* messages received, not yet handled */
    uint32_t mailbox_hwm;
    uint64_t handled;           /* messages handled, all incarnations */
    uint64_t dropped;           /* queued messages lost to crashes/kills */
    uint32_t restarts;          /* restarts by its supervisor */
    int last_exit_reason;       /* see TR_EXIT_* */
    char last_restart_reason[64];
    int running;
    int is_process;
    long pid;                   /* process actors: child pid, else 0 */
};
/* Fills `out` for `name`; TR_ENOTFOUND if no actor of that name ever ran. */
int tr_system_stats(struct tr_system *sys, const char *name, struct tr_actor_stats *out);
/* Calls cb for every actor name known to the system (under a lock: cb must
 * not call back into the system). */
void tr_system_stats_foreach(struct tr_system *sys,
                             void (*cb)(void *arg, const struct tr_actor_stats *st),
                             void *arg);

/* ---- standalone actors (supervised ones: actor_sup.h) ---- */
/* Starts `def` as actor `name` on a new thread, listening on its URL; returns
 * once init_cb has run. On success *out is owned by the caller until
 * tr_actor_stop + tr_actor_join. `arg` is borrowed by init_cb. Errors:
 * TR_EEXISTS (name running), TR_ENOMEM, TR_EIO (nng), or init_cb's code. */
int tr_actor_spawn(struct tr_system *sys, const char *name,
                   const struct tr_actor_def *def, void *arg,
                   const struct tr_actor_opts *opts, struct tr_actor **out,
                   struct tr_error *err);
/* Asks the actor to stop (thread-safe; not from a signal handler). drain=1: stop
 * taking new messages, handle everything already received, then exit;
 * drain=0: exit after the current message, counting queued ones as dropped. */
void tr_actor_stop(struct tr_actor *a, int drain);
/* Waits for the thread to end, frees the actor and returns its exit reason. */
int tr_actor_join(struct tr_actor *a);

/* A client: an actor with no thread or handler, for main(), tests, tools
 * and benchmarks to send and call from. Caller owns it; one thread at a time. */
int tr_actor_client_open(struct tr_system *sys, const char *name,
                         struct tr_actor **out, struct tr_error *err);
void tr_actor_client_close(struct tr_actor *c);

/* ---- inside an actor ---- */
const char *tr_actor_name(const struct tr_actor *self);
struct tr_system *tr_actor_system(struct tr_actor *self);
/* The actor's libuv loop, for its own handles (sockets, lws). Handles must
 * be closed by terminate_cb. NULL for clients. */
struct uv_loop_s *tr_actor_loop(struct tr_actor *self);

/* Sends one message (fire and forget). The payload is copied. timeout_ms:
 * 0 = never wait, -1 = wait forever, >0 = wait that long for room.
 * Returns 0 once the target's mailbox (or its transport queue, bounded)
 * accepted it, TR_EOVERLOADED when it stayed full (or the target was
 * restarting) past the timeout, TR_ENOTFOUND for an unknown name,
 * TR_ECONNREFUSED when nothing listens at a URL on first contact,
 * TR_ENOMEM. Never drops silently. */
int tr_actor_send(struct tr_actor *self, const char *to, uint32_t type,
                  const void *payload, size_t len, int timeout_ms);

/* Sends a request and waits (blocking this actor, like gen_server:call) for
 * its reply, up to timeout_ms in total. On success *reply holds the reply
 * payload; free it with tr_reply_free. Errors as tr_actor_send, plus
 * TR_ETIMEDOUT (no reply in time; a late reply is discarded and counted)
 * or the code the callee passed to tr_actor_reply_error. */
struct tr_reply {
    uint8_t *data;
    size_t len;
    void *owner_;
};
int tr_actor_call(struct tr_actor *self, const char *to, uint32_t type,
                  const void *payload, size_t len, int timeout_ms,
                  struct tr_reply *reply);
void tr_reply_free(struct tr_reply *r);

/* Replies to a call `req` (a message handled now; req->corr != 0). Safe to
 * call for plain sends: does nothing and returns 0. */
int tr_actor_reply(struct tr_actor *self, const struct tr_msg *req,
                   const void *payload, size_t len);
int tr_actor_reply_error(struct tr_actor *self, const struct tr_msg *req, int code);

/* Timers: after `after_ms` (then every `repeat_ms` if > 0) the handler gets a
 * message of `type` with sender "" and no payload. *id names it for stop. */
int tr_actor_timer_start(struct tr_actor *self, uint64_t after_ms, uint64_t repeat_ms,
                         uint32_t type, uint64_t *id);
int tr_actor_timer_stop(struct tr_actor *self, uint64_t id);

/* Lifecycle subscription: self gets a TR_MSG_LIFECYCLE message each time
 * actor `name` (same system) starts or exits. Not for clients. */
int tr_actor_monitor(struct tr_actor *self, const char *name);
#define TR_LIFECYCLE_UP   1
#define TR_LIFECYCLE_DOWN 2
struct tr_lifecycle {
    char name[64];
    int event;     /* TR_LIFECYCLE_UP / _DOWN */
    int reason;    /* exit reason for DOWN */
};
int tr_lifecycle_decode(const struct tr_msg *msg, struct tr_lifecycle *out);

/* ---- batching (the hot path): many items per envelope ----
 * A batch payload is a msgpack array32 header (0xdd + count, big-endian)
 * followed by the items, each already msgpack (e.g. tr_event_encode
 * output), so tr_event_batch_header reads it. Flushes when max_bytes or
 * max_items is reached, or on tr_batch_flush (call it from a timer to bound
 * latency). */
struct tr_batch {
    struct tr_actor *from;
    char to[256];
    uint32_t type;
    size_t max_bytes;       /* default 65536 */
    uint32_t max_items;     /* default 1024 */
    int timeout_ms;         /* send timeout per batch */
    void *msg_;             /* nng_msg being filled */
    uint32_t count;
    uint64_t batches_sent;
};
/* Caller-owned `b`. to/type name the receiver. */
int tr_batch_init(struct tr_batch *b, struct tr_actor *from, const char *to,
                  uint32_t type, size_t max_bytes, int timeout_ms);
/* Appends one item (copied). May flush; returns a send error then (the batch
 * is kept and retried on the next flush, never dropped). */
int tr_batch_add(struct tr_batch *b, const void *item, size_t len);
int tr_batch_flush(struct tr_batch *b);
void tr_batch_close(struct tr_batch *b);
/* Reads a received batch: count and the items' bytes. */
int tr_batch_view(const struct tr_msg *msg, uint32_t *count,
                  const uint8_t **items, size_t *items_len);

#endif
