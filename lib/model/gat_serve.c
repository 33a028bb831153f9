/* The GAT's serving side: the states kept after training, a new user or item folded in through
 * the layers from its ratings and features, and the model file. */
#include "gat.h"

/* ---- serving state ---- */

/* Copy the per-layer states of the last (eval) forward into the serving arrays (a lean forward
 * kept the items' source transforms itself). */
int gatrec__gat_keep_states(gat *G)
{
    size_t nu = G->nu, ni = G->ni;
    gatrec__gat_free_backward(G); /* training is over: room for the serving state */
    G->ucap = nu + 16;
    G->icap = ni + 16;
    for (size_t l = 0; l < G->nlayers; l++) {
        size_t in = G->L[l].in, hc = G->L[l].hc;
        if (gatrec__resize_rows(&G->ustate[l], G->ucap, in) || gatrec__resize_rows(&G->istate[l], G->icap, in) ||
            gatrec__resize_rows(&G->ixl[l], G->icap, hc))
            return GATREC_ENOMEM;
        memcpy(G->ustate[l], G->H[l], nu * in * sizeof(float));
        memcpy(G->istate[l], G->H[l] + nu * in, ni * in * sizeof(float));
        if (!G->lean)
            memcpy(G->ixl[l], G->XL[l] + nu * hc, ni * hc * sizeof(float));
    }
    G->umean = gatrec__calloc(G->fdim + 1, sizeof(float));
    G->imean = gatrec__calloc(G->fdim + 1, sizeof(float));
    if (!G->umean || !G->imean)
        return GATREC_ENOMEM;
    for (size_t v = 0; v < nu + ni; v++)
        for (size_t k = 0; k < G->fdim; k++)
            (v < nu ? G->umean : G->imean)[k] += G->H[0][v * G->fdim + k] / (float)(v < nu ? nu : ni);
    return GATREC_OK;
}

/* One node through every layer: a user attending to `n` items (item indices, ascending, with
 * ratings), or an item with no neighbours (n = 0). h0: its input features. Writes its final
 * embedding, and optionally its input state per layer (states[l], in width), its source
 * transform per layer (xls[l]) and the attention each neighbour got, mean over heads and layers
 * (att[n]). */
static int node_forward(gat *G, const float *h0, const int32_t *nbr, const float *ratings, size_t n, float *emb,
                        float **states, float **xls, float *att)
{
    const gatrec__kernels *K = G->K;
    size_t w = gatrec__gat_max_width(G), hmax = 1, self = !(G->flags & GATREC_GAT_NO_SELF_LOOPS), m = n + self;
    size_t *off = gatrec__calloc(n + 2, sizeof *off);
    int32_t *src = gatrec__malloc_array(m + 1, sizeof *src);
    float *attr = gatrec__malloc_array(m + 1, sizeof *attr), *h = gatrec__malloc_array(2 * w, sizeof *h);
    float *xl = NULL, *xr = NULL, *alpha = NULL, *a = NULL, *z = NULL, *mu = NULL;
    int rc = GATREC_OK;
    for (size_t l = 0; l < G->nlayers; l++)
        hmax = G->L[l].sh.heads > hmax ? G->L[l].sh.heads : hmax;
    if (!off || !src || !attr || !h || !(xl = gatrec__malloc_array((n + 1) * w, sizeof *xl)) ||
        !(xr = gatrec__calloc((n + 1) * w, sizeof *xr)) || !(alpha = gatrec__malloc_array(m * hmax + 1, sizeof *alpha)) ||
        !(a = gatrec__malloc_array(w, sizeof *a)) || !(z = gatrec__malloc_array(w, sizeof *z)) ||
        !(mu = gatrec__malloc_array(2, sizeof *mu))) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    double sum = 0;
    for (size_t j = 0; j < n; j++) {
        src[j] = (int32_t)j;
        attr[j] = ratings[j];
        sum += ratings[j];
    }
    if (self) {
        src[n] = (int32_t)n;
        attr[n] = n ? (float)(sum / (double)n) : 0.0f;
    }
    for (size_t t = 0; t <= n; t++)
        off[t] = 0;
    off[n + 1] = m;
    gatrec__edges E = {n + 1, m, off, src, attr, NULL, NULL, NULL};
    if (att)
        memset(att, 0, n * sizeof *att);
    memcpy(h, h0, G->fdim * sizeof *h);
    for (size_t l = 0; l < G->nlayers && !rc; l++) {
        gat_layer *L = &G->L[l];
        float *next = h + w;
        if (states)
            memcpy(states[l], h, L->in * sizeof *h);
        for (size_t j = 0; j < n; j++)
            memcpy(xl + j * L->hc, G->ixl[l] + (size_t)nbr[j] * L->hc, L->hc * sizeof *xl);
        if ((rc = K->linear(1, 1, L->in, L->hc, h, P(G, L->Wl), P(G, L->bl), xl + n * L->hc)) ||
            (rc = K->linear(1, 1, L->in, L->hc, h, P(G, L->Wr), P(G, L->br), xr + n * L->hc)))
            break;
        if (xls)
            memcpy(xls[l], xl + n * L->hc, L->hc * sizeof *xl);
        float *outs = gatrec__malloc_array((n + 1) * L->out, sizeof *outs);
        if (!outs || (rc = K->gat_forward(1, &E, &L->sh, xl, xr, P(G, L->we), P(G, L->att), P(G, L->bias), alpha, outs))) {
            free(outs);
            rc = rc ? rc : GATREC_ENOMEM;
            break;
        }
        memcpy(a, outs + n * L->out, L->out * sizeof *a);
        free(outs);
        for (size_t j = 0; att && j < n; j++)
            for (size_t k = 0; k < L->sh.heads; k++)
                att[j] += alpha[j * L->sh.heads + k] / (float)(L->sh.heads * G->nlayers);
        if (G->flags & GATREC_GAT_NO_LAYERNORM)
            memcpy(z, a, L->out * sizeof *z);
        else if ((rc = K->layernorm(1, 1, L->out, 1e-5f, a, P(G, L->gamma), P(G, L->beta), z, mu, mu + 1)))
            break;
        if (L->Wres != SIZE_MAX)
            rc = K->linear(1, 1, L->in, L->out, h, P(G, L->Wres), NULL, next);
        else if (!(G->flags & GATREC_GAT_NO_RESIDUAL))
            memcpy(next, h, L->out * sizeof *h);
        else
            memset(next, 0, L->out * sizeof *h);
        for (size_t k = 0; k < L->out; k++)
            next[k] += leaky(z[k], G->act_slope);
        memmove(h, next, L->out * sizeof *h);
    }
    if (!rc)
        memcpy(emb, h, G->L[G->nlayers - 1].out * sizeof *emb);
done:
    free(off);
    free(src);
    free(attr);
    free(h);
    free(xl);
    free(xr);
    free(alpha);
    free(a);
    free(z);
    free(mu);
    return rc;
}

int gatrec__gat_fold_user(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                         const float *features, float *emb)
{
    gat *G = m->impl;
    size_t u = (size_t)user;
    float *states[MAX_LAYERS];
    if (u + 1 > G->ucap) {
        size_t cap = 2 * G->ucap;
        for (size_t l = 0; l < G->nlayers; l++)
            if (gatrec__resize_rows(&G->ustate[l], cap, G->L[l].in))
                return GATREC_ENOMEM;
        G->ucap = cap;
    }
    for (size_t l = 0; l < G->nlayers; l++)
        states[l] = G->ustate[l] + u * G->L[l].in;
    return node_forward(G, features ? features : G->umean, items, ratings, n, emb, states, NULL, NULL);
}

/* A user's kept input state: its rows of every layer's input, one after the other. */
size_t gatrec__gat_user_state_width(const gatrec_model *m)
{
    const gat *G = m->impl;
    size_t width = 0;
    for (size_t l = 0; l < G->nlayers; l++)
        width += G->L[l].in;
    return width;
}

void gatrec__gat_user_state(gatrec_model *m, int32_t user, float *row, int put)
{
    gat *G = m->impl;
    for (size_t l = 0; l < G->nlayers; row += G->L[l].in, l++) {
        float *at = G->ustate[l] + (size_t)user * G->L[l].in;
        memcpy(put ? at : row, put ? row : at, G->L[l].in * sizeof *row);
    }
}

/* A user's input features (trained, or a folded user's) stay; its ratings change. node_forward
 * copies h0 before it writes the states, so the user's own row may be both. */
int gatrec__gat_refold_user(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                           float *emb)
{
    gat *G = m->impl;
    float *states[MAX_LAYERS], *tmp;
    size_t width = gatrec__gat_user_state_width(m);
    int rc;
    if (!(tmp = gatrec__malloc_array(width + 1, sizeof *tmp))) /* the new states apart until they are whole */
        return GATREC_ENOMEM;
    for (size_t l = 0, at = 0; l < G->nlayers; at += G->L[l].in, l++)
        states[l] = tmp + at;
    rc = node_forward(G, G->ustate[0] + (size_t)user * G->L[0].in, items, ratings, n, emb, states, NULL, NULL);
    for (size_t l = 0; !rc && l < G->nlayers; l++)
        memcpy(G->ustate[l] + (size_t)user * G->L[l].in, states[l], G->L[l].in * sizeof *tmp);
    free(tmp);
    return rc;
}

int gatrec__gat_fold_item(gatrec_model *m, const float *features, float *emb)
{
    gat *G = m->impl;
    size_t i = m->items.count;
    float *states[MAX_LAYERS], *xls[MAX_LAYERS];
    if (i + 1 > G->icap) {
        size_t cap = 2 * G->icap;
        for (size_t l = 0; l < G->nlayers; l++)
            if (gatrec__resize_rows(&G->istate[l], cap, G->L[l].in) || gatrec__resize_rows(&G->ixl[l], cap, G->L[l].hc))
                return GATREC_ENOMEM;
        G->icap = cap;
    }
    for (size_t l = 0; l < G->nlayers; l++) {
        states[l] = G->istate[l] + i * G->L[l].in;
        xls[l] = G->ixl[l] + i * G->L[l].hc;
    }
    return node_forward(G, features ? features : G->imean, NULL, NULL, 0, emb, states, xls, NULL);
}

/* A GAT reads caller features at fold-in only when it was trained on caller features: its own
 * random input features have no meaning outside the model. */
size_t gatrec__gat_feature_dim(const gatrec_model *m)
{
    const gat *G = m->impl;
    for (int k = 0; k < 32; k++)
        if (G->fingerprint[k])
            return G->fdim;
    return 0;
}

int gatrec__gat_attention(const gatrec_model *m, int32_t user, float *weights)
{
    gat *G = m->impl;
    const gatrec__csr *s = &m->seen;
    float *emb = gatrec__malloc_array(m->dim, sizeof *emb);
    int rc;
    if (!emb)
        return GATREC_ENOMEM;
    rc = node_forward(G, G->ustate[0] + (size_t)user * G->fdim, s->col + s->off[user], s->val + s->off[user],
                      s->off[user + 1] - s->off[user], emb, NULL, NULL, weights);
    free(emb);
    return rc;
}

int gatrec__gat_save(const gatrec_model *m, gatrec__buf *b)
{
    const gat *G = m->impl;
    size_t xu = m->users.count - G->nu, xi = m->items.count - G->ni;
    int rc = GATREC_OK;
#define PUT(call) \
    if (!rc)      \
    rc = (call)
    PUT(gatrec__buf_put_u32(b, GAT_FORMAT));
    PUT(gatrec__buf_put_str(b, G->spec));
    PUT(gatrec__buf_put_str(b, G->K->name));
    PUT(gatrec__buf_put_u32(b, (uint32_t)G->flags));
    PUT(gatrec__buf_put_f32s(b, &G->L[0].sh.slope, 1));
    PUT(gatrec__buf_put_f32s(b, &G->act_slope, 1));
    PUT(gatrec__buf_put_f32s(b, &G->dropout, 1));
    PUT(gatrec__buf_put_u64(b, G->fdim));
    PUT(gatrec__buf_put_u32(b, (uint32_t)(G->frozen | G->random << 1)));
    PUT(gatrec__buf_put_u64(b, G->nu));
    PUT(gatrec__buf_put_u64(b, G->ni));
    PUT(gatrec__buf_put(b, G->fingerprint, 32));
    PUT(gatrec__buf_put_u64(b, G->nparams));
    PUT(gatrec__buf_put_f32s(b, G->theta, G->nparams));
    if (G->frozen)
        PUT(gatrec__buf_put_f32s(b, G->x0, (G->nu + G->ni) * G->fdim));
    PUT(gatrec__buf_put_f32s(b, G->umean, G->fdim));
    PUT(gatrec__buf_put_f32s(b, G->imean, G->fdim));
    /* nodes folded in after training: their states (the trained ones are recomputed on load) */
    PUT(gatrec__buf_put_u64(b, xu));
    PUT(gatrec__buf_put_u64(b, xi));
    for (size_t l = 0; l < G->nlayers; l++) {
        PUT(gatrec__buf_put_f32s(b, G->ustate[l] + G->nu * G->L[l].in, xu * G->L[l].in));
        PUT(gatrec__buf_put_f32s(b, G->istate[l] + G->ni * G->L[l].in, xi * G->L[l].in));
        PUT(gatrec__buf_put_f32s(b, G->ixl[l] + G->ni * G->L[l].hc, xi * G->L[l].hc));
    }
    PUT(gatrec__emb_save(m, b));
#undef PUT
    return rc;
}

int gatrec__gat_load(gatrec_model *m, gatrec__reader *r)
{
    gat *G = gatrec__calloc(1, sizeof *G);
    char *spec = NULL, *kname = NULL;
    gatrec__csr by_user = {0}, by_item = {0};
    gatrec_model_options o = m->opts;
    uint32_t bits;
    uint64_t nparams, xu, xi;
    float slope;
    int rc = GATREC_EFORMAT;
    if (!G)
        return GATREC_ENOMEM;
    m->impl = G;
    if (gatrec__read_u32(r) != GAT_FORMAT || !(spec = gatrec__read_str(r)) || !(kname = gatrec__read_str(r)))
        goto done;
    o.gat_flags = (int)gatrec__read_u32(r);
    if (gatrec__read_f32s(r, &slope, 1) || gatrec__read_f32s(r, &o.activation_slope, 1) ||
        gatrec__read_f32s(r, &o.dropout, 1))
        goto done;
    o.attention_slope = slope;
    if ((rc = gatrec__gat_configure(G, &o, spec, getenv("GATREC_KERNELS") ? NULL : kname))) {
        rc = rc == GATREC_EINVAL ? GATREC_EFORMAT : rc;
        goto done;
    }
    rc = GATREC_EFORMAT;
    G->fdim = (size_t)gatrec__read_u64(r);
    bits = gatrec__read_u32(r);
    G->frozen = bits & 1;
    G->random = (bits >> 1) & 1;
    G->nu = (size_t)gatrec__read_u64(r);
    G->ni = (size_t)gatrec__read_u64(r);
    const void *fp = gatrec__read_bytes(r, 32);
    nparams = gatrec__read_u64(r);
    /* the parameters must be in the file before anything is sized from the header's numbers */
    if (r->bad || !fp || G->fdim == 0 || G->fdim > 1u << 20 || G->nu > m->users.count || G->ni > m->items.count ||
        nparams > (uint64_t)(r->end - r->p) / 4 || (G->nu + G->ni) * G->fdim > nparams + (uint64_t)(r->end - r->p) / 4)
        goto done;
    memcpy(G->fingerprint, fp, 32);
    /* the trained graph: the first nu users' rows of the seen matrix */
    by_user = m->seen;
    by_user.nrows = G->nu;
    for (size_t e = 0; e < m->seen.off[G->nu]; e++)
        if ((size_t)m->seen.col[e] >= G->ni)
            goto done;
    {
        int32_t *rows = gatrec__malloc_array(m->seen.off[G->nu] + 1, sizeof *rows);
        size_t dup;
        if (!rows) {
            rc = GATREC_ENOMEM;
            goto done;
        }
        for (size_t u = 0; u < G->nu; u++)
            for (size_t e = m->seen.off[u]; e < m->seen.off[u + 1]; e++)
                rows[e] = (int32_t)u;
        rc = gatrec__csr_build(&by_item, G->ni, G->nu, m->seen.off[G->nu], m->seen.col, rows, m->seen.val, &dup);
        free(rows);
        if (rc)
            goto done;
    }
    if ((rc = gatrec__gat_prepare(G, &by_user, &by_item)))
        goto done;
    rc = GATREC_EFORMAT;
    if (nparams != G->nparams || gatrec__read_f32s(r, G->theta, G->nparams))
        goto done;
    if (G->frozen) {
        size_t n = (G->nu + G->ni) * G->fdim;
        if ((size_t)(r->end - r->p) / 4 < n)
            goto done;
        if (!(G->x0 = gatrec__malloc_array(n, sizeof *G->x0))) {
            rc = GATREC_ENOMEM;
            goto done;
        }
        if (gatrec__read_f32s(r, G->x0, n))
            goto done;
    }
    if ((rc = gatrec__gat_forward(G, 0, 0)) || (rc = gatrec__gat_keep_states(G)))
        goto done;
    gatrec__gat_free_activations(G);
    rc = GATREC_EFORMAT;
    if (gatrec__read_f32s(r, G->umean, G->fdim) || gatrec__read_f32s(r, G->imean, G->fdim))
        goto done;
    xu = gatrec__read_u64(r);
    xi = gatrec__read_u64(r);
    if (r->bad || xu != m->users.count - G->nu || xi != m->items.count - G->ni)
        goto done;
    for (size_t l = 0; l < G->nlayers; l++) {
        if (gatrec__resize_rows(&G->ustate[l], m->users.count + 16, G->L[l].in) ||
            gatrec__resize_rows(&G->istate[l], m->items.count + 16, G->L[l].in) ||
            gatrec__resize_rows(&G->ixl[l], m->items.count + 16, G->L[l].hc)) {
            rc = GATREC_ENOMEM;
            goto done;
        }
        if (gatrec__read_f32s(r, G->ustate[l] + G->nu * G->L[l].in, (size_t)xu * G->L[l].in) ||
            gatrec__read_f32s(r, G->istate[l] + G->ni * G->L[l].in, (size_t)xi * G->L[l].in) ||
            gatrec__read_f32s(r, G->ixl[l] + G->ni * G->L[l].hc, (size_t)xi * G->L[l].hc))
            goto done;
    }
    G->ucap = m->users.count + 16;
    G->icap = m->items.count + 16;
    rc = gatrec__emb_load(m, r);
    if (!rc && m->dim != G->L[G->nlayers - 1].out)
        rc = GATREC_EFORMAT;
done:
    gatrec__csr_free(&by_item);
    free(spec);
    free(kname);
    return rc;
}

