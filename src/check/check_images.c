/* Self-check of the image data op (src/data/images.h): training batches of
 * 8-bit images gathered, mirrored and dequantised on the device. */
#include <string.h>

#include "check/check.h"
#include "data/images.h"

/* (k + u) / 128 - 1 rounds twice in float on the device (k + u, then - 1)
 * and once in double here: within one ulp of values near 1. */
#define DEQUANT_ATOL 2.5e-7

static void image_batch(chk_suite *s, int N, int C, int H, int W, int hflip, int B)
{
    chk_case c;
    const size_t D = (size_t)C * H * W, words = (N * D + 3) / 4;
    chk_begin(&c, s, "image_batch", "N=%d C=%d H=%d W=%d%s B=%d", N, C, H, W, hflip ? " hflip" : "",
              B);
    float *packed = chk_host(&c, words), *want = chk_host(&c, (size_t)B * D);
    if (chk_ok(&c)) { /* bytes of every value 0..255, packed four to a float */
        unsigned char *px = (unsigned char *)packed;
        for (size_t i = 0; i < N * D; i++) px[i] = (unsigned char)((i * 97 + 13) % 256);
        memset(px + N * D, 0, words * 4 - N * D);
    }
    fmcl_t pix = chk_buf(&c, packed, words), x = chk_buf(&c, NULL, (size_t)B * D);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_image_batch(s->ctx, x, pix, 0xfeedull, 17, N, C, H, W, hflip, B));
        fmcl_image_batch_ref(want, (const unsigned char *)packed, 0xfeedull, 17, 0, N, C, H, W,
                             hflip, B);
    }
    chk_expect_f(&c, "x1", x, (size_t)B * D, want, chk_elem(DEQUANT_ATOL));
    chk_end(&c);
}

void chk_image_ops(chk_suite *s)
{
    image_batch(s, 13, 1, 5, 7, 0, 9);
    image_batch(s, 7, 3, 4, 5, 1, 37);
}
