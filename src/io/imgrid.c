/* Image grids as PNG through stb_image_write, written atomically. */
#include "fmcl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "io/atomic.h"

/* libstb exports this, but stb_image_write.h declares it only in its
 * implementation part. The result comes from malloc (STBIW_MALLOC's default). */
unsigned char *stbi_write_png_to_mem(const unsigned char *pixels, int stride_bytes, int x, int y,
                                     int n, int *out_len);

#define BORDER_GREY 128
#define MAX_SIDE 16384 /* pixels per side of the picture */

fmcl_status fmcl_plot_images(const char *path, const float *x, int n, int c, int h, int w, int cols,
                             int border, char *err, size_t errlen)
{
    if (n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 || cols < 1 || border < 0)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "%s: a grid needs at least one image of 1 or 3 channels (got %d of %d x "
                         "%d x %d, %d columns)",
                         path, n, c, h, w, cols);
    if (cols > n) cols = n;
    const int rows = (n + cols - 1) / cols;
    const int64_t W = (int64_t)cols * (w + border) + border,
                  H = (int64_t)rows * (h + border) + border;
    if (W > MAX_SIDE || H > MAX_SIDE)
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "%s: a grid of %d x %d images of %d x %d would be %lld x %lld pixels, "
                         "more than %d a side; show fewer images",
                         path, rows, cols, h, w, (long long)H, (long long)W, MAX_SIDE);
    unsigned char *px = malloc((size_t)(W * H * c));
    if (!px) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory drawing %s", path);
    for (int64_t i = 0; i < W * H * c; i++) px[i] = BORDER_GREY;
    for (int k = 0; k < n; k++) {
        const int64_t x0 = border + (int64_t)(k % cols) * (w + border);
        const int64_t y0 = border + (int64_t)(k / cols) * (h + border);
        const float *img = x + (size_t)k * c * h * w;
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < w; xx++)
                for (int ch = 0; ch < c; ch++) {
                    float v = img[((size_t)ch * h + y) * w + xx];
                    v = v > 1.f ? 1.f : v < -1.f ? -1.f : v != v ? -1.f : v;
                    px[((y0 + y) * W + x0 + xx) * c + ch] = (unsigned char)lrintf((v + 1.f) *
                                                                                  127.5f);
                }
    }
    int len = 0;
    unsigned char *png = stbi_write_png_to_mem(px, (int)(W * c), (int)W, (int)H, c, &len);
    free(px);
    if (!png) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory encoding %s", path);
    const void *data[1] = {png};
    size_t lens[1] = {(size_t)len};
    fmcl_status s = fmcl_write_file_atomic(path, data, lens, 1, err, errlen);
    free(png);
    return s;
}
