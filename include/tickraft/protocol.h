/* The client wire protocol shared by the node's publisher (node/pub_*.c) and
 * the SDK (clients/): message types, limits, the envelope codec, cursors,
 * filters and the small table type admin calls return. docs/protocol.md has
 * every message field by field.
 *
 * Every message is one nng message holding one msgpack array:
 *   request: [major, minor, type, token (str|nil), body (array)]
 *   reply:   [major, status (int, 0 or a TR_E* code), message (str), body (array|nil)]
 * A node answers a request whose major differs from TR_PROTO_MAJOR with
 * status TR_EVERSION and a message naming both versions.
 *
 * Not installed for SDK users: it exposes msgpack-c types. */
#ifndef TICKRAFT_PROTOCOL_H
#define TICKRAFT_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "tickraft/error.h"
#include "tickraft/client.h"
#include "tickraft/event.h"

#define TR_PROTO_MAJOR 1
#define TR_PROTO_MINOR 2 /* 1.1: pipelined FETCH; 1.2: SUBSCRIBE options, live (docs/protocol.md) */

/* FETCH numbers a client may have outstanding at once on one subscription
 * (1.1 nodes; a 1.0 node takes one at a time). */
#define TR_PROTO_PIPELINE_MAX 4

/* Default listen address of a node's publisher (loopback only). */
#define TR_PROTO_DEFAULT_URL "tcp://127.0.0.1:7411"

/* Requests larger than this get a TR_ETOOBIG error reply (the node's own
 * limit); requests past TR_PROTO_HARD_MAX make nng drop the connection
 * before the node sees them. */
#define TR_PROTO_MAX_REQUEST (64u << 10)
#define TR_PROTO_HARD_MAX (4u << 20)

enum tr_proto_type {
    TR_PROTO_HELLO = 1,     /* body [client_name] -> [node, major, minor, max_request, data_auth] */
    TR_PROTO_SUBSCRIBE = 2, /* body [provider, kind, instrument, start, start_ts, cursor
                             *       (, options: uint, 1.2)] -> [sub_id, base_ts] */
    TR_PROTO_FETCH = 3,     /* body [sub_id, fetch_no, max_events, wait_ms] -> [flags, records] */
    TR_PROTO_UNSUBSCRIBE = 4, /* body [sub_id] -> [] */
    TR_PROTO_QUERY = 5,     /* body [stream, by, from, to, limit, after_seq|nil] -> [records, more, next_after] */
    TR_PROTO_ADMIN = 6,     /* body [cmd, [args...]] -> [cols, rows] */
};

/* SUBSCRIBE start modes. */
enum tr_proto_start {
    TR_PROTO_START_LATEST = 0,
    TR_PROTO_START_EARLIEST = 1,
    TR_PROTO_START_TIME = 2,
    TR_PROTO_START_CURSOR = 3,
};

/* SUBSCRIBE options (the body's 7th element, protocol 1.2; a 1.1 node
 * refuses a 7-element body with TR_EPARSE, so the SDK sends it only when
 * an option is set and the node's HELLO said minor >= 2). */
#define TR_PROTO_SUB_LIVE 1u  /* deliver records once written to the node's log (page
                               * cache), before they are durable there */
#define TR_PROTO_SUB_KNOWN TR_PROTO_SUB_LIVE /* a node refuses other bits: TR_EUNSUPPORTED */
#define TR_PROTO_MINOR_LIVE 2 /* first minor version that knows TR_PROTO_SUB_LIVE */

/* QUERY range kinds. */
enum tr_proto_by { TR_PROTO_BY_SEQ = 0, TR_PROTO_BY_TIME = 1 };

/* FETCH reply flags. */
#define TR_PROTO_FELL_BEHIND 1u /* retention dropped records this subscriber had not read;
                                 * delivery resumes at the oldest record kept */

/* ---- envelope ---- */
struct tr_proto_req {
    uint32_t major, minor, type;
    const char *token; /* NULL when nil; not NUL-terminated */
    size_t token_len;
    const msgpack_object_array *body;
};
struct tr_proto_reply {
    uint32_t major;
    int status;
    const char *msg; /* not NUL-terminated */
    size_t msg_len;
    const msgpack_object_array *body; /* NULL when nil */
};

/* Writes the request envelope up to and including the body array header of
 * `body_n` elements; the caller packs the body. `token` may be NULL. */
void tr_proto_pack_req(msgpack_packer *pk, int type, const char *token, uint32_t body_n);
/* Same for a reply; `msg` may be NULL (""), body_n < 0 packs nil. */
void tr_proto_pack_reply(msgpack_packer *pk, int status, const char *msg, int body_n);

/* Parse one envelope from `len` bytes at `p` into `u` (caller-owned,
 * msgpack_unpacked_init'ed; pointers in the result point into `u` or `p`).
 * 0 or TR_EPARSE with a message. Never reads past `len`. */
int tr_proto_parse_req(const void *p, size_t len, msgpack_unpacked *u,
                       struct tr_proto_req *req, struct tr_error *err);
int tr_proto_parse_reply(const void *p, size_t len, msgpack_unpacked *u,
                         struct tr_proto_reply *rep, struct tr_error *err);

/* Checks, without allocating, that `len` bytes at `p` start with one
 * complete msgpack value whose container counts fit in the bytes left
 * (msgpack-c allocates from the declared count before reading). 0 with the
 * value's size in *used (may be NULL), or TR_EPARSE. Run it before
 * msgpack_unpack_next on untrusted input (the envelope parsers do). */
int tr_proto_scan(const void *p, size_t len, size_t *used);

/* Typed getters for body elements; nil gives 0/NULL where noted.
 * Each returns 0 or TR_EPARSE. */
int tr_proto_u64(const msgpack_object *o, uint64_t *v);
int tr_proto_i64(const msgpack_object *o, int64_t *v);
int tr_proto_str(const msgpack_object *o, const char **p, size_t *n); /* nil -> NULL,0 */
int tr_proto_bin(const msgpack_object *o, const uint8_t **p, size_t *n); /* nil -> NULL,0 */

/* msgpack-c packer writing into a tr_buf (data = struct tr_buf *). */
int tr_proto_buf_write(void *data, const char *p, size_t n);

/* ---- filters: globs over the parts of a stream key "provider/kind/instrument" ---- */
#define TR_PROTO_GLOB_MAX 128
struct tr_proto_filter {
    char provider[TR_PROTO_GLOB_MAX];   /* "" = any */
    char kind[TR_PROTO_GLOB_MAX];       /* "" = any */
    char instrument[TR_PROTO_GLOB_MAX]; /* "" = any; fnmatch(3) glob */
};
/* 1 when the stream key matches every non-empty glob. The instrument is
 * everything after the second '/', so it may itself contain '/'. */
int tr_proto_filter_match(const struct tr_proto_filter *f, const char *key, size_t len);

/* ---- cursors: per-stream position of the last delivered event + a base time ----
 * Stable across nodes: the canonical stream (key, seq) is identical on
 * every node of a cluster, unlike LSNs. A stream's seq never decreases but
 * may repeat (a book gap notice and the snapshot that ends it carry the
 * same seq), so a position is (seq, k): the k-th record with that seq.
 * Streams not in the map are read from records with ts_ns >= base_ts.
 * Wire form:
 *   [1 (version), base_ts (int), [key (str), seq (uint), k (uint), ...]] */
struct tr_cursor_entry;
struct tr_cursor {
    int64_t base_ts;
    struct tr_cursor_entry **slots; /* open addressing, power of two */
    size_t n_slots, n;
};
void tr_cursor_init(struct tr_cursor *c);
void tr_cursor_free(struct tr_cursor *c);
/* Position of stream `key`: 1 with *seq and *k (k may be NULL), 0 when unknown. */
int tr_cursor_pos(const struct tr_cursor *c, const char *key, size_t len, uint64_t *seq,
                  uint32_t *k);
int tr_cursor_get(const struct tr_cursor *c, const char *key, size_t len, uint64_t *seq);
/* Sets a position. 0 or TR_ENOMEM. */
int tr_cursor_put(struct tr_cursor *c, const char *key, size_t len, uint64_t seq, uint32_t k);
int tr_cursor_set(struct tr_cursor *c, const char *key, size_t len, uint64_t seq); /* k = 1 */
/* Records that the next event of `key`, with `seq`, was delivered: k+1 when
 * seq repeats, else (seq, 1). 0 or TR_ENOMEM. */
int tr_cursor_advance(struct tr_cursor *c, const char *key, size_t len, uint64_t seq);
/* Iterates: *it starts at 0; returns 1 with key/len/seq/k (k may be NULL) until done (0). */
int tr_cursor_next(const struct tr_cursor *c, size_t *it, const char **key, size_t *len,
                   uint64_t *seq, uint32_t *k);
int tr_cursor_encode(const struct tr_cursor *c, struct tr_buf *out);
/* Replaces `c`'s content (c must be initialised). 0, TR_EPARSE, TR_EVERSION, TR_ENOMEM. */
int tr_cursor_decode(struct tr_cursor *c, const uint8_t *p, size_t len, struct tr_error *err);

/* ---- tables returned by admin calls ---- */
/* struct tr_client_table is defined in client.h (the SDK returns it). */
void tr_client_table_init(struct tr_client_table *t);
/* Sets the column names (copied). Only before the first row. */
int tr_client_table_cols(struct tr_client_table *t, size_t n, const char *const *names);
/* Appends a row of n_cols cells (copied; NULL = ""). 0 or TR_ENOMEM. */
int tr_client_table_row(struct tr_client_table *t, const char *const *cells);
/* Convenience for two-column key/value tables. */
int tr_client_table_kv(struct tr_client_table *t, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tr_client_table_pack(const struct tr_client_table *t, msgpack_packer *pk); /* [cols, rows] */
int tr_client_table_unpack(struct tr_client_table *t, const msgpack_object *cols,
                          const msgpack_object *rows, struct tr_error *err);

/* Constant-time comparison of a presented token with the configured one
 * (time depends only on the configured length). 1 when equal. */
int tr_proto_token_equal(const char *want, const char *got, size_t got_len);

#endif
