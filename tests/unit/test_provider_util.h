/* Helpers for the adapter tests: locate and read the real recordings in
 * shared/fixtures/recorded (beside the repository, or /work/shared), split
 * cryptofeed lines, and parse one frame with an adapter. */
#ifndef TEST_PROVIDER_UTIL_H
#define TEST_PROVIDER_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tickraft/provider.h"

/* Reads a whole file into a NUL-terminated heap buffer, or NULL. */
static inline char *tp_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return b;
}

/* Path of a recording: $TR_SOURCE_DIR/../shared/fixtures/recorded/NAME,
 * else /work/shared/fixtures/recorded/NAME. */
static inline char *tp_recording(const char *name, size_t *len)
{
    char path[1024];
    const char *src = getenv("TR_SOURCE_DIR");
    if (src) {
        snprintf(path, sizeof path, "%s/../shared/fixtures/recorded/%s", src, name);
        if (access(path, R_OK) == 0)
            return tp_read_file(path, len);
    }
    snprintf(path, sizeof path, "/work/shared/fixtures/recorded/%s", name);
    return tp_read_file(path, len);
}

/* Path of an in-repo fixture under tests/fixtures/providers. */
static inline char *tp_fixture(const char *name, size_t *len)
{
    char path[1024];
    const char *src = getenv("TR_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/providers/%s", src ? src : ".", name);
    return tp_read_file(path, len);
}

/* Iterates the lines of `buf` (modified in place). For cryptofeed lines
 * "<time>: <json>" returns the JSON and sets *recv_ns; URL lines give
 * *url (the URL text) and the JSON after " -> <time>: " if any. */
struct tp_line {
    char *json;    /* NULL if the line has none */
    char *url;     /* REST/WS URL named by the line, or NULL */
    int direction; /* 0 received frame, 1 sent, 2 open, 3 REST body */
    int64_t recv_ns;
};

static inline int64_t tp_time(const char *s, const char **end)
{
    int64_t sec = 0, frac = 0;
    int nd = 0;
    while (*s >= '0' && *s <= '9')
        sec = sec * 10 + (*s++ - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            if (nd < 9) {
                frac = frac * 10 + (*s - '0');
                nd++;
            }
    for (; nd < 9; nd++)
        frac *= 10;
    *end = s;
    return sec * 1000000000 + frac;
}

static inline int tp_next_line(char **cursor, struct tp_line *l)
{
    char *s = *cursor;
    if (!s || !*s)
        return 0;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = s + strlen(s);
    }
    memset(l, 0, sizeof *l);
    const char *e;
    if (*s == '{') {
        l->json = s;
        return 1;
    }
    if (*s >= '0' && *s <= '9') {
        l->recv_ns = tp_time(s, &e);
        if (e[0] == ':' && e[1] == ' ')
            l->json = (char *)e + 2;
        return 1;
    }
    char *sp = strchr(s, ' ');
    if (!sp)
        return 1;
    *sp = '\0';
    l->url = s;
    char *rest = sp + 1;
    if (strncmp(rest, "<-> ", 4) == 0) {
        l->direction = 2;
        return 1;
    }
    int dir = strncmp(rest, "<- ", 3) == 0 ? 1 : strncmp(rest, "-> ", 3) == 0 ? 3 : -1;
    if (dir < 0)
        return 1;
    l->direction = dir;
    l->recv_ns = tp_time(rest + 3, &e);
    if (e[0] == ':' && e[1] == ' ')
        l->json = (char *)e + 2;
    return 1;
}

/* Parses a NUL-terminated frame; returns the adapter's code. */
static inline int tp_parse(struct tr_provider *p, struct tr_frame *f, const char *json,
                           struct tr_error *err)
{
    tr_error_clear(err);
    return tr_provider_parse(p, json, strlen(json), 0, f, err);
}

/* Decimal text of d (static buffer rotation of 4). */
static inline const char *tp_dec(struct tr_decimal d)
{
    static char b[4][TR_DECIMAL_STRLEN];
    static int k;
    k = (k + 1) & 3;
    tr_decimal_format(d, b[k]);
    return b[k];
}

/* Collects events emitted by a sequencer / booksync. */
struct tp_sink {
    struct tr_event ev[256];
    size_t n, total;
    uint64_t gaps;
};
static inline int tp_sink_cb(void *arg, const struct tr_event *ev)
{
    struct tp_sink *s = arg;
    if (ev->kind == TR_KIND_GAP)
        s->gaps++;
    if (s->n < 256) {
        s->ev[s->n] = *ev;
        s->ev[s->n].levels = NULL; /* borrowed: do not keep */
        s->n++;
    }
    s->total++;
    return 0;
}

#endif
