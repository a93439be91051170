/* Strict recursive-descent JSON reader (depth-limited, so recursion is
 * bounded) and the small escaping writer used for file headers. */
#include "io/json.h"

#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"

typedef struct {
    const unsigned char *s;
    size_t len, pos;
    long values; /* parsed so far, against FMCL_JSON_MAX_VALUES */
    char *err;
    size_t errlen;
} parser;

static fmcl_status fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static fmcl_status fail(parser *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fmcl_errf(p->err, p->errlen, FMCL_ERR_FORMAT, "invalid JSON: %s at byte %zu", msg,
                     p->pos);
}

static fmcl_status fail_char(parser *p, const char *expected)
{
    if (p->pos >= p->len) return fail(p, "expected %s, found the end of the text", expected);
    unsigned c = p->s[p->pos];
    if (c >= 0x20 && c < 0x7f) return fail(p, "expected %s, found '%c'", expected, (char)c);
    return fail(p, "expected %s, found byte 0x%02x", expected, c);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

/* Length of the UTF-8 sequence at s (avail bytes left), 0 if malformed. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xbf;
    size_t n;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0; /* overlong */
        if (c == 0xed) hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90; /* overlong */
        if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

int fmcl_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(u + i, len - i);
        if (!n) return 0;
        i += n;
    }
    return 1;
}

static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return 0;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 1;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* p->pos is at the opening quote. Decoded text is never longer than the
 * literal, so the literal's length bounds the allocation. */
static fmcl_status parse_string(parser *p, char **out)
{
    size_t end = p->pos + 1;
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len) return fail(p, "unterminated string");
    char *buf = malloc(end - p->pos);
    if (!buf) return fmcl_errf(p->err, p->errlen, FMCL_ERR_NOMEM, "out of memory parsing JSON");
    char *o = buf;
    p->pos++;
    fmcl_status s = FMCL_OK;
    while (s == FMCL_OK && p->pos < end) {
        unsigned c = p->s[p->pos];
        if (c < 0x20) {
            s = fail(p, "control character 0x%02x inside a string (it must be escaped)", c);
        } else if (c == '\\') {
            unsigned e = p->s[p->pos + 1], cp, lo;
            const char *simple = strchr("\"\\/bfnrt", (int)e);
            if (e && simple) {
                *o++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
                p->pos += 2;
            } else if (e != 'u') {
                s = fail(p, "invalid escape in a string");
            } else if (p->pos + 6 > end || !hex4(p->s + p->pos + 2, &cp)) {
                s = fail(p, "\\u must be followed by 4 hex digits");
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                s = fail(p, "lone low surrogate \\u%04x", cp);
            } else if (cp >= 0xd800 && cp <= 0xdbff) {
                if (p->pos + 12 > end || p->s[p->pos + 6] != '\\' || p->s[p->pos + 7] != 'u' ||
                    !hex4(p->s + p->pos + 8, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                    s = fail(p, "high surrogate \\u%04x not followed by a low surrogate", cp);
                } else {
                    o = put_utf8(o, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
                    p->pos += 12;
                }
            } else if (cp == 0) {
                s = fail(p, "\\u0000 inside a string is not supported");
            } else {
                o = put_utf8(o, cp);
                p->pos += 6;
            }
        } else {
            size_t n = utf8_seq(p->s + p->pos, end - p->pos);
            if (!n) {
                s = fail(p, "invalid UTF-8 inside a string");
            } else {
                memcpy(o, p->s + p->pos, n);
                o += n;
                p->pos += n;
            }
        }
    }
    if (s != FMCL_OK) {
        free(buf);
        return s;
    }
    *o = 0;
    p->pos = end + 1;
    *out = buf;
    return FMCL_OK;
}

static int is_digit(const parser *p, size_t i) { return i < p->len && isdigit(p->s[i]); }

static fmcl_status parse_number(parser *p, fmcl_json *v)
{
    size_t start = p->pos, i = p->pos;
    int neg = 0, is_int = 1;
    if (i < p->len && p->s[i] == '-') {
        neg = 1;
        i++;
    }
    if (!is_digit(p, i)) return fail(p, "invalid number");
    if (p->s[i] == '0' && is_digit(p, i + 1)) return fail(p, "number with a leading zero");
    while (is_digit(p, i)) i++;
    if (i < p->len && p->s[i] == '.') {
        is_int = 0;
        if (!is_digit(p, ++i)) return fail(p, "a decimal point must be followed by digits");
        while (is_digit(p, i)) i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        is_int = 0;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (!is_digit(p, i)) return fail(p, "an exponent must have digits");
        while (is_digit(p, i)) i++;
    }
    int span = (int)(i - start > 64 ? 64 : i - start); /* for messages */

    if (is_int) {
        uint64_t mag = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (size_t k = start + (size_t)neg; k < i; k++) {
            unsigned d = p->s[k] - '0';
            if (mag > (limit - d) / 10)
                return fail(p, "integer %.*s does not fit in 64 bits", span, p->s + start);
            mag = mag * 10 + d;
        }
        v->type = FMCL_JSON_INT;
        v->integer = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag)
                         : (int64_t)mag;
        v->number = (double)v->integer;
        p->pos = i;
        return FMCL_OK;
    }

    /* strtod follows LC_NUMERIC: put the locale's decimal point in place of '.'. */
    const char *dp = localeconv()->decimal_point;
    size_t dpl = dp && *dp ? strlen(dp) : 1;
    char *tmp = malloc(i - start + dpl + 1), *o = tmp;
    if (!tmp) return fmcl_errf(p->err, p->errlen, FMCL_ERR_NOMEM, "out of memory parsing JSON");
    for (size_t k = start; k < i; k++) {
        if (p->s[k] == '.') {
            memcpy(o, dp && *dp ? dp : ".", dpl);
            o += dpl;
        } else
            *o++ = (char)p->s[k];
    }
    *o = 0;
    char *endp;
    double d = strtod(tmp, &endp);
    int ok = *endp == 0 && isfinite(d);
    free(tmp);
    if (!ok) return fail(p, "number %.*s is out of range", span, p->s + start);
    v->type = FMCL_JSON_NUMBER;
    v->number = d;
    p->pos = i;
    return FMCL_OK;
}

static void clear(fmcl_json *v)
{
    for (int i = 0; i < v->count; i++) clear(&v->items[i]);
    free(v->items);
    free(v->key);
    free(v->string);
    memset(v, 0, sizeof *v);
}

static fmcl_status append(parser *p, fmcl_json *v, int *cap, fmcl_json *child)
{
    if (v->count == *cap) {
        if (*cap > (1 << 28)) return fail(p, "too many elements in one array or object");
        int ncap = *cap ? *cap * 2 : 4;
        fmcl_json *n = realloc(v->items, (size_t)ncap * sizeof *n);
        if (!n) return fmcl_errf(p->err, p->errlen, FMCL_ERR_NOMEM, "out of memory parsing JSON");
        v->items = n;
        *cap = ncap;
    }
    v->items[v->count++] = *child;
    memset(child, 0, sizeof *child);
    return FMCL_OK;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static fmcl_status check_duplicates(parser *p, const fmcl_json *v)
{
    if (v->count < 2) return FMCL_OK;
    const char **keys = malloc((size_t)v->count * sizeof *keys);
    if (!keys) return fmcl_errf(p->err, p->errlen, FMCL_ERR_NOMEM, "out of memory parsing JSON");
    for (int i = 0; i < v->count; i++) keys[i] = v->items[i].key;
    qsort(keys, (size_t)v->count, sizeof *keys, cmp_key);
    fmcl_status s = FMCL_OK;
    for (int i = 1; i < v->count && s == FMCL_OK; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            s = fail(p, "duplicate key \"%.100s\" in the object ending here", keys[i]);
    free(keys);
    return s;
}

static fmcl_status parse_value(parser *p, fmcl_json *v, int depth);

/* Arrays and objects: p->pos is at '[' or '{'. Children are appended to v as
 * they are parsed, so on failure the caller frees whatever was built. */
static fmcl_status parse_container(parser *p, fmcl_json *v, int depth)
{
    int is_obj = p->s[p->pos] == '{', cap = 0;
    char close = is_obj ? '}' : ']';
    if (depth >= FMCL_JSON_MAX_DEPTH)
        return fail(p, "nested deeper than %d levels", FMCL_JSON_MAX_DEPTH);
    v->type = is_obj ? FMCL_JSON_OBJECT : FMCL_JSON_ARRAY;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return FMCL_OK;
    }
    for (;;) {
        fmcl_json child = {0};
        fmcl_status s = FMCL_OK;
        if (is_obj) {
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') return fail_char(p, "a string key");
            s = parse_string(p, &child.key);
            skip_ws(p);
            if (s == FMCL_OK) {
                if (p->pos < p->len && p->s[p->pos] == ':')
                    p->pos++;
                else
                    s = fail_char(p, "':' after a key");
            }
        }
        if (s == FMCL_OK) s = parse_value(p, &child, depth + 1);
        if (s == FMCL_OK) s = append(p, v, &cap, &child);
        if (s != FMCL_OK) {
            clear(&child);
            return s;
        }
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return is_obj ? check_duplicates(p, v) : FMCL_OK;
        }
        return fail_char(p, is_obj ? "',' or '}'" : "',' or ']'");
    }
}

static int literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) return 0;
    p->pos += n;
    return 1;
}

static fmcl_status parse_value(parser *p, fmcl_json *v, int depth)
{
    skip_ws(p);
    if (++p->values > FMCL_JSON_MAX_VALUES)
        return fail(p, "more than %d values, the most fmcl reads in one text",
                    FMCL_JSON_MAX_VALUES);
    if (p->pos >= p->len) return fail_char(p, "a value");
    switch (p->s[p->pos]) {
    case '{':
    case '[': return parse_container(p, v, depth);
    case '"': v->type = FMCL_JSON_STRING; return parse_string(p, &v->string);
    case 't':
    case 'f':
    case 'n':
        if (literal(p, "true") || literal(p, "false")) {
            v->type = FMCL_JSON_BOOL;
            v->boolean = p->s[p->pos - 4] == 't';
            return FMCL_OK;
        }
        if (literal(p, "null")) {
            v->type = FMCL_JSON_NULL;
            return FMCL_OK;
        }
        return fail_char(p, "a value");
    default:
        if (p->s[p->pos] == '-' || isdigit(p->s[p->pos])) return parse_number(p, v);
        return fail_char(p, "a value");
    }
}

fmcl_status fmcl_json_parse(const char *text, size_t len, fmcl_json **out, char *err, size_t errlen)
{
    if (!out || (!text && len))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_json_parse: missing argument");
    *out = NULL;
    parser p = {(const unsigned char *)text, len, 0, 0, err, errlen};
    fmcl_json *v = calloc(1, sizeof *v);
    if (!v) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory parsing JSON");
    fmcl_status s = parse_value(&p, v, 0);
    if (s == FMCL_OK) {
        skip_ws(&p);
        if (p.pos != len) s = fail_char(&p, "the end of the text after the JSON value");
    }
    if (s != FMCL_OK) {
        fmcl_json_free(v);
        return s;
    }
    *out = v;
    return FMCL_OK;
}

void fmcl_json_free(fmcl_json *v)
{
    if (!v) return;
    clear(v);
    free(v);
}

const fmcl_json *fmcl_json_get(const fmcl_json *v, const char *key)
{
    if (!v || v->type != FMCL_JSON_OBJECT || !key) return NULL;
    for (int i = 0; i < v->count; i++)
        if (strcmp(v->items[i].key, key) == 0) return &v->items[i];
    return NULL;
}

const char *fmcl_json_type_name(fmcl_json_type t)
{
    switch (t) {
    case FMCL_JSON_NULL: return "null";
    case FMCL_JSON_BOOL: return "a boolean";
    case FMCL_JSON_INT: return "an integer";
    case FMCL_JSON_NUMBER: return "a number";
    case FMCL_JSON_STRING: return "a string";
    case FMCL_JSON_ARRAY: return "an array";
    case FMCL_JSON_OBJECT: return "an object";
    }
    return "an unknown value";
}

void fmcl_jbuf_raw(fmcl_jbuf *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (n + 1 > b->cap - b->len || !b->data) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap - b->len < n + 1) {
            if (ncap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            ncap *= 2;
        }
        char *d = realloc(b->data, ncap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = ncap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void fmcl_jbuf_lit(fmcl_jbuf *b, const char *s) { fmcl_jbuf_raw(b, s, strlen(s)); }

void fmcl_jbuf_str(fmcl_jbuf *b, const char *s)
{
    fmcl_jbuf_raw(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            fmcl_jbuf_raw(b, esc, 2);
        } else if (*c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *c);
            fmcl_jbuf_raw(b, esc, 6);
        } else
            fmcl_jbuf_raw(b, (const char *)c, 1);
    }
    fmcl_jbuf_raw(b, "\"", 1);
}

void fmcl_jbuf_int(fmcl_jbuf *b, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", (long long)v);
    fmcl_jbuf_raw(b, num, (size_t)n);
}

void fmcl_jbuf_free(fmcl_jbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
