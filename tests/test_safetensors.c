/* safetensors: a round trip of every dtype with metadata reads back the same
 * bytes; the file layout is checked byte by byte against the format (8-byte
 * little-endian length, space-padded JSON, consecutive data); a hand-built
 * file in another writer's style reads; malformed images are each rejected
 * with the matching message; F16, BF16 and F64 tensors read as float32 as
 * NumPy converts them; a failed write leaves the old file intact. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "io/atomic.h"
#include "io/safetensors.h"
#include "testlib.h"

static char dir[256];

static unsigned char *slurp(const char *path, size_t *len)
{
    unsigned char *b = NULL;
    char err[256];
    if (fmcl_read_file(path, 1 << 26, &b, len, err, sizeof err) != FMCL_OK) {
        tl_check(0, "reading %s back: %s", path, err);
        return NULL;
    }
    return b;
}

/* A file image: 8-byte length, the header text as given, then data_len bytes i & 0xff. */
static unsigned char *image(const char *header, size_t data_len, size_t *len)
{
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    unsigned char *b = malloc(*len);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < data_len; i++) b[8 + h + i] = (unsigned char)i;
    return b;
}

static void reject(const char *what, const unsigned char *b, size_t len, const char *want)
{
    char err[1024] = "";
    fmcl_st_file f;
    fmcl_status s = fmcl_st_parse(b, len, &f, err, sizeof err);
    tl_check(s == FMCL_ERR_FORMAT && strstr(err, want) && f.count == 0 && !f.blob,
             "%s: status %d, message \"%s\", expected one containing \"%s\"", what, s, err, want);
    if (s == FMCL_OK) fmcl_st_free(&f);
}

static void reject_header(const char *what, const char *header, size_t data_len, const char *want)
{
    size_t len;
    unsigned char *b = image(header, data_len, &len);
    reject(what, b, len, want);
    free(b);
}

static void test_round_trip(void)
{
    float f32[3 * 5];
    double f64[7];
    int64_t i64[2 * 3];
    int32_t i32[1] = {-123456789};
    uint32_t u32[4 * 1 * 2];
    uint8_t u8[11];
    tl_fill(f32, 15, -3, 3, 1);
    for (int i = 0; i < 7; i++) f64[i] = 1.0 / (i + 3) - 0.25;
    for (int i = 0; i < 6; i++) i64[i] = (int64_t)(i - 3) * 1000000000000LL;
    for (int i = 0; i < 8; i++) u32[i] = 0xfedcba98u - (uint32_t)i * 7919u;
    for (int i = 0; i < 11; i++) u8[i] = (uint8_t)(250 + i);
    /* U8 of odd size before F32 data: the data section is packed, not aligned. */
    fmcl_st_tensor t[] = {
        {"net.0.weight", FMCL_ST_F32, 2, {3, 5}, f32, sizeof f32},
        {"u8", FMCL_ST_U8, 1, {11}, u8, sizeof u8},
        {"f64", FMCL_ST_F64, 1, {7}, f64, sizeof f64},
        {"i64", FMCL_ST_I64, 2, {2, 3}, i64, sizeof i64},
        {"scalar", FMCL_ST_I32, 0, {0}, i32, sizeof i32},
        {"u32", FMCL_ST_U32, 3, {4, 1, 2}, u32, sizeof u32},
        {"empty \"quoted\" \xc3\xa9", FMCL_ST_F32, 2, {0, 4}, NULL, 0},
    };
    const int n = (int)(sizeof t / sizeof t[0]);
    const char *meta[] = {"config",       "{\"dim\": 2, \"note\": \"tab\\t\"}\n\x01",
                          "step",         "1234",
                          "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    char path[300], path2[300], err[1024] = "";
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    snprintf(path2, sizeof path2, "%s/rt2.safetensors", dir);
    fmcl_status s = fmcl_st_write(path, t, n, meta, 3, err, sizeof err);
    if (!tl_check(s == FMCL_OK, "write: %s", err)) return;

    /* Layout, from the raw bytes. */
    size_t len;
    unsigned char *raw = slurp(path, &len);
    if (!raw) return;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | raw[i];
    size_t total = 0;
    for (int i = 0; i < n; i++) total += t[i].nbytes;
    tl_check(hlen % 8 == 0, "header length %llu is a multiple of 8", (unsigned long long)hlen);
    tl_check(len == 8 + hlen + total, "file is %zu bytes, want 8 + %llu + %zu", len,
             (unsigned long long)hlen, total);
    tl_check(raw[8] == '{', "header starts with '{'");
    size_t close = 8 + hlen - 1;
    while (close > 8 && raw[close] == ' ') close--;
    tl_check(raw[close] == '}' && 8 + hlen - 1 - close < 8,
             "header is JSON then fewer than 8 spaces of padding");
    size_t off = 8 + hlen;
    for (int i = 0; i < n; i++) {
        tl_check(t[i].nbytes == 0 || memcmp(raw + off, t[i].data, t[i].nbytes) == 0,
                 "data of %s lies at its place in the data section", t[i].name);
        off += t[i].nbytes;
    }

    fmcl_st_file f;
    s = fmcl_st_read(path, &f, err, sizeof err);
    if (tl_check(s == FMCL_OK, "read: %s", err)) {
        tl_check(f.count == n, "%d tensors read, %d written", f.count, n);
        const unsigned char *data0 = f.blob + 8 + hlen;
        size_t expect_off = 0;
        for (int i = 0; i < n && i < f.count; i++) {
            const fmcl_st_tensor *r = &f.tensors[i];
            int same = !strcmp(r->name, t[i].name) && r->dtype == t[i].dtype &&
                       r->ndim == t[i].ndim && r->nbytes == t[i].nbytes;
            for (int d = 0; same && d < r->ndim; d++) same = r->shape[d] == t[i].shape[d];
            tl_check(same, "tensor %d (%s) keeps name, dtype, shape and size in order", i,
                     t[i].name);
            tl_check(r->nbytes == 0 || memcmp(r->data, t[i].data, r->nbytes) == 0,
                     "tensor %s: bytes identical after reading back", t[i].name);
            tl_check((const unsigned char *)r->data == data0 + expect_off,
                     "tensor %s: data_offsets relative to the data section", t[i].name);
            tl_check(fmcl_st_find(&f, t[i].name) == r, "find %s", t[i].name);
            expect_off += t[i].nbytes;
        }
        tl_check(f.meta_count == 3, "3 metadata pairs, got %d", f.meta_count);
        for (int i = 0; i < 3; i++) {
            const char *v = fmcl_st_meta(&f, meta[2 * i]);
            tl_check(v && !strcmp(v, meta[2 * i + 1]), "metadata %s round-trips", meta[2 * i]);
        }
        tl_check(!fmcl_st_meta(&f, "absent") && !fmcl_st_find(&f, "absent"), "absent names");

        const fmcl_st_tensor *got = NULL;
        int64_t want_shape[2] = {3, 5};
        s = fmcl_st_expect(&f, "net.0.weight", FMCL_ST_F32, 2, want_shape, &got, err, sizeof err);
        tl_check(s == FMCL_OK && got == &f.tensors[0], "expect accepts the right dtype and shape");
        int64_t swapped[2] = {5, 3};
        s = fmcl_st_expect(&f, "net.0.weight", FMCL_ST_F32, 2, swapped, &got, err, sizeof err);
        tl_check(s == FMCL_ERR_FORMAT && !got && strstr(err, "has shape [3, 5], expected [5, 3]"),
                 "expect rejects a wrong shape: %s", err);
        s = fmcl_st_expect(&f, "net.0.weight", FMCL_ST_F32, 1, swapped, &got, err, sizeof err);
        tl_check(s == FMCL_ERR_FORMAT && strstr(err, "expected [5]"),
                 "expect rejects a wrong rank: %s", err);
        s = fmcl_st_expect(&f, "f64", FMCL_ST_F32, 1, (int64_t[]){7}, &got, err, sizeof err);
        tl_check(s == FMCL_ERR_FORMAT && strstr(err, "has dtype F64, expected F32"),
                 "expect rejects a wrong dtype: %s", err);
        s = fmcl_st_expect(&f, "net.1.weight", FMCL_ST_F32, 2, want_shape, &got, err, sizeof err);
        tl_check(s == FMCL_ERR_FORMAT && strstr(err, "no tensor \"net.1.weight\""),
                 "expect rejects a missing tensor: %s", err);

        /* Writing what was read gives the same file. */
        s = fmcl_st_write(path2, f.tensors, f.count, (const char *const *)f.meta, f.meta_count, err,
                          sizeof err);
        size_t len2 = 0;
        unsigned char *raw2 = s == FMCL_OK ? slurp(path2, &len2) : NULL;
        tl_check(raw2 && len2 == len && memcmp(raw, raw2, len) == 0,
                 "rewriting the read file reproduces it byte for byte (%s)", err);
        free(raw2);
        fmcl_st_free(&f);
        tl_check(f.count == 0 && f.blob == NULL && f.tensors == NULL, "free clears the struct");
    }
    free(raw);
    remove(path);
    remove(path2);
}

/* The public view of a file: its metadata and tensors by name, or the
 * reader's message. */
static void test_checkpoint_view(void)
{
    char path[300], err[512] = "";
    snprintf(path, sizeof path, "%s/view.safetensors", dir);
    float w[6] = {1, 2, 3, 4, 5, 6};
    fmcl_st_tensor t[] = {{"0.weight", FMCL_ST_F32, 2, {2, 3}, w, sizeof w}};
    const char *kv[] = {"format", "fmcl-mlp", "data", "moons"};
    fmcl_checkpoint *c = NULL;
    if (tl_check(fmcl_st_write(path, t, 1, kv, 2, err, sizeof err) == FMCL_OK, "write: %s", err) &&
        tl_check(fmcl_checkpoint_open(path, &c, err, sizeof err) == FMCL_OK, "open: %s", err)) {
        const char *data = fmcl_checkpoint_meta(c, "data");
        tl_check(data && !strcmp(data, "moons") && !fmcl_checkpoint_meta(c, "step") &&
                     fmcl_checkpoint_has_tensor(c, "0.weight") &&
                     !fmcl_checkpoint_has_tensor(c, "0.bias"),
                 "a checkpoint's metadata and tensors by name");
    }
    fmcl_checkpoint_free(c);
    c = (fmcl_checkpoint *)1;
    snprintf(path, sizeof path, "%s/no-such.safetensors", dir);
    tl_check(fmcl_checkpoint_open(path, &c, err, sizeof err) != FMCL_OK && !c &&
                 strstr(err, "no-such.safetensors"),
             "a missing file is refused naming it: %s", err);
    snprintf(path, sizeof path, "%s/view.safetensors", dir);
    remove(path);
}

/* Another writer's style: unpadded, keys in another order, whitespace, a gap
 * at the end of the data section, metadata last, a zero-size tensor. */
static void test_foreign_layout(void)
{
    const char *h = "{ \"b\" : {\"data_offsets\": [8, 20], \"shape\": [3], \"dtype\": \"F32\"},\n"
                    "  \"a\": {\"shape\": [2, 1], \"dtype\": \"I32\", \"data_offsets\": [0, 8],"
                    " \"extra\": null},\n  \"z\": {\"dtype\": \"U8\", \"shape\": [0],"
                    " \"data_offsets\": [8, 8]},\n  \"__metadata__\": {\"format\": \"pt\"} }";
    size_t len;
    unsigned char *b = image(h, 24, &len);
    fmcl_st_file f;
    char err[1024] = "";
    fmcl_status s = fmcl_st_parse(b, len, &f, err, sizeof err);
    if (tl_check(s == FMCL_OK, "foreign layout: %s", err)) {
        const fmcl_st_tensor *a = fmcl_st_find(&f, "a"), *bt = fmcl_st_find(&f, "b");
        const unsigned char *d0 = f.blob + 8 + strlen(h);
        tl_check(f.count == 3 && a && bt && a->dtype == FMCL_ST_I32 && a->ndim == 2 &&
                     a->shape[0] == 2 && a->shape[1] == 1 && a->nbytes == 8 &&
                     (const unsigned char *)a->data == d0 && bt->dtype == FMCL_ST_F32 &&
                     bt->nbytes == 12 && (const unsigned char *)bt->data == d0 + 8,
                 "foreign layout: tensors where their offsets say");
        tl_check(f.tensors != NULL && f.blob != b, "parse works on its own copy");
        const char *fm = fmcl_st_meta(&f, "format");
        tl_check(fm && !strcmp(fm, "pt"), "foreign layout: metadata");
        fmcl_st_free(&f);
    }
    free(b);
}

static void test_malformed(void)
{
    unsigned char small[8] = {16, 0, 0, 0, 0, 0, 0, 0};
    reject("empty file", small, 0, "shorter than the 8-byte");
    reject("7-byte file", small, 7, "shorter than the 8-byte");
    reject("header length past EOF", small, 8, "runs past the end");
    unsigned char absurd[16] = {0, 0, 0, 0, 1, 0, 0, 0, '{', '}'};
    reject("absurd header length", absurd, 16, "absurd");
    absurd[4] = 0;
    absurd[3] = 0x06; /* 100663296 > 100 MB */
    reject("header length just over 100 MB", absurd, 16, "absurd");

    const char *ok = "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}";
    size_t len;
    unsigned char *b = image(ok, 8, &len);
    reject("data section cut short", b, len - 1, "past the end of the 7-byte data section");
    reject("header cut short", b, 8 + 20, "runs past the end");
    free(b);

    reject_header("bad JSON", "{\"a\": {\"dtype\": \"F32\",}}", 0, "invalid JSON");
    reject_header("trailing garbage", "{}  x", 0, "invalid JSON");
    size_t nlen;
    unsigned char *nul = image("{}  ", 0, &nlen);
    nul[8 + 3] = 0;
    reject("NUL in the header", nul, nlen, "invalid JSON");
    free(nul);
    reject_header("not an object", "[]", 0, "must be a JSON object");
    reject_header("entry not an object", "{\"a\": 3}", 0, "must be an object, found an integer");
    reject_header("missing dtype", "{\"a\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
                  "has no \"dtype\"");
    reject_header("missing data_offsets", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4,
                  "has no \"data_offsets\"");
    reject_header("mistyped shape",
                  "{\"a\": {\"dtype\": \"F32\", \"shape\": \"1\", \"data_offsets\": [0, 4]}}", 4,
                  "\"shape\" of tensor \"a\" must be an array, found a string");
    reject_header("unknown dtype",
                  "{\"a\": {\"dtype\": \"F8_E5M2\", \"shape\": [2], \"data_offsets\": [0, 2]}}", 2,
                  "dtype \"F8_E5M2\", which fmcl does not read");
    reject_header("negative dimension",
                  "{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 0]}}", 0,
                  "non-negative");
    reject_header("fractional dimension",
                  "{\"a\": {\"dtype\": \"F32\", \"shape\": [1.0], \"data_offsets\": [0, 4]}}", 4,
                  "non-negative integers");
    reject_header("too many dimensions",
                  "{\"a\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1], "
                  "\"data_offsets\": [0, 1]}}",
                  1, "9 dimensions");
    reject_header("overflowing shape",
                  "{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], "
                  "\"data_offsets\": [0, 0]}}",
                  0, "more elements than 64-bit");
    reject_header("dimension past int64",
                  "{\"a\": {\"dtype\": \"F32\", \"shape\": [9223372036854775808], "
                  "\"data_offsets\": [0, 0]}}",
                  0, "does not fit in 64 bits");
    reject_header("nbytes != shape x dtype",
                  "{\"a\": {\"dtype\": \"F64\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8,
                  "covers 8 bytes, but dtype F64 and shape [2] need 16");
    reject_header("offsets out of range",
                  "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [4, 20]}}", 16,
                  "end at 20, past the end of the 16-byte data section");
    reject_header("offsets reversed",
                  "{\"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [8, 4]}}", 16,
                  "reversed");
    reject_header("negative offset",
                  "{\"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [-4, 0]}}", 16,
                  "two non-negative integers");
    reject_header("three offsets",
                  "{\"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4, 8]}}", 16,
                  "two non-negative integers");
    reject_header("overlapping data",
                  "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                  " \"b\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [12, 24]},"
                  " \"c\": {\"dtype\": \"U8\", \"shape\": [5], \"data_offsets\": [4, 9]}}",
                  24, "data of tensors \"a\" and \"c\" overlap");
    reject_header("duplicate names",
                  "{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
                  " \"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}",
                  2, "duplicate key \"a\"");
    reject_header("metadata value not a string", "{\"__metadata__\": {\"step\": 3}}", 0,
                  "value of \"step\" must be a string, found an integer");
    reject_header("metadata not an object", "{\"__metadata__\": [\"x\"]}", 0,
                  "\"__metadata__\" must be an object");

    /* Not errors: gaps and unused bytes in the data section. */
    const char *gap = "{\"a\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [6, 8]},"
                      " \"b\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [7, 7]}}";
    b = image(gap, 32, &len);
    fmcl_st_file f;
    char err[512] = "";
    fmcl_status s = fmcl_st_parse(b, len, &f, err, sizeof err);
    tl_check(s == FMCL_OK && f.count == 2 && ((const unsigned char *)f.tensors[0].data)[0] == 6,
             "gaps in the data section are accepted: %s", err);
    if (s == FMCL_OK) fmcl_st_free(&f);
    free(b);
}

/* F16, BF16 and F64 tensors read as float32 equal NumPy's conversions of
 * them, stored beside them in tests/data/dtypes.safetensors (made by
 * tests/data/make_dtypes.py): widening exactly, F64 rounded to nearest. */
static void test_float_dtypes(void)
{
    char err[1024] = "";
    fmcl_st_file f;
    if (!tl_check(fmcl_st_read("data/dtypes.safetensors", &f, err, sizeof err) == FMCL_OK,
                  "F16, BF16 and F64 tensors make a valid file: %s", err))
        return;
    static const char *const names[] = {"f16", "bf16", "f64"};
    for (int i = 0; i < 3; i++) {
        char want_name[16];
        snprintf(want_name, sizeof want_name, "%s.f32", names[i]);
        const fmcl_st_tensor *want = fmcl_st_find(&f, want_name), *got = NULL;
        if (!tl_check(want && want->dtype == FMCL_ST_F32, "fixture holds %s", want_name)) continue;
        fmcl_status s = fmcl_st_expect_float(&f, names[i], want->ndim, want->shape, &got, err,
                                             sizeof err);
        float out[64], ref[64];
        const size_t n = want->nbytes / sizeof(float);
        if (!tl_check(s == FMCL_OK && n <= 64, "%s accepted as a float tensor: %s", names[i], err))
            continue;
        memset(out, 0x55, sizeof out);
        memcpy(ref, want->data, want->nbytes);
        s = fmcl_st_floats(got, out, err, sizeof err);
        tl_check(s == FMCL_OK && memcmp(out, ref, want->nbytes) == 0,
                 "%s read as F32 equals NumPy's conversion bit for bit (%s)", names[i], err);
        s = fmcl_st_expect(&f, names[i], FMCL_ST_F32, want->ndim, want->shape, &got, err,
                           sizeof err);
        tl_check(s == FMCL_ERR_FORMAT && strstr(err, "expected F32"),
                 "a strict F32 expect still names the dtype: %s", err);
    }
    tl_check(fmcl_st_holds(&f, 6 * 32, err, sizeof err) == FMCL_OK &&
                 fmcl_st_holds(&f, 6 * 32 + 1, err, sizeof err) == FMCL_ERR_FORMAT &&
                 strstr(err, "hold only 192 values"),
             "holds counts values, not bytes: %s", err);
    fmcl_st_free(&f);

    /* A finite double beyond float's range is an error naming the tensor;
     * an integer tensor is no float tensor. */
    const double big[3] = {1.0, 3.5e38, -1e39};
    const int32_t ints[2] = {1, 2};
    const fmcl_st_tensor t[2] = {{"layer.big", FMCL_ST_F64, 1, {3}, big, sizeof big},
                                 {"ints", FMCL_ST_I32, 1, {2}, ints, sizeof ints}};
    char path[300];
    snprintf(path, sizeof path, "%s/big.safetensors", dir);
    if (tl_check(fmcl_st_write(path, t, 2, NULL, 0, err, sizeof err) == FMCL_OK &&
                     fmcl_st_read(path, &f, err, sizeof err) == FMCL_OK,
                 "write and read an F64 file: %s", err)) {
        float out[3];
        const fmcl_st_tensor *got = NULL;
        fmcl_status s = fmcl_st_expect_float(&f, "layer.big", 1, (int64_t[]){3}, &got, err,
                                             sizeof err);
        if (s == FMCL_OK) s = fmcl_st_floats(got, out, err, sizeof err);
        tl_check(s == FMCL_ERR_FORMAT && strstr(err, "\"layer.big\"") && strstr(err, "element 1") &&
                     strstr(err, "float32"),
                 "F64 overflow names the tensor and element: %s", err);
        s = fmcl_st_expect_float(&f, "ints", 1, (int64_t[]){2}, &got, err, sizeof err);
        tl_check(s == FMCL_ERR_FORMAT && strstr(err, "has dtype I32, expected a floating-point"),
                 "an I32 tensor is not read as floats: %s", err);
        fmcl_st_free(&f);
    }
    remove(path);
}

static void test_write_arguments(void)
{
    char path[300], err[512] = "";
    snprintf(path, sizeof path, "%s/args.safetensors", dir);
    float x[4] = {0};
    fmcl_st_tensor dup[2] = {{"w", FMCL_ST_F32, 1, {2}, x, 8}, {"w", FMCL_ST_F32, 1, {2}, x, 8}};
    fmcl_status s = fmcl_st_write(path, dup, 2, NULL, 0, err, sizeof err);
    tl_check(s == FMCL_ERR_ARG && strstr(err, "duplicate tensor name \"w\""),
             "writer refuses duplicate names: %s", err);
    fmcl_st_tensor wrong = {"w", FMCL_ST_F32, 1, {3}, x, 8};
    s = fmcl_st_write(path, &wrong, 1, NULL, 0, err, sizeof err);
    tl_check(s == FMCL_ERR_ARG && strstr(err, "need 12"), "writer checks nbytes: %s", err);
    const char *meta[] = {"k", NULL};
    s = fmcl_st_write(path, dup, 1, meta, 1, err, sizeof err);
    tl_check(s == FMCL_ERR_ARG, "writer refuses a NULL metadata value: %s", err);
    tl_check(access(path, F_OK) != 0, "refused writes create no file");
}

static int leftover_temp_files(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

static void test_failed_write(void)
{
    char path[300], err[1024] = "";
    snprintf(path, sizeof path, "%s/keep.safetensors", dir);
    float small[5] = {1, 2, 3, 4, 5};
    fmcl_st_tensor t = {"x", FMCL_ST_F32, 1, {5}, small, sizeof small};
    const char *meta[] = {"step", "1"};
    if (!tl_check(fmcl_st_write(path, &t, 1, meta, 1, err, sizeof err) == FMCL_OK, "%s", err))
        return;
    size_t len0;
    unsigned char *before = slurp(path, &len0);

    fmcl_status s = fmcl_st_write("/nonexistent-fmcl-dir/x.safetensors", &t, 1, NULL, 0, err,
                                  sizeof err);
    tl_check(s == FMCL_ERR_IO && strstr(err, "does the folder exist"),
             "write into a missing folder fails: %s", err);

    /* A write that fails midway (file size limit, so it fails even as root)
     * must remove its temporary file and leave the old checkpoint as it was. */
    size_t big_n = 1 << 16;
    float *big = calloc(big_n, sizeof *big);
    fmcl_st_tensor bt = {"x", FMCL_ST_F32, 1, {(int64_t)big_n}, big, big_n * sizeof *big};
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    if (tl_check(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit")) {
        s = fmcl_st_write(path, &bt, 1, NULL, 0, err, sizeof err);
        setrlimit(RLIMIT_FSIZE, &old);
        tl_check(s == FMCL_ERR_IO && strstr(err, "was left as it was"),
                 "a write cut short fails: %s", err);
    }
    free(big);
    size_t len1 = 0;
    unsigned char *after = slurp(path, &len1);
    tl_check(before && after && len0 == len1 && memcmp(before, after, len0) == 0,
             "the existing file is intact after failed writes");
    tl_check(leftover_temp_files() == 0, "no temporary file left behind");
    free(before);
    free(after);
    remove(path);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fmcl-test-st-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        printf("FAIL cannot create a temporary folder %s\n", dir);
        return 1;
    }
    test_round_trip();
    test_checkpoint_view();
    test_foreign_layout();
    test_malformed();
    test_float_dtypes();
    test_write_arguments();
    test_failed_write();
    tl_check(leftover_temp_files() == 0, "test folder holds no temporary files");
    tl_check(rmdir(dir) == 0, "test folder %s is empty at the end", dir);
    return tl_summary();
}
