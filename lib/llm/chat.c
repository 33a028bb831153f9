/* Chat completions: one, or many at once on the client's threads; the answers' JSON shapes and
 * how JSON is asked for (lowered when a server refuses); the chat model, discovered from the
 * server's listing when nobody names one. */
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

typedef struct chat_out {
    char *reply;
    char *model; /* the model the server says answered, or NULL */
    gatrec__llm_check check; /* the caller's test of the reply (NULL: any text) */
} chat_out;

static int parse_chat(const char *answer, void *ctx)
{
    chat_out *c = ctx;
    json_error_t err;
    json_t *j = json_loads(answer, 0, &err), *choices, *content;
    const char *why;
    int rc = GATREC_OK;
    if (!j)
        return gatrec__error(GATREC_EFORMAT, "the LLM's answer is not JSON (%s)", err.text);
    choices = json_object_get(j, "choices");
    content = json_object_get(json_object_get(json_array_get(choices, 0), "message"), "content");
    const char *finish = json_string_value(json_object_get(json_array_get(choices, 0), "finish_reason"));
    if (finish && strcmp(finish, "length") == 0) /* cut off: never accepted, never cached */
        rc = gatrec__error(GATREC_EFORMAT, "the LLM's answer was cut off at its token limit (finish_reason "
                           "\"length\"): raise max_tokens (gatrec_llm_options; the command line's --max-tokens or "
                           "$GATREC_LLM_MAX_TOKENS; default 700)");
    else if (finish && strcmp(finish, "content_filter") == 0)
        rc = gatrec__error(GATREC_EFORMAT, "the LLM's answer was withheld by the server's content filter "
                           "(finish_reason \"content_filter\")");
    else if (!json_is_string(content))
        rc = gatrec__error(GATREC_EFORMAT, "the LLM's answer has no choices[0].message.content string");
    else if (!(c->reply = gatrec__strdup(json_string_value(content))))
        rc = GATREC_ENOMEM;
    else if (c->check && (why = c->check(c->reply))) { /* unusable: failed, and never cached */
        rc = gatrec__error(GATREC_EFORMAT, "the LLM's answer is unusable: %s", why);
        free(c->reply);
        c->reply = NULL;
    }
    if (!rc && json_is_string(json_object_get(j, "model")))
        c->model = gatrec__strdup(json_string_value(json_object_get(j, "model")));
    json_decref(j);
    return rc;
}

/* ---- the answers' shapes (JSON Schema; "title" names each) ---- */

const char gatrec__shape_user_profile[] =
    "{\"title\": \"user_profile\", \"type\": \"object\", \"properties\": {\"user_profile\": {\"type\": "
    "\"string\"}}, \"required\": [\"user_profile\"], \"additionalProperties\": false}";
const char gatrec__shape_ranking[] =
    "{\"title\": \"ranking\", \"type\": \"object\", \"properties\": {\"ranking\": {\"type\": \"array\", "
    "\"items\": {\"type\": \"string\"}}}, \"required\": [\"ranking\"], \"additionalProperties\": false}";
const char gatrec__shape_choice[] =
    "{\"title\": \"choice\", \"type\": \"object\", \"properties\": {\"response\": {\"type\": \"string\"}}, "
    "\"required\": [\"response\"], \"additionalProperties\": false}";
const char gatrec__shape_scores[] =
    "{\"title\": \"scores\", \"type\": \"object\", \"properties\": {\"scores\": {\"type\": \"object\", "
    "\"additionalProperties\": {\"type\": \"number\"}}}, \"required\": [\"scores\"]}";
const char gatrec__shape_justification[] =
    "{\"title\": \"justification\", \"type\": \"object\", \"properties\": {\"justification\": {\"type\": "
    "\"string\"}}, \"required\": [\"justification\"], \"additionalProperties\": false}";

enum { WANT_NONE = 0, WANT_OBJECT = 1, WANT_SCHEMA = 2 };

/* What this chat asks for: the most the caller wants within what the server still accepts. */
static int chat_format(gatrec_llm *l, int json_mode, const char *shape)
{
    int want = shape ? WANT_SCHEMA : json_mode ? WANT_OBJECT : WANT_NONE, allowed;
    pthread_mutex_lock(&l->mu);
    allowed = l->format == GATREC_LLM_FORMAT_SCHEMA ? WANT_SCHEMA : l->format == GATREC_LLM_FORMAT_OBJECT ? WANT_OBJECT
                                                                                                   : WANT_NONE;
    pthread_mutex_unlock(&l->mu);
    return want < allowed ? want : allowed;
}

static int chat_body(const gatrec_llm *l, const char *system, const char *user, float temperature, int format,
                     const char *shape, char **body)
{
    json_t *msgs = json_array(), *req;
    int bad = !msgs; /* every part checked: a part jansson refuses must not leave a shorter request */
    *body = NULL;
    if (!bad && system && system[0])
        bad = json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", system)) != 0;
    if (!bad)
        bad = json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", user)) != 0;
    if (bad) {
        json_decref(msgs);
        return gatrec__error(GATREC_ENOMEM, "out of memory building a chat request");
    }
    req = json_pack("{s:s, s:o, s:f, s:i}", "model", l->chat_model, "messages", msgs, "temperature",
                    (double)temperature, "max_tokens", l->max_tokens);
    if (req && format == WANT_OBJECT) {
        bad = json_object_set_new(req, "response_format", json_pack("{s:s}", "type", "json_object")) != 0;
    } else if (req && format == WANT_SCHEMA) {
        json_t *schema = json_loads(shape, 0, NULL);
        const char *name = json_string_value(json_object_get(schema, "title"));
        bad = json_object_set_new(req, "response_format",
                                  json_pack("{s:s, s:{s:s, s:o}}", "type", "json_schema", "json_schema", "name",
                                            name ? name : "answer", "schema", schema ? schema : json_object())) != 0;
    }
    *body = req && !bad ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(req);
    return *body ? GATREC_OK : gatrec__error(GATREC_ENOMEM, "out of memory building a chat request");
}

/* A text sent to the LLM must be UTF-8 (JSON carries nothing else): EINVAL naming it otherwise. */
int gatrec__llm_check_text(const char *what, const char *text)
{
    size_t n = strlen(text);
    return gatrec__is_utf8(text, n) ? GATREC_OK
                                    : gatrec__error(GATREC_EINVAL, "the %s (%zu bytes) is not valid UTF-8: an LLM "
                                                    "request carries UTF-8 text only (convert it first, e.g. from "
                                                    "Latin-1)", what, n);
}

/* Did the server refuse the request's response_format (HTTP 400 naming it)? */
static int format_refused(int rc, const char *msg)
{
    return rc == GATREC_ENETWORK && msg && strstr(msg, "HTTP 400") &&
           (strcasestr(msg, "response_format") || strcasestr(msg, "json_schema") || strcasestr(msg, "schema") ||
            strcasestr(msg, "json_object") || strcasestr(msg, "response format"));
}

/* The sink of the model listing. */
static int to_buf_listing(const char *chunk, size_t len, void *ctx)
{
    return gatrec__buf_put(ctx, chunk, len);
}

/* Ask GET /v1/models once; a server that serves exactly one model gets that name for chats and
 * embeddings not named by the caller (a llama.cpp router refuses "gpt-4o-mini", and a server
 * that serves "tiny-embed" would be sent "text-embedding-3-small"). Anything else keeps the
 * defaults. Not counted as a request. */
void gatrec__llm_discover(gatrec_llm *l, int for_embeddings)
{
    if (!(for_embeddings ? l->discover_embed : l->discover_chat)) /* named by the caller: nothing to ask */
        return;
    pthread_mutex_lock(&l->discover_mu);
    if (l->discover) {
        gatrec__buf b = {0};
        int status = 0;
        l->discover = 0;
        if (l->t.send(l->t.userdata, "/v1/models", "", 0, to_buf_listing, &b, l->timeout_ms, &status) == GATREC_OK &&
            status >= 200 && status < 300 && gatrec__buf_put(&b, "", 1) == GATREC_OK) {
            json_t *j = json_loads((const char *)b.data, 0, NULL), *data = json_object_get(j, "data");
            const char *id = json_string_value(json_object_get(json_array_get(data, 0), "id"));
            char *name = json_array_size(data) == 1 && id && id[0] && l->discover_chat ? gatrec__strdup(id) : NULL;
            char *ename = json_array_size(data) == 1 && id && id[0] && l->discover_embed ? gatrec__strdup(id) : NULL;
            pthread_mutex_lock(&l->mu);
            if (name) {
                free(l->chat_model);
                l->chat_model = name;
            }
            if (ename) {
                free(l->embed_model);
                l->embed_model = ename;
            }
            pthread_mutex_unlock(&l->mu);
            json_decref(j);
        }
        gatrec_error_clear(); /* a server without a listing is no failure: the default stands */
        gatrec__buf_free(&b);
    }
    pthread_mutex_unlock(&l->discover_mu);
}

GATREC_API const char *gatrec_llm_model(gatrec_llm *l)
{
    const char *name;
    if (!l)
        return NULL;
    gatrec__llm_discover(l, 0);
    pthread_mutex_lock(&l->mu);
    name = l->served_model ? l->served_model : l->chat_model;
    pthread_mutex_unlock(&l->mu);
    return name;
}

static int chat(gatrec_llm *l, const char *system, const char *user, float temperature, int json_mode,
                const char *shape, gatrec__llm_check check, char **reply)
{
    char *body;
    chat_out c = {NULL, NULL, check};
    int rc, format;
    if (!l || !user || !reply)
        return gatrec__error(GATREC_EINVAL, "gatrec_llm_chat: NULL argument");
    if (!(temperature >= 0 && temperature <= 2))
        return gatrec__error(GATREC_EINVAL, "temperature %g is outside [0, 2]", temperature);
    if ((system && (rc = gatrec__llm_check_text("system message", system))) ||
        (rc = gatrec__llm_check_text("user message", user)))
        return rc;
    gatrec__llm_discover(l, 0);
    for (;;) { /* a server that refuses the format is asked again without it, remembered for the client */
        format = chat_format(l, json_mode, shape);
        if ((rc = chat_body(l, system, user, temperature, format, shape, &body)))
            return rc;
        rc = gatrec__llm_request(l, "/v1/chat/completions", body, parse_chat, &c);
        free(body);
        if (format == WANT_NONE || !format_refused(rc, gatrec_last_error()))
            break;
        pthread_mutex_lock(&l->mu);
        int lower = format == WANT_SCHEMA ? GATREC_LLM_FORMAT_OBJECT : GATREC_LLM_FORMAT_NONE;
        if (l->format < lower)
            l->format = lower;
        pthread_mutex_unlock(&l->mu);
    }
    if (c.model) {
        pthread_mutex_lock(&l->mu);
        if (!l->served_model) { /* the first answer's name stands: the pointer handed out stays valid */
            l->served_model = c.model;
            c.model = NULL;
        }
        pthread_mutex_unlock(&l->mu);
        free(c.model);
    }
    *reply = rc ? NULL : c.reply;
    if (rc)
        free(c.reply);
    return rc;
}

GATREC_API int gatrec_llm_chat(gatrec_llm *l, const char *system, const char *user, float temperature, int json_mode,
                               char **reply)
{
    return chat(l, system, user, temperature, json_mode, NULL, NULL, reply);
}

int gatrec__llm_chat_shaped(gatrec_llm *l, const char *system, const char *user, float temperature, const char *shape,
                            char **reply)
{
    return chat(l, system, user, temperature, 1, shape, NULL, reply);
}

int gatrec__llm_chat_checked(gatrec_llm *l, const char *system, const char *user, float temperature, const char *shape,
                             gatrec__llm_check check, char **reply)
{
    return chat(l, system, user, temperature, 1, shape, check, reply);
}

int gatrec__llm_too_few_words(const char *text)
{
    size_t n = 0, run = 0;
    for (const unsigned char *p = (const unsigned char *)text;; p++) {
        int letter = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p >= 0x80;
        if (letter) {
            run++;
            continue;
        }
        n += run >= 2;
        run = 0;
        if (n >= 3)
            return 0;
        if (!*p)
            return 1;
    }
}

/* ---- many chats at once ---- */

typedef struct many {
    gatrec_llm *l;
    size_t n, next;
    const char *const *systems, *const *users;
    float temperature;
    int json_mode;
    const char *shape;
    gatrec__llm_check check;
    char **replies;
    int *statuses;
    char **errors;
    gatrec_progress_cb progress;
    void *payload;
    size_t done;
    int cancelled;
    pthread_mutex_t mu;
} many;

static void *many_worker(void *arg)
{
    many *M = arg;
    for (;;) {
        size_t k;
        pthread_mutex_lock(&M->mu);
        k = M->cancelled ? M->n : M->next++;
        pthread_mutex_unlock(&M->mu);
        if (k >= M->n)
            break;
        int rc = chat(M->l, M->systems ? M->systems[k] : NULL, M->users[k], M->temperature, M->json_mode, M->shape,
                      M->check, &M->replies[k]);
        pthread_mutex_lock(&M->mu);
        M->statuses[k] = rc;
        if (rc)
            M->errors[k] = gatrec__strdup(gatrec_last_error());
        M->done++;
        if (M->progress && !M->cancelled && M->progress(M->payload, M->done, M->n))
            M->cancelled = 1;
        pthread_mutex_unlock(&M->mu);
    }
    return NULL;
}

static int chat_many(gatrec_llm *l, size_t n, const char *const *systems, const char *const *users, float temperature,
                     int json_mode, const char *shape, gatrec__llm_check check, char **replies, int *statuses,
                     gatrec_progress_cb progress, void *payload)
{
    many M = {l,        n,    0,    systems, users, temperature, json_mode, shape, check, replies, statuses, NULL,
              progress, payload, 0, 0, PTHREAD_MUTEX_INITIALIZER};
    pthread_t tids[256];
    int started[256], rc = GATREC_OK;
    size_t nt;
    if (!l || (n && (!users || !replies || !statuses)))
        return gatrec__error(GATREC_EINVAL, "gatrec_llm_chat_many: NULL argument");
    if (!(M.errors = gatrec__calloc(n + 1, sizeof *M.errors)))
        return GATREC_ENOMEM;
    for (size_t k = 0; k < n; k++) {
        replies[k] = NULL;
        statuses[k] = GATREC_ECANCELLED; /* until answered */
    }
    /* the caller's thread is one of the `concurrency` workers (and works alone if no thread starts) */
    nt = ((size_t)l->concurrency < n ? (size_t)l->concurrency : n);
    nt = nt ? nt - 1 : 0;
    for (size_t t = 0; t < nt; t++)
        started[t] = pthread_create(&tids[t], NULL, many_worker, &M) == 0;
    many_worker(&M);
    for (size_t t = 0; t < nt; t++)
        if (started[t])
            pthread_join(tids[t], NULL);
    if (M.cancelled)
        rc = gatrec__error(GATREC_ECANCELLED, "cancelled by the progress callback after %zu of %zu answers", M.done, n);
    for (size_t k = 0; k < n && !rc; k++)
        if (statuses[k])
            rc = gatrec__error(statuses[k], "request %zu of %zu: %s", k + 1, n,
                               M.errors[k] ? M.errors[k] : "cancelled by the progress callback");
    for (size_t k = 0; k < n; k++)
        free(M.errors[k]);
    free(M.errors);
    pthread_mutex_destroy(&M.mu);
    return rc;
}

GATREC_API int gatrec_llm_chat_many(gatrec_llm *l, size_t n, const char *const *systems, const char *const *users,
                                    float temperature, int json_mode, char **replies, int *statuses,
                                    gatrec_progress_cb progress, void *payload)
{
    return chat_many(l, n, systems, users, temperature, json_mode, NULL, NULL, replies, statuses, progress, payload);
}

int gatrec__llm_chat_many_shaped(gatrec_llm *l, size_t n, const char *const *systems, const char *const *users,
                                 float temperature, const char *shape, gatrec__llm_check check, char **replies,
                                 int *statuses, gatrec_progress_cb progress, void *payload)
{
    return chat_many(l, n, systems, users, temperature, shape != NULL, shape, check, replies, statuses, progress,
                     payload);
}

