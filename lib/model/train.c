/* The shared training loop: see train.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/dense.h"
#include "train.h"

/* random streams */
enum { STREAM_PERM = 1, STREAM_NEG = 2, STREAM_SOFTMAX = 3 };

static double uniform01(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return gatrec__rng_unit(seed, stream, counter);
}

int gatrec__set_embeddings(gatrec_model *m, const float *emb, size_t dim)
{
    size_t nu = m->users.count, ni = m->items.count;
    float *u = gatrec__malloc_array(nu * dim + 1, sizeof *u), *i = gatrec__malloc_array(ni * dim + 1, sizeof *i);
    if (!u || !i) {
        free(u);
        free(i);
        return GATREC_ENOMEM;
    }
    memcpy(u, emb, nu * dim * sizeof *u);
    memcpy(i, emb + nu * dim, ni * dim * sizeof *i);
    free(m->uemb);
    free(m->iemb);
    m->uemb = u;
    m->iemb = i;
    m->dim = dim;
    return GATREC_OK;
}

typedef struct pair {
    int32_t u, i;
} pair;

enum { /* scratch buffers of the losses: BPR's per-pair terms, then the softmax's */
    SC_COEF, SC_BPR, SC_CS, SC_CAND, SC_SLOT, SC_USERS, SC_FIRST, SC_NEXT, SC_U, SC_I, SC_C, SC_S, SC_DU, SC_DI, SC_DC, SC_NU, SC_NI, SC_NC,
    SC_G, SC_UP, SC_DUP, SC_MX, SC_Z, SC_WSUM, SC_MASK, SCRATCH_COUNT
};

typedef struct loop {
    gatrec_model *m;
    const gatrec_graph *g;
    gatrec__trainer *t;
    gatrec_model_options o;
    pair *pos;
    size_t npos;
    double *pop_cdf; /* popularity sampler */
    float *demb, *adam_m, *adam_v, *best;
    int32_t *negs;
    int32_t *known;  /* items with training ratings: the only negatives (a new item is no negative) */
    size_t nknown;
    /* the lazy optimiser: demb is zero outside rows[0..nrows) (marked), and row r last had its
     * update at step last[r] */
    int lazy;       /* 1: BPR-MF (theta is the table, its gradient demb); 2: the table theta[0 .. T) of a
                       sampled kind (its gradient in grad), the rest of theta dense */
    size_t T, rw;   /* the table's length and row width */
    float row_wd;   /* the table's weight decay */
    int sampled;    /* neighbour sampling: seen marks a step's nodes */
    uint8_t *seen;
    uint8_t *mark;
    int32_t *rows;
    size_t nrows;
    uint64_t *last;
    /* the losses' buffers, kept from step to step: a fresh large block every step costs its
     * page faults every time (about a tenth of an ML-20M-shaped attn epoch) */
    struct {
        void *p;
        size_t cap; /* elements */
    } scratch[SCRATCH_COUNT];
} loop;

/* Buffer `id` of at least n elements of `size` bytes (kept and grown; zeroed when `zero`), or NULL.
 * An id always holds elements of one size: its capacity counts them. */
static void *scratch(loop *L, int id, size_t n, size_t size, int zero)
{
    if (gatrec__reserve(&L->scratch[id].p, &L->scratch[id].cap, n ? n : 1, size))
        return NULL;
    if (zero)
        memset(L->scratch[id].p, 0, n * size);
    return L->scratch[id].p;
}

/* demb back to zero before a step writes it: every row, or (lazy) the rows the last step wrote */
static void clear_demb(loop *L)
{
    size_t d = L->t->dim;
    if (!L->lazy) {
        memset(L->demb, 0, (L->g->users.count + L->g->items.count) * d * sizeof *L->demb);
        return;
    }
    for (size_t k = 0; k < L->nrows; k++) {
        memset(L->demb + (size_t)L->rows[k] * d, 0, d * sizeof *L->demb);
        L->mark[L->rows[k]] = 0;
    }
    L->nrows = 0;
}

/* row r of demb is written this step */
static inline void touch(loop *L, size_t r)
{
    if (L->lazy && !L->mark[r]) {
        L->mark[r] = 1;
        L->rows[L->nrows++] = (int32_t)r;
    }
}

/* Is item i among u's training items with a rating that excludes it as a negative? */
static int excluded(const loop *L, int32_t u, int32_t i)
{
    const gatrec__csr *c = &L->g->by_user;
    size_t at;
    if (L->g->by_item.off[i + 1] == L->g->by_item.off[i]) /* no training ratings: not in the catalogue yet */
        return 1;
    if ((at = gatrec__csr_find(c, (size_t)u, i)) == SIZE_MAX)
        return 0;
    if (c->val[at] >= L->g->liked)
        return 1;
    return L->o.negative_sampling != GATREC_NEG_UNIFORM && c->val[at] <= L->g->disliked;
}

static int32_t draw(const loop *L, uint64_t counter)
{
    size_t ni = L->g->items.count;
    if (L->o.negative_sampling == GATREC_NEG_POPULARITY) {
        double x = uniform01(L->o.seed, STREAM_NEG, counter) * L->pop_cdf[ni - 1];
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
    return (int32_t)gatrec__rng_below(L->o.seed, STREAM_NEG, counter, ni);
}

/* Eight partial sums, so that the compiler vectorises the loop without reassociating. */
static float dot(const float *a, const float *b, size_t d)
{
    float s[8] = {0}, t = 0;
    size_t k = 0;
    for (; k + 8 <= d; k += 8)
        for (int q = 0; q < 8; q++)
            s[q] += a[k + q] * b[k + q];
    for (; k < d; k++)
        t += a[k] * b[k];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + t;
}

/* One negative for pair number p (global counter base), by rejection. */
static int32_t negative(const loop *L, int32_t u, uint64_t base)
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
        int32_t j = negative(L, L->pos[p].u, (J->step * L->npos + p) * k + n);
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
#define LOSS_ROUND ((size_t)1 << 16)

/* Loss of the pairs pos[b0..b1) and its gradient into demb; returns the loss parts. Rounds of
 * pairs, each scattered in pair order: the same bits as one round. */
static int loss(loop *L, size_t b0, size_t b1, size_t norm, uint64_t step, double *bpr_out, double *cos_out)
{
    gatrec__trainer *t = L->t;
    size_t d = t->dim, nu = L->g->users.count, k = (size_t)L->o.negatives, B = b1 - b0;
    double bpr = 0, cs = 0, lam = L->o.cos_weight;
    float *E = t->emb, *D = L->demb;
    size_t R = B < LOSS_ROUND ? B : LOSS_ROUND;
    pair_job J = {L, b0, step, scratch(L, SC_COEF, R * (k + 2), sizeof(float), 0), scratch(L, SC_BPR, R, sizeof(double), 0),
                  scratch(L, SC_CS, R, sizeof(double), 0)};
    if (!J.coef || !J.bpr || !J.cs)
        return GATREC_ENOMEM;
    clear_demb(L);
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

/* ---- the softmax loss ---- */

void gatrec__normalise_rows(float *x, size_t n, size_t d, float *norms)
{
    for (size_t r = 0; r < n; r++) {
        float *v = x + r * d, s = sqrtf(dot(v, v, d));
        float inv = s > 1e-12f ? 1.0f / s : 0.0f;
        if (norms)
            norms[r] = s;
        for (size_t k = 0; k < d; k++)
            v[k] *= inv;
    }
}

/* dx = (dn - n (n . dn)) / |x| for n = x / |x|, added to out. */
void gatrec__unnormalise_grad(const float *n, const float *dn, float norm, size_t d, float *out)
{
    float c = dot(n, dn, d), inv = norm > 1e-12f ? 1.0f / norm : 0.0f;
    for (size_t k = 0; k < d; k++)
        out[k] += (dn[k] - c * n[k]) * inv;
}

typedef struct masked {
    size_t at;   /* r * nc + c */
    float p;     /* the pair's probability of the column it masks */
} masked;

typedef struct softmax_job {
    size_t nc;
    float *E;      /* per distinct user of the batch: its logits, then exp(logit - max) in place */
    double *mx, *z; /* per distinct user: the row's max and sum of exponentials */
} softmax_job;

/* One distinct user's row: the exponentials, kept in place, and their sum. */
static void softmax_user(void *ctx, size_t r)
{
    softmax_job *J = ctx;
    float *s = J->E + r * J->nc, m = -INFINITY;
    double z = 0;
    for (size_t c = 0; c < J->nc; c++)
        m = s[c] > m ? s[c] : m;
    for (size_t c = 0; c < J->nc; c++) {
        double e = exp((double)(s[c] - m));
        s[c] = (float)e;
        z += e;
    }
    J->mx[r] = m;
    J->z[r] = z;
}

/* log of the mean over pairs a != b of exp(-2 |x_a - x_b|^2) for the unit rows of X (n x d),
 * and its gradient with respect to X, scaled by w, added into dX. */
static double uniformity(int threads, const float *X, size_t n, size_t d, float w, float *G, float *dX)
{
    double z = 0;
    if (n < 2)
        return 0;
    gatrec__sgemm(threads, 0, 1, n, n, d, 1.0f, X, d, 1, X, d, 1, 0.0f, G, n);
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            G[a * n + b] = a == b ? 0.0f : expf(4.0f * G[a * n + b] - 4.0f);
            z += G[a * n + b];
        }
    if (!(z > 0))
        return 0;
    /* d/dX = 2 * (4 W / z) X (W symmetric) */
    gatrec__sgemm(threads, 0, 0, n, d, n, (float)(8.0 * w / z), G, n, 1, X, d, 1, 1.0f, dX, d);
    return log(z / ((double)n * (double)(n - 1)));
}

/* Sampled softmax: candidate c of this step, uniform over the known items (the same on every rank) */
static int32_t softmax_candidate(const loop *L, uint64_t step, size_t c)
{
    size_t N = (size_t)L->o.negatives;
    return L->known[gatrec__rng_below(L->o.seed, STREAM_SOFTMAX, step * N + c, L->nknown)];
}

/* The softmax loss of pairs pos[b0..b1) and its gradient into demb.
 *
 * Pairs of one user share the logits of that user's row, so the logits, the exponentials and
 * the dense products run over the batch's distinct users (a batch of 4096 pairs holds about 900),
 * not its pairs. The pair's own normaliser differs from its user's only by its positive: the
 * positive's candidate columns are masked and its logit added, Z_pair = Z_u - masked + e^s_pos.
 * The gradient of the logits summed over a user's pairs is then E_u (sum of 1/Z_pair) minus each
 * pair's masked columns, and each pair adds its positive's part. */
static int loss_softmax(loop *L, size_t b0, size_t b1, size_t norm, uint64_t step, double *ce_out, double *unif_out)
{
    gatrec__trainer *t = L->t;
    size_t d = t->dim, nu = L->g->users.count, B = b1 - b0, N = (size_t)L->o.negatives, nd = 0;
    size_t nc = N ? N : L->nknown;
    float inv_tau = 1.0f / L->o.temperature, *E = t->emb, *D = L->demb, w = L->o.uniformity, scale = inv_tau / (float)norm;
    int32_t *cand = N ? scratch(L, SC_CAND, N, sizeof *cand, 0) : L->known;
    int32_t *slot = scratch(L, SC_SLOT, nu, sizeof *slot, 0), *users = scratch(L, SC_USERS, B, sizeof *users, 0);
    int32_t *first = scratch(L, SC_FIRST, L->g->items.count + 1, sizeof *first, 0);
    int32_t *next = scratch(L, SC_NEXT, nc + 1, sizeof *next, 0);
    float *U = NULL, *I = scratch(L, SC_I, B * d, sizeof(float), 0), *dU = NULL; /* U, dU: per distinct user */
    float *C = scratch(L, SC_C, nc * d, sizeof(float), 0), *S = NULL;
    float *dI = scratch(L, SC_DI, B * d, sizeof(float), 0);
    float *dC = scratch(L, SC_DC, nc * d, sizeof(float), 0);
    float *nU = scratch(L, SC_NU, B, sizeof(float), 0), *nI = scratch(L, SC_NI, B, sizeof(float), 0);
    float *nC = scratch(L, SC_NC, nc, sizeof(float), 0), *G = w > 0 ? scratch(L, SC_G, B * B, sizeof(float), 0) : NULL;
    float *Up = w > 0 ? scratch(L, SC_UP, B * d, sizeof(float), 0) : NULL;
    float *dUp = w > 0 ? scratch(L, SC_DUP, B * d, sizeof(float), 1) : NULL;
    double *mx = scratch(L, SC_MX, B, sizeof(double), 0), *z = scratch(L, SC_Z, B, sizeof(double), 0);
    double *wsum = scratch(L, SC_WSUM, B, sizeof(double), 1), sum = 0, unif = 0;
    size_t nmask = 0;
    masked *mask = scratch(L, SC_MASK, B + 1, sizeof *mask, 0);
    int rc = GATREC_OK;
    if (!cand || !slot || !users || !first || !next || !I || !C || !dI || !dC || !nU || !nI || !nC || !mx || !z ||
        !wsum || !mask || (w > 0 && (!G || !Up || !dUp))) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    for (size_t c = 0; N && c < N; c++) /* shared by the batch, uniform over the known items */
        cand[c] = softmax_candidate(L, step, c);
    for (size_t u = 0; u < nu; u++)
        slot[u] = -1;
    for (size_t i = 0; i < L->g->items.count; i++)
        first[i] = -1;
    for (size_t q = 0; q < B; q++) { /* the distinct users, in order of first appearance */
        int32_t u = L->pos[b0 + q].u;
        if (slot[u] < 0) {
            slot[u] = (int32_t)nd;
            users[nd++] = u;
        }
        memcpy(I + q * d, E + (nu + (size_t)L->pos[b0 + q].i) * d, d * sizeof *I);
    }
    U = scratch(L, SC_U, nd * d + 1, sizeof(float), 0);
    dU = scratch(L, SC_DU, nd * d + 1, sizeof(float), 1);
    S = scratch(L, SC_S, nd * nc + 1, sizeof(float), 0); /* one row of logits per distinct user */
    if (!U || !dU || !S) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    for (size_t r = 0; r < nd; r++)
        memcpy(U + r * d, E + (size_t)users[r] * d, d * sizeof *U);
    for (size_t c = 0; c < nc; c++)
        memcpy(C + c * d, E + (nu + (size_t)cand[c]) * d, d * sizeof *C);
    gatrec__normalise_rows(U, nd, d, nU);
    gatrec__normalise_rows(I, B, d, nI);
    gatrec__normalise_rows(C, nc, d, nC);
    gatrec__sgemm(L->o.threads, 0, 1, nd, nc, d, inv_tau, U, d, 1, C, d, 1, 0.0f, S, nc);
    softmax_job J = {nc, S, mx, z};
    gatrec__parallel(L->o.threads, nd, softmax_user, &J);
    /* each item's candidate columns as a chain (sampled candidates may repeat): a pair finds the
     * columns its positive masks without scanning them all */
    for (size_t c = nc; c-- > 0;) {
        next[c] = first[cand[c]];
        first[cand[c]] = (int32_t)c;
    }
    /* per pair: its normaliser, cross-entropy and positive's part of the gradient, in pair order */
    for (size_t q = 0; q < B; q++) {
        size_t r = (size_t)slot[L->pos[b0 + q].u];
        int32_t pi = L->pos[b0 + q].i;
        const float *er = S + r * nc, *ur = U + r * d, *ir = I + q * d;
        double sp = (double)dot(ur, ir, d) * inv_tau - mx[r], ep = exp(sp), zq = z[r] + ep;
        size_t m0 = nmask;
        for (int32_t c = first[pi]; c >= 0; c = next[c]) { /* the positive's columns, ascending */
            zq -= er[c];
            if (nmask == L->scratch[SC_MASK].cap && !(mask = scratch(L, SC_MASK, nmask + 1, sizeof *mask, 0))) {
                rc = GATREC_ENOMEM;
                goto done;
            }
            mask[nmask++] = (masked){r * nc + (size_t)c, er[c]};
        }
        for (size_t k = m0; k < nmask; k++)
            mask[k].p = (float)(mask[k].p / zq);
        wsum[r] += 1.0 / zq;
        sum += -sp + log(zq);
        float gp = (float)(ep / zq) - 1.0f;
        for (size_t k = 0; k < d; k++) {
            dU[r * d + k] += gp * scale * ir[k];
            dI[q * d + k] = gp * scale * ur[k];
        }
    }
    /* the summed probabilities of each user's row, less each pair's masked positive */
    for (size_t r = 0; r < nd; r++)
        for (size_t c = 0; c < nc; c++)
            S[r * nc + c] = (float)(S[r * nc + c] * wsum[r]);
    for (size_t k = 0; k < nmask; k++)
        S[mask[k].at] -= mask[k].p;
    /* dU += P C / (tau B), dC = P^T U / (tau B) */
    gatrec__sgemm(L->o.threads, 0, 0, nd, d, nc, scale, S, nc, 1, C, d, 1, 1.0f, dU, d);
    gatrec__sgemm(L->o.threads, 0, 0, nc, d, nd, scale, S, 1, nc, U, d, 1, 0.0f, dC, d); /* S^T U */
    if (w > 0) { /* DirectAU: (uniformity of the batch's user rows + of its items) / 2, weighted */
        for (size_t q = 0; q < B; q++)
            memcpy(Up + q * d, U + (size_t)slot[L->pos[b0 + q].u] * d, d * sizeof *Up);
        unif = 0.5 * (uniformity(L->o.threads, Up, B, d, 0.5f * w, G, dUp) + uniformity(L->o.threads, I, B, d, 0.5f * w, G, dI));
        for (size_t q = 0; q < B; q++) {
            float *du = dU + (size_t)slot[L->pos[b0 + q].u] * d;
            for (size_t k = 0; k < d; k++)
                du[k] += dUp[q * d + k];
        }
    }
    clear_demb(L);
    for (size_t r = 0; r < nd; r++) { /* the scatter, in a fixed order */
        touch(L, (size_t)users[r]);
        gatrec__unnormalise_grad(U + r * d, dU + r * d, nU[r], d, D + (size_t)users[r] * d);
    }
    for (size_t q = 0; q < B; q++) {
        touch(L, nu + (size_t)L->pos[b0 + q].i);
        gatrec__unnormalise_grad(I + q * d, dI + q * d, nI[q], d, D + (nu + (size_t)L->pos[b0 + q].i) * d);
    }
    for (size_t c = 0; c < nc; c++) {
        touch(L, nu + (size_t)cand[c]);
        gatrec__unnormalise_grad(C + c * d, dC + c * d, nC[c], d, D + (nu + (size_t)cand[c]) * d);
    }
    *ce_out = sum / (double)norm;
    *unif_out = unif;
done:
    return rc;
}

/* The configured loss of pairs pos[b0..b1), normalised by a batch of `norm` pairs, and its
 * gradient into demb: (BPR, cosine term) or (cross-entropy, uniformity term). */
static int batch_loss(loop *L, size_t b0, size_t b1, size_t norm, uint64_t step, double *main_part,
                      double *second_part)
{
    return L->o.loss == GATREC_LOSS_SOFTMAX ? loss_softmax(L, b0, b1, norm, step, main_part, second_part)
                                            : loss(L, b0, b1, norm, step, main_part, second_part);
}

/* Data-parallel training: this rank's share [s0, s1) of the batch [b0, b1), a contiguous block
 * (the shares of ranks 0 .. P-1 follow one another), its loss normalised by the whole batch,
 * so that the sum over ranks is the batch's loss and gradient. An empty share writes nothing. */
static void share_of(const loop *L, size_t b0, size_t b1, size_t *s0, size_t *s1)
{
    size_t P = L->o.ranks > 1 ? (size_t)L->o.ranks : 1, R = P > 1 ? (size_t)L->o.rank : 0, B = b1 - b0;
    *s0 = b0 + B * R / P;
    *s1 = b0 + B * (R + 1) / P;
}

/* Neighbour sampling: the nodes this step's loss reads (its share's users and positives, the
 * step's candidates), each once, then the kind's forward on them alone. */
static int forward_sampled(loop *L, size_t b0, size_t b1, uint64_t step)
{
    size_t s0, s1, nu = L->g->users.count, n = 0, N = (size_t)L->o.negatives;
    int32_t *nodes;
    int rc;
    share_of(L, b0, b1, &s0, &s1);
    int bpr = L->o.loss == GATREC_LOSS_BPR;
    size_t k = bpr ? (size_t)L->o.negatives : 0;
    if (!(nodes = gatrec__malloc_array((2 + k) * (s1 - s0) + (bpr ? 0 : N) + 1, sizeof *nodes)))
        return GATREC_ENOMEM;
#define SEED(v)                                   \
    do {                                          \
        size_t v_ = (v);                          \
        if (!L->seen[v_])                         \
            L->seen[v_] = 1, nodes[n++] = (int32_t)v_; \
    } while (0)
    for (size_t p = s0; p < s1; p++) {
        SEED((size_t)L->pos[p].u);
        SEED(nu + (size_t)L->pos[p].i);
        for (size_t n2 = 0; n2 < k; n2++) /* BPR's negatives: the draws pair_terms will make */
            SEED(nu + (size_t)negative(L, L->pos[p].u, (step * L->npos + p) * k + n2));
    }
    for (size_t c = 0; !bpr && c < N; c++)
        SEED(nu + (size_t)softmax_candidate(L, step, c));
#undef SEED
    for (size_t q = 0; q < n; q++)
        L->seen[nodes[q]] = 0;
    rc = L->t->forward_batch(L->t->ctx, step, nodes, n);
    free(nodes);
    return rc;
}

static int share_loss(loop *L, size_t b0, size_t b1, uint64_t step, double *main_part, double *second_part)
{
    size_t B = b1 - b0, s0, s1;
    share_of(L, b0, b1, &s0, &s1);
    *main_part = *second_part = 0;
    if (s0 == s1) {
        clear_demb(L);
        return GATREC_OK;
    }
    return batch_loss(L, s0, s1, B, step, main_part, second_part);
}

static int reduce(loop *L, float *data, size_t n)
{
    if (L->o.allreduce(L->o.allreduce_payload, data, n))
        return gatrec__error(GATREC_ERROR, "data-parallel training: rank %d of %d: the allreduce of %zu values failed",
                             L->o.rank, L->o.ranks, n);
    return GATREC_OK;
}

/* The lazy step across ranks: the union of the rows the ranks touched (a 0/1 vector summed), then
 * their gradient rows (of buf: demb or grad) summed; afterwards every rank holds the same rows
 * and the same gradient. */
static int reduce_rows(loop *L, float *buf)
{
    size_t N = L->g->users.count + L->g->items.count, d = L->rw, n = 0;
    float *flag = gatrec__calloc(N, sizeof *flag), *pack;
    int rc;
    if (!flag)
        return GATREC_ENOMEM;
    for (size_t q = 0; q < L->nrows; q++)
        flag[L->rows[q]] = 1.0f;
    if ((rc = reduce(L, flag, N))) {
        free(flag);
        return rc;
    }
    for (size_t r = 0; r < N; r++)
        if (flag[r] > 0) {
            L->mark[r] = 1;
            L->rows[n++] = (int32_t)r;
        }
    L->nrows = n;
    free(flag);
    if (!(pack = gatrec__malloc_array(n * d + 1, sizeof *pack)))
        return GATREC_ENOMEM;
    for (size_t q = 0; q < n; q++)
        memcpy(pack + q * d, buf + (size_t)L->rows[q] * d, d * sizeof *pack);
    if (!(rc = reduce(L, pack, n * d)))
        for (size_t q = 0; q < n; q++)
            memcpy(buf + (size_t)L->rows[q] * d, pack + q * d, d * sizeof *pack);
    free(pack);
    return rc;
}

#define ADAM_B1 0.9f
#define ADAM_B2 0.999f

/* One parameter's AdamW step (decoupled decay wd; c1, c2 the bias corrections of the step) */
static inline void adamw_one(float *theta, float *m, float *v, float g, float lr, float wd, float c1, float c2)
{
    *theta -= lr * wd * *theta;
    *m = ADAM_B1 * *m + (1 - ADAM_B1) * g;
    *v = ADAM_B2 * *v + (1 - ADAM_B2) * g * g;
    *theta -= lr * (*m / c1) / (sqrtf(*v / c2) + 1e-8f);
}

/* AdamW on theta[k0 .. k1) */
static void adamw(loop *L, float lr, uint64_t step, size_t k0, size_t k1)
{
    gatrec__trainer *t = L->t;
    const float wd = L->o.weight_decay, fwd = L->o.feature_weight_decay < 0 ? wd : L->o.feature_weight_decay;
    float c1 = 1.0f - powf(ADAM_B1, (float)step), c2 = 1.0f - powf(ADAM_B2, (float)step);
    for (size_t k = k0; k < k1; k++)
        adamw_one(t->theta + k, L->adam_m + k, L->adam_v + k, t->grad[k], lr, k < t->feature_len ? fwd : wd, c1, c2);
}

/* The decay of the steps row r sat out (decoupled weight decay at the rate lr, the moments'
 * decay), applied up to step `now`: after it the row is where dense AdamW would have left it
 * but for the momentum's drift over those steps. */
static void lazy_catch_up(loop *L, size_t r, float lr, uint64_t now)
{
    uint64_t s = now - L->last[r];
    if (!s)
        return;
    gatrec__trainer *t = L->t;
    size_t d = L->rw, o = r * d;
    float keep = powf(1.0f - lr * L->row_wd, (float)s), m = powf(ADAM_B1, (float)s), v = powf(ADAM_B2, (float)s);
    for (size_t k = o; k < o + d; k++) {
        t->theta[k] *= keep;
        L->adam_m[k] *= m;
        L->adam_v[k] *= v;
    }
    L->last[r] = now;
}

typedef struct lazy_job {
    loop *L;
    float lr;
    uint64_t step;
} lazy_job;

/* One touched row of the lazy step: brought up to date, AdamW with its gradient (demb's row for
 * BPR-MF, copied on to emb; grad's for a table), which is then zeroed. A row whose gradient or
 * new value is not finite is marked 2. */
static void lazy_row(void *ctx, size_t q)
{
    lazy_job *J = ctx;
    loop *L = J->L;
    gatrec__trainer *t = L->t;
    const float wd = L->row_wd, lr = J->lr;
    float c1 = 1.0f - powf(ADAM_B1, (float)J->step), c2 = 1.0f - powf(ADAM_B2, (float)J->step);
    float *src = L->lazy == 1 ? L->demb : t->grad;
    size_t d = L->rw, r = (size_t)L->rows[q], o = r * d;
    int finite = 1;
    lazy_catch_up(L, r, lr, J->step - 1);
    for (size_t k = o; k < o + d; k++) {
        finite &= isfinite(src[k]) != 0;
        adamw_one(t->theta + k, L->adam_m + k, L->adam_v + k, src[k], lr, wd, c1, c2);
        finite &= isfinite(t->theta[k]) != 0;
        if (L->lazy == 1)
            t->emb[k] = t->theta[k];
        src[k] = 0;
    }
    L->last[r] = J->step;
    L->mark[r] = finite ? 0 : 2;
}

/* The lazy step: AdamW on the rows the loss touched (gradient = demb: row-sparse kinds only),
 * rows in parallel (each row's arithmetic is its own: the same bits for any thread count). It
 * leaves demb zero. Returns the first row that went non-finite, or -1. */
static long lazy_adamw(loop *L, float lr, uint64_t step)
{
    lazy_job J = {L, lr, step};
    long bad = -1;
    gatrec__parallel(L->o.threads, L->nrows, lazy_row, &J);
    for (size_t q = 0; q < L->nrows; q++)
        if (L->mark[L->rows[q]] == 2) {
            if (bad < 0)
                bad = L->rows[q];
            L->mark[L->rows[q]] = 0;
        }
    L->nrows = 0;
    return bad;
}

/* Which tensor at or after offset `from` holds a non-finite value, or NULL. */
static const char *non_finite(const gatrec__trainer *t, const float *v, size_t from)
{
    for (size_t k = 0; k < t->ntensors; k++)
        for (size_t j = 0; t->tensors[k].off >= from && j < t->tensors[k].len; j++)
            if (!isfinite(v[t->tensors[k].off + j]))
                return t->tensors[k].name;
    return NULL;
}

typedef struct ndcg_job {
    const loop *L;
    const gatrec__csr *valid;
    size_t k;
    double *per_user;
    int failed;
} ndcg_job;

static void ndcg_user(void *ctx, size_t u)
{
    ndcg_job *J = ctx;
    const loop *L = J->L;
    const gatrec__csr *v = J->valid, *seen = &L->g->by_user;
    size_t d = L->t->dim, nu = L->g->users.count, ni = L->g->items.count, nrel = 0, k = J->k;
    const float *eu = L->t->emb + u * d;
    float *top;
    int32_t *ids;
    J->per_user[u] = -1;
    for (size_t e = v->off[u]; e < v->off[u + 1]; e++)
        nrel += v->val[e] >= L->g->liked;
    if (!nrel)
        return;
    top = gatrec__malloc_array(k, sizeof *top);
    ids = gatrec__malloc_array(k, sizeof *ids);
    if (!top || !ids) {
        J->failed = 1;
        free(top);
        free(ids);
        return;
    }
    /* top-k by insertion: k is small */
    size_t h = 0, s = seen->off[u];
    for (size_t i = 0; i < ni; i++) {
        if (s < seen->off[u + 1] && (size_t)seen->col[s] == i) {
            s++;
            continue;
        }
        float sc = dot(eu, L->t->emb + (nu + i) * d, d);
        if (h == k && sc <= top[k - 1])
            continue;
        size_t p = h < k ? h++ : k - 1;
        while (p > 0 && top[p - 1] < sc) {
            top[p] = top[p - 1];
            ids[p] = ids[p - 1];
            p--;
        }
        top[p] = sc;
        ids[p] = (int32_t)i;
    }
    double dcg = 0, idcg = 0;
    for (size_t r = 0; r < h; r++)
        for (size_t e = v->off[u]; e < v->off[u + 1]; e++)
            if (v->col[e] == ids[r] && v->val[e] >= L->g->liked)
                dcg += 1.0 / log2((double)r + 2.0);
    for (size_t r = 0; r < nrel && r < k; r++)
        idcg += 1.0 / log2((double)r + 2.0);
    J->per_user[u] = dcg / idcg;
    free(top);
    free(ids);
}

static int valid_ndcg(const loop *L, double *out)
{
    size_t nu = L->g->users.count;
    ndcg_job J = {L, &L->o.validation->by_user, L->o.eval_k, gatrec__malloc_array(nu, sizeof(double)), 0};
    double sum = 0;
    size_t n = 0;
    if (!J.per_user)
        return GATREC_ENOMEM;
    gatrec__parallel(L->o.threads, nu, ndcg_user, &J);
    for (size_t u = 0; u < nu; u++)
        if (J.per_user[u] >= 0)
            sum += J.per_user[u], n++;
    free(J.per_user);
    if (J.failed)
        return gatrec__error(GATREC_ENOMEM, "out of memory computing the validation NDCG");
    *out = n ? sum / (double)n : 0;
    return GATREC_OK;
}

static int resolve(loop *L, const gatrec_model *m, const gatrec_graph *g, const gatrec__trainer *t)
{
    gatrec_model_options *o = &L->o;
    *o = m->opts;
    if (!o->epochs)
        o->epochs = t->default_epochs;
    if (o->lr == 0)
        o->lr = t->default_lr;
    if (o->weight_decay < 0)
        o->weight_decay = t->default_wd;
    if (o->loss == GATREC_LOSS_SOFTMAX) { /* the cosine term is BPR's; negatives 0 = every known item */
        if (o->cos_weight > 0)
            return gatrec__error(GATREC_EINVAL, "the cosine term (cos_weight %g) goes with the BPR loss, not the softmax",
                                 o->cos_weight);
        o->cos_weight = 0;
        if (o->temperature == 0)
            o->temperature = 0.2f;
    } else {
        if (o->cos_weight < 0)
            o->cos_weight = t->default_cos;
        if (!o->negatives)
            o->negatives = t->default_negatives > 0 ? t->default_negatives : 1;
    }
    if (!o->batch_size)
        o->batch_size = t->default_batch;
    if (!o->patience) /* validation NDCG moves by +-0.01 between epochs: give it time */
        o->patience = o->validation ? (t->default_patience ? t->default_patience : 50) : 15;
    if (!o->lr_patience)
        o->lr_patience = 5;
    if (o->lr_factor == 0)
        o->lr_factor = 0.4f;
    if (!o->eval_k)
        o->eval_k = 10;
    if (o->fanout > 0) { /* neighbour sampling: the batch's nodes must be known before the loss */
        if (!t->forward_batch)
            return gatrec__error(GATREC_EINVAL, "fanout (neighbour sampling) is for attn and the GAT");
        if (!o->batch_size) /* a full batch would reach every node: mini-batches */
            o->batch_size = 4096;
        if (o->loss == GATREC_LOSS_BPR && o->negative_sampling == GATREC_NEG_HARD)
            return gatrec__error(GATREC_EINVAL, "fanout (neighbour sampling) and hard negatives: a hard negative is "
                                 "chosen by scores the subgraph has not computed");
        if (o->loss == GATREC_LOSS_SOFTMAX && !o->negatives)
            o->negatives = 1024;
        L->sampled = 1;
    }
    {
        size_t Nn = g->users.count + g->items.count, T = t->feature_len;
        /* a sampled kind whose theta starts with a table of one row per node (attn's ID table,
         * the GAT's trainable input features) */
        int table = L->sampled && t->rows_touched && T > 0 && T % Nn == 0;
        if (t->row_sparse)
            T = Nn * t->dim;
        if (o->optimizer == GATREC_OPTIMIZER_LAZY && !t->row_sparse && !table)
            return gatrec__error(GATREC_EINVAL, "the lazy optimizer needs a row-sparse gradient (BPR-MF, or attn or the "
                                 "GAT with fanout and a trainable table)");
        /* auto: a dense step costs a pass over the whole table; past 2^24 parameters (ML-20M's
         * 165,237 rows x 256) that pass, not the batch, is the epoch's time (docs/scale.md) */
        int want = o->optimizer == GATREC_OPTIMIZER_LAZY || (o->optimizer == GATREC_OPTIMIZER_AUTO && T > ((size_t)1 << 24));
        L->lazy = t->row_sparse && want ? 1 : table && want ? 2 : 0;
        L->T = L->lazy == 2 ? T : 0;
        L->rw = L->lazy == 2 ? T / Nn : t->dim;
        L->row_wd = L->lazy == 2 && o->feature_weight_decay >= 0 ? o->feature_weight_decay : o->weight_decay;
    }
    if (o->epochs < 0 || o->negatives < 0 || o->lr < 0 || !(o->lr_factor > 0 && o->lr_factor <= 1) ||
        o->lr_patience < 0 || o->negative_sampling < GATREC_NEG_ROBUST || o->negative_sampling > GATREC_NEG_HARD)
        return gatrec__error(GATREC_EINVAL,
                             "model options: epochs, negatives, lr and lr_patience must be >= 0, lr_factor in (0, 1], "
                             "negative_sampling a gatrec_negatives");
    if (o->validation && (o->validation->users.count != g->users.count ||
                          o->validation->items.count != g->items.count))
        return gatrec__error(GATREC_EINVAL,
                             "the validation graph has %zu users and %zu items, the training graph %zu and %zu "
                             "(build both from the same dataset)",
                             o->validation->users.count, o->validation->items.count, g->users.count, g->items.count);
    return GATREC_OK;
}

static int setup(loop *L, const gatrec_graph *g, gatrec__trainer *t)
{
    size_t n = 0, N = g->users.count + g->items.count;
    const gatrec__csr *c = &g->by_user;
    for (size_t e = 0; e < c->off[c->nrows]; e++)
        n += c->val[e] >= g->liked;
    if (!n)
        return gatrec__error(GATREC_EEMPTY, "no training rating reaches the liked threshold %g: nothing to learn from",
                             g->liked);
    L->pos = gatrec__malloc_array(n, sizeof *L->pos);
    L->negs = gatrec__malloc_array(L->o.loss == GATREC_LOSS_BPR ? (n < LOSS_ROUND ? n : LOSS_ROUND) * (size_t)L->o.negatives
                                                                : 1,
                                   sizeof *L->negs);
    L->known = gatrec__malloc_array(g->items.count + 1, sizeof *L->known);
    L->demb = gatrec__calloc(N * t->dim, sizeof *L->demb);
    if (L->sampled && !(L->seen = gatrec__calloc(N, sizeof *L->seen)))
        return GATREC_ENOMEM;
    if (L->lazy == 2) /* the table's gradient rows are zeroed as they are used: start from zero */
        memset(t->grad, 0, t->nparams * sizeof *t->grad);
    if (L->lazy) {
        L->mark = gatrec__calloc(N, sizeof *L->mark);
        L->rows = gatrec__malloc_array(N, sizeof *L->rows);
        L->last = gatrec__calloc(N, sizeof *L->last);
        if (!L->mark || !L->rows || !L->last)
            return GATREC_ENOMEM;
    }
    L->adam_m = gatrec__calloc(t->nparams, sizeof *L->adam_m);
    L->adam_v = gatrec__calloc(t->nparams, sizeof *L->adam_v);
    L->best = gatrec__malloc_array(t->nparams, sizeof *L->best);
    if (!L->pos || !L->negs || !L->known || !L->demb || !L->adam_m || !L->adam_v || !L->best)
        return GATREC_ENOMEM;
    for (size_t i = 0; i < g->items.count; i++)
        if (g->by_item.off[i + 1] > g->by_item.off[i])
            L->known[L->nknown++] = (int32_t)i;
    L->npos = 0;
    for (size_t u = 0; u < c->nrows; u++)
        for (size_t e = c->off[u]; e < c->off[u + 1]; e++)
            if (c->val[e] >= g->liked)
                L->pos[L->npos++] = (pair){(int32_t)u, c->col[e]};
    if (L->o.negative_sampling == GATREC_NEG_POPULARITY) {
        size_t ni = g->items.count;
        double acc = 0;
        if (!(L->pop_cdf = gatrec__malloc_array(ni, sizeof *L->pop_cdf)))
            return GATREC_ENOMEM;
        for (size_t i = 0; i < ni; i++)
            L->pop_cdf[i] = acc += pow((double)(g->by_item.off[i + 1] - g->by_item.off[i]) + 1.0, 0.75);
    }
    return GATREC_OK;
}

static void shuffle(loop *L, uint64_t epoch)
{
    for (size_t p = L->npos; p > 1; p--) {
        size_t q = (size_t)gatrec__rng_below(L->o.seed, STREAM_PERM + 16 * epoch, p, p);
        pair tmp = L->pos[p - 1];
        L->pos[p - 1] = L->pos[q];
        L->pos[q] = tmp;
    }
}

static int run(loop *L)
{
    gatrec__trainer *t = L->t;
    const gatrec_model_options *o = &L->o;
    double best_metric = NAN, plateau_best = NAN;
    int since_best = 0, bad = 0, best_epoch = 0;
    float lr = o->lr;
    uint64_t step = 0;
    int rc, softmax = o->loss == GATREC_LOSS_SOFTMAX, parallel = o->ranks > 1;
    size_t B = o->batch_size && o->batch_size < L->npos ? o->batch_size : L->npos;
    size_t N = L->g->users.count + L->g->items.count;
    memcpy(L->best, t->theta, t->nparams * sizeof *L->best);
    for (int epoch = 1; epoch <= o->epochs; epoch++) {
        double t0 = gatrec__now(), bpr_sum = 0, cos_sum = 0, metric, vndcg = NAN;
        const char *bad_tensor;
        if (B < L->npos)
            shuffle(L, (uint64_t)epoch);
        if (L->lazy == 1 && (rc = t->forward(t->ctx, 1, step))) /* emb = theta; the steps copy their rows */
            return rc;
        for (size_t b0 = 0; b0 < L->npos; b0 += B) {
            size_t b1 = b0 + B < L->npos ? b0 + B : L->npos;
            double bpr, cs;
            step++;
            if (L->lazy != 1 && (rc = L->sampled ? forward_sampled(L, b0, b1, step) : t->forward(t->ctx, 1, step)))
                return rc;
            if ((rc = share_loss(L, b0, b1, step, &bpr, &cs)))
                return rc;
            if (parallel) { /* the batch's loss: the sum of the shares' */
                float parts[2] = {(float)bpr, (float)cs};
                if ((rc = reduce(L, parts, 2)))
                    return rc;
                bpr = parts[0], cs = parts[1];
            }
            if (!isfinite(bpr + cs)) {
                for (size_t k = 0; k < N * t->dim; k++)
                    if (!isfinite(t->emb[k]))
                        return gatrec__error(GATREC_ERROR, "epoch %d: the final embeddings hold NaN or Inf", epoch);
                return gatrec__error(GATREC_ERROR, "epoch %d: the loss is NaN or Inf", epoch);
            }
            if (L->lazy == 1) {
                if (parallel && (rc = reduce_rows(L, L->demb)))
                    return rc;
                long row = lazy_adamw(L, lr, step);
                if (row >= 0)
                    return gatrec__error(GATREC_ERROR, "epoch %d: embedding row %ld (or its gradient) holds NaN or "
                                         "Inf after the update", epoch, row);
            } else if (L->lazy == 2) { /* the table's rows the step reached; the rest dense */
                size_t n;
                const int32_t *rows;
                memset(t->grad + L->T, 0, (t->nparams - L->T) * sizeof *t->grad); /* table rows: zeroed when used */
                if ((rc = t->backward(t->ctx, L->demb)))
                    return rc;
                for (size_t q = 0; q < L->nrows; q++) /* demb back to zero: the loss wrote these rows */
                    memset(L->demb + (size_t)L->rows[q] * t->dim, 0, t->dim * sizeof *L->demb);
                rows = t->rows_touched(t->ctx, &n);
                for (size_t q = 0; q < n; q++)
                    touch(L, (size_t)rows[q]);
                if (parallel && ((rc = reduce(L, t->grad + L->T, t->nparams - L->T)) || (rc = reduce_rows(L, t->grad))))
                    return rc;
                if ((bad_tensor = non_finite(t, t->grad, L->T)))
                    return gatrec__error(GATREC_ERROR, "epoch %d: the gradient of %s holds NaN or Inf", epoch,
                                         bad_tensor);
                long row = lazy_adamw(L, lr, step);
                adamw(L, lr, step, L->T, t->nparams);
                if (row >= 0)
                    return gatrec__error(GATREC_ERROR, "epoch %d: row %ld of %s (or its gradient) holds NaN or Inf "
                                         "after the update", epoch, row, t->tensors[0].name);
                if ((bad_tensor = non_finite(t, t->theta, L->T)))
                    return gatrec__error(GATREC_ERROR, "epoch %d: %s holds NaN or Inf after the update", epoch,
                                         bad_tensor);
            } else {
                memset(t->grad, 0, t->nparams * sizeof *t->grad);
                if ((rc = t->backward(t->ctx, L->demb)))
                    return rc;
                if (parallel && (rc = reduce(L, t->grad, t->nparams)))
                    return rc;
                if ((bad_tensor = non_finite(t, t->grad, 0)))
                    return gatrec__error(GATREC_ERROR, "epoch %d: the gradient of %s holds NaN or Inf", epoch,
                                         bad_tensor);
                adamw(L, lr, step, 0, t->nparams);
                if ((bad_tensor = non_finite(t, t->theta, 0)))
                    return gatrec__error(GATREC_ERROR, "epoch %d: %s holds NaN or Inf after the update", epoch,
                                         bad_tensor);
            }
            bpr_sum += bpr * (double)(b1 - b0);
            cos_sum += cs * (double)(b1 - b0);
        }
        for (size_t r = 0; L->lazy && r < N; r++) /* every row up to date: the epoch's parameters are whole */
            lazy_catch_up(L, r, lr, step);
        double bpr = bpr_sum / (double)L->npos, cs = cos_sum / (double)L->npos, lossv = bpr + o->cos_weight * cs;
        if (softmax) { /* the second part is the uniformity term */
            lossv = bpr + o->uniformity * cs;
            cs = 0;
        }
        if (o->validation) {
            if ((rc = t->forward(t->ctx, 0, step)))
                return rc;
            if (softmax) /* the softmax scores by cosine */
                gatrec__normalise_rows(t->emb, N, t->dim, NULL);
            if ((rc = valid_ndcg(L, &vndcg)))
                return rc;
            metric = vndcg;
        } else {
            metric = -lossv;
        }
        /* the best parameters so far are kept; ReduceLROnPlateau (relative threshold 1e-4) */
        if (isnan(best_metric) || metric > best_metric) {
            best_metric = metric;
            best_epoch = epoch;
            since_best = 0;
            memcpy(L->best, t->theta, t->nparams * sizeof *L->best);
        } else {
            since_best++;
        }
        /* the learning rate follows the training loss even when stopping follows validation:
         * validation NDCG stays flat for the first epochs, and cutting the rate then would
         * stall training before it starts */
        if (isnan(plateau_best) || -lossv > plateau_best + 1e-4 * fabs(plateau_best)) {
            plateau_best = -lossv;
            bad = 0;
        } else if (++bad > o->lr_patience) {
            lr *= o->lr_factor;
            bad = 0;
        }
        if (o->on_epoch) {
            gatrec_epoch ep = {GATREC_EPOCH_VERSION, epoch, o->epochs, lossv, bpr, cs, vndcg, lr, 0, best_epoch};
            ep.seconds = gatrec__now() - t0;
            if (o->on_epoch(o->payload, &ep))
                return gatrec__error(GATREC_ECANCELLED, "training cancelled by the epoch callback after epoch %d",
                                     epoch);
        }
        if (o->patience > 0 && since_best >= o->patience)
            break;
    }
    memcpy(t->theta, L->best, t->nparams * sizeof *L->best);
    /* the optimiser's state is done with: room for the whole graph's last forward */
    free(L->adam_m);
    free(L->adam_v);
    free(L->demb);
    L->adam_m = L->adam_v = L->demb = NULL;
    if ((rc = t->forward(t->ctx, 0, step)))
        return rc;
    if (softmax) /* serving ranks by dot products: unit rows make them the cosines it trained on */
        gatrec__normalise_rows(t->emb, N, t->dim, NULL);
    return gatrec__set_embeddings(L->m, t->emb, t->dim);
}

static void loop_free(loop *L)
{
    for (int k = 0; k < SCRATCH_COUNT; k++)
        free(L->scratch[k].p);
    free(L->pos);
    free(L->negs);
    free(L->known);
    free(L->pop_cdf);
    free(L->demb);
    free(L->adam_m);
    free(L->adam_v);
    free(L->best);
    free(L->seen);
    free(L->mark);
    free(L->rows);
    free(L->last);
}

int gatrec__train(gatrec_model *m, const gatrec_graph *g, gatrec__trainer *t)
{
    loop L = {0};
    int rc;
    L.m = m;
    L.g = g;
    L.t = t;
    if (!(rc = resolve(&L, m, g, t)) && !(rc = setup(&L, g, t)))
        rc = run(&L);
    loop_free(&L);
    return rc;
}

/* For the gradient tests: the loss of every liked pair of g (one batch, step 1) at the
 * embeddings emb ((users + items) x dim) and its gradient into demb. */
int gatrec__loss_probe(const gatrec_graph *g, const gatrec_model_options *o, float *emb, size_t dim, double *value,
                       float *demb)
{
    gatrec_model m = {0};
    gatrec__trainer t = {0};
    loop L = {0};
    double a = 0, b = 0;
    int rc;
    m.opts = *o;
    t.dim = dim;
    t.emb = emb;
    t.default_epochs = 1;
    t.default_lr = 1e-3f;
    t.default_negatives = 1;
    L.m = &m;
    L.g = g;
    L.t = &t;
    if (!(rc = resolve(&L, &m, g, &t)) && !(rc = setup(&L, g, &t))) {
        if (!(rc = batch_loss(&L, 0, L.npos, L.npos, 1, &a, &b))) {
            *value = L.o.loss == GATREC_LOSS_SOFTMAX ? a + L.o.uniformity * b : a + L.o.cos_weight * b;
            memcpy(demb, L.demb, (g->users.count + g->items.count) * dim * sizeof *demb);
        }
    }
    loop_free(&L);
    return rc;
}
