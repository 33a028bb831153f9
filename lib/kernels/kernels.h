/* The graph models' numerical kernels (the GAT's GATv2 convolution and attn's attention and
 * propagation, with their backward passes, and the dense layers around them) behind one
 * dispatch table.
 *
 * Two implementations fill the table: "reference" (plain loops, one thread, written to be
 * obviously right) and "fast" (BLIS for the dense products, threads over fixed blocks of
 * nodes, fused per-edge loops). The model only ever calls through the table, chosen at run
 * time. Every parameter gradient that sums over nodes is summed per fixed block and then in
 * block order, so "fast" gives bitwise the same result for any thread count. */
#ifndef GATREC_KERNELS_H
#define GATREC_KERNELS_H

#include "../common/common.h"

/* A directed graph over n nodes with m edges, grouped by target: the edges into node t are
 * e in [off[t], off[t+1]), from src[e], with attribute attr[e]. The same edges grouped by
 * source: sedge[soff[s] .. soff[s+1]) are the ids of the edges out of s, dst[e] their target. */
typedef struct gatrec__edges {
    size_t n, m;
    const size_t *off;
    const int32_t *src;
    const float *attr;
    const size_t *soff;
    const uint32_t *sedge;
    const int32_t *dst;
} gatrec__edges;

/* One GATv2 convolution's shape: heads x ch channels; the output is heads*ch wide when
 * concat, ch wide (mean over heads) otherwise. slope: the attention LeakyReLU's slope.
 * use_attr: add attr[e] * we to the attention input. */
typedef struct gatrec__gat_shape {
    size_t heads, ch;
    int concat;
    float slope;
    int use_attr;
} gatrec__gat_shape;

static inline size_t gatrec__gat_out_width(const gatrec__gat_shape *s)
{
    return s->concat ? s->heads * s->ch : s->ch;
}

typedef struct gatrec__kernels {
    const char *name;
    /* Y[n x m] = X[n x k] W^T (W is m x k) + b (b may be NULL). */
    int (*linear)(int threads, size_t n, size_t k, size_t m, const float *X, const float *W, const float *b,
                  float *Y);
    /* dX[n x k] += dY W (dX may be NULL); dW[m x k] += dY^T X; db[m] += column sums of dY (db may be NULL). */
    int (*linear_backward)(int threads, size_t n, size_t k, size_t m, const float *X, const float *W,
                           const float *dY, float *dX, float *dW, float *db);
    /* GATv2 over g: xl (sources) and xr (targets) are n x heads*ch; we and att are heads*ch;
     * bias is the output width. Writes alpha[m x heads] (the attention of each edge) and out; out
     * NULL: alpha alone (a backward pass that did not keep the forward's alpha recomputes it). */
    int (*gat_forward)(int threads, const gatrec__edges *g, const gatrec__gat_shape *s, const float *xl,
                       const float *xr, const float *we, const float *att, const float *bias, float *alpha,
                       float *out);
    /* Backward of gat_forward for the output gradient dout: overwrites dxl and dxr (n x heads*ch);
     * adds to dwe, datt (heads*ch) and dbias (output width). work holds m x heads floats. */
    int (*gat_backward)(int threads, const gatrec__edges *g, const gatrec__gat_shape *s, const float *xl,
                        const float *xr, const float *we, const float *att, const float *alpha, const float *dout,
                        float *dxl, float *dxr, float *dwe, float *datt, float *dbias, float *work);
    /* Row-wise LayerNorm of x[n x d] with gain and bias; writes y and each row's mean and 1/std. */
    int (*layernorm)(int threads, size_t n, size_t d, float eps, const float *x, const float *gamma,
                     const float *beta, float *y, float *mean, float *rstd);
    /* Backward: overwrites dx; adds to dgamma and dbeta. */
    int (*layernorm_backward)(int threads, size_t n, size_t d, const float *x, const float *gamma,
                              const float *mean, const float *rstd, const float *dy, float *dx, float *dgamma,
                              float *dbeta);
    /* ---- the attention-weighted propagation of the attn model (LightGCN-shaped, one head) ----
     * The attention of edge e (source s, target t): softmax over the edges into t of
     * att . LeakyReLU(xl[s] + xr[t] + attr[e] we) (xl, xr: n x ha; we NULL: no edge attribute).
     * Writes alpha[m]. */
    int (*attn_weights)(int threads, const gatrec__edges *g, size_t ha, float slope, const float *xl,
                        const float *xr, const float *we, const float *att, float *alpha);
    /* Backward of attn_weights for dalpha[m]: overwrites dxl and dxr (n x ha); adds to dwe (when
     * we is not NULL) and datt. work holds m floats. */
    int (*attn_weights_backward)(int threads, const gatrec__edges *g, size_t ha, float slope, const float *xl,
                                 const float *xr, const float *we, const float *att, const float *alpha,
                                 const float *dalpha, float *dxl, float *dxr, float *dwe, float *datt, float *work);
    /* out[t] = sum over the edges e into t of w[e] in[src[e]] (in, out: n x d; out overwritten). */
    int (*propagate)(int threads, const gatrec__edges *g, size_t d, const float *w, const float *in, float *out);
    /* Backward of propagate: din[s] += sum over the edges e out of s of w[e] dout[dst[e]];
     * dw[e] += <dout[dst[e]], in[src[e]]> when dw is not NULL. */
    int (*propagate_backward)(int threads, const gatrec__edges *g, size_t d, const float *w, const float *in,
                              const float *dout, float *din, float *dw);
} gatrec__kernels;

extern const gatrec__kernels gatrec__kernels_reference;
extern const gatrec__kernels gatrec__kernels_fast;

/* The table named `name` ("reference" or "fast"); NULL or "" means $GATREC_KERNELS, else "fast".
 * NULL (with the error set) for an unknown name. */
const gatrec__kernels *gatrec__kernels_get(const char *name);

#endif
