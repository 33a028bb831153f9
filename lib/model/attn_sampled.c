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
enum { ROWS_GATHER, ROWS_GATHER_ADD, ROWS_SCATTER_ADD };

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

static void rows(const attn *A, int mode, float s, const unsigned char *skip, const float *from, float *to)
{
    rows_job J = {A->sg.glob, A->d, s, skip, from, to, mode};
    gatrec__parallel(A->threads, A->sg.n, rows_one, &J);
}

/* The subgraph's edges into the seeds (their weights copied): the last layer's edges */
static int top_edges(attn *A, const int32_t *seeds, size_t nseeds)
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

/* The training forward on the step's subgraph: emb rows of the seeds only. */
int gatrec__attn_forward_batch(void *ctx, uint64_t step, const int32_t *seeds, size_t nseeds)
{
    attn *A = ctx;
    size_t N = A->nu + A->ni, d = A->d, f = A->f, ha = A->ha, n0, nu0, m, nd;
    float s = 1.0f / (float)(A->L + 1);
    int rc;
    if ((rc = gatrec__subgraph_sample(&A->sg, &A->es.E, A->nu, N, A->L, A->fanout, 0, A->seed, step, seeds, nseeds)))
        return rc;
    n0 = A->sg.n, nu0 = A->sg.nu, m = A->sg.es.E.m, nd = n0 * d;
    if (!sub_room(A, S_H, (A->L + 1) * nd) || !sub_room(A, S_XS, n0 * ha) || !sub_room(A, S_XD, n0 * ha) ||
        !sub_room(A, S_ALPHA, m) || !sub_room(A, S_W, m) || (A->use_text && !sub_room(A, S_FEAT, n0 * f)))
        return GATREC_ENOMEM;
    for (size_t j = 0; j < n0; j++) /* ID dropout: the whole-graph forward's draw for these nodes */
        A->drop[A->sg.glob[j]] = id_dropped(A, step, (size_t)A->sg.glob[j]);
    /* layer 0: ID + W_type text, on the gathered rows */
    if (A->use_text) {
        for (size_t j = 0; j < n0; j++)
            memcpy(A->sfeat + j * f, A->feat + (size_t)A->sg.glob[j] * f, f * sizeof(float));
        if ((rc = A->K->linear(A->threads, nu0, f, d, A->sfeat, PRM(A, A->o_wu), NULL, A->sH)) ||
            (rc = A->K->linear(A->threads, n0 - nu0, f, d, A->sfeat + nu0 * f, PRM(A, A->o_wi), NULL,
                               A->sH + nu0 * d)))
            return rc;
    } else {
        memset(A->sH, 0, nd * sizeof(float));
    }
    if (A->use_id)
        rows(A, ROWS_GATHER_ADD, 1.0f, A->drop, PRM(A, A->o_id), A->sH);
    /* attention over each target's sampled edges; the degree scale of the whole graph */
    const gatrec__edges *E = &A->sg.es.E;
    if (!has_attention(A)) {
        for (size_t t = 0; t < n0; t++)
            for (size_t e = E->off[t]; e < E->off[t + 1]; e++)
                A->salpha[e] = 1.0f / (float)(E->off[t + 1] - E->off[t]);
    } else if ((rc = A->K->linear(A->threads, n0, d, ha, A->sH, PRM(A, A->o_ps), NULL, A->sXS)) ||
               (rc = A->K->linear(A->threads, n0, d, ha, A->sH, PRM(A, A->o_pd), NULL, A->sXD)) ||
               (rc = A->K->attn_weights(A->threads, E, ha, A->slope, A->sXS, A->sXD, edge_weights_param(A),
                                        PRM(A, A->o_att), A->salpha))) {
        return rc;
    }
    for (size_t e = 0; e < m; e++)
        A->sw[e] = A->salpha[e] * A->scale[A->sg.gid[e]];
    if (A->L > 0 && (rc = top_edges(A, seeds, nseeds)))
        return rc;
    for (size_t l = 0; l < A->L; l++) /* the last layer only into the seeds: nothing else reads it */
        if ((rc = A->K->propagate(A->threads, l + 1 == A->L ? &A->top.E : E, d, l + 1 == A->L ? A->wtop : A->sw,
                                  A->sH + l * nd, A->sH + (l + 1) * nd)))
            return rc;
    for (size_t q = 0; q < nseeds; q++) {
        size_t j = (size_t)A->sg.loc[seeds[q]];
        float *out = A->emb + (size_t)seeds[q] * d;
        for (size_t k = 0; k < d; k++) {
            float acc = 0;
            for (size_t l = 0; l <= A->L; l++)
                acc += A->sH[l * nd + j * d + k];
            out[k] = acc * s;
        }
    }
    A->step = step;
    A->training = 1;
    A->sampled = 1;
    A->align_value = 0;
    return GATREC_OK;
}

/* Backward of gatrec__attn_forward_batch: demb is zero but for the seeds' rows. */
int gatrec__attn_backward_sampled(attn *A, const float *demb)
{
    const gatrec__edges *E = &A->sg.es.E;
    size_t n0 = A->sg.n, nu0 = A->sg.nu, d = A->d, f = A->f, ha = A->ha, m = E->m, nd = n0 * d;
    float s = 1.0f / (float)(A->L + 1), *cur, *nxt;
    int rc, att = has_attention(A);
    if (!sub_room(A, S_DA, nd) || !sub_room(A, S_DB, nd) || !sub_room(A, S_DW, m) || !sub_room(A, S_WORK, m) ||
        !sub_room(A, S_DXS, n0 * ha) || !sub_room(A, S_DXD, n0 * ha))
        return GATREC_ENOMEM;
    memset(A->sdw, 0, m * sizeof *A->sdw);
    cur = A->sdA, nxt = A->sdB;
    rows(A, ROWS_GATHER, s, NULL, demb, cur);
    for (size_t l = A->L; l-- > 0;) {
        int last = l + 1 == A->L;
        rows(A, ROWS_GATHER, s, NULL, demb, nxt);
        if (last && att)
            memset(A->dwtop, 0, A->top.E.m * sizeof *A->dwtop);
        if ((rc = A->K->propagate_backward(A->threads, last ? &A->top.E : E, d, last ? A->wtop : A->sw,
                                           A->sH + l * nd, cur, nxt, att ? (last ? A->dwtop : A->sdw) : NULL)))
            return rc;
        for (size_t e = 0; last && att && e < A->top.E.m; e++) /* the last layer's edges are subgraph edges */
            A->sdw[A->topmap[e]] += A->dwtop[e];
        float *t = cur;
        cur = nxt;
        nxt = t;
    }
    float *dH0 = cur;
    if (att && A->L > 0) {
        for (size_t e = 0; e < m; e++)
            A->sdw[e] *= A->scale[A->sg.gid[e]];
        float *dwe = A->flags & GATREC_ATTN_NO_EDGE_ATTR ? NULL : A->grad + A->o_we;
        if ((rc = A->K->attn_weights_backward(A->threads, E, ha, A->slope, A->sXS, A->sXD, edge_weights_param(A),
                                              PRM(A, A->o_att), A->salpha, A->sdw, A->sdXS, A->sdXD, dwe,
                                              A->grad + A->o_att, A->swork)) ||
            (rc = A->K->linear_backward(A->threads, n0, d, ha, A->sH, PRM(A, A->o_ps), A->sdXS, dH0,
                                        A->grad + A->o_ps, NULL)) ||
            (rc = A->K->linear_backward(A->threads, n0, d, ha, A->sH, PRM(A, A->o_pd), A->sdXD, dH0,
                                        A->grad + A->o_pd, NULL)))
            return rc;
    }
    if (A->use_id) /* glob holds distinct rows: the scatter has no collisions */
        rows(A, ROWS_SCATTER_ADD, 1.0f, A->drop, dH0, A->grad + A->o_id);
    if (A->use_text &&
        ((rc = A->K->linear_backward(A->threads, nu0, f, d, A->sfeat, PRM(A, A->o_wu), dH0, NULL, A->grad + A->o_wu,
                                     NULL)) ||
         (rc = A->K->linear_backward(A->threads, n0 - nu0, f, d, A->sfeat + nu0 * f, PRM(A, A->o_wi), dH0 + nu0 * d,
                                     NULL, A->grad + A->o_wi, NULL))))
        return rc;
    return GATREC_OK;
}

/* The ID-table rows the last sampled step reached: its subgraph's nodes */
const int32_t *gatrec__attn_rows_touched(void *ctx, size_t *n)
{
    attn *A = ctx;
    *n = A->sg.n;
    return A->sg.glob;
}
