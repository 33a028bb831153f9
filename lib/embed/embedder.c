/* gatrec_embedder: profile texts -> feature vectors. The built-in offline embedders (hashed
 * TF-IDF, and latent semantic analysis: TF-IDF reduced by a randomised SVD; no network, no model
 * download), a host callback, and an embeddings endpoint. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/dense.h"
#include "../llm/llm.h"
#include "embed.h"

enum { KIND_HASHED = 1, KIND_CALLBACK = 2, KIND_REMOTE = 3, KIND_LSA = 4 };
#define REMOTE_BATCH 64
#define EMBEDDER_MAGIC "GATRECEM"
#define EMBEDDER_FORMAT 1     /* the hashed embedder's files, as older libraries read them */
#define EMBEDDER_FORMAT_LSA 2 /* the LSA embedder's (older libraries refuse them as too new) */
#define EMBEDDER_FORMAT_REMOTE 3 /* a remote embedder's: its model's name and width */
#define LSA_BUCKETS (1u << 20) /* the term space: n-grams hashed this wide barely collide */
#define LSA_MIN_DF 2           /* a term in one text alone says nothing about the others */
#define LSA_OVERSAMPLE 10
#define LSA_POWER_ITERATIONS 2

struct gatrec_embedder {
    int kind;
    size_t dim;
    /* hashed */
    int max_ngram, sublinear;
    uint64_t ndocs; /* 0: not fitted (every idf is 1) */
    float *idf;
    /* callback */
    gatrec_embed_cb cb;
    void *userdata;
    /* remote: the client (NULL when loaded from a file until bound) and the model's name */
    gatrec_llm *llm;
    char *model;
    /* LSA: the kept terms (hash buckets, ascending), their idf, and the projection (nterms x dim) */
    size_t nterms;
    uint32_t *bucket;
    float *tidf, *proj;
};

GATREC__OPTIONS_INIT_FN(gatrec_embedder_options_init, gatrec_embedder_options, GATREC_EMBEDDER_OPTIONS_VERSION, GATREC_EMBEDDER_OPTIONS_INIT)

static int alloc_hashed(size_t dim, int max_ngram, int sublinear, gatrec_embedder **out)
{
    gatrec_embedder *e;
    if (dim == 0 || dim > (1u << 24) || max_ngram < 1 || max_ngram > 8)
        return gatrec__error(GATREC_EINVAL, "hashed embedder: dim must be 1..2^24 and max_ngram 1..8 (got %zu, %d)", dim,
                             max_ngram);
    if (!(e = gatrec__calloc(1, sizeof *e)) || !(e->idf = gatrec__malloc_array(dim, sizeof *e->idf))) {
        free(e);
        return GATREC_ENOMEM;
    }
    e->kind = KIND_HASHED;
    e->dim = dim;
    e->max_ngram = max_ngram;
    e->sublinear = sublinear;
    for (size_t k = 0; k < dim; k++)
        e->idf[k] = 1.0f;
    *out = e;
    return GATREC_OK;
}

GATREC_API int gatrec_embedder_new_hashed(const gatrec_embedder_options *opts, gatrec_embedder **out)
{
    gatrec_embedder_options o;
    gatrec_embedder_options_init(&o, GATREC_EMBEDDER_OPTIONS_VERSION);
    if (!out)
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_new_hashed: NULL argument");
    if (GATREC__READ_VERSIONED(&o, opts, gatrec_embedder_options))
        return GATREC_EINVAL;
    return alloc_hashed(o.dim, o.max_ngram, o.sublinear_tf, out);
}

GATREC_API int gatrec_embedder_new_lsa(const gatrec_embedder_options *opts, gatrec_embedder **out)
{
    gatrec_embedder *e;
    int rc = gatrec_embedder_new_hashed(opts, &e);
    if (rc)
        return rc;
    free(e->idf);
    e->idf = NULL;
    e->kind = KIND_LSA;
    *out = e;
    return GATREC_OK;
}

GATREC_API int gatrec_embedder_new_callback(size_t dim, gatrec_embed_cb cb, void *userdata, gatrec_embedder **out)
{
    gatrec_embedder *e;
    if (!cb || !out || dim == 0)
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_new_callback: NULL callback or output, or dim 0");
    if (!(e = gatrec__calloc(1, sizeof *e)))
        return GATREC_ENOMEM;
    e->kind = KIND_CALLBACK;
    e->dim = dim;
    e->cb = cb;
    e->userdata = userdata;
    *out = e;
    return GATREC_OK;
}

GATREC_API int gatrec_embedder_new_remote(gatrec_llm *llm, size_t dim, gatrec_embedder **out)
{
    gatrec_embedder *e;
    int rc;
    if (!llm || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_new_remote: NULL llm or output");
    if (!dim && (rc = gatrec__llm_embed_width(llm, NULL, &dim))) /* 0: the width the endpoint answers with */
        return rc;
    if (!(e = gatrec__calloc(1, sizeof *e)) || !(e->model = gatrec__strdup(gatrec__llm_embed_model(llm)))) {
        free(e);
        return GATREC_ENOMEM;
    }
    e->kind = KIND_REMOTE;
    e->dim = dim;
    e->llm = llm;
    *out = e;
    return GATREC_OK;
}

GATREC_API int gatrec_embedder_bind_llm(gatrec_embedder *e, gatrec_llm *llm)
{
    if (!e || !llm)
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_bind_llm: NULL argument");
    if (e->kind != KIND_REMOTE)
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_bind_llm: only a remote embedder talks to an LLM");
    e->llm = llm;
    return GATREC_OK;
}

GATREC_API const char *gatrec_embedder_remote_model(const gatrec_embedder *e)
{
    return e && e->kind == KIND_REMOTE ? e->model : NULL;
}

GATREC_API void gatrec_embedder_free(gatrec_embedder *e)
{
    if (!e)
        return;
    free(e->idf);
    free(e->bucket);
    free(e->tidf);
    free(e->proj);
    free(e->model);
    free(e);
}

int gatrec__embedder_needs_fit(const gatrec_embedder *e)
{
    return (e->kind == KIND_HASHED || e->kind == KIND_LSA) && e->ndocs == 0;
}

GATREC_API size_t gatrec_embedder_dim(const gatrec_embedder *e)
{
    return e ? e->dim : 0;
}

/* ---- the hashed TF-IDF embedder ---- */

static int word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

/* The hashes (FNV-1a, 64-bit) of every word n-gram of text, n = 1..max_ngram, words joined by
 * one space: words are runs of ASCII letters and digits (lower-cased) and non-ASCII bytes. */
static int ngram_hashes(const char *text, int max_ngram, uint64_t **out, size_t *count)
{
    size_t nw = 0, cap = 0, n = 0;
    size_t *ws = NULL, *we = NULL; /* word spans */
    uint64_t *h;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; s[i];) {
        while (s[i] && !word_byte(s[i]))
            i++;
        if (!s[i])
            break;
        size_t j = i;
        while (s[j] && word_byte(s[j]))
            j++;
        if (nw == cap) {
            cap = cap ? 2 * cap : 256;
            size_t *a = gatrec__realloc_array(ws, cap, sizeof *a), *b = a ? gatrec__realloc_array(we, cap, sizeof *b) : NULL;
            if (a)
                ws = a;
            if (b)
                we = b;
            if (!a || !b) {
                free(ws);
                free(we);
                return GATREC_ENOMEM;
            }
        }
        ws[nw] = i;
        we[nw++] = j;
        i = j;
    }
    if (!(h = gatrec__malloc_array(nw * (size_t)max_ngram + 1, sizeof *h))) {
        free(ws);
        free(we);
        return GATREC_ENOMEM;
    }
    for (size_t w = 0; w < nw; w++) {
        uint64_t x = FNV_OFFSET;
        for (int g = 0; g < max_ngram && w + (size_t)g < nw; g++) {
            if (g) {
                x ^= ' ';
                x *= FNV_PRIME;
            }
            for (size_t b = ws[w + (size_t)g]; b < we[w + (size_t)g]; b++) {
                x ^= lower(s[b]);
                x *= FNV_PRIME;
            }
            h[n++] = x;
        }
    }
    free(ws);
    free(we);
    *out = h;
    *count = n;
    return GATREC_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Distinct n-gram hashes of text (sorted) and how often each occurs. */
static int term_counts(const gatrec_embedder *e, const char *text, uint64_t **terms, uint32_t **tf, size_t *n)
{
    uint64_t *h;
    size_t m, k = 0;
    int rc = ngram_hashes(text, e->max_ngram, &h, &m);
    if (rc)
        return rc;
    qsort(h, m, sizeof *h, cmp_u64);
    if (!(*tf = gatrec__malloc_array(m + 1, sizeof **tf))) {
        free(h);
        return GATREC_ENOMEM;
    }
    for (size_t j = 0; j < m; j++) {
        if (k && h[k - 1] == h[j]) {
            (*tf)[k - 1]++;
            continue;
        }
        h[k] = h[j];
        (*tf)[k++] = 1;
    }
    *terms = h;
    *n = k;
    return GATREC_OK;
}

/* How many of the n texts hold each of `buckets` term buckets (a bucket counts once per text). */
static int bucket_df(const gatrec_embedder *e, const char *const *texts, size_t n, size_t buckets, uint32_t *df)
{
    for (size_t d = 0; d < n; d++) {
        uint64_t *terms;
        uint32_t *tf;
        size_t nt;
        int rc;
        if (!texts[d])
            return gatrec__error(GATREC_EINVAL, "gatrec_embedder_fit: text %zu is NULL", d);
        if ((rc = term_counts(e, texts[d], &terms, &tf, &nt)))
            return rc;
        for (size_t j = 0; j < nt; j++)
            terms[j] %= buckets;
        qsort(terms, nt, sizeof *terms, cmp_u64);
        for (size_t j = 0; j < nt; j++)
            if (j == 0 || terms[j] != terms[j - 1])
                df[terms[j]]++;
        free(terms);
        free(tf);
    }
    return GATREC_OK;
}

/* The smooth idf of a term in df of n texts: ln((1 + n) / (1 + df)) + 1. */
static float smooth_idf(size_t n, uint32_t df)
{
    return (float)(log((1.0 + (double)n) / (1.0 + (double)df)) + 1.0);
}

/* v /= |v| (a zero vector stays zero). */
static void l2_normalise(float *v, size_t d)
{
    double norm = 0;
    for (size_t k = 0; k < d; k++)
        norm += (double)v[k] * v[k];
    if (norm > 0)
        for (size_t k = 0; k < d; k++)
            v[k] = (float)(v[k] / sqrt(norm));
}

/* ---- latent semantic analysis ---- */

/* A text's TF-IDF vector over the kept terms, L2-normalised: (index, weight) pairs sorted by
 * index, into idx / w (room for the text's term count); returns the count. */
static int lsa_vector(const gatrec_embedder *e, const char *text, uint32_t **idx, float **w, size_t *count)
{
    uint64_t *terms;
    uint32_t *tf;
    size_t nt, k = 0;
    int rc = term_counts(e, text, &terms, &tf, &nt);
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
    l2_normalise(*w, m);
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
    rc = bucket_df(e, texts, n, LSA_BUCKETS, df);
    e->nterms = 0;
    for (size_t b = 0; !rc && b < LSA_BUCKETS; b++)
        e->nterms += df[b] >= LSA_MIN_DF;
    if (!rc && (!(e->bucket = gatrec__malloc_array(e->nterms + 1, sizeof *e->bucket)) ||
                !(e->tidf = gatrec__malloc_array(e->nterms + 1, sizeof *e->tidf))))
        rc = GATREC_ENOMEM;
    for (size_t b = 0, k = 0; !rc && b < LSA_BUCKETS; b++)
        if (df[b] >= LSA_MIN_DF) {
            e->bucket[k] = (uint32_t)b;
            e->tidf[k++] = smooth_idf(n, df[b]);
        }
    free(df);
    return rc;
}

/* Fit: the vocabulary, the TF-IDF matrix X, and the top `dim` right singular vectors of X by a
 * randomised SVD (Halko, Martinsson and Tropp, 2011): a Gaussian sketch, power iterations with
 * re-orthonormalisation, then the small l x l eigenproblem. A text then embeds as x V_k. */
static int fit_lsa(gatrec_embedder *e, const char *const *texts, size_t n)
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
    gatrec__init_normal(omega, V * l, 1.0f, 0x15A, 0); /* a fixed seed: the same corpus fits the same */
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

static int embed_lsa(const gatrec_embedder *e, const char *text, float *out)
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
    l2_normalise(out, e->dim);
    free(idx);
    free(wt);
    return GATREC_OK;
}

GATREC_API int gatrec_embedder_fit(gatrec_embedder *e, const char *const *texts, size_t n)
{
    uint32_t *df;
    int rc;
    if (!e || (n && !texts))
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_fit: NULL argument");
    if (e->kind == KIND_LSA)
        return fit_lsa(e, texts, n);
    if (e->kind != KIND_HASHED)
        return GATREC_OK; /* nothing to learn */
    if (!(df = gatrec__calloc(e->dim, sizeof *df)))
        return GATREC_ENOMEM;
    if (!(rc = bucket_df(e, texts, n, e->dim, df))) {
        for (size_t k = 0; k < e->dim; k++)
            e->idf[k] = smooth_idf(n, df[k]);
        e->ndocs = n;
    }
    free(df);
    return rc;
}

static int embed_hashed(const gatrec_embedder *e, const char *text, float *out)
{
    uint64_t *terms;
    uint32_t *tf;
    size_t nt;
    int rc = term_counts(e, text, &terms, &tf, &nt);
    if (rc)
        return rc;
    memset(out, 0, e->dim * sizeof *out);
    for (size_t j = 0; j < nt; j++) {
        size_t b = (size_t)(terms[j] % e->dim);
        float sign = terms[j] >> 63 ? -1.0f : 1.0f; /* signed hashing: collisions cancel on average */
        float w = e->sublinear ? 1.0f + logf((float)tf[j]) : (float)tf[j];
        out[b] += sign * w * e->idf[b];
    }
    l2_normalise(out, e->dim);
    free(terms);
    free(tf);
    return GATREC_OK;
}

GATREC_API int gatrec_embedder_embed(gatrec_embedder *e, const char *const *texts, size_t n, float *out)
{
    int rc = GATREC_OK;
    if (!e || (n && (!texts || !out)))
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_embed: NULL argument");
    for (size_t d = 0; d < n; d++)
        if (!texts[d])
            return gatrec__error(GATREC_EINVAL, "gatrec_embedder_embed: text %zu is NULL", d);
    if (e->kind == KIND_CALLBACK) {
        gatrec_error_clear(); /* a message after the call is the callback's own */
        rc = e->cb(e->userdata, texts, n, out, e->dim);
        if (rc > 0 || rc < GATREC_EUNSUPPORTED)
            rc = GATREC_EUSER;
        if (rc && !gatrec__error_is_set())
            gatrec__error(rc, "the host's embedding callback failed (%d: %s) embedding %zu texts", rc,
                          gatrec_strerror(rc), n);
        for (size_t k = 0; !rc && k < n * e->dim; k++)
            if (!isfinite(out[k]))
                rc = gatrec__error(GATREC_EFORMAT, "the embedding callback returned a non-finite value for text %zu",
                                   k / e->dim);
        return rc;
    }
    if (e->kind == KIND_REMOTE) {
        if (!e->llm)
            return gatrec__error(GATREC_EINVAL, "this remote embedder (model %s) has no LLM client: bind one with "
                                 "gatrec_embedder_bind_llm()", e->model);
        for (size_t d = 0; d < n && !rc; d += REMOTE_BATCH)
            rc = gatrec__llm_embed(e->llm, e->model, texts + d, n - d < REMOTE_BATCH ? n - d : REMOTE_BATCH,
                                   out + d * e->dim, e->dim);
        return rc;
    }
    if (e->kind == KIND_LSA && !e->ndocs)
        return gatrec__error(GATREC_EINVAL, "the LSA embedder learns its space from a corpus: fit it first "
                             "(gatrec_embedder_fit)");
    for (size_t d = 0; d < n && !rc; d++)
        rc = e->kind == KIND_LSA ? embed_lsa(e, texts[d], out + d * e->dim) : embed_hashed(e, texts[d], out + d * e->dim);
    return rc;
}

/* ---- persistence (the hashed embedder's state: its settings and idf) ---- */

/* The hashed embedder's state as bytes (magic, format, settings, idf, CRC-32). */
int gatrec__embedder_serialize(const gatrec_embedder *e, gatrec__buf *b)
{
    int rc;
    if (e->kind == KIND_LSA) { /* format 2: the settings, then the kept terms, idf and projection */
        if (!e->ndocs)
            return gatrec__error(GATREC_EINVAL, "the LSA embedder has not been fitted: nothing to save");
        if (!(rc = gatrec__buf_put(b, EMBEDDER_MAGIC, 8)) && !(rc = gatrec__buf_put_u32(b, EMBEDDER_FORMAT_LSA)) &&
            !(rc = gatrec__buf_put_u32(b, KIND_LSA)) && !(rc = gatrec__buf_put_u64(b, e->dim)) &&
            !(rc = gatrec__buf_put_u32(b, (uint32_t)e->max_ngram)) &&
            !(rc = gatrec__buf_put_u32(b, (uint32_t)e->sublinear)) && !(rc = gatrec__buf_put_u64(b, e->ndocs)) &&
            !(rc = gatrec__buf_put_u64(b, e->nterms)))
            for (size_t t = 0; t < e->nterms && !rc; t++)
                rc = gatrec__buf_put_u32(b, e->bucket[t]);
        if (!rc && !(rc = gatrec__buf_put_f32s(b, e->tidf, e->nterms)) &&
            !(rc = gatrec__buf_put_f32s(b, e->proj, e->nterms * e->dim)))
            rc = gatrec__buf_put_u32(b, gatrec__crc32(b->data, b->len));
        return rc;
    }
    if (e->kind == KIND_REMOTE) { /* format 3: which model, how wide (never the endpoint or a key) */
        if (!(rc = gatrec__buf_put(b, EMBEDDER_MAGIC, 8)) && !(rc = gatrec__buf_put_u32(b, EMBEDDER_FORMAT_REMOTE)) &&
            !(rc = gatrec__buf_put_u64(b, e->dim)) && !(rc = gatrec__buf_put_str(b, e->model)))
            rc = gatrec__buf_put_u32(b, gatrec__crc32(b->data, b->len));
        return rc;
    }
    if (e->kind != KIND_HASHED)
        return gatrec__error(GATREC_EUNSUPPORTED, "a callback embedder has no state to save (the hashed, LSA and "
                             "remote ones do)");
    if (!(rc = gatrec__buf_put(b, EMBEDDER_MAGIC, 8)) && !(rc = gatrec__buf_put_u32(b, EMBEDDER_FORMAT)) &&
        !(rc = gatrec__buf_put_u64(b, e->dim)) && !(rc = gatrec__buf_put_u32(b, (uint32_t)e->max_ngram)) &&
        !(rc = gatrec__buf_put_u32(b, (uint32_t)e->sublinear)) && !(rc = gatrec__buf_put_u64(b, e->ndocs)) &&
        !(rc = gatrec__buf_put_f32s(b, e->idf, e->dim)))
        rc = gatrec__buf_put_u32(b, gatrec__crc32(b->data, b->len));
    return rc;
}

/* The LSA state after the format number. */
static int parse_lsa(gatrec__reader *r, const char *what, gatrec_embedder **out)
{
    gatrec_embedder *e = NULL;
    uint32_t kind = gatrec__read_u32(r);
    uint64_t dim = gatrec__read_u64(r);
    int ngram = (int)gatrec__read_u32(r), sub = (int)gatrec__read_u32(r);
    uint64_t ndocs = gatrec__read_u64(r), nterms = gatrec__read_u64(r);
    int rc;
    if (r->bad || kind != KIND_LSA || dim == 0 || dim > (1u << 24) || ndocs == 0 || nterms == 0 ||
        nterms > LSA_BUCKETS || (uint64_t)(r->end - r->p) < nterms * (8 + 4 * dim) + 4)
        return gatrec__error(GATREC_EFORMAT, "%s: malformed LSA embedder", what);
    gatrec_embedder_options o = GATREC_EMBEDDER_OPTIONS_INIT;
    o.dim = (size_t)dim;
    o.max_ngram = ngram;
    o.sublinear_tf = sub;
    if ((rc = gatrec_embedder_new_lsa(&o, &e)))
        return rc;
    e->ndocs = ndocs;
    e->nterms = (size_t)nterms;
    e->bucket = gatrec__malloc_array(e->nterms, sizeof *e->bucket);
    e->tidf = gatrec__malloc_array(e->nterms, sizeof *e->tidf);
    e->proj = gatrec__malloc_array(e->nterms * e->dim, sizeof *e->proj);
    if (!e->bucket || !e->tidf || !e->proj)
        rc = GATREC_ENOMEM;
    for (size_t t = 0; !rc && t < e->nterms; t++) {
        e->bucket[t] = gatrec__read_u32(r);
        if (e->bucket[t] >= LSA_BUCKETS || (t && e->bucket[t] <= e->bucket[t - 1]))
            rc = gatrec__error(GATREC_EFORMAT, "%s: malformed LSA embedder (terms out of order)", what);
    }
    if (!rc && (gatrec__read_f32s(r, e->tidf, e->nterms) || gatrec__read_f32s(r, e->proj, e->nterms * e->dim) ||
                r->end - r->p != 4))
        rc = gatrec__error(GATREC_EFORMAT, "%s: malformed LSA embedder", what);
    if (rc) {
        gatrec_embedder_free(e);
        return rc;
    }
    *out = e;
    return GATREC_OK;
}

/* An embedder from gatrec__embedder_serialize()'s bytes; `what` names them in errors. */
int gatrec__embedder_parse(const void *bytes, size_t len, const char *what, gatrec_embedder **out)
{
    const unsigned char *data = bytes;
    gatrec__reader r = {data, data + len, 0};
    gatrec_embedder *e = NULL;
    int rc = GATREC_OK;
    if (len < 12 || memcmp(data, EMBEDDER_MAGIC, 8) != 0) {
        rc = gatrec__error(GATREC_EFORMAT, "%s: not a gatrec embedder", what);
    } else if (gatrec__crc32(data, len - 4) != (uint32_t)(data[len - 4] | data[len - 3] << 8 | data[len - 2] << 16 |
                                                          (uint32_t)data[len - 1] << 24)) {
        rc = gatrec__error(GATREC_ECHECKSUM, "%s: checksum mismatch: the embedder is corrupted or cut short", what);
    } else {
        gatrec__read_bytes(&r, 8);
        uint32_t version = gatrec__read_u32(&r);
        if (version == EMBEDDER_FORMAT_LSA) {
            rc = parse_lsa(&r, what, &e);
            goto out;
        }
        if (version == EMBEDDER_FORMAT_REMOTE) {
            uint64_t dim = gatrec__read_u64(&r);
            char *model = gatrec__read_str(&r);
            if (r.bad || !model || !model[0] || dim == 0 || dim > (1u << 24) || r.end - r.p != 4) {
                free(model);
                rc = gatrec__error(GATREC_EFORMAT, "%s: malformed remote embedder", what);
            } else if (!(e = gatrec__calloc(1, sizeof *e))) {
                free(model);
                rc = GATREC_ENOMEM;
            } else {
                e->kind = KIND_REMOTE;
                e->dim = (size_t)dim;
                e->model = model; /* no client until gatrec_embedder_bind_llm() */
            }
            goto out;
        }
        uint64_t dim = gatrec__read_u64(&r);
        int ngram = (int)gatrec__read_u32(&r), sub = (int)gatrec__read_u32(&r);
        uint64_t ndocs = gatrec__read_u64(&r);
        if (version != EMBEDDER_FORMAT)
            rc = gatrec__error(GATREC_EVERSION, "%s: embedder format %u; this library reads %u", what, version,
                               EMBEDDER_FORMAT);
        else if (r.bad || dim == 0 || dim > (1u << 24) || (size_t)(r.end - r.p) < dim * 4 + 4)
            rc = gatrec__error(GATREC_EFORMAT, "%s: malformed embedder", what);
        else if (!(rc = alloc_hashed((size_t)dim, ngram, sub, &e))) {
            e->ndocs = ndocs;
            rc = gatrec__read_f32s(&r, e->idf, e->dim);
        }
    }
out:
    if (rc) {
        gatrec_embedder_free(e);
        return rc;
    }
    *out = e;
    return GATREC_OK;
}

GATREC_API int gatrec_embedder_save(const gatrec_embedder *e, const char *path)
{
    gatrec__buf b = {0};
    int rc;
    if (!e || !path)
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_save: NULL argument");
    if (!(rc = gatrec__embedder_serialize(e, &b)))
        rc = gatrec__write_file_atomic(path, b.data, b.len);
    gatrec__buf_free(&b);
    return rc;
}

GATREC_API int gatrec_embedder_load(const char *path, gatrec_embedder **out)
{
    char *data;
    size_t len;
    int rc;
    if (!path || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_load: NULL argument");
    if ((rc = gatrec__read_file(path, &data, &len)))
        return rc;
    rc = gatrec__embedder_parse(data, len, path, out);
    free(data);
    return rc;
}
