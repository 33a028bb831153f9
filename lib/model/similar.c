/* What a model says about items: similar items (centred cosine of item embeddings) and the
 * evidence for a recommendation (the user's rated items that most support it). */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "../data/reclist.h"
#include "../embed/embed.h"
#include "../kernels/dense.h"
#include "model.h"

/* x - c, squared, summed in double: the one order every norm and product below uses */
static double centred_dot(const float *a, const float *b, const float *c, size_t d)
{
    double ab = 0;
    for (size_t k = 0; k < d; k++)
        ab += ((double)a[k] - c[k]) * ((double)b[k] - c[k]);
    return ab;
}

/* The mean item embedding: similarities are taken around it, so that a direction every item
 * shares (the cosine term of the loss pulls users and items together) does not make every
 * item look alike. Taken once per item count and kept in the model with each item's squared norm
 * around it (they were taken for every evidence call: most of a served attn request's time);
 * NULL when out of memory. */
static const float *item_centre(const gatrec_model *cm, const double **norm2)
{
    gatrec_model *m = (gatrec_model *)cm; /* a cache: what the model says does not change */
    const float *out;
    pthread_mutex_lock(&m->centre_mu);
    if (!m->centre || m->centre_items != m->items.count) {
        float *c = gatrec__calloc(m->dim + 1, sizeof *c);
        double *n2 = gatrec__malloc_array(m->items.count + 1, sizeof *n2);
        for (size_t i = 0; c && i < m->items.count; i++)
            for (size_t k = 0; k < m->dim; k++)
                c[k] += m->iemb[i * m->dim + k] / (float)m->items.count;
        for (size_t i = 0; c && n2 && i < m->items.count; i++)
            n2[i] = centred_dot(m->iemb + i * m->dim, m->iemb + i * m->dim, c, m->dim);
        if (c && n2) {
            free(m->centre);
            free(m->centre_norm2);
            m->centre = c;
            m->centre_norm2 = n2;
            m->centre_items = m->items.count;
        } else {
            free(c);
            free(n2);
        }
    }
    out = m->centre && m->centre_items == m->items.count ? m->centre : NULL;
    *norm2 = m->centre_norm2;
    pthread_mutex_unlock(&m->centre_mu);
    return out;
}

/* centred_dot of item b with four items a[0..3] at once: four sums, each in centred_dot's order
 * (the same bits), which the processor runs side by side instead of one after the other */
static void centred_dot4(const float *const a[4], const float *b, const float *c, size_t d, double out[4])
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t k = 0; k < d; k++) {
        double y = (double)b[k] - c[k];
        s0 += ((double)a[0][k] - c[k]) * y;
        s1 += ((double)a[1][k] - c[k]) * y;
        s2 += ((double)a[2][k] - c[k]) * y;
        s3 += ((double)a[3][k] - c[k]) * y;
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
}

static float cosine_of(double ab, double aa, double bb)
{
    return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0.0f;
}

/* The cosine of items i and j around the centre */
static float centred_cosine(const gatrec_model *m, int32_t i, int32_t j, const float *c, const double *norm2)
{
    return cosine_of(centred_dot(m->iemb + (size_t)i * m->dim, m->iemb + (size_t)j * m->dim, c, m->dim), norm2[i],
                     norm2[j]);
}

GATREC_API int gatrec_model_similar_items(const gatrec_model *model, int32_t item, size_t k, int32_t *items,
                                          float *scores, size_t *count)
{
    float *sim;
    int rc = gatrec__model_check_item(model, item);
    if (rc)
        return rc;
    if (!count || (k && !items))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_similar_items: NULL items or count");
    if (!(sim = gatrec__calloc(model->items.count + 1, sizeof *sim)))
        return GATREC_ENOMEM;
    if (model->ops->similar) {
        model->ops->similar(model, item, sim);
    } else if (model->dim) {
        const double *norm2;
        const float *c = item_centre(model, &norm2);
        if (!c) {
            free(sim);
            return GATREC_ENOMEM;
        }
        for (size_t i = 0; i < model->items.count; i++)
            sim[i] = centred_cosine(model, item, (int32_t)i, c, norm2);
    } else { /* co-likes: how many users liked both */
        const gatrec__csr *s = &model->seen;
        for (size_t u = 0; u < s->nrows; u++) {
            int liked = 0;
            for (size_t e = s->off[u]; e < s->off[u + 1]; e++)
                liked |= s->col[e] == item && s->val[e] >= model->liked;
            for (size_t e = s->off[u]; liked && e < s->off[u + 1]; e++)
                sim[s->col[e]] += s->val[e] >= model->liked;
        }
    }
    *count = gatrec__top_k(sim, model->items.count, &item, 1, NULL, k, items, scores);
    free(sim);
    return GATREC_OK;
}

/* The weight of each of the user's training items (seen row order) as evidence for `item`. */
static int evidence_weights(const gatrec_model *model, int32_t user, int32_t item, float *w)
{
    const gatrec__csr *s = &model->seen;
    const int32_t *col = s->col + s->off[user];
    const float *centre, *b;
    const double *norm2;
    size_t n = s->off[user + 1] - s->off[user], e = 0;
    int rc;
    if (model->ops->evidence)
        return model->ops->evidence(model, user, item, w);
    for (size_t j = 0; j < n; j++)
        w[j] = 1.0f;
    if (model->ops->attention && (rc = model->ops->attention(model, user, w)))
        return rc;
    if (!(centre = item_centre(model, &norm2)))
        return GATREC_ENOMEM;
    b = model->iemb + (size_t)item * model->dim;
    for (; e + 4 <= n; e += 4) { /* four at once, then the rest one by one */
        const float *a[4] = {model->iemb + (size_t)col[e] * model->dim, model->iemb + (size_t)col[e + 1] * model->dim,
                             model->iemb + (size_t)col[e + 2] * model->dim, model->iemb + (size_t)col[e + 3] * model->dim};
        double ab[4];
        centred_dot4(a, b, centre, model->dim, ab);
        for (size_t q = 0; q < 4; q++) {
            float c = cosine_of(ab[q], norm2[col[e + q]], norm2[item]);
            w[e + q] *= c > 0 ? c : 0;
        }
    }
    for (; e < n; e++) {
        float c = centred_cosine(model, col[e], item, centre, norm2);
        w[e] *= c > 0 ? c : 0;
    }
    return GATREC_OK;
}

GATREC_API int gatrec_model_evidence(const gatrec_model *model, int32_t user, int32_t item, size_t k,
                                     int32_t *items, float *weights, size_t *count)
{
    const gatrec__csr *s;
    float *w;
    int32_t *order;
    size_t n, kept = 0;
    double total = 0;
    int rc = gatrec__model_check_user(model, user);
    if (rc || (rc = gatrec__model_check_item(model, item)))
        return rc;
    if (!count || (k && (!items || !weights)))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_evidence: NULL items, weights or count");
    if (!model->dim && !model->ops->evidence)
        return gatrec__error(GATREC_EUNSUPPORTED, "a %s model has no embeddings to draw evidence from",
                             model->ops->name);
    s = &model->seen;
    n = s->off[user + 1] - s->off[user];
    w = gatrec__malloc_array(n + 1, sizeof *w);
    order = gatrec__malloc_array(k + 1, sizeof *order);
    if (!w || !order) {
        free(w);
        free(order);
        return GATREC_ENOMEM;
    }
    if ((rc = evidence_weights(model, user, item, w))) {
        free(w);
        free(order);
        return rc;
    }
    for (size_t e = 0; e < n; e++) /* only what the user liked speaks for an item */
        if (s->val[s->off[user] + e] < model->liked)
            w[e] = 0;
    /* the k largest weights among the user's items (positions in the row) */
    kept = gatrec__top_k(w, n, NULL, 0, NULL, k, order, NULL);
    while (kept && w[order[kept - 1]] <= 0)
        kept--;
    for (size_t j = 0; j < kept; j++)
        total += w[order[j]];
    for (size_t j = 0; j < kept; j++) {
        items[j] = s->col[s->off[user] + (size_t)order[j]];
        weights[j] = (float)(w[order[j]] / total);
    }
    *count = kept;
    free(w);
    free(order);
    return GATREC_OK;
}

