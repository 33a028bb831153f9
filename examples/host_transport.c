/* host_transport.c - the host owns the network: plug your own LLM transport into libgatrec.
 *
 * libgatrec never needs to open a socket itself. Here the "network" is a function that answers
 * every chat completion from a local rule (a real host would call its HTTP stack, add its auth,
 * go through its proxy, record metrics...). The reranker above it is unchanged: same prompts,
 * same validation, same cache. Build against an installed libgatrec:
 *     cc host_transport.c $(pkg-config --cflags --libs gatrec) */
#include <gatrec.h>
#include <stdio.h>
#include <string.h>

typedef struct host {
    int requests;
} host;

/* An OpenAI-compatible chat completion answering every ranking request with "C3 first". */
static int host_send(void *userdata, const char *path, const char *body, size_t body_len, gatrec_llm_sink sink,
                     void *sink_ctx, long timeout_ms, int *http_status)
{
    static const char answer[] = "{\"choices\": [{\"message\": {\"role\": \"assistant\", "
                                 "\"content\": \"{\\\"ranking\\\": [\\\"C3\\\", \\\"C1\\\", \\\"C2\\\"]}\"}}]}";
    host *h = userdata;
    (void)body;
    (void)timeout_ms;
    h->requests++;
    fprintf(stderr, "host transport: POST %s (%zu bytes)\n", path, body_len);
    if (strcmp(path, "/v1/chat/completions") != 0)
        return GATREC_EUSER; /* the host's own failure: passed through to the caller unchanged */
    *http_status = 200;
    return sink(answer, sizeof answer - 1, sink_ctx);
}

int main(void)
{
    host h = {0};
    gatrec_llm_transport t = {GATREC_LLM_TRANSPORT_VERSION, &h, host_send, NULL};
    gatrec_llm *llm = NULL;
    gatrec_reranker *rr = NULL;
    gatrec_reranker_options ro = GATREC_RERANKER_OPTIONS_INIT;
    const int64_t ids[] = {50, 100, 127}; /* the model's order */
    const char *texts[] = {"Star Wars (1977): space opera", "Fargo (1996): crime, snow",
                           "The Godfather (1972): crime family saga"};
    int64_t out[3];
    int rc;
    ro.fusion = GATREC_FUSION_NONE; /* show the LLM's order as it is */
    if ((rc = gatrec_llm_new(&t, NULL, &llm)) || (rc = gatrec_reranker_new(llm, &ro, &rr)) ||
        (rc = gatrec_reranker_rerank(rr, "Loves crime sagas.", ids, texts, 3, out))) {
        fprintf(stderr, "host_transport: %s\n", gatrec_last_error());
    } else {
        for (int k = 0; k < 3; k++)
            printf("%d. item %lld\n", k + 1, (long long)out[k]);
        printf("%d request(s) went through the host's transport\n", h.requests);
    }
    gatrec_reranker_free(rr);
    gatrec_llm_free(llm);
    return rc ? 1 : 0;
}
