/* Minibatch optimal-transport coupling (OT-CFM, beyond the paper): within a
 * batch, the pairing of noise points with data points that minimises the
 * total squared distance, found exactly on the host. */
#ifndef FMCL_COUPLING_H
#define FMCL_COUPLING_H

#include <stddef.h>

/* Bytes of scratch fmcl_assign needs for an n x n problem. */
size_t fmcl_assign_work(int n);

/* Exact minimum-cost assignment of the n x n row-major cost matrix C:
 * perm[i] is the column given to row i, sum_i C[i][perm[i]] is minimal.
 * The Hungarian method as shortest augmenting paths with dual potentials,
 * started from the column minima as in Jonker-Volgenant; O(n^3) time. Deterministic: rows are added in
 * order and every tie goes to the lowest column index, so equal inputs give
 * equal pairings (an all-equal C gives the identity). work holds
 * fmcl_assign_work(n) bytes. Returns 0, or -1 when costs are NaN or
 * infinite (perm is then undefined). */
int fmcl_assign(const double *C, int n, int *perm, void *work);

/* The batch's pairing: perm[i] is the row of x1 (B x D) that goes with row i
 * of x0 (B x D) under squared Euclidean cost (in double). work holds
 * fmcl_ot_pairing_work(B) bytes: the costs and fmcl_assign's scratch.
 * Returns 0, or -1 when a point is NaN or infinite. */
size_t fmcl_ot_pairing_work(int B);
int fmcl_ot_pairing(const float *x0, const float *x1, int B, int D, int *perm, void *work);

#endif
