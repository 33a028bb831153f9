/* The embedder's file and bytes: the hashed embedder's settings and idf, the LSA embedder's
 * terms and projection, a remote embedder's model name and width. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"

/* ---- persistence (the hashed embedder's state: its settings and idf) ---- */

/* The hashed embedder's state as bytes (magic, format, settings, idf, CRC-32). */
int gatrec__embedder_serialize(const gatrec_embedder *e, gatrec__buf *b)
{
    int rc;
    if (e->kind == KIND_LSA) { /* format 2: the settings, then the kept terms, idf and projection */
        if (!e->ndocs)
            return gatrec__error(GATREC_EINVAL, "the LSA embedder has not been fitted: nothing to save");
        if (!(rc = gatrec__buf_put(b, EMBEDDER_MAGIC, 8)) && !(rc = gatrec__buf_put_u32(b, EMBEDDER_FORMAT_LSA)) &&
            !(rc = gatrec__buf_put_u32(b, KIND_LSA)) && !(rc = gatrec__buf_put_u64(b, e->dim)) &&
            !(rc = gatrec__buf_put_u32(b, (uint32_t)e->max_ngram)) &&
            !(rc = gatrec__buf_put_u32(b, (uint32_t)e->sublinear)) && !(rc = gatrec__buf_put_u64(b, e->ndocs)) &&
            !(rc = gatrec__buf_put_u64(b, e->nterms)))
            for (size_t t = 0; t < e->nterms && !rc; t++)
                rc = gatrec__buf_put_u32(b, e->bucket[t]);
        if (!rc && !(rc = gatrec__buf_put_f32s(b, e->tidf, e->nterms)) &&
            !(rc = gatrec__buf_put_f32s(b, e->proj, e->nterms * e->dim)))
            rc = gatrec__buf_put_u32(b, gatrec__crc32(b->data, b->len));
        return rc;
    }
    if (e->kind == KIND_REMOTE) { /* format 3: which model, how wide (never the endpoint or a key) */
        if (!(rc = gatrec__buf_put(b, EMBEDDER_MAGIC, 8)) && !(rc = gatrec__buf_put_u32(b, EMBEDDER_FORMAT_REMOTE)) &&
            !(rc = gatrec__buf_put_u64(b, e->dim)) && !(rc = gatrec__buf_put_str(b, e->model)))
            rc = gatrec__buf_put_u32(b, gatrec__crc32(b->data, b->len));
        return rc;
    }
    if (e->kind != KIND_HASHED)
        return gatrec__error(GATREC_EUNSUPPORTED, "a callback embedder has no state to save (the hashed, LSA and "
                             "remote ones do)");
    if (!(rc = gatrec__buf_put(b, EMBEDDER_MAGIC, 8)) && !(rc = gatrec__buf_put_u32(b, EMBEDDER_FORMAT)) &&
        !(rc = gatrec__buf_put_u64(b, e->dim)) && !(rc = gatrec__buf_put_u32(b, (uint32_t)e->max_ngram)) &&
        !(rc = gatrec__buf_put_u32(b, (uint32_t)e->sublinear)) && !(rc = gatrec__buf_put_u64(b, e->ndocs)) &&
        !(rc = gatrec__buf_put_f32s(b, e->idf, e->dim)))
        rc = gatrec__buf_put_u32(b, gatrec__crc32(b->data, b->len));
    return rc;
}

/* The LSA state after the format number. */
static int parse_lsa(gatrec__reader *r, const char *what, gatrec_embedder **out)
{
    gatrec_embedder *e = NULL;
    uint32_t kind = gatrec__read_u32(r);
    uint64_t dim = gatrec__read_u64(r);
    int ngram = (int)gatrec__read_u32(r), sub = (int)gatrec__read_u32(r);
    uint64_t ndocs = gatrec__read_u64(r), nterms = gatrec__read_u64(r);
    int rc;
    if (r->bad || kind != KIND_LSA || dim == 0 || dim > (1u << 24) || ndocs == 0 || nterms == 0 ||
        nterms > LSA_BUCKETS || (uint64_t)(r->end - r->p) < nterms * (8 + 4 * dim) + 4)
        return gatrec__error(GATREC_EFORMAT, "%s: malformed LSA embedder", what);
    gatrec_embedder_options o = GATREC_EMBEDDER_OPTIONS_INIT;
    o.dim = (size_t)dim;
    o.max_ngram = ngram;
    o.sublinear_tf = sub;
    if ((rc = gatrec_embedder_new_lsa(&o, &e)))
        return rc;
    e->ndocs = ndocs;
    e->nterms = (size_t)nterms;
    e->bucket = gatrec__malloc_array(e->nterms, sizeof *e->bucket);
    e->tidf = gatrec__malloc_array(e->nterms, sizeof *e->tidf);
    e->proj = gatrec__malloc_array(e->nterms * e->dim, sizeof *e->proj);
    if (!e->bucket || !e->tidf || !e->proj)
        rc = GATREC_ENOMEM;
    for (size_t t = 0; !rc && t < e->nterms; t++) {
        e->bucket[t] = gatrec__read_u32(r);
        if (e->bucket[t] >= LSA_BUCKETS || (t && e->bucket[t] <= e->bucket[t - 1]))
            rc = gatrec__error(GATREC_EFORMAT, "%s: malformed LSA embedder (terms out of order)", what);
    }
    if (!rc && (gatrec__read_f32s(r, e->tidf, e->nterms) || gatrec__read_f32s(r, e->proj, e->nterms * e->dim) ||
                r->end - r->p != 4))
        rc = gatrec__error(GATREC_EFORMAT, "%s: malformed LSA embedder", what);
    if (rc) {
        gatrec_embedder_free(e);
        return rc;
    }
    *out = e;
    return GATREC_OK;
}

/* An embedder from gatrec__embedder_serialize()'s bytes; `what` names them in errors. */
int gatrec__embedder_parse(const void *bytes, size_t len, const char *what, gatrec_embedder **out)
{
    const unsigned char *data = bytes;
    gatrec__reader r = {data, data + len, 0};
    gatrec_embedder *e = NULL;
    int rc = GATREC_OK;
    if (len < 12 || memcmp(data, EMBEDDER_MAGIC, 8) != 0) {
        rc = gatrec__error(GATREC_EFORMAT, "%s: not a gatrec embedder", what);
    } else if (gatrec__crc32(data, len - 4) != (uint32_t)(data[len - 4] | data[len - 3] << 8 | data[len - 2] << 16 |
                                                          (uint32_t)data[len - 1] << 24)) {
        rc = gatrec__error(GATREC_ECHECKSUM, "%s: checksum mismatch: the embedder is corrupted or cut short", what);
    } else {
        gatrec__read_bytes(&r, 8);
        uint32_t version = gatrec__read_u32(&r);
        if (version == EMBEDDER_FORMAT_LSA) {
            rc = parse_lsa(&r, what, &e);
            goto out;
        }
        if (version == EMBEDDER_FORMAT_REMOTE) {
            uint64_t dim = gatrec__read_u64(&r);
            char *model = gatrec__read_str(&r);
            if (r.bad || !model || !model[0] || dim == 0 || dim > (1u << 24) || r.end - r.p != 4) {
                free(model);
                rc = gatrec__error(GATREC_EFORMAT, "%s: malformed remote embedder", what);
            } else if (!(e = gatrec__calloc(1, sizeof *e))) {
                free(model);
                rc = GATREC_ENOMEM;
            } else {
                e->kind = KIND_REMOTE;
                e->dim = (size_t)dim;
                e->model = model; /* no client until gatrec_embedder_bind_llm() */
            }
            goto out;
        }
        uint64_t dim = gatrec__read_u64(&r);
        int ngram = (int)gatrec__read_u32(&r), sub = (int)gatrec__read_u32(&r);
        uint64_t ndocs = gatrec__read_u64(&r);
        if (version != EMBEDDER_FORMAT)
            rc = gatrec__error(GATREC_EVERSION, "%s: embedder format %u; this library reads %u", what, version,
                               EMBEDDER_FORMAT);
        else if (r.bad || dim == 0 || dim > (1u << 24) || (size_t)(r.end - r.p) < dim * 4 + 4)
            rc = gatrec__error(GATREC_EFORMAT, "%s: malformed embedder", what);
        else if (!(rc = gatrec__embedder_alloc_hashed((size_t)dim, ngram, sub, &e))) {
            e->ndocs = ndocs;
            rc = gatrec__read_f32s(&r, e->idf, e->dim);
        }
    }
out:
    if (rc) {
        gatrec_embedder_free(e);
        return rc;
    }
    *out = e;
    return GATREC_OK;
}

GATREC_API int gatrec_embedder_save(const gatrec_embedder *e, const char *path)
{
    gatrec__buf b = {0};
    int rc;
    if (!e || !path)
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_save: NULL argument");
    if (!(rc = gatrec__embedder_serialize(e, &b)))
        rc = gatrec__write_file_atomic(path, b.data, b.len);
    gatrec__buf_free(&b);
    return rc;
}

GATREC_API int gatrec_embedder_load(const char *path, gatrec_embedder **out)
{
    char *data;
    size_t len;
    int rc;
    if (!path || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_embedder_load: NULL argument");
    if ((rc = gatrec__read_file(path, &data, &len)))
        return rc;
    rc = gatrec__embedder_parse(data, len, path, out);
    free(data);
    return rc;
}
