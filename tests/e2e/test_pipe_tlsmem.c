/* TLS over memory BIOs (node/pipe_tlsmem.c), the way the raw-socket
 * WebSocket path (node/pipe_ws.c) carries wss:// on Debian's lws 4.1.6: a
 * client session against an OpenSSL server in the same process, bytes
 * passed by hand. The right certificate completes the handshake and
 * carries data both ways, then the server's last bytes and its
 * close_notify arrive (closed, not failed); a wrong host name, a wrong IP address and an unknown CA are
 * rejected with the reason; a file that is no CA bundle is refused.
 * Sessions resume from the endpoint's cache (also after a connection that
 * ended without close_notify), one the server cannot decrypt (its ticket
 * key changed), that expired, or whose certificate expired since costs a
 * full handshake and nothing else;
 * our close_notify reaches the peer. The client's CPU per full and per
 * resumed handshake is printed (a figure, not asserted). The
 * certificates are made with the openssl command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    assert_int_equal(pipe_tlsmem_open(&c, cctx, name, NULL, &err), 0);
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
    assert_int_equal(pipe_tlsmem_open(&c, ctx, "localhost", NULL, &err), 0);
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

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One connection from a client with cache `k` to a new server session on
 * sctx, bytes moved until both are quiet (the TLS 1.3 tickets that follow
 * the handshake included). The client session is left open in *c, the
 * server's in *s. Adds the client's CPU time to *client_ns. */
static void handshake(SSL_CTX *cctx, SSL_CTX *sctx, struct pipe_tlsmem_cache *k,
                      struct pipe_tlsmem *c, struct peer *s, int64_t *client_ns)
{
    struct tr_error err;
    tr_error_clear(&err);
    struct tr_buf wire, plain;
    tr_buf_init(&wire);
    tr_buf_init(&plain);
    int64_t t0 = cpu_ns();
    assert_int_equal(pipe_tlsmem_open(c, cctx, "localhost", k, &err), 0);
    int64_t spent = cpu_ns() - t0;
    server_open(s, sctx);
    for (int round = 0; round < 20; round++) {
        wire.len = 0;
        t0 = cpu_ns();
        assert_int_equal(pipe_tlsmem_pending(c, &wire), 0);
        spent += cpu_ns() - t0;
        int moved = wire.len > 0;
        if (wire.len)
            BIO_write(s->in, wire.data, (int)wire.len);
        char junk[256];
        if (!SSL_is_init_finished(s->ssl))
            SSL_do_handshake(s->ssl);
        else
            (void)SSL_read(s->ssl, junk, sizeof junk);
        char buf[16384];
        int n = BIO_read(s->out, buf, sizeof buf);
        if (n > 0) {
            moved = 1;
            t0 = cpu_ns();
            assert_int_equal(pipe_tlsmem_rx(c, buf, (size_t)n, &plain), 0);
            spent += cpu_ns() - t0;
        }
        if (!moved)
            break;
    }
    assert_true(c->ready && !c->failed);
    if (client_ns)
        *client_ns += spent;
    tr_buf_free(&wire);
    tr_buf_free(&plain);
}

static void new_ticket_key(SSL_CTX *sctx)
{
    unsigned char keys[80];
    for (size_t i = 0; i < sizeof keys; i++)
        keys[i] = (unsigned char)rand();
    assert_int_equal(SSL_CTX_set_tlsext_ticket_keys(sctx, keys, sizeof keys), 1);
}

/* Connects once; returns whether it resumed (checked on both sides) and
 * whether a session was offered. */
static int once(SSL_CTX *cctx, SSL_CTX *sctx, struct pipe_tlsmem_cache *k, int *offered)
{
    struct pipe_tlsmem c;
    struct peer s;
    handshake(cctx, sctx, k, &c, &s, NULL);
    int r = c.resumed;
    assert_int_equal(SSL_session_reused(s.ssl), r);
    *offered = c.offered;
    /* dropped without close_notify, as a provider's socket may be: the
     * session stays resumable */
    pipe_tlsmem_close(&c);
    SSL_free(s.ssl);
    return r;
}

static void sessions_resume_and_a_changed_ticket_key_costs_a_full_handshake(void **state)
{
    (void)state;
    char ca[256];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    struct tr_error err;
    tr_error_clear(&err);
    SSL_CTX *cctx = pipe_tlsmem_ctx(ca, &err);
    assert_non_null(cctx);
    SSL_CTX *sctx = server_ctx("good");
    struct pipe_tlsmem_cache k = {0}, other = {0};
    int offered;
    assert_false(once(cctx, sctx, &k, &offered)); /* first: full */
    assert_false(offered);
    assert_non_null(k.sess);                      /* a ticket arrived after it */
    assert_true(once(cctx, sctx, &k, &offered));  /* resumed */
    assert_true(offered);
    assert_non_null(k.sess);                      /* and a fresh ticket for the next */
    assert_true(once(cctx, sctx, &k, &offered));
    new_ticket_key(sctx);                         /* the server forgot its tickets */
    assert_false(once(cctx, sctx, &k, &offered)); /* full, verified, no error */
    assert_true(offered);
    assert_true(once(cctx, sctx, &k, &offered));  /* and resumes again after it */
    assert_false(once(cctx, sctx, &other, &offered)); /* another endpoint: its own cache */
    assert_false(offered);
    /* past its lifetime a session is not offered */
    assert_non_null(k.sess);
    SSL_SESSION_set_time(k.sess, (long)time(NULL) - (long)SSL_SESSION_get_timeout(k.sess) - 1);
    assert_false(once(cctx, sctx, &k, &offered));
    assert_false(offered);
    /* nor once the certificate verified when it was made has expired */
    assert_true(once(cctx, sctx, &k, &offered));
    X509 *peer = SSL_SESSION_get0_peer(k.sess);
    assert_non_null(peer);
    assert_non_null(X509_time_adj_ex(X509_getm_notAfter(peer), -1, 0, NULL));
    assert_false(once(cctx, sctx, &k, &offered));
    assert_false(offered);
    pipe_tlsmem_cache_clear(&k);
    pipe_tlsmem_cache_clear(&other);
    assert_null(k.sess);
    SSL_CTX_free(sctx);
    pipe_tlsmem_ctx_free(cctx);
}

static void our_close_notify_reaches_the_peer(void **state)
{
    (void)state;
    char ca[256];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    struct tr_error err;
    tr_error_clear(&err);
    SSL_CTX *cctx = pipe_tlsmem_ctx(ca, &err);
    SSL_CTX *sctx = server_ctx("good");
    struct pipe_tlsmem c;
    assert_int_equal(pipe_tlsmem_open(&c, cctx, "localhost", NULL, &err), 0);
    assert_int_equal(pipe_tlsmem_shutdown(&c), 0); /* no handshake yet: nothing to close */
    pipe_tlsmem_close(&c);
    struct peer s;
    handshake(cctx, sctx, NULL, &c, &s, NULL);
    assert_int_equal(pipe_tlsmem_shutdown(&c), 1);
    assert_int_equal(pipe_tlsmem_shutdown(&c), 0); /* once */
    struct tr_buf wire;
    tr_buf_init(&wire);
    assert_int_equal(pipe_tlsmem_pending(&c, &wire), 0);
    assert_true(wire.len > 0 && wire.data[0] == 0x17); /* TLS 1.3: an encrypted alert */
    BIO_write(s.in, wire.data, (int)wire.len);
    char junk[64];
    assert_int_equal(SSL_read(s.ssl, junk, sizeof junk), 0);
    assert_int_equal(SSL_get_error(s.ssl, 0), SSL_ERROR_ZERO_RETURN);
    assert_true(SSL_get_shutdown(s.ssl) & SSL_RECEIVED_SHUTDOWN);
    tr_buf_free(&wire);
    pipe_tlsmem_close(&c);
    SSL_free(s.ssl);
    SSL_CTX_free(sctx);
    pipe_tlsmem_ctx_free(cctx);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The client's CPU per handshake, full against resumed: printed. */
static void resumed_handshake_cost_is_printed(void **state)
{
    (void)state;
    enum { N = 101 };
    char ca[256];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    struct tr_error err;
    tr_error_clear(&err);
    SSL_CTX *cctx = pipe_tlsmem_ctx(ca, &err);
    SSL_CTX *sctx = server_ctx("good");
    static int64_t full[N], res[N];
    struct pipe_tlsmem_cache k = {0};
    for (int i = 0; i < N; i++) {
        for (int resumed = 0; resumed < 2; resumed++) { /* alternated: full, resumed, ... */
            if (!resumed)
                pipe_tlsmem_cache_clear(&k);
            struct pipe_tlsmem c;
            struct peer s;
            int64_t ns = 0;
            handshake(cctx, sctx, &k, &c, &s, &ns);
            assert_int_equal(c.resumed, resumed);
            (resumed ? res : full)[i] = ns;
            pipe_tlsmem_close(&c);
            SSL_free(s.ssl);
        }
    }
    qsort(full, N, sizeof full[0], cmp64);
    qsort(res, N, sizeof res[0], cmp64);
    printf("[tlsmem] client CPU per handshake over %d each (EC P-256, TLS 1.3): "
           "full p50 %lld us p90 %lld us, resumed p50 %lld us p90 %lld us\n",
           N, (long long)full[N / 2] / 1000, (long long)full[N * 9 / 10] / 1000,
           (long long)res[N / 2] / 1000, (long long)res[N * 9 / 10] / 1000);
    pipe_tlsmem_cache_clear(&k);
    SSL_CTX_free(sctx);
    pipe_tlsmem_ctx_free(cctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(right_certificate_carries_data_both_ways),
        cmocka_unit_test(wrong_name_is_rejected),
        cmocka_unit_test(unknown_ca_is_rejected),
        cmocka_unit_test(tx_waits_for_the_handshake_and_bad_bundles_are_refused),
        cmocka_unit_test(sessions_resume_and_a_changed_ticket_key_costs_a_full_handshake),
        cmocka_unit_test(our_close_notify_reaches_the_peer),
        cmocka_unit_test(resumed_handshake_cost_is_printed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
