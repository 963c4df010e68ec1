/* The event encodings: msgpack and JSON lines round-trip every field of
 * random events; decoders refuse damaged input with an error naming the
 * field and never hand back half an event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "event_gen.h"
#include "tickraft/event.h"
#include "tickraft/json.h"

#define ROUNDS 5000

static void msgpack_round_trips_random_events(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    struct tr_level lv[64];
    uint8_t raw[300];
    struct tr_buf buf;
    struct tr_event_scratch s;
    tr_buf_init(&buf);
    tr_event_scratch_init(&s);
    for (int r = 0; r < ROUNDS; r++) {
        struct tr_event in, out;
        gen_event(&rng, &in, lv, 64, raw, sizeof raw);
        assert_int_equal(tr_event_validate(&in, NULL), 0);
        buf.len = 0;
        assert_int_equal(tr_event_encode(&in, &buf), 0);
        size_t used = 0;
        struct tr_error err;
        tr_error_clear(&err);
        tr_event_scratch_reset(&s);
        int rc = tr_event_decode(buf.data, buf.len, &used, &out, &s, &err);
        if (rc)
            fail_msg("round %d: %s", r, err.msg);
        assert_int_equal(used, buf.len);
        assert_true(tr_event_equal(&in, &out));
    }
    tr_buf_free(&buf);
    tr_event_scratch_free(&s);
}

/* The event encoder writes msgpack itself (core/event_msgpack.c); the
 * reference here is msgpack-c's packer, element by element as the wire
 * form lists them: the bytes must be the same. */
static int ref_write(void *data, const char *p, size_t n)
{
    return tr_buf_append(data, p, n) ? -1 : 0;
}

static void ref_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void ref_dec(msgpack_packer *pk, struct tr_decimal d)
{
    msgpack_pack_int64(pk, d.mant);
    msgpack_pack_uint8(pk, d.scale);
}

static void ref_encode(const struct tr_event *ev, struct tr_buf *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, ref_write);
    size_t nlv = (size_t)ev->n_bids + ev->n_asks;
    msgpack_pack_array(&pk, 19);
    msgpack_pack_uint8(&pk, TR_EVENT_WIRE_VERSION);
    msgpack_pack_uint8(&pk, ev->kind);
    msgpack_pack_uint32(&pk, ev->fields);
    ref_str(&pk, ev->provider);
    ref_str(&pk, ev->instrument);
    msgpack_pack_uint64(&pk, ev->seq);
    msgpack_pack_uint64(&pk, ev->first_seq);
    msgpack_pack_uint64(&pk, ev->from_seq);
    msgpack_pack_uint64(&pk, ev->to_seq);
    msgpack_pack_int64(&pk, ev->ts_exchange);
    msgpack_pack_int64(&pk, ev->ts_receive);
    msgpack_pack_uint16(&pk, ev->origin);
    msgpack_pack_uint8(&pk, ev->side);
    msgpack_pack_array(&pk, 8);
    ref_dec(&pk, ev->price);
    ref_dec(&pk, ev->size);
    ref_dec(&pk, ev->bid);
    ref_dec(&pk, ev->ask);
    ref_str(&pk, ev->id);
    ref_str(&pk, ev->text);
    msgpack_pack_uint32(&pk, ev->n_bids);
    msgpack_pack_array(&pk, nlv * 4);
    for (size_t i = 0; i < nlv; i++) {
        ref_dec(&pk, ev->levels[i].price);
        ref_dec(&pk, ev->levels[i].size);
    }
    if (ev->fields & TR_F_RAW) {
        msgpack_pack_bin(&pk, ev->raw_len);
        msgpack_pack_bin_body(&pk, ev->raw, ev->raw_len);
    } else {
        msgpack_pack_nil(&pk);
    }
}

static void msgpack_encoding_is_byte_identical_to_msgpack_c(void **state)
{
    (void)state;
    /* every boundary of every integer form, both signs */
    static const int64_t edge[] = {0,  1,  31, 32, -1, -31, -32, -33, 127, 128, -127, -128,
                                   -129, 255, 256, -255, -256, 32767, 32768, -32768, -32769,
                                   65535, 65536, 2147483647LL, 2147483648LL, -2147483648LL,
                                   -2147483649LL, 4294967295LL, 4294967296LL, INT64_MAX,
                                   INT64_MIN + 1};
    static struct tr_level lv[64];
    static uint8_t raw[70000];
    struct tr_buf a, b;
    tr_buf_init(&a);
    tr_buf_init(&b);
    uint64_t rng = 0x2545f4914f6cdd1dull;
    size_t ne = sizeof edge / sizeof edge[0];
    for (int r = 0; r < 4000; r++) {
        struct tr_event ev;
        gen_event(&rng, &ev, lv, 64, raw, 300);
        if (r < (int)(ne * ne)) {
            int64_t x = edge[r % ne], y = edge[(r / ne) % ne];
            ev.seq = (uint64_t)x;
            ev.first_seq = (uint64_t)y;
            ev.ts_exchange = x;
            ev.ts_receive = y;
            ev.price.mant = x;
            ev.size.mant = y;
            ev.origin = (uint16_t)x;
            ev.fields = (uint32_t)y & TR_F_ALL;
            if (!(ev.fields & TR_F_RAW))
                ev.raw_len = 0;
        }
        if (r == 1) { /* long strings and a bin past 8 and 16 bits */
            memset(ev.text, 'x', sizeof ev.text - 1);
            ev.text[sizeof ev.text - 1] = 0;
            memset(ev.id, 'y', 40);
            ev.id[40] = 0;
            ev.raw = raw;
            ev.raw_len = sizeof raw;
            ev.fields |= TR_F_RAW;
        }
        a.len = b.len = 0;
        assert_int_equal(tr_event_encode(&ev, &a), 0);
        ref_encode(&ev, &b);
        assert_int_equal(a.len, b.len);
        if (memcmp(a.data, b.data, a.len) != 0)
            fail_msg("round %d: bytes differ from msgpack-c", r);
    }
    tr_buf_free(&a);
    tr_buf_free(&b);
}

static void msgpack_batch_keeps_every_event_valid(void **state)
{
    (void)state;
    /* Levels of earlier events must survive decoding later ones. */
    uint64_t rng = 7;
    enum { N = 200 };
    static struct tr_level lv[N][32];
    static struct tr_event in[N], out[N];
    struct tr_buf buf;
    tr_buf_init(&buf);
    assert_int_equal(tr_event_batch_begin(&buf, N), 0);
    for (int i = 0; i < N; i++) {
        gen_event(&rng, &in[i], lv[i], 32, NULL, 0);
        assert_int_equal(tr_event_encode(&in[i], &buf), 0);
    }
    uint32_t n;
    size_t off, used;
    assert_int_equal(tr_event_batch_header(buf.data, buf.len, &n, &off, NULL), 0);
    assert_int_equal(n, N);
    struct tr_event_scratch s;
    tr_event_scratch_init(&s);
    for (int i = 0; i < N; i++) {
        assert_int_equal(tr_event_decode(buf.data + off, buf.len - off, &used, &out[i], &s, NULL), 0);
        off += used;
    }
    assert_int_equal(off, buf.len);
    for (int i = 0; i < N; i++)
        assert_true(tr_event_equal(&in[i], &out[i]));
    tr_event_scratch_free(&s);
    tr_buf_free(&buf);
}

static void msgpack_decoder_refuses_every_truncation(void **state)
{
    (void)state;
    uint64_t rng = 42;
    struct tr_level lv[8];
    uint8_t raw[16];
    struct tr_event in, out;
    do
        gen_event(&rng, &in, lv, 8, raw, sizeof raw);
    while (in.kind != TR_KIND_BOOK_DELTA);
    struct tr_buf buf;
    tr_buf_init(&buf);
    assert_int_equal(tr_event_encode(&in, &buf), 0);
    struct tr_event_scratch s;
    tr_event_scratch_init(&s);
    for (size_t cut = 0; cut < buf.len; cut++) {
        size_t used;
        struct tr_error err;
        tr_error_clear(&err);
        int rc = tr_event_decode(buf.data, cut, &used, &out, &s, &err);
        assert_true(rc == TR_EPARSE);
        assert_non_null(strstr(err.msg, "event msgpack"));
        assert_int_equal(out.kind, 0); /* nothing half-filled leaks out */
    }
    tr_event_scratch_free(&s);
    tr_buf_free(&buf);
}

static void msgpack_decoder_rejects_other_versions_and_bad_fields(void **state)
{
    (void)state;
    struct tr_event in, out;
    tr_event_init(&in);
    in.kind = TR_KIND_TRADE;
    strcpy(in.provider, "coinbase");
    strcpy(in.instrument, "BTC-USD");
    struct tr_buf buf;
    tr_buf_init(&buf);
    assert_int_equal(tr_event_encode(&in, &buf), 0);
    struct tr_event_scratch s;
    tr_event_scratch_init(&s);
    struct tr_error err;
    size_t used;
    assert_int_equal(buf.data[0], 0xdc); /* array16 of 19 elements */
    buf.data[3] = 2; /* version fixint */
    tr_error_clear(&err);
    assert_int_equal(tr_event_decode(buf.data, buf.len, &used, &out, &s, &err), TR_EVERSION);
    assert_non_null(strstr(err.msg, "version 2"));
    buf.data[3] = 1;
    buf.data[4] = 9; /* kind out of range */
    tr_error_clear(&err);
    assert_int_equal(tr_event_decode(buf.data, buf.len, &used, &out, &s, &err), TR_ERANGE);
    assert_non_null(strstr(err.msg, "'kind'"));
    buf.data[4] = 0; /* found by fuzz_event_msgpack: kind 0 decoded */
    tr_error_clear(&err);
    assert_int_equal(tr_event_decode(buf.data, buf.len, &used, &out, &s, &err), TR_EPARSE);
    assert_non_null(strstr(err.msg, "'kind'"));
    tr_event_scratch_free(&s);
    tr_buf_free(&buf);
}

static void json_round_trips_random_events(void **state)
{
    (void)state;
    uint64_t rng = 12345;
    struct tr_level lv[16];
    struct tr_buf buf;
    struct tr_event_scratch s;
    tr_buf_init(&buf);
    tr_event_scratch_init(&s);
    for (int r = 0; r < ROUNDS; r++) {
        struct tr_event in, out;
        gen_event(&rng, &in, lv, 16, NULL, 0);
        if (in.kind != TR_KIND_BOOK_DELTA && in.kind != TR_KIND_BOOK_SNAPSHOT)
            in.n_bids = in.n_asks = 0;
        buf.len = 0;
        assert_int_equal(tr_event_to_json(&in, &buf), 0);
        struct tr_error err;
        tr_error_clear(&err);
        tr_event_scratch_reset(&s);
        if (tr_event_from_json((const char *)buf.data, buf.len, &out, &s, &err))
            fail_msg("round %d: %s in %.*s", r, err.msg, (int)buf.len, buf.data);
        /* JSON carries the value of a field only when it is present. */
        struct tr_event want = in;
        if (!(want.fields & TR_F_SEQ)) want.seq = 0;
        assert_true(tr_event_equal(&want, &out));
    }
    tr_buf_free(&buf);
    tr_event_scratch_free(&s);
}

static void json_matches_the_documented_form(void **state)
{
    (void)state;
    const char *line = "{\"provider\":\"coinbase\",\"kind\":\"trade\",\"instrument\":\"BTC-USD\","
                       "\"seq\":123,\"id\":\"456\",\"ts_exchange\":1700000000123456789,"
                       "\"price\":\"43123.45\",\"size\":\"0.0012\",\"side\":\"buy\"}";
    struct tr_event ev;
    struct tr_event_scratch s;
    tr_event_scratch_init(&s);
    assert_int_equal(tr_event_from_json(line, strlen(line), &ev, &s, NULL), 0);
    assert_int_equal(ev.kind, TR_KIND_TRADE);
    assert_int_equal(ev.price.mant, 4312345);
    assert_int_equal(ev.side, TR_SIDE_BUY);
    struct tr_buf buf;
    tr_buf_init(&buf);
    assert_int_equal(tr_event_to_json(&ev, &buf), 0);
    assert_int_equal(buf.len, strlen(line));
    assert_memory_equal(buf.data, line, buf.len);
    const char *gap = "{\"provider\":\"sim\",\"kind\":\"gap\",\"instrument\":\"SIM-1\","
                      "\"from_seq\":10,\"to_seq\":12,\"reason\":\"unrecoverable\"}";
    assert_int_equal(tr_event_from_json(gap, strlen(gap), &ev, &s, NULL), 0);
    buf.len = 0;
    assert_int_equal(tr_event_to_json(&ev, &buf), 0);
    assert_memory_equal(buf.data, gap, strlen(gap));
    tr_buf_free(&buf);
    tr_event_scratch_free(&s);
}

static void json_errors_name_the_key(void **state)
{
    (void)state;
    struct {
        const char *line, *needle;
    } cases[] = {
        {"{\"kind\":\"trade\",\"instrument\":\"X\"}", "'provider': missing"},
        {"{\"provider\":\"p\",\"kind\":\"bogus\",\"instrument\":\"X\"}", "unknown kind"},
        {"{\"provider\":\"p\",\"kind\":\"trade\",\"instrument\":\"X\",\"price\":1.5}", "'price'"},
        {"{\"provider\":\"p\",\"kind\":\"trade\",\"instrument\":\"X\",\"price\":\"1e5\"}", "'price'"},
        {"{\"provider\":\"p\",\"kind\":\"trade\",\"instrument\":\"X\",\"seq\":-1}", "'seq'"},
        {"{\"provider\":\"p\",\"kind\":\"trade\",\"instrument\":\"X\",\"side\":\"up\"}", "'side'"},
        {"{\"provider\":\"p\",\"kind\":\"book_delta\",\"instrument\":\"X\",\"bids\":[[\"1\"]]}", "'bids'"},
        {"[1,2]", "not an object"},
        /* found by fuzz_event_json: an empty provider parsed but failed validation */
        {"{\"provider\":\"\",\"kind\":\"gap\",\"instrument\":\"\251\"}", "'provider': empty"},
        {"{\"provider\":", "at byte"},
    };
    struct tr_event_scratch s;
    tr_event_scratch_init(&s);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct tr_event ev;
        struct tr_error err;
        tr_error_clear(&err);
        assert_true(tr_event_from_json(cases[i].line, strlen(cases[i].line), &ev, &s, &err) < 0);
        if (!strstr(err.msg, cases[i].needle))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].needle);
        assert_int_equal(ev.kind, 0);
    }
    tr_event_scratch_free(&s);
}

static void json_decodes_events_from_a_tokenized_batch(void **state)
{
    (void)state;
    uint64_t rng = 777;
    static struct tr_level lv[20][16]; /* each event keeps its own levels */
    struct tr_buf buf;
    struct tr_event_scratch s;
    tr_buf_init(&buf);
    tr_event_scratch_init(&s);
    struct tr_event in[20];
    for (int r = 0; r < 50; r++) {
        buf.len = 0;
        assert_int_equal(tr_buf_append(&buf, "{\"events\":[", 11), 0);
        for (int k = 0; k < 20; k++) {
            gen_event(&rng, &in[k], lv[k], 16, NULL, 0);
            if (in[k].kind != TR_KIND_BOOK_DELTA && in[k].kind != TR_KIND_BOOK_SNAPSHOT)
                in[k].n_bids = in[k].n_asks = 0;
            if (!(in[k].fields & TR_F_SEQ))
                in[k].seq = 0;
            if (k)
                assert_int_equal(tr_buf_append(&buf, ",", 1), 0);
            assert_int_equal(tr_event_to_json(&in[k], &buf), 0);
        }
        assert_int_equal(tr_buf_append(&buf, "]}", 2), 0);
        static struct tr_json_tok toks[20000];
        const char *text = (const char *)buf.data;
        int n = tr_json_parse(text, buf.len, toks, 20000, NULL);
        assert_true(n > 0);
        int arr = tr_json_get(text, toks, 0, "events");
        tr_event_scratch_reset(&s);
        for (uint32_t k = 0; k < 20; k++) {
            struct tr_event out, alone;
            int i = tr_json_at(toks, arr, k);
            assert_int_equal(tr_event_from_json_tok(text, toks, i, &out, &s, NULL), 0);
            assert_true(tr_event_equal(&in[k], &out));
            /* the same as decoding the event's own text */
            assert_int_equal(tr_event_from_json(text + toks[i].start, toks[i].len, &alone, &s, NULL), 0);
            assert_true(tr_event_equal(&alone, &out));
        }
        struct tr_event out;
        struct tr_error err;
        tr_error_clear(&err);
        assert_int_equal(tr_event_from_json_tok(text, toks, arr, &out, &s, &err), TR_EPARSE);
        assert_non_null(strstr(err.msg, "not an object"));
    }
    tr_buf_free(&buf);
    tr_event_scratch_free(&s);
}

static void json_keys_may_be_escaped_repeated_or_in_any_order(void **state)
{
    (void)state;
    /* "pr\u006fvider" is "provider"; the first "price" wins (as tr_json_get);
     * unknown keys, even escaped or long ones, are ignored. */
    const char *line = "{\"size\":\"2\",\"pr\\u006fvider\":\"p\",\"price\":\"1.5\",\"kind\":\"trade\","
                       "\"\\u0075nknown_and_rather_long_key\":1,\"price\":\"9\",\"instrument\":\"X\","
                       "\"x\":{\"price\":\"7\"}}";
    struct tr_event ev;
    struct tr_event_scratch s;
    tr_event_scratch_init(&s);
    assert_int_equal(tr_event_from_json(line, strlen(line), &ev, &s, NULL), 0);
    assert_string_equal(ev.provider, "p");
    assert_int_equal(ev.price.mant, 15);
    assert_int_equal(ev.price.scale, 1);
    assert_int_equal(ev.size.mant, 2);
    /* The reject names the same field whatever the key order. */
    const char *a = "{\"seq\":\"x\",\"provider\":\"p\",\"kind\":\"trade\",\"instrument\":\"X\",\"price\":1}";
    const char *b = "{\"provider\":\"p\",\"kind\":\"trade\",\"instrument\":\"X\",\"price\":1,\"seq\":\"x\"}";
    struct tr_error ea, eb;
    tr_error_clear(&ea);
    tr_error_clear(&eb);
    assert_int_equal(tr_event_from_json(a, strlen(a), &ev, &s, &ea), TR_EPARSE);
    assert_int_equal(tr_event_from_json(b, strlen(b), &ev, &s, &eb), TR_EPARSE);
    assert_string_equal(ea.msg, eb.msg);
    assert_non_null(strstr(ea.msg, "'seq'"));
    tr_event_scratch_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(msgpack_round_trips_random_events),
        cmocka_unit_test(msgpack_encoding_is_byte_identical_to_msgpack_c),
        cmocka_unit_test(msgpack_batch_keeps_every_event_valid),
        cmocka_unit_test(msgpack_decoder_refuses_every_truncation),
        cmocka_unit_test(msgpack_decoder_rejects_other_versions_and_bad_fields),
        cmocka_unit_test(json_round_trips_random_events),
        cmocka_unit_test(json_matches_the_documented_form),
        cmocka_unit_test(json_errors_name_the_key),
        cmocka_unit_test(json_decodes_events_from_a_tokenized_batch),
        cmocka_unit_test(json_keys_may_be_escaped_repeated_or_in_any_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
