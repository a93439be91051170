/* Class conditioning, model-agnostic: a conditional model's input row is its
 * unconditional row [x, features(t)] (W floats) followed by the one-hot of
 * the class (K floats; the null class, used for label dropout and for the
 * unconditional half of classifier-free guidance, is all zeros). Labels
 * travel as floats holding exact integers, -1 for the null class. */
#ifndef FMCL_CLASSES_H
#define FMCL_CLASSES_H

#include <stdint.h>

#include "runtime/runtime.h"

/* y: [B] labels of a training batch: row b, example g = row0 + b of the
 * step's whole batch (the form without _at: row0 0), takes the label of the
 * image fmcl_image_batch_at picks for it (word 0 of philox(seed; g, 0,
 * FMCL_STREAM_INDEX, step), below N), or -1 when u01 of word 0 of
 * philox(seed; g, 0, FMCL_STREAM_LABEL, step) is below drop. lab views N
 * bytes; like every fmcl_t its offset counts 4-byte words. */
fmcl_status fmcl_label_batch_at(fmcl_ctx *ctx, fmcl_t y, fmcl_t lab, uint64_t seed, uint32_t step,
                                int row0, int N, float drop, int B);
fmcl_status fmcl_label_batch(fmcl_ctx *ctx, fmcl_t y, fmcl_t lab, uint64_t seed, uint32_t step,
                             int N, float drop, int B);
void fmcl_label_batch_ref(float *y, const unsigned char *lab, uint64_t seed, uint32_t step,
                          int row0, int N, float drop, int B);

/* Xc: [B, W + K]; row b = [row b % R of X ([R, W]), one-hot of y[b] for
 * b < R, zeros (the null class) for b >= R]. B = 2R builds the conditional
 * and the unconditional halves of a guided evaluation in one pass. */
fmcl_status fmcl_class_concat(fmcl_ctx *ctx, fmcl_t Xc, fmcl_t X, fmcl_t y, int W, int K, int R,
                              int B);
void fmcl_class_concat_ref(float *Xc, const float *X, const float *y, int W, int K, int R, int B);

/* Classifier-free guidance: v[n] = (1 + w) vc - w vu with vc = V[0, n) and
 * vu = V[n, 2n) (the two halves of one forward over 2R rows). */
fmcl_status fmcl_guidance(fmcl_ctx *ctx, fmcl_t v, fmcl_t V, float w, int n);
void fmcl_guidance_ref(double *v, const float *V, float w, int n);

#endif
