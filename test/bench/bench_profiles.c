/* Profile generation throughput: every ML-100K item profile written through the built-in
 * transport against the scripted OpenAI-compatible server (test/llm_server.c) answering in
 * 200 ms, with 8 requests in flight; then the same run again, answered by the cache. Ideal:
 * 1682 x 0.2 / 8 = 42 s, and no request at all the second time. Prints figures. */
#include <gatrec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../llm_server.h"
#include "synth.h"

/* Answers of the shape asked for: an item's Markdown profile, a user's JSON (issue 24: an answer
 * that is no profile is a failure) */
static char *writer(const char *body, void *ctx)
{
    char *out = malloc(128);
    (void)ctx;
    if (out)
        snprintf(out, 128, strstr(body, "user_profile") ? "{\"user_profile\": \"Likes quiet dramas.\"}"
                                                         : "## Overview\nA film in brief.");
    return out;
}

int main(void)
{
    const char *d = getenv("GATREC_TEST_DATA");
    char dir[4096], cache[] = "/tmp/gatrec-bench-cache-XXXXXX", cmd[4200];
    gatrec_dataset *ds;
    gatrec_graph *g;
    llm_server *s;
    snprintf(dir, sizeof dir, "%s/ml-100k", d && d[0] ? d : "../shared/data");
    if (gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, &ds) || gatrec_graph_new(ds, NULL, NULL, &g)) {
        printf("profile generation: skipped (no ML-100K at %s)\n", dir);
        return 0;
    }
    if (!mkdtemp(cache))
        return perror("mkdtemp"), 1;
    s = llm_server_start();
    llm_server_set_delay(s, 200);
    llm_server_set_chat(s, writer, NULL);
    for (int run = 0; run < 2; run++) {
        gatrec_http_options h = GATREC_HTTP_OPTIONS_INIT;
        gatrec_llm_options lo = GATREC_LLM_OPTIONS_INIT;
        gatrec_profile_options po = GATREC_PROFILE_OPTIONS_INIT;
        gatrec_llm_stats st = {.version = GATREC_LLM_STATS_VERSION};
        gatrec_llm_transport t;
        gatrec_llm *llm;
        gatrec_profiles *p;
        size_t ok = 0, bad = 0;
        unsigned before = llm_server_requests(s);
        double t0;
        h.base_url = llm_server_url(s);
        lo.cache_dir = cache;
        lo.concurrency = 8;
        po.users = 0;
        if (gatrec_llm_transport_http(&h, &t) || gatrec_llm_new(&t, &lo, &llm) || gatrec_profiles_new(&p))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        t0 = now();
        if (gatrec_profiles_generate(p, llm, ds, g, &po, &ok, &bad))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        gatrec_llm_get_stats(llm, &st);
        printf("profile generation, %s: %zu item profiles in %.1f s (ideal %.1f s at 200 ms x %zu / 8 in flight); "
               "%u requests reached the server, %llu cache hits, most in flight %u\n",
               run ? "rerun with the cache" : "first run", ok, now() - t0, 0.2 * (double)ok / 8.0, ok,
               llm_server_requests(s) - before, (unsigned long long)st.cache_hits, llm_server_max_in_flight(s));
        gatrec_profiles_free(p);
        gatrec_llm_free(llm);
    }
    llm_server_stop(s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", cache);
    gatrec_graph_free(g);
    gatrec_dataset_free(ds);
    return 0;
}
