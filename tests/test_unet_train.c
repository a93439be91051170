/* The U-Net behind the model interface (nn/model.h), on every device: its
 * forward through the [x, t] rows the trainer builds equals the host
 * reference; training resumes exactly (12 steps equal 6, a checkpoint, a
 * fresh context loading it and 6 more, bit for bit: weights, EMA, Adam's
 * moments, losses, file bytes); the checkpoint carries the state_dict names
 * and the config; a batch past the device is refused with one that fits.
 * The same for a class-conditional U-Net (labels with dropout, rows ending
 * in the one-hot), whose null-class rows give what the unconditional network
 * with the same other weights gives (the table ignored). And for a U-Net
 * with dropout: its masks change the losses, and it resumes bit for bit
 * (the masks come from (seed, step) alone). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/trainer.h"
#include "nn/unet_plan.h"
#include "io/atomic.h"
#include "io/safetensors.h"
#include "testlib.h"

#define STEPS 12
#define N_IMAGES 6
#define K_COND 3

static char dir[64];
static uint8_t pixels[N_IMAGES * 64], labels[N_IMAGES] = {0, 2, 1, 1, 0, 2};

static int ok(fmcl_ctx *ctx, fmcl_status s, const char *what)
{
    return tl_check(s == FMCL_OK, "%s: %s", what, s == FMCL_OK ? "" : fmcl_ctx_error(ctx));
}

/* 8x8 grey images, base 4, levels (1, 2), attention at 4x4 with 2 heads;
 * K classes, dropout P. */
static void tiny_config(fmcl_model_config *mc, int K, float P)
{
    fmcl_model_config_default(mc, FMCL_MODEL_UNET);
    fmcl_unet_config *c = &mc->unet;
    c->channels = 1, c->height = 8, c->width = 8;
    c->base = 4, c->levels = 2, c->mult[0] = 1, c->mult[1] = 2, c->mult[2] = 0;
    c->attn_levels = 1u << 1, c->heads = 2, c->groups = 2, c->dropout = P;
    mc->classes = K;
}

/* The training config, and the images (with labels for K > 0). */
static fmcl_data *train_config(fmcl_train_config *tc, int K)
{
    fmcl_train_config_default(tc);
    tc->batch = 4, tc->steps = STEPS, tc->seed = 9, tc->lr = 3e-3f;
    tc->clip = 1.0f, tc->warmup = 2, tc->lr_schedule = FMCL_LR_COSINE, tc->ema = 0.99f;
    tc->hflip = 1;
    if (K > 0) tc->label_drop = 0.25f;
    return tl_pixels(pixels, K > 0 ? labels : NULL, N_IMAGES, 1, 8, 8);
}

/* params, EMA, m1, m2 and the losses, read from the device. */
typedef struct {
    float *buf;
    float loss[STEPS];
    size_t n;
} state;

static int read_state(fmcl_trainer *t, state *st)
{
    const size_t n = t->m.n_params;
    const fmcl_t src[4] = {t->m.params, t->ema, t->m1, t->m2};
    st->n = n;
    if (!(st->buf = calloc(4 * n, sizeof(float)))) return 0;
    int good = 1;
    for (int b = 0; b < 4; b++)
        good &= fmcl_read(t->ctx, src[b], st->buf + b * n, n * sizeof(float)) == FMCL_OK;
    memset(st->loss, 0, sizeof st->loss);
    return good && fmcl_trainer_losses(t, 0, t->step, st->loss) == FMCL_OK;
}

static int same_state(const state *a, const state *b)
{
    return a->n == b->n && memcmp(a->loss, b->loss, sizeof a->loss) == 0 &&
           memcmp(a->buf, b->buf, 4 * a->n * sizeof(float)) == 0;
}

/* A conditional U-Net's null-class output (y = 0) on the host equals the
 * unconditional network's with the same weights less label_emb, exactly. */
static void null_class_is_unconditional(const fmcl_unet_spec *c, const fmcl_unet_plan *p,
                                        const float *params, const float *x, const float *t,
                                        const float *want)
{
    enum { B = 3, D = 64 };
    fmcl_unet_spec uc = *c;
    uc.classes = 0;
    fmcl_unet_plan *q;
    char err[256];
    if (!tl_check(fmcl_unet_plan_create(&uc, B, &q, err, sizeof err) == FMCL_OK, "%s", err)) return;
    const fmcl_unet_param *e = fmcl_unet_plan_tensor(p, 4); /* label_emb.weight */
    const size_t nq = fmcl_unet_plan_params(q);
    float *w = malloc(nq * sizeof *w), v[B * D];
    memcpy(w, params, e->off * sizeof *w);
    memcpy(w + e->off, params + e->off + e->n, (nq - e->off) * sizeof *w);
    fmcl_unet_forward_ref(q, w, x, t, NULL, v);
    int same = strcmp(e->name, "label_emb.weight") == 0;
    for (int i = (B - 1) * D; i < B * D; i++) same &= v[i] == want[i];
    tl_check(same, "null-class rows equal the unconditional U-Net without label_emb");
    free(w);
    fmcl_unet_plan_free(q);
}

/* The model's forward on rows [x, t] (+ one-hot: classes 1, 0, null)
 * against fmcl_unet_forward_ref. */
static void forward_matches_ref(fmcl_ctx *ctx, const fmcl_net *m, const float *params)
{
    enum { B = 3, D = 64 };
    const int K = m->classes, W = D + 1 + K;
    float rows[B * (D + 1 + K_COND)], x[B * D], t[B] = {0.1f, 0.5f, 0.93f}, v[B * D];
    float want[B * D], y[B * K_COND] = {0};
    tl_fill(x, B * D, -1, 1, 77);
    for (int r = 0; r + 1 < B && K > 0; r++) y[r * K + (1 - r)] = 1.0f;
    for (int r = 0; r < B; r++) {
        memcpy(rows + r * W, x + r * D, D * sizeof(float));
        rows[r * W + D] = t[r];
        memcpy(rows + r * W + D + 1, y + r * K, K * sizeof(float));
    }
    fmcl_unet_plan *p;
    char err[256];
    if (!tl_check(fmcl_unet_plan_create(&m->unet->cfg, B, &p, err, sizeof err) == FMCL_OK,
                  "plan: %s", err))
        return;
    fmcl_unet_forward_ref(p, params, x, t, K ? y : NULL, want);
    if (K) null_class_is_unconditional(&m->unet->cfg, p, params, x, t, want);
    fmcl_unet_plan_free(p);
    const size_t nrows = (size_t)B * W;
    fmcl_net_acts a;
    fmcl_t io = {0};
    if (ok(ctx, fmcl_net_acts_create(m, B, &a), "acts") &&
        ok(ctx, fmcl_alloc(ctx, (nrows + B * D) * 4, &io, "rows"), "alloc") &&
        ok(ctx, fmcl_write(ctx, io, rows, nrows * 4), "write") &&
        ok(ctx, fmcl_net_forward(m, &a, fmcl_at(io, nrows), io, B), "forward") &&
        ok(ctx, fmcl_read(ctx, fmcl_at(io, nrows), v, sizeof v), "read")) {
        double got[B * D];
        for (int i = 0; i < B * D; i++) got[i] = want[i];
        tl_close(K ? "conditional U-Net forward through [x, t, y] rows vs the host reference"
                   : "U-Net forward through [x, t] rows vs the host reference",
                 v, got, B * D, 1e-4, 1e-3);
        double mag = 0;
        for (int i = 0; i < B * D; i++) mag += fabs(want[i]);
        tl_check(mag > 1e-3, "the trained U-Net's output is not zero (%g)", mag);
    }
    fmcl_release(&io);
    fmcl_net_acts_free(&a);
}

static void checkpoint_contents(const char *path, const fmcl_unet_spec *cfg)
{
    fmcl_st_file f;
    char err[512] = "";
    if (!tl_check(fmcl_st_read(path, &f, err, sizeof err) == FMCL_OK, "read %s: %s", path, err))
        return;
    const char *names[] = {"time_embed.0.weight", "ema.time_embed.0.weight",
                           "optim.exp_avg.out.2.weight", "optim.exp_avg_sq.input_blocks.0.0.bias",
                           "train.loss"};
    for (int i = 0; i < 5; i++)
        tl_check(fmcl_st_find(&f, names[i]) != NULL, "the checkpoint holds %s", names[i]);
    tl_check((fmcl_st_find(&f, "label_emb.weight") != NULL) == (cfg->classes > 0) &&
                 (fmcl_st_meta(&f, "classes") != NULL) == (cfg->classes > 0),
             "label_emb.weight and metadata 'classes' exactly when conditional");
    tl_check((fmcl_st_meta(&f, "dropout") != NULL) == (cfg->dropout > 0),
             "metadata 'dropout' exactly when dropping");
    fmcl_unet_spec back;
    tl_check(fmcl_unet_spec_from_file(&f, path, &back, err, sizeof err) == FMCL_OK &&
                 memcmp(&back, cfg, sizeof back) == 0,
             "the U-Net config reads back from the metadata (%s)", err);
    fmcl_st_free(&f);
}

/* The unconditional run's losses without dropout, which dropout changes. */
static float plain_loss[STEPS];

/* tag: the files' suffix (K, or TAG_DROP for the dropout run). */
#define TAG_DROP 1
static void resume(fmcl_ctx *ctx, int K, float P)
{
    char half[96], full[96], again[96];
    const int tag = P > 0 ? TAG_DROP : K;
    snprintf(half, sizeof half, "%s/half%d.safetensors", dir, tag);
    snprintf(full, sizeof full, "%s/full%d.safetensors", dir, tag);
    snprintf(again, sizeof again, "%s/again%d.safetensors", dir, tag);
    fmcl_model_config mc;
    tiny_config(&mc, K, P);
    fmcl_train_config tc;
    fmcl_data *data = train_config(&tc, K);
    fmcl_model *um = NULL, *m2 = NULL, *ema = NULL;
    fmcl_trainer *t = NULL, *t2 = NULL;
    fmcl_ctx *c2 = NULL;
    state s_full = {0}, s_resumed = {0};
    char spec[32], err[4096];
    if (!data || !ok(ctx, fmcl_model_create(ctx, &mc, tc.seed, &um), "U-Net")) goto done;
    const fmcl_net *m = &um->net;
    if (!ok(ctx, fmcl_trainer_create(um, data, &tc, &t), "trainer") ||
        !ok(ctx, fmcl_trainer_run(t, STEPS / 2), "first half") ||
        !ok(ctx, fmcl_trainer_save(t, half), "save half") ||
        !ok(ctx, fmcl_trainer_run(t, STEPS - STEPS / 2), "second half") ||
        !ok(ctx, fmcl_trainer_save(t, full), "save full") ||
        !tl_check(read_state(t, &s_full), "reading the state"))
        goto done;
    checkpoint_contents(full, &um->unet->cfg);
    if (K == 0 && P == 0) memcpy(plain_loss, s_full.loss, sizeof plain_loss);
    if (P > 0) {
        int differ = 0;
        for (int i = 0; i < STEPS; i++) differ += s_full.loss[i] != plain_loss[i];
        tl_check(differ > STEPS / 2, "dropout %g changes %d of %d losses", (double)P, differ,
                 STEPS);
    }
    forward_matches_ref(ctx, m, s_full.buf);
    snprintf(spec, sizeof spec, "%d:%d", ctx->info.platform_index, ctx->info.device_index);
    if (!tl_check(fmcl_ctx_create(&c2, spec, err, sizeof err) == FMCL_OK, "context: %s", err))
        goto done;
    fmcl_train_config tc2;
    if (!tl_check(fmcl_train_config_from_checkpoint(half, &tc2, NULL, err, sizeof err) == FMCL_OK,
                  "config from the checkpoint: %s", err))
        goto done;
    if (!ok(c2, fmcl_model_load(c2, half, FMCL_WEIGHTS_RAW, &m2), "load") ||
        !tl_check(m2->net.kind == FMCL_MODEL_UNET && m2->net.n_params == m->n_params,
                  "loaded a U-Net") ||
        !ok(c2, fmcl_trainer_create(m2, data, &tc2, &t2), "trainer from the checkpoint") ||
        !ok(c2, fmcl_trainer_restore(t2, half), "restore") ||
        !ok(c2, fmcl_trainer_run(t2, STEPS - STEPS / 2), "resumed half") ||
        !ok(c2, fmcl_trainer_save(t2, again), "save resumed") ||
        !tl_check(read_state(t2, &s_resumed), "reading the resumed state"))
        goto done;
    tl_check(same_state(&s_full, &s_resumed),
             "U-Net (%d classes, dropout %g): %d steps equal "
             "%d + checkpoint + %d bit for bit (weights, EMA, moments, losses)",
             K, (double)P, STEPS, STEPS / 2, STEPS - STEPS / 2);
    unsigned char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    if (tl_check(fmcl_read_file(full, 1 << 26, &a, &la, err, sizeof err) == FMCL_OK &&
                     fmcl_read_file(again, 1 << 26, &b, &lb, err, sizeof err) == FMCL_OK,
                 "reading the final checkpoints: %s", err))
        tl_check(la == lb && memcmp(a, b, la) == 0, "the two final checkpoints are the same "
                                                    "bytes");
    free(a);
    free(b);
    if (ok(c2, fmcl_model_load(c2, full, FMCL_WEIGHTS_DEFAULT, &ema), "load the EMA")) {
        float *w = malloc(m->n_params * sizeof *w);
        tl_check(fmcl_model_is_ema(ema),
                 "the default weights of a checkpoint with an EMA are the EMA");
        if (tl_check(w && fmcl_read(c2, ema->net.params, w, m->n_params * 4) == FMCL_OK,
                     "reading the loaded EMA: %s", fmcl_ctx_error(c2)))
            tl_check(memcmp(w, s_full.buf + m->n_params, m->n_params * 4) == 0,
                     "the loaded EMA is the trainer's");
        free(w);
    }
done:
    free(s_full.buf);
    free(s_resumed.buf);
    fmcl_model_free(ema);
    fmcl_trainer_free(t2);
    fmcl_model_free(m2);
    fmcl_ctx_free(c2);
    fmcl_trainer_free(t);
    fmcl_model_free(um);
    fmcl_data_free(data);
}

/* A batch past the device is refused before anything is allocated, with
 * one that fits; the U-Net takes image data of its own shape only. */
static void refusals(fmcl_ctx *ctx)
{
    fmcl_model_config mc;
    tiny_config(&mc, 0, 0.0f);
    fmcl_model *um = NULL;
    fmcl_train_config tc;
    fmcl_data *data = train_config(&tc, 0);
    fmcl_data *wide = tl_pixels(pixels, NULL, N_IMAGES, 1, 4, 16);
    fmcl_data *board = tl_toy(FMCL_TOY_CHECKERBOARD);
    if (!data || !wide || !board || !ok(ctx, fmcl_model_create(ctx, &mc, 1, &um), "U-Net"))
        goto done;
    const fmcl_net *m = &um->net;
    tc.batch = 1 << 20; /* the largest the settings allow */
    fmcl_trainer *t = NULL;
    fmcl_status s = fmcl_trainer_create(um, data, &tc, &t);
    const char *msg = fmcl_ctx_error(ctx), *fit = strstr(msg, "a batch of ");
    tl_check(s == FMCL_ERR_NOMEM && fit, "batch 2^20 refused with a batch that fits: %s", msg);
    int B = fit ? atoi(fit + strlen("a batch of ")) : 0;
    size_t acts = fmcl_net_acts_largest(m, B);
    tl_check(B > 0 && acts > 0 && acts <= ctx->info.max_alloc &&
                 fmcl_net_acts_bytes(m, B) < ctx->info.global_mem,
             "the suggested batch %d fits (%zu bytes of activations)", B, acts);
    tc.batch = 4;
    s = fmcl_trainer_create(um, wide, &tc, &t);
    tl_check(s == FMCL_ERR_ARG && strstr(fmcl_ctx_error(ctx), "U-Net"),
             "images of another shape refused: %s", fmcl_ctx_error(ctx));
    s = fmcl_trainer_create(um, board, &tc, &t);
    tl_check(s == FMCL_ERR_ARG, "2D data refused: %s", fmcl_ctx_error(ctx));
done:
    fmcl_model_free(um);
    fmcl_data_free(data);
    fmcl_data_free(wide);
    fmcl_data_free(board);
}

static int device_tests(fmcl_ctx *ctx, void *user)
{
    (void)user;
    resume(ctx, 0, 0.0f);
    resume(ctx, K_COND, 0.0f);
    resume(ctx, 0, 0.2f);
    refusals(ctx);
    return 0;
}

int main(void)
{
    for (int i = 0; i < N_IMAGES * 64; i++) pixels[i] = (uint8_t)(53 * i + 7 + i / 64);
    snprintf(dir, sizeof dir, "/tmp/fmcl-unet-train-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int rc = tl_for_each_device(device_tests, NULL);
    static const char *const names[] = {"half", "full", "again"};
    char path[128];
    static const int tags[] = {0, K_COND, TAG_DROP};
    for (int i = 0; i < 9; i++) {
        snprintf(path, sizeof path, "%s/%s%d.safetensors", dir, names[i % 3], tags[i / 3]);
        unlink(path);
    }
    rmdir(dir);
    return rc;
}
