/* gatrec: the libgatrec command line (data, split, train, eval, recommend, update, profiles, embed). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "par.h"

static const char usage[] =
    "usage: gatrec COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  data fetch NAME        download ml-100k or ml-1m from GroupLens (checksum verified)\n"
    "  data info              counts and statistics of a dataset\n"
    "  data import            your own interaction log (and catalogue) as a dataset directory\n"
    "  split                  write the train/validation/test parts of a split\n"
    "  train                  train a model and save it\n"
    "  eval                   evaluate a model or a recommendation CSV\n"
    "  recommend              top-K items for a user, or for every user as CSV\n"
    "  update                 a model takes new ratings (known or new users) without retraining\n"
    "  profiles               import, generate or show user and item profiles\n"
    "  embed                  turn profiles into input features (attn, gat, content)\n"
    "  serve                  recommendations over HTTP (gatrec-serve, docs/serve.md)\n"
    "  version                print the library version (and the commit built from)\n"
    "\n"
    "Run 'gatrec COMMAND --help' for a command's options. Datasets are looked up in\n"
    "$GATREC_DATA_DIR (default ~/.cache/gatrec). Exit status: 0 ok, 1 failure, 2 usage.\n";

static const char data_usage[] =
    "usage: gatrec data fetch NAME [--data-dir DIR]\n"
    "       gatrec data info [--dataset NAME|DIR] [--json]\n"
    "       gatrec data import --events FILE --out DIR [--items FILE] [--users FILE] [options]\n"
    "\n"
    "fetch   downloads NAME (ml-100k, ml-1m) from GroupLens, verifies its SHA-256 and unpacks\n"
    "        it to DIR/NAME (DIR: --data-dir, else $GATREC_DATA_DIR, else ~/.cache/gatrec).\n"
    "        Nothing is downloaded when the data is already there.\n"
    "info    prints users, items, ratings, rating distribution and graph statistics\n"
    "        (default dataset: ml-100k).\n"
    "import  reads an interaction log (CSV or TSV with a header; ids are strings) and writes\n"
    "        DIR/dataset.gatrec, which every command takes as --dataset DIR (docs/data.md):\n"
    "  --user-column NAME      the user id column (default user)\n"
    "  --item-column NAME      the item id column (default item)\n"
    "  --rating-column NAME    explicit ratings (with --rating-min, --rating-max: default 1..5,\n"
    "                          and --liked X: default three quarters up the range)\n"
    "  --weight-column NAME    implicit events with a weight (a count); without a rating or\n"
    "                          weight column every event weighs 1\n"
    "  --time-column NAME      Unix seconds or ISO 8601 (default: a column time or timestamp)\n"
    "  --duplicates POLICY     a repeated user and item: sum (implicit default), max, last\n"
    "                          (explicit default) or error\n"
    "  --delimiter C           , tab ; or | (default: sniffed from the header)\n"
    "  --items FILE            a catalogue: an id column (--item-id-column, default the item\n"
    "                          column's name or id), a title (--title-column, default title),\n"
    "                          categories split on | (--category-column, default category or\n"
    "                          genres) and any text columns, which profiles and prompts read\n"
    "  --users FILE            user attributes (--user-id-column): columns as text\n"
    "  --domain NOUN           what the items are, plural (books, songs; default items)\n"
    "  --name NAME             the dataset's name (default: the events file's name)\n";

static int data_fetch(int argc, char **argv)
{
    const char *dir = NULL, *pos[1];
    int np = 0, rc;
    cli_opt opts[] = {{"--data-dir", &dir, NULL}, {NULL, NULL, NULL}};
    char label[64];
    rc = cli_parse(argc, argv, 3, opts, pos, 1, &np);
    if (rc)
        return rc < 0 ? (fputs(data_usage, stdout), EXIT_OK) : rc;
    if (np != 1)
        return cli_usage_error("data fetch", "%s", "name the dataset: ml-100k or ml-1m");
    snprintf(label, sizeof label, "%s", pos[0]);
    if ((rc = gatrec_data_fetch(pos[0], dir, cli_progress, label)))
        return cli_fail("data fetch", rc);
    {
        char base[4096];
        if (!dir && gatrec_data_dir(base, sizeof base) == 0)
            dir = base;
        printf("%s is ready in %s/%s\n", pos[0], dir, pos[0]);
    }
    return EXIT_OK;
}

static void print_info(const gatrec_dataset *ds, const char *dir, const gatrec_graph_stats *st, int json)
{
    size_t hist[6] = {0}, n = gatrec_dataset_num_ratings(ds);
    for (size_t r = 0; r < n; r++) {
        float v;
        gatrec_dataset_rating(ds, r, NULL, NULL, &v, NULL);
        if (v >= 1 && v <= 5 && v == (float)(int)v)
            hist[(int)v]++;
    }
    if (json) {
        printf("{\"dataset\": ");
        cli_json_string(stdout, gatrec_dataset_name(ds));
        printf(", \"path\": ");
        cli_json_string(stdout, dir);
        printf(", \"ratings\": %zu, \"users\": %zu, \"items\": %zu, \"genres\": %zu, "
               "\"rating_counts\": {\"1\": %zu, \"2\": %zu, \"3\": %zu, \"4\": %zu, \"5\": %zu}, "
               "\"density\": %.6f, \"user_degree\": {\"min\": %zu, \"mean\": %.2f, \"max\": %zu}, "
               "\"item_degree\": {\"min\": %zu, \"mean\": %.2f, \"max\": %zu}, \"unrated_items\": %zu}\n",
               n, gatrec_dataset_num_users(ds), gatrec_dataset_num_items(ds), gatrec_dataset_num_genres(ds), hist[1],
               hist[2], hist[3], hist[4], hist[5], st->density, st->user_degree_min, st->user_degree_mean,
               st->user_degree_max, st->item_degree_min, st->item_degree_mean, st->item_degree_max,
               st->isolated_items);
        return;
    }
    printf("dataset   %s (%s)\n", gatrec_dataset_name(ds), dir);
    printf("ratings   %zu\nusers     %zu\nitems     %zu (%zu never rated)\ngenres    %zu\n", n,
           gatrec_dataset_num_users(ds), gatrec_dataset_num_items(ds), st->isolated_items,
           gatrec_dataset_num_genres(ds));
    printf("ratings   1: %zu  2: %zu  3: %zu  4: %zu  5: %zu\n", hist[1], hist[2], hist[3], hist[4], hist[5]);
    printf("density   %.4f%%\n", 100.0 * st->density);
    printf("per user  min %zu, mean %.1f, max %zu ratings\n", st->user_degree_min, st->user_degree_mean,
           st->user_degree_max);
    printf("per item  min %zu, mean %.1f, max %zu ratings\n", st->item_degree_min, st->item_degree_mean,
           st->item_degree_max);
}

static int data_info(int argc, char **argv)
{
    const char *spec = "ml-100k";
    int json = 0, rc;
    cli_opt opts[] = {{"--dataset", &spec, NULL}, {"--json", NULL, &json}, {NULL, NULL, NULL}};
    gatrec_dataset *ds = NULL;
    gatrec_graph *g = NULL;
    gatrec_graph_stats st = {.version = GATREC_GRAPH_STATS_VERSION};
    char dir[4096];
    rc = cli_parse(argc, argv, 3, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(data_usage, stdout), EXIT_OK) : rc;
    if ((rc = cli_open_dataset("data info", spec, &ds, dir, sizeof dir)))
        return rc;
    if ((rc = gatrec_graph_new(ds, NULL, NULL, &g)) || (rc = gatrec_graph_stats_get(g, &st))) {
        rc = cli_fail("data info", rc);
    } else {
        print_info(ds, dir, &st, json);
        rc = EXIT_OK;
    }
    gatrec_graph_free(g);
    gatrec_dataset_free(ds);
    return rc;
}

static int data_import(int argc, char **argv)
{
    static const char *const dups[] = {"default", "sum", "max", "last", "error"};
    const char *events = NULL, *out = NULL, *delim = NULL, *rmin = NULL, *rmax = NULL, *liked = NULL, *dup = NULL;
    gatrec_import_options o = GATREC_IMPORT_OPTIONS_INIT;
    cli_opt opts[] = {{"--events", &events, NULL},           {"--out", &out, NULL},
                      {"--items", &o.items_path, NULL},       {"--users", &o.users_path, NULL},
                      {"--user-column", &o.user_column, NULL}, {"--item-column", &o.item_column, NULL},
                      {"--rating-column", &o.rating_column, NULL}, {"--weight-column", &o.weight_column, NULL},
                      {"--time-column", &o.time_column, NULL}, {"--item-id-column", &o.item_id_column, NULL},
                      {"--user-id-column", &o.user_id_column, NULL}, {"--title-column", &o.title_column, NULL},
                      {"--category-column", &o.category_column, NULL}, {"--rating-min", &rmin, NULL},
                      {"--rating-max", &rmax, NULL},          {"--liked", &liked, NULL},
                      {"--duplicates", &dup, NULL},           {"--delimiter", &delim, NULL},
                      {"--domain", &o.domain, NULL},          {"--name", &o.name, NULL},
                      {NULL, NULL, NULL}};
    gatrec_dataset *ds = NULL;
    size_t missing = 0;
    float f;
    struct stat st;
    int rc, made;
    rc = cli_parse(argc, argv, 3, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(data_usage, stdout), EXIT_OK) : rc;
    if (!events || !out)
        return cli_usage_error("data import", "%s", "--events FILE and --out DIR are required");
    if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode))
        return cli_usage_error("data import", "--out %s is a file; name a directory (created when absent)", out);
    if (delim) {
        if (strcmp(delim, "tab") == 0 || strcmp(delim, "\\t") == 0 || strcmp(delim, "\t") == 0)
            o.delimiter = '\t';
        else if (strlen(delim) == 1 && strchr(",;|", delim[0]))
            o.delimiter = delim[0];
        else
            return cli_usage_error("data import", "--delimiter must be , tab ; or |, not '%s'", delim);
    }
    if (rmin && (rc = cli_float("data import", "--rating-min", rmin, -1e9, 1e9, &f)) == EXIT_OK)
        o.rating_min = f;
    if (!rc && rmax && (rc = cli_float("data import", "--rating-max", rmax, -1e9, 1e9, &f)) == EXIT_OK)
        o.rating_max = f;
    if (!rc && liked && (rc = cli_float("data import", "--liked", liked, -1e9, 1e9, &f)) == EXIT_OK)
        o.liked_threshold = f;
    if (rc)
        return rc;
    if ((rmin || rmax || liked) && !o.rating_column)
        return cli_usage_error("data import", "%s", "--rating-min, --rating-max and --liked go with --rating-column");
    if (dup && (o.duplicates = cli_choice("data import", "--duplicates", dup, dups, 5)) < 0)
        return EXIT_USAGE;
    if ((rc = gatrec_dataset_import(events, &o, &ds, &missing)))
        return cli_fail("data import", rc);
    if (gatrec_dataset_num_users(ds) < 2 || gatrec_dataset_num_items(ds) < 2) {
        fprintf(stderr, "gatrec data import: %s names %zu user%s and %zu item%s: a recommender needs at least two "
                "of each; nothing was written\n", events, gatrec_dataset_num_users(ds),
                gatrec_dataset_num_users(ds) == 1 ? "" : "s", gatrec_dataset_num_items(ds),
                gatrec_dataset_num_items(ds) == 1 ? "" : "s");
        gatrec_dataset_free(ds);
        return EXIT_FAIL;
    }
    made = stat(out, &st) != 0;
    if ((rc = gatrec_dataset_save(ds, out))) {
        rc = cli_fail("data import", rc);
        if (made)
            rmdir(out); /* nothing half-written: the directory this command made goes too (when empty) */
    } else {
        float lk, dl;
        int implicit;
        const char *domain;
        gatrec_dataset_semantics(ds, &lk, &dl, &implicit, &domain);
        printf("imported %zu %s (%s) of %zu users and %zu %s into %s/dataset.gatrec\n",
               gatrec_dataset_num_ratings(ds), implicit ? "user-item pairs" : "ratings",
               implicit ? "implicit: every one liked" : "explicit", gatrec_dataset_num_users(ds),
               gatrec_dataset_num_items(ds), domain, out);
        if (!implicit)
            printf("liked at %g and above, disliked at %g and below\n", lk, dl);
        if (missing)
            printf("note: %zu item%s of the events %s not in the catalogue %s (kept, without text)\n", missing,
                   missing == 1 ? "" : "s", missing == 1 ? "is" : "are", o.items_path);
        rc = EXIT_OK;
    }
    gatrec_dataset_free(ds);
    return rc;
}

int cmd_data(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[2], "import") == 0)
        return data_import(argc, argv);
    if (argc >= 3 && strcmp(argv[2], "fetch") == 0)
        return data_fetch(argc, argv);
    if (argc >= 3 && strcmp(argv[2], "info") == 0)
        return data_info(argc, argv);
    if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        fputs(data_usage, stdout);
        return EXIT_OK;
    }
    if (argc >= 3)
        fprintf(stderr, "gatrec data: unknown command '%s' (fetch, info or import)\n", argv[2]);
    fputs(data_usage, stderr);
    return EXIT_USAGE;
}

static const char split_usage[] =
    "usage: gatrec split [--dataset NAME|DIR] [--split SPEC] [--seed N] --out DIR\n"
    "\n"
    "Writes DIR/train.tsv, DIR/test.tsv (and DIR/valid.tsv, DIR/reveal.tsv when the split has\n"
    "those parts; an earlier one it lacks is removed) as user<TAB>item<TAB>rating<TAB>timestamp\n"
    "lines with the dataset's ids; DIR is created if it does not exist (its parent must).\n"
    "SPEC: u1..u5, ua, ub (official files), random:TEST[:VALID] (per user, --seed),\n"
    "      leave-last, leave-last:valid (by timestamp), temporal:TEST[:VALID] (global time),\n"
    "      cold-items:R (R of the items leave training), cold-users:R[:N] (R of the users\n"
    "      leave training and reveal N ratings, default 5, to serving: reveal.tsv);\n"
    "      any of them without a validation part + \"+valid:R\" (R of each user's training\n"
    "      ratings to validation, e.g. u1+valid:0.1).\n"
    "Defaults: --dataset ml-100k --split u1 --seed 1.\n";

int cmd_split(int argc, char **argv)
{
    const char *spec = "ml-100k", *sp = "u1", *seed_s = "1", *out = NULL;
    cli_opt opts[] = {{"--dataset", &spec, NULL}, {"--split", &sp, NULL}, {"--seed", &seed_s, NULL},
                      {"--out", &out, NULL},      {NULL, NULL, NULL}};
    static const char *const names[] = {"train", "valid", "test", NULL, "reveal"};
    gatrec_dataset *ds = NULL;
    gatrec_split *split = NULL;
    char dir[4096];
    long long seed;
    int rc = cli_parse(argc, argv, 2, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(split_usage, stdout), EXIT_OK) : rc;
    if (!out)
        return cli_usage_error("split", "%s", "--out DIR is required");
    if ((seed = cli_number("split", "--seed", seed_s, 0, 0x7fffffffffffffffLL)) < 0)
        return EXIT_USAGE;
    if ((rc = cli_open_dataset("split", spec, &ds, dir, sizeof dir)))
        return rc;
    if ((rc = cli_split("split", ds, sp, (uint64_t)seed, &split)))
        goto done;
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "gatrec split: %s: cannot create the directory: %s\n", out, strerror(errno));
        rc = EXIT_FAIL;
        goto done;
    }
    for (int part = GATREC_PART_TRAIN; part <= GATREC_PART_REVEAL; part++) {
        char path[4200];
        if (!names[part])
            continue;
        snprintf(path, sizeof path, "%s/%s.tsv", out, names[part]);
        if (gatrec_split_count(split, part) == 0 && part != GATREC_PART_TRAIN && part != GATREC_PART_TEST) {
            /* a part this split lacks: a file of that name from an earlier split would pass for it */
            if (unlink(path) == 0)
                printf("%-5s    none: removed the earlier %s\n", names[part], path);
            continue;
        }
        if ((rc = gatrec_split_write(split, part, path))) {
            rc = cli_fail("split", rc);
            goto done;
        }
        printf("%-5s %7zu ratings -> %s\n", names[part], gatrec_split_count(split, part), path);
    }
    rc = EXIT_OK;
done:
    gatrec_split_free(split);
    gatrec_dataset_free(ds);
    return rc;
}

/* gatrec serve: the service is its own program (it links libmicrohttpd, which the command line
 * does not need): gatrec-serve beside this program, else on PATH, runs in its place. */
static int cmd_serve(char **argv)
{
    char self[4096], path[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        snprintf(path, sizeof path, "%.*s/gatrec-serve", (int)(strrchr(self, '/') - self), self);
        if (access(path, X_OK) == 0)
            execv(path, argv);
    }
    execvp("gatrec-serve", argv);
    fprintf(stderr, "gatrec serve: gatrec-serve is neither beside this gatrec nor on PATH: it is built when GNU "
            "libmicrohttpd is installed (apt-get install libmicrohttpd-dev, then make)\n");
    return EXIT_FAIL;
}

static int run(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (strcmp(cmd, "data") == 0)
        return cmd_data(argc, argv);
    if (strcmp(cmd, "split") == 0)
        return cmd_split(argc, argv);
    if (strcmp(cmd, "train") == 0)
        return cmd_train(argc, argv);
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc, argv);
    if (strcmp(cmd, "recommend") == 0)
        return cmd_recommend(argc, argv);
    if (strcmp(cmd, "update") == 0)
        return cmd_update(argc, argv);
    if (strcmp(cmd, "profiles") == 0)
        return cmd_profiles(argc, argv);
    if (strcmp(cmd, "embed") == 0)
        return cmd_embed(argc, argv);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("gatrec %s%s%s%s\n", gatrec_version_string(), *gatrec__cli_commit ? " (commit " : "", gatrec__cli_commit,
               *gatrec__cli_commit ? ")" : "");
        return EXIT_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (cmd[0])
        fprintf(stderr, "gatrec: unknown command '%s'\n\n", cmd);
    fputs(usage, stderr);
    return EXIT_USAGE;
}

/* Ctrl-C or a kill during a save: the half-written temporary goes, then the signal does its work */
static void on_signal(int sig)
{
    gatrec_remove_temporaries();
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    par_init(&argc, &argv); /* one process, or a rank under mpirun in the MPI build */
    return par_finish(cli_close_stdout(run(argc, argv)));
}
