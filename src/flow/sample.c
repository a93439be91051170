/* Sampling: integrate dx/dt = v(x, t) from t = 0 (x0 ~ N(0, x0_std^2 I), the
 * path's noise, or the given points) to t = 1 with a fixed-step solver on a
 * uniform or given time grid, or with dopri5, in chunks of rows so memory
 * stays bounded for any n. States at requested times go to traj: fixed-step
 * solvers copy them at grid points, dopri5 lands its steps on them.
 * Conditional models get each row's class as a one-hot after [x, t]; with
 * classifier-free guidance one forward of 2 rows per point gives the
 * conditional and the null-class fields, combined into one NFE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/classes.h"
#include "flow/flow_ops.h"
#include "flow/sample.h"
#include "io/atomic.h"
#include "io/settings.h"
#include "nn/model.h"
#include "runtime/rng.h"
#include "runtime/vec.h"

typedef struct {
    const fmcl_net *m;
    fmcl_net_acts *acts;
    fmcl_t X; /* the model's input rows (twice the chunk's with guidance) */
    int rows;
    /* Conditional models: [x, features(t)] before the one-hot, the chunk's
     * labels, the guided forward's 2 rows x D outputs, the guidance scale. */
    fmcl_t Xt, y, V2;
    float w;
    int nfe;
    fmcl_progress *progress;
    /* trajectory recording: slot j of traj holds the state at time j */
    fmcl_t state;
    float *traj;
    size_t stride;    /* floats per recorded state (n * dim) */
    size_t row0;      /* first row of this chunk */
    const int *rec_k; /* fixed-step: the grid step of each slot; NULL: every step */
    int n_rec, next;
    int stop_slot0; /* dopri5: slot of its first stop (1 when time 0 is recorded) */
} sampler;

static fmcl_status velocity(void *user, fmcl_t v, fmcl_t x, float t)
{
    sampler *sp = user;
    const fmcl_net *m = sp->m;
    fmcl_status s = ++sp->nfe % 16 == 0 ? fmcl_pace(m->ctx) : FMCL_OK; /* bounded queue */
    if (s == FMCL_OK) s = fmcl_progress_step(m->ctx, sp->progress, t);
    const int K = m->classes, R = sp->rows;
    if (s == FMCL_OK)
        s = fmcl_time_input(m->ctx, K > 0 ? sp->Xt : sp->X, x, t, R, m->dim, m->time_freqs);
    if (s != FMCL_OK) return s;
    if (K == 0) return fmcl_net_forward(m, sp->acts, v, sp->X, R);
    /* Guided: rows [0, R) conditional, [R, 2R) the null class, one forward. */
    const int B = sp->w != 0.0f ? 2 * R : R;
    s = fmcl_class_concat(m->ctx, sp->X, sp->Xt, sp->y, m->in_width - K, K, R, B);
    if (s == FMCL_OK && B == R) return fmcl_net_forward(m, sp->acts, v, sp->X, R);
    if (s == FMCL_OK) s = fmcl_net_forward(m, sp->acts, sp->V2, sp->X, B);
    return s == FMCL_OK ? fmcl_guidance(m->ctx, v, sp->V2, sp->w, R * m->dim) : s;
}

/* The labels a conditional model's sampling asks for, checked. */
static fmcl_status check_classes(const fmcl_net *m, const fmcl_sample_config *cfg)
{
    const int K = m->classes;
    if (K == 0 && (cfg->classes || cfg->guidance != 0.0f))
        return fmcl_fail(m->ctx, FMCL_ERR_ARG,
                         "the model is unconditional (trained without classes): sample it "
                         "without classes and guidance");
    if (cfg->guidance != 0.0f && !cfg->classes)
        return fmcl_fail(m->ctx, FMCL_ERR_ARG,
                         "guidance needs classes: it pushes the field from the null class "
                         "towards each point's class");
    for (int i = 0; cfg->classes && i < cfg->n; i++)
        if (cfg->classes[i] < -1 || cfg->classes[i] >= K)
            return fmcl_fail(m->ctx, FMCL_ERR_ARG,
                             "class %d of point %d is not one of the model's %d classes (0 to "
                             "%d, or -1 for the null class)",
                             cfg->classes[i], i, K, K - 1);
    return FMCL_OK;
}

/* y of the chunk of rows from row0: its classes, or the null class. */
static fmcl_status write_labels(sampler *sp, const fmcl_sample_config *cfg, float *host)
{
    for (int r = 0; r < sp->rows; r++)
        host[r] = cfg->classes ? (float)cfg->classes[sp->row0 + (size_t)r] : -1.0f;
    return fmcl_write(sp->m->ctx, sp->y, host, (size_t)sp->rows * sizeof *host);
}

static fmcl_status record_slot(sampler *sp, int slot)
{
    size_t D = (size_t)sp->m->dim;
    return fmcl_read(sp->m->ctx, sp->state, sp->traj + (size_t)slot * sp->stride + sp->row0 * D,
                     (size_t)sp->rows * D * sizeof(float));
}

/* Fixed-step solvers: after grid step k. */
static fmcl_status record_step(void *user, int k, float t)
{
    (void)t;
    sampler *sp = user;
    if (!sp->rec_k) return record_slot(sp, k);
    fmcl_status s = FMCL_OK;
    while (sp->next < sp->n_rec && sp->rec_k[sp->next] < k) sp->next++; /* slot 0 at k = 0 */
    while (s == FMCL_OK && sp->next < sp->n_rec && sp->rec_k[sp->next] == k)
        s = record_slot(sp, sp->next++);
    return s;
}

/* dopri5: on landing on stop j (from 1). */
static fmcl_status record_stop(void *user, int j, float t)
{
    (void)t;
    sampler *sp = user;
    return record_slot(sp, sp->stop_slot0 + j - 1);
}

/* Grid step k's time: grid[k], or k / steps. */
static double grid_time(const fmcl_sample_config *cfg, int k)
{
    return cfg->grid ? cfg->grid[k] : (double)k / cfg->steps;
}

/* The settings that are not about the model, checked; FMCL_ERR_ARG and a
 * message in err otherwise. traj: whether states are recorded. rec_k (may be
 * NULL) gets the grid step of each recorded time of a fixed-step solver. */
static fmcl_status check_config(const fmcl_sample_config *cfg, int traj, int *rec_k, char *err,
                                size_t errlen)
{
    const int adaptive = cfg->solver == FMCL_SOLVER_DOPRI5;
    char why[256];
    /* atol, rtol, max_steps and x0_std: 0 means the default. */
    const fmcl_setting_value v[] = {
        {FMCL_SCOPE_SAMPLE, "solver", cfg->solver},
        {FMCL_SCOPE_SAMPLE, "n", cfg->n},
        {FMCL_SCOPE_SAMPLE, "steps", adaptive || cfg->grid ? 1 : cfg->steps},
        {FMCL_SCOPE_SAMPLE, "atol", cfg->atol ? cfg->atol : 1},
        {FMCL_SCOPE_SAMPLE, "rtol", cfg->rtol ? cfg->rtol : 1},
        {FMCL_SCOPE_SAMPLE, "max_steps", cfg->max_steps ? cfg->max_steps : 1},
        {FMCL_SCOPE_SAMPLE, "x0_std", cfg->x0_std ? cfg->x0_std : 1},
        {FMCL_SCOPE_SAMPLE, "guidance", cfg->guidance}};
    if (fmcl_settings_check(v, (int)(sizeof v / sizeof *v), why, sizeof why) != FMCL_OK)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "invalid sampling configuration: %s", why);
    if (adaptive && cfg->grid)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "a time grid is for fixed-step solvers; dopri5 chooses its own steps "
                         "(give times to have it land on given times)");
    if (cfg->grid && fmcl_grid_check(cfg->grid, cfg->grid_points, err, errlen) != FMCL_OK)
        return FMCL_ERR_ARG;
    if (traj && adaptive && !cfg->times)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "dopri5 chooses its own steps: give the times at which to record "
                         "states");
    if (!cfg->times) return FMCL_OK;
    if (cfg->n_times < 1)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "times given but n_times is %d", cfg->n_times);
    for (int j = 0; j < cfg->n_times; j++) {
        const double t = cfg->times[j];
        if (!(t >= 0 && t <= 1) || (j > 0 && !(t > cfg->times[j - 1])))
            return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                             "times[%d] = %g: the times to record must increase strictly "
                             "within [0, 1]",
                             j, t);
    }
    const int steps = cfg->grid ? cfg->grid_points - 1 : cfg->steps;
    for (int j = 0, k = 0; !adaptive && j < cfg->n_times; j++) {
        while (k < steps && grid_time(cfg, k) < cfg->times[j] - 1e-6) k++;
        if (fabs(grid_time(cfg, k) - cfg->times[j]) > 1e-6)
            return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                             "time %g lies between the points %g and %g of the %s time grid; a "
                             "fixed-step solver records states at grid points only: choose "
                             "one or give a grid that holds it",
                             cfg->times[j], grid_time(cfg, k - 1), grid_time(cfg, k),
                             cfg->grid ? "given" : "uniform");
        if (rec_k) rec_k[j] = k;
    }
    return FMCL_OK;
}

fmcl_status fmcl_sample_config_check(const fmcl_sample_config *cfg, char *err, size_t errlen)
{
    return check_config(cfg, 0, NULL, err, errlen);
}

/* check_config for a run recording into traj (may be NULL); *rec_k
 * (n_times ints, malloc'ed) for a fixed-step solver's recorded times. */
static fmcl_status check_solver(fmcl_ctx *ctx, const fmcl_sample_config *cfg, const float *traj,
                                int **rec_k)
{
    *rec_k = NULL;
    const int slots = traj && cfg->times && cfg->n_times > 0 && cfg->solver != FMCL_SOLVER_DOPRI5;
    if (slots && !(*rec_k = malloc(sizeof(int) * (size_t)cfg->n_times)))
        return fmcl_fail(ctx, FMCL_ERR_NOMEM, "no host memory for %d times", cfg->n_times);
    fmcl_status s = check_config(cfg, traj != NULL, *rec_k, ctx->err, sizeof ctx->err);
    if (s != FMCL_OK) {
        free(*rec_k);
        *rec_k = NULL;
    }
    return s;
}

/* One chunk's solve; nfe and the step counts are added to st. */
static fmcl_status solve(sampler *sp, const fmcl_sample_config *cfg, fmcl_t work,
                         fmcl_sample_stats *st)
{
    fmcl_ctx *ctx = sp->m->ctx;
    const int n = sp->rows * sp->m->dim;
    const int record = sp->traj != NULL;
    fmcl_status s;
    sp->nfe = 0;
    sp->next = 0;
    if (cfg->solver == FMCL_SOLVER_DOPRI5) {
        fmcl_adaptive_opts o;
        fmcl_adaptive_opts_default(&o);
        if (cfg->atol > 0) o.atol = cfg->atol;
        if (cfg->rtol > 0) o.rtol = cfg->rtol;
        if (cfg->max_steps > 0) o.max_steps = cfg->max_steps;
        if (record) { /* time 0 is slot 0, recorded with the starting points */
            o.stops = cfg->times + sp->stop_slot0;
            o.n_stops = cfg->n_times - sp->stop_slot0;
            o.at_stop = record_stop;
            o.stop_user = sp;
        }
        fmcl_adaptive_stats as;
        s = fmcl_integrate_adaptive(ctx, &o, 0.0, 1.0, sp->state, n, work, velocity, sp, NULL, NULL,
                                    &as);
        st->accepted += as.accepted;
        st->rejected += as.rejected;
    } else {
        const int steps = cfg->grid ? cfg->grid_points - 1 : cfg->steps;
        fmcl_step_fn after = record ? record_step : NULL;
        s = cfg->grid ? fmcl_integrate_grid(ctx, cfg->solver, cfg->grid, cfg->grid_points,
                                            sp->state, n, work, velocity, sp, after, sp)
                      : fmcl_integrate(ctx, cfg->solver, 0.0f, 1.0f, steps, sp->state, n, work,
                                       velocity, sp, after, sp);
        if (s == FMCL_OK) st->accepted += steps;
    }
    st->solves++;
    st->nfe += sp->nfe;
    return s;
}

void fmcl_sample_config_default(fmcl_sample_config *cfg)
{
    *cfg = (fmcl_sample_config){.solver = FMCL_SOLVER_MIDPOINT, .steps = 20, .n = 1};
}

fmcl_status fmcl_sample(fmcl_model *model, const fmcl_sample_config *cfg, float *out, float *traj,
                        int *nfe)
{
    fmcl_sample_config c = *cfg;
    if (c.x0_std == 0.0f && !c.x0) {
        fmcl_status s = fmcl_model_x0_std(model, &c.x0_std);
        if (s != FMCL_OK) return s;
    }
    return fmcl_net_sample(&model->net, &c, out, traj, nfe);
}

fmcl_status fmcl_net_sample(const fmcl_net *m, const fmcl_sample_config *cfg, float *out,
                            float *traj, int *nfe)
{
    fmcl_ctx *ctx = m->ctx;
    int D = m->dim, W = m->in_width;
    int *rec_k = NULL;
    fmcl_status s = check_solver(ctx, cfg, traj, &rec_k);
    if (s == FMCL_OK) s = check_classes(m, cfg);
    if (s != FMCL_OK) {
        free(rec_k);
        return s;
    }
    const float x0_std = cfg->x0_std > 0 ? cfg->x0_std : 1.0f;
    const int most_rows = fmcl_net_chunk(m);
    int chunk = cfg->n < most_rows ? cfg->n : most_rows;
    size_t cd = (size_t)chunk * D;
    size_t wk = cfg->solver == FMCL_SOLVER_DOPRI5 ? fmcl_adaptive_work((int)cd)
                                                  : cd * fmcl_solver_work(cfg->solver);
    const int K = m->classes, rep = cfg->guidance != 0.0f ? 2 : 1;
    /* Conditional only: Xt, y and (guided) V2 after the model input. */
    size_t cond = K > 0 ? (size_t)chunk * (W - K + 1) + (rep == 2 ? 2 * cd : 0) : 0;
    float *hy = K > 0 ? malloc((size_t)chunk * sizeof *hy) : NULL;
    fmcl_net_acts acts;
    s = K > 0 && !hy ? fmcl_fail(ctx, FMCL_ERR_NOMEM, "no host memory for %d labels", chunk)
                     : fmcl_net_acts_create(m, rep * chunk, &acts);
    if (s != FMCL_OK) {
        free(rec_k);
        free(hy);
        return s;
    }
    fmcl_t buf = {0};
    const size_t nx = (size_t)rep * chunk * W;
    s = fmcl_alloc(ctx, ((size_t)cfg->n * D + cd + wk + nx + cond) * sizeof(float), &buf,
                   "sampling buffers");
    /* x0 is recorded as slot 0: every fixed grid point, or time 0 asked for */
    const int slot0 = traj && (!cfg->times || (rec_k ? rec_k[0] == 0 : cfg->times[0] == 0));
    sampler sp = {.m = m,
                  .acts = &acts,
                  .traj = traj,
                  .stride = (size_t)cfg->n * D,
                  .rec_k = rec_k,
                  .n_rec = traj && cfg->times ? cfg->n_times : 0,
                  .stop_slot0 = slot0};
    fmcl_t x0 = buf, state = fmcl_at(buf, (size_t)cfg->n * D), work = fmcl_at(state, cd);
    sp.X = fmcl_at(work, wk);
    sp.Xt = fmcl_at(sp.X, nx);
    sp.y = fmcl_at(sp.Xt, (size_t)chunk * (W - K));
    sp.V2 = fmcl_at(sp.y, (size_t)chunk);
    sp.w = cfg->guidance;
    sp.state = state;
    /* All starting points at once: independent of the chunking. */
    if (s == FMCL_OK && cfg->x0)
        s = fmcl_write(ctx, x0, cfg->x0, (size_t)cfg->n * D * sizeof(float));
    else if (s == FMCL_OK) {
        s = fmcl_randn(ctx, x0, cfg->seed, FMCL_STREAM_SAMPLE, 0, cfg->n * D);
        /* N(0, std^2 I) for the VE path: x0 + (std - 1) x0, in place. */
        if (s == FMCL_OK && x0_std != 1.0f)
            s = fmcl_axpy_to(ctx, x0, x0, x0_std - 1.0f, x0, cfg->n * D);
    }
    if (s == FMCL_OK && slot0) s = fmcl_read(ctx, x0, traj, (size_t)cfg->n * D * sizeof(float));
    fmcl_sample_stats st = {0};
    const int fixed = cfg->grid ? cfg->grid_points - 1 : cfg->steps;
    fmcl_progress pr = {.fn = cfg->progress,
                        .user = cfg->progress_user,
                        .per_solve = cfg->solver == FMCL_SOLVER_DOPRI5
                                         ? 0
                                         : (long)fixed * fmcl_solver_nfe_per_step(cfg->solver),
                        .solves = (cfg->n + chunk - 1) / chunk};
    sp.progress = &pr;
    int most = 0;
    for (int r = 0; s == FMCL_OK && r < cfg->n; r += chunk) {
        fmcl_progress_solve(&pr, r / chunk);
        sp.rows = cfg->n - r < chunk ? cfg->n - r : chunk;
        sp.row0 = (size_t)r;
        size_t bytes = (size_t)sp.rows * D * sizeof(float);
        s = fmcl_copy(ctx, state, fmcl_at(x0, (size_t)r * D), (size_t)sp.rows * D);
        if (s == FMCL_OK && K > 0) s = write_labels(&sp, cfg, hy);
        if (s == FMCL_OK) s = solve(&sp, cfg, work, &st);
        if (s == FMCL_OK) s = fmcl_read(ctx, state, out + (size_t)r * D, bytes);
        most = sp.nfe > most ? sp.nfe : most;
    }
    if (nfe) *nfe = most;
    if (cfg->stats) *cfg->stats = st;
    free(rec_k);
    free(hy);
    fmcl_release(&buf);
    fmcl_net_acts_free(&acts);
    return s;
}
