/* The GAT's training step on a sampled subgraph (neighbour sampling, options.fanout): the
 * whole-graph passes run on a view of the subgraph. */
#include "gat.h"

/* ---- neighbour sampling ---- */

#define SWAP(a, b)                      \
    do {                                \
        __typeof__(a) t_ = (a);         \
        (a) = (b);                      \
        (b) = t_;                       \
    } while (0)

void gatrec__gat_swap_view(gat *G)
{
    gat_view *v = G->other;
    SWAP(G->nu, v->nu);
    SWAP(G->ni, v->ni);
    SWAP(G->es, v->es);
    SWAP(G->x0, v->x0);
    SWAP(G->x0_off, v->x0_off);
    for (size_t l = 0; l < MAX_LAYERS; l++) {
        SWAP(G->H[l + 1], v->H[l + 1]);
        SWAP(G->XL[l], v->XL[l]);
        SWAP(G->XR[l], v->XR[l]);
        SWAP(G->A[l], v->A[l]);
        SWAP(G->mean[l], v->mean[l]);
        SWAP(G->rstd[l], v->rstd[l]);
        SWAP(G->alpha[l], v->alpha[l]);
    }
    SWAP(G->work, v->work);
    SWAP(G->d1, v->d1);
    SWAP(G->dXL, v->dXL);
    SWAP(G->dXR, v->dXR);
    SWAP(G->dA, v->dA);
    SWAP(G->lean, v->lean);
}

/* The training forward on the step's subgraph: the output rows of the seeds only. */
int gatrec__gat_forward_batch(void *ctx, uint64_t step, const int32_t *seeds, size_t nseeds)
{
    gat *G = ctx;
    size_t N = G->nu + G->ni, f = G->fdim, out = G->L[G->nlayers - 1].out;
    float *emb = G->H[G->nlayers];
    const float *x0 = G->x0_off == SIZE_MAX ? G->x0 : P(G, G->x0_off);
    int rc;
    if (!G->other && !(G->other = gatrec__calloc(1, sizeof *G->other)))
        return GATREC_ENOMEM;
    if ((rc = gatrec__subgraph_sample(&G->sg, &G->es.E, G->nu, N, G->nlayers, G->fanout,
                                      !(G->flags & GATREC_GAT_NO_SELF_LOOPS), G->seed, step, seeds, nseeds)))
        return rc;
    gatrec__gat_swap_view(G); /* the subgraph's view: its activations of the last step go, new ones come */
    gatrec__gat_free_activations(G);
    G->es = G->sg.es; /* borrowed: the subgraph owns its edges */
    G->nu = G->sg.nu;
    G->ni = G->sg.n - G->sg.nu;
    G->x0_off = SIZE_MAX; /* the gathered input rows; their gradient is scattered by the backward */
    free(G->x0);
    if (!(G->x0 = gatrec__malloc_array(G->sg.n * f + 1, sizeof(float))) || (rc = gatrec__gat_alloc_activations(G))) {
        gatrec__gat_swap_view(G);
        return rc ? rc : GATREC_ENOMEM;
    }
    for (size_t j = 0; j < G->sg.n; j++)
        memcpy(G->x0 + j * f, x0 + (size_t)G->sg.glob[j] * f, f * sizeof(float));
    rc = gatrec__gat_forward(G, 1, step);
    for (size_t q = 0; !rc && q < nseeds; q++)
        memcpy(emb + (size_t)seeds[q] * out, G->H[G->nlayers] + (size_t)G->sg.loc[seeds[q]] * out, out * sizeof(float));
    gatrec__gat_swap_view(G);
    G->sampled = 1;
    return rc;
}

/* Backward of gatrec__gat_forward_batch (demb: zero but for the seeds' rows) */
int gatrec__gat_backward_sampled(gat *G, const float *demb)
{
    size_t n = G->sg.n, f = G->fdim, out = G->L[G->nlayers - 1].out, x0_off = G->x0_off;
    int rc;
    float *d;
    if ((rc = gatrec__resize_rows(&G->sdemb, n, out)))
        return rc;
    d = G->sdemb;
    for (size_t j = 0; j < n; j++)
        memcpy(d + j * out, demb + (size_t)G->sg.glob[j] * out, out * sizeof *d);
    gatrec__gat_swap_view(G);
    G->sampled = 0; /* the whole-graph backward, on the subgraph's view */
    rc = gatrec__gat_backward(G, d);
    G->sampled = 1;
    gatrec__gat_swap_view(G);
    if (!rc && x0_off != SIZE_MAX) /* the trainable inputs: the subgraph's rows of the table */
        for (size_t j = 0; j < n; j++) {
            float *g = G->grad + x0_off + (size_t)G->sg.glob[j] * f;
            const float *dx = G->dlast + j * f;
            for (size_t k = 0; k < f; k++)
                g[k] += dx[k];
        }
    return rc;
}

const int32_t *gatrec__gat_rows_touched(void *ctx, size_t *n)
{
    gat *G = ctx;
    *n = G->sg.n;
    return G->sg.glob;
}

