/* safetensors: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "value", ...}}, then the raw little-endian data.
 * The reader bounds-checks everything before trusting it. */
#ifndef FMCL_SAFETENSORS_H
#define FMCL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "fmcl.h"

typedef enum {
    FMCL_ST_F32 = 0,
    FMCL_ST_F64,
    FMCL_ST_I64,
    FMCL_ST_I32,
    FMCL_ST_U32,
    FMCL_ST_U8,
    FMCL_ST_F16,
    FMCL_ST_BF16 /* read, and converted to F32 by fmcl_st_floats */
} fmcl_st_dtype;

#define FMCL_ST_MAX_DIMS 8

typedef struct {
    char *name;
    int dtype;
    int ndim;
    int64_t shape[FMCL_ST_MAX_DIMS];
    const void
        *data; /* points into the file's data section (reader) or the caller's memory (writer) */
    size_t nbytes;
} fmcl_st_tensor;

typedef struct {
    fmcl_st_tensor *tensors;
    int count;
    char **meta; /* 2 * meta_count strings: key, value, key, value, ... */
    int meta_count;
    unsigned char *blob; /* whole file; tensors point into it */
} fmcl_st_file;

fmcl_status fmcl_st_read(const char *path, fmcl_st_file *out, char *err, size_t errlen);
/* Same from memory (tests); copies buf. */
fmcl_status fmcl_st_parse(const unsigned char *buf, size_t len, fmcl_st_file *out, char *err,
                          size_t errlen);
void fmcl_st_free(fmcl_st_file *f);
const fmcl_st_tensor *fmcl_st_find(const fmcl_st_file *f, const char *name);
const char *fmcl_st_meta(const fmcl_st_file *f, const char *key);
/* FMCL_ERR_FORMAT unless the tensors of f hold at least `elements` values in
 * all (of any dtype: weights may be stored as F16). A loader checks this
 * before it allocates the model the metadata describes, so a small file
 * cannot make it allocate a large one (at most twice its size as F32). */
fmcl_status fmcl_st_holds(const fmcl_st_file *f, uint64_t elements, char *err, size_t errlen);
/* Finds name and checks its dtype and shape; a clear error otherwise. */
fmcl_status fmcl_st_expect(const fmcl_st_file *f, const char *name, int dtype, int ndim,
                           const int64_t *shape, const fmcl_st_tensor **out, char *err,
                           size_t errlen);

/* fmcl_st_expect for a floating-point tensor of any of F32, F16, BF16 and
 * F64 (PyTorch users save all four), read with fmcl_st_floats. */
fmcl_status fmcl_st_expect_float(const fmcl_st_file *f, const char *name, int ndim,
                                 const int64_t *shape, const fmcl_st_tensor **out, char *err,
                                 size_t errlen);
/* Copies the values of a floating-point tensor into dst as float: F32 as
 * they are, F16 and BF16 widened (exactly: every such value is a float),
 * F64 rounded to the nearest float. FMCL_ERR_FORMAT naming the tensor when
 * a finite F64 value is beyond float's range, or t is no float tensor. */
fmcl_status fmcl_st_floats(const fmcl_st_tensor *t, float *dst, char *err, size_t errlen);
/* The dtype's name in the format ("F32", "BF16", ...), "?" when unknown;
 * its size in bytes, 0 when unknown. */
const char *fmcl_st_dtype_name(int dtype);
size_t fmcl_st_dtype_size(int dtype);

/* Writes tensors (name, dtype, ndim, shape, data, nbytes) and metadata
 * (meta_kv: key, value pairs) atomically. */
fmcl_status fmcl_st_write(const char *path, const fmcl_st_tensor *t, int n,
                          const char *const *meta_kv, int meta_count, char *err, size_t errlen);

#endif
