/* fmcl train --cond: class-conditional training on an image set's labels
 * (see train_cond.h). */
#include "train_cond.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "cli_images.h"
#include "progress.h"

int train_cond_flags(arg_cmd *cmd, const train_opts *o)
{
    if (args_find(cmd, "label-drop")->seen && !o->cond)
        return args_usage(cmd, "--label-drop is the label dropout of --cond training; add --cond "
                               "or drop it");
    if (o->cond && !fmcl_data_spec_is_images(o->data))
        return args_usage(cmd,
                          "--cond trains on the class labels of an image set "
                          "(fashion-mnist, mnist:DIR, idx:FILE, cifar10:PATH), not --data %s",
                          o->data);
    return CLI_OK;
}

int train_cond_config(const train_opts *o, const fmcl_data *data, fmcl_model_config *mc,
                      fmcl_train_config *tc)
{
    if (!o->cond) return CLI_OK;
    if (fmcl_data_classes(data) < 1)
        return cli_error("--cond: %s has no labels (images:DIR never has; idx:FILE needs its "
                         "labels-idx1 file beside it); train without --cond",
                         o->data);
    mc->classes = fmcl_data_classes(data);
    tc->label_drop = (float)o->label_drop;
    return CLI_OK;
}

int train_cond_samples(fmcl_ctx *ctx, fmcl_model *m, const fmcl_sample_config *base,
                       const char *path, const int shape[3])
{
    const int K = fmcl_model_get_config(m)->classes;
    const size_t D = (size_t)shape[0] * shape[1] * shape[2], n = (size_t)K * COND_PER_CLASS;
    float *x = malloc(sizeof *x * n * D);
    int *cls = malloc(sizeof *cls * n);
    int rc = CLI_OK, nfe = 0;
    if (!x || !cls) rc = cli_error("out of host memory for %zu class samples", n);
    for (size_t i = 0; rc == CLI_OK && i < n; i++) cls[i] = (int)(i / COND_PER_CLASS);
    fmcl_sample_config sc = *base;
    sc.n = (int)n, sc.classes = cls;
    double t0 = cli_now();
    eval_progress ep;
    eval_progress_start(&ep, stderr, "sampling the class grid", &sc);
    if (rc == CLI_OK && fmcl_sample(m, &sc, x, NULL, &nfe) != FMCL_OK)
        rc = cli_lib_error("", fmcl_ctx_error(ctx));
    eval_progress_end(&ep);
    if (rc == CLI_OK) {
        fprintf(stderr,
                "sampled %d images of each of %d classes (%s, %d steps, NFE %d) in "
                "%.2f s\n",
                COND_PER_CLASS, K, fmcl_name(FMCL_NAMES_SOLVER, sc.solver), sc.steps, nfe,
                cli_now() - t0);
        rc = cli_write_class_grid(path, x, K, COND_PER_CLASS, shape);
    }
    free(x);
    free(cls);
    return rc;
}
