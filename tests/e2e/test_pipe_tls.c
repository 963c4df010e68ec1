/* The node's TLS set-up without a network (node/pipe_cfg.c, node/pipe_tls.c):
 * a feed's wss:// and https:// URLs reach the pipeline with their own
 * names, addresses, ports and the CA bundle; a bundle that holds no
 * certificate stops the node at start naming the feed; feeds naming other
 * bundles get client vhosts of their own (shared by the same file), the
 * first bundle stays on the context. The CA is made with the openssl
 * command line in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libwebsockets.h>

#include "config.h"
#include "pipe_feed.h"

static char dir[] = "/tmp/tr-pipe-tls.XXXXXX";
static char ca1[128], ca2[128], bad[128];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(ca1, sizeof ca1, "%s/ca1.pem", dir);
    snprintf(ca2, sizeof ca2, "%s/ca2.pem", dir);
    snprintf(bad, sizeof bad, "%s/bad.pem", dir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/ca.key -out %s -days 2 -subj /CN=test >/dev/null 2>&1 && "
             "cp %s %s && echo 'not a certificate' > %s",
             dir, ca1, ca1, ca2, bad);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Parses `text` and builds the pipeline's view; returns pipe_cfg_from's code. */
static int build(const char *text, struct tr_config *c, struct pipe_cfg *pc, struct tr_error *err)
{
    tr_config_init(c);
    tr_error_clear(err);
    int rc = tr_config_parse(c, "node.conf", text, strlen(text), err);
    assert_int_equal(rc, 0);
    return pipe_cfg_from(pc, c, err);
}

static void urls_reach_the_pipeline_with_names_ports_and_ca(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof text,
             "[node]\nid = 1\ndata_dir = /tmp/x\n"
             "[feed a]\nprovider = sim\nws_url = wss://localhost:9443/native\n"
             "rest_url = https://127.0.0.1:8443/native\nca_file = %s\n"
             "instruments = SIM-0\nchannels = trades\n"
             "[feed b]\nprovider = sim\nws_url = ws://127.0.0.1:9700/native\n"
             "rest_url = http://localhost:9701/native\ninstruments = SIM-0\nchannels = trades\n",
             ca1);
    struct tr_config c;
    static struct pipe_cfg pc;
    struct tr_error err;
    assert_int_equal(build(text, &c, &pc, &err), 0);
    const struct pipe_feed_cfg *a = &pc.feeds[0], *b = &pc.feeds[1];
    assert_string_equal(a->host, "127.0.0.1"); /* resolved at start */
    assert_string_equal(a->ws_name, "localhost"); /* SNI, Host, certificate check */
    assert_int_equal(a->port, 9443);
    assert_true(a->ws_tls);
    assert_string_equal(a->rest_host, "127.0.0.1");
    assert_string_equal(a->rest_name, "127.0.0.1");
    assert_int_equal(a->rest_port, 8443);
    assert_true(a->rest_tls);
    assert_string_equal(a->rest_prefix, "/native");
    assert_string_equal(a->ca_file, ca1);
    assert_false(b->ws_tls || b->rest_tls);
    assert_string_equal(b->ca_file, ""); /* no TLS: no bundle, no OpenSSL */
    assert_string_equal(b->rest_name, "localhost");
    assert_int_equal(b->rest_port, 9701);
    assert_ptr_equal(pipe_tls_context_ca(&pc), pc.feeds[0].ca_file);
    tr_config_close(&c);
}

static void a_bundle_without_certificates_stops_the_start(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text,
             "[node]\nid = 1\ndata_dir = /tmp/x\n"
             "[feed k]\nprovider = sim\nws_url = wss://localhost:9443/native\n"
             "rest_url = https://localhost:9443/native\nca_file = %s\n"
             "instruments = SIM-0\nchannels = trades\n",
             bad);
    struct tr_config c;
    static struct pipe_cfg pc;
    struct tr_error err;
    assert_int_equal(build(text, &c, &pc, &err), TR_ECONFIG);
    assert_non_null(strstr(err.msg, "node.conf:4: section [feed k]: ca_file"));
    assert_non_null(strstr(err.msg, "holds no PEM certificate"));
    tr_config_close(&c);
}

static int proto_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)wsi, (void)reason, (void)user, (void)in, (void)len;
    return 0;
}

static void other_bundles_get_their_own_vhost(void **state)
{
    (void)state;
    static struct pipe_cfg pc;
    memset(&pc, 0, sizeof pc);
    const char *cas[4] = {ca1, ca2, ca2, ""}; /* d: plain */
    for (int i = 0; i < 4; i++) {
        snprintf(pc.feeds[i].name, sizeof pc.feeds[i].name, "f%d", i);
        snprintf(pc.feeds[i].ca_file, sizeof pc.feeds[i].ca_file, "%s", cas[i]);
    }
    pc.n_feeds = 4;
    static const struct lws_protocols protocols[] = {
        {"tr-ws", proto_cb, 0, 0, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    pipe_tls_context_info(&pc, &info);
    assert_true(info.options & LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT);
    assert_string_equal(info.client_ssl_ca_filepath, ca1);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context *ctx = lws_create_context(&info);
    assert_non_null(ctx);
    static struct pipe_feed feeds[4];
    memset(feeds, 0, sizeof feeds);
    for (int i = 0; i < 4; i++)
        feeds[i].cfg = &pc.feeds[i];
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(pipe_tls_vhosts(ctx, protocols, feeds, 4, &err), 0);
    assert_null(feeds[0].vhost);               /* the context's bundle */
    assert_non_null(feeds[1].vhost);           /* another file */
    assert_ptr_equal(feeds[2].vhost, feeds[1].vhost); /* the same file: shared */
    assert_null(feeds[3].vhost);               /* no TLS */
    char hb[64];
    assert_string_equal(pipe_tls_host(hb, sizeof hb, "stream.binance.com", 9443, 1),
                        "stream.binance.com:9443");
    assert_string_equal(pipe_tls_host(hb, sizeof hb, "api.binance.com", 443, 1), "api.binance.com");
    assert_string_equal(pipe_tls_host(hb, sizeof hb, "localhost", 80, 0), "localhost");
    assert_string_equal(pipe_tls_host(hb, sizeof hb, "localhost", 443, 0), "localhost:443");
    assert_int_equal(pipe_tls_flags(1), LCCSCF_USE_SSL);
    assert_int_equal(pipe_tls_flags(0), 0);
    lws_context_destroy(ctx);

    /* no TLS feed at all: OpenSSL is not initialised */
    memset(&info, 0, sizeof info);
    pc.n_feeds = 1;
    pc.feeds[0].ca_file[0] = '\0';
    pipe_tls_context_info(&pc, &info);
    assert_false(info.options & LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT);
    assert_null(info.client_ssl_ca_filepath);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls_reach_the_pipeline_with_names_ports_and_ca),
        cmocka_unit_test(a_bundle_without_certificates_stops_the_start),
        cmocka_unit_test(other_bundles_get_their_own_vhost),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
