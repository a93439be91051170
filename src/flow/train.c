/* Conditional flow matching training on the device. One step:
 *   x1 <- data (built-in set drawn from Philox, rows of the user's array, or
 *         8-bit images gathered and dequantised on the device)
 *   [minibatch OT coupling: x1's rows reordered to pair with the noise]
 *   X = [x_t, t], U = u_t       (the chosen path, one kernel; built-in sets
 *                                and arrays are drawn inside it when uncoupled)
 *   [class-conditional: y <- the rows' labels, dropped to the null class at
 *    random; Xc = [X, one-hot(y)] is the model's input]
 *   pred = v(X); loss, dpred    (MSE, deterministic reduction)
 *   backward into zeroed grads; (||g||^2 when clipping); Adam(W) at the
 *   step's scheduled learning rate (computed here on the host), which also
 *   zeroes grads for the next step; the EMA of the weights
 * Everything is enqueued on the one in-order queue: no allocation and no host
 * synchronisation inside a step, except with the OT coupling, whose exact
 * assignment runs on the host (x1 is read back, reordered and written).
 * Per-step losses stay on the device until fmcl_trainer_losses reads them at
 * a logging point. Every random draw of step k comes from Philox counters
 * (seed, k), so the step number is the whole state of the data stream
 * (checkpoint.c relies on it to resume). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/images.h"
#include "data/toy2d.h"
#include "flow/classes.h"
#include "flow/coupling.h"
#include "flow/flow_ops.h"
#include "flow/paths.h"
#include "flow/trainer.h"
#include "nn/nn_ops.h"
#include "runtime/vec.h"

void fmcl_train_config_default(fmcl_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->batch = 4096;
    c->steps = 20000;
    c->lr = 1e-3f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->kind = FMCL_DATA_CHECKERBOARD;
    c->path = FMCL_PATH_OT;
    c->poly_n = 2.0f;
    c->beta_min = 0.1f;
    c->beta_max = 20.0f;
    c->sigma_lo = 0.01f;
    c->sigma_hi = 50.0f;
    c->coupling = FMCL_COUPLING_INDEPENDENT;
    c->label_drop = 0.1f;
}

double fmcl_train_lr(const fmcl_train_config *c, int s)
{
    const double pi = 3.14159265358979323846;
    if (s <= c->warmup) return (double)c->lr * s / c->warmup;
    if (c->lr_schedule != FMCL_LR_COSINE || c->steps <= c->warmup) return c->lr;
    return 0.5 * c->lr * (1.0 + cos(pi * (s - c->warmup) / (c->steps - c->warmup)));
}

static fmcl_status check_config(fmcl_ctx *ctx, const fmcl_model *m, const fmcl_train_config *c)
{
    char err[256];
    if (fmcl_train_config_check(c, err, sizeof err) != FMCL_OK)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "invalid training configuration: %s", err);
    const char *bad = NULL;
    if (c->kind == FMCL_DATA_ARRAY && (!c->points || c->n_points < 1))
        bad = "an array data set needs at least one point";
    else if (c->kind == FMCL_DATA_IMAGES && (!c->pixels || c->n_points < 1))
        bad = "an image data set needs at least one image";
    else if (c->kind == FMCL_DATA_IMAGES &&
             (c->img_c < 1 || c->img_h < 1 || c->img_w < 1 ||
              (int64_t)c->img_c * c->img_h * c->img_w != m->dim))
        bad = "the images' channels x height x width must equal the model's dim";
    else if (c->kind != FMCL_DATA_ARRAY && c->kind != FMCL_DATA_IMAGES &&
             (c->kind < 0 || c->kind > FMCL_DATA_SPIRALS))
        bad = "unknown data set";
    else if (c->kind != FMCL_DATA_ARRAY && c->kind != FMCL_DATA_IMAGES && m->dim != 2)
        bad = "the built-in data sets are 2D: the model's dim must be 2";
    else if (m->kind == FMCL_MODEL_UNET &&
             (c->kind != FMCL_DATA_IMAGES || c->img_c != m->unet->cfg.channels ||
              c->img_h != m->unet->cfg.height || c->img_w != m->unet->cfg.width))
        bad = "the U-Net needs image data of its channels, height and width";
    else if (c->classes != m->classes)
        bad = "classes must equal the model's (0 for an unconditional model)";
    else if (c->classes > 0 && (c->kind != FMCL_DATA_IMAGES || !c->labels))
        bad = "class-conditional training needs an image set with labels";
    if (bad) return fmcl_fail(ctx, FMCL_ERR_ARG, "invalid training configuration: %s", bad);
    for (int i = 0; c->classes > 0 && i < c->n_points; i++)
        if (c->labels[i] >= c->classes)
            return fmcl_fail(ctx, FMCL_ERR_ARG,
                             "invalid training configuration: image %d has label %d but the "
                             "model has %d classes; give the model at least %d",
                             i, c->labels[i], c->classes, c->labels[i] + 1);
    if (c->coupling == FMCL_COUPLING_OT && c->batch > FMCL_COUPLING_MAX_BATCH)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "the OT coupling solves an exact assignment of cost O(batch^3) on the "
                         "host every step: batch %d would take seconds per step; use a batch of "
                         "at most %d, or the independent coupling",
                         c->batch, FMCL_COUPLING_MAX_BATCH);
    return FMCL_OK;
}

/* Host buffers of the OT coupling (allocated once, like the device's). */
static fmcl_status coupling_alloc(fmcl_trainer *t)
{
    const size_t bd = (size_t)t->cfg.batch * t->m.dim;
    t->h_x0 = malloc(bd * sizeof *t->h_x0);
    t->h_x1 = malloc(bd * sizeof *t->h_x1);
    t->h_x1p = malloc(bd * sizeof *t->h_x1p);
    t->perm = malloc((size_t)t->cfg.batch * sizeof *t->perm);
    t->pair_work = malloc(fmcl_ot_pairing_work(t->cfg.batch));
    if (t->h_x0 && t->h_x1 && t->h_x1p && t->perm && t->pair_work) return FMCL_OK;
    return fmcl_fail(t->ctx, FMCL_ERR_NOMEM,
                     "out of host memory for the OT coupling's %.0f MiB of cost matrix; use a "
                     "smaller batch",
                     fmcl_ot_pairing_work(t->cfg.batch) / 1048576.0);
}

/* Reorders this step's x1 rows so row i pairs with row i of the noise the
 * path kernel draws (fmcl_path_noise_ref: the same Philox counters). */
static fmcl_status couple(fmcl_trainer *t, uint32_t k)
{
    const int B = t->cfg.batch, D = t->m.dim;
    const size_t row = (size_t)D * sizeof(float);
    fmcl_status s = fmcl_read(t->ctx, t->x1, t->h_x1, (size_t)B * row);
    if (s != FMCL_OK) return s;
    fmcl_path_noise_ref(t->h_x0, t->cfg.seed, k, B, D);
    if (fmcl_ot_pairing(t->h_x0, t->h_x1, B, D, t->perm, t->pair_work) != 0)
        return fmcl_fail(t->ctx, FMCL_ERR_NUMERIC,
                         "step %u: the batch holds a NaN or infinite point, so no OT coupling "
                         "exists; check the data for non-finite values",
                         (unsigned)k + 1);
    for (int i = 0; i < B; i++)
        memcpy(t->h_x1p + (size_t)i * D, t->h_x1 + (size_t)t->perm[i] * D, row);
    return fmcl_write(t->ctx, t->x1, t->h_x1p, (size_t)B * row);
}

/* Device bytes of training with batch B: the parameters and their state,
 * the data, the per-step tensors (work_floats at B) and the activations; 0
 * when the activations cannot be planned for B at all. */
static size_t train_bytes(const fmcl_trainer *t, int B, size_t work_floats, size_t *largest)
{
    const fmcl_model *m = &t->m;
    size_t acts = fmcl_model_acts_bytes(m, B);
    *largest = fmcl_model_acts_largest(m, B);
    if (acts == 0) return 0;
    return (t->cfg.ema > 0 ? 5 : 4) * m->n_params * sizeof(float) +
           (size_t)t->cfg.n_points * m->dim *
               (t->cfg.kind == FMCL_DATA_IMAGES ? 1 : sizeof(float)) +
           (t->cfg.classes > 0 ? (size_t)t->cfg.n_points : 0) + work_floats * sizeof(float) + acts;
}

/* Refuses up front a plan that cannot fit the device, suggesting a batch
 * that does (drivers may allocate lazily and fail only mid-step). The
 * device's memory bounds the sum, its largest allocation the activations. */
static fmcl_status check_memory(fmcl_trainer *t, size_t work_floats)
{
    const fmcl_device_info *d = &t->ctx->info;
    const int B = t->cfg.batch;
    const uint64_t avail = d->global_mem / 10 * 9; /* leave room for CLBlast and the driver */
    size_t largest, need = train_bytes(t, B, work_floats, &largest);
    t->device_bytes = need;
    if (need > 0 && need <= avail && largest <= d->max_alloc) return FMCL_OK;
    /* The largest batch that fits, by bisection (the per-step work is
     * linear in the batch but for the losses' steps floats). */
    const size_t per_row = work_floats / (size_t)B, fixed_work = work_floats % (size_t)B;
    int lo = 0, hi = B;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        size_t big, n = train_bytes(t, mid, per_row * (size_t)mid + fixed_work, &big);
        if (n > 0 && n <= avail && big <= d->max_alloc) lo = mid;
        else hi = mid;
    }
    const char *what = t->m.kind == FMCL_MODEL_UNET ? "--base or --mult" : "--width or --depth";
    char needs[96];
    if (need > 0)
        snprintf(needs, sizeof needs, "about %.0f MiB (%.0f MiB in one buffer)",
                 need / 1048576.0, largest / 1048576.0);
    else
        snprintf(needs, sizeof needs, "an activation buffer past 2^31 floats");
    if (lo > 0)
        return fmcl_fail(t->ctx, FMCL_ERR_NOMEM,
                         "training with batch %d needs %s but %s has %.0f MiB (largest "
                         "allocation %.0f MiB); a batch of %d fits: use --batch %d or smaller",
                         B, needs, d->device_name, d->global_mem / 1048576.0,
                         d->max_alloc / 1048576.0, lo, lo);
    return fmcl_fail(t->ctx, FMCL_ERR_NOMEM,
                     "the model does not fit %s (%.0f MiB) even with a batch of 1; use a smaller "
                     "%s",
                     d->device_name, d->global_mem / 1048576.0, what);
}

fmcl_status fmcl_trainer_create(fmcl_mlp *mlp, const fmcl_train_config *cfg, fmcl_trainer **out)
{
    fmcl_model m;
    fmcl_model_of_mlp(&m, mlp);
    return fmcl_trainer_create_model(&m, cfg, out);
}

fmcl_status fmcl_trainer_create_model(const fmcl_model *m, const fmcl_train_config *cfg,
                                      fmcl_trainer **out)
{
    fmcl_ctx *ctx = m->ctx;
    *out = NULL;
    fmcl_path path;
    fmcl_status s = check_config(ctx, m, cfg);
    if (s == FMCL_OK) s = fmcl_path_from_config(ctx, cfg, &path);
    if (s != FMCL_OK) return s;
    fmcl_trainer *t = calloc(1, sizeof *t);
    if (!t) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory creating the trainer");
    t->m = *m;
    t->ctx = ctx;
    t->cfg = *cfg;
    t->cfg.points = NULL; /* copied to the device below; the caller's array is not kept */
    t->cfg.pixels = NULL;
    t->cfg.labels = NULL;
    t->path = path;
    t->adam = (fmcl_adam_params){cfg->lr, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay,
                                 cfg->clip, 1};
    int B = cfg->batch, D = m->dim, K = cfg->classes, W = m->in_width - K;
    size_t n = m->n_params, bd = (size_t)B * D;
    size_t parts = fmcl_reduce_partials(bd > n ? bd : n);
    /* Plan the work buffer: x1, X, U, pred, dpred, partials, normsq, losses,
     * and for conditional training y and Xc (empty otherwise). */
    size_t sizes[10] = {bd, (size_t)B * W, bd, bd, bd, parts, 1, (size_t)cfg->steps,
                        K > 0 ? (size_t)B : 0, K > 0 ? (size_t)B * (W + K) : 0};
    fmcl_t *views[10] = {&t->x1, &t->X, &t->U, &t->pred, &t->dpred, &t->partials, &t->normsq,
                         &t->losses, &t->y, &t->Xc};
    size_t off = 0;
    for (int i = 0; i < 10; i++) {
        views[i]->off = off;
        off += sizes[i];
    }
    s = check_memory(t, off);
    if (s == FMCL_OK) s = fmcl_alloc(ctx, off * sizeof(float), &t->work, "training buffers");
    const size_t n_state = (cfg->ema > 0 ? 4 : 3) * n;
    if (s == FMCL_OK)
        s = fmcl_alloc(ctx, n_state * sizeof(float), &t->state, "gradients, Adam moments, EMA");
    if (s == FMCL_OK) s = fmcl_model_acts_create(m, B, &t->acts);
    if (s == FMCL_OK && cfg->coupling == FMCL_COUPLING_OT) s = coupling_alloc(t);
    if (s == FMCL_OK && cfg->kind == FMCL_DATA_ARRAY) {
        size_t bytes = (size_t)cfg->n_points * D * sizeof(float);
        s = fmcl_alloc(ctx, bytes, &t->data, "training data");
        if (s == FMCL_OK) s = fmcl_write(ctx, t->data, cfg->points, bytes);
    }
    if (s == FMCL_OK && cfg->kind == FMCL_DATA_IMAGES) { /* the bytes, dequantised per batch */
        size_t bytes = (size_t)cfg->n_points * D;
        s = fmcl_alloc(ctx, (bytes + 3) / 4 * 4, &t->data, "training images");
        if (s == FMCL_OK) s = fmcl_write(ctx, t->data, cfg->pixels, bytes);
    }
    if (s == FMCL_OK && K > 0) {
        size_t bytes = (size_t)cfg->n_points;
        s = fmcl_alloc(ctx, (bytes + 3) / 4 * 4, &t->labels, "training labels");
        if (s == FMCL_OK) s = fmcl_write(ctx, t->labels, cfg->labels, bytes);
    }
    if (s == FMCL_OK) {
        for (int i = 0; i < 10; i++) *views[i] = fmcl_at(t->work, views[i]->off);
        t->in = K > 0 ? t->Xc : t->X;
        t->grads = t->state;
        t->m1 = fmcl_at(t->state, n);
        t->m2 = fmcl_at(t->state, 2 * n);
        t->ema = fmcl_at(t->state, 3 * n); /* used only when cfg->ema > 0 */
        s = fmcl_fill(ctx, t->state, 0.0f, (int)(3 * n));
        if (s == FMCL_OK && cfg->ema > 0) s = fmcl_copy(ctx, t->ema, m->params, n);
        if (s == FMCL_OK) s = fmcl_fill(ctx, t->work, 0.0f, (int)off);
    }
    if (s == FMCL_OK) s = fmcl_fill(ctx, t->losses, NAN, cfg->steps);
    /* Warm every kernel and GEMM shape of a step on scratch: the first real
     * step is then not charged with compilation. Nothing of the model changes. */
    if (s == FMCL_OK) s = fmcl_model_forward(m, &t->acts, t->pred, t->in, B);
    if (s == FMCL_OK)
        s = fmcl_model_backward(m, &t->acts, t->grads, t->dpred, t->in, (fmcl_t){0}, B);
    if (s == FMCL_OK) s = fmcl_fill(ctx, t->grads, 0.0f, (int)n);
    if (s == FMCL_OK) s = fmcl_finish(ctx);
    if (s != FMCL_OK) {
        fmcl_trainer_free(t);
        return s;
    }
    *out = t;
    return FMCL_OK;
}

void fmcl_trainer_free(fmcl_trainer *t)
{
    if (!t) return;
    fmcl_model_acts_free(&t->acts);
    fmcl_release(&t->state);
    fmcl_release(&t->work);
    fmcl_release(&t->data);
    fmcl_release(&t->labels);
    free(t->h_x0);
    free(t->h_x1);
    free(t->h_x1p);
    free(t->perm);
    free(t->pair_work);
    free(t);
}

int fmcl_trainer_step(const fmcl_trainer *t) { return t->step; }

size_t fmcl_trainer_device_bytes(const fmcl_trainer *t) { return t->device_bytes; }

static fmcl_status one_step(fmcl_trainer *t)
{
    fmcl_ctx *ctx = t->ctx;
    const fmcl_model *m = &t->m;
    const fmcl_train_config *c = &t->cfg;
    int B = c->batch, D = m->dim, n = (int)m->n_params;
    uint32_t k = (uint32_t)t->step;
    fmcl_status s;
    /* Without a coupling, built-in sets and arrays are drawn inside the path
     * kernel (fmcl_path_sample), the same values in one launch fewer. */
    int fused = c->coupling == FMCL_COUPLING_INDEPENDENT && c->kind != FMCL_DATA_IMAGES;
    if (fused)
        s = fmcl_path_sample(ctx, t->X, t->U, c->kind, t->data, c->n_points,
                             &t->path, c->seed, k, B, D, m->time_freqs);
    else if (c->kind == FMCL_DATA_ARRAY)
        s = fmcl_gather_rows(ctx, t->x1, t->data, c->seed, k, c->n_points, D, B);
    else if (c->kind == FMCL_DATA_IMAGES)
        s = fmcl_image_batch(ctx, t->x1, t->data, c->seed, k, c->n_points, c->img_c,
                             c->img_h, c->img_w, c->hflip, B);
    else
        s = fmcl_toy_sample(ctx, t->x1, c->kind, c->seed, k, B);
    if (s == FMCL_OK && !fused && c->coupling == FMCL_COUPLING_OT) s = couple(t, k);
    if (s == FMCL_OK && !fused)
        s = fmcl_path_interp(ctx, t->X, t->U, t->x1, &t->path, c->seed, k, B, D,
                             m->time_freqs);
    if (s == FMCL_OK && c->classes > 0)
        s = fmcl_label_batch(ctx, t->y, t->labels, c->seed, k, c->n_points,
                             c->label_drop, B);
    if (s == FMCL_OK && c->classes > 0)
        s = fmcl_class_concat(ctx, t->Xc, t->X, t->y, m->in_width - c->classes, c->classes, B, B);
    /* The U-Net's dropout masks: drawn from (seed, k) inside its kernels. */
    t->acts.unet.mode = (fmcl_unet_mode){1, c->seed, k};
    if (s == FMCL_OK) s = fmcl_model_forward(m, &t->acts, t->pred, t->in, B);
    if (s == FMCL_OK)
        s = fmcl_mse_forward_backward(ctx, t->dpred, fmcl_at(t->losses, k), t->pred, t->U,
                                      t->partials, B * D);
    /* grads are zero here: cleared at creation, then by each Adam step. */
    if (s == FMCL_OK)
        s = fmcl_model_backward(m, &t->acts, t->grads, t->dpred, t->in, (fmcl_t){0}, B);
    if (s == FMCL_OK && c->clip > 0) s = fmcl_sumsq(ctx, t->normsq, t->grads, t->partials, n);
    t->adam.lr = (float)fmcl_train_lr(c, t->step + 1);
    if (s == FMCL_OK)
        s = fmcl_adam_step(ctx, m->params, t->grads, t->m1, t->m2, t->normsq,
                           &t->adam, t->step + 1, n);
    if (s == FMCL_OK && c->ema > 0)
        s = fmcl_ema_update(ctx, t->ema, m->params,
                            fmcl_ema_decay(c->ema, t->step + 1), n);
    return s;
}

fmcl_status fmcl_trainer_run(fmcl_trainer *t, int n)
{
    if (n < 0 || n > t->cfg.steps - t->step)
        return fmcl_fail(t->ctx, FMCL_ERR_ARG,
                         "cannot run %d steps: the trainer was planned for %d and has done %d", n,
                         t->cfg.steps, t->step);
    for (int i = 0; i < n; i++) {
        fmcl_status s = one_step(t);
        if (s == FMCL_OK && ++t->step % PACE_STEPS == 0) s = fmcl_pace(t->ctx);
        if (s != FMCL_OK) return s;
    }
    return FMCL_OK;
}

fmcl_status fmcl_trainer_losses(fmcl_trainer *t, int first, int n, float *out)
{
    if (first < 0 || n < 0 || first + n > t->step)
        return fmcl_fail(t->ctx, FMCL_ERR_ARG, "losses [%d, %d) asked but %d steps done", first,
                         first + n, t->step);
    fmcl_status s = fmcl_read(t->ctx, fmcl_at(t->losses, (size_t)first), out, (size_t)n * 4);
    for (int i = 0; s == FMCL_OK && i < n; i++)
        if (!isfinite(out[i]))
            s = fmcl_fail(t->ctx, FMCL_ERR_NUMERIC,
                          "the loss became %g at step %d; lower --lr or set --clip", out[i],
                          first + i + 1);
    return s;
}
