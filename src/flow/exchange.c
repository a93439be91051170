/* The gradient exchange (flow/exchange.h). */
#include "flow/exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/backend.h"

fmcl_status fmcl_exchange_init(fmcl_ctx *ctx, fmcl_exchange *x, fmcl_group *g, size_t n)
{
    memset(x, 0, sizeof *x);
    x->group = g;
    x->n = n;
    if (fmcl_group_size(g) == 1) return FMCL_OK;
    x->host = malloc((n + 2) * sizeof *x->host);
    if (!x->host)
        return fmcl_fail(ctx, FMCL_ERR_NOMEM,
                         "out of host memory for the gradient exchange (%.1f MiB)",
                         (n + 2) * 4.0 / 1048576.0);
    return FMCL_OK;
}

void fmcl_exchange_free(fmcl_exchange *x)
{
    free(x->host);
    x->host = NULL;
}

/* A failure of the group, on ctx. */
static fmcl_status group_failed(fmcl_ctx *ctx, fmcl_exchange *x, fmcl_status s)
{
    return fmcl_fail(ctx, s, "%s", fmcl_group_error(x->group));
}

fmcl_status fmcl_exchange_step(fmcl_ctx *ctx, fmcl_exchange *x, fmcl_t grads, fmcl_t loss,
                               fmcl_status mine, const char *why)
{
    if (fmcl_group_size(x->group) == 1) return mine;
    const double t0 = fmcl_group_now();
    if (mine == FMCL_OK) mine = fmcl_finish(ctx);
    const double t1 = fmcl_group_now();
    if (mine == FMCL_OK) mine = fmcl_read(ctx, grads, x->host, x->n * sizeof *x->host);
    if (mine == FMCL_OK) mine = fmcl_read(ctx, loss, x->host + x->n, sizeof *x->host);
    if (mine != FMCL_OK && why == NULL) why = fmcl_ctx_error(ctx);
    if (mine != FMCL_OK) memset(x->host, 0, (x->n + 1) * sizeof *x->host);
    x->host[x->n + 1] = mine == FMCL_OK ? 0.0f : 1.0f;
    const double t2 = fmcl_group_now();
    fmcl_status s = fmcl_group_sum(x->group, x->host, x->n + 2);
    const double t3 = fmcl_group_now();
    if (s != FMCL_OK) return group_failed(ctx, x, s);
    if (x->host[x->n + 1] != 0.0f) {
        /* Some rank failed: every rank learns which and why, and stops. */
        s = fmcl_group_agree(x->group, mine, why);
        return group_failed(ctx, x, s != FMCL_OK ? s : FMCL_ERR_GROUP);
    }
    s = fmcl_write(ctx, grads, x->host, x->n * sizeof *x->host);
    if (s == FMCL_OK) s = fmcl_write(ctx, loss, x->host + x->n, sizeof *x->host);
    x->count++;
    x->wait_seconds += t1 - t0;
    x->seconds += fmcl_group_now() - t1;
    x->sum_seconds += t3 - t2;
    x->floats += x->n + 2;
    return s;
}

fmcl_status fmcl_weights_checksum(fmcl_ctx *ctx, fmcl_t params, size_t n, float *scratch,
                                  uint64_t *out)
{
    fmcl_status s = fmcl_read(ctx, params, scratch, n * sizeof *scratch);
    *out = s == FMCL_OK ? fmcl_fnv1a(scratch, n * sizeof *scratch, FMCL_FNV1A_INIT) : 0;
    return s;
}

fmcl_status fmcl_exchange_check_weights(fmcl_ctx *ctx, fmcl_exchange *x, fmcl_t params, int step)
{
    if (fmcl_group_size(x->group) == 1) return FMCL_OK;
    uint64_t h = 0;
    fmcl_status s = fmcl_weights_checksum(ctx, params, x->n, x->host, &h);
    /* A rank that cannot read its weights still answers (its 0 differs). */
    char what[96];
    snprintf(what, sizeof what, "the weights' checksum after step %d", step);
    fmcl_status same = fmcl_group_same(x->group, h, what);
    if (same != FMCL_OK) return group_failed(ctx, x, same);
    return s;
}
