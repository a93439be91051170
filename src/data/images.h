/* Image data sets of 8-bit pixels: IDX files (MNIST, Fashion-MNIST; raw or
 * gzip), CIFAR-10 binary batches and folders of PNG/JPEG images, all loaded
 * into one layout: n images of c x h x w bytes, channel-major (as PyTorch's
 * CHW), top row first. Readers bound-check every header against the bytes
 * present and report through err, naming the file and what is wrong.
 *
 * Scaling (pixels.c): pixel k in 0..255 becomes x = 2 (k + u) / 256 - 1 with
 * u ~ U[0, 1) drawn from Philox: uniform dequantisation, so a model of x is a
 * density on [-1, 1]^D whose likelihood of the integer data is meaningful
 * (bits/dim of k + u in [0, 256)^D = bits/dim of x + log2(128)). */
#ifndef FMCL_IMAGES_H
#define FMCL_IMAGES_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/runtime.h"

typedef struct {
    int n, c, h, w;        /* n images of c x h x w */
    unsigned char *pixels; /* n x c x h x w */
    unsigned char *labels; /* n class labels; NULL when the format has none */
    int classes;           /* 1 + the largest label; 0 without labels */
} fmcl_images;

void fmcl_images_free(fmcl_images *im);
static inline size_t fmcl_images_dim(const fmcl_images *im)
{
    return (size_t)im->c * im->h * im->w;
}

/* Largest file (after gunzip) and largest set accepted: 2^31 bytes keeps every
 * pixel index within the kernels' 32-bit arithmetic. */
#define FMCL_IMAGES_MAX_BYTES (1ull << 31)

/* ---- readers; limit > 0 keeps only the first `limit` images ---- */

/* IDX images (magic 0x00000803: n x rows x cols unsigned bytes) and, when
 * labels_path is non-NULL, IDX labels (0x00000801: n bytes, n equal to the
 * images'). Files starting with the gzip magic 1f 8b are inflated, the
 * header first and then no more than the bytes it implies. */
fmcl_status fmcl_idx_load(const char *images_path, const char *labels_path, int limit,
                          fmcl_images *out, char *err, size_t errlen);

/* CIFAR-10 binary batches: records of 1 label byte + 3072 bytes (3 x 32 x 32).
 * path is one batch file, or a folder: data_batch_1.bin .. data_batch_5.bin
 * (test 0) or test_batch.bin (test 1). */
fmcl_status fmcl_cifar_load(const char *path, int test, int limit, fmcl_images *out, char *err,
                            size_t errlen);

/* Every .png, .jpg and .jpeg file of a folder (sorted by name), decoded by
 * fmcl_image_decode to `channels` (1: grey, 3: RGB), the centred square of side
 * min(width, height) cut out (offset rounded down) and resized to size x size:
 * area averaging along an axis that shrinks, bilinear interpolation (pixel
 * centres, edges clamped) along one that grows; rounded to the nearest byte.
 * No labels. */
fmcl_status fmcl_imgdir_load(const char *dir, int size, int channels, int limit, fmcl_images *out,
                             char *err, size_t errlen);
/* Decodes a PNG or JPEG file image, file[0, len), recognised by its
 * signature whatever the file's name, into *px: w x h x channels bytes
 * (1: grey, 3: RGB), interleaved, malloc'ed. Any other format, a corrupt or
 * truncated image, more than max_pixels, or a header declaring more pixels
 * than the file can encode is FMCL_ERR_FORMAT with the fault in err (the
 * caller names the file). libpng and libjpeg-turbo decode; imgdecode.c says
 * why they rather than stb_image. */
#define FMCL_IMAGE_MAX_PIXELS (1u << 26)
fmcl_status fmcl_image_decode(const unsigned char *file, size_t len, int channels,
                              size_t max_pixels, unsigned char **px, int *w, int *h, char *err,
                              size_t errlen);
/* The resampling of fmcl_imgdir_load on one image: src is h x w x channels
 * (interleaved, as decoded), dst size x size x channels. 0, or -1 when out
 * of memory. */
int fmcl_image_square_resize(unsigned char *dst, int size, const unsigned char *src, int w, int h,
                             int channels);

/* ---- data-set specifications (the --data values of the fmcl command) ----
 *   fashion-mnist        Debian's dataset-fashion-mnist (FMCL_FASHION_MNIST_DIR)
 *   mnist:DIR            DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 *   idx:FILE             an IDX image file; the labels beside it when their
 *                        standard name (images-idx3 -> labels-idx1) exists
 *   cifar10:PATH         a CIFAR-10 batch file or folder
 *   images:DIR           a folder of PNG/JPEG images (size, channels needed)
 * test 1 picks the test split where the set has one (fashion-mnist, mnist:,
 * a cifar10: folder); a single file is used as it is. */
#define FMCL_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* 1 when spec names an image set (by its prefix or name), 0 otherwise. */
int fmcl_images_is_spec(const char *spec);
/* FMCL_ERR_ARG for a malformed spec (unknown prefix, empty path, images:
 * without size or channels); the readers' errors otherwise. size and channels
 * apply to images: only (0 for the others). what (may be NULL) receives a
 * description such as "fashion-mnist test split (10000 images of 1 x 28 x 28)". */
fmcl_status fmcl_images_open(const char *spec, int test, int size, int channels, int limit,
                             fmcl_images *out, char *what, size_t whatlen, char *err,
                             size_t errlen);

/* ---- the 8-bit scaling on the device and the host (pixels.c) ---- */

/* x1: [B, D] (D = C H W) of a training batch: row b, example g = row0 + b of
 * the step's whole batch (a rank's share is rows [row0, row0 + B); the form
 * without _at draws [0, B)), is image uint_below(word 0 of philox(seed; g,
 * 0, FMCL_STREAM_INDEX, step), N) of pix (the row gather_rows would pick),
 * mirrored left-right when hflip and word 1 of that draw has its top bit
 * set, each pixel k dequantised to ((float)k + u) / 128 - 1 with u =
 * u01(word d % 4 of philox(seed; g, d / 4, FMCL_STREAM_PIXELS, step)) for
 * element d. pix views N x D bytes; like every fmcl_t its offset counts
 * 4-byte words. */
fmcl_status fmcl_image_batch_at(fmcl_ctx *ctx, fmcl_t x1, fmcl_t pix, uint64_t seed, uint32_t step,
                                int row0, int N, int C, int H, int W, int hflip, int B);
fmcl_status fmcl_image_batch(fmcl_ctx *ctx, fmcl_t x1, fmcl_t pix, uint64_t seed, uint32_t step,
                             int N, int C, int H, int W, int hflip, int B);
void fmcl_image_batch_ref(float *x1, const unsigned char *pix, uint64_t seed, uint32_t step,
                          int row0, int N, int C, int H, int W, int hflip, int B);

/* x: [n, D] = images first .. first + n - 1 of pix in order, dequantised as
 * above with image i in place of the batch row (the likelihood's fixed
 * dequantisation). */
void fmcl_images_dequantize(float *x, const unsigned char *pix, int first, int n, int D,
                            uint64_t seed, uint32_t step);

#endif
