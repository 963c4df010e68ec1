/* tickraft-bench pipeline: the node's per-event CPU cost on one core, with
 * no sockets. One process pinned to one CPU (sched_setaffinity before the
 * log opens, so the log's group-commit sync thread and its recompressor
 * inherit the same single CPU) feeds provider frames from memory through
 * the collector's own code:
 *   adapter parse + normalise (tr_provider_parse, as pipe_conn.c does),
 *   pipe_path_offer_frame (stream lookup + node/pipe_dedup.c: native-id
 *   dedup, sequence/gap tracking, reorder buffer and repairs),
 *   pipe_path_emit (msgpack record into the writer's batch),
 *   pipe_writer_flush -> tr_log_append_many (CRC, LZ4 blocks) on a real
 *   log directory opened with the node's options (pipe_log_open), durable
 *   group commit by the sync thread; at the end it waits for the durable
 *   LSN of the last record.
 * The writer is flushed once per 64 KiB of frames (about one socket read,
 * i.e. one loop turn of the node) or at batch_max records. With --wire the
 * collector's writer runs in remote mode, as in the supervision tree: each
 * batch becomes the writer actor's message (node/pipe.h, pipe_wire_*),
 * handed in place to pipe_writer_add_wire + flush on a second writer, as
 * act_writer.c does (the thread hop itself is left out).
 *
 * Frames: "sim" = native-dialect batches (--batch events each, default 200)
 * built with the simulator's own generator and encoder (sim_exch_next,
 * sim_nj_event, laid out like sim/conn.c with the sent_ns stamp), trades
 * and book deltas of 8 instruments, 200k events per pass; "coinbase", "binance", "kalshi"
 * = the real recordings in shared/fixtures/recorded. The frame set is
 * replayed in passes, each a fresh connection and deduplicator (repeated
 * ids would otherwise be dropped as duplicates, which costs less): a pass
 * pays what a node pays when it first sees that traffic, including the
 * REST snapshots that books wait for (Binance: answered from
 * BINANCE.http.0.0 through the adapter; sim: a 10-level snapshot at the
 * first buffered delta, through the adapter) and Coinbase's in-band
 * level2 snapshots. Trade backfills get an empty page (the recordings are
 * samples with holes: gap events). Kalshi's per-subscription seq check
 * (pipe_conn.c, it resubscribes on a hole) is not run: the recording's
 * lines are a sample, every one would be a hole.
 *
 * Figures: events_per_s and ns_per_event are wall time, from the first
 * frame to the last record durable. cpu_ns_per_event is the whole
 * process's CPU time (the sync thread's fdatasync included) and
 * cpu_events_per_s its inverse: what the core does when nobody else uses
 * it (the machine here is shared, so wall time includes waiting for the
 * CPU). Stages, in the pipeline thread's CPU time: parse = a separate
 * parse-only run over the same frames; append = inside pipe_writer_flush
 * (tr_log_append_many: framing, CRC, LZ4, pwrite); dedup_encode = the rest
 * of the full run (stream lookup, dedup, msgpack encoding into the batch).
 * Last line: a JSON object. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "pipe.h"
#include "sim.h"

const char bench_pipeline_help[] =
    "node pipeline on one core, frames from memory: [--provider sim|coinbase|binance|kalshi|all] "
    "[--events N] [--cpu C] [--group-commit-ms MS] [--wire] [--batch EVENTS (sim, 200)] "
    "[--dir D] [--recordings DIR]";

/* A recording's frames (benchutil); a missing file is said, not fatal. */
static void load(struct bench_frames *f, const char *dir, const char *file)
{
    if (bench_frames_load(f, dir, file, NULL) != 0)
        fprintf(stderr, "pipeline: cannot open %s/%s: %s\n", dir, file, strerror(errno));
}

/* Native batch frames of `batch` trades and book deltas, as the
 * simulator's native dialect sends them: SIM_BATCH_HEAD, the 19-digit
 * sent_ns stamp, then the events' texts from the simulator's own encoder
 * (sim_nj_event), as sim/conn.c's sim_conn_batch_add lays them out. The
 * simulator cuts a batch when the socket is writeable: one frame per tick
 * (200 events at 1M/s with its 200 us tick) while the node keeps up. */
static void build_native(struct bench_frames *f, uint64_t events, size_t batch)
{
    struct sim_exch x;
    int64_t epoch = 1700000000000000000LL;
    if (sim_exch_init(&x, SIM_D_NATIVE, 1, 8, 1e6, 1, epoch, epoch)) {
        fprintf(stderr, "pipeline: out of memory\n");
        exit(1);
    }
    struct tr_buf b;
    tr_buf_init(&b);
    struct sim_ev ev;
    size_t in_batch = 0;
    char stamp[24];
    for (uint64_t made = 0; made < events;) {
        sim_exch_next(&x, &ev);
        if (ev.kind != TR_KIND_TRADE && ev.kind != TR_KIND_BOOK_DELTA)
            continue;
        if (!in_batch) {
            snprintf(stamp, sizeof stamp, "%019lld", (long long)(ev.ts + 20000));
            sim_put(&b, SIM_BATCH_HEAD);
            sim_put(&b, stamp);
            sim_put(&b, ",\"events\":[");
        } else {
            sim_put(&b, ",");
        }
        sim_nj_event(&x, &ev, &b);
        made++;
        if (++in_batch == batch || made == events) {
            sim_put(&b, "]}");
            bench_frames_add(f, (const char *)b.data, b.len);
            b.len = 0;
            in_batch = 0;
        }
    }
    tr_buf_free(&b);
    sim_exch_free(&x);
}

/* ---- passes over a recording with new ids ----
 * A recording is a few hundred to ten thousand frames, so it is replayed
 * in passes; each pass moves the native ids on (numbers after the keys
 * below, per instrument, by the span the recording covers, so pass p+1
 * continues pass p without a hole; Kalshi's trade UUIDs get a new tail),
 * and the deduplicator sees one long stream, as from a live feed. The
 * rewriting runs between passes with the clocks paused. */

struct idkey {
    const char *key;
    int cls; /* ids in one class share a span; -1: Kalshi UUID */
};

struct idrule {
    const char *provider, *inst_key;
    struct idkey keys[6];
};

static const struct idrule rules[] = {
    {"coinbase", "product_id", {{"trade_id", 0}, {"sequence", 1}}},
    {"binance", "s", {{"U", 0}, {"u", 0}, {"a", 1}, {"f", 2}, {"l", 2}}},
    {"kalshi", "market_ticker", {{"trade_id", -1}}},
};

#define SPAN_MAX 64

struct span {
    char inst[TR_INSTRUMENT_MAX];
    uint64_t lo[3], hi[3];
    uint8_t seen[3];
};

struct rewriter {
    const struct idrule *rule;
    struct span spans[SPAN_MAX];
    size_t n_spans;
    struct tr_json_tok *toks;
    size_t cap;
    struct tr_buf out;
};

static int tok_is(const char *t, const struct tr_json_tok *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == TR_JSON_STRING && k->len == n && !memcmp(t + k->start, s, n);
}

/* Tokens of frame i (NULL when it is not JSON). */
static const struct tr_json_tok *rw_tokens(struct rewriter *w, const char *t, size_t len, int *n)
{
    if (w->cap < len + 1) {
        free(w->toks);
        w->cap = len + 1;
        w->toks = malloc(w->cap * sizeof *w->toks);
        if (!w->toks) {
            w->cap = 0;
            return NULL;
        }
    }
    struct tr_error err;
    *n = tr_json_parse(t, len, w->toks, w->cap, &err);
    return *n > 0 ? w->toks : NULL;
}

static struct span *rw_span(struct rewriter *w, const char *t, const struct tr_json_tok *k, int n)
{
    for (int i = 1; i + 1 < n; i++)
        if (tok_is(t, &k[i], w->rule->inst_key) && k[i + 1].type == TR_JSON_STRING &&
            k[i + 1].len < TR_INSTRUMENT_MAX) {
            const char *v = t + k[i + 1].start;
            size_t vl = k[i + 1].len;
            for (size_t j = 0; j < w->n_spans; j++)
                if (strlen(w->spans[j].inst) == vl && !memcmp(w->spans[j].inst, v, vl))
                    return &w->spans[j];
            if (w->n_spans == SPAN_MAX)
                return NULL;
            struct span *s = &w->spans[w->n_spans++];
            memset(s, 0, sizeof *s);
            memcpy(s->inst, v, vl);
            return s;
        }
    return NULL;
}

static int rw_class(const struct rewriter *w, const char *t, const struct tr_json_tok *key)
{
    for (int j = 0; j < 6 && w->rule->keys[j].key; j++)
        if (tok_is(t, key, w->rule->keys[j].key))
            return w->rule->keys[j].cls;
    return -2;
}

static uint64_t tok_u64(const char *t, const struct tr_json_tok *k)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < k->len; i++)
        v = v * 10 + (uint64_t)(t[k->start + i] - '0');
    return v;
}

/* Learns each instrument's id spans from the recording. 0: no rule. */
static int rw_init(struct rewriter *w, const char *provider, const struct bench_frames *fr)
{
    memset(w, 0, sizeof *w);
    tr_buf_init(&w->out);
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (!strcmp(rules[i].provider, provider))
            w->rule = &rules[i];
    if (!w->rule)
        return 0;
    for (size_t f = 0; f < fr->n; f++) {
        int n;
        const char *t = fr->v[f];
        const struct tr_json_tok *k = rw_tokens(w, t, fr->len[f], &n);
        struct span *s = k ? rw_span(w, t, k, n) : NULL;
        for (int i = 1; s && i + 1 < n; i++) {
            int c = rw_class(w, t, &k[i]);
            if (c < 0 || k[i + 1].type != TR_JSON_NUMBER || t[k[i + 1].start] == '-')
                continue;
            uint64_t v = tok_u64(t, &k[i + 1]);
            if (!s->seen[c] || v < s->lo[c])
                s->lo[c] = v;
            if (!s->seen[c] || v > s->hi[c])
                s->hi[c] = v;
            s->seen[c] = 1;
        }
    }
    return 1;
}

/* Writes frame `src` with the ids of pass `pass` into dst (a frame set
 * of the same shape). */
static void rw_pass(struct rewriter *w, const struct bench_frames *src, struct bench_frames *dst,
                    uint64_t pass)
{
    for (size_t f = 0; f < src->n; f++) {
        int n;
        const char *t = src->v[f];
        const struct tr_json_tok *k = rw_tokens(w, t, src->len[f], &n);
        struct span *s = k ? rw_span(w, t, k, n) : NULL;
        w->out.len = 0;
        size_t at = 0;
        for (int i = 1; s && i + 1 < n; i++) {
            int c = rw_class(w, t, &k[i]);
            const struct tr_json_tok *v = &k[i + 1];
            char num[48];
            int nl;
            if (c >= 0 && v->type == TR_JSON_NUMBER && s->seen[c] && t[v->start] != '-') {
                uint64_t x = tok_u64(t, v) + pass * (s->hi[c] - s->lo[c] + 1);
                nl = snprintf(num, sizeof num, "%llu", (unsigned long long)x);
            } else if (c == -1 && v->type == TR_JSON_STRING && v->len == 36) {
                /* a UUID: the last 12 hex digits say which pass */
                nl = snprintf(num, sizeof num, "%.24s%012llx", t + v->start,
                              (unsigned long long)(pass * 0x9e3779b1u) & 0xffffffffffffull);
            } else {
                continue;
            }
            tr_buf_append(&w->out, t + at, v->start - at);
            tr_buf_append(&w->out, num, (size_t)nl);
            at = v->start + v->len;
        }
        tr_buf_append(&w->out, t + at, src->len[f] - at);
        char *nv = realloc(dst->v[f], w->out.len + 1);
        if (!nv)
            continue; /* keeps the old text: duplicates, counted as such */
        memcpy(nv, w->out.data, w->out.len);
        nv[w->out.len] = 0;
        dst->v[f] = nv;
        dst->bytes += w->out.len - dst->len[f];
        dst->len[f] = w->out.len;
    }
}

static void rw_free(struct rewriter *w)
{
    free(w->toks);
    tr_buf_free(&w->out);
}

/* ---- the pipeline under test ---- */

#define MAX_REQ 256

struct bp {
    const struct tr_provider_ops *ops;
    struct tr_provider prov;
    struct tr_frame fr, rfr;
    struct pipe_cfg *cfg;
    struct tr_log *log;
    struct pipe_writer w;
    struct pipe_dedup d;
    int have_d, have_prov;
    struct pd_stream *snap_q[MAX_REQ], *bf_q[MAX_REQ];
    size_t n_snap, n_bf;
    struct bench_frames rest;   /* Binance depth bodies, "SYMBOL body" */
    int wire;             /* --wire: the actor tree's hand-off format */
    struct pipe_writer lw; /* --wire: the writer actor's local writer */
    struct pipe_wremote rem;
    struct tr_buf snap_text;
    uint64_t append_ns, events, frames, rejects, snapshots, backfills, fatal;
    int pass_token;       /* a unique "connection" pointer per pass */
};

static int emit_cb(void *arg, struct pd_stream *s, uint64_t seq, const struct tr_event *ev,
                   const uint8_t *enc, size_t enc_len)
{
    struct bp *b = arg;
    struct tr_error err;
    tr_error_clear(&err);
    int rc = pipe_path_emit(&b->w, s, seq, ev, enc, enc_len, &err);
    if (rc)
        fprintf(stderr, "pipeline: append failed: %s\n", err.msg);
    return rc;
}

static void want_backfill_cb(void *arg, struct pd_stream *s)
{
    struct bp *b = arg;
    if (b->n_bf < MAX_REQ) {
        s->req_out = 1;
        b->bf_q[b->n_bf++] = s;
    }
}

static void want_snapshot_cb(void *arg, struct pd_stream *s)
{
    struct bp *b = arg;
    if (b->n_snap < MAX_REQ) {
        s->req_out = 1;
        b->snap_q[b->n_snap++] = s;
    }
}

static int dedup_open(struct bp *b)
{
    struct pd_ops ops = {.arg = b, .emit = emit_cb, .want_backfill = want_backfill_cb,
                         .want_snapshot = want_snapshot_cb};
    if (b->have_d)
        pipe_dedup_close(&b->d);
    b->have_d = pipe_dedup_init(&b->d, &ops, 0, 1) == 0;
    struct tr_error err;
    if (b->have_prov)
        tr_provider_close(&b->prov);
    b->have_prov = tr_provider_init(&b->prov, b->ops, &err) == 0;
    b->n_snap = b->n_bf = 0;
    b->pass_token++;
    return b->have_d && b->have_prov ? 0 : -1;
}

/* The simulator's /native/book answer for a book whose first buffered
 * delta is the next update (what the simulator sends: tr_event_to_json of
 * a book_snapshot, 10 levels a side). */
static const char *native_snapshot(struct bp *b, const struct pd_stream *s)
{
    struct tr_event e;
    struct tr_level lv[20];
    tr_event_init(&e);
    e.kind = TR_KIND_BOOK_SNAPSHOT;
    snprintf(e.provider, sizeof e.provider, "sim");
    snprintf(e.instrument, sizeof e.instrument, "%s", s->instrument);
    e.seq = s->buf[s->head].first - 1;
    e.fields = TR_F_SEQ;
    for (int i = 0; i < 20; i++) {
        lv[i].price = (struct tr_decimal){10000 + (i < 10 ? -i : i), 2};
        lv[i].size = (struct tr_decimal){100 + i, 0};
    }
    e.levels = lv;
    e.n_bids = e.n_asks = 10;
    b->snap_text.len = 0;
    if (tr_event_to_json(&e, &b->snap_text) || tr_buf_append(&b->snap_text, "", 1))
        return NULL;
    return (const char *)b->snap_text.data;
}

/* The REST answers a node would get, served after the frame that asked
 * (the node's REST is asynchronous too). A snapshot request is answered
 * once per stream and pass; a second one (the recorded snapshot is older
 * than the buffered deltas) fails, as a fetch that gave up. */
static int serve_requests(struct bp *b)
{
    int rc = 0;
    while (!rc && (b->n_snap || b->n_bf)) {
        if (b->n_bf) {
            struct pd_stream *s = b->bf_q[--b->n_bf];
            b->backfills++;
            rc = pipe_dedup_backfill(&b->d, s, NULL, 0, 0, 0);
            continue;
        }
        struct pd_stream *s = b->snap_q[--b->n_snap];
        const char *body = NULL;
        size_t il = strlen(s->instrument);
        for (size_t i = 0; i < b->rest.n && !s->resyncs; i++)
            if (!strncmp(b->rest.v[i], s->instrument, il) && b->rest.v[i][il] == ' ')
                body = b->rest.v[i] + il + 1;
        if (!body && b->ops == &tr_provider_native && !s->resyncs && s->n > s->head)
            body = native_snapshot(b, s);
        if (!body) {
            rc = pipe_dedup_snapshot(&b->d, s, NULL);
            continue;
        }
        struct tr_rest_req q = {.kind = TR_REST_BOOK, .instrument = s->instrument};
        struct tr_rest_result res;
        struct tr_error err;
        tr_rest_result_init(&res);
        if (b->ops->rest_parse(&q, body, strlen(body), &b->rfr, &res, &err) == 0 && b->rfr.n_events) {
            b->snapshots++;
            rc = pipe_dedup_snapshot(&b->d, s, &b->rfr.events[0]);
        } else {
            rc = pipe_dedup_snapshot(&b->d, s, NULL);
        }
        tr_rest_result_free(&res);
    }
    return rc;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int flush(struct bp *b)
{
    struct tr_error err;
    tr_error_clear(&err);
    uint64_t t0 = thread_ns();
    int rc = pipe_writer_flush(&b->w, &err);
    b->append_ns += thread_ns() - t0;
    if (rc)
        fprintf(stderr, "pipeline: flush: %s\n", err.msg);
    return rc;
}

/* One frame through the collector's path (pipe_conn.c's on_frame minus
 * the socket bookkeeping). */
static int one_frame(struct bp *b, const char *p, size_t len)
{
    struct tr_error err;
    tr_error_clear(&err);
    b->frames++;
    if (tr_provider_parse(&b->prov, p, len, wall_ns(), &b->fr, &err)) {
        b->rejects++;
        return 0;
    }
    if (b->fr.ctl.kind != TR_CTL_DATA)
        return 0;
    uint64_t offered = 0;
    int rc = pipe_path_offer_frame(&b->d, b->ops, &b->fr, &b->pass_token, NULL, &offered);
    b->events += offered;
    if (!rc && (b->n_snap || b->n_bf))
        rc = serve_requests(b);
    return rc;
}

struct result {
    double events_per_s, cpu_ns_per_event, wall_ns_per_event, thread_ns_per_event, parse_ns, dedup_encode_ns,
        append_ns, durable_wait_ms, mb_per_s, rss_mb, frames_mb;
    uint64_t events, records, frames, passes, rejects, dups, gaps, snapshots;
};

/* Parse-only pass over the frames (the parse stage on its own). */
static double parse_only(const struct tr_provider_ops *ops, const struct bench_frames *fr,
                         uint64_t passes, uint64_t *events)
{
    struct tr_provider p;
    struct tr_frame f;
    struct tr_error err;
    if (tr_provider_init(&p, ops, &err))
        return 0;
    tr_frame_init(&f);
    uint64_t n = 0, t0 = thread_ns();
    for (uint64_t k = 0; k < passes; k++)
        for (size_t i = 0; i < fr->n; i++)
            if (tr_provider_parse(&p, fr->v[i], fr->len[i], wall_ns(), &f, &err) == 0)
                n += f.n_events;
    uint64_t dt = thread_ns() - t0;
    tr_frame_free(&f);
    tr_provider_close(&p);
    *events = n;
    return (double)dt;
}

/* --wire: what the writer actor does with a batch message (act_writer.c's
 * on_batch: pipe_writer_add_wire, then flush), called in place of the
 * send, i.e. the supervision tree's path minus the thread hop. */
static int wire_send(void *arg, uint32_t type, const void *p, size_t n, int sync,
                     uint64_t *reply_lsn, struct tr_error *err)
{
    struct bp *b = arg;
    (void)sync;
    (void)reply_lsn;
    if (type != PIPE_WMSG_BATCH)
        return 0;
    int rc = pipe_writer_add_wire(&b->lw, p, n, err);
    return rc ? rc : pipe_writer_flush(&b->lw, err);
}

static int run(const char *name, const struct bench_frames *fr, const struct bench_frames *rest,
               uint64_t target, const char *dir, long gc_ms, int wire, struct result *r)
{
    struct bp b;
    memset(&b, 0, sizeof b);
    b.wire = wire;
    memset(r, 0, sizeof *r);
    b.ops = tr_provider_find(name);
    b.rest = *rest;
    tr_frame_init(&b.fr);
    tr_frame_init(&b.rfr);
    tr_buf_init(&b.snap_text);
    b.cfg = calloc(1, sizeof *b.cfg);
    if (!b.cfg || !b.ops || !fr->n)
        return -1;
    snprintf(b.cfg->data_dir, sizeof b.cfg->data_dir, "%s", dir);
    b.cfg->sync = TR_LOG_SYNC_GROUP;
    b.cfg->group_commit_ms = (uint32_t)gc_ms;
    struct tr_error err;
    tr_error_clear(&err);
    if (pipe_log_open(&b.log, b.cfg, &err) || pipe_writer_init(&b.w, b.log, 4096) ||
        (wire && pipe_writer_init(&b.lw, b.log, 4096))) {
        fprintf(stderr, "pipeline: %s\n", err.msg);
        return -1;
    }
    if (wire) {
        b.rem = (struct pipe_wremote){.arg = &b, .send = wire_send};
        pipe_writer_set_remote(&b.w, &b.rem, tr_log_last_lsn(b.log) + 1, 1);
    }
    /* passes over the frame set until `target` events were offered */
    uint64_t per_pass = 0;
    parse_only(b.ops, fr, 1, &per_pass);
    uint64_t passes = per_pass ? (target + per_pass - 1) / per_pass : 1;
    uint64_t pev = 0;
    double parse_dt = parse_only(b.ops, fr, passes, &pev);

    /* recordings: one deduplicator, ids moved on per pass (see above);
     * the simulator's frames: a fresh one per pass of 200k events */
    struct rewriter rw;
    int rewrite = rw_init(&rw, name, fr);
    struct bench_frames cur = {0};
    for (size_t i = 0; rewrite && i < fr->n; i++)
        bench_frames_add(&cur, fr->v[i], fr->len[i]);
    const struct bench_frames *use = rewrite ? &cur : fr;
    int rc = 0;
    uint64_t dups = 0, gaps = 0, paused = 0, paused_cpu = 0;
    size_t since = 0;
    uint64_t c0 = cpu_ns(), t0 = bench_now_ns(), th0 = thread_ns();
    for (uint64_t k = 0; k < passes && !rc; k++) {
        if (rewrite && k > 0) {
            uint64_t p0 = bench_now_ns(), q0 = cpu_ns();
            rw_pass(&rw, fr, &cur, k);
            paused += bench_now_ns() - p0;
            paused_cpu += cpu_ns() - q0;
        } else if (!rewrite || k == 0) {
            if (b.have_d) {
                dups += b.d.dups;
                gaps += b.d.gaps + b.d.gaps_unfilled;
            }
            if (dedup_open(&b)) {
                rc = -1;
                break;
            }
        }
        for (size_t i = 0; i < use->n && !rc; i++) {
            rc = one_frame(&b, use->v[i], use->len[i]);
            since += use->len[i];
            /* about one socket read per loop turn; never past batch_max
             * (a frame carries at most 500 events here) */
            if (!rc && (since >= 65536 || b.w.n + 512 > b.w.batch_max)) {
                rc = flush(&b);
                since = 0;
            }
        }
    }
    if (!rc)
        rc = flush(&b);
    uint64_t last = tr_log_last_lsn(b.log);
    uint64_t tw = bench_now_ns();
    if (!rc && tr_log_wait_durable(b.log, last, 60000)) {
        fprintf(stderr, "pipeline: the log did not become durable\n");
        rc = -1;
    }
    uint64_t dt = bench_now_ns() - t0 - paused, dc = cpu_ns() - c0 - paused_cpu;
    uint64_t dth = thread_ns() - th0 - paused_cpu;
    /* before anything is freed: the log, the deduplicator's streams and
     * the batches, plus the frames held in memory (reported apart) */
    r->rss_mb = bench_rss_mb();
    r->frames_mb = (double)(fr->bytes + cur.bytes + rest->bytes) / (1024.0 * 1024.0);
    rw_free(&rw);
    bench_frames_free(&cur);
    dups += b.d.dups;
    gaps += b.d.gaps + b.d.gaps_unfilled;
    r->durable_wait_ms = (double)(bench_now_ns() - tw) / 1e6;
    r->events = b.events;
    r->records = wire ? b.lw.appended : b.w.appended;
    r->frames = b.frames;
    r->passes = passes;
    r->rejects = b.rejects;
    r->dups = dups;
    r->gaps = gaps;
    r->snapshots = b.snapshots;
    double ev = b.events ? (double)b.events : 1;
    r->events_per_s = (double)b.events / ((double)dt / 1e9);
    r->wall_ns_per_event = (double)dt / ev;
    r->cpu_ns_per_event = (double)dc / ev;
    r->parse_ns = parse_dt / (pev ? (double)pev : 1);
    r->append_ns = (double)b.append_ns / ev;
    r->thread_ns_per_event = (double)dth / ev;
    r->dedup_encode_ns = r->thread_ns_per_event - r->parse_ns - r->append_ns;
    r->mb_per_s = (double)(fr->bytes * passes) / ((double)dt / 1e3);
    pipe_writer_close(&b.w);
    if (wire)
        pipe_writer_close(&b.lw);
    if (b.have_d)
        pipe_dedup_close(&b.d);
    if (b.have_prov)
        tr_provider_close(&b.prov);
    tr_frame_free(&b.fr);
    tr_frame_free(&b.rfr);
    tr_buf_free(&b.snap_text);
    if (tr_log_close(b.log, &err))
        rc = -1;
    free(b.cfg);
    return rc;
}

static void load_rest(struct bench_frames *rest, const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/BINANCE.http.0.0", dir);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, fp) > 0) {
        char *sym = strstr(line, "symbol="), *body = strstr(line, ": {");
        if (!sym || !body)
            continue;
        sym += 7;
        size_t sl = strcspn(sym, "&");
        size_t bl = strcspn(body + 2, "\r\n");
        char *t = malloc(sl + 1 + bl + 1);
        if (!t)
            break;
        memcpy(t, sym, sl);
        t[sl] = ' ';
        memcpy(t + sl + 1, body + 2, bl);
        t[sl + 1 + bl] = 0;
        bench_frames_add(rest, t, sl + 1 + bl);
        free(t);
    }
    free(line);
    fclose(fp);
}

static int rm_rf(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static int one(const char *name, const char *recdir, const char *base, uint64_t target,
               long gc_ms, int wire, size_t batch, int cpu, char *json, size_t cap)
{
    struct bench_frames fr = {0}, rest = {0};
    if (!strcmp(name, "sim"))
        build_native(&fr, target < 200000 ? target : 200000, batch);
    else if (!strcmp(name, "coinbase"))
        load(&fr, recdir, "COINBASE.ws.28.0");
    else if (!strcmp(name, "binance")) {
        load(&fr, recdir, "BINANCE.ws.1.0");
        load_rest(&rest, recdir);
    } else if (!strcmp(name, "kalshi")) {
        load(&fr, recdir, "kalshi_trade.jsonl");
        load(&fr, recdir, "kalshi_ticker.jsonl");
    } else {
        fprintf(stderr, "pipeline: unknown provider '%s'\n", name);
        return 2;
    }
    if (!fr.n) {
        fprintf(stderr, "pipeline: no frames for %s (--recordings DIR)\n", name);
        return 1;
    }
    char dir[sizeof ((struct pipe_cfg *)0)->data_dir];
    if ((size_t)snprintf(dir, sizeof dir, "%.400s/%.64s", base, name) >= sizeof dir)
        return 2;
    rm_rf(dir);
    struct result r;
    int rc = run(name, &fr, &rest, target, dir, gc_ms, wire, &r);
    rm_rf(dir);
    if (rc) {
        bench_frames_free(&fr);
        bench_frames_free(&rest);
        return 1;
    }
    printf("%-8s %llu frames (%zu distinct, %.0f B avg), %llu events -> %llu records, %llu passes: "
           "%.0f events/s durable, %.0f ns/event wall, CPU %.0f ns/event (process) = %.0f/s, "
           "%.0f (pipeline thread) | parse %.0f, dedup+encode %.0f, append %.0f ns/event CPU | dups %llu, gaps %llu, snapshots %llu, "
           "rejects %llu, final durable wait %.1f ms, RSS %.1f MB (of which frames %.1f MB)\n",
           name, (unsigned long long)r.frames, fr.n, (double)fr.bytes / (double)fr.n,
           (unsigned long long)r.events, (unsigned long long)r.records,
           (unsigned long long)r.passes, r.events_per_s, r.wall_ns_per_event, r.cpu_ns_per_event,
           1e9 / r.cpu_ns_per_event, r.thread_ns_per_event, r.parse_ns, r.dedup_encode_ns, r.append_ns, (unsigned long long)r.dups,
           (unsigned long long)r.gaps, (unsigned long long)r.snapshots,
           (unsigned long long)r.rejects, r.durable_wait_ms, r.rss_mb, r.frames_mb);
    snprintf(json, cap,
             "{\"provider\":\"%s\",\"events_per_s\":%.0f,\"ns_per_event\":%.0f,"
             "\"cpu_ns_per_event\":%.0f,\"cpu_events_per_s\":%.0f,\"thread_cpu_ns_per_event\":%.0f,"
             "\"cpu_ns_per_event_by_stage\":{\"parse\":%.0f,"
             "\"dedup_encode\":%.0f,\"append\":%.0f},\"events\":%llu,\"records\":%llu,"
             "\"frames\":%llu,\"passes\":%llu,\"mb_per_s\":%.1f,\"dups\":%llu,\"gaps\":%llu,"
             "\"rejects\":%llu,\"rss_mb\":%.1f,\"frames_mb\":%.1f,\"cpu\":%d,"
             "\"group_commit_ms\":%ld}",
             name, r.events_per_s, r.wall_ns_per_event, r.cpu_ns_per_event,
             1e9 / r.cpu_ns_per_event, r.thread_ns_per_event, r.parse_ns,
             r.dedup_encode_ns, r.append_ns, (unsigned long long)r.events,
             (unsigned long long)r.records, (unsigned long long)r.frames,
             (unsigned long long)r.passes, r.mb_per_s, (unsigned long long)r.dups,
             (unsigned long long)r.gaps, (unsigned long long)r.rejects, r.rss_mb, r.frames_mb, cpu,
             gc_ms);
    bench_frames_free(&fr);
    bench_frames_free(&rest);
    return 0;
}

/* Peak resident set (VmHWM), MiB: the frames held in memory included. */
static double peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb / 1024.0;
}

int bench_pipeline_main(int argc, char **argv)
{
    const char *name = bench_arg(argc, argv, "--provider", "all");
    uint64_t target = (uint64_t)bench_arg_long(argc, argv, "--events", 2000000);
    long gc_ms = bench_arg_long(argc, argv, "--group-commit-ms", 2);
    long batch = bench_arg_long(argc, argv, "--batch", 200);
    if (batch < 1 || batch > 512) /* the flush keeps 512 records of room */
        batch = batch < 1 ? 1 : 512;
    int wire = 0;
    for (int i = 1; i < argc; i++)
        wire |= !strcmp(argv[i], "--wire");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int cpu = (int)bench_arg_long(argc, argv, "--cpu", ncpu > 1 ? ncpu - 1 : 0);
    char defrec[1024];
    const char *src = getenv("TR_SOURCE_DIR");
    snprintf(defrec, sizeof defrec, "%s/../shared/fixtures/recorded", src ? src : ".");
    if (access(defrec, R_OK) != 0)
        snprintf(defrec, sizeof defrec, "/work/shared/fixtures/recorded");
    const char *recdir = bench_arg(argc, argv, "--recordings", defrec);
    char tmpl[] = "/tmp/tr-bench-pipeline-XXXXXX";
    const char *base = bench_arg(argc, argv, "--dir", NULL);
    if (!base) {
        if (!mkdtemp(tmpl)) {
            perror("pipeline: mkdtemp");
            return 1;
        }
        base = tmpl;
    }
    /* before the log opens: its threads inherit this mask */
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set)) {
        perror("pipeline: sched_setaffinity");
        return 1;
    }
    printf("pipeline: pinned to CPU %d (this thread and the log's sync and recompression "
           "threads: one core), group commit %ld ms, %s, log under %s\n",
           cpu, gc_ms,
           wire ? "records through the writer actor's batch message (--wire)"
                : "records appended by the collector's writer (single-loop node)",
           base);
    static const char *const all[] = {"sim", "coinbase", "binance", "kalshi"};
    const char *const *names = all;
    size_t n = 4;
    if (strcmp(name, "all") != 0) {
        names = &name;
        n = 1;
    }
    char out[8192];
    size_t ol = (size_t)snprintf(out, sizeof out, "{\"bench\":\"pipeline\",\"cpu\":%d,"
                                 "\"group_commit_ms\":%ld,\"wire\":%s,\"sim_batch\":%ld", cpu,
                                 gc_ms, wire ? "true" : "false", batch);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char json[1024];
        rc = one(names[i], recdir, base, target, gc_ms, wire, batch, cpu, json, sizeof json);
        if (!rc)
            ol += (size_t)snprintf(out + ol, sizeof out - ol, ",\"%s\":%s", names[i], json);
    }
    if (base == tmpl)
        rmdir(tmpl);
    if (rc)
        return rc;
    snprintf(out + ol, sizeof out - ol, ",\"rss_mb\":%.1f}", peak_rss_mb());
    printf("%s\n", out);
    return 0;
}
