/* Binary cache of fmcl's own program: key, entry files, and loading and
 * storing the driver's binary. A cache problem is never an error for the
 * context: every function here reports a reason, and the caller builds from
 * source instead and rewrites the entry. */
#include "runtime/cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/atomic.h"
#include "runtime/sha256.h"

#define FORMAT_VERSION 1u
#define MAX_ENTRY_BYTES ((size_t)512 << 20)
static const char magic[8] = "FMCLPRG";

void fmcl_program_id_of(const fmcl_ctx *ctx, fmcl_program_id *id)
{
    const fmcl_device_info *info = &ctx->info;
    memset(id, 0, sizeof *id);
    id->source = ctx->source;
    /* Ask for 1.2 where the device offers it (the kernels need nothing newer). */
    int cl12 = strstr(info->opencl_c_version, "OpenCL C 1.0") == NULL &&
               strstr(info->opencl_c_version, "OpenCL C 1.1") == NULL;
    snprintf(id->options, sizeof id->options, "%s-DFMCL_REDUCE_WG=%d -DFMCL_VW=%d%s",
             cl12 ? "-cl-std=CL1.2 " : "", FMCL_REDUCE_WG, ctx->vw,
             ctx->check_launches ? " -cl-kernel-arg-info" : "");
    id->platform_name = info->platform_name;
    id->platform_vendor = info->platform_vendor;
    if (clGetPlatformInfo(ctx->platform, CL_PLATFORM_VERSION, sizeof id->platform_version,
                          id->platform_version, NULL) != CL_SUCCESS)
        id->platform_version[0] = 0;
    id->platform_version[sizeof id->platform_version - 1] = 0;
    id->device_name = info->device_name;
    id->device_version = info->device_version;
    id->driver_version = info->driver_version;
    id->library_version = FMCL_VERSION;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> 8 * i);
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Each field length-prefixed, so moving bytes between fields changes the key. */
static void hash_field(fmcl_sha256 *s, const char *text)
{
    uint8_t len[8];
    size_t n = text ? strlen(text) : 0;
    put_u64(len, n);
    fmcl_sha256_update(s, len, sizeof len);
    if (n) fmcl_sha256_update(s, text, n);
}

void fmcl_cache_key(const fmcl_program_id *id, uint8_t key[FMCL_CACHE_KEY_BYTES])
{
    fmcl_sha256 s;
    fmcl_sha256_init(&s);
    uint8_t fmt[4];
    put_u32(fmt, FORMAT_VERSION);
    fmcl_sha256_update(&s, magic, sizeof magic);
    fmcl_sha256_update(&s, fmt, sizeof fmt);
    const char *fields[] = {id->source,          id->options,          id->platform_name,
                            id->platform_vendor, id->platform_version, id->device_name,
                            id->device_version,  id->driver_version,   id->library_version};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) hash_field(&s, fields[i]);
    fmcl_sha256_final(&s, key);
}

int fmcl_cache_wanted(const fmcl_device_info *info, const char **why)
{
    const char *env = getenv("FMCL_PROGRAM_CACHE");
    *why = NULL;
    if (env && strcmp(env, "0") == 0) {
        *why = "FMCL_PROGRAM_CACHE=0";
        return 0;
    }
    if (env && strcmp(env, "1") == 0) return 1;
    /* PoCL keeps compiled kernels in ~/.cache/pocl/kcache, the NVIDIA driver
     * in ~/.nv/ComputeCache and rusticl in Mesa's shader cache, so ours would
     * be a second copy. Measured on a 2-core CPU (CPU seconds, context
     * creation plus first launches, driver cache warm): PoCL 0.10 without
     * ours, 0.06 with (but producing PoCL's binary once costs ~3.6 s);
     * rusticl 0.29 vs 0.25. Mesa's cache is what matters on rusticl: without
     * it the first launches alone cost 0.23, which a binary cannot save. */
    if (strstr(info->platform_name, "Portable Computing Language")) {
        *why = "PoCL caches compiled programs itself; FMCL_PROGRAM_CACHE=1 forces it on";
        return 0;
    }
    if (strstr(info->platform_name, "NVIDIA") || strstr(info->platform_vendor, "NVIDIA")) {
        *why = "the NVIDIA driver caches compiled programs itself; FMCL_PROGRAM_CACHE=1 "
               "forces it on";
        return 0;
    }
    if (strcmp(info->platform_name, "rusticl") == 0) {
        *why = "Mesa's shader cache keeps rusticl's compiled kernels; FMCL_PROGRAM_CACHE=1 "
               "forces it on";
        return 0;
    }
    return 1;
}

int fmcl_cache_path(const uint8_t key[FMCL_CACHE_KEY_BYTES], char *path, size_t cap)
{
    /* XDG Base Directory: a relative $XDG_CACHE_HOME is invalid and ignored. */
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char hex[2 * FMCL_CACHE_KEY_BYTES + 1];
    for (int i = 0; i < FMCL_CACHE_KEY_BYTES; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(path, cap, "%s/fmcl/programs/%s.bin", xdg, hex);
    else if (home && *home)
        n = snprintf(path, cap, "%s/.cache/fmcl/programs/%s.bin", home, hex);
    else
        return 0;
    return n > 0 && (size_t)n < cap;
}

fmcl_status fmcl_cache_read(const char *path, const uint8_t key[FMCL_CACHE_KEY_BYTES],
                            unsigned char **payload, size_t *len, char *why, size_t whylen)
{
    *payload = NULL;
    *len = 0;
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return fmcl_errf(why, whylen, FMCL_ERR_IO, "no cache entry yet");
    unsigned char *buf;
    size_t n;
    fmcl_status s = fmcl_read_file(path, MAX_ENTRY_BYTES, &buf, &n, why, whylen);
    if (s != FMCL_OK) return s;
    const char *defect = NULL;
    uint64_t want;
    uint8_t sum[32];
    if (n < FMCL_CACHE_HEADER_BYTES) {
        defect = "cache entry truncated (shorter than its header)";
    } else if (memcmp(buf + FMCL_CACHE_OFF_MAGIC, magic, sizeof magic) != 0) {
        defect = "cache entry is not an fmcl program (bad magic)";
    } else if (buf[FMCL_CACHE_OFF_FORMAT] != FORMAT_VERSION || buf[FMCL_CACHE_OFF_FORMAT + 1] ||
               buf[FMCL_CACHE_OFF_FORMAT + 2] || buf[FMCL_CACHE_OFF_FORMAT + 3]) {
        defect = "cache entry has another format version";
    } else if (memcmp(buf + FMCL_CACHE_OFF_KEY, key, FMCL_CACHE_KEY_BYTES) != 0) {
        defect = "cache entry key mismatch (another source, driver or device)";
    } else if ((want = get_u64(buf + FMCL_CACHE_OFF_LENGTH)) != n - FMCL_CACHE_HEADER_BYTES ||
               want == 0) {
        defect = "cache entry truncated or padded (length differs from its header)";
    } else {
        fmcl_sha256_of(buf + FMCL_CACHE_HEADER_BYTES, n - FMCL_CACHE_HEADER_BYTES, sum);
        if (memcmp(sum, buf + FMCL_CACHE_OFF_SUM, sizeof sum) != 0)
            defect = "cache entry corrupted (payload checksum mismatch)";
    }
    if (defect) {
        free(buf);
        return fmcl_errf(why, whylen, FMCL_ERR_FORMAT, "%s", defect);
    }
    memmove(buf, buf + FMCL_CACHE_HEADER_BYTES, n - FMCL_CACHE_HEADER_BYTES);
    *payload = buf;
    *len = n - FMCL_CACHE_HEADER_BYTES;
    return FMCL_OK;
}

/* mkdir -p of the folder holding path. */
fmcl_status fmcl_cache_make_parents(const char *path, char *err, size_t errlen)
{
    char *dir = strdup(path);
    if (!dir) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory");
    char *slash = strrchr(dir, '/');
    fmcl_status s = FMCL_OK;
    if (slash && slash != dir) {
        *slash = 0;
        for (char *p = dir + 1;; p++) {
            if (*p != '/' && *p != 0) continue;
            char c = *p;
            *p = 0;
            if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                s = fmcl_errf(err, errlen, FMCL_ERR_IO, "cannot create folder %s: %s", dir,
                              strerror(errno));
                break;
            }
            *p = c;
            if (!c) break;
        }
    }
    free(dir);
    return s;
}

fmcl_status fmcl_cache_write(const char *path, const uint8_t key[FMCL_CACHE_KEY_BYTES],
                             const void *payload, size_t len, char *err, size_t errlen)
{
    uint8_t hdr[FMCL_CACHE_HEADER_BYTES];
    memcpy(hdr + FMCL_CACHE_OFF_MAGIC, magic, sizeof magic);
    put_u32(hdr + FMCL_CACHE_OFF_FORMAT, FORMAT_VERSION);
    memcpy(hdr + FMCL_CACHE_OFF_KEY, key, FMCL_CACHE_KEY_BYTES);
    put_u64(hdr + FMCL_CACHE_OFF_LENGTH, len);
    fmcl_sha256_of(payload, len, hdr + FMCL_CACHE_OFF_SUM);
    fmcl_status s = fmcl_cache_make_parents(path, err, errlen);
    if (s != FMCL_OK) return s;
    const void *chunks[2] = {hdr, payload};
    size_t lens[2] = {sizeof hdr, len};
    return fmcl_write_file_atomic(path, chunks, lens, 2, err, errlen);
}

cl_program fmcl_cache_load_program(fmcl_ctx *ctx, const char *path,
                                   const uint8_t key[FMCL_CACHE_KEY_BYTES], const char *opts,
                                   char *why, size_t whylen)
{
    unsigned char *bin;
    size_t len;
    if (fmcl_cache_read(path, key, &bin, &len, why, whylen) != FMCL_OK) return NULL;
    const unsigned char *b = bin;
    cl_int rc, status = CL_SUCCESS;
    cl_program p = clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &len, &b, &status, &rc);
    free(bin);
    if (rc == CL_SUCCESS && status == CL_SUCCESS)
        rc = clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL);
    else if (rc == CL_SUCCESS)
        rc = status;
    if (rc == CL_SUCCESS) return p;
    if (p) clReleaseProgram(p);
    fmcl_errf(why, whylen, FMCL_ERR_OPENCL, "the driver refused the cached binary (%s)",
              fmcl_cl_strerror(rc));
    return NULL;
}

fmcl_status fmcl_cache_store_program(cl_program prog, const char *path,
                                     const uint8_t key[FMCL_CACHE_KEY_BYTES], char *err,
                                     size_t errlen)
{
    size_t size = 0;
    cl_int rc = clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL);
    if (rc != CL_SUCCESS || size == 0)
        return fmcl_errf(err, errlen, FMCL_ERR_OPENCL, "the driver offers no program binary (%s)",
                         fmcl_cl_strerror(rc));
    unsigned char *bin = malloc(size);
    if (!bin) return fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of memory");
    unsigned char *bins[1] = {bin};
    rc = clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL);
    fmcl_status s = rc == CL_SUCCESS
                        ? fmcl_cache_write(path, key, bin, size, err, errlen)
                        : fmcl_errf(err, errlen, FMCL_ERR_OPENCL,
                                    "reading the program binary failed (%s)", fmcl_cl_strerror(rc));
    free(bin);
    return s;
}
