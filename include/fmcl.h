/* fmcl: Flow Matching on OpenCL. The whole public C API (docs/API.md):
 *
 *   fmcl/core.h      versions, status codes, devices, contexts, conventions
 *   fmcl/settings.h  the names and limits of every setting
 *   fmcl/model.h     the MLP and U-Net velocity models: create, load, save,
 *                    named tensors, v(x, t[, y]) on host arrays
 *   fmcl/data.h      data sources: built-in 2D sets, points, image sets
 *   fmcl/train.h     probability paths and the trainer
 *   fmcl/sample.h    sampling (every solver, guidance) and likelihoods
 *   fmcl/io.h        .npy arrays, checkpoints without a device, atomic writes
 *   fmcl/plot.h      pictures: 2D densities, trajectories, loss, image grids
 *   fmcl/check.h     the self-check of every device op
 *   fmcl/bench.h     the benchmark workloads of fmcl bench and their files
 *   fmcl/tune.h      searching CLBlast's parameters for a device (fmcl tune)
 *   fmcl/group.h     groups of ranks for data-parallel training (MPI, threads)
 */
#ifndef FMCL_H
#define FMCL_H

#include "fmcl/core.h"
#include "fmcl/settings.h"
#include "fmcl/model.h"
#include "fmcl/data.h"
#include "fmcl/train.h"
#include "fmcl/sample.h"
#include "fmcl/io.h"
#include "fmcl/plot.h"
#include "fmcl/check.h"
#include "fmcl/bench.h"
#include "fmcl/tune.h"
#include "fmcl/group.h"

#endif
