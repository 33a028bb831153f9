/* The model file: everything needed to serve recommendations, checked before it is trusted.
 *
 *   magic "\x89GATREC\n" | u32 format version | u32 kind | u64 payload length | payload | u32 CRC-32
 * (the envelope of lib/common/file.c, which checks it)
 *
 * The payload is a sequence of sections (u32 tag, u64 length, bytes); a reader skips tags it does
 * not know, so later versions can add sections without breaking older readers. Integers are
 * little-endian; floats are IEEE-754 binary32 bit patterns. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define MAGIC "\x89GATREC\n"
#define FORMAT_VERSION 1u

enum {
    TAG_CONFIG = 1,
    TAG_USERS = 2,
    TAG_ITEMS = 3,
    TAG_SEEN = 4,
    TAG_INFO = 5,
    TAG_POPULARITY = 6,
    TAG_EMBEDDER = 7,
    TAG_USER_KEYS = 8,
    TAG_ITEM_KEYS = 9,
    TAG_PARAMS = 100
};

static int put_f32(gatrec__buf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return gatrec__buf_put_u32(b, u);
}

static float get_f32(gatrec__reader *r)
{
    uint32_t u = gatrec__read_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int put_ids(gatrec__buf *b, uint32_t tag, const gatrec__idmap *m)
{
    size_t at;
    int rc = gatrec__buf_begin_section(b, tag, &at);
    if (!rc && !(rc = gatrec__idmap_write_ids(b, m)))
        gatrec__buf_end_section(b, at);
    return rc;
}

/* String keys (since 0.3; a model of an imported dataset): a section an older reader skips */
static int put_keys(gatrec__buf *b, uint32_t tag, const gatrec__idmap *m)
{
    size_t at;
    int rc = GATREC_OK;
    if (m->nkeys && !(rc = gatrec__buf_begin_section(b, tag, &at)) && !(rc = gatrec__idmap_write_keys(b, m)))
        gatrec__buf_end_section(b, at);
    return rc;
}

static int write_payload(const gatrec_model *m, gatrec__buf *b)
{
    const gatrec__csr *s = &m->seen;
    size_t at, nnz = s->off[s->nrows];
    int rc;
    if ((rc = gatrec__buf_begin_section(b, TAG_CONFIG, &at)) || (rc = gatrec__buf_put_u32(b, (uint32_t)m->ops->kind)) ||
        (rc = gatrec__buf_put_u64(b, m->opts.seed)) || (rc = gatrec__buf_put_u32(b, (uint32_t)m->opts.threads)) ||
        (rc = put_f32(b, m->liked)) || (rc = put_f32(b, m->disliked)) || (rc = put_f32(b, m->dislike)) ||
        (rc = put_f32(b, m->pop_prior)))
        return rc;
    gatrec__buf_end_section(b, at);
    if ((rc = put_ids(b, TAG_USERS, &m->users)) || (rc = put_ids(b, TAG_ITEMS, &m->items)) ||
        (rc = put_keys(b, TAG_USER_KEYS, &m->users)) || (rc = put_keys(b, TAG_ITEM_KEYS, &m->items)))
        return rc;
    if ((rc = gatrec__buf_begin_section(b, TAG_SEEN, &at)) || (rc = gatrec__buf_put_u64(b, nnz)))
        return rc;
    for (size_t u = 0; u < s->nrows && !rc; u++)
        rc = gatrec__buf_put_u64(b, s->off[u + 1] - s->off[u]);
    for (size_t e = 0; e < nnz && !rc; e++)
        if (!(rc = gatrec__buf_put_u32(b, (uint32_t)s->col[e])))
            rc = put_f32(b, s->val[e]);
    if (rc)
        return rc;
    gatrec__buf_end_section(b, at);
    if ((rc = gatrec__buf_begin_section(b, TAG_POPULARITY, &at)))
        return rc;
    for (size_t i = 0; i < m->items.count && !rc; i++)
        if (!(rc = gatrec__buf_put_u64(b, m->item_ratings[i])))
            rc = gatrec__buf_put_u64(b, m->item_liked[i]);
    if (rc)
        return rc;
    gatrec__buf_end_section(b, at);
    if ((rc = gatrec__buf_begin_section(b, TAG_INFO, &at)) || (rc = gatrec__buf_put_u32(b, (uint32_t)m->ninfo)))
        return rc;
    for (size_t k = 0; k < m->ninfo && !rc; k++)
        if (!(rc = gatrec__buf_put_str(b, m->info_keys[k])))
            rc = gatrec__buf_put_str(b, m->info_vals[k]);
    if (rc)
        return rc;
    gatrec__buf_end_section(b, at);
    if (m->embedder) { /* an older reader skips this section */
        if ((rc = gatrec__buf_begin_section(b, TAG_EMBEDDER, &at)) || (rc = gatrec__buf_put(b, m->embedder, m->embedder_len)))
            return rc;
        gatrec__buf_end_section(b, at);
    }
    if ((rc = gatrec__buf_begin_section(b, TAG_PARAMS, &at)) || (rc = m->ops->save(m, b)))
        return rc;
    gatrec__buf_end_section(b, at);
    return GATREC_OK;
}

GATREC_API int gatrec_model_save(const gatrec_model *model, const char *path)
{
    gatrec__buf b = {0};
    int rc;
    if (!model || !path)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_save: NULL argument");
    if ((rc = gatrec__envelope_begin(&b, MAGIC, FORMAT_VERSION, (uint32_t)model->ops->kind)) ||
        (rc = write_payload(model, &b)) || (rc = gatrec__envelope_finish(&b)))
        goto done;
    if ((rc = gatrec__write_file_atomic(path, b.data, b.len)))
        gatrec__error_context(rc, "saving model");
done:
    gatrec__buf_free(&b);
    return rc;
}

static int read_seen(gatrec__reader *r, gatrec_model *m)
{
    gatrec__csr *s = &m->seen;
    uint64_t nnz = gatrec__read_u64(r);
    size_t nu = m->users.count;
    if (r->bad || nnz > (uint64_t)(r->end - r->p) / 8)
        return GATREC_EFORMAT;
    s->nrows = nu;
    s->off = gatrec__calloc(nu + 1, sizeof *s->off);
    s->col = gatrec__malloc_array((size_t)nnz, sizeof *s->col);
    s->val = gatrec__malloc_array((size_t)nnz, sizeof *s->val);
    if (!s->off || !s->col || !s->val)
        return GATREC_ENOMEM;
    for (size_t u = 0; u < nu; u++) {
        uint64_t d = gatrec__read_u64(r);
        if (d > nnz - s->off[u])
            return GATREC_EFORMAT;
        s->off[u + 1] = s->off[u] + (size_t)d;
    }
    if (s->off[nu] != nnz)
        return GATREC_EFORMAT;
    for (size_t u = 0; u < nu; u++)
        for (size_t e = s->off[u]; e < s->off[u + 1]; e++) {
            s->col[e] = (int32_t)gatrec__read_u32(r);
            s->val[e] = get_f32(r);
            if (s->col[e] < 0 || (size_t)s->col[e] >= m->items.count || (e > s->off[u] && s->col[e] <= s->col[e - 1]))
                return GATREC_EFORMAT;
        }
    return r->bad ? GATREC_EFORMAT : GATREC_OK;
}

static int read_info(gatrec__reader *r, gatrec_model *m)
{
    uint32_t n = gatrec__read_u32(r);
    for (uint32_t k = 0; k < n && !r->bad; k++) {
        char *key = gatrec__read_str(r), *val = gatrec__read_str(r);
        int rc = key && val && key[0] ? gatrec_model_set_info(m, key, val) : GATREC_EFORMAT;
        free(key);
        free(val);
        if (rc)
            return rc;
    }
    return r->bad ? GATREC_EFORMAT : GATREC_OK;
}

static int read_payload(gatrec__reader *r, gatrec_model *m, uint32_t kind)
{
    int have_config = 0, have_seen = 0, have_pop = 0, have_params = 0;
    uint32_t tag;
    gatrec__reader sec;
    int more;
    while ((more = gatrec__read_section(r, &tag, &sec)) == 1) {
        int rc = GATREC_OK;
        size_t len = (size_t)(sec.end - sec.p);
        switch (tag) {
        case TAG_CONFIG:
            if (gatrec__read_u32(&sec) != kind)
                return GATREC_EFORMAT;
            m->opts.seed = gatrec__read_u64(&sec);
            m->opts.threads = (int)gatrec__read_u32(&sec);
            m->liked = get_f32(&sec);
            m->disliked = get_f32(&sec);
            m->dislike = sec.p < sec.end ? get_f32(&sec) : 0.0f; /* since 0.3: files before it had no star rule */
            m->pop_prior = sec.p < sec.end ? get_f32(&sec) : 0.0f;
            if (!isfinite(m->dislike) || m->dislike < 0 || !isfinite(m->pop_prior) || m->pop_prior < 0)
                return GATREC_EFORMAT;
            have_config = 1;
            break;
        case TAG_USERS:
            rc = m->users.count ? GATREC_EFORMAT : gatrec__idmap_read_ids(&sec, &m->users);
            break;
        case TAG_ITEMS:
            rc = m->items.count ? GATREC_EFORMAT : gatrec__idmap_read_ids(&sec, &m->items);
            break;
        case TAG_USER_KEYS:
            rc = m->users.nkeys ? GATREC_EFORMAT : gatrec__idmap_read_keys(&sec, &m->users);
            break;
        case TAG_ITEM_KEYS:
            rc = m->items.nkeys ? GATREC_EFORMAT : gatrec__idmap_read_keys(&sec, &m->items);
            break;
        case TAG_SEEN:
            rc = have_seen++ ? GATREC_EFORMAT : read_seen(&sec, m);
            break;
        case TAG_POPULARITY:
            if (have_pop++ || m->item_ratings)
                return GATREC_EFORMAT;
            m->item_ratings = gatrec__calloc(m->items.count, sizeof *m->item_ratings);
            m->item_liked = gatrec__calloc(m->items.count, sizeof *m->item_liked);
            if (!m->item_ratings || !m->item_liked)
                return GATREC_ENOMEM;
            for (size_t i = 0; i < m->items.count; i++) {
                m->item_ratings[i] = gatrec__read_u64(&sec);
                m->item_liked[i] = gatrec__read_u64(&sec);
            }
            break;
        case TAG_INFO:
            rc = read_info(&sec, m);
            break;
        case TAG_EMBEDDER:
            if (m->embedder || len == 0)
                return GATREC_EFORMAT;
            if (!(m->embedder = gatrec__malloc_array((size_t)len, 1)))
                return GATREC_ENOMEM;
            memcpy(m->embedder, sec.p, (size_t)len);
            m->embedder_len = (size_t)len;
            break;
        case TAG_PARAMS:
            if (have_params++ || !have_pop || !have_seen)
                return GATREC_EFORMAT;
            rc = m->ops->load(m, &sec);
            break;
        default:
            break; /* a section from a later minor revision: skip it */
        }
        if (rc)
            return rc;
        if (sec.bad)
            return GATREC_EFORMAT;
    }
    if (more < 0)
        return more;
    return have_config && have_seen && have_pop && have_params ? gatrec__model_logpop(m) : GATREC_EFORMAT;
}

GATREC_API int gatrec_model_load(const char *path, gatrec_model **out)
{
    char *data = NULL;
    gatrec__reader r;
    gatrec_model *m = NULL;
    uint32_t kind;
    int rc;
    if (!path || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_model_load: NULL argument");
    if ((rc = gatrec__envelope_read(path, MAGIC, "model", FORMAT_VERSION, &data, &r, &kind)))
        return rc;
    if (!gatrec__model_ops_of((int)kind)) {
        rc = gatrec__error(GATREC_EUNSUPPORTED, "%s: model kind %u is unknown to this library (%s)", path, kind,
                           GATREC_VERSION_STRING);
        goto done;
    }
    if (!(m = gatrec__model_alloc())) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    m->ops = gatrec__model_ops_of((int)kind);
    gatrec_model_options_init(&m->opts, GATREC_MODEL_OPTIONS_VERSION);
    m->opts.kind = (int)kind;
    rc = read_payload(&r, m, kind);
    if (rc == GATREC_EFORMAT)
        gatrec__error(rc, "%s: malformed model file (checksum valid: written by a faulty writer?)", path);
    else if (rc)
        gatrec__error_context(rc, "%s", path);
done:
    free(data);
    if (rc) {
        gatrec_model_free(m);
        return rc;
    }
    *out = m;
    return GATREC_OK;
}
