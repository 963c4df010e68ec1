/* TLS over memory BIOs for a connection lws carries raw (node/pipe_tlsmem.c):
 * the socket's bytes in, plaintext out; plaintext in, bytes for the socket
 * out. Internal to node/. */
#ifndef TR_NODE_PIPE_TLSMEM_H
#define TR_NODE_PIPE_TLSMEM_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "tickraft/error.h"
#include "tickraft/event.h"

struct pipe_tlsmem {
    SSL *ssl;          /* owns rbio and wbio */
    BIO *rbio, *wbio;  /* socket -> OpenSSL, OpenSSL -> socket */
    int ready;         /* handshake done, certificate verified */
    int failed;        /* the session is dead: why says why */
    int cert_rejected; /* ... because the certificate check failed */
    int closed;        /* the peer sent close_notify */
    char why[192];
};

/* A client context verifying against the PEM bundle `ca_file` (TLS 1.2+).
 * The caller owns it (pipe_tlsmem_ctx_free); one per bundle, shared by
 * sessions. NULL with TR_ECONFIG naming the file, or TR_ENOMEM. */
SSL_CTX *pipe_tlsmem_ctx(const char *ca_file, struct tr_error *err);
void pipe_tlsmem_ctx_free(SSL_CTX *ctx);

/* Starts a session to the server called `name` (a host name, or an IP
 * literal checked against the certificate's IP addresses); SNI = name.
 * The ClientHello is then waiting in pipe_tlsmem_pending. 0 or TR_E*;
 * close `t` in every case. `ctx` must outlive it. */
int pipe_tlsmem_open(struct pipe_tlsmem *t, SSL_CTX *ctx, const char *name,
                     struct tr_error *err);
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
/* Moves the bytes waiting for the socket to the end of `out`. 0 / TR_ENOMEM. */
int pipe_tlsmem_pending(struct pipe_tlsmem *t, struct tr_buf *out);

#endif
