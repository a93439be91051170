/* Results as rows of a comparison (fmcl_bench_rows) and one row against
 * another (fmcl_bench_compare): which figures measure the same workload,
 * the speed ratio, and whether the checksums say the same thing was
 * computed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/workloads.h"

static fmcl_bench_row *row(fmcl_bench_row *rows, int *n, const char *unit, double value)
{
    fmcl_bench_row *r = &rows[(*n)++];
    memset(r, 0, sizeof *r);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    r->value = value > 0 ? value : 0;
    return r;
}

/* v as the files hold it: to 4 significant digits. */
static double round4(double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.4g", v);
    return strtod(buf, NULL);
}

int fmcl_bench_rows(const fmcl_bench_result *res, fmcl_bench_row *rows)
{
    int n = 0;
    fmcl_bench_row *r = row(rows, &n, "GFLOP/s", res->peak_gflops);
    snprintf(r->name, sizeof r->name, "FMA peak");
    snprintf(r->workload, sizeof r->workload, "peak_fma kernel");
    for (int i = 0; i < res->n_gemm && i < FMCL_BENCH_GEMMS; i++) {
        const fmcl_bench_gemm *g = &res->gemm[i];
        r = row(rows, &n, "GFLOP/s", g->gflops);
        snprintf(r->name, sizeof r->name, "GEMM %.42s", g->what);
        snprintf(r->workload, sizeof r->workload, "%c%c %dx%dx%d", g->ta ? 'T' : 'N',
                 g->tb ? 'T' : 'N', g->M, g->N, g->K);
    }
    for (int w = 0; w < FMCL_BENCH_TRAINS; w++) {
        const fmcl_bench_train *t = &res->train[w];
        if (!t->name[0]) continue;
        r = row(rows, &n, "steps/s", t->n_losses ? t->steps_per_s : 0);
        snprintf(r->name, sizeof r->name, "training, %.15s", t->name);
        int steps = t->warmup + t->repeats * t->steps_per_repeat + t->profile_steps;
        if (t->model == FMCL_BENCH_MODEL_UNET) {
            snprintf(r->workload, sizeof r->workload, "U-Net 28x28x1, batch %d", t->batch);
            snprintf(r->checksum_of, sizeof r->checksum_of, "loss after %d steps", steps);
        } else {
            snprintf(r->workload, sizeof r->workload, "MLP 3-%dx%d-2, batch %d", t->width, t->depth,
                     t->batch);
            snprintf(r->checksum_of, sizeof r->checksum_of, "loss mean of %d steps", steps);
        }
        if (!t->n_losses) r->checksum_of[0] = 0;
        snprintf(r->checksum, sizeof r->checksum, "%.4g", t->loss_mean);
        r->sums[r->n_sums++] = round4(t->loss_mean);
        r->hash = t->loss_hash;
    }
    const fmcl_bench_sample *s = &res->sample;
    if (s->points) {
        r = row(rows, &n, "points x NFE/s", s->nfe ? s->points_nfe_per_s : 0);
        snprintf(r->name, sizeof r->name, "sampling");
        snprintf(r->workload, sizeof r->workload, "MLP 3-%dx%d-2, %d points, RK4 %d steps",
                 s->width, s->depth, s->points, s->steps);
        if (s->nfe) snprintf(r->checksum_of, sizeof r->checksum_of, "samples' mean, std");
        snprintf(r->checksum, sizeof r->checksum, "(%.4g, %.4g), (%.4g, %.4g)", s->mean[0],
                 s->mean[1], s->std[0], s->std[1]);
        const double v[4] = {s->mean[0], s->mean[1], s->std[0], s->std[1]};
        for (int i = 0; i < 4; i++) r->sums[r->n_sums++] = round4(v[i]);
        r->hash = s->hash;
    }
    r = row(rows, &n, "s", res->first.seconds);
    snprintf(r->name, sizeof r->name, "first training step");
    snprintf(r->workload, sizeof r->workload, "MLP 3-512x4-2, batch 4096, new process");
    r->lower_is_better = 1;
    return n;
}

const char *fmcl_bench_agreement_name(fmcl_bench_agreement a)
{
    switch (a) {
    case FMCL_BENCH_BITS_EQUAL: return "bit-identical";
    case FMCL_BENCH_AGREE: return "agree";
    case FMCL_BENCH_DIFFER: return "DIFFER";
    default: return "";
    }
}

/* Whether each of a's checksum values is b's rounded to 4 significant
 * digits, or next to it: a value a rounding error away from a boundary of
 * that rounding can land on either side of it. The files hold the values
 * rounded, so their bits decide nothing here. */
static int sums_agree(const fmcl_bench_row *a, const fmcl_bench_row *b)
{
    if (a->n_sums != b->n_sums) return 0;
    for (int i = 0; i < a->n_sums; i++) {
        double x = a->sums[i], y = b->sums[i], m = fmax(fabs(x), fabs(y));
        if (x == y) continue;
        if (!isfinite(x) || !isfinite(y)) return 0;
        /* one unit of the 4th significant digit of the larger, with room for its rounding */
        double unit = pow(10, floor(log10(m)) - 3);
        if (fabs(x - y) > 1.001 * unit) return 0;
    }
    return 1;
}

fmcl_bench_comparison fmcl_bench_compare(const fmcl_bench_row *base, const fmcl_bench_row *row)
{
    fmcl_bench_comparison c = {0};
    if (strcmp(base->workload, row->workload) != 0) return c;
    if (base->value > 0 && row->value > 0) {
        c.comparable = 1;
        c.speed = row->lower_is_better ? base->value / row->value : row->value / base->value;
    }
    if (!base->checksum_of[0] || strcmp(base->checksum_of, row->checksum_of) != 0) return c;
    /* The rounded values decide; equal hashes only add that the bits agree too. */
    if (!sums_agree(base, row))
        c.agreement = FMCL_BENCH_DIFFER;
    else if (base->hash == row->hash)
        c.agreement = FMCL_BENCH_BITS_EQUAL;
    else
        c.agreement = FMCL_BENCH_AGREE;
    return c;
}
