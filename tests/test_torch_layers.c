/* fmcl's image layers against PyTorch. tests/data/torch_layers_ref.safetensors
 * comes from tools/torch_ref_layers.py: float32 inputs and what PyTorch
 * computes from them in float64 (conv2d 3x3 stride 1 and 2 and 1x1, group_norm,
 * nearest 2x interpolation, ADM's multi-head QKV attention: outputs and the
 * gradients of sum(y * dy)). The CPU references are checked first, then every
 * device (gradients accumulated from zero). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "nn/image_ops.h"
#include "testlib.h"

#define REF_PATH "data/torch_layers_ref.safetensors"

/* float32 results vs float64 PyTorch on O(1) values: sums of up to ~200
 * products (dw) keep their rounding below these; a wrong tap, padding or
 * stride moves an element by O(0.1). */
#define ATOL 2e-5
#define RTOL 1e-4

static fmcl_st_file ref;

/* Tensor name as doubles, its shape into shape[ndim] when shape != NULL. */
static double *load(const char *name, int ndim, int64_t *shape, size_t *n_out)
{
    const fmcl_st_tensor *t = fmcl_st_find(&ref, name);
    size_t es = t && t->dtype == FMCL_ST_F64 ? 8 : 4, n = 1;
    if (!tl_check(t && (t->dtype == FMCL_ST_F32 || t->dtype == FMCL_ST_F64) && t->ndim == ndim,
                  "%s: tensor '%s' missing or not %d-D float", REF_PATH, name, ndim))
        return NULL;
    for (int i = 0; i < ndim; i++) {
        n *= (size_t)t->shape[i];
        if (shape) shape[i] = t->shape[i];
    }
    if (!tl_check(t->nbytes == n * es, "%s: '%s' has %zu bytes for %zu elements", REF_PATH, name,
                  t->nbytes, n))
        return NULL;
    double *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (es == 8) {
            memcpy(&out[i], (const char *)t->data + 8 * i, 8);
        } else {
            float v;
            memcpy(&v, (const char *)t->data + 4 * i, 4);
            out[i] = v;
        }
    }
    if (n_out) *n_out = n;
    return out;
}

static float *narrow(const double *d, size_t n)
{
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = (float)d[i];
    return f;
}

typedef struct {
    const char *name;
    int ksize, stride, pad;
} conv_case;

static const conv_case convs[] = {
    {"conv_s1", 3, 1, 1}, {"conv_s2", 3, 2, 1}, {"conv_1x1", 1, 1, 0}};

/* A device buffer of the reference tensor (NULL: zeros of n). */
static int upload(fmcl_ctx *ctx, tl_buf *b, const double *d, size_t n)
{
    float *f = d ? narrow(d, n) : NULL;
    int ok = tl_buf_new(ctx, b, n, f);
    free(f);
    return ok;
}

static void compare(fmcl_ctx *ctx, const char *what, tl_buf *b, const double *want)
{
    float *got = malloc(b->n * sizeof *got);
    if (tl_buf_read(ctx, b, got)) tl_close(what, got, want, b->n, ATOL, RTOL);
    tl_guard_ok(ctx, b, what);
    free(got);
}

/* fmcl_conv_shape of a case from the shapes of x and w. */
static fmcl_conv_shape conv_shape(const conv_case *cc, const int64_t *xs, const int64_t *ws,
                                  int chunk)
{
    return (fmcl_conv_shape){(int)xs[0], (int)xs[1], (int)xs[2], (int)xs[3], (int)ws[0],
                             cc->ksize,  cc->stride, cc->pad,    chunk};
}

/* ctx NULL: the CPU reference; else the device. */
static void check_conv(fmcl_ctx *ctx, const conv_case *cc)
{
    char key[64], what[96];
    int64_t xs[4], ws[4], ys[4];
    size_t nx, nw, nb, ny;
    double *t[8];
    const char *names[8] = {"x", "w", "b", "dy", "y", "dx", "dw", "db"};
    int ok = 1;
    for (int k = 0; k < 8; k++) {
        snprintf(key, sizeof key, "%s.%s", cc->name, names[k]);
        int nd = k == 2 || k == 7 ? 1 : 4;
        t[k] = load(key, nd,
                    k == 0   ? xs
                    : k == 1 ? ws
                    : k == 3 ? ys
                             : NULL,
                    k == 0   ? &nx
                    : k == 1 ? &nw
                    : k == 2 ? &nb
                    : k == 3 ? &ny
                             : NULL);
        ok &= t[k] != NULL;
    }
    fmcl_conv_shape cs = conv_shape(cc, xs, ws, 2);
    if (ok &&
        !tl_check(fmcl_conv_out_h(&cs) == ys[2] && fmcl_conv_out_w(&cs) == ys[3] && ys[1] == ws[0],
                  "%s: output shape disagrees with PyTorch's", cc->name))
        ok = 0;
    if (ok && !ctx) {
        float *x = narrow(t[0], nx), *w = narrow(t[1], nw), *b = narrow(t[2], nb);
        float *dy = narrow(t[3], ny), *y = malloc(ny * 4);
        float *dx = calloc(nx, 4), *dw = calloc(nw, 4), *db = calloc(nb, 4);
        fmcl_conv2d_forward_ref(y, x, w, b, &cs);
        fmcl_conv2d_backward_ref(dx, dw, db, dy, x, w, &cs);
        const float *got[4] = {y, dx, dw, db};
        size_t n[4] = {ny, nx, nw, nb};
        for (int k = 0; k < 4; k++) {
            snprintf(what, sizeof what, "CPU reference %s %s", cc->name, names[4 + k]);
            tl_close(what, got[k], t[4 + k], n[k], ATOL, RTOL);
        }
        free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db);
    } else if (ok) {
        tl_buf bx, bw, bb, bdy, by, bdx, bdw, bdb, bs;
        if (upload(ctx, &bx, t[0], nx) && upload(ctx, &bw, t[1], nw) &&
            upload(ctx, &bb, t[2], nb) && upload(ctx, &bdy, t[3], ny) &&
            upload(ctx, &by, NULL, ny) && upload(ctx, &bdx, NULL, nx) &&
            upload(ctx, &bdw, NULL, nw) && upload(ctx, &bdb, NULL, nb) &&
            upload(ctx, &bs, NULL, fmcl_conv_scratch(&cs)) &&
            tl_check(fmcl_conv_reserve(ctx, &cs) == FMCL_OK &&
                         fmcl_conv2d_forward(ctx, by.t, bx.t, bw.t, bb.t, bs.t, &cs) == FMCL_OK &&
                         fmcl_conv2d_backward(ctx, bdx.t, bdw.t, bdb.t, bdy.t, bx.t, bw.t, bs.t,
                                              &cs) == FMCL_OK,
                     "%s: %s", cc->name, fmcl_ctx_error(ctx))) {
            tl_buf *outs[4] = {&by, &bdx, &bdw, &bdb};
            for (int k = 0; k < 4; k++) {
                snprintf(what, sizeof what, "%s %s", cc->name, names[4 + k]);
                compare(ctx, what, outs[k], t[4 + k]);
            }
        }
        tl_buf_free(&bx), tl_buf_free(&bw), tl_buf_free(&bb), tl_buf_free(&bdy);
        tl_buf_free(&by), tl_buf_free(&bdx), tl_buf_free(&bdw), tl_buf_free(&bdb);
        tl_buf_free(&bs);
    }
    for (int k = 0; k < 8; k++) free(t[k]);
}

static void check_groupnorm(fmcl_ctx *ctx)
{
    int64_t xs[4];
    size_t n, nc;
    const char *gs = fmcl_st_meta(&ref, "gn_groups");
    int G = gs ? atoi(gs) : 0;
    double *x = load("gn.x", 4, xs, &n), *ga = load("gn.gamma", 1, NULL, &nc);
    double *be = load("gn.beta", 1, NULL, NULL), *dy = load("gn.dy", 4, NULL, NULL);
    double *y = load("gn.y", 4, NULL, NULL), *dx = load("gn.dx", 4, NULL, NULL);
    double *dga = load("gn.dgamma", 1, NULL, NULL), *dbe = load("gn.dbeta", 1, NULL, NULL);
    int B = (int)xs[0], C = (int)xs[1], HW = (int)(xs[2] * xs[3]);
    if (x && ga && be && dy && y && dx && dga && dbe &&
        tl_check(G >= 1 && C % G == 0 && nc == (size_t)C, "%s: bad gn_groups '%s'", REF_PATH,
                 gs ? gs : "(missing)")) {
        float *fx = narrow(x, n), *fga = narrow(ga, C), *fbe = narrow(be, C), *fdy = narrow(dy, n);
        float *m = malloc(B * G * 4), *r = malloc(B * G * 4);
        if (!ctx) {
            float *fy = malloc(n * 4), *fdx = calloc(n, 4), *fdga = calloc(C, 4);
            float *fdbe = calloc(C, 4);
            fmcl_groupnorm_forward_ref(fy, m, r, fx, fga, fbe, NULL, 0, B, C, HW, G);
            fmcl_groupnorm_backward_ref(fdx, fdga, fdbe, NULL, fdy, fx, m, r, fga, fbe, NULL, 0, B,
                                        C, HW, G);
            tl_close("CPU reference gn y", fy, y, n, ATOL, RTOL);
            tl_close("CPU reference gn dx", fdx, dx, n, ATOL, RTOL);
            tl_close("CPU reference gn dgamma", fdga, dga, C, ATOL, RTOL);
            tl_close("CPU reference gn dbeta", fdbe, dbe, C, ATOL, RTOL);
            free(fy), free(fdx), free(fdga), free(fdbe);
        } else {
            tl_buf bx, bga, bbe, bdy, by, bm, br, bdx, bdga, bdbe, bs;
            fmcl_t none = {NULL, 0};
            if (upload(ctx, &bx, x, n) && upload(ctx, &bga, ga, C) && upload(ctx, &bbe, be, C) &&
                upload(ctx, &bdy, dy, n) && upload(ctx, &by, NULL, n) &&
                upload(ctx, &bm, NULL, B * G) && upload(ctx, &br, NULL, B * G) &&
                upload(ctx, &bdx, NULL, n) && upload(ctx, &bdga, NULL, C) &&
                upload(ctx, &bdbe, NULL, C) &&
                upload(ctx, &bs, NULL, fmcl_groupnorm_scratch(B, C, HW)) &&
                tl_check(fmcl_groupnorm_forward(ctx, by.t, bm.t, br.t, bx.t, bga.t, bbe.t, none, 0,
                                                B, C, HW, G) == FMCL_OK &&
                             fmcl_groupnorm_backward(ctx, bdx.t, bdga.t, bdbe.t, none, bdy.t, bx.t,
                                                     bm.t, br.t, bga.t, bbe.t, none, 0, bs.t, B, C,
                                                     HW, G) == FMCL_OK,
                         "groupnorm: %s", fmcl_ctx_error(ctx))) {
                compare(ctx, "gn y", &by, y);
                compare(ctx, "gn dx", &bdx, dx);
                compare(ctx, "gn dgamma", &bdga, dga);
                compare(ctx, "gn dbeta", &bdbe, dbe);
            }
            tl_buf_free(&bx), tl_buf_free(&bga), tl_buf_free(&bbe), tl_buf_free(&bdy);
            tl_buf_free(&by), tl_buf_free(&bm), tl_buf_free(&br), tl_buf_free(&bdx);
            tl_buf_free(&bdga), tl_buf_free(&bdbe), tl_buf_free(&bs);
        }
        free(fx), free(fga), free(fbe), free(fdy), free(m), free(r);
    }
    free(x), free(ga), free(be), free(dy), free(y), free(dx), free(dga), free(dbe);
}

static void check_upsample(fmcl_ctx *ctx)
{
    int64_t xs[4];
    size_t n;
    double *x = load("up.x", 4, xs, &n), *dy = load("up.dy", 4, NULL, NULL);
    double *y = load("up.y", 4, NULL, NULL), *dx = load("up.dx", 4, NULL, NULL);
    int B = (int)xs[0], C = (int)xs[1], H = (int)xs[2], W = (int)xs[3];
    if (x && dy && y && dx) {
        float *fx = narrow(x, n), *fdy = narrow(dy, 4 * n);
        if (!ctx) {
            float *fy = malloc(4 * n * 4), *fdx = calloc(n, 4);
            fmcl_upsample2x_forward_ref(fy, fx, B, C, H, W);
            fmcl_upsample2x_backward_ref(fdx, fdy, B, C, H, W);
            tl_close("CPU reference up y", fy, y, 4 * n, ATOL, RTOL);
            tl_close("CPU reference up dx", fdx, dx, n, ATOL, RTOL);
            free(fy), free(fdx);
        } else {
            tl_buf bx, bdy, by, bdx;
            if (upload(ctx, &bx, x, n) && upload(ctx, &bdy, dy, 4 * n) &&
                upload(ctx, &by, NULL, 4 * n) && upload(ctx, &bdx, NULL, n) &&
                tl_check(fmcl_upsample2x_forward(ctx, by.t, bx.t, B, C, H, W) == FMCL_OK &&
                             fmcl_upsample2x_backward(ctx, bdx.t, bdy.t, B, C, H, W) == FMCL_OK,
                         "upsample: %s", fmcl_ctx_error(ctx))) {
                compare(ctx, "up y", &by, y);
                compare(ctx, "up dx", &bdx, dx);
            }
            tl_buf_free(&bx), tl_buf_free(&bdy), tl_buf_free(&by), tl_buf_free(&bdx);
        }
        free(fx), free(fdy);
    }
    free(x), free(dy), free(y), free(dx);
}

static void check_attention(fmcl_ctx *ctx)
{
    int64_t qs[3];
    size_t n, no;
    const char *hs = fmcl_st_meta(&ref, "attn_heads");
    int heads = hs ? atoi(hs) : 0;
    double *qkv = load("attn.qkv", 3, qs, &n), *dy = load("attn.dy", 3, NULL, &no);
    double *y = load("attn.y", 3, NULL, NULL), *dqkv = load("attn.dqkv", 3, NULL, NULL);
    int B = (int)qs[0], C = (int)qs[1] / 3, P = (int)qs[2];
    size_t na = fmcl_attention_scratch(B, P, heads);
    if (qkv && dy && y && dqkv &&
        tl_check(heads >= 1 && C % heads == 0 && no == (size_t)B * C * P,
                 "%s: bad attn_heads '%s' or shapes", REF_PATH, hs ? hs : "(missing)")) {
        float *fq = narrow(qkv, n), *fdy = narrow(dy, no);
        if (!ctx) {
            float *fy = malloc(no * 4), *att = malloc(na * 4), *g = calloc(n, 4);
            fmcl_attention_forward_ref(fy, att, fq, B, C, P, heads);
            fmcl_attention_backward_ref(g, fdy, fq, B, C, P, heads);
            tl_close("CPU reference attn y", fy, y, no, ATOL, RTOL);
            tl_close("CPU reference attn dqkv", g, dqkv, n, ATOL, RTOL);
            free(fy), free(att), free(g);
        } else {
            tl_buf bq, bdy, by, batt, bg, bs;
            if (upload(ctx, &bq, qkv, n) && upload(ctx, &bdy, dy, no) &&
                upload(ctx, &by, NULL, no) && upload(ctx, &batt, NULL, na) &&
                upload(ctx, &bg, NULL, n) && upload(ctx, &bs, NULL, na) &&
                tl_check(fmcl_attention_reserve(ctx, B, C, P, heads) == FMCL_OK &&
                             fmcl_attention_forward(ctx, by.t, batt.t, bq.t, B, C, P, heads) ==
                                 FMCL_OK &&
                             fmcl_attention_backward(ctx, bg.t, bdy.t, bq.t, batt.t, bs.t, B, C, P,
                                                     heads) == FMCL_OK,
                         "attention: %s", fmcl_ctx_error(ctx))) {
                compare(ctx, "attn y", &by, y);
                compare(ctx, "attn dqkv", &bg, dqkv);
            }
            tl_buf_free(&bq), tl_buf_free(&bdy), tl_buf_free(&by), tl_buf_free(&batt);
            tl_buf_free(&bg), tl_buf_free(&bs);
        }
        free(fq), free(fdy);
    }
    free(qkv), free(dy), free(y), free(dqkv);
}

static void check_all(fmcl_ctx *ctx)
{
    for (size_t k = 0; k < sizeof convs / sizeof convs[0]; k++) check_conv(ctx, &convs[k]);
    check_groupnorm(ctx);
    check_upsample(ctx);
    check_attention(ctx);
}

static int run(fmcl_ctx *ctx, void *user)
{
    (void)user;
    check_all(ctx);
    return 0;
}

int main(void)
{
    char err[512];
    if (!tl_check(fmcl_st_read(REF_PATH, &ref, err, sizeof err) == FMCL_OK, "%s", err))
        return tl_summary();
    check_all(NULL);
    int rc = tl_for_each_device(run, NULL);
    fmcl_st_free(&ref);
    return rc;
}
