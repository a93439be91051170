/* fmcl nll: the model's negative log-likelihood of data points, in nats and
 * bits per dimension with standard errors, by integrating the flow and its
 * divergence from t = 1 back to t = 0; for 2D models, a picture of the
 * model's density. Image sets are dequantised once with --seed and reported
 * in bits/dim of the 8-bit data (the +7 of the scaling to [-1, 1]). */
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
#include "fmcl.h"

/* Built-in sets are evaluated on fresh points: the data stream's last step,
 * which no training run reaches. */
#define HELD_OUT_STEP UINT32_MAX

typedef struct {
    const char *ckpt, *data, *solver, *png, *device, *out;
    int n, exact, hutchinson, steps, max_steps, grid, limit;
    int shape[3]; /* an image model's {c, h, w}, from the checkpoint */
    double atol, rtol;
    uint64_t seed;
    int raw_weights; /* the trained weights, not the EMA */
} nll_opts;

/* The points: a built-in set's fresh draws or the rows of a .npy file. */
typedef struct {
    float *x;
    int n, dim;
    int images; /* 8-bit images scaled to [-1, 1]: bits/dim get the +7 */
    char what[640];
} nll_data;

/* The test split of an image set (or the file as it is), dequantised once:
 * x = 2 (k + u) / 256 - 1 with u drawn for (image, pixel) from --seed at the
 * data stream's last step, so repeated runs see the same points. */
static int load_images(arg_cmd *cmd, const nll_opts *o, const char *spec, nll_data *d)
{
    char err[1024];
    fmcl_image_options opt;
    fmcl_image_options_default(&opt);
    opt.split = FMCL_SPLIT_TEST, opt.limit = o->limit;
    opt.size = o->shape[1], opt.channels = o->shape[0];
    fmcl_data *src = NULL;
    fmcl_status s = fmcl_data_create_images(spec, &opt, &src, err, sizeof err);
    if (s == FMCL_ERR_ARG) return args_usage(cmd, "--data %s", err);
    if (s != FMCL_OK) return cli_data_error(spec, err);
    d->n = fmcl_data_count(src);
    d->dim = fmcl_data_dim(src);
    d->images = 1;
    d->x = malloc(sizeof(float) * (size_t)d->dim * (size_t)d->n);
    if (d->x) s = fmcl_data_rows(src, 0, d->n, o->seed, d->x, err, sizeof err);
    snprintf(d->what, sizeof d->what, "%s, dequantised with seed %" PRIu64, fmcl_data_describe(src),
             o->seed);
    fmcl_data_free(src);
    if (!d->x) return cli_error("out of host memory for %d images; use --limit", d->n);
    return s == FMCL_OK ? CLI_OK : cli_data_error(spec, err);
}

static int load_points(arg_cmd *cmd, const nll_opts *o, const char *spec, nll_data *d)
{
    memset(d, 0, sizeof *d);
    char err[1024];
    if (fmcl_data_spec_is_images(spec)) return load_images(cmd, o, spec, d);
    if (!cli_is_npy(spec)) {
        fmcl_data *src = NULL;
        if (fmcl_data_open(spec, NULL, &src, err, sizeof err) != FMCL_OK)
            return args_usage(cmd,
                              "--data: unknown data set '%s' (expected checkerboard, "
                              "8gaussians, moons, rings, spirals, or a FILE.npy of N x D "
                              "points)",
                              spec);
        d->n = o->n;
        d->dim = 2;
        d->x = malloc(sizeof(float) * 2 * (size_t)d->n);
        fmcl_status s = d->x ? fmcl_data_draw(src, o->seed, HELD_OUT_STEP, d->n, d->x, err,
                                              sizeof err)
                             : FMCL_ERR_NOMEM;
        fmcl_data_free(src);
        if (!d->x) return cli_error("out of host memory for %d points; lower --n", d->n);
        if (s != FMCL_OK) return cli_error("drawing %d %s points failed", d->n, spec);
        snprintf(d->what, sizeof d->what, "%d fresh %s points (seed %" PRIu64 ")", d->n, spec,
                 o->seed);
        return CLI_OK;
    }
    int64_t shape[FMCL_NPY_MAX_DIMS];
    int ndim = 0;
    if (fmcl_npy_read(spec, &d->x, shape, &ndim, err, sizeof err) != FMCL_OK)
        return cli_error("--data: %s", err);
    if (ndim != 2 || shape[0] < 1 || shape[0] > INT_MAX || shape[1] < 1 || shape[1] > INT_MAX)
        return cli_error("--data %s: expected an N x D array of points (D the model's "
                         "dimension), found %d dimension(s)",
                         spec, ndim);
    d->n = (int)shape[0];
    d->dim = (int)shape[1];
    if (args_find(cmd, "n")->seen) {
        if (o->n > d->n) return cli_error("--n %d: %s holds only %d points", o->n, spec, d->n);
        d->n = o->n;
    }
    snprintf(d->what, sizeof d->what, "%d points of %s", d->n, spec);
    return CLI_OK;
}

static void describe_solver(const nll_opts *o, char *s, size_t len)
{
    if (strcmp(o->solver, "dopri5") == 0)
        snprintf(s, len, "dopri5 (atol %g, rtol %g)", o->atol, o->rtol);
    else
        snprintf(s, len, "%s, %d steps", o->solver, o->steps);
}

/* log p on a grid x grid lattice over the square that shows the data, drawn
 * as the density exp(log p), with the exact divergence. */
static int draw_density(fmcl_ctx *ctx, fmcl_model *m, const nll_opts *o, fmcl_nll_config cfg,
                        const nll_data *d)
{
    const int g = o->grid;
    const float r = cli_plot_extent(d->x, d->n);
    float *pts = malloc(sizeof(float) * 2 * (size_t)g * g), *p = malloc(sizeof(float) * g * g);
    double *lp = malloc(sizeof(double) * g * g);
    int rc = CLI_FAIL;
    if (!pts || !p || !lp) {
        cli_error("out of host memory for a %d x %d grid; lower --grid", g, g);
        goto done;
    }
    for (int i = 0; i < g; i++)
        for (int j = 0; j < g; j++) {
            pts[2 * (i * g + j)] = -r + (j + 0.5f) * 2 * r / g;
            pts[2 * (i * g + j) + 1] = -r + (i + 0.5f) * 2 * r / g;
        }
    cfg.hutchinson = 0;
    cfg.stats = NULL;
    if (fmcl_log_prob(m, &cfg, pts, g * g, lp, NULL) != FMCL_OK) {
        cli_lib_error("density picture: ", fmcl_ctx_error(ctx));
        goto done;
    }
    double mass = 0, cell = (2.0 * r / g) * (2.0 * r / g);
    for (int i = 0; i < g * g; i++) {
        p[i] = (float)exp(lp[i]);
        mass += p[i] * cell;
    }
    char sub[200], solver[96], err[1024];
    describe_solver(o, solver, sizeof solver);
    snprintf(sub, sizeof sub, "%s, exact divergence, %d x %d grid, mass shown %.3f", solver, g, g,
             mass);
    if (fmcl_plot_heatmap(o->png, "model density p1(x)", sub, p, g, -r, r, err, sizeof err) !=
        FMCL_OK) {
        cli_error("%s", err);
        goto done;
    }
    printf("wrote %s (density on a %d x %d grid over [%.2f, %.2f]^2; it holds %.3f of the "
           "mass)\n",
           o->png, g, g, -r, r, mass);
    rc = CLI_OK;
done:
    free(pts);
    free(p);
    free(lp);
    return rc;
}

/* Decimals that show x with at least 6 significant digits, so that runs can
 * be compared. */
static int six_digits(double x)
{
    const int d = x == 0 || !isfinite(x) ? 6 : 5 - (int)floor(log10(fabs(x)));
    return d < 0 ? 0 : d > 12 ? 12 : d;
}

/* --out: each point's NLL, in input order and the mean's units. */
static int write_per_point(const nll_opts *o, const nll_data *d, const double *lp, int dim)
{
    double *v = malloc(sizeof(double) * (size_t)d->n);
    float *f = malloc(sizeof(float) * (size_t)d->n);
    int rc = CLI_OK;
    if (!v || !f) {
        rc = cli_error("out of host memory for %d points; lower --n", d->n);
    } else {
        char err[1024];
        fmcl_nll_per_point(lp, d->n, dim, d->images ? 8 : 0, v);
        for (int i = 0; i < d->n; i++) f[i] = (float)v[i];
        const int64_t shape[1] = {d->n};
        if (fmcl_npy_write(o->out, f, shape, 1, err, sizeof err) != FMCL_OK)
            rc = cli_error("--out: %s", err);
        else
            printf("wrote %s (%d NLLs, in %s, in the order of the points)\n", o->out, d->n,
                   d->images ? "bits/dim" : "nats");
    }
    free(v);
    free(f);
    return rc;
}

/* Everything that needs the device. */
static int nll(const nll_opts *o, const nll_data *d)
{
    char err[8192];
    fmcl_ctx *ctx = NULL;
    fmcl_model *m = NULL;
    double *lp = malloc(sizeof(double) * (size_t)d->n);
    int rc = CLI_FAIL;
    if (!lp) return cli_error("out of host memory for %d points; lower --n", d->n);
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
    const int dim = fmcl_model_get_config(m)->dim;
    if (d->dim != dim) {
        cli_error("--data has %d-dimensional points but the model in %s is %d-dimensional", d->dim,
                  o->ckpt, dim);
        goto done;
    }
    fmcl_sample_stats st;
    fmcl_nll_config cfg;
    fmcl_nll_config_default(&cfg);
    cfg.solver = (fmcl_solver)fmcl_name_value(FMCL_NAMES_SOLVER, o->solver);
    cfg.steps = o->steps;
    cfg.atol = o->atol;
    cfg.rtol = o->rtol;
    cfg.max_steps = o->max_steps;
    cfg.hutchinson = o->hutchinson;
    cfg.seed = o->seed;
    cfg.stats = &st;
    int nfe = 0;
    double t0 = cli_now();
    if (fmcl_log_prob(m, &cfg, d->x, d->n, lp, &nfe) != FMCL_OK) {
        cli_lib_error("", fmcl_ctx_error(ctx));
        goto done;
    }
    char solver[96], div[96];
    describe_solver(o, solver, sizeof solver);
    if (o->hutchinson)
        snprintf(div, sizeof div, "Hutchinson, %d probe(s) per point", o->hutchinson);
    else
        snprintf(div, sizeof div, "exact divergence");
    printf("data: %s\n", d->what);
    printf("solver: %s, %s: %d solve(s), NFE %d in all, at most %d per solve, %.2f s\n", solver,
           div, st.solves, st.nfe, nfe, cli_now() - t0);
    fmcl_nll_stats s;
    fmcl_nll_stats_of(lp, d->n, dim, &s);
    if (d->images) {
        const double bpd_x = s.bpd;
        fmcl_nll_stats_dequantized(&s, 8);
        printf("NLL %.*f +- %.*f nats, %.*f +- %.*f bits/dim (of the dequantised 8-bit data; "
               "mean +- standard error over %d images, D = %d)\n",
               six_digits(s.nll), s.nll, six_digits(s.nll), s.nll_se, six_digits(s.bpd), s.bpd,
               six_digits(s.bpd), s.bpd_se, s.n, dim);
        printf("(bits/dim = -log p(x) / (D ln 2) + 7: the model's density of x = 2 (k + u) / "
               "256 - 1 in [-1, 1]^D gives %.4f, and the scaling's Jacobian 1/128 per pixel adds "
               "log2(128) = 7)\n",
               bpd_x);
    } else {
        printf("NLL %.*f +- %.*f nats, %.*f +- %.*f bits/dim (mean +- standard error over %d "
               "points, D = %d)\n",
               six_digits(s.nll), s.nll, six_digits(s.nll), s.nll_se, six_digits(s.bpd), s.bpd,
               six_digits(s.bpd), s.bpd_se, s.n, dim);
    }
    if (o->out && write_per_point(o, d, lp, dim) != CLI_OK) goto done;
    if (o->png && dim != 2)
        printf("no PNG: the model is %d-dimensional, density pictures are for 2D models\n", dim);
    if (o->png && dim == 2) {
        char stop[4200];
        snprintf(stop, sizeof stop,
                 "interrupted while drawing the density: the NLL above is "
                 "complete; %s was not written",
                 o->png);
        interrupt_mode(1, NULL, stop);
        rc = draw_density(ctx, m, o, cfg, d);
    } else {
        rc = CLI_OK;
    }
done:
    free(lp);
    fmcl_model_free(m);
    fmcl_ctx_free(ctx);
    return rc;
}

int cmd_nll(int argc, char **argv)
{
    nll_opts o = {.solver = "dopri5",
                  .n = 2000,
                  .steps = 32,
                  .atol = 1e-5,
                  .rtol = 1e-5,
                  .max_steps = 1000,
                  .grid = 100};
    arg_spec specs[] = {
        {.name = "ckpt",
         .type = ARG_STR,
         .dest = &o.ckpt,
         .metavar = "PATH",
         .help = "checkpoint written by fmcl train (model.safetensors); required"},
        {.name = "data",
         .type = ARG_STR,
         .dest = &o.data,
         .metavar = "NAME|FILE.npy|SET",
         .help = "points to evaluate: fresh draws of a built-in 2D set (checkerboard, "
                 "8gaussians, moons, rings, spirals), an N x D float32/float64 .npy file, or "
                 "the test split of an image set (fashion-mnist, mnist:DIR, idx:FILE, "
                 "cifar10:PATH, images:DIR), dequantised with --seed",
         .default_text = "the set the checkpoint was trained on"},
        {.name = "limit",
         .type = ARG_INT,
         .dest = &o.limit,
         .metavar = "N",
         .help = "image sets: the first N images only",
         .default_text = "all"},
        {.name = "n",
         .type = ARG_INT,
         .dest = &o.n,
         .metavar = "N",
         .help = "points drawn from a built-in set; with a file, its first N rows",
         .lo = 1,
         .hi = 100000000,
         .default_text = "2000 drawn, or every row of the file"},
        {.name = "raw-weights",
         .type = ARG_BOOL,
         .dest = &o.raw_weights,
         .help = "use the trained weights even when the checkpoint holds an EMA of them (the "
                 "default then)"},
        {.name = "exact",
         .type = ARG_BOOL,
         .dest = &o.exact,
         .help = "exact divergence: D vector-Jacobian products per model evaluation (the "
                 "default, except for image sets)"},
        {.name = "hutchinson",
         .type = ARG_INT,
         .dest = &o.hutchinson,
         .metavar = "K",
         .help = "Hutchinson's divergence estimate instead: one Rademacher probe per solve, K "
                 "solves averaged (one VJP per evaluation)",
         .default_text = "off; 1 for image sets"},
        {.name = "solver",
         .type = ARG_CHOICE,
         .dest = &o.solver,
         .metavar = "NAME",
         .help = "ODE solver from t = 1 back to 0: adaptive dopri5, or a fixed-step one (rk4 is "
                 "the classic scheme; torchdiffeq's 'rk4' is rk4-38, the 3/8 rule)"},
        {.name = "steps",
         .type = ARG_INT,
         .dest = &o.steps,
         .metavar = "N",
         .help = "uniform steps of a fixed-step solver"},
        {.name = "atol",
         .type = ARG_REAL,
         .dest = &o.atol,
         .metavar = "X",
         .help = "dopri5's absolute tolerance per element of [x, delta log p]"},
        {.name = "rtol",
         .type = ARG_REAL,
         .dest = &o.rtol,
         .metavar = "X",
         .help = "dopri5's relative tolerance"},
        {.name = "max-steps",
         .type = ARG_INT,
         .dest = &o.max_steps,
         .metavar = "N",
         .help = "dopri5's attempted steps per solve before it gives up"},
        {.name = "seed",
         .type = ARG_U64,
         .dest = &o.seed,
         .metavar = "N",
         .help = "seed of the drawn points and of the Hutchinson probes"},
        {.name = "out",
         .type = ARG_STR,
         .dest = &o.out,
         .metavar = "FILE.npy",
         .help = "also write each point's NLL, in the order of the points, as a float32 .npy "
                 "array of N values: nats, or bits/dim for image sets (as the mean)",
         .default_text = "none"},
        {.name = "png",
         .type = ARG_STR,
         .dest = &o.png,
         .metavar = "FILE.png",
         .help = "draw the model's density on a grid over the data's range (2D models)",
         .default_text = "no picture"},
        {.name = "grid",
         .type = ARG_INT,
         .dest = &o.grid,
         .metavar = "N",
         .help = "cells per side of the density picture",
         .lo = 2,
         .hi = 512},
        {.name = "device",
         .type = ARG_STR,
         .dest = &o.device,
         .metavar = "SPEC",
         .help = "OpenCL device: P:D from `fmcl devices`, or part of its platform, vendor or "
                 "device name",
         .default_text = "$FMCL_DEVICE, else the first GPU, else the first device"},
    };
    arg_cmd cmd = {
        .prog = "fmcl nll",
        .about = "Negative log-likelihood of points under a trained model: integrates\n"
                 "dx/dt = v(x, t) and d delta/dt = div v(x, t) from t = 1 (the point, delta = 0)\n"
                 "back to t = 0, so log p1(x) = log p0(x0) + delta(0), p0 the path's noise.\n"
                 "Prints the mean NLL in nats and in bits per dimension (NLL / (D ln 2)) with\n"
                 "their standard errors over the points; draws the density of a 2D model.\n"
                 "Image sets: the NLL of the dequantised 8-bit data, bits/dim with the +7 of\n"
                 "the scaling to [-1, 1].",
        .epilog = "examples:\n"
                  "  fmcl nll --ckpt runs/checkerboard/model.safetensors\n"
                  "  fmcl nll --ckpt model.safetensors --data moons --n 5000 --png density.png\n"
                  "  fmcl nll --ckpt model.safetensors --data points.npy --hutchinson 4 "
                  "--solver rk4 --steps 20\n"
                  "  fmcl nll --ckpt runs/fashion/model.safetensors --data fashion-mnist --limit "
                  "500\n",
        .specs = specs,
        .n = (int)(sizeof specs / sizeof specs[0]),
    };
    const fmcl_setting_scope N = FMCL_SCOPE_NLL;
    const arg_binding binds[] = {{"solver", N, NULL},
                                 {"steps", N, NULL},
                                 {"atol", N, NULL},
                                 {"rtol", N, NULL},
                                 {"max-steps", N, NULL},
                                 {"hutchinson", N, NULL},
                                 {"limit", FMCL_SCOPE_IMAGES, NULL}};
    args_bind(&cmd, binds, (int)(sizeof binds / sizeof *binds));
    int rc = args_parse(&cmd, argc, argv);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : rc;
    if (!o.ckpt)
        return args_usage(&cmd, "--ckpt PATH is required (the model.safetensors that "
                                "fmcl train wrote)");
    if (o.exact && o.hutchinson)
        return args_usage(&cmd, "--exact and --hutchinson K choose the divergence both ways; "
                                "give one");
    const int dopri5 = strcmp(o.solver, "dopri5") == 0;
    if (dopri5 && args_find(&cmd, "steps")->seen)
        return args_usage(&cmd, "dopri5 chooses its own steps: drop --steps (set --atol and "
                                "--rtol instead), or pick a fixed-step --solver");
    if (!dopri5 && (args_find(&cmd, "atol")->seen || args_find(&cmd, "rtol")->seen ||
                    args_find(&cmd, "max-steps")->seen))
        return args_usage(&cmd, "--atol, --rtol and --max-steps are for --solver dopri5");
    if (o.out && !cli_is_npy(o.out))
        return args_usage(&cmd, "--out %s: per-point NLLs are written as .npy; name a FILE.npy",
                          o.out);
    if (args_find(&cmd, "grid")->seen && !o.png)
        return args_usage(&cmd, "--grid sets the picture's resolution; give --png FILE.png too");
    if (o.png && !outputs_is_png(o.png))
        return args_usage(&cmd,
                          "--png %s: fmcl draws PNG pictures only; give a name ending in "
                          ".png",
                          o.png);

    /* Reject a missing or malformed checkpoint before starting a device; it
     * also names the data set when --data is not given. */
    char err[1024], data_name[128] = "";
    fmcl_checkpoint *f = NULL;
    if (fmcl_checkpoint_open(o.ckpt, &f, err, sizeof err) != FMCL_OK)
        return cli_error("--ckpt: %s", err);
    const char *trained_on = fmcl_checkpoint_meta(f, "data");
    if (trained_on) snprintf(data_name, sizeof data_name, "%s", trained_on);
    const int image_model = cli_image_shape(f, o.ckpt, o.shape);
    fmcl_checkpoint_free(f);
    if (image_model < 0) return CLI_FAIL;
    if (!o.data && image_model && fmcl_data_spec_is_images(data_name)) o.data = data_name;
    if (!o.data) { /* a built-in set, as checkpoints name it */
        if (fmcl_name_value(FMCL_NAMES_TOY, data_name) < 0)
            return args_usage(&cmd,
                              "--data is required: %s was not trained on a built-in set "
                              "(%s)",
                              o.ckpt, *data_name ? data_name : "no data recorded");
        o.data = data_name;
    }
    if (fmcl_data_spec_is_images(o.data)) {
        if (args_find(&cmd, "n")->seen)
            return args_usage(&cmd,
                              "--n is for built-in sets and .npy files; for the image set "
                              "%s use --limit N",
                              o.data);
        if (!image_model)
            return cli_error("--data %s is an image set but %s is not an image model (its "
                             "metadata has no %s)",
                             o.data, o.ckpt, CLI_META_BITS);
        if (!o.exact && !o.hutchinson) o.hutchinson = 1; /* exact: D backward passes */
    } else if (args_find(&cmd, "limit")->seen) {
        return args_usage(&cmd, "--limit is for image sets; with --data %s use --n N", o.data);
    }
    if (o.out && (rc = outputs_file("--out", o.out)) != CLI_OK) return rc;
    if (o.png && (rc = outputs_file("--png", o.png)) != CLI_OK) return rc;
    interrupt_install();
    interrupt_mode(1, NULL, "interrupted: nothing was written");
    nll_data d;
    rc = load_points(&cmd, &o, o.data, &d);
    if (rc == CLI_OK) rc = nll(&o, &d);
    free(d.x);
    return rc;
}
