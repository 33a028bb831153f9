/* gatrec_model: options, training dispatch, serving (top-K with seen items masked), info. */
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

static const gatrec__model_ops *const kinds[] = {&gatrec__pop_ops, &gatrec__bpr_ops,  &gatrec__lightgcn_ops,
                                                 &gatrec__gat_ops, &gatrec__ease_ops, &gatrec__content_ops,
                                                 &gatrec__attn_ops};

const gatrec__model_ops *gatrec__model_ops_of(int kind)
{
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        if (kinds[k]->kind == kind)
            return kinds[k];
    return NULL;
}

GATREC_API const char *gatrec_model_kind_name(int kind)
{
    const gatrec__model_ops *ops = gatrec__model_ops_of(kind);
    return ops ? ops->name : NULL;
}

GATREC_API int gatrec_model_kind_from_name(const char *name)
{
    for (size_t k = 0; name && k < sizeof kinds / sizeof *kinds; k++)
        if (strcmp(kinds[k]->name, name) == 0)
            return kinds[k]->kind;
    return gatrec__error(GATREC_ENOTFOUND, "unknown model kind '%s' (known: pop, bpr, lightgcn, gat, ease, content, attn)", name ? name : "(null)");
}

GATREC__OPTIONS_INIT_FN(gatrec_model_options_init, gatrec_model_options, GATREC_MODEL_OPTIONS_VERSION, GATREC_MODEL_OPTIONS_INIT)


gatrec_model *gatrec__model_alloc(void)
{
    return gatrec__calloc(1, sizeof(gatrec_model));
}

GATREC_API void gatrec_model_free(gatrec_model *m)
{
    if (!m)
        return;
    if (m->ops && m->impl)
        m->ops->free(m);
    gatrec__idmap_free(&m->users);
    gatrec__idmap_free(&m->items);
    gatrec__csr_free(&m->seen);
    free(m->item_ratings);
    free(m->item_liked);
    free(m->uemb);
    free(m->iemb);
    free(m->embedder);
    for (size_t k = 0; k < m->ninfo; k++) {
        free(m->info_keys[k]);
        free(m->info_vals[k]);
    }
    free(m->info_keys);
    free(m->info_vals);
    free(m);
}

static int copy_csr(gatrec__csr *dst, const gatrec__csr *src)
{
    size_t nnz = src->off[src->nrows];
    dst->nrows = src->nrows;
    dst->off = gatrec__malloc_array(src->nrows + 1, sizeof *dst->off);
    dst->col = gatrec__malloc_array(nnz, sizeof *dst->col);
    dst->val = gatrec__malloc_array(nnz, sizeof *dst->val);
    if (!dst->off || !dst->col || !dst->val)
        return GATREC_ENOMEM;
    memcpy(dst->off, src->off, (src->nrows + 1) * sizeof *dst->off);
    memcpy(dst->col, src->col, nnz * sizeof *dst->col);
    memcpy(dst->val, src->val, nnz * sizeof *dst->val);
    return GATREC_OK;
}

GATREC_API int gatrec_model_train(const gatrec_graph *graph, const gatrec_model_options *opts, gatrec_model **out)
{
    gatrec_model_options o;
    gatrec_model *m;
    int rc;
    if (!graph || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_train: NULL argument");
    gatrec_model_options_init(&o, GATREC_MODEL_OPTIONS_VERSION);
    if (GATREC__READ_VERSIONED(&o, opts, gatrec_model_options))
        return GATREC_EINVAL;
    if (!gatrec__model_ops_of(o.kind))
        return gatrec__error(GATREC_EINVAL, "unknown model kind %d", o.kind);
    if (o.threads < 0)
        return gatrec__error(GATREC_EINVAL, "threads must be >= 0 (0 = all cores), not %d", o.threads);
    if (o.loss == GATREC_LOSS_DEFAULT)
        o.loss = o.kind == GATREC_MODEL_ATTN ? GATREC_LOSS_SOFTMAX : GATREC_LOSS_BPR;
    if (o.loss != GATREC_LOSS_BPR && o.loss != GATREC_LOSS_SOFTMAX)
        return gatrec__error(GATREC_EINVAL, "unknown loss %d (a gatrec_loss)", o.loss);
    if (o.ranks < 0 || (o.ranks > 1 && (o.rank < 0 || o.rank >= o.ranks || !o.allreduce)))
        return gatrec__error(GATREC_EINVAL, "data-parallel training: ranks must be >= 0, rank in 0 .. ranks - 1 and "
                             "allreduce set (ranks %d, rank %d)", o.ranks, o.rank);
    if (o.ranks > 1 && o.uniformity > 0)
        return gatrec__error(GATREC_EINVAL, "the uniformity term spans the whole batch: not with data-parallel training");
    if (o.optimizer < GATREC_OPTIMIZER_AUTO || o.optimizer > GATREC_OPTIMIZER_LAZY)
        return gatrec__error(GATREC_EINVAL, "unknown optimizer %d (a gatrec_optimizer)", o.optimizer);
    if (o.optimizer == GATREC_OPTIMIZER_LAZY && o.kind != GATREC_MODEL_BPR &&
        !((o.kind == GATREC_MODEL_ATTN || o.kind == GATREC_MODEL_GAT) && o.fanout))
        return gatrec__error(GATREC_EINVAL, "the lazy optimizer needs a row-sparse gradient: BPR-MF, or attn or the "
                             "GAT with fanout");
    if (!(o.temperature >= 0 && o.temperature <= 100) || !(o.uniformity >= 0 && o.uniformity <= 1000) ||
        !(o.lambda >= 0 && o.lambda <= 1e12f))
        return gatrec__error(GATREC_EINVAL, "temperature must be in [0, 100], uniformity in [0, 1000] and lambda in "
                             "[0, 1e12] (0 = default), not %g, %g and %g", o.temperature, o.uniformity, o.lambda);
    if (!(m = gatrec__model_alloc()))
        return GATREC_ENOMEM;
    m->ops = gatrec__model_ops_of(o.kind);
    m->opts = o;
    m->liked = graph->liked;
    m->disliked = graph->disliked;
    rc = gatrec__idmap_copy(&m->users, &graph->users);
    if (!rc)
        rc = gatrec__idmap_copy(&m->items, &graph->items);
    if (!rc)
        rc = copy_csr(&m->seen, &graph->by_user);
    if (!rc) {
        m->item_ratings = gatrec__calloc(graph->items.count, sizeof *m->item_ratings);
        m->item_liked = gatrec__calloc(graph->items.count, sizeof *m->item_liked);
        if (!m->item_ratings || !m->item_liked)
            rc = GATREC_ENOMEM;
    }
    for (size_t i = 0; !rc && i < graph->items.count; i++) {
        const gatrec__csr *c = &graph->by_item;
        m->item_ratings[i] = c->off[i + 1] - c->off[i];
        for (size_t e = c->off[i]; e < c->off[i + 1]; e++)
            m->item_liked[i] += c->val[e] >= graph->liked;
    }
    if (!rc)
        rc = m->ops->train(m, graph);
    /* the caller's pointers are not the model's to keep */
    m->opts.layers = NULL;
    m->opts.validation = NULL;
    m->opts.features = NULL;
    m->opts.kernels = NULL;
    m->opts.on_epoch = NULL;
    m->opts.payload = NULL;
    m->opts.allreduce = NULL;
    m->opts.allreduce_payload = NULL;
    if (rc) {
        gatrec_model_free(m);
        return rc;
    }
    *out = m;
    return GATREC_OK;
}

GATREC_API int gatrec_model_get_kind(const gatrec_model *model)
{
    return model ? model->ops->kind : gatrec__error(GATREC_EINVAL, "NULL model");
}

GATREC_API size_t gatrec_model_num_users(const gatrec_model *model)
{
    return model ? model->users.count : 0;
}

GATREC_API size_t gatrec_model_num_items(const gatrec_model *model)
{
    return model ? model->items.count : 0;
}

GATREC_API int gatrec_model_user_index(const gatrec_model *model, int64_t user_id, int32_t *index)
{
    return model ? gatrec__idmap_index(&model->users, user_id, index, "user") : gatrec__error(GATREC_EINVAL, "NULL model");
}

GATREC_API int gatrec_model_item_index(const gatrec_model *model, int64_t item_id, int32_t *index)
{
    return model ? gatrec__idmap_index(&model->items, item_id, index, "item") : gatrec__error(GATREC_EINVAL, "NULL model");
}

GATREC_API int64_t gatrec_model_user_id(const gatrec_model *model, int32_t index)
{
    return model && index >= 0 && (size_t)index < model->users.count ? model->users.ids[index] : -1;
}

GATREC_API int64_t gatrec_model_item_id(const gatrec_model *model, int32_t index)
{
    return model && index >= 0 && (size_t)index < model->items.count ? model->items.ids[index] : -1;
}

static int check_user(const gatrec_model *model, int32_t user)
{
    if (!model)
        return gatrec__error(GATREC_EINVAL, "NULL model");
    if (user < 0 || (size_t)user >= model->users.count)
        return gatrec__error(GATREC_EINVAL, "user index %d out of range (the model has %zu users)", user,
                             model->users.count);
    return GATREC_OK;
}

int gatrec__model_transductive(const gatrec_model *m)
{
    return m->ops->transductive ? m->ops->transductive(m) : m->ops->transductive_items;
}

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

/* The kind's scores of users [u0, u0 + n) (one aligned block) into rows of scores (n x items),
 * with the items a transductive kind knows nothing of at -infinity. */
static void score_rows(const gatrec_model *m, int32_t u0, size_t n, float *scores)
{
    size_t ni = m->items.count, d = m->dim;
    if (m->ops->emb_scores && d)
        gatrec__sgemm(1, 0, 1, n, ni, d, 1.0f, m->uemb + (size_t)u0 * d, d, 1, m->iemb, d, 1, 0.0f, scores, ni);
    else
        for (size_t r = 0; r < n; r++)
            m->ops->score_all(m, u0 + (int32_t)r, scores + r * ni);
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
        score_rows(m, user, 1, scores);
        return;
    }
    score_rows(m, u0, n, block);
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
    int rc = check_user(model, user);
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
    float *scratch;
    int rc = check_user(model, user);
    if (rc)
        return rc;
    if (!count || (k && !items))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_recommend: NULL items or count");
    if (!(scratch = gatrec__malloc_array(model->items.count, sizeof *scratch)))
        return GATREC_ENOMEM;
    if ((rc = score_all(model, user, scratch))) {
        free(scratch);
        return rc;
    }
    *count = top_of(model, user, scratch, k, NULL, items, scores);
    free(scratch);
    return GATREC_OK;
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
        score_rows(j->m, (int32_t)u0, n, block);
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

GATREC_API int gatrec_model_set_info(gatrec_model *model, const char *key, const char *value)
{
    char *k = NULL, *v = NULL, **ks, **vs;
    if (!model || !key || !key[0])
        return gatrec__error(GATREC_EINVAL, "gatrec_model_set_info: NULL model or empty key");
    for (size_t j = 0; j < model->ninfo; j++) {
        if (strcmp(model->info_keys[j], key) != 0)
            continue;
        if (!value) {
            free(model->info_keys[j]);
            free(model->info_vals[j]);
            model->ninfo--;
            model->info_keys[j] = model->info_keys[model->ninfo];
            model->info_vals[j] = model->info_vals[model->ninfo];
            return GATREC_OK;
        }
        if (!(v = gatrec__strdup(value)))
            return GATREC_ENOMEM;
        free(model->info_vals[j]);
        model->info_vals[j] = v;
        return GATREC_OK;
    }
    if (!value)
        return GATREC_OK;
    k = gatrec__strdup(key);
    v = gatrec__strdup(value);
    ks = gatrec__realloc_array(model->info_keys, model->ninfo + 1, sizeof *ks);
    if (ks)
        model->info_keys = ks;
    vs = gatrec__realloc_array(model->info_vals, model->ninfo + 1, sizeof *vs);
    if (vs)
        model->info_vals = vs;
    if (!k || !v || !ks || !vs) {
        free(k);
        free(v);
        return gatrec__error(GATREC_ENOMEM, "out of memory");
    }
    model->info_keys[model->ninfo] = k;
    model->info_vals[model->ninfo] = v;
    model->ninfo++;
    return GATREC_OK;
}

GATREC_API const char *gatrec_model_info(const gatrec_model *model, const char *key)
{
    for (size_t j = 0; model && key && j < model->ninfo; j++)
        if (strcmp(model->info_keys[j], key) == 0)
            return model->info_vals[j];
    return NULL;
}

GATREC_API int gatrec_reclist_save_csv(const gatrec_reclist *list, const gatrec_model *model, const gatrec_dataset *ds,
                                       const char *path)
{
    if (!list || !path || (!model && !ds))
        return gatrec__error(GATREC_EINVAL, "gatrec_reclist_save_csv: NULL list or path, or neither model nor dataset");
    return model ? gatrec__reclist_write_csv(list, &model->users, &model->items, path)
                 : gatrec__reclist_write_csv(list, &ds->users, &ds->items, path);
}

/* ---- the embedding kinds' common parts ---- */

void gatrec__emb_score_all(const gatrec_model *m, int32_t user, float *scores)
{
    size_t d = m->dim;
    const float *u = m->uemb + (size_t)user * d;
    for (size_t i = 0; i < m->items.count; i++) {
        const float *v = m->iemb + i * d;
        float s = 0;
        for (size_t k = 0; k < d; k++)
            s += u[k] * v[k];
        scores[i] = s;
    }
}

int gatrec__emb_save(const gatrec_model *m, gatrec__buf *b)
{
    int rc = gatrec__buf_put_u64(b, m->dim);
    if (!rc)
        rc = gatrec__buf_put_f32s(b, m->uemb, m->users.count * m->dim);
    if (!rc)
        rc = gatrec__buf_put_f32s(b, m->iemb, m->items.count * m->dim);
    return rc;
}

int gatrec__emb_load(gatrec_model *m, gatrec__reader *r)
{
    uint64_t d = gatrec__read_u64(r);
    size_t nu = m->users.count, ni = m->items.count;
    if (r->bad || d == 0 || d > 65536 || (nu + ni) * d > (size_t)(r->end - r->p) / 4)
        return GATREC_EFORMAT;
    m->dim = (size_t)d;
    m->uemb = gatrec__malloc_array(nu * m->dim + 1, sizeof *m->uemb);
    m->iemb = gatrec__malloc_array(ni * m->dim + 1, sizeof *m->iemb);
    if (!m->uemb || !m->iemb)
        return GATREC_ENOMEM;
    if (gatrec__read_f32s(r, m->uemb, nu * m->dim) || gatrec__read_f32s(r, m->iemb, ni * m->dim))
        return GATREC_EFORMAT;
    return GATREC_OK;
}

/* The mean item embedding: similarities are taken around it, so that a direction every item
 * shares (the cosine term of the loss pulls users and items together) does not make every
 * item look alike. */
static float *item_centre(const gatrec_model *m)
{
    float *c = gatrec__calloc(m->dim + 1, sizeof *c);
    for (size_t i = 0; c && i < m->items.count; i++)
        for (size_t k = 0; k < m->dim; k++)
            c[k] += m->iemb[i * m->dim + k] / (float)m->items.count;
    return c;
}

static float centred_cosine(const float *a, const float *b, const float *c, size_t d)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t k = 0; k < d; k++) {
        double x = (double)a[k] - c[k], y = (double)b[k] - c[k];
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0.0f;
}

static int check_item(const gatrec_model *model, int32_t item)
{
    if (!model)
        return gatrec__error(GATREC_EINVAL, "NULL model");
    if (item < 0 || (size_t)item >= model->items.count)
        return gatrec__error(GATREC_EINVAL, "item index %d out of range (the model has %zu items)", item,
                             model->items.count);
    return GATREC_OK;
}

GATREC_API int gatrec_model_similar_items(const gatrec_model *model, int32_t item, size_t k, int32_t *items,
                                          float *scores, size_t *count)
{
    float *sim;
    int rc = check_item(model, item);
    if (rc)
        return rc;
    if (!count || (k && !items))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_similar_items: NULL items or count");
    if (!(sim = gatrec__calloc(model->items.count + 1, sizeof *sim)))
        return GATREC_ENOMEM;
    if (model->ops->similar) {
        model->ops->similar(model, item, sim);
    } else if (model->dim) {
        float *c = item_centre(model);
        if (!c) {
            free(sim);
            return GATREC_ENOMEM;
        }
        for (size_t i = 0; i < model->items.count; i++)
            sim[i] = centred_cosine(model->iemb + (size_t)item * model->dim, model->iemb + i * model->dim, c,
                                    model->dim);
        free(c);
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
    size_t n = s->off[user + 1] - s->off[user];
    float *centre;
    int rc;
    if (model->ops->evidence)
        return model->ops->evidence(model, user, item, w);
    for (size_t e = 0; e < n; e++)
        w[e] = 1.0f;
    if (model->ops->attention && (rc = model->ops->attention(model, user, w)))
        return rc;
    if (!(centre = item_centre(model)))
        return GATREC_ENOMEM;
    for (size_t e = 0; e < n; e++) {
        float c = centred_cosine(model->iemb + (size_t)s->col[s->off[user] + e] * model->dim,
                                 model->iemb + (size_t)item * model->dim, centre, model->dim);
        w[e] *= c > 0 ? c : 0;
    }
    free(centre);
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
    int rc = check_user(model, user);
    if (rc || (rc = check_item(model, item)))
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

static int cmp_pair(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

GATREC_API size_t gatrec_model_feature_dim(const gatrec_model *model)
{
    return model && model->ops->feature_dim ? model->ops->feature_dim(model) : 0;
}

/* Features given to a model that takes none, or of another width, are refused. */
static int check_features(const gatrec_model *model, const float *features, size_t len, const char *who)
{
    size_t want = gatrec_model_feature_dim(model);
    if (!features && len == 0)
        return GATREC_OK;
    if (!features)
        return gatrec__error(GATREC_EINVAL, "%s: NULL features of length %zu", who, len);
    if (want == 0)
        return gatrec__error(GATREC_EINVAL, "%s: this %s model was trained without input features, so it takes none "
                             "(give NULL: the ratings alone fold it in)", who, model->ops->name);
    if (len != want)
        return gatrec__error(GATREC_EINVAL, "%s: %zu features given, the model reads %zu (was the profile embedded "
                             "with another embedder?)", who, len, want);
    for (size_t k = 0; k < len; k++)
        if (!isfinite(features[k]))
            return gatrec__error(GATREC_EINVAL, "%s: feature %zu is not a finite number", who, k);
    return GATREC_OK;
}

GATREC_API int gatrec_model_add_user_checked(gatrec_model *model, int64_t user_id, const int32_t *items,
                                             const float *ratings, size_t n, const float *features, size_t feature_len,
                                             int32_t *index)
{
    int rc;
    if (!model)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_add_user_checked: NULL model");
    if ((rc = check_features(model, features, feature_len, "gatrec_model_add_user_checked")))
        return rc;
    return gatrec_model_add_user(model, user_id, items, ratings, n, features, index);
}

GATREC_API int gatrec_model_add_item_checked(gatrec_model *model, int64_t item_id, const float *features,
                                             size_t feature_len, int32_t *index)
{
    int rc;
    if (!model)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_add_item_checked: NULL model");
    if ((rc = check_features(model, features, feature_len, "gatrec_model_add_item_checked")))
        return rc;
    return gatrec_model_add_item(model, item_id, features, index);
}

GATREC_API int gatrec_model_add_user(gatrec_model *model, int64_t user_id, const int32_t *items,
                                     const float *ratings, size_t n, const float *features, int32_t *index)
{
    gatrec__csr *s;
    struct {
        int32_t item;
        float rating;
    } *pairs = NULL;
    int32_t *cols = NULL;
    float *vals = NULL, *emb = NULL;
    size_t nu, nnz;
    int rc, added;
    if (!model || !index || (n && (!items || !ratings)))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_add_user: NULL argument");
    if (!model->ops->fold_user)
        return gatrec__error(GATREC_EUNSUPPORTED, "a %s model is transductive: it cannot fold in a new user "
                             "(retrain, or use a gat, content, ease or pop model)", model->ops->name);
    if (user_id < 0)
        return gatrec__error(GATREC_EINVAL, "user id %lld is negative", (long long)user_id);
    if (gatrec__idmap_find(&model->users, user_id) >= 0)
        return gatrec__error(GATREC_EDUPLICATE, "user %lld is already in the model", (long long)user_id);
    if (features && !gatrec_model_feature_dim(model)) /* it would read features it has no width for */
        return check_features(model, features, 1, "gatrec_model_add_user");
    if (!(pairs = gatrec__malloc_array(n + 1, sizeof *pairs)) || !(emb = gatrec__malloc_array(model->dim + 1, sizeof *emb)) ||
        !(cols = gatrec__malloc_array(n + 1, sizeof *cols)) || !(vals = gatrec__malloc_array(n + 1, sizeof *vals))) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    for (size_t j = 0; j < n; j++) {
        if ((rc = check_item(model, items[j])))
            goto done;
        if (!isfinite(ratings[j])) {
            rc = gatrec__error(GATREC_ERATING, "rating #%zu of the new user is not a finite number", j + 1);
            goto done;
        }
        pairs[j].item = items[j];
        pairs[j].rating = ratings[j];
    }
    qsort(pairs, n, sizeof *pairs, cmp_pair);
    for (size_t j = 0; j < n; j++) {
        if (j && pairs[j].item == pairs[j - 1].item) {
            rc = gatrec__error(GATREC_EDUPLICATE, "item %lld is rated twice by the new user",
                               (long long)model->items.ids[pairs[j].item]);
            goto done;
        }
        cols[j] = pairs[j].item;
        vals[j] = pairs[j].rating;
    }
    if ((rc = model->ops->fold_user(model, cols, vals, n, features, emb)))
        goto done;
    /* grow every per-user array first; only then commit the new count */
    s = &model->seen;
    nu = model->users.count;
    nnz = s->off[nu];
    {
        size_t *off = gatrec__realloc_array(s->off, nu + 2, sizeof *off);
        if (off)
            s->off = off;
        int32_t *col = gatrec__realloc_array(s->col, nnz + n + 1, sizeof *col);
        if (col)
            s->col = col;
        float *val = gatrec__realloc_array(s->val, nnz + n + 1, sizeof *val);
        if (val)
            s->val = val;
        float *ue = gatrec__realloc_array(model->uemb, (nu + 1) * model->dim + 1, sizeof *ue);
        if (ue)
            model->uemb = ue;
        if (!off || !col || !val || !ue) {
            rc = gatrec__error(GATREC_ENOMEM, "out of memory adding a user");
            goto done;
        }
    }
    if ((rc = gatrec__idmap_add(&model->users, user_id, index, &added)))
        goto done;
    memcpy(s->col + nnz, cols, n * sizeof *cols);
    memcpy(s->val + nnz, vals, n * sizeof *vals);
    s->off[nu + 1] = nnz + n;
    s->nrows = nu + 1;
    memcpy(model->uemb + nu * model->dim, emb, model->dim * sizeof *emb);
done:
    free(pairs);
    free(cols);
    free(vals);
    free(emb);
    return rc;
}

GATREC_API int gatrec_model_add_item(gatrec_model *model, int64_t item_id, const float *features, int32_t *index)
{
    float *emb;
    size_t ni;
    int rc, added;
    if (!model || !index)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_add_item: NULL argument");
    if (!model->ops->fold_item)
        return gatrec__error(GATREC_EUNSUPPORTED, "a %s model is transductive: it cannot fold in a new item "
                             "(retrain, or use a gat, content, ease or pop model)", model->ops->name);
    if (item_id < 0)
        return gatrec__error(GATREC_EINVAL, "item id %lld is negative", (long long)item_id);
    if (features && !gatrec_model_feature_dim(model))
        return check_features(model, features, 1, "gatrec_model_add_item");
    if (gatrec__idmap_find(&model->items, item_id) >= 0)
        return gatrec__error(GATREC_EDUPLICATE, "item %lld is already in the model", (long long)item_id);
    if (!(emb = gatrec__malloc_array(model->dim, sizeof *emb)))
        return GATREC_ENOMEM;
    if ((rc = model->ops->fold_item(model, features, emb)))
        goto done;
    ni = model->items.count;
    {
        float *ie = gatrec__realloc_array(model->iemb, (ni + 1) * model->dim + 1, sizeof *ie);
        if (ie)
            model->iemb = ie;
        uint64_t *r = gatrec__realloc_array(model->item_ratings, ni + 1, sizeof *r);
        if (r)
            model->item_ratings = r;
        uint64_t *l = gatrec__realloc_array(model->item_liked, ni + 1, sizeof *l);
        if (l)
            model->item_liked = l;
        if (!ie || !r || !l) {
            rc = gatrec__error(GATREC_ENOMEM, "out of memory adding an item");
            goto done;
        }
    }
    if ((rc = gatrec__idmap_add(&model->items, item_id, index, &added)))
        goto done;
    memcpy(model->iemb + ni * model->dim, emb, model->dim * sizeof *emb);
    model->item_ratings[ni] = model->item_liked[ni] = 0;
done:
    free(emb);
    return rc;
}

/* One folded user: its model index and its revealed (item, rating) pairs, sorted by item. */
typedef struct revealed {
    int32_t user;
    size_t first, n; /* into the shared pair arrays */
} revealed;

GATREC_API int gatrec_model_fold_in_revealed(gatrec_model *model, const gatrec_dataset *ds, const gatrec_split *split,
                                             size_t *folded)
{
    size_t *off = NULL, nrev = 0, nusers = 0, nu;
    uint32_t *idx = NULL;
    int32_t *cols = NULL;
    float *vals = NULL, *emb = NULL;
    revealed *who = NULL;
    gatrec__csr s2 = {0};
    int rc;
    if (!model || !ds || !split)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_fold_in_revealed: NULL argument");
    if (split->ds != ds)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_fold_in_revealed: the split is not of this dataset");
    if (!model->ops->fold_user)
        return gatrec__error(GATREC_EUNSUPPORTED, "a %s model is transductive: it cannot fold in the cold users' "
                             "revealed ratings (use pop, ease, content or gat)", model->ops->name);
    if ((rc = gatrec__dataset_by_user(ds, &off, &idx)))
        return rc;
    nu = model->users.count;
    cols = gatrec__malloc_array(split->counts[GATREC_PART_REVEAL] + 1, sizeof *cols);
    vals = gatrec__malloc_array(split->counts[GATREC_PART_REVEAL] + 1, sizeof *vals);
    who = gatrec__malloc_array(ds->users.count + 1, sizeof *who);
    if (!cols || !vals || !who) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    /* gather every revealed user's pairs (item order), checking each against the model */
    for (size_t u = 0; u < ds->users.count; u++) {
        size_t first = nrev;
        int32_t mu = -1;
        for (size_t t = off[u]; t < off[u + 1]; t++) {
            uint32_t r = idx[t];
            int32_t mi;
            if (split->parts[r] != GATREC_PART_REVEAL)
                continue;
            if (mu < 0 && (rc = gatrec_model_user_index(model, ds->users.ids[u], &mu)))
                goto done;
            if ((rc = gatrec_model_item_index(model, ds->items.ids[ds->r_item[r]], &mi)))
                goto done;
            cols[nrev] = mi;
            vals[nrev++] = ds->r_value[r];
        }
        if (nrev == first)
            continue;
        if (model->seen.off[mu + 1] > model->seen.off[mu]) {
            rc = gatrec__error(GATREC_EINVAL, "user %lld has training ratings in the model: only a cold user's "
                               "revealed ratings fold in (was the model trained on this split?)",
                               (long long)ds->users.ids[u]);
            goto done;
        }
        for (size_t a = first + 1; a < nrev; a++) /* insertion sort by item: a user reveals few */
            for (size_t b = a; b > first && cols[b] < cols[b - 1]; b--) {
                int32_t tc = cols[b];
                float tv = vals[b];
                cols[b] = cols[b - 1], vals[b] = vals[b - 1];
                cols[b - 1] = tc, vals[b - 1] = tv;
            }
        who[nusers++] = (revealed){mu, first, nrev - first};
    }
    /* their embeddings, computed before anything changes */
    if (!(emb = gatrec__malloc_array(nusers * model->dim + 1, sizeof *emb))) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < nusers && !rc; k++)
        rc = model->ops->fold_user(model, cols + who[k].first, vals + who[k].first, who[k].n, NULL,
                                   emb + k * model->dim);
    if (rc)
        goto done;
    for (size_t k = 0; k < nusers && model->dim; k++) /* kinds without embeddings (EASE, popularity) have none */
        memcpy(model->uemb + (size_t)who[k].user * model->dim, emb + k * model->dim, model->dim * sizeof *emb);
    /* then the seen rows, rebuilt once: the folded users' rows hold their revealed pairs */
    {
        const gatrec__csr *s = &model->seen;
        size_t *extra = gatrec__calloc(nu + 1, sizeof *extra), nnz = s->off[nu] + nrev;
        s2.nrows = nu;
        s2.off = gatrec__malloc_array(nu + 1, sizeof *s2.off);
        s2.col = gatrec__malloc_array(nnz + 1, sizeof *s2.col);
        s2.val = gatrec__malloc_array(nnz + 1, sizeof *s2.val);
        if (!extra || !s2.off || !s2.col || !s2.val) {
            free(extra);
            rc = GATREC_ENOMEM;
            goto done;
        }
        for (size_t k = 0; k < nusers; k++)
            extra[who[k].user] = k + 1;
        s2.off[0] = 0;
        for (size_t u = 0, at = 0; u < nu; u++) {
            size_t n0 = s->off[u + 1] - s->off[u];
            memcpy(s2.col + at, s->col + s->off[u], n0 * sizeof *s2.col);
            memcpy(s2.val + at, s->val + s->off[u], n0 * sizeof *s2.val);
            at += n0;
            if (extra[u]) {
                const revealed *w = &who[extra[u] - 1];
                memcpy(s2.col + at, cols + w->first, w->n * sizeof *s2.col);
                memcpy(s2.val + at, vals + w->first, w->n * sizeof *s2.val);
                at += w->n;
            }
            s2.off[u + 1] = at;
        }
        free(extra);
        gatrec__csr_free(&model->seen);
        model->seen = s2;
        s2 = (gatrec__csr){0};
    }
    if (folded)
        *folded = nusers;
done:
    gatrec__csr_free(&s2);
    free(off);
    free(idx);
    free(cols);
    free(vals);
    free(emb);
    free(who);
    return rc;
}

GATREC_API int gatrec_model_count_trained(const gatrec_model *model, const gatrec_dataset *ds,
                                          const gatrec_split *split, int part, size_t *count)
{
    size_t n = 0;
    if (!model || !ds || !split || !count || split->ds != ds)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_count_trained: NULL argument or a split of another dataset");
    if (part < GATREC_PART_TRAIN || part > GATREC_PART_REVEAL)
        return gatrec__error(GATREC_EINVAL, "unknown split part %d", part);
    for (size_t r = 0; r < ds->nratings; r++) {
        int32_t u, i;
        if (split->parts[r] != part || (u = gatrec__idmap_find(&model->users, ds->users.ids[ds->r_user[r]])) < 0 ||
            (i = gatrec__idmap_find(&model->items, ds->items.ids[ds->r_item[r]])) < 0)
            continue;
        n += gatrec__csr_find(&model->seen, (size_t)u, i) != SIZE_MAX;
    }
    *count = n;
    return GATREC_OK;
}

/* ---- the embedder kept in a model: its bytes, written and read by the embed layer ---- */

GATREC_API int gatrec_model_set_embedder(gatrec_model *model, const gatrec_embedder *embedder)
{
    gatrec__buf b = {0};
    int rc;
    if (!model || !embedder)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_set_embedder: NULL argument");
    if (gatrec_model_feature_dim(model) == 0)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_set_embedder: this %s model was trained without input "
                             "features: a profile's embedding has no place in it", gatrec_model_kind_name(model->ops->kind));
    if (gatrec_model_feature_dim(model) != gatrec_embedder_dim(embedder))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_set_embedder: the embedder writes %zu-d vectors, the model "
                             "reads %zu-d features (embed the training profiles with the same embedder)",
                             gatrec_embedder_dim(embedder), gatrec_model_feature_dim(model));
    if ((rc = gatrec__embedder_serialize(embedder, &b))) {
        gatrec__buf_free(&b);
        return rc;
    }
    free(model->embedder);
    model->embedder = b.data;
    model->embedder_len = b.len;
    return GATREC_OK;
}

GATREC_API int gatrec_model_get_embedder(const gatrec_model *model, gatrec_embedder **out)
{
    if (!model || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_get_embedder: NULL argument");
    if (!model->embedder)
        return gatrec__error(GATREC_ENOTFOUND, "the model carries no embedder (attach one with gatrec_model_set_embedder "
                                               "or gatrec train --embedder)");
    return gatrec__embedder_parse(model->embedder, model->embedder_len, "the model's embedder", out);
}
