/* What small hostile inputs can make the readers do (issue 14), one
 * regression test per bound, each failing without it:
 * - a gzip IDX whose header says one 28 x 28 image, followed by 200 MiB of
 *   zeros, is refused without inflating them (peak memory checked);
 * - /dev/zero (and a .npy symlinked to it) and a FIFO named a.png in an
 *   image folder are refused at once: regular files only (an alarm stops a
 *   reader that blocks);
 * - a safetensors header of more JSON values than the cap is refused;
 * - a 22-byte TGA named .png declaring 8192 x 8192 is refused by its magic,
 *   and the 9-byte JPEG that wrote out of bounds in stb_image is refused as
 *   corrupt by libjpeg-turbo; a truncated JPEG is refused, not padded grey;
 * - on each device, a checkpoint of a few hundred bytes whose metadata
 *   describes a model of 66 or 108 GB is refused before the model is made. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <stb_image_write.h>

#include "data/images.h"
#include "io/atomic.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "nn/model.h"
#include "scratch.h"
#include "testlib.h"

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* One gzip member holding data[0, len). Returns its length in out. */
static size_t gzip_member(const void *data, size_t len, unsigned char *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
    z.next_in = (unsigned char *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? n : 0;
}

/* Runs first, while the process's peak memory is still small. */
static void gzip_bomb(void)
{
    enum { ZEROS_MIB = 200 };
    unsigned char idx[16 + 28 * 28] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28};
    static unsigned char mib[1 << 20], head[4096], tail[8192];
    size_t hl = gzip_member(idx, sizeof idx, head, sizeof head);
    size_t tl = gzip_member(mib, sizeof mib, tail, sizeof tail);
    if (!tl_check(hl && tl, "gzip members of %zu and %zu bytes", hl, tl)) return;
    /* The image, then 200 members of 1 MiB of zeros each (gzip allows
     * several members; the reader inflates them in turn). */
    FILE *f = fopen(at("bomb-idx3-ubyte.gz"), "wb");
    int ok = f && fwrite(head, 1, hl, f) == hl;
    for (int i = 0; ok && i < ZEROS_MIB; i++) ok = fwrite(tail, 1, tl, f) == tl;
    if (f) ok &= fclose(f) == 0;
    if (!tl_check(ok, "writing the gzip bomb")) return;
    const long before = peak_rss_kib();
    fmcl_images im;
    char err[1024];
    fmcl_status s = fmcl_idx_load(at("bomb-idx3-ubyte.gz"), NULL, 0, &im, err, sizeof err);
    const long grew = peak_rss_kib() - before;
    expect_error("gzip bomb IDX", s, FMCL_ERR_FORMAT, err, "more bytes follow", "784 bytes");
    tl_check(grew < 32 * 1024,
             "the gzip bomb (%zu bytes, %d MiB inflated) raised peak memory "
             "by %ld KiB; the reader must stop at the 800 bytes its header implies",
             hl + ZEROS_MIB * tl, ZEROS_MIB, grew);
    printf("  gzip bomb: %zu-byte file, peak memory grew by %ld KiB\n", hl + ZEROS_MIB * tl, grew);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL a reader blocked on a FIFO (no answer in 20 s)\n";
    if (write(1, msg, sizeof msg - 1) < 0) _exit(2);
    _exit(1);
}

static void not_regular(void)
{
    char err[1024];
    unsigned char *b = NULL;
    size_t n = 0;
    /* A bound small enough that a reader that accepts devices stops too. */
    fmcl_status s = fmcl_read_file("/dev/zero", 1 << 20, &b, &n, err, sizeof err);
    free(b);
    if (!expect_error("/dev/zero", s, FMCL_ERR_IO, err, "character device", "regular files"))
        return; /* the readers below would read it until memory runs out */
    fmcl_st_file f;
    s = fmcl_st_read("/dev/zero", &f, err, sizeof err);
    expect_error("--ckpt /dev/zero", s, FMCL_ERR_IO, err, "/dev/zero", "character device");
    float *x = NULL;
    int64_t shape[FMCL_NPY_MAX_DIMS];
    int ndim;
    tl_check(symlink("/dev/zero", at("zero.npy")) == 0, "symlink");
    s = fmcl_npy_read(at("zero.npy"), &x, shape, &ndim, err, sizeof err);
    expect_error(".npy symlinked to /dev/zero", s, FMCL_ERR_IO, err, "zero.npy",
                 "character device");
    free(x);
}

/* Opening a FIFO for reading waits for a writer, who never comes. */
static void fifo(void)
{
    char err[1024];
    fmcl_st_file f;
    signal(SIGALRM, on_alarm);
    alarm(20);
    mkdir(at("fifo"), 0777);
    tl_check(mkfifo(at("fifo/a.png"), 0600) == 0, "mkfifo");
    fmcl_images im;
    fmcl_status s = fmcl_imgdir_load(at("fifo"), 4, 1, 0, &im, err, sizeof err);
    expect_error("FIFO a.png in images:DIR", s, FMCL_ERR_IO, err, "a.png", "FIFO");
    s = fmcl_st_read(at("fifo/a.png"), &f, err, sizeof err);
    expect_error("FIFO as a checkpoint", s, FMCL_ERR_IO, err, "FIFO", NULL);
    alarm(0);
}

static void json_values(void)
{
    /* {"a": [0, 0, ...]} with more values than the cap: 64 bytes of node
     * for every 2 bytes of text, 2.2 MB of header here. */
    const size_t zeros = FMCL_JSON_MAX_VALUES + 1000;
    const size_t hlen = 6 + 2 * zeros + 1, len = 8 + hlen;
    unsigned char *b = malloc(len);
    if (!tl_check(b != NULL, "memory")) return;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    char *h = (char *)b + 8;
    memcpy(h, "{\"a\":[", 6);
    for (size_t i = 0; i < zeros; i++) memcpy(h + 6 + 2 * i, "0,", 2);
    memcpy(h + 6 + 2 * zeros - 1, "]}", 2);
    fmcl_st_file f;
    char err[1024];
    fmcl_status s = fmcl_st_parse(b, len, &f, err, sizeof err);
    expect_error("safetensors header of 1M+ values", s, FMCL_ERR_FORMAT, err, "more than 1048576",
                 "values");
    /* The format's own cap on the header's length. */
    const unsigned char huge[16] = {0x01, 0xe1, 0xf5, 0x05}; /* 100000001 */
    s = fmcl_st_parse(huge, sizeof huge, &f, err, sizeof err);
    expect_error("safetensors header over 100 MB", s, FMCL_ERR_FORMAT, err, "over 100 MB", NULL);
    free(b);
}

static void images(void)
{
    char err[1024];
    fmcl_images im;
    mkdir(at("tga"), 0777);
    /* An RLE true-colour TGA of 8192 x 8192: one packet of 128 black pixels. */
    const unsigned char tga[22] = {0, 0,    10,   0,    0,    0,  0, 0,    0, 0, 0,
                                   0, 0x00, 0x20, 0x00, 0x20, 24, 0, 0xff, 0, 0, 0};
    put(at("tga/a.png"), tga, sizeof tga);
    fmcl_status s = fmcl_imgdir_load(at("tga"), 4, 3, 0, &im, err, sizeof err);
    expect_error("TGA named .png", s, FMCL_ERR_FORMAT, err, "a.png", "neither PNG nor JPEG");
    fmcl_images_free(&im);
    put(at("tga/a.png"), "GIF89a\1\0\1\0", 10);
    s = fmcl_imgdir_load(at("tga"), 4, 3, 0, &im, err, sizeof err);
    expect_error("GIF named .png", s, FMCL_ERR_FORMAT, err, "a GIF file", NULL);

    mkdir(at("jpeg"), 0777);
    const unsigned char jpeg9[9] = {0xff, 0xd8, 0xff, 0xc4, 0x10, 0x03, 0x03, 0xff, 0xd9};
    put(at("jpeg/x.jpg"), jpeg9, sizeof jpeg9);
    s = fmcl_imgdir_load(at("jpeg"), 4, 1, 0, &im, err, sizeof err);
    expect_error("9-byte JPEG (stb overflow)", s, FMCL_ERR_FORMAT, err, "x.jpg", "corrupt JPEG");

    /* A real JPEG cut in half: libjpeg would pad it with grey and warn. */
    unsigned char px[64 * 64 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (unsigned char)(i * 7 % 251);
    stbi_write_jpg(at("jpeg/x.jpg"), 64, 64, 3, px, 90);
    unsigned char *file = NULL;
    size_t len = 0;
    if (tl_check(fmcl_read_file(at("jpeg/x.jpg"), 1 << 20, &file, &len, err, sizeof err) == FMCL_OK,
                 "%s", err)) {
        s = fmcl_imgdir_load(at("jpeg"), 4, 1, 0, &im, err, sizeof err);
        tl_check(s == FMCL_OK, "the whole JPEG: %s", err);
        fmcl_images_free(&im);
        put(at("jpeg/x.jpg"), file, len / 2);
        s = fmcl_imgdir_load(at("jpeg"), 4, 1, 0, &im, err, sizeof err);
        expect_error("truncated JPEG", s, FMCL_ERR_FORMAT, err, "x.jpg", "corrupt JPEG");
    }
    free(file);
}

/* A checkpoint of a few hundred bytes whose metadata describes a model of
 * 66 GB (MLP) or 108 GB (U-Net) is refused before the model is made. */
static int huge_models(fmcl_ctx *ctx, void *user)
{
    (void)user;
    const char *mlp[] = {"format", "fmcl-mlp", "dim", "2",          "width",
                         "16384",  "depth",    "63",  "time_freqs", "0"};
    const char *unet[] = {"format", "fmcl-unet", "channels", "1", "height",      "4", "width", "4",
                          "base",   "1024",      "blocks",   "1", "attn_levels", "0", "heads", "1",
                          "groups", "1",         "mult",     "16"};
    const struct {
        const char *name, *const *meta;
        int pairs;
    } files[] = {{"mlp.safetensors", mlp, 5}, {"unet.safetensors", unet, 10}};
    for (int i = 0; i < 2; i++) {
        char err[512];
        if (!tl_check(fmcl_st_write(at(files[i].name), NULL, 0, files[i].meta, files[i].pairs, err,
                                    sizeof err) == FMCL_OK,
                      "%s", err))
            continue;
        fmcl_model *m = NULL;
        fmcl_status s = fmcl_model_load(ctx, at(files[i].name), FMCL_WEIGHTS_DEFAULT, &m);
        expect_error(files[i].name, s, FMCL_ERR_FORMAT, fmcl_ctx_error(ctx), "hold only 0 values",
                     files[i].name);
        fmcl_model_free(m);
    }
    return 0;
}

int main(void)
{
    if (!scratch_make("bounds")) return 1;
    gzip_bomb();
    not_regular();
    fifo();
    json_values();
    images();
    const int rc = tl_for_each_device(huge_models, NULL);
    scratch_remove();
    return rc;
}
