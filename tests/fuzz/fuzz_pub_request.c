/* libFuzzer target: arbitrary bytes as one client request to the node's
 * publisher (node/pub_server.c pub_handle: envelope, version, tokens, then
 * the HELLO / SUBSCRIBE / FETCH / UNSUBSCRIBE / QUERY / ADMIN body
 * decoders in pub_server.c and pub_sub.c), served from a small real log.
 * The publisher faces the network, so: it never crashes or reads past the
 * message (ASan), and whatever it receives, the reply is one well-formed
 * reply envelope (tr_proto_parse_reply accepts it, major 1, status 0 or a
 * negative TR_E* code with a message). Tokens: admin "a", data open, so
 * admin bodies are reachable from the seed corpus. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pub_int.h"
#include "tickraft/event.h"
#include "tickraft/log.h"

static struct tr_pub *pub;
static struct tr_log *lg;
static struct pub_reply rep;
static char dir[] = "/tmp/fuzz-pub.XXXXXX";

/* At exit: close the publisher and the log, remove the log's (flat)
 * directory, so runs leave nothing in /tmp. */
static void cleanup(void)
{
    tr_pub_close(pub);
    tr_log_close(lg, NULL);
    tr_buf_free(&rep.b);
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[128];
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int admin_cb(void *arg, const char *cmd, const char *const *args, size_t nargs,
                    struct tr_client_table *t, struct tr_error *err)
{
    (void)arg;
    (void)args;
    (void)err;
    if (strcmp(cmd, "feeds") == 0) {
        static const char *const cols[] = {"feed", "state"};
        const char *row[] = {nargs ? args[0] : "f", "collecting"};
        int rc = tr_client_table_cols(t, 2, cols);
        return rc ? rc : tr_client_table_row(t, row);
    }
    return TR_ENOTFOUND;
}

static void setup(void)
{
    if (!mkdtemp(dir))
        abort();
    struct tr_log_options lo;
    tr_log_options_init(&lo);
    lo.sync = TR_LOG_SYNC_NONE;
    if (tr_log_open(&lg, dir, &lo, NULL))
        abort();
    /* a few records in two streams, so QUERY and FETCH return data */
    struct tr_buf b;
    tr_buf_init(&b);
    for (int i = 1; i <= 20; i++) {
        struct tr_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = TR_KIND_TRADE;
        snprintf(ev.provider, sizeof ev.provider, "sim");
        snprintf(ev.instrument, sizeof ev.instrument, "SIM-%d", i % 2);
        ev.seq = (uint64_t)i;
        ev.fields = TR_F_SEQ;
        b.len = 0;
        if (tr_event_encode(&ev, &b))
            abort();
        char key[32];
        snprintf(key, sizeof key, "sim/trade/SIM-%d", i % 2);
        struct tr_log_record r = {.stream = key, .stream_len = strlen(key), .seq = (uint64_t)i,
                                  .ts_ns = 1000 * i, .payload = b.data, .payload_len = b.len};
        uint64_t lsn;
        if (tr_log_append(lg, &r, &lsn, NULL))
            abort();
    }
    tr_buf_free(&b);
    if (tr_log_flush(lg, NULL))
        abort();
    struct tr_pub_options o;
    tr_pub_options_init(&o);
    static const char *const urls[] = {"inproc://fuzz-pub"};
    o.listen = urls;
    o.n_listen = 1;
    o.log = lg;
    o.workers = 1;
    o.max_wait_ms = 1; /* a FETCH with nothing new must not stall the fuzzer */
    o.admin_token = "a";
    o.admin_cb = admin_cb;
    if (tr_pub_open(&pub, &o, NULL))
        abort();
    tr_buf_init(&rep.b);
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!pub)
        setup();
    pub_handle(pub, data, size, &rep);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct tr_proto_reply r;
    struct tr_error err;
    tr_error_clear(&err);
    if (tr_proto_parse_reply(rep.b.data, rep.b.len, &u, &r, &err))
        abort(); /* the publisher packed something that is not a reply */
    if (r.major != TR_PROTO_MAJOR || r.status > 0 || (r.status < 0 && r.msg_len == 0) ||
        (r.status < 0 && r.body))
        abort();
    msgpack_unpacked_destroy(&u);
    return 0;
}
