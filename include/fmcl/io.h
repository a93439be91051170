/* fmcl/io.h: the files users touch, without a device: .npy arrays,
 * checkpoints' metadata, and atomic writes.
 *
 * Every reader bounds what it allocates by what the file can hold, reads
 * regular files only, and names the file and the defect in err. */
#ifndef FMCL_IO_H
#define FMCL_IO_H

#include "fmcl/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- .npy (NumPy's format, version 1 to 3, C order) ---- */

#define FMCL_NPY_MAX_DIMS 8

/* Reads a little-endian float32 or float64 array (float64 is rounded to
 * float32) into *data (release with fmcl_npy_free), its shape and ndim.
 * Fortran order, other dtypes, sizes the file does not hold and non-finite
 * values are refused, the message naming the file and the defect. */
FMCL_API fmcl_status fmcl_npy_read(const char *path, float **data, int64_t *shape, int *ndim,
                                   char *err, size_t errlen);
FMCL_API void fmcl_npy_free(float *data);
/* Writes a float32 array (or, _f64, a float64 one) atomically. */
FMCL_API fmcl_status fmcl_npy_write(const char *path, const float *data, const int64_t *shape,
                                    int ndim, char *err, size_t errlen);
FMCL_API fmcl_status fmcl_npy_write_f64(const char *path, const double *data, const int64_t *shape,
                                        int ndim, char *err, size_t errlen);

/* ---- checkpoints (safetensors) without a device ---- */

typedef struct fmcl_checkpoint fmcl_checkpoint;

/* Reads and checks a safetensors file (its header's JSON, every tensor's
 * dtype, shape and offsets): what fmcl_model_load and fmcl_trainer_resume
 * would load, inspected without a device. */
FMCL_API fmcl_status fmcl_checkpoint_open(const char *path, fmcl_checkpoint **out, char *err,
                                          size_t errlen);
FMCL_API void fmcl_checkpoint_free(fmcl_checkpoint *c);
/* One __metadata__ value; NULL when absent. */
FMCL_API const char *fmcl_checkpoint_meta(const fmcl_checkpoint *c, const char *key);
/* 1 when the file holds a tensor of this name. */
FMCL_API int fmcl_checkpoint_has_tensor(const fmcl_checkpoint *c, const char *name);

/* ---- files ---- */

/* Writes the n pieces data[i] (len[i] bytes each) one after the other to
 * path atomically: a temporary file beside it, fsync, rename. An interrupted
 * write leaves the previous file as it was. */
FMCL_API fmcl_status fmcl_write_file_atomic(const char *path, const void *const *data,
                                            const size_t *len, int n, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
