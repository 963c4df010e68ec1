/* A minimal blocking HTTP/1.1 and WebSocket client over raw loopback
 * sockets, for `tickraft-sim ctl`, the tests and the benchmark. It uses no
 * lws on purpose: tests must see exactly what went over the wire (a close
 * frame and its code, or a TCP drop without one = 1006). */
#include "sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int sim_rc_connect(struct sim_rc *c, int port, int timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return tr_err_from_errno(errno);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(c->fd);
        c->fd = -1;
        return e == ECONNREFUSED ? TR_ECONNREFUSED : tr_err_from_errno(e);
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)timeout_ms;
    return 0;
}

void sim_rc_close(struct sim_rc *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t m = send(fd, s, n, MSG_NOSIGNAL);
        if (m < 0) {
            if (errno == EINTR)
                continue;
            return TR_EIO;
        }
        s += m;
        n -= (size_t)m;
    }
    return 0;
}

/* Reads more bytes into c->buf; 0, TR_ETIMEDOUT or TR_ECLOSED (EOF). */
static int fill(struct sim_rc *c, int timeout_ms)
{
    if (c->cap - c->len < 65536) {
        size_t cap = c->cap ? c->cap * 2 : 131072;
        uint8_t *n = realloc(c->buf, cap + 1);
        if (!n)
            return TR_ENOMEM;
        c->buf = n;
        c->cap = cap;
    }
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0)
        return TR_ETIMEDOUT;
    if (r < 0)
        return TR_EIO;
    ssize_t m = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (m == 0)
        return TR_ECLOSED;
    if (m < 0)
        return errno == ECONNRESET ? TR_ECLOSED : TR_EIO;
    c->len += (size_t)m;
    return 0;
}

static void consume(struct sim_rc *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static char *find_hdr_end(struct sim_rc *c)
{
    if (!c->buf)
        return NULL;
    c->buf[c->len] = 0;
    return strstr((char *)c->buf, "\r\n\r\n");
}

int sim_http(int port, const char *method, const char *path, char **body, char **headers,
             int timeout_ms)
{
    struct sim_rc c;
    int rc = sim_rc_connect(&c, port, timeout_ms);
    if (rc)
        return rc;
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                     method, path);
    if (send_all(c.fd, req, (size_t)n)) {
        sim_rc_close(&c);
        return TR_EIO;
    }
    while ((rc = fill(&c, timeout_ms)) == 0)
        ;
    if (rc != TR_ECLOSED || !c.buf) {
        sim_rc_close(&c);
        return rc ? rc : TR_EIO;
    }
    c.buf[c.len] = 0;
    int status = 0;
    char *he = find_hdr_end(&c);
    if (!he || sscanf((char *)c.buf, "HTTP/1.%*d %d", &status) != 1) {
        sim_rc_close(&c);
        return TR_EPROTO;
    }
    if (headers)
        *headers = strndup((char *)c.buf, (size_t)(he - (char *)c.buf));
    if (body)
        *body = strdup(he + 4);
    sim_rc_close(&c);
    return status;
}

int sim_ws_open(struct sim_rc *c, int port, const char *path, int timeout_ms)
{
    int rc = sim_rc_connect(c, port, timeout_ms);
    if (rc)
        return rc;
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path);
    if (send_all(c->fd, req, (size_t)n))
        return TR_EIO;
    char *he;
    while (!(he = find_hdr_end(c)))
        if ((rc = fill(c, timeout_ms)) != 0)
            return rc == TR_ECLOSED ? TR_ECONNREFUSED : rc;
    if (strncmp((char *)c->buf, "HTTP/1.1 101", 12) != 0)
        return TR_EPROTO;
    consume(c, (size_t)(he + 4 - (char *)c->buf));
    return 0;
}

int sim_ws_send(struct sim_rc *c, int opcode, const void *p, size_t n)
{
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    memset(h + hl, 0, 4); /* zero mask key: masked, but bytes unchanged */
    hl += 4;
    if (send_all(c->fd, h, hl))
        return TR_EIO;
    return n ? send_all(c->fd, p, n) : 0;
}

int sim_ws_recv(struct sim_rc *c, int *opcode, char **payload, size_t *plen, int timeout_ms)
{
    char *acc = NULL;
    size_t accn = 0;
    int first_op = -1;
    for (;;) {
        size_t need = 2;
        while (c->len < need) {
            int rc = fill(c, timeout_ms);
            if (rc) {
                free(acc);
                return rc;
            }
        }
        uint8_t b0 = c->buf[0], b1 = c->buf[1];
        uint64_t n = b1 & 0x7f;
        size_t hl = 2;
        if (n == 126)
            hl = 4;
        else if (n == 127)
            hl = 10;
        if (b1 & 0x80)
            hl += 4;
        while (c->len < hl) {
            int rc = fill(c, timeout_ms);
            if (rc) {
                free(acc);
                return rc;
            }
        }
        if ((b1 & 0x7f) == 126)
            n = ((uint64_t)c->buf[2] << 8) | c->buf[3];
        else if ((b1 & 0x7f) == 127)
            for (int i = 0; i < 8; i++)
                n = (i ? n << 8 : 0) | c->buf[2 + i];
        while (c->len < hl + n) {
            int rc = fill(c, timeout_ms);
            if (rc) {
                free(acc);
                return rc;
            }
        }
        int op = b0 & 0x0f;
        if (op == 0x9) { /* ping: answer, then report it */
            sim_ws_send(c, 0xA, c->buf + hl, (size_t)n);
        }
        if (op >= 0x8 || first_op < 0) {
            if (op < 0x8)
                first_op = op;
        }
        if (op >= 0x8) {
            *opcode = op;
            *payload = malloc((size_t)n + 1);
            memcpy(*payload, c->buf + hl, (size_t)n);
            (*payload)[n] = 0;
            *plen = (size_t)n;
            consume(c, hl + (size_t)n);
            free(acc);
            return 0;
        }
        char *na = realloc(acc, accn + (size_t)n + 1);
        if (!na) {
            free(acc);
            return TR_ENOMEM;
        }
        acc = na;
        memcpy(acc + accn, c->buf + hl, (size_t)n);
        accn += (size_t)n;
        acc[accn] = 0;
        consume(c, hl + (size_t)n);
        if (b0 & 0x80) {
            *opcode = first_op;
            *payload = acc;
            *plen = accn;
            return 0;
        }
    }
}
