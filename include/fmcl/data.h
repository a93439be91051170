/* fmcl/data.h: data sources a trainer draws its batches from.
 *
 * Three kinds: the built-in 2D sets (drawn afresh for every batch, an
 * endless stream), the caller's own points (N x D floats), and image sets
 * of 8-bit pixels (IDX files such as MNIST and Fashion-MNIST, raw or gzip;
 * CIFAR-10 binary batches; folders of PNG/JPEG images). Images are scaled
 * to [-1, 1] with uniform dequantisation: pixel k becomes
 * x = 2 (k + u) / 256 - 1, u ~ U[0, 1) drawn afresh per batch.
 * A data source holds no device memory and is read-only after creation:
 * several trainers and threads may share it. */
#ifndef FMCL_DATA_H
#define FMCL_DATA_H

#include "fmcl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FMCL_TOY_CHECKERBOARD = 0,
    FMCL_TOY_8GAUSSIANS,
    FMCL_TOY_MOONS,
    FMCL_TOY_RINGS,
    FMCL_TOY_SPIRALS
} fmcl_toy;

typedef enum { FMCL_DATA_TOY = 0, FMCL_DATA_POINTS, FMCL_DATA_IMAGES } fmcl_data_kind;

typedef struct fmcl_data fmcl_data;

/* A built-in 2D set. */
FMCL_API fmcl_status fmcl_data_create_toy(fmcl_toy which, fmcl_data **out, char *err,
                                          size_t errlen);
/* n points of dim floats each (row-major), copied. */
FMCL_API fmcl_status fmcl_data_create_points(const float *x, int n, int dim, fmcl_data **out,
                                             char *err, size_t errlen);

/* n images of shape = {channels, height, width} 8-bit pixels (n x C x H x W
 * bytes, channel-major, top row first) and, optionally, their n labels
 * (NULL: none), copied: an image set made in memory ("pixels"). */
FMCL_API fmcl_status fmcl_data_create_pixels(const uint8_t *pixels, const uint8_t *labels, int n,
                                             const int shape[3], fmcl_data **out, char *err,
                                             size_t errlen);

typedef enum { FMCL_SPLIT_TRAIN = 0, FMCL_SPLIT_TEST } fmcl_split;

typedef struct {
    fmcl_split split; /* the test split where the set has one (else the set as it is) */
    int limit;        /* > 0: only the first `limit` images */
    int size;         /* folders of images: the side of the square they are resized to */
    int channels;     /* folders of images: 1 (grey) or 3 (RGB) */
} fmcl_image_options;

/* Training split, all images, size 0 (required for folders), 3 channels. */
FMCL_API void fmcl_image_options_default(fmcl_image_options *opt);

/* An image set named by spec:
 *   fashion-mnist     Debian's dataset-fashion-mnist package
 *   mnist:DIR         DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 *   idx:FILE          an IDX image file (its labels beside it when present)
 *   cifar10:PATH      a CIFAR-10 batch file, or a folder of them
 *   images:DIR        every .png/.jpg/.jpeg regular file of DIR, sorted by name
 * FMCL_ERR_ARG for a malformed spec, the readers' errors otherwise (the
 * message names the file and what is wrong with it). opt may be NULL. */
FMCL_API fmcl_status fmcl_data_create_images(const char *spec, const fmcl_image_options *opt,
                                             fmcl_data **out, char *err, size_t errlen);

/* Any of the above by spec: a built-in set's name (any case), a FILE.npy of
 * N x D float32/float64 points (N, D >= 1), or an image set. FMCL_ERR_ARG
 * for a spec that names none of them. */
FMCL_API fmcl_status fmcl_data_open(const char *spec, const fmcl_image_options *opt,
                                    fmcl_data **out, char *err, size_t errlen);
/* 1 when spec names an image set, 0 otherwise. */
FMCL_API int fmcl_data_spec_is_images(const char *spec);

FMCL_API void fmcl_data_free(fmcl_data *d);

FMCL_API fmcl_data_kind fmcl_data_get_kind(const fmcl_data *d);
/* The built-in set of a FMCL_DATA_TOY source; -1 for the others. */
FMCL_API int fmcl_data_toy_of(const fmcl_data *d);
/* The spec a source records in checkpoints ("checkerboard", "points.npy",
 * "fashion-mnist"; "points" for fmcl_data_create_points), and a one-line
 * description ("fashion-mnist train split (60000 images of 1 x 28 x 28)"). */
FMCL_API const char *fmcl_data_spec(const fmcl_data *d);
FMCL_API const char *fmcl_data_describe(const fmcl_data *d);
/* Floats of one example: 2 for the built-in sets, C H W for images. */
FMCL_API int fmcl_data_dim(const fmcl_data *d);
/* Examples held; 0 for a built-in set (an endless stream). */
FMCL_API int fmcl_data_count(const fmcl_data *d);
/* 1 + the largest label of a labelled image set; 0 without labels. */
FMCL_API int fmcl_data_classes(const fmcl_data *d);
/* shape = {channels, height, width} and 1 for an image set; 0 otherwise. */
FMCL_API int fmcl_data_image_shape(const fmcl_data *d, int shape[3]);

/* The raw examples (NULL where the kind has none): points (count x dim
 * floats), pixels (count x C x H x W bytes, channel-major, top row first),
 * labels (count bytes). Valid until fmcl_data_free. */
FMCL_API const float *fmcl_data_points(const fmcl_data *d);
FMCL_API const uint8_t *fmcl_data_pixels(const fmcl_data *d);
FMCL_API const uint8_t *fmcl_data_labels(const fmcl_data *d);

/* The first n examples of the batch a trainer with this seed draws at
 * step (from 0), on the host, without the trainer's mirroring (hflip): the
 * same draws as the device (integers identical, floats to rounding).
 * out: n x dim. */
FMCL_API fmcl_status fmcl_data_draw(const fmcl_data *d, uint64_t seed, uint64_t step, int n,
                                    float *out, char *err, size_t errlen);
/* Examples [first, first + n) in order as floats (points as they are;
 * images dequantised with noise from seed at the data stream's last step,
 * which no training run reaches: the fixed dequantisation `fmcl nll` uses).
 * Not for built-in sets (FMCL_ERR_ARG). */
FMCL_API fmcl_status fmcl_data_rows(const fmcl_data *d, int first, int n, uint64_t seed, float *out,
                                    char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
