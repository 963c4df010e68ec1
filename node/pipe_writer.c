/* The writer: queues the deduplicator's records and appends them to the
 * durable log in batches (one tr_log_append_many per batch), and the
 * per-stream checkpoints that let a restarted node resume.
 *
 * Batch policy: a batch is flushed when it holds batch_max records, and in
 * any case at the end of every loop iteration (the node's uv_check handle),
 * so a record waits at most for the frames read in the same iteration. The
 * log's group commit then makes it durable within group_commit_ms.
 *
 * Remote mode (the supervision tree, node/act_*.c): the collector's writer
 * builds the same batch as one message (struct pipe_wire_hdr, then per
 * record a struct pipe_wire_rec, the key and the payload) and sends it to
 * the writer actor, whose local writer appends it with pipe_writer_add_wire.
 * The collector predicts LSNs (the writer actor is the log's only appender
 * and appends batches in the order sent); the writer actor checks each
 * batch's first_lsn and epoch against the log.
 *
 * Checkpoint file DIR/checkpoint (text, rewritten atomically):
 *   tickraft-checkpoint 2\n
 *   lsn <durable lsn>\n
 *   <seq> <ts_ns> <stream key>\n   (one line per stream; ts = last exchange time)
 * It only shortens the startup scan: positions are always re-derived from
 * the log records after `lsn`, so a lost or stale file costs time, never
 * data. */
#include "pipe.h"
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- latency histogram: 32 linear sub-buckets per power of two (pipe.h) ---- */

#define LAT_SUB (1u << PIPE_LAT_SUB_BITS)

static size_t lat_bucket(uint64_t us)
{
    if (us < LAT_SUB)
        return (size_t)us;
    int p = 63 - __builtin_clzll(us); /* >= PIPE_LAT_SUB_BITS */
    size_t sub = (size_t)((us >> (p - PIPE_LAT_SUB_BITS)) & (LAT_SUB - 1));
    size_t b = (size_t)(p - PIPE_LAT_SUB_BITS + 1) * LAT_SUB + sub;
    return b < PIPE_LAT_NB ? b : PIPE_LAT_NB - 1;
}

static uint64_t lat_value(size_t b)
{
    if (b < LAT_SUB)
        return b;
    size_t p = b / LAT_SUB + PIPE_LAT_SUB_BITS - 1, sub = b % LAT_SUB;
    return ((uint64_t)LAT_SUB + sub) << (p - PIPE_LAT_SUB_BITS);
}

void pipe_lat_add(struct pipe_lat *h, uint64_t us)
{
    h->b[lat_bucket(us)]++;
    h->n++;
}

uint64_t pipe_lat_value(size_t b) { return lat_value(b); }

int pipe_lat_json(const struct pipe_lat *h, struct tr_buf *out)
{
    int rc = tr_buf_append(out, "[", 1);
    int first = 1;
    for (size_t i = 0; i < PIPE_LAT_NB && !rc; i++) {
        if (!h->b[i])
            continue;
        char t[48];
        int k = snprintf(t, sizeof t, "%s[%zu,%llu]", first ? "" : ",", i,
                         (unsigned long long)h->b[i]);
        rc = tr_buf_append(out, t, (size_t)k);
        first = 0;
    }
    return rc ? rc : tr_buf_append(out, "]", 1);
}

uint64_t pipe_lat_pct(const struct pipe_lat *h, double p)
{
    if (!h->n)
        return 0;
    uint64_t want = (uint64_t)(p * (double)h->n), acc = 0;
    if (want >= h->n)
        want = h->n - 1;
    for (size_t i = 0; i < PIPE_LAT_NB; i++) {
        acc += h->b[i];
        if (acc > want)
            return lat_value(i);
    }
    return lat_value(PIPE_LAT_NB - 1);
}

const char *const pipe_stage_names[PIPE_ST_N] = {"stage_queue", "stage_hop", "stage_append",
                                                 "stage_sync", "stage_notify"};

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- writer ---- */

int pipe_writer_init(struct pipe_writer *w, struct tr_log *log, uint32_t batch_max)
{
    memset(w, 0, sizeof *w);
    w->log = log;
    w->batch_max = batch_max ? batch_max : 4096;
    w->cap = w->batch_max;
    w->recs = calloc(w->cap, sizeof *w->recs);
    w->offs = calloc(w->cap, sizeof *w->offs);
    w->koffs = calloc(w->cap, sizeof *w->koffs);
    tr_buf_init(&w->arena);
    tr_buf_init(&w->wire);
    w->samp_cap = 1 << 16;
    w->samp = calloc(w->samp_cap, sizeof *w->samp);
    w->samp_every = 8;
    if (!w->recs || !w->offs || !w->koffs || !w->samp) {
        pipe_writer_close(w);
        return TR_ENOMEM;
    }
    return 0;
}

void pipe_writer_close(struct pipe_writer *w)
{
    free(w->recs);
    free(w->offs);
    free(w->koffs);
    free(w->samp);
    tr_buf_free(&w->arena);
    tr_buf_free(&w->wire);
    w->recs = NULL;
    w->offs = NULL;
    w->koffs = NULL;
    w->samp = NULL;
}

/* Remote mode: one record into the batch message. */
static int wire_add(struct pipe_writer *w, const char *stream, size_t stream_len, uint64_t seq,
                    int64_t ts, int64_t lat_ts, int64_t recv_ts, const struct tr_event *ev,
                    const uint8_t *enc, size_t enc_len, uint64_t *lsn_hint,
                    struct tr_error *err)
{
    int rc;
    if (w->n >= w->batch_max && (rc = pipe_writer_flush(w, err)))
        return rc == TR_ENOSPACE ? TR_EOVERLOADED : rc;
    if (!w->n) {
        w->wire.len = 0;
        struct pipe_wire_hdr h = {0};
        if ((rc = tr_buf_append(&w->wire, &h, sizeof h)))
            return tr_errorf(err, rc, "batch message");
    }
    size_t start = w->wire.len;
    struct pipe_wire_rec r = {.seq = seq, .ts = ts, .lat_ts = lat_ts, .recv_ts = recv_ts,
                              .key_len = (uint16_t)stream_len};
    if ((rc = tr_buf_append(&w->wire, &r, sizeof r)) ||
        (rc = tr_buf_append(&w->wire, stream, stream_len)))
        goto fail;
    size_t poff = w->wire.len;
    rc = enc ? tr_buf_append(&w->wire, enc, enc_len) : tr_event_encode(ev, &w->wire);
    if (rc)
        goto fail;
    r.payload_len = (uint32_t)(w->wire.len - poff);
    memcpy(w->wire.data + start, &r, sizeof r);
    w->n++;
    if (lsn_hint)
        *lsn_hint = w->next_lsn + w->n - 1;
    if (w->n >= w->batch_max)
        return pipe_writer_flush(w, err) == TR_ENOSPACE ? 0 : (w->failed ? TR_EIO : 0);
    return 0;
fail:
    w->wire.len = start;
    if (!w->n)
        w->wire.len = 0;
    return tr_errorf(err, rc, "encode record for %.*s", (int)stream_len, stream);
}

static int wire_flush(struct pipe_writer *w, struct tr_error *err)
{
    struct pipe_wire_hdr h = {.magic = PIPE_WIRE_MAGIC, .count = (uint32_t)w->n,
                              .epoch = w->epoch, .first_lsn = w->next_lsn,
                              .sent_ns = wall_ns()};
    memcpy(w->wire.data, &h, sizeof h);
    int rc = w->remote->send(w->remote->arg, PIPE_WMSG_BATCH, w->wire.data, w->wire.len, 0, NULL,
                             err);
    if (rc) {
        /* the writer actor stayed full or is gone: the batch cannot be
         * placed, so this collector stops (and is restarted from the log) */
        w->append_errors++;
        w->failed = 1;
        return tr_error_wrap(err, rc, "send batch of %zu records to the writer", w->n);
    }
    w->next_lsn += w->n;
    w->sent += w->n;
    w->n = 0;
    w->wire.len = 0;
    return 0;
}

int pipe_writer_add(struct pipe_writer *w, const char *stream, size_t stream_len, uint64_t seq,
                    int64_t ts, int64_t lat_ts, const struct tr_event *ev, const uint8_t *enc, size_t enc_len,
                    uint64_t *lsn_hint, struct tr_error *err)
{
    return pipe_writer_add2(w, stream, stream_len, seq, ts, lat_ts, 0, ev, enc, enc_len, lsn_hint,
                            err);
}

int pipe_writer_add2(struct pipe_writer *w, const char *stream, size_t stream_len, uint64_t seq,
                     int64_t ts, int64_t lat_ts, int64_t recv_ts, const struct tr_event *ev,
                     const uint8_t *enc, size_t enc_len, uint64_t *lsn_hint,
                     struct tr_error *err)
{
    int rc;
    if (w->remote)
        return wire_add(w, stream, stream_len, seq, ts, lat_ts, recv_ts, ev, enc, enc_len,
                        lsn_hint, err);
    if (w->n == w->cap && (rc = pipe_writer_flush(w, err)))
        return rc == TR_ENOSPACE ? TR_EOVERLOADED : rc;
    size_t off = w->arena.len;
    if (enc)
        rc = tr_buf_append(&w->arena, enc, enc_len);
    else
        rc = tr_event_encode(ev, &w->arena);
    if (rc) {
        w->arena.len = off;
        return tr_errorf(err, rc, "encode record for %.*s", (int)stream_len, stream);
    }
    w->recs[w->n] = (struct tr_log_record){.stream = stream,
                                           .stream_len = stream_len,
                                           .seq = seq,
                                           .ts_ns = ts,
                                           .payload_len = w->arena.len - off};
    w->offs[w->n] = off;
    w->koffs[w->n] = SIZE_MAX;
    if (!w->n) /* once per batch: tr_log_last_lsn takes the log's lock */
        w->base_lsn = tr_log_last_lsn(w->log);
    w->n++;
    uint64_t lsn = w->base_lsn + w->n; /* LSNs have no holes */
    if (lsn_hint)
        *lsn_hint = lsn;
    if (lat_ts > 0 && ++w->samp_ctr >= w->samp_every && w->samp_len < w->samp_cap) {
        w->samp_ctr = 0;
        size_t i = (w->samp_head + w->samp_len) % w->samp_cap;
        w->samp[i].lsn = lsn;
        w->samp[i].ts = lat_ts;
        w->samp[i].recv = recv_ts;
        w->samp[i].ev = ts;
        w->samp[i].sent = w->cur_sent;
        w->samp[i].handled = w->cur_handled;
        w->samp[i].appended = 0;
        w->samp_len++;
    }
    if (w->n >= w->batch_max)
        return pipe_writer_flush(w, err) == TR_ENOSPACE ? 0 : (w->failed ? TR_EIO : 0);
    return 0;
}

int pipe_writer_flush(struct pipe_writer *w, struct tr_error *err)
{
    if (!w->n)
        return 0;
    if (w->remote)
        return wire_flush(w, err);
    for (size_t i = 0; i < w->n; i++) {
        w->recs[i].payload = w->arena.data + w->offs[i];
        if (w->koffs[i] != SIZE_MAX)
            w->recs[i].stream = (const char *)w->arena.data + w->koffs[i];
    }
    uint64_t last = 0;
    int64_t t0 = wall_ns();
    int rc = tr_log_append_many(w->log, w->recs, w->n, &last, err);
    uint64_t took = (uint64_t)(wall_ns() - t0);
    pipe_lat_add(&w->append_lat, took / 1000);
    tr_histogram_observe(w->h_append, took);
    tr_histogram_observe(w->h_batch, w->n);
    if (rc) {
        w->append_errors++;
        if (rc == TR_ENOSPACE)
            return rc; /* kept queued; retried on the next flush */
        w->failed = 1;
        return tr_error_wrap(err, rc, "append batch of %zu records", w->n);
    }
    /* stamp the samples of this batch (the newest ones not yet stamped) */
    int64_t t1 = t0 + (int64_t)took;
    for (size_t k = w->samp_len; k > 0; k--) {
        size_t i = (w->samp_head + k - 1) % w->samp_cap;
        if (w->samp[i].appended)
            break;
        w->samp[i].appended = t1;
    }
    w->appended += w->n;
    w->batches++;
    w->n = 0;
    w->arena.len = 0;
    return 0;
}

void pipe_writer_durable(struct pipe_writer *w, uint64_t durable_lsn, int64_t now_ns)
{
    pipe_writer_durable_at(w, durable_lsn, 0, now_ns);
}

void pipe_writer_durable_at(struct pipe_writer *w, uint64_t durable_lsn, int64_t at_ns,
                            int64_t now_ns)
{
    while (w->samp_len && w->samp[w->samp_head].lsn <= durable_lsn) {
        const struct pipe_samp *sp = &w->samp[w->samp_head];
        /* A record is durable when the fsync that covered it returned, not
         * when this thread heard of it: the log's stamp of the last durable
         * advance (at or after the record's own fsync, so never early),
         * clamped into [appended, now]. The latency ends there; without a
         * stamp (the single-loop node) it ends now. The hearing is the
         * `notify` stage below. */
        int64_t synced = at_ns < sp->appended ? sp->appended : at_ns > now_ns ? now_ns : at_ns;
        int64_t end = at_ns > 0 ? synced : now_ns;
        int64_t d = end - sp->ts;
        pipe_lat_add(&w->lat, d > 0 ? (uint64_t)d / 1000 : 0);
        if (sp->recv > 0) {
            int64_t r = end - sp->recv;
            pipe_lat_add(&w->recv_lat, r > 0 ? (uint64_t)r / 1000 : 0);
        }
        if (sp->ev > 0) {
            int64_t e = end - sp->ev;
            pipe_lat_add(&w->ev_lat, e > 0 ? (uint64_t)e / 1000 : 0);
        }
        int64_t at[PIPE_ST_N + 1] = {sp->recv, sp->sent, sp->handled, sp->appended, synced,
                                     now_ns};
        if (at[0] > 0 && at[1] > 0 && at[3] > 0) {
            for (int k = 0; k < PIPE_ST_N; k++) {
                int64_t dk = at[k + 1] - at[k];
                pipe_lat_add(&w->stage[k], dk > 0 ? (uint64_t)dk / 1000 : 0);
            }
        }
        tr_histogram_observe(w->h_lat, d > 0 ? (uint64_t)d : 0);
        w->samp_head = (w->samp_head + 1) % w->samp_cap;
        w->samp_len--;
    }
}

int pipe_writer_add_wire(struct pipe_writer *w, const uint8_t *p, size_t n,
                         struct tr_error *err)
{
    struct pipe_wire_hdr h;
    if (n < sizeof h)
        return tr_errorf(err, TR_EPARSE, "batch message: %zu bytes", n);
    memcpy(&h, p, sizeof h);
    if (h.magic != PIPE_WIRE_MAGIC)
        return tr_errorf(err, TR_EPARSE, "batch message: bad magic");
    /* check the whole message before queueing any of it */
    size_t off = sizeof h;
    for (uint32_t i = 0; i < h.count; i++) {
        struct pipe_wire_rec r;
        if (n - off < sizeof r)
            return tr_errorf(err, TR_EPARSE, "batch message: record %u truncated", i);
        memcpy(&r, p + off, sizeof r);
        off += sizeof r;
        if (n - off < (size_t)r.key_len + r.payload_len)
            return tr_errorf(err, TR_EPARSE, "batch message: record %u truncated", i);
        off += (size_t)r.key_len + r.payload_len;
    }
    if (off != n)
        return tr_errorf(err, TR_EPARSE, "batch message: %zu trailing bytes", n - off);
    w->cur_sent = h.sent_ns;
    w->cur_handled = wall_ns();
    off = sizeof h;
    for (uint32_t i = 0; i < h.count; i++) {
        struct pipe_wire_rec r;
        memcpy(&r, p + off, sizeof r);
        off += sizeof r;
        const char *key = (const char *)p + off;
        const uint8_t *pay = p + off + r.key_len;
        off += (size_t)r.key_len + r.payload_len;
        /* the message is freed after this call and a batch may stay
         * queued (TR_ENOSPACE): the key is copied into the arena too */
        size_t koff = w->arena.len;
        int rc;
        if (w->n == w->cap && (rc = pipe_writer_flush(w, err)))
            return rc == TR_ENOSPACE ? TR_EOVERLOADED : rc;
        koff = w->arena.len;
        if ((rc = tr_buf_append(&w->arena, key, r.key_len)))
            return tr_errorf(err, rc, "batch key");
        if ((rc = pipe_writer_add2(w, key, r.key_len, r.seq, r.ts, r.lat_ts, r.recv_ts, NULL,
                                   pay, r.payload_len, NULL, err)))
            return rc;
        if (w->n) /* still queued (not flushed by a full batch) */
            w->koffs[w->n - 1] = koff;
        else
            w->arena.len = 0; /* flushed with it */
    }
    w->cur_sent = w->cur_handled = 0; /* records added otherwise have no stamps */
    return 0;
}

int pipe_writer_flush_soft(struct pipe_writer *w, struct tr_error *err)
{
    if (w->remote && w->remote->busy && w->n && w->n < w->batch_max &&
        w->remote->busy(w->remote->arg))
        return 0;
    return pipe_writer_flush(w, err);
}

void pipe_writer_set_remote(struct pipe_writer *w, const struct pipe_wremote *r,
                            uint64_t next_lsn, uint64_t epoch)
{
    w->remote = r;
    w->next_lsn = next_lsn;
    w->epoch = epoch;
}

uint64_t pipe_writer_last_lsn(struct pipe_writer *w)
{
    return w->remote ? w->next_lsn - 1 : tr_log_last_lsn(w->log);
}

int pipe_writer_commit(struct pipe_writer *w, struct tr_error *err)
{
    if (!w->remote)
        return tr_log_flush(w->log, err);
    uint64_t last = 0;
    int rc = w->remote->send(w->remote->arg, PIPE_WMSG_SYNC, &w->epoch, sizeof w->epoch, 1,
                             &last, err);
    if (!rc && last + 1 != w->next_lsn)
        rc = tr_errorf(err, TR_EINTERNAL, "writer at lsn %llu, collector sent to %llu",
                       (unsigned long long)last, (unsigned long long)(w->next_lsn - 1));
    return rc;
}

int pipe_writer_ckpt(struct pipe_writer *w, const char *dir, struct pipe_dedup *d, uint64_t lsn,
                     int sync, struct tr_error *err)
{
    if (!w->remote)
        return pipe_ckpt_save(dir, d, lsn, err);
    struct tr_buf b;
    tr_buf_init(&b);
    uint64_t hdr[2] = {w->epoch, lsn};
    int rc = tr_buf_append(&b, hdr, sizeof hdr);
    if (!rc)
        rc = pipe_ckpt_format(d, lsn, &b);
    if (!rc)
        rc = w->remote->send(w->remote->arg, PIPE_WMSG_CKPT, b.data, b.len, sync, NULL, err);
    else
        tr_errorf(err, rc, "format checkpoint");
    tr_buf_free(&b);
    return rc;
}

void pipe_writer_refresh(struct pipe_writer *w)
{
    if (w->remote && w->remote->refresh)
        w->remote->refresh(w->remote->arg, w);
}

/* ---- checkpoints ---- */

static int ckpt_putf(struct tr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ckpt_putf(struct tr_buf *b, const char *fmt, ...)
{
    char line[TR_LOG_STREAM_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof line)
        return TR_ETOOBIG;
    return tr_buf_append(b, line, (size_t)k);
}

int pipe_ckpt_format(struct pipe_dedup *d, uint64_t lsn, struct tr_buf *out)
{
    int rc = ckpt_putf(out, "tickraft-checkpoint 2\nlsn %llu\n", (unsigned long long)lsn);
    for (struct pd_stream *s = d->all; s && !rc; s = s->next_all)
        if (s->have)
            rc = ckpt_putf(out, "%llu %lld %.*s\n", (unsigned long long)s->last,
                           (long long)s->last_ts_exchange, (int)s->key_len, s->key);
    return rc;
}

int pipe_ckpt_save(const char *dir, struct pipe_dedup *d, uint64_t lsn, struct tr_error *err)
{
    struct tr_buf b;
    tr_buf_init(&b);
    int rc = pipe_ckpt_format(d, lsn, &b);
    if (rc)
        rc = tr_errorf(err, rc, "format checkpoint");
    else
        rc = pipe_ckpt_write(dir, b.data, b.len, err);
    tr_buf_free(&b);
    return rc;
}

int pipe_ckpt_write(const char *dir, const void *text, size_t len, struct tr_error *err)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return tr_errorf(err, tr_err_from_errno(errno), "open %s: %s", tmp, strerror(errno));
    int bad = fwrite(text, 1, len, f) != len;
    bad = bad || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad || rename(tmp, path) != 0) {
        e = bad ? e : errno;
        unlink(tmp);
        return tr_errorf(err, tr_err_from_errno(e), "write %s: %s", path, strerror(e));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static uint64_t ckpt_load(const char *dir, struct pipe_dedup *d)
{
    char path[1024], line[600];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long lsn = 0;
    if (!fgets(line, sizeof line, f) || strcmp(line, "tickraft-checkpoint 2\n") != 0 ||
        !fgets(line, sizeof line, f) || sscanf(line, "lsn %llu", &lsn) != 1) {
        fclose(f);
        return 0; /* unknown or old format: scan the whole log */
    }
    while (fgets(line, sizeof line, f)) {
        unsigned long long seq;
        long long ts;
        int pos = 0;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n')
            line[--n] = 0;
        if (sscanf(line, "%llu %lld %n", &seq, &ts, &pos) >= 2 && pos > 0 && line[pos])
            pipe_dedup_restore(d, line + pos, n - (size_t)pos, seq, ts, 0);
    }
    fclose(f);
    return lsn;
}

int pipe_ckpt_restore(struct tr_log *log, const char *dir, struct pipe_dedup *d,
                      uint64_t *scanned, struct tr_error *err)
{
    uint64_t from = ckpt_load(dir, d);
    struct tr_log_reader_options o = {.from = TR_LOG_FROM_LSN, .lsn = from + 1};
    if (from + 1 < tr_log_first_lsn(log)) {
        o.from = TR_LOG_FROM_START; /* retention passed the file: scan all */
    }
    struct tr_log_reader *r;
    int rc = tr_log_reader_alloc(log, &o, &r, err);
    if (rc)
        return tr_error_wrap(err, rc, "restore checkpoints");
    struct tr_log_record rec;
    uint64_t n = 0;
    while ((rc = tr_log_reader_next(r, &rec, err)) == 1) {
        pipe_dedup_restore(d, rec.stream, rec.stream_len, rec.seq, rec.ts_ns, rec.lsn);
        n++;
    }
    tr_log_reader_free(r);
    if (scanned)
        *scanned = n;
    return rc < 0 ? tr_error_wrap(err, rc, "restore checkpoints: scan log") : 0;
}

int pipe_ckpt_load_ids(struct tr_log *log, struct pipe_dedup *d, int64_t window_ns,
                       struct tr_error *err)
{
    struct tr_event_scratch sc;
    tr_event_scratch_init(&sc);
    int rc = 0;
    for (struct pd_stream *s = d->all; s && !rc; s = s->next_all) {
        if (s->mode != PD_MODE_IDSET || !s->have)
            continue;
        struct tr_log_reader_options o = {.stream = s->key,
                                          .stream_len = s->key_len,
                                          .from = TR_LOG_FROM_TIME,
                                          .ts_ns = s->last_ts_exchange - window_ns};
        struct tr_log_reader *r;
        if ((rc = tr_log_reader_alloc(log, &o, &r, err)))
            break;
        struct tr_log_record rec;
        while ((rc = tr_log_reader_next(r, &rec, err)) == 1) {
            struct tr_event ev;
            size_t used;
            tr_event_scratch_reset(&sc);
            if (tr_event_decode(rec.payload, rec.payload_len, &used, &ev, &sc, NULL) == 0 &&
                (ev.fields & TR_F_ID))
                pipe_dedup_remember(s, ev.id);
        }
        tr_log_reader_free(r);
        rc = rc < 0 ? tr_error_wrap(err, rc, "reload ids of %.*s", (int)s->key_len, s->key) : 0;
    }
    tr_event_scratch_free(&sc);
    return rc;
}
