/* Built-in 2D data sets, drawn from Philox so the host and every device make
 * the same points: row i of step s uses the four words of counter
 * (i, 0, FMCL_STREAM_DATA, s). kernels/data.cl repeats toy_point operation
 * by operation (float arithmetic; the host evaluates cos/sin/sqrt in double
 * and rounds once, the device uses cospi/sinpi/sqrt). Also: uniform row
 * gathering from a user's array, and the data-set names. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "data/kernels.h"
#include "data/toy2d.h"
#include "runtime/rng.h"

/* Scale factors as float literals shared with data.cl (multiplying by them
 * is correctly rounded everywhere; OpenCL 1.2 division is not). */
#define CHECKER_SCALE 2.22222222f /* 1 / 0.45 */
#define GAUSS8_SCALE 0.707213579f /* 1 / 1.414 */
#define SPIRAL_SCALE 0.333333333f /* 1 / 3 */

static float cos_pi(float a) { return (float)cos(M_PI * (double)a); }
static float sin_pi(float a) { return (float)sin(M_PI * (double)a); }

/* One point (*x, *y) of set `kind` from the words r[0..3]. */
static void toy_point(int kind, const uint32_t r[4], float *x, float *y)
{
    float z0, z1;
    switch (kind) {
    case FMCL_TOY_CHECKERBOARD: {
        /* a ~ U[-2, 2); b = u - 2B + (floor(a) mod 2), B a fair coin, so
         * floor(a) + floor(b) is even: the 8 black cells of a 4x4 board.
         * (floor(a) & 1 is Python's floor(a) % 2 for negative integers too.) */
        const float a = 4.0f * fmcl_u01(r[0]) - 2.0f;
        const float coin = (float)(r[1] >> 31);
        const float m = (float)((int)floorf(a) & 1);
        const float b = fmcl_u01(r[2]) - 2.0f * coin + m;
        *x = a * CHECKER_SCALE;
        *y = b * CHECKER_SCALE;
        break;
    }
    case FMCL_TOY_8GAUSSIANS: {
        /* centre 4 (cos(2 pi k / 8), sin(2 pi k / 8)), k uniform in 0..7,
         * plus 0.5 N(0, I), all divided by 1.414. */
        const float k = (float)fmcl_uint_below(r[0], 8u);
        fmcl_box_muller(r[1], r[2], &z0, &z1);
        *x = (4.0f * cos_pi(0.25f * k) + 0.5f * z0) * GAUSS8_SCALE;
        *y = (4.0f * sin_pi(0.25f * k) + 0.5f * z1) * GAUSS8_SCALE;
        break;
    }
    case FMCL_TOY_MOONS: {
        /* sklearn's make_moons(noise=0.1) with theta = pi u: upper arc
         * (cos, sin), lower arc (1 - cos, 0.5 - sin); then centred on the
         * set's exact mean (0.5, 0.25) and scaled by 2 (x in [-3, 3]). */
        const uint32_t lower = r[0] >> 31;
        const float u = fmcl_u01(r[1]);
        const float c = cos_pi(u), s = sin_pi(u);
        fmcl_box_muller(r[2], r[3], &z0, &z1);
        const float px = lower ? 1.0f - c : c;
        const float py = lower ? 0.5f - s : s;
        *x = 2.0f * (px + 0.1f * z0 - 0.5f);
        *y = 2.0f * (py + 0.1f * z1 - 0.25f);
        break;
    }
    case FMCL_TOY_RINGS: {
        /* radius 3, 2.25, 1.5 or 0.75 uniformly, angle 2 pi u, + 0.08 N(0, I). */
        const float rad = 3.0f - 0.75f * (float)fmcl_uint_below(r[0], 4u);
        const float u = fmcl_u01(r[1]);
        fmcl_box_muller(r[2], r[3], &z0, &z1);
        *x = rad * cos_pi(2.0f * u) + 0.08f * z0;
        *y = rad * sin_pi(2.0f * u) + 0.08f * z1;
        break;
    }
    default: { /* FMCL_TOY_SPIRALS */
        /* n = 3 pi sqrt(u) (0 to 540 degrees); arm point
         * (-n cos n + 0.5 u', n sin n + 0.5 u''), negated for the second
         * arm; all divided by 3. m = n / pi feeds cospi/sinpi exactly. */
        const uint32_t second = r[0] >> 31;
        const float m = 3.0f * sqrtf(fmcl_u01(r[1]));
        const float n = m * (float)M_PI;
        const float px = -cos_pi(m) * n + 0.5f * fmcl_u01(r[2]);
        const float py = sin_pi(m) * n + 0.5f * fmcl_u01(r[3]);
        *x = (second ? -px : px) * SPIRAL_SCALE;
        *y = (second ? -py : py) * SPIRAL_SCALE;
        break;
    }
    }
}

void fmcl_toy_sample_ref(float *x1, int kind, uint64_t seed, uint32_t step, int row0, int B)
{
    for (int i = 0; i < B; i++) {
        uint32_t r[4];
        fmcl_philox(seed, (uint32_t)(row0 + i), 0, FMCL_STREAM_DATA, step, r);
        toy_point(kind, r, &x1[2 * (size_t)i], &x1[2 * (size_t)i + 1]);
    }
}

static int builtin_kind(int kind)
{
    return kind >= FMCL_TOY_CHECKERBOARD && kind <= FMCL_TOY_SPIRALS;
}

fmcl_status fmcl_toy_sample_at(fmcl_ctx *ctx, fmcl_t x1, int kind, uint64_t seed, uint32_t step,
                               int row0, int B)
{
    if (!builtin_kind(kind))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_toy_sample: %d is not a built-in 2D set; use checkerboard, "
                         "8gaussians, moons, rings or spirals",
                         kind);
    if (B < 0 || row0 < 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "fmcl_toy_sample: negative batch %d or first row %d", B,
                         row0);
    return fmcl_run1(ctx, FMCL_K_toy_sample, (size_t)B, "tiluii", x1, kind, seed, (unsigned)step,
                     row0, B);
}

fmcl_status fmcl_toy_sample(fmcl_ctx *ctx, fmcl_t x1, int kind, uint64_t seed, uint32_t step, int B)
{
    return fmcl_toy_sample_at(ctx, x1, kind, seed, step, 0, B);
}

fmcl_status fmcl_toy_sample_host(int kind, uint64_t seed, uint64_t step, int n, float *out)
{
    if (!builtin_kind(kind) || n < 0 || step > UINT32_MAX || (n > 0 && !out)) return FMCL_ERR_ARG;
    fmcl_toy_sample_ref(out, kind, seed, (uint32_t)step, 0, n);
    return FMCL_OK;
}

/* Row b of x1 is row uint_below(word 0 of (row0 + b, 0, FMCL_STREAM_INDEX,
 * step), N) of data: uniform with replacement. */
void fmcl_gather_rows_ref(float *x1, const float *data, uint64_t seed, uint32_t step, int row0,
                          int N, int D, int B)
{
    for (int b = 0; b < B; b++) {
        uint32_t r[4];
        fmcl_philox(seed, (uint32_t)(row0 + b), 0, FMCL_STREAM_INDEX, step, r);
        const size_t row = fmcl_uint_below(r[0], (uint32_t)N);
        memcpy(&x1[(size_t)b * D], &data[row * D], (size_t)D * sizeof *x1);
    }
}

fmcl_status fmcl_gather_rows_at(fmcl_ctx *ctx, fmcl_t x1, fmcl_t data, uint64_t seed, uint32_t step,
                                int row0, int N, int D, int B)
{
    if (B < 0 || D < 0 || row0 < 0 || (B > 0 && D > 0 && N < 1))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_gather_rows: bad shape (N %d rows of D %d, batch %d from row %d); "
                         "the data array needs at least one row",
                         N, D, B, row0);
    return fmcl_run2(ctx, FMCL_K_gather_rows, (size_t)D, (size_t)B, "ttluiiii", x1, data, seed,
                     (unsigned)step, row0, N, D, B);
}

fmcl_status fmcl_gather_rows(fmcl_ctx *ctx, fmcl_t x1, fmcl_t data, uint64_t seed, uint32_t step,
                             int N, int D, int B)
{
    return fmcl_gather_rows_at(ctx, x1, data, seed, step, 0, N, D, B);
}

int fmcl_toy_of_name(const char *name)
{
    const char *const *names = fmcl_names_of(FMCL_NAMES_TOY);
    for (int k = 0; name && names[k]; k++)
        if (strcasecmp(name, names[k]) == 0) return k;
    return -1;
}

int fmcl_kind_of_name(const char *name)
{
    for (int k = 0; name && k <= FMCL_KIND_IMAGES; k++)
        if (strcmp(name, fmcl_kind_name(k)) == 0) return k;
    return -1;
}

const char *fmcl_kind_name(int kind)
{
    return kind == FMCL_KIND_ARRAY    ? "array"
           : kind == FMCL_KIND_IMAGES ? "images"
                                      : fmcl_name(FMCL_NAMES_TOY, kind);
}
