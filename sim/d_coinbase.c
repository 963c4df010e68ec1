/* Coinbase Exchange dialect (path /coinbase): the public feed's subscribe
 * handshake and the match / last_match, level2 snapshot + l2update, ticker
 * and heartbeat messages, with `sequence` per product shared by every
 * channel, plus the REST products, trades (after/before cursors, CB-AFTER
 * header), book and status endpoints. See ../docs/simulator.md. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

static void cb_error(struct sim_conn *c, const char *what, size_t n, const char *tail)
{
    struct tr_buf *b = &c->out;
    b->len = 0;
    sim_put(b, "{\"type\":\"error\",\"message\":\"Failed to subscribe\",\"reason\":\"");
    sim_putn(b, what, n);
    sim_put(b, tail);
    sim_put(b, "\"}");
    sim_conn_text(c, (const char *)b->data, b->len, 0);
}

static uint8_t channel_bit(const char *m, const struct tr_json_tok *t, int e)
{
    if (tr_json_eq(m, t, e, "matches"))
        return SIM_CH_TRADE;
    if (tr_json_eq(m, t, e, "level2") || tr_json_eq(m, t, e, "level2_batch"))
        return SIM_CH_BOOK;
    if (tr_json_eq(m, t, e, "ticker"))
        return SIM_CH_TICKER;
    if (tr_json_eq(m, t, e, "heartbeat"))
        return SIM_CH_HEARTBEAT;
    return 0;
}

static void send_subscriptions(struct sim_conn *c)
{
    static const struct { uint8_t bit; const char *name; } chans[] = {
        {SIM_CH_BOOK, "level2"}, {SIM_CH_TRADE, "matches"}, {SIM_CH_TICKER, "ticker"},
        {SIM_CH_HEARTBEAT, "heartbeat"}};
    struct tr_buf *b = &c->out;
    b->len = 0;
    sim_put(b, "{\"type\":\"subscriptions\",\"channels\":[");
    int nc = 0;
    for (size_t k = 0; k < 4; k++) {
        int np = 0;
        for (uint32_t i = 0; i < c->x->n_inst; i++)
            if (c->subs[i] & chans[k].bit) {
                if (!np++)
                    sim_putf(b, "%s{\"name\":\"%s\",\"product_ids\":[", nc++ ? "," : "", chans[k].name);
                else
                    sim_put(b, ",");
                sim_putf(b, "\"%s\"", c->x->inst[i].name);
            }
        if (np)
            sim_put(b, "]}");
    }
    sim_put(b, "]}");
    sim_conn_text(c, (const char *)b->data, b->len, 0);
}

static void send_snapshot(struct sim_conn *c, uint32_t i)
{
    struct tr_buf *b = &c->out;
    const struct sim_inst *in = &c->x->inst[i];
    b->len = 0;
    sim_putf(b, "{\"type\":\"snapshot\",\"product_id\":\"%s\",\"bids\":", in->name);
    sim_put_levels(b, c->x, in, 0, 0);
    sim_put(b, ",\"asks\":");
    sim_put_levels(b, c->x, in, 1, 0);
    sim_put(b, "}");
    sim_conn_text(c, (const char *)b->data, b->len, 0);
}

static void put_match(struct tr_buf *b, const struct sim_exch *x, const struct sim_ev *ev,
                      const char *type)
{
    char maker[48], taker[48];
    sim_kalshi_trade_id(x, ev->inst, ev->trade_id * 2 + 0x1000000000ull, maker, sizeof maker);
    sim_kalshi_trade_id(x, ev->inst, ev->trade_id * 2 + 0x1000000001ull, taker, sizeof taker);
    sim_putf(b, "{\"type\":\"%s\",\"trade_id\":%llu,\"maker_order_id\":\"%s\",\"taker_order_id\":\"%s\","
                "\"side\":\"%s\",\"size\":",
             type, (unsigned long long)ev->trade_id, maker, taker,
             ev->side == TR_SIDE_BUY ? "sell" : "buy"); /* Coinbase names the maker side */
    sim_put_qdec(b, sim_size_dec(x->dialect, ev->size));
    sim_put(b, ",\"price\":");
    sim_put_qdec(b, sim_price_dec(x->dialect, ev->price));
    sim_putf(b, ",\"product_id\":\"%s\",\"sequence\":%llu,\"time\":", x->inst[ev->inst].name,
             (unsigned long long)ev->xseq);
    sim_put_iso(b, ev->ts, 6);
    sim_put(b, "}");
}

static void cb_rx(struct sim_conn *c, const char *m, size_t len)
{
    const struct tr_json_tok *t = sim_conn_parse(c, m, len);
    if (!t)
        return cb_error(c, "malformed JSON", 14, "");
    int ty = tr_json_get(m, t, 0, "type");
    int sub = ty >= 0 && tr_json_eq(m, t, ty, "subscribe");
    int unsub = ty >= 0 && tr_json_eq(m, t, ty, "unsubscribe");
    if (!sub && !unsub)
        return cb_error(c, "unknown message type", 20, "");
    /* collect (instrument, bits) pairs: top-level product_ids x string
     * channels, plus object channels with their own product_ids */
    uint8_t *want = calloc(c->x->n_inst, 1);
    if (!want)
        return;
    int prods = tr_json_get(m, t, 0, "product_ids");
    int ch = tr_json_get(m, t, 0, "channels");
    if (ch < 0 || t[ch].type != TR_JSON_ARRAY)
        goto bad_channels;
    for (uint32_t k = 0; k < t[ch].count; k++) {
        int e = tr_json_at(t, ch, k);
        int name = e, plist = prods;
        if (t[e].type == TR_JSON_OBJECT) {
            name = tr_json_get(m, t, e, "name");
            int own = tr_json_get(m, t, e, "product_ids");
            if (own >= 0)
                plist = own;
        }
        if (name < 0 || t[name].type != TR_JSON_STRING)
            goto bad_channels;
        uint8_t bit = channel_bit(m, t, name);
        if (!bit) {
            cb_error(c, m + t[name].start, t[name].len, " is not a valid channel");
            goto out;
        }
        if (plist < 0 || t[plist].type != TR_JSON_ARRAY)
            continue;
        for (uint32_t p = 0; p < t[plist].count; p++) {
            int pe = tr_json_at(t, plist, p);
            int idx = t[pe].type == TR_JSON_STRING ? sim_exch_find(c->x, m + t[pe].start, t[pe].len) : -1;
            if (!unsub && (idx < 0 || sim_fault_take_unknown(c->x))) {
                cb_error(c, m + t[pe].start, t[pe].len, " is not a valid product");
                goto out;
            }
            if (idx >= 0)
                want[idx] |= bit;
        }
    }
    if (unsub) {
        for (uint32_t i = 0; i < c->x->n_inst; i++)
            if (want[i])
                sim_conn_unsub(c, i, want[i]);
        send_subscriptions(c);
        goto out;
    }
    uint32_t lim = c->x->f.sub_limit ? c->x->f.sub_limit : c->srv->cfg.max_subs;
    uint32_t extra = 0;
    for (uint32_t i = 0; i < c->x->n_inst; i++)
        if (want[i] && !c->subs[i])
            extra++;
    if (lim && c->n_subs + extra > lim) {
        cb_error(c, "subscription limit exceeded", 27, "");
        goto out;
    }
    for (uint32_t i = 0; i < c->x->n_inst; i++) {
        if (!want[i])
            continue;
        uint8_t had = c->subs[i];
        sim_conn_sub(c, i, want[i]);
        if (want[i] & ~had & SIM_CH_BOOK)
            send_snapshot(c, i);
    }
    send_subscriptions(c);
    /* last_match for new matches subscriptions, as Coinbase does */
    for (uint32_t i = 0; i < c->x->n_inst; i++) {
        const struct sim_inst *in = &c->x->inst[i];
        if ((want[i] & SIM_CH_TRADE) && in->hist_len) {
            c->out.len = 0;
            put_match(&c->out, c->x, sim_hist_at(in, in->hist_len - 1), "last_match");
            sim_conn_text(c, (const char *)c->out.data, c->out.len, 0);
        }
    }
    goto out;
bad_channels:
    cb_error(c, "channels", 8, " must be a list of channel names or objects");
out:
    free(want);
}

static void cb_publish(struct sim_conn *c, const struct sim_ev *ev, size_t n,
                       const struct sim_tick *tk)
{
    struct tr_buf *b = &c->out;
    const struct sim_exch *x = c->x;
    for (size_t i = 0; i < n; i++) {
        const struct sim_ev *e = &ev[i];
        uint8_t s = c->subs[e->inst];
        if (e->flags)
            continue;
        b->len = 0;
        const char *name = x->inst[e->inst].name;
        if (e->kind == TR_KIND_TRADE && (s & SIM_CH_TRADE)) {
            put_match(b, x, e, "match");
        } else if (e->kind == TR_KIND_BOOK_DELTA && (s & SIM_CH_BOOK)) {
            sim_putf(b, "{\"type\":\"l2update\",\"product_id\":\"%s\",\"changes\":[[\"%s\",", name,
                     e->side == 1 ? "buy" : "sell");
            sim_put_qdec(b, sim_price_dec(x->dialect, e->price));
            sim_put(b, ",");
            sim_put_qdec(b, sim_size_dec(x->dialect, e->size));
            sim_put(b, "]],\"time\":");
            sim_put_iso(b, e->ts, 6);
            sim_put(b, "}");
        } else if (e->kind == TR_KIND_TICKER && (s & SIM_CH_TICKER)) {
            sim_putf(b, "{\"type\":\"ticker\",\"sequence\":%llu,\"product_id\":\"%s\",\"price\":",
                     (unsigned long long)e->xseq, name);
            sim_put_qdec(b, sim_price_dec(x->dialect, e->price));
            sim_put(b, ",\"best_bid\":");
            sim_put_qdec(b, sim_price_dec(x->dialect, e->bid));
            sim_put(b, ",\"best_ask\":");
            sim_put_qdec(b, sim_price_dec(x->dialect, e->ask));
            sim_put(b, ",\"last_size\":");
            sim_put_qdec(b, sim_size_dec(x->dialect, e->size));
            sim_putf(b, ",\"side\":\"%s\",\"trade_id\":%llu,\"time\":",
                     e->side == TR_SIDE_BUY ? "buy" : "sell", (unsigned long long)e->trade_id);
            sim_put_iso(b, e->ts, 6);
            sim_put(b, "}");
        } else {
            continue;
        }
        sim_conn_text(c, (const char *)b->data, b->len, 1);
        c->srv->ev_sent++;
    }
    (void)tk;
}

static void cb_second(struct sim_conn *c, int64_t now)
{
    for (uint32_t i = 0; i < c->x->n_inst; i++) {
        if (!(c->subs[i] & SIM_CH_HEARTBEAT))
            continue;
        const struct sim_inst *in = &c->x->inst[i];
        c->out.len = 0;
        sim_putf(&c->out, "{\"type\":\"heartbeat\",\"sequence\":%llu,\"last_trade_id\":%llu,"
                          "\"product_id\":\"%s\",\"time\":",
                 (unsigned long long)in->n_seq, (unsigned long long)in->n_trades, in->name);
        sim_put_iso(&c->out, now, 6);
        sim_put(&c->out, "}");
        sim_conn_text(c, (const char *)c->out.data, c->out.len, 0);
    }
}

static void put_rest_trade(struct tr_buf *b, const struct sim_exch *x, const struct sim_ev *e)
{
    sim_put(b, "{\"time\":");
    sim_put_iso(b, e->ts, 6);
    sim_putf(b, ",\"trade_id\":%llu,\"price\":", (unsigned long long)e->trade_id);
    sim_put_qdec(b, sim_price_dec(x->dialect, e->price));
    sim_put(b, ",\"size\":");
    sim_put_qdec(b, sim_size_dec(x->dialect, e->size));
    sim_putf(b, ",\"side\":\"%s\"}", e->side == TR_SIDE_BUY ? "sell" : "buy");
}

static void cb_trades(const struct sim_exch *x, const struct sim_inst *in,
                      const struct sim_req *rq, struct sim_resp *rs)
{
    const char *ls = sim_req_arg(rq, "limit"), *af = sim_req_arg(rq, "after"),
               *bf = sim_req_arg(rq, "before");
    long limit = ls ? strtol(ls, NULL, 10) : 100;
    if (limit <= 0 || limit > 1000)
        limit = limit <= 0 ? 100 : 1000;
    /* [lo, hi) history indexes of the page, emitted newest first */
    size_t lo, hi;
    if (bf) {
        lo = sim_hist_lower(in, strtoull(bf, NULL, 10) + 1);
        hi = lo + (size_t)limit < in->hist_len ? lo + (size_t)limit : in->hist_len;
    } else {
        hi = af ? sim_hist_lower(in, strtoull(af, NULL, 10)) : in->hist_len;
        lo = hi > (size_t)limit ? hi - (size_t)limit : 0;
    }
    struct tr_buf *b = &rs->body;
    rs->status = 200;
    sim_put(b, "[");
    for (size_t i = hi; i > lo; i--) {
        if (i != hi)
            sim_put(b, ",");
        put_rest_trade(b, x, sim_hist_at(in, i - 1));
    }
    sim_put(b, "]");
    if (hi > lo) {
        snprintf(rs->hname, sizeof rs->hname, bf ? "cb-before:" : "cb-after:");
        snprintf(rs->hval, sizeof rs->hval, "%llu",
                 (unsigned long long)sim_hist_at(in, bf ? hi - 1 : lo)->trade_id);
    }
}

static void cb_rest(struct sim_exch *x, const struct sim_req *rq, struct sim_resp *rs)
{
    struct tr_buf *b = &rs->body;
    const char *p = rq->path;
    rs->status = 200;
    if (strcmp(p, "/products") == 0) {
        sim_put(b, "[");
        for (uint32_t i = 0; i < x->n_inst; i++)
            sim_putf(b, "%s{\"id\":\"%s\",\"base_currency\":\"SIM%u\",\"quote_currency\":\"USD\","
                        "\"quote_increment\":\"0.01\",\"base_increment\":\"0.00000001\","
                        "\"display_name\":\"SIM%u/USD\",\"status\":\"%s\",\"trading_disabled\":false}",
                     i ? "," : "", x->inst[i].name, i, i, x->f.maint_until ? "offline" : "online");
        sim_put(b, "]");
        return;
    }
    if (strcmp(p, "/status") == 0) {
        sim_putf(b, "{\"status\":\"%s\",\"resume_time\":", x->f.maint_until ? "maintenance" : "online");
        if (x->f.maint_until && !x->f.maint_silent)
            sim_put_iso(b, x->f.maint_until, 6);
        else
            sim_put(b, "null");
        sim_put(b, "}");
        return;
    }
    if (strncmp(p, "/products/", 10) == 0) {
        const char *id = p + 10, *slash = strchr(id, '/');
        int idx = slash ? sim_exch_find(x, id, (size_t)(slash - id)) : -1;
        if (idx < 0) {
            sim_resp_json(rs, 404, "{\"message\":\"NotFound\"}");
            return;
        }
        const struct sim_inst *in = &x->inst[idx];
        if (strcmp(slash, "/trades") == 0)
            return cb_trades(x, in, rq, rs);
        if (strcmp(slash, "/book") == 0) {
            sim_putf(b, "{\"sequence\":%llu,\"bids\":", (unsigned long long)in->n_seq);
            sim_put_levels(b, x, in, 0, 1);
            sim_put(b, ",\"asks\":");
            sim_put_levels(b, x, in, 1, 1);
            sim_put(b, "}");
            return;
        }
    }
    sim_resp_json(rs, 404, "{\"message\":\"NotFound\"}");
}

static const char *cb_status_path(void)
{
    return "/status";
}

const struct sim_dialect_ops sim_coinbase_ops = {
    .open = NULL,
    .rx = cb_rx,
    .publish = cb_publish,
    .second = cb_second,
    .rest = cb_rest,
    .status_path = cb_status_path,
};
