/* The JSON tokenizer: structure, lookups, exact numbers, hostile input,
 * every escape and truncation, and agreement with a slow reference
 * recogniser on mutated documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <stdio.h>
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

/* ---- edge cases of the string scanner (8 bytes at a time, then a byte
 * class table) and of the value loop ---- */

/* Parses s[0..n) from an exact-size heap copy, so ASan sees any read past
 * the end. */
static int parse_exact(const char *s, size_t n, struct tr_json_tok *t, size_t max)
{
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    int rc = tr_json_parse(copy, n, t, max, NULL);
    free(copy);
    return rc;
}

static void accepts_every_escape_and_decodes_it(void **state)
{
    (void)state;
    const char *s = "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\uFFFF\"]";
    struct tr_json_tok t[MAXT];
    assert_int_equal(parse(s, t), 2);
    assert_int_equal(t[1].escaped, 1);
    char out[64];
    assert_int_equal(tr_json_str(s, t, 1, out, sizeof out), 0);
    assert_string_equal(out, "\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xef\xbf\xbf");
    const char *bad[] = {"[\"\\x\"]", "[\"\\'\"]", "[\"\\U0041\"]", "[\"\\u12G4\"]",
                         "[\"\\u004\"]", "[\"\\u\"]", "[\"\\\"]", "[\"\\ \"]", "[\"\\0\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (parse(bad[i], t) != TR_EPARSE)
            fail_msg("accepted %s", bad[i]);
    /* An unescaped string is not flagged and copies as is. */
    assert_int_equal(parse("[\"plain text over eight bytes\"]", t), 2);
    assert_int_equal(t[1].escaped, 0);
    assert_int_equal(t[1].len, 27);
}

static void decodes_surrogate_pairs_and_keeps_lone_halves(void **state)
{
    (void)state;
    struct tr_json_tok t[MAXT];
    char out[32];
    struct {
        const char *doc, *want;
    } cases[] = {
        {"[\"\\ud83d\\ude00\"]", "\xf0\x9f\x98\x80"},     /* U+1F600 */
        {"[\"\\uD800\\uDC00\"]", "\xf0\x90\x80\x80"},     /* U+10000, upper-case hex */
        {"[\"\\udbff\\udfff\"]", "\xf4\x8f\xbf\xbf"},     /* U+10FFFF */
        /* Lone halves are not UTF-8 checked (json.h): encoded as 3 bytes. */
        {"[\"\\ud83dx\"]", "\xed\xa0\xbdx"},
        {"[\"\\ude00\"]", "\xed\xb8\x80"},
        {"[\"\\ud83d\\u0041\"]", "\xed\xa0\xbd" "A"},  /* high then a non-low escape */
        {"[\"\\ud83d\"]", "\xed\xa0\xbd"},               /* high at the very end */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(parse(cases[i].doc, t), 2);
        assert_int_equal(tr_json_str(cases[i].doc, t, 1, out, sizeof out), 0);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("case %zu: wrong bytes", i);
    }
}

static void rejects_every_control_character_anywhere_in_a_string(void **state)
{
    (void)state;
    struct tr_json_tok t[MAXT];
    char doc[64];
    /* Positions 0..19 cross the 8-byte words; some strings have an escape
     * before the control byte, some after it (the scanner before this one
     * jumped to the next backslash without checking the bytes on the way). */
    for (int esc = 0; esc < 3; esc++)
        for (int pos = 0; pos < 20; pos++)
            for (int c = 0; c < 0x20; c++) {
                size_t n = 0;
                doc[n++] = '[';
                doc[n++] = '"';
                if (esc == 1) {
                    doc[n++] = '\\';
                    doc[n++] = 'n';
                }
                for (int k = 0; k < pos; k++)
                    doc[n++] = 'a';
                doc[n++] = (char)c;
                if (esc == 2) {
                    doc[n++] = '\\';
                    doc[n++] = 't';
                }
                memcpy(doc + n, "bcdefghij\"]", 11);
                n += 11;
                if (parse_exact(doc, n, t, MAXT) != TR_EPARSE)
                    fail_msg("control 0x%02x at %d (escape %d) accepted", c, pos, esc);
            }
    /* DEL and bytes >= 0x80 are plain string bytes. */
    const char ok[] = "[\"\x7f\x80\xff\xc3\xa9 abcdefgh\"]";
    assert_int_equal(parse_exact(ok, sizeof ok - 1, t, MAXT), 2);
    assert_int_equal(t[1].len, sizeof ok - 1 - 4);
}

static void finds_the_closing_quote_at_every_offset(void **state)
{
    (void)state;
    struct tr_json_tok t[MAXT];
    char doc[80];
    for (size_t len = 0; len < 40; len++)
        for (int esc = 0; esc < 3; esc++) {
            size_t n = 0;
            doc[n++] = '[';
            doc[n++] = '"';
            for (size_t k = 0; k < len; k++)
                doc[n++] = (char)('a' + k % 26);
            if (esc == 1) {
                memcpy(doc + n, "\\\"", 2); /* escaped quote then more text */
                n += 2;
            } else if (esc == 2) {
                memcpy(doc + n, "\\u0041", 6);
                n += 6;
            }
            memcpy(doc + n, "xy\",1]", 6);
            n += 6;
            assert_int_equal(parse_exact(doc, n, t, MAXT), 3);
            size_t want = len + (esc == 1 ? 2 : esc == 2 ? 6 : 0) + 2;
            assert_int_equal(t[1].len, want);
            assert_int_equal(t[1].escaped, esc != 0);
            assert_int_equal(t[2].type, TR_JSON_NUMBER);
        }
}

static void refuses_every_truncation(void **state)
{
    (void)state;
    const char *docs[] = {
        "{\"type\":\"match\",\"trade_id\":280232,\"price\":\"0.00001305\","
        "\"nested\":{\"a\":[1,-2.5e+3,{\"b\":null}],\"t\":true,\"f\":false},\"e\":[],\"o\":{}}",
        "[\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00 and some plain text\", \"\\/\"]",
        " { \"k\" : [ 1 , 2 ] , \"s\" : \"v\" } ",
        "{\"type\":\"batch\",\"events\":[{\"provider\":\"sim\",\"kind\":\"trade\","
        "\"instrument\":\"SIM-1\",\"seq\":1,\"price\":\"100.25\",\"size\":\"0.5\"}]}",
    };
    struct tr_json_tok t[MAXT];
    for (size_t d = 0; d < sizeof docs / sizeof *docs; d++) {
        size_t n = strlen(docs[d]);
        assert_true(parse_exact(docs[d], n, t, MAXT) > 0);
        for (size_t cut = 0; cut < n; cut++) {
            /* A cut inside trailing blanks still holds the whole value. */
            size_t k = cut;
            while (k < n && docs[d][k] == ' ')
                k++;
            int want_ok = k == n;
            int rc = parse_exact(docs[d], cut, t, MAXT);
            if (want_ok ? rc <= 0 : rc != TR_EPARSE)
                fail_msg("doc %zu cut at %zu: rc %d", d, cut, rc);
        }
    }
}

/* The integer accessors' unchecked fast paths (up to 19 digits) against
 * the checked forms they replaced, on numbers and strings holding them. */
static int ref_u64(const char *p, size_t n, uint64_t *out)
{
    if (!n)
        return TR_EPARSE;
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        if (p[k] < '0' || p[k] > '9')
            return p[k] == '-' ? TR_ERANGE : TR_EPARSE;
        unsigned d = (unsigned)(p[k] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return TR_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int ref_i64(const char *p, size_t n, int64_t *out)
{
    struct tr_decimal d;
    if (!n)
        return TR_EPARSE;
    int rc = tr_decimal_parse(p, n, &d);
    if (rc)
        return rc;
    if (d.scale != 0)
        return TR_EPARSE;
    *out = d.mant;
    return 0;
}

static void integers_agree_with_the_checked_conversions(void **state)
{
    (void)state;
    static const char alpha[] = "0123456789999-.e";
    static const char *const edge[] = {"18446744073709551615", "18446744073709551616",
                                       "9223372036854775807", "9223372036854775808",
                                       "-9223372036854775808", "-9223372036854775809",
                                       "9999999999999999999", "-9999999999999999999",
                                       "-0", "0", "-", "00012", "1.0", "1e5", "--1"};
    uint64_t rng = 0x853c49e6748fea9bull;
    char text[64], body[32];
    struct tr_json_tok toks[4];
    struct tr_error err;
    for (int r = 0; r < 100000 + (int)(sizeof edge / sizeof edge[0]); r++) {
        size_t n;
        if (r < (int)(sizeof edge / sizeof edge[0])) {
            n = strlen(edge[r]);
            memcpy(body, edge[r], n + 1);
        } else {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            n = 1 + (size_t)(rng % 22);
            uint64_t x = rng;
            for (size_t i = 0; i < n; i++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                body[i] = alpha[(x >> 33) % ((x >> 61) ? 13 : sizeof alpha - 1)];
            }
            body[n] = 0;
        }
        /* as a string (providers quote numbers): every body tokenizes */
        int k = snprintf(text, sizeof text, "[\"%s\"]", body);
        assert_int_equal(tr_json_parse(text, (size_t)k, toks, 4, &err), 2);
        uint64_t u = 0, ur = 0;
        int64_t i = 0, ir = 0;
        int a = tr_json_u64(text, toks, 1, &u), b = ref_u64(body, n, &ur);
        if (a != b || (!a && u != ur))
            fail_msg("u64 '%s': %d %llu vs %d %llu", body, a, (unsigned long long)u, b,
                     (unsigned long long)ur);
        a = tr_json_i64(text, toks, 1, &i);
        b = ref_i64(body, n, &ir);
        if (a != b || (!a && i != ir))
            fail_msg("i64 '%s': %d %lld vs %d %lld", body, a, (long long)i, b, (long long)ir);
    }
}

static void looks_up_keys_by_length_then_bytes(void **state)
{
    (void)state;
    const char *s = "{\"a\":1,\"ab\":2,\"abc\":3,\"a\\u0062cd\":4,\"ab\":5,\"\":6,\"x\\u0000y\":7}";
    struct tr_json_tok t[MAXT];
    assert_true(parse(s, t) > 0);
    uint64_t v;
    assert_int_equal(tr_json_u64(s, t, tr_json_get(s, t, 0, "ab"), &v), 0);
    assert_int_equal(v, 2); /* the first of two equal keys */
    assert_int_equal(tr_json_u64(s, t, tr_json_get(s, t, 0, "abcd"), &v), 0);
    assert_int_equal(v, 4); /* an escaped key compares unescaped */
    assert_int_equal(tr_json_u64(s, t, tr_json_get(s, t, 0, ""), &v), 0);
    assert_int_equal(v, 6);
    assert_int_equal(tr_json_get(s, t, 0, "abcde"), -1);
    assert_int_equal(tr_json_get(s, t, 0, "b"), -1);
    assert_int_equal(tr_json_get(s, t, 1, "a"), -1); /* not an object */
}

/* A reference recogniser written for clarity, not speed (recursive, no
 * tokens): accepts exactly RFC 8259 JSON within our depth limit and counts
 * the values. The tokenizer must agree on accept/reject and on the token
 * count for every input. */
struct ref {
    const char *s;
    size_t n, i;
    int count;
};

static void ref_ws(struct ref *r)
{
    while (r->i < r->n && strchr(" \t\n\r", r->s[r->i]) && r->s[r->i])
        r->i++;
}

static int ref_digits(struct ref *r)
{
    size_t b = r->i;
    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
        r->i++;
    return r->i > b;
}

static int ref_value(struct ref *r, int depth);

static int ref_string(struct ref *r)
{
    r->i++;
    while (r->i < r->n) {
        unsigned char c = (unsigned char)r->s[r->i++];
        if (c == '"')
            return 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (r->i >= r->n)
                return 0;
            c = (unsigned char)r->s[r->i++];
            if (c == 'u') {
                for (int k = 0; k < 4; k++, r->i++)
                    if (r->i >= r->n || !strchr("0123456789abcdefABCDEF", r->s[r->i]) ||
                        !r->s[r->i])
                        return 0;
            } else if (!c || !strchr("\"\\/bfnrt", c)) {
                return 0;
            }
        }
    }
    return 0;
}

static int ref_container(struct ref *r, int depth, char close, int object)
{
    if (depth >= 64)
        return 0;
    r->i++;
    ref_ws(r);
    if (r->i < r->n && r->s[r->i] == close) {
        r->i++;
        return 1;
    }
    for (;;) {
        if (object) {
            ref_ws(r);
            if (r->i >= r->n || r->s[r->i] != '"' || !ref_string(r))
                return 0;
            r->count++;
            ref_ws(r);
            if (r->i >= r->n || r->s[r->i++] != ':')
                return 0;
        }
        if (!ref_value(r, depth + 1))
            return 0;
        ref_ws(r);
        if (r->i >= r->n)
            return 0;
        char c = r->s[r->i++];
        if (c == close)
            return 1;
        if (c != ',')
            return 0;
    }
}

static int ref_value(struct ref *r, int depth)
{
    ref_ws(r);
    if (r->i >= r->n)
        return 0;
    r->count++;
    char c = r->s[r->i];
    if (c == '{')
        return ref_container(r, depth, '}', 1);
    if (c == '[')
        return ref_container(r, depth, ']', 0);
    if (c == '"')
        return ref_string(r);
    const char *words[] = {"true", "false", "null"};
    for (int w = 0; w < 3; w++)
        if (c == words[w][0]) {
            size_t k = strlen(words[w]);
            if (r->n - r->i < k || memcmp(r->s + r->i, words[w], k))
                return 0;
            r->i += k;
            return 1;
        }
    if (c == '-')
        r->i++;
    if (r->i < r->n && r->s[r->i] == '0')
        r->i++;
    else if (!ref_digits(r))
        return 0;
    if (r->i < r->n && r->s[r->i] == '.') {
        r->i++;
        if (!ref_digits(r))
            return 0;
    }
    if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
        r->i++;
        if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-'))
            r->i++;
        if (!ref_digits(r))
            return 0;
    }
    return 1;
}

static int ref_parse(const char *s, size_t n)
{
    struct ref r = {s, n, 0, 0};
    if (!ref_value(&r, 0))
        return -1;
    ref_ws(&r);
    return r.i == n ? r.count : -1;
}

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void agrees_with_a_reference_recogniser_on_mutated_input(void **state)
{
    (void)state;
    const char *seeds[] = {
        "{\"type\":\"match\",\"trade_id\":280232,\"side\":\"sell\",\"price\":\"0.00001305\","
        "\"time\":\"2021-04-17T16:43:37.089723Z\",\"n\":[1,-0.5,2e10,true,false,null,{}]}",
        "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"a\":26129,\"p\":\"0.01633102\","
        "\"m\":true,\"M\":true}}",
        "[\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\", [ [ ] ], { \"k\" : \"v\" } ]",
    };
    /* Bytes a mutation inserts: structure, escapes, controls, high bytes. */
    const char alphabet[] = "{}[]\",:\\/u0123456789abcdefABCDEF-+.eE tfnrl\n\t\x01\x1f\x7f\x80\xff";
    uint64_t x = 0x2545F4914F6CDD1Dull;
    char buf[512];
    struct tr_json_tok t[MAXT * 4];
    int accepted = 0;
    for (int round = 0; round < 60000; round++) {
        const char *seed = seeds[round % 3];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int edits = 1 + (int)(rnd(&x) % 4);
        for (int e = 0; e < edits && n > 1; e++) {
            size_t at = (size_t)(rnd(&x) % n);
            char b = alphabet[rnd(&x) % (sizeof alphabet - 1)];
            switch (rnd(&x) % 3) {
            case 0: buf[at] = b; break;                                  /* replace */
            case 1: memmove(buf + at, buf + at + 1, n - at - 1); n--; break; /* delete */
            default:                                                      /* insert */
                if (n + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = b;
                    n++;
                }
            }
        }
        int want = ref_parse(buf, n);
        int got = parse_exact(buf, n, t, MAXT * 4);
        if ((want < 0) != (got < 0) || (want >= 0 && want != got))
            fail_msg("round %d: reference %d, tokenizer %d on %.*s", round, want, got, (int)n, buf);
        if (got > 0) {
            accepted++;
            assert_int_equal(t[0].end, (uint32_t)got);
        }
    }
    assert_true(accepted > 1000); /* the mutations do not only produce garbage */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_values_of_a_coinbase_match),
        cmocka_unit_test(unescapes_strings),
        cmocka_unit_test(rejects_malformed_documents),
        cmocka_unit_test(limits_depth_and_token_count),
        cmocka_unit_test(converts_numbers_exactly_or_refuses),
        cmocka_unit_test(accepts_every_escape_and_decodes_it),
        cmocka_unit_test(decodes_surrogate_pairs_and_keeps_lone_halves),
        cmocka_unit_test(rejects_every_control_character_anywhere_in_a_string),
        cmocka_unit_test(finds_the_closing_quote_at_every_offset),
        cmocka_unit_test(refuses_every_truncation),
        cmocka_unit_test(looks_up_keys_by_length_then_bytes),
        cmocka_unit_test(integers_agree_with_the_checked_conversions),
        cmocka_unit_test(agrees_with_a_reference_recogniser_on_mutated_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
