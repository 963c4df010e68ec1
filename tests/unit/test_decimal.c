/* Exact decimals: provider text in, the same text out, never rounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "tickraft/decimal.h"
#include "tickraft/error.h"

static void roundtrip(const char *s)
{
    struct tr_decimal d;
    char out[TR_DECIMAL_STRLEN];
    assert_int_equal(tr_decimal_parse(s, strlen(s), &d), 0);
    tr_decimal_format(d, out);
    assert_string_equal(out, s);
}

static void text_survives_parse_and_format(void **state)
{
    (void)state;
    const char *cases[] = {"0", "1", "-1", "43123.45", "0.0012", "0.00100000", "1.50",
                           "-0.5", "9223372036854775807", "-9223372036854775808",
                           "0.000000000000000001", "985", "0.00001305", "100.00"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        roundtrip(cases[i]);
}

static void rejects_what_is_not_a_plain_decimal(void **state)
{
    (void)state;
    const char *bad[] = {"", "-", ".", "1.", ".5", "1e5", "+1", " 1", "1 ", "1.2.3", "abc", "0x10", "--1", "1,5"};
    struct tr_decimal d;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tr_decimal_parse(bad[i], strlen(bad[i]), &d), TR_EPARSE);
}

static void rejects_what_does_not_fit_instead_of_rounding(void **state)
{
    (void)state;
    struct tr_decimal d;
    const char *big = "9223372036854775808"; /* INT64_MAX + 1 */
    assert_int_equal(tr_decimal_parse(big, strlen(big), &d), TR_ERANGE);
    const char *deep = "0.0000000000000000001"; /* 19 places */
    assert_int_equal(tr_decimal_parse(deep, strlen(deep), &d), TR_ERANGE);
    const char *wide = "12345678901234567890.5";
    assert_int_equal(tr_decimal_parse(wide, strlen(wide), &d), TR_ERANGE);
}

/* The checked digit loop of the parser, as it was before the unchecked
 * fast path for short texts: both must agree on every input. */
static int ref_parse(const char *s, size_t len, struct tr_decimal *out)
{
    size_t i = 0;
    int neg = 0;
    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    uint64_t mag = 0;
    int digits = 0, scale = 0, seen_point = 0;
    const uint64_t limit = (uint64_t)INT64_MAX + (uint64_t)neg;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (seen_point || digits == 0)
                return TR_EPARSE;
            seen_point = 1;
            continue;
        }
        if (c < '0' || c > '9')
            return TR_EPARSE;
        unsigned d = (unsigned)(c - '0');
        if (mag > (limit - d) / 10)
            return TR_ERANGE;
        mag = mag * 10 + d;
        digits++;
        if (seen_point && ++scale > TR_DECIMAL_MAX_SCALE)
            return TR_ERANGE;
    }
    if (digits == 0 || (seen_point && scale == 0))
        return TR_EPARSE;
    out->mant = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    out->scale = (uint8_t)scale;
    return 0;
}

static void short_and_long_texts_parse_as_the_checked_loop(void **state)
{
    (void)state;
    static const char alpha[] = "0123456789999.-x/:";
    uint64_t rng = 88172645463325252ull;
    char b[32];
    for (int r = 0; r < 200000; r++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        size_t n = (size_t)(rng % 23);
        uint64_t x = rng;
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            /* mostly digits, some points, signs and junk */
            b[i] = alpha[(x >> 33) % ((x >> 60) ? 13 : sizeof alpha - 1)];
        }
        b[n] = 0;
        struct tr_decimal a = {0, 0}, e = {0, 0};
        int ra = tr_decimal_parse(b, n, &a), re = ref_parse(b, n, &e);
        if (ra != re || (ra == 0 && (a.mant != e.mant || a.scale != e.scale)))
            fail_msg("'%s': %d %lld/%u vs %d %lld/%u", b, ra, (long long)a.mant, a.scale, re,
                     (long long)e.mant, e.scale);
    }
    /* around the length where the fast path ends */
    static const char *const edge[] = {"999999999999999999", "-999999999999999999",
                                       "9999999999999999999", "9223372036854775807",
                                       "9223372036854775808", "-9223372036854775808",
                                       "0.00000000000000001", ".5", "5.", "-", "", "1..2"};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        struct tr_decimal a = {0, 0}, e = {0, 0};
        size_t n = strlen(edge[i]);
        int ra = tr_decimal_parse(edge[i], n, &a), re = ref_parse(edge[i], n, &e);
        assert_int_equal(ra, re);
        if (!ra)
            assert_true(a.mant == e.mant && a.scale == e.scale);
    }
}

static void compares_by_value_across_scales(void **state)
{
    (void)state;
    struct tr_decimal a, b, c;
    tr_decimal_parse("1.50", 4, &a);
    tr_decimal_parse("1.5", 3, &b);
    tr_decimal_parse("-2", 2, &c);
    assert_int_equal(tr_decimal_cmp(a, b), 0);
    assert_true(tr_decimal_cmp(c, b) < 0);
    assert_true(tr_decimal_cmp(b, c) > 0);
    struct tr_decimal max = {INT64_MAX, 0}, tiny = {1, 18};
    assert_true(tr_decimal_cmp(max, tiny) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_survives_parse_and_format),
        cmocka_unit_test(rejects_what_is_not_a_plain_decimal),
        cmocka_unit_test(rejects_what_does_not_fit_instead_of_rounding),
        cmocka_unit_test(compares_by_value_across_scales),
        cmocka_unit_test(short_and_long_texts_parse_as_the_checked_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
