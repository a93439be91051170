/* fmcl bench: the standard workloads (bench_run.c) on one device or all of
 * them, a table per device, optional JSON, and with --torch the same
 * workloads in PyTorch on the CPU (tools/bench_torch.py) in the same
 * invocation with the ratios fmcl / PyTorch. Prints figures, asserts
 * nothing: exit 0 when every device ran, 1 otherwise, 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bench.h"
#include "cli.h"
#include "io/atomic.h"
#include "io/json.h"
#include "peer_python.h"
#include "runtime/tune.h"
#include "spawn.h"
#include "unet_step.h"

#ifndef FMCL_BENCH_TORCH_SCRIPT
#define FMCL_BENCH_TORCH_SCRIPT "tools/bench_torch.py"
#endif

/* PyTorch's figures for the same workloads; 0 where it gave none. */
typedef struct {
    int ran;
    char about[256];
    double gemm_gflops[BENCH_GEMMS];
    double steps_per_s[BENCH_TRAINS]; /* the U-Net's from bench_unet_torch.py */
    double points_nfe_per_s;
} torch_figures;

static void print_result(const bench_result *r, const torch_figures *t)
{
    printf("\n== %s  %s / %s (%s, %u compute units, driver %s)\n", r->spec,
           r->info.platform_name, r->info.device_name, fmcl_device_type_name(r->info.type),
           r->info.compute_units,
           r->info.driver_version);
    if (r->notes[0]) printf("%s", r->notes);
    if (!r->info.device_name[0]) return;
    printf("FMA rate of the peak_fma kernel (16 scalar chains per work-item): %.1f GFLOP/s\n",
           r->peak_gflops);
    /* The other implementation's GFLOP/s beside the one in use. */
    const char *alt = r->gemm_packed ? "CLBlast" : "packed";
    printf("\n  GEMM through %s\n", r->gemm_packed ? "fmcl's packed kernels" : "CLBlast");
    printf("  %-32s %-22s %9s %8s %7s %8s%s\n", "GEMM (row-major, as the MLP)", "M x N x K", "ms",
           "GFLOP/s", "%fma", alt, t->ran ? "   torch  fmcl/torch" : "");
    for (int i = 0; i < r->n_gemm; i++) {
        const bench_gemm *g = &r->gemm[i];
        char shape[48];
        snprintf(shape, sizeof shape, "%c%c %dx%dx%d", g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->M,
                 g->N, g->K);
        printf("  %-32s %-22s %9.2f %8.1f %6.0f%% %8.1f", g->what, shape, 1e3 * g->secs,
               g->gflops, 100 * g->gflops / r->peak_gflops, g->alt_gflops);
        if (t->ran && t->gemm_gflops[i] > 0)
            printf(" %7.1f %10.2f", t->gemm_gflops[i], g->gflops / t->gemm_gflops[i]);
        printf("\n");
    }
    for (int w = 0; w < BENCH_TRAINS; w++) {
        const bench_train *b = &r->train[w];
        if (!b->n_losses) continue;
        if (b->unet)
            printf("\ntraining, %s: 28x28x1 default, %zu parameters, batch %d: %.3f steps/s, "
                   "%.1f samples/s, %.1f GFLOP/s\n",
                   b->name, b->params, b->batch, b->steps_per_s, b->samples_per_s, b->gflops);
        else
            printf("\ntraining, %s: MLP 3-%dx%d-2, batch %d: %.3f steps/s, %.0f samples/s, "
                   "%.1f GFLOP/s\n",
                   b->name, b->width, b->depth, b->batch, b->steps_per_s, b->samples_per_s,
                   b->gflops);
        printf("  ms/step median %.1f (min %.1f, max %.1f over %d repeats of %d steps)\n",
               b->ms_median, b->ms_min, b->ms_max, b->repeats, b->steps_per_repeat);
        if (t->ran && t->steps_per_s[w] > 0)
            printf("  PyTorch %.3f steps/s: fmcl/torch %.2f\n", t->steps_per_s[w],
                   b->steps_per_s / t->steps_per_s[w]);
        printf("  per step: %.0f kernel launches, %.0f GEMM calls; profiled %.1f ms/step:\n",
               b->launches_per_step, b->gemms_per_step, b->profiled_ms_per_step);
        for (int k = 0; k < b->n_top; k++)
            printf("    %-28s %8.2f ms %5.1f%% %6.1f calls\n", r->kernel_names[b->top[k].slot],
                   b->top[k].ms_per_step, 100 * b->top[k].ms_per_step / b->profiled_ms_per_step,
                   b->top[k].calls_per_step);
        printf("  checksum of the %d loss%s from seed 0: mean %.4g, fnv1a %016llx\n",
               b->n_losses, b->n_losses > 1 ? "es" : "", b->loss_mean,
               (unsigned long long)b->loss_hash);
    }
    const bench_sample *s = &r->sample;
    if (s->nfe) {
        printf("\nsampling: %d points, rk4 %d steps (NFE %d), MLP 3-%dx%d-2: %.2f s, %.3g "
               "points x NFE / s\n",
               s->points, s->steps, s->nfe, s->width, s->depth, s->secs, s->points_nfe_per_s);
        if (t->ran && t->points_nfe_per_s > 0)
            printf("  PyTorch %.3g points x NFE / s: fmcl/torch %.2f\n", t->points_nfe_per_s,
                   s->points_nfe_per_s / t->points_nfe_per_s);
        printf("  checksum of the samples: mean (%.4g, %.4g), std (%.4g, %.4g), fnv1a %016llx\n",
               s->mean[0], s->mean[1], s->std[0], s->std[1], (unsigned long long)s->hash);
    }
    if (r->first_step_s >= 0)
        printf("\nfirst training step of a new process (reference workload, caches warm): "
               "%.2f s from context creation (context %.2f, model %.2f, trainer with GEMM "
               "warm-up %.2f, step %.2f), %.2f s from process start to exit\n",
               r->first_step_s, r->first_step_parts[0], r->first_step_parts[1],
               r->first_step_parts[2], r->first_step_parts[3], r->first_step_process_s);
    else if (r->first_step_note[0])
        printf("\nfirst training step of a new process: not measured (%s)\n", r->first_step_note);
    if (r->error[0]) printf("error: %s\n", r->error);
}

static void jnum(fmcl_jbuf *b, const char *key, double v, const char *fmt)
{
    char buf[64];
    fmcl_jbuf_lit(b, ", ");
    fmcl_jbuf_str(b, key);
    snprintf(buf, sizeof buf, fmt, v);
    fmcl_jbuf_lit(b, ": ");
    fmcl_jbuf_lit(b, buf);
}

static void jstr(fmcl_jbuf *b, const char *key, const char *v, int first)
{
    fmcl_jbuf_lit(b, first ? "" : ", ");
    fmcl_jbuf_str(b, key);
    fmcl_jbuf_lit(b, ": ");
    fmcl_jbuf_str(b, v);
}

static void jhash(fmcl_jbuf *b, const char *key, uint64_t h)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
    jstr(b, key, buf, 0);
}

static void json_device(fmcl_jbuf *b, const bench_result *r)
{
    const fmcl_device_info *d = &r->info;
    fmcl_jbuf_lit(b, "    {");
    jstr(b, "spec", r->spec, 1);
    jstr(b, "platform", d->platform_name, 0);
    jstr(b, "platform_vendor", d->platform_vendor, 0);
    jstr(b, "device", d->device_name, 0);
    jstr(b, "device_version", d->device_version, 0);
    jstr(b, "driver_version", d->driver_version, 0);
    jstr(b, "opencl_c_version", d->opencl_c_version, 0);
    jstr(b, "type", fmcl_device_type_name(d->type), 0);
    jnum(b, "compute_units", d->compute_units, "%.0f");
    jstr(b, "notes", r->notes, 0);
    jstr(b, "error", r->error, 0);
    jstr(b, "gemm", r->gemm_packed ? "packed" : "clblast", 0);
    jnum(b, "peak_fma_gflops", r->peak_gflops, "%.2f");
    fmcl_jbuf_lit(b, ",\n     \"gemm\": [");
    for (int i = 0; i < r->n_gemm; i++) {
        const bench_gemm *g = &r->gemm[i];
        fmcl_jbuf_lit(b, i ? ",\n       {" : "\n       {");
        jstr(b, "what", g->what, 1);
        jstr(b, "op", g->ta ? (g->tb ? "TT" : "TN") : (g->tb ? "NT" : "NN"), 0);
        jnum(b, "M", g->M, "%.0f");
        jnum(b, "N", g->N, "%.0f");
        jnum(b, "K", g->K, "%.0f");
        jnum(b, "seconds", g->secs, "%.6f");
        jnum(b, "gflops", g->gflops, "%.2f");
        jnum(b, r->gemm_packed ? "clblast_gflops" : "packed_gflops", g->alt_gflops, "%.2f");
        fmcl_jbuf_lit(b, "}");
    }
    fmcl_jbuf_lit(b, "],\n     \"train\": [");
    for (int w = 0, n = 0; w < BENCH_TRAINS; w++) {
        const bench_train *t = &r->train[w];
        if (!t->n_losses) continue;
        fmcl_jbuf_lit(b, n++ ? ",\n       {" : "\n       {");
        jstr(b, "name", t->name, 1);
        jstr(b, "model", t->unet ? "unet" : "mlp", 0);
        if (t->unet) {
            jnum(b, "parameters", (double)t->params, "%.0f");
        } else {
            jnum(b, "width", t->width, "%.0f");
            jnum(b, "depth", t->depth, "%.0f");
        }
        jnum(b, "batch", t->batch, "%.0f");
        jnum(b, "steps_per_s", t->steps_per_s, "%.4f");
        jnum(b, "samples_per_s", t->samples_per_s, "%.1f");
        jnum(b, "gflops", t->gflops, "%.2f");
        jnum(b, "ms_per_step_median", t->ms_median, "%.3f");
        jnum(b, "ms_per_step_min", t->ms_min, "%.3f");
        jnum(b, "ms_per_step_max", t->ms_max, "%.3f");
        jnum(b, "repeats", t->repeats, "%.0f");
        jnum(b, "steps_per_repeat", t->steps_per_repeat, "%.0f");
        jnum(b, "kernel_launches_per_step", t->launches_per_step, "%.1f");
        jnum(b, "gemm_calls_per_step", t->gemms_per_step, "%.1f");
        jnum(b, "profiled_ms_per_step", t->profiled_ms_per_step, "%.3f");
        fmcl_jbuf_lit(b, ", \"profile\": [");
        for (int k = 0; k < t->n_top; k++) {
            fmcl_jbuf_lit(b, k ? ", {" : "{");
            jstr(b, "kernel", r->kernel_names[t->top[k].slot], 1);
            jnum(b, "ms_per_step", t->top[k].ms_per_step, "%.3f");
            jnum(b, "calls_per_step", t->top[k].calls_per_step, "%.1f");
            fmcl_jbuf_lit(b, "}");
        }
        fmcl_jbuf_lit(b, "],\n        \"checksum\": {\"steps\": ");
        fmcl_jbuf_int(b, t->n_losses);
        jnum(b, "loss_mean_4g", t->loss_mean, "%.4g");
        jhash(b, "loss_fnv1a", t->loss_hash);
        fmcl_jbuf_lit(b, "}}");
    }
    const bench_sample *s = &r->sample;
    fmcl_jbuf_lit(b, "],\n     \"sample\": {\"solver\": \"rk4\"");
    jnum(b, "points", s->points, "%.0f");
    jnum(b, "steps", s->steps, "%.0f");
    jnum(b, "nfe", s->nfe, "%.0f");
    jnum(b, "seconds", s->secs, "%.4f");
    jnum(b, "points_nfe_per_s", s->points_nfe_per_s, "%.1f");
    fmcl_jbuf_lit(b, ", \"checksum\": {\"mean_4g\": [");
    char buf[96];
    snprintf(buf, sizeof buf, "%.4g, %.4g], \"std_4g\": [%.4g, %.4g]", s->mean[0], s->mean[1],
             s->std[0], s->std[1]);
    fmcl_jbuf_lit(b, buf);
    jhash(b, "fnv1a", s->hash);
    fmcl_jbuf_lit(b, "}},\n     \"first_step\": {\"measured_in\": \"a child process\"");
    jnum(b, "seconds_from_context_creation", r->first_step_s, "%.3f");
    jnum(b, "seconds_process", r->first_step_process_s, "%.3f");
    jnum(b, "context_s", r->first_step_parts[0], "%.3f");
    jnum(b, "model_s", r->first_step_parts[1], "%.3f");
    jnum(b, "trainer_s", r->first_step_parts[2], "%.3f");
    jnum(b, "step_s", r->first_step_parts[3], "%.3f");
    jstr(b, "note", r->first_step_note, 0);
    fmcl_jbuf_lit(b, "}}");
}

static fmcl_status write_json(const char *path, const bench_result *res, int n, int quick,
                              const torch_figures *t, char *err, size_t errlen)
{
    fmcl_jbuf b = {0};
    fmcl_jbuf_lit(&b, "{\"fmcl_version\": ");
    fmcl_jbuf_str(&b, FMCL_VERSION);
    jstr(&b, "clblast_version", fmcl_clblast_version(), 0);
    fmcl_jbuf_lit(&b, quick ? ", \"quick\": true" : ", \"quick\": false");
    fmcl_jbuf_lit(&b, ",\n  \"checksums\": \"*_4g: rounded to 4 significant digits, expected to "
                      "agree across devices; fnv1a: FNV-1a of the float32 bits, equal only for "
                      "bit-identical runs (same device, driver and library)\"");
    fmcl_jbuf_lit(&b, ",\n  \"devices\": [\n");
    for (int i = 0; i < n; i++) {
        if (i) fmcl_jbuf_lit(&b, ",\n");
        json_device(&b, &res[i]);
    }
    fmcl_jbuf_lit(&b, "\n  ],\n  \"torch\": ");
    if (!t->ran) {
        fmcl_jbuf_lit(&b, "null");
    } else {
        fmcl_jbuf_lit(&b, "{");
        jstr(&b, "about", t->about, 1);
        jnum(&b, "reference_steps_per_s", t->steps_per_s[0], "%.4f");
        jnum(&b, "small_steps_per_s", t->steps_per_s[1], "%.4f");
        jnum(&b, "unet_steps_per_s", t->steps_per_s[2], "%.4f");
        jnum(&b, "sample_points_nfe_per_s", t->points_nfe_per_s, "%.1f");
        fmcl_jbuf_lit(&b, ", \"gemm_gflops\": [");
        for (int i = 0; i < BENCH_GEMMS; i++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%s%.2f", i ? ", " : "", t->gemm_gflops[i]);
            fmcl_jbuf_lit(&b, buf);
        }
        fmcl_jbuf_lit(&b, "]}");
    }
    fmcl_jbuf_lit(&b, "\n}\n");
    fmcl_status s = FMCL_ERR_NOMEM;
    if (b.failed) snprintf(err, errlen, "out of host memory");
    else {
        const void *chunk = b.data;
        s = fmcl_write_file_atomic(path, &chunk, &b.len, 1, err, errlen);
    }
    fmcl_jbuf_free(&b);
    return s;
}

/* tools/bench_torch.py --mode suite over the workloads of r (the first
 * device's sizes; they are the same on every device). */
static void run_torch(const bench_result *r, torch_figures *t)
{
    memset(t, 0, sizeof *t);
    char py[1024], cmd[4096];
    const char *why = peer_python(py, sizeof py);
    printf("\ntorch: %s (%s)\n", py, why);
    snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", py);
    if (system(cmd) != 0) {
        printf("torch: not available for %s; to compare, make the peer environment with the "
               "newest PyTorch from PyPI:\n  tools/peer-venv.sh\n",
               py);
        return;
    }
    int len = snprintf(cmd, sizeof cmd, "'%s' '%s' --mode suite --gemm ", py,
                       FMCL_BENCH_TORCH_SCRIPT);
    for (int i = 0; i < r->n_gemm; i++) {
        const bench_gemm *g = &r->gemm[i];
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, "%s%d,%d,%d,%d,%d", i ? ":" : "",
                        g->ta, g->tb, g->M, g->N, g->K);
    }
    len += snprintf(cmd + len, sizeof cmd - (size_t)len, " --train ");
    for (int w = 0; w < 2; w++) { /* the MLPs; the U-Net has its own script */
        const bench_train *b = &r->train[w];
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, "%s%d,%d,%d,%d,%d", w ? ":" : "",
                        b->width, b->depth, b->batch, b->warmup,
                        b->repeats * b->steps_per_repeat);
    }
    snprintf(cmd + len, sizeof cmd - (size_t)len, " --sample %d,%d,%d,%d 2>&1",
             r->sample.width, r->sample.depth, r->sample.points, r->sample.steps);
    printf("running: %s\n", cmd);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    char line[1024];
    while (fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        int i;
        double v;
        if (sscanf(line, "torch gemm %d gflops=%lf", &i, &v) == 2 && i >= 0 && i < BENCH_GEMMS)
            t->gemm_gflops[i] = v;
        else if (sscanf(line, "torch train %d steps_per_s=%lf", &i, &v) == 2 && i >= 0 && i < 2)
            t->steps_per_s[i] = v;
        else if (sscanf(line, "torch sample points_nfe_per_s=%lf", &v) == 1)
            t->points_nfe_per_s = v;
        else if (strncmp(line, "# torch ", 8) == 0)
            snprintf(t->about, sizeof t->about, "%.*s", (int)strcspn(line + 2, "\n"), line + 2);
    }
    int rc = pclose(p);
    t->ran = rc == 0 && t->steps_per_s[0] > 0;
    if (!t->ran) {
        printf("torch: %s did not finish with its figures (status %d)\n",
               FMCL_BENCH_TORCH_SCRIPT, rc);
        return;
    }
    /* The U-Net in its own script, same batch and number of timed steps. */
    const bench_train *u = &r->train[2];
    double ms = unet_step_torch_ms(py, u->batch, u->repeats * u->steps_per_repeat);
    t->steps_per_s[2] = ms > 0 ? 1e3 / ms : 0;
}

int cmd_bench(int argc, char **argv)
{
    const char *device = NULL, *json = NULL;
    int all = 0, torch = 0, quick = 0, first_step = 0;
    arg_spec specs[] = {
        {.name = "device", .type = ARG_STR, .dest = &device, .metavar = "SPEC",
         .help = "OpenCL device: P:D from `fmcl devices`, or part of its platform, vendor or "
                 "device name",
         .default_text = "$FMCL_DEVICE, else the first GPU, else the first device"},
        {.name = "all", .type = ARG_BOOL, .dest = &all,
         .help = "run on every device of every platform, one after the other"},
        {.name = "json", .type = ARG_STR, .dest = &json, .metavar = "FILE",
         .help = "also write the results as JSON to FILE (atomically)"},
        {.name = "torch", .type = ARG_BOOL, .dest = &torch,
         .help = "also run the workloads in PyTorch on the CPU (tools/bench_torch.py and "
                 "tools/bench_unet_torch.py with $FMCL_PYTHON, else tools/peer-venv.sh's "
                 "environment, else /usr/bin/python3) and print "
                 "fmcl / PyTorch"},
        {.name = "quick", .type = ARG_BOOL, .dest = &quick,
         .help = "fewer repeats and a smaller sampling run: about half the time, rougher "
                 "figures"},
        {.name = "first-step", .type = ARG_BOOL, .dest = &first_step,
         .help = "only time context creation to the end of the first reference training step "
                 "in this process (the full run does this in a child process)"},
    };
    arg_cmd cmd = {
        .prog = "fmcl bench",
        .about = "Runs the same workloads on each device: the FMA rate of a built-in kernel,\n"
                 "GEMM at the shapes of the models (GFLOP/s, beside the other GEMM\n"
                 "implementation's), one training step of the reference 2D model\n"
                 "(3-512x4-2, batch 4096), of a small one (3-128x3-2, batch 1024) and of the\n"
                 "default 28x28 U-Net (batch 16) with steps/s, a per-kernel profile and\n"
                 "kernel launches per step, sampling throughput (points x NFE per second,\n"
                 "RK4), and the first training step of a new process. Checksums of the losses and samples show\n"
                 "that two devices computed the same thing: the rounded ones should agree,\n"
                 "the FNV-1a hashes agree only for bit-identical runs. A benchmark: it prints\n"
                 "figures and asserts nothing.",
        .epilog = "examples:\n"
                  "  fmcl bench\n"
                  "  fmcl bench --all --json bench.json\n"
                  "  fmcl bench --torch\n",
        .specs = specs,
        .n = (int)(sizeof specs / sizeof specs[0]),
    };
    int rc = args_parse(&cmd, argc, argv);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : rc;
    if (all && device)
        return args_usage(&cmd, "--all and --device both choose devices; give only one");
    if (first_step && (all || json || torch || quick))
        return args_usage(&cmd, "--first-step runs alone (with --device at most)");

    char err[4096];
    if (first_step) {
        double parts[4];
        double s = bench_first_step(device, parts, err, sizeof err);
        if (s < 0) return cli_error("%s", err);
        printf("first_step_seconds=%.4f parts=%.4f,%.4f,%.4f,%.4f\n", s, parts[0], parts[1],
               parts[2], parts[3]);
        return CLI_OK;
    }
    cli_device_spec *device_specs;
    int n;
    if (cli_device_specs(all, device, &device_specs, &n) != CLI_OK) return CLI_FAIL;
    bench_result *res = calloc((size_t)n, sizeof *res);
    if (!res) {
        free(device_specs);
        return cli_error("out of host memory");
    }
    char self[1024];
    int have_self = cli_self_path(self, sizeof self);
    bench_opts o = {.quick = quick};
    int failed = 0;
    printf("fmcl bench %s%s: GFLOP/s count 2MNK per GEMM, 3x the forward GEMMs per training "
           "step\n", FMCL_VERSION, quick ? " (quick)" : "");
    for (int i = 0; i < n; i++) {
        const char *spec = device_specs[i].spec[0] ? device_specs[i].spec : NULL;
        bench_device(spec, &o, have_self ? self : NULL, &res[i]);
        if (res[i].error[0]) {
            failed = 1;
            if (!res[i].spec[0])
                snprintf(res[i].spec, sizeof res[i].spec, "%.63s", spec ? spec : "default");
        }
        if (!torch) print_result(&res[i], &(torch_figures){0});
        fflush(stdout);
    }
    torch_figures t = {0};
    if (torch && !res[0].error[0]) run_torch(&res[0], &t);
    if (torch)
        for (int i = 0; i < n; i++) print_result(&res[i], &t);
    if (json && write_json(json, res, n, quick, &t, err, sizeof err) != FMCL_OK) {
        cli_error("%s", err);
        failed = 1;
    } else if (json) {
        printf("\nwrote %s\n", json);
    }
    for (int i = 0; i < n; i++)
        if (res[i].error[0]) cli_error("%s: %s", res[i].spec, res[i].error);
    free(res);
    free(device_specs);
    return failed ? CLI_FAIL : CLI_OK;
}
