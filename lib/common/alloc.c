/* Allocation that records GATREC_ENOMEM with a message, and the byte buffer used by every writer.
 * Every allocation in lib/ goes through these (test/check-layers.sh refuses a raw malloc, calloc
 * or realloc elsewhere), so that a failure always says what ran out and a test can make any one
 * of them fail (gatrec__alloc_fail_after). */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* > 0: allocations to let through before one fails (tests only; 0 = never fail) */
static atomic_long fail_after;

long gatrec__alloc_fail_after(long n)
{
    return atomic_exchange(&fail_after, n > 0 ? n : 0);
}

/* 1 when this allocation is the one a test asked to fail */
static int injected_failure(void)
{
    long n = atomic_load_explicit(&fail_after, memory_order_relaxed);
    while (n > 0)
        if (atomic_compare_exchange_weak(&fail_after, &n, n - 1))
            return n == 1;
    return 0;
}

void *gatrec__malloc(size_t size)
{
    void *p = injected_failure() ? NULL : malloc(size ? size : 1);
    if (!p)
        gatrec__error(GATREC_ENOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

void *gatrec__malloc_array(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        gatrec__error(GATREC_ENOMEM, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    return gatrec__malloc(count * size);
}

void *gatrec__calloc(size_t count, size_t size)
{
    void *p = injected_failure() ? NULL : calloc(count ? count : 1, size ? size : 1);
    if (!p)
        gatrec__error(GATREC_ENOMEM, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *gatrec__realloc_array(void *ptr, size_t count, size_t size)
{
    void *p;
    if (size && count > SIZE_MAX / size) {
        gatrec__error(GATREC_ENOMEM, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    p = injected_failure() ? NULL : realloc(ptr, count && size ? count * size : 1);
    if (!p)
        gatrec__error(GATREC_ENOMEM, "out of memory growing a buffer to %zu x %zu bytes", count, size);
    return p;
}

int gatrec__resize_rows(float **a, size_t rows, size_t width)
{
    float *p = gatrec__realloc_array(*a, rows * width + 1, sizeof *p);
    if (!p)
        return GATREC_ENOMEM;
    *a = p;
    return GATREC_OK;
}

int gatrec__reserve(void **ptr, size_t *capacity, size_t need, size_t size)
{
    size_t cap = *capacity;
    void *p;
    if (need <= cap)
        return GATREC_OK;
    if (cap < 16)
        cap = 16;
    while (cap < need) {
        if (cap > SIZE_MAX / 2 / size)
            return gatrec__error(GATREC_ENOMEM, "buffer of %zu elements is too large", need);
        cap *= 2;
    }
    if (!(p = gatrec__realloc_array(*ptr, cap, size)))
        return GATREC_ENOMEM;
    *ptr = p;
    *capacity = cap;
    return GATREC_OK;
}

char *gatrec__strndup(const char *s, size_t n)
{
    char *p = gatrec__malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *gatrec__strdup(const char *s)
{
    return gatrec__strndup(s, strlen(s));
}

int gatrec__buf_put(gatrec__buf *b, const void *data, size_t n)
{
    int rc;
    if (n == 0)
        return GATREC_OK;
    if (b->len + n < b->len)
        return gatrec__error(GATREC_ENOMEM, "buffer overflow");
    rc = gatrec__reserve((void **)&b->data, &b->cap, b->len + n, 1);
    if (rc)
        return rc;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return GATREC_OK;
}

/* Fixed-width integers are written little-endian whatever the host, so files travel. */
static int put_le(gatrec__buf *b, uint64_t v, int bytes)
{
    unsigned char x[8];
    for (int i = 0; i < bytes; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    return gatrec__buf_put(b, x, (size_t)bytes);
}

int gatrec__buf_put_u32(gatrec__buf *b, uint32_t v)
{
    return put_le(b, v, 4);
}

int gatrec__buf_put_u64(gatrec__buf *b, uint64_t v)
{
    return put_le(b, v, 8);
}

int gatrec__buf_put_str(gatrec__buf *b, const char *s)
{
    size_t n = strlen(s);
    int rc = gatrec__buf_put_u32(b, (uint32_t)n);
    return rc ? rc : gatrec__buf_put(b, s, n);
}

int gatrec__buf_printf(gatrec__buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;
    va_start(ap, fmt);
    n = gatrec__vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return gatrec__error(GATREC_ERROR, "formatting failed");
    rc = gatrec__reserve((void **)&b->data, &b->cap, b->len + (size_t)n + 1, 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    gatrec__vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return GATREC_OK;
}

void gatrec__buf_free(gatrec__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

const void *gatrec__read_bytes(gatrec__reader *r, size_t n)
{
    const unsigned char *p = r->p;
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    r->p += n;
    return p;
}

uint32_t gatrec__read_u32(gatrec__reader *r)
{
    const unsigned char *x = gatrec__read_bytes(r, 4);
    uint32_t v = 0;
    if (x)
        for (int i = 0; i < 4; i++)
            v |= (uint32_t)x[i] << (8 * i);
    return v;
}

uint64_t gatrec__read_u64(gatrec__reader *r)
{
    const unsigned char *x = gatrec__read_bytes(r, 8);
    uint64_t v = 0;
    if (x)
        for (int i = 0; i < 8; i++)
            v |= (uint64_t)x[i] << (8 * i);
    return v;
}

char *gatrec__read_str(gatrec__reader *r)
{
    uint32_t n = gatrec__read_u32(r);
    const char *s = gatrec__read_bytes(r, n);
    char *out;
    if (!s)
        return NULL;
    out = gatrec__strndup(s, n);
    if (!out)
        r->bad = 1;
    return out;
}

int gatrec__buf_put_f32s(gatrec__buf *b, const float *v, size_t n)
{
    int rc = GATREC_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        rc = gatrec__buf_put_u32(b, u);
    }
    return rc;
}

int gatrec__read_f32s(gatrec__reader *r, float *v, size_t n)
{
    if ((size_t)(r->end - r->p) / 4 < n) {
        r->bad = 1;
        return GATREC_EFORMAT;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = gatrec__read_u32(r);
        memcpy(&v[i], &u, 4);
    }
    return GATREC_OK;
}

int gatrec__buf_begin_section(gatrec__buf *b, uint32_t tag, size_t *len_at)
{
    int rc = gatrec__buf_put_u32(b, tag);
    *len_at = b->len;
    return rc ? rc : gatrec__buf_put_u64(b, 0);
}

void gatrec__buf_end_section(gatrec__buf *b, size_t len_at)
{
    uint64_t n = b->len - len_at - 8;
    for (int i = 0; i < 8; i++)
        b->data[len_at + (size_t)i] = (unsigned char)(n >> (8 * i));
}

int gatrec__read_section(gatrec__reader *r, uint32_t *tag, gatrec__reader *section)
{
    uint64_t len;
    if (r->p >= r->end)
        return 0;
    *tag = gatrec__read_u32(r);
    len = gatrec__read_u64(r);
    if (r->bad || len > (uint64_t)(r->end - r->p))
        return GATREC_EFORMAT;
    section->p = r->p;
    section->end = r->p + len;
    section->bad = 0;
    r->p += len;
    return 1;
}
