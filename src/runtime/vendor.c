/* What differs between OpenCL implementations, in one place: how each is
 * recognised, how launches are shaped on it and (Oclgrind) how host writes
 * reach it. Launch shapes come from the device's own answers
 * (CL_KERNEL_WORK_GROUP_SIZE, its preferred multiple, the device's maximum
 * work-group and work-item sizes) and change speed only, never a result:
 * elementwise kernels do not see their group, per-item loops run in index
 * order, and reductions use the fixed FMCL_REDUCE_WG with a host-chosen
 * number of groups on every device.
 *
 * Non-uniform work-groups: the kernels are built as OpenCL C 1.2, where every
 * group is full (non-uniform groups need -cl-std=CL2.0 and, in OpenCL 3.0, an
 * optional feature; PoCL and rusticl both answer no here). Global sizes are
 * therefore rounded up to the local size and every kernel guards its index. */
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

/* Largest 1D work-group chosen when the device allows more: 128 on CPUs
 * (PoCL ran a 2^20-item elementwise kernel as fast with groups of 16 to 256
 * here) and 256 on GPUs (several warps or wavefronts per group). */
#define CPU_CAP 128
#define GPU_CAP 256
/* The fastest dimension of a 2D launch (gather_rows: columns of a row). */
#define CAP_2D_FAST 32

fmcl_impl fmcl_impl_of(const fmcl_device_info *info)
{
    const char *p = info->platform_name, *v = info->platform_vendor;
    if (strstr(p, "Portable Computing Language") || strcmp(p, "PoCL") == 0) return FMCL_IMPL_POCL;
    if (strcmp(p, "rusticl") == 0) return FMCL_IMPL_RUSTICL;
    if (strstr(p, "Oclgrind")) return FMCL_IMPL_OCLGRIND;
    if (strstr(p, "NVIDIA") || strstr(v, "NVIDIA")) return FMCL_IMPL_NVIDIA;
    if (strstr(p, "AMD") || strstr(v, "Advanced Micro Devices")) return FMCL_IMPL_AMD;
    if (strstr(p, "Intel") || strstr(v, "Intel")) return FMCL_IMPL_INTEL;
    return FMCL_IMPL_OTHER;
}

const char *fmcl_impl_name(fmcl_impl impl)
{
    switch (impl) {
    case FMCL_IMPL_POCL: return "PoCL";
    case FMCL_IMPL_RUSTICL: return "Mesa rusticl";
    case FMCL_IMPL_OCLGRIND: return "Oclgrind";
    case FMCL_IMPL_NVIDIA: return "NVIDIA";
    case FMCL_IMPL_AMD: return "AMD";
    case FMCL_IMPL_INTEL: return "Intel";
    case FMCL_IMPL_OTHER: break;
    }
    return "other";
}

/* The largest multiple of m (>= 1) not above limit, or limit when m > limit. */
static size_t multiple_below(size_t limit, size_t m)
{
    return m > 1 && limit >= m ? limit / m * m : limit;
}

static size_t pow2_at_most(size_t limit)
{
    size_t p = 1;
    while (p * 2 <= limit) p *= 2;
    return p;
}

fmcl_status fmcl_sched_init(fmcl_ctx *ctx)
{
    fmcl_sched *s = &ctx->sched;
    memset(s, 0, sizeof *s);
    s->impl = fmcl_impl_of(&ctx->info);
    /* Oclgrind 21.10 (--uninitialized) records a host write as the state of
     * the whole buffer, sized to the write: launch.c stages partial writes. */
    s->whole_writes = s->impl == FMCL_IMPL_OCLGRIND;
    /* fmcl's packed GEMM (kernels/gemm.cl) keeps a block of C in one
     * work-item's vector registers: PoCL's CPU device runs it at 150-180
     * GFLOP/s on the 2-core EPYC here, CLBlast at 38-46 tuned. llvmpipe
     * (rusticl) spreads work-items over SIMD lanes instead, and ran it 10x
     * slower than CLBlast; GPUs want CLBlast's work-group tiles. Its fma()
     * needs the hardware instruction, which PoCL reports as CL_FP_FMA. */
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(ctx->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
    s->packed_gemm = s->impl == FMCL_IMPL_POCL && ctx->info.type == FMCL_DEVICE_CPU &&
                     (fp & CL_FP_FMA) && !(fp & CL_FP_SOFT_FLOAT);
    /* Convolutions as implicit GEMMs (kernels/convgemm.cl): the register-
     * blocked variant where the packed GEMM runs, the local-memory tiles on
     * GPUs; elsewhere (llvmpipe) im2col and CLBlast, which spread over its
     * SIMD lanes as they were written to. */
    s->conv = s->packed_gemm                      ? FMCL_CONV_PACKED
              : ctx->info.type == FMCL_DEVICE_GPU ? FMCL_CONV_TILED
                                                  : FMCL_CONV_IM2COL;
    size_t items[3] = {0};
    cl_int rc = clGetDeviceInfo(ctx->device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items,
                                NULL);
    if (rc != CL_SUCCESS) return fmcl_cl(ctx, rc, "querying CL_DEVICE_MAX_WORK_ITEM_SIZES");
    s->max_wg = ctx->info.max_work_group ? ctx->info.max_work_group : 1;
    s->max_items[0] = items[0] ? items[0] : 1;
    s->max_items[1] = items[1] ? items[1] : 1;
    size_t cap = ctx->info.type == FMCL_DEVICE_GPU ? GPU_CAP : CPU_CAP;
    size_t lo = (size_t)-1, hi = 0, kmin = (size_t)-1, pm_max = 1;
    for (int k = 0; k < ctx->n_kern; k++) {
        /* Register-block kernels (gemm_packed, the implicit convolutions)
         * declare reqd_work_group_size(1, 1, 1): one work-item per group. */
        size_t reqd[3] = {0, 0, 0};
        clGetKernelWorkGroupInfo(ctx->kern[k], ctx->device, CL_KERNEL_COMPILE_WORK_GROUP_SIZE,
                                 sizeof reqd, reqd, NULL);
        if (reqd[0] == 1 && reqd[1] == 1 && reqd[2] == 1) {
            s->local[k] = 1;
            continue;
        }
        size_t pm = 1;
        clGetKernelWorkGroupInfo(ctx->kern[k], ctx->device,
                                 CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, sizeof pm, &pm,
                                 NULL);
        /* rusticl (Mesa 22.3) answers 32 for every kernel, also for those
         * declaring reqd_work_group_size(64), and runs both: the answer is
         * obeyed here and ignored only for the reductions (launch.c). */
        size_t limit = ctx->kern_wg[k] ? ctx->kern_wg[k] : 1;
        if (limit > s->max_wg) limit = s->max_wg;
        if (limit > s->max_items[0]) limit = s->max_items[0];
        size_t l = multiple_below(limit < cap ? limit : cap, pm ? pm : 1);
        s->local[k] = l;
        lo = l < lo ? l : lo;
        hi = l > hi ? l : hi;
        kmin = ctx->kern_wg[k] < kmin ? ctx->kern_wg[k] : kmin;
        pm_max = pm > pm_max ? pm : pm_max;
    }
    fmcl_note(ctx, "launches on %s: work-groups of %zu", fmcl_impl_name(s->impl), lo);
    if (hi != lo) fmcl_note(ctx, "-%zu", hi);
    fmcl_note(ctx, " (kernel limit >= %zu, preferred multiple <= %zu), reductions of %d\n", kmin,
              pm_max, FMCL_REDUCE_WG);
    return FMCL_OK;
}

void fmcl_sched_2d(const fmcl_ctx *ctx, int slot, size_t n0, size_t local[2])
{
    const fmcl_sched *s = &ctx->sched;
    size_t total = s->local[slot]; /* at most max_items[0] (fmcl_sched_init) */
    size_t l0 = CAP_2D_FAST < total ? CAP_2D_FAST : total;
    /* Narrow rows (2D points) leave room for more rows per group. */
    while (l0 > 1 && l0 / 2 >= n0) l0 /= 2;
    l0 = pow2_at_most(l0);
    size_t l1 = total / l0;
    if (l1 > s->max_items[1]) l1 = s->max_items[1];
    local[0] = l0;
    local[1] = l1 ? l1 : 1;
}

int fmcl_vector_width(const fmcl_ctx *ctx)
{
    cl_uint w = 0;
    clGetDeviceInfo(ctx->device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof w, &w, NULL);
    return w >= 16 ? 16 : 8;
}
