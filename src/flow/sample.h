/* Sampling a network (nn/model.h): fmcl_sample's work (sample.c), which
 * the public fmcl_sample runs for a model with the starting noise of its
 * path (schedule.c's fmcl_model_x0_std). */
#ifndef FMCL_FLOW_SAMPLE_H
#define FMCL_FLOW_SAMPLE_H

#include "nn/model.h"

/* fmcl_sample (include/fmcl/sample.h) for a network: x0_std 0 means 1. */
fmcl_status fmcl_net_sample(const fmcl_net *m, const fmcl_sample_config *cfg, float *out,
                            float *traj, int *nfe);

#endif
