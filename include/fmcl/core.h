/* fmcl/core.h: versions, status codes, devices and contexts.
 *
 * Conventions of the whole API:
 * - Every call that can fail returns an fmcl_status. On failure the handle's
 *   message (fmcl_ctx_error for everything made from a context) says what
 *   went wrong in the library's words; calls that have no handle yet take an
 *   err buffer (err, errlen; err may be NULL). The library never prints and
 *   never exits; it speaks through fmcl_ctx_set_log's callback.
 * - Objects are created by fmcl_X_create (or _load, _open) and released by
 *   the matching fmcl_X_free, which accepts NULL. Whoever creates an object
 *   owns it; arrays the library allocates for the caller say which free
 *   function releases them.
 * - Config structs have a fmcl_X_config_default that fills every field:
 *   start from it, then change what you need. Their limits are in
 *   fmcl/settings.h.
 * - Thread safety: functions that take no handle are thread-safe. A context
 *   and every object made from it (models, trainers) may be used by one
 *   thread at a time; different contexts may be used from different threads
 *   at once. Data sources and checkpoints are read-only after creation and
 *   may be shared between threads and contexts.
 */
#ifndef FMCL_CORE_H
#define FMCL_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "fmcl/version.h"

/* Marks the functions the shared library exports; everything else in it is
 * hidden (the library is compiled with -fvisibility=hidden). */
#if defined(_WIN32)
#define FMCL_API
#else
#define FMCL_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* FMCL_VERSION_NUMBER of the library this program runs with (the header's
 * may be older or newer), and its version string ("0.2.0"). */
FMCL_API int fmcl_version(void);
FMCL_API const char *fmcl_version_string(void);

typedef enum {
    FMCL_OK = 0,
    FMCL_ERR_ARG = 1,          /* a parameter is out of range */
    FMCL_ERR_NO_PLATFORM = 2,  /* no OpenCL platform / device at all */
    FMCL_ERR_NO_DEVICE = 3,    /* a device spec matched nothing */
    FMCL_ERR_OPENCL = 4,       /* an OpenCL call failed */
    FMCL_ERR_BUILD = 5,        /* kernel compilation failed (the message holds the build log) */
    FMCL_ERR_NOMEM = 6,        /* host or device allocation failed */
    FMCL_ERR_IO = 7,           /* a file could not be read or written */
    FMCL_ERR_FORMAT = 8,       /* a file is malformed */
    FMCL_ERR_NUMERIC = 9,      /* NaN or Inf appeared, or an adaptive solve failed to converge */
    FMCL_ERR_GEMM = 10,        /* CLBlast returned an error */
    FMCL_ERR_UNSUPPORTED = 11, /* the device lacks something fmcl needs (the message says what) */
    FMCL_ERR_CANCELLED = 12,   /* a progress callback asked to stop */
    FMCL_ERR_GROUP = 13        /* a group of ranks broke: a rank stopped answering or died
                                  (fmcl/group.h; the message names it) */
} fmcl_status;

/* "ok", "invalid argument", ...: a short name of the status. */
FMCL_API const char *fmcl_status_name(fmcl_status s);

/* Long operations (sampling, likelihoods) report progress through this:
 * done out of total units of work (model evaluations). Return 0 to go on,
 * non-zero to stop: the operation then returns FMCL_ERR_CANCELLED after the
 * unit in flight, leaving its outputs unwritten. */
typedef int (*fmcl_progress_fn)(void *user, long done, long total);

/* ---- devices ------------------------------------------------------------- */

typedef enum {
    FMCL_DEVICE_GPU = 0,
    FMCL_DEVICE_CPU,
    FMCL_DEVICE_ACCELERATOR,
    FMCL_DEVICE_OTHER
} fmcl_device_type;

/* "GPU", "CPU", "ACCELERATOR", "OTHER". */
FMCL_API const char *fmcl_device_type_name(fmcl_device_type type);

typedef struct {
    int platform_index, device_index; /* "P:D" in a device spec */
    char platform_name[128];
    char platform_vendor[128];
    char device_name[128];
    char device_version[64]; /* CL_DEVICE_VERSION */
    char driver_version[64];
    char opencl_c_version[64];
    fmcl_device_type type;
    unsigned compute_units;
    uint64_t global_mem; /* bytes */
    uint64_t max_alloc;  /* bytes */
    size_t max_work_group;
    int fp16, fp64; /* 1 when the device has the extension */
} fmcl_device_info;

/* Every device of every platform, in platform then device order, in
 * *out (*count entries; release with fmcl_devices_free). FMCL_ERR_NO_PLATFORM
 * when the machine has no OpenCL implementation. */
FMCL_API fmcl_status fmcl_devices_list(fmcl_device_info **out, int *count, char *err,
                                       size_t errlen);
FMCL_API void fmcl_devices_free(fmcl_device_info *devs);

/* The index into devs of the device spec selects: "P:D", or a
 * case-insensitive part of the platform name, platform vendor or device
 * name. NULL or "" means $FMCL_DEVICE if set, else the first GPU, else the
 * first device. FMCL_ERR_NO_DEVICE when nothing matches. */
FMCL_API fmcl_status fmcl_device_select(const fmcl_device_info *devs, int count, const char *spec,
                                        int *index, char *err, size_t errlen);

/* The device of local rank r (the r-th process or thread of a group on this
 * machine, fmcl/group.h): a comma-separated spec gives one spec per local
 * rank ("0:0,1:0"), taken in turn and wrapping round; any other spec takes
 * the r-th device it matches, wrapping round. NULL or "" means $FMCL_DEVICE
 * if set, else every GPU, else every device of the first platform. Rank 0
 * with a single spec selects what fmcl_device_select does. */
FMCL_API fmcl_status fmcl_device_select_rank(const fmcl_device_info *devs, int count,
                                             const char *spec, int local_rank, int *index,
                                             char *err, size_t errlen);

/* ---- contexts: one device, one in-order queue, fmcl's compiled kernels ---- */

typedef struct fmcl_ctx fmcl_ctx;

/* Creates a context on the device spec selects (fmcl_device_select): builds
 * (or loads from the program cache) every kernel and applies tuned GEMM
 * parameters. On failure *out is NULL and err holds the reason. */
FMCL_API fmcl_status fmcl_ctx_create(fmcl_ctx **out, const char *spec, char *err, size_t errlen);
FMCL_API void fmcl_ctx_free(fmcl_ctx *ctx);

/* The message of the last failed call on this context or an object made
 * from it; "" when none failed. Valid until the next call that fails. */
FMCL_API const char *fmcl_ctx_error(const fmcl_ctx *ctx);
FMCL_API const fmcl_device_info *fmcl_ctx_device(const fmcl_ctx *ctx);

/* What the library chose or noticed that a user may want to know, one line
 * each ("fmcl program: built from source ...", tuned CLBlast parameters
 * applied or rejected): all lines so far. */
FMCL_API const char *fmcl_ctx_notes(const fmcl_ctx *ctx);

/* Receives every note as it is made (fmcl_ctx_notes's lines, without their
 * newline). Setting the callback first replays the notes made so far, so a
 * callback set right after fmcl_ctx_create sees the setup's notes too. NULL
 * stops it. */
typedef void (*fmcl_log_fn)(void *user, const char *line);
FMCL_API void fmcl_ctx_set_log(fmcl_ctx *ctx, fmcl_log_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif
