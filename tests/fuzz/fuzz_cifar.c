/* The CIFAR-10 reader (src/data/cifar.c) on the input as a batch file; on
 * success every label is below 10 and the pixels are read whole. */
#include "data/images.h"
#include "fuzz.h"

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fmcl_images im;
    char err[1024];
    if (fmcl_cifar_load(fuzz_file(0, data, size), 0, 0, &im, err, sizeof err) != FMCL_OK) return 0;
    unsigned sum = 0;
    for (size_t i = 0; i < (size_t)im.n * fmcl_images_dim(&im); i++) sum += im.pixels[i];
    for (int i = 0; i < im.n; i++)
        if (im.labels[i] >= 10) fuzz_fail("a CIFAR-10 label above 9");
    sink = sum;
    fmcl_images_free(&im);
    return 0;
}
