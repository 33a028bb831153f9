/* The content baseline: no learning at all. An item is its text features (L2-normalised); a
 * user is the normalised mean of the items they liked in training; the score is the cosine of
 * the two. New users fold in from their ratings and new items from their features, so it is
 * the floor every cold-start result must clear. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static void normalise(float *v, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++)
        s += (double)v[k] * v[k];
    if (s > 0) {
        float inv = (float)(1.0 / sqrt(s));
        for (size_t k = 0; k < d; k++)
            v[k] *= inv;
    }
}

/* The normalised sum of the item vectors of the liked ones among (items, ratings), less
 * `dislike` times those of the disliked ones (the star rule). */
static void mean_of_liked(const gatrec_model *m, const int32_t *items, const float *ratings, size_t n, float *out)
{
    size_t d = m->dim;
    memset(out, 0, d * sizeof *out);
    for (size_t e = 0; e < n; e++) {
        float x = gatrec__rating_weight(m, ratings[e]);
        if (x == 0)
            continue;
        const float *v = m->iemb + (size_t)items[e] * d;
        for (size_t k = 0; k < d; k++)
            out[k] += x * v[k];
    }
    normalise(out, d);
}

static int content_train(gatrec_model *m, const gatrec_graph *g)
{
    size_t nu = g->users.count, ni = g->items.count, d = m->opts.feature_dim;
    const float *f = m->opts.features;
    if (!f || !d)
        return gatrec__error(GATREC_EINVAL, "the content model needs features (gatrec_model_options.features: "
                             "item rows of text features, e.g. from gatrec_features_from_profiles)");
    m->dim = d;
    m->uemb = gatrec__malloc_array(nu * d + 1, sizeof *m->uemb);
    m->iemb = gatrec__malloc_array(ni * d + 1, sizeof *m->iemb);
    if (!m->uemb || !m->iemb)
        return GATREC_ENOMEM;
    memcpy(m->iemb, f + nu * d, ni * d * sizeof *m->iemb);
    for (size_t i = 0; i < ni; i++)
        normalise(m->iemb + i * d, d);
    for (size_t u = 0; u < nu; u++) {
        const gatrec__csr *c = &g->by_user;
        mean_of_liked(m, c->col + c->off[u], c->val + c->off[u], c->off[u + 1] - c->off[u], m->uemb + u * d);
    }
    return GATREC_OK;
}

static int content_refold_user(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                               float *emb)
{
    (void)user;
    mean_of_liked(m, items, ratings, n, emb);
    return GATREC_OK;
}

static int content_fold_user(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                             const float *features, float *emb)
{
    (void)features; /* a user is what they liked; their own text plays no part */
    return content_refold_user(m, user, items, ratings, n, emb);
}

static int content_fold_item(gatrec_model *m, const float *features, float *emb)
{
    if (!features)
        return gatrec__error(GATREC_EINVAL, "the content model folds in an item from its features: give them");
    memcpy(emb, features, m->dim * sizeof *emb);
    for (size_t k = 0; k < m->dim; k++)
        if (!isfinite(emb[k]))
            return gatrec__error(GATREC_EINVAL, "feature %zu of the new item is not a finite number", k);
    normalise(emb, m->dim);
    return GATREC_OK;
}

static size_t content_feature_dim(const gatrec_model *m)
{
    return m->dim;
}

static void content_free(gatrec_model *m)
{
    (void)m;
}

const gatrec__model_ops gatrec__content_ops = {
    .kind = GATREC_MODEL_CONTENT,
    .name = "content",
    .train = content_train,
    .score_all = gatrec__emb_score_all,
    .save = gatrec__emb_save,
    .load = gatrec__emb_load,
    .free = content_free,
    .fold_user = content_fold_user,
    .refold_user = content_refold_user,
    .fold_item = content_fold_item,
    .feature_dim = content_feature_dim,
    .emb_scores = 1,
};
