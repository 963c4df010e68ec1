/* Kalshi trade API v2 adapter (WebSocket orderbook_snapshot /
 * orderbook_delta / trade / ticker, REST trades with cursor pages,
 * orderbook, markets and exchange status), following docs.kalshi.com
 * (WebSocket API reference, REST API reference) and docs/providers.md.
 *
 * Normalisation: prices from the *_dollars fields and sizes from the *_fp
 * fields, exactly as text. trade -> trade with id = trade_id (exchange-wide
 * UUID), price = yes_price_dollars, side = BUY when the taker bought YES,
 * SELL when the taker bought NO. Book: bids = YES levels, asks = NO levels,
 * each at its own side's price as sent (a NO bid at p is a YES ask at 1-p;
 * we keep the provider's text rather than compute). orderbook_delta is
 * relative (delta_fp), our book_delta carries absolute sizes, so the adapter
 * keeps each market's levels per connection and emits the new size.
 * `seq` is per subscription (sid): it goes to the frame's conn_seq, never
 * into events, since it identifies nothing across connections. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct tr_stream_desc streams[] = {
    {TR_KIND_TRADE, TR_IDENT_TRADE_ID, TR_GAP_CONNECTION, TR_RESYNC_BACKFILL_CURSOR},
    {TR_KIND_BOOK_DELTA, TR_IDENT_CONNECTION, TR_GAP_CONNECTION, TR_RESYNC_RESUBSCRIBE},
    {TR_KIND_BOOK_SNAPSHOT, TR_IDENT_CONNECTION, TR_GAP_CONNECTION, TR_RESYNC_RESUBSCRIBE},
    {TR_KIND_TICKER, TR_IDENT_NONE, TR_GAP_NONE, TR_RESYNC_NONE},
};

static const struct tr_stream_desc *ks_stream(int kind)
{
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++)
        if (streams[i].kind == kind)
            return &streams[i];
    return NULL;
}

/* ---- per-connection books: market -> yes/no levels ---- */

struct side {
    struct tr_level *lv;
    size_t n, cap;
};
struct kbook {
    char ticker[TR_INSTRUMENT_MAX]; /* "" = empty slot */
    struct side yes, no;
};
struct kstate {
    struct kbook *books;
    size_t cap, used;
};

static int ks_init(void *state, struct tr_error *err)
{
    struct kstate *s = state;
    s->cap = 64;
    s->books = calloc(s->cap, sizeof *s->books);
    return s->books ? 0 : tr_errorf(err, TR_ENOMEM, "kalshi books");
}

static void ks_close(void *state)
{
    struct kstate *s = state;
    for (size_t i = 0; i < s->cap; i++) {
        free(s->books[i].yes.lv);
        free(s->books[i].no.lv);
    }
    free(s->books);
    s->books = NULL;
}

static size_t hash(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return (size_t)h;
}

static struct kbook *slot(struct kbook *b, size_t cap, const char *t)
{
    size_t i = hash(t) & (cap - 1);
    while (b[i].ticker[0] && strcmp(b[i].ticker, t) != 0)
        i = (i + 1) & (cap - 1);
    return &b[i];
}

static struct kbook *book_get(struct kstate *s, const char *t, int create)
{
    struct kbook *b = slot(s->books, s->cap, t);
    if (b->ticker[0] || !create)
        return b->ticker[0] ? b : NULL;
    if ((s->used + 1) * 10 > s->cap * 7) {
        size_t cap = s->cap * 2;
        struct kbook *n = calloc(cap, sizeof *n);
        if (!n)
            return NULL;
        for (size_t i = 0; i < s->cap; i++)
            if (s->books[i].ticker[0])
                *slot(n, cap, s->books[i].ticker) = s->books[i];
        free(s->books);
        s->books = n;
        s->cap = cap;
        b = slot(s->books, s->cap, t);
    }
    snprintf(b->ticker, sizeof b->ticker, "%s", t);
    s->used++;
    return b;
}

static int side_set(struct side *sd, const struct tr_level *lv, size_t n)
{
    if (n > sd->cap) {
        struct tr_level *l = realloc(sd->lv, n * sizeof *l);
        if (!l)
            return TR_ENOMEM;
        sd->lv = l;
        sd->cap = n;
    }
    if (n)
        memcpy(sd->lv, lv, n * sizeof *lv);
    sd->n = n;
    return 0;
}

static const int64_t pow10s[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                 100000000, 1000000000, 10000000000, 100000000000,
                                 1000000000000, 10000000000000, 100000000000000,
                                 1000000000000000, 10000000000000000, 100000000000000000,
                                 1000000000000000000};

/* a + b exactly at the larger scale; TR_ERANGE on overflow. */
static int dec_add(struct tr_decimal a, struct tr_decimal b, struct tr_decimal *out)
{
    uint8_t s = a.scale > b.scale ? a.scale : b.scale;
    int64_t x, y;
    if (s > TR_DECIMAL_MAX_SCALE ||
        __builtin_mul_overflow(a.mant, pow10s[s - a.scale], &x) ||
        __builtin_mul_overflow(b.mant, pow10s[s - b.scale], &y) ||
        __builtin_add_overflow(x, y, &out->mant))
        return TR_ERANGE;
    out->scale = s;
    return 0;
}

/* Applies a relative change at `price`; *size gets the new absolute size. */
static int side_apply(struct side *sd, struct tr_decimal price, struct tr_decimal delta,
                      struct tr_decimal *size)
{
    size_t i = 0;
    while (i < sd->n && tr_decimal_cmp(sd->lv[i].price, price) != 0)
        i++;
    struct tr_decimal zero = {0, 0}, cur = i < sd->n ? sd->lv[i].size : zero;
    int rc = dec_add(cur, delta, size);
    if (rc)
        return rc;
    if (size->mant < 0)
        return TR_ERANGE;
    if (size->mant == 0) {
        if (i < sd->n)
            sd->lv[i] = sd->lv[--sd->n];
        return 0;
    }
    if (i == sd->n) {
        if (sd->n == sd->cap) {
            size_t cap = sd->cap ? sd->cap * 2 : 16;
            struct tr_level *l = realloc(sd->lv, cap * sizeof *l);
            if (!l)
                return TR_ENOMEM;
            sd->lv = l;
            sd->cap = cap;
        }
        sd->lv[sd->n++].price = price;
    }
    sd->lv[i].size = *size;
    return 0;
}

/* ---- messages ---- */

static int snapshot(struct pctx *c, struct kstate *st, int m, const char *ykey, const char *nkey,
                    const char *ticker)
{
    struct tr_event *ev = pj_event(c, TR_KIND_BOOK_SNAPSHOT);
    if (!ev)
        return TR_ENOMEM;
    int rc;
    if (ticker) {
        if (tr_event_set_str(ev->instrument, sizeof ev->instrument, ticker, strlen(ticker)))
            return pj_fail(c, "ticker", TR_ETOOBIG, "too long");
    } else if ((rc = pj_str(c, m, "market_ticker", ev->instrument, sizeof ev->instrument))) {
        return rc;
    }
    /* An empty side may be left out. */
    int y = pj_opt(c, m, ykey), n = pj_opt(c, m, nkey);
    if ((y >= 0 && c->t[y].type != TR_JSON_ARRAY) || (n >= 0 && c->t[n].type != TR_JSON_ARRAY))
        return pj_fail(c, y >= 0 && c->t[y].type != TR_JSON_ARRAY ? ykey : nkey, TR_EPARSE,
                       "expected an array");
    size_t ny = y >= 0 ? c->t[y].count : 0, nn = n >= 0 ? c->t[n].count : 0;
    struct tr_level *l = pj_alloc_levels(c, ev, ny, nn);
    if (!l)
        return c->err ? c->err->code : TR_ENOMEM;
    if ((ny && (rc = pj_levels(c, y, ykey, l))) || (nn && (rc = pj_levels(c, n, nkey, l + ny))))
        return rc;
    if (st) {
        struct kbook *b = book_get(st, ev->instrument, 1);
        if (!b || side_set(&b->yes, l, ny) || side_set(&b->no, l + ny, nn))
            return pj_fail(c, NULL, TR_ENOMEM, "book for %s", ev->instrument);
    }
    return 0;
}

static int ts_field(struct pctx *c, int obj, const char *key, struct tr_event *ev)
{
    int i = pj_opt(c, obj, key), rc;
    if (i < 0)
        return 0;
    if (c->t[i].type == TR_JSON_STRING)
        rc = pj_iso(c, obj, key, &ev->ts_exchange);
    else
        rc = pj_epoch(c, obj, key, 1000000000, &ev->ts_exchange);
    if (!rc)
        ev->fields |= TR_F_TS_EXCHANGE;
    return rc;
}

static int delta(struct pctx *c, struct kstate *st, int m)
{
    struct tr_event *ev = pj_event(c, TR_KIND_BOOK_DELTA);
    if (!ev)
        return TR_ENOMEM;
    struct tr_decimal price, d;
    int rc, sd;
    if ((rc = pj_str(c, m, "market_ticker", ev->instrument, sizeof ev->instrument)) ||
        (rc = pj_dec(c, m, "price_dollars", &price)) || (rc = pj_dec(c, m, "delta_fp", &d)) ||
        (rc = pj_req(c, m, "side", &sd)) || (rc = ts_field(c, m, "ts", ev)))
        return rc;
    int yes = pj_is(c, sd, "yes");
    if (!yes && !pj_is(c, sd, "no"))
        return pj_fail(c, "side", TR_EPARSE, "expected \"yes\" or \"no\"");
    struct kbook *b = st ? book_get(st, ev->instrument, 0) : NULL;
    if (!b)
        return pj_fail(c, "market_ticker", TR_EPROTO, "delta for %s before its snapshot",
                       ev->instrument);
    struct tr_level *l = pj_alloc_levels(c, ev, yes ? 1 : 0, yes ? 0 : 1);
    if (!l)
        return c->err ? c->err->code : TR_ENOMEM;
    l->price = price;
    rc = side_apply(yes ? &b->yes : &b->no, price, d, &l->size);
    if (rc == TR_ERANGE)
        return pj_fail(c, "delta_fp", rc, "level size would be negative or overflow");
    if (rc)
        return pj_fail(c, NULL, rc, "book update");
    return 0;
}

static int trade(struct pctx *c, int m, const char *tkey, const char *timekey)
{
    struct tr_event *ev = pj_event(c, TR_KIND_TRADE);
    if (!ev)
        return TR_ENOMEM;
    int rc, ts;
    if ((rc = pj_str(c, m, tkey, ev->instrument, sizeof ev->instrument)) ||
        (rc = pj_str(c, m, "trade_id", ev->id, sizeof ev->id)) ||
        (rc = pj_dec(c, m, "yes_price_dollars", &ev->price)) ||
        (rc = pj_dec(c, m, "count_fp", &ev->size)) || (rc = pj_req(c, m, "taker_side", &ts)) ||
        (rc = pj_req(c, m, timekey, &ts)) || (rc = ts_field(c, m, timekey, ev)))
        return rc;
    ts = pj_opt(c, m, "taker_side");
    if (pj_is(c, ts, "yes"))
        ev->side = TR_SIDE_BUY;
    else if (pj_is(c, ts, "no"))
        ev->side = TR_SIDE_SELL;
    else
        return pj_fail(c, "taker_side", TR_EPARSE, "expected \"yes\" or \"no\"");
    if (!ev->id[0])
        return pj_fail(c, "trade_id", TR_EPARSE, "empty");
    ev->fields |= TR_F_ID | TR_F_PRICE | TR_F_SIZE;
    return 0;
}

static int ticker(struct pctx *c, int m)
{
    struct tr_event *ev = pj_event(c, TR_KIND_TICKER);
    if (!ev)
        return TR_ENOMEM;
    int rc;
    if ((rc = pj_str(c, m, "market_ticker", ev->instrument, sizeof ev->instrument)) ||
        (rc = pj_dec(c, m, "price_dollars", &ev->price)) || (rc = ts_field(c, m, "ts", ev)))
        return rc;
    ev->fields |= TR_F_PRICE;
    if (pj_opt(c, m, "yes_bid_dollars") >= 0) {
        if ((rc = pj_dec(c, m, "yes_bid_dollars", &ev->bid)))
            return rc;
        ev->fields |= TR_F_BID;
    }
    if (pj_opt(c, m, "yes_ask_dollars") >= 0) {
        if ((rc = pj_dec(c, m, "yes_ask_dollars", &ev->ask)))
            return rc;
        ev->fields |= TR_F_ASK;
    }
    return 0;
}

static int error_msg(struct pctx *c, int m)
{
    struct tr_ctl *ctl = &c->out->ctl;
    ctl->kind = TR_CTL_SUB_ERROR;
    int i;
    if ((i = pj_opt(c, m, "code")) >= 0)
        tr_json_i64(c->text, c->t, i, &ctl->code);
    if ((i = pj_opt(c, m, "msg")) >= 0 && c->t[i].type == TR_JSON_STRING)
        tr_json_str(c->text, c->t, i, ctl->text, sizeof ctl->text);
    /* Codes from Kalshi's WebSocket error table (asyncapi.yaml): 8 unknown
     * channel name, 16 market not found (older table), 26 subscription
     * market limit exceeded. 18 is "command timeout" there but the
     * simulator's dialect uses 18 for a subscription limit, so the text
     * decides for 18. */
    if (ctl->code == 8)
        ctl->sub_error = TR_SUBERR_UNKNOWN_CHANNEL;
    else if (ctl->code == 16)
        ctl->sub_error = TR_SUBERR_UNKNOWN_MARKET;
    else if (ctl->code == 26 || strcasestr(ctl->text, "limit"))
        ctl->sub_error = TR_SUBERR_LIMIT;
    else if (ctl->code == 1 || ctl->code == 17 || ctl->code == 18)
        ctl->kind = TR_CTL_SERVER_ERROR; /* processing error / timeout: retry */
    else
        ctl->sub_error = TR_SUBERR_OTHER;
    return 0;
}

static int ks_parse(void *state, const char *text, size_t len, int64_t recv_ns,
                    struct tr_frame *out, struct tr_error *err)
{
    struct kstate *st = state;
    tr_frame_reset(out);
    struct pctx c = {.text = text, .what = "kalshi", .provider = "kalshi", .out = out,
                     .err = err, .recv_ns = recv_ns};
    int n = pj_tokenize(out, text, len, "kalshi", err);
    if (n < 0)
        return n;
    c.t = out->toks;
    if (c.t[0].type != TR_JSON_OBJECT)
        return pj_fail(&c, NULL, TR_EPARSE, "frame is not an object");
    int ty = pj_opt(&c, 0, "type"), i, rc = 0;
    if (ty < 0 || c.t[ty].type != TR_JSON_STRING)
        return pj_fail(&c, "type", TR_EPARSE, "missing");
    if ((i = pj_opt(&c, 0, "id")) >= 0 && tr_json_i64(text, c.t, i, &out->ctl.req_id))
        out->ctl.req_id = -1;
    if ((i = pj_opt(&c, 0, "sid")) >= 0) {
        if ((rc = pj_u64_at(&c, i, "sid", &out->sid)))
            return pj_done(&c, rc);
        out->has_sid = 1;
    }
    if ((i = pj_opt(&c, 0, "seq")) >= 0) {
        if ((rc = pj_u64_at(&c, i, "seq", &out->conn_seq)))
            return pj_done(&c, rc);
        out->has_conn_seq = 1;
    }
    int m = pj_opt(&c, 0, "msg");
    int data = pj_is(&c, ty, "trade") || pj_is(&c, ty, "orderbook_delta") ||
               pj_is(&c, ty, "orderbook_snapshot") || pj_is(&c, ty, "ticker") ||
               pj_is(&c, ty, "error") || pj_is(&c, ty, "subscribed");
    if (data && (m < 0 || c.t[m].type != TR_JSON_OBJECT)) {
        tr_json_str(text, c.t, ty, out->ctl.text, sizeof out->ctl.text);
        c.what = "kalshi message";
        return pj_done(&c, pj_fail(&c, "msg", TR_EPARSE, "missing or not an object"));
    }
    if (pj_is(&c, ty, "trade")) {
        c.what = "kalshi trade";
        rc = trade(&c, m, "market_ticker", "ts");
    } else if (pj_is(&c, ty, "orderbook_delta")) {
        c.what = "kalshi orderbook_delta";
        rc = delta(&c, st, m);
    } else if (pj_is(&c, ty, "orderbook_snapshot")) {
        c.what = "kalshi orderbook_snapshot";
        rc = snapshot(&c, st, m, "yes_dollars", "no_dollars", NULL);
    } else if (pj_is(&c, ty, "ticker")) {
        c.what = "kalshi ticker";
        rc = ticker(&c, m);
    } else if (pj_is(&c, ty, "subscribed")) {
        c.what = "kalshi subscribed";
        struct tr_ctl_sub *s = &out->ctl.subs[0];
        out->ctl.kind = TR_CTL_SUBSCRIBED;
        if (!(rc = pj_str(&c, m, "channel", s->channel, sizeof s->channel)) &&
            !(rc = pj_u64(&c, m, "sid", &s->sid)))
            out->ctl.n_subs = 1;
    } else if (pj_is(&c, ty, "unsubscribed")) {
        out->ctl.kind = TR_CTL_UNSUBSCRIBED;
    } else if (pj_is(&c, ty, "error")) {
        c.what = "kalshi error";
        rc = error_msg(&c, m);
    } else {
        out->ctl.kind = TR_CTL_IGNORED; /* ok, fill, market_lifecycle ... */
    }
    return pj_done(&c, rc);
}

static int put_list(struct tr_buf *b, const char *const *v, size_t n)
{
    int rc = tr_buf_append(b, "[", 1);
    for (size_t i = 0; !rc && i < n; i++) {
        if (i)
            rc = tr_buf_append(b, ",", 1);
        if (!rc)
            rc = pj_bstr(b, v[i]);
    }
    return rc ? rc : tr_buf_append(b, "]", 1);
}

static int ks_subscribe(const struct tr_sub_req *req, struct tr_buf *out, struct tr_error *err)
{
    const char *ch[3];
    size_t n = 0;
    if (req->channels & TR_CH_BOOK)
        ch[n++] = "orderbook_delta"; /* snapshot first, then deltas */
    if (req->channels & TR_CH_TRADES)
        ch[n++] = "trade";
    if (req->channels & TR_CH_TICKER)
        ch[n++] = "ticker";
    if (!n)
        return tr_errorf(err, TR_EINVAL, "kalshi subscribe: no channel");
    int rc = pj_bprintf(out, "{\"id\":%lld,\"cmd\":\"subscribe\",\"params\":{\"channels\":",
                        (long long)(req->req_id > 0 ? req->req_id : 1));
    if (!rc)
        rc = put_list(out, ch, n);
    if (!rc && req->n_instruments) {
        rc = pj_bprintf(out, ",\"market_tickers\":");
        if (!rc)
            rc = put_list(out, req->instruments, req->n_instruments);
    }
    if (!rc)
        rc = tr_buf_append(out, "}}", 2);
    return rc ? tr_errorf(err, rc, "kalshi subscribe: out of memory") : 0;
}

static int ks_unsubscribe(const struct tr_sub_req *req, struct tr_buf *out, struct tr_error *err)
{
    if (!req->n_sids)
        return tr_errorf(err, TR_EINVAL, "kalshi unsubscribe: needs sids");
    int rc = pj_bprintf(out, "{\"id\":%lld,\"cmd\":\"unsubscribe\",\"params\":{\"sids\":[",
                        (long long)(req->req_id > 0 ? req->req_id : 1));
    for (size_t i = 0; !rc && i < req->n_sids; i++)
        rc = pj_bprintf(out, "%s%llu", i ? "," : "", (unsigned long long)req->sids[i]);
    if (!rc)
        rc = tr_buf_append(out, "]}}", 3);
    return rc ? tr_errorf(err, rc, "kalshi unsubscribe: out of memory") : 0;
}

static int ks_rest_path(const struct tr_rest_req *req, char *buf, size_t cap,
                        struct tr_error *err)
{
    size_t pos = 0;
    int rc = pj_sprintf(buf, cap, &pos, "%s/trade-api/v2", req->prefix ? req->prefix : "");
    if ((req->kind == TR_REST_TRADES || req->kind == TR_REST_BOOK) && !req->instrument)
        return tr_errorf(err, TR_EINVAL, "kalshi rest: no ticker");
    switch (req->kind) {
    case TR_REST_TRADES:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/markets/trades?ticker=");
        if (!rc)
            rc = pj_urlenc(buf, cap, &pos, req->instrument);
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "&limit=%u", req->limit ? req->limit : 1000);
        if (!rc && req->since_ns > 0)
            rc = pj_sprintf(buf, cap, &pos, "&min_ts=%lld", (long long)(req->since_ns / 1000000000));
        if (!rc && req->cursor && req->cursor[0]) {
            rc = pj_sprintf(buf, cap, &pos, "&cursor=");
            if (!rc)
                rc = pj_urlenc(buf, cap, &pos, req->cursor);
        }
        break;
    case TR_REST_BOOK:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/markets/");
        if (!rc)
            rc = pj_urlenc(buf, cap, &pos, req->instrument);
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/orderbook");
        break;
    case TR_REST_MARKETS:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/markets?limit=%u", req->limit ? req->limit : 1000);
        if (!rc && req->cursor && req->cursor[0]) {
            rc = pj_sprintf(buf, cap, &pos, "&cursor=");
            if (!rc)
                rc = pj_urlenc(buf, cap, &pos, req->cursor);
        }
        break;
    case TR_REST_STATUS:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/exchange/status");
        break;
    default: return tr_errorf(err, TR_EUNSUPPORTED, "kalshi rest: request kind %d", req->kind);
    }
    return rc ? tr_errorf(err, TR_ETOOBIG, "kalshi rest: path longer than %zu", cap) : 0;
}

static int cursor(struct pctx *c, struct tr_rest_result *res)
{
    int i = pj_opt(c, 0, "cursor");
    res->cursor[0] = '\0';
    if (i < 0)
        return 0;
    return pj_str_at(c, i, "cursor", res->cursor, sizeof res->cursor);
}

static int rest_status(struct pctx *c, struct tr_rest_result *res)
{
    int ex, tr, rc;
    if ((rc = pj_bool(c, 0, "exchange_active", &ex)) || (rc = pj_bool(c, 0, "trading_active", &tr)))
        return rc;
    res->status = !ex ? TR_XSTATUS_MAINTENANCE : !tr ? TR_XSTATUS_TRADING_HALTED : TR_XSTATUS_OPEN;
    if (pj_opt(c, 0, "exchange_estimated_resume_time") >= 0)
        return pj_iso(c, 0, "exchange_estimated_resume_time", &res->resume_ns);
    return 0;
}

static int ks_rest_parse(const struct tr_rest_req *req, const char *body, size_t len,
                         struct tr_frame *out, struct tr_rest_result *res, struct tr_error *err)
{
    tr_frame_reset(out);
    struct pctx c = {.text = body, .what = "kalshi rest", .provider = "kalshi", .out = out,
                     .err = err};
    int n = pj_tokenize(out, body, len, "kalshi rest", err);
    if (n < 0)
        return n;
    c.t = out->toks;
    if (c.t[0].type != TR_JSON_OBJECT)
        return pj_fail(&c, NULL, TR_EPARSE, "not an object");
    int rc = 0, a;
    switch (req->kind) {
    case TR_REST_TRADES:
        c.what = "kalshi rest trades";
        if ((rc = pj_req(&c, 0, "trades", &a)))
            break;
        if (c.t[a].type != TR_JSON_ARRAY) {
            rc = pj_fail(&c, "trades", TR_EPARSE, "expected an array");
            break;
        }
        for (uint32_t k = 0; !rc && k < c.t[a].count; k++) {
            int e = tr_json_at(c.t, a, k);
            if ((rc = trade(&c, e, "ticker", "created_time")))
                rc = tr_error_wrap(err, rc, "trade %u", k);
        }
        if (!rc) {
            pj_reverse(out, 0); /* newest first on the wire */
            rc = cursor(&c, res);
            res->more = res->cursor[0] != '\0';
        }
        break;
    case TR_REST_BOOK: {
        c.what = "kalshi rest orderbook";
        int ob = pj_opt(&c, 0, "orderbook_fp");
        if (ob < 0)
            ob = pj_opt(&c, 0, "orderbook");
        if (ob < 0 || c.t[ob].type != TR_JSON_OBJECT) {
            rc = pj_fail(&c, "orderbook_fp", TR_EPARSE, "missing or not an object");
            break;
        }
        rc = snapshot(&c, NULL, ob, "yes_dollars", "no_dollars", req->instrument);
        break;
    }
    case TR_REST_MARKETS:
        c.what = "kalshi rest markets";
        if ((rc = pj_req(&c, 0, "markets", &a)))
            break;
        if (c.t[a].type != TR_JSON_ARRAY) {
            rc = pj_fail(&c, "markets", TR_EPARSE, "expected an array");
            break;
        }
        for (uint32_t k = 0; !rc && k < c.t[a].count; k++) {
            char t[TR_INSTRUMENT_MAX];
            if (!(rc = pj_str(&c, tr_json_at(c.t, a, k), "ticker", t, sizeof t)))
                rc = pj_add_name(res, t, strlen(t));
        }
        if (!rc)
            rc = cursor(&c, res);
        break;
    case TR_REST_STATUS:
        c.what = "kalshi rest exchange status";
        rc = rest_status(&c, res);
        break;
    default: rc = tr_errorf(err, TR_EUNSUPPORTED, "kalshi rest: kind %d", req->kind);
    }
    return pj_done(&c, rc);
}

const struct tr_provider_ops tr_provider_kalshi = {
    .version = TR_PROVIDER_OPS_VERSION,
    .name = "kalshi",
    .dialect = "kalshi",
    .state_size = sizeof(struct kstate),
    .state_init = ks_init,
    .state_close = ks_close,
    .stream = ks_stream,
    .subscribe = ks_subscribe,
    .unsubscribe = ks_unsubscribe,
    .parse = ks_parse,
    .rest_path = ks_rest_path,
    .rest_parse = ks_rest_parse,
};
