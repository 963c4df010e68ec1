/* The simulator's TLS side beyond lws's: what a test of a client's TLS
 * needs to see and to provoke. lws serves TLS (--tls-cert); OpenSSL's
 * server defaults issue session tickets (two per full TLS 1.3 handshake),
 * so clients may resume. Here: counting full and resumed handshakes and
 * the close_notify alerts clients send, rotating the ticket key (a client's
 * ticket then fails to decrypt and it must do a full handshake, as after a
 * real server's key rotation or a move to another server), and sending a
 * close_notify without a WebSocket close frame (docs/simulator.md). */
#include "sim.h"

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

void sim_tls_established(struct sim_server *s, struct lws *wsi)
{
    SSL *ssl = lws_get_ssl(wsi);
    if (!ssl)
        return;
    if (SSL_session_reused(ssl))
        s->tls_resumed++;
    else
        s->tls_full++;
    if (!s->tls_ctx)
        s->tls_ctx = SSL_get_SSL_CTX(ssl); /* the stream vhost's; lives with it */
}

void sim_tls_closed(struct sim_server *s, struct lws *wsi)
{
    SSL *ssl = lws_get_ssl(wsi);
    if (!ssl)
        return;
    /* lws may close on the client's TCP close without reading what came
     * before it (a stalled connection reads nothing): read what is left,
     * so a close_notify sent before the close is seen (non-blocking; the
     * connection is going anyway) */
    char junk[4096];
    for (int i = 0; i < 256 && !(SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN); i++)
        if (SSL_read(ssl, junk, sizeof junk) <= 0)
            break;
    ERR_clear_error();
    if (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN)
        s->tls_notify_rx++;
}

int sim_tls_rekey(struct sim_server *s)
{
    SSL_CTX *ctx = s->tls_ctx;
    unsigned char keys[80]; /* name 16, HMAC secret 32, AES key 32 (OpenSSL 3) */
    if (!ctx)
        return 0; /* no TLS connection yet: the first ones get fresh keys anyway */
    if (RAND_bytes(keys, sizeof keys) != 1 ||
        SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof keys) != 1)
        return TR_EINTERNAL;
    /* TLS 1.2 session ids live in the server's cache: forget them too */
    SSL_CTX_flush_sessions(ctx, 0x7fffffffL);
    s->tls_rekeys++;
    return 0;
}

void sim_tls_close_notify(struct sim_conn *c)
{
    SSL *ssl = c->wsi ? lws_get_ssl(c->wsi) : NULL;
    if (!ssl || c->tls_bye || c->close_code)
        return;
    /* lws writes nothing more on this connection (sim_conn_write checks
     * tls_bye): the alert is the last thing the client reads */
    c->tls_bye = 1;
    SSL_shutdown(ssl);
}
