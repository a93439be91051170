/* The trainer's state, shared by the training loop (train.c) and its
 * checkpoints (checkpoint.c). */
#ifndef FMCL_TRAINER_H
#define FMCL_TRAINER_H

#include "dist/group.h"
#include "flow/exchange.h"
#include "flow/paths.h"
#include "nn/model.h"
#include "nn/nn_ops.h"

/* Steps between queue-depth checks (fmcl_pace): the queue holds between one
 * and two such periods of work, never drained. */
#define PACE_STEPS 16

/* What a run trains on besides its config, as checkpoints record it: the
 * data's kind (toy2d.h's kinds), its size and image shape, and the model's
 * classes (K > 0: the data's labels are trained on). */
typedef struct {
    int kind, n_points, img_c, img_h, img_w, classes;
} fmcl_train_data;

struct fmcl_trainer {
    fmcl_model *model; /* the caller's, trained in place */
    fmcl_net m;        /* its network */
    fmcl_ctx *ctx;
    /* Data-parallel training (docs/DESIGN.md, "Data-parallel training"):
     * this rank's share of every batch is examples [row0, row0 + rows) of
     * cfg.batch; NULL group: one process, the whole batch. */
    fmcl_group *group;
    int rows, row0;
    fmcl_exchange xch;
    int check_every;   /* steps between weight checksums over the group */
    int failure_local; /* the last failure was this rank's alone (fmcl_trainer_failure_shared) */
    fmcl_train_config cfg;
    fmcl_train_data data_of;
    fmcl_path path;
    fmcl_adam_params adam;
    fmcl_net_acts acts;
    fmcl_t state;  /* grads, Adam moments, EMA (when cfg.ema > 0): 3 or 4 x n_params */
    fmcl_t work;   /* per-step tensors below */
    fmcl_t data;   /* the user's points, n_points x dim */
    fmcl_t labels; /* class-conditional training: n_points label bytes */
    fmcl_t grads, m1, m2, ema;
    fmcl_t x1, X, U, pred, dpred, partials, normsq, losses;
    /* Class-conditional training: the batch's labels (dropout applied) and
     * the model input [X, one-hot]; in is the model's input (Xc or X). */
    fmcl_t y, Xc, in;
    int step;
    size_t device_bytes; /* what check_memory counted */
    /* FMCL_COUPLING_OT only (train_ot.c): the whole batch's noise, data
     * and labels on the host, every rank's share as gathered, this rank's
     * share before and after pairing, the pairing and its scratch. */
    float *h_x0, *h_x1, *h_y, *h_all, *h_mine, *h_x1p, *h_yp;
    int *perm;
    void *pair_work;
};

/* Under a group: every rank's outcome mine of a step that may fail on one
 * rank alone, shared (fmcl_group_agree, the message naming the failing
 * ranks), then a check that every rank holds the same settings, step and
 * weights. mine itself without a group. */
fmcl_status fmcl_trainer_agree(fmcl_trainer *t, fmcl_status mine);

/* The OT coupling (train_ot.c). Allocates its host buffers. */
fmcl_status fmcl_train_ot_alloc(fmcl_trainer *t);
void fmcl_train_ot_free(fmcl_trainer *t);
/* Pairs step k's whole batch, gathered from every rank, with its noise and
 * reorders this rank's x1 rows (and labels y) to the data its rows pair
 * with. mine: this rank's outcome so far; a rank that failed still takes
 * part, and then every rank fails naming it. */
fmcl_status fmcl_train_couple(fmcl_trainer *t, uint32_t k, fmcl_status mine);

/* Every setting of c that applies to a run on d (a path's parameters only
 * for that path, hflip for images, label_drop for classes) against the
 * settings table: FMCL_ERR_ARG and a message in err. */
fmcl_status fmcl_train_config_check(const fmcl_train_config *c, const fmcl_train_data *d, char *err,
                                    size_t errlen);
/* Records in the model's metadata the text of the settings of c a sampler
 * needs ("path" and its parameters), as checkpoints write them. */
fmcl_status fmcl_train_record_path(fmcl_model *m, const fmcl_train_config *c);

#endif
