/* Buffers and kernel launches. Local sizes come from ctx->sched (vendor.c:
 * chosen per device from its queries); global sizes are rounded up to them
 * (OpenCL C 1.2 has no non-uniform work-groups), so every kernel guards its
 * index. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime/profile.h"
#include "runtime/runtime.h"
#include "runtime/vec.h"

fmcl_status fmcl_alloc(fmcl_ctx *ctx, size_t bytes, fmcl_t *out, const char *what)
{
    *out = (fmcl_t){0};
    if (bytes == 0) bytes = 4;
    if (bytes > ctx->info.max_alloc)
        return fmcl_fail(ctx, FMCL_ERR_NOMEM,
                         "%s needs %.1f MiB in one buffer but %s allows at most %.1f MiB; a "
                         "smaller batch or model needs less",
                         what, bytes / 1048576.0, ctx->info.device_name,
                         ctx->info.max_alloc / 1048576.0);
    cl_int rc;
    cl_mem mem = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &rc);
    if (rc != CL_SUCCESS) return fmcl_cl(ctx, rc, what);
    out->mem = mem;
    return FMCL_OK;
}

void fmcl_release(fmcl_t *t)
{
    if (t->mem) clReleaseMemObject(t->mem);
    *t = (fmcl_t){0};
}

/* Oclgrind's uninitialised-value tracker re-sizes a buffer's record to the
 * written range on every host write, so a write to part of a buffer makes
 * the rest of it read as uninitialised (vendor.c). There, such a write goes
 * to a staging buffer of its own (allocated per write, on Oclgrind only),
 * written whole, and a kernel copies it into place: the record of the
 * destination changes exactly where the data lands. */
static fmcl_status staged_write(fmcl_ctx *ctx, fmcl_t dst, const void *src, size_t bytes)
{
    fmcl_t tmp;
    fmcl_status s = fmcl_alloc(ctx, bytes, &tmp, "a staging buffer");
    if (s == FMCL_OK)
        s = fmcl_cl(
            ctx, clEnqueueWriteBuffer(ctx->queue, tmp.mem, CL_TRUE, 0, bytes, src, 0, NULL, NULL),
            "clEnqueueWriteBuffer");
    if (s == FMCL_OK) s = fmcl_copy(ctx, dst, tmp, bytes / 4);
    fmcl_release(&tmp); /* the enqueued copy keeps it alive until done */
    return s;
}

fmcl_status fmcl_write(fmcl_ctx *ctx, fmcl_t dst, const void *src, size_t bytes)
{
    if (bytes == 0) return FMCL_OK;
    fmcl_profile_wait(ctx, 0); /* a blocking write waits for the queue */
    if (ctx->sched.whole_writes && bytes % 4 == 0) {
        size_t size = 0;
        clGetMemObjectInfo(dst.mem, CL_MEM_SIZE, sizeof size, &size, NULL);
        if (dst.off != 0 || bytes != size) return staged_write(ctx, dst, src, bytes);
    }
    return fmcl_cl(
        ctx,
        clEnqueueWriteBuffer(ctx->queue, dst.mem, CL_TRUE, dst.off * 4, bytes, src, 0, NULL, NULL),
        "clEnqueueWriteBuffer");
}

fmcl_status fmcl_read(fmcl_ctx *ctx, fmcl_t src, void *dst, size_t bytes)
{
    if (bytes == 0) return FMCL_OK;
    fmcl_profile_wait(ctx, 0);
    return fmcl_cl(
        ctx,
        clEnqueueReadBuffer(ctx->queue, src.mem, CL_TRUE, src.off * 4, bytes, dst, 0, NULL, NULL),
        "clEnqueueReadBuffer");
}

fmcl_status fmcl_finish(fmcl_ctx *ctx)
{
    fmcl_profile_wait(ctx, 0);
    return fmcl_cl(ctx, clFinish(ctx->queue), "clFinish");
}

fmcl_status fmcl_pace(fmcl_ctx *ctx)
{
    cl_event ev;
    cl_int rc = clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &ev);
    if (rc != CL_SUCCESS) return fmcl_cl(ctx, rc, "clEnqueueMarkerWithWaitList");
    if (ctx->pace) {
        fmcl_profile_wait(ctx, 1);
        rc = clWaitForEvents(1, &ctx->pace);
        clReleaseEvent(ctx->pace);
    }
    ctx->pace = ev;
    return fmcl_cl(ctx, rc, "waiting for the queue");
}

static fmcl_status set_args(fmcl_ctx *ctx, int slot, const char *sig, va_list ap)
{
    if (ctx->check_launches) {
        fmcl_status s = fmcl_launch_check(ctx, slot, sig);
        if (s != FMCL_OK) return s;
    }
    cl_kernel k = ctx->kern[slot];
    cl_uint i = 0;
    cl_int rc = CL_SUCCESS;
    for (const char *c = sig; *c && rc == CL_SUCCESS; c++) {
        switch (*c) {
        case 't': {
            fmcl_t t = va_arg(ap, fmcl_t);
            if (t.off > UINT32_MAX)
                return fmcl_fail(ctx, FMCL_ERR_ARG, "tensor offset %zu exceeds 32 bits", t.off);
            cl_uint off = (cl_uint)t.off;
            rc = clSetKernelArg(k, i++, sizeof t.mem, &t.mem);
            if (rc == CL_SUCCESS) rc = clSetKernelArg(k, i++, sizeof off, &off);
            break;
        }
        case 'i': {
            cl_int v = va_arg(ap, int);
            rc = clSetKernelArg(k, i++, sizeof v, &v);
            break;
        }
        case 'u': {
            cl_uint v = va_arg(ap, unsigned);
            rc = clSetKernelArg(k, i++, sizeof v, &v);
            break;
        }
        case 'f': {
            cl_float v = (cl_float)va_arg(ap, double);
            rc = clSetKernelArg(k, i++, sizeof v, &v);
            break;
        }
        case 'l': {
            cl_ulong v = va_arg(ap, uint64_t);
            rc = clSetKernelArg(k, i++, sizeof v, &v);
            break;
        }
        case 'L': {
            size_t bytes = va_arg(ap, size_t);
            rc = clSetKernelArg(k, i++, bytes, NULL);
            break;
        }
        default: return fmcl_fail(ctx, FMCL_ERR_ARG, "bad kernel signature character '%c'", *c);
        }
    }
    return fmcl_cl(ctx, rc, "clSetKernelArg");
}

int fmcl_kernel_slot(const fmcl_ctx *ctx, int kid)
{
    const int set = kid >> FMCL_KSET_BITS, index = kid & ((1 << FMCL_KSET_BITS) - 1);
    if (kid < 0 || set >= FMCL_KSETS || !ctx->sets[set] || index >= ctx->sets[set]->count)
        return -1;
    return ctx->set_first[set] + index;
}

/* The slot of kid, or -1 with the context's error set. */
static int slot_of(fmcl_ctx *ctx, int kid)
{
    const int k = fmcl_kernel_slot(ctx, kid);
    if (k < 0)
        fmcl_fail(ctx, FMCL_ERR_ARG,
                  "kernel id %d (set %d, index %d) names no kernel of this context: its layer's "
                  "kernel set was not registered at fmcl_runtime_ctx_create",
                  kid, kid >> FMCL_KSET_BITS, kid & ((1 << FMCL_KSET_BITS) - 1));
    return k;
}

/* The kernel's name, for error text. */
static const char *kernel_name(fmcl_ctx *ctx, int slot, char *name, size_t cap)
{
    name[0] = 0;
    clGetKernelInfo(ctx->kern[slot], CL_KERNEL_FUNCTION_NAME, cap - 1, name, NULL);
    name[cap - 1] = 0;
    return name;
}

static fmcl_status enqueue_fail(fmcl_ctx *ctx, int slot, cl_int rc)
{
    char name[64], what[128];
    snprintf(what, sizeof what, "launching kernel %s", kernel_name(ctx, slot, name, sizeof name));
    return fmcl_cl(ctx, rc, what);
}

static fmcl_status enqueue(fmcl_ctx *ctx, int slot, cl_uint dims, const size_t *gsz,
                           const size_t *lsz)
{
    cl_event *ev = fmcl_profile_slot(ctx, slot);
    cl_int rc = clEnqueueNDRangeKernel(ctx->queue, ctx->kern[slot], dims, NULL, gsz, lsz, 0, NULL,
                                       ev);
    fmcl_profile_done(ctx, ev, rc == CL_SUCCESS);
    return rc == CL_SUCCESS ? FMCL_OK : enqueue_fail(ctx, slot, rc);
}

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

fmcl_status fmcl_run1(fmcl_ctx *ctx, int kid, size_t n, const char *sig, ...)
{
    if (n == 0) return FMCL_OK;
    const int k = slot_of(ctx, kid);
    if (k < 0) return FMCL_ERR_ARG;
    va_list ap;
    va_start(ap, sig);
    fmcl_status s = set_args(ctx, k, sig, ap);
    va_end(ap);
    if (s != FMCL_OK) return s;
    size_t local = ctx->sched.local[k];
    size_t global = round_up(n, local);
    return enqueue(ctx, k, 1, &global, &local);
}

fmcl_status fmcl_run1_local(fmcl_ctx *ctx, int kid, size_t n, size_t local, const char *sig, ...)
{
    if (n == 0) return FMCL_OK;
    const int k = slot_of(ctx, kid);
    if (k < 0) return FMCL_ERR_ARG;
    va_list ap;
    va_start(ap, sig);
    fmcl_status s = set_args(ctx, k, sig, ap);
    va_end(ap);
    if (s != FMCL_OK) return s;
    size_t global = round_up(n, local);
    /* Checked against the device's limits but not CL_KERNEL_WORK_GROUP_SIZE:
     * rusticl answers 32 there for kernels that declare
     * reqd_work_group_size(64) and runs them (vendor.c). */
    int fits = local <= ctx->sched.max_wg && local <= ctx->sched.max_items[0];
    cl_event *ev = fits ? fmcl_profile_slot(ctx, k) : NULL;
    cl_int rc = fits ? clEnqueueNDRangeKernel(ctx->queue, ctx->kern[k], 1, NULL, &global, &local, 0,
                                              NULL, ev)
                     : CL_INVALID_WORK_GROUP_SIZE;
    fmcl_profile_done(ctx, ev, rc == CL_SUCCESS);
    if (rc == CL_INVALID_WORK_GROUP_SIZE || rc == CL_INVALID_WORK_ITEM_SIZE) {
        char name[64];
        return fmcl_fail(ctx, FMCL_ERR_UNSUPPORTED,
                         "kernel %s needs work-groups of %zu, which %s refuses (its limits: %zu "
                         "per group, %zu along dimension 0, %zu for this kernel); this device is "
                         "NOT SUPPORTED for fmcl's deterministic reductions",
                         kernel_name(ctx, k, name, sizeof name), local, ctx->info.device_name,
                         ctx->sched.max_wg, ctx->sched.max_items[0], ctx->kern_wg[k]);
    }
    return rc == CL_SUCCESS ? FMCL_OK : enqueue_fail(ctx, k, rc);
}

fmcl_status fmcl_run2(fmcl_ctx *ctx, int kid, size_t n0, size_t n1, const char *sig, ...)
{
    if (n0 == 0 || n1 == 0) return FMCL_OK;
    const int k = slot_of(ctx, kid);
    if (k < 0) return FMCL_ERR_ARG;
    va_list ap;
    va_start(ap, sig);
    fmcl_status s = set_args(ctx, k, sig, ap);
    va_end(ap);
    if (s != FMCL_OK) return s;
    size_t local[2];
    fmcl_sched_2d(ctx, k, n0, local);
    size_t global[2] = {round_up(n0, local[0]), round_up(n1, local[1])};
    return enqueue(ctx, k, 2, global, local);
}
