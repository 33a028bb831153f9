/* Every allocation failure says so: each allocation of a whole job (train every learned kind,
 * fold a user in, recommend, save and load; fit and save an embedder) is made to fail in turn, and
 * the call that meets it must fail with a message of its own - never "no error", never the
 * message of an earlier, unrelated failure - and leak nothing (the sanitizer build checks that). */
#include <math.h>
#include <sys/stat.h>

#include "../lib/common/common.h"
#include "check_util.h"

static const char *const STALE = "an earlier, unrelated failure";

/* Run one step; on failure, check that it said why, and return its status. */
#define STEP(expr)                                                                                            \
    do {                                                                                                      \
        gatrec__error(GATREC_ERROR, "%s", STALE);                                                             \
        int step_rc_ = (expr);                                                                                \
        if (step_rc_) {                                                                                       \
            ck_assert_msg(gatrec__error_is_set() && strcmp(gatrec_last_error(), STALE) != 0,                  \
                          "%s failed (%d) with no message of its own: '%s'", #expr, step_rc_,                 \
                          gatrec_last_error());                                                               \
            rc = step_rc_;                                                                                    \
            goto done;                                                                                        \
        }                                                                                                     \
    } while (0)

typedef struct job {
    int kind;
    const char *layers;
    size_t fanout;
    char *path; /* where the job saves and loads (made before any allocation may fail) */
} job;

/* 12 users x 10 items, two tastes; 4-wide features */
static int train_serve_save_load(const job *J)
{
    int64_t u[120], i[120];
    float r[120], feat[22 * 4];
    uint8_t parts[120];
    size_t n = 0, got;
    gatrec_dataset *ds = NULL;
    gatrec_split *s = NULL;
    gatrec_graph *g = NULL;
    gatrec_model *m = NULL, *back = NULL;
    gatrec_reclist *all = NULL;
    gatrec_model_options o;
    int32_t items[5], nu;
    float scores[5];
    const char *path = J->path;
    int rc = GATREC_OK;
    for (int a = 0; a < 12; a++)
        for (int b = 0; b < 10; b++)
            if ((a + b) % 3 != 0) {
                u[n] = a + 1, i[n] = 100 + b, r[n] = (float)(1 + (a % 2 == b % 2) * 3 + (b % 2));
                parts[n++] = (a + b) % 7 == 0 ? GATREC_PART_TEST : GATREC_PART_TRAIN;
            }
    for (size_t k = 0; k < 22 * 4; k++)
        feat[k] = (float)sin(0.7 * (double)k);
    gatrec_model_options_init(&o, GATREC_MODEL_OPTIONS_VERSION);
    o.kind = J->kind;
    o.threads = 2;
    o.epochs = 2;
    o.dim = 8;
    o.layers = J->layers;
    o.fanout = J->fanout;
    o.attention_dim = 4;
    if (J->kind == GATREC_MODEL_GAT || J->kind == GATREC_MODEL_ATTN || J->kind == GATREC_MODEL_CONTENT) {
        o.features = feat;
        o.feature_dim = 4;
    }
    STEP(gatrec_dataset_from_arrays(n, u, i, r, NULL, &ds));
    STEP(gatrec_split_from_parts(ds, parts, &s));
    STEP(gatrec_graph_new(ds, s, NULL, &g));
    STEP(gatrec_model_train(g, &o, &m));
    STEP(gatrec_model_recommend(m, 0, 5, items, scores, &got));
    STEP(gatrec_model_recommend_all(m, 3, &all));
    if (J->kind != GATREC_MODEL_BPR && J->kind != GATREC_MODEL_LIGHTGCN)
        STEP(gatrec_model_add_user(m, 999, (int32_t[]){0, 1, 2}, (float[]){5, 1, 4}, 3,
                                   J->kind == GATREC_MODEL_POP || J->kind == GATREC_MODEL_EASE ? NULL : feat, &nu));
    if (J->kind != GATREC_MODEL_BPR && J->kind != GATREC_MODEL_LIGHTGCN) {
        /* a returning user's update fails whole or not at all: nothing half-done (issue 22) */
        int32_t every[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        float before[10], after[10];
        size_t held0, held1;
        STEP(gatrec_model_score(m, 0, every, 10, before));
        STEP(gatrec_model_user_ratings(m, 0, NULL, NULL, 0, &held0));
        gatrec__error(GATREC_ERROR, "%s", STALE);
        int urc = gatrec_model_update_user(m, 0, (int32_t[]){0, 9}, (float[]){2, 5}, 2);
        if (urc) {
            ck_assert_msg(gatrec__error_is_set() && strcmp(gatrec_last_error(), STALE) != 0,
                          "update_user failed (%d) with no message of its own", urc);
            ck_assert_ok(gatrec_model_score(m, 0, every, 10, after));
            ck_assert_ok(gatrec_model_user_ratings(m, 0, NULL, NULL, 0, &held1));
            ck_assert_mem_eq(before, after, sizeof before);
            ck_assert_uint_eq(held0, held1);
            rc = urc;
            goto done;
        }
    }
    STEP(gatrec_model_save(m, path));
    STEP(gatrec_model_load(path, &back));
    STEP(gatrec_model_recommend(back, 1, 5, items, scores, &got));
done:
    gatrec_model_free(back);
    gatrec_reclist_free(all);
    gatrec_model_free(m);
    gatrec_graph_free(g);
    gatrec_split_free(s);
    gatrec_dataset_free(ds);
    return rc;
}

static int embed_fit_save(const job *J)
{
    const char *texts[] = {"a quiet drama about family", "space adventure with robots", "a family comedy",
                           "robots and lasers in space", "quiet comedy of manners"};
    gatrec_embedder *e = NULL, *back = NULL;
    gatrec_embedder_options eo;
    float out[2 * 3];
    const char *path = J->path;
    int rc = GATREC_OK;
    gatrec_embedder_options_init(&eo, GATREC_EMBEDDER_OPTIONS_VERSION);
    eo.dim = 3;
    STEP(J->kind ? gatrec_embedder_new_lsa(&eo, &e) : gatrec_embedder_new_hashed(&eo, &e));
    STEP(gatrec_embedder_fit(e, texts, 5));
    STEP(gatrec_embedder_embed(e, texts, 2, out));
    STEP(gatrec_embedder_save(e, path));
    STEP(gatrec_embedder_load(path, &back));
    STEP(gatrec_embedder_embed(back, texts + 3, 2, out));
done:
    gatrec_embedder_free(back);
    gatrec_embedder_free(e);
    return rc;
}

/* An application's own log with string ids: import (with a catalogue), save, load, and a model
 * that carries the keys through its file (J->path: a directory of its own) */
static int import_save_load(const job *J)
{
    char *ev, *cat, dir[4200], model[4200];
    mkdir(J->path, 0700); /* test files by the test's own allocations: only the library's may fail */
    ev = write_file(J->path, "ev.csv", "user,item,plays,time\n\"u, 1\",a,2,2024-01-01\nu2,b,1,5\nu2,a,1,6\n"
                                       "u3,c,1,7\nu2,a,3,8\n", 0);
    cat = write_file(J->path, "cat.csv", "item,title,genres\na,A,x|y\nb,B,y\nc,C,z\n", 0);
    snprintf(dir, sizeof dir, "%s/ds", J->path);
    snprintf(model, sizeof model, "%s/m.gatrec", J->path);
    gatrec_import_options o = GATREC_IMPORT_OPTIONS_INIT;
    gatrec_dataset *ds = NULL, *back = NULL;
    gatrec_graph *g = NULL;
    gatrec_model *m = NULL, *mb = NULL;
    gatrec_model_options mo = GATREC_MODEL_OPTIONS_INIT;
    int32_t idx;
    int rc = GATREC_OK;
    o.weight_column = "plays";
    o.items_path = cat;
    o.domain = "shop items";
    STEP(gatrec_dataset_import(ev, &o, &ds, NULL));
    STEP(gatrec_dataset_save(ds, dir));
    STEP(gatrec_dataset_load(dir, &back));
    STEP(gatrec_graph_new(back, NULL, NULL, &g));
    STEP(gatrec_model_train(g, &mo, &m));
    STEP(gatrec_model_save(m, model));
    STEP(gatrec_model_load(model, &mb));
    STEP(gatrec_model_find_user(mb, "u, 1", &idx));
    ck_assert_str_eq(gatrec_model_user_key(mb, idx), "u, 1");
done:
    gatrec_model_free(mb);
    gatrec_model_free(m);
    gatrec_graph_free(g);
    gatrec_dataset_free(back);
    gatrec_dataset_free(ds);
    free(ev), free(cat);
    return rc;
}

/* Fail allocation 1, 2, 3, ... of the job until it runs through with none left to fail. */
static void fail_each_allocation(int (*fn)(const job *), job *J, const char *what)
{
    char *dir = make_temp_dir();
    long n;
    J->path = gatrec__path_join(dir, "saved");
    ck_assert_ptr_nonnull(J->path);
    for (n = 1;; n++) {
        gatrec__alloc_fail_after(n);
        int rc = fn(J);
        long left = gatrec__alloc_fail_after(0);
        if (left > 0) { /* the job needs fewer than n allocations: it ran whole */
            ck_assert_msg(rc == GATREC_OK, "%s failed with no allocation failing: %s", what, gatrec_last_error());
            break;
        }
        ck_assert_msg(n < 200000, "%s: no end to its allocations", what);
    }
    ck_assert_msg(n > 10, "%s: only %ld allocations", what, n);
    rm_tree(dir);
    free(dir);
    free(J->path);
}

START_TEST(test_every_allocation_failure_says_so)
{
    static job jobs[] = {
        {GATREC_MODEL_POP, NULL, 0, NULL},      {GATREC_MODEL_BPR, NULL, 0, NULL},
        {GATREC_MODEL_EASE, NULL, 0, NULL},     {GATREC_MODEL_LIGHTGCN, NULL, 0, NULL},
        {GATREC_MODEL_CONTENT, NULL, 0, NULL},  {GATREC_MODEL_GAT, "4x2,4x1", 0, NULL},
        {GATREC_MODEL_GAT, "4x2,4x1", 2, NULL}, {GATREC_MODEL_ATTN, NULL, 0, NULL},
        {GATREC_MODEL_ATTN, NULL, 2, NULL},
    };
    job *J = &jobs[_i];
    char what[64];
    snprintf(what, sizeof what, "%s%s", gatrec_model_kind_name(J->kind), J->fanout ? " with fanout" : "");
    fail_each_allocation(train_serve_save_load, J, what);
}
END_TEST

START_TEST(test_every_embedder_allocation_failure_says_so)
{
    job J = {_i, NULL, 0, NULL}; /* 0: hashed, 1: LSA */
    fail_each_allocation(embed_fit_save, &J, _i ? "the LSA embedder" : "the hashed embedder");
}
END_TEST

START_TEST(test_every_import_allocation_failure_says_so)
{
    job J = {0, NULL, 0, NULL};
    fail_each_allocation(import_save_load, &J, "the import of a log with string ids");
}
END_TEST

/* Folding a cold-users split's revealed ratings in (gatrec_model_fold_in_revealed) either happens
 * whole or leaves the model as it was, its file byte for byte, whichever allocation fails: the
 * kinds whose fold-in keeps no state of its own (EASE, popularity, content) and those that keep
 * a folded user's input rows (attn, GAT: put back when a later user fails) */
START_TEST(test_fold_in_revealed_whole_or_not_at_all)
{
    static const int kinds[] = {GATREC_MODEL_EASE, GATREC_MODEL_POP, GATREC_MODEL_CONTENT, GATREC_MODEL_ATTN,
                                GATREC_MODEL_GAT};
    int64_t u[120], i[120];
    float r[120], feat[22 * 4];
    size_t n = 0, folded = 0;
    gatrec_dataset *ds;
    gatrec_split *s;
    gatrec_graph *g;
    gatrec_model *m;
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    char *dir = make_temp_dir(), *a = gatrec__path_join(dir, "a"), *b = gatrec__path_join(dir, "b");
    long tries;
    for (int p = 0; p < 12; p++)
        for (int q = 0; q < 10; q++)
            if ((p + q) % 3 != 0)
                u[n] = p + 1, i[n] = 100 + q, r[n] = (float)(1 + (p % 2 == q % 2) * 3 + (q % 2)), n++;
    for (size_t k = 0; k < 22 * 4; k++)
        feat[k] = (float)sin(0.7 * (double)k);
    ck_assert_ok(gatrec_dataset_from_arrays(n, u, i, r, NULL, &ds));
    ck_assert_ok(gatrec_split_parse(ds, "cold-users:0.25:2", 3, &s));
    ck_assert_ok(gatrec_graph_new(ds, s, NULL, &g));
    o.kind = kinds[_i];
    o.lambda = 2;
    if (o.kind != GATREC_MODEL_EASE && o.kind != GATREC_MODEL_POP) {
        o.features = feat;
        o.feature_dim = 4;
        o.epochs = 2;
        o.dim = 8;
    }
    ck_assert_ok(gatrec_model_train(g, &o, &m)); /* trained once; every try starts from its file */
    ck_assert_ok(gatrec_model_save(m, a));
    gatrec_model_free(m);
    for (tries = 1;; tries++) {
        int rc;
        long left;
        ck_assert_ok(gatrec_model_load(a, &m));
        gatrec__alloc_fail_after(tries);
        rc = gatrec_model_fold_in_revealed(m, ds, s, &folded);
        left = gatrec__alloc_fail_after(0);
        if (left > 0) { /* it ran whole */
            ck_assert_ok(rc);
            ck_assert_uint_gt(folded, 0);
            gatrec_model_free(m);
            break;
        }
        ck_assert_int_eq(rc, GATREC_ENOMEM);
        ck_assert_ok(gatrec_model_save(m, b));
        ck_assert_msg(same_file_bytes(a, b), "%s: allocation %ld failed and the model changed",
                      gatrec_model_kind_name(o.kind), tries);
        gatrec_model_free(m);
    }
    ck_assert_int_gt(tries, 3);
    gatrec_graph_free(g);
    gatrec_split_free(s);
    gatrec_dataset_free(ds);
    rm_tree(dir);
    free(dir), free(a), free(b);
}
END_TEST

Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *t = tcase_create("allocation");
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, test_every_allocation_failure_says_so, 0, 9);
    tcase_add_loop_test(t, test_every_embedder_allocation_failure_says_so, 0, 2);
    tcase_add_test(t, test_every_import_allocation_failure_says_so);
    tcase_add_loop_test(t, test_fold_in_revealed_whole_or_not_at_all, 0, 5);
    suite_add_tcase(s, t);
    return s;
}
