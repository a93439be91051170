/* Reads the JSON file of fmcl bench (fmcl_bench_read_json) back into a
 * report, checking every value's type: a figure that is null or absent
 * reads as not measured, anything else unexpected fails naming the key. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/workloads.h"
#include "io/atomic.h"
#include "io/json.h"

#define MAX_FILE (16u << 20)

typedef struct {
    const char *path;
    char *err;
    size_t errlen;
    fmcl_status s;  /* the first failure */
    char where[64]; /* "devices[1].train[0]" */
} reader;

/* "PATH: devices[0].train[1].steps_per_s WHAT", or "PATH: WHAT" at the top. */
static void fail(reader *rd, const char *key, const char *what)
{
    if (rd->s != FMCL_OK) return;
    char name[128];
    snprintf(name, sizeof name, "%s%s%s", rd->where, rd->where[0] && key[0] ? "." : "", key);
    rd->s = fmcl_errf(rd->err, rd->errlen, FMCL_ERR_FORMAT, "%s: %s%s%s", rd->path, name,
                      name[0] ? " " : "", what);
}

/* obj's member key of type want, NULL when absent or null (fails when
 * required); a member of another type fails. */
static const fmcl_json *get(reader *rd, const fmcl_json *obj, const char *key, fmcl_json_type want,
                            int required)
{
    const fmcl_json *v = obj ? fmcl_json_get(obj, key) : NULL;
    if (!v || v->type == FMCL_JSON_NULL) {
        if (required) fail(rd, key, "is missing");
        return NULL;
    }
    int ok = v->type == want || (want == FMCL_JSON_NUMBER && v->type == FMCL_JSON_INT);
    if (!ok) {
        char what[64];
        snprintf(what, sizeof what, "is %s, expected %s", fmcl_json_type_name(v->type),
                 fmcl_json_type_name(want));
        fail(rd, key, what);
        return NULL;
    }
    return v;
}

static void number(reader *rd, const fmcl_json *obj, const char *key, double *out, double absent)
{
    const fmcl_json *v = get(rd, obj, key, FMCL_JSON_NUMBER, 0);
    *out = v ? v->number : absent;
}

static void integer(reader *rd, const fmcl_json *obj, const char *key, int *out, int lo, int hi)
{
    const fmcl_json *v = get(rd, obj, key, FMCL_JSON_NUMBER, 0);
    *out = 0;
    if (!v) return;
    if (v->type != FMCL_JSON_INT || v->integer < lo || v->integer > hi) {
        char what[64];
        snprintf(what, sizeof what, "is %g, expected an integer from %d to %d", v->number, lo, hi);
        fail(rd, key, what);
        return;
    }
    *out = (int)v->integer;
}

static void string(reader *rd, const fmcl_json *obj, const char *key, char *buf, size_t cap,
                   int required)
{
    const fmcl_json *v = get(rd, obj, key, FMCL_JSON_STRING, required);
    snprintf(buf, cap, "%s", v ? v->string : "");
}

static void hash(reader *rd, const fmcl_json *obj, const char *key, uint64_t *out)
{
    char buf[32], *end;
    string(rd, obj, key, buf, sizeof buf, 0);
    *out = buf[0] ? strtoull(buf, &end, 16) : 0;
    if (buf[0] && (strlen(buf) != 16 || *end)) fail(rd, key, "is not 16 hexadecimal digits");
}

/* The array at key (may be absent: *n 0), at most cap entries. */
static const fmcl_json *array(reader *rd, const fmcl_json *obj, const char *key, int cap, int *n)
{
    const fmcl_json *a = get(rd, obj, key, FMCL_JSON_ARRAY, 0);
    *n = a ? a->count : 0;
    if (*n > cap) {
        char what[64];
        snprintf(what, sizeof what, "has %d entries, at most %d expected", *n, cap);
        fail(rd, key, what);
        *n = 0;
    }
    return a;
}

static void enter(reader *rd, const char *fmt, int i, size_t keep)
{
    snprintf(rd->where + keep, sizeof rd->where - keep, fmt, i);
}

static void gemm(reader *rd, const fmcl_json *o, fmcl_bench_gemm *g)
{
    char op[8];
    string(rd, o, "what", g->what, sizeof g->what, 0);
    string(rd, o, "op", op, sizeof op, 1);
    if (rd->s == FMCL_OK && (strlen(op) != 2 || !strchr("NT", op[0]) || !strchr("NT", op[1])))
        fail(rd, "op", "is not one of NN, NT, TN, TT");
    g->ta = op[0] == 'T', g->tb = op[1] == 'T';
    integer(rd, o, "M", &g->M, 0, 1 << 30);
    integer(rd, o, "N", &g->N, 0, 1 << 30);
    integer(rd, o, "K", &g->K, 0, 1 << 30);
    number(rd, o, "seconds", &g->seconds, 0);
    number(rd, o, "gflops", &g->gflops, 0);
    number(rd, o, "other_gflops", &g->other_gflops, 0);
}

static void train(reader *rd, const fmcl_json *o, fmcl_bench_train *t)
{
    char model[16];
    double params;
    string(rd, o, "name", t->name, sizeof t->name, 1);
    string(rd, o, "model", model, sizeof model, 1);
    if (rd->s == FMCL_OK && strcmp(model, "mlp") != 0 && strcmp(model, "unet") != 0)
        fail(rd, "model", "is neither \"mlp\" nor \"unet\"");
    t->model = strcmp(model, "unet") == 0 ? FMCL_BENCH_MODEL_UNET : FMCL_BENCH_MODEL_MLP;
    integer(rd, o, "width", &t->width, 0, 1 << 20);
    integer(rd, o, "depth", &t->depth, 0, 1 << 20);
    number(rd, o, "parameters", &params, 0);
    t->params = (int64_t)params;
    number(rd, o, "flop_per_example", &t->flop_per_example, 0);
    integer(rd, o, "batch", &t->batch, 0, 1 << 30);
    integer(rd, o, "warmup", &t->warmup, 0, 1 << 20);
    integer(rd, o, "repeats", &t->repeats, 0, 1 << 20);
    integer(rd, o, "steps_per_repeat", &t->steps_per_repeat, 0, 1 << 20);
    integer(rd, o, "profile_steps", &t->profile_steps, 0, 1 << 20);
    number(rd, o, "steps_per_s", &t->steps_per_s, 0);
    number(rd, o, "samples_per_s", &t->samples_per_s, 0);
    number(rd, o, "gflops", &t->gflops, 0);
    number(rd, o, "ms_per_step_median", &t->ms_median, 0);
    number(rd, o, "ms_per_step_min", &t->ms_min, 0);
    number(rd, o, "ms_per_step_max", &t->ms_max, 0);
    number(rd, o, "kernel_launches_per_step", &t->launches_per_step, 0);
    number(rd, o, "gemm_calls_per_step", &t->gemms_per_step, 0);
    number(rd, o, "host_syncs_per_step", &t->syncs_per_step, 0);
    number(rd, o, "paces_per_step", &t->paces_per_step, 0);
    number(rd, o, "profiled_ms_per_step", &t->profiled_ms_per_step, 0);
    const fmcl_json *p = array(rd, o, "profile", FMCL_BENCH_TOP, &t->n_top);
    size_t keep = strlen(rd->where);
    for (int k = 0; k < t->n_top && rd->s == FMCL_OK; k++) {
        enter(rd, ".profile[%d]", k, keep);
        const fmcl_json *e = &p->items[k];
        string(rd, e, "kernel", t->top[k].kernel, sizeof t->top[k].kernel, 1);
        number(rd, e, "ms_per_step", &t->top[k].ms_per_step, 0);
        number(rd, e, "calls_per_step", &t->top[k].calls_per_step, 0);
    }
    rd->where[keep] = 0;
    const fmcl_json *c = get(rd, o, "checksum", FMCL_JSON_OBJECT, 1);
    enter(rd, ".checksum", 0, keep);
    integer(rd, c, "steps", &t->n_losses, 0, 1 << 30);
    number(rd, c, "loss_mean_4g", &t->loss_mean, 0);
    hash(rd, c, "loss_fnv1a", &t->loss_hash);
    rd->where[keep] = 0;
}

/* The suite's training workloads by name: their place in train[]. */
static int workload_slot(const char *name)
{
    static const char *const names[FMCL_BENCH_TRAINS] = {"reference", "small", "U-Net"};
    for (int i = 0; i < FMCL_BENCH_TRAINS; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

static void sample(reader *rd, const fmcl_json *o, fmcl_bench_sample *s)
{
    integer(rd, o, "width", &s->width, 0, 1 << 20);
    integer(rd, o, "depth", &s->depth, 0, 1 << 20);
    integer(rd, o, "points", &s->points, 0, 1 << 30);
    integer(rd, o, "steps", &s->steps, 0, 1 << 20);
    integer(rd, o, "nfe", &s->nfe, 0, 1 << 30);
    number(rd, o, "seconds", &s->seconds, 0);
    number(rd, o, "points_nfe_per_s", &s->points_nfe_per_s, 0);
    const fmcl_json *c = get(rd, o, "checksum", FMCL_JSON_OBJECT, 1);
    const char *keys[2] = {"mean_4g", "std_4g"};
    double *dst[2] = {s->mean, s->std};
    for (int k = 0; k < 2 && c; k++) {
        int n;
        const fmcl_json *a = array(rd, c, keys[k], 2, &n);
        for (int d = 0; d < n; d++)
            if (a->items[d].type == FMCL_JSON_INT || a->items[d].type == FMCL_JSON_NUMBER)
                dst[k][d] = a->items[d].number;
            else
                fail(rd, keys[k], "holds something other than numbers");
    }
    hash(rd, c, "fnv1a", &s->hash);
}

static void first(reader *rd, const fmcl_json *o, fmcl_bench_first *f)
{
    number(rd, o, "seconds_from_context_creation", &f->seconds, -1);
    number(rd, o, "seconds_process", &f->process_seconds, -1);
    number(rd, o, "context_s", &f->context, 0);
    number(rd, o, "model_s", &f->model, 0);
    number(rd, o, "trainer_s", &f->trainer, 0);
    number(rd, o, "step_s", &f->step, 0);
    string(rd, o, "note", f->note, sizeof f->note, 0);
}

static void device(reader *rd, const fmcl_json *o, fmcl_bench_result *r)
{
    fmcl_device_info *d = &r->device;
    char impl[16];
    string(rd, o, "spec", r->spec, sizeof r->spec, 1);
    string(rd, o, "platform", d->platform_name, sizeof d->platform_name, 1);
    string(rd, o, "platform_vendor", d->platform_vendor, sizeof d->platform_vendor, 0);
    string(rd, o, "device", d->device_name, sizeof d->device_name, 1);
    string(rd, o, "device_version", d->device_version, sizeof d->device_version, 0);
    string(rd, o, "driver_version", d->driver_version, sizeof d->driver_version, 0);
    string(rd, o, "opencl_c_version", d->opencl_c_version, sizeof d->opencl_c_version, 0);
    char type[16];
    string(rd, o, "type", type, sizeof type, 0);
    d->type = FMCL_DEVICE_OTHER; /* also when absent */
    for (int k = FMCL_DEVICE_GPU; k < FMCL_DEVICE_OTHER; k++)
        if (strcmp(type, fmcl_device_type_name((fmcl_device_type)k)) == 0)
            d->type = (fmcl_device_type)k;
    double cu;
    number(rd, o, "compute_units", &cu, 0);
    d->compute_units = cu >= 0 && cu < 1e9 ? (unsigned)cu : 0;
    string(rd, o, "notes", r->notes, sizeof r->notes, 0);
    string(rd, o, "error", r->error, sizeof r->error, 0);
    string(rd, o, "gemm_impl", impl, sizeof impl, 0);
    r->gemm_impl = strcmp(impl, "packed") == 0 ? FMCL_BENCH_PACKED : FMCL_BENCH_CLBLAST;
    number(rd, o, "peak_fma_gflops", &r->peak_gflops, 0);
    size_t keep = strlen(rd->where);
    const fmcl_json *g = array(rd, o, "gemm", FMCL_BENCH_GEMMS, &r->n_gemm);
    for (int i = 0; i < r->n_gemm && rd->s == FMCL_OK; i++) {
        enter(rd, ".gemm[%d]", i, keep);
        gemm(rd, &g->items[i], &r->gemm[i]);
    }
    int n;
    const fmcl_json *t = array(rd, o, "train", FMCL_BENCH_TRAINS, &n);
    for (int i = 0; i < n && rd->s == FMCL_OK; i++) {
        enter(rd, ".train[%d]", i, keep);
        fmcl_bench_train w = {0};
        train(rd, &t->items[i], &w);
        int slot = workload_slot(w.name);
        if (slot < 0)
            fail(rd, "name", "is none of fmcl bench's: reference, small, U-Net");
        else if (r->train[slot].name[0])
            fail(rd, "name", "appears twice");
        else
            r->train[slot] = w;
    }
    rd->where[keep] = 0;
    const fmcl_json *s = get(rd, o, "sample", FMCL_JSON_OBJECT, 0);
    enter(rd, ".sample", 0, keep);
    if (s) sample(rd, s, &r->sample);
    enter(rd, ".first_step", 0, keep);
    r->first = (fmcl_bench_first){.seconds = -1, .process_seconds = -1};
    const fmcl_json *f = get(rd, o, "first_step", FMCL_JSON_OBJECT, 0);
    if (f) first(rd, f, &r->first);
    rd->where[keep] = 0;
}

static void peer(reader *rd, const fmcl_json *o, fmcl_bench_peer *t)
{
    t->ran = 1;
    snprintf(rd->where, sizeof rd->where, "torch");
    string(rd, o, "about", t->about, sizeof t->about, 0);
    number(rd, o, "reference_steps_per_s", &t->steps_per_s[FMCL_BENCH_REFERENCE], 0);
    number(rd, o, "small_steps_per_s", &t->steps_per_s[FMCL_BENCH_SMALL], 0);
    number(rd, o, "unet_steps_per_s", &t->steps_per_s[FMCL_BENCH_UNET], 0);
    number(rd, o, "sample_points_nfe_per_s", &t->points_nfe_per_s, 0);
    int n;
    const fmcl_json *g = array(rd, o, "gemm_gflops", FMCL_BENCH_GEMMS, &n);
    for (int i = 0; i < n; i++)
        if (g->items[i].type == FMCL_JSON_INT || g->items[i].type == FMCL_JSON_NUMBER)
            t->gemm_gflops[i] = g->items[i].number;
        else
            fail(rd, "gemm_gflops", "holds something other than numbers");
    rd->where[0] = 0;
}

static void report(reader *rd, const fmcl_json *root, fmcl_bench_report **out)
{
    int format = 0, n = 0;
    const fmcl_json *f = get(rd, root, "fmcl_bench_format", FMCL_JSON_NUMBER, 0);
    if (!f) {
        fail(rd, "",
             "is no fmcl bench file of a known format (no \"fmcl_bench_format\" key); "
             "run fmcl bench --json again to make one");
        return;
    }
    integer(rd, root, "fmcl_bench_format", &format, 1, 1 << 20);
    if (rd->s == FMCL_OK && format > FMCL_BENCH_FORMAT) {
        rd->s = fmcl_errf(rd->err, rd->errlen, FMCL_ERR_FORMAT,
                          "%s: written in format %d of fmcl bench's files, by a newer fmcl; "
                          "this one (%s) reads format %d and older",
                          rd->path, format, FMCL_VERSION, FMCL_BENCH_FORMAT);
        return;
    }
    const fmcl_json *devs = array(rd, root, "devices", 1 << 16, &n);
    if (rd->s == FMCL_OK && !devs) fail(rd, "devices", "is missing");
    if (rd->s != FMCL_OK) return;
    if (fmcl_bench_report_create(n, out) != FMCL_OK) {
        rd->s = fmcl_errf(rd->err, rd->errlen, FMCL_ERR_NOMEM, "%s: out of host memory", rd->path);
        return;
    }
    fmcl_bench_report *rep = *out;
    rep->format = format;
    string(rd, root, "fmcl_version", rep->fmcl_version, sizeof rep->fmcl_version, 1);
    string(rd, root, "clblast_version", rep->clblast_version, sizeof rep->clblast_version, 0);
    const fmcl_json *q = get(rd, root, "quick", FMCL_JSON_BOOL, 0);
    rep->quick = q && q->boolean;
    for (int i = 0; i < n && rd->s == FMCL_OK; i++) {
        enter(rd, "devices[%d]", i, 0);
        if (devs->items[i].type != FMCL_JSON_OBJECT)
            fail(rd, "", "is not an object");
        else
            device(rd, &devs->items[i], &rep->results[i]);
    }
    rd->where[0] = 0;
    const fmcl_json *t = get(rd, root, "torch", FMCL_JSON_OBJECT, 0);
    if (t && rd->s == FMCL_OK) peer(rd, t, &rep->peer);
}

static int contains(const unsigned char *text, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(text + i, s, n) == 0) return 1;
    return 0;
}

fmcl_status fmcl_bench_read_json(const char *path, fmcl_bench_report **out, char *err,
                                 size_t errlen)
{
    *out = NULL;
    unsigned char *text = NULL;
    size_t len = 0;
    fmcl_status s = fmcl_read_file(path, MAX_FILE, &text, &len, err, errlen);
    if (s != FMCL_OK) return s;
    fmcl_json *root = NULL;
    char jerr[256];
    s = fmcl_json_parse((const char *)text, len, &root, jerr, sizeof jerr);
    /* fmcl bench's files before format 1 named two keys "gemm". */
    int old = s != FMCL_OK && contains(text, len, "\"peak_fma_gflops\"") &&
              !contains(text, len, "\"fmcl_bench_format\"");
    free(text);
    if (old)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s: written by an fmcl bench older than format 1 of its files, which "
                         "this reader does not take; run fmcl bench --json again",
                         path);
    if (s != FMCL_OK) return fmcl_errf(err, errlen, FMCL_ERR_FORMAT, "%s: %s", path, jerr);
    reader rd = {.path = path, .err = err, .errlen = errlen, .s = FMCL_OK};
    if (root->type != FMCL_JSON_OBJECT)
        fail(&rd, "", "holds no JSON object");
    else
        report(&rd, root, out);
    fmcl_json_free(root);
    if (rd.s != FMCL_OK) {
        fmcl_bench_report_free(*out);
        *out = NULL;
    }
    return rd.s;
}
