/* Exact decimal parsing and printing; see include/tickraft/decimal.h.
 * Everything is integer arithmetic with explicit overflow checks, so a
 * provider's "0.00100000" comes back out as "0.00100000". */
#include "tickraft/decimal.h"

#include "tickraft/error.h"

#include <string.h>

int tr_decimal_parse(const char *s, size_t len, struct tr_decimal *out)
{
    size_t i = 0;
    int neg = 0;
    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    uint64_t mag = 0;
    int digits = 0, scale = 0, seen_point = 0;
    /* int64 magnitude limit: 9223372036854775807, or ...808 when negative. */
    const uint64_t limit = (uint64_t)INT64_MAX + (uint64_t)neg;
    if (len - i <= 18) {
        /* at most 18 digits: below 10^18, no overflow to check (prices
         * and sizes nearly always; a division per digit otherwise) */
        for (; i < len; i++) {
            unsigned d = (unsigned)(unsigned char)s[i] - '0';
            if (d <= 9) {
                mag = mag * 10 + d;
                digits++;
                scale += seen_point;
            } else if (s[i] == '.' && !seen_point && digits) {
                seen_point = 1;
            } else {
                return TR_EPARSE;
            }
        }
        goto done;
    }
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (seen_point || digits == 0)
                return TR_EPARSE;
            seen_point = 1;
            continue;
        }
        if (c < '0' || c > '9')
            return TR_EPARSE;
        unsigned d = (unsigned)(c - '0');
        if (mag > (limit - d) / 10)
            return TR_ERANGE;
        mag = mag * 10 + d;
        digits++;
        if (seen_point && ++scale > TR_DECIMAL_MAX_SCALE)
            return TR_ERANGE;
    }
done:
    if (digits == 0 || (seen_point && scale == 0))
        return TR_EPARSE;
    out->mant = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    out->scale = (uint8_t)scale;
    return 0;
}

size_t tr_decimal_format(struct tr_decimal d, char *buf)
{
    char digits[24];
    int n = 0;
    uint64_t mag = d.mant < 0 ? 0 - (uint64_t)d.mant : (uint64_t)d.mant;
    do {
        digits[n++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag);
    int scale = d.scale <= TR_DECIMAL_MAX_SCALE ? d.scale : TR_DECIMAL_MAX_SCALE;
    while (n <= scale) /* at least one digit before the point */
        digits[n++] = '0';
    size_t o = 0;
    if (d.mant < 0)
        buf[o++] = '-';
    for (int i = n - 1; i >= 0; i--) {
        buf[o++] = digits[i];
        if (i == scale && scale > 0)
            buf[o++] = '.';
    }
    buf[o] = '\0';
    return o;
}

/* Multiplies |m| by 10^k into a 128-bit value so any two decimals compare
 * exactly without overflow. */
static unsigned __int128 widen(uint64_t m, int k)
{
    unsigned __int128 v = m;
    while (k-- > 0)
        v *= 10;
    return v;
}

int tr_decimal_cmp(struct tr_decimal a, struct tr_decimal b)
{
    int sa = (a.mant > 0) - (a.mant < 0), sb = (b.mant > 0) - (b.mant < 0);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0)
        return 0;
    uint64_t ma = a.mant < 0 ? 0 - (uint64_t)a.mant : (uint64_t)a.mant;
    uint64_t mb = b.mant < 0 ? 0 - (uint64_t)b.mant : (uint64_t)b.mant;
    int common = a.scale > b.scale ? a.scale : b.scale;
    unsigned __int128 wa = widen(ma, common - a.scale);
    unsigned __int128 wb = widen(mb, common - b.scale);
    int c = (wa > wb) - (wa < wb);
    return sa < 0 ? -c : c;
}

int tr_decimal_valid(struct tr_decimal d)
{
    return d.scale <= TR_DECIMAL_MAX_SCALE;
}
