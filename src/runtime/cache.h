/* On-disk cache of fmcl's compiled OpenCL program, for drivers that do not
 * cache compiled programs themselves. One file per key:
 * $XDG_CACHE_HOME/fmcl/programs/<64 hex digits>.bin (else $HOME/.cache/...).
 * Every failure is a miss: the caller builds from source and rewrites. */
#ifndef FMCL_CACHE_H
#define FMCL_CACHE_H

#include <stdint.h>

#include "runtime/runtime.h"

#define FMCL_CACHE_KEY_BYTES 32

/* Entry layout, integers little-endian: magic "FMCLPRG\0", u32 format
 * version, key, u64 payload length, SHA-256 of the payload, payload (the
 * driver's program binary). */
enum {
    FMCL_CACHE_OFF_MAGIC = 0,
    FMCL_CACHE_OFF_FORMAT = 8,
    FMCL_CACHE_OFF_KEY = 12,
    FMCL_CACHE_OFF_LENGTH = 12 + FMCL_CACHE_KEY_BYTES,
    FMCL_CACHE_OFF_SUM = FMCL_CACHE_OFF_LENGTH + 8,
    FMCL_CACHE_HEADER_BYTES = FMCL_CACHE_OFF_SUM + 32
};

/* Everything the compiled program depends on; the key hashes all of it. */
typedef struct {
    const char *source;
    char options[128];
    const char *platform_name, *platform_vendor;
    char platform_version[128];
    const char *device_name, *device_version, *driver_version;
    const char *library_version;
} fmcl_program_id;

/* The identity of fmcl's program on ctx's device (points into ctx->info). */
void fmcl_program_id_of(const fmcl_ctx *ctx, fmcl_program_id *id);
void fmcl_cache_key(const fmcl_program_id *id, uint8_t key[FMCL_CACHE_KEY_BYTES]);

/* Whether to use the cache on this device: FMCL_PROGRAM_CACHE=0 or 1 decides;
 * otherwise off where the driver caches compiled programs itself, with the
 * reason in *why. */
int fmcl_cache_wanted(const fmcl_device_info *info, const char **why);

/* The entry's path for key; 0 when neither $XDG_CACHE_HOME (absolute) nor
 * $HOME is set, or the path does not fit in cap. */
int fmcl_cache_path(const uint8_t key[FMCL_CACHE_KEY_BYTES], char *path, size_t cap);

/* Reads and checks an entry (magic, format, key, length, checksum). FMCL_OK
 * with a malloc'ed payload, else why names the defect. */
fmcl_status fmcl_cache_read(const char *path, const uint8_t key[FMCL_CACHE_KEY_BYTES],
                            unsigned char **payload, size_t *len, char *why, size_t whylen);
/* Creates the folders (0700) that hold path (mkdir -p of its parent). */
fmcl_status fmcl_cache_make_parents(const char *path, char *err, size_t errlen);
/* Creates the folders (0700) and writes the entry atomically. */
fmcl_status fmcl_cache_write(const char *path, const uint8_t key[FMCL_CACHE_KEY_BYTES],
                             const void *payload, size_t len, char *err, size_t errlen);

/* A program built from the entry at path with opts, or NULL with why. */
cl_program fmcl_cache_load_program(fmcl_ctx *ctx, const char *path,
                                   const uint8_t key[FMCL_CACHE_KEY_BYTES], const char *opts,
                                   char *why, size_t whylen);
/* Writes the binary of prog (built for one device) to the entry at path. */
fmcl_status fmcl_cache_store_program(cl_program prog, const char *path,
                                     const uint8_t key[FMCL_CACHE_KEY_BYTES], char *err,
                                     size_t errlen);

#endif
