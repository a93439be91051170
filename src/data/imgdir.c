/* A folder of PNG/JPEG images (decoded by imgdecode.c): each to grey or
 * RGB, the centred square cut out and resized to the model's resolution (see
 * images.h for the filters). Files are taken in name order, so a folder
 * always gives the same set. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/images.h"
#include "io/atomic.h"

#define MAX_FILE_BYTES (256u << 20)

/* Output sample i of an axis of m source samples resized to s: source
 * samples first .. first + count - 1 with weights wt (room for m + 2). */
static void axis_taps(int m, int s, int i, int *first, int *count, double *wt)
{
    if (s < m) { /* area average over [i m / s, (i + 1) m / s) */
        const double a = (double)i * m / s, b = (double)(i + 1) * m / s, scale = (double)s / m;
        const int j0 = (int)floor(a);
        int j1 = (int)ceil(b);
        if (j1 > m) j1 = m;
        *first = j0;
        *count = j1 - j0;
        for (int j = j0; j < j1; j++) {
            const double lo = a > j ? a : j, hi = b < j + 1 ? b : j + 1;
            wt[j - j0] = (hi - lo) * scale;
        }
    } else if (s > m) { /* bilinear between pixel centres, edges clamped */
        double c = (i + 0.5) * m / s - 0.5;
        if (c < 0) c = 0;
        if (c > m - 1) c = m - 1;
        const int j0 = (int)floor(c);
        const double f = c - j0;
        *first = j0;
        *count = j0 + 1 < m ? 2 : 1;
        wt[0] = *count == 2 ? 1 - f : 1;
        if (*count == 2) wt[1] = f;
    } else {
        *first = i;
        *count = 1;
        wt[0] = 1;
    }
}

int fmcl_image_square_resize(unsigned char *dst, int size, const unsigned char *src, int w, int h,
                             int channels)
{
    const int m = w < h ? w : h, x0 = (w - m) / 2, y0 = (h - m) / 2, ch = channels;
    double *tmp = malloc(sizeof(double) * (size_t)m * size * ch); /* m rows x size columns */
    double *wt = malloc(sizeof(double) * ((size_t)m + 2));
    if (!tmp || !wt) {
        free(tmp);
        free(wt);
        return -1;
    }
    int first, count;
    for (int i = 0; i < size; i++) { /* columns */
        axis_taps(m, size, i, &first, &count, wt);
        for (int y = 0; y < m; y++)
            for (int c = 0; c < ch; c++) {
                double acc = 0;
                for (int k = 0; k < count; k++)
                    acc += wt[k] * src[((size_t)(y0 + y) * w + x0 + first + k) * ch + c];
                tmp[((size_t)y * size + i) * ch + c] = acc;
            }
    }
    for (int i = 0; i < size; i++) { /* rows */
        axis_taps(m, size, i, &first, &count, wt);
        for (int x = 0; x < size; x++)
            for (int c = 0; c < ch; c++) {
                double acc = 0;
                for (int k = 0; k < count; k++)
                    acc += wt[k] * tmp[((size_t)(first + k) * size + x) * ch + c];
                long v = lround(acc);
                dst[((size_t)i * size + x) * ch + c] = (unsigned char)(v < 0     ? 0
                                                                       : v > 255 ? 255
                                                                                 : v);
            }
    }
    free(tmp);
    free(wt);
    return 0;
}

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                   strcasecmp(dot, ".jpeg") == 0);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The image file names of dir, sorted; *n of them. */
static fmcl_status list_images(const char *dir, char ***names, int *n, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) return fmcl_errf(err, errlen, FMCL_ERR_IO, "cannot open the image folder %s", dir);
    char **v = NULL;
    int count = 0, cap = 0;
    fmcl_status s = FMCL_OK;
    for (struct dirent *e; s == FMCL_OK && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !is_image_name(e->d_name)) continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 256;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) {
                s = fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            v = nv;
        }
        if (!(v[count] = strdup(e->d_name)))
            s = fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory listing %s", dir);
        else
            count++;
    }
    closedir(d);
    if (s == FMCL_OK && count == 0)
        s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                      "the image folder %s holds no .png, .jpg or .jpeg files", dir);
    if (s != FMCL_OK) {
        for (int i = 0; i < count; i++) free(v[i]);
        free(v);
        return s;
    }
    qsort(v, (size_t)count, sizeof *v, by_name);
    *names = v;
    *n = count;
    return FMCL_OK;
}

/* Decodes one file into dst (size x size x channels, interleaved). */
static fmcl_status load_one(const char *path, int size, int channels, unsigned char *dst, char *err,
                            size_t errlen)
{
    unsigned char *file = NULL, *px = NULL;
    size_t len = 0;
    fmcl_status s = fmcl_read_file(path, MAX_FILE_BYTES, &file, &len, err, errlen);
    if (s != FMCL_OK) return s;
    char why[512];
    int w = 0, h = 0;
    s = fmcl_image_decode(file, len, channels, FMCL_IMAGE_MAX_PIXELS, &px, &w, &h, why, sizeof why);
    free(file);
    if (s != FMCL_OK)
        return fmcl_errf(err, errlen, s, "%s: %s; replace the file or remove it from the folder",
                         path, why);
    const int rc = fmcl_image_square_resize(dst, size, px, w, h, channels);
    free(px);
    return rc == 0 ? FMCL_OK
                   : fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory resizing %s", path);
}

fmcl_status fmcl_imgdir_load(const char *dir, int size, int channels, int limit, fmcl_images *out,
                             char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (size < 1 || size > 4096 || (channels != 1 && channels != 3))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "image folders need a size of 1 to 4096 and 1 or 3 channels (got %d, "
                         "%d)",
                         size, channels);
    char **names = NULL;
    int total = 0;
    fmcl_status s = list_images(dir, &names, &total, err, errlen);
    if (s != FMCL_OK) return s;
    const int n = limit > 0 && limit < total ? limit : total;
    const size_t D = (size_t)size * size * channels;
    unsigned char *hwc = malloc(D);
    if ((uint64_t)n * D > FMCL_IMAGES_MAX_BYTES)
        s = fmcl_errf(err, errlen, FMCL_ERR_ARG,
                      "%d images of %zu bytes exceed the %llu bytes accepted; load fewer images", n,
                      D, (unsigned long long)FMCL_IMAGES_MAX_BYTES);
    else if (!hwc || !(out->pixels = malloc((size_t)n * D)))
        s = fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory for %d images of %zu bytes", n,
                      D);
    char path[4400];
    for (int i = 0; s == FMCL_OK && i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        s = load_one(path, size, channels, hwc, err, errlen);
        /* Interleaved (HWC) to our channel-major layout. */
        unsigned char *img = out->pixels + (size_t)i * D;
        for (size_t p = 0; s == FMCL_OK && p < (size_t)size * size; p++)
            for (int c = 0; c < channels; c++)
                img[(size_t)c * size * size + p] = hwc[p * channels + c];
    }
    for (int i = 0; i < total; i++) free(names[i]);
    free(names);
    free(hwc);
    if (s != FMCL_OK) {
        fmcl_images_free(out);
        return s;
    }
    out->n = n;
    out->c = channels;
    out->h = out->w = size;
    return FMCL_OK;
}
