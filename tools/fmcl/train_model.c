/* fmcl train --model: see train_model.h. */
#include "train_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A comma-separated list of 1 to max integers in [lo, hi]; 0 when malformed. */
static int parse_list(const char *s, int *out, int max, int lo, int hi)
{
    int n = 0;
    for (const char *p = s; p;) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < lo || x > hi || n == max || (*end && *end != ',')) return 0;
        out[n++] = (int)x;
        p = *end == ',' ? end + 1 : NULL;
    }
    return n;
}

int train_model_flags(arg_cmd *cmd, const train_opts *o)
{
    static const char *const unet_flags[] = {"base",  "mult",   "blocks", "attn-res",
                                             "heads", "groups", "dropout"};
    static const char *const mlp_flags[] = {"width", "depth", "time-freqs"};
    const int unet = strcmp(o->model, "unet") == 0;
    for (int i = 0; i < 7; i++)
        if (!unet && args_find(cmd, unet_flags[i])->seen)
            return args_usage(cmd, "--%s configures the U-Net: add --model unet", unet_flags[i]);
    if (!unet) return CLI_OK;
    for (int i = 0; i < 3; i++)
        if (args_find(cmd, mlp_flags[i])->seen)
            return args_usage(cmd,
                              "--%s configures the MLP; the U-Net takes --base, --mult, "
                              "--blocks, --attn-res, --heads and --groups",
                              mlp_flags[i]);
    if (!fmcl_data_spec_is_images(o->data))
        return args_usage(cmd,
                          "--model unet is for image data sets (fashion-mnist, mnist:DIR, "
                          "idx:FILE, cifar10:PATH, images:DIR), not --data %s; use the MLP",
                          o->data);
    int v[FMCL_UNET_MAX_LEVELS];
    const fmcl_setting *mult = fmcl_setting_find(FMCL_SCOPE_UNET, "mult");
    if (o->mult && !parse_list(o->mult, v, FMCL_UNET_MAX_LEVELS, (int)mult->lo, (int)mult->hi))
        return args_usage(cmd,
                          "--mult %s: expected 1 to %d comma-separated multipliers in "
                          "[%g, %g], e.g. 1,2,2",
                          o->mult, FMCL_UNET_MAX_LEVELS, mult->lo, mult->hi);
    if (o->attn_res && strcmp(o->attn_res, "none") != 0 &&
        !parse_list(o->attn_res, v, FMCL_UNET_MAX_LEVELS, 1, 1 << 16))
        return args_usage(cmd,
                          "--attn-res %s: expected comma-separated resolutions such as "
                          "7 or 14,7, or none",
                          o->attn_res);
    return CLI_OK;
}

/* The U-Net config: the defaults for the images, then the flags. */
static int unet_config(arg_cmd *cmd, const train_opts *o, const int im[3], fmcl_model_config *mc)
{
    fmcl_unet_config *c = &mc->unet;
    c->channels = im[0], c->height = im[1], c->width = im[2];
    if (o->base > 0) c->base = o->base;
    if (o->blocks > 0) c->blocks = o->blocks;
    if (o->heads > 0) c->heads = o->heads;
    if (o->groups > 0) c->groups = o->groups;
    c->dropout = (float)o->dropout;
    if (o->mult) {
        memset(c->mult, 0, sizeof c->mult);
        c->levels = parse_list(o->mult, c->mult, FMCL_UNET_MAX_LEVELS, 1, 1 << 16); /* checked */
        c->attn_levels = 1u << (c->levels - 1); /* the default: the last level */
    }
    if (o->attn_res) {
        int res[FMCL_UNET_MAX_LEVELS], n = 0;
        if (strcmp(o->attn_res, "none") != 0)
            n = parse_list(o->attn_res, res, FMCL_UNET_MAX_LEVELS, 1, 1 << 16);
        c->attn_levels = 0;
        for (int i = 0; i < n; i++) {
            int l = 0;
            while (l < c->levels && im[1] >> l != res[i]) l++;
            if (l == c->levels)
                return args_usage(cmd,
                                  "--attn-res %d: no level of the U-Net has that "
                                  "resolution (the %d levels of %dx%d images have %d down to "
                                  "%d)",
                                  res[i], c->levels, im[1], im[2], im[1], im[1] >> (c->levels - 1));
            c->attn_levels |= 1u << l;
        }
    }
    char err[512];
    if (fmcl_model_config_check(mc, err, sizeof err) != FMCL_OK)
        return args_usage(cmd, "--model unet on %dx%dx%d images: %s", im[0], im[1], im[2], err);
    return CLI_OK;
}

int train_model_make(arg_cmd *cmd, fmcl_ctx *ctx, const train_opts *o, const fmcl_model_config *mc,
                     const fmcl_data *data, const char *resume, fmcl_model **m)
{
    fmcl_status s;
    *m = NULL;
    if (resume) {
        s = fmcl_model_load(ctx, resume, FMCL_WEIGHTS_RAW, m);
        if (s == FMCL_OK && fmcl_model_get_config(*m)->dim != mc->dim)
            return cli_error("%s holds a %d-dimensional model but its data are %d-dimensional; "
                             "did the data set change?",
                             resume, fmcl_model_get_config(*m)->dim, mc->dim);
    } else if (strcmp(o->model, "unet") == 0) {
        fmcl_model_config uc;
        int im[3];
        fmcl_model_config_default(&uc, FMCL_MODEL_UNET);
        fmcl_data_image_shape(data, im);
        uc.classes = mc->classes; /* --cond: train_cond_config set it from the labels */
        int rc = unet_config(cmd, o, im, &uc);
        if (rc != CLI_OK) return rc;
        s = fmcl_model_create(ctx, &uc, o->seed, m);
    } else {
        s = fmcl_model_create(ctx, mc, o->seed, m);
    }
    return s == FMCL_OK ? CLI_OK : cli_lib_error("", fmcl_ctx_error(ctx));
}

void train_model_describe(const fmcl_model *m, char *buf, size_t len)
{
    const fmcl_model_config *mc = fmcl_model_get_config(m);
    const size_t params = fmcl_model_param_count(m);
    if (mc->kind == FMCL_MODEL_MLP) { /* the input: [x, t] or [x, time features], then classes */
        const fmcl_mlp_config *c = &mc->mlp;
        const int in = (c->time_freqs > 0 ? mc->dim + 2 * c->time_freqs : mc->dim + 1) +
                       mc->classes;
        snprintf(buf, len, "MLP %d-%dx%d-%d (%zu parameters)", in, c->width, c->depth, mc->dim,
                 params);
        return;
    }
    const fmcl_unet_config *c = &mc->unet;
    char mult[64] = "", attn[64] = "";
    size_t a = 0, b = 0;
    for (int l = 0; l < c->levels; l++) {
        a += (size_t)snprintf(mult + a, sizeof mult - a, l ? ",%d" : "%d", c->mult[l]);
        if (c->attn_levels >> l & 1)
            b += (size_t)snprintf(attn + b, sizeof attn - b, b ? ",%d" : "%d", c->height >> l);
    }
    char drop[32] = "";
    if (c->dropout > 0.0f) snprintf(drop, sizeof drop, ", dropout %g", (double)c->dropout);
    snprintf(buf, len,
             "U-Net base %d, mult %s, %d block%s, attention at %s, %d heads, %d groups"
             "%s (%zu parameters)",
             c->base, mult, c->blocks, c->blocks > 1 ? "s" : "", b ? attn : "none", c->heads,
             c->groups, drop, params);
}
