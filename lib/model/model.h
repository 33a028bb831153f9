/* The model interface every kind implements (popularity pop.c, BPR-MF and LightGCN mf.c, the GAT
 * gat*.c, EASE ease.c, content content.c, attn attn*.c), the model's generic state, and what the
 * generic files share: model.c (kinds, options, training dispatch, info), recommend.c, similar.c,
 * foldin.c, explain.c (template justifications), file.c (the model file). */
#ifndef GATREC_MODEL_H
#define GATREC_MODEL_H

#include <pthread.h>

#include "../common/common.h"
#include "../graph/graph.h"

typedef struct gatrec__model_ops {
    int kind;
    const char *name;
    /* Learn parameters from the graph; the generic fields (ids, seen, popularity) are set. */
    int (*train)(gatrec_model *m, const gatrec_graph *g);
    /* Scores of every item for `user` into scores[0..num_items). */
    void (*score_all)(const gatrec_model *m, int32_t user, float *scores);
    /* Append / read the kind's own parameters. */
    int (*save)(const gatrec_model *m, gatrec__buf *b);
    int (*load)(gatrec_model *m, gatrec__reader *r);
    void (*free)(gatrec_model *m);
    /* Optional (NULL: GATREC_EUNSUPPORTED). Fold-in writes the new node's final embedding
     * (m->dim floats); it runs before the generic code grows the arrays. fold_user sets the
     * input state of user row `user` (a new user's: m->users.count) from `features` (NULL: the
     * mean user's) and computes its embedding from the ratings; refold_user computes a user's
     * embedding from its kept input state and the given ratings (gatrec_model_update_user). */
    int (*fold_user)(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                     const float *features, float *emb);
    int (*refold_user)(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                       float *emb);
    int (*fold_item)(gatrec_model *m, const float *features, float *emb);
    /* Optional, for kinds whose fold_user writes state of its own (attn, GAT): the width in
     * floats of a user's kept input state, and a copy of it out (put 0) or back in (put 1).
     * Neither can fail; gatrec_model_fold_in_revealed saves the rows first and puts them back
     * when a later user's fold-in fails, so that the model is as it was. */
    size_t (*user_state_width)(const gatrec_model *m);
    void (*user_state)(gatrec_model *m, int32_t user, float *row, int put);
    /* How much the user's node attended to each of its training items (seen row order), >= 0. */
    int (*attention)(const gatrec_model *m, int32_t user, float *weights);
    /* Optional: the evidence weight (>= 0) of each of the user's training items (seen row order)
     * for `item`, replacing attention x cosine (kinds without embeddings). */
    int (*evidence)(const gatrec_model *m, int32_t user, int32_t item, float *weights);
    /* Optional: the similarity of every item to `item`, replacing the cosine of embeddings. */
    void (*similar)(const gatrec_model *m, int32_t item, float *sim);
    /* Non-zero: the kind cannot score an item without training ratings (it ranks last). */
    int transductive_items;
    /* Optional: overrides transductive_items for a model whose configuration decides it. */
    int (*transductive)(const gatrec_model *m);
    /* Non-zero: score(u, i) = <uemb[u], iemb[i]>, so serving scores blocks of users on BLIS. */
    int emb_scores;
    /* Optional: the width of the caller features fold-in reads (NULL or 0: it takes none). */
    size_t (*feature_dim)(const gatrec_model *m);
} gatrec__model_ops;

/* The star rule's weight of a disliked rating for a kind (docs/model.md): options' dislike_weight,
 * 0 = the kind's default, negative = none; 0 for the kinds without the rule. */
float gatrec__dislike_weight(int kind, const gatrec_model_options *o);
/* Input features are an embedder's output, near unit scale: a value beyond this is an error in
 * the file (one 1e30 cell silently wrecked attn's text map; issue 24, item 6). */
#define GATREC__FEATURE_MAX 1e4f
/* Popularity's scores (training ratings per item): the popularity model's, and every kind's for a
 * user with no ratings (no signal to say more). */
void gatrec__popularity_scores(const gatrec_model *m, float *scores);
/* (Re)compute item_logpop from item_ratings when the model has a popularity prior; a status. */
int gatrec__model_logpop(gatrec_model *m);

struct gatrec_model {
    const gatrec__model_ops *ops;
    gatrec_model_options opts;
    gatrec__idmap users, items;
    gatrec__csr seen;        /* training items of each user, excluded from recommendations */
    size_t seen_cap;         /* slots in seen.col/val (0: unknown, exactly off[nrows]); updates grow it by half */
    int trying;              /* inside gatrec_model_try_user(): no user may be added or keyed */
    /* The mean item embedding (similar.c), kept for the item count it was taken at: readers share
     * it; items change only in gatrec_model_add_item(), which no reader may overlap */
    pthread_mutex_t centre_mu;
    float *centre;
    double *centre_norm2;    /* per item: the squared norm of its embedding minus the centre */
    size_t centre_items;
    uint64_t *item_ratings;  /* training ratings per item */
    uint64_t *item_liked;    /* of which >= liked threshold */
    float liked, disliked;
    float dislike;           /* the star rule: a rating <= disliked counts -dislike (attn, EASE, content) */
    float pop_prior;         /* attn: + pop_prior log(1 + item_ratings[i]) on every score of a user with ratings */
    float *item_logpop;      /* log(1 + item_ratings[i]) per item when pop_prior > 0, else NULL */
    char **info_keys, **info_vals;
    size_t ninfo;
    unsigned char *embedder; /* the state of the embedder the features came from, or NULL */
    size_t embedder_len;
    size_t dim;              /* width of the final embeddings (0: the kind scores otherwise) */
    float *uemb, *iemb;      /* users x dim, items x dim: score(u, i) = <uemb[u], iemb[i]> */
    void *impl;              /* the kind's own state */
};

/* The star rule's weight of one rating in a user's sum (EASE's x_u, the content model's user
 * vector): 1 liked, -dislike disliked, 0 between. */
static inline float gatrec__rating_weight(const gatrec_model *m, float rating)
{
    return rating >= m->liked ? 1.0f : rating <= m->disliked ? -m->dislike : 0.0f;
}

extern const gatrec__model_ops gatrec__pop_ops;
extern const gatrec__model_ops gatrec__bpr_ops;
extern const gatrec__model_ops gatrec__lightgcn_ops;
extern const gatrec__model_ops gatrec__gat_ops;
extern const gatrec__model_ops gatrec__ease_ops;
extern const gatrec__model_ops gatrec__content_ops;
extern const gatrec__model_ops gatrec__attn_ops;

/* GATREC_EINVAL unless `user` (`item`) is an index of the model. */
int gatrec__model_check_user(const gatrec_model *model, int32_t user);
int gatrec__model_check_item(const gatrec_model *model, int32_t item);

/* fold_user of the kinds that score a user from their rated items alone (popularity, EASE). */
int gatrec__fold_user_by_ratings(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                                 const float *features, float *emb);
int gatrec__refold_user_by_ratings(gatrec_model *m, int32_t user, const int32_t *items, const float *ratings, size_t n,
                                   float *emb);

/* score_all of the embedding kinds: dot products with m->iemb. */
void gatrec__emb_score_all(const gatrec_model *m, int32_t user, float *scores);
/* Save / load the final embeddings (the embedding kinds' common section). */
int gatrec__emb_save(const gatrec_model *m, gatrec__buf *b);
int gatrec__emb_load(gatrec_model *m, gatrec__reader *r);

gatrec_model *gatrec__model_alloc(void);
/* Non-zero: the model ranks the items without training ratings last (it cannot score them). */
int gatrec__model_transductive(const gatrec_model *m);
/* The operations of a kind, or NULL. */
const gatrec__model_ops *gatrec__model_ops_of(int kind);

#endif
