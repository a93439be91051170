/* MLP checkpoints in safetensors: tensors named as the state_dict of the
 * equivalent nn.Sequential (Linear layers at even indices), the config in
 * __metadata__ so a checkpoint is self-describing. A training checkpoint
 * (flow/checkpoint.c) adds the EMA under "ema." + name, which
 * fmcl_mlp_load_weights can take instead of the trained weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/settings.h"
#include "nn/mlp.h"

#define EMA_PREFIX "ema."

void fmcl_mlp_st_tensors(const fmcl_mlp *m, const char *prefix, const float *flat,
                         fmcl_st_tensor *t, char (*names)[FMCL_MLP_NAME_LEN])
{
    for (int l = 0; l < m->n_layers; l++) {
        char *wn = names[2 * l], *bn = names[2 * l + 1];
        snprintf(wn, FMCL_MLP_NAME_LEN, "%s%d.weight", prefix, 2 * l);
        snprintf(bn, FMCL_MLP_NAME_LEN, "%s%d.bias", prefix, 2 * l);
        t[2 * l] = (fmcl_st_tensor){.name = wn, .dtype = FMCL_ST_F32, .ndim = 2,
                                    .shape = {m->out[l], m->in[l]}, .data = flat + m->w_off[l],
                                    .nbytes = (size_t)m->out[l] * m->in[l] * sizeof(float)};
        t[2 * l + 1] = (fmcl_st_tensor){.name = bn, .dtype = FMCL_ST_F32, .ndim = 1,
                                        .shape = {m->out[l]}, .data = flat + m->b_off[l],
                                        .nbytes = (size_t)m->out[l] * sizeof(float)};
    }
}

int fmcl_mlp_meta_kv(const fmcl_mlp *m, char (*buf)[16], const char **kv)
{
    snprintf(buf[0], 16, "%d", m->cfg.dim);
    snprintf(buf[1], 16, "%d", m->cfg.width);
    snprintf(buf[2], 16, "%d", m->cfg.depth);
    snprintf(buf[3], 16, "%d", m->cfg.time_freqs);
    snprintf(buf[4], 16, "%d", m->cfg.classes);
    const char *own[2 * FMCL_MLP_META_PAIRS] = {"format", "fmcl-mlp", "dim", buf[0], "width",
                                                buf[1], "depth", buf[2], "time_freqs", buf[3],
                                                "classes", buf[4]};
    const int pairs = m->cfg.classes > 0 ? FMCL_MLP_META_PAIRS : FMCL_MLP_META_PAIRS - 1;
    memcpy(kv, own, sizeof(*own) * 2 * pairs);
    return pairs;
}

fmcl_status fmcl_mlp_st_read(const fmcl_mlp *m, const fmcl_st_file *f, const char *path,
                             const char *prefix, float *flat)
{
    char err[1024], wn[FMCL_MLP_NAME_LEN], bn[FMCL_MLP_NAME_LEN];
    for (int l = 0; l < m->n_layers; l++) {
        snprintf(wn, sizeof wn, "%s%d.weight", prefix, 2 * l);
        snprintf(bn, sizeof bn, "%s%d.bias", prefix, 2 * l);
        int64_t ws[2] = {m->out[l], m->in[l]}, bs[1] = {m->out[l]};
        const fmcl_st_tensor *w, *b;
        if (fmcl_st_expect(f, wn, FMCL_ST_F32, 2, ws, &w, err, sizeof err) != FMCL_OK ||
            fmcl_st_expect(f, bn, FMCL_ST_F32, 1, bs, &b, err, sizeof err) != FMCL_OK)
            return fmcl_fail(m->ctx, FMCL_ERR_FORMAT, "%s: %s", path, err);
        memcpy(flat + m->w_off[l], w->data, w->nbytes);
        memcpy(flat + m->b_off[l], b->data, b->nbytes);
    }
    return FMCL_OK;
}

fmcl_status fmcl_mlp_save(fmcl_mlp *m, const char *path, const char *const *meta_kv,
                          int meta_count)
{
    fmcl_ctx *ctx = m->ctx;
    if (meta_count < 0 || (meta_count > 0 && !meta_kv))
        return fmcl_fail(ctx, FMCL_ERR_ARG, "bad metadata list");
    float *p = malloc(m->n_params * sizeof *p);
    fmcl_st_tensor *t = calloc((size_t)2 * m->n_layers, sizeof *t);
    char (*names)[FMCL_MLP_NAME_LEN] = calloc((size_t)2 * m->n_layers, FMCL_MLP_NAME_LEN);
    const char **kv = calloc((size_t)2 * (meta_count + FMCL_MLP_META_PAIRS), sizeof *kv);
    fmcl_status s = FMCL_OK;
    if (!p || !t || !names || !kv)
        s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory saving %s", path);
    if (s == FMCL_OK) s = fmcl_read(ctx, m->params, p, m->n_params * sizeof *p);
    if (s == FMCL_OK) {
        char buf[FMCL_MLP_META_PAIRS - 1][16], err[512];
        fmcl_mlp_st_tensors(m, "", p, t, names);
        const int own = fmcl_mlp_meta_kv(m, buf, kv);
        for (int i = 0; i < 2 * meta_count; i++) kv[2 * own + i] = meta_kv[i];
        if (fmcl_st_write(path, t, 2 * m->n_layers, kv, meta_count + own, err, sizeof err) !=
            FMCL_OK)
            s = fmcl_fail(ctx, FMCL_ERR_IO, "%s", err);
    }
    free(p);
    free(t);
    free(names);
    free(kv);
    return s;
}

/* A metadata integer, checked against its setting; FMCL_ERR_FORMAT otherwise. */
static fmcl_status meta_int(fmcl_ctx *ctx, const fmcl_st_file *f, const char *path,
                            fmcl_setting_scope scope, const char *key, int *out)
{
    char why[256];
    double x;
    if (fmcl_setting_read(fmcl_setting_find(scope, key), fmcl_st_meta(f, key), &x, why,
                          sizeof why) != FMCL_OK)
        return fmcl_fail(ctx, FMCL_ERR_FORMAT,
                         "%s: metadata '%s': %s (is this an fmcl MLP checkpoint?)", path, key,
                         why);
    *out = (int)x;
    return FMCL_OK;
}

/* Keeps the checkpoint's metadata on the model (fmcl_mlp_meta). */
static fmcl_status copy_meta(fmcl_ctx *ctx, fmcl_mlp *m, const fmcl_st_file *f)
{
    m->meta = calloc((size_t)2 * f->meta_count + 1, sizeof *m->meta);
    if (!m->meta) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory loading");
    for (int i = 0; i < 2 * f->meta_count; i++) {
        m->meta[i] = strdup(f->meta[i]);
        if (!m->meta[i]) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory loading");
    }
    m->meta_count = f->meta_count;
    return FMCL_OK;
}

/* The prefix of the weights `which` selects in f; NULL (and a message) when
 * the EMA is asked for and absent. */
static const char *weights_prefix(fmcl_ctx *ctx, const fmcl_st_file *f, const char *path,
                                  int which)
{
    int has_ema = fmcl_st_find(f, EMA_PREFIX "0.weight") != NULL;
    if (which == FMCL_WEIGHTS_RAW || (which == FMCL_WEIGHTS_DEFAULT && !has_ema)) return "";
    if (has_ema) return EMA_PREFIX;
    fmcl_fail(ctx, FMCL_ERR_FORMAT,
              "%s holds no EMA weights ('" EMA_PREFIX "0.weight' is missing): it was trained "
              "without --ema; use the trained weights instead",
              path);
    return NULL;
}

fmcl_status fmcl_mlp_load_weights(fmcl_ctx *ctx, const char *path, int which, fmcl_mlp **out)
{
    *out = NULL;
    if (which < FMCL_WEIGHTS_DEFAULT || which > FMCL_WEIGHTS_EMA)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "unknown weights selector %d", which);
    fmcl_st_file f;
    char err[1024];
    if (fmcl_st_read(path, &f, err, sizeof err) != FMCL_OK)
        return fmcl_fail(ctx, FMCL_ERR_FORMAT, "cannot load checkpoint: %s", err);
    fmcl_mlp_config c;
    const char *fmt = fmcl_st_meta(&f, "format");
    fmcl_status s = FMCL_OK;
    if (!fmt || strcmp(fmt, "fmcl-mlp") != 0)
        s = fmcl_fail(ctx, FMCL_ERR_FORMAT,
                      "%s: not an fmcl MLP checkpoint (metadata 'format' is %s, expected "
                      "'fmcl-mlp')",
                      path, fmt ? fmt : "missing");
    if (s == FMCL_OK) s = meta_int(ctx, &f, path, FMCL_SCOPE_MODEL, "dim", &c.dim);
    if (s == FMCL_OK) s = meta_int(ctx, &f, path, FMCL_SCOPE_MLP, "width", &c.width);
    if (s == FMCL_OK) s = meta_int(ctx, &f, path, FMCL_SCOPE_MLP, "depth", &c.depth);
    if (s == FMCL_OK) s = meta_int(ctx, &f, path, FMCL_SCOPE_MLP, "time_freqs", &c.time_freqs);
    c.classes = 0; /* written for conditional models only */
    if (s == FMCL_OK && fmcl_st_meta(&f, "classes"))
        s = meta_int(ctx, &f, path, FMCL_SCOPE_MODEL, "classes", &c.classes);
    if (s == FMCL_OK) s = fmcl_mlp_check_config(&c, ctx->err, sizeof ctx->err);
    if (s == FMCL_OK &&
        fmcl_st_holds(&f, fmcl_mlp_params_of(&c) * sizeof(float), err, sizeof err) != FMCL_OK)
        s = fmcl_fail(ctx, FMCL_ERR_FORMAT, "%s: %s", path, err);
    const char *prefix = s == FMCL_OK ? weights_prefix(ctx, &f, path, which) : NULL;
    if (s == FMCL_OK && !prefix) s = FMCL_ERR_FORMAT;
    fmcl_mlp *m = NULL;
    if (s == FMCL_OK) s = fmcl_mlp_alloc(ctx, &c, &m);
    float *p = s == FMCL_OK ? malloc(m->n_params * sizeof *p) : NULL;
    if (s == FMCL_OK && !p) s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory loading");
    if (s == FMCL_OK) s = fmcl_mlp_st_read(m, &f, path, prefix, p);
    if (s == FMCL_OK) s = fmcl_write(ctx, m->params, p, m->n_params * sizeof *p);
    if (s == FMCL_OK) s = copy_meta(ctx, m, &f);
    if (s == FMCL_OK) m->is_ema = *prefix != 0;
    free(p);
    fmcl_st_free(&f);
    if (s != FMCL_OK) {
        fmcl_mlp_free(m);
        return s;
    }
    *out = m;
    return FMCL_OK;
}

fmcl_status fmcl_mlp_load(fmcl_ctx *ctx, const char *path, fmcl_mlp **out)
{
    return fmcl_mlp_load_weights(ctx, path, FMCL_WEIGHTS_RAW, out);
}

int fmcl_mlp_is_ema(const fmcl_mlp *m) { return m->is_ema; }
