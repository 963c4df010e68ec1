/* Random event generator for the codec property tests; see event_gen.h. */
#include "event_gen.h"

#include <stdio.h>
#include <string.h>

uint64_t gen_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static struct tr_decimal gen_dec(uint64_t *rng)
{
    struct tr_decimal d;
    uint64_t r = gen_next(rng);
    switch (r % 4) {
    case 0: d.mant = (int64_t)(gen_next(rng) % 100000000); break;
    case 1: d.mant = (int64_t)gen_next(rng); break; /* full range, any sign */
    case 2: d.mant = -(int64_t)(gen_next(rng) % 1000); break;
    default: d.mant = 0; break;
    }
    d.scale = (uint8_t)(gen_next(rng) % (TR_DECIMAL_MAX_SCALE + 1));
    return d;
}

static void gen_text(uint64_t *rng, char *dst, size_t cap)
{
    /* Includes bytes that need JSON escaping. */
    static const char alphabet[] = "ABCXYZabc019-_./\"\\\t\n \x01\xc3\xa9";
    size_t n = gen_next(rng) % cap;
    for (size_t i = 0; i < n; i++)
        dst[i] = alphabet[gen_next(rng) % (sizeof alphabet - 1)];
    dst[n] = '\0';
}

void gen_event(uint64_t *rng, struct tr_event *ev, struct tr_level *lv, uint32_t cap,
               uint8_t *raw, uint32_t raw_cap)
{
    tr_event_init(ev);
    ev->kind = (uint8_t)(1 + gen_next(rng) % TR_KIND_MAX);
    static const char *providers[] = {"coinbase", "binance", "kalshi", "sim"};
    strcpy(ev->provider, providers[gen_next(rng) % 4]);
    gen_text(rng, ev->instrument, sizeof ev->instrument);
    ev->fields = (uint32_t)(gen_next(rng) & TR_F_ALL) & ~(uint32_t)TR_F_RAW;
    ev->seq = gen_next(rng);
    ev->first_seq = gen_next(rng);
    ev->from_seq = gen_next(rng);
    ev->to_seq = gen_next(rng);
    ev->ts_exchange = (int64_t)gen_next(rng);
    ev->ts_receive = (int64_t)gen_next(rng);
    ev->origin = (uint16_t)gen_next(rng);
    ev->side = (uint8_t)(gen_next(rng) % 3);
    ev->price = gen_dec(rng);
    ev->size = gen_dec(rng);
    ev->bid = gen_dec(rng);
    ev->ask = gen_dec(rng);
    gen_text(rng, ev->id, sizeof ev->id);
    gen_text(rng, ev->text, sizeof ev->text);
    if (ev->kind == TR_KIND_BOOK_DELTA || ev->kind == TR_KIND_BOOK_SNAPSHOT) {
        uint32_t n = (uint32_t)(gen_next(rng) % (cap + 1));
        ev->n_bids = n ? (uint32_t)(gen_next(rng) % (n + 1)) : 0;
        ev->n_asks = n - ev->n_bids;
        for (uint32_t i = 0; i < n; i++) {
            lv[i].price = gen_dec(rng);
            lv[i].size = gen_dec(rng);
        }
        ev->levels = lv;
    }
    if (raw_cap && gen_next(rng) % 2) {
        ev->fields |= TR_F_RAW;
        ev->raw_len = (uint32_t)(gen_next(rng) % raw_cap);
        for (uint32_t i = 0; i < ev->raw_len; i++)
            raw[i] = (uint8_t)gen_next(rng);
        ev->raw = raw;
    }
}
