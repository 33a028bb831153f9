/* The graph models' message edges: see edges.h. */
#include <stdlib.h>
#include <string.h>

#include "edges.h"

int gatrec__edges_alloc(gatrec__edge_store *S, size_t n, size_t m)
{
    S->off = gatrec__calloc(n + 1, sizeof *S->off);
    S->soff = gatrec__calloc(n + 2, sizeof *S->soff);
    S->src = gatrec__malloc_array(m + 1, sizeof *S->src);
    S->dst = gatrec__malloc_array(m + 1, sizeof *S->dst);
    S->attr = gatrec__malloc_array(m + 1, sizeof *S->attr);
    S->sedge = gatrec__malloc_array(m + 1, sizeof *S->sedge);
    return S->off && S->soff && S->src && S->dst && S->attr && S->sedge ? GATREC_OK : GATREC_ENOMEM;
}

int gatrec__edges_build(gatrec__edge_store *S, size_t nu, size_t ni, const gatrec__csr *by_user,
                        const gatrec__csr *by_item, int self_loops)
{
    size_t N = nu + ni, nr = by_user->off[nu], m = 2 * nr + (self_loops ? N : 0), e = 0;
    if (gatrec__edges_alloc(S, N, m))
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
    gatrec__edges_index(S, N, e);
    return GATREC_OK;
}

void gatrec__edges_index(gatrec__edge_store *S, size_t N, size_t m)
{
    /* group by source (counting sort; ascending edge id within a source); soff holds N + 2 zeros */
    for (size_t k = 0; k < m; k++)
        S->soff[(size_t)S->src[k] + 2]++;
    for (size_t s = 2; s < N + 2; s++)
        S->soff[s] += S->soff[s - 1];
    for (size_t k = 0; k < m; k++)
        S->sedge[S->soff[(size_t)S->src[k] + 1]++] = (uint32_t)k;
    S->E = (gatrec__edges){N, m, S->off, S->src, S->attr, S->soff, S->sedge, S->dst};
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

/* ---- neighbour sampling ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void gatrec__subgraph_clear(gatrec__subgraph *S)
{
    for (size_t j = 0; S->loc && S->glob && j < S->n; j++)
        S->loc[S->glob[j]] = -1;
    free(S->glob);
    free(S->gid);
    S->glob = S->gid = NULL;
    S->n = S->nu = 0;
    gatrec__edges_free(&S->es);
}

void gatrec__subgraph_free(gatrec__subgraph *S)
{
    gatrec__subgraph_clear(S);
    free(S->loc);
    free(S->pick);
    S->loc = NULL;
    S->pick = NULL;
}

int gatrec__subgraph_sample(gatrec__subgraph *S, const gatrec__edges *E, size_t nu, size_t N, size_t hops,
                            size_t fanout, int keep_self, uint64_t seed, uint64_t step, const int32_t *seeds,
                            size_t nseeds)
{
    size_t ncap = nseeds + 16, dcap = ncap, n = 0, tcap = 1024, ecap = tcap, ne = 0;
    int32_t *nodes = gatrec__malloc_array(ncap, sizeof *nodes), *depth = gatrec__malloc_array(dcap, sizeof *depth);
    int32_t *tgt = gatrec__malloc_array(tcap, sizeof *tgt);
    uint32_t *pick, *eid = gatrec__malloc_array(ecap, sizeof *eid);
    size_t *at = NULL;
    int rc = GATREC_ENOMEM;
    gatrec__subgraph_clear(S);
    if (!S->loc) { /* the first step: the per-node map and the scratch of the largest degree */
        size_t maxdeg = 0;
        for (size_t t = 0; t < N; t++)
            maxdeg = E->off[t + 1] - E->off[t] > maxdeg ? E->off[t + 1] - E->off[t] : maxdeg;
        if (!(S->loc = gatrec__malloc_array(N + 1, sizeof *S->loc)) ||
            !(S->pick = gatrec__malloc_array(maxdeg + 1, sizeof *S->pick))) {
            free(S->loc);
            S->loc = NULL;
            goto done;
        }
        for (size_t v = 0; v < N; v++)
            S->loc[v] = -1;
    }
    pick = S->pick;
    if (!nodes || !depth || !tgt || !eid)
        goto done;
    /* loc marks membership (0) while sampling; the numbering comes after */
    for (size_t k = 0; k < nseeds; k++)
        if (S->loc[seeds[k]] < 0) {
            S->loc[seeds[k]] = 0;
            depth[n] = 0;
            nodes[n++] = seeds[k];
        }
    for (size_t k = 0; k < n; k++) { /* breadth first: n grows as sources are found */
        size_t t = (size_t)nodes[k], e0 = E->off[t], deg = E->off[t + 1] - e0, self = SIZE_MAX, got = 0;
        if ((size_t)depth[k] >= hops)
            continue;
        if (keep_self) /* the self loop always, fanout among the others */
            for (size_t j = 0; j < deg && self == SIZE_MAX; j++)
                if ((size_t)E->src[e0 + j] == t)
                    self = j;
        size_t pool = deg - (self != SIZE_MAX), take = pool < fanout ? pool : fanout;
        if (take * 4 <= pool) { /* a few of many (a popular item): draws, repeats redrawn */
            for (uint64_t a = 0; got < take; a++) {
                uint32_t r = (uint32_t)gatrec__rng_below(seed, gatrec__stream(GATREC__RNG_FANOUT_DRAW, step), gatrec__node_counter(t, a), pool), dup = 0;
                r += self != SIZE_MAX && r >= self; /* skip the self loop */
                for (size_t q = 0; q < got && !dup; q++)
                    dup = pick[q] == r;
                if (!dup)
                    pick[got++] = r;
            }
        } else { /* most of them, or all: a partial Fisher-Yates over the others */
            for (size_t j = 0; j < deg; j++)
                if (j != self)
                    pick[got++] = (uint32_t)j;
            for (size_t j = 0; take < pool && j < take; j++) {
                size_t r = j + (size_t)gatrec__rng_below(seed, gatrec__stream(GATREC__RNG_FANOUT_SHUFFLE, step), gatrec__node_counter(t, j), pool - j);
                uint32_t x = pick[j];
                pick[j] = pick[r];
                pick[r] = x;
            }
        }
        if (self != SIZE_MAX)
            pick[take++] = (uint32_t)self;
        qsort(pick, take, sizeof *pick, cmp_u32); /* the sample in global edge order */
        for (size_t j = 0; j < take; j++) {
            size_t e = e0 + pick[j], src = (size_t)E->src[e];
            if ((ne == ecap || ne == tcap) && /* a call per edge only when one is full */
                (gatrec__reserve((void **)&eid, &ecap, ne + 1, sizeof *eid) ||
                 gatrec__reserve((void **)&tgt, &tcap, ne + 1, sizeof *tgt)))
                goto done;
            eid[ne] = (uint32_t)e;
            tgt[ne++] = (int32_t)t;
            if (S->loc[src] < 0) {
                if ((n == ncap || n == dcap) &&
                    (gatrec__reserve((void **)&nodes, &ncap, n + 1, sizeof *nodes) ||
                     gatrec__reserve((void **)&depth, &dcap, n + 1, sizeof *depth)))
                    goto done;
                S->loc[src] = 0;
                depth[n] = depth[k] + 1;
                nodes[n++] = (int32_t)src;
            }
        }
    }
    /* local ids: ascending global ids (users first) */
    qsort(nodes, n, sizeof *nodes, cmp_u32);
    S->glob = nodes;
    nodes = NULL;
    S->n = n;
    for (size_t j = 0; j < n; j++) {
        S->loc[S->glob[j]] = (int32_t)j;
        S->nu += (size_t)S->glob[j] < nu;
    }
    /* the edges grouped by local target (a target's sample is contiguous and ascending) */
    gatrec__edge_store *X = &S->es;
    S->gid = gatrec__malloc_array(ne + 1, sizeof *S->gid);
    at = gatrec__malloc_array(n + 1, sizeof *at);
    if (gatrec__edges_alloc(X, n, ne) || !S->gid || !at)
        goto done;
    for (size_t k = 0; k < ne; k++)
        X->off[S->loc[tgt[k]] + 1]++;
    for (size_t j = 0; j < n; j++)
        X->off[j + 1] += X->off[j];
    memcpy(at, X->off, n * sizeof *at);
    for (size_t k = 0; k < ne; k++) {
        size_t q = at[S->loc[tgt[k]]]++;
        X->src[q] = S->loc[E->src[eid[k]]];
        X->dst[q] = S->loc[tgt[k]];
        X->attr[q] = E->attr[eid[k]];
        S->gid[q] = (int32_t)eid[k];
    }
    gatrec__edges_index(X, n, ne);
#if defined(GATREC_DEBUG) && GATREC_DEBUG
    for (size_t j = 0; j < n; j++) { /* locals: distinct, ascending, users first, and loc's inverse */
        GATREC_ASSERT((size_t)S->glob[j] < N && S->loc[S->glob[j]] == (int32_t)j);
        GATREC_ASSERT(j == 0 || S->glob[j - 1] < S->glob[j]);
        GATREC_ASSERT(((size_t)S->glob[j] < nu) == (j < S->nu));
    }
    for (size_t j = 0; j < n; j++) /* each target keeps at most fanout edges (and its self loop) */
        GATREC_ASSERT(X->off[j + 1] >= X->off[j] && X->off[j + 1] - X->off[j] <= fanout + (keep_self != 0));
    for (size_t q = 0; q < ne; q++) { /* every edge is a graph edge between two locals */
        GATREC_ASSERT((size_t)S->gid[q] < E->m && X->src[q] >= 0 && (size_t)X->src[q] < n);
        GATREC_ASSERT(S->glob[X->src[q]] == E->src[S->gid[q]] && (size_t)X->dst[q] < n);
    }
#endif
    rc = GATREC_OK;
done:
    free(nodes);
    free(depth);
    free(tgt);
    free(eid);
    free(at);
    return rc;
}
