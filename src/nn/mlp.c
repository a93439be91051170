/* MLP forward/backward on the device, backward accumulating into the flat
 * gradient buffer. With fmcl's packed GEMM every layer is a GEMM with its
 * bias, SiLU, SiLU's gradient or bias gradient fused into the stores. With
 * CLBlast, layers with a narrow side (the first layer's few inputs, the last
 * layer's few outputs) go through linear.cl's kernels (bias included); the
 * others through CLBlast with bias and SiLU fused in one pass after it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/settings.h"
#include "nn/mlp.h"
#include "nn/nn_ops.h"
#include "runtime/rng.h"

fmcl_status fmcl_mlp_check_spec(const fmcl_mlp_spec *c, char *err, size_t errlen)
{
    const fmcl_setting_value v[] = {{FMCL_SCOPE_MODEL, "dim", c->dim},
                                    {FMCL_SCOPE_MLP, "width", c->width},
                                    {FMCL_SCOPE_MLP, "depth", c->depth},
                                    {FMCL_SCOPE_MLP, "time_freqs", c->time_freqs},
                                    {FMCL_SCOPE_MODEL, "classes", c->classes}};
    char why[256];
    fmcl_status s = fmcl_settings_check(v, (int)(sizeof v / sizeof *v), why, sizeof why);
    if (s != FMCL_OK) snprintf(err, errlen, "invalid MLP configuration: %s", why);
    return s;
}

/* A layer with at most this many inputs or outputs skips the GEMM: CLBlast
 * pads such a side to a whole tile (32 to 64 here) and adds pad and transpose
 * passes, which for 3 inputs or 2 outputs cost more than the product. */
#define NARROW 32

static int narrow(const fmcl_mlp *m, int l) { return m->in[l] <= NARROW || m->out[l] <= NARROW; }

/* Layer shapes and the flat layout, in state_dict order. */
static void plan_layout(fmcl_mlp *m)
{
    const fmcl_mlp_spec *c = &m->cfg;
    m->n_layers = c->depth + 1;
    size_t off = 0;
    for (int l = 0; l < m->n_layers; l++) {
        m->in[l] = l == 0 ? fmcl_input_width(c->dim, c->time_freqs) + c->classes : c->width;
        m->out[l] = l == m->n_layers - 1 ? c->dim : c->width;
        m->w_off[l] = off;
        off += (size_t)m->in[l] * m->out[l];
        m->b_off[l] = off;
        off += (size_t)m->out[l];
    }
    m->n_params = off;
}

size_t fmcl_mlp_params_of(const fmcl_mlp_spec *cfg)
{
    fmcl_mlp m = {.cfg = *cfg};
    plan_layout(&m);
    return m.n_params;
}

fmcl_status fmcl_mlp_alloc(fmcl_ctx *ctx, const fmcl_mlp_spec *cfg, fmcl_mlp **out)
{
    *out = NULL;
    fmcl_status s = fmcl_mlp_check_spec(cfg, ctx->err, sizeof ctx->err);
    if (s != FMCL_OK) return s;
    fmcl_mlp *m = calloc(1, sizeof *m);
    if (!m) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory creating the MLP");
    m->ctx = ctx;
    m->cfg = *cfg;
    plan_layout(m);
    s = fmcl_alloc(ctx, m->n_params * sizeof(float), &m->params, "MLP parameters");
    if (s != FMCL_OK) {
        free(m);
        return s;
    }
    *out = m;
    return FMCL_OK;
}

/* PyTorch's nn.Linear default: kaiming_uniform_(a = sqrt(5)) for W and the
 * bias rule both come to U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Element j of the
 * flat buffer takes word j % 4 of philox(seed; j / 4, 0, INIT, 0). */
static void init_params(const fmcl_mlp *m, uint64_t seed, float *p)
{
    for (int l = 0; l < m->n_layers; l++) {
        float bound = (float)(1.0 / sqrt((double)m->in[l]));
        size_t end = m->b_off[l] + (size_t)m->out[l];
        for (size_t j = m->w_off[l]; j < end; j++) {
            uint32_t r[4];
            fmcl_philox(seed, (uint32_t)(j / 4), 0, FMCL_STREAM_INIT, 0, r);
            p[j] = bound * (2.0f * fmcl_u01(r[j % 4]) - 1.0f);
        }
    }
}

fmcl_status fmcl_mlp_create(fmcl_ctx *ctx, const fmcl_mlp_spec *cfg, uint64_t seed, fmcl_mlp **out)
{
    fmcl_mlp *m;
    fmcl_status s = fmcl_mlp_alloc(ctx, cfg, &m);
    if (s != FMCL_OK) return s;
    float *p = malloc(m->n_params * sizeof *p);
    if (!p) s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory initialising the MLP");
    if (s == FMCL_OK) {
        init_params(m, seed, p);
        s = fmcl_write(ctx, m->params, p, m->n_params * sizeof *p);
    }
    free(p);
    if (s != FMCL_OK) {
        fmcl_mlp_free(m);
        return s;
    }
    *out = m;
    return FMCL_OK;
}

void fmcl_mlp_free(fmcl_mlp *m)
{
    if (!m) return;
    fmcl_release(&m->params);
    free(m);
}

/* Lays out acts for B rows; returns the floats needed. */
static size_t plan_acts(const fmcl_mlp *m, int B, fmcl_mlp_acts *a)
{
    int maxw = m->cfg.width > m->in[0] ? m->cfg.width : m->in[0];
    size_t off = 0;
    for (int l = 0; l + 1 < m->n_layers; l++) {
        a->z[l].off = off;
        off += (size_t)B * m->out[l];
        a->h[l].off = off;
        off += (size_t)B * m->out[l];
    }
    a->d0.off = off;
    off += (size_t)B * maxw;
    a->d1.off = off;
    off += (size_t)B * maxw;
    a->part.off = off;
    for (int l = 0; l < m->n_layers; l++) {
        int K = narrow(m, l) ? m->in[l] : 0; /* else the bias gradient alone */
        size_t np = fmcl_linear_small_wgrad_scratch(B, m->out[l], K);
        if (a->part.off + np > off) off = a->part.off + np;
    }
    return off;
}

size_t fmcl_mlp_acts_bytes(const fmcl_mlp *m, int B)
{
    fmcl_mlp_acts a;
    return plan_acts(m, B, &a) * sizeof(float);
}

fmcl_status fmcl_mlp_acts_create(fmcl_mlp *m, int B, fmcl_mlp_acts *a)
{
    fmcl_ctx *ctx = m->ctx;
    memset(a, 0, sizeof *a);
    if (B < 1) return fmcl_fail(ctx, FMCL_ERR_ARG, "batch must be at least 1 (got %d)", B);
    size_t off = plan_acts(m, B, a);
    fmcl_status s = fmcl_alloc(ctx, off * sizeof(float), &a->mem, "MLP activations");
    if (s != FMCL_OK) return s;
    a->B = B;
    for (int l = 0; l + 1 < m->n_layers; l++) {
        a->z[l] = fmcl_at(a->mem, a->z[l].off);
        a->h[l] = fmcl_at(a->mem, a->h[l].off);
    }
    a->d0 = fmcl_at(a->mem, a->d0.off);
    a->d1 = fmcl_at(a->mem, a->d1.off);
    a->part = fmcl_at(a->mem, a->part.off);
    /* Every GEMM shape of forward and backward, so no step allocates. */
    for (int l = 0; l < m->n_layers && s == FMCL_OK; l++) {
        int in = m->in[l], o = m->out[l];
        s = fmcl_gemm_reserve(ctx, 0, 1, B, o, in, in, in, o); /* narrow too when packed */
        if (s != FMCL_OK || (narrow(m, l) && !fmcl_gemm_fuses(ctx))) continue;
        s = fmcl_gemm_reserve(ctx, 1, 0, o, in, B, o, in, in);
        if (s == FMCL_OK) s = fmcl_gemm_reserve(ctx, 0, 0, B, in, o, o, in, in);
    }
    if (s != FMCL_OK) fmcl_mlp_acts_free(a);
    return s;
}

void fmcl_mlp_acts_free(fmcl_mlp_acts *a) { fmcl_release(&a->mem); }

fmcl_status fmcl_mlp_forward(fmcl_mlp *m, fmcl_mlp_acts *a, fmcl_t out, fmcl_t X, int B)
{
    fmcl_ctx *ctx = m->ctx;
    if (B < 1 || B > a->B)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "forward of %d rows with activations for %d", B, a->B);
    fmcl_t P = m->params;
    fmcl_t in = X, no_h = {0}; /* the last layer's epilogue stores no activation */
    fmcl_status s = FMCL_OK;
    for (int l = 0; l < m->n_layers && s == FMCL_OK; l++) {
        int last = l == m->n_layers - 1;
        fmcl_t z = last ? out : a->z[l], W = fmcl_at(P, m->w_off[l]), b = fmcl_at(P, m->b_off[l]);
        if (fmcl_gemm_fuses(ctx)) { /* packed GEMMs add the bias and SiLU as they store */
            s = fmcl_gemm_epilogue(ctx, 0, 1, B, m->out[l], m->in[l], in, m->in[l], W, m->in[l], z,
                                   m->out[l], last ? FMCL_GEMM_BIAS : FMCL_GEMM_BIAS_SILU, b,
                                   last ? no_h : a->h[l]);
            in = a->h[l];
            continue;
        }
        if (narrow(m, l)) {
            s = fmcl_linear_small_forward(ctx, z, in, W, b, B, m->out[l], m->in[l]);
            if (s == FMCL_OK && !last) s = fmcl_silu_forward(ctx, a->h[l], z, B, m->out[l]);
            in = a->h[l];
            continue;
        }
        s = fmcl_gemm(ctx, 0, 1, B, m->out[l], m->in[l], 1.0f, in, m->in[l], W, m->in[l], 0.0f, z,
                      m->out[l]);
        if (s != FMCL_OK) break;
        if (last)
            s = fmcl_bias_forward(ctx, z, b, B, m->out[l]);
        else
            s = fmcl_bias_silu_forward(ctx, z, a->h[l], b, B, m->out[l]);
        in = a->h[l];
    }
    return s;
}

fmcl_status fmcl_mlp_backward(fmcl_mlp *m, fmcl_mlp_acts *a, fmcl_t grads, fmcl_t dout, fmcl_t X,
                              fmcl_t dX, int B)
{
    fmcl_ctx *ctx = m->ctx;
    if (B < 1 || B > a->B)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "backward of %d rows with activations for %d", B, a->B);
    fmcl_t P = m->params;
    fmcl_t dz = dout;
    fmcl_status s = FMCL_OK;
    for (int l = m->n_layers - 1; l >= 0 && s == FMCL_OK; l--) {
        int in = m->in[l], o = m->out[l];
        fmcl_t x_in = l == 0 ? X : a->h[l - 1], W = fmcl_at(P, m->w_off[l]);
        /* dW += dz^T x_in: [o, in]; db += column sums of dz (the packed
         * GEMM's row sums, or linear.cl's two passes for a narrow layer,
         * give both). */
        fmcl_t dW = fmcl_at(grads, m->w_off[l]), db = fmcl_at(grads, m->b_off[l]);
        if (grads.mem && fmcl_gemm_fuses(ctx))
            s = fmcl_gemm_epilogue(ctx, 1, 0, o, in, B, dz, o, x_in, in, dW, in, FMCL_GEMM_ROWSUM,
                                   db, (fmcl_t){0});
        else if (grads.mem && narrow(m, l))
            s = fmcl_linear_small_wgrad(ctx, dW, db, dz, x_in, a->part, B, o, in);
        else if (grads.mem) {
            s = fmcl_gemm(ctx, 1, 0, o, in, B, 1.0f, dz, o, x_in, in, 1.0f, dW, in);
            if (s == FMCL_OK) s = fmcl_bias_backward(ctx, db, dz, a->part, B, o);
        }
        if (s != FMCL_OK || (l == 0 && !dX.mem)) break;
        /* d x_in = dz W: [B, in], then through the previous layer's SiLU.
         * (One pass for SiLU's backward and the next bias gradient, an item
         * per column, measured 4x slower on PoCL than these two: its loop
         * over rows keeps the exp from vectorising.) */
        fmcl_t dnext = l == 0 ? dX : (dz.mem == a->d0.mem && dz.off == a->d0.off ? a->d1 : a->d0);
        if (l > 0 && fmcl_gemm_fuses(ctx)) { /* SiLU's backward as it is stored */
            s = fmcl_gemm_epilogue(ctx, 0, 0, B, in, o, dz, o, W, in, dnext, in,
                                   FMCL_GEMM_SILU_GRAD, a->z[l - 1], (fmcl_t){0});
            dz = dnext;
            continue;
        } else if (narrow(m, l)) {
            s = fmcl_linear_small_dx(ctx, dnext, dz, W, B, o, in);
        } else {
            s = fmcl_gemm(ctx, 0, 0, B, in, o, 1.0f, dz, o, W, in, 0.0f, dnext, in);
        }
        if (s == FMCL_OK && l > 0) s = fmcl_silu_backward(ctx, dnext, dnext, a->z[l - 1], B, in);
        dz = dnext;
    }
    return s;
}
