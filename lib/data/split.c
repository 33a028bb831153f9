/* Splits of a dataset's ratings into train / validation / test, all deterministic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"

static int split_new(const gatrec_dataset *ds, uint8_t fill, const char *spec, gatrec_split **out)
{
    gatrec_split *s = gatrec__calloc(1, sizeof *s);
    if (!s)
        return GATREC_ENOMEM;
    s->ds = ds;
    s->parts = gatrec__malloc_array(ds->nratings, 1);
    s->spec = gatrec__strdup(spec);
    if (!s->parts || !s->spec) {
        gatrec_split_free(s);
        return GATREC_ENOMEM;
    }
    memset(s->parts, fill, ds->nratings);
    *out = s;
    return GATREC_OK;
}

static void split_count(gatrec_split *s)
{
    memset(s->counts, 0, sizeof s->counts);
    for (size_t r = 0; r < s->ds->nratings; r++)
        s->counts[s->parts[r]]++;
}

GATREC_API void gatrec_split_free(gatrec_split *split)
{
    if (!split)
        return;
    free(split->parts);
    free(split->spec);
    free(split);
}

GATREC_API size_t gatrec_split_count(const gatrec_split *split, int part)
{
    return split && part >= 0 && part <= GATREC_PART_REVEAL ? split->counts[part] : 0;
}

GATREC_API int gatrec_split_part(const gatrec_split *split, size_t i)
{
    if (!split || i >= split->ds->nratings)
        return gatrec__error(GATREC_EINVAL, "rating index %zu out of range", i);
    return split->parts[i];
}

static int check_ratio(double r, const char *what)
{
    if (!(r >= 0.0 && r < 1.0))
        return gatrec__error(GATREC_EINVAL, "%s ratio %g is not in [0, 1)", what, r);
    return GATREC_OK;
}

/* Reads one official file and marks its ratings as `part`. */
static int mark_file(gatrec_split *s, const char *path, uint8_t part)
{
    const gatrec_dataset *ds = s->ds;
    char *data;
    size_t len, n, rows = 0;
    const char *line;
    gatrec__lines it;
    int rc;
    if ((rc = gatrec__read_file(path, &data, &len)))
        return rc;
    gatrec__lines_init(&it, data, len);
    while (!rc && gatrec__lines_next(&it, &line, &n)) {
        const char *f[4];
        size_t fl[4];
        int64_t uid, iid;
        double r;
        int32_t u, i;
        int64_t ri;
        if (n == 0)
            continue;
        if (gatrec__split_fields(line, n, "\t", 1, f, fl, 4) < 3) {
            rc = gatrec__error(GATREC_EFIELDS, "%s:%zu: expected user, item and rating", path, it.lineno);
        } else if ((rc = gatrec__parse_id(f[0], fl[0], &uid)) || (rc = gatrec__parse_id(f[1], fl[1], &iid)) ||
                   (rc = gatrec__parse_double(f[2], fl[2], &r))) {
            gatrec__error(rc, "%s:%zu: user, item or rating is not a number", path, it.lineno);
        } else if ((u = gatrec__idmap_find(&ds->users, uid)) < 0 || (i = gatrec__idmap_find(&ds->items, iid)) < 0 ||
                   (ri = gatrec__dataset_find_pair(ds, u, i)) < 0) {
            rc = gatrec__error(GATREC_ENOTFOUND, "%s:%zu: the dataset has no rating of item %lld by user %lld", path,
                               it.lineno, (long long)iid, (long long)uid);
        } else if (fabs(ds->r_value[ri] - r) > 1e-6) {
            rc = gatrec__error(GATREC_EFORMAT, "%s:%zu: rating %g differs from the dataset's %g", path, it.lineno, r,
                               ds->r_value[ri]);
        } else if (s->parts[ri] != GATREC_PART_NONE) {
            rc = gatrec__error(GATREC_EDUPLICATE, "%s:%zu: user %lld and item %lld are listed twice in the split",
                               path, it.lineno, (long long)uid, (long long)iid);
        } else {
            s->parts[ri] = part;
            rows++;
        }
    }
    free(data);
    if (!rc && rows == 0)
        rc = gatrec__error(GATREC_EEMPTY, "%s: no ratings", path);
    return rc;
}

GATREC_API int gatrec_split_official(const gatrec_dataset *ds, const char *name, gatrec_split **out)
{
    gatrec_split *s;
    char file[80], *path;
    int rc;
    if (!ds || !name || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_split_official: NULL argument");
    if (!ds->dir)
        return gatrec__error(GATREC_EUNSUPPORTED, "dataset '%s' was not loaded from a directory", ds->name);
    if (!name[0] || strlen(name) > 32 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name))
        return gatrec__error(GATREC_EINVAL, "'%s' is not a split name (u1..u5, ua, ub)", name);
    {
        char base[80];
        snprintf(base, sizeof base, "%s.base", name);
        char *probe = gatrec__path_join(ds->dir, base);
        int exists = probe && gatrec__file_exists(probe);
        free(probe);
        if (!exists)
            return gatrec__error(GATREC_ENOENT, "split '%s': no official %s in %s; the split specs are u1..u5, ua, ub "
                                 "(official files), random:TEST[:VALID], leave-last[:valid], temporal:TEST[:VALID], "
                                 "cold-items:R, cold-users:R[:N], each optionally +valid:R", name, base, ds->dir);
    }
    if ((rc = split_new(ds, GATREC_PART_NONE, name, &s)))
        return rc;
    snprintf(file, sizeof file, "%s.base", name);
    path = gatrec__path_join(ds->dir, file);
    rc = path ? mark_file(s, path, GATREC_PART_TRAIN) : GATREC_ENOMEM;
    free(path);
    if (!rc) {
        snprintf(file, sizeof file, "%s.test", name);
        path = gatrec__path_join(ds->dir, file);
        rc = path ? mark_file(s, path, GATREC_PART_TEST) : GATREC_ENOMEM;
        free(path);
    }
    if (rc) {
        gatrec_split_free(s);
        return rc;
    }
    split_count(s);
    *out = s;
    return GATREC_OK;
}

static size_t round_count(size_t n, double ratio)
{
    return (size_t)floor((double)n * ratio + 0.5);
}

GATREC_API int gatrec_split_random(const gatrec_dataset *ds, double test_ratio, double valid_ratio, uint64_t seed,
                                   gatrec_split **out)
{
    gatrec_split *s;
    size_t *off;
    uint32_t *idx;
    char spec[96];
    int rc;
    if (!ds || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_split_random: NULL argument");
    if ((rc = check_ratio(test_ratio, "test")) || (rc = check_ratio(valid_ratio, "validation")))
        return rc;
    if (test_ratio + valid_ratio >= 1.0)
        return gatrec__error(GATREC_EINVAL, "test + validation ratios (%g) leave nothing to train on",
                             test_ratio + valid_ratio);
    gatrec__snprintf(spec, sizeof spec, valid_ratio > 0 ? "random:%g:%g" : "random:%g", test_ratio, valid_ratio);
    if ((rc = split_new(ds, GATREC_PART_TRAIN, spec, &s)))
        return rc;
    if ((rc = gatrec__dataset_by_user(ds, &off, &idx))) {
        gatrec_split_free(s);
        return rc;
    }
    for (size_t u = 0; u < ds->users.count; u++) {
        uint32_t *r = idx + off[u];
        size_t n = off[u + 1] - off[u], nt = round_count(n, test_ratio), nv = round_count(n, valid_ratio);
        /* Fisher-Yates with a counter-based stream per user: independent of every other user */
        for (size_t j = n; j > 1; j--) {
            size_t k = (size_t)gatrec__rng_below(seed, gatrec__stream(GATREC__RNG_SPLIT_SHUFFLE, u), j, j);
            uint32_t t = r[j - 1];
            r[j - 1] = r[k];
            r[k] = t;
        }
        while (n && nt + nv >= n) {
            if (nv)
                nv--;
            else
                nt--;
        }
        for (size_t j = 0; j < nt; j++)
            s->parts[r[j]] = GATREC_PART_TEST;
        for (size_t j = nt; j < nt + nv; j++)
            s->parts[r[j]] = GATREC_PART_VALID;
    }
    free(off);
    free(idx);
    split_count(s);
    *out = s;
    return GATREC_OK;
}

typedef struct timed {
    int64_t t;
    uint32_t r;
} timed;

/* By time, then by position in the dataset: a total order, so ties are deterministic. */
static int by_time(const void *a, const void *b)
{
    const timed *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->r < y->r ? -1 : x->r > y->r;
}

static int sort_by_time(const gatrec_dataset *ds, uint32_t *idx, size_t n)
{
    timed *tmp = gatrec__malloc_array(n, sizeof *tmp);
    if (!tmp)
        return GATREC_ENOMEM;
    for (size_t j = 0; j < n; j++)
        tmp[j].t = ds->r_time[idx[j]], tmp[j].r = idx[j];
    qsort(tmp, n, sizeof *tmp, by_time);
    for (size_t j = 0; j < n; j++)
        idx[j] = tmp[j].r;
    free(tmp);
    return GATREC_OK;
}

GATREC_API int gatrec_split_leave_last(const gatrec_dataset *ds, int valid, gatrec_split **out)
{
    gatrec_split *s;
    size_t *off;
    uint32_t *idx;
    int rc;
    if (!ds || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_split_leave_last: NULL argument");
    if ((rc = split_new(ds, GATREC_PART_TRAIN, valid ? "leave-last:valid" : "leave-last", &s)))
        return rc;
    if ((rc = gatrec__dataset_by_user(ds, &off, &idx))) {
        gatrec_split_free(s);
        return rc;
    }
    for (size_t u = 0; u < ds->users.count; u++) {
        size_t n = off[u + 1] - off[u];
        uint32_t *r = idx + off[u];
        if (n < (valid ? 3u : 2u))
            continue;
        if ((rc = sort_by_time(ds, r, n)))
            break;
        s->parts[r[n - 1]] = GATREC_PART_TEST;
        if (valid)
            s->parts[r[n - 2]] = GATREC_PART_VALID;
    }
    free(off);
    free(idx);
    if (rc) {
        gatrec_split_free(s);
        return rc;
    }
    split_count(s);
    *out = s;
    return GATREC_OK;
}

GATREC_API int gatrec_split_temporal(const gatrec_dataset *ds, double test_ratio, double valid_ratio,
                                     gatrec_split **out)
{
    gatrec_split *s;
    uint32_t *idx;
    size_t n, nt, nv;
    char spec[96];
    int rc;
    if (!ds || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_split_temporal: NULL argument");
    if ((rc = check_ratio(test_ratio, "test")) || (rc = check_ratio(valid_ratio, "validation")))
        return rc;
    if (test_ratio + valid_ratio >= 1.0)
        return gatrec__error(GATREC_EINVAL, "test + validation ratios (%g) leave nothing to train on",
                             test_ratio + valid_ratio);
    n = ds->nratings;
    nt = round_count(n, test_ratio);
    nv = round_count(n, valid_ratio);
    gatrec__snprintf(spec, sizeof spec, valid_ratio > 0 ? "temporal:%g:%g" : "temporal:%g", test_ratio, valid_ratio);
    if ((rc = split_new(ds, GATREC_PART_TRAIN, spec, &s)))
        return rc;
    if (!(idx = gatrec__malloc_array(n, sizeof *idx))) {
        gatrec_split_free(s);
        return GATREC_ENOMEM;
    }
    for (size_t r = 0; r < n; r++)
        idx[r] = (uint32_t)r;
    if ((rc = sort_by_time(ds, idx, n))) {
        free(idx);
        gatrec_split_free(s);
        return rc;
    }
    for (size_t j = n - nt; j < n; j++)
        s->parts[idx[j]] = GATREC_PART_TEST;
    for (size_t j = n - nt - nv; j < n - nt; j++)
        s->parts[idx[j]] = GATREC_PART_VALID;
    free(idx);
    split_count(s);
    *out = s;
    return GATREC_OK;
}

GATREC_API int gatrec_split_from_parts(const gatrec_dataset *ds, const uint8_t *parts, gatrec_split **out)
{
    gatrec_split *s;
    int rc;
    if (!ds || !out || (!parts && ds->nratings))
        return gatrec__error(GATREC_EINVAL, "gatrec_split_from_parts: NULL argument");
    for (size_t r = 0; r < ds->nratings; r++)
        if (parts[r] > GATREC_PART_REVEAL)
            return gatrec__error(GATREC_EINVAL, "parts[%zu] = %u is not a gatrec_part", r, parts[r]);
    if ((rc = split_new(ds, GATREC_PART_TRAIN, "parts", &s)))
        return rc;
    if (ds->nratings)
        memcpy(s->parts, parts, ds->nratings);
    split_count(s);
    *out = s;
    return GATREC_OK;
}

/* A seeded choice of round(n * ratio) of 0..n-1 (at least one, at most n - 1): marks chosen[]. */
static int choose(size_t n, double ratio, uint64_t seed, uint64_t stream, uint8_t *chosen)
{
    uint32_t *perm = gatrec__malloc_array(n + 1, sizeof *perm);
    size_t k = round_count(n, ratio);
    if (!perm)
        return GATREC_ENOMEM;
    k = k < 1 ? 1 : k > n - 1 ? n - 1 : k;
    for (size_t j = 0; j < n; j++)
        perm[j] = (uint32_t)j;
    for (size_t j = n; j > 1; j--) {
        size_t q = (size_t)gatrec__rng_below(seed, stream, j, j);
        uint32_t t = perm[j - 1];
        perm[j - 1] = perm[q];
        perm[q] = t;
    }
    memset(chosen, 0, n);
    for (size_t j = 0; j < k; j++)
        chosen[perm[j]] = 1;
    free(perm);
    return GATREC_OK;
}

static int check_cold(const gatrec_dataset *ds, size_t n, double ratio, const char *what, gatrec_split **out)
{
    int rc;
    if (!ds || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_split_cold_%s: NULL argument", what);
    if ((rc = check_ratio(ratio, what)))
        return rc;
    if (!(ratio > 0))
        return gatrec__error(GATREC_EINVAL, "the cold %s ratio must be above 0", what);
    if (n < 2)
        return gatrec__error(GATREC_EEMPTY, "a cold-%s split needs at least two %s, the dataset has %zu", what, what, n);
    return GATREC_OK;
}

GATREC_API int gatrec_split_cold_items(const gatrec_dataset *ds, double ratio, uint64_t seed, gatrec_split **out)
{
    gatrec_split *s;
    uint8_t *cold;
    char spec[64];
    int rc = check_cold(ds, ds ? ds->items.count : 0, ratio, "items", out);
    if (rc)
        return rc;
    gatrec__snprintf(spec, sizeof spec, "cold-items:%g", ratio);
    if (!(cold = gatrec__malloc_array(ds->items.count, 1)))
        return GATREC_ENOMEM;
    if ((rc = choose(ds->items.count, ratio, seed, gatrec__stream(GATREC__RNG_SPLIT_COLD_ITEMS, 0), cold)) || (rc = split_new(ds, GATREC_PART_TRAIN, spec, &s))) {
        free(cold);
        return rc;
    }
    for (size_t r = 0; r < ds->nratings; r++)
        if (cold[ds->r_item[r]])
            s->parts[r] = GATREC_PART_TEST;
    free(cold);
    split_count(s);
    *out = s;
    return GATREC_OK;
}

GATREC_API int gatrec_split_cold_users(const gatrec_dataset *ds, double ratio, size_t reveal, uint64_t seed,
                                       gatrec_split **out)
{
    gatrec_split *s;
    uint8_t *cold;
    size_t *off;
    uint32_t *idx;
    char spec[64];
    int rc = check_cold(ds, ds ? ds->users.count : 0, ratio, "users", out);
    if (rc)
        return rc;
    gatrec__snprintf(spec, sizeof spec, "cold-users:%g:%zu", ratio, reveal);
    if (!(cold = gatrec__malloc_array(ds->users.count, 1)))
        return GATREC_ENOMEM;
    if ((rc = choose(ds->users.count, ratio, seed, gatrec__stream(GATREC__RNG_SPLIT_COLD_USERS, 0), cold))) {
        free(cold);
        return rc;
    }
    if ((rc = gatrec__dataset_by_user(ds, &off, &idx))) {
        free(cold);
        return rc;
    }
    if ((rc = split_new(ds, GATREC_PART_TRAIN, spec, &s)))
        goto done;
    for (size_t u = 0; u < ds->users.count; u++) {
        uint32_t *r = idx + off[u];
        size_t n = off[u + 1] - off[u], nr = reveal < n ? reveal : n ? n - 1 : 0;
        if (!cold[u])
            continue;
        for (size_t j = n; j > 1; j--) { /* the user's ratings, shuffled */
            size_t q = (size_t)gatrec__rng_below(seed, gatrec__stream(GATREC__RNG_SPLIT_REVEAL, u), j, j);
            uint32_t t = r[j - 1];
            r[j - 1] = r[q];
            r[q] = t;
        }
        for (size_t j = 0; j < n; j++)
            s->parts[r[j]] = j < nr ? GATREC_PART_REVEAL : GATREC_PART_TEST;
    }
    split_count(s);
    *out = s;
done:
    free(cold);
    free(off);
    free(idx);
    return rc;
}

static int parse_ratios(const char *p, double *test, double *valid)
{
    char *end;
    *valid = 0;
    *test = gatrec__strtod(p, &end);
    if (end == p)
        return GATREC_EINVAL;
    if (*end == ':') {
        p = end + 1;
        *valid = gatrec__strtod(p, &end);
        if (end == p)
            return GATREC_EINVAL;
    }
    return *end ? GATREC_EINVAL : GATREC_OK;
}

/* Move round(n * ratio) of each user's training ratings (shuffled with seed, at least one left)
 * to the validation part. */
static int carve_valid(gatrec_split *s, double ratio, uint64_t seed)
{
    const gatrec_dataset *ds = s->ds;
    size_t *off;
    uint32_t *idx;
    int rc = gatrec__dataset_by_user(ds, &off, &idx);
    if (rc)
        return rc;
    for (size_t u = 0; u < ds->users.count; u++) {
        uint32_t *r = idx + off[u];
        size_t n = 0;
        for (size_t j = 0; j < off[u + 1] - off[u]; j++) /* the user's training ratings, in dataset order */
            if (s->parts[r[j]] == GATREC_PART_TRAIN)
                r[n++] = r[j];
        size_t nv = round_count(n, ratio);
        for (size_t j = n; j > 1; j--) {
            size_t k = (size_t)gatrec__rng_below(seed, gatrec__stream(GATREC__RNG_SPLIT_VALID, u), j, j);
            uint32_t t = r[j - 1];
            r[j - 1] = r[k];
            r[k] = t;
        }
        if (nv >= n)
            nv = n ? n - 1 : 0;
        for (size_t j = 0; j < nv; j++)
            s->parts[r[j]] = GATREC_PART_VALID;
    }
    free(off);
    free(idx);
    split_count(s);
    return GATREC_OK;
}

GATREC_API int gatrec_split_parse(const gatrec_dataset *ds, const char *spec, uint64_t seed, gatrec_split **out)
{
    double t, v;
    int rc;
    const char *plus;
    if (!ds || !spec || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_split_parse: NULL argument");
    if ((plus = strstr(spec, "+valid:"))) {
        /* SPEC+valid:R - any split, with R of each user's training ratings held out for validation */
        char base[128], *end;
        double r = gatrec__strtod(plus + 7, &end);
        if ((size_t)(plus - spec) >= sizeof base || *end || end == plus + 7 || check_ratio(r, "validation") || r <= 0)
            return gatrec__error(GATREC_EINVAL, "split '%s': expected SPEC+valid:RATIO with 0 < RATIO < 1", spec);
        memcpy(base, spec, (size_t)(plus - spec));
        base[plus - spec] = '\0';
        if ((rc = gatrec_split_parse(ds, base, seed, out)))
            return rc;
        if (gatrec_split_count(*out, GATREC_PART_VALID)) {
            gatrec_split_free(*out);
            *out = NULL;
            return gatrec__error(GATREC_EINVAL, "split '%s': '%s' already has a validation part", spec, base);
        }
        if ((rc = carve_valid(*out, r, seed)) == GATREC_OK) {
            free((*out)->spec);
            if (!((*out)->spec = gatrec__strdup(spec)))
                rc = GATREC_ENOMEM;
        }
        if (rc) {
            gatrec_split_free(*out);
            *out = NULL;
        }
        return rc;
    }
    if (strncmp(spec, "random:", 7) == 0 || strncmp(spec, "temporal:", 9) == 0) {
        int random = spec[0] == 'r';
        if (parse_ratios(spec + (random ? 7 : 9), &t, &v))
            return gatrec__error(GATREC_EINVAL, "split '%s': expected %s:TEST[:VALID] with ratios", spec,
                                 random ? "random" : "temporal");
        rc = random ? gatrec_split_random(ds, t, v, seed, out) : gatrec_split_temporal(ds, t, v, out);
    } else if (strncmp(spec, "cold-items:", 11) == 0 || strncmp(spec, "cold-users:", 11) == 0) {
        int users = spec[5] == 'u';
        char *end;
        double n = 5;
        t = gatrec__strtod(spec + 11, &end);
        if (end != spec + 11 && users && *end == ':') {
            const char *p = end + 1;
            n = gatrec__strtod(p, &end);
            if (end == p || n < 0 || n > 1e6 || n != floor(n))
                end = (char *)"x";
        }
        if (end == spec + 11 || *end)
            return gatrec__error(GATREC_EINVAL, "split '%s': expected %s with 0 < RATIO < 1%s", spec,
                                 users ? "cold-users:RATIO[:REVEALED]" : "cold-items:RATIO",
                                 users ? " and REVEALED a whole number of ratings (default 5)" : "");
        rc = users ? gatrec_split_cold_users(ds, t, (size_t)n, seed, out) : gatrec_split_cold_items(ds, t, seed, out);
    } else if (strcmp(spec, "leave-last") == 0 || strcmp(spec, "leave-last:valid") == 0) {
        rc = gatrec_split_leave_last(ds, spec[10] == ':', out);
    } else {
        rc = gatrec_split_official(ds, spec, out);
    }
    return rc;
}

GATREC_API int gatrec_split_write(const gatrec_split *split, int part, const char *path)
{
    gatrec__buf b = {0};
    const gatrec_dataset *ds;
    int rc = GATREC_OK;
    if (!split || !path || part < 0 || part > GATREC_PART_REVEAL)
        return gatrec__error(GATREC_EINVAL, "gatrec_split_write: bad argument");
    ds = split->ds;
    for (size_t r = 0; r < ds->nratings && !rc; r++)
        if (split->parts[r] == part)
            rc = gatrec__buf_printf(&b, "%lld\t%lld\t%g\t%lld\n", (long long)ds->users.ids[ds->r_user[r]],
                                    (long long)ds->items.ids[ds->r_item[r]], ds->r_value[r], (long long)ds->r_time[r]);
    if (!rc)
        rc = gatrec__write_file_atomic(path, b.data ? (const void *)b.data : "", b.len);
    gatrec__buf_free(&b);
    return rc;
}
