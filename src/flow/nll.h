/* Likelihood by the instantaneous change of variables (docs/DESIGN.md, "The method")
 * over any velocity field given as callbacks, so that tests can plug in
 * closed forms; the MLP is one such field. Plus the device ops of the
 * divergence, each with its plain-C reference. */
#ifndef FMCL_NLL_H
#define FMCL_NLL_H

#include <stdint.h>

#include "nn/model.h"
#include "runtime/runtime.h"

/* A velocity field on D-dimensional points, evaluated on up to max_rows rows. */
typedef struct {
    int dim; /* D */
    int ldg; /* row stride (>= D) of what vjp writes */
    int max_rows;
    float x0_std; /* the noise at t = 0 is N(0, x0_std^2 I) */
    /* v: [rows, D] = v(x, t) for x: [rows, D]; keeps what vjp needs. */
    fmcl_status (*velocity)(void *user, fmcl_t v, fmcl_t x, float t, int rows);
    /* g: [rows, ldg] whose first D columns hold, per row, u^T dv/dx at the
     * (x, t) of the last velocity call; u: [rows, D]. */
    fmcl_status (*vjp)(void *user, fmcl_t g, fmcl_t u, int rows);
    void *user;
} fmcl_field;

/* div: [rows] = divergence of f at the (x, t) of its last velocity call.
 * probe.mem NULL: exact, sum over i of (e_i^T dv/dx)_i, D VJPs through u:
 * [rows, D]. Otherwise Hutchinson's z^T (dv/dx) z for z = probe: [rows, D],
 * one VJP. g: [rows, ldg] scratch. */
fmcl_status fmcl_field_div(fmcl_ctx *ctx, const fmcl_field *f, fmcl_t div, fmcl_t probe, fmcl_t u,
                           fmcl_t g, int rows);

/* fmcl_log_prob for any field (see include/fmcl.h): logp[n] in nats, points
 * taken max_rows at a time; probe k of a Hutchinson run is drawn for global
 * element index row * D + j, so results do not depend on the chunking. */
fmcl_status fmcl_field_log_prob(fmcl_ctx *ctx, const fmcl_field *f, const fmcl_nll_config *cfg,
                                const float *x, int n, double *logp, int *nfe);

/* A model (nn/model.h) as a field: input [x, features(t)], ldg its
 * dx_stride. The U-Net's vjp also accumulates into a scratch gradient. */
typedef struct {
    fmcl_net m;
    fmcl_net_acts acts;
    fmcl_t mem;
    fmcl_t X; /* [max_rows, input width], the last velocity call's input */
    /* Conditional models: [x, features(t)] and the labels, all the null
     * class: the likelihood is that of the unconditional model. */
    fmcl_t Xt, y;
    fmcl_t grads; /* the U-Net's scratch parameter gradients; none for the MLP */
} fmcl_net_field;

fmcl_status fmcl_net_field_create(const fmcl_net *m, float x0_std, int max_rows, fmcl_net_field *mf,
                                  fmcl_field *f);
void fmcl_net_field_free(fmcl_net_field *mf);
/* fmcl_log_prob (include/fmcl/sample.h) for a network whose path starts
 * from N(0, x0_std^2 I). */
fmcl_status fmcl_net_log_prob(const fmcl_net *m, float x0_std, const fmcl_nll_config *cfg,
                              const float *x, int n, double *logp, int *nfe);

/* z[n] = +-1: element i is global element e = first + i, the sign bit of word
 * e % 4 of philox(seed; e / 4, 0, FMCL_STREAM_PROBE, solve). */
fmcl_status fmcl_rademacher(fmcl_ctx *ctx, fmcl_t z, uint64_t seed, uint32_t first, uint32_t solve,
                            int n);
void fmcl_rademacher_ref(float *z, uint64_t seed, uint32_t first, uint32_t solve, int n);

/* u: [rows, D], every row e_col. */
fmcl_status fmcl_onehot_rows(fmcl_ctx *ctx, fmcl_t u, int col, int rows, int D);
void fmcl_onehot_rows_ref(float *u, int col, int rows, int D);

/* div: [rows] = g[:, col] (add 0) or += g[:, col] (add 1); g: [rows, ldg]. */
fmcl_status fmcl_div_column(fmcl_ctx *ctx, fmcl_t div, fmcl_t g, int ldg, int col, int add,
                            int rows);
void fmcl_div_column_ref(float *div, const float *g, int ldg, int col, int add, int rows);

/* div: [rows] = sum_j g[r, j] z[r, j], j < D; g: [rows, ldg], z: [rows, D]. */
fmcl_status fmcl_div_probe(fmcl_ctx *ctx, fmcl_t div, fmcl_t g, int ldg, fmcl_t z, int rows, int D);
void fmcl_div_probe_ref(float *div, const float *g, int ldg, const float *z, int rows, int D);

#endif
