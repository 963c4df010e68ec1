/* The deterministic event generator of one simulated exchange.
 *
 * Event g of an exchange is decided by sim_mix(seed, dialect, g) alone: which
 * instrument, which kind, which side, level and size. Ids and books are
 * state advanced in order, so the stream is a pure function of the seed as
 * long as events are generated in index order (they always are). Timestamps
 * are base_ts + (g - base_count) / rate, so with a fixed --epoch the truth
 * file is byte-identical run to run. Published trades are also kept in a
 * per-instrument ring for REST backfill (--history seconds, capped). */
#include "sim.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HIST_MAX_DEFAULT (1u << 20) /* trades per instrument */

uint64_t sim_mix(uint64_t x)
{
    /* splitmix64 finaliser */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int sim_exch_init(struct sim_exch *x, int dialect, uint64_t seed, uint32_t n_inst,
                  double rate, int64_t history_s, int64_t epoch_ns, int64_t now_ns)
{
    memset(x, 0, sizeof *x);
    x->dialect = dialect;
    x->seed = sim_mix(seed ^ ((uint64_t)dialect << 56));
    x->n_inst = n_inst ? n_inst : 1;
    x->rate = rate > 0 ? rate : 1;
    x->history_ns = history_s * 1000000000ll;
    x->base_time = now_ns;
    x->base_ts = epoch_ns;
    x->f.gap_inst = -1;
    /* enough ring for the history window at this exchange's trade share */
    double want = rate * 0.3 / x->n_inst * (double)(history_s > 0 ? history_s : 1) + 64;
    x->hist_max = want > HIST_MAX_DEFAULT ? HIST_MAX_DEFAULT : (size_t)want;
    x->inst = calloc(x->n_inst, sizeof *x->inst);
    if (!x->inst)
        return TR_ENOMEM;
    const struct sim_dialect_info *d = &sim_dialects[dialect];
    for (uint32_t i = 0; i < x->n_inst; i++) {
        struct sim_inst *in = &x->inst[i];
        sim_inst_name(dialect, i, in->name, sizeof in->name);
        in->mid = dialect == SIM_D_KALSHI ? 50 : d->mid_base + (int64_t)i * 100;
        uint64_t h = sim_mix(x->seed ^ (0xb00cull << 32) ^ i);
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < SIM_LEVELS; k++) {
                h = sim_mix(h);
                in->book[s][k] = 1 + (int64_t)(h % 5000);
            }
        in->last_price = in->mid;
        in->last_size = 1;
        in->last_side = TR_SIDE_BUY;
    }
    return 0;
}

void sim_exch_free(struct sim_exch *x)
{
    if (x->inst)
        for (uint32_t i = 0; i < x->n_inst; i++)
            free(x->inst[i].hist);
    free(x->inst);
    x->inst = NULL;
}

int64_t sim_level_price(const struct sim_inst *in, int s, int k)
{
    return s == 0 ? in->mid - 1 - k : in->mid + 1 + k;
}

int64_t sim_best(const struct sim_inst *in, int s)
{
    for (int k = 0; k < SIM_LEVELS; k++)
        if (in->book[s][k] > 0)
            return sim_level_price(in, s, k);
    return 0;
}

const struct sim_ev *sim_hist_at(const struct sim_inst *in, size_t i)
{
    return &in->hist[(in->hist_head + i) % in->hist_cap];
}

size_t sim_hist_lower(const struct sim_inst *in, uint64_t id)
{
    size_t lo = 0, hi = in->hist_len;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (sim_hist_at(in, m)->seq < id)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

static void hist_push(struct sim_exch *x, struct sim_inst *in, const struct sim_ev *ev)
{
    if (x->history_ns <= 0)
        return;
    if (in->hist_cap == 0) {
        size_t cap = 256;
        in->hist = malloc(cap * sizeof *in->hist);
        if (!in->hist)
            return;
        in->hist_cap = cap;
    }
    if (in->hist_len == in->hist_cap && in->hist_cap < x->hist_max) {
        size_t cap = in->hist_cap * 2 > x->hist_max ? x->hist_max : in->hist_cap * 2;
        struct sim_ev *n = malloc(cap * sizeof *n);
        if (n) {
            for (size_t i = 0; i < in->hist_len; i++)
                n[i] = *sim_hist_at(in, i);
            free(in->hist);
            in->hist = n;
            in->hist_cap = cap;
            in->hist_head = 0;
        }
    }
    if (in->hist_len == in->hist_cap) { /* full: drop the oldest */
        in->hist_head = (in->hist_head + 1) % in->hist_cap;
        in->hist_len--;
    }
    in->hist[(in->hist_head + in->hist_len) % in->hist_cap] = *ev;
    in->hist_len++;
    /* drop what fell out of the time window */
    while (in->hist_len && sim_hist_at(in, 0)->ts < ev->ts - x->history_ns) {
        in->hist_head = (in->hist_head + 1) % in->hist_cap;
        in->hist_len--;
    }
}

void sim_exch_next(struct sim_exch *x, struct sim_ev *ev)
{
    uint64_t g = x->generated++;
    uint64_t h = sim_mix(x->seed + g);
    uint64_t h2 = sim_mix(h);
    memset(ev, 0, sizeof *ev);
    ev->inst = (uint32_t)(h % x->n_inst);
    ev->ts = x->base_ts + (int64_t)((double)(g - x->base_count) * (1e9 / x->rate));
    struct sim_inst *in = &x->inst[ev->inst];
    unsigned r = (unsigned)((h >> 24) % 100);
    ev->xseq = ++in->n_seq;
    if (r < 25) {
        ev->kind = TR_KIND_TRADE;
        ev->side = (h >> 40) & 1 ? TR_SIDE_BUY : TR_SIDE_SELL;
        int64_t p = sim_best(in, ev->side == TR_SIDE_BUY ? 1 : 0);
        ev->price = p ? p : in->mid;
        ev->size = 1 + (int64_t)(h2 % 1000);
        ev->seq = ++in->n_trades;
        ev->trade_id = ev->seq;
        in->last_price = ev->price;
        in->last_size = ev->size;
        in->last_side = ev->side;
    } else if (r < 90) {
        ev->kind = TR_KIND_BOOK_DELTA;
        int s = (h >> 40) & 1;
        int k = (int)(h2 % SIM_LEVELS);
        ev->side = (uint8_t)(s + 1);
        ev->price = sim_level_price(in, s, k);
        ev->prev = in->book[s][k];
        ev->size = (h2 >> 16) % 8 == 0 ? 0 : 1 + (int64_t)((h2 >> 24) % 5000);
        in->book[s][k] = ev->size;
        ev->seq = ++in->n_deltas;
    } else {
        ev->kind = TR_KIND_TICKER;
        ev->price = in->last_price;
        ev->size = in->last_size;
        ev->side = in->last_side;
        ev->bid = sim_best(in, 0);
        ev->ask = sim_best(in, 1);
        for (int k = 0; k < SIM_LEVELS; k++)
            if (sim_level_price(in, 0, k) == ev->bid)
                ev->bsz = in->book[0][k];
        for (int k = 0; k < SIM_LEVELS; k++)
            if (sim_level_price(in, 1, k) == ev->ask)
                ev->asz = in->book[1][k];
        ev->seq = in->n_deltas;
        ev->trade_id = in->n_trades;
    }
    if (x->f.gap_left && (x->f.gap_inst < 0 || (uint32_t)x->f.gap_inst == ev->inst) &&
        (!x->f.gap_kind || x->f.gap_kind == ev->kind)) {
        x->f.gap_left--;
        ev->flags |= x->f.gap_lost ? SIM_EV_LOST : SIM_EV_HIDDEN;
    }
    if (ev->kind == TR_KIND_TRADE && !(ev->flags & SIM_EV_LOST))
        hist_push(x, in, ev);
}

uint64_t sim_exch_due(const struct sim_exch *x, int64_t now_ns, uint64_t max)
{
    if (now_ns <= x->base_time)
        return 0;
    double want = (double)x->base_count + x->rate * (double)(now_ns - x->base_time) / 1e9;
    if (want <= (double)x->generated)
        return 0;
    double n = want - (double)x->generated;
    return n > (double)max ? max : (uint64_t)n;
}

void sim_exch_rebase(struct sim_exch *x, int64_t now_ns)
{
    x->base_count = x->generated;
    x->base_time = now_ns;
    x->base_ts = now_ns;
}

int sim_exch_find(const struct sim_exch *x, const char *name, size_t len)
{
    for (uint32_t i = 0; i < x->n_inst; i++)
        if (strlen(x->inst[i].name) == len && strncasecmp(x->inst[i].name, name, len) == 0)
            return (int)i;
    return -1;
}
