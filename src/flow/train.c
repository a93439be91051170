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
 * assignment runs on the host (train_ot.c: x1 is read back, reordered and
 * written), and in a group of ranks, which sums the gradients and the loss
 * on the host after the backward pass (flow/exchange.h).
 * Data-parallel: each rank computes the rows [row0, row0 + rows) of the
 * batch, every draw keyed by the example's index in the whole batch, and
 * its loss and gradients divided by the whole batch's size, so the sums
 * over the ranks are the one-process values up to the order of additions.
 * Per-step losses stay on the device until fmcl_trainer_losses reads them at
 * a logging point. Every random draw of step k comes from Philox counters
 * (seed, k), so the step number is the whole state of the data stream
 * (checkpoint.c relies on it to resume). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/images.h"
#include "data/source.h"
#include "data/toy2d.h"
#include "dist/backend.h"
#include "flow/classes.h"
#include "flow/flow_ops.h"
#include "flow/paths.h"
#include "flow/trainer.h"
#include "nn/nn_ops.h"
#include "runtime/vec.h"

void fmcl_train_config_default(fmcl_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->batch = 4096;
    c->steps = 1000;
    c->lr = 1e-3f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
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

/* What a run of model on d trains on (fmcl_train_data), and whether the two
 * fit each other and c. */
static fmcl_status check_run(const fmcl_model *model, const fmcl_data *d,
                             const fmcl_train_config *c, fmcl_train_data *td)
{
    fmcl_ctx *ctx = model->ctx;
    const fmcl_net *m = &model->net;
    *td = (fmcl_train_data){
        .kind = fmcl_data_source_kind(d), .n_points = d->n, .classes = m->classes};
    if (d->kind == FMCL_DATA_IMAGES) td->img_c = d->im.c, td->img_h = d->im.h, td->img_w = d->im.w;
    char err[256];
    if (fmcl_train_config_check(c, td, err, sizeof err) != FMCL_OK)
        return fmcl_fail(ctx, FMCL_ERR_ARG, "invalid training configuration: %s", err);
    if (d->dim != m->dim)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "%s has %d floats per example but the model's dim is %d", d->spec, d->dim,
                         m->dim);
    if (m->kind == FMCL_MODEL_UNET &&
        (d->kind != FMCL_DATA_IMAGES || d->im.c != m->unet->cfg.channels ||
         d->im.h != m->unet->cfg.height || d->im.w != m->unet->cfg.width))
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "the U-Net needs image data of its channels, height and width (%d x %d "
                         "x %d); %s is %s",
                         m->unet->cfg.channels, m->unet->cfg.height, m->unet->cfg.width, d->spec,
                         d->kind == FMCL_DATA_IMAGES ? "of another shape" : "no image set");
    if (m->classes > 0 && !d->im.labels)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "a conditional model trains on an image set with labels; %s has none",
                         d->spec);
    for (int i = 0; m->classes > 0 && i < d->n; i++)
        if (d->im.labels[i] >= m->classes)
            return fmcl_fail(ctx, FMCL_ERR_ARG,
                             "invalid training configuration: image %d has label %d but the "
                             "model has %d classes; give the model at least %d",
                             i, d->im.labels[i], m->classes, d->im.labels[i] + 1);
    if (c->coupling == FMCL_COUPLING_OT && c->batch > FMCL_COUPLING_MAX_BATCH)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "the OT coupling solves an exact assignment of cost O(batch^3) on the "
                         "host every step: batch %d would take seconds per step; a batch of at "
                         "most %d, or the independent coupling, is needed",
                         c->batch, FMCL_COUPLING_MAX_BATCH);
    return FMCL_OK;
}

/* Device bytes of training with batch B: the parameters and their state,
 * the data, the per-step tensors (work_floats at B) and the activations; 0
 * when the activations cannot be planned for B at all. */
static size_t train_bytes(const fmcl_trainer *t, int B, size_t work_floats, size_t *largest)
{
    const fmcl_net *m = &t->m;
    size_t acts = fmcl_net_acts_bytes(m, B);
    *largest = fmcl_net_acts_largest(m, B);
    if (acts == 0) return 0;
    const fmcl_train_data *d = &t->data_of;
    return (t->cfg.ema > 0 ? 5 : 4) * m->n_params * sizeof(float) +
           (size_t)d->n_points * m->dim * (d->kind == FMCL_KIND_IMAGES ? 1 : sizeof(float)) +
           (d->classes > 0 ? (size_t)d->n_points : 0) + work_floats * sizeof(float) + acts;
}

/* Refuses up front a plan that cannot fit the device, suggesting a batch
 * that does (drivers may allocate lazily and fail only mid-step). The
 * device's memory bounds the sum, its largest allocation the activations. */
static fmcl_status check_memory(fmcl_trainer *t, size_t work_floats)
{
    const fmcl_device_info *d = &t->ctx->info;
    const int B = t->rows;
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
        if (n > 0 && n <= avail && big <= d->max_alloc)
            lo = mid;
        else
            hi = mid;
    }
    const char *what = t->m.kind == FMCL_MODEL_UNET ? "base or mult" : "width or depth";
    char needs[96];
    if (need > 0)
        snprintf(needs, sizeof needs, "about %.0f MiB (%.0f MiB in one buffer)", need / 1048576.0,
                 largest / 1048576.0);
    else
        snprintf(needs, sizeof needs, "an activation buffer past 2^31 floats");
    const int N = fmcl_group_size(t->group);
    if (lo > 0 && N > 1)
        return fmcl_fail(t->ctx, FMCL_ERR_NOMEM,
                         "training a share of %d examples (batch %d over %d ranks) needs %s but "
                         "%s has %.0f MiB (largest allocation %.0f MiB); a batch of %d fits (%d "
                         "per rank)",
                         B, t->cfg.batch, N, needs, d->device_name, d->global_mem / 1048576.0,
                         d->max_alloc / 1048576.0, lo * N, lo);
    if (lo > 0)
        return fmcl_fail(t->ctx, FMCL_ERR_NOMEM,
                         "training with batch %d needs %s but %s has %.0f MiB (largest "
                         "allocation %.0f MiB); a batch of %d fits",
                         B, needs, d->device_name, d->global_mem / 1048576.0,
                         d->max_alloc / 1048576.0, lo);
    return fmcl_fail(t->ctx, FMCL_ERR_NOMEM,
                     "the model does not fit %s (%.0f MiB) even with a batch of 1; it needs a "
                     "smaller %s",
                     d->device_name, d->global_mem / 1048576.0, what);
}

/* The metadata a sampler and a likelihood need of a model trained on d:
 * the data set, the library's version, the path, the images' shape. */
static fmcl_status record(fmcl_model *m, const fmcl_data *d, const fmcl_train_config *c)
{
    fmcl_status s = fmcl_meta_set(&m->meta, "data", d->spec);
    if (s == FMCL_OK) s = fmcl_meta_set(&m->meta, "fmcl_version", FMCL_VERSION);
    if (s == FMCL_OK) s = fmcl_train_record_path(m, c);
    if (s == FMCL_OK && d->kind == FMCL_DATA_IMAGES) {
        char num[3][16]; /* fmcl_meta_set copies the values */
        snprintf(num[0], sizeof num[0], "%d", d->im.c);
        snprintf(num[1], sizeof num[1], "%d", d->im.h);
        snprintf(num[2], sizeof num[2], "%d", d->im.w);
        const char *kv[] = {
            "image_channels", num[0],
            "image_height",   num[1],
            "image_width",    num[2],
            "pixel_bits",     "8",
            "pixel_scaling",  "x = 2 (k + u) / 256 - 1, u ~ U[0, 1) per pixel and batch"};
        for (size_t i = 0; s == FMCL_OK && i < sizeof kv / sizeof *kv; i += 2)
            s = fmcl_meta_set(&m->meta, kv[i], kv[i + 1]);
    }
    return s == FMCL_OK ? FMCL_OK
                        : fmcl_fail(m->ctx, FMCL_ERR_NOMEM, "out of host memory for metadata");
}

/* This rank's trainer, or a failure of this rank alone (fmcl_trainer_create_group
 * then shares it with the group). */
static fmcl_status create_local(fmcl_model *model, fmcl_data *d, const fmcl_train_config *cfg,
                                fmcl_group *g, fmcl_trainer **out)
{
    fmcl_ctx *ctx = model->ctx;
    const fmcl_net *m = &model->net;
    *out = NULL;
    fmcl_path path;
    fmcl_train_data td;
    fmcl_status s = check_run(model, d, cfg, &td);
    if (s == FMCL_OK) s = fmcl_path_from_config(ctx, cfg, &path);
    if (s == FMCL_OK && cfg->batch < fmcl_group_size(g))
        s = fmcl_fail(ctx, FMCL_ERR_ARG,
                      "a batch of %d cannot be shared by %d ranks: each needs at least one "
                      "example; a batch of at least %d is needed",
                      cfg->batch, fmcl_group_size(g), fmcl_group_size(g));
    if (s != FMCL_OK) return s;
    fmcl_trainer *t = calloc(1, sizeof *t);
    if (!t) return fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory creating the trainer");
    *out = t;
    t->model = model;
    t->m = *m;
    t->ctx = ctx;
    t->group = g;
    size_t lo, hi;
    fmcl_group_chunk((size_t)cfg->batch, fmcl_group_size(g), fmcl_group_rank(g), &lo, &hi);
    t->row0 = (int)lo;
    t->rows = (int)(hi - lo);
    t->check_every = FMCL_TRAINER_CHECK_EVERY;
    t->cfg = *cfg;
    t->data_of = td;
    t->path = path;
    t->adam = (fmcl_adam_params){cfg->lr,           cfg->beta1, cfg->beta2, cfg->eps,
                                 cfg->weight_decay, cfg->clip,  1};
    int B = t->rows, D = m->dim, K = td.classes, W = m->in_width - K;
    size_t n = m->n_params, bd = (size_t)B * D;
    size_t parts = fmcl_reduce_partials(bd > n ? bd : n);
    /* Plan the work buffer: x1, X, U, pred, dpred, partials, normsq, losses,
     * and for conditional training y and Xc (empty otherwise). */
    const size_t sizes[10] = {bd,
                              (size_t)B * W,
                              bd,
                              bd,
                              bd,
                              parts,
                              1,
                              (size_t)cfg->steps,
                              K > 0 ? (size_t)B : 0,
                              K > 0 ? (size_t)B * (W + K) : 0};
    fmcl_t *views[10] = {&t->x1,       &t->X,      &t->U,      &t->pred, &t->dpred,
                         &t->partials, &t->normsq, &t->losses, &t->y,    &t->Xc};
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
    if (s == FMCL_OK) s = fmcl_net_acts_create(m, B, &t->acts);
    if (s == FMCL_OK && cfg->coupling == FMCL_COUPLING_OT) s = fmcl_train_ot_alloc(t);
    if (s == FMCL_OK) s = fmcl_exchange_init(ctx, &t->xch, g, n);
    if (s == FMCL_OK && d->kind == FMCL_DATA_POINTS) {
        size_t bytes = (size_t)d->n * D * sizeof(float);
        s = fmcl_alloc(ctx, bytes, &t->data, "training data");
        if (s == FMCL_OK) s = fmcl_write(ctx, t->data, d->points, bytes);
    }
    if (s == FMCL_OK && d->kind == FMCL_DATA_IMAGES) { /* the bytes, dequantised per batch */
        size_t bytes = (size_t)d->n * D;
        s = fmcl_alloc(ctx, (bytes + 3) / 4 * 4, &t->data, "training images");
        if (s == FMCL_OK) s = fmcl_write(ctx, t->data, d->im.pixels, bytes);
    }
    if (s == FMCL_OK && K > 0) {
        size_t bytes = (size_t)d->n;
        s = fmcl_alloc(ctx, (bytes + 3) / 4 * 4, &t->labels, "training labels");
        if (s == FMCL_OK) s = fmcl_write(ctx, t->labels, d->im.labels, bytes);
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
    if (s == FMCL_OK) s = fmcl_net_forward(m, &t->acts, t->pred, t->in, B);
    if (s == FMCL_OK) s = fmcl_net_backward(m, &t->acts, t->grads, t->dpred, t->in, (fmcl_t){0}, B);
    if (s == FMCL_OK) s = fmcl_fill(ctx, t->grads, 0.0f, (int)n);
    if (s == FMCL_OK) s = fmcl_finish(ctx);
    if (s == FMCL_OK) s = record(model, d, cfg);
    return s;
}

/* A checksum of what every rank must share: the settings that decide the
 * numbers, the model's size and its initial (or restored) weights. */
static fmcl_status same_run(fmcl_trainer *t, const char *what)
{
    const fmcl_train_config *c = &t->cfg;
    const double fields[] = {c->batch,
                             c->steps,
                             c->lr,
                             c->beta1,
                             c->beta2,
                             c->eps,
                             c->weight_decay,
                             c->clip,
                             c->path,
                             c->sigma_min,
                             c->poly_n,
                             c->beta_min,
                             c->beta_max,
                             c->sigma_lo,
                             c->sigma_hi,
                             c->coupling,
                             (double)c->seed,
                             c->hflip,
                             c->label_drop,
                             c->ema,
                             c->warmup,
                             c->lr_schedule,
                             (double)t->m.n_params,
                             t->step,
                             t->data_of.kind,
                             t->data_of.n_points};
    uint64_t h = fmcl_fnv1a(fields, sizeof fields, FMCL_FNV1A_INIT), w = 0;
    const size_t n = t->m.n_params;
    float *host = malloc(n * sizeof *host);
    fmcl_status s = host ? fmcl_weights_checksum(t->ctx, t->m.params, n, host, &w)
                         : fmcl_fail(t->ctx, FMCL_ERR_NOMEM, "out of host memory");
    free(host);
    s = fmcl_group_agree(t->group, s, s != FMCL_OK ? fmcl_ctx_error(t->ctx) : NULL);
    if (s == FMCL_OK) s = fmcl_group_same(t->group, h ^ w, what);
    return s == FMCL_OK ? FMCL_OK : fmcl_fail(t->ctx, s, "%s", fmcl_group_error(t->group));
}

fmcl_status fmcl_trainer_agree(fmcl_trainer *t, fmcl_status mine)
{
    fmcl_group *g = t->group;
    if (fmcl_group_size(g) == 1) return mine;
    fmcl_status s = fmcl_group_agree(g, mine, mine != FMCL_OK ? fmcl_ctx_error(t->ctx) : NULL);
    if (s != FMCL_OK) return fmcl_fail(t->ctx, s, "%s", fmcl_group_error(g));
    return same_run(t, "the checksum of the training settings, the step and the weights");
}

fmcl_status fmcl_trainer_create_group(fmcl_model *m, fmcl_data *d, const fmcl_train_config *cfg,
                                      fmcl_group *g, fmcl_trainer **out)
{
    *out = NULL;
    fmcl_trainer *t = NULL;
    fmcl_status s = create_local(m, d, cfg, g, &t);
    if (fmcl_group_size(g) > 1) {
        /* Every rank reaches this point, whatever failed on it. */
        fmcl_status all = fmcl_group_agree(g, s, s != FMCL_OK ? fmcl_ctx_error(m->ctx) : NULL);
        if (all != FMCL_OK)
            s = fmcl_fail(m->ctx, all, "%s", fmcl_group_error(g));
        else
            s = same_run(t, "the checksum of the training settings and the initial weights");
    }
    if (s != FMCL_OK) {
        fmcl_trainer_free(t);
        return s;
    }
    *out = t;
    return FMCL_OK;
}

fmcl_status fmcl_trainer_create(fmcl_model *m, fmcl_data *d, const fmcl_train_config *cfg,
                                fmcl_trainer **out)
{
    return fmcl_trainer_create_group(m, d, cfg, NULL, out);
}

void fmcl_trainer_free(fmcl_trainer *t)
{
    if (!t) return;
    fmcl_net_acts_free(&t->acts);
    fmcl_release(&t->state);
    fmcl_release(&t->work);
    fmcl_release(&t->data);
    fmcl_release(&t->labels);
    fmcl_train_ot_free(t);
    fmcl_exchange_free(&t->xch);
    free(t);
}

int fmcl_trainer_step(const fmcl_trainer *t) { return t->step; }

size_t fmcl_trainer_device_bytes(const fmcl_trainer *t) { return t->device_bytes; }

/* Step k's forward and backward over this rank's share of the batch, then
 * the gradients' and the loss's sums over the group (which every rank
 * reaches, failed or not: *told is then set, the group knows the outcome),
 * then the same update on every rank. */
static fmcl_status one_step(fmcl_trainer *t, int *told)
{
    fmcl_ctx *ctx = t->ctx;
    const fmcl_net *m = &t->m;
    const fmcl_train_config *c = &t->cfg;
    const fmcl_train_data *d = &t->data_of;
    const int B = t->rows, r0 = t->row0, D = m->dim, n = (int)m->n_params;
    uint32_t k = (uint32_t)t->step;
    fmcl_status s;
    *told = 0;
    /* Without a coupling, built-in sets and arrays are drawn inside the path
     * kernel (fmcl_path_sample), the same values in one launch fewer. */
    int fused = c->coupling == FMCL_COUPLING_INDEPENDENT && d->kind != FMCL_KIND_IMAGES;
    if (fused)
        s = fmcl_path_sample_at(ctx, t->X, t->U, d->kind, t->data, d->n_points, &t->path, c->seed,
                                k, r0, B, D, m->time_freqs);
    else if (d->kind == FMCL_KIND_ARRAY)
        s = fmcl_gather_rows_at(ctx, t->x1, t->data, c->seed, k, r0, d->n_points, D, B);
    else if (d->kind == FMCL_KIND_IMAGES)
        s = fmcl_image_batch_at(ctx, t->x1, t->data, c->seed, k, r0, d->n_points, d->img_c,
                                d->img_h, d->img_w, c->hflip, B);
    else
        s = fmcl_toy_sample_at(ctx, t->x1, d->kind, c->seed, k, r0, B);
    if (s == FMCL_OK && d->classes > 0)
        s = fmcl_label_batch_at(ctx, t->y, t->labels, c->seed, k, r0, d->n_points, c->label_drop,
                                B);
    /* The coupling reorders x1 and y together, gathering the whole batch. */
    if (!fused && c->coupling == FMCL_COUPLING_OT) {
        s = fmcl_train_couple(t, k, s);
        if (s != FMCL_OK) {
            *told = 1;
            return s;
        }
    }
    if (s == FMCL_OK && !fused)
        s = fmcl_path_interp_at(ctx, t->X, t->U, t->x1, &t->path, c->seed, k, r0, B, D,
                                m->time_freqs);
    if (s == FMCL_OK && d->classes > 0)
        s = fmcl_class_concat(ctx, t->Xc, t->X, t->y, m->in_width - d->classes, d->classes, B, B);
    /* The U-Net's dropout masks: drawn from (seed, k) and each row's index
     * in the whole batch inside its kernels. */
    t->acts.unet.mode = (fmcl_unet_mode){1, c->seed, k, r0};
    if (s == FMCL_OK) s = fmcl_net_forward(m, &t->acts, t->pred, t->in, B);
    if (s == FMCL_OK)
        s = fmcl_mse_share(ctx, t->dpred, fmcl_at(t->losses, k), t->pred, t->U, t->partials, B * D,
                           c->batch * D);
    /* grads are zero here: cleared at creation, then by each Adam step. */
    if (s == FMCL_OK) s = fmcl_net_backward(m, &t->acts, t->grads, t->dpred, t->in, (fmcl_t){0}, B);
    if (fmcl_group_size(t->group) > 1) {
        s = fmcl_exchange_step(ctx, &t->xch, t->grads, fmcl_at(t->losses, k), s, NULL);
        *told = s != FMCL_OK;
    }
    if (s == FMCL_OK && c->clip > 0) s = fmcl_sumsq(ctx, t->normsq, t->grads, t->partials, n);
    t->adam.lr = (float)fmcl_train_lr(c, t->step + 1);
    if (s == FMCL_OK)
        s = fmcl_adam_step(ctx, m->params, t->grads, t->m1, t->m2, t->normsq, &t->adam, t->step + 1,
                           n);
    if (s == FMCL_OK && c->ema > 0)
        s = fmcl_ema_update(ctx, t->ema, m->params, fmcl_ema_decay(c->ema, t->step + 1), n);
    return s;
}

fmcl_status fmcl_trainer_run(fmcl_trainer *t, int n)
{
    t->failure_local = 0;
    if (n < 0 || n > t->cfg.steps - t->step)
        return fmcl_fail(t->ctx, FMCL_ERR_ARG,
                         "cannot run %d steps: the trainer was planned for %d and has done %d", n,
                         t->cfg.steps, t->step);
    for (int i = 0; i < n; i++) {
        int told = 0;
        fmcl_status s = one_step(t, &told);
        if (s == FMCL_OK && ++t->step % PACE_STEPS == 0) s = fmcl_pace(t->ctx);
        if (s == FMCL_OK && fmcl_group_size(t->group) > 1 && t->check_every > 0 &&
            t->step % t->check_every == 0) {
            told = 1; /* a rank that cannot read its weights gives a checksum that differs */
            s = fmcl_exchange_check_weights(t->ctx, &t->xch, t->m.params, t->step);
        }
        if (s != FMCL_OK) {
            t->failure_local = !told && fmcl_group_size(t->group) > 1;
            return s;
        }
    }
    return FMCL_OK;
}

int fmcl_trainer_failure_shared(const fmcl_trainer *t) { return !t->failure_local; }

void fmcl_trainer_set_check_every(fmcl_trainer *t, int steps)
{
    t->check_every = steps > 0 ? steps : 0;
}

void fmcl_trainer_share(const fmcl_trainer *t, int *row0, int *rows)
{
    *row0 = t->row0;
    *rows = t->rows;
}

void fmcl_trainer_exchange_stats(const fmcl_trainer *t, fmcl_exchange_stats *out)
{
    const fmcl_exchange *x = &t->xch;
    *out = (fmcl_exchange_stats){x->count, x->wait_seconds, x->seconds, x->sum_seconds,
                                 (double)x->floats * sizeof(float)};
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
                          "the loss became %g at step %d: training diverged (a lower learning "
                          "rate or gradient clipping may help)",
                          out[i], first + i + 1);
    return s;
}
