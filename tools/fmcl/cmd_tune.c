/* fmcl tune: the library's search over curated CLBlast parameter sets
 * (fmcl_tune_gemm, fmcl/tune.h) at the GEMM shapes the MLPs train with, its
 * progress printed as it goes; the winners go to the device's file in the
 * user's cache folder, which every later context applies. The search starts
 * from CLBlast's defaults (FMCL_NO_TUNING=1 in this process). CLBlast cannot
 * go back to a default once a kernel is overridden, so the search only ranks
 * candidates; the default-vs-tuned report comes from two fresh processes
 * (`fmcl tune --report`, which times the shapes with fmcl_tune_time), one
 * with tuning off and one with the new file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "fmcl.h"
#include "spawn.h"

extern char **environ;

static void print_times(const char *label, const fmcl_tune_event *e)
{
    printf("  %-34s", label);
    for (int i = 0; i < e->n_shapes; i++) printf(" %7.1f", 1e3 * e->seconds[i]);
    printf("  %6.3f\n", e->score);
}

/* The search's progress, as it goes. */
static void progress(void *user, const fmcl_tune_event *e)
{
    (void)user;
    char label[64];
    switch (e->step) {
    case FMCL_TUNE_DEFAULTS: print_times("CLBlast's defaults", e); break;
    case FMCL_TUNE_PHASE:
        if (e->switch_size == 1)
            printf("indirect GEMM for every shape (XGEMM_MIN_INDIRECT_SIZE=1):\n");
        else
            printf("direct GEMM for every shape (XGEMM_MIN_INDIRECT_SIZE=%zu):\n", e->switch_size);
        break;
    case FMCL_TUNE_KERNEL: printf("%s (%d candidates):\n", e->kernel, e->n_candidates); break;
    case FMCL_TUNE_CURRENT: print_times("as it stands", e); break;
    case FMCL_TUNE_CANDIDATE:
        snprintf(label, sizeof label, "candidate %d", e->candidate);
        print_times(label, e);
        break;
    case FMCL_TUNE_SKIPPED:
        if (e->candidate == 0) {
            printf("  the current parameters fail (%s): kernel skipped\n", e->why);
            break;
        }
        snprintf(label, sizeof label, "candidate %d", e->candidate);
        printf("  %-34s skipped: %s\n", label, e->why);
        break;
    case FMCL_TUNE_CHOSEN: printf("  -> candidate %d: %s\n", e->candidate, e->params); break;
    case FMCL_TUNE_KEPT:
        printf("  -> none beats what was there by 2%%: CLBlast's default stays\n");
        break;
    case FMCL_TUNE_SWITCH:
        printf("switch: XGEMM_MIN_INDIRECT_SIZE=%zu (direct where m n k < %zu^3)\n", e->switch_size,
               e->switch_size);
        break;
    }
    fflush(stdout);
}

/* `fmcl tune --report` in a child: with tuning off or on; n seconds. */
static int report_child(const char *self, const char *spec, int tuned, int n, double *sec,
                        char *notes, size_t cap)
{
    static char out[16384];
    char *argv[] = {"fmcl", "tune", "--report", "--device", (char *)spec, NULL};
    char *envp[512];
    int k = 0;
    for (char **e = environ; *e && k < 510; e++)
        if (strncmp(*e, "FMCL_NO_TUNING=", 15) != 0) envp[k++] = *e;
    if (!tuned) envp[k++] = "FMCL_NO_TUNING=1";
    envp[k] = NULL;
    double wall;
    if (cli_spawn_capture(self, argv, envp, out, sizeof out, &wall) != 0) return 0;
    int got = 0;
    notes[0] = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        int i;
        double v;
        if (sscanf(line, "report %d seconds=%lf", &i, &v) == 2 && i >= 0 && i < n)
            sec[i] = v, got++;
        else if (strncmp(line, "note ", 5) == 0)
            snprintf(notes + strlen(notes), cap - strlen(notes), "  %s\n", line + 5);
    }
    return got == n;
}

/* --report: the context's notes (which tuned parameters apply), then the
 * shapes' times, as lines report_child reads. */
static int report(fmcl_ctx *ctx, const fmcl_tune_config *cfg)
{
    double sec[FMCL_TUNE_MAX_SHAPES];
    const char *notes = fmcl_ctx_notes(ctx);
    for (const char *p = notes; *p;) {
        size_t l = strcspn(p, "\n");
        printf("note %.*s\n", (int)l, p);
        p += l + (p[l] ? 1 : 0);
    }
    if (fmcl_tune_time(ctx, cfg, sec) != FMCL_OK) return cli_error("%s", fmcl_ctx_error(ctx));
    for (int i = 0; i < cfg->n_shapes; i++) printf("report %d seconds=%.6f\n", i, sec[i]);
    return CLI_OK;
}

static void print_report(const char *self, const char *spec, const fmcl_tune_config *cfg)
{
    int n = cfg->n_shapes;
    double def[FMCL_TUNE_MAX_SHAPES], tun[FMCL_TUNE_MAX_SHAPES];
    char nd[2048], nt[2048];
    printf("\ndefault vs tuned, each measured in a fresh process (best of %d):\n", cfg->repeats);
    if (!report_child(self, spec, 0, n, def, nd, sizeof nd) ||
        !report_child(self, spec, 1, n, tun, nt, sizeof nt)) {
        printf("  the report processes failed; run `fmcl tune --report` to see why\n");
        return;
    }
    printf("%s", nt);
    printf("  %-26s %10s %10s %8s\n", "shape (row-major)", "default", "tuned", "speed-up");
    for (int i = 0; i < n; i++) {
        const fmcl_tune_shape *g = &cfg->shapes[i];
        double fl = 2.0 * g->M * g->N * g->K / 1e9;
        char name[40];
        snprintf(name, sizeof name, "%c%c %dx%dx%d", g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->M,
                 g->N, g->K);
        printf("  %-26s %6.1f GF/s %6.1f GF/s %7.2fx\n", name, fl / def[i], fl / tun[i],
               def[i] / tun[i]);
    }
}

int cmd_tune(int argc, char **argv)
{
    const char *device = NULL;
    int only_report = 0;
    arg_spec specs[] = {
        {.name = "device",
         .type = ARG_STR,
         .dest = &device,
         .metavar = "SPEC",
         .help = "OpenCL device: P:D from `fmcl devices`, or part of its platform, vendor or "
                 "device name",
         .default_text = "$FMCL_DEVICE, else the first GPU, else the first device"},
        {.name = "report",
         .type = ARG_BOOL,
         .dest = &only_report,
         .help = "no search: time the shapes with the parameters that apply now (the tuned "
                 "file, or CLBlast's defaults with FMCL_NO_TUNING=1)"},
    };
    arg_cmd cmd = {
        .prog = "fmcl tune",
        .about = "Tunes CLBlast for the GEMM shapes of fmcl's models on one device: tries\n"
                 "curated parameter sets for the indirect GEMM kernel (Xgemm), its copy,\n"
                 "pad and transpose helpers and the direct kernel (XgemmDirect), each timed\n"
                 "at the real shapes and checked against CLBlast's default results, then\n"
                 "picks the size at which CLBlast switches between direct and indirect.\n"
                 "The result goes to $XDG_CACHE_HOME/fmcl/clblast/ (else ~/.cache/...),\n"
                 "written atomically, and applies to every later run on this device while\n"
                 "device, driver and CLBlast version match. It takes minutes: every\n"
                 "candidate is compiled.",
        .epilog = "examples:\n"
                  "  fmcl tune\n"
                  "  fmcl tune --device 0:0\n"
                  "  fmcl tune --report\n",
        .specs = specs,
        .n = (int)(sizeof specs / sizeof specs[0]),
    };
    int rc = args_parse(&cmd, argc, argv);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : rc;
    char err[4096], self[1024];
    fmcl_tune_config cfg;
    fmcl_tune_config_default(&cfg);
    if (!only_report) setenv("FMCL_NO_TUNING", "1", 1); /* search from the defaults */
    fmcl_ctx *ctx = NULL;
    if (fmcl_ctx_create(&ctx, device, err, sizeof err) != FMCL_OK) return cli_error("%s", err);
    if (only_report) {
        cfg.repeats = 3;
        rc = report(ctx, &cfg);
        fmcl_ctx_free(ctx);
        return rc;
    }
    const fmcl_device_info *info = fmcl_ctx_device(ctx);
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", info->platform_index, info->device_index);
    fmcl_tune_info where;
    fmcl_tune_info_of(ctx, &where);
    if (!where.path[0]) {
        fmcl_ctx_free(ctx);
        return cli_error("no cache folder to write to: set $XDG_CACHE_HOME or $HOME");
    }
    printf("fmcl tune: %s / %s (%s), driver %s, CLBlast %s\n", info->platform_name,
           info->device_name, spec, info->driver_version, where.clblast_version);
    printf("milliseconds per GEMM (best of %d) and score (each workload's GEMM time over the "
           "defaults', summed; 2 = defaults):\n  %-34s",
           cfg.repeats, "");
    for (int i = 0; i < cfg.n_shapes; i++) {
        char label[8];
        snprintf(label, sizeof label, "%c%c-%s", cfg.shapes[i].ta ? 'T' : 'N',
                 cfg.shapes[i].tb ? 'T' : 'N', cfg.shapes[i].workload ? "sm" : "rf");
        printf(" %7s", label);
    }
    printf("   score\n");
    fmcl_tune_result res;
    fmcl_status s = fmcl_tune_gemm(ctx, &cfg, progress, NULL, &res);
    if (s != FMCL_OK) {
        cli_error("tuning stopped: %s", fmcl_ctx_error(ctx));
        fmcl_ctx_free(ctx);
        return CLI_FAIL;
    }
    fmcl_ctx_free(ctx);
    printf("wrote %s\n", res.path);
    if (cli_self_path(self, sizeof self)) print_report(self, spec, &cfg);
    return CLI_OK;
}
