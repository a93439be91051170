/* fmcl/core.h: versions, the export marker and status codes. */
#ifndef FMCL_CORE_H
#define FMCL_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "fmcl/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the functions the shared library exports; everything else in it is
 * hidden (the library is compiled with -fvisibility=hidden). */
#if defined(_WIN32)
#define FMCL_API
#else
#define FMCL_API __attribute__((visibility("default")))
#endif

/* FMCL_VERSION_NUMBER of the library this program runs with (the header's
 * may be older or newer), and its version string ("0.2.0"). */
FMCL_API int fmcl_version(void);
FMCL_API const char *fmcl_version_string(void);

typedef enum {
    FMCL_OK = 0,
    FMCL_ERR_ARG = 1,         /* a parameter is out of range */
    FMCL_ERR_NO_PLATFORM = 2, /* no OpenCL platform / device at all */
    FMCL_ERR_NO_DEVICE = 3,   /* a device spec matched nothing */
    FMCL_ERR_OPENCL = 4,      /* an OpenCL call failed */
    FMCL_ERR_BUILD = 5,       /* kernel compilation failed (message holds the build log) */
    FMCL_ERR_NOMEM = 6,       /* host or device allocation failed */
    FMCL_ERR_IO = 7,          /* a file could not be read or written */
    FMCL_ERR_FORMAT = 8,      /* a file is malformed */
    FMCL_ERR_NUMERIC = 9,     /* NaN or Inf appeared, or an adaptive solve failed to converge */
    FMCL_ERR_GEMM = 10,       /* CLBlast returned an error */
    FMCL_ERR_UNSUPPORTED = 11 /* the device lacks something fmcl needs (message says what) */
} fmcl_status;

FMCL_API const char *fmcl_status_name(fmcl_status s);

#ifdef __cplusplus
}
#endif
#endif
