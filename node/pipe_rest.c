/* A feed's REST poller: trade backfills and book snapshots the
 * deduplicator asks for, one request at a time per feed (providers rate
 * limit per client), over the lws HTTP client on the node's loop.
 *
 * HTTP statuses follow the reference policies (tr_policy_for_http):
 *   200        parse and hand to the deduplicator
 *   400        no retry: the repair fails (an explicit gap for trades)
 *   401/403    halt this feed's REST and alert; pending repairs fail
 *   404        skip the resource (the repair fails)
 *   429, 5xx   retry with backoff (Retry-After honoured when longer); a
 *              book snapshot that failed snapshot_attempts times is
 *              skipped (an explicit gap in its book) and asked again
 *              snapshot_backoff_max later, at the back of the queue, so
 *              trade backfills behind it are not starved
 *   503        also ask the exchange status at once: in maintenance the
 *              queue (and the feed's WebSocket reconnects, pipe_maint.c)
 *              wait for its end
 * Connection errors and unparsable bodies retry with backoff, 5 times for
 * bodies. lws needs lws_http_client_read in RECEIVE_CLIENT_HTTP or the body
 * never arrives (FACTS.md). */
#include "pipe_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "nlog.h"
#include "pipe_bfjob.h"
#include "tickraft/actor_sup.h"

#define BODY_RETRIES 5

int pipe_rest_busy(const struct pipe_feed *f)
{
    return f->inflight != NULL || f->rq_head != NULL;
}

static void enqueue(struct pipe_feed *f, int kind, struct pd_stream *s, struct pipe_bfjob *job);

void pipe_rest_enqueue(struct pipe_feed *f, int kind, struct pd_stream *s)
{
    enqueue(f, kind, s, NULL);
}

void pipe_rest_enqueue_job(struct pipe_feed *f, struct pipe_bfjob *job)
{
    enqueue(f, TR_REST_TRADES, NULL, job);
}

void pipe_rest_status_now(struct pipe_feed *f)
{
    f->status_urgent = 1;
    enqueue(f, TR_REST_STATUS, NULL, NULL);
}

static void requeue_front(struct pipe_feed *f, struct pipe_rest_req *r)
{
    r->next = f->rq_head;
    f->rq_head = r;
    if (!f->rq_tail)
        f->rq_tail = r;
}

static void push_back(struct pipe_feed *f, struct pipe_rest_req *r)
{
    r->next = NULL;
    if (f->rq_tail)
        f->rq_tail->next = r;
    else
        f->rq_head = r;
    f->rq_tail = r;
}

static void enqueue(struct pipe_feed *f, int kind, struct pd_stream *s, struct pipe_bfjob *job)
{
    struct pipe_rest_req *r = calloc(1, sizeof *r);
    if (!r) {
        pipe_node_fatal(f->node, TR_ENOMEM, "queue REST request");
        return;
    }
    if (kind == TR_REST_STATUS) { /* one status poll at a time */
        int queued = f->inflight && f->inflight->kind == TR_REST_STATUS;
        for (struct pipe_rest_req *q = f->rq_head; q && !queued; q = q->next)
            queued = q->kind == TR_REST_STATUS;
        if (queued) {
            free(r);
            return;
        }
    }
    r->kind = (uint8_t)kind;
    r->s = s;
    r->job = job;
    if (s)
        s->req_out = 1;
    if (kind == TR_REST_STATUS) /* status polls jump the queue */
        requeue_front(f, r);
    else
        push_back(f, r);
    pipe_rest_pump(f);
}


static void wait_cb(uv_timer_t *t)
{
    struct pipe_feed *f = t->data;
    f->rest_waiting = 0;
    pipe_rest_pump(f);
}

static void wait_ms(struct pipe_feed *f, uint64_t ms)
{
    f->rest_waiting = 1;
    uv_timer_start(&f->rest_timer, wait_cb, ms, 0);
}

/* ---- market registry ---- */

static void registry_reset(struct pipe_feed *f);

/* A page of the market list queued or in flight (a paged read under way). */
static int markets_pending(const struct pipe_feed *f)
{
    if (f->inflight && f->inflight->kind == TR_REST_MARKETS)
        return 1;
    for (const struct pipe_rest_req *q = f->rq_head; q; q = q->next)
        if (q->kind == TR_REST_MARKETS)
            return 1;
    return 0;
}

static void registry_cb(uv_timer_t *t)
{
    struct pipe_feed *f = t->data;
    if (!pipe_node_stopping(f->node) && !f->paused && !markets_pending(f))
        pipe_rest_enqueue(f, TR_REST_MARKETS, NULL);
}

void pipe_registry_start(struct pipe_feed *f)
{
    if (!markets_pending(f)) /* (a poller restart dropped a paged read) */
        registry_reset(f);
    f->registry_timer.data = f;
    uv_timer_start(&f->registry_timer, registry_cb, 0, 0);
}

/* Starts the market list again from its first page. */
static void registry_reset(struct pipe_feed *f)
{
    f->reg_cursor[0] = 0;
    f->reg_names.len = 0;
    f->reg_n = 0;
    f->reg_pages = 0;
}

/* The registry could not be read: retry forever with its own backoff. */
static void registry_retry(struct pipe_feed *f)
{
    registry_reset(f);
    uint64_t d = tr_backoff_ms(f->cfg->registry_backoff_base_ms, f->cfg->registry_backoff_max_ms,
                               f->registry_attempt++, pipe_node_rand(f->node));
    uv_timer_start(&f->registry_timer, registry_cb, d, 0);
}

#define REGISTRY_PAGES_MAX 10000 /* a cursor that never ends is a provider bug */

/* A page of the market list: Kalshi pages it with a cursor (limit 1000 a
 * page); the list is judged once its last page (empty cursor) is in. */
static void registry_done(struct pipe_feed *f, const struct tr_rest_result *res)
{
    f->registry_attempt = 0;
    if (tr_buf_append(&f->reg_names, res->names.data, res->names.len)) {
        pipe_node_fatal(f->node, TR_ENOMEM, "market registry");
        return;
    }
    f->reg_n += res->n_names;
    f->reg_pages++;
    if (res->cursor[0] && f->reg_pages < REGISTRY_PAGES_MAX) {
        snprintf(f->reg_cursor, sizeof f->reg_cursor, "%s", res->cursor);
        pipe_rest_enqueue(f, TR_REST_MARKETS, NULL);
        return;
    }
    f->registry_refreshes++;
    f->registry_listed = f->reg_n;
    f->reg_pages_last = f->reg_pages;
    uint64_t missing = 0;
    for (size_t i = 0; i < f->cfg->n_instruments; i++) {
        const char *want = f->cfg->instruments[i], *p = (const char *)f->reg_names.data;
        int found = 0;
        for (size_t k = 0; k < f->reg_n && !found; k++) {
            found = strcmp(p, want) == 0;
            p += strlen(p) + 1;
        }
        if (!found) {
            missing++;
            tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "registry",
                    "configured instrument not listed by the exchange",
                    TR_KV_STR("feed", f->cfg->name), TR_KV_STR("instrument", want));
        }
    }
    f->registry_missing = missing;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "registry", "market list read",
            TR_KV_STR("feed", f->cfg->name), TR_KV_UINT("listed", f->reg_n),
            TR_KV_UINT("pages", f->reg_pages), TR_KV_UINT("missing", missing));
    registry_reset(f);
    uv_timer_start(&f->registry_timer, registry_cb, (uint64_t)f->cfg->registry_refresh_s * 1000, 0);
}

/* The repair behind `r` cannot be done: tell the deduplicator. */
static void fail_req(struct pipe_feed *f, struct pipe_rest_req *r)
{
    if (r->kind == TR_REST_MARKETS && !pipe_node_stopping(f->node)) {
        registry_retry(f);
        return;
    }
    if (r->kind == TR_REST_STATUS) {
        pipe_maint_status_unknown(f);
        return;
    }
    if (r->job) {
        pipe_bfjob_failed(r->job, "REST gave up (400/404/401/403 or unparsable bodies)");
        return;
    }
    struct pipe_dedup *d = pipe_node_dedup(f->node);
    int rc = 0;
    if (r->s && r->kind == TR_REST_TRADES) {
        rc = pipe_dedup_backfill(d, r->s, NULL, 0, 0, 1);
        pipe_loss_repair_done(f, r->s);
    }
    else if (r->s && r->kind == TR_REST_BOOK)
        rc = pipe_dedup_snapshot(d, r->s, NULL);
    if (rc < 0)
        pipe_node_fatal(f->node, rc, "deduplicate/write");
}

static void fail_all(struct pipe_feed *f)
{
    while (f->rq_head) {
        struct pipe_rest_req *r = f->rq_head;
        f->rq_head = r->next;
        fail_req(f, r);
        free(r);
    }
    f->rq_tail = NULL;
    uv_timer_stop(&f->later_timer);
    while (f->rq_later) {
        struct pipe_rest_req *r = f->rq_later;
        f->rq_later = r->next;
        fail_req(f, r);
        free(r);
    }
}

/* ---- book snapshots skipped on persistent failure ---- */

int pipe_rest_snapshot_skip(const struct pipe_feed_cfg *cfg, const struct pipe_rest_req *r)
{
    return r->kind == TR_REST_BOOK && !r->job && r->s && cfg->snapshot_attempts &&
           r->attempts >= cfg->snapshot_attempts;
}

static void later_cb(uv_timer_t *t);

void pipe_rest_drop_later(struct pipe_feed *f)
{
    uv_timer_stop(&f->later_timer);
    while (f->rq_later) {
        struct pipe_rest_req *r = f->rq_later;
        f->rq_later = r->next;
        free(r);
    }
}

static void arm_later(struct pipe_feed *f)
{
    int64_t due = 0, now = pipe_now_ns();
    for (struct pipe_rest_req *q = f->rq_later; q; q = q->next)
        if (!due || q->due_ns < due)
            due = q->due_ns;
    if (due)
        uv_timer_start(&f->later_timer, later_cb, due > now ? (uint64_t)(due - now) / 1000000 : 0,
                       0);
}

/* Skipped snapshots whose time has come go to the back of the queue. */
static void later_cb(uv_timer_t *t)
{
    struct pipe_feed *f = t->data;
    int64_t now = pipe_now_ns();
    struct pipe_rest_req **pp = &f->rq_later;
    while (*pp) {
        struct pipe_rest_req *r = *pp;
        if (r->due_ns > now || pipe_node_stopping(f->node)) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        r->attempts = 0;
        push_back(f, r);
    }
    arm_later(f);
    pipe_rest_pump(f);
}

/* The reference's snapshot poller skips a market it cannot fetch and
 * tries again at its next cycle: the book gets an explicit gap over what
 * it holds (deltas without a base are of no use), the request waits
 * snapshot_backoff_max outside the queue, and the queue goes on. */
static void skip_snapshot(struct pipe_feed *f, struct pipe_rest_req *r)
{
    uint64_t later = f->cfg->snapshot_backoff_max_ms;
    f->snapshots_skipped++;
    f->rest_attempt = 0;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "rest", "book snapshot skipped: gap written",
            TR_KV_STR("feed", f->cfg->name), TR_KV_STR("instrument", r->s->instrument),
            TR_KV_UINT("attempts", r->attempts), TR_KV_INT("status", f->rstatus),
            TR_KV_UINT("again_in_ms", later));
    int rc = pipe_dedup_snapshot_skipped(pipe_node_dedup(f->node), r->s);
    if (rc < 0)
        pipe_node_fatal(f->node, rc, "deduplicate/write");
    r->due_ns = pipe_now_ns() + (int64_t)later * 1000000;
    r->next = f->rq_later;
    f->rq_later = r;
    arm_later(f);
    pipe_rest_pump(f);
}

/* The adapter's view of a request (the parser needs it too: Binance's
 * depth answer does not name its symbol). */
void pipe_rest_build_req(const struct pipe_feed *f, const struct pipe_rest_req *r,
                         struct tr_rest_req *q)
{
    *q = (struct tr_rest_req){.kind = r->kind,
                              .prefix = f->cfg->rest_prefix[0] ? f->cfg->rest_prefix : NULL,
                              .instrument = r->s ? r->s->instrument : NULL,
                              .limit = 1000};
    if (r->job) { /* an operator backfill job: trades after its cursor */
        q->instrument = pipe_bfjob_instrument(r->job);
        q->after_id = pipe_bfjob_cursor(r->job);
        q->has_after_id = 1;
    } else if (r->kind == TR_REST_TRADES && r->s && r->s->mode == PD_MODE_IDSET) {
        q->since_ns = r->s->since_ns; /* by time, cursor pages going older */
        q->cursor = r->s->cursor;
    } else if (r->kind == TR_REST_TRADES && r->s && r->s->have) {
        q->after_id = r->s->last;
        q->has_after_id = 1;
    } else if (r->kind == TR_REST_MARKETS && f->reg_cursor[0]) {
        q->cursor = f->reg_cursor; /* the next page of the market list */
    }
}

/* Where requests go: rest_url's host (the address resolved at start, the
 * name as written for Host, SNI and the certificate check), or the
 * WebSocket's for a hand-made cfg without one. Returns the address. */
static const char *rest_endpoint(const struct pipe_feed_cfg *fc, const char **name, int *port,
                                 int *tls)
{
    if (!fc->rest_host[0]) {
        *name = fc->host;
        *port = fc->port;
        *tls = 0;
        return fc->host;
    }
    *name = fc->rest_name[0] ? fc->rest_name : fc->rest_host;
    *port = fc->rest_port;
    *tls = fc->rest_tls;
    return fc->rest_host;
}

void pipe_rest_pump(struct pipe_feed *f)
{
    if (f->inflight || !f->rq_head || f->rwsi)
        return;
    /* a backoff or maintenance wait holds the queue; a status poll someone
     * waits for (a held reconnect, a 503) goes ahead of it */
    if (f->rest_waiting && !(f->status_urgent && f->rq_head->kind == TR_REST_STATUS))
        return;
    if (f->halted_rest) {
        fail_all(f);
        return;
    }
    struct pipe_rest_req *r = f->rq_head;
    if (r->kind == TR_REST_STATUS)
        f->status_urgent = 0;
    f->rq_head = r->next;
    if (!f->rq_head)
        f->rq_tail = NULL;
    r->next = NULL;
    f->inflight = r;
    struct tr_rest_req q;
    pipe_rest_build_req(f, r, &q);
    char *path = r->path;
    struct tr_error err;
    tr_error_clear(&err);
    if (f->ops->rest_path(&q, path, sizeof r->path, &err)) {
        tr_nlog(pipe_node_log(f->node), TR_NLOG_ERROR, "rest", "cannot build request",
                TR_KV_STR("feed", f->cfg->name), TR_KV_ERR(&err));
        f->inflight = NULL;
        fail_req(f, r);
        free(r);
        pipe_rest_pump(f);
        return;
    }
    f->rbody.len = 0;
    f->rstatus = 0;
    f->rdone = 0;
    f->retry_after_s = 0;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = pipe_node_lws(f->node);
    const char *name;
    int tls;
    ci.address = rest_endpoint(f->cfg, &name, &ci.port, &tls);
    ci.path = path;
    char hp[300]; /* lws copies it */
    /* Host header (with a non-default port); TLS SNI and the certificate's
     * name check use the name before the ':' */
    ci.host = pipe_tls_host(hp, sizeof hp, name, ci.port, tls);
    ci.origin = name;
    ci.ssl_connection = pipe_tls_flags(tls);
    ci.vhost = f->vhost;
    ci.method = "GET";
    ci.local_protocol_name = "tr-http";
    ci.userdata = f;
    ci.pwsi = &f->rwsi;
    if (!lws_client_connect_via_info(&ci) && !f->rdone) {
        f->rwsi = NULL;
        f->rest_conn_errors++;
        f->inflight = NULL;
        requeue_front(f, r);
        wait_ms(f, pipe_rest_retry_ms(f->cfg, r, f->rest_attempt++, pipe_node_rand(f->node)));
    }
}

static int code_slot(int st)
{
    if (st >= 200 && st < 300)
        return 0;
    switch (st) {
    case 400: return 1;
    case 401: return 2;
    case 403: return 3;
    case 404: return 4;
    case 429: return 5;
    default: return st >= 500 && st < 600 ? 6 : 7;
    }
}

uint64_t pipe_rest_retry_ms(const struct pipe_feed_cfg *cfg, const struct pipe_rest_req *r,
                            uint32_t attempt, uint64_t rnd)
{
    /* the reference's snapshot poller has its own, shorter backoff (1 s ..
     * 1 min): a book waits for its snapshot with deltas buffered */
    if (r->kind == TR_REST_BOOK && !r->job)
        return tr_backoff_ms(cfg->snapshot_backoff_base_ms, cfg->snapshot_backoff_max_ms, attempt,
                             rnd);
    return tr_backoff_ms(cfg->rest_backoff_base_ms, cfg->rest_backoff_max_ms, attempt, rnd);
}

static void retry_later(struct pipe_feed *f, struct pipe_rest_req *r);

/* A failure that asks for a retry (429, 5xx, no answer): with backoff, or
 * a book snapshot failing for too long is skipped. */
static void backoff_retry(struct pipe_feed *f, struct pipe_rest_req *r)
{
    r->attempts++;
    if (pipe_rest_snapshot_skip(f->cfg, r)) {
        skip_snapshot(f, r);
        return;
    }
    retry_later(f, r);
}

static void retry_later(struct pipe_feed *f, struct pipe_rest_req *r)
{
    uint64_t d = pipe_rest_retry_ms(f->cfg, r, f->rest_attempt++, pipe_node_rand(f->node));
    if (f->retry_after_s > 0 && (uint64_t)f->retry_after_s * 1000 > d)
        d = (uint64_t)f->retry_after_s * 1000;
    requeue_front(f, r);
    wait_ms(f, d);
}

static void handle_status_body(struct pipe_feed *f, const struct tr_rest_result *res)
{
    uint64_t wait = pipe_maint_status(f, res->status,
                                      res->status == TR_XSTATUS_MAINTENANCE ? res->resume_ns : 0);
    if (!wait)
        return;
    /* in maintenance: the queue waits, the status heads it (waiting first,
     * so that queueing it does not send it at once) */
    wait_ms(f, wait);
    pipe_rest_enqueue(f, TR_REST_STATUS, NULL);
}

/* The status poll got no usable answer. In a maintenance the status
 * endpoint may be down too: poll again with backoff. Otherwise it only
 * stands for a held reconnect or a 503, which go on without it. */
static void status_failed(struct pipe_feed *f, struct pipe_rest_req *r)
{
    if (f->maintenance) {
        backoff_retry(f, r);
        return;
    }
    free(r);
    pipe_maint_status_unknown(f);
    pipe_rest_pump(f);
}

/* The request in flight finished with HTTP status st (<0: no response). */
static void req_done(struct pipe_feed *f)
{
    struct pipe_rest_req *r = f->inflight;
    struct tr_nlog *lg = pipe_node_log(f->node);
    f->inflight = NULL;
    if (!r)
        return;
    int st = f->rstatus;
    if (st <= 0) {
        f->rest_conn_errors++;
        if (r->kind == TR_REST_STATUS)
            status_failed(f, r);
        else
            backoff_retry(f, r);
        return;
    }
    f->rest_codes[code_slot(st)]++;
    if (st >= 200 && st < 300) {
        pipe_raw_rest(f, r->path, f->rbody.data, f->rbody.len);
        struct tr_rest_req q;
        pipe_rest_build_req(f, r, &q);
        struct tr_rest_result res;
        struct tr_error err;
        tr_error_clear(&err);
        tr_rest_result_init(&res);
        int rc = f->ops->rest_parse(&q, (const char *)f->rbody.data, f->rbody.len, &f->rframe,
                                    &res, &err);
        if (rc) {
            tr_nlog(lg, TR_NLOG_WARN, "rest", "unparsable body", TR_KV_STR("feed", f->cfg->name),
                    TR_KV_ERR(&err));
            tr_rest_result_free(&res);
            if (r->kind == TR_REST_STATUS) {
                status_failed(f, r);
            } else if (f->rest_attempt < BODY_RETRIES) {
                backoff_retry(f, r);
            } else {
                f->rest_attempt = 0;
                fail_req(f, r);
                free(r);
                pipe_rest_pump(f);
            }
            return;
        }
        f->rest_ok++;
        f->rest_attempt = 0;
        struct pipe_dedup *d = pipe_node_dedup(f->node);
        if (r->job) {
            rc = pipe_bfjob_page(r->job, f->rframe.events, f->rframe.n_events, res.more);
        } else if (r->kind == TR_REST_TRADES && r->s) {
            snprintf(r->s->cursor, sizeof r->s->cursor, "%s", res.cursor);
            rc = pipe_dedup_backfill(d, r->s, f->rframe.events, f->rframe.n_events, res.more, 0);
            if (rc >= 0 && r->s->state == PD_LIVE)
                pipe_loss_repair_done(f, r->s);
        } else if (r->kind == TR_REST_BOOK && r->s) {
            rc = f->rframe.n_events ? pipe_dedup_snapshot(d, r->s, &f->rframe.events[0])
                                    : pipe_dedup_snapshot(d, r->s, NULL);
        } else if (r->kind == TR_REST_STATUS) {
            handle_status_body(f, &res);
        } else if (r->kind == TR_REST_MARKETS) {
            registry_done(f, &res);
        }
        tr_rest_result_free(&res);
        free(r);
        if (rc < 0)
            pipe_node_fatal(f->node, rc, "deduplicate/write");
        pipe_rest_pump(f);
        return;
    }
    int policy = tr_policy_for_http(st);
    tr_nlog(lg, st == 429 || st >= 500 ? TR_NLOG_WARN : TR_NLOG_ERROR, "rest", "http error",
            TR_KV_STR("feed", f->cfg->name), TR_KV_INT("status", st),
            TR_KV_STR("policy", tr_policy_name(policy)));
    if (r->kind == TR_REST_STATUS && policy != TR_POLICY_HALT) {
        status_failed(f, r);
        return;
    }
    switch (policy) {
    case TR_POLICY_BACKOFF: backoff_retry(f, r); return;
    case TR_POLICY_CHECK_STATUS: /* overload or maintenance: the status says which
                                  * (not counted against a snapshot: a maintenance
                                  * is waited out, not skipped) */
        retry_later(f, r);
        pipe_rest_status_now(f);
        return;
    case TR_POLICY_HALT:
        f->halted_rest = 1;
        f->alerts++;
        tr_nlog(lg, TR_NLOG_ERROR, "rest", "alert: authentication failure, REST halted",
                TR_KV_STR("feed", f->cfg->name), TR_KV_INT("status", st));
        fail_req(f, r);
        free(r);
        fail_all(f);
        return;
    default: /* NO_RETRY, SKIP */
        if (r->kind == TR_REST_BOOK && !r->job && r->s) {
            /* a book cannot do without a snapshot: not retried now, but
             * skipped like a persistent failure (gap, the next cycle asks) */
            r->attempts++;
            skip_snapshot(f, r);
            return;
        }
        fail_req(f, r);
        free(r);
        pipe_rest_pump(f);
    }
}

static void finish(struct pipe_feed *f)
{
    if (f->rdone)
        return;
    f->rdone = 1;
    f->rwsi = NULL;
    req_done(f);
}

/* Logs why a request's connection failed (counted in rest_conn_errors when
 * the request is retried); a rejected certificate is an alert. */
static void conn_failed(struct pipe_feed *f, struct lws *wsi, const void *in, size_t len)
{
    const struct pipe_feed_cfg *fc = f->cfg;
    const char *name;
    int port, tls;
    rest_endpoint(fc, &name, &port, &tls);
    const char *why = pipe_tls_failure(wsi);
    if (why) {
        pipe_tls_cert_alert(f, "rest", name, port, why);
        return;
    }
    size_t n = in ? strnlen(in, len ? len : 256) : 0;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "rest", "connection failed",
            TR_KV_STR("feed", fc->name), TR_KV_STR("host", name), TR_KV_INT("port", port),
            TR_KV_STRN("error", in ? (const char *)in : "", n));
}

int pipe_rest_protocol_cb(struct lws *wsi, int reason, void *user, void *in, size_t len)
{
    if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION)
        return pipe_tls_verify_cb(wsi, user, len); /* user: OpenSSL's, not ours */
    struct pipe_feed *f = user;
    /* a finished request's connection may still call back while the next
     * request runs: only the current one counts */
    if (f && f->rwsi && wsi != f->rwsi)
        return reason == LWS_CALLBACK_RECEIVE_CLIENT_HTTP ? -1 : 0;
    if (f && !f->rwsi && reason != LWS_CALLBACK_CLIENT_CONNECTION_ERROR)
        f = NULL;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP: {
        if (!f)
            return -1;
        f->rstatus = (int)lws_http_client_http_response(wsi);
        char ra[32];
        if (lws_hdr_copy(wsi, ra, sizeof ra, WSI_TOKEN_HTTP_RETRY_AFTER) > 0)
            f->retry_after_s = atoi(ra);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buf[LWS_PRE + 8192];
        char *p = buf + LWS_PRE;
        int n = (int)sizeof buf - LWS_PRE;
        return lws_http_client_read(wsi, &p, &n) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        if (f && tr_buf_append(&f->rbody, in, len))
            return -1;
        return 0;
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        if (f) {
            f->rwsi = NULL;
            finish(f);
        }
        return -1; /* one request per connection */
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (f) {
            conn_failed(f, wsi, in, len);
            f->rstatus = -1;
            finish(f);
        }
        return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        if (f && !f->rdone) {
            if (f->rstatus > 0 && f->rbody.len == 0 && f->rstatus != 200)
                ; /* an error status without a body is still an answer */
            else
                f->rstatus = f->rstatus > 0 && f->rstatus != 200 ? f->rstatus : -1;
            finish(f);
        }
        return 0;
    default: return 0;
    }
}
