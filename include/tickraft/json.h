/* A small zero-copy JSON tokenizer for provider frames and event lines.
 *
 * tr_json_parse splits a document into a flat array of tokens in document
 * order (like jsmn): containers first, then their children. Tokens point into
 * the caller's text; nothing is copied or allocated. Each token records where
 * its subtree ends (`end`: index of the first token after it), so skipping a
 * value is O(1) and object lookup is a linear walk over keys.
 *
 * Limits: nesting depth TR_JSON_MAX_DEPTH; strings are validated for
 * escapes but not for UTF-8; numbers are checked for JSON syntax. */
#ifndef TICKRAFT_JSON_H
#define TICKRAFT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "tickraft/decimal.h"
#include "tickraft/error.h"

#define TR_JSON_MAX_DEPTH 64

enum tr_json_type {
    TR_JSON_OBJECT = 1,
    TR_JSON_ARRAY = 2,
    TR_JSON_STRING = 3, /* start/len exclude the quotes */
    TR_JSON_NUMBER = 4,
    TR_JSON_TRUE = 5,
    TR_JSON_FALSE = 6,
    TR_JSON_NULL = 7,
};

struct tr_json_tok {
    uint8_t type;    /* enum tr_json_type */
    uint8_t escaped; /* string contains backslash escapes */
    uint32_t start;  /* byte offset in the text */
    uint32_t len;    /* byte length */
    uint32_t count;  /* object: number of keys; array: number of elements */
    uint32_t end;    /* index of the first token after this subtree */
};

/* Tokenizes `len` bytes of `text` into `toks` (capacity `max`). Returns the
 * number of tokens (>0), TR_EPARSE with the byte offset in `err`, or
 * TR_ETOOBIG if `max` tokens are not enough. Trailing whitespace allowed,
 * anything else after the value is an error. */
int tr_json_parse(const char *text, size_t len, struct tr_json_tok *toks,
                  size_t max, struct tr_error *err);

/* In object token `obj`, returns the index of the value for `key`, or -1.
 * Keys with escapes are compared after unescaping. */
int tr_json_get(const char *text, const struct tr_json_tok *toks, int obj,
                const char *key);

/* Index of the i-th element of array token `arr`, or -1. */
int tr_json_at(const struct tr_json_tok *toks, int arr, uint32_t i);

/* True if string token `i` equals `s` (after unescaping). */
int tr_json_eq(const char *text, const struct tr_json_tok *toks, int i,
               const char *s);

/* Copies string token `i` unescaped into `out` (capacity cap, NUL-terminated).
 * TR_EPARSE if not a string, TR_ETOOBIG if it does not fit. */
int tr_json_str(const char *text, const struct tr_json_tok *toks, int i,
                char *out, size_t cap);

/* Number token, or a string holding a number (providers quote numbers):
 * integer conversions reject fractions, signs where unsigned, and overflow
 * (TR_ERANGE); decimal keeps the text's exact digits. */
int tr_json_u64(const char *text, const struct tr_json_tok *toks, int i, uint64_t *out);
int tr_json_i64(const char *text, const struct tr_json_tok *toks, int i, int64_t *out);
int tr_json_decimal(const char *text, const struct tr_json_tok *toks, int i,
                    struct tr_decimal *out);

/* Appends `s` (len bytes) to `out` as a quoted JSON string with escapes.
 * Declared here, implemented with the event encoders (needs struct tr_buf). */
struct tr_buf;
int tr_json_put_str(struct tr_buf *out, const char *s, size_t len);

#endif
