/* The PNG and JPEG decoding of image folders (src/data/imgdecode.c, through
 * libpng and libjpeg-turbo) on arbitrary bytes, with the library's own pixel
 * cap, to grey or RGB by the input's length; on success the pixels are read
 * whole and resized as fmcl_imgdir_load does, shrinking and enlarging. */
#include <stdlib.h>

#include "data/images.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int channels = size % 2 ? 3 : 1;
    unsigned char *px = NULL, small[5 * 5 * 3], large[64 * 64 * 3];
    int w = 0, h = 0;
    char err[1024];
    if (fmcl_image_decode(data, size, channels, FMCL_IMAGE_MAX_PIXELS, &px, &w, &h, err,
                          sizeof err) != FMCL_OK) {
        if (px) fuzz_fail("a failed decode left pixels");
        return 0;
    }
    if (w < 1 || h < 1 || (size_t)w * h > FMCL_IMAGE_MAX_PIXELS) fuzz_fail("bad dimensions");
    if (fmcl_image_square_resize(small, 5, px, w, h, channels) != 0 ||
        (w <= 64 && h <= 64 && fmcl_image_square_resize(large, 64, px, w, h, channels) != 0))
        fuzz_fail("resizing failed");
    free(px);
    return 0;
}
