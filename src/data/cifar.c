/* CIFAR-10 binary batches (the "binary version" of the set): each record is
 * one label byte (0..9) then 3072 pixel bytes, the red, green and blue
 * 32 x 32 planes in turn, rows top first: already our channel-major layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/images.h"
#include "io/atomic.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_CLASSES 10
#define CIFAR_TRAIN_BATCHES 5

/* Appends the records of one batch file to out (at most `room` of them). */
static fmcl_status append_batch(const char *path, fmcl_images *out, int room, char *err,
                                size_t errlen)
{
    unsigned char *b = NULL;
    size_t len = 0;
    fmcl_status s = fmcl_read_file(path, FMCL_IMAGES_MAX_BYTES, &b, &len, err, errlen);
    if (s != FMCL_OK) return s;
    if (len == 0 || len % CIFAR_RECORD != 0) {
        free(b);
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s: %zu bytes is not a whole number of CIFAR-10 records (%d bytes: a "
                         "label and 3 x 32 x 32 pixels); the file is truncated or not a CIFAR-10 "
                         "binary batch",
                         path, len, CIFAR_RECORD);
    }
    size_t recs = len / CIFAR_RECORD;
    if (recs > (size_t)room) recs = (size_t)room;
    if ((uint64_t)(out->n + recs) * CIFAR_PIXELS > FMCL_IMAGES_MAX_BYTES) {
        free(b);
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s: the set grows beyond the %llu bytes accepted; load fewer images",
                         path, (unsigned long long)FMCL_IMAGES_MAX_BYTES);
    }
    unsigned char *px = realloc(out->pixels, (out->n + recs) * CIFAR_PIXELS);
    unsigned char *lb = px ? realloc(out->labels, out->n + recs) : NULL;
    if (px) out->pixels = px;
    if (lb) out->labels = lb;
    if (!px || !lb) {
        free(b);
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory reading %s", path);
    }
    for (size_t r = 0; r < recs; r++) {
        const unsigned char *rec = b + r * CIFAR_RECORD;
        if (rec[0] >= CIFAR_CLASSES) {
            const int label = rec[0];
            free(b);
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                             "%s: record %zu has label %d, but CIFAR-10 labels are 0 to 9; the "
                             "file is not a CIFAR-10 binary batch (CIFAR-100's has two label "
                             "bytes)",
                             path, r, label);
        }
        out->labels[out->n + r] = rec[0];
        memcpy(out->pixels + (out->n + r) * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
    }
    out->n += (int)recs;
    free(b);
    return FMCL_OK;
}

fmcl_status fmcl_cifar_load(const char *path, int test, int limit, fmcl_images *out, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->c = 3;
    out->h = out->w = CIFAR_SIDE;
    out->classes = CIFAR_CLASSES;
    const int room = limit > 0 ? limit : INT32_MAX;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fmcl_status s = append_batch(path, out, room, err, errlen);
        if (s != FMCL_OK) fmcl_images_free(out);
        return s;
    }
    char file[4200];
    const int batches = test ? 1 : CIFAR_TRAIN_BATCHES;
    for (int i = 1; i <= batches && out->n < room; i++) {
        if (test)
            snprintf(file, sizeof file, "%s/test_batch.bin", path);
        else
            snprintf(file, sizeof file, "%s/data_batch_%d.bin", path, i);
        fmcl_status s = append_batch(file, out, room - out->n, err, errlen);
        if (s != FMCL_OK) {
            fmcl_images_free(out);
            return s;
        }
    }
    return FMCL_OK;
}
