/* The simulator's native dialect (provider "sim"): frames carry events in the
 * project's own JSON-lines form (tr_event_from_json), batched
 * {"type":"batch","sent_ns":NS,"events":[...]} (sent_ns optional: the
 * simulator's clock at the send, kept in tr_frame.sent_ns), so
 * normalisation is decoding. Trades and
 * book deltas have a contiguous seq per instrument; the book snapshot's seq
 * is the last delta it includes (the same rule as Binance with U = u). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const struct tr_stream_desc streams[] = {
    {TR_KIND_TRADE, TR_IDENT_TRADE_ID, TR_GAP_CONTIGUOUS, TR_RESYNC_BACKFILL_ID},
    {TR_KIND_BOOK_DELTA, TR_IDENT_EXCHANGE_SEQ, TR_GAP_CHAIN, TR_RESYNC_SNAPSHOT},
    {TR_KIND_BOOK_SNAPSHOT, TR_IDENT_EXCHANGE_SEQ, TR_GAP_CHAIN, TR_RESYNC_SNAPSHOT},
    {TR_KIND_TICKER, TR_IDENT_NONE, TR_GAP_NONE, TR_RESYNC_NONE},
};

static const struct tr_stream_desc *nv_stream(int kind)
{
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++)
        if (streams[i].kind == kind)
            return &streams[i];
    return NULL;
}

/* Decodes event object token i into a new frame event. */
static int event_at(struct pctx *c, int i, uint32_t k)
{
    if (c->t[i].type != TR_JSON_OBJECT)
        return pj_fail(c, "events", TR_EPARSE, "event %u is not an object", k);
    struct tr_event *ev = pj_event_slot(c);
    if (!ev)
        return TR_ENOMEM;
    /* Decoded from the batch's own tokens: the frame is tokenized once;
     * the decoder initialises the whole event. */
    int rc = tr_event_from_json_tok(c->text, c->t, i, ev, &c->out->levels, c->err);
    if (rc)
        return tr_error_wrap(c->err, rc, "%s: event %u", c->what, k);
    if (c->recv_ns) {
        ev->ts_receive = c->recv_ns;
        ev->fields |= TR_F_TS_RECEIVE;
    }
    if (!ev->provider[0])
        snprintf(ev->provider, sizeof ev->provider, "sim");
    return 0;
}

static int events(struct pctx *c, int arr)
{
    if (c->t[arr].type != TR_JSON_ARRAY)
        return pj_fail(c, "events", TR_EPARSE, "expected an array");
    int i = arr + 1, rc;
    for (uint32_t k = 0; k < c->t[arr].count; k++) {
        if ((rc = event_at(c, i, k)))
            return rc;
        i = (int)c->t[i].end;
    }
    return 0;
}

/* Optional "sent_ns": the simulator's clock when it handed the frame to
 * the socket (docs/simulator.md). Absent in older frames; a present but
 * malformed one rejects the frame like any other field. */
static int sent_stamp(struct pctx *c)
{
    int i = pj_opt(c, 0, "sent_ns");
    if (i < 0)
        return 0;
    if (c->t[i].type != TR_JSON_NUMBER)
        return pj_fail(c, "sent_ns", TR_EPARSE, "expected an integer");
    int64_t v;
    int rc = pj_i64(c, 0, "sent_ns", &v);
    if (rc)
        return rc;
    if (v <= 0)
        return pj_fail(c, "sent_ns", TR_EPARSE, "must be positive");
    c->out->has_sent = 1;
    c->out->sent_ns = v;
    return 0;
}

static int heartbeat(struct pctx *c)
{
    c->out->ctl.kind = TR_CTL_HEARTBEAT;
    int ls = pj_opt(c, 0, "last_seq");
    if (ls < 0)
        return 0;
    if (c->t[ls].type != TR_JSON_OBJECT)
        return pj_fail(c, "last_seq", TR_EPARSE, "expected an object");
    int i = ls + 1, rc;
    for (uint32_t k = 0; k < c->t[ls].count; k++) {
        struct tr_ctl_mark *m = pj_mark(c);
        if (!m)
            return TR_ENOMEM;
        if ((rc = pj_str_at(c, i, "last_seq", m->instrument, sizeof m->instrument)) ||
            (rc = pj_u64_at(c, i + 1, "last_seq", &m->last_seq)))
            return rc;
        i = (int)c->t[i + 1].end;
    }
    return 0;
}

static int error_msg(struct pctx *c)
{
    struct tr_ctl *ctl = &c->out->ctl;
    int code = pj_opt(c, 0, "code"), msg = pj_opt(c, 0, "message");
    if (msg >= 0 && c->t[msg].type == TR_JSON_STRING)
        tr_json_str(c->text, c->t, msg, ctl->text, sizeof ctl->text);
    ctl->kind = TR_CTL_SUB_ERROR;
    if (pj_is(c, code, "unknown_market"))
        ctl->sub_error = TR_SUBERR_UNKNOWN_MARKET;
    else if (pj_is(c, code, "unknown_channel"))
        ctl->sub_error = TR_SUBERR_UNKNOWN_CHANNEL;
    else if (pj_is(c, code, "subscription_limit"))
        ctl->sub_error = TR_SUBERR_LIMIT;
    else
        ctl->kind = TR_CTL_SERVER_ERROR;
    int in = pj_opt(c, 0, "instrument");
    if (in >= 0 && c->t[in].type == TR_JSON_STRING)
        tr_json_str(c->text, c->t, in, ctl->instrument, sizeof ctl->instrument);
    return 0;
}

static int nv_parse(void *state, const char *text, size_t len, int64_t recv_ns,
                    struct tr_frame *out, struct tr_error *err)
{
    (void)state;
    tr_frame_reset(out);
    struct pctx c = {.text = text, .what = "sim", .provider = "sim", .out = out, .err = err,
                     .recv_ns = recv_ns};
    int n = pj_tokenize(out, text, len, "sim", err);
    if (n < 0)
        return n;
    c.t = out->toks;
    if (c.t[0].type != TR_JSON_OBJECT)
        return pj_fail(&c, NULL, TR_EPARSE, "frame is not an object");
    int ty = pj_opt(&c, 0, "type"), rc = 0;
    if (ty < 0 || c.t[ty].type != TR_JSON_STRING)
        return pj_fail(&c, "type", TR_EPARSE, "missing");
    if (pj_is(&c, ty, "batch")) {
        c.what = "sim batch";
        int e;
        rc = sent_stamp(&c);
        if (!rc)
            rc = pj_req(&c, 0, "events", &e);
        if (!rc)
            rc = events(&c, e);
    } else if (pj_is(&c, ty, "heartbeat")) {
        c.what = "sim heartbeat";
        rc = heartbeat(&c);
    } else if (pj_is(&c, ty, "subscribed")) {
        out->ctl.kind = TR_CTL_SUBSCRIBED;
    } else if (pj_is(&c, ty, "unsubscribed")) {
        out->ctl.kind = TR_CTL_UNSUBSCRIBED;
    } else if (pj_is(&c, ty, "error")) {
        c.what = "sim error";
        rc = error_msg(&c);
    } else {
        out->ctl.kind = TR_CTL_IGNORED;
    }
    return pj_done(&c, rc);
}

static int sub_msg(const char *type, const struct tr_sub_req *req, struct tr_buf *out,
                   struct tr_error *err)
{
    if (!req->channels || !req->n_instruments)
        return tr_errorf(err, TR_EINVAL, "sim %s: no channel or instrument", type);
    int rc = pj_bprintf(out, "{\"type\":\"%s\",\"channels\":[", type);
    const char *sep = "";
    if (!rc && (req->channels & TR_CH_TRADES)) {
        rc = pj_bprintf(out, "\"trade\"");
        sep = ",";
    }
    if (!rc && (req->channels & TR_CH_BOOK)) {
        rc = pj_bprintf(out, "%s\"book\"", sep);
        sep = ",";
    }
    if (!rc && (req->channels & TR_CH_TICKER))
        rc = pj_bprintf(out, "%s\"ticker\"", sep);
    if (!rc)
        rc = pj_bprintf(out, "],\"instruments\":[");
    for (size_t i = 0; !rc && i < req->n_instruments; i++) {
        if (i)
            rc = tr_buf_append(out, ",", 1);
        if (!rc)
            rc = pj_bstr(out, req->instruments[i]);
    }
    if (!rc)
        rc = tr_buf_append(out, "]}", 2);
    return rc ? tr_errorf(err, rc, "sim %s: out of memory", type) : 0;
}

static int nv_subscribe(const struct tr_sub_req *req, struct tr_buf *out, struct tr_error *err)
{
    return sub_msg("subscribe", req, out, err);
}

static int nv_unsubscribe(const struct tr_sub_req *req, struct tr_buf *out, struct tr_error *err)
{
    return sub_msg("unsubscribe", req, out, err);
}

static int nv_rest_path(const struct tr_rest_req *req, char *buf, size_t cap,
                        struct tr_error *err)
{
    size_t pos = 0;
    int rc = pj_sprintf(buf, cap, &pos, "%s", req->prefix ? req->prefix : "/native");
    if ((req->kind == TR_REST_TRADES || req->kind == TR_REST_BOOK) && !req->instrument)
        return tr_errorf(err, TR_EINVAL, "sim rest: no instrument");
    switch (req->kind) {
    case TR_REST_TRADES:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/trades?instrument=");
        if (!rc)
            rc = pj_urlenc(buf, cap, &pos, req->instrument);
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "&from_seq=%llu&limit=%u",
                            (unsigned long long)(req->has_after_id ? req->after_id + 1 : 0),
                            req->limit ? req->limit : 1000);
        break;
    case TR_REST_BOOK:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/book?instrument=");
        if (!rc)
            rc = pj_urlenc(buf, cap, &pos, req->instrument);
        break;
    case TR_REST_MARKETS:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/markets");
        break;
    case TR_REST_STATUS:
        if (!rc)
            rc = pj_sprintf(buf, cap, &pos, "/status");
        break;
    default: return tr_errorf(err, TR_EUNSUPPORTED, "sim rest: request kind %d", req->kind);
    }
    return rc ? tr_errorf(err, TR_ETOOBIG, "sim rest: path longer than %zu", cap) : 0;
}

static int nv_rest_parse(const struct tr_rest_req *req, const char *body, size_t len,
                         struct tr_frame *out, struct tr_rest_result *res, struct tr_error *err)
{
    tr_frame_reset(out);
    struct pctx c = {.text = body, .what = "sim rest", .provider = "sim", .out = out, .err = err};
    int n = pj_tokenize(out, body, len, "sim rest", err);
    if (n < 0)
        return n;
    c.t = out->toks;
    if (c.t[0].type != TR_JSON_OBJECT)
        return pj_fail(&c, NULL, TR_EPARSE, "not an object");
    int rc = 0, a;
    switch (req->kind) {
    case TR_REST_TRADES: {
        c.what = "sim rest trades";
        uint64_t next;
        if ((rc = pj_req(&c, 0, "events", &a)) || (rc = events(&c, a)) ||
            (rc = pj_u64(&c, 0, "next_seq", &next)))
            break;
        res->next_after_id = next ? next - 1 : 0;
        res->more = out->n_events > 0 && out->n_events >= (req->limit ? req->limit : 1000);
        break;
    }
    case TR_REST_BOOK:
        c.what = "sim rest book";
        rc = event_at(&c, 0, 0);
        if (!rc && out->events[0].kind != TR_KIND_BOOK_SNAPSHOT)
            rc = pj_fail(&c, "kind", TR_EPARSE, "expected a book_snapshot");
        break;
    case TR_REST_MARKETS:
        c.what = "sim rest markets";
        if ((rc = pj_req(&c, 0, "instruments", &a)))
            break;
        if (c.t[a].type != TR_JSON_ARRAY) {
            rc = pj_fail(&c, "instruments", TR_EPARSE, "expected an array");
            break;
        }
        for (uint32_t k = 0; !rc && k < c.t[a].count; k++) {
            char t[TR_INSTRUMENT_MAX];
            if (!(rc = pj_str_at(&c, tr_json_at(c.t, a, k), "instruments", t, sizeof t)))
                rc = pj_add_name(res, t, strlen(t));
        }
        break;
    case TR_REST_STATUS: {
        c.what = "sim rest status";
        int s = pj_opt(&c, 0, "status");
        if (s < 0) {
            rc = pj_fail(&c, "status", TR_EPARSE, "missing");
            break;
        }
        res->status = pj_is(&c, s, "open")          ? TR_XSTATUS_OPEN
                      : pj_is(&c, s, "maintenance") ? TR_XSTATUS_MAINTENANCE
                                                    : TR_XSTATUS_UNKNOWN;
        if (pj_opt(&c, 0, "resume_ns") >= 0)
            rc = pj_i64(&c, 0, "resume_ns", &res->resume_ns);
        break;
    }
    default: rc = tr_errorf(err, TR_EUNSUPPORTED, "sim rest: kind %d", req->kind);
    }
    return pj_done(&c, rc);
}

const struct tr_provider_ops tr_provider_native = {
    .version = TR_PROVIDER_OPS_VERSION,
    .name = "sim",
    .dialect = "native",
    .stream = nv_stream,
    .subscribe = nv_subscribe,
    .unsubscribe = nv_unsubscribe,
    .parse = nv_parse,
    .rest_path = nv_rest_path,
    .rest_parse = nv_rest_parse,
};
