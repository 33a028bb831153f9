/* The scripted OpenAI-compatible test server: see llm_server.h. */
#include "llm_server.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct scripted {
    int status;
    char *headers, *body;
    long delay_ms;
    struct scripted *next;
} scripted;

struct llm_server {
    int fd;
    char url[64];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    scripted *head, *tail;
    llm_chat_fn chat;
    void *chat_ctx;
    long delay_ms;
    int fail_status; /* non-zero: the default path answers every request with it */
    size_t embed_max_inputs, embed_max_chars; /* 0: no limit; beyond: embed_status, "input too large" */
    char *models; /* the ids GET /v1/models lists, comma-separated (NULL: 404) */
    unsigned model_lists;
    int embed_status;
    char *fail_message;
    size_t dim;
    unsigned requests, in_flight, max_in_flight, active;
    int stopping;
    char *last_body, *last_auth;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL); /* the client may have given up (a timeout) */
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Read one request: headers, then Content-Length bytes. */
static char *read_request(int fd, char **body, char **auth)
{
    size_t cap = 1 << 16, len = 0, need = 0;
    char *buf = malloc(cap + 1), *end = NULL;
    *body = NULL;
    *auth = strdup("");
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            char *cl = strcasestr(buf, "\r\ncontent-length:"), *au = strcasestr(buf, "\r\nauthorization:");
            need = (size_t)(end - buf) + 4 + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
            if (au && au < end) {
                char *eol = strstr(au + 2, "\r\n");
                free(*auth);
                char *v = au + 16;
                while (*v == ' ')
                    v++;
                *auth = strndup(v, (size_t)(eol - v));
            }
        }
        if (end && len >= need)
            break;
    }
    buf[len] = '\0';
    if (end)
        *body = strdup(strstr(buf, "\r\n\r\n") + 4);
    return buf;
}

/* A deterministic vector per text: what a test can check the order of. */
static json_t *vector_of(const char *text, size_t dim)
{
    json_t *v = json_array();
    uint64_t h = 1469598103934665603ull;
    for (const char *p = text; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (size_t k = 0; k < dim; k++)
        json_array_append_new(v, json_real(k == 0 ? (double)strlen(text) : (double)((h >> (k % 64)) & 0xff) / 255.0));
    return v;
}

static int embed_refused(const llm_server *s, const json_t *input)
{
    size_t k;
    json_t *x;
    if (s->embed_max_inputs && json_array_size(input) > s->embed_max_inputs)
        return 1;
    json_array_foreach(input, k, x) if (s->embed_max_chars && strlen(json_string_value(x)) > s->embed_max_chars) return 1;
    return 0;
}

static char *default_answer(llm_server *s, const char *request, const char *body, int *status)
{
    json_t *req = json_loads(body ? body : "", 0, NULL), *out = NULL;
    char *text;
    *status = 200;
    if (strncmp(request, "GET /v1/models", 14) == 0) {
        json_t *data = json_array();
        pthread_mutex_lock(&s->mu);
        if (s->models) {
            char *ids = strdup(s->models), *save = NULL;
            for (char *id = strtok_r(ids, ",", &save); id; id = strtok_r(NULL, ",", &save))
                json_array_append_new(data, json_pack("{s:s, s:s}", "id", id, "object", "model"));
            free(ids);
        } else {
            *status = 404;
        }
        pthread_mutex_unlock(&s->mu);
        out = json_pack("{s:s, s:o}", "object", "list", "data", data);
    } else if (s->fail_status) {
        *status = s->fail_status;
        out = json_pack("{s:{s:s}}", "error", "message", s->fail_message ? s->fail_message : "");
    } else if (strstr(request, "POST /v1/embeddings") && embed_refused(s, json_object_get(req, "input"))) {
        *status = s->embed_status;
        out = json_pack("{s:{s:s}}", "error", "message", "input is too large to process, increase the physical batch size");
    } else if (strstr(request, "POST /v1/embeddings")) {
        json_t *input = json_object_get(req, "input"), *data = json_array(), *x;
        size_t k;
        /* answered in reverse order, each with its index: the client must reorder */
        for (k = json_array_size(input); k-- > 0;) {
            x = json_array_get(input, k);
            json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object", "embedding", "index", (json_int_t)k,
                                                  "embedding", vector_of(json_string_value(x), s->dim)));
        }
        out = json_pack("{s:s, s:o}", "object", "list", "data", data);
    } else if (strstr(request, "POST /v1/chat/completions")) {
        char *reply = s->chat ? s->chat(body ? body : "", s->chat_ctx) : strdup("ok");
        out = json_pack("{s:s, s:[{s:i, s:{s:s, s:s}, s:s}]}", "object", "chat.completion", "choices", "index", 0,
                        "message", "role", "assistant", "content", reply, "finish_reason", "stop");
        free(reply);
    } else {
        *status = 404;
        out = json_pack("{s:{s:s}}", "error", "message", "no such endpoint");
    }
    text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    json_decref(req);
    return text;
}

typedef struct conn {
    llm_server *s;
    int fd;
} conn;

static void *handle(void *arg)
{
    conn *c = arg;
    llm_server *s = c->s;
    char *body, *auth, *request = read_request(c->fd, &body, &auth), *answer, head[512];
    scripted *sc;
    int status;
    long delay;
    pthread_mutex_lock(&s->mu);
    s->requests++;
    if (++s->in_flight > s->max_in_flight)
        s->max_in_flight = s->in_flight;
    free(s->last_body);
    free(s->last_auth);
    s->last_body = strdup(body ? body : "");
    s->last_auth = strdup(auth);
    int listing = strncmp(request, "GET /v1/models", 14) == 0;
    sc = listing ? NULL : s->head; /* a model listing never takes a scripted answer */
    if (sc && !(s->head = sc->next))
        s->tail = NULL;
    if (listing) {
        s->requests--;
        s->model_lists++;
    }
    delay = sc ? sc->delay_ms : s->delay_ms;
    pthread_mutex_unlock(&s->mu);
    if (delay)
        sleep_ms(delay);
    if (sc) {
        status = sc->status;
        answer = sc->body;
    } else {
        answer = default_answer(s, request, body, &status);
    }
    pthread_mutex_lock(&s->mu); /* answered from here on: the client may send its next request */
    s->in_flight--;
    pthread_mutex_unlock(&s->mu);
    snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s"
                                "Connection: close\r\n\r\n",
             status, strlen(answer), sc && sc->headers ? sc->headers : "");
    write_all(c->fd, head, strlen(head));
    write_all(c->fd, answer, strlen(answer));
    close(c->fd);
    if (sc) {
        free(sc->headers);
        free(sc->body);
        free(sc);
    } else {
        free(answer);
    }
    free(request);
    free(body);
    free(auth);
    pthread_mutex_lock(&s->mu);
    if (--s->active == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    free(c);
    return NULL;
}

static void *serve(void *arg)
{
    llm_server *s = arg;
    for (;;) {
        int fd = accept(s->fd, NULL, NULL);
        pthread_t t;
        conn *c;
        if (fd < 0)
            return NULL;
        pthread_mutex_lock(&s->mu);
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            close(fd);
            return NULL;
        }
        s->active++;
        pthread_mutex_unlock(&s->mu);
        c = malloc(sizeof *c);
        c->s = s;
        c->fd = fd;
        if (pthread_create(&t, NULL, handle, c) == 0)
            pthread_detach(t);
        else
            handle(c);
    }
}

llm_server *llm_server_start(void)
{
    llm_server *s = calloc(1, sizeof *s);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int one = 1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 64) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &alen) != 0) {
        perror("llm_server");
        abort();
    }
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    s->dim = 8;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_create(&s->thread, NULL, serve, s);
    return s;
}

void llm_server_stop(llm_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_mutex_unlock(&s->mu);
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
    pthread_mutex_lock(&s->mu);
    while (s->active)
        pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
    while (s->head) {
        scripted *n = s->head->next;
        free(s->head->headers);
        free(s->head->body);
        free(s->head);
        s->head = n;
    }
    free(s->last_body);
    free(s->last_auth);
    free(s->fail_message);
    free(s->models);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    free(s);
}

const char *llm_server_url(const llm_server *s)
{
    return s->url;
}

void llm_server_push(llm_server *s, int status, const char *headers, const char *body, long delay_ms)
{
    scripted *sc = calloc(1, sizeof *sc);
    sc->status = status;
    sc->headers = headers ? strdup(headers) : NULL;
    sc->body = strdup(body);
    sc->delay_ms = delay_ms;
    pthread_mutex_lock(&s->mu);
    if (s->tail)
        s->tail->next = sc;
    else
        s->head = sc;
    s->tail = sc;
    pthread_mutex_unlock(&s->mu);
}

void llm_server_set_chat(llm_server *s, llm_chat_fn fn, void *ctx)
{
    pthread_mutex_lock(&s->mu);
    s->chat = fn;
    s->chat_ctx = ctx;
    pthread_mutex_unlock(&s->mu);
}

void llm_server_set_failure(llm_server *s, int status, const char *message)
{
    pthread_mutex_lock(&s->mu);
    s->fail_status = status;
    free(s->fail_message);
    s->fail_message = message ? strdup(message) : NULL;
    pthread_mutex_unlock(&s->mu);
}

void llm_server_set_models(llm_server *s, const char *ids)
{
    pthread_mutex_lock(&s->mu);
    free(s->models);
    s->models = ids ? strdup(ids) : NULL;
    pthread_mutex_unlock(&s->mu);
}

unsigned llm_server_model_lists(llm_server *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->model_lists;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void llm_server_set_embedding_limit(llm_server *s, size_t max_inputs, size_t max_chars, int status)
{
    pthread_mutex_lock(&s->mu);
    s->embed_max_inputs = max_inputs;
    s->embed_max_chars = max_chars;
    s->embed_status = status;
    pthread_mutex_unlock(&s->mu);
}

void llm_server_set_delay(llm_server *s, long delay_ms)
{
    pthread_mutex_lock(&s->mu);
    s->delay_ms = delay_ms;
    pthread_mutex_unlock(&s->mu);
}

void llm_server_set_embedding_dim(llm_server *s, size_t dim)
{
    pthread_mutex_lock(&s->mu);
    s->dim = dim;
    pthread_mutex_unlock(&s->mu);
}

unsigned llm_server_requests(llm_server *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

unsigned llm_server_max_in_flight(llm_server *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->max_in_flight;
    pthread_mutex_unlock(&s->mu);
    return n;
}

char *llm_server_last_body(llm_server *s)
{
    pthread_mutex_lock(&s->mu);
    char *b = strdup(s->last_body ? s->last_body : "");
    pthread_mutex_unlock(&s->mu);
    return b;
}

char *llm_server_last_auth(llm_server *s)
{
    pthread_mutex_lock(&s->mu);
    char *b = strdup(s->last_auth ? s->last_auth : "");
    pthread_mutex_unlock(&s->mu);
    return b;
}
