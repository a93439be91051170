/* Runtime internals shared by every op: the context, tensors (buffer +
 * element offset), kernel launch helpers and error reporting. Only files in
 * src/runtime call OpenCL directly besides the launchers' fmcl_run* calls. */
#ifndef FMCL_RUNTIME_H
#define FMCL_RUNTIME_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdarg.h>

#include "fmcl.h"
#include "runtime/kernels.h"

/* A view into a device buffer: element offset, CLBlast style. Shapes travel
 * as separate ints, last in every call. */
typedef struct {
    cl_mem mem;
    size_t off;
} fmcl_t;

static inline fmcl_t fmcl_at(fmcl_t t, size_t elems)
{
    t.off += elems;
    return t;
}

/* Work-group size of every reduction: fixed so that the order of additions,
 * and so the result, is the same on every device. */
#define FMCL_REDUCE_WG 64

/* OpenCL implementations told apart where they need different handling
 * (vendor.c holds every such choice). */
typedef enum {
    FMCL_IMPL_OTHER = 0,
    FMCL_IMPL_POCL,
    FMCL_IMPL_RUSTICL,
    FMCL_IMPL_OCLGRIND,
    FMCL_IMPL_NVIDIA,
    FMCL_IMPL_AMD,
    FMCL_IMPL_INTEL
} fmcl_impl;

fmcl_impl fmcl_impl_of(const fmcl_device_info *info);
const char *fmcl_impl_name(fmcl_impl impl);

/* Launch shapes for one device, chosen once at setup from its queries
 * (vendor.c); they change speed, never results. */
typedef struct {
    fmcl_impl impl;
    size_t max_wg;                  /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    size_t max_items[2];            /* CL_DEVICE_MAX_WORK_ITEM_SIZES, dimensions 0 and 1 */
    size_t local[FMCL_KERNELS_MAX]; /* 1D local size of each kernel, by slot */
    int whole_writes;               /* host writes to part of a buffer go through a kernel */
    int packed_gemm;                /* GEMMs by kernels/gemm.cl rather than CLBlast */
    int conv;                       /* fmcl_conv_impl the device prefers */
} fmcl_sched;

/* How convolutions run (src/nn/conv.c, conv_gemm.c): im2col + GEMM, or an
 * implicit GEMM (kernels/convgemm.cl) in its CPU or its GPU variant. */
typedef enum { FMCL_CONV_IM2COL = 0, FMCL_CONV_PACKED, FMCL_CONV_TILED } fmcl_conv_impl;

struct fmcl_ctx {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    fmcl_device_info info;
    /* The kernels: each registered set's by slot, set_first[set] + index;
     * one program built from source, the runtime's set first. */
    const fmcl_kernel_set *sets[FMCL_KSETS]; /* by set id; NULL where none */
    int set_first[FMCL_KSETS];
    int n_kern;
    char *source;
    cl_program program;
    cl_kernel kern[FMCL_KERNELS_MAX];
    size_t kern_wg[FMCL_KERNELS_MAX];   /* CL_KERNEL_WORK_GROUP_SIZE per kernel */
    int check_launches;                 /* fmcl_launch_checks_wanted, and the driver can */
    char checked[FMCL_KERNELS_MAX][24]; /* per kernel the signature found right, or "" */
    fmcl_sched sched;
    int gemm_packed; /* GEMMs by kernels/gemm.cl, not CLBlast (gemm.c) */
    int conv_impl;   /* fmcl_conv_impl (conv_choice.c) */
    int vw;          /* float width of gemm.cl's and convgemm.cl's register blocks */
    fmcl_t gemm_tmp; /* CLBlast's temporary buffer or the packed panels */
    size_t gemm_tmp_bytes;
    fmcl_log_fn log;
    void *log_user;
    size_t notes_logged;       /* notes[0 .. notes_logged) went to log, line by line */
    cl_event pace;             /* marker of the previous fmcl_pace period */
    struct fmcl_profile *prof; /* profile.h: NULL unless a benchmark profiles */
    int tuned_from;            /* fmcl_tuned_from: the tuned CLBlast parameters setup applied */
    char notes[1024];          /* what setup chose (tuned parameters), for the user */
    char err[8192];
};

/* Sets ctx->err (printf-style) and returns s. */
fmcl_status fmcl_fail(fmcl_ctx *ctx, fmcl_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* FMCL_OK when rc == CL_SUCCESS, else an error naming what and the CL code. */
fmcl_status fmcl_cl(fmcl_ctx *ctx, cl_int rc, const char *what);
const char *fmcl_cl_strerror(cl_int rc);
/* Appends to the context's notes (printf-style; fmcl_ctx_notes) and hands
 * each line it completes to the log callback (fmcl_ctx_set_log). */
void fmcl_note(fmcl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fmcl_ctx_create with the kernels of the runtime and of sets[0 .. n_sets),
 * the other layers' (set ids distinct, in 1 .. FMCL_KSETS - 1): one program
 * from the runtime's sources followed by theirs, in that order. The public
 * fmcl_ctx_create (src/api/context.c) passes every layer's set. */
fmcl_status fmcl_runtime_ctx_create(fmcl_ctx **out, const char *spec,
                                    const fmcl_kernel_set *const *sets, int n_sets, char *err,
                                    size_t errlen);
/* The slot of kernel id kid in ctx (its index in ctx->kern, sched.local and
 * the profile's sums), or -1 when kid's set is not registered. */
int fmcl_kernel_slot(const fmcl_ctx *ctx, int kid);

/* Enumerates devices and picks the one spec selects (fmcl_device_select). */
fmcl_status fmcl_runtime_open(const char *spec, cl_platform_id *pid, cl_device_id *did,
                              fmcl_device_info *info, char *err, size_t errlen);

/* Fills ctx->sched once the kernels exist (a note says what it chose). */
fmcl_status fmcl_sched_init(fmcl_ctx *ctx);
/* Local size of a 2D launch of the kernel in slot whose fastest dimension is n0. */
void fmcl_sched_2d(const fmcl_ctx *ctx, int slot, size_t n0, size_t local[2]);

/* Device memory. Allocation happens at setup only, never inside a step. *out
 * views the whole new buffer (offset 0); fmcl_release takes such a view,
 * releases its buffer (none: nothing happens) and clears it. */
fmcl_status fmcl_alloc(fmcl_ctx *ctx, size_t bytes, fmcl_t *out, const char *what);
void fmcl_release(fmcl_t *t);
/* Blocking copies; bytes counted from t's element offset (4-byte elements). */
fmcl_status fmcl_write(fmcl_ctx *ctx, fmcl_t dst, const void *src, size_t bytes);
fmcl_status fmcl_read(fmcl_ctx *ctx, fmcl_t src, void *dst, size_t bytes);
fmcl_status fmcl_finish(fmcl_ctx *ctx);
/* Bounds the queue's depth without draining it: enqueues a marker and waits
 * for the previous call's marker. Call it every few training steps: PoCL
 * slows down superlinearly with tens of thousands of queued commands
 * (1500 steps enqueued at once ran at 94 ms/step, 38 in bounded chunks). */
fmcl_status fmcl_pace(fmcl_ctx *ctx);

/* Launch kernel kid (an FMCL_K_* of its layer's kernels.h) over n work-items
 * (1D; global size rounded up to the local size, so every kernel guards its
 * index). sig says what the variadic arguments are, one char each:
 *   't' fmcl_t  -> two kernel args: global pointer, uint element offset
 *   'i' int     -> int        'u' unsigned -> uint
 *   'f' double  -> float      'l' uint64_t -> ulong
 *   'L' size_t  -> __local buffer of that many bytes
 */
fmcl_status fmcl_run1(fmcl_ctx *ctx, int kid, size_t n, const char *sig, ...);
/* Same with an explicit local size (reductions: FMCL_REDUCE_WG); n must be a multiple. */
fmcl_status fmcl_run1_local(fmcl_ctx *ctx, int kid, size_t n, size_t local, const char *sig, ...);
/* 2D: n0 (fastest varying, get_global_id(0)) by n1. */
fmcl_status fmcl_run2(fmcl_ctx *ctx, int kid, size_t n0, size_t n1, const char *sig, ...);
/* Launch checks compare each launch's sig with the kernel's declared
 * parameters ('t' a __global pointer then a uint offset, 'L' a __local
 * pointer, the scalars by type name, and the count), once per kernel; a
 * mismatch is FMCL_ERR_ARG naming the kernel, the argument, its declared
 * type and the given kind. They run where NDEBUG is not defined and with
 * FMCL_CHECK_LAUNCHES=1; the program is then built with -cl-kernel-arg-info.
 * A driver that reports no parameter info turns them off for the context,
 * with a note (launch_check.c). */
int fmcl_launch_checks_wanted(void);
fmcl_status fmcl_launch_check(fmcl_ctx *ctx, int slot, const char *sig);

/* GEMM, row-major: C[M,N] = alpha op(A) op(B) + beta C, op(A) is M x K,
 * op(B) is K x N; ta/tb nonzero transpose. Through CLBlast, or fmcl's
 * packed kernels (gemm_packed.c); see fmcl_gemm_choose. */
fmcl_status fmcl_gemm(fmcl_ctx *ctx, int ta, int tb, int M, int N, int K, float alpha, fmcl_t A,
                      int lda, fmcl_t B, int ldb, float beta, fmcl_t C, int ldc);
/* Setup only: grows the shared temporary buffer to fit this shape, so later
 * calls of the shape allocate nothing. */
fmcl_status fmcl_gemm_reserve(fmcl_ctx *ctx, int ta, int tb, int M, int N, int K, int lda, int ldb,
                              int ldc);

/* Setup: the packed kernels where vendor.c prefers them, CLBlast elsewhere;
 * $FMCL_GEMM = "clblast" or "packed" overrides (anything else is an error). */
fmcl_status fmcl_gemm_choose(fmcl_ctx *ctx);
/* Selects the implementation (tests and benchmarks compare them); call
 * fmcl_gemm_reserve again afterwards. */
void fmcl_gemm_use(fmcl_ctx *ctx, int packed);
/* The float vector width (8 or 16) of the register blocks of the packed GEMM
 * and the implicit convolution on this device: 16 where its preferred float
 * width is 16 (AVX-512 under PoCL, twice the FMA rate of float8 there), else 8
 * (AVX2 has sixteen registers: float16 blocks would spill). Built into the
 * program as FMCL_VW. */
int fmcl_vector_width(const fmcl_ctx *ctx);
/* Setup: the convolution vendor.c prefers for the device; $FMCL_CONV =
 * "im2col", "packed" or "tiled" overrides (anything else is an error). */
fmcl_status fmcl_conv_choose(fmcl_ctx *ctx);
/* Tests and benchmarks: run convolutions this way from now on. */
void fmcl_conv_use(fmcl_ctx *ctx, fmcl_conv_impl impl);
/* What the packed kernels do to the product P = op(A) op(B) as they store it
 * (kernels/gemm.cl): PLAIN C = alpha P + beta C; BIAS C = P + v (v[N], a
 * bias); BIAS_SILU the same and H = silu(C), a hidden layer's forward;
 * SILU_GRAD C = P silu'(v) elementwise (v[M, ldc], pre-activations), an
 * input gradient through SiLU; ROWSUM C = P + C and v[i] += the sum over k
 * of op(A)[i, k] in k order (v[M]): a weight gradient dW += dzᵀ x with its
 * bias gradient. PLAIN takes any alpha and beta, ROWSUM alpha 1 and beta 1,
 * the others alpha 1 and beta 0. */
typedef enum {
    FMCL_GEMM_PLAIN,
    FMCL_GEMM_BIAS,
    FMCL_GEMM_BIAS_SILU,
    FMCL_GEMM_SILU_GRAD,
    FMCL_GEMM_ROWSUM
} fmcl_gemm_epi;
/* Nonzero when GEMMs take the packed path, which fuses epilogues. */
int fmcl_gemm_fuses(const fmcl_ctx *ctx);
/* A GEMM with a fused epilogue (H, v as above; H and v[M, ldc] share C's
 * ldc); only on the packed path: callers check fmcl_gemm_fuses. */
fmcl_status fmcl_gemm_epilogue(fmcl_ctx *ctx, int ta, int tb, int M, int N, int K, fmcl_t A,
                               int lda, fmcl_t B, int ldb, fmcl_t C, int ldc, fmcl_gemm_epi epi,
                               fmcl_t v, fmcl_t H);
/* The packed path, with scratch_n >= fmcl_gemm_packed_scratch floats at scratch. */
size_t fmcl_gemm_packed_scratch(int ta, int M, int N, int K);
fmcl_status fmcl_gemm_packed(fmcl_ctx *ctx, int ta, int tb, int M, int N, int K, float alpha,
                             fmcl_t A, int lda, fmcl_t B, int ldb, float beta, fmcl_t C, int ldc,
                             fmcl_gemm_epi epi, fmcl_t v, fmcl_t H, fmcl_t scratch,
                             size_t scratch_n);
/* The packed kernels' twin in float: the same fma chain, so the same bits
 * (v, H as for fmcl_gemm_packed; NULL for PLAIN). */
void fmcl_gemm_packed_ref(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc, fmcl_gemm_epi epi,
                          float *v, float *H);
/* Applies the tuned CLBlast parameters shipped for this device, if any
 * (disabled by FMCL_NO_TUNING=1). */
void fmcl_gemm_apply_tuning(fmcl_ctx *ctx);
/* Frees the GEMM scratch and CLBlast's cached programs (context teardown). */
void fmcl_gemm_release(fmcl_ctx *ctx);

/* Plain-C reference GEMM (double accumulation), same conventions. */
void fmcl_gemm_ref(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);

#endif
