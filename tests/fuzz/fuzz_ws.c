/* libFuzzer target: arbitrary bytes from a "server" into the node's
 * WebSocket codec (node/ws.h), which faces the network. Byte 0 picks the
 * part: the upgrade answer check, or the frame decoder. The decoder is run
 * twice, on the whole input and split at a point taken from bytes 1-2, and
 * must deliver the same messages and end in the same error either way; a
 * message never exceeds the bounds, and an error always says 1002 or
 * 1009. ASan checks it never reads outside the buffers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

struct sum {
    uint64_t n, h;
    size_t max_len;
};

static int sum_cb(void *arg, const struct ws_msg *m)
{
    struct sum *s = arg;
    s->n++;
    uint64_t h = s->h ^ (uint64_t)m->opcode * 1099511628211u ^ (uint64_t)m->close_code;
    for (size_t i = 0; i < m->len; i++)
        h = (h ^ m->p[i]) * 1099511628211u;
    s->h = h;
    if (m->len > s->max_len)
        s->max_len = m->len;
    return 0;
}

static int run(const uint8_t *p, size_t n, size_t cut, struct sum *s, int *hint)
{
    struct ws_dec d;
    ws_dec_init(&d, 4096, 16384);
    struct tr_error err;
    tr_error_clear(&err);
    int rc = ws_dec_feed(&d, p, cut, sum_cb, s, &err);
    if (rc == 0)
        rc = ws_dec_feed(&d, p + cut, n - cut, sum_cb, s, &err);
    *hint = d.close_hint;
    ws_dec_close(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > 1 << 20)
        return 0;
    const uint8_t *p = data + 3;
    size_t n = size - 3;
    if (data[0] & 1) {
        char *c = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        memcpy(c, p, n);
        int st = -1;
        struct tr_error err;
        tr_error_clear(&err);
        int rc = ws_upgrade_check(c, n, "dGhlIHNhbXBsZSBub25jZQ==", &st, &err);
        if (rc > (int)n || (rc < 0 && rc != TR_EPROTO && rc != TR_ETOOBIG) ||
            (rc > 0 && st != 101))
            abort();
        free(c);
        return 0;
    }
    size_t cut = ((size_t)data[1] << 8 | data[2]) % (n + 1);
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, p, n);
    struct sum a = {0}, b = {0};
    int ha = 0, hb = 0;
    int ra = run(c, n, n, &a, &ha), rb = run(c, n, cut, &b, &hb);
    if (ra != rb || a.n != b.n || a.h != b.h || ha != hb)
        abort();
    if (a.max_len > 16384 || (ra < 0 && ha != WS_CLOSE_PROTOCOL && ha != WS_CLOSE_TOO_BIG))
        abort();
    free(c);
    return 0;
}
