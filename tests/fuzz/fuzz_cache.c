/* A program-cache entry (src/runtime/cache.c) on the input as a file, with
 * a fixed key (bytes 0..31, as the seeds were written); on success the
 * payload is read whole. */
#include <stdlib.h>

#include "fuzz.h"
#include "runtime/cache.h"

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t key[FMCL_CACHE_KEY_BYTES];
    for (int i = 0; i < FMCL_CACHE_KEY_BYTES; i++) key[i] = (uint8_t)i;
    unsigned char *payload = NULL;
    size_t len = 0;
    char why[512];
    if (fmcl_cache_read(fuzz_file(0, data, size), key, &payload, &len, why, sizeof why) != FMCL_OK)
        return 0;
    if (len == 0 || len > size) fuzz_fail("a payload of impossible length");
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++) sum += payload[i];
    sink = sum;
    free(payload);
    return 0;
}
