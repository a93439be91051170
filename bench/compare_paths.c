/* fmcl-compare: the paper's 2D comparison of the OT path against the VP
 * diffusion path (Lipman et al. 2023) on the checkerboard, with the same
 * budget for both: model, steps, batch, learning rate and seed.
 *
 * For each path it trains in segments of --eval-every steps and, between
 * segments, measures the exact NLL of a fixed held-out set (dopri5, exact
 * divergence); at the end it samples with Euler, midpoint and RK4 at NFE 4,
 * 8, 10 and 20 (a solver whose steps cannot make an NFE exactly is left out
 * there) and with adaptive dopri5, all from the same noise, and scores the
 * samples by their sliced 2-Wasserstein distance to held-out data and by the
 * fraction on the board. It prints the tables, and writes every number to
 * OUT/compare_paths.json and the samples and curves to OUT/compare_paths.png.
 *
 * Training and sampling go through the public API only; measurements run
 * between fmcl_trainer_run calls and touch neither the parameters nor the
 * trainer's state, so each path trains exactly as one uninterrupted run.
 *
 * It lives in bench/, where programs may use the library's internals, and
 * not in tools/ with the public API's clients: its figure is drawn on the
 * library's internal canvas (io/raster.h, compare_plot.c), which the public
 * API does not offer (fmcl draws its own figures; it is no drawing library),
 * and its files are written with the internal atomic writer. Not installed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "compare.h"
#include "compare_metrics.h"
#include "fmcl.h"

/* Held-out points come from data-stream steps no training run reaches. */
#define STEP_REF UINT32_MAX         /* the reference set samples are scored against */
#define STEP_NLL (UINT32_MAX - 1)   /* the NLL's points */
#define STEP_FLOOR (UINT32_MAX - 2) /* data sets of the samples' size: the floor, */
                                    /* downwards from here */
#define SAMPLE_SEED 1               /* x0 of every sampler, both paths */

static const int NFES[CMP_NFES] = {4, 8, 10, 20};
static const int SOLVERS[CMP_FIXED] = {FMCL_SOLVER_EULER, FMCL_SOLVER_MIDPOINT, FMCL_SOLVER_RK4};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fmcl-compare [options]\n"
            "Trains the OT and the VP-diffusion path on the checkerboard with the same budget and\n"
            "compares loss, exact NLL during training, and sample quality against NFE.\n"
            "  --device SPEC     OpenCL device: P:D or a name substring (default: $FMCL_DEVICE,\n"
            "                    else the first GPU, else the first device)\n"
            "  --out DIR         folder for compare_paths.json and compare_paths.png, created if\n"
            "                    missing (default .)\n"
            "  --width N         hidden units per layer (default 128)\n"
            "  --depth N         hidden layers (default 3)\n"
            "  --batch N         points per training step (default 1024)\n"
            "  --steps N         training steps per path (default 2000)\n"
            "  --eval-every N    steps between NLL evaluations (default 250)\n"
            "  --lr X            Adam learning rate (default 0.002)\n"
            "  --seed N          seed of initialisation, training draws and held-out data "
            "(default 0)\n"
            "  --samples N       points per sampler, scored against 16 times as many data points\n"
            "                    (default 4096, at most 32768)\n"
            "  --nll-points N    held-out points of the NLL (default 1000)\n"
            "  --help            this text\n");
}

static int parse_num(const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    double x = v ? strtod(v, &end) : 0;
    if (!v || *v == 0 || *end != 0 || !(x >= lo && x <= hi)) {
        fprintf(stderr, "fmcl-compare: %s needs a number in [%g, %g] (got %s; see --help)\n", flag,
                lo, hi, v ? v : "nothing");
        return 0;
    }
    *out = x;
    return 1;
}

/* 0 ok, 1 --help, 2 usage error. */
static int parse_args(int argc, char **argv, cmp_opts *o)
{
    *o = (cmp_opts){.out = ".",
                    .width = 128,
                    .depth = 3,
                    .batch = 1024,
                    .steps = 2000,
                    .eval_every = 250,
                    .lr = 2e-3,
                    .samples = 4096,
                    .nll_points = 1000};
    double seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return 1;
        struct {
            const char *flag;
            double lo, hi;
            int *i;
            double *d;
        } nums[] = {{"--width", 1, 4096, &o->width, NULL},
                    {"--depth", 1, 16, &o->depth, NULL},
                    {"--batch", 1, 1 << 20, &o->batch, NULL},
                    {"--steps", 1, 1000000, &o->steps, NULL},
                    {"--eval-every", 1, 1000000, &o->eval_every, NULL},
                    {"--samples", 2, 32768, &o->samples, NULL},
                    {"--nll-points", 1, 1 << 20, &o->nll_points, NULL},
                    {"--lr", 1e-7, 10, NULL, &o->lr},
                    {"--seed", 0, 4294967295.0, NULL, &seed}};
        int matched = 0;
        for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
            if (strcmp(a, nums[k].flag) != 0) continue;
            double x;
            if (!parse_num(a, v, nums[k].lo, nums[k].hi, &x)) return 2;
            if (nums[k].i && x != floor(x)) {
                fprintf(stderr, "fmcl-compare: %s needs an integer (got %s)\n", a, v);
                return 2;
            }
            if (nums[k].i)
                *nums[k].i = (int)x;
            else
                *nums[k].d = x;
            matched = 1;
            i++;
        }
        if (matched) continue;
        const char **str = strcmp(a, "--device") == 0 ? &o->device
                           : strcmp(a, "--out") == 0  ? &o->out
                                                      : NULL;
        if (!str) {
            fprintf(stderr, "fmcl-compare: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "fmcl-compare: %s needs a value (see --help)\n", a);
            return 2;
        }
        *str = v;
        i++;
    }
    o->seed = (uint64_t)seed;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* n points of the checkerboard as a trainer with this seed draws them at step. */
static void draw_board(uint64_t seed, uint64_t step, int n, float *out)
{
    fmcl_data *b = NULL;
    if (fmcl_data_create_toy(FMCL_TOY_CHECKERBOARD, &b, NULL, 0) == FMCL_OK)
        fmcl_data_draw(b, seed, step, n, out, NULL, 0);
    fmcl_data_free(b);
}

static int fail(fmcl_ctx *ctx, const char *what)
{
    fprintf(stderr, "fmcl-compare: error: %s: %s\n", what, fmcl_ctx_error(ctx));
    return 1;
}

/* Exact NLL of the held-out points under the model as it is now. */
static int measure_nll(fmcl_ctx *ctx, fmcl_model *m, const cmp_data *d, cmp_eval *e)
{
    fmcl_nll_config nc;
    fmcl_nll_config_default(&nc); /* dopri5, atol = rtol = 1e-5, exact divergence */
    double *lp = e->logp = malloc(sizeof *lp * (size_t)d->n_nll);
    if (!lp) {
        fprintf(stderr, "fmcl-compare: error: out of host memory\n");
        return 1;
    }
    double t0 = now();
    if (fmcl_log_prob(m, &nc, d->nll, d->n_nll, lp, &e->nll_nfe) != FMCL_OK)
        return fail(ctx, "exact NLL");
    e->nll_s = now() - t0;
    fmcl_nll_stats st;
    fmcl_nll_stats_of(lp, d->n_nll, 2, &st);
    e->nll = st.nll;
    e->nll_se = st.nll_se;
    return 0;
}

static int score(fmcl_ctx *ctx, fmcl_model *m, const cmp_data *d, fmcl_sample_config sc,
                 cmp_samples *s)
{
    fmcl_sample_stats st;
    sc.n = d->n_samples;
    sc.seed = SAMPLE_SEED;
    sc.stats = &st;
    s->pts = malloc(sizeof(float) * 2 * (size_t)d->n_samples);
    if (!s->pts) {
        fprintf(stderr, "fmcl-compare: error: out of host memory\n");
        return 1;
    }
    if (fmcl_sample(m, &sc, s->pts, NULL, &s->nfe) != FMCL_OK) return fail(ctx, "sampling");
    s->steps = sc.steps;
    s->accepted = st.accepted;
    s->rejected = st.rejected;
    s->sw2 = cmp_sliced_w2(&d->ref, s->pts, d->n_samples);
    s->board = cmp_board_fraction(s->pts, d->n_samples);
    if (s->sw2 < 0) {
        fprintf(stderr, "fmcl-compare: error: out of host memory\n");
        return 1;
    }
    return 0;
}

static int run_path(fmcl_ctx *ctx, const cmp_opts *o, const cmp_data *d, cmp_path *r)
{
    fmcl_model_config mc;
    fmcl_model_config_default(&mc, FMCL_MODEL_MLP);
    mc.mlp.width = o->width, mc.mlp.depth = o->depth;
    fmcl_model *m = NULL;
    fmcl_data *board = NULL;
    fmcl_trainer *t = NULL;
    int rc = 1;
    if (fmcl_model_create(ctx, &mc, o->seed, &m) != FMCL_OK) return fail(ctx, "model");
    fmcl_train_config tc;
    fmcl_train_config_default(&tc); /* VP keeps the paper's beta_min 0.1, beta_max 20 */
    tc.batch = o->batch;
    tc.steps = o->steps;
    tc.lr = (float)o->lr;
    tc.seed = o->seed;
    tc.path = r->path;
    if (fmcl_data_create_toy(FMCL_TOY_CHECKERBOARD, &board, NULL, 0) != FMCL_OK ||
        fmcl_trainer_create(m, board, &tc, &t) != FMCL_OK) {
        fail(ctx, "trainer");
        goto done;
    }
    for (int k = 0; k < r->n_evals; k++) {
        cmp_eval *e = &r->evals[k];
        int todo = e->step - fmcl_trainer_step(t);
        double t0 = now();
        if (todo > 0 &&
            (fmcl_trainer_run(t, todo) != FMCL_OK ||
             fmcl_trainer_losses(t, e->step - todo, todo, r->loss + e->step - todo) != FMCL_OK)) {
            fail(ctx, "training");
            goto done;
        }
        r->train_s += now() - t0;
        if (measure_nll(ctx, m, d, e)) goto done;
        fprintf(stderr, "  %s step %5d: NLL %.4f nats (NFE %d, %.1f s)\n",
                fmcl_name(FMCL_NAMES_PATH, r->path), e->step, e->nll, e->nll_nfe, e->nll_s);
    }
    double t0 = now();
    for (int s = 0; s < CMP_FIXED; s++)
        for (int j = 0; j < CMP_NFES; j++) {
            int per = fmcl_solver_nfe_per_step(SOLVERS[s]);
            if (NFES[j] % per != 0) continue;
            fmcl_sample_config sc = {.solver = SOLVERS[s], .steps = NFES[j] / per};
            if (score(ctx, m, d, sc, &r->fixed[s][j])) goto done;
        }
    fmcl_sample_config sc = {.solver = FMCL_SOLVER_DOPRI5}; /* atol = rtol = 1e-5 */
    if (score(ctx, m, d, sc, &r->dopri5)) goto done;
    r->sample_s = now() - t0;
    rc = 0;
done:
    fmcl_trainer_free(t);
    fmcl_data_free(board);
    fmcl_model_free(m);
    return rc;
}

static void free_path(cmp_path *r)
{
    free(r->loss);
    for (int k = 0; r->evals && k < r->n_evals; k++) free(r->evals[k].logp);
    free(r->evals);
    for (int s = 0; s < CMP_FIXED; s++)
        for (int j = 0; j < CMP_NFES; j++) free(r->fixed[s][j].pts);
    free(r->dopri5.pts);
}

int main(int argc, char **argv)
{
    cmp_opts o;
    int a = parse_args(argc, argv, &o);
    if (a == 1) {
        usage(stdout);
        return 0;
    }
    if (a == 2) return 2;
    /* The outputs come after minutes of work: make sure they have a home first. */
    struct stat st;
    if (mkdir(o.out, 0777) != 0 && (stat(o.out, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr,
                "fmcl-compare: error: --out %s is not a folder and cannot be created "
                "(its parent must exist)\n",
                o.out);
        return 1;
    }
    if (o.samples > 4096)
        fprintf(stderr, "fmcl-compare: note: with more than 4096 samples dopri5 runs several "
                        "solves; its NFE is the most one took\n");

    char err[1024];
    fmcl_ctx *ctx = NULL;
    if (fmcl_ctx_create(&ctx, o.device, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "fmcl-compare: error: %s\n", err);
        return 1;
    }
    double t_start = now();
    const int n_ref = CMP_REF_FACTOR * o.samples;
    cmp_data d = {.n_samples = o.samples, .n_nll = o.nll_points};
    float *ref = malloc(sizeof(float) * 2 * (size_t)n_ref);
    d.floor = malloc(sizeof(float) * 2 * CMP_FLOOR_SETS * (size_t)o.samples);
    d.nll = malloc(sizeof(float) * 2 * (size_t)o.nll_points);
    cmp_path paths[2] = {{.path = FMCL_PATH_OT}, {.path = FMCL_PATH_VP}};
    int rc = 1, n_evals = o.steps / o.eval_every + 1 + (o.steps % o.eval_every != 0);
    for (int p = 0; p < 2; p++) {
        paths[p].n_evals = n_evals;
        paths[p].loss = malloc(sizeof(float) * (size_t)o.steps);
        paths[p].evals = calloc((size_t)n_evals, sizeof(cmp_eval));
        if (!paths[p].loss || !paths[p].evals) goto oom;
        for (int k = 0; k < n_evals; k++) /* step 0 (untrained), every eval_every, the last */
            paths[p].evals[k].step = k * o.eval_every < o.steps ? k * o.eval_every : o.steps;
    }
    if (!ref || !d.floor || !d.nll) goto oom;
    draw_board(o.seed, STEP_REF, n_ref, ref);
    draw_board(o.seed, STEP_NLL, o.nll_points, d.nll);
    if (cmp_ref_init(&d.ref, ref, n_ref, CMP_DIRS) != 0) goto oom;
    double s1 = 0, s2 = 0;
    for (int k = 0; k < CMP_FLOOR_SETS; k++) {
        float *f = d.floor + 2 * (size_t)k * o.samples;
        draw_board(o.seed, STEP_FLOOR - k, o.samples, f);
        double w = cmp_sliced_w2(&d.ref, f, o.samples);
        if (w < 0) goto oom;
        s1 += w;
        s2 += w * w;
    }
    d.floor_sw2 = s1 / CMP_FLOOR_SETS;
    d.floor_sw2_sd = sqrt(fmax(0, (s2 - s1 * s1 / CMP_FLOOR_SETS) / (CMP_FLOOR_SETS - 1)));
    d.floor_board = cmp_board_fraction(d.floor, CMP_FLOOR_SETS * o.samples);

    const fmcl_device_info *dev = fmcl_ctx_device(ctx);
    fprintf(stderr, "fmcl-compare: %s / %s\n", dev->platform_name, dev->device_name);
    for (int p = 0; p < 2; p++)
        if (run_path(ctx, &o, &d, &paths[p])) goto done;
    double total = now() - t_start;
    cmp_print(stdout, &o, &d, paths, NFES, total);
    char path[4096];
    snprintf(path, sizeof path, "%s/compare_paths.json", o.out);
    if (cmp_write_json(path, &o, &d, paths, total, dev, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "fmcl-compare: error: %s\n", err);
        goto done;
    }
    printf("wrote %s\n", path);
    snprintf(path, sizeof path, "%s/compare_paths.png", o.out);
    if (cmp_plot(path, &o, &d, paths, NFES, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "fmcl-compare: error: %s\n", err);
        goto done;
    }
    printf("wrote %s\n", path);
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "fmcl-compare: error: out of host memory; lower --samples or --steps\n");
done:
    for (int p = 0; p < 2; p++) free_path(&paths[p]);
    free(ref);
    cmp_ref_free(&d.ref);
    free(d.floor);
    free(d.nll);
    fmcl_ctx_free(ctx);
    return rc;
}
