/* The JSON file of fmcl bench (fmcl_bench_write_json; json_read.c reads it
 * back), one object per device under "devices". Numbers are written with
 * the digits they deserve, so a file read and written again is the same
 * text; a figure not measured is null. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/workloads.h"
#include "io/atomic.h"
#include "io/json.h"
#include "runtime/tune.h"

fmcl_status fmcl_bench_report_create(int n_results, fmcl_bench_report **out)
{
    *out = NULL;
    if (n_results < 0) return FMCL_ERR_ARG;
    fmcl_bench_report *rep = calloc(1, sizeof *rep);
    fmcl_bench_result *res = calloc(n_results ? (size_t)n_results : 1, sizeof *res);
    if (!rep || !res) {
        free(rep);
        free(res);
        return FMCL_ERR_NOMEM;
    }
    rep->format = FMCL_BENCH_FORMAT;
    snprintf(rep->fmcl_version, sizeof rep->fmcl_version, "%s", FMCL_VERSION);
    snprintf(rep->clblast_version, sizeof rep->clblast_version, "%s", fmcl_clblast_version());
    rep->n_results = n_results;
    rep->results = res;
    for (int i = 0; i < n_results; i++)
        res[i].first = (fmcl_bench_first){.seconds = -1, .process_seconds = -1};
    *out = rep;
    return FMCL_OK;
}

void fmcl_bench_report_free(fmcl_bench_report *rep)
{
    if (!rep) return;
    free(rep->results);
    free(rep);
}

/* ", "key": value" with printf's fmt, or null for what JSON cannot hold. */
static void num(fmcl_jbuf *b, const char *key, double v, const char *fmt)
{
    char buf[64];
    fmcl_jbuf_lit(b, ", ");
    fmcl_jbuf_str(b, key);
    fmcl_jbuf_lit(b, ": ");
    if (isfinite(v))
        snprintf(buf, sizeof buf, fmt, v);
    else
        snprintf(buf, sizeof buf, "null");
    fmcl_jbuf_lit(b, buf);
}

static void str(fmcl_jbuf *b, const char *key, const char *v, int first)
{
    fmcl_jbuf_lit(b, first ? "" : ", ");
    fmcl_jbuf_str(b, key);
    fmcl_jbuf_lit(b, ": ");
    fmcl_jbuf_str(b, v);
}

static void hash(fmcl_jbuf *b, const char *key, uint64_t h)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
    str(b, key, buf, 0);
}

static void gemm(fmcl_jbuf *b, const fmcl_bench_gemm *g, int first)
{
    fmcl_jbuf_lit(b, first ? "\n       {" : ",\n       {");
    str(b, "what", g->what, 1);
    str(b, "op", g->ta ? (g->tb ? "TT" : "TN") : (g->tb ? "NT" : "NN"), 0);
    num(b, "M", g->M, "%.0f");
    num(b, "N", g->N, "%.0f");
    num(b, "K", g->K, "%.0f");
    num(b, "seconds", g->seconds, "%.6f");
    num(b, "gflops", g->gflops, "%.2f");
    num(b, "other_gflops", g->other_gflops, "%.2f");
    fmcl_jbuf_lit(b, "}");
}

static void train(fmcl_jbuf *b, const fmcl_bench_train *t, int first)
{
    fmcl_jbuf_lit(b, first ? "\n       {" : ",\n       {");
    str(b, "name", t->name, 1);
    str(b, "model", t->model == FMCL_BENCH_MODEL_UNET ? "unet" : "mlp", 0);
    if (t->model == FMCL_BENCH_MODEL_MLP) {
        num(b, "width", t->width, "%.0f");
        num(b, "depth", t->depth, "%.0f");
    }
    num(b, "parameters", (double)t->params, "%.0f");
    num(b, "flop_per_example", t->flop_per_example, "%.0f");
    num(b, "batch", t->batch, "%.0f");
    num(b, "warmup", t->warmup, "%.0f");
    num(b, "repeats", t->repeats, "%.0f");
    num(b, "steps_per_repeat", t->steps_per_repeat, "%.0f");
    num(b, "profile_steps", t->profile_steps, "%.0f");
    num(b, "steps_per_s", t->steps_per_s, "%.4f");
    num(b, "samples_per_s", t->samples_per_s, "%.1f");
    num(b, "gflops", t->gflops, "%.2f");
    num(b, "ms_per_step_median", t->ms_median, "%.3f");
    num(b, "ms_per_step_min", t->ms_min, "%.3f");
    num(b, "ms_per_step_max", t->ms_max, "%.3f");
    num(b, "kernel_launches_per_step", t->launches_per_step, "%.1f");
    num(b, "gemm_calls_per_step", t->gemms_per_step, "%.1f");
    num(b, "host_syncs_per_step", t->syncs_per_step, "%.2f");
    num(b, "paces_per_step", t->paces_per_step, "%.2f");
    num(b, "profiled_ms_per_step", t->profiled_ms_per_step, "%.3f");
    fmcl_jbuf_lit(b, ", \"profile\": [");
    for (int k = 0; k < t->n_top; k++) {
        fmcl_jbuf_lit(b, k ? ", {" : "{");
        str(b, "kernel", t->top[k].kernel, 1);
        num(b, "ms_per_step", t->top[k].ms_per_step, "%.3f");
        num(b, "calls_per_step", t->top[k].calls_per_step, "%.1f");
        fmcl_jbuf_lit(b, "}");
    }
    fmcl_jbuf_lit(b, "],\n        \"checksum\": {\"steps\": ");
    fmcl_jbuf_int(b, t->n_losses);
    num(b, "loss_mean_4g", t->loss_mean, "%.4g");
    hash(b, "loss_fnv1a", t->loss_hash);
    fmcl_jbuf_lit(b, "}}");
}

static void device(fmcl_jbuf *b, const fmcl_bench_result *r)
{
    const fmcl_device_info *d = &r->device;
    fmcl_jbuf_lit(b, "    {");
    str(b, "spec", r->spec, 1);
    str(b, "platform", d->platform_name, 0);
    str(b, "platform_vendor", d->platform_vendor, 0);
    str(b, "device", d->device_name, 0);
    str(b, "device_version", d->device_version, 0);
    str(b, "driver_version", d->driver_version, 0);
    str(b, "opencl_c_version", d->opencl_c_version, 0);
    str(b, "type", fmcl_device_type_name(d->type), 0);
    num(b, "compute_units", d->compute_units, "%.0f");
    str(b, "notes", r->notes, 0);
    str(b, "error", r->error, 0);
    str(b, "gemm_impl", r->gemm_impl == FMCL_BENCH_PACKED ? "packed" : "clblast", 0);
    num(b, "peak_fma_gflops", r->peak_gflops, "%.2f");
    fmcl_jbuf_lit(b, ",\n     \"gemm\": [");
    for (int i = 0; i < r->n_gemm; i++) gemm(b, &r->gemm[i], i == 0);
    fmcl_jbuf_lit(b, "],\n     \"train\": [");
    for (int w = 0, n = 0; w < FMCL_BENCH_TRAINS; w++) /* every one described, run or not */
        if (r->train[w].name[0]) train(b, &r->train[w], n++ == 0);
    const fmcl_bench_sample *s = &r->sample;
    fmcl_jbuf_lit(b, "],\n     \"sample\": ");
    if (s->nfe) {
        fmcl_jbuf_lit(b, "{\"solver\": \"rk4\"");
        num(b, "width", s->width, "%.0f");
        num(b, "depth", s->depth, "%.0f");
        num(b, "points", s->points, "%.0f");
        num(b, "steps", s->steps, "%.0f");
        num(b, "nfe", s->nfe, "%.0f");
        num(b, "seconds", s->seconds, "%.4f");
        num(b, "points_nfe_per_s", s->points_nfe_per_s, "%.1f");
        fmcl_jbuf_lit(b, ", \"checksum\": {\"mean_4g\": [");
        char buf[128];
        snprintf(buf, sizeof buf, "%.4g, %.4g], \"std_4g\": [%.4g, %.4g]", s->mean[0], s->mean[1],
                 s->std[0], s->std[1]);
        fmcl_jbuf_lit(b, buf);
        hash(b, "fnv1a", s->hash);
        fmcl_jbuf_lit(b, "}}");
    } else {
        fmcl_jbuf_lit(b, "null");
    }
    const fmcl_bench_first *f = &r->first;
    fmcl_jbuf_lit(b, ",\n     \"first_step\": {\"measured_in\": \"a new process\"");
    num(b, "seconds_from_context_creation", f->seconds >= 0 ? f->seconds : NAN, "%.3f");
    num(b, "seconds_process", f->process_seconds >= 0 ? f->process_seconds : NAN, "%.3f");
    num(b, "context_s", f->seconds >= 0 ? f->context : NAN, "%.3f");
    num(b, "model_s", f->seconds >= 0 ? f->model : NAN, "%.3f");
    num(b, "trainer_s", f->seconds >= 0 ? f->trainer : NAN, "%.3f");
    num(b, "step_s", f->seconds >= 0 ? f->step : NAN, "%.3f");
    str(b, "note", f->note, 0);
    fmcl_jbuf_lit(b, "}}");
}

static void peer(fmcl_jbuf *b, const fmcl_bench_peer *t)
{
    if (!t->ran) {
        fmcl_jbuf_lit(b, "null");
        return;
    }
    fmcl_jbuf_lit(b, "{");
    str(b, "about", t->about, 1);
    num(b, "reference_steps_per_s", t->steps_per_s[FMCL_BENCH_REFERENCE], "%.4f");
    num(b, "small_steps_per_s", t->steps_per_s[FMCL_BENCH_SMALL], "%.4f");
    num(b, "unet_steps_per_s", t->steps_per_s[FMCL_BENCH_UNET], "%.4f");
    num(b, "sample_points_nfe_per_s", t->points_nfe_per_s, "%.1f");
    fmcl_jbuf_lit(b, ", \"gemm_gflops\": [");
    for (int i = 0; i < FMCL_BENCH_GEMMS; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%s%.2f", i ? ", " : "", t->gemm_gflops[i]);
        fmcl_jbuf_lit(b, buf);
    }
    fmcl_jbuf_lit(b, "]}");
}

fmcl_status fmcl_bench_write_json(const char *path, const fmcl_bench_report *rep, char *err,
                                  size_t errlen)
{
    if (!path || !*path || !rep || rep->n_results < 0 || (rep->n_results && !rep->results))
        return fmcl_errf(err, errlen, FMCL_ERR_ARG,
                         "fmcl_bench_write_json: no path, or no results to write");
    fmcl_jbuf b = {0};
    fmcl_jbuf_lit(&b, "{\"fmcl_bench_format\": ");
    fmcl_jbuf_int(&b, FMCL_BENCH_FORMAT);
    str(&b, "fmcl_version", rep->fmcl_version, 0);
    str(&b, "clblast_version", rep->clblast_version, 0);
    fmcl_jbuf_lit(&b, rep->quick ? ", \"quick\": true" : ", \"quick\": false");
    fmcl_jbuf_lit(&b, ",\n  \"checksums\": \"*_4g: rounded to 4 significant digits, expected to "
                      "agree across devices; fnv1a: FNV-1a of the float32 bits, equal only for "
                      "bit-identical runs (same device, driver and library)\"");
    fmcl_jbuf_lit(&b, ",\n  \"devices\": [\n");
    for (int i = 0; i < rep->n_results; i++) {
        if (i) fmcl_jbuf_lit(&b, ",\n");
        device(&b, &rep->results[i]);
    }
    fmcl_jbuf_lit(&b, "\n  ],\n  \"torch\": ");
    peer(&b, &rep->peer);
    fmcl_jbuf_lit(&b, "\n}\n");
    fmcl_status s;
    if (b.failed) {
        s = fmcl_errf(err, errlen, FMCL_ERR_NOMEM, "out of host memory writing %s", path);
    } else {
        const void *chunk = b.data;
        s = fmcl_write_file_atomic(path, &chunk, &b.len, 1, err, errlen);
    }
    fmcl_jbuf_free(&b);
    return s;
}
