/* EASE (Steck, 2019): a closed-form item-item model.
 *
 *   G = X^T X + lambda I,  P = G^-1,  B = I - P diagMat(1 / diag(P)),  diag(B) = 0
 *
 * X is the users x items matrix of liked training ratings (rating >= the graph's liked
 * threshold; every rating with a threshold of 1). A user's scores are x_u B: the sum of the
 * rows of B of the items they liked, so a new user folds in from their ratings alone. B is
 * stored with row j holding what item j contributes to every item. An item nobody liked in
 * training has a zero row and column: EASE cannot score it (it ranks last). */
#include <stdlib.h>
#include <string.h>

#include "../kernels/dense.h"
#include "model.h"

#define EASE_DEFAULT_LAMBDA 250.0f /* from the search on u1+valid:0.1 in docs/model.md */

typedef struct ease {
    size_t n;     /* items */
    float lambda;
    float *b;     /* n x n */
} ease;

typedef struct gram_job {
    const gatrec_graph *g;
    float *G;
} gram_job;

/* Row i of X^T X: for each user who liked i, +1 on every item that user liked. */
static void gram_row(void *ctx, size_t i)
{
    gram_job *J = ctx;
    const gatrec__csr *bi = &J->g->by_item, *bu = &J->g->by_user;
    float *row = J->G + i * bi->nrows, liked = J->g->liked;
    memset(row, 0, bi->nrows * sizeof *row);
    for (size_t e = bi->off[i]; e < bi->off[i + 1]; e++) {
        size_t u = (size_t)bi->col[e];
        if (bi->val[e] < liked)
            continue;
        for (size_t f = bu->off[u]; f < bu->off[u + 1]; f++)
            if (bu->val[f] >= liked)
                row[bu->col[f]] += 1.0f;
    }
}

static int ease_train(gatrec_model *m, const gatrec_graph *g)
{
    size_t n = g->items.count;
    float lambda = m->opts.lambda == 0 ? EASE_DEFAULT_LAMBDA : m->opts.lambda;
    ease *E;
    int rc;
    if (!(lambda > 0) || lambda > 1e12f)
        return gatrec__error(GATREC_EINVAL, "EASE: lambda must be a positive number, not %g", lambda);
    if (!n)
        return gatrec__error(GATREC_EEMPTY, "EASE: the graph has no items");
    if (n > 65536)
        return gatrec__error(GATREC_EINVAL, "EASE: %zu items is more than the 65,536 it solves for (it needs "
                             "items^2 floats twice)", n);
    if (!(E = gatrec__calloc(1, sizeof *E)))
        return GATREC_ENOMEM;
    E->n = n;
    E->lambda = lambda;
    if (!(E->b = gatrec__malloc_array(n * n, sizeof *E->b))) {
        free(E);
        return gatrec__error(GATREC_ENOMEM, "EASE: out of memory for the %zu x %zu item matrix", n, n);
    }
    m->impl = E;
    gram_job J = {g, E->b};
    gatrec__parallel(m->opts.threads, n, gram_row, &J);
    for (size_t i = 0; i < n; i++)
        E->b[i * n + i] += lambda;
    if ((rc = gatrec__spd_inverse(m->opts.threads, n, E->b)))
        return gatrec__error_context(rc, "EASE");
    /* B[j][i] = -P[j][i] / P[i][i], zero diagonal; P is symmetric */
    float *d = gatrec__malloc_array(n, sizeof *d);
    if (!d)
        return GATREC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        d[i] = -1.0f / E->b[i * n + i];
    for (size_t j = 0; j < n; j++) {
        float *row = E->b + j * n;
        for (size_t i = 0; i < n; i++)
            row[i] *= d[i];
        row[j] = 0.0f;
    }
    free(d);
    m->dim = 0;
    return GATREC_OK;
}

static void ease_score_all(const gatrec_model *m, int32_t user, float *scores)
{
    const ease *E = m->impl;
    const gatrec__csr *s = &m->seen;
    memset(scores, 0, m->items.count * sizeof *scores);
    for (size_t e = s->off[user]; e < s->off[user + 1]; e++) { /* x_u: liked 1, disliked -dislike */
        float x = gatrec__rating_weight(m, s->val[e]);
        if (x == 0 || (size_t)s->col[e] >= E->n)
            continue;
        const float *row = E->b + (size_t)s->col[e] * E->n;
        for (size_t i = 0; i < E->n; i++)
            scores[i] += x * row[i];
    }
}

static int ease_save(const gatrec_model *m, gatrec__buf *b)
{
    const ease *E = m->impl;
    uint32_t lam;
    memcpy(&lam, &E->lambda, 4);
    int rc = gatrec__buf_put_u64(b, E->n);
    if (!rc)
        rc = gatrec__buf_put_u32(b, lam);
    if (!rc)
        rc = gatrec__buf_put_f32s(b, E->b, E->n * E->n);
    return rc;
}

static int ease_load(gatrec_model *m, gatrec__reader *r)
{
    uint64_t n = gatrec__read_u64(r);
    uint32_t lam = gatrec__read_u32(r);
    ease *E;
    if (r->bad || n != m->items.count || n > 65536 || n * n > (uint64_t)(r->end - r->p) / 4)
        return GATREC_EFORMAT;
    if (!(E = gatrec__calloc(1, sizeof *E)))
        return GATREC_ENOMEM;
    m->impl = E;
    E->n = (size_t)n;
    memcpy(&E->lambda, &lam, 4);
    if (!(E->b = gatrec__malloc_array(E->n * E->n + 1, sizeof *E->b)))
        return GATREC_ENOMEM;
    return gatrec__read_f32s(r, E->b, E->n * E->n);
}

static void ease_free(gatrec_model *m)
{
    ease *E = m->impl;
    if (E)
        free(E->b);
    free(E);
    m->impl = NULL;
}

/* A new user is their ratings: the generic code stores them as the user's seen row, and
 * scoring reads that row. Nothing else to compute (popularity's fold-in is the same). */

/* Evidence: what each liked item of the user contributes to `item`'s score (B[j][item] > 0). */
static int ease_evidence(const gatrec_model *m, int32_t user, int32_t item, float *w)
{
    const ease *E = m->impl;
    const gatrec__csr *s = &m->seen;
    for (size_t e = s->off[user], k = 0; e < s->off[user + 1]; e++, k++) {
        float b = s->val[e] >= m->liked && (size_t)s->col[e] < E->n ? E->b[(size_t)s->col[e] * E->n + (size_t)item] : 0;
        w[k] = b > 0 ? b : 0;
    }
    return GATREC_OK;
}

/* Similar items: the symmetrised weights (B[item][j] + B[j][item]) / 2. */
static void ease_similar(const gatrec_model *m, int32_t item, float *sim)
{
    const ease *E = m->impl;
    size_t n = E->n, it = (size_t)item;
    for (size_t j = 0; j < m->items.count; j++)
        sim[j] = it < n && j < n ? 0.5f * (E->b[it * n + j] + E->b[j * n + it]) : 0.0f;
}

const gatrec__model_ops gatrec__ease_ops = {
    .kind = GATREC_MODEL_EASE,
    .name = "ease",
    .train = ease_train,
    .score_all = ease_score_all,
    .save = ease_save,
    .load = ease_load,
    .free = ease_free,
    .fold_user = gatrec__fold_user_by_ratings,
    .refold_user = gatrec__refold_user_by_ratings,
    .evidence = ease_evidence,
    .similar = ease_similar,
    .transductive_items = 1,
};
