/* tickraft-ctl query: a stream's history by seq or time range, paged
 * through the client SDK, printed as JSON lines (default) or CSV
 * (docs/ctl.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pub_ctl.h"

const char ctl_query_help[] = "print a stream's history (seq or time range) as JSON lines or CSV";

struct out {
    int csv;
    struct tr_buf tmp;
};

static int print_cb(void *arg, const struct tr_client_msg *m)
{
    struct out *o = arg;
    if (!o->csv) {
        o->tmp.len = 0;
        if (tr_event_to_json(&m->ev, &o->tmp) == 0)
            printf("%.*s\n", (int)o->tmp.len, (const char *)o->tmp.data);
        return 0;
    }
    char px[64] = "", sz[64] = "";
    if (m->ev.fields & TR_F_PRICE)
        tr_decimal_format(m->ev.price, px);
    if (m->ev.fields & TR_F_SIZE)
        tr_decimal_format(m->ev.size, sz);
    const char *kind = tr_kind_name(m->ev.kind), *side = tr_side_name(m->ev.side);
    printf("%s,%llu,%lld,%s,%s,%s,%s,%s\n", m->stream, (unsigned long long)m->seq,
           (long long)m->ts_ns, kind ? kind : "", side ? side : "", px, sz, m->ev.id);
    return 0;
}

int ctl_query_main(int argc, char **argv)
{
    struct ctl_common o;
    int rc = ctl_common_parse(&o, "query", &argc, argv);
    if (rc)
        return rc;
    if (o.help) {
        printf("usage: tickraft-ctl query STREAM [--by seq|time] [--from A] [--to B]\n"
               "                         [--format jsonl|csv] [--page N] [options]\n\n%s.\n"
               "STREAM is provider/kind/instrument; ranges are inclusive; times are ns or\n"
               "YYYY-MM-DDTHH:MM:SSZ. CSV columns: stream,seq,ts_ns,kind,side,price,size,id\n\n",
               ctl_query_help);
        ctl_common_help(stdout);
        return 0;
    }
    struct tr_client_query q = {.by = TR_CLIENT_BY_SEQ, .page = 1000};
    const char *from = NULL, *to = NULL;
    struct out out = {0};
    tr_buf_init(&out.tmp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' && !q.stream) {
            q.stream = a;
            continue;
        }
        if (!v) {
            fprintf(stderr, "tickraft-ctl query: unexpected argument '%s'\n", a);
            return CTL_EXIT_USAGE;
        }
        i++;
        if (strcmp(a, "--by") == 0 && (strcmp(v, "seq") == 0 || strcmp(v, "time") == 0))
            q.by = v[0] == 't' ? TR_CLIENT_BY_TIME : TR_CLIENT_BY_SEQ;
        else if (strcmp(a, "--from") == 0)
            from = v;
        else if (strcmp(a, "--to") == 0)
            to = v;
        else if (strcmp(a, "--page") == 0)
            q.page = (uint32_t)atoi(v);
        else if (strcmp(a, "--format") == 0 && (strcmp(v, "csv") == 0 || strcmp(v, "jsonl") == 0))
            out.csv = v[0] == 'c';
        else {
            fprintf(stderr, "tickraft-ctl query: bad option '%s %s'\n", a, v);
            return CTL_EXIT_USAGE;
        }
    }
    if (!q.stream) {
        fprintf(stderr, "tickraft-ctl query: which STREAM? (provider/kind/instrument)\n");
        return CTL_EXIT_USAGE;
    }
    int64_t *dst[2] = {&q.from, &q.to};
    const char *src[2] = {from, to};
    for (int i = 0; i < 2; i++) {
        if (!src[i])
            continue;
        char *end;
        if (q.by == TR_CLIENT_BY_TIME ? ctl_parse_time(src[i], dst[i])
                                      : (*dst[i] = strtoll(src[i], &end, 10), *end != 0)) {
            fprintf(stderr, "tickraft-ctl query: bad range value '%s'\n", src[i]);
            return CTL_EXIT_USAGE;
        }
    }
    struct tr_client *c;
    if ((rc = ctl_client_open(&o, &c)))
        return rc;
    if (out.csv)
        printf("stream,seq,ts_ns,kind,side,price,size,id\n");
    struct tr_error err;
    tr_error_clear(&err);
    int64_t n = tr_client_query(c, &q, print_cb, &out, &err);
    tr_client_close(c);
    tr_buf_free(&out.tmp);
    if (n < 0)
        return ctl_fail(&o, (int)n, &err);
    fprintf(stderr, "%lld events\n", (long long)n);
    return 0;
}
