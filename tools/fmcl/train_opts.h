/* fmcl train's options, shared by cmd_train.c and train_resume.c. */
#ifndef FMCL_CLI_TRAIN_OPTS_H
#define FMCL_CLI_TRAIN_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "args.h"

/* The EMA decay when --ema is not given: image models are sampled from the
 * EMA, 2D runs (short, and measured without one) keep their trained weights. */
#define DEFAULT_EMA_IMAGES 0.999

typedef struct {
    const char *data, *out, *path, *coupling, *device, *lr_schedule, *resume;
    int width, depth, batch, steps, time_freqs, log_every, warmup, ckpt_every;
    double lr, sigma_min, weight_decay, clip, ema;
    double poly_n, beta_min, beta_max, sigma_lo, sigma_hi; /* the other paths' parameters */
    uint64_t seed;
    int image_size, channels, limit, hflip; /* image data sets */
    int cond;                               /* --cond: train on the set's class labels */
    double label_drop;                      /* --label-drop: null-class probability */
    char resume_data[4096];                 /* --resume: the run's --data */
    const char *model;                      /* --model: "mlp" or "unet" */
    const char *mult, *attn_res;            /* --model unet's lists (NULL: the defaults) */
    int base, blocks, heads, groups;        /* --model unet (0: the defaults) */
    double dropout;                         /* --model unet: residual dropout (0: none) */
    int overwrite;                          /* --overwrite: --out may hold a run */
} train_opts;

/* --resume DIR: refuses flags that would change the run (usage error),
 * reads DIR/model.safetensors's settings into o (steps only when --steps was
 * not given); ckpt receives the file's path. Fails (exit status 1) when the
 * run has done more than --steps steps already. */
int train_resume_opts(arg_cmd *cmd, train_opts *o, char *ckpt, size_t len);

#endif
