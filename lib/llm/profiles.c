/* gatrec_profiles: texts by (kind, id); CSV import, templates without an LLM, JSON Lines files. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "../graph/graph.h"
#include "profiles.h"

static int check_kind(int kind)
{
    return kind == GATREC_NODE_USER || kind == GATREC_NODE_ITEM
               ? GATREC_OK
               : gatrec__error(GATREC_EINVAL, "node kind %d is neither GATREC_NODE_USER nor GATREC_NODE_ITEM", kind);
}

static const char *kind_name(int kind)
{
    return kind == GATREC_NODE_USER ? "user" : "item";
}

GATREC_API int gatrec_profiles_new(gatrec_profiles **out)
{
    if (!out)
        return gatrec__error(GATREC_EINVAL, "gatrec_profiles_new: NULL argument");
    return (*out = gatrec__calloc(1, sizeof **out)) ? GATREC_OK : GATREC_ENOMEM;
}

GATREC_API void gatrec_profiles_free(gatrec_profiles *p)
{
    if (!p)
        return;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < p->ids[k].count; i++)
            free(p->text[k][i]);
        free(p->text[k]);
        gatrec__idmap_free(&p->ids[k]);
    }
    free(p);
}

GATREC_API int gatrec_profiles_set(gatrec_profiles *p, int kind, int64_t id, const char *text)
{
    int32_t idx;
    int added, rc;
    char *copy;
    if (!p || !text)
        return gatrec__error(GATREC_EINVAL, "gatrec_profiles_set: NULL argument");
    if ((rc = check_kind(kind)))
        return rc;
    if (id < 0)
        return gatrec__error(GATREC_EINVAL, "%s id %lld is negative", kind_name(kind), (long long)id);
    if (!gatrec__is_utf8(text, strlen(text)))
        return gatrec__error(GATREC_EFORMAT, "the profile of %s %lld is not valid UTF-8", kind_name(kind),
                             (long long)id);
    if (!(copy = gatrec__strdup(text)))
        return GATREC_ENOMEM;
    if (p->ids[kind].count == p->cap[kind]) {
        size_t cap = p->cap[kind] ? 2 * p->cap[kind] : 64;
        char **t = realloc(p->text[kind], cap * sizeof *t);
        if (!t) {
            free(copy);
            return gatrec__error(GATREC_ENOMEM, "out of memory storing profiles");
        }
        p->text[kind] = t;
        p->cap[kind] = cap;
    }
    if ((rc = gatrec__idmap_add(&p->ids[kind], id, &idx, &added))) {
        free(copy);
        return rc;
    }
    if (!added)
        free(p->text[kind][idx]);
    p->text[kind][idx] = copy;
    return GATREC_OK;
}

GATREC_API const char *gatrec_profiles_get(const gatrec_profiles *p, int kind, int64_t id)
{
    int32_t idx;
    if (!p || check_kind(kind))
        return NULL;
    idx = gatrec__idmap_find(&p->ids[kind], id);
    return idx < 0 ? NULL : p->text[kind][idx];
}

GATREC_API size_t gatrec_profiles_count(const gatrec_profiles *p, int kind)
{
    return p && (kind == GATREC_NODE_USER || kind == GATREC_NODE_ITEM) ? p->ids[kind].count : 0;
}

typedef struct import_ctx {
    gatrec_profiles *p;
    int kind;
    size_t count;
} import_ctx;

static int import_row(void *ctx, int64_t id, const char *text, size_t line)
{
    import_ctx *c = ctx;
    (void)line;
    if (!text[0])
        return GATREC_OK; /* an empty text is no profile */
    c->count++;
    return gatrec_profiles_set(c->p, c->kind, id, text);
}

GATREC_API int gatrec_profiles_import_csv(gatrec_profiles *p, int kind, const char *path, const char *id_column,
                                          const char *text_column, size_t *imported)
{
    import_ctx c = {p, kind, 0};
    int rc;
    if (!p || !path || !id_column || !text_column)
        return gatrec__error(GATREC_EINVAL, "gatrec_profiles_import_csv: NULL argument");
    if ((rc = check_kind(kind)) || (rc = gatrec__csv_id_text(path, id_column, text_column, import_row, &c)))
        return rc;
    if (imported)
        *imported = c.count;
    return GATREC_OK;
}

/* ---- templates: profiles written from the data alone ---- */

static int put_genres(gatrec__buf *b, const gatrec_dataset *ds, int32_t item)
{
    int rc = GATREC_OK, first = 1;
    for (size_t g = 0; g < gatrec_dataset_num_genres(ds) && !rc; g++)
        if (gatrec_dataset_item_has_genre(ds, item, g) && strcmp(gatrec_dataset_genre_name(ds, g), "unknown") != 0) {
            rc = gatrec__buf_printf(b, "%s%s", first ? "" : ", ", gatrec_dataset_genre_name(ds, g));
            first = 0;
        }
    return rc;
}

static int item_template(gatrec__buf *b, const gatrec_dataset *ds, int32_t item)
{
    const char *title = gatrec_dataset_item_title(ds, item), *text = gatrec_dataset_item_text(ds, item);
    int rc = gatrec__buf_printf(b, "%s", title ? title : "");
    if (!title)
        rc = gatrec__buf_printf(b, "item %lld", (long long)gatrec_dataset_item_id(ds, item));
    if (!rc && gatrec_dataset_item_year(ds, item) > 0 && (!title || !strstr(title, "(")))
        rc = gatrec__buf_printf(b, " (%d)", gatrec_dataset_item_year(ds, item));
    if (!rc)
        rc = gatrec__buf_printf(b, ". Genres: ");
    if (!rc)
        rc = put_genres(b, ds, item);
    if (!rc)
        rc = gatrec__buf_printf(b, ".");
    if (!rc && text && text[0])
        rc = gatrec__buf_printf(b, " Overview: %s", text);
    return rc;
}

typedef struct rated {
    int32_t item;
    float rating;
    int64_t time;
} rated;

/* Latest first; ties by item. */
static int by_time_desc(const void *a, const void *b)
{
    const rated *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? 1 : -1;
    return (x->item > y->item) - (x->item < y->item);
}

#define TEMPLATE_ITEMS 10

static int list_items(gatrec__buf *b, const gatrec_dataset *ds, const rated *r, size_t n, int liked, float liked_at,
                      float disliked_at, size_t *listed)
{
    int rc = GATREC_OK;
    size_t k = 0;
    for (size_t j = 0; j < n && k < TEMPLATE_ITEMS && !rc; j++) {
        if (liked ? r[j].rating < liked_at : r[j].rating > disliked_at)
            continue;
        const char *title = gatrec_dataset_item_title(ds, r[j].item);
        if (!(rc = gatrec__buf_printf(b, "%s%s (", k ? "; " : "", title ? title : "untitled")) &&
            !(rc = put_genres(b, ds, r[j].item)))
            rc = gatrec__buf_printf(b, ")");
        k++;
    }
    *listed = k;
    return rc;
}

/* The paper's integrated-text inputs, without the LLM: the latest <= 10 liked and <= 10 disliked
 * training items, and the genres the user likes most. */
static int user_template(gatrec__buf *b, const gatrec_dataset *ds, const gatrec_graph *g, int32_t gu)
{
    const int32_t *items;
    const float *ratings;
    size_t n, listed;
    int32_t du;
    unsigned counts[GATREC_MAX_GENRES] = {0};
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
        int64_t at = -1;
        r[j].rating = ratings[j];
        r[j].item = gatrec_dataset_item_index(ds, g->items.ids[items[j]], &di) == 0 ? di : -1;
        if (du >= 0 && r[j].item >= 0 && (at = gatrec__dataset_find_pair(ds, du, r[j].item)) >= 0)
            gatrec_dataset_rating(ds, (size_t)at, NULL, NULL, NULL, &r[j].time);
        else
            r[j].time = 0;
        for (size_t k = 0; r[j].item >= 0 && ratings[j] >= g->liked && k < gatrec_dataset_num_genres(ds); k++)
            counts[k] += (unsigned)gatrec_dataset_item_has_genre(ds, r[j].item, k);
    }
    qsort(r, n, sizeof *r, by_time_desc);
    while (n && r[n - 1].item < 0)
        n--; /* (items the dataset lacks sort anywhere; drop them) */
    rc = gatrec__buf_printf(b, "A viewer who liked: ");
    if (!rc)
        rc = list_items(b, ds, r, n, 1, g->liked, g->disliked, &listed);
    if (!rc && !listed)
        rc = gatrec__buf_printf(b, "nothing yet");
    if (!rc)
        rc = gatrec__buf_printf(b, ". Disliked: ");
    if (!rc)
        rc = list_items(b, ds, r, n, 0, g->liked, g->disliked, &listed);
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
        rc = gatrec__buf_printf(b, "%s%s", shown ? ", " : " Favourite genres: ", gatrec_dataset_genre_name(ds, best));
        counts[best] = 0;
    }
    free(r);
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

/* ---- JSON Lines files: {"kind": "user", "id": 1, "text": "..."} ---- */

GATREC_API int gatrec_profiles_save(const gatrec_profiles *p, const char *path)
{
    gatrec__buf b = {0};
    int rc = GATREC_OK;
    if (!p || !path)
        return gatrec__error(GATREC_EINVAL, "gatrec_profiles_save: NULL argument");
    for (int kind = 0; kind < 2 && !rc; kind++)
        for (size_t i = 0; i < p->ids[kind].count && !rc; i++) {
            json_t *o = json_pack("{s:s, s:I, s:s}", "kind", kind_name(kind), "id", (json_int_t)p->ids[kind].ids[i],
                                  "text", p->text[kind][i]);
            char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
            rc = line ? gatrec__buf_printf(&b, "%s\n", line) : GATREC_ENOMEM;
            free(line);
            json_decref(o);
        }
    if (!rc)
        rc = gatrec__write_file_atomic(path, b.data ? (const void *)b.data : "", b.len);
    gatrec__buf_free(&b);
    return rc;
}

GATREC_API int gatrec_profiles_load(const char *path, gatrec_profiles **out)
{
    char *data;
    size_t len, n;
    const char *line;
    gatrec__lines it;
    gatrec_profiles *p;
    int rc;
    if (!path || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_profiles_load: NULL argument");
    if ((rc = gatrec__read_file(path, &data, &len)))
        return rc;
    if ((rc = gatrec_profiles_new(&p))) {
        free(data);
        return rc;
    }
    gatrec__lines_init(&it, data, len);
    while (!rc && gatrec__lines_next(&it, &line, &n)) {
        json_error_t err;
        json_t *o;
        const char *kind = NULL, *text = NULL;
        json_int_t id = -1;
        if (n == 0)
            continue;
        if (!(o = json_loadb(line, n, 0, &err))) {
            rc = gatrec__error(GATREC_EFORMAT, "%s:%zu: not JSON (%s)", path, it.lineno, err.text);
            break;
        }
        if (json_unpack(o, "{s:s, s:I, s:s}", "kind", &kind, "id", &id, "text", &text) != 0 ||
            (strcmp(kind, "user") != 0 && strcmp(kind, "item") != 0) || id < 0)
            rc = gatrec__error(GATREC_EFORMAT, "%s:%zu: expected {\"kind\": \"user\"|\"item\", \"id\": N, \"text\": \"...\"}",
                               path, it.lineno);
        else
            rc = gatrec_profiles_set(p, strcmp(kind, "user") == 0 ? GATREC_NODE_USER : GATREC_NODE_ITEM, id, text);
        json_decref(o);
    }
    free(data);
    if (rc) {
        gatrec_profiles_free(p);
        return rc;
    }
    *out = p;
    return GATREC_OK;
}
