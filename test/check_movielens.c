/* Integration on the real MovieLens 100K (../shared/data or $GATREC_TEST_DATA), through the
 * library and through the gatrec command line. Skips, saying so, when the data is absent. */
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_util.h"
#include "llm_server.h"

/* A test's name as START_TEST was given it, without the "_fn" Check adds: for "%.*s". */
static int test_name_len(const char *f)
{
    size_t n = strlen(f);
    return (int)(n > 3 && strcmp(f + n - 3, "_fn") == 0 ? n - 3 : n);
}
#define TEST_NAME test_name_len(__func__), __func__

#define SKIP_WITHOUT_DATA()                                                    \
    do {                                                                       \
        if (!test_data_dir()) {                                                \
            printf("SKIP %.*s: MovieLens 100K is not available\n", TEST_NAME); \
            return;                                                            \
        }                                                                      \
    } while (0)

/* The tests that watch quality numbers (how well a model trained on real data ranks) run in the
 * plain pass only: the sanitizer passes watch memory and threads, which the command-line tests on
 * the same data exercise (test_cli_attn, test_cli_gat, test_cli_anchors), and training there is
 * 3-10 times slower (the quality guard alone took 4 minutes under ASan, CI's budget is 45). */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define GATREC_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define GATREC_TEST_SANITIZED 1
#endif
#endif
#ifdef GATREC_TEST_SANITIZED
#define SKIP_QUALITY_UNDER_SANITIZERS()                                                                           \
    do {                                                                                                          \
        printf("SKIP %.*s: under a sanitizer (it watches quality numbers; the plain pass runs it)\n", TEST_NAME); \
        return;                                                                                                   \
    } while (0)
#else
#define SKIP_QUALITY_UNDER_SANITIZERS() (void)0
#endif

/* A test whose trainings run one thread (--threads 1) and whose other threaded paths (recommend
 * --all) the other command-line tests take under ThreadSanitizer too gives it nothing new to
 * watch, at 5-10 times the time (227 s): it runs in the plain and ASan passes. */
#if defined(__SANITIZE_THREAD__)
#define SKIP_SINGLE_THREADED_UNDER_TSAN()                                                                     \
    do {                                                                                                      \
        printf("SKIP %.*s: under ThreadSanitizer (one-thread trainings; the plain and ASan passes run it)\n", \
               TEST_NAME);                                                                                    \
        return;                                                                                               \
    } while (0)
#else
#define SKIP_SINGLE_THREADED_UNDER_TSAN() (void)0
#endif

static gatrec_dataset *load_ml100k(void)
{
    char dir[4200];
    gatrec_dataset *ds;
    snprintf(dir, sizeof dir, "%s/ml-100k", test_data_dir());
    ck_assert_ok(gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, &ds));
    return ds;
}

START_TEST(test_ml100k_counts_and_splits)
{
    gatrec_dataset *ds;
    gatrec_split *s;
    int32_t i;
    SKIP_WITHOUT_DATA();
    ds = load_ml100k();
    ck_assert_uint_eq(gatrec_dataset_num_ratings(ds), 100000);
    ck_assert_uint_eq(gatrec_dataset_num_users(ds), 943);
    ck_assert_uint_eq(gatrec_dataset_num_items(ds), 1682);
    ck_assert_uint_eq(gatrec_dataset_num_genres(ds), 19);
    ck_assert_ok(gatrec_dataset_item_index(ds, 1, &i));
    ck_assert_str_eq(gatrec_dataset_item_title(ds, i), "Toy Story (1995)");
    for (int k = 1; k <= 5; k++) {
        char name[4];
        snprintf(name, sizeof name, "u%d", k);
        ck_assert_ok(gatrec_split_official(ds, name, &s));
        ck_assert_uint_eq(gatrec_split_count(s, GATREC_PART_TRAIN), 80000);
        ck_assert_uint_eq(gatrec_split_count(s, GATREC_PART_TEST), 20000);
        gatrec_split_free(s);
    }
    ck_assert_ok(gatrec_split_official(ds, "ua", &s));
    ck_assert_uint_eq(gatrec_split_count(s, GATREC_PART_TEST), 9430);
    gatrec_split_free(s);
    ck_assert_ok(gatrec_split_leave_last(ds, 1, &s));
    ck_assert_uint_eq(gatrec_split_count(s, GATREC_PART_TEST), 943);
    ck_assert_uint_eq(gatrec_split_count(s, GATREC_PART_VALID), 943);
    gatrec_split_free(s);
    gatrec_dataset_free(ds);
}
END_TEST

/* Popularity on fold u1: a guard against silent changes to the loaders, the split or either
 * protocol (values as first measured with this library; PAPER.md's LightGCN gets P 0.6918 and
 * NDCG 0.4192 under the paper protocol, so popularity just below that is plausible). */
START_TEST(test_ml100k_popularity_u1)
{
    gatrec_dataset *ds;
    gatrec_split *s;
    gatrec_graph *g;
    gatrec_model *m;
    gatrec_reclist *l;
    gatrec_eval_options o = GATREC_EVAL_OPTIONS_INIT;
    gatrec_metrics paper = {.version = GATREC_METRICS_VERSION}, std = {.version = GATREC_METRICS_VERSION};
    SKIP_WITHOUT_DATA();
    ds = load_ml100k();
    ck_assert_ok(gatrec_split_official(ds, "u1", &s));
    ck_assert_ok(gatrec_graph_new(ds, s, NULL, &g));
    ck_assert_ok(gatrec_model_train(g, NULL, &m));
    ck_assert_ok(gatrec_model_recommend_all(m, 10, &l));
    o.protocol = GATREC_PROTOCOL_PAPER;
    ck_assert_ok(gatrec_evaluate(ds, s, l, &o, &paper));
    o.protocol = GATREC_PROTOCOL_STANDARD;
    ck_assert_ok(gatrec_evaluate(ds, s, l, &o, &std));
    ck_assert_uint_eq(paper.users, 459); /* u1.test covers 459 users (PAPER.md) */
    ck_assert_double_eq_tol(paper.precision, 0.691856, 1e-5);
    ck_assert_double_eq_tol(paper.recall, 0.118010, 1e-5);
    ck_assert_double_eq_tol(paper.ndcg, 0.374579, 1e-5);
    ck_assert_double_eq_tol(paper.map, 0.135928, 1e-5);
    ck_assert_double_eq_tol(std.precision, 0.2136, 1e-4);
    ck_assert_double_eq_tol(std.ndcg, 0.2451, 1e-4);
    gatrec_reclist_free(l);
    gatrec_model_free(m);
    gatrec_graph_free(g);
    gatrec_split_free(s);
    gatrec_dataset_free(ds);
}
END_TEST

/* Runs the command line with GATREC_DATA_DIR pointing at the test data; returns its output. */
static char *run_cli(const char *args, int *status)
{
    char cmd[8192];
    const char *cli = getenv("GATREC_CLI");
    FILE *p;
    char *out = calloc(1, 1 << 20);
    size_t n;
    ck_assert_msg(cli != NULL, "GATREC_CLI is not set (run through make check)");
    snprintf(cmd, sizeof cmd, "GATREC_DATA_DIR='%s' '%s' %s 2>&1", test_data_dir(), cli, args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(out, 1, (1 << 20) - 1, p);
    out[n] = '\0';
    *status = WEXITSTATUS(pclose(p));
    return out;
}

/* Runs the command line and expects an exit status and, unless NULL, a piece of its output. */
static void expect_cli(const char *args, int status, const char *needle)
{
    int st;
    char *out = run_cli(args, &st);
    ck_assert_msg(st == status && (!needle || strstr(out, needle)), "gatrec %s: exit %d (expected %d), said: %s", args,
                  st, status, out);
    free(out);
}

START_TEST(test_cli_end_to_end)
{
    char *dir, *out, args[4400];
    int st;
    SKIP_WITHOUT_DATA();
    dir = make_temp_dir();
    out = run_cli("data info --dataset ml-100k --json", &st);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(strstr(out, "\"ratings\": 100000") && strstr(out, "\"users\": 943") && strstr(out, "\"items\": 1682"),
                  "data info said: %s", out);
    free(out);
    snprintf(args, sizeof args, "train --dataset ml-100k --split u1 --model pop --out %s/pop.model", dir);
    free(run_cli(args, &st));
    ck_assert_int_eq(st, 0);
    snprintf(args, sizeof args, "eval --model %s/pop.model --protocol paper -k 10 --json", dir);
    out = run_cli(args, &st);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(strstr(out, "\"protocol\": \"paper\", \"k\": 10, \"users\": 459, \"precision\": 0.691856"),
                  "eval said: %s", out);
    free(out);
    /* several cut-offs from one list, and the cold-start slice (117 users of u1 have <= 20 training ratings) */
    snprintf(args, sizeof args, "eval --model %s/pop.model --protocol paper -k 5,10 --max-train 20 --json", dir);
    out = run_cli(args, &st);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(strstr(out, "\"k\": 5, \"users\": 117") && strstr(out, "\"k\": 10, \"users\": 117"),
                  "eval -k 5,10 --max-train 20 said: %s", out);
    free(out);
    /* the CSV the model writes scores the same through --recs */
    snprintf(args, sizeof args, "recommend --model %s/pop.model --all -k 10 --csv --out %s/recs.csv", dir, dir);
    free(run_cli(args, &st));
    ck_assert_int_eq(st, 0);
    snprintf(args, sizeof args, "eval --dataset ml-100k --split u1 --recs %s/recs.csv --protocol paper -k 10 --json",
             dir);
    out = run_cli(args, &st);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(strstr(out, "\"precision\": 0.691856"), "eval --recs said: %s", out);
    free(out);
    snprintf(args, sizeof args, "recommend --model %s/pop.model --user 1 -k 3 --json", dir);
    out = run_cli(args, &st);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(strstr(out, "\"title\": \"Contact (1997)\"") && strstr(out, "\"justification\""), "said: %s", out);
    free(out);
    /* a random split: --recs must be scored on the split the model was trained on (--seed) */
    snprintf(args, sizeof args,
             "train --split random:0.2 --seed 5 --out %s/r.model && '%s' recommend --model %s/r.model --all --csv "
             "--out %s/r.csv && '%s' eval --model %s/r.model --json",
             dir, getenv("GATREC_CLI"), dir, dir, getenv("GATREC_CLI"), dir);
    out = run_cli(args, &st);
    ck_assert_int_eq(st, 0);
    {
        char *from_model = strstr(out, "\"precision\""), *again;
        ck_assert_ptr_nonnull(from_model);
        *strchr(from_model, ',') = '\0';
        snprintf(args, sizeof args, "eval --recs %s/r.csv --dataset ml-100k --split random:0.2 --seed 5 --json", dir);
        again = run_cli(args, &st);
        ck_assert_int_eq(st, 0);
        ck_assert_msg(strstr(again, from_model), "model: %s; recs: %s", from_model, again);
        free(again);
    }
    free(out);
    /* split --out creates its directory, and says so when it cannot */
    snprintf(args, sizeof args, "split --split u1+valid:0.1 --out %s/parts", dir);
    expect_cli(args, 0, "valid    8046 ratings");
    snprintf(args, sizeof args, "%s/parts/valid.tsv", dir);
    ck_assert_int_eq(access(args, R_OK), 0);
    /* a split without a validation part into the same directory removes the old one (issue 14,
     * point 4: 110,037 ratings for a 100,000-rating dataset); a cold-users split writes its reveal part */
    snprintf(args, sizeof args, "split --split u1 --out %s/parts", dir);
    expect_cli(args, 0, "none: removed the earlier");
    snprintf(args, sizeof args, "%s/parts/valid.tsv", dir);
    ck_assert_int_ne(access(args, R_OK), 0);
    snprintf(args, sizeof args, "split --split cold-users:0.1 --out %s/parts", dir);
    expect_cli(args, 0, "reveal     470 ratings");
    /* --part valid scores against the validation part: a popularity model trained on u1 less
     * its validation tenth, as a dataset whose test part is that tenth scores it (checked by hand:
     * a Python reading of `gatrec split --split u1+valid:0.1 --out` gives the same two figures; they
     * changed with the validation shuffle's stream in issue 21, from 0.634719 and 0.123996) */
    snprintf(args, sizeof args,
             "train --split u1+valid:0.1 --model pop --out %s/popv.model && '%s' eval --model %s/popv.model "
             "--part valid --protocol paper --json",
             dir, getenv("GATREC_CLI"), dir);
    out = run_cli(args, &st);
    ck_assert_msg(st == 0 && strstr(out, "\"users\": 942, \"precision\": 0.700991, \"recall\": 0.140198") &&
                      strstr(out, "\"part\": \"valid\""),
                  "eval --part valid said: %s", out);
    free(out);
    snprintf(args, sizeof args, "eval --model %s/pop.model --part valid", dir);
    expect_cli(args, 1, "no validation ratings");
    expect_cli("eval --model /dev/null --part training", 2, "--part must be test or valid, not 'training'");
    expect_cli("eval --model /dev/null --protocol msr", 2, "--protocol must be standard or paper, not 'msr'");
    expect_cli("train --sampling hardest --out /dev/null", 2,
               "--sampling must be robust, uniform, popularity or hard, not 'hardest'");
    snprintf(args, sizeof args, "split --out %s/no/such/dir", dir);
    expect_cli(args, 1, "no/such/dir: cannot create the directory");
    expect_cli("train --model nope --out /dev/null", 2, NULL);
    {   /* a model whose dataset folder has gone says so instead of printing blank titles (issue 14, point 7) */
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "cp -r '%s/ml-100k' '%s/mlcopy'", test_data_dir(), dir);
        ck_assert_int_eq(system(cmd), 0);
        snprintf(args, sizeof args, "train --dataset %s/mlcopy --model pop --out %s/moved.model", dir, dir);
        expect_cli(args, 0, NULL);
        snprintf(cmd, sizeof cmd, "rm -rf '%s/mlcopy'", dir);
        ck_assert_int_eq(system(cmd), 0);
        snprintf(args, sizeof args, "recommend --model %s/moved.model --user 1 -k 1", dir);
        expect_cli(args, 0, "mlcopy is gone");
        snprintf(args, sizeof args, "eval --model %s/moved.model", dir);
        expect_cli(args, 2, "dataset folder is gone");
    }
    /* issue 14, point 12 */
    expect_cli("data foo", 2, "unknown command 'foo'");
    expect_cli("train --epochs --out /dev/null", 2, "option '--epochs' needs a value (got the option '--out')");
    {   /* a folder named ml-100k in the working directory does not shadow the data directory */
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "cd '%s' && mkdir -p ml-100k && GATREC_DATA_DIR='%s' '%s' data info --dataset ml-100k",
                 dir, test_data_dir(), getenv("GATREC_CLI"));
        ck_assert_int_eq(system(cmd), 0);
    }
    /* issue 14, point 8: 0 is not a silent default; the output path is checked before training;
     * messages name the user's path, not a temporary one */
    expect_cli("train --model bpr --epochs 0 --out /dev/null", 2, "--epochs must be a whole number from 1 to");
    expect_cli("train --model bpr --dim 0 --out /dev/null", 2, "--dim must be a whole number from 1 to");
    /* issue 14, point 11: every bad option value is a usage error, with one range wording */
    expect_cli("train --kernels foo --out /dev/null", 2, "--kernels must be fast or reference, not 'foo'");
    expect_cli("train --layers foo --out /dev/null", 2, "--layers must be UNITSxHEADS");
    expect_cli("train --split random:2 --out /dev/null", 2, "test ratio 2 is not in [0, 1)");
    expect_cli("eval --recs x.csv --dataset ml-100k --split u1 -k 0", 2, "-k must be a whole number from 1 to 100000, not '0'");
    expect_cli("eval --recs x.csv --dataset ml-100k --split u1 -k -1", 2, "-k must be a whole number from 1 to 100000, not '-1'");
    expect_cli("train --model bpr --out ''", 2, "--out needs a file name");
    expect_cli("train --model bpr --out /nonexistent-dir/m.gatrec", 1, "the directory /nonexistent-dir does not exist");
    snprintf(args, sizeof args, "train --model pop --out %s", dir);
    expect_cli(args, 1, "is a directory");
    expect_cli("profiles import --out /nonexistent-dir/p.jsonl", 1,
               "--out /nonexistent-dir/p.jsonl: the directory /nonexistent-dir does not exist"); /* checked first */
    /* --liked sets the positives: none reach 6 stars, and the message says so */
    expect_cli("train --model bpr --liked 6 --epochs 1 --out /dev/null", 1, "liked threshold 6");
    expect_cli("train --model bpr --liked four --out /dev/null", 2, NULL);
    expect_cli("train --model bpr --lr-factor 0 --out /dev/null", 2, "--lr-factor");
    expect_cli("eval --recs /nonexistent.csv --dataset ml-100k --split u1", 1, "/nonexistent.csv");
    /* issue 14: a split name that does not exist names the specs; zero users is an error, not zeros */
    expect_cli("split --split random --out /dev/null", 1, "the split specs are u1..u5");
    snprintf(args, sizeof args, "eval --model %s/pop.model --threshold 9", dir);
    expect_cli(args, 1, "no user to evaluate");
    /* issue 14, point 2: a model trained on u1 is not scored on u2's test part, which it trained on */
    snprintf(args, sizeof args, "eval --model %s/pop.model --split u2", dir);
    expect_cli(args, 1, "are ratings the model trained on (it records split u1, seed 1)");
    snprintf(args, sizeof args, "eval --model %s/pop.model --split u2 --force --json", dir);
    expect_cli(args, 0, "\"split\": \"u2\"");
    expect_cli("frobnicate", 2, NULL);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Puts the model's second candidate first, and justifies nothing usable. */
/* gatrec recommend --all --rerank list on the GAT of dir, answers cached in dir/CACHE, the CSV to
 * dir/OUT; what it said, its exit status in *st */
static char *rerank_all(const char *dir, const llm_server *s, const char *cache, const char *out, int *st)
{
    char args[4400];
    snprintf(args, sizeof args,
             "recommend --model %s/gat.model --all -k 3 --csv --rerank list --candidates 2 --fusion none "
             "--llm %s --cache %s/%s --out %s/%s", dir, llm_server_url(s), dir, cache, dir, out);
    return run_cli(args, st);
}

static char *fixed_answer(const char *body, void *ctx)
{
    (void)body;
    return strdup(ctx);
}

static char *swap_first_two(const char *body, void *ctx)
{
    (void)ctx;
    return strdup(strstr(body, "Rank every candidate") ? "{\"ranking\": [\"C2\", \"C1\"]}" : "no JSON");
}

/* Every other answer names no candidate; the rest swap the first two */
static char *half_unusable(const char *body, void *ctx)
{
    static unsigned calls;
    return calls++ % 2 ? strdup("{\"ranking\": []}") : swap_first_two(body, ctx);
}

/* The GAT through the command line on ML-100K: per-epoch JSON with validation NDCG, features
 * from a file, recommendations with evidence, evaluation. Few epochs: this checks the plumbing;
 * quality is measured by the benchmarks and reported in the issue notes. */
/* The anchors through the command line on ML-100K: EASE (its validation-chosen default), the
 * softmax loss, the content model on LSA features, and both strict cold-start splits. */
/* attn from the command line: new items from LSA text ranked among themselves, its ablation
 * switches, the attention line, and the refusals. */
START_TEST(test_cli_attn)
{
    char *dir, *out, args[4400];
    int st;
    SKIP_WITHOUT_DATA();
    dir = make_temp_dir();
    snprintf(args, sizeof args, "profiles import --split cold-items:0.2 --seed 4 --out %s/p.jsonl", dir);
    expect_cli(args, 0, "templates");
    snprintf(args, sizeof args, "embed --profiles %s/p.jsonl --embedder lsa --dim 48 --out %s/f.tsv", dir, dir);
    expect_cli(args, 0, "(48 dimensions)");
    snprintf(args, sizeof args, "train --split cold-items:0.2 --seed 4 --model attn --features %s/f.tsv --dim 64 "
             "--epochs 4 --out %s/a.model", dir, dir);
    expect_cli(args, 0, "attention: ");
    snprintf(args, sizeof args, "eval --model %s/a.model --rank-among cold --json", dir);
    out = run_cli(args, &st);
    { /* new items from their text alone: far above chance (about .03 among 336 new items) */
        const char *p = strstr(out, "\"ndcg\": ");
        ck_assert_msg(st == 0 && p && atof(p + 9) > 0.06 && strstr(out, "\"rank_among\": \"cold\""),
                      "attn among new items said: %s", out);
    }
    free(out);
    snprintf(args, sizeof args, "recommend --model %s/a.model --user 1 -k 2 --evidence --json", dir);
    expect_cli(args, 0, "\"evidence\": [{\"item_id\": ");
    /* the ablations' switches; ID only cannot rank new items, and says so */
    snprintf(args, sizeof args, "train --split cold-items:0.2 --seed 4 --model attn --inputs id --uniform-attention "
             "--dim 32 --epochs 2 --json --out %s/i.model", dir);
    expect_cli(args, 0, "\"model\": \"attn\"");
    snprintf(args, sizeof args, "eval --model %s/i.model --rank-among cold", dir);
    expect_cli(args, 1, "cannot score items without training ratings");
    snprintf(args, sizeof args, "train --split cold-items:0.2 --seed 4 --model attn --features %s/f.tsv --inputs text "
             "--align 0.5 --no-edge-attr --attention-dim 8 --dim 32 --epochs 2 --out %s/t.model", dir, dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args, "train --model attn --inputs text --epochs 1 --out %s/x.model", dir);
    expect_cli(args, 1, "need text features");
    expect_cli("train --model attn --inputs words --out /dev/null", 2, "--inputs must be id+text, id or text");
    expect_cli("train --model attn --no-layernorm --out /dev/null", 2, "attn has none of them");
    expect_cli("train --model bpr --align 1 --out /dev/null", 2, "are for --model attn");
    expect_cli("train --model attn --id-dropout 1 --out /dev/null", 2, "--id-dropout");
    expect_cli("train --model lightgcn --optimizer lazy --out /dev/null", 2, "--optimizer lazy is for --model bpr");
    expect_cli("train --model bpr --fanout 5 --out /dev/null", 2, "--fanout is for --model attn or gat");
    expect_cli("train --model attn --fanout 5 --loss bpr --sampling hard --epochs 1 --out /dev/null", 1,
               "hard negatives");
    snprintf(args, sizeof args, "train --model attn --inputs id --fanout 5 --optimizer lazy --epochs 2 --dim 32 --json "
             "--out %s/f.model", dir);
    expect_cli(args, 0, "\"model\": \"attn\"");
    snprintf(args, sizeof args, "eval --model %s/f.model --json", dir);
    expect_cli(args, 0, "\"ndcg\": ");
    expect_cli("train --model bpr --optimizer sparse --out /dev/null", 2, "--optimizer must be");
    snprintf(args, sizeof args, "train --model bpr --optimizer lazy --epochs 2 --json --out %s/l.model", dir);
    expect_cli(args, 0, "\"model\": \"bpr\"");
    { /* remote embeddings from the command line (issue 12, point 10): the features, the embedder in the
         model, and a new user's text embedded at the endpoint again */
        llm_server *s = llm_server_start();
        llm_server_set_embedding_dim(s, 16);
        snprintf(args, sizeof args, "embed --profiles %s/p.jsonl --embedder remote --llm %s --cache %s/c "
                 "--embedding-model toy-embed --embedder-out %s/r.emb --out %s/r.tsv", dir, llm_server_url(s), dir, dir,
                 dir);
        expect_cli(args, 0, "(16 dimensions, model toy-embed)");
        /* a server that finds long texts too large: they are cut, and the command says how many */
        llm_server_set_embedding_limit(s, 64, 200, 413);
        snprintf(args, sizeof args, "embed --profiles %s/p.jsonl --embedder remote --llm %s --embedding-model toy-embed "
                 "--out %s/r2.tsv", dir, llm_server_url(s), dir);
        expect_cli(args, 0, "x not a failure: a text the server found too large was truncated");
        llm_server_set_embedding_limit(s, 0, 0, 0);
        snprintf(args, sizeof args, "%s/r.tsv", dir);
        out = slurp(args);
        ck_assert_msg(out && strncmp(out, "# gatrec embed: remote embedder, 16 dimensions, model toy-embed\n", 64) == 0,
                      "features header: %.80s", out ? out : "(none)");
        free(out);
        snprintf(args, sizeof args, "train --split cold-items:0.2 --seed 4 --model attn --features %s/r.tsv --embedder "
                 "%s/r.emb --dim 16 --epochs 1 --out %s/r.model", dir, dir, dir);
        expect_cli(args, 0, NULL);
        snprintf(args, sizeof args, "recommend --model %s/r.model --new-user 'likes crime' --rated 56:5 -k 2 --llm %s "
                 "--cache %s/c", dir, llm_server_url(s), dir);
        expect_cli(args, 0, "Top 2 for user 944");
        snprintf(args, sizeof args, "recommend --model %s/r.model --new-user 'likes crime' --rated 56:5 -k 2", dir);
        expect_cli(args, 1, "the model's embedder is remote (model toy-embed)");
        expect_cli("embed --profiles x --embedder lsa --llm http://127.0.0.1:1 --out /dev/null", 2,
                   "go with --embedder remote");
        llm_server_stop(s);
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_cli_anchors)
{
    char *dir, *out, args[4400];
    int st;
    SKIP_WITHOUT_DATA();
    dir = make_temp_dir();
    snprintf(args, sizeof args, "train --split u1 --model ease --json --out %s/ease.model", dir);
    expect_cli(args, 0, "\"model\": \"ease\"");
    snprintf(args, sizeof args, "eval --model %s/ease.model -k 10 --json", dir);
    out = run_cli(args, &st);
    { /* standard NDCG@10 of EASE on u1: .4656 when written; a wrong solve or scoring is far off */
        const char *p = strstr(out, "\"ndcg\": ");
        ck_assert_msg(st == 0 && p && fabs(atof(p + 9) - 0.4656) < 0.005, "ease eval said: %s", out);
        ck_assert_msg(strstr(out, "\"rank_among\": \"all\"") && strstr(out, "\"split\": \"u1\"") &&
                          strstr(out, "\"seed\": 1"), "eval --json lacks the setting: %s", out);
    }
    free(out);
    snprintf(args, sizeof args, "recommend --model %s/ease.model --user 1 -k 2 --evidence --json", dir);
    expect_cli(args, 0, "\"evidence\": [{\"item_id\": ");
    /* --rated: the loaders' range, and every entry counts (issue 14, point 3: 256 were kept) */
    snprintf(args, sizeof args, "recommend --model %s/ease.model --new-user x --rated 56:5,100:4 -k 2", dir);
    expect_cli(args, 0, "Top 2 for user 944");
    snprintf(args, sizeof args, "recommend --model %s/ease.model --new-user x --rated 56:0", dir);
    expect_cli(args, 2, "item 56: stars must be a number from 0.5 to 5");
    snprintf(args, sizeof args, "recommend --model %s/ease.model --new-user x --rated 56:1e30", dir);
    expect_cli(args, 2, "stars must be a number");
    {
        size_t len = (size_t)snprintf(args, sizeof args, "recommend --model %s/ease.model --new-user x --rated ", dir);
        for (int i = 1; i < 300; i++)
            len += (size_t)snprintf(args + len, sizeof args - len, "%d:4,", i);
        snprintf(args + len, sizeof args - len, "5:3");
        expect_cli(args, 1, "item 5 is rated twice");
    }
    snprintf(args, sizeof args, "recommend --model %s/ease.model --new-user x --rated ''", dir);
    expect_cli(args, 2, "--rated needs at least one ID:STARS");
    /* one request's rules: the first recommendation excluded, the next moves up; --only refuses unknown ids */
    snprintf(args, sizeof args, "recommend --model %s/ease.model --user 1 -k 2 --json", dir);
    out = run_cli(args, &st);
    {
        const char *p = strstr(out, "\"item_id\": ");
        long long first = p ? atoll(p + 11) : -1, second = p && strstr(p + 1, "\"item_id\": ") ?
                              atoll(strstr(p + 1, "\"item_id\": ") + 11) : -1;
        char *out2, want[64];
        ck_assert_msg(st == 0 && first > 0 && second > 0, "%s", out);
        snprintf(args, sizeof args, "recommend --model %s/ease.model --user 1 -k 2 --json --exclude %lld", dir, first);
        out2 = run_cli(args, &st);
        snprintf(want, sizeof want, "\"item_id\": %lld", second);
        ck_assert_msg(st == 0 && strstr(out2, want) == strstr(out2, "\"item_id\": ") && !strstr(out2, "Top"),
                      "excluded %lld: %s", first, out2);
        free(out2);
        /* returning users: user 1 rates the second, a new user 5000 two films; the file is the split's format */
        snprintf(args, sizeof args, "%s/events.tsv", dir);
        FILE *f = fopen(args, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "1\t%lld\t5\t0\n5000\t50\t5\t0\n5000\t181\t4\t0\n", second);
        fclose(f);
        snprintf(args, sizeof args, "update --model %s/ease.model --ratings %s/events.tsv --out %s/ease2.model", dir,
                 dir, dir);
        expect_cli(args, 0, "3 ratings: 1 known users updated, 1 new users folded in");
        snprintf(args, sizeof args, "recommend --model %s/ease2.model --user 1 -k 1 --json", dir);
        out2 = run_cli(args, &st);
        ck_assert_msg(st == 0 && !strstr(out2, want), "user 1 rated %lld: %s", second, out2);
        free(out2);
        snprintf(args, sizeof args, "recommend --model %s/ease2.model --user 5000 -k 1", dir);
        expect_cli(args, 0, "because you liked");
        /* without saving: the same through --user --rated */
        snprintf(args, sizeof args, "recommend --model %s/ease.model --user 1 -k 1 --json --rated %lld:5", dir, second);
        out2 = run_cli(args, &st);
        ck_assert_msg(st == 0 && !strstr(out2, want), "user 1 rated %lld: %s", second, out2);
        free(out2);
    }
    free(out);
    snprintf(args, sizeof args, "recommend --model %s/ease.model --user 1 --only 50,99999", dir);
    expect_cli(args, 1, "--only: item 99999 is not in the model");
    snprintf(args, sizeof args, "update --model %s/ease.model --ratings /nonexistent --out %s/x.model", dir, dir);
    expect_cli(args, 1, "/nonexistent");
    { /* other data of the same shape (one star changed): eval refuses the model, --force scores it
         (issue 24, item 7) */
        char *data;
        FILE *f;
        snprintf(args, sizeof args, "mkdir -p '%s/same-shape' && cd '%s/ml-100k' && cp u.item u.user u.genre "
                 "'%s/same-shape/'", dir, test_data_dir(), dir);
        ck_assert_int_eq(system(args), 0);
        snprintf(args, sizeof args, "%s/ml-100k/u.data", test_data_dir());
        ck_assert_ptr_nonnull(data = slurp(args));
        { /* the first line: user, item, STARS, time */
            char *stars = strchr(strchr(data, '\t') + 1, '\t') + 1;
            *stars = *stars == '5' ? '4' : '5';
        }
        snprintf(args, sizeof args, "%s/same-shape/u.data", dir);
        ck_assert_ptr_nonnull(f = fopen(args, "w"));
        fputs(data, f);
        fclose(f);
        free(data);
        snprintf(args, sizeof args, "eval --model %s/ease.model --dataset %s/same-shape --split random:0.2", dir, dir);
        expect_cli(args, 1, "the model was trained on other data than");
        snprintf(args, sizeof args, "eval --model %s/ease.model --dataset %s/same-shape --split random:0.2 --force", dir,
                 dir);
        expect_cli(args, 0, "ndcg");
    }
    expect_cli("train --model ease --lambda 0 --out /dev/null", 2, "--lambda");
    expect_cli("train --model bpr --loss hinge --out /dev/null", 2, "--loss must be bpr or softmax, not 'hinge'");
    expect_cli("train --model bpr --loss softmax --cos-weight 1 --epochs 1 --out /dev/null", 1, "cosine term");
    expect_cli("train --model content --out /dev/null", 2, "--features");
    snprintf(args, sizeof args,
             "train --split u1+valid:0.1 --model bpr --loss softmax --negatives 64 --epochs 2 --json --out %s/sm.model", dir);
    expect_cli(args, 0, "\"valid_ndcg\": ");
    /* new items: template profiles -> LSA features -> the content model, ranked among the new items */
    snprintf(args, sizeof args, "profiles import --split cold-items:0.2 --seed 4 --out %s/p.jsonl", dir);
    expect_cli(args, 0, "templates");
    snprintf(args, sizeof args, "embed --profiles %s/p.jsonl --embedder lsa --dim 32 --out %s/f.tsv", dir, dir);
    expect_cli(args, 0, "(32 dimensions)");
    snprintf(args, sizeof args, "embed --profiles %s/p.jsonl --embedder words --out %s/g.tsv", dir, dir);
    expect_cli(args, 2, "--embedder must be hashed, lsa or remote");
    snprintf(args, sizeof args, "train --split cold-items:0.2 --seed 4 --model content --features %s/f.tsv --out %s/c.model",
             dir, dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args, "eval --model %s/c.model --rank-among cold --json", dir);
    out = run_cli(args, &st);
    {
        const char *p = strstr(out, "\"ndcg\": ");
        ck_assert_msg(st == 0 && p && atof(p + 9) > 0.03 && strstr(out, "\"rank_among\": \"cold\""),
                      "content among new items said: %s", out);
    }
    free(out);
    snprintf(args, sizeof args, "train --split cold-items:0.2 --seed 4 --model ease --out %s/e2.model", dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args, "eval --model %s/e2.model --rank-among cold", dir);
    expect_cli(args, 1, "cannot score items without training ratings");
    snprintf(args, sizeof args, "eval --model %s/ease.model --rank-among cold", dir); /* u1: a few unrated items */
    out = run_cli(args, &st);
    ck_assert_msg(st == 1, "ease on u1 among unrated items: %s", out);
    free(out);
    /* new users: EASE folds them in from their 5 revealed ratings; BPR-MF cannot, and says so */
    snprintf(args, sizeof args, "train --split cold-users:0.2 --model ease --out %s/e3.model", dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args, "eval --model %s/e3.model --json", dir);
    out = run_cli(args, &st);
    {
        const char *p = strstr(out, "\"ndcg\": ");
        ck_assert_msg(st == 0 && p && atof(p + 9) > 0.2 && strstr(out, "\"folded_users\": 189"),
                      "ease on cold users said: %s", out);
    }
    free(out);
    snprintf(args, sizeof args, "train --split cold-users:0.2 --model bpr --epochs 1 --out %s/b3.model", dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args, "eval --model %s/b3.model --json", dir);
    expect_cli(args, 0, "\"folded_users\": -1");
    snprintf(args, sizeof args, "eval --model %s/b3.model", dir);
    expect_cli(args, 0, "cannot fold in the cold users");
    expect_cli("split --split cold-users:0.2:x --out /dev/null", 2, "cold-users:RATIO[:REVEALED]");
    /* the embedder's width against the features' (issue 14: it was read past at fold-in) */
    snprintf(args, sizeof args, "embed --profiles %s/p.jsonl --dim 64 --embedder-out %s/e64.bin --out %s/f64.tsv", dir,
             dir, dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args,
             "train --split cold-items:0.2 --seed 4 --model gat --epochs 1 --features %s/f.tsv --embedder %s/e64.bin "
             "--out %s/g.model", dir, dir, dir);
    expect_cli(args, 1, "writes 64-d vectors but");
    snprintf(args, sizeof args, "train --model gat --epochs 1 --embedder %s/e64.bin --out %s/g.model", dir, dir);
    expect_cli(args, 2, "--embedder goes with --features");
    snprintf(args, sizeof args,
             "train --split cold-items:0.2 --seed 4 --model gat --layers 8x1 --epochs 1 --features %s/f64.tsv "
             "--embedder %s/e64.bin --out %s/g.model", dir, dir, dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args, "recommend --model %s/g.model --new-user 'crime thrillers' --rated 56:5 -k 2", dir);
    out = run_cli(args, &st);
    ck_assert_msg(st == 0 && strstr(out, "Top 2 for user") && !strstr(out, "nan"), "new user: %s", out);
    free(out);
    snprintf(args, sizeof args, "train --model gat --layers 8x1 --epochs 1 --out %s/r.model", dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args, "recommend --model %s/r.model --new-user 'crime thrillers' --rated 56:5 -k 2", dir);
    expect_cli(args, 0, "trained without input features, so the --new-user text is not used");
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_cli_gat)
{
    char *dir, *out, *path, args[4400];
    int st;
    SKIP_WITHOUT_DATA();
    dir = make_temp_dir();
    {
        gatrec_dataset *ds = load_ml100k();
        size_t cap = 1 << 20, len = 0;
        char *text = malloc(cap);
        for (int32_t u = 0; u < (int32_t)gatrec_dataset_num_users(ds); u++)
            len += (size_t)snprintf(text + len, cap - len, "user\t%lld\t%d %d 1 0\n", (long long)gatrec_dataset_user_id(ds, u),
                                    u % 7, u % 3);
        for (int32_t i = 0; i < (int32_t)gatrec_dataset_num_items(ds); i++)
            len += (size_t)snprintf(text + len, cap - len, "item\t%lld\t%d 0 %d 1\n", (long long)gatrec_dataset_item_id(ds, i),
                                    i % 5, i % 2);
        path = write_file(dir, "features.tsv", text, len);
        free(text);
        gatrec_dataset_free(ds);
    }
    snprintf(args, sizeof args,
             "train --dataset ml-100k --split u1+valid:0.1 --model gat --layers 8x2,8x1 --epochs 3 --features %s "
             "--threads 2 --json --out %s/gat.model",
             path, dir);
    out = run_cli(args, &st);
    ck_assert_msg(st == 0, "train said: %s", out);
    ck_assert_msg(strstr(out, "{\"epoch\": 3, \"loss\": ") && strstr(out, "\"bpr\": ") && strstr(out, "\"cos\": ") &&
                      strstr(out, "\"seconds\": ") && strstr(out, "\"valid_ndcg\": ") && strstr(out, "\"model\": \"gat\"") &&
                      strstr(out, "\"epochs\": 3, \"best_epoch\": ") && strstr(out, "\"best_valid_ndcg\": "),
                  "train --json said: %s", out);
    free(out);
    snprintf(args, sizeof args, "recommend --model %s/gat.model --user 1 -k 3 --evidence --json", dir);
    out = run_cli(args, &st);
    ck_assert_msg(st == 0 && strstr(out, "\"evidence\": [{\"item_id\": ") && strstr(out, "because you liked"),
                  "recommend said: %s", out);
    free(out);
    {
        /* reranked by a scripted LLM on 127.0.0.1: its first is the model's second; its
           justifications are unusable, so the templates stand in */
        llm_server *s = llm_server_start();
        char *plain, *first, *second;
        llm_server_set_chat(s, swap_first_two, NULL);
        snprintf(args, sizeof args, "recommend --model %s/gat.model --user 1 -k 2 --json", dir);
        plain = run_cli(args, &st);
        snprintf(args, sizeof args,
                 "recommend --model %s/gat.model --user 1 -k 2 --rerank list --fusion none --explain --json "
                 "--llm %s --cache %s/llm-cache",
                 dir, llm_server_url(s), dir);
        out = run_cli(args, &st);
        ck_assert_msg(st == 0 && strstr(out, "\"reranked\": true") && strstr(out, "\"llm_model\": \"gpt-4o-mini\""),
                      "rerank said: %s", out);
        first = strstr(plain, "\"item_id\": ");
        second = first ? strstr(first + 1, "\"item_id\": ") : NULL;
        ck_assert_ptr_nonnull(second);
        *strchr(second, ',') = '\0';
        ck_assert_msg(strncmp(strstr(out, "\"item_id\": "), second, strlen(second)) == 0,
                      "the LLM's first (%s) is not first: %s", second, out);
        ck_assert_msg(strstr(out, "because you liked"), "no template justification: %s", out);
        /* and it says so: per item in JSON, once on standard error (issue 14, point 7) */
        ck_assert_msg(strstr(out, "\"justified_by\": \"template\"") &&
                          strstr(out, "justifications by the LLM failed (first: "), "no note of the fallback: %s", out);
        free(plain);
        free(out);
        {
            /* every user reranked into a CSV: each user's first two swap; one request per user,
               none on a rerun (the cache) */
            unsigned before = llm_server_requests(s);
            char *csv;
            snprintf(args, sizeof args, "recommend --model %s/gat.model --all -k 3 --csv", dir);
            plain = run_cli(args, &st);
            ck_assert_int_eq(st, 0);
            out = rerank_all(dir, s, "llm-cache", "reranked.csv", &st);
            ck_assert_msg(st == 0 && strstr(out, "reranked 943 of 943 users' top 2 by the LLM (list, model gpt-4o-mini); 0 kept the model's order"),
                          "--all --rerank said: %s", out);
            free(out);
            ck_assert_uint_eq(llm_server_requests(s) - before, 943);
            snprintf(args, sizeof args, "%s/reranked.csv", dir);
            csv = slurp(args);
            ck_assert_ptr_nonnull(csv);
            {
                /* user 1's lines: plain "1,a,1 1,b,2 1,c,3" -> reranked "1,b,1 1,a,2 1,c,3" */
                long pa, pb, pc, ra, rb, rc3;
                ck_assert_int_eq(sscanf(strchr(plain, '\n') + 1, "1,%ld,1\n1,%ld,2\n1,%ld,3", &pa, &pb, &pc), 3);
                ck_assert_int_eq(sscanf(strchr(csv, '\n') + 1, "1,%ld,1\n1,%ld,2\n1,%ld,3", &ra, &rb, &rc3), 3);
                ck_assert_msg(ra == pb && rb == pa && rc3 == pc, "plain %ld %ld %ld, reranked %ld %ld %ld", pa, pb, pc,
                              ra, rb, rc3);
            }
            free(csv);
            free(plain);
            before = llm_server_requests(s);
            free(rerank_all(dir, s, "llm-cache", "again.csv", &st));
            ck_assert_int_eq(st, 0);
            ck_assert_uint_eq(llm_server_requests(s) - before, 0);
            /* answers that name no candidate: every user keeps the model's order, and the reason is
               counted for all of them, not only the first three (issue 24, item 10) */
            llm_server_set_chat(s, fixed_answer, (void *)"{\"ranking\": []}");
            out = rerank_all(dir, s, "llm-cache-empty", "empty.csv", &st);
            ck_assert_msg(st == 1 && strstr(out, "; 943 kept the model's order\n") &&
                              strstr(out, "Why:\n  943 x the reranking answer names no candidate"),
                          "--all --rerank with empty rankings said: %s", out);
            free(out);
            /* half of them: the run succeeds, and says why the others kept the model's order */
            llm_server_set_chat(s, half_unusable, NULL);
            out = rerank_all(dir, s, "llm-cache-half", "half.csv", &st);
            ck_assert_msg(st == 0 && strstr(out, "kept the model's order\nwhy they kept it:\n  ") &&
                              strstr(out, " x the reranking answer names no candidate"),
                          "--all --rerank with half the rankings empty said: %s", out);
            free(out);
            llm_server_set_chat(s, swap_first_two, NULL);
        }
        /* a server that refuses every request: profiles generate says why and fails (issue 12, point 1) */
        llm_server_set_failure(s, 401, "Incorrect API key provided");
        snprintf(args, sizeof args, "profiles generate --llm %s --cache %s/llm-cache --retries 0 --out %s/p401.jsonl",
                 llm_server_url(s), dir, dir);
        out = run_cli(args, &st);
        ck_assert_msg(st == 1 && strstr(out, "the LLM failed 2625 of 2625 profiles") &&
                          strstr(out, "2625 x /v1/chat/completions: HTTP 401: Incorrect API key provided") &&
                          strstr(out, "more than --allow-failures 0 allows"),
                      "profiles generate against 401 said (%d): %s", st, out);
        free(out);
        snprintf(args, sizeof args, "profiles generate --llm %s --cache %s/llm-cache --retries 0 --allow-failures 1 "
                 "--max-tokens 123 --out %s/p401.jsonl", llm_server_url(s), dir, dir);
        expect_cli(args, 0, "2625 templates");
        { /* --max-tokens reaches the request (issue 24, item 14), and is checked */
            char *body = llm_server_last_body(s);
            ck_assert_msg(body && strstr(body, "\"max_tokens\":123"), "request: %s", body ? body : "(none)");
            free(body);
        }
        snprintf(args, sizeof args, "profiles generate --llm %s --max-tokens 3 --out %s/x.jsonl", llm_server_url(s), dir);
        expect_cli(args, 2, "--max-tokens must be");
        { /* a trial run (issue 24, item 14): two items asked, no user */
            unsigned before = llm_server_requests(s);
            snprintf(args, sizeof args, "profiles generate --llm %s --cache %s/trial-cache --retries 0 --allow-failures 1 "
                     "--limit 2 --only items --out %s/trial.jsonl", llm_server_url(s), dir, dir);
            expect_cli(args, 0, NULL);
            ck_assert_uint_eq(llm_server_requests(s) - before, 2);
            snprintf(args, sizeof args, "profiles import --limit 2 --out %s/trial.jsonl", dir);
            expect_cli(args, 2, "--limit and --only bound what 'profiles generate' asks");
        }
        /* and recommend: the model's order and templates are printed, and the exit says nothing came back */
        snprintf(args, sizeof args, "recommend --model %s/gat.model --user 1 -k 2 --rerank list --explain --llm %s "
                 "--cache %s/fresh-cache --retries 0", dir, llm_server_url(s), dir); /* nothing cached to fall on */
        out = run_cli(args, &st);
        ck_assert_msg(st == 1 && strstr(out, "Top 2 for user 1 (model order") && strstr(out, "gave nothing usable") &&
                          strstr(out, "HTTP 401: Incorrect API key provided"), "recommend against 401 said (%d): %s", st,
                      out);
        free(out);
        llm_server_stop(s);
    }
    snprintf(args, sizeof args, "eval --model %s/gat.model --protocol paper -k 10 --json", dir);
    out = run_cli(args, &st);
    ck_assert_msg(st == 0 && strstr(out, "\"users\": 459"), "eval said: %s", out);
    free(out);
    /* a new user, folded in from ratings (random features: no embedder needed) */
    snprintf(args, sizeof args, "recommend --model %s/gat.model --new-user 'likes crime' --rated 56:5,100:4 -k 3", dir);
    out = run_cli(args, &st);
    ck_assert_msg(st == 0 && strstr(out, "Top 3 for user 944"), "new user: %s", out);
    free(out);
    snprintf(args, sizeof args, "recommend --model %s/gat.model --new-user x --rated 999999:5", dir);
    out = run_cli(args, &st);
    ck_assert_msg(st == 1 && strstr(out, "999999"), "unknown item: %s", out);
    free(out);
    snprintf(args, sizeof args, "train --model gat --layers 8x0 --out %s/x.model", dir);
    out = run_cli(args, &st);
    ck_assert_msg(st == 2 && strstr(out, "UNITSxHEADS"), "bad layers: %s", out);
    free(out);
    snprintf(args, sizeof args, "train --model bpr --features %s --out %s/x.model", path, dir);
    out = run_cli(args, &st);
    ck_assert_int_eq(st, 2);
    free(out);
    free(path);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* The quality guard: a small slice of the results recomputed on every `make check`. Short
 * trainings on fold u1 (paper protocol, K = 10, seed 1) must stay within a stated tolerance of
 * what they measure: BPR-MF 30 epochs NDCG 0.512, the GAT 60 epochs 0.405 with its 4-negative
 * default (popularity: 0.375), attn (ID only, its softmax default) 10 epochs 0.557. Tolerance
 * 0.02-0.025: float paths differ between CPUs (AVX2 or not), a regression in training or the
 * kernels costs far more. The figures are seed 1's since the random-stream registry (issue 21;
 * before it 0.510, 0.429, 0.562): the GAT's seeds 1-3 give 0.405, 0.434, 0.414 now and 0.429,
 * 0.419, 0.430 before (`gatrec train --model gat --epochs 60 --seed S`, paper protocol), so its
 * seed-to-seed spread is the size of that move. */
static double short_run(const gatrec_dataset *ds, const gatrec_split *split, const gatrec_graph *g, int kind,
                        int epochs)
{
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    gatrec_eval_options eo = GATREC_EVAL_OPTIONS_INIT;
    gatrec_metrics mt = {.version = GATREC_METRICS_VERSION};
    gatrec_model *m;
    gatrec_reclist *list;
    o.kind = kind;
    o.epochs = epochs;
    o.threads = 2;
    eo.protocol = GATREC_PROTOCOL_PAPER;
    ck_assert_ok(gatrec_model_train(g, &o, &m));
    ck_assert_ok(gatrec_model_recommend_all(m, 10, &list));
    ck_assert_ok(gatrec_evaluate(ds, split, list, &eo, &mt));
    printf("quality guard: %s, %d epochs, fold u1, paper protocol: NDCG@10 %.4f P %.4f R %.4f MAP %.4f\n",
           gatrec_model_kind_name(kind), epochs, mt.ndcg, mt.precision, mt.recall, mt.map);
    gatrec_reclist_free(list);
    gatrec_model_free(m);
    return mt.ndcg;
}

START_TEST(test_quality_guard)
{
    gatrec_dataset *ds;
    gatrec_split *split;
    gatrec_graph *g;
    double ndcg;
    SKIP_WITHOUT_DATA();
    SKIP_QUALITY_UNDER_SANITIZERS();
    ds = load_ml100k();
    ck_assert_ok(gatrec_split_official(ds, "u1", &split));
    ck_assert_ok(gatrec_graph_new(ds, split, NULL, &g));
    ndcg = short_run(ds, split, g, GATREC_MODEL_BPR, 30);
    ck_assert_msg(ndcg >= 0.512 - 0.02, "BPR-MF regressed: NDCG@10 %.4f, expected 0.512 +- 0.02", ndcg);
    ndcg = short_run(ds, split, g, GATREC_MODEL_GAT, 60);
    ck_assert_msg(ndcg >= 0.405 - 0.025, "the GAT regressed: NDCG@10 %.4f, expected 0.405 +- 0.025", ndcg);
    ndcg = short_run(ds, split, g, GATREC_MODEL_ATTN, 10);
    ck_assert_msg(ndcg >= 0.557 - 0.02, "attn regressed: NDCG@10 %.4f, expected 0.557 +- 0.02", ndcg);
    gatrec_graph_free(g);
    gatrec_split_free(split);
    gatrec_dataset_free(ds);
}
END_TEST

/* Runs the command line with its standard output sent where `redirect` says (e.g. ">/dev/full",
 * ">&-"); returns its exit status, and its standard error in err (malloc'd). */
static int run_cli_redirected(const char *args, const char *redirect, const char *dir, char **err)
{
    char cmd[8192], path[4200];
    int st;
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    snprintf(cmd, sizeof cmd, "GATREC_DATA_DIR='%s' '%s' %s %s 2>'%s'", test_data_dir(), getenv("GATREC_CLI"), args,
             redirect, path);
    st = system(cmd);
    *err = slurp(path);
    ck_assert_ptr_nonnull(*err);
    return WEXITSTATUS(st);
}

/* Output that is lost must not pass for success (issue 24, item 1), and a command must not
 * overwrite its own input (item 2). */
START_TEST(test_cli_output_lost_or_overwritten)
{
    char *dir, *err, args[9000], model[4200];
    const char *lossy[] = {"data info --dataset ml-100k", "data info --dataset ml-100k --json", "version",
                           NULL /* recommend --all, below */};
    SKIP_WITHOUT_DATA();
    dir = make_temp_dir();
    snprintf(model, sizeof model, "%s/pop.gatrec", dir);
    snprintf(args, sizeof args, "train --dataset ml-100k --split u1 --model pop --out %s", model);
    ck_assert_int_eq(run_cli_redirected(args, ">/dev/null", dir, &err), 0);
    free(err);
    for (int k = 0; k < 4; k++) {
        const char *cmd = lossy[k];
        if (!cmd) {
            snprintf(args, sizeof args, "recommend --model %s --all --csv -k 50", model);
            cmd = args;
        }
        ck_assert_msg(run_cli_redirected(cmd, ">/dev/full", dir, &err) == 1 && strstr(err, "standard output"),
                      "gatrec %s >/dev/full: said %s", cmd, err);
        free(err);
        ck_assert_msg(run_cli_redirected(cmd, ">&-", dir, &err) == 1 && strstr(err, "standard output"),
                      "gatrec %s >&-: said %s", cmd, err);
        free(err);
        ck_assert_int_eq(run_cli_redirected(cmd, ">/dev/null", dir, &err), 0);
        free(err);
    }
    /* --out naming the model (by its name, and through a link) is refused; the model stays whole */
    snprintf(args, sizeof args, "recommend --model %s --all --csv -k 2 --out %s", model, model);
    ck_assert_int_eq(run_cli_redirected(args, "", dir, &err), 2);
    ck_assert_msg(strstr(err, "its own output would overwrite it"), "said %s", err);
    free(err);
    snprintf(args, sizeof args, "%s/link.gatrec", dir);
    ck_assert_int_eq(symlink(model, args), 0);
    snprintf(args, sizeof args, "recommend --model %s/link.gatrec --all --csv -k 2 --out %s", dir, model);
    ck_assert_int_eq(run_cli_redirected(args, "", dir, &err), 2);
    ck_assert_msg(strstr(err, "(the same file)"), "said %s", err);
    free(err);
    snprintf(args, sizeof args, "recommend --model %s --user 1 -k 1", model);
    ck_assert_int_eq(run_cli_redirected(args, ">/dev/null", dir, &err), 0);
    free(err);
    /* the same for embed (profiles in, features out) and train (features in, model out) */
    snprintf(args, sizeof args, "profiles generate --dataset ml-100k --split u1 --out %s/p.jsonl", dir);
    ck_assert_int_eq(run_cli_redirected(args, ">/dev/null", dir, &err), 0);
    free(err);
    snprintf(args, sizeof args, "embed --dataset ml-100k --profiles %s/p.jsonl --dim 8 --out %s/p.jsonl", dir, dir);
    ck_assert_int_eq(run_cli_redirected(args, "", dir, &err), 2);
    free(err);
    snprintf(args, sizeof args, "embed --dataset ml-100k --profiles %s/p.jsonl --dim 8 --out %s/f.tsv", dir, dir);
    ck_assert_int_eq(run_cli_redirected(args, ">/dev/null", dir, &err), 0);
    free(err);
    snprintf(args, sizeof args, "train --dataset ml-100k --model content --features %s/f.tsv --out %s/f.tsv", dir, dir);
    ck_assert_int_eq(run_cli_redirected(args, "", dir, &err), 2);
    free(err);
    snprintf(args, sizeof args, "%s/f.tsv", dir);
    free(err = slurp(args));
    /* options that would be silently ignored are refused (issue 24, item 21) */
    static const struct {
        const char *args, *says;
    } ignored[] = {
        {"train --model ease --epochs 3 --out X", "EASE is solved in closed form"},
        {"train --model pop --epochs 3 --out X", "not trained in epochs"},
        {"train --model bpr --lambda 3 --out X", "--lambda is EASE's"},
        {"recommend --model X --all --csv --json", "not JSON"},
        {"recommend --model X --user 1 --csv", "go with --all"},
        {"embed --profiles P --embedder-in E --dim 64 --out F", "--embedder-in FILE brings its kind"},
        {"embed --profiles P --embedder-in E --embedding-model m --out F", "names its embeddings model"},
    };
    for (size_t k = 0; k < sizeof ignored / sizeof ignored[0]; k++) {
        ck_assert_msg(run_cli_redirected(ignored[k].args, ">/dev/null", dir, &err) == 2 && strstr(err, ignored[k].says),
                      "gatrec %s said: %s", ignored[k].args, err);
        free(err);
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Imported profiles for ids the dataset lacks (issue 24, item 5): a file made for ML-1M names
 * 6,040 users, 943 of them with ML-100K's ids - other people: refused, nothing written. */
START_TEST(test_cli_profiles_import_other_dataset)
{
    char *dir, *err, args[9000], csv[4200];
    struct stat st;
    SKIP_WITHOUT_DATA();
    snprintf(csv, sizeof csv, "%s/llm-profiles/updated_users_with_summary_df_1m.csv", test_data_dir());
    if (stat(csv, &st) != 0) {
        printf("SKIP %.*s: %s is not available\n", TEST_NAME, csv);
        return;
    }
    dir = make_temp_dir();
    snprintf(args, sizeof args, "profiles import --dataset ml-100k --users %s --out %s/p.jsonl", csv, dir);
    ck_assert_int_eq(run_cli_redirected(args, ">/dev/null", dir, &err), 1);
    ck_assert_msg(strstr(err, "5097 of the 6040 user profiles") && strstr(err, "another dataset"), "said %s", err);
    free(err);
    snprintf(args, sizeof args, "%s/p.jsonl", dir);
    ck_assert_int_ne(access(args, F_OK), 0);
    rm_tree(dir);
    free(dir);
}
END_TEST


/* The same data through `gatrec data import` (string ids, a catalogue) and through the MovieLens
 * loader give the same splits and the same lists, mapped through the ids (issue 23, point 4). */
static void export_generic(const char *dir)
{
    char path[4200], *mldir = malloc(strlen(test_data_dir()) + 16);
    gatrec_dataset *ds;
    FILE *f;
    sprintf(mldir, "%s/ml-100k", test_data_dir());
    ck_assert_ok(gatrec_dataset_load_movielens(mldir, GATREC_MOVIELENS_AUTO, &ds));
    snprintf(path, sizeof path, "%s/events.csv", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fprintf(f, "user,item,rating,time\n");
    for (size_t r = 0; r < gatrec_dataset_num_ratings(ds); r++) {
        int32_t u, i;
        float v;
        int64_t t;
        gatrec_dataset_rating(ds, r, &u, &i, &v, &t);
        fprintf(f, "user-%04lld,item-%04lld,%g,%lld\n", (long long)gatrec_dataset_user_id(ds, u),
                (long long)gatrec_dataset_item_id(ds, i), v, (long long)t);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/items.csv", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fprintf(f, "item,title,genres\n");
    for (int32_t i = 0; (size_t)i < gatrec_dataset_num_items(ds); i++) {
        fprintf(f, "item-%04lld,\"", (long long)gatrec_dataset_item_id(ds, i));
        for (const char *c = gatrec_dataset_item_title(ds, i); c && *c; c++)
            fprintf(f, *c == '"' ? "\"\"" : "%c", *c);
        fprintf(f, "\",");
        for (size_t g = 0, first = 1; g < gatrec_dataset_num_genres(ds); g++)
            if (gatrec_dataset_item_has_genre(ds, i, g)) {
                fprintf(f, "%s%s", first ? "" : "|", gatrec_dataset_genre_name(ds, g));
                first = 0;
            }
        fprintf(f, "\n");
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/users.csv", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fprintf(f, "user,age,occupation\n");
    for (int32_t u = 0; (size_t)u < gatrec_dataset_num_users(ds); u++)
        fprintf(f, "user-%04lld,%d,%s\n", (long long)gatrec_dataset_user_id(ds, u), gatrec_dataset_user_age(ds, u),
                gatrec_dataset_user_occupation(ds, u));
    fclose(f);
    gatrec_dataset_free(ds);
    free(mldir);
}

/* Every line "U,I,R" of a numeric list is "user-UUUU,item-IIII,R" in the keyed one */
static void same_lists(const char *numeric, const char *keyed)
{
    char *a = slurp(numeric), *b = slurp(keyed), *p = a, *q = b;
    size_t lines = 0;
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    p = strchr(p, '\n') + 1;
    q = strchr(q, '\n') + 1;
    while (*p) {
        long long u, i, r;
        char want[64];
        size_t n = strcspn(q, "\n");
        ck_assert_int_eq(sscanf(p, "%lld,%lld,%lld", &u, &i, &r), 3);
        snprintf(want, sizeof want, "user-%04lld,item-%04lld,%lld", u, i, r);
        ck_assert_msg(strlen(want) == n && strncmp(q, want, n) == 0, "%s line %zu: '%.*s', want '%s'", keyed,
                      lines + 2, (int)n, q, want);
        p = strchr(p, '\n') + 1;
        q += n + (q[n] == '\n');
        lines++;
    }
    ck_assert_msg(!*q && lines == 9430, "%s: %zu lines, then '%.40s'", keyed, lines, q);
    free(a);
    free(b);
}

START_TEST(test_cli_own_data_same_as_movielens)
{
    static const char *const kinds[] = {"--model ease", "--model bpr --epochs 2", "--model attn --inputs id --epochs 2"};
    char *dir, *out, args[4400], a[4200], b[4200];
    int st;
    SKIP_WITHOUT_DATA();
    SKIP_SINGLE_THREADED_UNDER_TSAN();
    dir = make_temp_dir();
    export_generic(dir);
    snprintf(args, sizeof args, "data import --events %s/events.csv --items %s/items.csv --users %s/users.csv "
             "--rating-column rating --domain movies --out %s/ml", dir, dir, dir, dir);
    expect_cli(args, 0, "imported 100000 ratings (explicit) of 943 users and 1682 movies");
    snprintf(args, sizeof args, "data info --dataset %s/ml", dir);
    expect_cli(args, 0, "genres    19");
    /* the same split, written with the same numbers */
    snprintf(args, sizeof args, "split --dataset ml-100k --split random:0.2 --seed 3 --out %s/s1", dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args, "split --dataset %s/ml --split random:0.2 --seed 3 --out %s/s2", dir, dir);
    expect_cli(args, 0, NULL);
    snprintf(a, sizeof a, "%s/s1/test.tsv", dir);
    snprintf(b, sizeof b, "%s/s2/test.tsv", dir);
    {
        char *x = slurp(a), *y = slurp(b);
        ck_assert_msg(x && y && strcmp(x, y) == 0, "the test parts differ");
        free(x), free(y);
    }
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        for (int side = 0; side < 2; side++) {
            snprintf(args, sizeof args, "train --dataset %s%s --split random:0.2 --seed 3 %s --threads 1 --out %s/m%d.gatrec",
                     side ? dir : "ml-100k", side ? "/ml" : "", kinds[k], dir, side);
            expect_cli(args, 0, NULL);
            snprintf(args, sizeof args, "recommend --model %s/m%d.gatrec --all --csv -k 10 --out %s/r%d.csv", dir, side,
                     dir, side);
            expect_cli(args, 0, NULL);
        }
        snprintf(a, sizeof a, "%s/r0.csv", dir);
        snprintf(b, sizeof b, "%s/r1.csv", dir);
        same_lists(a, b);
        /* scores too: user 1's list with its scores, by number and by key */
        snprintf(args, sizeof args, "recommend --model %s/m0.gatrec --user 1 -k 5 --json", dir);
        out = run_cli(args, &st);
        snprintf(args, sizeof args, "recommend --model %s/m1.gatrec --user user-0001 -k 5 --json", dir);
        {
            char *keyed = run_cli(args, &st), *s0 = strstr(out, "\"score\""), *s1 = strstr(keyed, "\"score\"");
            ck_assert_msg(s0 && s1 && strncmp(s0, s1, 20) == 0 && strstr(keyed, "\"user_id\": \"user-0001\"") &&
                              strstr(keyed, "\"item_id\": \"item-"), "numeric: %s\nkeyed: %s", out, keyed);
            free(keyed);
        }
        free(out);
        /* eval of the keyed model's list CSV reads its string ids back */
        snprintf(args, sizeof args, "eval --recs %s/r1.csv --dataset %s/ml --split random:0.2 --seed 3 -k 10", dir, dir);
        expect_cli(args, 0, "ndcg");
    }
    /* a returning user by key and a new one, from an events file with string ids */
    snprintf(a, sizeof a, "%s/more.csv", dir);
    free(write_file(dir, "more.csv", "user,item,rating\nuser-0001,item-0050,5\nnewcomer,item-0050,1\nnewcomer,item-0181,5\n", 0));
    snprintf(args, sizeof args, "update --model %s/m1.gatrec --ratings %s --out %s/m2.gatrec", dir, a, dir);
    expect_cli(args, 0, "1 known users updated, 1 new users folded in");
    snprintf(args, sizeof args, "recommend --model %s/m2.gatrec --user newcomer -k 3", dir);
    expect_cli(args, 0, "Top 3 for user newcomer");
    snprintf(args, sizeof args, "recommend --model %s/m2.gatrec --user nobody -k 3", dir);
    expect_cli(args, 1, "unknown user 'nobody'");
    snprintf(args, sizeof args, "recommend --model %s/m2.gatrec --new-user \"\" --rated 'item-0050:5,item-9999:4' -k 3", dir);
    expect_cli(args, 1, "unknown item 'item-9999'");
    snprintf(args, sizeof args, "recommend --model %s/m0.gatrec --user user-0001 -k 3", dir);
    expect_cli(args, 2, "'user-0001' is not a user id");
    rm_tree(dir);
    free(dir);
}
END_TEST

/* gatrec data import refuses what it cannot use, and writes nothing then (no data needed) */
START_TEST(test_cli_import_refusals)
{
    char *dir = make_temp_dir(), args[4400], *f;
    struct stat st;
    f = write_file(dir, "one.csv", "user,item\na,x\na,y\n", 0);
    snprintf(args, sizeof args, "data import --events %s --out %s/d", f, dir);
    expect_cli(args, 1, "names 1 user and 2 items: a recommender needs at least two of each; nothing was written");
    free(f);
    snprintf(args, sizeof args, "%s/d", dir);
    ck_assert_int_ne(stat(args, &st), 0);
    f = write_file(dir, "bad.csv", "user,item,rating\na,x,5\nb,y,7\n", 0);
    snprintf(args, sizeof args, "data import --events %s --rating-column rating --out %s/d", f, dir);
    expect_cli(args, 1, "bad.csv:3: rating 7 outside 1..5");
    snprintf(args, sizeof args, "data import --events %s --out %s/d --duplicates sometimes", f, dir);
    expect_cli(args, 2, "--duplicates must be default, sum, max, last or error");
    snprintf(args, sizeof args, "data import --events %s --out %s/d --rating-min 0", f, dir);
    expect_cli(args, 2, "go with --rating-column");
    free(f);
    f = write_file(dir, "ok.csv", "user,item\na,x\nb,y\nb,x\n", 0);
    snprintf(args, sizeof args, "data import --events %s --out %s/d", f, dir);
    expect_cli(args, 0, "imported 3 user-item pairs (implicit: every one liked) of 2 users and 2 items");
    snprintf(args, sizeof args, "data import --events %s --out %s/d > /dev/full", f, dir);
    expect_cli(args, 1, NULL); /* the message went to /dev/full too: the exit status says it */
    snprintf(args, sizeof args, "train --dataset %s/d --split random:0.5 --model ease --out %s/m.gatrec", dir, dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args, "recommend --model %s/m.gatrec --user a -k 1 --json", dir);
    expect_cli(args, 0, "\"user_id\": \"a\"");
    free(f);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* The train-and-evaluate of one feature file on the shop's cold-items split: NDCG@10 among the
 * new items */
static double shop_new_items_ndcg(const char *dir, const char *features)
{
    char args[4400], *out, *at;
    double ndcg;
    int st;
    snprintf(args, sizeof args, "train --dataset %s/shop --split cold-items:0.2 --model attn --epochs 2 --threads 1 "
             "--features %s/%s --out %s/m.gatrec", dir, dir, features, dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args, "eval --model %s/m.gatrec -k 10 --rank-among cold --json", dir);
    out = run_cli(args, &st);
    ck_assert_msg(st == 0 && (at = strstr(out, "\"ndcg\": ")), "gatrec %s said: %s", args, out);
    ndcg = atof(at + 8);
    free(out);
    return ndcg;
}

/* Own data with no MovieLens (issue 23): on the generator's shop, whose catalogue words carry each
 * product's planted taste, attn given the catalogue's text ranks new products far better than
 * attn given the same vectors moved to other products (text that says nothing about them). */
START_TEST(test_cli_catalogue_text_helps_new_items)
{
    const char *synth = getenv("GATREC_SYNTH");
    char *dir = make_temp_dir(), args[4400], path[4200], *text, *p;
    double real, moved;
    FILE *f;
#ifdef GATREC_TEST_SANITIZED
    (void)synth, (void)args, (void)path, (void)text, (void)p, (void)real, (void)moved, (void)f;
    rm_tree(dir);
    free(dir);
    SKIP_QUALITY_UNDER_SANITIZERS();
#endif
    ck_assert_msg(synth != NULL, "GATREC_SYNTH is not set (run through make check)");
    snprintf(args, sizeof args, "'%s' --generic '%s' small > /dev/null", synth, dir);
    ck_assert_int_eq(system(args), 0);
    snprintf(args, sizeof args, "data import --events %s/events.csv --user-column customer --item-column sku "
             "--weight-column plays --time-column when --items %s/items.csv --domain products --out %s/shop",
             dir, dir, dir);
    expect_cli(args, 0, "of 1200 users and 900 products");
    snprintf(args, sizeof args, "profiles generate --dataset %s/shop --split cold-items:0.2 --out %s/p.jsonl", dir, dir);
    expect_cli(args, 0, NULL);
    snprintf(args, sizeof args, "embed --dataset %s/shop --profiles %s/p.jsonl --embedder lsa --out %s/text.tsv", dir,
             dir, dir);
    expect_cli(args, 0, "900 items embedded");
    /* a profile by the product's own id, looked up in the dataset it was imported into */
    snprintf(args, sizeof args, "profiles show --profiles %s/p.jsonl --item sku-00040 --dataset %s/shop", dir, dir);
    expect_cli(args, 0, "Product 41.");
    snprintf(args, sizeof args, "profiles show --profiles %s/p.jsonl --item sku-00040", dir);
    expect_cli(args, 2, "give the --dataset DIR it was imported into");
    snprintf(args, sizeof args, "profiles show --profiles %s/p.jsonl --user nobody --dataset %s/shop", dir, dir);
    expect_cli(args, 1, "user 'nobody' is not in the dataset");
    /* the control: each item row takes the vector of the item 7 rows further on */
    snprintf(path, sizeof path, "%s/text.tsv", dir);
    ck_assert_ptr_nonnull(text = slurp(path));
    snprintf(path, sizeof path, "%s/moved.tsv", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    {
        char *rows[4096], *vecs[4096];
        size_t n = 0;
        for (p = strtok(text, "\n"); p; p = strtok(NULL, "\n"))
            if (strncmp(p, "item\t", 5) == 0 && n < 4096) {
                rows[n] = p;
                vecs[n++] = strchr(p + 5, '\t');
            } else {
                fprintf(f, "%s\n", p); /* the header and the users as they are */
            }
        ck_assert_uint_eq(n, 900);
        for (size_t k = 0; k < n; k++)
            fprintf(f, "%.*s%s\n", (int)(vecs[k] - rows[k]), rows[k], vecs[(k + 7) % n]);
        ck_assert_int_eq(fclose(f), 0);
    }
    free(text);
    real = shop_new_items_ndcg(dir, "text.tsv");
    moved = shop_new_items_ndcg(dir, "moved.tsv");
    ck_assert_msg(real > 0.07 && real > 1.5 * moved, "new items, NDCG@10 among them: catalogue text %.4f, moved %.4f",
                  real, moved);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *movielens_suite(void)
{
    Suite *s = suite_create("movielens-100k");
    TCase *t = tcase_create("integration");
    tcase_set_timeout(t, 600); /* the quality guard trains three models (slow under the sanitizers) */
    tcase_add_test(t, test_ml100k_counts_and_splits);
    tcase_add_test(t, test_ml100k_popularity_u1);
    tcase_add_test(t, test_cli_end_to_end);
    tcase_add_test(t, test_cli_output_lost_or_overwritten);
    tcase_add_test(t, test_cli_profiles_import_other_dataset);
    tcase_add_test(t, test_cli_gat);
    tcase_add_test(t, test_cli_anchors);
    tcase_add_test(t, test_cli_attn);
    tcase_add_test(t, test_quality_guard);
    tcase_add_test(t, test_cli_own_data_same_as_movielens);
    tcase_add_test(t, test_cli_import_refusals);
    tcase_add_test(t, test_cli_catalogue_text_helps_new_items);
    suite_add_tcase(s, t);
    return s;
}
