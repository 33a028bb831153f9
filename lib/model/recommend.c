/* Scores and recommendations: one user's (top-k of its row), every user's or a range of users'
 * (in aligned blocks of users, on threads, the same lists to the bit), among candidates. */
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

/* Users are scored in aligned blocks of SCORE_BLOCK: one BLIS product per block for the
 * embedding kinds. A single user's scores come from the same product as its block's, so that
 * one user's list and every user's lists agree to the bit. */
#define SCORE_BLOCK 32

/* The block of users holding `user`: its first user and size. */
static size_t score_block_of(const gatrec_model *m, int32_t user, int32_t *first)
{
    size_t b0 = (size_t)user / SCORE_BLOCK * SCORE_BLOCK, n = m->users.count - b0;
    *first = (int32_t)b0;
    return n < SCORE_BLOCK ? n : SCORE_BLOCK;
}

/* The kind's scores of users [u0, u0 + n) (one aligned block, or `alone`: user u0 by itself)
 * into rows of scores (n x items), with the items a transductive kind knows nothing of at
 * -infinity. */
static void score_rows(const gatrec_model *m, int32_t u0, size_t n, float *scores, int alone)
{
    size_t ni = m->items.count, d = m->dim;
    if (m->ops->emb_scores && d && alone) /* one user's dot products, without the product's packing */
        gatrec__sdot_rows(ni, d, m->uemb + (size_t)u0 * d, m->iemb, d, scores);
    else if (m->ops->emb_scores && d)
        gatrec__sgemm(1, 0, 1, n, ni, d, 1.0f, m->uemb + (size_t)u0 * d, d, 1, m->iemb, d, 1, 0.0f, scores, ni);
    else
        for (size_t r = 0; r < n; r++)
            m->ops->score_all(m, u0 + (int32_t)r, scores + r * ni);
    for (size_t r = 0; r < n; r++) {
        if (m->seen.off[(size_t)u0 + r + 1] == m->seen.off[(size_t)u0 + r]) /* no ratings, no signal: */
            gatrec__popularity_scores(m, scores + r * ni); /* popularity, honestly (explain says so) */
        else if (m->item_logpop) /* attn's popularity prior */
            for (size_t i = 0; i < ni; i++)
                scores[r * ni + i] += m->pop_prior * m->item_logpop[i];
    }
    if (gatrec__model_transductive(m))
        for (size_t r = 0; r < n; r++)
            for (size_t i = 0; i < ni; i++)
                if (!m->item_ratings[i])
                    scores[r * ni + i] = -INFINITY;
}

/* One user's scores into scores[items]; block: room for SCORE_BLOCK x items (embedding kinds). */
static void score_one(const gatrec_model *m, int32_t user, float *block, float *scores)
{
    int32_t u0;
    size_t n = score_block_of(m, user, &u0), ni = m->items.count;
    if (!m->ops->emb_scores || !m->dim) {
        score_rows(m, user, 1, scores, 0);
        return;
    }
    score_rows(m, u0, n, block, 0);
    memcpy(scores, block + (size_t)(user - u0) * ni, ni * sizeof *scores);
}

/* score_one with its own block (GATREC_ENOMEM when it cannot have one). */
static int score_all(const gatrec_model *m, int32_t user, float *scores)
{
    float *block = NULL;
    if (m->ops->emb_scores && !(block = gatrec__malloc_array(SCORE_BLOCK * m->items.count + 1, sizeof *block)))
        return GATREC_ENOMEM;
    score_one(m, user, block, scores);
    free(block);
    return GATREC_OK;
}

GATREC_API int gatrec_model_score(const gatrec_model *model, int32_t user, const int32_t *items, size_t n,
                                  float *scores)
{
    float *all;
    int rc = gatrec__model_check_user(model, user);
    if (rc)
        return rc;
    if (n && (!items || !scores))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_score: NULL items or scores");
    for (size_t j = 0; j < n; j++)
        if (items[j] < 0 || (size_t)items[j] >= model->items.count)
            return gatrec__error(GATREC_EINVAL, "item index %d out of range", items[j]);
    if (!(all = gatrec__malloc_array(model->items.count, sizeof *all)))
        return GATREC_ENOMEM;
    if ((rc = score_all(model, user, all))) {
        free(all);
        return rc;
    }
    for (size_t j = 0; j < n; j++)
        scores[j] = all[items[j]];
    free(all);
    return GATREC_OK;
}

/* Top-k of one user's row of scores. */
static size_t top_of(const gatrec_model *m, int32_t user, const float *row, size_t k, const uint8_t *allowed,
                     int32_t *items, float *scores)
{
    const gatrec__csr *seen = &m->seen;
    return gatrec__top_k(row, m->items.count, seen->col + seen->off[user], seen->off[user + 1] - seen->off[user], allowed, k,
                 items, scores);
}

GATREC_API int gatrec_model_recommend(const gatrec_model *model, int32_t user, size_t k, int32_t *items,
                                      float *scores, size_t *count)
{
    return gatrec_model_recommend_request(model, user, k, NULL, items, scores, count);
}

typedef struct rec_job {
    const gatrec_model *m;
    const uint8_t *allowed;
    gatrec_reclist *list;
    size_t k, first, last; /* blocks of SCORE_BLOCK users */
    size_t lo, hi;         /* the users to list: a block's others are scored, not listed */
    int rc;
} rec_job;

static void *rec_worker(void *arg)
{
    rec_job *j = arg;
    size_t ni = j->m->items.count, nu = j->m->users.count;
    float *block = gatrec__malloc(SCORE_BLOCK * ni * sizeof *block + 1);
    int32_t *items = gatrec__malloc_array(j->k + 1, sizeof *items);
    j->rc = GATREC_OK;
    if (!block || !items)
        j->rc = GATREC_ENOMEM;
    for (size_t b = j->first; b < j->last && !j->rc; b++) {
        size_t u0 = b * SCORE_BLOCK, n = nu - u0 < SCORE_BLOCK ? nu - u0 : SCORE_BLOCK;
        score_rows(j->m, (int32_t)u0, n, block, 0);
        for (size_t r = 0; r < n && !j->rc; r++) {
            if (u0 + r < j->lo || u0 + r >= j->hi)
                continue;
            size_t c = top_of(j->m, (int32_t)(u0 + r), block + r * ni, j->k, j->allowed, items, NULL);
            /* users are disjoint between workers, so their lists never race */
            j->rc = gatrec_reclist_set(j->list, (int32_t)(u0 + r), items, c);
        }
    }
    free(block);
    free(items);
    return NULL;
}

/* The lists of users lo .. hi-1 into `list`, scored in the aligned blocks of SCORE_BLOCK users
 * that hold them (so that a user's list does not depend on the range asked). */
static int recommend_range(const gatrec_model *model, size_t k, const uint8_t *allowed, size_t lo, size_t hi,
                           gatrec_reclist *list)
{
    rec_job jobs[64];
    pthread_t tids[64];
    size_t nthreads;
    int rc = GATREC_OK;
    if (k > model->items.count)
        k = model->items.count;
    nthreads = (size_t)(model->opts.threads ? model->opts.threads : gatrec__default_threads());
    if (nthreads > 64)
        nthreads = 64;
    size_t b0 = lo / SCORE_BLOCK, nb = hi > lo ? (hi + SCORE_BLOCK - 1) / SCORE_BLOCK - b0 : 0;
    if (nthreads > nb)
        nthreads = nb ? nb : 1;
    for (size_t t = 0; t < nthreads; t++) {
        jobs[t] = (rec_job){model, allowed, list, k, b0 + nb * t / nthreads, b0 + nb * (t + 1) / nthreads, lo, hi,
                            GATREC_OK};
        if (t == 0 || pthread_create(&tids[t], NULL, rec_worker, &jobs[t]) != 0)
            tids[t] = 0;
    }
    rec_worker(&jobs[0]);
    for (size_t t = 1; t < nthreads; t++) {
        if (tids[t])
            pthread_join(tids[t], NULL);
        else
            rec_worker(&jobs[t]); /* could not start a thread: do its share here */
    }
    for (size_t t = 0; t < nthreads && !rc; t++)
        rc = jobs[t].rc;
    return rc == GATREC_ENOMEM ? gatrec__error(rc, "out of memory recommending for %zu users", hi - lo) : rc;
}

static int recommend_all(const gatrec_model *model, size_t k, const uint8_t *allowed, gatrec_reclist **out)
{
    gatrec_reclist *list;
    int rc;
    if (!model || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_recommend_all: NULL argument");
    if ((rc = gatrec_reclist_new(model->users.count, &list)))
        return rc;
    if ((rc = recommend_range(model, k, allowed, 0, model->users.count, list))) {
        gatrec_reclist_free(list);
        return rc;
    }
    *out = list;
    return GATREC_OK;
}

/* 1 for each of the n candidates (item indices, checked), in a new mask of the model's items */
static int candidate_mask(const gatrec_model *model, const int32_t *candidates, size_t n, uint8_t **out)
{
    uint8_t *allowed;
    if (!(allowed = gatrec__calloc(model->items.count + 1, 1)))
        return GATREC_ENOMEM;
    for (size_t j = 0; j < n; j++) {
        if (candidates[j] < 0 || (size_t)candidates[j] >= model->items.count) {
            free(allowed);
            return gatrec__error(GATREC_EINVAL, "candidate #%zu: item index %d out of range (the model has %zu items)",
                                 j + 1, candidates[j], model->items.count);
        }
        allowed[candidates[j]] = 1;
    }
    *out = allowed;
    return GATREC_OK;
}

GATREC_API int gatrec_model_recommend_request(const gatrec_model *model, int32_t user, size_t k,
                                              const gatrec_request_options *opts, int32_t *items, float *scores,
                                              size_t *count)
{
    gatrec_request_options o = GATREC_REQUEST_OPTIONS_INIT;
    uint8_t *allowed = NULL;
    float *scratch;
    int rc = gatrec__model_check_user(model, user);
    if (rc || (opts && (rc = GATREC__READ_VERSIONED(&o, opts, gatrec_request_options))))
        return rc;
    if (!count || (k && !items) || (o.nexclude && !o.exclude) || (o.nonly && !o.only))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_recommend_request: NULL items, count, exclude or only");
    if (o.flags & ~GATREC_REQUEST_ALONE)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_recommend_request: unknown flags 0x%x", o.flags);
    if (o.only) {
        if ((rc = candidate_mask(model, o.only, o.nonly, &allowed)))
            return rc;
    } else if (o.nexclude) {
        if (!(allowed = gatrec__malloc_array(model->items.count + 1, 1)))
            return GATREC_ENOMEM;
        memset(allowed, 1, model->items.count);
    }
    for (size_t j = 0; j < o.nexclude; j++) {
        if (o.exclude[j] < 0 || (size_t)o.exclude[j] >= model->items.count) {
            free(allowed);
            return gatrec__error(GATREC_EINVAL, "excluded item #%zu: index %d out of range (the model has %zu items)",
                                 j + 1, o.exclude[j], model->items.count);
        }
        allowed[o.exclude[j]] = 0;
    }
    if (!(scratch = gatrec__malloc_array(model->items.count, sizeof *scratch))) {
        free(allowed);
        return GATREC_ENOMEM;
    }
    if (o.flags & GATREC_REQUEST_ALONE)
        score_rows(model, user, 1, scratch, 1); /* its own row alone */
    else
        rc = score_all(model, user, scratch);
    if (!rc)
        *count = top_of(model, user, scratch, k, allowed, items, scores);
    free(scratch);
    free(allowed);
    return rc;
}

GATREC_API int gatrec_model_recommend_range(const gatrec_model *model, size_t k, int32_t first, size_t count,
                                            const int32_t *candidates, size_t ncand, gatrec_reclist *list)
{
    uint8_t *allowed = NULL;
    int rc;
    if (!model || !list || (ncand && !candidates))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_recommend_range: NULL argument");
    if (first < 0 || (size_t)first > model->users.count || count > model->users.count - (size_t)first)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_recommend_range: users %d .. %d + %zu are not within the "
                             "model's %zu", first, first, count, model->users.count);
    if (gatrec_reclist_num_users(list) != model->users.count)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_recommend_range: the list has %zu users, the model %zu",
                             gatrec_reclist_num_users(list), model->users.count);
    if (candidates && (rc = candidate_mask(model, candidates, ncand, &allowed)))
        return rc;
    rc = recommend_range(model, k, allowed, (size_t)first, (size_t)first + count, list);
    free(allowed);
    return rc;
}

GATREC_API int gatrec_model_recommend_all(const gatrec_model *model, size_t k, gatrec_reclist **out)
{
    return recommend_all(model, k, NULL, out);
}

GATREC_API int gatrec_model_recommend_all_among(const gatrec_model *model, size_t k, const int32_t *candidates,
                                                size_t n, gatrec_reclist **out)
{
    uint8_t *allowed;
    int rc;
    if (!model || !out || (n && !candidates))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_recommend_all_among: NULL argument");
    if ((rc = candidate_mask(model, candidates, n, &allowed)))
        return rc;
    rc = recommend_all(model, k, allowed, out);
    free(allowed);
    return rc;
}

GATREC_API int gatrec_model_user_ratings(const gatrec_model *model, int32_t user, int32_t *items, float *ratings,
                                         size_t k, size_t *count)
{
    const gatrec__csr *s;
    size_t n;
    int rc = gatrec__model_check_user(model, user);
    if (rc)
        return rc;
    if (!count || (k && (!items || !ratings)))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_user_ratings: NULL items, ratings or count");
    s = &model->seen;
    n = s->off[user + 1] - s->off[user];
    if (k > n)
        k = n;
    if (k) {
        memcpy(items, s->col + s->off[user], k * sizeof *items);
        memcpy(ratings, s->val + s->off[user], k * sizeof *ratings);
    }
    *count = n;
    return GATREC_OK;
}

GATREC_API int gatrec_model_item_popularity(const gatrec_model *model, int32_t item, size_t *ratings, size_t *liked)
{
    if (!model || item < 0 || (size_t)item >= model->items.count)
        return gatrec__error(GATREC_EINVAL, "item index %d out of range", item);
    if (ratings)
        *ratings = (size_t)model->item_ratings[item];
    if (liked)
        *liked = (size_t)model->item_liked[item];
    return GATREC_OK;
}

