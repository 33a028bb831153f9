/* Fold-in latency (issue 22's targets): attn on ML-100K cold-users:0.2:5 (template profiles
 * through the LSA embedder, the embedder kept in the model, a few epochs: latency does not
 * depend on how well it trained), then 1,000 new users folded in from 5 ratings each (the
 * held-out users' revealed ratings, in turn) through gatrec_model_add_user_checked() - from the
 * ratings alone, and with the LSA embedding of a one-paragraph profile - and 1,000 known users'
 * updates of 5 ratings (gatrec_model_update_user). Prints median and p99; asserts nothing. */
#include <gatrec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

#define RUNS 1000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *t, size_t n)
{
    qsort(t, n, sizeof *t, cmp_double);
    printf("  %-58s median %.3f ms, p99 %.3f ms (%zu runs)\n", what, t[n / 2] * 1e3, t[n * 99 / 100] * 1e3, n);
}

int main(void)
{
    const char *d = getenv("GATREC_TEST_DATA");
    char dir[4096], text[1024];
    gatrec_dataset *ds = NULL;
    gatrec_split *split = NULL;
    gatrec_graph *g = NULL;
    gatrec_profiles *profiles = NULL;
    gatrec_embedder *emb = NULL;
    gatrec_model *m = NULL;
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    float *features = NULL, *f1;
    size_t fdim, ncold = 0, nr;
    int32_t *cold_user, items[5];
    float stars[5];
    static double plain[RUNS], texted[RUNS], embed_only[RUNS], upd[RUNS];
    snprintf(dir, sizeof dir, "%s/ml-100k", d && d[0] ? d : "../shared/data");
    if (gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, &ds)) {
        printf("fold-in latency: skipped (no MovieLens 100K at %s)\n", dir);
        return 0;
    }
    if (gatrec_split_parse(ds, "cold-users:0.2:5", 1, &split) || gatrec_graph_new(ds, split, NULL, &g) ||
        gatrec_profiles_new(&profiles) || gatrec_profiles_fill_templates(profiles, ds, g, NULL) ||
        gatrec_embedder_new_lsa(NULL, &emb) || gatrec_features_from_profiles(g, profiles, emb, &features, &fdim))
        return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
    o.kind = GATREC_MODEL_ATTN;
    o.epochs = 3;
    o.threads = 1;
    o.features = features;
    o.feature_dim = fdim;
    if (gatrec_model_train(g, &o, &m) || gatrec_model_set_embedder(m, emb))
        return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
    /* the held-out users, each with their 5 revealed ratings (dataset order) */
    nr = gatrec_dataset_num_ratings(ds);
    cold_user = calloc(gatrec_dataset_num_users(ds), sizeof *cold_user);
    int32_t (*rev)[5] = calloc(gatrec_dataset_num_users(ds), sizeof *rev);
    float (*rst)[5] = calloc(gatrec_dataset_num_users(ds), sizeof *rst);
    int *nrev = calloc(gatrec_dataset_num_users(ds), sizeof *nrev);
    f1 = malloc(fdim * sizeof *f1);
    if (!cold_user || !rev || !rst || !nrev || !f1)
        return fprintf(stderr, "out of memory\n"), 1;
    for (size_t r = 0; r < nr; r++) {
        int32_t u, i;
        float v;
        if (gatrec_split_part(split, r) != GATREC_PART_REVEAL)
            continue;
        gatrec_dataset_rating(ds, r, &u, &i, &v, NULL);
        if (nrev[u] < 5 && gatrec_model_item_index(m, gatrec_dataset_item_id(ds, i), &rev[u][nrev[u]]) == 0)
            rst[u][nrev[u]++] = v;
    }
    for (size_t u = 0; u < gatrec_dataset_num_users(ds); u++)
        if (nrev[u] == 5)
            cold_user[ncold++] = (int32_t)u;
    for (size_t r = 0; r < RUNS; r++) {
        int32_t u = cold_user[r % ncold], idx;
        const char *texts[1] = {text};
        int len = snprintf(text, sizeof text, "A viewer who has just joined. ");
        for (int j = 0; j < 5; j++) /* a paragraph: what they rated and how */
            len += snprintf(text + len, sizeof text - (size_t)len, "They gave %s %.0f stars%s ",
                            gatrec_dataset_item_title(ds, rev[u][j]) ? gatrec_dataset_item_title(ds, rev[u][j]) : "a film",
                            (double)rst[u][j], j == 4 ? "." : ";");
        snprintf(text + len, sizeof text - (size_t)len, "They like thoughtful dramas and clever comedies, and "
                 "dislike loud action films with thin plots.");
        double t0 = now();
        if (gatrec_model_add_user_checked(m, 1000000 + (int64_t)r, rev[u], rst[u], 5, NULL, 0, &idx))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        double t1 = now();
        if (gatrec_embedder_embed(emb, texts, 1, f1))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        double t2 = now();
        if (gatrec_model_add_user_checked(m, 2000000 + (int64_t)r, rev[u], rst[u], 5, f1, fdim, &idx))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        double t3 = now();
        plain[r] = t1 - t0;
        embed_only[r] = t2 - t1;
        texted[r] = t3 - t1;
    }
    for (size_t r = 0; r < RUNS; r++) { /* known users, 5 new ratings each, of items they have not rated */
        int32_t u = (int32_t)(r * 7 % (gatrec_dataset_num_users(ds) - ncold)), held[4096];
        float hr[4096];
        size_t nh, n = 0;
        gatrec_model_user_ratings(m, u, held, hr, 4096, &nh);
        for (int32_t i = (int32_t)(r % 300); n < 5; i++) {
            int rated = 0;
            for (size_t k = 0; k < nh && !rated; k++)
                rated = held[k] == i;
            if (!rated) {
                items[n] = i;
                stars[n++] = (float)(1 + (i + r) % 5);
            }
        }
        double t0 = now();
        if (gatrec_model_update_user(m, u, items, stars, 5))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        upd[r] = now() - t0;
    }
    printf("attn (256-d, 2 layers) on ML-100K cold-users:0.2:5, one thread:\n");
    report("new user, 5 ratings, C API (no text)", plain, RUNS);
    report("new user, 5 ratings + LSA embedding of a paragraph", texted, RUNS);
    report("  of which the embedding", embed_only, RUNS);
    report("known user, 5 new ratings (gatrec_model_update_user)", upd, RUNS);
    free(f1);
    free(nrev);
    free(rst);
    free(rev);
    free(cold_user);
    gatrec_model_free(m);
    gatrec_features_free(features);
    gatrec_embedder_free(emb);
    gatrec_profiles_free(profiles);
    gatrec_graph_free(g);
    gatrec_split_free(split);
    gatrec_dataset_free(ds);
    return 0;
}
