/* The context: one device, one in-order queue, and the layers' kernels
 * (runtime/kernels.h) built once as one program from the sources embedded at
 * build time (or loaded from the binary cache). Errors are kept on the
 * handle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cache.h"
#include "runtime/profile.h"
#include "runtime/runtime.h"

int fmcl_version(void) { return FMCL_VERSION_NUMBER; }
const char *fmcl_version_string(void) { return FMCL_VERSION; }

const char *fmcl_status_name(fmcl_status s)
{
    switch (s) {
    case FMCL_OK: return "ok";
    case FMCL_ERR_ARG: return "invalid argument";
    case FMCL_ERR_NO_PLATFORM: return "no OpenCL platform";
    case FMCL_ERR_NO_DEVICE: return "no such device";
    case FMCL_ERR_OPENCL: return "OpenCL error";
    case FMCL_ERR_BUILD: return "kernel build failed";
    case FMCL_ERR_NOMEM: return "out of memory";
    case FMCL_ERR_IO: return "I/O error";
    case FMCL_ERR_FORMAT: return "malformed file";
    case FMCL_ERR_NUMERIC: return "non-finite value";
    case FMCL_ERR_GEMM: return "CLBlast error";
    case FMCL_ERR_UNSUPPORTED: return "not supported by the device";
    case FMCL_ERR_CANCELLED: return "cancelled";
    case FMCL_ERR_GROUP: return "group of ranks failed";
    }
    return "unknown status";
}

fmcl_status fmcl_fail(fmcl_ctx *ctx, fmcl_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    return s;
}

const char *fmcl_cl_strerror(cl_int rc)
{
    switch (rc) {
    case CL_SUCCESS: return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_PLATFORM: return "CL_INVALID_PLATFORM";
    case CL_INVALID_DEVICE: return "CL_INVALID_DEVICE";
    case CL_INVALID_CONTEXT: return "CL_INVALID_CONTEXT";
    case CL_INVALID_COMMAND_QUEUE: return "CL_INVALID_COMMAND_QUEUE";
    case CL_INVALID_MEM_OBJECT: return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_PROGRAM: return "CL_INVALID_PROGRAM";
    case CL_INVALID_PROGRAM_EXECUTABLE: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_KERNEL: return "CL_INVALID_KERNEL";
    case CL_INVALID_ARG_INDEX: return "CL_INVALID_ARG_INDEX";
    case CL_INVALID_ARG_VALUE: return "CL_INVALID_ARG_VALUE";
    case CL_INVALID_ARG_SIZE: return "CL_INVALID_ARG_SIZE";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_WORK_DIMENSION: return "CL_INVALID_WORK_DIMENSION";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_WORK_ITEM_SIZE: return "CL_INVALID_WORK_ITEM_SIZE";
    case CL_INVALID_GLOBAL_OFFSET: return "CL_INVALID_GLOBAL_OFFSET";
    case CL_INVALID_EVENT_WAIT_LIST: return "CL_INVALID_EVENT_WAIT_LIST";
    case CL_INVALID_OPERATION: return "CL_INVALID_OPERATION";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_GLOBAL_WORK_SIZE: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    return "unknown OpenCL error";
}

fmcl_status fmcl_cl(fmcl_ctx *ctx, cl_int rc, const char *what)
{
    if (rc == CL_SUCCESS) return FMCL_OK;
    if (rc == CL_MEM_OBJECT_ALLOCATION_FAILURE || rc == CL_OUT_OF_RESOURCES ||
        rc == CL_OUT_OF_HOST_MEMORY)
        return fmcl_fail(ctx, FMCL_ERR_NOMEM,
                         "%s: the device ran out of memory (%s, %d); a smaller batch or model "
                         "needs less",
                         what, fmcl_cl_strerror(rc), rc);
    return fmcl_fail(ctx, FMCL_ERR_OPENCL, "%s failed: %s (%d) on %s", what, fmcl_cl_strerror(rc),
                     rc, ctx->info.device_name);
}

/* Hands the log callback every line of the notes completed since the last
 * call (a note may be built in pieces; its line ends with '\n'). */
static void log_lines(fmcl_ctx *ctx)
{
    char line[sizeof ctx->notes];
    for (char *nl; ctx->log && (nl = strchr(ctx->notes + ctx->notes_logged, '\n'));) {
        const size_t len = (size_t)(nl - (ctx->notes + ctx->notes_logged));
        memcpy(line, ctx->notes + ctx->notes_logged, len);
        line[len] = 0;
        ctx->notes_logged += len + 1;
        ctx->log(ctx->log_user, line);
    }
}

void fmcl_note(fmcl_ctx *ctx, const char *fmt, ...)
{
    size_t used = strlen(ctx->notes);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->notes + used, sizeof ctx->notes - used, fmt, ap);
    va_end(ap);
    log_lines(ctx);
}

static fmcl_status build_from_source(fmcl_ctx *ctx, const char *opts)
{
    cl_int rc;
    const char *src = ctx->source;
    ctx->program = clCreateProgramWithSource(ctx->context, 1, &src, NULL, &rc);
    if (rc != CL_SUCCESS) return fmcl_cl(ctx, rc, "clCreateProgramWithSource");
    rc = clBuildProgram(ctx->program, 1, &ctx->device, opts, NULL, NULL);
    if (rc != CL_SUCCESS) {
        char log[6000] = "";
        clGetProgramBuildInfo(ctx->program, ctx->device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log,
                              NULL);
        log[sizeof log - 1] = 0;
        return fmcl_fail(ctx, FMCL_ERR_BUILD,
                         "building fmcl's kernels for %s failed (%s); driver build log:\n%s",
                         ctx->info.device_name, fmcl_cl_strerror(rc), log);
    }
    return FMCL_OK;
}

static fmcl_status create_kernels(fmcl_ctx *ctx)
{
    cl_int rc;
    for (int set = 0; set < FMCL_KSETS; set++) {
        const fmcl_kernel_set *ks = ctx->sets[set];
        for (int i = 0; ks && i < ks->count; i++) {
            const int k = ctx->set_first[set] + i;
            ctx->kern[k] = clCreateKernel(ctx->program, ks->names[i], &rc);
            if (rc != CL_SUCCESS) {
                char what[128];
                snprintf(what, sizeof what, "creating %s's kernel '%s'", ks->layer, ks->names[i]);
                return fmcl_cl(ctx, rc, what);
            }
            rc = clGetKernelWorkGroupInfo(ctx->kern[k], ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                          sizeof ctx->kern_wg[k], &ctx->kern_wg[k], NULL);
            if (rc != CL_SUCCESS) return fmcl_cl(ctx, rc, "clGetKernelWorkGroupInfo");
        }
    }
    return FMCL_OK;
}

static void release_program(fmcl_ctx *ctx)
{
    for (int k = 0; k < ctx->n_kern; k++) {
        if (ctx->kern[k]) clReleaseKernel(ctx->kern[k]);
        ctx->kern[k] = NULL;
    }
    if (ctx->program) clReleaseProgram(ctx->program);
    ctx->program = NULL;
}

/* The program comes from the binary cache (cache.h) where that is on and the
 * entry is sound; any cache problem means a source build, never an error. */
static fmcl_status build_program(fmcl_ctx *ctx)
{
    fmcl_program_id id;
    fmcl_program_id_of(ctx, &id);
    uint8_t key[FMCL_CACHE_KEY_BYTES];
    char path[1024], why[256] = "", err[512];
    const char *off = NULL;
    int use = fmcl_cache_wanted(&ctx->info, &off);
    if (use) {
        fmcl_cache_key(&id, key);
        use = fmcl_cache_path(key, path, sizeof path);
        if (!use) off = "no cache folder: set $XDG_CACHE_HOME or $HOME";
    }
    if (use) {
        ctx->program = fmcl_cache_load_program(ctx, path, key, id.options, why, sizeof why);
        if (ctx->program) {
            if (create_kernels(ctx) == FMCL_OK) {
                fmcl_note(ctx, "fmcl program: loaded from the binary cache (%s)\n", path);
                return FMCL_OK;
            }
            snprintf(why, sizeof why, "cached program unusable: %.200s", ctx->err);
            release_program(ctx);
            ctx->err[0] = 0;
        }
    }
    fmcl_status s = build_from_source(ctx, id.options);
    if (s == FMCL_OK) s = create_kernels(ctx);
    if (s != FMCL_OK) return s;
    if (!use)
        fmcl_note(ctx, "fmcl program: built from source (binary cache off: %s)\n", off);
    else if (fmcl_cache_store_program(ctx->program, path, key, err, sizeof err) == FMCL_OK)
        fmcl_note(ctx, "fmcl program: built from source (%s); cache entry written to %s\n", why,
                  path);
    else
        fmcl_note(ctx, "fmcl program: built from source (%s); cache entry not written: %s\n", why,
                  err);
    return FMCL_OK;
}

/* Places the runtime's set and sets[] by their ids, gives each kernel a
 * slot and joins the sources, the runtime's first. A bad registration is the
 * library's own mistake, named for its maintainers. */
static fmcl_status register_sets(fmcl_ctx *ctx, const fmcl_kernel_set *const *sets, int n_sets,
                                 char *err, size_t errlen)
{
    size_t bytes = 1;
    for (int j = -1; j < n_sets; j++) {
        const fmcl_kernel_set *ks = j < 0 ? &fmcl_runtime_kernels : sets[j];
        const char *why = ks->id < 0 || ks->id >= FMCL_KSETS ? "its set id is out of range"
                          : ctx->sets[ks->id]                ? "its set id is taken"
                          : ks->count > 1 << FMCL_KSET_BITS ||
                                  ctx->n_kern + ks->count > FMCL_KERNELS_MAX
                              ? "it has too many kernels"
                              : NULL;
        if (why) {
            snprintf(err, errlen, "fmcl cannot register %s's kernels (set %d): %s", ks->layer,
                     ks->id, why);
            return FMCL_ERR_ARG;
        }
        ctx->sets[ks->id] = ks;
        ctx->set_first[ks->id] = ctx->n_kern;
        ctx->n_kern += ks->count;
        bytes += strlen(ks->source) + 1;
    }
    ctx->source = malloc(bytes);
    if (!ctx->source) {
        snprintf(err, errlen, "out of host memory");
        return FMCL_ERR_NOMEM;
    }
    char *end = ctx->source;
    for (int j = -1; j < n_sets; j++) {
        const char *src = j < 0 ? fmcl_runtime_kernels.source : sets[j]->source;
        size_t n = strlen(src);
        memcpy(end, src, n);
        end[n] = '\n';
        end += n + 1;
    }
    *end = 0;
    return FMCL_OK;
}

fmcl_status fmcl_runtime_ctx_create(fmcl_ctx **out, const char *spec,
                                    const fmcl_kernel_set *const *sets, int n_sets, char *err,
                                    size_t errlen)
{
    *out = NULL;
    fmcl_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(err, errlen, "out of host memory");
        return FMCL_ERR_NOMEM;
    }
    ctx->check_launches = fmcl_launch_checks_wanted();
    fmcl_status s = register_sets(ctx, sets, n_sets, err, errlen);
    if (s == FMCL_OK)
        s = fmcl_runtime_open(spec, &ctx->platform, &ctx->device, &ctx->info, err, errlen);
    if (s != FMCL_OK) {
        free(ctx->source);
        free(ctx);
        return s;
    }
    cl_int rc;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
    ctx->context = clCreateContext(props, 1, &ctx->device, NULL, NULL, &rc);
    s = fmcl_cl(ctx, rc, "clCreateContext");
    if (s == FMCL_OK) {
        ctx->queue = clCreateCommandQueue(ctx->context, ctx->device, 0, &rc);
        s = fmcl_cl(ctx, rc, "clCreateCommandQueue");
    }
    ctx->vw = fmcl_vector_width(ctx);
    if (s == FMCL_OK) s = build_program(ctx);
    if (s == FMCL_OK) s = fmcl_sched_init(ctx);
    if (s == FMCL_OK) s = fmcl_gemm_choose(ctx);
    if (s == FMCL_OK) s = fmcl_conv_choose(ctx);
    if (s == FMCL_OK) fmcl_gemm_apply_tuning(ctx);
    if (s != FMCL_OK) {
        snprintf(err, errlen, "%s", ctx->err);
        fmcl_ctx_free(ctx);
        return s;
    }
    *out = ctx;
    return FMCL_OK;
}

void fmcl_ctx_free(fmcl_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    if (ctx->pace) clReleaseEvent(ctx->pace);
    fmcl_profile_free(ctx);
    fmcl_gemm_release(ctx);
    release_program(ctx);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->context) clReleaseContext(ctx->context);
    free(ctx->source);
    free(ctx);
}

const char *fmcl_ctx_error(const fmcl_ctx *ctx) { return ctx ? ctx->err : "no context"; }
const fmcl_device_info *fmcl_ctx_device(const fmcl_ctx *ctx) { return &ctx->info; }
const char *fmcl_ctx_notes(const fmcl_ctx *ctx) { return ctx->notes; }

void fmcl_ctx_set_log(fmcl_ctx *ctx, fmcl_log_fn fn, void *user)
{
    ctx->log = fn;
    ctx->log_user = user;
    ctx->notes_logged = 0; /* replay the notes made so far */
    log_lines(ctx);
}
