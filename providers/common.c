/* What every adapter shares: the registry of ops tables, the adapter
 * instance (state + reject counter), the reference error policies, and the
 * ISO8601 time parser (integer arithmetic only, no libc time zone calls). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const struct tr_provider_ops *const registry[] = {
    &tr_provider_coinbase, &tr_provider_binance, &tr_provider_kalshi, &tr_provider_native,
};

const struct tr_provider_ops *tr_provider_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i]->name, name) == 0 || strcmp(registry[i]->dialect, name) == 0)
            return registry[i];
    return NULL;
}

int tr_provider_init(struct tr_provider *p, const struct tr_provider_ops *ops,
                     struct tr_error *err)
{
    memset(p, 0, sizeof *p);
    if (!ops || ops->version != TR_PROVIDER_OPS_VERSION)
        return tr_errorf(err, TR_EVERSION, "provider ops: version %u, want %u",
                         ops ? ops->version : 0, TR_PROVIDER_OPS_VERSION);
    p->ops = ops;
    if (ops->state_size) {
        p->state = calloc(1, ops->state_size);
        if (!p->state)
            return tr_errorf(err, TR_ENOMEM, "%s: adapter state", ops->name);
        if (ops->state_init) {
            int rc = ops->state_init(p->state, err);
            if (rc) {
                free(p->state);
                p->state = NULL;
                return tr_error_wrap(err, rc, "%s: adapter state", ops->name);
            }
        }
    }
    return 0;
}

void tr_provider_close(struct tr_provider *p)
{
    if (p->state && p->ops->state_close)
        p->ops->state_close(p->state);
    free(p->state);
    p->state = NULL;
}

int tr_provider_parse(struct tr_provider *p, const char *frame, size_t len, int64_t recv_ns,
                      struct tr_frame *out, struct tr_error *err)
{
    int rc = p->ops->parse(p->state, frame, len, recv_ns, out, err);
    if (rc)
        p->rejects++;
    return rc;
}

/* ---- policies (shared/reference/003: WebSocket and REST error tables) ---- */

static const char *const policy_names[] = {
    "ok", "reconnect_now", "backoff", "check_credentials", "no_retry", "halt",
    "skip", "check_status", "bug", "drop_market", "shed",
};

const char *tr_policy_name(int policy)
{
    if (policy < 0 || (size_t)policy >= sizeof policy_names / sizeof policy_names[0])
        return "unknown";
    return policy_names[policy];
}

int tr_policy_for_close(int code)
{
    switch (code) {
    case 1000: return TR_POLICY_RECONNECT_NOW;
    case 1008: return TR_POLICY_CHECK_CREDENTIALS;
    default: return TR_POLICY_BACKOFF; /* 1001, 1006, 1011 and anything else */
    }
}

int tr_policy_for_http(int status)
{
    if (status >= 200 && status < 300)
        return TR_POLICY_OK;
    switch (status) {
    case 401:
    case 403: return TR_POLICY_HALT;
    case 404: return TR_POLICY_SKIP;
    case 418: /* Binance: IP banned after ignoring 429s */
    case 429: return TR_POLICY_BACKOFF;
    case 503: return TR_POLICY_CHECK_STATUS;
    default: break;
    }
    if (status >= 500)
        return TR_POLICY_BACKOFF;
    return TR_POLICY_NO_RETRY; /* 400 and other 4xx: the request is wrong */
}

int tr_policy_for_sub_error(int sub_error)
{
    switch (sub_error) {
    case TR_SUBERR_UNKNOWN_CHANNEL: return TR_POLICY_BUG;
    case TR_SUBERR_UNKNOWN_MARKET: return TR_POLICY_DROP_MARKET;
    case TR_SUBERR_LIMIT: return TR_POLICY_SHED;
    case TR_SUBERR_NONE: return TR_POLICY_OK;
    default: return TR_POLICY_BACKOFF;
    }
}

/* ---- time ---- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t len, size_t *pos, int n, int *out)
{
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (*pos >= len || s[*pos] < '0' || s[*pos] > '9')
            return TR_EPARSE;
        v = v * 10 + (s[(*pos)++] - '0');
    }
    *out = v;
    return 0;
}

static int expect(const char *s, size_t len, size_t *pos, char c)
{
    if (*pos >= len || s[*pos] != c)
        return TR_EPARSE;
    (*pos)++;
    return 0;
}

int tr_time_parse_iso8601(const char *s, size_t len, int64_t *ns)
{
    size_t p = 0;
    int Y, M, D, h, m, sec;
    if (digits(s, len, &p, 4, &Y) || expect(s, len, &p, '-') || digits(s, len, &p, 2, &M) ||
        expect(s, len, &p, '-') || digits(s, len, &p, 2, &D))
        return TR_EPARSE;
    if (p >= len || (s[p] != 'T' && s[p] != ' ' && s[p] != 't'))
        return TR_EPARSE;
    p++;
    if (digits(s, len, &p, 2, &h) || expect(s, len, &p, ':') || digits(s, len, &p, 2, &m) ||
        expect(s, len, &p, ':') || digits(s, len, &p, 2, &sec))
        return TR_EPARSE;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60)
        return TR_ERANGE;
    int64_t frac = 0;
    if (p < len && s[p] == '.') {
        p++;
        int nd = 0;
        while (p < len && s[p] >= '0' && s[p] <= '9') {
            if (nd < 9) {
                frac = frac * 10 + (s[p] - '0');
                nd++;
            }
            p++;
        }
        if (nd == 0)
            return TR_EPARSE;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    int64_t off = 0;
    if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
        p++;
    } else if (p < len && (s[p] == '+' || s[p] == '-')) {
        int sign = s[p++] == '-' ? -1 : 1, oh, om;
        if (digits(s, len, &p, 2, &oh))
            return TR_EPARSE;
        if (p < len && s[p] == ':')
            p++;
        if (digits(s, len, &p, 2, &om))
            return TR_EPARSE;
        if (oh > 23 || om > 59)
            return TR_ERANGE;
        off = sign * (int64_t)(oh * 3600 + om * 60);
    } else {
        return TR_EPARSE; /* a time without a zone is ambiguous */
    }
    if (p != len)
        return TR_EPARSE;
    if (Y < 1970)
        return TR_ERANGE;
    int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600 + m * 60 + sec - off;
    if (secs < 0 || secs > INT64_MAX / 1000000000 - 1)
        return TR_ERANGE;
    *ns = secs * 1000000000 + frac;
    return 0;
}
