/* The training workloads (fmcl_bench_train_run): the reference and small 2D
 * MLPs through the trainer, the default U-Net's step (unet.c). Warm-up,
 * repeats of timed steps each ended by a wait for the queue (the median and
 * range per step), then profiled steps; the losses go into the checksums. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/workloads.h"
#include "flow/trainer.h"
#include "runtime/profile.h"

#define MAX_REPEATS 16

void fmcl_bench_train_default(fmcl_bench_train *w, fmcl_bench_workload which,
                              const fmcl_bench_config *cfg)
{
    int q = cfg && cfg->quick;
    memset(w, 0, sizeof *w);
    switch (which) {
    case FMCL_BENCH_SMALL:
        *w = (fmcl_bench_train){.name = "small",
                                .width = 128,
                                .depth = 3,
                                .batch = 1024,
                                .warmup = 2,
                                .repeats = q ? 1 : 3,
                                .steps_per_repeat = q ? 3 : 10,
                                .profile_steps = q ? 1 : 3};
        break;
    case FMCL_BENCH_UNET:
        *w = (fmcl_bench_train){.name = "U-Net",
                                .model = FMCL_BENCH_MODEL_UNET,
                                .batch = 16,
                                .warmup = 1,
                                .repeats = q ? 1 : 3,
                                .steps_per_repeat = 1,
                                .profile_steps = 1};
        break;
    default:
        *w = (fmcl_bench_train){.name = "reference",
                                .width = 512,
                                .depth = 4,
                                .batch = 4096,
                                .warmup = 1,
                                .repeats = q ? 1 : 3,
                                .steps_per_repeat = 1,
                                .profile_steps = 1};
        break;
    }
}

static double mlp_forward_flops(int width, int depth)
{
    return 2.0 * (3.0 * width + (depth - 1.0) * width * width + width * 2.0);
}

/* The profile's launch counts and its slowest kernels, per step. */
static void profile_summary(fmcl_ctx *ctx, const fmcl_profile_sums *p, fmcl_bench_train *w)
{
    int steps = w->profile_steps;
    double launches = 0;
    for (int k = 0; k < FMCL_PROF_GEMM; k++) launches += (double)p->calls[k];
    w->launches_per_step = launches / steps;
    w->gemms_per_step = (double)(p->calls[FMCL_PROF_GEMM] +
                                 p->calls[fmcl_kernel_slot(ctx, FMCL_K_gemm_packed)]) /
                        steps;
    w->syncs_per_step = (double)p->syncs / steps;
    w->paces_per_step = (double)p->paces / steps;
    w->profiled_ms_per_step = 1e3 * p->span / steps;
    int used[FMCL_PROF_SLOTS] = {0};
    for (w->n_top = 0; w->n_top < FMCL_BENCH_TOP; w->n_top++) {
        int best = -1;
        for (int k = 0; k < FMCL_PROF_SLOTS; k++)
            if (!used[k] && p->calls[k] && (best < 0 || p->secs[k] > p->secs[best])) best = k;
        if (best < 0) break;
        used[best] = 1;
        fmcl_bench_kernel *top = &w->top[w->n_top];
        fmcl_profile_name(ctx, best, top->kernel, sizeof top->kernel);
        top->ms_per_step = 1e3 * p->secs[best] / steps;
        top->calls_per_step = (double)p->calls[best] / steps;
    }
}

/* The median and range of the repeats' ms per step, and the rates. */
static void step_times(fmcl_bench_train *w, double *ms)
{
    w->ms_median = fmcl_bench_median(ms, w->repeats);
    w->ms_min = ms[0];
    w->ms_max = ms[w->repeats - 1];
    w->steps_per_s = 1e3 / w->ms_median;
    w->samples_per_s = w->steps_per_s * w->batch;
    w->gflops = 3 * w->flop_per_example * w->batch * w->steps_per_s / 1e9;
}

fmcl_status fmcl_bench_mlp(fmcl_ctx *ctx, int width, int depth, uint64_t seed, fmcl_model **m,
                           fmcl_data **d)
{
    fmcl_model_config mc;
    fmcl_model_config_default(&mc, FMCL_MODEL_MLP);
    mc.mlp.width = width, mc.mlp.depth = depth;
    fmcl_status s = fmcl_model_create(ctx, &mc, seed, m);
    char err[256];
    if (s == FMCL_OK && d &&
        (s = fmcl_data_create_toy(FMCL_TOY_CHECKERBOARD, d, err, sizeof err)) != FMCL_OK)
        s = fmcl_fail(ctx, s, "%s", err);
    return s;
}

static fmcl_status mlp(fmcl_ctx *ctx, fmcl_bench_train *w)
{
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = w->batch;
    tc.steps = w->warmup + w->repeats * w->steps_per_repeat + w->profile_steps;
    fmcl_model *m = NULL;
    fmcl_data *d = NULL;
    fmcl_trainer *t = NULL;
    float *loss = malloc((size_t)tc.steps * sizeof *loss);
    double ms[MAX_REPEATS];
    if (!loss) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory");
    fmcl_status s = fmcl_bench_mlp(ctx, w->width, w->depth, 0, &m, &d);
    if (s == FMCL_OK) {
        w->params = (int64_t)fmcl_model_param_count(m);
        w->flop_per_example = mlp_forward_flops(w->width, w->depth);
        s = fmcl_trainer_create(m, d, &tc, &t);
    }
    if (s == FMCL_OK) s = fmcl_trainer_run(t, w->warmup);
    if (s == FMCL_OK && w->warmup) s = fmcl_trainer_losses(t, 0, w->warmup, loss);
    for (int rep = 0; rep < w->repeats && s == FMCL_OK; rep++) {
        double t0 = fmcl_bench_now();
        s = fmcl_trainer_run(t, w->steps_per_repeat);
        if (s == FMCL_OK) s = fmcl_trainer_losses(t, fmcl_trainer_step(t) - 1, 1, loss);
        ms[rep] = 1e3 * (fmcl_bench_now() - t0) / w->steps_per_repeat;
    }
    fmcl_profile_sums sums;
    int profiling = w->profile_steps > 0;
    if (s == FMCL_OK && profiling) s = fmcl_profile_begin(ctx, (size_t)w->profile_steps * 4096);
    if (s == FMCL_OK) s = fmcl_trainer_run(t, w->profile_steps);
    if (s == FMCL_OK && profiling) s = fmcl_profile_end(ctx, &sums);
    if (s == FMCL_OK) s = fmcl_trainer_losses(t, 0, tc.steps, loss);
    if (s == FMCL_OK) {
        step_times(w, ms);
        w->n_losses = tc.steps;
        double sum = 0;
        for (int i = 0; i < tc.steps; i++) sum += loss[i];
        w->loss_mean = sum / tc.steps;
        w->loss_hash = fmcl_bench_fnv1a(loss, (size_t)tc.steps * sizeof *loss, FMCL_BENCH_FNV_INIT);
        if (profiling) profile_summary(ctx, &sums, w);
    }
    fmcl_trainer_free(t);
    fmcl_data_free(d);
    fmcl_model_free(m);
    free(loss);
    return s;
}

/* The last step's loss is the checksum. */
static fmcl_status unet(fmcl_ctx *ctx, fmcl_bench_train *w)
{
    fmcl_bench_unet_step b;
    double ms[MAX_REPEATS];
    float loss = 0;
    int k = 1; /* Adam's step counter */
    fmcl_status s = fmcl_bench_unet_setup(ctx, &b, w->batch);
    for (int i = 0; i < w->warmup && s == FMCL_OK; i++) s = fmcl_bench_unet_run(ctx, &b, k++);
    if (s == FMCL_OK) s = fmcl_finish(ctx);
    for (int rep = 0; rep < w->repeats && s == FMCL_OK; rep++) {
        double t0 = fmcl_bench_now();
        for (int i = 0; i < w->steps_per_repeat && s == FMCL_OK; i++) {
            s = fmcl_bench_unet_run(ctx, &b, k++);
            /* A bounded queue, as the trainer keeps it (trainer.h). */
            if (s == FMCL_OK && (i + 1) % PACE_STEPS == 0) s = fmcl_pace(ctx);
        }
        if (s == FMCL_OK) s = fmcl_finish(ctx);
        ms[rep] = 1e3 * (fmcl_bench_now() - t0) / w->steps_per_repeat;
    }
    fmcl_profile_sums sums;
    int profiling = w->profile_steps > 0;
    if (s == FMCL_OK && profiling) s = fmcl_profile_begin(ctx, (size_t)w->profile_steps << 14);
    for (int i = 0; i < w->profile_steps && s == FMCL_OK; i++)
        s = fmcl_bench_unet_run(ctx, &b, k++);
    if (s == FMCL_OK && profiling) s = fmcl_profile_end(ctx, &sums);
    if (s == FMCL_OK) s = fmcl_bench_unet_loss(ctx, &b, &loss);
    if (s == FMCL_OK) {
        w->params = (int64_t)b.u->n_params;
        w->flop_per_example = fmcl_unet_plan_flops(b.u->plan);
        step_times(w, ms);
        w->n_losses = 1;
        w->loss_mean = loss;
        w->loss_hash = fmcl_bench_fnv1a(&loss, sizeof loss, FMCL_BENCH_FNV_INIT);
        if (profiling) profile_summary(ctx, &sums, w);
    }
    fmcl_bench_unet_free(&b);
    return s;
}

fmcl_status fmcl_bench_train_run(fmcl_ctx *ctx, fmcl_bench_train *w)
{
    int mlp_ok = w->model != FMCL_BENCH_MODEL_MLP || (w->width >= 1 && w->depth >= 1);
    if (w->batch < 1 || w->warmup < 0 || w->repeats < 1 || w->repeats > MAX_REPEATS ||
        w->steps_per_repeat < 1 || w->profile_steps < 0 || !mlp_ok)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "benchmark workload %s: batch %d, repeats %d (1 to %d), steps per "
                         "repeat %d, warm-up %d, profiled steps %d, width %d, depth %d",
                         w->name, w->batch, w->repeats, MAX_REPEATS, w->steps_per_repeat, w->warmup,
                         w->profile_steps, w->width, w->depth);
    return w->model == FMCL_BENCH_MODEL_UNET ? unet(ctx, w) : mlp(ctx, w);
}
