/* Checkpoints that resume exactly, on every device: N steps in one go equal
 * N/2 steps, a checkpoint, a fresh context loading it and N/2 more, bit for
 * bit (model, EMA, Adam's moments, losses), for a plain run, for one with
 * clipping, a warm-up, a cosine decay, AdamW and an EMA, and for 8-bit image
 * data. The learning-rate schedule and the EMA's warm-up against closed
 * forms and a host recomputation; damaged and mismatched checkpoints are
 * refused with the right status. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/trainer.h"
#include "nn/nn_ops.h"
#include "io/atomic.h"
#include "io/safetensors.h"
#include "testlib.h"

#define STEPS 12

typedef struct {
    const char *name;
    fmcl_train_config tc;
    int dim;
    fmcl_data *data;
    uint8_t pixels[5 * 16];
} run_case;

/* The device state a checkpoint must carry: params, EMA, m1, m2, losses. */
typedef struct {
    float *buf[4];
    float loss[STEPS];
    size_t n;
} state;

static char dir[64];

static int ok(fmcl_ctx *ctx, fmcl_status s, const char *what)
{
    return tl_check(s == FMCL_OK, "%s: %s", what, s == FMCL_OK ? "" : fmcl_ctx_error(ctx));
}

static int read_state(fmcl_trainer *t, state *st)
{
    const size_t n = t->m.n_params;
    const fmcl_t src[4] = {t->m.params, t->ema, t->m1, t->m2};
    st->n = n;
    int good = 1;
    for (int b = 0; b < 4; b++) {
        st->buf[b] = calloc(n, sizeof(float));
        if (!st->buf[b]) return 0;
        if (b == 1 && !(t->cfg.ema > 0)) continue;
        good &= fmcl_read(t->ctx, src[b], st->buf[b], n * sizeof(float)) == FMCL_OK;
    }
    memset(st->loss, 0, sizeof st->loss);
    if (t->step > 0) good &= fmcl_trainer_losses(t, 0, t->step, st->loss) == FMCL_OK;
    return good;
}

static void free_state(state *st)
{
    for (int b = 0; b < 4; b++) free(st->buf[b]);
}

static int same_state(const state *a, const state *b)
{
    int same = a->n == b->n && memcmp(a->loss, b->loss, sizeof a->loss) == 0;
    for (int k = 0; same && k < 4; k++) same = memcmp(a->buf[k], b->buf[k], a->n * 4) == 0;
    return same;
}

static fmcl_status train_fresh(fmcl_ctx *ctx, run_case *rc, fmcl_model **m, fmcl_trainer **t)
{
    *m = tl_mlp(ctx, rc->dim, 16, 2, 0, 0, rc->tc.seed);
    return *m && rc->data ? fmcl_trainer_create(*m, rc->data, &rc->tc, t) : FMCL_ERR_ARG;
}

/* A second context on the same device: nothing cached on the first one. */
static fmcl_ctx *fresh_ctx(fmcl_ctx *ctx)
{
    char spec[32], err[4096];
    snprintf(spec, sizeof spec, "%d:%d", ctx->info.platform_index, ctx->info.device_index);
    fmcl_ctx *c2 = NULL;
    if (!tl_check(fmcl_ctx_create(&c2, spec, err, sizeof err) == FMCL_OK, "context %s: %s", spec,
                  err))
        return NULL;
    return c2;
}

static void resume_case(fmcl_ctx *ctx, run_case *rc)
{
    char half[96], full[96], again[96];
    snprintf(half, sizeof half, "%s/%s-half.safetensors", dir, rc->name);
    snprintf(full, sizeof full, "%s/%s-full.safetensors", dir, rc->name);
    snprintf(again, sizeof again, "%s/%s-again.safetensors", dir, rc->name);
    fmcl_model *m = NULL, *m2 = NULL, *m3 = NULL;
    fmcl_trainer *t = NULL, *t2 = NULL, *t3 = NULL;
    state s_half = {0}, s_full = {0}, s_restored = {0}, s_resumed = {0}, s_one_call = {0};
    fmcl_ctx *c2 = NULL;
    /* The uninterrupted run, saving and reading its state half way. */
    if (!ok(ctx, train_fresh(ctx, rc, &m, &t), rc->name) ||
        !ok(ctx, fmcl_trainer_run(t, STEPS / 2), "first half") ||
        !ok(ctx, fmcl_trainer_save(t, half), "save half") ||
        !tl_check(read_state(t, &s_half), "%s: reading the state", rc->name) ||
        !ok(ctx, fmcl_trainer_run(t, STEPS - STEPS / 2), "second half") ||
        !ok(ctx, fmcl_trainer_save(t, full), "save full") ||
        !tl_check(read_state(t, &s_full), "%s: reading the state", rc->name))
        goto done;
    tl_check(!same_state(&s_half, &s_full), "%s: training changed the state", rc->name);
    int moved = 0;
    for (size_t i = 0; i < s_full.n; i++) moved |= s_full.buf[2][i] != 0 && s_full.buf[3][i] != 0;
    tl_check(moved, "%s: Adam's moments are non-zero", rc->name);
    if (rc->tc.ema > 0)
        tl_check(memcmp(s_full.buf[0], s_full.buf[1], s_full.n * 4) != 0,
                 "%s: the EMA differs from the weights", rc->name);
    /* Resumed in a fresh context from the half-way file. */
    if (!(c2 = fresh_ctx(ctx))) goto done;
    fmcl_train_config tc;
    int step = -1;
    char err[1024];
    if (!tl_check(fmcl_train_config_from_checkpoint(half, &tc, &step, err, sizeof err) == FMCL_OK,
                  "%s: config from the checkpoint: %s", rc->name, err))
        goto done;
    tl_check(step == STEPS / 2, "%s: the checkpoint records step %d (want %d)", rc->name, step,
             STEPS / 2);
    if (!ok(c2, fmcl_model_load(c2, half, FMCL_WEIGHTS_RAW, &m2), "load") ||
        !ok(c2, fmcl_trainer_create(m2, rc->data, &tc, &t2),
            "trainer from the checkpoint's config") ||
        !ok(c2, fmcl_trainer_restore(t2, half), "restore") ||
        !tl_check(read_state(t2, &s_restored), "%s: reading the restored state", rc->name))
        goto done;
    tl_check(same_state(&s_half, &s_restored),
             "%s: the restored state is bit for bit the saved "
             "one",
             rc->name);
    tl_check(fmcl_trainer_step(t2) == STEPS / 2, "%s: resumed at step %d", rc->name,
             fmcl_trainer_step(t2));
    /* fmcl_trainer_resume does the same in one call. */
    if (ok(c2, fmcl_trainer_resume(c2, half, rc->data, 0, &m3, &t3), "one-call resume") &&
        tl_check(read_state(t3, &s_one_call), "%s: reading the state", rc->name))
        tl_check(same_state(&s_half, &s_one_call) && fmcl_trainer_step(t3) == STEPS / 2,
                 "%s: fmcl_trainer_resume restores the saved state", rc->name);
    if (!ok(c2, fmcl_trainer_run(t2, STEPS - STEPS / 2), "resumed half") ||
        !ok(c2, fmcl_trainer_save(t2, again), "save resumed") ||
        !tl_check(read_state(t2, &s_resumed), "%s: reading the state", rc->name))
        goto done;
    tl_check(same_state(&s_full, &s_resumed),
             "%s: N steps equal N/2 + checkpoint + N/2 bit for "
             "bit (weights, EMA, moments, losses)",
             rc->name);
    unsigned char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    if (tl_check(fmcl_read_file(full, 1 << 26, &a, &la, err, sizeof err) == FMCL_OK &&
                     fmcl_read_file(again, 1 << 26, &b, &lb, err, sizeof err) == FMCL_OK,
                 "%s: reading the final checkpoints: %s", rc->name, err))
        tl_check(la == lb && memcmp(a, b, la) == 0,
                 "%s: the two final checkpoints are the same "
                 "bytes",
                 rc->name);
    free(a);
    free(b);
done:
    free_state(&s_half);
    free_state(&s_full);
    free_state(&s_restored);
    free_state(&s_resumed);
    free_state(&s_one_call);
    fmcl_trainer_free(t3);
    fmcl_model_free(m3);
    fmcl_trainer_free(t2);
    fmcl_model_free(m2);
    fmcl_ctx_free(c2);
    fmcl_trainer_free(t);
    fmcl_model_free(m);
}

/* The EMA the trainer keeps equals one recomputed on the host from the
 * weights after every step, with the warm-up decays. */
static void ema_follows_weights(fmcl_ctx *ctx, run_case *rc)
{
    fmcl_model *m = NULL;
    fmcl_trainer *t = NULL;
    float *p = NULL, *e = NULL, *dev = NULL;
    if (!ok(ctx, train_fresh(ctx, rc, &m, &t), "ema run")) goto done;
    const int n = (int)fmcl_model_param_count(m);
    p = malloc(n * sizeof *p), e = malloc(n * sizeof *e), dev = malloc(n * sizeof *dev);
    if (!tl_check(p && e && dev, "no host memory for the parameters") ||
        !ok(ctx, fmcl_read(ctx, m->net.params, e, n * 4), "read"))
        goto done;
    for (int k = 1; k <= 4; k++) {
        if (!ok(ctx, fmcl_trainer_run(t, 1), "ema step") ||
            !ok(ctx, fmcl_read(ctx, m->net.params, p, n * 4), "read"))
            goto done;
        fmcl_ema_update_ref(e, p, fmcl_ema_decay(rc->tc.ema, k), n);
    }
    if (ok(ctx, fmcl_read(ctx, t->ema, dev, n * 4), "read ema"))
        tl_close_f("EMA after 4 steps vs host", dev, e, n, 1e-7, 1e-5);
done:
    free(p);
    free(e);
    free(dev);
    fmcl_trainer_free(t);
    fmcl_model_free(m);
}

/* Copies from to to with the tensor victim cut to its first rows rows. */
static int rewrite(const char *from, const char *to, const char *victim, int64_t rows)
{
    fmcl_st_file f;
    char err[512];
    if (fmcl_st_read(from, &f, err, sizeof err) != FMCL_OK) return 0;
    const char **kv = calloc((size_t)2 * f.meta_count + 1, sizeof *kv);
    fmcl_st_tensor *t = calloc((size_t)f.count, sizeof *t);
    int good = kv && t;
    for (int i = 0; good && i < 2 * f.meta_count; i++) kv[i] = f.meta[i];
    for (int i = 0; good && i < f.count; i++) {
        t[i] = f.tensors[i];
        if (strcmp(t[i].name, victim) == 0) { /* fewer rows: a shape the model does not have */
            t[i].nbytes = t[i].nbytes / (size_t)t[i].shape[0] * (size_t)rows;
            t[i].shape[0] = rows;
        }
    }
    good = good && fmcl_st_write(to, t, f.count, kv, f.meta_count, err, sizeof err) == FMCL_OK;
    free(kv);
    free(t);
    fmcl_st_free(&f);
    return good;
}

static void bad_checkpoints(fmcl_ctx *ctx, run_case *rc)
{
    char good[96], trunc[96], shape[96], missing[96];
    snprintf(good, sizeof good, "%s/%s-half.safetensors", dir, rc->name);
    snprintf(trunc, sizeof trunc, "%s/trunc.safetensors", dir);
    snprintf(shape, sizeof shape, "%s/shape.safetensors", dir);
    snprintf(missing, sizeof missing, "%s/no-such.safetensors", dir);
    unsigned char *bytes = NULL;
    size_t len = 0;
    char err[1024];
    fmcl_model *m = NULL;
    fmcl_trainer *t = NULL;
    if (!tl_check(fmcl_read_file(good, 1 << 26, &bytes, &len, err, sizeof err) == FMCL_OK,
                  "read %s: %s", good, err))
        return;
    size_t cut = len - 7;
    const void *chunk[1] = {bytes};
    tl_check(fmcl_write_file_atomic(trunc, chunk, &cut, 1, err, sizeof err) == FMCL_OK, "write");
    tl_check(rewrite(good, shape, "optim.exp_avg_sq.0.weight", 3), "rewrite");
    if (!ok(ctx, train_fresh(ctx, rc, &m, &t), "bad-input trainer")) goto done;
    fmcl_status s = fmcl_trainer_restore(t, missing);
    tl_check(s == FMCL_ERR_FORMAT && strstr(fmcl_ctx_error(ctx), "no-such"),
             "a missing checkpoint: FMCL_ERR_FORMAT naming it (got %d: %s)", s,
             fmcl_ctx_error(ctx));
    s = fmcl_trainer_restore(t, trunc);
    tl_check(s == FMCL_ERR_FORMAT, "a truncated checkpoint: FMCL_ERR_FORMAT (got %d: %s)", s,
             fmcl_ctx_error(ctx));
    s = fmcl_train_config_from_checkpoint(trunc, &(fmcl_train_config){0}, NULL, err, sizeof err);
    tl_check(s != FMCL_OK, "a truncated checkpoint gives no config (got %d)", s);
    s = fmcl_trainer_restore(t, shape);
    tl_check(s == FMCL_ERR_FORMAT && strstr(fmcl_ctx_error(ctx), "optim.exp_avg_sq.0.weight"),
             "moments of the wrong shape: FMCL_ERR_FORMAT naming the tensor (got %d: %s)", s,
             fmcl_ctx_error(ctx));
    fmcl_trainer_free(t);
    t = NULL;
    fmcl_train_config other = rc->tc;
    other.lr *= 2;
    if (ok(ctx, fmcl_trainer_create(m, rc->data, &other, &t), "trainer with another lr")) {
        s = fmcl_trainer_restore(t, good);
        tl_check(s == FMCL_ERR_ARG && strstr(fmcl_ctx_error(ctx), "lr = "),
                 "another learning rate: FMCL_ERR_ARG naming lr (got %d: %s)", s,
                 fmcl_ctx_error(ctx));
        fmcl_trainer_free(t);
        t = NULL;
    }
    if (ok(ctx, fmcl_trainer_create(m, rc->data, &rc->tc, &t), "trainer") &&
        ok(ctx, fmcl_trainer_run(t, 1), "one step")) {
        s = fmcl_trainer_restore(t, good);
        tl_check(s == FMCL_ERR_ARG, "restoring into a used trainer: FMCL_ERR_ARG (got %d)", s);
    }
done:
    fmcl_trainer_free(t);
    fmcl_model_free(m);
    free(bytes);
}

static void cases(run_case *rc)
{
    memset(rc, 0, 3 * sizeof *rc);
    for (int i = 0; i < 3; i++) {
        fmcl_train_config_default(&rc[i].tc);
        rc[i].tc.batch = 32;
        rc[i].tc.steps = STEPS;
        rc[i].tc.seed = 5 + i;
        rc[i].dim = 2;
    }
    rc[0].name = "plain";
    rc[0].data = tl_toy(FMCL_TOY_CHECKERBOARD);
    rc[1].name = "clip-cosine-warmup-ema";
    rc[1].tc.clip = 0.5f, rc[1].tc.warmup = 3, rc[1].tc.lr_schedule = FMCL_LR_COSINE;
    rc[1].tc.ema = 0.9f, rc[1].tc.weight_decay = 0.01f, rc[1].tc.lr = 3e-3f;
    rc[1].data = tl_toy(FMCL_TOY_MOONS);
    rc[2].name = "images";
    for (int i = 0; i < 5 * 16; i++) rc[2].pixels[i] = (uint8_t)(37 * i + 11);
    rc[2].data = tl_pixels(rc[2].pixels, NULL, 5, 1, 4, 4);
    rc[2].tc.hflip = 1;
    rc[2].tc.ema = 0.999f, rc[2].tc.coupling = FMCL_COUPLING_OT;
    rc[2].dim = 16;
}

static int device_tests(fmcl_ctx *ctx, void *user)
{
    (void)user;
    run_case rc[3];
    cases(rc);
    for (int i = 0; i < 3; i++) resume_case(ctx, &rc[i]);
    ema_follows_weights(ctx, &rc[1]);
    bad_checkpoints(ctx, &rc[1]);
    for (int i = 0; i < 3; i++) fmcl_data_free(rc[i].data);
    return 0;
}

/* Closed forms of the schedule: linear warm-up, then half a cosine to 0. */
static void schedule_tests(void)
{
    fmcl_train_config c;
    fmcl_train_config_default(&c);
    c.lr = 0.5f, c.steps = 12, c.warmup = 4, c.lr_schedule = FMCL_LR_COSINE;
    const int s[] = {1, 2, 4, 8, 12};
    const double want[] = {0.125, 0.25, 0.5, 0.25, 0.0};
    for (int i = 0; i < 5; i++)
        tl_check(fabs(fmcl_train_lr(&c, s[i]) - want[i]) < 1e-12,
                 "cosine lr at step %d: %g, "
                 "want %g",
                 s[i], fmcl_train_lr(&c, s[i]), want[i]);
    tl_check(fabs(fmcl_train_lr(&c, 6) - 0.25 * (1 + cos(3.14159265358979 / 4))) < 1e-12,
             "cosine lr at step 6");
    c.lr_schedule = FMCL_LR_CONSTANT;
    tl_check(fmcl_train_lr(&c, 2) == 0.25 && fmcl_train_lr(&c, 12) == 0.5,
             "constant lr after a warm-up");
    tl_check(fabs(fmcl_ema_decay(0.999f, 1) - 2.0 / 11) < 1e-7, "EMA decay at step 1 is 2/11");
    tl_check(fmcl_ema_decay(0.5f, 100) == 0.5f, "EMA decay is capped by the target");
    tl_check(fmcl_name_value(FMCL_NAMES_LR_SCHEDULE, "cosine") == FMCL_LR_COSINE &&
                 fmcl_name_value(FMCL_NAMES_LR_SCHEDULE, "linear") == -1,
             "schedule names");
}

/* Removes the checkpoints the tests wrote, then their folder. */
static void cleanup(void)
{
    static const char *const names[] = {"plain-half",
                                        "plain-full",
                                        "plain-again",
                                        "clip-cosine-warmup-ema-half",
                                        "clip-cosine-warmup-ema-full",
                                        "clip-cosine-warmup-ema-again",
                                        "images-half",
                                        "images-full",
                                        "images-again",
                                        "trunc",
                                        "shape"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s.safetensors", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/fmcl-resume-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    schedule_tests();
    int rc = tl_for_each_device(device_tests, NULL);
    cleanup();
    return rc;
}
