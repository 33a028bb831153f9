/* The model interface every kind implements (popularity now; GAT, BPR-MF, LightGCN later). */
#ifndef GATREC_MODEL_H
#define GATREC_MODEL_H

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
} gatrec__model_ops;

struct gatrec_model {
    const gatrec__model_ops *ops;
    gatrec_model_options opts;
    gatrec__idmap users, items;
    gatrec__csr seen;        /* training items of each user, excluded from recommendations */
    uint64_t *item_ratings;  /* training ratings per item */
    uint64_t *item_liked;    /* of which >= liked threshold */
    float liked, disliked;
    char **info_keys, **info_vals;
    size_t ninfo;
    void *impl;              /* the kind's own state */
};

extern const gatrec__model_ops gatrec__pop_ops;

gatrec_model *gatrec__model_alloc(void);
/* The operations of a kind, or NULL. */
const gatrec__model_ops *gatrec__model_ops_of(int kind);

#endif
