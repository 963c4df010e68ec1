/* Operator backfill jobs: placeholder until the job runner lands. */
#include "pipe_bfjob.h"

#include <stdlib.h>
#include <string.h>

struct pipe_bfjobs {
    struct pipe_node *node;
};

int pipe_bfjob_parse(struct pipe_bfjob_args *a, const char *const *args, size_t nargs,
                     struct tr_error *err)
{
    (void)a;
    (void)args;
    (void)nargs;
    return tr_errorf(err, TR_EUNSUPPORTED, "backfill jobs are not built yet");
}

int pipe_bfjobs_open(struct pipe_bfjobs **out, struct pipe_node *n, struct tr_error *err)
{
    struct pipe_bfjobs *j = calloc(1, sizeof *j);
    if (!j)
        return tr_errorf(err, TR_ENOMEM, "allocate backfill jobs");
    j->node = n;
    *out = j;
    return 0;
}

void pipe_bfjobs_stop(struct pipe_bfjobs *j) { (void)j; }
void pipe_bfjobs_free(struct pipe_bfjobs *j) { free(j); }

int pipe_bfjob_start(struct pipe_bfjobs *j, const struct pipe_bfjob_args *a, char *job_id,
                     size_t id_cap, char *msg, size_t msg_cap)
{
    (void)j;
    (void)a;
    (void)job_id;
    (void)id_cap;
    (void)msg;
    (void)msg_cap;
    return TR_EUNSUPPORTED;
}

int pipe_bfjob_status(struct pipe_bfjobs *j, const char *job, struct tr_client_table *t,
                      struct tr_error *err)
{
    (void)j;
    (void)t;
    return tr_errorf(err, TR_ENOTFOUND, "no backfill job '%s'", job);
}
