/* The tuned-parameter file (src/runtime/tune.c) on arbitrary text: parsed,
 * each kernel judged by the validity rules, and each section written back
 * by fmcl_tune_format and parsed again to the same section. */
#include <string.h>

#include "fuzz.h"
#include "runtime/tune.h"

#define CAP 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fmcl_tune_set sets[CAP], again[1];
    static char text[64 * 1024];
    int n = 0, m = 0;
    char err[512], why[128];
    if (fmcl_tune_parse((const char *)data, size, sets, CAP, &n, err, sizeof err) != FMCL_OK)
        return 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < sets[i].n_kernels; k++)
            fmcl_tune_invalid(&sets[i].kernel[k], 1024, 65536, why, sizeof why);
        size_t len = fmcl_tune_format(&sets[i], "fuzz", text, sizeof text);
        if (len >= sizeof text) fuzz_fail("a section longer than 64 KiB");
        if (fmcl_tune_parse(text, len, again, 1, &m, err, sizeof err) != FMCL_OK || m != 1 ||
            memcmp(&again[0], &sets[i], sizeof again[0]) != 0)
            fuzz_fail("a section does not survive format and parse");
    }
    return 0;
}
