/* Plans the U-Net (unet.h): the parameter table in PyTorch's state_dict
 * order with ADM's module names, the op list, and one activation buffer:
 * activations, then the gradients (packed by when they are live in the
 * backward), then scratch shared by the ops (they run one at a time). */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/settings.h"
#include "nn/nn_ops.h"
#include "nn/unet_plan.h"

void fmcl_unet_spec_default(fmcl_unet_spec *cfg, int channels, int height, int width)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->channels = channels;
    cfg->height = height;
    cfg->width = width;
    cfg->base = 32;
    cfg->levels = 3;
    cfg->mult[0] = 1;
    cfg->mult[1] = 2;
    cfg->mult[2] = 2;
    cfg->blocks = 1;
    cfg->attn_levels = 1u << 2; /* 7x7 for 28x28, 8x8 for 32x32 */
    cfg->heads = 4;
    cfg->groups = 8;
}

/* Columns per conv GEMM are bounded so the im2col scratch stays near 64 MB. */
#define CONV_SCRATCH_TARGET ((size_t)16 << 20)

typedef struct {
    fmcl_unet_plan *p;
    int cap_ops, cap_slots, cap_tensors;
    int oom;
    char *err; /* the first shape problem, for fmcl_unet_check_spec */
    size_t errlen;
    int emb; /* slot of SiLU(emb), shared by every ResBlock's emb_layers */
    int emb_dim;
    int drop_sites; /* dropout ops so far: the next one's site */
} builder;

static void *grow(void *a, int *cap, int n, size_t elem, int *oom)
{
    if (n < *cap) return a;
    int nc = *cap ? 2 * *cap : 64;
    void *b = realloc(a, (size_t)nc * elem);
    if (!b) {
        *oom = 1;
        return NULL;
    }
    *cap = nc;
    return b;
}

static void problem(builder *bd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(builder *bd, const char *fmt, ...)
{
    if (!bd->err || bd->err[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bd->err, bd->errlen, fmt, ap);
    va_end(ap);
}

static int new_slot(builder *bd, size_t per, int grad)
{
    fmcl_unet_plan *p = bd->p;
    void *s = grow(p->slots, &bd->cap_slots, p->n_slots, sizeof *p->slots, &bd->oom);
    if (!s) return 0;
    p->slots = s;
    p->slots[p->n_slots] = (unet_slot){per, 0, grad ? 0 : SIZE_MAX, 0, -1, -1};
    return p->n_slots++;
}

static unet_op *new_op(builder *bd, int kind, int in, int out)
{
    fmcl_unet_plan *p = bd->p;
    void *o = grow(p->ops, &bd->cap_ops, p->n_ops, sizeof *p->ops, &bd->oom);
    if (!o) return NULL;
    p->ops = o;
    unet_op *op = &p->ops[p->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->in = in;
    op->out = out;
    return op;
}

/* Appends a parameter tensor "prefix.suffix" of up to 4 dimensions (0-terminated). */
static size_t param(builder *bd, const char *prefix, const char *suffix, int init, int fan_in,
                    int d0, int d1, int d2, int d3)
{
    fmcl_unet_plan *p = bd->p;
    void *t = grow(p->tensors, &bd->cap_tensors, p->n_tensors, sizeof *p->tensors, &bd->oom);
    if (!t) return 0;
    p->tensors = t;
    fmcl_unet_param *e = &p->tensors[p->n_tensors++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s.%s", prefix, suffix);
    int dims[4] = {d0, d1, d2, d3};
    e->n = 1;
    for (int i = 0; i < 4 && dims[i]; i++) {
        e->shape[e->ndim++] = dims[i];
        e->n *= (size_t)dims[i];
    }
    e->off = p->n_params;
    e->init = init;
    e->fan_in = fan_in;
    p->n_params += e->n;
    return e->off;
}

static void weight_bias(builder *bd, const char *prefix, int zero, int K, int C, int ks, int conv1d,
                        size_t *w, size_t *b)
{
    int init = zero ? FMCL_UNET_INIT_ZERO : FMCL_UNET_INIT_UNIFORM, fan = C * ks * ks;
    /* ADM's attention convolutions are conv1d on [B, C, HW]: weights [K, C, 1] */
    *w = param(bd, prefix, "weight", init, fan, K, C, ks, conv1d ? 0 : ks);
    *b = param(bd, prefix, "bias", init, fan, K, 0, 0, 0);
}

static int conv(builder *bd, int in, size_t w, size_t b, int C, int H, int W, int K, int ks,
                int stride)
{
    fmcl_conv_shape cs = {bd->p->B, C, H, W, K, ks, stride, ks / 2, 1};
    int Ho = fmcl_conv_out_h(&cs), Wo = fmcl_conv_out_w(&cs);
    int out = new_slot(bd, (size_t)K * Ho * Wo, 1);
    unet_op *op = new_op(bd, UNET_CONV, in, out);
    if (!op) return 0;
    size_t per = ((size_t)C * ks * ks + (size_t)K) * Ho * Wo, chunk = CONV_SCRATCH_TARGET / per;
    op->w = w;
    op->b = b;
    op->C = C, op->H = H, op->W = W, op->K = K, op->ks = ks, op->stride = stride;
    op->pad = ks / 2;
    op->chunk = chunk < 1 ? 1 : chunk > (size_t)bd->p->B ? bd->p->B : (int)chunk;
    bd->p->flops += 2.0 * K * C * ks * ks * Ho * Wo;
    return out;
}

/* GroupNorm, then the scale and shift of slot ss (-1: none), then SiLU when
 * silu: one op (kernels/norm.cl fuses them). */
static int groupnorm(builder *bd, const char *prefix, int in, int C, int HW, int ss, int silu)
{
    int G = bd->p->cfg.groups;
    if (C % G)
        problem(bd, "GroupNorm %s has %d channels, not a multiple of groups = %d", prefix, C, G);
    size_t g = param(bd, prefix, "weight", FMCL_UNET_INIT_ONE, 0, C, 0, 0, 0);
    size_t be = param(bd, prefix, "bias", FMCL_UNET_INIT_ZERO, 0, C, 0, 0, 0);
    int out = new_slot(bd, (size_t)C * HW, 1);
    int mean = new_slot(bd, (size_t)G, 0), rstd = new_slot(bd, (size_t)G, 0);
    unet_op *op = new_op(bd, UNET_GN, in, out);
    if (!op) return 0;
    op->aux = mean, op->aux2 = rstd, op->w = g, op->b = be, op->C = C, op->H = HW, op->W = 1;
    op->G = G, op->in2 = ss, op->K = silu;
    return out;
}

static int unary(builder *bd, int kind, int in, size_t per)
{
    int out = new_slot(bd, per, kind != UNET_TEMB);
    unet_op *op = new_op(bd, kind, in, out);
    if (op) op->C = (int)per;
    return out;
}

/* Dropout (no parameters) at the next site. */
static int dropout(builder *bd, int in, size_t per)
{
    int out = new_slot(bd, per, 1);
    unet_op *op = new_op(bd, UNET_DROP, in, out);
    if (op) op->C = (int)per, op->K = bd->drop_sites++;
    return out;
}

static int binary(builder *bd, int kind, int in, int in2, size_t per)
{
    int out = new_slot(bd, per, 1);
    unet_op *op = new_op(bd, kind, in, out);
    if (op) op->in2 = in2, op->C = (int)per;
    return out;
}

static int concat(builder *bd, int a, int b, int Ca, int Cb, int HW)
{
    int out = new_slot(bd, (size_t)(Ca + Cb) * HW, 1);
    unet_op *op = new_op(bd, UNET_CAT, a, out);
    if (op) op->in2 = b, op->C = Ca, op->K = Cb, op->H = HW;
    return out;
}

static int upsample(builder *bd, int in, int C, int H, int W)
{
    int out = new_slot(bd, (size_t)C * 4 * H * W, 1);
    unet_op *op = new_op(bd, UNET_UP, in, out);
    if (op) op->C = C, op->H = H, op->W = W;
    return out;
}

/* out[B, N] = in[B, K] w^T + b. */
static int linear(builder *bd, const char *prefix, int in, int K, int N)
{
    size_t w = param(bd, prefix, "weight", FMCL_UNET_INIT_UNIFORM, K, N, K, 0, 0);
    size_t b = param(bd, prefix, "bias", FMCL_UNET_INIT_UNIFORM, K, N, 0, 0, 0);
    int out = new_slot(bd, (size_t)N, 1);
    unet_op *op = new_op(bd, UNET_LINEAR, in, out);
    if (!op) return 0;
    op->w = w, op->b = b, op->K = K, op->C = N;
    bd->p->flops += 2.0 * N * K;
    return out;
}

/* "prefix.rest", or "rest" for a block planned alone (empty prefix). */
static void sub(char *name, size_t cap, const char *prefix, const char *rest)
{
    snprintf(name, cap, "%s%s%s", prefix, prefix[0] ? "." : "", rest);
}

static int resblock(builder *bd, const char *prefix, int x, int Cin, int Cout, int H, int W)
{
    char name[64];
    int HW = H * W;
    sub(name, sizeof name, prefix, "in_layers.0");
    int a = groupnorm(bd, name, x, Cin, HW, -1, 1); /* and in_layers.1, SiLU */
    size_t w, b;
    sub(name, sizeof name, prefix, "in_layers.2");
    weight_bias(bd, name, 0, Cout, Cin, 3, 0, &w, &b);
    int h = conv(bd, a, w, b, Cin, H, W, Cout, 3, 1);
    sub(name, sizeof name, prefix, "emb_layers.1");
    int ss = linear(bd, name, bd->emb, bd->emb_dim, 2 * Cout);
    sub(name, sizeof name, prefix, "out_layers.0");
    int s2 = groupnorm(bd, name, h, Cout, HW, ss, 1); /* scale-shift, out_layers.1's SiLU */
    if (bd->p->cfg.dropout > 0.0f) s2 = dropout(bd, s2, (size_t)Cout * HW); /* out_layers.2 */
    sub(name, sizeof name, prefix, "out_layers.3");
    weight_bias(bd, name, 1, Cout, Cout, 3, 0, &w, &b);
    h = conv(bd, s2, w, b, Cout, H, W, Cout, 3, 1);
    int skip = x;
    if (Cin != Cout) {
        sub(name, sizeof name, prefix, "skip_connection");
        weight_bias(bd, name, 0, Cout, Cin, 1, 0, &w, &b);
        skip = conv(bd, x, w, b, Cin, H, W, Cout, 1, 1);
    }
    return binary(bd, UNET_ADD, skip, h, (size_t)Cout * HW);
}

static int attnblock(builder *bd, const char *prefix, int x, int C, int H, int W)
{
    char name[64];
    int P = H * W, heads = bd->p->cfg.heads;
    if (C % heads)
        problem(bd, "attention %s has %d channels, not a multiple of heads = %d", prefix, C, heads);
    sub(name, sizeof name, prefix, "norm");
    int n = groupnorm(bd, name, x, C, P, -1, 0);
    size_t w, b;
    sub(name, sizeof name, prefix, "qkv");
    weight_bias(bd, name, 0, 3 * C, C, 1, 1, &w, &b);
    int qkv = conv(bd, n, w, b, C, H, W, 3 * C, 1, 1);
    int o = new_slot(bd, (size_t)C * P, 1), att = new_slot(bd, (size_t)heads * P * P, 0);
    unet_op *op = new_op(bd, UNET_ATTN, qkv, o);
    if (op) op->aux = att, op->C = C, op->H = P, op->heads = heads;
    bd->p->flops += 4.0 * P * P * C;
    sub(name, sizeof name, prefix, "proj_out");
    weight_bias(bd, name, 1, C, C, 1, 1, &w, &b);
    int pr = conv(bd, o, w, b, C, H, W, C, 1, 1);
    return binary(bd, UNET_ADD, x, pr, (size_t)C * P);
}

/* The whole network, in ADM's module order (so the tensors come out in
 * state_dict order). */
static void build(builder *bd)
{
    const fmcl_unet_spec *c = &bd->p->cfg;
    int base = c->base, E = 4 * base, H = c->height, W = c->width;
    new_slot(bd, (size_t)c->channels * H * W, 1); /* UNET_SLOT_X */
    new_slot(bd, 1, 0);                           /* UNET_SLOT_T */
    if (bd->oom) return;
    bd->p->slots[UNET_SLOT_X].ext = bd->p->slots[UNET_SLOT_T].ext = 1;
    bd->emb_dim = E;
    int e = unary(bd, UNET_TEMB, UNET_SLOT_T, (size_t)base);
    e = unary(bd, UNET_SILU, linear(bd, "time_embed.0", e, base, E), (size_t)E);
    e = linear(bd, "time_embed.2", e, E, E);
    if (c->classes > 0) { /* ADM: emb = emb + label_emb(y) */
        const int K = c->classes;
        size_t tw = param(bd, "label_emb", "weight", FMCL_UNET_INIT_NORMAL, 0, K, E, 0, 0);
        int y = new_slot(bd, (size_t)K, 0), lab = new_slot(bd, (size_t)E, 1);
        unet_op *op = new_op(bd, UNET_EMBED, y, lab);
        if (!op) return;
        op->w = tw, op->K = K, op->C = E;
        bd->p->slots[y].ext = 1;
        bd->p->label_slot = y;
        bd->p->flops += 2.0 * K * E;
        e = binary(bd, UNET_ADD, e, lab, (size_t)E);
    }
    bd->emb = unary(bd, UNET_SILU, e, (size_t)E);

    char name[64];
    int skips[64], skipc[64], ns = 0, k = 0, ch = base; /* at most 1 + 6 * 8 + 5 */
    size_t w, b;
    weight_bias(bd, "input_blocks.0.0", 0, base, c->channels, 3, 0, &w, &b);
    int h = conv(bd, UNET_SLOT_X, w, b, c->channels, H, W, base, 3, 1);
    skips[ns] = h, skipc[ns++] = ch, k++;
    for (int l = 0; l < c->levels; l++) {
        int hl = H >> l, wl = W >> l, co = base * c->mult[l];
        for (int r = 0; r < c->blocks; r++, k++) {
            snprintf(name, sizeof name, "input_blocks.%d.0", k);
            h = resblock(bd, name, h, ch, co, hl, wl);
            ch = co;
            if (c->attn_levels >> l & 1) {
                snprintf(name, sizeof name, "input_blocks.%d.1", k);
                h = attnblock(bd, name, h, ch, hl, wl);
            }
            skips[ns] = h, skipc[ns++] = ch;
        }
        if (l + 1 < c->levels) {
            snprintf(name, sizeof name, "input_blocks.%d.0.op", k++);
            weight_bias(bd, name, 0, ch, ch, 3, 0, &w, &b);
            h = conv(bd, h, w, b, ch, hl, wl, ch, 3, 2);
            skips[ns] = h, skipc[ns++] = ch;
        }
    }
    int hl = H >> (c->levels - 1), wl = W >> (c->levels - 1);
    h = resblock(bd, "middle_block.0", h, ch, ch, hl, wl);
    h = attnblock(bd, "middle_block.1", h, ch, hl, wl);
    h = resblock(bd, "middle_block.2", h, ch, ch, hl, wl);
    k = 0;
    for (int l = c->levels - 1; l >= 0; l--) {
        int co = base * c->mult[l];
        hl = H >> l, wl = W >> l;
        for (int r = 0; r <= c->blocks; r++, k++) {
            int sk = skips[--ns], sc = skipc[ns], j = 1;
            int cat = concat(bd, h, sk, ch, sc, hl * wl);
            snprintf(name, sizeof name, "output_blocks.%d.0", k);
            h = resblock(bd, name, cat, ch + sc, co, hl, wl);
            ch = co;
            if (c->attn_levels >> l & 1) {
                snprintf(name, sizeof name, "output_blocks.%d.%d", k, j++);
                h = attnblock(bd, name, h, ch, hl, wl);
            }
            if (l > 0 && r == c->blocks) {
                h = upsample(bd, h, ch, hl, wl);
                snprintf(name, sizeof name, "output_blocks.%d.%d.conv", k, j);
                weight_bias(bd, name, 0, ch, ch, 3, 0, &w, &b);
                h = conv(bd, h, w, b, ch, 2 * hl, 2 * wl, ch, 3, 1);
            }
        }
    }
    h = groupnorm(bd, "out.0", h, ch, H * W, -1, 1); /* and out.1, SiLU */
    weight_bias(bd, "out.2", 1, c->channels, ch, 3, 0, &w, &b);
    int v = conv(bd, h, w, b, ch, H, W, c->channels, 3, 1);
    if (!bd->oom) bd->p->slots[v].ext = 1;
}

/* The backward spans of the gradients (unet_slot.first, .last). */
static void spans(fmcl_unet_plan *p)
{
    for (int i = 0; i < p->n_ops; i++) {
        const unet_op *op = &p->ops[i];
        const int reads[3] = {op->in, op->kind == UNET_ADD || op->kind == UNET_CAT ? op->in2 : -1,
                              op->kind == UNET_GN ? op->in2 : -1};
        p->slots[op->out].last = i;
        for (int k = 0; k < 3; k++)
            if (reads[k] >= 0) p->slots[reads[k]].first = i;
    }
    for (int i = 0; i < p->n_slots; i++)
        if (p->slots[i].first < p->slots[i].last) p->slots[i].first = p->slots[i].last;
}

/* Places the gradient of slot i (size n) at the lowest offset from base
 * clear of every placed gradient whose span meets its own. */
static size_t place(const fmcl_unet_plan *p, int i, size_t n, size_t base, const char *placed)
{
    size_t at = base;
    for (int moved = 1; moved;) {
        moved = 0;
        for (int j = 0; j < p->n_slots; j++) {
            const unet_slot *o = &p->slots[j], *s = &p->slots[i];
            size_t on = (size_t)p->B * o->per;
            if (!placed[j] || o->last > s->first || s->last > o->first) continue;
            if (o->goff < at + n && at < o->goff + on) {
                at = o->goff + on;
                moved = 1;
            }
        }
    }
    return at;
}

/* Offsets of every slot, gradient and the shared scratch for B images:
 * activations one after another (all live until the backward), gradients
 * packed by their spans, largest first. */
static int layout(fmcl_unet_plan *p)
{
    size_t off = 0, B = (size_t)p->B, scratch = 0;
    for (int i = 0; i < p->n_slots; i++) {
        if (p->slots[i].ext) continue;
        p->slots[i].off = off;
        off += B * p->slots[i].per;
    }
    spans(p);
    char *placed = p->n_slots > 0 ? calloc((size_t)p->n_slots, 1) : NULL;
    if (!placed) return 0;
    size_t end = off;
    for (;;) {
        int big = -1;
        for (int i = 0; i < p->n_slots; i++) {
            const unet_slot *s = &p->slots[i];
            if (!placed[i] && !s->ext && s->goff != SIZE_MAX &&
                (big < 0 || s->per > p->slots[big].per))
                big = i;
        }
        if (big < 0) break;
        size_t n = B * p->slots[big].per;
        p->slots[big].goff = place(p, big, n, off, placed);
        placed[big] = 1;
        if (p->slots[big].goff + n > end) end = p->slots[big].goff + n;
    }
    free(placed);
    off = end;
    for (int i = 0; i < p->n_ops; i++) {
        const unet_op *op = &p->ops[i];
        size_t need = 0;
        if (op->kind == UNET_CONV) {
            fmcl_conv_shape cs = unet_conv_shape(op, p->B);
            need = fmcl_conv_scratch(&cs);
        } else if (op->kind == UNET_ATTN) {
            need = fmcl_attention_scratch(p->B, op->H, op->heads);
        } else if (op->kind == UNET_LINEAR) {
            need = fmcl_linear_small_wgrad_scratch(p->B, op->C, 0);
        } else if (op->kind == UNET_GN) {
            /* the device's, or the reference's two intermediates */
            need = 2 * fmcl_groupnorm_scratch(p->B, op->C, op->H);
        }
        if (need > scratch) scratch = need;
    }
    p->scratch_off = off;
    p->total = off + scratch;
    return 1;
}

/* What is wrong with the fields themselves, or NULL. */
/* The fields against the settings table, then how they fit together. */
static fmcl_status field_problem(const fmcl_unet_spec *c, char *why, size_t len)
{
    const fmcl_setting_value v[] = {{FMCL_SCOPE_UNET, "channels", c->channels},
                                    {FMCL_SCOPE_UNET, "height", c->height},
                                    {FMCL_SCOPE_UNET, "width", c->width},
                                    {FMCL_SCOPE_UNET, "base", c->base},
                                    {FMCL_SCOPE_UNET, "levels", c->levels},
                                    {FMCL_SCOPE_UNET, "blocks", c->blocks},
                                    {FMCL_SCOPE_UNET, "attn_levels", c->attn_levels},
                                    {FMCL_SCOPE_UNET, "heads", c->heads},
                                    {FMCL_SCOPE_UNET, "groups", c->groups},
                                    {FMCL_SCOPE_MODEL, "classes", c->classes},
                                    {FMCL_SCOPE_UNET, "dropout", c->dropout}};
    fmcl_status s = fmcl_settings_check(v, (int)(sizeof v / sizeof *v), why, len);
    for (int l = 0; s == FMCL_OK && l < c->levels; l++)
        s = fmcl_setting_check_key(FMCL_SCOPE_UNET, "mult", c->mult[l], why, len);
    if (s != FMCL_OK) return s;
    const char *bad = NULL;
    if (c->attn_levels >> c->levels)
        bad = "attn_levels names a level beyond the last";
    else if (c->height % (1 << (c->levels - 1)) || c->width % (1 << (c->levels - 1)))
        bad = "height and width must be divisible by 2^(levels - 1), so that upsampling "
              "restores each level's size; use fewer levels or pad the images";
    if (bad) snprintf(why, len, "%s", bad);
    return bad ? FMCL_ERR_ARG : FMCL_OK;
}

/* The fields, then the widths that meet GroupNorm and the heads (found by
 * planning). */
fmcl_status fmcl_unet_check_spec(const fmcl_unet_spec *c, char *err, size_t errlen)
{
    fmcl_unet_plan *p;
    fmcl_status s = fmcl_unet_plan_create(c, 1, &p, err, errlen);
    fmcl_unet_plan_free(p);
    return s;
}

fmcl_status fmcl_unet_plan_create(const fmcl_unet_spec *cfg, int B, fmcl_unet_plan **out, char *err,
                                  size_t errlen)
{
    *out = NULL;
    char why[256];
    if (field_problem(cfg, why, sizeof why) != FMCL_OK) {
        snprintf(err, errlen, "invalid U-Net configuration: %s", why);
        return FMCL_ERR_ARG;
    }
    if (B < 1) {
        snprintf(err, errlen, "U-Net batch must be at least 1 (got %d)", B);
        return FMCL_ERR_ARG;
    }
    fmcl_unet_plan *p = calloc(1, sizeof *p);
    char msg[256] = "";
    builder bd = {.p = p, .err = msg, .errlen = sizeof msg};
    if (!p) {
        snprintf(err, errlen, "out of host memory planning the U-Net");
        return FMCL_ERR_NOMEM;
    }
    p->cfg = *cfg;
    p->B = B;
    p->label_slot = -1;
    build(&bd);
    if (bd.oom) {
        fmcl_unet_plan_free(p);
        snprintf(err, errlen, "out of host memory planning the U-Net");
        return FMCL_ERR_NOMEM;
    }
    size_t biggest = 0;
    for (int i = 0; i < p->n_slots; i++)
        if (p->slots[i].per > biggest) biggest = p->slots[i].per;
    if (!msg[0] && (double)biggest * B > INT_MAX)
        snprintf(msg, sizeof msg,
                 "a batch of %d needs activations of more than 2^31 - 1 floats; "
                 "use a batch of at most %zu",
                 B, (size_t)INT_MAX / biggest);
    if (msg[0]) {
        fmcl_unet_plan_free(p);
        snprintf(err, errlen, "invalid U-Net configuration: %s", msg);
        return FMCL_ERR_ARG;
    }
    if (!layout(p)) {
        fmcl_unet_plan_free(p);
        snprintf(err, errlen, "out of host memory planning the U-Net");
        return FMCL_ERR_NOMEM;
    }
    if (p->total > INT_MAX) { /* kernels take int sizes and 32-bit offsets */
        size_t fit = (size_t)INT_MAX / (p->total / B + 1);
        fmcl_unet_plan_free(p);
        snprintf(err, errlen,
                 "a U-Net batch of %d needs an activation buffer of more than "
                 "2^31 - 1 floats; use a batch of at most %zu",
                 B, fit);
        return FMCL_ERR_ARG;
    }
    *out = p;
    return FMCL_OK;
}

fmcl_status fmcl_unet_plan_block(int attention, int Cin, int Cout, int H, int W, int emb_dim,
                                 int heads, int groups, int B, fmcl_unet_plan **out, char *err,
                                 size_t errlen)
{
    *out = NULL;
    if (B < 1 || Cin < 1 || Cout < 1 || H < 1 || W < 1 || emb_dim < 1 || heads < 1 || groups < 1 ||
        (attention && Cin != Cout)) {
        snprintf(err, errlen, "U-Net block: sizes must be >= 1 (and Cin = Cout for attention)");
        return FMCL_ERR_ARG;
    }
    fmcl_unet_plan *p = calloc(1, sizeof *p);
    char msg[256] = "";
    builder bd = {.p = p, .err = msg, .errlen = sizeof msg};
    if (!p) {
        snprintf(err, errlen, "out of host memory planning a U-Net block");
        return FMCL_ERR_NOMEM;
    }
    p->cfg.channels = Cin, p->cfg.height = H, p->cfg.width = W;
    p->cfg.heads = heads, p->cfg.groups = groups;
    p->B = B;
    p->label_slot = -1;
    new_slot(&bd, (size_t)Cin * H * W, 1); /* UNET_SLOT_X */
    new_slot(&bd, (size_t)emb_dim, 0);     /* UNET_SLOT_T holds emb itself */
    bd.emb_dim = emb_dim;
    bd.emb = unary(&bd, UNET_SILU, UNET_SLOT_T, (size_t)emb_dim);
    int y = attention ? attnblock(&bd, "", UNET_SLOT_X, Cin, H, W)
                      : resblock(&bd, "", UNET_SLOT_X, Cin, Cout, H, W);
    if (bd.oom || msg[0]) {
        fmcl_unet_plan_free(p);
        snprintf(err, errlen, "U-Net block: %s", bd.oom ? "out of host memory" : msg);
        return bd.oom ? FMCL_ERR_NOMEM : FMCL_ERR_ARG;
    }
    p->slots[UNET_SLOT_X].ext = p->slots[UNET_SLOT_T].ext = p->slots[y].ext = 1;
    if (!layout(p)) {
        fmcl_unet_plan_free(p);
        snprintf(err, errlen, "out of host memory planning a U-Net block");
        return FMCL_ERR_NOMEM;
    }
    *out = p;
    return FMCL_OK;
}

void fmcl_unet_plan_free(fmcl_unet_plan *p)
{
    if (!p) return;
    free(p->ops);
    free(p->slots);
    free(p->tensors);
    free(p);
}

size_t fmcl_unet_plan_params(const fmcl_unet_plan *p) { return p->n_params; }
int fmcl_unet_plan_tensor_count(const fmcl_unet_plan *p) { return p->n_tensors; }
const fmcl_unet_param *fmcl_unet_plan_tensor(const fmcl_unet_plan *p, int i)
{
    return i >= 0 && i < p->n_tensors ? &p->tensors[i] : NULL;
}
double fmcl_unet_plan_flops(const fmcl_unet_plan *p) { return p->flops; }
size_t fmcl_unet_plan_floats(const fmcl_unet_plan *p) { return p->total; }

size_t fmcl_unet_peak_bytes(const fmcl_unet_spec *cfg, int B)
{
    char err[256];
    fmcl_unet_plan *p;
    if (fmcl_unet_plan_create(cfg, B, &p, err, sizeof err) != FMCL_OK) return 0;
    size_t bytes = (p->total + 4 * p->n_params) * sizeof(float);
    fmcl_unet_plan_free(p);
    return bytes;
}
