/* data's kernel ids, from data/kernels.def, and its kernel set (runtime/kernels.h). */
#ifndef FMCL_DATA_KERNELS_H
#define FMCL_DATA_KERNELS_H

#include "runtime/kernels.h"

#define FMCL_KSET_DATA 2
enum {
    FMCL_K_DATA_BEFORE = FMCL_KID(FMCL_KSET_DATA, 0) - 1, /* ids count from (data, 0) */
#define FMCL_KERNEL(name) FMCL_K_##name,
#include "data/kernels.def"
#undef FMCL_KERNEL
};
extern const fmcl_kernel_set fmcl_data_kernels;

#endif
