/* Plain-C MLP in double: the oracle for the device forward/backward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/mlp.h"

static double silu(double z) { return z / (1.0 + exp(-z)); }

static double silu_grad(double z)
{
    double s = 1.0 / (1.0 + exp(-z));
    return s * (1.0 + z * (1.0 - s));
}

/* Runs the forward keeping every layer's input and pre-activation:
 * xs[l] = input of layer l ([B, in_l]), zs[l] = pre-activation ([B, out_l]). */
static void forward_all(const fmcl_mlp *m, const float *P, const float *X, int B, double **xs,
                        double **zs)
{
    for (size_t i = 0; i < (size_t)B * m->in[0]; i++) xs[0][i] = X[i];
    for (int l = 0; l < m->n_layers; l++) {
        int in = m->in[l], o = m->out[l];
        const float *W = P + m->w_off[l], *b = P + m->b_off[l];
        for (int r = 0; r < B; r++)
            for (int j = 0; j < o; j++) {
                double acc = b[j];
                for (int k = 0; k < in; k++)
                    acc += xs[l][(size_t)r * in + k] * W[(size_t)j * in + k];
                zs[l][(size_t)r * o + j] = acc;
                if (l + 1 < m->n_layers) xs[l + 1][(size_t)r * o + j] = silu(acc);
            }
    }
}

static int alloc_all(const fmcl_mlp *m, int B, double **xs, double **zs)
{
    int ok = 1;
    for (int l = 0; l < m->n_layers; l++) {
        xs[l] = malloc((size_t)B * m->in[l] * sizeof(double));
        zs[l] = malloc((size_t)B * m->out[l] * sizeof(double));
        ok = ok && xs[l] && zs[l];
    }
    return ok;
}

static void free_all(const fmcl_mlp *m, double **xs, double **zs)
{
    for (int l = 0; l < m->n_layers; l++) {
        free(xs[l]);
        free(zs[l]);
    }
}

void fmcl_mlp_forward_ref(const fmcl_mlp *m, const float *params, const float *X, int B,
                          double *out)
{
    double *xs[FMCL_MLP_MAX_LAYERS] = {0}, *zs[FMCL_MLP_MAX_LAYERS] = {0};
    if (alloc_all(m, B, xs, zs)) {
        forward_all(m, params, X, B, xs, zs);
        memcpy(out, zs[m->n_layers - 1], (size_t)B * m->cfg.dim * sizeof(double));
    }
    free_all(m, xs, zs);
}

void fmcl_mlp_backward_ref(const fmcl_mlp *m, const float *params, const float *X,
                           const double *dout, int B, double *grads, double *dX)
{
    double *xs[FMCL_MLP_MAX_LAYERS] = {0}, *zs[FMCL_MLP_MAX_LAYERS] = {0};
    int maxw = m->cfg.width > m->in[0] ? m->cfg.width : m->in[0];
    double *dz = malloc((size_t)B * maxw * sizeof(double));
    double *dn = malloc((size_t)B * maxw * sizeof(double));
    if (alloc_all(m, B, xs, zs) && dz && dn) {
        forward_all(m, params, X, B, xs, zs);
        memcpy(dz, dout, (size_t)B * m->cfg.dim * sizeof(double));
        for (int l = m->n_layers - 1; l >= 0; l--) {
            int in = m->in[l], o = m->out[l];
            const float *W = params + m->w_off[l];
            double *gW = grads + m->w_off[l], *gb = grads + m->b_off[l];
            for (int r = 0; r < B; r++)
                for (int j = 0; j < o; j++) {
                    double d = dz[(size_t)r * o + j];
                    gb[j] += d;
                    for (int k = 0; k < in; k++)
                        gW[(size_t)j * in + k] += d * xs[l][(size_t)r * in + k];
                }
            if (l == 0 && !dX) break;
            for (int r = 0; r < B; r++)
                for (int k = 0; k < in; k++) {
                    double acc = 0;
                    for (int j = 0; j < o; j++)
                        acc += dz[(size_t)r * o + j] * W[(size_t)j * in + k];
                    dn[(size_t)r * in + k] = l > 0 ? acc * silu_grad(zs[l - 1][(size_t)r * in + k])
                                                   : acc;
                }
            if (l == 0) memcpy(dX, dn, (size_t)B * in * sizeof(double));
            double *t = dz;
            dz = dn;
            dn = t;
        }
    }
    free(dz);
    free(dn);
    free_all(m, xs, zs);
}
