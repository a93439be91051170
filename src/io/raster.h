/* A small RGB8 canvas for the figures of plot.c: alpha blending, anti-aliased
 * lines and discs, text from stb_easy_font, and a perceptual colormap.
 * Coordinates are pixels, x to the right, y down; (x, y) = (0.5, 0.5) is the
 * centre of the top-left pixel. */
#ifndef FMCL_RASTER_H
#define FMCL_RASTER_H

#include <stddef.h>

#include "fmcl/core.h"

typedef struct {
    unsigned char r, g, b;
} fmcl_rgb;

typedef struct {
    int w, h;
    unsigned char *px;      /* w x h x 3, top row first */
    float *cov;             /* w x h coverage of the shape being built, 0..1 */
    int *touched;           /* indices of the non-zero cov, so painting a shape */
    size_t n_touched;       /* costs its own size, not the canvas's */
    int cx0, cy0, cx1, cy1; /* shapes are clipped to [cx0, cx1) x [cy0, cy1) */
} fmcl_canvas;

/* Returns 0, or -1 when out of memory (c is then empty and safe to free). */
int fmcl_canvas_init(fmcl_canvas *c, int w, int h, fmcl_rgb bg);
void fmcl_canvas_free(fmcl_canvas *c);
/* Clip rectangle of the shapes; the whole canvas after init. */
void fmcl_canvas_clip(fmcl_canvas *c, int x0, int y0, int x1, int y1);

/* Blends col with opacity alpha over [x0, x1) x [y0, y1) (not clipped but to
 * the canvas). */
void fmcl_canvas_fill(fmcl_canvas *c, int x0, int y0, int x1, int y1, fmcl_rgb col, float alpha);

/* Shapes add to a coverage mask (the union of what was added, so a polyline
 * does not darken where its segments meet); fmcl_canvas_paint blends the mask
 * once with col and alpha and clears it. */
void fmcl_canvas_line(fmcl_canvas *c, float x0, float y0, float x1, float y1, float width);
void fmcl_canvas_disc(fmcl_canvas *c, float x, float y, float radius);
void fmcl_canvas_paint(fmcl_canvas *c, fmcl_rgb col, float alpha);

/* Text in the 5 x 7 stb_easy_font, scaled (anti-aliased for fractional
 * scales). (x, y) is the anchor: y the middle of the capital letters, x at
 * fraction align of the width (0 left, 0.5 centre, 1 right). vertical text
 * reads upwards, rotated about the anchor. Characters outside printable
 * ASCII show as '?'. */
void fmcl_canvas_text(fmcl_canvas *c, float x, float y, const char *s, float scale, fmcl_rgb col,
                      float align, int vertical);
float fmcl_canvas_text_width(const char *s, float scale);
/* Height of capital letters at this scale. */
float fmcl_canvas_text_cap(float scale);

/* Viridis-like perceptual colormap, t in [0, 1] (clamped). */
fmcl_rgb fmcl_viridis(float t);

/* Encodes c as PNG, frees it and writes the file atomically (plot.c): the
 * last step of every figure, also of those drawn outside plot.c. */
fmcl_status fmcl_plot_save_png(const char *path, fmcl_canvas *c, char *err, size_t errlen);

#endif
