/* gatrec_llm: chat completions and embeddings over a transport, with an on-disk cache.
 *
 * The cache key is the SHA-256 of (endpoint path, full request body) - the body names the model
 * and every parameter - so a rerun sends nothing it has sent before. An entry is
 * "gatrec-cache 1 <sha256 of the answer>\n<answer>", written atomically as soon as its answer
 * arrives (a crash loses nothing already answered); an entry whose checksum fails is ignored and
 * asked again. Only answers that parse are cached. */
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

static char *env_or(const char *given, const char *var, const char *fallback)
{
    const char *v = given ? given : getenv(var);
    return gatrec__strdup(v && v[0] ? v : fallback);
}

/* Temporaries a killed process left in the cache ("<entry>.tmp.<pid>.<n>" of a pid that is gone). */
static void sweep_stale(const char *dir)
{
    DIR *top = opendir(dir);
    struct dirent *d;
    char sub[4200], file[4500];
    while (top && (d = readdir(top))) {
        DIR *in;
        struct dirent *e;
        if (strlen(d->d_name) != 2 || d->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s/%s", dir, d->d_name);
        if (!(in = opendir(sub)))
            continue;
        while ((e = readdir(in))) {
            const char *t = strstr(e->d_name, ".json.tmp.");
            long pid;
            if (!t || (pid = strtol(t + 10, NULL, 10)) <= 0 || pid == (long)getpid())
                continue;
            if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
                snprintf(file, sizeof file, "%s/%s", sub, e->d_name);
                unlink(file);
            }
        }
        closedir(in);
    }
    if (top)
        closedir(top);
}

/* The cache directory must be usable: created if missing, writable; stale temporaries swept. */
static int open_cache(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return gatrec__error(GATREC_EIO, "the LLM answer cache '%s' is not a directory", dir);
    if (gatrec__mkdirs(dir))
        return gatrec__error(GATREC_EIO, "the LLM answer cache '%s' cannot be created: %s", dir, gatrec_last_error());
    if (access(dir, W_OK | X_OK) != 0)
        return gatrec__error(GATREC_EIO, "the LLM answer cache '%s' is not writable (%s)", dir, strerror(errno));
    sweep_stale(dir);
    return GATREC_OK;
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
        int rc = open_cache(o.cache_dir);
        if (rc)
            return rc;
    }
    if (!(l = gatrec__calloc(1, sizeof *l)))
        return GATREC_ENOMEM;
    memset(&l->t, 0, sizeof l->t);
    GATREC__READ_VERSIONED(&l->t, transport, gatrec_llm_transport); /* checked above */
    l->chat_model = env_or(o.chat_model, "GATREC_LLM_MODEL", "gpt-4o-mini");
    {
        const char *env = getenv("GATREC_LLM_MODEL");
        l->discover = !o.chat_model && !(env && env[0]) && gatrec__http_is_builtin(transport);
    }
    l->embed_model = env_or(o.embedding_model, "GATREC_LLM_EMBEDDING_MODEL", "text-embedding-3-small");
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

static void count(gatrec_llm *l, uint64_t *field)
{
    pthread_mutex_lock(&l->mu);
    (*field)++;
    pthread_mutex_unlock(&l->mu);
}

/* ---- the cache ---- */

static char *cache_path(const gatrec_llm *l, const char *path, const char *body)
{
    gatrec__sha256 s;
    unsigned char h[32];
    char hex[65], *p;
    size_t n;
    gatrec__sha256_init(&s);
    gatrec__sha256_update(&s, path, strlen(path) + 1);
    gatrec__sha256_update(&s, body, strlen(body));
    gatrec__sha256_final(&s, h);
    gatrec__hex(h, 32, hex);
    n = strlen(l->cache_dir) + 80;
    if ((p = gatrec__malloc(n)))
        snprintf(p, n, "%s/%.2s/%s.json", l->cache_dir, hex, hex + 2);
    return p;
}

static void sha_hex(const char *data, size_t n, char hex[65])
{
    gatrec__sha256 s;
    unsigned char h[32];
    gatrec__sha256_init(&s);
    gatrec__sha256_update(&s, data, n);
    gatrec__sha256_final(&s, h);
    gatrec__hex(h, 32, hex);
}

#define CACHE_TAG "gatrec-cache 1 "

/* The cached answer for the key, or NULL (missing or corrupted: ask again). */
static char *cache_get(const char *file)
{
    char *data, hex[65], *answer;
    size_t len, tag = sizeof CACHE_TAG - 1;
    if (gatrec__read_file(file, &data, &len)) {
        gatrec_error_clear();
        return NULL;
    }
    if (len < tag + 65 || memcmp(data, CACHE_TAG, tag) != 0 || data[tag + 64] != '\n') {
        free(data);
        return NULL;
    }
    answer = data + tag + 65;
    sha_hex(answer, len - tag - 65, hex);
    if (memcmp(hex, data + tag, 64) != 0) {
        free(data);
        return NULL;
    }
    memmove(data, answer, len - tag - 65 + 1);
    return data;
}

static void cache_put(const char *file, const char *answer)
{
    gatrec__buf b = {0};
    char hex[65], *dir = gatrec__strdup(file), *slash;
    sha_hex(answer, strlen(answer), hex);
    if (dir && (slash = strrchr(dir, '/'))) {
        *slash = '\0';
        if (!gatrec__mkdirs(dir) && !gatrec__buf_printf(&b, CACHE_TAG "%s\n%s", hex, answer))
            gatrec__write_file_atomic(file, b.data, b.len);
    }
    gatrec_error_clear(); /* a cache that cannot be written only costs a request next time */
    gatrec__buf_free(&b);
    free(dir);
}

/* ---- one request ---- */

static int to_buf(const char *chunk, size_t len, void *ctx)
{
    return gatrec__buf_put(ctx, chunk, len);
}

void gatrec__llm_note_failure(gatrec_llm *l, const char *reason)
{
    char key[200];
    size_t n = strcspn(reason, "\n"), o = 0;
    const char *paren = strstr(reason, " (");
    if (paren && (size_t)(paren - reason) < n) /* specifics (sizes, attempts) go in parentheses */
        n = (size_t)(paren - reason);
    for (size_t k = 0; k < n && o + 1 < sizeof key;) { /* "after 3 ms" and "after 0 ms" are one reason */
        size_t d = k;
        while (d < n && reason[d] >= '0' && reason[d] <= '9')
            d++;
        if (d > k && strncmp(reason + d, " ms", 3) == 0) {
            key[o++] = 'N';
            k = d;
        } else {
            key[o++] = reason[k++];
        }
    }
    key[o] = '\0';
    pthread_mutex_lock(&l->mu);
    size_t k = 0;
    while (k < l->nreasons && strcmp(l->reasons[k].text, key) != 0)
        k++;
    if (k == l->nreasons && k < GATREC__LLM_REASONS)
        memcpy(l->reasons[l->nreasons++].text, key, sizeof key);
    if (k < l->nreasons)
        l->reasons[k].count++;
    else
        l->unlisted++;
    pthread_mutex_unlock(&l->mu);
}

GATREC_API char *gatrec_llm_failure_report(const gatrec_llm *l, size_t max)
{
    gatrec__buf b = {0};
    size_t order[GATREC__LLM_REASONS], n;
    gatrec_llm *m = (gatrec_llm *)l;
    if (!l)
        return NULL;
    pthread_mutex_lock(&m->mu);
    n = l->nreasons;
    for (size_t k = 0; k < n; k++) /* most frequent first; ties keep their first appearance */
        order[k] = k;
    for (size_t a = 1; a < n; a++)
        for (size_t c = a; c > 0 && l->reasons[order[c]].count > l->reasons[order[c - 1]].count; c--) {
            size_t t = order[c];
            order[c] = order[c - 1];
            order[c - 1] = t;
        }
    uint64_t rest = l->unlisted;
    for (size_t k = 0; k < n; k++) {
        if (k < max)
            gatrec__buf_printf(&b, "%s%llu x %s", k ? "\n" : "", (unsigned long long)l->reasons[order[k]].count,
                               l->reasons[order[k]].text);
        else
            rest += l->reasons[order[k]].count;
    }
    if (rest && n)
        gatrec__buf_printf(&b, "\n%llu x other reasons", (unsigned long long)rest);
    pthread_mutex_unlock(&m->mu);
    if (!b.len) {
        gatrec__buf_free(&b);
        return NULL;
    }
    gatrec__buf_put(&b, "", 1);
    return (char *)b.data;
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
static int request(gatrec_llm *l, const char *path, const char *body, int (*parse)(const char *answer, void *ctx),
                   void *ctx)
{
    char *file = l->cache_dir ? cache_path(l, path, body) : NULL, *cached;
    gatrec__buf b = {0};
    int status = 0, rc, unreachable;
    if (file && (cached = cache_get(file))) {
        rc = parse(cached, ctx);
        free(cached);
        if (rc == GATREC_OK) {
            count(l, &l->cache_hits);
            free(file);
            return GATREC_OK;
        }
    }
    pthread_mutex_lock(&l->mu);
    unreachable = l->unreachable;
    pthread_mutex_unlock(&l->mu);
    if (unreachable) {
        count(l, &l->failures);
        free(file);
        rc = gatrec__error(GATREC_ENETWORK, "the LLM endpoint is unreachable (%d requests in a row failed, the "
                           "first: %s): check that the server runs and GATREC_LLM_BASE_URL names it",
                           GATREC__LLM_BREAKER, l->down_reason);
        gatrec__llm_note_failure(l, "not sent: the endpoint was unreachable");
        return rc;
    }
    for (int attempt = 1;; attempt++) {
        count(l, &l->requests);
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
                    count(l, &l->failures);
                    continue;
                }
            } else if ((rc = parse(answer, ctx)) == GATREC_OK && file) {
                cache_put(file, answer);
            }
            json_decref(j);
        }
        break;
    }
    breaker(l, rc, status);
    if (rc) {
        count(l, &l->failures);
        gatrec__llm_note_failure(l, gatrec_last_error());
    }
    gatrec__buf_free(&b);
    free(file);
    return rc;
}

/* ---- chat ---- */

typedef struct chat_out {
    char *reply;
    char *model; /* the model the server says answered, or NULL */
} chat_out;

static int parse_chat(const char *answer, void *ctx)
{
    chat_out *c = ctx;
    json_error_t err;
    json_t *j = json_loads(answer, 0, &err), *choices, *content;
    int rc = GATREC_OK;
    if (!j)
        return gatrec__error(GATREC_EFORMAT, "the LLM's answer is not JSON (%s)", err.text);
    choices = json_object_get(j, "choices");
    content = json_object_get(json_object_get(json_array_get(choices, 0), "message"), "content");
    const char *finish = json_string_value(json_object_get(json_array_get(choices, 0), "finish_reason"));
    if (finish && strcmp(finish, "length") == 0) /* cut off: never accepted, never cached */
        rc = gatrec__error(GATREC_EFORMAT, "the LLM's answer was cut off at its token limit (finish_reason "
                           "\"length\"): raise max_tokens");
    else if (finish && strcmp(finish, "content_filter") == 0)
        rc = gatrec__error(GATREC_EFORMAT, "the LLM's answer was withheld by the server's content filter "
                           "(finish_reason \"content_filter\")");
    else if (!json_is_string(content))
        rc = gatrec__error(GATREC_EFORMAT, "the LLM's answer has no choices[0].message.content string");
    else if (!(c->reply = gatrec__strdup(json_string_value(content))))
        rc = GATREC_ENOMEM;
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
    if (system && system[0])
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", system));
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", user));
    req = json_pack("{s:s, s:o, s:f, s:i}", "model", l->chat_model, "messages", msgs, "temperature",
                    (double)temperature, "max_tokens", l->max_tokens);
    if (req && format == WANT_OBJECT) {
        json_object_set_new(req, "response_format", json_pack("{s:s}", "type", "json_object"));
    } else if (req && format == WANT_SCHEMA) {
        json_t *schema = json_loads(shape, 0, NULL);
        const char *name = json_string_value(json_object_get(schema, "title"));
        json_object_set_new(req, "response_format",
                            json_pack("{s:s, s:{s:s, s:o}}", "type", "json_schema", "json_schema", "name",
                                      name ? name : "answer", "schema", schema ? schema : json_object()));
    }
    *body = req ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(req);
    return *body ? GATREC_OK : GATREC_ENOMEM;
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

/* Ask GET /v1/models once; a server that serves exactly one model gets that name (a llama.cpp
 * router refuses "gpt-4o-mini"). Anything else keeps the default. Not counted as a request. */
static void discover_model(gatrec_llm *l)
{
    pthread_mutex_lock(&l->discover_mu);
    if (l->discover) {
        gatrec__buf b = {0};
        int status = 0;
        l->discover = 0;
        if (l->t.send(l->t.userdata, "/v1/models", "", 0, to_buf_listing, &b, l->timeout_ms, &status) == GATREC_OK &&
            status >= 200 && status < 300 && gatrec__buf_put(&b, "", 1) == GATREC_OK) {
            json_t *j = json_loads((const char *)b.data, 0, NULL), *data = json_object_get(j, "data");
            const char *id = json_string_value(json_object_get(json_array_get(data, 0), "id"));
            char *name;
            if (json_array_size(data) == 1 && id && id[0] && (name = gatrec__strdup(id))) {
                pthread_mutex_lock(&l->mu);
                free(l->chat_model);
                l->chat_model = name;
                pthread_mutex_unlock(&l->mu);
            }
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
    discover_model(l);
    pthread_mutex_lock(&l->mu);
    name = l->served_model ? l->served_model : l->chat_model;
    pthread_mutex_unlock(&l->mu);
    return name;
}

static int chat(gatrec_llm *l, const char *system, const char *user, float temperature, int json_mode,
                const char *shape, char **reply)
{
    char *body;
    chat_out c = {NULL, NULL};
    int rc, format;
    if (!l || !user || !reply)
        return gatrec__error(GATREC_EINVAL, "gatrec_llm_chat: NULL argument");
    if (!(temperature >= 0 && temperature <= 2))
        return gatrec__error(GATREC_EINVAL, "temperature %g is outside [0, 2]", temperature);
    discover_model(l);
    for (;;) { /* a server that refuses the format is asked again without it, remembered for the client */
        format = chat_format(l, json_mode, shape);
        if ((rc = chat_body(l, system, user, temperature, format, shape, &body)))
            return rc;
        rc = request(l, "/v1/chat/completions", body, parse_chat, &c);
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
    return chat(l, system, user, temperature, json_mode, NULL, reply);
}

int gatrec__llm_chat_shaped(gatrec_llm *l, const char *system, const char *user, float temperature, const char *shape,
                            char **reply)
{
    return chat(l, system, user, temperature, 1, shape, reply);
}

/* ---- many chats at once ---- */

typedef struct many {
    gatrec_llm *l;
    size_t n, next;
    const char *const *systems, *const *users;
    float temperature;
    int json_mode;
    const char *shape;
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
                      &M->replies[k]);
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
                     int json_mode, const char *shape, char **replies, int *statuses, gatrec_progress_cb progress,
                     void *payload)
{
    many M = {l, n, 0, systems, users, temperature, json_mode, shape, replies, statuses, NULL, progress, payload, 0, 0,
              PTHREAD_MUTEX_INITIALIZER};
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
    return chat_many(l, n, systems, users, temperature, json_mode, NULL, replies, statuses, progress, payload);
}

int gatrec__llm_chat_many_shaped(gatrec_llm *l, size_t n, const char *const *systems, const char *const *users,
                                 float temperature, const char *shape, char **replies, int *statuses,
                                 gatrec_progress_cb progress, void *payload)
{
    return chat_many(l, n, systems, users, temperature, shape != NULL, shape, replies, statuses, progress, payload);
}

/* ---- embeddings ---- */

typedef struct embed_out {
    size_t n, dim;
    float *out;
} embed_out;

static int parse_embeddings(const char *answer, void *ctx)
{
    embed_out *e = ctx;
    json_error_t err;
    json_t *j = json_loads(answer, 0, &err), *data, *row;
    size_t k;
    unsigned char *seen = gatrec__calloc(e->n + 1, 1);
    int rc = GATREC_OK;
    if (!j || !seen) {
        json_decref(j);
        free(seen);
        return j ? GATREC_ENOMEM : gatrec__error(GATREC_EFORMAT, "the embeddings answer is not JSON (%s)", err.text);
    }
    data = json_object_get(j, "data");
    if (!json_is_array(data) || json_array_size(data) != e->n)
        rc = gatrec__error(GATREC_EFORMAT, "the embeddings answer has %zu vectors for %zu inputs",
                           json_is_array(data) ? json_array_size(data) : 0, e->n);
    json_array_foreach(data, k, row)
    {
        json_t *vec = json_object_get(row, "embedding"), *x;
        json_t *ix = json_object_get(row, "index");
        size_t at = json_is_integer(ix) ? (size_t)json_integer_value(ix) : k, c;
        if (rc)
            break;
        if (at >= e->n || seen[at]) { /* the answer is ordered by "index", which must be a permutation */
            rc = gatrec__error(GATREC_EFORMAT, "the embeddings answer has a bad or repeated index %zu", at);
            break;
        }
        seen[at] = 1;
        if (!json_is_array(vec) || json_array_size(vec) != e->dim) {
            rc = gatrec__error(GATREC_EFORMAT, "embedding %zu has %zu values, expected %zu", at,
                               json_is_array(vec) ? json_array_size(vec) : 0, e->dim);
            break;
        }
        json_array_foreach(vec, c, x)
        {
            if (!json_is_number(x)) {
                rc = gatrec__error(GATREC_EFORMAT, "embedding %zu holds a non-number", at);
                break;
            }
            e->out[at * e->dim + c] = (float)json_number_value(x);
        }
    }
    json_decref(j);
    free(seen);
    return rc;
}

/* Did the server refuse the request as too large (HTTP 413, or a 400 / 500 saying so)? */
static int too_large(int rc, const char *msg)
{
    if (rc != GATREC_ENETWORK || !msg)
        return 0;
    if (strstr(msg, "HTTP 413"))
        return 1;
    return (strstr(msg, "HTTP 400") || strstr(msg, "HTTP 500")) && gatrec__says_too_large(msg, strlen(msg));
}

static int embed_once(gatrec_llm *l, const char *model, const char *const *texts, size_t n, float *out, size_t dim);

/* One text the server finds too large: its first half (at a UTF-8 boundary), again, until it
 * fits or TRUNCATE_MAX halvings; counted in the failure report as a truncation. */
#define TRUNCATE_MAX 8
static int embed_truncated(gatrec_llm *l, const char *model, const char *text, float *out, size_t dim)
{
    size_t len = strlen(text);
    char *cut = gatrec__strdup(text);
    int rc = GATREC_ENOMEM;
    for (int k = 0; cut && k < TRUNCATE_MAX && len > 1; k++) {
        const char *one[1] = {cut};
        len /= 2;
        while (len > 0 && ((unsigned char)cut[len] & 0xC0) == 0x80) /* not inside a character */
            len--;
        cut[len] = '\0';
        rc = embed_once(l, model, one, 1, out, dim);
        if (!too_large(rc, gatrec_last_error())) {
            if (!rc) {
                gatrec__llm_note_failure(l, "not a failure: a text the server found too large was truncated to its "
                                            "first part and embedded");
            }
            break;
        }
    }
    free(cut);
    return rc;
}

/* The embeddings of texts[0..n): a batch the server finds too large is split in halves (and a
 * single text truncated), never retried as it is. */
int gatrec__llm_embed(gatrec_llm *l, const char *model, const char *const *texts, size_t n, float *out, size_t dim)
{
    int rc = embed_once(l, model, texts, n, out, dim);
    if (!too_large(rc, gatrec_last_error()))
        return rc;
    if (n == 1)
        return embed_truncated(l, model, texts[0], out, dim);
    gatrec__llm_note_failure(l, "not a failure: a batch the server found too large was split in halves");
    size_t h = n / 2;
    if ((rc = gatrec__llm_embed(l, model, texts, h, out, dim)))
        return rc;
    return gatrec__llm_embed(l, model, texts + h, n - h, out + h * dim, dim);
}

const char *gatrec__llm_embed_model(const gatrec_llm *l)
{
    return l->embed_model;
}

static int parse_width(const char *answer, void *ctx)
{
    json_t *j = json_loads(answer, 0, NULL);
    json_t *vec = json_object_get(json_array_get(json_object_get(j, "data"), 0), "embedding");
    size_t n = json_is_array(vec) ? json_array_size(vec) : 0;
    json_decref(j);
    if (!n || n > (1u << 24))
        return gatrec__error(GATREC_EFORMAT, "the embeddings answer holds no vector to read a width from");
    *(size_t *)ctx = n;
    return GATREC_OK;
}

int gatrec__llm_embed_width(gatrec_llm *l, const char *model, size_t *dim)
{
    json_t *req = json_pack("{s:s, s:[s]}", "model", model ? model : l->embed_model, "input", "width");
    char *body = req ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int rc;
    json_decref(req);
    if (!body)
        return GATREC_ENOMEM;
    rc = request(l, "/v1/embeddings", body, parse_width, dim);
    free(body);
    return rc;
}

static int embed_once(gatrec_llm *l, const char *model, const char *const *texts, size_t n, float *out, size_t dim)
{
    json_t *inputs = json_array(), *req;
    char *body;
    embed_out e = {n, dim, out};
    int rc;
    for (size_t k = 0; k < n; k++)
        json_array_append_new(inputs, json_string(texts[k]));
    req = json_pack("{s:s, s:o}", "model", model ? model : l->embed_model, "input", inputs);
    body = req ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(req);
    if (!body)
        return GATREC_ENOMEM;
    rc = request(l, "/v1/embeddings", body, parse_embeddings, &e);
    free(body);
    return rc;
}
