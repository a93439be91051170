/* Image data sets: IDX (raw and gzip), CIFAR-10 batches and image folders
 * from files written here, their rejection of malformed input, the resizing
 * filters against closed forms, the training batch op on every device
 * against its reference, and the bits/dim offset of 8-bit data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <stb_image.h>
#include <stb_image_write.h>

#include "data/images.h"
#include "io/atomic.h"
#include "scratch.h"
#include "testlib.h"

static void put_gz(const char *path, const void *data, size_t len)
{
    gzFile g = gzopen(path, "wb");
    if (!g || gzwrite(g, data, (unsigned)len) != (int)len) tl_check(0, "cannot gzip %s", path);
    if (g) gzclose(g);
}

/* An IDX header: 00 00 08 ndims, then big-endian sizes. Returns its length. */
static size_t idx_head(unsigned char *b, int ndims, const uint32_t *dims, unsigned char type)
{
    b[0] = b[1] = 0;
    b[2] = type;
    b[3] = (unsigned char)ndims;
    for (int i = 0; i < ndims; i++)
        for (int j = 0; j < 4; j++) b[4 + 4 * i + j] = (unsigned char)(dims[i] >> (24 - 8 * j));
    return 4 + 4 * (size_t)ndims;
}

enum { NI = 5, R = 3, C = 4 };
static unsigned char pix[NI * R * C], lab[NI];

static void test_idx(void)
{
    unsigned char img[16 + NI * R * C], lb[8 + NI];
    for (int i = 0; i < NI * R * C; i++) pix[i] = (unsigned char)(i * 53 + 7);
    for (int i = 0; i < NI; i++) lab[i] = (unsigned char)(i * 3 % 7);
    size_t h = idx_head(img, 3, (uint32_t[]){NI, R, C}, 8);
    memcpy(img + h, pix, sizeof pix);
    h = idx_head(lb, 1, (uint32_t[]){NI}, 8);
    memcpy(lb + h, lab, sizeof lab);
    put(at("train-images-idx3-ubyte"), img, sizeof img);
    put(at("train-labels-idx1-ubyte"), lb, sizeof lb);
    put_gz(at("t10k-images-idx3-ubyte.gz"), img, sizeof img);
    put_gz(at("t10k-labels-idx1-ubyte.gz"), lb, sizeof lb);

    char err[1024], what[256];
    fmcl_images im;
    /* Raw, then gzip through the test split of mnist:DIR: the same bytes. */
    for (int test = 0; test < 2; test++) {
        char spec[300];
        snprintf(spec, sizeof spec, "mnist:%s", scratch_dir());
        fmcl_status s = fmcl_images_open(spec, test, 0, 0, 0, &im, what, sizeof what, err,
                                         sizeof err);
        if (tl_check(s == FMCL_OK, "mnist: (test %d): %s", test, err)) {
            tl_check(im.n == NI && im.c == 1 && im.h == R && im.w == C, "idx shape %d %dx%dx%d",
                     im.n, im.c, im.h, im.w);
            tl_check(memcmp(im.pixels, pix, sizeof pix) == 0, "idx pixels differ (test %d)", test);
            tl_check(im.labels && memcmp(im.labels, lab, sizeof lab) == 0, "idx labels differ");
            tl_check(im.classes == 7, "classes %d, expected 1 + the largest label 6", im.classes);
            printf("  %s\n", what);
        }
        fmcl_images_free(&im);
    }
    /* --limit, and idx:FILE finds the labels beside it. */
    fmcl_status s = fmcl_images_open("idx:", 0, 0, 0, 0, &im, NULL, 0, err, sizeof err);
    expect_error("idx: with no file", s, FMCL_ERR_ARG, err, "names no file", NULL);
    char spec[300];
    snprintf(spec, sizeof spec, "idx:%s", at("t10k-images-idx3-ubyte.gz"));
    s = fmcl_images_open(spec, 0, 0, 0, 2, &im, NULL, 0, err, sizeof err);
    if (tl_check(s == FMCL_OK, "idx: %s", err))
        tl_check(im.n == 2 && memcmp(im.pixels, pix, 2 * R * C) == 0 && im.labels &&
                     memcmp(im.labels, lab, 2) == 0,
                 "idx: --limit 2 keeps the first two images and labels");
    fmcl_images_free(&im);

    /* Malformed files. */
    put(at("trunc-idx"), img, sizeof img - 1);
    s = fmcl_idx_load(at("trunc-idx"), NULL, 0, &im, err, sizeof err);
    expect_error("truncated IDX", s, FMCL_ERR_FORMAT, err, "truncated", "trunc-idx");
    put(at("short-idx"), img, 10);
    s = fmcl_idx_load(at("short-idx"), NULL, 0, &im, err, sizeof err);
    expect_error("IDX shorter than its header", s, FMCL_ERR_FORMAT, err, "header", NULL);
    s = fmcl_idx_load(at("train-labels-idx1-ubyte"), NULL, 0, &im, err, sizeof err);
    expect_error("labels given as images", s, FMCL_ERR_FORMAT, err, "0x00000801", "0x00000803");
    unsigned char bad[16 + NI * R * C];
    memcpy(bad, img, sizeof bad);
    bad[2] = 0x0d; /* float elements */
    put(at("float-idx"), bad, sizeof bad);
    s = fmcl_idx_load(at("float-idx"), NULL, 0, &im, err, sizeof err);
    expect_error("IDX of floats", s, FMCL_ERR_FORMAT, err, "magic 0x00000d03", NULL);
    put(at("text-idx"), "P5 hello", 8);
    s = fmcl_idx_load(at("text-idx"), NULL, 0, &im, err, sizeof err);
    expect_error("not IDX at all", s, FMCL_ERR_FORMAT, err, "not an IDX file", NULL);
    unsigned char huge[16 + 8];
    idx_head(huge, 3, (uint32_t[]){65536, 65536, 65536}, 8);
    put(at("huge-idx"), huge, sizeof huge);
    s = fmcl_idx_load(at("huge-idx"), NULL, 0, &im, err, sizeof err);
    expect_error("dimensions overflow", s, FMCL_ERR_FORMAT, err, "more than", NULL);
    idx_head(huge, 3, (uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu}, 8);
    put(at("huge2-idx"), huge, sizeof huge);
    s = fmcl_idx_load(at("huge2-idx"), NULL, 0, &im, err, sizeof err);
    expect_error("dimensions overflow 64 bits", s, FMCL_ERR_FORMAT, err, "more than", NULL);
    unsigned char lb4[8 + NI - 1];
    idx_head(lb4, 1, (uint32_t[]){NI - 1}, 8);
    memcpy(lb4 + 8, lab, NI - 1);
    put(at("four-labels"), lb4, sizeof lb4);
    s = fmcl_idx_load(at("train-images-idx3-ubyte"), at("four-labels"), 0, &im, err, sizeof err);
    expect_error("label count != image count", s, FMCL_ERR_FORMAT, err, "4 labels", "5 images");

    /* Damaged gzip: a byte flipped inside the deflate data, and a cut file. */
    unsigned char *gz = NULL;
    size_t gzlen = 0;
    FILE *f = fopen(at("t10k-images-idx3-ubyte.gz"), "rb");
    if (f) {
        gz = malloc(4096);
        gzlen = fread(gz, 1, 4096, f);
        fclose(f);
    }
    if (tl_check(gz && gzlen > 30, "reading back the gzip file")) {
        put(at("cut.gz"), gz, gzlen / 2);
        s = fmcl_idx_load(at("cut.gz"), NULL, 0, &im, err, sizeof err);
        expect_error("truncated gzip", s, FMCL_ERR_FORMAT, err, "ends early", "cut.gz");
        for (size_t i = 10; i < gzlen - 8; i++) gz[i] ^= 0x5a;
        put(at("corrupt.gz"), gz, gzlen);
        s = fmcl_idx_load(at("corrupt.gz"), NULL, 0, &im, err, sizeof err);
        expect_error("corrupt gzip", s, FMCL_ERR_FORMAT, err, "corrupt.gz", "gzip");
    }
    free(gz);
}

static void test_cifar(void)
{
    enum { REC = 3073 };
    unsigned char *b = malloc(7 * REC);
    if (!tl_check(b != NULL, "memory")) return;
    for (int r = 0; r < 7; r++) {
        b[r * REC] = (unsigned char)(r % 10);
        for (int i = 1; i < REC; i++) b[r * REC + i] = (unsigned char)(r * 31 + i * 7);
    }
    char sub[512], err[1024];
    snprintf(sub, sizeof sub, "%s", at("cifar"));
    mkdir(sub, 0777);
    for (int k = 1; k <= 5; k++) { /* batches of 1 record, the last of 3 */
        char name[64];
        snprintf(name, sizeof name, "cifar/data_batch_%d.bin", k);
        put(at(name), b + (k - 1) * REC, (k == 5 ? 3 : 1) * (size_t)REC);
    }
    put(at("cifar/test_batch.bin"), b + 2 * REC, 2 * (size_t)REC);
    fmcl_images im;
    fmcl_status s = fmcl_cifar_load(sub, 0, 0, &im, err, sizeof err);
    if (tl_check(s == FMCL_OK, "cifar folder: %s", err)) {
        tl_check(im.n == 7 && im.c == 3 && im.h == 32 && im.w == 32, "cifar shape");
        int same = 1;
        for (int r = 0; r < 7; r++)
            same &= im.labels[r] == r % 10 &&
                    memcmp(im.pixels + (size_t)r * 3072, b + r * REC + 1, 3072) == 0;
        tl_check(same, "cifar: records in batch order, label and CHW pixels as written");
    }
    fmcl_images_free(&im);
    s = fmcl_cifar_load(sub, 1, 0, &im, err, sizeof err);
    tl_check(s == FMCL_OK && im.n == 2 && im.labels[1] == 3, "cifar test split: %s", err);
    fmcl_images_free(&im);
    s = fmcl_cifar_load(sub, 0, 4, &im, err, sizeof err);
    tl_check(s == FMCL_OK && im.n == 4 && im.labels[3] == 3, "cifar --limit 4");
    fmcl_images_free(&im);
    put(at("cifar-cut.bin"), b, 2 * REC - 5);
    s = fmcl_cifar_load(at("cifar-cut.bin"), 0, 0, &im, err, sizeof err);
    expect_error("truncated CIFAR batch", s, FMCL_ERR_FORMAT, err, "whole number", NULL);
    b[REC] = 17;
    put(at("cifar-label.bin"), b, 2 * REC);
    s = fmcl_cifar_load(at("cifar-label.bin"), 0, 0, &im, err, sizeof err);
    expect_error("CIFAR label out of range", s, FMCL_ERR_FORMAT, err, "label 17", NULL);
    free(b);
}

/* The interpolant of a 2 x 2 image at (x, y) in [0, 1]^2. */
static double bilerp(const unsigned char *q, double x, double y)
{
    return (1 - y) * ((1 - x) * q[0] + x * q[1]) + y * ((1 - x) * q[2] + x * q[3]);
}

static void test_resize(void)
{
    /* Shrinking 4 x 4 -> 2 x 2 averages 2 x 2 blocks; a 6 x 4 image first
     * loses one column on each side. */
    unsigned char src[4 * 6], dst[16], want[4];
    for (int i = 0; i < 24; i++) src[i] = (unsigned char)(i * 41 % 256);
    tl_check(fmcl_image_square_resize(dst, 2, src, 6, 4, 1) == 0, "resize 6 x 4");
    for (int by = 0; by < 2; by++)
        for (int bx = 0; bx < 2; bx++) {
            int sum = 0;
            for (int y = 0; y < 2; y++)
                for (int x = 0; x < 2; x++) sum += src[(2 * by + y) * 6 + 1 + 2 * bx + x];
            want[by * 2 + bx] = (unsigned char)lround(sum / 4.0);
        }
    tl_check(memcmp(dst, want, 4) == 0, "area average: %d %d %d %d, expected %d %d %d %d", dst[0],
             dst[1], dst[2], dst[3], want[0], want[1], want[2], want[3]);
    /* Shrinking 3 -> 2: output 0 covers pixel 0 and half of pixel 1. */
    unsigned char row3[9] = {0, 90, 180, 30, 60, 90, 200, 100, 0}, d2[4];
    tl_check(fmcl_image_square_resize(d2, 2, row3, 3, 3, 1) == 0, "resize 3 x 3");
    const double c0 = (0 + 0.5 * 90) / 1.5, c1 = (30 + 0.5 * 60) / 1.5; /* rows 0, 1 */
    const double wt = (c0 + 0.5 * c1) / 1.5;
    tl_check(d2[0] == lround(wt), "fractional area weights: %d, expected %ld", d2[0], lround(wt));
    /* Enlarging 2 x 2 -> 4 x 4: bilinear at pixel centres (i + 0.5) / 2 - 0.5,
     * clamped to the edge ones. */
    const unsigned char q[4] = {0, 100, 200, 40};
    static const double pos[4] = {0, 0.25, 0.75, 1};
    tl_check(fmcl_image_square_resize(dst, 4, q, 2, 2, 1) == 0, "resize 2 x 2");
    int bad = 0;
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) bad += dst[y * 4 + x] != lround(bilerp(q, pos[x], pos[y]));
    tl_check(bad == 0, "bilinear enlargement: %d pixels differ", bad);
    printf("  resize: area averaging, fractional weights and bilinear enlargement checked\n");
}

static void test_imgdir(void)
{
    char sub[512], err[1024], spec[600];
    fmcl_images im;
    snprintf(sub, sizeof sub, "%s", at("imgs"));
    mkdir(sub, 0777);
    fmcl_status s = fmcl_imgdir_load(sub, 2, 1, 0, &im, err, sizeof err);
    expect_error("empty image folder", s, FMCL_ERR_FORMAT, err, "holds no", NULL);
    put(at("imgs/readme.txt"), "hello", 5);
    s = fmcl_imgdir_load(sub, 2, 1, 0, &im, err, sizeof err);
    expect_error("folder without images", s, FMCL_ERR_FORMAT, err, "holds no", NULL);
    /* b.png: 2 x 2 RGB, distinct colours; a.png: grey 2 x 2 (r = g = b). */
    const unsigned char rgb[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    const unsigned char grey[4] = {0, 77, 150, 255};
    tl_check(stbi_write_png(at("imgs/b.png"), 2, 2, 3, rgb, 6) &&
                 stbi_write_png(at("imgs/a.png"), 2, 2, 1, grey, 2),
             "writing two PNG files");
    snprintf(spec, sizeof spec, "images:%s", sub);
    s = fmcl_images_open(spec, 0, 2, 3, 0, &im, NULL, 0, err, sizeof err);
    if (tl_check(s == FMCL_OK, "image folder: %s", err)) {
        tl_check(im.n == 2 && im.c == 3 && im.h == 2 && im.w == 2 && !im.labels,
                 "image folder shape %d %dx%dx%d", im.n, im.c, im.h, im.w);
        int ok = 1;
        for (int p = 0; p < 4; p++)
            for (int c = 0; c < 3; c++) {
                ok &= im.pixels[c * 4 + p] == grey[p];             /* a.png first, grey to RGB */
                ok &= im.pixels[12 + c * 4 + p] == rgb[p * 3 + c]; /* CHW planes */
            }
        tl_check(ok, "image folder: name order, channel-major planes, values kept");
    }
    fmcl_images_free(&im);
    s = fmcl_images_open(spec, 0, 2, 1, 1, &im, NULL, 0, err, sizeof err);
    tl_check(s == FMCL_OK && im.n == 1 && memcmp(im.pixels, grey, 4) == 0,
             "image folder, grey, --limit 1: %s", err);
    fmcl_images_free(&im);
    /* RGB to grey: (77 R + 150 G + 29 B) / 256, rounded down. */
    s = fmcl_images_open(spec, 0, 2, 1, 0, &im, NULL, 0, err, sizeof err);
    if (tl_check(s == FMCL_OK && im.n == 2, "image folder, grey: %s", err)) {
        int same = 1;
        for (int p = 0; p < 4; p++)
            same &= im.pixels[4 + p] ==
                    (rgb[3 * p] * 77 + rgb[3 * p + 1] * 150 + rgb[3 * p + 2] * 29) >> 8;
        tl_check(same, "RGB to grey: %d %d %d %d", im.pixels[4], im.pixels[5], im.pixels[6],
                 im.pixels[7]);
    }
    fmcl_images_free(&im);
    s = fmcl_images_open(spec, 0, 0, 1, 0, &im, NULL, 0, err, sizeof err);
    expect_error("images: without a size", s, FMCL_ERR_ARG, err, "the side of the square", NULL);
    /* A JPEG of one grey level, 6 x 3, shrunk to 2 x 2 (lossy: within 2 levels). */
    char jdir[512];
    snprintf(jdir, sizeof jdir, "%s", at("jpeg"));
    mkdir(jdir, 0777);
    unsigned char flat[6 * 3 * 3];
    memset(flat, 140, sizeof flat);
    tl_check(stbi_write_jpg(at("jpeg/photo.JPG"), 6, 3, 3, flat, 95), "writing a JPEG file");
    s = fmcl_imgdir_load(jdir, 2, 1, 0, &im, err, sizeof err);
    if (tl_check(s == FMCL_OK && im.n == 1, "JPEG folder: %s", err)) {
        int near = 1;
        for (int p = 0; p < 4; p++) near &= abs(im.pixels[p] - 140) <= 2;
        tl_check(near, "JPEG: grey 140 came back as %d %d %d %d", im.pixels[0], im.pixels[1],
                 im.pixels[2], im.pixels[3]);
    }
    fmcl_images_free(&im);
    /* A corrupt and a truncated PNG. */
    unsigned char png[256];
    FILE *f = fopen(at("imgs/b.png"), "rb");
    size_t n = f ? fread(png, 1, sizeof png, f) : 0;
    if (f) fclose(f);
    tl_check(n > 16, "reading back b.png: %zu bytes", n);
    put(at("imgs/c.png"), png, n / 2);
    s = fmcl_imgdir_load(sub, 2, 3, 0, &im, err, sizeof err);
    expect_error("truncated PNG", s, FMCL_ERR_FORMAT, err, "c.png", NULL);
    put(at("imgs/c.png"), "\x89PNG\r\n\x1a\nthis is not a picture", 29);
    s = fmcl_imgdir_load(sub, 2, 3, 0, &im, err, sizeof err);
    expect_error("corrupt PNG", s, FMCL_ERR_FORMAT, err, "c.png", NULL);
}

/* The decoders against stb_image (which fmcl no longer uses for reading,
 * but trusts on these files) on the PNG and JPEG seeds of the image fuzzer
 * (tests/fuzz/corpus/image, written by tests/fuzz/make_seeds.c): colour
 * types, bit depths, palettes, alpha, interlacing; baseline, progressive,
 * restart markers. PNG must agree exactly; JPEG within what two IDCTs and
 * upsamplers differ by. */
static void test_decoders(void)
{
    static const char *const files[] = {
        "grey8.png",  "grey1.png",       "grey16.png",   "grey_alpha.png", "rgb.png",
        "rgba16.png", "palette.png",     "palette2.png", "interlaced.png", "grey.jpg",
        "rgb.jpg",    "progressive.jpg", "restart.jpg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        for (int ch = 1; ch <= 3; ch += 2) {
            char path[256], err[512];
            snprintf(path, sizeof path, "fuzz/corpus/image/%s", files[i]);
            unsigned char *file = NULL, *px = NULL, *want = NULL;
            size_t len = 0;
            int w = 0, h = 0, sw = 0, sh = 0, comp = 0;
            if (!tl_check(fmcl_read_file(path, 1 << 20, &file, &len, err, sizeof err) == FMCL_OK,
                          "%s", err))
                continue;
            fmcl_status s = fmcl_image_decode(file, len, ch, FMCL_IMAGE_MAX_PIXELS, &px, &w, &h,
                                              err, sizeof err);
            want = stbi_load_from_memory(file, (int)len, &sw, &sh, &comp, ch);
            if (tl_check(s == FMCL_OK && want && w == sw && h == sh,
                         "%s, %d channel(s): %s; %d x %d, stb %d x %d", files[i], ch,
                         s == FMCL_OK ? "decoded" : err, w, h, sw, sh)) {
                int worst = 0;
                for (size_t k = 0; k < (size_t)w * h * ch; k++)
                    if (abs(px[k] - want[k]) > worst) worst = abs(px[k] - want[k]);
                const int jpeg = strstr(files[i], ".jpg") != NULL;
                tl_check(worst <= (jpeg ? 3 : 0),
                         "%s, %d channel(s): differs from stb_image by "
                         "up to %d levels",
                         files[i], ch, worst);
                if (ch == 3)
                    printf("  %-16s %2d x %-2d  stb_image differs by %d\n", files[i], w, h, worst);
            }
            free(file);
            free(px);
            stbi_image_free(want);
        }
}

/* The bits/dim offset of 8-bit data: the uniform density on [-1, 1]^D
 * (log p = -D ln 2) is the uniform density on [0, 256)^D after the scaling,
 * 8 bits per dimension exactly. */
static void test_bpd_offset(void)
{
    enum { n = 4, D = 784 };
    double logp[n];
    for (int i = 0; i < n; i++) logp[i] = -D * log(2.0);
    fmcl_nll_stats st;
    fmcl_nll_stats_of(logp, n, D, &st);
    tl_check(fabs(st.bpd - 1) < 1e-12, "uniform on [-1, 1]: %.15g bits/dim, expected 1", st.bpd);
    fmcl_nll_stats_dequantized(&st, 8);
    tl_check(fabs(st.bpd - 8) < 1e-12, "dequantised: %.15g bits/dim, expected 8", st.bpd);
    tl_check(fabs(st.nll - D * log(256.0)) < 1e-9, "dequantised: %.12g nats, expected D ln 256",
             st.nll);
    tl_check(st.nll_se == 0 && st.bpd_se == 0, "equal values have no standard error");
    printf("  bits/dim: uniform on [-1, 1]^%d gives %.6f, dequantised 8-bit %.6f\n", D, 1.0,
           st.bpd);
}

/* The training batch on a device against its reference, and the reference
 * against what it promises: each value dequantises its own pixel. */
static int test_batch(fmcl_ctx *ctx, void *user)
{
    (void)user;
    enum { N = 11, Cc = 3, H = 5, W = 7, B = 203, D = Cc * H * W };
    static unsigned char px[N * D + 3];
    for (int i = 0; i < N * D; i++) px[i] = (unsigned char)(i * 89 + 5);
    static float want[B * D], got[B * D], packed[(N * D + 3) / 4];
    memcpy(packed, px, sizeof packed);
    for (int hflip = 0; hflip < 2; hflip++) {
        tl_buf bp, bx;
        if (!tl_buf_new(ctx, &bp, sizeof packed / 4, packed)) return 1;
        if (!tl_buf_new(ctx, &bx, B * D, NULL)) return 1;
        fmcl_status s = fmcl_image_batch(ctx, bx.t, bp.t, 99, 4, N, Cc, H, W, hflip, B);
        tl_check(s == FMCL_OK, "image_batch: %s", fmcl_ctx_error(ctx));
        fmcl_image_batch_ref(want, px, 99, 4, 0, N, Cc, H, W, hflip, B);
        tl_buf_read(ctx, &bx, got);
        tl_close_f(hflip ? "image_batch, mirrored" : "image_batch", got, want, B * D, 2.5e-7, 1e-6);
        tl_guard_ok(ctx, &bx, "image_batch x1");
        tl_buf_free(&bp);
        tl_buf_free(&bx);
        /* Every value lies in its pixel's cell [2k/256 - 1, 2(k+1)/256 - 1]
         * of one image (mirrored or not); u averages 1/2; half are mirrored. */
        int cells = 1, flipped = 0;
        double usum = 0;
        for (int b = 0; b < B; b++) {
            int match = 0, mirror = 0;
            for (int r = 0; r < N && !match; r++)
                for (int f = 0; f <= hflip && !match; f++) {
                    int all = 1;
                    for (int d = 0; d < D && all; d++) {
                        int col = d % W, srcd = f ? d - col + (W - 1 - col) : d;
                        double y = (want[b * D + d] + 1.0) * 128.0 - px[r * D + srcd];
                        all = y >= -1e-5 && y <= 1 + 1e-5;
                    }
                    if (all) match = 1, mirror = f;
                }
            cells &= match;
            flipped += mirror;
            for (int d = 0; d < D; d++)
                usum += (want[b * D + d] + 1.0) * 128.0 - floor((want[b * D + d] + 1.0) * 128.0);
        }
        tl_check(cells, "every batch row is a dequantised image of the set");
        const double umean = usum / (B * D);
        tl_check(fabs(umean - 0.5) < 0.02, "mean dequantisation noise %.4f, expected 1/2", umean);
        if (hflip)
            tl_check(flipped > B / 2 - 40 && flipped < B / 2 + 40,
                     "%d of %d rows mirrored, expected about half", flipped, B);
    }
    float x[3 * D], tail[2 * D];
    fmcl_images_dequantize(x, px, 0, 3, D, 5, 7);
    fmcl_images_dequantize(tail, px, 1, 2, D, 5, 7);
    int in_cell = 1;
    for (int i = 0; i < 3 * D; i++) {
        double y = (x[i] + 1.0) * 128.0 - px[i];
        in_cell &= y >= 0 && y <= 1;
    }
    tl_check(in_cell, "host dequantisation keeps each value in its pixel's cell");
    tl_check(!memcmp(tail, x + D, sizeof tail), "images 1 and 2 alone dequantise as in all three");
    return 0;
}

int main(void)
{
    if (!scratch_make("datasets")) return 1;
    test_idx();
    test_cifar();
    test_resize();
    test_imgdir();
    test_decoders();
    test_bpd_offset();
    scratch_remove();
    return tl_for_each_device(test_batch, NULL);
}
