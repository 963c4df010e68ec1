/* Unit tests of the writer actor (node/act_writer.c) run as a real thread
 * actor with a test client in place of the collector: HELLO hands out
 * epochs and the log's last LSN; batches of the current epoch land at the
 * LSNs the sender predicted; a batch of an older epoch (a collector
 * incarnation that is gone) is dropped, nothing appended; a checkpoint is
 * written only after the log is durable to its LSN; a batch whose first
 * LSN disagrees with the log makes the writer crash (its supervisor then
 * restarts the collector with it). Real log in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "act.h"
#include "unit/test_log_util.h"

struct fx {
    char *dir;
    struct pipe_cfg pcfg;
    struct act_ctx ctx;
    struct tr_system *sys;
    struct tr_actor *writer, *cl;
};

static int cl_send(void *arg, uint32_t type, const void *p, size_t n, int sync,
                   uint64_t *reply_lsn, struct tr_error *err)
{
    struct fx *f = arg;
    if (!sync)
        return tr_actor_send(f->cl, "writer", type, p, n, -1);
    struct tr_reply r;
    int rc = tr_actor_call(f->cl, "writer", type, p, n, 10000, &r);
    if (rc)
        return tr_errorf(err, rc, "call");
    if (reply_lsn && r.len >= sizeof *reply_lsn)
        memcpy(reply_lsn, r.data, sizeof *reply_lsn);
    tr_reply_free(&r);
    return 0;
}

static void hello(struct fx *f, uint64_t *epoch, uint64_t *last)
{
    struct tr_reply r;
    assert_int_equal(tr_actor_call(f->cl, "writer", PIPE_WMSG_HELLO, NULL, 0, 10000, &r), 0);
    uint64_t rep[2];
    assert_int_equal(r.len, sizeof rep);
    memcpy(rep, r.data, sizeof rep);
    tr_reply_free(&r);
    *epoch = rep[0];
    *last = rep[1];
}

static uint64_t sync_lsn(struct fx *f)
{
    struct tr_reply r;
    assert_int_equal(tr_actor_call(f->cl, "writer", PIPE_WMSG_SYNC, NULL, 0, 10000, &r), 0);
    uint64_t v;
    assert_int_equal(r.len, sizeof v);
    memcpy(&v, r.data, sizeof v);
    tr_reply_free(&r);
    return v;
}

/* Sends n trades through a remote pipe_writer (as the collector does). */
static void send_batch(struct fx *f, uint64_t next_lsn, uint64_t epoch, int n, uint64_t seq0)
{
    struct pipe_wremote rem = {.arg = f, .send = cl_send};
    struct pipe_writer w;
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(pipe_writer_init(&w, NULL, 64), 0);
    pipe_writer_set_remote(&w, &rem, next_lsn, epoch);
    for (int i = 0; i < n; i++) {
        struct tr_event ev;
        tr_event_init(&ev);
        ev.kind = TR_KIND_TRADE;
        snprintf(ev.provider, sizeof ev.provider, "sim");
        snprintf(ev.instrument, sizeof ev.instrument, "SIM-0");
        ev.seq = seq0 + (uint64_t)i;
        ev.fields |= TR_F_SEQ;
        assert_int_equal(pipe_writer_add2(&w, "sim/trade/SIM-0", 15, ev.seq, 1, 0, 0, &ev, NULL,
                                          0, NULL, &err),
                         0);
    }
    assert_int_equal(pipe_writer_flush(&w, &err), 0);
    pipe_writer_close(&w);
}

static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof f);
    f.dir = tl_mkdtemp();
    snprintf(f.pcfg.data_dir, sizeof f.pcfg.data_dir, "%s", f.dir);
    f.pcfg.batch_max = 64;
    f.pcfg.sync = TR_LOG_SYNC_GROUP;
    f.pcfg.group_commit_ms = 2;
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(pipe_log_open(&f.ctx.log, &f.pcfg, &err), 0);
    f.ctx.pcfg = &f.pcfg;
    pthread_mutex_init(&f.ctx.mu, NULL);
    pthread_rwlock_init(&f.ctx.admin_lk, NULL);
    tr_buf_init(&f.ctx.status);
    assert_int_equal(tr_system_alloc(&(struct tr_system_opts){.name = "wtest"}, &f.sys, &err), 0);
    f.ctx.sys = f.sys;
    assert_int_equal(tr_actor_spawn(f.sys, "writer", &act_writer_def, &f.ctx, NULL, &f.writer,
                                    &err),
                     0);
    assert_int_equal(tr_actor_client_open(f.sys, "test", &f.cl, &err), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tr_actor_client_close(f->cl);
    if (f->writer) {
        tr_actor_stop(f->writer, 1);
        tr_actor_join(f->writer);
    }
    tr_system_free(f->sys);
    assert_int_equal(tr_log_close(f->ctx.log, NULL), 0);
    tr_buf_free(&f->ctx.status);
    tl_rmdir(f->dir);
    free(f->dir);
    return 0;
}

static void epochs_fence_old_batches_and_checkpoint_waits_for_durable(void **state)
{
    struct fx *f = *state;
    uint64_t e1, last;
    hello(f, &e1, &last);
    assert_int_equal(last, 0);
    send_batch(f, last + 1, e1, 3, 10);
    assert_int_equal(sync_lsn(f), 3);

    /* a new collector incarnation: batches of the old epoch are dropped */
    uint64_t e2;
    hello(f, &e2, &last);
    assert_true(e2 > e1);
    assert_int_equal(last, 3);
    send_batch(f, 4, e1, 5, 13); /* stale: would have become LSNs 4..8 */
    assert_int_equal(sync_lsn(f), 3);
    send_batch(f, 4, e2, 2, 13);
    assert_int_equal(sync_lsn(f), 5);

    /* the checkpoint file appears, after the log is durable to its LSN */
    static const char text[] = "tickraft-checkpoint 2\nlsn 5\n14 1 sim/trade/SIM-0\n";
    uint8_t msg[16 + sizeof text - 1];
    uint64_t hdr[2] = {e2, 5};
    memcpy(msg, hdr, sizeof hdr);
    memcpy(msg + sizeof hdr, text, sizeof text - 1);
    struct tr_reply r;
    assert_int_equal(tr_actor_call(f->cl, "writer", PIPE_WMSG_CKPT, msg, sizeof msg, 10000, &r),
                     0);
    tr_reply_free(&r);
    assert_true(tr_log_durable_lsn(f->ctx.log) >= 5);
    char path[600], got[256] = {0};
    snprintf(path, sizeof path, "%s/checkpoint", f->dir);
    FILE *cf = fopen(path, "r");
    assert_non_null(cf);
    size_t k = fread(got, 1, sizeof got - 1, cf);
    fclose(cf);
    assert_int_equal(k, sizeof text - 1);
    assert_string_equal(got, text);
    /* a checkpoint of a fenced epoch is refused */
    hdr[0] = e1;
    memcpy(msg, hdr, sizeof hdr);
    assert_int_equal(tr_actor_call(f->cl, "writer", PIPE_WMSG_CKPT, msg, sizeof msg, 10000, &r),
                     TR_ECLOSED);

    /* the log holds exactly 10..14 once each */
    struct tr_log_reader *rd;
    struct tr_log_reader_options o = {.from = TR_LOG_FROM_START};
    struct tr_error err;
    assert_int_equal(tr_log_reader_alloc(f->ctx.log, &o, &rd, &err), 0);
    struct tr_log_record rec;
    for (uint64_t s = 10; s <= 14; s++) {
        assert_int_equal(tr_log_reader_next(rd, &rec, &err), 1);
        assert_int_equal(rec.seq, s);
        assert_int_equal(rec.lsn, s - 9);
    }
    assert_int_equal(tr_log_reader_next(rd, &rec, &err), 0);
    tr_log_reader_free(rd);
}

static void batch_out_of_step_with_the_log_crashes_the_writer(void **state)
{
    struct fx *f = *state;
    uint64_t e, last;
    hello(f, &e, &last);
    send_batch(f, last + 2, e, 1, 1); /* predicts a LSN the log will not give */
    int reason = tr_actor_join(f->writer);
    f->writer = NULL;
    assert_int_equal(reason, TR_EINTERNAL);
    assert_int_equal(tr_log_last_lsn(f->ctx.log), last); /* nothing appended */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(epochs_fence_old_batches_and_checkpoint_waits_for_durable,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(batch_out_of_step_with_the_log_crashes_the_writer, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
