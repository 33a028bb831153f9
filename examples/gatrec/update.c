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
    "number).\n";

/* The separator and header of FILE's first line (the caller's choice when given). */
static void sniff(const char *path, const char **delim, int *header, int no_header)
{
    char line[4096];
    FILE *f = fopen(path, "r");
    line[0] = 0;
    if (f) { /* a file that cannot be read: gatrec_dataset_load_delimited says why */
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        fclose(f);
    }
    if (!*delim)
        *delim = strchr(line, '\t') ? "\t" : ",";
    *header = no_header ? 0 : !(line[0] >= '0' && line[0] <= '9');
}

int cmd_update(int argc, char **argv)
{
    const char *model_path = NULL, *ratings_path = NULL, *out = NULL, *delim = NULL;
    int no_header = 0, rc;
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
    sniff(ratings_path, &delim, &dopt.header, no_header);
    dopt.delimiter = delim;
    if ((rc = gatrec_dataset_load_delimited(ratings_path, &dopt, &ev)) || (rc = gatrec_model_load(model_path, &m)))
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
    for (int32_t u = 0; (size_t)u < nu && !rc; u++) {
        int64_t uid = gatrec_dataset_user_id(ev, u);
        int32_t mu;
        size_t n = 0;
        for (size_t t = first[u]; t < first[u + 1]; t++) {
            int32_t ri;
            float v;
            gatrec_dataset_rating(ev, order[t], NULL, &ri, &v, NULL);
            if (gatrec_model_item_index(m, gatrec_dataset_item_id(ev, ri), &items[n])) {
                fprintf(stderr, "gatrec update: %s: item %lld (rated by user %lld) is not in the model: a new item "
                        "needs its text (gatrec_model_add_item), or retrain; nothing was written\n", ratings_path,
                        (long long)gatrec_dataset_item_id(ev, ri), (long long)uid);
                free(first), free(order);
                rc = EXIT_FAIL;
                goto done;
            }
            stars[n++] = v;
        }
        if (gatrec_model_user_index(m, uid, &mu) == 0) {
            rc = gatrec_model_update_user(m, mu, items, stars, n);
            updated++;
        } else {
            gatrec_error_clear();
            rc = gatrec_model_add_user_checked(m, uid, items, stars, n, NULL, 0, &mu);
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
