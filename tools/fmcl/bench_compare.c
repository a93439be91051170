/* fmcl bench --compare: the JSON files of earlier runs, from many machines,
 * as one table. Every device of every file is an entry; each figure is
 * shown against the first entry's (the library decides what compares:
 * fmcl_bench_rows, fmcl_bench_compare), with whether the checksums agree,
 * i.e. whether the machines computed the same thing; then the checksums
 * themselves, and with --png a bar chart (fmcl_bench_plot). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"

typedef struct {
    const char *file;
    const fmcl_bench_report *rep;
    const fmcl_bench_result *r;
    int n_rows;
    fmcl_bench_row rows[FMCL_BENCH_ROWS];
} entry;

/* e's row of the given name, NULL when it has none. */
static const fmcl_bench_row *find(const entry *e, const char *name)
{
    for (int k = 0; k < e->n_rows; k++)
        if (strcmp(e->rows[k].name, name) == 0) return &e->rows[k];
    return NULL;
}

static void print_entries(const entry *e, int n)
{
    for (int i = 0; i < n; i++) {
        const fmcl_device_info *d = &e[i].r->device;
        printf("  [%d] %s %s: %s / %s (%s, %u compute units), driver %s\n      fmcl %s, "
               "CLBlast %s, GEMM through %s%s",
               i + 1, e[i].file, e[i].r->spec, d->platform_name, d->device_name,
               fmcl_device_type_name(d->type), d->compute_units, d->driver_version,
               e[i].rep->fmcl_version, e[i].rep->clblast_version,
               e[i].r->gemm_impl == FMCL_BENCH_PACKED ? "the packed kernels" : "CLBlast",
               e[i].rep->quick ? ", --quick" : "");
        if (strcmp(e[i].rep->fmcl_version, e[0].rep->fmcl_version) != 0)
            printf(" (not [1]'s fmcl %s: its kernels may differ, and its checksums with them)",
                   e[0].rep->fmcl_version);
        printf("\n");
        if (e[i].r->error[0]) printf("      error: %s\n", e[i].r->error);
    }
}

static void print_speeds(const entry *e, int n)
{
    printf("\nfigures, and against [1]: speed ratio (> 1: faster) and whether the checksums "
           "agree\n  %-34s %-14s",
           "figure", "unit");
    for (int i = 0; i < n; i++)
        printf(i && i < n - 1 ? " %7s[%d] %20s" : " %7s[%d]", "", i + 1, "");
    printf("\n");
    for (int k = 0; k < e[0].n_rows; k++) {
        const fmcl_bench_row *base = &e[0].rows[k];
        printf("  %-34s %-14s", base->name, base->unit);
        for (int i = 0; i < n; i++) {
            const fmcl_bench_row *row = find(&e[i], base->name);
            char v[16] = "-", rel[40] = "";
            if (row && row->value > 0) snprintf(v, sizeof v, "%.4g", row->value);
            if (i && row) {
                fmcl_bench_comparison c = fmcl_bench_compare(base, row);
                if (strcmp(base->workload, row->workload) != 0)
                    snprintf(rel, sizeof rel, "other workload");
                else if (c.comparable && c.agreement)
                    snprintf(rel, sizeof rel, "%5.2fx %s", c.speed,
                             fmcl_bench_agreement_name(c.agreement));
                else if (c.comparable)
                    snprintf(rel, sizeof rel, "%5.2fx", c.speed);
                else
                    snprintf(rel, sizeof rel, "%s", fmcl_bench_agreement_name(c.agreement));
            }
            printf(!i ? " %10s" : i < n - 1 ? " %10s %-20s" : " %10s %s", v, rel);
        }
        printf("\n");
    }
}

/* The rounded checksums, where the first entry has them. */
static void print_checksums(const entry *e, int n)
{
    printf("\nchecksums, rounded to 4 significant digits (fnv1a of the bits in the JSON files)\n");
    for (int k = 0; k < e[0].n_rows; k++) {
        const fmcl_bench_row *base = &e[0].rows[k];
        if (!base->checksum_of[0]) continue;
        printf("  %s, %s:\n", base->name, base->checksum_of);
        for (int i = 0; i < n; i++) {
            const fmcl_bench_row *row = find(&e[i], base->name);
            if (!row || !row->checksum_of[0])
                printf("    [%d] -\n", i + 1);
            else if (strcmp(row->checksum_of, base->checksum_of) != 0)
                printf("    [%d] %s (of another workload: %s)\n", i + 1, row->checksum,
                       row->checksum_of);
            else
                printf("    [%d] %s\n", i + 1, row->checksum);
        }
    }
}

static int plot(const entry *e, int n, const char *png)
{
    const fmcl_bench_result **res = calloc((size_t)n, sizeof *res);
    char(*label)[256] = calloc((size_t)n, sizeof *label);
    const char **labels = calloc((size_t)n, sizeof *labels);
    int rc = CLI_OK;
    if (!res || !label || !labels) {
        rc = cli_error("out of host memory");
    } else {
        for (int i = 0; i < n; i++) {
            res[i] = e[i].r;
            snprintf(label[i], sizeof label[i], "%.60s %.16s: %.60s", e[i].file, e[i].r->spec,
                     e[i].r->device.device_name);
            labels[i] = label[i];
        }
        char err[1024];
        if (fmcl_bench_plot(png, res, labels, n, err, sizeof err) != FMCL_OK)
            rc = cli_error("%s", err);
        else
            printf("\nwrote %s\n", png);
    }
    free(res);
    free(label);
    free(labels);
    return rc;
}

int bench_compare(const char *const *files, int n_files, const char *png)
{
    fmcl_bench_report **reps = calloc((size_t)n_files, sizeof *reps);
    entry *e = NULL;
    int n = 0, rc = reps ? CLI_OK : cli_error("out of host memory");
    char err[2048];
    for (int f = 0; f < n_files && rc == CLI_OK; f++) {
        if (fmcl_bench_read_json(files[f], &reps[f], err, sizeof err) != FMCL_OK)
            rc = cli_error("%s", err);
        else if (reps[f]->n_results == 0)
            rc = cli_error("%s holds no device's results", files[f]);
        else
            n += reps[f]->n_results;
    }
    if (rc == CLI_OK && !(e = calloc((size_t)n, sizeof *e))) rc = cli_error("out of host memory");
    for (int f = 0, i = 0; rc == CLI_OK && f < n_files; f++)
        for (int d = 0; d < reps[f]->n_results; d++, i++) {
            e[i] = (entry){.file = files[f], .rep = reps[f], .r = &reps[f]->results[d]};
            e[i].n_rows = fmcl_bench_rows(e[i].r, e[i].rows);
        }
    if (rc == CLI_OK) {
        printf("fmcl bench --compare: %d device%s in %d file%s\n", n, n > 1 ? "s" : "", n_files,
               n_files > 1 ? "s" : "");
        print_entries(e, n);
        print_speeds(e, n);
        print_checksums(e, n);
        if (png) rc = plot(e, n, png);
    }
    for (int f = 0; reps && f < n_files; f++) fmcl_bench_report_free(reps[f]);
    free(reps);
    free(e);
    return rc;
}
