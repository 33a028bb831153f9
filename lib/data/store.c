/* The dataset file, `DIR/dataset.gatrec` (docs/data.md):
 *
 *   magic "\x89GRDATA\n" | u32 format version | u32 0 | u64 payload length | payload | u32 CRC-32
 * (the envelope of lib/common/file.c, as the model file's)
 *
 * The payload is sections (u32 tag, u64 length, bytes) as in model files: a reader skips tags it
 * does not know. Ratings are stored by column, so a load is a few copies and the pair index. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset.h"

#define MAGIC "\x89GRDATA\n"
#define FORMAT_VERSION 1u
#define FILE_NAME "dataset.gatrec"

enum {
    TAG_META = 1,     /* name, domain, dir, liked, disliked, implicit */
    TAG_USERS = 2,    /* ids */
    TAG_ITEMS = 3,
    TAG_USER_KEYS = 4,
    TAG_ITEM_KEYS = 5,
    TAG_RATINGS = 6,  /* n, users[n] u32, items[n] u32, values[n] f32, times[n] u64 */
    TAG_GENRES = 7,   /* names */
    TAG_ITEM_META = 8, /* per item: title, text, year, genres */
    TAG_USER_META = 9  /* per user: age, gender, occupation, text */
};

static int put_f32(gatrec__buf *b, float f)
{
    return gatrec__buf_put_f32s(b, &f, 1);
}

static int put_idmap(gatrec__buf *b, uint32_t tag, uint32_t key_tag, const gatrec__idmap *m)
{
    size_t at;
    int rc;
    if ((rc = gatrec__buf_begin_section(b, tag, &at)) || (rc = gatrec__idmap_write_ids(b, m)))
        return rc;
    gatrec__buf_end_section(b, at);
    if (!m->nkeys)
        return GATREC_OK;
    if ((rc = gatrec__buf_begin_section(b, key_tag, &at)) || (rc = gatrec__idmap_write_keys(b, m)))
        return rc;
    gatrec__buf_end_section(b, at);
    return GATREC_OK;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static int write_payload(const gatrec_dataset *ds, gatrec__buf *b)
{
    size_t at, n = ds->nratings;
    int rc;
    if ((rc = gatrec__buf_begin_section(b, TAG_META, &at)) || (rc = gatrec__buf_put_str(b, ds->name)) ||
        (rc = gatrec__buf_put_str(b, or_empty(ds->domain))) || (rc = gatrec__buf_put_str(b, or_empty(ds->dir))) ||
        (rc = put_f32(b, ds->liked)) || (rc = put_f32(b, ds->disliked)) ||
        (rc = gatrec__buf_put_u32(b, (uint32_t)ds->implicit)))
        return rc;
    gatrec__buf_end_section(b, at);
    if ((rc = put_idmap(b, TAG_USERS, TAG_USER_KEYS, &ds->users)) || (rc = put_idmap(b, TAG_ITEMS, TAG_ITEM_KEYS, &ds->items)))
        return rc;
    if ((rc = gatrec__buf_begin_section(b, TAG_RATINGS, &at)) || (rc = gatrec__buf_put_u64(b, n)))
        return rc;
    for (size_t r = 0; r < n && !rc; r++)
        rc = gatrec__buf_put_u32(b, (uint32_t)ds->r_user[r]);
    for (size_t r = 0; r < n && !rc; r++)
        rc = gatrec__buf_put_u32(b, (uint32_t)ds->r_item[r]);
    if (!rc)
        rc = gatrec__buf_put_f32s(b, ds->r_value, n);
    for (size_t r = 0; r < n && !rc; r++)
        rc = gatrec__buf_put_u64(b, (uint64_t)ds->r_time[r]);
    if (rc)
        return rc;
    gatrec__buf_end_section(b, at);
    if ((rc = gatrec__buf_begin_section(b, TAG_GENRES, &at)) || (rc = gatrec__buf_put_u32(b, (uint32_t)ds->ngenres)))
        return rc;
    for (size_t g = 0; g < ds->ngenres && !rc; g++)
        rc = gatrec__buf_put_str(b, ds->genre_names[g]);
    if (rc)
        return rc;
    gatrec__buf_end_section(b, at);
    if ((rc = gatrec__buf_begin_section(b, TAG_ITEM_META, &at)) || (rc = gatrec__buf_put_u64(b, ds->items.count)))
        return rc;
    for (size_t i = 0; i < ds->items.count && !rc; i++) {
        const gatrec__item_meta *m = i < ds->item_meta_cap ? &ds->item_meta[i] : NULL;
        if (!(rc = gatrec__buf_put_str(b, m ? or_empty(m->title) : "")) &&
            !(rc = gatrec__buf_put_str(b, m ? or_empty(m->text) : "")) &&
            !(rc = gatrec__buf_put_u32(b, m ? (uint32_t)m->year : 0)))
            rc = gatrec__buf_put_u64(b, m ? m->genres : 0);
    }
    if (rc)
        return rc;
    gatrec__buf_end_section(b, at);
    if ((rc = gatrec__buf_begin_section(b, TAG_USER_META, &at)) || (rc = gatrec__buf_put_u64(b, ds->users.count)))
        return rc;
    for (size_t u = 0; u < ds->users.count && !rc; u++) {
        const gatrec__user_meta *m = u < ds->user_meta_cap ? &ds->user_meta[u] : NULL;
        if (!(rc = gatrec__buf_put_u32(b, m ? (uint32_t)m->age : UINT32_MAX)) &&
            !(rc = gatrec__buf_put_str(b, m ? m->gender : "")) &&
            !(rc = gatrec__buf_put_str(b, m ? or_empty(m->occupation) : "")))
            rc = gatrec__buf_put_str(b, m ? or_empty(m->text) : "");
    }
    if (rc)
        return rc;
    gatrec__buf_end_section(b, at);
    return GATREC_OK;
}

static char *file_of(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISREG(st.st_mode))
        return gatrec__strdup(dir);
    return gatrec__path_join(dir, FILE_NAME);
}

GATREC_API int gatrec_dataset_save(const gatrec_dataset *ds, const char *dir)
{
    gatrec__buf b = {0};
    char *path = NULL;
    int rc;
    if (!ds || !dir)
        return gatrec__error(GATREC_EINVAL, "gatrec_dataset_save: NULL argument");
    if ((rc = gatrec__mkdirs(dir)))
        return gatrec__error_context(rc, "creating %s", dir);
    if (!(path = gatrec__path_join(dir, FILE_NAME)))
        return GATREC_ENOMEM;
    if ((rc = gatrec__envelope_begin(&b, MAGIC, FORMAT_VERSION, 0)) || (rc = write_payload(ds, &b)) ||
        (rc = gatrec__envelope_finish(&b)))
        goto done;
    if ((rc = gatrec__write_file_atomic(path, b.data, b.len)))
        gatrec__error_context(rc, "saving the dataset");
done:
    gatrec__buf_free(&b);
    free(path);
    return rc;
}

static char *read_opt_str(gatrec__reader *r)
{
    char *s = gatrec__read_str(r);
    if (s && !s[0]) {
        free(s);
        return NULL;
    }
    return s;
}

static int read_ratings(gatrec__reader *r, gatrec_dataset *ds)
{
    uint64_t n = gatrec__read_u64(r);
    const unsigned char *u, *i, *v, *t;
    int rc;
    if (r->bad || ds->nratings || n > (uint64_t)(r->end - r->p) / 20 || n >= UINT32_MAX)
        return GATREC_EFORMAT;
    u = gatrec__read_bytes(r, (size_t)n * 4);
    i = gatrec__read_bytes(r, (size_t)n * 4);
    v = gatrec__read_bytes(r, (size_t)n * 4);
    t = gatrec__read_bytes(r, (size_t)n * 8);
    if (r->bad)
        return GATREC_EFORMAT;
    if ((rc = gatrec__dataset_reserve(ds, (size_t)n)))
        return rc;
    for (size_t k = 0; k < n; k++) {
        gatrec__reader ru = {u + 4 * k, u + 4 * k + 4, 0}, ri = {i + 4 * k, i + 4 * k + 4, 0},
                       rt = {t + 8 * k, t + 8 * k + 8, 0}, rv = {v + 4 * k, v + 4 * k + 4, 0};
        uint32_t uu = gatrec__read_u32(&ru), ii = gatrec__read_u32(&ri);
        int64_t time = (int64_t)gatrec__read_u64(&rt);
        float val;
        gatrec__read_f32s(&rv, &val, 1);
        if (uu >= ds->users.count || ii >= ds->items.count || !isfinite(val))
            return GATREC_EFORMAT;
        if ((rc = gatrec__dataset_append(ds, (int32_t)uu, (int32_t)ii, val, time, NULL)))
            return rc == GATREC_EDUPLICATE ? GATREC_EFORMAT : rc;
    }
    return GATREC_OK;
}

static int read_item_meta(gatrec__reader *r, gatrec_dataset *ds)
{
    uint64_t n = gatrec__read_u64(r);
    if (r->bad || n != ds->items.count)
        return GATREC_EFORMAT;
    for (size_t i = 0; i < n && !r->bad; i++) {
        gatrec__item_meta *m = gatrec__dataset_item_meta(ds, (int32_t)i);
        if (!m)
            return GATREC_ENOMEM;
        m->title = read_opt_str(r);
        m->text = read_opt_str(r);
        m->year = (int)gatrec__read_u32(r);
        m->genres = gatrec__read_u64(r);
        if (ds->ngenres < 64 && (m->genres >> ds->ngenres))
            return GATREC_EFORMAT;
    }
    return r->bad ? GATREC_EFORMAT : GATREC_OK;
}

static int read_user_meta(gatrec__reader *r, gatrec_dataset *ds)
{
    uint64_t n = gatrec__read_u64(r);
    if (r->bad || n != ds->users.count)
        return GATREC_EFORMAT;
    for (size_t u = 0; u < n && !r->bad; u++) {
        gatrec__user_meta *m = gatrec__dataset_user_meta(ds, (int32_t)u);
        char *g;
        if (!m)
            return GATREC_ENOMEM;
        m->age = (int)gatrec__read_u32(r);
        if ((g = gatrec__read_str(r)))
            snprintf(m->gender, sizeof m->gender, "%s", g);
        free(g);
        m->occupation = read_opt_str(r);
        m->text = read_opt_str(r);
    }
    return r->bad ? GATREC_EFORMAT : GATREC_OK;
}

static int read_payload(gatrec__reader *r, gatrec_dataset *ds)
{
    int have_meta = 0, have_users = 0, have_items = 0, have_ratings = 0, rc = GATREC_OK;
    uint32_t tag, ng;
    gatrec__reader sec;
    int more = 0;
    while (!rc && (more = gatrec__read_section(r, &tag, &sec)) == 1) {
        switch (tag) {
        case TAG_META:
            if (have_meta++)
                return GATREC_EFORMAT;
            free(ds->name);
            ds->name = gatrec__read_str(&sec);
            ds->domain = read_opt_str(&sec);
            ds->dir = read_opt_str(&sec);
            gatrec__read_f32s(&sec, &ds->liked, 1);
            gatrec__read_f32s(&sec, &ds->disliked, 1);
            ds->implicit = gatrec__read_u32(&sec) != 0;
            if (!ds->name || !(ds->disliked < ds->liked))
                return GATREC_EFORMAT;
            break;
        case TAG_USERS:
            have_users = 1;
            rc = gatrec__idmap_read_ids(&sec, &ds->users);
            break;
        case TAG_ITEMS:
            have_items = 1;
            rc = gatrec__idmap_read_ids(&sec, &ds->items);
            break;
        case TAG_USER_KEYS:
            rc = !have_users || ds->users.nkeys ? GATREC_EFORMAT : gatrec__idmap_read_keys(&sec, &ds->users);
            break;
        case TAG_ITEM_KEYS:
            rc = !have_items || ds->items.nkeys ? GATREC_EFORMAT : gatrec__idmap_read_keys(&sec, &ds->items);
            break;
        case TAG_RATINGS:
            have_ratings = 1;
            rc = !have_users || !have_items ? GATREC_EFORMAT : read_ratings(&sec, ds);
            break;
        case TAG_GENRES:
            ng = gatrec__read_u32(&sec);
            if (ds->ngenres || ng > GATREC_MAX_GENRES)
                return GATREC_EFORMAT;
            for (uint32_t g = 0; g < ng && !rc && !sec.bad; g++) {
                char *name = gatrec__read_str(&sec);
                size_t index;
                rc = name ? gatrec__dataset_add_genre(ds, name, strlen(name), &index) : GATREC_EFORMAT;
                free(name);
            }
            break;
        case TAG_ITEM_META:
            rc = read_item_meta(&sec, ds);
            break;
        case TAG_USER_META:
            rc = read_user_meta(&sec, ds);
            break;
        default:
            break; /* a section from a later minor revision: skip it */
        }
        if (!rc && sec.bad)
            rc = GATREC_EFORMAT;
    }
    return rc ? rc : more < 0 ? more : have_meta && have_ratings ? GATREC_OK : GATREC_EFORMAT;
}

GATREC_API int gatrec_dataset_load(const char *dir, gatrec_dataset **out)
{
    char *data = NULL, *path;
    gatrec__reader r;
    gatrec_dataset *ds = NULL;
    uint32_t kind;
    int rc;
    if (!dir || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_dataset_load: NULL argument");
    if (!(path = file_of(dir)))
        return GATREC_ENOMEM;
    if ((rc = gatrec__envelope_read(path, MAGIC, "dataset", FORMAT_VERSION, &data, &r, &kind)) ||
        (rc = gatrec__dataset_new("data", &ds)))
        goto done;
    rc = read_payload(&r, ds);
    if (rc == GATREC_EFORMAT)
        gatrec__error(rc, "%s: malformed dataset file (checksum valid: written by a faulty writer?)", path);
    else if (rc)
        gatrec__error_context(rc, "%s", path);
    rc = gatrec__dataset_complete(ds, rc, out);
    ds = NULL;
done:
    free(data);
    free(path);
    return rc;
}
