/* fmcl's MLP against PyTorch. tests/data/torch_mlp_ref.safetensors comes from
 * tools/torch_ref.py: float32 parameters and inputs, and what PyTorch computes
 * from them in float64 (prediction, MSE loss, every parameter gradient, the
 * input gradient; then 5 Adam steps and 5 AdamW steps with
 * clip_grad_norm_ on the same batch: the loss before each step and the final
 * parameters). The file is also an fmcl checkpoint, so the model is loaded
 * with fmcl_model_load. Every device runs the step from the nn ops the trainer
 * uses; the CPU references (the other tests' oracle) are checked too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "nn/model.h"
#include "nn/nn_ops.h"
#include "runtime/vec.h"
#include "testlib.h"

#define REF_PATH "data/torch_mlp_ref.safetensors"

/* float32 device results vs a float64 reference; all values here are O(1). */
#define ATOL 1e-6
#define RTOL 1e-5
/* Final parameters after 5 optimiser steps of lr 1e-2: a wrong sign, bias
 * correction or decay term moves an element by >= 1e-4. */
#define PARAM_ATOL 1e-5
#define LOSS_RTOL 2e-6

typedef struct {
    fmcl_st_file f;
    int B, D, in, steps;
    fmcl_adam_params adam, adamw;
} ref_t;

/* Copies tensor name (dtype F32 or F64, n elements, any shape) to doubles. */
static int load(const ref_t *r, const char *name, size_t n, double *out)
{
    const fmcl_st_tensor *t = fmcl_st_find(&r->f, name);
    size_t es = t && t->dtype == FMCL_ST_F64 ? 8 : 4;
    if (!tl_check(t && (t->dtype == FMCL_ST_F32 || t->dtype == FMCL_ST_F64) && t->nbytes == n * es,
                  "%s: tensor '%s' missing or not %zu floats", REF_PATH, name, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (es == 8) {
            memcpy(&out[i], (const char *)t->data + 8 * i, 8);
        } else {
            float v;
            memcpy(&v, (const char *)t->data + 4 * i, 4);
            out[i] = v;
        }
    }
    return 1;
}

static int load_f(const ref_t *r, const char *name, size_t n, float *out)
{
    double *d = malloc(n * sizeof *d);
    int ok = tl_check(d != NULL, "no host memory for '%s'", name) && load(r, name, n, d);
    for (size_t i = 0; ok && i < n; i++) out[i] = (float)d[i];
    free(d);
    return ok;
}

/* Per-layer tensors prefix + "<2l>.weight" / ".bias" into fmcl's flat layout. */
static int load_flat(const ref_t *r, const fmcl_mlp *m, const char *prefix, double *flat)
{
    int ok = 1;
    for (int l = 0; l < m->n_layers && ok; l++) {
        char name[96];
        snprintf(name, sizeof name, "%s%d.weight", prefix, 2 * l);
        ok = load(r, name, (size_t)m->out[l] * m->in[l], flat + m->w_off[l]);
        snprintf(name, sizeof name, "%s%d.bias", prefix, 2 * l);
        ok = ok && load(r, name, (size_t)m->out[l], flat + m->b_off[l]);
    }
    return ok;
}

/* tl_close for double results (the CPU references): |got - want| <= atol + rtol |want|. */
static void close_dd(const char *what, const double *got, const double *want, size_t n, double atol,
                     double rtol)
{
    double worst = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        ok &= d <= atol + rtol * fabs(want[i]); /* NaN fails */
        if (!(d <= worst)) worst = d;
    }
    printf("  %-40s n=%-8zu max|err|=%.3g  %s\n", what, n, worst, ok ? "ok" : "FAIL");
    tl_check(ok, "%s exceeds tolerance (atol %g, rtol %g)", what, atol, rtol);
}

static int meta_num(const ref_t *r, const char *key, double *out)
{
    const char *v = fmcl_st_meta(&r->f, key);
    char *end = NULL;
    if (v) *out = strtod(v, &end);
    return tl_check(v && end != v && *end == 0, "%s: metadata '%s' missing or not a number",
                    REF_PATH, key);
}

static int ref_open(ref_t *r)
{
    char err[1024];
    memset(r, 0, sizeof *r);
    if (!tl_check(fmcl_st_read(REF_PATH, &r->f, err, sizeof err) == FMCL_OK, "%s", err)) return 0;
    double B, D, steps, lr, b1, b2, eps, wd, clip;
    if (!(meta_num(r, "batch", &B) && meta_num(r, "dim", &D) && meta_num(r, "steps", &steps) &&
          meta_num(r, "lr", &lr) && meta_num(r, "beta1", &b1) && meta_num(r, "beta2", &b2) &&
          meta_num(r, "eps", &eps) && meta_num(r, "adamw_weight_decay", &wd) &&
          meta_num(r, "adamw_clip_max_norm", &clip)))
        return 0;
    r->B = (int)B, r->D = (int)D, r->in = r->D + 1, r->steps = (int)steps;
    if (!tl_check(B >= 1 && B <= 4096 && D >= 1 && D <= 64 && steps >= 1 && steps <= 100,
                  "%s: batch %g, dim %g or steps %g out of range", REF_PATH, B, D, steps))
        return 0;
    r->adam = (fmcl_adam_params){(float)lr, (float)b1, (float)b2, (float)eps, 0, 0, 0};
    r->adamw = r->adam;
    r->adamw.weight_decay = (float)wd;
    r->adamw.clip = (float)clip;
    return 1;
}

/* Host side of one reference: CPU forward/backward/loss/Adam (fmcl's _ref
 * functions, the oracle of the per-op tests) against PyTorch. */
static void check_cpu_refs(const ref_t *r, const fmcl_mlp *m, const float *P0, const float *X,
                           const float *U)
{
    size_t np = m->n_params, no = (size_t)r->B * r->D, nx = (size_t)r->B * r->in;
    size_t nmax = np > nx ? np : nx; /* nx > no */
    nmax = nmax > (size_t)r->steps ? nmax : (size_t)r->steps;
    double *want = malloc(nmax * 8), *out = malloc(no * 8), *dout = malloc(no * 8);
    double *g = malloc(np * 8), *dX = malloc(nx * 8), *losses = malloc(r->steps * 8);
    float *P = malloc(np * 4), *gf = malloc(np * 4), *m1 = malloc(np * 4), *m2 = malloc(np * 4);
    float *pred = malloc(no * 4), *dp = malloc(no * 4), *lf = malloc(r->steps * 4);
    if (!want || !out || !dout || !g || !dX || !losses || !P || !gf || !m1 || !m2 || !pred || !dp ||
        !lf) {
        tl_check(0, "out of host memory");
        goto done;
    }
    fmcl_mlp_forward_ref(m, P0, X, r->B, out);
    if (load(r, "pred", no, want)) close_dd("cpu ref: pred", out, want, no, 1e-12, 1e-9);
    for (size_t i = 0; i < no; i++) pred[i] = (float)out[i];
    float loss = (float)fmcl_mse_forward_backward_ref(dp, pred, U, (int)no);
    if (load(r, "loss", 1, want)) tl_close("cpu ref: loss", &loss, want, 1, 0, LOSS_RTOL);
    for (size_t i = 0; i < no; i++) dout[i] = dp[i];
    memset(g, 0, np * 8);
    fmcl_mlp_backward_ref(m, P0, X, dout, r->B, g, dX);
    /* dout went through float (dp), so gradients agree to float rounding. */
    if (load_flat(r, m, "grad.", want))
        close_dd("cpu ref: parameter gradients", g, want, np, 1e-9, 1e-6);
    if (load(r, "dinput", nx, want)) close_dd("cpu ref: input gradient", dX, want, nx, 1e-9, 1e-6);
    /* The optimisers, step by step as the trainer does it. */
    for (int run = 0; run < 2; run++) {
        const fmcl_adam_params *ap = run ? &r->adamw : &r->adam;
        memcpy(P, P0, np * 4);
        memset(m1, 0, np * 4);
        memset(m2, 0, np * 4);
        for (int k = 0; k < r->steps; k++) {
            fmcl_mlp_forward_ref(m, P, X, r->B, out);
            for (size_t i = 0; i < no; i++) pred[i] = (float)out[i];
            lf[k] = (float)fmcl_mse_forward_backward_ref(dp, pred, U, (int)no);
            for (size_t i = 0; i < no; i++) dout[i] = dp[i];
            memset(g, 0, np * 8);
            fmcl_mlp_backward_ref(m, P, X, dout, r->B, g, NULL);
            for (size_t i = 0; i < np; i++) gf[i] = (float)g[i];
            fmcl_adam_step_ref(P, gf, m1, m2, ap->clip > 0 ? fmcl_sumsq_ref(gf, (int)np) : 0, ap,
                               k + 1, (int)np);
        }
        if (load(r, run ? "adamw_clip_losses" : "adam_losses", r->steps, losses))
            tl_close(run ? "cpu ref: adamw+clip losses" : "cpu ref: adam losses", lf, losses,
                     r->steps, 0, LOSS_RTOL);
        if (load_flat(r, m, run ? "adamw_clip_final." : "adam_final.", want))
            tl_close(run ? "cpu ref: adamw+clip final params" : "cpu ref: adam final params", P,
                     want, np, PARAM_ATOL, 0);
    }
done:
    free(want), free(out), free(dout), free(g), free(dX), free(losses);
    free(P), free(gf), free(m1), free(m2), free(pred), free(dp), free(lf);
}

typedef struct {
    tl_buf X, U, pred, dpred, loss, grads, dX, m1, m2, partials, normsq;
} bufs_t;

/* steps optimiser steps on the reference batch, as fmcl's trainer enqueues
 * them; the loss before step k lands in b->loss[k]. */
static fmcl_status run_optimizer(fmcl_ctx *ctx, fmcl_mlp *m, fmcl_mlp_acts *a, bufs_t *b,
                                 const float *P0, const fmcl_adam_params *ap, int steps, int B,
                                 int D)
{
    int n = (int)m->n_params;
    fmcl_status s = fmcl_write(ctx, m->params, P0, (size_t)n * 4);
    if (s == FMCL_OK) s = fmcl_fill(ctx, b->m1.t, 0.0f, n);
    if (s == FMCL_OK) s = fmcl_fill(ctx, b->m2.t, 0.0f, n);
    for (int k = 0; s == FMCL_OK && k < steps; k++) {
        s = fmcl_mlp_forward(m, a, b->pred.t, b->X.t, B);
        if (s == FMCL_OK)
            s = fmcl_mse_forward_backward(ctx, b->dpred.t, fmcl_at(b->loss.t, k), b->pred.t, b->U.t,
                                          b->partials.t, B * D);
        if (s == FMCL_OK) s = fmcl_fill(ctx, b->grads.t, 0.0f, n);
        if (s == FMCL_OK)
            s = fmcl_mlp_backward(m, a, b->grads.t, b->dpred.t, b->X.t, (fmcl_t){0}, B);
        if (s == FMCL_OK && ap->clip > 0)
            s = fmcl_sumsq(ctx, b->normsq.t, b->grads.t, b->partials.t, n);
        if (s == FMCL_OK)
            s = fmcl_adam_step(ctx, m->params, b->grads.t, b->m1.t, b->m2.t, b->normsq.t, ap, k + 1,
                               n);
    }
    return s == FMCL_OK ? fmcl_finish(ctx) : s;
}

static void check_device(fmcl_ctx *ctx, const ref_t *r, fmcl_mlp *m, const float *P0,
                         const float *X, const float *U)
{
    int B = r->B, D = r->D;
    size_t np = m->n_params, no = (size_t)B * D, nx = (size_t)B * r->in;
    size_t nmax = np > nx ? np : nx; /* nx > no */
    nmax = nmax > (size_t)r->steps ? nmax : (size_t)r->steps;
    double *want = malloc(nmax * 8);
    float *got = malloc(nmax * 4);
    bufs_t b;
    memset(&b, 0, sizeof b);
    fmcl_mlp_acts a;
    memset(&a, 0, sizeof a);
    int ok = tl_check(want && got, "out of host memory") &&
             tl_check(fmcl_mlp_acts_create(m, B, &a) == FMCL_OK, "acts: %s", fmcl_ctx_error(ctx));
    ok = ok && tl_buf_new(ctx, &b.X, nx, X) && tl_buf_new(ctx, &b.U, no, U) &&
         tl_buf_new(ctx, &b.pred, no, NULL) && tl_buf_new(ctx, &b.dpred, no, NULL) &&
         tl_buf_new(ctx, &b.loss, (size_t)r->steps, NULL) && tl_buf_new(ctx, &b.grads, np, NULL) &&
         tl_buf_new(ctx, &b.dX, nx, NULL) && tl_buf_new(ctx, &b.m1, np, NULL) &&
         tl_buf_new(ctx, &b.m2, np, NULL) &&
         tl_buf_new(ctx, &b.partials, fmcl_reduce_partials(nmax), NULL) &&
         tl_buf_new(ctx, &b.normsq, 1, NULL);
    if (!ok) goto done;

    /* One step: prediction, loss, gradients w.r.t. parameters and input. */
    fmcl_status s = fmcl_mlp_forward(m, &a, b.pred.t, b.X.t, B);
    if (s == FMCL_OK)
        s = fmcl_mse_forward_backward(ctx, b.dpred.t, b.loss.t, b.pred.t, b.U.t, b.partials.t,
                                      (int)no);
    if (s == FMCL_OK) s = fmcl_mlp_backward(m, &a, b.grads.t, b.dpred.t, b.X.t, b.dX.t, B);
    if (!tl_check(s == FMCL_OK, "one step: %s", fmcl_ctx_error(ctx))) goto done;
    if (tl_buf_read(ctx, &b.pred, got) && load(r, "pred", no, want))
        tl_close("pred", got, want, no, ATOL, RTOL);
    if (tl_buf_read(ctx, &b.loss, got) && load(r, "loss", 1, want))
        tl_close("loss", got, want, 1, 0, LOSS_RTOL);
    if (tl_buf_read(ctx, &b.grads, got) && load_flat(r, m, "grad.", want))
        for (int l = 0; l < m->n_layers; l++) { /* per tensor: a failure names its layer */
            char what[64];
            snprintf(what, sizeof what, "grad.%d.weight", 2 * l);
            tl_close(what, got + m->w_off[l], want + m->w_off[l], (size_t)m->out[l] * m->in[l],
                     ATOL, RTOL);
            snprintf(what, sizeof what, "grad.%d.bias", 2 * l);
            tl_close(what, got + m->b_off[l], want + m->b_off[l], (size_t)m->out[l], ATOL, RTOL);
        }
    if (tl_buf_read(ctx, &b.dX, got) && load(r, "dinput", nx, want))
        tl_close("input gradient", got, want, nx, ATOL, RTOL);
    tl_guard_ok(ctx, &b.pred, "pred");
    tl_guard_ok(ctx, &b.loss, "loss");
    tl_guard_ok(ctx, &b.grads, "gradients");
    tl_guard_ok(ctx, &b.dX, "input gradient");

    /* 5 steps of Adam, then of AdamW with gradient clipping, from the same start. */
    for (int run = 0; run < 2; run++) {
        const char *name = run ? "adamw+clip" : "adam";
        char what[64];
        s = run_optimizer(ctx, m, &a, &b, P0, run ? &r->adamw : &r->adam, r->steps, B, D);
        if (!tl_check(s == FMCL_OK, "%s steps: %s", name, fmcl_ctx_error(ctx))) continue;
        snprintf(what, sizeof what, "%s: loss before each step", name);
        if (tl_buf_read(ctx, &b.loss, got) &&
            load(r, run ? "adamw_clip_losses" : "adam_losses", r->steps, want))
            tl_close(what, got, want, r->steps, 0, LOSS_RTOL);
        snprintf(what, sizeof what, "%s: final parameters", name);
        if (tl_check(fmcl_read(ctx, m->params, got, np * 4) == FMCL_OK, "read parameters: %s",
                     fmcl_ctx_error(ctx)) &&
            load_flat(r, m, run ? "adamw_clip_final." : "adam_final.", want))
            tl_close(what, got, want, np, PARAM_ATOL, 0);
        tl_guard_ok(ctx, &b.m1, "Adam first moment");
        tl_guard_ok(ctx, &b.m2, "Adam second moment");
    }
done:
    fmcl_mlp_acts_free(&a);
    tl_buf *all[] = {&b.X,  &b.U,  &b.pred, &b.dpred,    &b.loss,  &b.grads,
                     &b.dX, &b.m1, &b.m2,   &b.partials, &b.normsq};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tl_buf_free(all[i]);
    free(want);
    free(got);
}

static int run(fmcl_ctx *ctx, void *user)
{
    const ref_t *r = user;
    fmcl_model *model = NULL;
    if (!tl_check(fmcl_model_load(ctx, REF_PATH, FMCL_WEIGHTS_RAW, &model) == FMCL_OK,
                  "load %s: %s", REF_PATH, fmcl_ctx_error(ctx)))
        return 0;
    fmcl_mlp *m = model->mlp;
    size_t np = m->n_params, nx = (size_t)r->B * r->in, no = (size_t)r->B * r->D;
    float *P0 = malloc(np * 4), *got = malloc(np * 4), *X = malloc(nx * 4), *U = malloc(no * 4);
    double *flat = malloc(np * 8);
    if (!tl_check(P0 && got && X && U && flat, "out of host memory")) goto done;
    if (!tl_check(m->cfg.dim == r->D && m->in[0] == r->in && m->cfg.time_freqs == 0,
                  "%s: model is dim %d, input %d; the reference batch is dim %d, input %d",
                  REF_PATH, m->cfg.dim, m->in[0], r->D, r->in))
        goto done;
    /* The checkpoint loader must place each PyTorch tensor at its flat offset. */
    if (!(load_flat(r, m, "", flat) && load_f(r, "x", nx, X) && load_f(r, "target", no, U)))
        goto done;
    for (size_t i = 0; i < np; i++) P0[i] = (float)flat[i];
    if (tl_check(fmcl_read(ctx, m->params, got, np * 4) == FMCL_OK, "read: %s",
                 fmcl_ctx_error(ctx)))
        tl_check(memcmp(got, P0, np * 4) == 0,
                 "fmcl_model_load did not reproduce the PyTorch state_dict bit for bit");
    printf("  model %d -> %d x %d -> %d, %zu parameters, batch %d\n", m->in[0], m->cfg.width,
           m->cfg.depth, m->cfg.dim, np, r->B);
    check_cpu_refs(r, m, P0, X, U);
    check_device(ctx, r, m, P0, X, U);
done:
    fmcl_model_free(model);
    free(P0), free(got), free(X), free(U), free(flat);
    return 0;
}

int main(void)
{
    ref_t r;
    if (!ref_open(&r)) {
        fmcl_st_free(&r.f);
        return tl_summary();
    }
    int rc = tl_for_each_device(run, &r);
    fmcl_st_free(&r.f);
    return rc;
}
