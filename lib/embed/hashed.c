/* The hashed TF-IDF embedder: word n-grams of a text hashed into `dim` signed buckets, weighted
 * by a smoothed idf learnt from a corpus, L2-normalised. Its term hashing serves LSA too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"

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
int gatrec__embed_term_counts(const gatrec_embedder *e, const char *text, uint64_t **terms, uint32_t **tf, size_t *n)
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
int gatrec__embed_bucket_df(const gatrec_embedder *e, const char *const *texts, size_t n, size_t buckets, uint32_t *df)
{
    for (size_t d = 0; d < n; d++) {
        uint64_t *terms;
        uint32_t *tf;
        size_t nt;
        int rc;
        if (!texts[d])
            return gatrec__error(GATREC_EINVAL, "gatrec_embedder_fit: text %zu is NULL", d);
        if ((rc = gatrec__embed_term_counts(e, texts[d], &terms, &tf, &nt)))
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
float gatrec__embed_smooth_idf(size_t n, uint32_t df)
{
    return (float)(log((1.0 + (double)n) / (1.0 + (double)df)) + 1.0);
}

/* v /= |v| (a zero vector stays zero). */
void gatrec__embed_l2_normalise(float *v, size_t d)
{
    double norm = 0;
    for (size_t k = 0; k < d; k++)
        norm += (double)v[k] * v[k];
    if (norm > 0)
        for (size_t k = 0; k < d; k++)
            v[k] = (float)(v[k] / sqrt(norm));
}

int gatrec__embed_hashed(const gatrec_embedder *e, const char *text, float *out)
{
    uint64_t *terms;
    uint32_t *tf;
    size_t nt;
    int rc = gatrec__embed_term_counts(e, text, &terms, &tf, &nt);
    if (rc)
        return rc;
    memset(out, 0, e->dim * sizeof *out);
    for (size_t j = 0; j < nt; j++) {
        size_t b = (size_t)(terms[j] % e->dim);
        float sign = terms[j] >> 63 ? -1.0f : 1.0f; /* signed hashing: collisions cancel on average */
        float w = e->sublinear ? 1.0f + logf((float)tf[j]) : (float)tf[j];
        out[b] += sign * w * e->idf[b];
    }
    gatrec__embed_l2_normalise(out, e->dim);
    free(terms);
    free(tf);
    return GATREC_OK;
}

