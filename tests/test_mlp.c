/* The MLP: the CPU reference's backward against central finite differences,
 * then the device forward/backward against the CPU reference, the nn.Linear
 * initialisation bounds, and a checkpoint round trip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/model.h"
#include "testlib.h"

static double loss_of(const fmcl_mlp *m, const float *P, const float *X, const double *R, int B)
{
    size_t n = (size_t)B * m->cfg.dim;
    double *out = malloc(n * sizeof *out), L = 0;
    fmcl_mlp_forward_ref(m, P, X, B, out);
    for (size_t i = 0; i < n; i++) L += out[i] * R[i];
    free(out);
    return L;
}

/* Central difference of L = sum(out * R) w.r.t. *x, using the float values
 * actually stored so the step is exact. */
static double central(const fmcl_mlp *m, float *P, float *X, const double *R, int B, float *x)
{
    float x0 = *x, h = 1e-3f * (fabsf(x0) > 1 ? fabsf(x0) : 1);
    float xp = x0 + h, xm = x0 - h;
    *x = xp;
    double lp = loss_of(m, P, X, R, B);
    *x = xm;
    double lm = loss_of(m, P, X, R, B);
    *x = x0;
    return (lp - lm) / ((double)xp - (double)xm);
}

/* fd: also check the CPU backward by finite differences (small models only). */
static void check_config(fmcl_ctx *ctx, fmcl_mlp_spec cfg, int B, int fd)
{
    fmcl_mlp *m;
    if (!tl_check(fmcl_mlp_create(ctx, &cfg, 7, &m) == FMCL_OK, "create: %s", fmcl_ctx_error(ctx)))
        return;
    char tag[64];
    snprintf(tag, sizeof tag, "w%d d%d f%d B%d", cfg.width, cfg.depth, cfg.time_freqs, B);
    size_t np = m->n_params, nx = (size_t)B * m->in[0], no = (size_t)B * cfg.dim;
    float *P = malloc(np * 4), *X = malloc(nx * 4), *got = malloc((np > nx ? np : nx) * 4);
    double *R = malloc(no * 8), *g = calloc(np, 8), *dX = calloc(nx, 8), *out = malloc(no * 8);
    float *Rf = malloc(no * 4);
    tl_check(fmcl_read(ctx, m->params, P, np * 4) == FMCL_OK, "%s: read parameters: %s", tag,
             fmcl_ctx_error(ctx));
    tl_fill(X, nx, -2, 2, 11);
    tl_fill(Rf, no, -1, 1, 12);
    for (size_t i = 0; i < no; i++) R[i] = Rf[i];

    /* nn.Linear default initialisation: |p| <= 1/sqrt(fan_in), spread uniformly. */
    int in_bounds = 1;
    for (int l = 0; l < m->n_layers; l++)
        for (size_t j = m->w_off[l]; j < m->b_off[l] + (size_t)m->out[l]; j++)
            in_bounds &= fabs(P[j]) <= 1.0 / sqrt((double)m->in[l]);
    tl_check(in_bounds, "%s: a parameter lies outside U(-1/sqrt(in), 1/sqrt(in))", tag);

    /* CPU backward vs finite differences (every parameter and input). */
    fmcl_mlp_backward_ref(m, P, X, R, B, g, dX);
    double worst = 0;
    for (size_t j = 0; fd && j < np; j++) {
        double d = central(m, P, X, R, B, &P[j]);
        double e = fabs(d - g[j]) / (1e-4 + fabs(g[j]));
        if (e > worst) worst = e;
    }
    for (size_t j = 0; fd && j < nx; j++) {
        double d = central(m, P, X, R, B, &X[j]);
        double e = fabs(d - dX[j]) / (1e-4 + fabs(dX[j]));
        if (e > worst) worst = e;
    }
    if (fd) {
        printf("  %-40s max rel err vs finite differences %.2e\n", tag, worst);
        tl_check(worst < 1e-3, "%s: CPU backward disagrees with finite differences (%.2e)", tag,
                 worst);
    }

    /* Device forward/backward vs the CPU reference. */
    fmcl_mlp_acts a;
    tl_buf bx, bout, bdout, bg, bdx;
    if (tl_check(fmcl_mlp_acts_create(m, B + 3, &a) == FMCL_OK, "acts: %s", fmcl_ctx_error(ctx)) &&
        tl_buf_new(ctx, &bx, nx, X) && tl_buf_new(ctx, &bout, no, NULL) &&
        tl_buf_new(ctx, &bdout, no, Rf) && tl_buf_new(ctx, &bg, np, NULL) &&
        tl_buf_new(ctx, &bdx, nx, NULL)) {
        fmcl_mlp_forward_ref(m, P, X, B, out);
        fmcl_status s = fmcl_mlp_forward(m, &a, bout.t, bx.t, B);
        if (tl_check(s == FMCL_OK, "forward: %s", fmcl_ctx_error(ctx)) &&
            tl_buf_read(ctx, &bout, got)) {
            tl_close("mlp forward", got, out, no, 1e-4, 1e-4);
            tl_guard_ok(ctx, &bout, "mlp forward");
        }
        s = fmcl_mlp_backward(m, &a, bg.t, bdout.t, bx.t, bdx.t, B);
        if (tl_check(s == FMCL_OK, "backward: %s", fmcl_ctx_error(ctx)) &&
            tl_buf_read(ctx, &bg, got)) {
            tl_close("mlp backward: parameter gradients", got, g, np, 1e-4, 1e-3);
            tl_guard_ok(ctx, &bg, "mlp gradients");
            tl_buf_read(ctx, &bdx, got);
            tl_close("mlp backward: input gradient", got, dX, nx, 1e-4, 1e-3);
            tl_guard_ok(ctx, &bdx, "mlp input gradient");
        }
        fmcl_mlp_acts_free(&a);
    }
    tl_buf_free(&bx), tl_buf_free(&bout), tl_buf_free(&bdout), tl_buf_free(&bg), tl_buf_free(&bdx);

    /* The public model of the same config and seed: the same parameters, and a
     * checkpoint round trip keeps them, the config and the metadata. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/fmcl-test-mlp-%d.safetensors", (int)getpid());
    fmcl_model *pm = tl_mlp(ctx, cfg.dim, cfg.width, cfg.depth, cfg.time_freqs, cfg.classes, 7);
    fmcl_model *m2 = NULL;
    if (pm && tl_check(fmcl_model_set_meta(pm, "note", "round trip") == FMCL_OK, "meta") &&
        tl_check(fmcl_model_save(pm, path) == FMCL_OK, "save: %s", fmcl_ctx_error(ctx)) &&
        tl_check(fmcl_model_load(ctx, path, FMCL_WEIGHTS_DEFAULT, &m2) == FMCL_OK, "load: %s",
                 fmcl_ctx_error(ctx))) {
        tl_check(fmcl_model_param_count(m2) == np &&
                     fmcl_read(ctx, m2->net.params, got, np * 4) == FMCL_OK &&
                     memcmp(got, P, np * 4) == 0 &&
                     memcmp(fmcl_model_get_config(m2), fmcl_model_get_config(pm),
                            sizeof(fmcl_model_config)) == 0,
                 "%s: checkpoint round trip changed the model", tag);
        const char *note = fmcl_model_meta(m2, "note");
        tl_check(note && strcmp(note, "round trip") == 0, "checkpoint metadata lost");
    }
    unlink(path);
    fmcl_model_free(m2);
    fmcl_model_free(pm);
    fmcl_mlp_free(m);
    free(P), free(X), free(got), free(R), free(g), free(dX), free(out), free(Rf);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    check_config(ctx, (fmcl_mlp_spec){.dim = 2, .width = 7, .depth = 3}, 5, 1);
    check_config(ctx, (fmcl_mlp_spec){.dim = 3, .width = 33, .depth = 1, .time_freqs = 3}, 9, 1);
    check_config(ctx, (fmcl_mlp_spec){.dim = 2, .width = 65, .depth = 2}, 130, 0);
    /* Wide first and last layers: GEMMs there too, not linear.cl's kernels. */
    check_config(ctx, (fmcl_mlp_spec){.dim = 35, .width = 40, .depth = 2}, 67, 0);
    return 0;
}

int main(void) { return tl_for_each_device(run, NULL); }
