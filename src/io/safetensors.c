/* safetensors reader (everything bounds-checked before use) and atomic
 * writer. Tensor data is raw host memory, so like the format it assumes a
 * little-endian host. Data pointers of a read file point into the file image
 * and may be unaligned when a tensor follows one of odd size: copy with memcpy. */
#include "io/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"
#include "io/json.h"

/* The reference implementation's limit; a larger header means a corrupt file. */
#define ST_MAX_HEADER 100000000u

static const struct {
    const char *name;
    size_t size;
} st_dtypes[] = {{"F32", 4}, {"F64", 8}, {"I64", 8}, {"I32", 4},
                 {"U32", 4}, {"U8", 1},  {"F16", 2}, {"BF16", 2}};
#define ST_NDTYPES ((int)(sizeof st_dtypes / sizeof st_dtypes[0]))

const char *fmcl_st_dtype_name(int d) { return d >= 0 && d < ST_NDTYPES ? st_dtypes[d].name : "?"; }

size_t fmcl_st_dtype_size(int d) { return d >= 0 && d < ST_NDTYPES ? st_dtypes[d].size : 0; }

static int float_dtype(int d)
{
    return d == FMCL_ST_F32 || d == FMCL_ST_F64 || d == FMCL_ST_F16 || d == FMCL_ST_BF16;
}

static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* Bytes a tensor of this dtype and shape needs; -1 if the count overflows. */
static int64_t shape_bytes(int dtype, int ndim, const int64_t *shape)
{
    uint64_t n = st_dtypes[dtype].size;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d && n > (uint64_t)INT64_MAX / d) return -1;
        n *= d;
    }
    return (int64_t)n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct {
    uint64_t begin, end;
    int index;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static fmcl_status read_metadata(const fmcl_json *m, fmcl_st_file *f, char *err, size_t errlen)
{
    if (m->type != FMCL_JSON_OBJECT)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "\"__metadata__\" must be an object, found %s",
                         fmcl_json_type_name(m->type));
    f->meta = calloc((size_t)m->count * 2 + 1, sizeof *f->meta);
    if (!f->meta)
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory reading safetensors metadata");
    for (int i = 0; i < m->count; i++) {
        const fmcl_json *v = &m->items[i];
        if (v->type != FMCL_JSON_STRING)
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                             "\"__metadata__\" value of \"%.100s\" must be a string, found %s",
                             v->key, fmcl_json_type_name(v->type));
        f->meta[2 * i] = strdup(v->key);
        f->meta[2 * i + 1] = strdup(v->string);
        f->meta_count = i + 1;
        if (!f->meta[2 * i] || !f->meta[2 * i + 1])
            return fmcl_errf(err, errlen, FMCL_ERR_NOMEM,
                             "out of memory reading safetensors metadata");
    }
    return FMCL_OK;
}

static fmcl_status field(const fmcl_json *e, const char *key, fmcl_json_type type,
                         const fmcl_json **out, char *err, size_t errlen)
{
    *out = fmcl_json_get(e, key);
    if (!*out)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "tensor \"%.100s\" has no \"%s\"", e->key,
                         key);
    if ((*out)->type != type)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "\"%s\" of tensor \"%.100s\" must be %s, found %s", key, e->key,
                         fmcl_json_type_name(type), fmcl_json_type_name((*out)->type));
    return FMCL_OK;
}

/* One header entry -> t (name not yet set); its data range goes to *sp.
 * Unknown extra fields are ignored, as the reference implementation does. */
static fmcl_status read_tensor(const fmcl_json *e, uint64_t data_len, fmcl_st_tensor *t, span *sp,
                               char *err, size_t errlen)
{
    const char *name = e->key;
    if (e->type != FMCL_JSON_OBJECT)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "tensor \"%.100s\" must be an object, found %s", name,
                         fmcl_json_type_name(e->type));
    const fmcl_json *dt, *sh, *off;
    fmcl_status s;
    if ((s = field(e, "dtype", FMCL_JSON_STRING, &dt, err, errlen)) != FMCL_OK ||
        (s = field(e, "shape", FMCL_JSON_ARRAY, &sh, err, errlen)) != FMCL_OK ||
        (s = field(e, "data_offsets", FMCL_JSON_ARRAY, &off, err, errlen)) != FMCL_OK)
        return s;

    t->dtype = -1;
    for (int d = 0; d < ST_NDTYPES; d++)
        if (strcmp(dt->string, st_dtypes[d].name) == 0) t->dtype = d;
    if (t->dtype < 0)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "tensor \"%.100s\" has dtype \"%.20s\", which fmcl does not read "
                         "(supported: F32, F64, F16, BF16, I64, I32, U32, U8)",
                         name, dt->string);

    if (sh->count > FMCL_ST_MAX_DIMS)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "tensor \"%.100s\" has %d dimensions, more than the %d supported", name,
                         sh->count, FMCL_ST_MAX_DIMS);
    t->ndim = sh->count;
    for (int i = 0; i < sh->count; i++) {
        const fmcl_json *d = &sh->items[i];
        if (d->type != FMCL_JSON_INT || d->integer < 0)
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                             "shape of tensor \"%.100s\" must hold non-negative integers "
                             "(dimension %d is %s%s)",
                             name, i, fmcl_json_type_name(d->type),
                             d->type == FMCL_JSON_INT ? " below zero" : "");
        t->shape[i] = d->integer;
    }
    int64_t need = shape_bytes(t->dtype, t->ndim, t->shape);
    if (need < 0)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "shape of tensor \"%.100s\" has more elements than 64-bit sizes can count",
                         name);

    if (off->count != 2 || off->items[0].type != FMCL_JSON_INT ||
        off->items[1].type != FMCL_JSON_INT || off->items[0].integer < 0 ||
        off->items[1].integer < 0)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "\"data_offsets\" of tensor \"%.100s\" must be two non-negative integers "
                         "[begin, end]",
                         name);
    uint64_t b = (uint64_t)off->items[0].integer, en = (uint64_t)off->items[1].integer;
    if (b > en)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "\"data_offsets\" of tensor \"%.100s\" are reversed: [%llu, %llu]", name,
                         (unsigned long long)b, (unsigned long long)en);
    if (en > data_len)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "\"data_offsets\" of tensor \"%.100s\" end at %llu, past the end of the "
                         "%llu-byte data section (truncated file?)",
                         name, (unsigned long long)en, (unsigned long long)data_len);
    if (en - b != (uint64_t)need) {
        char sbuf[200];
        fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape);
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "tensor \"%.100s\" covers %llu bytes, but dtype %s and shape %s need %lld",
                         name, (unsigned long long)(en - b), st_dtypes[t->dtype].name, sbuf,
                         (long long)need);
    }
    t->nbytes = (size_t)need;
    sp->begin = b;
    sp->end = en;
    return FMCL_OK;
}

/* Parses the file image blob (taking ownership of it). */
static fmcl_status parse_blob(unsigned char *blob, size_t len, fmcl_st_file *f, char *err,
                              size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->blob = blob;
    if (len < 8) {
        fmcl_st_free(f);
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "only %zu bytes, shorter than the 8-byte header length that starts a "
                         "safetensors file",
                         len);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | blob[i];
    if (hlen > ST_MAX_HEADER) {
        fmcl_st_free(f);
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "header length %llu is absurd (over 100 MB): not a safetensors file, "
                         "or a corrupt one",
                         (unsigned long long)hlen);
    }
    if (hlen > len - 8) {
        fmcl_st_free(f);
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "header length %llu runs past the end of the %zu-byte file (truncated?)",
                         (unsigned long long)hlen, len);
    }

    char jerr[512];
    fmcl_json *h = NULL;
    fmcl_status s = fmcl_json_parse((const char *)blob + 8, (size_t)hlen, &h, jerr, sizeof jerr);
    if (s != FMCL_OK) {
        fmcl_st_free(f);
        return fmcl_errf(err, errlen, s, "header: %s", jerr);
    }
    span *spans = NULL;
    if (h->type != FMCL_JSON_OBJECT) {
        s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "header must be a JSON object, found %s",
                      fmcl_json_type_name(h->type));
        goto done;
    }
    f->tensors = calloc((size_t)h->count + 1, sizeof *f->tensors);
    spans = calloc((size_t)h->count + 1, sizeof *spans);
    if (!f->tensors || !spans) {
        s = fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory reading a safetensors header");
        goto done;
    }
    const uint64_t data_len = len - 8 - hlen;
    const unsigned char *data = blob + 8 + hlen;
    int nspans = 0;
    for (int i = 0; i < h->count && s == FMCL_OK; i++) {
        const fmcl_json *e = &h->items[i];
        if (strcmp(e->key, "__metadata__") == 0) {
            s = read_metadata(e, f, err, errlen);
            continue;
        }
        fmcl_st_tensor *t = &f->tensors[f->count];
        span sp;
        s = read_tensor(e, data_len, t, &sp, err, errlen);
        if (s != FMCL_OK) break;
        t->name = strdup(e->key);
        f->count++;
        if (!t->name) {
            s = fmcl_errf(err, errlen, FMCL_ERR_NOMEM,
                          "out of memory reading a safetensors header");
            break;
        }
        t->data = data + sp.begin;
        if (sp.end > sp.begin) {
            sp.index = f->count - 1;
            spans[nspans++] = sp;
        }
    }
    if (s == FMCL_OK) {
        qsort(spans, (size_t)nspans, sizeof *spans, cmp_span);
        for (int i = 1; i < nspans; i++)
            if (spans[i].begin < spans[i - 1].end) {
                s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                              "data of tensors \"%.100s\" and \"%.100s\" overlap",
                              f->tensors[spans[i - 1].index].name, f->tensors[spans[i].index].name);
                break;
            }
    }
done:
    free(spans);
    fmcl_json_free(h);
    if (s != FMCL_OK) fmcl_st_free(f);
    return s;
}

fmcl_status fmcl_st_parse(const unsigned char *buf, size_t len, fmcl_st_file *out, char *err,
                          size_t errlen)
{
    if (!out || (!buf && len))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_st_parse: missing argument");
    unsigned char *blob = malloc(len ? len : 1);
    if (!blob) {
        memset(out, 0, sizeof *out);
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory copying a safetensors image");
    }
    if (len) memcpy(blob, buf, len);
    return parse_blob(blob, len, out, err, errlen);
}

fmcl_status fmcl_st_read(const char *path, fmcl_st_file *out, char *err, size_t errlen)
{
    if (!out || !path)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_st_read: missing argument");
    memset(out, 0, sizeof *out);
    unsigned char *blob;
    size_t len;
    fmcl_status s = fmcl_read_file(path, SIZE_MAX, &blob, &len, err, errlen);
    if (s != FMCL_OK) return s;
    char msg[1024];
    s = parse_blob(blob, len, out, msg, sizeof msg);
    if (s != FMCL_OK)
        return fmcl_errf(err, errlen, s, "%s: not a valid safetensors file: %s", path, msg);
    return FMCL_OK;
}

void fmcl_st_free(fmcl_st_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->count; i++) free(f->tensors[i].name);
    for (int i = 0; i < 2 * f->meta_count; i++) free(f->meta[i]);
    free(f->tensors);
    free(f->meta);
    free(f->blob);
    memset(f, 0, sizeof *f);
}

const fmcl_st_tensor *fmcl_st_find(const fmcl_st_file *f, const char *name)
{
    for (int i = 0; f && name && i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *fmcl_st_meta(const fmcl_st_file *f, const char *key)
{
    for (int i = 0; f && key && i < f->meta_count; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

fmcl_status fmcl_st_holds(const fmcl_st_file *f, uint64_t elements, char *err, size_t errlen)
{
    uint64_t have = 0;
    for (int i = 0; f && i < f->count; i++)
        have += f->tensors[i].nbytes / st_dtypes[f->tensors[i].dtype].size;
    if (have >= elements) return FMCL_OK;
    return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                     "its metadata describes a model of %llu weights, but its tensors hold only "
                     "%llu values: a corrupt checkpoint, or not one of this model",
                     (unsigned long long)elements, (unsigned long long)have);
}

/* fmcl_st_expect with the dtype test left to the caller: dtype < 0 accepts
 * any floating-point dtype. */
static fmcl_status expect(const fmcl_st_file *f, const char *name, int dtype, int ndim,
                          const int64_t *shape, const fmcl_st_tensor **out, char *err,
                          size_t errlen)
{
    if (out) *out = NULL;
    if (!f || !name || ndim < 0 || ndim > FMCL_ST_MAX_DIMS || (ndim && !shape))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_st_expect: bad arguments");
    const fmcl_st_tensor *t = fmcl_st_find(f, name);
    if (!t)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "no tensor \"%.100s\" in the file (it holds %d tensors): was it written "
                         "for a different model?",
                         name, f->count);
    if (dtype >= 0 && t->dtype != dtype)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "tensor \"%.100s\" has dtype %s, expected %s", name,
                         fmcl_st_dtype_name(t->dtype), fmcl_st_dtype_name(dtype));
    if (dtype < 0 && !float_dtype(t->dtype))
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "tensor \"%.100s\" has dtype %s, expected a floating-point one (F32, "
                         "F16, BF16 or F64)",
                         name, fmcl_st_dtype_name(t->dtype));
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char got[200], want[200];
        fmt_shape(got, sizeof got, t->ndim, t->shape);
        fmt_shape(want, sizeof want, ndim, shape);
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "tensor \"%.100s\" has shape %s, expected %s: was the file written with "
                         "a different configuration?",
                         name, got, want);
    }
    if (out) *out = t;
    return FMCL_OK;
}

fmcl_status fmcl_st_expect(const fmcl_st_file *f, const char *name, int dtype, int ndim,
                           const int64_t *shape, const fmcl_st_tensor **out, char *err,
                           size_t errlen)
{
    if (dtype < 0 || dtype >= ST_NDTYPES)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_st_expect: unknown dtype %d", dtype);
    return expect(f, name, dtype, ndim, shape, out, err, errlen);
}

fmcl_status fmcl_st_expect_float(const fmcl_st_file *f, const char *name, int ndim,
                                 const int64_t *shape, const fmcl_st_tensor **out, char *err,
                                 size_t errlen)
{
    return expect(f, name, -1, ndim, shape, out, err, errlen);
}

/* IEEE binary16 to float, exactly: every half is a float. */
static float half_to_float(uint16_t h)
{
    const int exp = h >> 10 & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0) /* zero or subnormal: man * 2^-24 */
        v = ldexpf((float)man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man | 0x400), exp - 25);
    return h & 0x8000 ? -v : v;
}

fmcl_status fmcl_st_floats(const fmcl_st_tensor *t, float *dst, char *err, size_t errlen)
{
    if (!t || (t->nbytes && !dst))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_st_floats: missing argument");
    if (!float_dtype(t->dtype))
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "tensor \"%.100s\" has dtype %s, expected a floating-point one",
                         t->name ? t->name : "?", fmcl_st_dtype_name(t->dtype));
    const unsigned char *p = t->data; /* may be unaligned: memcpy each value */
    const size_t n = t->nbytes / st_dtypes[t->dtype].size;
    if (t->dtype == FMCL_ST_F32) {
        if (n) memcpy(dst, p, t->nbytes);
        return FMCL_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (t->dtype == FMCL_ST_F64) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d; /* round to nearest, the default mode */
            if (isfinite(d) && !isfinite(dst[i]))
                return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                                 "tensor \"%.100s\" (F64) holds %.17g at element %zu, beyond "
                                 "the range of float32 (about 3.4e38) that fmcl computes in",
                                 t->name ? t->name : "?", d, i);
        } else {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            if (t->dtype == FMCL_ST_F16) {
                dst[i] = half_to_float(h);
            } else { /* bfloat16: the top half of a float's bits */
                const uint32_t bits = (uint32_t)h << 16;
                memcpy(&dst[i], &bits, 4);
            }
        }
    }
    return FMCL_OK;
}

static fmcl_status check_names(const char **names, int n, const char *what, char *err,
                               size_t errlen)
{
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_st_write: duplicate %s \"%.100s\"",
                             what, names[i]);
    return FMCL_OK;
}

static fmcl_status check_write_args(const fmcl_st_tensor *t, int n, const char *const *meta_kv,
                                    int meta_count, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        const fmcl_st_tensor *x = &t[i];
        if (!x->name || !*x->name || !fmcl_utf8_valid(x->name, strlen(x->name)) ||
            strcmp(x->name, "__metadata__") == 0)
            return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                             "fmcl_st_write: tensor %d needs a non-empty UTF-8 name other than "
                             "__metadata__",
                             i);
        if (x->dtype < 0 || x->dtype >= ST_NDTYPES || x->ndim < 0 || x->ndim > FMCL_ST_MAX_DIMS)
            return fmcl_errf(
                err, errlen, FMCL_ERR_ARG,
                "fmcl_st_write: tensor \"%.100s\" has dtype %d or ndim %d out of range", x->name,
                x->dtype, x->ndim);
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] < 0)
                return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                                 "fmcl_st_write: tensor \"%.100s\" has a negative dimension",
                                 x->name);
        int64_t need = shape_bytes(x->dtype, x->ndim, x->shape);
        if (need < 0)
            return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                             "fmcl_st_write: shape of tensor \"%.100s\" has too many elements",
                             x->name);
        if ((uint64_t)need != x->nbytes || (x->nbytes && !x->data))
            return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                             "fmcl_st_write: tensor \"%.100s\" has %zu bytes of data%s, but its "
                             "dtype and shape need %lld",
                             x->name, x->nbytes, x->data ? "" : " and no pointer", (long long)need);
    }
    for (int i = 0; i < 2 * meta_count; i++)
        if (!meta_kv[i] || !fmcl_utf8_valid(meta_kv[i], strlen(meta_kv[i])))
            return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                             "fmcl_st_write: metadata string %d is missing or not UTF-8", i);

    int most = n > meta_count ? n : meta_count;
    const char **names = malloc(((size_t)most + 1) * sizeof *names);
    if (!names) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory writing safetensors");
    for (int i = 0; i < n; i++) names[i] = t[i].name;
    fmcl_status s = check_names(names, n, "tensor name", err, errlen);
    for (int i = 0; i < meta_count; i++) names[i] = meta_kv[2 * i];
    if (s == FMCL_OK) s = check_names(names, meta_count, "metadata key", err, errlen);
    free(names);
    return s;
}

fmcl_status fmcl_st_write(const char *path, const fmcl_st_tensor *t, int n,
                          const char *const *meta_kv, int meta_count, char *err, size_t errlen)
{
    if (!path || n < 0 || (n && !t) || meta_count < 0 || (meta_count && !meta_kv) || n > (1 << 24))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_st_write: bad arguments");
    fmcl_status s = check_write_args(t, n, meta_kv, meta_count, err, errlen);
    if (s != FMCL_OK) return s;

    /* Header as the reference writes it: compact JSON, metadata first,
     * tensors in the given order with consecutive data ranges. */
    fmcl_jbuf h = {0};
    fmcl_jbuf_lit(&h, "{");
    if (meta_count) {
        fmcl_jbuf_lit(&h, "\"__metadata__\":{");
        for (int i = 0; i < meta_count; i++) {
            if (i) fmcl_jbuf_lit(&h, ",");
            fmcl_jbuf_str(&h, meta_kv[2 * i]);
            fmcl_jbuf_lit(&h, ":");
            fmcl_jbuf_str(&h, meta_kv[2 * i + 1]);
        }
        fmcl_jbuf_lit(&h, n ? "}," : "}");
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        if (i) fmcl_jbuf_lit(&h, ",");
        fmcl_jbuf_str(&h, t[i].name);
        fmcl_jbuf_lit(&h, ":{\"dtype\":\"");
        fmcl_jbuf_lit(&h, st_dtypes[t[i].dtype].name);
        fmcl_jbuf_lit(&h, "\",\"shape\":[");
        for (int d = 0; d < t[i].ndim; d++) {
            if (d) fmcl_jbuf_lit(&h, ",");
            fmcl_jbuf_int(&h, t[i].shape[d]);
        }
        fmcl_jbuf_lit(&h, "],\"data_offsets\":[");
        fmcl_jbuf_int(&h, (int64_t)off);
        fmcl_jbuf_lit(&h, ",");
        if (t[i].nbytes > (uint64_t)INT64_MAX - off) {
            fmcl_jbuf_free(&h);
            return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                             "fmcl_st_write: tensors too large in total");
        }
        off += t[i].nbytes;
        fmcl_jbuf_int(&h, (int64_t)off);
        fmcl_jbuf_lit(&h, "]}");
    }
    fmcl_jbuf_lit(&h, "}");
    while (!h.failed && h.len % 8) fmcl_jbuf_lit(&h, " ");
    if (h.failed) {
        fmcl_jbuf_free(&h);
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory writing %s", path);
    }
    if (h.len > ST_MAX_HEADER) {
        fmcl_jbuf_free(&h);
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "fmcl_st_write: header of %zu bytes exceeds the format's 100 MB limit",
                         h.len);
    }

    unsigned char lenbytes[8];
    for (int i = 0; i < 8; i++) lenbytes[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    const void **chunks = malloc(((size_t)n + 2) * sizeof *chunks);
    size_t *lens = malloc(((size_t)n + 2) * sizeof *lens);
    if (!chunks || !lens) {
        s = fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory writing %s", path);
    } else {
        chunks[0] = lenbytes;
        lens[0] = 8;
        chunks[1] = h.data;
        lens[1] = h.len;
        for (int i = 0; i < n; i++) {
            chunks[i + 2] = t[i].data;
            lens[i + 2] = t[i].nbytes;
        }
        s = fmcl_write_file_atomic(path, chunks, lens, n + 2, err, errlen);
    }
    free(chunks);
    free(lens);
    fmcl_jbuf_free(&h);
    return s;
}

/* ---- the public view of a file (include/fmcl/io.h) ------------------------ */

struct fmcl_checkpoint {
    fmcl_st_file f;
};

fmcl_status fmcl_checkpoint_open(const char *path, fmcl_checkpoint **out, char *err, size_t errlen)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of host memory reading %s", path);
    fmcl_status s = fmcl_st_read(path, &(*out)->f, err, errlen);
    if (s != FMCL_OK) {
        free(*out);
        *out = NULL;
    }
    return s;
}

void fmcl_checkpoint_free(fmcl_checkpoint *c)
{
    if (!c) return;
    fmcl_st_free(&c->f);
    free(c);
}

const char *fmcl_checkpoint_meta(const fmcl_checkpoint *c, const char *key)
{
    return fmcl_st_meta(&c->f, key);
}

int fmcl_checkpoint_has_tensor(const fmcl_checkpoint *c, const char *name)
{
    return fmcl_st_find(&c->f, name) != NULL;
}
