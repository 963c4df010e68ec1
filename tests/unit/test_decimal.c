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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
