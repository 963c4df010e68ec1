/* The publisher: the node's client-facing server (docs/protocol.md). It
 * serves live subscriptions, history queries and admin calls over nng
 * req/rep, reading straight from the node's durable log, so it needs no
 * pipeline internals: the node hands it the tr_log and an admin callback.
 *
 * Threads: tr_pub_open starts `workers` threads, each serving one request
 * at a time on its own nng context (a long-polling subscriber holds one for
 * up to its wait). The admin callback runs on those threads, several at
 * once: it must be thread-safe. */
#ifndef TICKRAFT_NODE_PUB_H
#define TICKRAFT_NODE_PUB_H

#include <stddef.h>
#include <stdint.h>

#include "tickraft/client.h"
#include "tickraft/error.h"
#include "tickraft/log.h"
#include "tickraft/protocol.h" /* tr_client_table_cols/_row/_kv for admin callbacks */

struct tr_pub;

/* Admin hook. `cmd` is the command ("status", "health", "metrics",
 * "feeds", "backfill", ...), args its string arguments. Fill `t` (already
 * holding the publisher's own rows for status/health/metrics, whose columns
 * are fixed: key/value, check/state/detail, metric/value). Return 0, or a
 * TR_E* code with a message in err (sent to the client as is);
 * TR_ENOTFOUND for a command it does not know. */
typedef int (*tr_pub_admin_cb)(void *arg, const char *cmd, const char *const *args,
                               size_t nargs, struct tr_client_table *t, struct tr_error *err);

struct tr_pub_options {
    const char *const *listen; /* URLs; NULL = { TR_PROTO_DEFAULT_URL } (loopback) */
    size_t n_listen;
    const char *node_name;     /* reported by HELLO and status; NULL = "tickraft-node" */
    const char *admin_token;   /* NULL or "" = admin calls refused (TR_EPERM) */
    const char *data_token;    /* NULL or "" = data reads open */
    struct tr_log *log;        /* borrowed; must outlive the publisher */
    unsigned workers;          /* default 32; all but two may sit in a long-poll or hold a
                                  pipelined FETCH (a live subscriber uses up to two) */
    unsigned max_subscribers;  /* default 256 */
    uint32_t idle_ms;          /* a subscription not fetched for this long is dropped; 60000 */
    uint32_t max_batch_events; /* per FETCH reply; default 4096 */
    uint32_t max_batch_bytes;  /* per FETCH reply; default 1 MiB */
    size_t max_request;        /* default TR_PROTO_MAX_REQUEST */
    uint32_t max_wait_ms;      /* cap on one FETCH long-poll; default 250 */
    /* TLS for tls+tcp:// listen URLs (nng's TLS, mbedTLS on Debian): */
    const char *tls_cert_key_file; /* PEM file: certificate (chain) then private key; required
                                      for a tls+tcp:// URL, ignored otherwise */
    const char *tls_ca_file;       /* PEM file: when set, clients must present a certificate
                                      signed by this CA (mutual TLS); NULL = not asked */
    tr_pub_admin_cb admin_cb;
    void *admin_arg;
    /* Called first on each worker thread (role "pub", n = 0..workers-1),
     * e.g. to raise its scheduling priority (the node's latency_sched):
     * a worker that holds a long-poll is the one that reads and sends the
     * records once they are durable. NULL = none; thread_arg is borrowed
     * until tr_pub_close. */
    void (*thread_cb)(void *arg, const char *role, unsigned n);
    void *thread_arg;
    int speak_1_0;             /* tests: behave as a protocol 1.0 node (HELLO reports minor 0,
                                  a FETCH ahead of its turn gets TR_EPROTO) */
    int speak_1_1;             /* tests: behave as a protocol 1.1 node (HELLO reports minor 1,
                                  a SUBSCRIBE with the 1.2 options element gets TR_EPARSE) */
};
void tr_pub_options_init(struct tr_pub_options *o);

/* Listens and starts the workers. Returns 0 and a heap publisher (stop and
 * free with tr_pub_close), TR_EINVAL (no log), TR_EIO (cannot listen:
 * address in use, bad URL; the message names the URL), TR_ENOMEM. */
int tr_pub_open(struct tr_pub **out, const struct tr_pub_options *o, struct tr_error *err);
/* Stops the workers (within ~0.5 s), closes the sockets, frees everything.
 * NULL is a no-op. The log may be closed after this returns. */
void tr_pub_close(struct tr_pub *p);

struct tr_pub_stats {
    uint64_t requests;        /* every request received */
    uint64_t errors;          /* error replies of any kind */
    uint64_t malformed;       /* not a valid envelope / body, unknown type */
    uint64_t oversized;       /* larger than max_request */
    uint64_t unauthenticated; /* missing or wrong token */
    uint64_t bad_version;     /* unknown major version */
    uint64_t subscribes, fetches, queries, admin_calls;
    uint64_t events_sent;     /* records in FETCH and QUERY replies */
    uint64_t bytes_sent;
    uint64_t fell_behind;     /* FELL_BEHIND notices sent */
    uint64_t busy;            /* pipelined FETCHes refused with TR_EBUSY (no spare worker) */
    uint64_t live_subscribes; /* SUBSCRIBEs with the live option (1.2) */
    uint64_t subscribers;     /* live sessions now */
};
/* Snapshot of the counters. Any thread. */
void tr_pub_stats(struct tr_pub *p, struct tr_pub_stats *st);

#endif
