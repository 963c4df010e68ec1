/* A WebSocket connection's outgoing queue and subscriptions. Frames are
 * copied with LWS_PRE headroom and written from the writeable callback
 * within a per-callback budget (FACTS.md: loopback rarely chokes, so
 * without a budget one busy connection starves the rest). The duplicate and
 * malformed faults act here, on data frames only. A close goes through the
 * wsi timer: lws_close_reason + return -1 from LWS_CALLBACK_TIMER is the
 * only way the close frame reaches the peer on lws's libuv backend. */
#include "sim.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#define WRITE_BUDGET_FRAMES 64
#define WRITE_BUDGET_BYTES (1u << 20)

static int enqueue(struct sim_conn *c, const char *p, size_t n, int ping, uint32_t nev,
                   int64_t ts)
{
    struct sim_server *s = c->srv;
    if (c->close_code)
        return 0;
    if (c->qbytes + n > s->cfg.queue_limit) {
        sim_conn_close(c, 1008);
        return TR_EOVERLOADED;
    }
    struct sim_frame *f = malloc(sizeof *f + LWS_PRE + n);
    if (!f)
        return TR_ENOMEM;
    f->next = NULL;
    f->len = n;
    f->ping = ping;
    f->nev = nev;
    f->ts = ts;
    if (n)
        memcpy(f->buf + LWS_PRE, p, n);
    if (c->qtail)
        c->qtail->next = f;
    else
        c->qhead = f;
    c->qtail = f;
    c->qbytes += n;
    if (c->x->f.stall_until == 0 && c->wsi) /* no wsi: unit tests drive encoders */
        lws_callback_on_writable(c->wsi);
    return 0;
}

int sim_conn_data(struct sim_conn *c, const char *p, size_t n, uint32_t nev)
{
    return sim_conn_data_ts(c, p, n, nev, 0);
}

int sim_conn_data_ts(struct sim_conn *c, const char *p, size_t n, uint32_t nev, int64_t ts)
{
    struct sim_faults *f = &c->x->f;
    if (f->bad_left) {
        f->bad_left--;
        if (f->bad_truncate)
            return enqueue(c, p, n / 2, 0, 0, 0);
        static const char garbage[] = "{\"type\":\"match\",\"trade_id\":@@not json@@";
        return enqueue(c, garbage, sizeof garbage - 1, 0, 0, 0);
    }
    int rc = enqueue(c, p, n, 0, nev, ts);
    if (rc == 0 && f->dup_left) {
        f->dup_left--;
        rc = enqueue(c, p, n, 0, 0, 0);
    }
    return rc;
}

int sim_conn_text(struct sim_conn *c, const char *p, size_t n, int data)
{
    return data ? sim_conn_data(c, p, n, 1) : enqueue(c, p, n, 0, 0, 0);
}

int sim_conn_ping(struct sim_conn *c)
{
    return enqueue(c, "", 0, 1, 0, 0);
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
    if (c->close_code || c->x->f.stall_until)
        return 0;
    int frames = 0;
    size_t bytes = 0;
    while (c->qhead && frames < WRITE_BUDGET_FRAMES && bytes < WRITE_BUDGET_BYTES) {
        if (lws_send_pipe_choked(c->wsi))
            break;
        struct sim_frame *f = c->qhead;
        int m = lws_write(c->wsi, f->buf + LWS_PRE, f->len, f->ping ? LWS_WRITE_PING : LWS_WRITE_TEXT);
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
