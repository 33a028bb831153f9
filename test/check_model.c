/* The model interface through the popularity model: train, serve, save, load, refuse bad files. */
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/common/common.h"
#include "../lib/model/model.h"
#include "check_util.h"

/* Items 100..104; popularity 104:4 > 103:3 > 102:2 = 101:2 > 100:0 (never rated) */
static gatrec_model *train_small(void)
{
    int64_t u[] = {1, 2, 3, 4, 1, 2, 3, 1, 2, 3, 4, 5}, i[] = {104, 104, 104, 104, 103, 103, 103, 102, 102, 101, 101, 100};
    float r[] = {5, 4, 2, 5, 4, 4, 4, 1, 2, 3, 3, 5};
    uint8_t p[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    gatrec_dataset *ds;
    gatrec_split *s;
    gatrec_graph *g;
    gatrec_model *m;
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    ck_assert_ok(gatrec_dataset_from_arrays(12, u, i, r, NULL, &ds));
    ck_assert_ok(gatrec_split_from_parts(ds, p, &s));
    ck_assert_ok(gatrec_graph_new(ds, s, NULL, &g));
    o.threads = 2;
    ck_assert_ok(gatrec_model_train(g, &o, &m));
    gatrec_graph_free(g);
    gatrec_split_free(s);
    gatrec_dataset_free(ds);
    return m;
}

START_TEST(test_pop_recommend)
{
    gatrec_model *m = train_small();
    int32_t u1, u5, items[5];
    float scores[5];
    size_t n, ratings, liked;
    ck_assert_int_eq(gatrec_model_get_kind(m), GATREC_MODEL_POP);
    ck_assert_str_eq(gatrec_model_kind_name(GATREC_MODEL_POP), "pop");
    ck_assert_int_eq(gatrec_model_kind_from_name("pop"), GATREC_MODEL_POP);
    ck_assert_status(gatrec_model_kind_from_name("nope"), GATREC_ENOTFOUND);
    ck_assert_ok(gatrec_model_user_index(m, 5, &u5));
    ck_assert_ok(gatrec_model_recommend(m, u5, 5, items, scores, &n));
    ck_assert_uint_eq(n, 5); /* user 5's only rating is in test: nothing is masked */
    ck_assert_int_eq(gatrec_model_item_id(m, items[0]), 104);
    ck_assert_float_eq(scores[0], 4);
    ck_assert_int_eq(gatrec_model_item_id(m, items[2]), 102); /* tie 102/101: lower index (102 came first) */
    ck_assert_int_eq(gatrec_model_item_id(m, items[3]), 101);
    ck_assert_ok(gatrec_model_user_index(m, 1, &u1));
    ck_assert_ok(gatrec_model_recommend(m, u1, 5, items, scores, &n));
    ck_assert_uint_eq(n, 2); /* user 1 rated 104, 103, 102 in training */
    ck_assert_int_eq(gatrec_model_item_id(m, items[0]), 101);
    ck_assert_int_eq(gatrec_model_item_id(m, items[1]), 100);
    ck_assert_ok(gatrec_model_recommend(m, u1, 1, items, NULL, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_ok(gatrec_model_item_popularity(m, items[0], &ratings, &liked));
    ck_assert_uint_eq(ratings, 2);
    ck_assert_uint_eq(liked, 0);
    ck_assert_status(gatrec_model_recommend(m, 99, 1, items, NULL, &n), GATREC_EINVAL);
    ck_assert_status(gatrec_model_user_index(m, 99, &u1), GATREC_ENOTFOUND);
    gatrec_model_free(m);
}
END_TEST

START_TEST(test_recommend_all_matches_single)
{
    gatrec_model *m = train_small();
    gatrec_reclist *l;
    ck_assert_ok(gatrec_model_recommend_all(m, 3, &l));
    ck_assert_uint_eq(gatrec_reclist_num_users(l), gatrec_model_num_users(m));
    for (int32_t u = 0; u < (int32_t)gatrec_model_num_users(m); u++) {
        int32_t items[3];
        const int32_t *li;
        size_t n, ln;
        ck_assert_ok(gatrec_model_recommend(m, u, 3, items, NULL, &n));
        ck_assert_ok(gatrec_reclist_get(l, u, &li, &ln));
        ck_assert_uint_eq(n, ln);
        for (size_t j = 0; j < n; j++)
            ck_assert_int_eq(items[j], li[j]);
    }
    gatrec_reclist_free(l);
    gatrec_model_free(m);
}
END_TEST

static char *save_small(const char *dir, gatrec_model *m)
{
    char *path = malloc(strlen(dir) + 16);
    sprintf(path, "%s/m.gatrec", dir);
    ck_assert_ok(gatrec_model_set_info(m, "dataset", "tiny"));
    ck_assert_ok(gatrec_model_set_info(m, "split", "parts"));
    ck_assert_ok(gatrec_model_set_info(m, "split", "parts2"));
    ck_assert_ok(gatrec_model_save(m, path));
    return path;
}

START_TEST(test_save_load_round_trip)
{
    char *dir = make_temp_dir(), *path;
    gatrec_model *m = train_small(), *back;
    int32_t all[5] = {0, 1, 2, 3, 4};
    float a[5], b[5];
    path = save_small(dir, m);
    {
        struct stat st;
        mode_t mask = umask(022); /* the test's own process: reading the umask is safe here */
        umask(mask);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0666 & ~mask); /* as any other file the host writes */
    }
    ck_assert_ok(gatrec_model_load(path, &back));
    ck_assert_str_eq(gatrec_model_info(back, "split"), "parts2");
    ck_assert_ptr_null(gatrec_model_info(back, "missing"));
    ck_assert_uint_eq(gatrec_model_num_items(back), 5);
    for (int32_t u = 0; u < 5; u++) {
        ck_assert_ok(gatrec_model_score(m, u, all, 5, a));
        ck_assert_ok(gatrec_model_score(back, u, all, 5, b));
        ck_assert_mem_eq(a, b, sizeof a);
        ck_assert_int_eq(gatrec_model_user_id(m, u), gatrec_model_user_id(back, u));
    }
    {
        int32_t x[5], y[5];
        size_t nx, ny;
        ck_assert_ok(gatrec_model_recommend(m, 0, 5, x, NULL, &nx));
        ck_assert_ok(gatrec_model_recommend(back, 0, 5, y, NULL, &ny));
        ck_assert_uint_eq(nx, ny);
        ck_assert_mem_eq(x, y, nx * sizeof *x);
    }
    ck_assert_ok(gatrec_model_set_info(back, "split", NULL));
    ck_assert_ptr_null(gatrec_model_info(back, "split"));
    gatrec_model_free(back);
    gatrec_model_free(m);
    free(path);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Save the small model in dir and return the file's bytes (and its path in *path). */
static char *saved_bytes(const char *dir, gatrec_model *m, char **path, size_t *len)
{
    FILE *f;
    char *buf = malloc(1 << 16);
    *path = save_small(dir, m);
    f = fopen(*path, "rb");
    ck_assert_ptr_nonnull(f);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    ck_assert_uint_lt(*len, 1 << 16);
    return buf;
}

START_TEST(test_refuse_bad_files)
{
    char *dir = make_temp_dir(), *path, *bytes, *bad;
    gatrec_model *m = train_small(), *back = NULL;
    size_t len;
    bytes = saved_bytes(dir, m, &path, &len);
    bad = write_file(dir, "truncated", bytes, len - 10);
    ck_assert_status(gatrec_model_load(bad, &back), GATREC_ETRUNCATED);
    free(bad);
    bad = write_file(dir, "tiny", bytes, 12);
    ck_assert_status(gatrec_model_load(bad, &back), GATREC_ETRUNCATED);
    free(bad);
    bytes[len / 2] ^= 0x40;
    bad = write_file(dir, "corrupt", bytes, len);
    ck_assert_status(gatrec_model_load(bad, &back), GATREC_ECHECKSUM);
    bytes[len / 2] ^= 0x40;
    free(bad);
    bytes[8] = 2; /* format version 2 */
    bad = write_file(dir, "future", bytes, len);
    ck_assert_status(gatrec_model_load(bad, &back), GATREC_EVERSION);
    ck_assert_error_mentions("format version 2");
    bytes[8] = 1;
    free(bad);
    { /* a line appended to a valid file (issue 14, point 6) */
        char *longer = malloc(len + 8);
        memcpy(longer, bytes, len);
        memcpy(longer + len, "garbage\n", 8);
        bad = write_file(dir, "appended", longer, len + 8);
        ck_assert_status(gatrec_model_load(bad, &back), GATREC_EFORMAT);
        ck_assert_error_mentions("8 bytes follow the model's end");
        free(bad);
        free(longer);
    }
    bad = write_file(dir, "text", "user_id,item_id,rank\n", 0);
    ck_assert_status(gatrec_model_load(bad, &back), GATREC_EFORMAT);
    free(bad);
    bad = write_file(dir, "empty", "", 0);
    ck_assert_status(gatrec_model_load(bad, &back), GATREC_EFORMAT);
    free(bad);
    ck_assert_status(gatrec_model_load("/nonexistent/model", &back), GATREC_ENOENT);
    ck_assert_ptr_null(back);
    /* a failed save leaves the old file intact */
    ck_assert_status(gatrec_model_save(m, "/nonexistent/dir/m"), GATREC_ENOENT);
    ck_assert_status(gatrec_model_save(m, "/dev/null"), GATREC_EINVAL);
    ck_assert_status(gatrec_model_save(m, dir), GATREC_EINVAL);
    ck_assert_ok(gatrec_model_load(path, &back));
    gatrec_model_free(back);
    free(bytes);
    free(path);
    gatrec_model_free(m);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Every single-bit flip of a saved file is refused cleanly, never a crash. */
START_TEST(test_fuzz_bit_flips)
{
    char *dir = make_temp_dir(), *path, *bytes, *bad;
    gatrec_model *m = train_small(), *back;
    size_t len;
    bytes = saved_bytes(dir, m, &path, &len);
    for (size_t at = 0; at < len; at += 3) {
        int rc;
        bytes[at] ^= 0x10;
        bad = write_file(dir, "flip", bytes, len);
        back = NULL;
        rc = gatrec_model_load(bad, &back);
        ck_assert_msg(rc < 0, "a flip at byte %zu was accepted", at);
        ck_assert_ptr_null(back);
        bytes[at] ^= 0x10;
        free(bad);
    }
    free(bytes);
    free(path);
    gatrec_model_free(m);
    rm_tree(dir);
    free(dir);
}
END_TEST

static int never_called(void *payload, float *data, size_t n)
{
    (void)payload, (void)data, (void)n;
    return -1;
}

/* A caller compiled against an older gatrec.h hands in a shorter struct: training reads no byte
 * past it (the struct ends where an unreadable page begins), and the model keeps none of the
 * caller's pointers, the allreduce callback and its payload included. */
START_TEST(test_model_options_every_version)
{
    int64_t u[] = {1, 2, 3, 1, 2}, i[] = {10, 10, 10, 11, 12};
    float r[] = {5, 4, 5, 4, 3};
    gatrec_dataset *ds;
    gatrec_split *s;
    gatrec_graph *g;
    ck_assert_ok(gatrec_dataset_from_arrays(5, u, i, r, NULL, &ds));
    ck_assert_ok(gatrec_split_from_parts(ds, (uint8_t[]){0, 0, 0, 0, 0}, &s));
    ck_assert_ok(gatrec_graph_new(ds, s, NULL, &g));
    for (unsigned v = 1; v <= GATREC_MODEL_OPTIONS_VERSION; v++) {
        const gatrec__versions *sz = &gatrec__gatrec_model_options_versions;
        gatrec_model_options full;
        gatrec_model *m = NULL;
        void *map;
        size_t maplen;
        unsigned char *p = at_page_end(sz->sizes[v - 1], &map, &maplen);
        int32_t items[3];
        size_t n;
        ck_assert_ok(gatrec_model_options_init(&full, v));
        full.threads = 1;
        if (v >= 6) {
            full.allreduce = never_called; /* ranks 0: alone, the callback is never used */
            full.allreduce_payload = &full;
        }
        memcpy(p, &full, sz->sizes[v - 1]);
        ck_assert_ok(gatrec_model_train(g, (const gatrec_model_options *)(void *)p, &m));
        ck_assert_ptr_null(m->opts.allreduce);
        ck_assert_ptr_null(m->opts.allreduce_payload);
        ck_assert_ptr_null(m->opts.payload);
        ck_assert_ok(gatrec_model_recommend(m, 0, 3, items, NULL, &n));
        ck_assert_uint_eq(n, 1); /* user 1 rated items 10 and 11 */
        gatrec_model_free(m);
        free_page_end(map, maplen);
    }
    gatrec_graph_free(g);
    gatrec_split_free(s);
    gatrec_dataset_free(ds);
}
END_TEST

Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *t = tcase_create("pop");
    tcase_add_test(t, test_model_options_every_version);
    tcase_add_test(t, test_pop_recommend);
    tcase_add_test(t, test_recommend_all_matches_single);
    tcase_add_test(t, test_save_load_round_trip);
    tcase_add_test(t, test_refuse_bad_files);
    tcase_add_test(t, test_fuzz_bit_flips);
    suite_add_tcase(s, t);
    return s;
}
