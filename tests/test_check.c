/* The self-check (fmcl_check_ops, fmcl_check_training) on every device: no
 * FAIL, every launcher covered; and proof that it can fail: absurdly tight
 * tolerances fail exactly the inexact results with norm errors scaled to
 * match, and a tampered output value, a tampered guard element, a NaN and a
 * tampered training loss are each reported as FAIL for their op only; errors
 * are classified as NOT SUPPORTED (refused allocation or work-group size) or
 * FAIL (anything else). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "testlib.h"

/* Room for every result; one more fails the test rather than being dropped. */
#define MAX_RESULTS 512

typedef struct {
    int n;
    fmcl_check_result r[MAX_RESULTS];
} results;

static void collect(void *user, const fmcl_check_result *r)
{
    results *rs = user;
    if (tl_check(rs->n < MAX_RESULTS, "more than %d self-check results: raise MAX_RESULTS",
                 MAX_RESULTS))
        rs->r[rs->n++] = *r;
}

/* Runs both suites; returns the number of FAIL results they reported. */
static int run_all(fmcl_ctx *ctx, const fmcl_check_options *opt, results *rs)
{
    int f_ops = -1, f_train = -1;
    rs->n = 0;
    fmcl_status s = fmcl_check_ops(ctx, opt, collect, rs, &f_ops);
    tl_check(s == FMCL_OK, "fmcl_check_ops: %s", fmcl_ctx_error(ctx));
    s = fmcl_check_training(ctx, opt, collect, rs, &f_train);
    tl_check(s == FMCL_OK, "fmcl_check_training: %s", fmcl_ctx_error(ctx));
    int counted = 0;
    for (int i = 0; i < rs->n; i++) counted += rs->r[i].status == FMCL_CHECK_FAIL;
    tl_check(counted == f_ops + f_train, "failures reported %d + %d, results say %d", f_ops,
             f_train, counted);
    return counted;
}

/* Every launcher of nn_ops.h, image_ops.h, flow_ops.h, paths.h, nll.h,
 * images.h and runtime.h, the ODE drivers and the MLP. */
static void check_coverage(const results *rs)
{
    static const char *ops[] = {"randn",
                                "toy_sample",
                                "gather_rows",
                                "ot_interp",
                                "path_interp",
                                "time_input",
                                "axpy_to",
                                "axpy_to in place",
                                "rk4_update",
                                "heun_update",
                                "rk38_update",
                                "dopri5_stage",
                                "dopri5_error",
                                "scaled_sumsq",
                                "integrate",
                                "integrate_grid",
                                "integrate_adaptive",
                                "rademacher",
                                "onehot_rows",
                                "div_column",
                                "div_probe",
                                "gemm NN",
                                "gemm NT",
                                "gemm TN",
                                "gemm TT",
                                "mlp_forward",
                                "mlp_backward",
                                "bias_silu_forward",
                                "bias_forward",
                                "silu_backward",
                                "silu_backward in place",
                                "bias_backward",
                                "mse_forward_backward",
                                "sumsq",
                                "fill",
                                "adam_step",
                                "adam_step AdamW clipped",
                                "adam_step zero_grad",
                                "ema_update",
                                "path_sample",
                                "silu_forward",
                                "dropout_forward",
                                "dropout_backward",
                                "linear_small_forward",
                                "linear_small_wgrad",
                                "linear_small_dx",
                                "image_batch",
                                "label_batch",
                                "class_concat",
                                "guidance",
                                "conv2d_forward",
                                "conv2d_backward",
                                "groupnorm_forward",
                                "groupnorm_backward",
                                "upsample2x_forward",
                                "upsample2x_backward",
                                "concat_forward",
                                "concat_backward",
                                "time_embedding",
                                "attention_forward",
                                "attention_backward",
                                "peak_fma",
                                "unet_forward",
                                "unet_backward",
                                "training loss",
                                "training params"};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        int seen = 0;
        for (int i = 0; i < rs->n; i++) seen += strcmp(rs->r[i].op, ops[k]) == 0;
        tl_check(seen > 0, "the self-check has no result for %s", ops[k]);
    }
    int kinds = 0, paths = 0, solvers = 0;
    for (int i = 0; i < rs->n; i++) {
        kinds += strcmp(rs->r[i].op, "toy_sample") == 0;
        paths += strcmp(rs->r[i].op, "path_interp") == 0;
        solvers += strcmp(rs->r[i].op, "integrate") == 0;
    }
    tl_check(kinds == 5, "toy_sample checked for %d data sets, want 5", kinds);
    tl_check(paths == 6, "path_interp checked for %d paths, want 6", paths);
    tl_check(solvers == 5, "integrate checked for %d fixed-step solvers, want 5", solvers);
}

/* ---- tampering hooks ---- */

typedef struct {
    const char *op;
    long at; /* element from the first output value; negative: the guard before */
    float value;
    int relative;     /* value multiplies instead of replacing */
    const char *want; /* in the reason of every result of op */
    const char *what;
    int hits;
} tamper;

enum { N_TAMPER = 4 };

static void tamper_fn(void *user, const char *op, float *buf, size_t n, size_t guard)
{
    tamper *t = user;
    for (int k = 0; k < N_TAMPER; k++, t++) {
        long i = (long)guard + t->at;
        if (strcmp(op, t->op) != 0 || i < 0 || i >= (long)(n + 2 * guard)) continue;
        buf[i] = t->relative ? buf[i] * t->value : t->value;
        t->hits++;
    }
}

/* One run with every tampering at once: exactly the results of the tampered
 * ops FAIL, each with its reason; every other op stays OK. */
static void check_tampering(fmcl_ctx *ctx)
{
    tamper ts[N_TAMPER] = {
        {"bias_forward", 5, 1e-3f, 0, "z[5] = 0.001", "an output value of bias_forward", 0},
        {"sumsq", -1, 0.f, 0, "wrote outside its output", "a guard element before sumsq's", 0},
        {"gemm TN", 7, NAN, 0, "C[7] = nan", "a NaN in gemm TN's output", 0},
        {"training loss", 11, 1.0005f, 1, "losses[11]", "a training loss 0.05% off", 0},
    };
    results *rs = malloc(sizeof *rs);
    fmcl_check_options opt = {.tamper = tamper_fn, .tamper_user = ts};
    run_all(ctx, &opt, rs);
    int hit[N_TAMPER] = {0}, total[N_TAMPER] = {0}, stray = 0;
    for (int i = 0; i < rs->n; i++) {
        const fmcl_check_result *r = &rs->r[i];
        int k = 0;
        while (k < N_TAMPER && strcmp(r->op, ts[k].op) != 0) k++;
        if (k == N_TAMPER) {
            if (r->status != FMCL_CHECK_OK)
                printf("    unexpected: %s %s %s: %s\n", r->op, r->shape,
                       fmcl_check_status_name(r->status), r->reason);
            stray += r->status != FMCL_CHECK_OK;
            continue;
        }
        total[k]++;
        /* A changed value must also show in the norm error (NaN included). */
        hit[k] += r->status == FMCL_CHECK_FAIL && strstr(r->reason, ts[k].want) &&
                  (ts[k].at < 0 || !(r->norm_err <= 1));
    }
    for (int k = 0; k < N_TAMPER; k++) {
        printf("  %-44s %d of %d results FAIL\n", ts[k].what, hit[k], total[k]);
        tl_check(ts[k].hits > 0, "%s: the hook never saw %s", ts[k].what, ts[k].op);
        tl_check(hit[k] > 0 && hit[k] == total[k], "%s: %d of %d results of %s FAIL with '%s'",
                 ts[k].what, hit[k], total[k], ts[k].op, ts[k].want);
    }
    tl_check(stray == 0, "tampering: %d results of untouched ops are not OK", stray);
    free(rs);
}

/* ---- how errors are classified (the harness, src/check/check.h) ---- */

static void record(void *user, const fmcl_check_result *r) { *(fmcl_check_result *)user = *r; }

/* A buffer larger than the device's largest allocation is NOT SUPPORTED with
 * the driver's limit in the reason; a refused work-group size likewise; any
 * other error is a FAIL. Nothing is launched after the first error. */
static void check_classification(fmcl_ctx *ctx)
{
    static const struct {
        fmcl_status st;
        fmcl_check_status want;
    } cases[] = {{FMCL_ERR_UNSUPPORTED, FMCL_CHECK_NOT_SUPPORTED},
                 {FMCL_ERR_NOMEM, FMCL_CHECK_NOT_SUPPORTED},
                 {FMCL_ERR_OPENCL, FMCL_CHECK_FAIL},
                 {FMCL_ERR_GEMM, FMCL_CHECK_FAIL},
                 {FMCL_ERR_ARG, FMCL_CHECK_FAIL}};
    fmcl_check_result r;
    chk_suite s;
    chk_case c;
    chk_suite_init(&s, ctx, NULL, record, &r);
    chk_begin(&c, &s, "huge", "n=max_alloc");
    fmcl_t t = chk_buf(&c, NULL, fmcl_ctx_device(ctx)->max_alloc / sizeof(float) + 1);
    chk_end(&c);
    printf("  a buffer beyond max_alloc: %s (%s)\n", fmcl_check_status_name(r.status), r.reason);
    tl_check(r.status == FMCL_CHECK_NOT_SUPPORTED && t.mem == NULL && strstr(r.reason, "MiB"),
             "a buffer beyond max_alloc is %s: %s", fmcl_check_status_name(r.status), r.reason);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        chk_begin(&c, &s, "status", "%s", fmcl_status_name(cases[k].st));
        fmcl_fail(ctx, cases[k].st, "reason %zu", k);
        int ran = chk_status(&c, cases[k].st);
        int after = chk_status(&c, FMCL_OK) || chk_ok(&c);
        chk_end(&c);
        char want[32];
        snprintf(want, sizeof want, "reason %zu", k);
        tl_check(!ran && !after && r.status == cases[k].want && strcmp(r.reason, want) == 0,
                 "status %s: reported %s (%s), want %s", fmcl_status_name(cases[k].st),
                 fmcl_check_status_name(r.status), r.reason, fmcl_check_status_name(cases[k].want));
    }
    int failures = -1;
    tl_check(chk_suite_end(&s, &failures) == FMCL_OK && failures == 3,
             "the suite counted %d failures, want 3", failures);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    results *base = malloc(sizeof *base), *tight = malloc(sizeof *tight);

    /* Everything passes, with finite errors within tolerance. */
    int fails = run_all(ctx, NULL, base);
    for (int i = 0; i < base->n; i++) {
        const fmcl_check_result *r = &base->r[i];
        printf("  %-26s %-34s %-14s %9.2e %9.2e\n", r->op, r->shape,
               fmcl_check_status_name(r->status), r->norm_err, r->max_err);
        tl_check(r->status != FMCL_CHECK_FAIL, "%s %s: FAIL: %s", r->op, r->shape, r->reason);
        if (r->status == FMCL_CHECK_NOT_SUPPORTED)
            tl_skip("self-check %s %s: not supported: %s", r->op, r->shape, r->reason);
        if (r->status == FMCL_CHECK_OK)
            tl_check(r->norm_err <= 1 && r->reason[0] == 0, "%s %s: OK with norm err %g (%s)",
                     r->op, r->shape, r->norm_err, r->reason);
    }
    tl_check(fails == 0, "%d results FAIL", fails);
    check_coverage(base);

    /* Tolerances a billion times tighter: every inexact result fails, the
     * exact ones (copies, fills) still pass, and the norm errors scale. */
    fmcl_check_options opt = {.tol_scale = 1e-9};
    run_all(ctx, &opt, tight);
    int inexact = 0, consistent = tight->n == base->n;
    for (int i = 0; consistent && i < base->n; i++) {
        const fmcl_check_result *a = &base->r[i], *b = &tight->r[i];
        if (a->status != FMCL_CHECK_OK) continue;
        int exact = a->max_err == 0;
        inexact += !exact;
        consistent = strcmp(a->op, b->op) == 0 && strcmp(a->shape, b->shape) == 0 &&
                     b->status == (exact ? FMCL_CHECK_OK : FMCL_CHECK_FAIL) &&
                     fabs(b->norm_err * 1e-9 - a->norm_err) <= 1e-6 * a->norm_err;
        if (!consistent)
            printf("    %s %s: %s norm err %g, at 1e-9 tolerance %s %g\n", a->op, a->shape,
                   fmcl_check_status_name(a->status), a->norm_err,
                   fmcl_check_status_name(b->status), b->norm_err);
    }
    printf("  tol_scale 1e-9: %d inexact results fail\n", inexact);
    tl_check(consistent && inexact > base->n / 2,
             "tol_scale 1e-9 fails exactly the inexact results with scaled norm errors");

    check_tampering(ctx);
    check_classification(ctx);
    free(base);
    free(tight);
    return 0;
}

int main(void) { return tl_for_each_device(run, NULL); }
