/* The graph models' message edges: see edges.h. */
#include <stdlib.h>

#include "edges.h"

int gatrec__edges_build(gatrec__edge_store *S, size_t nu, size_t ni, const gatrec__csr *by_user,
                        const gatrec__csr *by_item, int self_loops)
{
    size_t N = nu + ni, nr = by_user->off[nu], m = 2 * nr + (self_loops ? N : 0), e = 0;
    S->off = gatrec__malloc_array(N + 1, sizeof *S->off);
    S->soff = gatrec__calloc(N + 2, sizeof *S->soff);
    S->src = gatrec__malloc_array(m + 1, sizeof *S->src);
    S->dst = gatrec__malloc_array(m + 1, sizeof *S->dst);
    S->attr = gatrec__malloc_array(m + 1, sizeof *S->attr);
    S->sedge = gatrec__malloc_array(m + 1, sizeof *S->sedge);
    if (!S->off || !S->soff || !S->src || !S->dst || !S->attr || !S->sedge)
        return GATREC_ENOMEM;
    if (m > UINT32_MAX)
        return gatrec__error(GATREC_EOVERFLOW, "the graph has %zu message edges; at most 2^32 are supported", m);
    for (size_t t = 0; t < N; t++) {
        const gatrec__csr *c = t < nu ? by_user : by_item;
        size_t row = t < nu ? t : t - nu, base = t < nu ? nu : 0, e0 = e;
        double sum = 0;
        S->off[t] = e;
        for (size_t k = c->off[row]; k < c->off[row + 1]; k++) {
            S->src[e] = (int32_t)(base + (size_t)c->col[k]);
            S->dst[e] = (int32_t)t;
            S->attr[e] = c->val[k];
            sum += c->val[k];
            e++;
        }
        if (self_loops) {
            S->src[e] = S->dst[e] = (int32_t)t;
            S->attr[e] = e > e0 ? (float)(sum / (double)(e - e0)) : 0.0f;
            e++;
        }
    }
    S->off[N] = e;
    /* group by source (counting sort; ascending edge id within a source) */
    for (size_t k = 0; k < e; k++)
        S->soff[(size_t)S->src[k] + 2]++;
    for (size_t s = 2; s < N + 2; s++)
        S->soff[s] += S->soff[s - 1];
    for (size_t k = 0; k < e; k++)
        S->sedge[S->soff[(size_t)S->src[k] + 1]++] = (uint32_t)k;
    S->E = (gatrec__edges){N, e, S->off, S->src, S->attr, S->soff, S->sedge, S->dst};
    return GATREC_OK;
}

void gatrec__edges_free(gatrec__edge_store *S)
{
    free(S->off);
    free(S->soff);
    free(S->src);
    free(S->dst);
    free(S->sedge);
    free(S->attr);
    *S = (gatrec__edge_store){0};
}
