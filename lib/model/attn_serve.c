/* attn's serving side: the states kept after training, a new user or item folded in from their
 * ratings and text, and the model file (the parameters fold-in needs and the states). */
#include "attn.h"

/* ---- serving state ---- */

static float *istate(const attn *A, size_t l, size_t i)
{
    return A->istate + (l * A->icap + i) * A->d;
}

/* The serving attention's source side of items [first, first + n): P_src of their layer 0, one
 * item at a time (as fold-in computed it before it was kept: the same bits). */
static int item_sources(attn *A, size_t first, size_t n)
{
    int rc = GATREC_OK;
    for (size_t i = first; i < first + n && !rc && has_attention(A); i++)
        rc = A->K->linear(1, 1, A->d, A->ha, istate(A, 0, i), PRM(A, A->o_ps), NULL, A->ixs + i * A->ha);
    return rc;
}

/* The item rows of H_0 .. H_{L-1} and the user rows of H_0 from the last (eval) forward. */
int gatrec__attn_keep_states(attn *A)
{
    size_t nu = A->nu, ni = A->ni, d = A->d, nd = (nu + ni) * d, Lk = A->L ? A->L : 1;
    A->ucap = nu + 16;
    A->icap = ni + 16;
    if (gatrec__resize_rows(&A->ustate, A->ucap, d) || gatrec__resize_rows(&A->istate, A->icap * Lk, d))
        return GATREC_ENOMEM;
    memcpy(A->ustate, A->H, nu * d * sizeof *A->ustate);
    for (size_t l = 0; l < Lk; l++)
        memcpy(A->istate + l * A->icap * d, A->H + (l < A->L ? l : 0) * nd + nu * d, ni * d * sizeof *A->istate);
    if (gatrec__resize_rows(&A->ixs, A->icap, A->ha))
        return GATREC_ENOMEM;
    return item_sources(A, 0, ni);
}

/* Grow the per-layer item states to cap rows (the layer blocks move). */
static int grow_items(attn *A, size_t cap)
{
    size_t d = A->d, Lk = A->L ? A->L : 1;
    float *p = gatrec__malloc_array(cap * Lk * d + 1, sizeof *p);
    if (!p)
        return GATREC_ENOMEM;
    for (size_t l = 0; l < Lk; l++)
        memcpy(p + l * cap * d, A->istate + l * A->icap * d, A->icap * d * sizeof *p);
    free(A->istate);
    A->istate = p;
    A->icap = cap;
    return gatrec__resize_rows(&A->ixs, cap, A->ha) ? GATREC_ENOMEM : GATREC_OK;
}


static void unit(float *v, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++)
        s += (double)v[k] * v[k];
    if (s > 1e-24)
        for (size_t k = 0; k < d; k++)
            v[k] = (float)(v[k] / sqrt(s));
}

/* A node's layer-0 text part: W_type features (or the mean text of its type). */
static int text_part(const attn *A, const float *W, const float *features, const float *mean, float *h)
{
    memset(h, 0, A->d * sizeof *h);
    if (!A->use_text)
        return GATREC_OK;
    return A->K->linear(1, 1, A->f, A->d, features ? features : mean, W, NULL, h);
}

/* The attention of a user (layer 0 h0, degree n) over the items it rated: weights[n] (alpha). */
static int user_alpha(const gatrec_model *m, const float *h0, const int32_t *items, const float *ratings, size_t n,
                      float *alpha)
{
    const attn *A = m->impl;
    size_t ha = A->ha;
    float *xd;
    double mx = -INFINITY, sum = 0;
    int rc = GATREC_OK;
    if (!has_attention(A)) {
        for (size_t j = 0; j < n; j++)
            alpha[j] = 1.0f / (float)n;
        return GATREC_OK;
    }
    if (!(xd = gatrec__malloc_array(ha, sizeof *xd)))
        return GATREC_ENOMEM;
    if ((rc = A->K->linear(1, 1, A->d, ha, h0, PRM(A, A->o_pd), NULL, xd)))
        goto done;
    for (size_t j = 0; j < n; j++) {
        const float *we = edge_weights_param(A), *att = PRM(A, A->o_att), *xs = A->ixs + (size_t)items[j] * ha;
        double e = 0;
        for (size_t c = 0; c < ha; c++)
            e += (double)att[c] * leaky(xs[c] + xd[c] + (we ? ratings[j] * we[c] : 0.0f), A->slope);
        alpha[j] = (float)e;
        mx = e > mx ? e : mx;
    }
    for (size_t j = 0; j < n; j++)
        sum += exp(alpha[j] - mx);
    for (size_t j = 0; j < n; j++)
        alpha[j] = (float)(exp(alpha[j] - mx) / sum);
done:
    free(xd);
    return rc;
}

/* A user's output from its layer 0 and rated items: the item states stand as they were trained. */
static int user_output(gatrec_model *m, const float *h0, const int32_t *items, const float *ratings, size_t n,
                       float *emb)
{
    attn *A = m->impl;
    size_t d = A->d;
    float *alpha = gatrec__malloc_array(n + 1, sizeof *alpha), *h = gatrec__malloc_array(d, sizeof *h);
    int rc = GATREC_OK;
    if (!alpha || !h) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    if (n && (rc = user_alpha(m, h0, items, ratings, n, alpha)))
        goto done;
    memcpy(emb, h0, d * sizeof *emb);
    /* H_{l+1}[u] = sum over rated items of w_ui H_l[i]; an item's degree is its training ratings
     * (at least 1: a new item has no neighbours to be scaled by) */
    for (size_t l = 0; l < A->L; l++) {
        memset(h, 0, d * sizeof *h);
        for (size_t j = 0; j < n; j++) {
            size_t i = (size_t)items[j];
            double di = i < A->ni && m->item_ratings[i] ? (double)m->item_ratings[i] : 1.0;
            float w = alpha[j] * (float)sqrt((double)n / di) * gatrec__attn_gain(A, ratings[j]);
            const float *x = istate(A, l, i);
            if (l > 0 && i >= A->ni)
                continue; /* a folded item has no propagated layers */
            for (size_t k = 0; k < d; k++)
                h[k] += w * x[k];
        }
        for (size_t k = 0; k < d; k++)
            emb[k] += h[k];
    }
    for (size_t k = 0; k < d; k++)
        emb[k] /= (float)(A->L + 1);
    if (A->unit)
        unit(emb, d);
done:
    free(alpha);
    free(h);
    return rc;
}

int gatrec__attn_fold_user(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                           const float *features, float *emb)
{
    attn *A = m->impl;
    size_t u = (size_t)user;
    int rc;
    if (u + 1 > A->ucap) {
        if (gatrec__resize_rows(&A->ustate, 2 * A->ucap, A->d))
            return GATREC_ENOMEM;
        A->ucap *= 2;
    }
    if ((rc = text_part(A, PRM(A, A->o_wu), features, A->umean, A->ustate + u * A->d)))
        return rc;
    return user_output(m, A->ustate + u * A->d, items, ratings, n, emb);
}

/* A user's layer 0 (a trained user's ID and text, a folded user's text) stays; its ratings change. */
int gatrec__attn_refold_user(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                             float *emb)
{
    attn *A = m->impl;
    return user_output(m, A->ustate + (size_t)user * A->d, items, ratings, n, emb);
}

/* A user's kept input state is its layer-0 row. */
size_t gatrec__attn_user_state_width(const gatrec_model *m)
{
    const attn *A = m->impl;
    return A->d;
}

void gatrec__attn_user_state(gatrec_model *m, int32_t user, float *row, int put)
{
    attn *A = m->impl;
    float *at = A->ustate + (size_t)user * A->d;
    memcpy(put ? at : row, put ? row : at, A->d * sizeof *row);
}

int gatrec__attn_fold_item(gatrec_model *m, const float *features, float *emb)
{
    attn *A = m->impl;
    size_t i = m->items.count, d = A->d;
    int rc;
    if (!A->use_text)
        return gatrec__error(GATREC_EUNSUPPORTED, "an attn model without text features cannot fold in a new item: "
                             "nothing describes it (train with features)");
    if (i + 1 > A->icap && (rc = grow_items(A, 2 * A->icap)))
        return rc;
    if ((rc = text_part(A, PRM(A, A->o_wi), features, A->imean, istate(A, 0, i))))
        return rc;
    for (size_t l = 1; l < A->L; l++)
        memset(istate(A, l, i), 0, d * sizeof(float));
    if ((rc = item_sources(A, i, 1)))
        return rc;
    for (size_t k = 0; k < d; k++) /* no ratings: no propagated layers */
        emb[k] = istate(A, 0, i)[k] / (float)(A->L + 1);
    if (A->unit)
        unit(emb, d);
    return GATREC_OK;
}

int gatrec__attn_attention(const gatrec_model *m, int32_t user, float *weights)
{
    const attn *A = m->impl;
    const gatrec__csr *s = &m->seen;
    size_t n = s->off[user + 1] - s->off[user];
    return n ? user_alpha(m, A->ustate + (size_t)user * A->d, s->col + s->off[user], s->val + s->off[user], n, weights)
             : GATREC_OK;
}

size_t gatrec__attn_feature_dim(const gatrec_model *m)
{
    const attn *A = m->impl;
    return A->use_text ? A->f : 0;
}

/* Without text, an item without training ratings has nothing to be scored by: it ranks last. */
int gatrec__attn_transductive(const gatrec_model *m)
{
    const attn *A = m->impl;
    return !A->use_text;
}

/* ---- persistence: the parameters fold-in needs and the serving states (no ID table) ---- */

int gatrec__attn_save(const gatrec_model *m, gatrec__buf *b)
{
    const attn *A = m->impl;
    size_t nu = m->users.count, ni = m->items.count, Lk = A->L ? A->L : 1, skip = A->o_wu;
    int rc = GATREC_OK;
#define PUT(call) \
    if (!rc)      \
    rc = (call)
    PUT(gatrec__buf_put_u32(b, ATTN_FORMAT));
    PUT(gatrec__buf_put_str(b, A->K->name));
    PUT(gatrec__buf_put_u32(b, (uint32_t)(A->flags | A->use_id << 8 | A->use_text << 9 | A->unit << 10)));
    PUT(gatrec__buf_put_u64(b, A->d));
    PUT(gatrec__buf_put_u64(b, A->f));
    PUT(gatrec__buf_put_u64(b, A->ha));
    PUT(gatrec__buf_put_u64(b, A->L));
    PUT(gatrec__buf_put_f32s(b, &A->slope, 1));
    PUT(gatrec__buf_put_u64(b, A->nu));
    PUT(gatrec__buf_put_u64(b, A->ni));
    PUT(gatrec__buf_put_u64(b, A->nparams - skip));
    PUT(gatrec__buf_put_f32s(b, A->theta + skip, A->nparams - skip));
    PUT(gatrec__buf_put_f32s(b, A->umean, A->f));
    PUT(gatrec__buf_put_f32s(b, A->imean, A->f));
    PUT(gatrec__buf_put_f32s(b, A->ustate, nu * A->d));
    for (size_t l = 0; l < Lk; l++)
        PUT(gatrec__buf_put_f32s(b, istate(A, l, 0), ni * A->d));
    PUT(gatrec__emb_save(m, b));
#undef PUT
    return rc;
}

int gatrec__attn_load(gatrec_model *m, gatrec__reader *r)
{
    attn *A = gatrec__calloc(1, sizeof *A);
    char *kname = NULL;
    size_t nu = m->users.count, ni = m->items.count, Lk;
    uint32_t bits;
    uint64_t nparams;
    int rc = GATREC_EFORMAT;
    if (!A)
        return GATREC_ENOMEM;
    m->impl = A;
    if (gatrec__read_u32(r) != ATTN_FORMAT || !(kname = gatrec__read_str(r)))
        goto done;
    bits = gatrec__read_u32(r);
    A->flags = (int)(bits & 0xff);
    A->use_id = (bits >> 8) & 1;
    A->use_text = (bits >> 9) & 1;
    A->unit = (bits >> 10) & 1;
    A->d = (size_t)gatrec__read_u64(r);
    A->f = (size_t)gatrec__read_u64(r);
    A->ha = (size_t)gatrec__read_u64(r);
    A->L = (size_t)gatrec__read_u64(r);
    if (gatrec__read_f32s(r, &A->slope, 1))
        goto done;
    A->disliked = m->disliked; /* the star rule is the model's (its file's configuration) */
    A->dislike = m->dislike;
    A->nu = (size_t)gatrec__read_u64(r);
    A->ni = (size_t)gatrec__read_u64(r);
    nparams = gatrec__read_u64(r);
    if (r->bad || (bits & ~0x7ffu) || (A->flags & ~(GATREC_ATTN_UNIFORM | GATREC_ATTN_NO_EDGE_ATTR)) ||
        (!A->use_id && !A->use_text) || (A->use_text && !A->f) || A->d == 0 || A->d > 4096 || A->ha == 0 ||
        A->ha > 1024 || A->f > 1u << 20 || A->L > MAX_PROP || A->nu > nu || A->ni > ni || !isfinite(A->slope))
        goto done;
    if (!(A->K = gatrec__kernels_get(getenv("GATREC_KERNELS") ? NULL : kname))) {
        rc = GATREC_EFORMAT;
        goto done;
    }
    gatrec__attn_layout(A); /* the ID table (first) is not in the file */
    Lk = A->L ? A->L : 1;
    if (nparams != A->nparams - A->o_wu || nparams > (uint64_t)(r->end - r->p) / 4 ||
        (nu + Lk * ni) * A->d > (size_t)(r->end - r->p) / 4)
        goto done;
    A->ucap = nu + 16;
    A->icap = ni + 16;
    if (!(A->theta = gatrec__calloc(A->nparams + 1, sizeof *A->theta)) ||
        !(A->umean = gatrec__calloc(A->f + 1, sizeof *A->umean)) ||
        !(A->imean = gatrec__calloc(A->f + 1, sizeof *A->imean)) || gatrec__resize_rows(&A->ustate, A->ucap, A->d) ||
        gatrec__resize_rows(&A->istate, A->icap * Lk, A->d)) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    if (gatrec__read_f32s(r, A->theta + A->o_wu, (size_t)nparams) || gatrec__read_f32s(r, A->umean, A->f) ||
        gatrec__read_f32s(r, A->imean, A->f) || gatrec__read_f32s(r, A->ustate, nu * A->d))
        goto done;
    for (size_t l = 0; l < Lk; l++)
        if (gatrec__read_f32s(r, istate(A, l, 0), ni * A->d))
            goto done;
    rc = gatrec__emb_load(m, r);
    if (!rc && m->dim != A->d)
        rc = GATREC_EFORMAT;
    if (!rc && (rc = gatrec__resize_rows(&A->ixs, A->icap, A->ha) ? GATREC_ENOMEM : GATREC_OK) == GATREC_OK)
        rc = item_sources(A, 0, ni);
done:
    free(kname);
    return rc;
}
