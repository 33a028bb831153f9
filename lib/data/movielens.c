/* MovieLens 100K and 1M directories, laid out as in GroupLens's zips. */
#include <stdlib.h>
#include <string.h>

#include "dataset.h"

static const char *const ml1m_occupations[21] = {
    "other",         "academic/educator",    "artist",     "clerical/admin",     "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student",  "lawyer",               "programmer", "retired",            "sales/marketing",
    "scientist",     "self-employed",        "technician/engineer", "tradesman/craftsman", "unemployed",
    "writer"};

/* A year written as "(1995)" at the end of a title, or 0. */
static int year_from_title(const char *t)
{
    size_t n = strlen(t);
    while (n && t[n - 1] == ' ')
        n--;
    if (n >= 6 && t[n - 1] == ')' && t[n - 6] == '(') {
        int64_t y;
        if (gatrec__parse_i64(t + n - 5, 4, &y) == 0)
            return (int)y;
    }
    return 0;
}

/* Reads a file of sep-separated records, calling `row` for each non-empty line. */
typedef int (*row_fn)(gatrec_dataset *ds, const char *path, size_t line, const char **f, const size_t *fl,
                      size_t nf);

static int for_each_row(gatrec_dataset *ds, const char *dir, const char *file, const char *sep, size_t min_fields,
                        row_fn row)
{
    char *path = gatrec__path_join(dir, file), *data = NULL;
    size_t len, n, rows = 0;
    const char *line;
    gatrec__lines it;
    int rc;
    if (!path)
        return GATREC_ENOMEM;
    if ((rc = gatrec__read_file(path, &data, &len))) {
        free(path);
        return rc;
    }
    gatrec__lines_init(&it, data, len);
    while (!rc && gatrec__lines_next(&it, &line, &n)) {
        const char *f[32];
        size_t fl[32], nf;
        if (n == 0)
            continue;
        nf = gatrec__split_fields(line, n, sep, strlen(sep), f, fl, 32);
        if (nf < min_fields)
            rc = gatrec__error(GATREC_EFIELDS, "%s:%zu: %zu fields, expected %zu", path, it.lineno, nf, min_fields);
        else
            rc = row(ds, path, it.lineno, f, fl, nf < 32 ? nf : 32);
        rows++;
    }
    if (!rc && rows == 0)
        rc = gatrec__error(GATREC_EEMPTY, "%s: no records", path);
    free(data);
    free(path);
    return rc;
}

/* Registers the id in field f of a users or items file; an id listed twice is an error. */
static int new_id(gatrec__idmap *map, const char *what, const char *path, size_t line, const char *f, size_t fl,
                  int32_t *idx)
{
    int64_t id;
    int added, rc = gatrec__parse_id(f, fl, &id);
    if (rc)
        return gatrec__error(rc, "%s:%zu: %s id '%.*s' %s", path, line, what, (int)(fl > 40 ? 40 : fl), f,
                             rc == GATREC_EOVERFLOW ? "is too large" : "is not a non-negative integer");
    if ((rc = gatrec__idmap_add(map, id, idx, &added)))
        return rc;
    if (!added)
        return gatrec__error(GATREC_EDUPLICATE, "%s:%zu: %s %lld is listed twice", path, line, what, (long long)id);
    return GATREC_OK;
}

static int new_item(gatrec_dataset *ds, const char *path, size_t line, const char *f, size_t fl,
                    gatrec__item_meta **meta)
{
    int32_t idx;
    int rc = new_id(&ds->items, "item", path, line, f, fl, &idx);
    return rc ? rc : (*meta = gatrec__dataset_item_meta(ds, idx)) ? GATREC_OK : GATREC_ENOMEM;
}

static int new_user(gatrec_dataset *ds, const char *path, size_t line, const char *f, size_t fl,
                    gatrec__user_meta **meta)
{
    int32_t idx;
    int rc = new_id(&ds->users, "user", path, line, f, fl, &idx);
    return rc ? rc : (*meta = gatrec__dataset_user_meta(ds, idx)) ? GATREC_OK : GATREC_ENOMEM;
}

static int set_title(gatrec__item_meta *m, const char *f, size_t fl)
{
    /* MovieLens ships Latin-1; a file someone already converted is taken as it is. */
    m->title = gatrec__is_utf8(f, fl) ? gatrec__strndup(f, fl) : gatrec__latin1_to_utf8(f, fl);
    return m->title ? GATREC_OK : GATREC_ENOMEM;
}

static int ml100k_genre_row(gatrec_dataset *ds, const char *path, size_t line, const char **f, const size_t *fl,
                            size_t nf)
{
    int64_t idx;
    size_t g;
    int rc;
    (void)nf;
    if ((rc = gatrec__parse_id(f[1], fl[1], &idx)))
        return gatrec__error(rc, "%s:%zu: genre number is not a number", path, line);
    if ((rc = gatrec__dataset_add_genre(ds, f[0], fl[0], &g)))
        return rc;
    if ((int64_t)g != idx)
        return gatrec__error(GATREC_EFORMAT, "%s:%zu: genre '%.*s' has number %lld, expected %zu", path, line,
                             (int)fl[0], f[0], (long long)idx, g);
    return GATREC_OK;
}

static int ml100k_item_row(gatrec_dataset *ds, const char *path, size_t line, const char **f, const size_t *fl,
                           size_t nf)
{
    gatrec__item_meta *m;
    int rc = new_item(ds, path, line, f[0], fl[0], &m);
    if (rc || (rc = set_title(m, f[1], fl[1])))
        return rc;
    if (nf - 5 != ds->ngenres)
        return gatrec__error(GATREC_EFIELDS, "%s:%zu: %zu genre flags, expected %zu (u.genre)", path, line, nf - 5,
                             ds->ngenres);
    m->year = 0;
    if (fl[2] >= 4) {
        int64_t y;
        if (gatrec__parse_i64(f[2] + fl[2] - 4, 4, &y) == 0)
            m->year = (int)y;
    }
    if (!m->year)
        m->year = year_from_title(m->title);
    for (size_t g = 0; g < ds->ngenres; g++) {
        if (fl[5 + g] != 1 || (f[5 + g][0] != '0' && f[5 + g][0] != '1'))
            return gatrec__error(GATREC_ENUMBER, "%s:%zu: genre flag %zu is not 0 or 1", path, line, g + 1);
        if (f[5 + g][0] == '1')
            m->genres |= (uint64_t)1 << g;
    }
    return GATREC_OK;
}

static int ml100k_user_row(gatrec_dataset *ds, const char *path, size_t line, const char **f, const size_t *fl,
                           size_t nf)
{
    gatrec__user_meta *m;
    int64_t age;
    int rc = new_user(ds, path, line, f[0], fl[0], &m);
    (void)nf;
    if (rc)
        return rc;
    if ((rc = gatrec__parse_id(f[1], fl[1], &age)) || age > 200)
        return gatrec__error(rc ? rc : GATREC_ENUMBER, "%s:%zu: age '%.*s' is not an age", path, line,
                             (int)(fl[1] > 20 ? 20 : fl[1]), f[1]);
    m->age = (int)age;
    memcpy(m->gender, f[2], fl[2] < 3 ? fl[2] : 3);
    return (m->occupation = gatrec__strndup(f[3], fl[3])) ? GATREC_OK : GATREC_ENOMEM;
}

static int ml1m_item_row(gatrec_dataset *ds, const char *path, size_t line, const char **f, const size_t *fl,
                         size_t nf)
{
    gatrec__item_meta *m;
    const char *g = f[2], *end = f[2] + fl[2];
    int rc = new_item(ds, path, line, f[0], fl[0], &m);
    (void)nf;
    if (rc || (rc = set_title(m, f[1], fl[1])))
        return rc;
    m->year = year_from_title(m->title);
    while (g < end) {
        const char *bar = memchr(g, '|', (size_t)(end - g));
        size_t n = (size_t)((bar ? bar : end) - g), idx;
        if (n && (rc = gatrec__dataset_add_genre(ds, g, n, &idx)))
            return rc;
        if (n)
            m->genres |= (uint64_t)1 << idx;
        g = bar ? bar + 1 : end;
    }
    return GATREC_OK;
}

static int ml1m_user_row(gatrec_dataset *ds, const char *path, size_t line, const char **f, const size_t *fl,
                         size_t nf)
{
    gatrec__user_meta *m;
    int64_t age, occ;
    int rc = new_user(ds, path, line, f[0], fl[0], &m);
    (void)nf;
    if (rc)
        return rc;
    memcpy(m->gender, f[1], fl[1] < 3 ? fl[1] : 3);
    if ((rc = gatrec__parse_id(f[2], fl[2], &age)) || age > 200)
        return gatrec__error(rc ? rc : GATREC_ENUMBER, "%s:%zu: age code is not a number", path, line);
    if ((rc = gatrec__parse_id(f[3], fl[3], &occ)) || occ > 20)
        return gatrec__error(rc ? rc : GATREC_ENUMBER, "%s:%zu: occupation code is not 0..20", path, line);
    m->age = (int)age; /* ML-1M stores the lower bound of an age band */
    return (m->occupation = gatrec__strdup(ml1m_occupations[occ])) ? GATREC_OK : GATREC_ENOMEM;
}

static int load_ml100k(gatrec_dataset *ds, const char *dir)
{
    static const gatrec__rating_format fmt = {"\t", 0, 0, 1, 2, 3, 1.0, 5.0, 1};
    char *path;
    int rc;
    if ((rc = for_each_row(ds, dir, "u.genre", "|", 2, ml100k_genre_row)) ||
        (rc = for_each_row(ds, dir, "u.item", "|", 6, ml100k_item_row)) ||
        (rc = for_each_row(ds, dir, "u.user", "|", 5, ml100k_user_row)))
        return rc;
    if (!(path = gatrec__path_join(dir, "u.data")))
        return GATREC_ENOMEM;
    rc = gatrec__dataset_read_ratings(ds, path, &fmt);
    free(path);
    return rc;
}

static int load_ml1m(gatrec_dataset *ds, const char *dir)
{
    static const gatrec__rating_format fmt = {"::", 0, 0, 1, 2, 3, 1.0, 5.0, 1};
    char *path;
    int rc;
    if ((rc = for_each_row(ds, dir, "movies.dat", "::", 3, ml1m_item_row)) ||
        (rc = for_each_row(ds, dir, "users.dat", "::", 5, ml1m_user_row)))
        return rc;
    if (!(path = gatrec__path_join(dir, "ratings.dat")))
        return GATREC_ENOMEM;
    rc = gatrec__dataset_read_ratings(ds, path, &fmt);
    free(path);
    return rc;
}

static int dir_has(const char *dir, const char *file)
{
    char *p = gatrec__path_join(dir, file);
    int yes = p && gatrec__file_exists(p);
    free(p);
    return yes;
}

GATREC_API int gatrec_dataset_load_movielens(const char *dir, int kind, gatrec_dataset **out)
{
    gatrec_dataset *ds;
    int rc;
    if (!dir || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_dataset_load_movielens: NULL argument");
    if (!gatrec__file_exists(dir))
        return gatrec__error(GATREC_ENOENT, "%s: no such directory (run 'gatrec data fetch' or set GATREC_DATA_DIR)",
                             dir);
    if (kind == GATREC_MOVIELENS_AUTO) {
        if (dir_has(dir, "u.data") || dir_has(dir, "u.item"))
            kind = GATREC_MOVIELENS_100K;
        else if (dir_has(dir, "ratings.dat") || dir_has(dir, "movies.dat"))
            kind = GATREC_MOVIELENS_1M;
        else
            return gatrec__error(GATREC_ENOENT, "%s: holds neither u.data (ML-100K), ratings.dat (ML-1M) nor dataset.gatrec (gatrec data import)", dir);
    }
    if (kind != GATREC_MOVIELENS_100K && kind != GATREC_MOVIELENS_1M)
        return gatrec__error(GATREC_EINVAL, "unknown MovieLens kind %d", kind);
    if ((rc = gatrec__dataset_new(kind == GATREC_MOVIELENS_100K ? "ml-100k" : "ml-1m", &ds)))
        return rc;
    if (!(ds->dir = gatrec__strdup(dir)) || !(ds->domain = gatrec__strdup("movies")))
        rc = GATREC_ENOMEM;
    if (!rc)
        rc = kind == GATREC_MOVIELENS_100K ? load_ml100k(ds, dir) : load_ml1m(ds, dir);
    return gatrec__dataset_complete(ds, rc, out);
}
