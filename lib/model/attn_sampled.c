/* attn's training step on a sampled subgraph (neighbour sampling, options.fanout): the batch's
 * nodes and their sampled neighbourhoods, the forward and backward on them, and the rows of the
 * ID table they touched (for the lazy optimiser). */
#include "attn.h"

enum { S_FEAT, S_H, S_XS, S_XD, S_ALPHA, S_W, S_DW, S_WORK, S_DA, S_DB, S_DXS, S_DXD };

static float **sub_buffer(attn *A, int which)
{
    float **bufs[] = {&A->sfeat, &A->sH, &A->sXS, &A->sXD, &A->salpha, &A->sw, &A->sdw,
                      &A->swork, &A->sdA, &A->sdB, &A->sdXS, &A->sdXD};
    return bufs[which];
}

/* Buffer `which` of the step with room for n floats (grown, never shrunk), or NULL */
static float *sub_room(attn *A, int which, size_t n)
{
    float **b = sub_buffer(A, which);
    GATREC_ASSERT(which >= S_FEAT && which <= S_DXD);
    return gatrec__reserve((void **)b, &A->scap[which], n + 1, sizeof(float)) ? NULL : *b;
}

void gatrec__attn_free_sub_buffers(attn *A)
{
    for (int k = S_FEAT; k <= S_DXD; k++) {
        free(*sub_buffer(A, k));
        *sub_buffer(A, k) = NULL;
        A->scap[k] = 0;
    }
}

/* ---- neighbour sampling ---- */

/* Row copies between a step's subgraph (local row j) and the whole graph (global row glob[j]),
 * over the rows in parallel: each row is its own, so any split gives the same bits. */

typedef struct rows_job {
    const int32_t *glob;
    size_t d;
    float s;                   /* ROWS_GATHER: to[j] = s from[glob[j]] */
    const unsigned char *skip; /* global rows left out (ROWS_GATHER_ADD: to[j] += from[glob[j]];
                                  ROWS_SCATTER_ADD: to[glob[j]] += from[j]); NULL: none */
    const float *from;
    float *to;
    int mode;
} rows_job;

static void rows_one(void *ctx, size_t j)
{
    const rows_job *J = ctx;
    size_t g = (size_t)J->glob[j], d = J->d;
    if (J->skip && J->skip[g])
        return;
    if (J->mode == ROWS_GATHER)
        for (size_t k = 0; k < d; k++)
            J->to[j * d + k] = J->s * J->from[g * d + k];
    else if (J->mode == ROWS_GATHER_ADD)
        for (size_t k = 0; k < d; k++)
            J->to[j * d + k] += J->from[g * d + k];
    else
        for (size_t k = 0; k < d; k++)
            J->to[g * d + k] += J->from[j * d + k];
}

void gatrec__attn_rows(const attn *A, int mode, float s, const unsigned char *skip, const float *from, float *to)
{
    rows_job J = {A->sg.glob, A->d, s, skip, from, to, mode};
    gatrec__parallel(A->threads, A->sg.n, rows_one, &J);
}

/* The subgraph's edges into the seeds (their weights copied): the last layer's edges */
int gatrec__attn_top_edges(attn *A, const int32_t *seeds, size_t nseeds)
{
    const gatrec__edges *E = &A->sg.es.E;
    gatrec__edge_store *X = &A->top;
    size_t n = A->sg.n, m = 0, e = 0;
    unsigned char *is = gatrec__calloc(n + 1, 1);
    gatrec__edges_free(X);
    if (!is)
        return GATREC_ENOMEM;
    for (size_t q = 0; q < nseeds; q++)
        is[A->sg.loc[seeds[q]]] = 1;
    for (size_t t = 0; t < n; t++)
        m += is[t] ? E->off[t + 1] - E->off[t] : 0;
    int rc = gatrec__edges_alloc(X, n, m);
    free(A->topmap);
    free(A->wtop);
    free(A->dwtop);
    A->topmap = gatrec__malloc_array(m + 1, sizeof *A->topmap);
    A->wtop = gatrec__malloc_array(m + 1, sizeof *A->wtop);
    A->dwtop = gatrec__malloc_array(m + 1, sizeof *A->dwtop);
    if (rc || !A->topmap || !A->wtop || !A->dwtop) {
        free(is);
        return GATREC_ENOMEM;
    }
    for (size_t t = 0; t < n; t++) {
        X->off[t] = e;
        for (size_t k = E->off[t]; is[t] && k < E->off[t + 1]; k++, e++) {
            X->src[e] = E->src[k];
            X->dst[e] = E->dst[k];
            X->attr[e] = E->attr[k];
            A->topmap[e] = (int32_t)k;
            A->wtop[e] = A->sw[k];
        }
    }
    X->off[n] = e;
    gatrec__edges_index(X, n, e);
    free(is);
    return GATREC_OK;
}

/* The step's subgraph as a pass of the network (attn.h) */
static attn_pass sub_pass(attn *A)
{
    return (attn_pass){A->sg.n, A->sg.nu, &A->sg.es.E, A->sg.glob, A->sg.gid, A->sfeat, NULL, A->sH, A->sXS, A->sXD,
                       A->salpha, A->sw, A->sdw, A->sdA, A->sdB, A->sdXS, A->sdXD, A->swork, A->scale};
}

/* The training forward on the step's subgraph: emb rows of the seeds only. */
int gatrec__attn_forward_batch(void *ctx, uint64_t step, const int32_t *seeds, size_t nseeds)
{
    attn *A = ctx;
    size_t N = A->nu + A->ni, d = A->d, f = A->f, ha = A->ha, n0, m;
    int rc;
    if ((rc = gatrec__subgraph_sample(&A->sg, &A->es.E, A->nu, N, A->L, A->fanout, 0, A->seed, step, seeds, nseeds)))
        return rc;
    n0 = A->sg.n, m = A->sg.es.E.m;
    if (!sub_room(A, S_H, (A->L + 1) * n0 * d) || !sub_room(A, S_XS, n0 * ha) || !sub_room(A, S_XD, n0 * ha) ||
        !sub_room(A, S_ALPHA, m) || !sub_room(A, S_W, m) || (A->use_text && !sub_room(A, S_FEAT, n0 * f)))
        return GATREC_ENOMEM;
    for (size_t j = 0; j < n0; j++) /* ID dropout: the whole-graph forward's draw for these nodes */
        A->drop[A->sg.glob[j]] = id_dropped(A, step, (size_t)A->sg.glob[j]);
    for (size_t j = 0; A->use_text && j < n0; j++)
        memcpy(A->sfeat + j * f, A->feat + (size_t)A->sg.glob[j] * f, f * sizeof(float));
    attn_pass P = sub_pass(A);
    if ((rc = gatrec__attn_pass_forward(A, &P, seeds, nseeds)))
        return rc;
    A->step = step;
    A->training = 1;
    A->sampled = 1;
    A->align_value = 0;
    return GATREC_OK;
}

/* Backward of gatrec__attn_forward_batch: demb is zero but for the seeds' rows. */
int gatrec__attn_backward_sampled(attn *A, const float *demb)
{
    size_t n0 = A->sg.n, d = A->d, ha = A->ha, m = A->sg.es.E.m;
    if (!sub_room(A, S_DA, n0 * d) || !sub_room(A, S_DB, n0 * d) || !sub_room(A, S_DW, m) || !sub_room(A, S_WORK, m) ||
        !sub_room(A, S_DXS, n0 * ha) || !sub_room(A, S_DXD, n0 * ha))
        return GATREC_ENOMEM;
    attn_pass P = sub_pass(A);
    return gatrec__attn_pass_backward(A, &P, demb, NULL);
}

/* The ID-table rows the last sampled step reached: its subgraph's nodes */
const int32_t *gatrec__attn_rows_touched(void *ctx, size_t *n)
{
    attn *A = ctx;
    *n = A->sg.n;
    return A->sg.glob;
}
