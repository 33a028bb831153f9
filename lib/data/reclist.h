/* Recommendation lists (one ranked list per user) and their CSV file. */
#ifndef GATREC_RECLIST_H
#define GATREC_RECLIST_H

#include "../common/common.h"

struct gatrec_reclist {
    size_t nusers;
    int32_t **items; /* per user, in rank order; NULL when the user has no list */
    int32_t **ranks; /* per user, the rank of each item (1-based, ascending) */
    size_t *n;
};

/* Set a user's list with explicit ranks (ascending, positive). Takes no ownership. */
int gatrec__reclist_set_ranked(gatrec_reclist *list, int32_t user, const int32_t *items, const int32_t *ranks,
                               size_t n);
/* Write the CSV with the given id maps (index -> id). */
int gatrec__reclist_write_csv(const gatrec_reclist *list, const gatrec__idmap *users, const gatrec__idmap *items,
                              const char *path);

#endif
