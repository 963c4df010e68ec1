/* TLS to providers (wss:// and https://): which CA bundle each feed's
 * server certificates must chain to.
 *
 * wss:// connections do TLS themselves (pipe_ws.c over pipe_tlsmem.c, as
 * lws 4.1.6 cannot put TLS on a raw client): each such feed holds a
 * reference to an OpenSSL client context loaded with its bundle.
 *
 * https:// (REST) stays on lws's client TLS. lws keeps the client SSL_CTX, and so the trust store, per vhost. The
 * context's default vhost gets the first TLS feed's bundle (usually the
 * system's, shared by every feed); a feed whose ca_file differs gets a
 * vhost of its own (shared with later feeds naming the same file). A
 * connection names its vhost in lws_client_connect_info.vhost and sets
 * LCCSCF_USE_SSL; the certificate chain and the host name (SNI and the
 * check are both the connect info's `host`, the name from the URL, while
 * `address` is the address resolved at start) are always verified: there
 * is no switch to turn either off.
 *
 * lws's own default trust store (LWS_OPENSSL_CLIENT_CERTS) is "../share"
 * in Debian's build, not a usable path: a bundle is always passed. */
#include "pipe_feed.h"

#include <stdio.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "nlog.h"

/* The last verification failure on this thread's loop (each collector runs
 * its own loop and lws context): lws's connection-error text for it is an
 * empty OpenSSL error ("connect SSL err 1: error:00000001:lib(0)"), so the
 * reason is taken from OpenSSL's store context while it is verifying. */
static _Thread_local struct {
    const struct lws *wsi;
    char msg[160];
} last_failure;

const char *pipe_tls_context_ca(const struct pipe_cfg *cfg)
{
    for (size_t i = 0; i < cfg->n_feeds; i++)
        if (cfg->feeds[i].ca_file[0])
            return cfg->feeds[i].ca_file;
    return NULL;
}

void pipe_tls_context_info(const struct pipe_cfg *cfg, struct lws_context_creation_info *info)
{
    const char *ca = pipe_tls_context_ca(cfg);
    if (!ca)
        return; /* no TLS feed: OpenSSL is not even initialised */
    info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info->client_ssl_ca_filepath = ca;
}

int pipe_tls_vhosts(struct lws_context *ctx, const struct lws_protocols *protocols,
                    struct pipe_feed *feeds, size_t n, struct tr_error *err)
{
    const char *dflt = NULL;
    for (size_t i = 0; i < n; i++) {
        struct pipe_feed *f = &feeds[i];
        const char *ca = f->cfg->ca_file;
        f->vhost = NULL;
        if (!ca[0])
            continue;
        if (!dflt)
            dflt = ca;
        if (strcmp(ca, dflt) == 0)
            continue;
        for (size_t j = 0; j < i && !f->vhost; j++)
            if (feeds[j].vhost && strcmp(feeds[j].cfg->ca_file, ca) == 0)
                f->vhost = feeds[j].vhost;
        if (f->vhost)
            continue;
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof info);
        info.port = CONTEXT_PORT_NO_LISTEN;
        info.protocols = protocols;
        info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = ca;
        info.vhost_name = f->cfg->name; /* lws keeps the pointer: the config outlives it */
        f->vhost = lws_create_vhost(ctx, &info);
        if (!f->vhost)
            return tr_errorf(err, TR_ECONFIG, "feed %s: cannot load the CA bundle %s (ca_file)",
                             f->cfg->name, ca);
    }
    return 0;
}

int pipe_tls_ws_ctx(struct pipe_feed *feeds, size_t n, struct tr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        struct pipe_feed *f = &feeds[i];
        f->tls_ctx = NULL;
        if (!f->cfg->ws_tls || !f->cfg->ca_file[0])
            continue;
        for (size_t j = 0; j < i && !f->tls_ctx; j++)
            if (feeds[j].tls_ctx && strcmp(feeds[j].cfg->ca_file, f->cfg->ca_file) == 0 &&
                SSL_CTX_up_ref(feeds[j].tls_ctx) == 1)
                f->tls_ctx = feeds[j].tls_ctx;
        if (f->tls_ctx)
            continue;
        f->tls_ctx = pipe_tlsmem_ctx(f->cfg->ca_file, err);
        if (!f->tls_ctx)
            return tr_error_wrap(err, TR_ECONFIG, "feed %s (ca_file)", f->cfg->name);
    }
    return 0;
}

void pipe_tls_ws_ctx_free(struct pipe_feed *feeds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pipe_tlsmem_cache_clear(&feeds[i].tls_cache);
        pipe_tlsmem_ctx_free(feeds[i].tls_ctx); /* NULL: nothing */
        feeds[i].tls_ctx = NULL;
    }
}

int pipe_tls_flags(int tls)
{
    /* never LCCSCF_ALLOW_SELFSIGNED, _ALLOW_INSECURE, _ALLOW_EXPIRED or
     * _SKIP_SERVER_CERT_HOSTNAME_CHECK */
    return tls ? LCCSCF_USE_SSL : 0;
}

int pipe_tls_verify_cb(struct lws *wsi, void *x509_ctx, size_t preverify_ok)
{
    X509_STORE_CTX *x = x509_ctx;
    if (preverify_ok || !x)
        return 0;
    int e = X509_STORE_CTX_get_error(x);
    if (e == X509_V_OK)
        return 0;
    /* the first failure is the reason; later calls for the same chain add
     * nothing an operator needs */
    if (last_failure.wsi == wsi)
        return 0;
    last_failure.wsi = wsi;
    snprintf(last_failure.msg, sizeof last_failure.msg, "%s (depth %d)",
             X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(x));
    return 0;
}

const char *pipe_tls_failure(const struct lws *wsi)
{
    if (!wsi || last_failure.wsi != wsi)
        return NULL;
    last_failure.wsi = NULL;
    return last_failure.msg;
}

int pipe_tls_ca_count(const char *path)
{
    /* lws only logs a bundle it cannot load and then verifies against
     * nothing: every handshake would fail with "unable to get local issuer
     * certificate". Counting the certificates first turns that into an
     * error at start. */
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0;
    X509 *x;
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    ERR_clear_error(); /* the end of the file reads as an error */
    fclose(f);
    return n;
}

const char *pipe_tls_host(char *buf, size_t cap, const char *name, int port, int tls)
{
    /* RFC 9110 7.2: the port goes in Host unless it is the scheme's
     * default (stream.binance.com:9443). lws takes SNI and the name it
     * verifies from the same string and cuts them at the first ':', so
     * both stay the bare name. An IPv6 literal would be cut there too:
     * it keeps the bare form (feeds resolve IPv4 only anyway). */
    if (port == (tls ? 443 : 80) || strchr(name, ':') ||
        (size_t)snprintf(buf, cap, "%s:%d", name, port) >= cap)
        return name;
    return buf;
}

void pipe_tls_cert_alert(struct pipe_feed *f, const char *component, const char *host, int port,
                         const char *why)
{
    f->alerts++;
    tr_nlog(pipe_node_log(f->node), TR_NLOG_ERROR, component, "alert: TLS certificate rejected",
            TR_KV_STR("feed", f->cfg->name), TR_KV_STR("host", host), TR_KV_INT("port", port),
            TR_KV_STR("error", why), TR_KV_STR("ca_file", f->cfg->ca_file));
}
