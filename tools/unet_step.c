/* The U-Net benchmark step (unet_step.h). */
#include "unet_step.h"

#include <stdio.h>
#include <string.h>

#include "flow/flow_ops.h"
#include "nn/nn_ops.h"
#include "runtime/rng.h"
#include "runtime/vec.h"

#ifndef FMCL_BENCH_UNET_TORCH
#define FMCL_BENCH_UNET_TORCH "tools/bench_unet_torch.py"
#endif

fmcl_status unet_step_run(fmcl_ctx *ctx, unet_step *b, int k)
{
    int n = b->B * 28 * 28, np = (int)b->u->n_params;
    fmcl_adam_params ap = {1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.0f, 1};
    const fmcl_t none = {NULL, 0}; /* unconditional */
    fmcl_status s = fmcl_unet_forward(b->u, &b->a, b->v, b->x, b->t, none, b->B);
    if (s == FMCL_OK) s = fmcl_mse_forward_backward(ctx, b->dv, b->loss, b->v, b->u_t, b->part, n);
    if (s == FMCL_OK)
        s = fmcl_unet_backward(b->u, &b->a, b->g, b->dv, b->x, none, none, b->B);
    if (s == FMCL_OK)
        s = fmcl_adam_step(ctx, b->u->params, b->g, b->m, b->s, b->loss, &ap, k, np);
    return s;
}

fmcl_status unet_step_setup(fmcl_ctx *ctx, unet_step *b, int B)
{
    memset(b, 0, sizeof *b);
    fmcl_unet_spec cfg;
    fmcl_unet_spec_default(&cfg, 1, 28, 28);
    b->B = B;
    fmcl_status s = fmcl_unet_create(ctx, &cfg, 0, &b->u);
    if (s == FMCL_OK) s = fmcl_unet_acts_create(b->u, B, &b->a);
    size_t n = (size_t)B * 28 * 28, np = b->u ? b->u->n_params : 0, off = 0;
    const size_t sizes[] = {n, (size_t)B, n, n, n, np, np, np, 1, fmcl_reduce_partials(n)};
    fmcl_t *views[] = {&b->x, &b->t, &b->u_t, &b->v, &b->dv, &b->g, &b->m, &b->s, &b->loss,
                       &b->part};
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

fmcl_status unet_step_loss(fmcl_ctx *ctx, unet_step *b, float *loss)
{
    return fmcl_read(ctx, b->loss, loss, sizeof *loss);
}

void unet_step_free(unet_step *b)
{
    fmcl_release(&b->buf);
    fmcl_unet_acts_free(&b->a);
    fmcl_unet_free(b->u);
    b->u = NULL;
}

double unet_torch_ms(const char *py, const char *args, const char *key)
{
    char cmd[2048], line[512], fmt[64];
    snprintf(cmd, sizeof cmd, "'%s' '%s' %s 2>&1", py, FMCL_BENCH_UNET_TORCH, args);
    snprintf(fmt, sizeof fmt, "%s=%%lf", key);
    printf("running: %s\n", cmd);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    double ms = 0, v;
    while (p && fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        if (sscanf(line, fmt, &v) == 1 && v > 0) ms = v;
    }
    if (p && pclose(p) != 0) ms = 0;
    return ms;
}

double unet_step_torch_ms(const char *py, int B, int steps)
{
    char args[128];
    snprintf(args, sizeof args, "--batch %d --steps %d", B, steps);
    return unet_torch_ms(py, args, "torch ms_per_step");
}
