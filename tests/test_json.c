/* The strict JSON reader: values decode as RFC 8259 says (checked against
 * hand-computed UTF-8 bytes and integer limits), and malformed text is
 * rejected with a message naming the problem. Pure CPU. */
#include <stdio.h>
#include <string.h>

#include "io/json.h"
#include "testlib.h"

static fmcl_json *parse_ok(const char *text)
{
    char err[512] = "";
    fmcl_json *v = NULL;
    fmcl_status s = fmcl_json_parse(text, strlen(text), &v, err, sizeof err);
    tl_check(s == FMCL_OK && v, "parse %s: %s", text, err);
    return v;
}

static void reject(const char *text, size_t len, const char *want)
{
    char err[512] = "";
    fmcl_json *v = (fmcl_json *)1;
    fmcl_status s = fmcl_json_parse(text, len, &v, err, sizeof err);
    tl_check(s == FMCL_ERR_FORMAT && v == NULL && strstr(err, want),
             "JSON %.60s: status %d, message \"%s\", expected one containing \"%s\"", text, s, err,
             want);
    if (s == FMCL_OK) fmcl_json_free(v);
}

static void test_values(void)
{
    fmcl_json *v = parse_ok(" {\"a\": [1, -0, 2.5e2, true, false, null, \"x\"], \"b\": {}}\r\n");
    if (v) {
        const fmcl_json *a = fmcl_json_get(v, "a");
        tl_check(v->type == FMCL_JSON_OBJECT && v->count == 2, "object with 2 members");
        tl_check(a && a->type == FMCL_JSON_ARRAY && a->count == 7, "array of 7");
        if (a && a->count == 7) {
            tl_check(a->items[0].type == FMCL_JSON_INT && a->items[0].integer == 1, "1");
            tl_check(a->items[1].type == FMCL_JSON_INT && a->items[1].integer == 0, "-0");
            tl_check(a->items[2].type == FMCL_JSON_NUMBER && a->items[2].number == 250.0,
                     "2.5e2 is %g", a->items[2].number);
            tl_check(a->items[3].type == FMCL_JSON_BOOL && a->items[3].boolean == 1, "true");
            tl_check(a->items[4].type == FMCL_JSON_BOOL && a->items[4].boolean == 0, "false");
            tl_check(a->items[5].type == FMCL_JSON_NULL, "null");
            tl_check(a->items[6].type == FMCL_JSON_STRING && !strcmp(a->items[6].string, "x"),
                     "\"x\"");
        }
        const fmcl_json *b = fmcl_json_get(v, "b");
        tl_check(b && b->type == FMCL_JSON_OBJECT && b->count == 0, "empty object");
        tl_check(fmcl_json_get(v, "c") == NULL, "absent key gives NULL");
        fmcl_json_free(v);
    }

    /* int64 limits are exact; one past them is refused. */
    v = parse_ok("[9223372036854775807, -9223372036854775808, 0.125, -1E-2]");
    if (v && v->count == 4) {
        tl_check(v->items[0].type == FMCL_JSON_INT && v->items[0].integer == INT64_MAX, "max");
        tl_check(v->items[1].type == FMCL_JSON_INT && v->items[1].integer == INT64_MIN, "min");
        tl_check(v->items[2].number == 0.125 && v->items[3].number == -0.01, "fractions");
    }
    fmcl_json_free(v);

    /* Escapes: U+00E9 is C3 A9, U+20AC is E2 82 AC, U+1F600 (surrogates D83D DE00)
     * is F0 9F 98 80. */
    v = parse_ok("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00 \xc3\xa9\"");
    if (v) {
        const char want[] = "a\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9";
        tl_check(v->type == FMCL_JSON_STRING && strcmp(v->string, want) == 0,
                 "escapes decode to the expected UTF-8 bytes");
    }
    fmcl_json_free(v);

    /* The nesting limit itself is allowed. */
    char deep[2 * FMCL_JSON_MAX_DEPTH + 1];
    memset(deep, '[', FMCL_JSON_MAX_DEPTH);
    memset(deep + FMCL_JSON_MAX_DEPTH, ']', FMCL_JSON_MAX_DEPTH);
    deep[2 * FMCL_JSON_MAX_DEPTH] = 0;
    fmcl_json_free(parse_ok(deep));
}

static void test_rejections(void)
{
    reject("", 0, "found the end");
    reject("{\"a\": 1,}", 9, "a string key");
    reject("[1, 2,]", 7, "expected a value");
    reject("[1 2]", 5, "',' or ']'");
    reject("{\"a\" 1}", 7, "':' after a key");
    reject("{} x", 4, "the end of the text");
    reject("{}\0", 3, "the end of the text");
    reject("[01]", 4, "leading zero");
    reject("[1.]", 4, "decimal point");
    reject("[1e]", 4, "exponent");
    reject("[+1]", 4, "expected a value");
    reject("[9223372036854775808]", 21, "does not fit in 64 bits");
    reject("[-9223372036854775809]", 22, "does not fit in 64 bits");
    reject("[1e999]", 7, "out of range");
    reject("[tru]", 5, "expected a value");
    reject("[NaN]", 5, "expected a value");
    reject("\"abc", 4, "unterminated");
    reject("\"a\tb\"", 5, "control character");
    reject("\"\\x\"", 4, "invalid escape");
    reject("\"\\u12G4\"", 8, "4 hex digits");
    reject("\"\\ud83d\"", 8, "not followed by a low surrogate");
    reject("\"\\ude00\"", 8, "lone low surrogate");
    reject("\"\\u0000\"", 8, "\\u0000");
    reject("\"\xc3\x28\"", 4, "invalid UTF-8");
    reject("\"\xc0\xaf\"", 4, "invalid UTF-8");         /* overlong '/' */
    reject("\"\xed\xa0\x80\"", 5, "invalid UTF-8");     /* encoded surrogate */
    reject("\"\xf4\x90\x80\x80\"", 6, "invalid UTF-8"); /* above U+10FFFF */
    reject("{\"k\": 1, \"j\": 2, \"k\": 3}", 24, "duplicate key \"k\"");
    reject("// c\n{}", 7, "expected a value");

    char deep[2 * FMCL_JSON_MAX_DEPTH + 3];
    memset(deep, '[', FMCL_JSON_MAX_DEPTH + 1);
    memset(deep + FMCL_JSON_MAX_DEPTH + 1, ']', FMCL_JSON_MAX_DEPTH + 1);
    reject(deep, 2 * FMCL_JSON_MAX_DEPTH + 2, "nested deeper");
}

static void test_writer(void)
{
    fmcl_jbuf b = {0};
    fmcl_jbuf_lit(&b, "[");
    fmcl_jbuf_str(&b, "q\"b\\n\n\x01\xc3\xa9");
    fmcl_jbuf_lit(&b, ",");
    fmcl_jbuf_int(&b, INT64_MIN);
    fmcl_jbuf_lit(&b, "]");
    const char want[] = "[\"q\\\"b\\\\n\\u000a\\u0001\xc3\xa9\",-9223372036854775808]";
    tl_check(!b.failed && b.data && strcmp(b.data, want) == 0, "writer output %s",
             b.data ? b.data : "(none)");
    fmcl_json *v = b.data ? parse_ok(b.data) : NULL;
    tl_check(v && v->count == 2 && !strcmp(v->items[0].string, "q\"b\\n\n\x01\xc3\xa9") &&
                 v->items[1].integer == INT64_MIN,
             "writer output reads back");
    fmcl_json_free(v);
    fmcl_jbuf_free(&b);

    tl_check(fmcl_utf8_valid("\xe2\x82\xac\xf0\x9f\x98\x80", 7) &&
                 !fmcl_utf8_valid("\xe2\x82", 2) && !fmcl_utf8_valid("\xff", 1),
             "UTF-8 validation");
}

int main(void)
{
    test_values();
    test_rejections();
    test_writer();
    return tl_summary();
}
