/* U-Net benchmark: the default Fashion-MNIST U-Net (28x28x1, docs/IMAGES.md)
 * on one device, through the public benchmark API (fmcl/bench.h): a step is
 * forward, MSE against a target, backward and an Adam update, timed on the
 * host around a wait for the queue after a warm-up step. With --torch it
 * runs tools/bench_unet_torch.py (the same network in PyTorch, float32 on
 * the CPU) and prints the ratio.
 *
 * --profile adds one profiled step: device time of the slowest kernels and
 * the GEMMs. --sample times sampling instead (fmcl_bench_unet_sample): a
 * batch of --batch points (64 by default there), 20 midpoint steps, without
 * and with guidance, the median of --steps runs.
 *
 * A client of the public API only, like the fmcl command (it stays in tools/
 * for that reason; bench/ holds the programs that need the internals).
 *
 *   bench_unet [--device SPEC] [--batch N] [--steps N] [--torch] [--profile] [--sample]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmcl.h"
#include "fmcl/peer_python.h"

/* The torch interpreter, said aloud. */
static const char *python(char *py, size_t cap)
{
    const char *why = peer_python(py, cap);
    printf("torch: %s (%s)\n", py, why);
    return py;
}

/* --sample: 20 midpoint steps over B points, without and with guidance. */
static int run_sample(fmcl_ctx *ctx, int B, int repeats, int torch)
{
    const float w[2] = {0.0f, 2.0f};
    char py[1024];
    if (torch) python(py, sizeof py);
    for (int i = 0; i < 2; i++) {
        fmcl_bench_unet_sampling s = {.n = B, .steps = 20, .repeats = repeats, .guidance = w[i]};
        if (fmcl_bench_unet_sample(ctx, &s) != FMCL_OK) {
            fprintf(stderr, "bench_unet: %s\n", fmcl_ctx_error(ctx));
            return 1;
        }
        printf("fmcl sample ms=%.1f batch=%d midpoint steps=%d guidance=%g (%d rows per "
               "forward, NFE %d): %.1f images/s, samples' mean %.5f\n",
               s.ms_median, B, s.steps, (double)w[i], w[i] != 0.0f ? 2 * B : B, 2 * s.steps,
               B * 1e3 / s.ms_median, s.mean);
        fflush(stdout);
        if (!torch) continue;
        char args[160];
        snprintf(args, sizeof args, "--batch %d --sample %d --guidance %g --steps %d", B, s.steps,
                 (double)w[i], repeats);
        double tms = peer_unet_torch(py, args, "torch sample ms");
        if (tms > 0)
            printf("ratio: torch time / fmcl time = %.2f\n", tms / s.ms_median);
        else
            printf("torch: tools/bench_unet_torch.py did not report a sampling time\n");
    }
    return 0;
}

static void print_profile(const fmcl_bench_train *w)
{
    printf("profiled step: %.1f ms from first start to last end; its %d slowest kernels:\n",
           w->profiled_ms_per_step, w->n_top);
    for (int k = 0; k < w->n_top; k++)
        printf("  %-28s %8.1f ms %6.0f calls\n", w->top[k].kernel, w->top[k].ms_per_step,
               w->top[k].calls_per_step);
}

int main(int argc, char **argv)
{
    const char *device = NULL;
    int B = 0, steps = 5, torch = 0, prof = 0, sample = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc)
            device = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--torch"))
            torch = 1;
        else if (!strcmp(argv[i], "--profile"))
            prof = 1;
        else if (!strcmp(argv[i], "--sample"))
            sample = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--device SPEC] [--batch N] [--steps N] [--torch] [--profile] "
                    "[--sample]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!B) B = sample ? 64 : 32;
    if (B < 1 || B > 4096 || steps < 1 || steps > 10000) {
        fprintf(stderr, "bench_unet: --batch must be in [1, 4096] and --steps in [1, 10000]\n");
        return 2;
    }
    char err[1024];
    fmcl_ctx *ctx;
    if (fmcl_ctx_create(&ctx, device, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "bench_unet: %s\n", err);
        return 1;
    }
    const fmcl_device_info *info = fmcl_ctx_device(ctx);
    printf("device: %s / %s\n", info->platform_name, info->device_name);
    if (sample) {
        int rc = run_sample(ctx, B, steps, torch);
        fmcl_ctx_free(ctx);
        return rc;
    }
    fmcl_bench_train w;
    fmcl_bench_train_default(&w, FMCL_BENCH_UNET, NULL);
    w.batch = B;
    w.warmup = 1; /* CLBlast compiles */
    w.repeats = 1;
    w.steps_per_repeat = steps;
    w.profile_steps = prof;
    if (fmcl_bench_train_run(ctx, &w) != FMCL_OK) {
        fprintf(stderr, "bench_unet: %s\n", fmcl_ctx_error(ctx));
        fmcl_ctx_free(ctx);
        return 1;
    }
    double ms = w.ms_median;
    printf("U-Net 28x28x1 (the default): %lld parameters, %.1f MFLOP forward per image\n",
           (long long)w.params, w.flop_per_example / 1e6);
    printf("fmcl ms_per_step=%.1f batch=%d steps=%d: %.2f steps/s, %.1f images/s, "
           "%.2f ms forward+backward+Adam per image, %.1f GFLOP/s (3x forward)\n",
           ms, B, steps, w.steps_per_s, w.samples_per_s, ms / B, w.gflops);
    if (prof) print_profile(&w);
    if (torch) {
        char py[1024], args[128];
        snprintf(args, sizeof args, "--batch %d --steps %d", B, steps);
        double tms = peer_unet_torch(python(py, sizeof py), args, "torch ms_per_step");
        if (tms > 0)
            printf("ratio: torch time / fmcl time = %.2f (fmcl's speed / torch's)\n", tms / ms);
        else
            printf("torch: tools/bench_unet_torch.py did not report a step time\n");
    }
    fmcl_ctx_free(ctx);
    return 0;
}
