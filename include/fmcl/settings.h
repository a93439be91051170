/* fmcl/settings.h: one table of the names and limits of every setting.
 *
 * The trainer, the models, the sampler and the likelihood validate their
 * configs against this table, the checkpoint reader validates what a file
 * records against it, and the fmcl command takes its flags' ranges and
 * choices from it: a limit is written once. A setting is named by its scope
 * (the config struct it belongs to) and its key, the struct's field name,
 * which is also the __metadata__ key a checkpoint records it under
 * ("sigma_min"). Where a field's 0 means "the default" or "off" (the
 * solvers' atol, rtol and max_steps, x0_std, hutchinson, an image set's
 * limit and size) 0 is accepted besides the range given here. */
#ifndef FMCL_SETTINGS_H
#define FMCL_SETTINGS_H

#include "fmcl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The lists of names, each in the order of its enum's values. */
typedef enum {
    FMCL_NAMES_PATH = 0,    /* fmcl_path_kind: "ot", "vp", "ve", "cosine", "poly", "linear-vp" */
    FMCL_NAMES_COUPLING,    /* fmcl_coupling: "independent", "ot" */
    FMCL_NAMES_LR_SCHEDULE, /* fmcl_lr_schedule: "constant", "cosine" */
    FMCL_NAMES_SOLVER,      /* fmcl_solver: euler, midpoint, heun, rk4, dopri5, rk4-38 */
    FMCL_NAMES_MODEL,       /* fmcl_model_kind: "mlp", "unet" */
    FMCL_NAMES_TOY,     /* fmcl_toy: "checkerboard", "8gaussians", "moons", "rings", "spirals" */
    FMCL_NAMES_WEIGHTS, /* fmcl_weights: "default", "raw", "ema" */
    FMCL_NAMES_COUNT
} fmcl_names;

/* The names of a list, NULL-terminated (NULL for an unknown list). */
FMCL_API const char *const *fmcl_names_of(fmcl_names list);
/* The name of value in a list; NULL when it has none. */
FMCL_API const char *fmcl_name(fmcl_names list, int value);
/* The value a name stands for in a list (exact match); -1 when unknown. */
FMCL_API int fmcl_name_value(fmcl_names list, const char *name);

/* The config struct a setting belongs to. */
typedef enum {
    FMCL_SCOPE_TRAIN = 0, /* fmcl_train_config */
    FMCL_SCOPE_MODEL,     /* fmcl_model_config: kind, dim, classes */
    FMCL_SCOPE_MLP,       /* fmcl_mlp_config */
    FMCL_SCOPE_UNET,      /* fmcl_unet_config (mult: each entry) */
    FMCL_SCOPE_SAMPLE,    /* fmcl_sample_config */
    FMCL_SCOPE_NLL,       /* fmcl_nll_config */
    FMCL_SCOPE_IMAGES     /* fmcl_image_options */
} fmcl_setting_scope;

typedef enum {
    FMCL_SETTING_INT = 0, /* an int within [lo, hi] */
    FMCL_SETTING_U64,     /* a uint64_t, any value */
    FMCL_SETTING_REAL,    /* a finite float or double within [lo, hi]; lo_open and hi_open
                             exclude the ends (hi may be infinite) */
    FMCL_SETTING_NAME,    /* an enum, stored as its value, written by its name in `names` */
    FMCL_SETTING_FLAG     /* an int, 0 or 1 */
} fmcl_setting_type;

typedef struct {
    fmcl_setting_scope scope;
    const char *key; /* "sigma_min" */
    fmcl_setting_type type;
    double lo, hi;
    int lo_open, hi_open;
    fmcl_names names;  /* FMCL_SETTING_NAME: its list */
    const char *about; /* one line in the library's words: "the OT path's sigma_min" */
} fmcl_setting;

/* Every setting, *count of them (the table is static: never freed). */
FMCL_API const fmcl_setting *fmcl_settings(int *count);
/* The setting of a key in a scope; NULL when there is none. */
FMCL_API const fmcl_setting *fmcl_setting_find(fmcl_setting_scope scope, const char *key);
/* FMCL_OK when v is an acceptable value of s (for NAME, a value of its
 * list), else FMCL_ERR_ARG with a message naming the key and the range in
 * err ("sigma_min must be in [0, 0.999]"). */
FMCL_API fmcl_status fmcl_setting_check(const fmcl_setting *s, double v, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
