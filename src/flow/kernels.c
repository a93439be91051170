/* flow's kernel set: the kernels of flow/kernels.def and their sources
 * (the 'flow' group of kernels/meson.build). */
#include "flow/kernels.h"

extern const char fmcl_flow_kernel_source[];

static const char *const names[] = {
#define FMCL_KERNEL(name) #name,
#include "flow/kernels.def"
#undef FMCL_KERNEL
};

const fmcl_kernel_set fmcl_flow_kernels = {FMCL_KSET_FLOW, "flow", fmcl_flow_kernel_source, names,
                                           (int)(sizeof names / sizeof *names)};
