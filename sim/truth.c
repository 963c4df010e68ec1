/* The ground-truth file: every event the simulator publishes, one JSON line
 * each in the project's event form (tr_event_to_json), normalised the way
 * the dialect's adapter would normalise it, plus marker lines for injected
 * faults and for events that an unrecoverable gap removed:
 *   {"marker":"fault","fault":"close","args":{"code":"1001"},"ts":NS}
 *   {"marker":"unrecoverable","event":{...event...}}
 * Lines are buffered and flushed once per tick. */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tickraft/json.h"

int sim_truth_open(struct sim_truth *t, const char *path, struct tr_error *err)
{
    memset(t, 0, sizeof *t);
    tr_buf_init(&t->line);
    t->f = fopen(path, "w");
    if (!t->f)
        return tr_errorf(err, tr_err_from_errno(errno), "open truth file %s: %s", path,
                         strerror(errno));
    setvbuf(t->f, NULL, _IOFBF, 1 << 20);
    return 0;
}

void sim_truth_close(struct sim_truth *t)
{
    if (t->f)
        fclose(t->f);
    t->f = NULL;
    tr_buf_free(&t->line);
}

void sim_truth_flush(struct sim_truth *t)
{
    if (t->f)
        fflush(t->f);
}

void sim_truth_write(struct sim_truth *t, const void *p, size_t n)
{
    if (!t->f)
        return;
    fflush(t->f); /* lines buffered before these go first */
    const char *c = p;
    while (n) {
        ssize_t k = write(fileno(t->f), c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return; /* like fwrite: a full disk loses the rest */
        c += k;
        n -= (size_t)k;
    }
}

/* Kalshi trade ids are UUIDs; ours are a pure function of (seed, market, n). */
void sim_kalshi_trade_id(const struct sim_exch *x, uint32_t inst, uint64_t n, char *out,
                         size_t cap)
{
    uint64_t a = sim_mix(x->seed ^ ((uint64_t)inst << 40) ^ n);
    uint64_t b = sim_mix(a);
    snprintf(out, cap, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xffff, (unsigned)(b >> 48),
             (unsigned long long)(b & 0xffffffffffffull));
}

/* Decimal text of v into out (cap >= 21); snprintf costs too much per event. */
static void u64_text(uint64_t v, char *out)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

void sim_ev_to_event(const struct sim_exch *x, const struct sim_ev *ev, struct tr_event *out,
                     struct tr_level *lv)
{
    const struct sim_dialect_info *d = &sim_dialects[x->dialect];
    int dl = x->dialect;
    tr_event_init(out);
    out->kind = ev->kind;
    copy_str(out->provider, sizeof out->provider, d->provider);
    copy_str(out->instrument, sizeof out->instrument, x->inst[ev->inst].name);
    /* the dialect's clock resolution (Kalshi deltas carry ISO microseconds,
     * its trades and tickers whole seconds) */
    int64_t unit = dl == SIM_D_KALSHI && ev->kind == TR_KIND_BOOK_DELTA ? 1000 : d->ts_unit;
    out->ts_exchange = ev->ts - ev->ts % unit;
    out->fields = TR_F_TS_EXCHANGE;
    switch (ev->kind) {
    case TR_KIND_TRADE:
        out->side = ev->side;
        out->price = sim_price_dec(dl, ev->price);
        out->size = sim_size_dec(dl, ev->size);
        out->fields |= TR_F_PRICE | TR_F_SIZE | TR_F_ID;
        if (dl == SIM_D_KALSHI) {
            sim_kalshi_trade_id(x, ev->inst, ev->trade_id, out->id, sizeof out->id);
        } else {
            u64_text(ev->trade_id, out->id);
            out->seq = ev->seq; /* trade id: contiguous per instrument */
            out->fields |= TR_F_SEQ;
        }
        break;
    case TR_KIND_BOOK_DELTA:
        /* Kalshi books have two bid sides: the adapter keeps "no" bids as
         * asks at the no price (1 - yes price) */
        lv[0].price = sim_price_dec(dl, dl == SIM_D_KALSHI && ev->side == 2 ? 100 - ev->price
                                                                           : ev->price);
        lv[0].size = sim_size_dec(dl, ev->size);
        out->levels = lv;
        if (ev->side == 1)
            out->n_bids = 1;
        else
            out->n_asks = 1;
        if (dl == SIM_D_NATIVE || dl == SIM_D_BINANCE) {
            out->seq = ev->seq;
            out->fields |= TR_F_SEQ;
        }
        if (dl == SIM_D_BINANCE) {
            out->first_seq = ev->seq;
            out->fields |= TR_F_FIRST_SEQ;
        }
        break;
    case TR_KIND_TICKER:
        if (ev->bid) {
            out->bid = sim_price_dec(dl, ev->bid);
            out->fields |= TR_F_BID;
        }
        if (ev->ask) {
            out->ask = sim_price_dec(dl, ev->ask);
            out->fields |= TR_F_ASK;
        }
        if (dl != SIM_D_BINANCE) { /* bookTicker carries no last trade */
            out->price = sim_price_dec(dl, ev->price);
            out->fields |= TR_F_PRICE;
        }
        if (dl == SIM_D_NATIVE || dl == SIM_D_COINBASE) {
            out->size = sim_size_dec(dl, ev->size);
            out->fields |= TR_F_SIZE;
        }
        if (dl == SIM_D_COINBASE) {
            out->seq = ev->xseq;
            out->side = ev->side; /* side and trade_id of the last match */
            u64_text(ev->trade_id, out->id);
            out->fields |= TR_F_SEQ | TR_F_ID;
        } else if (dl == SIM_D_BINANCE) {
            out->seq = ev->seq;
            out->fields |= TR_F_SEQ;
            out->fields &= ~(uint32_t)TR_F_TS_EXCHANGE; /* bookTicker has no time */
            out->ts_exchange = 0;
        }
        break;
    default:
        break;
    }
}

int sim_truth_event(struct sim_truth *t, const struct sim_exch *x, const struct sim_ev *ev)
{
    if (!t || !t->f)
        return 0;
    struct tr_event e;
    sim_ev_to_event(x, ev, &e, t->lv);
    t->line.len = 0;
    if (ev->flags & SIM_EV_LOST)
        sim_put(&t->line, "{\"marker\":\"unrecoverable\",\"event\":");
    if (tr_event_to_json(&e, &t->line) != 0)
        return TR_ENOMEM;
    if (ev->flags & SIM_EV_LOST)
        sim_put(&t->line, "}");
    sim_putn(&t->line, "\n", 1);
    fwrite(t->line.data, 1, t->line.len, t->f);
    t->lines++;
    return 0;
}

int sim_truth_raw_event(struct sim_truth *t, const struct tr_event *ev)
{
    if (!t || !t->f)
        return 0;
    t->line.len = 0;
    if (tr_event_to_json(ev, &t->line) != 0)
        return TR_ENOMEM;
    sim_putn(&t->line, "\n", 1);
    fwrite(t->line.data, 1, t->line.len, t->f);
    t->lines++;
    return 0;
}

int sim_truth_marker(struct sim_truth *t, const char *fault, const char *args_json, int64_t ts)
{
    if (!t || !t->f)
        return 0;
    t->line.len = 0;
    sim_put(&t->line, "{\"marker\":\"fault\",\"fault\":");
    tr_json_put_str(&t->line, fault, strlen(fault));
    sim_putf(&t->line, ",\"args\":%s,\"ts\":%lld}\n", args_json, (long long)ts);
    fwrite(t->line.data, 1, t->line.len, t->f);
    fflush(t->f);
    t->lines++;
    return 0;
}
