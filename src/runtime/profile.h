/* Optional profiling for `fmcl bench`: per-kernel device time from OpenCL
 * profiling events, launch counts and the host's waits for the queue. Off
 * unless fmcl_profile_begin is called: a plain context's queue has no
 * profiling enabled and its launches pass a NULL event, as before. */
#ifndef FMCL_PROFILE_H
#define FMCL_PROFILE_H

#include "runtime/runtime.h"

/* Sums by slot: a kernel's is fmcl_kernel_slot (runtime.h), then fmcl_gemm's. */
#define FMCL_PROF_GEMM FMCL_KERNELS_MAX
#define FMCL_PROF_SLOTS (FMCL_KERNELS_MAX + 1)

typedef struct {
    double secs[FMCL_PROF_SLOTS]; /* device seconds per kernel (see profile.c for GEMM) */
    unsigned long calls[FMCL_PROF_SLOTS];
    double span;           /* seconds from the first start to the last end */
    unsigned long dropped; /* launches past the capacity, counted but not timed */
    unsigned long syncs;   /* host waits for the queue: finishes, blocking
                                           reads and writes */
    unsigned long paces;   /* waits of fmcl_pace, which bound the queue's depth */
} fmcl_profile_sums;

/* Drains the queue and replaces it with one that has profiling enabled (once
 * per context), then records up to cap launches from now on. */
fmcl_status fmcl_profile_begin(fmcl_ctx *ctx, size_t cap);
/* Waits for the queue, sums what was recorded since begin into *out and
 * stops recording (the profiling queue stays). */
fmcl_status fmcl_profile_end(fmcl_ctx *ctx, fmcl_profile_sums *out);
/* Context teardown. */
void fmcl_profile_free(fmcl_ctx *ctx);
/* "adam_step", or "gemm (CLBlast)" for FMCL_PROF_GEMM. */
void fmcl_profile_name(const fmcl_ctx *ctx, int slot, char *buf, size_t cap);

/* Launch hooks (launch.c, gemm.c): where the event of the launch about to be
 * enqueued goes, NULL when not recording; then done with whether the
 * enqueue succeeded. */
cl_event *fmcl_profile_slot(fmcl_ctx *ctx, int slot);
void fmcl_profile_done(fmcl_ctx *ctx, const cl_event *ev, int ok);
/* Wait hook (launch.c): the host is about to wait for the queue, to drain it
 * or read or write (pace 0) or to bound its depth (pace 1). */
void fmcl_profile_wait(fmcl_ctx *ctx, int pace);

#endif
