/* A small strict JSON (RFC 8259) reader for file headers, and the few writer
 * helpers the headers need. Strict: no comments, no trailing commas, no
 * trailing garbage, no duplicate keys, valid UTF-8 only, integers checked
 * against int64, limits on nesting and on the number of values. */
#ifndef FMCL_JSON_H
#define FMCL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "fmcl.h"

#define FMCL_JSON_MAX_DEPTH 64
/* Values in one text. Each costs a 64-byte node, 32 times the two
 * bytes of a "0," in an array: the cap bounds what a hostile text can make
 * the reader allocate (a safetensors header of fmcl's has about 10 values
 * per tensor). */
#define FMCL_JSON_MAX_VALUES (1 << 20)

typedef enum {
    FMCL_JSON_NULL = 0,
    FMCL_JSON_BOOL,
    FMCL_JSON_INT,    /* a literal without fraction or exponent; fits int64 */
    FMCL_JSON_NUMBER, /* any other number (finite) */
    FMCL_JSON_STRING,
    FMCL_JSON_ARRAY,
    FMCL_JSON_OBJECT
} fmcl_json_type;

typedef struct fmcl_json fmcl_json;
struct fmcl_json {
    fmcl_json_type type;
    char *key;        /* member name when the parent is an object, else NULL */
    int boolean;      /* FMCL_JSON_BOOL */
    int64_t integer;  /* FMCL_JSON_INT */
    double number;    /* FMCL_JSON_INT and FMCL_JSON_NUMBER */
    char *string;     /* FMCL_JSON_STRING: UTF-8, NUL-terminated (\u0000 is rejected) */
    fmcl_json *items; /* FMCL_JSON_ARRAY / FMCL_JSON_OBJECT: count children, in order */
    int count;
};

/* Parses text[0, len) (need not be NUL-terminated). On failure *out is NULL
 * and err says what is wrong and at which byte. */
fmcl_status fmcl_json_parse(const char *text, size_t len, fmcl_json **out, char *err,
                            size_t errlen);
void fmcl_json_free(fmcl_json *v);
/* Member of an object by key; NULL if v is not an object or has no such key. */
const fmcl_json *fmcl_json_get(const fmcl_json *v, const char *key);
const char *fmcl_json_type_name(fmcl_json_type t);
/* 1 when s[0, len) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int fmcl_utf8_valid(const char *s, size_t len);

/* Growing output text. A failed allocation sets failed and later calls do
 * nothing, so a writer checks once at the end. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} fmcl_jbuf;

void fmcl_jbuf_raw(fmcl_jbuf *b, const char *s, size_t n);
void fmcl_jbuf_lit(fmcl_jbuf *b, const char *s); /* NUL-terminated, unquoted */
void fmcl_jbuf_str(fmcl_jbuf *b, const char *s); /* quoted and escaped */
void fmcl_jbuf_int(fmcl_jbuf *b, int64_t v);
void fmcl_jbuf_free(fmcl_jbuf *b);

#endif
