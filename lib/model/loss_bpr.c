/* The BPR loss of the training loop (loop.h): negatives by rejection from the configured
 * sampler, BPR + lambda (1 - cos) per liked pair, the gradient scattered in pair order. */
#include "loop.h"

static int32_t draw(const loop *L, uint64_t counter)
{
    size_t ni = L->g->items.count;
    if (L->o.negative_sampling == GATREC_NEG_POPULARITY) {
        double x = uniform01(L->o.seed, gatrec__stream(GATREC__RNG_NEGATIVE, 0), counter) * L->pop_cdf[ni - 1];
        size_t lo = 0, hi = ni - 1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (L->pop_cdf[mid] <= x)
                lo = mid + 1;
            else
                hi = mid;
        }
        return (int32_t)lo;
    }
    return (int32_t)gatrec__rng_below(L->o.seed, gatrec__stream(GATREC__RNG_NEGATIVE, 0), counter, ni);
}

/* One negative for pair number p (global counter base), by rejection. */
int32_t gatrec__negative(const loop *L, int32_t u, uint64_t base)
{
    size_t nu = L->g->users.count, d = L->t->dim;
    int hard = L->o.negative_sampling == GATREC_NEG_HARD;
    int32_t best = -1;
    float best_s = -INFINITY;
    for (uint64_t a = 0, got = 0; a < 64 && got < (hard ? 8u : 1u); a++) {
        int32_t j = draw(L, base * 64 + a);
        if (excluded(L, u, j))
            continue;
        got++;
        if (!hard)
            return j;
        float s = dot(L->t->emb + (size_t)u * d, L->t->emb + (nu + (size_t)j) * d, d);
        if (s > best_s)
            best_s = s, best = j;
    }
    return best >= 0 ? best : draw(L, base * 64 + 63);
}

/* Per pair of the batch: its negatives, and the coefficients of its gradient (computed in
 * parallel over fixed blocks of pairs; each pair's values depend only on the pair). */
typedef struct pair_job {
    loop *L;
    size_t b0;
    uint64_t step;
    float *coef;     /* per pair: k BPR coefficients, then the two cosine coefficients */
    double *bpr, *cs; /* per pair */
} pair_job;

static void pair_terms(void *ctx, size_t p)
{
    pair_job *J = ctx;
    loop *L = J->L;
    size_t d = L->t->dim, nu = L->g->users.count, k = (size_t)L->o.negatives, q = p - J->b0;
    const float *E = L->t->emb;
    size_t u = (size_t)L->pos[p].u, i = nu + (size_t)L->pos[p].i;
    const float *eu = E + u * d, *ei = E + i * d;
    float sui = dot(eu, ei, d), *cf = J->coef + q * (k + 2);
    double bpr = 0;
    for (size_t n = 0; n < k; n++) {
        int32_t j = gatrec__negative(L, L->pos[p].u, (J->step * L->npos + p) * k + n);
        double x = sui - dot(eu, E + (nu + (size_t)j) * d, d);
        L->negs[q * k + n] = j;
        bpr += x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x)); /* -log sigmoid(x) without overflow */
        cf[n] = (float)(-1.0 / (1.0 + exp(x)));              /* d/dx */
    }
    J->bpr[q] = bpr;
    J->cs[q] = 0;
    cf[k] = cf[k + 1] = 0;
    if (L->o.cos_weight > 0) {
        double nu2 = dot(eu, eu, d), ni2 = dot(ei, ei, d), nn = sqrt(nu2 * ni2) + 1e-12, c = sui / nn;
        J->cs[q] = 1.0 - c;
        cf[k] = (float)(1.0 / nn);                /* d cos / d eu = ei / nn - c eu / |eu|^2 */
        cf[k + 1] = (float)(c);                   /* (and symmetrically for ei) */
    }
}

/* Pairs per round of the BPR loss: its per-pair terms take (negatives + 6) x 4 bytes a pair, for
 * a round at a time (a whole-graph step of ML-20M's 9.2M liked pairs would need 370 MB at once). */
/* Loss of the pairs pos[b0..b1) and its gradient into demb; returns the loss parts. Rounds of
 * pairs, each scattered in pair order: the same bits as one round. */
int gatrec__loss_bpr(loop *L, size_t b0, size_t b1, size_t norm, uint64_t step, double *bpr_out, double *cos_out)
{
    gatrec__trainer *t = L->t;
    size_t d = t->dim, nu = L->g->users.count, k = (size_t)L->o.negatives, B = b1 - b0;
    double bpr = 0, cs = 0, lam = L->o.cos_weight;
    float *E = t->emb, *D = L->demb;
    size_t R = B < LOSS_ROUND ? B : LOSS_ROUND;
    pair_job J = {L, b0, step, gatrec__scratch(L, SC_COEF, R * (k + 2), sizeof(float), 0), gatrec__scratch(L, SC_BPR, R, sizeof(double), 0),
                  gatrec__scratch(L, SC_CS, R, sizeof(double), 0)};
    if (!J.coef || !J.bpr || !J.cs)
        return GATREC_ENOMEM;
    gatrec__clear_demb(L);
    for (size_t r0 = b0; r0 < b1; r0 += R) {
        size_t r1 = b1 - r0 < R ? b1 : r0 + R;
        J.b0 = r0;
        /* one job per pair, handed out in fixed blocks: the same bits for any thread count */
        gatrec__parallel_range(L->o.threads, r0, r1, pair_terms, &J);
        /* the scatter into demb, in pair order */
        for (size_t p = r0; p < r1; p++) {
            size_t q = p - r0, u = (size_t)L->pos[p].u, i = nu + (size_t)L->pos[p].i;
            float *eu = E + u * d, *ei = E + i * d, *du = D + u * d, *di = D + i * d, *cf = J.coef + q * (k + 2);
            touch(L, u);
            touch(L, i);
            for (size_t n = 0; n < k; n++) {
                size_t j = nu + (size_t)L->negs[q * k + n];
                touch(L, j);
                float *ej = E + j * d, *dj = D + j * d, g = cf[n] / (float)(norm * k);
                for (size_t c = 0; c < d; c++) {
                    du[c] += g * (ei[c] - ej[c]);
                    di[c] += g * eu[c];
                    dj[c] -= g * eu[c];
                }
            }
            if (lam > 0) {
                float s = (float)(-lam / (double)norm), inv = cf[k], c = cf[k + 1];
                float cu = c / (dot(eu, eu, d) + 1e-12f), ci = c / (dot(ei, ei, d) + 1e-12f);
                for (size_t q2 = 0; q2 < d; q2++) {
                    float a = eu[q2], b = ei[q2];
                    du[q2] += s * (b * inv - cu * a);
                    di[q2] += s * (a * inv - ci * b);
                }
            }
            bpr += J.bpr[q];
            cs += J.cs[q];
        }
    }
    *bpr_out = bpr / (double)(norm * k);
    *cos_out = cs / (double)norm;
    return GATREC_OK;
}
