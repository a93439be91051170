/* The tuned-parameter file (runtime/tune.h): round trip through the writer
 * and the parser, rejection of malformed and truncated text, the identity
 * match; then on every device, with $XDG_CACHE_HOME pointing at a temporary
 * folder, what context creation does with the device's file: a malformed
 * one, one for another driver, one with absurd values and one with
 * parameters missing are ignored with a warning note, a matching one is
 * applied and GEMM through the indirect kernel it tunes still matches the
 * double reference. Last, on the first device, fmcl_tune_gemm on a tiny
 * space (fmcl/tune.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmcl/tune.h"
#include "io/atomic.h"
#include "runtime/tune.h"
#include "testlib.h"

static fmcl_tune_kernel kernel(const char *name, const char *spec)
{
    fmcl_tune_kernel k = {0};
    snprintf(k.name, sizeof k.name, "%s", name);
    char buf[512], *save = NULL;
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(t, '=');
        *eq = 0;
        snprintf(k.param[k.n], sizeof k.param[0], "%s", t);
        k.value[k.n++] = strtoul(eq + 1, NULL, 10);
    }
    return k;
}

/* CLBlast 1.5.3's Xgemm parameters, a valid set (CLBlast's tuner constraints). */
#define XGEMM_OK                                                                                   \
    "GEMMK=0 MWG=32 NWG=64 KWG=32 MDIMC=8 NDIMC=8 MDIMA=8 NDIMB=8 KWI=2 VWM=4 VWN=4 STRM=0 "       \
    "STRN=0 SA=0 SB=0 KREG=1"

/* The same with a tile CLBlast would pad every matrix to: it meets CLBlast's
 * own rules, yet every GEMM fails for want of memory. */
#define XGEMM_ABSURD                                                                               \
    "GEMMK=0 MWG=1000000 NWG=64 KWG=32 MDIMC=8 NDIMC=8 MDIMA=8 NDIMB=8 KWI=2 VWM=4 VWN=4 STRM=0 "  \
    "STRN=0 SA=0 SB=0 KREG=1"

static fmcl_tune_set sample_set(void)
{
    fmcl_tune_set s = {0};
    snprintf(s.platform, sizeof s.platform, "Some Platform");
    snprintf(s.device, sizeof s.device, "dev-42 (x)");
    snprintf(s.driver, sizeof s.driver, "3.1+debian");
    snprintf(s.clblast, sizeof s.clblast, "1.5.3");
    fmcl_tune_kernel a = kernel("Xgemm", XGEMM_OK),
                     b = kernel("GemmRoutine", "XGEMM_MIN_INDIRECT_SIZE=128");
    tl_check(fmcl_tune_put(&s, &a) && fmcl_tune_put(&s, &b) && s.n_kernels == 2,
             "a set of two kernels");
    return s;
}

static int same_set(const fmcl_tune_set *a, const fmcl_tune_set *b)
{
    if (strcmp(a->platform, b->platform) || strcmp(a->device, b->device) ||
        strcmp(a->driver, b->driver) || strcmp(a->clblast, b->clblast) ||
        a->n_kernels != b->n_kernels)
        return 0;
    for (int i = 0; i < a->n_kernels; i++) {
        const fmcl_tune_kernel *x = &a->kernel[i], *y = &b->kernel[i];
        if (strcmp(x->name, y->name) || x->n != y->n) return 0;
        for (int j = 0; j < x->n; j++)
            if (strcmp(x->param[j], y->param[j]) || x->value[j] != y->value[j]) return 0;
    }
    return 1;
}

static void host_tests(void)
{
    fmcl_tune_set s = sample_set(), got[4];
    char text[4096], err[256];
    size_t len = fmcl_tune_format(&s, "made by test_tune\nsecond line", text, sizeof text);
    int n = -1;
    tl_check(len < sizeof text && strlen(text) == len, "format: length %zu", len);
    tl_check(fmcl_tune_parse(text, len, got, 4, &n, err, sizeof err) == FMCL_OK && n == 1 &&
                 same_set(&s, &got[0]),
             "round trip: %s (n %d)", err, n);

    /* Two sections, comments and blank lines between, CRLF line ends. */
    char two[8192];
    snprintf(two, sizeof two, "# a comment\r\n\r\n%s\n%s", text, text);
    tl_check(fmcl_tune_parse(two, strlen(two), got, 4, &n, err, sizeof err) == FMCL_OK && n == 2 &&
                 same_set(&s, &got[1]),
             "two sections: %s (n %d)", err, n);
    tl_check(fmcl_tune_parse(two, strlen(two), got, 1, &n, err, sizeof err) == FMCL_ERR_FORMAT,
             "more sections than room are rejected");

    /* Every proper prefix that cuts into the section is rejected. */
    int bad_prefix = 0;
    const char *end_line = strstr(text, "\nend\n");
    size_t complete = (size_t)(end_line - text) + 4; /* through "end" */
    for (size_t l = 0; l < len; l++) {
        fmcl_status st = fmcl_tune_parse(text, l, got, 4, &n, err, sizeof err);
        int whole = l >= complete;
        if (whole ? st != FMCL_OK || n != 1 : st == FMCL_OK && n != 0) bad_prefix++;
    }
    tl_check(bad_prefix == 0, "truncated text: %d prefixes misjudged", bad_prefix);
    tl_check(fmcl_tune_parse(text, (size_t)(end_line - text) + 1, got, 4, &n, err, sizeof err) ==
                     FMCL_ERR_FORMAT &&
                 strstr(err, "truncated") != NULL,
             "a cut-off section says truncated: %s", err);

    /* Malformed sections, each rejected whole. */
    const char *head = "fmcl-clblast-params 1\nplatform P\ndevice D\ndriver 1\nclblast 1.5.3\n";
    const char *bad[] = {
        "platform P\n",               /* no header */
        "fmcl-clblast-params 2\n",    /* unknown version */
        "kernel Xgemm MWG=32\nend\n", /* used after head: fine; see below */
        "kernel Xgemm MWG=abc\nend\n",
        "kernel Xgemm MWG=-1\nend\n",
        "kernel Xgemm MWG=99999999\nend\n",
        "kernel Xgemm MWG=32 MWG=64\nend\n",
        "kernel Xgemm MWG\nend\n",
        "kernel Xgemm\nend\n",
        "kernel X-gemm MWG=1\nend\n",
        "kernel Ygemm MWG=1\nend\n",
        "kernel Xgemm MWG=1\nkernel Xgemm MWG=2\nend\n",
        "driver 2\nkernel Xgemm MWG=1\nend\n",
        "end\n",
        "kernel Xgemm MWG=1\nbogus line\nend\n",
        "kernel Xgemm MWG=1\nend\nkernel Copy COPY_VW=1\n",
        "kernel Xgemm MWG=1\nfmcl-clblast-params 1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[1024];
        /* The first two stand alone; the rest follow a complete identity. */
        snprintf(buf, sizeof buf, "%s%s", i < 2 ? "" : head, bad[i]);
        fmcl_status st = fmcl_tune_parse(buf, strlen(buf), got, 4, &n, err, sizeof err);
        if (i == 2)
            tl_check(st == FMCL_OK && n == 1, "a minimal section parses: %s", err);
        else
            tl_check(st == FMCL_ERR_FORMAT && n == 0 && strstr(err, "line ") != NULL,
                     "malformed text %zu rejected with a line number (%s)", i, err);
    }
    char nul[200];
    size_t hl = strlen(head);
    memcpy(nul, head, hl);
    memcpy(nul + hl, "kernel Xgemm M\0G=1\nend\n", 23);
    tl_check(fmcl_tune_parse(nul, hl + 23, got, 4, &n, err, sizeof err) == FMCL_ERR_FORMAT,
             "a NUL byte is rejected");
    char *longline = malloc(3000);
    memset(longline, 'x', 2999);
    longline[2999] = 0;
    memcpy(longline, head, hl);
    tl_check(fmcl_tune_parse(longline, 2999, got, 4, &n, err, sizeof err) == FMCL_ERR_FORMAT,
             "an overlong line is rejected");
    free(longline);

    /* Validity (fmcl tune's rules, applied to loaded files too): the sample
     * set passes; an absurd tile, a missing parameter, a vector width that
     * is no OpenCL vector and too much work per work-item do not. */
    char why_buf[128];
    const struct {
        const char *kernel, *spec, *why; /* why: NULL when valid */
    } rules[] = {
        {"Xgemm", XGEMM_OK, NULL},
        {"GemmRoutine", "XGEMM_MIN_INDIRECT_SIZE=1000000", NULL},
        {"Xgemm", XGEMM_ABSURD, "tile larger than 256"},
        {"Xgemm", "MWG=32 NWG=32", "parameter GEMMK is missing"},
        {"Copy", "COPY_DIMX=8 COPY_DIMY=8 COPY_VW=3 COPY_WPT=1", "1, 2, 4, 8 or 16"},
        {"Pad", "PAD_DIMX=8 PAD_DIMY=8 PAD_WPTX=32 PAD_WPTY=16", "per work-item"},
        {"Transpose", "TRA_DIM=64 TRA_PAD=0 TRA_SHUFFLE=0 TRA_WPT=1", "work-group larger"},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        fmcl_tune_kernel k = kernel(rules[i].kernel, rules[i].spec);
        const char *bad = fmcl_tune_invalid(&k, 1024, 32768, why_buf, sizeof why_buf);
        if (rules[i].why)
            tl_check(bad && strstr(bad, rules[i].why), "%s %s: '%s', expected '%s'",
                     rules[i].kernel, rules[i].spec, bad ? bad : "valid", rules[i].why);
        else
            tl_check(!bad, "%s %s is valid, not '%s'", rules[i].kernel, rules[i].spec, bad);
    }

    /* The identity must match in all four fields. */
    fmcl_tune_set id = s;
    char why[400];
    tl_check(fmcl_tune_matches(&s, &id, why, sizeof why), "identical identity matches");
    snprintf(id.driver, sizeof id.driver, "3.2");
    tl_check(!fmcl_tune_matches(&s, &id, why, sizeof why) && strstr(why, "driver version"),
             "another driver does not match (%s)", why);
    id = s;
    snprintf(id.clblast, sizeof id.clblast, "1.6.0");
    tl_check(!fmcl_tune_matches(&s, &id, why, sizeof why) && strstr(why, "CLBlast"),
             "another CLBlast does not match (%s)", why);
}

static char cache_dir[] = "/tmp/fmcl-test-tune-XXXXXX";

/* A fresh context on ctx's device with the device's tune file holding text;
 * returns its notes (copied) and runs a GEMM through it when gemm is set. */
static void with_file(fmcl_ctx *ctx, const char *text, const char *want_note, int gemm)
{
    const fmcl_device_info *info = fmcl_ctx_device(ctx);
    char path[1024], err[512], spec[32];
    if (!tl_check(fmcl_tune_path(info, path, sizeof path), "tune path")) return;
    tl_check(strncmp(path, cache_dir, strlen(cache_dir)) == 0, "path %s under $XDG_CACHE_HOME",
             path);
    fmcl_tune_set s = {0};
    fmcl_tune_identity(info, &s);
    if (!tl_check(fmcl_tune_save(path, &s, NULL, err, sizeof err) == FMCL_OK, "save: %s", err))
        return;
    size_t len = strlen(text);
    const void *chunk = text;
    if (!tl_check(fmcl_write_file_atomic(path, &chunk, &len, 1, err, sizeof err) == FMCL_OK, "%s",
                  err))
        return;
    snprintf(spec, sizeof spec, "%d:%d", info->platform_index, info->device_index);
    fmcl_ctx *c2 = NULL;
    if (!tl_check(fmcl_ctx_create(&c2, spec, err, sizeof err) == FMCL_OK, "context: %s", err))
        return;
    const char *notes = fmcl_ctx_notes(c2);
    tl_check(strstr(notes, want_note) != NULL, "notes hold '%s': %s", want_note, notes);
    if (gemm) {
        /* M N K = 150 130 120 lies above the XGEMM_MIN_INDIRECT_SIZE of 16
         * the file sets: CLBlast takes the tuned indirect kernel. */
        enum { M = 150, N = 130, K = 120 };
        float *A = malloc(M * K * 4), *B = malloc(K * N * 4), *C = malloc(M * N * 4);
        double *want = malloc(M * N * sizeof *want);
        tl_fill(A, M * K, -1, 1, 5);
        tl_fill(B, K * N, -1, 1, 6);
        fmcl_gemm_ref(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
        for (int i = 0; i < M * N; i++) want[i] = C[i];
        tl_buf a, b, cb;
        if (tl_buf_new(c2, &a, M * K, A) && tl_buf_new(c2, &b, K * N, B) &&
            tl_buf_new(c2, &cb, M * N, NULL)) {
            fmcl_gemm_use(c2, 0); /* CLBlast, also on PoCL, which takes the packed kernels */
            fmcl_status st = fmcl_gemm_reserve(c2, 0, 1, M, N, K, K, K, N);
            if (st == FMCL_OK)
                st = fmcl_gemm(c2, 0, 1, M, N, K, 1.0f, a.t, K, b.t, K, 0.0f, cb.t, N);
            if (tl_check(st == FMCL_OK, "tuned gemm: %s", fmcl_ctx_error(c2)) &&
                tl_buf_read(c2, &cb, C)) {
                tl_close("tuned gemm NT 150x130x120", C, want, M * N, 1e-5 * 11 + 1e-6, 1e-5);
                tl_guard_ok(c2, &cb, "tuned gemm");
            }
            tl_buf_free(&a);
            tl_buf_free(&b);
            tl_buf_free(&cb);
        }
        free(A), free(B), free(C), free(want);
    }
    fmcl_ctx_free(c2);
    unlink(path);
}

/* What fmcl_tune_gemm reported, in order. */
typedef struct {
    int n, kernels, timed, bad_times, first, last;
} events;

static void record(void *user, const fmcl_tune_event *e)
{
    events *ev = user;
    if (ev->n++ == 0) ev->first = (int)e->step;
    ev->last = (int)e->step;
    ev->kernels += e->step == FMCL_TUNE_KERNEL;
    if (e->step == FMCL_TUNE_CANDIDATE || e->step == FMCL_TUNE_CURRENT ||
        e->step == FMCL_TUNE_DEFAULTS) {
        ev->timed++;
        for (int i = 0; i < e->n_shapes; i++)
            ev->bad_times += e->n_shapes != 2 || !(e->seconds[i] > 0) || !(e->score > 0);
    }
}

/* The search on a tiny space (one candidate per kernel, two small shapes in
 * two workloads) from a context without tuning: it reports every kernel,
 * writes a file that parses, matches the device and passes the validity
 * rules; a context that applied tuned parameters is refused. */
static void search_tests(fmcl_ctx *ctx)
{
    const fmcl_device_info *info = fmcl_ctx_device(ctx);
    char spec[32], err[512], path[1100];
    snprintf(spec, sizeof spec, "%d:%d", info->platform_index, info->device_index);
    snprintf(path, sizeof path, "%s/searched.txt", cache_dir);
    setenv("FMCL_NO_TUNING", "1", 1);
    fmcl_ctx *c2 = NULL;
    fmcl_status st = fmcl_ctx_create(&c2, spec, err, sizeof err);
    unsetenv("FMCL_NO_TUNING");
    if (!tl_check(st == FMCL_OK, "context without tuning: %s", err)) return;
    fmcl_tune_info where;
    fmcl_tune_info_of(c2, &where);
    char want_path[1024];
    tl_check(where.from == FMCL_TUNED_OFF && fmcl_tune_path(info, want_path, sizeof want_path) &&
                 !strcmp(where.path, want_path),
             "info: tuning off (%d), the device's file %s", where.from, where.path);
    fmcl_tune_config cfg;
    fmcl_tune_config_default(&cfg);
    tl_check(cfg.n_shapes == 6 && cfg.shapes[0].M == 4096 && cfg.shapes[5].workload == 1 &&
                 !cfg.path,
             "the default shapes: the two MLPs' hidden layers");
    cfg.n_shapes = 2;
    cfg.shapes[0] = (fmcl_tune_shape){0, 1, 48, 40, 32, 0};
    cfg.shapes[1] = (fmcl_tune_shape){1, 0, 32, 24, 64, 1};
    cfg.repeats = 1;
    cfg.max_candidates = 1;
    cfg.path = path;
    events ev = {0};
    fmcl_tune_result res;
    st = fmcl_tune_gemm(c2, &cfg, record, &ev, &res);
    if (tl_check(st == FMCL_OK, "tiny search: %s", fmcl_ctx_error(c2))) {
        tl_check(ev.first == FMCL_TUNE_DEFAULTS && ev.last == FMCL_TUNE_SWITCH && ev.kernels == 6 &&
                     ev.timed >= 2 && ev.bad_times == 0,
                 "events: defaults first, switch last, 6 kernels, %d timed, %d bad times", ev.timed,
                 ev.bad_times);
        tl_check(!strcmp(res.path, path) && res.n_kernels >= 1 && res.switch_size > 0 &&
                     res.default_seconds[1] > 0 && res.default_score > 1.99 &&
                     res.default_score < 2.01,
                 "result: %d kernels, switch %zu, the defaults' score %g", res.n_kernels,
                 res.switch_size, res.default_score);
        unsigned char *text = NULL;
        size_t len = 0;
        fmcl_tune_set got[2], id;
        int n = 0, invalid = 0;
        size_t lmem, max_wg;
        fmcl_tune_identity(info, &id);
        fmcl_tune_limits(c2, &lmem, &max_wg);
        st = fmcl_read_file(path, 1 << 16, &text, &len, err, sizeof err);
        if (st == FMCL_OK)
            st = fmcl_tune_parse((const char *)text, len, got, 2, &n, err, sizeof err);
        free(text);
        if (tl_check(st == FMCL_OK && n == 1 && got[0].n_kernels == res.n_kernels,
                     "the file parses: %s", err)) {
            for (int i = 0; i < got[0].n_kernels; i++) {
                char buf[128];
                invalid += strcmp(got[0].kernel[i].name, "GemmRoutine") != 0 &&
                           fmcl_tune_invalid(&got[0].kernel[i], max_wg, lmem, buf, sizeof buf);
            }
            tl_check(fmcl_tune_matches(&got[0], &id, err, sizeof err) && invalid == 0,
                     "the file is the device's (%s) and its sets are valid (%d not)", err, invalid);
        }
        double sec[2] = {0, 0};
        tl_check(fmcl_tune_time(c2, &cfg, sec) == FMCL_OK && sec[0] > 0 && sec[1] > 0,
                 "timing the shapes: %s", fmcl_ctx_error(c2));
    }
    cfg.n_shapes = 0;
    tl_check(fmcl_tune_gemm(c2, &cfg, NULL, NULL, &res) == FMCL_ERR_ARG &&
                 strstr(fmcl_ctx_error(c2), "0 shapes"),
             "no shapes refused: %s", fmcl_ctx_error(c2));
    fmcl_ctx_free(c2);

    /* The searched file as the device's: a context applies it, and refuses to search. */
    unsigned char *text = NULL;
    size_t len = 0;
    if (fmcl_read_file(path, 1 << 16, &text, &len, err, sizeof err) != FMCL_OK) return;
    const void *chunk = text;
    st = fmcl_write_file_atomic(want_path, &chunk, &len, 1, err, sizeof err);
    free(text);
    if (tl_check(st == FMCL_OK, "%s", err) &&
        tl_check(fmcl_ctx_create(&c2, spec, err, sizeof err) == FMCL_OK, "%s", err)) {
        fmcl_tune_info_of(c2, &where);
        fmcl_tune_config_default(&cfg);
        tl_check(where.from == FMCL_TUNED_FILE, "the device's file applies (%d)", where.from);
        tl_check(fmcl_tune_gemm(c2, &cfg, NULL, NULL, &res) == FMCL_ERR_ARG &&
                     strstr(fmcl_ctx_error(c2), "FMCL_NO_TUNING=1"),
                 "a tuned context is refused: %s", fmcl_ctx_error(c2));
        fmcl_ctx_free(c2);
    }
    unlink(want_path);
    unlink(path);
}

static int device_tests(fmcl_ctx *ctx, void *user)
{
    (void)user;
    fmcl_tune_set s;
    fmcl_tune_identity(fmcl_ctx_device(ctx), &s);
    char text[4096];
    with_file(ctx, "fmcl-clblast-params 1\nplatform x\n", "ignored: truncated", 0);
    snprintf(s.driver, sizeof s.driver, "not-this-driver");
    fmcl_tune_kernel k = kernel("Xgemm", XGEMM_OK);
    if (tl_check(fmcl_tune_put(&s, &k) &&
                     fmcl_tune_format(&s, NULL, text, sizeof text) < sizeof text,
                 "another driver's file"))
        with_file(ctx, text, "ignored: made for driver version 'not-this-driver'", 0);
    /* A file with absurd values is ignored, naming the file and the rule. */
    fmcl_tune_identity(fmcl_ctx_device(ctx), &s);
    fmcl_tune_kernel absurd = kernel("Xgemm", XGEMM_ABSURD);
    char want[1200], path[1024];
    if (tl_check(fmcl_tune_put(&s, &absurd) &&
                     fmcl_tune_format(&s, NULL, text, sizeof text) < sizeof text &&
                     fmcl_tune_path(fmcl_ctx_device(ctx), path, sizeof path),
                 "the absurd file")) {
        snprintf(want, sizeof want, "in %s ignored: kernel Xgemm: a tile larger than 256", path);
        with_file(ctx, text, want, 0);
    }
    /* Applied last: CLBlast keeps overrides for the rest of the process. */
    fmcl_tune_identity(fmcl_ctx_device(ctx), &s);
    fmcl_tune_kernel partial = kernel("Xgemm", "MWG=32 NWG=32");
    if (tl_check(fmcl_tune_put(&s, &partial) &&
                     fmcl_tune_format(&s, NULL, text, sizeof text) < sizeof text,
                 "a file of partial parameters"))
        with_file(ctx, text, "warning: ", 0);
    fmcl_tune_identity(fmcl_ctx_device(ctx), &s);
    fmcl_tune_kernel sw = kernel("GemmRoutine", "XGEMM_MIN_INDIRECT_SIZE=16");
    if (tl_check(fmcl_tune_put(&s, &k) && fmcl_tune_put(&s, &sw) &&
                     fmcl_tune_format(&s, NULL, text, sizeof text) < sizeof text,
                 "a file of this device's parameters"))
        with_file(ctx, text, "tuned CLBlast parameters applied from /", 1);
    /* Each candidate recompiles CLBlast's GEMM program: about a minute of CPU per
     * device with cold compiler caches, so the search runs on the first only. */
    static int searched;
    if (!searched++)
        search_tests(ctx);
    else
        tl_skip("the tuning search on %s (it runs on the first device only)",
                fmcl_ctx_device(ctx)->device_name);
    return 0;
}

int main(void)
{
    host_tests();
    if (!mkdtemp(cache_dir)) {
        perror("mkdtemp");
        return 1;
    }
    /* PoCL and Mesa keep their compiled kernels under $XDG_CACHE_HOME too:
     * point them at their usual places, or every context here would
     * recompile the whole program (a minute on rusticl). */
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char base[1024] = "", pocl[1100];
    if (xdg && xdg[0] == '/')
        snprintf(base, sizeof base, "%s", xdg);
    else if (home && home[0])
        snprintf(base, sizeof base, "%s/.cache", home);
    if (base[0]) {
        snprintf(pocl, sizeof pocl, "%s/pocl/kcache", base);
        setenv("POCL_CACHE_DIR", pocl, 0);
        setenv("MESA_SHADER_CACHE_DIR", base, 0);
    }
    setenv("XDG_CACHE_HOME", cache_dir, 1);
    unsetenv("FMCL_NO_TUNING");
    tl_run_devices(device_tests, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", cache_dir);
    return tl_summary();
}
