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

/* --with-fills: a trade stream merged by seq with its fill stream
 * (provider/trade.backfill/instrument, written by backfill jobs;
 * docs/node.md "Backfill jobs"). Each side is read a page at a time; the
 * messages are copied because the SDK reuses its buffers per call. Trade
 * events carry no levels, so a copy of the struct is a full copy (book
 * streams have no fill streams). */
struct side {
    struct tr_client_query q;
    char key[300];
    struct tr_client_msg *m;
    size_t n, i, cap;
    uint64_t after;
    int more, started;
};

static int keep_cb(void *arg, const struct tr_client_msg *m)
{
    struct side *s = arg;
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 1024;
        struct tr_client_msg *nm = realloc(s->m, nc * sizeof *nm);
        if (!nm)
            return 1;
        s->m = nm;
        s->cap = nc;
    }
    s->m[s->n] = *m;
    s->m[s->n].stream = s->key;
    s->m[s->n].payload = NULL;
    s->m[s->n].ev.levels = NULL;
    s->m[s->n].ev.n_bids = s->m[s->n].ev.n_asks = 0;
    s->m[s->n].ev.raw = NULL;
    s->m[s->n].ev.raw_len = 0;
    s->n++;
    return 0;
}

/* Refills side s when it is empty and the range holds more. */
static int refill(struct tr_client *c, struct side *s, struct tr_error *err)
{
    if (s->i < s->n || (s->started && !s->more))
        return 0;
    s->n = s->i = 0;
    s->started = 1;
    int rc = tr_client_query_page(c, &s->q, &s->after, &s->more, keep_cb, s, err);
    return rc < 0 ? rc : 0;
}

static int64_t query_with_fills(struct tr_client *c, const struct tr_client_query *q,
                                struct out *out, struct tr_error *err)
{
    const char *a = strchr(q->stream, '/'), *b = a ? strchr(a + 1, '/') : NULL;
    if (!a || !b || (size_t)(b - a - 1) != 5 || strncmp(a + 1, "trade", 5) != 0)
        return tr_errorf(err, TR_EINVAL, "--with-fills needs a trade stream "
                                         "(provider/trade/instrument), not %s", q->stream);
    struct side sd[2];
    memset(sd, 0, sizeof sd);
    snprintf(sd[0].key, sizeof sd[0].key, "%s", q->stream);
    snprintf(sd[1].key, sizeof sd[1].key, "%.*s/trade.backfill%s", (int)(a - q->stream),
             q->stream, b);
    int64_t total = 0;
    int rc = 0;
    for (int k = 0; k < 2; k++) {
        sd[k].q = *q;
        sd[k].q.stream = sd[k].key;
    }
    for (;;) {
        if ((rc = refill(c, &sd[0], err)) || (rc = refill(c, &sd[1], err)))
            break;
        struct side *pick = NULL;
        for (int k = 0; k < 2; k++)
            if (sd[k].i < sd[k].n &&
                (!pick || sd[k].m[sd[k].i].seq < pick->m[pick->i].seq))
                pick = &sd[k];
        if (!pick)
            break;
        print_cb(out, &pick->m[pick->i++]);
        total++;
    }
    free(sd[0].m);
    free(sd[1].m);
    return rc ? rc : total;
}

int ctl_query_main(int argc, char **argv)
{
    struct ctl_common o;
    int rc = ctl_common_parse(&o, "query", &argc, argv);
    if (rc)
        return rc;
    if (o.help) {
        printf("usage: tickraft-ctl query STREAM [--by seq|time] [--from A] [--to B]\n"
               "                         [--format jsonl|csv] [--page N] [--with-fills]\n"
               "                         [options]\n\n%s.\n"
               "--with-fills merges a trade stream with what backfill jobs recovered for it\n"
               "(provider/trade.backfill/instrument), in seq order.\n"
               "STREAM is provider/kind/instrument; ranges are inclusive; times are ns or\n"
               "YYYY-MM-DDTHH:MM:SSZ. CSV columns: stream,seq,ts_ns,kind,side,price,size,id\n\n",
               ctl_query_help);
        ctl_common_help(stdout);
        return 0;
    }
    struct tr_client_query q = {.by = TR_CLIENT_BY_SEQ, .page = 1000};
    const char *from = NULL, *to = NULL;
    struct out out = {0};
    int fills = 0;
    tr_buf_init(&out.tmp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' && !q.stream) {
            q.stream = a;
            continue;
        }
        if (strcmp(a, "--with-fills") == 0) {
            fills = 1;
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
    int64_t n = fills ? query_with_fills(c, &q, &out, &err)
                      : tr_client_query(c, &q, print_cb, &out, &err);
    tr_client_close(c);
    tr_buf_free(&out.tmp);
    if (n < 0)
        return ctl_fail(&o, (int)n, &err);
    fprintf(stderr, "%lld events\n", (long long)n);
    return 0;
}
