/* Sampling any model (nn/model.h): fmcl_sample's work (sample.c) and the
 * noise the path in the model's checkpoint starts from (schedule.c), which
 * the likelihood needs too. */
#ifndef FMCL_FLOW_SAMPLE_H
#define FMCL_FLOW_SAMPLE_H

#include "nn/model.h"

/* fmcl_sample (include/fmcl.h) for any model. */
fmcl_status fmcl_model_sample(const fmcl_model *m, const fmcl_sample_config *cfg, float *out,
                              float *traj, int *nfe);
/* fmcl_mlp_x0_std (include/fmcl.h) for any model. */
fmcl_status fmcl_model_x0_std(const fmcl_model *m, float *std);

#endif
