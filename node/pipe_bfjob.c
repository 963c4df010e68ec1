/* Operator backfill jobs (docs/node.md "Backfill jobs"):
 *
 *   backfill start STREAM seq|time FROM TO   -> job id
 *   backfill status JOB                      -> state running|done|failed, progress %
 *
 * A job repairs holes that the live repair could not fill at the time (a
 * REST outage, a 401, a restart past the provider's window that has since
 * been fixed...). On the data-path loop it
 *   1. flushes the writer and the log, so the scan sees everything written;
 *   2. scans the stream's records in [FROM, TO] (by native seq or by time)
 *      in slices of SCAN_SLICE records per loop turn, and collects the
 *      holes: explicit gap events (from_seq..to_seq) and discontinuities
 *      between consecutive trade ids (and, by seq, from FROM to the first
 *      record); it reads the stream's fill stream too and drops the ids
 *      already filled;
 *   3. asks the feed's REST poller for trades after each hole's start, page
 *      by page (1000 per page, the poller's HTTP policies apply: 429/5xx
 *      back off and retry, 400/404/401/403 end the job as failed), and
 *      writes every trade that falls in a hole to the stream's fill stream.
 *
 * Order and duplicates: the canonical stream is never touched (it stays in
 * non-decreasing native seq for every reader and cursor). Recovered trades
 * go to their own stream, "<provider>/trade.backfill/<instrument>", with
 * the trade id as seq; a fill is written only when its id is above every id
 * already in that fill stream, so the fill stream is itself strictly
 * increasing and never holds an id twice, and an id is written only when
 * the canonical stream lacks it (it lies in a hole). The canonical stream
 * plus its fill stream, merged by seq, is the complete history; the gap
 * events stay as the record of what happened.
 *
 * Scope: trade streams with numeric, contiguous ids (native, Binance,
 * Coinbase). Book deltas cannot be fetched after the fact (a REST snapshot
 * is the book now) and Kalshi trade ids carry no sequence to find holes by:
 * both are refused with a message. One job per stream at a time; jobs live
 * in memory (not across restarts); the last MAX_JOBS are kept for status. */
#include "pipe_bfjob.h"

#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlog.h"
#include "pipe_feed.h"
#include "tickraft/protocol.h"

#define MAX_JOBS 64
#define MAX_HOLES 65536
#define SCAN_SLICE 20000 /* records scanned per loop turn */
#define FILL_SUFFIX "trade.backfill"

enum { JOB_RUNNING = 0, JOB_DONE = 1, JOB_FAILED = 2 };

struct hole {
    uint64_t from, to; /* inclusive */
};

struct pipe_bfjob {
    struct pipe_bfjobs *owner;
    char id[16];
    struct pipe_bfjob_args args;
    char fill_key[TR_LOG_STREAM_MAX + 1];
    char instrument[TR_INSTRUMENT_MAX];
    struct pipe_feed *feed;
    int phase;            /* 0 scanning, 1 fetching, 2 finished */
    struct tr_log_reader *rd;
    uint64_t prev;        /* scan: last id seen (covered) */
    int have_prev;
    uint64_t lo, hi;      /* seq span examined */
    struct hole *holes;
    size_t n_holes, cap_holes, hole_i;
    uint64_t *fills;      /* ids already in the fill stream within [lo, hi] */
    size_t n_fills, cap_fills;
    uint64_t fill_last;   /* highest id in the fill stream */
    uint64_t cursor;      /* next REST page: trades after this id */
    uint64_t hole_ids, recovered, refused_order, pages;
    /* shared with status readers (under owner->mu) */
    int state;
    double progress;
    char detail[200];
};

struct pipe_bfjobs {
    struct pipe_node *node;
    pthread_mutex_t mu;
    struct pipe_bfjob *jobs[MAX_JOBS]; /* oldest first */
    size_t n;
    uint64_t next_id;
    uv_timer_t scan_timer;
    int timer_open;
    struct tr_buf enc;
};

/* ---- parsing (any thread) ---- */

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    if (!s || !*s)
        return -1;
    long long x = strtoll(s, &end, 10);
    if (*end)
        return -1;
    *v = x;
    return 0;
}

int pipe_bfjob_parse(struct pipe_bfjob_args *a, const char *const *args, size_t nargs,
                     struct tr_error *err)
{
    if (nargs != 5 || strcmp(args[0], "start") != 0)
        return tr_errorf(err, TR_EINVAL,
                         "usage: backfill start STREAM seq|time FROM TO, or backfill status JOB");
    if (strlen(args[1]) > TR_LOG_STREAM_MAX || !args[1][0])
        return tr_errorf(err, TR_EINVAL, "backfill: bad stream key");
    memset(a, 0, sizeof *a);
    snprintf(a->stream, sizeof a->stream, "%s", args[1]);
    if (!strcmp(args[2], "time"))
        a->by_time = 1;
    else if (strcmp(args[2], "seq"))
        return tr_errorf(err, TR_EINVAL, "backfill: range must be by seq or time, not '%s'",
                         args[2]);
    if (parse_i64(args[3], &a->from) || parse_i64(args[4], &a->to) || a->from > a->to ||
        (!a->by_time && a->from < 0))
        return tr_errorf(err, TR_EINVAL, "backfill: bad range %s..%s", args[3], args[4]);
    return 0;
}

/* ---- status (any thread) ---- */

static const char *state_name(int s)
{
    return s == JOB_RUNNING ? "running" : s == JOB_DONE ? "done" : "failed";
}

int pipe_bfjob_status(struct pipe_bfjobs *j, const char *job, struct tr_client_table *t,
                      struct tr_error *err)
{
    static const char *const cols[] = {"job", "stream", "state", "progress", "detail"};
    pthread_mutex_lock(&j->mu);
    struct pipe_bfjob *b = NULL;
    for (size_t i = 0; i < j->n && !b; i++)
        if (!strcmp(j->jobs[i]->id, job))
            b = j->jobs[i];
    if (!b) {
        pthread_mutex_unlock(&j->mu);
        return tr_errorf(err, TR_ENOTFOUND, "no backfill job '%s' (jobs do not survive a restart)",
                         job);
    }
    char prog[16];
    snprintf(prog, sizeof prog, "%.1f", b->progress);
    const char *row[] = {b->id, b->args.stream, state_name(b->state), prog, b->detail};
    int rc = tr_client_table_cols(t, 5, cols);
    if (!rc)
        rc = tr_client_table_row(t, row);
    pthread_mutex_unlock(&j->mu);
    return rc;
}

/* ---- job state (loop thread; readers take the mutex) ---- */

static void set_status(struct pipe_bfjob *b, int state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_status(struct pipe_bfjob *b, int state, const char *fmt, ...)
{
    pthread_mutex_lock(&b->owner->mu);
    b->state = state;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->detail, sizeof b->detail, fmt, ap);
        va_end(ap);
    }
    /* progress: share of the examined span no longer owed */
    uint64_t span = b->hi >= b->lo ? b->hi - b->lo + 1 : 0, owed = 0;
    if (b->phase == 0) {
        b->progress = 0;
    } else {
        for (size_t i = b->hole_i; i < b->n_holes; i++) {
            uint64_t f = b->holes[i].from;
            if (i == b->hole_i && b->cursor + 1 > f)
                f = b->cursor + 1;
            if (f <= b->holes[i].to)
                owed += b->holes[i].to - f + 1;
        }
        b->progress = state != JOB_RUNNING || !span ? 100.0
                                                      : 100.0 * (double)(span - owed) / (double)span;
    }
    pthread_mutex_unlock(&b->owner->mu);
}

static void finish(struct pipe_bfjob *b, int state, const char *why)
{
    b->phase = 2;
    if (b->rd) {
        tr_log_reader_free(b->rd);
        b->rd = NULL;
    }
    uint64_t missing = b->hole_ids - b->recovered;
    set_status(b, state,
               "%s: %zu holes, %" PRIu64 " ids in them; %" PRIu64 " recovered to %s, %" PRIu64
               " not in provider history%s",
               why, b->n_holes, b->hole_ids, b->recovered, b->fill_key, missing,
               b->refused_order ? " (some refused: below the fill stream's last id)" : "");
    tr_nlog(pipe_node_log(b->owner->node), state == JOB_DONE ? TR_NLOG_INFO : TR_NLOG_WARN,
            "backfill", "job finished", TR_KV_STR("job", b->id), TR_KV_STR("stream", b->args.stream),
            TR_KV_STR("state", state_name(state)), TR_KV_UINT("holes", b->n_holes),
            TR_KV_UINT("recovered", b->recovered), TR_KV_UINT("missing", missing),
            TR_KV_STR("why", why));
}

static int add_hole(struct pipe_bfjob *b, uint64_t from, uint64_t to)
{
    if (!b->args.by_time) { /* clip to the asked range */
        if (from < (uint64_t)b->args.from)
            from = (uint64_t)b->args.from;
        if (to > (uint64_t)b->args.to)
            to = (uint64_t)b->args.to;
    }
    if (from > to)
        return 0;
    if (b->n_holes && from <= b->holes[b->n_holes - 1].to + 1) { /* adjacent: merge */
        if (to > b->holes[b->n_holes - 1].to)
            b->holes[b->n_holes - 1].to = to;
        return 0;
    }
    if (b->n_holes == MAX_HOLES)
        return TR_ETOOBIG;
    if (b->n_holes == b->cap_holes) {
        size_t nc = b->cap_holes ? b->cap_holes * 2 : 64;
        struct hole *nh = realloc(b->holes, nc * sizeof *nh);
        if (!nh)
            return TR_ENOMEM;
        b->holes = nh;
        b->cap_holes = nc;
    }
    b->holes[b->n_holes++] = (struct hole){from, to};
    return 0;
}

/* ---- REST pages (loop thread, from pipe_rest.c) ---- */

const char *pipe_bfjob_instrument(const struct pipe_bfjob *b) { return b->instrument; }
uint64_t pipe_bfjob_cursor(const struct pipe_bfjob *b) { return b->cursor; }

static void next_request(struct pipe_bfjob *b)
{
    while (b->hole_i < b->n_holes && b->cursor >= b->holes[b->hole_i].to)
        b->hole_i++;
    if (b->hole_i == b->n_holes) {
        finish(b, JOB_DONE, "done");
        return;
    }
    if (b->cursor + 1 < b->holes[b->hole_i].from)
        b->cursor = b->holes[b->hole_i].from - 1; /* jump to the next hole */
    set_status(b, JOB_RUNNING, "fetching hole %zu of %zu (trades after id %" PRIu64 ")",
               b->hole_i + 1, b->n_holes, b->cursor);
    pipe_rest_enqueue_job(b->feed, b);
}

static int write_fill(struct pipe_bfjob *b, const struct tr_event *ev, uint64_t id)
{
    if (id <= b->fill_last && b->fill_last) {
        b->refused_order++; /* would break the fill stream's order */
        return 0;
    }
    struct tr_event c = *ev;
    c.origin = (uint16_t)pipe_node_origin(b->owner->node);
    c.fields |= TR_F_ORIGIN;
    c.fields &= ~(uint32_t)TR_F_RAW;
    c.raw = NULL;
    c.raw_len = 0;
    struct tr_error err;
    tr_error_clear(&err);
    int64_t ts = (c.fields & TR_F_TS_EXCHANGE) ? c.ts_exchange : 0;
    int rc = pipe_writer_add(pipe_node_writer(b->owner->node), b->fill_key, strlen(b->fill_key),
                             id, ts, 0, &c, NULL, 0, NULL, &err);
    if (rc)
        return rc;
    b->fill_last = id;
    b->recovered++;
    return 0;
}

static int trade_id(const struct tr_event *ev, uint64_t *id)
{
    if (ev->kind != TR_KIND_TRADE)
        return -1;
    if (ev->fields & TR_F_ID) {
        char *end;
        unsigned long long v = strtoull(ev->id, &end, 10);
        if (ev->id[0] && !*end) {
            *id = v;
            return 0;
        }
    }
    if (!(ev->fields & TR_F_SEQ))
        return -1;
    *id = ev->seq;
    return 0;
}

int pipe_bfjob_page(struct pipe_bfjob *b, const struct tr_event *evs, size_t n, int more)
{
    if (b->phase != 1)
        return 0;
    b->pages++;
    uint64_t top = b->cursor;
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        if (trade_id(&evs[i], &id) || id <= b->cursor)
            continue;
        if (id > top)
            top = id;
        size_t k = b->hole_i;
        while (k < b->n_holes && id > b->holes[k].to)
            k++;
        if (k < b->n_holes && id >= b->holes[k].from) {
            int rc = write_fill(b, &evs[i], id);
            if (rc < 0) {
                finish(b, JOB_FAILED, "append to the log failed");
                return rc;
            }
        }
    }
    if (pipe_node_stopping(b->owner->node)) {
        finish(b, JOB_FAILED, "node stopping");
        return 0;
    }
    if (!n || !more || top == b->cursor) {
        /* REST has nothing further: the rest of the holes is not in history */
        b->hole_i = b->n_holes;
        finish(b, JOB_DONE, "done");
        return 0;
    }
    b->cursor = top;
    next_request(b);
    return 0;
}

void pipe_bfjob_failed(struct pipe_bfjob *b, const char *why)
{
    if (b->phase == 1)
        finish(b, JOB_FAILED, why);
}

/* ---- scan (loop thread) ---- */

static int scan_fills(struct pipe_bfjob *b, struct tr_error *err)
{
    struct tr_log_reader_options ro = {.stream = b->fill_key, .from = TR_LOG_FROM_SEQ,
                                       .seq = b->lo};
    struct tr_log_reader *r;
    int rc = tr_log_reader_alloc(pipe_node_log_handle(b->owner->node), &ro, &r, err);
    if (rc)
        return rc;
    struct tr_log_record rec;
    while ((rc = tr_log_reader_next(r, &rec, err)) == 1) {
        if (rec.seq > b->fill_last)
            b->fill_last = rec.seq;
        if (rec.seq < b->lo || rec.seq > b->hi)
            continue;
        if (b->n_fills == b->cap_fills) {
            size_t nc = b->cap_fills ? b->cap_fills * 2 : 256;
            uint64_t *nf = realloc(b->fills, nc * sizeof *nf);
            if (!nf) {
                rc = TR_ENOMEM;
                break;
            }
            b->fills = nf;
            b->cap_fills = nc;
        }
        b->fills[b->n_fills++] = rec.seq;
    }
    tr_log_reader_free(r);
    return rc < 0 ? rc : 0;
}

/* Removes the ids already in the fill stream from the holes (both sorted). */
static int subtract_fills(struct pipe_bfjob *b)
{
    struct hole *old = b->holes;
    size_t n_old = b->n_holes, f = 0;
    b->holes = NULL;
    b->n_holes = b->cap_holes = 0;
    int rc = 0;
    for (size_t i = 0; i < n_old && !rc; i++) {
        uint64_t from = old[i].from;
        while (f < b->n_fills && b->fills[f] < from)
            f++;
        while (!rc && f < b->n_fills && b->fills[f] <= old[i].to) {
            if (b->fills[f] > from)
                rc = add_hole(b, from, b->fills[f] - 1);
            from = b->fills[f] + 1;
            f++;
        }
        if (!rc && from <= old[i].to)
            rc = add_hole(b, from, old[i].to);
    }
    free(old);
    return rc;
}

/* One slice of the scan. Returns 1 when the scan is complete. */
static int scan_slice(struct pipe_bfjobs *j, struct pipe_bfjob *b, struct tr_error *err)
{
    struct tr_log_record rec;
    struct tr_event_scratch sc;
    tr_event_scratch_init(&sc);
    int rc = 0, done = 0;
    for (int k = 0; k < SCAN_SLICE && !done; k++) {
        rc = tr_log_reader_next(b->rd, &rec, err);
        if (rc <= 0) {
            done = 1;
            break;
        }
        if (b->args.by_time ? rec.ts_ns > b->args.to : rec.seq > (uint64_t)b->args.to) {
            done = 1;
            break;
        }
        if (b->args.by_time && rec.ts_ns < b->args.from)
            continue;
        struct tr_event ev;
        size_t used;
        tr_event_scratch_reset(&sc);
        if ((rc = tr_event_decode(rec.payload, rec.payload_len, &used, &ev, &sc, err))) {
            done = 1;
            break;
        }
        uint64_t first = rec.seq, last = rec.seq;
        int gap = ev.kind == TR_KIND_GAP && (ev.fields & TR_F_GAP) && ev.from_seq <= ev.to_seq;
        if (gap) {
            first = ev.from_seq;
            last = ev.to_seq;
        }
        if (!b->have_prev && !b->args.by_time && first > (uint64_t)b->args.from)
            rc = add_hole(b, (uint64_t)b->args.from, first - 1); /* before the first record */
        else if (b->have_prev && first > b->prev + 1)
            rc = add_hole(b, b->prev + 1, first - 1); /* ids skipped without a gap event */
        if (!rc && gap) /* an explicit gap: what it covers beyond what is known */
            rc = add_hole(b, b->have_prev && first <= b->prev ? b->prev + 1 : first, last);
        if (rc)
            break;
        if (!b->have_prev) {
            b->lo = b->args.by_time ? first : (uint64_t)b->args.from;
            b->have_prev = 1;
            b->prev = last;
        } else if (last > b->prev) {
            b->prev = last;
        }
        b->hi = !b->args.by_time && b->prev > (uint64_t)b->args.to ? (uint64_t)b->args.to
                                                                     : b->prev;
    }
    tr_event_scratch_free(&sc);
    (void)j;
    if (rc < 0)
        return rc;
    return done;
}

static void start_fetch(struct pipe_bfjob *b)
{
    struct tr_error err;
    tr_error_clear(&err);
    tr_log_reader_free(b->rd);
    b->rd = NULL;
    int rc = 0;
    if (b->have_prev && (rc = scan_fills(b, &err)) == 0)
        rc = subtract_fills(b);
    if (rc) {
        finish(b, JOB_FAILED, rc == TR_ETOOBIG ? "too many holes (more than 65536)"
                                               : "reading the fill stream failed");
        return;
    }
    b->hole_ids = 0;
    for (size_t i = 0; i < b->n_holes; i++)
        b->hole_ids += b->holes[i].to - b->holes[i].from + 1;
    b->phase = 1;
    b->hole_i = 0;
    b->cursor = b->n_holes ? b->holes[0].from - 1 : 0;
    tr_nlog(pipe_node_log(b->owner->node), TR_NLOG_INFO, "backfill", "job scanned",
            TR_KV_STR("job", b->id), TR_KV_STR("stream", b->args.stream),
            TR_KV_UINT("lo", b->lo), TR_KV_UINT("hi", b->hi), TR_KV_UINT("holes", b->n_holes),
            TR_KV_UINT("ids", b->hole_ids));
    if (!b->have_prev) {
        finish(b, JOB_DONE, "nothing stored in the range");
        return;
    }
    if (b->feed->halted_rest) {
        finish(b, JOB_FAILED, "the feed's REST is halted (401/403): restart after fixing credentials");
        return;
    }
    next_request(b);
}

static void scan_cb(uv_timer_t *t)
{
    struct pipe_bfjobs *j = t->data;
    int again = 0;
    for (size_t i = 0; i < j->n; i++) {
        struct pipe_bfjob *b = j->jobs[i];
        if (b->phase != 0)
            continue;
        struct tr_error err;
        tr_error_clear(&err);
        int rc = scan_slice(j, b, &err);
        if (rc < 0) {
            finish(b, JOB_FAILED, rc == TR_ETOOBIG ? "too many holes (more than 65536)"
                                                   : "reading the log failed");
        } else if (rc == 1) {
            start_fetch(b);
        } else {
            again = 1;
        }
    }
    if (again)
        uv_timer_start(&j->scan_timer, scan_cb, 0, 0);
}

/* ---- start (loop thread) ---- */

static struct pd_stream *find_stream(struct pipe_node *n, const char *key)
{
    for (struct pd_stream *s = pipe_node_dedup(n)->all; s; s = s->next_all)
        if (!strcmp(s->key, key))
            return s;
    return NULL;
}

int pipe_bfjob_start(struct pipe_bfjobs *j, const struct pipe_bfjob_args *a, char *job_id,
                     size_t id_cap, char *msg, size_t msg_cap)
{
    struct pd_stream *s = find_stream(j->node, a->stream);
    if (!s || !s->feed) {
        snprintf(msg, msg_cap, "no stream '%s' collected by a configured feed", a->stream);
        return TR_ENOTFOUND;
    }
    if (s->kind != TR_KIND_TRADE) {
        snprintf(msg, msg_cap, "%s: only trade streams can be backfilled (a REST snapshot is the "
                 "book now, not the book then)", a->stream);
        return TR_EUNSUPPORTED;
    }
    if (s->mode != PD_MODE_SEQ || s->resync != TR_RESYNC_BACKFILL_ID) {
        snprintf(msg, msg_cap, "%s: trades without contiguous numeric ids have no holes to find",
                 a->stream);
        return TR_EUNSUPPORTED;
    }
    for (size_t i = 0; i < j->n; i++)
        if (j->jobs[i]->state == JOB_RUNNING && !strcmp(j->jobs[i]->args.stream, a->stream)) {
            snprintf(msg, msg_cap, "job %s is already backfilling %s", j->jobs[i]->id, a->stream);
            return TR_EBUSY;
        }
    struct pipe_bfjob *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(msg, msg_cap, "out of memory");
        return TR_ENOMEM;
    }
    b->owner = j;
    b->args = *a;
    b->feed = s->feed;
    snprintf(b->instrument, sizeof b->instrument, "%s", s->instrument);
    int kl = snprintf(b->fill_key, sizeof b->fill_key, "%s/" FILL_SUFFIX "/%s", s->provider,
                      s->instrument);
    if (kl < 0 || (size_t)kl >= sizeof b->fill_key) {
        free(b);
        snprintf(msg, msg_cap, "%s: stream key too long for its fill stream", a->stream);
        return TR_ETOOBIG;
    }
    /* 1: everything appended must be visible to the scan */
    struct tr_error err;
    tr_error_clear(&err);
    struct tr_log *log = pipe_node_log_handle(j->node);
    int rc = pipe_writer_flush(pipe_node_writer(j->node), &err);
    if (!rc) /* tr_log_flush here, or a SYNC call to the writer actor that owns the log */
        rc = pipe_writer_commit(pipe_node_writer(j->node), &err);
    struct tr_log_reader_options ro = {.stream = a->stream};
    if (a->by_time) {
        ro.from = TR_LOG_FROM_TIME;
        ro.ts_ns = a->from;
    } else {
        ro.from = TR_LOG_FROM_SEQ;
        ro.seq = (uint64_t)a->from;
    }
    if (!rc)
        rc = tr_log_reader_alloc(log, &ro, &b->rd, &err);
    if (rc) {
        free(b);
        snprintf(msg, msg_cap, "cannot read the log: %s", err.msg);
        return rc;
    }
    pthread_mutex_lock(&j->mu);
    if (j->n == MAX_JOBS) { /* forget the oldest finished job */
        size_t k = 0;
        while (k < j->n && j->jobs[k]->state == JOB_RUNNING)
            k++;
        if (k == j->n) {
            pthread_mutex_unlock(&j->mu);
            tr_log_reader_free(b->rd);
            free(b);
            snprintf(msg, msg_cap, "%d jobs are running: wait for one to finish", MAX_JOBS);
            return TR_EOVERLOADED;
        }
        struct pipe_bfjob *old = j->jobs[k];
        memmove(&j->jobs[k], &j->jobs[k + 1], (j->n - k - 1) * sizeof *j->jobs);
        j->n--;
        free(old->holes);
        free(old->fills);
        free(old);
    }
    snprintf(b->id, sizeof b->id, "bf-%" PRIu64, ++j->next_id);
    snprintf(b->detail, sizeof b->detail, "scanning the log");
    j->jobs[j->n++] = b;
    pthread_mutex_unlock(&j->mu);
    snprintf(job_id, id_cap, "%s", b->id);
    snprintf(msg, msg_cap, "scanning %s %s %lld..%lld for holes", a->stream,
             a->by_time ? "time" : "seq", (long long)a->from, (long long)a->to);
    tr_nlog(pipe_node_log(j->node), TR_NLOG_INFO, "backfill", "job started", TR_KV_STR("job", b->id),
            TR_KV_STR("stream", a->stream), TR_KV_STR("by", a->by_time ? "time" : "seq"),
            TR_KV_INT("from", a->from), TR_KV_INT("to", a->to));
    uv_timer_start(&j->scan_timer, scan_cb, 0, 0);
    return 0;
}

/* ---- lifecycle ---- */

int pipe_bfjobs_open(struct pipe_bfjobs **out, struct pipe_node *n, struct tr_error *err)
{
    struct pipe_bfjobs *j = calloc(1, sizeof *j);
    if (!j)
        return tr_errorf(err, TR_ENOMEM, "allocate backfill jobs");
    j->node = n;
    pthread_mutex_init(&j->mu, NULL);
    uv_timer_init(pipe_node_loop(n), &j->scan_timer);
    j->scan_timer.data = j;
    j->timer_open = 1;
    tr_buf_init(&j->enc);
    *out = j;
    return 0;
}

void pipe_bfjobs_stop(struct pipe_bfjobs *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++)
        if (j->jobs[i]->phase != 2)
            finish(j->jobs[i], JOB_FAILED, "node stopping");
    if (j->timer_open) {
        uv_timer_stop(&j->scan_timer);
        uv_close((uv_handle_t *)&j->scan_timer, NULL);
        j->timer_open = 0;
    }
}

void pipe_bfjobs_free(struct pipe_bfjobs *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++) {
        if (j->jobs[i]->rd)
            tr_log_reader_free(j->jobs[i]->rd);
        free(j->jobs[i]->holes);
        free(j->jobs[i]->fills);
        free(j->jobs[i]);
    }
    tr_buf_free(&j->enc);
    pthread_mutex_destroy(&j->mu);
    free(j);
}
