/* libFuzzer target: arbitrary bytes into the node's HTTP request parser
 * (node/http_parse.c), which faces the network. It must never read past
 * the buffer (ASan checks), and whatever it accepts must be a GET or HEAD
 * of an origin-form path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *buf = malloc(size + 1); /* +1: the server's buffer has one spare byte too */
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    size_t end = tr_http_header_end(buf, size);
    if (end > size)
        abort();
    struct tr_http_request rq;
    int st = tr_http_parse_request(buf, end ? end : size, &rq);
    if (st == 0) {
        if (!rq.method || !rq.path || rq.path[0] != '/')
            abort();
        if (strcmp(rq.method, rq.head ? "HEAD" : "GET") != 0)
            abort();
    } else if (st != 400 && st != 405 && st != 413 && st != 505) {
        abort();
    }
    free(buf);
    return 0;
}
