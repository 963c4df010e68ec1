/* Replay of a recorded provider session (../shared/fixtures/recorded):
 * cryptofeed recordings (COINBASE.ws.*, BINANCE.ws.*: "<time>: <json>"
 * frames, "<url> <-> <time>" opens, "<url> <- <time>: <json>" sent frames)
 * with their REST companions ("<url> -> <time>: <json>", COINBASE.0 and
 * BINANCE.http.0.0 beside them), and Kalshi JSON lines (one frame a line,
 * paced by msg.ts seconds).
 *
 * Every WebSocket connection on the recording's dialect gets the whole
 * recording from its first frame, at the recorded pace times --speed
 * (0: as fast as the client reads). What the client sends is ignored: the
 * recording already holds the server's answers. REST requests are answered
 * from the recorded responses with the same path and symbol/product: the
 * latest one recorded at or before the replay position, else the first.
 * The truth file gets, at start, every event the provider adapter makes of
 * the recorded frames in order (ts_receive cleared). */
#include "sim.h"

#include <ctype.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#ifdef TR_SIM_HAVE_PROVIDERS
#include "tickraft/provider.h"
#endif

struct rp_frame {
    int64_t t; /* ns, recorded */
    char *p;
    size_t n;
};

struct rp_rest {
    int64_t t;
    char *url;  /* path and query after the host */
    char *body;
};

struct sim_replay {
    int dialect;
    double speed;
    struct rp_frame *f;
    size_t nf, capf;
    struct rp_rest *r;
    size_t nr, capr;
    int64_t pos; /* furthest replay offset reached by any connection (ns) */
};

static int64_t parse_time(const char *s)
{
    return (int64_t)(strtod(s, NULL) * 1e9);
}

static int add_frame(struct sim_replay *r, int64_t t, const char *p, size_t n)
{
    if (r->nf == r->capf) {
        size_t cap = r->capf ? r->capf * 2 : 1024;
        struct rp_frame *f = realloc(r->f, cap * sizeof *f);
        if (!f)
            return TR_ENOMEM;
        r->f = f;
        r->capf = cap;
    }
    char *c = strndup(p, n);
    if (!c)
        return TR_ENOMEM;
    r->f[r->nf++] = (struct rp_frame){t, c, n};
    return 0;
}

static const char *after_host(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : url;
    return p ? p : "/";
}

static int add_rest(struct sim_replay *r, const char *url, size_t ulen, int64_t t, const char *body)
{
    if (r->nr == r->capr) {
        size_t cap = r->capr ? r->capr * 2 : 64;
        struct rp_rest *n = realloc(r->r, cap * sizeof *n);
        if (!n)
            return TR_ENOMEM;
        r->r = n;
        r->capr = cap;
    }
    char *u = strndup(url, ulen);
    char *b = strdup(body);
    if (!u || !b) {
        free(u);
        free(b);
        return TR_ENOMEM;
    }
    char *path = strdup(after_host(u));
    free(u);
    if (!path) {
        free(b);
        return TR_ENOMEM;
    }
    size_t bl = strlen(b);
    while (bl && (b[bl - 1] == '\n' || b[bl - 1] == '\r'))
        b[--bl] = 0;
    r->r[r->nr++] = (struct rp_rest){t, path, b};
    return 0;
}

/* One cryptofeed line: frame, open, sent or REST response. */
static int cf_line(struct sim_replay *r, char *line, size_t len, int *dialect)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = 0;
    if (!len)
        return 0;
    char *sp = strchr(line, ' ');
    if (isdigit((unsigned char)line[0]) && (!sp || sp[-1] == ':')) { /* "<time>: <json>" */
        char *colon = strstr(line, ": ");
        if (!colon)
            return 0;
        return add_frame(r, parse_time(line), colon + 2, len - (size_t)(colon + 2 - line));
    }
    if (!sp)
        return 0;
    if (*dialect < 0)
        *dialect = strstr(line, "coinbase") ? SIM_D_COINBASE
                   : strstr(line, "binance") ? SIM_D_BINANCE : -1;
    if (strncmp(sp, " -> ", 4) == 0) {
        char *colon = strstr(sp + 4, ": ");
        if (colon)
            return add_rest(r, line, (size_t)(sp - line), parse_time(sp + 4), colon + 2);
    }
    return 0; /* opens and sent frames */
}

static int load_file(struct sim_replay *r, const char *path, int kalshi, int *dialect,
                     struct tr_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tr_errorf(err, TR_EIO, "open %s", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    int64_t last = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        if (!kalshi) {
            rc = cf_line(r, line, (size_t)len, dialect);
            continue;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (!len)
            continue;
        const char *ts = strstr(line, "\"ts\":");
        int64_t t = ts ? (int64_t)strtoll(ts + 5, NULL, 10) * 1000000000ll : last;
        if (t < last)
            t = last; /* keep the order of the file */
        last = t;
        rc = add_frame(r, t, line, (size_t)len);
    }
    free(line);
    fclose(f);
    return rc ? tr_errorf(err, rc, "read %s", path) : 0;
}

/* The REST companion of a cryptofeed WS recording: COINBASE.ws.28.0 ->
 * COINBASE.0; BINANCE.ws.1.0 -> BINANCE.http.0.0. */
static void load_companion(struct sim_replay *r, const char *path, int *dialect)
{
    const char *ws = strstr(path, ".ws.");
    if (!ws)
        return;
    static const char *const tails[] = {".0", ".http.0.0"};
    for (size_t i = 0; i < 2; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%.*s%s", (int)(ws - path), path, tails[i]);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        fclose(f);
        load_file(r, p, 0, dialect, NULL);
    }
}

static void write_truth(struct sim_server *s, struct sim_replay *r)
{
    if (!s->has_truth)
        return;
#ifdef TR_SIM_HAVE_PROVIDERS
    const struct tr_provider_ops *ops = tr_provider_find(sim_dialects[r->dialect].name);
    struct tr_provider pr;
    struct tr_error err;
    if (!ops || tr_provider_init(&pr, ops, &err) != 0)
        return;
    struct tr_frame fr;
    tr_frame_init(&fr);
    for (size_t i = 0; i < r->nf; i++) {
        if (tr_provider_parse(&pr, r->f[i].p, r->f[i].n, 0, &fr, &err) != 0)
            continue; /* counted by the adapter; not an event */
        for (size_t e = 0; e < fr.n_events; e++) {
            struct tr_event ev = fr.events[e];
            ev.fields &= ~(uint32_t)(TR_F_TS_RECEIVE | TR_F_RAW);
            ev.ts_receive = 0;
            sim_truth_raw_event(&s->truth, &ev);
        }
    }
    tr_frame_free(&fr);
    tr_provider_close(&pr);
#else
    /* no adapters in this build: the raw frames are the truth */
    for (size_t i = 0; i < r->nf; i++) {
        fwrite(r->f[i].p, 1, r->f[i].n, s->truth.f);
        fputc('\n', s->truth.f);
    }
#endif
    sim_truth_flush(&s->truth);
}

int sim_replay_open(struct sim_server *s, const char *path, double speed, struct tr_error *err)
{
    struct sim_replay *r = calloc(1, sizeof *r);
    if (!r)
        return tr_errorf(err, TR_ENOMEM, "replay");
    r->speed = speed < 0 ? 1 : speed;
    int kalshi = strstr(path, "kalshi") != NULL || strstr(path, ".jsonl") != NULL;
    int d = kalshi ? SIM_D_KALSHI : -1;
    int rc = load_file(r, path, kalshi, &d, err);
    if (rc == 0 && !kalshi)
        load_companion(r, path, &d);
    if (rc == 0 && (d < 0 || r->nf == 0))
        rc = tr_errorf(err, TR_EINVAL, "%s: no frames of a known dialect", path);
    if (rc == 0 && !s->active[d]) {
        int64_t now = sim_now_ns();
        if (sim_exch_init(&s->x[d], d, 0, 1, 1, 0, now, now))
            rc = tr_errorf(err, TR_ENOMEM, "replay exchange");
        else
            s->active[d] = 1;
    }
    if (rc) {
        sim_replay_free(r);
        return rc;
    }
    r->dialect = d;
    s->replay = r;
    write_truth(s, r);
    return 0;
}

void sim_replay_free(struct sim_replay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nf; i++)
        free(r->f[i].p);
    for (size_t i = 0; i < r->nr; i++) {
        free(r->r[i].url);
        free(r->r[i].body);
    }
    free(r->f);
    free(r->r);
    free(r);
}

void sim_replay_open_conn(struct sim_server *s, struct sim_conn *c)
{
    c->rp_idx = 0;
    c->rp_t0 = sim_now_ns();
    (void)s;
}

int sim_replay_tick(struct sim_server *s, int64_t now)
{
    struct sim_replay *r = s->replay;
    int done = 1;
    for (struct sim_conn *c = s->conns; c; c = c->next) {
        if (c->dialect != r->dialect || c->close_code || c->x->f.stall_until)
            continue;
        int sent = 0;
        while (c->rp_idx < r->nf && c->qbytes < (4u << 20) && sent < 5000) {
            int64_t off = r->f[c->rp_idx].t - r->f[0].t;
            if (r->speed > 0 && (double)off > (double)(now - c->rp_t0) * r->speed)
                break;
            if (off > r->pos)
                r->pos = off;
            const struct rp_frame *f = &r->f[c->rp_idx++];
            sim_conn_data(c, f->p, f->n, 1);
            s->ev_sent++;
            sent++;
        }
        if (c->rp_idx < r->nf)
            done = 0;
    }
    return done;
}

/* Value of `key` in a query string ("a=1&b=2"), copied into out. */
static int query_arg(const char *q, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = q; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1, *e = strchr(v, '&');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            snprintf(out, cap, "%.*s", (int)n, v);
            return 1;
        }
    }
    return 0;
}

void sim_replay_rest(struct sim_server *s, int d, const char *fullpath, const struct sim_req *rq,
                     struct sim_resp *rs)
{
    struct sim_replay *r = s->replay;
    const char *sub = fullpath + strlen(sim_dialects[d].prefix);
    const char *sym = sim_req_arg(rq, "symbol");
    const struct rp_rest *best = NULL, *first = NULL;
    int64_t t0 = r->nf ? r->f[0].t : 0;
    for (size_t i = 0; d == r->dialect && i < r->nr; i++) {
        const char *u = r->r[i].url, *q = strchr(u, '?');
        size_t pl = q ? (size_t)(q - u) : strlen(u);
        if (strlen(sub) != pl || strncmp(u, sub, pl) != 0)
            continue;
        char v[128];
        if (sym && q && query_arg(q + 1, "symbol", v, sizeof v) && strcmp(v, sym) != 0)
            continue;
        if (!first)
            first = &r->r[i];
        if (r->r[i].t - t0 <= r->pos)
            best = &r->r[i];
    }
    if (!best)
        best = first;
    if (!best) {
        sim_resp_json(rs, 404, "{\"message\":\"not in the recording\"}");
        return;
    }
    sim_resp_json(rs, 200, best->body);
}
