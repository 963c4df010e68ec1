/* Shared provider code: seqtrack verdicts, error policies from the
 * reference tables, ISO8601 parsing, the registry, and `tickraft-ctl
 * normalize` run over the real recordings (stdin/stdout redirected). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit/test_provider_util.h"

int ctl_normalize_main(int argc, char **argv);

static void seqtrack_verdicts(void **state)
{
    (void)state;
    struct tr_seqtrack t;
    tr_seqtrack_init(&t);
    uint64_t a = 0, b = 0;
    assert_int_equal(tr_seqtrack_step(&t, 5, 5, &a, &b), TR_SEQ_FIRST);
    assert_int_equal(tr_seqtrack_step(&t, 6, 6, &a, &b), TR_SEQ_OK);
    assert_int_equal(tr_seqtrack_step(&t, 6, 6, &a, &b), TR_SEQ_DUP);
    assert_int_equal(tr_seqtrack_step(&t, 3, 3, &a, &b), TR_SEQ_DUP); /* late */
    assert_int_equal(tr_seqtrack_step(&t, 9, 9, &a, &b), TR_SEQ_GAP);
    assert_int_equal(a, 7);
    assert_int_equal(b, 8);
    assert_int_equal(t.last, 9);
    assert_int_equal(tr_seqtrack_step(&t, 8, 12, &a, &b), TR_SEQ_RESYNC); /* overlap */
    tr_seqtrack_snapshot(&t, 100);
    assert_int_equal(tr_seqtrack_step(&t, 90, 100, &a, &b), TR_SEQ_DUP); /* stale */
    assert_int_equal(tr_seqtrack_step(&t, 95, 105, &a, &b), TR_SEQ_OK);  /* straddles */
    assert_int_equal(tr_seqtrack_step(&t, 106, 110, &a, &b), TR_SEQ_OK);
    tr_seqtrack_snapshot(&t, 200);
    assert_int_equal(tr_seqtrack_step(&t, 205, 210, &a, &b), TR_SEQ_GAP);
    assert_int_equal(a, 201);
    assert_int_equal(b, 204);
    assert_string_equal(tr_seq_verdict_name(TR_SEQ_GAP), "gap");
}

static void policies_follow_the_reference_tables(void **state)
{
    (void)state;
    assert_int_equal(tr_policy_for_close(1000), TR_POLICY_RECONNECT_NOW);
    assert_int_equal(tr_policy_for_close(1001), TR_POLICY_BACKOFF);
    assert_int_equal(tr_policy_for_close(1006), TR_POLICY_BACKOFF);
    assert_int_equal(tr_policy_for_close(1011), TR_POLICY_BACKOFF);
    assert_int_equal(tr_policy_for_close(1008), TR_POLICY_CHECK_CREDENTIALS);
    assert_int_equal(tr_policy_for_http(200), TR_POLICY_OK);
    assert_int_equal(tr_policy_for_http(400), TR_POLICY_NO_RETRY);
    assert_int_equal(tr_policy_for_http(401), TR_POLICY_HALT);
    assert_int_equal(tr_policy_for_http(403), TR_POLICY_HALT);
    assert_int_equal(tr_policy_for_http(404), TR_POLICY_SKIP);
    assert_int_equal(tr_policy_for_http(429), TR_POLICY_BACKOFF);
    assert_int_equal(tr_policy_for_http(500), TR_POLICY_BACKOFF);
    assert_int_equal(tr_policy_for_http(502), TR_POLICY_BACKOFF);
    assert_int_equal(tr_policy_for_http(503), TR_POLICY_CHECK_STATUS);
    assert_int_equal(tr_policy_for_sub_error(TR_SUBERR_UNKNOWN_CHANNEL), TR_POLICY_BUG);
    assert_int_equal(tr_policy_for_sub_error(TR_SUBERR_UNKNOWN_MARKET), TR_POLICY_DROP_MARKET);
    assert_int_equal(tr_policy_for_sub_error(TR_SUBERR_LIMIT), TR_POLICY_SHED);
    assert_string_equal(tr_policy_name(TR_POLICY_CHECK_STATUS), "check_status");
}

static void iso8601_without_floating_point(void **state)
{
    (void)state;
    int64_t ns;
    const char *s = "2021-04-17T16:43:37.089723Z";
    assert_int_equal(tr_time_parse_iso8601(s, strlen(s), &ns), 0);
    assert_int_equal(ns, 1618677817089723000LL);
    s = "2021-04-17T18:43:37.089723123+02:00";
    assert_int_equal(tr_time_parse_iso8601(s, strlen(s), &ns), 0);
    assert_int_equal(ns, 1618677817089723123LL);
    s = "2024-02-29T00:00:00Z";
    assert_int_equal(tr_time_parse_iso8601(s, strlen(s), &ns), 0);
    assert_int_equal(ns, 1709164800LL * 1000000000);
    s = "1970-01-01T00:00:00.1234567891Z"; /* > 9 digits truncate */
    assert_int_equal(tr_time_parse_iso8601(s, strlen(s), &ns), 0);
    assert_int_equal(ns, 123456789);
    static const char *bad[] = {"2021-04-17T16:43:37", "2021-04-17", "2021-13-01T00:00:00Z",
                                "2021-04-17T16:43:37.Z", "2021-04-17T16:43:37Zx", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_true(tr_time_parse_iso8601(bad[i], strlen(bad[i]), &ns) < 0);
}

static void registry_finds_adapters_by_name_and_dialect(void **state)
{
    (void)state;
    assert_ptr_equal(tr_provider_find("coinbase"), &tr_provider_coinbase);
    assert_ptr_equal(tr_provider_find("sim"), &tr_provider_native);
    assert_ptr_equal(tr_provider_find("native"), &tr_provider_native);
    assert_null(tr_provider_find("ftx"));
    const struct tr_provider_ops *all[] = {&tr_provider_coinbase, &tr_provider_binance,
                                           &tr_provider_kalshi, &tr_provider_native};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(all[i]->version, TR_PROVIDER_OPS_VERSION);
        const struct tr_stream_desc *d = all[i]->stream(TR_KIND_TRADE);
        assert_non_null(d);
        assert_int_equal(d->identity, TR_IDENT_TRADE_ID); /* trade ids are exchange-wide */
    }
    /* Kalshi's book seq identifies nothing across connections. */
    assert_int_equal(tr_provider_kalshi.stream(TR_KIND_BOOK_DELTA)->identity, TR_IDENT_CONNECTION);
    assert_int_equal(tr_provider_binance.stream(TR_KIND_BOOK_DELTA)->identity,
                     TR_IDENT_EXCHANGE_SEQ);
    assert_int_equal(tr_provider_coinbase.stream(TR_KIND_BOOK_DELTA)->identity,
                     TR_IDENT_CONNECTION);
}

/* Runs `normalize --provider NAME` with stdin from `in`; returns stdout. */
static char *run_normalize(const char *name, const char *in, int *rc)
{
    char outpath[] = "/tmp/tr_normalize_outXXXXXX";
    int ofd = mkstemp(outpath);
    assert_true(ofd >= 0);
    fflush(stdout);
    int save_in = dup(0), save_out = dup(1), save_err = dup(2);
    int ifd = open(in, O_RDONLY), nfd = open("/dev/null", O_WRONLY);
    assert_true(ifd >= 0);
    dup2(ifd, 0);
    dup2(ofd, 1);
    dup2(nfd, 2);
    clearerr(stdin);
    char *argv[] = {"normalize", "--provider", (char *)name, NULL};
    *rc = ctl_normalize_main(3, argv);
    fflush(stdout);
    dup2(save_in, 0);
    dup2(save_out, 1);
    dup2(save_err, 2);
    clearerr(stdin);
    close(save_in);
    close(save_out);
    close(save_err);
    close(ifd);
    close(nfd);
    close(ofd);
    char *out = tp_read_file(outpath, NULL);
    unlink(outpath);
    return out;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static const char *recording_path(const char *name, char *buf, size_t cap)
{
    const char *src = getenv("TR_SOURCE_DIR");
    snprintf(buf, cap, "%s/../shared/fixtures/recorded/%s", src ? src : ".", name);
    if (access(buf, R_OK) != 0)
        snprintf(buf, cap, "/work/shared/fixtures/recorded/%s", name);
    return buf;
}

static void normalize_tool_over_recordings(void **state)
{
    (void)state;
    char path[1024];
    int rc;
    char *out = run_normalize("coinbase", recording_path("COINBASE.ws.28.0", path, sizeof path), &rc);
    assert_int_equal(rc, 0);
    assert_non_null(out);
    assert_int_equal(count(out, "\"kind\":\"trade\""), 107);
    assert_int_equal(count(out, "\"kind\":\"book_delta\""), 9719);
    assert_int_equal(count(out, "\"kind\":\"gap\""), 0);
    free(out);
    out = run_normalize("binance", recording_path("BINANCE.ws.1.0", path, sizeof path), &rc);
    assert_int_equal(rc, 0);
    assert_true(count(out, "\"kind\":\"book_delta\"") > 0);
    assert_int_equal(count(out, "\"kind\":\"gap\""), 0);
    free(out);
    /* The Kalshi excerpt skips seq 11..47 on sid 2: one gap event. */
    out = run_normalize("kalshi", recording_path("kalshi_trade.jsonl", path, sizeof path), &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(count(out, "\"kind\":\"trade\""), 10);
    assert_true(count(out, "\"kind\":\"gap\"") >= 1);
    assert_non_null(strstr(out, "\"from_seq\":11,\"to_seq\":47"));
    free(out);
    out = run_normalize("nosuch", recording_path("kalshi_trade.jsonl", path, sizeof path), &rc);
    assert_int_equal(rc, 2);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seqtrack_verdicts),
        cmocka_unit_test(policies_follow_the_reference_tables),
        cmocka_unit_test(iso8601_without_floating_point),
        cmocka_unit_test(registry_finds_adapters_by_name_and_dialect),
        cmocka_unit_test(normalize_tool_over_recordings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
