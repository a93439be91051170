/* fmcl_tune_gemm: a search of our own over the curated CLBlast parameter
 * sets of tune_space.c at the GEMM shapes the models train with, then the
 * switch between CLBlast's direct and indirect GEMM; the winners go
 * atomically to the device's file, which every later context applies.
 * CLBlast cannot go back to a default once a kernel is overridden, so the
 * search only ranks candidates against what stands at that moment; a fair
 * default-vs-tuned comparison times each in its own process
 * (fmcl_tune_time). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/runtime.h"
#include "runtime/tune.h"

#define HUGE_SWITCH 100000 /* XGEMM_MIN_INDIRECT_SIZE that makes every shape direct */

void fmcl_tune_config_default(fmcl_tune_config *cfg)
{
    static const fmcl_tune_shape mlp[6] = {
        {0, 1, 4096, 512, 512, 0}, {1, 0, 512, 512, 4096, 0}, {0, 0, 4096, 512, 512, 0},
        {0, 1, 1024, 128, 128, 1}, {1, 0, 128, 128, 1024, 1}, {0, 0, 1024, 128, 128, 1},
    };
    memset(cfg, 0, sizeof *cfg);
    cfg->n_shapes = 6;
    memcpy(cfg->shapes, mlp, sizeof mlp);
    cfg->repeats = 2;
}

void fmcl_tune_info_of(const fmcl_ctx *ctx, fmcl_tune_info *out)
{
    memset(out, 0, sizeof *out);
    out->from = (fmcl_tuned_from)ctx->tuned_from;
    if (!fmcl_tune_path(&ctx->info, out->path, sizeof out->path)) out->path[0] = 0;
    snprintf(out->clblast_version, sizeof out->clblast_version, "%s", fmcl_clblast_version());
}

typedef struct {
    fmcl_ctx *ctx;
    const fmcl_tune_config *cfg;
    fmcl_tune_fn fn;
    void *user;
    fmcl_t buf, A, B, C;
    float *want[FMCL_TUNE_MAX_SHAPES]; /* CLBlast's default results, to catch wrong kernels */
    float *got;
    double base[FMCL_TUNE_WORKLOADS]; /* each workload's GEMM seconds with the defaults */
} tuner;

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

static fmcl_status check_config(fmcl_ctx *ctx, const fmcl_tune_config *cfg)
{
    if (cfg->n_shapes < 1 || cfg->n_shapes > FMCL_TUNE_MAX_SHAPES || cfg->repeats < 1 ||
        cfg->repeats > 100 || cfg->max_candidates < 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "tuning: %d shapes (1 to %d), %d repeats (1 to 100), at most %d "
                         "candidates (0: all)",
                         cfg->n_shapes, FMCL_TUNE_MAX_SHAPES, cfg->repeats, cfg->max_candidates);
    for (int i = 0; i < cfg->n_shapes; i++) {
        const fmcl_tune_shape *g = &cfg->shapes[i];
        if (g->M < 1 || g->N < 1 || g->K < 1 || g->M > 65536 || g->N > 65536 || g->K > 65536 ||
            g->workload < 0 || g->workload >= FMCL_TUNE_WORKLOADS)
            return fmcl_fail(ctx, FMCL_ERR_ARG,
                             "tuning: shape %d is %dx%dx%d of workload %d (sizes 1 to 65536, "
                             "workloads 0 to %d)",
                             i, g->M, g->N, g->K, g->workload, FMCL_TUNE_WORKLOADS - 1);
    }
    return FMCL_OK;
}

/* Operands in U[-1, 1) for the largest shape, C, and a host buffer for C. */
static fmcl_status tuner_init(tuner *t)
{
    size_t na = 0, nc = 0;
    for (int i = 0; i < t->cfg->n_shapes; i++) {
        const fmcl_tune_shape *g = &t->cfg->shapes[i];
        size_t a = (size_t)g->M * g->K, b = (size_t)g->K * g->N, c = (size_t)g->M * g->N;
        na = a > na ? a : na, na = b > na ? b : na, nc = c > nc ? c : nc;
    }
    float *h = malloc(na * sizeof *h);
    t->got = malloc(nc * sizeof *t->got);
    if (!h || !t->got) {
        free(h);
        return fmcl_fail(t->ctx, FMCL_ERR_NOMEM, "out of host memory for tuning");
    }
    uint32_t seed = 12345;
    for (size_t i = 0; i < na; i++) h[i] = (float)(lcg(&seed) >> 8) / 8388608.0f - 1.0f;
    fmcl_status s = fmcl_alloc(t->ctx, (2 * na + nc) * 4, &t->buf, "tuning buffers");
    t->A = t->buf, t->B = fmcl_at(t->buf, na), t->C = fmcl_at(t->buf, 2 * na);
    if (s == FMCL_OK) s = fmcl_write(t->ctx, t->A, h, na * 4);
    if (s == FMCL_OK) s = fmcl_write(t->ctx, t->B, h, na * 4);
    free(h);
    return s;
}

static void tuner_free(tuner *t)
{
    for (int i = 0; i < FMCL_TUNE_MAX_SHAPES; i++) free(t->want[i]);
    free(t->got);
    fmcl_release(&t->buf);
}

/* Best of reps seconds per shape after a warm-up call (which compiles); with
 * verify, the warm-up's result is checked against the first one seen (the
 * defaults'). 0 with why when CLBlast fails or a result differs. */
static int time_shapes(tuner *t, int reps, int verify, double *sec, char *why, size_t whylen)
{
    for (int i = 0; i < t->cfg->n_shapes; i++) {
        const fmcl_tune_shape *g = &t->cfg->shapes[i];
        int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
        size_t nc = (size_t)g->M * g->N;
        fmcl_status s = fmcl_gemm_reserve(t->ctx, g->ta, g->tb, g->M, g->N, g->K, lda, ldb, g->N);
        sec[i] = INFINITY;
        for (int rep = -1; rep < reps && s == FMCL_OK; rep++) {
            double t0 = seconds_now();
            s = fmcl_gemm(t->ctx, g->ta, g->tb, g->M, g->N, g->K, 1.0f, t->A, lda, t->B, ldb, 0.0f,
                          t->C, g->N);
            if (s == FMCL_OK) s = fmcl_finish(t->ctx);
            double dt = seconds_now() - t0;
            if (rep >= 0 && dt < sec[i]) sec[i] = dt;
            if (s != FMCL_OK || rep != -1 || !verify) continue;
            s = fmcl_read(t->ctx, t->C, t->got, nc * 4);
            if (s != FMCL_OK) continue;
            if (!t->want[i]) {
                if (!(t->want[i] = malloc(nc * 4)))
                    return snprintf(why, whylen, "out of host memory"), 0;
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
            t->ctx->err[0] = 0;
            return 0;
        }
    }
    return 1;
}

/* Each workload's GEMM time relative to the defaults', summed: as many as
 * there are workloads for the defaults, lower is better. */
static double score(const tuner *t, const double *sec)
{
    double w[FMCL_TUNE_WORKLOADS] = {0}, sc = 0;
    for (int i = 0; i < t->cfg->n_shapes; i++) w[t->cfg->shapes[i].workload] += sec[i];
    for (int k = 0; k < FMCL_TUNE_WORKLOADS; k++)
        if (t->base[k] > 0) sc += w[k] / t->base[k];
    return sc;
}

static void report(const tuner *t, fmcl_tune_event e)
{
    e.n_shapes = t->cfg->n_shapes;
    if (t->fn) t->fn(t->user, &e);
}

static fmcl_status set_switch(fmcl_ctx *ctx, size_t size)
{
    fmcl_tune_kernel k = {
        .name = "GemmRoutine", .n = 1, .param = {"XGEMM_MIN_INDIRECT_SIZE"}, .value = {size}};
    return fmcl_gemm_override(ctx, &k);
}

/* One kernel's candidates against the current state, measured first; the
 * best, if it beats that by 2%, is applied and put into chosen, and best
 * receives its times (else those of the state measured first). */
static void search(tuner *t, const fmcl_tune_space *sp, fmcl_tune_set *chosen, double *best)
{
    char why[512], invalid[128];
    size_t lmem, max_wg;
    fmcl_tune_limits(t->ctx, &lmem, &max_wg);
    fmcl_tune_kernel k;
    int n = t->cfg->max_candidates && t->cfg->max_candidates < sp->n ? t->cfg->max_candidates
                                                                     : sp->n;
    report(t, (fmcl_tune_event){.step = FMCL_TUNE_KERNEL, .kernel = sp->kernel, .n_candidates = n});
    if (!time_shapes(t, t->cfg->repeats, 1, best, why, sizeof why)) {
        report(t, (fmcl_tune_event){.step = FMCL_TUNE_SKIPPED, .kernel = sp->kernel, .why = why});
        return;
    }
    double base = score(t, best), top = base;
    int winner = -1;
    report(t, (fmcl_tune_event){
                  .step = FMCL_TUNE_CURRENT, .kernel = sp->kernel, .seconds = best, .score = base});
    for (int i = 0; i < n; i++) {
        double sec[FMCL_TUNE_MAX_SHAPES];
        const char *bad = fmcl_tune_kernel_of(sp, i, &k)
                              ? fmcl_tune_invalid(&k, max_wg, lmem, invalid, sizeof invalid)
                              : "does not parse";
        if (!bad && fmcl_gemm_override(t->ctx, &k) != FMCL_OK) {
            snprintf(why, sizeof why, "%s", fmcl_ctx_error(t->ctx));
            t->ctx->err[0] = 0;
            bad = why;
        }
        if (!bad && !time_shapes(t, t->cfg->repeats, 1, sec, why, sizeof why)) bad = why;
        fmcl_tune_event e = {.step = FMCL_TUNE_CANDIDATE,
                             .kernel = sp->kernel,
                             .candidate = i + 1,
                             .n_candidates = n,
                             .params = sp->list[i]};
        if (bad) {
            e.step = FMCL_TUNE_SKIPPED, e.why = bad;
            report(t, e);
            continue;
        }
        e.seconds = sec, e.score = score(t, sec);
        report(t, e);
        if (e.score < top) {
            top = e.score;
            winner = i;
            memcpy(best, sec, sizeof sec);
        }
    }
    if (winner >= 0 && top < 0.98 * base) {
        fmcl_tune_kernel_of(sp, winner, &k);
        fmcl_gemm_override(t->ctx, &k);
        fmcl_tune_put(chosen, &k);
        report(t, (fmcl_tune_event){.step = FMCL_TUNE_CHOSEN,
                                    .kernel = sp->kernel,
                                    .candidate = winner + 1,
                                    .n_candidates = n,
                                    .params = sp->list[winner],
                                    .score = top});
    } else {
        /* CLBlast cannot restore its defaults: the last candidate tried stays
         * applied for the rest of the search (the later kernels are measured
         * against what stands), while the file keeps the defaults here. */
        report(t,
               (fmcl_tune_event){
                   .step = FMCL_TUNE_KEPT, .kernel = sp->kernel, .n_candidates = n, .score = base});
    }
}

/* The switch that makes the shapes whose M N K lies below its cube direct,
 * chosen from the two searches' times; 0 when neither search timed them. */
static size_t choose_switch(const tuner *t, const double *ind, const double *dir)
{
    int n = t->cfg->n_shapes;
    size_t cand[FMCL_TUNE_MAX_SHAPES + 2] = {1, HUGE_SWITCH}, best_size = 0;
    double best = INFINITY;
    for (int i = 0; i < n; i++) {
        const fmcl_tune_shape *g = &t->cfg->shapes[i];
        cand[i + 2] = (size_t)cbrt((double)g->M * g->N * g->K) + 1;
    }
    for (int c = 0; c < n + 2; c++) {
        double sec[FMCL_TUNE_MAX_SHAPES];
        for (int i = 0; i < n; i++) {
            const fmcl_tune_shape *g = &t->cfg->shapes[i];
            double mnk = (double)g->M * g->N * g->K;
            sec[i] = mnk < (double)cand[c] * cand[c] * cand[c] ? dir[i] : ind[i];
        }
        if (score(t, sec) < best) best = score(t, sec), best_size = cand[c];
    }
    return best_size;
}

/* Both searches (indirect kernels, then the direct one) and the switch. */
static fmcl_status run(tuner *t, fmcl_tune_set *chosen, fmcl_tune_result *out)
{
    int n = t->cfg->n_shapes;
    double ind[FMCL_TUNE_MAX_SHAPES], dir[FMCL_TUNE_MAX_SHAPES];
    char why[512] = "";
    for (int i = 0; i < n; i++) ind[i] = dir[i] = INFINITY;
    if (!time_shapes(t, t->cfg->repeats, 1, out->default_seconds, why, sizeof why))
        return fmcl_fail(t->ctx, FMCL_ERR_GEMM, "CLBlast's default parameters fail: %s", why);
    for (int i = 0; i < n; i++) t->base[t->cfg->shapes[i].workload] += out->default_seconds[i];
    out->default_score = out->score = score(t, out->default_seconds);
    report(t, (fmcl_tune_event){.step = FMCL_TUNE_DEFAULTS,
                                .seconds = out->default_seconds,
                                .score = out->default_score});
    fmcl_status s = set_switch(t->ctx, 1);
    if (s != FMCL_OK) return s;
    report(t, (fmcl_tune_event){.step = FMCL_TUNE_PHASE, .switch_size = 1});
    for (int k = 0; k < FMCL_TUNE_SPACES - 1; k++) search(t, &fmcl_tune_spaces[k], chosen, ind);
    if ((s = set_switch(t->ctx, HUGE_SWITCH)) != FMCL_OK) return s;
    report(t, (fmcl_tune_event){.step = FMCL_TUNE_PHASE, .switch_size = HUGE_SWITCH});
    search(t, &fmcl_tune_spaces[FMCL_TUNE_SPACES - 1], chosen, dir);
    out->switch_size = choose_switch(t, ind, dir);
    if (out->switch_size) {
        fmcl_tune_kernel k = {.name = "GemmRoutine",
                              .n = 1,
                              .param = {"XGEMM_MIN_INDIRECT_SIZE"},
                              .value = {out->switch_size}};
        fmcl_tune_put(chosen, &k);
        double sec[FMCL_TUNE_MAX_SHAPES];
        for (int i = 0; i < n; i++) {
            const fmcl_tune_shape *g = &t->cfg->shapes[i];
            double mnk = (double)g->M * g->N * g->K, sw = (double)out->switch_size;
            sec[i] = mnk < sw * sw * sw ? dir[i] : ind[i];
        }
        out->score = score(t, sec);
    }
    report(t, (fmcl_tune_event){
                  .step = FMCL_TUNE_SWITCH, .switch_size = out->switch_size, .score = out->score});
    if (chosen->n_kernels == 0)
        return fmcl_fail(t->ctx, FMCL_ERR_GEMM, "no parameter set ran at these shapes");
    return FMCL_OK;
}

fmcl_status fmcl_tune_gemm(fmcl_ctx *ctx, const fmcl_tune_config *cfg, fmcl_tune_fn fn, void *user,
                           fmcl_tune_result *out)
{
    fmcl_tune_config def;
    if (!cfg) fmcl_tune_config_default(&def), cfg = &def;
    memset(out, 0, sizeof *out);
    fmcl_status s = check_config(ctx, cfg);
    if (s != FMCL_OK) return s;
    if (ctx->tuned_from == FMCL_TUNED_FILE || ctx->tuned_from == FMCL_TUNED_SHIPPED)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "tuning must start from CLBlast's defaults, but this context applied "
                         "tuned parameters (%s), and CLBlast keeps them for the process: "
                         "create the context with FMCL_NO_TUNING=1 in the environment",
                         ctx->tuned_from == FMCL_TUNED_FILE ? "the device's file"
                                                            : "those fmcl ships");
    if (cfg->path)
        snprintf(out->path, sizeof out->path, "%s", cfg->path);
    else if (!fmcl_tune_path(&ctx->info, out->path, sizeof out->path))
        return fmcl_fail(ctx, FMCL_ERR_IO,
                         "no cache folder to write the tuned parameters to: neither "
                         "$XDG_CACHE_HOME nor $HOME is set");
    out->n_shapes = cfg->n_shapes;
    int packed = fmcl_gemm_fuses(ctx);
    fmcl_gemm_use(ctx, 0); /* CLBlast is what is tuned, also where the packed kernels run */
    tuner t = {.ctx = ctx, .cfg = cfg, .fn = fn, .user = user};
    fmcl_tune_set chosen;
    fmcl_tune_identity(&ctx->info, &chosen);
    s = tuner_init(&t);
    if (s == FMCL_OK) s = run(&t, &chosen, out);
    tuner_free(&t);
    fmcl_gemm_use(ctx, packed);
    if (s != FMCL_OK) return s;
    out->n_kernels = chosen.n_kernels;
    char comment[256], err[1024];
    time_t now = time(NULL);
    strftime(comment, sizeof comment, "written by fmcl " FMCL_VERSION " on %Y-%m-%d %H:%M UTC",
             gmtime(&now));
    if (fmcl_tune_save(out->path, &chosen, comment, err, sizeof err) != FMCL_OK)
        return fmcl_fail(ctx, FMCL_ERR_IO, "%s", err);
    return FMCL_OK;
}

fmcl_status fmcl_tune_time(fmcl_ctx *ctx, const fmcl_tune_config *cfg, double *seconds)
{
    fmcl_tune_config def;
    if (!cfg) fmcl_tune_config_default(&def), cfg = &def;
    fmcl_status s = check_config(ctx, cfg);
    if (s != FMCL_OK) return s;
    int packed = fmcl_gemm_fuses(ctx);
    fmcl_gemm_use(ctx, 0);
    tuner t = {.ctx = ctx, .cfg = cfg};
    char why[512];
    s = tuner_init(&t);
    if (s == FMCL_OK && !time_shapes(&t, cfg->repeats, 0, seconds, why, sizeof why))
        s = fmcl_fail(ctx, FMCL_ERR_GEMM, "%s", why);
    tuner_free(&t);
    fmcl_gemm_use(ctx, packed);
    return s;
}
