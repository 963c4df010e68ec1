/* lws's own log lines into the node's structured log. lws prints its
 * errors to stderr in a format of its own ("[2026/12/03 15:41:39:5577] E:
 * SSL error: hostname mismatch ..."); routed here they become
 * component=lws lines of the node's log, rate-limited like the rest. lws's
 * emit hook is process-wide and has no context, so the logger is a
 * process-wide pointer: the node has one logger, shared by its threads. */
#include "pipe_feed.h"

#include <stdatomic.h>
#include <string.h>

#include <libwebsockets.h>

#include "nlog.h"

static _Atomic(struct tr_nlog *) lws_lg;

static void emit(int level, const char *line)
{
    struct tr_nlog *lg = atomic_load(&lws_lg);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    tr_nlog(lg, level == LLL_ERR ? TR_NLOG_ERROR : TR_NLOG_WARN, "lws", "lws log",
            TR_KV_STRN("line", line, n));
}

void pipe_lws_log_to(struct tr_nlog *lg)
{
    atomic_store(&lws_lg, lg);
    lws_set_log_level(LLL_ERR, emit);
}
