/* The trainer's state, shared by the training loop (train.c) and its
 * checkpoints (checkpoint.c). */
#ifndef FMCL_TRAINER_H
#define FMCL_TRAINER_H

#include "flow/paths.h"
#include "nn/mlp.h"
#include "nn/nn_ops.h"

/* Steps between queue-depth checks (fmcl_pace): the queue holds between one
 * and two such periods of work, never drained. */
#define PACE_STEPS 16

struct fmcl_trainer {
    fmcl_mlp *m;
    fmcl_ctx *ctx;
    fmcl_train_config cfg;
    fmcl_path path;
    fmcl_adam_params adam;
    fmcl_mlp_acts acts;
    cl_mem state; /* grads, Adam moments, EMA (when cfg.ema > 0): 3 or 4 x n_params */
    cl_mem work;  /* per-step tensors below */
    cl_mem data;  /* the user's points, n_points x dim */
    cl_mem labels; /* class-conditional training: n_points label bytes */
    fmcl_t grads, m1, m2, ema;
    fmcl_t x1, X, U, pred, dpred, partials, normsq, losses;
    /* Class-conditional training: the batch's labels (dropout applied) and
     * the model input [X, one-hot]; in is the model's input (Xc or X). */
    fmcl_t y, Xc, in;
    int step;
    /* FMCL_COUPLING_OT only: host copies of the batch, the pairing, its scratch. */
    float *h_x0, *h_x1, *h_x1p;
    int *perm;
    void *pair_work;
};

#endif
