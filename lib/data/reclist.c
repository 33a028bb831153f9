/* gatrec_reclist: ranked item lists per user, from a model or from a CSV file. */
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "reclist.h"

GATREC_API int gatrec_reclist_new(size_t num_users, gatrec_reclist **out)
{
    gatrec_reclist *l;
    if (!out)
        return gatrec__error(GATREC_EINVAL, "gatrec_reclist_new: NULL argument");
    if (num_users > INT32_MAX)
        return gatrec__error(GATREC_EOVERFLOW, "gatrec_reclist_new: %zu users is too many", num_users);
    if (!(l = gatrec__calloc(1, sizeof *l)))
        return GATREC_ENOMEM;
    l->nusers = num_users;
    l->items = gatrec__calloc(num_users, sizeof *l->items);
    l->ranks = gatrec__calloc(num_users, sizeof *l->ranks);
    l->n = gatrec__calloc(num_users, sizeof *l->n);
    if (!l->items || !l->ranks || !l->n) {
        gatrec_reclist_free(l);
        return GATREC_ENOMEM;
    }
    *out = l;
    return GATREC_OK;
}

GATREC_API void gatrec_reclist_free(gatrec_reclist *list)
{
    if (!list)
        return;
    for (size_t u = 0; u < list->nusers; u++) {
        if (list->items)
            free(list->items[u]);
        if (list->ranks)
            free(list->ranks[u]);
    }
    free(list->items);
    free(list->ranks);
    free(list->n);
    free(list);
}

GATREC_API size_t gatrec_reclist_num_users(const gatrec_reclist *list)
{
    return list ? list->nusers : 0;
}

int gatrec__reclist_set_ranked(gatrec_reclist *list, int32_t user, const int32_t *items, const int32_t *ranks,
                               size_t n)
{
    int32_t *it = NULL, *rk = NULL;
    if (!list || user < 0 || (size_t)user >= list->nusers || (n && !items))
        return gatrec__error(GATREC_EINVAL, "reclist: user index %d out of range or NULL items", user);
    for (size_t j = 0; j < n; j++) {
        if (items[j] < 0)
            return gatrec__error(GATREC_EINVAL, "reclist: negative item index at position %zu", j + 1);
        for (size_t k = 0; k < j; k++)
            if (items[k] == items[j])
                return gatrec__error(GATREC_EDUPLICATE, "reclist: item %d appears twice in user %d's list", items[j],
                                     user);
        if (ranks && (ranks[j] <= 0 || (j && ranks[j] <= ranks[j - 1])))
            return gatrec__error(GATREC_EINVAL, "reclist: ranks of user %d are not positive and increasing", user);
    }
    if (n) {
        it = gatrec__malloc_array(n, sizeof *it);
        rk = gatrec__malloc_array(n, sizeof *rk);
        if (!it || !rk) {
            free(it);
            free(rk);
            return GATREC_ENOMEM;
        }
        memcpy(it, items, n * sizeof *it);
        for (size_t j = 0; j < n; j++)
            rk[j] = ranks ? ranks[j] : (int32_t)(j + 1);
    }
    free(list->items[user]);
    free(list->ranks[user]);
    list->items[user] = it;
    list->ranks[user] = rk;
    list->n[user] = n;
    return GATREC_OK;
}

GATREC_API int gatrec_reclist_set(gatrec_reclist *list, int32_t user, const int32_t *items, size_t n)
{
    return gatrec__reclist_set_ranked(list, user, items, NULL, n);
}

GATREC_API int gatrec_reclist_get(const gatrec_reclist *list, int32_t user, const int32_t **items, size_t *n)
{
    if (!list || !items || !n || user < 0 || (size_t)user >= list->nusers)
        return gatrec__error(GATREC_EINVAL, "gatrec_reclist_get: user index %d out of range or NULL output", user);
    *items = list->items[user];
    *n = list->n[user];
    return GATREC_OK;
}

typedef struct rec_row {
    int32_t user, item, rank;
    size_t line;
} rec_row;

static int by_user_rank(const void *a, const void *b)
{
    const rec_row *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static int parse_rows(const gatrec_dataset *ds, const char *path, gatrec__csv *csv, rec_row **rows_out, size_t *nrows)
{
    size_t cu, ci, cr, n = 0, cap = 0;
    rec_row *rows = NULL;
    int rc = gatrec__csv_next(csv);
    if (rc == 0)
        return gatrec__error(GATREC_EEMPTY, "%s: empty file", path);
    if (rc < 0)
        return gatrec__error_context(rc, "%s", path);
    if ((rc = gatrec__csv_column(csv, "user_id", path, "the header user_id,item_id,rank", &cu)) ||
        (rc = gatrec__csv_column(csv, "item_id", path, "the header user_id,item_id,rank", &ci)) ||
        (rc = gatrec__csv_column(csv, "rank", path, "the header user_id,item_id,rank", &cr)))
        return rc;
    while ((rc = gatrec__csv_next(csv)) == 1) {
        const char *fu, *fi, *fr;
        int64_t uid, iid, rank;
        int32_t u, i;
        size_t need = (cu > ci ? cu : ci) > cr ? (cu > ci ? cu : ci) : cr;
        if (csv->nfields == 1 && gatrec__csv_field(csv, 0)[0] == '\0')
            continue;
        if (csv->nfields <= need) {
            rc = gatrec__error(GATREC_EFIELDS, "%s:%zu: %zu fields, expected at least %zu", path, csv->line,
                               csv->nfields, need + 1);
            break;
        }
        fu = gatrec__csv_field(csv, cu);
        fi = gatrec__csv_field(csv, ci);
        fr = gatrec__csv_field(csv, cr);
        if (ds->users.keys) { /* an imported dataset: its string ids */
            u = gatrec__idmap_find_key(&ds->users, fu, strlen(fu));
            i = gatrec__idmap_find_key(&ds->items, fi, strlen(fi));
        } else if ((rc = gatrec__parse_id(fu, strlen(fu), &uid)) || (rc = gatrec__parse_id(fi, strlen(fi), &iid))) {
            gatrec__error(rc, "%s:%zu: user_id and item_id must be non-negative integers", path, csv->line);
            break;
        } else {
            u = gatrec__idmap_find(&ds->users, uid);
            i = gatrec__idmap_find(&ds->items, iid);
        }
        if ((rc = gatrec__parse_id(fr, strlen(fr), &rank))) {
            gatrec__error(rc, "%s:%zu: rank must be a non-negative integer", path, csv->line);
            break;
        }
        if (rank < 1 || rank > INT32_MAX) {
            rc = gatrec__error(rank < 1 ? GATREC_ENUMBER : GATREC_EOVERFLOW, "%s:%zu: rank %lld is not in 1..%d", path, csv->line,
                               (long long)rank, INT32_MAX);
            break;
        }
        if (u < 0 || i < 0) {
            rc = gatrec__error(GATREC_ENOTFOUND, "%s:%zu: %s '%.60s' is not in dataset '%s'", path, csv->line,
                               u < 0 ? "user" : "item", u < 0 ? fu : fi, ds->name);
            break;
        }
        if ((rc = gatrec__reserve((void **)&rows, &cap, n + 1, sizeof *rows)))
            break;
        rows[n].user = u;
        rows[n].item = i;
        rows[n].rank = (int32_t)rank;
        rows[n].line = csv->line;
        n++;
    }
    if (rc < 0) {
        if (rc == GATREC_EFORMAT)
            gatrec__error_context(rc, "%s", path);
        free(rows);
        return rc;
    }
    *rows_out = rows;
    *nrows = n;
    return GATREC_OK;
}

GATREC_API int gatrec_reclist_load_csv(const gatrec_dataset *ds, const char *path, gatrec_reclist **out)
{
    char *data;
    size_t len, n = 0;
    gatrec__csv csv;
    rec_row *rows = NULL;
    gatrec_reclist *list = NULL;
    int32_t *items = NULL, *ranks = NULL;
    int rc;
    if (!ds || !path || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_reclist_load_csv: NULL argument");
    if ((rc = gatrec__read_file(path, &data, &len)))
        return rc;
    gatrec__csv_init(&csv, data, len);
    rc = parse_rows(ds, path, &csv, &rows, &n);
    gatrec__csv_free(&csv);
    free(data);
    if (rc)
        return rc;
    if (n == 0) {
        free(rows);
        return gatrec__error(GATREC_EEMPTY, "%s: no recommendations", path);
    }
    qsort(rows, n, sizeof *rows, by_user_rank);
    items = gatrec__malloc_array(n, sizeof *items);
    ranks = gatrec__malloc_array(n, sizeof *ranks);
    rc = !items || !ranks ? GATREC_ENOMEM : gatrec_reclist_new(ds->users.count, &list);
    for (size_t a = 0, b; !rc && a < n; a = b) {
        for (b = a; b < n && rows[b].user == rows[a].user; b++) {
            if (b > a && rows[b].rank == rows[b - 1].rank) {
                rc = gatrec__error(GATREC_EDUPLICATE, "%s:%zu: user %lld has two items at rank %d (also line %zu)",
                                   path, rows[b].line, (long long)ds->users.ids[rows[b].user], rows[b].rank,
                                   rows[b - 1].line);
                break;
            }
            items[b - a] = rows[b].item;
            ranks[b - a] = rows[b].rank;
        }
        for (size_t j = a + 1; !rc && j < b; j++) /* the same item twice: say so in the file's ids and lines */
            for (size_t k = a; k < j; k++)
                if (rows[k].item == rows[j].item) {
                    rc = gatrec__error(GATREC_EDUPLICATE, "%s:%zu: user %lld lists item %lld twice (also line %zu)",
                                       path, rows[j].line, (long long)ds->users.ids[rows[j].user],
                                       (long long)ds->items.ids[rows[j].item], rows[k].line);
                    break;
                }
        if (!rc)
            rc = gatrec__reclist_set_ranked(list, rows[a].user, items, ranks, b - a);
    }
    free(items);
    free(ranks);
    free(rows);
    if (rc) {
        gatrec_reclist_free(list);
        return rc;
    }
    *out = list;
    return GATREC_OK;
}

/* An id as the CSV gives it: the string key (quoted as RFC 4180 needs) of an imported dataset, else the number */
static int put_id(gatrec__buf *b, const gatrec__idmap *m, int32_t index)
{
    const char *k = gatrec__idmap_key(m, index);
    int rc = GATREC_OK;
    if (!k)
        return gatrec__buf_printf(b, "%lld", (long long)m->ids[index]);
    if (!strpbrk(k, ",\"\r\n"))
        return gatrec__buf_put(b, k, strlen(k));
    rc = gatrec__buf_put(b, "\"", 1);
    for (; *k && !rc; k++)
        rc = *k == '"' ? gatrec__buf_put(b, "\"\"", 2) : gatrec__buf_put(b, k, 1);
    return rc ? rc : gatrec__buf_put(b, "\"", 1);
}

int gatrec__reclist_write_csv(const gatrec_reclist *list, const gatrec__idmap *users, const gatrec__idmap *items,
                              const char *path)
{
    gatrec__buf b = {0};
    int rc = gatrec__buf_printf(&b, "user_id,item_id,rank\n");
    if (list->nusers > users->count)
        rc = gatrec__error(GATREC_EINVAL, "reclist has %zu users, the id map %zu", list->nusers, users->count);
    for (size_t u = 0; u < list->nusers && !rc; u++)
        for (size_t j = 0; j < list->n[u] && !rc; j++) {
            int32_t it = list->items[u][j];
            if ((size_t)it >= items->count)
                rc = gatrec__error(GATREC_EINVAL, "reclist item index %d outside the id map", it);
            else if (!(rc = put_id(&b, users, (int32_t)u)) && !(rc = gatrec__buf_put(&b, ",", 1)) &&
                     !(rc = put_id(&b, items, it)))
                rc = gatrec__buf_printf(&b, ",%d\n", list->ranks[u][j]);
        }
    if (!rc)
        rc = gatrec__write_file_atomic(path, b.data, b.len);
    gatrec__buf_free(&b);
    return rc;
}
