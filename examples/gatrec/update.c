/* gatrec update: a model takes new ratings without retraining - known users' through
 * gatrec_model_update_user(), new users' through gatrec_model_add_user(). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char update_usage[] =
    "usage: gatrec update --model MODEL --ratings FILE [--delimiter D] [--no-header] --out MODEL2\n"
    "\n"
    "Applies the ratings of FILE (user, item, rating[, timestamp] per line, dataset ids; the\n"
    "format 'gatrec split' writes) to MODEL without retraining and saves the result to MODEL2\n"
    "(which may be MODEL: the file is replaced whole, never half-written). A user the model knows\n"
    "keeps their ratings and gains these (an item rated again takes its new rating); their list\n"
    "is computed again from all of them and no longer offers what they rated. A user it does not\n"
    "know is folded in from these ratings. Every item must be in the model (a new item needs its\n"
    "text: gatrec_model_add_item). The items' states stay as trained. attn, gat, content, ease,\n"
    "pop; bpr and lightgcn cannot (retrain them).\n"
    "--delimiter D: the field separator (default: a tab when the first line has one, else ',').\n"
    "--no-header: the first line is a rating (default: skipped when its first field is not a\n"
    "number).\n"
    "A model of an imported dataset (gatrec data import) takes its string ids: FILE then has a\n"
    "header naming user, item and rating (without rating: implicit events, each weighing 1), and\n"
    "a new user keeps their string id.\n";

/* The separator and header of FILE's first line (the caller's choice when given), and whether
 * that header names a column "rating". */
static void sniff(const char *path, const char **delim, int *header, int no_header, int *has_rating)
{
    char line[4096];
    FILE *f = fopen(path, "r");
    line[0] = 0;
    if (f) { /* a file that cannot be read: the loader says why */
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        fclose(f);
    }
    if (!*delim)
        *delim = strchr(line, '\t') ? "\t" : ",";
    *header = no_header ? 0 : !(line[0] >= '0' && line[0] <= '9');
    *has_rating = 0;
    for (char *p = line; *p;) {
        size_t n = strcspn(p, *delim), k = n;
        while (k && (p[k - 1] == '\n' || p[k - 1] == '\r'))
            k--;
        *has_rating |= k == 6 && strncmp(p, "rating", 6) == 0;
        p += n + (p[n] != 0);
    }
}

int cmd_update(int argc, char **argv)
{
    const char *model_path = NULL, *ratings_path = NULL, *out = NULL, *delim = NULL;
    int no_header = 0, keyed = 0, has_rating, rc;
    cli_opt opts[] = {{"--model", &model_path, NULL}, {"--ratings", &ratings_path, NULL},
                      {"--out", &out, NULL},          {"--delimiter", &delim, NULL},
                      {"--no-header", NULL, &no_header}, {NULL, NULL, NULL}};
    gatrec_delimited_options dopt = GATREC_DELIMITED_OPTIONS_INIT;
    gatrec_dataset *ev = NULL;
    gatrec_model *m = NULL;
    int32_t *items = NULL;
    float *stars = NULL;
    size_t updated = 0, added = 0, nr;
    rc = cli_parse(argc, argv, 2, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(update_usage, stdout), EXIT_OK) : rc;
    if (!model_path || !ratings_path || !out)
        return cli_usage_error("update", "%s", "--model MODEL, --ratings FILE and --out MODEL2 are required");
    if (delim && !delim[0])
        return cli_usage_error("update", "%s", "--delimiter must not be empty");
    {
        const char *inputs[] = {ratings_path};
        if ((rc = cli_check_output("update", out)) || (rc = cli_check_not_input("update", out, inputs, 1)))
            return rc;
    }
    sniff(ratings_path, &delim, &dopt.header, no_header, &has_rating);
    dopt.delimiter = delim;
    if ((rc = gatrec_model_load(model_path, &m)))
        goto fail;
    if ((keyed = cli_keyed_items(m))) { /* a model of an imported dataset: string ids, by the header's names */
        gatrec_import_options io = GATREC_IMPORT_OPTIONS_INIT;
        if (no_header) {
            rc = cli_usage_error("update", "%s", "this model's ids are strings: the file needs its header (user,item"
                                 "[,rating][,time], as gatrec data import reads)");
            goto done;
        }
        io.rating_column = has_rating ? "rating" : NULL; /* without one: implicit events, weight 1 */
        io.rating_min = -1e9;
        io.rating_max = 1e9;
        io.delimiter = delim[0];
        rc = gatrec_dataset_import(ratings_path, &io, &ev, NULL);
    } else {
        rc = gatrec_dataset_load_delimited(ratings_path, &dopt, &ev);
    }
    if (rc)
        goto fail;
    nr = gatrec_dataset_num_ratings(ev);
    items = malloc((nr + 1) * sizeof *items);
    stars = malloc((nr + 1) * sizeof *stars);
    if (!items || !stars) {
        rc = GATREC_ENOMEM;
        goto fail;
    }
    /* every user's ratings in one call: the ratings grouped by user (counting sort) */
    size_t nu = gatrec_dataset_num_users(ev), *first = calloc(nu + 2, sizeof *first);
    uint32_t *order = malloc((nr + 1) * sizeof *order);
    if (!first || !order) {
        free(first), free(order);
        rc = GATREC_ENOMEM;
        goto fail;
    }
    for (size_t r = 0; r < nr; r++) {
        int32_t ru;
        gatrec_dataset_rating(ev, r, &ru, NULL, NULL, NULL);
        first[(size_t)ru + 2]++;
    }
    for (size_t u = 2; u < nu + 2; u++)
        first[u] += first[u - 1];
    for (size_t r = 0; r < nr; r++) {
        int32_t ru;
        gatrec_dataset_rating(ev, r, &ru, NULL, NULL, NULL);
        order[first[(size_t)ru + 1]++] = (uint32_t)r;
    }
    int64_t next_id = cli_fresh_user_id(m); /* a keyed model's new users are numbered from here */
    for (int32_t u = 0; (size_t)u < nu && !rc; u++) {
        int64_t uid = gatrec_dataset_user_id(ev, u);
        int32_t mu;
        size_t n = 0;
        char un[32], in[32];
        const char *ukey = keyed ? gatrec_dataset_user_key(ev, u) : NULL;
        snprintf(un, sizeof un, "%lld", (long long)uid);
        for (size_t t = first[u]; t < first[u + 1]; t++) {
            int32_t ri;
            float v;
            const char *ikey;
            gatrec_dataset_rating(ev, order[t], NULL, &ri, &v, NULL);
            ikey = keyed ? gatrec_dataset_item_key(ev, ri) : NULL;
            snprintf(in, sizeof in, "%lld", (long long)gatrec_dataset_item_id(ev, ri));
            if (keyed ? gatrec_model_find_item(m, ikey, &items[n]) : gatrec_model_item_index(m, gatrec_dataset_item_id(ev, ri), &items[n])) {
                fprintf(stderr, "gatrec update: %s: item %s (rated by user %s) is not in the model: a new item "
                        "needs its text (gatrec_model_add_item), or retrain; nothing was written\n", ratings_path,
                        ikey ? ikey : in, ukey ? ukey : un);
                free(first), free(order);
                rc = EXIT_FAIL;
                goto done;
            }
            stars[n++] = v;
        }
        if ((keyed ? gatrec_model_find_user(m, ukey, &mu) : gatrec_model_user_index(m, uid, &mu)) == 0) {
            rc = gatrec_model_update_user(m, mu, items, stars, n);
            updated++;
        } else {
            gatrec_error_clear();
            if (keyed) /* a fresh number; the key is what the application knows it by */
                uid = next_id++;
            rc = gatrec_model_add_user_checked(m, uid, items, stars, n, NULL, 0, &mu);
            if (!rc && keyed)
                rc = gatrec_model_set_user_key(m, mu, ukey);
            added++;
        }
    }
    free(first);
    free(order);
    if (rc || (rc = gatrec_model_save(m, out)))
        goto fail;
    printf("%zu ratings: %zu known users updated, %zu new users folded in -> %s\n", nr, updated, added, out);
    rc = EXIT_OK;
    goto done;
fail:
    rc = cli_fail("update", rc);
done:
    free(items);
    free(stars);
    gatrec_model_free(m);
    gatrec_dataset_free(ev);
    return rc;
}
