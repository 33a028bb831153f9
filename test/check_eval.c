/* Both evaluation protocols on a hand-worked example.
 *
 * Ratings (user, item, rating, part):          item indices: 10->0 11->1 12->2 13->3 14->4 15->5
 *   user 1: 10 5 train, 11 3 train, 12 5 test, 13 4 test, 14 2 test
 *   user 2: 12 4 train, 10 1 test, 15 5 test
 *   user 3: 10 4 train, 11 2 test                (a test set without a relevant item)
 * Lists:  user 1: 15 12 14 13   user 2: 11 15 13   user 3: 11          K = 3, relevant: >= 4
 *
 * Standard protocol (users with a relevant test item: 1 and 2; denominators K):
 *   user 1: top-3 15 12 14, hit 12 at 2: P 1/3, R 1/2, DCG 1/log2(3) = 0.630930,
 *           IDCG(min(2,3)) = 1 + 0.630930, NDCG 0.386853, AP (1/2)/min(2,3) = 0.25, RR 1/2
 *   user 2: top-3 11 15 13, hit 15 at 2: P 1/3, R 1, NDCG 0.630930, AP 0.5, RR 1/2
 *   means: P 0.333333, R 0.75, NDCG 0.508891, MAP 0.375, HR 1, MRR 0.5
 *   coverage: {15 12 14 11 13} = 5 of 6 items; novelty: train counts 10:2 11:1 12:1, others 0
 *   (counted as 1), 3 users: -log2(1/3) = 1.584963 for each listed item -> 1.584963
 *
 * Paper protocol (users in test and in the lists: 1, 2, 3; the top-3 filtered to test items):
 *   user 1: filtered 12 14, hit 12 at 1: P 1/2, R 1/2, NDCG 1 / 1.630930 = 0.613147,
 *           AP (1/1)/|rel| = 0.5, RR 1
 *   user 2: filtered 15: P 1, R 1, NDCG 1, AP 1, RR 1
 *   user 3: filtered 11, no relevant item: P 0; left out of R, NDCG, MAP, HR; no hit: out of MRR
 *   means: P (0.5 + 1 + 0) / 3 = 0.5, R 0.75, NDCG 0.806574, MAP 0.75, MRR 1, HR 1
 *   coverage: filtered {12 14 15 11} over the 6 test items = 0.666667
 *   novelty: each test item once in 6 test ratings: -log2(1/6) = 2.584963
 */
#include "check_util.h"

static gatrec_dataset *ds;
static gatrec_split *split;
static gatrec_reclist *list;

static void setup(void)
{
    int64_t u[] = {1, 1, 1, 1, 1, 2, 2, 2, 3, 3}, i[] = {10, 11, 12, 13, 14, 12, 10, 15, 10, 11};
    float r[] = {5, 3, 5, 4, 2, 4, 1, 5, 4, 2};
    uint8_t p[] = {0, 0, 2, 2, 2, 0, 2, 2, 0, 2};
    int32_t l1[] = {5, 2, 4, 3}, l2[] = {1, 5, 3}, l3[] = {1};
    ck_assert_ok(gatrec_dataset_from_arrays(10, u, i, r, NULL, &ds));
    ck_assert_ok(gatrec_split_from_parts(ds, p, &split));
    ck_assert_ok(gatrec_reclist_new(3, &list));
    ck_assert_ok(gatrec_reclist_set(list, 0, l1, 4));
    ck_assert_ok(gatrec_reclist_set(list, 1, l2, 3));
    ck_assert_ok(gatrec_reclist_set(list, 2, l3, 1));
}

static void teardown(void)
{
    gatrec_reclist_free(list);
    gatrec_split_free(split);
    gatrec_dataset_free(ds);
}

#define TOL 1e-6

START_TEST(test_standard_protocol)
{
    gatrec_eval_options o = GATREC_EVAL_OPTIONS_INIT;
    gatrec_metrics m = {.version = GATREC_METRICS_VERSION};
    o.k = 3;
    ck_assert_ok(gatrec_evaluate(ds, split, list, &o, &m));
    ck_assert_uint_eq(m.users, 2);
    ck_assert_double_eq_tol(m.precision, 1.0 / 3.0, TOL);
    ck_assert_double_eq_tol(m.recall, 0.75, TOL);
    ck_assert_double_eq_tol(m.ndcg, 0.508891, TOL);
    ck_assert_double_eq_tol(m.map, 0.375, TOL);
    ck_assert_double_eq_tol(m.hit_rate, 1.0, TOL);
    ck_assert_double_eq_tol(m.mrr, 0.5, TOL);
    ck_assert_double_eq_tol(m.coverage, 5.0 / 6.0, TOL);
    ck_assert_double_eq_tol(m.novelty, 1.584963, TOL);
}
END_TEST

START_TEST(test_paper_protocol)
{
    gatrec_eval_options o = GATREC_EVAL_OPTIONS_INIT;
    gatrec_metrics m = {.version = GATREC_METRICS_VERSION};
    o.k = 3;
    o.protocol = GATREC_PROTOCOL_PAPER;
    ck_assert_ok(gatrec_evaluate(ds, split, list, &o, &m));
    ck_assert_uint_eq(m.users, 3);
    ck_assert_double_eq_tol(m.precision, 0.5, TOL);
    ck_assert_double_eq_tol(m.recall, 0.75, TOL);
    ck_assert_double_eq_tol(m.ndcg, 0.806574, TOL);
    ck_assert_double_eq_tol(m.map, 0.75, TOL);
    ck_assert_double_eq_tol(m.mrr, 1.0, TOL);
    ck_assert_double_eq_tol(m.hit_rate, 1.0, TOL);
    ck_assert_double_eq_tol(m.coverage, 4.0 / 6.0, TOL);
    ck_assert_double_eq_tol(m.novelty, 2.584963, TOL);
}
END_TEST

/* Training ratings: user 1 has 2, users 2 and 3 one each. */
START_TEST(test_training_size_slice)
{
    gatrec_eval_options o = GATREC_EVAL_OPTIONS_INIT;
    gatrec_metrics m = {.version = GATREC_METRICS_VERSION};
    o.k = 3;
    o.max_train_ratings = 1; /* standard: user 2 alone (user 3 has no relevant item) */
    ck_assert_ok(gatrec_evaluate(ds, split, list, &o, &m));
    ck_assert_uint_eq(m.users, 1);
    ck_assert_double_eq_tol(m.precision, 1.0 / 3.0, TOL);
    ck_assert_double_eq_tol(m.recall, 1.0, TOL);
    ck_assert_double_eq_tol(m.ndcg, 0.630930, TOL);
    o.protocol = GATREC_PROTOCOL_PAPER; /* paper: users 2 and 3 */
    ck_assert_ok(gatrec_evaluate(ds, split, list, &o, &m));
    ck_assert_uint_eq(m.users, 2);
    ck_assert_double_eq_tol(m.precision, 0.5, TOL);
    ck_assert_double_eq_tol(m.recall, 1.0, TOL);
    ck_assert_double_eq_tol(m.ndcg, 1.0, TOL);
    o.protocol = GATREC_PROTOCOL_STANDARD;
    o.max_train_ratings = 0; /* no upper bound */
    o.min_train_ratings = 2; /* user 1 alone */
    ck_assert_ok(gatrec_evaluate(ds, split, list, &o, &m));
    ck_assert_uint_eq(m.users, 1);
    ck_assert_double_eq_tol(m.recall, 0.5, TOL);
    ck_assert_double_eq_tol(m.ndcg, 0.386853, TOL);
    o.min_train_ratings = 3; /* nobody: zero users, zero means */
    ck_assert_ok(gatrec_evaluate(ds, split, list, &o, &m));
    ck_assert_uint_eq(m.users, 0);
    ck_assert_double_eq_tol(m.ndcg, 0.0, TOL);
    o.max_train_ratings = 2; /* min above max */
    ck_assert_status(gatrec_evaluate(ds, split, list, &o, &m), GATREC_EINVAL);
    /* a version-1 caller: the fields after `part` are not read */
    o.version = 1;
    o.min_train_ratings = 99;
    o.max_train_ratings = 1;
    ck_assert_ok(gatrec_evaluate(ds, split, list, &o, &m));
    ck_assert_uint_eq(m.users, 2);
    ck_assert_double_eq_tol(m.ndcg, 0.508891, TOL);
}
END_TEST

START_TEST(test_eval_bad_arguments)
{
    gatrec_eval_options o = GATREC_EVAL_OPTIONS_INIT;
    gatrec_metrics m = {.version = GATREC_METRICS_VERSION};
    int32_t bad[] = {42};
    o.k = 0;
    ck_assert_status(gatrec_evaluate(ds, split, list, &o, &m), GATREC_EINVAL);
    o.k = 3;
    o.protocol = 7;
    ck_assert_status(gatrec_evaluate(ds, split, list, &o, &m), GATREC_EINVAL);
    o.protocol = GATREC_PROTOCOL_STANDARD;
    o.part = GATREC_PART_VALID;
    ck_assert_status(gatrec_evaluate(ds, split, list, &o, &m), GATREC_EEMPTY);
    o.part = GATREC_PART_TEST;
    m.version = 0;
    ck_assert_status(gatrec_evaluate(ds, split, list, &o, &m), GATREC_EINVAL);
    m.version = GATREC_METRICS_VERSION;
    ck_assert_ok(gatrec_reclist_set(list, 2, bad, 1));
    ck_assert_status(gatrec_evaluate(ds, split, list, &o, &m), GATREC_EINVAL);
}
END_TEST

START_TEST(test_reclist_csv)
{
    char *dir = make_temp_dir(), *path, *saved;
    gatrec_reclist *l;
    const int32_t *items;
    size_t n;
    gatrec_eval_options o = GATREC_EVAL_OPTIONS_INIT;
    gatrec_metrics a = {.version = GATREC_METRICS_VERSION}, b = {.version = GATREC_METRICS_VERSION};
    /* the same lists as setup(), rows shuffled, an extra column, ranks out of order */
    path = write_file(dir, "recs.csv",
                      "user_id,item_id,rank,score\n2,15,2,0.9\n1,12,2,0.8\n1,15,1,0.9\n3,11,1,1\n1,13,4,0\n"
                      "2,11,1,1\n1,14,3,0.1\n2,13,3,0\n",
                      0);
    ck_assert_ok(gatrec_reclist_load_csv(ds, path, &l));
    ck_assert_ok(gatrec_reclist_get(l, 0, &items, &n));
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(items[0], 5);
    ck_assert_int_eq(items[3], 3);
    o.k = 3;
    o.protocol = GATREC_PROTOCOL_PAPER;
    ck_assert_ok(gatrec_evaluate(ds, split, l, &o, &a));
    ck_assert_ok(gatrec_evaluate(ds, split, list, &o, &b));
    ck_assert_double_eq(a.ndcg, b.ndcg);
    ck_assert_double_eq(a.precision, b.precision);
    saved = malloc(strlen(dir) + 16);
    sprintf(saved, "%s/out.csv", dir);
    ck_assert_ok(gatrec_reclist_save_csv(list, NULL, ds, saved));
    {
        char *text = slurp(saved);
        ck_assert_str_eq(text, "user_id,item_id,rank\n1,15,1\n1,12,2\n1,14,3\n1,13,4\n2,11,1\n2,15,2\n2,13,3\n3,11,1\n");
        free(text);
    }
    gatrec_reclist_free(l);
    free(path);
    path = write_file(dir, "bad.csv", "user_id,item_id,rank\n1,15,1\n9,15,1\n", 0);
    ck_assert_status(gatrec_reclist_load_csv(ds, path, &l), GATREC_ENOTFOUND);
    ck_assert_error_mentions("bad.csv:3");
    free(path);
    path = write_file(dir, "dup.csv", "user_id,item_id,rank\n1,15,1\n1,12,1\n", 0);
    ck_assert_status(gatrec_reclist_load_csv(ds, path, &l), GATREC_EDUPLICATE);
    free(path);
    /* a header that does not match says what it holds and what is off (issue 24, item 22) */
    static const struct {
        const char *header, *says;
    } headers[] = {
        {"user_id;item_id;rank", "the header is one field, separated by ';' - this reader takes commas"},
        {"user_id\titem_id\trank", "separated by a tab"},
        {"User_ID,item_id,rank", "column 1 is 'User_ID' (names are case-sensitive)"},
        {"user_id, item_id, rank", "column 2 is ' item_id' (no blanks around the names"},
        {"uid,iid,position", "the header's columns: 'uid', 'iid', 'position'; expected the header user_id,item_id,rank"},
    };
    for (size_t k = 0; k < sizeof headers / sizeof headers[0]; k++) {
        char text[200];
        snprintf(text, sizeof text, "%s\n1,15,1\n", headers[k].header);
        path = write_file(dir, "header.csv", text, 0);
        ck_assert_status(gatrec_reclist_load_csv(ds, path, &l), GATREC_ENOTFOUND);
        ck_assert_error_mentions(headers[k].says);
        free(path);
    }
    /* the same item twice: told in the file's ids and lines, not internal indices (issue 14, point 9) */
    path = write_file(dir, "dup2.csv", "user_id,item_id,rank\n1,15,1\n1,12,2\n1,15,3\n", 0);
    ck_assert_status(gatrec_reclist_load_csv(ds, path, &l), GATREC_EDUPLICATE);
    ck_assert_error_mentions("dup2.csv:4: user 1 lists item 15 twice (also line 2)");
    free(path);
    path = write_file(dir, "hdr.csv", "user,item,rank\n1,15,1\n", 0);
    ck_assert_status(gatrec_reclist_load_csv(ds, path, &l), GATREC_ENOTFOUND);
    ck_assert_error_mentions("user_id");
    free(path);
    free(saved);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *eval_suite(void)
{
    Suite *s = suite_create("eval");
    TCase *t = tcase_create("protocols");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_standard_protocol);
    tcase_add_test(t, test_paper_protocol);
    tcase_add_test(t, test_training_size_slice);
    tcase_add_test(t, test_eval_bad_arguments);
    tcase_add_test(t, test_reclist_csv);
    suite_add_tcase(s, t);
    return s;
}
