/* The program binary cache (src/runtime/cache.h). Without a device: SHA-256
 * known answers (FIPS 180-2 examples), a key that changes with every input,
 * the on/off policy, the entry path, and every defect of an entry detected.
 * On every device, with FMCL_PROGRAM_CACHE=1 and a fresh $XDG_CACHE_HOME: the
 * first context writes the entry, the second loads it and computes bitwise
 * what a source-built context computes; truncated, corrupted, wrong-key and
 * other-driver entries are rebuilt from source and rewritten; an unwritable
 * cache never fails context creation. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow/flow_ops.h"
#include "io/atomic.h"
#include "nn/nn_ops.h"
#include "runtime/cache.h"
#include "runtime/rng.h"
#include "runtime/sha256.h"
#include "testlib.h"

static char tmp_root[256];

static void hex(const uint8_t *d, int n, char *out)
{
    for (int i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ---- without a device ---- */

static void check_sha256(void)
{
    static const struct {
        const char *msg;
        const char *digest;
    } kat[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    uint8_t d[32];
    char h[65];
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        fmcl_sha256_of(kat[i].msg, strlen(kat[i].msg), d);
        hex(d, 32, h);
        tl_check(strcmp(h, kat[i].digest) == 0, "sha256(\"%s\") = %s, want %s", kat[i].msg, h,
                 kat[i].digest);
    }
    /* One million 'a' fed in uneven pieces: the block buffering and the
     * 64-bit length. */
    static char a[1000];
    memset(a, 'a', sizeof a);
    fmcl_sha256 s;
    fmcl_sha256_init(&s);
    size_t fed = 0;
    for (size_t k = 1; fed < 1000000; k = k % 997 + 1) {
        size_t take = 1000000 - fed < k ? 1000000 - fed : k;
        fmcl_sha256_update(&s, a, take);
        fed += take;
    }
    fmcl_sha256_final(&s, d);
    hex(d, 32, h);
    tl_check(strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
             "sha256(10^6 x 'a') = %s", h);
}

static fmcl_program_id sample_id(void)
{
    fmcl_program_id id = {.source = "__kernel void k(void) {}",
                          .platform_name = "Plat",
                          .platform_vendor = "Vendor",
                          .device_name = "Dev",
                          .device_version = "OpenCL 3.0",
                          .driver_version = "1.2.3",
                          .library_version = FMCL_VERSION};
    strcpy(id.options, "-cl-std=CL1.2");
    strcpy(id.platform_version, "OpenCL 3.0 Plat");
    return id;
}

static void check_key(void)
{
    fmcl_program_id base = sample_id(), id;
    uint8_t k0[32], k1[32];
    fmcl_cache_key(&base, k0);
    id = base;
    fmcl_cache_key(&id, k1);
    tl_check(memcmp(k0, k1, 32) == 0, "the key of one identity changes between calls");
    /* Every input matters. */
    const char **fields[] = {&id.source,         &id.platform_name,  &id.platform_vendor,
                             &id.device_name,    &id.device_version, &id.driver_version,
                             &id.library_version};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        id = base;
        char changed[256];
        snprintf(changed, sizeof changed, "%s.", *fields[f]);
        *fields[f] = changed;
        fmcl_cache_key(&id, k1);
        tl_check(memcmp(k0, k1, 32) != 0, "the key ignores identity field %zu", f);
    }
    id = base;
    strcat(id.options, " -DX");
    fmcl_cache_key(&id, k1);
    tl_check(memcmp(k0, k1, 32) != 0, "the key ignores the build options");
    id = base;
    strcat(id.platform_version, "x");
    fmcl_cache_key(&id, k1);
    tl_check(memcmp(k0, k1, 32) != 0, "the key ignores the platform version");
    /* Moving a character across a field boundary is another identity. */
    id = base;
    id.device_name = "De";
    id.device_version = "vOpenCL 3.0";
    fmcl_cache_key(&id, k1);
    tl_check(memcmp(k0, k1, 32) != 0, "the key confuses field boundaries");
}

static void check_policy(void)
{
    fmcl_device_info pocl = {0}, nv = {0}, rusticl = {0}, intel = {0};
    strcpy(pocl.platform_name, "Portable Computing Language");
    strcpy(nv.platform_name, "NVIDIA CUDA");
    strcpy(rusticl.platform_name, "rusticl");
    strcpy(intel.platform_name, "Intel(R) OpenCL Graphics");
    const char *why;
    unsetenv("FMCL_PROGRAM_CACHE");
    tl_check(!fmcl_cache_wanted(&pocl, &why) && why, "cache on by default on PoCL");
    tl_check(!fmcl_cache_wanted(&nv, &why) && why, "cache on by default on NVIDIA");
    tl_check(!fmcl_cache_wanted(&rusticl, &why) && why, "cache on by default on rusticl");
    tl_check(fmcl_cache_wanted(&intel, &why), "cache off by default on a non-caching driver");
    setenv("FMCL_PROGRAM_CACHE", "1", 1);
    tl_check(fmcl_cache_wanted(&pocl, &why), "FMCL_PROGRAM_CACHE=1 does not force it on");
    setenv("FMCL_PROGRAM_CACHE", "0", 1);
    tl_check(!fmcl_cache_wanted(&intel, &why) && why && strstr(why, "FMCL_PROGRAM_CACHE=0"),
             "FMCL_PROGRAM_CACHE=0 does not turn it off");
    unsetenv("FMCL_PROGRAM_CACHE");
}

static void check_path(void)
{
    char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    xdg = xdg ? strdup(xdg) : NULL;
    home = home ? strdup(home) : NULL;
    uint8_t key[32];
    char path[512], want[512], h[65];
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)(i * 37 + 5);
    hex(key, 32, h);
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    setenv("HOME", "/home/u", 1);
    snprintf(want, sizeof want, "/x/cache/fmcl/programs/%s.bin", h);
    tl_check(fmcl_cache_path(key, path, sizeof path) && strcmp(path, want) == 0,
             "path under $XDG_CACHE_HOME: %s", path);
    setenv("XDG_CACHE_HOME", "relative/dir", 1); /* invalid per the XDG spec */
    snprintf(want, sizeof want, "/home/u/.cache/fmcl/programs/%s.bin", h);
    tl_check(fmcl_cache_path(key, path, sizeof path) && strcmp(path, want) == 0,
             "path under $HOME/.cache: %s", path);
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    tl_check(!fmcl_cache_path(key, path, sizeof path), "a path without $HOME: %s", path);
    setenv("HOME", "/home/u", 1);
    tl_check(!fmcl_cache_path(key, path, 40), "a path that does not fit");
    /* The drivers' own caches live there too. */
    if (xdg)
        setenv("XDG_CACHE_HOME", xdg, 1);
    else
        unsetenv("XDG_CACHE_HOME");
    if (home)
        setenv("HOME", home, 1);
    else
        unsetenv("HOME");
    free(xdg);
    free(home);
}

static int write_bytes(const char *path, const unsigned char *p, size_t n)
{
    const void *chunk[1] = {p};
    return fmcl_write_file_atomic(path, chunk, &n, 1, NULL, 0) == FMCL_OK;
}

/* Reads path back expecting a defect whose reason contains want. */
static void expect_defect(const char *path, const uint8_t *key, const char *what, const char *want)
{
    unsigned char *p = NULL;
    size_t n = 0;
    char why[256] = "";
    fmcl_status s = fmcl_cache_read(path, key, &p, &n, why, sizeof why);
    tl_check(s != FMCL_OK && p == NULL && strstr(why, want), "%s: status %d, reason '%s'", what,
             (int)s, why);
    free(p);
}

static void check_entry_file(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/files/a/b/entry.bin", tmp_root);
    uint8_t key[32], other[32];
    fmcl_program_id id = sample_id();
    fmcl_cache_key(&id, key);
    id.driver_version = "1.2.4";
    fmcl_cache_key(&id, other);
    enum { n = 1237 };
    unsigned char payload[n], *got = NULL, *raw = NULL;
    for (int i = 0; i < n; i++) payload[i] = (unsigned char)(i * 7 + 3);
    expect_defect(path, key, "missing entry", "no cache entry");
    char err[256] = "";
    tl_check(fmcl_cache_write(path, key, payload, n, err, sizeof err) == FMCL_OK,
             "writing an entry (folders created): %s", err);
    size_t len = 0, rawlen = 0;
    char why[256] = "";
    tl_check(fmcl_cache_read(path, key, &got, &len, why, sizeof why) == FMCL_OK && len == n &&
                 memcmp(got, payload, n) == 0,
             "entry read back differs: %s", why);
    free(got);
    if (!tl_check(fmcl_read_file(path, 1 << 20, &raw, &rawlen, NULL, 0) == FMCL_OK &&
                      rawlen == FMCL_CACHE_HEADER_BYTES + n,
                  "entry file holds %zu bytes", rawlen))
        return;
    expect_defect(path, other, "entry for another driver version", "key mismatch");
    unsigned char *bad = malloc(rawlen + 1);
    struct {
        const char *what, *want;
        size_t at;  /* byte to flip, or SIZE_MAX */
        size_t len; /* bytes written */
    } cases[] = {
        {"payload byte flipped", "checksum", FMCL_CACHE_HEADER_BYTES + n / 2, rawlen},
        {"key byte flipped", "key mismatch", FMCL_CACHE_OFF_KEY + 31, rawlen},
        {"magic byte flipped", "magic", FMCL_CACHE_OFF_MAGIC, rawlen},
        {"format version changed", "format version", FMCL_CACHE_OFF_FORMAT, rawlen},
        {"length byte flipped", "length", FMCL_CACHE_OFF_LENGTH + 2, rawlen},
        {"checksum byte flipped", "checksum", FMCL_CACHE_OFF_SUM + 5, rawlen},
        {"truncated payload", "length", SIZE_MAX, rawlen - 1},
        {"one byte appended", "length", SIZE_MAX, rawlen + 1},
        {"truncated header", "truncated", SIZE_MAX, FMCL_CACHE_HEADER_BYTES - 1},
        {"empty file", "truncated", SIZE_MAX, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(bad, raw, rawlen);
        bad[rawlen] = 0x5a;
        if (cases[c].at != SIZE_MAX) bad[cases[c].at] ^= 0x01;
        if (tl_check(write_bytes(path, bad, cases[c].len), "writing case '%s'", cases[c].what))
            expect_defect(path, key, cases[c].what, cases[c].want);
    }
    free(bad);
    free(raw);
}

/* ---- on a device ---- */

static char dev_spec[32];

static fmcl_ctx *make_ctx(const char *what)
{
    fmcl_ctx *ctx = NULL;
    char err[2048];
    if (!tl_check(fmcl_ctx_create(&ctx, dev_spec, err, sizeof err) == FMCL_OK,
                  "%s: context creation failed: %s", what, err))
        return NULL;
    const char *notes = fmcl_ctx_notes(ctx), *eol = strchr(notes, '\n');
    printf("  %-34s %.*s\n", what, (int)(eol ? eol - notes : (long)strlen(notes)), notes);
    return ctx;
}

/* Creates a context, checks its notes contain want, destroys it. */
static void expect_note(const char *what, const char *want)
{
    fmcl_ctx *ctx = make_ctx(what);
    if (!ctx) return;
    tl_check(strstr(fmcl_ctx_notes(ctx), want) != NULL, "%s: notes lack '%s'", what, want);
    fmcl_ctx_free(ctx);
}

enum { OPS_B = 7, OPS_N = 143, OPS_COUNT = OPS_B * OPS_N, OPS_OUT = 3 * OPS_COUNT + 1 };

/* A few ops chained (Philox + Box-Muller, bias + SiLU, a reduction, two
 * Adam steps); out gets every result. */
static int run_ops(fmcl_ctx *ctx, float *out)
{
    float bias[OPS_N];
    tl_fill(bias, OPS_N, -1.f, 1.f, 11);
    tl_buf x = {0}, h = {0}, b = {0}, sq = {0}, part = {0}, m = {0}, v = {0};
    size_t np = fmcl_reduce_partials(OPS_COUNT);
    int ok = tl_buf_new(ctx, &x, OPS_COUNT, NULL) && tl_buf_new(ctx, &h, OPS_COUNT, NULL) &&
             tl_buf_new(ctx, &b, OPS_N, bias) && tl_buf_new(ctx, &sq, 1, NULL) &&
             tl_buf_new(ctx, &part, np, NULL) && tl_buf_new(ctx, &m, OPS_COUNT, NULL) &&
             tl_buf_new(ctx, &v, OPS_COUNT, NULL);
    fmcl_adam_params ap = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .clip = 1.f};
    ok = ok && fmcl_randn(ctx, x.t, 12345, FMCL_STREAM_NOISE, 3, OPS_COUNT) == FMCL_OK &&
         tl_buf_read(ctx, &x, out) &&
         fmcl_bias_silu_forward(ctx, x.t, h.t, b.t, OPS_B, OPS_N) == FMCL_OK &&
         tl_buf_read(ctx, &h, out + OPS_COUNT) &&
         fmcl_sumsq(ctx, sq.t, h.t, part.t, OPS_COUNT) == FMCL_OK &&
         tl_buf_read(ctx, &sq, out + 3 * OPS_COUNT);
    for (int step = 1; ok && step <= 2; step++)
        ok = fmcl_adam_step(ctx, x.t, h.t, m.t, v.t, sq.t, &ap, step, OPS_COUNT) == FMCL_OK;
    ok = ok && tl_buf_read(ctx, &x, out + 2 * OPS_COUNT);
    tl_check(ok, "running the ops: %s", fmcl_ctx_error(ctx));
    tl_buf *all[] = {&x, &h, &b, &sq, &part, &m, &v};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tl_buf_free(all[i]);
    return ok;
}

/* The ops really ran: randn and bias+SiLU against their references. */
static void check_ops_ran(const float *out)
{
    static float want[OPS_COUNT], z[OPS_COUNT], h[OPS_COUNT], bias[OPS_N];
    static double wd[OPS_COUNT];
    fmcl_randn_ref(want, 12345, FMCL_STREAM_NOISE, 3, OPS_COUNT);
    for (int i = 0; i < OPS_COUNT; i++) wd[i] = want[i];
    tl_close("randn (cache-loaded) vs host", out, wd, OPS_COUNT, 2e-6, 1e-5);
    tl_fill(bias, OPS_N, -1.f, 1.f, 11);
    memcpy(z, out, sizeof z);
    fmcl_bias_silu_forward_ref(z, h, bias, OPS_B, OPS_N);
    for (int i = 0; i < OPS_COUNT; i++) wd[i] = h[i];
    tl_close("bias+silu (cache-loaded) vs host", out + OPS_COUNT, wd, OPS_COUNT, 1e-6, 1e-5);
}

static int read_entry(const char *path, unsigned char **raw, size_t *len)
{
    return tl_check(fmcl_read_file(path, (size_t)1 << 30, raw, len, NULL, 0) == FMCL_OK &&
                        *len > FMCL_CACHE_HEADER_BYTES,
                    "reading the cache entry %s", path);
}

/* Only fmcl's entry file lives in the programs folder. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static int device_checks(fmcl_ctx *first, void *user)
{
    (void)user;
    const fmcl_device_info *info = fmcl_ctx_device(first);
    snprintf(dev_spec, sizeof dev_spec, "%d:%d", info->platform_index, info->device_index);
    char xdg[512], dir[600], path[1024];
    snprintf(xdg, sizeof xdg, "%s/dev%s", tmp_root, dev_spec);
    snprintf(dir, sizeof dir, "%s/fmcl/programs", xdg);
    setenv("XDG_CACHE_HOME", xdg, 1);
    setenv("FMCL_PROGRAM_CACHE", "1", 1);

    fmcl_program_id id;
    uint8_t key[32], other_key[32];
    fmcl_program_id_of(first, &id);
    fmcl_cache_key(&id, key);
    if (!tl_check(fmcl_cache_path(key, path, sizeof path), "no cache path")) return 1;

    expect_note("first context (empty cache)", "cache entry written to");
    unsigned char *raw = NULL, *bad = NULL;
    size_t len = 0;
    tl_check(count_entries(dir) == 1, "the programs folder holds %d files, want 1",
             count_entries(dir));
    if (!read_entry(path, &raw, &len)) return 1;

    static float cached[OPS_OUT], source[OPS_OUT];
    fmcl_ctx *warm = make_ctx("second context");
    setenv("FMCL_PROGRAM_CACHE", "0", 1);
    fmcl_ctx *cold = make_ctx("context with the cache off");
    setenv("FMCL_PROGRAM_CACHE", "1", 1);
    if (warm && cold) {
        tl_check(strstr(fmcl_ctx_notes(warm), "loaded from the binary cache") != NULL,
                 "the second context did not load the entry");
        tl_check(strstr(fmcl_ctx_notes(cold), "built from source (binary cache off") != NULL,
                 "FMCL_PROGRAM_CACHE=0 did not build from source");
        if (run_ops(warm, cached) && run_ops(cold, source)) {
            check_ops_ran(cached);
            tl_check(memcmp(cached, source, sizeof cached) == 0,
                     "cache-loaded and source-built programs differ in some bit");
            printf("  %-34s %d floats bitwise equal\n", "ops, cached vs source", OPS_OUT);
        }
    }
    fmcl_ctx_free(warm);
    fmcl_ctx_free(cold);

    /* Damaged entries: each is rebuilt from source and rewritten. */
    bad = malloc(len);
    tl_check(bad != NULL, "no host memory for a copy of the %zu-byte entry", len);
    struct {
        const char *what, *want;
        size_t at, n;
    } cases[] = {
        {"truncated entry", "truncated", SIZE_MAX, len - len / 3},
        {"flipped payload byte", "checksum", FMCL_CACHE_HEADER_BYTES + (len - 100) / 2, len},
        {"wrong key in the header", "key mismatch", FMCL_CACHE_OFF_KEY + 7, len},
    };
    for (size_t c = 0; bad && c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(bad, raw, len);
        if (cases[c].at != SIZE_MAX) bad[cases[c].at] ^= 0x10;
        if (!tl_check(write_bytes(path, bad, cases[c].n), "writing '%s'", cases[c].what)) continue;
        expect_note(cases[c].what, cases[c].want);
        unsigned char *again = NULL;
        size_t n2 = 0;
        char why[256] = "";
        tl_check(fmcl_cache_read(path, key, &again, &n2, why, sizeof why) == FMCL_OK,
                 "%s: the entry was not rewritten (%s)", cases[c].what, why);
        free(again);
    }
    free(bad);

    /* A sound entry for another driver version, whose binary this driver
     * would load, placed where ours belongs: only the key can tell. */
    id.driver_version = "another driver 0.0";
    fmcl_cache_key(&id, other_key);
    char other_path[1024];
    tl_check(fmcl_cache_path(other_key, other_path, sizeof other_path) &&
                 strcmp(other_path, path) != 0,
             "another driver version maps to the same file");
    if (tl_check(fmcl_cache_write(path, other_key, raw + FMCL_CACHE_HEADER_BYTES,
                                  len - FMCL_CACHE_HEADER_BYTES, NULL, 0) == FMCL_OK,
                 "writing the other driver's entry"))
        expect_note("entry of another driver version", "key mismatch");
    expect_note("after the rewrites", "loaded from the binary cache");
    free(raw);

    /* Unwritable caches: a file where the cache folder should be, and a
     * folder where the entry should be (both hold for root too). */
    char blocker[600];
    snprintf(blocker, sizeof blocker, "%s/blocker", xdg);
    const unsigned char one = 1;
    if (tl_check(write_bytes(blocker, &one, 1), "writing %s", blocker)) {
        setenv("XDG_CACHE_HOME", blocker, 1);
        expect_note("cache folder is a file", "cache entry not written");
        setenv("XDG_CACHE_HOME", xdg, 1);
    }
    remove(path);
    if (tl_check(mkdir(path, 0700) == 0, "making a folder at %s", path))
        expect_note("entry path is a folder", "cache entry not written");
    rmdir(path);
    return 0;
}

int main(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/fmcl_test_cache.XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    printf("== without a device (files under %s)\n", tmp_root);
    check_sha256();
    check_key();
    check_policy();
    check_path();
    check_entry_file();
    setenv("FMCL_PROGRAM_CACHE", "0", 1); /* the first context per device: no cache */
    tl_run_devices(device_checks, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0) printf("note: could not remove %s\n", tmp_root);
    return tl_summary();
}
