/* The MPI build's tests (make MPI=1 check-mpi; issue 15): `gatrec` under `mpirun -np P` for
 * P = 1, 2, 3 on one machine (--oversubscribe; --allow-run-as-root when root), on a small
 * planted-taste log this program writes itself. Data-parallel training gives one process's model
 * (the same lists, NDCG within 1e-3); sharded `recommend --all` and `eval` print one process's
 * bytes; `profiles generate` shards the nodes over the ranks against one scripted endpoint on
 * 127.0.0.1, asks each node once and writes one process's file. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../llm_server.h"

enum { USERS = 240, ITEMS = 90, GROUPS = 3 };

static char dir[256]; /* scratch: the log, models, lists */

/* ML-1M's layout: users of group g rate 14 of group g's items well and 4 others badly. */
static void write_log(void)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/log", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/log/ratings.dat", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    for (int u = 0; u < USERS; u++) {
        int g = u % GROUPS, per = ITEMS / GROUPS;
        for (int k = 0; k < 14; k++)
            /* 4 or 5 by the bits of u: no two users rate alike, so no two users' profile prompts are the
               same (ranks asking the same prompt for two nodes at once would both ask) */
            fprintf(f, "%d::%d::%d::%d\n", u + 1, g * per + (u * 7 + k) % per + 1, 4 + ((u >> (k % 8)) & 1),
                    978300000 + k);
        for (int k = 0; k < 4; k++)
            fprintf(f, "%d::%d::%d::%d\n", u + 1, ((g + 1) % GROUPS) * per + (u * 3 + k * 7) % per + 1, 1 + k % 2,
                    978300100 + k);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/log/movies.dat", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    for (int i = 0; i < ITEMS; i++)
        fprintf(f, "%d::Planted item %d (2000)::%s\n", i + 1, i + 1, i < ITEMS / GROUPS ? "Drama" : "Comedy");
    fclose(f);
    snprintf(path, sizeof path, "%s/log/users.dat", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    for (int u = 0; u < USERS; u++)
        fprintf(f, "%d::%c::25::%d::00000\n", u + 1, u % 2 ? 'F' : 'M', u % 21);
    fclose(f);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s/gatrec-mpi-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_log();
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1); /* containers forbid cross-memory attach */
}

static void teardown(void)
{
    if (getenv("KEEP_MPI_DIR"))
        return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* `gatrec ARGS` under `mpirun -np P` (P = 0: plain, no mpirun); its standard output, and status */
static char *run(int P, const char *args, int *status)
{
    char cmd[4096], mpi[256] = "";
    const char *cli = getenv("GATREC_CLI");
    FILE *p;
    size_t cap = 1 << 16, n = 0, got;
    char *out = malloc(cap);
    ck_assert_msg(cli != NULL, "GATREC_CLI is not set (run through make MPI=1 check-mpi)");
    if (P > 0)
        snprintf(mpi, sizeof mpi, "mpirun -np %d --oversubscribe%s ", P, geteuid() == 0 ? " --allow-run-as-root" : "");
    snprintf(cmd, sizeof cmd, "cd '%s' && %s'%s' %s", dir, mpi, cli, args);
    ck_assert_ptr_nonnull(p = popen(cmd, "r"));
    while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 == cap)
            ck_assert_ptr_nonnull(out = realloc(out, cap *= 2));
    }
    out[n] = '\0';
    *status = WEXITSTATUS(pclose(p));
    return out;
}

static char *run_ok(int P, const char *args)
{
    int st;
    char *out = run(P, args, &st);
    ck_assert_msg(st == 0, "mpirun -np %d gatrec %s: exit %d, said: %s", P, args, st, out);
    return out;
}

static double ndcg_of(const char *json)
{
    const char *p = strstr(json, "\"ndcg\": ");
    ck_assert_msg(p != NULL, "no ndcg in: %s", json);
    return atof(p + 8);
}

/* the share of the lines of a that b has at the same place */
static double same_lines(const char *a, const char *b)
{
    size_t same = 0, lines = 0;
    while (*a) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        lines++;
        same += la == lb && memcmp(a, b, la) == 0;
        a += la + (a[la] != 0);
        b += lb + (b[lb] != 0);
    }
    return lines ? (double)same / (double)lines : 0;
}

static const char *const trainings[] = {
    "--model bpr --epochs 12 --lr 0.01 --optimizer dense",
    "--model bpr --epochs 12 --lr 0.01 --optimizer lazy --loss softmax",
    "--model attn --inputs id --dim 32 --epochs 4",
};

/* P ranks train one process's model: the same lists for (nearly) every user, the same NDCG */
START_TEST(data_parallel_training_is_one_process)
{
    char args[1024], *one, *list1, *eval1;
    snprintf(args, sizeof args, "train --dataset ./log --split random:0.2 --threads 1 %s --out m1.model", trainings[_i]);
    free(run_ok(1, args));
    list1 = run_ok(0, "recommend --model m1.model --all -k 10 --csv");
    eval1 = run_ok(0, "eval --model m1.model -k 10 --json");
    for (int P = 2; P <= 3; P++) {
        char *list, *ev;
        snprintf(args, sizeof args, "train --dataset ./log --split random:0.2 --threads 1 %s --out m%d.model",
                 trainings[_i], P);
        one = run_ok(P, args);
        ck_assert_msg(strstr(one, "trained ") != NULL, "rank 0 reports the training: %s", one);
        ck_assert_msg(strstr(strstr(one, "trained ") + 1, "trained ") == NULL, "only rank 0 prints: %s", one);
        free(one);
        snprintf(args, sizeof args, "recommend --model m%d.model --all -k 10 --csv", P);
        list = run_ok(0, args);
        snprintf(args, sizeof args, "eval --model m%d.model -k 10 --json", P);
        ev = run_ok(0, args);
        ck_assert_msg(same_lines(list1, list) >= 0.99, "%s on %d ranks: only %.3f of the list lines are one "
                      "process's", trainings[_i], P, same_lines(list1, list));
        ck_assert_msg(fabs(ndcg_of(ev) - ndcg_of(eval1)) < 1e-3, "%s on %d ranks: NDCG %s against %s", trainings[_i],
                      P, ev, eval1);
        free(list);
        free(ev);
    }
    ck_assert_msg(ndcg_of(eval1) > 0.2, "the planted groups were not learned: %s", eval1);
    free(list1);
    free(eval1);
}
END_TEST

/* One rank fails (issue 24, item 18): rank 1 is given an option its model refuses while rank 0
 * trains and waits for it in the first allreduce. Every rank ends, in bounded time, non-zero,
 * with the failing rank's own message; nothing is written. */
START_TEST(one_failing_rank_ends_every_rank)
{
    char cmd[4096], out[1 << 16];
    const char *cli = getenv("GATREC_CLI"), *root = geteuid() == 0 ? " --allow-run-as-root" : "";
    const char *train = "train --dataset ./log --split random:0.2 --threads 1 --model bpr --epochs 200";
    size_t n;
    int st;
    FILE *p;
    struct stat sb;
    snprintf(cmd, sizeof cmd, "cd '%s' && timeout 120 mpirun --oversubscribe%s -np 1 '%s' %s --out f.model : -np 1 '%s' "
             "%s --features no-such.tsv --out f.model 2>&1", dir, root, cli, train, cli, train);
    ck_assert_ptr_nonnull(p = popen(cmd, "r"));
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    st = WEXITSTATUS(pclose(p));
    ck_assert_msg(st != 0 && st != 124, "a failing rank: exit %d (124: the others waited), said: %s", st, out);
    ck_assert_msg(strstr(out, "--features is for") != NULL, "the failing rank's reason is not said: %s", out);
    snprintf(cmd, sizeof cmd, "%s/f.model", dir);
    ck_assert_msg(stat(cmd, &sb) != 0, "a model was written");
}
END_TEST

/* recommend --all and eval, users sharded over the ranks: one process's bytes */
START_TEST(sharded_serving_is_one_process)
{
    char *plain, *ev, *sh;
    free(run_ok(0, "train --dataset ./log --split random:0.2 --model bpr --epochs 8 --out s.model"));
    plain = run_ok(0, "recommend --model s.model --all -k 7 --csv");
    ev = run_ok(0, "eval --model s.model -k 10 --json");
    for (int P = 1; P <= 3; P++) {
        sh = run_ok(P, "recommend --model s.model --all -k 7 --csv");
        ck_assert_msg(strcmp(plain, sh) == 0, "recommend --all on %d ranks differs from one process", P);
        free(sh);
        free(run_ok(P, "recommend --model s.model --all -k 7 --csv --out s.csv"));
        free(run_ok(0, "recommend --model s.model --all -k 7 --csv --out one.csv"));
        char cmp[600];
        snprintf(cmp, sizeof cmp, "cmp -s '%s/s.csv' '%s/one.csv'", dir, dir);
        ck_assert_msg(system(cmp) == 0, "recommend --all --out on %d ranks wrote another file", P);
        sh = run_ok(P, "eval --model s.model -k 10 --json");
        ck_assert_msg(strcmp(ev, sh) == 0, "eval on %d ranks said %s, one process %s", P, sh, ev);
        free(sh);
    }
    {
        int st;
        sh = run(2, "recommend --model s.model --all -k 7 --csv --rerank list 2>&1", &st);
        ck_assert_msg(st == 2 && strstr(sh, "under mpirun") != NULL, "a reranked --all under mpirun: exit %d, %s", st,
                      sh);
        free(sh);
    }
    free(plain);
    free(ev);
}
END_TEST

/* The scripted model: an item's profile names its title; a user's is JSON naming a hash of the
 * prompt, so that the same prompt gets the same profile in any process. */
static char *writer(const char *body, void *ctx)
{
    char *out = malloc(256);
    const char *movie = strstr(body, "Movie: ");
    unsigned long h = 5381;
    (void)ctx;
    for (const char *c = body; *c; c++)
        h = h * 33 + (unsigned char)*c;
    if (movie)
        snprintf(out, 256, "## Overview\n%.*s, briefly", (int)strcspn(movie + 7, "\\"), movie + 7);
    else
        snprintf(out, 256, "{\"user_profile\": \"Likes taste %lu films.\"}", h % 100000);
    return out;
}

/* profiles generate: the nodes sharded over the ranks against one endpoint, each asked once,
 * rank 0 writing the whole file: one process's file */
START_TEST(profiles_sharded_against_one_endpoint)
{
    llm_server *s = llm_server_start();
    char args[2048], path[1200], *one, *many;
    int st;
    llm_server_set_chat(s, writer, NULL);
    llm_server_set_models(s, "toy");
    snprintf(args, sizeof args, "profiles generate --dataset ./log --split random:0.2 --llm %s --cache c1 "
             "--no-templates --out p1.jsonl", llm_server_url(s));
    free(run_ok(0, args));
    unsigned nodes = llm_server_requests(s); /* one request per node */
    ck_assert_uint_ge(nodes, (USERS + ITEMS) * 9 / 10);
    for (int P = 2; P <= 3; P++) {
        unsigned before = llm_server_requests(s);
        snprintf(args, sizeof args, "profiles generate --dataset ./log --split random:0.2 --llm %s --cache c%d "
                 "--no-templates --out p%d.jsonl", llm_server_url(s), P, P);
        free(run_ok(P, args));
        ck_assert_msg(llm_server_requests(s) - before == nodes, "%d ranks asked %u times for %u nodes", P,
                      llm_server_requests(s) - before, nodes);
        snprintf(path, sizeof path, "cmp -s '%s/p1.jsonl' '%s/p%d.jsonl'", dir, dir, P);
        ck_assert_msg(system(path) == 0, "%d ranks wrote another profile file than one process", P);
    }
    /* two ranks on one cache directory that already holds every answer: nothing is asked */
    {
        unsigned before = llm_server_requests(s);
        snprintf(args, sizeof args, "profiles generate --dataset ./log --split random:0.2 --llm %s --cache c2 "
                 "--no-templates --out again.jsonl", llm_server_url(s));
        free(run_ok(2, args));
        ck_assert_uint_eq(llm_server_requests(s), before);
    }
    one = run(0, "profiles show --profiles p1.jsonl --item 3", &st);
    many = run(0, "profiles show --profiles p3.jsonl --item 3", &st);
    ck_assert_str_eq(one, many);
    ck_assert_msg(strstr(one, "Planted item 3 (2000), briefly") != NULL, "%s", one);
    free(one);
    free(many);
    llm_server_stop(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("mpi");
    TCase *tc = tcase_create("mpirun");
    SRunner *sr;
    int failed;
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, data_parallel_training_is_one_process, 0,
                        (int)(sizeof trainings / sizeof *trainings));
    tcase_add_test(tc, sharded_serving_is_one_process);
    tcase_add_test(tc, one_failing_rank_ends_every_rank);
    tcase_add_test(tc, profiles_sharded_against_one_endpoint);
    suite_add_tcase(su, tc);
    sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
