/* Profiles written from the data alone (no LLM): an item's title, year, genres and overview, a
 * user's latest liked and disliked items; and the rated-item lists the LLM prompts reuse. */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiles.h"

int gatrec__profiles_put_genres(gatrec__buf *b, const gatrec_dataset *ds, int32_t item)
{
    int rc = GATREC_OK, first = 1;
    for (size_t g = 0; g < gatrec_dataset_num_genres(ds) && !rc; g++)
        if (gatrec_dataset_item_has_genre(ds, item, g) && strcmp(gatrec_dataset_genre_name(ds, g), "unknown") != 0) {
            rc = gatrec__buf_printf(b, "%s%s", first ? "" : ", ", gatrec_dataset_genre_name(ds, g));
            first = 0;
        }
    return rc;
}

/* An imported catalogue that is not movies (its domain set, docs/data.md) is described in
 * neutral words; MovieLens and the numeric loaders keep the movie words. */
int gatrec__profiles_generic(const gatrec_dataset *ds)
{
    return ds->domain && strcmp(ds->domain, "movies") != 0;
}

/* The lines of an imported row's text ("column: value"), each a sentence after a blank */
static int put_sentences(gatrec__buf *b, const char *text)
{
    int rc = GATREC_OK;
    for (const char *p = text; !rc && p && *p;) {
        size_t n = strcspn(p, "\n");
        rc = gatrec__buf_printf(b, " %.*s%s", (int)n, p, n && p[n - 1] == '.' ? "" : ".");
        p += n + (p[n] == '\n');
    }
    return rc;
}

static int item_template(gatrec__buf *b, const gatrec_dataset *ds, int32_t item)
{
    const char *title = gatrec_dataset_item_title(ds, item), *text = gatrec_dataset_item_text(ds, item),
               *key = gatrec_dataset_item_key(ds, item);
    int generic = gatrec__profiles_generic(ds), rc = gatrec__buf_printf(b, "%s", title ? title : "");
    if (!title && key)
        rc = gatrec__buf_printf(b, "%s", key);
    else if (!title)
        rc = gatrec__buf_printf(b, "item %lld", (long long)gatrec_dataset_item_id(ds, item));
    if (generic) { /* "Title. Categories: a, b. column: value ..." */
        if (!rc && gatrec_dataset_num_genres(ds))
            rc = gatrec__buf_printf(b, ". Categories: ");
        if (!rc)
            rc = gatrec__profiles_put_genres(b, ds, item);
        if (!rc)
            rc = gatrec__buf_printf(b, ".");
        return rc ? rc : put_sentences(b, text); /* the catalogue's columns */
    }
    if (!rc && gatrec_dataset_item_year(ds, item) > 0 && (!title || !strstr(title, "(")))
        rc = gatrec__buf_printf(b, " (%d)", gatrec_dataset_item_year(ds, item));
    if (!rc)
        rc = gatrec__buf_printf(b, ". Genres: ");
    if (!rc)
        rc = gatrec__profiles_put_genres(b, ds, item);
    if (!rc)
        rc = gatrec__buf_printf(b, ".");
    if (!rc && text && text[0])
        rc = gatrec__buf_printf(b, " Overview: %s", text);
    return rc;
}


/* Latest first; ties by item. */
static int by_time_desc(const void *a, const void *b)
{
    const rated *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? 1 : -1;
    return (x->item > y->item) - (x->item < y->item);
}

/* Does r count as liked (liked != 0) or disliked? */
static int matches(const rated *r, int liked, float liked_at, float disliked_at)
{
    return liked ? r->rating >= liked_at : r->rating <= disliked_at;
}

/* Up to `max` liked (or disliked) items of r after skipping `skip` of them, as
 * "Title (genres)" joined by sep. */
int gatrec__profiles_list_items(gatrec__buf *b, const gatrec_dataset *ds, const rated *r, size_t n, int liked, float liked_at,
                      float disliked_at, const char *sep, size_t skip, size_t max, size_t *listed)
{
    int rc = GATREC_OK;
    size_t k = 0, seen = 0;
    for (size_t j = 0; j < n && k < max && !rc; j++) {
        if (!matches(&r[j], liked, liked_at, disliked_at) || seen++ < skip)
            continue;
        const char *title = gatrec_dataset_item_title(ds, r[j].item), *key = gatrec_dataset_item_key(ds, r[j].item);
        if (!(rc = gatrec__buf_printf(b, "%s%s (", k ? sep : "", title ? title : key ? key : "untitled")) &&
            !(rc = gatrec__profiles_put_genres(b, ds, r[j].item)))
            rc = gatrec__buf_printf(b, ")");
        k++;
    }
    *listed = k;
    return rc;
}

/* A user's training items the dataset knows, latest first. */
int gatrec__profiles_collect_rated(const gatrec_dataset *ds, const gatrec_graph *g, int32_t gu, rated **out, size_t *count)
{
    const int32_t *items;
    const float *ratings;
    size_t n, k = 0;
    int32_t du;
    rated *r;
    int rc = gatrec_graph_user_items(g, gu, &items, &ratings, &n);
    if (rc)
        return rc;
    if (gatrec_dataset_user_index(ds, g->users.ids[gu], &du))
        du = -1;
    if (!(r = gatrec__malloc_array(n + 1, sizeof *r)))
        return GATREC_ENOMEM;
    for (size_t j = 0; j < n; j++) {
        int32_t di;
        int64_t at;
        if (gatrec_dataset_item_index(ds, g->items.ids[items[j]], &di))
            continue;
        r[k].rating = ratings[j];
        r[k].item = di;
        r[k].time = 0;
        if (du >= 0 && (at = gatrec__dataset_find_pair(ds, du, di)) >= 0)
            gatrec_dataset_rating(ds, (size_t)at, NULL, NULL, NULL, &r[k].time);
        k++;
    }
    qsort(r, k, sizeof *r, by_time_desc);
    *out = r;
    *count = k;
    return GATREC_OK;
}

/* The paper's integrated-text inputs, without the LLM: the latest <= 10 liked and <= 10 disliked
 * training items, and the genres the user likes most. */
static int user_template(gatrec__buf *b, const gatrec_dataset *ds, const gatrec_graph *g, int32_t gu)
{
    size_t n, listed;
    unsigned counts[GATREC_MAX_GENRES] = {0};
    rated *r;
    int rc = gatrec__profiles_collect_rated(ds, g, gu, &r, &n);
    if (rc)
        return rc;
    for (size_t j = 0; j < n; j++)
        for (size_t k = 0; r[j].rating >= g->liked && k < gatrec_dataset_num_genres(ds) && k < GATREC_MAX_GENRES; k++)
            counts[k] += (unsigned)gatrec_dataset_item_has_genre(ds, r[j].item, k);
    rc = gatrec__buf_printf(b, gatrec__profiles_generic(ds) ? "A user who liked: " : "A viewer who liked: ");
    if (!rc)
        rc = gatrec__profiles_list_items(b, ds, r, n, 1, g->liked, g->disliked, "; ", 0, TEMPLATE_ITEMS, &listed);
    if (!rc && !listed)
        rc = gatrec__buf_printf(b, "nothing yet");
    if (!rc)
        rc = gatrec__buf_printf(b, ". Disliked: ");
    if (!rc)
        rc = gatrec__profiles_list_items(b, ds, r, n, 0, g->liked, g->disliked, "; ", 0, TEMPLATE_ITEMS, &listed);
    if (!rc && !listed)
        rc = gatrec__buf_printf(b, "nothing yet");
    if (!rc)
        rc = gatrec__buf_printf(b, ".");
    for (int shown = 0; !rc && shown < 3; shown++) { /* the three most liked genres */
        size_t best = SIZE_MAX;
        for (size_t k = 0; k < gatrec_dataset_num_genres(ds) && k < GATREC_MAX_GENRES; k++)
            if (counts[k] && (best == SIZE_MAX || counts[k] > counts[best]))
                best = k;
        if (best == SIZE_MAX)
            break;
        rc = gatrec__buf_printf(b, "%s%s", shown ? ", " : gatrec__profiles_generic(ds) ? " Favourite categories: "
                                                                                    : " Favourite genres: ",
                                gatrec_dataset_genre_name(ds, best));
        counts[best] = 0;
    }
    free(r);
    if (!rc && gatrec__profiles_generic(ds)) { /* an imported user file's attributes */
        int32_t du;
        const char *about = gatrec_dataset_user_index(ds, g->users.ids[gu], &du) == 0 ? gatrec_dataset_user_text(ds, du)
                                                                                      : NULL;
        rc = put_sentences(b, about);
    }
    return rc;
}

GATREC_API int gatrec_profiles_fill_templates(gatrec_profiles *p, const gatrec_dataset *ds, const gatrec_graph *g,
                                              size_t *filled)
{
    size_t count = 0;
    int rc = GATREC_OK;
    if (!p || !ds || !g)
        return gatrec__error(GATREC_EINVAL, "gatrec_profiles_fill_templates: NULL argument");
    for (int kind = 0; kind < 2 && !rc; kind++) {
        const gatrec__idmap *m = kind == GATREC_NODE_USER ? &g->users : &g->items;
        for (size_t v = 0; v < m->count && !rc; v++) {
            gatrec__buf b = {0};
            int32_t di;
            if (gatrec_profiles_get(p, kind, m->ids[v]))
                continue;
            if (kind == GATREC_NODE_USER)
                rc = user_template(&b, ds, g, (int32_t)v);
            else if (gatrec_dataset_item_index(ds, m->ids[v], &di) == 0)
                rc = item_template(&b, ds, di);
            else
                rc = gatrec__buf_printf(&b, "item %lld", (long long)m->ids[v]);
            if (!rc)
                rc = gatrec__buf_put(&b, "", 1);
            if (!rc)
                rc = gatrec_profiles_set(p, kind, m->ids[v], (const char *)b.data);
            gatrec__buf_free(&b);
            count++;
        }
    }
    if (filled)
        *filled = count;
    return rc;
}

