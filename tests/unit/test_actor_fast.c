/* Actor runtime, in-process fast path (actors/actor.c actor_fast_send): a
 * send by name to a thread actor of the same process goes straight into
 * its ring. Order per sender under backpressure, the exact bound (the ring
 * is the only buffer), a blocked sender resuming, a receiver that crashes
 * and is spawned again, and a sender pinned on an instance that stops. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_actor_util.h"

#define F_SEQ   200 /* payload: u32 sender, u32 seq (1, 2, ...) */
#define F_BLOCK 201 /* handler waits on the gate */
#define F_CRASH 202 /* handler returns TR_EIO */
#define F_GET   203 /* reply: u64 seq messages handled, u64 out of order */

#define SENDERS 2

struct fstate {
    struct gate *gate;
    uint32_t last[SENDERS];
    uint64_t seqs, disorder;
};

static int f_init(struct tr_actor *self, void *arg, void **state)
{
    (void)self;
    struct fstate *s = calloc(1, sizeof *s);
    s->gate = arg;
    *state = s;
    return 0;
}

static int f_handle(struct tr_actor *self, void *state, const struct tr_msg *m)
{
    struct fstate *s = state;
    if (m->type == F_SEQ && m->len == 8) {
        uint32_t v[2];
        memcpy(v, m->payload, sizeof v);
        if (v[0] >= SENDERS || v[1] != s->last[v[0]] + 1)
            s->disorder++;
        else
            s->last[v[0]] = v[1];
        s->seqs++;
    } else if (m->type == F_BLOCK) {
        gate_pass(s->gate);
    } else if (m->type == F_CRASH) {
        return TR_EIO;
    } else if (m->type == F_GET) {
        uint64_t r[2] = {s->seqs, s->disorder};
        tr_actor_reply(self, m, r, sizeof r);
    }
    return 0;
}

static void f_term(struct tr_actor *self, void *state, int reason)
{
    (void)self;
    (void)reason;
    free(state);
}

static const struct tr_actor_def fdef = {"fast", f_init, f_handle, f_term};

struct fx {
    struct tr_system *sys;
    struct tr_actor *client;
};

static int setup(void **st)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(tr_system_alloc(&(struct tr_system_opts){.name = "tf"}, &f->sys, NULL), 0);
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

static void get_figs(struct fx *f, const char *name, uint64_t r[2])
{
    struct tr_reply rep;
    assert_int_equal(tr_actor_call(f->client, name, F_GET, NULL, 0, 5000, &rep), 0);
    assert_int_equal(rep.len, 2 * sizeof(uint64_t));
    memcpy(r, rep.data, rep.len);
    tr_reply_free(&rep);
}

/* A sender thread: its own client, `n` sequenced sends with timeout_ms. */
struct sender {
    struct tr_system *sys;
    const char *to;
    uint32_t id, n;
    int timeout_ms;
    pthread_t th;
    _Atomic int done;
    int rc;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    struct tr_actor *c;
    char name[32];
    snprintf(name, sizeof name, "sender%u", s->id);
    s->rc = tr_actor_client_open(s->sys, name, &c, NULL);
    for (uint32_t i = 1; i <= s->n && s->rc == 0; i++) {
        uint32_t v[2] = {s->id, i};
        s->rc = tr_actor_send(c, s->to, F_SEQ, v, sizeof v, s->timeout_ms);
    }
    tr_actor_client_close(c);
    atomic_store(&s->done, 1);
    return NULL;
}

static void sender_start(struct sender *s, struct tr_system *sys, const char *to, uint32_t id,
                         uint32_t n)
{
    memset(s, 0, sizeof *s);
    s->sys = sys;
    s->to = to;
    s->id = id;
    s->n = n;
    s->timeout_ms = -1;
    assert_int_equal(pthread_create(&s->th, NULL, sender_main, s), 0);
}

/* Two senders push through a mailbox of 4 far faster than it is read:
 * they block on the full ring again and again, and every message arrives,
 * in each sender's order. */
static void order_per_sender_holds_under_backpressure(void **st)
{
    struct fx *f = *st;
    struct tr_actor *a;
    struct tr_actor_opts o = {.mailbox_hwm = 4};
    assert_int_equal(tr_actor_spawn(f->sys, "ord", &fdef, NULL, &o, &a, NULL), 0);
    struct sender s[SENDERS];
    for (uint32_t i = 0; i < SENDERS; i++)
        sender_start(&s[i], f->sys, "ord", i, 3000);
    for (int i = 0; i < SENDERS; i++) {
        pthread_join(s[i].th, NULL);
        assert_int_equal(s[i].rc, 0);
    }
    uint64_t r[2];
    get_figs(f, "ord", r);
    assert_int_equal(r[0], SENDERS * 3000);
    assert_int_equal(r[1], 0);
    tr_actor_stop(a, 1);
    assert_int_equal(tr_actor_join(a), TR_EXIT_SHUTDOWN);
    struct tr_actor_stats stats;
    assert_int_equal(tr_system_stats(f->sys, "ord", &stats), 0);
    assert_int_equal(stats.dropped, 0);
}

/* The ring is the only buffer on the fast path: exactly hwm messages are
 * accepted while the handler is stuck; a sender that waits resumes as soon
 * as there is room, and nothing is lost. */
static void mailbox_takes_exactly_hwm_and_a_waiting_sender_resumes(void **st)
{
    struct fx *f = *st;
    struct gate g = GATE_INIT;
    struct tr_actor *a;
    struct tr_actor_opts o = {.mailbox_hwm = 8};
    assert_int_equal(tr_actor_spawn(f->sys, "bound", &fdef, &g, &o, &a, NULL), 0);
    assert_int_equal(tr_actor_send(f->client, "bound", F_BLOCK, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL(atomic_load(&g.waiting) == 1));
    int accepted = 0, rc = 0;
    for (uint32_t i = 1; i <= 100; i++) {
        uint32_t v[2] = {1, i};
        if ((rc = tr_actor_send(f->client, "bound", F_SEQ, v, sizeof v, 0)) != 0)
            break;
        accepted++;
    }
    assert_int_equal(rc, TR_EOVERLOADED);
    assert_int_equal(accepted, 8);
    struct tr_actor_stats stats;
    assert_int_equal(tr_system_stats(f->sys, "bound", &stats), 0);
    assert_int_equal(stats.mailbox_depth, 8);
    /* a sender that waits: it can only finish once the handler moves on */
    struct sender s;
    sender_start(&s, f->sys, "bound", 0, 1);
    gate_open(&g);
    pthread_join(s.th, NULL);
    assert_int_equal(s.rc, 0);
    uint64_t r[2];
    get_figs(f, "bound", r);
    assert_int_equal(r[0], 9);
    assert_int_equal(r[1], 0);
    tr_actor_stop(a, 1);
    tr_actor_join(a);
    assert_int_equal(tr_system_stats(f->sys, "bound", &stats), 0);
    assert_int_equal(stats.dropped, 0);
}

/* A name whose actor crashed is still known: a send does not fail with
 * "unknown" but waits (TR_EOVERLOADED once its timeout passes), and a
 * waiting send is delivered to the next instance. */
static void a_send_waits_for_the_next_instance_of_a_crashed_receiver(void **st)
{
    struct fx *f = *st;
    struct gate g = GATE_INIT;
    gate_open(&g);
    struct tr_actor *a;
    assert_int_equal(tr_actor_spawn(f->sys, "phoenix", &fdef, &g, NULL, &a, NULL), 0);
    assert_int_equal(tr_actor_send(f->client, "phoenix", F_CRASH, NULL, 0, -1), 0);
    assert_int_equal(tr_actor_join(a), TR_EIO);
    uint32_t v[2] = {1, 1};
    assert_int_equal(tr_actor_send(f->client, "phoenix", F_SEQ, v, sizeof v, 0), TR_EOVERLOADED);
    assert_int_equal(tr_actor_send(f->client, "phoenix", F_SEQ, v, sizeof v, 20),
                     TR_EOVERLOADED);
    struct sender s;
    sender_start(&s, f->sys, "phoenix", 0, 3);
    assert_int_equal(tr_actor_spawn(f->sys, "phoenix", &fdef, &g, NULL, &a, NULL), 0);
    pthread_join(s.th, NULL);
    assert_int_equal(s.rc, 0);
    uint64_t r[2];
    get_figs(f, "phoenix", r);
    assert_int_equal(r[0], 3);
    assert_int_equal(r[1], 0);
    tr_actor_stop(a, 1);
    tr_actor_join(a);
}

/* A sender waiting for room on an instance that is stopped at once: the
 * queued messages are counted as dropped, the instance is freed (the
 * waiting sender lets go of it), and the send lands in the next instance. */
static void a_sender_waiting_on_a_stopped_instance_moves_to_the_next(void **st)
{
    struct fx *f = *st;
    struct gate g = GATE_INIT, g2 = GATE_INIT;
    gate_open(&g2);
    struct tr_actor *a;
    struct tr_actor_opts o = {.mailbox_hwm = 2};
    assert_int_equal(tr_actor_spawn(f->sys, "pin", &fdef, &g, &o, &a, NULL), 0);
    assert_int_equal(tr_actor_send(f->client, "pin", F_BLOCK, NULL, 0, -1), 0);
    assert_true(POLL_UNTIL(atomic_load(&g.waiting) == 1));
    uint32_t v[2] = {1, 1};
    assert_int_equal(tr_actor_send(f->client, "pin", F_SEQ, v, sizeof v, 0), 0);
    v[1] = 2;
    assert_int_equal(tr_actor_send(f->client, "pin", F_SEQ, v, sizeof v, 0), 0);
    struct sender s;
    sender_start(&s, f->sys, "pin", 0, 1);
    tr_actor_stop(a, 0); /* now: the two queued messages are dropped */
    gate_open(&g);
    assert_int_equal(tr_actor_join(a), TR_EXIT_SHUTDOWN);
    struct tr_actor_stats stats;
    assert_int_equal(tr_system_stats(f->sys, "pin", &stats), 0);
    /* the stop is seen before the next message is taken: no room ever
     * opened for the waiting sender on this instance */
    assert_int_equal(stats.dropped, 2);
    assert_int_equal(tr_actor_spawn(f->sys, "pin", &fdef, &g2, &o, &a, NULL), 0);
    pthread_join(s.th, NULL);
    assert_int_equal(s.rc, 0);
    uint64_t r[2];
    get_figs(f, "pin", r);
    assert_int_equal(r[0], 1);
    tr_actor_stop(a, 1);
    tr_actor_join(a);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(order_per_sender_holds_under_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(mailbox_takes_exactly_hwm_and_a_waiting_sender_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(a_send_waits_for_the_next_instance_of_a_crashed_receiver, setup, teardown),
        cmocka_unit_test_setup_teardown(a_sender_waiting_on_a_stopped_instance_moves_to_the_next, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
