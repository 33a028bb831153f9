/* The softmax loss of the training loop (loop.h): cross-entropy on cosine scores over a
 * temperature, against every item or a step's sampled candidates, and DirectAU's uniformity. */
#include "../kernels/dense.h"
#include "loop.h"

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
int32_t gatrec__softmax_candidate(const loop *L, uint64_t step, size_t c)
{
    return L->known[gatrec__rng_below(L->o.seed, gatrec__stream(GATREC__RNG_SOFTMAX_SAMPLE, step), c, L->nknown)];
}

/* The softmax loss of pairs pos[b0..b1) and its gradient into demb.
 *
 * Pairs of one user share the logits of that user's row, so the logits, the exponentials and
 * the dense products run over the batch's distinct users (a batch of 4096 pairs holds about 900),
 * not its pairs. The pair's own normaliser differs from its user's only by its positive: the
 * positive's candidate columns are masked and its logit added, Z_pair = Z_u - masked + e^s_pos.
 * The gradient of the logits summed over a user's pairs is then E_u (sum of 1/Z_pair) minus each
 * pair's masked columns, and each pair adds its positive's part. */
int gatrec__loss_softmax(loop *L, size_t b0, size_t b1, size_t norm, uint64_t step, double *ce_out, double *unif_out)
{
    gatrec__trainer *t = L->t;
    size_t d = t->dim, nu = L->g->users.count, B = b1 - b0, N = (size_t)L->o.negatives, nd = 0;
    size_t nc = N ? N : L->nknown;
    float inv_tau = 1.0f / L->o.temperature, *E = t->emb, *D = L->demb, w = L->o.uniformity, scale = inv_tau / (float)norm;
    int32_t *cand = N ? gatrec__scratch(L, SC_CAND, N, sizeof *cand, 0) : L->known;
    int32_t *slot = gatrec__scratch(L, SC_SLOT, nu, sizeof *slot, 0), *users = gatrec__scratch(L, SC_USERS, B, sizeof *users, 0);
    int32_t *first = gatrec__scratch(L, SC_FIRST, L->g->items.count + 1, sizeof *first, 0);
    int32_t *next = gatrec__scratch(L, SC_NEXT, nc + 1, sizeof *next, 0);
    float *U = NULL, *I = gatrec__scratch(L, SC_I, B * d, sizeof(float), 0), *dU = NULL; /* U, dU: per distinct user */
    float *C = gatrec__scratch(L, SC_C, nc * d, sizeof(float), 0), *S = NULL;
    float *dI = gatrec__scratch(L, SC_DI, B * d, sizeof(float), 0);
    float *dC = gatrec__scratch(L, SC_DC, nc * d, sizeof(float), 0);
    float *nU = gatrec__scratch(L, SC_NU, B, sizeof(float), 0), *nI = gatrec__scratch(L, SC_NI, B, sizeof(float), 0);
    float *nC = gatrec__scratch(L, SC_NC, nc, sizeof(float), 0), *G = w > 0 ? gatrec__scratch(L, SC_G, B * B, sizeof(float), 0) : NULL;
    float *Up = w > 0 ? gatrec__scratch(L, SC_UP, B * d, sizeof(float), 0) : NULL;
    float *dUp = w > 0 ? gatrec__scratch(L, SC_DUP, B * d, sizeof(float), 1) : NULL;
    double *mx = gatrec__scratch(L, SC_MX, B, sizeof(double), 0), *z = gatrec__scratch(L, SC_Z, B, sizeof(double), 0);
    double *wsum = gatrec__scratch(L, SC_WSUM, B, sizeof(double), 1), sum = 0, unif = 0;
    size_t nmask = 0;
    masked *mask = gatrec__scratch(L, SC_MASK, B + 1, sizeof *mask, 0);
    int rc = GATREC_OK;
    if (!cand || !slot || !users || !first || !next || !I || !C || !dI || !dC || !nU || !nI || !nC || !mx || !z ||
        !wsum || !mask || (w > 0 && (!G || !Up || !dUp))) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    for (size_t c = 0; N && c < N; c++) /* shared by the batch, uniform over the known items */
        cand[c] = gatrec__softmax_candidate(L, step, c);
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
    U = gatrec__scratch(L, SC_U, nd * d + 1, sizeof(float), 0);
    dU = gatrec__scratch(L, SC_DU, nd * d + 1, sizeof(float), 1);
    S = gatrec__scratch(L, SC_S, nd * nc + 1, sizeof(float), 0); /* one row of logits per distinct user */
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
            if (nmask == L->scratch[SC_MASK].cap && !(mask = gatrec__scratch(L, SC_MASK, nmask + 1, sizeof *mask, 0))) {
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
    gatrec__clear_demb(L);
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
