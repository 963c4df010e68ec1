/* Tests of the node's structured logger (node/nlog.c), configured by the
 * [log] section: exact logfmt and JSON lines, escaping, secrets printed as
 * "***", level threshold, the repeat rate limiter, whole lines under
 * concurrent writers, and file output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nlog.h"
#include "tickraft/json.h"

struct sink {
    pthread_mutex_t mu;
    char *text;
    size_t len, cap;
    int lines;
};

static void sink_cb(void *arg, const char *line, size_t len)
{
    struct sink *s = arg;
    pthread_mutex_lock(&s->mu);
    if (s->len + len + 1 > s->cap) {
        s->cap = (s->len + len + 1) * 2;
        s->text = realloc(s->text, s->cap);
    }
    memcpy(s->text + s->len, line, len);
    s->len += len;
    s->text[s->len] = '\0';
    s->lines++;
    pthread_mutex_unlock(&s->mu);
}

static int64_t fake_now;
static int64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

static struct tr_nlog *open_sink(struct sink *s, int format, uint32_t burst)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    struct tr_nlog_options o;
    tr_nlog_options_init(&o);
    o.format = format;
    o.write_cb = sink_cb;
    o.write_arg = s;
    o.clock_cb = fake_clock;
    o.burst = burst;
    o.level = TR_NLOG_DEBUG;
    struct tr_nlog *lg;
    assert_int_equal(tr_nlog_open(&lg, &o, NULL), 0);
    return lg;
}

static void sink_free(struct sink *s)
{
    free(s->text);
    pthread_mutex_destroy(&s->mu);
}

/* 2026-11-23T19:40:01.123456Z */
#define T0 (1795462801LL * 1000000000LL + 123456789LL)

static void logfmt_line_is_exact(void **state)
{
    (void)state;
    struct sink s;
    struct tr_nlog *lg = open_sink(&s, TR_NLOG_LOGFMT, 10);
    fake_now = T0;
    tr_nlog(lg, TR_NLOG_WARN, "conn", "reconnecting", TR_KV_STR("feed", "cb-main"),
            TR_KV_INT("attempt", -3), TR_KV_UINT("lsn", 18446744073709551615ull),
            TR_KV_BOOL("tls", 1), TR_KV_F64("lag", 0.25));
    assert_string_equal(s.text, "ts=2026-11-23T19:40:01.123456Z level=warn component=conn "
                                "msg=reconnecting feed=cb-main attempt=-3 "
                                "lsn=18446744073709551615 tls=true lag=0.25\n");
    tr_nlog_close(lg);
    sink_free(&s);
}

static void logfmt_quotes_and_escapes(void **state)
{
    (void)state;
    struct sink s;
    struct tr_nlog *lg = open_sink(&s, TR_NLOG_LOGFMT, 10);
    fake_now = T0;
    tr_nlog(lg, TR_NLOG_ERROR, "writer", "append failed", TR_KV_STR("path", "a b=\"c\"\\\n"),
            TR_KV_STR("empty", ""), TR_KV_STR("bad key!", "x"), TR_KV_STRN("n", "abcdef", 3),
            TR_KV_STR("ctl", "\x01"));
    assert_string_equal(s.text, "ts=2026-11-23T19:40:01.123456Z level=error component=writer "
                                "msg=\"append failed\" path=\"a b=\\\"c\\\"\\\\\\n\" empty=\"\" "
                                "bad_key_=x n=abc ctl=\"\\u0001\"\n");
    tr_nlog_close(lg);
    sink_free(&s);
}

static void json_line_is_valid_json(void **state)
{
    (void)state;
    struct sink s;
    struct tr_nlog *lg = open_sink(&s, TR_NLOG_JSON, 10);
    fake_now = T0;
    struct tr_error e;
    tr_errorf(&e, TR_ECORRUPT, "segment 7: bad \"CRC\"");
    tr_nlog(lg, TR_NLOG_INFO, "log", "opened", TR_KV_UINT("segments", 7), TR_KV_ERR(&e));
    assert_string_equal(s.text, "{\"ts\":\"2026-11-23T19:40:01.123456Z\",\"level\":\"info\","
                                "\"component\":\"log\",\"msg\":\"opened\",\"segments\":7,"
                                "\"err\":\"segment 7: bad \\\"CRC\\\"\",\"code\":\"TR_ECORRUPT\"}\n");
    struct tr_json_tok toks[32];
    assert_true(tr_json_parse(s.text, s.len - 1, toks, 32, NULL) > 0);
    tr_nlog_close(lg);
    sink_free(&s);
}

static void secrets_print_as_stars(void **state)
{
    (void)state;
    struct sink s;
    struct tr_nlog *lg = open_sink(&s, TR_NLOG_LOGFMT, 10);
    struct tr_secret key;
    tr_secret_init(&key);
    assert_false(tr_secret_is_set(&key));
    assert_string_equal(tr_secret_reveal(&key, NULL), "");
    assert_int_equal(tr_secret_set(&key, "hunter2", 7), 0);
    tr_nlog(lg, TR_NLOG_INFO, "feed", "auth", TR_KV_SECRET("key", &key));
    assert_null(strstr(s.text, "hunter2"));
    assert_non_null(strstr(s.text, " key=***\n"));
    tr_nlog_close(lg);
    sink_free(&s);
    struct tr_nlog *jl = open_sink(&s, TR_NLOG_JSON, 10);
    tr_nlog(jl, TR_NLOG_INFO, "feed", "auth", TR_KV_SECRET("key", &key));
    assert_null(strstr(s.text, "hunter2"));
    assert_non_null(strstr(s.text, "\"key\":\"***\""));
    assert_string_equal(tr_secret_reveal(&key, NULL), "hunter2");
    tr_secret_close(&key);
    assert_false(tr_secret_is_set(&key));
    tr_nlog_close(jl);
    sink_free(&s);
}

static void level_threshold_filters(void **state)
{
    (void)state;
    struct sink s;
    struct tr_nlog *lg = open_sink(&s, TR_NLOG_LOGFMT, 0);
    tr_nlog_set_level(lg, TR_NLOG_WARN);
    tr_nlog(lg, TR_NLOG_DEBUG, "c", "d");
    tr_nlog(lg, TR_NLOG_INFO, "c", "i");
    tr_nlog(lg, TR_NLOG_WARN, "c", "w");
    tr_nlog(lg, TR_NLOG_ERROR, "c", "e");
    assert_int_equal(s.lines, 2);
    assert_false(tr_nlog_enabled(lg, TR_NLOG_INFO));
    assert_false(tr_nlog_enabled(NULL, TR_NLOG_ERROR));
    tr_nlog(NULL, TR_NLOG_ERROR, "c", "nothing happens");
    tr_nlog_set_level(lg, TR_NLOG_OFF);
    tr_nlog(lg, TR_NLOG_ERROR, "c", "e");
    assert_int_equal(s.lines, 2);
    assert_int_equal(tr_nlog_level_parse("warning"), TR_NLOG_WARN);
    assert_int_equal(tr_nlog_level_parse("loud"), -1);
    tr_nlog_close(lg);
    sink_free(&s);
}

static void storm_of_repeats_is_rate_limited(void **state)
{
    (void)state;
    struct sink s;
    struct tr_nlog *lg = open_sink(&s, TR_NLOG_LOGFMT, 10);
    fake_now = T0;
    for (int i = 0; i < 100000; i++)
        tr_nlog(lg, TR_NLOG_WARN, "conn", "malformed frame", TR_KV_INT("i", i));
    tr_nlog(lg, TR_NLOG_WARN, "conn", "other message");
    assert_int_equal(s.lines, 11); /* 10 of the storm, and the other key is not starved */
    assert_int_equal(tr_nlog_suppressed(lg), 99990);
    fake_now += 1000000000; /* the next window */
    tr_nlog(lg, TR_NLOG_WARN, "conn", "malformed frame", TR_KV_INT("i", 100000));
    assert_int_equal(s.lines, 12);
    assert_non_null(strstr(s.text, "msg=\"malformed frame\" i=100000 suppressed=99990\n"));
    tr_nlog(lg, TR_NLOG_WARN, "conn", "malformed frame", TR_KV_INT("i", 100001));
    assert_non_null(strstr(s.text, "i=100001\n")); /* the count is reported once */
    tr_nlog_close(lg);
    sink_free(&s);
}

struct writer_arg {
    struct tr_nlog *lg;
    int id;
};

static void *writer(void *p)
{
    struct writer_arg *a = p;
    for (int i = 0; i < 2000; i++)
        tr_nlog(a->lg, TR_NLOG_INFO, "t", "line", TR_KV_INT("thread", a->id), TR_KV_INT("i", i),
                TR_KV_STR("pad", "0123456789012345678901234567890123456789"));
    return NULL;
}

static void concurrent_writers_never_interleave(void **state)
{
    (void)state;
    char path[] = "/tmp/tr_nlog_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct tr_nlog_options o;
    tr_nlog_options_init(&o);
    o.path = path;
    o.burst = 0;
    struct tr_nlog *lg;
    assert_int_equal(tr_nlog_open(&lg, &o, NULL), 0);
    pthread_t th[4];
    struct writer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct writer_arg){lg, i};
        pthread_create(&th[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    tr_nlog_close(lg);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        assert_int_equal(strncmp(line, "ts=", 3), 0);
        assert_non_null(strstr(line, " pad=0123456789012345678901234567890123456789\n"));
        n++;
    }
    fclose(f);
    unlink(path);
    assert_int_equal(n, 8000);
}

static void unopenable_file_is_reported(void **state)
{
    (void)state;
    struct tr_nlog_options o;
    tr_nlog_options_init(&o);
    o.path = "/nonexistent-dir/x.log";
    struct tr_nlog *lg;
    struct tr_error err;
    assert_int_equal(tr_nlog_open(&lg, &o, &err), TR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.log"));
}

static void long_lines_are_cut_and_marked(void **state)
{
    (void)state;
    struct sink s;
    struct tr_nlog *lg = open_sink(&s, TR_NLOG_JSON, 10);
    static char big[4000];
    memset(big, 'x', sizeof big - 1);
    tr_nlog(lg, TR_NLOG_INFO, "c", "big", TR_KV_STR("a", big), TR_KV_STR("b", big),
            TR_KV_STR("c", big), TR_KV_STR("d", big), TR_KV_STR("e", big));
    assert_true(s.len <= 8192);
    assert_non_null(strstr(s.text, ",\"truncated\":true}\n"));
    tr_nlog_close(lg);
    sink_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logfmt_line_is_exact),
        cmocka_unit_test(logfmt_quotes_and_escapes),
        cmocka_unit_test(json_line_is_valid_json),
        cmocka_unit_test(secrets_print_as_stars),
        cmocka_unit_test(level_threshold_filters),
        cmocka_unit_test(storm_of_repeats_is_rate_limited),
        cmocka_unit_test(concurrent_writers_never_interleave),
        cmocka_unit_test(unopenable_file_is_reported),
        cmocka_unit_test(long_lines_are_cut_and_marked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
