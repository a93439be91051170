/* U-Net training-step benchmark: the default Fashion-MNIST U-Net (28x28x1,
 * unet.h) on one device, a step being forward, MSE against a target,
 * backward and an Adam update, timed on the host around fmcl_finish after a
 * warm-up step. With --torch it runs tools/bench_unet_torch.py (the same
 * network in PyTorch, float32 on the CPU) and prints the ratio.
 *
 * --profile adds one profiled step: device time per kernel and the GEMMs.
 * --sample times sampling instead (unet_sample.h): a batch of --batch points
 * (64 by default there), 20 midpoint steps, without and with guidance, the
 * median of --steps runs.
 *
 *   bench_unet [--device SPEC] [--batch N] [--steps N] [--torch] [--profile] [--sample]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer_python.h"
#include "runtime/profile.h"
#include "unet_sample.h"
#include "unet_step.h"


static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One more step, profiled: the kernels over 1% of its device time. */
static fmcl_status profile(fmcl_ctx *ctx, unet_step *b, int k)
{
    fmcl_profile_sums ps;
    fmcl_status s = fmcl_profile_begin(ctx, 1 << 16);
    if (s == FMCL_OK) s = unet_step_run(ctx, b, k);
    if (s == FMCL_OK) s = fmcl_profile_end(ctx, &ps);
    if (s != FMCL_OK) return s;
    double total = 0;
    for (int i = 0; i < FMCL_PROF_SLOTS; i++) total += ps.secs[i];
    printf("profiled step: %.1f ms from first start to last end, %.1f ms in kernels\n",
           ps.span * 1e3, total * 1e3);
    for (int i = 0; i < FMCL_PROF_SLOTS; i++) {
        char name[64];
        if (ps.secs[i] < 0.01 * total) continue;
        fmcl_profile_name(ctx, i, name, sizeof name);
        printf("  %-28s %8.1f ms %6lu calls\n", name, ps.secs[i] * 1e3, ps.calls[i]);
    }
    return FMCL_OK;
}

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
    const int steps = 20;
    const float w[2] = {0.0f, 2.0f};
    char py[1024];
    if (torch) python(py, sizeof py);
    printf("device: %s / %s\n", fmcl_ctx_device(ctx)->platform_name,
           fmcl_ctx_device(ctx)->device_name);
    for (int i = 0; i < 2; i++) {
        double ms = 0, mean = 0;
        if (unet_sample_bench(ctx, B, steps, w[i], repeats, &ms, &mean) != FMCL_OK) {
            fprintf(stderr, "bench_unet: %s\n", fmcl_ctx_error(ctx));
            return 1;
        }
        printf("fmcl sample ms=%.1f batch=%d midpoint steps=%d guidance=%g (%d rows per "
               "forward, NFE %d): %.1f images/s, samples' mean %.5f\n",
               ms, B, steps, (double)w[i], w[i] != 0.0f ? 2 * B : B, 2 * steps, B * 1e3 / ms,
               mean);
        fflush(stdout);
        if (!torch) continue;
        double tms = unet_sample_torch_ms(py, B, steps, w[i], repeats);
        if (tms > 0) printf("ratio: torch time / fmcl time = %.2f\n", tms / ms);
        else printf("torch: tools/bench_unet_torch.py did not report a sampling time\n");
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *device = NULL;
    int B = 0, steps = 5, torch = 0, prof = 0, sample = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--torch")) torch = 1;
        else if (!strcmp(argv[i], "--profile")) prof = 1;
        else if (!strcmp(argv[i], "--sample")) sample = 1;
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
    if (sample) {
        int rc = run_sample(ctx, B, steps, torch);
        fmcl_ctx_free(ctx);
        return rc;
    }
    unet_step b;
    fmcl_status s = unet_step_setup(ctx, &b, B);
    double t0 = 0, t1 = 0;
    if (s == FMCL_OK) s = unet_step_run(ctx, &b, 1); /* warm-up: CLBlast compiles */
    if (s == FMCL_OK) s = fmcl_finish(ctx);
    t0 = now();
    for (int k = 0; k < steps && s == FMCL_OK; k++) {
        s = unet_step_run(ctx, &b, k + 2);
        if (s == FMCL_OK) s = fmcl_pace(ctx);
    }
    if (s == FMCL_OK) s = fmcl_finish(ctx);
    t1 = now();
    if (s == FMCL_OK && prof) s = profile(ctx, &b, steps + 2);
    int rc = 0;
    if (s != FMCL_OK) {
        fprintf(stderr, "bench_unet: %s\n", fmcl_ctx_error(ctx));
        rc = 1;
    } else {
        const fmcl_unet_spec *c = &b.u->cfg;
        double ms = (t1 - t0) * 1e3 / steps, fl = fmcl_unet_plan_flops(b.u->plan);
        const fmcl_device_info *info = fmcl_ctx_device(ctx);
        printf("device: %s / %s\n", info->platform_name, info->device_name);
        printf("U-Net 28x28x1: base %d, mult (%d, %d, %d), %d block, attention at 7x7 (%d heads), "
               "%zu parameters, %.1f MFLOP forward per image\n",
               c->base, c->mult[0], c->mult[1], c->mult[2], c->blocks, c->heads, b.u->n_params,
               fl / 1e6);
        printf("activations + parameters, gradients, Adam moments at batch %d: %.0f MiB\n", B,
               fmcl_unet_peak_bytes(c, B) / 1048576.0);
        printf("fmcl ms_per_step=%.1f batch=%d steps=%d: %.2f steps/s, %.1f images/s, "
               "%.2f ms forward+backward+Adam per image, %.1f GFLOP/s (3x forward)\n",
               ms, B, steps, 1e3 / ms, B * 1e3 / ms, ms / B, 3 * fl * B / (ms * 1e6));
        if (torch) {
            char py[1024];
            double tms = unet_step_torch_ms(python(py, sizeof py), B, steps);
            if (tms > 0)
                printf("ratio: torch time / fmcl time = %.2f (fmcl's speed / torch's)\n", tms / ms);
            else
                printf("torch: tools/bench_unet_torch.py did not report a step time\n");
        }
    }
    unet_step_free(&b);
    fmcl_ctx_free(ctx);
    return rc;
}
