/* The model interface (model.h) over the MLP and the U-Net. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"
#include "io/settings.h"
#include "nn/image_ops.h"
#include "nn/model.h"
#include "nn/nn_ops.h"
#include "runtime/vec.h"

void fmcl_net_of_mlp(fmcl_net *m, fmcl_mlp *mlp)
{
    *m = (fmcl_net){.kind = FMCL_MODEL_MLP,
                    .ctx = mlp->ctx,
                    .dim = mlp->cfg.dim,
                    .in_width = mlp->in[0],
                    .time_freqs = mlp->cfg.time_freqs,
                    .classes = mlp->cfg.classes,
                    .dx_stride = mlp->in[0],
                    .n_params = mlp->n_params,
                    .params = mlp->params,
                    .mlp = mlp};
}

void fmcl_net_of_unet(fmcl_net *m, fmcl_unet *u)
{
    const int D = u->cfg.channels * u->cfg.height * u->cfg.width, K = u->cfg.classes;
    *m = (fmcl_net){.kind = FMCL_MODEL_UNET,
                    .ctx = u->ctx,
                    .dim = D,
                    .in_width = D + 1 + K,
                    .classes = K,
                    .dx_stride = D,
                    .n_params = u->n_params,
                    .params = u->params,
                    .unet = u};
}

static size_t unet_floats(const fmcl_unet_spec *cfg, int B)
{
    char err[256];
    fmcl_unet_plan *p;
    if (fmcl_unet_plan_create(cfg, B, &p, err, sizeof err) != FMCL_OK) return 0;
    size_t n = fmcl_unet_plan_floats(p);
    fmcl_unet_plan_free(p);
    return n;
}

size_t fmcl_net_acts_largest(const fmcl_net *m, int B)
{
    if (m->kind == FMCL_MODEL_MLP) return fmcl_mlp_acts_bytes(m->mlp, B);
    return unet_floats(&m->unet->cfg, B) * sizeof(float);
}

/* Floats per row of the U-Net's input split: x, t, and for K classes the
 * one-hot y and the [t, y] rows it is split from. */
static size_t io_per_row(const fmcl_net *m)
{
    const size_t K = (size_t)m->classes;
    return (size_t)m->dim + 1 + (K > 0 ? 2 * K + 1 : 0);
}

size_t fmcl_net_acts_bytes(const fmcl_net *m, int B)
{
    size_t acts = fmcl_net_acts_largest(m, B);
    if (m->kind == FMCL_MODEL_MLP || acts == 0) return acts;
    return acts + (size_t)B * io_per_row(m) * sizeof(float);
}

fmcl_status fmcl_net_acts_create(const fmcl_net *m, int B, fmcl_net_acts *a)
{
    memset(a, 0, sizeof *a);
    if (m->kind == FMCL_MODEL_MLP) return fmcl_mlp_acts_create(m->mlp, B, &a->mlp);
    const size_t bd = (size_t)B * m->dim, K = (size_t)m->classes;
    fmcl_status s = fmcl_alloc(m->ctx, (size_t)B * io_per_row(m) * sizeof(float), &a->io,
                               "U-Net input");
    if (s == FMCL_OK) s = fmcl_unet_acts_create(m->unet, B, &a->unet);
    if (s != FMCL_OK) {
        fmcl_net_acts_free(a);
        return s;
    }
    a->x = a->io;
    a->t = fmcl_at(a->io, bd);
    a->y = K > 0 ? fmcl_at(a->io, bd + (size_t)B) : (fmcl_t){NULL, 0};
    a->ty = K > 0 ? fmcl_at(a->io, bd + (size_t)B * (1 + K)) : (fmcl_t){NULL, 0};
    return FMCL_OK;
}

void fmcl_net_acts_free(fmcl_net_acts *a)
{
    if (a->mlp.mem.mem) fmcl_mlp_acts_free(&a->mlp);
    if (a->unet.mem.mem || a->unet.plan) fmcl_unet_acts_free(&a->unet);
    fmcl_release(&a->io);
}

fmcl_status fmcl_net_forward(const fmcl_net *m, fmcl_net_acts *a, fmcl_t v, fmcl_t X, int B)
{
    if (m->kind == FMCL_MODEL_MLP) return fmcl_mlp_forward(m->mlp, &a->mlp, v, X, B);
    /* [x, t] rows -> x, t: concat's backward splits (it accumulates, hence the
     * fill); [x, t, y] rows -> x, [t, y] -> t, y. */
    const int K = m->classes;
    fmcl_status s = fmcl_fill(m->ctx, a->x, 0.0f, B * (int)io_per_row(m));
    if (s == FMCL_OK && K == 0) s = fmcl_concat_backward(m->ctx, a->x, a->t, X, B, m->dim, 1, 1);
    if (s == FMCL_OK && K > 0)
        s = fmcl_concat_backward(m->ctx, a->x, a->ty, X, B, m->dim, 1 + K, 1);
    if (s == FMCL_OK && K > 0) s = fmcl_concat_backward(m->ctx, a->t, a->y, a->ty, B, 1, K, 1);
    return s == FMCL_OK ? fmcl_unet_forward(m->unet, &a->unet, v, a->x, a->t, a->y, B) : s;
}

fmcl_status fmcl_net_backward(const fmcl_net *m, fmcl_net_acts *a, fmcl_t grads, fmcl_t dv,
                              fmcl_t X, fmcl_t dX, int B)
{
    if (m->kind == FMCL_MODEL_MLP) return fmcl_mlp_backward(m->mlp, &a->mlp, grads, dv, X, dX, B);
    if (!grads.mem)
        return fmcl_fail(m->ctx, FMCL_ERR_ARG,
                         "the U-Net's backward needs a gradient buffer (n_params floats) even "
                         "for the input gradient alone");
    return fmcl_unet_backward(m->unet, &a->unet, grads, dv, a->x, a->y, dX, B);
}

int fmcl_net_chunk(const fmcl_net *m)
{
    return m->kind == FMCL_MODEL_MLP ? FMCL_MLP_CHUNK : FMCL_UNET_CHUNK;
}

int fmcl_net_tensor_count(const fmcl_net *m)
{
    return m->kind == FMCL_MODEL_MLP ? 2 * m->mlp->n_layers
                                     : fmcl_unet_plan_tensor_count(m->unet->plan);
}

void fmcl_net_tensor(const fmcl_net *m, int i, fmcl_tensor_info *info, size_t *off)
{
    memset(info, 0, sizeof *info);
    if (m->kind == FMCL_MODEL_MLP) { /* Linear layers at the even indices of nn.Sequential */
        const fmcl_mlp *p = m->mlp;
        const int l = i / 2, bias = i % 2;
        snprintf(info->name, sizeof info->name, "%d.%s", 2 * l, bias ? "bias" : "weight");
        info->ndim = bias ? 1 : 2;
        info->shape[0] = p->out[l];
        info->shape[1] = p->in[l];
        info->numel = (size_t)p->out[l] * (bias ? 1 : (size_t)p->in[l]);
        *off = bias ? p->b_off[l] : p->w_off[l];
        return;
    }
    const fmcl_unet_param *p = fmcl_unet_plan_tensor(m->unet->plan, i);
    snprintf(info->name, sizeof info->name, "%s", p->name);
    info->ndim = p->ndim;
    for (int d = 0; d < p->ndim; d++) info->shape[d] = p->shape[d];
    info->numel = p->n;
    *off = p->off;
}

void fmcl_net_st_tensors(const fmcl_net *m, const char *prefix, const float *flat,
                         fmcl_st_tensor *t, char (*names)[FMCL_NET_NAME_LEN])
{
    for (int i = 0; i < fmcl_net_tensor_count(m); i++) {
        fmcl_tensor_info info;
        size_t off;
        fmcl_net_tensor(m, i, &info, &off);
        snprintf(names[i], FMCL_NET_NAME_LEN, "%s%s", prefix, info.name);
        t[i] = (fmcl_st_tensor){.name = names[i],
                                .dtype = FMCL_ST_F32,
                                .ndim = info.ndim,
                                .data = flat + off,
                                .nbytes = info.numel * sizeof(float)};
        memcpy(t[i].shape, info.shape, sizeof info.shape);
    }
}

fmcl_status fmcl_net_st_read(const fmcl_net *m, const fmcl_st_file *f, const char *path,
                             const char *prefix, float *flat)
{
    char err[1024], name[FMCL_NET_NAME_LEN];
    int converted[FMCL_ST_BF16 + 1] = {0}; /* tensors of each dtype read as F32 */
    for (int i = 0; i < fmcl_net_tensor_count(m); i++) {
        fmcl_tensor_info info;
        size_t off;
        fmcl_net_tensor(m, i, &info, &off);
        snprintf(name, sizeof name, "%s%s", prefix, info.name);
        const fmcl_st_tensor *t;
        if (fmcl_st_expect_float(f, name, info.ndim, info.shape, &t, err, sizeof err) != FMCL_OK ||
            fmcl_st_floats(t, flat + off, err, sizeof err) != FMCL_OK)
            return fmcl_fail(m->ctx, FMCL_ERR_FORMAT, "%s: %s", path, err);
        if (t->dtype != FMCL_ST_F32 && t->dtype <= FMCL_ST_BF16) converted[t->dtype]++;
    }
    /* PyTorch users save half precision and doubles; fmcl computes in float. */
    for (int d = 0; d <= FMCL_ST_BF16; d++)
        if (converted[d])
            fmcl_note(m->ctx, "%s: %d weight tensors stored as %s converted to F32 (%s)\n", path,
                      converted[d], fmcl_st_dtype_name(d),
                      d == FMCL_ST_F64 ? "rounded to nearest" : "exactly");
    return FMCL_OK;
}

int fmcl_net_meta_kv(const fmcl_net *m, char (*buf)[FMCL_NET_META_TEXT], const char **kv)
{
    if (m->kind == FMCL_MODEL_MLP) { /* its numbers' text, moved into the caller's buf */
        char mbuf[FMCL_MLP_META_PAIRS - 1][16];
        const int pairs = fmcl_mlp_meta_kv(m->mlp, mbuf, kv);
        for (int i = 1; i < pairs; i++) {
            snprintf(buf[i - 1], FMCL_NET_META_TEXT, "%s", kv[2 * i + 1]);
            kv[2 * i + 1] = buf[i - 1];
        }
        return pairs;
    }
    const fmcl_unet_spec *c = &m->unet->cfg;
    const int vals[8] = {c->channels, c->height,           c->width, c->base,
                         c->blocks,   (int)c->attn_levels, c->heads, c->groups};
    static const char *const keys[9] = {"channels",    "height", "width",  "base", "blocks",
                                        "attn_levels", "heads",  "groups", "mult"};
    for (int i = 0; i < 8; i++) snprintf(buf[i], FMCL_NET_META_TEXT, "%d", vals[i]);
    /* At most 6 levels of multipliers up to 16 (unet_plan.c): 17 characters. */
    size_t len = 0;
    for (int l = 0; l < c->levels && len < FMCL_NET_META_TEXT; l++)
        len += (size_t)snprintf(buf[8] + len, FMCL_NET_META_TEXT - len, l ? ",%d" : "%d",
                                c->mult[l]);
    kv[0] = "format", kv[1] = "fmcl-unet";
    for (int i = 0; i < 9; i++) kv[2 + 2 * i] = keys[i], kv[3 + 2 * i] = buf[i];
    int pairs = 10;
    if (c->classes > 0) { /* written when conditional only */
        snprintf(buf[pairs - 1], FMCL_NET_META_TEXT, "%d", c->classes);
        kv[2 * pairs] = "classes", kv[2 * pairs + 1] = buf[pairs - 1];
        pairs++;
    }
    if (c->dropout > 0.0f) { /* written with dropout only: older checkpoints stay as they were */
        snprintf(buf[pairs - 1], FMCL_NET_META_TEXT, "%.9g", (double)c->dropout);
        kv[2 * pairs] = "dropout", kv[2 * pairs + 1] = buf[pairs - 1];
        pairs++;
    }
    return pairs;
}

/* A U-Net metadata integer, checked against its setting; 0 when it is not one. */
static int meta_int(const fmcl_st_file *f, fmcl_setting_scope scope, const char *key, int *out)
{
    double x;
    if (fmcl_setting_read(fmcl_setting_find(scope, key), fmcl_st_meta(f, key), &x, NULL, 0) !=
        FMCL_OK)
        return 0;
    *out = (int)x;
    return 1;
}

fmcl_status fmcl_unet_spec_from_file(const fmcl_st_file *f, const char *path, fmcl_unet_spec *cfg,
                                     char *err, size_t errlen)
{
    const fmcl_setting_scope U = FMCL_SCOPE_UNET;
    memset(cfg, 0, sizeof *cfg);
    int attn = 0;
    const char *bad = NULL, *fmt = fmcl_st_meta(f, "format");
    if (!fmt || strcmp(fmt, "fmcl-unet") != 0)
        bad = "format";
    else if (!meta_int(f, U, "channels", &cfg->channels))
        bad = "channels";
    else if (!meta_int(f, U, "height", &cfg->height))
        bad = "height";
    else if (!meta_int(f, U, "width", &cfg->width))
        bad = "width";
    else if (!meta_int(f, U, "base", &cfg->base))
        bad = "base";
    else if (!meta_int(f, U, "blocks", &cfg->blocks))
        bad = "blocks";
    else if (!meta_int(f, U, "attn_levels", &attn))
        bad = "attn_levels";
    else if (!meta_int(f, U, "heads", &cfg->heads))
        bad = "heads";
    else if (!meta_int(f, U, "groups", &cfg->groups))
        bad = "groups";
    /* classes and dropout are written when set only (0 is no valid value) */
    else if (fmcl_st_meta(f, "classes") &&
             (!meta_int(f, FMCL_SCOPE_MODEL, "classes", &cfg->classes) || cfg->classes == 0))
        bad = "classes";
    const char *drop = bad ? NULL : fmcl_st_meta(f, "dropout");
    double P;
    if (drop && (fmcl_setting_read(fmcl_setting_find(U, "dropout"), drop, &P, NULL, 0) != FMCL_OK ||
                 P == 0))
        bad = "dropout";
    else if (drop)
        cfg->dropout = (float)P;
    cfg->attn_levels = (unsigned)attn;
    const char *mult = bad ? NULL : fmcl_st_meta(f, "mult");
    const fmcl_setting *ms = fmcl_setting_find(U, "mult");
    for (const char *p = mult; !bad && p;) { /* "1,2,2": each entry a "mult" setting */
        char item[16];
        const size_t len = strcspn(p, ",");
        double x;
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : 0), p);
        if (len >= sizeof item || cfg->levels == FMCL_UNET_MAX_LEVELS ||
            fmcl_setting_read(ms, item, &x, NULL, 0) != FMCL_OK)
            bad = "mult";
        else
            cfg->mult[cfg->levels++] = (int)x;
        p = p[len] == ',' ? p + len + 1 : NULL;
    }
    if (!bad && !mult) bad = "mult";
    if (bad)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s: metadata '%s' is %s; expected an fmcl U-Net checkpoint (format "
                         "fmcl-unet, as fmcl_model_save writes a U-Net)",
                         path, bad, fmcl_st_meta(f, bad) ? "not valid" : "missing");
    char why[256];
    if (fmcl_unet_check_spec(cfg, why, sizeof why) != FMCL_OK)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "%s: its U-Net config is invalid: %s", path,
                         why);
    return FMCL_OK;
}
