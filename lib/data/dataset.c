/* gatrec_dataset: ratings, id maps, item and user metadata. */
#include <stdlib.h>
#include <string.h>

#include "dataset.h"

int gatrec__dataset_new(const char *name, gatrec_dataset **out)
{
    gatrec_dataset *ds = gatrec__calloc(1, sizeof *ds);
    if (!ds)
        return GATREC_ENOMEM;
    ds->liked = 4.0f;
    ds->disliked = 2.0f;
    ds->name = gatrec__strdup(name ? name : "data");
    if (!ds->name) {
        free(ds);
        return GATREC_ENOMEM;
    }
    *out = ds;
    return GATREC_OK;
}

GATREC_API void gatrec_dataset_free(gatrec_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->item_meta_cap; i++) {
        free(ds->item_meta[i].title);
        free(ds->item_meta[i].text);
    }
    for (size_t i = 0; i < ds->user_meta_cap; i++) {
        free(ds->user_meta[i].occupation);
        free(ds->user_meta[i].text);
    }
    free(ds->domain);
    for (size_t g = 0; g < ds->ngenres; g++)
        free(ds->genre_names[g]);
    free(ds->genre_names);
    free(ds->item_meta);
    free(ds->user_meta);
    gatrec__idmap_free(&ds->users);
    gatrec__idmap_free(&ds->items);
    free(ds->r_user);
    free(ds->r_item);
    free(ds->r_value);
    free(ds->r_time);
    free(ds->pair_keys);
    free(ds->pair_vals);
    free(ds->name);
    free(ds->dir);
    free(ds);
}

static size_t pair_slot(uint64_t key, size_t nslots)
{
    uint64_t x = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(x ^ (x >> 31)) & (nslots - 1);
}

#define PAIR_EMPTY UINT64_MAX

/* The pair table at n slots (a power of two above the pairs it holds) */
static int pairs_resize(gatrec_dataset *ds, size_t n)
{
    uint64_t *keys = gatrec__malloc_array(n, sizeof *keys);
    uint32_t *vals = gatrec__malloc_array(n, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return GATREC_ENOMEM;
    }
    for (size_t s = 0; s < n; s++)
        keys[s] = PAIR_EMPTY;
    for (size_t s = 0; s < ds->pair_slots; s++) {
        if (ds->pair_keys[s] == PAIR_EMPTY)
            continue;
        size_t t = pair_slot(ds->pair_keys[s], n);
        while (keys[t] != PAIR_EMPTY)
            t = (t + 1) & (n - 1);
        keys[t] = ds->pair_keys[s];
        vals[t] = ds->pair_vals[s];
    }
    free(ds->pair_keys);
    free(ds->pair_vals);
    ds->pair_keys = keys;
    ds->pair_vals = vals;
    ds->pair_slots = n;
    return GATREC_OK;
}

static int pairs_grow(gatrec_dataset *ds)
{
    return pairs_resize(ds, ds->pair_slots ? ds->pair_slots * 2 : 1024);
}

int64_t gatrec__dataset_find_pair(const gatrec_dataset *ds, int32_t user, int32_t item)
{
    uint64_t key = (uint64_t)(uint32_t)user << 32 | (uint32_t)item;
    if (!ds->pair_slots)
        return -1;
    for (size_t s = pair_slot(key, ds->pair_slots);; s = (s + 1) & (ds->pair_slots - 1)) {
        if (ds->pair_keys[s] == PAIR_EMPTY)
            return -1;
        if (ds->pair_keys[s] == key)
            return ds->pair_vals[s];
    }
}

static int resize(void **p, size_t count, size_t size)
{
    void *q;
    if (!(q = gatrec__realloc_array(*p, count, size)))
        return gatrec__error_context(GATREC_ENOMEM, "storing %zu ratings", count);
    *p = q;
    return GATREC_OK;
}

int gatrec__dataset_reserve(gatrec_dataset *ds, size_t n)
{
    size_t slots = ds->pair_slots ? ds->pair_slots : 1024;
    int rc;
    while (n * 2 > slots)
        slots *= 2;
    if (slots > ds->pair_slots && (rc = pairs_resize(ds, slots)))
        return rc;
    if (n > ds->rcap) {
        if ((rc = resize((void **)&ds->r_user, n, sizeof *ds->r_user)) ||
            (rc = resize((void **)&ds->r_item, n, sizeof *ds->r_item)) ||
            (rc = resize((void **)&ds->r_value, n, sizeof *ds->r_value)) ||
            (rc = resize((void **)&ds->r_time, n, sizeof *ds->r_time)))
            return rc;
        ds->rcap = n;
    }
    return GATREC_OK;
}

int gatrec__dataset_append(gatrec_dataset *ds, int32_t u, int32_t i, float rating, int64_t timestamp, int64_t *existing)
{
    uint64_t key = (uint64_t)(uint32_t)u << 32 | (uint32_t)i;
    size_t s;
    int rc;
    if (ds->nratings >= UINT32_MAX)
        return gatrec__error(GATREC_EOVERFLOW, "more than %u ratings", UINT32_MAX);
    if ((ds->nratings + 1) * 2 > ds->pair_slots && (rc = pairs_grow(ds)))
        return rc;
    for (s = pair_slot(key, ds->pair_slots); ds->pair_keys[s] != PAIR_EMPTY; s = (s + 1) & (ds->pair_slots - 1))
        if (ds->pair_keys[s] == key) {
            if (existing)
                *existing = ds->pair_vals[s];
            return GATREC_EDUPLICATE;
        }
    if (ds->nratings == ds->rcap) {
        size_t cap = ds->rcap ? ds->rcap * 2 : 1024;
        if ((rc = resize((void **)&ds->r_user, cap, sizeof *ds->r_user)) ||
            (rc = resize((void **)&ds->r_item, cap, sizeof *ds->r_item)) ||
            (rc = resize((void **)&ds->r_value, cap, sizeof *ds->r_value)) ||
            (rc = resize((void **)&ds->r_time, cap, sizeof *ds->r_time)))
            return rc;
        ds->rcap = cap;
    }
    ds->pair_keys[s] = key;
    ds->pair_vals[s] = (uint32_t)ds->nratings;
    ds->r_user[ds->nratings] = u;
    ds->r_item[ds->nratings] = i;
    ds->r_value[ds->nratings] = rating;
    ds->r_time[ds->nratings] = timestamp;
    ds->nratings++;
    return GATREC_OK;
}

int gatrec__dataset_add_rating(gatrec_dataset *ds, int64_t user_id, int64_t item_id, float rating,
                               int64_t timestamp, const char *where, size_t line)
{
    int32_t u, i;
    int64_t first;
    int rc;
    if ((rc = gatrec__idmap_add(&ds->users, user_id, &u, NULL)) ||
        (rc = gatrec__idmap_add(&ds->items, item_id, &i, NULL)))
        return rc;
    if ((rc = gatrec__dataset_append(ds, u, i, rating, timestamp, &first)) == GATREC_EDUPLICATE) {
        if (line)
            return gatrec__error(GATREC_EDUPLICATE, "%s:%zu: user %lld rated item %lld twice (first as rating #%lld)",
                                 where, line, (long long)user_id, (long long)item_id, (long long)first + 1);
        return gatrec__error(GATREC_EDUPLICATE, "%s: user %lld rated item %lld twice (ratings #%lld and #%zu)", where,
                             (long long)user_id, (long long)item_id, (long long)first + 1, ds->nratings + 1);
    }
    return rc == GATREC_EOVERFLOW ? gatrec__error_context(rc, "%s", where) : rc;
}

gatrec__item_meta *gatrec__dataset_item_meta(gatrec_dataset *ds, int32_t item)
{
    size_t old = ds->item_meta_cap;
    if ((size_t)item >= old) {
        if (gatrec__reserve((void **)&ds->item_meta, &ds->item_meta_cap, (size_t)item + 1, sizeof *ds->item_meta))
            return NULL;
        memset(ds->item_meta + old, 0, (ds->item_meta_cap - old) * sizeof *ds->item_meta);
    }
    return &ds->item_meta[item];
}

gatrec__user_meta *gatrec__dataset_user_meta(gatrec_dataset *ds, int32_t user)
{
    size_t old = ds->user_meta_cap;
    if ((size_t)user >= old) {
        if (gatrec__reserve((void **)&ds->user_meta, &ds->user_meta_cap, (size_t)user + 1, sizeof *ds->user_meta))
            return NULL;
        memset(ds->user_meta + old, 0, (ds->user_meta_cap - old) * sizeof *ds->user_meta);
        for (size_t u = old; u < ds->user_meta_cap; u++)
            ds->user_meta[u].age = -1;
    }
    return &ds->user_meta[user];
}

int gatrec__dataset_add_genre(gatrec_dataset *ds, const char *name, size_t n, size_t *index)
{
    char **names;
    for (size_t g = 0; g < ds->ngenres; g++) {
        if (strlen(ds->genre_names[g]) == n && memcmp(ds->genre_names[g], name, n) == 0) {
            *index = g;
            return GATREC_OK;
        }
    }
    if (ds->ngenres >= GATREC_MAX_GENRES)
        return gatrec__error(GATREC_EOVERFLOW, "more than %d genres", GATREC_MAX_GENRES);
    names = gatrec__realloc_array(ds->genre_names, ds->ngenres + 1, sizeof *names);
    if (!names)
        return GATREC_ENOMEM;
    ds->genre_names = names;
    if (!(names[ds->ngenres] = gatrec__strndup(name, n)))
        return GATREC_ENOMEM;
    *index = ds->ngenres++;
    return GATREC_OK;
}

int gatrec__dataset_complete(gatrec_dataset *ds, int rc, gatrec_dataset **out)
{
    if (!rc && ds->items.count && !gatrec__dataset_item_meta(ds, (int32_t)ds->items.count - 1))
        rc = GATREC_ENOMEM;
    if (!rc && ds->users.count && !gatrec__dataset_user_meta(ds, (int32_t)ds->users.count - 1))
        rc = GATREC_ENOMEM;
    if (rc) {
        gatrec_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return GATREC_OK;
}

/* A field as it may appear in a message: at most 40 bytes, anything but printable ASCII as \xNN
 * (a Latin-1 byte echoed raw would make the message invalid UTF-8). */
static const char *shown(const char *f, size_t n, char out[168])
{
    size_t o = 0;
    for (size_t k = 0; k < n && k < 40; k++) {
        unsigned char c = (unsigned char)f[k];
        if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

int gatrec__dataset_read_ratings(gatrec_dataset *ds, const char *path, const gatrec__rating_format *fmt)
{
    char *data;
    size_t len, dlen = strlen(fmt->delim), before = ds->nratings;
    const char *line;
    size_t n;
    gatrec__lines it;
    int rc, need = fmt->user_col;
    if (fmt->item_col > need)
        need = fmt->item_col;
    if (fmt->rating_col > need)
        need = fmt->rating_col;
    if (fmt->time_col > need)
        need = fmt->time_col;
    if ((rc = gatrec__read_file(path, &data, &len)))
        return rc;
    gatrec__lines_init(&it, data, len);
    if (fmt->header)
        gatrec__lines_next(&it, &line, &n);
    while (gatrec__lines_next(&it, &line, &n)) {
        const char *f[64];
        char show[168];
        size_t fl[64], nf;
        int64_t user, item, ts = 0;
        double r = 1.0;
        if (n == 0)
            continue;
        nf = gatrec__split_fields(line, n, fmt->delim, dlen, f, fl, 64);
        if (nf <= (size_t)need) {
            /* one field and another separator in sight: the usual cause is the delimiter */
            const char *other = nf != 1 ? NULL
                                : memchr(line, '\t', n) && strcmp(fmt->delim, "\t") ? "a tab ('\\t': MovieLens u.data)"
                                : memmem(line, n, "::", 2) && strcmp(fmt->delim, "::") ? "'::' (MovieLens 1M)"
                                : memchr(line, ';', n) && strcmp(fmt->delim, ";") ? "';'"
                                                                                 : NULL;
            char hint[160] = "";
            if (other)
                snprintf(hint, sizeof hint, " (the delimiter is '%s', but the line is separated by %s)", fmt->delim,
                         other);
            rc = gatrec__error(GATREC_EFIELDS, "%s:%zu: %zu field%s, expected at least %d%s", path, it.lineno, nf,
                               nf == 1 ? "" : "s", need + 1, hint);
            break;
        }
        if (fmt->strict && nf != (size_t)need + 1) {
            rc = gatrec__error(GATREC_EFIELDS, "%s:%zu: %zu fields, expected exactly %d", path, it.lineno, nf, need + 1);
            break;
        }
#define FIELD_ERR(col, what)                                                                     \
    gatrec__error(rc, "%s:%zu: %s '%s' %s", path, it.lineno, what, shown(f[col], fl[col], show), \
                  rc == GATREC_EOVERFLOW ? "is too large" : "is not a non-negative integer")
        if ((rc = gatrec__parse_id(f[fmt->user_col], fl[fmt->user_col], &user))) {
            FIELD_ERR(fmt->user_col, "user id");
            break;
        }
        if ((rc = gatrec__parse_id(f[fmt->item_col], fl[fmt->item_col], &item))) {
            FIELD_ERR(fmt->item_col, "item id");
            break;
        }
#undef FIELD_ERR
        if (fmt->rating_col >= 0) {
            if ((rc = gatrec__parse_double(f[fmt->rating_col], fl[fmt->rating_col], &r))) {
                rc = gatrec__error(GATREC_ENUMBER, "%s:%zu: rating '%s' is not a number", path, it.lineno,
                                   shown(f[fmt->rating_col], fl[fmt->rating_col], show));
                break;
            }
            if (fmt->strict && r != (double)(long)r) {
                rc = gatrec__error(GATREC_ERATING, "%s:%zu: rating %g is not a whole number of stars", path, it.lineno, r);
                break;
            }
            if (r < fmt->rating_min || r > fmt->rating_max) {
                rc = gatrec__error(GATREC_ERATING, "%s:%zu: rating %g is outside [%g, %g]", path, it.lineno, r,
                                   fmt->rating_min, fmt->rating_max);
                break;
            }
        }
        if (fmt->time_col >= 0 && (rc = gatrec__parse_i64(f[fmt->time_col], fl[fmt->time_col], &ts))) {
            gatrec__error(rc, "%s:%zu: timestamp '%s' %s", path, it.lineno, shown(f[fmt->time_col], fl[fmt->time_col], show),
                          rc == GATREC_EOVERFLOW ? "is too large" : "is not an integer");
            break;
        }
        if (fmt->strict && gatrec__idmap_find(&ds->users, user) < 0) {
            rc = gatrec__error(GATREC_ENOTFOUND, "%s:%zu: user %lld is not in the dataset's user file", path, it.lineno,
                               (long long)user);
            break;
        }
        if (fmt->strict && gatrec__idmap_find(&ds->items, item) < 0) {
            rc = gatrec__error(GATREC_ENOTFOUND, "%s:%zu: item %lld is not in the dataset's item file", path, it.lineno,
                               (long long)item);
            break;
        }
        if ((rc = gatrec__dataset_add_rating(ds, user, item, (float)r, ts, path, it.lineno)))
            break;
    }
    free(data);
    if (!rc && ds->nratings == before)
        rc = gatrec__error(GATREC_EEMPTY, "%s: no ratings", path);
    return rc;
}

GATREC__OPTIONS_INIT_FN(gatrec_delimited_options_init, gatrec_delimited_options, GATREC_DELIMITED_OPTIONS_VERSION, GATREC_DELIMITED_OPTIONS_INIT)

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

GATREC_API int gatrec_dataset_load_delimited(const char *path, const gatrec_delimited_options *opts,
                                             gatrec_dataset **out)
{
    gatrec_delimited_options o;
    gatrec__rating_format fmt;
    gatrec_dataset *ds;
    int rc;
    if (!path || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_dataset_load_delimited: NULL argument");
    gatrec_delimited_options_init(&o, GATREC_DELIMITED_OPTIONS_VERSION);
    if ((rc = GATREC__READ_VERSIONED(&o, opts, gatrec_delimited_options)))
        return rc;
    if (!o.delimiter || !o.delimiter[0])
        return gatrec__error(GATREC_EINVAL, "delimited options: empty delimiter");
    if (o.user_column < 0 || o.item_column < 0 || o.user_column >= 64 || o.item_column >= 64 ||
        o.rating_column >= 64 || o.timestamp_column >= 64 || o.user_column == o.item_column)
        return gatrec__error(GATREC_EINVAL, "delimited options: columns must be distinct and in 0..63");
    if (!(o.rating_min <= o.rating_max))
        return gatrec__error(GATREC_EINVAL, "delimited options: rating_min > rating_max");
    fmt.delim = o.delimiter;
    fmt.header = o.header;
    fmt.user_col = o.user_column;
    fmt.item_col = o.item_column;
    fmt.rating_col = o.rating_column < 0 ? -1 : o.rating_column;
    fmt.time_col = o.timestamp_column < 0 ? -1 : o.timestamp_column;
    fmt.rating_min = o.rating_column < 0 ? 1.0 : o.rating_min;
    fmt.rating_max = o.rating_column < 0 ? 1.0 : o.rating_max;
    fmt.strict = 0; /* a generic file may carry other columns, and defines its own users and items */
    if ((rc = gatrec__dataset_new(base_name(path), &ds)))
        return rc;
    return gatrec__dataset_complete(ds, gatrec__dataset_read_ratings(ds, path, &fmt), out);
}

GATREC_API int gatrec_dataset_from_arrays(size_t n, const int64_t *user_ids, const int64_t *item_ids,
                                          const float *ratings, const int64_t *timestamps,
                                          gatrec_dataset **out)
{
    gatrec_dataset *ds;
    int rc;
    if (!out || (n && (!user_ids || !item_ids)))
        return gatrec__error(GATREC_EINVAL, "gatrec_dataset_from_arrays: NULL argument");
    if ((rc = gatrec__dataset_new("arrays", &ds)))
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        if (user_ids[i] < 0 || item_ids[i] < 0)
            rc = gatrec__error(GATREC_ENUMBER, "arrays: rating #%zu has a negative id", i + 1);
        else if (ratings && !(ratings[i] == ratings[i]))
            rc = gatrec__error(GATREC_ENUMBER, "arrays: rating #%zu is not a number", i + 1);
        else
            rc = gatrec__dataset_add_rating(ds, user_ids[i], item_ids[i], ratings ? ratings[i] : 1.0f,
                                            timestamps ? timestamps[i] : 0, "arrays", 0);
    }
    return gatrec__dataset_complete(ds, rc, out);
}

typedef struct text_sink {
    gatrec_dataset *ds;
    size_t count;
} text_sink;

static int attach_text(void *ctx, int64_t id, const char *text, size_t line)
{
    text_sink *t = ctx;
    int32_t item = gatrec__idmap_find(&t->ds->items, id);
    gatrec__item_meta *m;
    (void)line;
    if (item < 0 || !text[0])
        return GATREC_OK; /* rows for unknown items are ignored */
    if (!(m = gatrec__dataset_item_meta(t->ds, item)))
        return GATREC_ENOMEM;
    free(m->text);
    if (!(m->text = gatrec__strdup(text)))
        return GATREC_ENOMEM;
    t->count++;
    return GATREC_OK;
}

GATREC_API int gatrec_dataset_load_item_texts(gatrec_dataset *ds, const char *csv_path, const char *id_column,
                                              const char *text_column, size_t *matched)
{
    text_sink t = {ds, 0};
    int rc;
    if (!ds || !csv_path || !id_column || !text_column)
        return gatrec__error(GATREC_EINVAL, "gatrec_dataset_load_item_texts: NULL argument");
    if ((rc = gatrec__csv_id_text(csv_path, id_column, text_column, attach_text, &t)))
        return rc;
    if (matched)
        *matched = t.count;
    return GATREC_OK;
}

/* ---- accessors ---- */

GATREC_API const char *gatrec_dataset_name(const gatrec_dataset *ds)
{
    return ds ? ds->name : NULL;
}

GATREC_API size_t gatrec_dataset_num_users(const gatrec_dataset *ds)
{
    return ds ? ds->users.count : 0;
}

GATREC_API size_t gatrec_dataset_num_items(const gatrec_dataset *ds)
{
    return ds ? ds->items.count : 0;
}

GATREC_API size_t gatrec_dataset_num_ratings(const gatrec_dataset *ds)
{
    return ds ? ds->nratings : 0;
}

GATREC_API int gatrec_dataset_fingerprint(const gatrec_dataset *ds, char out[65])
{
    gatrec__sha256 h;
    unsigned char d[32], rec[28];
    if (!ds || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_dataset_fingerprint: NULL argument");
    gatrec__sha256_init(&h);
    for (size_t r = 0; r < ds->nratings; r++) { /* little-endian fields: the same on every host */
        uint64_t u = (uint64_t)ds->users.ids[ds->r_user[r]], i = (uint64_t)ds->items.ids[ds->r_item[r]],
                 t = (uint64_t)(ds->r_time ? ds->r_time[r] : 0);
        uint32_t v;
        memcpy(&v, &ds->r_value[r], 4);
        for (int b = 0; b < 8; b++) {
            rec[b] = (unsigned char)(u >> (8 * b));
            rec[8 + b] = (unsigned char)(i >> (8 * b));
            rec[20 + b] = (unsigned char)(t >> (8 * b));
        }
        for (int b = 0; b < 4; b++)
            rec[16 + b] = (unsigned char)(v >> (8 * b));
        gatrec__sha256_update(&h, rec, sizeof rec);
    }
    gatrec__sha256_final(&h, d);
    for (int b = 0; b < 32; b++)
        snprintf(out + 2 * b, 3, "%02x", d[b]);
    return GATREC_OK;
}

GATREC_API int gatrec_dataset_user_index(const gatrec_dataset *ds, int64_t user_id, int32_t *index)
{
    if (!ds)
        return gatrec__error(GATREC_EINVAL, "NULL dataset");
    return gatrec__idmap_index(&ds->users, user_id, index, "user");
}

GATREC_API int gatrec_dataset_item_index(const gatrec_dataset *ds, int64_t item_id, int32_t *index)
{
    if (!ds)
        return gatrec__error(GATREC_EINVAL, "NULL dataset");
    return gatrec__idmap_index(&ds->items, item_id, index, "item");
}

GATREC_API int64_t gatrec_dataset_user_id(const gatrec_dataset *ds, int32_t index)
{
    return ds && index >= 0 && (size_t)index < ds->users.count ? ds->users.ids[index] : -1;
}

GATREC_API int64_t gatrec_dataset_item_id(const gatrec_dataset *ds, int32_t index)
{
    return ds && index >= 0 && (size_t)index < ds->items.count ? ds->items.ids[index] : -1;
}

GATREC_API int gatrec_dataset_rating(const gatrec_dataset *ds, size_t i, int32_t *user, int32_t *item, float *rating,
                                     int64_t *timestamp)
{
    if (!ds || i >= ds->nratings)
        return gatrec__error(GATREC_EINVAL, "rating index %zu out of range", i);
    if (user)
        *user = ds->r_user[i];
    if (item)
        *item = ds->r_item[i];
    if (rating)
        *rating = ds->r_value[i];
    if (timestamp)
        *timestamp = ds->r_time[i];
    return GATREC_OK;
}

static const gatrec__item_meta *item_meta(const gatrec_dataset *ds, int32_t item)
{
    return ds && item >= 0 && (size_t)item < ds->item_meta_cap && (size_t)item < ds->items.count
               ? &ds->item_meta[item]
               : NULL;
}

static const gatrec__user_meta *user_meta(const gatrec_dataset *ds, int32_t user)
{
    return ds && user >= 0 && (size_t)user < ds->user_meta_cap && (size_t)user < ds->users.count
               ? &ds->user_meta[user]
               : NULL;
}

GATREC_API const char *gatrec_dataset_item_title(const gatrec_dataset *ds, int32_t item)
{
    const gatrec__item_meta *m = item_meta(ds, item);
    return m ? m->title : NULL;
}

GATREC_API int gatrec_dataset_item_year(const gatrec_dataset *ds, int32_t item)
{
    const gatrec__item_meta *m = item_meta(ds, item);
    return m ? m->year : 0;
}

GATREC_API const char *gatrec_dataset_item_text(const gatrec_dataset *ds, int32_t item)
{
    const gatrec__item_meta *m = item_meta(ds, item);
    return m ? m->text : NULL;
}

GATREC_API size_t gatrec_dataset_num_genres(const gatrec_dataset *ds)
{
    return ds ? ds->ngenres : 0;
}

GATREC_API const char *gatrec_dataset_genre_name(const gatrec_dataset *ds, size_t genre)
{
    return ds && genre < ds->ngenres ? ds->genre_names[genre] : NULL;
}

GATREC_API int gatrec_dataset_item_has_genre(const gatrec_dataset *ds, int32_t item, size_t genre)
{
    const gatrec__item_meta *m = item_meta(ds, item);
    return m && genre < ds->ngenres ? (int)((m->genres >> genre) & 1) : 0;
}

GATREC_API int gatrec_dataset_user_age(const gatrec_dataset *ds, int32_t user)
{
    const gatrec__user_meta *m = user_meta(ds, user);
    return m ? m->age : -1;
}

GATREC_API const char *gatrec_dataset_user_gender(const gatrec_dataset *ds, int32_t user)
{
    const gatrec__user_meta *m = user_meta(ds, user);
    return m && m->gender[0] ? m->gender : NULL;
}

GATREC_API const char *gatrec_dataset_user_occupation(const gatrec_dataset *ds, int32_t user)
{
    const gatrec__user_meta *m = user_meta(ds, user);
    return m ? m->occupation : NULL;
}

int gatrec__dataset_by_user(const gatrec_dataset *ds, size_t **off_out, uint32_t **idx_out)
{
    size_t nu = ds->users.count, *off = gatrec__calloc(nu + 1, sizeof *off), *pos;
    uint32_t *idx = gatrec__malloc_array(ds->nratings, sizeof *idx);
    if (!off || !idx) {
        free(off);
        free(idx);
        return GATREC_ENOMEM;
    }
    for (size_t r = 0; r < ds->nratings; r++)
        off[ds->r_user[r] + 1]++;
    for (size_t u = 0; u < nu; u++)
        off[u + 1] += off[u];
    if (!(pos = gatrec__malloc_array(nu + 1, sizeof *pos))) {
        free(off);
        free(idx);
        return GATREC_ENOMEM;
    }
    memcpy(pos, off, (nu + 1) * sizeof *pos);
    for (size_t r = 0; r < ds->nratings; r++)
        idx[pos[ds->r_user[r]]++] = (uint32_t)r;
    free(pos);
    *off_out = off;
    *idx_out = idx;
    return GATREC_OK;
}

GATREC_API const char *gatrec_dataset_user_key(const gatrec_dataset *ds, int32_t index)
{
    return ds ? gatrec__idmap_key(&ds->users, index) : NULL;
}

GATREC_API const char *gatrec_dataset_item_key(const gatrec_dataset *ds, int32_t index)
{
    return ds ? gatrec__idmap_key(&ds->items, index) : NULL;
}

int gatrec__find_key(const gatrec__idmap *m, const char *key, int32_t *index, const char *what)
{
    int32_t i;
    if (!key || !index)
        return gatrec__error(GATREC_EINVAL, "NULL key or index pointer");
    if ((i = gatrec__idmap_find_key(m, key, strlen(key))) < 0)
        return gatrec__error(GATREC_ENOTFOUND, m->keys ? "unknown %s '%s'" : "unknown %s '%s' (the ids are numbers here)",
                             what, key);
    *index = i;
    return GATREC_OK;
}

GATREC_API int gatrec_dataset_find_user(const gatrec_dataset *ds, const char *key, int32_t *index)
{
    return ds ? gatrec__find_key(&ds->users, key, index, "user") : gatrec__error(GATREC_EINVAL, "NULL dataset");
}

GATREC_API int gatrec_dataset_find_item(const gatrec_dataset *ds, const char *key, int32_t *index)
{
    return ds ? gatrec__find_key(&ds->items, key, index, "item") : gatrec__error(GATREC_EINVAL, "NULL dataset");
}

GATREC_API int gatrec_dataset_semantics(const gatrec_dataset *ds, float *liked, float *disliked, int *implicit,
                                        const char **domain)
{
    if (!ds)
        return gatrec__error(GATREC_EINVAL, "NULL dataset");
    if (liked)
        *liked = ds->liked;
    if (disliked)
        *disliked = ds->disliked;
    if (implicit)
        *implicit = ds->implicit;
    if (domain)
        *domain = ds->domain ? ds->domain : "items";
    return GATREC_OK;
}

GATREC_API const char *gatrec_dataset_user_text(const gatrec_dataset *ds, int32_t user)
{
    const gatrec__user_meta *m = user_meta(ds, user);
    return m ? m->text : NULL;
}
