/* Raw capture (`raw_capture = on` per feed; docs/formats.md "Raw capture"):
 * every WebSocket frame the feed's connections receive is kept in the log,
 * exactly as received, beside the normalised events, in the stream
 * "raw/<feed>", so a day can be re-normalised after an adapter fix
 * (`tickraft-ctl log dump --raw` | `tickraft-ctl normalize`) and replayed
 * through `tickraft-sim --replay`. Connection opens (with the URL) and the
 * frames we send (subscriptions) are kept too, so a dump has the
 * connection boundaries a re-normalisation needs.
 *
 * Record: stream "raw/<feed>", seq = receive time in ns (forced strictly
 * increasing per feed), ts_ns = receive time, payload =
 *   byte 0     format version (1)
 *   byte 1     type: 0 frame received, 1 connection opened (body: URL),
 *              2 frame sent, 3 REST answer (2xx; body: the URL without
 *              the feed's rest_prefix, a newline, the response body)
 *   bytes 2-9  connection id: the connection's open time in ns, big-endian
 *   bytes 10-  body, byte for byte
 * Frames go through the same writer batch as the events (one append per
 * loop turn); a frame is captured before it is parsed, so malformed frames
 * are kept as well. */
#include "pipe_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlog.h"

#define RAW_HDR 10
enum { RAW_FRAME = 0, RAW_OPEN = 1, RAW_SENT = 2, RAW_REST = 3 };

static void put_feed(struct pipe_feed *f, uint64_t id, int type, const void *head, size_t hlen,
                     const void *body, size_t len, int64_t now);

static void put(struct pipe_conn *c, int type, const void *body, size_t len, int64_t now)
{
    put_feed(c->feed, (uint64_t)c->opened_ns, type, NULL, 0, body, len, now);
}

/* `head` (hlen bytes, may be 0) then `body` after the record header. */
static void put_feed(struct pipe_feed *f, uint64_t id, int type, const void *head, size_t hlen,
                     const void *body, size_t len, int64_t now)
{
    /* after the final flush of a graceful stop nothing more is written:
     * the frames the events are not taken from are not kept either */
    if (!f->cfg->raw_capture || !pipe_node_accepting(f->node))
        return;
    uint8_t stackbuf[4096];
    len += hlen;
    uint8_t *b = len + RAW_HDR <= sizeof stackbuf ? stackbuf : malloc(len + RAW_HDR);
    if (!b) {
        f->raw_errors++;
        return;
    }
    b[0] = 1;
    b[1] = (uint8_t)type;
    for (int i = 0; i < 8; i++)
        b[2 + i] = (uint8_t)(id >> (56 - 8 * i));
    if (hlen)
        memcpy(b + RAW_HDR, head, hlen);
    if (len > hlen)
        memcpy(b + RAW_HDR + hlen, body, len - hlen);
    uint64_t seq = (uint64_t)now > f->raw_seq ? (uint64_t)now : f->raw_seq + 1;
    if (!f->raw_key[0]) /* the writer queues a pointer to the key: it must live on */
        snprintf(f->raw_key, sizeof f->raw_key, "raw/%s", f->cfg->name);
    struct tr_error err;
    tr_error_clear(&err);
    int rc = pipe_writer_add(pipe_node_writer(f->node), f->raw_key, strlen(f->raw_key), seq, now,
                             0, NULL, b,
                             len + RAW_HDR, NULL, &err);
    if (b != stackbuf)
        free(b);
    if (rc) {
        f->raw_errors++;
        tr_nlog(pipe_node_log(f->node), TR_NLOG_ERROR, "raw", "capture failed",
                TR_KV_STR("feed", f->cfg->name), TR_KV_ERR(&err));
        if (rc != TR_ETOOBIG)
            pipe_node_fatal(f->node, rc, "append raw frame");
        return;
    }
    f->raw_seq = seq;
    f->raw_records++;
}

void pipe_raw_frame(struct pipe_conn *c, const void *p, size_t len, int64_t recv_ns)
{
    put(c, RAW_FRAME, p, len, recv_ns);
}

void pipe_raw_sent(struct pipe_conn *c, const void *p, size_t len)
{
    put(c, RAW_SENT, p, len, pipe_now_ns());
}

void pipe_raw_open(struct pipe_conn *c)
{
    const struct pipe_feed_cfg *cfg = c->feed->cfg;
    char url[1024];
    int n = snprintf(url, sizeof url, "%s://%s:%d%s", cfg->ws_tls ? "wss" : "ws",
                     cfg->ws_name[0] ? cfg->ws_name : cfg->host, cfg->port, cfg->ws_path);
    if (n > 0 && (size_t)n < sizeof url)
        put(c, RAW_OPEN, url, (size_t)n, pipe_now_ns());
}

void pipe_raw_rest(struct pipe_feed *f, const char *path, const void *body, size_t len)
{
    if (!f->cfg->raw_capture)
        return;
    /* the provider's own path (the simulator serves each dialect under a
     * prefix), so a replay matches it like a real recording's */
    size_t pl = strlen(f->cfg->rest_prefix);
    if (pl && strncmp(path, f->cfg->rest_prefix, pl) == 0)
        path += pl;
    char head[1200];
    const struct pipe_feed_cfg *fc = f->cfg; /* REST's own host, else the WebSocket's */
    int own = fc->rest_host[0] != 0;
    int n = snprintf(head, sizeof head, "%s://%s:%d%s\n", own && fc->rest_tls ? "https" : "http",
                     own ? (fc->rest_name[0] ? fc->rest_name : fc->rest_host) : fc->host,
                     own ? fc->rest_port : fc->port, path);
    if (n > 0 && (size_t)n < sizeof head)
        put_feed(f, 0, RAW_REST, head, (size_t)n, body, len, pipe_now_ns());
}
