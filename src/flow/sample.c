/* Sampling: integrate dx/dt = v(x, t) from t = 0 (x0 ~ N(0, I) or the given
 * points) to t = 1 with a fixed-step solver, in chunks of rows so memory
 * stays bounded for any n. */
#include <stdlib.h>
#include <string.h>

#include "flow/flow_ops.h"
#include "flow/rng.h"
#include "nn/mlp.h"

#define SAMPLE_CHUNK 4096

typedef struct {
    fmcl_mlp *m;
    fmcl_mlp_acts *acts;
    fmcl_t X;
    int rows;
    int nfe;
    /* trajectory recording */
    fmcl_t state;
    float *traj;
    size_t stride; /* floats per recorded state (n * dim) */
    size_t row0;   /* first row of this chunk */
} sampler;

static fmcl_status velocity(void *user, fmcl_t v, fmcl_t x, float t)
{
    sampler *sp = user;
    fmcl_mlp *m = sp->m;
    fmcl_status s = ++sp->nfe % 16 == 0 ? fmcl_pace(m->ctx) : FMCL_OK; /* bounded queue */
    if (s == FMCL_OK)
        s = fmcl_time_input(m->ctx, sp->X, x, t, sp->rows, m->cfg.dim, m->cfg.time_freqs);
    return s == FMCL_OK ? fmcl_mlp_forward(m, sp->acts, v, sp->X, sp->rows) : s;
}

static fmcl_status record(void *user, int k, float t)
{
    (void)t;
    sampler *sp = user;
    size_t D = (size_t)sp->m->cfg.dim;
    return fmcl_read(sp->m->ctx, sp->state, sp->traj + (size_t)k * sp->stride + sp->row0 * D,
                     (size_t)sp->rows * D * sizeof(float));
}

fmcl_status fmcl_sample(fmcl_mlp *m, const fmcl_sample_config *cfg, float *out, float *traj,
                        int *nfe)
{
    fmcl_ctx *ctx = m->ctx;
    int D = m->cfg.dim, W = m->in[0];
    if (cfg->n < 1) return fmcl_fail(ctx, FMCL_ERR_ARG, "number of samples must be >= 1");
    if (cfg->steps < 1) return fmcl_fail(ctx, FMCL_ERR_ARG, "solver steps must be >= 1");
    if (fmcl_solver_nfe_per_step(cfg->solver) < 1)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "unknown solver %d", cfg->solver);
    int chunk = cfg->n < SAMPLE_CHUNK ? cfg->n : SAMPLE_CHUNK;
    size_t cd = (size_t)chunk * D;
    int wk = fmcl_solver_work(cfg->solver);
    fmcl_mlp_acts acts;
    fmcl_status s = fmcl_mlp_acts_create(m, chunk, &acts);
    if (s != FMCL_OK) return s;
    cl_mem buf = NULL;
    s = fmcl_alloc(ctx, ((size_t)cfg->n * D + cd * (1 + wk) + (size_t)chunk * W) * sizeof(float),
                   &buf, "sampling buffers");
    sampler sp = {.m = m, .acts = &acts, .traj = traj, .stride = (size_t)cfg->n * D};
    fmcl_t x0 = {buf, 0}, state = {buf, (size_t)cfg->n * D}, work = fmcl_at(state, cd);
    sp.X = fmcl_at(work, cd * wk);
    sp.state = state;
    /* All starting points at once: independent of the chunking. */
    if (s == FMCL_OK && cfg->x0)
        s = fmcl_write(ctx, x0, cfg->x0, (size_t)cfg->n * D * sizeof(float));
    else if (s == FMCL_OK)
        s = fmcl_randn(ctx, x0, cfg->seed, FMCL_STREAM_SAMPLE, 0, cfg->n * D);
    if (s == FMCL_OK && traj) s = fmcl_read(ctx, x0, traj, (size_t)cfg->n * D * sizeof(float));
    for (int r = 0; s == FMCL_OK && r < cfg->n; r += chunk) {
        sp.rows = cfg->n - r < chunk ? cfg->n - r : chunk;
        sp.row0 = (size_t)r;
        sp.nfe = 0;
        size_t bytes = (size_t)sp.rows * D * sizeof(float);
        s = fmcl_copy(ctx, state, fmcl_at(x0, (size_t)r * D), (size_t)sp.rows * D);
        if (s == FMCL_OK)
            s = fmcl_integrate(ctx, cfg->solver, 0.0f, 1.0f, cfg->steps, state, sp.rows * D, work,
                               velocity, &sp, traj ? record : NULL, &sp);
        if (s == FMCL_OK) s = fmcl_read(ctx, state, out + (size_t)r * D, bytes);
    }
    if (s == FMCL_OK && nfe) *nfe = sp.nfe;
    fmcl_release(&buf);
    fmcl_mlp_acts_free(&acts);
    return s;
}
