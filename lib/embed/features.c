/* Node features from profiles: every user and item of a graph through an embedder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph.h"
#include "../profiles/profiles.h"
#include "embed.h"

#define EMBED_BATCH 64

GATREC_API int gatrec_features_from_profiles(const gatrec_graph *g, const gatrec_profiles *p, gatrec_embedder *e,
                                             float **features, size_t *dim)
{
    size_t nu, N, d;
    const char **texts;
    float *F;
    int rc = GATREC_OK;
    if (!g || !p || !e || !features || !dim)
        return gatrec__error(GATREC_EINVAL, "gatrec_features_from_profiles: NULL argument");
    nu = g->users.count;
    N = nu + g->items.count;
    d = gatrec_embedder_dim(e);
    if (!(texts = gatrec__malloc_array(N + 1, sizeof *texts)))
        return GATREC_ENOMEM;
    for (size_t v = 0; v < N; v++) {
        int kind = v < nu ? GATREC_NODE_USER : GATREC_NODE_ITEM;
        int64_t id = v < nu ? g->users.ids[v] : g->items.ids[v - nu];
        if (!(texts[v] = gatrec_profiles_get(p, kind, id))) {
            free(texts);
            return gatrec__error(GATREC_ENOTFOUND,
                                 "%s %lld has no profile (import one, or fill the gaps with "
                                 "gatrec_profiles_fill_templates)",
                                 kind == GATREC_NODE_USER ? "user" : "item", (long long)id);
        }
    }
    if (!(F = gatrec__malloc_array(N * d + 1, sizeof *F))) {
        free(texts);
        return GATREC_ENOMEM;
    }
    /* an embedder that learns from its corpus (the hashed one's idf) learns from these texts,
     * unless it was fitted (or loaded) before */
    if (gatrec__embedder_needs_fit(e))
        rc = gatrec_embedder_fit(e, texts, N);
    for (size_t v = 0; v < N && !rc; v += EMBED_BATCH)
        rc = gatrec_embedder_embed(e, texts + v, N - v < EMBED_BATCH ? N - v : EMBED_BATCH, F + v * d);
    free(texts);
    if (rc) {
        free(F);
        return rc;
    }
    *features = F;
    *dim = d;
    return GATREC_OK;
}

GATREC_API int gatrec_features_save(const gatrec_graph *g, const float *features, size_t dim, const char *path)
{
    gatrec__buf b = {0};
    size_t nu, N;
    int rc = GATREC_OK;
    if (!g || !features || !dim || !path)
        return gatrec__error(GATREC_EINVAL, "gatrec_features_save: NULL argument or dim 0");
    nu = g->users.count;
    N = nu + g->items.count;
    for (size_t v = 0; v < N && !rc; v++) {
        rc = gatrec__buf_printf(&b, "%s\t%lld\t", v < nu ? "user" : "item",
                                (long long)(v < nu ? g->users.ids[v] : g->items.ids[v - nu]));
        for (size_t k = 0; k < dim && !rc; k++) /* %.9g: binary32 values survive the round trip exactly */
            rc = gatrec__buf_printf(&b, k ? " %.9g" : "%.9g", features[v * dim + k]);
        if (!rc)
            rc = gatrec__buf_put(&b, "\n", 1);
    }
    if (!rc)
        rc = gatrec__write_file_atomic(path, b.data, b.len);
    gatrec__buf_free(&b);
    return rc;
}
