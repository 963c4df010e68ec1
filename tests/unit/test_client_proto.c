/* The wire protocol's pure parts: cursor encoding and its rejection of
 * garbage, stream filters, the constant-time token compare, envelopes that
 * are truncated or the wrong shape, admin tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "tickraft/protocol.h"

static void cursor_round_trips_and_rejects_garbage(void **state)
{
    (void)state;
    struct tr_cursor c, d;
    tr_cursor_init(&c);
    tr_cursor_init(&d);
    c.base_ts = -42;
    char key[64];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "sim/trade/I-%d", i);
        assert_int_equal(tr_cursor_set(&c, key, strlen(key), (uint64_t)i * 1000 + 7), 0);
    }
    tr_cursor_set(&c, "sim/trade/I-3", 13, 99); /* overwrite */
    tr_cursor_advance(&c, "sim/book/X", 10, 7);
    tr_cursor_advance(&c, "sim/book/X", 10, 7); /* a repeated seq counts up */
    struct tr_buf b;
    tr_buf_init(&b);
    assert_int_equal(tr_cursor_encode(&c, &b), 0);
    struct tr_error err;
    assert_int_equal(tr_cursor_decode(&d, b.data, b.len, &err), 0);
    assert_int_equal(d.n, 101);
    uint64_t v;
    uint32_t k;
    assert_int_equal(tr_cursor_pos(&d, "sim/book/X", 10, &v, &k), 1);
    assert_int_equal(v, 7);
    assert_int_equal(k, 2);
    assert_int_equal(d.base_ts, -42);
    assert_int_equal(tr_cursor_get(&d, "sim/trade/I-3", 13, &v), 1);
    assert_int_equal(v, 99);
    assert_int_equal(tr_cursor_get(&d, "sim/trade/I-77", 14, &v), 1);
    assert_int_equal(v, 77007);
    assert_int_equal(tr_cursor_get(&d, "sim/trade/X", 11, &v), 0);
    /* every truncation is refused, never read past */
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(tr_cursor_decode(&d, b.data, n, &err), 0);
    static const uint8_t zero_k[] = {0x93, 0x01, 0x00, 0x93, 0xa1, 'a', 0x01, 0x00};
    assert_int_equal(tr_cursor_decode(&d, zero_k, sizeof zero_k, &err), TR_EPARSE);
    static const uint8_t v2[] = {0x93, 0x02, 0x00, 0x90};
    assert_int_equal(tr_cursor_decode(&d, v2, sizeof v2, &err), TR_EVERSION);
    tr_buf_free(&b);
    tr_cursor_free(&c);
    tr_cursor_free(&d);
}

static void filter_globs_match_parts_of_the_key(void **state)
{
    (void)state;
    struct tr_proto_filter f;
    memset(&f, 0, sizeof f);
    const char *k = "coinbase/trade/BTC-USD";
    assert_true(tr_proto_filter_match(&f, k, strlen(k)));
    strcpy(f.instrument, "BTC-*");
    assert_true(tr_proto_filter_match(&f, k, strlen(k)));
    strcpy(f.kind, "book*");
    assert_false(tr_proto_filter_match(&f, k, strlen(k)));
    strcpy(f.kind, "trade");
    strcpy(f.provider, "binance");
    assert_false(tr_proto_filter_match(&f, k, strlen(k)));
    memset(&f, 0, sizeof f);
    strcpy(f.instrument, "A/B");
    assert_true(tr_proto_filter_match(&f, "kalshi/ticker/A/B", 17));
    assert_false(tr_proto_filter_match(&f, "nokind", 6));
}

static void token_compare(void **state)
{
    (void)state;
    assert_true(tr_proto_token_equal("secret", "secret", 6));
    assert_false(tr_proto_token_equal("secret", "secreT", 6));
    assert_false(tr_proto_token_equal("secret", "secret2", 7));
    assert_false(tr_proto_token_equal("secret", "secre", 5));
    assert_false(tr_proto_token_equal("secret", "", 0));
}

static void envelopes_reject_wrong_shapes(void **state)
{
    (void)state;
    struct tr_buf b;
    tr_buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, tr_proto_buf_write);
    tr_proto_pack_req(&pk, TR_PROTO_QUERY, "tok", 1);
    msgpack_pack_uint32(&pk, 7);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct tr_proto_req q;
    struct tr_error err;
    assert_int_equal(tr_proto_parse_req(b.data, b.len, &u, &q, &err), 0);
    assert_int_equal(q.type, TR_PROTO_QUERY);
    assert_int_equal(q.token_len, 3);
    assert_int_equal(q.body->size, 1);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(tr_proto_parse_req(b.data, n, &u, &q, &err), TR_EPARSE);
    /* trailing bytes */
    tr_buf_append(&b, "x", 1);
    assert_int_equal(tr_proto_parse_req(b.data, b.len, &u, &q, &err), TR_EPARSE);
    /* a reply is not a request */
    b.len = 0;
    tr_proto_pack_reply(&pk, TR_EAUTH, "no", -1);
    assert_int_equal(tr_proto_parse_req(b.data, b.len, &u, &q, &err), TR_EPARSE);
    struct tr_proto_reply r;
    assert_int_equal(tr_proto_parse_reply(b.data, b.len, &u, &r, &err), 0);
    assert_int_equal(r.status, TR_EAUTH);
    assert_null(r.body);
    msgpack_unpacked_destroy(&u);
    tr_buf_free(&b);
}

/* Found by fuzz_pub_request: a container header that claims more elements
 * than there are bytes made msgpack-c allocate from the claim (32 GB for
 * this 27-byte request); it is now refused before any allocation. */
static void forged_container_counts_are_refused_without_allocating(void **state)
{
    (void)state;
    static const uint8_t crash[] = {0x95, 0x01, 0x05, 0xc0, 0x96, 0x3d, 0xa7, 0x73, 0x69,
                                    0x6d, 0x2f, 0x74, 0x72, 0x61, 0x64, 0x65, 0x2f, 0x53,
                                    0xdd, 0x4d, 0x2d, 0x30, 0x01, 0x00, 0xff, 0x03, 0x07};
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct tr_proto_req q;
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(tr_proto_parse_req(crash, sizeof crash, &u, &q, &err), TR_EPARSE);
    msgpack_unpacked_destroy(&u);
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t str32[] = {0xdb, 0x00, 0x00, 0x10, 0x00, 0x61};
    static const uint8_t ok[] = {0x92, 0xa1, 0x61, 0xc4, 0x01, 0x00, 0xff};
    size_t used = 0;
    assert_int_equal(tr_proto_scan(map32, sizeof map32, NULL), TR_EPARSE);
    assert_int_equal(tr_proto_scan(str32, sizeof str32, NULL), TR_EPARSE);
    assert_int_equal(tr_proto_scan(ok, sizeof ok, &used), 0);
    assert_int_equal(used, 6); /* [ "a", bin(1) ] and one byte after it */
    for (size_t cut = 0; cut < 6; cut++) /* every truncation is refused */
        assert_int_equal(tr_proto_scan(ok, cut, NULL), TR_EPARSE);
    struct tr_cursor c;
    tr_cursor_init(&c);
    static const uint8_t cur[] = {0x93, 0x01, 0x00, 0xdd, 0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(tr_cursor_decode(&c, cur, sizeof cur, &err), TR_EPARSE);
    tr_cursor_free(&c);
}

static void tables_pack_and_unpack(void **state)
{
    (void)state;
    struct tr_client_table t, u2;
    tr_client_table_init(&t);
    assert_int_equal(tr_client_table_kv(&t, "node", "n%d", 1), 0);
    assert_int_equal(tr_client_table_kv(&t, "lsn", "%d", 42), 0);
    struct tr_buf b;
    tr_buf_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, tr_proto_buf_write);
    msgpack_pack_array(&pk, 2);
    tr_client_table_pack(&t, &pk);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, (const char *)b.data, b.len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    struct tr_error err;
    assert_int_equal(tr_client_table_unpack(&u2, &u.data.via.array.ptr[0],
                                            &u.data.via.array.ptr[1], &err), 0);
    assert_int_equal(u2.n_rows, 2);
    assert_string_equal(u2.cols[1], "value");
    assert_string_equal(u2.cells[3], "42");
    tr_client_table_free(&t);
    tr_client_table_free(&u2);
    msgpack_unpacked_destroy(&u);
    tr_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cursor_round_trips_and_rejects_garbage),
        cmocka_unit_test(filter_globs_match_parts_of_the_key),
        cmocka_unit_test(token_compare),
        cmocka_unit_test(envelopes_reject_wrong_shapes),
        cmocka_unit_test(tables_pack_and_unpack),
        cmocka_unit_test(forged_container_counts_are_refused_without_allocating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
