/* U-Net sampling benchmark (unet_sample.h). */
#include "unet_sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fmcl.h"
#include "flow/sample.h"
#include "nn/model.h"
#include "unet_step.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

fmcl_status unet_sample_bench(fmcl_ctx *ctx, int n, int steps, float guidance, int repeats,
                              double *ms, double *mean)
{
    fmcl_unet_spec cfg;
    fmcl_unet_spec_default(&cfg, 1, 28, 28);
    cfg.classes = 10;
    fmcl_unet *u = NULL;
    int *classes = malloc((size_t)n * sizeof *classes);
    float *out = malloc((size_t)n * 28 * 28 * sizeof *out);
    double *t = malloc((size_t)repeats * sizeof *t);
    fmcl_status s = classes && out && t ? fmcl_unet_create(ctx, &cfg, 1, &u) : FMCL_ERR_NOMEM;
    fmcl_net m;
    if (s == FMCL_OK) fmcl_net_of_unet(&m, u);
    for (int i = 0; i < n && classes; i++) classes[i] = i % 10;
    fmcl_sample_config sc = {.solver = FMCL_SOLVER_MIDPOINT, .steps = steps, .n = n, .seed = 2,
                             .classes = classes, .guidance = guidance};
    for (int r = -1; r < repeats && s == FMCL_OK; r++) { /* r = -1: the warm-up */
        double t0 = now();
        s = fmcl_net_sample(&m, &sc, out, NULL, NULL);
        if (r >= 0) t[r] = (now() - t0) * 1e3;
    }
    if (s == FMCL_OK) {
        qsort(t, (size_t)repeats, sizeof *t, by_value);
        *ms = t[repeats / 2];
        double sum = 0;
        for (size_t i = 0; i < (size_t)n * 28 * 28; i++) sum += out[i];
        *mean = sum / ((double)n * 28 * 28);
    }
    fmcl_unet_free(u);
    free(classes);
    free(out);
    free(t);
    return s;
}

double unet_sample_torch_ms(const char *py, int n, int steps, float guidance, int repeats)
{
    char args[160];
    snprintf(args, sizeof args, "--batch %d --sample %d --guidance %g --steps %d", n, steps,
             (double)guidance, repeats);
    return unet_torch_ms(py, args, "torch sample ms");
}
