/* The workloads of `fmcl bench`, identical on every device: the FMA peak,
 * the MLP's GEMM shapes, a training step of the reference and of the small
 * 2D workload (timed, then profiled), sampling throughput, and the first
 * training step of a new process. Times are host clocks around clFinish
 * (or a read that waits), best or median of repeats as stated. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "nn/nn_ops.h"
#include "runtime/peak.h"
#include "runtime/vec.h"
#include "spawn.h"
#include "unet_step.h"

uint64_t bench_fnv1a(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* Work-items and rounds grow until one launch takes 50 ms; best of 3. */
static fmcl_status peak(fmcl_ctx *ctx, double *gflops)
{
    const int n = 1 << 18;
    fmcl_t buf = {0};
    fmcl_status s = fmcl_alloc(ctx, (size_t)n * 4, &buf, "FMA-peak buffer");
    fmcl_t out = buf;
    int iters = 16;
    if (s == FMCL_OK) s = fmcl_peak_fma(ctx, out, 0.5f, 0.25f, 1, n);
    if (s == FMCL_OK) s = fmcl_finish(ctx);
    while (s == FMCL_OK) {
        double t0 = cli_now();
        s = fmcl_peak_fma(ctx, out, 0.5f, 0.25f, iters, n);
        if (s == FMCL_OK) s = fmcl_finish(ctx);
        double dt = cli_now() - t0;
        if (dt >= 0.05 || iters >= 1 << 16) break;
        iters *= 2;
    }
    *gflops = 0;
    for (int rep = 0; rep < 3 && s == FMCL_OK; rep++) {
        double t0 = cli_now();
        s = fmcl_peak_fma(ctx, out, 0.5f, 0.25f, iters, n);
        if (s == FMCL_OK) s = fmcl_finish(ctx);
        double g = (double)n * iters * FMCL_PEAK_FLOP_PER_ITER / (cli_now() - t0) / 1e9;
        if (g > *gflops) *gflops = g;
    }
    fmcl_release(&buf);
    return s;
}

/* The GEMMs of the two training workloads (hidden layers of both, and the
 * reference model's skinny first and last layers), as fmcl_mlp issues them. */
static const bench_gemm gemm_shapes[BENCH_GEMMS] = {
    {"reference hidden forward", 0, 1, 4096, 512, 512, 0, 0, 0},
    {"reference hidden weight grad", 1, 0, 512, 512, 4096, 0, 0, 0},
    {"reference hidden input grad", 0, 0, 4096, 512, 512, 0, 0, 0},
    {"reference first layer forward", 0, 1, 4096, 512, 3, 0, 0, 0},
    {"reference last layer forward", 0, 1, 4096, 2, 512, 0, 0, 0},
    {"small hidden forward", 0, 1, 1024, 128, 128, 0, 0, 0},
    {"small hidden weight grad", 1, 0, 128, 128, 1024, 0, 0, 0},
    {"small hidden input grad", 0, 0, 1024, 128, 128, 0, 0, 0},
};

static fmcl_status gemms(fmcl_ctx *ctx, int reps, bench_result *r)
{
    size_t na = 0, nb = 0, nc = 0;
    for (int i = 0; i < BENCH_GEMMS; i++) {
        const bench_gemm *g = &gemm_shapes[i];
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
    for (int i = 0; i < BENCH_GEMMS && s == FMCL_OK; i++) {
        bench_gemm g = gemm_shapes[i];
        int lda = g.ta ? g.M : g.K, ldb = g.tb ? g.K : g.N;
        /* The other implementation first, then the one in use. */
        for (int pass = 0; pass < 2 && s == FMCL_OK; pass++) {
            fmcl_gemm_use(ctx, pass ? packed : !packed);
            s = fmcl_gemm_reserve(ctx, g.ta, g.tb, g.M, g.N, g.K, lda, ldb, g.N);
            double best = INFINITY;
            for (int rep = -1; rep < reps && s == FMCL_OK; rep++) { /* -1: warm-up */
                double t0 = cli_now();
                s = fmcl_gemm(ctx, g.ta, g.tb, g.M, g.N, g.K, 1.0f, A, lda, B, ldb, 0.0f, C, g.N);
                if (s == FMCL_OK) s = fmcl_finish(ctx);
                double dt = cli_now() - t0;
                if (rep >= 0 && dt < best) best = dt;
            }
            double gflops = 2.0 * g.M * g.N * g.K / best / 1e9;
            if (pass) g.secs = best, g.gflops = gflops;
            else g.alt_gflops = gflops;
        }
        if (s == FMCL_OK) r->gemm[r->n_gemm++] = g;
    }
    fmcl_gemm_use(ctx, packed);
    fmcl_release(&buf);
    return s;
}

static double forward_flops(int batch, int width, int depth)
{
    return 2.0 * batch * (3.0 * width + (depth - 1.0) * width * width + width * 2.0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void profile_summary(fmcl_ctx *ctx, const fmcl_profile_sums *p, int steps, bench_train *w,
                            bench_result *r)
{
    double launches = 0;
    for (int k = 0; k < FMCL_PROF_GEMM; k++) launches += (double)p->calls[k];
    w->launches_per_step = launches / steps;
    w->gemms_per_step =
        (double)(p->calls[FMCL_PROF_GEMM] + p->calls[fmcl_kernel_slot(ctx, FMCL_K_gemm_packed)]) /
        steps;
    w->profiled_ms_per_step = 1e3 * p->span / steps;
    int used[FMCL_PROF_SLOTS] = {0};
    for (w->n_top = 0; w->n_top < BENCH_TOP; w->n_top++) {
        int best = -1;
        for (int k = 0; k < FMCL_PROF_SLOTS; k++)
            if (!used[k] && p->calls[k] && (best < 0 || p->secs[k] > p->secs[best])) best = k;
        if (best < 0) break;
        used[best] = 1;
        w->top[w->n_top] = (bench_kernel_time){best, 1e3 * p->secs[best] / steps,
                                               (double)p->calls[best] / steps};
        fmcl_profile_name(ctx, best, r->kernel_names[best], sizeof r->kernel_names[best]);
    }
}

/* The median and range of the repeats' ms per step, and the rates. */
static void step_times(bench_train *w, double *ms)
{
    qsort(ms, (size_t)w->repeats, sizeof ms[0], cmp_double);
    w->ms_min = ms[0];
    w->ms_max = ms[w->repeats - 1];
    w->ms_median = w->repeats % 2 ? ms[w->repeats / 2]
                                  : 0.5 * (ms[w->repeats / 2 - 1] + ms[w->repeats / 2]);
    w->steps_per_s = 1e3 / w->ms_median;
    w->samples_per_s = w->steps_per_s * w->batch;
}

/* The reference-shaped MLP 3 -> width x depth -> 2 and, when d is non-NULL,
 * the checkerboard it trains on. */
static fmcl_status mlp_model(fmcl_ctx *ctx, int width, int depth, uint64_t seed,
                             fmcl_model **m, fmcl_data **d)
{
    fmcl_model_config mc;
    fmcl_model_config_default(&mc, FMCL_MODEL_MLP);
    mc.mlp.width = width, mc.mlp.depth = depth;
    fmcl_status s = fmcl_model_create(ctx, &mc, seed, m);
    if (s == FMCL_OK && d)
        s = fmcl_data_create_toy(FMCL_TOY_CHECKERBOARD, d, ctx->err, sizeof ctx->err);
    return s;
}

/* Warm-up, then repeats of timed steps (the median and range per step),
 * then profiled steps; every loss from seed 0 goes into the checksums. */
static fmcl_status train(fmcl_ctx *ctx, bench_train *w, bench_result *r)
{
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = w->batch;
    tc.steps = w->warmup + w->repeats * w->steps_per_repeat + w->profile_steps;
    fmcl_model *m = NULL;
    fmcl_data *d = NULL;
    fmcl_trainer *t = NULL;
    float *loss = malloc((size_t)tc.steps * sizeof *loss);
    double ms[16];
    if (!loss) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory");
    fmcl_status s = mlp_model(ctx, w->width, w->depth, 0, &m, &d);
    if (s == FMCL_OK) s = fmcl_trainer_create(m, d, &tc, &t);
    if (s == FMCL_OK) s = fmcl_trainer_run(t, w->warmup);
    if (s == FMCL_OK && w->warmup) s = fmcl_trainer_losses(t, 0, w->warmup, loss);
    for (int rep = 0; rep < w->repeats && s == FMCL_OK; rep++) {
        double t0 = cli_now();
        s = fmcl_trainer_run(t, w->steps_per_repeat);
        if (s == FMCL_OK) s = fmcl_trainer_losses(t, fmcl_trainer_step(t) - 1, 1, loss);
        ms[rep] = 1e3 * (cli_now() - t0) / w->steps_per_repeat;
    }
    fmcl_profile_sums sums;
    if (s == FMCL_OK) s = fmcl_profile_begin(ctx, (size_t)w->profile_steps * 4096);
    if (s == FMCL_OK) s = fmcl_trainer_run(t, w->profile_steps);
    if (s == FMCL_OK) s = fmcl_profile_end(ctx, &sums);
    if (s == FMCL_OK) s = fmcl_trainer_losses(t, 0, tc.steps, loss);
    if (s == FMCL_OK) {
        step_times(w, ms);
        w->gflops = 3 * forward_flops(w->batch, w->width, w->depth) * w->steps_per_s / 1e9;
        w->n_losses = tc.steps;
        double sum = 0;
        for (int i = 0; i < tc.steps; i++) sum += loss[i];
        w->loss_mean = sum / tc.steps;
        w->loss_hash = bench_fnv1a(loss, (size_t)tc.steps * sizeof *loss, BENCH_FNV_INIT);
        profile_summary(ctx, &sums, w->profile_steps, w, r);
    }
    fmcl_trainer_free(t);
    fmcl_data_free(d);
    fmcl_model_free(m);
    free(loss);
    return s;
}

/* The default U-Net on noise: warm-up, repeats of timed steps, profiled
 * steps; the last step's loss is the checksum. */
static fmcl_status unet(fmcl_ctx *ctx, bench_train *w, bench_result *r)
{
    unet_step b;
    double ms[16];
    float loss = 0;
    int k = 1; /* Adam's step counter */
    fmcl_status s = unet_step_setup(ctx, &b, w->batch);
    for (int i = 0; i < w->warmup && s == FMCL_OK; i++) s = unet_step_run(ctx, &b, k++);
    if (s == FMCL_OK) s = fmcl_finish(ctx);
    for (int rep = 0; rep < w->repeats && s == FMCL_OK; rep++) {
        double t0 = cli_now();
        for (int i = 0; i < w->steps_per_repeat && s == FMCL_OK; i++)
            s = unet_step_run(ctx, &b, k++);
        if (s == FMCL_OK) s = fmcl_finish(ctx);
        ms[rep] = 1e3 * (cli_now() - t0) / w->steps_per_repeat;
    }
    fmcl_profile_sums sums;
    if (s == FMCL_OK) s = fmcl_profile_begin(ctx, (size_t)w->profile_steps << 14);
    for (int i = 0; i < w->profile_steps && s == FMCL_OK; i++) s = unet_step_run(ctx, &b, k++);
    if (s == FMCL_OK) s = fmcl_profile_end(ctx, &sums);
    if (s == FMCL_OK) s = unet_step_loss(ctx, &b, &loss);
    if (s == FMCL_OK) {
        step_times(w, ms);
        w->params = b.u->n_params;
        w->gflops = 3 * fmcl_unet_plan_flops(b.u->plan) * w->batch * w->steps_per_s / 1e9;
        w->n_losses = 1;
        w->loss_mean = loss;
        w->loss_hash = bench_fnv1a(&loss, sizeof loss, BENCH_FNV_INIT);
        profile_summary(ctx, &sums, w->profile_steps, w, r);
    }
    unet_step_free(&b);
    return s;
}

/* RK4 from seed 0 through an untrained reference model (seed 1): the same
 * field on every device, so the samples' summary must agree. */
static fmcl_status sample(fmcl_ctx *ctx, bench_sample *w)
{
    fmcl_model *m = NULL;
    float *x = malloc((size_t)w->points * 2 * sizeof *x);
    if (!x) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory");
    fmcl_status s = mlp_model(ctx, w->width, w->depth, 1, &m, NULL);
    /* Warm-up at the solve's chunk size (4096 rows or fewer). */
    fmcl_sample_config sc = {.solver = FMCL_SOLVER_RK4, .steps = 1,
                             .n = w->points < 4096 ? w->points : 4096, .seed = 0};
    if (s == FMCL_OK) s = fmcl_sample(m, &sc, x, NULL, NULL);
    sc.steps = w->steps;
    sc.n = w->points;
    double t0 = cli_now();
    if (s == FMCL_OK) s = fmcl_sample(m, &sc, x, NULL, &w->nfe);
    w->secs = cli_now() - t0;
    if (s == FMCL_OK) {
        w->points_nfe_per_s = (double)w->points * w->nfe / w->secs;
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
        w->hash = bench_fnv1a(x, (size_t)w->points * 2 * sizeof *x, BENCH_FNV_INIT);
    }
    fmcl_model_free(m);
    free(x);
    return s;
}

double bench_first_step(const char *spec, double parts[4], char *err, size_t errlen)
{
    double t0 = cli_now();
    fmcl_ctx *ctx = NULL;
    fmcl_status s = fmcl_ctx_create(&ctx, spec, err, errlen);
    if (s != FMCL_OK) return -1;
    parts[0] = cli_now() - t0;
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.steps = 1;
    fmcl_model *m = NULL;
    fmcl_data *d = NULL;
    fmcl_trainer *t = NULL;
    float loss;
    s = mlp_model(ctx, 512, 4, 0, &m, &d);
    parts[1] = cli_now() - t0 - parts[0];
    if (s == FMCL_OK) s = fmcl_trainer_create(m, d, &tc, &t);
    parts[2] = cli_now() - t0 - parts[0] - parts[1];
    if (s == FMCL_OK) s = fmcl_trainer_run(t, 1);
    if (s == FMCL_OK) s = fmcl_trainer_losses(t, 0, 1, &loss);
    double dt = cli_now() - t0;
    parts[3] = dt - parts[0] - parts[1] - parts[2];
    if (s != FMCL_OK) snprintf(err, errlen, "%s", fmcl_ctx_error(ctx));
    fmcl_trainer_free(t);
    fmcl_data_free(d);
    fmcl_model_free(m);
    fmcl_ctx_free(ctx);
    return s == FMCL_OK ? dt : -1;
}

/* `self bench --first-step --device SPEC` in a new process; also the wall
 * time from spawn to exit. */
static void first_step_child(const char *self, bench_result *r)
{
    char *argv[] = {"fmcl", "bench", "--first-step", "--device", r->spec, NULL};
    char out[4096];
    double wall = 0;
    int rc = self ? cli_spawn_capture(self, argv, NULL, out, sizeof out, &wall) : -1;
    const char *v = strstr(out, "first_step_seconds=");
    if (rc != 0 || !v) {
        snprintf(r->first_step_note, sizeof r->first_step_note,
                 self ? "the child process failed: %.200s" : "no path to this program%.0s", out);
        return;
    }
    r->first_step_s = strtod(v + strlen("first_step_seconds="), NULL);
    r->first_step_process_s = wall;
    const char *p = strstr(v, " parts=");
    if (!p || sscanf(p, " parts=%lf,%lf,%lf,%lf", &r->first_step_parts[0],
                     &r->first_step_parts[1], &r->first_step_parts[2],
                     &r->first_step_parts[3]) != 4)
        snprintf(r->first_step_note, sizeof r->first_step_note, "no breakdown from the child");
}

void bench_device(const char *spec, const bench_opts *o, const char *self, bench_result *r)
{
    memset(r, 0, sizeof *r);
    r->first_step_s = r->first_step_process_s = -1;
    fmcl_ctx *ctx = NULL;
    if (fmcl_ctx_create(&ctx, spec, r->error, sizeof r->error) != FMCL_OK) return;
    r->info = *fmcl_ctx_device(ctx);
    snprintf(r->spec, sizeof r->spec, "%d:%d", r->info.platform_index, r->info.device_index);
    snprintf(r->notes, sizeof r->notes, "%s", fmcl_ctx_notes(ctx));
    r->gemm_packed = fmcl_gemm_fuses(ctx);
    int q = o->quick;
    r->train[0] = (bench_train){.name = "reference", .width = 512, .depth = 4, .batch = 4096,
                                .warmup = 1, .repeats = q ? 1 : 3, .steps_per_repeat = 1,
                                .profile_steps = 1};
    r->train[1] = (bench_train){.name = "small", .width = 128, .depth = 3, .batch = 1024,
                                .warmup = 2, .repeats = q ? 1 : 3,
                                .steps_per_repeat = q ? 3 : 10, .profile_steps = q ? 1 : 3};
    r->train[2] = (bench_train){.name = "U-Net", .unet = 1, .batch = 16, .warmup = 1,
                                .repeats = q ? 1 : 3, .steps_per_repeat = 1,
                                .profile_steps = 1};
    r->sample = (bench_sample){.width = 512, .depth = 4, .points = q ? 4096 : 16384,
                               .steps = q ? 1 : 2};
    fmcl_status s = peak(ctx, &r->peak_gflops);
    if (s == FMCL_OK) s = gemms(ctx, q ? 1 : 3, r);
    for (int i = 0; i < 2 && s == FMCL_OK; i++) s = train(ctx, &r->train[i], r);
    if (s == FMCL_OK) s = sample(ctx, &r->sample);
    if (s == FMCL_OK) s = unet(ctx, &r->train[2], r);
    if (s != FMCL_OK) snprintf(r->error, sizeof r->error, "%s", fmcl_ctx_error(ctx));
    fmcl_ctx_free(ctx);
    if (s == FMCL_OK) first_step_child(self, r);
}
