/* Open-addressing hash map from dataset ids to dense indices. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

static size_t slot_of(int64_t id, size_t nslots)
{
    uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    return (size_t)(x ^ (x >> 29)) & (nslots - 1);
}

static int rehash(gatrec__idmap *m, size_t nslots)
{
    int32_t *slots = gatrec__malloc_array(nslots, sizeof *slots);
    if (!slots)
        return GATREC_ENOMEM;
    memset(slots, 0xff, nslots * sizeof *slots);
    for (size_t i = 0; i < m->count; i++) {
        size_t s = slot_of(m->ids[i], nslots);
        while (slots[s] >= 0)
            s = (s + 1) & (nslots - 1);
        slots[s] = (int32_t)i;
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = nslots;
    return GATREC_OK;
}

int32_t gatrec__idmap_find(const gatrec__idmap *m, int64_t id)
{
    if (!m->nslots)
        return -1;
    for (size_t s = slot_of(id, m->nslots);; s = (s + 1) & (m->nslots - 1)) {
        int32_t i = m->slots[s];
        if (i < 0)
            return -1;
        if (m->ids[i] == id)
            return i;
    }
}

int gatrec__idmap_index(const gatrec__idmap *m, int64_t id, int32_t *index, const char *what)
{
    int32_t i;
    if (!index)
        return gatrec__error(GATREC_EINVAL, "NULL index pointer");
    if ((i = gatrec__idmap_find(m, id)) < 0)
        return gatrec__error(GATREC_ENOTFOUND, "unknown %s id %lld", what, (long long)id);
    *index = i;
    return GATREC_OK;
}

int gatrec__idmap_add(gatrec__idmap *m, int64_t id, int32_t *index, int *added)
{
    int32_t i = gatrec__idmap_find(m, id);
    int rc;
    if (added)
        *added = i < 0;
    if (i >= 0) {
        *index = i;
        return GATREC_OK;
    }
    if (m->count >= INT32_MAX)
        return gatrec__error(GATREC_EOVERFLOW, "more than %d distinct ids", INT32_MAX);
    if ((m->count + 1) * 2 > m->nslots) {
        rc = rehash(m, m->nslots ? m->nslots * 2 : 64);
        if (rc)
            return rc;
    }
    rc = gatrec__reserve((void **)&m->ids, &m->cap, m->count + 1, sizeof *m->ids);
    if (rc)
        return rc;
    m->ids[m->count] = id;
    {
        size_t s = slot_of(id, m->nslots);
        while (m->slots[s] >= 0)
            s = (s + 1) & (m->nslots - 1);
        m->slots[s] = (int32_t)m->count;
    }
    *index = (int32_t)m->count++;
    return GATREC_OK;
}

void gatrec__idmap_drop_last(gatrec__idmap *m)
{
    int32_t last;
    if (!m->count)
        return;
    last = (int32_t)(m->count - 1);
    for (size_t s = slot_of(m->ids[last], m->nslots);; s = (s + 1) & (m->nslots - 1))
        if (m->slots[s] == last) {
            m->slots[s] = -1;
            break;
        }
    m->count--;
}

int gatrec__idmap_from_ids(gatrec__idmap *m, const int64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int32_t idx;
        int added, rc = gatrec__idmap_add(m, ids[i], &idx, &added);
        if (rc)
            return rc;
        if (!added)
            return gatrec__error(GATREC_EDUPLICATE, "id %lld appears twice", (long long)ids[i]);
    }
    return GATREC_OK;
}

int gatrec__idmap_copy(gatrec__idmap *dst, const gatrec__idmap *src)
{
    int rc;
    memset(dst, 0, sizeof *dst);
    rc = gatrec__idmap_from_ids(dst, src->ids, src->count);
    for (size_t i = 0; !rc && src->keys && i < src->count && i < src->kcap; i++)
        if (src->keys[i])
            rc = gatrec__idmap_set_key(dst, (int32_t)i, src->keys[i]);
    return rc;
}

void gatrec__idmap_free(gatrec__idmap *m)
{
    for (size_t i = 0; m->keys && i < m->kcap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->kslots);
    free(m->ids);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- string keys: FNV-1a into their own table ---- */
static size_t key_slot(const char *key, size_t len, size_t nslots)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32)) & (nslots - 1);
}

static int key_is(const char *k, const char *key, size_t len)
{
    return k && strncmp(k, key, len) == 0 && k[len] == '\0';
}

int32_t gatrec__idmap_find_key(const gatrec__idmap *m, const char *key, size_t len)
{
    if (!m->nkslots || !key)
        return -1;
    for (size_t s = key_slot(key, len, m->nkslots);; s = (s + 1) & (m->nkslots - 1)) {
        int32_t i = m->kslots[s];
        if (i < 0)
            return -1;
        if (key_is(m->keys[i], key, len))
            return i;
    }
}

static void key_place(int32_t *slots, size_t nslots, const char *key, int32_t index)
{
    size_t s = key_slot(key, strlen(key), nslots);
    while (slots[s] >= 0)
        s = (s + 1) & (nslots - 1);
    slots[s] = index;
}

/* Room for one more key in the table and a key slot for every index */
static int key_room(gatrec__idmap *m)
{
    if (m->kcap < m->cap) {
        char **k = gatrec__realloc_array(m->keys, m->cap, sizeof *k);
        if (!k)
            return GATREC_ENOMEM;
        memset(k + m->kcap, 0, (m->cap - m->kcap) * sizeof *k);
        m->keys = k;
        m->kcap = m->cap;
    }
    if ((m->nkeys + 1) * 2 > m->nkslots) {
        size_t n = m->nkslots ? m->nkslots * 2 : 64;
        int32_t *slots = gatrec__malloc_array(n, sizeof *slots);
        if (!slots)
            return GATREC_ENOMEM;
        memset(slots, 0xff, n * sizeof *slots);
        for (size_t i = 0; i < m->kcap; i++)
            if (m->keys[i])
                key_place(slots, n, m->keys[i], (int32_t)i);
        free(m->kslots);
        m->kslots = slots;
        m->nkslots = n;
    }
    return GATREC_OK;
}

/* Store key (len bytes) for an index without one, known to be free */
static int key_store(gatrec__idmap *m, int32_t index, const char *key, size_t len)
{
    int rc = key_room(m);
    if (rc)
        return rc;
    if (!(m->keys[index] = gatrec__strndup(key, len)))
        return GATREC_ENOMEM;
    key_place(m->kslots, m->nkslots, m->keys[index], index);
    m->nkeys++;
    return GATREC_OK;
}

int gatrec__idmap_set_key(gatrec__idmap *m, int32_t index, const char *key)
{
    int32_t other;
    size_t len = key ? strlen(key) : 0;
    if (index < 0 || (size_t)index >= m->count)
        return gatrec__error(GATREC_EINVAL, "index %d out of range", (int)index);
    if (!len || len > GATREC__MAX_KEY)
        return gatrec__error(GATREC_EINVAL, "a key must have 1 to %d bytes", GATREC__MAX_KEY);
    if ((other = gatrec__idmap_find_key(m, key, len)) >= 0)
        return other == index ? GATREC_OK
                              : gatrec__error(GATREC_EDUPLICATE, "key '%s' is already index %d's", key, (int)other);
    if (gatrec__idmap_key(m, index))
        return gatrec__error(GATREC_EINVAL, "index %d already has the key '%s'", (int)index, m->keys[index]);
    return key_store(m, index, key, len);
}

int gatrec__idmap_add_key(gatrec__idmap *m, const char *key, size_t len, int32_t *index, int *added)
{
    int32_t i = gatrec__idmap_find_key(m, key, len);
    int64_t id;
    int rc;
    if (added)
        *added = i < 0;
    if (i >= 0) {
        *index = i;
        return GATREC_OK;
    }
    if (!len || len > GATREC__MAX_KEY || memchr(key, '\0', len))
        return gatrec__error(GATREC_EINVAL, "a key must have 1 to %d bytes and no NUL", GATREC__MAX_KEY);
    /* ids follow the keys' order of arrival (1, 2, ...), stepping over any id a fold-in took */
    for (id = (int64_t)m->count + 1; gatrec__idmap_find(m, id) >= 0; id++)
        ;
    if ((rc = gatrec__idmap_add(m, id, &i, NULL)) || (rc = key_store(m, i, key, len)))
        return rc; /* a stored id without its key: the caller's error ends the load */
    *index = i;
    return GATREC_OK;
}

const char *gatrec__idmap_key(const gatrec__idmap *m, int32_t index)
{
    return m->keys && index >= 0 && (size_t)index < m->kcap && (size_t)index < m->count ? m->keys[index] : NULL;
}

int gatrec__idmap_write_ids(gatrec__buf *b, const gatrec__idmap *m)
{
    int rc = gatrec__buf_put_u64(b, m->count);
    for (size_t i = 0; i < m->count && !rc; i++)
        rc = gatrec__buf_put_u64(b, (uint64_t)m->ids[i]);
    return rc;
}

int gatrec__idmap_read_ids(gatrec__reader *r, gatrec__idmap *m)
{
    uint64_t n = gatrec__read_u64(r);
    if (r->bad || m->count || n > (uint64_t)(r->end - r->p) / 8 || n > INT32_MAX)
        return GATREC_EFORMAT;
    for (uint64_t i = 0; i < n; i++) {
        int32_t idx;
        int added, rc = gatrec__idmap_add(m, (int64_t)gatrec__read_u64(r), &idx, &added);
        if (rc)
            return rc;
        if (!added)
            return GATREC_EFORMAT;
    }
    return GATREC_OK;
}

int gatrec__idmap_write_keys(gatrec__buf *b, const gatrec__idmap *m)
{
    int rc = gatrec__buf_put_u64(b, m->count);
    for (size_t i = 0; i < m->count && !rc; i++)
        rc = gatrec__buf_put_str(b, gatrec__idmap_key(m, (int32_t)i) ? gatrec__idmap_key(m, (int32_t)i) : "");
    return rc;
}

int gatrec__idmap_read_keys(gatrec__reader *r, gatrec__idmap *m)
{
    uint64_t n = gatrec__read_u64(r);
    if (r->bad || n != m->count)
        return GATREC_EFORMAT;
    for (uint64_t i = 0; i < n; i++) {
        char *k = gatrec__read_str(r);
        int rc = !k ? GATREC_EFORMAT : k[0] ? gatrec__idmap_set_key(m, (int32_t)i, k) : GATREC_OK;
        free(k);
        if (rc)
            return rc == GATREC_ENOMEM ? rc : GATREC_EFORMAT;
    }
    return GATREC_OK;
}
