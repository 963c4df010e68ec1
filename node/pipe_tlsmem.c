/* TLS for a connection whose bytes lws carries raw: OpenSSL over memory
 * BIOs. Debian's lws 4.1.6 cannot put TLS on a raw client connection (it
 * starts the handshake before the socket connects: libwebsockets issue
 * #2916, docs/node.md "TLS to providers"), so a raw-socket WebSocket path
 * that wants wss:// encrypts and decrypts itself: what the socket delivers
 * goes in with pipe_tlsmem_rx (plaintext comes out), what it must send
 * comes from pipe_tlsmem_pending. Verification is the same as lws's
 * client: the chain against the feed's CA bundle and the URL's name
 * (X509_VERIFY_PARAM_set1_host, or the IP address), SNI = that name;
 * there is no way to turn it off.
 *
 * Resumption: each endpoint's last session (pipe_tlsmem_cache) is offered
 * by its next connection. The context keeps no sessions of its own
 * (SSL_SESS_CACHE_NO_INTERNAL_STORE): OpenSSL hands each new one to
 * new_session_cb, which files it in the cache of the connection it came
 * on (SSL app data), so a session never crosses endpoints. Why this keeps
 * the guarantee of the full check: a session exists only after a
 * handshake that verified the chain and the name; resuming it proves the
 * server holds that handshake's resumption secret, which only the server
 * we verified (or one sharing its ticket key) can; and the cache is per
 * name, so a session is never offered to another host. */
#include "pipe_tlsmem.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* OpenSSL's new session (after a full handshake; in TLS 1.3 each ticket,
 * which arrives after it): kept as the endpoint's last one. 1: we took
 * the reference. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct pipe_tlsmem *t = SSL_get_app_data(ssl);
    if (!t || !t->cache || !SSL_SESSION_is_resumable(sess))
        return 0;
    SSL_SESSION_free(t->cache->sess);
    t->cache->sess = sess;
    return 1;
}

void pipe_tlsmem_cache_clear(struct pipe_tlsmem_cache *k)
{
    SSL_SESSION_free(k->sess); /* NULL: nothing */
    k->sess = NULL;
}

/* The cached session if it may still be offered: resumable, within its
 * lifetime (the server's ticket lifetime hint, which OpenSSL caps at 7
 * days in TLS 1.3, else the context's default 300 s in TLS 1.2), and the
 * certificate verified when it was made not expired since (a resumption
 * shows no certificate, so it must not outlive the one it vouches for).
 * Taken out of the cache either way. */
static SSL_SESSION *take_session(struct pipe_tlsmem_cache *k)
{
    SSL_SESSION *s = k ? k->sess : NULL;
    if (!s)
        return NULL;
    k->sess = NULL;
    time_t now = time(NULL);
    X509 *peer = SSL_SESSION_get0_peer(s);
    if (!SSL_SESSION_is_resumable(s) || !peer ||
        X509_cmp_time(X509_get0_notAfter(peer), &now) <= 0 ||
        (int64_t)SSL_SESSION_get_time(s) + (int64_t)SSL_SESSION_get_timeout(s) <= (int64_t)now) {
        SSL_SESSION_free(s);
        return NULL;
    }
    return s;
}

SSL_CTX *pipe_tlsmem_ctx(const char *ca_file, struct tr_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        tr_errorf(err, TR_ENOMEM, "TLS: cannot create a client context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
        tr_errorf(err, TR_ECONFIG, "TLS: cannot load the CA bundle %s", ca_file);
        return NULL;
    }
    return ctx;
}

void pipe_tlsmem_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

int pipe_tlsmem_open(struct pipe_tlsmem *t, SSL_CTX *ctx, const char *name,
                     struct pipe_tlsmem_cache *cache, struct tr_error *err)
{
    memset(t, 0, sizeof t[0]);
    t->ssl = SSL_new(ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    if (!t->ssl || !rb || !wb) {
        BIO_free(rb);
        BIO_free(wb);
        pipe_tlsmem_close(t);
        return tr_errorf(err, TR_ENOMEM, "TLS: cannot create a session");
    }
    SSL_set_bio(t->ssl, rb, wb); /* the session owns both */
    t->rbio = rb;
    t->wbio = wb;
    unsigned char a[16];
    int literal = inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
    X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(vp, name)
                     : X509_VERIFY_PARAM_set1_host(vp, name, 0);
    /* RFC 6066 3: no IP literals in SNI */
    if (ok == 1 && !literal)
        ok = (int)SSL_set_tlsext_host_name(t->ssl, name);
    if (ok != 1) {
        ERR_clear_error();
        pipe_tlsmem_close(t);
        return tr_errorf(err, TR_EINVAL, "TLS: cannot check certificates against '%s'", name);
    }
    SSL_set_app_data(t->ssl, t);
    t->cache = cache;
    SSL_SESSION *sess = take_session(cache);
    if (sess) {
        t->offered = SSL_set_session(t->ssl, sess) == 1;
        SSL_SESSION_free(sess); /* the session holds its own reference */
        ERR_clear_error();
    }
    SSL_set_connect_state(t->ssl);
    return pipe_tlsmem_rx(t, NULL, 0, NULL) == 0 ? 0 /* the ClientHello is pending */
                                                 : tr_errorf(err, TR_EPROTO, "TLS: %s", t->why);
}

void pipe_tlsmem_close(struct pipe_tlsmem *t)
{
    if (t->ssl) {
        SSL_set_app_data(t->ssl, NULL); /* no session filed from here on */
        /* OpenSSL makes the session of a connection freed without our
         * close_notify unresumable (RFC 2246's rule). Since TLS 1.1 a
         * connection that merely ended (a provider dropping the socket,
         * the common case) need not cost the session (RFC 4346 7.2.1), so
         * mark it closed; one that failed (a bad record, an alert) keeps
         * OpenSSL's rule and is not resumed. */
        if (t->ready && !t->failed)
            SSL_set_shutdown(t->ssl, SSL_get_shutdown(t->ssl) | SSL_SENT_SHUTDOWN);
        SSL_free(t->ssl); /* and both BIOs */
    }
    t->ssl = NULL;
    t->rbio = t->wbio = NULL;
}

/* Records why the session failed: the certificate check's verdict when
 * there is one ("hostname mismatch"), else OpenSSL's first error. */
static int failed(struct pipe_tlsmem *t)
{
    long v = SSL_get_verify_result(t->ssl);
    unsigned long e = ERR_peek_error();
    if (v != X509_V_OK)
        snprintf(t->why, sizeof t->why, "certificate rejected: %s",
                 X509_verify_cert_error_string(v));
    else if (e)
        snprintf(t->why, sizeof t->why, "%s", ERR_reason_error_string(e)
                                               ? ERR_reason_error_string(e) : "handshake failed");
    else
        snprintf(t->why, sizeof t->why, "connection closed by the peer");
    t->cert_rejected = v != X509_V_OK;
    t->failed = 1;
    ERR_clear_error();
    return TR_EPROTO;
}

int pipe_tlsmem_rx(struct pipe_tlsmem *t, const void *in, size_t n, struct tr_buf *plain)
{
    if (t->failed)
        return TR_EPROTO;
    if (n && BIO_write(t->rbio, in, (int)n) != (int)n)
        return TR_ENOMEM;
    if (!t->ready) {
        int r = SSL_do_handshake(t->ssl);
        if (r != 1) {
            int e = SSL_get_error(t->ssl, r);
            return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : failed(t);
        }
        t->ready = 1;
        t->resumed = SSL_session_reused(t->ssl) == 1;
        /* TLS 1.2 resumed without a new ticket: the session stays usable */
        if (t->resumed && t->cache && !t->cache->sess && SSL_version(t->ssl) < TLS1_3_VERSION)
            t->cache->sess = SSL_get1_session(t->ssl);
    }
    if (!plain)
        return 0;
    for (;;) {
        if (tr_buf_reserve(plain, 16384))
            return TR_ENOMEM;
        int r = SSL_read(t->ssl, plain->data + plain->len, 16384);
        if (r > 0) {
            plain->len += (size_t)r;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify: the stream ends here */
            t->closed = 1;
            return 0;
        }
        return failed(t);
    }
}

int pipe_tlsmem_tx(struct pipe_tlsmem *t, const void *p, size_t n)
{
    if (t->failed || !t->ready)
        return t->failed ? TR_EPROTO : TR_EAGAIN;
    while (n) {
        int r = SSL_write(t->ssl, p, n > 1u << 30 ? 1 << 30 : (int)n);
        if (r <= 0)
            return failed(t);
        p = (const char *)p + r;
        n -= (size_t)r;
    }
    return 0;
}

int pipe_tlsmem_shutdown(struct pipe_tlsmem *t)
{
    if (!t->ssl || !t->ready || t->failed || t->bye)
        return 0;
    t->bye = 1;
    /* 0: ours sent, the peer's not seen; 1: both; < 0 only on a broken
     * session, which has nothing to close */
    int r = SSL_shutdown(t->ssl);
    ERR_clear_error();
    return r >= 0;
}

int pipe_tlsmem_pending(struct pipe_tlsmem *t, struct tr_buf *out)
{
    size_t n = t->wbio ? (size_t)BIO_ctrl_pending(t->wbio) : 0;
    if (!n)
        return 0;
    if (tr_buf_reserve(out, n))
        return TR_ENOMEM;
    int r = BIO_read(t->wbio, out->data + out->len, (int)n);
    if (r > 0)
        out->len += (size_t)r;
    return 0;
}
