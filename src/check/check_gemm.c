/* Self-check of the GEMM (CLBlast through fmcl_gemm) and of the MLP's
 * forward and backward built on it (src/nn/mlp.h). */
#include "check/check.h"
#include "nn/mlp.h"

/* Every operand with a leading dimension wider than the matrix, alpha and a
 * nonzero beta: the padding of C must come back untouched. */
static void gemm(chk_suite *s, int ta, int tb, int M, int N, int K)
{
    static const char *tn[2][2] = {{"gemm NN", "gemm NT"}, {"gemm TN", "gemm TT"}};
    chk_case c;
    const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    const size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb,
                 nc = (size_t)M * ldc;
    const float alpha = 0.75f, beta = 0.5f;
    chk_begin(&c, s, tn[!!ta][!!tb], "M=%d N=%d K=%d", M, N, K);
    float *A = chk_host(&c, na), *B = chk_host(&c, nb), *C = chk_host(&c, nc);
    if (chk_ok(&c)) {
        chk_fill(A, na, -1.f, 1.f, 31);
        chk_fill(B, nb, -1.f, 1.f, 32);
        chk_fill(C, nc, -1.f, 1.f, 33);
    }
    fmcl_t tA = chk_buf(&c, A, na), tB = chk_buf(&c, B, nb), tC = chk_buf(&c, C, nc);
    if (chk_ok(&c) && chk_status(&c, fmcl_gemm_reserve(s->ctx, ta, tb, M, N, K, lda, ldb, ldc))) {
        chk_status(&c, fmcl_gemm(s->ctx, ta, tb, M, N, K, alpha, tA, lda, tB, ldb, beta, tC, ldc));
        fmcl_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
    chk_expect_f(&c, "C", tC, nc, C, chk_gemm_tol(K));
    chk_end(&c);
}

static int imax(int a, int b) { return a > b ? a : b; }

/* A model with its activations for B rows; the parameters read back into P. */
static fmcl_mlp *make_mlp(chk_case *c, const fmcl_mlp_spec *cfg, int B, fmcl_mlp_acts *a, float **P)
{
    fmcl_mlp *m = NULL;
    *P = NULL;
    if (!chk_status(c, fmcl_mlp_create(c->s->ctx, cfg, 7, &m))) return NULL;
    if (!chk_status(c, fmcl_mlp_acts_create(m, B, a)) || !(*P = chk_host(c, m->n_params)) ||
        !chk_status(c, fmcl_read(c->s->ctx, m->params, *P, m->n_params * sizeof(float)))) {
        fmcl_mlp_acts_free(a);
        fmcl_mlp_free(m);
        return NULL;
    }
    return m;
}

static void mlp_forward(chk_suite *s, fmcl_mlp_spec cfg, int B)
{
    chk_case c;
    fmcl_mlp_acts a;
    float *P;
    chk_begin(&c, s, "mlp_forward", "D=%d W=%d depth=%d F=%d B=%d", cfg.dim, cfg.width, cfg.depth,
              cfg.time_freqs, B);
    fmcl_mlp *m = make_mlp(&c, &cfg, B, &a, &P);
    if (!m) {
        chk_end(&c);
        return;
    }
    size_t nx = (size_t)B * m->in[0], no = (size_t)B * cfg.dim;
    float *X = chk_host(&c, nx);
    double *want = chk_host_d(&c, no);
    if (chk_ok(&c)) chk_fill(X, nx, -2.f, 2.f, 34);
    fmcl_t tX = chk_buf(&c, X, nx), tout = chk_buf(&c, NULL, no);
    if (chk_ok(&c)) {
        chk_status(&c, fmcl_mlp_forward(m, &a, tout, tX, B));
        fmcl_mlp_forward_ref(m, P, X, B, want);
    }
    /* Each output sums at most max(in, width) products and a bias. */
    chk_expect(&c, "out", tout, no, want, chk_gemm_tol(imax(m->in[0], cfg.width) + 1));
    fmcl_mlp_acts_free(&a);
    fmcl_mlp_free(m);
    chk_end(&c);
}

/* Gradients accumulate into nonzero values, as the header promises. */
static void mlp_backward(chk_suite *s, fmcl_mlp_spec cfg, int B)
{
    chk_case c;
    fmcl_mlp_acts a;
    float *P;
    chk_begin(&c, s, "mlp_backward", "D=%d W=%d depth=%d F=%d B=%d", cfg.dim, cfg.width, cfg.depth,
              cfg.time_freqs, B);
    fmcl_mlp *m = make_mlp(&c, &cfg, B, &a, &P);
    if (!m) {
        chk_end(&c);
        return;
    }
    size_t np = m->n_params, nx = (size_t)B * m->in[0], no = (size_t)B * cfg.dim;
    float *X = chk_host(&c, nx), *dout = chk_host(&c, no), *g0 = chk_host(&c, np);
    if (chk_ok(&c)) {
        chk_fill(X, nx, -2.f, 2.f, 35);
        chk_fill(dout, no, -1.f, 1.f, 36);
        chk_fill(g0, np, -0.5f, 0.5f, 37);
    }
    double *dout_d = chk_widen(&c, dout, no), *g = chk_widen(&c, g0, np), *dX = chk_host_d(&c, nx);
    fmcl_t tX = chk_buf(&c, X, nx), tout = chk_buf(&c, NULL, no), tdout = chk_buf(&c, dout, no);
    fmcl_t tg = chk_buf(&c, g0, np), tdX = chk_buf(&c, NULL, nx);
    if (chk_ok(&c) && chk_status(&c, fmcl_mlp_forward(m, &a, tout, tX, B))) {
        chk_status(&c, fmcl_mlp_backward(m, &a, tg, tdout, tX, tdX, B));
        fmcl_mlp_backward_ref(m, P, X, dout_d, B, g, dX);
    }
    chk_tol tol = chk_gemm_tol(imax(B, imax(m->in[0], cfg.width)) + 1);
    chk_expect(&c, "grads", tg, np, g, tol);
    chk_expect(&c, "dX", tdX, nx, dX, tol);
    fmcl_mlp_acts_free(&a);
    fmcl_mlp_free(m);
    chk_end(&c);
}

void chk_gemm_ops(chk_suite *s)
{
    static const int shapes[][3] = {{37, 129, 3}, {13, 2, 67}, {65, 33, 130}};
    static const fmcl_mlp_spec cfgs[] = {
        {.dim = 2, .width = 7, .depth = 3},
        {.dim = 3, .width = 33, .depth = 1, .time_freqs = 3},
        {.dim = 2, .width = 65, .depth = 2},
    };
    static const int batch[] = {5, 9, 130};
    for (int k = 0; k < 3; k++)
        for (int t = 0; t < 4; t++)
            gemm(s, t >> 1, t & 1, shapes[k][0], shapes[k][1], shapes[k][2]);
    for (int k = 0; k < 3; k++) {
        mlp_forward(s, cfgs[k], batch[k]);
        mlp_backward(s, cfgs[k], batch[k]);
    }
}
