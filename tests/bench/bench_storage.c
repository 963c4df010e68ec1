/* tickraft-bench storage: append and read throughput of the durable log on
 * realistic trade events (several instruments, random-walk prices, encoded
 * with tr_event_encode), plus on-disk size, compression and reopen time.
 *
 * Events are generated and encoded before any timing starts, so the figures
 * are the log's own: group commit (2 ms window) measured from the first
 * append until the last record is durable; no-sync until the last append
 * returns; reading from a fresh open over every record. Temp dirs go under
 * /tmp (or --dir) and are removed. Durable latency: append call to the
 * durability callback, at a fixed offered rate (--rate, default 50,000
 * events/s), for the 2 ms window and for window 0 (leader/follower).
 * Last line: one JSON object. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"
#include "tickraft/event.h"
#include "tickraft/log.h"

const char bench_storage_help[] =
    "durable log: append (group commit / no sync) and read events/s, bytes/event, compression "
    "[--events N] [--batch N] [--instruments N] [--window-ms N] [--hc-level N] [--rate N] [--lat-events N] [--rc-level N] [--lat-segment-kb N] [--sync-threads N] [--dir /tmp]";

static const char *const instruments[] = {
    "BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD", "ADA-USD", "XRP-USD", "LTC-USD", "AVAX-USD",
    "LINK-USD", "DOT-USD", "MATIC-USD", "UNI-USD", "ATOM-USD", "BCH-USD", "ETC-USD", "FIL-USD",
};
#define N_INSTR (sizeof instruments / sizeof *instruments)

struct corpus {
    struct tr_buf enc;         /* all encoded events back to back */
    uint64_t json_bytes;       /* the same events as JSON lines, for comparison */
    struct tr_log_record *recs;
    char (*keys)[64];
    size_t n;
};

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int make_corpus(struct corpus *c, size_t n, size_t n_instr)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int64_t price[N_INSTR];
    uint64_t seq[N_INSTR], trade_id = 500000000;
    for (size_t i = 0; i < n_instr; i++) {
        price[i] = 4312345 / (int64_t)(i + 1) + 100; /* cents */
        seq[i] = 1000000 * (i + 1);
    }
    c->n = n;
    c->recs = calloc(n, sizeof *c->recs);
    c->keys = calloc(n_instr, sizeof *c->keys);
    size_t *off = calloc(n + 1, sizeof *off);
    if (!c->recs || !c->keys || !off)
        return -1;
    tr_buf_init(&c->enc);
    for (size_t i = 0; i < n_instr; i++)
        snprintf(c->keys[i], sizeof c->keys[i], "coinbase/trade/%s", instruments[i]);
    int64_t ts = 1700000000000000000;
    struct tr_buf json;
    tr_buf_init(&json);
    for (size_t i = 0; i < n; i++) {
        size_t k = rng_next(&rng) % n_instr;
        int64_t step = (int64_t)(rng_next(&rng) % 21) - 10;
        if (price[k] + step > 1)
            price[k] += step;
        ts += (int64_t)(rng_next(&rng) % 1500);
        struct tr_event ev;
        tr_event_init(&ev);
        ev.kind = TR_KIND_TRADE;
        ev.side = (rng_next(&rng) & 1) ? TR_SIDE_BUY : TR_SIDE_SELL;
        ev.origin = 1;
        ev.fields = TR_F_SEQ | TR_F_ID | TR_F_TS_EXCHANGE | TR_F_TS_RECEIVE | TR_F_PRICE |
                    TR_F_SIZE | TR_F_ORIGIN;
        tr_event_set_str(ev.provider, sizeof ev.provider, "coinbase", 8);
        tr_event_set_str(ev.instrument, sizeof ev.instrument, instruments[k],
                         strlen(instruments[k]));
        ev.seq = ++seq[k];
        char id[32];
        int idn = snprintf(id, sizeof id, "%" PRIu64, ++trade_id);
        tr_event_set_str(ev.id, sizeof ev.id, id, (size_t)idn);
        ev.ts_exchange = ts;
        ev.ts_receive = ts + 200000 + (int64_t)(rng_next(&rng) % 300000);
        ev.price = (struct tr_decimal){price[k], 2};
        /* Real trade sizes have 1-4 significant digits ("0.148", "450",
         * "2631.4" in the recorded Coinbase feed), not 8 random ones. */
        int64_t mant = 1 + (int64_t)(rng_next(&rng) % 9999);
        for (unsigned z = (unsigned)(rng_next(&rng) % 6); z; z--)
            mant *= 10;
        ev.size = (struct tr_decimal){mant, 8};
        off[i] = c->enc.len;
        if (tr_event_encode(&ev, &c->enc) != 0)
            return -1;
        if (i < 100000) { /* JSON size from a sample, scaled below */
            json.len = 0;
            if (tr_event_to_json(&ev, &json) != 0)
                return -1;
            c->json_bytes += json.len + 1;
        }
        c->recs[i] = (struct tr_log_record){.stream = c->keys[k], .stream_len = strlen(c->keys[k]),
                                            .seq = ev.seq, .ts_ns = ts};
        c->recs[i].payload_len = 0;
    }
    off[n] = c->enc.len;
    if (n > 100000)
        c->json_bytes = c->json_bytes * n / 100000;
    tr_buf_free(&json);
    for (size_t i = 0; i < n; i++) { /* the buffer moved while growing */
        c->recs[i].payload = c->enc.data + off[i];
        c->recs[i].payload_len = off[i + 1] - off[i];
    }
    free(off);
    return 0;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Appends the corpus; returns events/s. Group mode waits for durability. */
static double run_append(const struct corpus *c, const char *dir, int sync, uint32_t window_ms,
                         size_t batch, int level, struct tr_log_stats *st)
{
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.sync = sync;
    o.compression_level = level;
    o.recompress_level = 0; /* the writer's own figures; recompression is measured apart */
    o.group_commit_ms = window_ms;
    struct tr_log *log;
    struct tr_error err = {0};
    if (tr_log_open(&log, dir, &o, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", dir, err.msg);
        return -1;
    }
    uint64_t t0 = bench_now_ns(), last = 0;
    for (size_t i = 0; i < c->n; i += batch) {
        size_t n = c->n - i < batch ? c->n - i : batch;
        if (tr_log_append_many(log, c->recs + i, n, &last, &err) != 0) {
            fprintf(stderr, "append: %s\n", err.msg);
            return -1;
        }
    }
    if (sync == TR_LOG_SYNC_GROUP && tr_log_wait_durable(log, last, 60000) != 0) {
        fprintf(stderr, "wait durable failed\n");
        return -1;
    }
    uint64_t t1 = bench_now_ns();
    if (st)
        tr_log_stats(log, st); /* group mode: everything is written by now */
    tr_log_close(log, NULL);
    return (double)c->n / ((double)(t1 - t0) / 1e9);
}

/* Durable latency at a fixed offered rate: the writer sleeps until the
 * next event is due and appends every due event in one call (usually one
 * or two); the time of that call is stamped on each of its LSNs, and the
 * durability callback (sync thread) stamps the arrival. */
struct lat_state {
    uint64_t *t_append; /* by LSN; written before the append call */
    double *lat_us;     /* by LSN */
    uint64_t done;      /* highest LSN measured (callback thread only) */
    size_t n;
    uint64_t base;      /* last LSN before the run (a prefilled log) */
};

static void lat_cb(void *arg, uint64_t lsn)
{
    struct lat_state *ls = arg;
    uint64_t now = bench_now_ns();
    for (uint64_t l = ls->done + 1; l <= lsn && l <= ls->base + ls->n; l++)
        if (l > ls->base)
            ls->lat_us[l - ls->base - 1] = (double)(now - ls->t_append[l - ls->base - 1]) / 1e3;
    if (lsn > ls->done)
        ls->done = lsn;
}

struct lat_result {
    double p50, p99, p999, max;
    uint64_t syncs;
    double ratio;    /* compression of the active segment as the run wrote it */
    double ratio_rc; /* of its sealed segments once recompressed */
    int rc_throughout; /* recompression still had work when the run ended */
};

static int rc_pending(struct tr_log *log)
{
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    return st.recompressed + st.recompress_failed + st.recompress_kept + 1 < st.segments;
}

static uint32_t lat_sync_threads = 1; /* --sync-threads: the latency runs' fsyncs at once */

/* prefill: first write the whole corpus with recompression off into 64 MiB
 * segments, so the run starts with a 64 MiB sealed segment to recompress:
 * durable latency while the recompressor writes and fsyncs beside it. */
static int run_latency(const struct corpus *c, const char *dir, uint32_t window_ms, double rate,
                       size_t n, uint64_t seg_bytes, int rc_level, int prefill,
                       struct lat_result *res)
{
    struct lat_state ls = {calloc(n, sizeof(uint64_t)), calloc(n, sizeof(double)), 0, n, 0};
    if (!ls.t_append || !ls.lat_us)
        return -1;
    if (prefill && run_append(c, dir, TR_LOG_SYNC_GROUP, 2, 256, 0, NULL) < 0)
        return -1;
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.group_commit_ms = window_ms;
    o.sync_threads = lat_sync_threads;
    o.segment_bytes = seg_bytes;
    o.recompress_level = rc_level;
    o.durable_cb = lat_cb;
    o.durable_arg = &ls;
    struct tr_log *log;
    struct tr_error err = {0};
    if (tr_log_open(&log, dir, &o, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", dir, err.msg);
        return -1;
    }
    ls.base = ls.done = tr_log_last_lsn(log);
    uint64_t gap = (uint64_t)(1e9 / rate), t0 = bench_now_ns() + 1000000, last = 0;
    for (size_t i = 0; i < n;) {
        uint64_t due = t0 + i * gap, now = bench_now_ns();
        if (now < due) {
            struct timespec ts = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            now = bench_now_ns();
        }
        size_t k = 1 + (now > due ? (size_t)((now - due) / gap) : 0);
        if (k > n - i)
            k = n - i;
        for (size_t j = 0; j < k; j++)
            ls.t_append[i + j] = now;
        struct tr_log_record recs[256];
        if (k > 256)
            k = 256;
        for (size_t j = 0; j < k; j++)
            recs[j] = c->recs[(i + j) % c->n];
        if (tr_log_append_many(log, recs, k, &last, &err) != 0) {
            fprintf(stderr, "append: %s\n", err.msg);
            return -1;
        }
        i += k;
    }
    if (tr_log_wait_durable(log, last, 60000) != 0) {
        fprintf(stderr, "wait durable failed\n");
        return -1;
    }
    res->rc_throughout = rc_level > 0 && rc_pending(log);
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    res->syncs = st.syncs;
    res->ratio = st.active_disk_bytes ? (double)st.active_raw_bytes / (double)st.active_disk_bytes
                                      : 0;
    tr_log_wait_recompressed(log, 60000);
    tr_log_stats(log, &st);
    res->ratio_rc = st.sealed_rc_disk_bytes ? (double)st.sealed_rc_raw_bytes /
                                                  (double)st.sealed_rc_disk_bytes : 0;
    tr_log_close(log, NULL); /* joins the sync thread: every callback has run */
    res->p50 = bench_percentile(ls.lat_us, n, 50);
    res->p99 = bench_percentile(ls.lat_us, n, 99);
    res->p999 = bench_percentile(ls.lat_us, n, 99.9);
    res->max = bench_percentile(ls.lat_us, n, 100);
    free(ls.t_append);
    free(ls.lat_us);
    return 0;
}

/* The disk's own fsync cost right now (1 KiB appended, then fdatasync),
 * so the latency figures above can be read against it. */
static void probe_fsync(const char *dir, size_t n, double *p50, double *p99)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/probe", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    double *v = calloc(n, sizeof *v);
    char buf[1024];
    memset(buf, 7, sizeof buf);
    *p50 = *p99 = -1;
    if (fd < 0 || !v) {
        free(v);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (pwrite(fd, buf, sizeof buf, (off_t)(i * sizeof buf)) != (ssize_t)sizeof buf)
            break;
        uint64_t t = bench_now_ns();
        fdatasync(fd);
        v[i] = (double)(bench_now_ns() - t) / 1e3;
    }
    close(fd);
    unlink(path);
    *p50 = bench_percentile(v, n, 50);
    *p99 = bench_percentile(v, n, 99);
    free(v);
}

/* Reopens a log written without recompression with recompression on, so
 * the recompressor starts on its sealed segments at once, and measures a
 * full read and then a group-commit append of the corpus while it runs.
 * Reports whether it was still running at the end of each (so the figure
 * was taken with it running throughout) and the ratios once it is done. */
struct rc_result {
    double read, append, ratio_sealed, ratio_active, ratio_all, bpe_sealed, rc_s;
    int busy_after_read, busy_after_append;
    uint64_t sealed, sealed_at_open, recompressed, saved;
};

static int run_recompress(const struct corpus *c, const char *dir, size_t batch, int level,
                          size_t have, struct rc_result *res)
{
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.recompress_level = level;
    o.recompress_bytes_per_s = 0; /* unpaced: the hardest case for the writer and reader */
    struct tr_log *log;
    struct tr_error err = {0};
    uint64_t t0 = bench_now_ns();
    if (tr_log_open(&log, dir, &o, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", dir, err.msg);
        return -1;
    }
    struct tr_log_stats st0;
    tr_log_stats(log, &st0);
    res->sealed_at_open = st0.segments - 1;
    struct tr_log_reader *r;
    struct tr_log_reader_options ro = {.from = TR_LOG_FROM_START};
    tr_log_reader_alloc(log, &ro, &r, &err);
    struct tr_log_record rec;
    size_t n = 0;
    int rc;
    uint64_t t1 = bench_now_ns();
    while ((rc = tr_log_reader_next(r, &rec, &err)) == 1)
        n++;
    uint64_t t2 = bench_now_ns();
    tr_log_reader_free(r);
    if (rc < 0 || n != have)
        fprintf(stderr, "read during recompression: %zu of %zu (%s)\n", n, have,
                rc < 0 ? err.msg : "");
    res->busy_after_read = rc_pending(log);
    res->read = (double)n / ((double)(t2 - t1) / 1e9);
    uint64_t last = 0;
    t1 = bench_now_ns();
    for (size_t i = 0; i < c->n; i += batch) {
        size_t k = c->n - i < batch ? c->n - i : batch;
        if (tr_log_append_many(log, c->recs + i, k, &last, &err) != 0) {
            fprintf(stderr, "append: %s\n", err.msg);
            return -1;
        }
    }
    if (tr_log_wait_durable(log, last, 60000) != 0)
        return -1;
    t2 = bench_now_ns();
    res->busy_after_append = rc_pending(log);
    res->append = (double)c->n / ((double)(t2 - t1) / 1e9);
    tr_log_wait_recompressed(log, -1);
    res->rc_s = (double)(bench_now_ns() - t0) / 1e9;
    struct tr_log_stats st;
    tr_log_stats(log, &st);
    res->sealed = st.segments - 1;
    res->recompressed = st.recompressed;
    res->saved = st.recompress_saved_bytes;
    res->ratio_sealed = st.sealed_rc_disk_bytes ? (double)st.sealed_rc_raw_bytes /
                                                      (double)st.sealed_rc_disk_bytes : 0;
    res->ratio_active = st.active_disk_bytes ? (double)st.active_raw_bytes /
                                                   (double)st.active_disk_bytes : 0;
    res->ratio_all = st.disk_bytes ? (double)st.raw_bytes / (double)st.disk_bytes : 0;
    res->bpe_sealed = res->ratio_sealed > 0 ? (double)st.sealed_rc_disk_bytes /
                          ((double)st.sealed_rc_raw_bytes / ((double)st.raw_bytes /
                                                             (double)(have + c->n)))
                                            : 0;
    if (tr_log_verify(log, &err) != 0)
        fprintf(stderr, "verify after recompression: %s\n", err.msg);
    tr_log_close(log, NULL);
    return 0;
}

/* Reopens and reads everything; returns events/s and the open time. */
static double run_read(const char *dir, size_t expect, double *open_ms, uint64_t *checksum)
{
    struct tr_log_options o;
    tr_log_options_init(&o);
    o.sync = TR_LOG_SYNC_NONE;
    o.recompress_level = 0;
    struct tr_log *log;
    struct tr_error err = {0};
    uint64_t t0 = bench_now_ns();
    if (tr_log_open(&log, dir, &o, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", dir, err.msg);
        return -1;
    }
    *open_ms = (double)(bench_now_ns() - t0) / 1e6;
    struct tr_log_reader *r;
    struct tr_log_reader_options ro = {.from = TR_LOG_FROM_START};
    tr_log_reader_alloc(log, &ro, &r, &err);
    struct tr_log_record rec;
    size_t n = 0;
    uint64_t sum = 0;
    t0 = bench_now_ns();
    int rc;
    while ((rc = tr_log_reader_next(r, &rec, &err)) == 1) {
        sum += rec.payload_len + ((const uint8_t *)rec.payload)[rec.payload_len - 1];
        n++;
    }
    uint64_t t1 = bench_now_ns();
    if (rc < 0 || n != expect)
        fprintf(stderr, "read: %zu of %zu records (%s)\n", n, expect, rc < 0 ? err.msg : "");
    tr_log_reader_free(r);
    tr_log_close(log, NULL);
    *checksum = sum;
    return (double)n / ((double)(t1 - t0) / 1e9);
}

int bench_storage_main(int argc, char **argv)
{
    size_t n = (size_t)bench_arg_long(argc, argv, "--events", 2000000);
    size_t batch = (size_t)bench_arg_long(argc, argv, "--batch", 256);
    size_t n_instr = (size_t)bench_arg_long(argc, argv, "--instruments", 8);
    uint32_t window = (uint32_t)bench_arg_long(argc, argv, "--window-ms", 2);
    const char *base = bench_arg(argc, argv, "--dir", "/tmp");
    int hc_level = (int)bench_arg_long(argc, argv, "--hc-level", 2);
    double rate = (double)bench_arg_long(argc, argv, "--rate", 50000);
    size_t lat_n = (size_t)bench_arg_long(argc, argv, "--lat-events", 100000);
    int rc_level = (int)bench_arg_long(argc, argv, "--rc-level", 4);
    lat_sync_threads = (uint32_t)bench_arg_long(argc, argv, "--sync-threads", 1);
    /* Small segments in the latency runs so rolls and recompression happen
     * during them (64 MiB at 50 k/s would roll every ~25 s). */
    uint64_t lat_seg = (uint64_t)bench_arg_long(argc, argv, "--lat-segment-kb", 4096) << 10;
    if (n_instr < 1 || n_instr > N_INSTR || n < 1 || batch < 1 || rate < 1 || lat_n < 1) {
        fprintf(stderr, "bench storage: bad arguments\n");
        return 2;
    }
    struct corpus c;
    fprintf(stderr, "generating %zu trade events over %zu instruments...\n", n, n_instr);
    if (make_corpus(&c, n, n_instr) != 0) {
        fprintf(stderr, "bench storage: no memory\n");
        return 1;
    }
    double payload_avg = (double)c.enc.len / (double)n;
    char gdir[4096], ndir[4096], hdir[4096], zdir[4096], l2dir[4096], l0dir[4096];
    snprintf(gdir, sizeof gdir, "%s/tr_bench_storage_XXXXXX", base);
    snprintf(ndir, sizeof ndir, "%s/tr_bench_storage_XXXXXX", base);
    snprintf(hdir, sizeof hdir, "%s/tr_bench_storage_XXXXXX", base);
    snprintf(zdir, sizeof zdir, "%s/tr_bench_storage_XXXXXX", base);
    snprintf(l2dir, sizeof l2dir, "%s/tr_bench_storage_XXXXXX", base);
    snprintf(l0dir, sizeof l0dir, "%s/tr_bench_storage_XXXXXX", base);
    if (!mkdtemp(gdir) || !mkdtemp(ndir) || !mkdtemp(hdir) || !mkdtemp(zdir) || !mkdtemp(l2dir) ||
        !mkdtemp(l0dir)) {
        perror("mkdtemp");
        return 1;
    }
    struct lat_result l2 = {0}, l0 = {0};
    double fs50, fs99;
    probe_fsync(l2dir, 300, &fs50, &fs99);
    fprintf(stderr, "durable latency at %.0f events/s, %zu events per window setting...\n", rate,
            lat_n);
    int lat_only = bench_arg(argc, argv, "--lat-only", NULL) != NULL;
    if (!lat_only && (run_latency(&c, l2dir, 2, rate, lat_n, lat_seg, rc_level, 0, &l2) != 0 ||
                      run_latency(&c, l0dir, 0, rate, lat_n, lat_seg, rc_level, 0, &l0) != 0))
        return 1;
    rm_dir(l2dir);
    rm_dir(l0dir);
    struct lat_result lr = {0};
    fprintf(stderr, "durable latency, window 0, while a 64 MiB segment is recompressed...\n");
    if (run_latency(&c, l0dir, 0, rate, lat_n, 64u << 20, rc_level, 1, &lr) != 0)
        return 1;
    rm_dir(l0dir);
    if (lat_only) { /* A/B runs of the figure above: --lat-only 1 [--rc-level 0] */
        printf("{\"rc_level\":%d,\"rc_throughout\":%s,\"sync_threads\":%u,\"p50\":%.0f,"
               "\"p99\":%.0f,\"p999\":%.0f,\"syncs\":%llu,\"fsync_p50_us\":%.0f,"
               "\"fsync_p99_us\":%.0f}\n", rc_level, lr.rc_throughout ? "true" : "false",
               lat_sync_threads, lr.p50, lr.p99, lr.p999, (unsigned long long)lr.syncs, fs50,
               fs99);
        return 0;
    }
    struct tr_log_stats st, sth, stz;
    double group = run_append(&c, gdir, TR_LOG_SYNC_GROUP, window, batch, 0, &st);
    double group0 = run_append(&c, zdir, TR_LOG_SYNC_GROUP, 0, batch, 0, &stz);
    double nosync = run_append(&c, ndir, TR_LOG_SYNC_NONE, window, batch, 0, NULL);
    double group_hc = run_append(&c, hdir, TR_LOG_SYNC_GROUP, window, batch, hc_level, &sth);
    double open_ms = 0;
    uint64_t sum = 0;
    double read = run_read(gdir, n, &open_ms, &sum);
    struct rc_result rcr = {0};
    fprintf(stderr, "recompression (LZ4HC level %d) while reading and appending...\n", rc_level);
    if (run_recompress(&c, gdir, batch, rc_level, n, &rcr) != 0)
        return 1;
    rm_dir(gdir);
    rm_dir(ndir);
    rm_dir(hdir);
    rm_dir(zdir);
    double ratio0 = stz.disk_bytes ? (double)stz.raw_bytes / (double)stz.disk_bytes : 0;
    double ratio_hc = sth.disk_bytes ? (double)sth.raw_bytes / (double)sth.disk_bytes : 0;
    double bpe_hc = (double)sth.disk_bytes / (double)n;
    double bpe = (double)st.disk_bytes / (double)n;
    double ratio = st.disk_bytes ? (double)st.raw_bytes / (double)st.disk_bytes : 0;
    double payload_ratio = (double)c.enc.len / (double)st.disk_bytes;
    double json_ratio = (double)c.json_bytes / (double)st.disk_bytes;
    printf("events %zu, batch %zu, %zu instruments, payload %.1f B/event (msgpack tr_event)\n",
           n, batch, n_instr, payload_avg);
    printf("append group commit (%u ms): %.0f events/s, %" PRIu64 " fsyncs\n", window, group,
           st.syncs);
    printf("append group commit (0 ms, leader/follower): %.0f events/s, %" PRIu64 " fsyncs, "
           "compression %.2fx\n", group0, stz.syncs, ratio0);
    printf("append no sync:             %.0f events/s\n", nosync);
    printf("read (all, fresh open):      %.0f events/s (open %.1f ms, checksum %" PRIu64 ")\n",
           read, open_ms, sum);
    printf("on disk: %.1f B/event, %" PRIu64 " segments; compression %.2fx of framed records, "
           "%.2fx of msgpack payloads, %.2fx of the JSON-lines form (%.1f B/event)\n", bpe,
           st.segments, ratio, payload_ratio, json_ratio, (double)c.json_bytes / (double)n);
    printf("append group commit, LZ4HC level %d: %.0f events/s, %.1f B/event, compression %.2fx\n",
           hc_level, group_hc, bpe_hc, ratio_hc);
    printf("background recompression (LZ4HC level %d), reopened with %" PRIu64 " sealed "
           "segment(s) to do: read %.0f events/s (recompressing throughout: %s), then append "
           "group commit %.0f events/s (throughout: %s); done after %.1f s: %" PRIu64 " of %"
           PRIu64 " sealed segments rewritten, %.1f MB saved\n",
           rc_level, rcr.sealed_at_open, rcr.read, rcr.busy_after_read ? "yes" : "no",
           rcr.append, rcr.busy_after_append ? "yes" : "no", rcr.rc_s, rcr.recompressed,
           rcr.sealed, (double)rcr.saved / 1e6);
    printf("compression on disk: sealed (recompressed) %.2fx (%.1f B/event), active segment "
           "%.2fx, whole log %.2fx\n", rcr.ratio_sealed, rcr.bpe_sealed, rcr.ratio_active,
           rcr.ratio_all);
    printf("fsync of a 1 KiB append on this disk now: p50 %.0f us, p99 %.0f us\n", fs50, fs99);
    printf("durable latency at %.0f events/s (append call to callback): window 2 ms p50 %.0f us, "
           "p99 %.0f us, p99.9 %.0f us, max %.0f us, %" PRIu64 " fsyncs, compression %.2fx; window 0 p50 %.0f us, "
           "p99 %.0f us, p99.9 %.0f us, max %.0f us, %" PRIu64 " fsyncs, compression %.2fx (%.2fx once recompressed)\n",
           rate, l2.p50, l2.p99, l2.p999, l2.max, l2.syncs, l2.ratio, l0.p50, l0.p99, l0.p999,
           l0.max, l0.syncs, l0.ratio, l0.ratio_rc);
    printf("durable latency at %.0f events/s, window 0, while a 64 MiB sealed segment is "
               "recompressed (still running at the end: %s): p50 %.0f us, p99 %.0f us, p99.9 %.0f "
               "us, max %.0f us\n", rate, lr.rc_throughout ? "yes" : "no", lr.p50, lr.p99,
               lr.p999, lr.max);
    printf("{\"events\":%zu,\"batch\":%zu,\"instruments\":%zu,\"payload_bytes_per_event\":%.1f,"
           "\"append_events_per_s\":%.0f,\"append_events_per_s_nosync\":%.0f,"
           "\"read_events_per_s\":%.0f,\"bytes_per_event\":%.1f,\"compression_ratio\":%.2f,"
           "\"bytes_per_event_lz4fast\":%.1f,\"compression_ratio_lz4fast\":%.2f,"
           "\"payload_compression_ratio\":%.2f,\"json_compression_ratio\":%.2f,\"open_ms\":%.1f,\"group_commit_ms\":%u,\"hc_level\":%d,"
           "\"append_events_per_s_hc\":%.0f,\"bytes_per_event_hc\":%.1f,\"compression_ratio_hc\":%.2f,"
           "\"append_events_per_s_window0\":%.0f,\"compression_ratio_window0\":%.2f,"
           "\"latency_rate\":%.0f,\"durable_p50_us_window2\":%.0f,\"durable_p99_us_window2\":%.0f,"
           "\"durable_p50_us_window0\":%.0f,\"durable_p99_us_window0\":%.0f,"
           "\"durable_p999_us_window0\":%.0f,\"fsync_p50_us\":%.0f,\"fsync_p99_us\":%.0f,"
           "\"rc_level\":%d,\"compression_ratio_active\":%.2f,\"compression_ratio_all\":%.2f,"
           "\"bytes_per_event_recompressed\":%.1f,\"append_events_per_s_during_recompression\":%.0f,"
           "\"read_events_per_s_during_recompression\":%.0f,\"recompressing_throughout\":%s,"
           "\"durable_p50_us_window0_recompressing\":%.0f,\"durable_p99_us_window0_recompressing\":%.0f,"
           "\"durable_p999_us_window0_recompressing\":%.0f}\n",
           n, batch, n_instr, payload_avg, group, nosync, read, rcr.bpe_sealed, rcr.ratio_sealed,
           bpe, ratio, payload_ratio, json_ratio,
           open_ms,
           window, hc_level, group_hc, bpe_hc, ratio_hc, group0, ratio0, rate, l2.p50, l2.p99,
           l0.p50, l0.p99, l0.p999, fs50, fs99, rc_level, rcr.ratio_active, rcr.ratio_all,
           rcr.bpe_sealed, rcr.append, rcr.read,
           rcr.busy_after_read && rcr.busy_after_append ? "true" : "false", lr.p50, lr.p99,
           lr.p999);
    tr_buf_free(&c.enc);
    free(c.recs);
    free(c.keys);
    return 0;
}
