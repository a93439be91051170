/* A batch split into shares draws exactly what the whole batch draws
 * (docs/DESIGN.md, "Data-parallel training"): for every op that draws per
 * example (data of each source, noise, t, labels and their dropout, pixel
 * dequantisation and flips, dropout masks), the rows [a, b) filled with
 * row0 = base + a are bit for bit rows [a, b) of the whole batch filled
 * with row0 = base, on every device and in every reference, with base 0
 * and a base far into a larger batch. */
#include <stdlib.h>
#include <string.h>

#include "data/images.h"
#include "data/toy2d.h"
#include "flow/classes.h"
#include "flow/paths.h"
#include "nn/nn_ops.h"
#include "testlib.h"

#define B 37
/* The shares: [0, 1), [1, 13), [13, 30), [30, 37). */
static const int cuts[] = {0, 1, 13, 30, B};
#define NCUTS (int)(sizeof cuts / sizeof cuts[0])
#define SEED 0x5a5eull
#define STEP 12u
#define N_DATA 11 /* rows of the array or images drawn from */

/* Fills out (rows of w floats) with rows [a, a + n) of a batch whose first
 * row is example base: row0 = base + a. The device form returns 0 after a
 * failed check. */
typedef struct op op;
struct op {
    const char *name;
    int w;
    int (*device)(fmcl_ctx *ctx, const op *o, int base, int a, int n, float *out);
    void (*ref)(const op *o, int base, int a, int n, float *out);
    int kind; /* the op's own parameter: a data kind, a path kind, hflip */
};

static float data[N_DATA * 5];          /* array source, D = 5 */
static unsigned char pix[N_DATA * 105]; /* images of 3 x 5 x 7 */
static float x1[B * 5];                 /* the x1 rows of path_interp */

static int ok(fmcl_ctx *ctx, fmcl_status s, const char *what)
{
    return tl_check(s == FMCL_OK, "%s: %s", what, fmcl_ctx_error(ctx));
}

/* ---- the ops ---- */

static fmcl_path path_of(int kind)
{
    const fmcl_path paths[] = {{0, 1e-4f, 0, 1.0f}, {1, 0.1f, 20.0f, 1.0f - 1e-5f}};
    return paths[kind];
}

/* path_sample: kind < 5 a built-in set (D 2, t alone), else the array (D 5,
 * 3 time frequencies) on the VP path; rows [X | U]. */
static int dims(const op *o, int *D, int *F)
{
    *D = o->kind == FMCL_KIND_ARRAY ? 5 : 2;
    *F = o->kind == FMCL_KIND_ARRAY ? 3 : 0;
    return *F > 0 ? *D + 2 * *F : *D + 1;
}

/* Reads X [n, W] and U [n, D] into rows [X row | U row]. */
static int read_xu(fmcl_ctx *ctx, tl_buf *X, tl_buf *U, int n, int W, int D, float *out)
{
    float *x = malloc((size_t)n * W * sizeof *x), *u = malloc((size_t)n * D * sizeof *u);
    int r = tl_buf_read(ctx, X, x) && tl_buf_read(ctx, U, u);
    for (int i = 0; r && i < n; i++) {
        memcpy(out + (size_t)i * (W + D), x + (size_t)i * W, (size_t)W * sizeof *x);
        memcpy(out + (size_t)i * (W + D) + W, u + (size_t)i * D, (size_t)D * sizeof *u);
    }
    free(x);
    free(u);
    return r;
}

static void pack_xu(const float *x, const float *u, int n, int W, int D, float *out)
{
    for (int i = 0; i < n; i++) {
        memcpy(out + (size_t)i * (W + D), x + (size_t)i * W, (size_t)W * sizeof *x);
        memcpy(out + (size_t)i * (W + D) + W, u + (size_t)i * D, (size_t)D * sizeof *u);
    }
}

static int sample_dev(fmcl_ctx *ctx, const op *o, int base, int a, int n, float *out)
{
    int D, F, W = dims(o, &D, &F), r = 0;
    const fmcl_path p = path_of(o->kind == FMCL_KIND_ARRAY);
    tl_buf X, U, d;
    if (tl_buf_new(ctx, &X, (size_t)n * W, NULL) && tl_buf_new(ctx, &U, (size_t)n * D, NULL) &&
        tl_buf_new(ctx, &d, sizeof data / sizeof *data, data))
        r = ok(ctx,
               fmcl_path_sample_at(ctx, X.t, U.t, o->kind, d.t, N_DATA, &p, SEED, STEP, base + a, n,
                                   D, F),
               o->name) &&
            read_xu(ctx, &X, &U, n, W, D, out) && tl_guard_ok(ctx, &X, o->name) &&
            tl_guard_ok(ctx, &U, o->name);
    tl_buf_free(&X);
    tl_buf_free(&U);
    tl_buf_free(&d);
    return r;
}

static void sample_ref(const op *o, int base, int a, int n, float *out)
{
    int D, F, W = dims(o, &D, &F);
    const fmcl_path p = path_of(o->kind == FMCL_KIND_ARRAY);
    float *X = malloc((size_t)n * W * sizeof *X), *U = malloc((size_t)n * D * sizeof *U),
          *xr = malloc((size_t)n * D * sizeof *xr);
    fmcl_path_sample_ref(X, U, xr, o->kind, data, N_DATA, &p, SEED, STEP, base + a, n, D, F);
    pack_xu(X, U, n, W, D, out);
    free(X);
    free(U);
    free(xr);
}

/* path_interp on given x1 rows (row i of the whole batch is x1 row i). */
static int interp_dev(fmcl_ctx *ctx, const op *o, int base, int a, int n, float *out)
{
    const int D = 5, F = 3, W = D + 2 * F;
    const fmcl_path p = path_of(o->kind);
    int r = 0;
    tl_buf X, U, x;
    if (tl_buf_new(ctx, &X, (size_t)n * W, NULL) && tl_buf_new(ctx, &U, (size_t)n * D, NULL) &&
        tl_buf_new(ctx, &x, (size_t)n * D, x1 + (size_t)a * D))
        r = ok(ctx, fmcl_path_interp_at(ctx, X.t, U.t, x.t, &p, SEED, STEP, base + a, n, D, F),
               o->name) &&
            read_xu(ctx, &X, &U, n, W, D, out);
    tl_buf_free(&X);
    tl_buf_free(&U);
    tl_buf_free(&x);
    return r;
}

static void interp_ref(const op *o, int base, int a, int n, float *out)
{
    const int D = 5, F = 3, W = D + 2 * F;
    const fmcl_path p = path_of(o->kind);
    float *X = malloc((size_t)n * W * sizeof *X), *U = malloc((size_t)n * D * sizeof *U);
    fmcl_path_interp_ref(X, U, x1 + (size_t)a * D, &p, SEED, STEP, base + a, n, D, F);
    pack_xu(X, U, n, W, D, out);
    free(X);
    free(U);
}

static void noise_ref(const op *o, int base, int a, int n, float *out)
{
    (void)o;
    fmcl_path_noise_ref_at(out, SEED, STEP, base + a, n, 5);
}

/* One output tensor of n rows of o->w floats, filled by launch. */
static int run_one(fmcl_ctx *ctx, const op *o, int n, const float *in, size_t in_n,
                   fmcl_status (*launch)(fmcl_ctx *, const op *, fmcl_t, fmcl_t, int, int),
                   int row0, float *out)
{
    tl_buf y, x;
    int r = 0;
    if (tl_buf_new(ctx, &y, (size_t)n * o->w, NULL) && tl_buf_new(ctx, &x, in_n, in))
        r = ok(ctx, launch(ctx, o, y.t, x.t, row0, n), o->name) && tl_buf_read(ctx, &y, out) &&
            tl_guard_ok(ctx, &y, o->name);
    tl_buf_free(&y);
    tl_buf_free(&x);
    return r;
}

static fmcl_status toy_launch(fmcl_ctx *ctx, const op *o, fmcl_t y, fmcl_t x, int row0, int n)
{
    (void)x;
    return fmcl_toy_sample_at(ctx, y, o->kind, SEED, STEP, row0, n);
}
static int toy_dev(fmcl_ctx *ctx, const op *o, int base, int a, int n, float *out)
{
    return run_one(ctx, o, n, NULL, 1, toy_launch, base + a, out);
}
static void toy_ref(const op *o, int base, int a, int n, float *out)
{
    fmcl_toy_sample_ref(out, o->kind, SEED, STEP, base + a, n);
}

static fmcl_status gather_launch(fmcl_ctx *ctx, const op *o, fmcl_t y, fmcl_t x, int row0, int n)
{
    return fmcl_gather_rows_at(ctx, y, x, SEED, STEP, row0, N_DATA, o->w, n);
}
static int gather_dev(fmcl_ctx *ctx, const op *o, int base, int a, int n, float *out)
{
    return run_one(ctx, o, n, data, sizeof data / sizeof *data, gather_launch, base + a, out);
}
static void gather_ref(const op *o, int base, int a, int n, float *out)
{
    fmcl_gather_rows_ref(out, data, SEED, STEP, base + a, N_DATA, o->w, n);
}

static fmcl_status image_launch(fmcl_ctx *ctx, const op *o, fmcl_t y, fmcl_t x, int row0, int n)
{
    return fmcl_image_batch_at(ctx, y, x, SEED, STEP, row0, N_DATA, 3, 5, 7, o->kind, n);
}
static int image_dev(fmcl_ctx *ctx, const op *o, int base, int a, int n, float *out)
{
    float words[sizeof pix / 4 + 1];
    memcpy(words, pix, sizeof pix);
    return run_one(ctx, o, n, words, sizeof words / sizeof *words, image_launch, base + a, out);
}
static void image_ref(const op *o, int base, int a, int n, float *out)
{
    fmcl_image_batch_ref(out, pix, SEED, STEP, base + a, N_DATA, 3, 5, 7, o->kind, n);
}

/* Labels: image i has label i % 10; drop 0.3. */
static unsigned char labels[N_DATA + 1];
static fmcl_status label_launch(fmcl_ctx *ctx, const op *o, fmcl_t y, fmcl_t x, int row0, int n)
{
    (void)o;
    return fmcl_label_batch_at(ctx, y, x, SEED, STEP, row0, N_DATA, 0.3f, n);
}
static int label_dev(fmcl_ctx *ctx, const op *o, int base, int a, int n, float *out)
{
    float words[sizeof labels / 4 + 1];
    memcpy(words, labels, sizeof labels);
    return run_one(ctx, o, n, words, sizeof words / sizeof *words, label_launch, base + a, out);
}
static void label_ref(const op *o, int base, int a, int n, float *out)
{
    (void)o;
    fmcl_label_batch_ref(out, labels, SEED, STEP, base + a, N_DATA, 0.3f, n);
}

/* Dropout over rows of w elements (the U-Net's [B, C, H, W] with
 * C H W = w): a share's first element is row0 w. Input all ones, so the
 * output is the mask times 1 / (1 - p). kind 1: backward. */
static float ones[B * 29];
static fmcl_status drop_launch(fmcl_ctx *ctx, const op *o, fmcl_t y, fmcl_t x, int row0, int n)
{
    const uint32_t first = (uint32_t)row0 * (uint32_t)o->w;
    return o->kind ? fmcl_dropout_backward(ctx, y, x, 0.4f, SEED, STEP, 3, first, n * o->w)
                   : fmcl_dropout_forward(ctx, y, x, 0.4f, SEED, STEP, 3, first, n * o->w);
}
static int drop_dev(fmcl_ctx *ctx, const op *o, int base, int a, int n, float *out)
{
    return run_one(ctx, o, n, ones, (size_t)n * o->w, drop_launch, base + a, out);
}
static void drop_ref(const op *o, int base, int a, int n, float *out)
{
    fmcl_dropout_ref(out, ones, 0.4f, SEED, STEP, 3, (uint32_t)(base + a) * (uint32_t)o->w,
                     n * o->w);
}

/* ---- the comparison ---- */

/* Rows of the whole batch against the shares', for one form (device or
 * reference) and one base. */
static void compare(const op *o, const char *form, int base, const float *whole, const float *split)
{
    const size_t row = (size_t)o->w * sizeof *whole;
    for (int k = 0; k + 1 < NCUTS; k++) {
        const int a = cuts[k], b = cuts[k + 1];
        tl_check(
            memcmp(whole + (size_t)a * o->w, split + (size_t)a * o->w, (size_t)(b - a) * row) == 0,
            "%s (%s, base %d): rows [%d, %d) drawn as a share differ from the whole batch's",
            o->name, form, base, a, b);
    }
    /* Draws that ignored the row would repeat rows. */
    int repeats = 0;
    for (int i = 1; i < B; i++) repeats += memcmp(whole, whole + (size_t)i * o->w, row) == 0;
    tl_check(repeats < B / 2, "%s (%s, base %d): %d rows equal row 0", o->name, form, base,
             repeats);
}

static void check_op(fmcl_ctx *ctx, const op *o)
{
    const int bases[] = {0, 4093};
    float *whole = malloc((size_t)B * o->w * sizeof *whole),
          *split = malloc((size_t)B * o->w * sizeof *split);
    for (int i = 0; i < 2; i++) {
        const int base = bases[i];
        int done = 1;
        if (ctx && o->device) {
            done = o->device(ctx, o, base, 0, B, whole);
            for (int k = 0; done && k + 1 < NCUTS; k++)
                done = o->device(ctx, o, base, cuts[k], cuts[k + 1] - cuts[k],
                                 split + (size_t)cuts[k] * o->w);
            if (done) compare(o, "device", base, whole, split);
        }
        if (!ctx) {
            o->ref(o, base, 0, B, whole);
            for (int k = 0; k + 1 < NCUTS; k++)
                o->ref(o, base, cuts[k], cuts[k + 1] - cuts[k], split + (size_t)cuts[k] * o->w);
            compare(o, "reference", base, whole, split);
        }
    }
    free(whole);
    free(split);
}

static const op ops[] = {
    {"path_sample checkerboard", 5, sample_dev, sample_ref, FMCL_TOY_CHECKERBOARD},
    {"path_sample 8gaussians", 5, sample_dev, sample_ref, FMCL_TOY_8GAUSSIANS},
    {"path_sample moons", 5, sample_dev, sample_ref, FMCL_TOY_MOONS},
    {"path_sample rings", 5, sample_dev, sample_ref, FMCL_TOY_RINGS},
    {"path_sample spirals", 5, sample_dev, sample_ref, FMCL_TOY_SPIRALS},
    {"path_sample array", 16, sample_dev, sample_ref, FMCL_KIND_ARRAY},
    {"path_interp ot", 16, interp_dev, interp_ref, 0},
    {"path_interp vp", 16, interp_dev, interp_ref, 1},
    {"path_noise", 5, NULL, noise_ref, 0},
    {"toy_sample checkerboard", 2, toy_dev, toy_ref, FMCL_TOY_CHECKERBOARD},
    {"toy_sample spirals", 2, toy_dev, toy_ref, FMCL_TOY_SPIRALS},
    {"gather_rows", 5, gather_dev, gather_ref, 0},
    {"image_batch", 105, image_dev, image_ref, 0},
    {"image_batch hflip", 105, image_dev, image_ref, 1},
    {"label_batch", 1, label_dev, label_ref, 0},
    {"dropout_forward", 29, drop_dev, drop_ref, 0},
    {"dropout_backward", 29, drop_dev, drop_ref, 1},
};
#define NOPS (int)(sizeof ops / sizeof ops[0])

static int device_checks(fmcl_ctx *ctx, void *user)
{
    (void)user;
    for (int i = 0; i < NOPS; i++) check_op(ctx, &ops[i]);
    return 0;
}

int main(void)
{
    tl_fill(data, sizeof data / sizeof *data, -3.f, 3.f, 5);
    tl_fill(x1, sizeof x1 / sizeof *x1, -2.f, 2.f, 6);
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (unsigned char)(i * 37 % 251);
    for (int i = 0; i < N_DATA; i++) labels[i] = (unsigned char)(i % 10);
    for (size_t i = 0; i < sizeof ones / sizeof *ones; i++) ones[i] = 1.0f;
    for (int i = 0; i < NOPS; i++) check_op(NULL, &ops[i]); /* the references, on the host */
    return tl_for_each_device(device_checks, NULL);
}
