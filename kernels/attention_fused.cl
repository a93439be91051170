#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Self-attention in one work-group per image and head (src/nn/attention.c),
 * for up to ATT_MAXP positions: the forward's three launches (scores,
 * softmax, weighted values) and the backward's five become one each. Item t
 * of the FMCL_REDUCE_WG owns query row t: its scores live in private memory;
 * the backward shares dS through local memory (ATT_MAXP^2 floats, 16 KB)
 * between a pass over rows and one over columns. Every sum runs in index
 * order, so a device gives the same bits from run to run. Channel c < d of
 * head h is row h d + c of the image's q, k, v blocks (qkv is [B, 3C, P]). */
#define ATT_MAXP 64 /* attention.c's FUSED_MAXP */

/* S[t, s] = alpha sum_c q[c, t] k[c, s] for s < P, then the row's softmax:
 * att[t, s] = exp(S - max) / sum(exp(S - max)); out[c, t] = sum_s att[t, s]
 * v[c, s]. Groups b heads + h. */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void attention_fused_forward(__global float *out, uint out_off, __global float *att,
                             uint att_off, __global const float *qkv, uint qkv_off, int heads,
                             int d, int P, float alpha)
{
    const int t = (int)get_local_id(0), bh = (int)get_group_id(0);
    if (t >= P) return;
    int h;
    const int b = fmcl_divmod(bh, heads, &h), C = heads * d;
    __global const float *q = qkv + qkv_off + ((size_t)b * 3 * C + (size_t)h * d) * P;
    __global const float *k = q + (size_t)C * P, *v = k + (size_t)C * P;
    float srow[ATT_MAXP], m = -INFINITY;
    for (int s = 0; s < P; s++) {
        float acc = 0.0f;
        for (int c = 0; c < d; c++) acc += q[(size_t)c * P + t] * k[(size_t)c * P + s];
        srow[s] = alpha * acc;
        m = fmax(m, srow[s]);
    }
    float total = 0.0f;
    for (int s = 0; s < P; s++) {
        srow[s] = exp(srow[s] - m);
        total += srow[s];
    }
    __global float *a = att + att_off + ((size_t)bh * P + t) * P;
    for (int s = 0; s < P; s++) a[s] = srow[s] = srow[s] / total;
    __global float *o = out + out_off + ((size_t)b * C + (size_t)h * d) * P + t;
    for (int c = 0; c < d; c++) {
        float acc = 0.0f;
        for (int s = 0; s < P; s++) acc += v[(size_t)c * P + s] * srow[s];
        o[(size_t)c * P] = acc;
    }
}

/* With g = dout and A = att: rows t: dA[t, s] = sum_c g[c, t] v[c, s],
 * dS = A (dA - sum_s dA A), dq[c, t] += alpha sum_s k[c, s] dS[t, s]; then
 * columns s: dv[c, s] += sum_t g[c, t] A[t, s], dk[c, s] += alpha sum_t
 * q[c, t] dS[t, s]. */
__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void attention_fused_backward(__global float *dqkv, uint dqkv_off, __global const float *dout,
                              uint dout_off, __global const float *qkv, uint qkv_off,
                              __global const float *att, uint att_off, int heads, int d, int P,
                              float alpha)
{
    __local float dS[ATT_MAXP * ATT_MAXP];
    const int l = (int)get_local_id(0), bh = (int)get_group_id(0);
    int h;
    const int b = fmcl_divmod(bh, heads, &h), C = heads * d;
    const size_t head = ((size_t)b * 3 * C + (size_t)h * d) * P, cp = (size_t)C * P;
    __global const float *q = qkv + qkv_off + head, *k = q + cp, *v = k + cp;
    __global float *dq = dqkv + dqkv_off + head, *dk = dq + cp, *dv = dk + cp;
    __global const float *g = dout + dout_off + ((size_t)b * C + (size_t)h * d) * P;
    __global const float *A = att + att_off + (size_t)bh * P * P;
    if (l < P) {
        const int t = l;
        float da[ATT_MAXP], dot = 0.0f;
        for (int s = 0; s < P; s++) {
            float acc = 0.0f;
            for (int c = 0; c < d; c++) acc += g[(size_t)c * P + t] * v[(size_t)c * P + s];
            da[s] = acc;
            dot += acc * A[(size_t)t * P + s];
        }
        for (int s = 0; s < P; s++) dS[t * P + s] = A[(size_t)t * P + s] * (da[s] - dot);
        for (int c = 0; c < d; c++) {
            float acc = 0.0f;
            for (int s = 0; s < P; s++) acc += k[(size_t)c * P + s] * dS[t * P + s];
            dq[(size_t)c * P + t] += alpha * acc;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (l >= P) return;
    const int s = l;
    for (int c = 0; c < d; c++) {
        float gv = 0.0f, gk = 0.0f;
        for (int t = 0; t < P; t++) {
            gv += g[(size_t)c * P + t] * A[(size_t)t * P + s];
            gk += q[(size_t)c * P + t] * dS[t * P + s];
        }
        dv[(size_t)c * P + s] += gv;
        dk[(size_t)c * P + s] += alpha * gk;
    }
}
