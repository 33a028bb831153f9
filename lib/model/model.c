/* gatrec_model: the kinds, options, training dispatch, accessors, info, the embedding kinds'
 * common parts and the embedder a model keeps. Serving: recommend.c; similar items and evidence:
 * similar.c; new users and items: foldin.c. */
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
    gatrec_model *m = gatrec__calloc(1, sizeof(gatrec_model));
    if (m)
        pthread_mutex_init(&m->centre_mu, NULL);
    return m;
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
    free(m->item_logpop);
    free(m->item_liked);
    free(m->uemb);
    free(m->iemb);
    free(m->embedder);
    free(m->centre);
    free(m->centre_norm2);
    pthread_mutex_destroy(&m->centre_mu);
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
    if (o.features && (o.kind == GATREC_MODEL_ATTN || o.kind == GATREC_MODEL_GAT || o.kind == GATREC_MODEL_CONTENT)) {
        size_t rows = graph->users.count + graph->items.count;
        for (size_t k = 0; k < rows * o.feature_dim; k++)
            if (!(fabsf(o.features[k]) <= GATREC__FEATURE_MAX))
                return gatrec__error(GATREC_EINVAL, "input feature %zu of node %zu is %g: features must be finite and "
                                     "near unit scale, as an embedder writes them (at most %g in magnitude); is the "
                                     "file corrupt?",
                                     k % o.feature_dim + 1, k / o.feature_dim, (double)o.features[k],
                                     (double)GATREC__FEATURE_MAX);
    }
    if (!(o.dislike_weight <= 100) || !(o.new_user_share <= 1) || !(o.popularity_prior <= 10))
        return gatrec__error(GATREC_EINVAL, "dislike_weight must be at most 100, new_user_share at most 1 and "
                             "popularity_prior at most 10, not %g, %g and %g", o.dislike_weight, o.new_user_share,
                             o.popularity_prior);
    if (!(m = gatrec__model_alloc()))
        return GATREC_ENOMEM;
    m->ops = gatrec__model_ops_of(o.kind);
    m->dislike = gatrec__dislike_weight(o.kind, &o);
    /* chosen on u1+valid:0.1 and cold-users:0.2:5 seeds 11-13 (docs/model.md, "Popularity prior") */
    m->pop_prior = o.kind != GATREC_MODEL_ATTN ? 0.0f : o.popularity_prior == 0 ? 0.08f
                   : o.popularity_prior < 0 ? 0.0f : o.popularity_prior;
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
        rc = gatrec__model_logpop(m);
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

int gatrec__model_logpop(gatrec_model *m)
{
    float *p;
    if (!(m->pop_prior > 0))
        return GATREC_OK;
    if (!(p = gatrec__realloc_array(m->item_logpop, m->items.count + 1, sizeof *p)))
        return GATREC_ENOMEM;
    m->item_logpop = p;
    for (size_t i = 0; i < m->items.count; i++)
        p[i] = (float)log1p((double)m->item_ratings[i]);
    return GATREC_OK;
}

float gatrec__dislike_weight(int kind, const gatrec_model_options *o)
{
    /* the defaults were chosen on u1+valid:0.1 (its validation part) and cold-users:0.2:5 seed 11
     * (docs/model.md, "Stars"): more costs accuracy - a rated item, even a disliked one, says
     * something of what the user watches */
    float dflt = kind == GATREC_MODEL_ATTN ? 0.3f : kind == GATREC_MODEL_EASE ? 0.1f : 0.3f;
    if (kind != GATREC_MODEL_ATTN && kind != GATREC_MODEL_EASE && kind != GATREC_MODEL_CONTENT)
        return 0.0f;
    return o->dislike_weight == 0 ? dflt : o->dislike_weight < 0 ? 0.0f : o->dislike_weight;
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

GATREC_API const char *gatrec_model_user_key(const gatrec_model *model, int32_t index)
{
    return model ? gatrec__idmap_key(&model->users, index) : NULL;
}

GATREC_API const char *gatrec_model_item_key(const gatrec_model *model, int32_t index)
{
    return model ? gatrec__idmap_key(&model->items, index) : NULL;
}

GATREC_API int gatrec_model_find_user(const gatrec_model *model, const char *key, int32_t *index)
{
    return model ? gatrec__find_key(&model->users, key, index, "user") : gatrec__error(GATREC_EINVAL, "NULL model");
}

GATREC_API int gatrec_model_find_item(const gatrec_model *model, const char *key, int32_t *index)
{
    return model ? gatrec__find_key(&model->items, key, index, "item") : gatrec__error(GATREC_EINVAL, "NULL model");
}

GATREC_API int gatrec_model_set_user_key(gatrec_model *model, int32_t index, const char *key)
{
    if (model && model->trying)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_set_user_key: not inside gatrec_model_try_user()");
    return model ? gatrec__idmap_set_key(&model->users, index, key) : gatrec__error(GATREC_EINVAL, "NULL model");
}

GATREC_API int gatrec_model_set_item_key(gatrec_model *model, int32_t index, const char *key)
{
    return model ? gatrec__idmap_set_key(&model->items, index, key) : gatrec__error(GATREC_EINVAL, "NULL model");
}

int gatrec__model_check_user(const gatrec_model *model, int32_t user)
{
    if (!model)
        return gatrec__error(GATREC_EINVAL, "NULL model");
    if (user < 0 || (size_t)user >= model->users.count)
        return gatrec__error(GATREC_EINVAL, "user index %d out of range (the model has %zu users)", user,
                             model->users.count);
    return GATREC_OK;
}

int gatrec__model_check_item(const gatrec_model *model, int32_t item)
{
    if (!model)
        return gatrec__error(GATREC_EINVAL, "NULL model");
    if (item < 0 || (size_t)item >= model->items.count)
        return gatrec__error(GATREC_EINVAL, "item index %d out of range (the model has %zu items)", item,
                             model->items.count);
    return GATREC_OK;
}

int gatrec__model_transductive(const gatrec_model *m)
{
    return m->ops->transductive ? m->ops->transductive(m) : m->ops->transductive_items;
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
