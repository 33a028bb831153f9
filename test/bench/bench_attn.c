/* The attn model's speed and memory on ML-100K (issue 13's targets): trained on u1 less a
 * validation tenth (template profiles through the LSA embedder, fitted before the clock starts, the defaults: 256-d, 2
 * layers, softmax, early stopping on the tenth), the time to its best validation epoch and in
 * all, peak RSS, and top-50 for every user through the C API (the same for BPR-MF's 256-d
 * embeddings, for comparison). Each model runs in its own process so that peak RSS is its own.
 * Prints figures; asserts nothing. */
#include <gatrec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

typedef struct timing {
    double total, to_best;
    double t[1024];
    int n, best;
} timing;

static int on_epoch(void *payload, const gatrec_epoch *ep)
{
    timing *t = payload;
    if (t->n < 1024)
        t->t[t->n++] = ep->seconds;
    t->best = ep->best_epoch;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One kind in this process: prints "to_best_s total_s epochs best peak_rss_kb top50_ms
 * peak_before_training_kb". */
static int run_one(const char *dir, const char *kind, int threads)
{
    gatrec_dataset *ds = NULL;
    gatrec_split *split = NULL;
    gatrec_graph *g = NULL, *valid = NULL;
    gatrec_profiles *profiles = NULL;
    gatrec_embedder *emb = NULL;
    gatrec_model *m = NULL;
    gatrec_graph_options go = GATREC_GRAPH_OPTIONS_INIT;
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    float *features = NULL;
    size_t fdim;
    timing t = {0};
    double rec[7];
    if (gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, &ds) ||
        gatrec_split_parse(ds, "u1+valid:0.1", 1, &split) || gatrec_graph_new(ds, split, &go, &g))
        return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
    go.part = GATREC_PART_VALID;
    if (gatrec_graph_new(ds, split, &go, &valid))
        return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
    o.kind = gatrec_model_kind_from_name(kind);
    o.threads = threads;
    o.validation = valid;
    o.on_epoch = on_epoch;
    o.payload = &t;
    if (o.kind == GATREC_MODEL_ATTN) {
        if (gatrec_profiles_new(&profiles) || gatrec_profiles_fill_templates(profiles, ds, g, NULL) ||
            gatrec_embedder_new_lsa(NULL, &emb) || gatrec_features_from_profiles(g, profiles, emb, &features, &fdim))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        o.features = features;
        o.feature_dim = fdim;
        gatrec_profiles_free(profiles); /* the texts are embedded: a host lets them go */
        profiles = NULL;
    } else { /* BPR-MF as make results trains it with the softmax loss */
        o.loss = GATREC_LOSS_SOFTMAX;
        o.weight_decay = 0;
        o.lr = 5e-3f;
    }
    long before = peak_rss_kb(); /* data, profiles, the embedder's fit */
    if (gatrec_model_train(g, &o, &m))
        return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
    for (int k = 0; k < t.n; k++) {
        t.total += t.t[k];
        if (k < t.best)
            t.to_best += t.t[k];
    }
    for (int r = 0; r < 7; r++) { /* top-50 for every user, the median of 7 */
        gatrec_reclist *lists;
        double t0 = now();
        if (gatrec_model_recommend_all(m, 50, &lists))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        rec[r] = (now() - t0) * 1e3;
        gatrec_reclist_free(lists);
    }
    qsort(rec, 7, sizeof *rec, cmp_double);
    printf("%.2f %.2f %d %d %ld %.2f %ld\n", t.to_best, t.total, t.n, t.best, peak_rss_kb(), rec[3], before);
    gatrec_model_free(m);
    gatrec_features_free(features);
    gatrec_embedder_free(emb);
    gatrec_profiles_free(profiles);
    gatrec_graph_free(valid);
    gatrec_graph_free(g);
    gatrec_split_free(split);
    gatrec_dataset_free(ds);
    return 0;
}

int main(int argc, char **argv)
{
    const char *d = getenv("GATREC_TEST_DATA");
    char dir[4096], cmd[8192];
    static const char *const kinds[] = {"attn", "bpr"};
    if (argc == 5 && strcmp(argv[1], "--one") == 0)
        return run_one(argv[2], argv[3], atoi(argv[4]));
    snprintf(dir, sizeof dir, "%s/ml-100k", d && d[0] ? d : "../shared/data");
    printf("attn (256-d, 2 layers, softmax, template profiles through the LSA embedder) and BPR-MF (256-d, softmax) on ML-100K u1 less a "
           "validation tenth, 2 threads:\n");
    for (size_t k = 0; k < 2; k++) {
        double best, total, top;
        int epochs, at;
        long rss, before;
        snprintf(cmd, sizeof cmd, "'%s' --one '%s' %s 2", argv[0], dir, kinds[k]);
        FILE *p = popen(cmd, "r");
        int ok = p && fscanf(p, "%lf %lf %d %d %ld %lf %ld", &best, &total, &epochs, &at, &rss, &top, &before) == 7;
        if (p)
            pclose(p);
        if (!ok) {
            printf("  %s: skipped (no data at %s, or it failed: see above)\n", kinds[k], dir);
            continue;
        }
        printf("  %-4s trained to its best validation epoch (%d) in %.1f s (%d epochs, %.1f s in all); peak RSS "
               "%.1f MB (%.1f MB before training: data, profiles, embedder); top-50 for all users %.1f ms\n",
               kinds[k], at, best, epochs, total, rss / 1024.0, before / 1024.0, top);
    }
    return 0;
}
