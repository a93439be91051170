#pragma OPENCL FP_CONTRACT OFF /* also set in common.cl; kept per file so each stands alone */
/* Optimiser support: the squared gradient norm (pass 1 of a reduce.cl
 * reduction), one Adam(W) step over the flat parameter vector and the
 * weights' EMA. */

__kernel __attribute__((reqd_work_group_size(FMCL_REDUCE_WG, 1, 1)))
void sumsq_partial(__global float *part, uint part_off, __global const float *x, uint x_off,
                   int n)
{
    __local float s[FMCL_REDUCE_WG];
    const uint l = get_local_id(0);
    const size_t stride = get_global_size(0);
    float acc = 0.0f;
    for (size_t i = get_global_id(0); i < (size_t)n; i += stride) {
        const float v = x[x_off + i];
        acc += v * v;
    }
    s[l] = acc;
    const float total = fmcl_group_sum(s, l);
    if (l == 0) part[part_off + get_group_id(0)] = total;
}

/* As torch.optim.Adam / AdamW: decay = 1 - lr wd (1 for Adam), step_size =
 * lr / (1 - b1^t), bc2_sqrt = sqrt(1 - b2^t), both from the host in double.
 * clip > 0 scales the gradient by min(1, clip / (sqrt(normsq[0]) + 1e-6)) as
 * clip_grad_norm_ does, without writing the scaled g back; zero_grad clears g
 * once read, so the next backward accumulates from zero without a fill. */
__kernel void adam_step(__global float *p, uint p_off, __global float *g, uint g_off,
                        __global float *m, uint m_off, __global float *v, uint v_off,
                        __global const float *normsq, uint normsq_off, float beta1, float beta2,
                        float eps, float clip, float decay, float step_size, float bc2_sqrt,
                        int zero_grad, int n)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)n) return;
    float gi = g[g_off + i];
    if (zero_grad) g[g_off + i] = 0.0f;
    if (clip > 0.0f) gi *= fmin(1.0f, clip / (sqrt(normsq[normsq_off]) + 1e-6f));
    const float mi = beta1 * m[m_off + i] + (1.0f - beta1) * gi;
    const float vi = beta2 * v[v_off + i] + (1.0f - beta2) * gi * gi;
    m[m_off + i] = mi;
    v[v_off + i] = vi;
    const float pi = p[p_off + i] * decay;
    p[p_off + i] = pi - step_size * (mi / (sqrt(vi) / bc2_sqrt + eps));
}

/* Exponential moving average of the weights: e = decay e + (1 - decay) p,
 * decay from the host (its warm-up is computed there per step). */
__kernel void ema_update(__global float *e, uint e_off, __global const float *p, uint p_off,
                         float decay, int n)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)n) return;
    e[e_off + i] = decay * e[e_off + i] + (1.0f - decay) * p[p_off + i];
}
