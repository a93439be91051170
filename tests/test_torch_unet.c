/* The U-Net against PyTorch. tests/data/torch_unet_ref.safetensors comes
 * from tools/torch_ref_unet.py: ADM's UNetModel written in PyTorch with the
 * same module names, random float32 parameters and inputs, and what PyTorch
 * computes from them in float64: the output and the gradients of
 * sum(y * dy) for every parameter and for x. Three cases: one ResBlock with
 * its time conditioning (6 -> 4 channels, 5x7), one AttentionBlock (6
 * channels, 2 heads, 3x5), then the whole U-Net (3 levels, 2 ResBlocks per
 * level, attention at two levels). Each parameter table must equal the
 * state_dict (names, shapes, order); the CPU reference and every device
 * must match the outputs and gradients. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "nn/unet.h"
#include "testlib.h"

#define REF_PATH "data/torch_unet_ref.safetensors"

static fmcl_st_file ref;

/* The tensor as floats (F32) or doubles (F64), n elements expected. */
static void *load(const char *prefix, const char *base, int dtype, size_t n)
{
    char name[64];
    snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "." : "", base);
    const fmcl_st_tensor *t = fmcl_st_find(&ref, name);
    size_t es = dtype == FMCL_ST_F64 ? 8 : 4;
    if (!tl_check(t && t->dtype == dtype && t->nbytes == n * es,
                  "%s: tensor '%s' missing, of another dtype or not %zu elements", REF_PATH, name,
                  n))
        return NULL;
    void *out = malloc(n * es);
    memcpy(out, t->data, n * es);
    return out;
}

static int meta_int(const char *key)
{
    const char *s = fmcl_st_meta(&ref, key);
    return s ? atoi(s) : -1;
}

/* Comma-separated integers into v; returns how many. */
static int meta_list(const char *key, int *v, int cap)
{
    const char *s = fmcl_st_meta(&ref, key);
    int n = 0;
    while (s && *s && n < cap) {
        v[n++] = atoi(s);
        s = strchr(s, ',');
        if (s) s++;
    }
    return n;
}

/* The whole U-Net's configuration and batch, from the metadata. */
static int read_config(fmcl_unet_spec *c, int *batch)
{
    fmcl_unet_spec cfg;
    int attn[FMCL_UNET_MAX_LEVELS];
    memset(&cfg, 0, sizeof cfg);
    cfg.channels = meta_int("channels"), cfg.height = meta_int("height");
    cfg.width = meta_int("width"), cfg.base = meta_int("base"), cfg.blocks = meta_int("blocks");
    cfg.heads = meta_int("heads"), cfg.groups = meta_int("groups");
    cfg.levels = meta_list("mult", cfg.mult, FMCL_UNET_MAX_LEVELS);
    int na = meta_list("attn_levels", attn, FMCL_UNET_MAX_LEVELS);
    for (int i = 0; i < na; i++) cfg.attn_levels |= 1u << attn[i];
    *batch = meta_int("batch");
    *c = cfg;
    char err[512];
    return tl_check(*batch >= 1 && fmcl_unet_check_spec(&cfg, err, sizeof err) == FMCL_OK,
                    "%s: configuration in the metadata: %s", REF_PATH, *batch < 1 ? "batch" : err);
}

/* One case: what the plan is made of and the reference tensors. */
typedef struct {
    const char *label, *prefix, *tname, *names_key; /* U-Net: "", "t", "names" */
    int unet;                                       /* else a block: the fields below */
    fmcl_unet_spec cfg;
    int attention, Cin, Cout, H, W, emb, heads, groups, B;
    size_t np, nx, nt, ny;
    float *params, *x, *t, *dy;
    double *y, *grads, *dx;
} ref_case;

static fmcl_status make_plan(const ref_case *c, fmcl_unet_plan **p, char *err, size_t errlen)
{
    if (c->unet) return fmcl_unet_plan_create(&c->cfg, c->B, p, err, errlen);
    return fmcl_unet_plan_block(c->attention, c->Cin, c->Cout, c->H, c->W, c->emb, c->heads,
                                c->groups, c->B, p, err, errlen);
}

/* "name:d0xd1,..." of fmcl's table must equal PyTorch's state_dict. */
static void check_names(const ref_case *c, const fmcl_unet_plan *p)
{
    const char *want = fmcl_st_meta(&ref, c->names_key);
    size_t cap = 64 * 1024, len = 0;
    char *got = malloc(cap);
    got[0] = 0;
    for (int i = 0; i < fmcl_unet_plan_tensor_count(p) && len + 128 < cap; i++) {
        const fmcl_unet_param *e = fmcl_unet_plan_tensor(p, i);
        len += (size_t)snprintf(got + len, cap - len, "%s%s:", i ? "," : "", e->name);
        for (int d = 0; d < e->ndim; d++)
            len += (size_t)snprintf(got + len, cap - len, "%s%d", d ? "x" : "", e->shape[d]);
    }
    int same = want && strcmp(want, got) == 0;
    if (!same && want) {
        size_t k = 0;
        while (want[k] && want[k] == got[k]) k++;
        printf("  names differ at byte %zu: fmcl '%.60s' PyTorch '%.60s'\n", k, got + k, want + k);
    }
    tl_check(same, "%s: parameter names, shapes and order equal PyTorch's state_dict (%d tensors)",
             c->label, fmcl_unet_plan_tensor_count(p));
    free(got);
}

/* float32 against float64 through up to ~60 layers of O(1) values. */
#define ATOL 1e-4
#define RTOL 1e-3
/* The device adds GEMM rounding (docs/DESIGN.md, "Tolerances": |d| <= 1e-3 or rel <= 5e-3). */
#define DEV_ATOL 1e-3
#define DEV_RTOL 5e-3

static void compare3(const ref_case *c, const char *who, const float *y, const float *g,
                     const float *dx, double atol, double rtol)
{
    char what[96];
    snprintf(what, sizeof what, "%s %s y", who, c->label);
    tl_close(what, y, c->y, c->ny, atol, rtol);
    snprintf(what, sizeof what, "%s %s parameter gradients", who, c->label);
    tl_close(what, g, c->grads, c->np, atol, rtol);
    snprintf(what, sizeof what, "%s %s dx", who, c->label);
    tl_close(what, dx, c->dx, c->nx, atol, rtol);
}

/* Plans the case, checks its names and loads its tensors; 0 on failure. */
static int load_case(ref_case *c)
{
    char err[512];
    fmcl_unet_plan *p;
    if (!tl_check(make_plan(c, &p, err, sizeof err) == FMCL_OK, "%s: %s", c->label, err)) return 0;
    check_names(c, p);
    size_t out_per = (size_t)(c->unet ? c->cfg.channels : c->Cout) * c->H * c->W;
    c->np = fmcl_unet_plan_params(p);
    c->nx = (size_t)c->B * (c->unet ? c->cfg.channels : c->Cin) * c->H * c->W;
    c->ny = (size_t)c->B * out_per;
    c->nt = (size_t)c->B * (c->unet ? 1 : (size_t)c->emb);
    c->params = load(c->prefix, "params", FMCL_ST_F32, c->np);
    c->x = load(c->prefix, "x", FMCL_ST_F32, c->nx);
    c->t = load(c->prefix, c->tname, FMCL_ST_F32, c->nt);
    c->dy = load(c->prefix, "dy", FMCL_ST_F32, c->ny);
    c->y = load(c->prefix, c->unet ? "v" : "y", FMCL_ST_F64, c->ny);
    c->grads = load(c->prefix, "grads", FMCL_ST_F64, c->np);
    c->dx = load(c->prefix, "dx", FMCL_ST_F64, c->nx);
    int ok = c->params && c->x && c->t && c->dy && c->y && c->grads && c->dx;
    if (ok) {
        float *y = malloc(c->ny * 4), *g = calloc(c->np, 4), *dx = malloc(c->nx * 4);
        fmcl_unet_forward_ref(p, c->params, c->x, c->t, NULL, y);
        fmcl_unet_grad_ref(p, c->params, c->x, c->t, NULL, c->dy, g, dx);
        compare3(c, "CPU reference", y, g, dx, ATOL, RTOL);
        free(y), free(g), free(dx);
    }
    fmcl_unet_plan_free(p);
    return ok;
}

static void free_case(ref_case *c)
{
    free(c->params), free(c->x), free(c->t), free(c->dy), free(c->y), free(c->grads);
    free(c->dx);
}

/* The case on the device: a model of the plan's parameters assembled here,
 * so blocks and the whole U-Net run the same way. */
static void run_case(fmcl_ctx *ctx, const ref_case *c)
{
    fmcl_unet_plan *p;
    fmcl_unet_acts a;
    fmcl_unet u = {ctx, c->cfg, NULL, c->np, {0}};
    if (make_plan(c, &p, ctx->err, sizeof ctx->err) != FMCL_OK ||
        fmcl_unet_acts_for_plan(ctx, p, &a) != FMCL_OK) {
        tl_check(0, "%s: %s", c->label, fmcl_ctx_error(ctx));
        return;
    }
    tl_buf bx, bt, bdy, by, bg, bdx;
    int ok = tl_buf_new(ctx, &bx, c->nx, c->x) & tl_buf_new(ctx, &bt, c->nt, c->t) &
             tl_buf_new(ctx, &bdy, c->ny, c->dy) & tl_buf_new(ctx, &by, c->ny, NULL) &
             tl_buf_new(ctx, &bg, c->np, NULL) & tl_buf_new(ctx, &bdx, c->nx, NULL);
    fmcl_status s = ok ? fmcl_alloc(ctx, c->np * 4, &u.params, "test parameters") : FMCL_ERR_NOMEM;
    if (s == FMCL_OK) s = fmcl_write(ctx, u.params, c->params, c->np * 4);
    const fmcl_t none = {NULL, 0}; /* unconditional */
    if (s == FMCL_OK) s = fmcl_unet_forward(&u, &a, by.t, bx.t, bt.t, none, c->B);
    if (s == FMCL_OK) s = fmcl_unet_backward(&u, &a, bg.t, bdy.t, bx.t, none, bdx.t, c->B);
    float *y = malloc(c->ny * 4), *g = malloc(c->np * 4), *dx = malloc(c->nx * 4);
    if (tl_check(s == FMCL_OK, "%s forward/backward: %s", c->label, fmcl_ctx_error(ctx)) &&
        tl_buf_read(ctx, &by, y) && tl_buf_read(ctx, &bg, g) && tl_buf_read(ctx, &bdx, dx)) {
        compare3(c, "device", y, g, dx, DEV_ATOL, DEV_RTOL);
        tl_guard_ok(ctx, &by, "y");
        tl_guard_ok(ctx, &bg, "grads");
        tl_guard_ok(ctx, &bdx, "dx");
    }
    free(y), free(g), free(dx);
    tl_buf_free(&bx), tl_buf_free(&bt), tl_buf_free(&bdy), tl_buf_free(&by), tl_buf_free(&bg);
    tl_buf_free(&bdx);
    fmcl_release(&u.params);
    fmcl_unet_acts_free(&a);
}

#define N_CASES 3

static int run(fmcl_ctx *ctx, void *user)
{
    ref_case *cases = user;
    for (int i = 0; i < N_CASES; i++) run_case(ctx, &cases[i]);
    return 0;
}

int main(void)
{
    char err[512];
    if (!tl_check(fmcl_st_read(REF_PATH, &ref, err, sizeof err) == FMCL_OK, "%s", err))
        return tl_summary();
    ref_case cases[N_CASES] = {
        {.label = "ResBlock",
         .prefix = "res",
         .tname = "emb",
         .names_key = "res_names",
         .attention = 0,
         .Cin = 6,
         .Cout = 4,
         .H = 5,
         .W = 7,
         .emb = 12,
         .heads = 1,
         .groups = 2,
         .B = 3},
        {.label = "AttentionBlock",
         .prefix = "attn",
         .tname = "emb",
         .names_key = "attn_names",
         .attention = 1,
         .Cin = 6,
         .Cout = 6,
         .H = 3,
         .W = 5,
         .emb = 12,
         .heads = 2,
         .groups = 3,
         .B = 2},
        {.label = "U-Net", .prefix = "", .tname = "t", .names_key = "names", .unet = 1}};
    int ok = read_config(&cases[2].cfg, &cases[2].B);
    cases[2].H = cases[2].cfg.height, cases[2].W = cases[2].cfg.width;
    for (int i = 0; i < N_CASES; i++) ok &= load_case(&cases[i]);
    int rc = ok ? tl_for_each_device(run, cases) : tl_summary();
    for (int i = 0; i < N_CASES; i++) free_case(&cases[i]);
    fmcl_st_free(&ref);
    return rc;
}
