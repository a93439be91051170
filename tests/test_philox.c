/* Philox4x32-10 and the draws built on it: Random123's known-answer vectors
 * on the host and on every device (through a small test kernel compiled with
 * kernels/common.cl), bitwise host/device agreement of the integer words and
 * of the exact conversions, and statistical sanity of uniforms, bounded
 * integers and normals (bounds at 5 standard errors from the CLT). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow_ops.h"
#include "runtime/rng.h"
#include "testlib.h"

/* Random123 tests/kat_vectors, the three "philox4x32 10" lines:
 * counter (4 words), key (2 words) -> output (4 words). */
static const uint32_t kat[3][10] = {
    {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x6627e8d5, 0xe169c58d,
     0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
     0xa20bc7c6, 0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
     0x5001e420, 0x24126ea1},
};

/* Random inputs for the bitwise comparisons: splitmix64, independent of Philox. */
static uint32_t next_word(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* |got - want| <= 5 standard errors. */
static void check_stat(const char *what, double got, double want, double sd, size_t n)
{
    double se = sd / sqrt((double)n);
    printf("  %-40s %.6f (want %.6f +- %.6f)\n", what, got, want, 5 * se);
    tl_check(fabs(got - want) <= 5 * se, "%s = %.6f, want %.6f within 5 standard errors (%.6f)",
             what, got, want, 5 * se);
}

/* Mean, variance, P(|z| < 1) and lag-1 correlation of normals. */
static void check_normals(const char *what, const float *z, size_t n)
{
    double s = 0, s2 = 0, in1 = 0, lag = 0;
    for (size_t i = 0; i < n; i++) {
        s += z[i];
        s2 += (double)z[i] * z[i];
        in1 += fabs(z[i]) < 1.0;
        if (i + 1 < n) lag += (double)z[i] * z[i + 1];
    }
    char name[96];
    const double p1 = erf(1.0 / sqrt(2.0));
    snprintf(name, sizeof name, "%s mean", what);
    check_stat(name, s / n, 0.0, 1.0, n);
    snprintf(name, sizeof name, "%s E z^2", what);
    check_stat(name, s2 / n, 1.0, sqrt(2.0), n); /* Var z^2 = 2 */
    snprintf(name, sizeof name, "%s P(|z| < 1)", what);
    check_stat(name, in1 / n, p1, sqrt(p1 * (1 - p1)), n);
    snprintf(name, sizeof name, "%s E z_i z_i+1", what);
    check_stat(name, lag / (n - 1), 0.0, 1.0, n - 1);
}

static void host_checks(void)
{
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        fmcl_philox4x32_10(kat[v], kat[v] + 4, out);
        tl_check(memcmp(out, kat[v] + 6, sizeof out) == 0,
                 "host KAT %d: got %08x %08x %08x %08x, want %08x %08x %08x %08x", v, out[0],
                 out[1], out[2], out[3], kat[v][6], kat[v][7], kat[v][8], kat[v][9]);
    }
    /* fmcl_philox splits the seed into key (low word, high word). */
    uint32_t a[4];
    fmcl_philox(0x299f31d0a4093822ull, 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, a);
    tl_check(memcmp(a, kat[2] + 6, sizeof a) == 0, "fmcl_philox's seed-to-key split");

    /* The conversions at their ends. */
    tl_check(fmcl_u01(0) == 0.0f && fmcl_u01(0xffffffffu) == 1.0f - 0x1.0p-24f,
             "u01 maps to [0, 1 - 2^-24]");
    tl_check(fmcl_uint_below(0, 7) == 0 && fmcl_uint_below(0xffffffffu, 7) == 6 &&
                 fmcl_uint_below(0x80000000u, 10) == 5,
             "uint_below end points");
    float z0, z1;
    fmcl_box_muller(0xffffffffu, 0, &z0, &z1); /* u1 = 1: radius 0 */
    tl_check(z0 == 0.0f && z1 == 0.0f, "box_muller with u1 = 1 gives 0");
    fmcl_box_muller(0, 0, &z0, &z1); /* u1 = 2^-24: the largest radius, angle 0 */
    tl_check(fabs(z0 - sqrt(48 * log(2.0))) < 1e-5 && z1 == 0.0f,
             "box_muller's largest value is sqrt(-2 ln 2^-24)");

    /* Statistics of the host streams. */
    enum { n = 400003 };
    float *u = malloc(n * sizeof *u), *z = malloc(n * sizeof *z);
    unsigned cnt[7] = {0};
    double s = 0, s2 = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r[4];
        fmcl_philox(12345, i, 0, FMCL_STREAM_TIME, 3, r);
        u[i] = fmcl_u01(r[1]);
        s += u[i];
        s2 += (u[i] - 0.5) * (u[i] - 0.5);
        cnt[fmcl_uint_below(r[2], 7)]++;
    }
    check_stat("host u01 mean", s / n, 0.5, sqrt(1.0 / 12), n);
    check_stat("host u01 variance", s2 / n, 1.0 / 12, sqrt(1.0 / 180), n); /* Var (u-1/2)^2 */
    for (int k = 0; k < 7; k++) {
        char name[64];
        snprintf(name, sizeof name, "host uint_below(7) P(%d)", k);
        check_stat(name, (double)cnt[k] / n, 1.0 / 7, sqrt(1.0 / 7 * 6 / 7), n);
    }
    fmcl_randn_ref(z, 99, FMCL_STREAM_SAMPLE, 0, n);
    check_normals("host randn", z, n);
    free(u);
    free(z);
}

/* ---- device ---- */

static const char *test_kernels =
    "__kernel void kat(__global uint *out, __global const uint *in, int n)\n"
    "{\n"
    "    const int i = get_global_id(0);\n"
    "    if (i >= n) return;\n"
    "    const uint4 c = vload4(0, in + 6 * i);\n"
    "    const uint2 k = vload2(0, in + 6 * i + 4);\n"
    "    vstore4(philox4x32_10(c, k), 0, out + 4 * i);\n"
    "}\n"
    "__kernel void convert(__global float *u, __global uint *below, __global float *z,\n"
    "                      __global const uint *r, uint m, int n)\n"
    "{\n"
    "    const int i = get_global_id(0);\n"
    "    if (i >= n) return;\n"
    "    u[i] = u01(r[i]);\n"
    "    below[i] = uint_below(r[i], m);\n"
    "    if (i % 2 == 0 && i + 1 < n) vstore2(box_muller(r[i], r[i + 1]), 0, z + i);\n"
    "}\n";

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)len + strlen(test_kernels) + 2);
    if (s && fread(s, 1, (size_t)len, f) == (size_t)len) {
        s[len] = '\n';
        strcpy(s + len + 1, test_kernels);
    } else {
        free(s);
        s = NULL;
    }
    fclose(f);
    return s;
}

/* kernels/common.cl (the library's own helpers) plus the test kernels. The
 * test runs with the tests/ source folder as its working directory. */
static cl_program build_test_program(fmcl_ctx *ctx)
{
    char *src = read_text("../kernels/common.cl");
    if (!tl_check(src != NULL, "cannot read ../kernels/common.cl (run from tests/)")) return NULL;
    cl_int rc;
    const char *s = src;
    cl_program p = clCreateProgramWithSource(ctx->context, 1, &s, NULL, &rc);
    free(src);
    if (rc == CL_SUCCESS) rc = clBuildProgram(p, 1, &ctx->device, "", NULL, NULL);
    if (rc != CL_SUCCESS) {
        char log[4000] = "";
        if (p)
            clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        tl_check(0, "building the test kernels: %s\n%s", fmcl_cl_strerror(rc), log);
        if (p) clReleaseProgram(p);
        return NULL;
    }
    return p;
}

/* Runs kernel `name` over n items: nbuf whole buffers, then nscalar 32-bit scalars. */
static int run_kernel(fmcl_ctx *ctx, cl_program p, const char *name, size_t n, int nbuf,
                      const fmcl_t *bufs, int nscalar, const cl_uint *scalars)
{
    cl_int rc;
    cl_kernel k = clCreateKernel(p, name, &rc);
    cl_uint a = 0;
    for (int i = 0; i < nbuf && rc == CL_SUCCESS; i++)
        rc = clSetKernelArg(k, a++, sizeof bufs[i].mem, &bufs[i].mem);
    for (int i = 0; i < nscalar && rc == CL_SUCCESS; i++)
        rc = clSetKernelArg(k, a++, sizeof(cl_uint), &scalars[i]);
    if (rc == CL_SUCCESS)
        rc = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &n, NULL, 0, NULL, NULL);
    if (rc == CL_SUCCESS) rc = clFinish(ctx->queue);
    if (k) clReleaseKernel(k);
    return tl_check(rc == CL_SUCCESS, "running test kernel %s: %s", name, fmcl_cl_strerror(rc));
}

static void device_words(fmcl_ctx *ctx)
{
    cl_program p = build_test_program(ctx);
    if (!p) return;
    enum { ncase = 2051, nconv = 10001 };
    uint32_t *in = malloc(6 * ncase * sizeof *in), *out = malloc(4 * ncase * sizeof *out);
    uint64_t sm = 42;
    for (int i = 0; i < 6 * ncase; i++) in[i] = next_word(&sm);
    for (int v = 0; v < 3; v++) memcpy(in + 6 * v, kat[v], 6 * sizeof *in);
    fmcl_t b[4] = {{0}};
    int ok = fmcl_alloc(ctx, 4 * ncase * 4, &b[0], "kat out") == FMCL_OK &&
             fmcl_alloc(ctx, 6 * ncase * 4, &b[1], "kat in") == FMCL_OK &&
             fmcl_write(ctx, b[1], in, 6 * ncase * 4) == FMCL_OK;
    ok = tl_check(ok, "kat buffers: %s", fmcl_ctx_error(ctx)) &&
         run_kernel(ctx, p, "kat", ncase, 2, b, 1, (const cl_uint[]){ncase}) &&
         tl_check(fmcl_read(ctx, b[0], out, 4 * ncase * 4) == FMCL_OK, "kat read");
    if (ok) {
        for (int v = 0; v < 3; v++)
            tl_check(memcmp(out + 4 * v, kat[v] + 6, 16) == 0,
                     "device KAT %d: got %08x %08x %08x %08x", v, out[4 * v], out[4 * v + 1],
                     out[4 * v + 2], out[4 * v + 3]);
        int same = 0;
        for (int i = 0; i < ncase; i++) {
            uint32_t want[4];
            fmcl_philox4x32_10(in + 6 * i, in + 6 * i + 4, want);
            same += memcmp(want, out + 4 * i, sizeof want) == 0;
        }
        printf("  philox words bitwise equal to host: %d of %d counters\n", same, ncase);
        tl_check(same == ncase, "device philox differs from host on %d counters", ncase - same);
    }
    fmcl_release(&b[0]);
    fmcl_release(&b[1]);

    /* u01 and uint_below exact; Box-Muller to the device's log/sqrt/cospi rounding. */
    uint32_t *r = malloc(nconv * sizeof *r), *below = malloc(nconv * sizeof *below);
    float *u = malloc(nconv * sizeof *u), *z = malloc(nconv * sizeof *z);
    double *zw = malloc(nconv * sizeof *zw);
    for (int i = 0; i < nconv; i++) r[i] = next_word(&sm);
    r[0] = 0, r[1] = 0xffffffffu, r[2] = 0xffffffffu, r[3] = 0;
    const uint32_t m = 1000003;
    ok = fmcl_alloc(ctx, nconv * 4, &b[0], "u") == FMCL_OK &&
         fmcl_alloc(ctx, nconv * 4, &b[1], "below") == FMCL_OK &&
         fmcl_alloc(ctx, nconv * 4, &b[2], "z") == FMCL_OK &&
         fmcl_alloc(ctx, nconv * 4, &b[3], "r") == FMCL_OK &&
         fmcl_write(ctx, b[3], r, nconv * 4) == FMCL_OK;
    ok = tl_check(ok, "convert buffers: %s", fmcl_ctx_error(ctx)) &&
         run_kernel(ctx, p, "convert", nconv, 4, b, 2, (const cl_uint[]){m, nconv}) &&
         tl_check(fmcl_read(ctx, b[0], u, nconv * 4) == FMCL_OK &&
                      fmcl_read(ctx, b[1], below, nconv * 4) == FMCL_OK &&
                      fmcl_read(ctx, b[2], z, nconv * 4) == FMCL_OK,
                  "convert read");
    if (ok) {
        int bad_u = 0, bad_b = 0;
        for (int i = 0; i < nconv; i++) {
            bad_u += u[i] != fmcl_u01(r[i]);
            bad_b += below[i] != fmcl_uint_below(r[i], m);
        }
        tl_check(bad_u == 0, "device u01 differs from host on %d words", bad_u);
        tl_check(bad_b == 0, "device uint_below differs from host on %d words", bad_b);
        for (int i = 0; i + 1 < nconv; i += 2) {
            float a0, a1;
            fmcl_box_muller(r[i], r[i + 1], &a0, &a1);
            zw[i] = a0;
            zw[i + 1] = a1;
        }
        tl_close("device box_muller vs host", z, zw, nconv - 1, 2e-6, 1e-5);
    }
    for (int i = 0; i < 4; i++) fmcl_release(&b[i]);
    free(in), free(out), free(r), free(below), free(u), free(z), free(zw);
    clReleaseProgram(p);
}

static int device_checks(fmcl_ctx *ctx, void *user)
{
    (void)user;
    device_words(ctx);

    /* randn: odd length (not a multiple of 4 or of the work-group), guards,
     * a tensor offset; against the host reference and the normal law. */
    enum { n = 300007 };
    float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
    double *wd = malloc(n * sizeof *wd);
    tl_buf x;
    if (tl_buf_new(ctx, &x, n, NULL)) {
        fmcl_status s = fmcl_randn(ctx, x.t, 0xDEADBEEFCAFEull, FMCL_STREAM_SAMPLE, 7, n);
        if (tl_check(s == FMCL_OK, "fmcl_randn: %s", fmcl_ctx_error(ctx)) &&
            tl_buf_read(ctx, &x, got)) {
            fmcl_randn_ref(want, 0xDEADBEEFCAFEull, FMCL_STREAM_SAMPLE, 7, n);
            for (int i = 0; i < n; i++) wd[i] = want[i];
            tl_close("randn vs host", got, wd, n, 2e-6, 1e-5);
            check_normals("device randn", got, n);
        }
        tl_guard_ok(ctx, &x, "randn");
        /* Another step gives another draw (counter word 3 matters). */
        s = fmcl_randn(ctx, x.t, 0xDEADBEEFCAFEull, FMCL_STREAM_SAMPLE, 8, n);
        if (tl_check(s == FMCL_OK, "fmcl_randn, step 8: %s", fmcl_ctx_error(ctx)) &&
            tl_buf_read(ctx, &x, want)) {
            int same = 0;
            for (int i = 0; i < n; i++) same += want[i] == got[i];
            tl_check(same < 10, "randn for steps 7 and 8 share %d values", same);
        }
        tl_buf_free(&x);
    }
    free(got), free(want), free(wd);
    return 0;
}

int main(void)
{
    host_checks();
    return tl_for_each_device(device_checks, NULL);
}
