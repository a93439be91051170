/* Data sources (include/fmcl/data.h), on the host: a built-in set's draws
 * are the trainer's (the reference's), any case of its name opens it;
 * points are copied and their rows come back; a .npy file opens as points
 * and one of the wrong shape is refused with its shape; pixels in memory
 * keep their labels and classes, and their rows are the likelihood's fixed
 * dequantisation of any range; bad arguments and specs are refused with a
 * message. Pure CPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/images.h"
#include "data/toy2d.h"
#include "testlib.h"

static void toys(void)
{
    enum { N = 37 };
    float got[2 * N], want[2 * N];
    char err[256] = "";
    for (int k = 0; k <= FMCL_TOY_SPIRALS; k++) {
        fmcl_data *d = tl_toy((fmcl_toy)k);
        if (!d) continue;
        fmcl_toy_sample_ref(want, k, 11, 4, 0, N);
        tl_check(fmcl_data_draw(d, 11, 4, N, got, err, sizeof err) == FMCL_OK &&
                     !memcmp(got, want, sizeof got),
                 "%s: draws are the reference's (%s)", fmcl_data_spec(d), err);
        tl_check(fmcl_data_get_kind(d) == FMCL_DATA_TOY && fmcl_data_toy_of(d) == k &&
                     fmcl_data_dim(d) == 2 && fmcl_data_count(d) == 0 &&
                     !strcmp(fmcl_data_spec(d), fmcl_name(FMCL_NAMES_TOY, k)) &&
                     !fmcl_data_points(d) && !fmcl_data_pixels(d) && fmcl_data_classes(d) == 0,
                 "toy %d: kind, spec and sizes", k);
        tl_check(fmcl_data_rows(d, 0, 1, 0, got, err, sizeof err) == FMCL_ERR_ARG &&
                     strstr(err, "endless"),
                 "a built-in set has no rows: %s", err);
        fmcl_data_free(d);
    }
    fmcl_data *d = NULL;
    tl_check(fmcl_data_open("Moons", NULL, &d, err, sizeof err) == FMCL_OK &&
                 fmcl_data_toy_of(d) == FMCL_TOY_MOONS && !strcmp(fmcl_data_spec(d), "moons"),
             "any case of a name opens the set, spelt as the list does: %s", err);
    fmcl_data_free(d);
    d = NULL;
    tl_check(fmcl_data_open("swissroll", NULL, &d, err, sizeof err) == FMCL_ERR_ARG && !d &&
                 strstr(err, "'swissroll' names no data set"),
             "an unknown spec is refused: %s", err);
    tl_check(fmcl_data_create_toy(9, &d, err, sizeof err) == FMCL_ERR_ARG && !d,
             "toy 9 is refused: %s", err);
}

static void points(const char *dir)
{
    enum { N = 5, D = 3 };
    float x[N * D], rows[2 * D];
    char err[256] = "", path[128];
    tl_fill(x, N * D, -1, 1, 7);
    fmcl_data *d = tl_points(x, N, D);
    if (d) {
        x[0] = 99; /* the source holds a copy */
        tl_check(fmcl_data_points(d)[0] != 99 && fmcl_data_count(d) == N && fmcl_data_dim(d) == D &&
                     !strcmp(fmcl_data_spec(d), "points") &&
                     fmcl_data_get_kind(d) == FMCL_DATA_POINTS,
                 "points are copied, counted, named");
        tl_check(fmcl_data_rows(d, 3, 2, 0, rows, err, sizeof err) == FMCL_OK &&
                     !memcmp(rows, fmcl_data_points(d) + 3 * D, sizeof rows),
                 "rows 3 and 4 come back: %s", err);
        tl_check(fmcl_data_rows(d, 4, 2, 0, rows, err, sizeof err) == FMCL_ERR_ARG,
                 "rows past the end are refused");
        fmcl_data_free(d);
    }
    /* A .npy of points, and one of the wrong shape. */
    snprintf(path, sizeof path, "%s/p.npy", dir);
    int64_t shape[3] = {N, D, 1};
    fmcl_data *f = NULL;
    if (tl_check(fmcl_npy_write(path, x, shape, 2, err, sizeof err) == FMCL_OK, "%s", err))
        tl_check(fmcl_data_open(path, NULL, &f, err, sizeof err) == FMCL_OK &&
                     fmcl_data_count(f) == N && fmcl_data_dim(f) == D &&
                     !strcmp(fmcl_data_spec(f), path) && !memcmp(fmcl_data_points(f), x, sizeof x),
                 "a .npy file opens as its points: %s", err);
    fmcl_data_free(f);
    f = NULL;
    if (tl_check(fmcl_npy_write(path, x, shape, 3, err, sizeof err) == FMCL_OK, "%s", err))
        tl_check(fmcl_data_open(path, NULL, &f, err, sizeof err) == FMCL_ERR_FORMAT && !f &&
                     strstr(err, "found shape (5, 3, 1)"),
                 "a 3-D array is refused with its shape: %s", err);
    unlink(path);
    tl_check(fmcl_data_create_points(x, 0, D, &f, err, sizeof err) == FMCL_ERR_ARG && !f,
             "no points are refused: %s", err);
}

static void pixels(void)
{
    enum { N = 4, C = 1, H = 2, W = 3, D = C * H * W };
    uint8_t px[N * D], labels[N] = {0, 4, 2, 4};
    float rows[2 * D], want[3 * D];
    char err[256] = "";
    for (int i = 0; i < N * D; i++) px[i] = (uint8_t)(31 * i + 5);
    fmcl_data *d = tl_pixels(px, labels, N, C, H, W);
    if (!d) return;
    int shape[3] = {0};
    tl_check(fmcl_data_get_kind(d) == FMCL_DATA_IMAGES && fmcl_data_count(d) == N &&
                 fmcl_data_dim(d) == D && fmcl_data_classes(d) == 5 &&
                 fmcl_data_image_shape(d, shape) && shape[0] == C && shape[1] == H &&
                 shape[2] == W && !memcmp(fmcl_data_pixels(d), px, sizeof px) &&
                 !memcmp(fmcl_data_labels(d), labels, sizeof labels),
             "pixels: kind, sizes, shape, 5 classes, the bytes and labels");
    fmcl_images_dequantize(want, px, 0, 3, D, 12, UINT32_MAX);
    tl_check(fmcl_data_rows(d, 1, 2, 12, rows, err, sizeof err) == FMCL_OK &&
                 !memcmp(rows, want + D, sizeof rows),
             "rows 1 and 2: the fixed dequantisation of the stream's last step: %s", err);
    fmcl_data_free(d);
    fmcl_data *bad = NULL;
    const int zero[3] = {1, 0, 3};
    tl_check(fmcl_data_create_pixels(px, NULL, N, zero, &bad, err, sizeof err) == FMCL_ERR_ARG &&
                 !bad,
             "a zero-height image is refused: %s", err);
    fmcl_image_options opt;
    fmcl_image_options_default(&opt);
    tl_check(opt.split == FMCL_SPLIT_TRAIN && opt.limit == 0 && opt.size == 0 && opt.channels == 3,
             "image options default to the whole training split, 3 channels");
    tl_check(fmcl_data_spec_is_images("fashion-mnist") && fmcl_data_spec_is_images("idx:f") &&
                 !fmcl_data_spec_is_images("moons"),
             "image specs are told apart");
    tl_check(fmcl_data_create_images("mnist:", NULL, &bad, err, sizeof err) == FMCL_ERR_ARG &&
                 !bad && strstr(err, "names no file"),
             "an image spec without a path is refused: %s", err);
}

int main(void)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/fmcl-sources-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    toys();
    points(dir);
    pixels();
    rmdir(dir);
    return tl_summary();
}
