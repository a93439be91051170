/* MLP checkpoints in safetensors: tensors named as the state_dict of the
 * equivalent nn.Sequential (Linear layers at even indices), the config in
 * __metadata__ so a checkpoint is self-describing (nn/model_io.c loads and
 * saves the model around these pieces). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"
#include "io/settings.h"
#include "nn/mlp.h"

int fmcl_mlp_meta_kv(const fmcl_mlp *m, char (*buf)[16], const char **kv)
{
    snprintf(buf[0], 16, "%d", m->cfg.dim);
    snprintf(buf[1], 16, "%d", m->cfg.width);
    snprintf(buf[2], 16, "%d", m->cfg.depth);
    snprintf(buf[3], 16, "%d", m->cfg.time_freqs);
    snprintf(buf[4], 16, "%d", m->cfg.classes);
    const char *own[2 * FMCL_MLP_META_PAIRS] = {"format",     "fmcl-mlp", "dim",     buf[0],
                                                "width",      buf[1],     "depth",   buf[2],
                                                "time_freqs", buf[3],     "classes", buf[4]};
    const int pairs = m->cfg.classes > 0 ? FMCL_MLP_META_PAIRS : FMCL_MLP_META_PAIRS - 1;
    memcpy(kv, own, sizeof(*own) * 2 * pairs);
    return pairs;
}

/* A metadata integer, checked against its setting; FMCL_ERR_FORMAT otherwise. */
static fmcl_status meta_int(const fmcl_st_file *f, const char *path, fmcl_setting_scope scope,
                            const char *key, int *out, char *err, size_t errlen)
{
    char why[256];
    double x;
    if (fmcl_setting_read(fmcl_setting_find(scope, key), fmcl_st_meta(f, key), &x, why,
                          sizeof why) != FMCL_OK)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s: metadata '%s': %s (is this an fmcl MLP checkpoint?)", path, key, why);
    *out = (int)x;
    return FMCL_OK;
}

fmcl_status fmcl_mlp_spec_from_file(const fmcl_st_file *f, const char *path, fmcl_mlp_spec *c,
                                    char *err, size_t errlen)
{
    const char *fmt = fmcl_st_meta(f, "format");
    /* classes: written for conditional models only; time_freqs may be left
     * out by a PyTorch user whose model takes [x, t] (docs/INTEROP.md). */
    memset(c, 0, sizeof *c);
    fmcl_status s = FMCL_OK;
    if (!fmt || strcmp(fmt, "fmcl-mlp") != 0)
        s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                      "%s: not an fmcl MLP checkpoint (metadata 'format' is %s, expected "
                      "'fmcl-mlp')",
                      path, fmt ? fmt : "missing");
    if (s == FMCL_OK) s = meta_int(f, path, FMCL_SCOPE_MODEL, "dim", &c->dim, err, errlen);
    if (s == FMCL_OK) s = meta_int(f, path, FMCL_SCOPE_MLP, "width", &c->width, err, errlen);
    if (s == FMCL_OK) s = meta_int(f, path, FMCL_SCOPE_MLP, "depth", &c->depth, err, errlen);
    if (s == FMCL_OK && fmcl_st_meta(f, "time_freqs"))
        s = meta_int(f, path, FMCL_SCOPE_MLP, "time_freqs", &c->time_freqs, err, errlen);
    if (s == FMCL_OK && fmcl_st_meta(f, "classes"))
        s = meta_int(f, path, FMCL_SCOPE_MODEL, "classes", &c->classes, err, errlen);
    return s;
}
