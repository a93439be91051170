/* Training checkpoints that resume exactly: one safetensors file with the
 * model, its EMA, Adam's moments and the losses so far under PyTorch-style
 * names (the model's state_dict names, then "ema.", "optim.exp_avg.",
 * "optim.exp_avg_sq." + name and "train.loss"), and in __metadata__ the step
 * and every setting that decides the numbers. The data stream needs no state
 * of its own: step k draws from Philox counters (seed, k) (train.c). */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/toy2d.h"
#include "flow/trainer.h"
#include "io/atomic.h"
#include "io/settings.h"

/* The four parameter-layout buffers of a checkpoint, in file order. */
enum { BUF_MODEL, BUF_EMA, BUF_M1, BUF_M2, N_BUFS };
static const char *const prefixes[N_BUFS] = {"", "ema.", "optim.exp_avg.", "optim.exp_avg_sq."};
#define LOSS_NAME "train.loss"

/* ---- the training config as metadata -------------------------------------- */

/* Where a key's value lives: a field of fmcl_train_config checked and written
 * by the settings table (fmcl_settings: an int, float, uint64 or enum by
 * name), or an int of fmcl_train_data (the data's kind by name). */
typedef enum { K_SETTING, K_DATA, K_KIND } key_type;

typedef struct {
    const char *key;
    key_type type;
    size_t off;
    int path; /* >= 0: written only for this path */
    int when; /* 0: always written; 1: for image data only; 2: for class-conditional
                 training only */
} key_spec;

#define F(field) K_SETTING, offsetof(fmcl_train_config, field)
#define D(field) K_DATA, offsetof(fmcl_train_data, field)
static const key_spec keys[] = {
    {"data_kind", K_KIND, offsetof(fmcl_train_data, kind), -1, 0},
    {"n_points", D(n_points), -1, 0},
    {"img_c", D(img_c), -1, 1},
    {"img_h", D(img_h), -1, 1},
    {"img_w", D(img_w), -1, 1},
    {"hflip", F(hflip), -1, 1},
    {"label_drop", F(label_drop), -1, 2},
    {"batch", F(batch), -1, 0},
    {"steps", F(steps), -1, 0},
    {"lr", F(lr), -1, 0},
    {"warmup", F(warmup), -1, 0},
    {"lr_schedule", F(lr_schedule), -1, 0},
    {"beta1", F(beta1), -1, 0},
    {"beta2", F(beta2), -1, 0},
    {"eps", F(eps), -1, 0},
    {"weight_decay", F(weight_decay), -1, 0},
    {"clip", F(clip), -1, 0},
    {"ema", F(ema), -1, 0},
    {"seed", F(seed), -1, 0},
    {"path", F(path), -1, 0},
    {"coupling", F(coupling), -1, 0},
    {"sigma_min", F(sigma_min), FMCL_PATH_OT, 0},
    {"beta_min", F(beta_min), FMCL_PATH_VP, 0},
    {"beta_max", F(beta_max), FMCL_PATH_VP, 0},
    {"sigma_lo", F(sigma_lo), FMCL_PATH_VE, 0},
    {"sigma_hi", F(sigma_hi), FMCL_PATH_VE, 0},
    {"poly_n", F(poly_n), FMCL_PATH_POLY, 0},
};
#undef D
#undef F
#define N_KEYS (sizeof keys / sizeof keys[0])
#define TEXT_LEN 32

static int key_applies(const key_spec *k, const fmcl_train_config *c, const fmcl_train_data *d)
{
    return (k->path < 0 || k->path == (int)c->path) &&
           (k->when != 1 || d->kind == FMCL_KIND_IMAGES) && (k->when != 2 || d->classes > 0);
}

static const fmcl_setting *setting_of(const key_spec *k)
{
    return k->type == K_SETTING ? fmcl_setting_find(FMCL_SCOPE_TRAIN, k->key) : NULL;
}

/* The key's field, in c or d. */
static void *field(const key_spec *k, const fmcl_train_config *c, const fmcl_train_data *d)
{
    return (char *)(k->type == K_SETTING ? (const void *)c : (const void *)d) + k->off;
}

/* The field as a double (a uint64 seed rounded: only its type is checked). */
static double key_value(const key_spec *k, const fmcl_train_config *c, const fmcl_train_data *d)
{
    const void *p = field(k, c, d);
    const fmcl_setting *st = setting_of(k);
    if (st && st->type == FMCL_SETTING_REAL) return *(const float *)p;
    if (st && st->type == FMCL_SETTING_U64) return (double)*(const uint64_t *)p;
    return *(const int *)p;
}

fmcl_status fmcl_train_config_check(const fmcl_train_config *c, const fmcl_train_data *d, char *err,
                                    size_t errlen)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const fmcl_setting *st = setting_of(&keys[i]);
        fmcl_status s = st && key_applies(&keys[i], c, d)
                            ? fmcl_setting_check(st, key_value(&keys[i], c, d), err, errlen)
                            : FMCL_OK;
        if (s != FMCL_OK) return s;
    }
    return FMCL_OK;
}

/* The shortest decimal that reads back as the same float. */
static void float_text(char *buf, float v)
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, TEXT_LEN, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
}

static void key_text(const key_spec *k, const fmcl_train_config *c, const fmcl_train_data *d,
                     char *buf)
{
    const void *p = field(k, c, d);
    const fmcl_setting *st = setting_of(k);
    const double v = key_value(k, c, d);
    if (k->type == K_KIND)
        snprintf(buf, TEXT_LEN, "%s", fmcl_kind_name((int)v));
    else if (st && st->type == FMCL_SETTING_NAME)
        snprintf(buf, TEXT_LEN, "%s", fmcl_name(st->names, (int)v));
    else if (st && st->type == FMCL_SETTING_REAL)
        float_text(buf, *(const float *)p);
    else if (st && st->type == FMCL_SETTING_U64)
        snprintf(buf, TEXT_LEN, "%" PRIu64, *(const uint64_t *)p);
    else
        snprintf(buf, TEXT_LEN, "%d", (int)v);
}

/* Parses one value into c or d; 0 when it is not a valid value of its key. */
static int key_parse(const key_spec *k, const char *v, fmcl_train_config *c, fmcl_train_data *d)
{
    void *p = field(k, c, d);
    const fmcl_setting *st = setting_of(k);
    char *end;
    double x;
    if (!*v) return 0;
    if (st && st->type == FMCL_SETTING_REAL) { /* as written: the float nearest the text */
        float f = strtof(v, &end);
        if (*end || fmcl_setting_check(st, f, NULL, 0) != FMCL_OK) return 0;
        memcpy(p, &f, sizeof f);
        return 1;
    }
    if (st && st->type == FMCL_SETTING_U64) {
        if (*v == '-') return 0;
        uint64_t u = strtoull(v, &end, 10);
        if (*end) return 0;
        memcpy(p, &u, sizeof u);
        return 1;
    }
    if (st && fmcl_setting_read(st, v, &x, NULL, 0) != FMCL_OK) return 0;
    if (k->type == K_KIND) x = fmcl_kind_of_name(v);
    if (k->type == K_DATA) {
        long n = strtol(v, &end, 10);
        if (*end || n < 0 || n > INT32_MAX) return 0;
        x = (double)n;
    }
    if (x < 0) return 0;
    int i = (int)x;
    memcpy(p, &i, sizeof i);
    return 1;
}

/* The training config, data and step f records (c over the defaults);
 * FMCL_ERR_FORMAT naming the first key that is missing or invalid. */
static fmcl_status read_run(const fmcl_st_file *f, const char *path, fmcl_train_config *c,
                            fmcl_train_data *d, int *step, char *err, size_t errlen)
{
    fmcl_train_config_default(c);
    memset(d, 0, sizeof *d);
    const char *bad = NULL, *st = fmcl_st_meta(f, "step");
    char *end;
    long k = st ? strtol(st, &end, 10) : -1;
    if (!st || !*st || *end || k < 0 || k > INT32_MAX) bad = "step";
    /* The model's "classes" (present for conditional models only) decides
     * whether the label keys must be there. */
    double K = 0;
    const char *cls = fmcl_st_meta(f, "classes");
    if (!bad && cls &&
        (fmcl_setting_read(fmcl_setting_find(FMCL_SCOPE_MODEL, "classes"), cls, &K, NULL, 0) !=
             FMCL_OK ||
         K < 1))
        bad = "classes";
    d->classes = (int)K;
    /* The path and the data kind first: they decide which keys must be there. */
    for (int pass = 0; pass < 2 && !bad; pass++)
        for (size_t i = 0; i < N_KEYS && !bad; i++) {
            int first = strcmp(keys[i].key, "path") == 0 || keys[i].type == K_KIND;
            if (first != (pass == 0) || !key_applies(&keys[i], c, d)) continue;
            const char *v = fmcl_st_meta(f, keys[i].key);
            if (!v || !key_parse(&keys[i], v, c, d)) bad = keys[i].key;
        }
    if (bad)
        return fmcl_errf(err, errlen, FMCL_ERR_FORMAT,
                         "%s: metadata '%s' is %s; this is not a training checkpoint (those of "
                         "fmcl_trainer_save record the step and every setting)",
                         path, bad, fmcl_st_meta(f, bad) ? "not a valid value" : "missing");
    if (step) *step = (int)k;
    return FMCL_OK;
}

fmcl_status fmcl_train_config_from_checkpoint(const char *path, fmcl_train_config *cfg, int *step,
                                              char *err, size_t errlen)
{
    fmcl_st_file f;
    fmcl_train_data d;
    fmcl_status s = fmcl_st_read(path, &f, err, errlen);
    if (s != FMCL_OK) return s;
    s = read_run(&f, path, cfg, &d, step, err, errlen);
    fmcl_st_free(&f);
    return s;
}

fmcl_status fmcl_train_record_path(fmcl_model *m, const fmcl_train_config *c)
{
    const fmcl_train_data none = {0};
    char text[TEXT_LEN];
    for (size_t i = 0; i < N_KEYS; i++) {
        if (keys[i].path < 0 && strcmp(keys[i].key, "path") != 0) continue;
        if (!key_applies(&keys[i], c, &none)) continue;
        key_text(&keys[i], c, &none, text);
        if (fmcl_meta_set(&m->meta, keys[i].key, text) != FMCL_OK) return FMCL_ERR_NOMEM;
    }
    return FMCL_OK;
}

/* ---- save ------------------------------------------------------------------ */

fmcl_status fmcl_trainer_save(fmcl_trainer *t, const char *path)
{
    fmcl_ctx *ctx = t->ctx;
    const fmcl_net *m = &t->m;
    const size_t n = m->n_params, per = (size_t)fmcl_net_tensor_count(m);
    const int bufs = t->cfg.ema > 0 ? N_BUFS : N_BUFS - 1;
    const size_t n_kv = FMCL_NET_META_PAIRS + N_KEYS + 1 + (size_t)t->model->meta.count;
    float *host = malloc((N_BUFS * n + (size_t)t->step + 1) * sizeof *host);
    fmcl_st_tensor *tens = calloc(N_BUFS * per + 1, sizeof *tens);
    char(*names)[FMCL_NET_NAME_LEN] = calloc(N_BUFS * per, FMCL_NET_NAME_LEN);
    const char **kv = calloc(2 * n_kv, sizeof *kv);
    char(*text)[TEXT_LEN] = calloc(N_KEYS + 1, TEXT_LEN);
    fmcl_status s = FMCL_OK;
    if (!host || !tens || !names || !kv || !text)
        s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory saving %s", path);
    const fmcl_t src[N_BUFS] = {m->params, t->ema, t->m1, t->m2};
    size_t nt = 0;
    for (int b = 0; b < N_BUFS && s == FMCL_OK; b++) {
        if (b == BUF_EMA && bufs < N_BUFS) continue;
        s = fmcl_read(ctx, src[b], host + b * n, n * sizeof *host);
        fmcl_net_st_tensors(m, prefixes[b], host + b * n, tens + nt, names + nt);
        nt += per;
    }
    float *loss = host + N_BUFS * n;
    if (s == FMCL_OK && t->step > 0)
        s = fmcl_read(ctx, t->losses, loss, (size_t)t->step * sizeof *loss);
    if (s == FMCL_OK) {
        tens[nt++] = (fmcl_st_tensor){.name = LOSS_NAME,
                                      .dtype = FMCL_ST_F32,
                                      .ndim = 1,
                                      .shape = {t->step},
                                      .data = loss,
                                      .nbytes = (size_t)t->step * sizeof *loss};
        char mbuf[FMCL_NET_META_PAIRS - 1][FMCL_NET_META_TEXT], err[512];
        int pairs = fmcl_net_meta_kv(m, mbuf, kv);
        for (size_t i = 0; i < N_KEYS; i++) {
            if (!key_applies(&keys[i], &t->cfg, &t->data_of)) continue;
            key_text(&keys[i], &t->cfg, &t->data_of, text[i]);
            kv[2 * pairs] = keys[i].key, kv[2 * pairs + 1] = text[i], pairs++;
        }
        snprintf(text[N_KEYS], TEXT_LEN, "%d", t->step);
        kv[2 * pairs] = "step", kv[2 * pairs + 1] = text[N_KEYS], pairs++;
        pairs = fmcl_model_meta_append(t->model, kv, pairs);
        if (fmcl_st_write(path, tens, (int)nt, kv, pairs, err, sizeof err) != FMCL_OK)
            s = fmcl_fail(ctx, FMCL_ERR_IO, "%s", err);
    }
    free(host);
    free(tens);
    free(names);
    free(kv);
    free(text);
    return s;
}

/* ---- restore ---------------------------------------------------------------- */

/* FMCL_ERR_ARG naming the first setting in which t's config and the file's
 * differ. steps may grow when the learning rate does not depend on it. */
static fmcl_status same_config(fmcl_trainer *t, const fmcl_st_file *f, const char *path,
                               int saved_step)
{
    char mine[TEXT_LEN];
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!key_applies(&keys[i], &t->cfg, &t->data_of)) continue;
        const char *theirs = fmcl_st_meta(f, keys[i].key);
        key_text(&keys[i], &t->cfg, &t->data_of, mine);
        if (theirs && strcmp(theirs, mine) == 0) continue;
        if (strcmp(keys[i].key, "steps") == 0 && t->cfg.lr_schedule == FMCL_LR_CONSTANT) continue;
        if (strcmp(keys[i].key, "steps") == 0)
            return fmcl_fail(t->ctx, FMCL_ERR_ARG,
                             "%s: the run's cosine learning rate decays to 0 at step %s; "
                             "resuming it for %d steps would change that schedule: keep steps "
                             "at %s, or start a new run",
                             path, theirs ? theirs : "?", t->cfg.steps, theirs ? theirs : "?");
        return fmcl_fail(t->ctx, FMCL_ERR_ARG,
                         "%s: the run was trained with %s = %s but this trainer has %s; resume "
                         "with the checkpoint's own settings (fmcl_train_config_from_checkpoint)",
                         path, keys[i].key, theirs ? theirs : "(missing)", mine);
    }
    if (saved_step > t->cfg.steps)
        return fmcl_fail(t->ctx, FMCL_ERR_ARG,
                         "%s has done %d steps already, more than the %d this trainer is "
                         "planned for; ask for at least %d",
                         path, saved_step, t->cfg.steps, saved_step);
    return FMCL_OK;
}

static fmcl_status restore_local(fmcl_trainer *t, const char *path)
{
    fmcl_ctx *ctx = t->ctx;
    const fmcl_net *m = &t->m;
    if (t->step != 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "fmcl_trainer_restore needs a fresh trainer (this one has run %d steps)",
                         t->step);
    fmcl_st_file f;
    char err[1024];
    if (fmcl_st_read(path, &f, err, sizeof err) != FMCL_OK)
        return fmcl_fail(ctx, FMCL_ERR_FORMAT, "cannot resume: %s", err);
    fmcl_train_config saved;
    fmcl_train_data data;
    int step = 0;
    fmcl_status s = read_run(&f, path, &saved, &data, &step, err, sizeof err);
    if (s != FMCL_OK) s = fmcl_fail(ctx, s, "cannot resume: %s", err);
    if (s == FMCL_OK) s = same_config(t, &f, path, step);
    const size_t n = m->n_params;
    float *host = s == FMCL_OK ? malloc(N_BUFS * n * sizeof *host) : NULL;
    if (s == FMCL_OK && !host) s = fmcl_fail(ctx, FMCL_ERR_NOMEM, "out of host memory resuming");
    /* Everything is read and checked before the device sees any of it. */
    for (int b = 0; b < N_BUFS && s == FMCL_OK; b++)
        if (b != BUF_EMA || t->cfg.ema > 0)
            s = fmcl_net_st_read(m, &f, path, prefixes[b], host + b * n);
    const fmcl_st_tensor *loss = NULL;
    int64_t shape[1] = {step};
    if (s == FMCL_OK &&
        fmcl_st_expect(&f, LOSS_NAME, FMCL_ST_F32, 1, shape, &loss, err, sizeof err) != FMCL_OK)
        s = fmcl_fail(ctx, FMCL_ERR_FORMAT, "%s: %s", path, err);
    const fmcl_t dst[N_BUFS] = {m->params, t->ema, t->m1, t->m2};
    for (int b = 0; b < N_BUFS && s == FMCL_OK; b++)
        if (b != BUF_EMA || t->cfg.ema > 0) s = fmcl_write(ctx, dst[b], host + b * n, n * 4);
    if (s == FMCL_OK && step > 0) s = fmcl_write(ctx, t->losses, loss->data, loss->nbytes);
    if (s == FMCL_OK) t->step = step;
    free(host);
    fmcl_st_free(&f);
    return s;
}

/* Under a group every rank reads the file (each its own copy, or one on a
 * shared file system); the ranks then agree that every one read it and
 * holds the same weights and step. The checkpoint holds nothing that
 * depends on the number of ranks, so any group resumes any run of the same
 * batch. */
fmcl_status fmcl_trainer_restore(fmcl_trainer *t, const char *path)
{
    return fmcl_trainer_agree(t, restore_local(t, path));
}

fmcl_status fmcl_trainer_resume_group(fmcl_ctx *ctx, const char *path, fmcl_data *d, int steps,
                                      fmcl_group *g, fmcl_model **m, fmcl_trainer **t)
{
    *m = NULL;
    *t = NULL;
    fmcl_train_config cfg;
    char err[1024];
    fmcl_status s = FMCL_OK;
    if (fmcl_train_config_from_checkpoint(path, &cfg, NULL, err, sizeof err) != FMCL_OK)
        s = fmcl_fail(ctx, FMCL_ERR_FORMAT, "cannot resume: %s", err);
    if (s == FMCL_OK && steps > 0) cfg.steps = steps;
    if (s == FMCL_OK) s = fmcl_model_load(ctx, path, FMCL_WEIGHTS_RAW, m);
    /* Every rank reaches the group's calls, whatever failed on it. */
    if (fmcl_group_size(g) > 1) {
        fmcl_status all = fmcl_group_agree(g, s, s != FMCL_OK ? fmcl_ctx_error(ctx) : NULL);
        if (all != FMCL_OK) s = fmcl_fail(ctx, all, "%s", fmcl_group_error(g));
    }
    if (s == FMCL_OK) s = fmcl_trainer_create_group(*m, d, &cfg, g, t);
    if (s == FMCL_OK) s = fmcl_trainer_restore(*t, path);
    if (s != FMCL_OK) {
        fmcl_trainer_free(*t);
        fmcl_model_free(*m);
        *m = NULL;
        *t = NULL;
    }
    return s;
}

fmcl_status fmcl_trainer_resume(fmcl_ctx *ctx, const char *path, fmcl_data *d, int steps,
                                fmcl_model **m, fmcl_trainer **t)
{
    return fmcl_trainer_resume_group(ctx, path, d, steps, NULL, m, t);
}
