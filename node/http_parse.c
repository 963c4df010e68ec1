/* Request parser of the node's HTTP endpoint (see http.h): a pure
 * function over the header block, so that it can be unit-tested and fuzzed
 * without sockets. Accepts exactly what the endpoint serves: an
 * origin-form GET or HEAD, HTTP/1.0 or 1.1, no body. */
#include "http.h"

#include <string.h>
#include <strings.h>

static int is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Checks one header line; 0 ok, else the status to answer. Sets *host
 * when it is the Host header. */
static int check_header(const char *s, size_t n, int *host)
{
    if (n && (s[0] == ' ' || s[0] == '\t'))
        return 400; /* obsolete line folding */
    const char *colon = memchr(s, ':', n);
    if (!colon || colon == s)
        return 400;
    for (const char *p = s; p < colon; p++)
        if (!is_tchar(*p))
            return 400;
    size_t nl = (size_t)(colon - s);
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    if (nl == 4 && strncasecmp(s, "host", 4) == 0)
        *host = 1;
    if (nl == 17 && strncasecmp(s, "transfer-encoding", 17) == 0)
        return 413; /* a body: nothing here takes one */
    if (nl == 14 && strncasecmp(s, "content-length", 14) == 0) {
        if (vl == 0)
            return 400;
        for (size_t i = 0; i < vl; i++)
            if (v[i] < '0' || v[i] > '9')
                return 400;
        for (size_t i = 0; i < vl; i++)
            if (v[i] != '0')
                return 413;
    }
    return 0;
}

size_t tr_http_header_end(const char *b, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (b[i] != '\n')
            continue;
        if (b[i + 1] == '\n')
            return i + 2;
        if (b[i + 1] == '\r' && i + 2 < len && b[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Splits the request line "METHOD SP target SP version" in place. */
static int request_line(char *line, struct tr_http_request *rq, const char **version)
{
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
        return 400;
    *sp1 = *sp2 = '\0';
    rq->method = line;
    rq->path = sp1 + 1;
    *version = sp2 + 1;
    if (!*rq->method)
        return 400;
    for (const char *p = rq->method; *p; p++)
        if (!is_tchar(*p))
            return 400;
    if (strncmp(*version, "HTTP/", 5) != 0)
        return 400;
    if (strcmp(*version, "HTTP/1.1") != 0 && strcmp(*version, "HTTP/1.0") != 0)
        return 505;
    if (rq->path[0] != '/')
        return 400; /* origin-form only */
    return 0;
}

int tr_http_parse_request(char *buf, size_t len, struct tr_http_request *rq)
{
    memset(rq, 0, sizeof rq[0]);
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\0' || ((unsigned char)buf[i] < ' ' && buf[i] != '\r' && buf[i] != '\n' &&
                                buf[i] != '\t') || buf[i] == 0x7f)
            return 400;
    size_t pos = 0, line_no = 0;
    const char *version = NULL;
    int host = 0, st = 0, ended = 0;
    while (pos < len && !st && !ended) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl)
            return 400; /* the block must end with its blank line */
        size_t n = (size_t)(nl - (buf + pos));
        char *line = buf + pos;
        pos += n + 1;
        if (n && line[n - 1] == '\r')
            n--;
        line[n] = '\0';
        if (line_no++ == 0) {
            st = request_line(line, rq, &version);
            continue;
        }
        if (n == 0)
            ended = 1; /* the blank line */
        else
            st = check_header(line, n, &host);
    }
    if (st)
        return st;
    if (!version || !ended)
        return 400;
    if (strcmp(version, "HTTP/1.1") == 0 && !host)
        return 400; /* RFC 9112 3.2 */
    rq->head = strcmp(rq->method, "HEAD") == 0;
    if (!rq->head && strcmp(rq->method, "GET") != 0)
        return 405;
    char *q = strchr(rq->path, '?');
    if (q) {
        *q++ = '\0';
        rq->query = q;
    }
    return 0;
}
