/* Zero-copy JSON tokenizer; see include/tickraft/json.h.
 *
 * One pass, explicit stack, no recursion (a hostile frame cannot blow the C
 * stack) and no allocation. Value accessors convert numbers exactly: a price
 * never passes through a double. */
#include "tickraft/json.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct parser {
    const char *s;
    size_t len, pos;
    struct tr_json_tok *toks;
    size_t max, n;
    struct tr_error *err;
};

/* Takes no parser pointer so that the parser never escapes and its fields
 * stay in registers. */
static int fail_at(struct tr_error *err, size_t pos, const char *what)
{
    return tr_errorf(err, TR_EPARSE, "json: %s at byte %zu", what, pos);
}

#define fail(p, what) fail_at((p)->err, (p)->pos, (what))

static inline size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    return i;
}

static inline int new_tok(struct parser *p, int type, size_t start)
{
    if (p->n >= p->max)
        return tr_errorf(p->err, TR_ETOOBIG, "json: more than %zu tokens", p->max);
    struct tr_json_tok *t = &p->toks[p->n];
    t->type = (uint8_t)type;
    t->escaped = 0;
    t->start = (uint32_t)start;
    t->len = 0;
    t->count = 0;
    t->end = (uint32_t)p->n + 1;
    p->n++;
    return 0;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Byte classes inside a string literal: what ends the plain run. */
enum { SC_PLAIN = 0, SC_QUOTE, SC_BACKSLASH, SC_CONTROL };

#define SC_CTL16 SC_CONTROL, SC_CONTROL, SC_CONTROL, SC_CONTROL, SC_CONTROL, SC_CONTROL, \
                 SC_CONTROL, SC_CONTROL, SC_CONTROL, SC_CONTROL, SC_CONTROL, SC_CONTROL, \
                 SC_CONTROL, SC_CONTROL, SC_CONTROL, SC_CONTROL
static const uint8_t str_class[256] = {
    SC_CTL16, SC_CTL16,
    [0x22] = SC_QUOTE,
    [0x5c] = SC_BACKSLASH,
};

/* What may follow a backslash: 1 for a one-byte escape, 2 for \u. */
static const uint8_t esc_class[256] = {
    ['"'] = 1, ['\\'] = 1, ['/'] = 1, ['b'] = 1, ['f'] = 1, ['n'] = 1, ['r'] = 1,
    ['t'] = 1, ['u'] = 2,
};

/* SWAR over 8 bytes: a mask with the high bit set in each byte that is '"',
 * '\\' or < 0x20 (the "has zero byte" / "has byte less than" tricks). A
 * borrow may also flag bytes above a true hit, never below one, so on a
 * little-endian load the lowest flagged byte is exactly the first special
 * byte. */
static inline uint64_t special_mask(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & highs;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TR_JSON_SWAR 1
#else
#define TR_JSON_SWAR 0
#endif

#if defined(__SSE2__)
#define TR_JSON_SSE2 1
/* Offset of the first '"', '\\' or control byte in the 16 bytes at p, or
 * 16 when there is none. Nearly every key and value of a provider frame
 * is shorter than 16 bytes, so one step finds its end. */
static inline unsigned special16(const unsigned char *p, int *quote)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    __m128i b = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    /* bytes < 0x20 unsigned: min(v, 0x1f) == v */
    __m128i c = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, b), c));
    if (!m)
        return 16u;
    unsigned k = (unsigned)__builtin_ctz(m);
    /* the closing quote (the usual case) is known from the mask: no
     * dependent load of the byte to classify it */
    *quote = ((unsigned)_mm_movemask_epi8(q) >> k) & 1;
    return k;
}
#else
#define TR_JSON_SSE2 0
#endif

/* Inlined at its two call sites: most strings are a few bytes, and the
 * call's prologue and epilogue were ~10 % of its time. */
static inline __attribute__((always_inline)) int scan_string(struct parser *p)
{
    const unsigned char *s = (const unsigned char *)p->s;
    size_t i = ++p->pos, n = p->len, start = i; /* after the opening quote */
    int escaped = 0;
    for (;;) {
#if TR_JSON_SSE2
        while (i + 16 <= n) {
            int quote = 0;
            unsigned k = special16(s + i, &quote);
            i += k;
            if (quote)
                goto closed;
            if (k < 16)
                goto special;
        }
#endif
        if (TR_JSON_SWAR) {
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                uint64_t m = special_mask(w);
                if (m) {
                    i += (size_t)__builtin_ctzll(m) >> 3;
                    goto special;
                }
                i += 8;
            }
        }
        while (i < n && str_class[s[i]] == SC_PLAIN)
            i++;
        if (i >= n) {
            p->pos = i;
            return fail(p, "unterminated string");
        }
    special:
        switch (str_class[s[i]]) {
        case SC_QUOTE:
            goto closed;
        case SC_CONTROL:
            p->pos = i;
            return fail(p, "control character in string");
        default: /* SC_BACKSLASH */
            escaped = 1;
            if (i + 1 >= n) {
                p->pos = i;
                return fail(p, "unterminated escape");
            }
            switch (esc_class[s[i + 1]]) {
            case 1:
                i += 2;
                break;
            case 2:
                if (n - i < 6) {
                    p->pos = i;
                    return fail(p, "short \\u escape");
                }
                if (hexval(s[i + 2]) < 0 || hexval(s[i + 3]) < 0 || hexval(s[i + 4]) < 0 ||
                    hexval(s[i + 5]) < 0) {
                    p->pos = i;
                    return fail(p, "bad \\u escape");
                }
                i += 6;
                break;
            default:
                p->pos = i;
                return fail(p, "bad escape");
            }
        }
    }
closed:
    p->pos = i;
    int rc = new_tok(p, TR_JSON_STRING, start);
    if (rc)
        return rc;
    p->toks[p->n - 1].len = (uint32_t)(i - start);
    p->toks[p->n - 1].escaped = (uint8_t)escaped;
    p->pos++; /* closing quote */
    return 0;
}

static int scan_number(struct parser *p)
{
    size_t start = p->pos, i = p->pos;
    if (i < p->len && p->s[i] == '-')
        i++;
    if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
        return fail(p, "bad number");
    if (p->s[i] == '0')
        i++;
    else
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') i++;
    if (i < p->len && p->s[i] == '.') {
        i++;
        if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
            return fail(p, "bad fraction");
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
            return fail(p, "bad exponent");
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    int rc = new_tok(p, TR_JSON_NUMBER, start);
    if (rc)
        return rc;
    p->toks[p->n - 1].len = (uint32_t)(i - start);
    p->pos = i;
    return 0;
}

static int scan_literal(struct parser *p, const char *word, size_t n, int type)
{
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, "unexpected character");
    int rc = new_tok(p, type, p->pos);
    if (rc)
        return rc;
    p->toks[p->n - 1].len = (uint32_t)n;
    p->pos += n;
    return 0;
}

/* One loop over values with gotos: "value" reads any value, "next" follows
 * a finished value (count it, then ',' or a closing bracket), "key" reads
 * an object key and its ':'. The container stack holds token indices. */
int tr_json_parse(const char *text, size_t len, struct tr_json_tok *toks,
                  size_t max, struct tr_error *err)
{
    struct parser p = {.s = text, .len = len, .toks = toks, .max = max, .err = err};
    uint32_t stack[TR_JSON_MAX_DEPTH];
    int depth = 0, rc;
    struct tr_json_tok *c;
    char ch;
    if (len > UINT32_MAX)
        return tr_errorf(err, TR_ETOOBIG, "json: document larger than 4 GiB");

value:
    p.pos = skip_ws(text, p.pos, len);
    if (p.pos >= len)
        return fail(&p, "unexpected end");
    ch = text[p.pos];
    switch (ch) {
    case '{':
    case '[':
        if (depth >= TR_JSON_MAX_DEPTH)
            return fail(&p, "nesting too deep");
        if ((rc = new_tok(&p, ch == '{' ? TR_JSON_OBJECT : TR_JSON_ARRAY, p.pos)))
            return rc;
        stack[depth++] = (uint32_t)(p.n - 1);
        p.pos = skip_ws(text, p.pos + 1, len);
        if (p.pos >= len)
            return fail(&p, "unexpected end");
        if (text[p.pos] == (ch == '{' ? '}' : ']'))
            goto close;
        if (ch == '{')
            goto key;
        goto value;
    case '"': rc = scan_string(&p); break;
    case 't': rc = scan_literal(&p, "true", 4, TR_JSON_TRUE); break;
    case 'f': rc = scan_literal(&p, "false", 5, TR_JSON_FALSE); break;
    case 'n': rc = scan_literal(&p, "null", 4, TR_JSON_NULL); break;
    default: rc = scan_number(&p); break;
    }
    if (rc)
        return rc;

next:
    if (depth == 0)
        goto done;
    c = &p.toks[stack[depth - 1]];
    if (c->type == TR_JSON_ARRAY)
        c->count++;
    p.pos = skip_ws(text, p.pos, len);
    if (p.pos >= len)
        return fail(&p, "unexpected end");
    ch = text[p.pos];
    if (ch == ',') {
        p.pos++;
        if (c->type == TR_JSON_ARRAY)
            goto value;
        p.pos = skip_ws(text, p.pos, len);
        if (p.pos >= len)
            return fail(&p, "unexpected end");
        goto key;
    }
    if (ch != '}' && ch != ']')
        return fail(&p, "expected ',' or closing bracket");

close: /* text[p.pos] is '}' or ']' closing stack[depth - 1] */
    c = &p.toks[stack[depth - 1]];
    if ((text[p.pos] == '}') != (c->type == TR_JSON_OBJECT))
        return fail(&p, "mismatched bracket");
    p.pos++;
    c->len = (uint32_t)(p.pos - c->start);
    c->end = (uint32_t)p.n;
    depth--;
    goto next;

key: /* at a non-blank byte inside an object */
    if (text[p.pos] != '"')
        return fail(&p, "expected object key");
    if ((rc = scan_string(&p)))
        return rc;
    p.toks[stack[depth - 1]].count++;
    p.pos = skip_ws(text, p.pos, len);
    if (p.pos >= len)
        return fail(&p, "unexpected end");
    if (text[p.pos] != ':')
        return fail(&p, "expected ':'");
    p.pos++;
    goto value;

done:
    p.pos = skip_ws(text, p.pos, len);
    if (p.pos != len)
        return fail(&p, "trailing characters");
    return (int)p.n;
}

/* Compares string token `t` (possibly escaped) with `s` of length n. */
static int str_equal(const char *text, const struct tr_json_tok *t, const char *s, size_t n)
{
    if (!t->escaped)
        return n == t->len && (n == 0 || (text[t->start] == s[0] &&
                                          memcmp(text + t->start, s, n) == 0));
    /* An escaped string is never shorter unescaped than n when equal: each
     * escape stands for at least one byte, so len >= n is necessary. */
    if (t->len < n)
        return 0;
    char buf[256];
    struct tr_json_tok copy = *t;
    if (tr_json_str(text, &copy, 0, buf, sizeof buf) != 0)
        return 0;
    return strlen(buf) == n && memcmp(buf, s, n) == 0;
}

int tr_json_get(const char *text, const struct tr_json_tok *toks, int obj,
                const char *key)
{
    if (obj < 0 || toks[obj].type != TR_JSON_OBJECT)
        return -1;
    size_t n = strlen(key);
    uint32_t i = (uint32_t)obj + 1;
    for (uint32_t k = 0; k < toks[obj].count; k++) {
        const struct tr_json_tok *t = &toks[i];
        uint32_t v = i + 1;
        /* Plain keys (nearly all) compare inline: length, then bytes. */
        if (!t->escaped) {
            if (t->len == n) {
                const char *a = text + t->start;
                size_t j = 0;
                while (j < n && a[j] == key[j])
                    j++;
                if (j == n)
                    return (int)v;
            }
        } else if (str_equal(text, t, key, n)) {
            return (int)v;
        }
        i = toks[v].end;
    }
    return -1;
}

int tr_json_at(const struct tr_json_tok *toks, int arr, uint32_t idx)
{
    if (arr < 0 || toks[arr].type != TR_JSON_ARRAY || idx >= toks[arr].count)
        return -1;
    uint32_t i = (uint32_t)arr + 1;
    while (idx--)
        i = toks[i].end;
    return (int)i;
}

int tr_json_eq(const char *text, const struct tr_json_tok *toks, int i, const char *s)
{
    return i >= 0 && toks[i].type == TR_JSON_STRING && str_equal(text, &toks[i], s, strlen(s));
}

/* Encodes code point `cp` as UTF-8 into out; returns bytes written. */
static size_t utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t hex4(const char *p)
{
    return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

int tr_json_str(const char *text, const struct tr_json_tok *toks, int i,
                char *out, size_t cap)
{
    if (i < 0 || toks[i].type != TR_JSON_STRING)
        return TR_EPARSE;
    const char *s = text + toks[i].start, *e = s + toks[i].len;
    size_t o = 0;
    if (!toks[i].escaped) {
        if (toks[i].len >= cap)
            return TR_ETOOBIG;
        memcpy(out, s, toks[i].len);
        out[toks[i].len] = '\0';
        return 0;
    }
    while (s < e) {
        char tmp[4];
        size_t n = 1;
        if (*s != '\\') {
            tmp[0] = *s++;
        } else {
            char c = s[1];
            s += 2;
            switch (c) {
            case 'b': tmp[0] = '\b'; break;
            case 'f': tmp[0] = '\f'; break;
            case 'n': tmp[0] = '\n'; break;
            case 'r': tmp[0] = '\r'; break;
            case 't': tmp[0] = '\t'; break;
            case 'u': {
                uint32_t cp = hex4(s);
                s += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && e - s >= 6 && s[0] == '\\' && s[1] == 'u') {
                    uint32_t lo = hex4(s + 2);
                    if (lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        s += 6;
                    }
                }
                n = utf8_put(cp, tmp);
                break;
            }
            default: tmp[0] = c; break; /* " \ / */
            }
        }
        if (o + n >= cap)
            return TR_ETOOBIG;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

/* The digits of a number token or of a string holding one. */
static int number_text(const char *text, const struct tr_json_tok *toks, int i,
                       const char **p, size_t *n)
{
    if (i < 0)
        return TR_EPARSE;
    if (toks[i].type != TR_JSON_NUMBER && (toks[i].type != TR_JSON_STRING || toks[i].escaped))
        return TR_EPARSE;
    *p = text + toks[i].start;
    *n = toks[i].len;
    return *n ? 0 : TR_EPARSE;
}

int tr_json_u64(const char *text, const struct tr_json_tok *toks, int i, uint64_t *out)
{
    const char *p;
    size_t n;
    if (number_text(text, toks, i, &p, &n))
        return TR_EPARSE;
    uint64_t v = 0;
    /* up to 19 digits cannot overflow: no per-digit check (sequences and
     * nanosecond times are all of this size) */
    int checked = n > 19;
    for (size_t k = 0; k < n; k++) {
        if (p[k] < '0' || p[k] > '9')
            return p[k] == '-' ? TR_ERANGE : TR_EPARSE;
        unsigned d = (unsigned)(p[k] - '0');
        if (checked && v > (UINT64_MAX - d) / 10)
            return TR_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int tr_json_i64(const char *text, const struct tr_json_tok *toks, int i, int64_t *out)
{
    const char *p;
    size_t n;
    if (number_text(text, toks, i, &p, &n))
        return TR_EPARSE;
    /* an optional '-' and up to 19 digits (a nanosecond time): read as
     * unsigned, then one range check; anything else (a fraction, more
     * digits) goes the decimal way, which gives the same answers */
    size_t k = n && p[0] == '-', digits = n - k;
    if (digits >= 1 && digits <= 19) {
        uint64_t v = 0;
        for (; k < n; k++) {
            unsigned d = (unsigned)(unsigned char)p[k] - '0';
            if (d > 9)
                break;
            v = v * 10 + d;
        }
        if (k == n) {
            int neg = p[0] == '-';
            if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
                return TR_ERANGE;
            *out = neg ? (int64_t)(0 - v) : (int64_t)v;
            return 0;
        }
    }
    struct tr_decimal d;
    int rc = tr_decimal_parse(p, n, &d);
    if (rc)
        return rc;
    if (d.scale != 0)
        return TR_EPARSE;
    *out = d.mant;
    return 0;
}

int tr_json_decimal(const char *text, const struct tr_json_tok *toks, int i,
                    struct tr_decimal *out)
{
    const char *p;
    size_t n;
    if (number_text(text, toks, i, &p, &n))
        return TR_EPARSE;
    return tr_decimal_parse(p, n, out);
}
