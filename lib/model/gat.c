/* The GATv2 recommender (docs/model.md).
 *
 * Nodes are users (0..nu) then items (nu..nu+ni); every training rating gives an edge each way
 * with the rating as its attribute, and every node has a self loop whose attribute is the mean
 * of its incoming ones. Layer l:
 *     XL = H Wl^T + bl, XR = H Wr^T + br            (sources / targets)
 *     A  = GATv2(XL, XR, rating; att, we) + bias    (kernels: gatrec__gat_forward)
 *     Z  = LayerNorm(A); H' = LeakyReLU(Z) + (H or H Wres^T); dropout between layers.
 * Score(u, i) = <H_L[u], H_L[i]>. Every dense or per-edge operation goes through the kernel
 * table; this file holds the wiring and the parameters; gat_sampled.c a step on a sampled subgraph,
 * gat_serve.c the serving state, fold-in and the model file. */
#include "gat.h"

/* ---- configuration ---- */

static int parse_layers(gat *G, const char *spec)
{
    const char *p = spec;
    G->nlayers = 0;
    while (*p) {
        char *end;
        unsigned long units = strtoul(p, &end, 10), heads;
        if (end == p || *end != 'x')
            goto bad;
        p = end + 1;
        heads = strtoul(p, &end, 10);
        if (end == p || units == 0 || heads == 0 || units > 65536 || heads > 256 || G->nlayers == MAX_LAYERS)
            goto bad;
        p = end;
        gat_layer *l = &G->L[G->nlayers++];
        l->sh.heads = heads;
        l->sh.ch = units;
        l->sh.concat = 1;
        if (*p == 'm') {
            l->sh.concat = 0;
            p++;
        }
        if (*p == ',')
            p++;
        else if (*p)
            goto bad;
    }
    if (G->nlayers)
        return GATREC_OK;
bad:
    return gatrec__error(GATREC_EINVAL,
                         "GAT layers '%s': expected UNITSxHEADS[m],... (e.g. \"64x4,64x4,64x1\"; m averages the "
                         "heads; at most %d layers)",
                         spec, MAX_LAYERS);
}

static int add_tensor(gat *G, size_t *off, const char *what, size_t l, size_t len)
{
    char name[64];
    gatrec__tensor *t = gatrec__realloc_array(G->tensors, G->ntensors + 1, sizeof *t);
    if (!t)
        return GATREC_ENOMEM;
    G->tensors = t;
    if (l == SIZE_MAX)
        snprintf(name, sizeof name, "%s", what);
    else
        snprintf(name, sizeof name, "layer %zu %s", l + 1, what);
    t[G->ntensors].name = gatrec__strdup(name);
    if (!t[G->ntensors].name)
        return GATREC_ENOMEM;
    t[G->ntensors].off = G->nparams;
    t[G->ntensors].len = len;
    G->ntensors++;
    *off = G->nparams;
    G->nparams += len;
    return GATREC_OK;
}

/* Lay out theta for the configuration; widths follow from fdim and the layer specs. */
static int layout(gat *G)
{
    size_t in = G->fdim, N = G->nu + G->ni;
    int rc = GATREC_OK;
    G->nparams = 0;
    G->x0_off = SIZE_MAX;
    if (!G->frozen)
        rc = add_tensor(G, &G->x0_off, "input features", SIZE_MAX, N * G->fdim);
    for (size_t l = 0; l < G->nlayers && !rc; l++) {
        gat_layer *L = &G->L[l];
        L->in = in;
        L->hc = L->sh.heads * L->sh.ch;
        L->out = gatrec__gat_out_width(&L->sh);
        L->Wres = SIZE_MAX;
        if ((rc = add_tensor(G, &L->Wl, "W_source", l, L->hc * in)) || (rc = add_tensor(G, &L->bl, "b_source", l, L->hc)) ||
            (rc = add_tensor(G, &L->Wr, "W_target", l, L->hc * in)) || (rc = add_tensor(G, &L->br, "b_target", l, L->hc)) ||
            (rc = add_tensor(G, &L->we, "W_edge", l, L->hc)) || (rc = add_tensor(G, &L->att, "attention", l, L->hc)) ||
            (rc = add_tensor(G, &L->bias, "bias", l, L->out)) || (rc = add_tensor(G, &L->gamma, "norm gain", l, L->out)) ||
            (rc = add_tensor(G, &L->beta, "norm bias", l, L->out)))
            break;
        if (!(G->flags & GATREC_GAT_NO_RESIDUAL) && in != L->out)
            rc = add_tensor(G, &L->Wres, "W_residual", l, L->out * in);
        in = L->out;
    }
    return rc;
}

static void init_params(gat *G, const float *features)
{
    size_t N = G->nu + G->ni;
    memset(G->theta, 0, G->nparams * sizeof *G->theta);
    if (G->x0_off != SIZE_MAX) {
        if (features)
            memcpy(P(G, G->x0_off), features, N * G->fdim * sizeof(float));
        else
            gatrec__init_normal(P(G, G->x0_off), N * G->fdim, 1.0f, G->seed, gatrec__stream(GATREC__RNG_INIT, 1));
    }
    for (size_t l = 0; l < G->nlayers; l++) {
        gat_layer *L = &G->L[l];
        uint64_t s = 10 + 10 * l;
        gatrec__init_glorot(P(G, L->Wl), L->hc, L->in, G->seed, gatrec__stream(GATREC__RNG_INIT, s));
        gatrec__init_glorot(P(G, L->Wr), L->hc, L->in, G->seed, gatrec__stream(GATREC__RNG_INIT, s + 1));
        gatrec__init_glorot(P(G, L->we), L->hc, 1, G->seed, gatrec__stream(GATREC__RNG_INIT, s + 2));
        gatrec__init_glorot(P(G, L->att), L->sh.heads, L->sh.ch, G->seed, gatrec__stream(GATREC__RNG_INIT, s + 3));
        for (size_t j = 0; j < L->out; j++)
            P(G, L->gamma)[j] = 1.0f;
        if (L->Wres != SIZE_MAX)
            gatrec__init_glorot(P(G, L->Wres), L->out, L->in, G->seed, gatrec__stream(GATREC__RNG_INIT, s + 4));
    }
}

/* ---- the graph ---- */

static int build_edges(gat *G, const gatrec__csr *by_user, const gatrec__csr *by_item)
{
    return gatrec__edges_build(&G->es, G->nu, G->ni, by_user, by_item, !(G->flags & GATREC_GAT_NO_SELF_LOOPS));
}

size_t gatrec__gat_max_width(const gat *G)
{
    size_t w = G->fdim;
    for (size_t l = 0; l < G->nlayers; l++) {
        if (G->L[l].hc > w)
            w = G->L[l].hc;
        if (G->L[l].out > w)
            w = G->L[l].out;
    }
    return w;
}

/* Whether a whole-graph pass keeps one XL, XR and alpha (the widest layer's) instead of one per
 * layer, the backward pass recomputing a lower layer's from its input: the same bits, for one
 * more linear pair and score pass per lower layer. Chosen when the per-layer copies would exceed
 * 1 GiB (about ML-20M's size: ML-1M's are 140 MB); $GATREC_GAT_LEAN = 1 forces it, 0 forbids it. */
static int choose_lean(const gat *G)
{
    size_t N = G->nu + G->ni, m = G->es.E.m, all = 0;
    const char *env = getenv("GATREC_GAT_LEAN");
    if (env && *env)
        return strcmp(env, "0") != 0;
    for (size_t l = 0; l < G->nlayers; l++)
        all += (2 * N * G->L[l].hc + m * G->L[l].sh.heads) * sizeof(float);
    return all > ((size_t)1 << 30);
}

/* The most heads, and the widest transform, of any layer. */
static void widest(const gat *G, size_t *hmax, size_t *hcmax)
{
    *hmax = *hcmax = 1;
    for (size_t l = 0; l < G->nlayers; l++) {
        *hmax = G->L[l].sh.heads > *hmax ? G->L[l].sh.heads : *hmax;
        *hcmax = G->L[l].hc > *hcmax ? G->L[l].hc : *hcmax;
    }
}

/* The buffers of a forward pass (the backward's own come with the first backward). */
int gatrec__gat_alloc_activations(gat *G)
{
    size_t N = G->nu + G->ni, w = gatrec__gat_max_width(G), hmax, hcmax;
    widest(G, &hmax, &hcmax);
    G->lean = choose_lean(G);
    for (size_t l = 0; l < G->nlayers; l++) {
        gat_layer *L = &G->L[l];
        int own = !G->lean || l == 0; /* lean: layer 0 owns the shared XL, XR and alpha */
        if (!(G->H[l + 1] = gatrec__malloc_array(N * L->out + 1, sizeof(float))) ||
            !(G->A[l] = gatrec__malloc_array(N * L->out + 1, sizeof(float))) ||
            !(G->mean[l] = gatrec__malloc_array(N + 1, sizeof(float))) ||
            !(G->rstd[l] = gatrec__malloc_array(N + 1, sizeof(float))))
            return GATREC_ENOMEM;
        if (!own) {
            G->XL[l] = G->XL[0];
            G->XR[l] = G->XR[0];
            G->alpha[l] = G->alpha[0];
        } else if (!(G->XL[l] = gatrec__malloc_array(N * (G->lean ? hcmax : L->hc) + 1, sizeof(float))) ||
                   !(G->XR[l] = gatrec__malloc_array(N * (G->lean ? hcmax : L->hc) + 1, sizeof(float))) ||
                   !(G->alpha[l] = gatrec__malloc_array(G->es.E.m * (G->lean ? hmax : L->sh.heads) + 1,
                                                        sizeof(float))))
            return GATREC_ENOMEM;
    }
    if (!(G->dA = gatrec__malloc_array(N * w + 1, sizeof(float))))
        return GATREC_ENOMEM;
    return GATREC_OK;
}

static int alloc_backward(gat *G)
{
    size_t N = G->nu + G->ni, w = gatrec__gat_max_width(G), hmax, hcmax;
    if (G->work)
        return GATREC_OK;
    widest(G, &hmax, &hcmax);
    if (!(G->d1 = gatrec__malloc_array(N * w + 1, sizeof(float))) ||
        !(G->dXL = gatrec__malloc_array(N * hcmax + 1, sizeof(float))) ||
        !(G->dXR = gatrec__malloc_array(N * hcmax + 1, sizeof(float))) ||
        !(G->work = gatrec__malloc_array(G->es.E.m * hmax + 1, sizeof(float))))
        return GATREC_ENOMEM;
    return GATREC_OK;
}

/* What only a backward pass needs: after the last one, before the serving state is kept. */
void gatrec__gat_free_backward(gat *G)
{
    free(G->work);
    free(G->d1);
    free(G->dXL);
    free(G->dXR);
    G->work = G->d1 = G->dXL = G->dXR = NULL;
}

void gatrec__gat_free_activations(gat *G)
{
    for (size_t l = MAX_LAYERS; l-- > 0;) { /* top down: a lean layer's buffers are layer 0's */
        int own = l == 0 || G->XL[l] != G->XL[0];
        free(G->H[l + 1]);
        free(G->A[l]);
        free(G->mean[l]);
        free(G->rstd[l]);
        if (own) {
            free(G->XL[l]);
            free(G->XR[l]);
            free(G->alpha[l]);
        }
        G->H[l + 1] = G->XL[l] = G->XR[l] = G->A[l] = G->mean[l] = G->rstd[l] = G->alpha[l] = NULL;
    }
    free(G->dA);
    G->dA = NULL;
    gatrec__gat_free_backward(G);
}

/* ---- forward and backward over the whole graph ---- */

/* Dropout keeps element k when 16 bits of the draw (seed, step and layer, k / 4) - bits
 * 16 (k % 4) upwards - reach dropout x 65536: four elements per draw. */
static int dropping(const gat *G, size_t l)
{
    return G->train && G->dropout > 0 && l + 1 < G->nlayers;
}

/* The elementwise steps of a layer, over fixed blocks of rows (each element depends only on
 * itself, so any split gives the same bits). */
typedef struct elem_job {
    const gat *G;
    size_t l, n, width;
    const float *z;
    float *io;   /* forward: the residual in, the layer's output out; backward: dh in place */
    float *dz;   /* backward: d(LayerNorm output) */
    int backward;
} elem_job;

#define ELEM_BLOCKS 64

static void elem_block(void *ctx, size_t b)
{
    elem_job *J = ctx;
    const gat *G = J->G;
    size_t total = J->n * J->width, k0 = total * b / ELEM_BLOCKS, k1 = total * (b + 1) / ELEM_BLOCKS;
    int drop = dropping(G, J->l);
    float scale = 1.0f / (1.0f - G->dropout);
    uint64_t bits = 0, stream = gatrec__stream(GATREC__RNG_GAT_DROPOUT, G->step * MAX_LAYERS + J->l);
    double threshold = G->dropout * 65536.0;
    for (size_t k = k0; k < k1; k++) {
        int kept = 1;
        if (drop) { /* the rule above, one draw per four elements */
            if (k == k0 || (k & 3) == 0)
                bits = gatrec__rng_u64(G->seed, stream, k >> 2);
            kept = (double)((bits >> (16 * (k & 3))) & 0xffff) >= threshold;
        }
        if (!J->backward) {
            float v = J->io[k] + leaky(J->z[k], G->act_slope);
            J->io[k] = drop ? (kept ? v * scale : 0.0f) : v;
        } else {
            float d = drop ? (kept ? J->io[k] * scale : 0.0f) : J->io[k];
            J->io[k] = d; /* the gradient reaching the residual path */
            J->dz[k] = J->z[k] > 0 ? d : G->act_slope * d;
        }
    }
}

/* Layer l's source and target transforms of its input H[l], and its attention; with out, the
 * attention's output too (the backward of a lean pass asks for the first three again). */
static int scores(gat *G, size_t l, float *out)
{
    const gatrec__kernels *K = G->K;
    gat_layer *L = &G->L[l];
    size_t N = G->nu + G->ni;
    int rc;
    if ((rc = K->linear(G->threads, N, L->in, L->hc, G->H[l], P(G, L->Wl), P(G, L->bl), G->XL[l])) ||
        (rc = K->linear(G->threads, N, L->in, L->hc, G->H[l], P(G, L->Wr), P(G, L->br), G->XR[l])))
        return rc;
    return K->gat_forward(G->threads, &G->es.E, &L->sh, G->XL[l], G->XR[l], P(G, L->we), P(G, L->att), P(G, L->bias),
                          G->alpha[l], out);
}

/* Layer l's LayerNorm output, into buf, as *z (its row statistics too); without LayerNorm, *z
 * is the layer's attention output itself. The backward pass asks for it again: the same bits. */
static int normalised(gat *G, size_t l, float *buf, float **z)
{
    gat_layer *L = &G->L[l];
    *z = G->A[l];
    if (G->flags & GATREC_GAT_NO_LAYERNORM)
        return GATREC_OK;
    *z = buf;
    return G->K->layernorm(G->threads, G->nu + G->ni, L->out, 1e-5f, G->A[l], P(G, L->gamma), P(G, L->beta), buf,
                           G->mean[l], G->rstd[l]);
}

int gatrec__gat_forward(void *ctx, int train, uint64_t step)
{
    gat *G = ctx;
    G->sampled = 0;
    const gatrec__kernels *K = G->K;
    size_t N = G->nu + G->ni;
    int rc = GATREC_OK;
    G->train = train;
    G->step = step;
    G->H[0] = G->x0_off == SIZE_MAX ? G->x0 : P(G, G->x0_off);
    for (size_t l = 0; l < G->nlayers && !rc; l++) {
        gat_layer *L = &G->L[l];
        float *h = G->H[l], *out = G->H[l + 1];
        float *z; /* the LayerNorm output, kept only until the activation below */
        if ((rc = scores(G, l, G->A[l])))
            break;
        if (G->lean && !train) { /* the serving state (gatrec__gat_keep_states) keeps the items' source transform */
            if ((rc = gatrec__resize_rows(&G->ixl[l], G->ni + 16, L->hc)))
                break;
            memcpy(G->ixl[l], G->XL[l] + G->nu * L->hc, G->ni * L->hc * sizeof(float));
        }
        if ((rc = normalised(G, l, G->dA, &z)))
            break;
        if (L->Wres != SIZE_MAX)
            rc = K->linear(G->threads, N, L->in, L->out, h, P(G, L->Wres), NULL, out);
        else if (!(G->flags & GATREC_GAT_NO_RESIDUAL))
            memcpy(out, h, N * L->out * sizeof(float));
        else
            memset(out, 0, N * L->out * sizeof(float));
        {
            elem_job J = {G, l, N, L->out, z, out, NULL, 0};
            gatrec__parallel(G->threads, ELEM_BLOCKS, elem_block, &J);
        }
    }
    return rc;
}


int gatrec__gat_backward(void *ctx, const float *demb)
{
    gat *G = ctx;
    if (G->sampled)
        return gatrec__gat_backward_sampled(G, demb);
    const gatrec__kernels *K = G->K;
    size_t N = G->nu + G->ni;
    int rc = alloc_backward(G);
    if (rc)
        return rc;
    /* two node-gradient buffers take turns: the layer's output gradient dh, and the other one
     * holding the LayerNorm output again, then dA, then (dA spent) the gradient of the layer's input */
    float *dh = G->d1, *other = G->dA;
    memcpy(dh, demb, N * G->L[G->nlayers - 1].out * sizeof(float));
    for (size_t l = G->nlayers; l-- > 0 && !rc;) {
        gat_layer *L = &G->L[l];
        float *h = G->H[l], *z;
        /* a lean pass kept the top layer's transforms and attention alone */
        if (G->lean && l + 1 < G->nlayers && (rc = scores(G, l, NULL)))
            break;
        /* the LayerNorm output again, then through dropout and the activation: dZ into dXL's
         * buffer, then LayerNorm */
        if ((rc = normalised(G, l, other, &z)))
            break;
        {
            elem_job J = {G, l, N, L->out, z, dh, G->dXL, 1};
            gatrec__parallel(G->threads, ELEM_BLOCKS, elem_block, &J);
        }
        if (G->flags & GATREC_GAT_NO_LAYERNORM)
            memcpy(other, G->dXL, N * L->out * sizeof(float));
        else if ((rc = K->layernorm_backward(G->threads, N, L->out, G->A[l], P(G, L->gamma), G->mean[l], G->rstd[l],
                                             G->dXL, other, G->grad + L->gamma, G->grad + L->beta)))
            break;
        if ((rc = K->gat_backward(G->threads, &G->es.E, &L->sh, G->XL[l], G->XR[l], P(G, L->we), P(G, L->att),
                                  G->alpha[l], other, G->dXL, G->dXR, G->grad + L->we, G->grad + L->att,
                                  G->grad + L->bias, G->work)))
            break;
        /* the residual path first (it may be the identity), then the two transforms */
        float *dprev = other;
        if (L->Wres != SIZE_MAX) {
            memset(dprev, 0, N * L->in * sizeof(float));
            rc = K->linear_backward(G->threads, N, L->in, L->out, h, P(G, L->Wres), dh, dprev, G->grad + L->Wres, NULL);
        } else if (!(G->flags & GATREC_GAT_NO_RESIDUAL)) {
            memcpy(dprev, dh, N * L->in * sizeof(float));
        } else {
            memset(dprev, 0, N * L->in * sizeof(float));
        }
        if (!rc)
            rc = K->linear_backward(G->threads, N, L->in, L->hc, h, P(G, L->Wl), G->dXL, dprev, G->grad + L->Wl,
                                    G->grad + L->bl);
        if (!rc)
            rc = K->linear_backward(G->threads, N, L->in, L->hc, h, P(G, L->Wr), G->dXR, dprev, G->grad + L->Wr,
                                    G->grad + L->br);
        other = dh;
        dh = dprev;
    }
    if (!rc && G->x0_off != SIZE_MAX)
        for (size_t k = 0; k < N * G->fdim; k++)
            G->grad[G->x0_off + k] += dh[k];
    G->dlast = dh;
    return rc;
}

/* ---- training, persistence ---- */

/* The subgraph's view and buffers */
static void free_sampling(gat *G)
{
    if (G->other) {
        gatrec__gat_swap_view(G);
        gatrec__gat_free_activations(G);
        free(G->x0);
        gatrec__gat_swap_view(G);
        free(G->other);
        G->other = NULL;
    }
    gatrec__subgraph_free(&G->sg);
    free(G->sdemb);
    G->sdemb = NULL;
}

static void gat_destroy(gat *G)
{
    if (!G)
        return;
    gatrec__gat_free_activations(G);
    free_sampling(G);
    for (size_t l = 0; l < MAX_LAYERS; l++) {
        free(G->ustate[l]);
        free(G->istate[l]);
        free(G->ixl[l]);
    }
    for (size_t k = 0; k < G->ntensors; k++)
        free((char *)G->tensors[k].name);
    free(G->tensors);
    free(G->theta);
    free(G->grad);
    free(G->x0);
    free(G->spec);
    gatrec__edges_free(&G->es);
    free(G->umean);
    free(G->imean);
    free(G);
}

static void gat_free(gatrec_model *m)
{
    gat_destroy(m->impl);
    m->impl = NULL;
}

/* Everything between the configuration and the first forward, shared by train and load. */
int gatrec__gat_prepare(gat *G, const gatrec__csr *by_user, const gatrec__csr *by_item)
{
    int rc;
    if ((rc = build_edges(G, by_user, by_item)) || (rc = layout(G)))
        return rc;
    if (!(G->theta = gatrec__malloc_array(G->nparams + 1, sizeof *G->theta)))
        return GATREC_ENOMEM;
    return gatrec__gat_alloc_activations(G);
}

int gatrec__gat_configure(gat *G, const gatrec_model_options *o, const char *spec, const char *kernels)
{
    int rc;
    float slope = o->attention_slope ? o->attention_slope : 0.2f;
    if (!(G->K = gatrec__kernels_get(kernels)))
        return GATREC_EINVAL;
    if (!(G->spec = gatrec__strdup(spec)))
        return GATREC_ENOMEM;
    if ((rc = parse_layers(G, spec)))
        return rc;
    G->threads = o->threads;
    G->flags = o->gat_flags;
    G->act_slope = o->activation_slope ? o->activation_slope : 0.01f;
    G->dropout = o->dropout < 0 ? 0.1f : o->dropout;
    G->seed = o->seed;
    G->fanout = o->fanout;
    for (size_t l = 0; l < G->nlayers; l++) {
        G->L[l].sh.slope = slope;
        G->L[l].sh.use_attr = !(G->flags & GATREC_GAT_NO_EDGE_ATTR);
    }
    if (!(G->dropout >= 0 && G->dropout < 1) || !isfinite(slope) || !isfinite(G->act_slope))
        return gatrec__error(GATREC_EINVAL, "GAT options: dropout must be in [0, 1) and the slopes finite");
    if (G->flags & ~(GATREC_GAT_NO_EDGE_ATTR | GATREC_GAT_NO_LAYERNORM | GATREC_GAT_NO_RESIDUAL | GATREC_GAT_NO_SELF_LOOPS))
        return gatrec__error(GATREC_EINVAL, "GAT options: unknown flags 0x%x", (unsigned)G->flags);
    return GATREC_OK;
}

static void fingerprint(const float *f, size_t n, size_t dim, unsigned char out[32])
{
    gatrec__sha256 s;
    unsigned char le[8];
    gatrec__sha256_init(&s);
    for (int k = 0; k < 8; k++)
        le[k] = (unsigned char)((uint64_t)dim >> (8 * k));
    gatrec__sha256_update(&s, le, 8);
    for (size_t k = 0; k < n * dim; k++) {
        uint32_t u;
        memcpy(&u, &f[k], 4);
        for (int b = 0; b < 4; b++)
            le[b] = (unsigned char)(u >> (8 * b));
        gatrec__sha256_update(&s, le, 4);
    }
    gatrec__sha256_final(&s, out);
}

/* Configure, build the graph, lay out and initialise the parameters: everything before the
 * first forward pass. fp: receives the features' fingerprint (may be NULL). */
static int setup(gat *G, const gatrec_graph *g, const gatrec_model_options *o)
{
    size_t N = g->users.count + g->items.count;
    int rc;
    if ((rc = gatrec__gat_configure(G, o, o->layers ? o->layers : "64x4,64x4,64x1", o->kernels)))
        return rc;
    G->nu = g->users.count;
    G->ni = g->items.count;
    G->random = !o->features;
    G->fdim = o->features ? o->feature_dim : (o->dim ? o->dim : 64);
    G->frozen = o->features && o->freeze_features;
    if (o->features && !o->feature_dim)
        return gatrec__error(GATREC_EINVAL, "GAT options: features given with feature_dim 0");
    if (o->features) /* gatrec_model_train checked every value (finite, near unit scale) */
        fingerprint(o->features, N, G->fdim, G->fingerprint);
    if ((rc = gatrec__gat_prepare(G, &g->by_user, &g->by_item)))
        return rc;
    if (!(G->grad = gatrec__malloc_array(G->nparams + 1, sizeof *G->grad)))
        return GATREC_ENOMEM;
    if (G->frozen) {
        if (!(G->x0 = gatrec__malloc_array(N * G->fdim, sizeof *G->x0)))
            return GATREC_ENOMEM;
        memcpy(G->x0, o->features, N * G->fdim * sizeof *G->x0);
    }
    init_params(G, o->features);
    return GATREC_OK;
}

static int gat_train(gatrec_model *m, const gatrec_graph *g)
{
    gatrec__trainer t = {0};
    gat *G = gatrec__calloc(1, sizeof *G);
    int rc;
    if (!G)
        return GATREC_ENOMEM;
    m->impl = G;
    if ((rc = setup(G, g, &m->opts)))
        return rc;
    if (m->opts.features) {
        char hex[65];
        gatrec__hex(G->fingerprint, 32, hex);
        if ((rc = gatrec_model_set_info(m, "features_sha256", hex)))
            return rc;
    }
    t.ctx = G;
    t.nparams = G->nparams;
    t.theta = G->theta;
    t.grad = G->grad;
    t.tensors = G->tensors;
    t.ntensors = G->ntensors;
    t.feature_len = G->x0_off == 0 ? (G->nu + G->ni) * G->fdim : 0; /* the table comes first when trainable */
    t.dim = G->L[G->nlayers - 1].out;
    t.emb = G->H[G->nlayers];
    t.forward = gatrec__gat_forward;
    t.backward = gatrec__gat_backward;
    t.forward_batch = gatrec__gat_forward_batch;
    t.rows_touched = gatrec__gat_rows_touched;
    t.default_epochs = 300;
    t.default_lr = 5e-3f;
    t.default_wd = 1e-5f;
    t.default_cos = m->opts.features ? 0.5f : 1.0f; /* measured on u1: text features 0.5, random 1 */
    t.default_batch = 0;
    t.default_negatives = 4; /* full batch: one step an epoch, so each step sees 4 negatives per pair
                                (u1+valid:0.1, text features: +0.010 validation NDCG@10 over 1) */
    if ((rc = gatrec__train(m, g, &t)) || (rc = gatrec__gat_keep_states(G)))
        return rc;
    free(G->grad);
    G->grad = NULL;
    gatrec__gat_free_activations(G);
    free_sampling(G);
    return GATREC_OK;
}

/* ---- the probe: the network alone, for the gradient and oracle tests ---- */

int gatrec__gat_probe_new(const gatrec_graph *g, const gatrec_model_options *o, gatrec__gat_probe **out)
{
    gat *G = gatrec__calloc(1, sizeof *G);
    int rc;
    if (!G)
        return GATREC_ENOMEM;
    if ((rc = setup(G, g, o))) {
        gat_destroy(G);
        return rc;
    }
    *out = G;
    return GATREC_OK;
}

float *gatrec__gat_probe_params(gatrec__gat_probe *G, float **grad, size_t *n, const gatrec__tensor **tensors,
                                size_t *ntensors)
{
    *grad = G->grad;
    *n = G->nparams;
    *tensors = G->tensors;
    *ntensors = G->ntensors;
    return G->theta;
}

int gatrec__gat_probe_forward(gatrec__gat_probe *G, int train, uint64_t step, const float **emb, size_t *dim)
{
    int rc = gatrec__gat_forward(G, train, step);
    *emb = G->H[G->nlayers];
    *dim = G->L[G->nlayers - 1].out;
    return rc;
}

int gatrec__gat_probe_backward(gatrec__gat_probe *G, const float *demb)
{
    memset(G->grad, 0, G->nparams * sizeof *G->grad);
    return gatrec__gat_backward(G, demb);
}

void gatrec__gat_probe_free(gatrec__gat_probe *G)
{
    gat_destroy(G);
}

const gatrec__model_ops gatrec__gat_ops = {.kind = GATREC_MODEL_GAT,       .name = "gat",
                                           .train = gat_train,            .score_all = gatrec__emb_score_all,
                                           .save = gatrec__gat_save,              .load = gatrec__gat_load,
                                           .free = gat_free,              .fold_user = gatrec__gat_fold_user,
                                           .refold_user = gatrec__gat_refold_user,
                                           .user_state_width = gatrec__gat_user_state_width,
                                           .user_state = gatrec__gat_user_state,
                                           .fold_item = gatrec__gat_fold_item,    .attention = gatrec__gat_attention,
                                           .feature_dim = gatrec__gat_feature_dim, .emb_scores = 1};
