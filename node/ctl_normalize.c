/* `tickraft-ctl normalize --provider NAME`: runs a provider adapter and the
 * sequencer over frames on stdin (one JSON per line, or the cryptofeed
 * recording form "<unix time>: <json>"), writing normalised events as JSON
 * lines on stdout with gap events where the provider's sequence semantics
 * say one happened, and rejects on stderr. The same adapter code as the
 * node's connection actor; nothing here talks to a network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickraft/provider.h"

const char ctl_normalize_help[] =
    "normalise provider frames from stdin to JSON-lines events (--provider NAME)";

struct out_ctx {
    struct tr_buf line;
    uint64_t events;
    int failed;
};

static int print_cb(void *arg, const struct tr_event *ev)
{
    struct out_ctx *o = arg;
    o->line.len = 0;
    int rc = tr_event_to_json(ev, &o->line);
    if (!rc)
        rc = tr_buf_append(&o->line, "\n", 1);
    if (rc)
        return rc;
    if (fwrite(o->line.data, 1, o->line.len, stdout) != o->line.len)
        o->failed = 1;
    o->events++;
    return 0;
}

/* "1618677817.1295161: {...}" -> receive time in ns and the JSON. Lines
 * naming a URL (sent frames "<-", connection opens "<->", REST bodies "->")
 * are skipped: they are not frames received on the WebSocket. */
static const char *split_line(const char *s, int64_t *recv_ns)
{
    *recv_ns = 0;
    if (*s == '{' || *s == '[')
        return s;
    int64_t sec = 0, frac = 0;
    int nd = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return NULL;
    while (*p >= '0' && *p <= '9') {
        if (sec > INT64_MAX / 10 - 10)
            return NULL;
        sec = sec * 10 + (*p++ - '0');
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (nd < 9) {
                frac = frac * 10 + (*p - '0');
                nd++;
            }
            p++;
        }
    }
    if (p[0] != ':' || p[1] != ' ')
        return NULL;
    for (; nd < 9; nd++)
        frac *= 10;
    if (sec < INT64_MAX / 1000000000 - 1)
        *recv_ns = sec * 1000000000 + frac;
    return p + 2;
}

static void note_ctl(const struct tr_ctl *c, size_t lineno)
{
    switch (c->kind) {
    case TR_CTL_SUB_ERROR: {
        static const char *const names[] = {"none", "unknown_channel", "unknown_market",
                                            "subscription_limit", "other"};
        fprintf(stderr, "note: line %zu: subscribe error %s (%s%s%s): policy %s\n", lineno,
                names[c->sub_error <= 4 ? c->sub_error : 4], c->text,
                c->instrument[0] ? ", market " : "", c->instrument,
                tr_policy_name(tr_policy_for_sub_error(c->sub_error)));
        break;
    }
    case TR_CTL_SERVER_ERROR:
        fprintf(stderr, "note: line %zu: server error: %s\n", lineno, c->text);
        break;
    default: break;
    }
}

int ctl_normalize_main(int argc, char **argv)
{
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--provider") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: tickraft-ctl normalize --provider coinbase|binance|kalshi|sim\n"
                   "  stdin: one frame per line (JSON, or \"<unix time>: <json>\")\n"
                   "  stdout: events as JSON lines; stderr: rejects and a summary\n");
            return 0;
        }
    }
    const struct tr_provider_ops *ops = tr_provider_find(name);
    if (!ops) {
        fprintf(stderr, "normalize: unknown or missing --provider '%s' "
                        "(coinbase, binance, kalshi, sim)\n", name ? name : "");
        return 2;
    }
    struct tr_error err;
    struct tr_provider prov;
    struct tr_sequencer *seq = NULL;
    if (tr_provider_init(&prov, ops, &err) || tr_sequencer_alloc(ops, &seq, &err)) {
        fprintf(stderr, "normalize: %s\n", err.msg);
        if (prov.ops)
            tr_provider_close(&prov);
        return 1;
    }
    struct tr_frame f;
    tr_frame_init(&f);
    struct out_ctx o = {0};
    tr_buf_init(&o.line);
    char *line = NULL;
    size_t cap = 0, lineno = 0, frames = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        int64_t recv_ns;
        const char *json = split_line(line, &recv_ns);
        if (!json && strstr(line, " <-> ")) {
            /* a new connection (cryptofeed recordings, `log dump --raw`):
             * adapter state is per connection, as in the node */
            tr_provider_close(&prov);
            if (tr_provider_init(&prov, ops, &err)) {
                fprintf(stderr, "normalize: %s\n", err.msg);
                rc = 1;
                break;
            }
            continue;
        }
        if (!json || !*json)
            continue;
        frames++;
        tr_error_clear(&err);
        if (tr_provider_parse(&prov, json, strlen(json), recv_ns, &f, &err)) {
            fprintf(stderr, "reject: line %zu: %s\n", lineno, err.msg);
            continue;
        }
        note_ctl(&f.ctl, lineno);
        if ((rc = tr_sequencer_step(seq, &f, print_cb, &o))) {
            fprintf(stderr, "normalize: line %zu: %s\n", lineno, tr_strerror(rc));
            break;
        }
    }
    int unreadable = ferror(stdin);
    const struct tr_seq_stats *st = tr_sequencer_stats(seq);
    fprintf(stderr,
            "normalize: %zu frames, %llu events out, %llu rejects, %llu gaps, "
            "%llu duplicates dropped\n",
            frames, (unsigned long long)o.events, (unsigned long long)prov.rejects,
            (unsigned long long)st->gaps, (unsigned long long)st->dups);
    fflush(stdout);
    free(line);
    tr_buf_free(&o.line);
    tr_frame_free(&f);
    tr_sequencer_free(seq);
    tr_provider_close(&prov);
    if (unreadable) {
        fprintf(stderr, "normalize: stdin unreadable\n");
        return 1;
    }
    return rc || o.failed ? 1 : 0;
}
