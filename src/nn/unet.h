/* The image model v(x, t): a U-Net in the style of Dhariwal & Nichol's ADM
 * (guided_diffusion/unet.py, UNetModel) at small scale, built from the image
 * layers of image_ops.h. Differences from ADM: attention splits q, k, v
 * before the heads (ADM's use_new_attention_order=True, QKVAttention), and
 * dropout's mask comes from Philox (nn_ops.h's fmcl_dropout_forward).
 *
 *   emb = Linear(4b, 4b)(SiLU(Linear(b, 4b)(sinusoidal(1000 t, b))))   b = base
 *         (+ label_emb.weight[y] for a class-conditional U-Net, as ADM's
 *         num_classes: y arrives as a K-wide one-hot, so the row is the GEMM
 *         onehot[B, K] table[K, 4b]; the null class, all zeros, adds nothing)
 *   input_blocks:  conv3x3(C -> b); per level l: `blocks` ResBlocks to
 *                  b mult[l] channels (each followed by an AttentionBlock when
 *                  level l attends), then a stride-2 conv3x3 except at the last
 *   middle_block:  ResBlock, AttentionBlock, ResBlock
 *   output_blocks: per level from the last: blocks + 1 ResBlocks on the
 *                  concatenation of h and the matching input block's output
 *                  (+ AttentionBlock), then nearest 2x + conv3x3 except at level 0
 *   out:           GroupNorm -> SiLU -> conv3x3 (-> C)
 *   ResBlock(x):   h = conv3x3(SiLU(GN(x))); h = GN(h) (1 + scale) + shift with
 *                  [scale, shift] = Linear(SiLU(emb));
 *                  h = conv3x3(Dropout(SiLU(h))) (Dropout only when dropout > 0);
 *                  return skip(x) + h (skip: identity or a 1x1 conv)
 *   AttentionBlock(x): x + proj_out(attention(qkv(GN(x)))), qkv and proj_out 1x1
 *
 * The whole network is planned as a list of ops over numbered activation
 * slots (unet_plan.c); the device (unet.c) and the plain-C reference
 * (unet_ref.c) run the same list forward and, reversed, backward. */
#ifndef FMCL_UNET_H
#define FMCL_UNET_H

#include "runtime/runtime.h"

/* The U-Net's whole shape: the public fmcl_unet_config's fields and the
 * model's classes. */
typedef struct {
    int channels, height, width; /* the images: [C, H, W]; H, W divisible by 2^(levels-1) */
    int base;                    /* channels of level 0 (ADM's model_channels) */
    int levels;                  /* entries of mult */
    int mult[FMCL_UNET_MAX_LEVELS];
    int blocks;           /* ResBlocks per level on the way down (num_res_blocks) */
    unsigned attn_levels; /* bit l: attention at level l (resolution H / 2^l) */
    int heads;            /* attention heads; every attending width a multiple */
    int groups;           /* GroupNorm groups; every normalised width a multiple */
    int classes;          /* K > 0: class-conditional (label_emb [K, 4 base]); 0: not */
    float dropout;        /* P in [0, 1): each ResBlock's dropout; 0: no dropout op */
} fmcl_unet_spec;

/* Defaults for 28x28x1 (Fashion-MNIST) and 32x32x3 (CIFAR-10): base 32,
 * mult (1, 2, 2), 1 block, attention at 7x7 / 8x8 with 4 heads, 8 groups. */
void fmcl_unet_spec_default(fmcl_unet_spec *cfg, int channels, int height, int width);
/* FMCL_OK or FMCL_ERR_ARG with a message in err naming the field. */
fmcl_status fmcl_unet_check_spec(const fmcl_unet_spec *cfg, char *err, size_t errlen);

/* One parameter tensor: its PyTorch state_dict name, shape and place in the
 * flat buffer (state_dict order). */
typedef struct {
    char name[64];
    int ndim;
    int shape[4];
    size_t off, n;
    int init;   /* FMCL_UNET_INIT_* */
    int fan_in; /* of the layer: the uniform bound is 1 / sqrt(fan_in) */
} fmcl_unet_param;

/* NORMAL: N(0, 1), nn.Embedding's default (label_emb.weight). */
enum { FMCL_UNET_INIT_UNIFORM, FMCL_UNET_INIT_ONE, FMCL_UNET_INIT_ZERO, FMCL_UNET_INIT_NORMAL };

/* The op list for a batch of up to B images (opaque; unet_plan.c). */
typedef struct fmcl_unet_plan fmcl_unet_plan;

/* Plans a checked configuration for up to B images (FMCL_ERR_ARG, with a
 * batch that fits, when the buffer would pass 2^31 - 1 floats). */
fmcl_status fmcl_unet_plan_create(const fmcl_unet_spec *cfg, int B, fmcl_unet_plan **out, char *err,
                                  size_t errlen);
void fmcl_unet_plan_free(fmcl_unet_plan *p);
/* One block alone, for the tests: a ResBlock (attention 0: Cin -> Cout) or an
 * AttentionBlock (Cin = Cout) on x [B, Cin, H, W], conditioned on emb
 * [B, emb_dim], which takes t's place in the forward and backward calls
 * (emb gets no gradient; dx is required). Tensor names are the block's own
 * (in_layers.0.weight). */
fmcl_status fmcl_unet_plan_block(int attention, int Cin, int Cout, int H, int W, int emb_dim,
                                 int heads, int groups, int B, fmcl_unet_plan **out, char *err,
                                 size_t errlen);
size_t fmcl_unet_plan_params(const fmcl_unet_plan *p);
int fmcl_unet_plan_tensor_count(const fmcl_unet_plan *p);
const fmcl_unet_param *fmcl_unet_plan_tensor(const fmcl_unet_plan *p, int i);
/* Multiply-adds x 2 of one image's forward pass (convs, linears, attention). */
double fmcl_unet_plan_flops(const fmcl_unet_plan *p);
/* Floats of the activation buffer for B images: every activation (all kept
 * for the backward), the gradients (sharing memory where their lifetimes in
 * the backward do not meet) and the scratch of convolution and attention. */
size_t fmcl_unet_plan_floats(const fmcl_unet_plan *p);

/* Device bytes of a training step's own buffers for a batch of B: the
 * activations (fmcl_unet_acts) plus parameters, gradients and Adam's two
 * moments; 0 for an invalid configuration. On top come CLBlast's temporary
 * buffer (the largest GEMM's, sized by fmcl_unet_acts_create), an EMA copy
 * of the parameters if kept, and the batch's own x, t and targets. */
size_t fmcl_unet_peak_bytes(const fmcl_unet_spec *cfg, int B);

typedef struct {
    fmcl_ctx *ctx;
    fmcl_unet_spec cfg;
    fmcl_unet_plan *plan; /* planned for one image: the parameter table */
    size_t n_params;
    fmcl_t params;
} fmcl_unet;

/* Parameters from the Philox stream (FMCL_STREAM_INIT), as PyTorch's
 * defaults: Linear and conv U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
 * and biases, GroupNorm weight 1 and bias 0; as ADM's zero_module, the last
 * conv of every ResBlock, every attention proj_out and the output conv start
 * at zero (weights and biases), so the initial model outputs 0; label_emb
 * is N(0, 1) from Box-Muller on the same draws (element j: the pair j % 4 / 2
 * of philox(seed; j / 4, 0, INIT, 0), its normal j % 2). */
fmcl_status fmcl_unet_create(fmcl_ctx *ctx, const fmcl_unet_spec *cfg, uint64_t seed,
                             fmcl_unet **out);
void fmcl_unet_free(fmcl_unet *u);
/* The initial parameters of fmcl_unet_create on the host (n_params floats). */
void fmcl_unet_init_ref(const fmcl_unet_plan *p, uint64_t seed, float *params);

/* Training or evaluation. Evaluation (train 0, the default) skips dropout;
 * training drops with the masks of (seed, step): ResBlock k's dropout (in
 * op order) is site k of fmcl_dropout_forward over its [B, C, H, W], these
 * B images being rows [row0, row0 + B) of the step's whole batch (a rank's
 * share), so a share drops what the whole batch drops in its rows. */
typedef struct {
    int train;
    uint64_t seed;
    uint32_t step;
    int row0;
} fmcl_unet_mode;

/* Activations for batches of up to B images, planned and allocated once.
 * mode (zero, evaluation, after creation) is the caller's to set before a
 * forward; the backward that follows must see the same. */
typedef struct {
    fmcl_unet_plan *plan;
    int B;
    fmcl_t mem;
    fmcl_unet_mode mode;
} fmcl_unet_acts;

/* Allocates acts for B images and sizes the GEMM scratch for every GEMM of
 * forward and backward at this B. */
fmcl_status fmcl_unet_acts_create(fmcl_unet *u, int B, fmcl_unet_acts *a);
void fmcl_unet_acts_free(fmcl_unet_acts *a);
/* The same for a plan made elsewhere (a block's); a owns it from then on,
 * freed with it even on failure. */
fmcl_status fmcl_unet_acts_for_plan(fmcl_ctx *ctx, fmcl_unet_plan *plan, fmcl_unet_acts *a);

/* v: [B, C, H, W] = v(x, t, y), x: [B, C, H, W], t: [B], y: [B, K] the
 * one-hot of each image's class (zeros: the null class) for a conditional
 * U-Net, unused (may be {NULL, 0}) otherwise; keeps what backward needs in a.
 * Enqueues only: no allocation, no host synchronisation. */
fmcl_status fmcl_unet_forward(fmcl_unet *u, fmcl_unet_acts *a, fmcl_t v, fmcl_t x, fmcl_t t,
                              fmcl_t y, int B);
/* grads (flat, parameter layout) += dL/dparams given dv = dL/dv; dx = dL/dx
 * when dx.mem is non-NULL. Needs the forward's a, x and y, which it leaves
 * unchanged (so several backwards may follow one forward). */
fmcl_status fmcl_unet_backward(fmcl_unet *u, fmcl_unet_acts *a, fmcl_t grads, fmcl_t dv, fmcl_t x,
                               fmcl_t y, fmcl_t dx, int B);

/* The same on the host with the layers' _ref functions (float tensors,
 * double sums) for the plan's B images: v = v(x, t, y) (y: NULL when
 * unconditional); then grads += dL/dparams and dx = dL/dx (dx may be NULL).
 * In evaluation mode; the _mode forms take the mode (NULL: evaluation). */
void fmcl_unet_forward_ref(const fmcl_unet_plan *p, const float *params, const float *x,
                           const float *t, const float *y, float *v);
void fmcl_unet_grad_ref(const fmcl_unet_plan *p, const float *params, const float *x,
                        const float *t, const float *y, const float *dv, float *grads, float *dx);
void fmcl_unet_forward_ref_mode(const fmcl_unet_plan *p, const fmcl_unet_mode *mode,
                                const float *params, const float *x, const float *t, const float *y,
                                float *v);
void fmcl_unet_grad_ref_mode(const fmcl_unet_plan *p, const fmcl_unet_mode *mode,
                             const float *params, const float *x, const float *t, const float *y,
                             const float *dv, float *grads, float *dx);

#endif
