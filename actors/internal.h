/* Internal structures of the actor runtime, shared by its files only. */
#ifndef TR_ACTORS_INTERNAL_H
#define TR_ACTORS_INTERNAL_H

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "tickraft/actor.h"
#include "tickraft/actor_sup.h"

#define TR_URL_MAX 256
#define TR_NAME_MAX 64
#define TR_PEERS_MAX 32
#define TR_WAKE_BUDGET 256   /* messages handled per loop turn */
#define TR_DRAIN_QUIET_MS 20 /* a draining mailbox this quiet is empty */

/* Control-channel message types between a supervisor and its host process. */
#define TR_CTL_READY 0xFFFF0101u
#define TR_CTL_PING  0xFFFF0102u
#define TR_CTL_PONG  0xFFFF0103u

/* ---- envelope (envelope.c) ---- */
/* Builds an nng message holding one envelope; payload copied. */
int env_build(nng_msg **out, uint32_t type, const char *sender, uint64_t corr,
              const void *payload, size_t len);
/* Parses an envelope in place; msg fields point into p. TR_EPARSE. */
int env_parse(const uint8_t *p, size_t len, struct tr_msg *msg, char *sender_buf,
              size_t sender_cap);
/* Size of the envelope header for a sender of length slen (payload bin32). */
size_t env_header_size(size_t slen);
/* Writes the envelope header (bin32 length `plen`) at p. */
void env_write_header(uint8_t *p, uint32_t type, const char *sender, uint64_t corr,
                      uint32_t plen);
int tr_err_from_nng(int rv);

/* ---- lifecycle notices queued to a watcher ---- */
struct ctl_notice {
    struct ctl_notice *next;
    struct tr_lifecycle ev;
};

/* ---- registry entry: one per actor name, lives as long as the system ---- */
struct reg_entry {
    char name[TR_NAME_MAX];
    char kind[32];
    char url[TR_URL_MAX];        /* where senders should dial */
    int is_process;
    long pid;
    int running;
    struct tr_actor *cur;        /* running thread instance or NULL */
    uint32_t hwm;
    _Atomic uint64_t handled;
    _Atomic uint64_t dropped;
    _Atomic uint32_t depth;
    uint32_t restarts;
    int last_exit_reason;
    char last_restart_reason[64];
    int is_loop;                 /* a loop actor (actor_loop.h): no URL */
    const void *loop_owner;      /* its current struct tr_lact, or NULL */
    char **watchers;             /* names of monitoring actors */
    size_t n_watchers;
    struct reg_entry *next;
};

struct tr_system {
    char name[32];
    char run_dir[160];
    char host_path[512];
    char host_subcommand[64];
    const struct tr_actor_clock *clock;
    pthread_mutex_t mu;
    struct reg_entry *entries;
    uint64_t next_instance;
    uint64_t next_client;
    pthread_cond_t threads_cv;   /* signalled when live_threads drops */
    int live_threads;            /* actor threads not yet ended (incl. abandoned) */
};

struct reg_entry *reg_get(struct tr_system *sys, const char *name, int create);
/* Emits a lifecycle notice for `e` to its watchers. Caller holds sys->mu. */
void reg_notify_locked(struct tr_system *sys, struct reg_entry *e, int event, int reason);
/* Resolves a name or URL to a URL; *registered says it was a known name. */
int reg_resolve(struct tr_system *sys, const char *to, char *url, size_t cap, int *registered);

/* ---- actors ---- */
struct peer {
    char url[TR_URL_MAX];
    nng_socket s;
    int timeout_ms;           /* current NNG_OPT_SENDTIMEO */
    uint64_t used;            /* LRU stamp */
};

struct atimer {
    uv_timer_t t;
    struct tr_actor *a;
    uint64_t id;
    uint32_t type;
    struct atimer *next;
};

typedef void (*actor_exit_cb)(void *arg, struct tr_actor *a, int reason);

struct tr_actor {
    struct tr_system *sys;
    char name[TR_NAME_MAX];
    uint64_t instance;
    const struct tr_actor_def *def;
    void *arg;
    void *state;
    struct tr_actor_opts opts;
    int is_client;
    struct reg_entry *reg;
    char url[TR_URL_MAX];         /* mailbox inproc URL */
    char ipc_url[TR_URL_MAX];     /* mailbox ipc URL or "" */
    char listen_url[TR_URL_MAX];  /* host processes: the only URL listened on */

    /* mailbox: one receive aio feeds a bounded ring (the high-water mark) */
    nng_socket mbox;
    int mbox_open;
    nng_aio *raio;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    nng_msg **ring;
    uint32_t cap, head, count;   /* cap = the high-water mark */
    uint32_t slots;              /* cap + 1: room for the one receive aio in
                                  * flight when fast sends filled the ring */
    pthread_cond_t room_cv;      /* fast senders: room in the ring, or intake
                                  * closed, or no pins left (actor_free) */
    uint32_t pins;               /* fast senders waiting on this instance (mu) */
    int recv_paused;
    int intake_closed;
    struct ctl_notice *notices, **notices_tail;
    int wake_ok;

    /* reply inbox, opened on first call */
    nng_socket rsock;
    int rsock_open, rsock_ipc;
    char reply_url[TR_URL_MAX];
    char reply_ipc_url[TR_URL_MAX];
    uint64_t next_corr;
    uint64_t late_replies;

    struct peer peers[TR_PEERS_MAX];
    size_t n_peers;
    uint64_t peer_clock;

    /* thread and loop */
    pthread_t th;
    uv_loop_t loop;
    uv_async_t wake;
    _Atomic uint64_t ping, pong;
    _Atomic int stop_req;        /* 0, 1 = drain, 2 = now */
    int exiting;
    int exit_reason;
    struct atimer *timers;
    uint64_t next_timer;

    /* start handshake and end */
    int started, init_rc;
    int finished, abandoned;
    actor_exit_cb exit_cb;
    void *exit_arg;
};

int actor_spawn(struct tr_system *sys, const char *name, const struct tr_actor_def *def,
                void *arg, const struct tr_actor_opts *opts, const char *listen_url,
                actor_exit_cb exit_cb, void *exit_arg, struct tr_actor **out,
                struct tr_error *err);
/* In-process fast path (actor.c): delivers m, an envelope, straight into
 * the ring of the thread actor registered as `name` in this system and
 * wakes its loop: one thread hop instead of nng's inproc transport and its
 * taskq thread. Blocks while the ring is at its high-water mark or the name
 * is restarting, up to timeout_ms (< 0: forever), like an nng send.
 * Returns 0 (m is owned by the mailbox now), TR_EOVERLOADED (timed out;
 * the caller keeps m), or 1: not a thread actor of this system (a URL, a
 * process actor, an unknown name): send through nng. */
int actor_fast_send(struct tr_system *sys, const char *name, nng_msg *m, int timeout_ms);
/* Wakes the actor's loop if it still runs (thread-safe). */
void actor_wake(struct tr_actor *a);
/* Gives up on a hung instance: closes its sockets so a new one can take the
 * name, detaches its thread (it frees itself if it ever returns). Returns 1
 * if abandoned, 0 if it had already finished (join it instead). */
int actor_abandon(struct tr_actor *a);
/* 1 once the actor's thread has finished (join will not block). */
int actor_finished(struct tr_actor *a);
/* Closes peers and the reply inbox (actor or client teardown). */
void actor_close_sockets(struct tr_actor *a);

/* clock helpers */
static inline uint64_t clk_now(const struct tr_actor_clock *c) { return c->now_ns(c->ctx); }
#define MS_NS 1000000ull

/* The restart-intensity window both supervisors keep (thread: sup.c, loop:
 * lsup.c): drops the times older than `period_ms`, records `now` unless the
 * window is already over `intensity`, and returns 1 when the restarts in
 * the window exceed `intensity`. `window` (caller-owned) has room for
 * intensity + 1 times. */
int sup_window_exceeded(uint64_t *window, size_t *nwin, uint32_t intensity, uint32_t period_ms,
                        uint64_t now);

/* The next restart's backoff for a child of either supervisor: a child
 * that ran for `period_ms` or longer starts the backoff over; *attempt
 * (the child's) is then counted up. `rnd` is the supervisor clock's
 * random draw for the jitter. */
uint64_t sup_restart_delay(uint64_t started_at, uint64_t now, uint32_t period_ms, uint32_t *attempt,
                           uint32_t base_ms, uint32_t max_ms, uint64_t rnd);

#endif
