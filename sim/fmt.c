/* Dialect constants and the small text writers every encoder uses. Prices
 * are integer ticks scaled to each dialect's decimals, so no binary floating
 * point ever touches a price or a size. */
#include "sim.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const struct sim_dialect_info sim_dialects[SIM_D_COUNT] = {
    /* name, provider, prefix, price scale, tick mant, size scale, size mant, mid, ts unit */
    [SIM_D_NATIVE] = {"native", "sim", "/native", 2, 1, 4, 1, 2500000, 1},
    [SIM_D_COINBASE] = {"coinbase", "coinbase", "/coinbase", 2, 1, 8, 100000, 3000000, 1000},
    [SIM_D_BINANCE] = {"binance", "binance", "/binance", 8, 1000000, 8, 1000000, 4000000, 1000000},
    [SIM_D_KALSHI] = {"kalshi", "kalshi", "/kalshi", 4, 100, 2, 100, 50, 1000000000},
};

int sim_dialect_by_name(const char *name, size_t len)
{
    for (int d = 0; d < SIM_D_COUNT; d++)
        if (strlen(sim_dialects[d].name) == len && strncmp(sim_dialects[d].name, name, len) == 0)
            return d;
    return -1;
}

void sim_inst_name(int dialect, uint32_t i, char *out, size_t cap)
{
    switch (dialect) {
    case SIM_D_COINBASE: snprintf(out, cap, "SIM%u-USD", i); break;
    case SIM_D_BINANCE: snprintf(out, cap, "SIM%uUSDT", i); break;
    case SIM_D_KALSHI: snprintf(out, cap, "KXSIM-26JAN01-T%u", i); break;
    default: snprintf(out, cap, "SIM-%u", i); break;
    }
}

struct tr_decimal sim_price_dec(int dialect, int64_t ticks)
{
    const struct sim_dialect_info *d = &sim_dialects[dialect];
    return (struct tr_decimal){ticks * d->tick_mant, (uint8_t)d->price_scale};
}

struct tr_decimal sim_size_dec(int dialect, int64_t units)
{
    const struct sim_dialect_info *d = &sim_dialects[dialect];
    return (struct tr_decimal){units * d->size_mant, (uint8_t)d->size_scale};
}

int sim_putn(struct tr_buf *b, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (b->cap - b->len < n && tr_buf_reserve(b, n) != 0)
        return TR_ENOMEM;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

int sim_put(struct tr_buf *b, const char *s)
{
    return sim_putn(b, s, strlen(s));
}

int sim_putf(struct tr_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TR_EINVAL;
    if ((size_t)n < sizeof tmp)
        return sim_putn(b, tmp, (size_t)n);
    if (tr_buf_reserve(b, (size_t)n + 1) != 0)
        return TR_ENOMEM;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int sim_put_u64(struct tr_buf *b, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return sim_putn(b, tmp + sizeof tmp - n, (size_t)n);
}

int sim_put_i64(struct tr_buf *b, int64_t v)
{
    if (v < 0) {
        if (sim_putn(b, "-", 1))
            return TR_ENOMEM;
        return sim_put_u64(b, 0 - (uint64_t)v);
    }
    return sim_put_u64(b, (uint64_t)v);
}

int sim_put_dec(struct tr_buf *b, struct tr_decimal d)
{
    char tmp[TR_DECIMAL_STRLEN];
    size_t n = tr_decimal_format(d, tmp);
    return sim_putn(b, tmp, n);
}

int sim_put_qdec(struct tr_buf *b, struct tr_decimal d)
{
    char tmp[TR_DECIMAL_STRLEN + 2];
    size_t n = tr_decimal_format(d, tmp + 1);
    tmp[0] = '"';
    tmp[n + 1] = '"';
    return sim_putn(b, tmp, n + 2);
}

int sim_put_iso(struct tr_buf *b, int64_t ns, int frac)
{
    time_t s = (time_t)(ns / 1000000000);
    long sub = (long)(ns % 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char tmp[64];
    size_t n = strftime(tmp, sizeof tmp, "\"%Y-%m-%dT%H:%M:%S", &tm);
    if (frac == 6)
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, ".%06ldZ\"", sub / 1000);
    else if (frac == 3)
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, ".%03ldZ\"", sub / 1000000);
    else
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "Z\"");
    return sim_putn(b, tmp, n);
}

int64_t sim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}
