/* fmcl check: every device op against its CPU reference, then a short
 * training run against the same run on the CPU, on one device or on all of
 * them; a table (one line per op and shape) or JSON. Exit 0 when everything
 * is OK, 1 when anything FAILed or is NOT SUPPORTED (fmcl has no fallback
 * for any op it checks, so such a device cannot run it), 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "fmcl.h"

typedef struct {
    int json;
    int first_result; /* JSON: no comma before the next result */
    int count[3];     /* per fmcl_check_status */
} report;

static void on_result(void *user, const fmcl_check_result *r)
{
    report *rep = user;
    rep->count[r->status]++;
    if (!rep->json) {
        printf("  %-24s %-34s %-14s %9.2e %9.2e\n", r->op, r->shape,
               fmcl_check_status_name(r->status), r->norm_err, r->max_err);
        if (r->reason[0]) printf("      %s\n", r->reason);
        fflush(stdout);
        return;
    }
    printf("%s\n      {\"op\": ", rep->first_result ? "" : ",");
    rep->first_result = 0;
    cli_json_string(stdout, r->op);
    printf(", \"shape\": ");
    cli_json_string(stdout, r->shape);
    printf(", \"status\": ");
    cli_json_string(stdout, fmcl_check_status_name(r->status));
    printf(", \"norm_err\": ");
    cli_json_number(stdout, r->norm_err);
    printf(", \"max_err\": ");
    cli_json_number(stdout, r->max_err);
    printf(", \"reason\": ");
    cli_json_string(stdout, r->reason);
    printf("}");
}

typedef struct {
    char spec[32]; /* "P:D", or what --device said */
    char name[300];
    int count[3];
    double secs;
    char error[8192]; /* the device could not be opened or the suite not run */
} device_summary;

/* Opens one device and runs both suites on it. */
static void check_device(const char *spec, int json, device_summary *d)
{
    char err[8192];
    fmcl_ctx *ctx = NULL;
    report rep = {.json = json, .first_result = 1};
    double t0 = cli_now();
    fmcl_status st = fmcl_ctx_create(&ctx, spec, err, sizeof err);
    if (st == FMCL_OK) {
        const fmcl_device_info *info = fmcl_ctx_device(ctx);
        snprintf(d->spec, sizeof d->spec, "%d:%d", info->platform_index, info->device_index);
        snprintf(d->name, sizeof d->name, "%s / %s", info->platform_name, info->device_name);
    } else {
        snprintf(d->error, sizeof d->error, "%s", err);
    }
    if (json) {
        printf("    {\"device\": ");
        cli_json_string(stdout, d->spec);
        printf(", \"name\": ");
        cli_json_string(stdout, d->name);
        printf(", \"results\": [");
    } else if (st == FMCL_OK) {
        printf("fmcl check: %s (%s)\n  %-24s %-34s %-14s %9s %9s\n", d->name, d->spec, "op",
               "shape", "status", "norm err", "max err");
    }
    if (st == FMCL_OK) {
        st = fmcl_check_ops(ctx, NULL, on_result, &rep, NULL);
        if (st == FMCL_OK) st = fmcl_check_training(ctx, NULL, on_result, &rep, NULL);
        if (st != FMCL_OK) snprintf(d->error, sizeof d->error, "%s", fmcl_ctx_error(ctx));
    }
    fmcl_ctx_free(ctx);
    d->secs = cli_now() - t0;
    memcpy(d->count, rep.count, sizeof d->count);
    if (json) {
        printf("%s], \"ok\": %d, \"fail\": %d, \"not_supported\": %d, \"seconds\": %.2f, "
               "\"error\": ",
               rep.first_result ? "" : "\n    ", d->count[FMCL_CHECK_OK], d->count[FMCL_CHECK_FAIL],
               d->count[FMCL_CHECK_NOT_SUPPORTED], d->secs);
        if (d->error[0])
            cli_json_string(stdout, d->error);
        else
            printf("null");
        printf("}");
    } else if (!d->error[0]) {
        printf("\n");
    }
    fflush(stdout);
    if (d->error[0]) cli_error("%s", d->error);
}

static int device_passed(const device_summary *d)
{
    return !d->error[0] && d->count[FMCL_CHECK_FAIL] == 0 &&
           d->count[FMCL_CHECK_NOT_SUPPORTED] == 0;
}

static void print_summary(const device_summary *d, int n)
{
    printf("summary:\n");
    for (int i = 0; i < n; i++) {
        const device_summary *s = &d[i];
        if (s->error[0] && !s->name[0]) {
            printf("  %-5s could not be opened: FAIL\n", s->spec);
            continue;
        }
        printf("  %-5s %s: %d OK, %d FAIL, %d NOT SUPPORTED in %.1f s: %s\n", s->spec, s->name,
               s->count[FMCL_CHECK_OK], s->count[FMCL_CHECK_FAIL],
               s->count[FMCL_CHECK_NOT_SUPPORTED], s->secs,
               device_passed(s)                           ? "passed"
               : s->count[FMCL_CHECK_FAIL] || s->error[0] ? "FAILED (wrong results or errors)"
                                                          : "cannot run fmcl (NOT SUPPORTED)");
    }
}

int cmd_check(int argc, char **argv)
{
    const char *device = NULL;
    int all = 0, json = 0;
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
         .help = "check every device of every platform, one after the other"},
        {.name = "json",
         .type = ARG_BOOL,
         .dest = &json,
         .help = "print the results as JSON instead of a table"},
    };
    arg_cmd cmd = {
        .prog = "fmcl check",
        .about = "Runs every op fmcl uses on the device against its plain-C reference (odd\n"
                 "shapes, guard regions around every output) and prints one line per op and\n"
                 "shape: OK, FAIL or NOT SUPPORTED, the error over its tolerance (norm err,\n"
                 "at most 1 to pass) and the largest absolute error. Then it trains a small\n"
                 "model for 30 steps on the device and on the CPU reference path and compares\n"
                 "the losses step by step and the final parameters. Exits 0 when everything\n"
                 "is OK, 1 when anything FAILed or is NOT SUPPORTED.",
        .epilog = "examples:\n"
                  "  fmcl check\n"
                  "  fmcl check --device 0:1\n"
                  "  fmcl check --all --json > check.json\n",
        .specs = specs,
        .n = (int)(sizeof specs / sizeof specs[0]),
    };
    int rc = args_parse(&cmd, argc, argv);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : rc;
    if (all && device)
        return args_usage(&cmd, "--all and --device both choose devices; give only one");

    cli_device_spec *device_specs;
    int n;
    if (cli_device_specs(all, device, &device_specs, &n) != CLI_OK) return CLI_FAIL;
    device_summary *sum = calloc((size_t)n, sizeof *sum);
    if (!sum) {
        free(device_specs);
        return cli_error("out of host memory");
    }
    if (json) printf("{\"devices\": [\n");
    int passed = 1;
    for (int i = 0; i < n; i++) {
        const char *spec = device_specs[i].spec[0] ? device_specs[i].spec : NULL;
        snprintf(sum[i].spec, sizeof sum[i].spec, "%.31s", spec ? spec : "default");
        if (json && i) printf(",\n");
        check_device(spec, json, &sum[i]);
        passed &= device_passed(&sum[i]);
    }
    if (json)
        printf("\n  ], \"passed\": %s}\n", passed ? "true" : "false");
    else
        print_summary(sum, n);
    free(sum);
    free(device_specs);
    return passed ? CLI_OK : CLI_FAIL;
}
