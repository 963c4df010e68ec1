/* The node's own RFC 6455 WebSocket client codec (node/ws_*.c): SHA-1 and
 * base64 for the opening handshake, the HTTP/1.1 upgrade request and the
 * check of its 101 answer, a frame decoder that works on whole receive
 * buffers, and the client frame encoder. No I/O: pipe_conn.c carries the
 * bytes over an lws raw client connection (TCP, the libuv loop, timers and
 * later TLS stay lws's). Why not lws's own WebSocket client: it parses the
 * payload one byte per call, about half of the node's CPU at 700k
 * events/s (docs/node.md "Connections").
 *
 * Threads: none of its own; a decoder belongs to one connection and is
 * used from that connection's loop only. Internal to node/. */
#ifndef TR_NODE_WS_H
#define TR_NODE_WS_H

#include <stddef.h>
#include <stdint.h>

#include "tickraft/error.h"
#include "tickraft/event.h"

/* ---------------------------------------------------- SHA-1, base64 */

/* SHA-1 of n bytes at p into out (RFC 3174). */
void ws_sha1(const void *p, size_t n, uint8_t out[20]);
/* Standard base64 (RFC 4648, padded) of n bytes into out, which must hold
 * 4 * ((n + 2) / 3) + 1 bytes; NUL-terminated. Returns the length. */
size_t ws_base64(const uint8_t *in, size_t n, char *out);

/* ------------------------------------------------ opening handshake */

#define WS_KEY_LEN 24        /* base64 of the 16 random key bytes */
#define WS_HS_MAX 8192       /* the longest 101 answer header we accept */

/* Appends the upgrade request for ws://host[:port]path to out. `key` is
 * the 16 random bytes of Sec-WebSocket-Key; key_b64 gets their base64
 * (kept to check the answer). Host is host:port, or host alone when
 * port is 0 (the scheme's default). Returns 0 or
 * TR_ENOMEM / TR_EINVAL (a host or path with CR, LF or a space). */
int ws_upgrade_request(struct tr_buf *out, const char *host, int port, const char *path,
                       const uint8_t key[16], char key_b64[WS_KEY_LEN + 1]);
/* The Sec-WebSocket-Accept value the server must answer key_b64 with. */
void ws_accept_for(const char *key_b64, char out[29]);
/* Checks the server's answer in p[0..n). Returns the length of the header
 * block (the frames start after it), 0 while it is incomplete, or a
 * negative error with a message in err: TR_EPROTO for anything but a
 * valid "101" upgrade (*status gets the HTTP status, 0 when the status
 * line is malformed), TR_ETOOBIG past WS_HS_MAX bytes. Borrowed input. */
int ws_upgrade_check(const char *p, size_t n, const char *key_b64, int *status,
                     struct tr_error *err);

/* ---------------------------------------------------------- frames */

enum {
    WS_OP_CONT = 0x0, WS_OP_TEXT = 0x1, WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8, WS_OP_PING = 0x9, WS_OP_PONG = 0xA
};

/* Close codes this codec sends on its own (RFC 6455 7.4.1). */
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_TOO_BIG  1009
#define WS_CLOSE_NO_CODE  1005 /* a close frame without a code (never sent) */

/* What the decoder hands over: a whole message (text or binary), or a
 * control frame. `p` is borrowed for the duration of the callback only:
 * it points into the caller's buffer when the message was whole in it
 * (no copy), else into the decoder's reassembly buffer. */
struct ws_msg {
    int opcode;          /* WS_OP_TEXT/BINARY (the first frame's), CLOSE, PING, PONG */
    const uint8_t *p;
    size_t len;
    int close_code;      /* CLOSE: the code, WS_CLOSE_NO_CODE when none was sent */
    const char *reason;  /* CLOSE: the reason (not NUL-terminated), reason_len bytes */
    size_t reason_len;
};
/* Returns 0 to go on, anything else to stop decoding (the connection is
 * being closed): ws_dec_feed then returns that value. */
typedef int (*ws_msg_cb)(void *arg, const struct ws_msg *m);

struct ws_dec {
    size_t max_frame, max_msg; /* bounds on a frame's and a message's payload */
    struct tr_buf part;  /* a frame split across reads: its bytes so far */
    struct tr_buf msg;   /* a fragmented message: the payload so far */
    int msg_op;          /* its opcode (0: none in progress) */
    int close_hint;      /* after an error: the close code to send (1002, 1009) */
    uint64_t frames, msgs;
};

/* Initialises d with the bounds (0: 16 MiB each). Caller-owned memory;
 * ws_dec_close frees what it allocated. */
void ws_dec_init(struct ws_dec *d, size_t max_frame, size_t max_msg);
void ws_dec_close(struct ws_dec *d);
/* Forgets a partial frame and message (a new connection). */
void ws_dec_reset(struct ws_dec *d);
/* Decodes n bytes received from the server (any split). Calls cb for each
 * complete message and control frame in order. Returns 0 (everything
 * consumed; an incomplete frame is kept for the next call), the callback's
 * non-zero value, or a negative error with a message in err: TR_EPROTO for
 * a frame that breaks RFC 6455 (masked, RSV bits, unknown opcode,
 * fragmented or long control frame, continuation without a message, a new
 * message inside a fragmented one, a bad close payload), TR_ETOOBIG past
 * the bounds; d->close_hint then says the code to close with. After an
 * error the decoder must not be fed again until ws_dec_reset. Input
 * borrowed. */
int ws_dec_feed(struct ws_dec *d, const uint8_t *p, size_t n, ws_msg_cb cb, void *arg,
                struct tr_error *err);

/* Appends one client frame (FIN set, masked with `mask`, RFC 6455 5.3)
 * carrying n bytes of p to out. For CLOSE use ws_enc_close. Returns 0 or
 * TR_ENOMEM, TR_EINVAL for a control frame over 125 bytes. */
int ws_enc_frame(struct tr_buf *out, int opcode, const void *p, size_t n, uint32_t mask);
/* A close frame with `code` and an optional reason (cut to 123 bytes). */
int ws_enc_close(struct tr_buf *out, int code, const char *reason, uint32_t mask);

#endif
