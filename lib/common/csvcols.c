/* Named columns of an RFC 4180 CSV file with a header, and (id, text) pairs from two of them. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

/* A header field without a UTF-8 byte order mark */
static const char *header_field(const gatrec__csv *csv, size_t c)
{
    const char *f = gatrec__csv_field(csv, c);
    if (c == 0 && (unsigned char)f[0] == 0xEF && (unsigned char)f[1] == 0xBB && (unsigned char)f[2] == 0xBF)
        f += 3;
    return f;
}

/* Is f `name` with blanks around it? */
static int padded(const char *f, const char *name)
{
    size_t n = strlen(name);
    while (*f == ' ' || *f == '\t')
        f++;
    if (strncmp(f, name, n) != 0)
        return 0;
    for (f += n; *f == ' ' || *f == '\t'; f++)
        ;
    return *f == '\0';
}

size_t gatrec__csv_find_column(const gatrec__csv *csv, const char *name)
{
    for (size_t c = 0; c < csv->nfields; c++)
        if (strcmp(header_field(csv, c), name) == 0)
            return c;
    return SIZE_MAX;
}

int gatrec__csv_column(const gatrec__csv *csv, const char *name, const char *path, const char *expected, size_t *col)
{
    gatrec__buf seen = {0}, hint = {0};
    int rc;
    if ((*col = gatrec__csv_find_column(csv, name)) != SIZE_MAX)
        return GATREC_OK;
    for (size_t c = 0; c < csv->nfields; c++) { /* what the header holds, and why it does not match */
        const char *f = header_field(csv, c);
        if (c < 8)
            gatrec__buf_printf(&seen, "%s'%.40s'", c ? ", " : "", f);
        if (!hint.len && strcasecmp(f, name) == 0)
            gatrec__buf_printf(&hint, ": column %zu is '%s' (names are case-sensitive)", c + 1, f);
        else if (!hint.len && padded(f, name))
            gatrec__buf_printf(&hint, ": column %zu is '%s' (no blanks around the names, as after a comma)", c + 1, f);
    }
    if (csv->nfields > 8)
        gatrec__buf_printf(&seen, " and %zu more", csv->nfields - 8);
    if (!hint.len && csv->nfields == 1) {
        const char *f = header_field(csv, 0), *d = strchr(f, ';') ? ";" : strchr(f, '\t') ? "a tab" : strchr(f, '|') ? "|" : NULL;
        if (d)
            gatrec__buf_printf(&hint, ": the header is one field, separated by %s%s%s - this reader takes commas",
                               d[1] ? "" : "'", d, d[1] ? "" : "'");
    }
    gatrec__buf_put(&seen, "", 1);
    gatrec__buf_put(&hint, "", 1);
    rc = gatrec__error(GATREC_ENOTFOUND, "%s:1: no column named '%s'%s (the header's columns: %s%s%s)", path, name,
                       hint.data ? (const char *)hint.data : "", seen.data ? (const char *)seen.data : "",
                       expected ? "; expected " : "", expected ? expected : "");
    gatrec__buf_free(&seen);
    gatrec__buf_free(&hint);
    return rc;
}

int gatrec__csv_id_text(const char *path, const char *id_column, const char *text_column,
                        int (*fn)(void *ctx, int64_t id, const char *text, size_t line), void *ctx)
{
    char *data;
    size_t len, idc = SIZE_MAX, txc = SIZE_MAX;
    gatrec__csv csv;
    int rc;
    if ((rc = gatrec__read_file(path, &data, &len)))
        return rc;
    gatrec__csv_init(&csv, data, len);
    rc = gatrec__csv_next(&csv);
    if (rc == 0)
        rc = gatrec__error(GATREC_EEMPTY, "%s: empty file", path);
    if (rc < 0)
        gatrec__error_context(rc, "%s", path);
    else if (rc == 1 && !(rc = gatrec__csv_column(&csv, id_column, path, NULL, &idc)))
        rc = gatrec__csv_column(&csv, text_column, path, NULL, &txc);
    while (!rc && (rc = gatrec__csv_next(&csv)) == 1) {
        const char *idf, *text;
        int64_t id;
        rc = GATREC_OK;
        if (csv.nfields == 1 && gatrec__csv_field(&csv, 0)[0] == '\0')
            continue; /* blank line */
        if (csv.nfields <= idc || csv.nfields <= txc) {
            rc = gatrec__error(GATREC_EFIELDS, "%s:%zu: %zu fields, expected at least %zu", path, csv.line, csv.nfields,
                               (idc > txc ? idc : txc) + 1);
            break;
        }
        idf = gatrec__csv_field(&csv, idc);
        text = gatrec__csv_field(&csv, txc);
        if ((rc = gatrec__parse_id(idf, strlen(idf), &id))) {
            gatrec__error(rc, "%s:%zu: id '%.40s' is not a non-negative integer", path, csv.line, idf);
            break;
        }
        if (!gatrec__is_utf8(text, strlen(text))) {
            rc = gatrec__error(GATREC_EFORMAT, "%s:%zu: text is not valid UTF-8", path, csv.line);
            break;
        }
        rc = fn(ctx, id, text, csv.line);
    }
    if (rc == GATREC_EFORMAT && !strstr(gatrec_last_error(), path))
        gatrec__error_context(rc, "%s", path); /* the CSV reader's own message has no file name */
    gatrec__csv_free(&csv);
    free(data);
    return rc < 0 ? rc : GATREC_OK;
}
