/* Fault injection: the /control/<fault> endpoint and the fault state's
 * effects on REST answers and on the passage of time. Every applied fault
 * writes a marker line to the truth file so a checker can relate effects to
 * causes. The exact semantics of each fault are in docs/simulator.md. */
#include "sim.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "tickraft/json.h"

static long arg_long(const struct sim_req *rq, const char *key, long def)
{
    const char *v = sim_req_arg(rq, key);
    if (!v || !*v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    return *end ? def : n;
}

static double arg_secs(const struct sim_req *rq, double def)
{
    const char *v = sim_req_arg(rq, "secs");
    if (!v || !*v)
        return def;
    char *end;
    double d = strtod(v, &end);
    return *end || d < 0 ? def : d;
}

static uint8_t arg_endpoint(const struct sim_req *rq)
{
    const char *v = sim_req_arg(rq, "endpoint");
    if (!v)
        return SIM_EP_ANY;
    return !strcmp(v, "status") ? SIM_EP_STATUS : !strcmp(v, "book") ? SIM_EP_BOOK
           : !strcmp(v, "trades") ? SIM_EP_TRADES : !strcmp(v, "markets") ? SIM_EP_MARKETS
                                                                          : SIM_EP_ANY;
}

int sim_rest_endpoint(const char *path, int is_status)
{
    if (is_status)
        return SIM_EP_STATUS;
    if (strstr(path, "book") || strstr(path, "/depth"))
        return SIM_EP_BOOK; /* native/coinbase book, kalshi orderbook, binance depth */
    if (strstr(path, "rades"))
        return SIM_EP_TRADES; /* trades, aggTrades, historicalTrades */
    return SIM_EP_MARKETS;
}

static void set_stall(struct sim_server *s, int d, int on)
{
    for (struct sim_conn *c = s->conns; c; c = c->next)
        if (c->dialect == d) {
            lws_rx_flow_control(c->wsi, on ? 0 : 1);
            if (!on && (c->qhead || c->pend))
                lws_callback_on_writable(c->wsi);
        }
}

static void args_json(const struct sim_req *rq, struct tr_buf *b)
{
    sim_put(b, "{");
    for (int i = 0; i < rq->nargs; i++) {
        if (i)
            sim_put(b, ",");
        tr_json_put_str(b, rq->key[i], strlen(rq->key[i]));
        sim_put(b, ":");
        tr_json_put_str(b, rq->val[i], strlen(rq->val[i]));
    }
    sim_put(b, "}");
    sim_putn(b, "", 1); /* NUL for use as a C string */
}

/* Applies one fault to one exchange. Returns 0 or -1 for an unknown fault. */
static int apply_one(struct sim_server *s, int d, const char *name, const struct sim_req *rq,
                     int64_t now)
{
    struct sim_exch *x = &s->x[d];
    struct sim_faults *f = &x->f;
    int64_t until = now + (int64_t)(arg_secs(rq, 5) * 1e9);
    if (strcmp(name, "close") == 0) {
        sim_server_close_conns(s, d, (int)arg_long(rq, "code", 1000));
    } else if (strcmp(name, "stall") == 0) {
        f->stall_until = until;
        set_stall(s, d, 1);
    } else if (strcmp(name, "refuse") == 0) {
        f->refuse_until = until;
    } else if (strcmp(name, "http429") == 0) {
        f->r429_until = until;
        f->retry_after = (int)arg_long(rq, "retry_after", 1);
        f->ep429 = arg_endpoint(rq);
    } else if (strcmp(name, "http5xx") == 0) {
        f->r5xx_until = until;
        f->r5xx_code = (int)arg_long(rq, "code", 500);
        if (f->r5xx_code < 500 || f->r5xx_code > 599)
            f->r5xx_code = 500;
        f->ep5xx = arg_endpoint(rq);
    } else if (strcmp(name, "http4xx") == 0) {
        f->r4xx_until = until;
        f->r4xx_code = (int)arg_long(rq, "code", 404);
        if (f->r4xx_code < 400 || f->r4xx_code > 499)
            f->r4xx_code = 404;
        f->ep4xx = arg_endpoint(rq);
    } else if (strcmp(name, "auth") == 0) {
        f->auth_until = until;
        f->auth_code = arg_long(rq, "code", 401) == 403 ? 403 : 401;
        f->epauth = arg_endpoint(rq);
    } else if (strcmp(name, "maintenance") == 0) {
        if (!f->maint_until)
            sim_server_status_event(s, d, "maintenance");
        f->maint_until = until;
        f->maint_silent = arg_long(rq, "announce", 1) == 0;
        sim_server_close_conns(s, d, 1001);
    } else if (strcmp(name, "gap") == 0) {
        f->gap_left = (uint32_t)arg_long(rq, "count", 10);
        f->gap_lost = arg_long(rq, "lost", 0) != 0;
        const char *in = sim_req_arg(rq, "instrument");
        f->gap_inst = in ? sim_exch_find(x, in, strlen(in)) : -1;
        if (in && f->gap_inst < 0)
            f->gap_left = 0;
        const char *k = sim_req_arg(rq, "kind"); /* trade, book or ticker */
        f->gap_kind = !k ? 0 : !strcmp(k, "trade") ? TR_KIND_TRADE
                    : !strcmp(k, "book") ? TR_KIND_BOOK_DELTA : !strcmp(k, "ticker") ? TR_KIND_TICKER : -1;
        if (f->gap_kind < 0)
            f->gap_left = 0;
    } else if (strcmp(name, "duplicate") == 0) {
        f->dup_left = (uint32_t)arg_long(rq, "count", 1);
    } else if (strcmp(name, "malformed") == 0) {
        f->bad_left = (uint32_t)arg_long(rq, "count", 1);
        const char *m = sim_req_arg(rq, "mode");
        f->bad_truncate = !(m && strcmp(m, "garbage") == 0);
    } else if (strcmp(name, "badframe") == 0) {
        const char *k = sim_req_arg(rq, "kind");
        int kind = sim_badframe_kind(k ? k : "masked");
        if (kind < 0)
            return -1;
        f->badframe_kind = kind;
        f->badframe_left = (uint32_t)arg_long(rq, "count", 1);
    } else if (strcmp(name, "tls_rekey") == 0) {
        return sim_tls_rekey(s) ? -1 : 0;
    } else if (strcmp(name, "close_notify") == 0) {
        for (struct sim_conn *c = s->conns; c; c = c->next)
            if (c->dialect == d)
                sim_tls_close_notify(c);
    } else if (strcmp(name, "unknown_market") == 0) {
        f->unknown_left = (uint32_t)arg_long(rq, "count", 1);
    } else if (strcmp(name, "sub_limit") == 0) {
        f->sub_limit = (uint32_t)arg_long(rq, "max", 0);
    } else if (strcmp(name, "clear") == 0) {
        if (f->stall_until)
            set_stall(s, d, 0);
        if (f->maint_until) {
            sim_server_status_event(s, d, "open");
            sim_exch_rebase(x, now);
        }
        memset(f, 0, sizeof *f);
        f->gap_inst = -1;
    } else {
        return -1;
    }
    return 0;
}

int sim_fault_apply(struct sim_server *s, const char *name, const struct sim_req *rq,
                    struct sim_resp *rs)
{
    int64_t now = sim_now_ns();
    const char *dn = sim_req_arg(rq, "dialect");
    int only = -1;
    if (dn) {
        only = sim_dialect_by_name(dn, strlen(dn));
        if (only < 0 || !s->active[only])
            return sim_resp_json(rs, 400, "{\"ok\":false,\"error\":\"unknown or inactive dialect\"}"),
                   400;
    }
    if (strcmp(name, "refuse") == 0 && only < 0) {
        s->refuse_until = now + (int64_t)(arg_secs(rq, 5) * 1e9);
    } else {
        int applied = 0;
        for (int d = 0; d < SIM_D_COUNT; d++) {
            if (!s->active[d] || (only >= 0 && d != only))
                continue;
            if (apply_one(s, d, name, rq, now) != 0)
                return sim_resp_json(rs, 404, "{\"ok\":false,\"error\":\"unknown fault\"}"), 404;
            applied++;
        }
        if (strcmp(name, "clear") == 0)
            s->refuse_until = 0;
        (void)applied;
    }
    struct tr_buf a;
    tr_buf_init(&a);
    args_json(rq, &a);
    sim_truth_marker(&s->truth, name, (const char *)a.data, now);
    rs->body.len = 0;
    sim_put(&rs->body, "{\"ok\":true,\"fault\":");
    tr_json_put_str(&rs->body, name, strlen(name));
    sim_putf(&rs->body, ",\"args\":%s,\"ts\":%lld}", (const char *)a.data, (long long)now);
    tr_buf_free(&a);
    return 200;
}

void sim_fault_tick(struct sim_server *s, int64_t now)
{
    for (int d = 0; d < SIM_D_COUNT; d++) {
        if (!s->active[d])
            continue;
        struct sim_faults *f = &s->x[d].f;
        if (f->stall_until && now >= f->stall_until) {
            f->stall_until = 0;
            set_stall(s, d, 0);
        }
        if (f->maint_until && now >= f->maint_until) {
            f->maint_until = 0;
            sim_server_status_event(s, d, "open");
            sim_exch_rebase(&s->x[d], now);
        }
    }
}

/* 1 when a fault limited to endpoint `want` (0: any) applies to `ep`. */
static int ep_match(uint8_t want, int ep)
{
    return want == SIM_EP_ANY || want == ep;
}

int sim_fault_rest(struct sim_server *s, struct sim_exch *x, int ep, struct sim_resp *rs)
{
    int64_t now = sim_now_ns();
    struct sim_faults *f = &x->f;
    int is_status = ep == SIM_EP_STATUS;
    if (f->auth_until > now && ep_match(f->epauth, ep)) {
        sim_resp_json(rs, f->auth_code,
                      f->auth_code == 403 ? "{\"message\":\"Forbidden\"}"
                                          : "{\"message\":\"Unauthorized\"}");
        return 1;
    }
    if (f->r4xx_until > now && ep_match(f->ep4xx, ep)) {
        sim_resp_json(rs, f->r4xx_code,
                      f->r4xx_code == 404 ? "{\"message\":\"Not Found\"}"
                                          : "{\"message\":\"Bad Request\"}");
        return 1;
    }
    if (f->r429_until > now && ep_match(f->ep429, ep)) {
        sim_resp_json(rs, 429, "{\"message\":\"Too Many Requests\"}");
        snprintf(rs->hname, sizeof rs->hname, "retry-after:");
        snprintf(rs->hval, sizeof rs->hval, "%d", f->retry_after);
        return 1;
    }
    if (f->r5xx_until > now && ep_match(f->ep5xx, ep)) {
        sim_resp_json(rs, f->r5xx_code, "{\"message\":\"Internal Server Error\"}");
        return 1;
    }
    if (f->maint_until > now && !is_status) {
        sim_resp_json(rs, 503, "{\"message\":\"Service Unavailable: maintenance\"}");
        snprintf(rs->hname, sizeof rs->hname, "retry-after:");
        snprintf(rs->hval, sizeof rs->hval, "%lld",
                 (long long)((f->maint_until - now) / 1000000000 + 1));
        return 1;
    }
    return 0;
}
