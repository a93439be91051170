/* Loading a checkpoint's model whatever its kind: the MLP through
 * mlp_io.c, the U-Net here (config from __metadata__, weights by the
 * state_dict names of its tensor table, the EMA's under "ema."). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"

#define EMA_PREFIX "ema."

static fmcl_status load_unet(fmcl_ctx *ctx, const char *path, const fmcl_st_file *f, int which,
                             fmcl_model *m)
{
    fmcl_unet_config cfg;
    fmcl_status s = fmcl_unet_config_from_file(f, path, &cfg, ctx->err, sizeof ctx->err);
    if (s != FMCL_OK) return s;
    /* The weights must be in the file before the model is made: a few bytes
     * of metadata can describe a U-Net of 100 GB. */
    fmcl_unet_plan *plan;
    char err[512];
    s = fmcl_unet_plan_create(&cfg, 1, &plan, ctx->err, sizeof ctx->err);
    if (s != FMCL_OK) return s;
    s = fmcl_st_holds(f, fmcl_unet_plan_params(plan) * sizeof(float), err, sizeof err);
    fmcl_unet_plan_free(plan);
    if (s != FMCL_OK) return fmcl_fail(ctx, s, "%s: %s", path, err);
    fmcl_unet *u;
    /* The seed does not matter: every weight is overwritten below. */
    s = fmcl_unet_create(ctx, &cfg, 0, &u);
    if (s != FMCL_OK) return s;
    fmcl_model_of_unet(m, u);
    m->owned = 1;
    char ema0[sizeof EMA_PREFIX + sizeof ((fmcl_unet_param *)0)->name];
    snprintf(ema0, sizeof ema0, EMA_PREFIX "%s", fmcl_unet_plan_tensor(u->plan, 0)->name);
    const int has_ema = fmcl_st_find(f, ema0) != NULL;
    if (which == FMCL_WEIGHTS_EMA && !has_ema)
        return fmcl_fail(ctx, FMCL_ERR_FORMAT,
                         "%s holds no EMA weights ('%s' is missing): it was trained without "
                         "--ema; use the trained weights",
                         path, ema0);
    m->is_ema = has_ema && which != FMCL_WEIGHTS_RAW;
    float *p = malloc(m->n_params * sizeof *p);
    if (!p) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory loading %s", path);
    s = fmcl_model_st_read(m, f, path, m->is_ema ? EMA_PREFIX : "", p);
    if (s == FMCL_OK) s = fmcl_write(ctx, m->params, p, m->n_params * sizeof *p);
    free(p);
    m->meta = s == FMCL_OK ? calloc((size_t)2 * f->meta_count + 1, sizeof *m->meta) : NULL;
    if (s == FMCL_OK && !m->meta) s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory");
    for (int i = 0; s == FMCL_OK && i < 2 * f->meta_count; i++)
        if (!(m->meta[i] = strdup(f->meta[i])))
            s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory loading %s", path);
    if (s == FMCL_OK) m->meta_count = f->meta_count;
    return s;
}

fmcl_status fmcl_model_load(fmcl_ctx *ctx, const char *path, int which, fmcl_model *m)
{
    memset(m, 0, sizeof *m);
    if (which < FMCL_WEIGHTS_DEFAULT || which > FMCL_WEIGHTS_EMA)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "unknown weights selector %d", which);
    fmcl_st_file f;
    char err[1024];
    if (fmcl_st_read(path, &f, err, sizeof err) != FMCL_OK)
        return fmcl_fail(ctx, FMCL_ERR_FORMAT, "cannot load checkpoint: %s", err);
    const char *fmt = fmcl_st_meta(&f, "format");
    const int unet = fmt && strcmp(fmt, "fmcl-unet") == 0;
    fmcl_status s = unet ? load_unet(ctx, path, &f, which, m) : FMCL_OK;
    fmcl_st_free(&f);
    if (!unet) { /* the MLP's loader names what is wrong with any other file */
        fmcl_mlp *mlp;
        s = fmcl_mlp_load_weights(ctx, path, which, &mlp);
        if (s != FMCL_OK) return s;
        fmcl_model_of_mlp(m, mlp);
        m->owned = 1;
        m->is_ema = fmcl_mlp_is_ema(mlp);
    }
    if (s != FMCL_OK) fmcl_model_free(m);
    return s;
}

void fmcl_model_free(fmcl_model *m)
{
    if (m->owned) {
        fmcl_mlp_free(m->mlp);
        fmcl_unet_free(m->unet);
    }
    for (int i = 0; m->meta && i < 2 * m->meta_count; i++) free(m->meta[i]);
    free(m->meta);
    memset(m, 0, sizeof *m);
}

const char *fmcl_model_meta(const fmcl_model *m, const char *key)
{
    if (m->kind == FMCL_MODEL_MLP) return fmcl_mlp_meta(m->mlp, key);
    for (int i = 0; i < m->meta_count; i++)
        if (strcmp(m->meta[2 * i], key) == 0) return m->meta[2 * i + 1];
    return NULL;
}
