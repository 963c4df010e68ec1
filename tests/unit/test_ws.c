/* The node's WebSocket codec (node/ws.h): SHA-1 and base64 against the
 * RFC 3174 / RFC 4648 vectors and RFC 6455's handshake example; the
 * upgrade request and the check of the answer (101 accepted with frames
 * after it, a refusal carrying its HTTP status, every malformed answer an
 * error); the frame decoder on every header form, whole messages handed
 * over without a copy, frames split at every byte, fragmented messages
 * with control frames between the fragments, each RFC violation an error
 * with its close code; the encoder's masked frames decoded back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ws.h"

static void hex(const uint8_t *h, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", h[i]);
}

static void sha1_hex(const void *p, size_t n, char out[41])
{
    uint8_t h[20];
    ws_sha1(p, n, h);
    hex(h, 20, out);
}

static void sha1_matches_rfc3174_vectors(void **state)
{
    (void)state;
    char out[41];
    sha1_hex("abc", 3, out);
    assert_string_equal(out, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1_hex(two, strlen(two), out);
    assert_string_equal(out, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    sha1_hex("", 0, out);
    assert_string_equal(out, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    char *m = malloc(1000000);
    memset(m, 'a', 1000000);
    sha1_hex(m, 1000000, out);
    assert_string_equal(out, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(m);
    /* 55, 56 and 64 bytes: the padding edges (one or two tail blocks) */
    char b[64];
    memset(b, 'a', sizeof b);
    sha1_hex(b, 55, out);
    assert_string_equal(out, "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    sha1_hex(b, 56, out);
    assert_string_equal(out, "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    sha1_hex(b, 64, out);
    assert_string_equal(out, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

static void base64_matches_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                       "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        size_t n = ws_base64((const uint8_t *)in[i], strlen(in[i]), out);
        assert_string_equal(out, want[i]);
        assert_int_equal(n, strlen(want[i]));
    }
}

static void accept_matches_rfc6455_example(void **state)
{
    (void)state;
    char acc[29];
    ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static const uint8_t key16[16] = {'t', 'h', 'e', ' ', 's', 'a', 'm', 'p',
                                  'l', 'e', ' ', 'n', 'o', 'n', 'c', 'e'};

static void upgrade_request_has_the_required_headers(void **state)
{
    (void)state;
    struct tr_buf b;
    tr_buf_init(&b);
    char key[WS_KEY_LEN + 1];
    assert_int_equal(ws_upgrade_request(&b, "127.0.0.1", 8080, "/native", key16, key), 0);
    assert_string_equal(key, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_true(tr_buf_append(&b, "", 1) == 0);
    const char *s = (const char *)b.data;
    assert_true(strncmp(s, "GET /native HTTP/1.1\r\n", 22) == 0);
    assert_non_null(strstr(s, "\r\nHost: 127.0.0.1:8080\r\n"));
    assert_non_null(strstr(s, "\r\nUpgrade: websocket\r\n"));
    assert_non_null(strstr(s, "\r\nConnection: Upgrade\r\n"));
    assert_non_null(strstr(s, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
    assert_non_null(strstr(s, "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_int_equal(strcmp(s + strlen(s) - 4, "\r\n\r\n"), 0);
    b.len = 0;
    assert_int_equal(ws_upgrade_request(&b, "example.com", 0, "", key16, key), 0);
    assert_true(tr_buf_append(&b, "", 1) == 0);
    assert_non_null(strstr((const char *)b.data, "GET / HTTP/1.1\r\nHost: example.com\r\n"));
    /* header injection through the configuration is refused */
    assert_int_equal(ws_upgrade_request(&b, "h", 1, "/a\r\nX: y", key16, key), TR_EINVAL);
    assert_int_equal(ws_upgrade_request(&b, "h\n", 1, "/a", key16, key), TR_EINVAL);
    tr_buf_free(&b);
}

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define GOOD101                                                                      \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

static int check(const char *s, int *st, struct tr_error *err)
{
    tr_error_clear(err);
    return ws_upgrade_check(s, strlen(s), KEY, st, err);
}

static void upgrade_answer_101_accepted_frames_after_it_kept(void **state)
{
    (void)state;
    struct tr_error err;
    int st;
    char buf[512];
    snprintf(buf, sizeof buf, "%s\x81\x02hi", GOOD101);
    assert_int_equal(check(buf, &st, &err), (int)strlen(GOOD101));
    assert_int_equal(st, 101);
    /* every prefix is "incomplete", never an error */
    for (size_t n = 0; n < strlen(GOOD101); n++) {
        tr_error_clear(&err);
        assert_int_equal(ws_upgrade_check(GOOD101, n, KEY, &st, &err), 0);
    }
    /* header names and values are case-insensitive; Connection is a token list */
    const char *alt = "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
                      "sec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nServer: x\r\n\r\n";
    assert_int_equal(check(alt, &st, &err), (int)strlen(alt));
}

static void upgrade_refusal_carries_the_http_status(void **state)
{
    (void)state;
    struct tr_error err;
    int st;
    assert_int_equal(check("HTTP/1.1 403 Forbidden\r\n", &st, &err), TR_EPROTO);
    assert_int_equal(st, 403);
    assert_non_null(strstr(err.msg, "refused: HTTP 403"));
    assert_int_equal(check("HTTP/1.1 429 Too Many\r\nRetry-After: 3\r\n\r\n", &st, &err),
                     TR_EPROTO);
    assert_int_equal(st, 429);
    assert_int_equal(check("HTTP/1.0 503 Unavailable\r\n\r\n", &st, &err), TR_EPROTO);
    assert_int_equal(st, 503);
    assert_int_equal(check("SSH-2.0-OpenSSH\r\n", &st, &err), TR_EPROTO);
    assert_int_equal(st, 0);
    assert_non_null(strstr(err.msg, "malformed status line"));
}

static void upgrade_answer_without_proof_is_an_error(void **state)
{
    (void)state;
    struct tr_error err;
    int st;
    assert_int_equal(check("HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
                           &st, &err),
                     TR_EPROTO);
    assert_non_null(strstr(err.msg, "wrong Sec-WebSocket-Accept"));
    assert_int_equal(check("HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                           &st, &err),
                     TR_EPROTO);
    assert_non_null(strstr(err.msg, "no Sec-WebSocket-Accept"));
    assert_int_equal(check("HTTP/1.1 101 x\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                           &st, &err),
                     TR_EPROTO);
    assert_int_equal(check(GOOD101 "", &st, &err), (int)strlen(GOOD101));
    char ext[512];
    snprintf(ext, sizeof ext, "%.*sSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
             (int)strlen(GOOD101) - 2, GOOD101);
    assert_int_equal(check(ext, &st, &err), TR_EPROTO);
    assert_int_equal(check("HTTP/1.1 101 x\r\nbad header line\r\n\r\n", &st, &err), TR_EPROTO);
    /* a header block that never ends is bounded */
    char *big = malloc(WS_HS_MAX + 100);
    memcpy(big, "HTTP/1.1 101 x\r\n", 16);
    memset(big + 16, 'a', WS_HS_MAX + 100 - 16);
    tr_error_clear(&err);
    assert_int_equal(ws_upgrade_check(big, WS_HS_MAX + 100, KEY, &st, &err), TR_ETOOBIG);
    free(big);
}

/* ---- frames ---- */

/* A server frame (unmasked) appended to b. */
static void sframe(struct tr_buf *b, int fin, int op, const void *p, size_t n)
{
    uint8_t h[10];
    size_t hl = 2;
    h[0] = (uint8_t)((fin ? 0x80 : 0) | op);
    if (n < 126) {
        h[1] = (uint8_t)n;
    } else if (n <= 0xFFFF) {
        h[1] = 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    assert_int_equal(tr_buf_append(b, h, hl), 0);
    if (n)
        assert_int_equal(tr_buf_append(b, p, n), 0);
}

/* What the decoder delivered, in order. */
struct got {
    int n;
    int op[16];
    size_t len[16];
    int code[16];
    char data[16][200];
    const uint8_t *ptr[16];
    int stop_at; /* return 1 on this message (0: never) */
};

static int got_cb(void *arg, const struct ws_msg *m)
{
    struct got *g = arg;
    if (g->n < 16) {
        g->op[g->n] = m->opcode;
        g->len[g->n] = m->len;
        g->code[g->n] = m->close_code;
        g->ptr[g->n] = m->p;
        memcpy(g->data[g->n], m->p, m->len < 199 ? m->len : 199);
        g->data[g->n][m->len < 199 ? m->len : 199] = 0;
    }
    g->n++;
    return g->stop_at && g->n == g->stop_at ? 7 : 0;
}

static void whole_message_is_handed_over_without_a_copy(void **state)
{
    (void)state;
    struct ws_dec d;
    ws_dec_init(&d, 0, 0);
    struct tr_buf b;
    tr_buf_init(&b);
    sframe(&b, 1, WS_OP_TEXT, "{\"a\":1}", 7);
    sframe(&b, 1, WS_OP_BINARY, "\x00\x01", 2);
    struct got g = {0};
    struct tr_error err;
    assert_int_equal(ws_dec_feed(&d, b.data, b.len, got_cb, &g, &err), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.op[0], WS_OP_TEXT);
    assert_string_equal(g.data[0], "{\"a\":1}");
    assert_ptr_equal(g.ptr[0], b.data + 2); /* points into the input */
    assert_int_equal(g.op[1], WS_OP_BINARY);
    assert_int_equal(g.len[1], 2);
    assert_int_equal(d.part.len, 0);
    tr_buf_free(&b);
    ws_dec_close(&d);
}

static void lengths_of_7_16_and_64_bits(void **state)
{
    (void)state;
    struct ws_dec d;
    ws_dec_init(&d, 0, 0);
    struct tr_buf b;
    tr_buf_init(&b);
    size_t sizes[] = {0, 125, 126, 65535, 65536, 200000};
    uint8_t *pl = malloc(200000);
    for (size_t i = 0; i < 200000; i++)
        pl[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < 6; i++)
        sframe(&b, 1, WS_OP_BINARY, pl, sizes[i]);
    struct got g = {0};
    struct tr_error err;
    assert_int_equal(ws_dec_feed(&d, b.data, b.len, got_cb, &g, &err), 0);
    assert_int_equal(g.n, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(g.len[i], sizes[i]);
        if (sizes[i])
            assert_memory_equal(g.ptr[i], pl, sizes[i]);
    }
    free(pl);
    tr_buf_free(&b);
    ws_dec_close(&d);
}

/* The same stream fed in two pieces at every split point, and one byte at
 * a time: always the same messages. */
static void frames_split_across_reads_at_every_byte(void **state)
{
    (void)state;
    struct tr_buf b;
    tr_buf_init(&b);
    char mid[300];
    memset(mid, 'm', sizeof mid);
    sframe(&b, 1, WS_OP_TEXT, "first", 5);
    sframe(&b, 0, WS_OP_TEXT, "frag-", 5);
    sframe(&b, 1, WS_OP_PING, "pp", 2);
    sframe(&b, 0, WS_OP_CONT, mid, sizeof mid);
    sframe(&b, 1, WS_OP_CONT, "-end", 4);
    sframe(&b, 1, WS_OP_TEXT, "last", 4);
    for (size_t cut = 0; cut <= b.len + 1; cut++) {
        struct ws_dec d;
        ws_dec_init(&d, 0, 0);
        struct got g = {0};
        struct tr_error err;
        if (cut <= b.len) {
            assert_int_equal(ws_dec_feed(&d, b.data, cut, got_cb, &g, &err), 0);
            assert_int_equal(ws_dec_feed(&d, b.data + cut, b.len - cut, got_cb, &g, &err), 0);
        } else {
            for (size_t i = 0; i < b.len; i++)
                assert_int_equal(ws_dec_feed(&d, b.data + i, 1, got_cb, &g, &err), 0);
        }
        assert_int_equal(g.n, 4);
        assert_string_equal(g.data[0], "first");
        assert_int_equal(g.op[1], WS_OP_PING); /* between the fragments, delivered at once */
        assert_string_equal(g.data[1], "pp");
        assert_int_equal(g.op[2], WS_OP_TEXT);
        assert_int_equal(g.len[2], 5 + sizeof mid + 4);
        assert_true(strncmp(g.data[2], "frag-mmm", 8) == 0);
        assert_string_equal(g.data[3], "last");
        assert_int_equal(d.part.len, 0);
        ws_dec_close(&d);
    }
    tr_buf_free(&b);
}

static void close_frame_gives_code_and_reason(void **state)
{
    (void)state;
    struct ws_dec d;
    ws_dec_init(&d, 0, 0);
    struct tr_buf b;
    tr_buf_init(&b);
    sframe(&b, 1, WS_OP_CLOSE, "\x0f\xa0" "going", 7); /* 4000 */
    sframe(&b, 1, WS_OP_CLOSE, "", 0);
    sframe(&b, 1, WS_OP_PONG, "x", 1);
    struct got g = {0};
    struct tr_error err;
    assert_int_equal(ws_dec_feed(&d, b.data, b.len, got_cb, &g, &err), 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.op[0], WS_OP_CLOSE);
    assert_int_equal(g.code[0], 4000);
    assert_string_equal(g.data[0], "\x0f\xa0" "going");
    assert_int_equal(g.code[1], WS_CLOSE_NO_CODE);
    assert_int_equal(g.op[2], WS_OP_PONG);
    tr_buf_free(&b);
    ws_dec_close(&d);
}

static void callback_value_stops_decoding(void **state)
{
    (void)state;
    struct ws_dec d;
    ws_dec_init(&d, 0, 0);
    struct tr_buf b;
    tr_buf_init(&b);
    sframe(&b, 1, WS_OP_CLOSE, "\x03\xe8", 2);
    sframe(&b, 1, WS_OP_TEXT, "after", 5);
    struct got g = {.stop_at = 1};
    struct tr_error err;
    assert_int_equal(ws_dec_feed(&d, b.data, b.len, got_cb, &g, &err), 7);
    assert_int_equal(g.n, 1);
    tr_buf_free(&b);
    ws_dec_close(&d);
}

/* Feeds raw bytes to a fresh decoder (bounds 1000/3000) and expects the
 * error `code`, close code `hint` and a message containing `what`. */
static void bad(const void *p, size_t n, int code, int hint, const char *what)
{
    struct ws_dec d;
    ws_dec_init(&d, 1000, 3000);
    struct got g = {0};
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(ws_dec_feed(&d, p, n, got_cb, &g, &err), code);
    assert_int_equal(d.close_hint, hint);
    if (!strstr(err.msg, what))
        fail_msg("'%s' does not say '%s'", err.msg, what);
    ws_dec_close(&d);
}

static void malformed_frames_are_errors_with_a_close_code(void **state)
{
    (void)state;
    bad("\x81\x82\x01\x02\x03\x04" "ab", 8, TR_EPROTO, 1002, "masked");
    bad("\xc1\x01x", 3, TR_EPROTO, 1002, "RSV");
    bad("\x91\x01x", 3, TR_EPROTO, 1002, "RSV");
    bad("\x83\x01x", 3, TR_EPROTO, 1002, "unknown data opcode");
    bad("\x8b\x01x", 3, TR_EPROTO, 1002, "unknown control opcode");
    bad("\x09\x01x", 3, TR_EPROTO, 1002, "fragmented control");
    bad("\x89\x7e\x00\x7e", 4, TR_EPROTO, 1002, "over 125");
    bad("\x80\x01x", 3, TR_EPROTO, 1002, "continuation without");
    bad("\x01\x01x\x81\x01y", 6, TR_EPROTO, 1002, "inside a fragmented");
    bad("\x88\x01x", 3, TR_EPROTO, 1002, "one byte");
    bad("\x88\x02\x03\xed", 4, TR_EPROTO, 1002, "invalid close code"); /* 1005 */
    bad("\x88\x02\x00\x10", 4, TR_EPROTO, 1002, "invalid close code");
    bad("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01", 10, TR_EPROTO, 1002, "top bit");
    /* bounds: a frame over max_frame is refused from its header alone */
    bad("\x82\x7e\x03\xe9", 4, TR_ETOOBIG, 1009, "frame over");
    bad("\x82\x7f\x00\x00\x00\x01\x00\x00\x00\x00", 10, TR_ETOOBIG, 1009, "frame over");
    /* fragments that add up past max_msg */
    struct tr_buf b;
    tr_buf_init(&b);
    char k[1000];
    memset(k, 'k', sizeof k);
    sframe(&b, 0, WS_OP_TEXT, k, 1000);
    sframe(&b, 0, WS_OP_CONT, k, 1000);
    sframe(&b, 0, WS_OP_CONT, k, 1000);
    sframe(&b, 1, WS_OP_CONT, k, 1);
    bad(b.data, b.len, TR_ETOOBIG, 1009, "message over");
    tr_buf_free(&b);
}

static void reset_forgets_partial_state(void **state)
{
    (void)state;
    struct ws_dec d;
    ws_dec_init(&d, 0, 0);
    struct got g = {0};
    struct tr_error err;
    assert_int_equal(ws_dec_feed(&d, (const uint8_t *)"\x01\x02" "ab\x81\x05" "ab", 8, got_cb, &g,
                                 &err),
                     0);
    assert_int_equal(g.n, 0);
    ws_dec_reset(&d);
    assert_int_equal(ws_dec_feed(&d, (const uint8_t *)"\x81\x02ok", 4, got_cb, &g, &err), 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.data[0], "ok");
    ws_dec_close(&d);
}

/* Unmasks a client frame into a server frame so the decoder can read it. */
static void unmask_client_frame(struct tr_buf *in, struct tr_buf *out)
{
    uint8_t *p = in->data;
    assert_true(p[1] & 0x80);
    size_t l7 = p[1] & 0x7F, hl = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
    size_t n = in->len - hl - 4;
    uint8_t h[10];
    memcpy(h, p, hl);
    h[1] &= 0x7F;
    assert_int_equal(tr_buf_append(out, h, hl), 0);
    const uint8_t *m = p + hl;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[hl + 4 + i] ^ m[i & 3];
        assert_int_equal(tr_buf_append(out, &c, 1), 0);
    }
}

static void encoder_masks_and_round_trips(void **state)
{
    (void)state;
    size_t sizes[] = {0, 5, 125, 126, 65535, 65536};
    char *pl = malloc(65536);
    for (size_t i = 0; i < 65536; i++)
        pl[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < 6; i++) {
        struct tr_buf c, s;
        tr_buf_init(&c);
        tr_buf_init(&s);
        assert_int_equal(ws_enc_frame(&c, WS_OP_TEXT, pl, sizes[i], 0x12345678u), 0);
        assert_int_equal(c.data[0], 0x81);
        assert_true(c.data[1] & 0x80);
        if (sizes[i] >= 4) /* the payload really is masked */
            assert_true(memcmp(c.data + c.len - sizes[i], pl, 4) != 0);
        unmask_client_frame(&c, &s);
        struct ws_dec d;
        ws_dec_init(&d, 0, 0);
        struct got g = {0};
        struct tr_error err;
        assert_int_equal(ws_dec_feed(&d, s.data, s.len, got_cb, &g, &err), 0);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.len[0], sizes[i]);
        if (sizes[i])
            assert_memory_equal(g.ptr[0], pl, sizes[i]);
        ws_dec_close(&d);
        tr_buf_free(&c);
        tr_buf_free(&s);
    }
    free(pl);
    struct tr_buf c, s;
    tr_buf_init(&c);
    tr_buf_init(&s);
    char big[126] = {0};
    assert_int_equal(ws_enc_frame(&c, WS_OP_PING, big, 126, 1), TR_EINVAL);
    assert_int_equal(ws_enc_close(&c, 1001, "bye", 0xdeadbeefu), 0);
    unmask_client_frame(&c, &s);
    struct ws_dec d;
    ws_dec_init(&d, 0, 0);
    struct got g = {0};
    struct tr_error err;
    assert_int_equal(ws_dec_feed(&d, s.data, s.len, got_cb, &g, &err), 0);
    assert_int_equal(g.op[0], WS_OP_CLOSE);
    assert_int_equal(g.code[0], 1001);
    assert_string_equal(g.data[0] + 2, "bye");
    ws_dec_close(&d);
    tr_buf_free(&c);
    tr_buf_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha1_matches_rfc3174_vectors),
        cmocka_unit_test(base64_matches_rfc4648_vectors),
        cmocka_unit_test(accept_matches_rfc6455_example),
        cmocka_unit_test(upgrade_request_has_the_required_headers),
        cmocka_unit_test(upgrade_answer_101_accepted_frames_after_it_kept),
        cmocka_unit_test(upgrade_refusal_carries_the_http_status),
        cmocka_unit_test(upgrade_answer_without_proof_is_an_error),
        cmocka_unit_test(whole_message_is_handed_over_without_a_copy),
        cmocka_unit_test(lengths_of_7_16_and_64_bits),
        cmocka_unit_test(frames_split_across_reads_at_every_byte),
        cmocka_unit_test(close_frame_gives_code_and_reason),
        cmocka_unit_test(callback_value_stops_decoding),
        cmocka_unit_test(malformed_frames_are_errors_with_a_close_code),
        cmocka_unit_test(reset_forgets_partial_state),
        cmocka_unit_test(encoder_masks_and_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
