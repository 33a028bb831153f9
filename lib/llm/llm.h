/* The LLM client shared by profiles, the remote embedder and the reranker. */
#ifndef GATREC_LLM_H
#define GATREC_LLM_H

#include <pthread.h>

#include "../common/common.h"

/* Is t the built-in libcurl transport (which sends a GET for an empty body)? (http.c) */
int gatrec__http_is_builtin(const gatrec_llm_transport *t);
/* Does a server's text (an error body or message; its first KiB) say the input is too large? (http.c) */
int gatrec__says_too_large(const char *text, size_t len);

#define GATREC__LLM_REASONS 16

struct gatrec_llm {
    gatrec_llm_transport t;
    char *chat_model, *embed_model, *cache_dir;
    long timeout_ms;
    int concurrency, max_tokens;
    int format; /* the most a chat may ask for (a gatrec_llm_format), lowered when the server refuses */
    pthread_mutex_t mu;
    uint64_t requests, cache_hits, failures;
    /* the circuit breaker: consecutive unreachable-endpoint failures before any answer */
    int down_streak, answered, unreachable;
    /* the chat and embeddings models: discovered from GET /v1/models once, when neither the
     * options nor $GATREC_LLM_MODEL / $GATREC_LLM_EMBEDDING_MODEL name one (built-in transport
     * only); the one the server said answered */
    int discover, discover_chat, discover_embed;
    pthread_mutex_t discover_mu;
    char *served_model;
    char down_reason[320];
    /* why requests failed: distinct reasons (the message's first line with its numbers as N) and
     * their counts; the text shown is the first one seen, whole up to its bound */
    struct {
        char key[200], text[200];
        uint64_t count;
    } reasons[GATREC__LLM_REASONS];
    size_t nreasons;
    uint64_t unlisted; /* failures whose reason did not fit the table */
};

/* Count a failure under its reason (the message, up to its first " ("). */
void gatrec__llm_note_failure(gatrec_llm *l, const char *reason);

/* Consecutive failures to reach the endpoint, before any answer, that stop every later request. */
#define GATREC__LLM_BREAKER 3
/* Attempts at a 2xx answer whose body is not JSON (cut off in transit) before giving up. */
#define GATREC__LLM_BODY_ATTEMPTS 3

/* JSON schemas of the answers the library asks for; "title" names each. */
extern const char gatrec__shape_user_profile[], gatrec__shape_ranking[], gatrec__shape_choice[],
    gatrec__shape_scores[], gatrec__shape_justification[];

/* gatrec_llm_chat asking for JSON of `shape` (a JSON schema, or NULL for any object). */
int gatrec__llm_chat_shaped(gatrec_llm *l, const char *system, const char *user, float temperature, const char *shape,
                            char **reply);
/* A caller's test of a chat's reply: NULL when usable, else why not (a static string). An
 * unusable reply fails the chat (GATREC_EFORMAT) and is never cached, so a rerun asks again. */
typedef const char *(*gatrec__llm_check)(const char *reply);
/* Ask GET /v1/models once when the chat model (for_embeddings 0) or the embeddings model (1) is
 * not named by the caller: a server serving one model gets its name for both. */
void gatrec__llm_discover(gatrec_llm *l, int for_embeddings);
/* gatrec__llm_chat_shaped with the reply held to `check` (never cached when unusable). */
int gatrec__llm_chat_checked(gatrec_llm *l, const char *system, const char *user, float temperature, const char *shape,
                             gatrec__llm_check check, char **reply);
/* Fewer than 3 words (runs of two or more letters; a byte past ASCII counts as a letter): a
 * profile or a justification that says nothing (",", ":" or "ok"). */
int gatrec__llm_too_few_words(const char *text);
/* gatrec_llm_chat_many likewise (shape NULL and json_mode 0: no JSON asked), each reply held to
 * `check` (may be NULL). */
int gatrec__llm_chat_many_shaped(gatrec_llm *l, size_t n, const char *const *systems, const char *const *users,
                                 float temperature, const char *shape, gatrec__llm_check check, char **replies,
                                 int *statuses, gatrec_progress_cb progress, void *payload);

/* n texts -> out[n x dim] through /v1/embeddings with `model` (NULL: the client's), cached. */
int gatrec__llm_embed(gatrec_llm *l, const char *model, const char *const *texts, size_t n, float *out, size_t dim);
/* The width of `model`'s embeddings (NULL: the client's): one short text asked. */
int gatrec__llm_embed_width(gatrec_llm *l, const char *model, size_t *dim);
/* The client's embeddings model name. */
const char *gatrec__llm_embed_model(gatrec_llm *l);

/* ---- across the client's files ---- */
/* GATREC_EINVAL naming `what` unless text is UTF-8, the only text a JSON request carries (chat.c). */
int gatrec__llm_check_text(const char *what, const char *text);
/* `given`, else $var, else `fallback`, as a new string (client.c). */
char *gatrec__llm_env_or(const char *given, const char *var, const char *fallback);
/* Bump one of the client's counters under its lock (client.c). */
void gatrec__llm_count(gatrec_llm *l, uint64_t *field);
/* POST body to path through the cache and the transport; `parse` checks an answer before it is
 * cached (client.c). */
int gatrec__llm_request(gatrec_llm *l, const char *path, const char *body, int (*parse)(const char *answer, void *ctx),
                        void *ctx);
/* cache.c: create the cache directory (and sweep stale temporary files); an entry's file for a
 * request; its answer when the entry is whole (else NULL); store an answer. */
int gatrec__llm_cache_open(const char *dir);
char *gatrec__llm_cache_path(const gatrec_llm *l, const char *path, const char *body);
char *gatrec__llm_cache_get(const char *file);
void gatrec__llm_cache_put(const char *file, const char *answer);

#endif
