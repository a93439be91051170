/* fmcl_ctx_create: a runtime context with every layer's kernels. It lives at
 * the top of the library because only the top may name every layer; the
 * runtime knows its own kernels and builds whatever sets it is given
 * (runtime/kernels.h). */
#include "data/kernels.h"
#include "flow/kernels.h"
#include "nn/kernels.h"
#include "runtime/runtime.h"

fmcl_status fmcl_ctx_create(fmcl_ctx **out, const char *spec, char *err, size_t errlen)
{
    /* The order of their sources in the program: flow's kernels may use
     * helpers of nn's and data's, never the reverse. */
    static const fmcl_kernel_set *const sets[] = {&fmcl_nn_kernels, &fmcl_data_kernels,
                                                  &fmcl_flow_kernels};
    return fmcl_runtime_ctx_create(out, spec, sets, (int)(sizeof sets / sizeof *sets), err, errlen);
}
