/* gatrec_embedder: profile texts -> feature vectors. The kinds and what each call does with them:
 * the built-in offline embedders (hashed TF-IDF in hashed.c; latent semantic analysis, TF-IDF
 * reduced by a randomised SVD, in lsa.c; no network, no model download), a host callback, and an
 * embeddings endpoint (through the LLM client). Files and bytes: embedder_file.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"

GATREC__OPTIONS_INIT_FN(gatrec_embedder_options_init, gatrec_embedder_options, GATREC_EMBEDDER_OPTIONS_VERSION, GATREC_EMBEDDER_OPTIONS_INIT)

int gatrec__embedder_alloc_hashed(size_t dim, int max_ngram, int sublinear, gatrec_embedder **out)
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
    return gatrec__embedder_alloc_hashed(o.dim, o.max_ngram, o.sublinear_tf, out);
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

GATREC_API int gatrec_embedder_fit(gatrec_embedder *e, const char *const *texts, size_t n)
{
    uint32_t *df;
    int rc;
    if (!e || (n && !texts))
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_fit: NULL argument");
    if (e->kind == KIND_LSA)
        return gatrec__embed_fit_lsa(e, texts, n);
    if (e->kind != KIND_HASHED)
        return GATREC_OK; /* nothing to learn */
    if (!(df = gatrec__calloc(e->dim, sizeof *df)))
        return GATREC_ENOMEM;
    if (!(rc = gatrec__embed_bucket_df(e, texts, n, e->dim, df))) {
        for (size_t k = 0; k < e->dim; k++)
            e->idf[k] = gatrec__embed_smooth_idf(n, df[k]);
        e->ndocs = n;
    }
    free(df);
    return rc;
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
        rc = e->kind == KIND_LSA ? gatrec__embed_lsa(e, texts[d], out + d * e->dim) : gatrec__embed_hashed(e, texts[d], out + d * e->dim);
    return rc;
}

