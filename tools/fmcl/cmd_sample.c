/* fmcl sample: integrate a trained model from noise (or given points) at
 * t = 0 to t = 1; write the points as .npy and, for 2D models, a PNG. */
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "cli.h"
#include "fmcl.h"
#include "io/npy.h"
#include "io/plot.h"
#include "io/safetensors.h"

typedef struct {
    const char *ckpt, *solver, *x0, *out, *png, *device;
    int steps, n;
    uint64_t seed;
} sample_opts;

/* Reads --x0: an N x D array, D checked against the model later. */
static int read_x0(const char *path, float **x0, int *rows, int *cols)
{
    int64_t shape[FMCL_NPY_MAX_DIMS];
    int ndim = 0;
    char err[1024];
    if (fmcl_npy_read_f32(path, x0, shape, &ndim, err, sizeof err) != FMCL_OK)
        return cli_error("--x0: %s", err);
    if (ndim != 2 || shape[0] < 1 || shape[0] > INT_MAX || shape[1] < 1 || shape[1] > INT_MAX) {
        free(*x0);
        *x0 = NULL;
        return cli_error("--x0 %s: expected an N x D array of starting points (D the model's "
                         "dimension), found %d dimension(s)", path, ndim);
    }
    *rows = (int)shape[0];
    *cols = (int)shape[1];
    return CLI_OK;
}

/* Everything that needs the device. */
static int sample(const sample_opts *o, const float *x0, int x0_cols)
{
    char err[8192];
    fmcl_ctx *ctx = NULL;
    fmcl_mlp *m = NULL;
    float *out = NULL;
    int rc = CLI_FAIL;
    if (fmcl_ctx_create(&ctx, o->device, err, sizeof err) != FMCL_OK) {
        cli_error("%s", err);
        goto done;
    }
    if (fmcl_mlp_load(ctx, o->ckpt, &m) != FMCL_OK) {
        cli_error("%s", fmcl_ctx_error(ctx));
        goto done;
    }
    int dim = fmcl_mlp_get_config(m)->dim;
    if (x0 && x0_cols != dim) {
        cli_error("--x0 %s has %d columns but the model in %s is %d-dimensional; give an N x %d "
                  "array", o->x0, x0_cols, o->ckpt, dim, dim);
        goto done;
    }
    out = malloc(sizeof(float) * (size_t)o->n * (size_t)dim);
    if (!out) {
        cli_error("out of host memory for %d x %d samples; lower --n", o->n, dim);
        goto done;
    }
    fmcl_sample_config sc = {.solver = fmcl_solver_from_name(o->solver), .steps = o->steps,
                             .n = o->n, .seed = o->seed, .x0 = x0};
    int nfe = 0;
    double t0 = cli_now();
    if (fmcl_sample(m, &sc, out, NULL, &nfe) != FMCL_OK) {
        cli_error("%s", fmcl_ctx_error(ctx));
        goto done;
    }
    double secs = cli_now() - t0;
    printf("sampled %d points with %s, %d steps: NFE %d, %.3f s\n", o->n, o->solver, o->steps,
           nfe, secs);
    int64_t shape[2] = {o->n, dim};
    if (fmcl_npy_write_f32(o->out, out, shape, 2, err, sizeof err) != FMCL_OK) {
        cli_error("%s", err);
        goto done;
    }
    printf("wrote %s\n", o->out);
    if (dim == 2) {
        char title[256];
        float r = cli_plot_extent(out, o->n);
        snprintf(title, sizeof title, "samples (%s, %d steps)", o->solver, o->steps);
        if (fmcl_plot_density(o->png, title, out, o->n, -r, r, err, sizeof err) != FMCL_OK) {
            cli_error("%s", err);
            goto done;
        }
        printf("wrote %s\n", o->png);
    } else {
        printf("no PNG: the model is %d-dimensional, pictures are for 2D models\n", dim);
    }
    rc = CLI_OK;
done:
    free(out);
    fmcl_mlp_free(m);
    fmcl_ctx_destroy(ctx);
    return rc;
}

int cmd_sample(int argc, char **argv)
{
    static const char *const solvers[] = {"euler", "midpoint", "rk4", NULL};
    sample_opts o = {.solver = "midpoint", .out = "samples.npy", .png = "samples.png",
                     .steps = 20, .n = 10000};
    arg_spec specs[] = {
        {.name = "ckpt", .type = ARG_STR, .dest = &o.ckpt, .metavar = "PATH",
         .help = "checkpoint written by fmcl train (model.safetensors); required"},
        {.name = "solver", .type = ARG_CHOICE, .dest = &o.solver, .metavar = "NAME",
         .help = "fixed-step ODE solver (1, 2 or 4 model evaluations per step)",
         .choices = solvers},
        {.name = "steps", .type = ARG_INT, .dest = &o.steps, .metavar = "N",
         .help = "uniform steps from t = 0 to 1", .lo = 1, .hi = 100000},
        {.name = "n", .type = ARG_INT, .dest = &o.n, .metavar = "N",
         .help = "points to draw (with --x0: the array's rows)", .lo = 1, .hi = 100000000},
        {.name = "seed", .type = ARG_U64, .dest = &o.seed, .metavar = "N",
         .help = "seed of the starting noise x0 ~ N(0, I)"},
        {.name = "x0", .type = ARG_STR, .dest = &o.x0, .metavar = "FILE.npy",
         .help = "start from these N x D points instead of noise"},
        {.name = "out", .type = ARG_STR, .dest = &o.out, .metavar = "FILE.npy",
         .help = "where to write the N x D samples (float32)"},
        {.name = "png", .type = ARG_STR, .dest = &o.png, .metavar = "FILE.png",
         .help = "where to draw the samples' density (2D models)"},
        {.name = "device", .type = ARG_STR, .dest = &o.device, .metavar = "SPEC",
         .help = "OpenCL device: P:D from `fmcl devices`, or part of its platform, vendor or "
                 "device name",
         .default_text = "$FMCL_DEVICE, else the first GPU, else the first device"},
    };
    arg_cmd cmd = {
        .prog = "fmcl sample",
        .about = "Integrates dx/dt = v(x, t) of a trained model from t = 0 (noise, or the\n"
                 "points of --x0) to t = 1, writes the points as .npy and their density as PNG,\n"
                 "and reports the number of model evaluations (NFE) and the time taken.",
        .epilog = "examples:\n"
                  "  fmcl sample --ckpt runs/moons/model.safetensors\n"
                  "  fmcl sample --ckpt model.safetensors --solver rk4 --steps 10 --n 50000 "
                  "--out s.npy --png s.png\n",
        .specs = specs,
        .n = (int)(sizeof specs / sizeof specs[0]),
    };
    int rc = args_parse(&cmd, argc, argv);
    if (rc != ARGS_OK)
        return rc == ARGS_HELP ? CLI_OK : rc;
    if (!o.ckpt)
        return args_usage(&cmd, "--ckpt PATH is required (the model.safetensors that "
                          "fmcl train wrote)");
    if (o.x0 && args_find(&cmd, "n")->seen)
        return args_usage(&cmd, "--n and --x0 both set the number of points; give only one");

    /* Reject a missing or malformed checkpoint before starting a device. */
    char err[1024];
    fmcl_st_file f;
    if (fmcl_st_read(o.ckpt, &f, err, sizeof err) != FMCL_OK)
        return cli_error("--ckpt: %s", err);
    fmcl_st_free(&f);

    float *x0 = NULL;
    int cols = 0;
    if (o.x0 && (rc = read_x0(o.x0, &x0, &o.n, &cols)) != CLI_OK)
        return rc;
    rc = sample(&o, x0, cols);
    free(x0);
    return rc;
}
