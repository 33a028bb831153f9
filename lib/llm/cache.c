/* The LLM client's on-disk answer cache.
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
            if (t && gatrec__stale_temporary(e->d_name, (size_t)(t - e->d_name) + 5)) {
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
int gatrec__llm_cache_open(const char *dir)
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

char *gatrec__llm_cache_path(const gatrec_llm *l, const char *path, const char *body)
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
char *gatrec__llm_cache_get(const char *file)
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

void gatrec__llm_cache_put(const char *file, const char *answer)
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

