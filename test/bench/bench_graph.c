/* Graph construction speed: an ML-1M-sized synthetic graph (6,040 users, 3,706 items,
 * 1,000,209 ratings with a Zipf-like item skew and a long-tailed user activity), and the real
 * ML-100K load + split + graph when the data is present. Prints figures; asserts nothing. */
#include <gatrec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synth.h"

int main(void)
{
    int32_t *u, *i;
    float *r;
    double t0, best = 1e9;
    gatrec_graph_stats st = {.version = GATREC_GRAPH_STATS_VERSION};
    synth_ml1m(&u, &i, &r);
    for (int rep = 0; rep < 5; rep++) {
        gatrec_graph *g;
        t0 = now();
        if (gatrec_graph_from_edges(USERS, ITEMS, EDGES, u, i, r, NULL, &g)) {
            fprintf(stderr, "bench: %s\n", gatrec_last_error());
            return 1;
        }
        double dt = now() - t0;
        best = dt < best ? dt : best;
        if (rep == 0)
            gatrec_graph_stats_get(g, &st);
        gatrec_graph_free(g);
    }
    printf("graph build, ML-1M-sized synthetic (%d users, %d items, %d ratings; item degree max %zu, "
           "user degree max %zu): best of 5 %.1f ms, peak RSS %.1f MB\n",
           USERS, ITEMS, EDGES, st.item_degree_max, st.user_degree_max, best * 1e3, peak_rss_kb() / 1024.0);
    free(u), free(i), free(r);
    {
        const char *d = getenv("GATREC_TEST_DATA");
        char dir[4096];
        gatrec_dataset *ds;
        gatrec_split *s;
        gatrec_graph *g;
        snprintf(dir, sizeof dir, "%s/ml-100k", d && d[0] ? d : "../shared/data");
        t0 = now();
        if (gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, &ds) != 0) {
            printf("ML-100K: skipped (%s)\n", gatrec_last_error());
            return 0;
        }
        double t_load = now() - t0;
        t0 = now();
        gatrec_split_official(ds, "u1", &s);
        double t_split = now() - t0;
        t0 = now();
        gatrec_graph_new(ds, s, NULL, &g);
        double t_graph = now() - t0;
        printf("ML-100K: load %.1f ms, split u1 %.1f ms, graph %.1f ms\n", t_load * 1e3, t_split * 1e3, t_graph * 1e3);
        gatrec_graph_free(g);
        gatrec_split_free(s);
        gatrec_dataset_free(ds);
    }
    return 0;
}
