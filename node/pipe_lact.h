/* The collector's loop actors (node/pipe_lact.c): per feed a connection
 * actor "conn-<feed>" (its WebSocket connections: the rotation pair and
 * the overflow ones) and a REST poller actor "poll-<feed>" (market registry
 * refresh, snapshots and backfills), children of one loop supervisor
 * (include/tickraft/actor_loop.h) on the collector's loop, one_for_one.
 * The deduplicator is the collector itself (docs/node.md "Shape"). */
#ifndef TR_NODE_PIPE_LACT_H
#define TR_NODE_PIPE_LACT_H

#include <stdatomic.h>
#include <stdint.h>

struct pipe_node;
struct pipe_feed;
struct tr_system;
struct tr_error;

/* Fault injection for tests, owned by main (outlives collector restarts):
 * the connection / poller actor of feed `feed` ("" = the first feed)
 * reports an internal error `*_ms` after it started (0 = off), once, or in
 * every incarnation with `repeat`. */
struct pipe_lact_faults {
    uint32_t conn_ms, poll_ms;
    char feed[64];
    int repeat;
    atomic_int conn_done, poll_done;
};

/* Starts the supervisor and its children (pollers first, then the
 * connections, in feed order) on the node's loop. `faults` may be NULL.
 * Escalation (more than its intensity) stops the pipeline with
 * TR_EINTERNAL, so the collector restarts. */
int pipe_lact_open(struct pipe_node *n, struct tr_system *sys, struct pipe_lact_faults *faults,
                   struct tr_error *err);
/* Stops the children (connections dropped, REST requests abandoned) and
 * closes the supervisor's handles; the loop must run after. NULL-safe. */
void pipe_lact_close(struct pipe_node *n);
/* 1 if the feed's connection actor runs (or the node has none). */
int pipe_lact_conn_up(const struct pipe_feed *f);

#endif
