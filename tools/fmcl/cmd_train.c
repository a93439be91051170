/* fmcl train: train a flow-matching model on a built-in 2D set, the user's
 * points or an image data set, then write the checkpoint, the loss curve and
 * pictures. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "cli_images.h"
#include "interrupt.h"
#include "outputs.h"
#include "runlock.h"
#include "train_cond.h"
#include "train_group.h"
#include "train_model.h"
#include "fmcl.h"
#include "progress.h"
#include "train_opts.h"

/* Flag defaults: the reference 2D model (width 512, depth 4) with a batch
 * and step count for a first look; the reference workload is
 * --batch 4096 --steps 20000. */
#define DEFAULT_BATCH 1024
#define DEFAULT_STEPS 1000

/* `fmcl train` with no arguments at all: a demo that finishes in about a
 * minute on a 2-core CPU through PoCL (about 100 CPU-seconds, pictures
 * included) and draws a sharp board. Chosen by a sweep at that budget
 * (docs/BENCHMARKS.md, "The demo's settings"): steps matter more than width
 * or depth (at equal CPU time 4000 steps of a 256 x 3 MLP fell behind 10000
 * of this 128 x 3 one), and an EMA of the weights, or a cosine decay, keeps
 * the last steps' noise out of the samples: 0.94 of them land on the
 * board's cells, against 0.83 after the former 2000 steps without EMA. */
#define DEMO_WIDTH 128
#define DEMO_DEPTH 3
#define DEMO_BATCH 1024
#define DEMO_STEPS 32000
#define DEMO_LR 2e-3
#define DEMO_EMA 0.999

/* The pictures: samples drawn with the midpoint rule in 20 steps (step 0.05,
 * as in the reference 2D example). */
#define PLOT_SOLVER FMCL_SOLVER_MIDPOINT
#define PLOT_STEPS 20
#define PLOT_SAMPLES 20000  /* points in each density of densities.png */
#define PLOT_TRAJ 400       /* paths in trajectories.png */
#define PLOT_IMAGES 64      /* images in data.png and samples.png (image data) */
#define PLOT_IMAGES_UNET 16 /* samples.png of a U-Net: a forward costs ~10^3 MLP ones */

/* The training points: a built-in set, the user's array, or images. */
typedef struct {
    fmcl_data *src;
    fmcl_data_kind kind;
    char name[128]; /* for the run folder's name */
} train_data;

/* The run folder's name from a file name: its base name without the last
 * extension, in safe characters; "data" when nothing is left. */
static void name_from_path(char *name, size_t size, const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot ? (size_t)(dot - base) : strlen(base);
    if (len >= size) len = size - 1;
    for (size_t i = 0; i < len; i++) {
        char c = base[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.';
        name[i] = ok ? c : '_';
    }
    name[len] = '\0';
    if (len == 0) snprintf(name, size, "data");
}

/* Ranks after the first of a group print only their errors. */
static int quiet;

/* An image set: pixels kept as bytes for the device. */
static int load_images(arg_cmd *cmd, const train_opts *o, const char *spec, train_data *d)
{
    char err[1024];
    fmcl_image_options opt;
    fmcl_image_options_default(&opt);
    opt.size = o->image_size, opt.channels = o->channels, opt.limit = o->limit;
    fmcl_status s = fmcl_data_create_images(spec, &opt, &d->src, err, sizeof err);
    if (s == FMCL_ERR_ARG) return args_usage(cmd, "--data %s", err);
    if (s != FMCL_OK) return cli_data_error(spec, err);
    if (strcmp(spec, "fashion-mnist") == 0) {
        snprintf(d->name, sizeof d->name, "fashion-mnist");
    } else {
        const char *path = strchr(spec, ':') + 1;
        size_t len = strlen(path);
        while (len > 1 && path[len - 1] == '/') len--; /* a folder's own name */
        char trimmed[4096];
        snprintf(trimmed, sizeof trimmed, "%.*s", (int)len, path);
        name_from_path(d->name, sizeof d->name, trimmed);
    }
    if (!quiet) fprintf(stderr, "data: %s\n", fmcl_data_describe(d->src));
    return CLI_OK;
}

/* Resolves --data. A name that is neither an image set nor a .npy file must
 * be a built-in set. */
static int load_data(arg_cmd *cmd, const train_opts *o, const char *spec, train_data *d)
{
    char err[1024];
    memset(d, 0, sizeof *d);
    d->kind = FMCL_DATA_IMAGES;
    if (fmcl_data_spec_is_images(spec)) return load_images(cmd, o, spec, d);
    d->kind = cli_is_npy(spec) ? FMCL_DATA_POINTS : FMCL_DATA_TOY;
    fmcl_status s = fmcl_data_open(spec, NULL, &d->src, err, sizeof err);
    if (s != FMCL_OK && d->kind == FMCL_DATA_TOY) {
        char names[256] = "";
        size_t used = 0;
        const char *const *toys = fmcl_names_of(FMCL_NAMES_TOY);
        for (int k = 0; toys[k] && used < sizeof names; k++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s, ", toys[k]);
        return args_usage(cmd,
                          "--data: unknown data set '%s' (expected one of %sor a "
                          "FILE.npy of N x 2 points, or an image set: fashion-mnist, "
                          "mnist:DIR, idx:FILE, cifar10:PATH, images:DIR)",
                          spec, names);
    }
    if (s != FMCL_OK) return cli_lib_error("--data: ", err);
    if (d->kind == FMCL_DATA_TOY) {
        snprintf(d->name, sizeof d->name, "%s",
                 fmcl_name(FMCL_NAMES_TOY, fmcl_data_toy_of(d->src)));
        return CLI_OK;
    }
    if (fmcl_data_dim(d->src) != 2)
        return cli_error("--data %s: expected an N x 2 array of points with N >= 1, found "
                         "shape (%d, %d)",
                         spec, fmcl_data_count(d->src), fmcl_data_dim(d->src));
    name_from_path(d->name, sizeof d->name, spec);
    return CLI_OK;
}

/* Creates the output folder: --out DIR, or a fresh runs/<name>-<time>.
 * *created says whether the folder is new (removed again if training fails). */
static int make_out_dir(const train_opts *o, const train_data *d, char *dir, size_t len,
                        int *created)
{
    char err[1024];
    struct stat st;
    *created = 0;
    if (o->out) {
        if (snprintf(dir, len, "%s", o->out) >= (int)len)
            return cli_error("--out: folder name is too long");
        *created = stat(dir, &st) != 0;
        if (cli_mkdir_p(dir, err, sizeof err) != 0) return cli_error("--out: %s", err);
        return CLI_OK;
    }
    if (cli_mkdir_p("runs", err, sizeof err) != 0) return cli_error("%s", err);
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    for (int k = 1; k < 1000; k++) {
        if (k == 1)
            snprintf(dir, len, "runs/%s-%s", d->name, stamp);
        else
            snprintf(dir, len, "runs/%s-%s-%d", d->name, stamp, k);
        if (mkdir(dir, 0777) == 0) {
            *created = 1;
            return CLI_OK;
        }
        if (errno != EEXIST) return cli_error("cannot create folder %s: %s", dir, strerror(errno));
    }
    return cli_error("runs/ already holds too many runs named %s-%s", d->name, stamp);
}

static fmcl_status write_loss_csv(const char *path, const float *loss, int n, char *err,
                                  size_t errlen)
{
    size_t cap = 32 + (size_t)n * 40, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "out of host memory writing %s", path);
        return FMCL_ERR_NOMEM;
    }
    len += (size_t)snprintf(buf, cap, "step,loss\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%d,%.9g\n", i + 1, (double)loss[i]);
    const void *chunk[1] = {buf};
    fmcl_status st = fmcl_write_file_atomic(path, chunk, &len, 1, err, errlen);
    free(buf);
    return st;
}

/* Writes the checkpoint: the trainer's whole state (model, EMA, Adam's
 * moments, losses, step and settings) and the model's metadata: what
 * sample and nll need to know about the data (fmcl_trainer_save). */
static fmcl_status save_checkpoint(fmcl_trainer *tr, const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    return fmcl_trainer_save(tr, path);
}

/* Runs the steps from the trainer's current one in chunks that end at
 * every log_every-th step (the progress line) and every ckpt_every-th (a
 * checkpoint is written atomically); stops early after SIGINT or SIGTERM.
 * *local: a failure this rank alone saw (writing a checkpoint, a device
 * fault after the gradients' sum), which the other ranks of a group wait
 * on. A group's throughput is rank 0's: every rank runs every step. */
static fmcl_status run_steps(fmcl_trainer *tr, const train_opts *o, const train_rank *r,
                             const char *dir, float *loss, double *secs, int *local)
{
    *local = 0;
    const int first = fmcl_trainer_step(tr), todo = o->steps - first;
    int every = o->log_every;
    if (every == 0) /* auto: ~100 updates of a terminal line, ~10 plain lines otherwise */
        every = isatty(fileno(stderr)) ? todo / 100 : todo / 10;
    if (every < 1) every = 1;
    progress pr;
    progress_start(&pr, stderr, todo);
    fmcl_status st = first > 0 ? fmcl_trainer_losses(tr, 0, first, loss) : FMCL_OK;
    for (int done = first, n; done < o->steps && st == FMCL_OK; done += n) {
        n = o->steps - done < every ? o->steps - done : every;
        if (o->ckpt_every > 0 && o->ckpt_every - done % o->ckpt_every < n)
            n = o->ckpt_every - done % o->ckpt_every;
        st = interrupt_train(tr, done, n, loss, &n); /* n: the steps run */
        if (st != FMCL_OK) *local = !fmcl_trainer_failure_shared(tr);
        if (st == FMCL_OK && n > 0) progress_update(&pr, loss + done, n);
        if (interrupt_signal()) break;
        if (st == FMCL_OK && o->ckpt_every > 0 && (done + n) % o->ckpt_every == 0 &&
            done + n < o->steps && r->rank == 0) {
            st = save_checkpoint(tr, dir);
            *local = st != FMCL_OK;
        }
    }
    progress_end(&pr);
    *secs = cli_now() - pr.t0;
    if (st == FMCL_OK && todo > 0 && !interrupt_signal() && r->size > 1)
        fprintf(stderr,
                "trained %d steps in %.1f s (%.1f steps/s, %.0f examples/s over %d "
                "ranks), smoothed loss %.4f\n",
                todo, *secs, todo / *secs, todo * (double)o->batch / *secs, r->size,
                progress_loss(&pr));
    else if (st == FMCL_OK && todo > 0 && !interrupt_signal())
        fprintf(stderr, "trained %d steps in %.1f s (%.1f steps/s), smoothed loss %.4f\n", todo,
                *secs, todo / *secs, progress_loss(&pr));
    return st;
}

/* The path and coupling fields of the training configuration. */
static void path_config(const train_opts *o, fmcl_train_config *tc)
{
    tc->path = fmcl_name_value(FMCL_NAMES_PATH, o->path);
    tc->sigma_min = (float)o->sigma_min;
    tc->poly_n = (float)o->poly_n;
    tc->beta_min = (float)o->beta_min;
    tc->beta_max = (float)o->beta_max;
    tc->sigma_lo = (float)o->sigma_lo;
    tc->sigma_hi = (float)o->sigma_hi;
    tc->coupling = strcmp(o->coupling, "ot") == 0 ? FMCL_COUPLING_OT : FMCL_COUPLING_INDEPENDENT;
}

/* densities.png (data beside samples), trajectories.png and loss.png. */
static int draw_pictures(fmcl_ctx *ctx, fmcl_model *m, const train_opts *o, const train_data *d,
                         const float *loss, float x0_std, const char *dir)
{
    char path[4200], err[1024];
    const int array = d->kind == FMCL_DATA_POINTS;
    int n_data = array ? fmcl_data_count(d->src) : PLOT_SAMPLES;
    int n_traj_states = PLOT_STEPS + 1;
    float *data = array ? NULL : malloc(sizeof(float) * 2 * PLOT_SAMPLES);
    float *samples = malloc(sizeof(float) * 2 * PLOT_SAMPLES);
    float *traj = malloc(sizeof(float) * 2 * PLOT_TRAJ * (size_t)n_traj_states);
    float *ends = malloc(sizeof(float) * 2 * PLOT_TRAJ);
    int rc = CLI_FAIL;
    if ((!array && !data) || !samples || !traj || !ends) {
        cli_error("out of host memory drawing the pictures");
        goto done;
    }
    const float *shown = array ? fmcl_data_points(d->src) : data;
    if (data && fmcl_data_draw(d->src, o->seed, (uint64_t)o->steps, PLOT_SAMPLES, data, err,
                               sizeof err) != FMCL_OK) {
        cli_lib_error("drawing the picture's points: ", err);
        goto done;
    }
    fmcl_sample_config sc;
    fmcl_sample_config_default(&sc);
    sc.solver = PLOT_SOLVER, sc.steps = PLOT_STEPS, sc.n = PLOT_SAMPLES;
    sc.seed = o->seed, sc.x0_std = x0_std;
    int nfe = 0;
    double t0 = cli_now();
    eval_progress ep;
    eval_progress_start(&ep, stderr, "sampling the picture's points", &sc);
    const fmcl_status ss = fmcl_sample(m, &sc, samples, NULL, &nfe);
    eval_progress_end(&ep);
    if (ss != FMCL_OK) {
        cli_lib_error("", fmcl_ctx_error(ctx));
        goto done;
    }
    fprintf(stderr, "sampled %d points (%s, %d steps, NFE %d) in %.2f s\n", PLOT_SAMPLES,
            fmcl_name(FMCL_NAMES_SOLVER, PLOT_SOLVER), PLOT_STEPS, nfe, cli_now() - t0);
    sc.n = PLOT_TRAJ;
    sc.seed = o->seed + 1;
    sc.progress = NULL; /* 400 points: quick */
    if (fmcl_sample(m, &sc, ends, traj, &nfe) != FMCL_OK) {
        cli_lib_error("", fmcl_ctx_error(ctx));
        goto done;
    }
    float r = cli_plot_extent(shown, n_data);
    snprintf(path, sizeof path, "%s/densities.png", dir);
    if (fmcl_plot_densities(path, shown, n_data, samples, PLOT_SAMPLES, -r, r, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    snprintf(path, sizeof path, "%s/trajectories.png", dir);
    if (fmcl_plot_trajectories(path, traj, n_traj_states, PLOT_TRAJ, PLOT_TRAJ, -r, r, err,
                               sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    snprintf(path, sizeof path, "%s/loss.png", dir);
    if (fmcl_plot_loss(path, loss, o->steps, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    rc = CLI_OK;
done:
    free(data);
    free(samples);
    free(traj);
    free(ends);
    return rc;
}

/* Image data: data.png (the first training images, each pixel k shown at
 * the centre of its cell, (2k + 1) / 256 - 1), samples.png (midpoint, 20
 * steps) and loss.png. */
static int draw_image_pictures(fmcl_ctx *ctx, fmcl_model *m, const train_opts *o,
                               const train_data *d, const float *loss, float x0_std,
                               const char *dir)
{
    char path[4200], err[1024];
    int shape[3];
    fmcl_data_image_shape(d->src, shape);
    const size_t D = (size_t)fmcl_data_dim(d->src);
    const int count = fmcl_data_count(d->src), n_data = count < PLOT_IMAGES ? count : PLOT_IMAGES;
    const uint8_t *pixels = fmcl_data_pixels(d->src);
    float *x = malloc(sizeof(float) * D * PLOT_IMAGES);
    if (!x) return cli_error("out of host memory drawing the pictures");
    for (size_t i = 0; i < (size_t)n_data * D; i++) x[i] = (2 * pixels[i] + 1) / 256.f - 1;
    snprintf(path, sizeof path, "%s/data.png", dir);
    int rc = cli_write_grid(path, x, n_data, shape);
    const fmcl_model_config *mc = fmcl_model_get_config(m);
    fmcl_sample_config sc;
    fmcl_sample_config_default(&sc);
    sc.solver = PLOT_SOLVER, sc.steps = PLOT_STEPS, sc.seed = o->seed, sc.x0_std = x0_std;
    sc.n = mc->kind == FMCL_MODEL_UNET ? PLOT_IMAGES_UNET : PLOT_IMAGES;
    const int n = sc.n;
    int nfe = 0;
    double t0 = cli_now();
    snprintf(path, sizeof path, "%s/samples.png", dir);
    if (rc == CLI_OK && mc->classes > 0) { /* one row per class */
        rc = train_cond_samples(ctx, m, &sc, path, shape);
    } else if (rc == CLI_OK) {
        eval_progress ep; /* the U-Net's pictures take about a minute on a CPU */
        eval_progress_start(&ep, stderr, "sampling the picture's images", &sc);
        const fmcl_status ss = fmcl_sample(m, &sc, x, NULL, &nfe);
        eval_progress_end(&ep);
        if (ss != FMCL_OK) {
            rc = cli_lib_error("", fmcl_ctx_error(ctx));
        } else {
            fprintf(stderr, "sampled %d images (%s, %d steps, NFE %d) in %.2f s\n", n,
                    fmcl_name(FMCL_NAMES_SOLVER, PLOT_SOLVER), PLOT_STEPS, nfe, cli_now() - t0);
            rc = cli_write_grid(path, x, n, shape);
        }
    }
    snprintf(path, sizeof path, "%s/loss.png", dir);
    if (rc == CLI_OK && fmcl_plot_loss(path, loss, o->steps, err, sizeof err))
        rc = cli_error("%s", err);
    free(x);
    return rc;
}

/* The model and trainer: fresh, or continued from resume (a checkpoint).
 * The model's metadata starts with the keys checkpoints have always begun
 * it with (the trainer records the rest, and updates these in place). */
static int make_trainer(arg_cmd *cmd, fmcl_ctx *ctx, const train_opts *o,
                        const fmcl_model_config *mc, const fmcl_train_config *tc,
                        const train_data *d, const char *resume, const train_rank *r,
                        fmcl_model **m, fmcl_trainer **tr)
{
    int rc = train_model_make(cmd, ctx, o, mc, d->src, resume, m);
    if (train_group_failed(r, rc != CLI_OK, "could not make the model"))
        return rc != CLI_OK ? rc : CLI_FAIL; /* a usage error stays one */
    char every[16];
    snprintf(every, sizeof every, "%d", o->ckpt_every);
    fmcl_status s = fmcl_model_set_meta(*m, "data", o->data);
    if (s == FMCL_OK) s = fmcl_model_set_meta(*m, "fmcl_version", FMCL_VERSION);
    if (s == FMCL_OK) s = fmcl_model_set_meta(*m, "ckpt_every", every);
    if (s == FMCL_OK) s = fmcl_trainer_create_group(*m, d->src, tc, r->g, tr);
    if (s == FMCL_OK && resume) s = fmcl_trainer_restore(*tr, resume);
    /* Under a group these failures are every rank's, named: rank 0 says it. */
    if (s != FMCL_OK) return r->rank == 0 ? cli_lib_error("", fmcl_ctx_error(ctx)) : CLI_FAIL;
    return CLI_OK;
}

/* Everything that needs the device; the options are valid by now. resume:
 * the checkpoint to continue from, or NULL. */
static int train(arg_cmd *cmd, const train_opts *o, const train_data *d, const char *dir,
                 const char *resume, const train_rank *r)
{
    char err[8192], path[4200], what[256];
    fmcl_ctx *ctx = NULL;
    fmcl_model *m = NULL, *shown = NULL;
    fmcl_trainer *tr = NULL;
    float *loss = malloc(sizeof(float) * (size_t)o->steps);
    int rc = CLI_FAIL;
    if (!loss) return cli_error("out of host memory for %d losses", o->steps);
    interrupt_train_start(dir, o->device);
    int no_ctx = fmcl_ctx_create(&ctx, r->device, err, sizeof err) != FMCL_OK;
    if (no_ctx) cli_lib_error("", err);
    if (train_group_failed(r, no_ctx, "could not open its device")) goto done;
    const int images = d->kind == FMCL_DATA_IMAGES;
    fmcl_model_config mc;
    fmcl_model_config_default(&mc, FMCL_MODEL_MLP);
    mc.dim = fmcl_data_dim(d->src);
    mc.mlp = (fmcl_mlp_config){.width = o->width, .depth = o->depth, .time_freqs = o->time_freqs};
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = o->batch;
    tc.steps = o->steps;
    tc.lr = (float)o->lr;
    tc.lr_schedule = fmcl_name_value(FMCL_NAMES_LR_SCHEDULE, o->lr_schedule);
    tc.warmup = o->warmup;
    tc.ema = (float)o->ema;
    tc.weight_decay = (float)o->weight_decay;
    tc.clip = (float)o->clip;
    path_config(o, &tc);
    tc.seed = o->seed;
    tc.hflip = images && o->hflip;
    if (images && train_cond_config(o, d->src, &mc, &tc) != CLI_OK) goto done;
    if ((rc = make_trainer(cmd, ctx, o, &mc, &tc, d, resume, r, &m, &tr)) != CLI_OK) goto done;
    rc = CLI_FAIL;
    if (r->rank > 0) { /* the same steps as rank 0, which prints and writes */
        if (fmcl_trainer_run(tr, o->steps - fmcl_trainer_step(tr)) == FMCL_OK) {
            rc = CLI_OK;
        } else if (!fmcl_trainer_failure_shared(tr)) {
            cli_lib_error("", fmcl_ctx_error(ctx));
            fmcl_group_abort(r->g, CLI_FAIL);
        }
        goto done;
    }
    const fmcl_device_info *dev = fmcl_ctx_device(ctx);
    const fmcl_model_config *cfg = fmcl_model_get_config(m);
    if (resume)
        fprintf(stderr, "fmcl train: resuming %s at step %d of %d\n", resume, fmcl_trainer_step(tr),
                o->steps);
    train_model_describe(m, what, sizeof what);
    fprintf(stderr,
            "fmcl train: %s%s, %s path%s, %s, batch %d, %d "
            "steps, %s lr %g (%s, warm-up %d)%s on %s (%s)\n",
            o->data, o->hflip ? " (mirrored at random)" : "", o->path,
            tc.coupling == FMCL_COUPLING_OT ? " with OT coupling" : "", what, o->batch, o->steps,
            o->weight_decay > 0 ? "AdamW" : "Adam", o->lr, o->lr_schedule, o->warmup,
            o->ema > 0 ? ", EMA" : "", dev->device_name, dev->platform_name);
    if (r->size > 1) {
        int row0, rows;
        fmcl_trainer_share(tr, &row0, &rows);
        fprintf(stderr,
                "data-parallel over %d ranks (MPI): rank 0 trains %d of each batch's %d "
                "examples on %s; the gradients are summed over the ranks every step\n",
                r->size, rows, o->batch, r->device);
    }
    if (cfg->kind == FMCL_MODEL_UNET)
        fprintf(stderr,
                "device memory of training: %.1f MiB at batch %d (activations, "
                "parameters, gradients, Adam's moments, EMA, data)\n",
                fmcl_trainer_device_bytes(tr) / 1048576.0, o->batch);
    if (o->ema > 0) fprintf(stderr, "EMA of the weights: decay %g\n", o->ema);
    if (cfg->classes > 0)
        fprintf(stderr, "conditioned on %d classes (%s), label dropout %g\n", cfg->classes,
                cfg->kind == FMCL_MODEL_UNET ? "label embedding added to the time embedding"
                                             : "one-hot inputs",
                o->label_drop);
    if (*fmcl_ctx_notes(ctx)) fprintf(stderr, "%s", fmcl_ctx_notes(ctx));
    double secs;
    const int start = fmcl_trainer_step(tr);
    int local = 0;
    fmcl_status st = run_steps(tr, o, r, dir, loss, &secs, &local);
    if (st == FMCL_OK && fmcl_trainer_step(tr) > start)
        local = (st = save_checkpoint(tr, dir)) != FMCL_OK;
    if (st != FMCL_OK) {
        cli_lib_error("", fmcl_ctx_error(ctx));
        if (local) fmcl_group_abort(r->g, CLI_FAIL); /* the others wait for this rank */
        goto done;
    }
    if (interrupt_signal()) {
        rc = interrupt_train_report(dir, fmcl_trainer_step(tr), o->steps, o->device);
        fmcl_group_abort(r->g, rc); /* the other ranks wait for this one's next step */
        goto done;
    }
    interrupt_train_finished(dir);
    snprintf(path, sizeof path, "%s/loss.csv", dir);
    if (write_loss_csv(path, loss, o->steps, err, sizeof err) != FMCL_OK) {
        cli_error("%s", err);
        goto done;
    }
    /* The pictures show what fmcl sample draws: the EMA when there is one. */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (fmcl_model_load(ctx, path, FMCL_WEIGHTS_DEFAULT, &shown) != FMCL_OK) {
        cli_lib_error("", fmcl_ctx_error(ctx));
        goto done;
    }
    rc = images ? draw_image_pictures(ctx, shown, o, d, loss, fmcl_train_x0_std(&tc), dir)
                : draw_pictures(ctx, shown, o, d, loss, fmcl_train_x0_std(&tc), dir);
done:
    fmcl_trainer_free(tr);
    fmcl_model_free(m);
    fmcl_model_free(shown);
    fmcl_ctx_free(ctx);
    free(loss);
    return rc;
}

/* The image flags belong to image sets; --image-size and --channels to
 * image folders only (the other sets have a fixed shape). */
static int check_image_flags(arg_cmd *cmd, const train_opts *o)
{
    static const char *const flags[] = {"image-size", "channels", "hflip", "limit"};
    const int images = fmcl_data_spec_is_images(o->data);
    const int folder = strncmp(o->data, "images:", 7) == 0;
    for (int i = 0; i < 4; i++) {
        if (!args_find(cmd, flags[i])->seen) continue;
        if (!images)
            return args_usage(cmd,
                              "--%s is for image data sets (fashion-mnist, mnist:DIR, "
                              "idx:FILE, cifar10:PATH, images:DIR), not --data %s",
                              flags[i], o->data);
        if (i < 2 && !folder)
            return args_usage(cmd, "--%s is for --data images:DIR; %s has a fixed image shape",
                              flags[i], o->data);
    }
    if (folder && !args_find(cmd, "image-size")->seen)
        return args_usage(cmd, "--data %s needs --image-size N (the images are resized to N x N)",
                          o->data);
    if (o->channels == 2)
        return args_usage(cmd, "--channels 2 is not an image format (expected 1 for grey or 3 "
                               "for RGB)");
    return CLI_OK;
}

/* Path flags that do not belong to the chosen path, inconsistent pairs, and
 * batches the OT coupling cannot handle are usage errors. */
static int check_path_flags(arg_cmd *cmd, const train_opts *o)
{
    static const struct {
        const char *flag;
        int path;
    } owner[] = {{"sigma-min", FMCL_PATH_OT}, {"poly-n", FMCL_PATH_POLY},
                 {"beta-min", FMCL_PATH_VP},  {"beta-max", FMCL_PATH_VP},
                 {"sigma-lo", FMCL_PATH_VE},  {"sigma-hi", FMCL_PATH_VE}};
    const int path = fmcl_name_value(FMCL_NAMES_PATH, o->path);
    for (size_t i = 0; i < sizeof owner / sizeof owner[0]; i++)
        if (args_find(cmd, owner[i].flag)->seen && path != owner[i].path)
            return args_usage(cmd, "--%s belongs to --path %s, but this run uses --path %s",
                              owner[i].flag, fmcl_name(FMCL_NAMES_PATH, owner[i].path), o->path);
    if (path == FMCL_PATH_VP && o->beta_max < o->beta_min)
        return args_usage(cmd, "--beta-max %g is below --beta-min %g", o->beta_max, o->beta_min);
    if (path == FMCL_PATH_VE && !((float)o->sigma_hi > (float)o->sigma_lo))
        return args_usage(cmd, "--sigma-hi %g must be larger than --sigma-lo %g", o->sigma_hi,
                          o->sigma_lo);
    if (strcmp(o->coupling, "ot") == 0 && o->batch > FMCL_COUPLING_MAX_BATCH)
        return args_usage(cmd,
                          "--coupling ot solves an exact O(batch^3) assignment on the host "
                          "every step: --batch %d is too large (at most %d)",
                          o->batch, FMCL_COUPLING_MAX_BATCH);
    return CLI_OK;
}

int cmd_train(int argc, char **argv)
{
    fmcl_train_config def;
    fmcl_train_config_default(&def);
    train_opts o = {.data = "checkerboard",
                    .path = "ot",
                    .coupling = "independent",
                    .width = 512,
                    .depth = 4,
                    .batch = DEFAULT_BATCH,
                    .steps = DEFAULT_STEPS,
                    .lr = 1e-3,
                    .poly_n = def.poly_n,
                    .beta_min = def.beta_min,
                    .beta_max = def.beta_max,
                    .sigma_lo = def.sigma_lo,
                    .sigma_hi = def.sigma_hi,
                    .channels = 3,
                    .lr_schedule = "constant",
                    .label_drop = def.label_drop,
                    .model = "mlp"};
    if (argc <= 1) { /* no arguments at all: the demo */
        o.width = DEMO_WIDTH;
        o.depth = DEMO_DEPTH;
        o.batch = DEMO_BATCH;
        o.steps = DEMO_STEPS;
        o.lr = DEMO_LR;
        o.ema = DEMO_EMA;
        fprintf(stderr,
                "fmcl train: no arguments, so the short demo: --width %d --depth %d "
                "--batch %d --steps %d --lr %g --ema %g (the reference model is "
                "--width 512 --depth 4 --batch 4096 --steps 20000)\n",
                DEMO_WIDTH, DEMO_DEPTH, DEMO_BATCH, DEMO_STEPS, DEMO_LR, DEMO_EMA);
    }
    arg_spec specs[] = {
        {.name = "data",
         .type = ARG_STR,
         .dest = &o.data,
         .metavar = "NAME|FILE.npy|SET",
         .help = "training points: checkerboard, 8gaussians, moons, rings, spirals, or an N x 2 "
                 "float32/float64 .npy file; or images: fashion-mnist, mnist:DIR (IDX files), "
                 "idx:FILE, cifar10:PATH (a batch file or folder), images:DIR (PNG/JPEG), "
                 "scaled to [-1, 1] with uniform dequantisation"},
        {.name = "image-size",
         .type = ARG_INT,
         .dest = &o.image_size,
         .metavar = "N",
         .help = "images:DIR: resize the centred square of each image to N x N",
         .default_text = "required for images:DIR"},
        {.name = "channels",
         .type = ARG_INT,
         .dest = &o.channels,
         .metavar = "C",
         .help = "images:DIR: 1 (grey) or 3 (RGB)"},
        {.name = "hflip",
         .type = ARG_BOOL,
         .dest = &o.hflip,
         .help = "image sets: mirror each training image left-right with probability 1/2 "
                 "(drawn from --seed)"},
        {.name = "limit",
         .type = ARG_INT,
         .dest = &o.limit,
         .metavar = "N",
         .help = "image sets: train on the first N images only",
         .default_text = "all"},
        {.name = "cond",
         .type = ARG_BOOL,
         .dest = &o.cond,
         .help = "image sets with labels: train v(x, t, class), the class one-hot after "
                 "[x, t], for fmcl sample --class and --cfg"},
        {.name = "label-drop",
         .type = ARG_REAL,
         .dest = &o.label_drop,
         .metavar = "P",
         .help = "--cond: replace each example's label by the null class (all zeros) with "
                 "probability P, which classifier-free guidance needs"},
        {.name = "width",
         .type = ARG_INT,
         .dest = &o.width,
         .metavar = "N",
         .help = "hidden units per layer"},
        {.name = "depth",
         .type = ARG_INT,
         .dest = &o.depth,
         .metavar = "N",
         .help = "hidden layers (depth + 1 Linear layers, SiLU between)"},
        TRAIN_MODEL_SPECS(o),
        {.name = "batch",
         .type = ARG_INT,
         .dest = &o.batch,
         .metavar = "N",
         .help = "points per training step",
         .default_text = "1024; " TRAIN_UNET_BATCH_TEXT " with --model unet"},
        {.name = "steps",
         .type = ARG_INT,
         .dest = &o.steps,
         .metavar = "N",
         .help = "training steps"},
        {.name = "lr",
         .type = ARG_REAL,
         .dest = &o.lr,
         .metavar = "X",
         .help = "Adam learning rate"},
        {.name = "seed",
         .type = ARG_U64,
         .dest = &o.seed,
         .metavar = "N",
         .help = "seed of the initialisation and of every random draw"},
        {.name = "path",
         .type = ARG_CHOICE,
         .dest = &o.path,
         .metavar = "NAME",
         .help = "probability path x_t = alpha_t x1 + sigma_t x0: ot (optimal transport), vp "
                 "and ve (variance-preserving and -exploding diffusion), or the schedulers "
                 "cosine, poly, linear-vp"},
        {.name = "sigma-min",
         .type = ARG_REAL,
         .dest = &o.sigma_min,
         .metavar = "X",
         .help = "the OT path's sigma_min"},
        {.name = "poly-n",
         .type = ARG_REAL,
         .dest = &o.poly_n,
         .metavar = "X",
         .help = "the poly path's exponent n (1 is the OT path)"},
        {.name = "beta-min",
         .type = ARG_REAL,
         .dest = &o.beta_min,
         .metavar = "X",
         .help = "the VP path's noise rate at the data end"},
        {.name = "beta-max",
         .type = ARG_REAL,
         .dest = &o.beta_max,
         .metavar = "X",
         .help = "the VP path's noise rate at the noise end"},
        {.name = "sigma-lo",
         .type = ARG_REAL,
         .dest = &o.sigma_lo,
         .metavar = "X",
         .help = "the VE path's noise scale at t = 1 (data)"},
        {.name = "sigma-hi",
         .type = ARG_REAL,
         .dest = &o.sigma_hi,
         .metavar = "X",
         .help = "the VE path's noise scale at t = 0; sampling starts from N(0, sigma_hi^2 I)"},
        {.name = "coupling",
         .type = ARG_CHOICE,
         .dest = &o.coupling,
         .metavar = "NAME",
         .help = "pairing of a batch's noise and data; ot: an exact minibatch OT assignment "
                 "on the host (batch <= 2048, one host sync per step)"},
        {.name = "time-freqs",
         .type = ARG_INT,
         .dest = &o.time_freqs,
         .metavar = "N",
         .help = "0: the model sees [x, t]; F > 0: [x, sin(2^k pi t), cos(2^k pi t)] for k < F"},
        {.name = "weight-decay",
         .type = ARG_REAL,
         .dest = &o.weight_decay,
         .metavar = "X",
         .help = "decoupled weight decay (AdamW); 0 is plain Adam"},
        {.name = "clip",
         .type = ARG_REAL,
         .dest = &o.clip,
         .metavar = "X",
         .help = "clip the gradient norm to X; 0 disables"},
        {.name = "ema",
         .type = ARG_REAL,
         .dest = &o.ema,
         .metavar = "X",
         .help = "keep an EMA of the weights with decay X (warm-up: min(X, (1 + s) / (10 + s)) "
                 "at step s); sample and nll use it by default; 0 disables",
         .default_text = "0.999 for image sets, 0 otherwise"},
        {.name = "warmup",
         .type = ARG_INT,
         .dest = &o.warmup,
         .metavar = "N",
         .help = "raise the learning rate linearly from 0 to --lr over the first N steps"},
        {.name = "lr-schedule",
         .type = ARG_CHOICE,
         .dest = &o.lr_schedule,
         .metavar = "NAME",
         .help = "after the warm-up: constant, or cosine (down to 0 at the last step)"},
        {.name = "ckpt-every",
         .type = ARG_INT,
         .dest = &o.ckpt_every,
         .metavar = "N",
         .help = "also write the checkpoint model.safetensors (atomically) every N steps, so a "
                 "killed run can be resumed; 0: only at the end",
         .lo = 0,
         .hi = INT_MAX},
        {.name = "resume",
         .type = ARG_STR,
         .dest = &o.resume,
         .metavar = "DIR",
         .help = "continue the run saved in DIR with its own settings up to --steps in all "
                 "(its saved total by default); besides --steps, --device, --log-every and "
                 "--ckpt-every, the run's own flags may be repeated with its values",
         .default_text = "a new run"},
        {.name = "device",
         .type = ARG_STR,
         .dest = &o.device,
         .metavar = "SPEC",
         .help = "OpenCL device: P:D from `fmcl devices`, or part of its platform, vendor or "
                 "device name; under mpirun, local rank r takes the r-th device SPEC matches "
                 "(wrapping round), or the r-th entry of a comma-separated list",
         .default_text = "$FMCL_DEVICE, else the first GPU, else the first device"},
        {.name = "out",
         .type = ARG_STR,
         .dest = &o.out,
         .metavar = "DIR",
         .help = "folder for model.safetensors, loss.csv and the PNG pictures",
         .default_text = "runs/<data>-<YYYYmmdd-HHMMSS>"},
        {.name = "overwrite",
         .type = ARG_BOOL,
         .dest = &o.overwrite,
         .help = "train into an --out folder that holds a run already, replacing its files "
                 "(without it such a folder is refused)"},
        {.name = "log-every",
         .type = ARG_INT,
         .dest = &o.log_every,
         .metavar = "N",
         .help = "steps between progress updates; 0 picks about 100 updates on a terminal, "
                 "10 lines otherwise",
         .lo = 0,
         .hi = INT_MAX},
    };
    arg_cmd cmd = {
        .prog = "fmcl train",
        .about = "Trains a flow-matching model v(x, t) (an MLP with SiLU) on 2D points, then\n"
                 "writes into the output folder: model.safetensors (the checkpoint: weights,\n"
                 "their EMA, Adam's moments, losses; --resume continues from it), loss.csv,\n"
                 "densities.png (data beside samples), trajectories.png and loss.png; on\n"
                 "images: data.png, samples.png (grids) and loss.png.\n"
                 "With no flags it trains the default checkerboard model in under a minute on\n"
                 "a small CPU.",
        .epilog = "examples:\n"
                  "  fmcl train\n"
                  "  fmcl train --data moons --steps 5000 --out runs/moons\n"
                  "  fmcl train --batch 4096 --steps 20000 --device 0:0\n"
                  "  fmcl train --data points.npy --width 256 --depth 3\n"
                  "  fmcl train --path vp --steps 5000\n"
                  "  fmcl train --path ve --sigma-hi 20 --coupling ot\n"
                  "  fmcl train --data fashion-mnist --width 512 --depth 3 --batch 128 --hflip\n"
                  "  fmcl train --data fashion-mnist --cond --label-drop 0.1 --out runs/c\n"
                  "  fmcl train --data images:photos --image-size 32 --channels 3\n"
                  "  fmcl train --steps 5000 --warmup 200 --lr-schedule cosine --ema 0.999 "
                  "--ckpt-every 500 --out runs/a\n"
                  "  fmcl train --resume runs/a\n",
        .specs = specs,
        .n = (int)(sizeof specs / sizeof specs[0]),
    };
    const fmcl_setting_scope T = FMCL_SCOPE_TRAIN, I = FMCL_SCOPE_IMAGES;
    const arg_binding binds[] = {{"image-size", I, "size"},
                                 {"channels", I, NULL},
                                 {"limit", I, NULL},
                                 {"label-drop", T, NULL},
                                 {"width", FMCL_SCOPE_MLP, NULL},
                                 {"depth", FMCL_SCOPE_MLP, NULL},
                                 {"time-freqs", FMCL_SCOPE_MLP, NULL},
                                 {"batch", T, NULL},
                                 {"steps", T, NULL},
                                 {"lr", T, NULL},
                                 {"path", T, NULL},
                                 {"sigma-min", T, NULL},
                                 {"poly-n", T, NULL},
                                 {"beta-min", T, NULL},
                                 {"beta-max", T, NULL},
                                 {"sigma-lo", T, NULL},
                                 {"sigma-hi", T, NULL},
                                 {"coupling", T, NULL},
                                 {"weight-decay", T, NULL},
                                 {"clip", T, NULL},
                                 {"ema", T, NULL},
                                 {"warmup", T, NULL},
                                 {"lr-schedule", T, NULL},
                                 TRAIN_MODEL_BINDS};
    args_bind(&cmd, binds, (int)(sizeof binds / sizeof *binds));
    int rc = args_parse(&cmd, argc, argv);
    if (rc != ARGS_OK) return rc == ARGS_HELP ? CLI_OK : rc;
    train_rank r;
    if ((rc = train_group_open(o.device, &r)) != CLI_OK) return rc;
    quiet = r.rank > 0;
    char ckpt[4200];
    const char *resume = NULL;
    int lock = -1;  /* held until the process exits (runlock.h); rank 0's alone */
    if (o.resume) { /* locked before the checks that tidy the folder */
        if (r.rank == 0 && outputs_has_run(o.resume) && (lock = runlock_take(o.resume)) < 0)
            rc = CLI_FAIL;
        if (rc == CLI_OK) rc = train_resume_opts(&cmd, &o, ckpt, sizeof ckpt);
        resume = ckpt;
    } else if ((rc = check_path_flags(&cmd, &o)) == CLI_OK &&
               (rc = check_image_flags(&cmd, &o)) == CLI_OK &&
               (rc = train_cond_flags(&cmd, &o)) == CLI_OK) {
        rc = train_model_flags(&cmd, &o);
    }
    if (train_group_failed(&r, rc != CLI_OK, "refused the flags or the run to resume")) {
        train_group_close(&r);
        return rc != CLI_OK ? rc : CLI_FAIL;
    }
    train_data d;
    rc = load_data(&cmd, &o, o.data, &d);
    if (train_group_failed(&r, rc != CLI_OK, "could not open the data")) {
        fmcl_data_free(d.src);
        train_group_close(&r);
        return rc != CLI_OK ? rc : CLI_FAIL;
    }
    if (d.kind == FMCL_DATA_TOY) o.data = d.name; /* the canonical spelling */
    if (!resume && !args_find(&cmd, "batch")->seen && strcmp(o.model, "unet") == 0)
        o.batch = TRAIN_UNET_BATCH;
    if (!resume && !args_find(&cmd, "ema")->seen && d.kind == FMCL_DATA_IMAGES)
        o.ema = DEFAULT_EMA_IMAGES;
    char dir[4096] = "";
    int created = 0;
    if (r.rank == 0) { /* rank 0 alone writes the run folder */
        rc = make_out_dir(&o, &d, dir, sizeof dir, &created);
        if (rc == CLI_OK && lock < 0 && (lock = runlock_take(dir)) < 0) rc = CLI_FAIL;
        if (rc == CLI_OK && !resume) rc = outputs_run_dir(dir, o.overwrite);
    }
    if (train_group_failed(&r, rc != CLI_OK, "could not make the run folder") && rc == CLI_OK)
        rc = CLI_FAIL;
    if (rc == CLI_OK) {
        rc = train(&cmd, &o, &d, dir, resume, &r);
        if (rc == CLI_OK && r.rank == 0 && d.kind == FMCL_DATA_IMAGES)
            printf("wrote %s/: model.safetensors loss.csv data.png samples.png loss.png\n"
                   "pictures: %s/data.png %s/samples.png %s/loss.png\n",
                   dir, dir, dir, dir);
        else if (rc == CLI_OK && r.rank == 0)
            printf("wrote %s/: model.safetensors loss.csv densities.png trajectories.png "
                   "loss.png\npictures: %s/densities.png %s/trajectories.png %s/loss.png\n",
                   dir, dir, dir, dir);
    }
    if (rc != CLI_OK && created && !outputs_has_run(dir)) {
        runlock_release(lock, dir);
        rmdir(dir); /* only succeeds while it is still empty */
    }
    fmcl_data_free(d.src);
    train_group_close(&r);
    return rc;
}
