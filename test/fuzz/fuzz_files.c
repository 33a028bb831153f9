/* libFuzzer target: every reader of a file a user may be handed. The first input byte picks the
 * reader, the rest is the file. Model and embedder files get a correct header and checksum
 * wrapped around the fuzzed payload when the selector asks for it, so that the fuzzer reaches
 * the section parsers instead of stopping at the CRC. A file that loads is then used (recommend,
 * similar items, evidence, explain, fold-in; embed), so that what a reader accepts is safe to
 * serve. Built and run by `make fuzz` (docs/testing.md). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatrec.h"
#include "../../lib/common/common.h"
#include "../../lib/data/fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    MODEL_RAW,
    MODEL_WRAPPED,
    EMBEDDER_WRAPPED,
    RATINGS_TSV,
    RATINGS_CSV,
    PROFILES_CSV,
    PROFILES_JSONL,
    FEATURES_TSV,
    RECS_CSV,
    ITEM_TEXTS_CSV,
    ZIP,
    NSELECTORS
};

static char path[256], dir[256];
static gatrec_dataset *tiny;
static gatrec_graph *tiny_graph;

/* A 3-user, 4-item dataset and its graph, for the readers that map ids onto one. */
static void setup(void)
{
    static const int64_t users[] = {1, 1, 2, 2, 3, 3}, items[] = {10, 11, 11, 12, 12, 13};
    static const float ratings[] = {5, 3, 4, 1, 2, 5};
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/gatrec-fuzz-%ld", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    snprintf(dir, sizeof dir, "%s.d", path);
    if (gatrec_dataset_from_arrays(6, users, items, ratings, NULL, &tiny) ||
        gatrec_graph_new(tiny, NULL, NULL, &tiny_graph))
        abort();
}

static void write_file(const void *a, size_t na, const void *b, size_t nb, const void *c, size_t nc)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if ((na && fwrite(a, 1, na, f) != na) || (nb && fwrite(b, 1, nb, f) != nb) || (nc && fwrite(c, 1, nc, f) != nc))
        abort();
    fclose(f);
}

static void le(unsigned char *p, uint64_t v, int n)
{
    for (int k = 0; k < n; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

/* Use a model that loaded: every serving call on a few users and items must be safe. */
static void serve(gatrec_model *m)
{
    int32_t items[8], idx;
    float scores[8];
    size_t n, nu = gatrec_model_num_users(m), ni = gatrec_model_num_items(m);
    char *text = NULL;
    for (int32_t u = 0; u < 3 && (size_t)u < nu; u++) {
        gatrec_model_recommend(m, u, 8, items, scores, &n);
        for (int32_t i = 0; i < 2 && (size_t)i < ni; i++) {
            gatrec_model_evidence(m, u, i, 8, items, scores, &n);
            if (gatrec_model_explain(m, NULL, u, i, &text) == GATREC_OK)
                gatrec_string_free(text);
        }
    }
    if (ni)
        gatrec_model_similar_items(m, 0, 8, items, scores, &n);
    {
        int32_t rated[] = {0};
        float r[] = {5};
        if (ni)
            gatrec_model_add_user(m, INT64_MAX - 1, rated, r, 1, NULL, &idx);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sel;
    if (!tiny)
        setup();
    if (size < 1)
        return 0;
    sel = data[0] % NSELECTORS;
    data++;
    size--;
    switch (sel) {
    case MODEL_RAW:
    case MODEL_WRAPPED: {
        gatrec_model *m = NULL;
        if (sel == MODEL_RAW) {
            write_file(data, size, NULL, 0, NULL, 0);
        } else {
            unsigned char head[24], crc[4];
            uint32_t kind = size ? data[0] % 6 : 0;
            const uint8_t *payload = size ? data + 1 : data;
            size_t plen = size ? size - 1 : 0;
            memcpy(head, "\x89GATREC\n", 8);
            le(head + 8, 1, 4);
            le(head + 12, kind, 4);
            le(head + 16, plen, 8);
            le(crc, gatrec__crc32(payload, plen), 4);
            write_file(head, sizeof head, payload, plen, crc, 4);
        }
        if (gatrec_model_load(path, &m) == GATREC_OK)
            serve(m);
        gatrec_model_free(m);
        break;
    }
    case EMBEDDER_WRAPPED: {
        gatrec_embedder *e = NULL;
        unsigned char crc[4];
        le(crc, gatrec__crc32(data, size), 4);
        write_file(data, size, crc, 4, NULL, 0);
        if (gatrec_embedder_load(path, &e) == GATREC_OK) {
            const char *texts[] = {"a film about robots", ""};
            size_t dim = gatrec_embedder_dim(e);
            float *out = dim <= (1u << 20) ? malloc(2 * dim * sizeof *out) : NULL;
            if (out)
                gatrec_embedder_embed(e, texts, 2, out);
            free(out);
        }
        gatrec_embedder_free(e);
        break;
    }
    case RATINGS_TSV:
    case RATINGS_CSV: {
        gatrec_delimited_options o = GATREC_DELIMITED_OPTIONS_INIT;
        gatrec_dataset *ds = NULL;
        if (sel == RATINGS_TSV) {
            o.delimiter = "\t";
            o.header = 0;
            o.timestamp_column = 3;
        }
        write_file(data, size, NULL, 0, NULL, 0);
        gatrec_dataset_load_delimited(path, &o, &ds);
        gatrec_dataset_free(ds);
        break;
    }
    case PROFILES_CSV:
    case PROFILES_JSONL: {
        gatrec_profiles *p = NULL;
        write_file(data, size, NULL, 0, NULL, 0);
        if (sel == PROFILES_CSV) {
            if (gatrec_profiles_new(&p))
                abort();
            gatrec_profiles_import_csv(p, GATREC_NODE_ITEM, path, "id", "text", NULL);
        } else {
            gatrec_profiles_load(path, &p);
        }
        gatrec_profiles_free(p);
        break;
    }
    case FEATURES_TSV: {
        float *f = NULL;
        size_t dim;
        write_file(data, size, NULL, 0, NULL, 0);
        if (gatrec_features_load(tiny_graph, path, &f, &dim) == GATREC_OK)
            gatrec_features_free(f);
        break;
    }
    case RECS_CSV: {
        gatrec_reclist *l = NULL;
        write_file(data, size, NULL, 0, NULL, 0);
        gatrec_reclist_load_csv(tiny, path, &l);
        gatrec_reclist_free(l);
        break;
    }
    case ITEM_TEXTS_CSV: {
        gatrec_dataset *ds = NULL;
        static const int64_t users[] = {1}, items[] = {10};
        if (gatrec_dataset_from_arrays(1, users, items, NULL, NULL, &ds))
            abort();
        write_file(data, size, NULL, 0, NULL, 0);
        gatrec_dataset_load_item_texts(ds, path, "id", "text", NULL);
        gatrec_dataset_free(ds);
        break;
    }
    case ZIP: {
        char cmd[600];
        size_t nfiles;
        gatrec__zip_extract_mem(data, size, dir, "fuzz.zip", &nfiles);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            abort();
        break;
    }
    }
    gatrec_error_clear();
    return 0;
}
