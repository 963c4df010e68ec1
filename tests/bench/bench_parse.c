/* tickraft-bench parse --provider NAME|all [--msgs N] [--recordings DIR]:
 * parse + normalise throughput of one adapter on one core, for its trade
 * frames and its book frames, separately. Frames come from the real
 * recordings where they exist (Coinbase match/l2update, Binance
 * aggTrade/depthUpdate, Kalshi trade) and from samples in the published
 * format otherwise (Kalshi book, native batches). Each frame is parsed into
 * tr_events (decimals, timestamps, levels) exactly as the node does; the
 * "seq_" figure adds the sequencer. Last line: a JSON object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"
#include "tickraft/provider.h"

const char bench_parse_help[] =
    "adapter parse+normalise rate: --provider coinbase|binance|kalshi|sim|all [--msgs N]";

static void synth(struct bench_frames *f, const char *fmt, int n)
{
    char b[4096];
    for (int i = 0; i < n; i++) {
        int k = snprintf(b, sizeof b, fmt, i, i, i, i);
        bench_frames_add(f, b, (size_t)k);
    }
}

/* Native batches of 16 events in the project's JSON-lines form. */
static void synth_native(struct bench_frames *f, int book)
{
    struct tr_buf b;
    tr_buf_init(&b);
    static const struct tr_level lv[] = {{{10050, 2}, {3, 0}}, {{10100, 2}, {0, 0}}};
    for (int fr = 0; fr < 64; fr++) {
        b.len = 0;
        tr_buf_append(&b, "{\"type\":\"batch\",\"events\":[", 26);
        for (int i = 0; i < 16; i++) {
            struct tr_event ev;
            tr_event_init(&ev);
            strcpy(ev.provider, "sim");
            snprintf(ev.instrument, sizeof ev.instrument, "SIM-%d", fr % 8);
            ev.seq = (uint64_t)(fr * 16 + i + 1);
            ev.ts_exchange = 1700000000000000000LL + (int64_t)ev.seq * 1000;
            ev.fields = TR_F_SEQ | TR_F_TS_EXCHANGE;
            if (book) {
                ev.kind = TR_KIND_BOOK_DELTA;
                ev.levels = lv;
                ev.n_bids = ev.n_asks = 1;
            } else {
                ev.kind = TR_KIND_TRADE;
                snprintf(ev.id, sizeof ev.id, "%llu", (unsigned long long)ev.seq);
                tr_decimal_parse("101.25", 6, &ev.price);
                tr_decimal_parse("0.500", 5, &ev.size);
                ev.side = TR_SIDE_BUY;
                ev.fields |= TR_F_ID | TR_F_PRICE | TR_F_SIZE;
            }
            if (i)
                tr_buf_append(&b, ",", 1);
            tr_event_to_json(&ev, &b);
        }
        tr_buf_append(&b, "]}", 2);
        bench_frames_add(f, (char *)b.data, b.len);
    }
    tr_buf_free(&b);
}

static void build(const char *name, const char *dir, struct bench_frames *trade, struct bench_frames *book,
                  struct bench_frames *prelude)
{
    if (strcmp(name, "coinbase") == 0) {
        bench_frames_load(trade, dir, "COINBASE.ws.28.0", "\"type\":\"match\"");
        bench_frames_load(book, dir, "COINBASE.ws.28.0", "\"type\":\"l2update\"");
        if (!trade->n)
            synth(trade, "{\"type\":\"match\",\"trade_id\":%d,\"maker_order_id\":\"2a0da34e-61f7-"
                         "4c36-88e5-c9dd15927b16\",\"taker_order_id\":\"3c82abaa-c01e-4608-be59-"
                         "6a1e69742891\",\"side\":\"sell\",\"size\":\"985\",\"price\":"
                         "\"0.00001305\",\"product_id\":\"SKL-BTC\",\"sequence\":%d,\"time\":"
                         "\"2021-04-17T16:43:37.089723Z\"}",
                  97);
        if (!book->n)
            synth(book, "{\"type\":\"l2update\",\"product_id\":\"SKL-BTC\",\"changes\":[[\"sell\","
                        "\"0.0000130%d\",\"660.5\"]],\"time\":\"2021-04-17T16:43:37.075687Z\"}",
                  10);
    } else if (strcmp(name, "binance") == 0) {
        bench_frames_load(trade, dir, "BINANCE.ws.1.0", "\"e\":\"aggTrade\"");
        bench_frames_load(book, dir, "BINANCE.ws.1.0", "\"e\":\"depthUpdate\"");
        if (!trade->n)
            synth(trade, "{\"stream\":\"nknusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":"
                         "1633998523963,\"s\":\"NKNUSDT\",\"a\":%d,\"p\":\"0.35280000\",\"q\":"
                         "\"58.00000000\",\"f\":%d,\"l\":%d,\"T\":1633998523963,\"m\":false,"
                         "\"M\":true}}",
                  50);
        if (!book->n)
            synth(book, "{\"stream\":\"nknusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":"
                        "1633998512068,\"s\":\"NKNUSDT\",\"U\":%d,\"u\":%d,\"b\":[[\"0.35130000\","
                        "\"6195.00000000\"]],\"a\":[]}}",
                  10);
    } else if (strcmp(name, "kalshi") == 0) {
        bench_frames_load(trade, dir, "kalshi_trade.jsonl", "\"type\":\"trade\"");
        if (!trade->n)
            synth(trade, "{\"type\":\"trade\",\"sid\":2,\"seq\":%d,\"msg\":{\"trade_id\":\"f851595a-"
                         "6d92-424e-09f8-0d2669de70ae\",\"market_ticker\":\"KXSOLD-26FEB1217-T79."
                         "9999\",\"yes_price\":77,\"no_price\":23,\"yes_price_dollars\":\"0.7700\","
                         "\"no_price_dollars\":\"0.2300\",\"count\":75,\"count_fp\":\"75.00\","
                         "\"taker_side\":\"yes\",\"ts\":1770897981}}",
                  10);
        /* Book: a snapshot first (prelude), then +/- deltas that cancel. */
        synth(prelude, "{\"type\":\"orderbook_snapshot\",\"sid\":1,\"seq\":%d,\"msg\":{"
                       "\"market_ticker\":\"KXBTCD-26FEB1217-T67749.99\",\"yes_dollars\":[["
                       "\"0.5100\",\"100.00\"],[\"0.5000\",\"250.00\"]],\"no_dollars\":[["
                       "\"0.4700\",\"80.00\"]]}}",
              1);
        for (int i = 0; i < 32; i++) {
            char b[512];
            int k = snprintf(b, sizeof b,
                             "{\"type\":\"orderbook_delta\",\"sid\":1,\"seq\":%d,\"msg\":{"
                             "\"market_ticker\":\"KXBTCD-26FEB1217-T67749.99\",\"price_dollars\":"
                             "\"0.5100\",\"delta_fp\":\"%s10.00\",\"side\":\"yes\",\"ts\":"
                             "\"2026-02-12T12:06:21.123Z\"}}",
                             i + 2, i % 2 ? "-" : "");
            bench_frames_add(book, b, (size_t)k);
        }
    } else {
        synth_native(trade, 0);
        synth_native(book, 1);
    }
}

struct result {
    double msgs_per_s, mb_per_s, events_per_s, seq_msgs_per_s;
    uint64_t msgs, events, rejects;
};

static int null_cb(void *arg, const struct tr_event *ev)
{
    (void)ev;
    (*(uint64_t *)arg)++;
    return 0;
}

static struct result run(const struct tr_provider_ops *ops, const struct bench_frames *fr,
                         const struct bench_frames *prelude, uint64_t target)
{
    struct result r = {0};
    if (!fr->n)
        return r;
    struct tr_provider p;
    struct tr_frame f;
    struct tr_error err;
    if (tr_provider_init(&p, ops, &err)) {
        fprintf(stderr, "parse: %s\n", err.msg);
        exit(1);
    }
    tr_frame_init(&f);
    for (size_t i = 0; i < prelude->n; i++)
        tr_provider_parse(&p, prelude->v[i], prelude->len[i], 0, &f, &err);
    /* Whole passes over the frame set so byte counts are exact. */
    uint64_t passes = (target + fr->n - 1) / fr->n, bytes = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t k = 0; k < passes; k++) {
        for (size_t i = 0; i < fr->n; i++) {
            if (tr_provider_parse(&p, fr->v[i], fr->len[i], 1, &f, &err))
                r.rejects++;
            r.events += f.n_events;
        }
        bytes += fr->bytes;
    }
    double dt = (double)(bench_now_ns() - t0) / 1e9;
    r.msgs = passes * fr->n;
    r.msgs_per_s = (double)r.msgs / dt;
    r.events_per_s = (double)r.events / dt;
    r.mb_per_s = (double)bytes / dt / 1e6;
    /* Same again through the sequencer (per-connection gap detection). */
    struct tr_sequencer *s;
    if (tr_sequencer_alloc(ops, &s, &err) == 0) {
        uint64_t out = 0;
        uint64_t sp = passes / 4 ? passes / 4 : 1;
        t0 = bench_now_ns();
        for (uint64_t k = 0; k < sp; k++)
            for (size_t i = 0; i < fr->n; i++)
                if (tr_provider_parse(&p, fr->v[i], fr->len[i], 1, &f, &err) == 0)
                    tr_sequencer_step(s, &f, null_cb, &out);
        dt = (double)(bench_now_ns() - t0) / 1e9;
        r.seq_msgs_per_s = (double)(sp * fr->n) / dt;
        tr_sequencer_free(s);
    }
    tr_frame_free(&f);
    tr_provider_close(&p);
    return r;
}

static int one(const char *name, const char *dir, uint64_t target, char *json, size_t cap)
{
    const struct tr_provider_ops *ops = tr_provider_find(name);
    if (!ops) {
        fprintf(stderr, "parse: unknown provider '%s'\n", name);
        return 2;
    }
    struct bench_frames trade = {0}, book = {0}, prelude = {0};
    build(name, dir, &trade, &book, &prelude);
    struct result t = run(ops, &trade, &prelude, target);
    struct result b = run(ops, &book, &prelude, target / 4);
    printf("%-8s trade: %zu distinct frames (%.0f B avg), %.0f msgs/s, %.1f MB/s, %.0f events/s, "
           "with sequencer %.0f msgs/s, rejects %llu\n",
           ops->name, trade.n, trade.n ? (double)trade.bytes / (double)trade.n : 0, t.msgs_per_s,
           t.mb_per_s, t.events_per_s, t.seq_msgs_per_s, (unsigned long long)t.rejects);
    printf("%-8s book:  %zu distinct frames (%.0f B avg), %.0f msgs/s, %.1f MB/s, %.0f events/s, "
           "with sequencer %.0f msgs/s, rejects %llu\n",
           ops->name, book.n, book.n ? (double)book.bytes / (double)book.n : 0, b.msgs_per_s,
           b.mb_per_s, b.events_per_s, b.seq_msgs_per_s, (unsigned long long)b.rejects);
    double tot_s = (double)t.msgs / t.msgs_per_s + (double)b.msgs / b.msgs_per_s;
    double tot_mb = t.mb_per_s * ((double)t.msgs / t.msgs_per_s) +
                    b.mb_per_s * ((double)b.msgs / b.msgs_per_s);
    snprintf(json, cap,
             "{\"bench\":\"parse\",\"provider\":\"%s\",\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f,"
             "\"events_per_s\":%.0f,\"trade_msgs_per_s\":%.0f,\"trade_mb_per_s\":%.1f,"
             "\"trade_events_per_s\":%.0f,\"trade_seq_msgs_per_s\":%.0f,\"book_msgs_per_s\":%.0f,"
             "\"book_mb_per_s\":%.1f,\"book_events_per_s\":%.0f,\"book_seq_msgs_per_s\":%.0f,"
             "\"trade_frames\":%zu,\"book_frames\":%zu,\"rejects\":%llu}",
             ops->name, (double)(t.msgs + b.msgs) / tot_s, tot_mb / tot_s,
             (double)(t.events + b.events) / tot_s, t.msgs_per_s, t.mb_per_s, t.events_per_s,
             t.seq_msgs_per_s, b.msgs_per_s, b.mb_per_s, b.events_per_s, b.seq_msgs_per_s,
             trade.n, book.n, (unsigned long long)(t.rejects + b.rejects));
    bench_frames_free(&trade);
    bench_frames_free(&book);
    bench_frames_free(&prelude);
    return 0;
}

int bench_parse_main(int argc, char **argv)
{
    const char *name = bench_arg(argc, argv, "--provider", "coinbase");
    uint64_t target = (uint64_t)bench_arg_long(argc, argv, "--msgs", 2000000);
    char defdir[1024];
    const char *src = getenv("TR_SOURCE_DIR");
    snprintf(defdir, sizeof defdir, "%s/../shared/fixtures/recorded", src ? src : ".");
    if (access(defdir, R_OK) != 0)
        snprintf(defdir, sizeof defdir, "/work/shared/fixtures/recorded");
    const char *dir = bench_arg(argc, argv, "--recordings", defdir);
    char json[1024];
    if (strcmp(name, "all") != 0) {
        int rc = one(name, dir, target, json, sizeof json);
        if (!rc)
            printf("%s\n", json);
        return rc;
    }
    static const char *const names[] = {"coinbase", "binance", "kalshi", "sim"};
    char all[4096] = "{\"bench\":\"parse\",\"provider\":\"all\"";
    for (int i = 0; i < 4; i++) {
        if (one(names[i], dir, target, json, sizeof json))
            return 1;
        size_t n = strlen(all);
        snprintf(all + n, sizeof all - n, ",\"%s\":%s", names[i], json);
    }
    printf("%s}\n", all);
    return 0;
}
