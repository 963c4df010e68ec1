/* Zero-copy JSON tokenizer; see include/tickraft/json.h.
 *
 * One pass, explicit stack, no recursion (a hostile frame cannot blow the C
 * stack) and no allocation. Value accessors convert numbers exactly: a price
 * never passes through a double. */
#include "tickraft/json.h"

#include <string.h>

enum { EXPECT_VALUE, EXPECT_KEY_OR_CLOSE, EXPECT_KEY, EXPECT_COLON,
       EXPECT_COMMA_OR_CLOSE, EXPECT_VALUE_OR_CLOSE, DONE };

struct parser {
    const char *s;
    size_t len, pos;
    struct tr_json_tok *toks;
    size_t max, n;
    uint32_t stack[TR_JSON_MAX_DEPTH]; /* container token indices */
    int depth;
    struct tr_error *err;
};

static int fail(struct parser *p, const char *what)
{
    return tr_errorf(p->err, TR_EPARSE, "json: %s at byte %zu", what, p->pos);
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int new_tok(struct parser *p, int type, size_t start)
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

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int scan_string(struct parser *p)
{
    size_t start = ++p->pos; /* after the opening quote */
    int escaped = 0;
    for (;;) {
        /* Fast path: most bytes are plain. */
        const char *q = memchr(p->s + p->pos, '"', p->len - p->pos);
        const char *b = memchr(p->s + p->pos, '\\', q ? (size_t)(q - (p->s + p->pos)) : p->len - p->pos);
        if (!q)
            return fail(p, "unterminated string");
        if (!b) {
            for (const char *c = p->s + p->pos; c < q; c++)
                if ((unsigned char)*c < 0x20)
                    return fail(p, "control character in string");
            p->pos = (size_t)(q - p->s);
            break;
        }
        escaped = 1;
        p->pos = (size_t)(b - p->s) + 1;
        if (p->pos >= p->len)
            return fail(p, "unterminated escape");
        char e = p->s[p->pos];
        if (e == 'u') {
            if (p->pos + 4 >= p->len)
                return fail(p, "short \\u escape");
            for (int k = 1; k <= 4; k++)
                if (hexval(p->s[p->pos + k]) < 0)
                    return fail(p, "bad \\u escape");
            p->pos += 5;
        } else if (strchr("\"\\/bfnrt", e) && e) {
            p->pos++;
        } else {
            return fail(p, "bad escape");
        }
    }
    int rc = new_tok(p, TR_JSON_STRING, start);
    if (rc)
        return rc;
    p->toks[p->n - 1].len = (uint32_t)(p->pos - start);
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

static int scan_literal(struct parser *p, const char *word, int type)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, "unexpected character");
    int rc = new_tok(p, type, p->pos);
    if (rc)
        return rc;
    p->toks[p->n - 1].len = (uint32_t)n;
    p->pos += n;
    return 0;
}

/* Counts a finished value in its enclosing container. */
static int after_value(struct parser *p)
{
    if (p->depth == 0)
        return DONE;
    struct tr_json_tok *c = &p->toks[p->stack[p->depth - 1]];
    if (c->type == TR_JSON_ARRAY)
        c->count++;
    return EXPECT_COMMA_OR_CLOSE;
}

static int open_container(struct parser *p, int type)
{
    if (p->depth >= TR_JSON_MAX_DEPTH)
        return fail(p, "nesting too deep");
    int rc = new_tok(p, type, p->pos);
    if (rc)
        return rc;
    p->stack[p->depth++] = (uint32_t)(p->n - 1);
    p->pos++;
    return 0;
}

static int close_container(struct parser *p, char c)
{
    struct tr_json_tok *t = &p->toks[p->stack[p->depth - 1]];
    if ((c == '}') != (t->type == TR_JSON_OBJECT))
        return fail(p, "mismatched bracket");
    p->pos++;
    t->len = (uint32_t)(p->pos - t->start);
    t->end = (uint32_t)p->n;
    p->depth--;
    return 0;
}

static int scan_value(struct parser *p)
{
    char c = p->s[p->pos];
    switch (c) {
    case '{': return open_container(p, TR_JSON_OBJECT);
    case '[': return open_container(p, TR_JSON_ARRAY);
    case '"': return scan_string(p);
    case 't': return scan_literal(p, "true", TR_JSON_TRUE);
    case 'f': return scan_literal(p, "false", TR_JSON_FALSE);
    case 'n': return scan_literal(p, "null", TR_JSON_NULL);
    default: return scan_number(p);
    }
}

int tr_json_parse(const char *text, size_t len, struct tr_json_tok *toks,
                  size_t max, struct tr_error *err)
{
    struct parser p = {.s = text, .len = len, .toks = toks, .max = max, .err = err};
    int state = EXPECT_VALUE, rc;
    if (len > UINT32_MAX)
        return tr_errorf(err, TR_ETOOBIG, "json: document larger than 4 GiB");
    while (state != DONE) {
        skip_ws(&p);
        if (p.pos >= p.len)
            return fail(&p, "unexpected end");
        char c = p.s[p.pos];
        switch (state) {
        case EXPECT_VALUE_OR_CLOSE:
            if (c == ']') {
                if ((rc = close_container(&p, c)))
                    return rc;
                state = after_value(&p);
                break;
            }
            /* fall through */
        case EXPECT_VALUE:
            if ((rc = scan_value(&p)))
                return rc;
            if (c == '{')
                state = EXPECT_KEY_OR_CLOSE;
            else if (c == '[')
                state = EXPECT_VALUE_OR_CLOSE;
            else
                state = after_value(&p);
            break;
        case EXPECT_KEY_OR_CLOSE:
        case EXPECT_KEY:
            if (c == '}' && state == EXPECT_KEY_OR_CLOSE) {
                if ((rc = close_container(&p, c)))
                    return rc;
                state = after_value(&p);
                break;
            }
            if (c != '"')
                return fail(&p, "expected object key");
            if ((rc = scan_string(&p)))
                return rc;
            p.toks[p.stack[p.depth - 1]].count++;
            state = EXPECT_COLON;
            break;
        case EXPECT_COLON:
            if (c != ':')
                return fail(&p, "expected ':'");
            p.pos++;
            state = EXPECT_VALUE;
            break;
        case EXPECT_COMMA_OR_CLOSE:
            if (c == ',') {
                p.pos++;
                state = p.toks[p.stack[p.depth - 1]].type == TR_JSON_OBJECT ? EXPECT_KEY
                                                                             : EXPECT_VALUE;
            } else if (c == '}' || c == ']') {
                if ((rc = close_container(&p, c)))
                    return rc;
                state = after_value(&p);
            } else {
                return fail(&p, "expected ',' or closing bracket");
            }
            break;
        }
    }
    skip_ws(&p);
    if (p.pos != p.len)
        return fail(&p, "trailing characters");
    return (int)p.n;
}

/* Compares string token `t` (possibly escaped) with NUL-terminated `s`. */
static int str_equal(const char *text, const struct tr_json_tok *t, const char *s)
{
    if (!t->escaped) {
        size_t n = strlen(s);
        return n == t->len && memcmp(text + t->start, s, n) == 0;
    }
    char buf[256];
    struct tr_json_tok copy = *t;
    if (tr_json_str(text, &copy, 0, buf, sizeof buf) != 0)
        return 0;
    return strcmp(buf, s) == 0;
}

int tr_json_get(const char *text, const struct tr_json_tok *toks, int obj,
                const char *key)
{
    if (obj < 0 || toks[obj].type != TR_JSON_OBJECT)
        return -1;
    uint32_t i = (uint32_t)obj + 1;
    for (uint32_t k = 0; k < toks[obj].count; k++) {
        uint32_t v = i + 1;
        if (str_equal(text, &toks[i], key))
            return (int)v;
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
    return i >= 0 && toks[i].type == TR_JSON_STRING && str_equal(text, &toks[i], s);
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
    for (size_t k = 0; k < n; k++) {
        if (p[k] < '0' || p[k] > '9')
            return p[k] == '-' ? TR_ERANGE : TR_EPARSE;
        unsigned d = (unsigned)(p[k] - '0');
        if (v > (UINT64_MAX - d) / 10)
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
