/* Multi-head self-attention core (image_ops.h). Device: per image b and
 * head h, q, k, v are [d, P] row blocks of qkv; each product is one launch
 * over every image and head (kernels/attention.cl, one work-item per output
 * element summing in index order):
 *   forward   att = alpha qᵀ k, softmax over rows, out = v attᵀ
 *                                                   (alpha = 1 / sqrt(d))
 *   backward  dv += dout att, datt = doutᵀ v, dS = softmax backward,
 *             dq += alpha k dSᵀ, dk += alpha q dS.
 * Up to FUSED_MAXP positions (8x8 and smaller images) each pass is instead
 * one work-group per image and head (kernels/attention_fused.cl): one launch
 * forward, one backward, where the eight launches above cost PoCL far more
 * than their arithmetic. The references follow the definitions in double,
 * recomputing the probabilities. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "nn/image_ops.h"
#include "nn/kernels.h"

#define FUSED_MAXP 64 /* attention_fused.cl's ATT_MAXP */

static fmcl_status check_shape(fmcl_ctx *ctx, const char *op, int B, int C, int P, int heads)
{
    if (B < 1 || C < 1 || P < 1 || heads < 1 || C % heads != 0)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "%s: B=%d C=%d P=%d heads=%d: sizes must be >= 1 and the channels a "
                         "multiple of the heads",
                         op, B, C, P, heads);
    if ((double)B * 3 * C * P > INT_MAX || (double)B * heads * P * P > INT_MAX)
        return fmcl_fail(ctx, FMCL_ERR_ARG,
                         "%s: B=%d C=%d P=%d heads=%d needs a tensor of more than 2^31 - 1 "
                         "floats; use a smaller batch or attend at a lower resolution",
                         op, B, C, P, heads);
    return FMCL_OK;
}

size_t fmcl_attention_scratch(int B, int P, int heads)
{
    return B < 1 || P < 1 || heads < 1 ? 0 : (size_t)B * heads * P * P;
}

fmcl_status fmcl_attention_reserve(fmcl_ctx *ctx, int B, int C, int P, int heads)
{
    return check_shape(ctx, "attention_reserve", B, C, P, heads);
}

/* S = alpha Xᵀ Y per image and head (attention_xty): X, Y are [d, P] blocks
 * of images xs, ys floats apart. */
static fmcl_status xty(fmcl_ctx *ctx, fmcl_t S, fmcl_t X, int xs, fmcl_t Y, int ys, float alpha,
                       int B, int C, int P, int heads)
{
    int rows = B * heads * P;
    return fmcl_run2(ctx, FMCL_K_attention_xty, (size_t)P, (size_t)rows, "ttitifiiii", S, X, xs, Y,
                     ys, (double)alpha, heads, C / heads, P, rows);
}

/* Z (+)= alpha Y Mᵀ (trans 0) or alpha Y M (trans 1) per image and head
 * (attention_ym): Z, Y are [d, P] blocks, M the [P, P] matrices. */
static fmcl_status ym(fmcl_ctx *ctx, fmcl_t Z, int zs, fmcl_t Y, int ys, fmcl_t M, int trans,
                      float alpha, int accumulate, int B, int C, int P, int heads)
{
    int rows = B * C;
    return fmcl_run2(ctx, FMCL_K_attention_ym, (size_t)P, (size_t)rows, "tititiifiiiii", Z, zs, Y,
                     ys, M, trans ? 1 : P, trans ? P : 1, (double)alpha, accumulate, heads,
                     C / heads, P, rows);
}

fmcl_status fmcl_attention_forward(fmcl_ctx *ctx, fmcl_t out, fmcl_t att, fmcl_t qkv, int B, int C,
                                   int P, int heads)
{
    fmcl_status s = check_shape(ctx, "attention_forward", B, C, P, heads);
    if (s != FMCL_OK) return s;
    int CP = C * P;
    float alpha = (float)(1.0 / sqrt((double)(C / heads)));
    if (P <= FUSED_MAXP)
        return fmcl_run1_local(ctx, FMCL_K_attention_fused_forward,
                               (size_t)B * heads * FMCL_REDUCE_WG, FMCL_REDUCE_WG, "tttiiif", out,
                               att, qkv, heads, C / heads, P, (double)alpha);
    s = xty(ctx, att, qkv, 3 * CP, fmcl_at(qkv, (size_t)CP), 3 * CP, alpha, B, C, P, heads);
    if (s == FMCL_OK)
        s = fmcl_run1_local(ctx, FMCL_K_softmax_rows, (size_t)B * heads * P * FMCL_REDUCE_WG,
                            FMCL_REDUCE_WG, "ti", att, P);
    if (s == FMCL_OK)
        s = ym(ctx, out, CP, fmcl_at(qkv, 2 * (size_t)CP), 3 * CP, att, 0, 1.0f, 0, B, C, P, heads);
    return s;
}

fmcl_status fmcl_attention_backward(fmcl_ctx *ctx, fmcl_t dqkv, fmcl_t dout, fmcl_t qkv, fmcl_t att,
                                    fmcl_t scratch, int B, int C, int P, int heads)
{
    fmcl_status s = check_shape(ctx, "attention_backward", B, C, P, heads);
    if (s != FMCL_OK) return s;
    int CP = C * P;
    size_t cp = (size_t)CP;
    float alpha = (float)(1.0 / sqrt((double)(C / heads)));
    if (P <= FUSED_MAXP)
        return fmcl_run1_local(ctx, FMCL_K_attention_fused_backward,
                               (size_t)B * heads * FMCL_REDUCE_WG, FMCL_REDUCE_WG, "ttttiiif", dqkv,
                               dout, qkv, att, heads, C / heads, P, (double)alpha);
    fmcl_t q = qkv, k = fmcl_at(qkv, cp), v = fmcl_at(qkv, 2 * cp);
    fmcl_t dq = dqkv, dk = fmcl_at(dqkv, cp), dv = fmcl_at(dqkv, 2 * cp);
    s = ym(ctx, dv, 3 * CP, dout, CP, att, 1, 1.0f, 1, B, C, P, heads);
    if (s == FMCL_OK) s = xty(ctx, scratch, dout, CP, v, 3 * CP, 1.0f, B, C, P, heads);
    if (s == FMCL_OK)
        s = fmcl_run1_local(ctx, FMCL_K_softmax_backward_rows,
                            (size_t)B * heads * P * FMCL_REDUCE_WG, FMCL_REDUCE_WG, "tti", scratch,
                            att, P);
    if (s == FMCL_OK) s = ym(ctx, dq, 3 * CP, k, 3 * CP, scratch, 0, alpha, 1, B, C, P, heads);
    if (s == FMCL_OK) s = ym(ctx, dk, 3 * CP, q, 3 * CP, scratch, 1, alpha, 1, B, C, P, heads);
    return s;
}

/* A[t, s] of image b, head h in double (P * P values). */
static void probabilities(double *A, const float *qkv, int b, int h, int C, int P, int heads)
{
    int d = C / heads;
    const float *q = qkv + (size_t)b * 3 * C * P + (size_t)h * d * P, *k = q + (size_t)C * P;
    for (int t = 0; t < P; t++) {
        double *row = A + (size_t)t * P, m = -INFINITY, sum = 0;
        for (int s = 0; s < P; s++) {
            double acc = 0;
            for (int c = 0; c < d; c++) acc += (double)q[(size_t)c * P + t] * k[(size_t)c * P + s];
            row[s] = acc / sqrt((double)d);
            m = row[s] > m ? row[s] : m;
        }
        for (int s = 0; s < P; s++) {
            row[s] = exp(row[s] - m);
            sum += row[s];
        }
        for (int s = 0; s < P; s++) row[s] /= sum;
    }
}

void fmcl_attention_forward_ref(float *out, float *att, const float *qkv, int B, int C, int P,
                                int heads)
{
    int d = C / heads;
    double *A = malloc((size_t)P * P * sizeof *A);
    if (!A) return;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < heads; h++) {
            probabilities(A, qkv, b, h, C, P, heads);
            const float *v = qkv + (size_t)b * 3 * C * P + (size_t)(2 * C + h * d) * P;
            float *o = out + (size_t)b * C * P + (size_t)h * d * P;
            for (size_t i = 0; i < (size_t)P * P; i++)
                att[((size_t)b * heads + h) * P * P + i] = (float)A[i];
            for (int c = 0; c < d; c++)
                for (int t = 0; t < P; t++) {
                    double acc = 0;
                    for (int s = 0; s < P; s++) acc += A[(size_t)t * P + s] * v[(size_t)c * P + s];
                    o[(size_t)c * P + t] = (float)acc;
                }
        }
    free(A);
}

void fmcl_attention_backward_ref(float *dqkv, const float *dout, const float *qkv, int B, int C,
                                 int P, int heads)
{
    int d = C / heads;
    double alpha = 1.0 / sqrt((double)d);
    double *A = malloc((size_t)P * P * sizeof *A), *dS = malloc((size_t)P * P * sizeof *dS);
    if (!A || !dS) {
        free(A), free(dS);
        return;
    }
    for (int b = 0; b < B; b++)
        for (int h = 0; h < heads; h++) {
            probabilities(A, qkv, b, h, C, P, heads);
            size_t qo = (size_t)b * 3 * C * P + (size_t)h * d * P;
            const float *q = qkv + qo, *k = q + (size_t)C * P, *v = k + (size_t)C * P;
            const float *go = dout + (size_t)b * C * P + (size_t)h * d * P;
            float *dq = dqkv + qo, *dk = dq + (size_t)C * P, *dv = dk + (size_t)C * P;
            /* dA[t, s] = sum_c go[c, t] v[c, s]; dS = A (dA - rowsum(dA A)). */
            for (int t = 0; t < P; t++) {
                double dot = 0;
                for (int s = 0; s < P; s++) {
                    double acc = 0;
                    for (int c = 0; c < d; c++)
                        acc += (double)go[(size_t)c * P + t] * v[(size_t)c * P + s];
                    dS[(size_t)t * P + s] = acc;
                    dot += acc * A[(size_t)t * P + s];
                }
                for (int s = 0; s < P; s++)
                    dS[(size_t)t * P + s] = A[(size_t)t * P + s] * (dS[(size_t)t * P + s] - dot);
            }
            for (int c = 0; c < d; c++)
                for (int i = 0; i < P; i++) {
                    double gv = 0, gq = 0, gk = 0;
                    for (int j = 0; j < P; j++) {
                        gv += (double)go[(size_t)c * P + j] * A[(size_t)j * P + i];
                        gq += dS[(size_t)i * P + j] * k[(size_t)c * P + j];
                        gk += q[(size_t)c * P + j] * dS[(size_t)j * P + i];
                    }
                    size_t at = (size_t)c * P + i;
                    dv[at] = (float)(dv[at] + gv);
                    dq[at] = (float)(dq[at] + alpha * gq);
                    dk[at] = (float)(dk[at] + alpha * gk);
                }
        }
    free(A), free(dS);
}
