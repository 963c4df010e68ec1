/* Operator commands that change the pipeline (docs/ctl.md, docs/node.md
 * "Operator commands"): feed pause/resume and backfill jobs.
 *
 * The publisher calls the node's admin callback on its own worker threads,
 * but the pipeline (feeds, deduplicator, writer) belongs to the data-path
 * loop. So a command is queued under a mutex and handed over with a
 * uv_async; the loop applies it and signals the waiting worker, which
 * answers the client (bounded wait: a loop that does not answer within
 * 2 s gets "still pending", never a stuck worker). Internal to node/. */
#ifndef TR_NODE_PIPE_ADMIN_H
#define TR_NODE_PIPE_ADMIN_H

#include <stddef.h>

#include <uv.h>

#include "tickraft/client.h"
#include "tickraft/error.h"

struct pipe_node;
struct pipe_admin;

/* Loop thread, at node open. On success *out is owned by the node. */
int pipe_admin_open(struct pipe_admin **out, struct pipe_node *n, uv_loop_t *loop,
                    struct tr_error *err);
/* Loop thread, with the node's other handles at stop: closes the async
 * handle and answers queued commands with TR_ESHUTDOWN. */
void pipe_admin_close_handles(struct pipe_admin *a);
/* After the loop ran out. NULL is a no-op. */
void pipe_admin_free(struct pipe_admin *a);
/* Any thread: commands from now on are refused with TR_ESHUTDOWN and
 * waiting workers wake up (call before closing the publisher). */
void pipe_admin_closing(struct pipe_admin *a);

/* Any thread (the publisher's workers). Handles `feeds pause FEED`,
 * `feeds resume FEED`, `backfill start STREAM seq|time FROM TO` and
 * `backfill status JOB`; fills `t`. Returns 0, a TR_E* code with a message
 * in err, or TR_ENOTFOUND (with no message) for a command it does not
 * handle ("feeds list" is the caller's). */
int pipe_admin_call(struct pipe_admin *a, const char *cmd, const char *const *args,
                    size_t nargs, struct tr_client_table *t, struct tr_error *err);

#endif
