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

struct fmcl_mlp {
    fmcl_ctx *ctx;
    fmcl_mlp_config cfg;
    int n_layers;                       /* depth + 1 Linear layers */
    int in[FMCL_MLP_MAX_LAYERS];        /* fan-in of layer l */
    int out[FMCL_MLP_MAX_LAYERS];       /* fan-out of layer l */
    size_t w_off[FMCL_MLP_MAX_LAYERS];  /* element offsets into the flat buffer */
    size_t b_off[FMCL_MLP_MAX_LAYERS];
    size_t n_params;
    fmcl_t params;
    char **meta; /* key, value pairs from the loaded checkpoint */
    int meta_count;
    int is_ema;  /* the loaded weights are the checkpoint's EMA */
};

/* Checkpoint pieces shared by mlp_io.c and the trainer's checkpoints
 * (flow/checkpoint.c). Tensor names are prefix + the state_dict name. */
#define FMCL_MLP_NAME_LEN 64
#define FMCL_MLP_META_PAIRS 6 /* the most fmcl_mlp_meta_kv writes */
/* Fills 2 n_layers entries of t (names in names) viewing flat, a host copy
 * of a buffer in the parameter layout. */
void fmcl_mlp_st_tensors(const fmcl_mlp *m, const char *prefix, const float *flat,
                         fmcl_st_tensor *t, char (*names)[FMCL_MLP_NAME_LEN]);
/* The model's own metadata (format and config; "classes" only for a
 * conditional model, so unconditional files stay as they were): returns the
 * pairs written into kv (at most FMCL_MLP_META_PAIRS), the numbers' text in
 * buf (FMCL_MLP_META_PAIRS - 1 entries). */
int fmcl_mlp_meta_kv(const fmcl_mlp *m, char (*buf)[16], const char **kv);
/* Copies prefix + names from f into flat, checking dtypes and shapes. */
fmcl_status fmcl_mlp_st_read(const fmcl_mlp *m, const fmcl_st_file *f, const char *path,
                             const char *prefix, float *flat);

/* Activations for batches of up to B rows, planned once. z[l], h[l]: [B, out_l]
 * for hidden layers (pre- and post-activation); d0, d1: [B, max width] gradient
 * ping-pong for backward; part: partial sums of the gradients' column sums. */
typedef struct {
    int B;
    fmcl_t mem;
    fmcl_t z[FMCL_MLP_MAX_LAYERS], h[FMCL_MLP_MAX_LAYERS];
    fmcl_t d0, d1, part;
} fmcl_mlp_acts;

/* Validates a config; FMCL_ERR_ARG with a message in err otherwise. */
fmcl_status fmcl_mlp_check_config(const fmcl_mlp_config *cfg, char *err, size_t errlen);
/* The parameters an MLP of a checked config has, without creating it. */
size_t fmcl_mlp_params_of(const fmcl_mlp_config *cfg);
/* An MLP with uninitialised parameters (fmcl_mlp_create initialises them). */
fmcl_status fmcl_mlp_alloc(fmcl_ctx *ctx, const fmcl_mlp_config *cfg, fmcl_mlp **out);
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
