/* A model's checkpoint (include/fmcl/model.h): loading whatever network a
 * file holds, by its metadata "format" (the MLP's spec through mlp_io.c,
 * the U-Net's through model.c), with its trained weights or their EMA
 * ("ema." + the state_dict names), the file checked to hold the weights
 * before the model is made and every weight checked finite before the
 * device sees it; and saving the weights, the config and the metadata. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"
#include "nn/model.h"
#include "nn/unet_plan.h"

#define EMA_PREFIX "ema."

/* The config the metadata records; its problem in err otherwise. */
static fmcl_status config_of_file(const fmcl_st_file *f, const char *path, fmcl_model_config *cfg,
                                  char *err, size_t errlen)
{
    const char *fmt = fmcl_st_meta(f, "format");
    const int unet = fmt && strcmp(fmt, "fmcl-unet") == 0;
    fmcl_model_config_default(cfg, unet ? FMCL_MODEL_UNET : FMCL_MODEL_MLP); /* the other kind's */
    fmcl_status s;
    if (unet) {
        fmcl_unet_spec u;
        s = fmcl_unet_spec_from_file(f, path, &u, err, errlen);
        if (s == FMCL_OK) fmcl_model_config_of_unet(cfg, &u);
    } else { /* the MLP's reader names what is wrong with any other file */
        fmcl_mlp_spec m;
        s = fmcl_mlp_spec_from_file(f, path, &m, err, errlen);
        if (s == FMCL_OK) fmcl_model_config_of_mlp(cfg, &m);
    }
    return s;
}

/* The weights must be in the file before the model is made: a few bytes of
 * metadata can describe a model of 100 GB. */
static fmcl_status holds_weights(const fmcl_st_file *f, const char *path,
                                 const fmcl_model_config *cfg, char *err, size_t errlen)
{
    size_t n = 0;
    char why[512];
    fmcl_status s = fmcl_model_config_check(cfg, err, errlen);
    if (s == FMCL_OK && cfg->kind == FMCL_MODEL_UNET) {
        fmcl_unet_spec u;
        fmcl_unet_plan *plan;
        fmcl_unet_spec_of(cfg, &u);
        s = fmcl_unet_plan_create(&u, 1, &plan, err, errlen);
        if (s == FMCL_OK) n = fmcl_unet_plan_params(plan);
        fmcl_unet_plan_free(plan);
    } else if (s == FMCL_OK) {
        fmcl_mlp_spec m;
        fmcl_mlp_spec_of(cfg, &m);
        n = fmcl_mlp_params_of(&m);
    }
    if (s == FMCL_OK && fmcl_st_holds(f, n, why, sizeof why) != FMCL_OK)
        s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "%s: %s", path, why);
    return s;
}

/* The prefix of the weights `which` selects in f; NULL (and a message) when
 * the EMA is asked for and absent. */
static const char *weights_prefix(fmcl_model *m, const fmcl_st_file *f, const char *path,
                                  fmcl_weights which)
{
    fmcl_tensor_info first;
    size_t off;
    char ema0[FMCL_NET_NAME_LEN];
    fmcl_net_tensor(&m->net, 0, &first, &off);
    snprintf(ema0, sizeof ema0, EMA_PREFIX "%s", first.name);
    const int has_ema = fmcl_st_find(f, ema0) != NULL;
    if (which == FMCL_WEIGHTS_RAW || (which == FMCL_WEIGHTS_DEFAULT && !has_ema)) return "";
    if (has_ema) return EMA_PREFIX;
    fmcl_fail(m->ctx, FMCL_ERR_FORMAT,
              "%s holds no EMA weights ('%s' is missing): it was trained without one; load "
              "the trained weights instead",
              path, ema0);
    return NULL;
}

/* Every weight finite, or FMCL_ERR_NUMERIC naming the first tensor that is not. */
static fmcl_status check_finite(fmcl_model *m, const float *p, const char *prefix, const char *path)
{
    for (int i = 0; i < fmcl_net_tensor_count(&m->net); i++) {
        fmcl_tensor_info info;
        size_t off;
        fmcl_net_tensor(&m->net, i, &info, &off);
        for (size_t j = 0; j < info.numel; j++)
            if (!isfinite(p[off + j]))
                return fmcl_fail(m->ctx, FMCL_ERR_NUMERIC,
                                 "%s: tensor '%s%s' holds %g at element %zu; a model with "
                                 "non-finite weights computes nothing (did its training "
                                 "diverge?)",
                                 path, prefix, info.name, (double)p[off + j], j);
    }
    return FMCL_OK;
}

fmcl_status fmcl_model_load(fmcl_ctx *ctx, const char *path, fmcl_weights which, fmcl_model **out)
{
    *out = NULL;
    if (which < FMCL_WEIGHTS_DEFAULT || which > FMCL_WEIGHTS_EMA)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "unknown weights selector %d", (int)which);
    fmcl_st_file f;
    char err[1024];
    if (fmcl_st_read(path, &f, err, sizeof err) != FMCL_OK)
        return fmcl_fail(ctx, FMCL_ERR_FORMAT, "cannot load checkpoint: %s", err);
    fmcl_model_config cfg;
    fmcl_model *m = NULL;
    fmcl_status s = config_of_file(&f, path, &cfg, ctx->err, sizeof ctx->err);
    if (s == FMCL_OK) s = holds_weights(&f, path, &cfg, ctx->err, sizeof ctx->err);
    /* The seed does not matter: every weight is overwritten below. */
    if (s == FMCL_OK) s = fmcl_model_create(ctx, &cfg, 0, &m);
    const char *prefix = s == FMCL_OK ? weights_prefix(m, &f, path, which) : NULL;
    if (s == FMCL_OK && !prefix) s = FMCL_ERR_FORMAT;
    float *p = s == FMCL_OK ? malloc(m->net.n_params * sizeof *p) : NULL;
    if (s == FMCL_OK && !p)
        s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory loading %s", path);
    if (s == FMCL_OK) s = fmcl_net_st_read(&m->net, &f, path, prefix, p);
    if (s == FMCL_OK) s = check_finite(m, p, prefix, path);
    if (s == FMCL_OK) s = fmcl_write(ctx, m->net.params, p, m->net.n_params * sizeof *p);
    for (int i = 0; s == FMCL_OK && i < f.meta_count; i++)
        if (fmcl_meta_set(&m->meta, f.meta[2 * i], f.meta[2 * i + 1]) != FMCL_OK)
            s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory loading %s", path);
    if (s == FMCL_OK) m->is_ema = *prefix != 0;
    free(p);
    fmcl_st_free(&f);
    if (s != FMCL_OK) {
        fmcl_model_free(m);
        return s;
    }
    *out = m;
    return FMCL_OK;
}

fmcl_status fmcl_model_save(fmcl_model *m, const char *path)
{
    const fmcl_net *net = &m->net;
    const int nt = fmcl_net_tensor_count(net);
    float *p = malloc(net->n_params * sizeof *p);
    fmcl_st_tensor *t = calloc((size_t)nt, sizeof *t);
    char(*names)[FMCL_NET_NAME_LEN] = calloc((size_t)nt, FMCL_NET_NAME_LEN);
    const char **kv = calloc(2 * ((size_t)m->meta.count + FMCL_NET_META_PAIRS), sizeof *kv);
    fmcl_status s = FMCL_OK;
    if (!p || !t || !names || !kv)
        s = fmcl_fail(m->ctx, FMCL_ERR_NOMEM, "out of host memory saving %s", path);
    if (s == FMCL_OK) s = fmcl_read(m->ctx, net->params, p, net->n_params * sizeof *p);
    if (s == FMCL_OK) {
        char buf[FMCL_NET_META_PAIRS][FMCL_NET_META_TEXT], err[512];
        fmcl_net_st_tensors(net, "", p, t, names);
        const int pairs = fmcl_model_meta_append(m, kv, fmcl_net_meta_kv(net, buf, kv));
        if (fmcl_st_write(path, t, nt, kv, pairs, err, sizeof err) != FMCL_OK)
            s = fmcl_fail(m->ctx, FMCL_ERR_IO, "%s", err);
    }
    free(p);
    free(t);
    free(names);
    free(kv);
    return s;
}
