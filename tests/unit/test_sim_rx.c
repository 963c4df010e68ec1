/* Client messages are outside input: each dialect's subscribe parser must
 * answer every message, well-formed or not, without crashing, and the
 * encoders must publish what a connection subscribed to. Drives the dialect
 * operations in process on a connection without a socket (no wsi): frames
 * are only queued, and the test reads the queue. Thousands of mutated
 * messages (byte flips, truncations, insertions) per dialect; run it under
 * TR_SANITIZE to catch memory errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

static const struct sim_dialect_ops *const ops[SIM_D_COUNT] = {&sim_native_ops, &sim_coinbase_ops,
                                                                &sim_binance_ops, &sim_kalshi_ops};

static const char *const samples[SIM_D_COUNT][3] = {
    {"{\"type\":\"subscribe\",\"channels\":[\"trade\",\"book\",\"ticker\"],\"instruments\":[\"SIM-0\",\"SIM-1\"]}",
     "{\"type\":\"unsubscribe\",\"channels\":[\"book\"],\"instruments\":[\"SIM-1\"]}",
     "{\"type\":\"subscribe\",\"instruments\":[\"SIM-2\"]}"},
    {"{\"type\":\"subscribe\",\"product_ids\":[\"SIM0-USD\"],\"channels\":[\"matches\",\"level2\",\"heartbeat\",\"ticker\"]}",
     "{\"type\":\"subscribe\",\"channels\":[{\"name\":\"ticker\",\"product_ids\":[\"SIM1-USD\",\"SIM2-USD\"]}]}",
     "{\"type\":\"unsubscribe\",\"product_ids\":[\"SIM0-USD\"],\"channels\":[\"level2\"]}"},
    {"{\"method\":\"SUBSCRIBE\",\"params\":[\"sim0usdt@trade\",\"sim1usdt@depth@100ms\",\"sim2usdt@bookTicker\"],\"id\":1}",
     "{\"method\":\"UNSUBSCRIBE\",\"params\":[\"sim0usdt@trade\"],\"id\":\"x\"}",
     "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":3}"},
    {"{\"id\":1,\"cmd\":\"subscribe\",\"params\":{\"channels\":[\"orderbook_delta\",\"trade\",\"ticker\"],"
     "\"market_tickers\":[\"KXSIM-26JAN01-T0\",\"KXSIM-26JAN01-T1\"]}}",
     "{\"id\":2,\"cmd\":\"unsubscribe\",\"params\":{\"sids\":[1,2,99]}}",
     "{\"id\":3,\"cmd\":\"subscribe\",\"params\":{\"channels\":[\"trade\"],\"market_ticker\":\"KXSIM-26JAN01-T2\"}}"},
};

struct rig {
    struct sim_server srv;
    struct sim_conn conn;
};

static void rig_init_n(struct rig *r, int d, uint32_t n_inst)
{
    memset(r, 0, sizeof *r);
    r->srv.cfg.queue_limit = 64u << 20;
    assert_int_equal(sim_exch_init(&r->srv.x[d], d, 1, n_inst, 1000, 60, 0, 0), 0);
    r->srv.active[d] = 1;
    struct sim_conn *c = &r->conn;
    c->srv = &r->srv;
    c->x = &r->srv.x[d];
    c->dialect = d;
    c->subs = calloc(n_inst, 1);
    tr_buf_init(&c->rx);
    tr_buf_init(&c->out);
}

static void rig_init(struct rig *r, int d)
{
    rig_init_n(r, d, 3);
}

/* Frees queued frames; returns how many there were. */
static size_t drain(struct sim_conn *c)
{
    size_t n = 0;
    sim_conn_seal(c); /* the open native batch too */
    for (struct sim_frame *f = c->qhead, *next; f; f = next) {
        next = f->next;
        free(f);
        n++;
    }
    c->qhead = c->qtail = NULL;
    c->qbytes = 0;
    return n;
}

static void rig_free(struct rig *r, int d)
{
    drain(&r->conn);
    free(r->conn.subs);
    tr_buf_free(&r->conn.rx);
    tr_buf_free(&r->conn.out);
    free(r->conn.toks);
    sim_exch_free(&r->srv.x[d]);
}

static void every_valid_subscribe_is_answered(void **state)
{
    for (int d = 0; d < SIM_D_COUNT; d++) {
        struct rig r;
        rig_init(&r, d);
        for (int k = 0; k < 3; k++) {
            ops[d]->rx(&r.conn, samples[d][k], strlen(samples[d][k]));
            if (drain(&r.conn) == 0)
                fail_msg("%s: no answer to %s", sim_dialects[d].name, samples[d][k]);
        }
        rig_free(&r, d);
    }
}

static void subscribed_events_are_published(void **state)
{
    for (int d = 0; d < SIM_D_COUNT; d++) {
        struct rig r;
        rig_init(&r, d);
        ops[d]->rx(&r.conn, samples[d][0], strlen(samples[d][0]));
        drain(&r.conn);
        struct sim_ev ev[400];
        for (int i = 0; i < 400; i++)
            sim_exch_next(r.conn.x, &ev[i]);
        /* the native encoder needs the per-tick JSON texts */
        struct tr_buf js;
        tr_buf_init(&js);
        size_t off[401];
        for (int i = 0; i < 400; i++) {
            struct tr_event e;
            struct tr_level lv[2];
            off[i] = js.len;
            sim_ev_to_event(r.conn.x, &ev[i], &e, lv);
            tr_event_to_json(&e, &js);
            tr_buf_append(&js, "\n", 1); /* each text ends with a newline */
        }
        off[400] = js.len;
        struct sim_tick tk = {&js, off};
        ops[d]->publish(&r.conn, ev, 400, &tk);
        assert_true(drain(&r.conn) > 0);
        assert_true(r.srv.ev_sent > 0);
        tr_buf_free(&js);
        rig_free(&r, d);
    }
}

static void mutated_messages_never_crash(void **state)
{
    uint64_t h = 12345;
    char buf[1024];
    for (int d = 0; d < SIM_D_COUNT; d++) {
        struct rig r;
        rig_init(&r, d);
        for (int round = 0; round < 3000; round++) {
            const char *src = samples[d][round % 3];
            size_t n = strlen(src);
            memcpy(buf, src, n);
            int edits = 1 + (int)((h = sim_mix(h)) % 4);
            for (int e = 0; e < edits; e++) {
                h = sim_mix(h);
                size_t at = (size_t)(h % (n ? n : 1));
                switch ((h >> 32) % 4) {
                case 0: buf[at] = (char)(h >> 40); break;           /* flip a byte */
                case 1: n = at; break;                              /* truncate */
                case 2:                                             /* duplicate a span */
                    if (n + 16 < sizeof buf) {
                        memmove(buf + at + 16, buf + at, n - at);
                        n += 16;
                    }
                    break;
                default: buf[at] = "{}[]\",:\\0"[(h >> 40) % 9]; break; /* structure */
                }
            }
            ops[d]->rx(&r.conn, buf, n);
            drain(&r.conn);
        }
        rig_free(&r, d);
    }
}

/* The tick's native texts for ev[0..n) (each followed by '\n'). */
static void native_texts(const struct sim_exch *x, const struct sim_ev *ev, size_t n,
                         struct tr_buf *js, size_t *off)
{
    js->len = 0;
    for (size_t i = 0; i < n; i++) {
        off[i] = js->len;
        assert_int_equal(sim_nj_event(x, &ev[i], js), 0);
        assert_int_equal(tr_buf_append(js, "\n", 1), 0);
    }
    off[n] = js->len;
}

/* Native batches: events of several ticks share one open batch until it is
 * cut (the socket writeable, here sim_conn_seal); a heartbeat cuts it first
 * so the wire keeps generation order; a batch is cut at SIM_BATCH_BYTES;
 * every batch carries the 19-digit sent_ns and parses as JSON with all its
 * events in order. */
static void native_batches_grow_until_cut_and_keep_order(void **state)
{
    enum { TICK = 50, TICKS = 4, BIG = 4000 };
    struct rig r;
    rig_init(&r, SIM_D_NATIVE);
    struct sim_conn *c = &r.conn;
    ops[SIM_D_NATIVE]->rx(c, samples[SIM_D_NATIVE][0], strlen(samples[SIM_D_NATIVE][0]));
    drain(c);
    static struct sim_ev ev[BIG];
    static size_t off[BIG + 1];
    struct tr_buf js;
    tr_buf_init(&js);
    uint64_t sent0 = r.srv.ev_sent;
    for (int t = 0; t < TICKS; t++) { /* four ticks, the peer never writeable */
        for (int i = 0; i < TICK; i++)
            sim_exch_next(c->x, &ev[i]);
        native_texts(c->x, ev, TICK, &js, off);
        struct sim_tick tk = {&js, off};
        ops[SIM_D_NATIVE]->publish(c, ev, TICK, &tk);
    }
    uint64_t published = r.srv.ev_sent - sent0;
    assert_true(published > 0);
    assert_null(c->qhead);      /* nothing cut yet: one open batch */
    assert_non_null(c->pend);
    assert_int_equal(c->pend->nev, published);
    ops[SIM_D_NATIVE]->second(c, 1); /* a heartbeat: cuts the batch first */
    assert_null(c->pend);
    assert_non_null(c->qhead);
    assert_non_null(c->qhead->next);
    assert_null(c->qhead->next->next);
    struct sim_frame *b = c->qhead, *hb = b->next;
    assert_int_equal(b->nev, published);
    assert_int_equal(b->stamp_off, strlen(SIM_BATCH_HEAD));
    assert_true(memcmp(sim_frame_text(b), SIM_BATCH_HEAD, b->stamp_off) == 0);
    assert_true(memcmp(sim_frame_text(hb), "{\"type\":\"heartbeat\"", 19) == 0);
    static struct tr_json_tok toks[1 << 16];
    const char *txt = (const char *)sim_frame_text(b);
    assert_true(tr_json_parse(txt, b->len, toks, 1 << 16, NULL) > 0);
    int evs = tr_json_get(txt, toks, 0, "events");
    assert_true(evs > 0);
    assert_int_equal(toks[evs].count, published);
    assert_int_equal(c->qbytes, b->len + hb->len); /* queued bytes add up */
    drain(c);
    /* a burst larger than the bound: several frames, each cut near it */
    for (int i = 0; i < BIG; i++)
        sim_exch_next(c->x, &ev[i]);
    native_texts(c->x, ev, BIG, &js, off);
    struct sim_tick tk = {&js, off};
    ops[SIM_D_NATIVE]->publish(c, ev, BIG, &tk);
    sim_conn_seal(c);
    size_t frames = 0;
    for (struct sim_frame *f = c->qhead; f; f = f->next, frames++)
        assert_true(f->len <= SIM_BATCH_BYTES + SIM_NJ_MAX + 2);
    assert_true(frames >= 2);
    assert_true(js.len / SIM_BATCH_BYTES <= frames);
    tr_buf_free(&js);
    rig_free(&r, SIM_D_NATIVE);
}

/* Subscribing to thousands of instruments in one message works in every
 * dialect (the token buffer grows with the message). */
static void thousands_of_instruments_in_one_subscribe(void **state)
{
    enum { N = 3000 };
    for (int d = 0; d < SIM_D_COUNT; d++) {
        struct rig r;
        rig_init_n(&r, d, N);
        struct tr_buf m;
        tr_buf_init(&m);
        static const char *const head[SIM_D_COUNT] = {
            "{\"type\":\"subscribe\",\"channels\":[\"trade\"],\"instruments\":[",
            "{\"type\":\"subscribe\",\"channels\":[\"matches\"],\"product_ids\":[",
            "{\"method\":\"SUBSCRIBE\",\"id\":1,\"params\":[",
            "{\"id\":1,\"cmd\":\"subscribe\",\"params\":{\"channels\":[\"trade\"],\"market_tickers\":["};
        sim_put(&m, head[d]);
        for (uint32_t i = 0; i < N; i++) {
            char name[SIM_NAME_MAX];
            sim_inst_name(d, i, name, sizeof name);
            if (d == SIM_D_BINANCE)
                for (char *p = name; *p; p++)
                    *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            sim_putf(&m, "%s\"%s%s\"", i ? "," : "", name, d == SIM_D_BINANCE ? "@trade" : "");
        }
        sim_put(&m, d == SIM_D_KALSHI ? "]}}" : d == SIM_D_BINANCE ? "]}" : "]}");
        ops[d]->rx(&r.conn, (const char *)m.data, m.len);
        assert_int_equal(r.conn.n_subs, N);
        tr_buf_free(&m);
        rig_free(&r, d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_valid_subscribe_is_answered),
        cmocka_unit_test(subscribed_events_are_published),
        cmocka_unit_test(native_batches_grow_until_cut_and_keep_order),
        cmocka_unit_test(mutated_messages_never_crash),
        cmocka_unit_test(thousands_of_instruments_in_one_subscribe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
