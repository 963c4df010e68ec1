/* The normalised event: one type for trades, book deltas, book snapshots,
 * tickers, exchange status and gap notices from every provider.
 *
 * An event is a plain struct the caller owns. Strings are inline (bounded,
 * NUL-terminated) so that events can be copied and batched without heap
 * allocation; book levels and the raw provider frame are borrowed pointers
 * whose owner is named by whoever filled the event (adapter scratch, decoder
 * scratch, a batch). Absent fields are marked by `fields` flags.
 *
 * Encodings: tr_event_encode/decode (msgpack, versioned, docs/formats.md)
 * and tr_event_to_json/from_json (the JSON-lines form every tool prints). */
#ifndef TICKRAFT_EVENT_H
#define TICKRAFT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "tickraft/decimal.h"
#include "tickraft/error.h"

enum tr_kind {
    TR_KIND_NONE = 0,
    TR_KIND_TRADE = 1,
    TR_KIND_BOOK_DELTA = 2,
    TR_KIND_BOOK_SNAPSHOT = 3,
    TR_KIND_TICKER = 4,
    TR_KIND_STATUS = 5,
    TR_KIND_GAP = 6,
};
#define TR_KIND_MAX TR_KIND_GAP

enum tr_side {
    TR_SIDE_NONE = 0,
    TR_SIDE_BUY = 1,
    TR_SIDE_SELL = 2,
};

/* Presence flags for the optional fields of struct tr_event. */
enum tr_event_field {
    TR_F_SEQ = 1u << 0,         /* seq: provider's native sequence */
    TR_F_ID = 1u << 1,          /* id: provider's trade/update id (text) */
    TR_F_TS_EXCHANGE = 1u << 2, /* ts_exchange */
    TR_F_TS_RECEIVE = 1u << 3,  /* ts_receive */
    TR_F_PRICE = 1u << 4,       /* price (trade price, ticker last) */
    TR_F_SIZE = 1u << 5,        /* size (trade size, ticker last size) */
    TR_F_BID = 1u << 6,         /* bid: ticker best bid */
    TR_F_ASK = 1u << 7,         /* ask: ticker best ask */
    TR_F_FIRST_SEQ = 1u << 8,   /* first_seq: first sequence a delta covers */
    TR_F_GAP = 1u << 9,         /* from_seq / to_seq of a gap */
    TR_F_TEXT = 1u << 10,       /* text: gap reason or status */
    TR_F_ORIGIN = 1u << 11,     /* origin node id */
    TR_F_RAW = 1u << 12,        /* raw provider frame */
};
#define TR_F_ALL 0x1fffu

#define TR_PROVIDER_MAX 24   /* bytes incl. NUL */
#define TR_INSTRUMENT_MAX 64
#define TR_ID_MAX 64
#define TR_TEXT_MAX 96
#define TR_LEVELS_MAX 100000 /* per side; decoders reject more */

struct tr_level {
    struct tr_decimal price;
    struct tr_decimal size; /* size 0 removes the level in a delta */
};

struct tr_event {
    uint8_t kind;  /* enum tr_kind */
    uint8_t side;  /* enum tr_side: trade aggressor side */
    uint16_t origin; /* node that gathered it (TR_F_ORIGIN) */
    uint32_t fields; /* TR_F_* */
    char provider[TR_PROVIDER_MAX];     /* "coinbase", "binance", "kalshi", "sim" */
    char instrument[TR_INSTRUMENT_MAX]; /* provider's own symbol */
    uint64_t seq;       /* native sequence (book: last update id) */
    uint64_t first_seq; /* book delta: first update id it covers (Binance U) */
    uint64_t from_seq;  /* gap: first missing sequence */
    uint64_t to_seq;    /* gap: last missing sequence */
    int64_t ts_exchange; /* ns since the Unix epoch, exchange's clock */
    int64_t ts_receive;  /* ns since the Unix epoch, our clock */
    struct tr_decimal price, size, bid, ask;
    char id[TR_ID_MAX];     /* trade id as the provider prints it */
    char text[TR_TEXT_MAX]; /* gap reason / status text */
    /* Book levels: bids first (n_bids), then asks (n_asks). Borrowed. */
    const struct tr_level *levels;
    uint32_t n_bids, n_asks;
    /* Raw provider frame (TR_F_RAW), borrowed. */
    const uint8_t *raw;
    uint32_t raw_len;
};

/* Static names: "trade", "book_delta", "book_snapshot", "ticker", "status",
 * "gap"; NULL for an unknown kind. */
const char *tr_kind_name(int kind);
/* Returns the kind for a name, or TR_KIND_NONE. */
int tr_kind_from_name(const char *name, size_t len);
const char *tr_side_name(int side); /* "buy", "sell", NULL */

/* Zeroes `ev`. */
void tr_event_init(struct tr_event *ev);
/* Same meaning as tr_event_init, cheaper: zeroes everything but the bytes
 * of `id` and `text` after their first (which only need a terminator; at a
 * million events a second the full memset of the event was ~2 % of the
 * node's per-event CPU). For decoders that fill the event right after. */
void tr_event_clear(struct tr_event *ev);
/* Copies `s` (len bytes) into a fixed field; TR_ETOOBIG if it does not fit. */
int tr_event_set_str(char *field, size_t cap, const char *s, size_t len);
/* Checks that an event is self-consistent (kind known, strings terminated,
 * decimals valid, levels present when counted). 0 or TR_EINVAL with a
 * message naming the field. */
int tr_event_validate(const struct tr_event *ev, struct tr_error *err);
/* Field-by-field equality of content (decimals compared textually, levels
 * and raw compared by content). */
int tr_event_equal(const struct tr_event *a, const struct tr_event *b);

/* ---- growable byte buffer used by the encoders ---- */
struct tr_buf {
    uint8_t *data;
    size_t len, cap;
};
void tr_buf_init(struct tr_buf *b);
/* Ensures room for `extra` more bytes. TR_ENOMEM on failure. */
int tr_buf_reserve(struct tr_buf *b, size_t extra);
int tr_buf_append(struct tr_buf *b, const void *p, size_t n);
void tr_buf_free(struct tr_buf *b);

/* ---- msgpack wire form (docs/formats.md) ---- */
#define TR_EVENT_WIRE_VERSION 1

/* Appends the msgpack encoding of `ev` to `out`. 0 or TR_ENOMEM. */
int tr_event_encode(const struct tr_event *ev, struct tr_buf *out);

/* Scratch memory that decoders and adapters fill events' book levels from
 * (raw frames point into the input buffer instead). Caller-owned; reuse it
 * for every event of a batch. Memory handed out stays put until the next
 * tr_event_scratch_reset or _free, so every event decoded since the last
 * reset stays valid (a chunk list: earlier levels never move). */
struct tr_scratch_chunk;
struct tr_event_scratch {
    struct tr_scratch_chunk *chunks; /* newest first */
};
void tr_event_scratch_init(struct tr_event_scratch *s);
/* Returns room for `n` levels, stable until reset/free; NULL on ENOMEM. */
struct tr_level *tr_event_scratch_levels(struct tr_event_scratch *s, size_t n);
void tr_event_scratch_reset(struct tr_event_scratch *s);
void tr_event_scratch_free(struct tr_event_scratch *s);

/* Decodes one event from `len` bytes at `p`; on success sets *used to the
 * bytes consumed. Levels go to `s` (appended; reset it per batch).
 * Errors: TR_EPARSE (not msgpack / wrong shape), TR_EVERSION, TR_ERANGE,
 * TR_ETOOBIG, TR_ENOMEM, each with a message naming the field. Never reads
 * past `len`. */
int tr_event_decode(const uint8_t *p, size_t len, size_t *used,
                    struct tr_event *ev, struct tr_event_scratch *s,
                    struct tr_error *err);

/* ---- batches: the hot-path unit between actors and nodes ----
 * A batch is a msgpack array header followed by N encoded events. */
int tr_event_batch_begin(struct tr_buf *out, uint32_t n_events);
/* Reads the batch header; *n_events gets the count and *used its size. */
int tr_event_batch_header(const uint8_t *p, size_t len, uint32_t *n_events,
                          size_t *used, struct tr_error *err);

/* ---- JSON lines (docs/formats.md) ---- */
/* Appends the event as one JSON object (no newline) to `out`. Raw frames are
 * not printed. 0 or TR_ENOMEM. */
int tr_event_to_json(const struct tr_event *ev, struct tr_buf *out);
/* Parses one JSON object. Levels go to `s`. Unknown keys are ignored;
 * wrong types and bad numbers give TR_EPARSE/TR_ERANGE naming the key. */
int tr_event_from_json(const char *line, size_t len, struct tr_event *ev,
                       struct tr_event_scratch *s, struct tr_error *err);
/* The same for object token `obj` of an already tokenized text (a batch
 * whose events are objects inside one document): no second tokenizing.
 * `text` and `toks` stay the caller's; levels go to `s`. */
struct tr_json_tok;
int tr_event_from_json_tok(const char *text, const struct tr_json_tok *toks, int obj,
                           struct tr_event *ev, struct tr_event_scratch *s,
                           struct tr_error *err);

#endif
