/* The collector's loop actors (node/pipe_lact.c): per feed a connection
 * actor per WebSocket connection ("conn-<feed>": the primary one, always
 * there; "conn-<feed>.next": a rotation's incoming one while the rotation
 * lasts; "conn-<feed>.<slot>": an overflow connection of shed markets while
 * it has markets, or while it is an overflow rotation's new one) and a
 * REST poller actor "poll-<feed>" (market registry refresh, snapshots and
 * backfills), children of one loop supervisor
 * (include/tickraft/actor_loop.h) on the collector's loop, one_for_one.
 * The deduplicator is the collector itself (docs/node.md "Shape"). */
#ifndef TR_NODE_PIPE_LACT_H
#define TR_NODE_PIPE_LACT_H

#include <stdatomic.h>
#include <stdint.h>

struct pipe_node;
struct pipe_feed;
struct pipe_conn;
struct tr_system;
struct tr_error;

/* Fault injection for tests, owned by main (outlives collector restarts):
 * the connection actor of role `conn_role` (PL_PRIMARY, PL_NEXT or an
 * overflow slot 2..) / the poller actor of feed `feed` ("" = the first
 * feed) reports an internal error `*_ms` after it started (0 = off), once,
 * or in every incarnation with `repeat`. */
struct pipe_lact_faults {
    uint32_t conn_ms, poll_ms;
    int conn_role;
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
/* 1 if the feed's primary connection actor runs (or the node has none). */
int pipe_lact_conn_up(const struct pipe_feed *f);
/* Opens connection `slot` through the actor of its role (the active pair
 * slot: the primary; the other one: the rotation's; overflow: its own),
 * starting that actor first when it is not running (added at its first
 * use). Returns the connect's result, or 0 without connecting while the
 * actor waits for its restart (the restart connects) or refuses to start. */
int pipe_lact_conn_open(struct pipe_feed *f, int slot);
/* The socket of transient role `role` (PL_NEXT, an overflow slot) is
 * closed on purpose: its actor ends without a restart (terminate_child).
 * No-op for the primary, an absent actor or without actors. */
void pipe_lact_conn_release(struct pipe_feed *f, int role);
/* A rotation promotes its incoming connection c: the primary actor owns
 * it from now on and the rotation's actor ends. */
void pipe_lact_conn_adopt(struct pipe_feed *f, struct pipe_conn *c);

#endif
