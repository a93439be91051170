/* End to end: a short checkerboard training run must put its samples on the
 * checkerboard's support far above what the untrained model achieves. The
 * measure is the fraction of samples in the support (a = 0.45 x, b = 0.45 y:
 * |a|, |b| <= 2 and floor(a) + floor(b) even), not a loss value: the flow
 * matching loss has irreducible variance and never goes to zero. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testlib.h"

#define WIDTH 128
#define DEPTH 3
#define BATCH 2048
#define STEPS 1500
#define N_SAMPLES 4000

static double support_fraction(const float *x, int n)
{
    int in = 0;
    for (int i = 0; i < n; i++) {
        double a = 0.45 * x[2 * i], b = 0.45 * x[2 * i + 1];
        if (fabs(a) <= 2 && fabs(b) <= 2 && ((long)floor(a) + (long)floor(b)) % 2 == 0) in++;
    }
    return (double)in / n;
}

static double sample_fraction(fmcl_model *m, float *out)
{
    fmcl_sample_config sc = {
        .solver = FMCL_SOLVER_MIDPOINT, .steps = 20, .n = N_SAMPLES, .seed = 5};
    int nfe = 0;
    if (!tl_check(fmcl_sample(m, &sc, out, NULL, &nfe) == FMCL_OK, "sample failed")) return -1;
    tl_check(nfe == 40, "midpoint with 20 steps should take 40 NFE, reported %d", nfe);
    return support_fraction(out, N_SAMPLES);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    fmcl_model *m = tl_mlp(ctx, 2, WIDTH, DEPTH, 0, 0, 1);
    fmcl_data *board = tl_toy(FMCL_TOY_CHECKERBOARD);
    if (!m || !board) {
        fmcl_model_free(m);
        fmcl_data_free(board);
        return 1;
    }
    float *out = malloc(N_SAMPLES * 2 * sizeof *out);
    float *data = malloc(N_SAMPLES * 2 * sizeof *data);
    fmcl_data_draw(board, 3, 0, N_SAMPLES, data, NULL, 0);
    double f_data = support_fraction(data, N_SAMPLES);
    double f0 = sample_fraction(m, out);

    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = BATCH;
    tc.steps = STEPS;
    tc.lr = 3e-3f;
    tc.seed = 1;
    fmcl_trainer *t;
    fmcl_status s = fmcl_trainer_create(m, board, &tc, &t);
    if (tl_check(s == FMCL_OK, "trainer: %s", fmcl_ctx_error(ctx))) {
        s = fmcl_trainer_run(t, STEPS);
        float *loss = malloc(STEPS * sizeof *loss);
        if (tl_check(s == FMCL_OK, "training: %s", fmcl_ctx_error(ctx)) &&
            tl_check(fmcl_trainer_losses(t, 0, STEPS, loss) == FMCL_OK, "losses: %s",
                     fmcl_ctx_error(ctx))) {
            double first = 0, last = 0;
            for (int i = 0; i < 50; i++) first += loss[i] / 50, last += loss[STEPS - 50 + i] / 50;
            printf("  loss: first 50 steps %.3f, last 50 steps %.3f\n", first, last);
            double f1 = sample_fraction(m, out);
            printf("  fraction of points on the checkerboard's support: data %.3f, untrained "
                   "model %.3f, trained model %.3f (chance for N(0, I) is about 0.5)\n",
                   f_data, f0, f1);
            tl_check(f_data == 1.0, "the data itself must lie on its support (%.3f)", f_data);
            /* Measured 0.85 on PoCL and rusticl; a well-trained reference model
             * reaches ~0.9 (edges stay soft), N(0, I) about 0.5. */
            tl_check(f1 > 0.80, "trained samples on the support: %.3f, want > 0.80", f1);
            tl_check(f1 > f0 + 0.2,
                     "training did not beat the untrained model by 0.2 (%.3f vs %.3f)", f1, f0);
        }
        free(loss);
        fmcl_trainer_free(t);
    }
    free(out);
    free(data);
    fmcl_data_free(board);
    fmcl_model_free(m);
    return 0;
}

int main(void) { return tl_for_each_device(run, NULL); }
