/* The table of every setting's name and limits (include/fmcl/settings.h).
 * The limits are those of the fmcl command's flags, which have always been
 * the tested ones; the library's own checks, stricter in a few places where
 * the command's were (time_freqs, ema), are now the same. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"
#include "io/settings.h"

static const char *const path_names[] = {"ot", "vp", "ve", "cosine", "poly", "linear-vp", NULL};
static const char *const coupling_names[] = {"independent", "ot", NULL};
static const char *const schedule_names[] = {"constant", "cosine", NULL};
static const char *const solver_names[] = {"euler",  "midpoint", "heun", "rk4",
                                           "dopri5", "rk4-38",   NULL};
static const char *const model_names[] = {"mlp", "unet", NULL};
static const char *const toy_names[] = {"checkerboard", "8gaussians", "moons",
                                        "rings",        "spirals",    NULL};
static const char *const weights_names[] = {"default", "raw", "ema", NULL};

static const char *const *const lists[FMCL_NAMES_COUNT] = {
    path_names,  coupling_names, schedule_names, solver_names,
    model_names, toy_names,      weights_names};

const char *const *fmcl_names_of(fmcl_names list)
{
    return list >= 0 && list < FMCL_NAMES_COUNT ? lists[list] : NULL;
}

const char *fmcl_name(fmcl_names list, int value)
{
    const char *const *names = fmcl_names_of(list);
    for (int i = 0; names && names[i]; i++)
        if (i == value) return names[i];
    return NULL;
}

int fmcl_name_value(fmcl_names list, const char *name)
{
    const char *const *names = fmcl_names_of(list);
    for (int i = 0; names && name && names[i]; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

#define INT(scope, key, lo, hi, about)                                                             \
    {                                                                                              \
        scope, key, FMCL_SETTING_INT, lo, hi, 0, 0, 0, about                                       \
    }
#define REAL(scope, key, lo, hi, lo_open, hi_open, about)                                          \
    {                                                                                              \
        scope, key, FMCL_SETTING_REAL, lo, hi, lo_open, hi_open, 0, about                          \
    }
#define NAME(scope, key, list, about)                                                              \
    {                                                                                              \
        scope, key, FMCL_SETTING_NAME, 0, 0, 0, 0, list, about                                     \
    }
#define TRAIN FMCL_SCOPE_TRAIN
#define SAMPLE FMCL_SCOPE_SAMPLE
#define NLL FMCL_SCOPE_NLL
#define UNET FMCL_SCOPE_UNET

static const fmcl_setting table[] = {
    INT(TRAIN, "batch", 1, 1 << 20, "examples per training step"),
    INT(TRAIN, "steps", 1, 10000000, "training steps of the run"),
    REAL(TRAIN, "lr", 0, 10, 1, 0, "Adam's learning rate"),
    INT(TRAIN, "warmup", 0, 10000000, "steps of the linear warm-up of the learning rate"),
    NAME(TRAIN, "lr_schedule", FMCL_NAMES_LR_SCHEDULE, "the learning rate after the warm-up"),
    REAL(TRAIN, "beta1", 0, 1, 0, 1, "Adam's first-moment decay"),
    REAL(TRAIN, "beta2", 0, 1, 0, 1, "Adam's second-moment decay"),
    REAL(TRAIN, "eps", 0, INFINITY, 1, 0, "Adam's epsilon"),
    REAL(TRAIN, "weight_decay", 0, 10, 0, 0, "decoupled weight decay (AdamW); 0 is Adam"),
    REAL(TRAIN, "clip", 0, INFINITY, 0, 0, "the gradient norm's clip; 0 disables it"),
    REAL(TRAIN, "ema", 0, 0.999999, 0, 0, "the decay of the weights' EMA; 0 disables it"),
    {TRAIN, "seed", FMCL_SETTING_U64, 0, 0, 0, 0, 0, "the seed of every random draw"},
    NAME(TRAIN, "path", FMCL_NAMES_PATH, "the probability path"),
    NAME(TRAIN, "coupling", FMCL_NAMES_COUPLING, "the pairing of a batch's noise and data"),
    REAL(TRAIN, "sigma_min", 0, 0.999, 0, 0, "the OT path's sigma_min"),
    REAL(TRAIN, "beta_min", 0, 1000, 0, 0, "the VP path's noise rate at the data end"),
    REAL(TRAIN, "beta_max", 0, 1000, 1, 0, "the VP path's noise rate at the noise end"),
    REAL(TRAIN, "sigma_lo", 0, 1e6, 1, 0, "the VE path's noise scale at t = 1"),
    REAL(TRAIN, "sigma_hi", 0, 1e6, 1, 0, "the VE path's noise scale at t = 0"),
    REAL(TRAIN, "poly_n", 1, 100, 0, 0, "the polynomial path's exponent"),
    {TRAIN, "hflip", FMCL_SETTING_FLAG, 0, 1, 0, 0, 0, "images mirrored at random"},
    REAL(TRAIN, "label_drop", 0, 1, 0, 0, "the probability of the null class"),

    NAME(FMCL_SCOPE_MODEL, "kind", FMCL_NAMES_MODEL, "the network"),
    INT(FMCL_SCOPE_MODEL, "dim", 1, 65536, "floats of a point"),
    INT(FMCL_SCOPE_MODEL, "classes", 0, 256, "classes of a conditional model; 0: none"),
    INT(FMCL_SCOPE_MLP, "width", 1, 16384, "the MLP's hidden units per layer"),
    INT(FMCL_SCOPE_MLP, "depth", 1, 64, "the MLP's hidden layers"),
    INT(FMCL_SCOPE_MLP, "time_freqs", 0, 16, "the MLP's time frequencies; 0: t itself"),
    INT(UNET, "channels", 1, 64, "the images' channels"),
    INT(UNET, "height", 1, 1024, "the images' height"),
    INT(UNET, "width", 1, 1024, "the images' width"),
    INT(UNET, "base", 1, 1024, "the U-Net's channels at the first level"),
    INT(UNET, "levels", 1, 6, "the U-Net's levels"),
    INT(UNET, "mult", 1, 16, "a U-Net level's channel multiplier"),
    INT(UNET, "blocks", 1, 8, "the U-Net's residual blocks per level"),
    INT(UNET, "attn_levels", 0, 63, "the U-Net's levels with attention, one bit each"),
    INT(UNET, "heads", 1, 64, "the U-Net's attention heads"),
    INT(UNET, "groups", 1, 256, "the U-Net's GroupNorm groups"),
    REAL(UNET, "dropout", 0, 1, 0, 1, "the U-Net's dropout while training"),

    NAME(SAMPLE, "solver", FMCL_NAMES_SOLVER, "the ODE solver"),
    INT(SAMPLE, "steps", 1, 100000, "a fixed-step solver's uniform steps"),
    INT(SAMPLE, "n", 1, 100000000, "points to draw"),
    REAL(SAMPLE, "atol", 0, 1, 1, 0, "dopri5's absolute tolerance; 0: 1e-5"),
    REAL(SAMPLE, "rtol", 0, 1, 1, 0, "dopri5's relative tolerance; 0: 1e-5"),
    INT(SAMPLE, "max_steps", 1, 10000000, "dopri5's attempted steps; 0: 1000"),
    REAL(SAMPLE, "x0_std", 0, 1e6, 1, 0, "the starting noise's scale; 0: the model's"),
    REAL(SAMPLE, "guidance", 0, 1000, 0, 0, "classifier-free guidance's scale"),
    NAME(NLL, "solver", FMCL_NAMES_SOLVER, "the ODE solver"),
    INT(NLL, "steps", 1, 100000, "a fixed-step solver's uniform steps"),
    REAL(NLL, "atol", 0, 1, 1, 0, "dopri5's absolute tolerance; 0: 1e-5"),
    REAL(NLL, "rtol", 0, 1, 1, 0, "dopri5's relative tolerance; 0: 1e-5"),
    INT(NLL, "max_steps", 1, 10000000, "dopri5's attempted steps per solve; 0: 1000"),
    INT(NLL, "hutchinson", 1, 100000, "Hutchinson's probes per point; 0: the exact divergence"),

    INT(FMCL_SCOPE_IMAGES, "size", 1, 1024, "an image folder's square side; 0: none"),
    INT(FMCL_SCOPE_IMAGES, "channels", 1, 3, "an image folder's channels: 1 or 3"),
    INT(FMCL_SCOPE_IMAGES, "limit", 1, 2147483647, "the first images only; 0: all"),
};
#define N_SETTINGS ((int)(sizeof table / sizeof table[0]))

const fmcl_setting *fmcl_settings(int *count)
{
    *count = N_SETTINGS;
    return table;
}

const fmcl_setting *fmcl_setting_find(fmcl_setting_scope scope, const char *key)
{
    for (int i = 0; key && i < N_SETTINGS; i++)
        if (table[i].scope == scope && strcmp(table[i].key, key) == 0) return &table[i];
    return NULL;
}

/* "[0, 0.999]", "(0, 10]", "[0, 1)", "at least 0", "greater than 0". */
static void range_text(const fmcl_setting *s, char *buf, size_t len)
{
    if (isinf(s->hi))
        snprintf(buf, len, "%s %.10g", s->lo_open ? "greater than" : "at least", s->lo);
    else
        snprintf(buf, len, "in %c%.10g, %.10g%c", s->lo_open ? '(' : '[', s->lo, s->hi,
                 s->hi_open ? ')' : ']');
}

fmcl_status fmcl_setting_check(const fmcl_setting *s, double v, char *err, size_t errlen)
{
    char range[96], names[160] = "";
    const char *const *list = s ? fmcl_names_of(s->names) : NULL;
    switch (s ? s->type : FMCL_SETTING_U64) {
    case FMCL_SETTING_U64: return s ? FMCL_OK : fmcl_errf(err, errlen, FMCL_ERR_ARG, "no setting");
    case FMCL_SETTING_FLAG:
        if (v == 0 || v == 1) return FMCL_OK;
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "%s must be 0 or 1 (got %g)", s->key, v);
    case FMCL_SETTING_NAME:
        if (v == floor(v) && fmcl_name(s->names, (int)v)) return FMCL_OK;
        for (size_t i = 0, n = 0; list && list[i] && n < sizeof names; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", list[i]);
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "%s must be one of %s (got %g)", s->key, names,
                         v);
    case FMCL_SETTING_INT:
    case FMCL_SETTING_REAL: break;
    }
    const int whole = s->type == FMCL_SETTING_INT ? v == floor(v) : 1;
    /* A float field holds the float nearest to a limit (0.999f > 0.999):
     * values that are floats are compared with the limits as floats. */
    const int f = s->type == FMCL_SETTING_REAL && (double)(float)v == v;
    const double lo = f ? (float)s->lo : s->lo, hi = f ? (float)s->hi : s->hi;
    if (isfinite(v) && whole && (s->lo_open ? v > lo : v >= lo) && (s->hi_open ? v < hi : v <= hi))
        return FMCL_OK;
    range_text(s, range, sizeof range);
    return fmcl_errf(err, errlen, FMCL_ERR_ARG, "%s must be %s (got %.10g)", s->key, range, v);
}

fmcl_status fmcl_setting_check_key(fmcl_setting_scope scope, const char *key, double v, char *err,
                                   size_t errlen)
{
    const fmcl_setting *s = fmcl_setting_find(scope, key);
    if (!s)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl knows no setting '%s' (scope %d)", key,
                         (int)scope);
    return fmcl_setting_check(s, v, err, errlen);
}

fmcl_status fmcl_settings_check(const fmcl_setting_value *v, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        fmcl_status s = fmcl_setting_check_key(v[i].scope, v[i].key, v[i].v, err, errlen);
        if (s != FMCL_OK) return s;
    }
    return FMCL_OK;
}

fmcl_status fmcl_setting_read(const fmcl_setting *s, const char *text, double *v, char *err,
                              size_t errlen)
{
    static const char *const what[] = {"an integer", "an unsigned integer", "a number", "a name",
                                       "0 or 1"};
    char *end = NULL;
    if (!text) return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "%s is missing", s->key);
    int bad = !*text;
    if (s->type == FMCL_SETTING_NAME)
        *v = fmcl_name_value(s->names, text); /* -1, refused below, when unknown */
    else if (s->type == FMCL_SETTING_U64)
        *v = (double)strtoull(text, &end, 10), bad |= *text == '-';
    else if (s->type == FMCL_SETTING_REAL)
        *v = strtod(text, &end);
    else
        *v = (double)strtoll(text, &end, 10);
    if (bad || (end && *end))
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "%s is '%s', not %s", s->key, text,
                         what[s->type]);
    return fmcl_setting_check(s, *v, err, errlen) == FMCL_OK ? FMCL_OK : FMCL_ERR_FORMAT;
}
