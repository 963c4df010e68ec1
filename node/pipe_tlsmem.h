/* TLS over memory BIOs for a connection lws carries raw (node/pipe_tlsmem.c):
 * the socket's bytes in, plaintext out; plaintext in, bytes for the socket
 * out. Internal to node/. */
#ifndef TR_NODE_PIPE_TLSMEM_H
#define TR_NODE_PIPE_TLSMEM_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "tickraft/error.h"
#include "tickraft/event.h"

/* The last resumable session of one endpoint (a feed's wss:// URL): what
 * the next connection offers. Zero it to start; pipe_tlsmem_cache_clear
 * frees it. Only sessions from handshakes that verified the chain and
 * the name get here (OpenSSL reports no session of a failed handshake). */
struct pipe_tlsmem_cache {
    SSL_SESSION *sess; /* owned; NULL: none (the next handshake is full) */
};
void pipe_tlsmem_cache_clear(struct pipe_tlsmem_cache *k);

struct pipe_tlsmem {
    SSL *ssl;          /* owns rbio and wbio */
    BIO *rbio, *wbio;  /* socket -> OpenSSL, OpenSSL -> socket */
    int ready;         /* handshake done, certificate verified */
    int failed;        /* the session is dead: why says why */
    int cert_rejected; /* ... because the certificate check failed */
    int closed;        /* the peer sent close_notify */
    int bye;           /* our close_notify is queued (pipe_tlsmem_shutdown) */
    int offered;       /* a cached session was offered */
    int resumed;       /* once ready: the handshake resumed it (no certificate sent) */
    struct pipe_tlsmem_cache *cache; /* borrowed: where new sessions go (NULL: none) */
    char why[192];
};

/* A client context verifying against the PEM bundle `ca_file` (TLS 1.2+).
 * The caller owns it (pipe_tlsmem_ctx_free); one per bundle, shared by
 * sessions. NULL with TR_ECONFIG naming the file, or TR_ENOMEM. */
SSL_CTX *pipe_tlsmem_ctx(const char *ca_file, struct tr_error *err);
void pipe_tlsmem_ctx_free(SSL_CTX *ctx);

/* Starts a session to the server called `name` (a host name, or an IP
 * literal checked against the certificate's IP addresses); SNI = name.
 * With `cache` (borrowed, must outlive `t`; one per endpoint, i.e. per
 * name and port) a session kept there and still within its lifetime is
 * offered for resumption and taken out (a TLS 1.3 ticket is used once,
 * RFC 8446 C.4); the sessions the server issues on this connection
 * (tickets may arrive after the handshake) replace it. A server that
 * refuses it gets a full, verified handshake. The ClientHello is then
 * waiting in pipe_tlsmem_pending. 0 or TR_E*; close `t` in every case.
 * `ctx` (from pipe_tlsmem_ctx) must outlive it. */
int pipe_tlsmem_open(struct pipe_tlsmem *t, SSL_CTX *ctx, const char *name,
                     struct pipe_tlsmem_cache *cache, struct tr_error *err);
void pipe_tlsmem_close(struct pipe_tlsmem *t);

/* Bytes received from the socket (n may be 0): advances the handshake and
 * appends any decrypted bytes to `plain` (NULL: handshake only). 0, or
 * TR_EPROTO when the session failed (t->why: "certificate rejected:
 * hostname mismatch", ...; t->cert_rejected), TR_ENOMEM. Afterwards,
 * send what pipe_tlsmem_pending has (handshake answers). */
int pipe_tlsmem_rx(struct pipe_tlsmem *t, const void *in, size_t n, struct tr_buf *plain);
/* Encrypts `n` bytes for the peer (into the pending output). TR_EAGAIN
 * before the handshake is done, TR_EPROTO after a failure. */
int pipe_tlsmem_tx(struct pipe_tlsmem *t, const void *p, size_t n);
/* Queues our close_notify (then in pipe_tlsmem_pending): 1 when queued,
 * 0 when there is nothing to close (no handshake done, the session
 * failed, or already sent). Never waits for the peer's. */
int pipe_tlsmem_shutdown(struct pipe_tlsmem *t);
/* Moves the bytes waiting for the socket to the end of `out`. 0 / TR_ENOMEM. */
int pipe_tlsmem_pending(struct pipe_tlsmem *t, struct tr_buf *out);

#endif
