/* The actor envelope on the wire, lifecycle payloads, exit reasons and the
 * nng error translation.
 *
 * Envelope (msgpack, big-endian as msgpack always is):
 *   0x95                      fixarray of 5
 *   0x01                      version 1 (positive fixint)
 *   0xce TT TT TT TT          type, uint32
 *   0xd9 LL <L bytes> |       sender URL, str8 (or 0xda LL LL str16)
 *   0xcf CC*8                 correlation id, uint64 (0 = plain send)
 *   0xc6 PP PP PP PP <P>      payload, bin32
 * The writer always uses these widths so a batch can patch its lengths in
 * place; the reader accepts any msgpack width for each field. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

size_t env_header_size(size_t slen)
{
    return 2 + 5 + (slen < 256 ? 2 : 3) + slen + 9 + 5;
}

void env_write_header(uint8_t *p, uint32_t type, const char *sender, uint64_t corr,
                      uint32_t plen)
{
    size_t slen = strlen(sender);
    *p++ = 0x95;
    *p++ = 0x01;
    *p++ = 0xce; put_u32(p, type); p += 4;
    if (slen < 256) {
        *p++ = 0xd9; *p++ = (uint8_t)slen;
    } else {
        *p++ = 0xda; *p++ = (uint8_t)(slen >> 8); *p++ = (uint8_t)slen;
    }
    memcpy(p, sender, slen); p += slen;
    *p++ = 0xcf; put_u64(p, corr); p += 8;
    *p++ = 0xc6; put_u32(p, plen);
}

int env_build(nng_msg **out, uint32_t type, const char *sender, uint64_t corr,
              const void *payload, size_t len)
{
    size_t slen = strlen(sender);
    if (slen > 65535 || len > UINT32_MAX)
        return TR_ETOOBIG;
    size_t h = env_header_size(slen);
    nng_msg *m;
    if (nng_msg_alloc(&m, h + len) != 0)
        return TR_ENOMEM;
    uint8_t *p = nng_msg_body(m);
    env_write_header(p, type, sender, corr, (uint32_t)len);
    if (len)
        memcpy(p + h, payload, len);
    *out = m;
    return 0;
}

/* ---- reader: a tiny strict msgpack subset ---- */
struct rd {
    const uint8_t *p, *end;
};

static int rd_uint(struct rd *r, uint64_t *v)
{
    if (r->p >= r->end)
        return TR_EPARSE;
    uint8_t t = *r->p++;
    size_t n;
    if (t <= 0x7f) {
        *v = t;
        return 0;
    }
    switch (t) {
    case 0xcc: n = 1; break;
    case 0xcd: n = 2; break;
    case 0xce: n = 4; break;
    case 0xcf: n = 8; break;
    default: return TR_EPARSE;
    }
    if ((size_t)(r->end - r->p) < n)
        return TR_EPARSE;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | r->p[i];
    r->p += n;
    *v = x;
    return 0;
}

/* Reads a str (want_bin=0) or bin (1) header and its bytes. */
static int rd_bytes(struct rd *r, int want_bin, const uint8_t **s, size_t *len)
{
    if (r->p >= r->end)
        return TR_EPARSE;
    uint8_t t = *r->p++;
    size_t n = 0, w;
    if (!want_bin && (t & 0xe0) == 0xa0) {
        n = t & 0x1f;
        w = 0;
    } else if (t == (want_bin ? 0xc4 : 0xd9)) {
        w = 1;
    } else if (t == (want_bin ? 0xc5 : 0xda)) {
        w = 2;
    } else if (t == (want_bin ? 0xc6 : 0xdb)) {
        w = 4;
    } else {
        return TR_EPARSE;
    }
    if ((size_t)(r->end - r->p) < w)
        return TR_EPARSE;
    for (size_t i = 0; i < w; i++)
        n = (n << 8) | r->p[i];
    r->p += w;
    if ((size_t)(r->end - r->p) < n)
        return TR_EPARSE;
    *s = r->p;
    *len = n;
    r->p += n;
    return 0;
}

int env_parse(const uint8_t *p, size_t len, struct tr_msg *msg, char *sender_buf,
              size_t sender_cap)
{
    struct rd r = {p, p + len};
    uint64_t ver, type, corr;
    const uint8_t *s, *pl;
    size_t slen, plen;
    if (len < 1 || *r.p++ != 0x95)
        return TR_EPARSE;
    if (rd_uint(&r, &ver) || ver != 1)
        return TR_EPARSE;
    if (rd_uint(&r, &type) || type > UINT32_MAX)
        return TR_EPARSE;
    if (rd_bytes(&r, 0, &s, &slen) || slen >= sender_cap)
        return TR_EPARSE;
    if (rd_uint(&r, &corr))
        return TR_EPARSE;
    if (rd_bytes(&r, 1, &pl, &plen))
        return TR_EPARSE;
    memcpy(sender_buf, s, slen);
    sender_buf[slen] = '\0';
    msg->type = (uint32_t)type;
    msg->corr = corr;
    msg->sender = sender_buf;
    msg->payload = pl;
    msg->len = plen;
    return 0;
}

/* ---- lifecycle payload: [name:str, event:uint, reason:int32 as uint32] ---- */
int tr_lifecycle_decode(const struct tr_msg *msg, struct tr_lifecycle *out)
{
    if (msg->type != TR_MSG_LIFECYCLE)
        return TR_EINVAL;
    struct rd r = {msg->payload, msg->payload + msg->len};
    const uint8_t *s;
    size_t n;
    uint64_t ev, reason;
    if (msg->len < 1 || *r.p++ != 0x93)
        return TR_EPARSE;
    if (rd_bytes(&r, 0, &s, &n) || n >= sizeof out->name)
        return TR_EPARSE;
    if (rd_uint(&r, &ev) || rd_uint(&r, &reason))
        return TR_EPARSE;
    memcpy(out->name, s, n);
    out->name[n] = '\0';
    out->event = (int)ev;
    out->reason = (int)(int32_t)(uint32_t)reason;
    return 0;
}

/* Encodes a lifecycle payload into buf (cap >= 96); returns its length. */
size_t lifecycle_encode(const struct tr_lifecycle *ev, uint8_t *buf);
size_t lifecycle_encode(const struct tr_lifecycle *ev, uint8_t *buf)
{
    size_t n = strnlen(ev->name, sizeof ev->name - 1), o = 0;
    buf[o++] = 0x93;
    buf[o++] = 0xd9;
    buf[o++] = (uint8_t)n;
    memcpy(buf + o, ev->name, n);
    o += n;
    buf[o++] = 0xce;
    put_u32(buf + o, (uint32_t)ev->event);
    o += 4;
    buf[o++] = 0xce;
    put_u32(buf + o, (uint32_t)ev->reason);
    return o + 4;
}

/* ---- batches ---- */
int tr_batch_view(const struct tr_msg *msg, uint32_t *count, const uint8_t **items,
                  size_t *items_len)
{
    const uint8_t *p = msg->payload;
    if (msg->len < 5 || p[0] != 0xdd)
        return TR_EPARSE;
    *count = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    *items = p + 5;
    *items_len = msg->len - 5;
    return 0;
}

/* ---- exit reasons ---- */
int tr_exit_is_normal(int reason)
{
    return reason == TR_EXIT_NORMAL || reason == TR_EXIT_SHUTDOWN;
}

const char *tr_exit_str(int reason, char *buf, size_t cap)
{
    switch (reason) {
    case TR_EXIT_NORMAL: snprintf(buf, cap, "normal"); break;
    case TR_EXIT_SHUTDOWN: snprintf(buf, cap, "shutdown"); break;
    case TR_EXIT_KILLED: snprintf(buf, cap, "killed"); break;
    case TR_EXIT_HUNG: snprintf(buf, cap, "hung (missed heartbeat)"); break;
    case TR_EXIT_ESCALATED: snprintf(buf, cap, "escalated (restart intensity)"); break;
    default:
        if (reason < 0)
            snprintf(buf, cap, "error %s", tr_err_name(reason));
        else if (reason >= 2000)
            snprintf(buf, cap, "exit status %d", reason - 2000);
        else if (reason >= 1000)
            snprintf(buf, cap, "signal %d (%s)", reason - 1000, sigabbrev_np(reason - 1000) ? sigabbrev_np(reason - 1000) : "?");
        else
            snprintf(buf, cap, "reason %d", reason);
    }
    return buf;
}

int tr_err_from_nng(int rv)
{
    switch (rv) {
    case 0: return 0;
    case NNG_ENOMEM: return TR_ENOMEM;
    case NNG_EINVAL: return TR_EINVAL;
    case NNG_ETIMEDOUT: return TR_ETIMEDOUT;
    case NNG_EAGAIN: return TR_EAGAIN;
    case NNG_ECLOSED: return TR_ECLOSED;
    case NNG_ECONNREFUSED: return TR_ECONNREFUSED;
    case NNG_ECONNRESET: return TR_ECONNRESET;
    case NNG_EADDRINUSE: return TR_EEXISTS;
    case NNG_ECANCELED: return TR_ECANCELED;
    case NNG_ENOENT: return TR_ENOTFOUND;
    case NNG_EMSGSIZE: return TR_ETOOBIG;
    case NNG_EPERM: return TR_EPERM;
    case NNG_ENOTSUP: return TR_EUNSUPPORTED;
    default: return TR_EIO;
    }
}
