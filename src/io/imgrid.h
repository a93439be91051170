/* A grid of images as one PNG (fmcl sample and fmcl train on image data). */
#ifndef FMCL_IMGRID_H
#define FMCL_IMGRID_H

#include <stddef.h>

#include "fmcl.h"

/* Tiles n images (x: n x c x h x w floats, channel-major, c = 1 grey or 3 RGB)
 * cols to a row, `border` pixels of mid grey around and between them. Each
 * value is clamped to [-1, 1] and mapped to round((x + 1) 127.5) in 0..255.
 * Written atomically. */
fmcl_status fmcl_png_image_grid(const char *path, const float *x, int n, int c, int h, int w,
                                int cols, int border, char *err, size_t errlen);

#endif
