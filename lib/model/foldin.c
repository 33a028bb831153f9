/* New users and items folded into a trained model without retraining: one at a time (checked
 * or not), and the revealed ratings of a split's cold users at once. */
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
        if (!(fabsf(features[k]) <= GATREC__FEATURE_MAX))
            return gatrec__error(GATREC_EINVAL, "%s: feature %zu is %g: features must be finite and near unit scale, "
                                 "as an embedder writes them (at most %g in magnitude)", who, k, (double)features[k],
                                 (double)GATREC__FEATURE_MAX);
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

/* The (item, rating) pairs of a request, checked against the model and sorted by item into
 * cols/vals (room for n): items in range, finite ratings, no item twice. `who` names the user in
 * the messages. */
static int sorted_pairs(const gatrec_model *model, const int32_t *items, const float *ratings, size_t n, const char *who,
                        int32_t *cols, float *vals)
{
    struct pair {
        int32_t item;
        float rating;
    } *pairs = gatrec__malloc_array(n + 1, sizeof *pairs);
    int rc = GATREC_OK;
    if (!pairs)
        return GATREC_ENOMEM;
    for (size_t j = 0; j < n && !rc; j++) {
        if ((rc = gatrec__model_check_item(model, items[j])))
            break;
        if (!isfinite(ratings[j]))
            rc = gatrec__error(GATREC_ERATING, "rating #%zu of %s is not a finite number", j + 1, who);
        pairs[j].item = items[j];
        pairs[j].rating = ratings[j];
    }
    if (!rc)
        qsort(pairs, n, sizeof *pairs, cmp_pair);
    for (size_t j = 0; j < n && !rc; j++) {
        if (j && pairs[j].item == pairs[j - 1].item)
            rc = gatrec__error(GATREC_EDUPLICATE, "item %lld is rated twice by %s",
                               (long long)model->items.ids[pairs[j].item], who);
        cols[j] = pairs[j].item;
        vals[j] = pairs[j].rating;
    }
    free(pairs);
    return rc;
}

/* Room in the seen rows for user row u (u == nrows: a new row) to hold n ratings: the arrays
 * grow by half at a time, so that a stream of updates moves them O(log) times. Nothing else
 * changes, so a caller may still fail after it. */
static int seen_reserve(gatrec_model *model, size_t u, size_t n)
{
    gatrec__csr *s = &model->seen;
    size_t nu = s->nrows, nnz = s->off[nu], old = u == nu ? 0 : s->off[u + 1] - s->off[u];
    size_t total = nnz - old + n, cap = total + total / 2 + 16;
    if (u == nu) {
        size_t *off = gatrec__realloc_array(s->off, nu + 2, sizeof *off);
        if (!off)
            return gatrec__error(GATREC_ENOMEM, "out of memory storing a user's ratings");
        s->off = off;
    }
    if (total + 1 > model->seen_cap) {
        int32_t *col = gatrec__realloc_array(s->col, cap, sizeof *col);
        if (col)
            s->col = col;
        float *val = col ? gatrec__realloc_array(s->val, cap, sizeof *val) : NULL;
        if (val)
            s->val = val;
        if (!col || !val)
            return gatrec__error(GATREC_ENOMEM, "out of memory storing a user's ratings");
        model->seen_cap = cap;
    }
    return GATREC_OK;
}

/* Set user row u's seen ratings to (cols, vals)[0..n) in the room seen_reserve made, moving the
 * rows after it; a new row (u == nrows) is appended. */
static void seen_write(gatrec_model *model, size_t u, const int32_t *cols, const float *vals, size_t n)
{
    gatrec__csr *s = &model->seen;
    size_t nu = s->nrows, nnz = s->off[nu], old = u == nu ? 0 : s->off[u + 1] - s->off[u], at = s->off[u];
    if (u < nu) { /* the rows after u move by n - old */
        memmove(s->col + at + n, s->col + at + old, (nnz - at - old) * sizeof *s->col);
        memmove(s->val + at + n, s->val + at + old, (nnz - at - old) * sizeof *s->val);
        for (size_t r = u + 1; r <= nu; r++)
            s->off[r] = s->off[r] - old + n;
    } else {
        s->off[nu + 1] = nnz + n;
        s->nrows = nu + 1;
    }
    memcpy(s->col + at, cols, n * sizeof *cols);
    memcpy(s->val + at, vals, n * sizeof *vals);
}

GATREC_API int gatrec_model_add_user(gatrec_model *model, int64_t user_id, const int32_t *items,
                                     const float *ratings, size_t n, const float *features, int32_t *index)
{
    int32_t *cols = NULL;
    float *vals = NULL, *emb = NULL;
    size_t nu;
    int rc, added;
    if (!model || !index || (n && (!items || !ratings)))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_add_user: NULL argument");
    if (model->trying)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_add_user: not inside gatrec_model_try_user()");
    if (!model->ops->fold_user)
        return gatrec__error(GATREC_EUNSUPPORTED, "a %s model is transductive: it cannot fold in a new user "
                             "(retrain, or use a gat, content, ease or pop model)", model->ops->name);
    if (user_id < 0)
        return gatrec__error(GATREC_EINVAL, "user id %lld is negative", (long long)user_id);
    if (gatrec__idmap_find(&model->users, user_id) >= 0)
        return gatrec__error(GATREC_EDUPLICATE, "user %lld is already in the model", (long long)user_id);
    if (features && !gatrec_model_feature_dim(model)) /* it would read features it has no width for */
        return check_features(model, features, 1, "gatrec_model_add_user");
    if (!(emb = gatrec__malloc_array(model->dim + 1, sizeof *emb)) || !(cols = gatrec__malloc_array(n + 1, sizeof *cols)) ||
        !(vals = gatrec__malloc_array(n + 1, sizeof *vals))) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    if ((rc = sorted_pairs(model, items, ratings, n, "the new user", cols, vals)) ||
        (rc = model->ops->fold_user(model, (int32_t)model->users.count, cols, vals, n, features, emb)))
        goto done;
    /* grow every per-user array first; only then commit the new count */
    nu = model->users.count;
    {
        float *ue = gatrec__realloc_array(model->uemb, (nu + 1) * model->dim + 1, sizeof *ue);
        if (ue)
            model->uemb = ue;
        if (!ue) {
            rc = gatrec__error(GATREC_ENOMEM, "out of memory adding a user");
            goto done;
        }
    }
    if ((rc = seen_reserve(model, nu, n)) || (rc = gatrec__idmap_add(&model->users, user_id, index, &added)))
        goto done;
    seen_write(model, nu, cols, vals, n);
    memcpy(model->uemb + nu * model->dim, emb, model->dim * sizeof *emb);
done:
    free(cols);
    free(vals);
    free(emb);
    return rc;
}

GATREC_API int gatrec_model_try_user(gatrec_model *model, const int32_t *items, const float *ratings, size_t n,
                                     const float *features, size_t feature_len,
                                     int (*fn)(gatrec_model *model, int32_t user, void *ctx), void *ctx)
{
    int64_t id = INT64_MAX; /* an id no user has, from the top: hosts number theirs from 0 or 1 */
    int32_t user;
    int rc;
    if (!model || !fn)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_try_user: NULL model or function");
    while (gatrec__idmap_find(&model->users, id) >= 0)
        id--;
    if (model->trying)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_try_user: not inside gatrec_model_try_user()");
    if ((rc = gatrec_model_add_user_checked(model, id, items, ratings, n, features, feature_len, &user)))
        return rc;
    model->trying = 1;
    rc = fn(model, user, ctx);
    model->trying = 0;
    /* out again: its id, and its row of held ratings (the kind's row past the count is scratch) */
    gatrec__idmap_drop_last(&model->users);
    model->seen.nrows--;
    return rc;
}

GATREC_API int gatrec_model_update_user(gatrec_model *model, int32_t user, const int32_t *items, const float *ratings,
                                        size_t n)
{
    const gatrec__csr *s;
    int32_t *cols = NULL, *merged = NULL;
    float *vals = NULL, *mvals = NULL, *emb = NULL;
    size_t old, m = 0;
    int rc = gatrec__model_check_user(model, user);
    if (rc)
        return rc;
    if (n && (!items || !ratings))
        return gatrec__error(GATREC_EINVAL, "gatrec_model_update_user: NULL items or ratings");
    if (!model->ops->refold_user)
        return gatrec__error(GATREC_EUNSUPPORTED, "a %s model is transductive: a user's new ratings cannot reach it "
                             "without retraining (use attn, gat, content, ease or pop)", model->ops->name);
    s = &model->seen;
    old = s->off[user + 1] - s->off[user];
    if (!(emb = gatrec__malloc_array(model->dim + 1, sizeof *emb)) || !(cols = gatrec__malloc_array(n + 1, sizeof *cols)) ||
        !(vals = gatrec__malloc_array(n + 1, sizeof *vals)) ||
        !(merged = gatrec__malloc_array(old + n + 1, sizeof *merged)) ||
        !(mvals = gatrec__malloc_array(old + n + 1, sizeof *mvals))) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    if ((rc = sorted_pairs(model, items, ratings, n, "the user's update", cols, vals)))
        goto done;
    /* the held ratings and the new ones, by item; a re-rated item takes its new rating */
    for (size_t a = s->off[user], b = 0; a < s->off[user + 1] || b < n;) {
        int take_old = b == n || (a < s->off[user + 1] && s->col[a] < cols[b]);
        if (!take_old && a < s->off[user + 1] && s->col[a] == cols[b])
            a++; /* replaced */
        merged[m] = take_old ? s->col[a] : cols[b];
        mvals[m++] = take_old ? s->val[a++] : vals[b++];
    }
    /* room first, then the kind's state (which fails whole or not at), then the rows: nothing half-done */
    if ((rc = seen_reserve(model, (size_t)user, m)) || (rc = model->ops->refold_user(model, user, merged, mvals, m, emb)))
        goto done;
    seen_write(model, (size_t)user, merged, mvals, m);
    if (model->dim)
        memcpy(model->uemb + (size_t)user * model->dim, emb, model->dim * sizeof *emb);
done:
    free(cols);
    free(vals);
    free(merged);
    free(mvals);
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
        float *lp = model->item_logpop ? gatrec__realloc_array(model->item_logpop, ni + 1, sizeof *lp) : NULL;
        if (lp)
            model->item_logpop = lp;
        if (!ie || !r || !l || (model->item_logpop && !lp)) {
            rc = gatrec__error(GATREC_ENOMEM, "out of memory adding an item");
            goto done;
        }
    }
    if ((rc = gatrec__idmap_add(&model->items, item_id, index, &added)))
        goto done;
    memcpy(model->iemb + ni * model->dim, emb, model->dim * sizeof *emb);
    model->item_ratings[ni] = model->item_liked[ni] = 0;
    if (model->item_logpop)
        model->item_logpop[ni] = 0; /* no training ratings: log 1 */
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
    size_t *off = NULL, *extra = NULL, nrev = 0, nusers = 0, nu, width = 0;
    uint32_t *idx = NULL;
    int32_t *cols = NULL;
    float *vals = NULL, *emb = NULL, *kept = NULL;
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
    /* everything allocated first - the embeddings and the new seen rows - so that once a user's
     * state starts to change, nothing can fail but the kind's own fold-in */
    {
        const gatrec__csr *s = &model->seen;
        size_t nnz = s->off[nu] + nrev;
        emb = gatrec__malloc_array(nusers * model->dim + 1, sizeof *emb);
        width = model->ops->user_state ? model->ops->user_state_width(model) : 0;
        kept = gatrec__malloc_array(nusers * width + 1, sizeof *kept);
        extra = gatrec__calloc(nu + 1, sizeof *extra);
        s2.nrows = nu;
        s2.off = gatrec__malloc_array(nu + 1, sizeof *s2.off);
        s2.col = gatrec__malloc_array(nnz + 1, sizeof *s2.col);
        s2.val = gatrec__malloc_array(nnz + 1, sizeof *s2.val);
        if (!emb || !kept || !extra || !s2.off || !s2.col || !s2.val) {
            rc = GATREC_ENOMEM;
            goto done;
        }
        /* the seen rows, rebuilt once: the folded users' rows hold their revealed pairs */
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
    }
    /* their embeddings, computed before anything else changes; a kind that keeps a folded
     * user's input state (attn, GAT) gets every row back when a later user's fold-in fails */
    for (size_t k = 0; k < nusers && width; k++)
        model->ops->user_state(model, who[k].user, kept + k * width, 0);
    for (size_t k = 0; k < nusers && !rc; k++)
        rc = model->ops->fold_user(model, who[k].user, cols + who[k].first, vals + who[k].first, who[k].n, NULL,
                                   emb + k * model->dim);
    if (rc) {
        for (size_t k = 0; k < nusers && width; k++)
            model->ops->user_state(model, who[k].user, kept + k * width, 1);
        goto done;
    }
    for (size_t k = 0; k < nusers && model->dim; k++) /* kinds without embeddings (EASE, popularity) have none */
        memcpy(model->uemb + (size_t)who[k].user * model->dim, emb + k * model->dim, model->dim * sizeof *emb);
    gatrec__csr_free(&model->seen);
    model->seen = s2;
    model->seen_cap = s2.off[nu] + 1;
    s2 = (gatrec__csr){0};
    if (folded)
        *folded = nusers;
done:
    gatrec__csr_free(&s2);
    free(extra);
    free(off);
    free(idx);
    free(cols);
    free(vals);
    free(emb);
    free(kept);
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

