/* IDX files (LeCun's MNIST format, also Fashion-MNIST's), raw or gzip:
 * big-endian magic 00 00 TT NN (TT the element type, 08 = unsigned byte; NN
 * the number of dimensions), NN big-endian uint32 sizes, then the elements.
 * Every size is checked against the bytes present before any is used. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/images.h"
#include "io/atomic.h"

/* A gzip stream (one or more members, as `cat a.gz b.gz` makes) inflated
 * on demand into a buffer that grows with the output, never past the size
 * asked for: the IDX header is inflated and checked first, and then only the
 * bytes it implies (and one more, to see trailing junk), so a small file that
 * inflates to gigabytes costs no more than its header promises. */
typedef struct {
    z_stream z;
    const char *path;
    const unsigned char *in;
    size_t in_len, used;
    unsigned char *buf;
    size_t n, cap;
    int ended; /* the last member is complete */
} gz_reader;

/* Inflates until g->n >= want or the stream ends. */
static fmcl_status gz_fill(gz_reader *g, size_t want, char *err, size_t errlen)
{
    while (g->n < want && !g->ended) {
        if (g->n == g->cap) {
            size_t ncap = g->cap < (1u << 16) ? (1u << 16) : g->cap * 2;
            if (ncap > want) ncap = want;
            unsigned char *nb = realloc(g->buf, ncap);
            if (!nb)
                return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory inflating %s",
                                 g->path);
            g->buf = nb;
            g->cap = ncap;
        }
        size_t chunk_in = g->in_len - g->used > (1u << 30) ? (1u << 30) : g->in_len - g->used;
        size_t chunk_out = g->cap - g->n > (1u << 30) ? (1u << 30) : g->cap - g->n;
        g->z.next_in = (unsigned char *)(uintptr_t)(g->in + g->used);
        g->z.avail_in = (uInt)chunk_in;
        g->z.next_out = g->buf + g->n;
        g->z.avail_out = (uInt)chunk_out;
        int rc = inflate(&g->z, Z_NO_FLUSH);
        g->used += chunk_in - g->z.avail_in;
        g->n += chunk_out - g->z.avail_out;
        if (rc == Z_STREAM_END) {
            /* Another member may follow; anything else is junk. */
            if (g->used == g->in_len) {
                g->ended = 1;
            } else if (g->in_len - g->used >= 2 && g->in[g->used] == 0x1f &&
                       g->in[g->used + 1] == 0x8b) {
                inflateReset(&g->z);
            } else {
                return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                                 "%s: %zu bytes of junk after the gzip data; the file is corrupt",
                                 g->path, g->in_len - g->used);
            }
        } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                             "%s: corrupt gzip data (%s); download the file again", g->path,
                             g->z.msg ? g->z.msg : "invalid stream");
        } else if (rc == Z_MEM_ERROR) {
            return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory inflating %s", g->path);
        } else if (rc != Z_OK) { /* Z_BUF_ERROR: no input left, stream unfinished */
            return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                             "%s: the gzip data ends early (truncated file); download it again",
                             g->path);
        }
    }
    return FMCL_OK;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks the IDX header of unsigned bytes with `ndims` dimensions at the
 * start of b[0, len); dims receives the sizes and *total the file length
 * they imply (header and data). */
static fmcl_status idx_header(const char *path, const unsigned char *b, size_t len, int ndims,
                              uint32_t *dims, uint64_t *total, char *err, size_t errlen)
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
    *total = head + count;
    return FMCL_OK;
}

/* Reads an IDX file, raw or gzip (by the magic 1f 8b), into *out: header
 * and data, exactly the length the header implies. */
static fmcl_status idx_read(const char *path, int ndims, uint32_t *dims, unsigned char **out,
                            char *err, size_t errlen)
{
    const size_t head = 4 + 4 * (size_t)ndims;
    unsigned char *raw = NULL;
    size_t n = 0;
    uint64_t total = 0;
    fmcl_status s = fmcl_read_file(path, FMCL_IMAGES_MAX_BYTES + head, &raw, &n, err, errlen);
    if (s != FMCL_OK) return s;
    if (n >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        gz_reader g = {.path = path, .in = raw, .in_len = n};
        if (inflateInit2(&g.z, 16 + MAX_WBITS) != Z_OK) {
            free(raw);
            return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory inflating %s", path);
        }
        s = gz_fill(&g, head, err, errlen);
        if (s == FMCL_OK) s = idx_header(path, g.buf, g.n, ndims, dims, &total, err, errlen);
        if (s == FMCL_OK) s = gz_fill(&g, (size_t)total + 1, err, errlen);
        inflateEnd(&g.z);
        free(raw);
        raw = g.buf;
        n = g.n;
    } else {
        s = idx_header(path, raw, n, ndims, dims, &total, err, errlen);
    }
    if (s == FMCL_OK && n < total)
        s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                      "%s is truncated: its header promises %llu bytes of data but %zu follow",
                      path, (unsigned long long)(total - head), n - head);
    if (s == FMCL_OK && n > total)
        s = fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                      "%s: more bytes follow the %llu bytes of data its header describes; the "
                      "file is corrupt",
                      path, (unsigned long long)(total - head));
    if (s != FMCL_OK) {
        free(raw);
        return s;
    }
    *out = raw;
    return FMCL_OK;
}

fmcl_status fmcl_idx_load(const char *images_path, const char *labels_path, int limit,
                          fmcl_images *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    unsigned char *img = NULL, *lab = NULL;
    uint32_t idims[3] = {0, 0, 0};
    fmcl_status s = idx_read(images_path, 3, idims, &img, err, errlen);
    if (s == FMCL_OK && labels_path) {
        uint32_t ldims[1] = {0};
        s = idx_read(labels_path, 1, ldims, &lab, err, errlen);
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
        if (shrunk) img = shrunk; /* else the larger buffer serves */
        out->pixels = img;
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
