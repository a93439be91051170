/* Class conditioning, on every device: a batch's labels with dropout (the
 * dropped fraction near P over many draws, deterministic per seed, the rows'
 * labels those of the images the batch picks), one-hot rows (dropped rows all
 * zeros), sampling of a conditional MLP with classifier-free guidance
 * against a double-precision Euler integration of
 * (1 + w) v(x, t, y) - w v(x, t, null) built from the CPU reference, the null
 * class against the same network without its class inputs (sampling and
 * likelihood), and a conditional run that resumes bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/classes.h"
#include "nn/model.h"
#include "runtime/rng.h"
#include "testlib.h"

static int ok(fmcl_ctx *ctx, fmcl_status s, const char *what)
{
    return tl_check(s == FMCL_OK, "%s: %s", what, s == FMCL_OK ? "" : fmcl_ctx_error(ctx));
}

/* Labels of B rows from N images with dropout p: against the reference, the
 * dropped fraction within 5 standard deviations of p, the kept labels those
 * of the picked rows (a label equal to the row index mod 7 + its bit pattern
 * identifies the row), and the same bits again for the same seed. */
static void label_batch(fmcl_ctx *ctx, float p, uint64_t seed)
{
    enum { N = 1000, B = 40000 };
    static unsigned char lab[N];
    static float want[B], got[B], again[B], other[B];
    for (int i = 0; i < N; i++) lab[i] = (unsigned char)(i % 7);
    tl_buf tl = {0}, ty = {0};
    if (!tl_buf_new(ctx, &tl, (N + 3) / 4, NULL) || !tl_buf_new(ctx, &ty, B, NULL)) goto done;
    if (!ok(ctx, fmcl_write(ctx, tl.t, lab, N), "labels") ||
        !ok(ctx, fmcl_label_batch(ctx, ty.t, tl.t, seed, 5, N, p, B), "label_batch") ||
        !tl_buf_read(ctx, &ty, got) ||
        !ok(ctx, fmcl_label_batch(ctx, ty.t, tl.t, seed, 5, N, p, B), "label_batch again") ||
        !tl_buf_read(ctx, &ty, again) ||
        !ok(ctx, fmcl_label_batch(ctx, ty.t, tl.t, seed + 1, 5, N, p, B), "other seed") ||
        !tl_buf_read(ctx, &ty, other))
        goto done;
    tl_guard_ok(ctx, &ty, "label_batch");
    fmcl_label_batch_ref(want, lab, seed, 5, 0, N, p, B);
    tl_check(memcmp(got, want, sizeof got) == 0, "p=%g: device labels equal the reference",
             (double)p);
    tl_check(memcmp(got, again, sizeof got) == 0, "p=%g: same seed, same labels", (double)p);
    tl_check(memcmp(got, other, sizeof got) != 0, "p=%g: another seed, other labels", (double)p);
    int dropped = 0, wrong = 0;
    for (int b = 0; b < B; b++) {
        uint32_t r[4];
        fmcl_philox(seed, (uint32_t)b, 0, FMCL_STREAM_INDEX, 5, r);
        const int row = (int)(((uint64_t)r[0] * N) >> 32);
        if (got[b] == -1.0f)
            dropped++;
        else
            wrong += got[b] != (float)(row % 7);
    }
    const double frac = (double)dropped / B, sd = sqrt(p * (1.0 - p) / B);
    printf("  p=%g: dropped %.4f of %d rows (5 sd = %.4f)\n", (double)p, frac, B, 5 * sd);
    tl_check(fabs(frac - p) <= 5 * sd, "p=%g: dropped fraction %.4f", (double)p, frac);
    tl_check(wrong == 0, "p=%g: %d kept labels are not their image's", (double)p, wrong);
done:
    tl_buf_free(&tl);
    tl_buf_free(&ty);
}

/* One-hot rows, guided layout (B = 2R): X copied, exactly one 1 at the
 * class for kept rows, all zeros for dropped rows and the second half. */
static void class_concat(fmcl_ctx *ctx)
{
    enum { W = 6, K = 5, R = 9, B = 2 * R };
    float X[R * W], y[R], got[B * (W + K)];
    tl_fill(X, R * W, -1.f, 1.f, 3);
    for (int r = 0; r < R; r++) y[r] = r % 3 == 0 ? -1.0f : (float)(r % K);
    tl_buf tX = {0}, ty = {0}, tXc = {0};
    if (tl_buf_new(ctx, &tX, R * W, X) && tl_buf_new(ctx, &ty, R, y) &&
        tl_buf_new(ctx, &tXc, B * (W + K), NULL) &&
        ok(ctx, fmcl_class_concat(ctx, tXc.t, tX.t, ty.t, W, K, R, B), "class_concat") &&
        tl_buf_read(ctx, &tXc, got)) {
        tl_guard_ok(ctx, &tXc, "class_concat");
        int bad = 0;
        for (int b = 0; b < B; b++) {
            const float *row = got + b * (W + K);
            bad += memcmp(row, X + (b % R) * W, W * sizeof(float)) != 0;
            const int c = b < R ? (int)y[b] : -1;
            for (int k = 0; k < K; k++) bad += row[W + k] != (k == c ? 1.0f : 0.0f);
        }
        tl_check(bad == 0, "class_concat: %d wrong entries", bad);
    }
    tl_buf_free(&tX);
    tl_buf_free(&ty);
    tl_buf_free(&tXc);
}

/* x <- x + h ((1 + w) v(x, t, y) - w v(x, t, null)) in double, through the
 * MLP's CPU reference; w = 0 with y the plain conditional field. */
static void euler_ref(const fmcl_mlp *m, const float *P, double *x, const int *cls, int n,
                      int steps, float w)
{
    const int D = m->cfg.dim, Win = m->in[0];
    float *X = calloc((size_t)2 * n * Win, sizeof *X);
    double *v = malloc((size_t)2 * n * D * sizeof *v);
    if (!tl_check(X && v, "no host memory for the guided reference")) goto done;
    for (int k = 0; k < steps; k++) {
        const double t = (double)k / steps;
        memset(X, 0, (size_t)2 * n * Win * sizeof *X);
        for (int half = 0; half < 2; half++)
            for (int i = 0; i < n; i++) {
                float *row = X + ((size_t)half * n + i) * Win;
                for (int d = 0; d < D; d++) row[d] = (float)x[i * D + d];
                row[D] = (float)t;
                if (half == 0 && cls[i] >= 0) row[D + 1 + cls[i]] = 1.0f;
            }
        fmcl_mlp_forward_ref(m, P, X, 2 * n, v);
        for (int i = 0; i < n * D; i++)
            x[i] += (1.0 / steps) * ((1.0 + w) * v[i] - (double)w * v[n * D + i]);
    }
done:
    free(X);
    free(v);
}

static void guided_sampling(fmcl_ctx *ctx)
{
    enum { D = 3, K = 4, n = 7, steps = 3 };
    const int cls[n] = {0, 3, -1, 2, 1, 3, 0};
    float x0[n * D], got[n * D];
    tl_fill(x0, n * D, -1.5f, 1.5f, 11);
    fmcl_model *m = tl_mlp(ctx, D, 16, 2, 0, K, 9);
    float *P = NULL;
    if (!m) return;
    P = malloc(m->net.n_params * sizeof *P);
    if (!tl_check(P != NULL, "no host memory for the parameters") ||
        !ok(ctx, fmcl_read(ctx, m->net.params, P, m->net.n_params * 4), "params"))
        goto done;
    const float ws[3] = {0.0f, 1.7f, 0.6f};
    for (int j = 0; j < 3; j++) {
        fmcl_sample_stats st = {0};
        fmcl_sample_config sc = {.solver = FMCL_SOLVER_EULER,
                                 .steps = steps,
                                 .n = n,
                                 .x0 = x0,
                                 .classes = cls,
                                 .guidance = ws[j],
                                 .stats = &st};
        double want[n * D];
        for (int i = 0; i < n * D; i++) want[i] = x0[i];
        euler_ref(m->mlp, P, want, cls, n, steps, ws[j]);
        char what[64];
        snprintf(what, sizeof what, "guided Euler w=%g vs double reference", (double)ws[j]);
        if (ok(ctx, fmcl_sample(m, &sc, got, NULL, NULL), what)) {
            tl_close(what, got, want, n * D, 1e-4, 1e-3);
            tl_check(st.nfe == steps, "w=%g: NFE %d counts guided evaluations (%d)", (double)ws[j],
                     st.nfe, steps);
        }
    }
    /* The classes matter: the same noise under other classes moves elsewhere. */
    int shifted[n];
    float alt[n * D];
    for (int i = 0; i < n; i++) shifted[i] = (cls[i] + 2) % K;
    fmcl_sample_config sc = {
        .solver = FMCL_SOLVER_EULER, .steps = steps, .n = n, .x0 = x0, .classes = shifted};
    if (ok(ctx, fmcl_sample(m, &sc, alt, NULL, NULL), "other classes"))
        tl_check(memcmp(alt, got, sizeof alt) != 0, "other classes give other samples");
    /* Refusals: a class out of range, guidance without classes. */
    const int bad[n] = {0, 4, 0, 0, 0, 0, 0};
    sc.classes = bad;
    tl_check(fmcl_sample(m, &sc, alt, NULL, NULL) == FMCL_ERR_ARG, "class 4 of 4 is refused");
    sc.classes = NULL, sc.guidance = 1.0f;
    tl_check(fmcl_sample(m, &sc, alt, NULL, NULL) == FMCL_ERR_ARG,
             "guidance without classes is refused");
done:
    free(P);
    fmcl_model_free(m);
}

/* The null class of a conditional MLP is the network without its class
 * columns: samples and log-densities match those of that unconditional MLP. */
static void null_class(fmcl_ctx *ctx)
{
    enum { D = 2, K = 3, n = 6 };
    enum { WIDTH = 12 };
    fmcl_model *mm = tl_mlp(ctx, D, WIDTH, 2, 2, K, 4), *uu = tl_mlp(ctx, D, WIDTH, 2, 2, 0, 4);
    float *P = NULL, *Q = NULL;
    if (!mm || !uu) goto done;
    const fmcl_mlp *m = mm->mlp, *u = uu->mlp;
    P = malloc(m->n_params * 4), Q = malloc(u->n_params * 4);
    if (!tl_check(P && Q, "no host memory for the parameters") ||
        !ok(ctx, fmcl_read(ctx, m->params, P, m->n_params * 4), "read"))
        goto done;
    /* Layer 0's weight [width, in]: drop the last K columns; the rest as is. */
    const int in_c = m->in[0], in_u = u->in[0];
    for (int r = 0; r < WIDTH; r++) memcpy(Q + r * in_u, P + r * in_c, in_u * 4);
    memcpy(Q + u->b_off[0], P + m->b_off[0], (m->n_params - m->b_off[0]) * 4);
    if (!ok(ctx, fmcl_write(ctx, u->params, Q, u->n_params * 4), "write")) goto done;
    float a[n * D], b[n * D];
    fmcl_sample_config sc = {.solver = FMCL_SOLVER_MIDPOINT, .steps = 4, .n = n, .seed = 8};
    if (ok(ctx, fmcl_sample(mm, &sc, a, NULL, NULL), "null-class samples") &&
        ok(ctx, fmcl_sample(uu, &sc, b, NULL, NULL), "unconditional samples"))
        tl_close_f("null class vs no class inputs: samples", a, b, n * D, 1e-5, 1e-4);
    fmcl_nll_config nc;
    fmcl_nll_config_default(&nc);
    nc.solver = FMCL_SOLVER_RK4, nc.steps = 8;
    double la[n], lb[n];
    if (ok(ctx, fmcl_log_prob(mm, &nc, b, n, la, NULL), "null-class log p") &&
        ok(ctx, fmcl_log_prob(uu, &nc, b, n, lb, NULL), "unconditional log p")) {
        float fa[n];
        for (int i = 0; i < n; i++) fa[i] = (float)la[i];
        tl_close("null class vs no class inputs: log p", fa, lb, n, 1e-4, 1e-4);
    }
done:
    free(P);
    free(Q);
    fmcl_model_free(mm);
    fmcl_model_free(uu);
}

/* 12 steps equal 6, a checkpoint, and 6 more after loading it; the file
 * records the classes and the label dropout. */
static void resume(fmcl_ctx *ctx)
{
    enum { N = 9, C = 1, H = 3, W = 4, STEPS = 12 };
    uint8_t pixels[N * C * H * W], labels[N];
    for (size_t i = 0; i < sizeof pixels; i++) pixels[i] = (uint8_t)(i * 53 % 256);
    for (int i = 0; i < N; i++) labels[i] = (uint8_t)(i % 3);
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = 16, tc.steps = STEPS, tc.seed = 21, tc.ema = 0.9f, tc.label_drop = 0.25f;
    char path[64];
    snprintf(path, sizeof path, "/tmp/fmcl-classes-%d.safetensors", (int)getpid());
    fmcl_model *m = tl_mlp(ctx, C * H * W, 10, 2, 0, 3, 1), *m2 = NULL;
    fmcl_data *d = tl_pixels(pixels, labels, N, C, H, W);
    fmcl_trainer *t = NULL, *t2 = NULL;
    float *p1 = NULL, *p2 = NULL;
    if (!m || !d || !ok(ctx, fmcl_trainer_create(m, d, &tc, &t), "trainer") ||
        !ok(ctx, fmcl_trainer_run(t, STEPS / 2), "first half") ||
        !ok(ctx, fmcl_trainer_save(t, path), "save") ||
        !ok(ctx, fmcl_trainer_run(t, STEPS / 2), "second half"))
        goto done;
    fmcl_train_config rc;
    int step = 0;
    char err[512];
    if (!tl_check(fmcl_train_config_from_checkpoint(path, &rc, &step, err, sizeof err) == FMCL_OK,
                  "config from checkpoint: %s", err))
        goto done;
    tl_check(rc.label_drop == 0.25f && step == STEPS / 2,
             "checkpoint records label_drop %g, step %d", (double)rc.label_drop, step);
    if (!ok(ctx, fmcl_model_load(ctx, path, FMCL_WEIGHTS_RAW, &m2), "load") ||
        !tl_check(fmcl_model_get_config(m2)->classes == 3, "loaded model has 3 classes") ||
        !ok(ctx, fmcl_trainer_create(m2, d, &rc, &t2), "resumed trainer") ||
        !ok(ctx, fmcl_trainer_restore(t2, path), "restore") ||
        !ok(ctx, fmcl_trainer_run(t2, STEPS / 2), "resumed half"))
        goto done;
    const size_t np = fmcl_model_param_count(m);
    p1 = malloc(np * 4), p2 = malloc(np * 4);
    float l1[STEPS], l2[STEPS];
    if (tl_check(p1 && p2, "no host memory for the parameters") &&
        ok(ctx, fmcl_read(ctx, m->net.params, p1, np * 4), "read") &&
        ok(ctx, fmcl_read(ctx, m2->net.params, p2, np * 4), "read") &&
        ok(ctx, fmcl_trainer_losses(t, 0, STEPS, l1), "losses") &&
        ok(ctx, fmcl_trainer_losses(t2, 0, STEPS, l2), "losses")) {
        tl_check(memcmp(p1, p2, np * 4) == 0, "resumed weights equal the uninterrupted run's");
        tl_check(memcmp(l1, l2, sizeof l1) == 0, "resumed losses equal the uninterrupted run's");
    }
    /* Labels beyond the model's classes are refused up front. */
    fmcl_trainer *t3 = NULL;
    labels[4] = 3;
    fmcl_data *bad = tl_pixels(pixels, labels, N, C, H, W);
    tl_check(bad && fmcl_trainer_create(m, bad, &tc, &t3) == FMCL_ERR_ARG && !t3,
             "label 3 of 3 is refused");
    fmcl_data_free(bad);
done:
    unlink(path);
    free(p1);
    free(p2);
    fmcl_trainer_free(t);
    fmcl_trainer_free(t2);
    fmcl_data_free(d);
    fmcl_model_free(m);
    fmcl_model_free(m2);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    label_batch(ctx, 0.1f, 77);
    label_batch(ctx, 0.5f, 78);
    class_concat(ctx);
    guided_sampling(ctx);
    null_class(ctx);
    resume(ctx);
    return 0;
}

int main(void) { return tl_for_each_device(run, NULL); }
