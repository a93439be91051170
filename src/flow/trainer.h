/* The trainer's state, shared by the training loop (train.c) and its
 * checkpoints (checkpoint.c). */
#ifndef FMCL_TRAINER_H
#define FMCL_TRAINER_H

#include "flow/paths.h"
#include "nn/model.h"
#include "nn/nn_ops.h"

/* Steps between queue-depth checks (fmcl_pace): the queue holds between one
 * and two such periods of work, never drained. */
#define PACE_STEPS 16

struct fmcl_trainer {
    fmcl_model m; /* a view of the caller's network */
    fmcl_ctx *ctx;
    fmcl_train_config cfg;
    fmcl_path path;
    fmcl_adam_params adam;
    fmcl_model_acts acts;
    fmcl_t state; /* grads, Adam moments, EMA (when cfg.ema > 0): 3 or 4 x n_params */
    fmcl_t work;  /* per-step tensors below */
    fmcl_t data;  /* the user's points, n_points x dim */
    fmcl_t labels; /* class-conditional training: n_points label bytes */
    fmcl_t grads, m1, m2, ema;
    fmcl_t x1, X, U, pred, dpred, partials, normsq, losses;
    /* Class-conditional training: the batch's labels (dropout applied) and
     * the model input [X, one-hot]; in is the model's input (Xc or X). */
    fmcl_t y, Xc, in;
    int step;
    size_t device_bytes; /* what check_memory counted */
    /* FMCL_COUPLING_OT only: host copies of the batch, the pairing, its scratch. */
    float *h_x0, *h_x1, *h_x1p;
    int *perm;
    void *pair_work;
};

/* fmcl_trainer_create (include/fmcl.h) for any model: the U-Net trains on
 * image data sets only. */
fmcl_status fmcl_trainer_create_model(const fmcl_model *m, const fmcl_train_config *cfg,
                                      fmcl_trainer **out);

/* Every setting of c that applies to it (a path's parameters only for that
 * path) against the settings table: FMCL_ERR_ARG and a message in err. */
fmcl_status fmcl_train_config_check(const fmcl_train_config *c, char *err, size_t errlen);

/* Device bytes of the trainer's own buffers and the model's parameters. */
size_t fmcl_trainer_device_bytes(const fmcl_trainer *t);

#endif
