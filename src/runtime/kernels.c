/* runtime's kernel set: the kernels of runtime/kernels.def and their sources
 * (the 'runtime' group of kernels/meson.build). */
#include "runtime/kernels.h"

extern const char fmcl_runtime_kernel_source[];

static const char *const names[] = {
#define FMCL_KERNEL(name) #name,
#include "runtime/kernels.def"
#undef FMCL_KERNEL
};

const fmcl_kernel_set fmcl_runtime_kernels = {FMCL_KSET_RUNTIME, "runtime",
                                              fmcl_runtime_kernel_source, names,
                                              (int)(sizeof names / sizeof *names)};
