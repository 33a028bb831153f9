/* Splits: official files, per-user random, leave-last-out, global temporal, specs, writing. */
#include "check_util.h"

/* 3 users with 10, 5 and 1 ratings; timestamps decrease with the item so "last" is item 0. */
static gatrec_dataset *make_dataset(void)
{
    int64_t u[16], i[16], t[16];
    float r[16];
    size_t n = 0;
    gatrec_dataset *ds;
    for (int k = 0; k < 10; k++, n++)
        u[n] = 1, i[n] = k, t[n] = 100 - k, r[n] = 1 + k % 5;
    for (int k = 0; k < 5; k++, n++)
        u[n] = 2, i[n] = k, t[n] = 50 + k, r[n] = 4;
    u[n] = 3, i[n] = 0, t[n] = 1, r[n] = 5, n++;
    ck_assert_ok(gatrec_dataset_from_arrays(n, u, i, r, t, &ds));
    return ds;
}

static size_t user_count(const gatrec_split *s, const gatrec_dataset *ds, int64_t uid, int part)
{
    size_t c = 0;
    for (size_t k = 0; k < gatrec_dataset_num_ratings(ds); k++) {
        int32_t u;
        gatrec_dataset_rating(ds, k, &u, NULL, NULL, NULL);
        c += gatrec_dataset_user_id(ds, u) == uid && gatrec_split_part(s, k) == part;
    }
    return c;
}

START_TEST(test_random_split)
{
    gatrec_dataset *ds = make_dataset();
    gatrec_split *a, *b, *c;
    int differs = 0;
    ck_assert_ok(gatrec_split_random(ds, 0.2, 0.1, 7, &a));
    ck_assert_ok(gatrec_split_random(ds, 0.2, 0.1, 7, &b));
    ck_assert_ok(gatrec_split_random(ds, 0.2, 0.1, 8, &c));
    ck_assert_uint_eq(user_count(a, ds, 1, GATREC_PART_TEST), 2);  /* round(10 * 0.2) */
    ck_assert_uint_eq(user_count(a, ds, 1, GATREC_PART_VALID), 1); /* round(10 * 0.1) */
    ck_assert_uint_eq(user_count(a, ds, 2, GATREC_PART_TEST), 1);
    ck_assert_uint_eq(user_count(a, ds, 3, GATREC_PART_TRAIN), 1); /* a lone rating stays in train */
    for (size_t k = 0; k < gatrec_dataset_num_ratings(ds); k++) {
        ck_assert_int_eq(gatrec_split_part(a, k), gatrec_split_part(b, k));
        differs |= gatrec_split_part(a, k) != gatrec_split_part(c, k);
    }
    ck_assert_msg(differs, "another seed gave the same split");
    ck_assert_uint_eq(gatrec_split_count(a, GATREC_PART_TRAIN) + gatrec_split_count(a, GATREC_PART_VALID) +
                          gatrec_split_count(a, GATREC_PART_TEST),
                      16);
    ck_assert_status(gatrec_split_random(ds, 0.7, 0.3, 1, &c), GATREC_EINVAL);
    ck_assert_status(gatrec_split_random(ds, -0.1, 0, 1, &c), GATREC_EINVAL);
    gatrec_split_free(a);
    gatrec_split_free(b);
    gatrec_split_free(c);
    gatrec_dataset_free(ds);
}
END_TEST

START_TEST(test_valid_suffix)
{
    gatrec_dataset *ds = make_dataset();
    gatrec_split *base, *s;
    gatrec_graph *g;
    gatrec_graph_options go = GATREC_GRAPH_OPTIONS_INIT;
    ck_assert_ok(gatrec_split_parse(ds, "leave-last", 1, &base));
    ck_assert_ok(gatrec_split_parse(ds, "leave-last+valid:0.25", 1, &s));
    /* the test part is the base split's; round(9 * 0.25) = 2 and round(4 * 0.25) = 1 of the
       remaining training ratings move to validation; the lone rating stays in train */
    for (size_t k = 0; k < gatrec_dataset_num_ratings(ds); k++) {
        int a = gatrec_split_part(base, k), b = gatrec_split_part(s, k);
        ck_assert(a == b || (a == GATREC_PART_TRAIN && b == GATREC_PART_VALID));
    }
    ck_assert_uint_eq(user_count(s, ds, 1, GATREC_PART_VALID), 2);
    ck_assert_uint_eq(user_count(s, ds, 2, GATREC_PART_VALID), 1);
    ck_assert_uint_eq(user_count(s, ds, 3, GATREC_PART_TRAIN), 1);
    /* the graph of the validation part */
    go.part = GATREC_PART_VALID;
    ck_assert_ok(gatrec_graph_new(ds, s, &go, &g));
    ck_assert_uint_eq(gatrec_graph_num_edges(g), 3);
    ck_assert_uint_eq(gatrec_graph_num_users(g), 3);
    gatrec_graph_free(g);
    go.part = 7;
    ck_assert_status(gatrec_graph_new(ds, s, &go, &g), GATREC_EINVAL);
    gatrec_split_free(s);
    ck_assert_status(gatrec_split_parse(ds, "random:0.2:0.1+valid:0.1", 1, &s), GATREC_EINVAL);
    ck_assert_error_mentions("already has a validation part");
    ck_assert_status(gatrec_split_parse(ds, "leave-last+valid:1.5", 1, &s), GATREC_EINVAL);
    ck_assert_status(gatrec_split_parse(ds, "leave-last+valid:", 1, &s), GATREC_EINVAL);
    gatrec_split_free(base);
    gatrec_dataset_free(ds);
}
END_TEST

START_TEST(test_leave_last_and_temporal)
{
    gatrec_dataset *ds = make_dataset();
    gatrec_split *s;
    ck_assert_ok(gatrec_split_leave_last(ds, 1, &s));
    ck_assert_int_eq(gatrec_split_part(s, 0), GATREC_PART_TEST);   /* user 1 item 0, t = 100 */
    ck_assert_int_eq(gatrec_split_part(s, 1), GATREC_PART_VALID);  /* t = 99 */
    ck_assert_int_eq(gatrec_split_part(s, 14), GATREC_PART_TEST);  /* user 2's item 4, t = 54 */
    ck_assert_int_eq(gatrec_split_part(s, 15), GATREC_PART_TRAIN); /* user 3 has one rating */
    ck_assert_uint_eq(gatrec_split_count(s, GATREC_PART_TEST), 2);
    gatrec_split_free(s);
    ck_assert_ok(gatrec_split_parse(ds, "temporal:0.25", 1, &s));
    ck_assert_uint_eq(gatrec_split_count(s, GATREC_PART_TEST), 4); /* t = 100, 99, 98, 97 */
    for (size_t k = 0; k < 4; k++)
        ck_assert_int_eq(gatrec_split_part(s, k), GATREC_PART_TEST);
    gatrec_split_free(s);
    ck_assert_status(gatrec_split_parse(ds, "random:abc", 1, &s), GATREC_EINVAL);
    ck_assert_status(gatrec_split_parse(ds, "u1", 1, &s), GATREC_EUNSUPPORTED); /* not from a directory */
    ck_assert_status(gatrec_split_parse(ds, "../u1", 1, &s), GATREC_EUNSUPPORTED);
    gatrec_dataset_free(ds);
}
END_TEST

START_TEST(test_official_split_and_write)
{
    char *dir = make_temp_dir(), *out;
    gatrec_dataset *ds;
    gatrec_split *s;
    free(write_file(dir, "u.genre", "unknown|0\n", 0));
    free(write_file(dir, "u.item", "1|A (1990)|||x|0\n2|B (1991)|||x|0\n", 0));
    free(write_file(dir, "u.user", "1|20|M|other|1\n2|30|F|other|2\n", 0));
    free(write_file(dir, "u.data", "1\t1\t5\t10\n1\t2\t3\t11\n2\t1\t4\t12\n", 0));
    free(write_file(dir, "u1.base", "1\t1\t5\t10\n2\t1\t4\t12\n", 0));
    free(write_file(dir, "u1.test", "1\t2\t3\t11\n", 0));
    free(write_file(dir, "u2.base", "1\t1\t5\t10\n", 0));
    free(write_file(dir, "u2.test", "2\t2\t3\t11\n", 0)); /* a rating the dataset lacks */
    free(write_file(dir, "u3.base", "1\t1\t5\t10\n1\t1\t5\t10\n", 0));
    free(write_file(dir, "u3.test", "1\t2\t3\t11\n", 0));
    ck_assert_ok(gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_100K, &ds));
    ck_assert_ok(gatrec_split_official(ds, "u1", &s));
    ck_assert_uint_eq(gatrec_split_count(s, GATREC_PART_TRAIN), 2);
    ck_assert_uint_eq(gatrec_split_count(s, GATREC_PART_TEST), 1);
    ck_assert_int_eq(gatrec_split_part(s, 1), GATREC_PART_TEST);
    out = malloc(strlen(dir) + 16);
    sprintf(out, "%s/test.tsv", dir);
    ck_assert_ok(gatrec_split_write(s, GATREC_PART_TEST, out));
    {
        char *text = slurp(out);
        ck_assert_str_eq(text, "1\t2\t3\t11\n");
        free(text);
    }
    gatrec_split_free(s);
    ck_assert_status(gatrec_split_official(ds, "u2", &s), GATREC_ENOTFOUND);
    ck_assert_error_mentions("u2.test:1");
    ck_assert_status(gatrec_split_official(ds, "u3", &s), GATREC_EDUPLICATE);
    ck_assert_status(gatrec_split_official(ds, "u4", &s), GATREC_ENOENT);
    ck_assert_status(gatrec_split_official(ds, "../etc", &s), GATREC_EINVAL);
    gatrec_dataset_free(ds);
    free(out);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *split_suite(void)
{
    Suite *s = suite_create("split");
    TCase *t = tcase_create("split");
    tcase_add_test(t, test_random_split);
    tcase_add_test(t, test_leave_last_and_temporal);
    tcase_add_test(t, test_valid_suffix);
    tcase_add_test(t, test_official_split_and_write);
    suite_add_tcase(s, t);
    return s;
}
