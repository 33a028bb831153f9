/* gatrec_model: options, training dispatch, serving (top-K with seen items masked), info. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "../data/reclist.h"
#include "model.h"

static const gatrec__model_ops *const kinds[] = {&gatrec__pop_ops};

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
    return gatrec__error(GATREC_ENOTFOUND, "unknown model kind '%s' (known: pop)", name ? name : "(null)");
}

GATREC_API int gatrec_model_options_init(gatrec_model_options *opts, unsigned int version)
{
    static const gatrec_model_options defaults = GATREC_MODEL_OPTIONS_INIT;
    if (!opts || version == 0 || version > GATREC_MODEL_OPTIONS_VERSION)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_options_init: unsupported version %u", version);
    *opts = defaults;
    opts->version = version;
    return GATREC_OK;
}


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
    if (opts) {
        if (opts->version == 0 || opts->version > GATREC_MODEL_OPTIONS_VERSION)
            return gatrec__error(GATREC_EINVAL, "gatrec_model_options: unsupported version %u", opts->version);
        memcpy(&o, opts, sizeof o);
        o.version = GATREC_MODEL_OPTIONS_VERSION;
    }
    if (!gatrec__model_ops_of(o.kind))
        return gatrec__error(GATREC_EINVAL, "unknown model kind %d", o.kind);
    if (o.threads < 0)
        return gatrec__error(GATREC_EINVAL, "threads must be >= 0 (0 = all cores), not %d", o.threads);
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
    model->ops->score_all(model, user, all);
    for (size_t j = 0; j < n; j++)
        scores[j] = all[items[j]];
    free(all);
    return GATREC_OK;
}

/* "a ranks before b": higher score, then lower index. */
static int before(float sa, int32_t a, float sb, int32_t b)
{
    return sa > sb || (sa == sb && a < b);
}

/* Restore the heap property below `c` in heap[0..n): the root holds the worst kept item. */
static void sift_down(const float *scores, int32_t *heap, size_t n, size_t c)
{
    for (;;) {
        size_t l = 2 * c + 1, r = l + 1, w = c;
        if (l < n && before(scores[heap[w]], heap[w], scores[heap[l]], heap[l]))
            w = l;
        if (r < n && before(scores[heap[w]], heap[w], scores[heap[r]], heap[r]))
            w = r;
        if (w == c)
            return;
        int32_t t = heap[w];
        heap[w] = heap[c];
        heap[c] = t;
        c = w;
    }
}

/* Top-k of `scores` skipping `seen` (ascending), with a binary min-heap of the best k so far.
 * Writes best first; returns the count. */
static size_t top_k(const float *scores, size_t nitems, const int32_t *seen, size_t nseen, size_t k, int32_t *heap,
                    float *out_scores)
{
    size_t h = 0, s = 0;
    for (int32_t i = 0; (size_t)i < nitems; i++) {
        if (s < nseen && seen[s] == i) {
            s++;
            continue;
        }
        if (h < k) {
            size_t c = h++;
            heap[c] = i;
            while (c > 0) {
                size_t p = (c - 1) / 2;
                if (!before(scores[heap[p]], heap[p], scores[heap[c]], heap[c]))
                    break;
                int32_t t = heap[p];
                heap[p] = heap[c];
                heap[c] = t;
                c = p;
            }
        } else if (k && before(scores[i], i, scores[heap[0]], heap[0])) {
            heap[0] = i;
            sift_down(scores, heap, h, 0);
        }
    }
    /* Heap sort: move the worst to the back each time, leaving the best first. */
    for (size_t n = h; n > 1; n--) {
        int32_t t = heap[0];
        heap[0] = heap[n - 1];
        heap[n - 1] = t;
        sift_down(scores, heap, n - 1, 0);
    }
    if (out_scores)
        for (size_t j = 0; j < h; j++)
            out_scores[j] = scores[heap[j]];
    return h;
}

static size_t recommend_one(const gatrec_model *m, int32_t user, size_t k, float *scratch, int32_t *items,
                            float *scores)
{
    const gatrec__csr *seen = &m->seen;
    m->ops->score_all(m, user, scratch);
    return top_k(scratch, m->items.count, seen->col + seen->off[user], seen->off[user + 1] - seen->off[user], k,
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
    *count = recommend_one(model, user, k, scratch, items, scores);
    free(scratch);
    return GATREC_OK;
}

typedef struct rec_job {
    const gatrec_model *m;
    gatrec_reclist *list;
    size_t k, first, last;
    int rc;
} rec_job;

static void *rec_worker(void *arg)
{
    rec_job *j = arg;
    float *scratch = malloc(j->m->items.count * sizeof *scratch + 1);
    int32_t *items = malloc(j->k * sizeof *items + 1);
    j->rc = GATREC_OK;
    if (!scratch || !items)
        j->rc = GATREC_ENOMEM;
    for (size_t u = j->first; u < j->last && !j->rc; u++) {
        size_t n = recommend_one(j->m, (int32_t)u, j->k, scratch, items, NULL);
        /* users are disjoint between workers, so their lists never race */
        j->rc = gatrec_reclist_set(j->list, (int32_t)u, items, n);
    }
    free(scratch);
    free(items);
    return NULL;
}

GATREC_API int gatrec_model_recommend_all(const gatrec_model *model, size_t k, gatrec_reclist **out)
{
    gatrec_reclist *list;
    rec_job jobs[64];
    pthread_t tids[64];
    size_t nthreads, nu;
    int rc;
    if (!model || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_recommend_all: NULL argument");
    if (k > model->items.count)
        k = model->items.count;
    nu = model->users.count;
    if ((rc = gatrec_reclist_new(nu, &list)))
        return rc;
    nthreads = (size_t)(model->opts.threads ? model->opts.threads : gatrec__default_threads());
    if (nthreads > 64)
        nthreads = 64;
    if (nthreads > nu)
        nthreads = nu ? nu : 1;
    for (size_t t = 0; t < nthreads; t++) {
        jobs[t] = (rec_job){model, list, k, nu * t / nthreads, nu * (t + 1) / nthreads, GATREC_OK};
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
    if (rc) {
        gatrec_reclist_free(list);
        return rc == GATREC_ENOMEM ? gatrec__error(rc, "out of memory recommending for %zu users", nu) : rc;
    }
    *out = list;
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
    ks = realloc(model->info_keys, (model->ninfo + 1) * sizeof *ks);
    if (ks)
        model->info_keys = ks;
    vs = realloc(model->info_vals, (model->ninfo + 1) * sizeof *vs);
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
