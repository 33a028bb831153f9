/* Profiles (store, CSV import, templates, JSON Lines) and embedders (hashed TF-IDF, callback),
 * and the features made from them. */
#include <math.h>
#include <sys/stat.h>

#include "check_util.h"

static const char *GENRE = "unknown|0\nAction|1\nComedy|2\nDrama|3\n\n";
static const char *ITEM = "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1|0\n"
                          "2|Heat (1995)|01-Jan-1995||http://x|0|1|0|1\n"
                          "3|Casino (1995)|01-Jan-1995||http://x|0|0|0|1\n";
static const char *USER = "1|24|M|technician|85711\n2|53|F|other|94043\n";
static const char *DATA = "1\t1\t5\t100\n1\t2\t1\t200\n1\t3\t4\t300\n2\t1\t4\t100\n2\t3\t2\t50\n";

gatrec_dataset *tiny_movielens(char **dir_out)
{
    char *dir = make_temp_dir();
    gatrec_dataset *ds;
    free(write_file(dir, "u.genre", GENRE, 0));
    free(write_file(dir, "u.item", ITEM, 0));
    free(write_file(dir, "u.user", USER, 0));
    free(write_file(dir, "u.data", DATA, 0));
    ck_assert_ok(gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, &ds));
    *dir_out = dir;
    return ds;
}

START_TEST(profiles_store_and_files)
{
    gatrec_profiles *p, *back;
    char *dir = make_temp_dir(), *path, out[4200];
    size_t n;
    ck_assert_ok(gatrec_profiles_new(&p));
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_USER, 7, "likes \"noir\",\nand caf\xc3\xa9s"));
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_ITEM, 7, "an item"));
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_ITEM, 7, "replaced"));
    ck_assert_str_eq(gatrec_profiles_get(p, GATREC_NODE_ITEM, 7), "replaced");
    ck_assert_uint_eq(gatrec_profiles_count(p, GATREC_NODE_ITEM), 1);
    ck_assert_ptr_null(gatrec_profiles_get(p, GATREC_NODE_USER, 8));
    ck_assert_status(gatrec_profiles_set(p, 5, 1, "x"), GATREC_EINVAL);
    ck_assert_status(gatrec_profiles_set(p, GATREC_NODE_USER, -1, "x"), GATREC_EINVAL);
    ck_assert_status(gatrec_profiles_set(p, GATREC_NODE_USER, 1, "bad \xff utf-8"), GATREC_EFORMAT);
    /* CSV import: quoted multi-line fields, an empty text skipped, other columns ignored */
    path = write_file(dir, "p.csv",
                      "movie_id,junk,movie_info\n"
                      "10,a,\"## Overview\nA heist, \"\"done right\"\".\"\n"
                      "11,b,\n"
                      "12,c,plain\n",
                      0);
    ck_assert_ok(gatrec_profiles_import_csv(p, GATREC_NODE_ITEM, path, "movie_id", "movie_info", &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(gatrec_profiles_get(p, GATREC_NODE_ITEM, 10), "## Overview\nA heist, \"done right\".");
    ck_assert_ptr_null(gatrec_profiles_get(p, GATREC_NODE_ITEM, 11));
    ck_assert_status(gatrec_profiles_import_csv(p, GATREC_NODE_ITEM, path, "movie_id", "summary", &n), GATREC_ENOTFOUND);
    ck_assert_error_mentions("summary");
    free(path);
    path = write_file(dir, "bad.csv", "movie_id,movie_info\nx1,text\n", 0);
    ck_assert_status(gatrec_profiles_import_csv(p, GATREC_NODE_ITEM, path, "movie_id", "movie_info", &n), GATREC_ENUMBER);
    ck_assert_error_mentions("bad.csv:2");
    free(path);
    /* one row per id: a second is an error naming both lines (an empty text is no row) */
    path = write_file(dir, "dup.csv", "movie_id,movie_info\n20,one\n21,\n21,two\n20,again\n", 0);
    ck_assert_status(gatrec_profiles_import_csv(p, GATREC_NODE_ITEM, path, "movie_id", "movie_info", &n),
                     GATREC_EDUPLICATE);
    ck_assert_error_mentions("dup.csv:5: item 20 has a profile already, at line 2");
    free(path);
    gatrec_profiles_set(p, GATREC_NODE_ITEM, 20, "back to one"); /* a file's rows before the error stay */
    /* JSON Lines round trip */
    snprintf(out, sizeof out, "%s/p.jsonl", dir);
    ck_assert_ok(gatrec_profiles_save(p, out));
    ck_assert_ok(gatrec_profiles_load(out, &back));
    ck_assert_str_eq(gatrec_profiles_get(back, GATREC_NODE_USER, 7), "likes \"noir\",\nand caf\xc3\xa9s");
    ck_assert_str_eq(gatrec_profiles_get(back, GATREC_NODE_ITEM, 10), "## Overview\nA heist, \"done right\".");
    ck_assert_uint_eq(gatrec_profiles_count(back, GATREC_NODE_ITEM), 5);
    gatrec_profiles_free(back);
    path = write_file(dir, "bad.jsonl", "{\"kind\": \"user\", \"id\": 1, \"text\": \"ok\"}\n{\"kind\": \"movie\", \"id\": 2}\n", 0);
    back = NULL;
    ck_assert_status(gatrec_profiles_load(path, &back), GATREC_EFORMAT);
    ck_assert_ptr_null(back);
    ck_assert_error_mentions("bad.jsonl:2");
    free(path);
    gatrec_profiles_free(p);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(templates_from_the_data)
{
    char *dir;
    gatrec_dataset *ds = tiny_movielens(&dir);
    gatrec_graph *g;
    gatrec_profiles *p;
    size_t filled;
    const char *t;
    ck_assert_ok(gatrec_graph_new(ds, NULL, NULL, &g));
    ck_assert_ok(gatrec_profiles_new(&p));
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_ITEM, 3, "kept"));
    ck_assert_ok(gatrec_profiles_fill_templates(p, ds, g, &filled));
    ck_assert_uint_eq(filled, 4); /* 2 users + items 1 and 2 */
    ck_assert_str_eq(gatrec_profiles_get(p, GATREC_NODE_ITEM, 3), "kept");
    ck_assert_str_eq(gatrec_profiles_get(p, GATREC_NODE_ITEM, 2), "Heat (1995). Genres: Action, Drama.");
    t = gatrec_profiles_get(p, GATREC_NODE_USER, 1);
    /* liked: latest first (Casino at 300, Toy Story at 100); disliked: Heat */
    ck_assert_msg(strstr(t, "liked: Casino (1995) (Drama); Toy Story (1995) (Comedy)") && strstr(t, "Disliked: Heat (1995)"),
                  "user 1: %s", t);
    ck_assert_msg(strstr(t, "Favourite genres: "), "user 1: %s", t);
    t = gatrec_profiles_get(p, GATREC_NODE_USER, 2);
    ck_assert_msg(strstr(t, "Disliked: Casino"), "user 2: %s", t);
    gatrec_profiles_free(p);
    gatrec_graph_free(g);
    gatrec_dataset_free(ds);
    rm_tree(dir);
    free(dir);
}
END_TEST

static double cosine(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++)
        s += (double)a[k] * b[k];
    return s; /* the vectors are unit length */
}

START_TEST(hashed_embedder)
{
    const char *docs[] = {"A tense heist thriller in Los Angeles, with a bank robbery.",
                          "A heist thriller: the bank robbery goes wrong in Los Angeles.",
                          "Toys come to life in a warm animated comedy for children.",
                          ""};
    gatrec_embedder_options o = GATREC_EMBEDDER_OPTIONS_INIT;
    gatrec_embedder *e, *back;
    float v[4][64], w[4][64];
    char *dir = make_temp_dir(), path[4200];
    o.dim = 64;
    ck_assert_ok(gatrec_embedder_new_hashed(&o, &e));
    ck_assert_uint_eq(gatrec_embedder_dim(e), 64);
    ck_assert_ok(gatrec_embedder_fit(e, docs, 4));
    ck_assert_ok(gatrec_embedder_embed(e, docs, 4, &v[0][0]));
    ck_assert_double_eq_tol(cosine(v[0], v[0], 64), 1.0, 1e-5);
    ck_assert_msg(cosine(v[0], v[1], 64) > cosine(v[0], v[2], 64) + 0.2, "similar texts are not closer: %g vs %g",
                  cosine(v[0], v[1], 64), cosine(v[0], v[2], 64));
    for (int k = 0; k < 64; k++)
        ck_assert_float_eq(v[3][k], 0.0f); /* an empty text is the zero vector */
    /* case and punctuation do not matter */
    const char *same[] = {"HEIST, thriller!", "heist thriller"};
    ck_assert_ok(gatrec_embedder_embed(e, same, 2, &w[0][0]));
    ck_assert_mem_eq(w[0], w[1], sizeof w[0]);
    /* saved and loaded, it embeds identically */
    snprintf(path, sizeof path, "%s/e.bin", dir);
    ck_assert_ok(gatrec_embedder_save(e, path));
    ck_assert_ok(gatrec_embedder_load(path, &back));
    ck_assert_ok(gatrec_embedder_embed(back, docs, 4, &w[0][0]));
    ck_assert_mem_eq(v, w, sizeof v);
    gatrec_embedder_free(back);
    {
        char *data = slurp(path);
        struct stat st;
        FILE *f;
        ck_assert_int_eq(stat(path, &st), 0);
        data[20] ^= 1;
        f = fopen(path, "wb");
        fwrite(data, 1, (size_t)st.st_size, f);
        fclose(f);
        ck_assert_status(gatrec_embedder_load(path, &back), GATREC_ECHECKSUM);
        f = fopen(path, "wb");
        fwrite("GATRECEM", 1, 8, f);
        fclose(f);
        ck_assert_int_lt(gatrec_embedder_load(path, &back), 0);
        free(data);
    }
    o.dim = 0;
    ck_assert_status(gatrec_embedder_new_hashed(&o, &back), GATREC_EINVAL);
    gatrec_embedder_free(e);
    rm_tree(dir);
    free(dir);
}
END_TEST

static int length_cb(void *userdata, const char *const *texts, size_t n, float *out, size_t dim)
{
    int *calls = userdata;
    (*calls)++;
    for (size_t k = 0; k < n; k++) {
        if (strcmp(texts[k], "fail") == 0)
            return GATREC_EUSER;
        for (size_t j = 0; j < dim; j++)
            out[k * dim + j] = strcmp(texts[k], "nan") == 0 ? NAN : (float)(strlen(texts[k]) + j);
    }
    return 0;
}

/* Profiles of ids a dataset lacks are dropped; the others keep their texts and order */
START_TEST(profiles_keep_known)
{
    char *dir;
    gatrec_dataset *ds = tiny_movielens(&dir); /* users 1, 2; items 1, 2, 3 */
    gatrec_profiles *p;
    size_t dropped = 99;
    ck_assert_ok(gatrec_profiles_new(&p));
    ck_assert_ok(gatrec_profiles_keep_known(p, ds, GATREC_NODE_ITEM, &dropped)); /* empty: nothing to do */
    ck_assert_uint_eq(dropped, 0);
    const int64_t ids[] = {7, 3, 9, 1, 8};
    for (int k = 0; k < 5; k++) {
        char text[16];
        snprintf(text, sizeof text, "item %lld", (long long)ids[k]);
        ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_ITEM, ids[k], text));
    }
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_USER, 2, "user two"));
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_USER, 5, "user five"));
    ck_assert_ok(gatrec_profiles_keep_known(p, ds, GATREC_NODE_ITEM, &dropped));
    ck_assert_uint_eq(dropped, 3);
    ck_assert_uint_eq(gatrec_profiles_count(p, GATREC_NODE_ITEM), 2);
    ck_assert_str_eq(gatrec_profiles_get(p, GATREC_NODE_ITEM, 3), "item 3");
    ck_assert_str_eq(gatrec_profiles_get(p, GATREC_NODE_ITEM, 1), "item 1");
    ck_assert_ptr_null(gatrec_profiles_get(p, GATREC_NODE_ITEM, 9));
    ck_assert_uint_eq(gatrec_profiles_count(p, GATREC_NODE_USER), 2); /* the other kind untouched */
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_ITEM, 2, "item 2")); /* the store still grows */
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_ITEM, 3, "item 3 again"));
    ck_assert_uint_eq(gatrec_profiles_count(p, GATREC_NODE_ITEM), 3);
    ck_assert_str_eq(gatrec_profiles_get(p, GATREC_NODE_ITEM, 3), "item 3 again");
    ck_assert_ok(gatrec_profiles_keep_known(p, ds, GATREC_NODE_USER, NULL));
    ck_assert_uint_eq(gatrec_profiles_count(p, GATREC_NODE_USER), 1);
    ck_assert_status(gatrec_profiles_keep_known(p, ds, 4, NULL), GATREC_EINVAL);
    ck_assert_status(gatrec_profiles_keep_known(NULL, ds, GATREC_NODE_USER, NULL), GATREC_EINVAL);
    gatrec_profiles_free(p);
    gatrec_dataset_free(ds);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(callback_embedder_and_features)
{
    char *dir;
    gatrec_dataset *ds = tiny_movielens(&dir);
    gatrec_graph *g;
    gatrec_profiles *p;
    gatrec_embedder *e;
    float *F = NULL, *G = NULL;
    size_t dim, dim2;
    int calls = 0;
    char path[4200];
    ck_assert_ok(gatrec_graph_new(ds, NULL, NULL, &g));
    ck_assert_ok(gatrec_profiles_new(&p));
    ck_assert_ok(gatrec_embedder_new_callback(2, length_cb, &calls, &e));
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_USER, 1, "u"));
    ck_assert_status(gatrec_features_from_profiles(g, p, e, &F, &dim), GATREC_ENOTFOUND);
    ck_assert_error_mentions("user 2");
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_USER, 2, "uu"));
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_ITEM, 1, "iii"));
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_ITEM, 2, "iiii"));
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_ITEM, 3, "iiiii"));
    ck_assert_ok(gatrec_features_from_profiles(g, p, e, &F, &dim));
    ck_assert_uint_eq(dim, 2);
    ck_assert_int_eq(calls, 1);
    for (int v = 0; v < 5; v++) /* users then items, in the graph's order: lengths 1..5 */
        ck_assert_float_eq(F[v * 2], (float)(v + 1));
    snprintf(path, sizeof path, "%s/f.tsv", dir);
    ck_assert_ok(gatrec_features_save(g, F, dim, path));
    ck_assert_ok(gatrec_features_load(g, path, &G, &dim2));
    ck_assert_uint_eq(dim2, dim);
    ck_assert_mem_eq(F, G, 5 * dim * sizeof *F);
    gatrec_features_free(G);
    gatrec_features_free(F);
    F = NULL;
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_ITEM, 2, "fail"));
    ck_assert_status(gatrec_features_load(g, "/nonexistent/f.tsv", &G, &dim2), GATREC_ENOENT); /* unrelated */
    ck_assert_status(gatrec_features_from_profiles(g, p, e, &F, &dim), GATREC_EUSER);
    ck_assert_error_mentions("embedding callback failed"); /* not the unrelated message before it */
    ck_assert_ok(gatrec_profiles_set(p, GATREC_NODE_ITEM, 2, "nan"));
    ck_assert_status(gatrec_features_from_profiles(g, p, e, &F, &dim), GATREC_EFORMAT);
    ck_assert_ptr_null(F);
    gatrec_embedder_free(e);
    gatrec_profiles_free(p);
    gatrec_graph_free(g);
    gatrec_dataset_free(ds);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* The embedder travels with the model: a new user's profile embeds as the training ones did. */
START_TEST(embedder_saved_with_the_model)
{
    char *dir;
    gatrec_dataset *ds = tiny_movielens(&dir);
    gatrec_graph *g;
    gatrec_profiles *p;
    gatrec_embedder *e, *back;
    gatrec_model *m, *loaded;
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    gatrec_embedder_options eo = GATREC_EMBEDDER_OPTIONS_INIT;
    float *F, a[16], b[16];
    size_t dim;
    const char *text[] = {"a viewer who likes tense crime dramas"};
    char path[4200];
    int32_t idx, items[] = {0, 2};
    float stars[] = {5, 4};
    eo.dim = 16;
    ck_assert_ok(gatrec_graph_new(ds, NULL, NULL, &g));
    ck_assert_ok(gatrec_profiles_new(&p));
    ck_assert_ok(gatrec_profiles_fill_templates(p, ds, g, NULL));
    ck_assert_ok(gatrec_embedder_new_hashed(&eo, &e));
    ck_assert_ok(gatrec_features_from_profiles(g, p, e, &F, &dim));
    o.kind = GATREC_MODEL_GAT;
    o.layers = "4x1";
    o.epochs = 3;
    o.features = F;
    o.feature_dim = dim;
    ck_assert_ok(gatrec_model_train(g, &o, &m));
    ck_assert_status(gatrec_model_get_embedder(m, &back), GATREC_ENOTFOUND);
    ck_assert_ok(gatrec_model_set_embedder(m, e));
    snprintf(path, sizeof path, "%s/m.gatrec", dir);
    ck_assert_ok(gatrec_model_save(m, path));
    ck_assert_ok(gatrec_model_load(path, &loaded));
    ck_assert_ok(gatrec_model_get_embedder(loaded, &back));
    ck_assert_ok(gatrec_embedder_embed(e, text, 1, a));
    ck_assert_ok(gatrec_embedder_embed(back, text, 1, b));
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_ok(gatrec_model_add_user(loaded, 99, items, stars, 2, b, &idx));
    ck_assert_int_eq(idx, 2);
    /* widths are checked: the model reads dim features; an embedder of another width is refused */
    ck_assert_uint_eq(gatrec_model_feature_dim(loaded), dim);
    ck_assert_status(gatrec_model_add_user_checked(loaded, 98, items, stars, 2, b, 1, &idx), GATREC_EINVAL);
    ck_assert_error_mentions("1 features given, the model reads");
    ck_assert_ok(gatrec_model_add_user_checked(loaded, 98, items, stars, 2, b, dim, &idx));
    ck_assert_ok(gatrec_model_add_item_checked(loaded, 97, NULL, 0, &idx));
    {
        gatrec_embedder_options small = GATREC_EMBEDDER_OPTIONS_INIT;
        gatrec_embedder *e64;
        small.dim = 64;
        ck_assert_ok(gatrec_embedder_new_hashed(&small, &e64));
        ck_assert_status(gatrec_model_set_embedder(loaded, e64), GATREC_EINVAL);
        ck_assert_error_mentions("64-d vectors");
        gatrec_embedder_free(e64);
    }
    {
        /* a GAT on its own random features takes none: no embedder, no features at fold-in */
        gatrec_model_options r = o;
        gatrec_model *rm;
        r.features = NULL;
        r.feature_dim = 0;
        ck_assert_ok(gatrec_model_train(g, &r, &rm));
        ck_assert_uint_eq(gatrec_model_feature_dim(rm), 0);
        ck_assert_status(gatrec_model_set_embedder(rm, e), GATREC_EINVAL);
        ck_assert_error_mentions("without input features");
        ck_assert_status(gatrec_model_add_user(rm, 96, items, stars, 2, b, &idx), GATREC_EINVAL);
        ck_assert_ok(gatrec_model_add_user(rm, 96, items, stars, 2, NULL, &idx));
        gatrec_model_free(rm);
    }
    gatrec_embedder_free(back);
    gatrec_model_free(loaded);
    gatrec_model_free(m);
    gatrec_features_free(F);
    gatrec_embedder_free(e);
    gatrec_profiles_free(p);
    gatrec_graph_free(g);
    gatrec_dataset_free(ds);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *embed_suite(void)
{
    Suite *s = suite_create("embed");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, profiles_keep_known);
    tcase_add_test(tc, profiles_store_and_files);
    tcase_add_test(tc, templates_from_the_data);
    tcase_add_test(tc, hashed_embedder);
    tcase_add_test(tc, callback_embedder_and_features);
    tcase_add_test(tc, embedder_saved_with_the_model);
    suite_add_tcase(s, tc);
    return s;
}
