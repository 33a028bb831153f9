/* gatrec train: options -> gatrec_model_options, progress and epoch lines, the model saved with
 * where it came from. */
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
    "                    [--dislike-weight W] [--new-user-share X] [--new-user-ratings K]\n"
    "                    [--popularity-prior B]\n"
    "                    [--optimizer auto|dense|lazy]\n"
    "                    --out MODEL [--json]\n"
    "\n"
    "Trains a model on the training part of the split and saves it to MODEL, together with the\n"
    "dataset directory, split and seed, so that 'gatrec eval --model MODEL' finds them again.\n"
    "When the split has a validation part (e.g. random:0.2:0.1), training early-stops on its\n"
    "NDCG@K; otherwise on the training loss. --json prints one JSON object per epoch and a\n"
    "summary; otherwise a progress line is drawn on a terminal.\n"
    "--features FILE: input features (attn, gat, content), one line per node kind<TAB>id<TAB>v1 v2 ...\n"
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
    "have put them); --no-edge-attr: no rating in attention; --dislike-weight W: a rating at or below\n"
    "the disliked threshold (2) propagates with gain -W, pushing away from the item (default 0.3;\n"
    "0: every rating propagates alike; ease and content: a disliked item counts -W, default 0.1\n"
    "and 0.3); --new-user-share X: new-user practice - each step a share X\n"
    "of the users lose their ID, keep --new-user-ratings K of their rated items and read the mean\n"
    "user text, as a user folded in from K ratings does (default 0.3 and 5; 0: none);\n"
    "--popularity-prior B: score = cosine + B log(1 + the item's training ratings), the item bias\n"
    "a cosine cannot hold (default 0.08; 0: none).\n"
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
               *inputs_s = NULL, *adim_s = NULL, *iddrop_s = NULL, *align_s = NULL, *dislike_s = NULL, *nushare_s = NULL, *nuk_s = NULL, *prior_s = NULL, *optim_s = NULL,
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
                      {"--dislike-weight", &dislike_s, NULL}, {"--new-user-share", &nushare_s, NULL},
                      {"--new-user-ratings", &nuk_s, NULL}, {"--popularity-prior", &prior_s, NULL},
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
        {"--fanout", NULL, 1, 65536, 1, &mo.fanout, 1}, {"--dislike-weight", NULL, 0, 100, 0, &mo.dislike_weight, 0},
        {"--new-user-share", NULL, 0, 1, 0, &mo.new_user_share, 0},
        {"--new-user-ratings", NULL, 1, 1000000, 1, &mo.new_user_ratings, 1},
        {"--popularity-prior", NULL, 0, 10, 0, &mo.popularity_prior, 0}};
    const char **texts[] = {&epochs_s, &dim_s,   &prop_s,  &lr_s,  &wd_s,    &cos_s,     &drop_s,  &neg_s,
                            &batch_s,  &pat_s,   &evalk_s, &fwd_s, &lrpat_s, &lrfac_s, &lambda_s, &temp_s, &unif_s,
                            &adim_s,   &iddrop_s, &align_s, &fanout_s, &dislike_s, &nushare_s, &nuk_s, &prior_s};
    train_view view = {0, 0, 0, 0, NAN};
    gatrec_graph_options go = GATREC_GRAPH_OPTIONS_INIT;
    gatrec_dataset *ds = NULL;
    gatrec_split *split = NULL;
    gatrec_graph *g = NULL, *valid = NULL;
    gatrec_model *m = NULL;
    float *features = NULL;
    char dir[4096], absdir[PATH_MAX], seedbuf[32], sha[65];
    long long seed, threads;
    double t0;
    rc = cli_parse(argc, argv, 2, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(train_usage, stdout), EXIT_OK) : rc;
    if (!out)
        return cli_usage_error("train", "%s", "--out MODEL is required");
    const char *in_files[] = {features_path, embedder_path};
    if ((rc = cli_check_output("train", out)) || /* before minutes of training, not after */
        (rc = cli_check_not_input("train", out, in_files, 2)))
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
    if (dislike_s && mo.dislike_weight == 0) /* 0 on the command line: off (in the struct: the default) */
        mo.dislike_weight = -1.0f;
    if (nushare_s && mo.new_user_share == 0)
        mo.new_user_share = -1.0f;
    if (prior_s && mo.popularity_prior == 0)
        mo.popularity_prior = -1.0f;
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
        if (inputs_s || uniform || adim_s || iddrop_s || align_s || nushare_s || nuk_s || prior_s)
            return cli_usage_error("train", "%s", "--inputs, --uniform-attention, --attention-dim, --id-dropout, "
                                   "--align, --new-user-share, --new-user-ratings and --popularity-prior are for "
                                   "--model attn");
        if (dislike_s && mo.kind != GATREC_MODEL_EASE && mo.kind != GATREC_MODEL_CONTENT)
            return cli_usage_error("train", "%s", "--dislike-weight is for --model attn, ease or content (the kinds "
                                   "whose ratings push away; docs/model.md)");
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
        if (mo.threads == 0) { /* all cores: the machine's, shared by the ranks on it */
            long cores = sysconf(_SC_NPROCESSORS_ONLN), local = par_local_ranks();
            mo.threads = cores > local ? (int)(cores / local) : 1;
        }
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
    if (epochs_s && (mo.kind == GATREC_MODEL_POP || mo.kind == GATREC_MODEL_EASE || mo.kind == GATREC_MODEL_CONTENT))
        return cli_usage_error("train", "--epochs: --model %s is not trained in epochs (%s)", gatrec_model_kind_name(mo.kind),
                               mo.kind == GATREC_MODEL_EASE ? "EASE is solved in closed form" : "it counts or averages");
    if (lambda_s && mo.kind != GATREC_MODEL_EASE)
        return cli_usage_error("train", "%s", "--lambda is EASE's regularisation (--model ease)");
    if (liked_s && cli_float("train", "--liked", liked_s, -1e9, 1e9, &go.liked_threshold))
        return EXIT_USAGE;
    if ((rc = cli_open_dataset("train", spec, &ds, dir, sizeof dir)))
        return rc;
    { /* the dataset says what its ratings mean (an implicit log: every event liked); --liked overrides,
         with disliked kept below it */
        float lk, dl;
        gatrec_dataset_semantics(ds, &lk, &dl, NULL, NULL);
        if (!liked_s)
            go.liked_threshold = lk;
        go.disliked_threshold = dl < go.liked_threshold ? dl : go.liked_threshold - 1.0f;
    }
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
    /* the graphs hold what training needs: the log and the split go before the model's memory comes
     * (the log's fingerprint stays, for eval to recognise the data) */
    if ((rc = gatrec_dataset_fingerprint(ds, sha)))
        goto fail;
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
    if ((rc = gatrec_model_set_info(m, "dataset_sha256", sha)) || (rc = gatrec_model_set_info(m, "dataset", spec)) || (rc = gatrec_model_set_info(m, "dataset_dir", absdir)) ||
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
