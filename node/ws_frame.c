/* WebSocket frames, client side (RFC 6455 5): the decoder of what the
 * server sends and the encoder of what we send (masked).
 *
 * The decoder works on whole receive buffers: it reads a frame header,
 * checks it (no mask from a server, no RSV bits since no extension is
 * negotiated, known opcodes, control frames final and <= 125 bytes, the
 * frame and message bounds), and hands the payload over without touching
 * it byte by byte: a message that is whole in the buffer is passed as a
 * pointer into it; a frame split across reads is gathered in `part`, a
 * fragmented message in `msg` (one memcpy each). Control frames may
 * arrive between the fragments of a message (5.4) and are delivered at
 * once. Any violation is an error with the close code to send (1002, or
 * 1009 past a bound); the caller closes the connection, counts and logs
 * it. */
#include "ws.h"

#include <string.h>

#define DEF_MAX (16u << 20)

void ws_dec_init(struct ws_dec *d, size_t max_frame, size_t max_msg)
{
    memset(d, 0, sizeof *d);
    d->max_frame = max_frame ? max_frame : DEF_MAX;
    d->max_msg = max_msg ? max_msg : DEF_MAX;
    tr_buf_init(&d->part);
    tr_buf_init(&d->msg);
}

void ws_dec_close(struct ws_dec *d)
{
    tr_buf_free(&d->part);
    tr_buf_free(&d->msg);
}

void ws_dec_reset(struct ws_dec *d)
{
    d->part.len = 0;
    d->msg.len = 0;
    d->msg_op = 0;
    d->close_hint = 0;
}

struct hdr {
    int fin, op;
    size_t hlen;
    uint64_t len;
};

static int fail(struct ws_dec *d, int hint, struct tr_error *err, int code, const char *what)
{
    d->close_hint = hint;
    return tr_errorf(err, code, "websocket frame %llu: %s", (unsigned long long)d->frames + 1,
                     what);
}

/* Header bytes needed given what is there (at least 2 once 2 are in). */
static size_t hdr_need(const uint8_t *p, size_t n)
{
    if (n < 2)
        return 2;
    int l7 = p[1] & 0x7F;
    return l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
}

/* 1: header parsed and valid; 0: more bytes needed; < 0: error. */
static int parse_hdr(struct ws_dec *d, const uint8_t *p, size_t n, struct hdr *h,
                     struct tr_error *err)
{
    size_t need = hdr_need(p, n);
    if (n < need)
        return 0;
    h->fin = p[0] >> 7;
    h->op = p[0] & 0x0F;
    h->hlen = need;
    if (p[0] & 0x70)
        return fail(d, WS_CLOSE_PROTOCOL, err, TR_EPROTO, "RSV bits set, no extension agreed");
    if (p[1] & 0x80)
        return fail(d, WS_CLOSE_PROTOCOL, err, TR_EPROTO, "masked frame from the server");
    if (need == 2) {
        h->len = p[1] & 0x7F;
    } else if (need == 4) {
        h->len = (uint64_t)p[2] << 8 | p[3];
    } else {
        h->len = 0;
        for (int i = 2; i < 10; i++)
            h->len = h->len << 8 | p[i];
        if (h->len >> 63)
            return fail(d, WS_CLOSE_PROTOCOL, err, TR_EPROTO, "64-bit length with its top bit set");
    }
    if (h->op & 0x8) {
        if (h->op != WS_OP_CLOSE && h->op != WS_OP_PING && h->op != WS_OP_PONG)
            return fail(d, WS_CLOSE_PROTOCOL, err, TR_EPROTO, "unknown control opcode");
        if (!h->fin)
            return fail(d, WS_CLOSE_PROTOCOL, err, TR_EPROTO, "fragmented control frame");
        if (h->len > 125)
            return fail(d, WS_CLOSE_PROTOCOL, err, TR_EPROTO, "control frame over 125 bytes");
    } else if (h->op > WS_OP_BINARY) {
        return fail(d, WS_CLOSE_PROTOCOL, err, TR_EPROTO, "unknown data opcode");
    } else if (h->len > d->max_frame) {
        return fail(d, WS_CLOSE_TOO_BIG, err, TR_ETOOBIG, "frame over the size bound");
    }
    return 1;
}

static int valid_close_code(int c)
{
    return c >= 1000 && c < 5000 && c != 1004 && c != 1005 && c != 1006 && c != 1015;
}

/* One complete frame with its payload at pl. */
static int frame(struct ws_dec *d, const struct hdr *h, const uint8_t *pl, ws_msg_cb cb,
                 void *arg, struct tr_error *err)
{
    struct ws_msg m = {.opcode = h->op, .p = pl, .len = (size_t)h->len};
    if (h->op & 0x8) {
        if (h->op == WS_OP_CLOSE) {
            if (m.len == 1)
                return fail(d, WS_CLOSE_PROTOCOL, err, TR_EPROTO, "close frame of one byte");
            m.close_code = WS_CLOSE_NO_CODE;
            if (m.len >= 2) {
                m.close_code = pl[0] << 8 | pl[1];
                if (!valid_close_code(m.close_code))
                    return fail(d, WS_CLOSE_PROTOCOL, err, TR_EPROTO, "invalid close code");
                m.reason = (const char *)pl + 2;
                m.reason_len = m.len - 2;
            }
        }
        d->frames++;
        return cb(arg, &m);
    }
    if (h->op != WS_OP_CONT) {
        if (d->msg_op)
            return fail(d, WS_CLOSE_PROTOCOL, err, TR_EPROTO,
                        "new message inside a fragmented one");
        d->frames++;
        if (h->fin) { /* the common case: a whole message, no copy */
            d->msgs++;
            return cb(arg, &m);
        }
        d->msg_op = h->op;
        d->msg.len = 0;
    } else {
        if (!d->msg_op)
            return fail(d, WS_CLOSE_PROTOCOL, err, TR_EPROTO, "continuation without a message");
        d->frames++;
    }
    if (h->len > d->max_msg - d->msg.len)
        return fail(d, WS_CLOSE_TOO_BIG, err, TR_ETOOBIG, "message over the size bound");
    if (tr_buf_append(&d->msg, pl, (size_t)h->len))
        return fail(d, WS_CLOSE_TOO_BIG, err, TR_ENOMEM, "no memory for a fragmented message");
    if (!h->fin)
        return 0;
    m.opcode = d->msg_op;
    m.p = d->msg.data;
    m.len = d->msg.len;
    d->msg_op = 0;
    d->msgs++;
    int rc = cb(arg, &m);
    d->msg.len = 0;
    return rc;
}

/* Completes the frame begun in d->part with bytes from *p; advances. */
static int finish_part(struct ws_dec *d, const uint8_t **p, size_t *n, ws_msg_cb cb, void *arg,
                       struct tr_error *err)
{
    struct hdr h;
    int rc;
    while ((rc = parse_hdr(d, d->part.data, d->part.len, &h, err)) == 0) {
        if (!*n)
            return 0;
        size_t take = hdr_need(d->part.data, d->part.len) - d->part.len;
        if (d->part.len < 2)
            take = 1; /* the second byte says how long the header is */
        if (take > *n)
            take = *n;
        if (tr_buf_append(&d->part, *p, take))
            return fail(d, WS_CLOSE_TOO_BIG, err, TR_ENOMEM, "no memory for a split frame");
        *p += take;
        *n -= take;
    }
    if (rc < 0)
        return rc;
    size_t total = h.hlen + (size_t)h.len, take = total - d->part.len;
    if (take > *n)
        take = *n;
    if (tr_buf_append(&d->part, *p, take))
        return fail(d, WS_CLOSE_TOO_BIG, err, TR_ENOMEM, "no memory for a split frame");
    *p += take;
    *n -= take;
    if (d->part.len < total)
        return 0;
    rc = frame(d, &h, d->part.data + h.hlen, cb, arg, err);
    d->part.len = 0;
    return rc;
}

int ws_dec_feed(struct ws_dec *d, const uint8_t *p, size_t n, ws_msg_cb cb, void *arg,
                struct tr_error *err)
{
    int rc;
    if (d->part.len && (rc = finish_part(d, &p, &n, cb, arg, err)))
        return rc;
    while (n) {
        struct hdr h;
        rc = parse_hdr(d, p, n, &h, err);
        if (rc < 0)
            return rc;
        if (rc == 0 || n - h.hlen < h.len) { /* the rest comes with the next read */
            if (tr_buf_append(&d->part, p, n))
                return fail(d, WS_CLOSE_TOO_BIG, err, TR_ENOMEM, "no memory for a split frame");
            return 0;
        }
        size_t total = h.hlen + (size_t)h.len;
        if ((rc = frame(d, &h, p + h.hlen, cb, arg, err)))
            return rc;
        p += total;
        n -= total;
    }
    return 0;
}

/* ---- encoder ---- */

int ws_enc_frame(struct tr_buf *out, int opcode, const void *p, size_t n, uint32_t mask)
{
    if ((opcode & 0x8) && n > 125)
        return TR_EINVAL;
    if (tr_buf_reserve(out, n + 14))
        return TR_ENOMEM;
    uint8_t *b = out->data + out->len;
    size_t h = 2;
    b[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (n < 126) {
        b[1] = (uint8_t)(0x80 | n);
    } else if (n <= 0xFFFF) {
        b[1] = 0x80 | 126;
        b[2] = (uint8_t)(n >> 8);
        b[3] = (uint8_t)n;
        h = 4;
    } else {
        b[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            b[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        h = 10;
    }
    uint8_t m[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
                    (uint8_t)mask};
    memcpy(b + h, m, 4);
    h += 4;
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) /* what we send is small: subscriptions, pongs, closes */
        b[h + i] = s[i] ^ m[i & 3];
    out->len += h + n;
    return 0;
}

int ws_enc_close(struct tr_buf *out, int code, const char *reason, uint32_t mask)
{
    uint8_t pl[125];
    size_t rl = reason ? strnlen(reason, 123) : 0;
    pl[0] = (uint8_t)(code >> 8);
    pl[1] = (uint8_t)code;
    if (rl)
        memcpy(pl + 2, reason, rl);
    return ws_enc_frame(out, WS_OP_CLOSE, pl, 2 + rl, mask);
}
