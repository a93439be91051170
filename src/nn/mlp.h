/* The MLP v(x, t): Linear -> SiLU -> ... -> Linear, as PyTorch's
 * nn.Sequential(Linear(in, W), SiLU(), ..., Linear(W, D)). Parameters live in
 * one flat device buffer in state_dict order (0.weight [W, in], 0.bias [W],
 * 2.weight, ...), so the optimiser and the gradient norm are single kernels
 * and gradients and Adam moments share the same layout. */
#ifndef FMCL_MLP_H
#define FMCL_MLP_H

#include "io/safetensors.h"
#include "runtime/runtime.h"

#define FMCL_MLP_MAX_LAYERS 65

/* Floats of a model input row [x, time features] for D-dimensional points:
 * D + 1 with time_freqs 0 (t itself), D + 2 time_freqs otherwise (the sines
 * and cosines of flow/flow_ops.h); a conditional model's one-hot follows.
 * Here in nn, not in flow, which writes the rows (kernels/path.cl): the MLP
 * sizes its first layer with it, and nn may not include flow. */
static inline int fmcl_input_width(int D, int time_freqs)
{
    return time_freqs > 0 ? D + 2 * time_freqs : D + 1;
}

/* The MLP's whole shape: the public fmcl_mlp_config's fields and the
 * model's dim and classes (K > 0: the input row ends with the one-hot of
 * the class, K inputs; the null class is all zeros). */
typedef struct {
    int dim, width, depth, time_freqs, classes;
} fmcl_mlp_spec;

typedef struct {
    fmcl_ctx *ctx;
    fmcl_mlp_spec cfg;
    int n_layers;                      /* depth + 1 Linear layers */
    int in[FMCL_MLP_MAX_LAYERS];       /* fan-in of layer l */
    int out[FMCL_MLP_MAX_LAYERS];      /* fan-out of layer l */
    size_t w_off[FMCL_MLP_MAX_LAYERS]; /* element offsets into the flat buffer */
    size_t b_off[FMCL_MLP_MAX_LAYERS];
    size_t n_params;
    fmcl_t params;
} fmcl_mlp;

/* Checkpoint pieces (mlp_io.c; the tensors are nn/model.c's). */
#define FMCL_MLP_META_PAIRS 6 /* the most fmcl_mlp_meta_kv writes */
/* The model's own metadata (format and config; "classes" only for a
 * conditional model, so unconditional files stay as they were): returns the
 * pairs written into kv (at most FMCL_MLP_META_PAIRS), the numbers' text in
 * buf (FMCL_MLP_META_PAIRS - 1 entries). */
int fmcl_mlp_meta_kv(const fmcl_mlp *m, char (*buf)[16], const char **kv);
/* The spec a checkpoint's metadata records ("format" "fmcl-mlp");
 * FMCL_ERR_FORMAT naming the key otherwise. */
fmcl_status fmcl_mlp_spec_from_file(const fmcl_st_file *f, const char *path, fmcl_mlp_spec *c,
                                    char *err, size_t errlen);

/* Activations for batches of up to B rows, planned once. z[l], h[l]: [B, out_l]
 * for hidden layers (pre- and post-activation); d0, d1: [B, max width] gradient
 * ping-pong for backward; part: partial sums of the gradients' column sums. */
typedef struct {
    int B;
    fmcl_t mem;
    fmcl_t z[FMCL_MLP_MAX_LAYERS], h[FMCL_MLP_MAX_LAYERS];
    fmcl_t d0, d1, part;
} fmcl_mlp_acts;

/* Validates a spec against the settings table; FMCL_ERR_ARG with a message
 * in err otherwise. */
fmcl_status fmcl_mlp_check_spec(const fmcl_mlp_spec *cfg, char *err, size_t errlen);
/* The parameters an MLP of a checked spec has, without creating it. */
size_t fmcl_mlp_params_of(const fmcl_mlp_spec *cfg);
/* An MLP with uninitialised parameters (fmcl_mlp_create initialises them). */
fmcl_status fmcl_mlp_alloc(fmcl_ctx *ctx, const fmcl_mlp_spec *cfg, fmcl_mlp **out);
/* Parameters initialised as PyTorch's nn.Linear default: W, b ~
 * U(-1/sqrt(in), 1/sqrt(in)), drawn from Philox with the given seed. */
fmcl_status fmcl_mlp_create(fmcl_ctx *ctx, const fmcl_mlp_spec *cfg, uint64_t seed, fmcl_mlp **out);
void fmcl_mlp_free(fmcl_mlp *m);
/* Allocates acts for B rows and sizes the GEMM scratch for every shape of
 * forward and backward at this B. */
fmcl_status fmcl_mlp_acts_create(fmcl_mlp *m, int B, fmcl_mlp_acts *a);
void fmcl_mlp_acts_free(fmcl_mlp_acts *a);
/* Device bytes fmcl_mlp_acts_create needs for B rows. */
size_t fmcl_mlp_acts_bytes(const fmcl_mlp *m, int B);

/* out: [B, D] = v(X), X: [B, in_0]; keeps what backward needs in a. */
fmcl_status fmcl_mlp_forward(fmcl_mlp *m, fmcl_mlp_acts *a, fmcl_t out, fmcl_t X, int B);
/* grads (flat, parameter layout) += dL/dparams given dout = dL/dout: [B, D];
 * dX: [B, in_0] = dL/dX when dX.mem is non-NULL. Needs the forward's a and X,
 * which it leaves unchanged (so several backwards may follow one forward).
 * grads.mem NULL skips the parameter gradients: dX alone is the input's
 * vector-Jacobian product dout^T dv/dX (the likelihood's divergence). */
fmcl_status fmcl_mlp_backward(fmcl_mlp *m, fmcl_mlp_acts *a, fmcl_t grads, fmcl_t dout, fmcl_t X,
                              fmcl_t dX, int B);

/* Plain-C reference in double: params in the flat layout (floats). */
void fmcl_mlp_forward_ref(const fmcl_mlp *m, const float *params, const float *X, int B,
                          double *out);
/* grads (double, flat) += dL/dparams for dout; dX (may be NULL) = dL/dX. */
void fmcl_mlp_backward_ref(const fmcl_mlp *m, const float *params, const float *X,
                           const double *dout, int B, double *grads, double *dX);

#endif
