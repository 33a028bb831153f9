/* The classical baselines on the shared trainer: BPR matrix factorisation and LightGCN.
 * Both learn one embedding per node (theta = (users + items) x dim); LightGCN's final embedding
 * is the mean of the layer-0 embedding and its 1..K propagations over the symmetric-normalised
 * bipartite adjacency (He et al., 2020), BPR-MF's is the embedding itself. They are transductive:
 * fold-in is not supported, and an item without training ratings ranks last. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

typedef struct mf {
    size_t nu, ni, dim;
    int layers;          /* 0 for BPR-MF */
    const gatrec_graph *g;
    int threads;
    float *theta, *grad, *emb, *cur, *nxt, *dinv; /* dinv: 1/sqrt(degree) per node */
    gatrec__tensor tensor;
} mf;

typedef struct prop_job {
    const mf *M;
    const float *in;
    float *out;
} prop_job;

/* out = A_hat in, one node per job (rows are independent: same bits for any thread count) */
static void prop_node(void *ctx, size_t v)
{
    prop_job *J = ctx;
    const mf *M = J->M;
    size_t d = M->dim, nu = M->nu;
    const gatrec__csr *c = v < nu ? &M->g->by_user : &M->g->by_item;
    size_t row = v < nu ? v : v - nu, base = v < nu ? nu : 0;
    float *o = J->out + v * d;
    memset(o, 0, d * sizeof *o);
    for (size_t e = c->off[row]; e < c->off[row + 1]; e++) {
        size_t w = base + (size_t)c->col[e];
        float a = M->dinv[v] * M->dinv[w];
        const float *x = J->in + w * d;
        for (size_t k = 0; k < d; k++)
            o[k] += a * x[k];
    }
}

static void propagate(const mf *M, const float *in, float *out)
{
    prop_job J = {M, in, out};
    gatrec__parallel(M->threads, M->nu + M->ni, prop_node, &J);
}

/* out = mean over k = 0..layers of A_hat^k in (A_hat is symmetric, so this is also the backward). */
static void smooth(mf *M, const float *in, float *out)
{
    size_t n = (M->nu + M->ni) * M->dim;
    float s = 1.0f / (float)(M->layers + 1);
    memcpy(M->cur, in, n * sizeof *in);
    for (size_t k = 0; k < n; k++)
        out[k] = s * in[k];
    for (int l = 0; l < M->layers; l++) {
        propagate(M, M->cur, M->nxt);
        for (size_t k = 0; k < n; k++)
            out[k] += s * M->nxt[k];
        float *t = M->cur;
        M->cur = M->nxt;
        M->nxt = t;
    }
}

static int mf_forward(void *ctx, int train, uint64_t step)
{
    mf *M = ctx;
    (void)train;
    (void)step;
    if (M->layers)
        smooth(M, M->theta, M->emb);
    else
        memcpy(M->emb, M->theta, (M->nu + M->ni) * M->dim * sizeof *M->emb);
    return GATREC_OK;
}

static int mf_backward(void *ctx, const float *demb)
{
    mf *M = ctx;
    size_t n = (M->nu + M->ni) * M->dim;
    if (M->layers) {
        smooth(M, demb, M->grad); /* grad is zero on entry: overwriting is adding */
    } else {
        for (size_t k = 0; k < n; k++)
            M->grad[k] += demb[k];
    }
    return GATREC_OK;
}

static int mf_train(gatrec_model *m, const gatrec_graph *g, int layers)
{
    mf M = {0};
    gatrec__trainer t = {0};
    size_t N = g->users.count + g->items.count;
    int rc = GATREC_OK;
    M.nu = g->users.count;
    M.ni = g->items.count;
    M.dim = m->opts.dim ? m->opts.dim : layers ? 64 : 256; /* from the searches in docs/model.md */
    M.layers = layers;
    M.g = g;
    M.threads = m->opts.threads;
    M.theta = gatrec__malloc_array(N * M.dim, sizeof(float));
    M.grad = gatrec__malloc_array(N * M.dim, sizeof(float));
    M.emb = gatrec__malloc_array(N * M.dim, sizeof(float));
    if (layers) {
        M.cur = gatrec__malloc_array(N * M.dim, sizeof(float));
        M.nxt = gatrec__malloc_array(N * M.dim, sizeof(float));
        M.dinv = gatrec__malloc_array(N, sizeof(float));
    }
    if (!M.theta || !M.grad || !M.emb || (layers && (!M.cur || !M.nxt || !M.dinv))) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    for (size_t v = 0; layers && v < N; v++) {
        const gatrec__csr *c = v < M.nu ? &g->by_user : &g->by_item;
        size_t row = v < M.nu ? v : v - M.nu, deg = c->off[row + 1] - c->off[row];
        M.dinv[v] = deg ? 1.0f / sqrtf((float)deg) : 0.0f;
    }
    gatrec__init_normal(M.theta, N * M.dim, 0.1f, m->opts.seed, gatrec__stream(GATREC__RNG_INIT, 0));
    M.tensor = (gatrec__tensor){"embeddings", 0, N * M.dim};
    t.ctx = &M;
    t.nparams = N * M.dim;
    t.theta = M.theta;
    t.grad = M.grad;
    t.tensors = &M.tensor;
    t.ntensors = 1;
    t.dim = M.dim;
    t.emb = M.emb;
    t.forward = mf_forward;
    t.backward = mf_backward;
    t.default_epochs = layers ? 400 : 300;
    t.default_lr = layers ? 5e-3f : 2e-3f;
    t.default_wd = layers ? 0.1f : 1.0f; /* from the searches on u1+valid:0.1 in docs/model.md */
    t.default_cos = 0;
    t.default_batch = 4096; /* mini-batches: full batch gives LightGCN one step an epoch, far too few */
    t.row_sparse = !layers;
    rc = gatrec__train(m, g, &t);
done:
    free(M.theta);
    free(M.grad);
    free(M.emb);
    free(M.cur);
    free(M.nxt);
    free(M.dinv);
    return rc;
}

static int bpr_train(gatrec_model *m, const gatrec_graph *g)
{
    return mf_train(m, g, 0);
}

static int lightgcn_train(gatrec_model *m, const gatrec_graph *g)
{
    int layers = m->opts.propagation ? m->opts.propagation : 3;
    if (layers < 0)
        return gatrec__error(GATREC_EINVAL, "LightGCN propagation layers must be >= 0, not %d", layers);
    return mf_train(m, g, layers);
}

static void mf_free(gatrec_model *m)
{
    (void)m;
}

/* Both are transductive: an item without training ratings has no learned embedding. */
const gatrec__model_ops gatrec__bpr_ops = {.kind = GATREC_MODEL_BPR, .name = "bpr", .train = bpr_train,
                                           .score_all = gatrec__emb_score_all, .save = gatrec__emb_save,
                                           .load = gatrec__emb_load, .free = mf_free, .transductive_items = 1,
                                           .emb_scores = 1};
const gatrec__model_ops gatrec__lightgcn_ops = {.kind = GATREC_MODEL_LIGHTGCN, .name = "lightgcn",
                                                .train = lightgcn_train, .score_all = gatrec__emb_score_all,
                                                .save = gatrec__emb_save, .load = gatrec__emb_load, .free = mf_free,
                                                .transductive_items = 1, .emb_scores = 1};
