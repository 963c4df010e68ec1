/* Example analytic: per-minute VWAP bars of trades from a tickraft
 * cluster, one CSV line per (instrument, minute) when the minute closes.
 *
 *   tickraft-example-vwap [--instrument GLOB] [--since TIME_NS] [--count N] URL [URL...]
 *
 * Open/high/low/close stay exact decimals (compared and printed with the
 * tr_decimal functions). VWAP and volume are printed as rounded numbers:
 * they are derived figures, computed in long double. A minute's bar is
 * printed when a trade of a later minute arrives for that instrument. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickraft/client.h"

#define MAX_INSTRUMENTS 256
#define MINUTE_NS 60000000000LL

struct bar {
    char instrument[TR_INSTRUMENT_MAX];
    int64_t minute; /* start, ns */
    struct tr_decimal open, high, low, close;
    long double notional, volume;
    uint64_t trades;
};

static volatile sig_atomic_t stop;

static void on_sigint(int sig)
{
    (void)sig;
    stop = 1;
}

static long double to_ld(struct tr_decimal d)
{
    long double v = (long double)d.mant;
    for (int i = 0; i < d.scale; i++)
        v /= 10;
    return v;
}

static void print_bar(const struct bar *b)
{
    char o[TR_DECIMAL_STRLEN], h[TR_DECIMAL_STRLEN], l[TR_DECIMAL_STRLEN], c[TR_DECIMAL_STRLEN];
    tr_decimal_format(b->open, o);
    tr_decimal_format(b->high, h);
    tr_decimal_format(b->low, l);
    tr_decimal_format(b->close, c);
    printf("%s,%lld,%s,%s,%s,%s,%.8Lf,%.8Lf,%llu\n", b->instrument,
           (long long)(b->minute / 1000000000), o, h, l, c, b->volume,
           b->volume > 0 ? b->notional / b->volume : 0.0L, (unsigned long long)b->trades);
    fflush(stdout);
}

static struct bar *find(struct bar *bars, size_t *n, const char *inst)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(bars[i].instrument, inst) == 0)
            return &bars[i];
    if (*n == MAX_INSTRUMENTS)
        return NULL;
    struct bar *b = &bars[(*n)++];
    memset(b, 0, sizeof *b);
    snprintf(b->instrument, sizeof b->instrument, "%s", inst);
    b->minute = -1;
    return b;
}

static void add_trade(struct bar *b, const struct tr_event *ev, int64_t ts)
{
    int64_t minute = ts - ts % MINUTE_NS;
    if (b->minute != minute) {
        if (b->minute >= 0 && b->trades)
            print_bar(b);
        b->minute = minute;
        b->open = b->high = b->low = ev->price;
        b->notional = b->volume = 0;
        b->trades = 0;
    }
    if (tr_decimal_cmp(ev->price, b->high) > 0)
        b->high = ev->price;
    if (tr_decimal_cmp(ev->price, b->low) < 0)
        b->low = ev->price;
    b->close = ev->price;
    long double sz = to_ld(ev->size);
    b->notional += to_ld(ev->price) * sz;
    b->volume += sz;
    b->trades++;
}

int main(int argc, char **argv)
{
    const char *nodes[16];
    size_t n_nodes = 0;
    long long count = -1;
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_LATEST, .kind = "trade"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--instrument") == 0 && i + 1 < argc) {
            so.instrument = argv[++i];
        } else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            so.start = TR_CLIENT_START_TIME;
            so.start_ts = atoll(argv[++i]);
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = atoll(argv[++i]);
        } else if (n_nodes < 16) {
            nodes[n_nodes++] = argv[i];
        }
    }
    if (!n_nodes) {
        fprintf(stderr, "usage: %s [--instrument GLOB] [--since NS] [--count N] URL [URL...]\n",
                argv[0]);
        return 2;
    }
    signal(SIGINT, on_sigint);
    signal(SIGPIPE, SIG_IGN);
    struct tr_client_options co = {.nodes = nodes, .n_nodes = n_nodes};
    struct tr_client *c;
    struct tr_client_sub *s;
    struct tr_error err;
    if (tr_client_open(&c, &co, &err) || tr_client_subscribe(c, &so, &s, &err)) {
        fprintf(stderr, "vwap: %s\n", err.msg);
        return 1;
    }
    static struct bar bars[MAX_INSTRUMENTS];
    size_t n_bars = 0;
    printf("instrument,minute_unix,open,high,low,close,volume,vwap,trades\n");
    struct tr_client_msg m;
    long long seen = 0;
    while (!stop && (count < 0 || seen < count)) {
        int rc = tr_client_sub_poll(s, &m, 500, &err);
        if (rc == 0 || rc == TR_ECONNREFUSED)
            continue;
        if (rc < 0) {
            fprintf(stderr, "vwap: %s\n", err.msg);
            break;
        }
        if (m.type != TR_CLIENT_EVENT || m.ev.kind != TR_KIND_TRADE ||
            !(m.ev.fields & TR_F_PRICE) || !(m.ev.fields & TR_F_SIZE))
            continue;
        struct bar *b = find(bars, &n_bars, m.ev.instrument);
        if (b)
            add_trade(b, &m.ev, m.ts_ns);
        seen++;
    }
    for (size_t i = 0; i < n_bars; i++) /* the minutes still open */
        if (bars[i].trades)
            print_bar(&bars[i]);
    tr_client_sub_free(s);
    tr_client_close(c);
    return 0;
}
