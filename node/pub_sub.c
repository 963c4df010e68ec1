/* Subscriptions and history queries of the publisher (docs/protocol.md).
 *
 * A subscription is a session on this node: a log reader in LSN order, the
 * stream filter, and the subscriber's cursor (per-stream last seq it has,
 * plus a base time for streams it has not seen). Flow control is pull:
 * the client asks for the next batch (FETCH) when it is ready for it, so a
 * slow consumer just reads further behind, from history, and never loses
 * anything unless retention drops records it has not read yet — then the
 * next reply carries TR_PROTO_FELL_BEHIND and delivery resumes at the oldest
 * record kept. A FETCH names its number: a repeated number gets the same
 * reply again (a reply lost with a connection is not a lost batch).
 *
 * Live subscriptions (protocol 1.2, SUBSCRIBE option TR_PROTO_SUB_LIVE):
 * the session's readers are live log readers, which see records once the
 * writer has put them in the segment file, before their fsync returns,
 * and the long-poll wakes on each write instead of each fsync. Cursors are
 * the same native sequences, so what a crash takes back from the log is
 * collected again under the same sequences and skipped by the cursor.
 *
 * Pipelining (protocol 1.1): a client may send FETCH n+1.. n+3 before the
 * reply to n, so a FETCH is already waiting at the node when the next
 * records become durable (no round trip on the latency path). Fetches of
 * one session are served strictly in number order: a worker holding a
 * number ahead of the next one waits its turn on the session's condition
 * variable (counted as a long-poll waiter, so two workers always stay
 * free; when none is free it answers TR_EBUSY at once and the client sends
 * that number again). The replies thus carry consecutive ranges of the
 * log, whatever order the workers ran in.
 *
 * Lifetime: workers hold a reference (refs, under the publisher's mutex)
 * while they use a session; UNSUBSCRIBE and idle expiry take it out of the
 * table, and whoever drops the last reference frees it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pub_int.h"


struct pub_session {
    uint64_t id;
    unsigned refs;             /* workers using it; guarded by the publisher's mu */
    atomic_int gone;           /* out of the table: freed by the last reference */
    pthread_mutex_t mu;        /* held while a FETCH is served */
    pthread_cond_t turn;       /* with mu: a FETCH finished (done_no moved) */
    uint64_t done_no;          /* number of the last FETCH finished, served or failed */
    atomic_uint_fast64_t served_seen; /* copy of served readable without mu */
    int64_t last_used_ns;
    struct tr_proto_filter filter;
    int any_filter;
    struct tr_cursor floors;   /* seq at or below which a stream is skipped */
    struct tr_cursor matched;  /* key -> 1 matches the filter, 0 not (cache) */
    struct tr_log_reader *rd;
    uint64_t served;           /* number of the last FETCH answered */
    struct tr_buf last;        /* its reply, for a repeat */
    int pending_behind;        /* tell the next reply about a retention hole */
    int from_end;              /* LATEST on this node: the reader's start is the boundary,
                                * base_ts only matters to a later resume elsewhere */
    int live;                  /* 1.2 option: read up to the log's written LSN (records in
                                * the file, not yet durable), woken by each write */
};

static void session_free(struct pub_session *s)
{
    if (!s)
        return;
    tr_log_reader_free(s->rd);
    tr_cursor_free(&s->floors);
    tr_cursor_free(&s->matched);
    tr_buf_free(&s->last);
    pthread_cond_destroy(&s->turn);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void pub_sessions_wake(struct tr_pub *p)
{
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->o.max_subscribers; i++)
        if (p->sessions[i])
            pthread_cond_broadcast(&p->sessions[i]->turn);
    pthread_mutex_unlock(&p->mu);
}

void pub_sessions_free(struct tr_pub *p)
{
    for (unsigned i = 0; i < p->o.max_subscribers; i++) {
        session_free(p->sessions[i]);
        p->sessions[i] = NULL;
    }
    p->n_sessions = 0;
}

/* Drops sessions idle past idle_ms that no worker is using. Caller holds mu. */
static void expire_locked(struct tr_pub *p, int64_t now)
{
    for (unsigned i = 0; i < p->o.max_subscribers; i++) {
        struct pub_session *s = p->sessions[i];
        if (s && !s->refs && now - s->last_used_ns > (int64_t)p->o.idle_ms * 1000000) {
            p->sessions[i] = NULL;
            p->n_sessions--;
            session_free(s);
        }
    }
}

/* Finds a session and takes a reference (release with session_unref);
 * NULL if unknown. */
static struct pub_session *session_ref(struct tr_pub *p, uint64_t id)
{
    struct pub_session *s = NULL;
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->o.max_subscribers; i++)
        if (p->sessions[i] && p->sessions[i]->id == id) {
            s = p->sessions[i];
            break;
        }
    if (s) {
        s->refs++;
        s->last_used_ns = pub_now_ns();
    }
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void session_unref(struct tr_pub *p, struct pub_session *s)
{
    pthread_mutex_lock(&p->mu);
    s->last_used_ns = pub_now_ns();
    int last = --s->refs == 0 && atomic_load(&s->gone);
    pthread_mutex_unlock(&p->mu);
    if (last)
        session_free(s);
}

static int copy_glob(char *dst, const msgpack_object *o)
{
    const char *s;
    size_t n;
    if (tr_proto_str(o, &s, &n) || n >= TR_PROTO_GLOB_MAX)
        return TR_EPARSE;
    memcpy(dst, s ? s : "", n);
    dst[n] = 0;
    return 0;
}

/* LSN of the first record a reader opened with `ro` returns; `none` if it
 * has nothing. */
static int first_lsn_of(struct tr_log *log, const struct tr_log_reader_options *ro,
                        uint64_t none, uint64_t *lsn, struct tr_error *err)
{
    struct tr_log_reader *r;
    int rc = tr_log_reader_alloc(log, ro, &r, err);
    if (rc)
        return rc;
    struct tr_log_record rec;
    rc = tr_log_reader_next(r, &rec, err);
    *lsn = rc == 1 ? rec.lsn : none;
    tr_log_reader_free(r);
    return rc < 0 ? rc : 0;
}

/* Where an LSN-order reader must start so that no stream misses a record
 * after its floor, and no new stream a record at or after base_ts. Sets
 * *behind when a stream's cursor event itself is no longer kept and
 * retention has dropped records: continuity after it cannot be shown. */
static int start_lsn(struct tr_log *log, const struct pub_session *s, uint64_t *out, int *behind,
                     struct tr_error *err)
{
    uint64_t end = (s->live ? tr_log_written_lsn(log) : tr_log_committed_lsn(log)) + 1;
    uint64_t best = end, l;
    struct tr_log_reader_options ro = {.live = s->live};
    int rc, trimmed = tr_log_first_lsn(log) > 1;
    *behind = 0;
    if (s->floors.base_ts == INT64_MIN) {
        best = tr_log_first_lsn(log);
    } else {
        ro.from = TR_LOG_FROM_TIME;
        ro.ts_ns = s->floors.base_ts;
        ro.live = s->live;
        if ((rc = first_lsn_of(log, &ro, end, &l, err)))
            return rc;
        best = l < best ? l : best;
    }
    size_t it = 0, kl;
    const char *key;
    uint64_t seq;
    while (tr_cursor_next(&s->floors, &it, &key, &kl, &seq, NULL)) {
        /* from the first record at the cursor's seq: wanted() skips the k
         * records of that seq the subscriber already has */
        ro = (struct tr_log_reader_options){.stream = key, .stream_len = kl,
                                            .from = TR_LOG_FROM_SEQ, .seq = seq,
                                            .live = s->live};
        struct tr_log_reader *r;
        if ((rc = tr_log_reader_alloc(log, &ro, &r, err)))
            return rc;
        struct tr_log_record rec;
        rc = tr_log_reader_next(r, &rec, err);
        if (rc != 1 || rec.seq != seq) /* the cursor's own event is gone */
            *behind |= trimmed;
        l = rc == 1 ? rec.lsn : end;
        tr_log_reader_free(r);
        if (rc < 0)
            return rc;
        best = l < best ? l : best;
    }
    *out = best;
    return 0;
}

void pub_subscribe(struct tr_pub *p, const msgpack_object_array *body, struct pub_reply *r)
{
    atomic_fetch_add(&p->c.subscribes, 1);
    struct pub_session *s = calloc(1, sizeof *s);
    struct tr_error err;
    tr_error_clear(&err);
    if (!s) {
        pub_reply_error(p, r, TR_ENOMEM, "subscribe: out of memory");
        return;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->turn, &ca);
    pthread_condattr_destroy(&ca);
    tr_cursor_init(&s->floors);
    tr_cursor_init(&s->matched);
    tr_buf_init(&s->last);
    uint64_t start;
    int64_t start_ts;
    const uint8_t *cur;
    size_t cur_len;
    /* 1.2 appends an options element; a node speaking 1.1 (test option)
     * refuses it as 1.1 nodes do */
    uint64_t opts = 0;
    int sz_ok = body->size == 6 || (body->size == 7 && !p->o.speak_1_1 && !p->o.speak_1_0);
    if (!sz_ok || copy_glob(s->filter.provider, &body->ptr[0]) ||
        copy_glob(s->filter.kind, &body->ptr[1]) || copy_glob(s->filter.instrument, &body->ptr[2]) ||
        tr_proto_u64(&body->ptr[3], &start) || start > TR_PROTO_START_CURSOR ||
        tr_proto_i64(&body->ptr[4], &start_ts) || tr_proto_bin(&body->ptr[5], &cur, &cur_len) ||
        (body->size == 7 && tr_proto_u64(&body->ptr[6], &opts))) {
        atomic_fetch_add(&p->c.malformed, 1);
        pub_reply_error(p, r, TR_EPARSE,
                        "subscribe: body must be [provider, kind, instrument, start, ts, cursor%s]",
                        sz_ok ? ", options" : "");
        goto fail;
    }
    if (opts & ~(uint64_t)TR_PROTO_SUB_KNOWN) {
        pub_reply_error(p, r, TR_EUNSUPPORTED,
                        "subscribe: options 0x%llx not supported by this node (protocol %d.%d)",
                        (unsigned long long)(opts & ~(uint64_t)TR_PROTO_SUB_KNOWN),
                        TR_PROTO_MAJOR, TR_PROTO_MINOR);
        goto fail;
    }
    s->live = (opts & TR_PROTO_SUB_LIVE) != 0;
    s->any_filter = s->filter.provider[0] || s->filter.kind[0] || s->filter.instrument[0];
    switch (start) {
    case TR_PROTO_START_LATEST:
        s->floors.base_ts = pub_now_ns();
        s->from_end = 1;
        break;
    case TR_PROTO_START_EARLIEST: s->floors.base_ts = INT64_MIN; break;
    case TR_PROTO_START_TIME: s->floors.base_ts = start_ts; break;
    default:
        if (!cur || tr_cursor_decode(&s->floors, cur, cur_len, &err)) {
            atomic_fetch_add(&p->c.malformed, 1);
            pub_reply_error(p, r, TR_EPARSE, "subscribe: bad cursor: %s", err.msg);
            goto fail;
        }
    }
    struct tr_log_reader_options ro = {.from = TR_LOG_FROM_END, .live = s->live};
    int rc = 0;
    if (start != TR_PROTO_START_LATEST) {
        ro.from = TR_LOG_FROM_LSN;
        rc = start_lsn(p->o.log, s, &ro.lsn, &s->pending_behind, &err);
    }
    if (rc || (rc = tr_log_reader_alloc(p->o.log, &ro, &s->rd, &err))) {
        pub_reply_error(p, r, rc, "subscribe: %s", err.msg);
        goto fail;
    }
    pthread_mutex_lock(&p->mu);
    int64_t now = pub_now_ns();
    expire_locked(p, now);
    unsigned slot = 0;
    while (slot < p->o.max_subscribers && p->sessions[slot])
        slot++;
    if (slot == p->o.max_subscribers) {
        pthread_mutex_unlock(&p->mu);
        pub_reply_error(p, r, TR_EOVERLOADED, "subscribe: %u subscribers already",
                        p->o.max_subscribers);
        goto fail;
    }
    s->id = p->next_id++;
    s->last_used_ns = now;
    p->sessions[slot] = s;
    p->n_sessions++;
    pthread_mutex_unlock(&p->mu);
    if (s->live)
        atomic_fetch_add(&p->c.live_subscribes, 1);
    tr_proto_pack_reply(&r->pk, 0, NULL, 2);
    msgpack_pack_uint64(&r->pk, s->id);
    msgpack_pack_int64(&r->pk, s->floors.base_ts);
    return;
fail:
    session_free(s);
}

void pub_unsubscribe(struct tr_pub *p, const msgpack_object_array *body, struct pub_reply *r)
{
    uint64_t id;
    if (body->size != 1 || tr_proto_u64(&body->ptr[0], &id)) {
        atomic_fetch_add(&p->c.malformed, 1);
        pub_reply_error(p, r, TR_EPARSE, "unsubscribe: body must be [sub_id]");
        return;
    }
    struct pub_session *s = NULL;
    int unused = 0;
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->o.max_subscribers; i++)
        if (p->sessions[i] && p->sessions[i]->id == id) {
            s = p->sessions[i];
            p->sessions[i] = NULL;
            p->n_sessions--;
            atomic_store(&s->gone, 1); /* a worker still using it frees it */
            unused = s->refs == 0;
            break;
        }
    pthread_mutex_unlock(&p->mu);
    if (s && unused)
        session_free(s);
    tr_proto_pack_reply(&r->pk, 0, NULL, 0);
}

/* Whether record `rec` goes to the session's subscriber. */
static int wanted(struct pub_session *s, const struct tr_log_record *rec)
{
    uint64_t v;
    if (s->any_filter) {
        if (!tr_cursor_get(&s->matched, rec->stream, rec->stream_len, &v)) {
            v = (uint64_t)tr_proto_filter_match(&s->filter, rec->stream, rec->stream_len);
            tr_cursor_set(&s->matched, rec->stream, rec->stream_len, v);
        }
        if (!v)
            return 0;
    }
    uint32_t k;
    if (tr_cursor_pos(&s->floors, rec->stream, rec->stream_len, &v, &k)) {
        if (rec->seq != v)
            return rec->seq > v;
        if (k == 0)
            return 1;
        tr_cursor_put(&s->floors, rec->stream, rec->stream_len, v, k - 1); /* one more seen */
        return 0;
    }
    return s->from_end || rec->ts_ns >= s->floors.base_ts;
}

static void pack_record(msgpack_packer *pk, const struct tr_log_record *rec)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_str(pk, rec->stream_len);
    msgpack_pack_str_body(pk, rec->stream, rec->stream_len);
    msgpack_pack_uint64(pk, rec->seq);
    msgpack_pack_int64(pk, rec->ts_ns);
    msgpack_pack_bin(pk, rec->payload_len);
    msgpack_pack_bin_body(pk, rec->payload, rec->payload_len);
}

/* array32 header whose count is patched once the records are packed */
static size_t begin_array32(struct tr_buf *b)
{
    static const uint8_t h[5] = {0xdd, 0, 0, 0, 0};
    tr_buf_append(b, h, 5);
    return b->len - 4;
}

static void end_array32(struct tr_buf *b, size_t at, uint32_t n)
{
    if (b->len < at + 4)
        return;
    b->data[at] = (uint8_t)(n >> 24);
    b->data[at + 1] = (uint8_t)(n >> 16);
    b->data[at + 2] = (uint8_t)(n >> 8);
    b->data[at + 3] = (uint8_t)n;
}

/* Waits up to wait_ms for records past the session's reader, in slices,
 * so that an UNSUBSCRIBE or the publisher's close ends the wait within one
 * slice: the client then gets the replies to its outstanding FETCHes
 * quickly and closes a quiet connection. */
#define LONG_POLL_SLICE_MS 25
static void long_poll(struct tr_pub *p, struct pub_session *s, int wait_ms)
{
    while (wait_ms > 0 && !atomic_load(&s->gone) && !atomic_load(&p->stopping)) {
        int slice = wait_ms < LONG_POLL_SLICE_MS ? wait_ms : LONG_POLL_SLICE_MS;
        if (tr_log_reader_wait(s->rd, slice) != TR_ETIMEDOUT)
            return; /* new records (or the log is closing) */
        wait_ms -= slice;
    }
}

/* Reads the next batch into r. Returns 0 or a log error (err filled). */
static int fill_batch(struct tr_pub *p, struct pub_session *s, uint32_t max_events,
                      int wait_ms, struct pub_reply *r, struct tr_error *err)
{
    int behind = s->pending_behind;
    s->pending_behind = 0;
    tr_proto_pack_reply(&r->pk, 0, NULL, 2);
    size_t flags_at = r->b.len;
    msgpack_pack_uint8(&r->pk, 0); /* positive fixint: patched below */
    size_t at = begin_array32(&r->b);
    uint32_t n = 0;
    size_t base = r->b.len;
    int waited = wait_ms <= 0;
    while (n < max_events && r->b.len - base < p->o.max_batch_bytes) {
        struct tr_log_record rec;
        int rc = tr_log_reader_next(s->rd, &rec, err);
        if (rc == 1) {
            if (wanted(s, &rec)) {
                pack_record(&r->pk, &rec);
                n++;
            }
            continue;
        }
        if (rc == TR_ENOTFOUND) { /* retention overtook this subscriber */
            if (n) {
                s->pending_behind = 1;
                break;
            }
            struct tr_log_reader_options ro = {.from = TR_LOG_FROM_START, .live = s->live};
            struct tr_log_reader *nr;
            if ((rc = tr_log_reader_alloc(p->o.log, &ro, &nr, err)))
                return rc;
            tr_log_reader_free(s->rd);
            s->rd = nr;
            behind = 1;
            continue;
        }
        if (rc < 0)
            return rc;
        if (n || waited || atomic_load(&p->stopping))
            break;
        waited = 1;
        /* long-poll only while two workers stay free for other requests
         * (admin calls, subscribers with data waiting); past that, answer
         * empty at once and let the client come back */
        if (atomic_fetch_add(&p->waiters, 1) < pub_max_waiters(p))
            long_poll(p, s, wait_ms > (int)p->o.max_wait_ms ? (int)p->o.max_wait_ms : wait_ms);
        atomic_fetch_sub(&p->waiters, 1);
    }
    r->b.data[flags_at] = behind ? TR_PROTO_FELL_BEHIND : 0;
    end_array32(&r->b, at, n);
    if (behind)
        atomic_fetch_add(&p->c.fell_behind, 1);
    atomic_fetch_add(&p->c.events_sent, n);
    return 0;
}

/* Waits, with s->mu held, until every FETCH numbered below `no` has
 * finished (or the session goes away, the node stops, or the one before
 * took far longer than a long-poll can: a lost request). */
static void wait_turn(struct tr_pub *p, struct pub_session *s, uint64_t no)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t ns = dl.tv_nsec + ((int64_t)p->o.max_wait_ms * (int64_t)(no - s->done_no) + 1000) *
                                  1000000;
    dl.tv_sec += ns / 1000000000;
    dl.tv_nsec = ns % 1000000000;
    while (s->done_no + 1 < no && !atomic_load(&s->gone) && !atomic_load(&p->stopping))
        if (pthread_cond_timedwait(&s->turn, &s->mu, &dl) == ETIMEDOUT)
            break;
}

static void serve_fetch(struct tr_pub *p, struct pub_session *s, uint64_t no,
                        uint64_t max_events, uint64_t wait_ms, struct pub_reply *r)
{
    struct tr_error err;
    tr_error_clear(&err);
    if (atomic_load(&s->gone)) {
        pub_reply_error(p, r, TR_ENOTFOUND, "fetch: subscription %llu was closed",
                        (unsigned long long)s->id);
        pthread_cond_broadcast(&s->turn); /* fetches waiting their turn see it too */
    } else if (no == s->served && s->last.len) { /* the reply was lost: send it again */
        r->b.len = 0;
        tr_buf_append(&r->b, s->last.data, s->last.len);
    } else if (no != s->served + 1) {
        pub_reply_error(p, r, TR_EPROTO, "fetch: number %llu, expected %llu",
                        (unsigned long long)no, (unsigned long long)s->served + 1);
    } else {
        if (max_events == 0 || max_events > p->o.max_batch_events)
            max_events = p->o.max_batch_events;
        int rc = fill_batch(p, s, (uint32_t)max_events, (int)(wait_ms > 60000 ? 60000 : wait_ms),
                            r, &err);
        if (rc) {
            pub_reply_error(p, r, rc, "fetch: %s", err.msg);
        } else {
            s->served = no;
            atomic_store(&s->served_seen, no);
            s->last.len = 0;
            tr_buf_append(&s->last, r->b.data, r->b.len);
        }
        s->done_no = no; /* served or failed: the next number may go */
        pthread_cond_broadcast(&s->turn);
    }
}

void pub_fetch(struct tr_pub *p, const msgpack_object_array *body, struct pub_reply *r)
{
    atomic_fetch_add(&p->c.fetches, 1);
    uint64_t id, no, max_events, wait_ms;
    if (body->size != 4 || tr_proto_u64(&body->ptr[0], &id) || tr_proto_u64(&body->ptr[1], &no) ||
        tr_proto_u64(&body->ptr[2], &max_events) || tr_proto_u64(&body->ptr[3], &wait_ms)) {
        atomic_fetch_add(&p->c.malformed, 1);
        pub_reply_error(p, r, TR_EPARSE, "fetch: body must be [sub_id, fetch_no, max, wait_ms]");
        return;
    }
    struct pub_session *s = session_ref(p, id);
    if (!s) {
        pub_reply_error(p, r, TR_ENOTFOUND, "fetch: unknown subscription %llu",
                        (unsigned long long)id);
        return;
    }
    /* a pipelined FETCH (ahead of the next number) holds this worker until
     * its turn: count it as a waiter, or refuse it when no worker is spare */
    uint64_t seen = atomic_load(&s->served_seen);
    int ahead = no > seen + 1 && no <= seen + TR_PROTO_PIPELINE_MAX && !p->o.speak_1_0;
    if (ahead && atomic_fetch_add(&p->waiters, 1) >= pub_max_waiters(p)) {
        atomic_fetch_sub(&p->waiters, 1);
        atomic_fetch_add(&p->c.busy, 1);
        pub_reply_error(p, r, TR_EBUSY,
                        "fetch: number %llu is ahead of %llu and no worker is free to hold it; "
                        "send it again after that reply",
                        (unsigned long long)no, (unsigned long long)seen + 1);
        session_unref(p, s);
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (ahead) {
        wait_turn(p, s, no);
        atomic_fetch_sub(&p->waiters, 1);
    }
    serve_fetch(p, s, no, max_events, wait_ms, r);
    pthread_mutex_unlock(&s->mu);
    session_unref(p, s);
}

/* QUERY [stream, by, from, to, limit, after_seq|nil] -> [records, more, last_seq] */
void pub_query(struct tr_pub *p, const msgpack_object_array *body, struct pub_reply *r)
{
    atomic_fetch_add(&p->c.queries, 1);
    const char *key;
    size_t kl;
    uint64_t by, limit, after = 0;
    int64_t from, to;
    int has_after = body->size == 6 && body->ptr[5].type != MSGPACK_OBJECT_NIL;
    if (body->size != 6 || tr_proto_str(&body->ptr[0], &key, &kl) || !key || kl == 0 ||
        kl > TR_LOG_STREAM_MAX || tr_proto_u64(&body->ptr[1], &by) || by > TR_PROTO_BY_TIME ||
        tr_proto_i64(&body->ptr[2], &from) || tr_proto_i64(&body->ptr[3], &to) ||
        tr_proto_u64(&body->ptr[4], &limit) || (has_after && tr_proto_u64(&body->ptr[5], &after))) {
        atomic_fetch_add(&p->c.malformed, 1);
        pub_reply_error(p, r, TR_EPARSE,
                        "query: body must be [stream, by, from, to, limit, after_seq]");
        return;
    }
    if (limit == 0 || limit > 10000)
        limit = limit ? 10000 : 1000;
    struct tr_log_reader_options ro = {.stream = key, .stream_len = kl};
    if (has_after) {
        ro.from = TR_LOG_FROM_SEQ;
        ro.seq = after + 1;
    } else if (by == TR_PROTO_BY_SEQ) {
        ro.from = TR_LOG_FROM_SEQ;
        ro.seq = from > 0 ? (uint64_t)from : 0;
    } else {
        ro.from = TR_LOG_FROM_TIME;
        ro.ts_ns = from;
    }
    struct tr_error err;
    tr_error_clear(&err);
    struct tr_log_reader *rd;
    int rc = tr_log_reader_alloc(p->o.log, &ro, &rd, &err);
    if (rc) {
        pub_reply_error(p, r, rc, "query: %s", err.msg);
        return;
    }
    tr_proto_pack_reply(&r->pk, 0, NULL, 3);
    size_t at = begin_array32(&r->b);
    uint32_t n = 0;
    int more = 0;
    uint64_t last = after;
    struct tr_log_record rec;
    while ((rc = tr_log_reader_next(rd, &rec, &err)) == 1) {
        uint64_t pos = by == TR_PROTO_BY_SEQ ? rec.seq : (uint64_t)rec.ts_ns;
        if (to > 0 && (by == TR_PROTO_BY_SEQ ? rec.seq > (uint64_t)to : rec.ts_ns > to))
            break;
        (void)pos;
        if (by == TR_PROTO_BY_TIME && rec.ts_ns < from)
            continue;
        if (n == limit) {
            more = 1;
            break;
        }
        pack_record(&r->pk, &rec);
        last = rec.seq;
        n++;
    }
    tr_log_reader_free(rd);
    if (rc < 0) {
        pub_reply_error(p, r, rc, "query: %s", err.msg);
        return;
    }
    end_array32(&r->b, at, n);
    if (more)
        msgpack_pack_true(&r->pk);
    else
        msgpack_pack_false(&r->pk);
    msgpack_pack_uint64(&r->pk, last);
    atomic_fetch_add(&p->c.events_sent, n);
}
