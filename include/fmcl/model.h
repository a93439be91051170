/* fmcl/model.h: the velocity models v(x, t) and v(x, t, y).
 *
 * One handle for both networks: an MLP on flat points (x concatenated with
 * features of t, SiLU between Linear layers) and an ADM-style U-Net on
 * images (docs/IMAGES.md). Parameters are float32 on the device; tensor
 * names are those of the equivalent PyTorch module's state_dict, so a
 * checkpoint loads in PyTorch with safetensors (docs/DESIGN.md,
 * "Checkpoints"). */
#ifndef FMCL_MODEL_H
#define FMCL_MODEL_H

#include "fmcl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FMCL_MODEL_MLP = 0, FMCL_MODEL_UNET } fmcl_model_kind;

#define FMCL_UNET_MAX_LEVELS 6
#define FMCL_MAX_CLASSES 256
/* Points evaluated at once (fmcl_model_forward; one solve each in
 * fmcl_sample and fmcl_log_prob). */
#define FMCL_MLP_CHUNK 4096
#define FMCL_UNET_CHUNK 64

typedef struct {
    int width;      /* hidden units per layer */
    int depth;      /* hidden layers: depth + 1 Linear layers */
    int time_freqs; /* 0: input [x, t]; F > 0: [x, sin(2^k pi t), cos(2^k pi t)], k < F */
} fmcl_mlp_config;

typedef struct {
    int channels, height, width;    /* the images; height and width divisible by 2^(levels - 1) */
    int base;                       /* channels of the first level */
    int levels;                     /* entries of mult: each level after the first halves H, W */
    int mult[FMCL_UNET_MAX_LEVELS]; /* channel multiplier of each level */
    int blocks;                     /* residual blocks per level */
    unsigned attn_levels;           /* bit l: self-attention at level l (resolution H / 2^l) */
    int heads;                      /* attention heads */
    int groups;                     /* GroupNorm groups */
    float dropout;                  /* in [0, 1): dropout in each residual block while training */
} fmcl_unet_config;

typedef struct {
    fmcl_model_kind kind;
    /* The dimension D of a point: the MLP's input and output width (besides
     * time and class); for the U-Net channels x height x width, which
     * fmcl_model_create sets. */
    int dim;
    /* 0: v(x, t). K in [1, FMCL_MAX_CLASSES]: v(x, t, y) for classes y in
     * [0, K) and the null class (y = -1) that classifier-free guidance needs. */
    int classes;
    fmcl_mlp_config mlp;   /* kind FMCL_MODEL_MLP */
    fmcl_unet_config unet; /* kind FMCL_MODEL_UNET */
} fmcl_model_config;

/* The defaults of a kind: the MLP of the reference 2D workload (D 2, width
 * 512, depth 4, time_freqs 0); the U-Net for 1 x 28 x 28 images (base 32,
 * mult 1, 2, 2, 1 block, attention at the last level, 4 heads, 8 groups, no
 * dropout), which suit 3 x 32 x 32 as well. Unconditional. */
FMCL_API void fmcl_model_config_default(fmcl_model_config *cfg, fmcl_model_kind kind);
/* FMCL_OK when fmcl_model_create would accept cfg (every field within
 * fmcl_settings's range; a U-Net whose levels divide its image size and
 * whose widths meet its groups and heads), else FMCL_ERR_ARG and the reason
 * in err. Needs no device. */
FMCL_API fmcl_status fmcl_model_config_check(const fmcl_model_config *cfg, char *err,
                                             size_t errlen);

typedef struct fmcl_model fmcl_model;

/* Creates a model with fresh weights drawn from Philox with seed (PyTorch's
 * default initialisation; the U-Net's output layers start at zero, as
 * ADM's). FMCL_ERR_ARG, the message naming the field, for a config out of
 * range (fmcl_settings) or a U-Net whose image size does not divide. */
FMCL_API fmcl_status fmcl_model_create(fmcl_ctx *ctx, const fmcl_model_config *cfg, uint64_t seed,
                                       fmcl_model **out);

/* Which weights a checkpoint load takes. */
typedef enum {
    FMCL_WEIGHTS_DEFAULT = 0, /* the EMA ("ema." names) when the file has one, else the model's */
    FMCL_WEIGHTS_RAW,         /* the trained weights themselves */
    FMCL_WEIGHTS_EMA          /* the EMA; FMCL_ERR_FORMAT when the file has none */
} fmcl_weights;

/* Loads the model a safetensors checkpoint holds (written by fmcl_model_save
 * or fmcl_trainer_save, or by PyTorch with the metadata of docs/DESIGN.md,
 * "Checkpoints": float32 tensors under the state_dict names). Every weight
 * is checked to be finite: FMCL_ERR_NUMERIC names the first tensor that is
 * not. The model keeps the file's __metadata__ (fmcl_model_meta). */
FMCL_API fmcl_status fmcl_model_load(fmcl_ctx *ctx, const char *path, fmcl_weights which,
                                     fmcl_model **out);
/* Writes the weights, the config and the model's metadata (below) to path,
 * atomically (a temporary file, fsync, rename): a file fmcl_model_load,
 * `fmcl sample` and `fmcl nll` accept. */
FMCL_API fmcl_status fmcl_model_save(fmcl_model *m, const char *path);
FMCL_API void fmcl_model_free(fmcl_model *m);

FMCL_API const fmcl_model_config *fmcl_model_get_config(const fmcl_model *m);
FMCL_API fmcl_ctx *fmcl_model_ctx(const fmcl_model *m);
/* Floats of all parameters together. */
FMCL_API size_t fmcl_model_param_count(const fmcl_model *m);
/* 1 when the weights are a loaded checkpoint's EMA. */
FMCL_API int fmcl_model_is_ema(const fmcl_model *m);

/* ---- named tensors, on the host ---- */

typedef struct {
    char name[64]; /* the state_dict name: "0.weight", "input_blocks.0.0.bias" */
    int ndim;
    int64_t shape[4];
    size_t numel;
} fmcl_tensor_info;

/* Parameter tensors, in state_dict order: i from 0 to count - 1. */
FMCL_API int fmcl_model_tensor_count(const fmcl_model *m);
FMCL_API fmcl_status fmcl_model_tensor_info(const fmcl_model *m, int i, fmcl_tensor_info *info);
/* Copies the tensor called name to or from n host floats (n must equal its
 * numel). Reading waits for the device; writing replaces the weights
 * (a trainer built on the model trains on from them). */
FMCL_API fmcl_status fmcl_model_tensor_read(fmcl_model *m, const char *name, float *out, size_t n);
FMCL_API fmcl_status fmcl_model_tensor_write(fmcl_model *m, const char *name, const float *in,
                                             size_t n);

/* ---- evaluation ---- */

/* v = v(x, t[, y]) for n points: x and v are n x dim (row-major), t n
 * times, y n classes in [-1, classes) for a conditional model (-1 the null
 * class; NULL means the null class everywhere) and NULL otherwise. Runs in
 * chunks on the device; waits for the result. */
FMCL_API fmcl_status fmcl_model_forward(fmcl_model *m, const float *x, const float *t, const int *y,
                                        int n, float *v);

/* ---- metadata ----
 * String pairs kept with the model and written into its checkpoint's
 * __metadata__: a trainer records its settings and data set there; a
 * loaded checkpoint brings its own. Keys the library writes itself (the
 * config, "format") cannot be set. */
FMCL_API const char *fmcl_model_meta(const fmcl_model *m, const char *key);
FMCL_API fmcl_status fmcl_model_set_meta(fmcl_model *m, const char *key, const char *value);

/* The standard deviation of the noise the model's path starts sampling
 * from: the metadata's "sigma_hi" for the VE path, else 1. FMCL_ERR_FORMAT
 * when the metadata names an unknown path or a bad sigma_hi. */
FMCL_API fmcl_status fmcl_model_x0_std(const fmcl_model *m, float *std);

#ifdef __cplusplus
}
#endif
#endif
