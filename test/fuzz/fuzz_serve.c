/* libFuzzer target: what a client sends gatrec serve (examples/serve/serve.c, compiled in here).
 * The first byte picks the parser - a new user's POST body, an explain body, a query string's id
 * list and id, k - and the rest is its input. Every answer must be a status the service documents
 * with a body that is JSON; the model must have the users it had (a new user is never kept).
 * Built and run by `make fuzz` when libmicrohttpd is installed (docs/testing.md). */
#define main gatrec_serve_main
int gatrec_serve_main(int argc, char **argv);
#include "../../examples/serve/serve.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A model of a tiny shop with string ids (a comma and a quote in one), made once */
static slot *shop(void)
{
    static slot *s;
    static const char *const users[] = {"u1", "u1", "u2", "u2", "u3", "u3", "u4"};
    static const char *const items[] = {"a", "b,\"c\"", "b,\"c\"", "d", "a", "d", "e"};
    gatrec_dataset *ds;
    gatrec_graph *gr;
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    pthread_rwlock_init(&s->rw, NULL);
    o.kind = GATREC_MODEL_EASE;
    o.lambda = 1;
    if (gatrec_dataset_from_key_arrays(7, users, items, NULL, NULL, NULL, &ds) ||
        gatrec_graph_new(ds, NULL, NULL, &gr) || gatrec_model_train(gr, &o, &s->m))
        abort();
    gatrec_graph_free(gr);
    s->ds = ds;
    s->refs = 1;
    return s;
}

static void check(reply r)
{
    json_t *j;
    if (r.status != 200 && r.status != 400 && r.status != 500)
        abort();
    if (!r.text || !(j = json_loads(r.text, 0, NULL)))
        abort();
    json_decref(j);
    free(r.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slot *s = shop();
    size_t users = gatrec_model_num_users(s->m);
    char *text, msg[512];
    if (size < 1)
        return 0;
    if (!(text = malloc(size)))
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 4) {
    case 0:
        check(post_recommend(s, text, size - 1));
        break;
    case 1:
        check(post_explain(s, text, size - 1));
        break;
    case 2: {
        id_list *l = calloc(1, sizeof *l);
        int32_t i;
        if (l) {
            ids_from_query(s->m, text, data[0] & 4, l, msg, sizeof msg);
            for (size_t k = 0; k < l->n; k++)
                if (l->idx[k] < 0 || (size_t)l->idx[k] >= gatrec_model_num_items(s->m))
                    abort();
            free(l);
        }
        if (node_index(s->m, data[0] & 8, text, 0, 0, &i, msg, sizeof msg) == 0 &&
            (i < 0 || (size_t)i >= (data[0] & 8 ? users : gatrec_model_num_items(s->m))))
            abort();
        break;
    }
    default: {
        long k = parse_k(text, msg, sizeof msg);
        if (k != -1 && (k < 1 || k > MAX_K))
            abort();
        break;
    }
    }
    if (gatrec_model_num_users(s->m) != users)
        abort();
    gatrec_error_clear();
    free(text);
    return 0;
}
