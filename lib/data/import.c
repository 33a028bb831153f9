/* An application's own interaction log, catalogue and user attributes, with string ids
 * (docs/data.md): CSV or TSV with a header, RFC 4180 quoting, UTF-8 (a byte-order mark skipped),
 * CRLF or LF. The files are read through a window of a few megabytes (a log of any length costs
 * only its dataset), and every row is checked before the dataset is handed out: the first bad row
 * stops the import with `file:line: what`. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"

#define MAX_RECORD (1u << 20) /* bytes of one record (docs/data.md) */
#define WINDOW (4u << 20)     /* bytes read at a time, beyond the record being read */

GATREC__OPTIONS_INIT_FN(gatrec_import_options_init, gatrec_import_options, GATREC_IMPORT_OPTIONS_VERSION,
                        GATREC_IMPORT_OPTIONS_INIT)

typedef struct table {
    const char *path;
    FILE *f;
    char *data;     /* the window: the csv reads [csv.p, csv.end) */
    size_t cap;
    int eof;
    gatrec__csv csv;
    size_t ncols;
    char **names;   /* the header's column names (the csv's buffer holds the current record) */
    const char *at; /* where the current record starts */
} table;

/* The delimiter of the first line: the most frequent of , TAB ; | outside quotes (',' if none). */
static char sniff(const char *p, const char *end)
{
    static const char cand[] = {',', '\t', ';', '|'};
    size_t count[4] = {0}, best = 0;
    int quoted = 0;
    for (; p < end && (quoted || (*p != '\n' && *p != '\r')); p++) {
        if (*p == '"')
            quoted = !quoted;
        for (size_t k = 0; !quoted && k < 4; k++)
            count[k] += *p == cand[k];
    }
    for (size_t k = 1; k < 4; k++)
        if (count[k] > count[best])
            best = k;
    return cand[best];
}

static void table_free(table *t)
{
    for (size_t c = 0; t->names && c < t->ncols; c++)
        free(t->names[c]);
    free(t->names);
    gatrec__csv_free(&t->csv);
    free(t->data);
    if (t->f)
        fclose(t->f);
}

/* Keep more than a whole record (MAX_RECORD bytes and a line end) ahead of the reader, so that a
 * record never runs past the window unless it is too long: the unread tail moves to the front and
 * the file fills the rest. */
static int table_fill(table *t)
{
    size_t left = (size_t)(t->csv.end - t->csv.p), got;
    if (t->eof || left > MAX_RECORD + 2)
        return GATREC_OK;
    memmove(t->data, t->csv.p, left);
    got = fread(t->data + left, 1, t->cap - left, t->f);
    if (got < t->cap - left) {
        if (ferror(t->f))
            return gatrec__error(GATREC_EIO, "%s: read error: %s", t->path, strerror(errno));
        t->eof = 1;
    }
    t->csv.p = t->data;
    t->csv.end = t->data + left + got;
    return GATREC_OK;
}

/* The next record: 1, 0 at the end, or a status. Blank lines are skipped; every record must have
 * the header's field count, valid UTF-8 and at most MAX_RECORD bytes. */
static int table_next(table *t)
{
    int rc;
    do {
        if ((rc = table_fill(t)))
            return rc;
        t->at = t->csv.p;
        rc = gatrec__csv_next(&t->csv);
        if ((size_t)(t->csv.p - t->at) > MAX_RECORD)
            return gatrec__error(GATREC_EFORMAT, "%s:%zu: a record of more than %u bytes (a quote left open?)",
                                 t->path, t->csv.line, MAX_RECORD);
        if (rc < 0)
            return gatrec__error_context(rc, "%s", t->path);
    } while (rc == 1 && t->csv.nfields == 1 && !gatrec__csv_field(&t->csv, 0)[0]);
    if (rc != 1)
        return rc;
    if (!gatrec__is_utf8((const char *)t->csv.field.data, t->csv.field.len))
        return gatrec__error(GATREC_EFORMAT, "%s:%zu: not valid UTF-8 (convert the file to UTF-8, e.g. with iconv)",
                             t->path, t->csv.line);
    if (t->ncols && t->csv.nfields != t->ncols)
        return gatrec__error(t->csv.nfields < t->ncols ? GATREC_EFIELDS : GATREC_EFORMAT,
                             "%s:%zu: %zu fields; the header has %zu", t->path, t->csv.line, t->csv.nfields, t->ncols);
    return 1;
}

static int table_open(table *t, const char *path, char delim)
{
    int rc;
    memset(t, 0, sizeof *t);
    t->path = path;
    t->cap = WINDOW + MAX_RECORD + 2;
    if ((rc = gatrec__open_read(path, &t->f)))
        return rc;
    if (!(t->data = gatrec__malloc(t->cap)))
        return GATREC_ENOMEM;
    gatrec__csv_init(&t->csv, t->data, 0);
    if ((rc = table_fill(t)))
        return rc;
    if (t->csv.end - t->csv.p >= 3 && memcmp(t->csv.p, "\xEF\xBB\xBF", 3) == 0)
        t->csv.p += 3;
    t->csv.delim = delim ? delim : sniff(t->csv.p, t->csv.end);
    if ((rc = table_next(t)) == 0)
        return gatrec__error(GATREC_EEMPTY, "%s: empty file (a header line naming the columns comes first)", path);
    if (rc < 0)
        return rc;
    if (!(t->names = gatrec__calloc(t->csv.nfields, sizeof *t->names)))
        return GATREC_ENOMEM;
    for (t->ncols = 0; t->ncols < t->csv.nfields; t->ncols++)
        if (!(t->names[t->ncols] = gatrec__strdup(gatrec__csv_field(&t->csv, t->ncols))))
            return GATREC_ENOMEM;
    return GATREC_OK;
}

/* The header's column `name` (the header is the csv's record until the first table_next) */
static int column(table *t, const char *name, const char *expected, size_t *col)
{
    return gatrec__csv_column(&t->csv, name, t->path, expected, col);
}

/* The first of `names` the header has, or SIZE_MAX */
static size_t first_of(table *t, const char *const *names)
{
    size_t col = SIZE_MAX;
    for (; *names && col == SIZE_MAX; names++)
        col = gatrec__csv_find_column(&t->csv, *names);
    return col;
}

/* The id column of a catalogue or user file: `given` (its option, --FLAG), else the events' column
 * name `events_name`, else "id" */
static int id_column(table *t, const char *given, const char *events_name, const char *flag, size_t *col)
{
    char expected[96];
    const char *const fallback[] = {events_name, "id", NULL};
    if (given) {
        snprintf(expected, sizeof expected, "the id column (%s)", flag);
        return column(t, given, expected, col);
    }
    if ((*col = first_of(t, fallback)) != SIZE_MAX)
        return GATREC_OK;
    snprintf(expected, sizeof expected, "a column '%s' or 'id' (%s)", events_name, flag);
    return column(t, events_name, expected, col);
}

static const char *field(const table *t, size_t col)
{
    return gatrec__csv_field(&t->csv, col);
}

/* Where a row or event came from, for messages: "file:line", or "arrays: event #n" */
typedef struct origin {
    const char *path;
    size_t line;
    int arrays;
} origin;

#define AT_SIZE 4200
static const char *at(const origin *w, char *buf)
{
    if (w->arrays)
        snprintf(buf, AT_SIZE, "%s: event #%zu", w->path, w->line);
    else
        snprintf(buf, AT_SIZE, "%s:%zu", w->path, w->line);
    return buf;
}

static origin row_origin(const table *t)
{
    origin w = {t->path, t->csv.line, 0};
    return w;
}

/* Key k (not empty, at most GATREC__MAX_KEY bytes) added to m */
static int key_of(const origin *w, const char *k, const char *what, gatrec__idmap *m, int32_t *index, int *added)
{
    char b[AT_SIZE];
    size_t n = strlen(k);
    if (!n)
        return gatrec__error(GATREC_EFORMAT, "%s: empty %s id", at(w, b), what);
    if (n > GATREC__MAX_KEY)
        return gatrec__error(GATREC_EOVERFLOW, "%s: a %s id of %zu bytes; at most %d are accepted", at(w, b), what, n,
                             GATREC__MAX_KEY);
    return gatrec__idmap_add_key(m, k, n, index, added);
}

/* A catalogue's or user file's row: its id, which must be new (listed once) */
static int row_key(const table *t, size_t col, const char *what, gatrec__idmap *m, int32_t *index)
{
    origin w = row_origin(t);
    int added, rc = key_of(&w, field(t, col), what, m, index, &added);
    if (!rc && !added)
        rc = gatrec__error(GATREC_EDUPLICATE, "%s:%zu: %s '%s' is listed twice", t->path, t->csv.line, what,
                           field(t, col));
    return rc;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil) */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char **p, int n, int64_t *v)
{
    *v = 0;
    for (int k = 0; k < n; k++, (*p)++) {
        if (**p < '0' || **p > '9')
            return 0;
        *v = *v * 10 + (**p - '0');
    }
    return 1;
}

/* Unix seconds (an integer, or a decimal whose fraction is dropped), or ISO 8601:
 * YYYY-MM-DD[(T| )hh:mm[:ss[.fff]]][Z|(+|-)hh[:]mm]. */
int gatrec__parse_time(const char *s, int64_t *out)
{
    int64_t y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
    const char *p = s;
    double v;
    if (!(strlen(s) >= 10 && s[4] == '-')) { /* not a date: Unix seconds */
        if (gatrec__parse_double(s, strlen(s), &v) || !(fabs(v) < 9e15))
            return GATREC_ENUMBER;
        *out = (int64_t)floor(v);
        return GATREC_OK;
    }
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &d))
        return GATREC_ENUMBER;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return GATREC_ENUMBER;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec))
                return GATREC_ENUMBER;
            if (*p == '.' || *p == ',')
                for (p++; *p >= '0' && *p <= '9'; p++)
                    ;
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1;
            if (!digits(&p, 2, &oh))
                return GATREC_ENUMBER;
            if (*p == ':')
                p++;
            if (*p && !digits(&p, 2, &om))
                return GATREC_ENUMBER;
            oh *= sign;
            om *= sign;
        }
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || oh > 14 || oh < -14 ||
        om > 59 || om < -59)
        return GATREC_ENUMBER;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - oh * 3600 - om * 60;
    return GATREC_OK;
}

/* "name: value" lines of the record's fields, but those in skip[] and empty ones */
static int record_text(const table *t, const size_t *skip, size_t nskip, char **out)
{
    gatrec__buf b = {0};
    int rc = GATREC_OK;
    *out = NULL;
    for (size_t c = 0; c < t->ncols && !rc; c++) {
        int skipped = 0;
        for (size_t k = 0; k < nskip; k++)
            skipped |= skip[k] == c;
        if (!skipped && field(t, c)[0])
            rc = gatrec__buf_printf(&b, "%s%s: %s", b.len ? "\n" : "", t->names[c], field(t, c));
    }
    if (!rc && b.len && !(*out = gatrec__strndup((const char *)b.data, b.len)))
        rc = GATREC_ENOMEM;
    gatrec__buf_free(&b);
    return rc;
}

static int read_catalogue(gatrec_dataset *ds, const gatrec_import_options *o)
{
    static const char *const titles[] = {"title", "name", NULL};
    static const char *const cats[] = {"category", "categories", "genres", "genre", NULL};
    table t;
    size_t idc, tc = SIZE_MAX, cc = SIZE_MAX;
    int rc;
    if ((rc = table_open(&t, o->items_path, o->delimiter)) ||
        (rc = id_column(&t, o->item_id_column, o->item_column, "--item-id-column", &idc)))
        goto done;
    if (o->title_column)
        rc = column(&t, o->title_column, "the title column (--title-column)", &tc);
    else
        tc = first_of(&t, titles);
    if (!rc && o->category_column)
        rc = column(&t, o->category_column, "the category column (--category-column)", &cc);
    else if (!rc)
        cc = first_of(&t, cats);
    while (!rc && (rc = table_next(&t)) == 1) {
        int32_t i;
        gatrec__item_meta *m;
        size_t skip[3] = {idc, tc, cc};
        if ((rc = row_key(&t, idc, "item", &ds->items, &i)))
            break;
        if (!(m = gatrec__dataset_item_meta(ds, i)) ||
            (tc != SIZE_MAX && field(&t, tc)[0] && !(m->title = gatrec__strdup(field(&t, tc))))) {
            rc = GATREC_ENOMEM;
            break;
        }
        if ((rc = record_text(&t, skip, 3, &m->text)))
            break;
        if (cc != SIZE_MAX) /* categories: '|'-separated, blanks trimmed; the first 64 names are genres */
            for (const char *p = field(&t, cc); *p && !rc;) {
                const char *e = strchr(p, '|'), *a = p, *z = e ? e : p + strlen(p);
                size_t g;
                while (a < z && *a == ' ')
                    a++;
                while (z > a && z[-1] == ' ')
                    z--;
                p = e ? e + 1 : z;
                if (z == a)
                    continue;
                if ((rc = gatrec__dataset_add_genre(ds, a, (size_t)(z - a), &g)) == GATREC_OK)
                    m->genres |= 1ull << g;
                else if (rc == GATREC_EOVERFLOW) { /* past 64 names: in the text only */
                    gatrec_error_clear();
                    rc = GATREC_OK;
                }
            }
    }
done:
    table_free(&t);
    return rc < 0 ? rc : GATREC_OK;
}

static int read_users(gatrec_dataset *ds, const gatrec_import_options *o)
{
    table t;
    size_t idc, ac, gc, oc;
    int rc;
    if ((rc = table_open(&t, o->users_path, o->delimiter)) ||
        (rc = id_column(&t, o->user_id_column, o->user_column, "--user-id-column", &idc)))
        goto done;
    ac = gatrec__csv_find_column(&t.csv, "age");
    gc = gatrec__csv_find_column(&t.csv, "gender");
    oc = gatrec__csv_find_column(&t.csv, "occupation");
    while (!rc && (rc = table_next(&t)) == 1) {
        int32_t u;
        int64_t age;
        gatrec__user_meta *m;
        if ((rc = row_key(&t, idc, "user", &ds->users, &u)))
            break;
        if (!(m = gatrec__dataset_user_meta(ds, u)) ||
            (oc != SIZE_MAX && field(&t, oc)[0] && !(m->occupation = gatrec__strdup(field(&t, oc))))) {
            rc = GATREC_ENOMEM;
            break;
        }
        if (ac != SIZE_MAX && gatrec__parse_i64(field(&t, ac), strlen(field(&t, ac)), &age) == 0 && age >= 0 &&
            age < 200)
            m->age = (int)age;
        if (gc != SIZE_MAX)
            snprintf(m->gender, sizeof m->gender, "%s", field(&t, gc));
        rc = record_text(&t, &idc, 1, &m->text);
    }
done:
    table_free(&t);
    return rc < 0 ? rc : GATREC_OK;
}

typedef struct events {
    const gatrec_import_options *o;
    int explicit_, policy;
    size_t uc, ic, vc, tc;
    uint32_t *line; /* GATREC_DUPLICATES_ERROR only: per rating, the line it came from */
    size_t line_cap;
    size_t missing; /* items of the events the catalogue did not list */
} events;

/* An event's value: a rating in the range (explicit) or a positive weight (implicit) */
static int check_value(const events *E, const origin *w, double x, float *v)
{
    char b[AT_SIZE];
    if (E->explicit_ ? !(x >= E->o->rating_min && x <= E->o->rating_max) : !(x > 0) || x > 1e30)
        return E->explicit_ ? gatrec__error(GATREC_ERATING, "%s: rating %g outside %g..%g (--rating-min, "
                                            "--rating-max)", at(w, b), x, E->o->rating_min, E->o->rating_max)
                            : gatrec__error(GATREC_ERATING, "%s: weight %g; a weight must be positive", at(w, b), x);
    *v = (float)x;
    return GATREC_OK;
}

/* One event, from a log's row or from arrays: its keys added, its pair appended, or combined with
 * the pair's earlier event by the duplicates policy */
static int add_event(gatrec_dataset *ds, events *E, const origin *w, const char *uk, const char *ik, float v,
                     int64_t time)
{
    char b[AT_SIZE];
    int32_t u, i;
    int added, rc;
    int64_t r;
    if ((rc = key_of(w, uk, "user", &ds->users, &u, NULL)) || (rc = key_of(w, ik, "item", &ds->items, &i, &added)))
        return rc;
    if (added && E->o->items_path)
        E->missing++;
    if (E->policy == GATREC_DUPLICATES_ERROR &&
        (rc = gatrec__reserve((void **)&E->line, &E->line_cap, ds->nratings + 1, sizeof *E->line)))
        return rc;
    if ((rc = gatrec__dataset_append(ds, u, i, v, time, &r)) == GATREC_OK) {
        if (E->line)
            E->line[ds->nratings - 1] = (uint32_t)(w->line > UINT32_MAX ? UINT32_MAX : w->line);
        return GATREC_OK;
    }
    if (rc != GATREC_EDUPLICATE)
        return gatrec__error_context(rc, "%s", at(w, b));
    switch (E->policy) { /* the pair again: rating r */
    case GATREC_DUPLICATES_ERROR:
        return gatrec__error(GATREC_EDUPLICATE, "%s: user '%s' and item '%s' again (first at %s%u; "
                             "--duplicates sum|max|last combines them)", at(w, b), uk, ik,
                             w->arrays ? "event #" : "line ", E->line[r]);
    case GATREC_DUPLICATES_SUM:
        ds->r_value[r] += v;
        break;
    case GATREC_DUPLICATES_MAX:
        ds->r_value[r] = v > ds->r_value[r] ? v : ds->r_value[r];
        break;
    default: /* LAST: by time, then by line */
        if (time >= ds->r_time[r])
            ds->r_value[r] = v;
        break;
    }
    if (time > ds->r_time[r])
        ds->r_time[r] = time;
    return GATREC_OK;
}

static int one_event(gatrec_dataset *ds, const table *t, events *E)
{
    origin w = row_origin(t);
    float v = 1.0f;
    int64_t time = 0;
    double x;
    int rc;
    if (E->vc != SIZE_MAX) {
        const char *f = field(t, E->vc);
        if (gatrec__parse_double(f, strlen(f), &x))
            return gatrec__error(GATREC_ENUMBER, "%s:%zu: %s '%.40s' is not a number", t->path, t->csv.line,
                                 E->explicit_ ? "rating" : "weight", f);
        if ((rc = check_value(E, &w, x, &v)))
            return rc;
    }
    if (E->tc != SIZE_MAX && gatrec__parse_time(field(t, E->tc), &time))
        return gatrec__error(GATREC_ENUMBER, "%s:%zu: time '%.40s' is neither Unix seconds nor ISO 8601 "
                             "(2024-05-01T12:30:00Z)", t->path, t->csv.line, field(t, E->tc));
    return add_event(ds, E, &w, field(t, E->uc), field(t, E->ic), v, time);
}

static int read_events(gatrec_dataset *ds, const char *path, events *E)
{
    static const char *const times[] = {"time", "timestamp", NULL};
    const gatrec_import_options *o = E->o;
    table t;
    int rc;
    if ((rc = table_open(&t, path, o->delimiter)))
        goto done;
    if ((rc = column(&t, o->user_column, "the user id column (--user-column)", &E->uc)) ||
        (rc = column(&t, o->item_column, "the item id column (--item-column)", &E->ic)))
        goto done;
    E->vc = SIZE_MAX;
    if (o->rating_column)
        rc = column(&t, o->rating_column, "the rating column (--rating-column)", &E->vc);
    else if (o->weight_column)
        rc = column(&t, o->weight_column, "the weight column (--weight-column)", &E->vc);
    if (!rc && o->time_column)
        rc = column(&t, o->time_column, "the time column (--time-column)", &E->tc);
    else
        E->tc = first_of(&t, times);
    if (!rc && E->uc == E->ic)
        rc = gatrec__error(GATREC_EINVAL, "%s: the user and item columns are both '%s'", path, o->user_column);
    while (!rc && (rc = table_next(&t)) == 1)
        rc = one_event(ds, &t, E);
    if (!rc && !ds->nratings)
        rc = gatrec__error(GATREC_EEMPTY, "%s: a header and no events", path);
done:
    table_free(&t);
    return rc;
}

static const char *stem(const char *path, char *buf, size_t size)
{
    const char *s = strrchr(path, '/'), *dot;
    s = s ? s + 1 : path;
    snprintf(buf, size, "%s", s);
    if ((dot = strrchr(buf, '.')) && dot != buf)
        buf[dot - buf] = '\0';
    return buf;
}

/* Thresholds: explicit ratings - a quarter and three quarters of the way up the range unless
 * given; implicit events - every one liked (the smallest weight), none disliked. */
static int semantics(gatrec_dataset *ds, const events *E)
{
    const gatrec_import_options *o = E->o;
    if (E->explicit_) {
        double span = o->rating_max - o->rating_min;
        ds->liked = (float)(o->liked_threshold != 0 ? o->liked_threshold : o->rating_min + 0.75 * span);
        ds->disliked = (float)(o->rating_min + 0.25 * span);
        if (!(ds->disliked < ds->liked))
            ds->disliked = ds->liked - 1.0f;
    } else {
        float lo = ds->r_value[0];
        for (size_t r = 1; r < ds->nratings; r++)
            lo = ds->r_value[r] < lo ? ds->r_value[r] : lo;
        ds->liked = lo;
        ds->disliked = lo - 1.0f;
        ds->implicit = 1;
    }
    return (ds->domain = gatrec__strdup(o->domain ? o->domain : "items")) ? GATREC_OK : GATREC_ENOMEM;
}

/* The caller's options read into *o and checked; E set up for them. `log`: the columns matter */
static int read_options(const gatrec_import_options *opts, gatrec_import_options *o, events *E, int log)
{
    gatrec_import_options_init(o, GATREC_IMPORT_OPTIONS_VERSION);
    if (opts) {
        int rc = GATREC__READ_VERSIONED(o, opts, gatrec_import_options);
        if (rc)
            return rc;
    }
    if (o->delimiter && !strchr(",\t;|", o->delimiter))
        return gatrec__error(GATREC_EINVAL, "import options: the delimiter must be ',', TAB, ';' or '|'");
    if (log && (!o->user_column || !o->item_column))
        return gatrec__error(GATREC_EINVAL, "import options: the user and item columns must be named");
    if (o->rating_column && o->weight_column)
        return gatrec__error(GATREC_EINVAL, "import options: a rating column (explicit) or a weight column "
                             "(implicit), not both");
    if (o->rating_column && !(o->rating_min < o->rating_max && isfinite(o->rating_min) && isfinite(o->rating_max)))
        return gatrec__error(GATREC_EINVAL, "import options: the rating range %g..%g is empty", o->rating_min,
                             o->rating_max);
    if (o->rating_column && o->liked_threshold != 0 &&
        !(o->liked_threshold > o->rating_min && o->liked_threshold <= o->rating_max))
        return gatrec__error(GATREC_EINVAL, "import options: the liked threshold %g must lie in the rating range "
                             "above %g", o->liked_threshold, o->rating_min);
    if (o->duplicates < GATREC_DUPLICATES_DEFAULT || o->duplicates > GATREC_DUPLICATES_ERROR ||
        (o->rating_column && o->duplicates == GATREC_DUPLICATES_SUM))
        return gatrec__error(GATREC_EINVAL, "import options: duplicates policy %d%s", o->duplicates,
                             o->rating_column ? " (ratings cannot be summed: max, last or error)" : "");
    if (o->domain && (!o->domain[0] || strlen(o->domain) > 40))
        return gatrec__error(GATREC_EINVAL, "import options: the domain is a noun of 1 to 40 bytes ('books')");
    memset(E, 0, sizeof *E);
    E->o = o;
    E->explicit_ = o->rating_column != NULL;
    E->policy = o->duplicates ? o->duplicates : E->explicit_ ? GATREC_DUPLICATES_LAST : GATREC_DUPLICATES_SUM;
    return GATREC_OK;
}

GATREC_API int gatrec_dataset_import(const char *events_path, const gatrec_import_options *opts, gatrec_dataset **out,
                                     size_t *missing_items)
{
    gatrec_import_options o;
    gatrec_dataset *ds;
    events E;
    char name[256];
    int rc;
    if (!events_path || !out)
        return gatrec__error(GATREC_EINVAL, "gatrec_dataset_import: NULL argument");
    if ((rc = read_options(opts, &o, &E, 1)))
        return rc;
    if ((rc = gatrec__dataset_new(o.name ? o.name : stem(events_path, name, sizeof name), &ds)))
        return rc;
    if (o.items_path)
        rc = read_catalogue(ds, &o);
    if (!rc && o.users_path)
        rc = read_users(ds, &o);
    if (!rc)
        rc = read_events(ds, events_path, &E);
    if (!rc)
        rc = semantics(ds, &E);
    free(E.line);
    if (!rc && missing_items)
        *missing_items = E.missing;
    return gatrec__dataset_complete(ds, rc, out);
}

GATREC_API int gatrec_dataset_from_key_arrays(size_t n, const char *const *user_keys, const char *const *item_keys,
                                              const float *values, const int64_t *timestamps,
                                              const gatrec_import_options *opts, gatrec_dataset **out)
{
    gatrec_import_options o;
    gatrec_dataset *ds;
    events E;
    int rc;
    if (!out || (n && (!user_keys || !item_keys)))
        return gatrec__error(GATREC_EINVAL, "gatrec_dataset_from_key_arrays: NULL argument");
    *out = NULL;
    if ((rc = read_options(opts, &o, &E, 0)))
        return rc;
    if (!n)
        return gatrec__error(GATREC_EEMPTY, "arrays: no events");
    if (o.items_path || o.users_path)
        return gatrec__error(GATREC_EINVAL, "gatrec_dataset_from_key_arrays: a catalogue or user file is read by "
                             "gatrec_dataset_import()");
    if ((rc = gatrec__dataset_new(o.name ? o.name : "arrays", &ds)))
        return rc;
    if ((rc = gatrec__dataset_reserve(ds, n)))
        goto done;
    for (size_t k = 0; k < n && !rc; k++) {
        origin w = {"arrays", k + 1, 1};
        char b[AT_SIZE];
        float v = 1.0f;
        if (!user_keys[k] || !item_keys[k])
            rc = gatrec__error(GATREC_EINVAL, "%s: a NULL %s id", at(&w, b), user_keys[k] ? "item" : "user");
        else if (!gatrec__is_utf8(user_keys[k], strlen(user_keys[k])) ||
                 !gatrec__is_utf8(item_keys[k], strlen(item_keys[k])))
            rc = gatrec__error(GATREC_EFORMAT, "%s: an id that is not valid UTF-8", at(&w, b));
        else if (!values || !(rc = check_value(&E, &w, values[k], &v)))
            rc = add_event(ds, &E, &w, user_keys[k], item_keys[k], v, timestamps ? timestamps[k] : 0);
    }
    if (!rc)
        rc = semantics(ds, &E);
done:
    free(E.line);
    return gatrec__dataset_complete(ds, rc, out);
}
