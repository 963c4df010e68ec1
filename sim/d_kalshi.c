/* Kalshi trade API v2 dialect (prefix /kalshi): WS /kalshi/trade-api/ws/v2
 * with subscribe/unsubscribe commands, one sid per channel subscription and
 * `seq` per sid (so seq identifies nothing across connections),
 * orderbook_snapshot + orderbook_delta (the delta is a change of size, not
 * the new size), trade and ticker; WS pings every 10 s; REST trades (cursor
 * pages older, newest first), orderbook, markets and exchange status.
 * Our book sides map to Kalshi's as: bid at yes price p = "yes" level p;
 * ask at yes price p = "no" bid at 1 - p. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#define PING_NS (10ll * 1000000000ll)

static const char *const chan_names[3] = {"orderbook_delta", "trade", "ticker"};
static const uint8_t chan_bits[3] = {SIM_CH_BOOK, SIM_CH_TRADE, SIM_CH_TICKER};

static void put_cents(struct tr_buf *b, int64_t cents)
{
    sim_putf(b, "\"0.%02lld00\"", (long long)cents);
}

static void put_count(struct tr_buf *b, int64_t n)
{
    sim_putf(b, "\"%lld.00\"", (long long)n);
}

static void k_error(struct sim_conn *c, const char *id, size_t idn, int code, const char *msg)
{
    struct tr_buf *b = &c->out;
    b->len = 0;
    sim_put(b, "{\"id\":");
    sim_putn(b, id, idn);
    sim_putf(b, ",\"type\":\"error\",\"msg\":{\"code\":%d,\"msg\":\"%s\"}}", code, msg);
    sim_conn_text(c, (const char *)b->data, b->len, 0);
}

static void put_book_sides(struct tr_buf *b, const struct sim_inst *in, const char *yes_key,
                           const char *no_key)
{
    sim_putf(b, "\"%s\":[", yes_key);
    int first = 1;
    for (int k = SIM_LEVELS - 1; k >= 0; k--) /* ascending price like Kalshi */
        if (in->book[0][k] > 0) {
            sim_put(b, first ? "[" : ",[");
            first = 0;
            put_cents(b, sim_level_price(in, 0, k));
            sim_put(b, ",");
            put_count(b, in->book[0][k]);
            sim_put(b, "]");
        }
    sim_putf(b, "],\"%s\":[", no_key);
    first = 1;
    for (int k = SIM_LEVELS - 1; k >= 0; k--)
        if (in->book[1][k] > 0) {
            sim_put(b, first ? "[" : ",[");
            first = 0;
            put_cents(b, 100 - sim_level_price(in, 1, k));
            sim_put(b, ",");
            put_count(b, in->book[1][k]);
            sim_put(b, "]");
        }
    sim_put(b, "]");
}

static void send_snapshot(struct sim_conn *c, uint32_t i)
{
    struct tr_buf *b = &c->out;
    b->len = 0;
    sim_putf(b, "{\"type\":\"orderbook_snapshot\",\"sid\":%u,\"seq\":%llu,\"msg\":{\"market_ticker\":\"%s\",",
             c->sid[SIM_KSID_BOOK], (unsigned long long)++c->sseq[SIM_KSID_BOOK], c->x->inst[i].name);
    put_book_sides(b, &c->x->inst[i], "yes_dollars", "no_dollars");
    sim_put(b, "}}");
    sim_conn_text(c, (const char *)b->data, b->len, 0);
}

static void k_subscribe_markets(struct sim_conn *c, const int *idx, int n, const int *wants,
                                const char *id, size_t idn);

static void k_subscribe(struct sim_conn *c, const char *m, const struct tr_json_tok *t, int params,
                        const char *id, size_t idn)
{
    int ch = tr_json_get(m, t, params, "channels");
    int mk = tr_json_get(m, t, params, "market_tickers");
    if (mk < 0)
        mk = tr_json_get(m, t, params, "market_ticker");
    int wants[3] = {0, 0, 0};
    if (ch < 0 || t[ch].type != TR_JSON_ARRAY || t[ch].count == 0)
        return k_error(c, id, idn, 8, "Unknown channel name");
    for (uint32_t i = 0; i < t[ch].count; i++) {
        int e = tr_json_at(t, ch, i), k;
        for (k = 0; k < 3; k++)
            if (tr_json_eq(m, t, e, chan_names[k]))
                break;
        if (k == 3)
            return k_error(c, id, idn, 8, "Unknown channel name");
        wants[k] = 1;
    }
    size_t cnt = mk >= 0 && t[mk].type == TR_JSON_ARRAY ? t[mk].count : 1;
    int *idx = malloc((cnt + 1) * sizeof *idx), n = 0;
    if (!idx)
        return k_error(c, id, idn, 1, "Unable to process message");
    if (mk >= 0 && t[mk].type == TR_JSON_STRING) {
        idx[n++] = sim_exch_find(c->x, m + t[mk].start, t[mk].len);
    } else if (mk >= 0 && t[mk].type == TR_JSON_ARRAY) {
        for (uint32_t i = 0; i < t[mk].count; i++) {
            int e = tr_json_at(t, mk, i);
            idx[n++] = t[e].type == TR_JSON_STRING ? sim_exch_find(c->x, m + t[e].start, t[e].len) : -1;
        }
    }
    k_subscribe_markets(c, idx, n, wants, id, idn);
    free(idx);
}

static void k_subscribe_markets(struct sim_conn *c, const int *idx, int n, const int *wants,
                                const char *id, size_t idn)
{
    if (n == 0)
        return k_error(c, id, idn, 16, "Market not found");
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || sim_fault_take_unknown(c->x))
            return k_error(c, id, idn, 16, "Market not found");
    uint32_t lim = c->x->f.sub_limit ? c->x->f.sub_limit : c->srv->cfg.max_subs;
    uint32_t extra = 0;
    for (int i = 0; i < n; i++)
        if (!c->subs[idx[i]])
            extra++;
    if (lim && c->n_subs + extra > lim)
        return k_error(c, id, idn, 18, "Subscription limit exceeded");
    for (int k = 0; k < 3; k++) {
        if (!wants[k])
            continue;
        if (!c->sid[k])
            c->sid[k] = ++c->x->kalshi_sid;
        struct tr_buf *b = &c->out;
        b->len = 0;
        sim_put(b, "{\"id\":");
        sim_putn(b, id, idn);
        sim_putf(b, ",\"type\":\"subscribed\",\"msg\":{\"channel\":\"%s\",\"sid\":%u}}", chan_names[k],
                 c->sid[k]);
        sim_conn_text(c, (const char *)b->data, b->len, 0);
        for (int i = 0; i < n; i++) {
            int had = c->subs[idx[i]] & chan_bits[k];
            sim_conn_sub(c, (uint32_t)idx[i], chan_bits[k]);
            if (k == SIM_KSID_BOOK && !had)
                send_snapshot(c, (uint32_t)idx[i]);
        }
    }
}

static void k_unsubscribe(struct sim_conn *c, const char *m, const struct tr_json_tok *t, int params,
                          const char *id, size_t idn)
{
    int sids = tr_json_get(m, t, params, "sids");
    if (sids < 0 || t[sids].type != TR_JSON_ARRAY)
        return k_error(c, id, idn, 2, "Params required");
    for (uint32_t i = 0; i < t[sids].count; i++) {
        uint64_t sid = 0;
        if (tr_json_u64(m, t, tr_json_at(t, sids, i), &sid) != 0)
            continue;
        for (int k = 0; k < 3; k++)
            if (c->sid[k] && c->sid[k] == sid) {
                for (uint32_t j = 0; j < c->x->n_inst; j++)
                    sim_conn_unsub(c, j, chan_bits[k]);
                struct tr_buf *b = &c->out;
                b->len = 0;
                sim_put(b, "{\"id\":");
                sim_putn(b, id, idn);
                sim_putf(b, ",\"sid\":%u,\"seq\":%llu,\"type\":\"unsubscribed\"}", c->sid[k],
                         (unsigned long long)c->sseq[k]);
                sim_conn_text(c, (const char *)b->data, b->len, 0);
                c->sid[k] = 0;
                c->sseq[k] = 0;
            }
    }
}

static void k_rx(struct sim_conn *c, const char *m, size_t len)
{
    const struct tr_json_tok *t = sim_conn_parse(c, m, len);
    if (!t)
        return k_error(c, "null", 4, 1, "Unable to process message");
    int id = tr_json_get(m, t, 0, "id");
    const char *idt = id >= 0 && t[id].type == TR_JSON_NUMBER ? m + t[id].start : "null";
    size_t idn = id >= 0 && t[id].type == TR_JSON_NUMBER ? t[id].len : 4;
    int cmd = tr_json_get(m, t, 0, "cmd");
    int params = tr_json_get(m, t, 0, "params");
    if (cmd < 0 || params < 0 || t[params].type != TR_JSON_OBJECT)
        return k_error(c, idt, idn, 2, "Params required");
    if (tr_json_eq(m, t, cmd, "subscribe"))
        return k_subscribe(c, m, t, params, idt, idn);
    if (tr_json_eq(m, t, cmd, "unsubscribe"))
        return k_unsubscribe(c, m, t, params, idt, idn);
    k_error(c, idt, idn, 5, "Unknown command");
}

static void k_publish(struct sim_conn *c, const struct sim_ev *ev, size_t n,
                      const struct sim_tick *tk)
{
    struct tr_buf *b = &c->out;
    const struct sim_exch *x = c->x;
    for (size_t i = 0; i < n; i++) {
        const struct sim_ev *e = &ev[i];
        uint8_t s = c->subs[e->inst];
        const char *name = x->inst[e->inst].name;
        b->len = 0;
        if (e->kind == TR_KIND_TRADE && (s & SIM_CH_TRADE)) {
            uint64_t seq = ++c->sseq[SIM_KSID_TRADE]; /* hidden events still use a seq */
            if (e->flags)
                continue;
            char tid[48];
            sim_kalshi_trade_id(x, e->inst, e->trade_id, tid, sizeof tid);
            sim_putf(b, "{\"type\":\"trade\",\"sid\":%u,\"seq\":%llu,\"msg\":{\"trade_id\":\"%s\","
                        "\"market_ticker\":\"%s\",\"yes_price\":%lld,\"no_price\":%lld,\"yes_price_dollars\":",
                     c->sid[SIM_KSID_TRADE], (unsigned long long)seq, tid, name, (long long)e->price,
                     (long long)(100 - e->price));
            put_cents(b, e->price);
            sim_put(b, ",\"no_price_dollars\":");
            put_cents(b, 100 - e->price);
            sim_putf(b, ",\"count\":%lld,\"count_fp\":", (long long)e->size);
            put_count(b, e->size);
            sim_putf(b, ",\"taker_side\":\"%s\",\"ts\":%lld}}", e->side == TR_SIDE_BUY ? "yes" : "no",
                     (long long)(e->ts / 1000000000));
        } else if (e->kind == TR_KIND_BOOK_DELTA && (s & SIM_CH_BOOK)) {
            uint64_t seq = ++c->sseq[SIM_KSID_BOOK];
            if (e->flags)
                continue;
            int yes = e->side == 1;
            sim_putf(b, "{\"type\":\"orderbook_delta\",\"sid\":%u,\"seq\":%llu,\"msg\":{\"market_ticker\":\"%s\","
                        "\"price_dollars\":",
                     c->sid[SIM_KSID_BOOK], (unsigned long long)seq, name);
            put_cents(b, yes ? e->price : 100 - e->price);
            int64_t d = e->size - e->prev;
            sim_putf(b, ",\"delta_fp\":\"%s%lld.00\",\"side\":\"%s\",\"ts\":", d < 0 ? "-" : "",
                     (long long)(d < 0 ? -d : d), yes ? "yes" : "no");
            sim_put_iso(b, e->ts, 6);
            sim_put(b, "}}");
        } else if (e->kind == TR_KIND_TICKER && (s & SIM_CH_TICKER)) {
            if (e->flags)
                continue;
            sim_putf(b, "{\"type\":\"ticker\",\"sid\":%u,\"msg\":{\"market_ticker\":\"%s\",\"price\":%lld,"
                        "\"yes_bid\":%lld,\"yes_ask\":%lld,\"price_dollars\":",
                     c->sid[SIM_KSID_TICKER], name, (long long)e->price, (long long)e->bid,
                     (long long)e->ask);
            put_cents(b, e->price);
            sim_put(b, ",\"yes_bid_dollars\":");
            put_cents(b, e->bid);
            sim_put(b, ",\"yes_ask_dollars\":");
            put_cents(b, e->ask);
            sim_put(b, ",\"yes_bid_size_fp\":");
            put_count(b, e->bsz);
            sim_put(b, ",\"yes_ask_size_fp\":");
            put_count(b, e->asz);
            sim_put(b, ",\"last_trade_size_fp\":");
            put_count(b, e->size);
            sim_putf(b, ",\"ts\":%lld}}", (long long)(e->ts / 1000000000));
        } else {
            continue;
        }
        sim_conn_text(c, (const char *)b->data, b->len, 1);
        c->srv->ev_sent++;
    }
    (void)tk;
}

static void k_second(struct sim_conn *c, int64_t now)
{
    if (now - c->last_ping >= PING_NS) {
        c->last_ping = now;
        sim_conn_ping(c);
    }
}

static void k_trades(const struct sim_exch *x, const struct sim_req *rq, struct sim_resp *rs)
{
    const char *tk = sim_req_arg(rq, "ticker");
    int idx = tk ? sim_exch_find(x, tk, strlen(tk)) : -1;
    if (idx < 0)
        return (void)sim_resp_json(rs, 404, "{\"error\":{\"code\":\"not_found\",\"message\":\"market not found\"}}");
    const struct sim_inst *in = &x->inst[idx];
    const char *ls = sim_req_arg(rq, "limit"), *cur = sim_req_arg(rq, "cursor"),
               *mts = sim_req_arg(rq, "min_ts");
    long limit = ls ? strtol(ls, NULL, 10) : 100;
    if (limit <= 0 || limit > 1000)
        limit = limit <= 0 ? 100 : 1000;
    int64_t min_ns = mts ? strtoll(mts, NULL, 10) * 1000000000ll : 0;
    /* the cursor is the trade number to start from (inclusive), going older */
    size_t hi = cur && *cur ? sim_hist_lower(in, strtoull(cur, NULL, 10) + 1) : in->hist_len;
    struct tr_buf *b = &rs->body;
    rs->status = 200;
    sim_put(b, "{\"trades\":[");
    size_t i = hi;
    long k = 0;
    for (; i > 0 && k < limit; i--, k++) {
        const struct sim_ev *e = sim_hist_at(in, i - 1);
        if (e->ts < min_ns)
            break;
        char tid[48];
        sim_kalshi_trade_id(x, e->inst, e->trade_id, tid, sizeof tid);
        sim_putf(b, "%s{\"trade_id\":\"%s\",\"ticker\":\"%s\",\"yes_price\":%lld,\"no_price\":%lld,"
                    "\"yes_price_dollars\":",
                 k ? "," : "", tid, in->name, (long long)e->price, (long long)(100 - e->price));
        put_cents(b, e->price);
        sim_put(b, ",\"no_price_dollars\":");
        put_cents(b, 100 - e->price);
        sim_putf(b, ",\"count\":%lld,\"count_fp\":", (long long)e->size);
        put_count(b, e->size);
        sim_putf(b, ",\"taker_side\":\"%s\",\"created_time\":", e->side == TR_SIDE_BUY ? "yes" : "no");
        sim_put_iso(b, e->ts, 0); /* whole seconds, like the WS trade's ts */
        sim_put(b, "}");
    }
    int more = i > 0 && k == limit && sim_hist_at(in, i - 1)->ts >= min_ns;
    if (more)
        sim_putf(b, "],\"cursor\":\"%llu\"}", (unsigned long long)sim_hist_at(in, i - 1)->trade_id);
    else
        sim_put(b, "],\"cursor\":\"\"}");
}

static void k_rest(struct sim_exch *x, const struct sim_req *rq, struct sim_resp *rs)
{
    struct tr_buf *b = &rs->body;
    const char *p = rq->path;
    rs->status = 200;
    if (strcmp(p, "/trade-api/v2/exchange/status") == 0) {
        int up = !x->f.maint_until;
        sim_putf(b, "{\"exchange_active\":%s,\"trading_active\":%s,\"exchange_estimated_resume_time\":",
                 up ? "true" : "false", up ? "true" : "false");
        if (up || x->f.maint_silent)
            sim_put(b, "null");
        else
            sim_put_iso(b, x->f.maint_until, 6);
        sim_put(b, "}");
    } else if (strcmp(p, "/trade-api/v2/markets") == 0) {
        /* pages of `limit` (1..1000, default 100, as Kalshi's API) capped
         * at --markets-page; the cursor is the next market's index, "" on
         * the last page (an unparsable cursor starts from the first) */
        const char *ls = sim_req_arg(rq, "limit"), *cur = sim_req_arg(rq, "cursor");
        long limit = ls ? strtol(ls, NULL, 10) : 100;
        if (limit <= 0 || limit > 1000)
            limit = limit <= 0 ? 100 : 1000;
        if (x->markets_page && limit > (long)x->markets_page)
            limit = (long)x->markets_page;
        uint32_t from = cur && *cur ? (uint32_t)strtoul(cur, NULL, 10) : 0;
        if (from > x->n_inst)
            from = x->n_inst;
        uint32_t to = from + (uint32_t)limit < x->n_inst ? from + (uint32_t)limit : x->n_inst;
        sim_put(b, "{\"markets\":[");
        for (uint32_t i = from; i < to; i++)
            sim_putf(b, "%s{\"ticker\":\"%s\",\"status\":\"%s\"}", i > from ? "," : "",
                     x->inst[i].name, x->f.maint_until ? "closed" : "active");
        if (to < x->n_inst)
            sim_putf(b, "],\"cursor\":\"%u\"}", to);
        else
            sim_put(b, "],\"cursor\":\"\"}");
    } else if (strcmp(p, "/trade-api/v2/markets/trades") == 0) {
        k_trades(x, rq, rs);
    } else if (strncmp(p, "/trade-api/v2/markets/", 22) == 0) {
        const char *tk = p + 22, *slash = strchr(tk, '/');
        int idx = slash && strcmp(slash, "/orderbook") == 0 ? sim_exch_find(x, tk, (size_t)(slash - tk)) : -1;
        if (idx < 0)
            return (void)sim_resp_json(rs, 404, "{\"error\":{\"code\":\"not_found\",\"message\":\"market not found\"}}");
        sim_put(b, "{\"orderbook_fp\":{");
        put_book_sides(b, &x->inst[idx], "yes_dollars", "no_dollars");
        sim_put(b, "}}");
    } else {
        sim_resp_json(rs, 404, "{\"error\":{\"code\":\"not_found\",\"message\":\"not found\"}}");
    }
}

static const char *k_status_path(void)
{
    return "/trade-api/v2/exchange/status";
}

const struct sim_dialect_ops sim_kalshi_ops = {
    .open = NULL,
    .rx = k_rx,
    .publish = k_publish,
    .second = k_second,
    .rest = k_rest,
    .status_path = k_status_path,
};
