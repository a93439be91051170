/* The built-in 2D sets and row gathering from a user's array (toy2d.c), on
 * the device with their plain-C references: the training batches x1 of
 * points data. */
#ifndef FMCL_DATA_TOY2D_H
#define FMCL_DATA_TOY2D_H

#include <stdint.h>

#include "runtime/runtime.h"

/* The data kinds the kernels (kernels/data.cl, path.cl) and checkpoints
 * know: the built-in sets 0 .. 4 (fmcl_toy's values), then a user's array
 * and an image set. */
enum { FMCL_KIND_ARRAY = 5, FMCL_KIND_IMAGES = 6 };

/* Each call fills B rows that are examples [row0, row0 + B) of the step's
 * whole batch, drawn exactly as when the whole batch is drawn at once (a
 * rank's share, docs/DESIGN.md "Data-parallel training"); the forms
 * without _at draw examples [0, B). */

/* x1: [B, 2] points of a built-in set (fmcl_toy) for this step. */
fmcl_status fmcl_toy_sample_at(fmcl_ctx *ctx, fmcl_t x1, int kind, uint64_t seed, uint32_t step,
                               int row0, int B);
fmcl_status fmcl_toy_sample(fmcl_ctx *ctx, fmcl_t x1, int kind, uint64_t seed, uint32_t step,
                            int B);
void fmcl_toy_sample_ref(float *x1, int kind, uint64_t seed, uint32_t step, int row0, int B);
/* The reference's n points, checked: FMCL_ERR_ARG for a kind that is no
 * built-in set or a step past the counter's 32 bits. */
fmcl_status fmcl_toy_sample_host(int kind, uint64_t seed, uint64_t step, int n, float *out);

/* x1: [B, D] rows of data: [N, D] chosen uniformly with replacement by Philox. */
fmcl_status fmcl_gather_rows_at(fmcl_ctx *ctx, fmcl_t x1, fmcl_t data, uint64_t seed, uint32_t step,
                                int row0, int N, int D, int B);
fmcl_status fmcl_gather_rows(fmcl_ctx *ctx, fmcl_t x1, fmcl_t data, uint64_t seed, uint32_t step,
                             int N, int D, int B);
void fmcl_gather_rows_ref(float *x1, const float *data, uint64_t seed, uint32_t step, int row0,
                          int N, int D, int B);

/* A built-in set's kind by its name (any case); -1 if unknown. */
int fmcl_toy_of_name(const char *name);
/* The name of a kind, as checkpoints record it
 * ("checkerboard", ..., "array", "images"); NULL if unknown. */
const char *fmcl_kind_name(int kind);
/* The kind of such a name (exact); -1 if unknown. */
int fmcl_kind_of_name(const char *name);

#endif
