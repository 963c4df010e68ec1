/* Operator backfill jobs (`backfill start STREAM seq|time FROM TO`,
 * `backfill status JOB`; docs/node.md "Backfill jobs"). Internal to node/.
 * Jobs run on the data-path loop; their status is read from any thread. */
#ifndef TR_NODE_PIPE_BFJOB_H
#define TR_NODE_PIPE_BFJOB_H

#include <stddef.h>
#include <stdint.h>

#include "tickraft/client.h"
#include "tickraft/error.h"
#include "tickraft/event.h"
#include "tickraft/log.h"

struct pipe_node;
struct pipe_bfjobs;

struct pipe_bfjob_args {
    char stream[TR_LOG_STREAM_MAX + 1];
    int by_time;          /* 0: FROM/TO are native seqs, 1: ns since the epoch */
    int64_t from, to;     /* inclusive */
};

/* Parses "start STREAM seq|time FROM TO". Any thread. */
int pipe_bfjob_parse(struct pipe_bfjob_args *a, const char *const *args, size_t nargs,
                     struct tr_error *err);
/* Loop thread. */
int pipe_bfjobs_open(struct pipe_bfjobs **out, struct pipe_node *n, struct tr_error *err);
/* Loop thread, at stop: running jobs end as failed ("node stopping"). */
void pipe_bfjobs_stop(struct pipe_bfjobs *j);
void pipe_bfjobs_free(struct pipe_bfjobs *j);
/* Loop thread: starts a job; writes its id to job_id. Returns 0 or a TR_E*
 * code with the reason in msg. */
int pipe_bfjob_start(struct pipe_bfjobs *j, const struct pipe_bfjob_args *a, char *job_id,
                     size_t id_cap, char *msg, size_t msg_cap);
/* Any thread: one row job/stream/state/progress/detail. */
int pipe_bfjob_status(struct pipe_bfjobs *j, const char *job, struct tr_client_table *t,
                      struct tr_error *err);

/* ---- the loop side (pipe_rest.c) ---- */
struct pipe_bfjob;
/* What the next REST page asks for: trades of `instrument` after `cursor`. */
const char *pipe_bfjob_instrument(const struct pipe_bfjob *b);
uint64_t pipe_bfjob_cursor(const struct pipe_bfjob *b);
/* A page of trades (ascending) arrived; `more`: the provider may have more.
 * Writes fills, asks for the next page or finishes. <0: a log error. */
int pipe_bfjob_page(struct pipe_bfjob *b, const struct tr_event *evs, size_t n, int more);
/* REST gave up on the job's request (400/404/401/403, bad bodies). */
void pipe_bfjob_failed(struct pipe_bfjob *b, const char *why);

#endif
