/* The wire protocol's envelope codec, typed getters and token comparison
 * (include/tickraft/protocol.h, docs/protocol.md). Shared by the SDK and the
 * node's publisher so the two can never disagree on a field. */
#include <string.h>

#include "tickraft/protocol.h"

int tr_proto_buf_write(void *data, const char *p, size_t n)
{
    return tr_buf_append(data, p, n) ? -1 : 0;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void tr_proto_pack_req(msgpack_packer *pk, int type, const char *token, uint32_t body_n)
{
    msgpack_pack_array(pk, 5);
    msgpack_pack_uint32(pk, TR_PROTO_MAJOR);
    msgpack_pack_uint32(pk, TR_PROTO_MINOR);
    msgpack_pack_uint32(pk, (uint32_t)type);
    if (token)
        pack_str(pk, token, strlen(token));
    else
        msgpack_pack_nil(pk);
    msgpack_pack_array(pk, body_n);
}

void tr_proto_pack_reply(msgpack_packer *pk, int status, const char *msg, int body_n)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, TR_PROTO_MAJOR);
    msgpack_pack_int(pk, status);
    pack_str(pk, msg ? msg : "", msg ? strlen(msg) : 0);
    if (body_n < 0)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_array(pk, (uint32_t)body_n);
}

int tr_proto_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return TR_EPARSE;
    *v = o->via.u64;
    return 0;
}

int tr_proto_i64(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return 0;
    }
    return TR_EPARSE;
}

int tr_proto_str(const msgpack_object *o, const char **p, size_t *n)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        *p = NULL;
        *n = 0;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_STR)
        return TR_EPARSE;
    *p = o->via.str.ptr;
    *n = o->via.str.size;
    return 0;
}

int tr_proto_bin(const msgpack_object *o, const uint8_t **p, size_t *n)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        *p = NULL;
        *n = 0;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_BIN)
        return TR_EPARSE;
    *p = (const uint8_t *)o->via.bin.ptr;
    *n = o->via.bin.size;
    return 0;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* msgpack-c allocates a container's elements from the count in its header
 * before reading them, so a 6-byte "array of 2^32-1" asks for ~100 GB (the
 * publisher fuzzer found it). Walk the value first without allocating: every
 * element takes at least one byte, so the values still owed can never
 * exceed the bytes left. */
int tr_proto_scan(const void *data, size_t len, size_t *used)
{
    const uint8_t *p = data;
    size_t off = 0;
    uint64_t owed = 1; /* values still to read */
    while (owed) {
        if (off >= len || owed > len - off)
            return TR_EPARSE;
        owed--;
        uint8_t b = p[off++];
        uint64_t n = 0, skip = 0; /* n: values contained, skip: payload bytes */
        int hdr = 0;             /* bytes of length that follow the tag */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            continue;
        } else if (b >= 0x80 && b <= 0x8f) {
            n = 2u * (b & 0x0f);
        } else if (b >= 0x90 && b <= 0x9f) {
            n = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: hdr = 1; break;                 /* bin8, str8 */
            case 0xc5: case 0xda: hdr = 2; break;                 /* bin16, str16 */
            case 0xc6: case 0xdb: hdr = 4; break;                 /* bin32, str32 */
            case 0xc7: hdr = 1; skip = 1; break;                  /* ext8 (+type) */
            case 0xc8: hdr = 2; skip = 1; break;
            case 0xc9: hdr = 4; skip = 1; break;
            case 0xca: skip = 4; break;
            case 0xcb: skip = 8; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;                           /* fixext: type + data */
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: case 0xde: hdr = 2; break;                 /* array16, map16 */
            case 0xdd: case 0xdf: hdr = 4; break;                 /* array32, map32 */
            default: return TR_EPARSE;                            /* 0xc1: never used */
            }
            if (hdr) {
                if ((size_t)hdr > len - off)
                    return TR_EPARSE;
                uint64_t v = be(p + off, hdr);
                off += (size_t)hdr;
                if (b == 0xdc || b == 0xdd)
                    n = v;
                else if (b == 0xde || b == 0xdf)
                    n = 2 * v;
                else
                    skip += v;
            }
        }
        if (skip > len - off)
            return TR_EPARSE;
        off += (size_t)skip;
        if (n > len - off)
            return TR_EPARSE;
        owed += n;
    }
    if (used)
        *used = off;
    return 0;
}

/* Unpacks exactly one array of `want` elements spanning the whole input. */
static int unpack_envelope(const void *p, size_t len, msgpack_unpacked *u, uint32_t want,
                           const msgpack_object **el, struct tr_error *err)
{
    size_t off = 0;
    if (tr_proto_scan(p, len, NULL))
        return tr_errorf(err, TR_EPARSE, "message is not one msgpack value");
    msgpack_unpack_return r = msgpack_unpack_next(u, p, len, &off);
    if (r != MSGPACK_UNPACK_SUCCESS)
        return tr_errorf(err, TR_EPARSE, "message is not one msgpack value");
    if (off != len)
        return tr_errorf(err, TR_EPARSE, "%zu trailing bytes after the message", len - off);
    if (u->data.type != MSGPACK_OBJECT_ARRAY || u->data.via.array.size != want)
        return tr_errorf(err, TR_EPARSE, "message is not an array of %u elements", want);
    *el = u->data.via.array.ptr;
    return 0;
}

int tr_proto_parse_req(const void *p, size_t len, msgpack_unpacked *u,
                       struct tr_proto_req *req, struct tr_error *err)
{
    const msgpack_object *e;
    int rc = unpack_envelope(p, len, u, 5, &e, err);
    if (rc)
        return rc;
    uint64_t major, minor, type;
    if (tr_proto_u64(&e[0], &major) || tr_proto_u64(&e[1], &minor) || tr_proto_u64(&e[2], &type) ||
        major > UINT32_MAX || minor > UINT32_MAX || type > UINT32_MAX)
        return tr_errorf(err, TR_EPARSE, "request header: major, minor and type must be integers");
    if (tr_proto_str(&e[3], &req->token, &req->token_len))
        return tr_errorf(err, TR_EPARSE, "request token must be a string or nil");
    if (e[4].type != MSGPACK_OBJECT_ARRAY)
        return tr_errorf(err, TR_EPARSE, "request body must be an array");
    req->major = (uint32_t)major;
    req->minor = (uint32_t)minor;
    req->type = (uint32_t)type;
    req->body = &e[4].via.array;
    return 0;
}

int tr_proto_parse_reply(const void *p, size_t len, msgpack_unpacked *u,
                         struct tr_proto_reply *rep, struct tr_error *err)
{
    const msgpack_object *e;
    int rc = unpack_envelope(p, len, u, 4, &e, err);
    if (rc)
        return rc;
    uint64_t major;
    int64_t status;
    if (tr_proto_u64(&e[0], &major) || major > UINT32_MAX || tr_proto_i64(&e[1], &status) ||
        status > 0 || status < -1000)
        return tr_errorf(err, TR_EPARSE, "reply header: bad major or status");
    if (tr_proto_str(&e[2], &rep->msg, &rep->msg_len))
        return tr_errorf(err, TR_EPARSE, "reply message must be a string");
    if (e[3].type != MSGPACK_OBJECT_ARRAY && e[3].type != MSGPACK_OBJECT_NIL)
        return tr_errorf(err, TR_EPARSE, "reply body must be an array or nil");
    rep->major = (uint32_t)major;
    rep->status = (int)status;
    rep->body = e[3].type == MSGPACK_OBJECT_ARRAY ? &e[3].via.array : NULL;
    return 0;
}

int tr_proto_token_equal(const char *want, const char *got, size_t got_len)
{
    size_t wl = strlen(want);
    /* Walk the configured token's length whatever was presented, so the
     * time says nothing about how many leading bytes matched. */
    unsigned diff = (unsigned)(wl ^ got_len);
    for (size_t i = 0; i < wl; i++) {
        unsigned char g = i < got_len ? (unsigned char)got[i] : 0;
        diff |= (unsigned)((unsigned char)want[i] ^ g);
    }
    return diff == 0;
}
