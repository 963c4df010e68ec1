/* The JSON tokenizer: structure, lookups, exact numbers, hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "tickraft/json.h"

#define MAXT 128

static int parse(const char *s, struct tr_json_tok *t)
{
    return tr_json_parse(s, strlen(s), t, MAXT, NULL);
}

static void finds_values_of_a_coinbase_match(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"match\",\"trade_id\":280232,\"side\":\"sell\",\"size\":\"985\","
                    "\"price\":\"0.00001305\",\"product_id\":\"SKL-BTC\",\"sequence\":177100030,"
                    "\"nested\":{\"a\":[1,2,{\"b\":null}]},\"time\":\"2021-04-17T16:43:37.089723Z\"}";
    struct tr_json_tok t[MAXT];
    int n = parse(s, t);
    assert_true(n > 0);
    assert_int_equal(t[0].type, TR_JSON_OBJECT);
    assert_int_equal(t[0].count, 9);
    assert_int_equal(t[0].end, (uint32_t)n);
    assert_true(tr_json_eq(s, t, tr_json_get(s, t, 0, "type"), "match"));
    uint64_t id;
    assert_int_equal(tr_json_u64(s, t, tr_json_get(s, t, 0, "trade_id"), &id), 0);
    assert_int_equal(id, 280232);
    struct tr_decimal d;
    assert_int_equal(tr_json_decimal(s, t, tr_json_get(s, t, 0, "price"), &d), 0);
    assert_int_equal(d.mant, 1305);
    assert_int_equal(d.scale, 8);
    /* Skipping the nested object still finds the key after it. */
    char tm[64];
    assert_int_equal(tr_json_str(s, t, tr_json_get(s, t, 0, "time"), tm, sizeof tm), 0);
    assert_string_equal(tm, "2021-04-17T16:43:37.089723Z");
    assert_int_equal(tr_json_get(s, t, 0, "absent"), -1);
    int arr = tr_json_get(s, t, tr_json_get(s, t, 0, "nested"), "a");
    assert_int_equal(t[arr].count, 3);
    assert_int_equal(t[tr_json_at(t, arr, 2)].type, TR_JSON_OBJECT);
    assert_int_equal(tr_json_at(t, arr, 3), -1);
}

static void unescapes_strings(void **state)
{
    (void)state;
    const char *s = "[\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\"]";
    struct tr_json_tok t[MAXT];
    assert_int_equal(parse(s, t), 2);
    char out[32];
    assert_int_equal(tr_json_str(s, t, 1, out, sizeof out), 0);
    assert_string_equal(out, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(tr_json_str(s, t, 1, out, 4), TR_ETOOBIG);
}

static void rejects_malformed_documents(void **state)
{
    (void)state;
    const char *bad[] = {"", "{", "}", "[1,]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1 2]",
                         "\"abc", "tru", "nul", "01", "1.", "-", "1e", "[1]x", "{1:2}",
                         "\"\\x\"", "\"\\u12\"", "[\"a\nb\"]", "[}", "{]"};
    struct tr_json_tok t[MAXT];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct tr_error err;
        tr_error_clear(&err);
        assert_int_equal(tr_json_parse(bad[i], strlen(bad[i]), t, MAXT, &err), TR_EPARSE);
        assert_non_null(strstr(err.msg, "at byte"));
    }
}

static void limits_depth_and_token_count(void **state)
{
    (void)state;
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    struct tr_json_tok t[MAXT];
    assert_int_equal(tr_json_parse(deep, 200, t, MAXT, NULL), TR_EPARSE);
    assert_int_equal(tr_json_parse("[1,2,3,4]", 9, t, 3, NULL), TR_ETOOBIG);
}

static void converts_numbers_exactly_or_refuses(void **state)
{
    (void)state;
    const char *s = "[18446744073709551615,18446744073709551616,-1,1.5,\"42\",9223372036854775807]";
    struct tr_json_tok t[MAXT];
    assert_true(parse(s, t) > 0);
    uint64_t u;
    int64_t i;
    assert_int_equal(tr_json_u64(s, t, tr_json_at(t, 0, 0), &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(tr_json_u64(s, t, tr_json_at(t, 0, 1), &u), TR_ERANGE);
    assert_int_equal(tr_json_u64(s, t, tr_json_at(t, 0, 2), &u), TR_ERANGE);
    assert_int_equal(tr_json_u64(s, t, tr_json_at(t, 0, 3), &u), TR_EPARSE);
    assert_int_equal(tr_json_u64(s, t, tr_json_at(t, 0, 4), &u), 0);
    assert_int_equal(u, 42);
    assert_int_equal(tr_json_i64(s, t, tr_json_at(t, 0, 5), &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(tr_json_i64(s, t, tr_json_at(t, 0, 3), &i), TR_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_values_of_a_coinbase_match),
        cmocka_unit_test(unescapes_strings),
        cmocka_unit_test(rejects_malformed_documents),
        cmocka_unit_test(limits_depth_and_token_count),
        cmocka_unit_test(converts_numbers_exactly_or_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
