/* Trains a flow on the built-in checkerboard, saves it, and samples it:
 * the library's smallest complete use.
 *
 *   cc train_sample.c $(pkg-config --cflags --libs fmcl) -lm -o train_sample
 *   ./train_sample [OUT.safetensors [DEVICE]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <fmcl.h>

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : "checkerboard.safetensors";
    const char *device = argc > 2 ? argv[2] : NULL; /* NULL: the default device */
    char err[4096];
    fmcl_ctx *ctx = NULL;
    fmcl_data *data = NULL;
    fmcl_model *model = NULL;
    fmcl_trainer *trainer = NULL;
    int rc = 1;

    if (fmcl_ctx_create(&ctx, device, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "no context: %s\n", err);
        return 1;
    }
    printf("fmcl %s on %s\n", fmcl_version_string(), fmcl_ctx_device(ctx)->device_name);
    if (fmcl_data_create_toy(FMCL_TOY_CHECKERBOARD, &data, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }

    fmcl_model_config mc;
    fmcl_model_config_default(&mc, FMCL_MODEL_MLP);
    mc.mlp.width = 128;
    mc.mlp.depth = 3;
    fmcl_train_config tc;
    fmcl_train_config_default(&tc);
    tc.batch = 1024;
    tc.steps = 1000;
    tc.lr = 2e-3f;
    if (fmcl_model_create(ctx, &mc, tc.seed, &model) != FMCL_OK ||
        fmcl_trainer_create(model, data, &tc, &trainer) != FMCL_OK)
        goto fail;

    /* Steps are enqueued without waiting; losses reach the host on request. */
    float loss[100];
    for (int done = 0; done < tc.steps; done += 100) {
        if (fmcl_trainer_run(trainer, 100) != FMCL_OK ||
            fmcl_trainer_losses(trainer, done, 100, loss) != FMCL_OK)
            goto fail;
        printf("step %4d  loss %.4f\n", done + 100, loss[99]);
    }
    if (fmcl_trainer_save(trainer, out) != FMCL_OK) goto fail;
    printf("saved %s (%zu parameters)\n", out, fmcl_model_param_count(model));

    /* 1000 samples, midpoint rule in 20 steps (the defaults). */
    fmcl_sample_config sc;
    fmcl_sample_config_default(&sc);
    sc.n = 1000;
    float *x = malloc(sizeof(float) * 2 * (size_t)sc.n);
    if (!x || fmcl_sample(model, &sc, x, NULL, NULL) != FMCL_OK) {
        free(x);
        goto fail;
    }
    /* The board: x and y scaled by 0.45 lie in [-2, 2), their floors' sum even. */
    int inside = 0;
    for (int i = 0; i < sc.n; i++) {
        double a = 0.45 * x[2 * i], b = 0.45 * x[2 * i + 1];
        inside += a >= -2 && a < 2 && b >= -2 && b < 2 && ((int)floor(a) + (int)floor(b)) % 2 == 0;
    }
    printf("%d of %d samples on the board's cells\n", inside, sc.n);
    free(x);
    /* Noise covers the black and white cells alike: a trained flow does better. */
    if (inside < sc.n * 7 / 10) {
        fprintf(stderr, "fewer than 70%% of the samples on the board: the flow did not learn\n");
        goto done;
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "fmcl: %s\n", fmcl_ctx_error(ctx));
done:
    fmcl_trainer_free(trainer);
    fmcl_model_free(model);
    fmcl_data_free(data);
    fmcl_ctx_free(ctx);
    return rc;
}
