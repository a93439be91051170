/* nn's kernel ids, from nn/kernels.def, and its kernel set (runtime/kernels.h). */
#ifndef FMCL_NN_KERNELS_H
#define FMCL_NN_KERNELS_H

#include "runtime/kernels.h"

#define FMCL_KSET_NN 1
enum {
    FMCL_K_NN_BEFORE = FMCL_KID(FMCL_KSET_NN, 0) - 1, /* ids count from (nn, 0) */
#define FMCL_KERNEL(name) FMCL_K_##name,
#include "nn/kernels.def"
#undef FMCL_KERNEL
};
extern const fmcl_kernel_set fmcl_nn_kernels;

#endif
