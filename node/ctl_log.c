/* `tickraft-ctl log dump --dir DATA [--stream GLOB]...`: reads a node's
 * data directory offline and prints its events as JSON lines, one
 * tr_event_to_json object per line in log (LSN) order, so the output can be
 * compared line by line with the simulator's truth file.
 *
 * Stream keys are "provider/kind/instrument" (node/pipe_dedup.c); --stream
 * takes fnmatch(3) globs such as 'coinbase/trade/BTC-*', several of them
 * OR-ed.
 * Streams whose key starts with "raw/" hold raw provider frames, not
 * events (node/pipe_raw.c): they are skipped unless a --stream glob names
 * them, and then printed as {"lsn":..,"stream":..,"raw_len":..}. With
 * --raw only they are printed, in the cryptofeed recording format that
 * `tickraft-sim --replay` and `tickraft-ctl normalize` read
 * (shared/fixtures/recorded/README.md).
 *
 * Opening recovers the log like the node does (a torn tail of the last
 * segment is cut), so run it on a stopped node; a running node holds the
 * directory's lock and the dump says so. Exit codes: 0 ok, 1 the dump
 * failed (missing directory, corrupt segment, undecodable record: one line
 * naming it), 2 bad usage. */
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tickraft/event.h"
#include "tickraft/log.h"

const char ctl_log_help[] = "dump a node's data directory as JSON lines (log dump --dir DATA)";

#define MAX_GLOBS 32

struct dump_opts {
    const char *dir;
    const char *globs[MAX_GLOBS];
    int n_globs;
    int raw; /* --raw: raw streams only, in the replay format */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tickraft-ctl log dump --dir DATA [--stream GLOB]...\n"
            "  Prints every event in the node's log under DATA as one JSON object per line,\n"
            "  in log order. Stop the node first: the dump opens the log like the node does.\n"
            "  --dir DATA      the node's data_dir\n"
            "  --stream GLOB   only streams whose key matches (fnmatch; repeatable), e.g.\n"
            "                  'coinbase/trade/*' or '*/book_delta/BTC-USD'\n"
            "  --raw           the raw capture (streams raw/<feed>, raw_capture = on) in the\n"
            "                  recording format tickraft-sim --replay and tickraft-ctl\n"
            "                  normalize read: '<url> <-> T' per connection, 'T: <frame>'\n"
            "                  per received frame, '<url> <- T: <frame>' per sent frame,\n"
            "                  '<url> -> T: <body>' per REST answer\n"
            "  Stream keys are provider/kind/instrument. Exit: 0 ok, 1 failed, 2 bad usage.\n");
}

static int parse_args(int argc, char **argv, struct dump_opts *o)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--raw") == 0) {
            o->raw = 1;
            continue;
        }
        int is_dir = strncmp(a, "--dir", 5) == 0 && (a[5] == '\0' || a[5] == '=');
        int is_stream = strncmp(a, "--stream", 8) == 0 && (a[8] == '\0' || a[8] == '=');
        if (!is_dir && !is_stream) {
            fprintf(stderr, "tickraft-ctl log dump: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        const char *eq = strchr(a, '=');
        if (eq)
            v = eq + 1;
        else if (i + 1 < argc)
            v = argv[++i];
        if (!v || !*v) {
            fprintf(stderr, "tickraft-ctl log dump: %s needs a value\n", is_dir ? "--dir" : "--stream");
            return 2;
        }
        if (is_dir) {
            o->dir = v;
        } else if (o->n_globs == MAX_GLOBS) {
            fprintf(stderr, "tickraft-ctl log dump: at most %d --stream globs\n", MAX_GLOBS);
            return 2;
        } else {
            o->globs[o->n_globs++] = v;
        }
    }
    if (!o->dir) {
        fprintf(stderr, "tickraft-ctl log dump: --dir DATA is required (see --help)\n");
        return 2;
    }
    return -1; /* go on */
}

/* 1 if the stream is to be printed. Raw streams only when a glob names them. */
static int selected(const struct dump_opts *o, const char *key)
{
    int raw = strncmp(key, "raw/", 4) == 0;
    if (o->raw && !raw)
        return 0;
    if (o->n_globs == 0)
        return o->raw ? raw : !raw;
    for (int i = 0; i < o->n_globs; i++)
        if (fnmatch(o->globs[i], key, 0) == 0)
            return 1;
    return 0;
}

/* One raw record (node/pipe_raw.c: version 1, type, connection id, body)
 * as a recording line. The URL of each stream's current connection comes
 * from its last "opened" record. Returns 0, 1 (not a line: skip) or
 * TR_ENOMEM. Line breaks inside a frame become spaces (JSON whitespace). */
#define RAW_URLS 64
struct raw_url {
    char key[TR_LOG_STREAM_MAX + 1];
    char url[512];
};
static int raw_line(const struct tr_log_record *rec, const char *key, struct raw_url *urls,
                    struct tr_buf *out)
{
    const uint8_t *p = rec->payload;
    size_t n = rec->payload_len;
    if (n < 10 || p[0] != 1 || p[1] > 3)
        return 1;
    size_t u = 0;
    while (u < RAW_URLS && urls[u].key[0] && strcmp(urls[u].key, key) != 0)
        u++;
    if (u == RAW_URLS)
        u = RAW_URLS - 1;
    if (!urls[u].key[0])
        snprintf(urls[u].key, sizeof urls[u].key, "%s", key);
    const char *body = (const char *)p + 10;
    size_t bl = n - 10;
    char ts[40];
    snprintf(ts, sizeof ts, "%lld.%09lld", (long long)(rec->ts_ns / 1000000000),
             (long long)(rec->ts_ns % 1000000000));
    if (p[1] == 1) { /* connection opened: body is its URL */
        snprintf(urls[u].url, sizeof urls[u].url, "%.*s", (int)bl, body);
        char line[600];
        int k = snprintf(line, sizeof line, "%s <-> %s", urls[u].url, ts);
        return tr_buf_append(out, line, (size_t)k);
    }
    if (p[1] == 3) { /* a REST answer: "<url>\n<body>" */
        const char *nl = memchr(body, '\n', bl);
        if (!nl)
            return 1;
        char head[1300];
        int k = snprintf(head, sizeof head, "%.*s -> %s: ", (int)(nl - body), body, ts);
        size_t at = out->len;
        if (k < 0 || (size_t)k >= sizeof head || tr_buf_append(out, head, (size_t)k) ||
            tr_buf_append(out, nl + 1, bl - (size_t)(nl + 1 - body)))
            return TR_ENOMEM;
        for (size_t i = at + (size_t)k; i < out->len; i++)
            if (out->data[i] == '\n' || out->data[i] == '\r')
                out->data[i] = ' ';
        return 0;
    }
    char head[600];
    int k = p[1] == 2 ? snprintf(head, sizeof head, "%s <- %s: ",
                                 urls[u].url[0] ? urls[u].url : "ws://unknown", ts)
                      : snprintf(head, sizeof head, "%s: ", ts);
    size_t at = out->len;
    if (tr_buf_append(out, head, (size_t)k) || tr_buf_append(out, body, bl))
        return TR_ENOMEM;
    for (size_t i = at + (size_t)k; i < out->len; i++)
        if (out->data[i] == '\n' || out->data[i] == '\r')
            out->data[i] = ' ';
    return 0;
}

static int dump(struct tr_log *log, const struct dump_opts *o, uint64_t *printed,
                struct tr_error *err)
{
    static struct raw_url urls[RAW_URLS];
    struct tr_log_reader *r;
    struct tr_log_reader_options ro = {.from = TR_LOG_FROM_START};
    int rc = tr_log_reader_alloc(log, &ro, &r, err);
    if (rc)
        return rc;
    struct tr_buf out;
    tr_buf_init(&out);
    struct tr_event_scratch scratch;
    tr_event_scratch_init(&scratch);
    struct tr_log_record rec;
    char key[TR_LOG_STREAM_MAX + 1];
    while ((rc = tr_log_reader_next(r, &rec, err)) == 1) {
        size_t kl = rec.stream_len < TR_LOG_STREAM_MAX ? rec.stream_len : TR_LOG_STREAM_MAX;
        memcpy(key, rec.stream, kl);
        key[kl] = '\0';
        if (!selected(o, key))
            continue;
        out.len = 0;
        if (o->raw) {
            rc = raw_line(&rec, key, urls, &out);
            if (rc == 1)
                continue;
        } else if (strncmp(key, "raw/", 4) == 0) {
            char line[TR_LOG_STREAM_MAX + 96];
            snprintf(line, sizeof line, "{\"lsn\":%" PRIu64 ",\"stream\":\"%s\",\"raw_len\":%zu}",
                     rec.lsn, key, rec.payload_len);
            rc = tr_buf_append(&out, line, strlen(line));
        } else {
            struct tr_event ev;
            size_t used;
            tr_event_scratch_reset(&scratch);
            rc = tr_event_decode(rec.payload, rec.payload_len, &used, &ev, &scratch, err);
            if (rc) {
                tr_error_wrap(err, rc, "record lsn %" PRIu64 " of stream %s", rec.lsn, key);
                break;
            }
            rc = tr_event_to_json(&ev, &out);
        }
        if (rc == 0)
            rc = tr_buf_append(&out, "\n", 1);
        if (rc) {
            tr_errorf(err, rc, "out of memory");
            break;
        }
        if (fwrite(out.data, 1, out.len, stdout) != out.len) {
            rc = tr_errorf(err, TR_EIO, "writing to stdout failed");
            break;
        }
        (*printed)++;
    }
    if (rc == 0 && fflush(stdout) != 0)
        rc = tr_errorf(err, TR_EIO, "writing to stdout failed");
    if (rc < 0 && rc != TR_EIO && err && err->code == rc && !strstr(err->msg, "record lsn"))
        tr_error_wrap(err, rc, "read at lsn %" PRIu64, tr_log_reader_position(r));
    tr_event_scratch_free(&scratch);
    tr_buf_free(&out);
    tr_log_reader_free(r);
    return rc < 0 ? rc : 0;
}

static int dump_main(int argc, char **argv)
{
    struct dump_opts o = {0};
    int st = parse_args(argc, argv, &o);
    if (st >= 0)
        return st;
    struct stat sb;
    if (stat(o.dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "tickraft-ctl log dump: %s: no such data directory\n", o.dir);
        return 1;
    }
    struct tr_log_options lo;
    tr_log_options_init(&lo);
    lo.sync = TR_LOG_SYNC_NONE; /* no sync thread: nothing is appended */
    lo.no_create = 1;
    lo.verify_sealed = 1; /* a damaged sealed segment is named now, not mid-dump */
    lo.recompress_level = 0; /* a dump rewrites nothing */
    struct tr_log *log;
    struct tr_error err;
    tr_error_clear(&err);
    int rc = tr_log_open(&log, o.dir, &lo, &err);
    if (rc) {
        fprintf(stderr, "tickraft-ctl log dump: %s: %s%s\n", o.dir, err.msg,
                rc == TR_EBUSY ? " (is the node still running?)" : "");
        return 1;
    }
    uint64_t printed = 0;
    rc = dump(log, &o, &printed, &err);
    struct tr_error cerr;
    tr_log_close(log, &cerr);
    if (rc) {
        fprintf(stderr, "tickraft-ctl log dump: %s: %s\n", o.dir, err.msg);
        return 1;
    }
    return 0;
}

int ctl_log_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "dump") == 0)
        return dump_main(argc, argv);
    fprintf(stderr, "tickraft-ctl log: unknown subcommand '%s' (dump)\n", argv[1]);
    return 2;
}
