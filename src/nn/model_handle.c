/* The public model handle (include/fmcl/model.h): configs and their check,
 * creation, named tensors on the host and metadata. Loading and saving are
 * in model_io.c, v(x, t) on host arrays in flow/forward.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/settings.h"
#include "nn/model.h"

void fmcl_model_config_default(fmcl_model_config *cfg, fmcl_model_kind kind)
{
    fmcl_unet_spec u;
    fmcl_unet_spec_default(&u, 1, 28, 28);
    memset(cfg, 0, sizeof *cfg);
    fmcl_model_config_of_unet(cfg, &u); /* kind U-Net, dim 784 */
    cfg->mlp = (fmcl_mlp_config){.width = 512, .depth = 4, .time_freqs = 0};
    if (kind != FMCL_MODEL_UNET) cfg->kind = kind, cfg->dim = 2;
}

void fmcl_mlp_spec_of(const fmcl_model_config *cfg, fmcl_mlp_spec *s)
{
    *s = (fmcl_mlp_spec){.dim = cfg->dim,
                         .width = cfg->mlp.width,
                         .depth = cfg->mlp.depth,
                         .time_freqs = cfg->mlp.time_freqs,
                         .classes = cfg->classes};
}

void fmcl_unet_spec_of(const fmcl_model_config *cfg, fmcl_unet_spec *s)
{
    const fmcl_unet_config *u = &cfg->unet;
    *s = (fmcl_unet_spec){.channels = u->channels,
                          .height = u->height,
                          .width = u->width,
                          .base = u->base,
                          .levels = u->levels,
                          .blocks = u->blocks,
                          .attn_levels = u->attn_levels,
                          .heads = u->heads,
                          .groups = u->groups,
                          .classes = cfg->classes,
                          .dropout = u->dropout};
    for (int l = 0; l < u->levels && l < FMCL_UNET_MAX_LEVELS; l++) s->mult[l] = u->mult[l];
}

void fmcl_model_config_of_mlp(fmcl_model_config *cfg, const fmcl_mlp_spec *s)
{
    cfg->kind = FMCL_MODEL_MLP;
    cfg->dim = s->dim;
    cfg->classes = s->classes;
    cfg->mlp = (fmcl_mlp_config){.width = s->width, .depth = s->depth, .time_freqs = s->time_freqs};
}

void fmcl_model_config_of_unet(fmcl_model_config *cfg, const fmcl_unet_spec *s)
{
    cfg->kind = FMCL_MODEL_UNET;
    cfg->dim = s->channels * s->height * s->width;
    cfg->classes = s->classes;
    cfg->unet = (fmcl_unet_config){.channels = s->channels,
                                   .height = s->height,
                                   .width = s->width,
                                   .base = s->base,
                                   .levels = s->levels,
                                   .blocks = s->blocks,
                                   .attn_levels = s->attn_levels,
                                   .heads = s->heads,
                                   .groups = s->groups,
                                   .dropout = s->dropout};
    memcpy(cfg->unet.mult, s->mult, sizeof cfg->unet.mult);
}

fmcl_status fmcl_model_config_check(const fmcl_model_config *cfg, char *err, size_t errlen)
{
    fmcl_status s = fmcl_setting_check_key(FMCL_SCOPE_MODEL, "kind", cfg->kind, err, errlen);
    if (s != FMCL_OK) return s;
    if (cfg->kind == FMCL_MODEL_UNET) {
        fmcl_unet_spec u;
        fmcl_unet_spec_of(cfg, &u);
        return fmcl_unet_check_spec(&u, err, errlen);
    }
    fmcl_mlp_spec m;
    fmcl_mlp_spec_of(cfg, &m);
    return fmcl_mlp_check_spec(&m, err, errlen);
}

fmcl_status fmcl_model_create(fmcl_ctx *ctx, const fmcl_model_config *cfg, uint64_t seed,
                              fmcl_model **out)
{
    *out = NULL;
    fmcl_status s = fmcl_model_config_check(cfg, ctx->err, sizeof ctx->err);
    if (s != FMCL_OK) return s;
    fmcl_model *m = calloc(1, sizeof *m);
    if (!m) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory creating the model");
    m->ctx = ctx;
    m->cfg = *cfg;
    if (cfg->kind == FMCL_MODEL_UNET) { /* the config as the U-Net has it: dim, unused mults 0 */
        fmcl_unet_spec u;
        fmcl_unet_spec_of(cfg, &u);
        fmcl_model_config_of_unet(&m->cfg, &u);
        s = fmcl_unet_create(ctx, &u, seed, &m->unet);
        if (s == FMCL_OK) fmcl_net_of_unet(&m->net, m->unet);
    } else {
        fmcl_mlp_spec ms;
        fmcl_mlp_spec_of(cfg, &ms);
        s = fmcl_mlp_create(ctx, &ms, seed, &m->mlp);
        if (s == FMCL_OK) fmcl_net_of_mlp(&m->net, m->mlp);
    }
    if (s != FMCL_OK) {
        fmcl_model_free(m);
        return s;
    }
    *out = m;
    return FMCL_OK;
}

void fmcl_model_free(fmcl_model *m)
{
    if (!m) return;
    fmcl_mlp_free(m->mlp);
    fmcl_unet_free(m->unet);
    fmcl_meta_free(&m->meta);
    free(m);
}

const fmcl_model_config *fmcl_model_get_config(const fmcl_model *m) { return &m->cfg; }
fmcl_ctx *fmcl_model_ctx(const fmcl_model *m) { return m->ctx; }
size_t fmcl_model_param_count(const fmcl_model *m) { return m->net.n_params; }
int fmcl_model_is_ema(const fmcl_model *m) { return m->is_ema; }

/* ---- named tensors ---- */

int fmcl_model_tensor_count(const fmcl_model *m) { return fmcl_net_tensor_count(&m->net); }

fmcl_status fmcl_model_tensor_info(const fmcl_model *m, int i, fmcl_tensor_info *info)
{
    if (i < 0 || i >= fmcl_net_tensor_count(&m->net))
        return fmcl_fail(m->ctx, FMCL_ERR_ARG, "the model has %d tensors, not %d",
                         fmcl_net_tensor_count(&m->net), i + 1);
    size_t off;
    fmcl_net_tensor(&m->net, i, info, &off);
    return FMCL_OK;
}

/* The tensor called name: its offset in the flat parameters, checked against n floats. */
static fmcl_status find_tensor(fmcl_model *m, const char *name, size_t n, size_t *off)
{
    fmcl_tensor_info info;
    for (int i = 0; name && i < fmcl_net_tensor_count(&m->net); i++) {
        fmcl_net_tensor(&m->net, i, &info, off);
        if (strcmp(info.name, name) != 0) continue;
        if (n == info.numel) return FMCL_OK;
        return fmcl_fail(m->ctx, FMCL_ERR_ARG, "tensor '%s' holds %zu floats, not %zu", name,
                         info.numel, n);
    }
    return fmcl_fail(m->ctx, FMCL_ERR_ARG,
                     "the model has no tensor '%s' (fmcl_model_tensor_info lists them)",
                     name ? name : "(null)");
}

fmcl_status fmcl_model_tensor_read(fmcl_model *m, const char *name, float *out, size_t n)
{
    size_t off;
    fmcl_status s = find_tensor(m, name, n, &off);
    return s == FMCL_OK ? fmcl_read(m->ctx, fmcl_at(m->net.params, off), out, n * sizeof *out) : s;
}

fmcl_status fmcl_model_tensor_write(fmcl_model *m, const char *name, const float *in, size_t n)
{
    size_t off;
    fmcl_status s = find_tensor(m, name, n, &off);
    return s == FMCL_OK ? fmcl_write(m->ctx, fmcl_at(m->net.params, off), in, n * sizeof *in) : s;
}

/* ---- metadata ---- */

fmcl_status fmcl_meta_set(fmcl_meta *m, const char *key, const char *value)
{
    for (int i = 0; i < m->count; i++)
        if (strcmp(m->kv[2 * i], key) == 0) {
            char *v = strdup(value);
            if (!v) return FMCL_ERR_NOMEM;
            free(m->kv[2 * i + 1]);
            m->kv[2 * i + 1] = v;
            return FMCL_OK;
        }
    char **kv = realloc(m->kv, sizeof *kv * 2 * ((size_t)m->count + 1));
    if (!kv) return FMCL_ERR_NOMEM;
    m->kv = kv;
    kv[2 * m->count] = strdup(key);
    kv[2 * m->count + 1] = strdup(value);
    if (kv[2 * m->count] && kv[2 * m->count + 1]) {
        m->count++;
        return FMCL_OK;
    }
    free(kv[2 * m->count]);
    free(kv[2 * m->count + 1]);
    return FMCL_ERR_NOMEM;
}

const char *fmcl_meta_get(const fmcl_meta *m, const char *key)
{
    for (int i = 0; key && i < m->count; i++)
        if (strcmp(m->kv[2 * i], key) == 0) return m->kv[2 * i + 1];
    return NULL;
}

void fmcl_meta_free(fmcl_meta *m)
{
    for (int i = 0; i < 2 * m->count; i++) free(m->kv[i]);
    free(m->kv);
    *m = (fmcl_meta){0};
}

const char *fmcl_model_meta(const fmcl_model *m, const char *key)
{
    return fmcl_meta_get(&m->meta, key);
}

/* The keys the library writes from the config of either kind. */
static int config_key(const char *key)
{
    static const char *const keys[] = {"format",      "dim",      "width",  "depth", "time_freqs",
                                       "classes",     "channels", "height", "base",  "blocks",
                                       "attn_levels", "heads",    "groups", "mult",  "dropout"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strcmp(key, keys[i]) == 0) return 1;
    return 0;
}

fmcl_status fmcl_model_set_meta(fmcl_model *m, const char *key, const char *value)
{
    if (!key || !*key || !value)
        return fmcl_fail(m->ctx, FMCL_ERR_ARG, "metadata needs a key and a value");
    if (config_key(key))
        return fmcl_fail(m->ctx, FMCL_ERR_ARG,
                         "metadata '%s' is the model's config, which the library writes itself",
                         key);
    return fmcl_meta_set(&m->meta, key, value) == FMCL_OK
               ? FMCL_OK
               : fmcl_fail(m->ctx, FMCL_ERR_NOMEM, "out of host memory for metadata '%s'", key);
}

int fmcl_model_meta_append(const fmcl_model *m, const char **kv, int pairs)
{
    for (int i = 0; i < m->meta.count; i++) {
        const char *key = m->meta.kv[2 * i];
        int seen = 0;
        for (int j = 0; j < pairs && !seen; j++) seen = strcmp(kv[2 * j], key) == 0;
        if (seen) continue;
        kv[2 * pairs] = key;
        kv[2 * pairs + 1] = m->meta.kv[2 * i + 1];
        pairs++;
    }
    return pairs;
}
