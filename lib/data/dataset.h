/* The dataset's representation, shared by the data, graph, model and eval layers. */
#ifndef GATREC_DATASET_H
#define GATREC_DATASET_H

#include "../common/common.h"

typedef struct gatrec__item_meta {
    char *title;
    char *text;
    int year;
    uint64_t genres; /* bit g set: genre g */
} gatrec__item_meta;

typedef struct gatrec__user_meta {
    int age;
    char gender[4];
    char *occupation;
    char *text; /* an imported user file's attributes, "column: value" lines */
} gatrec__user_meta;

struct gatrec_dataset {
    char *name;
    char *dir; /* where official split files live, or NULL */
    gatrec__idmap users, items;
    size_t nratings, rcap;
    int32_t *r_user, *r_item;
    float *r_value;
    int64_t *r_time;
    /* (user, item) -> rating index, open addressing over keys user << 32 | item */
    uint64_t *pair_keys;
    uint32_t *pair_vals;
    size_t pair_slots;
    gatrec__item_meta *item_meta;
    size_t item_meta_cap;
    gatrec__user_meta *user_meta;
    size_t user_meta_cap;
    char **genre_names;
    size_t ngenres;
    /* what the ratings mean (gatrec_dataset_semantics): the liked and disliked thresholds (4 and 2
     * unless imported), implicit events, the domain noun (NULL: none given; "movies" for MovieLens) */
    float liked, disliked;
    int implicit;
    char *domain;
};

#define GATREC_MAX_GENRES 64

int gatrec__dataset_new(const char *name, gatrec_dataset **out);
/* Add one rating; `where`/`line` name the source for error messages (line 0: none). */
int gatrec__dataset_add_rating(gatrec_dataset *ds, int64_t user_id, int64_t item_id, float rating,
                               int64_t timestamp, const char *where, size_t line);
/* Room for n ratings in all (a loader that knows its count: no regrowth on the way). */
int gatrec__dataset_reserve(gatrec_dataset *ds, size_t n);
/* Append a rating by user and item index. A pair already there is not added: GATREC_EDUPLICATE
 * (no message) with its rating index in *existing (may be NULL). */
int gatrec__dataset_append(gatrec_dataset *ds, int32_t user, int32_t item, float rating, int64_t timestamp,
                           int64_t *existing);
/* Rating index of (user, item), or -1. */
int64_t gatrec__dataset_find_pair(const gatrec_dataset *ds, int32_t user, int32_t item);
/* Metadata of an item/user index, growing the arrays to cover it (NULL on ENOMEM). */
gatrec__item_meta *gatrec__dataset_item_meta(gatrec_dataset *ds, int32_t item);
gatrec__user_meta *gatrec__dataset_user_meta(gatrec_dataset *ds, int32_t user);
int gatrec__dataset_add_genre(gatrec_dataset *ds, const char *name, size_t n, size_t *index);
/* End a load: on success give every item and user a metadata slot and hand `ds` to *out;
 * on failure (rc < 0, or finishing fails) free it. Returns the status. */
int gatrec__dataset_complete(gatrec_dataset *ds, int rc, gatrec_dataset **out);

typedef struct gatrec__rating_format {
    const char *delim;
    int header;
    int user_col, item_col, rating_col, time_col;
    double rating_min, rating_max;
    /* MovieLens's own files: exactly time_col + 1 fields, whole-number ratings, and every user
     * and item already known (from u.user / u.item, users.dat / movies.dat) */
    int strict;
} gatrec__rating_format;
/* Unix seconds or ISO 8601 (YYYY-MM-DD[(T| )hh:mm[:ss[.f]]][Z|+hh:mm]) to Unix seconds; ENUMBER otherwise. */
int gatrec__parse_time(const char *s, int64_t *out);

/* Parse a rating file's lines into `ds`. */
int gatrec__dataset_read_ratings(gatrec_dataset *ds, const char *path, const gatrec__rating_format *fmt);


/* Ratings grouped by user: rating indices of user u are idx[off[u] .. off[u+1]), in dataset
 * order. Caller frees both arrays. */
int gatrec__dataset_by_user(const gatrec_dataset *ds, size_t **off, uint32_t **idx);

struct gatrec_split {
    const gatrec_dataset *ds; /* borrowed: the dataset must outlive the split */
    uint8_t *parts;
    size_t counts[5]; /* per gatrec_part */
    char *spec;
};
#endif
