/* v(x, t[, y]) of a model on host arrays (include/fmcl/model.h): each row's
 * input [x, features(t), one-hot(y)] is built on the host (the features as
 * fmcl_time_input_ref computes them, to rounding those of the device's
 * sampling), then the network runs in chunks of fmcl_net_chunk rows. */
#include <stdlib.h>
#include <string.h>

#include "flow/flow_ops.h"
#include "nn/model.h"

fmcl_status fmcl_model_forward(fmcl_model *model, const float *x, const float *t, const int *y,
                               int n, float *v)
{
    const fmcl_net *m = &model->net;
    fmcl_ctx *ctx = m->ctx;
    const int D = m->dim, W = m->in_width, K = m->classes;
    if (n < 1 || !x || !t || !v)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "forward needs n >= 1 points (got %d), x, t and v", n);
    if (y && K == 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "the model is unconditional: evaluate it without classes");
    for (int i = 0; y && i < n; i++)
        if (y[i] < -1 || y[i] >= K)
            return fmcl_fail(ctx, FMCL_ERR_ARG,
                             "class %d of point %d is not one of the model's %d classes (0 to "
                             "%d, or -1 for the null class)",
                             y[i], i, K, K - 1);
    const int R = n < fmcl_net_chunk(m) ? n : fmcl_net_chunk(m);
    float *rows = malloc(sizeof *rows * (size_t)R * W);
    if (!rows) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "no host memory for %d rows", R);
    fmcl_net_acts acts;
    fmcl_t buf = {0};
    fmcl_status s = fmcl_net_acts_create(m, R, &acts);
    if (s == FMCL_OK)
        s = fmcl_alloc(ctx, sizeof(float) * (size_t)R * (W + D), &buf, "forward's rows");
    const fmcl_t X = buf, V = fmcl_at(buf, (size_t)R * W);
    for (int r0 = 0; s == FMCL_OK && r0 < n; r0 += R) {
        const int rows_now = n - r0 < R ? n - r0 : R;
        memset(rows, 0, sizeof *rows * (size_t)rows_now * W); /* the null class: zeros */
        for (int r = 0; r < rows_now; r++) {
            const int i = r0 + r;
            float *row = rows + (size_t)r * W;
            fmcl_time_input_ref(row, x + (size_t)i * D, t[i], 1, D, m->time_freqs);
            if (y && y[i] >= 0) row[W - K + y[i]] = 1.0f;
        }
        s = fmcl_write(ctx, X, rows, sizeof *rows * (size_t)rows_now * W);
        if (s == FMCL_OK) s = fmcl_net_forward(m, &acts, V, X, rows_now);
        if (s == FMCL_OK) s = fmcl_read(ctx, V, v + (size_t)r0 * D, sizeof *v * rows_now * D);
    }
    fmcl_release(&buf);
    fmcl_net_acts_free(&acts);
    free(rows);
    return s;
}
