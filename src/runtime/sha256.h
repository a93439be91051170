/* SHA-256 (FIPS 180-4), for cache keys and payload checksums: a strong hash
 * with no dependency. Incremental: init, update any number of times, final. */
#ifndef FMCL_SHA256_H
#define FMCL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t bytes; /* message length so far */
    uint8_t block[64];
    size_t used; /* bytes waiting in block */
} fmcl_sha256;

void fmcl_sha256_init(fmcl_sha256 *s);
void fmcl_sha256_update(fmcl_sha256 *s, const void *data, size_t len);
void fmcl_sha256_final(fmcl_sha256 *s, uint8_t digest[32]);
/* One call: digest of len bytes at data. */
void fmcl_sha256_of(const void *data, size_t len, uint8_t digest[32]);

#endif
