/* Coinbase Exchange adapter (public WebSocket feed and REST), following
 * docs.cdp.coinbase.com/exchange (WebSocket channels, Get product trades /
 * book) and the dialect notes in docs/providers.md.
 *
 * Normalisation: match/last_match -> trade with seq = trade_id (contiguous
 * per product, the stream's exchange-wide identity) and side = the TAKER
 * side, i.e. the opposite of the message's maker `side`; snapshot/l2update
 * -> book_snapshot/book_delta without a sequence (level2 has none, so the
 * book's identity is per connection); ticker -> ticker with seq = sequence;
 * heartbeat -> heartbeat marks (sequence, last_trade_id). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const struct tr_stream_desc streams[] = {
    {TR_KIND_TRADE, TR_IDENT_TRADE_ID, TR_GAP_CONTIGUOUS, TR_RESYNC_BACKFILL_ID},
    {TR_KIND_BOOK_DELTA, TR_IDENT_CONNECTION, TR_GAP_NONE, TR_RESYNC_RESUBSCRIBE},
    {TR_KIND_BOOK_SNAPSHOT, TR_IDENT_CONNECTION, TR_GAP_NONE, TR_RESYNC_RESUBSCRIBE},
    {TR_KIND_TICKER, TR_IDENT_EXCHANGE_SEQ, TR_GAP_NONE, TR_RESYNC_NONE},
};

static const struct tr_stream_desc *cb_stream(int kind)
{
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++)
        if (streams[i].kind == kind)
            return &streams[i];
    return NULL;
}

static int side_of(struct pctx *c, int obj, const char *key, int maker, uint8_t *side)
{
    int i, rc = pj_req(c, obj, key, &i);
    if (rc)
        return rc;
    int buy = pj_is(c, i, "buy"), sell = pj_is(c, i, "sell");
    if (!buy && !sell)
        return pj_fail(c, key, TR_EPARSE, "expected \"buy\" or \"sell\"");
    if (maker) /* the maker's side: the taker did the opposite */
        *side = buy ? TR_SIDE_SELL : TR_SIDE_BUY;
    else
        *side = buy ? TR_SIDE_BUY : TR_SIDE_SELL;
    return 0;
}

/* A trade from a WS match or a REST trade object. */
static int trade(struct pctx *c, int obj, const char *product)
{
    struct tr_event *ev = pj_event(c, TR_KIND_TRADE);
    if (!ev)
        return TR_ENOMEM;
    int rc, i;
    if (product)
        rc = tr_event_set_str(ev->instrument, sizeof ev->instrument, product, strlen(product))
                 ? pj_fail(c, "product_id", TR_ETOOBIG, "too long")
                 : 0;
    else
        rc = pj_str(c, obj, "product_id", ev->instrument, sizeof ev->instrument);
    if (rc || (rc = pj_req(c, obj, "trade_id", &i)) ||
        (rc = pj_u64_at(c, i, "trade_id", &ev->seq)) ||
        (rc = pj_dec(c, obj, "price", &ev->price)) || (rc = pj_dec(c, obj, "size", &ev->size)) ||
        (rc = side_of(c, obj, "side", 1, &ev->side)) ||
        (rc = pj_iso(c, obj, "time", &ev->ts_exchange)))
        return rc;
    /* The id text is the digits as sent (a number or a quoted number). */
    if (c->t[i].len >= sizeof ev->id)
        return pj_fail(c, "trade_id", TR_ETOOBIG, "too long");
    memcpy(ev->id, c->text + c->t[i].start, c->t[i].len);
    ev->id[c->t[i].len] = '\0';
    ev->fields |= TR_F_SEQ | TR_F_ID | TR_F_PRICE | TR_F_SIZE | TR_F_TS_EXCHANGE;
    return 0;
}

static int book_snapshot(struct pctx *c, int obj, const char *product)
{
    struct tr_event *ev = pj_event(c, TR_KIND_BOOK_SNAPSHOT);
    if (!ev)
        return TR_ENOMEM;
    int rc, b, a, i;
    if (product) {
        if (tr_event_set_str(ev->instrument, sizeof ev->instrument, product, strlen(product)))
            return pj_fail(c, "product_id", TR_ETOOBIG, "too long");
    } else if ((rc = pj_str(c, obj, "product_id", ev->instrument, sizeof ev->instrument))) {
        return rc;
    }
    if ((rc = pj_req(c, obj, "bids", &b)) || (rc = pj_req(c, obj, "asks", &a)))
        return rc;
    if (c->t[b].type != TR_JSON_ARRAY || c->t[a].type != TR_JSON_ARRAY)
        return pj_fail(c, c->t[b].type != TR_JSON_ARRAY ? "bids" : "asks", TR_EPARSE,
                       "expected an array");
    struct tr_level *l = pj_alloc_levels(c, ev, c->t[b].count, c->t[a].count);
    if (!l)
        return c->err ? c->err->code : TR_ENOMEM;
    if (ev->n_bids + ev->n_asks &&
        ((rc = pj_levels(c, b, "bids", l)) || (rc = pj_levels(c, a, "asks", l + ev->n_bids))))
        return rc;
    if ((i = pj_opt(c, obj, "sequence")) >= 0) {
        if ((rc = pj_u64_at(c, i, "sequence", &ev->seq)))
            return rc;
        ev->fields |= TR_F_SEQ;
    }
    if (pj_opt(c, obj, "time") >= 0) {
        if ((rc = pj_iso(c, obj, "time", &ev->ts_exchange)))
            return rc;
        ev->fields |= TR_F_TS_EXCHANGE;
    }
    return 0;
}

static int l2update(struct pctx *c, int obj)
{
    struct tr_event *ev = pj_event(c, TR_KIND_BOOK_DELTA);
    if (!ev)
        return TR_ENOMEM;
    int rc, ch;
    if ((rc = pj_str(c, obj, "product_id", ev->instrument, sizeof ev->instrument)) ||
        (rc = pj_req(c, obj, "changes", &ch)) || (rc = pj_iso(c, obj, "time", &ev->ts_exchange)))
        return rc;
    ev->fields |= TR_F_TS_EXCHANGE;
    if (c->t[ch].type != TR_JSON_ARRAY)
        return pj_fail(c, "changes", TR_EPARSE, "expected an array");
    /* Two passes: count bids, then fill bids first and asks after. */
    uint32_t n = c->t[ch].count, nb = 0;
    int i = ch + 1;
    for (uint32_t k = 0; k < n; k++) {
        if (c->t[i].type != TR_JSON_ARRAY || c->t[i].count < 3)
            return pj_fail(c, "changes", TR_EPARSE, "change %u: expected [side, price, size]", k);
        if (pj_is(c, i + 1, "buy"))
            nb++;
        else if (!pj_is(c, i + 1, "sell"))
            return pj_fail(c, "changes", TR_EPARSE, "change %u: side is not buy/sell", k);
        i = (int)c->t[i].end;
    }
    struct tr_level *l = pj_alloc_levels(c, ev, nb, n - nb);
    if (!l)
        return c->err ? c->err->code : TR_ENOMEM;
    uint32_t bi = 0, ai = nb;
    i = ch + 1;
    for (uint32_t k = 0; k < n; k++) {
        struct tr_level *dst = pj_is(c, i + 1, "buy") ? &l[bi++] : &l[ai++];
        int p = (int)c->t[i + 1].end;
        if ((rc = pj_dec_at(c, p, "changes", &dst->price)) ||
            (rc = pj_dec_at(c, (int)c->t[p].end, "changes", &dst->size)))
            return tr_error_wrap(c->err, rc, "change %u", k);
        i = (int)c->t[i].end;
    }
    return 0;
}

static int opt_dec(struct pctx *c, int obj, const char *key, struct tr_decimal *v,
                   struct tr_event *ev, uint32_t flag)
{
    if (pj_opt(c, obj, key) < 0)
        return 0;
    int rc = pj_dec(c, obj, key, v);
    if (!rc)
        ev->fields |= flag;
    return rc;
}

static int ticker(struct pctx *c, int obj)
{
    struct tr_event *ev = pj_event(c, TR_KIND_TICKER);
    if (!ev)
        return TR_ENOMEM;
    int rc, i;
    if ((rc = pj_str(c, obj, "product_id", ev->instrument, sizeof ev->instrument)) ||
        (rc = pj_dec(c, obj, "price", &ev->price)))
        return rc;
    ev->fields |= TR_F_PRICE;
    if ((rc = opt_dec(c, obj, "best_bid", &ev->bid, ev, TR_F_BID)) ||
        (rc = opt_dec(c, obj, "best_ask", &ev->ask, ev, TR_F_ASK)) ||
        (rc = opt_dec(c, obj, "last_size", &ev->size, ev, TR_F_SIZE)))
        return rc;
    if ((i = pj_opt(c, obj, "sequence")) >= 0) {
        if ((rc = pj_u64_at(c, i, "sequence", &ev->seq)))
            return rc;
        ev->fields |= TR_F_SEQ;
    }
    if ((i = pj_opt(c, obj, "trade_id")) >= 0) {
        uint64_t id;
        if ((rc = pj_u64_at(c, i, "trade_id", &id)))
            return rc;
        memcpy(ev->id, c->text + c->t[i].start, c->t[i].len < 63 ? c->t[i].len : 63);
        ev->id[c->t[i].len < 63 ? c->t[i].len : 63] = '\0';
        ev->fields |= TR_F_ID;
    }
    if (pj_opt(c, obj, "side") >= 0 && (rc = side_of(c, obj, "side", 0, &ev->side)))
        return rc; /* ticker side is already the taker side */
    if (pj_opt(c, obj, "time") >= 0) {
        if ((rc = pj_iso(c, obj, "time", &ev->ts_exchange)))
            return rc;
        ev->fields |= TR_F_TS_EXCHANGE;
    }
    return 0;
}

static int heartbeat(struct pctx *c, int obj)
{
    c->out->ctl.kind = TR_CTL_HEARTBEAT;
    struct tr_ctl_mark *m = pj_mark(c);
    if (!m)
        return TR_ENOMEM;
    int rc;
    if ((rc = pj_str(c, obj, "product_id", m->instrument, sizeof m->instrument)) ||
        (rc = pj_u64(c, obj, "sequence", &m->last_seq)))
        return rc;
    if (pj_opt(c, obj, "last_trade_id") >= 0)
        rc = pj_u64(c, obj, "last_trade_id", &m->last_trade_id);
    return rc;
}

static int subscriptions(struct pctx *c, int obj)
{
    struct tr_ctl *ctl = &c->out->ctl;
    ctl->kind = TR_CTL_SUBSCRIBED;
    int ch = pj_opt(c, obj, "channels");
    if (ch < 0 || c->t[ch].type != TR_JSON_ARRAY)
        return pj_fail(c, "channels", TR_EPARSE, "missing or not an array");
    for (uint32_t k = 0; k < c->t[ch].count && ctl->n_subs < TR_CTL_SUBS_MAX; k++) {
        int e = tr_json_at(c->t, ch, k);
        struct tr_ctl_sub *s = &ctl->subs[ctl->n_subs];
        int rc;
        if (c->t[e].type == TR_JSON_STRING)
            rc = pj_str_at(c, e, "channels", s->channel, sizeof s->channel);
        else
            rc = pj_str(c, e, "name", s->channel, sizeof s->channel);
        if (rc)
            return rc;
        ctl->n_subs++;
    }
    return 0;
}

static int error_msg(struct pctx *c, int obj)
{
    struct tr_ctl *ctl = &c->out->ctl;
    char message[TR_TEXT_MAX] = "", reason[TR_TEXT_MAX] = "";
    int i;
    if ((i = pj_opt(c, obj, "message")) >= 0 && c->t[i].type == TR_JSON_STRING)
        tr_json_str(c->text, c->t, i, message, sizeof message);
    if ((i = pj_opt(c, obj, "reason")) >= 0 && c->t[i].type == TR_JSON_STRING)
        tr_json_str(c->text, c->t, i, reason, sizeof reason);
    /* "message: reason", cut at the field's size (a long reason is still
     * searched below in full). */
    size_t n_msg = strnlen(message, sizeof ctl->text - 1);
    memcpy(ctl->text, message, n_msg);
    size_t at = n_msg;
    if (reason[0]) {
        const char *parts[2] = {": ", reason};
        for (int k = 0; k < 2; k++) {
            size_t room = sizeof ctl->text - 1 - at, len = strlen(parts[k]);
            if (len > room) len = room;
            memcpy(ctl->text + at, parts[k], len);
            at += len;
        }
    }
    ctl->text[at] = '\0';
    const char *p;
    if ((p = strstr(reason, " is not a valid product"))) {
        ctl->kind = TR_CTL_SUB_ERROR;
        ctl->sub_error = TR_SUBERR_UNKNOWN_MARKET;
        size_t n = (size_t)(p - reason);
        if (n < sizeof ctl->instrument) {
            memcpy(ctl->instrument, reason, n);
            ctl->instrument[n] = '\0';
        }
    } else if (strstr(reason, "is not a valid channel")) {
        ctl->kind = TR_CTL_SUB_ERROR;
        ctl->sub_error = TR_SUBERR_UNKNOWN_CHANNEL;
    } else if (strstr(reason, "limit")) {
        ctl->kind = TR_CTL_SUB_ERROR;
        ctl->sub_error = TR_SUBERR_LIMIT;
    } else if (strstr(message, "ubscribe")) {
        ctl->kind = TR_CTL_SUB_ERROR;
        ctl->sub_error = TR_SUBERR_OTHER;
    } else {
        ctl->kind = TR_CTL_SERVER_ERROR;
    }
    return 0;
}

static int cb_parse(void *state, const char *text, size_t len, int64_t recv_ns,
                    struct tr_frame *out, struct tr_error *err)
{
    (void)state;
    tr_frame_reset(out);
    struct pctx c = {.text = text, .what = "coinbase", .provider = "coinbase", .out = out,
                     .err = err, .recv_ns = recv_ns};
    int n = pj_tokenize(out, text, len, "coinbase", err);
    if (n < 0)
        return n;
    c.t = out->toks;
    if (c.t[0].type != TR_JSON_OBJECT)
        return pj_fail(&c, NULL, TR_EPARSE, "frame is not an object");
    int ty = pj_opt(&c, 0, "type");
    if (ty < 0 || c.t[ty].type != TR_JSON_STRING)
        return pj_fail(&c, "type", TR_EPARSE, "missing");
    int rc;
    if (pj_is(&c, ty, "match") || pj_is(&c, ty, "last_match")) {
        c.what = "coinbase match";
        rc = trade(&c, 0, NULL);
    } else if (pj_is(&c, ty, "l2update")) {
        c.what = "coinbase l2update";
        rc = l2update(&c, 0);
    } else if (pj_is(&c, ty, "ticker")) {
        c.what = "coinbase ticker";
        rc = ticker(&c, 0);
    } else if (pj_is(&c, ty, "snapshot")) {
        c.what = "coinbase snapshot";
        rc = book_snapshot(&c, 0, NULL);
    } else if (pj_is(&c, ty, "heartbeat")) {
        c.what = "coinbase heartbeat";
        rc = heartbeat(&c, 0);
    } else if (pj_is(&c, ty, "subscriptions")) {
        c.what = "coinbase subscriptions";
        rc = subscriptions(&c, 0);
    } else if (pj_is(&c, ty, "error")) {
        c.what = "coinbase error";
        rc = error_msg(&c, 0);
    } else {
        out->ctl.kind = TR_CTL_IGNORED; /* full channel, status, ... */
        rc = 0;
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

static int sub_msg(const char *type, const struct tr_sub_req *req, struct tr_buf *out,
                   struct tr_error *err)
{
    const char *ch[4];
    size_t n = 0;
    if (req->channels & TR_CH_TRADES) {
        ch[n++] = "matches";
        ch[n++] = "heartbeat"; /* last_trade_id reveals trailing gaps */
    }
    if (req->channels & TR_CH_BOOK)
        ch[n++] = "level2";
    if (req->channels & TR_CH_TICKER)
        ch[n++] = "ticker";
    if (!n || !req->n_instruments)
        return tr_errorf(err, TR_EINVAL, "coinbase %s: no channel or product", type);
    int rc = pj_bprintf(out, "{\"type\":\"%s\",\"product_ids\":", type);
    if (!rc)
        rc = put_list(out, req->instruments, req->n_instruments);
    if (!rc)
        rc = tr_buf_append(out, ",\"channels\":", 12);
    if (!rc)
        rc = put_list(out, ch, n);
    if (!rc)
        rc = tr_buf_append(out, "}", 1);
    return rc ? tr_errorf(err, rc, "coinbase %s: out of memory", type) : 0;
}

static int cb_subscribe(const struct tr_sub_req *req, struct tr_buf *out, struct tr_error *err)
{
    return sub_msg("subscribe", req, out, err);
}

static int cb_unsubscribe(const struct tr_sub_req *req, struct tr_buf *out, struct tr_error *err)
{
    return sub_msg("unsubscribe", req, out, err);
}

static int cb_rest_path(const struct tr_rest_req *req, char *buf, size_t cap,
                        struct tr_error *err)
{
    size_t pos = 0;
    const char *pre = req->prefix ? req->prefix : "";
    int rc = pj_sprintf(buf, cap, &pos, "%s", pre);
    if (!rc && (req->kind == TR_REST_TRADES || req->kind == TR_REST_BOOK)) {
        if (!req->instrument)
            return tr_errorf(err, TR_EINVAL, "coinbase rest: no product");
        rc = pj_sprintf(buf, cap, &pos, "/products/");
        if (!rc)
            rc = pj_urlenc(buf, cap, &pos, req->instrument);
    }
    if (rc)
        goto toobig;
    switch (req->kind) {
    case TR_REST_TRADES:
        rc = pj_sprintf(buf, cap, &pos, "/trades?limit=%u", req->limit ? req->limit : 1000);
        if (!rc && req->has_after_id) /* Coinbase: before=X gives ids > X */
            rc = pj_sprintf(buf, cap, &pos, "&before=%llu", (unsigned long long)req->after_id);
        else if (!rc && req->cursor) /* after=C pages older */
            rc = pj_sprintf(buf, cap, &pos, "&after=%s", req->cursor);
        break;
    case TR_REST_BOOK: rc = pj_sprintf(buf, cap, &pos, "/book?level=2"); break;
    case TR_REST_MARKETS: rc = pj_sprintf(buf, cap, &pos, "/products"); break;
    case TR_REST_STATUS: rc = pj_sprintf(buf, cap, &pos, "/status"); break;
    default: return tr_errorf(err, TR_EUNSUPPORTED, "coinbase rest: request kind %d", req->kind);
    }
    if (!rc)
        return 0;
toobig:
    return tr_errorf(err, TR_ETOOBIG, "coinbase rest: path longer than %zu", cap);
}

static int rest_trades(struct pctx *c, const struct tr_rest_req *req, struct tr_rest_result *res)
{
    if (c->t[0].type != TR_JSON_ARRAY)
        return pj_fail(c, NULL, TR_EPARSE, "expected an array of trades");
    uint32_t n = c->t[0].count;
    int i = 1, rc;
    for (uint32_t k = 0; k < n; k++) {
        if (c->t[i].type != TR_JSON_OBJECT)
            return pj_fail(c, NULL, TR_EPARSE, "trade %u is not an object", k);
        if ((rc = trade(c, i, req->instrument)))
            return tr_error_wrap(c->err, rc, "trade %u", k);
        struct tr_event *ev = &c->out->events[c->out->n_events - 1];
        if (ev->seq > res->next_after_id)
            res->next_after_id = ev->seq;
        i = (int)c->t[i].end;
    }
    pj_reverse(c->out, 0); /* newest first on the wire */
    res->more = n > 0 && (!req->limit || n >= req->limit);
    if (!res->next_after_id && req->has_after_id)
        res->next_after_id = req->after_id;
    return 0;
}

static int rest_status(struct pctx *c, struct tr_rest_result *res)
{
    int i = pj_opt(c, 0, "status");
    if (i < 0)
        return pj_fail(c, "status", TR_EPARSE, "missing");
    if (pj_is(c, i, "online") || pj_is(c, i, "open"))
        res->status = TR_XSTATUS_OPEN;
    else if (pj_is(c, i, "maintenance"))
        res->status = TR_XSTATUS_MAINTENANCE;
    else
        res->status = TR_XSTATUS_UNKNOWN;
    if (pj_opt(c, 0, "resume_time") >= 0)
        return pj_iso(c, 0, "resume_time", &res->resume_ns);
    return 0;
}

static int cb_rest_parse(const struct tr_rest_req *req, const char *body, size_t len,
                         struct tr_frame *out, struct tr_rest_result *res, struct tr_error *err)
{
    tr_frame_reset(out);
    struct pctx c = {.text = body, .what = "coinbase rest", .provider = "coinbase", .out = out,
                     .err = err};
    int n = pj_tokenize(out, body, len, "coinbase rest", err);
    if (n < 0)
        return n;
    c.t = out->toks;
    int rc = 0;
    switch (req->kind) {
    case TR_REST_TRADES:
        c.what = "coinbase rest trades";
        rc = rest_trades(&c, req, res);
        break;
    case TR_REST_BOOK:
        c.what = "coinbase rest book";
        rc = c.t[0].type == TR_JSON_OBJECT ? book_snapshot(&c, 0, req->instrument)
                                           : pj_fail(&c, NULL, TR_EPARSE, "not an object");
        if (!rc && !(out->events[0].fields & TR_F_SEQ))
            rc = pj_fail(&c, "sequence", TR_EPARSE, "missing");
        break;
    case TR_REST_MARKETS:
        c.what = "coinbase rest products";
        if (c.t[0].type != TR_JSON_ARRAY)
            return pj_fail(&c, NULL, TR_EPARSE, "expected an array of products");
        for (uint32_t k = 0; !rc && k < c.t[0].count; k++) {
            char id[TR_INSTRUMENT_MAX];
            int e = tr_json_at(c.t, 0, k);
            if (!(rc = pj_str(&c, e, "id", id, sizeof id)))
                rc = pj_add_name(res, id, strlen(id));
        }
        break;
    case TR_REST_STATUS:
        c.what = "coinbase rest status";
        rc = c.t[0].type == TR_JSON_OBJECT ? rest_status(&c, res)
                                           : pj_fail(&c, NULL, TR_EPARSE, "not an object");
        break;
    default: rc = tr_errorf(err, TR_EUNSUPPORTED, "coinbase rest: kind %d", req->kind);
    }
    return pj_done(&c, rc);
}

const struct tr_provider_ops tr_provider_coinbase = {
    .version = TR_PROVIDER_OPS_VERSION,
    .name = "coinbase",
    .dialect = "coinbase",
    .stream = cb_stream,
    .subscribe = cb_subscribe,
    .unsubscribe = cb_unsubscribe,
    .parse = cb_parse,
    .rest_path = cb_rest_path,
    .rest_parse = cb_rest_parse,
};
