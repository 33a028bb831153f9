/* The built-in LLM transport: OpenAI-compatible HTTP over libcurl, with retries.
 *
 * One POST per call to send(); each call uses its own easy handle, so calls from several
 * threads at once are safe. Failures that may pass (connection errors, timeouts, 429, 5xx) are
 * retried with exponential backoff and full jitter, honouring Retry-After; a timeout only once
 * (a server that accepts and never answers would otherwise cost max_retries + 1 timeouts). The body is held
 * until the last attempt, then given to the sink in one piece, so a retried attempt never
 * leaks half an answer. The API key comes from the environment and goes only into the
 * Authorization header. */
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../data/fetch.h"
#include "llm.h"

typedef struct http {
    char *base_url;
    char *auth; /* "Authorization: Bearer ...", or NULL */
    gatrec_http_options o;
    uint64_t jitter_seed;
    uint64_t sends; /* counts calls, so that concurrent requests draw different jitter */
} http;

GATREC__OPTIONS_INIT_FN(gatrec_http_options_init, gatrec_http_options, GATREC_HTTP_OPTIONS_VERSION, GATREC_HTTP_OPTIONS_INIT)

typedef struct body {
    gatrec__buf buf;
    size_t cap;
    int too_big;
} body;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    body *b = ud;
    if (b->buf.len + size * n > b->cap) {
        b->too_big = 1;
        return 0; /* curl stops the transfer */
    }
    return gatrec__buf_put(&b->buf, p, size * n) ? 0 : size * n;
}

typedef struct headers {
    long retry_after_ms; /* -1: none */
} headers;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    headers *h = ud;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        char tmp[64];
        size_t k = len - 12 < sizeof tmp - 1 ? len - 12 : sizeof tmp - 1;
        memcpy(tmp, p + 12, k);
        tmp[k] = '\0';
        char *end;
        double s = gatrec__strtod(tmp, &end);
        if (end != tmp && s >= 0) /* seconds (1e300 and inf: a day, capped below); an HTTP date is ignored */
            h->retry_after_ms = s < 86400.0 ? (long)(s * 1000.0) : 86400000L;
    }
    return len;
}

/* The phrases by which servers say an input is too large (llama.cpp answers 500 "input is too large to
 * process"): the transport does not retry such a 5xx, the embedder splits the batch instead. */
int gatrec__says_too_large(const char *text, size_t len)
{
    static const char *const says[] = {"too large", "too long", "context length", "maximum context", "exceeds",
                                       "too many tokens", "input is larger"};
    char head[1024];
    size_t n = len < sizeof head - 1 ? len : sizeof head - 1;
    if (!text)
        return 0;
    memcpy(head, text, n);
    head[n] = '\0';
    for (size_t k = 0; k < sizeof says / sizeof *says; k++)
        if (strcasestr(head, says[k]))
            return 1;
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int http_send(void *userdata, const char *path, const char *payload, size_t payload_len,
                     gatrec_llm_sink sink, void *sink_ctx, long timeout_ms, int *http_status)
{
    http *H = userdata;
    char url[4096], errbuf[CURL_ERROR_SIZE];
    int rc = GATREC_OK;
    long status = 0;
    uint64_t call = __atomic_fetch_add(&H->sends, 1, __ATOMIC_RELAXED);
    snprintf(url, sizeof url, "%s%s", H->base_url, path);
    for (int attempt = 0;; attempt++) {
        CURL *c = curl_easy_init();
        struct curl_slist *hl = NULL;
        body b = {{0}, H->o.max_response_bytes, 0};
        headers hd = {-1};
        CURLcode cc;
        if (!c)
            return gatrec__error(GATREC_ENOMEM, "curl_easy_init failed");
        hl = curl_slist_append(hl, "Content-Type: application/json");
        if (H->auth)
            hl = curl_slist_append(hl, H->auth);
        errbuf[0] = '\0';
        curl_easy_setopt(c, CURLOPT_URL, url);
        if (payload_len) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)payload_len);
        } else { /* an empty body is a GET (the model listing) */
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &hd);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threaded hosts: no SIGALRM for timeouts */
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, H->o.connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, H->o.verify_tls ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, H->o.verify_tls ? 2L : 0L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "libgatrec/" GATREC_VERSION_STRING);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        cc = curl_easy_perform(c);
        status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        curl_slist_free_all(hl);
        int transient = cc != CURLE_OK ? !b.too_big : (status == 429 || status >= 500);
        if (cc == CURLE_OPERATION_TIMEDOUT && attempt >= 1) /* a server that let the clock run out twice will again */
            transient = 0;
        if (transient && status >= 500 && gatrec__says_too_large((const char *)b.buf.data, b.buf.len)) /* the same input fails the same way */
            transient = 0;
        if (!transient || attempt >= H->o.max_retries) {
            if (b.too_big)
                rc = gatrec__error(GATREC_ENETWORK, "%s: the response exceeds %zu bytes", url, H->o.max_response_bytes);
            else if (cc != CURLE_OK)
                rc = gatrec__error(GATREC_ENETWORK, "%s: %s (after %d attempt%s)", url,
                                   errbuf[0] ? errbuf : curl_easy_strerror(cc), attempt + 1, attempt ? "s" : "");
            else if (b.buf.len && sink(b.buf.data ? (const char *)b.buf.data : "", b.buf.len, sink_ctx))
                rc = gatrec__error(GATREC_ECANCELLED, "%s: the response was refused by its reader", url);
            *http_status = (int)status;
            gatrec__buf_free(&b.buf);
            return rc;
        }
        gatrec__buf_free(&b.buf);
        /* full jitter: uniform in [0, base * 2^attempt], capped; Retry-After wins when longer */
        long cap = H->o.retry_base_ms;
        for (int k = 0; k < attempt && cap < H->o.retry_max_ms; k++) /* doubled without overflowing */
            cap = cap > LONG_MAX / 2 ? LONG_MAX : 2 * cap;
        if (cap > H->o.retry_max_ms)
            cap = H->o.retry_max_ms;
        long wait = (long)gatrec__rng_below(H->jitter_seed, gatrec__stream(GATREC__RNG_RETRY_JITTER, call & 0xffffffffffffu), (uint64_t)attempt, (uint64_t)cap + 1);
        if (hd.retry_after_ms > wait)
            wait = hd.retry_after_ms < H->o.retry_max_ms ? hd.retry_after_ms : H->o.retry_max_ms;
        sleep_ms(wait);
    }
}

int gatrec__http_is_builtin(const gatrec_llm_transport *t)
{
    return t->send == http_send;
}

static void http_free(void *userdata)
{
    http *H = userdata;
    if (!H)
        return;
    if (H->auth) /* the key does not outlive the transport in our memory */
        memset(H->auth, 0, strlen(H->auth));
    free(H->auth);
    free(H->base_url);
    free(H);
}

GATREC_API int gatrec_llm_transport_http(const gatrec_http_options *opts, gatrec_llm_transport *out)
{
    gatrec_http_options o;
    const char *base, *key;
    http *H;
    gatrec_http_options_init(&o, GATREC_HTTP_OPTIONS_VERSION);
    if (!out)
        return gatrec__error(GATREC_EINVAL, "gatrec_llm_transport_http: NULL output");
    if (gatrec__curl_init()) /* before any thread of the client's calls curl_easy_init */
        return GATREC_ERROR;
    if (GATREC__READ_VERSIONED(&o, opts, gatrec_http_options))
        return GATREC_EINVAL;
    base = o.base_url ? o.base_url : getenv("GATREC_LLM_BASE_URL");
    if (!base || !base[0])
        return gatrec__error(GATREC_EINVAL, "no LLM endpoint: set base_url or $GATREC_LLM_BASE_URL "
                                            "(e.g. https://api.openai.com or http://127.0.0.1:8080)");
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        return gatrec__error(GATREC_EINVAL, "LLM endpoint '%s' is not an http:// or https:// URL", base);
    if (o.max_retries < 0 || o.retry_base_ms < 0 || o.retry_max_ms < 0 || o.max_response_bytes == 0)
        return gatrec__error(GATREC_EINVAL, "gatrec_http_options: negative retry settings or a zero response cap");
    if (!(H = gatrec__calloc(1, sizeof *H)))
        return GATREC_ENOMEM;
    H->o = o;
    H->o.base_url = NULL;
    H->jitter_seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)H;
    H->base_url = gatrec__strdup(base);
    if (H->base_url) { /* "https://host/" and "https://host/v1" both mean the API root */
        size_t n = strlen(H->base_url);
        while (n && H->base_url[n - 1] == '/')
            H->base_url[--n] = '\0';
        if (n >= 3 && strcmp(H->base_url + n - 3, "/v1") == 0)
            H->base_url[n - 3] = '\0';
    }
    key = getenv("GATREC_LLM_API_KEY");
    if (!key || !key[0])
        key = getenv("OPENAI_API_KEY");
    if (key && key[0]) {
        size_t n = strlen(key) + 32;
        if ((H->auth = gatrec__malloc(n)))
            snprintf(H->auth, n, "Authorization: Bearer %s", key);
    }
    if (!H->base_url || (key && key[0] && !H->auth)) {
        http_free(H);
        return GATREC_ENOMEM;
    }
    *out = (gatrec_llm_transport){GATREC_LLM_TRANSPORT_VERSION, H, http_send, http_free};
    return GATREC_OK;
}
