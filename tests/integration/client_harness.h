/* Helpers for the client/publisher tests: a "node" that is just a real
 * durable log in a temporary directory with a real publisher on it, and
 * writers of canonical trade records (stream key, native seq, msgpack event)
 * as the node's pipeline writes them. */
#ifndef TEST_CLIENT_HARNESS_H
#define TEST_CLIENT_HARNESS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pub.h"
#include "tickraft/client.h"
#include "tickraft/event.h"
#include "tickraft/log.h"

struct ch_node {
    char dir[64];
    char url[128];
    struct tr_log *log;
    struct tr_pub *pub;
};

static inline void ch_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Opens the log (segment_bytes 0 = default) in a fresh directory. */
static inline int ch_log_open(struct ch_node *n, uint64_t segment_bytes)
{
    struct tr_log_options lo;
    tr_log_options_init(&lo);
    lo.sync = TR_LOG_SYNC_NONE;
    if (segment_bytes)
        lo.segment_bytes = segment_bytes;
    lo.block_bytes = 4096;
    struct tr_error err;
    int rc = tr_log_open(&n->log, n->dir, &lo, &err);
    if (rc)
        fprintf(stderr, "log open: %s\n", err.msg);
    return rc;
}

static inline int ch_pub_open(struct ch_node *n, struct tr_pub_options *po)
{
    struct tr_pub_options d;
    if (!po) {
        tr_pub_options_init(&d);
        po = &d;
    }
    const char *urls[] = {n->url};
    po->listen = urls;
    po->n_listen = 1;
    po->log = n->log;
    po->workers = po->workers ? po->workers : 4;
    struct tr_error err;
    int rc = tr_pub_open(&n->pub, po, &err);
    if (rc)
        fprintf(stderr, "pub open: %s\n", err.msg);
    return rc;
}

/* A node named `name` listening on ipc in its own directory. */
static inline int ch_node_open(struct ch_node *n, const char *name, uint64_t segment_bytes,
                               struct tr_pub_options *po)
{
    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "/tmp/tr_client_%s_XXXXXX", name);
    if (!mkdtemp(n->dir))
        return -1;
    snprintf(n->url, sizeof n->url, "ipc://%s/pub.sock", n->dir);
    int rc = ch_log_open(n, segment_bytes);
    return rc ? rc : ch_pub_open(n, po);
}

static inline void ch_node_close(struct ch_node *n)
{
    tr_pub_close(n->pub);
    n->pub = NULL;
    tr_log_close(n->log, NULL);
    n->log = NULL;
    ch_rmdir(n->dir);
}

/* Appends one trade of `key` with native seq `seq` (ts = seq µs) and makes
 * it visible to readers. */
static inline int ch_append(struct tr_log *log, const char *provider, const char *instrument,
                            uint64_t seq, int flush)
{
    struct tr_event ev;
    tr_event_init(&ev);
    ev.kind = TR_KIND_TRADE;
    ev.side = TR_SIDE_BUY;
    ev.fields = TR_F_SEQ | TR_F_PRICE | TR_F_SIZE | TR_F_TS_EXCHANGE | TR_F_ID;
    snprintf(ev.provider, sizeof ev.provider, "%s", provider);
    snprintf(ev.instrument, sizeof ev.instrument, "%s", instrument);
    ev.seq = seq;
    ev.ts_exchange = (int64_t)seq * 1000;
    snprintf(ev.id, sizeof ev.id, "%llu", (unsigned long long)seq);
    char px[32];
    snprintf(px, sizeof px, "%llu.%02llu", (unsigned long long)(100 + seq % 50),
             (unsigned long long)(seq % 100));
    tr_decimal_parse(px, strlen(px), &ev.price);
    tr_decimal_parse("0.5", 3, &ev.size);
    struct tr_buf b;
    tr_buf_init(&b);
    tr_event_encode(&ev, &b);
    char key[128];
    snprintf(key, sizeof key, "%s/trade/%s", provider, instrument);
    struct tr_log_record r = {.stream = key, .seq = seq, .ts_ns = ev.ts_exchange,
                              .payload = b.data, .payload_len = b.len};
    uint64_t lsn;
    int rc = tr_log_append(log, &r, &lsn, NULL);
    tr_buf_free(&b);
    if (!rc && flush)
        rc = tr_log_flush(log, NULL);
    return rc;
}

/* Writes seqs [from, to] of `n_inst` instruments "I-<k>" of provider
 * "sim", interleaved; `rotate` shifts the interleaving so two nodes hold
 * the same canonical content in a different LSN order. */
static inline int ch_write(struct tr_log *log, int n_inst, uint64_t from, uint64_t to, int rotate)
{
    for (uint64_t s = from; s <= to; s++)
        for (int k = 0; k < n_inst; k++) {
            char inst[16];
            snprintf(inst, sizeof inst, "I-%d", (k + rotate) % n_inst);
            int rc = ch_append(log, "sim", inst, s, 0);
            if (rc)
                return rc;
        }
    return tr_log_flush(log, NULL);
}

/* Checks delivered events: per stream, seqs strictly increasing by one
 * from `first`. Keeps the next expected seq per instrument index. */
struct ch_check {
    uint64_t next[16];
    uint64_t total, bad;
};

static inline void ch_check_init(struct ch_check *c, uint64_t first)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < 16; i++)
        c->next[i] = first;
}

static inline void ch_check_msg(struct ch_check *c, const struct tr_client_msg *m)
{
    const char *p = strstr(m->stream, "/I-");
    int k = p ? atoi(p + 3) : -1;
    if (k < 0 || k >= 16 || m->seq != c->next[k] || m->ev.seq != m->seq) {
        if (c->bad++ < 5)
            fprintf(stderr, "unexpected %s seq %llu (want %llu)\n", m->stream,
                    (unsigned long long)m->seq,
                    (unsigned long long)(k >= 0 && k < 16 ? c->next[k] : 0));
        if (k >= 0 && k < 16)
            c->next[k] = m->seq + 1;
    } else {
        c->next[k]++;
    }
    c->total++;
}

#endif
