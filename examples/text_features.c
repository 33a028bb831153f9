/* text_features.c - from words to recommendations: describe users and items in text, embed the
 * texts with the built-in offline embedder, train attn (graph attention on ID + text, the
 * library's recommended model) on those features, then welcome a new user from a one-line
 * description and three ratings, without retraining.
 * Build against an installed libgatrec:  cc text_features.c $(pkg-config --cflags --libs gatrec) */
#include <gatrec.h>
#include <stdio.h>
#include <stdlib.h>

/* Six films in two moods, four users: 1 and 2 like the thrillers, 3 and 4 the comedies. */
static const char *films[] = {"A heist thriller: a bank robbery in Los Angeles goes wrong.",
                              "A tense crime thriller about a detective hunting a killer.",
                              "A spy thriller with chases, betrayal and a ticking bomb.",
                              "A warm family comedy about toys that come to life.",
                              "A romantic comedy: two strangers meet at a wedding.",
                              "A slapstick comedy about a dog who wins a talent show."};
static const char *people[] = {"Loves crime thrillers, heists and detectives.", "Enjoys tense spy thrillers.",
                               "Likes light family comedies.", "Enjoys romantic and slapstick comedies."};

int main(void)
{
    int32_t users[16], items[16], top[3], newcomer;
    float ratings[16], *features = NULL, *mine = NULL;
    size_t n = 0, dim, count = 0;
    gatrec_graph *graph = NULL;
    gatrec_profiles *profiles = NULL;
    gatrec_embedder *embedder = NULL;
    gatrec_model *model = NULL;
    gatrec_embedder_options eo = GATREC_EMBEDDER_OPTIONS_INIT;
    gatrec_model_options mo = GATREC_MODEL_OPTIONS_INIT;
    int rc;
    for (int32_t u = 0; u < 4; u++) /* each user rates the two films of their mood they know, and one other */
        for (int32_t i = 0; i < 6; i++)
            if ((u < 2) == (i < 3) ? i % 3 != u % 3 : i % 3 == u % 3) {
                users[n] = u;
                items[n] = i;
                ratings[n++] = (u < 2) == (i < 3) ? 5.0f : 1.0f;
            }
    eo.dim = 32;
    mo.kind = GATREC_MODEL_ATTN;
    mo.dim = 16;
    mo.epochs = 100;
    if ((rc = gatrec_graph_from_edges(4, 6, n, users, items, ratings, NULL, &graph)) ||
        (rc = gatrec_profiles_new(&profiles)))
        goto done;
    for (int32_t k = 0; k < 6 && !rc; k++)
        rc = gatrec_profiles_set(profiles, GATREC_NODE_ITEM, k, films[k]);
    for (int32_t k = 0; k < 4 && !rc; k++)
        rc = gatrec_profiles_set(profiles, GATREC_NODE_USER, k, people[k]);
    if (rc || (rc = gatrec_embedder_new_hashed(&eo, &embedder)) ||
        (rc = gatrec_features_from_profiles(graph, profiles, embedder, &features, &dim)))
        goto done;
    mo.features = features;
    mo.feature_dim = dim;
    if ((rc = gatrec_model_train(graph, &mo, &model)))
        goto done;
    /* A newcomer: a description embedded the same way (the embedder keeps what it learned),
     * and three ratings: the two thrillers liked, a comedy disliked. */
    {
        const char *about[] = {"Into dark crime thrillers and bank heists."};
        int32_t rated[] = {0, 2, 3};
        float stars[] = {5, 4, 1};
        if (!(mine = malloc(gatrec_embedder_dim(embedder) * sizeof *mine))) {
            rc = GATREC_ENOMEM;
            goto done;
        }
        if ((rc = gatrec_embedder_embed(embedder, about, 1, mine)) ||
            (rc = gatrec_model_add_user_checked(model, 100, rated, stars, 3, mine, gatrec_embedder_dim(embedder),
                                                &newcomer)) ||
            (rc = gatrec_model_recommend(model, newcomer, 3, top, NULL, &count)))
            goto done;
    }
    printf("for the newcomer:\n");
    for (size_t k = 0; k < count; k++)
        printf("%zu. %s\n", k + 1, films[gatrec_model_item_id(model, top[k])]);
done:
    if (rc)
        fprintf(stderr, "text_features: %s\n", gatrec_last_error());
    free(mine);
    gatrec_features_free(features);
    gatrec_model_free(model);
    gatrec_embedder_free(embedder);
    gatrec_profiles_free(profiles);
    gatrec_graph_free(graph);
    return rc ? 1 : 0;
}
