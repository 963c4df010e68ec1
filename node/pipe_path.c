/* The per-event data path of the collector, in one place so that the node
 * (pipe_conn.c's frame handler, pipe_node.c's deduplicator callback) and
 * `tickraft-bench pipeline` (tests/bench/bench_pipeline.c) run the same
 * code: a parsed frame's data events to their canonical streams, and a
 * record the deduplicator emits into the writer's batch. */
#include "pipe.h"

#include <time.h>

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int pipe_path_offer_frame(struct pipe_dedup *d, const struct tr_provider_ops *ops,
                          const struct tr_frame *fr, const void *src, struct pipe_feed *feed,
                          uint64_t *offered)
{
    uint64_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < fr->n_events; i++) {
        const struct tr_event *ev = &fr->events[i];
        if (ev->kind == TR_KIND_GAP || ev->kind == TR_KIND_NONE)
            continue;
        const struct tr_stream_desc *desc = ops->stream(ev->kind);
        struct pd_stream *s = pipe_dedup_stream(d, ev->provider, ev->kind, ev->instrument, desc);
        if (!s) {
            d->rejected++;
            continue;
        }
        s->feed = feed;
        n++;
        if ((rc = pipe_dedup_offer(d, s, ev, src)) < 0)
            break;
    }
    *offered = n;
    return rc < 0 ? rc : 0;
}

int pipe_path_emit(struct pipe_writer *w, struct pd_stream *s, uint64_t seq,
                   const struct tr_event *ev, const uint8_t *enc, size_t enc_len,
                   struct tr_error *err)
{
    return pipe_path_emit_sent(w, s, seq, ev, enc, enc_len, 0, err);
}

int pipe_path_emit_sent(struct pipe_writer *w, struct pd_stream *s, uint64_t seq,
                        const struct tr_event *ev, const uint8_t *enc, size_t enc_len,
                        int64_t sent_ns, struct tr_error *err)
{
    int64_t ts = ev ? ev->ts_exchange : 0;
    if (!ev && s->n > s->head)
        ts = s->buf[s->head].ts;
    int64_t now = 0;
    if (!ts)
        ts = now = wall_ns();
    /* latency samples: live events only (received on a WebSocket just now);
     * backfilled and buffered ones measure the repair, not the path. The
     * clock starts when the provider sent the frame if its dialect says
     * (the simulator's sent_ns), else at the event's own time, which may
     * be earlier than the send by the provider's batching. */
    int64_t lat_ts = ev && (ev->fields & TR_F_TS_RECEIVE) && (ev->fields & TR_F_TS_EXCHANGE) &&
                             ev->kind != TR_KIND_GAP
                         ? (sent_ns > 0 ? sent_ns : ev->ts_exchange)
                         : 0;
    int rc = pipe_writer_add2(w, s->key, s->key_len, seq, ts, lat_ts, lat_ts ? ev->ts_receive : 0,
                              ev, enc, enc_len, &s->last_lsn, err);
    if (rc)
        return rc;
    /* the frame's receive time stands for "now" when there is one: a clock
     * read per event costs ~20 ns at a million events per second */
    s->last_write_ns = ev && (ev->fields & TR_F_TS_RECEIVE) ? ev->ts_receive
                       : now                                ? now
                                                            : wall_ns();
    return 0;
}
