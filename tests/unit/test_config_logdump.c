/* Tests of `tickraft-ctl log dump` (node/ctl_log.c), run in-process on a
 * log the test writes with the storage API: every event comes back as the
 * JSON line of the event appended, in order; --stream globs filter; raw
 * capture streams are skipped unless named; a missing directory, a corrupt
 * sealed segment and an undecodable record each fail with exit 1 and one
 * line naming the culprit; usage errors exit 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tickraft/event.h"
#include "tickraft/log.h"

int ctl_log_main(int argc, char **argv);

#define N_EVENTS 300

static char dir[64];

static void make_event(struct tr_event *ev, int i)
{
    tr_event_init(ev);
    ev->kind = TR_KIND_TRADE;
    ev->side = i % 2 ? TR_SIDE_BUY : TR_SIDE_SELL;
    snprintf(ev->provider, sizeof ev->provider, "%s", i % 3 ? "coinbase" : "binance");
    snprintf(ev->instrument, sizeof ev->instrument, "%s", i % 3 ? "BTC-USD" : "BTCUSDT");
    ev->fields = TR_F_SEQ | TR_F_ID | TR_F_PRICE | TR_F_SIZE | TR_F_TS_EXCHANGE;
    ev->seq = (uint64_t)i + 1;
    snprintf(ev->id, sizeof ev->id, "%d", 1000 + i);
    ev->price = (struct tr_decimal){6500000 + i, 2};
    ev->size = (struct tr_decimal){12345, 8};
    ev->ts_exchange = 1795462801000000000LL + i;
}

static void stream_of(const struct tr_event *ev, char *key, size_t cap)
{
    snprintf(key, cap, "%s/trade/%s", ev->provider, ev->instrument);
}

/* Writes N_EVENTS events over two streams, one raw record, and (if
 * `bad_payload`) one record that is not an event. Small segments so that
 * there are sealed ones to corrupt. */
static void write_log(int bad_payload)
{
    snprintf(dir, sizeof dir, "/tmp/tr_dump_XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.sync = TR_LOG_SYNC_NONE;
    o.segment_bytes = 4096;
    o.block_bytes = 1024;
    struct tr_log *log;
    struct tr_error err;
    int rc = tr_log_open(&log, dir, &o, &err);
    if (rc)
        fail_msg("%s", err.msg);
    struct tr_buf b;
    tr_buf_init(&b);
    for (int i = 0; i < N_EVENTS; i++) {
        struct tr_event ev;
        make_event(&ev, i);
        b.len = 0;
        assert_int_equal(tr_event_encode(&ev, &b), 0);
        char key[128];
        stream_of(&ev, key, sizeof key);
        struct tr_log_record rec = {.stream = key, .seq = ev.seq, .ts_ns = ev.ts_exchange,
                                    .payload = b.data, .payload_len = b.len};
        assert_int_equal(tr_log_append(log, &rec, NULL, &err), 0);
        if (i == 10) {
            struct tr_log_record raw = {.stream = "raw/cb", .seq = 1, .ts_ns = 1,
                                        .payload = "{\"type\":\"match\"}", .payload_len = 16};
            assert_int_equal(tr_log_append(log, &raw, NULL, &err), 0);
        }
        if (i == 20 && bad_payload) {
            struct tr_log_record junk = {.stream = "coinbase/trade/BAD", .seq = 1, .ts_ns = 1,
                                         .payload = "\xc1\xc1\xc1", .payload_len = 3};
            assert_int_equal(tr_log_append(log, &junk, NULL, &err), 0);
        }
    }
    tr_buf_free(&b);
    assert_int_equal(tr_log_close(log, &err), 0);
}

static void remove_log(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

struct run {
    int code;
    char *out, *err;
};

static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    char *s = malloc((size_t)n + 1);
    rewind(f);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* Runs ctl_log_main with stdout and stderr captured. */
static struct run run(int argc, const char **argv)
{
    fflush(stdout);
    fflush(stderr);
    FILE *o = tmpfile(), *e = tmpfile();
    int so = dup(1), se = dup(2);
    dup2(fileno(o), 1);
    dup2(fileno(e), 2);
    struct run r;
    r.code = ctl_log_main(argc, (char **)argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    fseek(o, 0, SEEK_END);
    fseek(e, 0, SEEK_END);
    r.out = slurp(o);
    r.err = slurp(e);
    return r;
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void dump_prints_every_event_in_order(void **state)
{
    (void)state;
    write_log(0);
    const char *argv[] = {"log", "dump", "--dir", dir};
    struct run r = run(4, argv);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.err, "");
    assert_int_equal(count_lines(r.out), N_EVENTS); /* the raw record is not an event */
    /* each line is exactly the JSON of the event appended, in order */
    const char *p = r.out;
    struct tr_buf want;
    tr_buf_init(&want);
    for (int i = 0; i < N_EVENTS; i++) {
        struct tr_event ev;
        make_event(&ev, i);
        want.len = 0;
        assert_int_equal(tr_event_to_json(&ev, &want), 0);
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if ((size_t)(nl - p) != want.len || memcmp(p, want.data, want.len) != 0)
            fail_msg("line %d: %.*s", i, (int)(nl - p), p);
        p = nl + 1;
    }
    tr_buf_free(&want);
    run_free(&r);
    remove_log();
}

static void stream_globs_filter_and_name_raw_streams(void **state)
{
    (void)state;
    write_log(0);
    const char *a1[] = {"log", "dump", "--dir", dir, "--stream", "binance/*"};
    struct run r = run(6, a1);
    assert_int_equal(r.code, 0);
    assert_int_equal(count_lines(r.out), N_EVENTS / 3);
    assert_null(strstr(r.out, "coinbase"));
    run_free(&r);
    const char *a3[] = {"log", "dump", "--stream=raw/*", "--dir", dir, "--stream", "*/BTC-USD"};
    r = run(7, a3);
    assert_int_equal(r.code, 0);
    assert_int_equal(count_lines(r.out), N_EVENTS - N_EVENTS / 3 + 1);
    assert_non_null(strstr(r.out, "\"stream\":\"raw/cb\",\"raw_len\":16}\n"));
    run_free(&r);
    const char *a4[] = {"log", "dump", "--dir", dir, "--stream", "kalshi/*"};
    r = run(6, a4);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "");
    run_free(&r);
    remove_log();
}

static void missing_directory_fails_with_one_line(void **state)
{
    (void)state;
    const char *argv[] = {"log", "dump", "--dir", "/nonexistent/tickraft-data"};
    struct run r = run(4, argv);
    assert_int_equal(r.code, 1);
    assert_string_equal(r.err,
                        "tickraft-ctl log dump: /nonexistent/tickraft-data: no such data directory\n");
    run_free(&r);
}

static void corrupt_sealed_segment_is_named(void **state)
{
    (void)state;
    write_log(0);
    /* the oldest segment is sealed: damage the middle of it */
    DIR *d = opendir(dir);
    assert_non_null(d);
    char first[256] = "";
    int segs = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".seg")) {
            segs++;
            if (!first[0] || strcmp(e->d_name, first) < 0)
                snprintf(first, sizeof first, "%s", e->d_name);
        }
    closedir(d);
    assert_true(segs >= 2);
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, first);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    for (off_t off = size / 3; off < size / 3 + 16; off++)
        assert_int_equal(pwrite(fd, "\xff", 1, off), 1);
    close(fd);
    const char *argv[] = {"log", "dump", "--dir", dir};
    struct run r = run(4, argv);
    assert_int_equal(r.code, 1);
    char id[21];
    snprintf(id, sizeof id, "%.20s", first);
    if (!strstr(r.err, id) || count_lines(r.err) != 1 ||
        strncmp(r.err, "tickraft-ctl log dump: ", 23) != 0)
        fail_msg("stderr does not name segment %s in one line: %s", id, r.err);
    print_message("%s", r.err);
    run_free(&r);
    remove_log();
}

static void undecodable_record_names_lsn_and_stream(void **state)
{
    (void)state;
    write_log(1);
    const char *argv[] = {"log", "dump", "--dir", dir};
    struct run r = run(4, argv);
    assert_int_equal(r.code, 1);
    print_message("%s", r.err);
    assert_non_null(strstr(r.err, "of stream coinbase/trade/BAD"));
    assert_non_null(strstr(r.err, "record lsn 23 "));
    assert_int_equal(count_lines(r.out), 21); /* what came before it was printed */
    run_free(&r);
    remove_log();
}

static void usage_errors_exit_2(void **state)
{
    (void)state;
    const char *a1[] = {"log"};
    struct run r = run(1, a1);
    assert_int_equal(r.code, 2);
    run_free(&r);
    const char *a2[] = {"log", "dump"};
    r = run(2, a2);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--dir DATA is required"));
    run_free(&r);
    const char *a3[] = {"log", "dump", "--dir", "/tmp", "--bogus"};
    r = run(5, a3);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "unknown option '--bogus'"));
    run_free(&r);
    const char *a4[] = {"log", "dump", "--dir"};
    r = run(3, a4);
    assert_int_equal(r.code, 2);
    run_free(&r);
    const char *a5[] = {"log", "frobnicate"};
    r = run(2, a5);
    assert_int_equal(r.code, 2);
    run_free(&r);
    const char *a6[] = {"log", "dump", "--help"};
    r = run(3, a6);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "usage: tickraft-ctl log dump --dir DATA"));
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dump_prints_every_event_in_order),
        cmocka_unit_test(stream_globs_filter_and_name_raw_streams),
        cmocka_unit_test(missing_directory_fails_with_one_line),
        cmocka_unit_test(corrupt_sealed_segment_is_named),
        cmocka_unit_test(undecodable_record_names_lsn_and_stream),
        cmocka_unit_test(usage_errors_exit_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
