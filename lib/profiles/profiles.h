/* The profile store (store.c) and the profiles written from the data alone (templates.c). */
#ifndef GATREC_PROFILES_H
#define GATREC_PROFILES_H

#include "../common/common.h"
#include "../data/dataset.h"
#include "../graph/graph.h"

struct gatrec_profiles {
    gatrec__idmap ids[2]; /* GATREC_NODE_USER, GATREC_NODE_ITEM */
    char **text[2];       /* by index of ids[kind] */
    size_t cap[2];
};

/* A user's rated item, for the templates and the LLM's prompts. */
typedef struct rated {
    int32_t item;
    float rating;
    int64_t time;
} rated;

/* Items a template or a prompt lists at most. */
#define TEMPLATE_ITEMS 10

/* An item's genres ("Drama, Comedy") appended to b. */
int gatrec__profiles_put_genres(gatrec__buf *b, const gatrec_dataset *ds, int32_t item);
/* 1 for an imported catalogue that is not movies: templates and prompts use neutral words */
int gatrec__profiles_generic(const gatrec_dataset *ds);
/* Up to `max` liked (or disliked) items of r after skipping `skip` of them, as "Title (genres)"
 * joined by sep; *listed: how many. */
int gatrec__profiles_list_items(gatrec__buf *b, const gatrec_dataset *ds, const rated *r, size_t n, int liked,
                                float liked_at, float disliked_at, const char *sep, size_t skip, size_t max,
                                size_t *listed);
/* A user's training items the dataset knows, latest first (a new array). */
int gatrec__profiles_collect_rated(const gatrec_dataset *ds, const gatrec_graph *g, int32_t gu, rated **out,
                                   size_t *count);

#endif
