/* The paths' parameter checks and schedules in double (the reference
 * the kernel in kernels/path.cl is tested against), and the starting noise
 * a trained model needs. Formulas: fmcl_path_kind in fmcl.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow/paths.h"
#include "flow/sample.h"
#include "io/atomic.h"
#include "io/settings.h"
#include "nn/model.h"

fmcl_path fmcl_path_ot(float sigma_min) { return (fmcl_path){FMCL_PATH_OT, sigma_min, 0.0f, 1.0f}; }

fmcl_status fmcl_path_from_config(fmcl_ctx *ctx, const fmcl_train_config *c, fmcl_path *p)
{
    char err[256];
    const char *k0 = NULL, *k1 = NULL; /* the settings p0 and p1 come from */
    *p = (fmcl_path){c->path, 0.0f, 0.0f, 1.0f};
    switch (c->path) {
    case FMCL_PATH_OT: p->p0 = c->sigma_min, k0 = "sigma_min"; break;
    case FMCL_PATH_VP:
        p->p0 = c->beta_min, p->p1 = c->beta_max, k0 = "beta_min", k1 = "beta_max";
        p->t_max = (float)(1.0 - FMCL_PATH_T_EPS);
        break;
    case FMCL_PATH_VE:
        p->p0 = c->sigma_lo, p->p1 = c->sigma_hi, k0 = "sigma_lo", k1 = "sigma_hi";
        break;
    /* n < 1 would make alpha' = n t^(n-1) infinite at t = 0 (the table's limit). */
    case FMCL_PATH_POLY: p->p0 = c->poly_n, k0 = "poly_n"; break;
    case FMCL_PATH_LINEAR_VP: p->t_max = (float)(1.0 - FMCL_PATH_T_EPS); break;
    default: break;
    }
    fmcl_status s = fmcl_setting_check_key(FMCL_SCOPE_TRAIN, "path", c->path, err, sizeof err);
    if (s == FMCL_OK && k0)
        s = fmcl_setting_check_key(FMCL_SCOPE_TRAIN, k0, p->p0, err, sizeof err);
    if (s == FMCL_OK && k1)
        s = fmcl_setting_check_key(FMCL_SCOPE_TRAIN, k1, p->p1, err, sizeof err);
    if (s == FMCL_OK && c->path == FMCL_PATH_VP && !(c->beta_max >= c->beta_min))
        s = fmcl_errf(err, sizeof err, FMCL_ERR_ARG, "the VP path needs beta_min <= beta_max");
    if (s == FMCL_OK && c->path == FMCL_PATH_VE && !(c->sigma_hi > c->sigma_lo))
        s = fmcl_errf(err, sizeof err, FMCL_ERR_ARG, "the VE path needs sigma_lo < sigma_hi");
    if (s == FMCL_OK) return FMCL_OK;
    return ctx ? fmcl_fail(ctx, s, "invalid training configuration: %s", err) : s;
}

void fmcl_path_schedule(const fmcl_path *p, double t, double s[4])
{
    const double a0 = p->p0, a1 = p->p1;
    switch (p->kind) {
    case FMCL_PATH_VP: {
        /* T(1 - t) = int_0^(1-t) beta; 1 - alpha^2 through expm1, exact near t = 1. */
        const double r = 1.0 - t, T = a0 * r + 0.5 * (a1 - a0) * r * r;
        const double beta = a0 + (a1 - a0) * r;
        s[0] = exp(-0.5 * T);
        s[1] = sqrt(-expm1(-T));
        s[2] = 0.5 * beta * s[0];
        s[3] = -s[0] * s[2] / s[1];
        return;
    }
    case FMCL_PATH_VE: {
        const double L = log(a1 / a0);
        s[0] = 1.0;
        s[1] = a0 * exp((1.0 - t) * L);
        s[2] = 0.0;
        s[3] = -L * s[1];
        return;
    }
    case FMCL_PATH_COSINE:
        s[0] = sin(M_PI_2 * t);
        s[1] = cos(M_PI_2 * t);
        s[2] = M_PI_2 * s[1];
        s[3] = -M_PI_2 * s[0];
        return;
    case FMCL_PATH_POLY:
        s[0] = pow(t, a0);
        s[1] = 1.0 - s[0];
        s[2] = a0 * pow(t, a0 - 1.0);
        s[3] = -s[2];
        return;
    case FMCL_PATH_LINEAR_VP:
        s[0] = t;
        s[1] = sqrt((1.0 - t) * (1.0 + t));
        s[2] = 1.0;
        s[3] = -t / s[1];
        return;
    default: /* FMCL_PATH_OT */
        s[0] = t;
        s[1] = 1.0 - (1.0 - a0) * t;
        s[2] = 1.0;
        s[3] = -(1.0 - a0);
    }
}

float fmcl_train_x0_std(const fmcl_train_config *cfg)
{
    return cfg->path == FMCL_PATH_VE ? cfg->sigma_hi : 1.0f;
}

fmcl_status fmcl_model_x0_std(const fmcl_model *m, float *std)
{
    *std = 1.0f;
    const char *path = fmcl_model_meta(m, "path");
    if (!path) return FMCL_OK;
    const int kind = fmcl_name_value(FMCL_NAMES_PATH, path);
    if (kind < 0)
        return fmcl_fail(m->ctx, FMCL_ERR_FORMAT,
                         "the checkpoint's path '%s' is unknown to fmcl %s (known: ot, vp, ve, "
                         "cosine, poly, linear-vp); was it written by a newer fmcl?",
                         path, FMCL_VERSION);
    if (kind != FMCL_PATH_VE) return FMCL_OK;
    const char *v = fmcl_model_meta(m, "sigma_hi");
    char *end = NULL;
    const double s = v ? strtod(v, &end) : NAN;
    if (!v || end == v || *end || !(s > 0) || !isfinite(s))
        return fmcl_fail(m->ctx, FMCL_ERR_FORMAT,
                         "the checkpoint was trained on the VE path but its metadata 'sigma_hi' "
                         "is %s%s%s, not a positive number; pass x0_std (fmcl_sample_config) "
                         "explicitly or re-save the model with it",
                         v ? "'" : "", v ? v : "missing", v ? "'" : "");
    *std = (float)s;
    return FMCL_OK;
}
