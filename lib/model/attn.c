/* attn: graph attention on ID + text features, shaped like LightGCN (docs/model.md).
 *
 * Nodes are users (0..nu) then items (nu..nu+ni); every training rating is an edge each way,
 * with the rating as its attribute; no self loops. With T the text features of a node and
 * W_user / W_item one linear map per node type:
 *     H0[v]   = ID[v] + W_type(v) T[v]                        (layer 0; either part may be off)
 *     e_ts    = att . LeakyReLU(P_src H0[s] + P_dst H0[t] + r_ts w_edge)
 *     alpha   = softmax over the sources s of t of e_ts        (kernels: attn_weights)
 *     w_ts    = alpha_ts sqrt(deg t / deg s)                    (= 1 / sqrt(deg t deg s) when uniform)
 *     H_{l+1} = W H_l, l = 0 .. L-1                             (kernels: propagate)
 *     out     = mean of H_0 .. H_L
 * The attention is computed once per step from layer 0 and shared by the layers. With att = 0
 * every alpha is 1 / deg t, so an untrained model is LightGCN on ID + text. Scores are the dot
 * products of the outputs; with the softmax loss, of unit outputs (cosines). */
#include "attn.h"

/* ---- configuration and layout ---- */

static int configure(attn *A, const gatrec_model_options *o, size_t f)
{
    int inputs = o->inputs ? o->inputs : f ? GATREC_INPUTS_ID_TEXT : GATREC_INPUTS_ID;
    A->threads = o->threads;
    A->flags = o->attn_flags;
    A->d = o->dim ? o->dim : 256;
    A->ha = o->attention_dim ? o->attention_dim : 16;
    A->L = o->propagation ? (size_t)o->propagation : 2;
    A->slope = o->attention_slope ? o->attention_slope : 0.2f;
    A->id_dropout = o->id_dropout < 0 ? 0.0f : o->id_dropout;
    A->align = o->align;
    A->ranks = o->ranks > 1 ? o->ranks : 1;
    A->fanout = o->fanout;
    A->tau = o->temperature ? o->temperature : 0.2f;
    A->seed = o->seed;
    /* defaults chosen on cold-users:0.2:5 seed 11 and u1+valid:0.1 (docs/model.md, new users) */
    A->dislike = gatrec__dislike_weight(GATREC_MODEL_ATTN, o);
    A->cold_share = o->new_user_share == 0 ? (o->fanout ? 0.0f : 0.3f) : o->new_user_share < 0 ? 0.0f : o->new_user_share;
    A->cold_k = o->new_user_ratings ? o->new_user_ratings : 5;
    A->unit = o->loss == GATREC_LOSS_SOFTMAX;
    A->f = f;
    if (!(A->K = gatrec__kernels_get(o->kernels)))
        return GATREC_EINVAL;
    if (inputs < GATREC_INPUTS_ID_TEXT || inputs > GATREC_INPUTS_TEXT)
        return gatrec__error(GATREC_EINVAL, "attn: inputs must be a gatrec_inputs, not %d", inputs);
    A->use_id = inputs != GATREC_INPUTS_TEXT;
    A->use_text = inputs != GATREC_INPUTS_ID;
    if (A->use_text && !f)
        return gatrec__error(GATREC_EINVAL, "attn: inputs %s need text features (gatrec_model_options.features, "
                             "e.g. from gatrec_features_from_profiles)", inputs == GATREC_INPUTS_TEXT ? "text" : "id+text");
    if (o->propagation < 0 || o->propagation > MAX_PROP)
        return gatrec__error(GATREC_EINVAL, "attn: propagation layers must be 0 to %d, not %d", MAX_PROP, o->propagation);
    if (A->d > 4096 || A->ha > 1024)
        return gatrec__error(GATREC_EINVAL, "attn: dim must be at most 4096 and attention_dim at most 1024");
    if (!(A->id_dropout >= 0 && A->id_dropout < 1) || !isfinite(A->slope) || !(A->align >= 0 && A->align <= 1000))
        return gatrec__error(GATREC_EINVAL, "attn: id_dropout must be in [0, 1), align in [0, 1000] and the attention "
                             "slope finite");
    if (A->align > 0 && !A->use_text)
        return gatrec__error(GATREC_EINVAL, "attn: align needs text (inputs id+text or text, with features)");
    if (A->fanout && A->align > 0)
        return gatrec__error(GATREC_EINVAL, "attn: align samples items of the whole graph each step: not with fanout "
                             "(neighbour sampling)");
    if (!(A->cold_share >= 0 && A->cold_share <= 1) ||
        A->cold_k > 1000000)
        return gatrec__error(GATREC_EINVAL, "attn: new_user_share must be in [0, 1] and new_user_ratings at most 10^6");
    if (A->fanout && o->new_user_share > 0)
        return gatrec__error(GATREC_EINVAL, "attn: new-user practice (new_user_share) runs on the whole graph: not "
                             "with fanout (neighbour sampling)");
    if (A->flags & ~(GATREC_ATTN_UNIFORM | GATREC_ATTN_NO_EDGE_ATTR))
        return gatrec__error(GATREC_EINVAL, "attn: unknown flags 0x%x", (unsigned)A->flags);
    return GATREC_OK;
}

static void add(attn *A, size_t *off, const char *name, size_t len)
{
    *off = A->nparams;
    A->tensors[A->ntensors++] = (gatrec__tensor){name, A->nparams, len};
    A->nparams += len;
}

/* The ID table comes first (the trainer gives it its own weight decay). */
void gatrec__attn_layout(attn *A)
{
    size_t N = A->nu + A->ni, d = A->d, ha = has_attention(A) ? A->ha : 0, t = A->use_text ? d * A->f : 0;
    A->nparams = A->ntensors = 0;
    add(A, &A->o_id, "ID embeddings", A->use_id ? N * d : 0);
    add(A, &A->o_wu, "W_user (text map)", t);
    add(A, &A->o_wi, "W_item (text map)", t);
    add(A, &A->o_ps, "P_source (attention)", ha * d);
    add(A, &A->o_pd, "P_target (attention)", ha * d);
    add(A, &A->o_we, "w_edge (attention)", A->flags & GATREC_ATTN_NO_EDGE_ATTR ? 0 : ha);
    add(A, &A->o_att, "att (attention)", ha);
}

/* Degree-based edge scale of the training graph: sqrt(deg t / deg s). */
static void edge_scales(attn *A)
{
    const gatrec__edges *E = &A->es.E;
    for (size_t t = 0; t < E->n; t++) {
        double dt = (double)(E->off[t + 1] - E->off[t]);
        for (size_t e = E->off[t]; e < E->off[t + 1]; e++) {
            size_t s = (size_t)E->src[e];
            double ds = (double)(E->soff[s + 1] - E->soff[s]);
            A->scale[e] = (float)sqrt(dt / ds) * gatrec__attn_gain(A, E->attr[e]);
        }
    }
}

/* The whole graph's layer states and edge weights */
static int alloc_forward(attn *A)
{
    size_t N = A->nu + A->ni, m = A->es.E.m;
    if (A->H)
        return GATREC_OK;
    A->H = gatrec__malloc_array((A->L + 1) * N * A->d + 1, sizeof(float));
    A->alpha = gatrec__malloc_array(m + 1, sizeof(float));
    A->w = gatrec__malloc_array(m + 1, sizeof(float));
    return A->H && A->alpha && A->w ? GATREC_OK : GATREC_ENOMEM;
}

/* The whole graph's backward buffers */
static int alloc_backward(attn *A)
{
    size_t N = A->nu + A->ni, d = A->d, m = A->es.E.m, ha = A->ha;
    if (A->dA)
        return GATREC_OK;
    A->dA = gatrec__malloc_array(N * d + 1, sizeof(float));
    A->dB = gatrec__malloc_array(N * d + 1, sizeof(float));
    A->dw = gatrec__malloc_array(m + 1, sizeof(float));
    A->dXS = gatrec__malloc_array(N * ha + 1, sizeof(float));
    A->dXD = gatrec__malloc_array(N * ha + 1, sizeof(float));
    A->work = gatrec__malloc_array(m + 1, sizeof(float));
    return A->dA && A->dB && A->dw && A->dXS && A->dXD && A->work ? GATREC_OK : GATREC_ENOMEM;
}

static int alloc_training(attn *A)
{
    size_t N = A->nu + A->ni, d = A->d, m = A->es.E.m, ha = A->ha;
    A->scale = gatrec__malloc_array(m + 1, sizeof(float));
    A->emb = gatrec__malloc_array(N * d + 1, sizeof(float));
    A->XS = gatrec__malloc_array(N * ha + 1, sizeof(float));
    A->XD = gatrec__malloc_array(N * ha + 1, sizeof(float));
    int rc;
    /* sampled training runs the whole graph's forward only to validate and at the end, and never
     * its backward: those buffers wait until they are needed */
    if (!A->fanout && ((rc = alloc_forward(A)) || (rc = alloc_backward(A))))
        return rc;
    A->drop = gatrec__calloc(N + 1, 1);
    if (A->align > 0 && (!(A->T = gatrec__malloc_array(N * d + 1, sizeof(float))) || /* only the alignment needs */
                         !(A->dT = gatrec__malloc_array(N * d + 1, sizeof(float)))))        /* the text part apart */
        return GATREC_ENOMEM;
    if (A->align > 0) {
        size_t S = A->ni < ALIGN_MAX ? A->ni : ALIGN_MAX;
        A->known = gatrec__malloc_array(A->ni + 1, sizeof *A->known);
        A->pool = gatrec__malloc_array(A->ni + 1, sizeof *A->pool);
        A->sample = gatrec__malloc_array(S + 1, sizeof *A->sample);
        A->demb2 = gatrec__malloc_array(N * d + 1, sizeof(float));
        A->X = gatrec__malloc_array(S * d + 1, sizeof(float));
        A->Z = gatrec__malloc_array(S * d + 1, sizeof(float));
        A->nX = gatrec__malloc_array(S + 1, sizeof(float));
        A->nZ = gatrec__malloc_array(S + 1, sizeof(float));
        A->G = gatrec__malloc_array(S * S + 1, sizeof(float));
        if (!A->known || !A->pool || !A->sample || !A->demb2 || !A->X || !A->Z || !A->nX || !A->nZ || !A->G)
            return GATREC_ENOMEM;
        for (size_t i = 0; i < A->ni; i++) /* the items with training ratings: their outputs say something */
            if (A->es.E.off[A->nu + i + 1] > A->es.E.off[A->nu + i])
                A->known[A->nknown++] = (int32_t)i;
    }
    if (!A->scale || !A->emb || !A->XS || !A->XD || !A->drop)
        return GATREC_ENOMEM;
    edge_scales(A);
    return GATREC_OK;
}

static void free_training(attn *A)
{
    float **bufs[] = {&A->scale, &A->H,  &A->emb, &A->XS, &A->XD, &A->alpha, &A->w,  &A->dA, &A->dB,
                      &A->dw,    &A->dXS, &A->dXD, &A->work, &A->grad, &A->T, &A->dT, &A->demb2,
                      &A->X,     &A->Z,  &A->nX,  &A->nZ,  &A->G};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) {
        free(*bufs[k]);
        *bufs[k] = NULL;
    }
    gatrec__subgraph_free(&A->sg);
    gatrec__edges_free(&A->top);
    free(A->topmap);
    free(A->wtop);
    free(A->dwtop);
    A->topmap = NULL;
    A->wtop = A->dwtop = NULL;
    gatrec__attn_free_sub_buffers(A);
    free(A->drop);
    free(A->known);
    free(A->pool);
    free(A->sample);
    A->drop = NULL;
    A->known = A->pool = A->sample = NULL;
    gatrec__edges_free(&A->es);
    gatrec__edges_free(&A->cs);
    free(A->cscale);
    free(A->cfeat);
    A->cscale = A->cfeat = NULL;
}

/* ---- the network ---- */

/* ---- one pass of the network: the whole graph, or a sampled step's subgraph (attn.h) ---- */

/* out = s demb, row by row of the pass (gathered from the global rows on a subgraph) */
static void gather_scaled(const attn *A, const attn_pass *P, float s, const float *demb, float *out)
{
    if (P->glob) {
        gatrec__attn_rows(A, ROWS_GATHER, s, NULL, demb, out);
        return;
    }
    for (size_t k = 0; k < P->n * A->d; k++)
        out[k] = s * demb[k];
}

/* Layer 0 of the pass's nodes: H0 = ID (unless dropped) + W_type T. */
static int layer0(attn *A, const attn_pass *P)
{
    size_t nu = P->nu, n = P->n, d = A->d, f = A->f;
    float *H0 = P->H;
    int rc;
    if (A->use_text) {
        float *T = P->T ? P->T : H0; /* kept apart for the alignment */
        if ((rc = A->K->linear(A->threads, nu, f, d, P->feat, PRM(A, A->o_wu), NULL, T)) ||
            (rc = A->K->linear(A->threads, n - nu, f, d, P->feat + nu * f, PRM(A, A->o_wi), NULL, T + nu * d)))
            return rc;
        if (T != H0)
            memcpy(H0, T, n * d * sizeof *H0);
    } else {
        memset(H0, 0, n * d * sizeof *H0);
    }
    if (A->use_id && P->glob)
        gatrec__attn_rows(A, ROWS_GATHER_ADD, 1.0f, A->drop, PRM(A, A->o_id), H0);
    for (size_t v = 0; A->use_id && !P->glob && v < n; v++) {
        const float *id = PRM(A, A->o_id) + v * d;
        float *h = H0 + v * d;
        if (!A->drop[v])
            for (size_t k = 0; k < d; k++)
                h[k] += id[k];
    }
    return GATREC_OK;
}

/* The pass's edge weights from layer 0: attention (or 1 / deg t) times the whole graph's degree
 * scale of the edge. */
static int edge_weights(attn *A, const attn_pass *P)
{
    const gatrec__edges *E = P->E;
    int rc;
    if (!has_attention(A)) {
        for (size_t t = 0; t < E->n; t++) /* alpha = 1 / deg t */
            for (size_t e = E->off[t]; e < E->off[t + 1]; e++)
                P->alpha[e] = 1.0f / (float)(E->off[t + 1] - E->off[t]);
    } else if ((rc = A->K->linear(A->threads, P->n, A->d, A->ha, P->H, PRM(A, A->o_ps), NULL, P->XS)) ||
               (rc = A->K->linear(A->threads, P->n, A->d, A->ha, P->H, PRM(A, A->o_pd), NULL, P->XD)) ||
               (rc = A->K->attn_weights(A->threads, E, A->ha, A->slope, P->XS, P->XD, edge_weights_param(A),
                                        PRM(A, A->o_att), P->alpha))) {
        return rc;
    }
    for (size_t e = 0; e < E->m; e++)
        P->w[e] = P->alpha[e] * P->scale[P->gid ? (size_t)P->gid[e] : e];
    return GATREC_OK;
}

int gatrec__attn_pass_forward(attn *A, const attn_pass *P, const int32_t *seeds, size_t nseeds)
{
    size_t d = A->d, nd = P->n * d;
    float s = 1.0f / (float)(A->L + 1);
    int rc;
    if ((rc = layer0(A, P)) || (rc = edge_weights(A, P)))
        return rc;
    if (P->glob && A->L > 0 && (rc = gatrec__attn_top_edges(A, seeds, nseeds)))
        return rc;
    for (size_t l = 0; l < A->L; l++) { /* on a subgraph the last layer only into the seeds: nothing else reads it */
        int top = P->glob && l + 1 == A->L;
        if ((rc = A->K->propagate(A->threads, top ? &A->top.E : P->E, d, top ? A->wtop : P->w, P->H + l * nd,
                                  P->H + (l + 1) * nd)))
            return rc;
    }
    if (!seeds) {
        for (size_t k = 0; k < nd; k++) {
            float acc = 0;
            for (size_t l = 0; l <= A->L; l++)
                acc += P->H[l * nd + k];
            A->emb[k] = acc * s;
        }
        return GATREC_OK;
    }
    for (size_t q = 0; q < nseeds; q++) {
        size_t j = (size_t)A->sg.loc[seeds[q]];
        float *out = A->emb + (size_t)seeds[q] * d;
        for (size_t k = 0; k < d; k++) {
            float acc = 0;
            for (size_t l = 0; l <= A->L; l++)
                acc += P->H[l * nd + j * d + k];
            out[k] = acc * s;
        }
    }
    return GATREC_OK;
}

int gatrec__attn_pass_backward(attn *A, const attn_pass *P, const float *demb, const float *dT)
{
    const gatrec__edges *E = P->E;
    size_t n = P->n, nu = P->nu, d = A->d, f = A->f, nd = n * d;
    float s = 1.0f / (float)(A->L + 1), *cur = P->dA, *nxt = P->dB;
    int rc, att = has_attention(A);
    /* dH_L = s demb; dH_l = s demb + W^T dH_{l+1}; dw = sum over layers of dH_{l+1}[t] . H_l[s] */
    gather_scaled(A, P, s, demb, cur);
    if (att)
        memset(P->dw, 0, E->m * sizeof *P->dw);
    for (size_t l = A->L; l-- > 0;) {
        int top = P->glob && l + 1 == A->L; /* the last layer's edges are the subgraph's into the seeds */
        gather_scaled(A, P, s, demb, nxt);
        if (top && att)
            memset(A->dwtop, 0, A->top.E.m * sizeof *A->dwtop);
        if ((rc = A->K->propagate_backward(A->threads, top ? &A->top.E : E, d, top ? A->wtop : P->w, P->H + l * nd,
                                           cur, nxt, att ? (top ? A->dwtop : P->dw) : NULL)))
            return rc;
        for (size_t e = 0; top && att && e < A->top.E.m; e++)
            P->dw[A->topmap[e]] += A->dwtop[e];
        float *t = cur;
        cur = nxt;
        nxt = t;
    }
    float *dH0 = cur; /* the gradient of layer 0 (one of the two buffers) */
    if (att && A->L > 0) {
        for (size_t e = 0; e < E->m; e++)
            P->dw[e] *= P->scale[P->gid ? (size_t)P->gid[e] : e]; /* d/d alpha */
        float *dwe = A->flags & GATREC_ATTN_NO_EDGE_ATTR ? NULL : A->grad + A->o_we;
        if ((rc = A->K->attn_weights_backward(A->threads, E, A->ha, A->slope, P->XS, P->XD, edge_weights_param(A),
                                              PRM(A, A->o_att), P->alpha, P->dw, P->dXS, P->dXD, dwe,
                                              A->grad + A->o_att, P->work)) ||
            (rc = A->K->linear_backward(A->threads, n, d, A->ha, P->H, PRM(A, A->o_ps), P->dXS, dH0,
                                        A->grad + A->o_ps, NULL)) ||
            (rc = A->K->linear_backward(A->threads, n, d, A->ha, P->H, PRM(A, A->o_pd), P->dXD, dH0,
                                        A->grad + A->o_pd, NULL)))
            return rc;
    }
    if (A->use_id && P->glob) /* glob holds distinct rows: the scatter has no collisions */
        gatrec__attn_rows(A, ROWS_SCATTER_ADD, 1.0f, A->drop, dH0, A->grad + A->o_id);
    for (size_t v = 0; A->use_id && !P->glob && v < n; v++)
        if (!A->drop[v]) {
            float *g = A->grad + A->o_id + v * d;
            const float *dh = dH0 + v * d;
            for (size_t k = 0; k < d; k++)
                g[k] += dh[k];
        }
    if (A->use_text && dT) /* the text path: the network's gradient plus the alignment's */
        for (size_t k = 0; k < nd; k++)
            dH0[k] += dT[k];
    if (A->use_text &&
        ((rc = A->K->linear_backward(A->threads, nu, f, d, P->feat, PRM(A, A->o_wu), dH0, NULL, A->grad + A->o_wu,
                                     NULL)) ||
         (rc = A->K->linear_backward(A->threads, n - nu, f, d, P->feat + nu * f, PRM(A, A->o_wi), dH0 + nu * d, NULL,
                                     A->grad + A->o_wi, NULL))))
        return rc;
    return GATREC_OK;
}

/* The alignment (CLCRec, RLMRec): for S items drawn this step, the symmetric InfoNCE between
 * their unit outputs X and unit mapped texts Z, logits X Z^T / tau, positives on the diagonal.
 * Forward: the value (weighted) and the softmax of the logits, kept in G. */
static int align_forward(attn *A)
{
    size_t d = A->d, S = A->nknown < ALIGN_MAX ? A->nknown : ALIGN_MAX, nu = A->nu;
    double loss = 0;
    if (S < 2)
        return GATREC_OK;
    memcpy(A->pool, A->known, A->nknown * sizeof *A->pool);
    for (size_t k = 0; k < S; k++) { /* a partial shuffle: S distinct items, drawn from the step alone */
        size_t j = k + (size_t)gatrec__rng_below(A->seed, gatrec__stream(GATREC__RNG_ALIGN_SAMPLE, A->step), k, A->nknown - k);
        int32_t t = A->pool[k];
        A->pool[k] = A->pool[j];
        A->pool[j] = t;
        A->sample[k] = A->pool[k];
        memcpy(A->X + k * d, A->emb + (nu + (size_t)A->sample[k]) * d, d * sizeof(float));
        memcpy(A->Z + k * d, A->T + (nu + (size_t)A->sample[k]) * d, d * sizeof(float));
    }
    A->ns = S;
    gatrec__normalise_rows(A->X, S, d, A->nX);
    gatrec__normalise_rows(A->Z, S, d, A->nZ);
    gatrec__sgemm(A->threads, 0, 1, S, S, d, 1.0f / A->tau, A->X, d, 1, A->Z, d, 1, 0.0f, A->G, S);
    /* the diagonal's cross-entropy by rows (item -> text) and by columns (text -> item); G
     * becomes d loss / d logits: (P_rows + P_cols) / 2 - I, over S */
    double *colmax = gatrec__malloc_array(S, sizeof *colmax), *colz = gatrec__calloc(S, sizeof *colz);
    float *P = gatrec__malloc_array(S * S, sizeof *P);
    if (!colmax || !colz || !P) {
        free(colmax);
        free(colz);
        free(P);
        return GATREC_ENOMEM;
    }
    for (size_t c = 0; c < S; c++)
        colmax[c] = -INFINITY;
    for (size_t r = 0; r < S; r++)
        for (size_t c = 0; c < S; c++)
            colmax[c] = A->G[r * S + c] > colmax[c] ? A->G[r * S + c] : colmax[c];
    for (size_t r = 0; r < S; r++)
        for (size_t c = 0; c < S; c++)
            colz[c] += exp(A->G[r * S + c] - colmax[c]);
    for (size_t r = 0; r < S; r++) {
        float *g = A->G + r * S, m = -INFINITY;
        double z = 0;
        for (size_t c = 0; c < S; c++)
            m = g[c] > m ? g[c] : m;
        for (size_t c = 0; c < S; c++)
            z += exp(g[c] - m);
        loss += -(g[r] - m) + log(z);
        loss += -(g[r] - colmax[r]) + log(colz[r]);
        for (size_t c = 0; c < S; c++)
            P[r * S + c] = (float)(0.5 * (exp(g[c] - m) / z + exp(g[c] - colmax[c]) / colz[c]));
        P[r * S + r] -= 1.0f;
    }
    memcpy(A->G, P, S * S * sizeof *P);
    free(colmax);
    free(colz);
    free(P);
    A->align_value = A->align * 0.5 * loss / (double)S;
    return GATREC_OK;
}

/* Backward of the alignment: its output gradient into dE (the items' rows), its text gradient
 * into dT. */
static int align_backward(attn *A, float *dE, float *dT)
{
    size_t d = A->d, S = A->ns, nu = A->nu;
    /* data-parallel: every rank adds the alignment's gradient, so each adds its share */
    float c = A->align / (A->tau * (float)S) / (float)A->ranks;
    float *gX = gatrec__malloc_array(2 * S * d + 1, sizeof *gX), *gZ;
    if (!gX)
        return GATREC_ENOMEM;
    gZ = gX + S * d;
    gatrec__sgemm(A->threads, 0, 0, S, d, S, c, A->G, S, 1, A->Z, d, 1, 0.0f, gX, d); /* G Z */
    gatrec__sgemm(A->threads, 0, 0, S, d, S, c, A->G, 1, S, A->X, d, 1, 0.0f, gZ, d); /* G^T X */
    for (size_t k = 0; k < S; k++) {
        size_t v = nu + (size_t)A->sample[k];
        gatrec__unnormalise_grad(A->X + k * d, gX + k * d, A->nX[k], d, dE + v * d);
        gatrec__unnormalise_grad(A->Z + k * d, gZ + k * d, A->nZ[k], d, dT + v * d);
    }
    free(gX);
    return GATREC_OK;
}

/* New-user practice (cold_share): this step's graph, in which the chosen users keep cold_k of
 * their rated items (drawn without replacement), lose their ID and read the mean user text, as a
 * user folded in from a few ratings is; every other edge and node as in training. */
static int cold_step(attn *A, uint64_t step)
{
    const gatrec__edges *E = &A->es.E;
    size_t N = A->nu + A->ni, m = 0, f = A->f;
    if (!A->cs.off) { /* the first step: room for every edge, and the text rows (items' never change) */
        if (gatrec__edges_alloc(&A->cs, N, E->m) || !(A->cscale = gatrec__malloc_array(E->m + 1, sizeof *A->cscale)) ||
            (A->use_text && !(A->cfeat = gatrec__malloc_array(N * f + 1, sizeof *A->cfeat))))
            return GATREC_ENOMEM;
        if (A->use_text)
            memcpy(A->cfeat, A->feat, N * f * sizeof *A->cfeat);
    } else {
        memset(A->cs.soff, 0, (N + 2) * sizeof *A->cs.soff); /* gatrec__edges_index counts into it */
        if (A->use_text) /* the last step's practising users read their own text again */
            memcpy(A->cfeat, A->feat, A->nu * f * sizeof *A->cfeat);
    }
    for (size_t t = 0; t < N; t++) {
        size_t deg = E->off[t + 1] - E->off[t], keep = deg, m0 = m;
        int chosen = t < A->nu && deg > A->cold_k &&
                     gatrec__rng_unit(A->seed, gatrec__stream(GATREC__RNG_COLD_USERS, step), t) < (double)A->cold_share;
        A->cs.off[t] = m;
        if (chosen) {
            keep = A->cold_k;
            A->drop[t] = 1;
            if (A->use_text)
                memcpy(A->cfeat + t * f, A->umean, f * sizeof *A->cfeat);
        }
        /* selection sampling (Knuth's S): keep of deg in order */
        for (size_t e = E->off[t], seen = 0, need = keep; e < E->off[t + 1]; e++, seen++) {
            if (chosen && (double)(deg - seen) * gatrec__rng_unit(A->seed, gatrec__stream(GATREC__RNG_COLD_EDGES, step),
                                                                  gatrec__node_counter(t, seen)) >= (double)need)
                continue;
            need--;
            A->cs.src[m] = E->src[e];
            A->cs.dst[m] = E->dst[e];
            A->cs.attr[m] = E->attr[e];
            A->cscale[m] = A->scale[e];
            m++;
        }
        if (chosen) /* the degree the user now has: sqrt(k / deg s) */
            for (size_t e = m0; e < m; e++)
                A->cscale[e] *= (float)sqrt((double)keep / (double)deg);
    }
    A->cs.off[N] = m;
    gatrec__edges_index(&A->cs, N, m);
    return GATREC_OK;
}

/* The whole training graph as one pass */
static attn_pass whole_pass(attn *A)
{
    int cold = A->training && A->cold_share > 0 && A->cs.E.n;
    return (attn_pass){A->nu + A->ni, A->nu, cold ? &A->cs.E : &A->es.E, NULL, NULL, cold ? A->cfeat : A->feat,
                       A->T, A->H, A->XS, A->XD, A->alpha, A->w, A->dw, A->dA, A->dB, A->dXS, A->dXD, A->work,
                       cold ? A->cscale : A->scale};
}

static int attn_forward(void *ctx, int train, uint64_t step)
{
    attn *A = ctx;
    int rc;
    if (A->fanout) /* a whole-graph forward (validation, the end): the step buffers make room for it */
        gatrec__attn_free_sub_buffers(A);
    if ((rc = alloc_forward(A)))
        return rc;
    size_t N = A->nu + A->ni;
    for (size_t v = 0; v < N; v++) /* ID dropout: a fresh, seeded draw per step and node */
        A->drop[v] = train && id_dropped(A, step, v);
    A->training = train;
    if (train && A->cold_share > 0 && (rc = cold_step(A, step)))
        return rc;
    attn_pass P = whole_pass(A);
    if ((rc = gatrec__attn_pass_forward(A, &P, NULL, 0)))
        return rc;
    A->step = step;
    A->sampled = 0;
    A->align_value = 0;
    return train && A->align > 0 ? align_forward(A) : GATREC_OK;
}

static int attn_backward(void *ctx, const float *demb)
{
    attn *A = ctx;
    int rc;
    if (A->sampled)
        return gatrec__attn_backward_sampled(A, demb);
    if ((rc = alloc_backward(A)))
        return rc;
    size_t nd = (A->nu + A->ni) * A->d;
    int aligning = A->training && A->align > 0 && A->ns > 1;
    if (A->dT)
        memset(A->dT, 0, nd * sizeof *A->dT);
    if (aligning) {
        memcpy(A->demb2, demb, nd * sizeof *demb);
        if ((rc = align_backward(A, A->demb2, A->dT)))
            return rc;
        demb = A->demb2;
    }
    attn_pass P = whole_pass(A);
    return gatrec__attn_pass_backward(A, &P, demb, A->dT);
}

/* ---- training ---- */

static void destroy(attn *A)
{
    if (!A)
        return;
    free_training(A);
    free(A->theta);
    free(A->istate);
    free(A->ixs);
    free(A->ustate);
    free(A->umean);
    free(A->imean);
    free(A);
}

static void attn_free(gatrec_model *m)
{
    destroy(m->impl);
    m->impl = NULL;
}

static void init_params(attn *A, const gatrec_graph *g)
{
    size_t N = A->nu + A->ni, d = A->d;
    memset(A->theta, 0, A->nparams * sizeof *A->theta);
    if (A->use_id) {
        gatrec__init_normal(PRM(A, A->o_id), N * d, 0.1f, A->seed, gatrec__stream(GATREC__RNG_INIT, 0));
        for (size_t v = 0; v < N; v++) { /* a node without ratings never trains its ID: keep it silent */
            const gatrec__csr *c = v < A->nu ? &g->by_user : &g->by_item;
            size_t r = v < A->nu ? v : v - A->nu;
            if (c->off[r + 1] == c->off[r])
                memset(PRM(A, A->o_id) + v * d, 0, d * sizeof(float));
        }
    }
    if (A->use_text) {
        gatrec__init_glorot(PRM(A, A->o_wu), d, A->f, A->seed, gatrec__stream(GATREC__RNG_INIT, 1));
        gatrec__init_glorot(PRM(A, A->o_wi), d, A->f, A->seed, gatrec__stream(GATREC__RNG_INIT, 2));
    }
    if (has_attention(A)) { /* att = 0: every node starts with uniform attention (LightGCN) */
        gatrec__init_glorot(PRM(A, A->o_ps), A->ha, d, A->seed, gatrec__stream(GATREC__RNG_INIT, 3));
        gatrec__init_glorot(PRM(A, A->o_pd), A->ha, d, A->seed, gatrec__stream(GATREC__RNG_INIT, 4));
        if (!(A->flags & GATREC_ATTN_NO_EDGE_ATTR))
            gatrec__init_normal(PRM(A, A->o_we), A->ha, 0.1f, A->seed, gatrec__stream(GATREC__RNG_INIT, 5));
    }
}

static int mean_text(attn *A, const float *feat)
{
    size_t f = A->f;
    A->umean = gatrec__calloc(f + 1, sizeof *A->umean);
    A->imean = gatrec__calloc(f + 1, sizeof *A->imean);
    if (!A->umean || !A->imean)
        return GATREC_ENOMEM;
    for (size_t v = 0; feat && v < A->nu + A->ni; v++) {
        float *mean = v < A->nu ? A->umean : A->imean;
        float n = (float)(v < A->nu ? A->nu : A->ni);
        for (size_t k = 0; k < f; k++)
            mean[k] += feat[v * f + k] / n;
    }
    return GATREC_OK;
}

/* Everything before the first forward: shared by training and the probe. */
static int setup(attn *A, const gatrec_graph *g, const gatrec_model_options *o)
{
    size_t f = o->features ? o->feature_dim : 0;
    int rc;
    if (o->features && !o->feature_dim)
        return gatrec__error(GATREC_EINVAL, "attn: features given with feature_dim 0");
    if ((rc = configure(A, o, f)))
        return rc;
    A->nu = g->users.count;
    A->disliked = g->disliked;
    A->ni = g->items.count;
    if (A->use_text) /* gatrec_model_train checked every value (finite, near unit scale) */
        A->feat = o->features;
    gatrec__attn_layout(A);
    if ((rc = gatrec__edges_build(&A->es, A->nu, A->ni, &g->by_user, &g->by_item, 0)) || (rc = alloc_training(A)))
        return rc;
    if (!(A->theta = gatrec__malloc_array(A->nparams + 1, sizeof *A->theta)) ||
        !(A->grad = gatrec__malloc_array(A->nparams + 1, sizeof *A->grad)))
        return GATREC_ENOMEM;
    init_params(A, g);
    return mean_text(A, A->use_text ? o->features : NULL);
}

/* How far the trained attention moved from uniform (LightGCN): the mean over nodes with two or
 * more neighbours of the total variation distance between alpha and 1 / degree, kept in the
 * model's info as "attention_tv" (0: uniform; 1: all weight on one neighbour). */
static int record_attention(gatrec_model *m, const attn *A)
{
    const gatrec__edges *E = &A->es.E;
    double sum = 0;
    size_t n = 0;
    char buf[32];
    if (!has_attention(A) || !A->L)
        return GATREC_OK;
    for (size_t t = 0; t < E->n; t++) {
        size_t deg = E->off[t + 1] - E->off[t];
        double tv = 0;
        if (deg < 2)
            continue;
        for (size_t e = E->off[t]; e < E->off[t + 1]; e++)
            tv += fabs((double)A->alpha[e] - 1.0 / (double)deg);
        sum += 0.5 * tv;
        n++;
    }
    gatrec__snprintf(buf, sizeof buf, "%.4f", n ? sum / (double)n : 0.0);
    return gatrec_model_set_info(m, "attention_tv", buf);
}

static int attn_train(gatrec_model *m, const gatrec_graph *g)
{
    gatrec__trainer t = {0};
    attn *A = gatrec__calloc(1, sizeof *A);
    int rc;
    if (!A)
        return GATREC_ENOMEM;
    m->impl = A;
    if ((rc = setup(A, g, &m->opts)))
        return rc;
    t.ctx = A;
    t.nparams = A->nparams;
    t.theta = A->theta;
    t.grad = A->grad;
    t.tensors = A->tensors;
    t.ntensors = A->ntensors;
    t.feature_len = A->use_id ? (A->nu + A->ni) * A->d : 0; /* the ID table: feature_weight_decay */
    t.dim = A->d;
    t.emb = A->emb;
    t.forward = attn_forward;
    t.backward = attn_backward;
    t.forward_batch = gatrec__attn_forward_batch;
    t.rows_touched = gatrec__attn_rows_touched;
    /* the softmax overfits within tens of epochs: 25 (docs/model.md's search on u1+valid:0.1)
     * unless a validation part stops it, after 10 epochs without a better NDCG */
    t.default_epochs = m->opts.validation ? 200 : 25;
    t.default_lr = 5e-3f;
    t.default_wd = 0.0f;
    t.default_batch = 4096;
    t.default_patience = 10; /* the softmax overfits within tens of epochs */
    if ((rc = gatrec__train(m, g, &t)) || (rc = gatrec__attn_keep_states(A)) || (rc = record_attention(m, A)))
        return rc;
    A->feat = NULL; /* the caller's */
    free_training(A);
    return GATREC_OK;
}

/* ---- the probe: the network alone, for the gradient and oracle tests ---- */

int gatrec__attn_probe_new(const gatrec_graph *g, const gatrec_model_options *o, gatrec__attn_probe **out)
{
    attn *A = gatrec__calloc(1, sizeof *A);
    int rc;
    if (!A)
        return GATREC_ENOMEM;
    if ((rc = setup(A, g, o))) {
        destroy(A);
        return rc;
    }
    *out = A;
    return GATREC_OK;
}

float *gatrec__attn_probe_params(gatrec__attn_probe *p, float **grad, size_t *n, const gatrec__tensor **tensors,
                                 size_t *ntensors)
{
    attn *A = p;
    *grad = A->grad;
    *n = A->nparams;
    *tensors = A->tensors;
    *ntensors = A->ntensors;
    return A->theta;
}

int gatrec__attn_probe_forward(gatrec__attn_probe *p, int train, uint64_t step, const float **emb, size_t *dim)
{
    attn *A = p;
    int rc = attn_forward(A, train, step);
    *emb = A->emb;
    *dim = A->d;
    return rc;
}

double gatrec__attn_probe_align(gatrec__attn_probe *p)
{
    return p->align_value;
}

const float *gatrec__attn_probe_alpha(gatrec__attn_probe *p, size_t *m)
{
    attn *A = p;
    *m = A->es.E.m;
    return A->alpha;
}

int gatrec__attn_probe_backward(gatrec__attn_probe *p, const float *demb)
{
    attn *A = p;
    memset(A->grad, 0, A->nparams * sizeof *A->grad);
    return attn_backward(A, demb);
}

void gatrec__attn_probe_free(gatrec__attn_probe *p)
{
    destroy(p);
}

const gatrec__model_ops gatrec__attn_ops = {.kind = GATREC_MODEL_ATTN,       .name = "attn",
                                            .train = attn_train,             .score_all = gatrec__emb_score_all,
                                            .save = gatrec__attn_save,               .load = gatrec__attn_load,
                                            .free = attn_free,               .fold_user = gatrec__attn_fold_user,
                                            .refold_user = gatrec__attn_refold_user,
                                            .user_state_width = gatrec__attn_user_state_width,
                                            .user_state = gatrec__attn_user_state,
                                            .fold_item = gatrec__attn_fold_item,     .attention = gatrec__attn_attention,
                                            .feature_dim = gatrec__attn_feature_dim, .transductive = gatrec__attn_transductive,
                                            .emb_scores = 1};
