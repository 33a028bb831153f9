/* Embeddings through /v1/embeddings: batches, inputs too large for the model cut down and asked
 * again, and the model's width. */
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

const char *gatrec__llm_embed_model(gatrec_llm *l)
{
    gatrec__llm_discover(l, 1); /* a server serving one model: its name */
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
    json_t *req = json_pack("{s:s, s:[s]}", "model", model ? model : gatrec__llm_embed_model(l), "input", "width");
    char *body = req ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int rc;
    json_decref(req);
    if (!body)
        return GATREC_ENOMEM;
    rc = gatrec__llm_request(l, "/v1/embeddings", body, parse_width, dim);
    free(body);
    return rc;
}

static int embed_once(gatrec_llm *l, const char *model, const char *const *texts, size_t n, float *out, size_t dim)
{
    json_t *inputs, *req;
    char *body, what[64];
    embed_out e = {n, dim, out};
    int rc;
    for (size_t k = 0; k < n; k++) {
        snprintf(what, sizeof what, "text %zu of %zu to embed", k + 1, n);
        if ((rc = gatrec__llm_check_text(what, texts[k])))
            return rc;
    }
    if (!(inputs = json_array()))
        return gatrec__error(GATREC_ENOMEM, "out of memory building an embeddings request");
    for (size_t k = 0; k < n; k++) /* every input checked: a shorter batch would pass for the whole */
        if (json_array_append_new(inputs, json_string(texts[k])) != 0) {
            json_decref(inputs);
            return gatrec__error(GATREC_ENOMEM, "out of memory building an embeddings request");
        }
    req = json_pack("{s:s, s:o}", "model", model ? model : gatrec__llm_embed_model(l), "input", inputs);
    body = req ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(req);
    if (!body)
        return gatrec__error(GATREC_ENOMEM, "out of memory building an embeddings request");
    rc = gatrec__llm_request(l, "/v1/embeddings", body, parse_embeddings, &e);
    free(body);
    return rc;
}
