/* .npy: float32 arrays round-trip exactly with the header numpy writes
 * (checked byte by byte against the format description); hand-built float64
 * files of versions 1.0-3.0 convert to the nearest float32; malformed files
 * are each rejected with the matching message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic.h"
#include "testlib.h"

static char dir[256];

static void file_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Writes magic, version, header dict (padded to 64 bytes with '\n') and data. */
static void put_npy(const char *name, int major, const char *dict, const void *data, size_t nbytes,
                    size_t cut)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hlen = total - pre;
    unsigned char *b = malloc(total + nbytes);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) b[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(b + pre, dict, dl);
    memset(b + pre + dl, ' ', total - pre - dl - 1);
    b[total - 1] = '\n';
    if (nbytes) memcpy(b + total, data, nbytes);
    char path[300], err[256];
    file_path(path, sizeof path, name);
    const void *chunk = b;
    size_t len = total + nbytes - cut;
    tl_check(fmcl_write_file_atomic(path, &chunk, &len, 1, err, sizeof err) == FMCL_OK, "%s", err);
    free(b);
}

static void reject(const char *name, const char *want)
{
    char path[300], err[1024] = "";
    file_path(path, sizeof path, name);
    float *d = (float *)1;
    int64_t shape[FMCL_NPY_MAX_DIMS];
    int ndim = -1;
    fmcl_status s = fmcl_npy_read(path, &d, shape, &ndim, err, sizeof err);
    tl_check(s == FMCL_ERR_FORMAT && d == NULL && strstr(err, want) && strstr(err, path),
             "%s: status %d, message \"%s\", expected one with the path and \"%s\"", name, s, err,
             want);
    if (s == FMCL_OK) free(d);
    remove(path);
}

static void round_trip(const int64_t *shape, int ndim, const char *shape_text)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    float *x = malloc((n ? n : 1) * sizeof *x);
    tl_fill(x, n, -5, 5, (uint32_t)ndim + 7);
    if (n > 2) {
        x[0] = -0.0f;
        x[1] = 1e-40f; /* subnormal */
        x[2] = 3.4028235e38f;
    }
    char path[300], err[1024] = "";
    file_path(path, sizeof path, "rt.npy");
    fmcl_status s = fmcl_npy_write(path, x, shape, ndim, err, sizeof err);
    if (!tl_check(s == FMCL_OK, "write %s: %s", shape_text, err)) {
        free(x);
        return;
    }

    unsigned char *raw = NULL;
    size_t len = 0;
    fmcl_read_file(path, 1 << 24, &raw, &len, err, sizeof err);
    if (tl_check(raw && len >= 10, "read raw %s", shape_text)) {
        size_t hlen = raw[8] | (size_t)raw[9] << 8;
        char want[160];
        snprintf(want, sizeof want, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }",
                 shape_text);
        tl_check(memcmp(raw, "\x93NUMPY\x01\x00", 8) == 0, "magic and version 1.0");
        tl_check((10 + hlen) % 64 == 0 && len == 10 + hlen + n * 4,
                 "header padded to 64 bytes, then the data (%zu bytes)", len);
        tl_check(hlen >= strlen(want) + 1 && memcmp(raw + 10, want, strlen(want)) == 0 &&
                     raw[10 + hlen - 1] == '\n',
                 "header text is %s", want);
        size_t sp = 10 + strlen(want);
        while (sp + 1 < 10 + hlen && raw[sp] == ' ') sp++;
        tl_check(sp + 1 == 10 + hlen, "padding is spaces");
        tl_check(n == 0 || memcmp(raw + 10 + hlen, x, n * 4) == 0, "data stored raw");
    }
    free(raw);

    float *y = NULL;
    int64_t got[FMCL_NPY_MAX_DIMS];
    int gnd = -1;
    s = fmcl_npy_read(path, &y, got, &gnd, err, sizeof err);
    if (tl_check(s == FMCL_OK, "read %s: %s", shape_text, err)) {
        int same = gnd == ndim;
        for (int i = 0; same && i < ndim; i++) same = got[i] == shape[i];
        tl_check(same, "shape %s read back", shape_text);
        tl_check(n == 0 || memcmp(x, y, n * sizeof *x) == 0, "values %s identical", shape_text);
        free(y);
    }
    free(x);
    remove(path);
}

static void test_float64(void)
{
    const double v[] = {0.1, -1e-3, 123456.789, 1e30, -2.5, 1.0 / 3, 0, -7e-42};
    const char *dicts[] = {"{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), }",
                           "{\"shape\": (4,2), \"descr\": \"<f8\", \"fortran_order\": False}",
                           "{'descr':'<f8','fortran_order':False,'shape':(2,2,2,)}"};
    const int64_t want_shape[3][3] = {{4, 2}, {4, 2}, {2, 2, 2}};
    for (int version = 1; version <= 3; version++) {
        put_npy("f8.npy", version, dicts[version - 1], v, sizeof v, 0);
        char path[300], err[1024] = "";
        file_path(path, sizeof path, "f8.npy");
        float *y = NULL;
        int64_t shape[FMCL_NPY_MAX_DIMS];
        int ndim = 0;
        fmcl_status s = fmcl_npy_read(path, &y, shape, &ndim, err, sizeof err);
        if (tl_check(s == FMCL_OK, "float64 file, version %d.0: %s", version, err)) {
            int nd = version == 3 ? 3 : 2;
            tl_check(ndim == nd && !memcmp(shape, want_shape[version - 1], (size_t)nd * 8),
                     "float64 v%d shape", version);
            int ok = 1;
            for (int i = 0; i < 8; i++)
                ok &= y[i] == (float)v[i]; /* C's conversion rounds to nearest */
            tl_check(ok, "float64 v%d values are the nearest float32s", version);
            free(y);
        }
        remove(path);
    }
    /* fmcl_npy_write_f64 writes '<f8' that reads back as the same nearest floats. */
    char path[300], err[1024] = "";
    file_path(path, sizeof path, "w8.npy");
    const int64_t shape2[2] = {2, 4};
    float *y = NULL;
    int64_t shape[FMCL_NPY_MAX_DIMS];
    int ndim = 0;
    if (tl_check(fmcl_npy_write_f64(path, v, shape2, 2, err, sizeof err) == FMCL_OK,
                 "write float64: %s", err) &&
        tl_check(fmcl_npy_read(path, &y, shape, &ndim, err, sizeof err) == FMCL_OK,
                 "read back float64: %s", err)) {
        int ok = ndim == 2 && shape[0] == 2 && shape[1] == 4;
        for (int i = 0; ok && i < 8; i++) ok = y[i] == (float)v[i];
        tl_check(ok, "fmcl_npy_write_f64's array reads back as its nearest floats");
        fmcl_npy_free(y);
    }
    remove(path);
}

static void test_rejections(void)
{
    const float f[6] = {1, 2, 3, 4, 5, 6};
    const char *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
    put_npy("magic.npy", 1, good, f, sizeof f, 0);
    {
        char path[300];
        file_path(path, sizeof path, "magic.npy");
        FILE *fp = fopen(path, "r+b");
        if (fp) {
            fputc('N', fp); /* "NNUMPY" */
            fclose(fp);
        }
    }
    reject("magic.npy", "no \\x93NUMPY magic");
    put_npy("v4.npy", 4, good, f, sizeof f, 0);
    reject("v4.npy", "version 4.0 is not supported");
    put_npy("fortran.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", f,
            sizeof f, 0);
    reject("fortran.npy", "Fortran order");
    put_npy("int.npy", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }", f,
            sizeof f, 0);
    reject("int.npy", "dtype '<i4' is not little-endian float32 or float64");
    put_npy("u8.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (6,), }", f, 6, 0);
    reject("u8.npy", "dtype '|u1'");
    put_npy("be.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3, 2), }", f, sizeof f,
            0);
    reject("be.npy", "dtype '>f4'");
    put_npy("struct.npy", 1, "{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (6,), }",
            f, sizeof f, 0);
    reject("struct.npy", "structured arrays");
    put_npy("truncated.npy", 1, good, f, sizeof f, 1);
    reject("truncated.npy", "23 bytes of data follow the header, but the shape and dtype need 24");
    put_npy("long.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", f, sizeof f,
            0);
    reject("long.npy", "24 bytes of data follow the header, but the shape and dtype need 20");
    put_npy("noshape.npy", 1, "{'descr': '<f4', 'fortran_order': False}", f, sizeof f, 0);
    reject("noshape.npy", "lacks 'shape'");
    put_npy("negshape.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 2)}", f,
            sizeof f, 0);
    reject("negshape.npy", "'shape' in the header is malformed");
    put_npy("extra.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", f,
            sizeof f, 0);
    reject("extra.npy", "unexpected key 'x'");

    /* Header length past the end: the file stops inside the header. */
    put_npy("hdr.npy", 1, good, NULL, 0, 20);
    reject("hdr.npy", "runs past the end");
    put_npy("hdr3.npy", 3, good, NULL, 0, 40);
    reject("hdr3.npy", "runs past the end");

    float bad[6] = {1, 2, 3, 4, 5, 6};
    bad[4] = NAN;
    put_npy("nan.npy", 1, good, bad, sizeof bad, 0);
    reject("nan.npy", "value 4 is nan");
    bad[4] = -INFINITY;
    put_npy("inf.npy", 1, good, bad, sizeof bad, 0);
    reject("inf.npy", "value 4 is -inf");
    const double big[2] = {1.0, 1e300};
    put_npy("big.npy", 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", big,
            sizeof big, 0);
    reject("big.npy", "value 1 is 1e+300, not a finite float32");
}

static void test_write_failure(void)
{
    float x[2] = {1, 2};
    int64_t shape[1] = {2};
    char err[512] = "";
    fmcl_status s = fmcl_npy_write("/nonexistent-fmcl-dir/x.npy", x, shape, 1, err, sizeof err);
    tl_check(s == FMCL_ERR_IO && strstr(err, "does the folder exist"),
             "write into a missing folder: %s", err);
    int64_t neg[1] = {-2};
    char path[300];
    file_path(path, sizeof path, "neg.npy");
    s = fmcl_npy_write(path, x, neg, 1, err, sizeof err);
    tl_check(s == FMCL_ERR_ARG && access(path, F_OK) != 0, "negative dimension refused: %s", err);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fmcl-test-npy-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        printf("FAIL cannot create a temporary folder %s\n", dir);
        return 1;
    }
    round_trip((const int64_t[]){7, 3}, 2, "(7, 3)");
    round_trip((const int64_t[]){5}, 1, "(5,)");
    round_trip(NULL, 0, "()");
    round_trip((const int64_t[]){0, 2}, 2, "(0, 2)");
    round_trip((const int64_t[]){2, 3, 1, 5}, 4, "(2, 3, 1, 5)");
    test_float64();
    test_rejections();
    test_write_failure();
    tl_check(rmdir(dir) == 0, "test folder %s is empty at the end", dir);
    return tl_summary();
}
