/* gatrec_profiles: texts by (kind, id); CSV import, templates without an LLM, JSON Lines files. */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "../graph/graph.h"
#include "llm.h"
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
        char **t = gatrec__realloc_array(p->text[kind], cap, sizeof *t);
        if (!t) {
            free(copy);
            return gatrec__error_context(GATREC_ENOMEM, "storing profiles");
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

/* Does r count as liked (liked != 0) or disliked? */
static int matches(const rated *r, int liked, float liked_at, float disliked_at)
{
    return liked ? r->rating >= liked_at : r->rating <= disliked_at;
}

/* Up to `max` liked (or disliked) items of r after skipping `skip` of them, as
 * "Title (genres)" joined by sep. */
static int list_items(gatrec__buf *b, const gatrec_dataset *ds, const rated *r, size_t n, int liked, float liked_at,
                      float disliked_at, const char *sep, size_t skip, size_t max, size_t *listed)
{
    int rc = GATREC_OK;
    size_t k = 0, seen = 0;
    for (size_t j = 0; j < n && k < max && !rc; j++) {
        if (!matches(&r[j], liked, liked_at, disliked_at) || seen++ < skip)
            continue;
        const char *title = gatrec_dataset_item_title(ds, r[j].item);
        if (!(rc = gatrec__buf_printf(b, "%s%s (", k ? sep : "", title ? title : "untitled")) &&
            !(rc = put_genres(b, ds, r[j].item)))
            rc = gatrec__buf_printf(b, ")");
        k++;
    }
    *listed = k;
    return rc;
}

/* A user's training items the dataset knows, latest first. */
static int collect_rated(const gatrec_dataset *ds, const gatrec_graph *g, int32_t gu, rated **out, size_t *count)
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
    int rc = collect_rated(ds, g, gu, &r, &n);
    if (rc)
        return rc;
    for (size_t j = 0; j < n; j++)
        for (size_t k = 0; r[j].rating >= g->liked && k < gatrec_dataset_num_genres(ds) && k < GATREC_MAX_GENRES; k++)
            counts[k] += (unsigned)gatrec_dataset_item_has_genre(ds, r[j].item, k);
    rc = gatrec__buf_printf(b, "A viewer who liked: ");
    if (!rc)
        rc = list_items(b, ds, r, n, 1, g->liked, g->disliked, "; ", 0, TEMPLATE_ITEMS, &listed);
    if (!rc && !listed)
        rc = gatrec__buf_printf(b, "nothing yet");
    if (!rc)
        rc = gatrec__buf_printf(b, ". Disliked: ");
    if (!rc)
        rc = list_items(b, ds, r, n, 0, g->liked, g->disliked, "; ", 0, TEMPLATE_ITEMS, &listed);
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

/* ---- LLM-written profiles ---- */

GATREC__OPTIONS_INIT_FN(gatrec_profile_options_init, gatrec_profile_options, GATREC_PROFILE_OPTIONS_VERSION, GATREC_PROFILE_OPTIONS_INIT)

static const char ITEM_PROMPT[] =
    "Write a profile of the movie below for a recommender system, in Markdown with exactly these sections:\n"
    "## Overview (one sentence)\n## Attributes (Genre: ...; Tags: up to 8 comma-separated tags)\n"
    "## Description (one paragraph: narrative, tone, characters)\n"
    "## Dislikes (attributes this movie does NOT have)\n\n"
    "Movie: {title}\nYear: {year}\nGenres: {genres}\nOverview: {overview}\n";

static const char USER_PROMPT[] =
    "A user rated these movies 5 stars (most recent first):\n{liked}\n\n"
    "and these 1 or 2 stars:\n{disliked}\n\n"
    "Write one paragraph describing this user's taste for a recommender system: genres, themes, tone, "
    "eras, what they avoid. Do not list the titles. Answer as JSON: {\"user_profile\": \"...\"}";

static const char USER_FIRST[] =
    "Build a profile of a user's movie taste in Markdown with exactly these sections: ## Overview, "
    "## Attributes (Genre: ...; Tags: ...), ## Description, ## Dislikes. Use only words that could "
    "describe movies. The user {verb} these movies:\n{items}\n\nReturn the profile only.";

static const char USER_REFINE[] =
    "Here is a user's current taste profile:\n\n{profile}\n\nThe user also {verb} these movies:\n{items}\n\n"
    "Return the whole updated profile, same sections{dislikes}. Use only words that could describe movies.";

/* template with {name} placeholders -> text */
static int fill(gatrec__buf *b, const char *tpl, const char *const *keys, const char *const *vals, size_t n)
{
    int rc = GATREC_OK;
    for (const char *p = tpl; *p && !rc;) {
        size_t k = n;
        if (*p == '{')
            for (k = 0; k < n; k++)
                if (strncmp(p + 1, keys[k], strlen(keys[k])) == 0 && p[1 + strlen(keys[k])] == '}')
                    break;
        if (k < n) {
            rc = gatrec__buf_printf(b, "%s", vals[k]);
            p += strlen(keys[k]) + 2;
        } else {
            rc = gatrec__buf_put(b, p++, 1);
        }
    }
    return rc ? rc : gatrec__buf_put(b, "", 1);
}

static int item_prompt(gatrec__buf *b, const char *tpl, const gatrec_dataset *ds, int32_t di)
{
    gatrec__buf genres = {0};
    char year[16];
    const char *title = gatrec_dataset_item_title(ds, di), *text = gatrec_dataset_item_text(ds, di);
    int rc = put_genres(&genres, ds, di);
    if (!rc)
        rc = gatrec__buf_put(&genres, "", 1);
    snprintf(year, sizeof year, "%d", gatrec_dataset_item_year(ds, di));
    if (!rc) {
        const char *keys[] = {"title", "year", "genres", "overview"};
        const char *vals[] = {title ? title : "", gatrec_dataset_item_year(ds, di) > 0 ? year : "unknown",
                              (const char *)genres.data, text ? text : "(none)"};
        rc = fill(b, tpl, keys, vals, 4);
    }
    gatrec__buf_free(&genres);
    return rc;
}

/* One turn of a user's profile: `what` 0..3 = liked 1-5, liked 6-10, disliked 1-5, disliked 6-10;
 * `profile` NULL on the first turn. Empty buffer when the user has no such items. */
static int structured_prompt(gatrec__buf *b, const gatrec_dataset *ds, const gatrec_graph *g, const rated *r, size_t n,
                             int what, const char *profile)
{
    gatrec__buf items = {0};
    size_t listed;
    int liked = what < 2, rc = list_items(&items, ds, r, n, liked, g->liked, g->disliked, "\n- ", (size_t)(what % 2) * 5,
                                          5, &listed);
    if (!rc && listed) {
        gatrec__buf list = {0};
        if (!(rc = gatrec__buf_printf(&list, "- %.*s", (int)items.len, (const char *)items.data)) &&
            !(rc = gatrec__buf_put(&list, "", 1))) {
            const char *keys[] = {"verb", "items", "profile", "dislikes"};
            const char *vals[] = {liked ? "liked" : "disliked", (const char *)list.data, profile ? profile : "",
                                  liked ? "" : ", and extend ## Dislikes"};
            rc = fill(b, profile ? USER_REFINE : USER_FIRST, keys, vals, 4);
        }
        gatrec__buf_free(&list);
    }
    gatrec__buf_free(&items);
    return rc;
}

static int user_prompt(gatrec__buf *b, const char *tpl, const gatrec_dataset *ds, const gatrec_graph *g, const rated *r,
                       size_t n)
{
    gatrec__buf liked = {0}, disliked = {0};
    size_t nl, nd;
    int rc = list_items(&liked, ds, r, n, 1, 5.0f, g->disliked, "\n", 0, TEMPLATE_ITEMS, &nl);
    if (!rc && !nl) /* nobody rated 5: the liked threshold then */
        rc = list_items(&liked, ds, r, n, 1, g->liked, g->disliked, "\n", 0, TEMPLATE_ITEMS, &nl);
    if (!rc)
        rc = list_items(&disliked, ds, r, n, 0, g->liked, g->disliked, "\n", 0, TEMPLATE_ITEMS, &nd);
    if (!rc && !(rc = gatrec__buf_printf(&liked, "%s", nl ? "" : "(none)")) &&
        !(rc = gatrec__buf_put(&liked, "", 1)) && !(rc = gatrec__buf_printf(&disliked, "%s", nd ? "" : "(none)")) &&
        !(rc = gatrec__buf_put(&disliked, "", 1))) {
        const char *keys[] = {"liked", "disliked"};
        const char *vals[] = {(const char *)liked.data, (const char *)disliked.data};
        rc = fill(b, tpl, keys, vals, 2);
    }
    gatrec__buf_free(&liked);
    gatrec__buf_free(&disliked);
    return rc;
}

/* The LLM's answer is data: trim it, strip a code fence, and for JSON answers take the field. */
static char *clean_reply(const char *reply, const char *json_key)
{
    const char *p = reply, *e;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    if (strncmp(p, "```", 3) == 0) {
        p = strchr(p, '\n');
        p = p ? p + 1 : reply + strlen(reply);
    }
    e = p + strlen(p);
    while (e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t'))
        e--;
    if (e - p >= 3 && strncmp(e - 3, "```", 3) == 0)
        e -= 3;
    while (e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
    if (json_key) {
        json_t *j = json_loadb(p, (size_t)(e - p), 0, NULL), *v = json_object_get(j, json_key);
        char *out = json_is_string(v) && json_string_length(v) ? gatrec__strdup(json_string_value(v)) : NULL;
        json_decref(j);
        return out;
    }
    return e > p ? strndup(p, (size_t)(e - p)) : NULL;
}

typedef struct job {
    int kind;
    int64_t id;
    int32_t node; /* graph user index for users */
    char *prompt, *profile;
    rated *r;
    size_t n;
} job;

/* Send the prompts of jobs[..] that have one; store cleaned answers in profile (NULL: failed). */
static int run_round(gatrec_llm *llm, job *jobs, size_t n, const gatrec_profile_options *o, const char *json_key,
                     size_t *done_so_far)
{
    const char **prompts = gatrec__malloc_array(n + 1, sizeof *prompts);
    size_t *which = gatrec__malloc_array(n + 1, sizeof *which), m = 0;
    char **replies;
    int *st, rc = GATREC_OK;
    if (!prompts || !which) {
        free(prompts);
        free(which);
        return GATREC_ENOMEM;
    }
    for (size_t k = 0; k < n; k++)
        if (jobs[k].prompt)
            prompts[m] = jobs[k].prompt, which[m++] = k;
    replies = gatrec__calloc(m + 1, sizeof *replies);
    st = gatrec__calloc(m + 1, sizeof *st);
    if (!replies || !st)
        rc = GATREC_ENOMEM;
    if (!rc && m) {
        /* failures of single requests are the nodes' (they stay without a profile); a cancel is the caller's */
        if (gatrec__llm_chat_many_shaped(llm, m, NULL, prompts, o->temperature,
                                         json_key ? gatrec__shape_user_profile : NULL, replies, st, o->progress,
                                         o->payload) == GATREC_ECANCELLED)
            rc = GATREC_ECANCELLED;
    }
    for (size_t q = 0; q < m; q++) {
        job *j = &jobs[which[q]];
        char *clean = !st[q] && replies[q] ? clean_reply(replies[q], json_key) : NULL;
        if (!st[q] && !clean)
            gatrec__llm_note_failure(llm, json_key ? "an answer held no usable profile (not the JSON object asked for, "
                                                     "or an empty user_profile)"
                                                   : "an answer held no usable profile (empty)");
        free(j->profile);
        j->profile = clean; /* NULL: this node failed */
        gatrec_string_free(replies[q]);
        free(j->prompt);
        j->prompt = NULL;
    }
    *done_so_far += m;
    free(replies);
    free(st);
    free(prompts);
    free(which);
    return rc;
}

GATREC_API int gatrec_profiles_generate(gatrec_profiles *p, gatrec_llm *llm, const gatrec_dataset *ds,
                                        const gatrec_graph *g, const gatrec_profile_options *opts, size_t *generated,
                                        size_t *failed)
{
    gatrec_profile_options o;
    job *jobs;
    size_t nj = 0, done = 0, ok = 0, bad = 0, nu, ni;
    int rc = GATREC_OK;
    gatrec_profile_options_init(&o, GATREC_PROFILE_OPTIONS_VERSION);
    if (!p || !llm || !ds || !g)
        return gatrec__error(GATREC_EINVAL, "gatrec_profiles_generate: NULL argument");
    if (GATREC__READ_VERSIONED(&o, opts, gatrec_profile_options))
        return GATREC_EINVAL;
    if (o.shards < 0 || (o.shards > 1 && (o.shard < 0 || o.shard >= o.shards)))
        return gatrec__error(GATREC_EINVAL, "gatrec_profile_options: shards must be >= 0 and shard in 0 .. shards - 1 "
                             "(shards %d, shard %d)", o.shards, o.shard);
    if (o.temperature < 0)
        o.temperature = 0.7f;
    if (o.user_form != GATREC_PROFILE_INTEGRATED && o.user_form != GATREC_PROFILE_STRUCTURED)
        return gatrec__error(GATREC_EINVAL, "user_form must be GATREC_PROFILE_INTEGRATED or GATREC_PROFILE_STRUCTURED");
    nu = g->users.count;
    ni = g->items.count;
    if (!(jobs = gatrec__calloc(nu + ni + 1, sizeof *jobs)))
        return GATREC_ENOMEM;
    /* items: one prompt each */
    for (size_t i = 0; o.items && i < ni && !rc; i++) {
        int32_t di;
        gatrec__buf b = {0};
        if ((o.shards > 1 && i % (size_t)o.shards != (size_t)o.shard) ||
            (!o.overwrite && gatrec_profiles_get(p, GATREC_NODE_ITEM, g->items.ids[i])) ||
            gatrec_dataset_item_index(ds, g->items.ids[i], &di))
            continue;
        if (!(rc = item_prompt(&b, o.item_prompt ? o.item_prompt : ITEM_PROMPT, ds, di)))
            jobs[nj++] = (job){GATREC_NODE_ITEM, g->items.ids[i], -1, (char *)b.data, NULL, NULL, 0};
        else
            gatrec__buf_free(&b);
    }
    if (!rc && nj)
        rc = run_round(llm, jobs, nj, &o, NULL, &done);
    for (size_t k = 0; k < nj && !rc; k++) {
        if (jobs[k].profile && !(rc = gatrec_profiles_set(p, GATREC_NODE_ITEM, jobs[k].id, jobs[k].profile)))
            ok++;
        else
            bad += !jobs[k].profile;
    }
    for (size_t k = 0; k < nj; k++)
        free(jobs[k].profile), free(jobs[k].prompt);
    memset(jobs, 0, (nu + ni + 1) * sizeof *jobs);
    nj = 0;
    /* users: one prompt (integrated), or up to four turns (structured) */
    for (size_t u = 0; o.users && u < nu && !rc; u++) {
        if ((o.shards > 1 && u % (size_t)o.shards != (size_t)o.shard) ||
            (!o.overwrite && gatrec_profiles_get(p, GATREC_NODE_USER, g->users.ids[u])))
            continue;
        job *j = &jobs[nj++];
        j->kind = GATREC_NODE_USER;
        j->id = g->users.ids[u];
        j->node = (int32_t)u;
        if ((rc = collect_rated(ds, g, (int32_t)u, &j->r, &j->n)))
            break;
        if (o.user_form == GATREC_PROFILE_INTEGRATED) {
            gatrec__buf b = {0};
            if ((rc = user_prompt(&b, o.user_prompt ? o.user_prompt : USER_PROMPT, ds, g, j->r, j->n)))
                gatrec__buf_free(&b);
            j->prompt = (char *)b.data;
        }
    }
    if (!rc && o.user_form == GATREC_PROFILE_INTEGRATED) {
        rc = run_round(llm, jobs, nj, &o, "user_profile", &done);
    } else {
        unsigned char *dead = gatrec__calloc(nj + 1, 1); /* a failed turn ends that user's profile */
        rc = dead ? rc : GATREC_ENOMEM;
        for (int what = 0; what < 4 && !rc; what++) {
            for (size_t k = 0; k < nj && !rc; k++) {
                gatrec__buf b = {0};
                if (dead[k] || (what > 0 && !jobs[k].profile && what != 2))
                    continue;
                rc = structured_prompt(&b, ds, g, jobs[k].r, jobs[k].n, what, jobs[k].profile);
                jobs[k].prompt = b.len ? (char *)b.data : NULL;
                if (!b.len)
                    gatrec__buf_free(&b);
            }
            char **before = gatrec__calloc(nj + 1, sizeof *before);
            for (size_t k = 0; before && k < nj; k++) /* keep the last good profile of a failing turn */
                if (jobs[k].prompt)
                    before[k] = jobs[k].profile, jobs[k].profile = NULL;
            if (!rc)
                rc = before ? run_round(llm, jobs, nj, &o, NULL, &done) : GATREC_ENOMEM;
            for (size_t k = 0; before && k < nj; k++) {
                if (before[k] && !jobs[k].profile)
                    dead[k] = 1, jobs[k].profile = before[k];
                else
                    free(before[k]);
            }
            free(before);
        }
        free(dead);
    }
    for (size_t k = 0; k < nj && !rc; k++) {
        if (jobs[k].profile && !(rc = gatrec_profiles_set(p, GATREC_NODE_USER, jobs[k].id, jobs[k].profile)))
            ok++;
        else
            bad += !jobs[k].profile;
    }
    for (size_t k = 0; k < nj; k++) {
        free(jobs[k].profile);
        free(jobs[k].prompt);
        free(jobs[k].r);
    }
    free(jobs);
    if (generated)
        *generated = ok;
    if (failed)
        *failed = bad;
    return rc;
}
