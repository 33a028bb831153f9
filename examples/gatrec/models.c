/* gatrec train / eval / recommend. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "par.h"

static const char train_usage[] =
    "usage: gatrec train [--dataset NAME|DIR] [--split SPEC]\n"
    "                    [--model pop|bpr|lightgcn|gat|ease|content|attn]\n"
    "                    [--features FILE] [--freeze-features] [--preset paper|paper-nollm]\n"
    "                    [--epochs N] [--layers SPEC] [--dim N] [--propagation N] [--lr X]\n"
    "                    [--weight-decay X] [--feature-weight-decay X] [--cos-weight X] [--dropout X]\n"
    "                    [--lr-patience N] [--lr-factor X] [--negatives N]\n"
    "                    [--sampling robust|uniform|popularity|hard] [--batch N] [--patience N]\n"
    "                    [--eval-k K] [--kernels fast|reference] [--no-edge-attr] [--no-layernorm]\n"
    "                    [--no-residual] [--no-self-loops] [--embedder FILE] [--liked R] [--seed N]\n"
    "                    [--threads N] [--lambda L] [--loss bpr|softmax] [--temperature T]\n"
    "                    [--uniformity W] [--inputs id+text|id|text] [--uniform-attention]\n"
    "                    [--attention-dim N] [--id-dropout X] [--align W] [--fanout N]\n"
    "                    [--optimizer auto|dense|lazy]\n"
    "                    --out MODEL [--json]\n"
    "\n"
    "Trains a model on the training part of the split and saves it to MODEL, together with the\n"
    "dataset directory, split and seed, so that 'gatrec eval --model MODEL' finds them again.\n"
    "When the split has a validation part (e.g. random:0.2:0.1), training early-stops on its\n"
    "NDCG@K; otherwise on the training loss. --json prints one JSON object per epoch and a\n"
    "summary; otherwise a progress line is drawn on a terminal.\n"
    "--features FILE: input features of the GAT, one line per node kind<TAB>id<TAB>v1 v2 ...\n"
    "(docs/features.md); without it the GAT learns random features of width --dim. The content\n"
    "model needs it (it scores the cosine of a user's mean liked item features and an item's).\n"
    "--lambda L: EASE's regularisation (default 250).\n"
    "--model attn: graph attention on ID + text shaped like LightGCN (docs/model.md): layer 0 is\n"
    "an ID embedding plus a linear map of the node's --features, --propagation N layers (default 2)\n"
    "of attention-weighted averaging, the mean of the layers read out; softmax loss by default.\n"
    "--inputs id: no text (the ablation); text: no ID table; --uniform-attention: LightGCN's degree\n"
    "weights instead of attention; --id-dropout X: drop a share X of the ID embeddings each step so\n"
    "that the text learns to stand in for them (new items); --align W: weight W of a contrastive\n"
    "alignment of each item's output with its mapped text (new items land where their ratings would\n"
    "have put them); --no-edge-attr: no rating in attention.\n"
    "--loss softmax (bpr, lightgcn, gat, attn): softmax cross-entropy on cosine scores over\n"
    "--temperature T (default 0.2), against every item (--negatives 0, the default) or N items\n"
    "sampled per step; --uniformity W adds DirectAU's uniformity term with weight W.\n"
    "--embedder FILE (from 'gatrec embed --embedder-out') is kept in the model, so that a new\n"
    "user's profile embeds like the training ones ('gatrec recommend --new-user').\n"
    "--liked R: a training rating >= R is a positive (default 4; 1 treats every rating as one).\n"
    "--fanout N (attn, gat): neighbour sampling - each step computes its batch on a subgraph\n"
    "keeping at most N neighbours of each node (mini-batches, --batch default then 4096; the\n"
    "softmax over --negatives, default then 1024, sampled items); memory and time per step stop\n"
    "growing with the graph; serving stays exact.\n"
    "--optimizer lazy (bpr; attn, gat with --fanout: their table): AdamW on the rows each step touches\n"
    "only, the skipped steps' decay applied when a row comes back (docs/scale.md); auto (the\n"
    "default) picks it for tables of more than 2^24 parameters (ML-20M-sized), dense below.\n"
    "--layers: GAT layers UNITSxHEADS[m],... (m: mean of the heads), default 64x4,64x4,64x1.\n"
    "--preset paper: the authors' configuration (learning rate 1e-3, no dropout, the rest as the\n"
    "defaults); paper-nollm: their \"GAT without LLM\" baseline (the same, with random 64-d\n"
    "features and the BPR loss only).\n"
    "Defaults: --dataset ml-100k --split u1 --model pop --seed 1 --threads 0 (all cores);\n"
    "the other defaults are each kind's, listed in docs/model.md.\n";

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct train_view {
    int json;
    int tty;
    int epochs, best_epoch;    /* for the summary */
    double best_valid;         /* the validation NDCG of the kept epoch (NaN without one) */
} train_view;

static int on_epoch(void *payload, const gatrec_epoch *ep)
{
    train_view *v = payload;
    v->epochs = ep->epoch;
    v->best_epoch = ep->best_epoch;
    if (ep->best_epoch == ep->epoch)
        v->best_valid = ep->valid_ndcg;
    if (v->json) {
        printf("{\"epoch\": %d, \"loss\": %.6f, \"bpr\": %.6f, \"cos\": %.6f, \"lr\": %.3g, \"seconds\": %.4f", ep->epoch,
               ep->loss, ep->bpr, ep->cos, ep->lr, ep->seconds);
        if (!isnan(ep->valid_ndcg))
            printf(", \"valid_ndcg\": %.6f", ep->valid_ndcg);
        printf(", \"best_epoch\": %d}\n", ep->best_epoch);
        fflush(stdout);
    } else if (v->tty) {
        fprintf(stderr, "\r  epoch %d/%d  loss %.4f (bpr %.4f, cos %.4f)", ep->epoch, ep->max_epochs, ep->loss, ep->bpr,
                ep->cos);
        if (!isnan(ep->valid_ndcg))
            fprintf(stderr, "  valid ndcg %.4f", ep->valid_ndcg);
        fprintf(stderr, "  %.2f s/epoch   ", ep->seconds);
    }
    return 0;
}

/* Numeric training options: name, where the text goes, and how it is stored. */
typedef struct num_opt {
    const char *name;
    const char *text;
    double lo, hi;
    int is_int;
    void *dst; /* int *, size_t * or float * by kind */
    int is_size;
} num_opt;

static int set_numbers(num_opt *nums, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        float v;
        if (!nums[k].text)
            continue;
        if (nums[k].is_int) {
            /* a minimum of 1 where 0 would silently mean "the kind's default" */
            long long x = cli_number("train", nums[k].name, nums[k].text, (long long)nums[k].lo, (long long)nums[k].hi);
            if (x < 0)
                return EXIT_USAGE;
            if (nums[k].is_size)
                *(size_t *)nums[k].dst = (size_t)x;
            else
                *(int *)nums[k].dst = (int)x;
        } else {
            if (cli_float("train", nums[k].name, nums[k].text, nums[k].lo, nums[k].hi, &v))
                return EXIT_USAGE;
            *(float *)nums[k].dst = v;
        }
    }
    return EXIT_OK;
}

/* "UNITSxHEADS[m],...": the shape of --layers (the library checks the sizes). */
static int layers_spec_ok(const char *s)
{
    for (;;) {
        char *end;
        long u = strtol(s, &end, 10), h;
        if (end == s || u < 1 || *end != 'x')
            return 0;
        s = end + 1;
        h = strtol(s, &end, 10);
        if (end == s || h < 1)
            return 0;
        s = end + (*end == 'm');
        if (!*s)
            return 1;
        if (*s++ != ',')
            return 0;
    }
}

/* Keep the embedder that made the features in the model, for new users' profiles later. */
static int attach_embedder(gatrec_model *m, const char *path)
{
    gatrec_embedder *e;
    int rc = gatrec_embedder_load(path, &e);
    if (!rc)
        rc = gatrec_model_set_embedder(m, e);
    gatrec_embedder_free(e);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    const char *spec = "ml-100k", *sp = "u1", *kind_s = "pop", *seed_s = "1", *threads_s = "0", *out = NULL;
    const char *features_path = NULL, *preset = NULL, *sampling = NULL, *embedder_path = NULL, *liked_s = NULL;
    const char *epochs_s = NULL, *dim_s = NULL, *prop_s = NULL, *lr_s = NULL, *wd_s = NULL, *cos_s = NULL,
               *drop_s = NULL, *neg_s = NULL, *batch_s = NULL, *pat_s = NULL, *evalk_s = NULL, *fwd_s = NULL,
               *lrpat_s = NULL, *lrfac_s = NULL, *lambda_s = NULL, *loss_s = NULL, *temp_s = NULL, *unif_s = NULL,
               *inputs_s = NULL, *adim_s = NULL, *iddrop_s = NULL, *align_s = NULL, *optim_s = NULL,
               *fanout_s = NULL;
    int json = 0, freeze = 0, no_attr = 0, no_ln = 0, no_res = 0, no_self = 0, uniform = 0, rc;
    gatrec_model_options mo = GATREC_MODEL_OPTIONS_INIT;
    cli_opt opts[] = {{"--dataset", &spec, NULL},       {"--split", &sp, NULL},
                      {"--model", &kind_s, NULL},       {"--seed", &seed_s, NULL},
                      {"--threads", &threads_s, NULL},  {"--out", &out, NULL},
                      {"--json", NULL, &json},          {"--features", &features_path, NULL},
                      {"--freeze-features", NULL, &freeze}, {"--preset", &preset, NULL},
                      {"--epochs", &epochs_s, NULL},    {"--layers", &mo.layers, NULL},
                      {"--dim", &dim_s, NULL},          {"--propagation", &prop_s, NULL},
                      {"--lr", &lr_s, NULL},            {"--weight-decay", &wd_s, NULL},
                      {"--cos-weight", &cos_s, NULL},   {"--dropout", &drop_s, NULL},
                      {"--negatives", &neg_s, NULL},    {"--sampling", &sampling, NULL},
                      {"--batch", &batch_s, NULL},      {"--patience", &pat_s, NULL},
                      {"--eval-k", &evalk_s, NULL},     {"--kernels", &mo.kernels, NULL},
                      {"--no-edge-attr", NULL, &no_attr}, {"--no-layernorm", NULL, &no_ln},
                      {"--no-residual", NULL, &no_res}, {"--no-self-loops", NULL, &no_self},
                      {"--embedder", &embedder_path, NULL}, {"--feature-weight-decay", &fwd_s, NULL},
                      {"--liked", &liked_s, NULL},      {"--lr-patience", &lrpat_s, NULL},
                      {"--lr-factor", &lrfac_s, NULL},  {"--lambda", &lambda_s, NULL},
                      {"--loss", &loss_s, NULL},        {"--temperature", &temp_s, NULL},
                      {"--uniformity", &unif_s, NULL},  {"--inputs", &inputs_s, NULL},
                      {"--uniform-attention", NULL, &uniform}, {"--attention-dim", &adim_s, NULL},
                      {"--id-dropout", &iddrop_s, NULL}, {"--align", &align_s, NULL},
                      {"--optimizer", &optim_s, NULL},  {"--fanout", &fanout_s, NULL},
                      {NULL, NULL, NULL}};
    num_opt nums[] = {
        {"--epochs", NULL, 1, 1000000, 1, &mo.epochs, 0},     {"--dim", NULL, 1, 65536, 1, &mo.dim, 1},
        {"--propagation", NULL, 0, 64, 1, &mo.propagation, 0}, {"--lr", NULL, 0, 10, 0, &mo.lr, 0},
        {"--weight-decay", NULL, 0, 10, 0, &mo.weight_decay, 0}, {"--cos-weight", NULL, 0, 1000, 0, &mo.cos_weight, 0},
        {"--dropout", NULL, 0, 0.99, 0, &mo.dropout, 0},      {"--negatives", NULL, 0, 1000000, 1, &mo.negatives, 0},
        {"--batch", NULL, 0, 1e12, 1, &mo.batch_size, 1},     {"--patience", NULL, 0, 1000000, 1, &mo.patience, 0},
        {"--eval-k", NULL, 0, 100000, 1, &mo.eval_k, 1},     {"--feature-weight-decay", NULL, 0, 100, 0, &mo.feature_weight_decay, 0},
        {"--lr-patience", NULL, 0, 1000000, 1, &mo.lr_patience, 0}, {"--lr-factor", NULL, 0.001, 1, 0, &mo.lr_factor, 0},
        {"--lambda", NULL, 1e-6, 1e12, 0, &mo.lambda, 0},     {"--temperature", NULL, 0.01, 100, 0, &mo.temperature, 0},
        {"--uniformity", NULL, 0, 1000, 0, &mo.uniformity, 0}, {"--attention-dim", NULL, 1, 1024, 1, &mo.attention_dim, 1},
        {"--id-dropout", NULL, 0, 0.99, 0, &mo.id_dropout, 0}, {"--align", NULL, 0, 1000, 0, &mo.align, 0},
        {"--fanout", NULL, 1, 65536, 1, &mo.fanout, 1}};
    const char **texts[] = {&epochs_s, &dim_s,   &prop_s,  &lr_s,  &wd_s,    &cos_s,     &drop_s,  &neg_s,
                            &batch_s,  &pat_s,   &evalk_s, &fwd_s, &lrpat_s, &lrfac_s, &lambda_s, &temp_s, &unif_s,
                            &adim_s,   &iddrop_s, &align_s, &fanout_s};
    train_view view = {0, 0, 0, 0, NAN};
    gatrec_graph_options go = GATREC_GRAPH_OPTIONS_INIT;
    gatrec_dataset *ds = NULL;
    gatrec_split *split = NULL;
    gatrec_graph *g = NULL, *valid = NULL;
    gatrec_model *m = NULL;
    float *features = NULL;
    char dir[4096], absdir[PATH_MAX], seedbuf[32];
    long long seed, threads;
    double t0;
    rc = cli_parse(argc, argv, 2, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(train_usage, stdout), EXIT_OK) : rc;
    if (!out)
        return cli_usage_error("train", "%s", "--out MODEL is required");
    if ((rc = cli_check_output("train", out))) /* before minutes of training, not after */
        return rc;
    if ((seed = cli_number("train", "--seed", seed_s, 0, 0x7fffffffffffffffLL)) < 0 ||
        (threads = cli_number("train", "--threads", threads_s, 0, 1024)) < 0)
        return EXIT_USAGE;
    if ((mo.kind = gatrec_model_kind_from_name(kind_s)) < 0)
        return cli_usage_error("train", "%s", gatrec_last_error());
    if (preset && strcmp(preset, "paper") == 0) {
        mo.layers = "64x4,64x4,64x1";
        mo.epochs = 300;
        mo.lr = 1e-3f;
        mo.dropout = 0.0f;
        mo.weight_decay = 1e-5f;
        mo.cos_weight = 1.0f;
        mo.negatives = 1;
        mo.batch_size = 0;
        mo.patience = 15;
    } else if (preset && strcmp(preset, "paper-nollm") == 0) {
        mo.layers = "64x4,64x4,64x1";
        mo.dim = 64;
        mo.lr = 1e-3f;
        mo.dropout = 0.0f;
        mo.cos_weight = 0.0f;
        mo.negatives = 1;
    } else if (preset) {
        return cli_usage_error("train", "--preset must be paper or paper-nollm, not '%s'", preset);
    }
    for (size_t k = 0; k < sizeof nums / sizeof *nums; k++)
        nums[k].text = *texts[k];
    if ((rc = set_numbers(nums, sizeof nums / sizeof *nums)))
        return rc;
    if (mo.kernels) {
        static const char *const tables[] = {"fast", "reference"};
        if (cli_choice("train", "--kernels", mo.kernels, tables, 2) < 0)
            return EXIT_USAGE;
    }
    if (mo.layers && !layers_spec_ok(mo.layers))
        return cli_usage_error("train", "--layers must be UNITSxHEADS[m],... with whole numbers from 1 (e.g. "
                               "64x4,64x4,64x1), not '%s'", mo.layers);
    if (loss_s) {
        static const char *const losses[] = {"bpr", "softmax"};
        if ((mo.loss = cli_choice("train", "--loss", loss_s, losses, 2)) < 0)
            return EXIT_USAGE;
    }
    if (optim_s) {
        static const char *const optimizers[] = {"auto", "dense", "lazy"};
        if ((mo.optimizer = cli_choice("train", "--optimizer", optim_s, optimizers, 3)) < 0)
            return EXIT_USAGE;
        if (mo.optimizer == GATREC_OPTIMIZER_LAZY && mo.kind != GATREC_MODEL_BPR &&
            !((mo.kind == GATREC_MODEL_ATTN || mo.kind == GATREC_MODEL_GAT) && fanout_s))
            return cli_usage_error("train", "%s", "--optimizer lazy is for --model bpr, or attn or gat with --fanout "
                                   "(the kinds whose step touches a few rows of their table)");
    }
    if (sampling) {
        static const char *const names[] = {"robust", "uniform", "popularity", "hard"};
        if ((mo.negative_sampling = cli_choice("train", "--sampling", sampling, names, 4)) < 0)
            return EXIT_USAGE;
    }
    if (inputs_s) {
        static const char *const inputs[] = {"id+text", "id", "text"};
        int k = cli_choice("train", "--inputs", inputs_s, inputs, 3);
        if (k < 0)
            return EXIT_USAGE;
        mo.inputs = GATREC_INPUTS_ID_TEXT + k;
    }
    if (mo.kind == GATREC_MODEL_ATTN) {
        if (no_ln || no_res || no_self)
            return cli_usage_error("train", "%s", "--no-layernorm, --no-residual and --no-self-loops are the GAT's "
                                   "(attn has none of them)");
        mo.attn_flags = (no_attr ? GATREC_ATTN_NO_EDGE_ATTR : 0) | (uniform ? GATREC_ATTN_UNIFORM : 0);
    } else {
        if (inputs_s || uniform || adim_s || iddrop_s || align_s)
            return cli_usage_error("train", "%s", "--inputs, --uniform-attention, --attention-dim, --id-dropout and "
                                   "--align are for --model attn");
        if (fanout_s && mo.kind != GATREC_MODEL_GAT)
            return cli_usage_error("train", "%s", "--fanout is for --model attn or gat");
        mo.gat_flags = (no_attr ? GATREC_GAT_NO_EDGE_ATTR : 0) | (no_ln ? GATREC_GAT_NO_LAYERNORM : 0) |
                       (no_res ? GATREC_GAT_NO_RESIDUAL : 0) | (no_self ? GATREC_GAT_NO_SELF_LOOPS : 0);
    }
    mo.freeze_features = freeze;
    mo.seed = (uint64_t)seed;
    mo.threads = (int)threads;
    if (par_ranks() > 1) { /* under mpirun: each rank on its share of every batch (docs/scale.md) */
        mo.ranks = par_ranks();
        mo.rank = par_rank();
        mo.allreduce = par_allreduce;
    }
    view.json = json;
    view.tty = isatty(2);
    mo.on_epoch = on_epoch;
    mo.payload = &view;
    if (embedder_path && !features_path)
        return cli_usage_error("train", "%s", "--embedder goes with --features (the features it made)");
    if (features_path && mo.kind != GATREC_MODEL_GAT && mo.kind != GATREC_MODEL_CONTENT && mo.kind != GATREC_MODEL_ATTN)
        return cli_usage_error("train", "%s", "--features is for --model gat, content or attn");
    if (!features_path && mo.kind == GATREC_MODEL_CONTENT)
        return cli_usage_error("train", "%s", "--model content needs --features FILE (its items' text features)");
    if (liked_s) { /* the positives; disliked stays 2 unless that is not below (all ratings implicit: 1) */
        if (cli_float("train", "--liked", liked_s, -1e9, 1e9, &go.liked_threshold))
            return EXIT_USAGE;
        if (!(go.disliked_threshold < go.liked_threshold))
            go.disliked_threshold = go.liked_threshold - 1.0f;
    }
    if ((rc = cli_open_dataset("train", spec, &ds, dir, sizeof dir)))
        return rc;
    t0 = now_seconds();
    if ((rc = cli_split("train", ds, sp, mo.seed, &split)))
        goto done;
    if ((rc = gatrec_graph_new(ds, split, &go, &g)))
        goto fail;
    if (gatrec_split_count(split, GATREC_PART_VALID) > 0) {
        go.part = GATREC_PART_VALID;
        if ((rc = gatrec_graph_new(ds, split, &go, &valid)))
            goto fail;
        mo.validation = valid;
    }
    /* the graphs hold what training needs: the log and the split go before the model's memory comes */
    gatrec_split_free(split);
    gatrec_dataset_free(ds);
    split = NULL;
    ds = NULL;
    if (features_path) {
        if ((rc = gatrec_features_load(g, features_path, &features, &mo.feature_dim)))
            goto fail;
        mo.features = features;
    }
    if (embedder_path) { /* its width is checked before minutes of training, not after */
        gatrec_embedder *e;
        if ((rc = gatrec_embedder_load(embedder_path, &e)))
            goto fail;
        size_t ed = gatrec_embedder_dim(e);
        gatrec_embedder_free(e);
        if (ed != mo.feature_dim) {
            fprintf(stderr, "gatrec train: --embedder %s writes %zu-d vectors but %s has %zu-d features: embed the "
                    "profiles with that embedder (gatrec embed --embedder-in)\n", embedder_path, ed, features_path,
                    mo.feature_dim);
            rc = EXIT_FAIL;
            goto done;
        }
    }
    rc = gatrec_model_train(g, &mo, &m);
    if (view.tty && !json)
        fputc('\n', stderr);
    if (rc)
        goto fail;
    snprintf(seedbuf, sizeof seedbuf, "%lld", seed);
    if (!realpath(dir, absdir))
        snprintf(absdir, sizeof absdir, "%s", dir);
    if ((rc = gatrec_model_set_info(m, "dataset", spec)) || (rc = gatrec_model_set_info(m, "dataset_dir", absdir)) ||
        (rc = gatrec_model_set_info(m, "split", sp)) || (rc = gatrec_model_set_info(m, "seed", seedbuf)) ||
        (rc = gatrec_model_set_info(m, "library", gatrec_version_string())) ||
        (features_path && (rc = gatrec_model_set_info(m, "features_file", features_path))) ||
        (embedder_path && (rc = attach_embedder(m, embedder_path))) ||
        (par_rank() == 0 && (rc = gatrec_model_save(m, out)))) /* every rank holds the model: one writes it */
        goto fail;
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, kind_s);
        printf(", \"dataset\": ");
        cli_json_string(stdout, spec);
        printf(", \"split\": ");
        cli_json_string(stdout, sp);
        printf(", \"seed\": %lld, \"users\": %zu, \"items\": %zu, \"train_ratings\": %zu, \"seconds\": %.3f, ",
               seed, gatrec_model_num_users(m), gatrec_model_num_items(m), gatrec_graph_num_edges(g),
               now_seconds() - t0);
        if (view.epochs)
            printf("\"epochs\": %d, \"best_epoch\": %d, ", view.epochs, view.best_epoch);
        if (!isnan(view.best_valid))
            printf("\"best_valid_ndcg\": %.6f, ", view.best_valid);
        if (gatrec_model_info(m, "attention_tv"))
            printf("\"attention_tv\": %s, ", gatrec_model_info(m, "attention_tv"));
        printf("\"out\": ");
        cli_json_string(stdout, out);
        printf("}\n");
    } else {
        printf("trained %s on %s split %s (%zu training ratings, %zu users, %zu items) in %.3f s -> %s\n", kind_s,
               spec, sp, gatrec_graph_num_edges(g), gatrec_model_num_users(m), gatrec_model_num_items(m),
               now_seconds() - t0, out);
        if (view.epochs)
            printf("kept epoch %d of %d%s", view.best_epoch, view.epochs, isnan(view.best_valid) ? "\n" : "");
        if (view.epochs && !isnan(view.best_valid))
            printf(" (validation NDCG@10 %.4f)\n", view.best_valid);
        if (gatrec_model_info(m, "attention_tv"))
            printf("attention: %s from uniform (mean total variation over the nodes; 0 = LightGCN's weights)\n",
                   gatrec_model_info(m, "attention_tv"));
    }
    rc = EXIT_OK;
    goto done;
fail:
    rc = cli_fail("train", rc);
done:
    gatrec_features_free(features);
    gatrec_model_free(m);
    gatrec_graph_free(valid);
    gatrec_graph_free(g);
    gatrec_split_free(split);
    gatrec_dataset_free(ds);
    return rc;
}

/* The model's dataset folder: the absolute path it recorded, or - when that folder has moved -
 * the same name under the data directory. NULL (with a warning) when neither exists. */
static const char *model_dataset_dir(const gatrec_model *m, const char *cmd, char *buf, size_t size)
{
    const char *dir = gatrec_model_info(m, "dataset_dir"), *name = gatrec_model_info(m, "dataset");
    struct stat st;
    char base[4096];
    if (dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return dir;
    if (name && !strchr(name, '/') && gatrec_data_dir(base, sizeof base) == 0) {
        snprintf(buf, size, "%s/%s", base, name);
        if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
            return buf;
    }
    if (dir || name)
        fprintf(stderr, "gatrec %s: note: the model's dataset folder %s is gone (and no %s under the data "
                "directory): titles and genres are missing; set GATREC_DATA_DIR to the folder holding %s\n",
                cmd, dir ? dir : "?", name ? name : "?", name ? name : "the dataset");
    return NULL;
}

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
    "into the model first (ease, content, gat; other kinds cannot, and say so). --rank-among\n"
    "cold ranks only the items without training ratings (a cold-items:R split's held-out items);\n"
    "bpr, lightgcn, ease and pop cannot score those items: among all items (the default) they\n"
    "rank them last, and --rank-among cold is refused for them.\n"
    "A model is not scored against ratings it trained on (another split or seed than its own):\n"
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
               *k_s = "10", *thr_s = "4", *min_s = NULL, *max_s = NULL, *part_s = "test", *among_s = "all";
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
    eo.relevance_threshold = strtof(thr_s, &end);
    if (*end || end == thr_s)
        return cli_usage_error("eval", "--threshold must be a number, not '%s'", thr_s);
    if (model_path) {
        if ((rc = gatrec_model_load(model_path, &m))) {
            rc = cli_fail("eval", rc);
            goto done;
        }
        spec = spec ? spec : model_dataset_dir(m, "eval", dsbuf, sizeof dsbuf);
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
    if (m && (gatrec_dataset_num_users(ds) != gatrec_model_num_users(m) ||
              gatrec_dataset_num_items(ds) != gatrec_model_num_items(m))) {
        fprintf(stderr, "gatrec eval: the model has %zu users and %zu items, the dataset %zu and %zu\n",
                gatrec_model_num_users(m), gatrec_model_num_items(m), gatrec_dataset_num_users(ds),
                gatrec_dataset_num_items(ds));
        rc = EXIT_FAIL;
        goto done;
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

static const char recommend_usage[] =
    "usage: gatrec recommend --model MODEL --user ID [-k K] [--evidence] [--json]\n"
    "                        [--rerank list|pairwise|batch|score] [--candidates N]\n"
    "                        [--fusion code|paper|none|WEIGHT] [--explain] [--profiles FILE]\n"
    "                        [--llm URL] [--cache DIR] [--timeout S] [--retries N]\n"
    "                        [--response-format schema|object|none]\n"
    "       gatrec recommend --model MODEL --new-user TEXT --rated ID:STARS[,ID:STARS...] [-k K]\n"
    "       gatrec recommend --model MODEL --all [-k K] --csv [--out FILE]\n"
    "                        [--rerank ... --candidates N --fusion ... --profiles FILE --llm URL]\n"
    "\n"
    "The K best items the user has not rated in training, each with why it was chosen: for a\n"
    "learned model, the user's rated items that most support it (--evidence lists them with\n"
    "their weights: for a GAT, the attention the user gave each item times its similarity to\n"
    "the recommendation) and the genres they share; for popularity, how popular it is.\n"
    "--timeout S bounds each LLM request (default $GATREC_LLM_TIMEOUT, else 60 seconds), --retries N\n"
    "its retries (default $GATREC_LLM_RETRIES, else 4); an endpoint that cannot be reached three\n"
    "times in a row is given up for the run. --response-format: how JSON is asked for (schema,\n"
    "default: a JSON schema of each answer, which servers enforce; object; none: the prompt alone).\n"
    "--rerank asks the LLM ($GATREC_LLM_BASE_URL or --llm; answers cached in --cache, default\n"
    "~/.cache/gatrec/llm) to reorder the model's top --candidates (default 20) with one of the\n"
    "paper's strategies, fused with the model's order (--fusion code: the authors' rank-dependent\n"
    "weights, default; paper: 80% LLM; none: the LLM alone; a number: that weight on the LLM).\n"
    "--explain has the LLM write each justification from the user's profile and the evidence\n"
    "(the template above when no LLM is set or its answer is unusable). Profiles come from\n"
    "--profiles FILE (gatrec profiles ...), else templates written from the data.\n"
    "--new-user folds a user who is not in the model into a GAT without retraining: TEXT is\n"
    "their profile, embedded with the embedder the model carries (train --embedder), and\n"
    "--rated lists their ratings by item id.\n"
    "--all --csv writes user_id,item_id,rank for every user (to FILE, or standard output),\n"
    "the format 'gatrec eval --recs' reads; with --rerank each user's first --candidates are\n"
    "reordered by the LLM first (the rest of the top K stays in the model's order). Default -k 10.\n";

#define EVIDENCE_K 3

static const char *title_of(const gatrec_model *m, const gatrec_dataset *ds, int32_t item)
{
    int32_t di;
    return ds && gatrec_dataset_item_index(ds, gatrec_model_item_id(m, item), &di) == 0 ? gatrec_dataset_item_title(ds, di)
                                                                                        : NULL;
}

typedef struct rec_args {
    const char *new_user, *rated;
    long long uid;
    size_t k, candidates;
    int json, evidence, explain;
    const char *rerank, *fusion, *profiles, *llm, *cache;
    cli_llm_limits limits;
} rec_args;

/* The dataset, split graph and profiles the model was trained on, for texts; NULL parts when
 * the dataset is gone. */
typedef struct context {
    gatrec_dataset *ds;
    gatrec_split *split;
    gatrec_graph *g;
    gatrec_profiles *p;
} context;

static int open_context(const gatrec_model *m, const rec_args *a, int need_profiles, context *c)
{
    char buf[4200];
    const char *dir = model_dataset_dir(m, "recommend", buf, sizeof buf), *sp = gatrec_model_info(m, "split"),
               *seed = gatrec_model_info(m, "seed");
    int rc;
    memset(c, 0, sizeof *c);
    if (dir)
        gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, &c->ds);
    if (!need_profiles)
        return EXIT_OK;
    if (a->profiles ? (rc = gatrec_profiles_load(a->profiles, &c->p)) : (rc = gatrec_profiles_new(&c->p)))
        return cli_fail("recommend", rc);
    if (!c->ds || !sp)
        return EXIT_OK;
    if ((rc = gatrec_split_parse(c->ds, sp, seed ? (uint64_t)strtoull(seed, NULL, 10) : 1, &c->split)) ||
        (rc = gatrec_graph_new(c->ds, c->split, NULL, &c->g)) ||
        (rc = gatrec_profiles_fill_templates(c->p, c->ds, c->g, NULL)))
        return cli_fail("recommend", rc);
    return EXIT_OK;
}

static void close_context(context *c)
{
    gatrec_profiles_free(c->p);
    gatrec_graph_free(c->g);
    gatrec_split_free(c->split);
    gatrec_dataset_free(c->ds);
}

static int parse_rerank(const rec_args *a, gatrec_reranker_options *ro)
{
    static const char *const names[] = {"list", "pairwise", "batch", "score"};
    char *end;
    if ((ro->strategy = cli_choice("recommend", "--rerank", a->rerank, names, 4)) < 0)
        return EXIT_USAGE;
    if (strcmp(a->fusion, "code") == 0)
        ro->fusion = GATREC_FUSION_RANK_DEPENDENT;
    else if (strcmp(a->fusion, "paper") == 0)
        ro->fusion = GATREC_FUSION_FLAT;
    else if (strcmp(a->fusion, "none") == 0)
        ro->fusion = GATREC_FUSION_NONE;
    else {
        ro->fusion = GATREC_FUSION_WEIGHT;
        ro->llm_weight = strtof(a->fusion, &end);
        if (*end || end == a->fusion || !(ro->llm_weight >= 0 && ro->llm_weight <= 1))
            return cli_usage_error("recommend", "--fusion must be code, paper, none or a weight in [0, 1], not '%s'",
                                   a->fusion);
    }
    return EXIT_OK;
}

/* "Title: profile" for a candidate (the template genres line when there is no profile). */
static char *item_text(const gatrec_model *m, const context *c, int32_t item)
{
    const char *title = title_of(m, c->ds, item), *prof = gatrec_profiles_get(c->p, GATREC_NODE_ITEM,
                                                                                gatrec_model_item_id(m, item));
    size_t n = (title ? strlen(title) : 24) + (prof ? strlen(prof) : 0) + 8;
    char *t = malloc(n);
    if (t)
        snprintf(t, n, "%s: %s", title ? title : "untitled", prof ? prof : "");
    return t;
}

/* What --rerank and --explain need: the texts (context), the LLM and the reranker. */
typedef struct llm_session {
    context c;
    gatrec_llm *llm;
    gatrec_reranker *rr;
} llm_session;

static void close_session(llm_session *s)
{
    gatrec_reranker_free(s->rr);
    gatrec_llm_free(s->llm);
    close_context(&s->c);
}

/* Opens what `a` asks for (nothing but the dataset without --rerank or --explain); an exit code. */
static int open_session(const gatrec_model *m, const rec_args *a, llm_session *s)
{
    gatrec_reranker_options ro = GATREC_RERANKER_OPTIONS_INIT;
    int need = a->rerank || a->explain, rc;
    memset(s, 0, sizeof *s);
    if ((a->rerank && (rc = parse_rerank(a, &ro))) || (rc = open_context(m, a, need, &s->c)))
        return rc;
    if (need && (rc = cli_open_llm(a->llm, a->cache, 8, &a->limits, &s->llm)))
        return cli_fail("recommend", rc);
    if (a->rerank && !s->llm)
        return cli_usage_error("recommend", "%s", "--rerank needs an LLM: set $GATREC_LLM_BASE_URL or --llm URL");
    if (s->llm && (rc = gatrec_reranker_new(s->llm, &ro, &s->rr)))
        return cli_fail("recommend", rc);
    return EXIT_OK;
}

/* Have the LLM reorder the first min(n, 64) of `items` (the model's order, model indices) for
 * user `uid`. An unusable answer leaves the model's order, says why on standard error and sets
 * *note; only running out of memory is an error. */
static int rerank_items(const gatrec_model *m, const context *c, gatrec_reranker *rr, long long uid, int32_t *items,
                        size_t n, const char **note)
{
    const char *profile = c->p ? gatrec_profiles_get(c->p, GATREC_NODE_USER, uid) : NULL;
    int64_t ids[64], out[64];
    char *texts[64];
    size_t nc = n < 64 ? n : 64;
    int rc = GATREC_OK;
    for (size_t j = 0; j < nc; j++) {
        out[j] = ids[j] = gatrec_model_item_id(m, items[j]); /* whatever fails leaves the model's order */
        if (!(texts[j] = item_text(m, c, items[j])))
            rc = GATREC_ENOMEM;
    }
    if (!rc)
        rc = gatrec_reranker_rerank(rr, profile ? profile : "(no profile)", ids, (const char *const *)texts, nc, out);
    for (size_t j = 0; j < nc; j++) {
        gatrec_model_item_index(m, out[j], &items[j]);
        free(texts[j]);
    }
    if (rc && rc != GATREC_ENOMEM) {
        static unsigned told; /* the first few users' reasons; the rest are counted at the end */
        *note = gatrec_last_error();
        if (told++ < 3)
            fprintf(stderr, "gatrec recommend: user %lld: %s\n", uid, *note);
        rc = GATREC_OK;
    }
    return rc;
}

/* When the LLM gave nothing usable to a command that asked it something, the command fails
 * (its output stands: the model's order, template justifications), naming the endpoint, the
 * model, why (counted by reason) and what to do. */
static int llm_gave_nothing(const rec_args *a, gatrec_llm *llm)
{
    const char *env = getenv("GATREC_LLM_BASE_URL");
    fprintf(stderr, "gatrec recommend: the LLM at %s (model %s) gave nothing usable; the output is the model's order "
            "and template justifications. Why:\n", a->llm ? a->llm : env ? env : "?", gatrec_llm_model(llm));
    cli_print_llm_failures(llm, 3);
    fprintf(stderr, "Check the endpoint, the key ($GATREC_LLM_API_KEY) and the model ($GATREC_LLM_MODEL), or run "
            "without --rerank/--explain.\n");
    return EXIT_FAIL;
}

static int recommend_user(const gatrec_model *m, const rec_args *a)
{
    llm_session S;
    const context *c = &S.c;
    size_t want = a->rerank && a->candidates > a->k ? a->candidates : a->k, n = 0;
    int32_t u, *items = malloc(want * sizeof *items), ev[EVIDENCE_K];
    float *scores = malloc(want * sizeof *scores), w[EVIDENCE_K];
    const char *note = NULL;
    int rc;
    memset(&S, 0, sizeof S);
    if (!items || !scores) {
        rc = cli_fail("recommend", GATREC_ENOMEM);
        goto done;
    }
    if ((rc = gatrec_model_user_index(m, a->uid, &u)) || (rc = gatrec_model_recommend(m, u, want, items, scores, &n))) {
        rc = cli_fail("recommend", rc);
        goto done;
    }
    if ((rc = open_session(m, a, &S)))
        goto done;
    const char *user_profile = c->p ? gatrec_profiles_get(c->p, GATREC_NODE_USER, a->uid) : NULL;
    if (a->rerank && (rc = rerank_items(m, c, S.rr, a->uid, items, n, &note))) {
        rc = cli_fail("recommend", rc);
        goto done;
    }
    if (n > a->k)
        n = a->k;
    if (a->json) { /* say what happened: reranked, or the model's order and why */
        printf("{\"user_id\": %lld", a->uid);
        if (S.llm) {
            printf(", \"llm_model\": ");
            cli_json_string(stdout, gatrec_llm_model(S.llm));
        }
        if (a->rerank) {
            printf(", \"reranked\": %s", note ? "false" : "true");
            if (note) {
                printf(", \"rerank_note\": ");
                cli_json_string(stdout, note);
            }
        }
        printf(", \"recommendations\": [");
    }
    else
        printf("Top %zu for user %lld%s:\n", n, a->uid, a->rerank ? (note ? " (model order: the LLM's answer was unusable)"
                                                                           : " (reranked by the LLM)")
                                                                 : "");
    size_t llm_failed = 0;
    char first_failure[512] = "";
    for (size_t j = 0; j < n; j++) {
        int64_t iid = gatrec_model_item_id(m, items[j]);
        const char *title = title_of(m, c->ds, items[j]);
        char *why = NULL;
        size_t nev = 0;
        float sc = 0;
        gatrec_model_score(m, u, &items[j], 1, &sc);
        if (gatrec_model_evidence(m, u, items[j], EVIDENCE_K, ev, w, &nev) != GATREC_OK)
            nev = 0;
        if (a->explain && S.rr && title) {
            const char *et[EVIDENCE_K];
            char *itext = item_text(m, c, items[j]);
            for (size_t e = 0; e < nev; e++)
                et[e] = title_of(m, c->ds, ev[e]) ? title_of(m, c->ds, ev[e]) : "";
            if (gatrec_reranker_justify(S.rr, user_profile ? user_profile : "(no profile)", title, itext, et, nev, &why)) {
                why = NULL; /* unusable: the template below, and a note after the list */
                if (!llm_failed++)
                    snprintf(first_failure, sizeof first_failure, "%s", gatrec_last_error());
            }
            free(itext);
        }
        int by_llm = why != NULL;
        if (!why && (rc = gatrec_model_explain(m, c->ds, u, items[j], &why))) {
            rc = cli_fail("recommend", rc);
            goto done;
        }
        if (a->json) {
            printf("%s{\"rank\": %zu, \"item_id\": %lld, \"score\": %.6g, \"title\": ", j ? ", " : "", j + 1,
                   (long long)iid, sc);
            cli_json_string(stdout, title);
            printf(", \"justification\": ");
            cli_json_string(stdout, why);
            if (a->explain)
                printf(", \"justified_by\": \"%s\"", by_llm ? "llm" : "template");
            if (a->evidence) {
                printf(", \"evidence\": [");
                for (size_t e = 0; e < nev; e++) {
                    printf("%s{\"item_id\": %lld, \"weight\": %.4f, \"title\": ", e ? ", " : "",
                           (long long)gatrec_model_item_id(m, ev[e]), w[e]);
                    cli_json_string(stdout, title_of(m, c->ds, ev[e]));
                    printf("}");
                }
                printf("]");
            }
            printf("}");
        } else {
            printf("%3zu. %s (item %lld, score %.4g)\n     why: %s\n", j + 1, title ? title : "", (long long)iid, sc,
                   why);
            for (size_t e = 0; a->evidence && e < nev; e++)
                printf("     evidence: %.3f  item %lld  %s\n", w[e], (long long)gatrec_model_item_id(m, ev[e]),
                       title_of(m, c->ds, ev[e]) ? title_of(m, c->ds, ev[e]) : "");
        }
        gatrec_string_free(why);
    }
    if (llm_failed)
        fprintf(stderr, "gatrec recommend: note: %zu of %zu justifications by the LLM failed (first: %s); template "
                "justifications stand in\n", llm_failed, n, first_failure);
    if (a->json)
        printf("]}\n");
    rc = EXIT_OK;
    if (S.llm && (!a->rerank || note) && (!a->explain || (n && llm_failed == n)) && (a->rerank || a->explain)) {
        fflush(stdout);
        rc = llm_gave_nothing(a, S.llm);
    }
done:
    close_session(&S);
    free(items);
    free(scores);
    return rc;
}

/* --all --csv --rerank: every user's top K with the first --candidates reordered by the LLM
 * (answers cached, so a rerun asks nothing twice). */
static int recommend_all_reranked(const gatrec_model *m, const rec_args *a, gatrec_reclist **out)
{
    llm_session S;
    gatrec_reclist *list = NULL;
    size_t want = a->candidates > a->k ? a->candidates : a->k, nu = gatrec_model_num_users(m), fell_back = 0;
    int32_t *items = malloc(want * sizeof *items);
    float *scores = malloc(want * sizeof *scores);
    int tty = isatty(2), rc;
    memset(&S, 0, sizeof S);
    if (!items || !scores) {
        rc = cli_fail("recommend", GATREC_ENOMEM);
        goto done;
    }
    if ((rc = open_session(m, a, &S)))
        goto done;
    if ((rc = gatrec_reclist_new(nu, &list))) {
        rc = cli_fail("recommend", rc);
        goto done;
    }
    for (int32_t u = 0; (size_t)u < nu; u++) {
        const char *note = NULL;
        size_t n = 0;
        if ((rc = gatrec_model_recommend(m, u, want, items, scores, &n)) ||
            (rc = rerank_items(m, &S.c, S.rr, (long long)gatrec_model_user_id(m, u), items,
                               n < a->candidates ? n : a->candidates, &note)) ||
            (rc = gatrec_reclist_set(list, u, items, n < a->k ? n : a->k))) {
            rc = cli_fail("recommend", rc);
            goto done;
        }
        fell_back += note != NULL;
        if (tty)
            fprintf(stderr, "\rreranking: %zu/%zu users", (size_t)u + 1, nu);
    }
    fprintf(stderr, "%sreranked %zu users' top %zu by the LLM (%s, model %s); %zu kept the model's order\n",
            tty ? "\n" : "", nu, a->candidates, a->rerank, gatrec_llm_model(S.llm), fell_back);
    *out = list;
    list = NULL;
    rc = nu && fell_back == nu ? llm_gave_nothing(a, S.llm) : EXIT_OK; /* the list is still written */
done:
    gatrec_reclist_free(list);
    close_session(&S);
    free(items);
    free(scores);
    return rc;
}

/* The library writes files atomically (temporary file + rename), which must never be aimed at
 * /dev/stdout: write to a private temporary file and copy it out. */
static int csv_to_stdout(const gatrec_reclist *list, const gatrec_model *m)
{
    char path[] = "/tmp/gatrec-recs-XXXXXX", buf[65536];
    int fd = mkstemp(path), rc;
    FILE *f;
    size_t n;
    if (fd < 0) {
        perror("gatrec recommend: temporary file");
        return GATREC_EIO;
    }
    close(fd);
    if ((rc = gatrec_reclist_save_csv(list, m, NULL, path)) == GATREC_OK && (f = fopen(path, "rb"))) {
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, stdout);
        fclose(f);
    }
    unlink(path);
    return rc;
}

/* --new-user TEXT --rated ID:STARS,...: fold the user in (a.uid becomes its new id) and
 * recommend; returns an exit status. */
static int fold_in(gatrec_model *m, rec_args *a);

static int fold_in_user(gatrec_model *m, rec_args *a)
{
    int rc = fold_in(m, a);
    return rc < 0 ? cli_fail("recommend", rc) : rc;
}

static int fold_in(gatrec_model *m, rec_args *a)
{
    gatrec_embedder *e = NULL;
    int32_t *items, idx;
    float *stars, *features = NULL;
    size_t n = 0, cap = 1;
    int64_t id = 0;
    int rc;
    for (const char *p = a->rated; *p; p++) /* every entry, however many: none is dropped */
        cap += *p == ',';
    items = malloc(cap * sizeof *items);
    stars = malloc(cap * sizeof *stars);
    if (!items || !stars) {
        free(items), free(stars);
        return GATREC_ENOMEM;
    }
    for (const char *p = a->rated; *p;) {
        char *end;
        long long iid = strtoll(p, &end, 10);
        double r;
        rc = GATREC_OK;
        if (end == p || *end != ':')
            rc = cli_usage_error("recommend", "--rated: expected ID:STARS,..., at '%s'", p);
        else if (r = strtod(end + 1, &end), !(r >= 0.5 && r <= 5)) /* the loaders' range */
            rc = cli_usage_error("recommend", "--rated: item %lld: stars must be a number from 0.5 to 5", iid);
        else if (*end && *end != ',')
            rc = cli_usage_error("recommend", "--rated: expected ID:STARS,..., at '%s'", end);
        else if (!(rc = gatrec_model_item_index(m, iid, &items[n])))
            stars[n++] = (float)r;
        if (rc) {
            free(items), free(stars);
            return rc;
        }
        p = *end == ',' ? end + 1 : end;
    }
    rc = gatrec_model_get_embedder(m, &e);
    if (rc == GATREC_ENOTFOUND) { /* no embedder: the profile cannot enter; the ratings still do */
        gatrec_error_clear();
        rc = GATREC_OK;
    } else if (rc) {
        free(items), free(stars);
        return rc;
    }
    gatrec_llm *llm = NULL;
    if (e && gatrec_embedder_remote_model(e)) { /* the profile embeds at the endpoint it was trained with */
        if ((rc = cli_open_llm(a->llm, a->cache, 1, &a->limits, &llm)) == GATREC_OK && !llm) {
            fprintf(stderr, "gatrec recommend: the model's embedder is remote (model %s): set $GATREC_LLM_BASE_URL "
                    "or --llm URL to embed the --new-user text\n", gatrec_embedder_remote_model(e));
            rc = EXIT_FAIL; /* reported here */
        }
        if (!rc)
            rc = gatrec_embedder_bind_llm(e, llm);
    }
    if (e && !rc) {
        const char *texts[] = {a->new_user};
        if (!(features = malloc(gatrec_embedder_dim(e) * sizeof *features)))
            rc = GATREC_ENOMEM;
        else
            rc = gatrec_embedder_embed(e, texts, 1, features);
    }
    for (int32_t u = 0; (size_t)u < gatrec_model_num_users(m); u++) /* a fresh id */
        if (gatrec_model_user_id(m, u) >= id)
            id = gatrec_model_user_id(m, u) + 1;
    if (!rc)
        rc = gatrec_model_add_user_checked(m, id, items, stars, n, features, e ? gatrec_embedder_dim(e) : 0, &idx);
    free(features);
    free(items);
    free(stars);
    if (!rc && !e)
        fprintf(stderr, "gatrec recommend: note: %s, so the --new-user text is not used; the ratings are\n",
                gatrec_model_feature_dim(m) ? "the model carries no embedder (train --embedder)"
                                            : "the model was trained without input features");
    gatrec_embedder_free(e);
    gatrec_llm_free(llm);
    if (rc)
        return rc;
    a->uid = id;
    return recommend_user(m, a);
}

int cmd_recommend(int argc, char **argv)
{
    const char *model_path = NULL, *user_s = NULL, *k_s = "10", *out = NULL, *cand_s = "20", *timeout_s = NULL,
               *retries_s = NULL, *format_s = NULL;
    rec_args a = {NULL, NULL, 0, 10, 20, 0, 0, 0, NULL, "code", NULL, NULL, NULL, {60.0f, 4, 0, NULL}};
    int all = 0, csv = 0, rc;
    cli_opt opts[] = {{"--model", &model_path, NULL},  {"--user", &user_s, NULL},       {"-k", &k_s, NULL},
                      {"--json", NULL, &a.json},        {"--all", NULL, &all},           {"--csv", NULL, &csv},
                      {"--out", &out, NULL},            {"--evidence", NULL, &a.evidence}, {"--rerank", &a.rerank, NULL},
                      {"--candidates", &cand_s, NULL},  {"--fusion", &a.fusion, NULL},   {"--explain", NULL, &a.explain},
                      {"--profiles", &a.profiles, NULL}, {"--llm", &a.llm, NULL},         {"--cache", &a.cache, NULL},
                      {"--new-user", &a.new_user, NULL}, {"--rated", &a.rated, NULL},     {"--timeout", &timeout_s, NULL},
                      {"--retries", &retries_s, NULL},  {"--response-format", &format_s, NULL},
                      {NULL, NULL, NULL}};
    gatrec_model *m = NULL;
    gatrec_reclist *list = NULL;
    long long k, cand;
    rc = cli_parse(argc, argv, 2, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(recommend_usage, stdout), EXIT_OK) : rc;
    if (!model_path)
        return cli_usage_error("recommend", "%s", "--model MODEL is required");
    if (all + !!user_s + !!a.new_user != 1)
        return cli_usage_error("recommend", "%s", "give one of --user ID, --new-user TEXT or --all");
    if (!!a.new_user != !!a.rated)
        return cli_usage_error("recommend", "%s", "--new-user TEXT goes with --rated ID:STARS,...");
    if (all && !csv)
        return cli_usage_error("recommend", "%s", "--all writes CSV: add --csv");
    if (all && par_ranks() > 1 && (a.rerank || a.explain))
        return cli_usage_error("recommend", "%s", "under mpirun, --all shards the model's lists over the ranks; "
                               "--rerank and --explain run in one process");
    if ((k = cli_number("recommend", "-k", k_s, 1, 100000)) < 0)
        return EXIT_USAGE;
    if ((cand = cli_number("recommend", "--candidates", cand_s, 2, 64)) < 0)
        return EXIT_USAGE;
    if (cli_llm_limits_parse("recommend", timeout_s, retries_s, format_s, &a.limits))
        return EXIT_USAGE;
    if (user_s && (a.uid = cli_number("recommend", "--user", user_s, 0, 0x7fffffffffffffffLL)) < 0)
        return EXIT_USAGE;
    a.k = (size_t)k;
    a.candidates = (size_t)cand;
    if ((rc = gatrec_model_load(model_path, &m)))
        return cli_fail("recommend", rc);
    if (a.new_user) {
        rc = fold_in_user(m, &a);
    } else if (!all) {
        rc = recommend_user(m, &a);
    } else if (a.rerank) {
        int wrc;
        rc = recommend_all_reranked(m, &a, &list); /* a list even when the LLM gave nothing (its exit says so) */
        if (list && (wrc = out ? gatrec_reclist_save_csv(list, m, NULL, out) : csv_to_stdout(list, m)))
            rc = cli_fail("recommend", wrc);
    } else if ((rc = par_recommend_all(m, (size_t)k, NULL, 0, &list)) ||
               (par_rank() == 0 && (rc = out ? gatrec_reclist_save_csv(list, m, NULL, out) : csv_to_stdout(list, m)))) {
        rc = cli_fail("recommend", rc);
    }
    gatrec_reclist_free(list);
    gatrec_model_free(m);
    return rc;
}
