/* The simulator's own dialect ("native", path /native): events travel in the
 * project's JSON event form, several hundred per frame, which is how the
 * simulator reaches a million events per second on one core.
 *   -> {"type":"subscribe","channels":["trade","book","ticker"],"instruments":["SIM-0"]}
 *   <- {"type":"subscribed","instruments":[...]}
 *   <- {"type":"batch","sent_ns":NS,"events":[E,...]}  E = tr_event_to_json form,
 *      NS = CLOCK_REALTIME when the frame was handed to the socket (conn.c)
 *   <- {"type":"heartbeat","ts":NS,"last_seq":{"SIM-0":N},"last_book_seq":{"SIM-0":M}}
 * REST: /native/trades, /native/book, /native/markets, /native/status. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

static void send_error(struct sim_conn *c, const char *code, const char *msg, const char *name,
                       size_t nlen)
{
    struct tr_buf *b = &c->out;
    b->len = 0;
    sim_put(b, "{\"type\":\"error\",\"code\":\"");
    sim_put(b, code);
    sim_put(b, "\",\"message\":\"");
    sim_putn(b, name, nlen);
    sim_put(b, msg);
    sim_put(b, "\"}");
    sim_conn_text(c, (const char *)b->data, b->len, 0);
}

static void native_rx(struct sim_conn *c, const char *m, size_t len)
{
    const struct tr_json_tok *t = sim_conn_parse(c, m, len);
    if (!t)
        return send_error(c, "bad_request", "malformed JSON", "", 0);
    int ty = tr_json_get(m, t, 0, "type");
    int sub = ty >= 0 && tr_json_eq(m, t, ty, "subscribe");
    int unsub = ty >= 0 && tr_json_eq(m, t, ty, "unsubscribe");
    if (!sub && !unsub)
        return send_error(c, "bad_request", "unknown type", "", 0);
    uint8_t bits = 0;
    int ch = tr_json_get(m, t, 0, "channels");
    if (ch < 0 || t[ch].type != TR_JSON_ARRAY)
        bits = SIM_CH_TRADE | SIM_CH_BOOK | SIM_CH_TICKER;
    else
        for (uint32_t i = 0; i < t[ch].count; i++) {
            int e = tr_json_at(t, ch, i);
            if (tr_json_eq(m, t, e, "trade"))
                bits |= SIM_CH_TRADE;
            else if (tr_json_eq(m, t, e, "book"))
                bits |= SIM_CH_BOOK;
            else if (tr_json_eq(m, t, e, "ticker"))
                bits |= SIM_CH_TICKER;
            else
                return send_error(c, "unknown_channel", " is not a valid channel",
                                  m + t[e].start, t[e].len);
        }
    int ins = tr_json_get(m, t, 0, "instruments");
    if (ins < 0 || t[ins].type != TR_JSON_ARRAY)
        return send_error(c, "bad_request", "instruments missing", "", 0);
    struct tr_buf ok;
    tr_buf_init(&ok);
    int n_ok = 0;
    for (uint32_t i = 0; i < t[ins].count; i++) {
        int e = tr_json_at(t, ins, i);
        const char *nm = m + t[e].start;
        int idx = t[e].type == TR_JSON_STRING ? sim_exch_find(c->x, nm, t[e].len) : -1;
        if (unsub) {
            if (idx >= 0)
                sim_conn_unsub(c, (uint32_t)idx, bits);
            continue;
        }
        if (idx < 0 || sim_fault_take_unknown(c->x)) {
            send_error(c, "unknown_market", " is not a valid instrument", nm, t[e].len);
            continue;
        }
        if (sim_conn_sub(c, (uint32_t)idx, bits) != 0) {
            send_error(c, "subscription_limit", "subscription limit exceeded", "", 0);
            continue;
        }
        sim_put(&ok, n_ok++ ? ",\"" : "\"");
        sim_put(&ok, c->x->inst[idx].name);
        sim_put(&ok, "\"");
    }
    struct tr_buf *b = &c->out;
    b->len = 0;
    if (unsub) {
        sim_put(b, "{\"type\":\"unsubscribed\"}");
    } else {
        sim_put(b, "{\"type\":\"subscribed\",\"instruments\":[");
        sim_putn(b, (const char *)ok.data, ok.len);
        sim_put(b, "]}");
    }
    tr_buf_free(&ok);
    if (!unsub && n_ok == 0)
        return;
    sim_conn_text(c, (const char *)b->data, b->len, 0);
}

static uint8_t kind_bit(int kind)
{
    return kind == TR_KIND_TRADE ? SIM_CH_TRADE : kind == TR_KIND_BOOK_DELTA ? SIM_CH_BOOK : SIM_CH_TICKER;
}

static void native_publish(struct sim_conn *c, const struct sim_ev *ev, size_t n,
                           const struct sim_tick *tk)
{
    const char *js = (const char *)tk->json->data;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].flags || !(c->subs[ev[i].inst] & kind_bit(ev[i].kind)))
            continue;
        /* text i without its '\n' (the truth file's line end) */
        if (sim_conn_batch_add(c, js + tk->off[i], tk->off[i + 1] - tk->off[i] - 1, ev[i].ts))
            return;
        c->srv->ev_sent++;
    }
}

static void native_second(struct sim_conn *c, int64_t now)
{
    struct tr_buf *b = &c->out;
    b->len = 0;
    sim_putf(b, "{\"type\":\"heartbeat\",\"ts\":%lld,\"last_seq\":{", (long long)now);
    int first = 1;
    for (uint32_t i = 0; i < c->x->n_inst; i++)
        if (c->subs[i]) {
            sim_putf(b, "%s\"%s\":%llu", first ? "" : ",", c->x->inst[i].name,
                     (unsigned long long)c->x->inst[i].n_trades);
            first = 0;
        }
    sim_put(b, "},\"last_book_seq\":{");
    first = 1;
    for (uint32_t i = 0; i < c->x->n_inst; i++)
        if (c->subs[i]) {
            sim_putf(b, "%s\"%s\":%llu", first ? "" : ",", c->x->inst[i].name,
                     (unsigned long long)c->x->inst[i].n_deltas);
            first = 0;
        }
    sim_put(b, "}}");
    sim_conn_text(c, (const char *)b->data, b->len, 0);
}

static int put_event(struct tr_buf *b, const struct sim_exch *x, const struct sim_ev *ev)
{
    return sim_nj_event(x, ev, b);
}

static int find_arg(const struct sim_exch *x, const struct sim_req *rq, const char *key)
{
    const char *v = sim_req_arg(rq, key);
    return v ? sim_exch_find(x, v, strlen(v)) : -1;
}

static void native_rest(struct sim_exch *x, const struct sim_req *rq, struct sim_resp *rs)
{
    struct tr_buf *b = &rs->body;
    rs->status = 200;
    if (strcmp(rq->path, "/markets") == 0) {
        sim_put(b, "{\"instruments\":[");
        for (uint32_t i = 0; i < x->n_inst; i++)
            sim_putf(b, "%s\"%s\"", i ? "," : "", x->inst[i].name);
        sim_put(b, "]}");
    } else if (strcmp(rq->path, "/status") == 0) {
        sim_putf(b, "{\"status\":\"%s\",\"resume_ns\":%lld}", x->f.maint_until ? "maintenance" : "open",
                 (long long)(x->f.maint_silent ? 0 : x->f.maint_until));
    } else if (strcmp(rq->path, "/trades") == 0) {
        int idx = find_arg(x, rq, "instrument");
        if (idx < 0)
            return (void)sim_resp_json(rs, 404, "{\"error\":\"unknown instrument\"}");
        const char *fs = sim_req_arg(rq, "from_seq"), *ls = sim_req_arg(rq, "limit");
        uint64_t from = fs ? strtoull(fs, NULL, 10) : 0;
        long limit = ls ? strtol(ls, NULL, 10) : 100;
        if (limit <= 0 || limit > 1000)
            limit = limit <= 0 ? 100 : 1000;
        const struct sim_inst *in = &x->inst[idx];
        size_t i = sim_hist_lower(in, from);
        uint64_t next = from > in->n_trades + 1 ? from : in->n_trades + 1;
        sim_put(b, "{\"events\":[");
        for (long k = 0; i < in->hist_len && k < limit; i++, k++) {
            const struct sim_ev *ev = sim_hist_at(in, i);
            if (k)
                sim_put(b, ",");
            put_event(b, x, ev);
            next = ev->seq + 1;
        }
        sim_putf(b, "],\"next_seq\":%llu}", (unsigned long long)next);
    } else if (strcmp(rq->path, "/book") == 0) {
        int idx = find_arg(x, rq, "instrument");
        if (idx < 0)
            return (void)sim_resp_json(rs, 404, "{\"error\":\"unknown instrument\"}");
        const struct sim_inst *in = &x->inst[idx];
        struct tr_level lv[2 * SIM_LEVELS];
        struct tr_event e;
        tr_event_init(&e);
        e.kind = TR_KIND_BOOK_SNAPSHOT;
        snprintf(e.provider, sizeof e.provider, "sim");
        snprintf(e.instrument, sizeof e.instrument, "%s", in->name);
        e.seq = in->n_deltas;
        e.fields = TR_F_SEQ;
        uint32_t n = 0;
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < SIM_LEVELS; k++)
                if (in->book[s][k] > 0) {
                    lv[n].price = sim_price_dec(x->dialect, sim_level_price(in, s, k));
                    lv[n].size = sim_size_dec(x->dialect, in->book[s][k]);
                    n++;
                    if (s == 0)
                        e.n_bids++;
                    else
                        e.n_asks++;
                }
        e.levels = lv;
        tr_event_to_json(&e, b);
    } else {
        sim_resp_json(rs, 404, "{\"error\":\"not found\"}");
    }
}

static const char *native_status_path(void)
{
    return "/status";
}

const struct sim_dialect_ops sim_native_ops = {
    .open = NULL,
    .rx = native_rx,
    .publish = native_publish,
    .second = native_second,
    .rest = native_rest,
    .status_path = native_status_path,
};
