/* SDK internals shared by clients/client.c (connections, calls, admin,
 * history) and clients/sub.c (subscriptions). */
#ifndef TICKRAFT_CLIENTS_CLIENT_INT_H
#define TICKRAFT_CLIENTS_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <nng/nng.h>

#include "tickraft/client.h"
#include "tickraft/protocol.h"

#define TR_LOG_STREAM_MAX_CLIENT 255 /* same bound as the log's stream keys */

struct tr_client {
    char **nodes;
    size_t n_nodes;
    char *token, *name;
    char *tls_ca, *tls_cert, *tls_name; /* NULL when not given */
    int timeout_ms;
    pthread_mutex_t mu; /* serialises calls on `rpc` */
    struct conn *rpc;
};

/* Outstanding FETCHes a subscription may keep (TR_PROTO_PIPELINE_MAX). */
#define TR_CLIENT_PIPELINE_MAX TR_PROTO_PIPELINE_MAX

struct conn;

/* One nng context of the connection's req socket, holding one request at
 * a time (clients/slot.c): a subscription pipelines its FETCHes on them. */
struct conn_slot {
    struct conn *k;
    nng_ctx ctx;
    nng_aio *saio;      /* send, no callback (completes without a thread hop) */
    nng_aio *raio;      /* receive; its callback sets done */
    int open;           /* ctx and aios exist on the current socket */
    int pending;        /* a receive is outstanding */
    int done;           /* guarded by k->mu: raio completed */
    int64_t sent_ms;    /* monotonic ms of the send */
    int64_t deadline_ms; /* monotonic: past it with no reply the node counts as gone */
};

/* One connection to one node at a time, failing over round robin. */
struct conn {
    const struct tr_client *c;
    nng_socket sock;
    int open;
    nng_aio *aio;
    atomic_int lost;  /* the node's pipe went away */
    atomic_int sock_id; /* id of the open socket, -1 when closed */
    size_t node;      /* index of the node in use / to try next */
    nng_msg *reply;   /* last reply (owned) */
    pthread_mutex_t mu; /* guards done; cv signals done or lost */
    pthread_cond_t cv;
    int done;         /* the aio completed */
    msgpack_unpacked u;
    uint32_t minor;   /* protocol minor version of the connected node (HELLO) */
    struct conn_slot slot[TR_CLIENT_PIPELINE_MAX];
};

int conn_alloc(const struct tr_client *c, size_t first_node, struct conn **out);
void conn_free(struct conn *k);
/* Closes the connection and moves on to the next node. */
void conn_next(struct conn *k);
/* Connects (handshake included) if not connected, trying each node once:
 * 0 (k->minor is then the node's), TR_ECONNREFUSED, or a handshake error. */
int conn_open(struct conn *k, struct tr_error *err);
/* Sends `req` and waits for the reply (timeout rpc + extra_ms), connecting
 * (with a handshake) first if needed, trying each node once. On success
 * *rep points into the connection (valid until the next call). Transport
 * failures give TR_ECONNREFUSED (no node answered the connect) or
 * TR_ECONNRESET (the node went away / timed out; the connection moved on);
 * a reply with an error status gives that status and its message. */
int conn_call(struct conn *k, const struct tr_buf *req, int extra_ms,
              struct tr_proto_reply *rep, struct tr_error *err);
const char *conn_url(const struct conn *k);
/* nng error -> TR_E* code. */
int conn_map_nng(int rv);
int64_t conn_mono_ms(void);

/* ---- pipelined requests (clients/slot.c) ----
 * Sends `req` on slot i of the open connection and starts waiting for its
 * reply in the background; the node counts as gone if no reply came
 * within timeout_ms. The slot must have nothing outstanding. 0, or
 * TR_ECONNRESET / TR_ENOMEM (err filled). */
int conn_slot_send(struct conn *k, unsigned i, const struct tr_buf *req, int timeout_ms,
                   struct tr_error *err);
/* Waits for slot i's reply until monotonic ms `until`: 1 and *out (the
 * caller owns the message), 0 when `until` came first (still outstanding),
 * or TR_ECONNRESET when the node's pipe went away or the slot's own
 * deadline passed (the receive is cancelled; the caller moves on). */
int conn_slot_wait(struct conn *k, unsigned i, int64_t until, nng_msg **out,
                   struct tr_error *err);
/* Cancels every outstanding slot receive (their replies are dropped). */
void conn_slots_abandon(struct conn *k);
/* Waits up to timeout_ms for the outstanding slots' replies and drops
 * them, then abandons the rest: closing a socket while replies are still
 * arriving on its contexts hung nng 1.5.2's close (its reaper thread
 * stuck; test_client_pub_integration, idle subscribers, ~1 run in 6). */
void conn_slots_drain(struct conn *k, int timeout_ms);
/* Frees the slots' contexts and aios; before the socket closes. */
void conn_slots_close(struct conn *k);

/* Fills m from a record [stream, seq, ts, payload]; key copied to keybuf. */
int client_record(const msgpack_object *o, char *keybuf, struct tr_client_msg *m);

#endif
