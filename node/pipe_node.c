/* The pipeline of one node: the lws context on the data-path loop, one
 * struct pipe_feed per configured feed, the deduplicator, the writer and
 * the durable log, plus the once-a-second housekeeping (checkpoint file,
 * status snapshot) and the graceful stop.
 *
 * Stop order (shared/reference high-availability guide, "Graceful
 * shutdown"), bounded at 30 s:
 *   1. stop accepting subscriptions (no reconnects, rotations, new feeds);
 *   2. flush the pipeline: wait for REST repairs in flight (<= 30 s), then
 *      append everything queued;
 *   3. commit the log (tr_log_flush) and write the checkpoint file;
 *   4. close provider connections (close frame 1001 "going away");
 *   5. close sinks (none yet) and the log (pipe_node_close). */
#include "pipe_feed.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "metrics.h"
#include "nlog.h"
#include "pipe_admin.h"
#include "pipe_lact.h"


struct pipe_node {
    uv_loop_t *loop;
    const struct pipe_cfg *cfg;
    struct tr_nlog *lg;
    struct lws_context *lws;
    struct tr_log *log;
    struct pipe_writer w;
    struct pipe_dedup dd;
    struct pipe_feed *feeds;
    size_t n_feeds;
    uv_check_t flush_check;
    uv_timer_t second, stop_timer;
    uv_poll_t durable_poll;
    int notify_fd;
    uint64_t durable_lsn, ckpt_lsn;
    int stopping;     /* 1: stop requested */
    int accepting;    /* data frames still processed */
    int64_t stop_start_ns, start_ns;
    void (*done_cb)(void *arg, int rc);
    void *done_arg;
    int fatal;
    int log_external;  /* the log belongs to the caller (actor tree) */
    int closed;        /* stop_now ran */
    int64_t frame_sent_ns; /* the provider's send stamp of the frame being
                              offered (0: none; pipe_conn sets it) */
    uint64_t rnd;
    uint64_t restored_records;
    /* rates */
    uint64_t last_appended, last_events;
    double rate_written, rate_events;
    struct tr_buf status;
    struct tr_metrics *metrics;
    uint64_t metrics_gen; /* this incarnation for tr_metrics_mirror: the epoch */
    pthread_mutex_t snap_mu;
    struct pipe_snap snap;
    struct pipe_admin *admin; /* operator commands (pipe_admin.c) */
    struct tr_lsup *lsup;     /* the feeds' loop actors (pipe_lact.c), or NULL */
    struct pipe_lact_faults *lact_faults;
};

int64_t pipe_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct lws_context *pipe_node_lws(struct pipe_node *n) { return n->lws; }
struct pipe_dedup *pipe_node_dedup(struct pipe_node *n) { return &n->dd; }
struct tr_nlog *pipe_node_log(struct pipe_node *n) { return n->lg; }
struct tr_log *pipe_node_log_handle(struct pipe_node *n) { return n->log; }
int pipe_node_stopping(struct pipe_node *n) { return n->stopping; }
int pipe_node_accepting(struct pipe_node *n) { return n->accepting; }
size_t pipe_node_n_feeds(struct pipe_node *n) { return n->n_feeds; }
struct pipe_feed *pipe_node_feed(struct pipe_node *n, size_t i) { return &n->feeds[i]; }
struct pipe_writer *pipe_node_writer(struct pipe_node *n) { return &n->w; }
uv_loop_t *pipe_node_loop(struct pipe_node *n) { return n->loop; }
unsigned pipe_node_origin(struct pipe_node *n) { return n->cfg->node_id; }
struct pipe_admin *pipe_node_admin(struct pipe_node *n) { return n ? n->admin : NULL; }
struct tr_lsup *pipe_node_lsup(struct pipe_node *n) { return n->lsup; }
void pipe_node_set_lsup(struct pipe_node *n, struct tr_lsup *sup) { n->lsup = sup; }
struct pipe_lact_faults *pipe_node_lact_faults(struct pipe_node *n) { return n->lact_faults; }
void pipe_node_set_lact_faults(struct pipe_node *n, struct pipe_lact_faults *fx) { n->lact_faults = fx; }

uint64_t pipe_node_rand(struct pipe_node *n)
{
    uint64_t x = n->rnd += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void stop_now(struct pipe_node *n, int rc);

void pipe_node_fatal(struct pipe_node *n, int code, const char *what)
{
    if (n->fatal)
        return;
    n->fatal = code ? code : TR_EINTERNAL;
    tr_nlog(n->lg, TR_NLOG_ERROR, "node", "fatal error, stopping", TR_KV_STR("what", what),
            TR_KV_STR("code", tr_err_name(code)));
    pipe_node_stop(n, n->done_cb, n->done_arg);
}

/* ---- deduplicator callbacks ---- */

static int emit_cb(void *arg, struct pd_stream *s, uint64_t seq, const struct tr_event *ev,
                   const uint8_t *enc, size_t enc_len)
{
    struct pipe_node *n = arg;
    struct tr_error err;
    tr_error_clear(&err);
    int rc = pipe_path_emit_sent(&n->w, s, seq, ev, enc, enc_len, n->frame_sent_ns, &err);
    if (rc)
        tr_nlog(n->lg, TR_NLOG_ERROR, "writer", "append failed", TR_KV_ERR(&err));
    return rc;
}

void pipe_node_set_frame_sent(struct pipe_node *n, int64_t sent_ns)
{
    n->frame_sent_ns = sent_ns;
}

static void want_backfill_cb(void *arg, struct pd_stream *s)
{
    (void)arg;
    if (s->feed)
        pipe_rest_enqueue(s->feed, TR_REST_TRADES, s);
}

static void want_snapshot_cb(void *arg, struct pd_stream *s)
{
    (void)arg;
    if (s->feed)
        pipe_rest_enqueue(s->feed, TR_REST_BOOK, s);
}

/* ---- loop handles ---- */

static void flush_cb(uv_check_t *h)
{
    struct pipe_node *n = h->data;
    struct tr_error err;
    tr_error_clear(&err);
    int rc = pipe_writer_flush_soft(&n->w, &err); /* end of a loop turn */
    if (rc && rc != TR_ENOSPACE) {
        tr_nlog(n->lg, TR_NLOG_ERROR, "writer", "append failed", TR_KV_ERR(&err));
        pipe_node_fatal(n, rc, "append to the log");
    }
}

static void durable_cb(uv_poll_t *h, int status, int events)
{
    struct pipe_node *n = h->data;
    (void)status;
    (void)events;
    uint64_t v;
    while (read(n->notify_fd, &v, sizeof v) == (ssize_t)sizeof v)
        ;
    n->durable_lsn = tr_log_durable_lsn(n->log);
    pipe_writer_durable(&n->w, n->durable_lsn, pipe_now_ns());
}

static void write_status_file(struct pipe_node *n)
{
    char path[1100], tmp[1200];
    snprintf(path, sizeof path, "%s/status.json", n->cfg->data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    n->status.len = 0;
    if (pipe_node_status_json(n, &n->status))
        return;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fwrite(n->status.data, 1, n->status.len, f);
    fputc('\n', f);
    if (fclose(f) == 0)
        rename(tmp, path);
}

/* Positions are those of everything appended, so first make all of it
 * durable (one extra fsync a second on the loop; at high rates the group
 * commit never lets the durable LSN catch up with the last one by itself). */
static void save_checkpoint(struct pipe_node *n)
{
    struct tr_error err;
    tr_error_clear(&err);
    if (pipe_writer_last_lsn(&n->w) == n->ckpt_lsn && !n->w.n)
        return;
    /* remote writer: the checkpoint message follows the batches and the
     * writer actor writes it only once the log is durable to its LSN */
    if (n->w.failed || pipe_writer_flush(&n->w, &err) ||
        (!n->w.remote && tr_log_flush(n->log, &err))) {
        tr_nlog(n->lg, TR_NLOG_WARN, "writer", "checkpoint skipped: flush failed", TR_KV_ERR(&err));
        return;
    }
    uint64_t lsn = pipe_writer_last_lsn(&n->w);
    if (pipe_writer_ckpt(&n->w, n->cfg->data_dir, &n->dd, lsn, !n->accepting, &err) == 0)
        n->ckpt_lsn = lsn;
    else
        tr_nlog(n->lg, TR_NLOG_WARN, "writer", "checkpoint not saved", TR_KV_ERR(&err));
}

static void take_snapshot(struct pipe_node *n)
{
    struct pipe_snap sn;
    memset(&sn, 0, sizeof sn);
    sn.events_per_s = n->rate_events;
    sn.written_per_s = n->rate_written;
    sn.written = n->w.appended;
    sn.dups = n->dd.dups;
    sn.gaps = n->dd.gaps;
    sn.gaps_filled = n->dd.gaps_filled;
    sn.gaps_unfilled = n->dd.gaps_unfilled;
    sn.durable_lsn = n->durable_lsn;
    sn.streams = n->dd.n_streams;
    sn.lat_p50_us = pipe_lat_pct(&n->w.lat, 0.5);
    sn.lat_p99_us = pipe_lat_pct(&n->w.lat, 0.99);
    sn.stopping = n->stopping;
    for (size_t i = 0; i < n->n_feeds && i < 64; i++) {
        struct pipe_feed *f = &n->feeds[i];
        struct pipe_snap_feed *o = &sn.feeds[sn.n_feeds++];
        snprintf(o->name, sizeof o->name, "%s", f->cfg->name);
        snprintf(o->provider, sizeof o->provider, "%s", f->ops->name);
        o->connected = f->connected;
        o->paused = f->paused;
        o->maintenance = f->maintenance;
        o->rest_halted = f->halted_rest;
        o->events = f->events;
        o->malformed = f->malformed;
        o->alerts = f->alerts;
        o->rotations = f->rotations;
        for (int k = 0; k < PC_C_MAX; k++)
            if (k != PC_C_ROTATE)
                o->reconnects += f->reconnects[k];
    }
    pthread_mutex_lock(&n->snap_mu);
    n->snap = sn;
    pthread_mutex_unlock(&n->snap_mu);
}

void pipe_node_refresh_snapshot(struct pipe_node *n) { take_snapshot(n); }

void pipe_node_snapshot(struct pipe_node *n, struct pipe_snap *out)
{
    pthread_mutex_lock(&n->snap_mu);
    *out = n->snap;
    pthread_mutex_unlock(&n->snap_mu);
}

static void second_cb(uv_timer_t *t)
{
    struct pipe_node *n = t->data;
    uint64_t ev = 0;
    pipe_writer_refresh(&n->w);
    for (size_t i = 0; i < n->n_feeds; i++)
        ev += n->feeds[i].events;
    n->rate_written = (double)(n->w.appended - n->last_appended);
    n->rate_events = (double)(ev - n->last_events);
    n->last_appended = n->w.appended;
    n->last_events = ev;
    durable_cb(&n->durable_poll, 0, 0);
    save_checkpoint(n);
    write_status_file(n);
    take_snapshot(n);
}

/* ---- status ---- */

static int putf(struct tr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int putf(struct tr_buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        int k = vsnprintf((char *)b->data + b->len, room, fmt, ap);
        va_end(ap);
        if (k < 0)
            return TR_EINVAL;
        if ((size_t)k < room) {
            b->len += (size_t)k;
            return 0;
        }
        if (tr_buf_reserve(b, (size_t)k + 1))
            return TR_ENOMEM;
    }
}

int pipe_node_status_json(struct pipe_node *n, struct tr_buf *b)
{
    int64_t now = pipe_now_ns();
    struct tr_log_stats ls;
    tr_log_stats(n->log, &ls);
    if (tr_buf_reserve(b, 4096))
        return TR_ENOMEM;
    putf(b,
         "{\"node_id\":%u,\"uptime_s\":%.1f,\"stopping\":%d,\"events_per_s\":%.0f,"
         "\"written_per_s\":%.0f,\"written\":%llu,\"batches\":%llu,\"dups\":%llu,"
         "\"gaps\":%llu,\"gaps_filled\":%llu,\"gaps_unfilled\":%llu,\"restored_records\":%llu,"
         "\"log\":{\"last_lsn\":%llu,\"durable_lsn\":%llu,\"segments\":%llu,\"disk_bytes\":%llu,"
         "\"syncs\":%llu},"
         "\"latency_us\":{\"provider_to_durable_p50\":%llu,\"provider_to_durable_p99\":%llu,"
         "\"samples\":%llu,\"append_p50\":%llu,\"append_p99\":%llu,"
         "\"receive_to_durable_p50\":%llu,\"receive_to_durable_p99\":%llu,"
         "\"event_to_durable_p50\":%llu,\"event_to_durable_p99\":%llu},",
         n->cfg->node_id, (double)(now - n->start_ns) / 1e9, n->stopping, n->rate_events,
         n->rate_written, (unsigned long long)n->w.appended, (unsigned long long)n->w.batches,
         (unsigned long long)n->dd.dups, (unsigned long long)n->dd.gaps,
         (unsigned long long)n->dd.gaps_filled, (unsigned long long)n->dd.gaps_unfilled,
         (unsigned long long)n->restored_records, (unsigned long long)ls.last_lsn,
         (unsigned long long)ls.durable_lsn, (unsigned long long)ls.segments,
         (unsigned long long)ls.disk_bytes, (unsigned long long)ls.syncs,
         (unsigned long long)pipe_lat_pct(&n->w.lat, 0.5),
         (unsigned long long)pipe_lat_pct(&n->w.lat, 0.99), (unsigned long long)n->w.lat.n,
         (unsigned long long)pipe_lat_pct(&n->w.append_lat, 0.5),
         (unsigned long long)pipe_lat_pct(&n->w.append_lat, 0.99),
         (unsigned long long)pipe_lat_pct(&n->w.recv_lat, 0.5),
         (unsigned long long)pipe_lat_pct(&n->w.recv_lat, 0.99),
         (unsigned long long)pipe_lat_pct(&n->w.ev_lat, 0.5),
         (unsigned long long)pipe_lat_pct(&n->w.ev_lat, 0.99));
    /* the histograms themselves, so a reader can take percentiles over a
     * window of its own (tickraft-bench ingest: two snapshots, diffed) */
    putf(b, "\"latency_hist\":{\"provider_to_durable\":");
    pipe_lat_json(&n->w.lat, b);
    putf(b, ",\"receive_to_durable\":");
    pipe_lat_json(&n->w.recv_lat, b);
    putf(b, ",\"event_to_durable\":");
    pipe_lat_json(&n->w.ev_lat, b);
    for (int k = 0; k < PIPE_ST_N; k++) {
        putf(b, ",\"%s\":", pipe_stage_names[k]);
        pipe_lat_json(&n->w.stage[k], b);
    }
    putf(b, "},\"feeds\":[");
    for (size_t i = 0; i < n->n_feeds; i++) {
        struct pipe_feed *f = &n->feeds[i];
        uint64_t rc = 0;
        for (int k = 0; k < PC_C_MAX; k++)
            if (k != PC_C_ROTATE)
                rc += f->reconnects[k];
        putf(b,
             "%s{\"name\":\"%s\",\"provider\":\"%s\",\"state\":\"%s\",\"paused\":%d,"
             "\"connected\":%d,\"maintenance\":%d,"
             "\"rest_halted\":%d,\"frames\":%llu,\"events\":%llu,\"malformed\":%llu,"
             "\"ws_errors\":%llu,\"sub_errors\":%llu,\"alerts\":%llu,\"rotations\":%llu,\"overflow_rotations\":%llu,\"reconnects\":%llu,"
             "\"markets_listed\":%llu,\"markets_missing\":%llu,\"registry_refreshes\":%llu,"
             "\"registry_pages\":%u,\"reconnects_by_cause\":{",
             i ? "," : "", f->cfg->name, f->ops->name, pipe_feed_state(f), f->paused,
             f->connected, f->maintenance,
             f->halted_rest, (unsigned long long)f->frames, (unsigned long long)f->events,
             (unsigned long long)f->malformed, (unsigned long long)f->ws_errors,
             (unsigned long long)f->sub_errors,
             (unsigned long long)f->alerts, (unsigned long long)f->rotations,
             (unsigned long long)f->x_rotations, (unsigned long long)rc, (unsigned long long)f->registry_listed,
             (unsigned long long)f->registry_missing,
             (unsigned long long)f->registry_refreshes, f->reg_pages_last);
        for (int k = 0; k < PC_C_MAX; k++)
            putf(b, "%s\"%s\":%llu", k ? "," : "", pc_cause_name(k),
                 (unsigned long long)f->reconnects[k]);
        static const char *const cn[PIPE_HTTP_CODES] = {"2xx", "400", "401", "403",
                                                          "404", "429", "5xx", "other"};
        putf(b, "},\"rest\":{\"conn_errors\":%llu", (unsigned long long)f->rest_conn_errors);
        for (int k = 0; k < PIPE_HTTP_CODES; k++)
            putf(b, ",\"%s\":%llu", cn[k], (unsigned long long)f->rest_codes[k]);
        /* markets a subscription limit refused, until one accepts them */
        int shed[PIPE_MAX_INST];
        size_t ns = pipe_shed_pending(f, shed, PIPE_MAX_INST);
        putf(b, "},\"tls\":{\"full\":%llu,\"resumed\":%llu,\"close_notify_in\":%llu,"
                "\"close_notify_out\":%llu}",
             (unsigned long long)f->tls_full, (unsigned long long)f->tls_resumed,
             (unsigned long long)f->tls_notify_in, (unsigned long long)f->tls_notify_out);
        putf(b, ",\"ws_attempts\":%llu,\"maintenance_windows\":%llu,"
                "\"maintenance_held_ms\":%llu,\"snapshots_skipped\":%llu",
             (unsigned long long)f->ws_attempts, (unsigned long long)f->maint_windows,
             (unsigned long long)f->maint_held_ms, (unsigned long long)f->snapshots_skipped);
        putf(b, ",\"connections\":%d,\"max_connections\":%u,\"shed_total\":%llu,"
                "\"resubscribed\":%llu,\"shed\":[",
             pipe_feed_open_conns(f), f->cfg->max_conns, (unsigned long long)f->shed_total,
             (unsigned long long)f->resubscribed);
        for (size_t k = 0; k < ns; k++)
            putf(b, "%s\"%s\"", k ? "," : "", f->cfg->instruments[shed[k]]);
        putf(b, "]}");
    }
    putf(b, "],\"streams\":[");
    int first = 1;
    for (struct pd_stream *s = n->dd.all; s; s = s->next_all) {
        double lag = s->last_ts_exchange ? (double)(now - s->last_ts_exchange) / 1e6 : -1;
        putf(b,
             "%s{\"key\":\"%.*s\",\"last_seq\":%llu,\"state\":\"%s\",\"written\":%llu,"
             "\"dups\":%llu,\"gaps\":%llu,\"gaps_filled\":%llu,\"gaps_unfilled\":%llu,"
             "\"backfilled\":%llu,\"buffered\":%zu,\"lag_ms\":%.1f,\"last_event_ns\":%lld}",
             first ? "" : ",", (int)s->key_len, s->key, (unsigned long long)s->last,
             s->state == PD_LIVE ? "live" : s->state == PD_REPAIRING ? "repairing" : "buffering",
             (unsigned long long)s->written, (unsigned long long)s->dups,
             (unsigned long long)s->gaps, (unsigned long long)s->gaps_filled,
             (unsigned long long)s->gaps_unfilled, (unsigned long long)s->backfilled,
             s->n - s->head, lag, (long long)s->last_ts_exchange);
        first = 0;
    }
    return putf(b, "]}");
}

/* ---- open ---- */

static const struct lws_protocols protocols[] = {
    {"tr-ws", (lws_callback_function *)(void *)pipe_conn_protocol_cb, 0, 65536, 0, NULL, 0},
    {"tr-http", (lws_callback_function *)(void *)pipe_rest_protocol_cb, 0, 8192, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int pipe_log_open(struct tr_log **out, const struct pipe_cfg *cfg, struct tr_error *err)
{
    struct tr_log_options lo;
    tr_log_options_init(&lo);
    lo.sync = cfg->sync;
    lo.group_commit_ms = cfg->group_commit_ms;
    if (cfg->sync_threads)
        lo.sync_threads = cfg->sync_threads;
    if (cfg->latency_sched.policy != NSCHED_OFF) {
        lo.thread_cb = nsched_log_thread_cb; /* only reads its argument */
        lo.thread_arg = (void *)&cfg->sched_log;
    }
    if (cfg->group_commit_bytes)
        lo.group_commit_bytes = cfg->group_commit_bytes;
    if (cfg->segment_bytes)
        lo.segment_bytes = cfg->segment_bytes;
    lo.retain_bytes = cfg->retain_bytes;
    lo.retain_age_ns = cfg->retain_age_ns;
    lo.fs = cfg->log_fs;
    int rc = tr_log_open(out, cfg->data_dir, &lo, err);
    return rc ? tr_error_wrap(err, rc, "open log %s", cfg->data_dir) : 0;
}

int pipe_node_open(struct pipe_node **out, uv_loop_t *loop, const struct pipe_cfg *cfg,
                   struct tr_nlog *lg, struct tr_error *err)
{
    return pipe_node_open_ext(out, loop, cfg, lg, NULL, err);
}

int pipe_node_open_ext(struct pipe_node **out, uv_loop_t *loop, const struct pipe_cfg *cfg,
                       struct tr_nlog *lg, const struct pipe_node_ext *ext, struct tr_error *err)
{
    struct pipe_node *n = calloc(1, sizeof *n);
    if (!n)
        return tr_errorf(err, TR_ENOMEM, "allocate node");
    n->loop = loop;
    n->cfg = cfg;
    n->lg = lg;
    n->accepting = 1;
    n->notify_fd = -1;
    n->start_ns = pipe_now_ns();
    tr_buf_init(&n->status);
    pthread_mutex_init(&n->snap_mu, NULL);
    if (getrandom(&n->rnd, sizeof n->rnd, 0) != (ssize_t)sizeof n->rnd)
        n->rnd = (uint64_t)n->start_ns;
    int rc;
    if (ext && ext->log) {
        n->log = ext->log;
        n->log_external = 1;
    } else if ((rc = pipe_log_open(&n->log, cfg, err))) {
        free(n);
        return rc;
    }
    struct pd_ops ops = {.arg = n,
                         .emit = emit_cb,
                         .want_backfill = want_backfill_cb,
                         .want_snapshot = want_snapshot_cb};
    if ((rc = pipe_writer_init(&n->w, n->log, cfg->batch_max)) ||
        (rc = pipe_dedup_init(&n->dd, &ops, cfg->reorder_max, cfg->node_id))) {
        tr_errorf(err, rc, "allocate writer/deduplicator");
        goto fail;
    }
    if (ext && ext->remote)
        pipe_writer_set_remote(&n->w, ext->remote, ext->next_lsn, ext->epoch);
    n->metrics_gen = ext ? ext->epoch : 0;
    /* streams of the configured feeds first, so their descriptors apply */
    n->feeds = calloc(cfg->n_feeds ? cfg->n_feeds : 1, sizeof *n->feeds);
    if (!n->feeds) {
        rc = tr_errorf(err, TR_ENOMEM, "allocate feeds");
        goto fail;
    }
    n->n_feeds = cfg->n_feeds;
    for (size_t i = 0; i < cfg->n_feeds; i++) {
        struct pipe_feed *f = &n->feeds[i];
        f->node = n;
        f->cfg = &cfg->feeds[i];
        f->idx = (int)i;
        f->ops = tr_provider_find(f->cfg->provider);
        if (!f->ops) {
            rc = tr_errorf(err, TR_ECONFIG, "%s: feed %s: unknown provider '%s'", cfg->path,
                           f->cfg->name, f->cfg->provider);
            goto fail;
        }
        tr_buf_init(&f->rbody);
        tr_buf_init(&f->reg_names);
        tr_frame_init(&f->rframe);
        uv_timer_init(loop, &f->retry_timer);
        uv_timer_init(loop, &f->rotate_timer);
        uv_timer_init(loop, &f->overlap_timer);
        f->overlap_timer.data = f;
        uv_timer_init(loop, &f->rest_timer);
        uv_timer_init(loop, &f->registry_timer);
        uv_timer_init(loop, &f->later_timer);
        f->later_timer.data = f;
        f->retry_timer.data = f->rotate_timer.data = f->rest_timer.data = f;
        f->registry_timer.data = f;
        pipe_shed_init(f, loop);
    }
    for (size_t i = 0; i < cfg->n_feeds; i++) {
        struct pipe_feed *f = &n->feeds[i];
        static const int kinds[3] = {TR_KIND_TRADE, TR_KIND_BOOK_DELTA, TR_KIND_TICKER};
        static const uint32_t chs[3] = {TR_CH_TRADES, TR_CH_BOOK, TR_CH_TICKER};
        for (size_t k = 0; k < 3; k++) {
            if (!(f->cfg->channels & chs[k]))
                continue;
            for (size_t j = 0; j < f->cfg->n_instruments; j++) {
                struct pd_stream *s = pipe_dedup_stream(&n->dd, f->ops->name, kinds[k],
                                                        f->cfg->instruments[j],
                                                        f->ops->stream(kinds[k]));
                if (!s) {
                    rc = tr_errorf(err, TR_ENOMEM, "create stream");
                    goto fail;
                }
                s->feed = f;
            }
        }
    }
    uint64_t scanned = 0;
    if ((rc = pipe_ckpt_restore(n->log, cfg->data_dir, &n->dd, &scanned, err)) ||
        (rc = pipe_ckpt_load_ids(n->log, &n->dd, 60ll * 1000000000, err)))
        goto fail;
    n->restored_records = scanned;
    n->ckpt_lsn = 0;
    for (struct pd_stream *s = n->dd.all; s; s = s->next_all)
        if (s->kind == TR_KIND_TRADE && s->feed && s->feed->cfg->backfill_initial && !s->have &&
            s->mode == PD_MODE_SEQ) {
            s->have = 1; /* first start: everything from the first trade id */
            s->last = 0;
        }
    tr_nlog(lg, TR_NLOG_INFO, "node", "log opened", TR_KV_STR("dir", cfg->data_dir),
            TR_KV_UINT("last_lsn", tr_log_last_lsn(n->log)), TR_KV_UINT("scanned", scanned),
            TR_KV_UINT("streams", n->dd.n_streams));

    pipe_lws_log_to(lg); /* lws's errors as component=lws lines, not raw stderr */
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = {loop};
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = loops;
    info.user = n;
    pipe_tls_context_info(cfg, &info); /* wss:// https:// feeds: OpenSSL + CA bundle */
    /* one read per receive callback of a raw connection: large reads keep
     * callbacks and syscalls per event low (lws's default is 4 KiB) */
    info.pt_serv_buf_size = 128 * 1024;
    n->lws = lws_create_context(&info);
    if (!n->lws) {
        rc = pipe_tls_context_ca(cfg)
                 ? tr_errorf(err, TR_EIO, "create lws context (is libwebsockets-evlib-uv "
                             "installed? can the CA bundle %s be loaded?)",
                             pipe_tls_context_ca(cfg))
                 : tr_errorf(err, TR_EIO,
                             "create lws context (is libwebsockets-evlib-uv installed?)");
        goto fail;
    }
    if ((rc = pipe_tls_vhosts(n->lws, protocols, n->feeds, n->n_feeds, err)))
        goto fail;
    if ((rc = pipe_tls_ws_ctx(n->feeds, n->n_feeds, err)))
        goto fail;
    n->durable_poll.data = n; /* second_cb calls durable_cb in both modes */
    if (!n->w.remote) { /* remote: the writer actor watches durability */
        if ((rc = tr_log_notify_fd_open(n->log, &n->notify_fd, err)))
            goto fail;
        uv_poll_init(loop, &n->durable_poll, n->notify_fd);
        uv_poll_start(&n->durable_poll, UV_READABLE, durable_cb);
    }
    uv_check_init(loop, &n->flush_check);
    n->flush_check.data = n;
    uv_check_start(&n->flush_check, flush_cb);
    uv_timer_init(loop, &n->second);
    n->second.data = n;
    uv_timer_start(&n->second, second_cb, 1000, 1000);
    uv_timer_init(loop, &n->stop_timer);
    n->stop_timer.data = n;
    if ((rc = pipe_admin_open(&n->admin, n, loop, err)))
        goto fail;
    if (ext && ext->sys) { /* their starts connect and start the registry refresh */
        if ((rc = pipe_lact_open(n, ext->sys, ext->faults, err)))
            goto fail;
    } else {
        for (size_t i = 0; i < n->n_feeds; i++) {
            pipe_feed_start(&n->feeds[i]);
            pipe_registry_start(&n->feeds[i]);
        }
    }
    take_snapshot(n);
    *out = n;
    return 0;
fail:
    if (n->lws)
        lws_context_destroy(n->lws);
    pipe_tls_ws_ctx_free(n->feeds, n->n_feeds);
    for (size_t i = 0; i < n->n_feeds; i++) {
        tr_buf_free(&n->feeds[i].rbody);
        tr_buf_free(&n->feeds[i].reg_names);
        tr_frame_free(&n->feeds[i].rframe);
    }
    free(n->feeds);
    pipe_dedup_close(&n->dd);
    pipe_writer_close(&n->w);
    if (!n->log_external)
        tr_log_close(n->log, NULL);
    tr_buf_free(&n->status);
    pthread_mutex_destroy(&n->snap_mu);
    free(n);
    return rc;
}

/* ---- metrics: totals mirrored at render time ---- */

/* The totals below restart from 0 with each collector incarnation; the
 * registry (owned by main, above the tree) adds them to what the earlier
 * incarnations counted, so /metrics counters never go backwards. */
static void set_counter(struct pipe_node *n, struct tr_metrics *m, int id, const char *a,
                        const char *b, uint64_t v)
{
    const char *vals[2] = {a, b};
    tr_metrics_mirror(m, id, vals, n->metrics_gen, v);
}

static const char *kind_label(int kind)
{
    return kind == TR_KIND_TRADE ? "trade" : kind == TR_KIND_BOOK_DELTA ? "book" : "ticker";
}

static void collect_cb(void *arg, struct tr_metrics *m)
{
    struct pipe_node *n = arg;
    static const char *const codes[PIPE_HTTP_CODES] = {"2xx", "400", "401", "403",
                                                        "404", "429", "5xx", "other"};
    for (size_t i = 0; i < n->n_feeds; i++) {
        struct pipe_feed *f = &n->feeds[i];
        const char *fn = f->cfg->name;
        set_counter(n, m, TR_M_EVENTS_RECEIVED, fn, "all", f->events);
        set_counter(n, m, TR_M_EVENTS_REJECTED, fn, "malformed", f->malformed);
        set_counter(n, m, TR_M_SUBSCRIBE_ERRORS, fn, "all", f->sub_errors);
        for (int k = 0; k < PC_C_MAX; k++)
            set_counter(n, m, TR_M_RECONNECTS, fn, pc_cause_name(k), f->reconnects[k]);
        for (int k = 1; k < PIPE_HTTP_CODES; k++)
            set_counter(n, m, TR_M_REST_ERRORS, fn, codes[k], f->rest_codes[k]);
        set_counter(n, m, TR_M_REST_ERRORS, fn, "connection", f->rest_conn_errors);
        set_counter(n, m, TR_M_REST_REQUESTS, fn, "all", f->rest_ok);
        if (f->cfg->ws_tls) {
            set_counter(n, m, TR_M_TLS_HANDSHAKES, fn, "full", f->tls_full);
            set_counter(n, m, TR_M_TLS_HANDSHAKES, fn, "resumed", f->tls_resumed);
            set_counter(n, m, TR_M_TLS_CLOSE_NOTIFY, fn, "received", f->tls_notify_in);
            set_counter(n, m, TR_M_TLS_CLOSE_NOTIFY, fn, "sent", f->tls_notify_out);
        }
        const char *v1[1] = {fn};
        int open = pipe_feed_open_conns(f);
        tr_gauge_set(tr_metrics_gauge(m, TR_M_CONNECTIONS, v1), open);
        tr_gauge_set(tr_metrics_gauge(m, TR_M_FEED_UP, v1), f->connected);
        tr_gauge_set(tr_metrics_gauge(m, TR_M_FEED_PAUSED, v1), f->paused);
        static const int kinds[3] = {TR_KIND_TRADE, TR_KIND_BOOK_DELTA, TR_KIND_TICKER};
        int64_t last_ns = 0;
        for (int k = 0; k < 3; k++) {
            uint64_t w = 0, d = 0, g = 0, gf = 0, gu = 0;
            for (struct pd_stream *st = n->dd.all; st; st = st->next_all) {
                if (st->feed != f || st->kind != kinds[k])
                    continue;
                w += st->written;
                d += st->dups;
                g += st->gaps;
                gf += st->gaps_filled;
                gu += st->gaps_unfilled;
                if (st->last_write_ns > last_ns)
                    last_ns = st->last_write_ns;
            }
            const char *kl = kind_label(kinds[k]);
            set_counter(n, m, TR_M_EVENTS_WRITTEN, fn, kl, w);
            set_counter(n, m, TR_M_EVENTS_DUPLICATE, fn, kl, d);
            set_counter(n, m, TR_M_GAPS_DETECTED, fn, kl, g);
            set_counter(n, m, TR_M_GAPS_FILLED, fn, kl, gf);
            set_counter(n, m, TR_M_GAPS_UNFILLED, fn, kl, gu);
        }
        tr_gauge_set(tr_metrics_gauge(m, TR_M_LAST_EVENT_TS, v1), (double)last_ns / 1e9);
    }
    struct tr_log_stats ls;
    tr_log_stats(n->log, &ls);
    tr_gauge_set(tr_metrics_gauge(m, TR_M_LOG_DURABLE_LSN, NULL), (double)ls.durable_lsn);
    tr_gauge_set(tr_metrics_gauge(m, TR_M_LOG_BYTES, NULL), (double)ls.disk_bytes);
    tr_counter_set(tr_metrics_counter(m, TR_M_LOG_LINES_SUPPRESSED, NULL),
                   tr_nlog_suppressed(n->lg));
}

void pipe_node_metrics_collect(struct pipe_node *n)
{
    if (n->metrics)
        collect_cb(n, n->metrics);
}

void pipe_node_set_metrics(struct pipe_node *n, struct tr_metrics *m)
{
    n->metrics = m;
    const char *all[1] = {"all"};
    n->w.h_lat = tr_metrics_histogram(m, TR_M_PROVIDER_TO_LOG, all);
    n->w.h_append = tr_metrics_histogram(m, TR_M_APPEND_LATENCY, NULL);
    n->w.h_batch = tr_metrics_histogram(m, TR_M_BATCH_EVENTS, NULL);
    tr_metrics_set_collect_cb(m, collect_cb, n);
}

void pipe_node_rotate(struct pipe_node *n)
{
    for (size_t i = 0; i < n->n_feeds; i++)
        if (pipe_lact_conn_up(&n->feeds[i])) /* else its restart connects afresh */
            pipe_feed_rotate(&n->feeds[i]);
}

/* ---- stop ---- */

static void close_handles(struct pipe_node *n)
{
    uv_check_stop(&n->flush_check);
    uv_close((uv_handle_t *)&n->flush_check, NULL);
    uv_timer_stop(&n->second);
    uv_close((uv_handle_t *)&n->second, NULL);
    uv_close((uv_handle_t *)&n->stop_timer, NULL);
    if (n->notify_fd >= 0) {
        uv_poll_stop(&n->durable_poll);
        uv_close((uv_handle_t *)&n->durable_poll, NULL);
    }
    pipe_admin_close_handles(n->admin);
    for (size_t i = 0; i < n->n_feeds; i++) {
        struct pipe_feed *f = &n->feeds[i];
        uv_close((uv_handle_t *)&f->retry_timer, NULL);
        uv_close((uv_handle_t *)&f->rotate_timer, NULL);
        uv_close((uv_handle_t *)&f->overlap_timer, NULL);
        uv_close((uv_handle_t *)&f->rest_timer, NULL);
        uv_close((uv_handle_t *)&f->registry_timer, NULL);
        uv_close((uv_handle_t *)&f->later_timer, NULL);
        pipe_shed_close(f);
    }
}

static void conns_closed_cb(uv_timer_t *t)
{
    struct pipe_node *n = t->data;
    int open = 0;
    for (size_t i = 0; i < n->n_feeds; i++)
        for (int k = 0; k < PIPE_CONN_SLOTS; k++)
            open += n->feeds[i].conn[k].state != PC_IDLE;
    if (open && pipe_now_ns() - n->stop_start_ns < ((int64_t)n->cfg->shutdown_ms + 2000) * 1000000)
        return; /* wait for close frames to go out (bounded) */
    uv_timer_stop(t);
    stop_now(n, n->fatal);
}

static void stop_poll_cb(uv_timer_t *t)
{
    struct pipe_node *n = t->data;
    int busy = 0;
    for (size_t i = 0; i < n->n_feeds; i++)
        busy |= pipe_rest_busy(&n->feeds[i]) && !n->feeds[i].maintenance;
    int64_t el = (pipe_now_ns() - n->stop_start_ns) / 1000000;
    if (busy && el < (int64_t)n->cfg->shutdown_ms && !n->fatal)
        return;
    uv_timer_stop(t);
    /* 2-3: flush and commit */
    n->accepting = 0;
    struct tr_error err;
    tr_error_clear(&err);
    int rc = pipe_writer_flush(&n->w, &err);
    if (!rc && !n->w.failed)
        rc = pipe_writer_commit(&n->w, &err);
    if (rc)
        tr_nlog(n->lg, TR_NLOG_ERROR, "node", "final flush failed", TR_KV_ERR(&err));
    else
        save_checkpoint(n);
    tr_nlog(n->lg, TR_NLOG_INFO, "node", "pipeline flushed",
            TR_KV_UINT("durable_lsn", tr_log_durable_lsn(n->log)), TR_KV_INT("waited_ms", el),
            TR_KV_BOOL("repairs_pending", busy));
    if (rc && !n->fatal)
        n->fatal = rc;
    /* 4: provider connections, with a close frame */
    for (size_t i = 0; i < n->n_feeds; i++)
        for (int k = 0; k < PIPE_CONN_SLOTS; k++)
            pipe_conn_close(&n->feeds[i].conn[k], 1001);
    uv_timer_start(&n->stop_timer, conns_closed_cb, 10, 10);
}

static void stop_now(struct pipe_node *n, int rc)
{
    if (n->closed)
        return;
    n->closed = 1;
    write_status_file(n);
    pipe_lact_close(n); /* the actors' stops use the feeds' timers */
    close_handles(n);
    for (size_t i = 0; i < n->n_feeds; i++) {
        struct pipe_feed *f = &n->feeds[i];
        struct pipe_rest_req *r = f->rq_head;
        while (r) {
            struct pipe_rest_req *nx = r->next;
            free(r);
            r = nx;
        }
        f->rq_head = f->rq_tail = NULL;
        for (r = f->rq_later; r;) {
            struct pipe_rest_req *nx = r->next;
            free(r);
            r = nx;
        }
        f->rq_later = NULL;
        free(f->inflight);
        f->inflight = NULL;
    }
    lws_context_destroy(n->lws); /* first call; the second after uv_run returns */
    if (n->done_cb)
        n->done_cb(n->done_arg, rc);
}

void pipe_node_abort(struct pipe_node *n, int rc)
{
    n->stopping = 1;
    n->accepting = 0;
    if (!n->fatal)
        n->fatal = rc;
    stop_now(n, rc);
}

void pipe_node_set_stop_cb(struct pipe_node *n, void (*done_cb)(void *arg, int rc), void *arg)
{
    n->done_cb = done_cb;
    n->done_arg = arg;
}

void pipe_node_stop(struct pipe_node *n, void (*done_cb)(void *arg, int rc), void *arg)
{
    if (done_cb) {
        n->done_cb = done_cb;
        n->done_arg = arg;
    }
    if (n->stopping)
        return;
    n->stopping = 1;
    n->stop_start_ns = pipe_now_ns();
    tr_nlog(n->lg, TR_NLOG_INFO, "node", "stopping: no new subscriptions");
    /* 1: no reconnects, rotations or subscriptions */
    for (size_t i = 0; i < n->n_feeds; i++) {
        uv_timer_stop(&n->feeds[i].retry_timer);
        uv_timer_stop(&n->feeds[i].rotate_timer);
        uv_timer_stop(&n->feeds[i].overlap_timer);
        uv_timer_stop(&n->feeds[i].registry_timer);
        pipe_shed_stop(&n->feeds[i]);
    }
    uv_timer_start(&n->stop_timer, stop_poll_cb, 0, 50);
}

int pipe_node_close(struct pipe_node *n, struct tr_error *err)
{
    if (!n)
        return 0;
    lws_context_destroy(n->lws);
    if (n->notify_fd >= 0)
        tr_log_notify_fd_close(n->log, n->notify_fd);
    for (size_t i = 0; i < n->n_feeds; i++) {
        struct pipe_feed *f = &n->feeds[i];
        for (int k = 0; k < PIPE_CONN_SLOTS; k++) {
            if (f->conn[k].prov_ok)
                tr_provider_close(&f->conn[k].prov);
            if (f->conn[k].inited) {
                tr_frame_free(&f->conn[k].frame);
                tr_buf_free(&f->conn[k].rx);
                tr_buf_free(&f->conn[k].tx);
            }
            pipe_tlsmem_close(&f->conn[k].tls);
            if (f->conn[k].ws_inited) {
                ws_dec_close(&f->conn[k].dec);
                tr_buf_free(&f->conn[k].wout);
                tr_buf_free(&f->conn[k].plain);
                tr_buf_free(&f->conn[k].wtls);
            }
        }
        tr_buf_free(&f->rbody);
        tr_buf_free(&f->reg_names);
        tr_frame_free(&f->rframe);
    }
    pipe_tls_ws_ctx_free(n->feeds, n->n_feeds);
    free(n->feeds);
    int rc = n->w.remote ? 0 : pipe_writer_flush(&n->w, err);
    int rc2 = n->log_external ? 0 : tr_log_close(n->log, rc ? NULL : err);
    pipe_writer_close(&n->w);
    pipe_dedup_close(&n->dd);
    pipe_admin_free(n->admin);
    tr_buf_free(&n->status);
    pthread_mutex_destroy(&n->snap_mu);
    int fatal = n->fatal;
    free(n);
    return rc ? rc : rc2 ? rc2 : fatal;
}
