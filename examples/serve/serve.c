/* gatrec-serve (run as `gatrec serve`): recommendations over HTTP from one model file, on GNU
 * libmicrohttpd and jansson (docs/serve.md). JSON in, JSON out; ids, titles and reasons as the
 * command line prints them.
 *
 *   GET  /v1/recommend?user=ID&k=K[&exclude=ID,ID][&only=ID,ID]   a known user's list
 *   POST /v1/recommend {"rated": [[ITEM, STARS], ...], "text": "...", "k": K, "exclude": [...], "only": [...]}
 *                                                                  a new user's, folded in and not kept
 *   GET  /v1/similar?item=ID&k=K                                    items like an item
 *   POST /v1/explain {"user": ID, "item": ID}                       why: evidence, template or LLM reason
 *   GET  /v1/model, /healthz, /metrics (Prometheus text)
 *   POST /v1/admin/reload (loopback, or a bearer token), SIGHUP     load the file again and swap it in
 *   SIGTERM, SIGINT                                                 drain the requests in flight, exit 0
 *
 * Threads: libmicrohttpd's pool (--threads) answers requests; a model is shared by all of them
 * for reading (the library's serving calls are thread-safe), and a new user's fold-in takes the
 * model's write lock for the span of gatrec_model_try_user(). A reload loads the new file apart,
 * then swaps a pointer: requests in flight keep the model they started with (reference counts),
 * and the old one is freed when its last request ends. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../gatrec/cli.h"
#include "gatrec.h"

#define MAX_BODY (64 * 1024) /* bytes of a request body (docs/serve.md) */
#define MAX_K 1000
#define MAX_IDS 1000 /* rated, exclude or only entries of one request */
#define EVIDENCE_K 3

/* ---- the model being served ---- */

typedef struct slot {
    gatrec_model *m;
    gatrec_dataset *ds;   /* titles and genres for reasons; NULL when the dataset is gone */
    gatrec_embedder *e;   /* the model's embedder, for a new user's text; NULL: none */
    pthread_rwlock_t rw;  /* requests read; a new user's fold-in writes */
    int refs;             /* under g_mu: the current pointer's and each request's */
    char loaded_at[32];
    long long file_bytes;
    unsigned long crc32;  /* the file's own CRC-32 of its payload (its last 4 bytes) */
    unsigned long serial; /* 1 for the first model loaded, then one more per reload */
} slot;

static struct {
    const char *model_path, *dataset_dir, *token;
    pthread_mutex_t mu;
    slot *cur;
    unsigned long serial;
    gatrec_llm *llm;
    gatrec_reranker *rr;
    gatrec_profiles *profiles;
    atomic_int conns;
    int max_conns;
    int exact; /* --exact: score each user in its block, as the command line (the lists agree to the bit) */
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    va_list ap;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    flockfile(stderr);
    fprintf(stderr, "%s gatrec serve: ", when);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}

static void slot_free(slot *s)
{
    if (!s)
        return;
    gatrec_embedder_free(s->e);
    gatrec_dataset_free(s->ds);
    gatrec_model_free(s->m);
    pthread_rwlock_destroy(&s->rw);
    free(s);
}

/* Load the model file (and its dataset, for titles) into a new slot; a library status */
static int slot_load(slot **out)
{
    slot *s = calloc(1, sizeof *s);
    struct stat st;
    unsigned char tail[4];
    char buf[4200];
    const char *dir;
    FILE *f;
    int rc;
    time_t now = time(NULL);
    struct tm tm;
    *out = NULL;
    if (!s)
        return GATREC_ENOMEM;
    pthread_rwlock_init(&s->rw, NULL);
    if ((rc = gatrec_model_load(g.model_path, &s->m))) {
        slot_free(s);
        return rc;
    }
    if ((f = fopen(g.model_path, "rb")) && fstat(fileno(f), &st) == 0 && st.st_size >= 4 &&
        fseek(f, -4, SEEK_END) == 0 && fread(tail, 1, 4, f) == 4) {
        s->file_bytes = (long long)st.st_size;
        s->crc32 = (unsigned long)tail[0] | (unsigned long)tail[1] << 8 | (unsigned long)tail[2] << 16 |
                   (unsigned long)tail[3] << 24;
    }
    if (f)
        fclose(f);
    dir = g.dataset_dir ? g.dataset_dir : cli_model_dataset_dir(s->m, "serve", buf, sizeof buf);
    if (dir && cli_load_dataset_dir(dir, &s->ds) != GATREC_OK) {
        logf_("note: the dataset %s does not load (%s): lists come without titles", dir, gatrec_last_error());
        s->ds = NULL;
    }
    if (gatrec_model_get_embedder(s->m, &s->e) != GATREC_OK)
        s->e = NULL; /* no embedder: a new user's text cannot enter; the ratings still do */
    gatrec_error_clear();
    strftime(s->loaded_at, sizeof s->loaded_at, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    s->refs = 1;
    *out = s;
    return GATREC_OK;
}

static slot *acquire(void)
{
    slot *s;
    pthread_mutex_lock(&g.mu);
    s = g.cur;
    s->refs++;
    pthread_mutex_unlock(&g.mu);
    return s;
}

static void release(slot *s)
{
    int last;
    pthread_mutex_lock(&g.mu);
    last = --s->refs == 0;
    pthread_mutex_unlock(&g.mu);
    if (last)
        slot_free(s);
}

/* Load the file again and swap it in; on failure the served model stays. `why` fills with the
 * message. A library status. Reloads run one at a time. */
static int reload(char *why, size_t size)
{
    static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
    slot *s, *old;
    int rc;
    pthread_mutex_lock(&one);
    if ((rc = slot_load(&s))) {
        snprintf(why, size, "%s; the model loaded at %s stays", gatrec_last_error(), g.cur->loaded_at);
        pthread_mutex_unlock(&one);
        logf_("reload refused: %s", why);
        return rc;
    }
    snprintf(why, size, "%s (%s, %zu users, %zu items) swapped in", g.model_path,
             gatrec_model_kind_name(gatrec_model_get_kind(s->m)), gatrec_model_num_users(s->m),
             gatrec_model_num_items(s->m)); /* before it is published: then requests may change it */
    pthread_mutex_lock(&g.mu);
    s->serial = ++g.serial;
    old = g.cur;
    g.cur = s;
    pthread_mutex_unlock(&g.mu);
    release(old);
    pthread_mutex_unlock(&one);
    logf_("reloaded: %s", why);
    return GATREC_OK;
}

/* ---- metrics ---- */

enum { R_RECOMMEND, R_NEW_USER, R_SIMILAR, R_EXPLAIN, R_MODEL, R_HEALTH, R_METRICS, R_RELOAD, R_OTHER, NROUTES };
static const char *const route_names[NROUTES] = {"recommend", "recommend_new_user", "similar", "explain", "model",
                                                 "healthz", "metrics", "reload", "other"};
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0};
#define NBUCKETS (sizeof buckets / sizeof *buckets)

static struct {
    atomic_ullong requests, errors, overloaded, in_bucket[NBUCKETS + 1];
    _Atomic double seconds;
} metrics[NROUTES];

static void count(int route, int status, double seconds)
{
    size_t b = 0;
    double cur;
    metrics[route].requests++;
    if (status >= 400)
        metrics[route].errors++;
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        metrics[route].overloaded++;
    while (b < NBUCKETS && seconds > buckets[b])
        b++;
    metrics[route].in_bucket[b]++;
    cur = atomic_load(&metrics[route].seconds);
    while (!atomic_compare_exchange_weak(&metrics[route].seconds, &cur, cur + seconds))
        ;
}

/* ---- requests ---- */

typedef struct request {
    char *body;
    size_t len;
    int too_big;
    struct timespec t0;
} request;

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* A response: the text (taken), its type and status */
typedef struct reply {
    int status;
    char *text;
    const char *type;
} reply;

static reply json_reply(int status, json_t *j)
{
    reply r = {status, json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(7)), "application/json"};
    json_decref(j);
    return r;
}

/* Bytes that are not UTF-8 become '?': a message may quote what the client sent (jansson's
 * "near '...'"), and JSON carries UTF-8 only (found by make fuzz: the answer was lost) */
static void make_utf8(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 && *p >= 0xC2 ? 2 : (*p & 0xF0) == 0xE0 ? 3
                   : (*p & 0xF8) == 0xF0 && *p <= 0xF4 ? 4 : 0;
        size_t k = 1;
        while (k < n && (p[k] & 0xC0) == 0x80)
            k++;
        if (!n || k < n || (n == 3 && *p == 0xE0 && p[1] < 0xA0) || (n == 3 && *p == 0xED && p[1] >= 0xA0) ||
            (n == 4 && *p == 0xF0 && p[1] < 0x90) || (n == 4 && *p == 0xF4 && p[1] >= 0x90)) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

static reply error_reply(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static reply error_reply(int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    make_utf8(msg); /* vsnprintf may also have cut a character in two */
    return json_reply(status, json_pack("{s:{s:i,s:s}}", "error", "status", status, "message", msg));
}

/* A user or item named in a request: a string key (a model with string ids; a user folded in
 * without one answers to its number) or a whole number (a JSON integer, or its text), looked up as
 * the command line does. 0, or -1 with msg filled */
static int node_index(const gatrec_model *m, int user, const char *s, json_int_t num, int is_num, int32_t *index,
                      char *msg, size_t size)
{
    const char *what = user ? "user" : "item";
    char numbuf[32];
    int rc;
    if (is_num) {
        snprintf(numbuf, sizeof numbuf, "%" JSON_INTEGER_FORMAT, num);
        s = numbuf;
    }
    if ((rc = cli_find_node(m, user, s, strlen(s), index)) == EXIT_USAGE)
        snprintf(msg, size, "%s id '%.80s' is not a whole number (this model's ids are numbers)", what, s);
    else if (rc)
        snprintf(msg, size, "unknown %s '%.80s'", what, s);
    if (rc)
        gatrec_error_clear();
    return rc ? -1 : 0;
}

static json_t *node_json(const gatrec_model *m, int user, int32_t index)
{
    const char *key = user ? gatrec_model_user_key(m, index) : gatrec_model_item_key(m, index);
    return key ? json_string(key) : json_integer(user ? gatrec_model_user_id(m, index) : gatrec_model_item_id(m, index));
}

static const char *title_of(const slot *s, int32_t item)
{
    return cli_item_title(s->m, s->ds, item);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* k from its text: 1..MAX_K; -1 with msg */
static long parse_k(const char *s, char *msg, size_t size)
{
    char *end;
    long k;
    if (!s)
        return 10;
    errno = 0;
    k = strtol(s, &end, 10);
    if (!*s || *end || errno || k < 1 || k > MAX_K) {
        snprintf(msg, size, "k must be a whole number from 1 to %d, not '%.40s'", MAX_K, s);
        return -1;
    }
    return k;
}

/* The ids of a request rule: a JSON array, or a comma-separated query value; into idx (room
 * MAX_IDS); unknown items are skipped for exclude (`strict` 0) and refused for only. */
typedef struct id_list {
    int32_t idx[MAX_IDS];
    size_t n;
} id_list;

static int add_id(const gatrec_model *m, const char *s, json_int_t num, int is_num, int strict, id_list *out, char *msg,
                  size_t size)
{
    int32_t i;
    if (out->n >= MAX_IDS) {
        snprintf(msg, size, "more than %d ids in one list", MAX_IDS);
        return -1;
    }
    if (node_index(m, 0, s, num, is_num, &i, msg, size))
        return strict ? -1 : 0;
    out->idx[out->n++] = i;
    return 0;
}

static int ids_from_query(const gatrec_model *m, const char *v, int strict, id_list *out, char *msg, size_t size)
{
    char one[GATREC_CLI_MAX_KEY + 1];
    while (v && *v) {
        const char *e = strchr(v, ',');
        size_t len = e ? (size_t)(e - v) : strlen(v);
        if (len > GATREC_CLI_MAX_KEY) {
            snprintf(msg, size, "an id of more than %d bytes", GATREC_CLI_MAX_KEY);
            return -1;
        }
        memcpy(one, v, len);
        one[len] = '\0';
        if (len && add_id(m, one, 0, 0, strict, out, msg, size))
            return -1;
        v = e ? e + 1 : v + len;
    }
    return 0;
}

static int ids_from_json(const gatrec_model *m, json_t *a, const char *name, int strict, id_list *out, char *msg,
                         size_t size)
{
    size_t j;
    json_t *v;
    if (!a)
        return 0;
    if (!json_is_array(a)) {
        snprintf(msg, size, "\"%s\" must be an array of ids", name);
        return -1;
    }
    json_array_foreach(a, j, v) {
        if (!json_is_string(v) && !json_is_integer(v)) {
            snprintf(msg, size, "\"%s\"[%zu] is not an id (a string or a whole number)", name, j);
            return -1;
        }
        if (add_id(m, json_string_value(v), json_is_integer(v) ? json_integer_value(v) : 0, json_is_integer(v), strict,
                   out, msg, size))
            return -1;
    }
    return 0;
}

/* The list of user u (k, rules) with a template reason each, as the command line's --json */
static int list_json(const slot *s, int32_t u, size_t k, const id_list *ex, const id_list *only, json_t *user_id,
                     json_t **out)
{
    gatrec_request_options rules = GATREC_REQUEST_OPTIONS_INIT;
    int32_t *items = malloc(k * sizeof *items);
    rules.flags = g.exact ? 0 : GATREC_REQUEST_ALONE;
    float *scores = malloc(k * sizeof *scores);
    json_t *recs = json_array();
    size_t n = 0;
    int rc = items && scores && recs ? GATREC_OK : GATREC_ENOMEM;
    if (ex) {
        rules.exclude = ex->idx;
        rules.nexclude = ex->n;
    }
    if (only && only->n) {
        rules.only = only->idx;
        rules.nonly = only->n;
    }
    if (!rc)
        rc = gatrec_model_recommend_request(s->m, u, k, &rules, items, scores, &n);
    for (size_t j = 0; j < n && !rc; j++) {
        char *why = NULL;
        if ((rc = gatrec_model_explain(s->m, s->ds, u, items[j], &why)))
            break;
        json_array_append_new(recs, json_pack("{s:I,s:o,s:f,s:o,s:s}", "rank", (json_int_t)j + 1, "item_id",
                                              node_json(s->m, 0, items[j]), "score", (double)scores[j], "title",
                                              str_or_null(title_of(s, items[j])), "justification", why));
        gatrec_string_free(why);
    }
    free(items);
    free(scores);
    if (rc) {
        json_decref(recs);
        json_decref(user_id);
        return rc;
    }
    *out = json_pack("{s:o,s:o}", "user_id", user_id, "recommendations", recs);
    return GATREC_OK;
}

static reply get_recommend(struct MHD_Connection *c, slot *s)
{
    char msg[512];
    const char *user = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "user");
    long k = parse_k(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "k"), msg, sizeof msg);
    id_list *ex = calloc(1, sizeof *ex), *only = calloc(1, sizeof *only);
    int32_t u;
    json_t *j = NULL;
    reply r;
    int rc;
    if (!ex || !only)
        r = error_reply(500, "out of memory");
    else if (!user)
        r = error_reply(400, "give the user: /v1/recommend?user=ID&k=K");
    else if (k < 0 || node_index(s->m, 1, user, 0, 0, &u, msg, sizeof msg) ||
             ids_from_query(s->m, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "exclude"), 0, ex, msg,
                            sizeof msg) ||
             ids_from_query(s->m, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "only"), 1, only, msg,
                            sizeof msg))
        r = error_reply(400, "%s", msg);
    else {
        rc = list_json(s, u, (size_t)k, ex, only, node_json(s->m, 1, u), &j);
        r = rc ? error_reply(rc == GATREC_ENOMEM ? 500 : 400, "%s", gatrec_last_error()) : json_reply(200, j);
    }
    free(ex);
    free(only);
    return r;
}

/* A new user's request, folded in for the span of gatrec_model_try_user() */
typedef struct trial {
    const slot *s;
    size_t k;
    const id_list *ex, *only;
    json_t *out;
} trial;

static int trial_list(gatrec_model *m, int32_t user, void *ctx)
{
    trial *t = ctx;
    (void)m;
    return list_json(t->s, user, t->k, t->ex, t->only, json_null(), &t->out);
}

static reply post_recommend(slot *s, const char *body, size_t len)
{
    char msg[512];
    json_error_t err;
    json_t *root = json_loadb(body, len, 0, &err), *rated, *text, *kj, *pair;
    id_list *ex = calloc(1, sizeof *ex), *only = calloc(1, sizeof *only), *items = calloc(1, sizeof *items);
    float stars[MAX_IDS], *features = NULL;
    size_t n = 0, j, dim = 0;
    trial t = {s, 10, ex, only, NULL};
    reply r;
    int rc;
    if (!ex || !only || !items) {
        r = error_reply(500, "out of memory");
        goto done;
    }
    if (!root || !json_is_object(root)) {
        r = root ? error_reply(400, "the body must be a JSON object")
                 : error_reply(400, "malformed JSON at line %d, column %d: %s", err.line, err.column, err.text);
        goto done;
    }
    rated = json_object_get(root, "rated");
    text = json_object_get(root, "text");
    kj = json_object_get(root, "k");
    if (kj && (!json_is_integer(kj) || json_integer_value(kj) < 1 || json_integer_value(kj) > MAX_K)) {
        r = error_reply(400, "\"k\" must be a whole number from 1 to %d", MAX_K);
        goto done;
    }
    t.k = kj ? (size_t)json_integer_value(kj) : 10;
    if (text && !json_is_string(text)) {
        r = error_reply(400, "\"text\" must be a string");
        goto done;
    }
    if (rated && !json_is_array(rated)) {
        r = error_reply(400, "\"rated\" must be an array of [item, stars] pairs");
        goto done;
    }
    json_array_foreach(rated, j, pair) {
        json_t *it = json_array_get(pair, 0), *st = json_array_get(pair, 1);
        if (!json_is_array(pair) || json_array_size(pair) != 2 || !(json_is_string(it) || json_is_integer(it)) ||
            !json_is_number(st) || !isfinite(json_number_value(st))) {
            r = error_reply(400, "\"rated\"[%zu] is not an [item, stars] pair", j);
            goto done;
        }
        if (add_id(s->m, json_string_value(it), json_is_integer(it) ? json_integer_value(it) : 0, json_is_integer(it), 1,
                   items, msg, sizeof msg)) {
            r = error_reply(400, "\"rated\"[%zu]: %s", j, msg);
            goto done;
        }
        stars[n++] = (float)json_number_value(st);
    }
    if (ids_from_json(s->m, json_object_get(root, "exclude"), "exclude", 0, ex, msg, sizeof msg) ||
        ids_from_json(s->m, json_object_get(root, "only"), "only", 1, only, msg, sizeof msg)) {
        r = error_reply(400, "%s", msg);
        goto done;
    }
    if (s->e && text && json_string_length(text)) {
        const char *texts[] = {json_string_value(text)};
        dim = gatrec_embedder_dim(s->e);
        if (!(features = malloc(dim * sizeof *features)))
            rc = GATREC_ENOMEM;
        else
            rc = gatrec_embedder_embed(s->e, texts, 1, features);
    } else {
        rc = GATREC_OK;
    }
    if (!rc)
        rc = gatrec_model_try_user(s->m, items->idx, stars, n, features, features ? dim : 0, trial_list, &t);
    r = rc ? error_reply(rc == GATREC_ENOMEM ? 500 : 400, "%s", gatrec_last_error()) : json_reply(200, t.out);
done:
    json_decref(root);
    free(features);
    free(ex);
    free(only);
    free(items);
    return r;
}

static reply get_similar(struct MHD_Connection *c, slot *s)
{
    char msg[512];
    const char *item = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "item");
    long k = parse_k(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "k"), msg, sizeof msg);
    int32_t i, items[MAX_K];
    float scores[MAX_K];
    size_t n;
    json_t *list;
    int rc;
    if (!item)
        return error_reply(400, "give the item: /v1/similar?item=ID&k=K");
    if (k < 0 || node_index(s->m, 0, item, 0, 0, &i, msg, sizeof msg))
        return error_reply(400, "%s", msg);
    if ((rc = gatrec_model_similar_items(s->m, i, (size_t)k, items, scores, &n))) {
        return error_reply(rc == GATREC_ENOMEM ? 500 : 400, "%s", gatrec_last_error());
    }
    list = json_array();
    for (size_t j = 0; j < n; j++)
        json_array_append_new(list, json_pack("{s:I,s:o,s:f,s:o}", "rank", (json_int_t)j + 1, "item_id",
                                              node_json(s->m, 0, items[j]), "score", (double)scores[j], "title",
                                              str_or_null(title_of(s, items[j]))));
    return json_reply(200, json_pack("{s:o,s:o,s:o}", "item_id", node_json(s->m, 0, i), "title",
                                     str_or_null(title_of(s, i)), "similar", list));
}

static reply post_explain(slot *s, const char *body, size_t len)
{
    char msg[512];
    json_error_t err;
    json_t *root = json_loadb(body, len, 0, &err), *uj, *ij, *ev, *out;
    int32_t u, i, evi[EVIDENCE_K];
    float w[EVIDENCE_K], score = 0;
    size_t nev = 0;
    char *why = NULL;
    const char *by = "template", *note = NULL;
    int rc;
    reply r;
    if (!root || !json_is_object(root)) {
        r = root ? error_reply(400, "the body must be a JSON object")
                 : error_reply(400, "malformed JSON at line %d, column %d: %s", err.line, err.column, err.text);
        json_decref(root);
        return r;
    }
    uj = json_object_get(root, "user");
    ij = json_object_get(root, "item");
    if (!(json_is_string(uj) || json_is_integer(uj)) || !(json_is_string(ij) || json_is_integer(ij))) {
        json_decref(root);
        return error_reply(400, "give {\"user\": ID, \"item\": ID}");
    }
    if (node_index(s->m, 1, json_string_value(uj), json_is_integer(uj) ? json_integer_value(uj) : 0,
                   json_is_integer(uj), &u, msg, sizeof msg) ||
        node_index(s->m, 0, json_string_value(ij), json_is_integer(ij) ? json_integer_value(ij) : 0,
                   json_is_integer(ij), &i, msg, sizeof msg)) {
        json_decref(root);
        return error_reply(400, "%s", msg);
    }
    json_decref(root);
    gatrec_model_score(s->m, u, &i, 1, &score);
    if (gatrec_model_evidence(s->m, u, i, EVIDENCE_K, evi, w, &nev) != GATREC_OK)
        nev = 0;
    gatrec_error_clear();
    if (g.rr && title_of(s, i)) { /* the LLM's reason, grounded in the evidence; the template if it fails */
        const char *et[EVIDENCE_K], *profile = g.profiles ? gatrec_profiles_get(g.profiles, GATREC_NODE_USER,
                                                                                 gatrec_model_user_id(s->m, u))
                                                          : NULL;
        for (size_t e = 0; e < nev; e++)
            et[e] = title_of(s, evi[e]) ? title_of(s, evi[e]) : "";
        if (gatrec_reranker_justify(g.rr, profile ? profile : "(no profile)", title_of(s, i), NULL, et, nev, &why)) {
            note = gatrec_last_error();
            why = NULL;
        } else {
            by = "llm";
        }
    }
    if (!why && (rc = gatrec_model_explain(s->m, s->ds, u, i, &why))) {
        return error_reply(rc == GATREC_ENOMEM ? 500 : 400, "%s", gatrec_last_error());
    }
    ev = json_array();
    for (size_t e = 0; e < nev; e++)
        json_array_append_new(ev, json_pack("{s:o,s:f,s:o}", "item_id", node_json(s->m, 0, evi[e]), "weight",
                                            (double)w[e], "title", str_or_null(title_of(s, evi[e]))));
    out = json_pack("{s:o,s:o,s:f,s:o,s:s,s:s,s:o}", "user_id", node_json(s->m, 1, u), "item_id", node_json(s->m, 0, i),
                    "score", (double)score, "title", str_or_null(title_of(s, i)), "justification", why, "justified_by",
                    by, "evidence", ev);
    if (note)
        json_object_set_new(out, "llm_note", json_string(note));
    gatrec_string_free(why);
    return json_reply(200, out);
}

static json_t *model_json(const slot *s)
{
    char crc[16];
    const char *info[] = {"dataset", "split", "seed"};
    json_t *j;
    snprintf(crc, sizeof crc, "%08lx", s->crc32);
    j = json_pack("{s:s,s:s,s:I,s:I,s:s,s:I,s:s,s:I}", "kind", gatrec_model_kind_name(gatrec_model_get_kind(s->m)),
                  "path", g.model_path, "users", (json_int_t)gatrec_model_num_users(s->m), "items",
                  (json_int_t)gatrec_model_num_items(s->m), "file_crc32", crc, "file_bytes", (json_int_t)s->file_bytes,
                  "loaded_at", s->loaded_at, "serial", (json_int_t)s->serial);
    for (size_t k = 0; j && k < sizeof info / sizeof *info; k++)
        json_object_set_new(j, info[k], str_or_null(gatrec_model_info(s->m, info[k])));
    return j;
}

/* One counter per route: which 0 requests, 1 errors, 2 overloaded */
static void counter_family(FILE *f, const char *name, const char *help, int which)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int r = 0; r < NROUTES; r++)
        fprintf(f, "%s{route=\"%s\"} %llu\n", name, route_names[r],
                (unsigned long long)(which == 0 ? metrics[r].requests : which == 1 ? metrics[r].errors
                                                                                   : metrics[r].overloaded));
}

static reply get_metrics(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return error_reply(500, "out of memory");
    counter_family(f, "gatrec_requests_total", "Requests answered, by route.", 0);
    counter_family(f, "gatrec_request_errors_total", "Answers with a status of 400 or more, by route.", 1);
    counter_family(f, "gatrec_overloaded_total", "Requests answered 503 while the server was overloaded.", 2);
    fprintf(f, "# HELP gatrec_request_seconds Time from a request's first byte to its answer, by route.\n"
               "# TYPE gatrec_request_seconds histogram\n");
    for (int r = 0; r < NROUTES; r++) {
        unsigned long long cum = 0;
        for (size_t b = 0; b <= NBUCKETS; b++) {
            cum += metrics[r].in_bucket[b];
            if (b < NBUCKETS)
                fprintf(f, "gatrec_request_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", route_names[r], buckets[b],
                        cum);
            else
                fprintf(f, "gatrec_request_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", route_names[r], cum);
        }
        fprintf(f, "gatrec_request_seconds_sum{route=\"%s\"} %.6f\ngatrec_request_seconds_count{route=\"%s\"} %llu\n",
                route_names[r], atomic_load(&metrics[r].seconds), route_names[r], cum);
    }
    fprintf(f, "# HELP gatrec_model_reloads_total Models swapped in after the first.\n"
               "# TYPE gatrec_model_reloads_total counter\ngatrec_model_reloads_total %lu\n",
            g.serial ? g.serial - 1 : 0);
    fprintf(f, "# HELP gatrec_open_connections Connections open now.\n# TYPE gatrec_open_connections gauge\n"
               "gatrec_open_connections %d\n", atomic_load(&g.conns));
    if (fclose(f))
        return error_reply(500, "out of memory");
    return (reply){200, text, "text/plain; version=0.0.4"};
}

/* The admin route: from loopback, or anywhere with the right bearer token when --admin-token is set */
static int admin_allowed(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (g.token) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        size_t n = strlen(g.token);
        return h && strncmp(h, "Bearer ", 7) == 0 && strlen(h + 7) == n && memcmp(h + 7, g.token, n) == 0;
    }
    if (!ci || !ci->client_addr)
        return 0;
    if (ci->client_addr->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr.s_addr) >> 24) == 127;
    return 0;
}

static int route_of(const char *url, const char *method)
{
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (strcmp(url, "/v1/recommend") == 0)
        return get ? R_RECOMMEND : post ? R_NEW_USER : R_OTHER;
    if (get && strcmp(url, "/v1/similar") == 0)
        return R_SIMILAR;
    if (post && strcmp(url, "/v1/explain") == 0)
        return R_EXPLAIN;
    if (get && strcmp(url, "/v1/model") == 0)
        return R_MODEL;
    if (get && strcmp(url, "/healthz") == 0)
        return R_HEALTH;
    if (get && strcmp(url, "/metrics") == 0)
        return R_METRICS;
    if (post && strcmp(url, "/v1/admin/reload") == 0)
        return R_RELOAD;
    return R_OTHER;
}

static reply answer(struct MHD_Connection *c, const char *url, const char *method, request *q, int route)
{
    static const char *const known[] = {"/v1/recommend", "/v1/similar", "/v1/explain", "/v1/model", "/healthz",
                                        "/metrics", "/v1/admin/reload"};
    slot *s;
    reply r;
    char why[1024];
    if (atomic_load(&g.conns) > g.max_conns)
        return error_reply(MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded: more than %d connections open; retry later",
                           g.max_conns);
    if (q->too_big)
        return error_reply(400, "the body is over %d bytes", MAX_BODY);
    if (route == R_OTHER) {
        for (size_t k = 0; k < sizeof known / sizeof *known; k++)
            if (strcmp(url, known[k]) == 0)
                return error_reply(405, "%s does not take %s (see docs/serve.md)", url, method);
        return error_reply(404, "no route %.200s (see docs/serve.md)", url);
    }
    if (route == R_HEALTH)
        return json_reply(200, json_pack("{s:s}", "status", "ok"));
    if (route == R_METRICS)
        return get_metrics();
    if (route == R_RELOAD) {
        if (!admin_allowed(c))
            return error_reply(403, "%s", g.token ? "reload needs the header Authorization: Bearer <the --admin-token>"
                                                  : "reload is allowed from loopback only (or set --admin-token)");
        if (reload(why, sizeof why))
            return error_reply(500, "%s", why);
        s = acquire();
        pthread_rwlock_rdlock(&s->rw);
        r = json_reply(200, json_pack("{s:b,s:s,s:o}", "reloaded", 1, "message", why, "model", model_json(s)));
        pthread_rwlock_unlock(&s->rw);
        release(s);
        return r;
    }
    s = acquire();
    /* every use of the model reads it, but a new user's fold-in, which changes it while it runs
     * (and the embedder's state) */
    if (route == R_NEW_USER)
        pthread_rwlock_wrlock(&s->rw);
    else
        pthread_rwlock_rdlock(&s->rw);
    switch (route) {
    case R_RECOMMEND:
        r = get_recommend(c, s);
        break;
    case R_NEW_USER:
        r = post_recommend(s, q->body ? q->body : "", q->len);
        break;
    case R_SIMILAR:
        r = get_similar(c, s);
        break;
    case R_EXPLAIN:
        r = post_explain(s, q->body ? q->body : "", q->len);
        break;
    default:
        r = json_reply(200, model_json(s));
        break;
    }
    pthread_rwlock_unlock(&s->rw);
    release(s);
    return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    request *q = *con_cls;
    struct MHD_Response *resp;
    enum MHD_Result ok;
    reply r;
    int route;
    (void)cls, (void)version;
    if (!q) { /* the headers: state for the body to come */
        if (!(q = calloc(1, sizeof *q)))
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &q->t0);
        *con_cls = q;
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body */
        if (q->too_big || q->len + *upload_size > MAX_BODY) {
            q->too_big = 1;
        } else {
            char *b = realloc(q->body, q->len + *upload_size + 1);
            if (!b)
                return MHD_NO;
            memcpy(b + q->len, upload, *upload_size);
            q->body = b;
            q->len += *upload_size;
            b[q->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    route = route_of(url, method);
    r = answer(c, url, method, q, route);
    if (!r.text) /* json_dumps failed: no memory */
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(r.text), r.text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(r.text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.type);
    if (r.status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    ok = MHD_queue_response(c, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    count(route, r.status, since(&q->t0));
    return ok;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why)
{
    request *q = *con_cls;
    (void)cls, (void)c, (void)why;
    if (q) {
        free(q->body);
        free(q);
        *con_cls = NULL;
    }
}

static void connection(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode what)
{
    (void)cls, (void)c, (void)socket_ctx;
    if (what == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&g.conns, 1);
    else
        atomic_fetch_sub(&g.conns, 1);
}

/* libmicrohttpd's printf-style error logger: its format strings are its own */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    logf_("http: %s", msg);
}

/* ---- the command ---- */

static const char usage[] =
    "usage: gatrec serve --model MODEL [--listen 127.0.0.1:8080] [--threads N] [--max-connections N]\n"
    "                    [--timeout S] [--dataset DIR] [--admin-token TOKEN] [--llm URL] [--profiles FILE]\n"
    "                    [--cache DIR] [--exact]\n"
    "Recommendations over HTTP from MODEL (docs/serve.md): GET /v1/recommend?user=ID&k=K, POST /v1/recommend\n"
    "(a new user: {\"rated\": [[item, stars], ...], \"text\": ..., \"k\": K}), GET /v1/similar?item=ID&k=K,\n"
    "POST /v1/explain {\"user\": ID, \"item\": ID}, GET /v1/model, /healthz, /metrics. SIGHUP or\n"
    "POST /v1/admin/reload (loopback, or Authorization: Bearer TOKEN) loads MODEL again and swaps it in;\n"
    "SIGTERM drains the requests in flight and exits 0. --listen PORT 0 picks a free port (printed).\n"
    "--dataset: titles and genres (default: the model's own dataset); --llm: LLM justifications on\n"
    "/v1/explain, grounded in --profiles FILE's user profiles (answers cached in --cache DIR, default\n"
    "~/.cache/gatrec/llm). A user is scored alone (fast; scores may\n"
    "differ from gatrec recommend's in the last bits); --exact scores as the command line does.\n";

static int parse_listen(const char *s, struct sockaddr_in *addr)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    char *end;
    long port;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return -1;
    addr->sin_port = htons((uint16_t)port);
    return 0;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *listen_s = "127.0.0.1:8080", *threads_s = "0", *conns_s = "1024", *timeout_s = "10",
               *llm_url = NULL, *profiles = NULL, *cache = NULL;
    cli_opt opts[] = {{"--model", &model, NULL},          {"--listen", &listen_s, NULL},
                      {"--threads", &threads_s, NULL},    {"--max-connections", &conns_s, NULL},
                      {"--timeout", &timeout_s, NULL},    {"--dataset", &g.dataset_dir, NULL},
                      {"--admin-token", &g.token, NULL},  {"--llm", &llm_url, NULL},
                      {"--profiles", &profiles, NULL},    {"--exact", NULL, &g.exact},
                      {"--cache", &cache, NULL},
                      {NULL, NULL, NULL}};
    struct sockaddr_in addr;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    long long threads, timeout, conns;
    sigset_t sigs;
    int rc, sig;
    char why[1024], said[128];
    /* as `gatrec serve ...` (argv[1] "serve") or on its own */
    int first = argc > 1 && strcmp(argv[1], "serve") == 0 ? 2 : 1;
    rc = cli_parse(argc, argv, first, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(usage, stdout), EXIT_OK) : rc;
    if (!model)
        return cli_usage_error("serve", "%s", "--model MODEL is required");
    if ((threads = cli_number("serve", "--threads", threads_s, 0, 256)) < 0 ||
        (conns = cli_number("serve", "--max-connections", conns_s, 1, 100000)) < 0 ||
        (timeout = cli_number("serve", "--timeout", timeout_s, 1, 3600)) < 0)
        return EXIT_USAGE;
    if (parse_listen(listen_s, &addr))
        return cli_usage_error("serve", "--listen takes an IPv4 address and a port, as 127.0.0.1:8080, not '%s'",
                               listen_s);
    if (g.token && strlen(g.token) < 16)
        return cli_usage_error("serve", "%s", "--admin-token must have at least 16 characters");
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? n : 1;
    }
    g.model_path = model;
    g.max_conns = (int)conns;
    if ((rc = slot_load(&g.cur)))
        return cli_fail("serve", rc);
    g.cur->serial = g.serial = 1;
    if (profiles && (rc = gatrec_profiles_load(profiles, &g.profiles)))
        return cli_fail("serve", rc);
    if (llm_url) {
        gatrec_reranker_options ro = GATREC_RERANKER_OPTIONS_INIT;
        cli_llm_limits limits = {60.0f, 4, 0, NULL, 0}; /* the parse leaves embedding_model */
        if (cli_llm_limits_parse("serve", NULL, NULL, NULL, NULL, &limits))
            return EXIT_USAGE;
        if (g.cur->ds)
            gatrec_dataset_semantics(g.cur->ds, NULL, NULL, NULL, &ro.domain);
        if ((rc = cli_open_llm(llm_url, cache, (int)threads, &limits, &g.llm)) ||
            (rc = gatrec_reranker_new(g.llm, &ro, &g.rr)))
            return cli_fail("serve", rc);
    }
    /* said once listening; read now, while no request thread can swap the model */
    snprintf(said, sizeof said, "%s, %zu users, %zu items", gatrec_model_kind_name(gatrec_model_get_kind(g.cur->m)),
             gatrec_model_num_users(g.cur->m), gatrec_model_num_items(g.cur->m));
    /* the signals wait for the main thread; the server's threads, started after, inherit the mask */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL,
                         NULL, handle, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
                         (unsigned int)threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)conns + 64,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)timeout, MHD_OPTION_NOTIFY_COMPLETED, completed,
                         NULL, MHD_OPTION_NOTIFY_CONNECTION, connection, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "gatrec serve: cannot listen on %s (%s): is the port taken, or the address not this "
                "machine's?\n", listen_s, strerror(errno));
        slot_free(g.cur);
        return EXIT_FAIL;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("gatrec serve: listening on http://%s:%u (model %s: %s; %lld threads)\n", inet_ntoa(addr.sin_addr),
           info ? (unsigned)info->port : (unsigned)ntohs(addr.sin_port), model, said, threads);
    fflush(stdout);
    for (;;) {
        if (sigwait(&sigs, &sig))
            continue;
        if (sig == SIGHUP) {
            reload(why, sizeof why);
            continue;
        }
        break;
    }
    /* drain: no new connections; the pool finishes what it holds, then stops */
    logf_("%s: draining %d connection(s)", sig == SIGTERM ? "SIGTERM" : "SIGINT", atomic_load(&g.conns));
    MHD_quiesce_daemon(d);
    for (int waited = 0; atomic_load(&g.conns) > 0 && waited < 100 * (int)timeout; waited++)
        usleep(10000);
    MHD_stop_daemon(d);
    slot_free(g.cur);
    gatrec_reranker_free(g.rr);
    gatrec_llm_free(g.llm);
    gatrec_profiles_free(g.profiles);
    logf_("stopped");
    return EXIT_OK;
}
