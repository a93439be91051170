/* The IDX reader (src/data/idx.c), raw or gzip, on the input as a file:
 * first as an image file, then as the labels of a fixed file of one 1 x 1
 * image. On success the images and labels are read whole (ASan checks the
 * buffers) and the classes are 1 + the largest label. */
#include "data/images.h"
#include "fuzz.h"

static volatile unsigned sink;

static void check(const fmcl_images *im)
{
    const size_t n = (size_t)im->n * fmcl_images_dim(im);
    unsigned sum = 0;
    int top = -1;
    for (size_t i = 0; i < n; i++) sum += im->pixels[i];
    for (int i = 0; im->labels && i < im->n; i++) top = im->labels[i] > top ? im->labels[i] : top;
    if (im->n < 1 || im->c != 1 || (im->labels && im->classes != top + 1))
        fuzz_fail("images without pixels, or classes that are not 1 + the largest label");
    sink = sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t one[17] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7};
    const char *file = fuzz_file(0, data, size);
    fmcl_images im;
    char err[1024];
    if (fmcl_idx_load(file, NULL, 0, &im, err, sizeof err) == FMCL_OK) check(&im);
    fmcl_images_free(&im);
    if (fmcl_idx_load(fuzz_file(1, one, sizeof one), file, 0, &im, err, sizeof err) == FMCL_OK)
        check(&im);
    fmcl_images_free(&im);
    return 0;
}
