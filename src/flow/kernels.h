/* flow's kernel ids, from flow/kernels.def, and its kernel set (runtime/kernels.h). */
#ifndef FMCL_FLOW_KERNELS_H
#define FMCL_FLOW_KERNELS_H

#include "runtime/kernels.h"

#define FMCL_KSET_FLOW 3
enum {
    FMCL_K_FLOW_BEFORE = FMCL_KID(FMCL_KSET_FLOW, 0) - 1, /* ids count from (flow, 0) */
#define FMCL_KERNEL(name) FMCL_K_##name,
#include "flow/kernels.def"
#undef FMCL_KERNEL
};
extern const fmcl_kernel_set fmcl_flow_kernels;

#endif
