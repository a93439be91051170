/* Data sources (include/fmcl/data.h): a built-in 2D set, the caller's
 * points (copied), a .npy file of points or an image set, each with the
 * spec it was opened by and a line that describes it. Host memory only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/source.h"
#include "data/toy2d.h"
#include "io/atomic.h"

/* The data stream's last step: no training run reaches it, so a likelihood
 * dequantises with noise no batch used. */
#define HELD_OUT_STEP UINT32_MAX

void fmcl_image_options_default(fmcl_image_options *opt)
{
    *opt = (fmcl_image_options){.split = FMCL_SPLIT_TRAIN, .limit = 0, .size = 0, .channels = 3};
}

static fmcl_data *new_source(fmcl_data_kind kind, const char *spec, char *err, size_t errlen)
{
    fmcl_data *d = calloc(1, sizeof *d);
    if (!d) {
        fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of host memory for a data source");
        return NULL;
    }
    d->kind = kind;
    snprintf(d->spec, sizeof d->spec, "%s", spec);
    return d;
}

fmcl_status fmcl_data_create_toy(fmcl_toy which, fmcl_data **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *name = fmcl_name(FMCL_NAMES_TOY, which);
    if (!name)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "%d is no built-in 2D set (fmcl_toy)",
                         (int)which);
    fmcl_data *d = new_source(FMCL_DATA_TOY, name, err, errlen);
    if (!d) return FMCL_ERR_NOMEM;
    d->toy = which;
    d->dim = 2;
    snprintf(d->what, sizeof d->what, "%s (a built-in 2D set, drawn afresh for every batch)", name);
    *out = d;
    return FMCL_OK;
}

/* Takes x (n x dim floats, malloc'ed) as the points of a new source. */
static fmcl_status own_points(float *x, int n, int dim, const char *spec, const char *what,
                              fmcl_data **out, char *err, size_t errlen)
{
    fmcl_data *d = new_source(FMCL_DATA_POINTS, spec, err, errlen);
    if (!d) {
        free(x);
        return FMCL_ERR_NOMEM;
    }
    d->points = x;
    d->n = n;
    d->dim = dim;
    snprintf(d->what, sizeof d->what, "%.*s", (int)sizeof d->what - 1, what);
    *out = d;
    return FMCL_OK;
}

fmcl_status fmcl_data_create_points(const float *x, int n, int dim, fmcl_data **out, char *err,
                                    size_t errlen)
{
    *out = NULL;
    if (!x || n < 1 || dim < 1)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "points need an array of n >= 1 rows of dim >= 1 floats (got %d x %d)", n,
                         dim);
    const size_t bytes = (size_t)n * (size_t)dim * sizeof *x;
    float *copy = malloc(bytes);
    if (!copy) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of host memory for %d points", n);
    memcpy(copy, x, bytes);
    char what[96];
    snprintf(what, sizeof what, "%d points of %d dimensions", n, dim);
    return own_points(copy, n, dim, "points", what, out, err, errlen);
}

/* A FILE.npy of N x D float32/float64 points. */
static fmcl_status open_npy(const char *path, fmcl_data **out, char *err, size_t errlen)
{
    int64_t shape[FMCL_NPY_MAX_DIMS];
    int ndim = 0;
    float *x = NULL;
    fmcl_status s = fmcl_npy_read(path, &x, shape, &ndim, err, errlen);
    if (s != FMCL_OK) return s;
    if (ndim != 2 || shape[0] < 1 || shape[0] > INT32_MAX || shape[1] < 1 || shape[1] > INT32_MAX) {
        char dims[256] = "";
        size_t used = 0;
        for (int i = 0; i < ndim && used < sizeof dims; i++)
            used += (size_t)snprintf(dims + used, sizeof dims - used, "%s%" PRId64, i ? ", " : "",
                                     shape[i]);
        free(x);
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s: expected an N x D array of points with N >= 1, found shape (%s)",
                         path, dims);
    }
    char what[4200];
    snprintf(what, sizeof what, "%" PRId64 " points of %s", shape[0], path);
    return own_points(x, (int)shape[0], (int)shape[1], path, what, out, err, errlen);
}

fmcl_status fmcl_data_create_images(const char *spec, const fmcl_image_options *opt,
                                    fmcl_data **out, char *err, size_t errlen)
{
    *out = NULL;
    fmcl_image_options o;
    if (opt)
        o = *opt;
    else
        fmcl_image_options_default(&o);
    fmcl_data *d = new_source(FMCL_DATA_IMAGES, spec ? spec : "", err, errlen);
    if (!d) return FMCL_ERR_NOMEM;
    fmcl_status s = fmcl_images_open(spec, o.split == FMCL_SPLIT_TEST, o.size, o.channels, o.limit,
                                     &d->im, d->what, sizeof d->what, err, errlen);
    if (s != FMCL_OK) {
        fmcl_data_free(d);
        return s;
    }
    d->n = d->im.n;
    d->dim = (int)fmcl_images_dim(&d->im);
    *out = d;
    return FMCL_OK;
}

fmcl_status fmcl_data_create_pixels(const uint8_t *pixels, const uint8_t *labels, int n,
                                    const int shape[3], fmcl_data **out, char *err, size_t errlen)
{
    *out = NULL;
    const int C = shape[0], H = shape[1], W = shape[2];
    const uint64_t D = C > 0 && H > 0 && W > 0 ? (uint64_t)C * (uint64_t)H * (uint64_t)W : 0;
    if (!pixels || n < 1 || D == 0 || (uint64_t)n * D > FMCL_IMAGES_MAX_BYTES)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "pixels need n >= 1 images of channels, height and width >= 1, %llu "
                         "bytes at most (got %d of %d x %d x %d)",
                         (unsigned long long)FMCL_IMAGES_MAX_BYTES, n, C, H, W);
    fmcl_data *d = new_source(FMCL_DATA_IMAGES, "pixels", err, errlen);
    if (!d) return FMCL_ERR_NOMEM;
    d->im = (fmcl_images){.n = n, .c = C, .h = H, .w = W};
    d->im.pixels = malloc((size_t)n * D);
    d->im.labels = labels ? malloc((size_t)n) : NULL;
    if (!d->im.pixels || (labels && !d->im.labels)) {
        fmcl_data_free(d);
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of host memory for %d images", n);
    }
    memcpy(d->im.pixels, pixels, (size_t)n * D);
    for (int i = 0; labels && i < n; i++) {
        d->im.labels[i] = labels[i];
        if (labels[i] >= d->im.classes) d->im.classes = labels[i] + 1;
    }
    d->n = n;
    d->dim = (int)D;
    snprintf(d->what, sizeof d->what, "%d images of %d x %d x %d%s", n, C, H, W,
             labels ? " with labels" : "");
    *out = d;
    return FMCL_OK;
}

int fmcl_data_spec_is_images(const char *spec) { return fmcl_images_is_spec(spec); }

fmcl_status fmcl_data_open(const char *spec, const fmcl_image_options *opt, fmcl_data **out,
                           char *err, size_t errlen)
{
    *out = NULL;
    if (fmcl_images_is_spec(spec)) return fmcl_data_create_images(spec, opt, out, err, errlen);
    const size_t len = spec ? strlen(spec) : 0;
    if (len >= 4 && strcasecmp(spec + len - 4, ".npy") == 0)
        return open_npy(spec, out, err, errlen);
    const int toy = fmcl_toy_of_name(spec);
    if (toy >= 0) return fmcl_data_create_toy((fmcl_toy)toy, out, err, errlen);
    return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                     "'%s' names no data set: expected a built-in set (checkerboard, "
                     "8gaussians, moons, rings, spirals), a FILE.npy of N x D points, or an "
                     "image set (fashion-mnist, mnist:DIR, idx:FILE, cifar10:PATH, images:DIR)",
                     spec ? spec : "(null)");
}

void fmcl_data_free(fmcl_data *d)
{
    if (!d) return;
    free(d->points);
    fmcl_images_free(&d->im);
    free(d);
}

fmcl_data_kind fmcl_data_get_kind(const fmcl_data *d) { return d->kind; }
int fmcl_data_toy_of(const fmcl_data *d) { return d->kind == FMCL_DATA_TOY ? d->toy : -1; }
const char *fmcl_data_spec(const fmcl_data *d) { return d->spec; }
const char *fmcl_data_describe(const fmcl_data *d) { return d->what; }
int fmcl_data_dim(const fmcl_data *d) { return d->dim; }
int fmcl_data_count(const fmcl_data *d) { return d->n; }
int fmcl_data_classes(const fmcl_data *d) { return d->im.labels ? d->im.classes : 0; }
const float *fmcl_data_points(const fmcl_data *d) { return d->points; }
const uint8_t *fmcl_data_pixels(const fmcl_data *d) { return d->im.pixels; }
const uint8_t *fmcl_data_labels(const fmcl_data *d) { return d->im.labels; }

int fmcl_data_image_shape(const fmcl_data *d, int shape[3])
{
    if (d->kind != FMCL_DATA_IMAGES) return 0;
    shape[0] = d->im.c, shape[1] = d->im.h, shape[2] = d->im.w;
    return 1;
}

int fmcl_data_source_kind(const fmcl_data *d)
{
    return d->kind == FMCL_DATA_TOY      ? d->toy
           : d->kind == FMCL_DATA_POINTS ? FMCL_KIND_ARRAY
                                         : FMCL_KIND_IMAGES;
}

fmcl_status fmcl_data_draw(const fmcl_data *d, uint64_t seed, uint64_t step, int n, float *out,
                           char *err, size_t errlen)
{
    if (n < 0 || (n > 0 && !out) || step > UINT32_MAX)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "drawing %d examples at step %" PRIu64 ": n must be >= 0 with an "
                         "output, the step below 2^32",
                         n, step);
    if (d->kind == FMCL_DATA_TOY) return fmcl_toy_sample_host(d->toy, seed, step, n, out);
    if (d->kind == FMCL_DATA_POINTS)
        fmcl_gather_rows_ref(out, d->points, seed, (uint32_t)step, 0, d->n, d->dim, n);
    else
        fmcl_image_batch_ref(out, d->im.pixels, seed, (uint32_t)step, 0, d->n, d->im.c, d->im.h,
                             d->im.w, 0, n);
    return FMCL_OK;
}

fmcl_status fmcl_data_rows(const fmcl_data *d, int first, int n, uint64_t seed, float *out,
                           char *err, size_t errlen)
{
    if (d->kind == FMCL_DATA_TOY)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "%s is a built-in set, an endless stream without rows: draw from it "
                         "(fmcl_data_draw)",
                         d->spec);
    if (first < 0 || n < 0 || first > d->n - n || (n > 0 && !out))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "rows [%d, %d) asked of %s, which holds %d",
                         first, first + n, d->spec, d->n);
    const size_t D = (size_t)d->dim;
    if (d->kind == FMCL_DATA_POINTS)
        memcpy(out, d->points + (size_t)first * D, (size_t)n * D * sizeof *out);
    else
        fmcl_images_dequantize(out, d->im.pixels, first, n, (int)D, seed, HELD_OUT_STEP);
    return FMCL_OK;
}
