/* Self-check of the U-Net (src/nn/unet.h) on a tiny configuration (12x8 RGB,
 * two levels, attention at the lower one): the whole forward, then the
 * parameter and input gradients, against the plain-C reference. */
#include "check/check.h"
#include "nn/unet.h"

/* Largest fan-in of the tiny network's sums (24 channels x 3x3 taps). */
#define TINY_K 256

static fmcl_unet_spec tiny(void)
{
    fmcl_unet_spec c;
    fmcl_unet_spec_default(&c, 3, 12, 8);
    c.base = 8;
    c.levels = 2;
    c.mult[0] = 1, c.mult[1] = 2;
    c.attn_levels = 1u << 1;
    c.heads = 2;
    c.groups = 4;
    return c;
}

/* backward 0: the forward case; 1: the backward case. */
static void unet_case(chk_suite *s, int backward)
{
    const int B = 2;
    fmcl_unet_spec cfg = tiny();
    fmcl_unet *u = NULL;
    fmcl_unet_acts a = {0};
    fmcl_unet_plan *p = NULL;
    chk_case c;
    chk_begin(&c, s, backward ? "unet_backward" : "unet_forward",
              "B=%d %dx%dx%d base %d mult (1, 2) attention at level 1", B, cfg.channels, cfg.height,
              cfg.width, cfg.base);
    if (chk_status(&c, fmcl_unet_create(s->ctx, &cfg, 1, &u)) &&
        chk_status(&c, fmcl_unet_acts_create(u, B, &a)))
        chk_status(&c, fmcl_unet_plan_create(&cfg, B, &p, s->ctx->err, sizeof s->ctx->err));
    size_t np = u ? u->n_params : 0, nx = (size_t)B * cfg.channels * cfg.height * cfg.width;
    float *w = chk_host(&c, np), *x = chk_host(&c, nx), *t = chk_host(&c, B);
    float *dv = chk_host(&c, nx), *v = chk_host(&c, nx), *g = chk_host(&c, np);
    float *dx = chk_host(&c, nx);
    if (chk_ok(&c)) {
        /* Random everywhere (no zeroed convs), GroupNorm scales near 1. */
        chk_fill(w, np, -0.4f, 0.4f, 81);
        for (int i = 0; i < fmcl_unet_plan_tensor_count(p); i++) {
            const fmcl_unet_param *e = fmcl_unet_plan_tensor(p, i);
            if (e->init == FMCL_UNET_INIT_ONE)
                for (size_t j = 0; j < e->n; j++) w[e->off + j] += 1.0f;
        }
        chk_fill(x, nx, -1.f, 1.f, 82);
        chk_fill(t, B, 0.f, 1.f, 83);
        chk_fill(dv, nx, -1.f, 1.f, 84);
        chk_status(&c, fmcl_write(s->ctx, u->params, w, np * sizeof *w));
    }
    fmcl_t tx = chk_buf(&c, x, nx), tt = chk_buf(&c, t, B), tv = chk_buf(&c, NULL, nx);
    fmcl_t tdv = chk_buf(&c, dv, nx), tg = chk_buf(&c, NULL, np), tdx = chk_buf(&c, NULL, nx);
    const fmcl_t none = {NULL, 0}; /* the labels of a conditional U-Net: unconditional here */
    if (chk_ok(&c) && chk_status(&c, fmcl_unet_forward(u, &a, tv, tx, tt, none, B)) && backward)
        chk_status(&c, fmcl_unet_backward(u, &a, tg, tdv, tx, none, tdx, B));
    if (chk_ok(&c) && !backward) {
        fmcl_unet_forward_ref(p, w, x, t, NULL, v);
        chk_expect_f(&c, "v", tv, nx, v, chk_gemm_tol(TINY_K));
    } else if (chk_ok(&c)) {
        for (size_t j = 0; j < np; j++) g[j] = 0.0f;
        fmcl_unet_grad_ref(p, w, x, t, NULL, dv, g, dx);
        chk_expect_f(&c, "grads", tg, np, g, chk_gemm_tol(TINY_K));
        chk_expect_f(&c, "dx", tdx, nx, dx, chk_gemm_tol(TINY_K));
    }
    chk_end(&c);
    fmcl_unet_plan_free(p);
    fmcl_unet_acts_free(&a);
    fmcl_unet_free(u);
}

void chk_unet_ops(chk_suite *s)
{
    unet_case(s, 0);
    unet_case(s, 1);
}
