/* PNG and JPEG files of image folders, decoded by libpng and libjpeg-turbo.
 *
 * Why these and not stb_image, which fmcl uses to write its pictures: the
 * files of an image folder come from anywhere, and stb_image is written for
 * files one trusts. Debian's libstb (0.0~git20220908) writes out of bounds in
 * its JPEG Huffman code on a 9-byte file (ff d8 ff c4 10 03 03 ff d9), and it
 * decodes GIF, BMP, PSD, HDR, PNM and TGA whatever the file is called, so a
 * 22-byte TGA named .png declaring 8192 x 8192 became 200 MB of zeros to
 * train on. libpng and libjpeg-turbo are the decoders Debian ships for
 * untrusted images (fuzzed continuously by OSS-Fuzz, fixed through Debian's
 * security updates). Around them fmcl accepts only the two formats, by their
 * signatures, checks the dimensions in the header against a pixel limit and
 * against the bytes present before it allocates any pixel memory, treats
 * libjpeg's corrupt-data warnings (a truncated file, a bad marker) as errors,
 * stops a progressive JPEG after MAX_SCANS scans, and never lets either
 * library print.
 *
 * The pixels are what stb_image gave: 8 bits per sample (16-bit samples keep
 * their high byte), palettes expanded, alpha dropped, no gamma applied; grey
 * from an RGB PNG by the luma weights (77 R + 150 G + 29 B) / 256, rounded
 * down, and from a colour JPEG its luma channel (test_datasets compares the
 * two decoders on the fuzzer's seed images). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h, which it needs */
#include <png.h>

#include "data/images.h"
#include "io/atomic.h"

/* Deflate's best ratio: no PNG inflates to more than this many bytes per
 * byte of file, and no JPEG comes near it in pixels per byte (a baseline
 * scan spends at least 2 bits on each 8 x 8 block). */
#define MAX_RATIO 1032
/* Real progressive JPEGs have about ten scans; each scan can cost a pass
 * over the whole image. */
#define MAX_SCANS 100

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* The format of a file that is neither PNG nor JPEG, when its magic says. */
static const char *other_format(const unsigned char *b, size_t len)
{
    static const struct {
        const char *magic, *name;
        size_t len;
    } known[] = {{"GIF8", "GIF", 4},        {"BM", "BMP", 2},           {"8BPS", "PSD", 4},
                 {"#?RADIANCE", "HDR", 10}, {"#?RGBE", "HDR", 6},       {"II*\0", "TIFF", 4},
                 {"MM\0*", "TIFF", 4},      {"RIFF", "RIFF (WebP?)", 4}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (len >= known[i].len && memcmp(b, known[i].magic, known[i].len) == 0)
            return known[i].name;
    if (len >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7') return "PNM";
    return NULL;
}

/* src (w x h x ch, interleaved: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) into
 * dst (w x h x channels, channels 1 or 3). dst may be src when channels <= ch. */
static void convert(unsigned char *dst, int channels, const unsigned char *src, int ch, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = src + i * ch;
        if (channels == 3 && ch >= 3) {
            unsigned char r = p[0], g = p[1], b = p[2];
            dst[3 * i] = r, dst[3 * i + 1] = g, dst[3 * i + 2] = b;
        } else if (channels == 3) {
            unsigned char v = p[0];
            dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = v;
        } else {
            dst[i] = ch >= 3 ? (unsigned char)((p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8) : p[0];
        }
    }
}

/* The pixels of a decoder's output (ch samples per pixel) as the caller
 * wants them; frees src when it makes a new buffer. NULL when out of memory. */
static unsigned char *to_channels(unsigned char *src, int ch, int channels, size_t n)
{
    if (ch == channels) return src;
    unsigned char *dst = channels <= ch ? src : malloc(n * (size_t)channels);
    if (dst) convert(dst, channels, src, ch, n);
    if (dst != src) free(src);
    return dst;
}

static fmcl_status too_large(uint64_t w, uint64_t h, size_t max_pixels, char *err, size_t errlen)
{
    return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                     "%llu x %llu pixels is more than the %zu accepted per image",
                     (unsigned long long)w, (unsigned long long)h, max_pixels);
}

static fmcl_status too_short(const char *fmt, uint64_t w, uint64_t h, size_t len, char *err,
                             size_t errlen)
{
    return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                     "its %s header declares %llu x %llu pixels, more than its %zu bytes can "
                     "encode (a truncated or corrupt image)",
                     fmt, (unsigned long long)w, (unsigned long long)h, len);
}

/* ---- PNG ------------------------------------------------------------------ */

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    char *err;
    size_t errlen;
} png_src;

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) png_error(png, "the file ends early (truncated)");
    memcpy(out, s->p + s->pos, n);
    s->pos += n;
}

static void png_fail(png_structp png, png_const_charp msg)
{
    png_src *s = png_get_error_ptr(png);
    fmcl_errf(s->err, s->errlen, FMCL_ERR_FORMAT, "corrupt PNG: %s", msg);
    png_longjmp(png, 1);
}

static void png_quiet(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static fmcl_status decode_png(const unsigned char *file, size_t len, int channels,
                              size_t max_pixels, unsigned char **out, int *w, int *h, char *err,
                              size_t errlen)
{
    png_src src = {file, len, 0, err, errlen};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_fail, png_quiet);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory decoding a PNG");
    }
    /* Changed between setjmp and a longjmp back: volatile. */
    unsigned char *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    volatile fmcl_status s = FMCL_ERR_FORMAT; /* the message is in err */
    if (setjmp(png_jmpbuf(png))) goto done;
    png_set_read_fn(png, &src, png_read_mem);
    /* Only the pixels matter (no gamma, no alpha, no text): every ancillary
     * chunk is skipped unread, compressed profiles and text included. */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_read_info(png, info);
    png_uint_32 pw = 0, ph = 0;
    int depth = 0, color = 0;
    png_get_IHDR(png, info, &pw, &ph, &depth, &color, NULL, NULL, NULL);
    if ((uint64_t)pw * ph > max_pixels) {
        s = too_large(pw, ph, max_pixels, err, errlen);
        goto done;
    }
    /* The filtered rows inflate from the file's IDAT chunks. */
    const uint64_t raw = ((uint64_t)pw * png_get_channels(png, info) * depth + 7) / 8 + 1;
    if (raw * ph > (uint64_t)MAX_RATIO * len) {
        s = too_short("PNG", pw, ph, len, err, errlen);
        goto done;
    }
    png_set_palette_to_rgb(png);
    png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const int ch = png_get_channels(png, info);
    const size_t rowbytes = png_get_rowbytes(png, info);
    if (ch < 1 || ch > 4 || rowbytes != (size_t)pw * ch) {
        s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                      "PNG of an unexpected layout (%d samples "
                      "per pixel)",
                      ch);
        goto done;
    }
    px = malloc(rowbytes * ph);
    rows = malloc(sizeof *rows * ph);
    if (!px || !rows) {
        s = fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory for %u x %u pixels", pw, ph);
        goto done;
    }
    for (png_uint_32 y = 0; y < ph; y++) rows[y] = px + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL); /* the rest of the file: checksums, a missing IEND */
    *out = to_channels(px, ch, channels, (size_t)pw * ph);
    px = NULL;
    *w = (int)pw;
    *h = (int)ph;
    s = *out ? FMCL_OK
             : fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory for %u x %u pixels", pw, ph);
done:
    png_destroy_read_struct(&png, &info, NULL);
    free(px);
    free(rows);
    return s;
}

/* ---- JPEG ----------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char *err;
    size_t errlen;
} jpeg_fault;

static void jpeg_stop(j_common_ptr c, const char *what)
{
    jpeg_fault *f = (jpeg_fault *)c->err;
    char msg[JMSG_LENGTH_MAX];
    c->err->format_message(c, msg);
    fmcl_errf(f->err, f->errlen, FMCL_ERR_FORMAT, "%s: %s", what, msg);
    longjmp(f->jump, 1);
}

static void jpeg_fail(j_common_ptr c) { jpeg_stop(c, "invalid or unsupported JPEG"); }

/* Level -1 is a warning about corrupt data (a truncated file is one: the
 * rest of the image would be grey): an error here. Other levels are
 * trace messages. */
static void jpeg_message(j_common_ptr c, int level)
{
    if (level < 0) jpeg_stop(c, "corrupt JPEG");
}

static void jpeg_progress(j_common_ptr c)
{
    const j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->is_decompressor && d->input_scan_number > MAX_SCANS) {
        jpeg_fault *f = (jpeg_fault *)c->err;
        fmcl_errf(f->err, f->errlen, FMCL_ERR_FORMAT,
                  "corrupt JPEG: more than %d scans (real files have about ten)", MAX_SCANS);
        longjmp(f->jump, 1);
    }
}

static fmcl_status decode_jpeg(const unsigned char *file, size_t len, int channels,
                               size_t max_pixels, unsigned char **out, int *w, int *h, char *err,
                               size_t errlen)
{
    struct jpeg_decompress_struct d;
    struct jpeg_progress_mgr progress = {.progress_monitor = jpeg_progress};
    jpeg_fault fault;
    d.err = jpeg_std_error(&fault.mgr);
    fault.mgr.error_exit = jpeg_fail;
    fault.mgr.emit_message = jpeg_message;
    fault.err = err;
    fault.errlen = errlen;
    unsigned char *volatile px = NULL;
    volatile fmcl_status s = FMCL_ERR_FORMAT; /* the message is in err */
    if (setjmp(fault.jump)) goto done;
    jpeg_create_decompress(&d);
    d.progress = &progress;
    jpeg_mem_src(&d, file, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    const uint64_t pixels = (uint64_t)d.image_width * d.image_height;
    if (pixels > max_pixels) {
        s = too_large(d.image_width, d.image_height, max_pixels, err, errlen);
        goto done;
    }
    if (pixels > (uint64_t)MAX_RATIO * len) {
        s = too_short("JPEG", d.image_width, d.image_height, len, err, errlen);
        goto done;
    }
    /* Grey from a colour JPEG is its own luma, Y (libjpeg drops Cb and Cr). */
    d.out_color_space = channels == 1 || d.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE
                                                                             : JCS_RGB;
    jpeg_start_decompress(&d);
    const int ch = d.output_components;
    const size_t stride = (size_t)d.output_width * ch;
    px = malloc(stride * d.output_height);
    if (!px) {
        s = fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory for %u x %u pixels",
                      d.output_width, d.output_height);
        goto done;
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = px + d.output_scanline * stride;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    *out = to_channels(px, ch, channels, (size_t)d.output_width * d.output_height);
    px = NULL;
    *w = (int)d.output_width;
    *h = (int)d.output_height;
    s = *out ? FMCL_OK : fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory converting");
done:
    jpeg_destroy_decompress(&d);
    free(px);
    return s;
}

fmcl_status fmcl_image_decode(const unsigned char *file, size_t len, int channels,
                              size_t max_pixels, unsigned char **px, int *w, int *h, char *err,
                              size_t errlen)
{
    *px = NULL;
    *w = *h = 0;
    if (!file || (channels != 1 && channels != 3))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG, "fmcl_image_decode: bad arguments");
    if (len >= sizeof png_sig && memcmp(file, png_sig, sizeof png_sig) == 0)
        return decode_png(file, len, channels, max_pixels, px, w, h, err, errlen);
    if (len >= 3 && file[0] == 0xff && file[1] == 0xd8 && file[2] == 0xff)
        return decode_jpeg(file, len, channels, max_pixels, px, w, h, err, errlen);
    const char *other = other_format(file, len);
    if (other)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "it is a %s file, not PNG or JPEG; fmcl reads only those two", other);
    char head[3 * 8 + 1] = "";
    for (size_t i = 0; i < len && i < 8; i++) snprintf(head + 3 * i, 4, " %02x", file[i]);
    return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                     "it is neither PNG nor JPEG (it starts with%s, not either's signature); "
                     "fmcl reads only those two",
                     len ? head : " nothing");
}
