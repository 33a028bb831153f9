/* The reference kernels: the textbook formulas as plain loops on one thread. Slow on purpose:
 * they are what the fast kernels and the PyTorch oracle are checked against. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static float leaky(float x, float slope)
{
    return x > 0 ? x : slope * x;
}

static int ref_linear(int threads, size_t n, size_t k, size_t m, const float *X, const float *W, const float *b,
                      float *Y)
{
    (void)threads;
    for (size_t r = 0; r < n; r++)
        for (size_t o = 0; o < m; o++) {
            double acc = b ? b[o] : 0.0;
            for (size_t i = 0; i < k; i++)
                acc += (double)X[r * k + i] * W[o * k + i];
            Y[r * m + o] = (float)acc;
        }
    return GATREC_OK;
}

static int ref_linear_backward(int threads, size_t n, size_t k, size_t m, const float *X, const float *W,
                               const float *dY, float *dX, float *dW, float *db)
{
    (void)threads;
    for (size_t r = 0; dX && r < n; r++)
        for (size_t i = 0; i < k; i++) {
            double acc = 0;
            for (size_t o = 0; o < m; o++)
                acc += (double)dY[r * m + o] * W[o * k + i];
            dX[r * k + i] += (float)acc;
        }
    for (size_t o = 0; o < m; o++) {
        for (size_t i = 0; i < k; i++) {
            double acc = 0;
            for (size_t r = 0; r < n; r++)
                acc += (double)dY[r * m + o] * X[r * k + i];
            dW[o * k + i] += (float)acc;
        }
        if (db) {
            double acc = 0;
            for (size_t r = 0; r < n; r++)
                acc += dY[r * m + o];
            db[o] += (float)acc;
        }
    }
    return GATREC_OK;
}

/* The attention input of edge e (source s, target t) for head h, channel c. */
static float pre(const gatrec__edges *g, const gatrec__gat_shape *sh, const float *xl, const float *xr,
                 const float *we, size_t e, size_t t, size_t h, size_t c)
{
    size_t hc = sh->heads * sh->ch, j = h * sh->ch + c;
    float v = xl[(size_t)g->src[e] * hc + j] + xr[t * hc + j];
    return sh->use_attr ? v + g->attr[e] * we[j] : v;
}

static int ref_gat_forward(int threads, const gatrec__edges *g, const gatrec__gat_shape *sh, const float *xl,
                           const float *xr, const float *we, const float *att, const float *bias, float *alpha,
                           float *out)
{
    size_t H = sh->heads, C = sh->ch, hc = H * C, ow = gatrec__gat_out_width(sh);
    (void)threads;
    for (size_t t = 0; t < g->n; t++) {
        float *o = out ? out + t * ow : NULL;
        for (size_t j = 0; o && j < ow; j++)
            o[j] = bias[j];
        for (size_t h = 0; h < H; h++) {
            double mx = -INFINITY, sum = 0;
            for (size_t e = g->off[t]; e < g->off[t + 1]; e++) {
                double s = 0;
                for (size_t c = 0; c < C; c++)
                    s += (double)att[h * C + c] * leaky(pre(g, sh, xl, xr, we, e, t, h, c), sh->slope);
                alpha[e * H + h] = (float)s;
                if (s > mx)
                    mx = s;
            }
            for (size_t e = g->off[t]; e < g->off[t + 1]; e++)
                sum += exp(alpha[e * H + h] - mx);
            for (size_t e = g->off[t]; e < g->off[t + 1]; e++)
                alpha[e * H + h] = (float)(exp(alpha[e * H + h] - mx) / sum);
            for (size_t c = 0; o && c < C; c++) {
                double acc = 0;
                for (size_t e = g->off[t]; e < g->off[t + 1]; e++)
                    acc += (double)alpha[e * H + h] * xl[(size_t)g->src[e] * hc + h * C + c];
                if (sh->concat)
                    o[h * C + c] += (float)acc;
                else
                    o[c] += (float)(acc / (double)H);
            }
        }
    }
    return GATREC_OK;
}

static int ref_gat_backward(int threads, const gatrec__edges *g, const gatrec__gat_shape *sh, const float *xl,
                            const float *xr, const float *we, const float *att, const float *alpha, const float *dout,
                            float *dxl, float *dxr, float *dwe, float *datt, float *dbias, float *work)
{
    size_t H = sh->heads, C = sh->ch, hc = H * C, ow = gatrec__gat_out_width(sh);
    (void)threads;
    memset(dxl, 0, g->n * hc * sizeof *dxl);
    memset(dxr, 0, g->n * hc * sizeof *dxr);
    for (size_t t = 0; t < g->n; t++) {
        const float *d = dout + t * ow;
        for (size_t j = 0; j < ow; j++)
            dbias[j] += d[j];
        for (size_t h = 0; h < H; h++) {
            double dot = 0;
            /* d(out)/d(alpha) and the gradient reaching the sources through the messages */
            for (size_t e = g->off[t]; e < g->off[t + 1]; e++) {
                size_t s = (size_t)g->src[e];
                double da = 0;
                for (size_t c = 0; c < C; c++) {
                    float dc = sh->concat ? d[h * C + c] : d[c] / (float)H;
                    da += (double)dc * xl[s * hc + h * C + c];
                    dxl[s * hc + h * C + c] += alpha[e * H + h] * dc;
                }
                work[e * H + h] = (float)da;
                dot += (double)alpha[e * H + h] * da;
            }
            /* through the softmax to the attention scores, then through the score function */
            for (size_t e = g->off[t]; e < g->off[t + 1]; e++) {
                size_t s = (size_t)g->src[e];
                float ds = (float)(alpha[e * H + h] * (work[e * H + h] - dot));
                for (size_t c = 0; c < C; c++) {
                    float p = pre(g, sh, xl, xr, we, e, t, h, c);
                    float dm = ds * att[h * C + c] * (p > 0 ? 1.0f : sh->slope);
                    datt[h * C + c] += ds * leaky(p, sh->slope);
                    dxl[s * hc + h * C + c] += dm;
                    dxr[t * hc + h * C + c] += dm;
                    if (sh->use_attr)
                        dwe[h * C + c] += dm * g->attr[e];
                }
            }
        }
    }
    return GATREC_OK;
}

static int ref_layernorm(int threads, size_t n, size_t d, float eps, const float *x, const float *gamma,
                         const float *beta, float *y, float *mean, float *rstd)
{
    (void)threads;
    for (size_t r = 0; r < n; r++) {
        const float *xr = x + r * d;
        double mu = 0, var = 0;
        for (size_t j = 0; j < d; j++)
            mu += xr[j];
        mu /= (double)d;
        for (size_t j = 0; j < d; j++)
            var += (xr[j] - mu) * (xr[j] - mu);
        var /= (double)d;
        mean[r] = (float)mu;
        rstd[r] = (float)(1.0 / sqrt(var + eps));
        for (size_t j = 0; j < d; j++)
            y[r * d + j] = (float)((xr[j] - mu) * rstd[r]) * gamma[j] + beta[j];
    }
    return GATREC_OK;
}

static int ref_layernorm_backward(int threads, size_t n, size_t d, const float *x, const float *gamma,
                                  const float *mean, const float *rstd, const float *dy, float *dx, float *dgamma,
                                  float *dbeta)
{
    (void)threads;
    for (size_t r = 0; r < n; r++) {
        double m1 = 0, m2 = 0; /* means of dxhat and dxhat * xhat */
        for (size_t j = 0; j < d; j++) {
            double xh = (x[r * d + j] - mean[r]) * rstd[r];
            double g = (double)dy[r * d + j] * gamma[j];
            m1 += g;
            m2 += g * xh;
            dgamma[j] += (float)(dy[r * d + j] * xh);
            dbeta[j] += dy[r * d + j];
        }
        m1 /= (double)d;
        m2 /= (double)d;
        for (size_t j = 0; j < d; j++) {
            double xh = (x[r * d + j] - mean[r]) * rstd[r];
            dx[r * d + j] = (float)(rstd[r] * ((double)dy[r * d + j] * gamma[j] - m1 - xh * m2));
        }
    }
    return GATREC_OK;
}

/* The attention input of edge e into t, channel c, for the attn model's one-head attention. */
static float attn_pre(const gatrec__edges *g, size_t ha, const float *xl, const float *xr, const float *we, size_t e,
                      size_t t, size_t c)
{
    float v = xl[(size_t)g->src[e] * ha + c] + xr[t * ha + c];
    return we ? v + g->attr[e] * we[c] : v;
}

static int ref_attn_weights(int threads, const gatrec__edges *g, size_t ha, float slope, const float *xl,
                            const float *xr, const float *we, const float *att, float *alpha)
{
    (void)threads;
    for (size_t t = 0; t < g->n; t++) {
        double mx = -INFINITY, sum = 0;
        for (size_t e = g->off[t]; e < g->off[t + 1]; e++) {
            double s = 0;
            for (size_t c = 0; c < ha; c++)
                s += (double)att[c] * leaky(attn_pre(g, ha, xl, xr, we, e, t, c), slope);
            alpha[e] = (float)s;
            mx = s > mx ? s : mx;
        }
        for (size_t e = g->off[t]; e < g->off[t + 1]; e++)
            sum += exp(alpha[e] - mx);
        for (size_t e = g->off[t]; e < g->off[t + 1]; e++)
            alpha[e] = (float)(exp(alpha[e] - mx) / sum);
    }
    return GATREC_OK;
}

static int ref_attn_weights_backward(int threads, const gatrec__edges *g, size_t ha, float slope, const float *xl,
                                     const float *xr, const float *we, const float *att, const float *alpha,
                                     const float *dalpha, float *dxl, float *dxr, float *dwe, float *datt, float *work)
{
    (void)threads;
    (void)work;
    memset(dxl, 0, g->n * ha * sizeof *dxl);
    memset(dxr, 0, g->n * ha * sizeof *dxr);
    for (size_t t = 0; t < g->n; t++) {
        double dot = 0;
        for (size_t e = g->off[t]; e < g->off[t + 1]; e++)
            dot += (double)alpha[e] * dalpha[e];
        for (size_t e = g->off[t]; e < g->off[t + 1]; e++) {
            size_t s = (size_t)g->src[e];
            float ds = (float)(alpha[e] * (dalpha[e] - dot)); /* through the softmax */
            for (size_t c = 0; c < ha; c++) {
                float p = attn_pre(g, ha, xl, xr, we, e, t, c), dm = ds * att[c] * (p > 0 ? 1.0f : slope);
                datt[c] += ds * leaky(p, slope);
                dxl[s * ha + c] += dm;
                dxr[t * ha + c] += dm;
                if (we)
                    dwe[c] += dm * g->attr[e];
            }
        }
    }
    return GATREC_OK;
}

static int ref_propagate(int threads, const gatrec__edges *g, size_t d, const float *w, const float *in, float *out)
{
    (void)threads;
    for (size_t t = 0; t < g->n; t++)
        for (size_t c = 0; c < d; c++) {
            double acc = 0;
            for (size_t e = g->off[t]; e < g->off[t + 1]; e++)
                acc += (double)w[e] * in[(size_t)g->src[e] * d + c];
            out[t * d + c] = (float)acc;
        }
    return GATREC_OK;
}

static int ref_propagate_backward(int threads, const gatrec__edges *g, size_t d, const float *w, const float *in,
                                  const float *dout, float *din, float *dw)
{
    (void)threads;
    for (size_t t = 0; t < g->n; t++)
        for (size_t e = g->off[t]; e < g->off[t + 1]; e++) {
            size_t s = (size_t)g->src[e];
            double acc = 0;
            for (size_t c = 0; c < d; c++) {
                din[s * d + c] += w[e] * dout[t * d + c];
                acc += (double)dout[t * d + c] * in[s * d + c];
            }
            if (dw)
                dw[e] += (float)acc;
        }
    return GATREC_OK;
}

const gatrec__kernels gatrec__kernels_reference = {
    "reference",       ref_linear,       ref_linear_backward,   ref_gat_forward,          ref_gat_backward,
    ref_layernorm,     ref_layernorm_backward, ref_attn_weights, ref_attn_weights_backward, ref_propagate,
    ref_propagate_backward,
};
