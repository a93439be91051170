/* The U-Net workloads: the training step that fmcl_bench_train_run times
 * (workloads.h) and fmcl_bench_unet_sample. */
#include <stdlib.h>
#include <string.h>

#include "bench/workloads.h"
#include "flow/sample.h"
#include "nn/model.h"
#include "nn/nn_ops.h"
#include "runtime/reduce.h"
#include "runtime/rng.h"
#include "runtime/vec.h"

fmcl_status fmcl_bench_unet_run(fmcl_ctx *ctx, fmcl_bench_unet_step *b, int k)
{
    int n = b->B * 28 * 28, np = (int)b->u->n_params;
    fmcl_adam_params ap = {1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.0f, 1};
    const fmcl_t none = {NULL, 0}; /* unconditional */
    fmcl_status s = fmcl_unet_forward(b->u, &b->a, b->v, b->x, b->t, none, b->B);
    if (s == FMCL_OK) s = fmcl_mse_forward_backward(ctx, b->dv, b->loss, b->v, b->u_t, b->part, n);
    if (s == FMCL_OK) s = fmcl_unet_backward(b->u, &b->a, b->g, b->dv, b->x, none, none, b->B);
    if (s == FMCL_OK) s = fmcl_adam_step(ctx, b->u->params, b->g, b->m, b->s, b->loss, &ap, k, np);
    return s;
}

fmcl_status fmcl_bench_unet_setup(fmcl_ctx *ctx, fmcl_bench_unet_step *b, int B)
{
    memset(b, 0, sizeof *b);
    fmcl_unet_spec cfg;
    fmcl_unet_spec_default(&cfg, 1, 28, 28);
    b->B = B;
    fmcl_status s = fmcl_unet_create(ctx, &cfg, 0, &b->u);
    if (s == FMCL_OK) s = fmcl_unet_acts_create(b->u, B, &b->a);
    size_t n = (size_t)B * 28 * 28, np = b->u ? b->u->n_params : 0, off = 0;
    const size_t sizes[] = {n, (size_t)B, n, n, n, np, np, np, 1, fmcl_reduce_partials(n)};
    fmcl_t *views[] = {&b->x, &b->t, &b->u_t, &b->v,    &b->dv,
                       &b->g, &b->m, &b->s,   &b->loss, &b->part};
    for (int i = 0; i < 10; i++) {
        views[i]->off = off;
        off += sizes[i];
    }
    if (s == FMCL_OK) s = fmcl_alloc(ctx, off * sizeof(float), &b->buf, "benchmark tensors");
    for (int i = 0; i < 10; i++) *views[i] = fmcl_at(b->buf, views[i]->off);
    /* Noise as x and target, t = 0.5: the values do not change the work. */
    if (s == FMCL_OK) s = fmcl_randn(ctx, b->x, 1, 3, 0, (int)n);
    if (s == FMCL_OK) s = fmcl_randn(ctx, b->u_t, 1, 3, 1, (int)n);
    if (s == FMCL_OK) s = fmcl_fill(ctx, b->t, 0.5f, B);
    if (s == FMCL_OK) s = fmcl_fill(ctx, b->g, 0.0f, (int)(3 * np));
    return s;
}

fmcl_status fmcl_bench_unet_loss(fmcl_ctx *ctx, fmcl_bench_unet_step *b, float *loss)
{
    return fmcl_read(ctx, b->loss, loss, sizeof *loss);
}

void fmcl_bench_unet_free(fmcl_bench_unet_step *b)
{
    fmcl_release(&b->buf);
    fmcl_unet_acts_free(&b->a);
    fmcl_unet_free(b->u);
    b->u = NULL;
}

fmcl_status fmcl_bench_unet_sample(fmcl_ctx *ctx, fmcl_bench_unet_sampling *w)
{
    if (w->n < 1 || w->steps < 1 || w->repeats < 1 || w->repeats > 1000 || !(w->guidance >= 0))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "U-Net sampling: n %d and steps %d must be at least 1, repeats %d "
                         "1 to 1000, guidance %g at least 0",
                         w->n, w->steps, w->repeats, (double)w->guidance);
    fmcl_unet_spec cfg;
    fmcl_unet_spec_default(&cfg, 1, 28, 28);
    cfg.classes = 10;
    fmcl_unet *u = NULL;
    size_t n = (size_t)w->n;
    int *classes = malloc(n * sizeof *classes);
    float *out = malloc(n * 28 * 28 * sizeof *out);
    double *t = malloc((size_t)w->repeats * sizeof *t);
    fmcl_status s = classes && out && t ? fmcl_unet_create(ctx, &cfg, 1, &u)
                                        : fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory");
    fmcl_net m;
    if (s == FMCL_OK) fmcl_net_of_unet(&m, u);
    for (size_t i = 0; i < n && classes; i++) classes[i] = (int)(i % 10);
    fmcl_sample_config sc = {.solver = FMCL_SOLVER_MIDPOINT,
                             .steps = w->steps,
                             .n = w->n,
                             .seed = 2,
                             .classes = classes,
                             .guidance = w->guidance};
    for (int r = -1; r < w->repeats && s == FMCL_OK; r++) { /* r = -1: the warm-up */
        double t0 = fmcl_bench_now();
        s = fmcl_net_sample(&m, &sc, out, NULL, NULL);
        if (r >= 0) t[r] = (fmcl_bench_now() - t0) * 1e3;
    }
    if (s == FMCL_OK) {
        w->ms_median = fmcl_bench_median(t, w->repeats);
        double sum = 0;
        for (size_t i = 0; i < n * 28 * 28; i++) sum += out[i];
        w->mean = sum / ((double)n * 28 * 28);
    }
    fmcl_unet_free(u);
    free(classes);
    free(out);
    free(t);
    return s;
}
