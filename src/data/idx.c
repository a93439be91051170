/* IDX files (LeCun's MNIST format, also Fashion-MNIST's), raw or gzip:
 * big-endian magic 00 00 TT NN (TT the element type, 08 = unsigned byte; NN
 * the number of dimensions), NN big-endian uint32 sizes, then the elements.
 * Every size is checked against the bytes present before any is used. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/images.h"
#include "io/atomic.h"

/* Inflates a gzip stream (one or more members) into a buffer that grows up to
 * max bytes; the file's own length field is not trusted. */
static fmcl_status gunzip(const char *path, const unsigned char *in, size_t in_len, size_t max,
                          unsigned char **out, size_t *out_len, char *err, size_t errlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory inflating %s", path);
    size_t cap = in_len * 4 + 1024, n = 0, used = 0;
    unsigned char *buf = malloc(cap);
    fmcl_status s = FMCL_OK;
    int rc = Z_OK;
    while (buf && s == FMCL_OK) {
        if (n == cap) {
            if (cap >= max + 1) {
                s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                              "%s inflates to more than the %zu bytes accepted", path, max);
                break;
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) break;
            buf = nb;
            cap = ncap;
        }
        size_t chunk_in = in_len - used > (1u << 30) ? (1u << 30) : in_len - used;
        size_t chunk_out = cap - n > (1u << 30) ? (1u << 30) : cap - n;
        z.next_in = (unsigned char *)(uintptr_t)(in + used);
        z.avail_in = (uInt)chunk_in;
        z.next_out = buf + n;
        z.avail_out = (uInt)chunk_out;
        rc = inflate(&z, Z_NO_FLUSH);
        used += chunk_in - z.avail_in;
        n += chunk_out - z.avail_out;
        if (rc == Z_STREAM_END) {
            /* Another member may follow (as `cat a.gz b.gz`); anything else is junk. */
            if (used == in_len) break;
            if (in_len - used >= 2 && in[used] == 0x1f && in[used + 1] == 0x8b) {
                inflateReset(&z);
                continue;
            }
            s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                          "%s: %zu bytes of junk after the gzip data; the file is corrupt", path,
                          in_len - used);
        } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
            s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                          "%s: corrupt gzip data (%s); download the file again", path,
                          z.msg ? z.msg : "invalid stream");
        } else if (rc == Z_MEM_ERROR) {
            break;
        } else if (rc != Z_OK) { /* Z_BUF_ERROR: no input left, stream unfinished */
            s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                          "%s: the gzip data ends early (truncated file); download it again",
                          path);
        }
    }
    inflateEnd(&z);
    if (!buf || (s == FMCL_OK && rc != Z_STREAM_END)) {
        free(buf);
        return s != FMCL_OK ? s : fmcl_errf(err, errlen, FMCL_ERR_NOMEM,
                                            "out of memory inflating %s", path);
    }
    if (s != FMCL_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    *out_len = n;
    return FMCL_OK;
}

fmcl_status fmcl_read_maybe_gzip(const char *path, size_t max, unsigned char **out, size_t *len,
                                 char *err, size_t errlen)
{
    unsigned char *raw = NULL;
    size_t n = 0;
    fmcl_status s = fmcl_read_file(path, max, &raw, &n, err, errlen);
    if (s != FMCL_OK) return s;
    if (n < 2 || raw[0] != 0x1f || raw[1] != 0x8b) {
        *out = raw;
        *len = n;
        return FMCL_OK;
    }
    s = gunzip(path, raw, n, max, out, len, err, errlen);
    free(raw);
    return s;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks an IDX header of unsigned bytes with `ndims` dimensions against the
 * file's length; dims receives the sizes. */
static fmcl_status idx_header(const char *path, const unsigned char *b, size_t len, int ndims,
                              uint32_t *dims, char *err, size_t errlen)
{
    const char *kind = ndims == 3 ? "images (magic 0x00000803)" : "labels (magic 0x00000801)";
    if (len < 4 || b[0] != 0 || b[1] != 0)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s is not an IDX file (its first bytes are not 00 00 TT NN); expected "
                         "IDX %s",
                         path, kind);
    if (b[2] != 0x08 || b[3] != ndims)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s: IDX magic 0x%08x, expected %s of unsigned bytes", path, be32(b),
                         kind);
    size_t head = 4 + 4 * (size_t)ndims;
    if (len < head)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s is truncated: %zu bytes, shorter than its %zu-byte IDX header", path,
                         len, head);
    uint64_t count = 1;
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(b + 4 + 4 * i);
        if (dims[i] == 0)
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "%s: IDX dimension %d is 0", path, i);
        count *= dims[i]; /* at most (2^32)^k for the k dims so far: checked each time */
        if (count > FMCL_IMAGES_MAX_BYTES)
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                             "%s: IDX dimensions %u x ... hold more than the %llu bytes accepted "
                             "(a corrupt header?)",
                             path, dims[0], (unsigned long long)FMCL_IMAGES_MAX_BYTES);
    }
    if (len - head < count)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s is truncated: its header promises %llu bytes of data but %zu follow",
                         path, (unsigned long long)count, len - head);
    if (len - head > count)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s: %zu bytes follow the %llu bytes of data its header describes; the "
                         "file is corrupt",
                         path, len - head - (size_t)count, (unsigned long long)count);
    return FMCL_OK;
}

fmcl_status fmcl_idx_load(const char *images_path, const char *labels_path, int limit,
                          fmcl_images *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    unsigned char *img = NULL, *lab = NULL;
    size_t ilen = 0, llen = 0;
    uint32_t idims[3] = {0, 0, 0}, ldims[1] = {0};
    fmcl_status s = fmcl_read_maybe_gzip(images_path, FMCL_IMAGES_MAX_BYTES + 16, &img, &ilen,
                                         err, errlen);
    if (s == FMCL_OK) s = idx_header(images_path, img, ilen, 3, idims, err, errlen);
    if (s == FMCL_OK && labels_path) {
        s = fmcl_read_maybe_gzip(labels_path, FMCL_IMAGES_MAX_BYTES + 8, &lab, &llen, err,
                                 errlen);
        if (s == FMCL_OK) s = idx_header(labels_path, lab, llen, 1, ldims, err, errlen);
        if (s == FMCL_OK && ldims[0] != idims[0])
            s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                          "%s holds %u labels but %s holds %u images; they must be the same set",
                          labels_path, ldims[0], images_path, idims[0]);
    }
    if (s == FMCL_OK && idims[0] > (uint32_t)INT32_MAX)
        s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "%s: %u images are more than accepted",
                      images_path, idims[0]);
    if (s == FMCL_OK) {
        int n = (int)idims[0];
        if (limit > 0 && limit < n) n = limit;
        const size_t D = (size_t)idims[1] * idims[2];
        /* Shift the data to the front of the buffers and shrink them. */
        memmove(img, img + 16, (size_t)n * D);
        unsigned char *shrunk = realloc(img, (size_t)n * D);
        out->pixels = shrunk ? shrunk : img;
        img = NULL;
        out->n = n;
        out->c = 1;
        out->h = (int)idims[1];
        out->w = (int)idims[2];
        if (lab) {
            memmove(lab, lab + 8, (size_t)n);
            out->labels = lab;
            lab = NULL;
            for (int i = 0; i < n; i++)
                if (out->labels[i] + 1 > out->classes) out->classes = out->labels[i] + 1;
        }
    }
    free(img);
    free(lab);
    return s;
}
