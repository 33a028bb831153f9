/* Popularity: an item's score is how many training ratings it has. The reference floor every
 * other model must clear. */
#include "model.h"

static int pop_train(gatrec_model *m, const gatrec_graph *g)
{
    (void)m;
    (void)g;
    return GATREC_OK; /* the generic popularity counts are all it needs */
}

void gatrec__popularity_scores(const gatrec_model *m, float *scores)
{
    for (size_t i = 0; i < m->items.count; i++)
        scores[i] = (float)m->item_ratings[i];
}

static void pop_score_all(const gatrec_model *m, int32_t user, float *scores)
{
    (void)user;
    gatrec__popularity_scores(m, scores);
}

static int pop_save(const gatrec_model *m, gatrec__buf *b)
{
    (void)m;
    (void)b;
    return GATREC_OK;
}

static int pop_load(gatrec_model *m, gatrec__reader *r)
{
    (void)m;
    (void)r;
    return GATREC_OK;
}

/* A new user needs nothing but their rated items, which the generic code keeps (and excludes). */
int gatrec__fold_user_by_ratings(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                                 const float *features, float *emb)
{
    (void)m, (void)user, (void)items, (void)ratings, (void)n, (void)features, (void)emb;
    return GATREC_OK;
}

int gatrec__refold_user_by_ratings(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                                   float *emb)
{
    (void)m, (void)user, (void)items, (void)ratings, (void)n, (void)emb;
    return GATREC_OK;
}

static void pop_free(gatrec_model *m)
{
    (void)m;
}

const gatrec__model_ops gatrec__pop_ops = {.kind = GATREC_MODEL_POP, .name = "pop", .train = pop_train,
                                           .score_all = pop_score_all, .save = pop_save, .load = pop_load,
                                           .free = pop_free, .fold_user = gatrec__fold_user_by_ratings,
                                           .refold_user = gatrec__refold_user_by_ratings, .transductive_items = 1};
