/* data's kernel set: the kernels of data/kernels.def and their sources
 * (the 'data' group of kernels/meson.build). */
#include "data/kernels.h"

extern const char fmcl_data_kernel_source[];

static const char *const names[] = {
#define FMCL_KERNEL(name) #name,
#include "data/kernels.def"
#undef FMCL_KERNEL
};

const fmcl_kernel_set fmcl_data_kernels = {FMCL_KSET_DATA, "data", fmcl_data_kernel_source, names,
                                           (int)(sizeof names / sizeof *names)};
