/* Publisher internals shared by node/pub_server.c (sockets, workers,
 * dispatch, admin) and node/pub_sub.c (subscriptions and history). */
#ifndef TICKRAFT_NODE_PUB_INT_H
#define TICKRAFT_NODE_PUB_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <nng/nng.h>

#include "pub.h"
#include "tickraft/protocol.h"

struct pub_session;
struct worker_arg; /* pub_server.c: a worker's publisher and index */

struct pub_counters {
    atomic_uint_fast64_t requests, errors, malformed, oversized, unauthenticated, bad_version,
        subscribes, fetches, queries, admin_calls, events_sent, bytes_sent, fell_behind,
        busy, live_subscribes;
};

struct tr_pub {
    struct tr_pub_options o;
    char **listen;       /* owned copies */
    char *node_name, *admin_token, *data_token;
    nng_socket sock;
    pthread_t *threads;
    struct worker_arg *wargs; /* one per worker thread */
    unsigned n_threads;
    atomic_int stopping;
    atomic_uint waiters; /* workers inside a long-poll wait */
    struct pub_counters c;
    pthread_mutex_t mu;  /* guards the session table */
    struct pub_session **sessions; /* max_subscribers slots */
    uint64_t next_id;
    uint64_t n_sessions;
};

/* A reply under construction: the msgpack bytes of one reply. */
struct pub_reply {
    struct tr_buf b;
    msgpack_packer pk;
};

/* Packs an error reply into r (resetting it) and counts it. */
void pub_reply_error(struct tr_pub *p, struct pub_reply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Decodes one request (`len` bytes at `data`, untrusted) and packs the
 * whole reply into r (reset first). Worker threads; the fuzz target
 * (tests/fuzz/fuzz_pub_request.c) calls it directly. */
void pub_handle(struct tr_pub *p, const void *data, size_t len, struct pub_reply *r);

/* Handlers: each packs a whole reply (success or error) into r. */
void pub_subscribe(struct tr_pub *p, const msgpack_object_array *body, struct pub_reply *r);
void pub_fetch(struct tr_pub *p, const msgpack_object_array *body, struct pub_reply *r);
void pub_unsubscribe(struct tr_pub *p, const msgpack_object_array *body, struct pub_reply *r);
void pub_query(struct tr_pub *p, const msgpack_object_array *body, struct pub_reply *r);
/* Wakes the fetches waiting for their turn (close: they see `stopping`). */
void pub_sessions_wake(struct tr_pub *p);
/* Frees every session (close). */
void pub_sessions_free(struct tr_pub *p);

int64_t pub_now_ns(void);

/* How many workers may wait at once (in a long-poll or for a pipelined
 * FETCH's turn): all but two, which stay free for other requests. */
static inline unsigned pub_max_waiters(const struct tr_pub *p)
{
    return p->n_threads > 2 ? p->n_threads - 2 : 1;
}

#endif
