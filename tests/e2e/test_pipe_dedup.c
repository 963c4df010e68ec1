/* Unit tests of the node's deduplicator (node/pipe_dedup.c): order, native-
 * id dedup, trade repair by backfill, unrecoverable holes as explicit gap
 * events, book resync from a snapshot with buffered deltas. The callbacks
 * record what would reach the writer; no I/O, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pipe.h"

struct rec {
    uint8_t kind;
    uint64_t seq, from, to;
};

struct fx {
    struct pipe_dedup d;
    struct rec out[256];
    size_t n;
    int backfills, snapshots;
    struct tr_event_scratch sc;
};

static int emit_cb(void *arg, struct pd_stream *s, uint64_t seq, const struct tr_event *ev,
                   const uint8_t *enc, size_t len)
{
    struct fx *f = arg;
    (void)s;
    struct tr_event e;
    if (!ev) {
        size_t used;
        struct tr_error err;
        assert_int_equal(tr_event_decode(enc, len, &used, &e, &f->sc, &err), 0);
        ev = &e;
    }
    assert_true(f->n < 256);
    f->out[f->n++] = (struct rec){ev->kind, seq, ev->from_seq, ev->to_seq};
    return 0;
}

static void want_backfill(void *arg, struct pd_stream *s)
{
    struct fx *f = arg;
    s->req_out = 1;
    f->backfills++;
}

static void want_snapshot(void *arg, struct pd_stream *s)
{
    struct fx *f = arg;
    s->req_out = 1;
    f->snapshots++;
}

static const struct tr_stream_desc trade_desc = {TR_KIND_TRADE, TR_IDENT_TRADE_ID,
                                                 TR_GAP_CONTIGUOUS, TR_RESYNC_BACKFILL_ID};
static const struct tr_stream_desc book_desc = {TR_KIND_BOOK_DELTA, TR_IDENT_EXCHANGE_SEQ,
                                                TR_GAP_CHAIN, TR_RESYNC_SNAPSHOT};

static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof f);
    struct pd_ops ops = {&f, emit_cb, want_backfill, want_snapshot};
    assert_int_equal(pipe_dedup_init(&f.d, &ops, 1000, 7), 0);
    tr_event_scratch_init(&f.sc);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    pipe_dedup_close(&f->d);
    tr_event_scratch_free(&f->sc);
    return 0;
}

static struct tr_event trade(uint64_t id)
{
    struct tr_event e;
    tr_event_init(&e);
    e.kind = TR_KIND_TRADE;
    strcpy(e.provider, "sim");
    strcpy(e.instrument, "X");
    snprintf(e.id, sizeof e.id, "%llu", (unsigned long long)id);
    e.seq = id;
    e.fields = TR_F_ID | TR_F_SEQ;
    return e;
}

static struct tr_event delta(uint64_t seq, int snapshot)
{
    struct tr_event e;
    tr_event_init(&e);
    e.kind = snapshot ? TR_KIND_BOOK_SNAPSHOT : TR_KIND_BOOK_DELTA;
    strcpy(e.provider, "sim");
    strcpy(e.instrument, "X");
    e.seq = seq;
    e.fields = TR_F_SEQ;
    return e;
}

static void trades_in_order_and_duplicates_dropped(void **state)
{
    struct fx *f = *state;
    struct pd_stream *s = pipe_dedup_stream(&f->d, "sim", TR_KIND_TRADE, "X", &trade_desc);
    assert_non_null(s);
    uint64_t ids[] = {1, 2, 2, 3, 1, 4};
    for (size_t i = 0; i < 6; i++) {
        struct tr_event e = trade(ids[i]);
        assert_int_equal(pipe_dedup_offer(&f->d, s, &e, NULL), 0);
    }
    assert_int_equal(f->n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(f->out[i].seq, i + 1);
    assert_int_equal(s->dups, 2);
    assert_int_equal(f->backfills, 0);
}

static void trade_hole_is_backfilled_then_buffer_drains(void **state)
{
    struct fx *f = *state;
    struct pd_stream *s = pipe_dedup_stream(&f->d, "sim", TR_KIND_TRADE, "X", &trade_desc);
    struct tr_event e = trade(1);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    e = trade(5);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    e = trade(6);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->backfills, 1);
    assert_int_equal(s->state, PD_REPAIRING);
    struct tr_event page[4] = {trade(2), trade(3), trade(4), trade(5)};
    assert_int_equal(pipe_dedup_backfill(&f->d, s, page, 4, 0, 0), 0);
    assert_int_equal(f->n, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(f->out[i].kind, TR_KIND_TRADE);
        assert_int_equal(f->out[i].seq, i + 1);
    }
    assert_int_equal(s->state, PD_LIVE);
    assert_int_equal(s->gaps_filled, 1);
}

static void unrecoverable_trades_become_one_gap_event(void **state)
{
    struct fx *f = *state;
    struct pd_stream *s = pipe_dedup_stream(&f->d, "sim", TR_KIND_TRADE, "X", &trade_desc);
    struct tr_event e = trade(1);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    e = trade(10);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    /* REST has 2..4 but 5..9 are gone */
    struct tr_event page[3] = {trade(2), trade(3), trade(4)};
    assert_int_equal(pipe_dedup_backfill(&f->d, s, page, 3, 0, 0), 0);
    assert_int_equal(f->n, 6); /* 1, 2, 3, 4, gap 5-9, 10 */
    assert_int_equal(f->out[4].kind, TR_KIND_GAP);
    assert_int_equal(f->out[4].from, 5);
    assert_int_equal(f->out[4].to, 9);
    assert_int_equal(f->out[5].seq, 10);
    assert_int_equal(s->gaps_unfilled, 1);
}

static void book_buffers_until_snapshot_and_resyncs_after_gap(void **state)
{
    struct fx *f = *state;
    struct pd_stream *s = pipe_dedup_stream(&f->d, "sim", TR_KIND_BOOK_DELTA, "X", &book_desc);
    struct tr_event e = delta(5, 0);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    e = delta(6, 0);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    assert_int_equal(f->n, 0);
    assert_int_equal(f->snapshots, 1);
    /* a snapshot at 5: delta 5 is in it, 6 follows */
    e = delta(5, 1);
    assert_int_equal(pipe_dedup_snapshot(&f->d, s, &e), 0);
    assert_int_equal(f->n, 2);
    assert_int_equal(f->out[0].kind, TR_KIND_BOOK_SNAPSHOT);
    assert_int_equal(f->out[1].seq, 6);
    e = delta(7, 0);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    e = delta(12, 0); /* 8..11 lost */
    pipe_dedup_offer(&f->d, s, &e, NULL);
    assert_int_equal(f->snapshots, 2);
    /* too old a snapshot is refused and another one asked for */
    e = delta(9, 1);
    pipe_dedup_snapshot(&f->d, s, &e);
    assert_int_equal(f->snapshots, 3);
    assert_int_equal(f->n, 3);
    e = delta(13, 0);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    e = delta(12, 1);
    assert_int_equal(pipe_dedup_snapshot(&f->d, s, &e), 0);
    /* gap 8..12, snapshot 12, delta 13 */
    assert_int_equal(f->n, 6);
    assert_int_equal(f->out[3].kind, TR_KIND_GAP);
    assert_int_equal(f->out[3].from, 8);
    assert_int_equal(f->out[3].to, 12);
    assert_int_equal(f->out[4].kind, TR_KIND_BOOK_SNAPSHOT);
    assert_int_equal(f->out[5].seq, 13);
}

/* A snapshot skipped after persistent failures (pipe_rest.c): one gap over
 * what the book misses and buffered, nothing drained without a base; a
 * snapshot older than that gap's end is refused, one at its end starts the
 * book again, and deltas after it follow. */
static void skipped_snapshot_writes_gap_and_needs_a_newer_base(void **state)
{
    struct fx *f = *state;
    struct pd_stream *s = pipe_dedup_stream(&f->d, "sim", TR_KIND_BOOK_DELTA, "X", &book_desc);
    struct tr_event e = delta(5, 1);
    assert_int_equal(pipe_dedup_snapshot(&f->d, s, &e), 0);
    e = delta(6, 0);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    e = delta(9, 0); /* 7..8 lost: a snapshot is asked for */
    pipe_dedup_offer(&f->d, s, &e, NULL);
    e = delta(10, 0);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    assert_int_equal(f->snapshots, 1);
    assert_int_equal(f->n, 2);
    /* the REST poller gives up on it: gap 7..10 (9 and 10 have no base) */
    assert_int_equal(pipe_dedup_snapshot_skipped(&f->d, s), 0);
    assert_int_equal(f->n, 3);
    assert_int_equal(f->out[2].kind, TR_KIND_GAP);
    assert_int_equal(f->out[2].from, 7);
    assert_int_equal(f->out[2].to, 10);
    assert_int_equal(s->req_out, 1); /* asked again later, not at every delta */
    e = delta(11, 0);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    assert_int_equal(f->n, 3); /* buffered: no base */
    assert_int_equal(f->snapshots, 1);
    /* the later snapshot is older than the gap's end: a newer one */
    s->req_out = 0;
    e = delta(8, 1);
    assert_int_equal(pipe_dedup_snapshot(&f->d, s, &e), 0);
    assert_int_equal(f->snapshots, 2);
    assert_int_equal(f->n, 3);
    /* at the gap's end exactly: it is the base, delta 11 follows */
    e = delta(10, 1);
    assert_int_equal(pipe_dedup_snapshot(&f->d, s, &e), 0);
    assert_int_equal(f->n, 5);
    assert_int_equal(f->out[3].kind, TR_KIND_BOOK_SNAPSHOT);
    assert_int_equal(f->out[3].seq, 10);
    assert_int_equal(f->out[4].seq, 11);
    assert_int_equal(s->need_base, 0);
    /* skipped again, then a snapshot past the gap: gap, snapshot, deltas */
    e = delta(14, 0);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    assert_int_equal(pipe_dedup_snapshot_skipped(&f->d, s), 0);
    assert_int_equal(f->out[5].kind, TR_KIND_GAP);
    assert_int_equal(f->out[5].from, 12);
    assert_int_equal(f->out[5].to, 14);
    e = delta(16, 0);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    s->req_out = 0;
    e = delta(15, 1);
    assert_int_equal(pipe_dedup_snapshot(&f->d, s, &e), 0);
    assert_int_equal(f->n, 9);
    assert_int_equal(f->out[6].kind, TR_KIND_GAP); /* 15: superseded by the snapshot */
    assert_int_equal(f->out[6].from, 15);
    assert_int_equal(f->out[6].to, 15);
    assert_int_equal(f->out[7].kind, TR_KIND_BOOK_SNAPSHOT);
    assert_int_equal(f->out[8].seq, 16);
}

static void restored_position_makes_replays_duplicates(void **state)
{
    struct fx *f = *state;
    pipe_dedup_restore(&f->d, "sim/trade/X", 11, 40, 0, 0);
    struct pd_stream *s = pipe_dedup_stream(&f->d, "sim", TR_KIND_TRADE, "X", &trade_desc);
    assert_int_equal(s->last, 40);
    struct tr_event e = trade(40);
    pipe_dedup_offer(&f->d, s, &e, NULL);
    assert_int_equal(f->n, 0);
    pipe_dedup_resume(&f->d, s); /* new connection: backfill the downtime */
    assert_int_equal(f->backfills, 1);
    struct tr_event page[2] = {trade(41), trade(42)};
    pipe_dedup_backfill(&f->d, s, page, 2, 0, 0);
    assert_int_equal(f->n, 2);
    assert_int_equal(f->out[1].seq, 42);
}

static const struct tr_stream_desc conn_desc = {TR_KIND_BOOK_DELTA, TR_IDENT_CONNECTION,
                                                TR_GAP_NONE, TR_RESYNC_RESUBSCRIBE};

static void per_connection_book_switches_source_only_at_a_snapshot(void **state)
{
    struct fx *f = *state;
    int conn_a, conn_b; /* two connections' identities */
    struct pd_stream *s = pipe_dedup_stream(&f->d, "sim", TR_KIND_BOOK_DELTA, "X", &conn_desc);
    assert_int_equal(s->mode, PD_MODE_CONN);
    struct tr_event d0 = delta(0, 0), snap = delta(0, 1);
    d0.fields = snap.fields = 0; /* Coinbase level2: no sequence at all */
    pipe_dedup_offer(&f->d, s, &d0, &conn_a); /* before any snapshot: dropped */
    pipe_dedup_offer(&f->d, s, &snap, &conn_a);
    pipe_dedup_offer(&f->d, s, &d0, &conn_a);
    pipe_dedup_offer(&f->d, s, &d0, &conn_b); /* a second connection (rotation) */
    assert_int_equal(f->n, 2);
    pipe_dedup_offer(&f->d, s, &snap, &conn_b); /* b's snapshot: b owns it now */
    pipe_dedup_offer(&f->d, s, &d0, &conn_a);   /* a is ignored from here */
    pipe_dedup_offer(&f->d, s, &d0, &conn_b);
    assert_int_equal(f->n, 4);
    pipe_dedup_source_lost(&f->d, &conn_b); /* b dropped: a gap before the next snapshot */
    pipe_dedup_offer(&f->d, s, &d0, &conn_a);
    pipe_dedup_offer(&f->d, s, &snap, &conn_a);
    assert_int_equal(f->n, 6);
    assert_int_equal(f->out[4].kind, TR_KIND_GAP);
    assert_int_equal(f->out[5].kind, TR_KIND_BOOK_SNAPSHOT);
    for (size_t i = 0; i < f->n; i++) /* node-assigned, strictly increasing */
        assert_int_equal(f->out[i].seq, i + 1);
    assert_int_equal(s->foreign, 4);
}

static void ticker_with_exchange_seq_drops_replays(void **state)
{
    struct fx *f = *state;
    static const struct tr_stream_desc tick = {TR_KIND_TICKER, TR_IDENT_EXCHANGE_SEQ, TR_GAP_NONE,
                                               TR_RESYNC_NONE};
    struct pd_stream *s = pipe_dedup_stream(&f->d, "sim", TR_KIND_TICKER, "X", &tick);
    uint64_t seqs[] = {10, 14, 14, 12, 30};
    for (size_t i = 0; i < 5; i++) {
        struct tr_event e = delta(seqs[i], 0);
        e.kind = TR_KIND_TICKER;
        pipe_dedup_offer(&f->d, s, &e, NULL);
    }
    assert_int_equal(f->n, 3); /* 10, 14, 30: jumps are normal, replays are not */
    assert_int_equal(f->out[2].seq, 30);
    assert_int_equal(f->backfills + f->snapshots, 0);
}

static void uuid_trades_dedup_by_id_and_backfill_merges_by_time(void **state)
{
    struct fx *f = *state;
    static const struct tr_stream_desc kal = {TR_KIND_TRADE, TR_IDENT_TRADE_ID, TR_GAP_CONNECTION,
                                              TR_RESYNC_BACKFILL_CURSOR};
    struct pd_stream *s = pipe_dedup_stream(&f->d, "sim", TR_KIND_TRADE, "X", &kal);
    assert_int_equal(s->mode, PD_MODE_IDSET);
    const char *ids[] = {"a-1", "b-2", "a-1", "c-3"};
    int64_t ts[] = {1000, 2000, 1000, 3000};
    for (size_t i = 0; i < 4; i++) {
        struct tr_event e = trade(0);
        strcpy(e.id, ids[i]);
        e.fields = TR_F_ID | TR_F_TS_EXCHANGE;
        e.ts_exchange = ts[i] * 1000000000ll;
        pipe_dedup_offer(&f->d, s, &e, NULL);
    }
    assert_int_equal(f->n, 3);
    assert_int_equal(s->dups, 1);
    /* reconnect: backfill by time from 2 s before the last trade */
    pipe_dedup_resume(&f->d, s);
    assert_int_equal(f->backfills, 1);
    assert_int_equal(s->since_ns, 2998 * 1000000000ll);
    struct tr_event live = trade(0);
    strcpy(live.id, "e-5");
    live.fields = TR_F_ID | TR_F_TS_EXCHANGE;
    live.ts_exchange = 5000 * 1000000000ll;
    pipe_dedup_offer(&f->d, s, &live, NULL); /* held while repairing */
    assert_int_equal(f->n, 3);
    struct tr_event page[2] = {trade(0), trade(0)};
    strcpy(page[0].id, "c-3");
    strcpy(page[1].id, "d-4"); /* missed while disconnected */
    page[0].fields = page[1].fields = TR_F_ID | TR_F_TS_EXCHANGE;
    page[0].ts_exchange = 3000 * 1000000000ll;
    page[1].ts_exchange = 4000 * 1000000000ll;
    assert_int_equal(pipe_dedup_backfill(&f->d, s, page, 2, 0, 0), 0);
    assert_int_equal(f->n, 5); /* d-4 then e-5, in time order; c-3 known */
    for (size_t i = 0; i < f->n; i++)
        assert_int_equal(f->out[i].seq, i + 1);
    assert_int_equal(s->state, PD_LIVE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(trades_in_order_and_duplicates_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(trade_hole_is_backfilled_then_buffer_drains, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unrecoverable_trades_become_one_gap_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(book_buffers_until_snapshot_and_resyncs_after_gap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(skipped_snapshot_writes_gap_and_needs_a_newer_base, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(restored_position_makes_replays_duplicates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(per_connection_book_switches_source_only_at_a_snapshot,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(ticker_with_exchange_seq_drops_replays, setup, teardown),
        cmocka_unit_test_setup_teardown(uuid_trades_dedup_by_id_and_backfill_merges_by_time, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
