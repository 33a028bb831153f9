/* The data directory, and downloading MovieLens from GroupLens with a verified checksum. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "fetch.h"

#define MAX_DOWNLOAD ((size_t)64 << 20)

typedef struct known_dataset {
    const char *name, *zip, *marker, *sha256;
} known_dataset;

static const known_dataset known[] = {
    {"ml-100k", "ml-100k.zip", "u.data", "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"},
    {"ml-1m", "ml-1m.zip", "ratings.dat", "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"},
};

GATREC_API int gatrec_data_dir(char *buf, size_t size)
{
    const char *env = getenv("GATREC_DATA_DIR"), *home = getenv("HOME");
    int n;
    if (!buf || size == 0)
        return gatrec__error(GATREC_EINVAL, "gatrec_data_dir: no buffer");
    if (env && env[0])
        n = snprintf(buf, size, "%s", env);
    else if (home && home[0])
        n = snprintf(buf, size, "%s/.cache/gatrec", home);
    else
        return gatrec__error(GATREC_ENOENT, "neither GATREC_DATA_DIR nor HOME is set");
    if (n < 0 || (size_t)n >= size)
        return gatrec__error(GATREC_EOVERFLOW, "the data directory path needs %d bytes", n + 1);
    return GATREC_OK;
}

typedef struct download {
    gatrec__buf body;
    int too_big;
    gatrec_progress_cb progress;
    void *payload;
    int cancelled;
} download;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    download *d = userdata;
    size_t n = size * nmemb;
    if (d->body.len + n > MAX_DOWNLOAD) {
        d->too_big = 1;
        return 0; /* fewer bytes than given: curl aborts the transfer */
    }
    return gatrec__buf_put(&d->body, ptr, n) ? 0 : n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    download *d = userdata;
    (void)ultotal;
    (void)ulnow;
    if (d->progress && d->progress(d->payload, (uint64_t)dlnow, (uint64_t)dltotal)) {
        d->cancelled = 1;
        return 1;
    }
    return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_started = CURLE_FAILED_INIT;

static void start_curl(void)
{
    curl_started = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int gatrec__curl_init(void)
{
    pthread_once(&curl_once, start_curl);
    return curl_started == CURLE_OK ? GATREC_OK
                                    : gatrec__error(GATREC_ERROR, "libcurl could not start: %s",
                                                    curl_easy_strerror(curl_started));
}

static int http_get(const char *url, download *d)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode cc;
    int rc0 = gatrec__curl_init();
    if (rc0)
        return rc0;
    CURL *h = curl_easy_init();
    if (!h)
        return gatrec__error(GATREC_ENOMEM, "curl_easy_init failed");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, d);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libgatrec/" GATREC_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (d->cancelled)
        return gatrec__error(GATREC_ECANCELLED, "download of %s cancelled", url);
    if (d->too_big)
        return gatrec__error(GATREC_EFORMAT, "%s: the response exceeds %zu bytes", url, MAX_DOWNLOAD);
    /* what to do without a network: the data may already be on the machine */
#define FETCH_HINT "; without a network, point GATREC_DATA_DIR at a folder holding the unpacked dataset (or " \
                   "GATREC_FETCH_BASE_URL at a mirror)"
    if (cc != CURLE_OK)
        return gatrec__error(GATREC_ENETWORK, "%s: %s" FETCH_HINT, url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (status != 200)
        return gatrec__error(GATREC_ENETWORK, "%s: HTTP status %ld" FETCH_HINT, url, status);
    return GATREC_OK;
}

GATREC_API int gatrec_data_fetch(const char *name, const char *data_dir, gatrec_progress_cb progress, void *payload)
{
    const known_dataset *k = NULL;
    char dirbuf[4096], *target = NULL, *marker = NULL, url[1024], hex[65];
    const char *base = getenv("GATREC_FETCH_BASE_URL");
    unsigned char digest[32];
    gatrec__sha256 sha;
    download d;
    int rc;
    for (size_t i = 0; name && i < sizeof known / sizeof *known; i++)
        if (strcmp(known[i].name, name) == 0)
            k = &known[i];
    if (!k)
        return gatrec__error(GATREC_ENOTFOUND, "unknown dataset '%s' (known: ml-100k, ml-1m)", name ? name : "(null)");
    if (!data_dir) {
        if ((rc = gatrec_data_dir(dirbuf, sizeof dirbuf)))
            return rc;
        data_dir = dirbuf;
    }
    target = gatrec__path_join(data_dir, k->name);
    marker = target ? gatrec__path_join(target, k->marker) : NULL;
    if (!marker) {
        free(target);
        return GATREC_ENOMEM;
    }
    rc = gatrec__file_exists(marker);
    free(marker);
    free(target);
    if (rc)
        return GATREC_OK; /* already there */
    /* The base URL can be pointed at a mirror (or a local test server); the checksum decides. */
    snprintf(url, sizeof url, "%s/%s", base && base[0] ? base : "https://files.grouplens.org/datasets/movielens",
             k->zip);
    memset(&d, 0, sizeof d);
    d.progress = progress;
    d.payload = payload;
    rc = http_get(url, &d);
    if (!rc) {
        gatrec__sha256_init(&sha);
        gatrec__sha256_update(&sha, d.body.data, d.body.len);
        gatrec__sha256_final(&sha, digest);
        gatrec__hex(digest, 32, hex);
        if (strcmp(hex, k->sha256) != 0)
            rc = gatrec__error(GATREC_ECHECKSUM, "%s: SHA-256 %s, expected %s: nothing was unpacked", url, hex,
                               k->sha256);
    }
    if (!rc)
        rc = gatrec__zip_extract_mem(d.body.data, d.body.len, data_dir, k->zip, NULL);
    gatrec__buf_free(&d.body);
    return rc;
}
