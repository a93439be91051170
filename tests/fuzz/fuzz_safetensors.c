/* The safetensors reader (src/io/safetensors.c) on arbitrary bytes; on
 * success every tensor's data is read (ASan checks it lies in the file),
 * found by name, checked against its own dtype and shape, a float tensor
 * converted to float32 (only an F64 value beyond float's range may fail),
 * and every metadata value found by key. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "io/safetensors.h"

static volatile unsigned sink; /* keeps the reads of the data */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fmcl_st_file f;
    char err[1024];
    if (fmcl_st_parse(data, size, &f, err, sizeof err) != FMCL_OK) return 0;
    unsigned sum = 0;
    for (int i = 0; i < f.count; i++) {
        const fmcl_st_tensor *t = &f.tensors[i], *same = NULL;
        const unsigned char *p = t->data;
        for (size_t b = 0; b < t->nbytes; b++) sum += p[b];
        if (fmcl_st_expect(&f, t->name, t->dtype, t->ndim, t->shape, &same, err, sizeof err) !=
                FMCL_OK ||
            same != t)
            fuzz_fail("a tensor does not match its own name, dtype and shape");
        if (fmcl_st_expect_float(&f, t->name, t->ndim, t->shape, &same, err, sizeof err) != FMCL_OK)
            continue;
        const size_t n = t->nbytes / fmcl_st_dtype_size(t->dtype);
        float *x = malloc(n * sizeof *x + 1);
        if (x && fmcl_st_floats(t, x, err, sizeof err) != FMCL_OK &&
            (t->dtype != FMCL_ST_F64 || !strstr(err, "beyond the range")))
            fuzz_fail("only an F64 value beyond float's range fails to convert");
        free(x);
    }
    for (int i = 0; i < f.meta_count; i++)
        if (fmcl_st_meta(&f, f.meta[2 * i]) != f.meta[2 * i + 1])
            fuzz_fail("a metadata value is not found by its key");
    sink = sum;
    fmcl_st_free(&f);
    return 0;
}
