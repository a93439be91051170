/* Self-check of a whole training run: the trainer on the device against the
 * same steps taken on the host with the plain-C references (data, path,
 * MLP forward and backward in double, MSE, Adam), each value rounded to float
 * where the device stores one. */
#include "check/check.h"
#include "data/toy2d.h"
#include "flow/flow_ops.h"
#include "flow/paths.h"
#include "nn/model.h"
#include "nn/nn_ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { WIDTH = 16, DEPTH = 2, BATCH = 64, STEPS = 30 };
#define SEED 5
#define LR 1e-2f

/* Tolerances of the run. The two paths start within float rounding and
 * drift apart slowly: measured on PoCL and on rusticl (llvmpipe), the largest
 * relative loss difference of any step was 1.1e-7 after 30 steps and 2.0e-7
 * after 1000, the largest parameter difference 1.8e-7 after 30 steps and
 * 1.2e-6 after 1000. The bounds leave a factor of ~500 for other devices'
 * libm and GEMM summation orders; a learning rate off by 0.1% already moves
 * the parameters by ~3e-4 in 30 steps. */
#define LOSS_RTOL 1e-4
#define PARAM_ATOL 1e-4

typedef struct {
    const fmcl_mlp *m;
    int np;
    fmcl_path path;
    float *P, *m1, *m2, *x1, *X, *U, *pred, *dp, *g;
    double *pred_d, *dp_d, *g_d;
} ref_run;

/* One step on the host; returns its loss (that of the parameters before
 * the update, as the device's). */
static double ref_step(ref_run *r, const fmcl_train_config *tc, const fmcl_adam_params *ap, int k)
{
    const fmcl_mlp *m = r->m;
    const int D = m->cfg.dim, n = BATCH * D;
    fmcl_toy_sample_ref(r->x1, FMCL_TOY_CHECKERBOARD, tc->seed, (uint32_t)k, 0, BATCH);
    fmcl_path_interp_ref(r->X, r->U, r->x1, &r->path, tc->seed, (uint32_t)k, 0, BATCH, D,
                         m->cfg.time_freqs);
    fmcl_mlp_forward_ref(m, r->P, r->X, BATCH, r->pred_d);
    for (int i = 0; i < n; i++) r->pred[i] = (float)r->pred_d[i];
    double loss = fmcl_mse_forward_backward_ref(r->dp, r->pred, r->U, n);
    for (int i = 0; i < n; i++) r->dp_d[i] = r->dp[i];
    memset(r->g_d, 0, (size_t)r->np * sizeof *r->g_d);
    fmcl_mlp_backward_ref(m, r->P, r->X, r->dp_d, BATCH, r->g_d, NULL);
    for (int i = 0; i < r->np; i++) r->g[i] = (float)r->g_d[i];
    double normsq = ap->clip > 0 ? fmcl_sumsq_ref(r->g, r->np) : 0;
    fmcl_adam_step_ref(r->P, r->g, r->m1, r->m2, normsq, ap, k + 1, r->np);
    return loss;
}

/* The host run from parameters P0: each step's loss; final parameters in *P_out. */
static void ref_train(chk_case *c, const fmcl_mlp *m, const float *P0, const fmcl_train_config *tc,
                      double *losses, float **P_out)
{
    const int D = m->cfg.dim, np = (int)m->n_params, W = m->in[0];
    ref_run r = {.m = m, .np = np};
    r.P = chk_dup(c, P0, np);
    r.m1 = chk_host(c, np), r.m2 = chk_host(c, np), r.g = chk_host(c, np);
    r.x1 = chk_host(c, BATCH * D), r.X = chk_host(c, BATCH * W), r.U = chk_host(c, BATCH * D);
    r.pred = chk_host(c, BATCH * D), r.dp = chk_host(c, BATCH * D);
    r.pred_d = chk_host_d(c, BATCH * D), r.dp_d = chk_host_d(c, BATCH * D);
    r.g_d = chk_host_d(c, np);
    *P_out = r.P;
    if (!chk_ok(c) || !chk_status(c, fmcl_path_from_config(c->s->ctx, tc, &r.path))) return;
    fmcl_adam_params ap = {tc->lr, tc->beta1, tc->beta2, tc->eps, tc->weight_decay, tc->clip, 0};
    memset(r.m1, 0, (size_t)np * sizeof *r.m1);
    memset(r.m2, 0, (size_t)np * sizeof *r.m2);
    for (int k = 0; k < STEPS; k++) losses[k] = ref_step(&r, tc, &ap, k);
}

/* The device run on the checkerboard: per-step losses and final
 * parameters; P0 the initial ones. */
static fmcl_model *device_train(chk_case *c, const fmcl_train_config *tc, float **P0, float *losses,
                                float **P_end)
{
    fmcl_ctx *ctx = c->s->ctx;
    fmcl_model_config mc;
    fmcl_model_config_default(&mc, FMCL_MODEL_MLP);
    mc.mlp.width = WIDTH, mc.mlp.depth = DEPTH;
    fmcl_model *m = NULL;
    fmcl_data *d = NULL;
    fmcl_trainer *tr = NULL;
    *P0 = *P_end = NULL;
    if (!chk_status(c, fmcl_model_create(ctx, &mc, SEED, &m))) return NULL;
    size_t np = m->net.n_params;
    *P0 = chk_host(c, np);
    *P_end = chk_host(c, np);
    if (chk_ok(c) && chk_status(c, fmcl_read(ctx, m->net.params, *P0, np * 4)) &&
        chk_status(c, fmcl_data_create_toy(FMCL_TOY_CHECKERBOARD, &d, ctx->err, sizeof ctx->err)) &&
        chk_status(c, fmcl_trainer_create(m, d, tc, &tr)) &&
        chk_status(c, fmcl_trainer_run(tr, STEPS)) &&
        chk_status(c, fmcl_trainer_losses(tr, 0, STEPS, losses)))
        chk_status(c, fmcl_read(ctx, m->net.params, *P_end, np * 4));
    fmcl_trainer_free(tr);
    fmcl_data_free(d);
    return m;
}

fmcl_status fmcl_check_training(fmcl_ctx *ctx, const fmcl_check_options *opt, fmcl_check_fn fn,
                                void *user, int *failures)
{
    chk_suite s;
    chk_suite_init(&s, ctx, opt, fn, user);
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = BATCH;
    tc.steps = STEPS;
    tc.lr = LR;
    tc.seed = SEED;

    chk_case cl, cp;
    chk_begin(&cl, &s, "training loss", "MLP 3-%dx%d-2 B=%d %d Adam steps", WIDTH, DEPTH, BATCH,
              STEPS);
    float *P0, *P_dev, *P_ref = NULL, *loss_dev = chk_host(&cl, STEPS);
    double *loss_ref = chk_host_d(&cl, STEPS);
    fmcl_model *m = device_train(&cl, &tc, &P0, loss_dev, &P_dev);
    if (m) ref_train(&cl, m->mlp, P0, &tc, loss_ref, &P_ref);
    if (chk_ok(&cl)) {
        chk_compare(&cl, "losses", loss_dev, loss_ref, STEPS, (chk_tol){0, LOSS_RTOL});
        double worst = 0;
        for (int k = 0; k < STEPS; k++)
            worst = fmax(worst, fabs(loss_dev[k] - loss_ref[k]) / loss_ref[k]);
        cl.r.max_err = worst; /* relative, as the tolerance */
    }

    /* The parameters' case takes its own copies, so the loss reports first. */
    chk_begin(&cp, &s, "training params", "%s", cl.r.shape);
    float *pd = NULL;
    double *pr = NULL;
    if (chk_ok(&cl)) {
        pd = chk_dup(&cp, P_dev, m->net.n_params);
        pr = chk_widen(&cp, P_ref, m->net.n_params);
    } else {
        cp.broken = 1;
        cp.r.status = cl.r.status;
        snprintf(cp.r.reason, sizeof cp.r.reason, "the training run did not complete");
    }
    chk_end(&cl);
    if (chk_ok(&cp))
        chk_compare(&cp, "parameter", pd, pr, m->net.n_params, (chk_tol){PARAM_ATOL, 0});
    chk_end(&cp);
    fmcl_model_free(m);
    return chk_suite_end(&s, failures);
}
