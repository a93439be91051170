/* fmcl train --model mlp|unet: the network's flags, its config for the
 * data, its creation (or loading, for --resume) and its description in the
 * run's header line. */
#ifndef FMCL_CLI_TRAIN_MODEL_H
#define FMCL_CLI_TRAIN_MODEL_H

#include <stddef.h>

#include "args.h"
#include "fmcl.h"
#include "train_opts.h"

/* The U-Net's batch when --batch is not given: a step of 28x28 images takes
 * ~0.1 s per image on a 2-core CPU (docs/IMAGES.md). */
#define TRAIN_UNET_BATCH 64
#define TRAIN_UNET_BATCH_TEXT "64"

/* The U-Net's entries of fmcl train's flag table (o: a train_opts); their
 * ranges and choices come from TRAIN_MODEL_BINDS. */
#define TRAIN_MODEL_SPECS(o)                                                                       \
    {.name = "model",                                                                              \
     .type = ARG_CHOICE,                                                                           \
     .dest = &(o).model,                                                                           \
     .metavar = "NAME",                                                                            \
     .help = "mlp, or unet (image sets only): an ADM-style U-Net, defaults for the image shape "   \
             "(28x28: base 32, mult 1,2,2, 1 block, attention at 7x7, 4 heads, 8 groups)"},        \
        {.name = "base",                                                                           \
         .type = ARG_INT,                                                                          \
         .dest = &(o).base,                                                                        \
         .metavar = "N",                                                                           \
         .help = "--model unet: channels of the first level",                                      \
         .default_text = "32"},                                                                    \
        {.name = "mult",                                                                           \
         .type = ARG_STR,                                                                          \
         .dest = &(o).mult,                                                                        \
         .metavar = "LIST",                                                                        \
         .help = "--model unet: channel multiplier of each level, e.g. 1,2,2 (one level per "      \
                 "entry, each halving the resolution)",                                            \
         .default_text = "1,2,2"},                                                                 \
        {.name = "blocks",                                                                         \
         .type = ARG_INT,                                                                          \
         .dest = &(o).blocks,                                                                      \
         .metavar = "N",                                                                           \
         .help = "--model unet: residual blocks per level",                                        \
         .default_text = "1"},                                                                     \
        {.name = "attn-res",                                                                       \
         .type = ARG_STR,                                                                          \
         .dest = &(o).attn_res,                                                                    \
         .metavar = "LIST",                                                                        \
         .help = "--model unet: resolutions with self-attention, e.g. 7 or 14,7; none for none",   \
         .default_text = "that of the last level"},                                                \
        {.name = "heads",                                                                          \
         .type = ARG_INT,                                                                          \
         .dest = &(o).heads,                                                                       \
         .metavar = "N",                                                                           \
         .help = "--model unet: attention heads",                                                  \
         .default_text = "4"},                                                                     \
        {.name = "groups",                                                                         \
         .type = ARG_INT,                                                                          \
         .dest = &(o).groups,                                                                      \
         .metavar = "N",                                                                           \
         .help = "--model unet: GroupNorm groups",                                                 \
         .default_text = "8"},                                                                     \
    {                                                                                              \
        .name = "dropout", .type = ARG_REAL, .dest = &(o).dropout, .metavar = "P",                 \
        .help = "--model unet: dropout probability (below 1) in each residual block while "        \
                "training, its mask from --seed and the step; sampling and nll use none",          \
        .default_text = "0"                                                                        \
    }

/* Those flags' bindings to the settings table (args_bind). */
#define TRAIN_MODEL_BINDS                                                                          \
    {"model", FMCL_SCOPE_MODEL, "kind"}, {"base", FMCL_SCOPE_UNET, NULL},                          \
        {"blocks", FMCL_SCOPE_UNET, NULL}, {"heads", FMCL_SCOPE_UNET, NULL},                       \
        {"groups", FMCL_SCOPE_UNET, NULL},                                                         \
    {                                                                                              \
        "dropout", FMCL_SCOPE_UNET, NULL                                                           \
    }

/* Usage errors that need no data: U-Net flags without --model unet, MLP
 * flags or --cond with it, a malformed --mult or --attn-res, 2D data. */
int train_model_flags(arg_cmd *cmd, const train_opts *o);
/* The model of a new run on data (mc: the MLP's config, its classes set
 * by --cond; a U-Net's comes from the flags and the images' shape) or of
 * the checkpoint resume (a path, or NULL); a usage error (2) for a U-Net
 * config that does not fit the images. */
int train_model_make(arg_cmd *cmd, fmcl_ctx *ctx, const train_opts *o, const fmcl_model_config *mc,
                     const fmcl_data *data, const char *resume, fmcl_model **m);
/* "MLP 3-512x4-2 (N parameters)" or "U-Net base 32 mult 1,2,2 ... (N
 * parameters)" into buf. */
void train_model_describe(const fmcl_model *m, char *buf, size_t len);

#endif
