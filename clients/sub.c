/* libtickraft subscriptions: pull batches from a node (FETCH), deliver
 * them one message at a time, keep the cursor, and on the loss of the node
 * re-subscribe on the next one from that cursor (docs/sdk.md).
 *
 * Pipelining: on a 1.1 node `pipeline` FETCHes (default 2) stay
 * outstanding, one per slot of the connection (clients/slot.c), numbered
 * consecutively; the node serves them in number order, so while this
 * thread decodes one batch the next FETCH already waits at the node for
 * the next durable records. Replies are taken in number order whatever
 * order they arrive in. A FETCH the node refused with TR_EBUSY (no spare
 * worker to hold a pipelined request) is sent again with the same number
 * once the reply before it is in.
 *
 * Live (o.live, protocol 1.2): the node delivers records once they are in
 * its log's file, before they are durable there. Nothing here changes:
 * the cursor is the same per-stream native sequence, so after a node
 * crash the records it collects again under sequences already delivered
 * are skipped like any replay.
 *
 * Nothing twice: every event below the cursor's seq for its stream is
 * dropped here, whatever a node sends; at the cursor's seq (a stream may
 * repeat a seq: gap notice + snapshot) the node skips the k records the
 * cursor counts. Nothing skipped: a node resumes each stream right after
 * the cursor's position (node/pub_sub.c). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_int.h"

struct tr_client_sub {
    struct tr_client *c;
    struct conn *k;
    struct tr_client_sub_options o;
    struct tr_proto_filter filter;
    struct tr_cursor cursor;
    int have_base;        /* cursor.base_ts is set (first subscribe done) */
    uint64_t id;          /* 0 = not subscribed on the current node */
    uint64_t fetch_no;    /* last FETCH whose reply was taken */
    uint64_t sent_no;     /* last FETCH sent on this node's session */
    unsigned depth;       /* FETCHes kept outstanding (1 on a 1.0 node) */
    unsigned busy_resends; /* TR_EBUSY replies in a row */
    nng_msg *batch_msg;   /* reply holding the current batch (owned) */
    msgpack_unpacked bu;  /* its unpacked form */
    const msgpack_object_array *recs; /* current batch, points into bu */
    uint32_t idx;
    int notice;           /* pending TR_CLIENT_FELL_BEHIND / TR_CLIENT_FAILOVER */
    int moved;            /* a node change not yet announced */
    atomic_int stop;
    struct tr_event_scratch scratch;
    char key[TR_LOG_STREAM_MAX_CLIENT + 1];
    struct tr_client_sub_stats st;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void pack_opt_str(msgpack_packer *pk, const char *s)
{
    if (s && s[0]) {
        msgpack_pack_str(pk, strlen(s));
        msgpack_pack_str_body(pk, s, strlen(s));
    } else {
        msgpack_pack_nil(pk);
    }
}

/* SUBSCRIBE on the current node: the first time as the options say, after
 * that always from the cursor. */
static int do_subscribe(struct tr_client_sub *s, struct tr_error *err)
{
    struct tr_buf b, cur;
    tr_buf_init(&b);
    tr_buf_init(&cur);
    int start = s->have_base ? TR_CLIENT_START_CURSOR : s->o.start;
    int rc = 0;
    if (start == TR_CLIENT_START_CURSOR && s->have_base)
        rc = tr_cursor_encode(&s->cursor, &cur);
    else if (start == TR_CLIENT_START_CURSOR)
        rc = tr_buf_append(&cur, s->o.cursor, s->o.cursor_len);
    if (rc)
        return tr_errorf(err, TR_ENOMEM, "subscribe: out of memory");
    /* live needs a 1.2 node: a 1.1 node would refuse the options element
     * as malformed, so ask the handshake first and say why */
    if (s->o.live && (rc = conn_open(s->k, err)) == 0 && s->k->minor < TR_PROTO_MINOR_LIVE)
        rc = tr_errorf(err, TR_EUNSUPPORTED,
                       "subscribe: node %s speaks protocol %d.%u; live subscriptions need "
                       "%d.%d (upgrade the node, or subscribe without live)",
                       conn_url(s->k), TR_PROTO_MAJOR, s->k->minor, TR_PROTO_MAJOR,
                       TR_PROTO_MINOR_LIVE);
    if (rc) {
        tr_buf_free(&b);
        tr_buf_free(&cur);
        return rc;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, tr_proto_buf_write);
    tr_proto_pack_req(&pk, TR_PROTO_SUBSCRIBE, s->c->token, s->o.live ? 7 : 6);
    pack_opt_str(&pk, s->o.provider);
    pack_opt_str(&pk, s->o.kind);
    pack_opt_str(&pk, s->o.instrument);
    msgpack_pack_uint32(&pk, (uint32_t)start);
    msgpack_pack_int64(&pk, s->o.start_ts);
    if (start == TR_CLIENT_START_CURSOR) {
        msgpack_pack_bin(&pk, cur.len);
        msgpack_pack_bin_body(&pk, cur.data, cur.len);
    } else {
        msgpack_pack_nil(&pk);
    }
    if (s->o.live)
        msgpack_pack_uint32(&pk, TR_PROTO_SUB_LIVE);
    struct tr_proto_reply rep;
    rc = conn_call(s->k, &b, 0, &rep, err);
    tr_buf_free(&b);
    tr_buf_free(&cur);
    if (rc)
        return rc;
    uint64_t id;
    int64_t base;
    if (!rep.body || rep.body->size != 2 || tr_proto_u64(&rep.body->ptr[0], &id) ||
        tr_proto_i64(&rep.body->ptr[1], &base))
        return tr_errorf(err, TR_EPROTO, "subscribe: bad reply from %s", conn_url(s->k));
    if (!s->have_base) {
        s->cursor.base_ts = base;
        s->have_base = 1;
    }
    s->id = id;
    s->fetch_no = s->sent_no = 0;
    s->busy_resends = 0;
    s->recs = NULL;
    s->depth = s->k->minor >= 1 ? s->o.pipeline : 1;
    return 0;
}

static int send_fetch(struct tr_client_sub *s, uint64_t no, struct tr_error *err)
{
    struct tr_buf b;
    tr_buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, tr_proto_buf_write);
    tr_proto_pack_req(&pk, TR_PROTO_FETCH, s->c->token, 4);
    msgpack_pack_uint64(&pk, s->id);
    msgpack_pack_uint64(&pk, no);
    msgpack_pack_uint32(&pk, s->o.batch);
    msgpack_pack_uint32(&pk, (uint32_t)s->o.wait_ms);
    /* a pipelined FETCH first waits for the ones before it at the node */
    int timeout = s->c->timeout_ms + s->o.wait_ms * (int)s->depth;
    int rc = conn_slot_send(s->k, (unsigned)(no % s->depth), &b, timeout, err);
    tr_buf_free(&b);
    if (!rc)
        s->st.fetches++;
    return rc;
}

/* Takes the reply to FETCH fetch_no + 1 as the current batch, keeping
 * `depth` FETCHes outstanding. 1 batch taken, 0 `until` (monotonic ms)
 * came first, or an error: TR_ECONNRESET (the connection moved on), the
 * node's status (TR_ENOTFOUND, TR_EPROTO: subscribe again), TR_EPROTO for a
 * bad reply. */
static int next_batch(struct tr_client_sub *s, int64_t until, struct tr_error *err)
{
    for (;;) {
        while (s->sent_no < s->fetch_no + s->depth) {
            int rc = send_fetch(s, s->sent_no + 1, err);
            if (rc)
                return rc;
            s->sent_no++;
        }
        uint64_t no = s->fetch_no + 1;
        unsigned slot = (unsigned)(no % s->depth);
        int64_t sent_ms = s->k->slot[slot].sent_ms;
        nng_msg *m;
        int rc = conn_slot_wait(s->k, slot, until, &m, err);
        if (rc <= 0)
            return rc;
        s->recs = NULL;
        if (s->batch_msg)
            nng_msg_free(s->batch_msg);
        s->batch_msg = m;
        struct tr_proto_reply rep;
        if (tr_proto_parse_reply(nng_msg_body(m), nng_msg_len(m), &s->bu, &rep, err))
            return tr_error_wrap(err, TR_EPROTO, "fetch: reply from %s", conn_url(s->k));
        if (rep.status == TR_EBUSY && s->busy_resends++ < 100) {
            /* the node had no worker to hold it ahead of its turn; the
             * FETCH before it is answered now, so this one is next */
            if ((rc = send_fetch(s, no, err)))
                return rc;
            continue;
        }
        if (rep.status)
            return tr_errorf(err, rep.status, "%.*s", (int)rep.msg_len, rep.msg);
        s->busy_resends = 0;
        uint64_t flags;
        if (rep.major != TR_PROTO_MAJOR || !rep.body || rep.body->size != 2 ||
            tr_proto_u64(&rep.body->ptr[0], &flags) ||
            rep.body->ptr[1].type != MSGPACK_OBJECT_ARRAY)
            return tr_errorf(err, TR_EPROTO, "fetch: bad reply from %s", conn_url(s->k));
        s->fetch_no = no;
        s->recs = &rep.body->ptr[1].via.array;
        s->idx = 0;
        if (flags & TR_PROTO_FELL_BEHIND) {
            s->notice = TR_CLIENT_FELL_BEHIND;
            s->st.fell_behind++;
        }
        /* an empty reply long before the wait ran out: the node is short
         * of free workers; do not spin on it */
        if (s->recs->size == 0 && !s->notice && conn_mono_ms() - sent_ms < s->o.wait_ms / 2)
            sleep_ms(5);
        return 1;
    }
}

int tr_client_subscribe(struct tr_client *c, const struct tr_client_sub_options *o,
                        struct tr_client_sub **out, struct tr_error *err)
{
    if (!o || o->start < TR_CLIENT_START_LATEST || o->start > TR_CLIENT_START_CURSOR ||
        (o->start == TR_CLIENT_START_CURSOR && (!o->cursor || !o->cursor_len)))
        return tr_errorf(err, TR_EINVAL, "subscribe: bad start or missing cursor");
    struct tr_client_sub *s = calloc(1, sizeof *s);
    if (!s)
        return tr_errorf(err, TR_ENOMEM, "subscribe: out of memory");
    s->c = c;
    s->o = *o;
    if (!s->o.batch)
        s->o.batch = 4096;
    if (s->o.wait_ms <= 0)
        s->o.wait_ms = 200;
    if (s->o.pipeline == 0)
        s->o.pipeline = 2;
    if (s->o.pipeline > TR_CLIENT_PIPELINE_MAX)
        s->o.pipeline = TR_CLIENT_PIPELINE_MAX;
    msgpack_unpacked_init(&s->bu);
    tr_cursor_init(&s->cursor);
    tr_event_scratch_init(&s->scratch);
    int rc = conn_alloc(c, c->rpc->node, &s->k);
    if (rc) {
        free(s);
        return tr_errorf(err, rc, "subscribe: out of memory");
    }
    if (o->start == TR_CLIENT_START_CURSOR) {
        if ((rc = tr_cursor_decode(&s->cursor, o->cursor, o->cursor_len, err)))
            goto fail;
        s->have_base = 1;
    }
    /* the options' strings are borrowed only during this call */
    s->o.provider = s->o.kind = s->o.instrument = NULL;
    s->o.cursor = NULL;
    char *globs[3] = {NULL, NULL, NULL};
    const char *src[3] = {o->provider, o->kind, o->instrument};
    for (int i = 0; i < 3; i++)
        if (src[i] && src[i][0] && !(globs[i] = strdup(src[i]))) {
            rc = tr_errorf(err, TR_ENOMEM, "subscribe: out of memory");
            free(globs[0]);
            free(globs[1]);
            goto fail;
        }
    s->o.provider = globs[0];
    s->o.kind = globs[1];
    s->o.instrument = globs[2];
    for (size_t i = 0; i < c->n_nodes; i++) {
        tr_error_clear(err);
        rc = do_subscribe(s, err);
        if (rc != TR_ECONNRESET)
            break;
    }
    if (rc)
        goto fail;
    *out = s;
    return 0;
fail:
    tr_client_sub_free(s);
    return rc;
}

/* Next record of the current batch that is not a duplicate; 1/0. */
static int next_record(struct tr_client_sub *s, struct tr_client_msg *m, struct tr_error *err)
{
    while (s->recs && s->idx < s->recs->size) {
        memset(m, 0, sizeof *m);
        int rc = client_record(&s->recs->ptr[s->idx++], s->key, m);
        if (rc)
            return tr_errorf(err, rc, "fetch: bad record from %s", conn_url(s->k));
        size_t kl = strlen(s->key);
        uint64_t last;
        /* below the cursor: seen. At the cursor's seq the node has already
         * skipped the k records we have (a repeated seq is a new record) */
        if (tr_cursor_get(&s->cursor, s->key, kl, &last) && m->seq < last) {
            s->st.duplicates++;
            continue;
        }
        if (!s->o.no_decode) {
            size_t used;
            tr_event_scratch_reset(&s->scratch);
            if ((rc = tr_event_decode(m->payload, m->payload_len, &used, &m->ev, &s->scratch,
                                      err)))
                return tr_error_wrap(err, rc, "event %s/%llu", s->key,
                                     (unsigned long long)m->seq);
        }
        if (tr_cursor_advance(&s->cursor, s->key, kl, m->seq))
            return tr_errorf(err, TR_ENOMEM, "cursor: out of memory");
        m->node = conn_url(s->k);
        s->st.events++;
        return 1;
    }
    return 0;
}

int tr_client_sub_poll(struct tr_client_sub *s, struct tr_client_msg *m, int timeout_ms,
                       struct tr_error *err)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : mono_ms() + timeout_ms;
    int64_t batch_ns = 0;
    for (;;) {
        if (atomic_load(&s->stop))
            return tr_errorf(err, TR_ECLOSED, "subscription stopped");
        if (s->notice) {
            memset(m, 0, sizeof *m);
            m->type = s->notice;
            m->node = conn_url(s->k);
            s->notice = 0;
            return 1;
        }
        int rc = next_record(s, m, err);
        if (rc) {
            if (rc == 1)
                m->recv_ns = batch_ns ? batch_ns : real_ns();
            return rc;
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        if (!s->id) {
            rc = do_subscribe(s, err);
            if (rc == TR_ECONNREFUSED) { /* every node refused: back off a little */
                sleep_ms(left < 50 ? (int)left : 50);
                return rc;
            }
            if (rc == TR_ECONNRESET)
                continue;
            if (rc == TR_EUNSUPPORTED && s->k->c->n_nodes > 1) {
                /* a live subscription failed over to a node older than
                 * 1.2: say so, and let the next poll try the next node
                 * rather than this one again */
                s->moved = 1;
                conn_next(s->k);
            }
            if (rc)
                return rc;
            if (s->moved) {
                s->moved = 0;
                s->notice = TR_CLIENT_FAILOVER;
                s->st.failovers++;
            }
            continue;
        }
        rc = next_batch(s, deadline, err);
        batch_ns = real_ns();
        if (rc == 1 || rc == 0)
            continue; /* deliver it, or see that the time is up */
        if (rc == TR_ECONNRESET || rc == TR_ECONNREFUSED) {
            s->id = 0; /* the connection moved on to the next node */
            s->moved = 1;
            conn_next(s->k);
            continue;
        }
        if (rc == TR_ENOTFOUND || rc == TR_EPROTO) {
            /* the node forgot us (restart, idle expiry): subscribe again */
            conn_slots_abandon(s->k);
            s->id = 0;
            continue;
        }
        return rc;
    }
}

int tr_client_sub_run(struct tr_client_sub *s, tr_client_event_cb cb, void *arg,
                      struct tr_error *err)
{
    struct tr_client_msg m;
    for (;;) {
        int rc = tr_client_sub_poll(s, &m, 1000, err);
        if (rc == 0 || rc == TR_ECONNREFUSED)
            continue;
        if (rc < 0)
            return rc;
        if (cb(arg, &m))
            return 0;
    }
}

void tr_client_sub_stop(struct tr_client_sub *s)
{
    atomic_store(&s->stop, 1);
}

int tr_client_sub_cursor(struct tr_client_sub *s, struct tr_buf *out)
{
    return tr_cursor_encode(&s->cursor, out);
}

void tr_client_sub_stats(const struct tr_client_sub *s, struct tr_client_sub_stats *st)
{
    *st = s->st;
}

void tr_client_sub_free(struct tr_client_sub *s)
{
    if (!s)
        return;
    if (s->id && s->k->open) {
        struct tr_buf b;
        tr_buf_init(&b);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &b, tr_proto_buf_write);
        tr_proto_pack_req(&pk, TR_PROTO_UNSUBSCRIBE, s->c->token, 1);
        msgpack_pack_uint64(&pk, s->id);
        struct tr_proto_reply rep;
        struct tr_error e;
        conn_call(s->k, &b, 0, &rep, &e); /* best effort: the node expires it anyway */
        tr_buf_free(&b);
        /* the node answers the fetches it still holds within ~25 ms of the
         * UNSUBSCRIBE: take those replies so the socket closes quiet */
        if (s->k->open)
            conn_slots_drain(s->k, s->c->timeout_ms);
    }
    conn_free(s->k);
    if (s->batch_msg)
        nng_msg_free(s->batch_msg);
    msgpack_unpacked_destroy(&s->bu);
    tr_cursor_free(&s->cursor);
    tr_event_scratch_free(&s->scratch);
    free((char *)s->o.provider);
    free((char *)s->o.kind);
    free((char *)s->o.instrument);
    free(s);
}
