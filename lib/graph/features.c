/* Node feature matrices from text files: "kind<TAB>id<TAB>v1 v2 ..." (docs/features.md). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

/* Parse the whitespace-separated numbers of s[0..n) into row (NULL: only count them). */
static int parse_row(const char *s, size_t n, float *row, size_t *count)
{
    size_t k = 0, i = 0;
    char buf[64];
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t j = i;
        while (j < n && s[j] != ' ' && s[j] != '\t' && s[j] != ',')
            j++;
        if (j == i)
            break;
        if (j - i >= sizeof buf)
            return GATREC_ENUMBER;
        memcpy(buf, s + i, j - i);
        buf[j - i] = '\0';
        char *end;
        errno = 0;
        float v = gatrec__strtof(buf, &end);
        if (*end || !isfinite(v))
            return GATREC_ENUMBER;
        if (row)
            row[k] = v;
        k++;
        i = j;
    }
    *count = k;
    return GATREC_OK;
}

GATREC_API int gatrec_features_load(const gatrec_graph *graph, const char *path, float **features, size_t *dim)
{
    char *data;
    size_t len, nu, N, d = 0, filled = 0;
    unsigned char *have = NULL;
    float *F = NULL;
    gatrec__lines it;
    const char *line;
    size_t n;
    int rc;
    if (!graph || !path || !features || !dim)
        return gatrec__error(GATREC_EINVAL, "gatrec_features_load: NULL argument");
    if ((rc = gatrec__read_file(path, &data, &len)))
        return rc;
    nu = graph->users.count;
    N = nu + graph->items.count;
    gatrec__lines_init(&it, data, len);
    while (gatrec__lines_next(&it, &line, &n)) {
        const char *f[3];
        size_t fl[3], cnt;
        int64_t id;
        int32_t idx;
        if (n == 0 || line[0] == '#')
            continue;
        /* kind and id are the first two tab-separated fields; the values are the rest of the
         * line, which may itself hold tabs */
        if (gatrec__split_fields(line, n, "\t", 1, f, fl, 3) < 3) {
            rc = gatrec__error(GATREC_EFIELDS, "%s:%zu: expected kind<TAB>id<TAB>values", path, it.lineno);
            goto done;
        }
        int is_user = fl[0] == 4 && memcmp(f[0], "user", 4) == 0;
        if (!is_user && !(fl[0] == 4 && memcmp(f[0], "item", 4) == 0)) {
            rc = gatrec__error(GATREC_EFIELDS, "%s:%zu: the kind must be 'user' or 'item', not '%.*s'", path,
                               it.lineno, (int)(fl[0] > 20 ? 20 : fl[0]), f[0]);
            goto done;
        }
        if ((rc = gatrec__parse_id(f[1], fl[1], &id))) {
            rc = gatrec__error(rc, "%s:%zu: '%.*s' is not an id", path, it.lineno, (int)(fl[1] > 20 ? 20 : fl[1]), f[1]);
            goto done;
        }
        fl[2] = (size_t)(line + n - f[2]);
        if ((rc = parse_row(f[2], fl[2], NULL, &cnt)) || cnt == 0) {
            rc = gatrec__error(GATREC_ENUMBER, "%s:%zu: the values must be finite numbers separated by spaces", path,
                               it.lineno);
            goto done;
        }
        if (!F) {
            d = cnt;
            F = gatrec__calloc(N * d + 1, sizeof *F);
            have = gatrec__calloc(N + 1, 1);
            if (!F || !have) {
                rc = GATREC_ENOMEM;
                goto done;
            }
        } else if (cnt != d) {
            rc = gatrec__error(GATREC_EFIELDS, "%s:%zu: %zu values, but the first row had %zu", path, it.lineno, cnt, d);
            goto done;
        }
        idx = gatrec__idmap_find(is_user ? &graph->users : &graph->items, id);
        if (idx < 0) {
            rc = gatrec__error(GATREC_ENOTFOUND, "%s:%zu: the graph has no %s %lld", path, it.lineno,
                               is_user ? "user" : "item", (long long)id);
            goto done;
        }
        size_t row = is_user ? (size_t)idx : nu + (size_t)idx;
        if (have[row]) {
            rc = gatrec__error(GATREC_EDUPLICATE, "%s:%zu: a second row for %s %lld", path, it.lineno,
                               is_user ? "user" : "item", (long long)id);
            goto done;
        }
        have[row] = 1;
        filled++;
        parse_row(f[2], fl[2], F + row * d, &cnt);
    }
    if (!F) {
        rc = gatrec__error(GATREC_EEMPTY, "%s: no feature rows", path);
        goto done;
    }
    if (filled != N) {
        size_t r = 0;
        while (have[r])
            r++;
        rc = gatrec__error(GATREC_ENOTFOUND, "%s: %zu of %zu nodes have no row (the first: %s %lld)", path, N - filled,
                           N, r < nu ? "user" : "item",
                           (long long)(r < nu ? graph->users.ids[r] : graph->items.ids[r - nu]));
        goto done;
    }
    *features = F;
    *dim = d;
    F = NULL;
done:
    free(F);
    free(have);
    free(data);
    return rc;
}

GATREC_API void gatrec_features_free(float *features)
{
    free(features);
}
