/* fmcl train --resume DIR: the run's settings come from its checkpoint, so
 * a resumed run continues with the same numbers; other flags may be given
 * only with the run's own values (resume_flags.c), except those that change
 * neither the numbers nor the folder. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fmcl.h"
#include "outputs.h"
#include "resume_flags.h"
#include "train_opts.h"

/* A metadata integer in [lo, hi] written by fmcl train; -1 otherwise. */
static int meta_int(const fmcl_checkpoint *f, const char *key, int lo, int hi)
{
    const char *v = fmcl_checkpoint_meta(f, key);
    char *end;
    long x = v && *v ? strtol(v, &end, 10) : -1;
    return v && *v && !*end && x >= lo && x <= hi ? (int)x : -1;
}

/* A metadata integer within its setting's range (fmcl_settings); -1 otherwise. */
static int meta_setting(const fmcl_checkpoint *f, fmcl_setting_scope scope, const char *key,
                        const char *setting)
{
    const fmcl_setting *s = fmcl_setting_find(scope, setting);
    return meta_int(f, key, (int)s->lo, (int)s->hi);
}

int train_resume_opts(arg_cmd *cmd, train_opts *o, char *ckpt, size_t len)
{
    const train_opts given = *o; /* the flags as given, compared with the run's below */
    if (snprintf(ckpt, len, "%s/model.safetensors", o->resume) >= (int)len)
        return cli_error("--resume: folder name is too long");
    struct stat st;
    if (stat(ckpt, &st) != 0)
        return cli_error("--resume %s: %s (%s); give the folder of a run of fmcl train, which "
                         "holds its checkpoint model.safetensors",
                         o->resume, ckpt, strerror(errno));
    fmcl_train_config tc;
    char err[1024];
    int done = 0;
    if (fmcl_train_config_from_checkpoint(ckpt, &tc, &done, err, sizeof err) != FMCL_OK)
        return cli_error("--resume %s: %s", o->resume, err);
    if (args_find(cmd, "steps")->seen && o->steps < done)
        return cli_error("--resume %s: the run has done %d steps already, more than --steps %d: "
                         "give --steps %d or more",
                         o->resume, done, o->steps, done);
    fmcl_checkpoint *f = NULL;
    if (fmcl_checkpoint_open(ckpt, &f, err, sizeof err) != FMCL_OK)
        return cli_error("--resume %s: %s", o->resume, err);
    const char *data = fmcl_checkpoint_meta(f, "data"), *fmt = fmcl_checkpoint_meta(f, "format");
    /* The network itself comes from the file (fmcl_model_load); the MLP's
     * shape is checked here as fmcl train records it. */
    const int unet = fmt && strcmp(fmt, "fmcl-unet") == 0;
    o->model = unet ? "unet" : "mlp";
    o->width = unet ? 1 : meta_setting(f, FMCL_SCOPE_MLP, "width", "width");
    o->depth = unet ? 1 : meta_setting(f, FMCL_SCOPE_MLP, "depth", "depth");
    o->time_freqs = unet ? 0 : meta_setting(f, FMCL_SCOPE_MLP, "time_freqs", "time_freqs");
    const int every = meta_int(f, "ckpt_every", 0, INT32_MAX);
    /* The data the run trained on (fmcl_train_config_from_checkpoint checked them). */
    const char *kind = fmcl_checkpoint_meta(f, "data_kind");
    const int images = kind && strcmp(kind, "images") == 0;
    const int n_points = meta_int(f, "n_points", 1, INT32_MAX);
    const int img_h = meta_setting(f, FMCL_SCOPE_IMAGES, "img_h", "size");
    const int img_c = meta_setting(f, FMCL_SCOPE_IMAGES, "img_c", "channels");
    const int classes = meta_int(f, "classes", 1, FMCL_MAX_CLASSES);
    if (!args_find(cmd, "ckpt-every")->seen && every > 0) /* checkpoint as the run did */
        o->ckpt_every = every;
    int ok = data && *data && strlen(data) < sizeof o->resume_data && o->width > 0 &&
             o->depth > 0 && o->time_freqs >= 0;
    if (ok) snprintf(o->resume_data, sizeof o->resume_data, "%s", data);
    fmcl_checkpoint_free(f);
    if (!ok)
        return cli_error("--resume %s: %s lacks the metadata fmcl train writes (data, width, "
                         "depth, time_freqs); it cannot be resumed",
                         o->resume, ckpt);
    outputs_remove_unfinished(o->resume);
    o->data = o->resume_data;
    o->out = o->resume;
    if (!args_find(cmd, "steps")->seen) o->steps = tc.steps;
    o->batch = tc.batch;
    o->lr = tc.lr;
    o->lr_schedule = fmcl_name(FMCL_NAMES_LR_SCHEDULE, tc.lr_schedule);
    o->warmup = tc.warmup;
    o->weight_decay = tc.weight_decay;
    o->clip = tc.clip;
    o->ema = tc.ema;
    o->seed = tc.seed;
    o->path = fmcl_name(FMCL_NAMES_PATH, tc.path);
    o->coupling = tc.coupling == FMCL_COUPLING_OT ? "ot" : "independent";
    o->sigma_min = tc.sigma_min;
    o->poly_n = tc.poly_n;
    o->beta_min = tc.beta_min, o->beta_max = tc.beta_max;
    o->sigma_lo = tc.sigma_lo, o->sigma_hi = tc.sigma_hi;
    if (images) {
        o->hflip = tc.hflip;
        o->cond = classes > 0;
        o->label_drop = tc.label_drop;
        o->limit = n_points;
        if (strncmp(o->data, "images:", 7) == 0) o->image_size = img_h, o->channels = img_c;
    }
    return resume_flags_check(cmd, &given, o, images);
}
