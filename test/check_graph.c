/* The bipartite graph: CSR both ways, sorted neighbours, thresholds, statistics, bad edges. */
#include "check_util.h"

START_TEST(test_graph_from_edges)
{
    int32_t u[] = {1, 0, 1, 0, 2}, i[] = {2, 1, 0, 0, 1};
    float r[] = {5, 4, 2, 1, 3};
    gatrec_graph *g;
    const int32_t *nb;
    const float *rt;
    size_t n;
    gatrec_graph_stats st = {.version = GATREC_GRAPH_STATS_VERSION};
    ck_assert_ok(gatrec_graph_from_edges(4, 3, 5, u, i, r, NULL, &g));
    ck_assert_uint_eq(gatrec_graph_num_edges(g), 5);
    ck_assert_ok(gatrec_graph_user_items(g, 1, &nb, &rt, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(nb[0], 0);
    ck_assert_float_eq(rt[0], 2);
    ck_assert_int_eq(nb[1], 2);
    ck_assert_float_eq(rt[1], 5);
    ck_assert_ok(gatrec_graph_item_users(g, 0, &nb, &rt, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(nb[0], 0);
    ck_assert_float_eq(rt[0], 1);
    ck_assert_ok(gatrec_graph_user_items(g, 3, &nb, &rt, &n));
    ck_assert_uint_eq(n, 0);
    ck_assert_status(gatrec_graph_user_items(g, 4, &nb, &rt, &n), GATREC_EINVAL);
    ck_assert_ok(gatrec_graph_stats_get(g, &st));
    ck_assert_uint_eq(st.liked_edges, 2);
    ck_assert_uint_eq(st.disliked_edges, 2);
    ck_assert_uint_eq(st.isolated_users, 1);
    ck_assert_uint_eq(st.user_degree_max, 2);
    ck_assert_uint_eq(st.item_degree_min, 1);
    ck_assert_double_eq_tol(st.density, 5.0 / 12.0, 1e-12);
    gatrec_graph_free(g);
}
END_TEST

START_TEST(test_graph_bad_edges)
{
    int32_t u[] = {0, 0}, i[] = {1, 1};
    gatrec_graph *g = NULL;
    gatrec_graph_options o = GATREC_GRAPH_OPTIONS_INIT;
    ck_assert_status(gatrec_graph_from_edges(1, 2, 2, u, i, NULL, NULL, &g), GATREC_EDUPLICATE);
    ck_assert_error_mentions("edge #");
    ck_assert_status(gatrec_graph_from_edges(1, 1, 2, u, i, NULL, NULL, &g), GATREC_EINVAL);
    o.liked_threshold = 1;
    o.disliked_threshold = 2;
    ck_assert_status(gatrec_graph_from_edges(1, 2, 1, u, i, NULL, &o, &g), GATREC_EINVAL);
    ck_assert_ptr_null(g);
}
END_TEST

START_TEST(test_graph_from_split)
{
    int64_t us[] = {1, 1, 2}, is[] = {7, 8, 7};
    uint8_t parts[] = {GATREC_PART_TRAIN, GATREC_PART_TEST, GATREC_PART_TRAIN};
    gatrec_dataset *ds;
    gatrec_split *s;
    gatrec_graph *g;
    ck_assert_ok(gatrec_dataset_from_arrays(3, us, is, NULL, NULL, &ds));
    ck_assert_ok(gatrec_split_from_parts(ds, parts, &s));
    ck_assert_ok(gatrec_graph_new(ds, s, NULL, &g));
    ck_assert_uint_eq(gatrec_graph_num_edges(g), 2);
    ck_assert_uint_eq(gatrec_graph_num_items(g), 2); /* every dataset item is a node */
    gatrec_graph_free(g);
    parts[0] = 9;
    gatrec_split_free(s);
    ck_assert_status(gatrec_split_from_parts(ds, parts, &s), GATREC_EINVAL);
    gatrec_dataset_free(ds);
}
END_TEST

Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *t = tcase_create("graph");
    tcase_add_test(t, test_graph_from_edges);
    tcase_add_test(t, test_graph_bad_edges);
    tcase_add_test(t, test_graph_from_split);
    suite_add_tcase(s, t);
    return s;
}
