/* The LSA embedder: TF-IDF over the n-grams found in at least two texts of the corpus,
 * projected on its top `dim` singular directions (randomised SVD). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/dense.h"
#include "embed.h"

/* A text's TF-IDF vector over the kept terms, L2-normalised: (index, weight) pairs sorted by
 * index, into idx / w (room for the text's term count); returns the count. */
static int lsa_vector(const gatrec_embedder *e, const char *text, uint32_t **idx, float **w, size_t *count)
{
    uint64_t *terms;
    uint32_t *tf;
    size_t nt, k = 0;
    int rc = gatrec__embed_term_counts(e, text, &terms, &tf, &nt);
    if (rc)
        return rc;
    *idx = gatrec__malloc_array(nt + 1, sizeof **idx);
    *w = gatrec__malloc_array(nt + 1, sizeof **w);
    if (!*idx || !*w) {
        free(terms), free(tf), free(*idx), free(*w);
        return GATREC_ENOMEM;
    }
    for (size_t j = 0; j < nt; j++) { /* keep the terms the corpus kept, by binary search */
        uint32_t b = (uint32_t)(terms[j] % LSA_BUCKETS);
        size_t lo = 0, hi = e->nterms;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (e->bucket[mid] < b)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == e->nterms || e->bucket[lo] != b)
            continue;
        (*idx)[k] = (uint32_t)lo;
        (*w)[k++] = (e->sublinear ? 1.0f + logf((float)tf[j]) : (float)tf[j]) * e->tidf[lo];
    }
    for (size_t a = 1; a < k; a++) /* sort by index, merging colliding buckets */
        for (size_t b = a; b > 0 && (*idx)[b] < (*idx)[b - 1]; b--) {
            uint32_t ti = (*idx)[b];
            float tw = (*w)[b];
            (*idx)[b] = (*idx)[b - 1], (*w)[b] = (*w)[b - 1];
            (*idx)[b - 1] = ti, (*w)[b - 1] = tw;
        }
    size_t m = 0;
    for (size_t j = 0; j < k; j++) {
        if (m && (*idx)[m - 1] == (*idx)[j])
            (*w)[m - 1] += (*w)[j];
        else
            (*idx)[m] = (*idx)[j], (*w)[m++] = (*w)[j];
    }
    gatrec__embed_l2_normalise(*w, m);
    free(terms);
    free(tf);
    *count = m;
    return GATREC_OK;
}

/* The corpus as a sparse matrix: row d holds text d's TF-IDF vector. */
typedef struct sparse {
    size_t n, *off;
    uint32_t *col;
    float *val;
} sparse;

static void sparse_free(sparse *X)
{
    free(X->off);
    free(X->col);
    free(X->val);
}

/* out (n x l) = X (n x V) * D (V x l) */
static void sparse_mul(const sparse *X, const float *D, size_t l, float *out)
{
    memset(out, 0, X->n * l * sizeof *out);
    for (size_t d = 0; d < X->n; d++)
        for (size_t e = X->off[d]; e < X->off[d + 1]; e++) {
            const float *row = D + (size_t)X->col[e] * l;
            float v = X->val[e], *o = out + d * l;
            for (size_t k = 0; k < l; k++)
                o[k] += v * row[k];
        }
}

/* out (V x l) = X^T (V x n) * Q (n x l) */
static void sparse_mul_t(const sparse *X, size_t V, const float *Q, size_t l, float *out)
{
    memset(out, 0, V * l * sizeof *out);
    for (size_t d = 0; d < X->n; d++)
        for (size_t e = X->off[d]; e < X->off[d + 1]; e++) {
            const float *q = Q + d * l;
            float v = X->val[e], *o = out + (size_t)X->col[e] * l;
            for (size_t k = 0; k < l; k++)
                o[k] += v * q[k];
        }
}

/* Keep the terms in at least LSA_MIN_DF texts, with their smooth idf. */
static int lsa_vocabulary(gatrec_embedder *e, const char *const *texts, size_t n)
{
    uint32_t *df = gatrec__calloc(LSA_BUCKETS, sizeof *df);
    int rc;
    if (!df)
        return GATREC_ENOMEM;
    rc = gatrec__embed_bucket_df(e, texts, n, LSA_BUCKETS, df);
    e->nterms = 0;
    for (size_t b = 0; !rc && b < LSA_BUCKETS; b++)
        e->nterms += df[b] >= LSA_MIN_DF;
    if (!rc && (!(e->bucket = gatrec__malloc_array(e->nterms + 1, sizeof *e->bucket)) ||
                !(e->tidf = gatrec__malloc_array(e->nterms + 1, sizeof *e->tidf))))
        rc = GATREC_ENOMEM;
    for (size_t b = 0, k = 0; !rc && b < LSA_BUCKETS; b++)
        if (df[b] >= LSA_MIN_DF) {
            e->bucket[k] = (uint32_t)b;
            e->tidf[k++] = gatrec__embed_smooth_idf(n, df[b]);
        }
    free(df);
    return rc;
}

/* Fit: the vocabulary, the TF-IDF matrix X, and the top `dim` right singular vectors of X by a
 * randomised SVD (Halko, Martinsson and Tropp, 2011): a Gaussian sketch, power iterations with
 * re-orthonormalisation, then the small l x l eigenproblem. A text then embeds as x V_k. */
int gatrec__embed_fit_lsa(gatrec_embedder *e, const char *const *texts, size_t n)
{
    sparse X = {0};
    size_t V, l, k = e->dim;
    float *omega = NULL, *Y = NULL, *Z = NULL, *M = NULL;
    double *Md = NULL, *w = NULL, *U = NULL;
    int rc;
    free(e->bucket), free(e->tidf), free(e->proj);
    e->bucket = NULL, e->tidf = NULL, e->proj = NULL, e->nterms = 0, e->ndocs = 0;
    if ((rc = lsa_vocabulary(e, texts, n)))
        return rc;
    V = e->nterms;
    if (k >= n || k >= V)
        return gatrec__error(GATREC_EINVAL, "LSA embedder: %zu dimensions need more than %zu texts and %zu terms "
                             "(terms in at least %d texts): lower dim", k, n, V, LSA_MIN_DF);
    l = k + LSA_OVERSAMPLE;
    l = l > n ? n : l > V ? V : l;
    X.n = n;
    X.off = gatrec__calloc(n + 1, sizeof *X.off);
    if (!X.off)
        return GATREC_ENOMEM;
    for (size_t d = 0; d < n && !rc; d++) { /* the rows, appended */
        uint32_t *idx;
        float *wt;
        size_t c;
        if ((rc = lsa_vector(e, texts[d], &idx, &wt, &c)))
            break;
        uint32_t *nc = gatrec__realloc_array(X.col, X.off[d] + c + 1, sizeof *nc);
        float *nv = nc ? gatrec__realloc_array(X.val, X.off[d] + c + 1, sizeof *nv) : NULL;
        if (nc)
            X.col = nc;
        if (nv)
            X.val = nv;
        if (!nc || !nv)
            rc = gatrec__error_context(GATREC_ENOMEM, "building the LSA corpus matrix");
        else {
            memcpy(X.col + X.off[d], idx, c * sizeof *idx);
            memcpy(X.val + X.off[d], wt, c * sizeof *wt);
            X.off[d + 1] = X.off[d] + c;
        }
        free(idx);
        free(wt);
    }
    omega = gatrec__malloc_array(V * l, sizeof *omega);
    Y = gatrec__malloc_array(n * l, sizeof *Y);
    Z = gatrec__malloc_array(V * l, sizeof *Z);
    M = gatrec__malloc_array(l * l, sizeof *M);
    Md = gatrec__malloc_array(l * l, sizeof *Md);
    w = gatrec__malloc_array(l, sizeof *w);
    U = gatrec__malloc_array(l * l, sizeof *U);
    if (!rc && (!omega || !Y || !Z || !M || !Md || !w || !U))
        rc = GATREC_ENOMEM;
    if (rc)
        goto done;
    gatrec__init_normal(omega, V * l, 1.0f, 0x15A, gatrec__stream(GATREC__RNG_LSA, 0)); /* a fixed seed: the same corpus fits the same */
    sparse_mul(&X, omega, l, Y);
    for (int q = 0; q < LSA_POWER_ITERATIONS && !rc; q++) {
        if (!(rc = gatrec__orthonormalise(0, n, l, Y))) {
            sparse_mul_t(&X, V, Y, l, Z);
            if (!(rc = gatrec__orthonormalise(0, V, l, Z)))
                sparse_mul(&X, Z, l, Y);
        }
    }
    if (rc || (rc = gatrec__orthonormalise(0, n, l, Y)))
        goto done;
    sparse_mul_t(&X, V, Y, l, Z);                                            /* Z = X^T Q = B^T */
    gatrec__sgemm(0, 1, 0, l, l, V, 1.0f, Z, l, 1, Z, l, 1, 0.0f, M, l); /* B B^T */
    for (size_t j = 0; j < l * l; j++)
        Md[j] = M[j];
    if ((rc = gatrec__sym_eigen(l, Md, w, U)))
        goto done;
    /* V_k = B^T U_k diag(1 / sigma): the projection keeps x V_k (a text's coordinates) */
    if (!(e->proj = gatrec__calloc(V * k + 1, sizeof *e->proj))) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    for (size_t c = 0; c < k; c++) {
        double sigma = w[c] > 0 ? sqrt(w[c]) : 0;
        if (sigma <= 1e-12 * (w[0] > 0 ? sqrt(w[0]) : 1))
            continue; /* the corpus has lower rank: that direction stays zero */
        for (size_t t = 0; t < V; t++) {
            double acc = 0;
            for (size_t j = 0; j < l; j++)
                acc += (double)Z[t * l + j] * U[j * l + c];
            e->proj[t * k + c] = (float)(acc / sigma);
        }
    }
    e->ndocs = n;
done:
    sparse_free(&X);
    free(omega), free(Y), free(Z), free(M), free(Md), free(w), free(U);
    return rc;
}

int gatrec__embed_lsa(const gatrec_embedder *e, const char *text, float *out)
{
    uint32_t *idx;
    float *wt;
    size_t c;
    int rc = lsa_vector(e, text, &idx, &wt, &c);
    if (rc)
        return rc;
    memset(out, 0, e->dim * sizeof *out);
    for (size_t j = 0; j < c; j++) {
        const float *row = e->proj + (size_t)idx[j] * e->dim;
        for (size_t k = 0; k < e->dim; k++)
            out[k] += wt[j] * row[k];
    }
    gatrec__embed_l2_normalise(out, e->dim);
    free(idx);
    free(wt);
    return GATREC_OK;
}

