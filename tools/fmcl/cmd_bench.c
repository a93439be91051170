/* fmcl bench: the library's standard workloads (fmcl/bench.h) on one device
 * or all of them, a table per device, optional JSON, and with --torch the
 * same workloads in PyTorch on the CPU (bench_torch.c) in the same
 * invocation with the ratios fmcl / PyTorch; --compare reads JSON files of
 * many machines instead (bench_compare.c). The first step of a new process
 * is timed in a child, `fmcl bench --first-step`. Prints figures, asserts
 * nothing: exit 0 when every device ran, 1 otherwise, 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bench.h"
#include "cli.h"
#include "spawn.h"

/* `self bench --first-step --device SPEC` in a new process; also the wall
 * time from spawn to exit. */
static void first_step_child(const char *self, fmcl_bench_result *r)
{
    char *argv[] = {"fmcl", "bench", "--first-step", "--device", r->spec, NULL};
    char out[4096];
    double wall = 0;
    fmcl_bench_first *f = &r->first;
    int rc = self ? cli_spawn_capture(self, argv, NULL, out, sizeof out, &wall) : -1;
    const char *v = strstr(out, "first_step_seconds=");
    if (rc != 0 || !v) {
        snprintf(f->note, sizeof f->note,
                 self ? "the child process failed: %.200s" : "no path to this program%.0s", out);
        return;
    }
    const char *p = strstr(v, " parts=");
    if (!p ||
        sscanf(p, " parts=%lf,%lf,%lf,%lf", &f->context, &f->model, &f->trainer, &f->step) != 4) {
        snprintf(f->note, sizeof f->note, "no breakdown from the child");
        return;
    }
    f->seconds = strtod(v + strlen("first_step_seconds="), NULL);
    f->process_seconds = wall;
}

/* One device: the suite in this process, then its first step in a child. */
static void run_device(const char *spec, const fmcl_bench_config *cfg, const char *self,
                       fmcl_bench_result *r)
{
    fmcl_ctx *ctx = NULL;
    if (fmcl_ctx_create(&ctx, spec, r->error, sizeof r->error) != FMCL_OK) {
        snprintf(r->spec, sizeof r->spec, "%.63s", spec ? spec : "default");
        return;
    }
    fmcl_status s = fmcl_bench_run(ctx, cfg, r);
    fmcl_ctx_free(ctx);
    if (s == FMCL_OK) first_step_child(self, r);
}

/* --compare FILE...: the files after it, up to the next flag, leave argv
 * (their number in *n, --compare stays as a plain flag). */
static int take_compare_files(int *argc, char **argv, const char **files, int cap, int *n)
{
    *n = 0;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strncmp(argv[i], "--compare=", 10) == 0) {
            if (*n == cap) return 0;
            files[(*n)++] = argv[i] + 10;
            argv[out++] = "--compare";
            continue;
        }
        argv[out++] = argv[i];
        if (strcmp(argv[i], "--compare") != 0) continue;
        while (i + 1 < *argc && strncmp(argv[i + 1], "--", 2) != 0) {
            if (*n == cap) return 0;
            files[(*n)++] = argv[++i];
        }
    }
    *argc = out;
    return 1;
}

#define MAX_COMPARE 32

int cmd_bench(int argc, char **argv)
{
    const char *device = NULL, *json = NULL, *png = NULL;
    int all = 0, torch = 0, quick = 0, first_step = 0, compare = 0;
    arg_spec specs[] = {
        {.name = "device",
         .type = ARG_STR,
         .dest = &device,
         .metavar = "SPEC",
         .help = "OpenCL device: P:D from `fmcl devices`, or part of its platform, vendor or "
                 "device name",
         .default_text = "$FMCL_DEVICE, else the first GPU, else the first device"},
        {.name = "all",
         .type = ARG_BOOL,
         .dest = &all,
         .help = "run on every device of every platform, one after the other"},
        {.name = "json",
         .type = ARG_STR,
         .dest = &json,
         .metavar = "FILE",
         .help = "also write the results as JSON to FILE (atomically)"},
        {.name = "torch",
         .type = ARG_BOOL,
         .dest = &torch,
         .help = "also run the workloads in PyTorch on the CPU (tools/bench_torch.py and "
                 "tools/bench_unet_torch.py with $FMCL_PYTHON, else tools/peer-venv.sh's "
                 "environment, else /usr/bin/python3) and print "
                 "fmcl / PyTorch"},
        {.name = "quick",
         .type = ARG_BOOL,
         .dest = &quick,
         .help = "fewer repeats and a smaller sampling run: about half the time, rougher "
                 "figures"},
        {.name = "first-step",
         .type = ARG_BOOL,
         .dest = &first_step,
         .help = "only time context creation to the end of the first reference training step "
                 "in this process (the full run does this in a child process)"},
        {.name = "compare",
         .type = ARG_BOOL,
         .dest = &compare,
         .metavar = "FILE...",
         .help = "run nothing: compare the --json files of earlier runs (of many machines) in "
                 "one table, each device's figures against the first file's, and whether their "
                 "checksums agree"},
        {.name = "png",
         .type = ARG_STR,
         .dest = &png,
         .metavar = "FILE",
         .help = "with --compare, also draw the speeds relative to the first file as a bar "
                 "chart (PNG)"},
    };
    arg_cmd cmd = {
        .prog = "fmcl bench",
        .about = "Runs the same workloads on each device: the FMA rate of a built-in kernel,\n"
                 "GEMM at the shapes of the models (GFLOP/s, beside the other GEMM\n"
                 "implementation's), one training step of the reference 2D model\n"
                 "(3-512x4-2, batch 4096), of a small one (3-128x3-2, batch 1024) and of the\n"
                 "default 28x28 U-Net (batch 16) with steps/s, a per-kernel profile and\n"
                 "kernel launches per step, sampling throughput (points x NFE per second,\n"
                 "RK4), and the first training step of a new process. Checksums of the losses and "
                 "samples show\n"
                 "that two devices computed the same thing: the rounded ones should agree,\n"
                 "the FNV-1a hashes agree only for bit-identical runs. A benchmark: it prints\n"
                 "figures and asserts nothing.",
        .epilog = "examples:\n"
                  "  fmcl bench\n"
                  "  fmcl bench --all --json bench.json\n"
                  "  fmcl bench --torch\n"
                  "  fmcl bench --compare lab-a.json lab-b.json --png speeds.png\n",
        .specs = specs,
        .n = (int)(sizeof specs / sizeof specs[0]),
    };
    const char *files[MAX_COMPARE];
    int n_files = 0;
    if (!take_compare_files(&argc, argv, files, MAX_COMPARE, &n_files))
        return args_usage(&cmd, "--compare takes at most %d files", MAX_COMPARE);
    int rc = args_parse(&cmd, argc, argv);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : rc;
    if (compare) {
        if (all || device || json || torch || quick || first_step)
            return args_usage(&cmd, "--compare reads files and runs nothing: give it the files "
                                    "(and --png) only");
        if (n_files == 0)
            return args_usage(&cmd, "--compare needs the files to compare (written by fmcl "
                                    "bench --json FILE)");
        return bench_compare(files, n_files, png);
    }
    if (png) return args_usage(&cmd, "--png draws a comparison: give it with --compare");
    if (all && device)
        return args_usage(&cmd, "--all and --device both choose devices; give only one");
    if (first_step && (all || json || torch || quick))
        return args_usage(&cmd, "--first-step runs alone (with --device at most)");

    char err[4096];
    if (first_step) {
        fmcl_bench_first f;
        if (fmcl_bench_first_step(device, &f, err, sizeof err) != FMCL_OK)
            return cli_error("%s", err);
        printf("first_step_seconds=%.4f parts=%.4f,%.4f,%.4f,%.4f\n", f.seconds, f.context, f.model,
               f.trainer, f.step);
        return CLI_OK;
    }
    cli_device_spec *device_specs;
    int n;
    if (cli_device_specs(all, device, &device_specs, &n) != CLI_OK) return CLI_FAIL;
    fmcl_bench_report *rep = NULL;
    if (fmcl_bench_report_create(n, &rep) != FMCL_OK) {
        free(device_specs);
        return cli_error("out of host memory");
    }
    rep->quick = quick;
    char self[1024];
    int have_self = cli_self_path(self, sizeof self);
    fmcl_bench_config cfg;
    fmcl_bench_config_default(&cfg);
    cfg.quick = quick;
    int failed = 0;
    printf("fmcl bench %s%s: GFLOP/s count 2MNK per GEMM, 3x the forward GEMMs per training "
           "step\n",
           FMCL_VERSION, quick ? " (quick)" : "");
    for (int i = 0; i < n; i++) {
        fmcl_bench_result *r = &rep->results[i];
        run_device(device_specs[i].spec[0] ? device_specs[i].spec : NULL, &cfg,
                   have_self ? self : NULL, r);
        failed |= r->error[0] != 0;
        if (!torch) bench_print(r, &rep->peer);
        fflush(stdout);
    }
    if (torch && !rep->results[0].error[0]) bench_torch(&rep->results[0], &rep->peer);
    if (torch)
        for (int i = 0; i < n; i++) bench_print(&rep->results[i], &rep->peer);
    if (json && fmcl_bench_write_json(json, rep, err, sizeof err) != FMCL_OK) {
        cli_error("%s", err);
        failed = 1;
    } else if (json) {
        printf("\nwrote %s\n", json);
    }
    for (int i = 0; i < n; i++)
        if (rep->results[i].error[0])
            cli_error("%s: %s", rep->results[i].spec, rep->results[i].error);
    fmcl_bench_report_free(rep);
    free(device_specs);
    return failed ? CLI_FAIL : CLI_OK;
}
