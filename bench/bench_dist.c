/* Data-parallel training steps, timed (docs/DISTRIBUTED.md, "Measured"):
 * run alone for N = 1, under mpirun for N ranks. For the 2D reference
 * model (MLP 3-512x4-2 on the checkerboard, batch 4096) and the default
 * U-Net (1 x 28 x 28, batch 64, on random 8-bit images) it prints, on rank
 * 0, the wall time per step and, with N >= 2, its parts as rank 0 saw them:
 * compute (waiting for its device to finish its share's forward and
 * backward), the exchange (reading the gradients, the sum over the group,
 * writing them back) and the sum alone (which includes waiting for the
 * slowest rank), and the bytes each rank sums per step; then the all-reduce
 * alone: 5 back-to-back sums of the same size after one that lines the
 * ranks up (the interconnect's cost without the ranks' imbalance).
 *
 *   [mpirun -np N] bench_dist [--model mlp|unet|both] [--steps S] [--device SPEC]
 *                             [--coupling ot]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/group.h"
#include "fmcl.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Times S steps of one workload after 2 warm-up steps; prints on rank 0. */
static int bench(fmcl_ctx *ctx, fmcl_group *g, int unet, int S, int ot)
{
    fmcl_model_config mc;
    fmcl_model_config_default(&mc, unet ? FMCL_MODEL_UNET : FMCL_MODEL_MLP);
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = unet ? 64 : 4096;
    tc.steps = S + 2;
    tc.coupling = ot ? FMCL_COUPLING_OT : FMCL_COUPLING_INDEPENDENT;
    if (ot && !unet) tc.batch = 1024;
    char err[512];
    fmcl_data *d = NULL;
    fmcl_status s;
    if (unet) {
        const int n = 1024, shape[3] = {1, 28, 28};
        unsigned char *px = malloc((size_t)n * 784);
        if (!px) return 1;
        for (size_t i = 0; i < (size_t)n * 784; i++) px[i] = (unsigned char)(i * 2654435761u >> 24);
        s = fmcl_data_create_pixels(px, NULL, n, shape, &d, err, sizeof err);
        free(px);
    } else {
        s = fmcl_data_create_toy(FMCL_TOY_CHECKERBOARD, &d, err, sizeof err);
    }
    if (s != FMCL_OK) {
        fprintf(stderr, "bench_dist: %s\n", err);
        return 1;
    }
    fmcl_model *m = NULL;
    fmcl_trainer *t = NULL;
    float *loss = malloc((size_t)tc.steps * sizeof *loss);
    s = loss ? fmcl_model_create(ctx, &mc, 1, &m) : FMCL_ERR_NOMEM;
    if (s == FMCL_OK) s = fmcl_trainer_create_group(m, d, &tc, g, &t);
    if (s == FMCL_OK) s = fmcl_trainer_run(t, 2);
    if (s == FMCL_OK) s = fmcl_trainer_losses(t, 0, 2, loss);
    fmcl_exchange_stats before = {0}, after = {0};
    if (t) fmcl_trainer_exchange_stats(t, &before);
    const double t0 = now();
    if (s == FMCL_OK) s = fmcl_trainer_run(t, S);
    if (s == FMCL_OK) s = fmcl_trainer_losses(t, 2, S, loss + 2);
    const double wall = (now() - t0) / S;
    if (s != FMCL_OK) {
        fprintf(stderr, "bench_dist: %s\n", fmcl_ctx_error(ctx));
    } else if (fmcl_group_rank(g) == 0) {
        const int N = fmcl_group_size(g);
        fmcl_trainer_exchange_stats(t, &after);
        const double k = (double)(after.steps - before.steps);
        printf("%s%s, N = %d, batch %d (%d per rank), %zu parameters: %.1f ms per step",
               unet ? "U-Net (default, 1x28x28)" : "MLP 3-512x4-2", ot ? " with OT coupling" : "",
               N, tc.batch, (tc.batch + N - 1) / N, fmcl_model_param_count(m), 1e3 * wall);
        if (k > 0)
            printf(" = compute %.1f ms + exchange %.1f ms (sum %.1f ms) + rest %.1f ms; %.2f MB "
                   "summed per rank per step",
                   1e3 * (after.compute_seconds - before.compute_seconds) / k,
                   1e3 * (after.exchange_seconds - before.exchange_seconds) / k,
                   1e3 * (after.sum_seconds - before.sum_seconds) / k,
                   1e3 * (wall - (after.compute_seconds - before.compute_seconds +
                                  after.exchange_seconds - before.exchange_seconds) /
                                     k),
                   (after.bytes - before.bytes) / k / 1e6);
        printf("\n");
    }
    /* The all-reduce alone, on every rank. */
    const size_t n = fmcl_model_param_count(m) + 2;
    float *x = s == FMCL_OK && fmcl_group_size(g) > 1 ? calloc(n, sizeof *x) : NULL;
    if (x && fmcl_group_sum(g, x, n) == FMCL_OK) {
        const double a0 = now();
        int ok = 1;
        for (int i = 0; i < 5 && ok; i++) ok = fmcl_group_sum(g, x, n) == FMCL_OK;
        if (ok && fmcl_group_rank(g) == 0)
            printf("  all-reduce alone: %.2f ms for %.2f MB (%d ranks)\n", 1e3 * (now() - a0) / 5,
                   n * 4e-6, fmcl_group_size(g));
    }
    free(x);
    fmcl_trainer_free(t);
    fmcl_model_free(m);
    fmcl_data_free(d);
    free(loss);
    return s != FMCL_OK;
}

int main(int argc, char **argv)
{
    const char *model = "both", *device = NULL;
    int steps = 20, ot = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--device") && i + 1 < argc)
            device = argv[++i];
        else if (!strcmp(argv[i], "--coupling") && i + 1 < argc)
            ot = !strcmp(argv[++i], "ot");
        else {
            fprintf(stderr, "usage: [mpirun -np N] bench_dist [--model mlp|unet|both] "
                            "[--steps S] [--device SPEC] [--coupling ot]\n");
            return 2;
        }
    }
    if (steps < 1) steps = 1;
    char err[4096];
    fmcl_group *g = NULL;
    if (fmcl_group_launched() && fmcl_group_create_mpi(NULL, &g, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "bench_dist: %s\n", err);
        return 1;
    }
    fmcl_device_info *devs = NULL;
    int count = 0, index = 0;
    fmcl_ctx *ctx = NULL;
    fmcl_status s = fmcl_devices_list(&devs, &count, err, sizeof err);
    if (s == FMCL_OK)
        s = fmcl_device_select_rank(devs, count, device, fmcl_group_local_rank(g), &index, err,
                                    sizeof err);
    if (s == FMCL_OK) {
        char spec[32];
        snprintf(spec, sizeof spec, "%d:%d", devs[index].platform_index, devs[index].device_index);
        s = fmcl_ctx_create(&ctx, spec, err, sizeof err);
    }
    fmcl_devices_free(devs);
    s = fmcl_group_agree(g, s, err);
    if (s != FMCL_OK) {
        fprintf(stderr, "bench_dist: %s\n", g ? fmcl_group_error(g) : err);
        fmcl_ctx_free(ctx);
        fmcl_group_free(g);
        return 1;
    }
    if (fmcl_group_rank(g) == 0)
        printf("bench_dist: %d rank(s), rank 0 on %s (%s)\n", fmcl_group_size(g),
               fmcl_ctx_device(ctx)->device_name, fmcl_ctx_device(ctx)->platform_name);
    int rc = 0;
    if (strcmp(model, "unet")) rc |= bench(ctx, g, 0, steps, ot);
    if (strcmp(model, "mlp")) rc |= bench(ctx, g, 1, steps, ot);
    fmcl_ctx_free(ctx);
    fmcl_group_free(g);
    return rc;
}
