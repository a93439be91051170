/* nn's kernel set: the kernels of nn/kernels.def and their sources
 * (the 'nn' group of kernels/meson.build). */
#include "nn/kernels.h"

extern const char fmcl_nn_kernel_source[];

static const char *const names[] = {
#define FMCL_KERNEL(name) #name,
#include "nn/kernels.def"
#undef FMCL_KERNEL
};

const fmcl_kernel_set fmcl_nn_kernels = {FMCL_KSET_NN, "nn", fmcl_nn_kernel_source, names,
                                         (int)(sizeof names / sizeof *names)};
