/* Every kernel of the library at tiny odd shapes, through the public API, in
 * numbered pieces: training on each path (with each built-in set, clipping,
 * the OT coupling), on a user's array with time features and AdamW;
 * sampling with every solver and from given points; likelihoods with the
 * exact divergence and with Hutchinson's estimate; training on 8-bit images
 * (with classes, then guided sampling); training through fmcl's packed GEMM
 * kernels and their fused epilogues (PoCL takes them by default,
 * Oclgrind does not); the image layers (tiny_layers.c).
 *   tiny_workload count   prints the number of pieces
 *   tiny_workload K       runs piece K on every device (as the device tests)
 * tests/oclgrind.sh runs each piece in its own process under Oclgrind (where
 * the per-op tests' shapes would take hours): Oclgrind 21.10 gives a released
 * buffer's number to the next buffer with the old one's uninitialised-value
 * record, so one piece per process keeps its reports true. Here each call
 * must succeed and give finite values; the per-op tests and fmcl check
 * compare values with references. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/toy2d.h"
#include "runtime/peak.h"
#include "testlib.h"
#include "tiny_layers.h"

#define BATCH 7
#define STEPS 2
#define N 5
#define N_TRAIN (FMCL_PATH_LINEAR_VP + 3) /* every path, then the array twice */
#define LAST_SOLVER FMCL_SOLVER_RK4_38
#define N_SAMPLE (LAST_SOLVER + 2) /* every solver, then from given x0 */
#define N_LIKELIHOOD 2
/* then images, class-conditional images, packed GEMMs, bench's peak, layers */
#define N_PIECES (N_TRAIN + N_SAMPLE + N_LIKELIHOOD + 5)

static int ok(fmcl_ctx *ctx, fmcl_status s, const char *what)
{
    return tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx));
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* width 9 keeps every layer on the narrow kernels; 33 sends the hidden one
 * through GEMMs, with their weight gradients, at batch 16 so that the
 * packing kernels see whole blocks as well as edges. */
static void train(fmcl_ctx *ctx, int piece, int width)
{
    enum { points = 11, wide = 33 };
    float data[points * wide];
    tl_fill(data, points * wide, -1.f, 1.f, 9);
    int dim = 2, depth = 2, F = 0;
    fmcl_data *d = NULL;
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = width > 9 ? 16 : BATCH;
    tc.steps = STEPS;
    char what[96];
    if (piece <= FMCL_PATH_LINEAR_VP) {
        tc.path = piece;
        const fmcl_toy toy = piece % (FMCL_TOY_SPIRALS + 1);
        d = tl_toy(toy);
        tc.clip = piece == FMCL_PATH_OT ? 0.5f : 0.0f;
        tc.ema = piece == FMCL_PATH_OT ? 0.9f : 0.0f; /* with a warm-up and a cosine */
        tc.warmup = piece == FMCL_PATH_OT ? 1 : 0;
        tc.lr_schedule = piece == FMCL_PATH_OT ? FMCL_LR_COSINE : FMCL_LR_CONSTANT;
        tc.coupling = piece == FMCL_PATH_VP ? FMCL_COUPLING_OT : FMCL_COUPLING_INDEPENDENT;
        snprintf(what, sizeof what, "training: %s path on %s%s%s",
                 fmcl_name(FMCL_NAMES_PATH, piece), fmcl_name(FMCL_NAMES_TOY, toy),
                 tc.clip > 0 ? ", clipped, EMA" : "",
                 tc.coupling == FMCL_COUPLING_OT ? ", OT coupling" : "");
    } else {
        /* The first: 3 dimensions (every layer narrow: linear.cl's kernels),
         * drawn inside the path kernel. The second: 33 dimensions and width
         * (every layer a GEMM with the bias kernels), the OT coupling. */
        int second = piece > FMCL_PATH_LINEAR_VP + 1;
        dim = second ? wide : 3, width = second ? wide : 5, depth = 1, F = 2;
        tc.coupling = second ? FMCL_COUPLING_OT : FMCL_COUPLING_INDEPENDENT;
        d = tl_points(data, points, dim);
        tc.weight_decay = 0.01f;
        snprintf(what, sizeof what,
                 "training: array data of %d dimensions, time features, "
                 "AdamW%s",
                 dim, second ? ", OT coupling" : "");
    }
    fmcl_model *m = tl_mlp(ctx, dim, width, depth, F, 0, 1);
    fmcl_trainer *t = NULL;
    float loss[STEPS];
    if (m && d && ok(ctx, fmcl_trainer_create(m, d, &tc, &t), what) &&
        ok(ctx, fmcl_trainer_run(t, STEPS), what) &&
        ok(ctx, fmcl_trainer_losses(t, 0, STEPS, loss), what))
        tl_check(all_finite(loss, STEPS), "%s: losses not finite", what);
    printf("  %s\n", what);
    fmcl_trainer_free(t);
    fmcl_data_free(d);
    fmcl_model_free(m);
}

/* Sampling (k < N_SAMPLE) or a likelihood (Hutchinson when k is odd). */
static void evaluate(fmcl_ctx *ctx, int k, int likelihood)
{
    fmcl_model *m = tl_mlp(ctx, 2, 9, 2, 0, 0, 2);
    if (!m) return;
    float x[2 * N], given[2 * N];
    tl_fill(given, 2 * N, -2.f, 2.f, 4);
    memcpy(x, given, sizeof x);
    if (!likelihood) {
        int solver = k <= LAST_SOLVER ? k : FMCL_SOLVER_EULER;
        fmcl_sample_config sc = {
            .solver = solver, .steps = 2, .n = N, .seed = 3, .atol = 1e-3, .rtol = 1e-3};
        if (k > LAST_SOLVER) sc.x0 = given;
        const char *name = fmcl_name(FMCL_NAMES_SOLVER, solver);
        if (ok(ctx, fmcl_sample(m, &sc, x, NULL, NULL), name))
            tl_check(all_finite(x, 2 * N), "%s: samples not finite", name);
        printf("  sampling: %s%s\n", name, sc.x0 ? " from given points" : "");
    } else {
        fmcl_nll_config nc;
        fmcl_nll_config_default(&nc);
        nc.solver = FMCL_SOLVER_RK4;
        nc.steps = 2;
        nc.hutchinson = k % 2;
        double logp[N];
        if (ok(ctx, fmcl_log_prob(m, &nc, x, N, logp, NULL), "log_prob"))
            for (int i = 0; i < N; i++) tl_check(isfinite(logp[i]), "log p not finite");
        printf("  likelihood: %s divergence\n", nc.hutchinson ? "Hutchinson's" : "exact");
    }
    fmcl_model_free(m);
}

/* A class-conditional model: guided sampling of two classes and the null
 * class (one-hot inputs, the guidance combination). */
static void sample_classes(fmcl_ctx *ctx, fmcl_model *m, float *x, int D)
{
    const int classes[N] = {0, 2, -1, 1, 2};
    fmcl_sample_config sc = {.solver = FMCL_SOLVER_EULER,
                             .steps = 2,
                             .n = N,
                             .seed = 3,
                             .classes = classes,
                             .guidance = 1.5f};
    if (ok(ctx, fmcl_sample(m, &sc, x, NULL, NULL), "guided sampling"))
        tl_check(all_finite(x, (size_t)N * D), "guided sampling: samples not finite");
    printf("  sampling: classifier-free guidance\n");
}

/* Training on 8-bit images (3 x 2 x 3, mirrored): the device gathers and
 * dequantises each batch; with cond, labels of 3 classes half dropped. */
static void train_images(fmcl_ctx *ctx, int cond)
{
    enum { images = 5, C = 3, H = 2, W = 3 };
    uint8_t pixels[images * C * H * W];
    for (size_t i = 0; i < sizeof pixels; i++) pixels[i] = (uint8_t)(i * 37 % 256);
    const uint8_t labels[images] = {2, 0, 1, 1, 0};
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = BATCH;
    tc.steps = STEPS;
    tc.hflip = 1;
    if (cond) tc.label_drop = 0.5f;
    const char *what = cond ? "training: 8-bit images with classes"
                            : "training: 8-bit images, mirrored";
    fmcl_model *m = tl_mlp(ctx, C * H * W, 5, 1, 0, cond ? 3 : 0, 1);
    fmcl_data *d = tl_pixels(pixels, cond ? labels : NULL, images, C, H, W);
    fmcl_trainer *t = NULL;
    float loss[STEPS];
    if (m && d && ok(ctx, fmcl_trainer_create(m, d, &tc, &t), what) &&
        ok(ctx, fmcl_trainer_run(t, STEPS), what) &&
        ok(ctx, fmcl_trainer_losses(t, 0, STEPS, loss), what))
        tl_check(all_finite(loss, STEPS), "%s: losses not finite", what);
    printf("  %s\n", what);
    float x[N * C * H * W];
    if (cond && m) sample_classes(ctx, m, x, C * H * W);
    fmcl_trainer_free(t);
    fmcl_data_free(d);
    fmcl_model_free(m);
}

/* fmcl bench's FMA-peak kernel on a few work-items. */
static void peak(fmcl_ctx *ctx)
{
    tl_buf out = {0};
    float got[N];
    if (tl_buf_new(ctx, &out, N, NULL) &&
        ok(ctx, fmcl_peak_fma(ctx, out.t, 0.5f, 0.25f, 3, N), "peak_fma") &&
        tl_buf_read(ctx, &out, got))
        tl_check(all_finite(got, N), "peak_fma: not finite");
    tl_buf_free(&out);
    printf("  bench: FMA peak\n");
}

static int run(fmcl_ctx *ctx, void *user)
{
    const int piece = *(const int *)user;
    if (piece < N_TRAIN)
        train(ctx, piece, 9);
    else if (piece < N_TRAIN + N_SAMPLE)
        evaluate(ctx, piece - N_TRAIN, 0);
    else if (piece < N_TRAIN + N_SAMPLE + N_LIKELIHOOD)
        evaluate(ctx, piece - N_TRAIN - N_SAMPLE, 1);
    else if (piece < N_PIECES - 3)
        train_images(ctx, piece == N_PIECES - 4);
    else if (piece < N_PIECES - 2) {
        fmcl_gemm_use(ctx, 1);
        printf("  packed GEMM kernels:\n");
        train(ctx, FMCL_PATH_OT, 33);
    } else if (piece < N_PIECES - 1)
        peak(ctx);
    else
        tiny_layers(ctx); /* the image layers, tiny_layers.c */
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "count") == 0) {
        printf("%d\n", N_PIECES);
        return 0;
    }
    char *end = NULL;
    long piece = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || *end || piece < 0 || piece >= N_PIECES) {
        fprintf(stderr, "usage: tiny_workload count | tiny_workload K (0 <= K < %d)\n", N_PIECES);
        return 2;
    }
    int k = (int)piece;
    return tl_for_each_device(run, &k);
}
