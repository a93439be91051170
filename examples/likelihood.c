/* Loads a checkpoint, evaluates the velocity field at a few points and
 * times, and computes the exact log-likelihood of points under the model.
 *
 *   cc likelihood.c $(pkg-config --cflags --libs fmcl) -lm -o likelihood
 *   ./likelihood MODEL.safetensors [DEVICE]
 */
#include <math.h>
#include <stdio.h>

#include <fmcl.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.safetensors [DEVICE]\n", argv[0]);
        return 2;
    }
    char err[4096];
    fmcl_ctx *ctx = NULL;
    fmcl_model *model = NULL;
    int rc = 1;
    if (fmcl_ctx_create(&ctx, argc > 2 ? argv[2] : NULL, err, sizeof err) != FMCL_OK) {
        fprintf(stderr, "no context: %s\n", err);
        return 1;
    }
    /* The EMA of the weights when the checkpoint has one. */
    if (fmcl_model_load(ctx, argv[1], FMCL_WEIGHTS_DEFAULT, &model) != FMCL_OK) goto fail;
    const fmcl_model_config *mc = fmcl_model_get_config(model);
    if (mc->kind != FMCL_MODEL_MLP || mc->dim != 2 || mc->classes != 0) {
        fprintf(stderr, "%s: this example wants an unconditional 2D model\n", argv[1]);
        goto done;
    }
    printf("%s: %s, %zu parameters (%s weights)\n", argv[1], fmcl_name(FMCL_NAMES_MODEL, mc->kind),
           fmcl_model_param_count(model), fmcl_model_is_ema(model) ? "EMA" : "trained");

    /* v(x, t) at three points, at the start and the end of the flow. */
    const float x[3 * 2] = {0.5f, 0.5f, -1.0f, 2.0f, 3.0f, -3.0f};
    for (int k = 0; k < 2; k++) {
        const float t[3] = {(float)k, (float)k, (float)k};
        float v[3 * 2];
        if (fmcl_model_forward(model, x, t, NULL, 3, v) != FMCL_OK) goto fail;
        for (int i = 0; i < 3; i++)
            printf("v((%5.2f, %5.2f), t=%d) = (%8.4f, %8.4f)\n", x[2 * i], x[2 * i + 1], k,
                   v[2 * i], v[2 * i + 1]);
    }

    /* log p1(x): dopri5 at 1e-5 with the exact divergence (the defaults). */
    fmcl_nll_config nc;
    fmcl_nll_config_default(&nc);
    double logp[3];
    int nfe = 0;
    if (fmcl_log_prob(model, &nc, x, 3, logp, &nfe) != FMCL_OK) goto fail;
    for (int i = 0; i < 3; i++) {
        printf("log p((%5.2f, %5.2f)) = %.6f nats\n", x[2 * i], x[2 * i + 1], logp[i]);
        if (!isfinite(logp[i])) {
            fprintf(stderr, "a log-likelihood is not finite\n");
            goto done;
        }
    }
    fmcl_nll_stats st;
    fmcl_nll_stats_of(logp, 3, 2, &st);
    printf("mean NLL %.6f nats (%.6f bits/dim), NFE %d\n", st.nll, st.bpd, nfe);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "fmcl: %s\n", fmcl_ctx_error(ctx));
done:
    fmcl_model_free(model);
    fmcl_ctx_free(ctx);
    return rc;
}
