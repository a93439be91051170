/* The public model handle (include/fmcl/model.h) and what comes with a
 * context, on every device:
 * - configs: the defaults of both kinds; fmcl_model_config_check refuses
 *   what the settings table or the U-Net's shape rules refuse, naming it;
 * - named tensors: the state_dict names and shapes, their numels summing to
 *   the parameter count, reads and writes round trip, wrong names and sizes
 *   are refused;
 * - v(x, t, y) on host arrays against the MLP's double reference (time
 *   features, one-hot classes, the null class) and the U-Net's, and against
 *   one Euler step of the sampler;
 * - checkpoints: a U-Net round trip keeps bits, config and metadata, the
 *   config keys cannot be set, weights stored as F64 load as the same
 *   floats with a note, non-finite weights and a missing EMA are refused
 *   naming the tensor;
 * - progress callbacks count model evaluations and cancel, and the log
 *   callback replays the setup's notes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/flow_ops.h"
#include "nn/model.h"
#include "nn/unet_plan.h"
#include "testlib.h"

static int ok(fmcl_ctx *ctx, fmcl_status s, const char *what)
{
    return tl_check(s == FMCL_OK, "%s: %s", what, s == FMCL_OK ? "" : fmcl_ctx_error(ctx));
}

/* A refusal with status want and a message holding text. */
static void refused(fmcl_status s, fmcl_status want, const char *msg, const char *text,
                    const char *what)
{
    tl_check(s == want && strstr(msg, text), "%s: status %d, message '%s' (expected %d, '%s')",
             what, s, msg, want, text);
}

static void tiny_unet(fmcl_model_config *mc, int K)
{
    fmcl_model_config_default(mc, FMCL_MODEL_UNET);
    fmcl_unet_config *c = &mc->unet;
    c->channels = 1, c->height = 8, c->width = 8, c->base = 4, c->levels = 2;
    c->mult[0] = 1, c->mult[1] = 2, c->attn_levels = 2, c->heads = 2, c->groups = 2;
    mc->classes = K;
}

static void configs(void)
{
    fmcl_model_config m, u;
    char err[256] = "";
    fmcl_model_config_default(&m, FMCL_MODEL_MLP);
    fmcl_model_config_default(&u, FMCL_MODEL_UNET);
    tl_check(m.kind == FMCL_MODEL_MLP && m.dim == 2 && m.mlp.width == 512 && m.mlp.depth == 4 &&
                 m.mlp.time_freqs == 0 && m.classes == 0,
             "the MLP's defaults are the reference 2D model");
    tl_check(u.kind == FMCL_MODEL_UNET && u.dim == 784 && u.unet.channels == 1 &&
                 u.unet.height == 28 && u.unet.base == 32 && u.unet.levels == 3 &&
                 u.unet.heads == 4 && u.unet.groups == 8 && u.classes == 0,
             "the U-Net's defaults are for 28 x 28 grey images");
    tl_check(fmcl_model_config_check(&m, err, sizeof err) == FMCL_OK &&
                 fmcl_model_config_check(&u, err, sizeof err) == FMCL_OK,
             "the defaults pass: %s", err);
    m.mlp.width = 0;
    refused(fmcl_model_config_check(&m, err, sizeof err), FMCL_ERR_ARG, err,
            "width must be in [1, 16384]", "MLP width 0");
    m.mlp.width = 8, m.classes = 300;
    refused(fmcl_model_config_check(&m, err, sizeof err), FMCL_ERR_ARG, err,
            "classes must be in [0, 256]", "300 classes");
    m.kind = 7;
    refused(fmcl_model_config_check(&m, err, sizeof err), FMCL_ERR_ARG, err,
            "kind must be one of mlp, unet", "kind 7");
    u.unet.height = 30; /* 3 levels halve twice: 30 / 4 is no size */
    refused(fmcl_model_config_check(&u, err, sizeof err), FMCL_ERR_ARG, err, "divisible",
            "a U-Net whose levels do not divide the images");
    u.unet.height = 28, u.unet.dropout = 1;
    refused(fmcl_model_config_check(&u, err, sizeof err), FMCL_ERR_ARG, err,
            "dropout must be in [0, 1)", "dropout 1");
}

/* Every tensor by index and by name; sizes and names refused. */
static void tensors(fmcl_ctx *ctx, fmcl_model *m, const char *first, int count)
{
    const int n = fmcl_model_tensor_count(m);
    tl_check(n == count, "%s: %d tensors, expected %d", first, n, count);
    size_t total = 0;
    fmcl_tensor_info info;
    for (int i = 0; i < n; i++) {
        if (!ok(ctx, fmcl_model_tensor_info(m, i, &info), "tensor info")) return;
        size_t numel = 1;
        for (int d = 0; d < info.ndim; d++) numel *= (size_t)info.shape[d];
        tl_check(numel == info.numel && info.name[0], "tensor %d (%s): shape and numel agree", i,
                 info.name);
        total += info.numel;
        if (i == 0) tl_check(!strcmp(info.name, first), "tensor 0 is %s, not %s", info.name, first);
    }
    tl_check(total == fmcl_model_param_count(m), "%s: tensors hold %zu floats of %zu", first, total,
             fmcl_model_param_count(m));
    refused(fmcl_model_tensor_info(m, n, &info), FMCL_ERR_ARG, fmcl_ctx_error(ctx), "tensors",
            "a tensor index past the last");
    /* The last tensor: read, changed, written, read back. */
    ok(ctx, fmcl_model_tensor_info(m, n - 1, &info), "tensor info");
    float *a = malloc(info.numel * sizeof *a), *b = malloc(info.numel * sizeof *b);
    if (tl_check(a && b, "host memory") &&
        ok(ctx, fmcl_model_tensor_read(m, info.name, a, info.numel), "read")) {
        for (size_t j = 0; j < info.numel; j++) a[j] = 0.25f * (float)j - 1.0f;
        if (ok(ctx, fmcl_model_tensor_write(m, info.name, a, info.numel), "write") &&
            ok(ctx, fmcl_model_tensor_read(m, info.name, b, info.numel), "read back"))
            tl_check(!memcmp(a, b, info.numel * sizeof *a), "%s reads back as written", info.name);
    }
    if (a) {
        refused(fmcl_model_tensor_read(m, info.name, a, info.numel + 1), FMCL_ERR_ARG,
                fmcl_ctx_error(ctx), "holds", "a read of the wrong size");
        refused(fmcl_model_tensor_write(m, "no.such.weight", a, 1), FMCL_ERR_ARG,
                fmcl_ctx_error(ctx), "no tensor 'no.such.weight'", "an unknown name");
    }
    free(a);
    free(b);
}

/* The MLP's forward on host arrays against its double reference, rows
 * [x, features(t), one-hot(y)] built as the path kernels do. */
static void mlp_forward(fmcl_ctx *ctx)
{
    enum { D = 3, K = 2, N = 7, F = 2 };
    fmcl_model *m = tl_mlp(ctx, D, 11, 2, F, K, 5);
    if (!m) return;
    tensors(ctx, m, "0.weight", 6);
    const int W = m->net.in_width;
    float x[N * D], t[N], v[N * D], X[W], *P = malloc(m->net.n_params * sizeof *P);
    const int y[N] = {0, 1, -1, 1, 0, -1, 1};
    double want[N * D];
    tl_fill(x, N * D, -2, 2, 3);
    tl_fill(t, N, 0, 1, 4);
    if (!tl_check(P != NULL, "host memory") ||
        !ok(ctx, fmcl_read(ctx, m->net.params, P, m->net.n_params * sizeof *P), "params"))
        goto done;
    for (int pass = 0; pass < 2; pass++) { /* with the classes, then the null class */
        for (int i = 0; i < N; i++) {
            memset(X, 0, sizeof X);
            fmcl_time_input_ref(X, x + i * D, t[i], 1, D, F);
            if (pass == 0 && y[i] >= 0) X[W - K + y[i]] = 1.0f;
            fmcl_mlp_forward_ref(m->mlp, P, X, 1, want + i * D);
        }
        if (ok(ctx, fmcl_model_forward(m, x, t, pass == 0 ? y : NULL, N, v), "forward"))
            tl_close(pass == 0 ? "MLP forward with classes vs the reference"
                               : "MLP forward, null class, vs the reference",
                     v, want, N * D, 1e-5, 1e-4);
    }
    const int bad[N] = {0, 2, 0, 0, 0, 0, 0};
    refused(fmcl_model_forward(m, x, t, bad, N, v), FMCL_ERR_ARG, fmcl_ctx_error(ctx),
            "class 2 of point 1", "a class past the model's");
done:
    free(P);
    fmcl_model_free(m);
}

/* One Euler step of the sampler from given points is x0 + v(x0, 0). */
static void forward_is_the_samplers(fmcl_ctx *ctx)
{
    enum { D = 2, N = 301 };
    fmcl_model *m = tl_mlp(ctx, D, 16, 2, 0, 0, 6);
    if (!m) return;
    float x0[N * D], t[N] = {0}, v[N * D], out[N * D];
    double want[N * D];
    tl_fill(x0, N * D, -2, 2, 8);
    fmcl_sample_config sc;
    fmcl_sample_config_default(&sc);
    sc.solver = FMCL_SOLVER_EULER, sc.steps = 1, sc.n = N, sc.x0 = x0;
    if (ok(ctx, fmcl_model_forward(m, x0, t, NULL, N, v), "forward") &&
        ok(ctx, fmcl_sample(m, &sc, out, NULL, NULL), "one Euler step")) {
        for (int i = 0; i < N * D; i++) want[i] = (double)x0[i] + v[i];
        tl_close("one Euler step vs x0 + forward(x0, 0)", out, want, N * D, 1e-6, 1e-6);
    }
    fmcl_model_free(m);
}

/* The U-Net's forward on host arrays against fmcl_unet_forward_ref. */
static void unet_forward(fmcl_ctx *ctx)
{
    enum { B = 3, D = 64, K = 3 };
    fmcl_model_config mc;
    tiny_unet(&mc, K);
    fmcl_model *m = NULL;
    if (!ok(ctx, fmcl_model_create(ctx, &mc, 3, &m), "U-Net")) return;
    tensors(ctx, m, "time_embed.0.weight", fmcl_unet_plan_tensor_count(m->unet->plan));
    float x[B * D], t[B] = {0.2f, 0.7f, 1.0f}, v[B * D], yf[B * K] = {0};
    float *P = malloc(m->net.n_params * sizeof *P), want[B * D];
    const int y[B] = {2, -1, 0};
    for (int r = 0; r < B; r++)
        if (y[r] >= 0) yf[r * K + y[r]] = 1.0f;
    tl_fill(x, B * D, -1, 1, 9);
    fmcl_unet_plan *p = NULL;
    char err[256];
    if (tl_check(P != NULL, "host memory") &&
        ok(ctx, fmcl_read(ctx, m->net.params, P, m->net.n_params * sizeof *P), "params") &&
        tl_check(fmcl_unet_plan_create(&m->unet->cfg, B, &p, err, sizeof err) == FMCL_OK,
                 "plan: %s", err) &&
        ok(ctx, fmcl_model_forward(m, x, t, y, B, v), "forward")) {
        fmcl_unet_forward_ref(p, P, x, t, yf, want);
        double w[B * D];
        for (int i = 0; i < B * D; i++) w[i] = want[i];
        tl_close("U-Net forward with classes vs the reference", v, w, B * D, 1e-4, 1e-3);
    }
    fmcl_unet_plan_free(p);
    free(P);
    fmcl_model_free(m);
}

/* Rewrites the checkpoint `from` as `to` with every F32 tensor stored as F64,
 * as a PyTorch user's model.double() would save it. */
static int as_f64(const char *from, const char *to)
{
    fmcl_st_file f;
    char err[1024];
    if (!tl_check(fmcl_st_read(from, &f, err, sizeof err) == FMCL_OK, "read %s: %s", from, err))
        return 0;
    fmcl_st_tensor *t = calloc((size_t)f.count, sizeof *t);
    int good = t != NULL;
    for (int i = 0; good && i < f.count; i++) {
        t[i] = f.tensors[i];
        if (t[i].dtype != FMCL_ST_F32) continue;
        const size_t n = t[i].nbytes / 4;
        double *d = malloc(n * sizeof *d + 1);
        good = d != NULL;
        for (size_t j = 0; good && j < n; j++) {
            float x;
            memcpy(&x, (const char *)f.tensors[i].data + 4 * j, 4);
            d[j] = x;
        }
        t[i].dtype = FMCL_ST_F64, t[i].data = d, t[i].nbytes = n * sizeof *d;
    }
    good = good && tl_check(fmcl_st_write(to, t, f.count, (const char *const *)f.meta, f.meta_count,
                                          err, sizeof err) == FMCL_OK,
                            "write %s: %s", to, err);
    for (int i = 0; t && i < f.count; i++)
        if (t[i].dtype == FMCL_ST_F64 && f.tensors[i].dtype == FMCL_ST_F32) free((void *)t[i].data);
    free(t);
    fmcl_st_free(&f);
    return good;
}

static void checkpoints(fmcl_ctx *ctx, const char *dir)
{
    char path[128], nan_path[128];
    snprintf(path, sizeof path, "%s/unet.safetensors", dir);
    snprintf(nan_path, sizeof nan_path, "%s/nan.safetensors", dir);
    fmcl_model_config mc;
    tiny_unet(&mc, 0);
    mc.unet.dropout = 0.1f;
    fmcl_model *m = NULL, *back = NULL, *bad = NULL;
    const size_t n = 8;
    float *a = NULL, *b = NULL, nan8[8] = {0, 0, 0, NAN, 0, 0, 0, 0};
    if (!ok(ctx, fmcl_model_create(ctx, &mc, 4, &m), "U-Net")) return;
    refused(fmcl_model_set_meta(m, "base", "64"), FMCL_ERR_ARG, fmcl_ctx_error(ctx), "config",
            "setting a config key");
    const size_t np = fmcl_model_param_count(m);
    a = malloc(np * sizeof *a), b = malloc(np * sizeof *b);
    if (!tl_check(a && b, "host memory") || !ok(ctx, fmcl_model_set_meta(m, "run", "7"), "meta") ||
        !ok(ctx, fmcl_model_set_meta(m, "run", "8"), "meta again") ||
        !ok(ctx, fmcl_model_save(m, path), "save") ||
        !ok(ctx, fmcl_model_load(ctx, path, FMCL_WEIGHTS_DEFAULT, &back), "load"))
        goto done;
    const char *run = fmcl_model_meta(back, "run");
    tl_check(run && !strcmp(run, "8") && !fmcl_model_is_ema(back) &&
                 !memcmp(fmcl_model_get_config(back), fmcl_model_get_config(m), sizeof mc) &&
                 fmcl_model_ctx(back) == ctx,
             "a U-Net reloads with its config and metadata (run = %s)", run ? run : "none");
    if (ok(ctx, fmcl_read(ctx, m->net.params, a, np * 4), "read") &&
        ok(ctx, fmcl_read(ctx, back->net.params, b, np * 4), "read"))
        tl_check(!memcmp(a, b, np * 4), "the reloaded weights are the saved bits");
    fmcl_model_free(back);
    back = NULL;
    char path64[128];
    snprintf(path64, sizeof path64, "%s/unet64.safetensors", dir);
    if (as_f64(path, path64) &&
        ok(ctx, fmcl_model_load(ctx, path64, FMCL_WEIGHTS_DEFAULT, &back), "load F64") &&
        ok(ctx, fmcl_read(ctx, back->net.params, b, np * 4), "read"))
        tl_check(
            !memcmp(a, b, np * 4) && strstr(fmcl_ctx_notes(ctx), "stored as F64 converted to F32"),
            "F64 weights load as the same floats, with a note (notes: %s)", fmcl_ctx_notes(ctx));
    unlink(path64);
    refused(fmcl_model_load(ctx, path, FMCL_WEIGHTS_EMA, &bad), FMCL_ERR_FORMAT,
            fmcl_ctx_error(ctx), "holds no EMA", "the EMA of a file without one");
    fmcl_tensor_info info;
    if (ok(ctx, fmcl_model_tensor_info(m, 3, &info), "info") && info.numel >= n &&
        ok(ctx, fmcl_model_tensor_read(m, info.name, a, info.numel), "read") &&
        (memcpy(a, nan8, sizeof nan8), 1) &&
        ok(ctx, fmcl_model_tensor_write(m, info.name, a, info.numel), "write") &&
        ok(ctx, fmcl_model_save(m, nan_path), "save")) {
        refused(fmcl_model_load(ctx, nan_path, FMCL_WEIGHTS_RAW, &bad), FMCL_ERR_NUMERIC,
                fmcl_ctx_error(ctx), info.name, "a NaN weight");
        tl_check(bad == NULL, "a refused load gives no model");
    }
done:
    unlink(path);
    unlink(nan_path);
    free(a);
    free(b);
    fmcl_model_free(back);
    fmcl_model_free(m);
}

typedef struct {
    long calls, last_done, last_total, stop_at;
    int skipped; /* a done that is not the previous one + 1 */
} progress_log;

static int on_progress(void *user, long done, long total)
{
    progress_log *p = user;
    p->calls++;
    p->skipped |= done != p->last_done + 1;
    p->last_done = done, p->last_total = total;
    return p->stop_at > 0 && done >= p->stop_at;
}

static void progress(fmcl_ctx *ctx)
{
    enum { N = 5000 }; /* two chunks of the MLP */
    fmcl_model *m = tl_mlp(ctx, 2, 8, 1, 0, 0, 2);
    float *out = malloc(sizeof(float) * 2 * N);
    if (!m || !tl_check(out != NULL, "host memory")) goto done;
    progress_log p = {0};
    fmcl_sample_config sc;
    fmcl_sample_config_default(&sc);
    sc.n = N, sc.solver = FMCL_SOLVER_HEUN, sc.steps = 5;
    sc.progress = on_progress, sc.progress_user = &p;
    if (ok(ctx, fmcl_sample(m, &sc, out, NULL, NULL), "sampling with progress"))
        tl_check(p.calls == 20 && p.last_done == 20 && p.last_total == 20 && !p.skipped,
                 "heun, 5 steps, 2 chunks: %ld calls, last %ld of %ld", p.calls, p.last_done,
                 p.last_total);
    p = (progress_log){.stop_at = 7};
    refused(fmcl_sample(m, &sc, out, NULL, NULL), FMCL_ERR_CANCELLED, fmcl_ctx_error(ctx),
            "cancelled", "sampling stopped by its callback");
    tl_check(p.calls == 7, "the callback's stop ends the run after it (%ld calls)", p.calls);
    fmcl_nll_config nc;
    fmcl_nll_config_default(&nc);
    double lp[3];
    p = (progress_log){0};
    nc.progress = on_progress, nc.progress_user = &p;
    if (ok(ctx, fmcl_log_prob(m, &nc, out, 3, lp, NULL), "likelihood with progress"))
        tl_check(p.calls > 6 && p.last_done == p.calls && p.last_total >= p.last_done,
                 "dopri5 likelihood: %ld calls, last %ld of about %ld", p.calls, p.last_done,
                 p.last_total);
done:
    free(out);
    fmcl_model_free(m);
}

typedef struct {
    int lines;
    char first[256];
} log_lines;

static void on_log(void *user, const char *line)
{
    log_lines *l = user;
    if (l->lines++ == 0) snprintf(l->first, sizeof l->first, "%s", line);
}

static void logging(fmcl_ctx *ctx)
{
    const char *notes = fmcl_ctx_notes(ctx);
    int want = 0;
    for (const char *c = notes; *c; c++) want += *c == '\n';
    log_lines l = {0};
    fmcl_ctx_set_log(ctx, on_log, &l);
    tl_check(want > 0 && l.lines == want && !strncmp(notes, l.first, strlen(l.first)) &&
                 !strchr(l.first, '\n'),
             "the log callback replays the %d lines of the notes (got %d, first '%s')", want,
             l.lines, l.first);
    fmcl_ctx_set_log(ctx, NULL, NULL);
}

static int device_tests(fmcl_ctx *ctx, void *user)
{
    logging(ctx);
    mlp_forward(ctx);
    forward_is_the_samplers(ctx);
    unet_forward(ctx);
    checkpoints(ctx, user);
    progress(ctx);
    return 0;
}

int main(void)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/fmcl-model-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    configs();
    int rc = tl_for_each_device(device_tests, dir);
    rmdir(dir);
    return rc;
}
