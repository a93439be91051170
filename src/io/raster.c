/* RGB8 canvas primitives for plot.c; see raster.h. */
#include "io/raster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* stb_easy_font is header-only with static functions, not all of them used. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-braces"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

int fmcl_canvas_init(fmcl_canvas *c, int w, int h, fmcl_rgb bg)
{
    memset(c, 0, sizeof *c);
    size_t n = (size_t)w * (size_t)h;
    c->px = malloc(n * 3);
    c->cov = calloc(n, sizeof *c->cov);
    c->touched = malloc(n * sizeof *c->touched);
    if (!c->px || !c->cov || !c->touched) {
        fmcl_canvas_free(c);
        return -1;
    }
    c->w = w;
    c->h = h;
    for (size_t i = 0; i < n; i++) {
        c->px[3 * i] = bg.r;
        c->px[3 * i + 1] = bg.g;
        c->px[3 * i + 2] = bg.b;
    }
    fmcl_canvas_clip(c, 0, 0, w, h);
    return 0;
}

void fmcl_canvas_free(fmcl_canvas *c)
{
    free(c->px);
    free(c->cov);
    free(c->touched);
    memset(c, 0, sizeof *c);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void fmcl_canvas_clip(fmcl_canvas *c, int x0, int y0, int x1, int y1)
{
    c->cx0 = clampi(x0, 0, c->w);
    c->cy0 = clampi(y0, 0, c->h);
    c->cx1 = clampi(x1, c->cx0, c->w);
    c->cy1 = clampi(y1, c->cy0, c->h);
}

static void blend(unsigned char *p, fmcl_rgb col, float a)
{
    if (!(a > 0.f)) return;
    if (a > 1.f) a = 1.f;
    p[0] = (unsigned char)(p[0] + (col.r - p[0]) * a + 0.5f);
    p[1] = (unsigned char)(p[1] + (col.g - p[1]) * a + 0.5f);
    p[2] = (unsigned char)(p[2] + (col.b - p[2]) * a + 0.5f);
}

void fmcl_canvas_fill(fmcl_canvas *c, int x0, int y0, int x1, int y1, fmcl_rgb col, float alpha)
{
    x0 = clampi(x0, 0, c->w);
    x1 = clampi(x1, 0, c->w);
    y0 = clampi(y0, 0, c->h);
    y1 = clampi(y1, 0, c->h);
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) blend(&c->px[3 * ((size_t)y * c->w + x)], col, alpha);
}

/* Float pixel range [lo, hi] to clipped integer pixel indices, safe for
 * huge or far-away coordinates. */
static int pix_lo(float v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : (int)floorf(v); }

static void cov_put(fmcl_canvas *c, int x, int y, float v)
{
    if (v <= 0.f) return;
    int i = y * c->w + x;
    if (c->cov[i] == 0.f) c->touched[c->n_touched++] = i;
    if (v > c->cov[i]) c->cov[i] = v > 1.f ? 1.f : v;
}

/* Coverage of a pixel centre by a round-capped stroke: its distance to the
 * segment against the half width, with a one-pixel linear ramp. */
static float seg_cov(float px, float py, float x0, float y0, float dx, float dy, float len2,
                     float hw)
{
    float t = len2 > 0.f ? ((px - x0) * dx + (py - y0) * dy) / len2 : 0.f;
    t = t < 0.f ? 0.f : t > 1.f ? 1.f : t;
    float ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
    return hw + 0.5f - sqrtf(ex * ex + ey * ey);
}

void fmcl_canvas_line(fmcl_canvas *c, float x0, float y0, float x1, float y1, float width)
{
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) return;
    float hw = 0.5f * width, reach = hw + 1.5f;
    float dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    /* Walk the major axis; across it, cover the pixels a stroke of this
     * width can reach at slopes up to 1 (reach * sqrt 2 < 1.5 reach). */
    int steep = fabsf(dy) > fabsf(dx);
    float a0 = steep ? y0 : x0, a1 = steep ? y1 : x1, b0 = steep ? x0 : y0;
    float da = steep ? dy : dx, db = steep ? dx : dy;
    int alo = steep ? c->cy0 : c->cx0, ahi = steep ? c->cy1 : c->cx1;
    int blo = steep ? c->cx0 : c->cy0, bhi = steep ? c->cx1 : c->cy1;
    int ia0 = pix_lo(fminf(a0, a1) - reach, alo, ahi),
        ia1 = pix_lo(fmaxf(a0, a1) + reach, alo, ahi);
    for (int ia = ia0; ia < ia1; ia++) {
        float ac = ia + 0.5f;
        float t = da != 0.f ? (ac - a0) / da : 0.f;
        t = t < 0.f ? 0.f : t > 1.f ? 1.f : t;
        float bc = b0 + t * db;
        int ib0 = pix_lo(bc - 1.5f * reach, blo, bhi),
            ib1 = pix_lo(bc + 1.5f * reach + 1.f, blo, bhi);
        for (int ib = ib0; ib < ib1; ib++) {
            int x = steep ? ib : ia, y = steep ? ia : ib;
            cov_put(c, x, y, seg_cov(x + 0.5f, y + 0.5f, x0, y0, dx, dy, len2, hw));
        }
    }
}

void fmcl_canvas_disc(fmcl_canvas *c, float x, float y, float radius)
{
    if (!isfinite(x) || !isfinite(y)) return;
    int x0 = pix_lo(x - radius - 1.f, c->cx0, c->cx1),
        x1 = pix_lo(x + radius + 2.f, c->cx0, c->cx1);
    int y0 = pix_lo(y - radius - 1.f, c->cy0, c->cy1),
        y1 = pix_lo(y + radius + 2.f, c->cy0, c->cy1);
    for (int py = y0; py < y1; py++)
        for (int px = x0; px < x1; px++) {
            float ex = px + 0.5f - x, ey = py + 0.5f - y;
            cov_put(c, px, py, radius + 0.5f - sqrtf(ex * ex + ey * ey));
        }
}

void fmcl_canvas_paint(fmcl_canvas *c, fmcl_rgb col, float alpha)
{
    for (size_t k = 0; k < c->n_touched; k++) {
        size_t i = (size_t)c->touched[k];
        blend(&c->px[3 * i], col, c->cov[i] * alpha);
        c->cov[i] = 0.f;
    }
    c->n_touched = 0;
}

/* ---- text --------------------------------------------------------------- */

#define TEXT_MAX 160 /* characters drawn; longer strings are cut */
#define TEXT_SS 4    /* supersampling per axis for fractional scales */

/* Printable ASCII copy of s (stb_easy_font indexes a table by char - 32). */
static void text_clean(char *out, const char *s)
{
    size_t n = 0;
    for (; s && s[n] && n < TEXT_MAX; n++) out[n] = s[n] >= 32 && s[n] < 127 ? s[n] : '?';
    out[n] = 0;
}

float fmcl_canvas_text_width(const char *s, float scale)
{
    char buf[TEXT_MAX + 1];
    text_clean(buf, s);
    /* The advance of the last character includes its trailing gap. */
    return buf[0] ? (stb_easy_font_width(buf) - 1) * scale : 0.f;
}

float fmcl_canvas_text_cap(float scale) { return 7.f * scale; }

void fmcl_canvas_text(fmcl_canvas *c, float x, float y, const char *s, float scale, fmcl_rgb col,
                      float align, int vertical)
{
    char buf[TEXT_MAX + 1];
    text_clean(buf, s);
    if (!buf[0]) return;
    int vbytes = (int)strlen(buf) * 1024; /* a glyph takes at most 16 quads of 64 bytes */
    unsigned char *vb = malloc((size_t)vbytes);
    if (!vb) return;
    int nq = stb_easy_font_print(0.f, 0.f, buf, NULL, vb, vbytes);
    float u0 = -align * fmcl_canvas_text_width(buf, 1.f), v0 = -3.5f;

    /* Quads to pixel rectangles; their bounding box sizes the supersampled mask. */
    float(*r)[4] = malloc(sizeof *r * (size_t)(nq > 0 ? nq : 1));
    float bx0 = 1e30f, by0 = 1e30f, bx1 = -1e30f, by1 = -1e30f;
    for (int q = 0; r && q < nq; q++) {
        float qx0, qy0, qx1, qy1;
        memcpy(&qx0, vb + 64 * q, 4);
        memcpy(&qy0, vb + 64 * q + 4, 4);
        memcpy(&qx1, vb + 64 * q + 32, 4);
        memcpy(&qy1, vb + 64 * q + 36, 4);
        float ua = (u0 + qx0) * scale, ub = (u0 + qx1) * scale;
        float va = (v0 + qy0) * scale, vb2 = (v0 + qy1) * scale;
        float *o = r[q];
        if (vertical) { /* u points up, v to the right */
            o[0] = x + va;
            o[2] = x + vb2;
            o[1] = y - ub;
            o[3] = y - ua;
        } else {
            o[0] = x + ua;
            o[2] = x + ub;
            o[1] = y + va;
            o[3] = y + vb2;
        }
        bx0 = fminf(bx0, o[0]);
        by0 = fminf(by0, o[1]);
        bx1 = fmaxf(bx1, o[2]);
        by1 = fmaxf(by1, o[3]);
    }
    free(vb);
    if (!r || nq <= 0 || bx1 < 0.f || by1 < 0.f || bx0 >= c->w || by0 >= c->h) {
        free(r);
        return;
    }
    int px0 = (int)floorf(bx0), py0 = (int)floorf(by0);
    int pw = (int)ceilf(bx1) - px0, ph = (int)ceilf(by1) - py0;
    int mw = pw * TEXT_SS, mh = ph * TEXT_SS;
    unsigned char *m = calloc((size_t)mw * (size_t)mh, 1);
    if (!m) {
        free(r);
        return;
    }
    /* Union of the quads on the fine grid, then the fraction covered per pixel. */
    for (int q = 0; q < nq; q++) {
        int ax = (int)lroundf((r[q][0] - px0) * TEXT_SS),
            bx = (int)lroundf((r[q][2] - px0) * TEXT_SS);
        int ay = (int)lroundf((r[q][1] - py0) * TEXT_SS),
            by = (int)lroundf((r[q][3] - py0) * TEXT_SS);
        for (int j = clampi(ay, 0, mh); j < clampi(by, 0, mh); j++)
            memset(m + (size_t)j * mw + clampi(ax, 0, mw), 1,
                   (size_t)(clampi(bx, 0, mw) - clampi(ax, 0, mw)));
    }
    for (int py = 0; py < ph; py++) {
        int iy = py0 + py;
        if (iy < 0 || iy >= c->h) continue;
        for (int px = 0; px < pw; px++) {
            int ix = px0 + px;
            if (ix < 0 || ix >= c->w) continue;
            int n = 0;
            for (int j = 0; j < TEXT_SS; j++)
                for (int i = 0; i < TEXT_SS; i++)
                    n += m[(size_t)(py * TEXT_SS + j) * mw + px * TEXT_SS + i];
            blend(&c->px[3 * ((size_t)iy * c->w + ix)], col, n / (float)(TEXT_SS * TEXT_SS));
        }
    }
    free(m);
    free(r);
}

/* ---- colormap ----------------------------------------------------------- */

fmcl_rgb fmcl_viridis(float t)
{
    /* Nine samples of viridis (dark violet, blue, teal, green, yellow),
     * linearly interpolated. */
    static const unsigned char k[9][3] = {
        {68, 1, 84},    {71, 44, 122}, {59, 82, 139},  {44, 113, 142}, {33, 145, 140},
        {39, 173, 129}, {92, 200, 99}, {170, 220, 50}, {253, 231, 37},
    };
    if (!(t > 0.f)) t = 0.f;
    if (t > 1.f) t = 1.f;
    float f = t * 8.f;
    int i = f >= 8.f ? 7 : (int)f;
    float w = f - i;
    fmcl_rgb o = {
        (unsigned char)lroundf(k[i][0] + w * (k[i + 1][0] - k[i][0])),
        (unsigned char)lroundf(k[i][1] + w * (k[i + 1][1] - k[i][1])),
        (unsigned char)lroundf(k[i][2] + w * (k[i + 1][2] - k[i][2])),
    };
    return o;
}
