/* Which convolution runs (runtime.h's fmcl_conv_impl): vendor.c's choice for
 * the device, or $FMCL_CONV. */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static const char *const names[] = {"im2col", "packed", "tiled"};

fmcl_status fmcl_conv_choose(fmcl_ctx *ctx)
{
    const char *env = getenv("FMCL_CONV");
    ctx->conv_impl = ctx->sched.conv;
    if (env && *env) {
        int i = 0;
        while (i < 3 && strcmp(env, names[i]) != 0) i++;
        if (i == 3)
            return fmcl_fail(ctx, FMCL_ERR_ARG,
                             "FMCL_CONV=%s: expected \"im2col\", \"packed\" or \"tiled\" (or "
                             "unset: packed on PoCL's CPU devices, tiled on GPUs, im2col "
                             "elsewhere)",
                             env);
        ctx->conv_impl = i;
    }
    fmcl_note(ctx, "convolutions: %s\n",
              ctx->conv_impl == FMCL_CONV_IM2COL   ? "im2col + GEMM"
              : ctx->conv_impl == FMCL_CONV_PACKED ? "implicit GEMM, packed panels"
                                                   : "implicit GEMM, local-memory tiles");
    return FMCL_OK;
}

void fmcl_conv_use(fmcl_ctx *ctx, fmcl_conv_impl impl) { ctx->conv_impl = (int)impl; }
