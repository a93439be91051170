/* fmcl sample: integrate a trained model from noise (or given points) at
 * t = 0 to t = 1 with a fixed-step solver (uniform steps or a given time
 * grid) or adaptive dopri5; write the points as .npy, for 2D models a PNG
 * of their density, for image models a PNG grid of the images, and with
 * --times the states at those times stacked in one .npy. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "cli_images.h"
#include "interrupt.h"
#include "outputs.h"
#include "progress.h"
#include "fmcl.h"

/* Samples drawn in rows by --trajectory. */
#define TRAJECTORY_ROWS 8
/* Samples of each class without --class when --n is not given. */
#define PER_CLASS_DEFAULT 10

typedef struct {
    const char *ckpt, *solver, *x0, *out, *png, *device, *grid_arg, *times_arg, *traj;
    const char *trajectory; /* --trajectory FILE.png */
    int steps, n, max_steps;
    int classes, cls; /* the model's classes (0: unconditional), --class (-1: every class) */
    double cfg;       /* --cfg: classifier-free guidance scale w */
    uint64_t seed;
    double atol, rtol;
    double *grid, *times; /* parsed --grid and --times */
    int grid_points, n_times;
    int raw_weights; /* the trained weights, not the EMA */
} sample_opts;

/* Parses "t1,t2,..." into a malloc'ed array; a usage message names the item
 * that is not a number. */
static int parse_list(arg_cmd *cmd, const char *flag, const char *text, double **out, int *n)
{
    int count = 1;
    for (const char *p = text; *p; p++) count += *p == ',';
    double *v = malloc(sizeof *v * (size_t)count);
    if (!v) return cli_error("out of host memory parsing --%s", flag);
    const char *p = text;
    for (int i = 0; i < count; i++) {
        char *end;
        v[i] = strtod(p, &end);
        if (end == p || (*end != ',' && *end) || !isfinite(v[i])) {
            size_t len = strcspn(p, ",");
            free(v);
            return args_usage(cmd,
                              "--%s: item %d '%.*s' is not a number (give t1,t2,... or a "
                              "FILE.npy)",
                              flag, i + 1, (int)len, p);
        }
        p = *end ? end + 1 : end;
    }
    *out = v;
    *n = count;
    return CLI_OK;
}

/* --grid: a 1-D .npy or a list; checked (0 to 1, strictly increasing). */
static int read_grid(arg_cmd *cmd, sample_opts *o)
{
    char err[1024];
    if (cli_is_npy(o->grid_arg)) {
        int64_t shape[FMCL_NPY_MAX_DIMS];
        int ndim = 0;
        float *g = NULL;
        if (fmcl_npy_read(o->grid_arg, &g, shape, &ndim, err, sizeof err) != FMCL_OK)
            return cli_error("--grid: %s", err);
        if (ndim != 1 || shape[0] > 1000001) {
            free(g);
            return cli_error("--grid %s: expected a 1-D array of at most 1000001 times, found "
                             "%d dimension(s)",
                             o->grid_arg, ndim);
        }
        o->grid_points = (int)shape[0];
        o->grid = malloc(sizeof(double) * (size_t)(o->grid_points ? o->grid_points : 1));
        for (int k = 0; o->grid && k < o->grid_points; k++) o->grid[k] = g[k];
        free(g);
        if (!o->grid) return cli_error("out of host memory reading --grid");
    } else {
        int rc = parse_list(cmd, "grid", o->grid_arg, &o->grid, &o->grid_points);
        if (rc != CLI_OK) return rc;
    }
    fmcl_sample_config sc; /* the grid of a fixed-step solver */
    fmcl_sample_config_default(&sc);
    sc.grid = o->grid, sc.grid_points = o->grid_points;
    if (fmcl_sample_config_check(&sc, err, sizeof err) != FMCL_OK)
        return args_usage(cmd, "--grid %s: %s", o->grid_arg, err);
    return CLI_OK;
}

/* --times: strictly increasing within [0, 1]. */
static int read_times(arg_cmd *cmd, sample_opts *o)
{
    int rc = parse_list(cmd, "times", o->times_arg, &o->times, &o->n_times);
    for (int j = 0; rc == CLI_OK && j < o->n_times; j++) {
        if (o->times[j] < 0 || o->times[j] > 1)
            return args_usage(cmd, "--times: %g is outside [0, 1]", o->times[j]);
        if (j > 0 && o->times[j] <= o->times[j - 1])
            return args_usage(cmd, "--times: %g follows %g; the times must increase strictly",
                              o->times[j], o->times[j - 1]);
    }
    return rc;
}

/* "rk4, 20 steps", "heun on an 11-point grid", "dopri5 (atol 1e-05, rtol 1e-05)". */
static void describe(const sample_opts *o, char *buf, size_t len)
{
    if (fmcl_name_value(FMCL_NAMES_SOLVER, o->solver) == FMCL_SOLVER_DOPRI5)
        snprintf(buf, len, "%s (atol %g, rtol %g)", o->solver, o->atol, o->rtol);
    else if (o->grid)
        snprintf(buf, len, "%s on a %d-point grid", o->solver, o->grid_points);
    else
        snprintf(buf, len, "%s, %d steps", o->solver, o->steps);
}

/* --trajectory without --times: the states at about t = 0, 1/4, 1/2, 3/4,
 * 1, moved to the nearest grid points of a fixed-step solver. */
static int trajectory_times(sample_opts *o)
{
    static const double want[] = {0, 0.25, 0.5, 0.75, 1};
    o->times = malloc(sizeof want);
    if (!o->times) return cli_error("out of host memory for the trajectory's times");
    const int adaptive = fmcl_name_value(FMCL_NAMES_SOLVER, o->solver) == FMCL_SOLVER_DOPRI5;
    const int points = o->grid ? o->grid_points : o->steps + 1;
    o->n_times = 0;
    for (int j = 0; j < 5; j++) {
        double t = want[j];
        if (!adaptive) { /* the nearest of the solver's time points */
            int best = 0;
            for (int k = 1; k < points; k++) {
                double tk = o->grid ? o->grid[k] : (double)k / o->steps;
                double tb = o->grid ? o->grid[best] : (double)best / o->steps;
                if (fabs(tk - want[j]) < fabs(tb - want[j])) best = k;
            }
            t = o->grid ? o->grid[best] : (double)best / o->steps;
        }
        if (o->n_times == 0 || t > o->times[o->n_times - 1]) o->times[o->n_times++] = t;
    }
    return CLI_OK;
}

/* The class of each point: --class for all, else n of each class in turn. */
static int *point_classes(const sample_opts *o)
{
    int *cls = malloc(sizeof *cls * (size_t)o->n);
    for (int i = 0; cls && i < o->n; i++) cls[i] = o->cls >= 0 ? o->cls : i / (o->n / o->classes);
    if (!cls) cli_error("out of host memory for %d classes", o->n);
    return cls;
}

/* Reads --x0: an N x D array, D checked against the model later. */
static int read_x0(const char *path, float **x0, int *rows, int *cols)
{
    int64_t shape[FMCL_NPY_MAX_DIMS];
    int ndim = 0;
    char err[1024];
    if (fmcl_npy_read(path, x0, shape, &ndim, err, sizeof err) != FMCL_OK)
        return cli_error("--x0: %s", err);
    if (ndim != 2 || shape[0] < 1 || shape[0] > INT_MAX || shape[1] < 1 || shape[1] > INT_MAX) {
        free(*x0);
        *x0 = NULL;
        return cli_error("--x0 %s: expected an N x D array of starting points (D the model's "
                         "dimension), found %d dimension(s)",
                         path, ndim);
    }
    *rows = (int)shape[0];
    *cols = (int)shape[1];
    return CLI_OK;
}

/* Everything that needs the device. image: the images' shape {c, h, w} for
 * an image model, else NULL. */
static int sample(const sample_opts *o, const float *x0, int x0_cols, const int *image)
{
    char err[8192];
    fmcl_ctx *ctx = NULL;
    fmcl_model *m = NULL;
    float *out = NULL, *traj = NULL;
    int *cls = NULL;
    int rc = CLI_FAIL;
    if (fmcl_ctx_create(&ctx, o->device, err, sizeof err) != FMCL_OK) {
        cli_lib_error("", err);
        goto done;
    }
    const fmcl_weights which = o->raw_weights ? FMCL_WEIGHTS_RAW : FMCL_WEIGHTS_DEFAULT;
    const size_t noted = strlen(fmcl_ctx_notes(ctx));
    if (fmcl_model_load(ctx, o->ckpt, which, &m) != FMCL_OK) {
        cli_lib_error("", fmcl_ctx_error(ctx));
        goto done;
    }
    cli_notes_since(fmcl_ctx_notes(ctx), noted); /* weights converted to float32 */
    fprintf(stderr, "weights: %s\n", fmcl_model_is_ema(m) ? "their EMA" : "as trained");
    int dim = fmcl_model_get_config(m)->dim;
    if (image && (int64_t)image[0] * image[1] * image[2] != dim) {
        cli_error("%s records images of %d x %d x %d but its model is %d-dimensional; the "
                  "checkpoint is inconsistent",
                  o->ckpt, image[0], image[1], image[2], dim);
        goto done;
    }
    if (x0 && x0_cols != dim) {
        cli_error("--x0 %s has %d columns but the model in %s is %d-dimensional; give an N x %d "
                  "array",
                  o->x0, x0_cols, o->ckpt, dim, dim);
        goto done;
    }
    const size_t points = (size_t)o->n * (size_t)dim;
    out = malloc(sizeof(float) * points);
    traj = o->times ? malloc(sizeof(float) * points * (size_t)o->n_times) : NULL;
    if (!out || (o->times && !traj)) {
        cli_error("out of host memory for %d x %d samples%s; lower --n", o->n, dim,
                  o->times ? " at every time of --times" : "");
        goto done;
    }
    if (o->classes > 0 && !(cls = point_classes(o))) goto done;
    fmcl_sample_stats st = {0};
    fmcl_sample_config sc;
    fmcl_sample_config_default(&sc);
    sc.solver = (fmcl_solver)fmcl_name_value(FMCL_NAMES_SOLVER, o->solver);
    sc.steps = o->steps, sc.n = o->n, sc.seed = o->seed, sc.x0 = x0;
    sc.grid = o->grid, sc.grid_points = o->grid_points;
    sc.atol = o->atol, sc.rtol = o->rtol, sc.max_steps = o->max_steps;
    sc.times = o->times, sc.n_times = o->n_times, sc.stats = &st;
    sc.classes = cls, sc.guidance = (float)o->cfg;
    int nfe = 0;
    double t0 = cli_now();
    eval_progress ep;
    eval_progress_start(&ep, stderr, "sampling", &sc);
    const fmcl_status ss = fmcl_sample(m, &sc, out, traj, &nfe);
    eval_progress_end(&ep);
    if (ss != FMCL_OK) {
        cli_lib_error("", fmcl_ctx_error(ctx));
        goto done;
    }
    interrupt_mode(0, NULL,
                   "interrupted again while writing: stopped at once; the files "
                   "named above as written are complete, the others were not written");
    double secs = cli_now() - t0;
    const size_t bad = outputs_nonfinite(out, points);
    if (bad > 0) {
        cli_error("%zu of the %zu sampled values are NaN or infinite (the model's weights, or "
                  "the solver diverged: try more --steps or --solver dopri5); nothing was "
                  "written",
                  bad, points);
        goto done;
    }
    char how[128];
    describe(o, how, sizeof how);
    if (o->classes > 0)
        printf("classes: %s of %d%s\n", o->cls >= 0 ? "one" : "each", o->classes,
               o->cfg != 0 ? ", classifier-free guidance: v = (1 + w) v_cond - w v_uncond, one "
                             "NFE = one forward of both halves"
                           : "");
    if (o->cfg != 0) printf("guidance w = %g\n", o->cfg);
    if (sc.solver != FMCL_SOLVER_DOPRI5)
        printf("sampled %d points with %s: NFE %d, %.3f s\n", o->n, how, nfe, secs);
    else if (st.solves == 1)
        printf("sampled %d points with %s: NFE %d, %d accepted and %d rejected steps, %.3f s\n",
               o->n, how, nfe, st.accepted, st.rejected, secs);
    else
        printf("sampled %d points with %s in %d solves of up to %d points: NFE %d in all (at "
               "most %d in one), %d accepted and %d rejected steps, %.3f s\n",
               o->n, how, st.solves,
               fmcl_model_get_config(m)->kind == FMCL_MODEL_UNET ? FMCL_UNET_CHUNK : FMCL_MLP_CHUNK,
               st.nfe, nfe, st.accepted, st.rejected, secs);
    int64_t shape[3] = {o->n_times, o->n, dim};
    if (fmcl_npy_write(o->out, out, shape + 1, 2, err, sizeof err) != FMCL_OK) {
        cli_error("%s", err);
        goto done;
    }
    printf("wrote %s\n", o->out);
    if (traj && o->times_arg) {
        if (fmcl_npy_write(o->traj, traj, shape, 3, err, sizeof err) != FMCL_OK) {
            cli_error("%s", err);
            goto done;
        }
        printf("wrote %s (the states at %d times, %d x %d x %d)\n", o->traj, o->n_times, o->n_times,
               o->n, dim);
    }
    if (image && o->trajectory &&
        cli_write_trajectory(o->trajectory, traj, o->n_times, o->n, TRAJECTORY_ROWS, image) !=
            CLI_OK)
        goto done;
    if (!o->png) {
        /* --png none */
    } else if (image && o->classes > 0 && o->cls < 0) {
        if (cli_write_class_grid(o->png, out, o->classes, o->n / o->classes, image) != CLI_OK)
            goto done;
    } else if (image) {
        if (cli_write_grid(o->png, out, o->n, image) != CLI_OK) goto done;
    } else if (dim == 2) {
        char title[256];
        float r = cli_plot_extent(out, o->n);
        snprintf(title, sizeof title, "samples (%s, NFE %d)", how, nfe);
        if (fmcl_plot_density(o->png, title, out, o->n, -r, r, err, sizeof err) != FMCL_OK) {
            cli_error("%s", err);
            goto done;
        }
        printf("wrote %s\n", o->png);
    } else {
        printf("no PNG: the model is %d-dimensional, pictures are for 2D and image models\n", dim);
    }
    rc = interrupt_signal() ? interrupt_status() : CLI_OK;
    if (interrupt_signal()) /* the files are written: say so, and that it was cut short */
        fprintf(stderr, "fmcl sample: interrupted while writing; the files named above were "
                        "written in full before it stopped\n");
done:
    free(out);
    free(traj);
    free(cls);
    fmcl_model_free(m);
    fmcl_ctx_free(ctx);
    return rc;
}

int cmd_sample(int argc, char **argv)
{
    sample_opts o = {.solver = "midpoint",
                     .out = "samples.npy",
                     .traj = "traj.npy",
                     .steps = 20,
                     .n = 10000,
                     .max_steps = 1000,
                     .atol = 1e-5,
                     .rtol = 1e-5,
                     .cls = -1};
    arg_spec specs[] = {
        {.name = "ckpt",
         .type = ARG_STR,
         .dest = &o.ckpt,
         .metavar = "PATH",
         .help = "checkpoint written by fmcl train (model.safetensors); required"},
        {.name = "solver",
         .type = ARG_CHOICE,
         .dest = &o.solver,
         .metavar = "NAME",
         .help = "ODE solver: fixed-step euler (1 model evaluation per step), midpoint (2), heun "
                 "(2), rk4 (4, the classic scheme), rk4-38 (4, Kutta's 3/8 rule: torchdiffeq's "
                 "'rk4'), or adaptive dopri5 (6 per attempted step)"},
        {.name = "steps",
         .type = ARG_INT,
         .dest = &o.steps,
         .metavar = "N",
         .help = "uniform steps from t = 0 to 1 (fixed-step solvers)"},
        {.name = "grid",
         .type = ARG_STR,
         .dest = &o.grid_arg,
         .metavar = "T0,T1,...|FILE.npy",
         .help = "time grid of a fixed-step solver instead of --steps: strictly increasing "
                 "from 0 to 1"},
        {.name = "atol",
         .type = ARG_REAL,
         .dest = &o.atol,
         .metavar = "X",
         .help = "dopri5: absolute error tolerance per element"},
        {.name = "rtol",
         .type = ARG_REAL,
         .dest = &o.rtol,
         .metavar = "X",
         .help = "dopri5: relative error tolerance"},
        {.name = "max-steps",
         .type = ARG_INT,
         .dest = &o.max_steps,
         .metavar = "N",
         .help = "dopri5: attempted steps allowed before it gives up"},
        {.name = "times",
         .type = ARG_STR,
         .dest = &o.times_arg,
         .metavar = "T1,T2,...",
         .help = "also write the states at these times in [0, 1] to --traj (fixed-step "
                 "solvers: grid points; dopri5 lands its steps on them)"},
        {.name = "traj",
         .type = ARG_STR,
         .dest = &o.traj,
         .metavar = "FILE.npy",
         .help = "where --times writes its states: T x N x D float32"},
        {.name = "n",
         .type = ARG_INT,
         .dest = &o.n,
         .metavar = "N",
         .help = "points to draw (with --x0: the array's rows; conditional models without "
                 "--class: of each class)"},
        {.name = "class",
         .type = ARG_INT,
         .dest = &o.cls,
         .metavar = "K",
         .help = "class-conditional models: draw class K only (0 to classes - 1); without it "
                 "every class is drawn, --n of each (default 10), and the PNG grid has one row "
                 "per class",
         .lo = 0,
         .hi = 255,
         .default_text = "every class"},
        {.name = "cfg",
         .type = ARG_REAL,
         .dest = &o.cfg,
         .metavar = "W",
         .help = "class-conditional models: classifier-free guidance v = (1 + W) v(x, t, class) "
                 "- W v(x, t, null class); 0 is plain conditional sampling. Each NFE is then "
                 "one forward of twice the rows"},
        {.name = "trajectory",
         .type = ARG_STR,
         .dest = &o.trajectory,
         .metavar = "FILE.png",
         .help = "image models: also draw the first 8 samples (rows) at t = 0, 0.25, 0.5, 0.75 "
                 "and 1 (columns; the solver's nearest time points, or the times of --times)"},
        {.name = "raw-weights",
         .type = ARG_BOOL,
         .dest = &o.raw_weights,
         .help = "use the trained weights even when the checkpoint holds an EMA of them (the "
                 "default then)"},
        {.name = "seed",
         .type = ARG_U64,
         .dest = &o.seed,
         .metavar = "N",
         .help = "seed of the starting noise x0 ~ N(0, I)"},
        {.name = "x0",
         .type = ARG_STR,
         .dest = &o.x0,
         .metavar = "FILE.npy",
         .help = "start from these N x D points instead of noise"},
        {.name = "out",
         .type = ARG_STR,
         .dest = &o.out,
         .metavar = "FILE.npy",
         .help = "where to write the N x D samples (float32)"},
        {.name = "png",
         .type = ARG_STR,
         .dest = &o.png,
         .metavar = "FILE.png",
         .help = "where to draw the samples' density (2D models) or a grid of the first 256 "
                 "images (image models; values clamped to [-1, 1], shown as 0..255; one row "
                 "per class when a conditional model draws every class); none: no picture",
         .default_text = "--out's name with .png"},
        {.name = "device",
         .type = ARG_STR,
         .dest = &o.device,
         .metavar = "SPEC",
         .help = "OpenCL device: P:D from `fmcl devices`, or part of its platform, vendor or "
                 "device name",
         .default_text = "$FMCL_DEVICE, else the first GPU, else the first device"},
    };
    arg_cmd cmd = {
        .prog = "fmcl sample",
        .about = "Integrates dx/dt = v(x, t) of a trained model from t = 0 (noise, or the\n"
                 "points of --x0) to t = 1, writes the points as .npy and their density as PNG\n"
                 "(image models: a grid of the images), and reports the number of model "
                 "evaluations (NFE) and the time taken.",
        .epilog = "examples:\n"
                  "  fmcl sample --ckpt runs/moons/model.safetensors\n"
                  "  fmcl sample --ckpt model.safetensors --solver rk4 --steps 10 --n 50000 "
                  "--out s.npy --png s.png\n"
                  "  fmcl sample --ckpt model.safetensors --solver dopri5 --atol 1e-5 --rtol 1e-5\n"
                  "  fmcl sample --ckpt model.safetensors --solver heun --grid 0,0.5,0.8,0.95,1 "
                  "--times 0,0.5,1\n"
                  "  fmcl sample --ckpt runs/fmnist-cond/model.safetensors --n 8 --cfg 2\n"
                  "  fmcl sample --ckpt runs/fmnist-cond/model.safetensors --class 3 --n 64 "
                  "--trajectory traj.png\n",
        .specs = specs,
        .n = (int)(sizeof specs / sizeof specs[0]),
    };
    const fmcl_setting_scope S = FMCL_SCOPE_SAMPLE;
    const arg_binding binds[] = {{"solver", S, NULL},   {"steps", S, NULL},     {"atol", S, NULL},
                                 {"rtol", S, NULL},     {"max-steps", S, NULL}, {"n", S, NULL},
                                 {"cfg", S, "guidance"}};
    args_bind(&cmd, binds, (int)(sizeof binds / sizeof *binds));
    int rc = args_parse(&cmd, argc, argv);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : rc;
    if (!o.ckpt)
        return args_usage(&cmd, "--ckpt PATH is required (the model.safetensors that "
                                "fmcl train wrote)");
    if (o.x0 && args_find(&cmd, "n")->seen)
        return args_usage(&cmd, "--n and --x0 both set the number of points; give only one");
    const int adaptive = fmcl_name_value(FMCL_NAMES_SOLVER, o.solver) == FMCL_SOLVER_DOPRI5;
    if (adaptive && (args_find(&cmd, "steps")->seen || o.grid_arg))
        return args_usage(&cmd,
                          "dopri5 chooses its own steps: drop --%s (set its accuracy with "
                          "--atol and --rtol)",
                          o.grid_arg ? "grid" : "steps");
    if (!adaptive && (args_find(&cmd, "atol")->seen || args_find(&cmd, "rtol")->seen ||
                      args_find(&cmd, "max-steps")->seen))
        return args_usage(&cmd,
                          "--atol, --rtol and --max-steps are for --solver dopri5; %s "
                          "takes fixed steps (--steps or --grid)",
                          o.solver);
    if (o.grid_arg && args_find(&cmd, "steps")->seen)
        return args_usage(&cmd, "--steps and --grid both set the steps; give only one");
    if (args_find(&cmd, "traj")->seen && !o.times_arg)
        return args_usage(&cmd, "--traj is where the states at --times go; give --times too");
    /* cppcheck-suppress variableScope ; o.png may point into it until the end */
    char beside[4200];
    if (!o.png)
        o.png = outputs_beside(o.out, beside, sizeof beside);
    else if (strcmp(o.png, "none") == 0)
        o.png = NULL;
    if (o.png && !outputs_is_png(o.png))
        return args_usage(&cmd,
                          "--png %s: fmcl draws PNG pictures only; give a name ending in "
                          ".png, or none for no picture",
                          o.png);
    if (o.trajectory && !outputs_is_png(o.trajectory))
        return args_usage(&cmd,
                          "--trajectory %s: fmcl draws PNG pictures only; give a name "
                          "ending in .png",
                          o.trajectory);

    if (o.grid_arg) rc = read_grid(&cmd, &o);
    if (rc == CLI_OK && o.times_arg) rc = read_times(&cmd, &o);

    /* Reject a missing or malformed checkpoint before starting a device. */
    char err[1024];
    fmcl_checkpoint *f = NULL;
    int shape[3], image = 0;
    if (rc == CLI_OK && fmcl_checkpoint_open(o.ckpt, &f, err, sizeof err) != FMCL_OK) {
        rc = cli_error("--ckpt: %s", err);
    } else if (rc == CLI_OK) {
        image = cli_image_shape(f, o.ckpt, shape);
        if (image < 0) rc = CLI_FAIL;
        const char *k = fmcl_checkpoint_meta(f,
                                             "classes"); /* written for conditional models only */
        char *end = NULL;
        o.classes = k ? (int)strtol(k, &end, 10) : 0;
        if (rc == CLI_OK && k && (*end || o.classes < 1 || o.classes > 256))
            rc = cli_error("--ckpt %s: metadata 'classes' is '%s', not a number of classes in "
                           "[1, 256]",
                           o.ckpt, k);
        fmcl_checkpoint_free(f);
    }
    const int cls_seen = args_find(&cmd, "class")->seen, cfg_seen = args_find(&cmd, "cfg")->seen;
    if (rc == CLI_OK && o.classes == 0 && (cls_seen || cfg_seen))
        rc = args_usage(&cmd,
                        "--%s is for class-conditional models, and %s was trained "
                        "without classes (fmcl train --cond)",
                        cls_seen ? "class" : "cfg", o.ckpt);
    else if (rc == CLI_OK && o.classes > 0 && o.cls >= o.classes)
        rc = args_usage(&cmd, "--class %d: the model in %s has %d classes, 0 to %d", o.cls, o.ckpt,
                        o.classes, o.classes - 1);
    else if (rc == CLI_OK && o.classes > 0 && o.cls < 0 && o.x0)
        rc = args_usage(&cmd, "--x0 gives the points of one class: add --class K (without it "
                              "every class is drawn from its own noise)");
    else if (rc == CLI_OK && o.classes > 0 && o.cls < 0) { /* --n of each class */
        const int per = args_find(&cmd, "n")->seen ? o.n : PER_CLASS_DEFAULT;
        if ((int64_t)per * o.classes > 100000000)
            rc = args_usage(&cmd,
                            "--n %d of each of %d classes is more than 10^8 points; lower "
                            "--n",
                            per, o.classes);
        o.n = per * o.classes;
    }
    if (rc == CLI_OK && o.trajectory && image <= 0)
        rc = args_usage(&cmd,
                        "--trajectory draws images, and %s is not an image model (give "
                        "--times and --traj for the states as .npy)",
                        o.ckpt);
    if (rc == CLI_OK && o.trajectory && !o.times_arg) rc = trajectory_times(&o);

    /* Every output writable before any work (a missing folder is made). */
    if (rc == CLI_OK) rc = outputs_file("--out", o.out);
    if (rc == CLI_OK && o.png) rc = outputs_file("--png", o.png);
    if (rc == CLI_OK && o.times_arg) rc = outputs_file("--traj", o.traj);
    if (rc == CLI_OK && o.trajectory) rc = outputs_file("--trajectory", o.trajectory);
    if (rc == CLI_OK) {
        interrupt_install();
        interrupt_mode(1, NULL, "interrupted: nothing was written");
    }

    float *x0 = NULL;
    int cols = 0;
    if (rc == CLI_OK && o.x0) rc = read_x0(o.x0, &x0, &o.n, &cols);
    if (rc == CLI_OK) rc = sample(&o, x0, cols, image > 0 ? shape : NULL);
    free(x0);
    free(o.grid);
    free(o.times);
    return rc;
}
