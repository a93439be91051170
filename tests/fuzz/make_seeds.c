/* Writes the seed corpora of the fuzz harnesses: small valid files of each
 * format, in the variants the readers handle (gzip or not, .npy versions,
 * PNG colour types, bit depths and interlacing, baseline, progressive,
 * restart-marker and arithmetic-coded JPEG), plus the inputs of issue 14.
 *   make_seeds DIR     (DIR: tests/fuzz/corpus; its subfolders must exist)
 * Run by hand when a format gains a variant; the output is committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <jpeglib.h> /* after stdio.h, which it needs */
#include <png.h>

#include "io/atomic.h"
#include "io/safetensors.h"
#include "nn/unet.h"
#include "runtime/cache.h"

static const char *out_dir;
static int failures;

static const char *at(const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", out_dir, name);
    return buf;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "make_seeds: %s failed\n", what);
        failures++;
    }
}

static void put(const char *name, const void *data, size_t len)
{
    FILE *f = fopen(at(name), "wb");
    check(f && fwrite(data, 1, len, f) == len, name);
    if (f) fclose(f);
}

static void put_gz(const char *name, const void *data, size_t len)
{
    gzFile g = gzopen(at(name), "wb9");
    check(g && gzwrite(g, data, (unsigned)len) == (int)len, name);
    if (g) gzclose(g);
}

static void json(void)
{
    static const char *const texts[] = {
        "{\"a\": [1, -0, 2.5e2, true, false, null, \"x\\u00e9\\ud83d\\ude00\"], \"b\": {}}",
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", -1.5E+3, 9223372036854775807, -9223372036854775808]",
        ("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
         "\"__metadata__\":{\"format\":\"pt\"}}"),
        "[[[[[[[[{}]]]]]]]]",
        " \t\r\n\"caf\xc3\xa9\" ",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "json/seed%zu.json", i);
        put(name, texts[i], strlen(texts[i]));
    }
}

static void safetensors(void)
{
    static const float w[6] = {1, -2, 3.5f, 0, 1e-3f, -7};
    static const unsigned char u8[4] = {1, 2, 3, 255};
    static const int64_t step = 42;
    static const double d = 0.25;
    const fmcl_st_tensor t[] = {
        {.name = "0.weight",
         .dtype = FMCL_ST_F32,
         .ndim = 2,
         .shape = {2, 3},
         .data = w,
         .nbytes = sizeof w},
        {.name = "mask", .dtype = FMCL_ST_U8, .ndim = 1, .shape = {4}, .data = u8, .nbytes = 4},
        {.name = "step", .dtype = FMCL_ST_I64, .ndim = 1, .shape = {1}, .data = &step, .nbytes = 8},
        {.name = "scalar", .dtype = FMCL_ST_F64, .ndim = 0, .data = &d, .nbytes = 8},
        {.name = "empty", .dtype = FMCL_ST_F32, .ndim = 2, .shape = {0, 5}, .nbytes = 0},
    };
    const char *meta[] = {"format", "pt", "note", "caf\xc3\xa9"};
    char err[512];
    check(fmcl_st_write(at("safetensors/five.safetensors"), t, 5, meta, 2, err, sizeof err) ==
              FMCL_OK,
          err);
    check(fmcl_st_write(at("safetensors/one.safetensors"), t, 1, NULL, 0, err, sizeof err) ==
              FMCL_OK,
          err);
    /* PyTorch's half precisions: 1, -2, the smallest subnormal, the largest
     * finite value; F64 beyond float's range. */
    static const uint16_t f16[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};
    static const uint16_t bf16[4] = {0x3f80, 0xc000, 0x0001, 0x7f7f};
    static const double big[2] = {1e300, -0.5};
    const fmcl_st_tensor h[] = {
        {.name = "0.weight",
         .dtype = FMCL_ST_F16,
         .ndim = 2,
         .shape = {2, 2},
         .data = f16,
         .nbytes = sizeof f16},
        {.name = "0.bias",
         .dtype = FMCL_ST_BF16,
         .ndim = 1,
         .shape = {4},
         .data = bf16,
         .nbytes = sizeof bf16},
        {.name = "big",
         .dtype = FMCL_ST_F64,
         .ndim = 1,
         .shape = {2},
         .data = big,
         .nbytes = sizeof big},
    };
    check(fmcl_st_write(at("safetensors/halves.safetensors"), h, 3, NULL, 0, err, sizeof err) ==
              FMCL_OK,
          err);
}

/* A training checkpoint's metadata (fmcl_train_config's keys) with the
 * MLP's config and loss curve; and a U-Net checkpoint with every tensor its
 * plan names. */
static void checkpoints(void)
{
    static const float loss[3] = {1.5f, 1.25f, 1.0f};
    const fmcl_st_tensor lt = {.name = "train.loss",
                               .dtype = FMCL_ST_F32,
                               .ndim = 1,
                               .shape = {3},
                               .data = loss,
                               .nbytes = sizeof loss};
    const char *mlp[] = {
        "format",       "fmcl-mlp", "dim",        "2",     "width",       "8",
        "depth",        "2",        "time_freqs", "0",     "data_kind",   "checkerboard",
        "n_points",     "0",        "batch",      "64",    "steps",       "3",
        "lr",           "0.001",    "warmup",     "0",     "lr_schedule", "constant",
        "beta1",        "0.9",      "beta2",      "0.999", "eps",         "1e-08",
        "weight_decay", "0",        "clip",       "0",     "ema",         "0",
        "seed",         "1",        "path",       "ot",    "coupling",    "independent",
        "sigma_min",    "0",        "step",       "3"};
    char err[512];
    check(fmcl_st_write(at("checkpoint/mlp.safetensors"), &lt, 1, mlp,
                        (int)(sizeof mlp / sizeof mlp[0] / 2), err, sizeof err) == FMCL_OK,
          err);

    fmcl_unet_spec c;
    fmcl_unet_spec_default(&c, 1, 4, 4);
    c.base = 4, c.levels = 1, c.mult[0] = 1, c.blocks = 1, c.attn_levels = 1, c.heads = 1;
    c.groups = 2, c.classes = 2;
    fmcl_unet_plan *plan = NULL;
    if (fmcl_unet_plan_create(&c, 1, &plan, err, sizeof err) != FMCL_OK) {
        check(0, err);
        return;
    }
    const int n = fmcl_unet_plan_tensor_count(plan);
    fmcl_st_tensor *t = calloc((size_t)n + 1, sizeof *t);
    float *flat = calloc(fmcl_unet_plan_params(plan) + 1, sizeof *flat);
    for (int i = 0; t && flat && i < n; i++) {
        const fmcl_unet_param *p = fmcl_unet_plan_tensor(plan, i);
        t[i] = (fmcl_st_tensor){.name = (char *)p->name,
                                .dtype = FMCL_ST_F32,
                                .ndim = p->ndim,
                                .data = flat + p->off,
                                .nbytes = p->n * sizeof *flat};
        for (int d = 0; d < p->ndim; d++) t[i].shape[d] = p->shape[d];
    }
    t[n] = lt;
    const char *unet[] = {
        "format",      "fmcl-unet", "channels",    "1",      "height",       "4",
        "width",       "4",         "base",        "4",      "blocks",       "1",
        "attn_levels", "1",         "heads",       "1",      "groups",       "2",
        "classes",     "2",         "mult",        "1",      "data_kind",    "images",
        "n_points",    "0",         "img_c",       "1",      "img_h",        "4",
        "img_w",       "4",         "hflip",       "0",      "label_drop",   "0.1",
        "batch",       "4",         "steps",       "3",      "lr",           "0.0002",
        "warmup",      "0",         "lr_schedule", "cosine", "beta1",        "0.9",
        "beta2",       "0.999",     "eps",         "1e-08",  "weight_decay", "0",
        "clip",        "1",         "ema",         "0.999",  "seed",         "7",
        "path",        "vp",        "coupling",    "ot",     "beta_min",     "0.1",
        "beta_max",    "20",        "step",        "3"};
    check(t && flat &&
              fmcl_st_write(at("checkpoint/unet.safetensors"), t, n + 1, unet,
                            (int)(sizeof unet / sizeof unet[0] / 2), err, sizeof err) == FMCL_OK,
          "U-Net checkpoint");
    free(t);
    free(flat);
    fmcl_unet_plan_free(plan);
}

static void npy(void)
{
    static const float x[6] = {0.5f, -1, 2, 3, -4.25f, 1e-3f};
    char err[512];
    check(fmcl_npy_write(at("npy/f4_2x3.npy"), x, (int64_t[]){2, 3}, 2, err, sizeof err) == FMCL_OK,
          err);
    check(fmcl_npy_write(at("npy/f4_6.npy"), x, (int64_t[]){6}, 1, err, sizeof err) == FMCL_OK,
          err);
    check(fmcl_npy_write(at("npy/f4_scalar.npy"), x, NULL, 0, err, sizeof err) == FMCL_OK, err);
    /* Version 2.0 (4-byte header length), float64, written as NumPy does. */
    static const double y[2] = {1.0 / 3, -2.5};
    unsigned char b[12 + 52 + sizeof y];
    const char dict[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    size_t hl = 52;
    memcpy(b, "\x93NUMPY\x02\x00", 8);
    b[8] = (unsigned char)hl, b[9] = b[10] = b[11] = 0;
    memset(b + 12, ' ', hl);
    memcpy(b + 12, dict, strlen(dict));
    b[12 + hl - 1] = '\n';
    memcpy(b + 12 + hl, y, sizeof y);
    put("npy/f8_v2.npy", b, sizeof b);
}

static void idx(void)
{
    unsigned char img[16 + 3 * 2 * 2] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
    for (int i = 0; i < 12; i++) img[16 + i] = (unsigned char)(i * 21);
    const unsigned char lab[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 0, 9, 4};
    const unsigned char lab1[9] = {0, 0, 8, 1, 0, 0, 0, 1, 5}; /* the harness's 1-image set */
    put("idx/images-idx3", img, sizeof img);
    put_gz("idx/images-idx3.gz", img, sizeof img);
    put("idx/labels-idx1", lab, sizeof lab);
    put_gz("idx/labels-idx1.gz", lab, sizeof lab);
    put("idx/one-label-idx1", lab1, sizeof lab1);
}

static void cifar(void)
{
    enum { REC = 3073 };
    static unsigned char b[2 * REC];
    for (int i = 0; i < 2 * REC; i++) b[i] = (unsigned char)(i * 13);
    b[0] = 3, b[REC] = 9;
    put("cifar/two.bin", b, sizeof b);
}

/* A w x h PNG of the colour type, bit depth and interlacing given, its
 * samples from a pattern; palette images get a palette and tRNS. */
static void png(const char *name, int w, int h, int color, int depth, int interlace)
{
    FILE *f = fopen(at(name), "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!f || !info || setjmp(png_jmpbuf(p))) {
        check(0, name);
        png_destroy_write_struct(&p, &info);
        if (f) fclose(f);
        return;
    }
    png_init_io(p, f);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
        png_byte trns[2] = {255, 128};
        png_set_PLTE(p, info, pal, 4);
        png_set_tRNS(p, info, trns, 2, NULL);
    }
    png_write_info(p, info);
    const size_t row = png_get_rowbytes(p, info);
    unsigned char *px = malloc(row * (size_t)h);
    png_bytep *rows = malloc(sizeof *rows * (size_t)h);
    for (size_t i = 0; px && i < row * (size_t)h; i++)
        px[i] = (unsigned char)(color == PNG_COLOR_TYPE_PALETTE ? (i * 0x1b) & 0xff : i * 37);
    if (color == PNG_COLOR_TYPE_PALETTE && depth == 8)
        for (size_t i = 0; px && i < row * (size_t)h; i++) px[i] &= 3;
    for (int y = 0; px && rows && y < h; y++) rows[y] = px + (size_t)y * row;
    if (px && rows) {
        png_write_image(p, rows);
        png_write_end(p, NULL);
    }
    check(px && rows, name);
    png_destroy_write_struct(&p, &info);
    fclose(f);
    free(px);
    free(rows);
}

/* A w x h JPEG (components 1 or 3) of a pattern, baseline unless asked. */
static void jpeg(const char *name, int w, int h, int components, int progressive, int restart,
                 int arith)
{
    FILE *f = fopen(at(name), "wb");
    if (!f) {
        check(0, name);
        return;
    }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = components;
    c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 75, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    c.restart_interval = (unsigned)restart;
    c.arith_code = arith ? TRUE : FALSE;
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)w * components);
    while (row && c.next_scanline < c.image_height) {
        for (int i = 0; i < w * components; i++)
            row[i] = (unsigned char)(i * 9 + c.next_scanline * 17);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    check(row != NULL, name);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    fclose(f);
}

static void images(void)
{
    png("image/grey8.png", 3, 2, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE);
    png("image/grey1.png", 9, 2, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE);
    png("image/grey16.png", 2, 2, PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE);
    png("image/grey_alpha.png", 2, 3, PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE);
    png("image/rgb.png", 4, 3, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE);
    png("image/rgba16.png", 2, 2, PNG_COLOR_TYPE_RGB_ALPHA, 16, PNG_INTERLACE_NONE);
    png("image/palette.png", 5, 2, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE);
    png("image/palette2.png", 7, 3, PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE);
    png("image/interlaced.png", 9, 9, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7);
    jpeg("image/grey.jpg", 8, 8, 1, 0, 0, 0);
    jpeg("image/rgb.jpg", 17, 9, 3, 0, 0, 0);
    jpeg("image/progressive.jpg", 16, 8, 3, 1, 0, 0);
    jpeg("image/restart.jpg", 24, 16, 3, 0, 1, 0);
    jpeg("image/arith.jpg", 8, 16, 1, 0, 0, 1);
    /* Issue 14: the 9-byte JPEG that wrote out of bounds in stb_image, and a
     * 22-byte TGA declaring 8192 x 8192. */
    put("image/stb_huffman.jpg", "\xff\xd8\xff\xc4\x10\x03\x03\xff\xd9", 9);
    put("image/tga.png", "\0\0\x0a\0\0\0\0\0\0\0\0\0\x00\x20\x00\x20\x18\0\xff\0\0\0", 22);
}

static void tune(void)
{
    const char *text =
        "# two sections\n"
        "fmcl-clblast-params 1\nplatform Portable Computing Language\n"
        "device pthread-haswell-AMD EPYC\ndriver 3.1+debian\nclblast 1.5.3\n"
        "kernel Xgemm GEMMK=0 KREG=1 STRM=0 STRN=0 MWG=64 NWG=128 KWG=32 MDIMC=8 NDIMC=16 "
        "MDIMA=8 NDIMB=16 KWI=2 VWM=8 VWN=8 SA=0 SB=0\n"
        "kernel Transpose TRA_DIM=16 TRA_PAD=1 TRA_SHUFFLE=0 TRA_WPT=2\n"
        "kernel GemmRoutine XGEMM_MIN_INDIRECT_SIZE=1\nend\n\r\n"
        "fmcl-clblast-params 1\nplatform P\ndevice D\ndriver 1\nclblast 1.5.3\n"
        "kernel XgemmDirect WGD=32 MDIMCD=8 NDIMCD=8 MDIMAD=8 NDIMBD=8 KWID=2 VWMD=4 VWND=4 "
        "PADA=1 PADB=1\n"
        "kernel Copy COPY_DIMX=8 COPY_DIMY=8 COPY_VW=4 COPY_WPT=1\n"
        "kernel Pad PAD_DIMX=8 PAD_DIMY=8 PAD_WPTX=1 PAD_WPTY=1\n"
        "kernel Padtranspose PADTRA_PAD=0 PADTRA_TILE=8 PADTRA_WPT=1\nend\n";
    put("tune/two.txt", text, strlen(text));
}

static void cache(void)
{
    uint8_t key[FMCL_CACHE_KEY_BYTES];
    for (int i = 0; i < FMCL_CACHE_KEY_BYTES; i++) key[i] = (uint8_t)i;
    static const char payload[] = "a driver's program binary";
    char err[512];
    check(fmcl_cache_write(at("cache/entry.bin"), key, payload, sizeof payload, err, sizeof err) ==
              FMCL_OK,
          err);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR (tests/fuzz/corpus)\n");
        return 2;
    }
    out_dir = argv[1];
    json();
    safetensors();
    checkpoints();
    npy();
    idx();
    cifar();
    images();
    tune();
    cache();
    return failures ? 1 : 0;
}
