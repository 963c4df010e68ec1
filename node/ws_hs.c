/* The WebSocket opening handshake, client side (RFC 6455 4.1, 4.2.2): the
 * HTTP/1.1 upgrade request and the check of the server's answer. A pure
 * function over the bytes received so far, so it is unit-tested and
 * fuzzed without sockets (tests/unit/test_ws.c, tests/fuzz/fuzz_ws.c). A
 * refused upgrade (any status but 101) is an error that carries the HTTP
 * status, for the log line and the reconnect policy. */
#include "ws.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static int clean(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == ' ' || (unsigned char)*s < 0x20)
            return 0;
    return 1;
}

int ws_upgrade_request(struct tr_buf *out, const char *host, int port, const char *path,
                       const uint8_t key[16], char key_b64[WS_KEY_LEN + 1])
{
    if (!host || !*host || !clean(host) || (path && !clean(path)) || port < 0 || port > 65535)
        return TR_EINVAL;
    ws_base64(key, 16, key_b64);
    char hostport[300];
    if (port)
        snprintf(hostport, sizeof hostport, "%.255s:%d", host, port);
    else
        snprintf(hostport, sizeof hostport, "%.255s", host);
    const char *pth = path && *path ? path : "/";
    size_t need = strlen(pth) + strlen(hostport) + 200;
    if (tr_buf_reserve(out, need))
        return TR_ENOMEM;
    int n = snprintf((char *)out->data + out->len, need,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "User-Agent: tickraft\r\n"
                     "\r\n",
                     pth, hostport, key_b64);
    if (n < 0 || (size_t)n >= need)
        return TR_EINVAL;
    out->len += (size_t)n;
    return 0;
}

void ws_accept_for(const char *key_b64, char out[29])
{
    char cat[WS_KEY_LEN + sizeof WS_GUID];
    size_t kl = strnlen(key_b64, WS_KEY_LEN);
    memcpy(cat, key_b64, kl);
    memcpy(cat + kl, WS_GUID, sizeof WS_GUID - 1);
    uint8_t h[20];
    ws_sha1(cat, kl + sizeof WS_GUID - 1, h);
    ws_base64(h, 20, out);
}

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

/* "HTTP/1.x NNN ..." -> NNN, or 0 when it is not a status line. */
static int status_of(const char *p, size_t n)
{
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return 0;
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        st = st * 10 + (p[i] - '0');
    }
    if (n > 12 && p[12] != ' ')
        return 0;
    return st >= 100 ? st : 0;
}

/* Is `tok` one of the comma-separated tokens of v (case-insensitive)? */
static int has_token(const char *v, size_t vl, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < vl) {
        while (i < vl && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < vl && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return 1;
    }
    return 0;
}

int ws_upgrade_check(const char *p, size_t n, const char *key_b64, int *status,
                     struct tr_error *err)
{
    *status = 0;
    const char *end = p + n, *eol = find_crlf(p, end);
    if (eol) { /* a refusal is reported as soon as its status line is in */
        int st = status_of(p, (size_t)(eol - p));
        *status = st;
        if (!st)
            return tr_errorf(err, TR_EPROTO, "websocket upgrade: malformed status line");
        if (st != 101)
            return tr_errorf(err, TR_EPROTO, "websocket upgrade refused: HTTP %d", st);
    }
    const char *hend = NULL;
    for (const char *q = p; q + 3 < end; q++)
        if (q[0] == '\r' && q[1] == '\n' && q[2] == '\r' && q[3] == '\n') {
            hend = q + 4;
            break;
        }
    if (!hend) {
        if (n > WS_HS_MAX)
            return tr_errorf(err, TR_ETOOBIG, "websocket upgrade: answer header over %d bytes",
                             WS_HS_MAX);
        return 0;
    }
    if ((size_t)(hend - p) > WS_HS_MAX)
        return tr_errorf(err, TR_ETOOBIG, "websocket upgrade: answer header over %d bytes",
                         WS_HS_MAX);
    int upgrade = 0, connection = 0, accept = 0;
    char want[29];
    ws_accept_for(key_b64, want);
    for (const char *l = eol + 2; l < hend - 2;) {
        const char *le = find_crlf(l, hend);
        if (!le)
            break;
        const char *colon = memchr(l, ':', (size_t)(le - l));
        if (!colon || colon == l)
            return tr_errorf(err, TR_EPROTO, "websocket upgrade: malformed header line");
        size_t nl = (size_t)(colon - l);
        const char *v = colon + 1;
        size_t vl = (size_t)(le - v);
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        if (nl == 7 && strncasecmp(l, "upgrade", 7) == 0)
            upgrade = vl == 9 && strncasecmp(v, "websocket", 9) == 0;
        else if (nl == 10 && strncasecmp(l, "connection", 10) == 0)
            connection = has_token(v, vl, "upgrade");
        else if (nl == 20 && strncasecmp(l, "sec-websocket-accept", 20) == 0)
            accept = vl == 28 && memcmp(v, want, 28) == 0 ? 1 : -1;
        else if ((nl == 24 && strncasecmp(l, "sec-websocket-extensions", 24) == 0) ||
                 (nl == 22 && strncasecmp(l, "sec-websocket-protocol", 22) == 0))
            return tr_errorf(err, TR_EPROTO,
                             "websocket upgrade: server chose an extension or subprotocol "
                             "we did not offer");
        l = le + 2;
    }
    if (!upgrade || !connection)
        return tr_errorf(err, TR_EPROTO, "websocket upgrade: 101 without Upgrade: websocket / "
                                         "Connection: upgrade");
    if (accept != 1)
        return tr_errorf(err, TR_EPROTO, "websocket upgrade: %s Sec-WebSocket-Accept",
                         accept ? "wrong" : "no");
    return (int)(hend - p);
}
