/* The fast kernels: BLIS for the dense products, and per-edge loops that handle all heads of
 * an edge at once over contiguous rows, threaded over fixed blocks of nodes. Parameter
 * gradients are summed per block and then in block order, so the thread count never changes
 * a bit of the result. Per-edge state kept between passes is O(edges x heads): the hidden
 * vectors of an edge are recomputed in the backward pass, never stored. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dense.h"
#include "kernels.h"

#define NBLOCKS 64

static size_t nblocks(size_t n)
{
    return n < NBLOCKS ? (n ? n : 1) : NBLOCKS;
}

static size_t block_begin(size_t n, size_t b)
{
    return n * b / nblocks(n);
}

/* Blocks of nodes carrying about the same number of edges (off: CSR offsets of n rows), so
 * that threads stay balanced on skewed graphs. They depend on the graph alone. */
static size_t edge_block_begin(const size_t *off, size_t n, size_t b)
{
    size_t target = (size_t)((double)off[n] * (double)b / (double)nblocks(n)), lo = 0, hi = n;
    if (b >= nblocks(n))
        return n;
    while (lo < hi) { /* the first row whose edges start at or after target */
        size_t mid = lo + (hi - lo) / 2;
        if (off[mid] < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int fast_linear(int threads, size_t n, size_t k, size_t m, const float *X, const float *W, const float *b,
                       float *Y)
{
    if (!n || !m)
        return GATREC_OK;
    if (b)
        for (size_t r = 0; r < n; r++)
            memcpy(Y + r * m, b, m * sizeof *b);
    if (!k) {
        if (!b)
            memset(Y, 0, n * m * sizeof *Y);
        return GATREC_OK;
    }
    /* Y = X (n x k) * W^T (k x m) */
    gatrec__sgemm(threads, 0, 1, n, m, k, 1.0f, X, k, 1, W, k, 1, b ? 1.0f : 0.0f, Y, m);
    return GATREC_OK;
}

static int fast_linear_backward(int threads, size_t n, size_t k, size_t m, const float *X, const float *W,
                                const float *dY, float *dX, float *dW, float *db)
{
    if (!n || !m || !k)
        return GATREC_OK;
    if (dX) /* dX (n x k) += dY (n x m) * W (m x k) */
        gatrec__sgemm(threads, 0, 0, n, k, m, 1.0f, dY, m, 1, W, k, 1, 1.0f, dX, k);
    /* dW (m x k) += dY^T (m x n) * X (n x k) */
    gatrec__sgemm(threads, 0, 0, m, k, n, 1.0f, dY, 1, m, X, k, 1, 1.0f, dW, k);
    if (db)
        for (size_t r = 0; r < n; r++)
            for (size_t o = 0; o < m; o++)
                db[o] += dY[r * m + o];
    return GATREC_OK;
}

typedef struct gat_job {
    const gatrec__edges *g;
    const gatrec__gat_shape *sh;
    const float *xl, *xr, *we, *att, *bias, *alpha, *dout;
    float *alpha_out, *out, *dxl, *dxr, *work;
    float *partial; /* per block: datt, dwe (hc each), dbias (ow) */
    const struct loops *L;
    atomic_int failed; /* set by any worker */
} gat_job;

static inline __attribute__((unused)) float leaky(float x, float slope)
{
    return x > 0 ? x : slope * x;
}

typedef struct loops {
    void (*edge_scores)(size_t, size_t, const int32_t *, const float *, const float *, const float *, const float *,
                        const float *, size_t, size_t, float, int, float *);
    void (*aggregate)(size_t, size_t, const int32_t *, const float *, const float *, size_t, size_t, float *);
    void (*alpha_grads)(size_t, size_t, const int32_t *, const float *, const float *, size_t, size_t, float *);
    void (*score_grads)(size_t, size_t, const int32_t *, const float *, const float *, const float *, const float *,
                        const float *, size_t, size_t, float, int, const float *, float *, float *, float *);
    void (*source_grad)(const float *, const float *, const float *, const float *, const float *, float,
                        const float *, const float *, size_t, size_t, float, float *);
} loops;

#define LOOPS_TARGET
#define LOOPS_NAME(f) f##_base
#include "fast_loops.h"
#undef LOOPS_TARGET
#undef LOOPS_NAME
static const loops loops_base = {edge_scores_base, aggregate_base, alpha_grads_base, score_grads_base,
                                 source_grad_base};

#if defined(__GNUC__) && defined(__x86_64__)
#define LOOPS_TARGET __attribute__((target("avx2,fma")))
#define LOOPS_NAME(f) f##_avx2
#include "fast_loops.h"
#undef LOOPS_TARGET
#undef LOOPS_NAME
static const loops loops_avx2 = {edge_scores_avx2, aggregate_avx2, alpha_grads_avx2, score_grads_avx2,
                                 source_grad_avx2};
#endif

/* The loops for this CPU. Within one machine the choice never changes, so neither do the bits. */
static const loops *pick_loops(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !getenv("GATREC_NO_AVX2"))
        return &loops_avx2;
#endif
    return &loops_base;
}

static void forward_block(void *ctx, size_t blk)
{
    gat_job *J = ctx;
    const gatrec__edges *g = J->g;
    size_t H = J->sh->heads, C = J->sh->ch, hc = H * C, ow = gatrec__gat_out_width(J->sh);
    size_t t0 = edge_block_begin(g->off, g->n, blk), t1 = edge_block_begin(g->off, g->n, blk + 1);
    float *acc = gatrec__malloc_array(hc, sizeof *acc);
    float *alpha = J->alpha_out;
    if (!acc) {
        J->failed = 1;
        return;
    }
    for (size_t t = t0; t < t1; t++) {
        size_t e0 = g->off[t], e1 = g->off[t + 1];
        J->L->edge_scores(e0, e1, g->src, g->attr, J->xl, J->xr + t * hc, J->we, J->att, H, C, J->sh->slope,
                    J->sh->use_attr, alpha);
        for (size_t h = 0; h < H; h++) {
            float mx = -INFINITY, sum = 0;
            for (size_t e = e0; e < e1; e++)
                mx = alpha[e * H + h] > mx ? alpha[e * H + h] : mx;
            for (size_t e = e0; e < e1; e++)
                sum += alpha[e * H + h] = expf(alpha[e * H + h] - mx);
            for (size_t e = e0; e < e1; e++)
                alpha[e * H + h] /= sum;
        }
        if (!J->out)
            continue;
        J->L->aggregate(e0, e1, g->src, J->xl, alpha, H, C, acc);
        float *o = J->out + t * ow;
        if (J->sh->concat) {
            for (size_t j = 0; j < hc; j++)
                o[j] = acc[j] + J->bias[j];
        } else {
            for (size_t c = 0; c < C; c++) {
                float s = 0;
                for (size_t h = 0; h < H; h++)
                    s += acc[h * C + c];
                o[c] = s / (float)H + J->bias[c];
            }
        }
    }
    free(acc);
}

static int fast_gat_forward(int threads, const gatrec__edges *g, const gatrec__gat_shape *sh, const float *xl,
                            const float *xr, const float *we, const float *att, const float *bias, float *alpha,
                            float *out)
{
    gat_job J = {g, sh, xl, xr, we, att, bias, NULL, NULL, alpha, out, NULL, NULL, NULL, NULL, NULL, 0};
    J.L = pick_loops();
    gatrec__parallel(threads, nblocks(g->n), forward_block, &J);
    return J.failed ? gatrec__error(GATREC_ENOMEM, "out of memory in the GAT forward pass") : GATREC_OK;
}

/* The output gradient of target t seen by each head's channels: dout's row itself when the
 * heads are concatenated, else the row divided by the heads, copied into buf. */
static const float *head_grad(const gat_job *J, size_t t, float *buf)
{
    size_t H = J->sh->heads, C = J->sh->ch;
    const float *d = J->dout + t * gatrec__gat_out_width(J->sh);
    if (J->sh->concat)
        return d;
    for (size_t h = 0; h < H; h++)
        for (size_t c = 0; c < C; c++)
            buf[h * C + c] = d[c] / (float)H;
    return buf;
}

/* Pass 1, by target: softmax backward (ds kept in work), dxr, and block partials of the
 * parameter gradients. */
static void backward_targets(void *ctx, size_t blk)
{
    gat_job *J = ctx;
    const gatrec__edges *g = J->g;
    size_t H = J->sh->heads, C = J->sh->ch, hc = H * C, ow = gatrec__gat_out_width(J->sh);
    size_t t0 = edge_block_begin(g->off, g->n, blk), t1 = edge_block_begin(g->off, g->n, blk + 1);
    float *P = J->partial + blk * (2 * hc + ow), *pdatt = P, *pdwe = P + hc, *pdb = P + 2 * hc;
    float *buf = gatrec__malloc_array(hc + H, sizeof *buf), *dot = buf + hc;
    if (!buf) {
        J->failed = 1;
        return;
    }
    memset(P, 0, (2 * hc + ow) * sizeof *P);
    for (size_t t = t0; t < t1; t++) {
        size_t e0 = g->off[t], e1 = g->off[t + 1];
        const float *d = J->dout + t * ow, *dd = head_grad(J, t, buf);
        float *dxr = J->dxr + t * hc;
        for (size_t j = 0; j < ow; j++)
            pdb[j] += d[j];
        J->L->alpha_grads(e0, e1, g->src, J->xl, dd, H, C, J->work);
        memset(dot, 0, H * sizeof *dot);
        for (size_t e = e0; e < e1; e++)
            for (size_t h = 0; h < H; h++)
                dot[h] += J->alpha[e * H + h] * J->work[e * H + h];
        for (size_t e = e0; e < e1; e++)
            for (size_t h = 0; h < H; h++)
                J->work[e * H + h] = J->alpha[e * H + h] * (J->work[e * H + h] - dot[h]);
        memset(dxr, 0, hc * sizeof *dxr);
        J->L->score_grads(e0, e1, g->src, g->attr, J->xl, J->xr + t * hc, J->we, J->att, H, C, J->sh->slope,
                    J->sh->use_attr, J->work, dxr, pdatt, pdwe);
    }
    free(buf);
}

/* Pass 2, by source: everything that reaches xl of a source, over its out-edges in a fixed order. */
static void backward_sources(void *ctx, size_t blk)
{
    gat_job *J = ctx;
    const gatrec__edges *g = J->g;
    size_t H = J->sh->heads, C = J->sh->ch, hc = H * C;
    size_t s0 = edge_block_begin(g->soff, g->n, blk), s1 = edge_block_begin(g->soff, g->n, blk + 1);
    float *buf = gatrec__malloc_array(hc, sizeof *buf);
    if (!buf) {
        J->failed = 1;
        return;
    }
    for (size_t s = s0; s < s1; s++) {
        float *dxl = J->dxl + s * hc;
        memset(dxl, 0, hc * sizeof *dxl);
        for (size_t k = g->soff[s]; k < g->soff[s + 1]; k++) {
            size_t e = g->sedge[k], t = (size_t)g->dst[e];
            J->L->source_grad(J->xl + s * hc, J->xr + t * hc, head_grad(J, t, buf), J->we, J->att,
                        J->sh->use_attr ? g->attr[e] : 0.0f, J->alpha + e * H, J->work + e * H, H, C, J->sh->slope,
                        dxl);
        }
    }
    free(buf);
}

static int fast_gat_backward(int threads, const gatrec__edges *g, const gatrec__gat_shape *sh, const float *xl,
                             const float *xr, const float *we, const float *att, const float *alpha,
                             const float *dout, float *dxl, float *dxr, float *dwe, float *datt, float *dbias,
                             float *work)
{
    size_t hc = sh->heads * sh->ch, ow = gatrec__gat_out_width(sh), nb = nblocks(g->n), w = 2 * hc + ow;
    gat_job J = {g, sh, xl, xr, we, att, NULL, alpha, dout, NULL, NULL, dxl, dxr, work, NULL, NULL, 0};
    J.L = pick_loops();
    if (!(J.partial = gatrec__malloc_array(nb * w, sizeof *J.partial)))
        return GATREC_ENOMEM;
    gatrec__parallel(threads, nb, backward_targets, &J);
    if (!J.failed)
        gatrec__parallel(threads, nb, backward_sources, &J);
    for (size_t b = 0; b < nb && !J.failed; b++) {
        const float *P = J.partial + b * w;
        for (size_t j = 0; j < hc; j++) {
            datt[j] += P[j];
            dwe[j] += P[hc + j];
        }
        for (size_t j = 0; j < ow; j++)
            dbias[j] += P[2 * hc + j];
    }
    free(J.partial);
    return J.failed ? gatrec__error(GATREC_ENOMEM, "out of memory in the GAT backward pass") : GATREC_OK;
}

typedef struct ln_job {
    size_t n, d;
    float eps;
    const float *x, *gamma, *beta, *dy;
    float *y, *mean, *rstd, *dx, *partial;
} ln_job;

static void ln_forward_block(void *ctx, size_t blk)
{
    ln_job *J = ctx;
    size_t d = J->d;
    for (size_t r = block_begin(J->n, blk); r < block_begin(J->n, blk + 1); r++) {
        const float *x = J->x + r * d;
        float *y = J->y + r * d, mu = 0, var = 0, rs;
        for (size_t j = 0; j < d; j++)
            mu += x[j];
        mu /= (float)d;
        for (size_t j = 0; j < d; j++)
            var += (x[j] - mu) * (x[j] - mu);
        rs = 1.0f / sqrtf(var / (float)d + J->eps);
        J->mean[r] = mu;
        J->rstd[r] = rs;
        for (size_t j = 0; j < d; j++)
            y[j] = (x[j] - mu) * rs * J->gamma[j] + J->beta[j];
    }
}

static int fast_layernorm(int threads, size_t n, size_t d, float eps, const float *x, const float *gamma,
                          const float *beta, float *y, float *mean, float *rstd)
{
    ln_job J = {n, d, eps, x, gamma, beta, NULL, y, mean, rstd, NULL, NULL};
    gatrec__parallel(threads, nblocks(n), ln_forward_block, &J);
    return GATREC_OK;
}

static void ln_backward_block(void *ctx, size_t blk)
{
    ln_job *J = ctx;
    size_t d = J->d;
    float *pg = J->partial + blk * 2 * d, *pb = pg + d;
    memset(pg, 0, 2 * d * sizeof *pg);
    for (size_t r = block_begin(J->n, blk); r < block_begin(J->n, blk + 1); r++) {
        const float *x = J->x + r * d, *dy = J->dy + r * d;
        float *dx = J->dx + r * d, mu = J->mean[r], rs = J->rstd[r], m1 = 0, m2 = 0;
        for (size_t j = 0; j < d; j++) {
            float xh = (x[j] - mu) * rs, gj = dy[j] * J->gamma[j];
            m1 += gj;
            m2 += gj * xh;
            pg[j] += dy[j] * xh;
            pb[j] += dy[j];
        }
        m1 /= (float)d;
        m2 /= (float)d;
        for (size_t j = 0; j < d; j++)
            dx[j] = rs * (dy[j] * J->gamma[j] - m1 - (x[j] - mu) * rs * m2);
    }
}

static int fast_layernorm_backward(int threads, size_t n, size_t d, const float *x, const float *gamma,
                                   const float *mean, const float *rstd, const float *dy, float *dx, float *dgamma,
                                   float *dbeta)
{
    size_t nb = nblocks(n);
    ln_job J = {n, d, 0, x, gamma, NULL, dy, NULL, (float *)mean, (float *)rstd, dx, NULL};
    if (!(J.partial = gatrec__malloc_array(nb * 2 * d, sizeof *J.partial)))
        return GATREC_ENOMEM;
    gatrec__parallel(threads, nb, ln_backward_block, &J);
    for (size_t b = 0; b < nb; b++)
        for (size_t j = 0; j < d; j++) {
            dgamma[j] += J.partial[b * 2 * d + j];
            dbeta[j] += J.partial[b * 2 * d + d + j];
        }
    free(J.partial);
    return GATREC_OK;
}

/* ---- the attn model's one-head attention and weighted propagation ----
 * The attention reuses the GAT's per-edge loops with one head of ha channels; a missing edge
 * attribute is a zero weight vector. */

typedef struct attn_job {
    const gatrec__edges *g;
    size_t ha, d;
    float slope;
    const float *xl, *xr, *we, *att, *alpha, *dalpha, *w, *in, *dout, *zeros;
    float *alpha_out, *dxl, *dxr, *work, *partial, *out, *din, *dw;
    const loops *L;
} attn_job;

static void attn_forward_block(void *ctx, size_t blk)
{
    attn_job *J = ctx;
    const gatrec__edges *g = J->g;
    size_t t0 = edge_block_begin(g->off, g->n, blk), t1 = edge_block_begin(g->off, g->n, blk + 1);
    float *a = J->alpha_out;
    for (size_t t = t0; t < t1; t++) {
        size_t e0 = g->off[t], e1 = g->off[t + 1];
        float mx = -INFINITY, sum = 0;
        J->L->edge_scores(e0, e1, g->src, g->attr, J->xl, J->xr + t * J->ha, J->we, J->att, 1, J->ha, J->slope,
                          J->we != J->zeros, a);
        for (size_t e = e0; e < e1; e++)
            mx = a[e] > mx ? a[e] : mx;
        for (size_t e = e0; e < e1; e++)
            sum += a[e] = expf(a[e] - mx);
        for (size_t e = e0; e < e1; e++)
            a[e] /= sum;
    }
}

/* Pass 1, by target: the softmax backward (kept in work), dxr, block partials of datt and dwe. */
static void attn_backward_targets(void *ctx, size_t blk)
{
    attn_job *J = ctx;
    const gatrec__edges *g = J->g;
    size_t ha = J->ha, t0 = edge_block_begin(g->off, g->n, blk), t1 = edge_block_begin(g->off, g->n, blk + 1);
    float *pdatt = J->partial + blk * 2 * ha, *pdwe = pdatt + ha;
    memset(pdatt, 0, 2 * ha * sizeof *pdatt);
    for (size_t t = t0; t < t1; t++) {
        size_t e0 = g->off[t], e1 = g->off[t + 1];
        float dot = 0;
        for (size_t e = e0; e < e1; e++)
            dot += J->alpha[e] * J->dalpha[e];
        for (size_t e = e0; e < e1; e++)
            J->work[e] = J->alpha[e] * (J->dalpha[e] - dot);
        memset(J->dxr + t * ha, 0, ha * sizeof *J->dxr);
        J->L->score_grads(e0, e1, g->src, g->attr, J->xl, J->xr + t * ha, J->we, J->att, 1, ha, J->slope,
                          J->we != J->zeros, J->work, J->dxr + t * ha, pdatt, pdwe);
    }
}

/* Pass 2, by source: the score path into xl (no message path: zeros for the output gradient). */
static void attn_backward_sources(void *ctx, size_t blk)
{
    attn_job *J = ctx;
    const gatrec__edges *g = J->g;
    size_t ha = J->ha, s0 = edge_block_begin(g->soff, g->n, blk), s1 = edge_block_begin(g->soff, g->n, blk + 1);
    for (size_t s = s0; s < s1; s++) {
        float *dxl = J->dxl + s * ha;
        memset(dxl, 0, ha * sizeof *dxl);
        for (size_t k = g->soff[s]; k < g->soff[s + 1]; k++) {
            size_t e = g->sedge[k], t = (size_t)g->dst[e];
            J->L->source_grad(J->xl + s * ha, J->xr + t * ha, J->zeros, J->we, J->att,
                              J->we != J->zeros ? g->attr[e] : 0.0f, J->alpha + e, J->work + e, 1, ha, J->slope, dxl);
        }
    }
}

static int fast_attn_weights(int threads, const gatrec__edges *g, size_t ha, float slope, const float *xl,
                             const float *xr, const float *we, const float *att, float *alpha)
{
    attn_job J = {.g = g, .ha = ha, .slope = slope, .xl = xl, .xr = xr, .we = we, .att = att, .alpha_out = alpha};
    float *zeros = NULL;
    if (!we && !(J.we = J.zeros = zeros = gatrec__calloc(ha + 1, sizeof *zeros)))
        return GATREC_ENOMEM;
    J.L = pick_loops();
    gatrec__parallel(threads, nblocks(g->n), attn_forward_block, &J);
    free(zeros);
    return GATREC_OK;
}

static int fast_attn_weights_backward(int threads, const gatrec__edges *g, size_t ha, float slope, const float *xl,
                                      const float *xr, const float *we, const float *att, const float *alpha,
                                      const float *dalpha, float *dxl, float *dxr, float *dwe, float *datt,
                                      float *work)
{
    size_t nb = nblocks(g->n);
    attn_job J = {.g = g, .ha = ha, .slope = slope, .xl = xl, .xr = xr, .we = we, .att = att, .alpha = alpha,
                  .dalpha = dalpha, .dxl = dxl, .dxr = dxr, .work = work};
    float *zeros = gatrec__calloc(ha + 1, sizeof *zeros);
    J.partial = gatrec__malloc_array(nb * 2 * ha, sizeof *J.partial);
    if (!zeros || !J.partial) {
        free(zeros);
        free(J.partial);
        return GATREC_ENOMEM;
    }
    J.zeros = zeros;
    if (!we)
        J.we = J.zeros;
    J.L = pick_loops();
    gatrec__parallel(threads, nb, attn_backward_targets, &J);
    gatrec__parallel(threads, nb, attn_backward_sources, &J);
    for (size_t b = 0; b < nb; b++)
        for (size_t c = 0; c < ha; c++) {
            datt[c] += J.partial[b * 2 * ha + c];
            if (we)
                dwe[c] += J.partial[b * 2 * ha + ha + c];
        }
    free(zeros);
    free(J.partial);
    return GATREC_OK;
}

static void propagate_block(void *ctx, size_t blk)
{
    attn_job *J = ctx;
    const gatrec__edges *g = J->g;
    size_t t0 = edge_block_begin(g->off, g->n, blk), t1 = edge_block_begin(g->off, g->n, blk + 1);
    for (size_t t = t0; t < t1; t++)
        J->L->aggregate(g->off[t], g->off[t + 1], g->src, J->in, J->w, 1, J->d, J->out + t * J->d);
}

static int fast_propagate(int threads, const gatrec__edges *g, size_t d, const float *w, const float *in, float *out)
{
    attn_job J = {.g = g, .d = d, .w = w, .in = in, .out = out};
    J.L = pick_loops();
    gatrec__parallel(threads, nblocks(g->n), propagate_block, &J);
    return GATREC_OK;
}

/* By source: din (every out-edge of a source, in edge order); by target: dw. */
static void propagate_back_sources(void *ctx, size_t blk)
{
    attn_job *J = ctx;
    const gatrec__edges *g = J->g;
    size_t d = J->d, s0 = edge_block_begin(g->soff, g->n, blk), s1 = edge_block_begin(g->soff, g->n, blk + 1);
    for (size_t s = s0; s < s1; s++) {
        float *restrict di = J->din + s * d;
        for (size_t k = g->soff[s]; k < g->soff[s + 1]; k++) {
            size_t e = g->sedge[k];
            const float *restrict dt = J->dout + (size_t)g->dst[e] * d;
            float w = J->w[e];
            for (size_t c = 0; c < d; c++)
                di[c] += w * dt[c];
        }
    }
}

static void propagate_back_weights(void *ctx, size_t blk)
{
    attn_job *J = ctx;
    const gatrec__edges *g = J->g;
    size_t t0 = edge_block_begin(g->off, g->n, blk), t1 = edge_block_begin(g->off, g->n, blk + 1);
    for (size_t t = t0; t < t1; t++) {
        J->L->alpha_grads(g->off[t], g->off[t + 1], g->src, J->in, J->dout + t * J->d, 1, J->d, J->work);
        for (size_t e = g->off[t]; e < g->off[t + 1]; e++)
            J->dw[e] += J->work[e];
    }
}

static int fast_propagate_backward(int threads, const gatrec__edges *g, size_t d, const float *w, const float *in,
                                   const float *dout, float *din, float *dw)
{
    attn_job J = {.g = g, .d = d, .w = w, .in = in, .dout = dout, .din = din, .dw = dw};
    J.L = pick_loops();
    gatrec__parallel(threads, nblocks(g->n), propagate_back_sources, &J);
    if (dw) {
        if (!(J.work = gatrec__malloc_array(g->m + 1, sizeof *J.work)))
            return GATREC_ENOMEM;
        gatrec__parallel(threads, nblocks(g->n), propagate_back_weights, &J);
        free(J.work);
    }
    return GATREC_OK;
}

const gatrec__kernels gatrec__kernels_fast = {
    "fast",           fast_linear,    fast_linear_backward,   fast_gat_forward,
    fast_gat_backward, fast_layernorm, fast_layernorm_backward, fast_attn_weights,
    fast_attn_weights_backward, fast_propagate, fast_propagate_backward,
};

const gatrec__kernels *gatrec__kernels_get(const char *name)
{
    if (!name || !*name)
        name = getenv("GATREC_KERNELS");
    if (!name || !*name || strcmp(name, "fast") == 0)
        return &gatrec__kernels_fast;
    if (strcmp(name, "reference") == 0)
        return &gatrec__kernels_reference;
    gatrec__error(GATREC_EINVAL, "unknown kernels '%s' (known: reference, fast)", name);
    return NULL;
}
