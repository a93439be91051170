/* The models v(x, t) the trainer, its checkpoints, sampling and the
 * likelihood work with: the MLP (mlp.h) or the U-Net (unet.h), behind one
 * small interface. A model reads the rows the path kernels write,
 * [x, features(t)] (+ the one-hot of the class for a conditional model), so
 * the MLP's fused data + interpolant kernel stays as it was; the U-Net takes
 * time_freqs 0, rows [x, t] (+ one-hot y), and splits them into its
 * x: [B, C, H, W], t: [B] and y: [B, K] (two or three launches over the
 * rows, next to a U-Net's thousands of floats per pixel). A model is a
 * view: it does not own the network. */
#ifndef FMCL_MODEL_H
#define FMCL_MODEL_H

#include "io/safetensors.h"
#include "nn/mlp.h"
#include "nn/unet.h"

typedef enum { FMCL_MODEL_MLP = 0, FMCL_MODEL_UNET } fmcl_model_kind;

typedef struct {
    int kind;        /* fmcl_model_kind */
    fmcl_ctx *ctx;
    int dim;         /* D: floats of one point (C H W for the U-Net) */
    int in_width;    /* floats of one input row, one-hot included */
    int time_freqs;  /* the time features the path kernels append (0: t itself) */
    int classes;     /* K > 0: the rows end with a K-wide one-hot */
    int dx_stride;   /* row stride of the input gradient backward writes */
    size_t n_params;
    fmcl_t params;
    fmcl_mlp *mlp;   /* the network, by kind */
    fmcl_unet *unet;
    /* fmcl_model_load only: the network is the model's (fmcl_model_free),
     * the U-Net's checkpoint metadata (the MLP keeps its own), its weights' kind */
    int owned;
    char **meta;
    int meta_count;
    int is_ema;
} fmcl_model;

void fmcl_model_of_mlp(fmcl_model *m, fmcl_mlp *mlp);
void fmcl_model_of_unet(fmcl_model *m, fmcl_unet *u);

/* Activations for batches of up to B rows, planned and allocated once. */
typedef struct {
    fmcl_mlp_acts mlp;
    fmcl_unet_acts unet;
    fmcl_t io;     /* U-Net: the rows split into x and t (and [t, y], then y) */
    fmcl_t x, t, y, ty;
} fmcl_model_acts;

fmcl_status fmcl_model_acts_create(const fmcl_model *m, int B, fmcl_model_acts *a);
void fmcl_model_acts_free(fmcl_model_acts *a);
/* Device bytes fmcl_model_acts_create needs for B rows; 0 when B cannot be
 * planned at all (a U-Net buffer past 2^31 - 1 floats). */
size_t fmcl_model_acts_bytes(const fmcl_model *m, int B);
/* The largest single buffer of those (the device's max allocation bounds it). */
size_t fmcl_model_acts_largest(const fmcl_model *m, int B);

/* v: [B, D] = v(X), X: [B, in_width]; keeps what backward needs in a. */
fmcl_status fmcl_model_forward(const fmcl_model *m, fmcl_model_acts *a, fmcl_t v, fmcl_t X,
                               int B);
/* grads (parameter layout) += dL/dparams for dv: [B, D]; dX: [B, dx_stride]
 * whose first D columns get dL/dx when dX.mem is non-NULL. grads.mem NULL
 * skips the parameter gradients (MLP only: the U-Net needs a scratch). */
fmcl_status fmcl_model_backward(const fmcl_model *m, fmcl_model_acts *a, fmcl_t grads, fmcl_t dv,
                                fmcl_t X, fmcl_t dX, int B);

/* Rows sampling and the likelihood evaluate at once: 4096 for the MLP,
 * FMCL_UNET_CHUNK images for the U-Net, whose planned activations (the
 * backward's included, as the likelihood needs it) take ~10 MiB per image
 * at the 28x28 default: ~0.7 GiB for a chunk. */
#define FMCL_MLP_CHUNK 4096
#define FMCL_UNET_CHUNK 64
int fmcl_model_chunk(const fmcl_model *m);

/* Checkpoint pieces. Tensor names are prefix + the PyTorch state_dict name. */
#define FMCL_MODEL_NAME_LEN FMCL_MLP_NAME_LEN /* the longest prefix and U-Net name: 52 */
#define FMCL_MODEL_META_PAIRS 12 /* the most fmcl_model_meta_kv writes */
#define FMCL_MODEL_META_TEXT 32
int fmcl_model_tensor_count(const fmcl_model *m);
/* Fills fmcl_model_tensor_count entries of t viewing flat (parameter layout). */
void fmcl_model_st_tensors(const fmcl_model *m, const char *prefix, const float *flat,
                           fmcl_st_tensor *t, char (*names)[FMCL_MODEL_NAME_LEN]);
/* Copies prefix + names from f into flat, checking dtypes and shapes. */
fmcl_status fmcl_model_st_read(const fmcl_model *m, const fmcl_st_file *f, const char *path,
                               const char *prefix, float *flat);
/* The model's own metadata ("format" and its config): the pairs written into
 * kv (at most FMCL_MODEL_META_PAIRS), their numbers' text in buf. */
int fmcl_model_meta_kv(const fmcl_model *m, char (*buf)[FMCL_MODEL_META_TEXT], const char **kv);

/* Loads the MLP or U-Net a checkpoint holds (by its metadata "format")
 * with the weights `which` (fmcl_weights) selects; the model owns the
 * network. On failure m is left empty (safe to free). */
fmcl_status fmcl_model_load(fmcl_ctx *ctx, const char *path, int which, fmcl_model *m);
void fmcl_model_free(fmcl_model *m);
/* One __metadata__ value of the loaded checkpoint; NULL if absent. */
const char *fmcl_model_meta(const fmcl_model *m, const char *key);

/* The U-Net's config from a checkpoint's metadata ("format" "fmcl-unet");
 * FMCL_ERR_FORMAT naming the key otherwise. */
fmcl_status fmcl_unet_config_from_file(const fmcl_st_file *f, const char *path,
                                       fmcl_unet_config *cfg, char *err, size_t errlen);

#endif
