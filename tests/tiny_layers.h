/* tiny_workload's piece for the image layers (tiny_layers.c). */
#ifndef FMCL_TINY_LAYERS_H
#define FMCL_TINY_LAYERS_H

#include "runtime/runtime.h"

void tiny_layers(fmcl_ctx *ctx);

#endif
