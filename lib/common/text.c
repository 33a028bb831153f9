/* Number parsing that reports exactly what is wrong, line iteration, field splitting, RFC 4180
 * CSV, and Latin-1 to UTF-8. Everything works on (pointer, length) so no line is copied. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* ---- numbers in the C locale, whatever the host's (files and specs travel between hosts) ---- */

static locale_t c_numeric;
static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;

static void make_c_numeric(void)
{
    c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static locale_t numeric_c(void)
{
    pthread_once(&c_numeric_once, make_c_numeric);
    return c_numeric; /* (locale_t)0 when it could not be made: the thread's locale then */
}

double gatrec__strtod(const char *s, char **end)
{
    locale_t c = numeric_c();
    return c ? strtod_l(s, end, c) : strtod(s, end);
}

float gatrec__strtof(const char *s, char **end)
{
    locale_t c = numeric_c();
    return c ? strtof_l(s, end, c) : strtof(s, end);
}

int gatrec__vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    locale_t c = numeric_c(), was = c ? uselocale(c) : (locale_t)0;
    int n = vsnprintf(buf, size, fmt, ap);
    if (c)
        uselocale(was);
    return n;
}

int gatrec__snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = gatrec__vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

int gatrec__parse_i64(const char *s, size_t n, int64_t *out)
{
    int neg = 0;
    uint64_t v = 0, limit;
    trim(&s, &n);
    if (n && (*s == '-' || *s == '+')) {
        neg = *s == '-';
        s++, n--;
    }
    if (n == 0)
        return GATREC_ENUMBER;
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return GATREC_ENUMBER;
        if (v > (limit - d) / 10) {
            /* keep scanning so that "99999999999999999999x" is reported as not a number */
            for (size_t j = i; j < n; j++)
                if ((unsigned)((unsigned char)s[j] - '0') > 9)
                    return GATREC_ENUMBER;
            return GATREC_EOVERFLOW;
        }
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return GATREC_OK;
}

int gatrec__parse_id(const char *s, size_t n, int64_t *out)
{
    int64_t v;
    int rc;
    trim(&s, &n);
    if (n && *s == '-')
        return GATREC_ENUMBER;
    rc = gatrec__parse_i64(s, n, &v);
    if (rc == GATREC_OK)
        *out = v;
    return rc;
}

int gatrec__parse_double(const char *s, size_t n, double *out)
{
    char tmp[64], *end;
    double v;
    trim(&s, &n);
    if (n == 0 || n >= sizeof tmp)
        return n == 0 ? GATREC_ENUMBER : GATREC_EOVERFLOW;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    v = gatrec__strtod(tmp, &end);
    if (end != tmp + n || !isfinite(v))
        return GATREC_ENUMBER;
    if (errno == ERANGE)
        return GATREC_EOVERFLOW;
    *out = v;
    return GATREC_OK;
}

char *gatrec__latin1_to_utf8(const char *s, size_t n)
{
    char *out = gatrec__malloc_array(n, 2), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            *p++ = (char)c;
        } else {
            *p++ = (char)(0xC0 | (c >> 6));
            *p++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *p = '\0';
    return out;
}

int gatrec__is_utf8(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        size_t len;
        if (s[i] < 0x80) {
            i++;
            continue;
        } else if ((s[i] & 0xE0) == 0xC0 && s[i] >= 0xC2) {
            len = 2;
        } else if ((s[i] & 0xF0) == 0xE0) {
            len = 3;
        } else if ((s[i] & 0xF8) == 0xF0 && s[i] <= 0xF4) {
            len = 4;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t j = 1; j < len; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
        i += len;
    }
    return 1;
}

void gatrec__lines_init(gatrec__lines *it, const char *data, size_t len)
{
    it->p = data;
    it->end = data + len;
    it->lineno = 0;
}

int gatrec__lines_next(gatrec__lines *it, const char **line, size_t *n)
{
    const char *nl;
    if (it->p >= it->end)
        return 0;
    nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    *line = it->p;
    *n = (size_t)((nl ? nl : it->end) - it->p);
    it->p = nl ? nl + 1 : it->end;
    if (*n && (*line)[*n - 1] == '\r')
        (*n)--;
    it->lineno++;
    return 1;
}

size_t gatrec__split_fields(const char *line, size_t n, const char *delim, size_t dlen,
                            const char **fields, size_t *lens, size_t max)
{
    size_t count = 0;
    const char *p = line, *end = line + n;
    for (;;) {
        const char *q = p;
        while (q + dlen <= end && memcmp(q, delim, dlen) != 0)
            q++;
        if (q + dlen > end)
            q = end;
        if (count < max) {
            fields[count] = p;
            lens[count] = (size_t)(q - p);
        }
        count++;
        if (q == end)
            break;
        p = q + dlen;
    }
    return count;
}

void gatrec__csv_init(gatrec__csv *c, const char *data, size_t len)
{
    memset(c, 0, sizeof *c);
    c->p = data;
    c->end = data + len;
    c->next_line = 1;
    c->delim = ',';
}

static int csv_end_field(gatrec__csv *c)
{
    static const char nul = '\0';
    int rc = gatrec__reserve((void **)&c->offsets, &c->cap, c->nfields + 1, sizeof *c->offsets);
    if (rc)
        return rc;
    rc = gatrec__buf_put(&c->field, &nul, 1);
    if (rc)
        return rc;
    c->nfields++;
    /* offsets[i] is where field i+1 starts: the position after field i's NUL */
    c->offsets[c->nfields - 1] = c->field.len;
    return GATREC_OK;
}

int gatrec__csv_next(gatrec__csv *c)
{
    int quoted = 0, rc;
    c->field.len = 0;
    c->nfields = 0;
    if (c->p >= c->end)
        return 0;
    c->line = c->next_line;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (quoted) {
            if (ch == '"') {
                if (c->p < c->end && *c->p == '"') {
                    c->p++;
                    rc = gatrec__buf_put(&c->field, "\"", 1);
                } else {
                    quoted = 0;
                    rc = GATREC_OK;
                }
            } else {
                if (ch == '\n')
                    c->next_line++;
                rc = gatrec__buf_put(&c->field, &ch, 1);
            }
        } else if (ch == '"' && c->field.len == (c->nfields ? c->offsets[c->nfields - 1] : 0)) {
            quoted = 1; /* a quote opens a quoted field only at its start; inside a field it is a character */
            rc = GATREC_OK;
        } else if (ch == '"') {
            rc = gatrec__buf_put(&c->field, &ch, 1);
        } else if (ch == c->delim) {
            rc = csv_end_field(c);
        } else if (ch == '\n' || ch == '\r') {
            if (ch == '\r' && c->p < c->end && *c->p == '\n')
                c->p++;
            c->next_line++;
            return csv_end_field(c) ? GATREC_ENOMEM : 1;
        } else { /* a run of plain bytes in one copy */
            const char *run = c->p - 1;
            while (c->p < c->end && *c->p != c->delim && *c->p != '"' && *c->p != '\n' && *c->p != '\r')
                c->p++;
            rc = gatrec__buf_put(&c->field, run, (size_t)(c->p - run));
        }
        if (rc)
            return rc;
    }
    if (quoted)
        return gatrec__error(GATREC_EFORMAT, "line %zu: quoted field is not closed", c->line);
    return csv_end_field(c) ? GATREC_ENOMEM : 1;
}

const char *gatrec__csv_field(const gatrec__csv *c, size_t i)
{
    if (i >= c->nfields)
        return NULL;
    return (const char *)c->field.data + (i ? c->offsets[i - 1] : 0);
}

void gatrec__csv_free(gatrec__csv *c)
{
    gatrec__buf_free(&c->field);
    free(c->offsets);
    c->offsets = NULL;
}
