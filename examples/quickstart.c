/* quickstart.c - train on any ratings file and print one user's top 5: a comma-separated
 * user,item,rating file with a header line (for MovieLens itself, see movielens.c).
 * Build against an installed libgatrec:  cc quickstart.c $(pkg-config --cflags --libs gatrec) */
#include <gatrec.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    gatrec_delimited_options opts = GATREC_DELIMITED_OPTIONS_INIT; /* user,item,rating with a header */
    gatrec_dataset *ds = NULL;
    gatrec_split *split = NULL;
    gatrec_graph *graph = NULL;
    gatrec_model *model = NULL;
    int32_t user, items[5];
    size_t n = 0;
    int rc;
    if (argc != 3) {
        fprintf(stderr, "usage: %s RATINGS.csv USER_ID   (user,item,rating lines after a header line)\n", argv[0]);
        return 2;
    }
    if ((rc = gatrec_dataset_load_delimited(argv[1], &opts, &ds)) ||
        (rc = gatrec_split_random(ds, 0.2, 0.0, 42, &split)) || (rc = gatrec_graph_new(ds, split, NULL, &graph)) ||
        (rc = gatrec_model_train(graph, NULL, &model)) ||
        (rc = gatrec_model_user_index(model, atoll(argv[2]), &user)) ||
        (rc = gatrec_model_recommend(model, user, 5, items, NULL, &n)))
        fprintf(stderr, "gatrec: %s\n", gatrec_last_error());
    for (size_t j = 0; j < n; j++)
        printf("%zu. item %lld\n", j + 1, (long long)gatrec_model_item_id(model, items[j]));
    gatrec_model_free(model);
    gatrec_graph_free(graph);
    gatrec_split_free(split);
    gatrec_dataset_free(ds);
    return rc ? 1 : 0;
}
