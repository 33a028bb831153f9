/* gatrec_llm: the client - its options, its transport, its counters - and one request through
 * it: the cache first (cache.c), then the transport with its retries for a cut-off body and the
 * circuit breaker; failures are counted by reason (failures.c). Chat: chat.c; embeddings:
 * embeddings.c. */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "llm.h"

GATREC__OPTIONS_INIT_FN(gatrec_llm_options_init, gatrec_llm_options, GATREC_LLM_OPTIONS_VERSION, GATREC_LLM_OPTIONS_INIT)

char *gatrec__llm_env_or(const char *given, const char *var, const char *fallback)
{
    const char *v = given ? given : getenv(var);
    return gatrec__strdup(v && v[0] ? v : fallback);
}

GATREC_API int gatrec_llm_new(const gatrec_llm_transport *transport, const gatrec_llm_options *opts, gatrec_llm **out)
{
    gatrec_llm_options o;
    gatrec_llm *l;
    gatrec_llm_options_init(&o, GATREC_LLM_OPTIONS_VERSION);
    if (!transport || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_llm_new: NULL transport or output");
    if (gatrec__versions_check(transport, &gatrec__gatrec_llm_transport_versions))
        return GATREC_EINVAL;
    if (!transport->send)
        return gatrec__error(GATREC_EINVAL, "gatrec_llm_new: the transport has no send function");
    if (GATREC__READ_VERSIONED(&o, opts, gatrec_llm_options))
        return GATREC_EINVAL;
    if (o.response_format < GATREC_LLM_FORMAT_SCHEMA || o.response_format > GATREC_LLM_FORMAT_NONE)
        return gatrec__error(GATREC_EINVAL, "gatrec_llm_options: response_format must be a gatrec_llm_format, not %d",
                             o.response_format);
    if (o.concurrency < 0 || o.concurrency > 256 || o.max_tokens < 0)
        return gatrec__error(GATREC_EINVAL, "gatrec_llm_options: concurrency must be 0..256 and max_tokens >= 0");
    if (o.cache_dir) {
        int rc = gatrec__llm_cache_open(o.cache_dir);
        if (rc)
            return rc;
    }
    if (!(l = gatrec__calloc(1, sizeof *l)))
        return GATREC_ENOMEM;
    memset(&l->t, 0, sizeof l->t);
    GATREC__READ_VERSIONED(&l->t, transport, gatrec_llm_transport); /* checked above */
    l->chat_model = gatrec__llm_env_or(o.chat_model, "GATREC_LLM_MODEL", "gpt-4o-mini");
    {
        const char *env = getenv("GATREC_LLM_MODEL"), *eenv = getenv("GATREC_LLM_EMBEDDING_MODEL");
        l->discover_chat = !o.chat_model && !(env && env[0]);
        l->discover_embed = !o.embedding_model && !(eenv && eenv[0]);
        l->discover = (l->discover_chat || l->discover_embed) && gatrec__http_is_builtin(transport);
    }
    l->embed_model = gatrec__llm_env_or(o.embedding_model, "GATREC_LLM_EMBEDDING_MODEL", "text-embedding-3-small");
    l->cache_dir = o.cache_dir ? gatrec__strdup(o.cache_dir) : NULL;
    l->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : 60000;
    l->concurrency = o.concurrency ? o.concurrency : 4;
    l->max_tokens = o.max_tokens ? o.max_tokens : 700;
    l->format = o.response_format;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->discover_mu, NULL);
    if (!l->chat_model || !l->embed_model || (o.cache_dir && !l->cache_dir)) {
        l->t.free = NULL; /* the caller keeps its transport when we fail */
        gatrec_llm_free(l);
        return GATREC_ENOMEM;
    }
    *out = l;
    return GATREC_OK;
}

GATREC_API void gatrec_llm_free(gatrec_llm *l)
{
    if (!l)
        return;
    if (l->t.free)
        l->t.free(l->t.userdata);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->discover_mu);
    free(l->served_model);
    free(l->chat_model);
    free(l->embed_model);
    free(l->cache_dir);
    free(l);
}

GATREC_API void gatrec_string_free(char *s)
{
    free(s);
}

GATREC_API int gatrec_llm_get_stats(const gatrec_llm *l, gatrec_llm_stats *st)
{
    if (!l || !st || st->version == 0)
        return gatrec__error(GATREC_EINVAL, "gatrec_llm_get_stats: NULL argument or version 0");
    pthread_mutex_lock((pthread_mutex_t *)&l->mu);
    st->requests = l->requests;
    st->cache_hits = l->cache_hits;
    st->failures = l->failures;
    pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
    return GATREC_OK;
}

void gatrec__llm_count(gatrec_llm *l, uint64_t *field)
{
    pthread_mutex_lock(&l->mu);
    (*field)++;
    pthread_mutex_unlock(&l->mu);
}

/* ---- one request ---- */

static int to_buf(const char *chunk, size_t len, void *ctx)
{
    return gatrec__buf_put(ctx, chunk, len);
}

/* The circuit breaker's bookkeeping after one request: a failure to reach the endpoint (the
 * transport's own retries spent, no HTTP status) before any answer counts toward stopping. */
static void breaker(gatrec_llm *l, int rc, int status)
{
    pthread_mutex_lock(&l->mu);
    if (rc == GATREC_OK || status != 0) {
        l->answered = 1; /* the endpoint is there: from now on every failure is its own */
        l->down_streak = 0;
    } else if (rc == GATREC_ENETWORK && !l->answered && ++l->down_streak >= GATREC__LLM_BREAKER && !l->unreachable) {
        l->unreachable = 1;
        snprintf(l->down_reason, sizeof l->down_reason, "%s", gatrec_last_error());
    }
    pthread_mutex_unlock(&l->mu);
}

/* POST body to path; the answer (NUL-terminated) is checked by `parse` before it is cached. A
 * 2xx answer whose body is not JSON (cut off in transit) is asked again, a bounded number of
 * times; after GATREC__LLM_BREAKER failures in a row to reach the endpoint at all, before any
 * answer, every request fails at once. */
int gatrec__llm_request(gatrec_llm *l, const char *path, const char *body, int (*parse)(const char *answer, void *ctx),
                   void *ctx)
{
    char *file = l->cache_dir ? gatrec__llm_cache_path(l, path, body) : NULL, *cached;
    gatrec__buf b = {0};
    int status = 0, rc, unreachable;
    if (file && (cached = gatrec__llm_cache_get(file))) {
        rc = parse(cached, ctx);
        free(cached);
        if (rc == GATREC_OK) {
            gatrec__llm_count(l, &l->cache_hits);
            free(file);
            return GATREC_OK;
        }
    }
    pthread_mutex_lock(&l->mu);
    unreachable = l->unreachable;
    pthread_mutex_unlock(&l->mu);
    if (unreachable) {
        gatrec__llm_count(l, &l->failures);
        free(file);
        rc = gatrec__error(GATREC_ENETWORK, "the LLM endpoint is unreachable (%d requests in a row failed, the "
                           "first: %s): check that the server runs and GATREC_LLM_BASE_URL names it",
                           GATREC__LLM_BREAKER, l->down_reason);
        gatrec__llm_note_failure(l, "not sent: the endpoint was unreachable");
        return rc;
    }
    for (int attempt = 1;; attempt++) {
        gatrec__llm_count(l, &l->requests);
        status = 0;
        gatrec__buf_free(&b);
        gatrec_error_clear(); /* a message after the call is the transport's own */
        rc = l->t.send(l->t.userdata, path, body, strlen(body), to_buf, &b, l->timeout_ms, &status);
        if (rc > 0 || rc < GATREC_EUNSUPPORTED)
            rc = GATREC_EUSER; /* a transport must return a status; anything else is the host's failure */
        if (rc && !gatrec__error_is_set())
            gatrec__error(rc, "%s: the LLM transport failed (%d: %s) and said no more", path, rc, gatrec_strerror(rc));
        if (!rc && (rc = gatrec__buf_put(&b, "", 1)) == GATREC_OK) {
            const char *answer = (const char *)b.data;
            json_t *j = json_loads(answer, 0, NULL);
            if (status < 200 || status > 299) {
                const char *msg = NULL;
                json_unpack(j, "{s:{s:s}}", "error", "message", &msg);
                rc = gatrec__error(GATREC_ENETWORK, "%s: HTTP %d%s%.200s", path, status, msg ? ": " : "", msg ? msg : "");
            } else if (!j) {
                rc = gatrec__error(GATREC_ENETWORK, "%s: HTTP %d but the body is not JSON (%zu bytes, cut off?) after "
                                   "%d attempt%s", path, status, strlen(answer), attempt, attempt > 1 ? "s" : "");
                if (attempt < GATREC__LLM_BODY_ATTEMPTS) {
                    gatrec__llm_count(l, &l->failures);
                    continue;
                }
            } else if ((rc = parse(answer, ctx)) == GATREC_OK && file) {
                gatrec__llm_cache_put(file, answer);
            }
            json_decref(j);
        }
        break;
    }
    breaker(l, rc, status);
    if (rc) {
        gatrec__llm_count(l, &l->failures);
        gatrec__llm_note_failure(l, gatrec_last_error());
    }
    gatrec__buf_free(&b);
    free(file);
    return rc;
}

