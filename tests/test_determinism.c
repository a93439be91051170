/* Determinism (docs/PORTABILITY.md).
 * On each device: the program is built as OpenCL C 1.2 without options that
 * loosen floating point; the same seed gives bitwise-identical checkpoint bytes
 * (parameters after training) and samples in two separate contexts, and
 * another seed does not. The training streams equal the host's Philox draws
 * exactly: rows picked from a user's array, t, and the noise's integer words.
 * Across devices (each compared with the first found; skipped with a message
 * when there is only one): those streams are bitwise identical, and a
 * 200-step run's losses and its samples' statistics agree within the
 * tolerances below, which PORTABILITY.md states with the measured values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/toy2d.h"
#include "flow/flow_ops.h"
#include "runtime/rng.h"
#include "testlib.h"

/* Same-device runs: short, with clipping so the gradient-norm reduction runs. */
#define SAME_STEPS 25
/* Stream shapes: B rows of D noise elements (two Philox blocks, one partial)
 * for STREAM_STEPS steps; rows drawn from an array of N_ROWS. */
#define STREAM_B 1031
#define STREAM_D 5
#define STREAM_STEPS 3
#define N_ROWS 100003
#define BLOCKS ((STREAM_D + 3) / 4)
/* The cross-device run. */
#define RUN_STEPS 200
#define RUN_SAMPLES 2003

/* Cross-device tolerances. Measured between PoCL and rusticl (llvmpipe):
 * noise normals 4.8e-7 apart (log, sqrt, cospi, sinpi differ by an ulp or
 * so); losses within 1.2e-7 relative over all 200 steps; sample means 2e-8,
 * covariances 1.5e-7, the same support fraction. The run is not chaotic:
 * a learning rate 1-3 ulp off moves losses by <= 1.9e-7 and covariances by
 * <= 6.3e-7 after 200 steps. The bounds leave a factor of ~500 and more for
 * devices whose libm and GEMM kernels round differently (GPUs); the support
 * fraction allows 5 of the 2003 samples to land across an edge. */
#define TOL_NOISE_ABS 2e-6
#define TOL_NOISE_REL 1e-5
#define TOL_LOSS_REL 1e-4
#define TOL_MEAN_ABS 1e-4
#define TOL_COV_ABS 1e-3
#define TOL_SUPPORT_ABS (5.0 / RUN_SAMPLES)

typedef struct {
    char name[300];
    float rows[STREAM_STEPS * STREAM_B];
    float t[STREAM_STEPS * STREAM_B];
    float x0[STREAM_STEPS * STREAM_B * STREAM_D];
    uint32_t words[STREAM_STEPS * STREAM_B * BLOCKS * 4];
    float loss[RUN_STEPS];
    double mean[2], cov[3], support;
} device_run;

#define MAX_DEVICES 8
static device_run *runs[MAX_DEVICES];
static int n_runs;
static char tmpdir[64];

static int ok(fmcl_ctx *ctx, fmcl_status s, const char *what)
{
    return tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx));
}

/* ---- same device, same seed ---- */

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

/* Trains a fresh model from seed, saves it, samples from it. The checkpoint's
 * bytes go to *ckpt (malloc'ed), the samples to out (n x 2). */
static int train_save_sample(fmcl_ctx *ctx, uint64_t seed, unsigned char **ckpt, size_t *len,
                             float *out, int n)
{
    fmcl_model *m = tl_mlp(ctx, 2, 37, 2, 0, 0, seed);
    fmcl_data *d = tl_toy(FMCL_TOY_CHECKERBOARD);
    fmcl_trainer *t = NULL;
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = 301;
    tc.steps = SAME_STEPS;
    tc.lr = 3e-3f;
    tc.clip = 1.0f;
    tc.seed = seed;
    fmcl_sample_config sc = {.solver = FMCL_SOLVER_MIDPOINT, .steps = 8, .n = n, .seed = seed};
    char path[128];
    snprintf(path, sizeof path, "%s/run.safetensors", tmpdir);
    *ckpt = NULL;
    int good = m && d && ok(ctx, fmcl_trainer_create(m, d, &tc, &t), "trainer") &&
               ok(ctx, fmcl_trainer_run(t, SAME_STEPS), "training") &&
               ok(ctx, fmcl_model_save(m, path), "saving") &&
               ok(ctx, fmcl_sample(m, &sc, out, NULL, NULL), "sampling");
    if (good) good = tl_check((*ckpt = read_file(path, len)) != NULL, "reading %s back", path);
    remove(path);
    fmcl_trainer_free(t);
    fmcl_data_free(d);
    fmcl_model_free(m);
    return good;
}

static void same_device(fmcl_ctx *ctx)
{
    enum { n = 257 };
    const fmcl_device_info *d = fmcl_ctx_device(ctx);
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", d->platform_index, d->device_index);
    char err[1024];
    fmcl_ctx *ctx2 = NULL;
    if (!tl_check(fmcl_ctx_create(&ctx2, spec, err, sizeof err) == FMCL_OK,
                  "a second context on %s: %s", spec, err))
        return;
    float a[2 * n], b[2 * n], c[2 * n];
    unsigned char *ca = NULL, *cb = NULL, *cc = NULL;
    size_t la = 0, lb = 0, lc = 0;
    if (train_save_sample(ctx, 7, &ca, &la, a, n) && train_save_sample(ctx2, 7, &cb, &lb, b, n) &&
        train_save_sample(ctx2, 8, &cc, &lc, c, n)) {
        int same_ckpt = la == lb && memcmp(ca, cb, la) == 0;
        int same_samples = memcmp(a, b, sizeof a) == 0;
        printf("  same seed, two contexts: checkpoint %zu bytes %s, %d samples %s\n", la,
               same_ckpt ? "identical" : "DIFFER", n, same_samples ? "identical" : "DIFFER");
        tl_check(same_ckpt, "checkpoints of two runs with the same seed differ");
        tl_check(same_samples, "samples of two runs with the same seed differ");
        /* The comparison sees the seed: a checkpoint of another seed differs. */
        tl_check(la == lc && memcmp(ca, cc, la) != 0 && memcmp(a, c, sizeof a) != 0,
                 "seeds 7 and 8 gave the same checkpoint or samples");
    }
    free(ca), free(cb), free(cc);
    fmcl_ctx_free(ctx2);
}

/* The program is built as OpenCL C 1.2 (where the device has it) and without
 * any option that lets the compiler change results: kernels/common.cl's
 * FP_CONTRACT OFF then holds on every device. */
static void check_build_options(fmcl_ctx *ctx)
{
    static const char *const loose[] = {"-cl-fast-relaxed-math",         "-cl-mad-enable",
                                        "-cl-unsafe-math-optimizations", "-cl-finite-math-only",
                                        "-cl-no-signed-zeros",           "-cl-denorms-are-zero"};
    char opts[512] = "";
    cl_int rc = clGetProgramBuildInfo(ctx->program, ctx->device, CL_PROGRAM_BUILD_OPTIONS,
                                      sizeof opts - 1, opts, NULL);
    if (!tl_check(rc == CL_SUCCESS, "reading the build options: %s", fmcl_cl_strerror(rc))) return;
    printf("  build options: %s\n", opts);
    const char *v = fmcl_ctx_device(ctx)->opencl_c_version;
    int has12 = !strstr(v, "OpenCL C 1.0") && !strstr(v, "OpenCL C 1.1");
    tl_check(!has12 || strstr(opts, "-cl-std=CL1.2"), "built without -cl-std=CL1.2 on %s", v);
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++)
        tl_check(!strstr(opts, loose[i]), "built with %s", loose[i]);
}

/* ---- the training streams ---- */

static char *read_text(const char *path, const char *append)
{
    size_t len = 0;
    unsigned char *b = read_file(path, &len);
    char *s = b ? realloc(b, len + strlen(append) + 2) : NULL;
    if (!s) {
        free(b);
        return NULL;
    }
    s[len] = '\n';
    strcpy(s + len + 1, append);
    return s;
}

/* The noise's Philox words of a training step, as kernels/path.cl draws them. */
static const char *words_kernel =
    "__kernel void noise_words(__global uint *out, ulong seed, uint step, int B, int blocks)\n"
    "{\n"
    "    const int i = get_global_id(0);\n"
    "    if (i >= B * blocks) return;\n"
    "    vstore4(philox(seed, i / blocks, i % blocks, FMCL_STREAM_NOISE, step), i, out);\n"
    "}\n";

static int device_words(fmcl_ctx *ctx, uint64_t seed, uint32_t *words)
{
    char *src = read_text("../kernels/common.cl", words_kernel);
    if (!tl_check(src != NULL, "cannot read ../kernels/common.cl (run from tests/)")) return 0;
    const char *s = src;
    cl_int rc;
    cl_program p = clCreateProgramWithSource(ctx->context, 1, &s, NULL, &rc);
    free(src);
    if (rc == CL_SUCCESS) rc = clBuildProgram(p, 1, &ctx->device, "-cl-std=CL1.2", NULL, NULL);
    cl_kernel k = rc == CL_SUCCESS ? clCreateKernel(p, "noise_words", &rc) : NULL;
    fmcl_t out = {0};
    size_t per_step = (size_t)STREAM_B * BLOCKS;
    int good = rc == CL_SUCCESS &&
               fmcl_alloc(ctx, STREAM_STEPS * per_step * 16, &out, "noise words") == FMCL_OK;
    for (cl_uint step = 0; good && step < STREAM_STEPS; step++) {
        cl_int B = STREAM_B, blocks = BLOCKS;
        cl_ulong sd = seed;
        size_t global = per_step;
        rc = clSetKernelArg(k, 0, sizeof out.mem, &out.mem);
        if (rc == CL_SUCCESS) rc = clSetKernelArg(k, 1, sizeof sd, &sd);
        if (rc == CL_SUCCESS) rc = clSetKernelArg(k, 2, sizeof step, &step);
        if (rc == CL_SUCCESS) rc = clSetKernelArg(k, 3, sizeof B, &B);
        if (rc == CL_SUCCESS) rc = clSetKernelArg(k, 4, sizeof blocks, &blocks);
        if (rc == CL_SUCCESS)
            rc = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &global, NULL, 0, NULL, NULL);
        good = rc == CL_SUCCESS &&
               fmcl_read(ctx, out, words + 4 * step * per_step, per_step * 16) == FMCL_OK;
    }
    tl_check(good, "noise words kernel: %s %s", fmcl_cl_strerror(rc), fmcl_ctx_error(ctx));
    fmcl_release(&out);
    if (k) clReleaseKernel(k);
    if (p) clReleaseProgram(p);
    return good;
}

/* Rows picked from an array whose row r holds r; t and x0 from the OT path
 * with x1 = 0 and sigma_min = 0, where X's time column is t and U = -x0. */
static int device_streams(fmcl_ctx *ctx, uint64_t seed, device_run *r)
{
    const int B = STREAM_B, D = STREAM_D, W = D + 1;
    float *data = malloc(N_ROWS * sizeof *data), *X = malloc((size_t)B * W * sizeof *X);
    float *U = malloc((size_t)B * D * sizeof *U);
    for (int i = 0; i < N_ROWS; i++) data[i] = (float)i;
    tl_buf bd = {0}, bx1 = {0}, brow = {0}, bX = {0}, bU = {0};
    int good = tl_buf_new(ctx, &bd, N_ROWS, data) && tl_buf_new(ctx, &bx1, (size_t)B * D, NULL) &&
               tl_buf_new(ctx, &brow, B, NULL) && tl_buf_new(ctx, &bX, (size_t)B * W, NULL) &&
               tl_buf_new(ctx, &bU, (size_t)B * D, NULL);
    for (uint32_t step = 0; good && step < STREAM_STEPS; step++) {
        good = ok(ctx, fmcl_gather_rows(ctx, brow.t, bd.t, seed, step, N_ROWS, 1, B), "gather") &&
               ok(ctx, fmcl_ot_interp(ctx, bX.t, bU.t, bx1.t, seed, step, 0.0f, B, D, 0),
                  "ot_interp") &&
               tl_buf_read(ctx, &brow, r->rows + step * B) && tl_buf_read(ctx, &bX, X) &&
               tl_buf_read(ctx, &bU, U);
        for (int i = 0; good && i < B; i++) {
            r->t[step * B + i] = X[i * W + D];
            for (int j = 0; j < D; j++) r->x0[((size_t)step * B + i) * D + j] = -U[i * D + j];
        }
    }
    tl_buf_free(&bd), tl_buf_free(&bx1), tl_buf_free(&brow), tl_buf_free(&bX), tl_buf_free(&bU);
    free(data), free(X), free(U);
    return good && device_words(ctx, seed, r->words);
}

/* The same streams drawn on the host: integers compared exactly. */
static void check_streams_against_host(const device_run *r, uint64_t seed)
{
    int bad_rows = 0, bad_t = 0, bad_words = 0;
    for (uint32_t step = 0; step < STREAM_STEPS; step++)
        for (uint32_t i = 0; i < STREAM_B; i++) {
            uint32_t w[4];
            fmcl_philox(seed, i, 0, FMCL_STREAM_INDEX, step, w);
            bad_rows += r->rows[step * STREAM_B + i] != (float)fmcl_uint_below(w[0], N_ROWS);
            fmcl_philox(seed, i, 0, FMCL_STREAM_TIME, step, w);
            bad_t += r->t[step * STREAM_B + i] != fmcl_u01(w[0]);
            for (uint32_t blk = 0; blk < BLOCKS; blk++) {
                fmcl_philox(seed, i, blk, FMCL_STREAM_NOISE, step, w);
                bad_words += memcmp(w, r->words + 4 * ((step * STREAM_B + i) * BLOCKS + blk),
                                    sizeof w) != 0;
            }
        }
    printf("  streams vs host Philox: %d rows, %d t, %d noise blocks differ (of %d, %d, %d)\n",
           bad_rows, bad_t, bad_words, STREAM_STEPS * STREAM_B, STREAM_STEPS * STREAM_B,
           STREAM_STEPS * STREAM_B * BLOCKS);
    tl_check(bad_rows == 0 && bad_t == 0 && bad_words == 0,
             "the device's training streams differ from the host's Philox draws");
}

/* ---- the 200-step run ---- */

/* Checkerboard support as in test_e2e: a = 0.45 x, b = 0.45 y inside
 * [-2, 2]^2 with floor(a) + floor(b) even. */
static int on_board(const float *p)
{
    double a = 0.45 * p[0], b = 0.45 * p[1];
    return fabs(a) <= 2 && fabs(b) <= 2 && ((long)floor(a) + (long)floor(b)) % 2 == 0;
}

static void sample_stats(const float *x, int n, device_run *r)
{
    double m0 = 0, m1 = 0, c00 = 0, c01 = 0, c11 = 0;
    int in = 0;
    for (int i = 0; i < n; i++) m0 += x[2 * i], m1 += x[2 * i + 1], in += on_board(x + 2 * i);
    m0 /= n, m1 /= n;
    for (int i = 0; i < n; i++) {
        double a = x[2 * i] - m0, b = x[2 * i + 1] - m1;
        c00 += a * a, c01 += a * b, c11 += b * b;
    }
    r->mean[0] = m0, r->mean[1] = m1;
    r->cov[0] = c00 / (n - 1), r->cov[1] = c01 / (n - 1), r->cov[2] = c11 / (n - 1);
    r->support = (double)in / n;
}

static int device_run_200(fmcl_ctx *ctx, device_run *r)
{
    fmcl_model *m = tl_mlp(ctx, 2, 48, 2, 0, 0, 11);
    fmcl_data *d = tl_toy(FMCL_TOY_CHECKERBOARD);
    fmcl_trainer *t = NULL;
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = 509;
    tc.steps = RUN_STEPS;
    tc.lr = 3e-3f;
    tc.seed = 11;
    fmcl_sample_config sc = {
        .solver = FMCL_SOLVER_MIDPOINT, .steps = 20, .n = RUN_SAMPLES, .seed = 12};
    float *x = malloc(2 * RUN_SAMPLES * sizeof *x);
    int good = m && d && ok(ctx, fmcl_trainer_create(m, d, &tc, &t), "trainer") &&
               ok(ctx, fmcl_trainer_run(t, RUN_STEPS), "training") &&
               ok(ctx, fmcl_trainer_losses(t, 0, RUN_STEPS, r->loss), "losses") &&
               ok(ctx, fmcl_sample(m, &sc, x, NULL, NULL), "sampling");
    if (good) {
        sample_stats(x, RUN_SAMPLES, r);
        printf("  200 steps: loss %.4f -> %.4f; samples mean (%.4f, %.4f) cov (%.4f, %.4f, "
               "%.4f) on the support %.4f\n",
               r->loss[0], r->loss[RUN_STEPS - 1], r->mean[0], r->mean[1], r->cov[0], r->cov[1],
               r->cov[2], r->support);
    }
    free(x);
    fmcl_trainer_free(t);
    fmcl_data_free(d);
    fmcl_model_free(m);
    return good;
}

/* ---- across devices ---- */

static double max_abs_diff(const double *a, const double *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

static void compare_devices(const device_run *a, const device_run *b)
{
    printf("  against %s:\n", a->name);
    int same_rows = memcmp(a->rows, b->rows, sizeof a->rows) == 0;
    int same_t = memcmp(a->t, b->t, sizeof a->t) == 0;
    int same_words = memcmp(a->words, b->words, sizeof a->words) == 0;
    printf("    integer streams: rows %s, t %s, noise words %s\n",
           same_rows ? "identical" : "DIFFER", same_t ? "identical" : "DIFFER",
           same_words ? "identical" : "DIFFER");
    tl_check(same_rows && same_t && same_words, "integer random streams differ across devices");
    tl_close_f("noise normals (device log/sqrt/cospi)", b->x0, a->x0,
               sizeof a->x0 / sizeof a->x0[0], TOL_NOISE_ABS, TOL_NOISE_REL);

    double worst = 0, at_10 = 0;
    int worst_step = 0;
    for (int i = 0; i < RUN_STEPS; i++) {
        double rel = fabs((double)b->loss[i] - a->loss[i]) / fabs((double)a->loss[i]);
        if (i < 10) at_10 = fmax(at_10, rel);
        if (rel > worst || rel != rel) worst = rel, worst_step = i + 1;
    }
    printf("    losses: max relative difference %.3g over the first 10 steps, %.3g over %d "
           "(step %d); tolerance %g\n",
           at_10, worst, RUN_STEPS, worst_step, TOL_LOSS_REL);
    tl_check(worst <= TOL_LOSS_REL, "losses differ by %.3g relative at step %d", worst, worst_step);
    double dm = max_abs_diff(a->mean, b->mean, 2), dc = max_abs_diff(a->cov, b->cov, 3);
    double ds = fabs(a->support - b->support);
    printf("    samples: |d mean| %.3g (tol %g), |d cov| %.3g (tol %g), |d support| %.3g (tol "
           "%g)\n",
           dm, TOL_MEAN_ABS, dc, TOL_COV_ABS, ds, TOL_SUPPORT_ABS);
    tl_check(dm <= TOL_MEAN_ABS, "sample means differ by %.3g", dm);
    tl_check(dc <= TOL_COV_ABS, "sample covariances differ by %.3g", dc);
    tl_check(ds <= TOL_SUPPORT_ABS, "support fractions differ by %.3g", ds);
}

static int per_device(fmcl_ctx *ctx, void *user)
{
    (void)user;
    check_build_options(ctx);
    same_device(ctx);
    device_run *r = calloc(1, sizeof *r);
    const fmcl_device_info *d = fmcl_ctx_device(ctx);
    snprintf(r->name, sizeof r->name, "%s / %s", d->platform_name, d->device_name);
    const uint64_t seed = 0x5EED5EED1234ull;
    if (!device_streams(ctx, seed, r) || !device_run_200(ctx, r)) {
        free(r);
        return 1;
    }
    check_streams_against_host(r, seed);
    if (n_runs > 0) compare_devices(runs[0], r);
    if (n_runs < MAX_DEVICES)
        runs[n_runs++] = r;
    else
        free(r);
    return 0;
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fmcl-determinism-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    if (tl_run_devices(per_device, NULL) > 0 && n_runs < 2)
        tl_skip("cross-device agreement: needs two devices whose runs completed, found %d; "
                "install mesa-opencl-icd and set RUSTICL_ENABLE=llvmpipe for Mesa's rusticl on "
                "the CPU",
                n_runs);
    for (int i = 0; i < n_runs; i++) free(runs[i]);
    rmdir(tmpdir);
    return tl_summary();
}
