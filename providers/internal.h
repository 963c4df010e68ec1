/* Helpers shared by the adapters (not public): a parse context that names
 * the message and field in every reject, typed field getters over the
 * tokenizer, event/level allocation in a tr_frame, and small writers for
 * subscribe messages and REST paths. */
#ifndef TR_PROVIDERS_INTERNAL_H
#define TR_PROVIDERS_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "tickraft/provider.h"

/* One parse: the text, its tokens and what is being parsed ("coinbase
 * match"), so every error reads "<what>: field '<key>': <reason>". */
#define PJ_INDEX_MAX 24

/* pj_opt's index of the keys of the objects it looked in last (the
 * frame's root and one message object): adapters read ten or more fields
 * of one object, and each tr_json_get walks its keys from the first (~10 %
 * of a Kalshi frame's parse). */
struct pj_key {
    uint32_t start, len; /* the key's text */
    int v;               /* value token */
};
struct pj_index {
    const struct tr_json_tok *t; /* tokens it was built from (NULL: none) */
    int obj;
    int ok;         /* 0: fall back to tr_json_get (escaped keys, too many) */
    uint32_t n;
    struct pj_key k[PJ_INDEX_MAX];
};

struct pctx {
    const char *text;
    const struct tr_json_tok *t;
    const char *what;
    const char *provider;
    struct tr_frame *out;
    struct tr_error *err;
    int64_t recv_ns;
    struct pj_index ix[2]; /* zero-initialised with the rest: empty */
};

/* Tokenizes into f->toks, growing it on TR_ETOOBIG. Returns the token
 * count or a negative code (err says where). */
int pj_tokenize(struct tr_frame *f, const char *text, size_t len, const char *who,
                struct tr_error *err);

/* Reject helper: fills err and returns code. */
int pj_fail(struct pctx *c, const char *key, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Value index of `key` in object `obj`, or a reject (TR_EPARSE) naming it
 * as missing. */
int pj_req(struct pctx *c, int obj, const char *key, int *idx);
/* Index of an optional key or -1 (also -1 for a JSON null). */
int pj_opt(struct pctx *c, int obj, const char *key);

/* Typed getters of a required field; rejects name the field. */
int pj_u64(struct pctx *c, int obj, const char *key, uint64_t *v);
int pj_i64(struct pctx *c, int obj, const char *key, int64_t *v);
int pj_dec(struct pctx *c, int obj, const char *key, struct tr_decimal *v);
int pj_bool(struct pctx *c, int obj, const char *key, int *v);
/* Copies a string field into a fixed buffer (TR_ETOOBIG if too long). */
int pj_str(struct pctx *c, int obj, const char *key, char *out, size_t cap);
/* Same for token i (already located), with `key` only used in messages. */
int pj_str_at(struct pctx *c, int i, const char *key, char *out, size_t cap);
int pj_dec_at(struct pctx *c, int i, const char *key, struct tr_decimal *v);
int pj_u64_at(struct pctx *c, int i, const char *key, uint64_t *v);
/* ISO8601 string field to ns. */
int pj_iso(struct pctx *c, int obj, const char *key, int64_t *ns);
/* Integer epoch field in ms / s to ns. */
int pj_epoch(struct pctx *c, int obj, const char *key, int64_t unit_ns, int64_t *ns);
/* Token i is a string equal to s. */
int pj_is(struct pctx *c, int i, const char *s);
/* Type of token i, or 0 for i < 0. */
int pj_type(struct pctx *c, int i);

/* Appends a zeroed event for this provider (provider name set, ts_receive
 * set when known). NULL + err on ENOMEM. */
struct tr_event *pj_event(struct pctx *c, int kind);
/* The same without initialising it, for a decoder that fills every field
 * (the native dialect's tr_event_from_json_tok). */
struct tr_event *pj_event_slot(struct pctx *c);
/* Parses an array of [price, size, ...] levels at token `arr` into `dst`
 * (room for its count). `key` names the field in rejects. */
int pj_levels(struct pctx *c, int arr, const char *key, struct tr_level *dst);
/* Allocates the levels of a book event with nb bids and na asks. */
struct tr_level *pj_alloc_levels(struct pctx *c, struct tr_event *ev, size_t nb,
                                 size_t na);
/* Adds a heartbeat mark; NULL on ENOMEM. */
struct tr_ctl_mark *pj_mark(struct pctx *c);
/* Finishes a parse: on error drops every event (never a half-filled one). */
int pj_done(struct pctx *c, int rc);

/* Checks that a JSON string we are about to write needs no escaping. */
int pj_plain(const char *s);
/* Appends printf output to a buffer. */
int pj_bprintf(struct tr_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string (escaped). */
int pj_bstr(struct tr_buf *b, const char *s);
/* Appends s percent-encoded for a URL query. */
int pj_urlenc(char *buf, size_t cap, size_t *pos, const char *s);
/* snprintf into buf at *pos; TR_ETOOBIG when it does not fit. */
int pj_sprintf(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds one name to a REST result's list. */
int pj_add_name(struct tr_rest_result *r, const char *s, size_t len);

/* Reverses events [from, n) of the frame (REST pages newest first). */
void pj_reverse(struct tr_frame *f, size_t from);

#endif
