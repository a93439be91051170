/* The suite of fmcl_bench_run, identical on every device: the FMA peak, the
 * MLPs' GEMM shapes, the training workloads (train.c), sampling throughput;
 * and the first training step of a new process (fmcl_bench_first_step). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/workloads.h"
#include "runtime/peak.h"
#include "runtime/vec.h"

void fmcl_bench_config_default(fmcl_bench_config *cfg) { *cfg = (fmcl_bench_config){0}; }

double fmcl_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t fmcl_bench_fnv1a(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double fmcl_bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Work-items and rounds grow until one launch takes 50 ms; best of 3. */
static fmcl_status peak(fmcl_ctx *ctx, double *gflops)
{
    const int n = 1 << 18;
    fmcl_t buf = {0};
    fmcl_status s = fmcl_alloc(ctx, (size_t)n * 4, &buf, "FMA-peak buffer");
    int iters = 16;
    if (s == FMCL_OK) s = fmcl_peak_fma(ctx, buf, 0.5f, 0.25f, 1, n);
    if (s == FMCL_OK) s = fmcl_finish(ctx);
    while (s == FMCL_OK) {
        double t0 = fmcl_bench_now();
        s = fmcl_peak_fma(ctx, buf, 0.5f, 0.25f, iters, n);
        if (s == FMCL_OK) s = fmcl_finish(ctx);
        if (fmcl_bench_now() - t0 >= 0.05 || iters >= 1 << 16) break;
        iters *= 2;
    }
    *gflops = 0;
    for (int rep = 0; rep < 3 && s == FMCL_OK; rep++) {
        double t0 = fmcl_bench_now();
        s = fmcl_peak_fma(ctx, buf, 0.5f, 0.25f, iters, n);
        if (s == FMCL_OK) s = fmcl_finish(ctx);
        double g = (double)n * iters * FMCL_PEAK_FLOP_PER_ITER / (fmcl_bench_now() - t0) / 1e9;
        if (g > *gflops) *gflops = g;
    }
    fmcl_release(&buf);
    return s;
}

/* The GEMMs of the two MLP workloads (hidden layers of both, and the
 * reference model's skinny first and last layers), as the MLP issues them. */
static const fmcl_bench_gemm gemm_shapes[FMCL_BENCH_GEMMS] = {
    {"reference hidden forward", 0, 1, 4096, 512, 512, 0, 0, 0},
    {"reference hidden weight grad", 1, 0, 512, 512, 4096, 0, 0, 0},
    {"reference hidden input grad", 0, 0, 4096, 512, 512, 0, 0, 0},
    {"reference first layer forward", 0, 1, 4096, 512, 3, 0, 0, 0},
    {"reference last layer forward", 0, 1, 4096, 2, 512, 0, 0, 0},
    {"small hidden forward", 0, 1, 1024, 128, 128, 0, 0, 0},
    {"small hidden weight grad", 1, 0, 128, 128, 1024, 0, 0, 0},
    {"small hidden input grad", 0, 0, 1024, 128, 128, 0, 0, 0},
};

static fmcl_status gemms(fmcl_ctx *ctx, int reps, fmcl_bench_result *r)
{
    size_t na = 0, nb = 0, nc = 0;
    for (int i = 0; i < FMCL_BENCH_GEMMS; i++) {
        const fmcl_bench_gemm *g = &gemm_shapes[i];
        size_t a = (size_t)g->M * g->K, b = (size_t)g->K * g->N, c = (size_t)g->M * g->N;
        na = a > na ? a : na, nb = b > nb ? b : nb, nc = c > nc ? c : nc;
    }
    fmcl_t buf = {0};
    fmcl_status s = fmcl_alloc(ctx, (na + nb + nc) * 4, &buf, "GEMM benchmark buffers");
    /* Small finite values, so no NaN or denormal slows a device down. */
    if (s == FMCL_OK) s = fmcl_fill(ctx, buf, 0.01f, (int)(na + nb + nc));
    fmcl_t A = buf, B = fmcl_at(buf, na), C = fmcl_at(buf, na + nb);
    r->n_gemm = 0;
    int packed = fmcl_gemm_fuses(ctx);
    for (int i = 0; i < FMCL_BENCH_GEMMS && s == FMCL_OK; i++) {
        fmcl_bench_gemm g = gemm_shapes[i];
        int lda = g.ta ? g.M : g.K, ldb = g.tb ? g.K : g.N;
        /* The other implementation first, then the one in use. */
        for (int pass = 0; pass < 2 && s == FMCL_OK; pass++) {
            fmcl_gemm_use(ctx, pass ? packed : !packed);
            s = fmcl_gemm_reserve(ctx, g.ta, g.tb, g.M, g.N, g.K, lda, ldb, g.N);
            double best = INFINITY;
            for (int rep = -1; rep < reps && s == FMCL_OK; rep++) { /* -1: warm-up */
                double t0 = fmcl_bench_now();
                s = fmcl_gemm(ctx, g.ta, g.tb, g.M, g.N, g.K, 1.0f, A, lda, B, ldb, 0.0f, C, g.N);
                if (s == FMCL_OK) s = fmcl_finish(ctx);
                double dt = fmcl_bench_now() - t0;
                if (rep >= 0 && dt < best) best = dt;
            }
            double gflops = 2.0 * g.M * g.N * g.K / best / 1e9;
            if (pass)
                g.seconds = best, g.gflops = gflops;
            else
                g.other_gflops = gflops;
        }
        if (s == FMCL_OK) r->gemm[r->n_gemm++] = g;
    }
    fmcl_gemm_use(ctx, packed);
    fmcl_release(&buf);
    return s;
}

/* RK4 from seed 0 through an untrained reference model (seed 1): the same
 * field on every device, so the samples' summary must agree. */
static fmcl_status sample(fmcl_ctx *ctx, fmcl_bench_sample *w)
{
    fmcl_model *m = NULL;
    float *x = malloc((size_t)w->points * 2 * sizeof *x);
    if (!x) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory");
    fmcl_status s = fmcl_bench_mlp(ctx, w->width, w->depth, 1, &m, NULL);
    /* Warm-up at the solve's chunk size (4096 rows or fewer). */
    fmcl_sample_config sc = {
        .solver = FMCL_SOLVER_RK4, .steps = 1, .n = w->points < 4096 ? w->points : 4096, .seed = 0};
    if (s == FMCL_OK) s = fmcl_sample(m, &sc, x, NULL, NULL);
    sc.steps = w->steps;
    sc.n = w->points;
    double t0 = fmcl_bench_now();
    if (s == FMCL_OK) s = fmcl_sample(m, &sc, x, NULL, &w->nfe);
    w->seconds = fmcl_bench_now() - t0;
    if (s == FMCL_OK) {
        w->points_nfe_per_s = (double)w->points * w->nfe / w->seconds;
        for (int d = 0; d < 2; d++) {
            double sum = 0, sq = 0;
            for (int i = 0; i < w->points; i++) sum += x[2 * i + d];
            w->mean[d] = sum / w->points;
            for (int i = 0; i < w->points; i++) {
                double e = x[2 * i + d] - w->mean[d];
                sq += e * e;
            }
            w->std[d] = sqrt(sq / w->points);
        }
        w->hash = fmcl_bench_fnv1a(x, (size_t)w->points * 2 * sizeof *x, FMCL_BENCH_FNV_INIT);
    } else {
        w->nfe = 0;
    }
    fmcl_model_free(m);
    free(x);
    return s;
}

fmcl_status fmcl_bench_first_step(const char *spec, fmcl_bench_first *out, char *err, size_t errlen)
{
    *out = (fmcl_bench_first){.seconds = -1, .process_seconds = -1};
    double t0 = fmcl_bench_now();
    fmcl_ctx *ctx = NULL;
    fmcl_status s = fmcl_ctx_create(&ctx, spec, err, errlen);
    if (s != FMCL_OK) return s;
    out->context = fmcl_bench_now() - t0;
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.steps = 1;
    fmcl_model *m = NULL;
    fmcl_data *d = NULL;
    fmcl_trainer *t = NULL;
    float loss;
    s = fmcl_bench_mlp(ctx, 512, 4, 0, &m, &d);
    out->model = fmcl_bench_now() - t0 - out->context;
    if (s == FMCL_OK) s = fmcl_trainer_create(m, d, &tc, &t);
    out->trainer = fmcl_bench_now() - t0 - out->context - out->model;
    if (s == FMCL_OK) s = fmcl_trainer_run(t, 1);
    if (s == FMCL_OK) s = fmcl_trainer_losses(t, 0, 1, &loss);
    double dt = fmcl_bench_now() - t0;
    out->step = dt - out->context - out->model - out->trainer;
    if (s == FMCL_OK)
        out->seconds = dt;
    else if (err && errlen)
        snprintf(err, errlen, "%s", fmcl_ctx_error(ctx));
    fmcl_trainer_free(t);
    fmcl_data_free(d);
    fmcl_model_free(m);
    fmcl_ctx_free(ctx);
    return s;
}

fmcl_status fmcl_bench_run(fmcl_ctx *ctx, const fmcl_bench_config *cfg, fmcl_bench_result *r)
{
    fmcl_bench_config def;
    if (!cfg) fmcl_bench_config_default(&def), cfg = &def;
    memset(r, 0, sizeof *r);
    r->first = (fmcl_bench_first){.seconds = -1, .process_seconds = -1};
    r->device = *fmcl_ctx_device(ctx);
    snprintf(r->spec, sizeof r->spec, "%d:%d", r->device.platform_index, r->device.device_index);
    snprintf(r->notes, sizeof r->notes, "%s", fmcl_ctx_notes(ctx));
    r->gemm_impl = fmcl_gemm_fuses(ctx) ? FMCL_BENCH_PACKED : FMCL_BENCH_CLBLAST;
    int q = cfg->quick;
    for (int w = 0; w < FMCL_BENCH_TRAINS; w++)
        fmcl_bench_train_default(&r->train[w], (fmcl_bench_workload)w, cfg);
    r->sample = (fmcl_bench_sample){
        .width = 512, .depth = 4, .points = q ? 4096 : 16384, .steps = q ? 1 : 2};
    fmcl_status s = peak(ctx, &r->peak_gflops);
    if (s == FMCL_OK) s = gemms(ctx, q ? 1 : 3, r);
    for (int i = 0; i < 2 && s == FMCL_OK; i++) s = fmcl_bench_train_run(ctx, &r->train[i]);
    if (s == FMCL_OK) s = sample(ctx, &r->sample);
    if (s == FMCL_OK) s = fmcl_bench_train_run(ctx, &r->train[FMCL_BENCH_UNET]);
    if (s != FMCL_OK) snprintf(r->error, sizeof r->error, "%s", fmcl_ctx_error(ctx));
    return s;
}
