/* The models v(x, t): the public handle (struct fmcl_model, include/
 * fmcl/model.h), which owns its network and metadata, and the view of the
 * network that the trainer, its checkpoints, sampling and the likelihood
 * work with (fmcl_net): the MLP (mlp.h) or the U-Net (unet.h) behind one
 * small interface. A network reads the rows the path kernels write,
 * [x, features(t)] (+ the one-hot of the class for a conditional model), so
 * the MLP's fused data + interpolant kernel stays as it was; the U-Net takes
 * time_freqs 0, rows [x, t] (+ one-hot y), and splits them into its
 * x: [B, C, H, W], t: [B] and y: [B, K] (two or three launches over the
 * rows, next to a U-Net's thousands of floats per pixel). */
#ifndef FMCL_NN_MODEL_H
#define FMCL_NN_MODEL_H

#include "io/safetensors.h"
#include "nn/mlp.h"
#include "nn/unet.h"

typedef struct {
    int kind; /* fmcl_model_kind */
    fmcl_ctx *ctx;
    int dim;        /* D: floats of one point (C H W for the U-Net) */
    int in_width;   /* floats of one input row, one-hot included */
    int time_freqs; /* the time features the path kernels append (0: t itself) */
    int classes;    /* K > 0: the rows end with a K-wide one-hot */
    int dx_stride;  /* row stride of the input gradient backward writes */
    size_t n_params;
    fmcl_t params;
    fmcl_mlp *mlp; /* the network, by kind */
    fmcl_unet *unet;
} fmcl_net;

/* Key-value strings in the order they were first set. */
typedef struct {
    char **kv; /* 2 count strings */
    int count;
} fmcl_meta;

/* Sets key (updating it in place when present); FMCL_ERR_NOMEM otherwise. */
fmcl_status fmcl_meta_set(fmcl_meta *m, const char *key, const char *value);
const char *fmcl_meta_get(const fmcl_meta *m, const char *key);
void fmcl_meta_free(fmcl_meta *m);

struct fmcl_model {
    fmcl_ctx *ctx;
    fmcl_model_config cfg;
    fmcl_net net; /* views mlp or unet, which the model owns */
    fmcl_mlp *mlp;
    fmcl_unet *unet;
    fmcl_meta meta; /* a loaded checkpoint's, then what trainers and callers set */
    int is_ema;     /* the weights are a loaded checkpoint's EMA */
};

/* The internal shapes of a public config (the MLP's dim and classes, the
 * U-Net's classes, from the model config), and back. */
void fmcl_mlp_spec_of(const fmcl_model_config *cfg, fmcl_mlp_spec *s);
void fmcl_unet_spec_of(const fmcl_model_config *cfg, fmcl_unet_spec *s);
void fmcl_model_config_of_mlp(fmcl_model_config *cfg, const fmcl_mlp_spec *s);
void fmcl_model_config_of_unet(fmcl_model_config *cfg, const fmcl_unet_spec *s);
/* Appends to kv (pairs of it used, room for m's) the model's metadata whose
 * keys are not among kv's yet; returns the pairs used then. */
int fmcl_model_meta_append(const fmcl_model *m, const char **kv, int pairs);

void fmcl_net_of_mlp(fmcl_net *m, fmcl_mlp *mlp);
void fmcl_net_of_unet(fmcl_net *m, fmcl_unet *u);

/* Activations for batches of up to B rows, planned and allocated once. */
typedef struct {
    fmcl_mlp_acts mlp;
    fmcl_unet_acts unet;
    fmcl_t io; /* U-Net: the rows split into x and t (and [t, y], then y) */
    fmcl_t x, t, y, ty;
} fmcl_net_acts;

fmcl_status fmcl_net_acts_create(const fmcl_net *m, int B, fmcl_net_acts *a);
void fmcl_net_acts_free(fmcl_net_acts *a);
/* Device bytes fmcl_net_acts_create needs for B rows; 0 when B cannot be
 * planned at all (a U-Net buffer past 2^31 - 1 floats). */
size_t fmcl_net_acts_bytes(const fmcl_net *m, int B);
/* The largest single buffer of those (the device's max allocation bounds it). */
size_t fmcl_net_acts_largest(const fmcl_net *m, int B);

/* v: [B, D] = v(X), X: [B, in_width]; keeps what backward needs in a. */
fmcl_status fmcl_net_forward(const fmcl_net *m, fmcl_net_acts *a, fmcl_t v, fmcl_t X, int B);
/* grads (parameter layout) += dL/dparams for dv: [B, D]; dX: [B, dx_stride]
 * whose first D columns get dL/dx when dX.mem is non-NULL. grads.mem NULL
 * skips the parameter gradients (MLP only: the U-Net needs a scratch). */
fmcl_status fmcl_net_backward(const fmcl_net *m, fmcl_net_acts *a, fmcl_t grads, fmcl_t dv,
                              fmcl_t X, fmcl_t dX, int B);

/* Rows sampling and the likelihood evaluate at once: FMCL_MLP_CHUNK for the
 * MLP, FMCL_UNET_CHUNK images for the U-Net, whose planned activations (the
 * backward's included, as the likelihood needs it) take ~10 MiB per image
 * at the 28x28 default: ~0.7 GiB for a chunk. */
int fmcl_net_chunk(const fmcl_net *m);

/* Checkpoint pieces. Tensor names are prefix + the PyTorch state_dict name. */
#define FMCL_NET_NAME_LEN 80   /* the longest prefix and U-Net name */
#define FMCL_NET_META_PAIRS 12 /* the most fmcl_net_meta_kv writes */
#define FMCL_NET_META_TEXT 32
int fmcl_net_tensor_count(const fmcl_net *m);
/* Tensor i (state_dict order): its name and shape, and its offset in the
 * flat parameter layout. */
void fmcl_net_tensor(const fmcl_net *m, int i, fmcl_tensor_info *info, size_t *off);
/* Fills fmcl_net_tensor_count entries of t viewing flat (parameter layout). */
void fmcl_net_st_tensors(const fmcl_net *m, const char *prefix, const float *flat,
                         fmcl_st_tensor *t, char (*names)[FMCL_NET_NAME_LEN]);
/* Copies prefix + names from f into flat, checking dtypes and shapes;
 * F16, BF16 and F64 tensors are converted to F32, with a note. */
fmcl_status fmcl_net_st_read(const fmcl_net *m, const fmcl_st_file *f, const char *path,
                             const char *prefix, float *flat);
/* The model's own metadata ("format" and its config): the pairs written into
 * kv (at most FMCL_NET_META_PAIRS), their numbers' text in buf. */
int fmcl_net_meta_kv(const fmcl_net *m, char (*buf)[FMCL_NET_META_TEXT], const char **kv);

/* The U-Net's config from a checkpoint's metadata ("format" "fmcl-unet");
 * FMCL_ERR_FORMAT naming the key otherwise. */
fmcl_status fmcl_unet_spec_from_file(const fmcl_st_file *f, const char *path, fmcl_unet_spec *cfg,
                                     char *err, size_t errlen);

#endif
