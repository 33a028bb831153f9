/* Writes the fuzzers' starting corpus of binary files: a model of every kind and a hashed
 * embedder, trained on a tiny synthetic dataset, in the input layout fuzz_files.c expects
 * (selector byte, then the file; or, for the wrapped forms, the model kind and the payload
 * without header and checksum). Usage: make_seeds DIR. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatrec.h"

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;
    if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
        exit(1);
    if (!(buf = malloc((size_t)len + 1)) || fread(buf, 1, (size_t)len, f) != (size_t)len)
        exit(1);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static void put(const char *dir, const char *name, const unsigned char *pre, size_t npre, const unsigned char *d,
                size_t n)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")) || fwrite(pre, 1, npre, f) != npre || fwrite(d, 1, n, f) != n || fclose(f))
        exit(1);
}

int main(int argc, char **argv)
{
    static const int64_t users[] = {1, 1, 1, 2, 2, 3, 3, 3}, items[] = {10, 11, 12, 11, 13, 10, 12, 13};
    static const float ratings[] = {5, 4, 1, 5, 2, 4, 5, 3};
    static const char *const kinds[] = {"pop", "bpr", "lightgcn", "gat", "ease", "attn"};
    const char *texts[] = {"a heist in los angeles", "robots and a small farm pig"};
    char tmp[4096], name[64];
    gatrec_dataset *ds;
    gatrec_graph *g;
    gatrec_embedder *e;
    unsigned char *file, sel[2];
    size_t n;
    if (argc != 2)
        return 2;
    snprintf(tmp, sizeof tmp, "%s/.seed.tmp", argv[1]);
    if (gatrec_dataset_from_arrays(8, users, items, ratings, NULL, &ds) || gatrec_graph_new(ds, NULL, NULL, &g))
        return 1;
    for (int k = 0; k < (int)(sizeof kinds / sizeof *kinds); k++) {
        gatrec_model_options o;
        gatrec_model *m;
        gatrec_model_options_init(&o, GATREC_MODEL_OPTIONS_VERSION);
        if ((o.kind = gatrec_model_kind_from_name(kinds[k])) < 0)
            return 1;
        o.epochs = 2;
        o.dim = 4;
        o.layers = "4x2,4x1";
        o.threads = 1;
        if (gatrec_model_train(g, &o, &m) || gatrec_model_save(m, tmp))
            return 1;
        file = slurp(tmp, &n);
        sel[0] = 0;
        snprintf(name, sizeof name, "model-%s", kinds[k]);
        put(argv[1], name, sel, 1, file, n);
        sel[0] = 1; /* wrapped: kind, then the payload between the 24-byte header and the CRC */
        sel[1] = file[12];
        snprintf(name, sizeof name, "payload-%s", kinds[k]);
        put(argv[1], name, sel, 2, file + 24, n - 28);
        free(file);
        gatrec_model_free(m);
    }
    if (gatrec_embedder_new_hashed(NULL, &e) || gatrec_embedder_fit(e, texts, 2) || gatrec_embedder_save(e, tmp))
        return 1;
    file = slurp(tmp, &n);
    sel[0] = 2;
    put(argv[1], "embedder", sel, 1, file, n - 4);
    free(file);
    gatrec_embedder_free(e);
    gatrec_graph_free(g);
    gatrec_dataset_free(ds);
    remove(tmp);
    return 0;
}
