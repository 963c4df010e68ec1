/* A WebSocket connection's outgoing queue and subscriptions. Frames are
 * copied with LWS_PRE headroom and written from the writeable callback
 * within a per-callback budget (FACTS.md: loopback rarely chokes, so
 * without a budget one busy connection starves the rest). The duplicate,
 * malformed and badframe faults act here, on data frames only. A close goes through the
 * wsi timer: lws_close_reason + return -1 from LWS_CALLBACK_TIMER is the
 * only way the close frame reaches the peer on lws's libuv backend. */
#include "sim.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#define WRITE_BUDGET_FRAMES 64
#define WRITE_BUDGET_BYTES (1u << 20)

static struct sim_frame *frame_new(size_t cap)
{
    struct sim_frame *f = malloc(sizeof *f + LWS_PRE + cap);
    if (!f)
        return NULL;
    memset(f, 0, sizeof *f);
    f->cap = cap;
    return f;
}

const unsigned char *sim_frame_text(const struct sim_frame *f)
{
    return f->buf + LWS_PRE;
}

static void link_frame(struct sim_conn *c, struct sim_frame *f)
{
    f->next = NULL;
    if (c->qtail)
        c->qtail->next = f;
    else
        c->qhead = f;
    c->qtail = f;
}

static void want_write(struct sim_conn *c)
{
    if (c->x->f.stall_until == 0 && c->wsi) /* no wsi: unit tests drive encoders */
        lws_callback_on_writable(c->wsi);
}

static int enqueue(struct sim_conn *c, const char *p, size_t n, int ping, uint32_t nev,
                   int64_t ts, uint32_t stamp_off)
{
    struct sim_server *s = c->srv;
    if (c->close_code)
        return 0;
    int rc = sim_conn_seal(c); /* what was published before goes first */
    if (rc)
        return rc;
    if (c->qbytes + n > s->cfg.queue_limit) {
        sim_conn_close(c, 1008);
        return TR_EOVERLOADED;
    }
    struct sim_frame *f = frame_new(n);
    if (!f)
        return TR_ENOMEM;
    f->len = n;
    f->ping = ping;
    f->nev = nev;
    f->ts = ts;
    f->stamp_off = stamp_off;
    if (n)
        memcpy(f->buf + LWS_PRE, p, n);
    link_frame(c, f);
    c->qbytes += n;
    want_write(c);
    return 0;
}

int sim_badframe_kind(const char *name)
{
    static const char *const names[SIM_BAD_COUNT] = {"masked", "rsv", "opcode", "oversize",
                                                      "close_code", "ping_long"};
    for (int k = 0; k < SIM_BAD_COUNT; k++)
        if (strcmp(name, names[k]) == 0)
            return k;
    return -1;
}

/* The bytes of a frame of kind k breaking RFC 6455 at o (room for 160). */
static size_t bad_frame_bytes(int k, unsigned char *o)
{
    size_t n = 0;
    switch (k) {
    case SIM_BAD_MASKED: { /* "{}" masked with 1,2,3,4 */
        static const unsigned char m[] = {0x81, 0x82, 1, 2, 3, 4, '{' ^ 1, '}' ^ 2};
        memcpy(o, m, n = sizeof m);
        break;
    }
    case SIM_BAD_RSV:
        o[n++] = 0xC1; /* FIN, RSV1, text */
        o[n++] = 2;
        o[n++] = '{';
        o[n++] = '}';
        break;
    case SIM_BAD_OPCODE:
        o[n++] = 0x83;
        o[n++] = 2;
        o[n++] = '{';
        o[n++] = '}';
        break;
    case SIM_BAD_OVERSIZE: { /* the header alone: the client must refuse it on sight */
        uint64_t len = 65ull << 20;
        o[n++] = 0x81;
        o[n++] = 127;
        for (int i = 7; i >= 0; i--)
            o[n++] = (unsigned char)(len >> (8 * i));
        break;
    }
    case SIM_BAD_CLOSE_CODE:
        o[n++] = 0x88;
        o[n++] = 2;
        o[n++] = 1005 >> 8;
        o[n++] = 1005 & 0xFF;
        break;
    default: /* SIM_BAD_PING_LONG */
        o[n++] = 0x89;
        o[n++] = 126;
        o[n++] = 0;
        o[n++] = 126;
        memset(o + n, 'p', 126);
        n += 126;
        break;
    }
    return n;
}

/* badframe: frame f (room for 160 bytes) becomes the bad frame; the
 * events it carried are lost like a gap. */
static void make_bad(struct sim_conn *c, struct sim_frame *f)
{
    struct sim_faults *ft = &c->x->f;
    ft->badframe_left--;
    size_t was = f->len;
    f->len = bad_frame_bytes(ft->badframe_kind, f->buf + LWS_PRE);
    c->qbytes = c->qbytes - was + f->len;
    f->raw = 1;
    f->nev = 0;
    f->ts = 0;
    f->stamp_off = 0;
}

int sim_conn_data(struct sim_conn *c, const char *p, size_t n, uint32_t nev)
{
    struct sim_faults *f = &c->x->f;
    if (f->badframe_left) {
        static const char room[160];
        int rc = enqueue(c, room, sizeof room, 0, 0, 0, 0);
        if (rc == 0 && c->qtail)
            make_bad(c, c->qtail);
        return rc;
    }
    if (f->bad_left) {
        f->bad_left--;
        if (f->bad_truncate)
            return enqueue(c, p, n / 2, 0, 0, 0, 0);
        static const char garbage[] = "{\"type\":\"match\",\"trade_id\":@@not json@@";
        return enqueue(c, garbage, sizeof garbage - 1, 0, 0, 0, 0);
    }
    int rc = enqueue(c, p, n, 0, nev, 0, 0);
    if (rc == 0 && f->dup_left) {
        f->dup_left--;
        rc = enqueue(c, p, n, 0, 0, 0, 0);
    }
    return rc;
}

/* The open batch's room: a new batch starts with about the last one's size
 * (a steady rate then needs no regrowth and no copy), grown by doubling up
 * to the frame bound plus one event. */
static int pend_room(struct sim_conn *c, size_t need)
{
    struct sim_frame *f = c->pend;
    if (f && f->len + need <= f->cap)
        return 0;
    size_t cap = f ? f->cap : 0;
    if (!f && c->pend_hint)
        cap = c->pend_hint + c->pend_hint / 4;
    if (cap > SIM_BATCH_BYTES + SIM_NJ_MAX)
        cap = SIM_BATCH_BYTES + SIM_NJ_MAX;
    if (cap < 4096)
        cap = 4096;
    while (cap < (f ? f->len : 0) + need)
        cap *= 2;
    struct sim_frame *g = realloc(f, sizeof *g + LWS_PRE + cap);
    if (!g)
        return TR_ENOMEM;
    g->cap = cap;
    c->pend = g;
    return 0;
}

/* 19 decimal digits of v (1e18 <= v < 1e19 for any CLOCK_REALTIME after
 * 2001; earlier clocks are written as 1e18) at o. */
static void put_stamp(unsigned char *o, int64_t v)
{
    uint64_t u = v < 1000000000000000000ll ? 1000000000000000000ull : (uint64_t)v;
    for (int i = SIM_STAMP_DIGITS - 1; i >= 0; i--) {
        o[i] = (unsigned char)('0' + u % 10);
        u /= 10;
    }
}

int sim_conn_batch_add(struct sim_conn *c, const char *p, size_t n, int64_t ts)
{
    static const char head[] = SIM_BATCH_HEAD;
    static const char events[] = ",\"events\":[";
    if (c->close_code)
        return 0;
    if (c->qbytes + n + 1 > c->srv->cfg.queue_limit) {
        sim_conn_close(c, 1008);
        return TR_EOVERLOADED;
    }
    size_t before = c->pend ? c->pend->len : 0;
    if (pend_room(c, n + sizeof head + SIM_STAMP_DIGITS + sizeof events + 2))
        return TR_ENOMEM;
    struct sim_frame *f = c->pend;
    unsigned char *o = f->buf + LWS_PRE;
    if (!before) {
        f->next = NULL;
        f->ping = 0;
        f->raw = 0;
        f->same_stamp = 0;
        f->nev = 0;
        f->ts = ts;
        memcpy(o, head, sizeof head - 1);
        f->stamp_off = (uint32_t)(sizeof head - 1);
        put_stamp(o + f->stamp_off, sim_now_ns()); /* rewritten at the send */
        f->len = f->stamp_off + SIM_STAMP_DIGITS;
        memcpy(o + f->len, events, sizeof events - 1);
        f->len += sizeof events - 1;
        want_write(c);
    } else {
        o[f->len++] = ',';
    }
    memcpy(o + f->len, p, n);
    f->len += n;
    f->nev++;
    c->qbytes += f->len - before;
    if (f->len >= SIM_BATCH_BYTES)
        return sim_conn_seal(c);
    return 0;
}

int sim_conn_seal(struct sim_conn *c)
{
    struct sim_frame *f = c->pend;
    if (!f || !f->len)
        return 0;
    c->pend = NULL;
    c->pend_hint = f->len;
    unsigned char *o = f->buf + LWS_PRE;
    o[f->len++] = ']'; /* pend_room kept 2 bytes for the end */
    o[f->len++] = '}';
    c->qbytes += 2;
    struct sim_faults *ft = &c->x->f;
    if (ft->badframe_left && f->cap >= 160) {
        make_bad(c, f);
        link_frame(c, f);
        return 0;
    }
    if (ft->bad_left) { /* malformed: the events are lost like a gap */
        ft->bad_left--;
        size_t was = f->len;
        if (ft->bad_truncate) {
            f->len /= 2;
        } else {
            static const char garbage[] = "{\"type\":\"match\",\"trade_id\":@@not json@@";
            memcpy(o, garbage, sizeof garbage - 1);
            f->len = sizeof garbage - 1;
        }
        c->qbytes -= was - f->len;
        f->nev = 0;
        f->ts = 0;
        f->stamp_off = 0;
        link_frame(c, f);
        return 0;
    }
    link_frame(c, f);
    if (ft->dup_left) {
        ft->dup_left--;
        int rc = enqueue(c, (const char *)o, f->len, 0, 0, 0, f->stamp_off);
        if (rc == 0 && c->qtail != f)
            c->qtail->same_stamp = 1; /* written right after the original */
        return rc;
    }
    return 0;
}

int sim_conn_text(struct sim_conn *c, const char *p, size_t n, int data)
{
    return data ? sim_conn_data(c, p, n, 1) : enqueue(c, p, n, 0, 0, 0, 0);
}

int sim_conn_ping(struct sim_conn *c)
{
    return enqueue(c, "", 0, 1, 0, 0, 0);
}

void sim_conn_close(struct sim_conn *c, int code)
{
    if (c->close_code)
        return;
    c->close_code = code;
    if (c->wsi) {
        lws_set_timer_usecs(c->wsi, 1);
        /* Called from a libuv callback (shutdown, a queue overflow in the
         * tick), lws would not re-arm its timer wheel until its next event:
         * wake it so the timer runs now. */
        lws_cancel_service(lws_get_context(c->wsi));
    }
}

int sim_conn_sub(struct sim_conn *c, uint32_t inst, uint8_t bits)
{
    if (inst >= c->x->n_inst)
        return TR_EINVAL;
    if (!c->subs[inst]) {
        uint32_t lim = c->x->f.sub_limit ? c->x->f.sub_limit : c->srv->cfg.max_subs;
        if (lim && c->n_subs >= lim)
            return TR_EOVERLOADED;
        c->n_subs++;
    }
    c->subs[inst] |= bits;
    return 0;
}

void sim_conn_unsub(struct sim_conn *c, uint32_t inst, uint8_t bits)
{
    if (inst >= c->x->n_inst || !c->subs[inst])
        return;
    c->subs[inst] &= (uint8_t)~bits;
    if (!c->subs[inst])
        c->n_subs--;
}

void sim_conn_free_queue(struct sim_conn *c)
{
    struct sim_frame *f = c->qhead;
    while (f) {
        struct sim_frame *n = f->next;
        free(f);
        f = n;
    }
    c->qhead = c->qtail = NULL;
    c->qbytes = 0;
    free(c->pend);
    c->pend = NULL;
}

static void age_add(struct sim_age *a, int64_t ns)
{
    int64_t b = ns <= 0 ? 0 : (ns + 9999) / 10000; /* 10 µs buckets, rounded up */
    a->bucket[b >= SIM_AGE_BUCKETS ? SIM_AGE_BUCKETS - 1 : b]++;
    a->n++;
}

double sim_age_quantile(const struct sim_age *a, double q)
{
    if (!a->n)
        return 0;
    uint64_t want = (uint64_t)(q * (double)a->n), seen = 0;
    if (want >= a->n)
        want = a->n - 1;
    for (int b = 0; b < SIM_AGE_BUCKETS; b++) {
        seen += a->bucket[b];
        if (seen > want)
            return b * 10.0;
    }
    return (SIM_AGE_BUCKETS - 1) * 10.0;
}

int sim_conn_write(struct sim_conn *c)
{
    struct sim_server *s = c->srv;
    if (c->close_code || c->x->f.stall_until || c->tls_bye)
        return 0;
    if (sim_conn_seal(c)) /* the batch is cut when the socket can take it */
        return -1;
    int frames = 0;
    size_t bytes = 0;
    while (c->qhead && frames < WRITE_BUDGET_FRAMES && bytes < WRITE_BUDGET_BYTES) {
        if (lws_send_pipe_choked(c->wsi))
            break;
        struct sim_frame *f = c->qhead;
        if (f->stamp_off) { /* the frame-sent stamp: the last moment before the write */
            int64_t now = f->same_stamp ? c->last_stamp : sim_now_ns();
            if (now < c->last_stamp) /* CLOCK_REALTIME may step back */
                now = c->last_stamp;
            c->last_stamp = now;
            put_stamp(f->buf + LWS_PRE + f->stamp_off, now);
        }
        /* LWS_WRITE_RAW: lws's WebSocket role sends the bytes untouched */
        int m = lws_write(c->wsi, f->buf + LWS_PRE, f->len,
                          f->raw ? LWS_WRITE_RAW : f->ping ? LWS_WRITE_PING : LWS_WRITE_TEXT);
        if (m < (int)f->len)
            return -1;
        c->qhead = f->next;
        if (!c->qhead)
            c->qtail = NULL;
        c->qbytes -= f->len;
        bytes += f->len;
        frames++;
        s->frames_sent++;
        s->bytes_sent += f->len;
        s->ev_written += f->nev;
        if (f->ts)
            age_add(&s->age, sim_now_ns() - f->ts);
        free(f);
    }
    if (c->qhead)
        lws_callback_on_writable(c->wsi);
    return 0;
}
