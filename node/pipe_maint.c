/* Exchange maintenance for one feed: the reference's "Exchange Status
 * Handling" (shared/reference: poll the status endpoint until the
 * estimated resume time, then resume) applied to the whole feed, not only
 * to REST.
 *
 * - A status answer "maintenance" holds every WebSocket (re)connect of the
 *   feed and the REST queue; the status is polled again at the announced
 *   resume time (+ MARGIN_MS), at most maintenance_poll later so an early
 *   end or a moved time is seen; without an announced time (or once it has
 *   passed) every maintenance_poll (default 30 s, the reference's floor).
 * - A close 1001 (going away) or a refused connection may be maintenance:
 *   the reconnect waits for one status answer (PM_HOLD_CHECK) instead of
 *   racing it; open (or no answer) lets it go with the backoff it had.
 * - "open" ends the hold: the feed reconnects at once; its subscriptions
 *   backfill the trades of the outage and resync the books, as after any
 *   reconnect.
 * - The bound: a hold lasts at most maintenance_max from the first report
 *   (default 6 h); past it the WebSocket reconnects with its own backoff
 *   even if the status still says maintenance (a stale status endpoint
 *   must not silence a feed for good). */
#include "pipe_feed.h"

#include "nlog.h"
#include "tickraft/actor_sup.h"

#define MARGIN_MS 500 /* after the announced time: the exchange's clock has passed it too */

uint64_t pipe_maint_poll_ms(int64_t now_ns, int64_t resume_ns, uint32_t poll_ms)
{
    if (resume_ns <= now_ns)
        return poll_ms;
    uint64_t w = (uint64_t)((resume_ns - now_ns) / 1000000) + MARGIN_MS;
    return w > poll_ms ? poll_ms : w;
}

int pipe_maint_within_bound(int64_t now_ns, int64_t since_ns, uint64_t max_ms)
{
    return now_ns - since_ns < (int64_t)max_ms * 1000000;
}

static void hold(struct pipe_feed *f, int how)
{
    if (!f->ws_hold)
        f->held_since_ns = pipe_now_ns();
    f->ws_hold = how;
    uv_timer_stop(&f->retry_timer);
}

/* Ends a hold: reconnect in delay_ms (primary) and reopen overflow ones. */
static void release(struct pipe_feed *f, uint64_t delay_ms, const char *why)
{
    if (!f->ws_hold)
        return;
    uint64_t held = (uint64_t)((pipe_now_ns() - f->held_since_ns) / 1000000);
    f->maint_held_ms += held;
    f->ws_hold = PM_HOLD_NONE;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "maint", "reconnects go ahead",
            TR_KV_STR("feed", f->cfg->name), TR_KV_STR("why", why), TR_KV_UINT("held_ms", held),
            TR_KV_UINT("delay_ms", delay_ms));
    pipe_feed_reconnect_in(f, delay_ms);
}

int pipe_maint_hold_ws(struct pipe_feed *f, int cause, int code, uint64_t delay_ms)
{
    int64_t now = pipe_now_ns();
    if (f->maintenance) {
        if (!pipe_maint_within_bound(now, f->maint_since_ns, f->cfg->maint_max_ms))
            return 0;
        hold(f, PM_HOLD_MAINT);
        return 1;
    }
    if ((code != 1001 && cause != PC_C_REFUSED) || f->halted_rest)
        return 0;
    if (f->ws_hold == PM_HOLD_CHECK) /* a status answer is already awaited */
        return 1;
    hold(f, PM_HOLD_CHECK);
    f->held_delay_ms = delay_ms;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "maint",
            "reconnect waits for the exchange status", TR_KV_STR("feed", f->cfg->name),
            TR_KV_INT("code", code), TR_KV_UINT("backoff_ms", delay_ms));
    pipe_rest_status_now(f);
    return 1;
}

/* What is left of the backoff a checked reconnect would have waited. */
static uint64_t rest_of_delay(const struct pipe_feed *f)
{
    uint64_t gone = (uint64_t)((pipe_now_ns() - f->held_since_ns) / 1000000);
    return gone >= f->held_delay_ms ? 0 : f->held_delay_ms - gone;
}

uint64_t pipe_maint_status(struct pipe_feed *f, int status, int64_t resume_ns)
{
    struct tr_nlog *lg = pipe_node_log(f->node);
    int64_t now = pipe_now_ns();
    if (status == TR_XSTATUS_MAINTENANCE) {
        if (!f->maintenance) {
            f->maintenance = 1;
            f->maint_since_ns = now;
            f->maint_windows++;
        }
        f->resume_ns = resume_ns;
        uint64_t wait = pipe_maint_poll_ms(now, resume_ns, f->cfg->maint_poll_ms);
        int within = pipe_maint_within_bound(now, f->maint_since_ns, f->cfg->maint_max_ms);
        tr_nlog(lg, TR_NLOG_WARN, "maint", "exchange in maintenance",
                TR_KV_STR("feed", f->cfg->name), TR_KV_INT("resume_ns", resume_ns),
                TR_KV_UINT("next_poll_ms", wait), TR_KV_BOOL("ws_held", within));
        if (within) {
            /* an open connection stays (the exchange still serves it); one
             * that is down waits for the end */
            if (f->ws_hold || f->conn[f->active].state == PC_IDLE)
                hold(f, PM_HOLD_MAINT);
        } else {
            release(f, tr_backoff_ms(f->cfg->backoff_base_ms, f->cfg->backoff_max_ms,
                                     f->attempt++, pipe_node_rand(f->node)),
                    "maintenance_max passed");
        }
        return wait;
    }
    int was = f->maintenance;
    f->maintenance = 0;
    f->resume_ns = 0;
    if (was)
        tr_nlog(lg, TR_NLOG_INFO, "maint", "exchange open again", TR_KV_STR("feed", f->cfg->name),
                TR_KV_INT("maintenance_ms", (now - f->maint_since_ns) / 1000000));
    if (f->ws_hold == PM_HOLD_MAINT || (was && f->ws_hold)) {
        f->attempt = 0;
        release(f, 0, "exchange open");
    } else if (f->ws_hold == PM_HOLD_CHECK) {
        release(f, rest_of_delay(f), "exchange open: own backoff");
    }
    return 0;
}

void pipe_maint_status_unknown(struct pipe_feed *f)
{
    if (f->ws_hold == PM_HOLD_CHECK && !f->maintenance)
        release(f, rest_of_delay(f), "no status answer: own backoff");
}
