/* MLP checkpoints in safetensors: tensors named as the state_dict of the
 * equivalent nn.Sequential (Linear layers at even indices), the config in
 * __metadata__ so a checkpoint is self-describing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "nn/mlp.h"

#define NAME_LEN 32

static void tensor_names(int l, char *w, char *b)
{
    snprintf(w, NAME_LEN, "%d.weight", 2 * l);
    snprintf(b, NAME_LEN, "%d.bias", 2 * l);
}

fmcl_status fmcl_mlp_save(fmcl_mlp *m, const char *path, const char *const *meta_kv,
                          int meta_count)
{
    fmcl_ctx *ctx = m->ctx;
    if (meta_count < 0 || (meta_count > 0 && !meta_kv))
        return fmcl_fail(ctx, FMCL_ERR_ARG, "bad metadata list");
    float *p = malloc(m->n_params * sizeof *p);
    fmcl_st_tensor *t = calloc((size_t)2 * m->n_layers, sizeof *t);
    char (*names)[NAME_LEN] = calloc((size_t)2 * m->n_layers, NAME_LEN);
    const char **kv = calloc((size_t)2 * (meta_count + 5), sizeof *kv);
    fmcl_status s = FMCL_OK;
    if (!p || !t || !names || !kv)
        s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory saving %s", path);
    if (s == FMCL_OK) s = fmcl_read(ctx, (fmcl_t){m->params, 0}, p, m->n_params * sizeof *p);
    if (s == FMCL_OK) {
        for (int l = 0; l < m->n_layers; l++) {
            fmcl_st_tensor *w = &t[2 * l], *b = &t[2 * l + 1];
            tensor_names(l, names[2 * l], names[2 * l + 1]);
            *w = (fmcl_st_tensor){.name = names[2 * l], .dtype = FMCL_ST_F32, .ndim = 2,
                                  .shape = {m->out[l], m->in[l]}, .data = p + m->w_off[l],
                                  .nbytes = (size_t)m->out[l] * m->in[l] * sizeof(float)};
            *b = (fmcl_st_tensor){.name = names[2 * l + 1], .dtype = FMCL_ST_F32, .ndim = 1,
                                  .shape = {m->out[l]}, .data = p + m->b_off[l],
                                  .nbytes = (size_t)m->out[l] * sizeof(float)};
        }
        char dim[16], width[16], depth[16], tf[16];
        snprintf(dim, sizeof dim, "%d", m->cfg.dim);
        snprintf(width, sizeof width, "%d", m->cfg.width);
        snprintf(depth, sizeof depth, "%d", m->cfg.depth);
        snprintf(tf, sizeof tf, "%d", m->cfg.time_freqs);
        const char *own[] = {"format", "fmcl-mlp", "dim", dim, "width", width,
                             "depth", depth, "time_freqs", tf};
        memcpy(kv, own, sizeof own);
        for (int i = 0; i < 2 * meta_count; i++) kv[10 + i] = meta_kv[i];
        char err[512];
        if (fmcl_st_write(path, t, 2 * m->n_layers, kv, meta_count + 5, err, sizeof err) !=
            FMCL_OK)
            s = fmcl_fail(ctx, FMCL_ERR_IO, "%s", err);
    }
    free(p);
    free(t);
    free(names);
    free(kv);
    return s;
}

/* A metadata integer in [lo, hi]; FMCL_ERR_FORMAT otherwise. */
static fmcl_status meta_int(fmcl_ctx *ctx, const fmcl_st_file *f, const char *path,
                            const char *key, int lo, int hi, int *out)
{
    const char *v = fmcl_st_meta(f, key);
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *v == 0 || *end != 0 || x < lo || x > hi)
        return fmcl_fail(ctx, FMCL_ERR_FORMAT,
                         "%s: metadata '%s' is %s; expected an integer in [%d, %d] (is this an "
                         "fmcl MLP checkpoint?)",
                         path, key, v ? "out of range" : "missing", lo, hi);
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

fmcl_status fmcl_mlp_load(fmcl_ctx *ctx, const char *path, fmcl_mlp **out)
{
    *out = NULL;
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
    if (s == FMCL_OK) s = meta_int(ctx, &f, path, "dim", 1, 65536, &c.dim);
    if (s == FMCL_OK) s = meta_int(ctx, &f, path, "width", 1, 16384, &c.width);
    if (s == FMCL_OK) s = meta_int(ctx, &f, path, "depth", 1, FMCL_MLP_MAX_LAYERS - 1, &c.depth);
    if (s == FMCL_OK) s = meta_int(ctx, &f, path, "time_freqs", 0, 64, &c.time_freqs);
    fmcl_mlp *m = NULL;
    if (s == FMCL_OK) s = fmcl_mlp_alloc(ctx, &c, &m);
    float *p = s == FMCL_OK ? malloc(m->n_params * sizeof *p) : NULL;
    if (s == FMCL_OK && !p) s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory loading");
    for (int l = 0; s == FMCL_OK && l < m->n_layers; l++) {
        char wn[NAME_LEN], bn[NAME_LEN];
        tensor_names(l, wn, bn);
        int64_t ws[2] = {m->out[l], m->in[l]}, bs[1] = {m->out[l]};
        const fmcl_st_tensor *w, *b;
        if (fmcl_st_expect(&f, wn, FMCL_ST_F32, 2, ws, &w, err, sizeof err) != FMCL_OK ||
            fmcl_st_expect(&f, bn, FMCL_ST_F32, 1, bs, &b, err, sizeof err) != FMCL_OK) {
            s = fmcl_fail(ctx, FMCL_ERR_FORMAT, "%s: %s", path, err);
            break;
        }
        memcpy(p + m->w_off[l], w->data, w->nbytes);
        memcpy(p + m->b_off[l], b->data, b->nbytes);
    }
    if (s == FMCL_OK) s = fmcl_write(ctx, (fmcl_t){m->params, 0}, p, m->n_params * sizeof *p);
    if (s == FMCL_OK) s = copy_meta(ctx, m, &f);
    free(p);
    fmcl_st_free(&f);
    if (s != FMCL_OK) {
        fmcl_mlp_free(m);
        return s;
    }
    *out = m;
    return FMCL_OK;
}
