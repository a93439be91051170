/* The gradient exchange of data-parallel training (docs/DESIGN.md,
 * "Data-parallel training"): after each rank's backward over its share of
 * the batch, the flat gradient block, the step's loss and a failure count
 * are summed over the group in one call, so every rank then applies the
 * same update. Host MPI needs the values on the host: each exchange waits
 * for the device, reads, sums and writes back. Every so many steps the
 * ranks compare a checksum of their weights. */
#ifndef FMCL_FLOW_EXCHANGE_H
#define FMCL_FLOW_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "dist/group.h"
#include "runtime/runtime.h"

typedef struct {
    fmcl_group *group; /* NULL or of size 1: nothing is exchanged */
    size_t n;          /* gradient floats */
    float *host;       /* n + 2 floats: the gradients, the loss, the failure count */
    /* Totals since init: exchanges; the time waiting for the device to
     * finish the steps (compute); the exchanges' own time (read, sum,
     * write) and the part of it in the group's sum; the floats summed. */
    long count;
    double wait_seconds, seconds, sum_seconds;
    uint64_t floats;
} fmcl_exchange;

/* Sets x up for n gradient floats over g (which x does not own). */
fmcl_status fmcl_exchange_init(fmcl_ctx *ctx, fmcl_exchange *x, fmcl_group *g, size_t n);
void fmcl_exchange_free(fmcl_exchange *x);

/* grads[n] and loss[0] <- their sums over the group, on every rank the same
 * bits. mine is this rank's outcome of the step so far: a rank that failed
 * (mine != FMCL_OK, why its reason) still takes part, with zeros, so that
 * no rank waits for it; then every rank fails with a message naming each
 * failing rank and its reason (fmcl_group_agree), leaving its device
 * buffers as they were. Group failures are reported on ctx. */
fmcl_status fmcl_exchange_step(fmcl_ctx *ctx, fmcl_exchange *x, fmcl_t grads, fmcl_t loss,
                               fmcl_status mine, const char *why);

/* FNV-1a of the n floats of params, read from the device. */
fmcl_status fmcl_weights_checksum(fmcl_ctx *ctx, fmcl_t params, size_t n, float *scratch,
                                  uint64_t *out);
/* Compares the weights' checksum over the group after step `step`:
 * FMCL_ERR_NUMERIC naming the ranks whose weights differ from rank 0's. */
fmcl_status fmcl_exchange_check_weights(fmcl_ctx *ctx, fmcl_exchange *x, fmcl_t params, int step);

#endif
