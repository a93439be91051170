/* Gradient norm, Adam(W) and the weights' EMA (kernels/optim.cl) with double
 * references. The step follows torch.optim.Adam / AdamW and clip_grad_norm_
 * exactly: the bias corrections are computed here in double and passed as
 * floats. */
#include <math.h>

#include "nn/kernels.h"
#include "nn/nn_ops.h"

fmcl_status fmcl_sumsq(fmcl_ctx *ctx, fmcl_t out, fmcl_t x, fmcl_t partials, int n)
{
    if (n < 0) return fmcl_fail(ctx, FMCL_ERR_ARG, "sumsq: negative length %d", n);
    size_t groups = fmcl_reduce_partials((size_t)n);
    fmcl_status s = fmcl_run1_local(ctx, FMCL_K_sumsq_partial, groups * FMCL_REDUCE_WG,
                                    FMCL_REDUCE_WG, "tti", partials, x, n);
    if (s != FMCL_OK) return s;
    return fmcl_reduce_final(ctx, out, partials, n, 1.0);
}

double fmcl_sumsq_ref(const float *x, int n)
{
    double acc = 0;
    for (int i = 0; i < n; i++) acc += (double)x[i] * x[i];
    return acc;
}

static int adam_params_ok(const fmcl_adam_params *ap, int step)
{
    return step >= 1 && ap->lr >= 0 && ap->beta1 >= 0 && ap->beta1 < 1 && ap->beta2 >= 0 &&
           ap->beta2 < 1 && ap->eps >= 0 && ap->weight_decay >= 0 && ap->clip >= 0;
}

fmcl_status fmcl_adam_step(fmcl_ctx *ctx, fmcl_t p, fmcl_t g, fmcl_t m, fmcl_t v, fmcl_t normsq,
                           const fmcl_adam_params *ap, int step, int n)
{
    if (n < 0 || !adam_params_ok(ap, step))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "adam: need step >= 1, 0 <= beta1, beta2 < 1 and lr, eps, weight decay, "
                         "clip >= 0 (got step %d, lr %g, betas %g %g, eps %g, wd %g, clip %g, "
                         "n %d)",
                         step, ap->lr, ap->beta1, ap->beta2, ap->eps, ap->weight_decay, ap->clip,
                         n);
    double bc1 = 1.0 - pow(ap->beta1, step), bc2 = 1.0 - pow(ap->beta2, step);
    double decay = 1.0 - (double)ap->lr * ap->weight_decay;
    /* normsq is not read without clipping; any valid buffer keeps drivers happy. */
    if (ap->clip <= 0) normsq = p;
    return fmcl_run1(ctx, FMCL_K_adam_step, (size_t)n, "tttttfffffffii", p, g, m, v, normsq,
                     (double)ap->beta1, (double)ap->beta2, (double)ap->eps, (double)ap->clip, decay,
                     ap->lr / bc1, sqrt(bc2), ap->zero_grad != 0, n);
}

void fmcl_adam_step_ref(float *p, float *g, float *m, float *v, double normsq,
                        const fmcl_adam_params *ap, int step, int n)
{
    double b1 = ap->beta1, b2 = ap->beta2, lr = ap->lr;
    double m_corr = 1.0 - pow(b1, step), v_corr = 1.0 - pow(b2, step);
    double scale = 1.0;
    if (ap->clip > 0) scale = fmin(1.0, ap->clip / (sqrt(normsq) + 1e-6));
    for (int i = 0; i < n; i++) {
        double gi = g[i] * scale;
        double mi = b1 * m[i] + (1.0 - b1) * gi;
        double vi = b2 * v[i] + (1.0 - b2) * gi * gi;
        double m_hat = mi / m_corr, v_hat = vi / v_corr;
        double pi = p[i] * (1.0 - lr * ap->weight_decay);
        m[i] = (float)mi;
        v[i] = (float)vi;
        p[i] = (float)(pi - lr * m_hat / (sqrt(v_hat) + ap->eps));
        if (ap->zero_grad) g[i] = 0.0f;
    }
}

fmcl_status fmcl_ema_update(fmcl_ctx *ctx, fmcl_t e, fmcl_t p, float decay, int n)
{
    if (n < 0 || !(decay >= 0 && decay <= 1))
        return fmcl_fail(ctx, FMCL_ERR_ARG, "ema: need n >= 0 and decay in [0, 1] (got %d, %g)", n,
                         decay);
    return fmcl_run1(ctx, FMCL_K_ema_update, (size_t)n, "ttfi", e, p, (double)decay, n);
}

void fmcl_ema_update_ref(float *e, const float *p, float decay, int n)
{
    for (int i = 0; i < n; i++) e[i] = (float)((double)decay * e[i] + (1.0 - decay) * p[i]);
}

float fmcl_ema_decay(float ema, int step)
{
    double warm = (1.0 + step) / (10.0 + step);
    return (float)(warm < ema ? warm : ema);
}
