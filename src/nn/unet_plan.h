/* The U-Net's op list (internal to unet_plan.c, unet.c and unet_ref.c).
 * Every op reads whole slots and writes one new slot, so nothing is
 * overwritten before the backward reads it. Slots are [B, per] with the
 * batch first; a batch smaller than the plan's uses each slot's first rows. */
#ifndef FMCL_UNET_PLAN_H
#define FMCL_UNET_PLAN_H

#include "nn/image_ops.h"
#include "nn/unet.h"

enum {
    UNET_TEMB,   /* out[B, C] = sinusoidal(t) (no gradient) */
    UNET_LINEAR, /* out[B, C] = in[B, K] w[C, K]^T + b */
    UNET_SILU,   /* out = silu(in); its backward overwrites d in (one consumer) */
    UNET_GN,     /* out = GroupNorm(in) [B, C, H W], aux = mean, aux2 = rstd [B, G], then
                  * with in2 >= 0 out (1 + scale) + shift (in2 = ss [B, 2C]), then with
                  * K = 1 SiLU */
    UNET_CONV,   /* out[B, K, Ho, Wo] = conv(in[B, C, H, W]) */
    UNET_ADD,    /* out = in + in2 */
    UNET_UP,     /* out[B, C, 2H, 2W] = nearest 2x of in[B, C, H, W] */
    UNET_CAT,    /* out[B, C + K, H W] = [in, in2] along channels */
    UNET_ATTN,   /* out[B, C, H W] = attention(in = qkv[B, 3C, H W]), aux = probabilities */
    UNET_EMBED,  /* out[B, C] = in[B, K] w[K, C] (one-hot rows: w's rows; in gets no gradient) */
    UNET_DROP    /* out[B, C] = dropout(in) at site K (training; a copy in evaluation); its
                  * backward overwrites d in (one consumer) */
};

/* Slots 0 and 1 are the inputs x and t; a conditional U-Net's one-hot
 * labels y are slot label_slot (ext too); the last op writes the output v
 * (the only other slot with ext set). */
enum { UNET_SLOT_X = 0, UNET_SLOT_T = 1 };

typedef struct {
    size_t per;  /* floats per image */
    size_t off;  /* in the activation buffer, for the plan's B */
    size_t goff; /* of its gradient; SIZE_MAX: none */
    int ext;     /* x, t or v: the caller's tensors, not in the buffer */
    /* Its gradient lives from the backward of op `first` (its last reader in
     * the forward, which zeroes it first) to that of op `last` (its
     * producer); gradients whose spans do not meet share memory. */
    int first, last;
} unet_slot;

typedef struct {
    int kind;
    int in, in2, out, aux, aux2;
    size_t w, b; /* parameter offsets: weight / gamma, bias / beta */
    int C, H, W, K, ks, stride, pad, chunk, G, heads;
} unet_op;

struct fmcl_unet_plan {
    fmcl_unet_spec cfg;
    int B;
    int label_slot; /* the one-hot labels' slot; -1: unconditional */
    unet_op *ops;
    int n_ops;
    unet_slot *slots;
    int n_slots;
    fmcl_unet_param *tensors;
    int n_tensors;
    size_t n_params;
    size_t scratch_off; /* conv, attention and bias-gradient scratch */
    size_t total;       /* floats of the activation buffer */
    double flops;
};

/* conv shape of an op for a batch of B. */
static inline fmcl_conv_shape unet_conv_shape(const unet_op *op, int B)
{
    return (fmcl_conv_shape){
        B, op->C, op->H, op->W, op->K, op->ks, op->stride, op->pad, op->chunk < B ? op->chunk : B};
}

#endif
