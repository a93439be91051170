/* The U-Net on the device: parameters in one flat buffer (state_dict order,
 * unet_plan.c's table), activations in one buffer planned for the largest
 * batch, forward and backward as the plan's op list through the image
 * layers' launchers. Nothing here allocates or waits on the device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/image_ops.h"
#include "nn/nn_ops.h"
#include "nn/unet_plan.h"
#include "runtime/rng.h"
#include "runtime/vec.h"

void fmcl_unet_init_ref(const fmcl_unet_plan *p, uint64_t seed, float *params)
{
    /* Element j of the flat buffer takes word j % 4 of philox(seed; j / 4,
     * 0, INIT, 0), as the MLP's. */
    for (int i = 0; i < p->n_tensors; i++) {
        const fmcl_unet_param *e = &p->tensors[i];
        float bound = e->fan_in ? (float)(1.0 / sqrt((double)e->fan_in)) : 0.0f;
        for (size_t j = e->off; j < e->off + e->n; j++) {
            uint32_t r[4];
            if (e->init == FMCL_UNET_INIT_UNIFORM) {
                fmcl_philox(seed, (uint32_t)(j / 4), 0, FMCL_STREAM_INIT, 0, r);
                params[j] = bound * (2.0f * fmcl_u01(r[j % 4]) - 1.0f);
            } else if (e->init == FMCL_UNET_INIT_NORMAL) {
                float z[2];
                fmcl_philox(seed, (uint32_t)(j / 4), 0, FMCL_STREAM_INIT, 0, r);
                fmcl_box_muller(r[j % 4 / 2 * 2], r[j % 4 / 2 * 2 + 1], &z[0], &z[1]);
                params[j] = z[j % 2];
            } else {
                params[j] = e->init == FMCL_UNET_INIT_ONE ? 1.0f : 0.0f;
            }
        }
    }
}

fmcl_status fmcl_unet_create(fmcl_ctx *ctx, const fmcl_unet_spec *cfg, uint64_t seed,
                             fmcl_unet **out)
{
    *out = NULL;
    fmcl_status s = fmcl_unet_check_spec(cfg, ctx->err, sizeof ctx->err);
    if (s != FMCL_OK) return s;
    fmcl_unet *u = calloc(1, sizeof *u);
    if (!u) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory creating the U-Net");
    u->ctx = ctx;
    u->cfg = *cfg;
    s = fmcl_unet_plan_create(cfg, 1, &u->plan, ctx->err, sizeof ctx->err);
    if (s == FMCL_OK) {
        u->n_params = u->plan->n_params;
        s = fmcl_alloc(ctx, u->n_params * sizeof(float), &u->params, "U-Net parameters");
    }
    float *p = s == FMCL_OK ? malloc(u->n_params * sizeof *p) : NULL;
    if (s == FMCL_OK && !p)
        s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory initialising the U-Net");
    if (s == FMCL_OK) {
        fmcl_unet_init_ref(u->plan, seed, p);
        s = fmcl_write(ctx, u->params, p, u->n_params * sizeof *p);
    }
    free(p);
    if (s != FMCL_OK) {
        fmcl_unet_free(u);
        return s;
    }
    *out = u;
    return FMCL_OK;
}

void fmcl_unet_free(fmcl_unet *u)
{
    if (!u) return;
    fmcl_release(&u->params);
    fmcl_unet_plan_free(u->plan);
    free(u);
}

/* Every GEMM shape of forward and backward at the plan's batch. */
static fmcl_status reserve(fmcl_ctx *ctx, const fmcl_unet_plan *p)
{
    fmcl_status s = FMCL_OK;
    for (int i = 0; i < p->n_ops && s == FMCL_OK; i++) {
        const unet_op *op = &p->ops[i];
        if (op->kind == UNET_CONV) {
            fmcl_conv_shape cs = unet_conv_shape(op, p->B);
            s = fmcl_conv_reserve(ctx, &cs);
        } else if (op->kind == UNET_ATTN) {
            s = fmcl_attention_reserve(ctx, p->B, op->C, op->H, op->heads);
        } else if (op->kind == UNET_LINEAR) {
            int B = p->B, N = op->C, K = op->K;
            s = fmcl_gemm_reserve(ctx, 0, 1, B, N, K, K, K, N);
            if (s == FMCL_OK) s = fmcl_gemm_reserve(ctx, 1, 0, N, K, B, N, K, K);
            if (s == FMCL_OK) s = fmcl_gemm_reserve(ctx, 0, 0, B, K, N, N, K, K);
        } else if (op->kind == UNET_EMBED) {
            s = fmcl_gemm_reserve(ctx, 0, 0, p->B, op->C, op->K, op->K, op->C, op->C);
            if (s == FMCL_OK)
                s = fmcl_gemm_reserve(ctx, 1, 0, op->K, op->C, p->B, op->K, op->C, op->C);
        }
    }
    return s;
}

fmcl_status fmcl_unet_acts_for_plan(fmcl_ctx *ctx, fmcl_unet_plan *plan, fmcl_unet_acts *a)
{
    memset(a, 0, sizeof *a);
    a->plan = plan;
    fmcl_status s = fmcl_alloc(ctx, plan->total * sizeof(float), &a->mem, "U-Net activations");
    /* Zeroed once at setup, so every byte is defined before the first step. */
    if (s == FMCL_OK) s = fmcl_fill(ctx, a->mem, 0.0f, (int)plan->total);
    if (s == FMCL_OK) s = reserve(ctx, plan);
    if (s != FMCL_OK) {
        fmcl_unet_acts_free(a);
        return s;
    }
    a->B = plan->B;
    return FMCL_OK;
}

fmcl_status fmcl_unet_acts_create(fmcl_unet *u, int B, fmcl_unet_acts *a)
{
    fmcl_ctx *ctx = u->ctx;
    fmcl_unet_plan *plan;
    memset(a, 0, sizeof *a);
    fmcl_status s = fmcl_unet_plan_create(&u->cfg, B, &plan, ctx->err, sizeof ctx->err);
    return s != FMCL_OK ? s : fmcl_unet_acts_for_plan(ctx, plan, a);
}

void fmcl_unet_acts_free(fmcl_unet_acts *a)
{
    fmcl_release(&a->mem);
    fmcl_unet_plan_free(a->plan);
    a->plan = NULL;
}

typedef struct {
    const fmcl_unet_plan *p;
    fmcl_t mem;
    fmcl_t x, t, y, v, dv, dx; /* the caller's tensors */
    fmcl_unet_mode mode;
} dev_run;

static fmcl_t act(const dev_run *r, int s)
{
    if (s == UNET_SLOT_X) return r->x;
    if (s == UNET_SLOT_T) return r->t;
    if (s == r->p->label_slot) return r->y;
    return r->p->slots[s].ext ? r->v : fmcl_at(r->mem, r->p->slots[s].off);
}

static fmcl_t grad(const dev_run *r, int s)
{
    if (s == UNET_SLOT_X) return r->dx;
    if (s == UNET_SLOT_T || s == r->p->label_slot) return (fmcl_t){NULL, 0};
    if (r->p->slots[s].ext) return r->dv;
    size_t g = r->p->slots[s].goff;
    return g == SIZE_MAX ? (fmcl_t){NULL, 0} : fmcl_at(r->mem, g);
}

static fmcl_status forward_op(fmcl_ctx *ctx, const dev_run *r, const unet_op *op, fmcl_t P, int B)
{
    fmcl_t in = act(r, op->in), out = act(r, op->out), w = fmcl_at(P, op->w), b = fmcl_at(P, op->b);
    fmcl_t scratch = fmcl_at(r->mem, r->p->scratch_off);
    fmcl_conv_shape cs = unet_conv_shape(op, B);
    fmcl_status s;
    switch (op->kind) {
    case UNET_TEMB: return fmcl_time_embedding(ctx, out, in, FMCL_TIME_SCALE, B, op->C);
    case UNET_LINEAR:
        s = fmcl_gemm(ctx, 0, 1, B, op->C, op->K, 1.0f, in, op->K, w, op->K, 0.0f, out, op->C);
        return s != FMCL_OK ? s : fmcl_bias_forward(ctx, out, b, B, op->C);
    case UNET_SILU: return fmcl_silu_forward(ctx, out, in, B, op->C);
    case UNET_GN:
        return fmcl_groupnorm_forward(ctx, out, act(r, op->aux), act(r, op->aux2), in, w, b,
                                      op->in2 >= 0 ? act(r, op->in2) : (fmcl_t){NULL, 0}, op->K, B,
                                      op->C, op->H, op->G);
    case UNET_CONV: return fmcl_conv2d_forward(ctx, out, in, w, b, scratch, &cs);
    case UNET_ADD: return fmcl_axpy_to(ctx, out, in, 1.0f, act(r, op->in2), B * op->C);
    case UNET_UP: return fmcl_upsample2x_forward(ctx, out, in, B, op->C, op->H, op->W);
    case UNET_CAT:
        return fmcl_concat_forward(ctx, out, in, act(r, op->in2), B, op->C, op->K, op->H);
    case UNET_ATTN:
        return fmcl_attention_forward(ctx, out, act(r, op->aux), in, B, op->C, op->H, op->heads);
    case UNET_EMBED:
        return fmcl_gemm(ctx, 0, 0, B, op->C, op->K, 1.0f, in, op->K, w, op->C, 0.0f, out, op->C);
    case UNET_DROP:
        if (!r->mode.train) return fmcl_copy(ctx, out, in, (size_t)B * op->C);
        return fmcl_dropout_forward(ctx, out, in, r->p->cfg.dropout, r->mode.seed, r->mode.step,
                                    (uint32_t)op->K, (uint32_t)r->mode.row0 * op->C, B * op->C);
    }
    return fmcl_fail(ctx, FMCL_ERR_ARG, "U-Net plan holds an unknown op %d", op->kind);
}

static fmcl_status backward_op(fmcl_ctx *ctx, const dev_run *r, const unet_op *op, fmcl_t P,
                               fmcl_t grads, int B)
{
    fmcl_t in = act(r, op->in), din = grad(r, op->in), dout = grad(r, op->out);
    fmcl_t w = fmcl_at(P, op->w), dw = fmcl_at(grads, op->w), db = fmcl_at(grads, op->b);
    fmcl_t scratch = fmcl_at(r->mem, r->p->scratch_off);
    fmcl_conv_shape cs = unet_conv_shape(op, B);
    fmcl_status s = FMCL_OK;
    switch (op->kind) {
    case UNET_TEMB: return FMCL_OK;
    case UNET_LINEAR:
        s = fmcl_gemm(ctx, 1, 0, op->C, op->K, B, 1.0f, dout, op->C, in, op->K, 1.0f, dw, op->K);
        if (s == FMCL_OK) s = fmcl_bias_backward(ctx, db, dout, scratch, B, op->C);
        if (s == FMCL_OK && din.mem)
            s = fmcl_gemm(ctx, 0, 0, B, op->K, op->C, 1.0f, dout, op->C, w, op->K, 1.0f, din,
                          op->K);
        return s;
    case UNET_SILU: return din.mem ? fmcl_silu_backward(ctx, din, dout, in, B, op->C) : FMCL_OK;
    case UNET_GN: {
        fmcl_t none = {NULL, 0}, ss = op->in2 >= 0 ? act(r, op->in2) : none;
        return fmcl_groupnorm_backward(
            ctx, din, dw, db, op->in2 >= 0 ? grad(r, op->in2) : none, dout, in, act(r, op->aux),
            act(r, op->aux2), w, fmcl_at(P, op->b), ss, op->K, scratch, B, op->C, op->H, op->G);
    }
    case UNET_CONV: return fmcl_conv2d_backward(ctx, din, dw, db, dout, in, w, scratch, &cs);
    case UNET_ADD: {
        fmcl_t din2 = grad(r, op->in2);
        if (din.mem) s = fmcl_axpy_to(ctx, din, din, 1.0f, dout, B * op->C);
        return s != FMCL_OK ? s : fmcl_axpy_to(ctx, din2, din2, 1.0f, dout, B * op->C);
    }
    case UNET_UP: return fmcl_upsample2x_backward(ctx, din, dout, B, op->C, op->H, op->W);
    case UNET_CAT:
        return fmcl_concat_backward(ctx, din, grad(r, op->in2), dout, B, op->C, op->K, op->H);
    case UNET_ATTN:
        return fmcl_attention_backward(ctx, din, dout, in, act(r, op->aux), scratch, B, op->C,
                                       op->H, op->heads);
    case UNET_EMBED:
        return fmcl_gemm(ctx, 1, 0, op->K, op->C, B, 1.0f, in, op->K, dout, op->C, 1.0f, dw, op->C);
    case UNET_DROP:
        if (!r->mode.train) return fmcl_copy(ctx, din, dout, (size_t)B * op->C);
        return fmcl_dropout_backward(ctx, din, dout, r->p->cfg.dropout, r->mode.seed, r->mode.step,
                                     (uint32_t)op->K, (uint32_t)r->mode.row0 * op->C, B * op->C);
    }
    return fmcl_fail(ctx, FMCL_ERR_ARG, "U-Net plan holds an unknown op %d", op->kind);
}

static fmcl_status batch_ok(fmcl_unet *u, const fmcl_unet_acts *a, int B, const char *what)
{
    if (!a->mem.mem) return fmcl_fail(u->ctx, FMCL_ERR_ARG, "U-Net %s without activations", what);
    if (B < 1 || B > a->B)
        return fmcl_fail(u->ctx, FMCL_ERR_ARG,
                         "U-Net %s of %d images with activations planned for 1 to %d", what, B,
                         a->B);
    return FMCL_OK;
}

static fmcl_status labels_ok(fmcl_unet *u, const fmcl_unet_acts *a, fmcl_t y)
{
    if (a->plan->label_slot >= 0 && !y.mem)
        return fmcl_fail(u->ctx, FMCL_ERR_ARG,
                         "the U-Net is conditioned on %d classes: pass the one-hot labels y "
                         "(zeros for the null class)",
                         a->plan->cfg.classes);
    return FMCL_OK;
}

/* Slots are laid out for the plan's batch; a smaller one uses their first rows. */
fmcl_status fmcl_unet_forward(fmcl_unet *u, fmcl_unet_acts *a, fmcl_t v, fmcl_t x, fmcl_t t,
                              fmcl_t y, int B)
{
    fmcl_status s = batch_ok(u, a, B, "forward");
    if (s == FMCL_OK) s = labels_ok(u, a, y);
    dev_run r = {a->plan, a->mem, x, t, y, v, {NULL, 0}, {NULL, 0}, a->mode};
    for (int i = 0; s == FMCL_OK && i < a->plan->n_ops; i++)
        s = forward_op(u->ctx, &r, &a->plan->ops[i], u->params, B);
    return s;
}

fmcl_status fmcl_unet_backward(fmcl_unet *u, fmcl_unet_acts *a, fmcl_t grads, fmcl_t dv, fmcl_t x,
                               fmcl_t y, fmcl_t dx, int B)
{
    fmcl_status s = batch_ok(u, a, B, "backward");
    if (s == FMCL_OK) s = labels_ok(u, a, y);
    const fmcl_unet_plan *p = a->plan;
    dev_run r = {p, a->mem, x, {NULL, 0}, y, {NULL, 0}, dv, dx, a->mode};
    /* Every layer's backward accumulates: each gradient is cleared right
     * before its first writer (it shares memory with others), dx first. */
    if (s == FMCL_OK && dx.mem) s = fmcl_fill(u->ctx, dx, 0.0f, B * (int)p->slots[UNET_SLOT_X].per);
    for (int i = p->n_ops - 1; s == FMCL_OK && i >= 0; i--) {
        for (int k = 0; k < p->n_slots && s == FMCL_OK; k++) {
            const unet_slot *sl = &p->slots[k];
            if (sl->first == i && !sl->ext && sl->goff != SIZE_MAX)
                s = fmcl_fill(u->ctx, fmcl_at(a->mem, sl->goff), 0.0f, B * (int)sl->per);
        }
        if (s == FMCL_OK) s = backward_op(u->ctx, &r, &p->ops[i], u->params, grads, B);
    }
    return s;
}
