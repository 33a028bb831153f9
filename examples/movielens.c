/* The README's program: MovieLens 100K fold u1, template profiles through the offline LSA
 * embedder as the text of attn (libgatrec's model), evaluated under the paper's protocol.
 *   cc movielens.c $(pkg-config --cflags --libs gatrec) -o movielens
 *   ./movielens [ML-100K DIR] [EPOCHS]     (default: $GATREC_DATA_DIR/ml-100k, 25 epochs) */
#include <gatrec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    gatrec_dataset *ds = NULL; gatrec_split *split = NULL; gatrec_graph *graph = NULL;
    gatrec_model *model = NULL; gatrec_reclist *lists = NULL; gatrec_profiles *profiles = NULL;
    gatrec_embedder *embedder = NULL; float *features = NULL; size_t dim; char dir[4096];
    gatrec_model_options mo = GATREC_MODEL_OPTIONS_INIT;
    gatrec_eval_options opts = GATREC_EVAL_OPTIONS_INIT;
    gatrec_metrics m = {.version = GATREC_METRICS_VERSION};
    int rc;
    if (argc > 1)
        snprintf(dir, sizeof dir, "%s", argv[1]);
    else if (gatrec_data_dir(dir, sizeof dir - 16) == 0) /* where `gatrec data fetch ml-100k` puts it */
        snprintf(dir + strlen(dir), 16, "/ml-100k");
    mo.kind = GATREC_MODEL_ATTN;                      /* graph attention on ID + text (GATREC_MODEL_GAT: the paper's) */
    mo.epochs = argc > 2 ? atoi(argv[2]) : 25;        /* the softmax overfits: 25 epochs (docs/model.md) */
    if ((rc = gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, &ds)) ||
        (rc = gatrec_split_official(ds, "u1", &split)) || (rc = gatrec_graph_new(ds, split, NULL, &graph)) ||
        /* text features: template profiles (or an LLM's) through the offline embedder */
        (rc = gatrec_profiles_new(&profiles)) || (rc = gatrec_profiles_fill_templates(profiles, ds, graph, NULL)) ||
        (rc = gatrec_embedder_new_lsa(NULL, &embedder)) ||
        (rc = gatrec_features_from_profiles(graph, profiles, embedder, &features, &dim)) ||
        (mo.features = features, mo.feature_dim = dim, rc = gatrec_model_train(graph, &mo, &model)) ||
        (rc = gatrec_model_recommend_all(model, 10, &lists))) {
        fprintf(stderr, "gatrec: %s\n", gatrec_last_error());
    } else {
        opts.protocol = GATREC_PROTOCOL_PAPER;
        if (!(rc = gatrec_evaluate(ds, split, lists, &opts, &m)))
            printf("P@10 %.4f  R@10 %.4f  NDCG@10 %.4f  MAP@10 %.4f\n", m.precision, m.recall, m.ndcg, m.map);
    }
    gatrec_reclist_free(lists); gatrec_model_free(model); gatrec_features_free(features);
    gatrec_embedder_free(embedder); gatrec_profiles_free(profiles); gatrec_graph_free(graph);
    gatrec_split_free(split); gatrec_dataset_free(ds);
    return rc ? 1 : 0;
}
