/* Multi-head self-attention core (image_ops.h). Device: per image b and
 * head h, q, k, v are [d, P] row blocks of qkv (leading dimension P), so
 * each product is one plain GEMM:
 *   forward   att = alpha qᵀ k, softmax over rows (one launch for all),
 *             out = v attᵀ                          (alpha = 1 / sqrt(d))
 *   backward  dv += dout att, datt = doutᵀ v, dS = softmax backward (one
 *             launch), dq += alpha k dSᵀ, dk += alpha q dS.
 * The references follow the definitions in double, recomputing the
 * probabilities. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "nn/image_ops.h"

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
    fmcl_status s = check_shape(ctx, "attention_reserve", B, C, P, heads);
    int d = C / heads;
    if (s == FMCL_OK) s = fmcl_gemm_reserve(ctx, 1, 0, P, P, d, P, P, P);
    if (s == FMCL_OK) s = fmcl_gemm_reserve(ctx, 0, 1, d, P, P, P, P, P);
    if (s == FMCL_OK) s = fmcl_gemm_reserve(ctx, 0, 0, d, P, P, P, P, P);
    return s;
}

/* Views of q, k, v (k = q + C P, v = q + 2 C P) and of the [P, P] block of
 * image b and head h. */
typedef struct {
    fmcl_t q, k, v, out, att;
} head_views;

static head_views views(fmcl_t qkv, fmcl_t out, fmcl_t att, int b, int h, int C, int P,
                        int heads)
{
    size_t d = (size_t)C / heads, q = (size_t)b * 3 * C * P + h * d * P;
    return (head_views){fmcl_at(qkv, q), fmcl_at(qkv, q + (size_t)C * P),
                        fmcl_at(qkv, q + 2 * (size_t)C * P),
                        fmcl_at(out, (size_t)b * C * P + h * d * P),
                        fmcl_at(att, ((size_t)b * heads + h) * P * P)};
}

fmcl_status fmcl_attention_forward(fmcl_ctx *ctx, fmcl_t out, fmcl_t att, fmcl_t qkv, int B, int C,
                                   int P, int heads)
{
    fmcl_status s = check_shape(ctx, "attention_forward", B, C, P, heads);
    if (s != FMCL_OK) return s;
    int d = C / heads;
    float alpha = (float)(1.0 / sqrt((double)d));
    for (int b = 0; s == FMCL_OK && b < B; b++)
        for (int h = 0; s == FMCL_OK && h < heads; h++) {
            head_views w = views(qkv, out, att, b, h, C, P, heads);
            s = fmcl_gemm(ctx, 1, 0, P, P, d, alpha, w.q, P, w.k, P, 0.0f, w.att, P);
        }
    if (s == FMCL_OK)
        s = fmcl_run1_local(ctx, FMCL_K_softmax_rows, (size_t)B * heads * P * FMCL_REDUCE_WG,
                            FMCL_REDUCE_WG, "ti", att, P);
    for (int b = 0; s == FMCL_OK && b < B; b++)
        for (int h = 0; s == FMCL_OK && h < heads; h++) {
            head_views w = views(qkv, out, att, b, h, C, P, heads);
            s = fmcl_gemm(ctx, 0, 1, d, P, P, 1.0f, w.v, P, w.att, P, 0.0f, w.out, P);
        }
    return s;
}

fmcl_status fmcl_attention_backward(fmcl_ctx *ctx, fmcl_t dqkv, fmcl_t dout, fmcl_t qkv,
                                    fmcl_t att, fmcl_t scratch, int B, int C, int P, int heads)
{
    fmcl_status s = check_shape(ctx, "attention_backward", B, C, P, heads);
    if (s != FMCL_OK) return s;
    int d = C / heads;
    float alpha = (float)(1.0 / sqrt((double)d));
    for (int b = 0; s == FMCL_OK && b < B; b++)
        for (int h = 0; s == FMCL_OK && h < heads; h++) {
            head_views w = views(qkv, dout, att, b, h, C, P, heads);
            head_views g = views(dqkv, dout, scratch, b, h, C, P, heads);
            s = fmcl_gemm(ctx, 0, 0, d, P, P, 1.0f, w.out, P, w.att, P, 1.0f, g.v, P);
            if (s == FMCL_OK)
                s = fmcl_gemm(ctx, 1, 0, P, P, d, 1.0f, w.out, P, w.v, P, 0.0f, g.att, P);
        }
    if (s == FMCL_OK)
        s = fmcl_run1_local(ctx, FMCL_K_softmax_backward_rows,
                            (size_t)B * heads * P * FMCL_REDUCE_WG, FMCL_REDUCE_WG, "tti",
                            scratch, att, P);
    for (int b = 0; s == FMCL_OK && b < B; b++)
        for (int h = 0; s == FMCL_OK && h < heads; h++) {
            head_views w = views(qkv, dout, att, b, h, C, P, heads);
            head_views g = views(dqkv, dout, scratch, b, h, C, P, heads);
            s = fmcl_gemm(ctx, 0, 1, d, P, P, alpha, w.k, P, g.att, P, 1.0f, g.q, P);
            if (s == FMCL_OK)
                s = fmcl_gemm(ctx, 0, 0, d, P, P, alpha, w.q, P, g.att, P, 1.0f, g.k, P);
        }
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
