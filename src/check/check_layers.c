/* Self-check of the image layers (src/nn/image_ops.h): convolutions,
 * GroupNorm, upsampling, concatenation, time conditioning and attention at
 * odd shapes, every gradient accumulated into nonzero values. */
#include "check/check.h"
#include "nn/image_ops.h"

/* how: the way convolutions run (the device's own, or a forced one); the
 * implicit GEMM's forward is also checked adding a residual. */
static void conv(chk_suite *s, fmcl_conv_shape cs, const char *how)
{
    chk_case c;
    int P = fmcl_conv_out_h(&cs) * fmcl_conv_out_w(&cs), taps = cs.C * cs.ksize * cs.ksize;
    size_t nx = (size_t)cs.B * cs.C * cs.H * cs.W, nw = (size_t)cs.K * taps,
           ny = (size_t)cs.B * cs.K * P, ns = fmcl_conv_scratch(&cs);
    chk_begin(&c, s, "conv2d_forward", "B=%d C=%d %dx%d K=%d k%d s%d chunk=%d %s", cs.B, cs.C, cs.H,
              cs.W, cs.K, cs.ksize, cs.stride, cs.chunk, how);
    float *x = chk_host(&c, nx), *w = chk_host(&c, nw), *b = chk_host(&c, cs.K);
    float *y = chk_host(&c, ny);
    if (chk_ok(&c)) {
        chk_fill(x, nx, -1.f, 1.f, 41);
        chk_fill(w, nw, -0.5f, 0.5f, 42);
        chk_fill(b, cs.K, -1.f, 1.f, 43);
    }
    fmcl_t tx = chk_buf(&c, x, nx), tw = chk_buf(&c, w, nw), tb = chk_buf(&c, b, cs.K);
    fmcl_t ty = chk_buf(&c, NULL, ny), ts = chk_buf(&c, NULL, ns);
    if (chk_ok(&c) && chk_status(&c, fmcl_conv_reserve(s->ctx, &cs))) {
        chk_status(&c, fmcl_conv2d_forward(s->ctx, ty, tx, tw, tb, ts, &cs));
        fmcl_conv2d_forward_ref(y, x, w, b, &cs);
    }
    chk_expect_f(&c, "y", ty, ny, y, chk_gemm_tol(taps + 1));
    if (s->ctx->conv_impl != FMCL_CONV_IM2COL) { /* y = conv(x) + bias + res, res = old y */
        fmcl_t ty2 = chk_buf(&c, NULL, ny);
        if (chk_ok(&c)) chk_status(&c, fmcl_convgemm_forward(s->ctx, ty2, tx, tw, tb, ty, ts, &cs));
        for (size_t i = 0; chk_ok(&c) && i < ny; i++) y[i] *= 2.0f;
        chk_expect_f(&c, "y + residual", ty2, ny, y, chk_gemm_tol(taps + 2));
    }
    chk_guards(&c, "scratch", ts, ns);
    chk_end(&c);

    chk_begin(&c, s, "conv2d_backward", "B=%d C=%d %dx%d K=%d k%d s%d chunk=%d %s", cs.B, cs.C,
              cs.H, cs.W, cs.K, cs.ksize, cs.stride, cs.chunk, how);
    x = chk_host(&c, nx), w = chk_host(&c, nw);
    float *dy = chk_host(&c, ny), *dx = chk_host(&c, nx), *dw = chk_host(&c, nw);
    float *db = chk_host(&c, cs.K);
    if (chk_ok(&c)) {
        chk_fill(x, nx, -1.f, 1.f, 44);
        chk_fill(w, nw, -0.5f, 0.5f, 45);
        chk_fill(dy, ny, -1.f, 1.f, 46);
        chk_fill(dx, nx, -1.f, 1.f, 47);
        chk_fill(dw, nw, -1.f, 1.f, 48);
        chk_fill(db, cs.K, -1.f, 1.f, 49);
    }
    tx = chk_buf(&c, x, nx), tw = chk_buf(&c, w, nw);
    fmcl_t tdy = chk_buf(&c, dy, ny), tdx = chk_buf(&c, dx, nx), tdw = chk_buf(&c, dw, nw);
    fmcl_t tdb = chk_buf(&c, db, cs.K);
    ts = chk_buf(&c, NULL, ns);
    if (chk_ok(&c) && chk_status(&c, fmcl_conv_reserve(s->ctx, &cs))) {
        chk_status(&c, fmcl_conv2d_backward(s->ctx, tdx, tdw, tdb, tdy, tx, tw, ts, &cs));
        fmcl_conv2d_backward_ref(dx, dw, db, dy, x, w, &cs);
    }
    chk_expect_f(&c, "dx", tdx, nx, dx, chk_gemm_tol(cs.K * cs.ksize * cs.ksize + 1));
    chk_expect_f(&c, "dw", tdw, nw, dw, chk_gemm_tol(cs.B * P + 1));
    chk_expect_f(&c, "dbias", tdb, cs.K, db, chk_gemm_tol(cs.B * P + 1));
    chk_guards(&c, "scratch", ts, ns);
    chk_end(&c);
}

/* GroupNorm, with a scale and shift (ss) and SiLU (silu) when asked. */
static void groupnorm(chk_suite *s, int B, int C, int HW, int G, int ss, int silu)
{
    chk_case c;
    size_t n = (size_t)B * C * HW, ng = (size_t)B * G, nss = ss ? (size_t)B * 2 * C : 1;
    int per_group = C / G * HW;
    chk_begin(&c, s, "groupnorm_forward", "B=%d C=%d HW=%d G=%d%s%s", B, C, HW, G,
              ss ? " scale-shift" : "", silu ? " silu" : "");
    float *x = chk_host(&c, n), *ga = chk_host(&c, C), *be = chk_host(&c, C);
    float *y = chk_host(&c, n), *m = chk_host(&c, ng), *r = chk_host(&c, ng);
    float *sv = chk_host(&c, nss);
    if (chk_ok(&c)) {
        chk_fill(x, n, -2.f, 3.f, 51);
        chk_fill(ga, C, 0.5f, 1.5f, 52);
        chk_fill(be, C, -1.f, 1.f, 53);
        chk_fill(sv, nss, -1.f, 1.f, 50);
    }
    fmcl_t tx = chk_buf(&c, x, n), tga = chk_buf(&c, ga, C), tbe = chk_buf(&c, be, C);
    fmcl_t ty = chk_buf(&c, NULL, n), tm = chk_buf(&c, NULL, ng), tr = chk_buf(&c, NULL, ng);
    fmcl_t tss = ss ? chk_buf(&c, sv, nss) : (fmcl_t){NULL, 0};
    if (chk_ok(&c)) {
        chk_status(
            &c, fmcl_groupnorm_forward(s->ctx, ty, tm, tr, tx, tga, tbe, tss, silu, B, C, HW, G));
        fmcl_groupnorm_forward_ref(y, m, r, x, ga, be, ss ? sv : NULL, silu, B, C, HW, G);
    }
    chk_expect_f(&c, "y", ty, n, y, chk_gemm_tol(per_group));
    chk_expect_f(&c, "mean", tm, ng, m, chk_gemm_tol(per_group));
    chk_expect_f(&c, "rstd", tr, ng, r, chk_gemm_tol(per_group));
    chk_end(&c);

    /* The backward from the reference statistics, as the device keeps its
     * own (gamma serves as beta too, to stay within the host arrays). */
    chk_begin(&c, s, "groupnorm_backward", "B=%d C=%d HW=%d G=%d%s%s", B, C, HW, G,
              ss ? " scale-shift" : "", silu ? " silu" : "");
    x = chk_host(&c, n), ga = chk_host(&c, C), m = chk_host(&c, ng), r = chk_host(&c, ng);
    sv = ss ? chk_host(&c, nss) : NULL;
    float *dy = chk_host(&c, n), *dx = chk_host(&c, n), *dga = chk_host(&c, C);
    float *dbe = chk_host(&c, C), *dss = ss ? chk_host(&c, nss) : NULL;
    size_t nscr = fmcl_groupnorm_scratch(B, C, HW);
    if (chk_ok(&c)) {
        chk_fill(x, n, -2.f, 3.f, 54);
        chk_fill(ga, C, 0.5f, 1.5f, 55);
        if (ss) chk_fill(sv, nss, -1.f, 1.f, 48), chk_fill(dss, nss, -1.f, 1.f, 47);
        chk_fill(dy, n, -1.f, 1.f, 56);
        fmcl_groupnorm_forward_ref(dx, m, r, x, ga, ga, NULL, 0, B, C, HW, G); /* m, r only */
        chk_fill(dx, n, -1.f, 1.f, 57);
        chk_fill(dga, C, -1.f, 1.f, 58);
        chk_fill(dbe, C, -1.f, 1.f, 59);
    }
    tx = chk_buf(&c, x, n), tga = chk_buf(&c, ga, C), tm = chk_buf(&c, m, ng);
    tr = chk_buf(&c, r, ng);
    tss = ss ? chk_buf(&c, sv, nss) : (fmcl_t){NULL, 0};
    fmcl_t tdy = chk_buf(&c, dy, n), tdx = chk_buf(&c, dx, n), tdga = chk_buf(&c, dga, C);
    fmcl_t tdbe = chk_buf(&c, dbe, C), tdss = ss ? chk_buf(&c, dss, nss) : (fmcl_t){NULL, 0};
    fmcl_t tscr = chk_buf(&c, NULL, nscr);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_groupnorm_backward(s->ctx, tdx, tdga, tdbe, tdss, tdy, tx, tm, tr, tga,
                                               tga, tss, silu, tscr, B, C, HW, G));
        fmcl_groupnorm_backward_ref(dx, dga, dbe, dss, dy, x, m, r, ga, ga, sv, silu, B, C, HW, G);
    }
    chk_expect_f(&c, "dx", tdx, n, dx, chk_gemm_tol(per_group));
    chk_expect_f(&c, "dgamma", tdga, C, dga, chk_gemm_tol(B * HW + 1));
    chk_expect_f(&c, "dbeta", tdbe, C, dbe, chk_gemm_tol(B * HW + 1));
    if (ss) chk_expect_f(&c, "dss", tdss, nss, dss, chk_gemm_tol(HW + 1));
    chk_guards(&c, "scratch", tscr, nscr);
    chk_end(&c);
}

static void upsample(chk_suite *s, int B, int C, int H, int W)
{
    chk_case c;
    size_t n = (size_t)B * C * H * W;
    chk_begin(&c, s, "upsample2x_forward", "B=%d C=%d %dx%d", B, C, H, W);
    float *x = chk_host(&c, n), *y = chk_host(&c, 4 * n);
    if (chk_ok(&c)) chk_fill(x, n, -1.f, 1.f, 61);
    fmcl_t tx = chk_buf(&c, x, n), ty = chk_buf(&c, NULL, 4 * n);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_upsample2x_forward(s->ctx, ty, tx, B, C, H, W));
        fmcl_upsample2x_forward_ref(y, x, B, C, H, W);
    }
    chk_expect_f(&c, "y", ty, 4 * n, y, chk_elem(0));
    chk_end(&c);

    chk_begin(&c, s, "upsample2x_backward", "B=%d C=%d %dx%d", B, C, H, W);
    float *dy = chk_host(&c, 4 * n), *dx = chk_host(&c, n);
    if (chk_ok(&c)) chk_fill(dy, 4 * n, -1.f, 1.f, 62), chk_fill(dx, n, -1.f, 1.f, 63);
    fmcl_t tdy = chk_buf(&c, dy, 4 * n), tdx = chk_buf(&c, dx, n);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_upsample2x_backward(s->ctx, tdx, tdy, B, C, H, W));
        fmcl_upsample2x_backward_ref(dx, dy, B, C, H, W);
    }
    chk_expect_f(&c, "dx", tdx, n, dx, chk_elem(1e-6));
    chk_end(&c);
}

static void concat(chk_suite *s, int B, int Ca, int Cb, int HW)
{
    chk_case c;
    size_t na = (size_t)B * Ca * HW, nb = (size_t)B * Cb * HW;
    chk_begin(&c, s, "concat_forward", "B=%d C=%d+%d HW=%d", B, Ca, Cb, HW);
    float *a = chk_host(&c, na), *b = chk_host(&c, nb), *y = chk_host(&c, na + nb);
    if (chk_ok(&c)) chk_fill(a, na, -1.f, 1.f, 64), chk_fill(b, nb, -1.f, 1.f, 65);
    fmcl_t ta = chk_buf(&c, a, na), tb = chk_buf(&c, b, nb), ty = chk_buf(&c, NULL, na + nb);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_concat_forward(s->ctx, ty, ta, tb, B, Ca, Cb, HW));
        fmcl_concat_forward_ref(y, a, b, B, Ca, Cb, HW);
    }
    chk_expect_f(&c, "y", ty, na + nb, y, chk_elem(0));
    chk_end(&c);

    chk_begin(&c, s, "concat_backward", "B=%d C=%d+%d HW=%d", B, Ca, Cb, HW);
    float *dy = chk_host(&c, na + nb), *da = chk_host(&c, na), *db = chk_host(&c, nb);
    if (chk_ok(&c)) {
        chk_fill(dy, na + nb, -1.f, 1.f, 66);
        chk_fill(da, na, -1.f, 1.f, 67);
        chk_fill(db, nb, -1.f, 1.f, 68);
    }
    fmcl_t tdy = chk_buf(&c, dy, na + nb), tda = chk_buf(&c, da, na), tdb = chk_buf(&c, db, nb);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_concat_backward(s->ctx, tda, tdb, tdy, B, Ca, Cb, HW));
        fmcl_concat_backward_ref(da, db, dy, B, Ca, Cb, HW);
    }
    chk_expect_f(&c, "da", tda, na, da, chk_elem(0));
    chk_expect_f(&c, "db", tdb, nb, db, chk_elem(0));
    chk_end(&c);
}

static void time_embedding(chk_suite *s, int B, int D)
{
    chk_case c;
    chk_begin(&c, s, "time_embedding", "B=%d D=%d scale=%g", B, D, (double)FMCL_TIME_SCALE);
    float *t = chk_host(&c, B), *emb = chk_host(&c, (size_t)B * D);
    if (chk_ok(&c)) chk_fill(t, B, 0.f, 1.f, 69);
    fmcl_t tt = chk_buf(&c, t, B), temb = chk_buf(&c, NULL, (size_t)B * D);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_time_embedding(s->ctx, temb, tt, FMCL_TIME_SCALE, B, D));
        fmcl_time_embedding_ref(emb, t, FMCL_TIME_SCALE, B, D);
    }
    /* sin and cos of an argument up to the scale, itself rounded to float:
     * a few ulp of the largest argument. */
    chk_expect_f(&c, "emb", temb, (size_t)B * D, emb,
                 (chk_tol){1e-6 + 8 * 0x1p-24 * FMCL_TIME_SCALE, 0});
    chk_end(&c);
}

static void attention(chk_suite *s, int B, int C, int P, int heads)
{
    chk_case c;
    size_t n = (size_t)B * 3 * C * P, no = (size_t)B * C * P;
    size_t na = fmcl_attention_scratch(B, P, heads);
    chk_begin(&c, s, "attention_forward", "B=%d C=%d P=%d heads=%d", B, C, P, heads);
    float *qkv = chk_host(&c, n), *out = chk_host(&c, no), *att = chk_host(&c, na);
    if (chk_ok(&c)) chk_fill(qkv, n, -1.5f, 1.5f, 77);
    fmcl_t tqkv = chk_buf(&c, qkv, n), tout = chk_buf(&c, NULL, no), tatt = chk_buf(&c, NULL, na);
    if (chk_ok(&c) && chk_status(&c, fmcl_attention_reserve(s->ctx, B, C, P, heads))) {
        chk_status(&c, fmcl_attention_forward(s->ctx, tout, tatt, tqkv, B, C, P, heads));
        fmcl_attention_forward_ref(out, att, qkv, B, C, P, heads);
    }
    chk_expect_f(&c, "out", tout, no, out, chk_gemm_tol(P));
    chk_expect_f(&c, "att", tatt, na, att, chk_gemm_tol(C / heads));
    chk_end(&c);

    /* The backward reads the reference's probabilities. */
    chk_begin(&c, s, "attention_backward", "B=%d C=%d P=%d heads=%d", B, C, P, heads);
    qkv = chk_host(&c, n), out = chk_host(&c, no), att = chk_host(&c, na);
    float *dout = chk_host(&c, no), *dqkv = chk_host(&c, n);
    if (chk_ok(&c)) {
        chk_fill(qkv, n, -1.5f, 1.5f, 78);
        chk_fill(dout, no, -1.f, 1.f, 79);
        chk_fill(dqkv, n, -0.01f, 0.01f, 80);
        fmcl_attention_forward_ref(out, att, qkv, B, C, P, heads);
    }
    tqkv = chk_buf(&c, qkv, n), tatt = chk_buf(&c, att, na);
    fmcl_t tdout = chk_buf(&c, dout, no), tdqkv = chk_buf(&c, dqkv, n);
    fmcl_t ts = chk_buf(&c, NULL, na);
    if (chk_ok(&c) && chk_status(&c, fmcl_attention_reserve(s->ctx, B, C, P, heads))) {
        chk_status(&c,
                   fmcl_attention_backward(s->ctx, tdqkv, tdout, tqkv, tatt, ts, B, C, P, heads));
        fmcl_attention_backward_ref(dqkv, dout, qkv, B, C, P, heads);
    }
    chk_expect_f(&c, "dqkv", tdqkv, n, dqkv, chk_gemm_tol(P));
    chk_guards(&c, "scratch", ts, na);
    chk_end(&c);
}

void chk_layer_ops(chk_suite *s)
{
    /* B, C, H, W, K, ksize, stride, pad, chunk */
    conv(s, (fmcl_conv_shape){3, 5, 7, 9, 6, 3, 1, 1, 2}, "");
    conv(s, (fmcl_conv_shape){3, 5, 7, 9, 6, 3, 2, 1, 3}, "");
    conv(s, (fmcl_conv_shape){3, 5, 7, 9, 4, 1, 1, 0, 1}, "");
    /* Both implicit-GEMM variants on every device, whichever it runs: a
     * 3x3 layer whose middle pixels read no padding, 18 channels (2 panels). */
    const fmcl_conv_impl chosen = (fmcl_conv_impl)s->ctx->conv_impl;
    const struct {
        fmcl_conv_impl impl;
        const char *how;
    } forced[] = {{FMCL_CONV_PACKED, "implicit packed"}, {FMCL_CONV_TILED, "implicit tiled"}};
    for (int i = 0; i < 2; i++) {
        fmcl_conv_use(s->ctx, forced[i].impl);
        conv(s, (fmcl_conv_shape){2, 5, 7, 13, 18, 3, 1, 1, 2}, forced[i].how);
    }
    fmcl_conv_use(s->ctx, chosen);
    groupnorm(s, 3, 6, 63, 3, 0, 0);
    groupnorm(s, 2, 32, 49, 8, 0, 1);
    groupnorm(s, 3, 10, 35, 5, 1, 1);
    upsample(s, 3, 5, 7, 9);
    concat(s, 3, 5, 7, 63);
    time_embedding(s, 7, 34);
    attention(s, 3, 6, 35, 2); /* up to 64 positions: one kernel per pass */
    attention(s, 2, 4, 70, 2); /* beyond: a launch per product */
}
