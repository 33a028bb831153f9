/* Internal to the embed layer: the embedder's state and what its files (embedder.c, hashed.c,
 * lsa.c, embedder_file.c) share; features.c turns profiles into feature rows with it. */
#ifndef GATREC_EMBED_H
#define GATREC_EMBED_H

#include "../common/common.h"
#include "../llm/llm.h"

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

/* 1 when the embedder learns from a corpus and has not yet (the hashed one before fitting). */
int gatrec__embedder_needs_fit(const gatrec_embedder *e);
/* The embedder's state as bytes (what gatrec_embedder_save writes), and back; `what` names the
 * bytes in errors. A model keeps an embedder this way (model.c). */
int gatrec__embedder_serialize(const gatrec_embedder *e, gatrec__buf *b);
int gatrec__embedder_parse(const void *bytes, size_t len, const char *what, gatrec_embedder **out);

/* ---- across the embedder's files ---- */
int gatrec__embedder_alloc_hashed(size_t dim, int max_ngram, int sublinear, gatrec_embedder **out);
/* hashed.c */
int gatrec__embed_term_counts(const gatrec_embedder *e, const char *text, uint64_t **terms, uint32_t **tf, size_t *n);
int gatrec__embed_bucket_df(const gatrec_embedder *e, const char *const *texts, size_t n, size_t buckets, uint32_t *df);
float gatrec__embed_smooth_idf(size_t n, uint32_t df);
void gatrec__embed_l2_normalise(float *v, size_t d);
int gatrec__embed_hashed(const gatrec_embedder *e, const char *text, float *out);
/* lsa.c */
int gatrec__embed_fit_lsa(gatrec_embedder *e, const char *const *texts, size_t n);
int gatrec__embed_lsa(const gatrec_embedder *e, const char *text, float *out);

#endif
