/* TLS between the SDK and the publisher (tls+tcp://, nng's TLS; docs/sdk.md
 * "TLS", docs/protocol.md "TLS"). The certificates are made by the test
 * with the openssl command line in a fresh directory: a CA, a node
 * certificate for 127.0.0.1 signed by it, a client certificate signed by
 * it, and a second, unrelated CA. Loopback only; ports picked by the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "client_harness.h"

static char certs[64];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* CA `name`, and a certificate `leaf` signed by `ca` (SAN IP 127.0.0.1),
 * its key appended to the certificate file (what nng's cert-key file wants). */
static int make_ca(const char *name)
{
    return sh("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=%s "
              "-keyout %s.key -out %s.pem >/dev/null 2>&1",
              certs, name, name, name);
}
static int make_leaf(const char *leaf, const char *ca)
{
    return sh("cd %s && printf 'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1\\n' > %s.ext && "
              "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout %s.key "
              "-out %s.csr >/dev/null 2>&1 && "
              "openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -CAcreateserial -days 2 "
              "-extfile %s.ext -out %s.crt >/dev/null 2>&1 && cat %s.crt %s.key > %s.pem",
              certs, leaf, leaf, leaf, leaf, ca, ca, leaf, leaf, leaf, leaf, leaf);
}

static int setup(void **state)
{
    (void)state;
    snprintf(certs, sizeof certs, "/tmp/tr_tls_XXXXXX");
    if (!mkdtemp(certs))
        return -1;
    if (make_ca("ca") || make_ca("other") || make_leaf("node", "ca") || make_leaf("client", "ca")) {
        fprintf(stderr, "openssl failed: is the openssl command installed?\n");
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf %s", certs);
    return 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void path(char *out, size_t cap, const char *file)
{
    snprintf(out, cap, "%s/%s", certs, file);
}

/* A node on tls+tcp://127.0.0.1:PORT with 3 x 100 trades; `client_ca`
 * non-NULL asks clients for a certificate signed by it. */
static void open_node(struct ch_node *n, const char *client_ca)
{
    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "/tmp/tr_client_tls_XXXXXX");
    assert_non_null(mkdtemp(n->dir));
    snprintf(n->url, sizeof n->url, "tls+tcp://127.0.0.1:%d", free_port());
    assert_int_equal(ch_log_open(n, 0), 0);
    assert_int_equal(ch_write(n->log, 3, 1, 100, 0), 0);
    char cert[128], ca[128];
    path(cert, sizeof cert, "node.pem");
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    po.tls_cert_key_file = cert;
    if (client_ca) {
        path(ca, sizeof ca, client_ca);
        po.tls_ca_file = ca;
    }
    assert_int_equal(ch_pub_open(n, &po), 0);
}

static struct tr_client *client(const struct ch_node *n, const char *ca, const char *cert)
{
    char cap[128], certp[128];
    const char *nodes[] = {n->url};
    struct tr_client_options o = {.nodes = nodes, .n_nodes = 1, .rpc_timeout_ms = 3000};
    if (ca) {
        path(cap, sizeof cap, ca);
        o.tls_ca_file = cap;
    }
    if (cert) {
        path(certp, sizeof certp, cert);
        o.tls_cert_key_file = certp;
    }
    struct tr_client *c;
    struct tr_error err;
    assert_int_equal(tr_client_open(&c, &o, &err), 0);
    return c;
}

static void subscriber_receives_everything_over_tls(void **state)
{
    (void)state;
    struct ch_node n;
    open_node(&n, NULL);
    struct tr_client *c = client(&n, "ca.pem", NULL);
    struct tr_error err;
    tr_error_clear(&err);
    int crc = tr_client_connect(c, &err);
    if (crc)
        fprintf(stderr, "connect: %s\n", err.msg);
    assert_int_equal(crc, 0);
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_EARLIEST, .wait_ms = 50};
    struct tr_client_sub *s;
    assert_int_equal(tr_client_subscribe(c, &so, &s, &err), 0);
    struct ch_check chk;
    ch_check_init(&chk, 1);
    for (int idle = 0; chk.total < 300 && idle < 50;) {
        struct tr_client_msg m;
        int rc = tr_client_sub_poll(s, &m, 100, &err);
        assert_true(rc >= 0);
        if (rc == 1 && m.type == TR_CLIENT_EVENT) {
            ch_check_msg(&chk, &m);
            idle = 0;
        } else {
            idle++;
        }
    }
    assert_int_equal(chk.total, 300);
    assert_int_equal(chk.bad, 0);
    tr_client_sub_free(s);
    tr_client_close(c);
    ch_node_close(&n);
}

static void a_client_with_the_wrong_ca_is_refused_clearly(void **state)
{
    (void)state;
    struct ch_node n;
    open_node(&n, NULL);
    struct tr_client *c = client(&n, "other.pem", NULL);
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(tr_client_connect(c, &err), TR_EAUTH);
    assert_non_null(strstr(err.msg, "TLS handshake refused"));
    assert_non_null(strstr(err.msg, "other.pem"));
    tr_client_close(c);
    /* and without any CA: a configuration error, not a hang */
    c = client(&n, NULL, NULL);
    tr_error_clear(&err);
    assert_int_equal(tr_client_connect(c, &err), TR_EINVAL);
    assert_non_null(strstr(err.msg, "tls_ca_file"));
    tr_client_close(c);
    ch_node_close(&n);
}

static void a_node_asking_for_client_certificates_refuses_clients_without_one(void **state)
{
    (void)state;
    struct ch_node n;
    open_node(&n, "ca.pem");
    struct tr_client *c = client(&n, "ca.pem", "client.pem");
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(tr_client_connect(c, &err), 0);
    struct tr_client_table t;
    assert_int_equal(tr_client_admin(c, "status", NULL, 0, &t, &err), TR_EPERM); /* reached it */
    tr_client_close(c);
    c = client(&n, "ca.pem", NULL); /* no client certificate */
    tr_error_clear(&err);
    int rc = tr_client_connect(c, &err);
    assert_true(rc == TR_EAUTH || rc == TR_ECONNREFUSED); /* refused during the handshake */
    assert_true(rc != 0);
    tr_client_close(c);
    ch_node_close(&n);
}

static void a_tls_url_without_a_certificate_fails_to_listen(void **state)
{
    (void)state;
    struct tr_log *log = NULL;
    char dir[] = "/tmp/tr_client_tlsnc_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(tr_log_open(&log, dir, NULL, NULL), 0);
    struct tr_pub_options po;
    tr_pub_options_init(&po);
    const char *urls[] = {"tls+tcp://127.0.0.1:0"};
    po.listen = urls;
    po.n_listen = 1;
    po.log = log;
    struct tr_pub *p = NULL;
    struct tr_error err;
    tr_error_clear(&err);
    assert_int_equal(tr_pub_open(&p, &po, &err), TR_EINVAL);
    assert_non_null(strstr(err.msg, "tls_cert_key_file"));
    char missing[160];
    path(missing, sizeof missing, "nosuch.pem");
    po.tls_cert_key_file = missing;
    tr_error_clear(&err);
    assert_int_equal(tr_pub_open(&p, &po, &err), TR_EINVAL);
    assert_non_null(strstr(err.msg, "nosuch.pem"));
    tr_log_close(log, NULL);
    ch_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscriber_receives_everything_over_tls),
        cmocka_unit_test(a_client_with_the_wrong_ca_is_refused_clearly),
        cmocka_unit_test(a_node_asking_for_client_certificates_refuses_clients_without_one),
        cmocka_unit_test(a_tls_url_without_a_certificate_fails_to_listen),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
