/* gatrec_profiles: one text per user and per item, by dataset id; CSV import and JSON Lines
 * files. No LLM is involved: the LLM writes profiles in lib/llm/generate.c. */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    const char *path;
    gatrec__idmap seen; /* the ids this file gave a profile, and the line of each */
    size_t *lines, cap;
} import_ctx;

static int import_row(void *ctx, int64_t id, const char *text, size_t line)
{
    import_ctx *c = ctx;
    int32_t at;
    int added, rc;
    if (!text[0])
        return GATREC_OK; /* an empty text is no profile */
    if ((rc = gatrec__idmap_add(&c->seen, id, &at, &added)))
        return rc;
    if (!added)
        return gatrec__error(GATREC_EDUPLICATE, "%s:%zu: %s %lld has a profile already, at line %zu: one row per %s",
                             c->path, line, kind_name(c->kind), (long long)id, c->lines[at], kind_name(c->kind));
    if ((rc = gatrec__reserve((void **)&c->lines, &c->cap, (size_t)at + 1, sizeof *c->lines)))
        return rc;
    c->lines[at] = line;
    c->count++;
    return gatrec_profiles_set(c->p, c->kind, id, text);
}

GATREC_API int gatrec_profiles_import_csv(gatrec_profiles *p, int kind, const char *path, const char *id_column,
                                          const char *text_column, size_t *imported)
{
    import_ctx c = {p, kind, 0, path, {0}, NULL, 0};
    int rc;
    if (!p || !path || !id_column || !text_column)
        return gatrec__error(GATREC_EINVAL, "gatrec_profiles_import_csv: NULL argument");
    if (!(rc = check_kind(kind)))
        rc = gatrec__csv_id_text(path, id_column, text_column, import_row, &c);
    gatrec__idmap_free(&c.seen);
    free(c.lines);
    if (!rc && imported)
        *imported = c.count;
    return rc;
}

GATREC_API int gatrec_profiles_keep_known(gatrec_profiles *p, const gatrec_dataset *ds, int kind, size_t *dropped)
{
    const gatrec__idmap *known;
    gatrec__idmap *m, fresh = {0};
    size_t kept = 0, n;
    int32_t idx;
    int rc;
    if (!p || !ds)
        return gatrec__error(GATREC_EINVAL, "gatrec_profiles_keep_known: NULL argument");
    if ((rc = check_kind(kind)))
        return rc;
    m = &p->ids[kind];
    known = kind == GATREC_NODE_USER ? &ds->users : &ds->items;
    n = m->count;
    /* the map of the ids that stay, first: when it cannot be had, nothing has changed */
    for (size_t j = 0; j < n && !rc; j++)
        if (gatrec__idmap_find(known, m->ids[j]) >= 0)
            rc = gatrec__idmap_add(&fresh, m->ids[j], &idx, NULL);
    if (rc) {
        gatrec__idmap_free(&fresh);
        return rc;
    }
    for (size_t j = 0; j < n; j++) /* the texts in the same order (text[kind] keeps its capacity) */
        if (gatrec__idmap_find(known, m->ids[j]) >= 0)
            p->text[kind][kept++] = p->text[kind][j];
        else
            free(p->text[kind][j]);
    gatrec__idmap_free(m);
    *m = fresh;
    if (dropped)
        *dropped = n - kept;
    return GATREC_OK;
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

