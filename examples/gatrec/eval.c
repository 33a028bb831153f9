/* gatrec eval: a model (or a recommendation CSV) on its split's test part, both protocols,
 * cold-start folds and user slices. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "par.h"

/* Load the dataset and build the split an evaluation runs against. */
static int open_split(const char *cmd, const char *dataset, const char *spec, uint64_t seed, gatrec_dataset **ds,
                      gatrec_split **split)
{
    char dir[4096];
    int rc = cli_open_dataset(cmd, dataset, ds, dir, sizeof dir);
    if (rc)
        return rc;
    return cli_split(cmd, *ds, spec, seed, split);
}

static const char eval_usage[] =
    "usage: gatrec eval (--model MODEL | --recs FILE --dataset NAME|DIR --split SPEC)\n"
    "                   [--seed N] [--protocol standard|paper] [-k K[,K...]] [--threshold R]\n"
    "                   [--min-train N] [--max-train N] [--part test|valid]\n"
    "                   [--rank-among all|cold] [--force] [--json]\n"
    "\n"
    "Scores a model's top-K lists, or a CSV of recommendations (header user_id,item_id,rank;\n"
    "dataset ids; other columns ignored), against the test part of the split. A model is\n"
    "evaluated on the dataset, split and seed it records unless --dataset, --split or --seed\n"
    "say otherwise; a random split needs the seed it was made with (default 1).\n"
    "standard: full ranking, denominators K, users with a relevant test item.\n"
    "paper:    the protocol of arXiv 2508.01514: the top-K is filtered to each user's test\n"
    "          items before scoring (docs/evaluation.md says exactly how).\n"
    "A test rating >= R (default 4) is relevant. Defaults: --protocol standard -k 10.\n"
    "Several cut-offs (-k 5,10,20,50) print one result each (one JSON line each with --json).\n"
    "--min-train/--max-train: only users with that many training ratings (a cold-start slice).\n"
    "--part valid: score against the split's validation part instead (a split such as\n"
    "u1+valid:0.1), to choose settings under either protocol without looking at the test.\n"
    "Cold start: on a cold-users:R[:N] split each held-out user's N revealed ratings are folded\n"
    "into the model first (attn, gat, ease, content, pop; bpr and lightgcn cannot, and say so).\n"
    "--rank-among\n"
    "cold ranks only the items without training ratings (a cold-items:R split's held-out items);\n"
    "bpr, lightgcn, ease and pop cannot score those items: among all items (the default) they\n"
    "rank them last, and --rank-among cold is refused for them.\n"
    "A model is not scored against other data than it was trained on (train records the dataset's\n"
    "fingerprint), nor against ratings it trained on (another split or seed than its own):\n"
    "--force does it anyway.\n";

/* What an evaluation ran on, for its report. */
typedef struct eval_setting {
    int part;
    const char *source, *split, *among;
    long long seed;
    long folded; /* cold users folded in; -1 when the model could not */
} eval_setting;

static void print_metrics(const gatrec_metrics *mt, const eval_setting *es, int json)
{
    const char *proto = mt->protocol == GATREC_PROTOCOL_PAPER ? "paper" : "standard";
    const char *pname = es->part == GATREC_PART_VALID ? "valid" : "test";
    if (json) {
        printf("{\"protocol\": \"%s\", \"k\": %zu, \"users\": %zu, \"precision\": %.6f, \"recall\": %.6f, "
               "\"ndcg\": %.6f, \"map\": %.6f, \"hit_rate\": %.6f, \"mrr\": %.6f, \"coverage\": %.6f, "
               "\"novelty\": %.6f, \"part\": \"%s\", \"rank_among\": \"%s\", \"folded_users\": %ld, \"split\": ",
               proto, mt->k, mt->users, mt->precision, mt->recall, mt->ndcg, mt->map, mt->hit_rate, mt->mrr,
               mt->coverage, mt->novelty, pname, es->among, es->folded);
        cli_json_string(stdout, es->split);
        printf(", \"seed\": %lld, \"source\": ", es->seed);
        cli_json_string(stdout, es->source);
        printf("}\n");
        return;
    }
    printf("%s, protocol %s, K = %zu, %zu users%s%s\n", es->source, proto, mt->k, mt->users,
           es->part == GATREC_PART_VALID ? ", validation part" : "",
           strcmp(es->among, "cold") == 0 ? ", ranked among the items without training ratings" : "");
    printf("  precision %.4f  recall %.4f  ndcg %.4f  map %.4f\n", mt->precision, mt->recall, mt->ndcg, mt->map);
    printf("  hit rate  %.4f  mrr    %.4f  coverage %.4f  novelty %.3f\n", mt->hit_rate, mt->mrr, mt->coverage,
           mt->novelty);
}

/* The kinds that know nothing of an item without training ratings. */
static int transductive_items(const gatrec_model *m)
{
    int k = gatrec_model_get_kind(m);
    return k == GATREC_MODEL_POP || k == GATREC_MODEL_BPR || k == GATREC_MODEL_LIGHTGCN || k == GATREC_MODEL_EASE ||
           (k == GATREC_MODEL_ATTN && gatrec_model_feature_dim(m) == 0); /* attn without text */
}

/* A model's lists on a possibly cold split: the cold users' revealed ratings folded in first,
 * and only the items without training ratings ranked when cold_only. */
static int cold_start(gatrec_model *m, const gatrec_dataset *ds, const gatrec_split *split, int cold_only, size_t k,
                      long *folded, gatrec_reclist **list)
{
    const char *kind = gatrec_model_kind_name(gatrec_model_get_kind(m));
    int32_t *cand = NULL;
    size_t n = 0, f = 0;
    int rc;
    *folded = 0;
    if (gatrec_split_count(split, GATREC_PART_REVEAL) > 0) {
        rc = gatrec_model_fold_in_revealed(m, ds, split, &f);
        if (rc == GATREC_EUNSUPPORTED) {
            fprintf(stderr, "gatrec eval: note: a %s model cannot fold in the cold users' revealed ratings: their "
                    "lists come from what it learned without them\n", kind);
            *folded = -1;
        } else if (rc) {
            return cli_fail("eval", rc);
        } else {
            *folded = (long)f;
        }
    }
    if (!cold_only)
        return (rc = par_recommend_all(m, k, NULL, 0, list)) ? cli_fail("eval", rc) : EXIT_OK;
    if (!(cand = malloc((gatrec_model_num_items(m) + 1) * sizeof *cand)))
        return cli_fail("eval", GATREC_ENOMEM);
    for (int32_t i = 0; (size_t)i < gatrec_model_num_items(m); i++) {
        size_t r;
        if (gatrec_model_item_popularity(m, i, &r, NULL) == 0 && r == 0)
            cand[n++] = i;
    }
    if (!n) {
        free(cand);
        fprintf(stderr, "gatrec eval: --rank-among cold: every item has training ratings (use a cold-items:R split)\n");
        return EXIT_FAIL;
    }
    if (transductive_items(m)) { /* its ties would follow the item ids, which in MovieLens follow popularity */
        free(cand);
        fprintf(stderr, "gatrec eval: a %s model cannot score items without training ratings, so ranking only "
                "them means nothing (among all items it ranks them last): use content or gat\n", kind);
        return EXIT_FAIL;
    }
    rc = par_recommend_all(m, k, cand, n, list);
    free(cand);
    return rc ? cli_fail("eval", rc) : EXIT_OK;
}

int cmd_eval(int argc, char **argv)
{
    const char *model_path = NULL, *recs = NULL, *spec = NULL, *sp = NULL, *seed_s = NULL, *proto = "standard",
               *k_s = "10", *thr_s = NULL, *min_s = NULL, *max_s = NULL, *part_s = "test", *among_s = "all";
    int json = 0, force = 0, rc;
    cli_opt opts[] = {{"--model", &model_path, NULL}, {"--recs", &recs, NULL},      {"--dataset", &spec, NULL},
                      {"--split", &sp, NULL},         {"--seed", &seed_s, NULL},     {"--protocol", &proto, NULL},
                      {"-k", &k_s, NULL},             {"--threshold", &thr_s, NULL}, {"--json", NULL, &json},
                      {"--min-train", &min_s, NULL},  {"--max-train", &max_s, NULL}, {"--part", &part_s, NULL},
                      {"--rank-among", &among_s, NULL}, {"--force", NULL, &force}, {NULL, NULL, NULL}};
    gatrec_eval_options eo = GATREC_EVAL_OPTIONS_INIT;
    gatrec_metrics mt = {.version = GATREC_METRICS_VERSION};
    gatrec_model *m = NULL;
    gatrec_dataset *ds = NULL;
    gatrec_split *split = NULL;
    gatrec_reclist *list = NULL;
    long long ks[16], seed = 1, bound;
    char dsbuf[4200];
    size_t nk = 0, kmax = 0;
    char *end;
    rc = cli_parse(argc, argv, 2, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(eval_usage, stdout), EXIT_OK) : rc;
    if (!model_path == !recs)
        return cli_usage_error("eval", "%s", "give either --model MODEL or --recs FILE");
    if (recs && (!spec || !sp))
        return cli_usage_error("eval", "%s", "--recs needs --dataset and --split");
    static const char *const protocols[] = {"standard", "paper"}, *const parts[] = {"test", "valid"},
                             *const amongs[] = {"all", "cold"};
    int which_proto = cli_choice("eval", "--protocol", proto, protocols, 2), which_part, cold_only;
    if (which_proto < 0 || (which_part = cli_choice("eval", "--part", part_s, parts, 2)) < 0 ||
        (cold_only = cli_choice("eval", "--rank-among", among_s, amongs, 2)) < 0)
        return EXIT_USAGE;
    if (cold_only && !model_path)
        return cli_usage_error("eval", "%s", "--rank-among cold ranks a model's scores: give --model");
    eval_setting es = {0, NULL, NULL, among_s, 1, 0};
    eo.protocol = which_proto == 0 ? GATREC_PROTOCOL_STANDARD : GATREC_PROTOCOL_PAPER;
    eo.part = which_part == 0 ? GATREC_PART_TEST : GATREC_PART_VALID;
    for (const char *p = k_s;; p++) { /* -k K[,K...] */
        char one[32];
        size_t len = strcspn(p, ",");
        if (nk == sizeof ks / sizeof *ks || len == 0 || len >= sizeof one)
            return cli_usage_error("eval", "-k takes up to 16 cut-offs separated by commas, not '%s'", k_s);
        memcpy(one, p, len);
        one[len] = '\0';
        if ((ks[nk] = cli_number("eval", "-k", one, 1, 100000)) < 0)
            return EXIT_USAGE;
        kmax = (size_t)ks[nk] > kmax ? (size_t)ks[nk] : kmax;
        nk++;
        p += len;
        if (!*p)
            break;
    }
    if (min_s && (bound = cli_number("eval", "--min-train", min_s, 0, 0x7fffffffLL)) < 0)
        return EXIT_USAGE;
    eo.min_train_ratings = min_s ? (size_t)bound : 0;
    if (max_s && (bound = cli_number("eval", "--max-train", max_s, 1, 0x7fffffffLL)) < 0)
        return EXIT_USAGE;
    eo.max_train_ratings = max_s ? (size_t)bound : 0;
    if (thr_s && (eo.relevance_threshold = strtof(thr_s, &end), *end || end == thr_s))
        return cli_usage_error("eval", "--threshold must be a number, not '%s'", thr_s);
    if (model_path) {
        if ((rc = gatrec_model_load(model_path, &m))) {
            rc = cli_fail("eval", rc);
            goto done;
        }
        spec = spec ? spec : cli_model_dataset_dir(m, "eval", dsbuf, sizeof dsbuf);
        sp = sp ? sp : gatrec_model_info(m, "split");
        seed_s = seed_s ? seed_s : gatrec_model_info(m, "seed");
        if (!spec || !sp) {
            rc = cli_usage_error("eval", "%s", "no dataset or split to evaluate on (the model records none, or its "
                                 "dataset folder is gone): give --dataset and --split");
            goto done;
        }
    }
    if (seed_s && (seed = cli_number("eval", "--seed", seed_s, 0, 0x7fffffffffffffffLL)) < 0) {
        rc = EXIT_USAGE;
        goto done;
    }
    if ((rc = open_split("eval", spec, sp, (uint64_t)seed, &ds, &split)))
        goto done;
    if (!thr_s) /* the dataset's liked threshold: 4 for MovieLens, every event for an implicit log */
        gatrec_dataset_semantics(ds, &eo.relevance_threshold, NULL, NULL, NULL);
    if (m && (gatrec_dataset_num_users(ds) != gatrec_model_num_users(m) ||
              gatrec_dataset_num_items(ds) != gatrec_model_num_items(m))) {
        fprintf(stderr, "gatrec eval: the model has %zu users and %zu items, the dataset %zu and %zu\n",
                gatrec_model_num_users(m), gatrec_model_num_items(m), gatrec_dataset_num_users(ds),
                gatrec_dataset_num_items(ds));
        rc = EXIT_FAIL;
        goto done;
    }
    if (m && !force && gatrec_model_info(m, "dataset_sha256")) { /* other data with the same shape: refused */
        char sha[65];
        if ((rc = gatrec_dataset_fingerprint(ds, sha))) {
            rc = cli_fail("eval", rc);
            goto done;
        }
        if (strcmp(sha, gatrec_model_info(m, "dataset_sha256")) != 0) {
            fprintf(stderr, "gatrec eval: the model was trained on other data than %s (its ratings differ from the "
                    "ones the model recorded, dataset %s): evaluate on its own dataset, or --force\n", spec,
                    gatrec_model_info(m, "dataset") ? gatrec_model_info(m, "dataset") : "?");
            rc = EXIT_FAIL;
            goto done;
        }
    }
    if (m && !force) { /* scoring ratings the model trained on would mean nothing, silently */
        size_t overlap = 0;
        if ((rc = gatrec_model_count_trained(m, ds, split, eo.part, &overlap))) {
            rc = cli_fail("eval", rc);
            goto done;
        }
        if (overlap) {
            fprintf(stderr, "gatrec eval: %zu of the %zu %s ratings of split %s (seed %lld) are ratings the model "
                    "trained on (it records split %s, seed %s): evaluate on its own split and seed, or --force\n",
                    overlap, gatrec_split_count(split, eo.part), eo.part == GATREC_PART_VALID ? "validation" : "test",
                    sp, seed, gatrec_model_info(m, "split") ? gatrec_model_info(m, "split") : "?",
                    gatrec_model_info(m, "seed") ? gatrec_model_info(m, "seed") : "?");
            rc = EXIT_FAIL;
            goto done;
        }
    }
    if (m && (rc = cold_start(m, ds, split, cold_only, kmax, &es.folded, &list)))
        goto done;
    if (par_rank() > 0) { /* under mpirun: rank 0 holds the gathered lists and reports */
        rc = EXIT_OK;
        goto done;
    }
    if (!m && (rc = gatrec_reclist_load_csv(ds, recs, &list))) {
        rc = cli_fail("eval", rc);
        goto done;
    }
    es.part = eo.part;
    es.source = model_path ? model_path : recs;
    es.split = sp;
    es.seed = seed;
    for (size_t j = 0; j < nk; j++) {
        eo.k = (size_t)ks[j];
        if ((rc = gatrec_evaluate(ds, split, list, &eo, &mt))) {
            rc = cli_fail("eval", rc);
            goto done;
        }
        if (mt.users == 0) { /* zeros over nobody would read as a (terrible) result */
            fprintf(stderr, "gatrec eval: no user to evaluate: none %s a test rating >= %g%s\n",
                    eo.min_train_ratings || eo.max_train_ratings ? "in the --min-train/--max-train slice has" : "has",
                    eo.relevance_threshold, eo.protocol == GATREC_PROTOCOL_PAPER ? " among their recommendations" : "");
            rc = EXIT_FAIL;
            goto done;
        }
        print_metrics(&mt, &es, json);
    }
    rc = EXIT_OK;
done:
    gatrec_reclist_free(list);
    gatrec_split_free(split);
    gatrec_dataset_free(ds);
    gatrec_model_free(m);
    return rc;
}
