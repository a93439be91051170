/* NumPy .npy arrays (format versions 1.0-3.0 read, 1.0 written), so
 * numpy.load reads what fmcl writes and fmcl reads a user's N x D points. */
#ifndef FMCL_NPY_H
#define FMCL_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "fmcl.h"

#define FMCL_NPY_MAX_DIMS 8

/* Reads a C-order float32 or float64 array (little-endian), converting to
 * float32. *data is malloc'ed. Rejects other dtypes, Fortran order, sizes that
 * do not match the file, and non-finite values, with a message that says so. */
fmcl_status fmcl_npy_read_f32(const char *path, float **data, int64_t *shape, int *ndim,
                              char *err, size_t errlen);
/* Writes a float32 C-order array atomically. */
fmcl_status fmcl_npy_write_f32(const char *path, const float *data, const int64_t *shape,
                               int ndim, char *err, size_t errlen);

#endif
