/* Inside the GAT (gat.c: the network and its training; gat_sampled.c: a training step on a
 * sampled subgraph; gat_serve.c: serving states, fold-in and the model file): its state. */
#ifndef GATREC_GAT_H
#define GATREC_GAT_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edges.h"
#include "train.h"

#define MAX_LAYERS 16
#define GAT_FORMAT 1

typedef struct gat_layer {
    size_t in, hc, out;
    gatrec__gat_shape sh;
    size_t Wl, bl, Wr, br, we, att, bias, gamma, beta, Wres; /* offsets in theta; Wres SIZE_MAX: identity */
} gat_layer;

struct gatrec__gat_probe {
    const gatrec__kernels *K;
    int threads, flags;
    float act_slope, dropout;
    uint64_t seed;
    char *spec;
    size_t nlayers;
    gat_layer L[MAX_LAYERS];
    size_t fdim;
    int frozen, random;
    size_t nparams, x0_off; /* x0_off: SIZE_MAX when the features are frozen (then x0 holds them) */
    float *theta, *grad, *x0;
    gatrec__tensor *tensors;
    size_t ntensors;
    unsigned char fingerprint[32];
    /* the training graph */
    size_t nu, ni; /* nodes trained on (fold-in adds more to the model, not to the graph) */
    gatrec__edge_store es;
    /* activations of the last forward (H[l]: input of layer l; H[nlayers]: output) */
    float *H[MAX_LAYERS + 1], *XL[MAX_LAYERS], *XR[MAX_LAYERS], *A[MAX_LAYERS];
    float *mean[MAX_LAYERS], *rstd[MAX_LAYERS], *alpha[MAX_LAYERS];
    float *work, *d1, *dXL, *dXR, *dA; /* dA doubles as the forward's LayerNorm output */
    int lean; /* one XL, XR and alpha for all layers (alloc_activations) */
    uint64_t step;
    int train;
    /* serving: per layer the input state of every user and item, and the items' source transform */
    float *ustate[MAX_LAYERS], *istate[MAX_LAYERS], *ixl[MAX_LAYERS];
    size_t ucap, icap;
    float *umean, *imean; /* mean input feature of users / items: the default for fold-in */
    /* neighbour sampling (fanout > 0): a training step runs on its subgraph, whose view (the
     * fields above from nu to dA) is swapped in for the step's forward and backward; `other`
     * holds the view not installed */
    size_t fanout;
    int sampled;
    gatrec__subgraph sg;
    struct gat_view *other;
    float *sdemb, *dlast; /* the subgraph's demb; the input gradient the last backward left */
};
typedef struct gatrec__gat_probe gat;

/* What forward and backward read of the graph and write of their activations */
typedef struct gat_view {
    size_t nu, ni;
    gatrec__edge_store es;
    float *x0;
    size_t x0_off;
    float *H[MAX_LAYERS + 1], *XL[MAX_LAYERS], *XR[MAX_LAYERS], *A[MAX_LAYERS];
    float *mean[MAX_LAYERS], *rstd[MAX_LAYERS], *alpha[MAX_LAYERS];
    float *work, *d1, *dXL, *dXR, *dA;
    int lean;
} gat_view;

static inline float *P(gat *G, size_t off)
{
    return G->theta + off;
}

static inline float leaky(float x, float s)
{
    return x > 0 ? x : s * x;
}

/* ---- shared between the GAT's files ---- */
void gatrec__gat_free_backward(gat *G);
size_t gatrec__gat_max_width(const gat *G);
int gatrec__gat_configure(gat *G, const gatrec_model_options *o, const char *spec, const char *kernels);
int gatrec__gat_prepare(gat *G, const gatrec__csr *by_user, const gatrec__csr *by_item);
void gatrec__gat_free_activations(gat *G);
int gatrec__gat_alloc_activations(gat *G);
int gatrec__gat_forward(void *ctx, int train, uint64_t step);
int gatrec__gat_backward(void *ctx, const float *demb);
void gatrec__gat_swap_view(gat *G);
int gatrec__gat_forward_batch(void *ctx, uint64_t step, const int32_t *seeds, size_t nseeds);
const int32_t *gatrec__gat_rows_touched(void *ctx, size_t *n);
int gatrec__gat_backward_sampled(gat *G, const float *demb);
int gatrec__gat_keep_states(gat *G);
int gatrec__gat_save(const gatrec_model *m, gatrec__buf *b);
int gatrec__gat_load(gatrec_model *m, gatrec__reader *r);
int gatrec__gat_refold_user(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                           float *emb);
int gatrec__gat_fold_user(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                         const float *features, float *emb);
int gatrec__gat_fold_item(gatrec_model *m, const float *features, float *emb);
size_t gatrec__gat_user_state_width(const gatrec_model *m);
void gatrec__gat_user_state(gatrec_model *m, int32_t user, float *row, int put);
int gatrec__gat_attention(const gatrec_model *m, int32_t user, float *weights);
size_t gatrec__gat_feature_dim(const gatrec_model *m);

#endif
