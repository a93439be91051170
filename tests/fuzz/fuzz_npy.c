/* The .npy reader (src/io/npy.c) on the input as a file; on success the
 * shape's product is the number of values, each finite, as promised. */
#include <math.h>
#include <stdlib.h>

#include "fmcl.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    float *x = NULL;
    int64_t shape[FMCL_NPY_MAX_DIMS];
    int ndim = 0;
    char err[1024];
    if (fmcl_npy_read(fuzz_file(0, data, size), &x, shape, &ndim, err, sizeof err) != FMCL_OK)
        return 0;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (n * sizeof *x > size) fuzz_fail("more values than the file's bytes");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) fuzz_fail("a value that is not finite");
    free(x);
    return 0;
}
