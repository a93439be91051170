/* fmcl-bench: the reference 2D flow-matching workload (checkerboard, MLP
 * 3 -> 512 x 4 -> 2 with SiLU, Adam lr 1e-3, batch 4096, OT path) trained
 * through the public API for a fixed number of steps after a warm-up.
 *
 * Prints steps/s, samples/s, achieved GFLOP/s and the share of a step spent
 * in GEMM. FLOPs follow tools/bench_torch.py: 2*M*N*K per forward GEMM, x3
 * per training step (forward, input gradient, weight gradient), so the two
 * programs' GFLOP/s compare like their steps/s. The GEMM share replays the
 * exact fmcl_gemm calls of one step (those of src/nn/mlp.c) on buffers of the
 * same shapes, timed between clFinish calls, against the measured step time;
 * one more replay splits that time into forward, weight-gradient and
 * input-gradient GEMMs.
 * With --torch it runs tools/bench_torch.py with the same settings and prints
 * the ratio fmcl/torch. A benchmark prints figures; it asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmcl.h"
#include "nn/mlp.h"
#include "nn/nn_ops.h"
#include "runtime/runtime.h"

#ifndef FMCL_BENCH_TORCH_SCRIPT
#define FMCL_BENCH_TORCH_SCRIPT "tools/bench_torch.py"
#endif

typedef struct {
    const char *device, *python, *script;
    int width, depth, batch, steps, warmup, gemm_reps, threads, torch;
} opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fmcl-bench [options]\n"
            "Times training of the reference 2D flow-matching model (checkerboard, OT path, "
            "Adam lr 1e-3).\n"
            "  --device SPEC     OpenCL device: P:D index or a name substring (default: "
            "$FMCL_DEVICE, else the first GPU, else the first device)\n"
            "  --width N         hidden units per layer (default 512)\n"
            "  --depth N         hidden layers (default 4)\n"
            "  --batch N         samples per step (default 4096)\n"
            "  --steps N         timed steps (default 10)\n"
            "  --warmup N        untimed steps first (default 2)\n"
            "  --gemm-reps N     replays of one step's GEMMs for the GEMM share (default 3)\n"
            "  --torch           also run the PyTorch CPU reference and print the ratio\n"
            "  --threads N       PyTorch threads; 0: all CPUs (default 0)\n"
            "  --python PATH     Python with torch (default /usr/bin/python3)\n"
            "  --torch-script F  the PyTorch benchmark (default %s)\n"
            "  --help            this text\n",
            FMCL_BENCH_TORCH_SCRIPT);
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out)
{
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *v == 0 || *end != 0 || x < lo || x > hi) {
        fprintf(stderr, "fmcl-bench: %s needs an integer in [%d, %d] (got %s; see --help)\n",
                flag, lo, hi, v ? v : "nothing");
        return 0;
    }
    *out = (int)x;
    return 1;
}

/* 0 ok, 1 --help, 2 usage error. */
static int parse_args(int argc, char **argv, opts *o)
{
    *o = (opts){NULL, "/usr/bin/python3", FMCL_BENCH_TORCH_SCRIPT, 512, 4, 4096, 10, 2, 3, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        struct { const char *flag; int lo, hi; int *dst; } ints[] = {
            {"--width", 1, 16384, &o->width},
            {"--depth", 1, FMCL_MLP_MAX_LAYERS - 1, &o->depth},
            {"--batch", 1, 1 << 24, &o->batch},
            {"--steps", 1, 1000000, &o->steps},
            {"--warmup", 0, 1000000, &o->warmup},
            {"--gemm-reps", 1, 1000, &o->gemm_reps},
            {"--threads", 0, 4096, &o->threads}};
        int matched = 0;
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
            if (strcmp(a, ints[k].flag) == 0) {
                if (!parse_int(a, v, ints[k].lo, ints[k].hi, ints[k].dst)) return 2;
                matched = 1;
                i++;
            }
        if (matched) continue;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return 1;
        if (strcmp(a, "--torch") == 0) {
            o->torch = 1;
            continue;
        }
        const char **str = strcmp(a, "--device") == 0        ? &o->device
                           : strcmp(a, "--python") == 0       ? &o->python
                           : strcmp(a, "--torch-script") == 0 ? &o->script
                                                              : NULL;
        if (!str) {
            fprintf(stderr, "fmcl-bench: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "fmcl-bench: %s needs a value (see --help)\n", a);
            return 2;
        }
        *str = v;
        i++;
    }
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

enum { G_FORWARD, G_WEIGHT_GRAD, G_INPUT_GRAD, G_KINDS };
static const char *const gemm_kind_name[G_KINDS] = {"forward", "weight gradient",
                                                     "input gradient"};

/* One GEMM of a replay; with split non-NULL it waits for it and adds its
 * time to split[kind]. */
static fmcl_status gemm1(fmcl_ctx *ctx, double *split, int kind, int ta, int tb, int M, int N,
                         int K, fmcl_t A, int lda, fmcl_t B, int ldb, float beta, fmcl_t C,
                         int ldc)
{
    double t0 = split ? now() : 0;
    fmcl_status s = fmcl_gemm(ctx, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
    if (s == FMCL_OK && split) {
        s = fmcl_finish(ctx);
        split[kind] += now() - t0;
    }
    return s;
}

/* One training step's GEMMs, as fmcl_mlp_forward and fmcl_mlp_backward (no
 * input gradient for the network input) issue them; *flops receives their
 * exact FLOP count. Values are whatever the scratch holds: only the shapes
 * matter for timing. */
static fmcl_status gemm_pass(fmcl_mlp *m, fmcl_mlp_acts *a, fmcl_t X, fmcl_t out, fmcl_t grads,
                             int B, double *flops, double *split)
{
    fmcl_ctx *ctx = m->ctx;
    fmcl_t P = {m->params, 0}, in = X;
    fmcl_status s = FMCL_OK;
    *flops = 0;
    for (int l = 0; l < m->n_layers && s == FMCL_OK; l++) {
        int i = m->in[l], o = m->out[l];
        fmcl_t z = l == m->n_layers - 1 ? out : a->z[l];
        s = gemm1(ctx, split, G_FORWARD, 0, 1, B, o, i, in, i, fmcl_at(P, m->w_off[l]), i, 0.0f,
                  z, o);
        *flops += 2.0 * B * o * i;
        in = a->h[l];
    }
    fmcl_t dz = out;
    for (int l = m->n_layers - 1; l >= 0 && s == FMCL_OK; l--) {
        int i = m->in[l], o = m->out[l];
        s = gemm1(ctx, split, G_WEIGHT_GRAD, 1, 0, o, i, B, dz, o, l == 0 ? X : a->h[l - 1], i,
                  1.0f, fmcl_at(grads, m->w_off[l]), i);
        *flops += 2.0 * B * o * i;
        if (s != FMCL_OK || l == 0) break;
        fmcl_t dnext = dz.mem == a->d0.mem && dz.off == a->d0.off ? a->d1 : a->d0;
        s = gemm1(ctx, split, G_INPUT_GRAD, 0, 0, B, i, o, dz, o, fmcl_at(P, m->w_off[l]), i,
                  0.0f, dnext, i);
        *flops += 2.0 * B * o * i;
        dz = dnext;
    }
    return s;
}

/* Seconds per replay of one step's GEMMs, averaged over reps (queued back to
 * back, clFinish before and after), and from one more replay that waits after
 * each call, the split by kind. */
static fmcl_status time_gemms(fmcl_mlp *m, int B, int reps, double *sec, double *flops,
                              double split[G_KINDS])
{
    fmcl_ctx *ctx = m->ctx;
    fmcl_mlp_acts a;
    cl_mem scratch = NULL;
    size_t nx = (size_t)B * m->in[0], no = (size_t)B * m->cfg.dim, total = nx + no + m->n_params;
    fmcl_status s = fmcl_mlp_acts_create(m, B, &a);
    if (s != FMCL_OK) return s;
    s = fmcl_alloc(ctx, total * sizeof(float), &scratch, "GEMM timing buffers");
    /* Small finite values, so no NaN or denormal slows a device down. */
    if (s == FMCL_OK) s = fmcl_fill(ctx, (fmcl_t){scratch, 0}, 0.01f, (int)total);
    if (s == FMCL_OK)
        s = fmcl_fill(ctx, (fmcl_t){a.mem, 0}, 0.01f, (int)(fmcl_mlp_acts_bytes(m, B) / 4));
    fmcl_t X = {scratch, 0}, out = {scratch, nx}, grads = {scratch, nx + no};
    if (s == FMCL_OK) s = gemm_pass(m, &a, X, out, grads, B, flops, NULL); /* warm */
    if (s == FMCL_OK) s = fmcl_finish(ctx);
    double t0 = now();
    for (int r = 0; r < reps && s == FMCL_OK; r++)
        s = gemm_pass(m, &a, X, out, grads, B, flops, NULL);
    if (s == FMCL_OK) s = fmcl_finish(ctx);
    *sec = (now() - t0) / reps;
    for (int k = 0; k < G_KINDS; k++) split[k] = 0;
    if (s == FMCL_OK) s = gemm_pass(m, &a, X, out, grads, B, flops, split);
    fmcl_release(&scratch);
    fmcl_mlp_acts_free(&a);
    return s;
}

typedef struct {
    double steps_per_s, samples_per_s, gflops;
} figures;

static double field(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

/* Runs the PyTorch benchmark; 1 when it produced its final line. */
static int run_torch(const opts *o, figures *t)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch' >/dev/null 2>&1", o->python);
    if (system(cmd) != 0) {
        printf("torch: not available for %s; to compare, install PyTorch for it, on Debian:\n"
               "  sudo apt install python3-torch libopenblas0-pthread\n"
               "(libopenblas0-pthread: without it Debian's torch uses the slow reference "
               "BLAS)\n",
               o->python);
        return 0;
    }
    snprintf(cmd, sizeof cmd,
             "%s '%s' --mode train --width %d --depth %d --batch %d --steps %d --warmup %d "
             "--threads %d 2>&1",
             o->python, o->script, o->width, o->depth, o->batch, o->steps, o->warmup, o->threads);
    printf("running: %s\n", cmd);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) {
        printf("torch: could not start %s\n", o->python);
        return 0;
    }
    char line[1024];
    int got = 0;
    while (fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        if (strncmp(line, "torch mode=train ", 17) == 0) {
            *t = (figures){field(line, "steps_per_s="), field(line, "samples_per_s="),
                           field(line, "gflops=")};
            got = t->steps_per_s > 0;
        }
    }
    int rc = pclose(p);
    if (!got || rc != 0) {
        printf("torch: %s did not finish with its figures (exit status %d)\n", o->script, rc);
        return 0;
    }
    return 1;
}

static int fail(fmcl_ctx *ctx, const char *what)
{
    fprintf(stderr, "fmcl-bench: %s: %s\n", what, fmcl_ctx_error(ctx));
    return 1;
}

/* Trains and times; fills f and the GEMM share. Returns an exit code. */
static int run_fmcl(const opts *o, figures *f)
{
    char err[8192];
    fmcl_ctx *ctx = NULL;
    if (fmcl_ctx_create(&ctx, o->device, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "fmcl-bench: %s\n", err);
        return 1;
    }
    const fmcl_device_info *d = fmcl_ctx_device(ctx);
    printf("device %d:%d: %s / %s (%s, %u compute units)\n", d->platform_index, d->device_index,
           d->platform_name, d->device_name, d->type, d->compute_units);
    printf("%s", *fmcl_ctx_notes(ctx) ? fmcl_ctx_notes(ctx) : "CLBlast's default parameters\n");
    fmcl_mlp_config mc = {.dim = 2, .width = o->width, .depth = o->depth, .time_freqs = 0};
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = o->batch;
    tc.steps = o->warmup + o->steps;
    fmcl_mlp *m = NULL;
    fmcl_trainer *t = NULL;
    float *losses = malloc((size_t)tc.steps * sizeof *losses);
    int rc = 0;
    double t0 = now();
    if (!losses) {
        fprintf(stderr, "fmcl-bench: out of host memory\n");
        rc = 1;
    } else if (fmcl_mlp_create(ctx, &mc, 0, &m) != FMCL_OK) {
        rc = fail(ctx, "model");
    } else if (fmcl_trainer_create(m, &tc, &t) != FMCL_OK) {
        rc = fail(ctx, "trainer");
    }
    if (rc == 0) {
        printf("model 3 -> %d x %d -> 2 (%zu parameters), batch %d; setup %.2f s\n", o->width,
               o->depth, fmcl_mlp_param_count(m), o->batch, now() - t0);
        /* Reading the losses waits for the queue: the warm-up is done before t0. */
        if (fmcl_trainer_run(t, o->warmup) != FMCL_OK ||
            (o->warmup > 0 && fmcl_trainer_losses(t, 0, o->warmup, losses) != FMCL_OK))
            rc = fail(ctx, "warm-up");
    }
    double dt = 0;
    if (rc == 0) {
        t0 = now();
        if (fmcl_trainer_run(t, o->steps) != FMCL_OK ||
            fmcl_trainer_losses(t, o->warmup, o->steps, losses) != FMCL_OK)
            rc = fail(ctx, "training");
        dt = now() - t0;
    }
    double gemm_s = 0, gemm_flops = 0, split[G_KINDS];
    if (rc == 0 && time_gemms(m, o->batch, o->gemm_reps, &gemm_s, &gemm_flops, split) != FMCL_OK)
        rc = fail(ctx, "GEMM timing");
    if (rc == 0) {
        int dims[FMCL_MLP_MAX_LAYERS + 1];
        double fwd = 0;
        dims[0] = 3;
        for (int l = 1; l <= o->depth; l++) dims[l] = o->width;
        dims[o->depth + 1] = 2;
        for (int l = 0; l <= o->depth; l++) fwd += 2.0 * o->batch * dims[l] * dims[l + 1];
        double step_s = dt / o->steps;
        *f = (figures){1 / step_s, o->batch / step_s, 3 * fwd / step_s / 1e9};
        printf("%d timed steps in %.3f s (%.1f ms/step), loss %.4f -> %.4f\n", o->steps, dt,
               1e3 * step_s, losses[0], losses[o->steps - 1]);
        printf("GEMMs of one step: %.1f ms (%.1f GFLOP/s over their exact %.3g FLOP), %.0f%% of "
               "the step\n",
               1e3 * gemm_s, gemm_flops / gemm_s / 1e9, gemm_flops, 100 * gemm_s / step_s);
        printf("  by kind, waiting after each call:");
        for (int k = 0; k < G_KINDS; k++)
            printf("%s %s %.1f ms", k ? "," : "", gemm_kind_name[k], 1e3 * split[k]);
        printf("\n");
        printf("fmcl steps_per_s=%.4f samples_per_s=%.1f gflops=%.2f gemm_share=%.3f "
               "ms_per_step=%.3f\n",
               f->steps_per_s, f->samples_per_s, f->gflops, gemm_s / step_s, 1e3 * step_s);
    }
    fmcl_trainer_free(t);
    fmcl_mlp_free(m);
    fmcl_ctx_destroy(ctx);
    free(losses);
    return rc;
}

int main(int argc, char **argv)
{
    opts o;
    int pa = parse_args(argc, argv, &o);
    if (pa == 1) usage(stdout);
    if (pa) return pa == 1 ? 0 : 2;
    figures f, t;
    printf("GFLOP/s count 2*M*N*K per forward GEMM, x3 per training step "
           "(forward, input and weight gradients)\n");
    int rc = run_fmcl(&o, &f);
    if (rc != 0 || !o.torch) return rc;
    fflush(stdout);
    if (run_torch(&o, &t))
        printf("ratio fmcl/torch steps_per_s=%.3f (fmcl %.3f, torch %.3f steps/s)\n",
               f.steps_per_s / t.steps_per_s, f.steps_per_s, t.steps_per_s);
    return 0;
}
