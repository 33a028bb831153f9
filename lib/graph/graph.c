/* gatrec_graph: the bipartite user-item graph of training ratings, CSR both ways. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "graph.h"

size_t gatrec__csr_find(const gatrec__csr *c, size_t row, int32_t col)
{
    size_t lo = c->off[row], hi = c->off[row + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->col[mid] < col)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->off[row + 1] && c->col[lo] == col ? lo : SIZE_MAX;
}

void gatrec__csr_free(gatrec__csr *c)
{
    free(c->off);
    free(c->col);
    free(c->val);
    memset(c, 0, sizeof *c);
}

/* Two stable counting sorts, by column then by row, leave every row's columns ascending
 * in O(n + rows + cols): building ML-1M's graph takes milliseconds. */
int gatrec__csr_build(gatrec__csr *c, size_t nrows, size_t ncols, size_t n, const int32_t *row, const int32_t *col,
                      const float *val, size_t *dup)
{
    size_t *cnt = gatrec__calloc(ncols + 1, sizeof *cnt);
    uint32_t *by_col = gatrec__malloc_array(n, sizeof *by_col);
    int rc = GATREC_OK;
    memset(c, 0, sizeof *c);
    *dup = SIZE_MAX;
    c->nrows = nrows;
    c->off = gatrec__calloc(nrows + 1, sizeof *c->off);
    c->col = gatrec__malloc_array(n, sizeof *c->col);
    c->val = gatrec__malloc_array(n, sizeof *c->val);
    if (!cnt || !by_col || !c->off || !c->col || !c->val) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    for (size_t e = 0; e < n; e++)
        cnt[col[e] + 1]++;
    for (size_t j = 0; j < ncols; j++)
        cnt[j + 1] += cnt[j];
    for (size_t e = 0; e < n; e++)
        by_col[cnt[col[e]]++] = (uint32_t)e;
    for (size_t e = 0; e < n; e++)
        c->off[row[e] + 1]++;
    for (size_t r = 0; r < nrows; r++)
        c->off[r + 1] += c->off[r];
    {
        size_t *pos = gatrec__malloc_array(nrows + 1, sizeof *pos);
        if (!pos) {
            rc = GATREC_ENOMEM;
            goto done;
        }
        memcpy(pos, c->off, (nrows + 1) * sizeof *pos);
        for (size_t k = 0; k < n; k++) {
            uint32_t e = by_col[k];
            size_t p = pos[row[e]]++;
            c->col[p] = col[e];
            c->val[p] = val ? val[e] : 1.0f;
        }
        free(pos);
    }
    for (size_t r = 0; r < nrows && !rc; r++)
        for (size_t p = c->off[r] + 1; p < c->off[r + 1]; p++)
            if (c->col[p] == c->col[p - 1]) {
                /* find the triple for the message */
                for (size_t e = 0; e < n; e++)
                    if ((size_t)row[e] == r && col[e] == c->col[p]) {
                        *dup = e;
                        break;
                    }
                rc = GATREC_EDUPLICATE;
                break;
            }
done:
    free(cnt);
    free(by_col);
    if (rc)
        gatrec__csr_free(c);
    return rc;
}

GATREC__OPTIONS_INIT_FN(gatrec_graph_options_init, gatrec_graph_options, GATREC_GRAPH_OPTIONS_VERSION, GATREC_GRAPH_OPTIONS_INIT)

static int read_options(const gatrec_graph_options *opts, gatrec_graph_options *o)
{
    gatrec_graph_options_init(o, GATREC_GRAPH_OPTIONS_VERSION);
    if (GATREC__READ_VERSIONED(o, opts, gatrec_graph_options))
        return GATREC_EINVAL;
    if (o->part < GATREC_PART_TRAIN || o->part > GATREC_PART_TEST)
        return gatrec__error(GATREC_EINVAL, "graph options: part %d is not train, valid or test", o->part);
    if (!(o->disliked_threshold < o->liked_threshold))
        return gatrec__error(GATREC_EINVAL, "graph options: disliked threshold %g must be below liked threshold %g",
                             o->disliked_threshold, o->liked_threshold);
    return GATREC_OK;
}

/* Builds both directions; ids of users/items must already be in g->users/g->items. */
static int build(gatrec_graph *g, size_t n, const int32_t *u, const int32_t *i, const float *r)
{
    size_t dup;
    int rc = gatrec__csr_build(&g->by_user, g->users.count, g->items.count, n, u, i, r, &dup);
    if (rc == GATREC_EDUPLICATE)
        return gatrec__error(rc, "edge #%zu repeats user %lld and item %lld", dup + 1,
                             (long long)g->users.ids[u[dup]], (long long)g->items.ids[i[dup]]);
    if (rc)
        return rc;
    if ((rc = gatrec__csr_build(&g->by_item, g->items.count, g->users.count, n, i, u, r, &dup)))
        return rc;
    g->nedges = n;
    return GATREC_OK;
}

GATREC_API void gatrec_graph_free(gatrec_graph *graph)
{
    if (!graph)
        return;
    gatrec__idmap_free(&graph->users);
    gatrec__idmap_free(&graph->items);
    gatrec__csr_free(&graph->by_user);
    gatrec__csr_free(&graph->by_item);
    free(graph);
}

GATREC_API int gatrec_graph_new(const gatrec_dataset *ds, const gatrec_split *split,
                                const gatrec_graph_options *opts, gatrec_graph **out)
{
    gatrec_graph_options o;
    gatrec_graph *g;
    int32_t *u = NULL, *i = NULL;
    float *r = NULL;
    size_t n = 0;
    int rc;
    if (!ds || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_graph_new: NULL argument");
    if (split && split->ds != ds)
        return gatrec__error(GATREC_EINVAL, "gatrec_graph_new: the split belongs to another dataset");
    if ((rc = read_options(opts, &o)))
        return rc;
    if (!opts) { /* no options: the dataset's own thresholds (4 and 2 but for an imported log) */
        o.liked_threshold = ds->liked;
        o.disliked_threshold = ds->disliked;
    }
    if (!(g = gatrec__calloc(1, sizeof *g)))
        return GATREC_ENOMEM;
    g->liked = o.liked_threshold;
    g->disliked = o.disliked_threshold;
    u = gatrec__malloc_array(ds->nratings, sizeof *u);
    i = gatrec__malloc_array(ds->nratings, sizeof *i);
    r = gatrec__malloc_array(ds->nratings, sizeof *r);
    rc = !u || !i || !r ? GATREC_ENOMEM : GATREC_OK;
    if (!rc && !(rc = gatrec__idmap_copy(&g->users, &ds->users)) && !(rc = gatrec__idmap_copy(&g->items, &ds->items))) {
        for (size_t k = 0; k < ds->nratings; k++) {
            if (split ? split->parts[k] != o.part : o.part != GATREC_PART_TRAIN)
                continue;
            u[n] = ds->r_user[k];
            i[n] = ds->r_item[k];
            r[n] = ds->r_value[k];
            n++;
        }
        rc = build(g, n, u, i, r);
    }
    free(u);
    free(i);
    free(r);
    if (rc) {
        gatrec_graph_free(g);
        return rc;
    }
    *out = g;
    return GATREC_OK;
}

GATREC_API int gatrec_graph_from_edges(size_t num_users, size_t num_items, size_t num_edges, const int32_t *users,
                                       const int32_t *items, const float *ratings, const gatrec_graph_options *opts,
                                       gatrec_graph **out)
{
    gatrec_graph_options o;
    gatrec_graph *g;
    int rc;
    if (!out || (num_edges && (!users || !items)))
        return gatrec__error(GATREC_EINVAL, "gatrec_graph_from_edges: NULL argument");
    if (num_users > INT32_MAX || num_items > INT32_MAX)
        return gatrec__error(GATREC_EOVERFLOW, "gatrec_graph_from_edges: more than %d nodes", INT32_MAX);
    for (size_t e = 0; e < num_edges; e++) {
        if (users[e] < 0 || (size_t)users[e] >= num_users || items[e] < 0 || (size_t)items[e] >= num_items)
            return gatrec__error(GATREC_EINVAL, "edge #%zu (%d, %d) is outside %zu users x %zu items", e + 1,
                                 users[e], items[e], num_users, num_items);
        if (ratings && !(ratings[e] == ratings[e]))
            return gatrec__error(GATREC_ENUMBER, "edge #%zu has a rating that is not a number", e + 1);
    }
    if ((rc = read_options(opts, &o)))
        return rc;
    if (!(g = gatrec__calloc(1, sizeof *g)))
        return GATREC_ENOMEM;
    g->liked = o.liked_threshold;
    g->disliked = o.disliked_threshold;
    for (size_t k = 0; k < num_users && !rc; k++) {
        int32_t idx;
        rc = gatrec__idmap_add(&g->users, (int64_t)k, &idx, NULL);
    }
    for (size_t k = 0; k < num_items && !rc; k++) {
        int32_t idx;
        rc = gatrec__idmap_add(&g->items, (int64_t)k, &idx, NULL);
    }
    if (!rc)
        rc = build(g, num_edges, users, items, ratings);
    if (rc) {
        gatrec_graph_free(g);
        return rc;
    }
    *out = g;
    return GATREC_OK;
}

GATREC_API size_t gatrec_graph_num_users(const gatrec_graph *graph)
{
    return graph ? graph->users.count : 0;
}

GATREC_API size_t gatrec_graph_num_items(const gatrec_graph *graph)
{
    return graph ? graph->items.count : 0;
}

GATREC_API size_t gatrec_graph_num_edges(const gatrec_graph *graph)
{
    return graph ? graph->nedges : 0;
}

static int row_of(const gatrec__csr *c, int32_t r, const int32_t **cols, const float **vals, size_t *count,
                  const char *what)
{
    if (r < 0 || (size_t)r >= c->nrows || !count)
        return gatrec__error(GATREC_EINVAL, "%s index %d out of range (0..%zu)", what, r,
                             c->nrows ? c->nrows - 1 : 0);
    if (cols)
        *cols = c->col + c->off[r];
    if (vals)
        *vals = c->val + c->off[r];
    *count = c->off[r + 1] - c->off[r];
    return GATREC_OK;
}

GATREC_API int gatrec_graph_user_items(const gatrec_graph *graph, int32_t user, const int32_t **items,
                                       const float **ratings, size_t *count)
{
    if (!graph)
        return gatrec__error(GATREC_EINVAL, "NULL graph");
    return row_of(&graph->by_user, user, items, ratings, count, "user");
}

GATREC_API int gatrec_graph_item_users(const gatrec_graph *graph, int32_t item, const int32_t **users,
                                       const float **ratings, size_t *count)
{
    if (!graph)
        return gatrec__error(GATREC_EINVAL, "NULL graph");
    return row_of(&graph->by_item, item, users, ratings, count, "item");
}

static void degrees(const gatrec__csr *c, size_t *min, size_t *max, double *mean, size_t *isolated)
{
    *min = c->nrows ? SIZE_MAX : 0;
    *max = 0;
    *isolated = 0;
    for (size_t r = 0; r < c->nrows; r++) {
        size_t d = c->off[r + 1] - c->off[r];
        *min = d < *min ? d : *min;
        *max = d > *max ? d : *max;
        *isolated += d == 0;
    }
    *mean = c->nrows ? (double)c->off[c->nrows] / (double)c->nrows : 0.0;
}

GATREC_API int gatrec_graph_stats_get(const gatrec_graph *graph, gatrec_graph_stats *stats)
{
    gatrec_graph_stats s;
    if (!graph || !stats)
        return gatrec__error(GATREC_EINVAL, "gatrec_graph_stats_get: NULL argument");
    if (stats->version == 0 || stats->version > GATREC_GRAPH_STATS_VERSION)
        return gatrec__error(GATREC_EINVAL, "gatrec_graph_stats: unsupported version %u", stats->version);
    memset(&s, 0, sizeof s);
    s.version = stats->version;
    s.users = graph->users.count;
    s.items = graph->items.count;
    s.edges = graph->nedges;
    for (size_t e = 0; e < graph->nedges; e++) {
        s.liked_edges += graph->by_user.val[e] >= graph->liked;
        s.disliked_edges += graph->by_user.val[e] <= graph->disliked;
    }
    degrees(&graph->by_user, &s.user_degree_min, &s.user_degree_max, &s.user_degree_mean, &s.isolated_users);
    degrees(&graph->by_item, &s.item_degree_min, &s.item_degree_max, &s.item_degree_mean, &s.isolated_items);
    s.density = s.users && s.items ? (double)s.edges / ((double)s.users * (double)s.items) : 0.0;
    *stats = s;
    return GATREC_OK;
}
