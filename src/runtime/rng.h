/* Philox4x32-10 (Salmon et al., Random123), counter-based: the draw for
 * (key = seed, counter) is the same four 32-bit integers on every device and
 * on the host. Counter words: c0 = element or row, c1 = block within the row,
 * c2 = stream (below), c3 = step. The device twin lives in kernels/common.cl.
 * In the runtime because every layer above draws from it: nn (initialisation,
 * dropout), data (batches, dequantisation) and flow (t, noise, probes). */
#ifndef FMCL_RUNTIME_RNG_H
#define FMCL_RUNTIME_RNG_H

#include <stdint.h>

#include "runtime/runtime.h"

enum {
    FMCL_STREAM_DATA = 1,    /* built-in 2D data */
    FMCL_STREAM_TIME = 2,    /* t ~ U[0, 1) per training sample */
    FMCL_STREAM_NOISE = 3,   /* x0 ~ N(0, I) per training sample */
    FMCL_STREAM_INIT = 4,    /* parameter initialisation */
    FMCL_STREAM_SAMPLE = 5,  /* x0 for sampling */
    FMCL_STREAM_INDEX = 6,   /* row indices into a user's array */
    FMCL_STREAM_PROBE = 7,   /* Hutchinson probes of the likelihood */
    FMCL_STREAM_PIXELS = 8,  /* dequantisation noise and flips of 8-bit images */
    FMCL_STREAM_LABEL = 9,   /* label dropout of class-conditional training */
    FMCL_STREAM_DROPOUT = 10 /* the U-Net's dropout masks */
};

void fmcl_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* Convenience: key from a 64-bit seed, counter from its four words. */
void fmcl_philox(uint64_t seed, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                 uint32_t out[4]);

/* r -> [0, 1) with 24 bits: (r >> 8) * 2^-24. */
float fmcl_u01(uint32_t r);
/* Two uniforms -> two normals (Box-Muller, u1 in (0, 1]). */
void fmcl_box_muller(uint32_t r0, uint32_t r1, float *z0, float *z1);
/* r -> integer in [0, n): (r * n) >> 32. */
uint32_t fmcl_uint_below(uint32_t r, uint32_t n);

/* x[n] ~ N(0, 1): element i from philox(seed; c0 = i / 4 pair block ...), stream, step. */
fmcl_status fmcl_randn(fmcl_ctx *ctx, fmcl_t x, uint64_t seed, uint32_t stream, uint32_t step,
                       int n);
void fmcl_randn_ref(float *x, uint64_t seed, uint32_t stream, uint32_t step, int n);

#endif
