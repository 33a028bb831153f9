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
    memset(dst, 0, sizeof *dst);
    return gatrec__idmap_from_ids(dst, src->ids, src->count);
}

void gatrec__idmap_free(gatrec__idmap *m)
{
    free(m->ids);
    free(m->slots);
    memset(m, 0, sizeof *m);
}
