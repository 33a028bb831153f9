/* (id, text) pairs from two named columns of an RFC 4180 CSV file with a header. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

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
    if (rc == 1) {
        for (size_t c = 0; c < csv.nfields; c++) {
            const char *name = gatrec__csv_field(&csv, c);
            if (c == 0 && (unsigned char)name[0] == 0xEF && (unsigned char)name[1] == 0xBB &&
                (unsigned char)name[2] == 0xBF)
                name += 3; /* UTF-8 byte order mark */
            if (strcmp(name, id_column) == 0)
                idc = c;
            if (strcmp(name, text_column) == 0)
                txc = c;
        }
        rc = GATREC_OK;
        if (idc == SIZE_MAX || txc == SIZE_MAX)
            rc = gatrec__error(GATREC_ENOTFOUND, "%s:1: no column named '%s'", path,
                               idc == SIZE_MAX ? id_column : text_column);
    } else if (rc < 0) {
        gatrec__error_context(rc, "%s", path);
    }
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
