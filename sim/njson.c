/* The native dialect's event encoder: the same bytes as
 * sim_ev_to_event + tr_event_to_json (core/event_json.c), written straight
 * from a generated event for the three shapes the generator makes (trade,
 * one-level book delta, ticker). The generic path builds a tr_event first
 * (a ~200-byte zeroing, string copies, strlen per key) and cost about half
 * of the simulator's time per event at a million events/s; this one writes
 * fixed text and digits. Anything else (other dialects, an instrument name
 * that would need escaping, an unknown side) goes the generic way, so the
 * output never differs: test_sim_gen compares both on a long seeded run. */
#include "sim.h"

#include <string.h>

#include "tickraft/json.h"

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* Decimal digits of v at o; returns the count. */
static size_t put_u64(char *o, uint64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(o, p, n);
    return n;
}

/* "mant/10^scale" as a quoted decimal, as tr_decimal_format prints it
 * (mant >= 0: the generator's prices and sizes are never negative). */
static size_t put_qdec(char *o, int64_t mant, int scale)
{
    char d[24];
    size_t n = put_u64(d, (uint64_t)mant);
    char *s = o;
    *o++ = '"';
    if ((int)n <= scale) { /* 0.00xx: at least one digit before the point */
        *o++ = '0';
        *o++ = '.';
        for (int z = scale - (int)n; z > 0; z--)
            *o++ = '0';
        memcpy(o, d, n);
        o += n;
    } else {
        size_t ip = n - (size_t)scale;
        memcpy(o, d, ip);
        o += ip;
        if (scale) {
            *o++ = '.';
            memcpy(o, d + ip, (size_t)scale);
            o += scale;
        }
    }
    *o++ = '"';
    return (size_t)(o - s);
}

#define LIT(o, s) (memcpy(o, s, sizeof(s) - 1), (size_t)(sizeof(s) - 1))

static int plain(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
            return 0;
    return 1;
}

/* Writes the JSON text of `ev` at o (room for SIM_NJ_MAX bytes); returns its
 * length, or 0 when the event needs the generic encoder. */
static size_t fast(const struct sim_exch *x, const struct sim_ev *ev, char *o)
{
    const struct sim_dialect_info *d = &sim_dialects[SIM_D_NATIVE];
    const char *name = x->inst[ev->inst].name;
    size_t nl = strlen(name);
    if (x->dialect != SIM_D_NATIVE || nl > 64 || !plain(name) || d->ts_unit != 1)
        return 0;
    char *s = o;
    o += LIT(o, "{\"provider\":\"sim\",\"kind\":\"");
    switch (ev->kind) {
    case TR_KIND_TRADE:
        if (ev->side != TR_SIDE_BUY && ev->side != TR_SIDE_SELL)
            return 0;
        o += LIT(o, "trade\",\"instrument\":\"");
        memcpy(o, name, nl);
        o += nl;
        o += LIT(o, "\",\"seq\":");
        o += put_u64(o, ev->seq);
        o += LIT(o, ",\"id\":\"");
        o += put_u64(o, ev->trade_id);
        o += LIT(o, "\",\"ts_exchange\":");
        break;
    case TR_KIND_BOOK_DELTA:
        o += LIT(o, "book_delta\",\"instrument\":\"");
        memcpy(o, name, nl);
        o += nl;
        o += LIT(o, "\",\"seq\":");
        o += put_u64(o, ev->seq);
        o += LIT(o, ",\"ts_exchange\":");
        break;
    case TR_KIND_TICKER:
        o += LIT(o, "ticker\",\"instrument\":\"");
        memcpy(o, name, nl);
        o += nl;
        o += LIT(o, "\",\"ts_exchange\":");
        break;
    default:
        return 0;
    }
    if (ev->ts < 0)
        return 0;
    o += put_u64(o, (uint64_t)ev->ts);
    int64_t pm = d->tick_mant, sm = d->size_mant;
    switch (ev->kind) {
    case TR_KIND_TRADE:
        o += LIT(o, ",\"price\":");
        o += put_qdec(o, ev->price * pm, d->price_scale);
        o += LIT(o, ",\"size\":");
        o += put_qdec(o, ev->size * sm, d->size_scale);
        o += ev->side == TR_SIDE_BUY ? LIT(o, ",\"side\":\"buy\"}") : LIT(o, ",\"side\":\"sell\"}");
        break;
    case TR_KIND_BOOK_DELTA:
        o += ev->side == 1 ? LIT(o, ",\"bids\":[[") : LIT(o, ",\"bids\":[],\"asks\":[[");
        o += put_qdec(o, ev->price * pm, d->price_scale);
        *o++ = ',';
        o += put_qdec(o, ev->size * sm, d->size_scale);
        o += ev->side == 1 ? LIT(o, "]],\"asks\":[]}") : LIT(o, "]]}");
        break;
    default: /* ticker */
        o += LIT(o, ",\"price\":");
        o += put_qdec(o, ev->price * pm, d->price_scale);
        o += LIT(o, ",\"size\":");
        o += put_qdec(o, ev->size * sm, d->size_scale);
        if (ev->bid) {
            o += LIT(o, ",\"bid\":");
            o += put_qdec(o, ev->bid * pm, d->price_scale);
        }
        if (ev->ask) {
            o += LIT(o, ",\"ask\":");
            o += put_qdec(o, ev->ask * pm, d->price_scale);
        }
        *o++ = '}';
        break;
    }
    return (size_t)(o - s);
}

int sim_nj_event(const struct sim_exch *x, const struct sim_ev *ev, struct tr_buf *out)
{
    if (tr_buf_reserve(out, SIM_NJ_MAX))
        return TR_ENOMEM;
    if (ev->price >= 0 && ev->size >= 0 && ev->bid >= 0 && ev->ask >= 0) {
        size_t n = fast(x, ev, (char *)out->data + out->len);
        if (n) {
            out->len += n;
            return 0;
        }
    }
    struct tr_event e;
    struct tr_level lv[2];
    sim_ev_to_event(x, ev, &e, lv);
    return tr_event_to_json(&e, out);
}
