/* The training loop shared by the learned kinds (BPR-MF, LightGCN, the GAT, attn).
 *
 * A kind keeps all its trainable parameters in one array (theta) and provides a forward pass
 * (theta -> final user and item embeddings) and a backward pass (embedding gradient -> theta
 * gradient); optionally a sampled forward over a batch's nodes (neighbour sampling). The loop
 * owns the rest: positive pairs, the losses (BPR + lambda (1 - cos) with its negative samplers in
 * loss_bpr.c; softmax cross-entropy and DirectAU's uniformity in loss_softmax.c), AdamW dense and
 * lazy (optim.c), data-parallel shares and their allreduce, ReduceLROnPlateau, early stopping on
 * validation NDCG@K or on the training loss, the epoch callback, and NaN/Inf detection (train.c).
 * Its own state is in loop.h. */
#ifndef GATREC_TRAIN_H
#define GATREC_TRAIN_H

#include "model.h"

typedef struct gatrec__tensor {
    const char *name;
    size_t off, len; /* a view of theta */
} gatrec__tensor;

typedef struct gatrec__trainer {
    void *ctx;
    size_t nparams;
    float *theta, *grad;          /* nparams each, owned by the kind */
    const gatrec__tensor *tensors;
    size_t ntensors;
    size_t feature_len;           /* theta[0 .. feature_len) is an input-feature table (its own decay) */
    size_t dim;                   /* final embedding width */
    float *emb;                   /* (users + items) x dim, written by forward */
    /* train: dropout on; step: a counter for random streams. */
    int (*forward)(void *ctx, int train, uint64_t step);
    /* Add to grad the gradient of theta given demb ((users + items) x dim). */
    int (*backward)(void *ctx, const float *demb);
    /* the kind's defaults, used where the options say 0 / negative */
    int default_epochs;
    float default_lr, default_cos, default_wd;
    size_t default_batch;
    int default_negatives;
    int default_patience;         /* with a validation graph; 0: 50 */
    /* theta is the (users + items) x dim table itself: forward copies it into emb, backward adds
     * demb to grad. Such a kind may be trained by the lazy optimiser (only the rows a step
     * touches are updated and copied). */
    int row_sparse;
    /* Neighbour sampling (options.fanout): compute the emb rows of nodes[0..n) (users 0..nu, items
     * nu + i) only, on a sampled subgraph; backward then follows that computation. NULL: the kind
     * has no sampled path. */
    int (*forward_batch)(void *ctx, uint64_t step, const int32_t *nodes, size_t n);
    /* After a sampled backward: the rows of the table theta[0 .. feature_len) (one per node, dim
     * wide) that may hold a gradient; the lazy optimiser updates those alone. */
    const int32_t *(*rows_touched)(void *ctx, size_t *n);
} gatrec__trainer;

int gatrec__train(gatrec_model *m, const gatrec_graph *g, gatrec__trainer *t);

/* The loss (BPR or softmax, as o says) of every liked pair of g in one batch at the embeddings
 * emb, and its gradient into demb: for the finite-difference tests. */
int gatrec__loss_probe(const gatrec_graph *g, const gatrec_model_options *o, float *emb, size_t dim, double *value,
                       float *demb);

/* Rows of x (n x d) to unit length (norms: their lengths before, may be NULL); and the gradient
 * of a unit row n = x / |x| brought back to x: out += (dn - n (n . dn)) / |x|. */
void gatrec__normalise_rows(float *x, size_t n, size_t d, float *norms);
void gatrec__unnormalise_grad(const float *n, const float *dn, float norm, size_t d, float *out);

/* Copy the trained embeddings into m->uemb / m->iemb. */
int gatrec__set_embeddings(gatrec_model *m, const float *emb, size_t dim);

/* The GAT network alone (gat.c), for the gradient and PyTorch-oracle tests: parameters
 * initialised from o->seed, forward (train: dropout on) and backward (grad = d(sum demb*emb)). */
typedef struct gatrec__gat_probe gatrec__gat_probe;
int gatrec__gat_probe_new(const gatrec_graph *g, const gatrec_model_options *o, gatrec__gat_probe **out);
float *gatrec__gat_probe_params(gatrec__gat_probe *p, float **grad, size_t *n, const gatrec__tensor **tensors,
                                size_t *ntensors);
int gatrec__gat_probe_forward(gatrec__gat_probe *p, int train, uint64_t step, const float **emb, size_t *dim);
int gatrec__gat_probe_backward(gatrec__gat_probe *p, const float *demb);
void gatrec__gat_probe_free(gatrec__gat_probe *p);

/* The attn network alone (attn.c), likewise; alpha: the attention of every training edge. */
typedef struct gatrec__attn_probe gatrec__attn_probe;
int gatrec__attn_probe_new(const gatrec_graph *g, const gatrec_model_options *o, gatrec__attn_probe **out);
float *gatrec__attn_probe_params(gatrec__attn_probe *p, float **grad, size_t *n, const gatrec__tensor **tensors,
                                 size_t *ntensors);
int gatrec__attn_probe_forward(gatrec__attn_probe *p, int train, uint64_t step, const float **emb, size_t *dim);
const float *gatrec__attn_probe_alpha(gatrec__attn_probe *p, size_t *m);
/* The weighted alignment term of the last training forward (0 without align). */
double gatrec__attn_probe_align(gatrec__attn_probe *p);
int gatrec__attn_probe_backward(gatrec__attn_probe *p, const float *demb);
void gatrec__attn_probe_free(gatrec__attn_probe *p);

#endif
