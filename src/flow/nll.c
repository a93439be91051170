/* Likelihood of a flow: integrate the augmented state [x, delta] with
 * dx/dt = v(x, t), d delta/dt = div v(x, t) from t = 1 (the data point,
 * delta = 0) back to t = 0, then log p1(x1) = log N(x0; 0, I) + delta(0),
 * since delta(0) = -int_0^1 div v dt. The divergence is exact (D
 * vector-Jacobian products) or Hutchinson's z^T (dv/dx) z with a Rademacher
 * probe z fixed for the whole solve (so each solve is an ODE, and its
 * estimate of log p is unbiased); K solves are averaged. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow/classes.h"
#include "flow/flow_ops.h"
#include "flow/kernels.h"
#include "flow/nll.h"
#include "flow/sample.h"
#include "io/settings.h"
#include "nn/nn_ops.h"
#include "runtime/rng.h"
#include "runtime/vec.h"

#define TRY(call)                                                                                  \
    do {                                                                                           \
        fmcl_status s_ = (call);                                                                   \
        if (s_ != FMCL_OK) return s_;                                                              \
    } while (0)

/* ---- device ops and their references ---------------------------------------- */

void fmcl_rademacher_ref(float *z, uint64_t seed, uint32_t first, uint32_t solve, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t e = first + (uint32_t)i, r[4];
        fmcl_philox(seed, e / 4, 0, FMCL_STREAM_PROBE, solve, r);
        z[i] = r[e % 4] >> 31 ? -1.0f : 1.0f;
    }
}

fmcl_status fmcl_rademacher(fmcl_ctx *ctx, fmcl_t z, uint64_t seed, uint32_t first, uint32_t solve,
                            int n)
{
    if (n < 0 || (uint64_t)first + (uint64_t)n > UINT32_MAX + 1ull)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_rademacher: elements %u + %d exceed the probe counter's 2^32; "
                         "evaluate fewer points at once",
                         first, n);
    return fmcl_run1(ctx, FMCL_K_rademacher, (size_t)n, "tluui", z, seed, (unsigned)first,
                     (unsigned)solve, n);
}

void fmcl_onehot_rows_ref(float *u, int col, int rows, int D)
{
    for (size_t i = 0; i < (size_t)rows * D; i++) u[i] = (int)(i % (size_t)D) == col ? 1.0f : 0.0f;
}

fmcl_status fmcl_onehot_rows(fmcl_ctx *ctx, fmcl_t u, int col, int rows, int D)
{
    if (rows < 0 || D < 1 || col < 0 || col >= D)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_onehot_rows: column %d of %d rows of width %d",
                         col, rows, D);
    return fmcl_run1(ctx, FMCL_K_onehot_rows, (size_t)rows * D, "tiii", u, col, D, rows * D);
}

void fmcl_div_column_ref(float *div, const float *g, int ldg, int col, int add, int rows)
{
    for (int r = 0; r < rows; r++) {
        const float v = g[(size_t)r * ldg + col];
        div[r] = add ? div[r] + v : v;
    }
}

fmcl_status fmcl_div_column(fmcl_ctx *ctx, fmcl_t div, fmcl_t g, int ldg, int col, int add,
                            int rows)
{
    if (rows < 0 || col < 0 || col >= ldg)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_div_column: column %d of rows of stride %d", col,
                         ldg);
    return fmcl_run1(ctx, FMCL_K_div_column, (size_t)rows, "ttiiii", div, g, ldg, col, add, rows);
}

void fmcl_div_probe_ref(float *div, const float *g, int ldg, const float *z, int rows, int D)
{
    for (int r = 0; r < rows; r++) {
        double acc = 0;
        for (int j = 0; j < D; j++) acc += (double)g[(size_t)r * ldg + j] * z[(size_t)r * D + j];
        div[r] = (float)acc;
    }
}

fmcl_status fmcl_div_probe(fmcl_ctx *ctx, fmcl_t div, fmcl_t g, int ldg, fmcl_t z, int rows, int D)
{
    if (rows < 0 || D < 1 || ldg < D)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_div_probe: %d rows of width %d, stride %d", rows,
                         D, ldg);
    return fmcl_run1(ctx, FMCL_K_div_probe, (size_t)rows, "ttitii", div, g, ldg, z, D, rows);
}

/* ---- divergence and the augmented ODE ----------------------------------------- */

fmcl_status fmcl_field_div(fmcl_ctx *ctx, const fmcl_field *f, fmcl_t div, fmcl_t probe, fmcl_t u,
                           fmcl_t g, int rows)
{
    if (probe.mem) {
        TRY(f->vjp(f->user, g, probe, rows));
        return fmcl_div_probe(ctx, div, g, f->ldg, probe, rows, f->dim);
    }
    for (int i = 0; i < f->dim; i++) { /* row i of the Jacobian, keep its diagonal entry */
        TRY(fmcl_onehot_rows(ctx, u, i, rows, f->dim));
        TRY(f->vjp(f->user, g, u, rows));
        TRY(fmcl_div_column(ctx, div, g, f->ldg, i, i > 0, rows));
    }
    return FMCL_OK;
}

typedef struct {
    fmcl_ctx *ctx;
    const fmcl_field *f;
    int rows, nfe;
    fmcl_t probe, u, g;
    fmcl_progress progress;
} aug_ode;

/* State [x: rows x D, delta: rows] -> [v(x, t), div v(x, t)]. */
static fmcl_status aug_rhs(void *user, fmcl_t ds, fmcl_t s, float t)
{
    aug_ode *a = user;
    const size_t xd = (size_t)a->rows * a->f->dim;
    if (++a->nfe % 16 == 0) TRY(fmcl_pace(a->ctx));         /* bounded queue */
    TRY(fmcl_progress_step(a->ctx, &a->progress, 1.0 - t)); /* from t = 1 down to 0 */
    TRY(a->f->velocity(a->f->user, ds, s, t, a->rows));
    return fmcl_field_div(a->ctx, a->f, fmcl_at(ds, xd), a->probe, a->u, a->g, a->rows);
}

void fmcl_nll_config_default(fmcl_nll_config *cfg)
{
    *cfg = (fmcl_nll_config){.solver = FMCL_SOLVER_DOPRI5, .steps = 32};
}

static fmcl_status check_config(fmcl_ctx *ctx, const fmcl_field *f, const fmcl_nll_config *cfg,
                                int n)
{
    /* atol, rtol, max_steps and hutchinson: 0 means the default (the exact divergence). */
    const fmcl_setting_value v[] = {
        {FMCL_SCOPE_NLL, "solver", cfg->solver},
        {FMCL_SCOPE_NLL, "steps", cfg->solver == FMCL_SOLVER_DOPRI5 ? 1 : cfg->steps},
        {FMCL_SCOPE_NLL, "atol", cfg->atol ? cfg->atol : 1},
        {FMCL_SCOPE_NLL, "rtol", cfg->rtol ? cfg->rtol : 1},
        {FMCL_SCOPE_NLL, "max_steps", cfg->max_steps ? cfg->max_steps : 1},
        {FMCL_SCOPE_NLL, "hutchinson", cfg->hutchinson ? cfg->hutchinson : 1}};
    char err[256];
    if (fmcl_settings_check(v, (int)(sizeof v / sizeof *v), err, sizeof err) != FMCL_OK)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "likelihood: %s", err);
    if (n < 1) return fmcl_fail(ctx, FMCL_ERR_ARG, "likelihood: needs at least one point");
    if (f->dim < 1 || f->ldg < f->dim || f->max_rows < 1 || !(f->x0_std > 0) ||
        !isfinite(f->x0_std))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "likelihood: field of dimension %d, stride %d, %d "
                         "rows, noise std %g",
                         f->dim, f->ldg, f->max_rows, (double)f->x0_std);
    if (cfg->hutchinson > 0 && (uint64_t)n * (uint64_t)f->dim > UINT32_MAX)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "likelihood: %d points of dimension %d exceed the "
                         "probe counter's 2^32 elements; evaluate fewer points per call",
                         n, f->dim);
    return FMCL_OK;
}

/* Integrates the state (n floats) from t = 1 to 0; counts into st. */
static fmcl_status integrate(aug_ode *a, const fmcl_nll_config *cfg, fmcl_t state, int n,
                             fmcl_t work, fmcl_sample_stats *st)
{
    a->nfe = 0;
    st->solves++;
    if (cfg->solver != FMCL_SOLVER_DOPRI5) {
        TRY(fmcl_integrate(a->ctx, cfg->solver, 1.0f, 0.0f, cfg->steps, state, n, work, aug_rhs, a,
                           NULL, NULL));
        st->nfe += a->nfe;
        st->accepted += cfg->steps;
        return FMCL_OK;
    }
    fmcl_adaptive_opts o;
    fmcl_adaptive_opts_default(&o);
    if (cfg->atol > 0) o.atol = cfg->atol;
    if (cfg->rtol > 0) o.rtol = cfg->rtol;
    if (cfg->max_steps > 0) o.max_steps = cfg->max_steps;
    fmcl_adaptive_stats as;
    fmcl_status s = fmcl_integrate_adaptive(a->ctx, &o, 1.0, 0.0, state, n, work, aug_rhs, a, NULL,
                                            NULL, &as);
    st->nfe += a->nfe;
    st->accepted += as.accepted;
    st->rejected += as.rejected;
    return s;
}

/* One solve of rows points from the state's x part: log p estimates into lp. */
static fmcl_status solve_chunk(aug_ode *a, const fmcl_nll_config *cfg, fmcl_t state, fmcl_t work,
                               const float *x, int k, size_t row0, float *host, double *lp,
                               fmcl_sample_stats *st)
{
    fmcl_ctx *ctx = a->ctx;
    const int D = a->f->dim, rows = a->rows;
    const size_t xd = (size_t)rows * D;
    TRY(fmcl_write(ctx, state, x, xd * sizeof(float)));
    TRY(fmcl_fill(ctx, fmcl_at(state, xd), 0.0f, rows));
    if (a->probe.mem)
        TRY(fmcl_rademacher(ctx, a->probe, cfg->seed, (uint32_t)(row0 * D), (uint32_t)k, (int)xd));
    TRY(integrate(a, cfg, state, (int)(xd + rows), work, st));
    TRY(fmcl_read(ctx, state, host, (xd + rows) * sizeof(float)));
    const double var = (double)a->f->x0_std * a->f->x0_std;
    const double log_norm = -0.5 * D * log(2.0 * M_PI * var);
    for (int r = 0; r < rows; r++) {
        double sq = 0;
        for (int j = 0; j < D; j++) sq += (double)host[(size_t)r * D + j] * host[(size_t)r * D + j];
        lp[r] = log_norm - 0.5 * sq / var + host[xd + r];
    }
    return FMCL_OK;
}

fmcl_status fmcl_field_log_prob(fmcl_ctx *ctx, const fmcl_field *f, const fmcl_nll_config *cfg,
                                const float *x, int n, double *logp, int *nfe)
{
    TRY(check_config(ctx, f, cfg, n));
    const int D = f->dim, R = n < f->max_rows ? n : f->max_rows;
    const int K = cfg->hutchinson > 0 ? cfg->hutchinson : 1;
    const size_t aug = (size_t)R * (D + 1);
    const size_t wk = cfg->solver == FMCL_SOLVER_DOPRI5 ? fmcl_adaptive_work((int)aug)
                                                        : aug * fmcl_solver_work(cfg->solver);
    const size_t total = aug + wk + 2 * (size_t)R * D + (size_t)R * f->ldg;
    fmcl_t buf = {0};
    TRY(fmcl_alloc(ctx, total * sizeof(float), &buf, "likelihood buffers"));
    float *host = malloc(aug * sizeof *host);
    double *lp = malloc((size_t)R * sizeof *lp);
    fmcl_status s = host && lp ? FMCL_OK
                               : fmcl_fail(ctx, FMCL_ERR_NOMEM,
                                           "out of host memory for the "
                                           "likelihood of %d points",
                                           R);
    const fmcl_t state = buf, work = fmcl_at(state, aug), z = fmcl_at(work, wk),
                 u = fmcl_at(z, (size_t)R * D), g = fmcl_at(u, (size_t)R * D);
    aug_ode a = {.ctx = ctx, .f = f, .u = u, .g = g};
    if (cfg->hutchinson > 0) a.probe = z;
    a.progress = (fmcl_progress){.fn = cfg->progress,
                                 .user = cfg->progress_user,
                                 .per_solve = cfg->solver == FMCL_SOLVER_DOPRI5
                                                  ? 0
                                                  : (long)cfg->steps *
                                                        fmcl_solver_nfe_per_step(cfg->solver),
                                 .solves = (n + R - 1) / R * K};
    fmcl_sample_stats st = {0};
    int most = 0;
    for (int r0 = 0; s == FMCL_OK && r0 < n; r0 += R) {
        a.rows = n - r0 < R ? n - r0 : R;
        for (int r = 0; r < a.rows; r++) logp[r0 + r] = 0;
        for (int k = 0; s == FMCL_OK && k < K; k++) {
            fmcl_progress_solve(&a.progress, r0 / R * K + k);
            s = solve_chunk(&a, cfg, state, work, x + (size_t)r0 * D, k, (size_t)r0, host, lp, &st);
            most = a.nfe > most ? a.nfe : most;
            for (int r = 0; s == FMCL_OK && r < a.rows; r++) logp[r0 + r] += lp[r] / K;
        }
        for (int r = 0; s == FMCL_OK && r < a.rows; r++)
            if (!isfinite(logp[r0 + r]))
                s = fmcl_fail(ctx, FMCL_ERR_NUMERIC,
                              "log-density of point %d is not finite "
                              "(%g): the reverse-time solve diverged; try more steps or another "
                              "solver",
                              r0 + r, logp[r0 + r]);
    }
    if (nfe) *nfe = most;
    if (cfg->stats) *cfg->stats = st;
    free(host);
    free(lp);
    fmcl_release(&buf);
    return s;
}

/* ---- a model as a field ------------------------------------------------------ */

static fmcl_status model_velocity(void *user, fmcl_t v, fmcl_t x, float t, int rows)
{
    fmcl_net_field *mf = user;
    const fmcl_net *m = &mf->m;
    const int K = m->classes;
    TRY(fmcl_time_input(m->ctx, K > 0 ? mf->Xt : mf->X, x, t, rows, m->dim, m->time_freqs));
    if (K > 0) TRY(fmcl_class_concat(m->ctx, mf->X, mf->Xt, mf->y, m->in_width - K, K, rows, rows));
    return fmcl_net_forward(m, &mf->acts, v, mf->X, rows);
}

static fmcl_status model_vjp(void *user, fmcl_t g, fmcl_t u, int rows)
{
    fmcl_net_field *mf = user;
    return fmcl_net_backward(&mf->m, &mf->acts, mf->grads, u, mf->X, g, rows);
}

fmcl_status fmcl_net_field_create(const fmcl_net *m, float x0_std, int max_rows, fmcl_net_field *mf,
                                  fmcl_field *f)
{
    memset(mf, 0, sizeof *mf);
    mf->m = *m;
    TRY(fmcl_net_acts_create(m, max_rows, &mf->acts));
    const int K = m->classes;
    const size_t nx = (size_t)max_rows * m->in_width;
    const size_t nt = K > 0 ? (size_t)max_rows * (m->in_width - K + 1) : 0;
    /* The U-Net's backward always accumulates parameter gradients: a scratch. */
    const size_t ng = m->kind == FMCL_MODEL_UNET ? m->n_params : 0;
    fmcl_status s = fmcl_alloc(m->ctx, (nx + nt + ng) * sizeof(float), &mf->mem,
                               "likelihood model input");
    mf->Xt = fmcl_at(mf->mem, nx);
    mf->y = fmcl_at(mf->Xt, (size_t)max_rows * (m->in_width - K));
    if (ng > 0) mf->grads = fmcl_at(mf->mem, nx + nt);
    if (s == FMCL_OK && K > 0) s = fmcl_fill(m->ctx, mf->y, -1.0f, max_rows);
    if (s == FMCL_OK && ng > 0) s = fmcl_fill(m->ctx, mf->grads, 0.0f, (int)ng);
    if (s != FMCL_OK) {
        fmcl_net_field_free(mf);
        return s;
    }
    mf->X = mf->mem;
    *f = (fmcl_field){.dim = m->dim,
                      .ldg = m->dx_stride,
                      .max_rows = max_rows,
                      .x0_std = x0_std,
                      .velocity = model_velocity,
                      .vjp = model_vjp,
                      .user = mf};
    return FMCL_OK;
}

void fmcl_net_field_free(fmcl_net_field *mf)
{
    fmcl_net_acts_free(&mf->acts);
    fmcl_release(&mf->mem);
}

fmcl_status fmcl_net_log_prob(const fmcl_net *m, float x0_std, const fmcl_nll_config *cfg,
                              const float *x, int n, double *logp, int *nfe)
{
    if (n < 1) return fmcl_fail(m->ctx, FMCL_ERR_ARG, "likelihood: needs at least one point");
    const int chunk = fmcl_net_chunk(m);
    fmcl_net_field mf;
    fmcl_field f;
    TRY(fmcl_net_field_create(m, x0_std, n < chunk ? n : chunk, &mf, &f));
    fmcl_status s = fmcl_field_log_prob(m->ctx, &f, cfg, x, n, logp, nfe);
    fmcl_net_field_free(&mf);
    return s;
}

fmcl_status fmcl_log_prob(fmcl_model *m, const fmcl_nll_config *cfg, const float *x, int n,
                          double *logp, int *nfe)
{
    float x0_std;
    TRY(fmcl_model_x0_std(m, &x0_std));
    return fmcl_net_log_prob(&m->net, x0_std, cfg, x, n, logp, nfe);
}

void fmcl_nll_stats_of(const double *logp, int n, int dim, fmcl_nll_stats *st)
{
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) sum -= logp[i];
    const double mean = n > 0 ? sum / n : 0;
    for (int i = 0; i < n; i++) sq += (-logp[i] - mean) * (-logp[i] - mean);
    const double bits = dim > 0 ? dim * log(2.0) : 1;
    st->n = n;
    st->dim = dim;
    st->nll = mean;
    st->nll_se = n > 1 ? sqrt(sq / (n - 1) / n) : 0;
    st->bpd = mean / bits;
    st->bpd_se = st->nll_se / bits;
}
