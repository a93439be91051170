/* Profiling for benchmarks: events of our launches and of CLBlast's GEMMs on
 * a queue with CL_QUEUE_PROFILING_ENABLE. CLBlast hands back the event of a
 * GEMM's last kernel only, so a GEMM is charged from the end of the command
 * before it to the end of its last kernel: that covers CLBlast's copy, pad
 * and transpose kernels too (and any idle time of the queue in between, which
 * stays small while the host enqueues ahead of the device). It also counts
 * the host's waits for the queue (launch.c's hooks), which a training step
 * should not need. */
#include "runtime/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fmcl_profile {
    int switched; /* the queue was replaced by a profiling one */
    int recording;
    size_t n, cap; /* records used, allocated (the first is a marker) */
    int *slot;
    cl_event *ev;
    unsigned long calls[FMCL_PROF_SLOTS], dropped, syncs, paces;
};

static void release_events(struct fmcl_profile *p)
{
    for (size_t i = 0; i < p->n; i++) clReleaseEvent(p->ev[i]);
    p->n = 0;
}

static fmcl_status switch_queue(fmcl_ctx *ctx)
{
    fmcl_status s = fmcl_finish(ctx);
    if (s != FMCL_OK) return s;
    if (ctx->pace) clReleaseEvent(ctx->pace); /* belongs to the old queue, already done */
    ctx->pace = NULL;
    cl_int rc;
    cl_command_queue q = clCreateCommandQueue(ctx->context, ctx->device, CL_QUEUE_PROFILING_ENABLE,
                                              &rc);
    if (rc != CL_SUCCESS) return fmcl_cl(ctx, rc, "creating a profiling command queue");
    clReleaseCommandQueue(ctx->queue);
    ctx->queue = q;
    ctx->prof->switched = 1;
    return FMCL_OK;
}

fmcl_status fmcl_profile_begin(fmcl_ctx *ctx, size_t cap)
{
    if (!ctx->prof && !(ctx->prof = calloc(1, sizeof *ctx->prof)))
        return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory for profiling");
    struct fmcl_profile *p = ctx->prof;
    p->recording = 0;
    release_events(p);
    if (cap + 1 > p->cap) {
        int *slot = realloc(p->slot, (cap + 1) * sizeof *slot);
        if (slot) p->slot = slot;
        cl_event *ev = slot ? realloc(p->ev, (cap + 1) * sizeof *ev) : NULL;
        if (ev) p->ev = ev;
        if (!slot || !ev)
            return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory for %zu profiled launches",
                             cap);
        p->cap = cap + 1;
    }
    fmcl_status s = p->switched ? FMCL_OK : switch_queue(ctx);
    if (s != FMCL_OK) return s;
    memset(p->calls, 0, sizeof p->calls);
    p->dropped = p->syncs = p->paces = 0;
    /* A marker first, so the first GEMM has a command before it. */
    cl_int rc = clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &p->ev[0]);
    if (rc != CL_SUCCESS) return fmcl_cl(ctx, rc, "clEnqueueMarkerWithWaitList");
    p->slot[0] = -1;
    p->n = 1;
    p->recording = 1;
    return FMCL_OK;
}

cl_event *fmcl_profile_slot(fmcl_ctx *ctx, int slot)
{
    struct fmcl_profile *p = ctx->prof;
    if (!p || !p->recording) return NULL;
    p->calls[slot]++;
    if (p->n == p->cap) {
        p->dropped++;
        return NULL;
    }
    p->slot[p->n] = slot;
    return &p->ev[p->n];
}

void fmcl_profile_done(fmcl_ctx *ctx, const cl_event *ev, int ok)
{
    if (!ev) return;
    struct fmcl_profile *p = ctx->prof;
    if (ok)
        p->n++;
    else
        p->calls[p->slot[p->n]]--;
}

void fmcl_profile_wait(fmcl_ctx *ctx, int pace)
{
    struct fmcl_profile *p = ctx->prof;
    if (!p || !p->recording) return;
    if (pace)
        p->paces++;
    else
        p->syncs++;
}

static cl_int stamps(cl_event ev, cl_ulong *start, cl_ulong *end)
{
    cl_int rc = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof *start, start, NULL);
    if (rc == CL_SUCCESS)
        rc = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof *end, end, NULL);
    return rc;
}

fmcl_status fmcl_profile_end(fmcl_ctx *ctx, fmcl_profile_sums *out)
{
    memset(out, 0, sizeof *out);
    struct fmcl_profile *p = ctx->prof;
    if (!p || !p->recording)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_profile_end without fmcl_profile_begin");
    p->recording = 0;
    fmcl_status s = fmcl_finish(ctx);
    cl_ulong first = 0, prev_end = 0, start, end;
    for (size_t i = 0; i < p->n && s == FMCL_OK; i++) {
        s = fmcl_cl(ctx, stamps(p->ev[i], &start, &end), "reading profiling events");
        if (s != FMCL_OK) break;
        if (i == 0)
            first = end;
        else if (p->slot[i] == FMCL_PROF_GEMM)
            out->secs[FMCL_PROF_GEMM] += end > prev_end ? 1e-9 * (double)(end - prev_end) : 0;
        else
            out->secs[p->slot[i]] += end > start ? 1e-9 * (double)(end - start) : 0;
        if (end > prev_end) prev_end = end;
    }
    if (s == FMCL_OK && prev_end > first) out->span = 1e-9 * (double)(prev_end - first);
    memcpy(out->calls, p->calls, sizeof out->calls);
    out->dropped = p->dropped;
    out->syncs = p->syncs;
    out->paces = p->paces;
    release_events(p);
    return s;
}

void fmcl_profile_free(fmcl_ctx *ctx)
{
    struct fmcl_profile *p = ctx->prof;
    if (!p) return;
    release_events(p);
    free(p->slot);
    free(p->ev);
    free(p);
    ctx->prof = NULL;
}

void fmcl_profile_name(const fmcl_ctx *ctx, int slot, char *buf, size_t cap)
{
    buf[0] = 0;
    if (slot == FMCL_PROF_GEMM) {
        snprintf(buf, cap, "gemm (CLBlast)");
        return;
    }
    clGetKernelInfo(ctx->kern[slot], CL_KERNEL_FUNCTION_NAME, cap - 1, buf, NULL);
    buf[cap - 1] = 0;
}
