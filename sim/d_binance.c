/* Binance spot dialect (prefix /binance): raw streams /binance/ws/<stream>,
 * combined /binance/stream?streams=a/b ({"stream","data"} frames) and live
 * SUBSCRIBE / UNSUBSCRIBE; trade, aggTrade, depthUpdate (U/u update ids per
 * symbol, contiguous) and bookTicker; WS pings every 20 s; REST depth,
 * aggTrades, historicalTrades, exchangeInfo and system status. Every
 * aggTrade holds exactly one trade, so its aggregate id equals the trade id. */
#include "sim.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define PING_NS (20ll * 1000000000ll)

/* Parses "<sym>@<kind>"; returns the instrument and sets *bit, or -1. */
static int parse_stream(const struct sim_exch *x, const char *s, size_t n, uint8_t *bit)
{
    const char *at = memchr(s, '@', n);
    if (!at)
        return -1;
    size_t sl = (size_t)(at - s), kl = n - sl - 1;
    const char *k = at + 1;
    if (kl == 5 && !memcmp(k, "trade", 5))
        *bit = SIM_CH_TRADE;
    else if (kl == 8 && !memcmp(k, "aggTrade", 8))
        *bit = SIM_CH_AGGTRADE;
    else if ((kl == 5 && !memcmp(k, "depth", 5)) || (kl == 11 && !memcmp(k, "depth@100ms", 11)))
        *bit = SIM_CH_BOOK;
    else if (kl == 10 && !memcmp(k, "bookTicker", 10))
        *bit = SIM_CH_TICKER;
    else
        return -1;
    for (size_t i = 0; i < sl; i++) /* stream names are lower case */
        if (isupper((unsigned char)s[i]))
            return -1;
    return sim_exch_find(x, s, sl);
}

static int bn_open(struct sim_conn *c, const char *uri, const struct sim_req *rq)
{
    const char *list = NULL;
    if (strncmp(uri, "/ws/", 4) == 0) {
        list = uri + 4;
    } else if (strcmp(uri, "/stream") == 0) {
        c->combined = 1;
        list = sim_req_arg(rq, "streams");
    } else if (strcmp(uri, "/ws") == 0) {
        return 0;
    } else {
        return -1;
    }
    while (list && *list) {
        const char *end = strchr(list, '/');
        size_t n = end ? (size_t)(end - list) : strlen(list);
        uint8_t bit = 0;
        int idx = parse_stream(c->x, list, n, &bit);
        if (idx < 0 || sim_fault_take_unknown(c->x) || sim_conn_sub(c, (uint32_t)idx, bit) != 0)
            return -1;
        list = end ? end + 1 : NULL;
    }
    return 0;
}

static void bn_reply(struct sim_conn *c, const char *idtext, size_t idn, const char *err)
{
    struct tr_buf *b = &c->out;
    b->len = 0;
    if (err) {
        sim_put(b, "{\"error\":{\"code\":2,\"msg\":\"");
        sim_put(b, err);
        sim_put(b, "\"},\"id\":");
    } else {
        sim_put(b, "{\"result\":null,\"id\":");
    }
    sim_putn(b, idtext, idn);
    sim_put(b, "}");
    sim_conn_text(c, (const char *)b->data, b->len, 0);
}

static void bn_rx(struct sim_conn *c, const char *m, size_t len)
{
    const struct tr_json_tok *t = sim_conn_parse(c, m, len);
    if (!t)
        return bn_reply(c, "null", 4, "Invalid JSON");
    int id = tr_json_get(m, t, 0, "id");
    const char *idt = id >= 0 ? m + t[id].start - (t[id].type == TR_JSON_STRING) : "null";
    size_t idn = id >= 0 ? t[id].len + (t[id].type == TR_JSON_STRING ? 2 : 0) : 4;
    int meth = tr_json_get(m, t, 0, "method");
    int sub = meth >= 0 && tr_json_eq(m, t, meth, "SUBSCRIBE");
    int unsub = meth >= 0 && tr_json_eq(m, t, meth, "UNSUBSCRIBE");
    if (meth >= 0 && tr_json_eq(m, t, meth, "LIST_SUBSCRIPTIONS")) {
        struct tr_buf *b = &c->out;
        b->len = 0;
        sim_put(b, "{\"result\":[");
        int first = 1;
        static const struct { uint8_t bit; const char *k; } ks[] = {
            {SIM_CH_TRADE, "trade"}, {SIM_CH_AGGTRADE, "aggTrade"}, {SIM_CH_BOOK, "depth@100ms"},
            {SIM_CH_TICKER, "bookTicker"}};
        for (uint32_t i = 0; i < c->x->n_inst; i++)
            for (int k = 0; k < 4; k++)
                if (c->subs[i] & ks[k].bit) {
                    char low[SIM_NAME_MAX];
                    size_t n = strlen(c->x->inst[i].name);
                    for (size_t j = 0; j <= n; j++)
                        low[j] = (char)tolower((unsigned char)c->x->inst[i].name[j]);
                    sim_putf(b, "%s\"%s@%s\"", first ? "" : ",", low, ks[k].k);
                    first = 0;
                }
        sim_put(b, "],\"id\":");
        sim_putn(b, idt, idn);
        sim_put(b, "}");
        sim_conn_text(c, (const char *)b->data, b->len, 0);
        return;
    }
    if (!sub && !unsub)
        return bn_reply(c, idt, idn, "Invalid request: unknown method");
    int ps = tr_json_get(m, t, 0, "params");
    if (ps < 0 || t[ps].type != TR_JSON_ARRAY)
        return bn_reply(c, idt, idn, "Invalid request: params must be an array");
    for (uint32_t i = 0; i < t[ps].count; i++) { /* validate all first */
        int e = tr_json_at(t, ps, i);
        uint8_t bit;
        if (t[e].type != TR_JSON_STRING || parse_stream(c->x, m + t[e].start, t[e].len, &bit) < 0 ||
            (sub && sim_fault_take_unknown(c->x)))
            return bn_reply(c, idt, idn, "Invalid request: unknown stream");
    }
    for (uint32_t i = 0; i < t[ps].count; i++) {
        int e = tr_json_at(t, ps, i);
        uint8_t bit = 0;
        int idx = parse_stream(c->x, m + t[e].start, t[e].len, &bit);
        if (unsub)
            sim_conn_unsub(c, (uint32_t)idx, bit);
        else if (sim_conn_sub(c, (uint32_t)idx, bit) != 0)
            return bn_reply(c, idt, idn, "Invalid request: subscription limit exceeded");
    }
    bn_reply(c, idt, idn, NULL);
}

static void put_lower(struct tr_buf *b, const char *s)
{
    char low[SIM_NAME_MAX];
    size_t n = strlen(s);
    for (size_t j = 0; j < n && j < sizeof low; j++)
        low[j] = (char)tolower((unsigned char)s[j]);
    sim_putn(b, low, n < sizeof low ? n : sizeof low);
}

static void wrap_begin(struct sim_conn *c, struct tr_buf *b, const char *name, const char *kind)
{
    b->len = 0;
    if (!c->combined)
        return;
    sim_put(b, "{\"stream\":\"");
    put_lower(b, name);
    sim_putf(b, "@%s\",\"data\":", kind);
}

static void send_wrapped(struct sim_conn *c, struct tr_buf *b)
{
    if (c->combined)
        sim_put(b, "}");
    sim_conn_text(c, (const char *)b->data, b->len, 1);
    c->srv->ev_sent++;
}

static void bn_publish(struct sim_conn *c, const struct sim_ev *ev, size_t n,
                       const struct sim_tick *tk)
{
    struct tr_buf *b = &c->out;
    const struct sim_exch *x = c->x;
    for (size_t i = 0; i < n; i++) {
        const struct sim_ev *e = &ev[i];
        uint8_t s = c->subs[e->inst];
        if (e->flags || !s)
            continue;
        const char *name = x->inst[e->inst].name;
        long long ms = (long long)(e->ts / 1000000);
        if (e->kind == TR_KIND_TRADE) {
            const char *m = e->side == TR_SIDE_SELL ? "true" : "false"; /* buyer is maker */
            if (s & SIM_CH_TRADE) {
                wrap_begin(c, b, name, "trade");
                sim_putf(b, "{\"e\":\"trade\",\"E\":%lld,\"s\":\"%s\",\"t\":%llu,\"p\":", ms, name,
                         (unsigned long long)e->trade_id);
                sim_put_qdec(b, sim_price_dec(x->dialect, e->price));
                sim_put(b, ",\"q\":");
                sim_put_qdec(b, sim_size_dec(x->dialect, e->size));
                sim_putf(b, ",\"T\":%lld,\"m\":%s,\"M\":true}", ms, m);
                send_wrapped(c, b);
            }
            if (s & SIM_CH_AGGTRADE) {
                wrap_begin(c, b, name, "aggTrade");
                sim_putf(b, "{\"e\":\"aggTrade\",\"E\":%lld,\"s\":\"%s\",\"a\":%llu,\"p\":", ms, name,
                         (unsigned long long)e->trade_id);
                sim_put_qdec(b, sim_price_dec(x->dialect, e->price));
                sim_put(b, ",\"q\":");
                sim_put_qdec(b, sim_size_dec(x->dialect, e->size));
                sim_putf(b, ",\"f\":%llu,\"l\":%llu,\"T\":%lld,\"m\":%s,\"M\":true}",
                         (unsigned long long)e->trade_id, (unsigned long long)e->trade_id, ms, m);
                send_wrapped(c, b);
            }
        } else if (e->kind == TR_KIND_BOOK_DELTA && (s & SIM_CH_BOOK)) {
            wrap_begin(c, b, name, "depth@100ms");
            sim_putf(b, "{\"e\":\"depthUpdate\",\"E\":%lld,\"s\":\"%s\",\"U\":%llu,\"u\":%llu,", ms,
                     name, (unsigned long long)e->seq, (unsigned long long)e->seq);
            sim_put(b, e->side == 1 ? "\"b\":[[" : "\"b\":[],\"a\":[[");
            sim_put_qdec(b, sim_price_dec(x->dialect, e->price));
            sim_put(b, ",");
            sim_put_qdec(b, sim_size_dec(x->dialect, e->size));
            sim_put(b, e->side == 1 ? "]],\"a\":[]}" : "]]}");
            send_wrapped(c, b);
        } else if (e->kind == TR_KIND_TICKER && (s & SIM_CH_TICKER)) {
            wrap_begin(c, b, name, "bookTicker");
            sim_putf(b, "{\"u\":%llu,\"s\":\"%s\",\"b\":", (unsigned long long)e->seq, name);
            sim_put_qdec(b, sim_price_dec(x->dialect, e->bid));
            sim_put(b, ",\"B\":");
            sim_put_qdec(b, sim_size_dec(x->dialect, e->bsz));
            sim_put(b, ",\"a\":");
            sim_put_qdec(b, sim_price_dec(x->dialect, e->ask));
            sim_put(b, ",\"A\":");
            sim_put_qdec(b, sim_size_dec(x->dialect, e->asz));
            sim_put(b, "}");
            send_wrapped(c, b);
        }
    }
    (void)tk;
}

static void bn_second(struct sim_conn *c, int64_t now)
{
    if (now - c->last_ping >= PING_NS) {
        c->last_ping = now;
        sim_conn_ping(c);
    }
}

static int symbol_arg(const struct sim_exch *x, const struct sim_req *rq, struct sim_resp *rs)
{
    const char *v = sim_req_arg(rq, "symbol");
    int idx = v ? sim_exch_find(x, v, strlen(v)) : -1;
    if (idx < 0)
        sim_resp_json(rs, 404, "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}");
    return idx;
}

static long limit_arg(const struct sim_req *rq, long def, long max)
{
    const char *v = sim_req_arg(rq, "limit");
    long n = v ? strtol(v, NULL, 10) : def;
    return n <= 0 ? def : n > max ? max : n;
}

static void bn_trades(const struct sim_exch *x, const struct sim_inst *in, const struct sim_req *rq,
                      struct sim_resp *rs, int agg)
{
    long limit = limit_arg(rq, 500, 1000);
    const char *fid = sim_req_arg(rq, "fromId");
    size_t lo = fid ? sim_hist_lower(in, strtoull(fid, NULL, 10))
                    : (in->hist_len > (size_t)limit ? in->hist_len - (size_t)limit : 0);
    struct tr_buf *b = &rs->body;
    rs->status = 200;
    sim_put(b, "[");
    for (size_t i = lo; i < in->hist_len && i < lo + (size_t)limit; i++) {
        const struct sim_ev *e = sim_hist_at(in, i);
        unsigned long long id = (unsigned long long)e->trade_id;
        long long ms = (long long)(e->ts / 1000000);
        const char *m = e->side == TR_SIDE_SELL ? "true" : "false";
        if (i != lo)
            sim_put(b, ",");
        if (agg)
            sim_putf(b, "{\"a\":%llu,\"p\":", id);
        else
            sim_putf(b, "{\"id\":%llu,\"price\":", id);
        sim_put_qdec(b, sim_price_dec(x->dialect, e->price));
        sim_put(b, agg ? ",\"q\":" : ",\"qty\":");
        sim_put_qdec(b, sim_size_dec(x->dialect, e->size));
        if (agg)
            sim_putf(b, ",\"f\":%llu,\"l\":%llu,\"T\":%lld,\"m\":%s,\"M\":true}", id, id, ms, m);
        else
            sim_putf(b, ",\"time\":%lld,\"isBuyerMaker\":%s,\"isBestMatch\":true}", ms, m);
    }
    sim_put(b, "]");
}

static void bn_rest(struct sim_exch *x, const struct sim_req *rq, struct sim_resp *rs)
{
    struct tr_buf *b = &rs->body;
    const char *p = rq->path;
    rs->status = 200;
    int idx;
    if (strcmp(p, "/sapi/v1/system/status") == 0) {
        sim_put(b, x->f.maint_until ? "{\"status\":1,\"msg\":\"system maintenance\"}"
                                    : "{\"status\":0,\"msg\":\"normal\"}");
    } else if (strcmp(p, "/api/v3/exchangeInfo") == 0) {
        sim_putf(b, "{\"timezone\":\"UTC\",\"serverTime\":%lld,\"symbols\":[",
                 (long long)(sim_now_ns() / 1000000));
        for (uint32_t i = 0; i < x->n_inst; i++)
            sim_putf(b, "%s{\"symbol\":\"%s\",\"status\":\"%s\",\"baseAsset\":\"SIM%u\",\"quoteAsset\":\"USDT\"}",
                     i ? "," : "", x->inst[i].name, x->f.maint_until ? "BREAK" : "TRADING", i);
        sim_put(b, "]}");
    } else if (strcmp(p, "/api/v3/depth") == 0) {
        if ((idx = symbol_arg(x, rq, rs)) < 0)
            return;
        const struct sim_inst *in = &x->inst[idx];
        sim_putf(b, "{\"lastUpdateId\":%llu,\"bids\":", (unsigned long long)in->n_deltas);
        sim_put_levels(b, x, in, 0, 0);
        sim_put(b, ",\"asks\":");
        sim_put_levels(b, x, in, 1, 0);
        sim_put(b, "}");
    } else if (strcmp(p, "/api/v3/aggTrades") == 0 || strcmp(p, "/api/v3/historicalTrades") == 0 ||
               strcmp(p, "/api/v3/trades") == 0) {
        if ((idx = symbol_arg(x, rq, rs)) < 0)
            return;
        bn_trades(x, &x->inst[idx], rq, rs, strcmp(p, "/api/v3/aggTrades") == 0);
    } else {
        sim_resp_json(rs, 404, "{\"code\":-1000,\"msg\":\"not found\"}");
    }
}

static const char *bn_status_path(void)
{
    return "/sapi/v1/system/status";
}

const struct sim_dialect_ops sim_binance_ops = {
    .open = bn_open,
    .rx = bn_rx,
    .publish = bn_publish,
    .second = bn_second,
    .rest = bn_rest,
    .status_path = bn_status_path,
};
