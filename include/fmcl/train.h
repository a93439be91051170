/* fmcl/train.h: probability paths and the trainer.
 *
 * Conditional flow matching (docs/METHOD.md): each example draws data x1,
 * noise x0 and t ~ U[0, 1) from Philox counters keyed by (seed, step,
 * example), builds x_t = alpha_t x1 + sigma_t x0 and the target velocity
 * u_t = alpha'_t x1 + sigma'_t x0, and the model learns v(x_t, t) ~ u_t by
 * Adam on the mean squared error. Every random draw is counter-based, so a
 * run is reproducible from its seed and resumes bit for bit. */
#ifndef FMCL_TRAIN_H
#define FMCL_TRAIN_H

#include "fmcl/core.h"
#include "fmcl/data.h"
#include "fmcl/group.h"
#include "fmcl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every path is affine, t = 0 noise and t = 1 data. */
typedef enum {
    FMCL_PATH_OT = 0,   /* alpha = t, sigma = 1 - (1 - sigma_min) t */
    FMCL_PATH_VP,       /* alpha = exp(-T(1 - t) / 2), sigma = sqrt(1 - alpha^2),
                           T(s) = beta_min s + (beta_max - beta_min) s^2 / 2 */
    FMCL_PATH_VE,       /* alpha = 1, sigma = sigma_lo (sigma_hi / sigma_lo)^(1 - t) */
    FMCL_PATH_COSINE,   /* alpha = sin(pi t / 2), sigma = cos(pi t / 2) */
    FMCL_PATH_POLY,     /* alpha = t^n, sigma = 1 - t^n */
    FMCL_PATH_LINEAR_VP /* alpha = t, sigma = sqrt(1 - t^2) */
} fmcl_path_kind;

/* How a batch's noise is paired with its data. */
typedef enum {
    FMCL_COUPLING_INDEPENDENT = 0, /* row i's noise with row i's data (the paper) */
    FMCL_COUPLING_OT               /* an exact minimum-cost assignment per batch (OT-CFM):
                                      host work and a host synchronisation every step;
                                      batch at most FMCL_COUPLING_MAX_BATCH */
} fmcl_coupling;
#define FMCL_COUPLING_MAX_BATCH 2048

typedef enum { FMCL_LR_CONSTANT = 0, FMCL_LR_COSINE } fmcl_lr_schedule;

typedef struct {
    int batch;
    int steps; /* the run's length (the cosine schedule ends there) */
    float lr;
    float beta1, beta2, eps;
    float weight_decay; /* 0: Adam; > 0: AdamW (decoupled) */
    float clip;         /* clip the global gradient norm to this; 0 disables */
    fmcl_path_kind path;
    float sigma_min;          /* FMCL_PATH_OT */
    float poly_n;             /* FMCL_PATH_POLY's exponent n >= 1 */
    float beta_min, beta_max; /* FMCL_PATH_VP, 0 <= beta_min <= beta_max */
    float sigma_lo, sigma_hi; /* FMCL_PATH_VE, 0 < sigma_lo < sigma_hi */
    fmcl_coupling coupling;
    uint64_t seed;
    int hflip; /* images: mirror each example left-right with probability 1/2 */
    /* Conditional models: each example's label is replaced by the null class
     * with this probability (classifier-free guidance needs both fields). */
    float label_drop;
    /* EMA of the weights, updated after every step: update s (from 1) uses
     * decay min(ema, (1 + s) / (10 + s)). 0 disables; otherwise in (0, 1). */
    float ema;
    /* Learning rate of step s (from 1): lr s / warmup during the first
     * warmup steps, then lr (FMCL_LR_CONSTANT) or a cosine from lr down to 0
     * at step `steps` (FMCL_LR_COSINE). */
    int warmup;
    fmcl_lr_schedule lr_schedule;
} fmcl_train_config;

/* batch 4096, 1000 steps, Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8, no
 * decay, no clipping; the OT path with sigma_min 0 (the other paths'
 * parameters: poly_n 2, beta_min 0.1, beta_max 20, sigma_lo 0.01, sigma_hi
 * 50), independent coupling, seed 0, no flips, label_drop 0.1, no EMA, no
 * warm-up, a constant learning rate. */
FMCL_API void fmcl_train_config_default(fmcl_train_config *cfg);
/* The learning rate of step s (1 <= s <= steps). */
FMCL_API double fmcl_train_lr(const fmcl_train_config *cfg, int step);
/* The standard deviation of the noise a model trained with cfg starts
 * sampling from: sigma_hi for FMCL_PATH_VE, 1 for every other path. */
FMCL_API float fmcl_train_x0_std(const fmcl_train_config *cfg);

typedef struct fmcl_trainer fmcl_trainer;

/* A trainer of model m on data d: plans and allocates every buffer of a
 * step (nothing is allocated afterwards), copies the data to the device and
 * warms the GEMMs. The model must fit the data (its dim, for a U-Net its
 * image shape; a conditional model needs labels below its classes). m must
 * outlive the trainer, which trains its weights in place; d may be freed
 * once the trainer exists. The trainer records in m's metadata what
 * sampling and likelihoods need: "data" (d's spec), "fmcl_version", "path"
 * and its parameters, and for images their shape ("image_channels",
 * "image_height", "image_width") and scaling ("pixel_bits",
 * "pixel_scaling"). FMCL_ERR_ARG names the setting or the mismatch;
 * FMCL_ERR_NOMEM says how much device memory was needed and which batch
 * fits. */
FMCL_API fmcl_status fmcl_trainer_create(fmcl_model *m, fmcl_data *d, const fmcl_train_config *cfg,
                                         fmcl_trainer **out);
/* The same on each rank of group g (fmcl/group.h; NULL: one process, as
 * fmcl_trainer_create), data-parallel (docs/DISTRIBUTED.md): every rank
 * calls it with the same model (same config and seed), data and cfg, each
 * on its own context. cfg->batch is the whole batch of a step over the
 * group: rank r trains on examples [row0, row0 + rows) of it
 * (fmcl_trainer_share), the batch split as evenly as it goes (the first
 * batch % size ranks one example more), and every example draws its data,
 * noise, t, label drop, dequantisation and dropout as one process drawing
 * the whole batch does. The loss is the whole batch's mean; the gradients
 * are summed over the group in a fixed order, so every rank applies the
 * same update and a run with the same size on the same devices gives the
 * same bits again. The OT coupling pairs the whole batch (gathered on every
 * rank). A batch smaller than the group is FMCL_ERR_ARG. Every rank gets
 * the same outcome: a failure on one rank fails every rank, with a message
 * naming the rank and its reason. */
FMCL_API fmcl_status fmcl_trainer_create_group(fmcl_model *m, fmcl_data *d,
                                               const fmcl_train_config *cfg, fmcl_group *g,
                                               fmcl_trainer **out);
FMCL_API void fmcl_trainer_free(fmcl_trainer *t);

/* Enqueues n steps (no host synchronisation: returns before they finish;
 * under a group of 2 or more each step waits for the device to sum the
 * gradients over the group, and every FMCL_TRAINER_CHECK_EVERY steps the
 * ranks compare a checksum of their weights: FMCL_ERR_NUMERIC naming the
 * ranks that differ). */
FMCL_API fmcl_status fmcl_trainer_run(fmcl_trainer *t, int n);
#define FMCL_TRAINER_CHECK_EVERY 100
/* Steps between weight checksums over the group; 0 turns them off. */
FMCL_API void fmcl_trainer_set_check_every(fmcl_trainer *t, int steps);
/* Under a group, after fmcl_trainer_run failed: 1 when every rank saw the
 * failure (each returned it, the message naming the failing ranks), 0 when
 * it was this rank's alone (a device fault after the gradients' sum): the
 * other ranks then wait for this one, and the caller ends them with
 * fmcl_group_abort. Always 1 without a group. */
FMCL_API int fmcl_trainer_failure_shared(const fmcl_trainer *t);
/* This rank's share of each batch: examples [*row0, *row0 + *rows). */
FMCL_API void fmcl_trainer_share(const fmcl_trainer *t, int *row0, int *rows);
/* What the gradient exchange of a group has cost so far (all 0 without a
 * group): steps exchanged; seconds waiting for the device to finish the
 * steps' work (compute); seconds of the exchanges themselves (reading the
 * gradients, summing over the group, writing them back) and of the sums
 * alone; bytes summed per rank. */
typedef struct {
    long steps;
    double compute_seconds, exchange_seconds, sum_seconds;
    double bytes;
} fmcl_exchange_stats;
FMCL_API void fmcl_trainer_exchange_stats(const fmcl_trainer *t, fmcl_exchange_stats *out);
/* Waits for the device and copies the losses of steps [first, first + n)
 * (from 0) to out; FMCL_ERR_NUMERIC when one is not finite. */
FMCL_API fmcl_status fmcl_trainer_losses(fmcl_trainer *t, int first, int n, float *out);
/* Steps done (enqueued) so far, those of a restored run included. */
FMCL_API int fmcl_trainer_step(const fmcl_trainer *t);
/* Device bytes the trainer holds (activations, parameters, gradients, Adam
 * moments, EMA, data). */
FMCL_API size_t fmcl_trainer_device_bytes(const fmcl_trainer *t);

/* Waits for the device and writes a checkpoint that resumes exactly,
 * atomically: the weights under their own names, the EMA under "ema.",
 * Adam's moments under "optim.exp_avg." and "optim.exp_avg_sq.", the
 * losses so far ("train.loss"), and in __metadata__ the model's config,
 * every training setting (fmcl_settings keys) and the data's kind and size,
 * the step, then the model's metadata. fmcl_model_load, fmcl_trainer_resume
 * and the fmcl command's sample, nll and train --resume accept it. */
FMCL_API fmcl_status fmcl_trainer_save(fmcl_trainer *t, const char *path);
/* Continues a saved run on a fresh trainer (no steps run) whose model was
 * loaded from path with FMCL_WEIGHTS_RAW and whose config equals the saved
 * one (steps may differ with a constant learning rate, as long as it is at
 * least the saved step): restores the EMA, the moments, the losses and the
 * step, so that running on gives the bits of the uninterrupted run on the
 * same device. FMCL_ERR_ARG names each setting that differs. Under a group
 * every rank calls it (each reading path) and gets the same outcome. */
FMCL_API fmcl_status fmcl_trainer_restore(fmcl_trainer *t, const char *path);
/* The three calls above in one: loads the checkpoint's model and training
 * config, sets its steps (0 keeps the saved total), creates the trainer on
 * d and restores it. *m and *t are the caller's to free. */
FMCL_API fmcl_status fmcl_trainer_resume(fmcl_ctx *ctx, const char *path, fmcl_data *d, int steps,
                                         fmcl_model **m, fmcl_trainer **t);
/* The same on each rank of group g (fmcl_trainer_create_group), whatever
 * the size of the group that wrote the checkpoint: a checkpoint holds
 * nothing that depends on it. Every rank reads path. */
FMCL_API fmcl_status fmcl_trainer_resume_group(fmcl_ctx *ctx, const char *path, fmcl_data *d,
                                               int steps, fmcl_group *g, fmcl_model **m,
                                               fmcl_trainer **t);

/* The training config a checkpoint records (over fmcl_train_config_default)
 * and its step (may be NULL). FMCL_ERR_FORMAT naming the key when a value
 * is missing or outside fmcl_settings's range: a file of fmcl_model_save,
 * which records no training, is refused. */
FMCL_API fmcl_status fmcl_train_config_from_checkpoint(const char *path, fmcl_train_config *cfg,
                                                       int *step, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
