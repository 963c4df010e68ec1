/* Binance spot adapter (WebSocket market streams, raw and combined, and the
 * REST endpoints for backfill, depth snapshots, exchangeInfo and system
 * status), following developers.binance.com/docs/binance-spot-api-docs
 * (web-socket-streams.md, rest-api.md) and docs/providers.md.
 *
 * Normalisation: trade (t) and aggTrade (a) -> trade with seq = that id
 * (contiguous per symbol; a feed must use one of the two: their id spaces
 * differ), side = taker side (m = buyer is maker -> taker sold);
 * depthUpdate -> book_delta with first_seq = U, seq = u (chained, synced
 * against /api/v3/depth by the U/u rule in tr_booksync); bookTicker ->
 * ticker with bid/ask and seq = u; kline and others are ignored. */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const struct tr_stream_desc streams[] = {
    {TR_KIND_TRADE, TR_IDENT_TRADE_ID, TR_GAP_CONTIGUOUS, TR_RESYNC_BACKFILL_ID},
    {TR_KIND_BOOK_DELTA, TR_IDENT_EXCHANGE_SEQ, TR_GAP_CHAIN, TR_RESYNC_SNAPSHOT},
    {TR_KIND_BOOK_SNAPSHOT, TR_IDENT_EXCHANGE_SEQ, TR_GAP_CHAIN, TR_RESYNC_SNAPSHOT},
    {TR_KIND_TICKER, TR_IDENT_EXCHANGE_SEQ, TR_GAP_NONE, TR_RESYNC_NONE},
};

static const struct tr_stream_desc *bn_stream(int kind)
{
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++)
        if (streams[i].kind == kind)
            return &streams[i];
    return NULL;
}

static int id_text(struct pctx *c, int i, const char *key, struct tr_event *ev)
{
    int rc = pj_u64_at(c, i, key, &ev->seq);
    if (rc)
        return rc;
    if (c->t[i].len >= sizeof ev->id)
        return pj_fail(c, key, TR_ETOOBIG, "too long");
    memcpy(ev->id, c->text + c->t[i].start, c->t[i].len);
    ev->id[c->t[i].len] = '\0';
    ev->fields |= TR_F_SEQ | TR_F_ID;
    return 0;
}

static int taker_side(struct pctx *c, int obj, const char *key, uint8_t *side)
{
    int m, rc = pj_bool(c, obj, key, &m);
    if (!rc) /* buyer is maker: the taker sold */
        *side = m ? TR_SIDE_SELL : TR_SIDE_BUY;
    return rc;
}

/* Keys differ between the stream and REST forms of a trade. */
struct trade_keys {
    const char *sym, *id, *price, *qty, *time, *maker;
};
static const struct trade_keys k_trade = {"s", "t", "p", "q", "T", "m"};
static const struct trade_keys k_agg = {"s", "a", "p", "q", "T", "m"};
static const struct trade_keys k_hist = {NULL, "id", "price", "qty", "time", "isBuyerMaker"};

static int trade(struct pctx *c, int obj, const struct trade_keys *k, const char *symbol)
{
    struct tr_event *ev = pj_event(c, TR_KIND_TRADE);
    if (!ev)
        return TR_ENOMEM;
    int rc, i;
    if (symbol) {
        if (tr_event_set_str(ev->instrument, sizeof ev->instrument, symbol, strlen(symbol)))
            return pj_fail(c, "symbol", TR_ETOOBIG, "too long");
    } else if ((rc = pj_str(c, obj, k->sym, ev->instrument, sizeof ev->instrument))) {
        return rc;
    }
    if ((rc = pj_req(c, obj, k->id, &i)) || (rc = id_text(c, i, k->id, ev)) ||
        (rc = pj_dec(c, obj, k->price, &ev->price)) || (rc = pj_dec(c, obj, k->qty, &ev->size)) ||
        (rc = pj_epoch(c, obj, k->time, 1000000, &ev->ts_exchange)) ||
        (rc = taker_side(c, obj, k->maker, &ev->side)))
        return rc;
    ev->fields |= TR_F_PRICE | TR_F_SIZE | TR_F_TS_EXCHANGE;
    return 0;
}

static int book(struct pctx *c, int obj, struct tr_event *ev, const char *bk, const char *ak)
{
    int rc, b, a;
    if ((rc = pj_req(c, obj, bk, &b)) || (rc = pj_req(c, obj, ak, &a)))
        return rc;
    if (c->t[b].type != TR_JSON_ARRAY || c->t[a].type != TR_JSON_ARRAY)
        return pj_fail(c, c->t[b].type != TR_JSON_ARRAY ? bk : ak, TR_EPARSE,
                       "expected an array");
    struct tr_level *l = pj_alloc_levels(c, ev, c->t[b].count, c->t[a].count);
    if (!l)
        return c->err ? c->err->code : TR_ENOMEM;
    if (ev->n_bids + ev->n_asks &&
        ((rc = pj_levels(c, b, bk, l)) || (rc = pj_levels(c, a, ak, l + ev->n_bids))))
        return rc;
    return 0;
}

static int depth_update(struct pctx *c, int obj)
{
    struct tr_event *ev = pj_event(c, TR_KIND_BOOK_DELTA);
    if (!ev)
        return TR_ENOMEM;
    int rc;
    if ((rc = pj_str(c, obj, "s", ev->instrument, sizeof ev->instrument)) ||
        (rc = pj_u64(c, obj, "U", &ev->first_seq)) || (rc = pj_u64(c, obj, "u", &ev->seq)) ||
        (rc = pj_epoch(c, obj, "E", 1000000, &ev->ts_exchange)))
        return rc;
    if (ev->first_seq > ev->seq)
        return pj_fail(c, "U", TR_ERANGE, "first update id %llu after last %llu",
                       (unsigned long long)ev->first_seq, (unsigned long long)ev->seq);
    ev->fields |= TR_F_SEQ | TR_F_FIRST_SEQ | TR_F_TS_EXCHANGE;
    return book(c, obj, ev, "b", "a");
}

static int book_ticker(struct pctx *c, int obj)
{
    struct tr_event *ev = pj_event(c, TR_KIND_TICKER);
    if (!ev)
        return TR_ENOMEM;
    int rc;
    if ((rc = pj_str(c, obj, "s", ev->instrument, sizeof ev->instrument)) ||
        (rc = pj_u64(c, obj, "u", &ev->seq)) || (rc = pj_dec(c, obj, "b", &ev->bid)) ||
        (rc = pj_dec(c, obj, "a", &ev->ask)))
        return rc;
    /* B/A (quantities at the top) have no field in the event. */
    ev->fields |= TR_F_SEQ | TR_F_BID | TR_F_ASK;
    return 0;
}

static void classify_error(struct tr_ctl *ctl)
{
    const char *t = ctl->text;
    ctl->kind = TR_CTL_SUB_ERROR;
    if (strcasestr(t, "limit") || strcasestr(t, "too many"))
        ctl->sub_error = TR_SUBERR_LIMIT;
    else if (strcasestr(t, "channel"))
        ctl->sub_error = TR_SUBERR_UNKNOWN_CHANNEL;
    else if (strcasestr(t, "unknown stream") || strcasestr(t, "symbol"))
        ctl->sub_error = TR_SUBERR_UNKNOWN_MARKET; /* we build the channel part */
    else
        ctl->sub_error = TR_SUBERR_OTHER;
}

static int control(struct pctx *c)
{
    struct tr_ctl *ctl = &c->out->ctl;
    int i = pj_opt(c, 0, "id");
    if (i >= 0 && tr_json_i64(c->text, c->t, i, &ctl->req_id))
        ctl->req_id = -1;
    int e = pj_opt(c, 0, "error");
    if (e >= 0) {
        c->what = "binance error";
        if (c->t[e].type != TR_JSON_OBJECT)
            return pj_fail(c, "error", TR_EPARSE, "expected an object");
        if ((i = pj_opt(c, e, "code")) >= 0)
            tr_json_i64(c->text, c->t, i, &ctl->code);
        if ((i = pj_opt(c, e, "msg")) >= 0 && c->t[i].type == TR_JSON_STRING)
            tr_json_str(c->text, c->t, i, ctl->text, sizeof ctl->text);
        classify_error(ctl);
        return 0;
    }
    if (tr_json_get(c->text, c->t, 0, "result") >= 0) {
        /* {"result":null,"id":N} acknowledges SUBSCRIBE/UNSUBSCRIBE alike;
         * the caller knows which request N was. */
        ctl->kind = pj_opt(c, 0, "result") < 0 ? TR_CTL_SUBSCRIBED : TR_CTL_IGNORED;
        return 0;
    }
    ctl->kind = TR_CTL_IGNORED;
    return 0;
}

static int data(struct pctx *c, int obj)
{
    int e = pj_opt(c, obj, "e");
    if (e < 0) {
        if (pj_opt(c, obj, "u") >= 0 && pj_opt(c, obj, "b") >= 0 && pj_opt(c, obj, "a") >= 0) {
            c->what = "binance bookTicker";
            return book_ticker(c, obj);
        }
        c->out->ctl.kind = TR_CTL_IGNORED;
        return 0;
    }
    if (pj_is(c, e, "aggTrade")) {
        c->what = "binance aggTrade";
        return trade(c, obj, &k_agg, NULL);
    }
    if (pj_is(c, e, "trade")) {
        c->what = "binance trade";
        return trade(c, obj, &k_trade, NULL);
    }
    if (pj_is(c, e, "depthUpdate")) {
        c->what = "binance depthUpdate";
        return depth_update(c, obj);
    }
    c->out->ctl.kind = TR_CTL_IGNORED; /* kline, 24hrTicker, ... */
    return 0;
}

static int bn_parse(void *state, const char *text, size_t len, int64_t recv_ns,
                    struct tr_frame *out, struct tr_error *err)
{
    (void)state;
    tr_frame_reset(out);
    struct pctx c = {.text = text, .what = "binance", .provider = "binance", .out = out,
                     .err = err, .recv_ns = recv_ns};
    int n = pj_tokenize(out, text, len, "binance", err);
    if (n < 0)
        return n;
    c.t = out->toks;
    if (c.t[0].type != TR_JSON_OBJECT)
        return pj_fail(&c, NULL, TR_EPARSE, "frame is not an object");
    int rc, d = pj_opt(&c, 0, "data");
    if (d >= 0) { /* combined stream: {"stream":"...","data":{...}} */
        if (c.t[d].type != TR_JSON_OBJECT)
            return pj_fail(&c, "data", TR_EPARSE, "expected an object");
        rc = data(&c, d);
    } else if (pj_opt(&c, 0, "e") >= 0 || pj_opt(&c, 0, "u") >= 0) {
        rc = data(&c, 0);
    } else {
        rc = control(&c);
    }
    return pj_done(&c, rc);
}

static int bn_sub(const char *method, const struct tr_sub_req *req, struct tr_buf *out,
                  struct tr_error *err)
{
    if (!req->channels || !req->n_instruments)
        return tr_errorf(err, TR_EINVAL, "binance %s: no channel or symbol", method);
    int rc = pj_bprintf(out, "{\"method\":\"%s\",\"params\":[", method);
    int first = 1;
    for (size_t i = 0; !rc && i < req->n_instruments; i++) {
        char sym[TR_INSTRUMENT_MAX];
        size_t n = strlen(req->instruments[i]);
        if (n >= sizeof sym || !pj_plain(req->instruments[i]))
            return tr_errorf(err, TR_EINVAL, "binance %s: bad symbol '%s'", method,
                             req->instruments[i]);
        for (size_t k = 0; k <= n; k++)
            sym[k] = (char)tolower((unsigned char)req->instruments[i][k]);
        static const struct {
            uint32_t ch;
            const char *suffix;
        } map[] = {{TR_CH_TRADES, NULL}, {TR_CH_BOOK, "depth@100ms"}, {TR_CH_TICKER, "bookTicker"}};
        for (size_t m = 0; !rc && m < 3; m++) {
            if (!(req->channels & map[m].ch))
                continue;
            const char *suffix = map[m].suffix;
            if (!suffix)
                suffix = (req->flags & TR_REQ_RAW_TRADES) ? "trade" : "aggTrade";
            rc = pj_bprintf(out, "%s\"%s@%s\"", first ? "" : ",", sym, suffix);
            first = 0;
        }
    }
    if (!rc)
        rc = pj_bprintf(out, "],\"id\":%lld}", (long long)(req->req_id > 0 ? req->req_id : 1));
    return rc ? tr_errorf(err, rc, "binance %s: out of memory", method) : 0;
}

static int bn_subscribe(const struct tr_sub_req *req, struct tr_buf *out, struct tr_error *err)
{
    return bn_sub("SUBSCRIBE", req, out, err);
}

static int bn_unsubscribe(const struct tr_sub_req *req, struct tr_buf *out, struct tr_error *err)
{
    return bn_sub("UNSUBSCRIBE", req, out, err);
}

static int bn_rest_path(const struct tr_rest_req *req, char *buf, size_t cap,
                        struct tr_error *err)
{
    size_t pos = 0;
    int rc = pj_sprintf(buf, cap, &pos, "%s", req->prefix ? req->prefix : "");
    if ((req->kind == TR_REST_TRADES || req->kind == TR_REST_BOOK) && !req->instrument)
        return tr_errorf(err, TR_EINVAL, "binance rest: no symbol");
    switch (req->kind) {
    case TR_REST_TRADES:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/api/v3/%s?symbol=",
                            (req->flags & TR_REQ_RAW_TRADES) ? "historicalTrades" : "aggTrades");
        if (!rc)
            rc = pj_urlenc(buf, cap, &pos, req->instrument);
        if (!rc && req->has_after_id) /* fromId is inclusive */
            rc = pj_sprintf(buf, cap, &pos, "&fromId=%llu",
                            (unsigned long long)req->after_id + 1);
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "&limit=%u", req->limit ? req->limit : 1000);
        break;
    case TR_REST_BOOK:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/api/v3/depth?symbol=");
        if (!rc)
            rc = pj_urlenc(buf, cap, &pos, req->instrument);
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "&limit=%u", req->limit ? req->limit : 1000);
        break;
    case TR_REST_MARKETS:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/api/v3/exchangeInfo");
        break;
    case TR_REST_STATUS:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/sapi/v1/system/status");
        break;
    default: return tr_errorf(err, TR_EUNSUPPORTED, "binance rest: request kind %d", req->kind);
    }
    return rc ? tr_errorf(err, TR_ETOOBIG, "binance rest: path longer than %zu", cap) : 0;
}

static int rest_trades(struct pctx *c, const struct tr_rest_req *req, struct tr_rest_result *res)
{
    if (c->t[0].type != TR_JSON_ARRAY)
        return pj_fail(c, NULL, TR_EPARSE, "expected an array of trades");
    const struct trade_keys *k = (req->flags & TR_REQ_RAW_TRADES) ? &k_hist : &k_agg;
    uint32_t n = c->t[0].count;
    int i = 1, rc;
    res->next_after_id = req->has_after_id ? req->after_id : 0;
    for (uint32_t j = 0; j < n; j++) {
        if (c->t[i].type != TR_JSON_OBJECT)
            return pj_fail(c, NULL, TR_EPARSE, "trade %u is not an object", j);
        if ((rc = trade(c, i, k, req->instrument)))
            return tr_error_wrap(c->err, rc, "trade %u", j);
        uint64_t id = c->out->events[c->out->n_events - 1].seq;
        if (id > res->next_after_id)
            res->next_after_id = id;
        i = (int)c->t[i].end;
    }
    res->more = n > 0 && n >= (req->limit ? req->limit : 1000);
    return 0;
}

static int bn_rest_parse(const struct tr_rest_req *req, const char *body, size_t len,
                         struct tr_frame *out, struct tr_rest_result *res, struct tr_error *err)
{
    tr_frame_reset(out);
    struct pctx c = {.text = body, .what = "binance rest", .provider = "binance", .out = out,
                     .err = err};
    int n = pj_tokenize(out, body, len, "binance rest", err);
    if (n < 0)
        return n;
    c.t = out->toks;
    int rc = 0, i;
    struct tr_event *ev;
    switch (req->kind) {
    case TR_REST_TRADES:
        c.what = "binance rest trades";
        rc = rest_trades(&c, req, res);
        break;
    case TR_REST_BOOK:
        c.what = "binance rest depth";
        if (c.t[0].type != TR_JSON_OBJECT)
            return pj_fail(&c, NULL, TR_EPARSE, "not an object");
        if (!(ev = pj_event(&c, TR_KIND_BOOK_SNAPSHOT)))
            return TR_ENOMEM;
        if (tr_event_set_str(ev->instrument, sizeof ev->instrument, req->instrument,
                             strlen(req->instrument)))
            rc = pj_fail(&c, "symbol", TR_ETOOBIG, "too long");
        if (!rc && !(rc = pj_u64(&c, 0, "lastUpdateId", &ev->seq)))
            ev->fields |= TR_F_SEQ;
        if (!rc)
            rc = book(&c, 0, ev, "bids", "asks");
        break;
    case TR_REST_MARKETS:
        c.what = "binance rest exchangeInfo";
        if ((rc = pj_req(&c, 0, "symbols", &i)))
            break;
        if (c.t[i].type != TR_JSON_ARRAY) {
            rc = pj_fail(&c, "symbols", TR_EPARSE, "expected an array");
            break;
        }
        for (uint32_t k = 0; !rc && k < c.t[i].count; k++) {
            char sym[TR_INSTRUMENT_MAX];
            if (!(rc = pj_str(&c, tr_json_at(c.t, i, k), "symbol", sym, sizeof sym)))
                rc = pj_add_name(res, sym, strlen(sym));
        }
        break;
    case TR_REST_STATUS: {
        c.what = "binance rest system status";
        int64_t st;
        if (!(rc = pj_i64(&c, 0, "status", &st)))
            res->status = st == 0 ? TR_XSTATUS_OPEN : TR_XSTATUS_MAINTENANCE;
        break;
    }
    default: rc = tr_errorf(err, TR_EUNSUPPORTED, "binance rest: kind %d", req->kind);
    }
    return pj_done(&c, rc);
}

const struct tr_provider_ops tr_provider_binance = {
    .version = TR_PROVIDER_OPS_VERSION,
    .name = "binance",
    .dialect = "binance",
    .stream = bn_stream,
    .subscribe = bn_subscribe,
    .unsubscribe = bn_unsubscribe,
    .parse = bn_parse,
    .rest_path = bn_rest_path,
    .rest_parse = bn_rest_parse,
};
