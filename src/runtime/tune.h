/* Tuned CLBlast parameters: the per-device file `fmcl tune` writes under the
 * user's cache folder and the sections shipped in data/clblast_tuned.txt.
 *
 *   fmcl-clblast-params 1
 *   platform Portable Computing Language
 *   device pthread-haswell-AMD EPYC
 *   driver 3.1+debian
 *   clblast 1.5.3
 *   kernel Xgemm GEMMK=0 MWG=32 ...        (every parameter of the kernel)
 *   kernel GemmRoutine XGEMM_MIN_INDIRECT_SIZE=128
 *   end
 *
 * '#' lines and blank lines are comments. A file may hold several sections;
 * one without its "end" line is truncated and rejected. A section applies
 * only where platform, device, driver and CLBlast version all match. */
#ifndef FMCL_RUNTIME_TUNE_H
#define FMCL_RUNTIME_TUNE_H

#include <stddef.h>

#include "runtime/runtime.h"

#define FMCL_TUNE_MAX_KERNELS 8
#define FMCL_TUNE_MAX_PARAMS 16
#define FMCL_TUNE_MAX_VALUE 1000000 /* far above any sensible tile or size */

typedef struct {
    char name[32]; /* CLBlast's kernel name: Xgemm, XgemmDirect, Copy, ... */
    int n;
    char param[FMCL_TUNE_MAX_PARAMS][32];
    size_t value[FMCL_TUNE_MAX_PARAMS];
} fmcl_tune_kernel;

typedef struct {
    char platform[128], device[128], driver[64], clblast[32];
    int n_kernels;
    fmcl_tune_kernel kernel[FMCL_TUNE_MAX_KERNELS];
} fmcl_tune_set;

/* The identity fields of the device's sections (no kernels). */
void fmcl_tune_identity(const fmcl_device_info *info, fmcl_tune_set *id);

/* Parses text (len bytes, need not end in NUL) into at most cap sections.
 * FMCL_ERR_FORMAT with the line number and the defect in err for anything
 * malformed: the whole text is then rejected. */
fmcl_status fmcl_tune_parse(const char *text, size_t len, fmcl_tune_set *sets, int cap, int *n,
                            char *err, size_t errlen);

/* 1 when s was made for id's device, driver and CLBlast; else 0 and why
 * names the first field that differs. */
int fmcl_tune_matches(const fmcl_tune_set *s, const fmcl_tune_set *id, char *why, size_t whylen);

/* Writes s (after the '#' comment lines in comment, may be NULL) to buf;
 * returns the length it needs, as snprintf. */
size_t fmcl_tune_format(const fmcl_tune_set *s, const char *comment, char *buf, size_t cap);

/* Adds or replaces kernel k in s; 0 when s is full. */
int fmcl_tune_put(fmcl_tune_set *s, const fmcl_tune_kernel *k);

/* $XDG_CACHE_HOME/fmcl/clblast/<hash of platform and device>.txt (else under
 * $HOME/.cache); 0 when there is no cache folder or it does not fit. */
int fmcl_tune_path(const fmcl_device_info *info, char *path, size_t cap);

/* Writes s atomically to path (folders created): an interrupted write leaves
 * the previous file as it was. */
fmcl_status fmcl_tune_save(const char *path, const fmcl_tune_set *s, const char *comment, char *err,
                           size_t errlen);

/* The device's local memory in bytes and its largest work-group, the limits
 * a candidate parameter set must respect. */
void fmcl_tune_limits(const fmcl_ctx *ctx, size_t *local_mem, size_t *max_wg);

/* NULL when CLBlast can compile and run kernel k on a device with these
 * limits, else why not: every parameter present, the constraints of
 * CLBlast's own tuners (src/tuning/kernels/ in its sources), the device's
 * work-group size and local memory, and bounds on tile sizes and work per
 * work-item (tune.c). fmcl tune skips such candidates; a loaded file with
 * one is ignored. The text is a constant or written to buf[cap]. */
const char *fmcl_tune_invalid(const fmcl_tune_kernel *k, size_t max_wg, size_t local_mem, char *buf,
                              size_t cap);

/* The curated candidates fmcl_tune_gemm tries for one kernel (tune_space.c). */
typedef struct {
    const char *kernel; /* CLBlast's name */
    const char *fixed;  /* parameters every candidate shares */
    const char *const *list;
    int n;
} fmcl_tune_space;

/* Searched in this order: the indirect kernel, its helpers, the direct one. */
#define FMCL_TUNE_SPACES 6
extern const fmcl_tune_space fmcl_tune_spaces[FMCL_TUNE_SPACES];

/* Candidate i of sp as a kernel line; 0 if it does not parse. */
int fmcl_tune_kernel_of(const fmcl_tune_space *sp, int i, fmcl_tune_kernel *k);

/* Defined in gemm.c, the one file that includes CLBlast: the version fmcl
 * was built with ("1.5.3"), and CLBlastOverrideParameters for one kernel
 * (FMCL_ERR_GEMM naming CLBlast's status when it refuses). */
const char *fmcl_clblast_version(void);
fmcl_status fmcl_gemm_override(fmcl_ctx *ctx, const fmcl_tune_kernel *k);

#endif
