/* NumPy .npy reader (versions 1.0, 2.0, 3.0) and writer (1.0): the magic
 * "\x93NUMPY", the version, a little-endian header length, a Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, D), } padded
 * with spaces and '\n' to a multiple of 64 bytes, then the raw data. Data is
 * copied as host memory: a little-endian host, like the files, is assumed.
 * The functions are include/fmcl/io.h's. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER (1u << 20) /* real headers are ~100 bytes */

typedef struct {
    const char *s;
    size_t len, pos;
} cursor;

static void ws(cursor *c)
{
    while (c->pos < c->len && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' ||
                               c->s[c->pos] == '\n' || c->s[c->pos] == '\r'))
        c->pos++;
}

static int eat(cursor *c, char ch)
{
    ws(c);
    if (c->pos < c->len && c->s[c->pos] == ch) {
        c->pos++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes, copied into out[cap]. */
static int quoted(cursor *c, char *out, size_t cap)
{
    ws(c);
    if (c->pos >= c->len || (c->s[c->pos] != '\'' && c->s[c->pos] != '"')) return 0;
    char q = c->s[c->pos++];
    size_t n = 0;
    while (c->pos < c->len && c->s[c->pos] != q) {
        if (c->s[c->pos] == '\\' || n + 1 >= cap) return 0;
        out[n++] = c->s[c->pos++];
    }
    if (c->pos >= c->len) return 0;
    c->pos++;
    out[n] = 0;
    return 1;
}

static int word(cursor *c, const char *w)
{
    ws(c);
    size_t n = strlen(w);
    if (c->len - c->pos < n || memcmp(c->s + c->pos, w, n) != 0) return 0;
    c->pos += n;
    return 1;
}

/* (), (N,), (N, D), ... with an optional trailing comma. */
static int shape_tuple(cursor *c, int64_t *shape, int *ndim)
{
    *ndim = 0;
    if (!eat(c, '(')) return 0;
    for (;;) {
        if (eat(c, ')')) return 1;
        ws(c);
        if (c->pos >= c->len || c->s[c->pos] < '0' || c->s[c->pos] > '9' ||
            *ndim == FMCL_NPY_MAX_DIMS)
            return 0;
        int64_t v = 0;
        while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
            int d = c->s[c->pos++] - '0';
            if (v > (INT64_MAX - d) / 10) return 0;
            v = v * 10 + d;
        }
        shape[(*ndim)++] = v;
        if (!eat(c, ',')) return eat(c, ')');
    }
}

/* Fills descr, fortran and shape from the header dict; a message otherwise. */
static fmcl_status parse_header(const char *h, size_t len, char *descr, size_t dcap, int *fortran,
                                int64_t *shape, int *ndim, char *err, size_t errlen)
{
    cursor c = {h, len, 0};
    int seen = 0; /* bits: descr, fortran_order, shape */
    if (!eat(&c, '{'))
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "the header is not a Python dict");
    while (!eat(&c, '}')) {
        char key[32];
        if (!quoted(&c, key, sizeof key) || !eat(&c, ':'))
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                             "the header dict is malformed near byte %zu", c.pos);
        int bit, ok;
        if (strcmp(key, "descr") == 0) {
            bit = 1;
            ws(&c);
            if (c.pos < c.len && c.s[c.pos] == '[')
                return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                                 "structured arrays are not supported: save a plain float32 "
                                 "array of shape (N, D)");
            ok = quoted(&c, descr, dcap);
        } else if (strcmp(key, "fortran_order") == 0) {
            bit = 2;
            *fortran = word(&c, "True");
            ok = *fortran || word(&c, "False");
        } else if (strcmp(key, "shape") == 0) {
            bit = 4;
            ok = shape_tuple(&c, shape, ndim);
        } else {
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "unexpected key '%s' in the header",
                             key);
        }
        if (!ok || (seen & bit))
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                             "'%s' in the header is %s (shape: at most %d non-negative "
                             "dimensions)",
                             key, ok ? "given twice" : "malformed", FMCL_NPY_MAX_DIMS);
        seen |= bit;
        if (!eat(&c, ',')) {
            if (!eat(&c, '}'))
                return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                                 "the header dict is malformed near byte %zu", c.pos);
            break;
        }
    }
    ws(&c);
    if (c.pos != len)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "unexpected text after the header dict");
    if (seen != 7)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "the header lacks '%s'",
                         !(seen & 1)   ? "descr"
                         : !(seen & 2) ? "fortran_order"
                                       : "shape");
    return FMCL_OK;
}

static fmcl_status read_image(const unsigned char *b, size_t len, float **data, int64_t *shape,
                              int *ndim, char *err, size_t errlen)
{
    if (len < 10 || memcmp(b, NPY_MAGIC, 6) != 0)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "not a .npy file (no \\x93NUMPY magic)");
    int major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         ".npy format version %d.%d is not supported (1.0, 2.0 and 3.0 are)", major,
                         minor);
    size_t pre = major == 1 ? 10 : 12;
    if (len < pre)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "the file ends inside the preamble");
    uint32_t hlen = (uint32_t)b[8] | (uint32_t)b[9] << 8;
    if (major > 1) hlen |= (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    if (hlen > NPY_MAX_HEADER)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "header length %u is absurd (over 1 MiB): a corrupt file", hlen);
    if (hlen > len - pre)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "header length %u runs past the end of the %zu-byte file (truncated?)",
                         hlen, len);

    char descr[32];
    int fortran = 0;
    fmcl_status s = parse_header((const char *)b + pre, hlen, descr, sizeof descr, &fortran, shape,
                                 ndim, err, errlen);
    if (s != FMCL_OK) return s;
    if (fortran)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "the array is in Fortran order: save numpy.ascontiguousarray(a) instead");
    size_t item;
    if (strcmp(descr, "<f4") == 0)
        item = 4;
    else if (strcmp(descr, "<f8") == 0)
        item = 8;
    else
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "dtype '%s' is not little-endian float32 or float64: save "
                         "a.astype('<f4') instead",
                         descr);

    uint64_t count = 1;
    for (int i = 0; i < *ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d && count > (SIZE_MAX / 8) / d)
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "the shape has too many elements");
        count *= d;
    }
    size_t have = len - pre - hlen, need = (size_t)count * item;
    if (have != need)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%zu bytes of data follow the header, but the shape and dtype need %zu%s",
                         have, need, have < need ? " (truncated file?)" : "");

    const unsigned char *src = b + pre + hlen;
    float *out = malloc(count ? (size_t)count * sizeof *out : 1);
    if (!out)
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory for %llu values",
                         (unsigned long long)count);
    for (size_t i = 0; i < count; i++) {
        double v;
        if (item == 4) {
            memcpy(&out[i], src + 4 * i, 4);
            v = out[i];
        } else {
            memcpy(&v, src + 8 * i, 8);
            out[i] = fabs(v) <= FLT_MAX ? (float)v : (float)INFINITY;
        }
        if (!isfinite(out[i])) {
            free(out);
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                             "value %zu is %g, not a finite float32: clean the data first", i, v);
        }
    }
    *data = out;
    return FMCL_OK;
}

fmcl_status fmcl_npy_read(const char *path, float **data, int64_t *shape, int *ndim, char *err,
                          size_t errlen)
{
    if (!path || !data || !shape || !ndim)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_npy_read: missing argument");
    *data = NULL;
    *ndim = 0;
    unsigned char *b;
    size_t len;
    fmcl_status s = fmcl_read_file(path, SIZE_MAX, &b, &len, err, errlen);
    if (s != FMCL_OK) return s;
    char msg[512];
    s = read_image(b, len, data, shape, ndim, msg, sizeof msg);
    free(b);
    if (s != FMCL_OK) {
        *ndim = 0;
        return fmcl_errf(err, errlen, s, "%s: %s", path, msg);
    }
    return FMCL_OK;
}

void fmcl_npy_free(float *data) { free(data); }

/* An array of items of `item` bytes (dtype descr) in C order, atomically. */
static fmcl_status write_array(const char *path, const void *data, size_t item, const char *descr,
                               const int64_t *shape, int ndim, char *err, size_t errlen)
{
    if (!path || ndim < 0 || ndim > FMCL_NPY_MAX_DIMS || (ndim && !shape))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "fmcl_npy_write: bad arguments (ndim must be 0..%d)", FMCL_NPY_MAX_DIMS);
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (shape[i] < 0 || (d && count > (SIZE_MAX / item) / d))
            return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                             "fmcl_npy_write: dimension %d (%lld) is negative or too large", i,
                             (long long)shape[i]);
        count *= d;
    }
    if (count && !data) return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_npy_write: no data");

    /* 10-byte preamble + dict + padding + '\n', a multiple of 64 in all. */
    char head[512];
    int n = snprintf(head + 10, sizeof head - 10,
                     "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < ndim; i++)
        n += snprintf(head + 10 + n, sizeof head - 10 - (size_t)n, i ? ", %lld" : "%lld",
                      (long long)shape[i]);
    n += snprintf(head + 10 + n, sizeof head - 10 - (size_t)n, ndim == 1 ? ",), }" : "), }");
    size_t total = ((size_t)n + 10 + 1 + 63) / 64 * 64;
    memset(head + 10 + n, ' ', total - 10 - (size_t)n - 1);
    head[total - 1] = '\n';
    size_t hlen = total - 10;
    memcpy(head, NPY_MAGIC, 6);
    head[6] = 1;
    head[7] = 0;
    head[8] = (char)(hlen & 0xff);
    head[9] = (char)(hlen >> 8);

    const void *chunks[2] = {head, data};
    size_t lens[2] = {total, (size_t)count * item};
    return fmcl_write_file_atomic(path, chunks, lens, 2, err, errlen);
}

fmcl_status fmcl_npy_write(const char *path, const float *data, const int64_t *shape, int ndim,
                           char *err, size_t errlen)
{
    return write_array(path, data, sizeof *data, "<f4", shape, ndim, err, errlen);
}

fmcl_status fmcl_npy_write_f64(const char *path, const double *data, const int64_t *shape, int ndim,
                               char *err, size_t errlen)
{
    return write_array(path, data, sizeof *data, "<f8", shape, ndim, err, errlen);
}
