/* The U-Net's plain-C reference: the plan's op list run with the layers'
 * _ref functions (float tensors as on the device, sums in double), in one
 * host buffer laid out as the device's. */
#include <stdlib.h>
#include <string.h>

#include "nn/image_ops.h"
#include "nn/nn_ops.h"
#include "nn/unet_plan.h"

typedef struct {
    const fmcl_unet_plan *p;
    float *buf;
    const float *params, *x, *t, *y;
    float *v, *dv, *dx; /* the output and the external gradients (dx may be NULL) */
    fmcl_unet_mode mode;
} ref_run;

static float *act(const ref_run *r, int s)
{
    if (s == UNET_SLOT_X) return (float *)r->x;
    if (s == UNET_SLOT_T) return (float *)r->t;
    if (s == r->p->label_slot) return (float *)r->y;
    return r->p->slots[s].ext ? r->v : r->buf + r->p->slots[s].off;
}

static float *grad(const ref_run *r, int s)
{
    if (s == UNET_SLOT_X) return r->dx;
    if (s == UNET_SLOT_T || s == r->p->label_slot) return NULL;
    if (r->p->slots[s].ext) return r->dv;
    return r->p->slots[s].goff == SIZE_MAX ? NULL : r->buf + r->p->slots[s].goff;
}

static void forward_op(const ref_run *r, const unet_op *op)
{
    int B = r->p->B;
    float *in = act(r, op->in), *out = act(r, op->out);
    const float *w = r->params + op->w, *b = r->params + op->b;
    fmcl_conv_shape cs = unet_conv_shape(op, B);
    switch (op->kind) {
    case UNET_TEMB: fmcl_time_embedding_ref(out, in, FMCL_TIME_SCALE, B, op->C); break;
    case UNET_LINEAR:
        fmcl_gemm_ref(0, 1, B, op->C, op->K, 1.0f, in, op->K, w, op->K, 0.0f, out, op->C);
        fmcl_bias_forward_ref(out, b, B, op->C);
        break;
    case UNET_SILU: fmcl_silu_forward_ref(out, in, B, op->C); break;
    case UNET_GN:
        fmcl_groupnorm_forward_ref(out, act(r, op->aux), act(r, op->aux2), in, w, b,
                                   op->in2 >= 0 ? act(r, op->in2) : NULL, op->K, B, op->C, op->H,
                                   op->G);
        break;
    case UNET_CONV: fmcl_conv2d_forward_ref(out, in, w, b, &cs); break;
    case UNET_ADD: {
        const float *in2 = act(r, op->in2);
        for (size_t i = 0; i < (size_t)B * op->C; i++) out[i] = in[i] + in2[i];
        break;
    }
    case UNET_UP: fmcl_upsample2x_forward_ref(out, in, B, op->C, op->H, op->W); break;
    case UNET_CAT: fmcl_concat_forward_ref(out, in, act(r, op->in2), B, op->C, op->K, op->H); break;
    case UNET_ATTN:
        fmcl_attention_forward_ref(out, act(r, op->aux), in, B, op->C, op->H, op->heads);
        break;
    case UNET_EMBED:
        fmcl_gemm_ref(0, 0, B, op->C, op->K, 1.0f, in, op->K, w, op->C, 0.0f, out, op->C);
        break;
    case UNET_DROP:
        if (r->mode.train)
            fmcl_dropout_ref(out, in, r->p->cfg.dropout, r->mode.seed, r->mode.step,
                             (uint32_t)op->K, (uint32_t)r->mode.row0 * op->C, B * op->C);
        else
            memcpy(out, in, (size_t)B * op->C * sizeof *out);
        break;
    }
}

static void backward_op(const ref_run *r, const unet_op *op, float *grads)
{
    int B = r->p->B;
    float *in = act(r, op->in), *din = grad(r, op->in), *dout = grad(r, op->out);
    const float *w = r->params + op->w;
    float *dw = grads + op->w, *db = grads + op->b;
    fmcl_conv_shape cs = unet_conv_shape(op, B);
    switch (op->kind) {
    case UNET_TEMB: break;
    case UNET_LINEAR:
        fmcl_gemm_ref(1, 0, op->C, op->K, B, 1.0f, dout, op->C, in, op->K, 1.0f, dw, op->K);
        fmcl_bias_backward_ref(db, dout, B, op->C);
        if (din)
            fmcl_gemm_ref(0, 0, B, op->K, op->C, 1.0f, dout, op->C, w, op->K, 1.0f, din, op->K);
        break;
    case UNET_SILU:
        if (din) fmcl_silu_backward_ref(din, dout, in, B, op->C);
        break;
    case UNET_GN:
        fmcl_groupnorm_backward_ref(din, dw, db, op->in2 >= 0 ? grad(r, op->in2) : NULL, dout, in,
                                    act(r, op->aux), act(r, op->aux2), w, r->params + op->b,
                                    op->in2 >= 0 ? act(r, op->in2) : NULL, op->K, B, op->C, op->H,
                                    op->G);
        break;
    case UNET_CONV: fmcl_conv2d_backward_ref(din, dw, db, dout, in, w, &cs); break;
    case UNET_ADD: {
        float *din2 = grad(r, op->in2);
        for (size_t i = 0; i < (size_t)B * op->C; i++) {
            if (din) din[i] += dout[i];
            din2[i] += dout[i];
        }
        break;
    }
    case UNET_UP: fmcl_upsample2x_backward_ref(din, dout, B, op->C, op->H, op->W); break;
    case UNET_CAT:
        fmcl_concat_backward_ref(din, grad(r, op->in2), dout, B, op->C, op->K, op->H);
        break;
    case UNET_ATTN: fmcl_attention_backward_ref(din, dout, in, B, op->C, op->H, op->heads); break;
    case UNET_EMBED:
        fmcl_gemm_ref(1, 0, op->K, op->C, B, 1.0f, in, op->K, dout, op->C, 1.0f, dw, op->C);
        break;
    case UNET_DROP:
        if (r->mode.train)
            fmcl_dropout_ref(din, dout, r->p->cfg.dropout, r->mode.seed, r->mode.step,
                             (uint32_t)op->K, (uint32_t)r->mode.row0 * op->C, B * op->C);
        else
            memcpy(din, dout, (size_t)B * op->C * sizeof *din);
        break;
    }
}

static fmcl_unet_mode mode_or_eval(const fmcl_unet_mode *mode)
{
    return mode ? *mode : (fmcl_unet_mode){0, 0, 0, 0};
}

void fmcl_unet_forward_ref(const fmcl_unet_plan *p, const float *params, const float *x,
                           const float *t, const float *y, float *v)
{
    fmcl_unet_forward_ref_mode(p, NULL, params, x, t, y, v);
}

void fmcl_unet_grad_ref(const fmcl_unet_plan *p, const float *params, const float *x,
                        const float *t, const float *y, const float *dv, float *grads, float *dx)
{
    fmcl_unet_grad_ref_mode(p, NULL, params, x, t, y, dv, grads, dx);
}

void fmcl_unet_forward_ref_mode(const fmcl_unet_plan *p, const fmcl_unet_mode *mode,
                                const float *params, const float *x, const float *t, const float *y,
                                float *v)
{
    ref_run r = {
        p, calloc(p->total, sizeof(float)), params, x, t, y, v, NULL, NULL, mode_or_eval(mode)};
    for (int i = 0; r.buf && i < p->n_ops; i++) forward_op(&r, &p->ops[i]);
    free(r.buf);
}

void fmcl_unet_grad_ref_mode(const fmcl_unet_plan *p, const fmcl_unet_mode *mode,
                             const float *params, const float *x, const float *t, const float *y,
                             const float *dv, float *grads, float *dx)
{
    size_t nx = (size_t)p->B * p->slots[UNET_SLOT_X].per;
    size_t nv = (size_t)p->B * p->slots[p->ops[p->n_ops - 1].out].per;
    float *v = malloc(nv * sizeof *v), *dvc = malloc(nv * sizeof *dvc);
    ref_run r = {
        p, calloc(p->total, sizeof(float)), params, x, t, y, v, dvc, dx, mode_or_eval(mode)};
    if (r.buf && v && dvc) {
        memcpy(dvc, dv, nv * sizeof *dvc);
        if (dx) memset(dx, 0, nx * sizeof *dx);
        for (int i = 0; i < p->n_ops; i++) forward_op(&r, &p->ops[i]);
        for (int i = p->n_ops - 1; i >= 0; i--) {
            for (int k = 0; k < p->n_slots; k++) /* as on the device */
                if (p->slots[k].first == i && !p->slots[k].ext && p->slots[k].goff != SIZE_MAX)
                    memset(r.buf + p->slots[k].goff, 0, p->B * p->slots[k].per * sizeof(float));
            backward_op(&r, &p->ops[i], grads);
        }
    }
    free(r.buf);
    free(v);
    free(dvc);
}
