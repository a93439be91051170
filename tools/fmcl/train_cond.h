/* fmcl train --cond: trains v(x, t, y) on an image set's labels, each
 * example's label replaced by the null class with probability --label-drop
 * (classifier-free guidance needs the unconditional field too). */
#ifndef FMCL_CLI_TRAIN_COND_H
#define FMCL_CLI_TRAIN_COND_H

#include "args.h"
#include "fmcl.h"
#include "train_opts.h"

/* Samples of each class in the samples.png of a conditional run. */
#define COND_PER_CLASS 8

/* Usage errors: --label-drop without --cond, --cond on data without labels
 * by their nature (2D sets, arrays). */
int train_cond_flags(arg_cmd *cmd, const train_opts *o);
/* With --cond: the set's classes into mc, the label dropout into tc; an
 * error when the loaded set has no labels. Nothing without --cond. */
int train_cond_config(const train_opts *o, const fmcl_data *data, fmcl_model_config *mc,
                      fmcl_train_config *tc);
/* samples.png of a conditional model: COND_PER_CLASS samples of each class
 * (base's solver, steps, seed and noise), one row per class. */
int train_cond_samples(fmcl_ctx *ctx, fmcl_model *m, const fmcl_sample_config *base,
                       const char *path, const int shape[3]);

#endif
