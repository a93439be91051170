/* fmcl tune: a search of our own over curated CLBlast parameter sets
 * (tune_space.c) at the GEMM shapes the MLP trains with, then the switch
 * between CLBlast's direct and indirect GEMM; the winner goes atomically to
 * the device's file in the user's cache folder, which every later context
 * applies. The search starts from CLBlast's defaults (FMCL_NO_TUNING=1 in
 * this process). CLBlast cannot go back to a default once a kernel is
 * overridden, so the search only ranks candidates; the default-vs-tuned
 * report comes from two fresh processes (`fmcl tune --report`), one with
 * tuning off and one with the new file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "cli.h"
#include "nn/nn_ops.h"
#include "runtime/tune.h"
#include "spawn.h"
#include "tune_space.h"

extern char **environ;

/* The GEMMs CLBlast runs in the reference (0) and small (1) training steps:
 * the hidden layers, three calls of each per step. */
typedef struct {
    int ta, tb, M, N, K, workload;
} shape;
#define N_SHAPES 6
static const shape shapes[N_SHAPES] = {
    {0, 1, 4096, 512, 512, 0}, {1, 0, 512, 512, 4096, 0}, {0, 0, 4096, 512, 512, 0},
    {0, 1, 1024, 128, 128, 1}, {1, 0, 128, 128, 1024, 1}, {0, 0, 1024, 128, 128, 1},
};
#define HUGE_SWITCH 100000 /* XGEMM_MIN_INDIRECT_SIZE that makes every shape direct */

typedef struct {
    fmcl_ctx *ctx;
    fmcl_t buf;
    fmcl_t A, B, C;
    float *want[N_SHAPES]; /* CLBlast's default results, to catch wrong kernels */
    float *got;
    double base[2];        /* each workload's GEMM seconds with the defaults */
} tuner;

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

static fmcl_status tuner_init(tuner *t)
{
    const size_t n = 4096 * 512; /* floats in the largest A, B and C of shapes[] */
    float *h = malloc(n * sizeof *h);
    t->got = malloc(n * sizeof *t->got);
    if (!h || !t->got) {
        free(h);
        return fmcl_fail(t->ctx, FMCL_ERR_NOMEM, "out of host memory");
    }
    uint32_t seed = 12345;
    for (size_t i = 0; i < n; i++) h[i] = (float)(lcg(&seed) >> 8) / 8388608.0f - 1.0f;
    fmcl_status s = fmcl_alloc(t->ctx, 3 * n * 4, &t->buf, "tuning buffers");
    t->A = t->buf, t->B = fmcl_at(t->buf, n), t->C = fmcl_at(t->buf, 2 * n);
    if (s == FMCL_OK) s = fmcl_write(t->ctx, t->A, h, n * 4);
    if (s == FMCL_OK) s = fmcl_write(t->ctx, t->B, h, n * 4);
    free(h);
    return s;
}

static void tuner_free(tuner *t)
{
    for (int i = 0; i < N_SHAPES; i++) free(t->want[i]);
    free(t->got);
    fmcl_release(&t->buf);
}

/* Best of reps seconds per shape after a warm-up call (which compiles);
 * 0 with why when CLBlast fails or a result differs from the default's. */
static int time_shapes(tuner *t, int reps, double sec[N_SHAPES], char *why, size_t whylen)
{
    for (int i = 0; i < N_SHAPES; i++) {
        const shape *g = &shapes[i];
        int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
        size_t nc = (size_t)g->M * g->N;
        fmcl_status s = fmcl_gemm_reserve(t->ctx, g->ta, g->tb, g->M, g->N, g->K, lda, ldb, g->N);
        sec[i] = INFINITY;
        for (int rep = -1; rep < reps && s == FMCL_OK; rep++) {
            double t0 = cli_now();
            s = fmcl_gemm(t->ctx, g->ta, g->tb, g->M, g->N, g->K, 1.0f, t->A, lda, t->B, ldb,
                          0.0f, t->C, g->N);
            if (s == FMCL_OK) s = fmcl_finish(t->ctx);
            if (rep >= 0 && cli_now() - t0 < sec[i]) sec[i] = cli_now() - t0;
            if (s == FMCL_OK && rep == -1) s = fmcl_read(t->ctx, t->C, t->got, nc * 4);
            if (s != FMCL_OK || rep != -1) continue;
            if (!t->want[i]) {
                if (!(t->want[i] = malloc(nc * 4))) return snprintf(why, whylen, "no memory"), 0;
                memcpy(t->want[i], t->got, nc * 4);
            }
            /* Sums of K products of U[-1, 1): rounding differs by ~1e-5 sqrt(K). */
            double tol = 1e-4 * sqrt((double)g->K);
            for (size_t j = 0; j < nc; j++)
                if (!(fabs(t->got[j] - t->want[i][j]) <= tol * (1 + fabs(t->want[i][j])))) {
                    snprintf(why, whylen, "wrong result at %zu of %dx%dx%d (%g, expected %g)", j,
                             g->M, g->N, g->K, t->got[j], t->want[i][j]);
                    return 0;
                }
        }
        if (s != FMCL_OK) {
            snprintf(why, whylen, "%s", fmcl_ctx_error(t->ctx));
            return 0;
        }
    }
    return 1;
}

/* Each workload's GEMM time relative to the defaults', summed: 2.0 is as
 * fast as CLBlast's defaults, lower is better. */
static double score(const tuner *t, const double sec[N_SHAPES])
{
    double w[2] = {0, 0};
    for (int i = 0; i < N_SHAPES; i++) w[shapes[i].workload] += 3 * sec[i];
    return w[0] / t->base[0] + w[1] / t->base[1];
}

static void print_times(const char *label, const double sec[N_SHAPES], double sc)
{
    printf("  %-34s", label);
    for (int i = 0; i < N_SHAPES; i++) printf(" %7.1f", 1e3 * sec[i]);
    printf("  %6.3f\n", sc);
    fflush(stdout);
}

static fmcl_status set_switch(fmcl_ctx *ctx, size_t size)
{
    fmcl_tune_kernel k = {.name = "GemmRoutine", .n = 1, .param = {"XGEMM_MIN_INDIRECT_SIZE"},
                          .value = {size}};
    return fmcl_gemm_override(ctx, &k);
}

/* One kernel's candidates against the current state, measured first; the
 * best, if it beats that by 2%, is applied and put into chosen, and best
 * receives its times (else those of the state measured first). */
static void search(tuner *t, const tune_space *sp, fmcl_tune_set *chosen, double best[N_SHAPES])
{
    char why[512];
    size_t lmem, max_wg;
    fmcl_tune_limits(t->ctx, &lmem, &max_wg);
    fmcl_tune_kernel k;
    printf("%s (%d candidates):\n", sp->kernel, sp->n);
    if (!time_shapes(t, 2, best, why, sizeof why)) {
        printf("  the current parameters fail (%s): kernel skipped\n", why);
        return;
    }
    double base = score(t, best), top = base;
    int winner = -1;
    print_times("as it stands", best, base);
    for (int i = 0; i < sp->n; i++) {
        double sec[N_SHAPES];
        char label[64];
        snprintf(label, sizeof label, "candidate %d", i + 1);
        char invalid[128];
        const char *bad = tune_kernel_of(sp, i, &k)
                              ? fmcl_tune_invalid(&k, max_wg, lmem, invalid, sizeof invalid)
                              : "does not parse";
        if (!bad && fmcl_gemm_override(t->ctx, &k) != FMCL_OK) bad = fmcl_ctx_error(t->ctx);
        if (!bad && !time_shapes(t, 2, sec, why, sizeof why)) bad = why;
        if (bad) {
            printf("  %-34s skipped: %s\n", label, bad);
            continue;
        }
        double sc = score(t, sec);
        print_times(label, sec, sc);
        if (sc < top) {
            top = sc;
            winner = i;
            memcpy(best, sec, sizeof sec);
        }
    }
    if (winner >= 0 && top < 0.98 * base) {
        tune_kernel_of(sp, winner, &k);
        fmcl_gemm_override(t->ctx, &k);
        fmcl_tune_put(chosen, &k);
        printf("  -> candidate %d: %s\n", winner + 1, sp->list[winner]);
    } else {
        printf("  -> none beats what was there by 2%%: CLBlast's default stays\n");
    }
}

/* The switch that makes the shapes whose m n k lies below its cube direct,
 * chosen from the two searches' times; 0 when neither search timed them. */
static size_t choose_switch(const tuner *t, const double ind[N_SHAPES], const double dir[N_SHAPES])
{
    size_t cand[N_SHAPES + 2] = {1, HUGE_SWITCH}, best_t = 0;
    double best = INFINITY;
    for (int i = 0; i < N_SHAPES; i++)
        cand[i + 2] = (size_t)cbrt((double)shapes[i].M * shapes[i].N * shapes[i].K) + 1;
    for (int c = 0; c < N_SHAPES + 2; c++) {
        double sec[N_SHAPES];
        for (int i = 0; i < N_SHAPES; i++) {
            double mnk = (double)shapes[i].M * shapes[i].N * shapes[i].K;
            sec[i] = mnk < (double)cand[c] * cand[c] * cand[c] ? dir[i] : ind[i];
        }
        if (score(t, sec) < best) best = score(t, sec), best_t = cand[c];
    }
    return best_t;
}

/* `fmcl tune --report` in a child: with tuning off or on. */
static int report_child(const char *self, const char *spec, int tuned, double sec[N_SHAPES],
                        char *notes, size_t cap)
{
    static char out[16384];
    char *argv[] = {"fmcl", "tune", "--report", "--device", (char *)spec, NULL};
    char *envp[512];
    int n = 0;
    for (char **e = environ; *e && n < 510; e++)
        if (strncmp(*e, "FMCL_NO_TUNING=", 15) != 0) envp[n++] = *e;
    if (!tuned) envp[n++] = "FMCL_NO_TUNING=1";
    envp[n] = NULL;
    double wall;
    if (cli_spawn_capture(self, argv, envp, out, sizeof out, &wall) != 0) return 0;
    int got = 0;
    notes[0] = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        int i;
        double v;
        if (sscanf(line, "report %d seconds=%lf", &i, &v) == 2 && i >= 0 && i < N_SHAPES)
            sec[i] = v, got++;
        else if (strncmp(line, "note ", 5) == 0)
            snprintf(notes + strlen(notes), cap - strlen(notes), "  %s\n", line + 5);
    }
    return got == N_SHAPES;
}

static int report(fmcl_ctx *ctx)
{
    tuner t = {.ctx = ctx};
    char why[512];
    double sec[N_SHAPES];
    const char *notes = fmcl_ctx_notes(ctx);
    for (const char *p = notes; *p;) {
        size_t l = strcspn(p, "\n");
        printf("note %.*s\n", (int)l, p);
        p += l + (p[l] ? 1 : 0);
    }
    fmcl_status s = tuner_init(&t);
    if (s != FMCL_OK || !time_shapes(&t, 3, sec, why, sizeof why)) {
        tuner_free(&t);
        return cli_error("%s", s != FMCL_OK ? fmcl_ctx_error(ctx) : why);
    }
    for (int i = 0; i < N_SHAPES; i++) printf("report %d seconds=%.6f\n", i, sec[i]);
    tuner_free(&t);
    return CLI_OK;
}

static void print_report(const char *self, const char *spec)
{
    double def[N_SHAPES], tun[N_SHAPES];
    char nd[2048], nt[2048];
    printf("\ndefault vs tuned, each measured in a fresh process (best of 3):\n");
    if (!report_child(self, spec, 0, def, nd, sizeof nd) ||
        !report_child(self, spec, 1, tun, nt, sizeof nt)) {
        printf("  the report processes failed; run `fmcl tune --report` to see why\n");
        return;
    }
    printf("%s", nt);
    printf("  %-26s %10s %10s %8s\n", "shape (row-major)", "default", "tuned", "speed-up");
    for (int i = 0; i < N_SHAPES; i++) {
        const shape *g = &shapes[i];
        double fl = 2.0 * g->M * g->N * g->K / 1e9;
        char name[40];
        snprintf(name, sizeof name, "%c%c %dx%dx%d", g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->M,
                 g->N, g->K);
        printf("  %-26s %6.1f GF/s %6.1f GF/s %7.2fx\n", name, fl / def[i], fl / tun[i],
               def[i] / tun[i]);
    }
}

int cmd_tune(int argc, char **argv)
{
    const char *device = NULL;
    int only_report = 0;
    arg_spec specs[] = {
        {.name = "device", .type = ARG_STR, .dest = &device, .metavar = "SPEC",
         .help = "OpenCL device: P:D from `fmcl devices`, or part of its platform, vendor or "
                 "device name",
         .default_text = "$FMCL_DEVICE, else the first GPU, else the first device"},
        {.name = "report", .type = ARG_BOOL, .dest = &only_report,
         .help = "no search: time the shapes with the parameters that apply now (the tuned "
                 "file, or CLBlast's defaults with FMCL_NO_TUNING=1)"},
    };
    arg_cmd cmd = {
        .prog = "fmcl tune",
        .about = "Tunes CLBlast for the GEMM shapes of fmcl's models on one device: tries\n"
                 "curated parameter sets for the indirect GEMM kernel (Xgemm), its copy,\n"
                 "pad and transpose helpers and the direct kernel (XgemmDirect), each timed\n"
                 "at the real shapes and checked against CLBlast's default results, then\n"
                 "picks the size at which CLBlast switches between direct and indirect.\n"
                 "The result goes to $XDG_CACHE_HOME/fmcl/clblast/ (else ~/.cache/...),\n"
                 "written atomically, and applies to every later run on this device while\n"
                 "device, driver and CLBlast version match. It takes minutes: every\n"
                 "candidate is compiled.",
        .epilog = "examples:\n"
                  "  fmcl tune\n"
                  "  fmcl tune --device 0:0\n"
                  "  fmcl tune --report\n",
        .specs = specs,
        .n = (int)(sizeof specs / sizeof specs[0]),
    };
    int rc = args_parse(&cmd, argc, argv);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : rc;
    char err[4096], path[1024], self[1024];
    if (!only_report) setenv("FMCL_NO_TUNING", "1", 1); /* search from the defaults */
    fmcl_ctx *ctx = NULL;
    if (fmcl_ctx_create(&ctx, device, err, sizeof err) != FMCL_OK) return cli_error("%s", err);
    fmcl_gemm_use(ctx, 0); /* CLBlast is what is tuned, also where the packed kernels run */
    if (only_report) {
        rc = report(ctx);
        fmcl_ctx_free(ctx);
        return rc;
    }
    const fmcl_device_info *info = fmcl_ctx_device(ctx);
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", info->platform_index, info->device_index);
    if (!fmcl_tune_path(info, path, sizeof path)) {
        fmcl_ctx_free(ctx);
        return cli_error("no cache folder to write to: set $XDG_CACHE_HOME or $HOME");
    }
    printf("fmcl tune: %s / %s (%s), driver %s, CLBlast %s\n", info->platform_name,
           info->device_name, spec, info->driver_version, fmcl_clblast_version());
    printf("milliseconds per GEMM (best of 2) and score (each workload's GEMM time over the "
           "defaults', summed; 2 = defaults):\n  %-34s", "");
    for (int i = 0; i < N_SHAPES; i++)
        printf(" %c%c%s", shapes[i].ta ? 'T' : 'N', shapes[i].tb ? 'T' : 'N',
               shapes[i].workload ? "-sm" : "-rf");
    printf("   score\n");
    tuner t = {.ctx = ctx};
    fmcl_tune_set chosen;
    fmcl_tune_identity(info, &chosen);
    double def[N_SHAPES], ind[N_SHAPES], dir[N_SHAPES];
    for (int i = 0; i < N_SHAPES; i++) ind[i] = dir[i] = INFINITY;
    char why[512] = "";
    fmcl_status s = tuner_init(&t);
    int ok = s == FMCL_OK && time_shapes(&t, 2, def, why, sizeof why);
    if (ok) {
        for (int i = 0; i < N_SHAPES; i++) t.base[shapes[i].workload] += 3 * def[i];
        print_times("CLBlast's defaults", def, score(&t, def));
        ok = set_switch(ctx, 1) == FMCL_OK;
    }
    if (ok) {
        printf("indirect GEMM for every shape (XGEMM_MIN_INDIRECT_SIZE=1):\n");
        for (int k = 0; k < TUNE_SPACES - 1; k++) search(&t, &tune_spaces[k], &chosen, ind);
        ok = set_switch(ctx, HUGE_SWITCH) == FMCL_OK;
    }
    if (ok) {
        printf("direct GEMM for every shape (XGEMM_MIN_INDIRECT_SIZE=%d):\n", HUGE_SWITCH);
        search(&t, &tune_spaces[TUNE_SPACES - 1], &chosen, dir);
        size_t sw = choose_switch(&t, ind, dir);
        fmcl_tune_kernel k = {.name = "GemmRoutine", .n = 1,
                              .param = {"XGEMM_MIN_INDIRECT_SIZE"}, .value = {sw}};
        if (sw) fmcl_tune_put(&chosen, &k);
        printf("switch: XGEMM_MIN_INDIRECT_SIZE=%zu (direct where m n k < %zu^3)\n", sw, sw);
        ok = chosen.n_kernels > 0;
        if (!ok) snprintf(why, sizeof why, "no parameter set ran at these shapes");
    }
    if (!ok) {
        const char *msg = why[0] ? why : fmcl_ctx_error(ctx);
        tuner_free(&t);
        fmcl_ctx_free(ctx);
        return cli_error("tuning stopped: %s", msg);
    }
    tuner_free(&t);
    fmcl_ctx_free(ctx);
    char comment[256];
    time_t now = time(NULL);
    strftime(comment, sizeof comment, "written by fmcl tune " FMCL_VERSION " on %Y-%m-%d %H:%M UTC",
             gmtime(&now));
    if (fmcl_tune_save(path, &chosen, comment, err, sizeof err) != FMCL_OK)
        return cli_error("%s", err);
    printf("wrote %s\n", path);
    if (cli_self_path(self, sizeof self)) print_report(self, spec);
    return CLI_OK;
}
