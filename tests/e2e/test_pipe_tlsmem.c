/* TLS over memory BIOs (node/pipe_tlsmem.c), the way the raw-socket
 * WebSocket path (node/pipe_ws.c) carries wss:// on Debian's lws 4.1.6: a
 * client session against an OpenSSL server in the same process, bytes
 * passed by hand. The right certificate completes the handshake and
 * carries data both ways, then the server's last bytes and its
 * close_notify arrive (closed, not failed); a wrong host name, a wrong IP address and an unknown CA are
 * rejected with the reason; a file that is no CA bundle is refused. The
 * certificates are made with the openssl command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pipe_tlsmem.h"

static char dir[] = "/tmp/tr-tlsmem.XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && {"
             " K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';"
             " openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 -subj /CN=ca &&"
             " openssl req -x509 $K -keyout rogue.key -out rogue.pem -days 2 -subj /CN=rogue &&"
             " printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext &&"
             " for c in good:ca stranger:rogue; do n=${c%%:*}; a=${c#*:};"
             "  openssl req $K -keyout $n.key -out $n.csr -subj /CN=srv &&"
             "  openssl x509 -req -in $n.csr -CA $a.pem -CAkey $a.key -CAcreateserial"
             "   -out $n.pem -days 2 -extfile san.ext || exit 1; done &&"
             " echo 'no certificate here' > bad.pem; } >openssl.log 2>&1",
             dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static SSL_CTX *server_ctx(const char *cert)
{
    char c[256], k[256];
    snprintf(c, sizeof c, "%s/%s.pem", dir, cert);
    snprintf(k, sizeof k, "%s/%s.key", dir, cert);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_certificate_file(ctx, c, SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, k, SSL_FILETYPE_PEM), 1);
    return ctx;
}

struct peer {
    SSL *ssl;
    BIO *in, *out;
};

static void server_open(struct peer *s, SSL_CTX *ctx)
{
    s->ssl = SSL_new(ctx);
    s->in = BIO_new(BIO_s_mem());
    s->out = BIO_new(BIO_s_mem());
    SSL_set_bio(s->ssl, s->in, s->out);
    SSL_set_accept_state(s->ssl);
}

/* Moves bytes both ways until nothing moves; returns the client's last rx
 * code. The server's plaintext goes to `srv_plain`, the client's to
 * `cli_plain`. */
static int pump(struct pipe_tlsmem *c, struct peer *s, struct tr_buf *cli_plain,
                char *srv_plain, size_t cap)
{
    struct tr_buf wire;
    tr_buf_init(&wire);
    int rc = 0;
    size_t got = 0;
    for (int round = 0; round < 50; round++) {
        wire.len = 0;
        assert_int_equal(pipe_tlsmem_pending(c, &wire), 0);
        int moved = wire.len > 0;
        if (wire.len)
            BIO_write(s->in, wire.data, (int)wire.len);
        if (!SSL_is_init_finished(s->ssl))
            SSL_do_handshake(s->ssl);
        int r;
        while (got + 1 < cap && (r = SSL_read(s->ssl, srv_plain + got, (int)(cap - got - 1))) > 0)
            got += (size_t)r;
        srv_plain[got] = '\0';
        char buf[16384];
        int n = BIO_read(s->out, buf, sizeof buf);
        if (n > 0) {
            moved = 1;
            rc = pipe_tlsmem_rx(c, buf, (size_t)n, cli_plain);
            if (rc)
                break;
        }
        if (!moved)
            break;
    }
    tr_buf_free(&wire);
    return rc;
}

static void run(const char *cert, const char *name, const char *expect_why)
{
    char ca[256];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    struct tr_error err;
    tr_error_clear(&err);
    SSL_CTX *cctx = pipe_tlsmem_ctx(ca, &err);
    assert_non_null(cctx);
    SSL_CTX *sctx = server_ctx(cert);
    struct pipe_tlsmem c;
    assert_int_equal(pipe_tlsmem_open(&c, cctx, name, &err), 0);
    struct peer s;
    server_open(&s, sctx);
    struct tr_buf plain;
    tr_buf_init(&plain);
    char srv[256];
    int rc = pump(&c, &s, &plain, srv, sizeof srv);
    if (!expect_why) {
        assert_int_equal(rc, 0);
        assert_true(c.ready);
        assert_int_equal(pipe_tlsmem_tx(&c, "GET / HTTP/1.1\r\n", 16), 0);
        const char *answer = "HTTP/1.1 101 Switching Protocols\r\n";
        assert_int_equal(SSL_write(s.ssl, answer, (int)strlen(answer)), (int)strlen(answer));
        assert_int_equal(pump(&c, &s, &plain, srv, sizeof srv), 0);
        assert_string_equal(srv, "GET / HTTP/1.1\r\n");
        assert_int_equal(plain.len, strlen(answer));
        assert_memory_equal(plain.data, answer, plain.len);
        /* the last bytes, then close_notify: both reach the client, which
         * then knows the stream ended (pipe_ws drops the connection) */
        plain.len = 0;
        assert_int_equal(SSL_write(s.ssl, "bye", 3), 3);
        assert_true(SSL_shutdown(s.ssl) >= 0);
        assert_false(c.closed);
        assert_int_equal(pump(&c, &s, &plain, srv, sizeof srv), 0);
        assert_true(c.closed && !c.failed);
        assert_int_equal(plain.len, 3);
        assert_memory_equal(plain.data, "bye", 3);
    } else {
        assert_int_equal(rc, TR_EPROTO);
        assert_true(c.failed && c.cert_rejected && !c.ready);
        if (!strstr(c.why, expect_why))
            fail_msg("expected \"%s\" in \"%s\"", expect_why, c.why);
        assert_int_equal(pipe_tlsmem_tx(&c, "x", 1), TR_EPROTO);
        assert_int_equal(pipe_tlsmem_rx(&c, NULL, 0, &plain), TR_EPROTO);
    }
    tr_buf_free(&plain);
    pipe_tlsmem_close(&c);
    SSL_free(s.ssl);
    SSL_CTX_free(sctx);
    pipe_tlsmem_ctx_free(cctx);
}

static void right_certificate_carries_data_both_ways(void **state)
{
    (void)state;
    run("good", "localhost", NULL);
    run("good", "127.0.0.1", NULL); /* checked against IP:127.0.0.1 */
}

static void wrong_name_is_rejected(void **state)
{
    (void)state;
    run("good", "other.invalid", "hostname mismatch");
    run("good", "127.0.0.2", "IP address mismatch");
}

static void unknown_ca_is_rejected(void **state)
{
    (void)state;
    run("stranger", "localhost", "unable to get local issuer certificate");
}

static void tx_waits_for_the_handshake_and_bad_bundles_are_refused(void **state)
{
    (void)state;
    char p[256];
    struct tr_error err;
    tr_error_clear(&err);
    snprintf(p, sizeof p, "%s/ca.pem", dir);
    SSL_CTX *ctx = pipe_tlsmem_ctx(p, &err);
    assert_non_null(ctx);
    struct pipe_tlsmem c;
    assert_int_equal(pipe_tlsmem_open(&c, ctx, "localhost", &err), 0);
    assert_int_equal(pipe_tlsmem_tx(&c, "early", 5), TR_EAGAIN);
    struct tr_buf hello;
    tr_buf_init(&hello);
    assert_int_equal(pipe_tlsmem_pending(&c, &hello), 0);
    assert_true(hello.len > 0 && hello.data[0] == 0x16); /* a handshake record */
    tr_buf_free(&hello);
    pipe_tlsmem_close(&c);
    pipe_tlsmem_ctx_free(ctx);
    snprintf(p, sizeof p, "%s/bad.pem", dir);
    assert_null(pipe_tlsmem_ctx(p, &err));
    assert_int_equal(err.code, TR_ECONFIG);
    assert_non_null(strstr(err.msg, "bad.pem"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(right_certificate_carries_data_both_ways),
        cmocka_unit_test(wrong_name_is_rejected),
        cmocka_unit_test(unknown_ca_is_rejected),
        cmocka_unit_test(tx_waits_for_the_handshake_and_bad_bundles_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
