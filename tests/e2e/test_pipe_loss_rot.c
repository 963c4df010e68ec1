/* Kalshi trade losses across connection rotations (node/pipe_loss.c,
 * docs/node.md "Kalshi trade losses"): which connection group a skip in a
 * subscription's seq counts for while a rotation's two connections serve
 * the same markets, and the group's counters and repairs following the
 * markets when an overflow rotation moves them to the pair's other slot.
 * Before these rules a skip always counted for the skipping connection's
 * own slot: during a primary rotation's overlap it stayed in group 0 and
 * was compared later with repairs it had nothing to do with (a false gap
 * event when they wrote less); on an overflow pair it stayed on a slot the
 * markets had left (a proven loss never written, or a false one when the
 * slot served markets again). Feed and connections set up by hand; no I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pipe_feed.h"

static struct pipe_feed g_f;

static struct pipe_feed *feed(void)
{
    memset(&g_f, 0, sizeof g_f);
    for (int s = 0; s < PIPE_CONN_SLOTS; s++) {
        g_f.conn[s].feed = &g_f;
        g_f.conn[s].slot = s;
    }
    return &g_f;
}

static void up(struct pipe_conn *c, int subscribed)
{
    c->state = PC_OPEN;
    c->subscribed = subscribed;
}

static void primary_pair(void **state)
{
    (void)state;
    struct pipe_feed *f = feed();
    f->active = 0;
    up(&f->conn[0], 1);
    /* alone: its skip is the group's */
    assert_int_equal(pipe_loss_skip_group(f, &f->conn[0]), 0);
    /* a rotation's incoming one connected, not subscribed yet: it delivers
     * nothing, so the old one's skip still counts (its subscription's
     * repairs start after it) */
    up(&f->conn[1], 0);
    f->conn[1].incoming = 1;
    assert_int_equal(pipe_loss_skip_group(f, &f->conn[0]), 0);
    /* both subscribed (the overlap): either one's skip is delivered by the
     * other; the old code counted both for group 0 */
    f->conn[1].subscribed = 1;
    assert_int_equal(pipe_loss_skip_group(f, &f->conn[0]), -1);
    assert_int_equal(pipe_loss_skip_group(f, &f->conn[1]), -1);
    /* the old one retiring (closing): the new one's skip is the group's */
    f->conn[0].state = PC_CLOSING;
    assert_int_equal(pipe_loss_skip_group(f, &f->conn[1]), 0);
}

static void overflow_pair(void **state)
{
    (void)state;
    struct pipe_feed *f = feed();
    int g = 2, p = pipe_ovf_partner(2);
    assert_int_equal(p, 2 + PIPE_OVF_PAIR);
    up(&f->conn[g], 1);
    assert_int_equal(pipe_loss_skip_group(f, &f->conn[g]), g);
    /* the successor connected on p for g's markets, not subscribed */
    up(&f->conn[p], 0);
    f->conn[p].succ_of = g;
    assert_int_equal(pipe_loss_skip_group(f, &f->conn[g]), g);
    /* the overlap: neither skip counts (the old code: g, and p) */
    f->conn[p].subscribed = 1;
    assert_int_equal(pipe_loss_skip_group(f, &f->conn[g]), -1);
    assert_int_equal(pipe_loss_skip_group(f, &f->conn[p]), -1);
    /* the old one reconnecting: the successor's skip is of g's markets,
     * counted for g (the old code: p, a slot with no market) */
    f->conn[g].state = PC_CONNECTING;
    f->conn[g].subscribed = 0;
    assert_int_equal(pipe_loss_skip_group(f, &f->conn[p]), g);
    /* another pair's open connection is no partner */
    up(&f->conn[3], 1);
    up(&f->conn[3 + PIPE_OVF_PAIR], 1);
    assert_int_equal(pipe_loss_skip_group(f, &f->conn[3]), 3);
}

static void counters_follow_the_markets(void **state)
{
    (void)state;
    struct pipe_feed *f = feed();
    int g = 4, p = pipe_ovf_partner(4);
    struct pd_stream s[3];
    memset(s, 0, sizeof s);
    s[0].next_all = &s[1];
    s[1].next_all = &s[2];
    s[0].feed = f;
    s[0].loss_group = (uint8_t)(g + 1); /* a repair of g under way */
    s[1].feed = f;
    s[1].loss_group = 3;                /* another group's */
    s[2].feed = NULL;                   /* another feed's */
    s[2].loss_group = (uint8_t)(g + 1);
    f->loss[g] = (struct pipe_loss){.missed = 2, .missed_now = 7, .written = 3, .pending = 1};
    pipe_loss_moved(f, s, g, p);
    assert_int_equal(f->loss[p].missed, 2);
    assert_int_equal(f->loss[p].missed_now, 7);
    assert_int_equal(f->loss[p].written, 3);
    assert_int_equal(f->loss[p].pending, 1);
    assert_int_equal(f->loss[g].missed, 0);
    assert_int_equal(f->loss[g].missed_now, 0);
    assert_int_equal(f->loss[g].written, 0);
    assert_int_equal(f->loss[g].pending, 0);
    assert_int_equal(s[0].loss_group, p + 1);
    assert_int_equal(s[1].loss_group, 3);
    assert_int_equal(s[2].loss_group, g + 1);
    /* the repair's end counts for p now (not the last one: nothing written) */
    f->loss[p].pending = 2;
    s[0].written = s[0].loss_written0 + 4;
    pipe_loss_repair_done(f, &s[0]);
    assert_int_equal(s[0].loss_group, 0);
    assert_int_equal(f->loss[p].written, 7);
    assert_int_equal(f->loss[p].pending, 1);
    assert_int_equal(f->loss[g].written, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(primary_pair),
        cmocka_unit_test(overflow_pair),
        cmocka_unit_test(counters_follow_the_markets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
