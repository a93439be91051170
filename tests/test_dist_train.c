/* Data-parallel training (fmcl_trainer_create_group) between the threads of
 * one process, each rank with its own context on the device under test,
 * against one process training on the whole batch:
 * - the draws: after the first step each rank's model input (x_t, the time
 *   features, the one-hot labels) and target u_t are, bit for bit, the
 *   rows [row0, row0 + rows) of the one process's;
 * - the run: losses and weights within 1e-5 relative after the case's
 *   steps (the only difference is the order of the gradients' sums), the
 *   weights the same bits on every rank, and a second run with the same
 *   number of ranks the same bits as the first;
 * for the MLP on a built-in set (2 ranks, 100 steps, clipping, warm-up,
 * cosine, EMA), the MLP with the OT coupling on points (3 ranks, a batch
 * not divisible by 3) and a small conditional U-Net with dropout, flips and
 * the OT coupling (2 ranks, an odd batch).
 * Also: with the OT coupling and labels, each image keeps its own label
 * (the rows are reordered with their labels); a batch smaller than the
 * group and a failure on one rank are refused on every rank, naming it;
 * weights that drift apart on one rank stop every rank at the next
 * checksum, naming it. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/trainer.h"
#include "testlib.h"

#define MAX_RANKS 3
#define N_IMAGES 24

typedef struct {
    const char *name;
    int unet, classes, ranks, batch, steps;
    float dropout;
    fmcl_coupling coupling;
} dcase;

static const dcase cases[] = {
    {"MLP, checkerboard", 0, 0, 2, 64, 100, 0.0f, FMCL_COUPLING_INDEPENDENT},
    {"MLP, points, OT coupling, batch 31 over 3", 0, 0, 3, 31, 100, 0.0f, FMCL_COUPLING_OT},
    {"U-Net, conditional, dropout, OT coupling, batch 7 over 2", 1, 3, 2, 7, 12, 0.2f,
     FMCL_COUPLING_OT},
};

static uint8_t pixels[N_IMAGES * 64], labels[N_IMAGES];
static float points[200 * 3];

/* What one rank (or the one process) saw and ended with. */
typedef struct {
    fmcl_status status;
    char msg[1024];
    int row0, rows, in_width, dim;
    float *in, *U;        /* after step 1: rows x in_width, rows x dim */
    float *params, *loss; /* at the end */
    size_t n;
} outcome;

static void outcome_free(outcome *o)
{
    free(o->in);
    free(o->U);
    free(o->params);
    free(o->loss);
}

static fmcl_status make_model(fmcl_ctx *ctx, const dcase *c, fmcl_model **m)
{
    fmcl_model_config mc;
    fmcl_model_config_default(&mc, c->unet ? FMCL_MODEL_UNET : FMCL_MODEL_MLP);
    if (c->unet) {
        fmcl_unet_config *u = &mc.unet;
        u->channels = 1, u->height = 8, u->width = 8;
        u->base = 4, u->levels = 2, u->mult[0] = 1, u->mult[1] = 2, u->mult[2] = 0;
        u->attn_levels = 1u << 1, u->heads = 2, u->groups = 2, u->dropout = c->dropout;
        mc.classes = c->classes;
    } else {
        mc.dim = c->coupling == FMCL_COUPLING_OT ? 3 : 2;
        mc.mlp = (fmcl_mlp_config){.width = 32, .depth = 2, .time_freqs = 2};
    }
    return fmcl_model_create(ctx, &mc, 31, m);
}

static void train_config(const dcase *c, fmcl_train_config *tc)
{
    fmcl_train_config_default(tc);
    tc->batch = c->batch, tc->steps = c->steps, tc->seed = 77, tc->lr = 3e-3f;
    tc->coupling = c->coupling;
    tc->clip = 1.0f, tc->warmup = 5, tc->lr_schedule = FMCL_LR_COSINE, tc->ema = 0.99f;
    tc->hflip = c->unet;
    tc->label_drop = 0.25f;
}

/* Trains case c on ctx as one rank of g (NULL: one process alone). */
static void train(fmcl_ctx *ctx, fmcl_group *g, const dcase *c, fmcl_data *d, outcome *o)
{
    memset(o, 0, sizeof *o);
    fmcl_model *m = NULL;
    fmcl_trainer *t = NULL;
    fmcl_train_config tc;
    train_config(c, &tc);
    fmcl_status s = make_model(ctx, c, &m);
    /* Every rank reaches the collective create, whatever failed before. */
    if (s != FMCL_OK)
        s = fmcl_group_agree(g, s, fmcl_ctx_error(ctx));
    else
        s = fmcl_trainer_create_group(m, d, &tc, g, &t);
    if (s == FMCL_OK) {
        fmcl_trainer_share(t, &o->row0, &o->rows);
        o->in_width = t->m.in_width, o->dim = t->m.dim, o->n = t->m.n_params;
        o->in = malloc((size_t)o->rows * o->in_width * sizeof(float));
        o->U = malloc((size_t)o->rows * o->dim * sizeof(float));
        o->params = malloc(o->n * sizeof(float));
        o->loss = malloc((size_t)c->steps * sizeof(float));
        if (!o->in || !o->U || !o->params || !o->loss) s = FMCL_ERR_NOMEM;
    }
    if (s == FMCL_OK) s = fmcl_trainer_run(t, 1);
    if (s == FMCL_OK)
        s = fmcl_read(ctx, t->in, o->in, (size_t)o->rows * o->in_width * sizeof(float));
    if (s == FMCL_OK) s = fmcl_read(ctx, t->U, o->U, (size_t)o->rows * o->dim * sizeof(float));
    if (s == FMCL_OK) s = fmcl_trainer_run(t, c->steps - 1);
    if (s == FMCL_OK) s = fmcl_trainer_losses(t, 0, c->steps, o->loss);
    if (s == FMCL_OK) s = fmcl_read(ctx, t->m.params, o->params, o->n * sizeof(float));
    o->status = s;
    snprintf(o->msg, sizeof o->msg, "%s", s == FMCL_OK ? "" : fmcl_ctx_error(ctx));
    fmcl_trainer_free(t);
    fmcl_model_free(m);
}

typedef struct {
    fmcl_ctx *ctx;
    fmcl_group *g;
    const dcase *c;
    fmcl_data *d;
    outcome o;
} rank_job;

static void *rank_main(void *arg)
{
    rank_job *j = arg;
    train(j->ctx, j->g, j->c, j->d, &j->o);
    return NULL;
}

/* Case c over n threads, rank r on ctxs[r] with data ds[r]. */
static int run_ranks(fmcl_ctx **ctxs, int n, const dcase *c, fmcl_data **ds, rank_job *jobs)
{
    fmcl_group *g[MAX_RANKS];
    char err[256];
    if (!tl_check(fmcl_group_create_threads(n, g, err, sizeof err) == FMCL_OK, "group: %s", err))
        return 0;
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < n; r++) {
        jobs[r] = (rank_job){ctxs[r], g[r], c, ds[r], {0}};
        pthread_create(&th[r], NULL, rank_main, &jobs[r]);
    }
    for (int r = 0; r < n; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < n; r++) fmcl_group_free(g[r]);
    return 1;
}

/* max |a - b| / max |b|. */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return scale > 0 ? d / scale : d;
}

static fmcl_data *case_data(const dcase *c)
{
    if (c->unet) return tl_pixels(pixels, labels, N_IMAGES, 1, 8, 8);
    if (c->coupling == FMCL_COUPLING_OT) return tl_points(points, 200, 3);
    return tl_toy(FMCL_TOY_CHECKERBOARD);
}

static void check_case(fmcl_ctx **ctxs, const dcase *c)
{
    fmcl_data *d = case_data(c);
    if (!d) return;
    outcome one;
    train(ctxs[0], NULL, c, d, &one);
    if (!tl_check(one.status == FMCL_OK, "%s, one process: %s", c->name, one.msg)) {
        fmcl_data_free(d);
        return;
    }
    fmcl_data *ds[MAX_RANKS] = {d, d, d};
    rank_job jobs[MAX_RANKS], again[MAX_RANKS];
    const int n = c->ranks;
    if (!run_ranks(ctxs, n, c, ds, jobs) || !run_ranks(ctxs, n, c, ds, again)) {
        outcome_free(&one);
        fmcl_data_free(d);
        return;
    }
    int covered = 0;
    for (int r = 0; r < n; r++) {
        const outcome *o = &jobs[r].o;
        if (!tl_check(o->status == FMCL_OK && again[r].o.status == FMCL_OK,
                      "%s, rank %d of %d: %s %s", c->name, r, n, o->msg, again[r].o.msg))
            continue;
        tl_check(o->row0 == covered, "%s, rank %d: its share starts at %d, not %d", c->name, r,
                 o->row0, covered);
        covered = o->row0 + o->rows;
        const size_t wi = (size_t)o->in_width, di = (size_t)o->dim;
        tl_check(memcmp(o->in, one.in + (size_t)o->row0 * wi, o->rows * wi * 4) == 0 &&
                     memcmp(o->U, one.U + (size_t)o->row0 * di, o->rows * di * 4) == 0,
                 "%s, rank %d: step 1's inputs and targets of rows [%d, %d) are the one "
                 "process's",
                 c->name, r, o->row0, o->row0 + o->rows);
        const double dl = rel_diff(o->loss, one.loss, (size_t)c->steps),
                     dw = rel_diff(o->params, one.params, o->n);
        tl_check(dl <= 1e-5 && dw <= 1e-5,
                 "%s, rank %d of %d: losses within %.2g and weights within %.2g (relative) of "
                 "one process after %d steps",
                 c->name, r, n, dl, dw, c->steps);
        if (r == 0)
            printf("%s: %d ranks vs one process after %d steps: losses %.2g, weights %.2g "
                   "(max relative)\n",
                   c->name, n, c->steps, dl, dw);
        tl_check(memcmp(o->params, jobs[0].o.params, o->n * 4) == 0 &&
                     memcmp(o->loss, jobs[0].o.loss, (size_t)c->steps * 4) == 0,
                 "%s: rank %d's weights and losses are rank 0's bits", c->name, r);
        tl_check(memcmp(o->params, again[r].o.params, o->n * 4) == 0 &&
                     memcmp(o->loss, again[r].o.loss, (size_t)c->steps * 4) == 0,
                 "%s, rank %d: a second run with %d ranks gives the same bits", c->name, r, n);
    }
    tl_check(covered == c->batch, "%s: the shares cover %d of the batch of %d", c->name, covered,
             c->batch);
    for (int r = 0; r < n; r++) {
        outcome_free(&jobs[r].o);
        outcome_free(&again[r].o);
    }
    outcome_free(&one);
    fmcl_data_free(d);
}

/* One process, OT coupling, labels: every row's label (unless dropped, -1)
 * is its image's. The image of label L has every pixel 40 L + (its index %
 * 8), so a row's label is floor of its first pixel's byte / 40. */
static void check_labels_follow(fmcl_ctx *ctx)
{
    const dcase c = {"labels", 1, 3, 1, 16, 1, 0.0f, FMCL_COUPLING_OT};
    fmcl_data *d = case_data(&c);
    fmcl_model *m = NULL;
    fmcl_trainer *t = NULL;
    fmcl_train_config tc;
    train_config(&c, &tc);
    fmcl_status s = d ? make_model(ctx, &c, &m) : FMCL_ERR_ARG;
    if (s == FMCL_OK) s = fmcl_trainer_create(m, d, &tc, &t);
    if (s == FMCL_OK) s = fmcl_trainer_run(t, 1);
    float x1[16 * 64], y[16];
    if (s == FMCL_OK) s = fmcl_read(ctx, t->x1, x1, sizeof x1);
    if (s == FMCL_OK) s = fmcl_read(ctx, t->y, y, sizeof y);
    if (tl_check(s == FMCL_OK, "labels: %s", fmcl_ctx_error(ctx))) {
        int wrong = 0, dropped = 0;
        for (int i = 0; i < 16; i++) {
            const int byte = (int)floorf((x1[i * 64] + 1.0f) * 128.0f);
            dropped += y[i] == -1.0f;
            wrong += y[i] != -1.0f && y[i] != (float)(byte / 40);
        }
        tl_check(wrong == 0 && dropped < 16,
                 "OT coupling with labels: %d of 16 rows carry another image's label (%d "
                 "dropped)",
                 wrong, dropped);
    }
    fmcl_trainer_free(t);
    fmcl_model_free(m);
    fmcl_data_free(d);
}

/* A batch smaller than the group, and a rank whose data does not fit the
 * model: every rank fails, naming the rank and why. */
static void check_refusals(fmcl_ctx **ctxs)
{
    dcase c = cases[0];
    c.batch = 1;
    fmcl_data *d = case_data(&c), *bad = tl_points(points, 200, 3);
    fmcl_data *ds[MAX_RANKS] = {d, d, d};
    rank_job jobs[MAX_RANKS];
    if (d && bad && run_ranks(ctxs, 2, &c, ds, jobs))
        for (int r = 0; r < 2; r++) {
            tl_check(jobs[r].o.status == FMCL_ERR_ARG &&
                         strstr(jobs[r].o.msg, "a batch of 1 cannot be shared by 2 ranks"),
                     "batch 1 over 2 ranks, rank %d: %d '%s'", r, jobs[r].o.status, jobs[r].o.msg);
            outcome_free(&jobs[r].o);
        }
    c.batch = 8;
    ds[1] = bad;
    if (d && bad && run_ranks(ctxs, 2, &c, ds, jobs))
        for (int r = 0; r < 2; r++) {
            tl_check(jobs[r].o.status == FMCL_ERR_ARG && strstr(jobs[r].o.msg, "rank 1 of 2: ") &&
                         strstr(jobs[r].o.msg, "3 floats per example but the model's dim is 2"),
                     "rank 1's data unfit, rank %d: %d '%s'", r, jobs[r].o.status, jobs[r].o.msg);
            outcome_free(&jobs[r].o);
        }
    fmcl_data_free(d);
    fmcl_data_free(bad);
}

/* Rank 1's weights drift (one changed float) after step 3; the checksum
 * every 4 steps stops both ranks at step 4, naming rank 1. */
static void *drift_main(void *arg)
{
    rank_job *j = arg;
    fmcl_model *m = NULL;
    fmcl_trainer *t = NULL;
    fmcl_train_config tc;
    train_config(j->c, &tc);
    fmcl_status s = make_model(j->ctx, j->c, &m);
    if (s == FMCL_OK) s = fmcl_trainer_create_group(m, j->d, &tc, j->g, &t);
    if (s == FMCL_OK) {
        fmcl_trainer_set_check_every(t, 4);
        s = fmcl_trainer_run(t, 3);
    }
    const float odd = 0.5f;
    if (s == FMCL_OK && fmcl_group_rank(j->g) == 1) s = fmcl_write(j->ctx, t->m.params, &odd, 4);
    if (s == FMCL_OK) s = fmcl_trainer_run(t, 5);
    j->o.status = s;
    snprintf(j->o.msg, sizeof j->o.msg, "%s", fmcl_ctx_error(j->ctx));
    j->o.row0 = t ? t->step : -1;
    fmcl_trainer_free(t);
    fmcl_model_free(m);
    return NULL;
}

static void check_drift(fmcl_ctx **ctxs)
{
    fmcl_data *d = case_data(&cases[0]);
    fmcl_group *g[2];
    char err[256];
    if (!d ||
        !tl_check(fmcl_group_create_threads(2, g, err, sizeof err) == FMCL_OK, "group: %s", err)) {
        fmcl_data_free(d);
        return;
    }
    rank_job jobs[2];
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        jobs[r] = (rank_job){ctxs[r], g[r], &cases[0], d, {0}};
        pthread_create(&th[r], NULL, drift_main, &jobs[r]);
    }
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < 2; r++) {
        tl_check(jobs[r].o.status == FMCL_ERR_NUMERIC && jobs[r].o.row0 == 4 &&
                     strstr(jobs[r].o.msg, "checksum after step 4 differs between ranks") &&
                     strstr(jobs[r].o.msg, ", rank 1 "),
                 "rank 1's weights drifted, rank %d: %d after step %d '%s'", r, jobs[r].o.status,
                 jobs[r].o.row0, jobs[r].o.msg);
        fmcl_group_free(g[r]);
    }
    fmcl_data_free(d);
}

static int device_checks(fmcl_ctx *ctx, void *user)
{
    (void)user;
    const fmcl_device_info *info = fmcl_ctx_device(ctx);
    char spec[32], err[2048];
    snprintf(spec, sizeof spec, "%d:%d", info->platform_index, info->device_index);
    fmcl_ctx *ctxs[MAX_RANKS] = {ctx, NULL, NULL};
    for (int r = 1; r < MAX_RANKS; r++)
        if (!tl_check(fmcl_ctx_create(&ctxs[r], spec, err, sizeof err) == FMCL_OK,
                      "context %d on %s: %s", r, spec, err))
            goto done;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(ctxs, &cases[i]);
    check_labels_follow(ctx);
    check_refusals(ctxs);
    check_drift(ctxs);
done:
    for (int r = 1; r < MAX_RANKS; r++) fmcl_ctx_free(ctxs[r]);
    return 0;
}

int main(void)
{
    for (int i = 0; i < N_IMAGES; i++) {
        labels[i] = (uint8_t)(i % 3);
        memset(pixels + i * 64, 40 * labels[i] + i % 8, 64);
    }
    tl_fill(points, sizeof points / sizeof *points, -2.0f, 2.0f, 5u);
    return tl_for_each_device(device_checks, NULL);
}
