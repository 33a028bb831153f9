/* The per-edge loops of the fast kernels. fast.c includes this file twice: once compiled for
 * AVX2 + FMA, once for the baseline x86-64 (or any other CPU), and picks one at run time.
 * Needs LOOPS_TARGET (a target attribute or nothing) and LOOPS_NAME(f) (a suffixing macro). */

/* Attention scores of the edges into t, all heads: alpha[e * H + h] (before the softmax). */
LOOPS_TARGET static void LOOPS_NAME(edge_scores)(size_t e0, size_t e1, const int32_t *restrict src, const float *restrict attr,
                            const float *restrict xl, const float *restrict xr, const float *restrict we,
                            const float *restrict att, size_t H, size_t C, float slope, int use_attr,
                            float *restrict alpha)
{
    size_t hc = H * C;
    for (size_t e = e0; e < e1; e++) {
        const float *restrict xs = xl + (size_t)src[e] * hc;
        float w = use_attr ? attr[e] : 0.0f;
        for (size_t h = 0; h < H; h++) {
            float s = 0;
            for (size_t c = h * C; c < (h + 1) * C; c++) {
                float p = xs[c] + xr[c] + w * we[c];
                s += att[c] * (p > 0 ? p : slope * p);
            }
            alpha[e * H + h] = s;
        }
    }
}

/* acc[hc] = sum over the edges into t of alpha * xl[src]. */
LOOPS_TARGET static void LOOPS_NAME(aggregate)(size_t e0, size_t e1, const int32_t *restrict src, const float *restrict xl,
                          const float *restrict alpha, size_t H, size_t C, float *restrict acc)
{
    size_t hc = H * C;
    memset(acc, 0, hc * sizeof *acc);
    for (size_t e = e0; e < e1; e++) {
        const float *restrict xs = xl + (size_t)src[e] * hc;
        for (size_t h = 0; h < H; h++) {
            float a = alpha[e * H + h];
            for (size_t c = h * C; c < (h + 1) * C; c++)
                acc[c] += a * xs[c];
        }
    }
}

/* da[e * H + h] = <dd_h, xl[src[e]]_h>: the gradient reaching each attention coefficient. */
LOOPS_TARGET static void LOOPS_NAME(alpha_grads)(size_t e0, size_t e1, const int32_t *restrict src, const float *restrict xl,
                            const float *restrict dd, size_t H, size_t C, float *restrict da)
{
    size_t hc = H * C;
    for (size_t e = e0; e < e1; e++) {
        const float *restrict xs = xl + (size_t)src[e] * hc;
        for (size_t h = 0; h < H; h++) {
            float s = 0;
            for (size_t c = h * C; c < (h + 1) * C; c++)
                s += dd[c] * xs[c];
            da[e * H + h] = s;
        }
    }
}

/* Through the score function of the edges into t, given ds (softmax-backward) per edge and head. */
LOOPS_TARGET static void LOOPS_NAME(score_grads)(size_t e0, size_t e1, const int32_t *restrict src, const float *restrict attr,
                            const float *restrict xl, const float *restrict xr, const float *restrict we,
                            const float *restrict att, size_t H, size_t C, float slope, int use_attr,
                            const float *restrict ds, float *restrict dxr, float *restrict datt,
                            float *restrict dwe)
{
    size_t hc = H * C;
    for (size_t e = e0; e < e1; e++) {
        const float *restrict xs = xl + (size_t)src[e] * hc;
        float w = use_attr ? attr[e] : 0.0f;
        for (size_t h = 0; h < H; h++) {
            float d = ds[e * H + h];
            for (size_t c = h * C; c < (h + 1) * C; c++) {
                float p = xs[c] + xr[c] + w * we[c];
                float dm = d * att[c] * (p > 0 ? 1.0f : slope);
                datt[c] += d * (p > 0 ? p : slope * p);
                dxr[c] += dm;
                dwe[c] += dm * w;
            }
        }
    }
}

/* dxl of a source from one out-edge: the message path and the score path. */
LOOPS_TARGET static void LOOPS_NAME(source_grad)(const float *restrict xs, const float *restrict xr, const float *restrict dd,
                            const float *restrict we, const float *restrict att, float w,
                            const float *restrict alpha, const float *restrict ds, size_t H, size_t C, float slope,
                            float *restrict dxl)
{
    for (size_t h = 0; h < H; h++) {
        float a = alpha[h], d = ds[h];
        for (size_t c = h * C; c < (h + 1) * C; c++) {
            float p = xs[c] + xr[c] + w * we[c];
            dxl[c] += a * dd[c] + d * att[c] * (p > 0 ? 1.0f : slope);
        }
    }
}

