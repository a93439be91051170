/* fmcl-score: scores checkerboard samples (an N x 2 .npy file, e.g. from
 * fmcl sample) with fmcl-compare's measures: the fraction of the points on
 * the board's 8 cells and the sliced W2 distance to held-out data. It is what
 * chose the demo's settings (docs/BENCHMARKS.md, "The demo"); it needs no
 * OpenCL device.
 *
 * The held-out data come from a step of the data stream that no training run
 * reaches, of a seed of their own, so every run's samples are measured
 * against the same points whatever seed it trained with. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bench/compare.h"
#include "../bench/compare_metrics.h"
#include "fmcl.h"

#define STEP_REF UINT32_MAX /* as in fmcl-compare */

/* n checkerboard points of one step of the data stream, as fmcl-compare draws them. */
static int draw_board(uint64_t seed, uint64_t step, int n, float *out)
{
    fmcl_data *b = NULL;
    int ok = fmcl_data_create_toy(FMCL_TOY_CHECKERBOARD, &b, NULL, 0) == FMCL_OK &&
             fmcl_data_draw(b, seed, step, n, out, NULL, 0) == FMCL_OK;
    fmcl_data_free(b);
    return ok;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fmcl-score [--seed N] [--floor] SAMPLES.npy\n"
            "Scores N x 2 samples of a checkerboard model: the fraction on the board (its 8\n"
            "cells) and the sliced W2 distance (%d directions) to %d times as many held-out\n"
            "checkerboard points. Prints one line: n, board fraction, sliced W2.\n"
            "  --seed N   seed of the held-out points (default 0)\n"
            "  --floor    score N fresh checkerboard points instead of the file's (the\n"
            "             measure's floor for N points; the file only gives N)\n"
            "  --help     this text\n",
            CMP_DIRS, CMP_REF_FACTOR);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    uint64_t seed = 0;
    int floor_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            char *end;
            seed = strtoull(argv[++i], &end, 10);
            if (*argv[i] == 0 || *end != 0) {
                fprintf(stderr, "fmcl-score: --seed needs a whole number (see --help)\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--floor") == 0) {
            floor_only = 1;
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "fmcl-score: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    char err[512];
    float *x = NULL;
    int64_t shape[FMCL_NPY_MAX_DIMS];
    int ndim = 0;
    if (fmcl_npy_read(path, &x, shape, &ndim, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "fmcl-score: error: %s\n", err);
        return 1;
    }
    if (ndim != 2 || shape[1] != 2 || shape[0] < 1 || shape[0] > INT32_MAX / 2 / CMP_REF_FACTOR) {
        fprintf(stderr,
                "fmcl-score: error: %s is not an N x 2 array of 2D points with "
                "1 <= N <= %d\n",
                path, INT32_MAX / 2 / CMP_REF_FACTOR);
        fmcl_npy_free(x);
        return 1;
    }
    const int n = (int)shape[0], m = CMP_REF_FACTOR * n;
    float *ref = malloc(sizeof(float) * 2 * (size_t)m);
    cmp_ref r = {0};
    int rc = 1;
    /* --floor: data of the samples' size from a step just below the reference's. */
    if (!ref || (floor_only && !draw_board(seed, STEP_REF - 1, n, x)) ||
        !draw_board(seed, STEP_REF, m, ref) || cmp_ref_init(&r, ref, m, CMP_DIRS) != 0) {
        fprintf(stderr, "fmcl-score: error: drawing the held-out points failed (memory?)\n");
    } else {
        double w = cmp_sliced_w2(&r, x, n);
        if (w >= 0) {
            printf("n %d  board %.4f  sw2 %.4f\n", n, cmp_board_fraction(x, n), w);
            rc = 0;
        } else {
            fprintf(stderr, "fmcl-score: error: out of memory\n");
        }
    }
    cmp_ref_free(&r);
    free(ref);
    fmcl_npy_free(x);
    return rc;
}
