/* Template justifications: why a model recommended an item, from its evidence and the genres
 * the item shares with it, or from popularity - so that every recommendation explains itself
 * without an LLM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "model.h"

#define EXPLAIN_EVIDENCE 3

static const char *title_of(const gatrec_model *m, const gatrec_dataset *ds, int32_t item, char *buf, size_t size)
{
    int32_t di;
    const char *t = ds && gatrec_dataset_item_index(ds, gatrec_model_item_id(m, item), &di) == 0
                        ? gatrec_dataset_item_title(ds, di)
                        : NULL;
    if (t)
        return t;
    if (gatrec_model_item_key(m, item)) /* an imported catalogue without titles: the item's own id */
        snprintf(buf, size, "item %s", gatrec_model_item_key(m, item));
    else
        snprintf(buf, size, "item %lld", (long long)gatrec_model_item_id(m, item));
    return buf;
}

GATREC_API int gatrec_model_explain(const gatrec_model *m, const gatrec_dataset *ds, int32_t user, int32_t item,
                                    char **text)
{
    int32_t ev[EXPLAIN_EVIDENCE], di, dj;
    float w[EXPLAIN_EVIDENCE];
    size_t nev = 0, ratings = 0, liked = 0;
    gatrec__buf b = {0};
    char tbuf[48];
    int rc;
    if (!m || !text)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_explain: NULL argument");
    *text = NULL;
    rc = gatrec_model_evidence(m, user, item, EXPLAIN_EVIDENCE, ev, w, &nev);
    if (rc == GATREC_EUNSUPPORTED) {
        gatrec_error_clear();
        nev = 0;
    } else if (rc) {
        return rc;
    }
    if (nev == 0) { /* no liked item speaks for it: say what does */
        size_t n = m->seen.off[user + 1] - m->seen.off[user], nliked = 0;
        for (size_t e = m->seen.off[user]; e < m->seen.off[user + 1]; e++)
            nliked += m->seen.val[e] >= m->liked;
        if ((rc = gatrec_model_item_popularity(m, item, &ratings, &liked)))
            return rc;
        rc = gatrec__buf_printf(&b, "%spopular: rated by %zu of %zu users in training, %zu of them liked it",
                                n == 0       ? "no ratings yet; "
                                : nliked == 0 ? "unlike what you rated low; "
                                              : "",
                                ratings, gatrec_model_num_users(m), liked);
    } else {
        rc = gatrec__buf_printf(&b, "because you liked ");
        for (size_t k = 0; k < nev && !rc; k++)
            rc = gatrec__buf_printf(&b, "%s%s (%.0f%%)", k == 0 ? "" : k + 1 == nev ? " and " : ", ",
                                    title_of(m, ds, ev[k], tbuf, sizeof tbuf), 100.0 * w[k]);
        /* genres the item shares with the strongest evidence */
        if (!rc && ds && gatrec_dataset_item_index(ds, gatrec_model_item_id(m, item), &di) == 0 &&
            gatrec_dataset_item_index(ds, gatrec_model_item_id(m, ev[0]), &dj) == 0) {
            int first = 1;
            for (size_t g = 0; g < gatrec_dataset_num_genres(ds) && !rc; g++)
                if (gatrec_dataset_item_has_genre(ds, di, g) && gatrec_dataset_item_has_genre(ds, dj, g) &&
                    strcmp(gatrec_dataset_genre_name(ds, g), "unknown") != 0) {
                    rc = gatrec__buf_printf(&b, "%s%s", first ? "; like the first, it is " : " and ",
                                            gatrec_dataset_genre_name(ds, g));
                    first = 0;
                }
        }
    }
    if (!rc)
        rc = gatrec__buf_put(&b, "", 1);
    if (rc) {
        gatrec__buf_free(&b);
        return rc;
    }
    *text = (char *)b.data;
    return GATREC_OK;
}
