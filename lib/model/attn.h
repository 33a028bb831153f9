/* Inside attn (attn.c: the network and its training; attn_sampled.c: a training step on a
 * sampled subgraph; attn_serve.c: serving states, fold-in and the model file): its state. */
#ifndef GATREC_ATTN_H
#define GATREC_ATTN_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/dense.h"
#include "edges.h"
#include "train.h"

#define ATTN_FORMAT 1
#define MAX_PROP 8
#define ALIGN_MAX 1024 /* items in one step's alignment */

struct gatrec__attn_probe {
    const gatrec__kernels *K;
    int threads, flags, use_id, use_text, unit;
    size_t nu, ni, d, f, ha, L;
    float slope, id_dropout, align, tau;
    int ranks; /* data-parallel training: the alignment's gradient is split between them */
    uint64_t seed, step;
    int training;
    /* theta: [ID table][W_user][W_item][P_src][P_dst][w_edge][att] (absent parts have length 0) */
    size_t o_id, o_wu, o_wi, o_ps, o_pd, o_we, o_att, nparams;
    float *theta, *grad;
    gatrec__tensor tensors[7];
    size_t ntensors;
    const float *feat; /* (nu + ni) x f, the caller's (training only) */
    /* the training graph and its activations */
    gatrec__edge_store es;
    float *scale;      /* per edge: sqrt(deg t / deg s) */
    float *H;          /* (L + 1) x N x d */
    float *emb;        /* N x d */
    float *XS, *XD;    /* N x ha: P_src H0, P_dst H0 */
    float *alpha, *w;  /* per edge */
    float *dA, *dB, *dw, *dXS, *dXD, *work;
    unsigned char *drop; /* N: the node's ID is dropped in this step */
    /* the alignment: T the mapped text (N x d); S items sampled a step, their unit outputs X and
     * unit texts Z (and norms), the softmax of their similarities G (S x S), dT its text gradient */
    float *T, *dT, *demb2, *X, *Z, *nX, *nZ, *G;
    int32_t *known, *pool, *sample;
    size_t nknown, ns;
    double align_value;
    /* serving: H_0 .. H_{L-1} of every item, H_0 of every user (folded nodes appended) */
    float *istate, *ustate;
    float *ixs; /* icap x ha: P_src of every item's layer 0, the serving attention's source side */
    size_t icap, ucap;
    float *umean, *imean; /* mean text of users / items: a new node's default */
    /* neighbour sampling (fanout > 0): the step's subgraph in local ids (users first, ascending
     * global ids), its edges' global ids, and its activations */
    size_t fanout;
    int sampled;               /* the last training forward was on the subgraph */
    gatrec__subgraph sg;
    gatrec__edge_store top;    /* the subgraph's edges into the seeds: the last layer needs no others */
    int32_t *topmap;           /* per top edge: its index among the subgraph's edges */
    float *wtop, *dwtop;
    float *sfeat, *sH, *sXS, *sXD, *salpha, *sw, *sdw, *swork, *sdA, *sdB, *sdXS, *sdXD;
    size_t scap[12]; /* their capacities (kept from step to step: no fresh pages each step) */
    /* stars: an edge whose rating is at or below `disliked` propagates with gain -dislike */
    float disliked, dislike;
    /* new-user practice: a share cold_share of the users each step lose their ID and keep cold_k
     * of their rated items (their text the mean user text) */
    float cold_share;
    size_t cold_k;
    gatrec__edge_store cs; /* the step's edges (allocated once: a step never has more than E's) */
    float *cscale, *cfeat; /* their scales; the text rows, the practising users' the mean's */
};
typedef struct gatrec__attn_probe attn;

static inline float *PRM(const attn *A, size_t off)
{
    return A->theta + off;
}

static inline int has_attention(const attn *A)
{
    return !(A->flags & GATREC_ATTN_UNIFORM);
}

/* ID dropout: node v's draw at `step` (the same for the whole graph's forward and a subgraph's) */
static inline unsigned char id_dropped(const attn *A, uint64_t step, size_t v)
{
    return A->id_dropout > 0 &&
           gatrec__rng_unit(A->seed, gatrec__stream(GATREC__RNG_ID_DROPOUT, step), v) < (double)A->id_dropout;
}

static inline float leaky(float x, float slope)
{
    return x > 0 ? x : slope * x;
}

/* An edge's propagation gain from its rating: -dislike at or below the disliked threshold, else 1 */
static inline float gatrec__attn_gain(const attn *A, float rating)
{
    return A->dislike != 0 && rating <= A->disliked ? -A->dislike : 1.0f;
}

static inline const float *edge_weights_param(const attn *A)
{
    return A->flags & GATREC_ATTN_NO_EDGE_ATTR ? NULL : PRM(A, A->o_we);
}

/* ---- shared between attn's files ---- */
/* One pass of the network over a graph: the whole training graph, or a step's sampled subgraph
 * (local node j is global node glob[j], users first; edge e is global edge gid[e]; both NULL on the
 * whole graph). The forward and backward of attn.c are the only ones: a sampled step (neighbour
 * sampling) runs them on its subgraph, whose last layer reaches the seeds alone. */
typedef struct attn_pass {
    size_t n, nu;
    const gatrec__edges *E;
    const int32_t *glob, *gid;
    const float *feat; /* n x f text rows */
    float *T;          /* the mapped text kept apart (the alignment's, whole graph), or NULL */
    float *H, *XS, *XD, *alpha, *w, *dw, *dA, *dB, *dXS, *dXD, *work;
    const float *scale; /* per edge (global ids on a subgraph) */
} attn_pass;
/* Layers 0 .. L and the output rows (every node's, or the seeds' alone: global ids) into A->emb. */
int gatrec__attn_pass_forward(attn *A, const attn_pass *P, const int32_t *seeds, size_t nseeds);
/* Its backward from demb (global rows), with dT the alignment's gradient of the mapped text (or NULL). */
int gatrec__attn_pass_backward(attn *A, const attn_pass *P, const float *demb, const float *dT);
/* Row copies between the step's subgraph (local row j) and the whole graph (global row glob[j]) */
enum { ROWS_GATHER, ROWS_GATHER_ADD, ROWS_SCATTER_ADD };
void gatrec__attn_rows(const attn *A, int mode, float s, const unsigned char *skip, const float *from, float *to);
/* The subgraph's edges into the seeds, their weights copied: the last layer's */
int gatrec__attn_top_edges(attn *A, const int32_t *seeds, size_t nseeds);
/* theta's layout (the offsets of its parts) from the configuration */
void gatrec__attn_layout(attn *A);
void gatrec__attn_free_sub_buffers(attn *A);
int gatrec__attn_forward_batch(void *ctx, uint64_t step, const int32_t *seeds, size_t nseeds);
int gatrec__attn_backward_sampled(attn *A, const float *demb);
const int32_t *gatrec__attn_rows_touched(void *ctx, size_t *n);
int gatrec__attn_keep_states(attn *A);
int gatrec__attn_save(const gatrec_model *m, gatrec__buf *b);
int gatrec__attn_load(gatrec_model *m, gatrec__reader *r);
int gatrec__attn_fold_user(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                           const float *features, float *emb);
int gatrec__attn_refold_user(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                             float *emb);
int gatrec__attn_fold_item(gatrec_model *m, const float *features, float *emb);
size_t gatrec__attn_user_state_width(const gatrec_model *m);
void gatrec__attn_user_state(gatrec_model *m, int32_t user, float *row, int put);
int gatrec__attn_attention(const gatrec_model *m, int32_t user, float *weights);
size_t gatrec__attn_feature_dim(const gatrec_model *m);
int gatrec__attn_transductive(const gatrec_model *m);

#endif
