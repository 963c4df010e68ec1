/* A feed's WebSocket connections: what a connection does with the
 * provider (the bytes, the WebSocket protocol and the heartbeat are
 * pipe_ws.c's). A connection subscribes, parses each message with the
 * provider adapter and hands the events to the deduplicator. When it ends
 * it is replaced per the reference policy for its close code
 * (shared/reference, tr_policy_for_close): 1000 reconnect at once;
 * 1001/1006/1011 and refused connections back off exponentially
 * (base..max per feed, 0-25 % jitter); 1008 alerts (credentials) and backs
 * off. A silent peer is detected by the heartbeat rule (a ping after ping_s
 * without a byte received, a hang-up after hangup_s; pipe_ws.c), never by
 * the absence of trades. */
#include "pipe_feed.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlog.h"
#include "pipe_lact.h"
#include "tickraft/actor_loop.h"

#define STABLE_NS (10 * 1000000000ll) /* connection lifetime that resets the backoff */

const char *pc_cause_name(int c)
{
    static const char *const n[PC_C_MAX] = {"close_1000", "close_1001", "close_1006",
                                             "close_1008", "close_1011", "close_other",
                                             "refused",    "ping_timeout", "rotate",
                                             "resync",     "tls"};
    return c >= 0 && c < PC_C_MAX ? n[c] : "unknown";
}

const char *pipe_feed_state(const struct pipe_feed *f)
{
    return f->paused        ? "paused"
           : f->halted_rest ? "rest halted"
           : f->maintenance ? "maintenance"
           : f->connected   ? "collecting"
                            : "connecting";
}

int pc_cause_of(int code)
{
    switch (code) {
    case 1000: return PC_C_CLOSE_1000;
    case 1001: return PC_C_CLOSE_1001;
    case 1006: return PC_C_CLOSE_1006;
    case 1008: return PC_C_CLOSE_1008;
    case 1011: return PC_C_CLOSE_1011;
    default: return PC_C_CLOSE_OTHER;
    }
}

int pipe_conn_open(struct pipe_feed *f, int slot)
{
    return f->conn_act[PL_PRIMARY] ? pipe_lact_conn_open(f, slot) : pipe_conn_connect(f, slot);
}

int pipe_conn_connect(struct pipe_feed *f, int slot)
{
    struct pipe_conn *c = &f->conn[slot];
    struct tr_error err;
    tr_error_clear(&err);
    if (!c->inited) {
        tr_frame_init(&c->frame);
        tr_buf_init(&c->rx);
        tr_buf_init(&c->tx);
        c->inited = 1;
    }
    if (c->prov_ok) {
        tr_provider_close(&c->prov); /* adapter state is per connection */
        c->prov_ok = 0;
    }
    if (tr_provider_init(&c->prov, f->ops, &err))
        return err.code ? err.code : TR_ENOMEM;
    c->prov_ok = 1;
    c->feed = f;
    c->slot = slot;
    c->peer_code = c->close_code = c->retiring = c->subscribed = c->resync = 0;
    c->incoming = slot < 2 && slot != f->active; /* the pair's other slot: a rotation's */
    c->n_sids = 0;
    c->frames = c->data_frames = 0;
    c->first_data_ns = 0;
    c->succ_sub_ns = 0; /* (succ_of stays: an overflow rotation's new one reconnecting) */
    c->rx.len = 0;
    c->tx_len = 0;
    c->txq_n = c->txq_i = 0;
    c->per_inst = c->reask_due = 0;
    c->opened_ns = pipe_now_ns();
    f->ws_attempts++;
    c->last_rx_ns = 0;
    c->state = PC_CONNECTING;
    int rc = pipe_ws_connect(c);
    if (rc < 0) {
        /* the failure callback already ran (or will not): treat as refused */
        if (c->state == PC_CONNECTING) {
            c->state = PC_IDLE;
            c->wsi = NULL;
            return rc;
        }
    }
    return 0;
}

/* ---- reconnect policy ---- */

/* Bench hook: with $TICKRAFT_FRAME_STAMPS=FILE the node appends, for every
 * data frame that carries the provider's send stamp (the simulator's
 * sent_ns), 16 bytes to FILE: the frame's receive time (the events'
 * ts_receive) and sent_ns, both int64 in host order. `tickraft-bench
 * e2eclient` joins them with the events its callback gets, by ts_receive,
 * for a provider frame -> callback figure (the stored event has no field
 * for sent_ns). Buffered by stdio, flushed at exit; off when unset. */
static FILE *g_stamps;
static pthread_once_t g_stamps_once = PTHREAD_ONCE_INIT;
static void stamps_open(void)
{
    const char *path = getenv("TICKRAFT_FRAME_STAMPS");
    if (path && *path)
        g_stamps = fopen(path, "wb");
}
static void stamp_frame(int64_t recv_ns, int64_t sent_ns)
{
    pthread_once(&g_stamps_once, stamps_open);
    if (g_stamps) {
        int64_t v[2] = {recv_ns, sent_ns};
        fwrite(v, sizeof v, 1, g_stamps);
    }
}

static void retry_cb(uv_timer_t *t)
{
    struct pipe_feed *f = t->data;
    if (pipe_node_stopping(f->node) || f->halted_ws || f->paused)
        return;
    struct pipe_conn *c = &f->conn[f->active];
    if (c->state != PC_IDLE)
        return;
    if (pipe_conn_open(f, f->active) < 0) {
        f->reconnects[PC_C_REFUSED]++;
        uint64_t d = tr_backoff_ms(f->cfg->backoff_base_ms, f->cfg->backoff_max_ms, f->attempt++,
                                   pipe_node_rand(f->node));
        if (pipe_maint_hold_ws(f, PC_C_REFUSED, 0, d))
            return;
        f->retry_at_ns = pipe_now_ns() + (int64_t)d * 1000000;
        uv_timer_start(&f->retry_timer, retry_cb, d, 0);
    }
}

void pipe_feed_reconnect_in(struct pipe_feed *f, uint64_t delay_ms)
{
    if (pipe_node_stopping(f->node) || f->halted_ws || f->paused)
        return;
    if (f->conn[f->active].state == PC_IDLE) {
        f->retry_at_ns = pipe_now_ns() + (int64_t)delay_ms * 1000000;
        uv_timer_start(&f->retry_timer, retry_cb, delay_ms, 0);
    }
    pipe_shed_kick(f); /* overflow connections held meanwhile */
}

static void schedule_reconnect(struct pipe_feed *f, int cause, int code)
{
    struct tr_nlog *lg = pipe_node_log(f->node);
    f->reconnects[cause]++;
    int failed = cause == PC_C_REFUSED || cause == PC_C_PING_TIMEOUT || cause == PC_C_TLS;
    int policy = cause == PC_C_RESYNC ? TR_POLICY_RECONNECT_NOW
                 : failed             ? TR_POLICY_BACKOFF
                                      : tr_policy_for_close(code);
    uint64_t delay = 0;
    if (policy == TR_POLICY_RECONNECT_NOW) {
        f->attempt = 0;
    } else {
        if (policy == TR_POLICY_CHECK_CREDENTIALS) {
            f->alerts++;
            tr_nlog(lg, TR_NLOG_ERROR, "conn", "alert: policy violation, check credentials",
                    TR_KV_STR("feed", f->cfg->name), TR_KV_INT("code", code));
        }
        delay = tr_backoff_ms(f->cfg->backoff_base_ms, f->cfg->backoff_max_ms, f->attempt++,
                              pipe_node_rand(f->node));
    }
    tr_nlog(lg, TR_NLOG_WARN, "conn", "reconnecting", TR_KV_STR("feed", f->cfg->name),
            TR_KV_STR("cause", pc_cause_name(cause)), TR_KV_INT("code", code),
            TR_KV_STR("policy", tr_policy_name(policy)), TR_KV_UINT("delay_ms", delay),
            TR_KV_UINT("attempt", f->attempt));
    /* maintenance, or a close that may announce one: wait for the status */
    if (policy != TR_POLICY_RECONNECT_NOW && pipe_maint_hold_ws(f, cause, code, delay))
        return;
    f->retry_at_ns = pipe_now_ns() + (int64_t)delay * 1000000;
    uv_timer_start(&f->retry_timer, retry_cb, delay, 0);
}

void pipe_conn_ended(struct pipe_conn *c, int cause, int code)
{
    struct pipe_feed *f = c->feed;
    pipe_dedup_source_lost(pipe_node_dedup(f->node), c);
    c->wsi = NULL;
    c->state = PC_IDLE;
    c->subscribed = 0;
    if (c->slot >= 2) { /* an overflow connection (pipe_shed.c, pipe_xrot.c) */
        if (!pipe_xrot_ended(c, cause))
            pipe_shed_conn_ended(c, cause, code);
        return;
    }
    int was_active = c->slot == f->active;
    int retiring = c->retiring;
    struct pipe_conn *o = &f->conn[1 - c->slot];
    if (!was_active && !retiring) { /* a rotation's incoming connection: the rotation is over */
        if (!f->paused && !pipe_node_stopping(f->node))
            f->reconnects[cause]++;
        pipe_lact_conn_release(f, PL_NEXT);
        return;
    }
    if (f->paused) { /* an operator paused the feed: no reconnect until resume */
        f->connected = 0;
        return;
    }
    if (pipe_node_stopping(f->node) || retiring)
        return;
    if (o->state == PC_OPEN && o->incoming) { /* a rotation was under way: promote it */
        f->reconnects[cause]++;
        pipe_feed_promote(f, o);
        return;
    }
    f->connected = 0;
    /* a connection that carried data for a while was a success: the next
     * failure starts again from the base delay */
    if (c->first_data_ns && pipe_now_ns() - c->opened_ns >= STABLE_NS)
        f->attempt = 0;
    schedule_reconnect(f, cause, code);
}

/* A rejected certificate (PC_C_TLS) is an alert, since someone must look
 * (wrong ca_file, an intercepting proxy, a provider's new chain); any other
 * TLS failure (PC_C_REFUSED) a warning. */
int pipe_conn_tls_failed(struct pipe_conn *c, const char *why, int cert)
{
    struct pipe_feed *f = c->feed;
    const struct pipe_feed_cfg *fc = f->cfg;
    const char *name = fc->ws_name[0] ? fc->ws_name : fc->host;
    if (!cert) {
        tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "conn", "TLS handshake failed",
                TR_KV_STR("feed", fc->name), TR_KV_STR("host", name), TR_KV_INT("port", fc->port),
                TR_KV_STR("error", why));
        return PC_C_REFUSED;
    }
    pipe_tls_cert_alert(f, "conn", name, fc->port, why);
    return PC_C_TLS;
}

/* Logs why a connection attempt failed (lws's text: TCP; TLS is pipe_ws's
 * own, pipe_conn_tls_failed) and returns its reconnect cause. */
int pipe_conn_failed(struct pipe_conn *c, struct lws *wsi, const void *in, size_t len)
{
    (void)wsi;
    struct pipe_feed *f = c->feed;
    const struct pipe_feed_cfg *fc = f->cfg;
    const char *name = fc->ws_name[0] ? fc->ws_name : fc->host;
    size_t n = in ? strnlen(in, len ? len : 256) : 0;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "conn", "connection failed",
            TR_KV_STR("feed", fc->name), TR_KV_STR("host", name), TR_KV_INT("port", fc->port),
            TR_KV_STRN("error", in ? (const char *)in : "", n));
    return PC_C_REFUSED;
}

/* ---- subscribe ---- */

#define REQ_ID_PER_INST 1000 /* request ids of one-market subscribes: 1000 + index */

/* Queues one subscribe message for `inst` (n of them) with `req_id`. */
static int queue_subscribe(struct pipe_conn *c, const char *const *inst, size_t n, int64_t req_id)
{
    struct pipe_feed *f = c->feed;
    struct tr_sub_req req = {.channels = f->cfg->channels,
                             .instruments = inst,
                             .n_instruments = n,
                             .req_id = req_id};
    struct tr_error err;
    tr_error_clear(&err);
    if (c->txq_n > PIPE_MAX_INST)
        return TR_ENOMEM;
    size_t off = c->tx.len;
    int rc = f->ops->subscribe(&req, &c->tx, &err);
    if (rc) {
        tr_nlog(pipe_node_log(f->node), TR_NLOG_ERROR, "conn", "cannot build subscribe",
                TR_KV_STR("feed", f->cfg->name), TR_KV_ERR(&err));
        return rc;
    }
    c->txq_off[c->txq_n] = off;
    c->txq_len[c->txq_n++] = c->tx.len - off;
    return 0;
}

/* The subscription: one request for every market, or (per_inst) one per
 * market so that a refusal that does not name the market (Binance) can be
 * pinned on one by its request id. */
static int send_subscribe(struct pipe_conn *c)
{
    struct pipe_feed *f = c->feed;
    const char *inst[PIPE_MAX_INST];
    size_t n = 0;
    c->tx.len = 0;
    c->txq_n = c->txq_i = 0;
    int rc = 0;
    for (size_t i = 0; i < f->cfg->n_instruments && !rc; i++) {
        if (f->dropped[i] || f->home[i] != pipe_conn_sub_group(c))
            continue;
        if (c->per_inst)
            rc = queue_subscribe(c, (const char *const *)&f->cfg->instruments[i], 1,
                                 REQ_ID_PER_INST + (int64_t)i);
        else
            inst[n++] = f->cfg->instruments[i];
    }
    if (!rc && !c->per_inst && n)
        rc = queue_subscribe(c, inst, n, 1);
    if (rc)
        return rc;
    if (c->txq_n)
        pipe_ws_want_write(c);
    return 0;
}

int pipe_conn_subscribe_more(struct pipe_conn *c, const int *idx, size_t n)
{
    struct pipe_feed *f = c->feed;
    if (c->state != PC_OPEN || !c->wsi || !n)
        return TR_ECLOSED;
    if (c->txq_i == c->txq_n) { /* everything queued went out: start afresh */
        c->tx.len = 0;
        c->txq_n = c->txq_i = 0;
    }
    const char *inst[PIPE_MAX_INST];
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        inst[k] = f->cfg->instruments[idx[k]];
        if (c->per_inst)
            rc = queue_subscribe(c, &inst[k], 1, REQ_ID_PER_INST + idx[k]);
    }
    if (!rc && !c->per_inst)
        rc = queue_subscribe(c, inst, n, 1);
    if (rc)
        return rc;
    pipe_ws_want_write(c);
    return 0;
}

static int inst_index(const struct pipe_feed *f, const char *name)
{
    for (size_t i = 0; i < f->cfg->n_instruments; i++)
        if (strcmp(f->cfg->instruments[i], name) == 0)
            return (int)i;
    return -1;
}

void pipe_feed_resume_market(struct pipe_feed *f, size_t i)
{
    if (f->dropped[i] || !(f->cfg->channels & TR_CH_TRADES))
        return;
    struct pipe_dedup *d = pipe_node_dedup(f->node);
    const struct tr_stream_desc *desc = f->ops->stream(TR_KIND_TRADE);
    struct pd_stream *s =
        pipe_dedup_stream(d, f->ops->name, TR_KIND_TRADE, f->cfg->instruments[i], desc);
    if (s) {
        s->feed = f;
        pipe_dedup_resume(d, s);
    }
}

/* Every stream connection group g subscribes: resume them (backfill since
 * the checkpoint) once its connection is subscribed. */
static void resume_streams(struct pipe_feed *f, int g)
{
    for (size_t i = 0; i < f->cfg->n_instruments; i++)
        if (f->home[i] == g)
            pipe_feed_resume_market(f, i);
    pipe_loss_repairs_started(f, g); /* a subscription that missed trades */
}

static void overlap_cb(uv_timer_t *t);

/* A subscription on c was answered: the first one resumes the group's
 * streams; markets added later (shed ones) resume one by one. */
static void subscribed_now(struct pipe_conn *c)
{
    struct pipe_feed *f = c->feed;
    int g = pipe_conn_group(c), first = !c->subscribed;
    if (first) {
        c->subscribed = 1;
        if (g == 0)
            f->connected = 1;
        tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "conn", "subscribed",
                TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot));
        resume_streams(f, g);
        if (c->incoming) { /* a rotation: both stay open for rotate_overlap */
            f->rot_sub_ns = pipe_now_ns();
            f->rot_old_frames = f->conn[f->active].frames;
            uv_timer_start(&f->overlap_timer, overlap_cb, f->cfg->rotate_overlap_ms, 0);
        }
        if (c->succ_of) { /* an overflow rotation's new one: its overlap starts */
            /* the old one skipped trades before this one delivered and is
             * closing: repair its markets now (as its reconnect would) so
             * that the skip is compared with repairs started after it */
            if (f->loss[c->succ_of].missed)
                resume_streams(f, c->succ_of);
            pipe_xrot_subscribed(c);
        }
    }
    pipe_shed_confirmed(f, g, !first);
}

static void handle_ctl(struct pipe_conn *c)
{
    struct pipe_feed *f = c->feed;
    struct tr_nlog *lg = pipe_node_log(f->node);
    const struct tr_ctl *ctl = &c->frame.ctl;
    switch (ctl->kind) {
    case TR_CTL_SUBSCRIBED:
        subscribed_now(c);
        break;
    case TR_CTL_SUB_ERROR: {
        f->sub_errors++;
        int policy = tr_policy_for_sub_error(ctl->sub_error);
        int i = ctl->instrument[0] ? inst_index(f, ctl->instrument) : -1;
        if (i < 0 && ctl->req_id >= REQ_ID_PER_INST &&
            ctl->req_id < REQ_ID_PER_INST + (int64_t)f->cfg->n_instruments)
            i = (int)(ctl->req_id - REQ_ID_PER_INST);
        if (i < 0) /* the market named only in the text ("X is not a valid ...") */
            for (size_t k = 0; k < f->cfg->n_instruments && i < 0; k++) {
                size_t l = strlen(f->cfg->instruments[k]);
                if (!strncmp(ctl->text, f->cfg->instruments[k], l) &&
                    (ctl->text[l] == ' ' || ctl->text[l] == 0))
                    i = (int)k;
            }
        if (policy == TR_POLICY_SHED && c->succ_of) {
            /* an overflow rotation's new connection refused some of the
             * old one's markets: keep the old one (its end ends the rotation) */
            tr_nlog(lg, TR_NLOG_WARN, "conn",
                    "overflow rotation: new connection hit a subscription limit, keeping the old one",
                    TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot),
                    TR_KV_STR("text", ctl->text));
            pipe_conn_close(c, 1000);
            break;
        }
        if (policy == TR_POLICY_DROP_MARKET && i < 0 && !c->per_inst && c->state == PC_OPEN) {
            /* the refusal does not say which market: ask one by one */
            c->per_inst = 1;
            tr_nlog(lg, TR_NLOG_WARN, "conn", "unknown market not named: subscribing one by one",
                    TR_KV_STR("feed", f->cfg->name), TR_KV_STR("text", ctl->text));
            if (send_subscribe(c) < 0)
                pipe_conn_close(c, 1000);
            break;
        }
        if (policy == TR_POLICY_DROP_MARKET && i >= 0) {
            f->dropped[i] = 1;
            tr_nlog(lg, TR_NLOG_WARN, "conn", "unknown market dropped",
                    TR_KV_STR("feed", f->cfg->name), TR_KV_STR("instrument", f->cfg->instruments[i]));
        } else if (policy == TR_POLICY_SHED) {
            f->alerts++;
            /* shed the market named, else the last one asked for on this
             * connection; pipe_shed.c finds it another connection */
            int named = i >= 0;
            i = pipe_shed_market(f, c, i);
            tr_nlog(lg, TR_NLOG_ERROR, "conn", "alert: subscription limit, shedding",
                    TR_KV_STR("feed", f->cfg->name),
                    TR_KV_STR("instrument", i >= 0 ? f->cfg->instruments[i] : ""),
                    TR_KV_STR("text", ctl->text));
            if (!named && i >= 0) /* the refusal may have failed the whole request */
                pipe_shed_reask_later(f, c);
        } else {
            f->alerts++;
            tr_nlog(lg, TR_NLOG_ERROR, "conn", "alert: subscribe refused, not retrying",
                    TR_KV_STR("feed", f->cfg->name), TR_KV_STR("policy", tr_policy_name(policy)),
                    TR_KV_STR("text", ctl->text));
        }
        if (!c->subscribed) /* the rest of the subscription stands */
            subscribed_now(c);
        break;
    }
    case TR_CTL_HEARTBEAT: {
        struct pipe_dedup *d = pipe_node_dedup(f->node);
        for (size_t i = 0; i < c->frame.n_marks; i++) {
            const struct tr_ctl_mark *m = &c->frame.marks[i];
            if (!m->last_trade_id)
                continue;
            struct pd_stream *s = pipe_dedup_stream(d, f->ops->name, TR_KIND_TRADE, m->instrument,
                                                    f->ops->stream(TR_KIND_TRADE));
            if (s) {
                s->feed = f;
                pipe_dedup_mark(d, s, m->last_trade_id);
            }
        }
        break;
    }
    case TR_CTL_SERVER_ERROR:
        tr_nlog(lg, TR_NLOG_WARN, "conn", "server error", TR_KV_STR("feed", f->cfg->name),
                TR_KV_STR("text", ctl->text));
        break;
    default: break;
    }
}

/* Per-subscription sequences (Kalshi `seq` per sid) mean something on
 * this connection only: a hole lost messages of that subscription, and
 * the way back is a fresh subscription (in-band snapshots) plus a trade
 * backfill, i.e. reconnecting at once. Returns 1 when the frame is
 * dropped for that reason. */
static int seq_hole(struct pipe_conn *c)
{
    uint64_t sid = c->frame.sid, seq = c->frame.conn_seq;
    size_t i = 0;
    while (i < c->n_sids && c->sids[i].sid != sid)
        i++;
    if (i == c->n_sids) {
        if (c->n_sids < sizeof c->sids / sizeof c->sids[0]) {
            c->sids[c->n_sids].sid = sid;
            c->sids[c->n_sids++].last = seq;
        }
        return 0;
    }
    if (seq == c->sids[i].last + 1 || c->state != PC_OPEN) {
        c->sids[i].last = seq;
        return 0;
    }
    if (seq <= c->sids[i].last)
        return 1; /* a replayed frame of this subscription */
    tr_nlog(pipe_node_log(c->feed->node), TR_NLOG_WARN, "conn",
            "subscription sequence gap: resubscribing", TR_KV_STR("feed", c->feed->cfg->name),
            TR_KV_UINT("sid", sid), TR_KV_UINT("expected", c->sids[i].last + 1),
            TR_KV_UINT("got", seq));
    if (c->frame.n_events && c->frame.events[0].kind == TR_KIND_TRADE) /* the trade channel */
        pipe_loss_skipped(c, seq - c->sids[i].last - 1);
    c->resync = 1;
    pipe_conn_close(c, 1000);
    return 1;
}

void pipe_conn_message(struct pipe_conn *c, const char *p, size_t len)
{
    struct pipe_feed *f = c->feed;
    struct tr_error err;
    tr_error_clear(&err);
    int64_t now = pipe_now_ns();
    c->frames++;
    f->frames++;
    c->last_rx_ns = now;
    pipe_raw_frame(c, p, len, now); /* before parsing: kept even if malformed */
    if (c->act && !tr_lact_running(c->act))
        return; /* failed: the rest of this read waits for its restart's repair */
    int prc = tr_provider_parse(&c->prov, p, len, now, &c->frame, &err);
    if (prc) {
        if (prc == TR_EINTERNAL && c->act) { /* the adapter, not the frame */
            tr_nlog(pipe_node_log(f->node), TR_NLOG_ERROR, "conn", "adapter internal error",
                    TR_KV_STR("feed", f->cfg->name), TR_KV_INT("slot", c->slot), TR_KV_ERR(&err));
            tr_lact_fail(c->act, TR_EINTERNAL, "adapter internal error");
            return;
        }
        f->malformed++;
        tr_nlog(pipe_node_log(f->node), TR_NLOG_WARN, "conn", "malformed frame",
                TR_KV_STR("feed", f->cfg->name), TR_KV_ERR(&err));
        return;
    }
    if (c->frame.has_sid && c->frame.has_conn_seq && seq_hole(c))
        return;
    if (c->frame.ctl.kind != TR_CTL_DATA) {
        handle_ctl(c);
        return;
    }
    if (!pipe_node_accepting(f->node) || f->paused)
        return;
    c->data_frames++;
    if (!c->first_data_ns)
        c->first_data_ns = now;
    uint64_t offered = 0;
    pipe_node_set_frame_sent(f->node, c->frame.has_sent ? c->frame.sent_ns : 0);
    if (c->frame.has_sent)
        stamp_frame(now, c->frame.sent_ns);
    int rc = pipe_path_offer_frame(pipe_node_dedup(f->node), f->ops, &c->frame, c, f, &offered);
    pipe_node_set_frame_sent(f->node, 0);
    f->events += offered;
    if (rc < 0) {
        pipe_node_fatal(f->node, rc, "deduplicate/write");
        return;
    }
}

void pipe_feed_promote(struct pipe_feed *f, struct pipe_conn *c)
{
    c->incoming = 0;
    uv_timer_stop(&f->overlap_timer);
    f->active = c->slot;
    f->connected = c->subscribed;
    pipe_lact_conn_adopt(f, c); /* the primary actor owns it now; the rotation's ends */
}

/* make-before-break: rotate_overlap after the incoming connection was
 * subscribed, it becomes the active one and the old one is closed (the
 * deduplicator drops what both delivered meanwhile). While the primary
 * connection's actor waits for its restart nothing happens here: that
 * restart takes the incoming connection over. */
static void overlap_cb(uv_timer_t *t)
{
    struct pipe_feed *f = t->data;
    struct pipe_conn *c = &f->conn[1 - f->active];
    if (!c->incoming || c->state != PC_OPEN || pipe_node_stopping(f->node) || f->paused ||
        !pipe_lact_conn_up(f))
        return;
    struct pipe_conn *old = &f->conn[f->active];
    pipe_feed_promote(f, c);
    f->rotations++;
    old->retiring = 1;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "conn", "rotated", TR_KV_STR("feed", f->cfg->name),
            TR_KV_INT("slot", c->slot),
            TR_KV_INT("overlap_ms", (pipe_now_ns() - f->rot_sub_ns) / 1000000),
            TR_KV_UINT("new_data_frames", c->data_frames),
            TR_KV_UINT("old_frames_in_overlap", old->frames - f->rot_old_frames));
    pipe_conn_close(old, 1000);
}

int pipe_conn_established(struct pipe_conn *c)
{
    pipe_raw_open(c);
    if (pipe_node_stopping(c->feed->node)) {
        pipe_conn_close(c, 1001);
        return 0;
    }
    if (c->feed->paused) { /* paused while it was connecting */
        pipe_conn_close(c, 1000);
        return 0;
    }
    return send_subscribe(c) < 0 ? -1 : 0;
}

static void rotate_cb(uv_timer_t *t)
{
    pipe_feed_rotate(t->data);
}

void pipe_feed_rotate(struct pipe_feed *f)
{
    if (pipe_node_stopping(f->node) || f->paused)
        return;
    pipe_xrot_rotate(f); /* the overflow connections, each on its pair's other slot */
    int other = 1 - f->active;
    if (f->conn[f->active].state != PC_OPEN || f->conn[other].state != PC_IDLE)
        return;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_INFO, "conn", "rotation: opening new connection",
            TR_KV_STR("feed", f->cfg->name));
    f->reconnects[PC_C_ROTATE]++;
    /* (with actors: "conn-<feed>.next" starts and owns it) */
    if (pipe_conn_open(f, other) < 0)
        pipe_lact_conn_release(f, PL_NEXT); /* the rotation is over */
}

void pipe_feed_start_rotation(struct pipe_feed *f)
{
    if (f->cfg->rotate_s)
        uv_timer_start(&f->rotate_timer, rotate_cb, (uint64_t)f->cfg->rotate_s * 1000,
                       (uint64_t)f->cfg->rotate_s * 1000);
}

void pipe_feed_start(struct pipe_feed *f)
{
    /* timers were initialised with the feed (pipe_node.c) */
    pipe_feed_start_rotation(f);
    if (pipe_conn_open(f, f->active) < 0)
        schedule_reconnect(f, PC_C_REFUSED, 0);
    pipe_shed_kick(f); /* overflow connections of shed markets (after a pause) */
}
