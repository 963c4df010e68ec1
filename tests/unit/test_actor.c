/* Actor runtime: send/call/reply, bounded mailbox backpressure, draining
 * stop, crash accounting, timers, lifecycle monitors, batching, errors. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_actor_util.h"
#include "tickraft/event.h"

#define T_BLOCK 100   /* handler waits on the gate */
#define T_CRASH 101   /* handler returns TR_EIO */
#define T_GET   102   /* reply with the test actor's counters */
#define T_EVENTS 103  /* a tr_batch of tr_event_encode'd events: decode all */

struct tstate {
    struct gate *gate;
    uint64_t handled, ticks, ups, downs;
    int last_down_reason;
};

static int t_init(struct tr_actor *self, void *arg, void **state)
{
    struct tstate *s = calloc(1, sizeof *s);
    s->gate = arg;
    *state = s;
    if (strcmp(tr_actor_name(self), "ticker") == 0)
        tr_actor_timer_start(self, 1, 1, 7, NULL);
    if (strcmp(tr_actor_name(self), "watcher") == 0)
        tr_actor_monitor(self, "watched");
    return 0;
}

static int t_handle(struct tr_actor *self, void *state, const struct tr_msg *m)
{
    struct tstate *s = state;
    s->handled++;
    if (m->type == T_BLOCK)
        gate_pass(s->gate);
    else if (m->type == T_CRASH)
        return TR_EIO;
    else if (m->type == 7)
        s->ticks++;
    else if (m->type == TR_MSG_LIFECYCLE) {
        struct tr_lifecycle ev;
        assert_int_equal(tr_lifecycle_decode(m, &ev), 0);
        assert_string_equal(ev.name, "watched");
        if (ev.event == TR_LIFECYCLE_UP)
            s->ups++;
        else {
            s->downs++;
            s->last_down_reason = ev.reason;
        }
    } else if (m->type == T_EVENTS) {
        uint32_t n;
        size_t used, off;
        assert_int_equal(tr_event_batch_header(m->payload, m->len, &n, &used, NULL), 0);
        off = used;
        struct tr_event_scratch sc;
        tr_event_scratch_init(&sc);
        for (uint32_t i = 0; i < n; i++) {
            struct tr_event ev;
            assert_int_equal(tr_event_decode(m->payload + off, m->len - off, &used, &ev, &sc, NULL), 0);
            assert_string_equal(ev.instrument, "BTC-USD");
            assert_int_equal(ev.seq, s->ticks + 1);
            s->ticks++; /* events decoded, in order */
            off += used;
        }
        assert_int_equal(off, m->len);
        tr_event_scratch_free(&sc);
    } else if (m->type == T_GET) {
        uint64_t v[4] = {s->handled - 1, s->ticks, s->ups, s->downs};
        tr_actor_reply(self, m, v, sizeof v);
    }
    return 0;
}

static void t_term(struct tr_actor *self, void *state, int reason)
{
    (void)self;
    (void)reason;
    free(state);
}

static const struct tr_actor_def tdef = {"test", t_init, t_handle, t_term};

struct fx {
    struct tr_system *sys;
    struct tr_actor *client;
};

static int setup(void **st)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(tr_system_alloc(&(struct tr_system_opts){.name = "t"}, &f->sys, NULL), 0);
    assert_int_equal(tr_actor_client_open(f->sys, "client", &f->client, NULL), 0);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;
    tr_actor_client_close(f->client);
    tr_system_free(f->sys);
    free(f);
    return 0;
}

static void get_counts(struct fx *f, const char *name, uint64_t v[4])
{
    struct tr_reply r;
    assert_int_equal(tr_actor_call(f->client, name, T_GET, NULL, 0, 5000, &r), 0);
    assert_int_equal(r.len, 4 * sizeof(uint64_t));
    memcpy(v, r.data, r.len);
    tr_reply_free(&r);
}

static void call_echo_returns_payload_and_send_is_handled_in_order(void **st)
{
    struct fx *f = *st;
    struct tr_actor *a;
    assert_int_equal(tr_actor_spawn(f->sys, "echo", &tr_actor_diag_def, NULL, NULL, &a, NULL), 0);
    struct tr_reply r;
    assert_int_equal(tr_actor_call(f->client, "echo", TR_DIAG_ECHO, "hello", 5, 5000, &r), 0);
    assert_int_equal(r.len, 5);
    assert_memory_equal(r.data, "hello", 5);
    tr_reply_free(&r);
    for (int i = 0; i < 10; i++)
        assert_int_equal(tr_actor_send(f->client, "echo", 42, "x", 1, -1), 0);
    assert_int_equal(tr_actor_call(f->client, "echo", TR_DIAG_COUNT, NULL, 0, 5000, &r), 0);
    uint8_t *p = r.data;
    assert_int_equal(p[7], 11); /* the call, then 10 sends before this call */
    tr_reply_free(&r);
    tr_actor_stop(a, 1);
    assert_int_equal(tr_actor_join(a), TR_EXIT_SHUTDOWN);
}

static void call_without_reply_times_out(void **st)
{
    struct fx *f = *st;
    struct tr_actor *a;
    assert_int_equal(tr_actor_spawn(f->sys, "mute", &tr_actor_diag_def, NULL, NULL, &a, NULL), 0);
    struct tr_reply r;
    assert_int_equal(tr_actor_call(f->client, "mute", 77, NULL, 0, 20, &r), TR_ETIMEDOUT);
    assert_null(r.data);
    tr_actor_stop(a, 0);
    tr_actor_join(a);
}

static void unknown_name_and_dead_url_are_errors(void **st)
{
    struct fx *f = *st;
    assert_int_equal(tr_actor_send(f->client, "nobody", 1, NULL, 0, 0), TR_ENOTFOUND);
    assert_int_equal(tr_actor_send(f->client, "inproc://nothing.here", 1, NULL, 0, 0),
                     TR_ECONNREFUSED);
}

/* The mailbox holds hwm messages (plus a small bounded nng queue); past it a
 * sender gets TR_EOVERLOADED, and every accepted message is handled. */
static void full_mailbox_returns_overloaded_and_drops_nothing(void **st)
{
    struct fx *f = *st;
    struct gate g = GATE_INIT;
    struct tr_actor *a;
    struct tr_actor_opts o = {.mailbox_hwm = 8};
    assert_int_equal(tr_actor_spawn(f->sys, "slow", &tdef, &g, &o, &a, NULL), 0);
    assert_int_equal(tr_actor_send(f->client, "slow", T_BLOCK, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL(atomic_load(&g.waiting) == 1));
    int accepted = 0, rc = 0;
    for (int i = 0; i < 1000; i++) {
        rc = tr_actor_send(f->client, "slow", 1, "m", 1, 20);
        if (rc)
            break;
        accepted++;
    }
    assert_int_equal(rc, TR_EOVERLOADED);
    assert_true(accepted >= 8);
    assert_true(accepted <= 8 + 16 + 4); /* ring + sender queue + nng pipes */
    /* once full, a sender that will not wait gets the same answer */
    assert_int_equal(tr_actor_send(f->client, "slow", 1, "m", 1, 0), TR_EOVERLOADED);
    struct tr_actor_stats stats;
    assert_int_equal(tr_system_stats(f->sys, "slow", &stats), 0);
    assert_int_equal(stats.mailbox_hwm, 8);
    assert_int_equal(stats.mailbox_depth, 8);
    gate_open(&g);
    uint64_t v[4];
    get_counts(f, "slow", v);
    assert_int_equal(v[0], (uint64_t)accepted + 1);
    tr_actor_stop(a, 1);
    tr_actor_join(a);
    assert_int_equal(tr_system_stats(f->sys, "slow", &stats), 0);
    assert_int_equal(stats.dropped, 0);
}

/* stop(drain=1) handles everything queued before exiting. */
static void draining_stop_handles_queued_messages(void **st)
{
    struct fx *f = *st;
    struct gate g = GATE_INIT;
    struct tr_actor *a;
    assert_int_equal(tr_actor_spawn(f->sys, "drain", &tdef, &g, NULL, &a, NULL), 0);
    assert_int_equal(tr_actor_send(f->client, "drain", T_BLOCK, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL(atomic_load(&g.waiting) == 1));
    for (int i = 0; i < 100; i++)
        assert_int_equal(tr_actor_send(f->client, "drain", 1, NULL, 0, -1), 0);
    tr_actor_stop(a, 1);
    gate_open(&g);
    assert_int_equal(tr_actor_join(a), TR_EXIT_SHUTDOWN);
    struct tr_actor_stats s;
    assert_int_equal(tr_system_stats(f->sys, "drain", &s), 0);
    assert_int_equal(s.handled, 101);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.running, 0);
}

/* A handler error ends the actor with that code; queued messages are
 * counted as dropped, not silently lost. */
static void handler_error_crashes_actor_and_counts_dropped(void **st)
{
    struct fx *f = *st;
    struct gate g = GATE_INIT;
    struct tr_actor *a;
    assert_int_equal(tr_actor_spawn(f->sys, "crashy", &tdef, &g, NULL, &a, NULL), 0);
    assert_int_equal(tr_actor_send(f->client, "crashy", T_BLOCK, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL(atomic_load(&g.waiting) == 1));
    assert_int_equal(tr_actor_send(f->client, "crashy", T_CRASH, NULL, 0, -1), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tr_actor_send(f->client, "crashy", 1, NULL, 0, -1), 0);
    struct tr_actor_stats s;
    assert_true(POLL_UNTIL(tr_system_stats(f->sys, "crashy", &s) == 0 && s.mailbox_depth == 6));
    gate_open(&g);
    assert_int_equal(tr_actor_join(a), TR_EIO);
    assert_int_equal(tr_system_stats(f->sys, "crashy", &s), 0);
    assert_int_equal(s.handled, 2);
    assert_int_equal(s.dropped, 5);
    assert_int_equal(s.last_exit_reason, TR_EIO);
}

static void timer_delivers_messages_to_handler(void **st)
{
    struct fx *f = *st;
    struct tr_actor *a;
    assert_int_equal(tr_actor_spawn(f->sys, "ticker", &tdef, NULL, NULL, &a, NULL), 0);
    uint64_t v[4] = {0};
    assert_true(POLL_UNTIL((get_counts(f, "ticker", v), v[1] >= 3)));
    tr_actor_stop(a, 0);
    tr_actor_join(a);
}

static void monitor_sees_up_and_down_with_reason(void **st)
{
    struct fx *f = *st;
    struct gate g = GATE_INIT;
    struct tr_actor *w, *x;
    assert_int_equal(tr_actor_spawn(f->sys, "watcher", &tdef, NULL, NULL, &w, NULL), 0);
    assert_int_equal(tr_actor_spawn(f->sys, "watched", &tdef, &g, NULL, &x, NULL), 0);
    assert_int_equal(tr_actor_send(f->client, "watched", T_CRASH, NULL, 0, -1), 0);
    assert_int_equal(tr_actor_join(x), TR_EIO);
    uint64_t v[4] = {0};
    assert_true(POLL_UNTIL((get_counts(f, "watcher", v), v[3] == 1)));
    assert_int_equal(v[2], 1);
    tr_actor_stop(w, 0);
    tr_actor_join(w);
}

static void batch_carries_many_items_per_message(void **st)
{
    struct fx *f = *st;
    struct tr_actor *a;
    assert_int_equal(tr_actor_spawn(f->sys, "sink", &tr_actor_diag_def, NULL, NULL, &a, NULL), 0);
    struct tr_batch b;
    assert_int_equal(tr_batch_init(&b, f->client, "sink", TR_DIAG_BATCH, 16384, -1), 0);
    uint8_t item[150];
    memset(item, 0xa5, sizeof item);
    item[0] = 0xc4; /* a msgpack bin8 of 148 bytes */
    item[1] = 148;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(tr_batch_add(&b, item, sizeof item), 0);
    assert_int_equal(tr_batch_flush(&b), 0);
    assert_true(b.batches_sent >= 9 && b.batches_sent <= 11);
    tr_batch_close(&b);
    struct tr_reply r;
    assert_int_equal(tr_actor_call(f->client, "sink", TR_DIAG_COUNT, NULL, 0, 5000, &r), 0);
    assert_int_equal(r.data[14] << 8 | r.data[15], 1000);
    tr_reply_free(&r);
    tr_actor_stop(a, 1);
    tr_actor_join(a);
}

/* The runtime's batch framing is the event model's batch format: the
 * receiver reads it with tr_event_batch_header + tr_event_decode. */
static void batch_of_encoded_events_decodes_with_event_batch_reader(void **st)
{
    struct fx *f = *st;
    struct tr_actor *a;
    assert_int_equal(tr_actor_spawn(f->sys, "decoder", &tdef, NULL, NULL, &a, NULL), 0);
    struct tr_batch b;
    assert_int_equal(tr_batch_init(&b, f->client, "decoder", T_EVENTS, 8192, -1), 0);
    struct tr_buf buf;
    tr_buf_init(&buf);
    for (uint64_t i = 1; i <= 500; i++) {
        struct tr_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = TR_KIND_TRADE;
        ev.side = TR_SIDE_BUY;
        ev.fields = TR_F_SEQ | TR_F_ID | TR_F_PRICE | TR_F_SIZE | TR_F_TS_RECEIVE;
        strcpy(ev.provider, "sim");
        strcpy(ev.instrument, "BTC-USD");
        ev.seq = i;
        snprintf(ev.id, sizeof ev.id, "%llu", (unsigned long long)(1000 + i));
        ev.ts_receive = 1700000000000000000ll + (int64_t)i;
        assert_int_equal(tr_decimal_parse("64123.45", 8, &ev.price), 0);
        assert_int_equal(tr_decimal_parse("0.0125", 6, &ev.size), 0);
        buf.len = 0;
        assert_int_equal(tr_event_encode(&ev, &buf), 0);
        assert_int_equal(tr_batch_add(&b, buf.data, buf.len), 0);
    }
    assert_int_equal(tr_batch_flush(&b), 0);
    assert_true(b.batches_sent > 1);
    tr_batch_close(&b);
    tr_buf_free(&buf);
    uint64_t v[4];
    get_counts(f, "decoder", v);
    assert_int_equal(v[1], 500);
    tr_actor_stop(a, 1);
    tr_actor_join(a);
}

static void spawning_a_running_name_fails(void **st)
{
    struct fx *f = *st;
    struct tr_actor *a, *b;
    struct tr_error err;
    assert_int_equal(tr_actor_spawn(f->sys, "dup", &tr_actor_diag_def, NULL, NULL, &a, NULL), 0);
    assert_int_equal(tr_actor_spawn(f->sys, "dup", &tr_actor_diag_def, NULL, NULL, &b, &err), TR_EEXISTS);
    assert_non_null(strstr(err.msg, "dup"));
    tr_actor_stop(a, 0);
    tr_actor_join(a);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* every tickraft process does (ARCHITECTURE.md) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(call_echo_returns_payload_and_send_is_handled_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(call_without_reply_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_name_and_dead_url_are_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(full_mailbox_returns_overloaded_and_drops_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(draining_stop_handles_queued_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(handler_error_crashes_actor_and_counts_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(timer_delivers_messages_to_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(monitor_sees_up_and_down_with_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_carries_many_items_per_message, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_of_encoded_events_decodes_with_event_batch_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(spawning_a_running_name_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
