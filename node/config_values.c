/* Value syntax of the configuration file shared with the command line:
 * durations with units, sizes with binary or decimal units, endpoint URLs
 * and provider names (docs/configuration.md, "Values"). */
#include "config.h"

#include <stdio.h>
#include <string.h>

static int parse_u64(const char *s, uint64_t *out, const char **end)
{
    if (*s < '0' || *s > '9')
        return TR_EINVAL;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return TR_ERANGE;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    *end = s;
    return 0;
}

static int mul_check(uint64_t v, uint64_t m, uint64_t *out)
{
    if (m && v > UINT64_MAX / m)
        return TR_ERANGE;
    *out = v * m;
    return 0;
}

int tr_config_parse_duration(const char *s, uint64_t *ms)
{
    uint64_t v;
    const char *u;
    int rc = parse_u64(s, &v, &u);
    if (rc)
        return rc;
    static const struct { const char *u; uint64_t m; } units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    if (*u == '\0')
        return v == 0 ? (*ms = 0, 0) : TR_EINVAL; /* units are never guessed */
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(u, units[i].u) == 0)
            return mul_check(v, units[i].m, ms);
    return TR_EINVAL;
}

int tr_config_parse_size(const char *s, uint64_t *bytes)
{
    uint64_t v;
    const char *u;
    int rc = parse_u64(s, &v, &u);
    if (rc)
        return rc;
    static const struct { const char *u; uint64_t m; } units[] = {
        {"", 1}, {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
        {"TiB", 1ull << 40}, {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000},
        {"TB", 1000000000000ull},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(u, units[i].u) == 0)
            return mul_check(v, units[i].m, bytes);
    return TR_EINVAL;
}

static const char *const provider_names[] = {NULL, "coinbase", "binance", "kalshi", "sim"};

const char *tr_config_provider_name(int provider)
{
    return provider >= TR_PROV_COINBASE && provider <= TR_PROV_SIM ? provider_names[provider]
                                                                    : NULL;
}

int tr_config_provider_parse(const char *s)
{
    for (int i = TR_PROV_COINBASE; i <= TR_PROV_SIM; i++)
        if (strcmp(s, provider_names[i]) == 0)
            return i;
    return 0;
}

int tr_config_parse_url(const char *s, struct tr_url *u, struct tr_error *err)
{
    memset(u, 0, sizeof *u);
    static const struct { const char *scheme; int tls; uint16_t port; } schemes[] = {
        {"ws://", 0, 80}, {"wss://", 1, 443}, {"http://", 0, 80}, {"https://", 1, 443},
    };
    const char *p = NULL;
    for (size_t i = 0; i < 4 && !p; i++)
        if (strncmp(s, schemes[i].scheme, strlen(schemes[i].scheme)) == 0) {
            p = s + strlen(schemes[i].scheme);
            u->tls = schemes[i].tls;
            u->port = schemes[i].port;
        }
    if (!p)
        return tr_errorf(err, TR_EINVAL, "expected ws://, wss://, http:// or https://");
    const char *host = p, *host_end;
    if (*p == '[') {
        host = ++p;
        host_end = strchr(p, ']');
        if (!host_end)
            return tr_errorf(err, TR_EINVAL, "unterminated '[' in host");
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/?");
        p = host_end;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof u->host)
        return tr_errorf(err, TR_EINVAL, "missing or too long host");
    for (size_t i = 0; i < hl; i++)
        if ((unsigned char)host[i] <= ' ' || host[i] == '@')
            return tr_errorf(err, TR_EINVAL, "bad character in host");
    memcpy(u->host, host, hl);
    if (*p == ':') {
        uint64_t port;
        const char *e;
        if (parse_u64(p + 1, &port, &e) != 0 || port == 0 || port > 65535 ||
            (*e != '\0' && *e != '/' && *e != '?'))
            return tr_errorf(err, TR_EINVAL, "bad port");
        u->port = (uint16_t)port;
        p = e;
    }
    if (*p != '\0' && *p != '/' && *p != '?')
        return tr_errorf(err, TR_EINVAL, "unexpected '%c' after host", *p);
    int n = snprintf(u->path, sizeof u->path, "%s%s", *p == '/' ? "" : "/", p);
    if (n < 0 || (size_t)n >= sizeof u->path)
        return tr_errorf(err, TR_EINVAL, "path too long");
    return 0;
}

