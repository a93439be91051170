/* fmcl bench's tables of one device's figures (bench.h). */
#include <stdio.h>

#include "bench.h"

static void print_train(const fmcl_bench_train *b, double torch_steps_per_s)
{
    if (b->model == FMCL_BENCH_MODEL_UNET)
        printf("\ntraining, %s: 28x28x1 default, %lld parameters, batch %d: %.3f steps/s, "
               "%.1f samples/s, %.1f GFLOP/s\n",
               b->name, (long long)b->params, b->batch, b->steps_per_s, b->samples_per_s,
               b->gflops);
    else
        printf("\ntraining, %s: MLP 3-%dx%d-2, batch %d: %.3f steps/s, %.0f samples/s, "
               "%.1f GFLOP/s\n",
               b->name, b->width, b->depth, b->batch, b->steps_per_s, b->samples_per_s, b->gflops);
    printf("  ms/step median %.1f (min %.1f, max %.1f over %d repeats of %d steps)\n", b->ms_median,
           b->ms_min, b->ms_max, b->repeats, b->steps_per_repeat);
    if (torch_steps_per_s > 0)
        printf("  PyTorch %.3f steps/s: fmcl/torch %.2f\n", torch_steps_per_s,
               b->steps_per_s / torch_steps_per_s);
    printf("  per step: %.0f kernel launches, %.0f GEMM calls, %.2g host waits for the queue "
           "(and %.2g that bound its depth); profiled %.1f ms/step:\n",
           b->launches_per_step, b->gemms_per_step, b->syncs_per_step, b->paces_per_step,
           b->profiled_ms_per_step);
    for (int k = 0; k < b->n_top; k++)
        printf("    %-28s %8.2f ms %5.1f%% %6.1f calls\n", b->top[k].kernel, b->top[k].ms_per_step,
               100 * b->top[k].ms_per_step / b->profiled_ms_per_step, b->top[k].calls_per_step);
    printf("  checksum of the %d loss%s from seed 0: mean %.4g, fnv1a %016llx\n", b->n_losses,
           b->n_losses > 1 ? "es" : "", b->loss_mean, (unsigned long long)b->loss_hash);
}

void bench_print(const fmcl_bench_result *r, const fmcl_bench_peer *t)
{
    const fmcl_device_info *d = &r->device;
    printf("\n== %s  %s / %s (%s, %u compute units, driver %s)\n", r->spec, d->platform_name,
           d->device_name, fmcl_device_type_name(d->type), d->compute_units, d->driver_version);
    if (r->notes[0]) printf("%s", r->notes);
    if (!d->device_name[0]) return;
    printf("FMA rate of the peak_fma kernel (16 scalar chains per work-item): %.1f GFLOP/s\n",
           r->peak_gflops);
    /* The other implementation's GFLOP/s beside the one in use. */
    int packed = r->gemm_impl == FMCL_BENCH_PACKED;
    printf("\n  GEMM through %s\n", packed ? "fmcl's packed kernels" : "CLBlast");
    printf("  %-32s %-22s %9s %8s %7s %8s%s\n", "GEMM (row-major, as the MLP)", "M x N x K", "ms",
           "GFLOP/s", "%fma", packed ? "CLBlast" : "packed", t->ran ? "   torch  fmcl/torch" : "");
    for (int i = 0; i < r->n_gemm; i++) {
        const fmcl_bench_gemm *g = &r->gemm[i];
        char shape[48];
        snprintf(shape, sizeof shape, "%c%c %dx%dx%d", g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->M,
                 g->N, g->K);
        printf("  %-32s %-22s %9.2f %8.1f %6.0f%% %8.1f", g->what, shape, 1e3 * g->seconds,
               g->gflops, 100 * g->gflops / r->peak_gflops, g->other_gflops);
        if (t->ran && t->gemm_gflops[i] > 0)
            printf(" %7.1f %10.2f", t->gemm_gflops[i], g->gflops / t->gemm_gflops[i]);
        printf("\n");
    }
    for (int w = 0; w < FMCL_BENCH_TRAINS; w++)
        if (r->train[w].n_losses) print_train(&r->train[w], t->ran ? t->steps_per_s[w] : 0);
    const fmcl_bench_sample *s = &r->sample;
    if (s->nfe) {
        printf("\nsampling: %d points, rk4 %d steps (NFE %d), MLP 3-%dx%d-2: %.2f s, %.3g "
               "points x NFE / s\n",
               s->points, s->steps, s->nfe, s->width, s->depth, s->seconds, s->points_nfe_per_s);
        if (t->ran && t->points_nfe_per_s > 0)
            printf("  PyTorch %.3g points x NFE / s: fmcl/torch %.2f\n", t->points_nfe_per_s,
                   s->points_nfe_per_s / t->points_nfe_per_s);
        printf("  checksum of the samples: mean (%.4g, %.4g), std (%.4g, %.4g), fnv1a %016llx\n",
               s->mean[0], s->mean[1], s->std[0], s->std[1], (unsigned long long)s->hash);
    }
    const fmcl_bench_first *f = &r->first;
    if (f->seconds >= 0)
        printf("\nfirst training step of a new process (reference workload, caches warm): "
               "%.2f s from context creation (context %.2f, model %.2f, trainer with GEMM "
               "warm-up %.2f, step %.2f), %.2f s from process start to exit\n",
               f->seconds, f->context, f->model, f->trainer, f->step, f->process_seconds);
    else if (f->note[0])
        printf("\nfirst training step of a new process: not measured (%s)\n", f->note);
    if (r->error[0]) printf("error: %s\n", r->error);
}
