/* The benchmark API (fmcl/bench.h): its JSON file written, read and written
 * again to the same text; files refused for a newer format, no format, a
 * wrong type (naming the key) or a cut; the comparison of rows (speed ratio,
 * bit-identical / agree / DIFFER, other workloads not compared); the bar
 * chart written. On every device, the profile's count of host waits, and a
 * tiny training workload run twice: the same loss bits, and its profile
 * counted. No figure is judged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmcl/bench.h"
#include "io/atomic.h"
#include "runtime/profile.h"
#include "testlib.h"

static char dir[] = "/tmp/fmcl_test_bench_XXXXXX";

/* Figures with exactly the digits the file keeps, so reading gives them back. */
static void fill(fmcl_bench_report *rep)
{
    rep->quick = 1;
    rep->peer = (fmcl_bench_peer){.ran = 1,
                                  .about = "torch 2.5 (4 threads)",
                                  .gemm_gflops = {100.25, 50.5},
                                  .steps_per_s = {5.1234, 66.5, 4.75},
                                  .points_nfe_per_s = 60600.5};
    fmcl_bench_result *r = &rep->results[0];
    snprintf(r->spec, sizeof r->spec, "0:1");
    snprintf(r->device.platform_name, sizeof r->device.platform_name, "Some \"Platform\"");
    snprintf(r->device.device_name, sizeof r->device.device_name, "dev-42");
    snprintf(r->device.driver_version, sizeof r->device.driver_version, "3.1+debian");
    r->device.type = FMCL_DEVICE_CPU;
    r->device.compute_units = 2;
    snprintf(r->notes, sizeof r->notes, "GEMMs through the packed kernels\n");
    r->gemm_impl = FMCL_BENCH_PACKED;
    r->peak_gflops = 202.5;
    r->n_gemm = 2;
    r->gemm[0] = (fmcl_bench_gemm){
        "reference hidden forward", 0, 1, 4096, 512, 512, 0.012345, 170.25, 40.5};
    r->gemm[1] = (fmcl_bench_gemm){
        "small hidden weight grad", 1, 0, 128, 128, 1024, 0.000125, 33.5, 12.25};
    fmcl_bench_train *t = &r->train[0];
    *t = (fmcl_bench_train){.name = "reference",
                            .width = 512,
                            .depth = 4,
                            .batch = 4096,
                            .warmup = 1,
                            .repeats = 3,
                            .steps_per_repeat = 1,
                            .profile_steps = 1,
                            .params = 791042,
                            .flop_per_example = 1577984,
                            .ms_min = 150.125,
                            .ms_median = 151.5,
                            .ms_max = 160.25,
                            .steps_per_s = 6.6007,
                            .samples_per_s = 27036.5,
                            .gflops = 64.5,
                            .launches_per_step = 41,
                            .gemms_per_step = 11,
                            .syncs_per_step = 0.25,
                            .paces_per_step = 0.06,
                            .profiled_ms_per_step = 150.5,
                            .n_top = 2,
                            .n_losses = 5,
                            .loss_mean = 6.321,
                            .loss_hash = 0x0123456789abcdefULL};
    t->top[0] = (fmcl_bench_kernel){"gemm_packed", 117.25, 11};
    t->top[1] = (fmcl_bench_kernel){"adam_step", 0.5, 1};
    r->train[2] = (fmcl_bench_train){.name = "U-Net",
                                     .model = FMCL_BENCH_MODEL_UNET,
                                     .batch = 16,
                                     .warmup = 1,
                                     .repeats = 3,
                                     .steps_per_repeat = 1,
                                     .profile_steps = 1,
                                     .params = 1191233,
                                     .steps_per_s = 2.0625,
                                     .n_losses = 1,
                                     .loss_mean = 0.9929,
                                     .loss_hash = 0xfedcba9876543210ULL};
    r->sample = (fmcl_bench_sample){.width = 512,
                                    .depth = 4,
                                    .points = 16384,
                                    .steps = 2,
                                    .nfe = 8,
                                    .seconds = 1.375,
                                    .points_nfe_per_s = 95600.5,
                                    .mean = {-0.03057, 0.0316},
                                    .std = {1.001, 1.02},
                                    .hash = 42};
    r->first = (fmcl_bench_first){.seconds = 0.438,
                                  .context = 0.08,
                                  .model = 0.004,
                                  .trainer = 0.2,
                                  .step = 0.154,
                                  .process_seconds = 0.5};
    /* The second device failed at once. */
    snprintf(rep->results[1].spec, sizeof rep->results[1].spec, "1:0");
    snprintf(rep->results[1].error, sizeof rep->results[1].error, "no such device");
}

static char *slurp(const char *path, size_t *len)
{
    unsigned char *text = NULL;
    char err[256];
    if (fmcl_read_file(path, 1 << 20, &text, len, err, sizeof err) != FMCL_OK) {
        tl_check(0, "reading %s: %s", path, err);
        return NULL;
    }
    char *s = realloc(text, *len + 1);
    if (!s)
        free(text);
    else
        s[*len] = 0;
    return s;
}

static fmcl_bench_report *read_ok(const char *path)
{
    fmcl_bench_report *rep = NULL;
    char err[512] = "";
    tl_check(fmcl_bench_read_json(path, &rep, err, sizeof err) == FMCL_OK && rep, "reading %s: %s",
             path, err);
    return rep;
}

/* text with the first `from` replaced by `to` (malloc'ed; NULL when absent). */
static char *replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    char *out = at ? malloc(strlen(text) + strlen(to) + 1) : NULL;
    if (!tl_check(out != NULL, "the file holds %s", from)) return NULL;
    size_t head = (size_t)(at - text);
    memcpy(out, text, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

/* That text written to dir/name; its path, or NULL. */
static const char *variant(const char *text, const char *from, const char *to, const char *name)
{
    static char path[256];
    char *out = replace(text, from, to);
    if (!out) return NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    int ok = f && fputs(out, f) >= 0;
    if (f) ok &= fclose(f) == 0;
    free(out);
    return tl_check(ok, "writing %s", path) ? path : NULL;
}

static void refused(const char *text, const char *from, const char *to, const char *want)
{
    const char *path = variant(text, from, to, "bad.json");
    if (!path) return;
    fmcl_bench_report *rep = (fmcl_bench_report *)1;
    char err[512] = "";
    fmcl_status s = fmcl_bench_read_json(path, &rep, err, sizeof err);
    tl_check(s == FMCL_ERR_FORMAT && rep == NULL && strstr(err, want) && strstr(err, path),
             "%s -> %s: status %d, \"%s\", expected FMCL_ERR_FORMAT naming the file and \"%s\"",
             from, to, s, err, want);
    if (s == FMCL_OK) fmcl_bench_report_free(rep);
}

/* The reference training row of path's first device against base's. */
static fmcl_bench_comparison versus(const fmcl_bench_report *base, const char *path)
{
    fmcl_bench_comparison c = {.speed = -1};
    fmcl_bench_report *rep = path ? read_ok(path) : NULL;
    if (!rep) return c;
    fmcl_bench_row a[FMCL_BENCH_ROWS], b[FMCL_BENCH_ROWS];
    int na = fmcl_bench_rows(&base->results[0], a), nb = fmcl_bench_rows(&rep->results[0], b);
    for (int i = 0; i < na && i < nb; i++)
        if (strcmp(a[i].name, "training, reference") == 0) c = fmcl_bench_compare(&a[i], &b[i]);
    fmcl_bench_report_free(rep);
    return c;
}

static void file_tests(void)
{
    fmcl_bench_report *rep = NULL;
    char path[256], again[256], err[512] = "";
    snprintf(path, sizeof path, "%s/bench.json", dir);
    snprintf(again, sizeof again, "%s/again.json", dir);
    if (!tl_check(fmcl_bench_report_create(2, &rep) == FMCL_OK, "a report of two results")) return;
    fill(rep);
    tl_check(fmcl_bench_write_json(path, rep, err, sizeof err) == FMCL_OK, "write: %s", err);
    fmcl_bench_report *back = read_ok(path);
    size_t la = 0, lb = 0;
    char *text = slurp(path, &la), *text2 = NULL;
    if (back) {
        tl_check(fmcl_bench_write_json(again, back, err, sizeof err) == FMCL_OK, "write: %s", err);
        text2 = slurp(again, &lb);
        tl_check(text && text2 && la == lb && memcmp(text, text2, la) == 0,
                 "read and written again: the same %zu bytes (%zu)", la, lb);
        const fmcl_bench_result *r = &back->results[0];
        tl_check(back->n_results == 2 && back->format == FMCL_BENCH_FORMAT && back->quick &&
                     back->peer.ran && back->peer.steps_per_s[2] == 4.75,
                 "the report's fields");
        tl_check(!strcmp(r->device.platform_name, "Some \"Platform\"") &&
                     !strcmp(r->notes, rep->results[0].notes) &&
                     r->device.type == FMCL_DEVICE_CPU && r->gemm_impl == FMCL_BENCH_PACKED &&
                     r->gemm[1].ta && !r->gemm[1].tb,
                 "strings, the device type, the GEMM implementation and transposes");
        tl_check(r->train[0].loss_hash == 0x0123456789abcdefULL &&
                     r->train[0].steps_per_s == 6.6007 && r->train[0].n_top == 2 &&
                     !strcmp(r->train[0].top[1].kernel, "adam_step") && r->train[1].name[0] == 0 &&
                     r->train[2].model == FMCL_BENCH_MODEL_UNET,
                 "the training workloads in their places, the one not run empty");
        tl_check(r->sample.mean[0] == -0.03057 && r->sample.hash == 42 &&
                     r->first.seconds == 0.438 && back->results[1].first.seconds < 0 &&
                     !strcmp(back->results[1].error, "no such device") &&
                     back->results[1].sample.nfe == 0,
                 "sampling, first steps (one not measured) and the failed device");
    }
    if (text) {
        refused(text, "\"fmcl_bench_format\": 1", "\"fmcl_bench_format\": 2", "newer fmcl");
        refused(text, "\"fmcl_bench_format\": 1, ", "", "no \"fmcl_bench_format\" key");
        refused(text, "\"steps_per_s\": 6.6007", "\"steps_per_s\": \"fast\"",
                "devices[0].train[0].steps_per_s is a string, expected a number");
        refused(text, "\"op\": \"NT\"", "\"op\": \"XY\"", "devices[0].gemm[0].op is not one of");
        refused(text, "\"loss_fnv1a\": \"0123456789abcdef\"", "\"loss_fnv1a\": \"12\"",
                "loss_fnv1a is not 16 hexadecimal digits");
        refused(text, "\"U-Net\", \"model\"", "\"big\", \"model\"",
                "devices[0].train[1].name is none of fmcl bench's");
        /* Files before format 1: no format, and two keys "gemm". */
        char *old = replace(text, "\"fmcl_bench_format\": 1, ", "");
        if (old) refused(old, "\"gemm_impl\"", "\"gemm\"", "older than format 1");
        free(old);
        refused(text, "\n  ],\n  \"torch\"", "", "invalid JSON");
        /* Another fmcl version reads; marking it is the reader's business. */
        const char *v = variant(text, "\"fmcl_version\": \"" FMCL_VERSION "\"",
                                "\"fmcl_version\": \"9.9.9\"", "version.json");
        fmcl_bench_report *other = v ? read_ok(v) : NULL;
        tl_check(other && !strcmp(other->fmcl_version, "9.9.9"), "another version reads");
        fmcl_bench_report_free(other);

        /* Checksums: the same bits, the same rounded value, or not. */
        fmcl_bench_comparison c = versus(rep, path);
        tl_check(c.comparable && c.speed == 1 && c.agreement == FMCL_BENCH_BITS_EQUAL,
                 "itself: speed 1 (%g), bit-identical (%d)", c.speed, c.agreement);
        c = versus(rep, variant(text, "\"loss_fnv1a\": \"0123456789abcdef\"",
                                "\"loss_fnv1a\": \"0123456789abcde0\"", "bits.json"));
        tl_check(c.agreement == FMCL_BENCH_AGREE, "other bits, same rounded loss: agree (%d)",
                 c.agreement);
        /* 6.3215 less a rounding error and 6.3215 round to neighbours: they agree. */
        c = versus(rep,
                   variant(text, "\"loss_mean_4g\": 6.321, \"loss_fnv1a\": \"0123456789abcdef\"",
                           "\"loss_mean_4g\": 6.322, \"loss_fnv1a\": \"0123456789abcde0\"",
                           "near.json"));
        tl_check(c.agreement == FMCL_BENCH_AGREE, "the next rounded loss: agree (%d)", c.agreement);
        c = versus(rep,
                   variant(text, "\"loss_mean_4g\": 6.321, \"loss_fnv1a\": \"0123456789abcdef\"",
                           "\"loss_mean_4g\": 6.323, \"loss_fnv1a\": \"0123456789abcde0\"",
                           "loss.json"));
        tl_check(c.comparable && c.agreement == FMCL_BENCH_DIFFER &&
                     !strcmp(fmcl_bench_agreement_name(c.agreement), "DIFFER"),
                 "another loss: DIFFER (%d)", c.agreement);
        c = versus(
            rep, variant(text, "\"steps_per_s\": 6.6007", "\"steps_per_s\": 13.2014", "fast.json"));
        tl_check(c.comparable && fabs(c.speed - 2) < 1e-12, "twice the steps/s: speed %g", c.speed);
        c = versus(rep, variant(text, "\"batch\": 4096", "\"batch\": 1024", "batch.json"));
        tl_check(!c.comparable && c.agreement == FMCL_BENCH_NO_CHECKSUM,
                 "another batch: no comparison (%d, %d)", c.comparable, c.agreement);
        c = versus(rep, variant(text, "\"repeats\": 3", "\"repeats\": 1", "steps.json"));
        tl_check(c.comparable && c.agreement == FMCL_BENCH_NO_CHECKSUM,
                 "fewer steps: speeds compare, checksums do not (%d, %d)", c.comparable,
                 c.agreement);
    }

    /* Rows, and the chart of the two results of the file. */
    fmcl_bench_row rows[FMCL_BENCH_ROWS];
    int n = fmcl_bench_rows(&rep->results[0], rows);
    tl_check(n == 1 + 2 + 2 + 2 && !strcmp(rows[n - 1].name, "first training step") &&
                 rows[n - 1].lower_is_better && !strcmp(rows[1].workload, "NT 4096x512x512"),
             "rows: the peak, 2 GEMMs, 2 trainings, sampling, the first step (%d)", n);
    char png[256];
    snprintf(png, sizeof png, "%s/chart.png", dir);
    const fmcl_bench_result *res[2] = {&rep->results[0], &rep->results[1]};
    const char *labels[2] = {"a", "b"};
    size_t plen = 0;
    tl_check(fmcl_bench_plot(png, res, labels, 2, err, sizeof err) == FMCL_OK, "plot: %s", err);
    char *pbytes = slurp(png, &plen);
    tl_check(pbytes && plen > 8 && !memcmp(pbytes, "\x89PNG", 4), "a PNG of %zu bytes", plen);
    tl_check(fmcl_bench_plot(png, res, labels, 0, err, sizeof err) == FMCL_ERR_ARG,
             "no result to plot is refused");
    free(pbytes);
    free(text);
    free(text2);
    fmcl_bench_report_free(back);
    fmcl_bench_report_free(rep);
}

/* The profile counts the host's waits: finishes, blocking reads and writes,
 * and fmcl_pace's waits (the first pace has nothing to wait for). */
static void wait_counts(fmcl_ctx *ctx)
{
    fmcl_t buf;
    float x = 1;
    fmcl_profile_sums sums;
    if (!tl_check(fmcl_alloc(ctx, 64, &buf, "a buffer") == FMCL_OK, "%s", fmcl_ctx_error(ctx)))
        return;
    fmcl_status s = fmcl_profile_begin(ctx, 16);
    if (s == FMCL_OK) s = fmcl_write(ctx, buf, &x, sizeof x);
    if (s == FMCL_OK) s = fmcl_finish(ctx);
    if (s == FMCL_OK) s = fmcl_pace(ctx);
    if (s == FMCL_OK) s = fmcl_pace(ctx);
    if (s == FMCL_OK) s = fmcl_read(ctx, buf, &x, sizeof x);
    if (s == FMCL_OK) s = fmcl_profile_end(ctx, &sums);
    if (tl_check(s == FMCL_OK, "profiling waits: %s", fmcl_ctx_error(ctx)))
        tl_check(sums.syncs == 3 && sums.paces == 1, "3 host waits (%lu) and 1 pace (%lu)",
                 sums.syncs, sums.paces);
    fmcl_release(&buf);
}

static int device_tests(fmcl_ctx *ctx, void *user)
{
    (void)user;
    wait_counts(ctx);
    fmcl_bench_train w[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (fmcl_bench_train){.name = "tiny",
                                  .width = 8,
                                  .depth = 1,
                                  .batch = 64,
                                  .warmup = 1,
                                  .repeats = 2,
                                  .steps_per_repeat = 2,
                                  .profile_steps = 1};
        if (!tl_check(fmcl_bench_train_run(ctx, &w[i]) == FMCL_OK, "tiny workload: %s",
                      fmcl_ctx_error(ctx)))
            return 0;
    }
    tl_check(w[0].n_losses == 6 && w[0].loss_hash == w[1].loss_hash &&
                 w[0].loss_mean == w[1].loss_mean && isfinite(w[0].loss_mean),
             "twice: the same %d losses' bits", w[0].n_losses);
    tl_check(w[0].steps_per_s > 0 && w[0].ms_min <= w[0].ms_median &&
                 w[0].ms_median <= w[0].ms_max && w[0].params == 3 * 8 + 8 + 8 * 2 + 2,
             "times ordered, %lld parameters", (long long)w[0].params);
    /* Layers this narrow may run without GEMM calls (linear_small_*). */
    tl_check(w[0].launches_per_step > 0 && w[0].n_top > 0 && w[0].top[0].kernel[0] &&
                 w[0].syncs_per_step == 0,
             "profiled: %g launches, %g GEMMs, %d kernels, the first %s, %g host waits",
             w[0].launches_per_step, w[0].gemms_per_step, w[0].n_top, w[0].top[0].kernel,
             w[0].syncs_per_step);
    fmcl_bench_train bad = w[0];
    bad.repeats = 0;
    tl_check(fmcl_bench_train_run(ctx, &bad) == FMCL_ERR_ARG &&
                 strstr(fmcl_ctx_error(ctx), "repeats 0"),
             "no repeats refused: %s", fmcl_ctx_error(ctx));
    return 0;
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    file_tests();
    tl_run_devices(device_tests, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return tl_summary();
}
