/* Loaders: MovieLens 100K and 1M layouts built here, the generic delimited file, item texts,
 * and every kind of bad input with its own status and file:line. */
#include <unistd.h>

#include "check_util.h"

static const char *ML100K_GENRE = "unknown|0\nAction|1\nComedy|2\n\n";
/* Latin-1 title on item 2 (0xE9), empty release date on item 3 */
static const char *ML100K_ITEM = "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
                                 "2|Caf\xe9 Society (1995)|01-Jan-1996||http://x|0|1|1\n"
                                 "3|Heat (1995)|||http://x|0|1|0\n";
static const char *ML100K_USER = "1|24|M|technician|85711\n2|53|F|other|94043\n";
static const char *ML100K_DATA = "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t881250951\n2\t3\t1\t881250952\n";

static char *make_ml100k(void)
{
    char *dir = make_temp_dir();
    free(write_file(dir, "u.genre", ML100K_GENRE, 0));
    free(write_file(dir, "u.item", ML100K_ITEM, 0));
    free(write_file(dir, "u.user", ML100K_USER, 0));
    free(write_file(dir, "u.data", ML100K_DATA, 0));
    return dir;
}

/* The fingerprint: the same ratings agree, any change of a user, item, star or time differs (issue 24, item 7) */
START_TEST(test_dataset_fingerprint)
{
    int64_t u[3] = {1, 1, 2}, i[3] = {10, 11, 10}, t[3] = {5, 6, 7};
    float r[3] = {5, 3, 4};
    char a[65], b[65];
    gatrec_dataset *x, *y;
    ck_assert_ok(gatrec_dataset_from_arrays(3, u, i, r, t, &x));
    ck_assert_ok(gatrec_dataset_from_arrays(3, u, i, r, t, &y));
    ck_assert_ok(gatrec_dataset_fingerprint(x, a));
    ck_assert_ok(gatrec_dataset_fingerprint(y, b));
    ck_assert_str_eq(a, b);
    ck_assert_uint_eq(strlen(a), 64);
    ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 64);
    gatrec_dataset_free(y);
    for (int k = 0; k < 4; k++) {
        int64_t u2[3] = {1, 1, 2}, i2[3] = {10, 11, 10}, t2[3] = {5, 6, 7};
        float r2[3] = {5, 3, 4};
        if (k == 0)
            u2[2] = 3;
        if (k == 1)
            i2[1] = 12;
        if (k == 2)
            r2[0] = 4;
        if (k == 3)
            t2[1] = 9;
        ck_assert_ok(gatrec_dataset_from_arrays(3, u2, i2, r2, t2, &y));
        ck_assert_ok(gatrec_dataset_fingerprint(y, b));
        ck_assert_msg(strcmp(a, b) != 0, "change %d kept the fingerprint", k);
        gatrec_dataset_free(y);
    }
    ck_assert_int_eq(gatrec_dataset_fingerprint(NULL, b), GATREC_EINVAL);
    ck_assert_int_eq(gatrec_dataset_fingerprint(x, NULL), GATREC_EINVAL);
    gatrec_dataset_free(x);
}
END_TEST

START_TEST(test_ml100k_layout)
{
    char *dir = make_ml100k();
    gatrec_dataset *ds;
    int32_t i2, u2;
    ck_assert_ok(gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, &ds));
    ck_assert_str_eq(gatrec_dataset_name(ds), "ml-100k");
    ck_assert_uint_eq(gatrec_dataset_num_ratings(ds), 4);
    ck_assert_uint_eq(gatrec_dataset_num_users(ds), 2);
    ck_assert_uint_eq(gatrec_dataset_num_items(ds), 3);
    ck_assert_uint_eq(gatrec_dataset_num_genres(ds), 3);
    ck_assert_str_eq(gatrec_dataset_genre_name(ds, 2), "Comedy");
    ck_assert_ok(gatrec_dataset_item_index(ds, 2, &i2));
    ck_assert_str_eq(gatrec_dataset_item_title(ds, i2), "Caf\xc3\xa9 Society (1995)");
    ck_assert_int_eq(gatrec_dataset_item_year(ds, i2), 1996); /* release date wins over the title */
    ck_assert_int_eq(gatrec_dataset_item_has_genre(ds, i2, 1), 1);
    ck_assert_int_eq(gatrec_dataset_item_has_genre(ds, i2, 0), 0);
    ck_assert_int_eq(gatrec_dataset_item_year(ds, 2), 1995); /* no release date: from the title */
    ck_assert_int_eq(gatrec_dataset_item_id(ds, i2), 2);
    ck_assert_int_eq(gatrec_dataset_item_id(ds, 99), -1);
    ck_assert_ok(gatrec_dataset_user_index(ds, 2, &u2));
    ck_assert_int_eq(gatrec_dataset_user_age(ds, u2), 53);
    ck_assert_str_eq(gatrec_dataset_user_gender(ds, u2), "F");
    ck_assert_str_eq(gatrec_dataset_user_occupation(ds, u2), "other");
    ck_assert_status(gatrec_dataset_user_index(ds, 77, &u2), GATREC_ENOTFOUND);
    {
        int32_t u, i;
        float r;
        int64_t t;
        ck_assert_ok(gatrec_dataset_rating(ds, 3, &u, &i, &r, &t));
        ck_assert_int_eq(gatrec_dataset_user_id(ds, u), 2);
        ck_assert_int_eq(gatrec_dataset_item_id(ds, i), 3);
        ck_assert_float_eq(r, 1.0f);
        ck_assert_int_eq(t, 881250952);
        ck_assert_status(gatrec_dataset_rating(ds, 4, &u, &i, &r, &t), GATREC_EINVAL);
    }
    gatrec_dataset_free(ds);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_ml100k_missing_file)
{
    char *dir = make_ml100k(), *p;
    gatrec_dataset *ds = NULL;
    p = malloc(strlen(dir) + 10);
    sprintf(p, "%s/u.user", dir);
    ck_assert_int_eq(remove(p), 0);
    ck_assert_status(gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_100K, &ds), GATREC_ENOENT);
    ck_assert_error_mentions("u.user");
    ck_assert_ptr_null(ds);
    ck_assert_status(gatrec_dataset_load_movielens("/nonexistent-dir", GATREC_MOVIELENS_AUTO, &ds), GATREC_ENOENT);
    free(p);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* MovieLens's own files are held to their format (issue 14, point 13): four fields, whole stars,
 * users and items from u.user and u.item; a field in a message is shown without raw Latin-1. */
START_TEST(test_ml100k_strict)
{
    static const struct {
        const char *data;
        int status;
        const char *mention;
    } cases[] = {
        {"1\t1\t5\t881250949\n9\t1\t4\t881250951\n", GATREC_ENOTFOUND, "u.data:2: user 9 is not in the dataset's user file"},
        {"1\t1\t5\t881250949\n1\t7\t4\t881250951\n", GATREC_ENOTFOUND, "u.data:2: item 7 is not in the dataset's item file"},
        {"1\t1\t4.5\t881250949\n", GATREC_ERATING, "u.data:1: rating 4.5 is not a whole number of stars"},
        {"1\t1\t5\t881250949\textra\n", GATREC_EFIELDS, "u.data:1: 5 fields, expected exactly 4"},
        {"1\t1\tf\xe9\t881250949\n", GATREC_ENUMBER, "rating 'f\\xe9' is not a number"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char *dir = make_ml100k();
        gatrec_dataset *ds = NULL;
        free(write_file(dir, "u.data", cases[k].data, 0));
        ck_assert_status(gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_100K, &ds), cases[k].status);
        ck_assert_error_mentions(cases[k].mention);
        ck_assert_ptr_null(ds);
        rm_tree(dir);
        free(dir);
    }
}
END_TEST

START_TEST(test_ml1m_layout)
{
    char *dir = make_temp_dir();
    gatrec_dataset *ds;
    int32_t i;
    free(write_file(dir, "movies.dat", "1::Toy Story (1995)::Animation|Children's|Comedy\n"
                                       "2::Jumanji (1995)::Adventure|Children's|Fantasy\n"
                                       "3::Am\xe9lie (2001)::Comedy|Romance\n", 0));
    free(write_file(dir, "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n", 0));
    free(write_file(dir, "ratings.dat", "1::1::5::978300760\n1::3::3::978302109\n2::1::4::978301968\n", 0));
    ck_assert_ok(gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, &ds));
    ck_assert_str_eq(gatrec_dataset_name(ds), "ml-1m");
    ck_assert_uint_eq(gatrec_dataset_num_ratings(ds), 3);
    ck_assert_uint_eq(gatrec_dataset_num_items(ds), 3); /* listed items count even when unrated */
    ck_assert_uint_eq(gatrec_dataset_num_genres(ds), 6);
    ck_assert_ok(gatrec_dataset_item_index(ds, 3, &i));
    ck_assert_str_eq(gatrec_dataset_item_title(ds, i), "Am\xc3\xa9lie (2001)");
    ck_assert_int_eq(gatrec_dataset_item_year(ds, i), 2001);
    ck_assert_str_eq(gatrec_dataset_user_occupation(ds, 1), "self-employed");
    ck_assert_int_eq(gatrec_dataset_user_age(ds, 1), 56);
    gatrec_dataset_free(ds);
    {
        char *ratings = write_file(dir, "ratings.dat", "", 0);
        ck_assert_int_eq(remove(ratings), 0);
        free(ratings);
    }
    ck_assert_status(gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_1M, &ds), GATREC_ENOENT);
    ck_assert_error_mentions("ratings.dat");
    rm_tree(dir);
    free(dir);
}
END_TEST

/* One bad line per case: the status and the line number in the message. */
static const struct bad_case {
    const char *text;
    int status;
    const char *mention;
} bad_cases[] = {
    {"", GATREC_EEMPTY, "no ratings"},
    {"\n\n", GATREC_EEMPTY, "no ratings"},
    {"1\t2\t5\n1\t3\n", GATREC_EFIELDS, ":2:"},
    {"1\t2\t5\nx\t3\t4\n", GATREC_ENUMBER, ":2: user id 'x'"},
    {"1\t2\t5\n1\t3\tfour\n", GATREC_ENUMBER, ":2: rating 'four'"},
    {"1\t2\t5\n1\t3\t6\n", GATREC_ERATING, ":2: rating 6"},
    {"1\t2\t5\n1\t3\t0\n", GATREC_ERATING, ":2:"},
    {"1\t2\t5\n1\t3\t4\n1\t2\t1\n", GATREC_EDUPLICATE, ":3: user 1 rated item 2 twice"},
    {"1\t99999999999999999999\t5\n", GATREC_EOVERFLOW, ":1: item id"},
    {"1\t-2\t5\n", GATREC_ENUMBER, ":1: item id"},
    {"1\t2\t5\t12x\n", GATREC_ENUMBER, "timestamp"},
};

/* u.data read with the CSV defaults: the message says the line is tab-separated (issue 14, point 20) */
START_TEST(test_delimiter_hint)
{
    char *dir = make_temp_dir(), *path = write_file(dir, "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n", 0);
    gatrec_delimited_options o = GATREC_DELIMITED_OPTIONS_INIT;
    gatrec_dataset *ds = NULL;
    ck_assert_status(gatrec_dataset_load_delimited(path, &o, &ds), GATREC_EFIELDS);
    ck_assert_error_mentions("u.data:2: 1 field, expected at least 3 (the delimiter is ',', but the line is separated "
                             "by a tab");
    free(path);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_delimited_bad_input)
{
    const struct bad_case *c = &bad_cases[_i];
    char *dir = make_temp_dir(), *path = write_file(dir, "r.tsv", c->text, 0);
    gatrec_delimited_options o;
    gatrec_dataset *ds = NULL;
    ck_assert_ok(gatrec_delimited_options_init(&o, GATREC_DELIMITED_OPTIONS_VERSION));
    o.delimiter = "\t";
    o.header = 0;
    o.timestamp_column = strstr(c->text, "12x") ? 3 : -1;
    ck_assert_status(gatrec_dataset_load_delimited(path, &o, &ds), c->status);
    ck_assert_ptr_null(ds);
    ck_assert_error_mentions(c->mention);
    ck_assert_error_mentions("r.tsv");
    free(path);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_delimited_crlf_header_columns)
{
    char *dir = make_temp_dir();
    char *path = write_file(dir, "r.csv", "ts,item,user,score\r\n100,20,1,4.5\r\n101,21,1,2\r\n\r\n102,20,2,3\r\n", 0);
    gatrec_delimited_options o = GATREC_DELIMITED_OPTIONS_INIT;
    gatrec_dataset *ds;
    float r;
    int64_t t;
    o.user_column = 2;
    o.item_column = 1;
    o.rating_column = 3;
    o.timestamp_column = 0;
    ck_assert_ok(gatrec_dataset_load_delimited(path, &o, &ds));
    ck_assert_uint_eq(gatrec_dataset_num_ratings(ds), 3);
    ck_assert_uint_eq(gatrec_dataset_num_users(ds), 2);
    ck_assert_ok(gatrec_dataset_rating(ds, 0, NULL, NULL, &r, &t));
    ck_assert_float_eq(r, 4.5f);
    ck_assert_int_eq(t, 100);
    ck_assert_str_eq(gatrec_dataset_name(ds), "r.csv");
    gatrec_dataset_free(ds);
    o.version = 99;
    ck_assert_status(gatrec_dataset_load_delimited(path, &o, &ds), GATREC_EINVAL);
    free(path);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_implicit_and_multichar_delimiter)
{
    char *dir = make_temp_dir(), *path = write_file(dir, "r.dat", "5::7\n5::8\n6::7\n", 0);
    gatrec_delimited_options o = GATREC_DELIMITED_OPTIONS_INIT;
    gatrec_dataset *ds;
    float r;
    o.delimiter = "::";
    o.header = 0;
    o.rating_column = -1;
    ck_assert_ok(gatrec_dataset_load_delimited(path, &o, &ds));
    ck_assert_uint_eq(gatrec_dataset_num_ratings(ds), 3);
    ck_assert_ok(gatrec_dataset_rating(ds, 2, NULL, NULL, &r, NULL));
    ck_assert_float_eq(r, 1.0f);
    gatrec_dataset_free(ds);
    free(path);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_item_texts_csv)
{
    char *dir = make_ml100k(), *csv;
    gatrec_dataset *ds;
    size_t matched = 0;
    int32_t i1;
    csv = write_file(dir, "overviews.csv",
                     "\xef\xbb\xbfmovie_id,title,overview\n"
                     "1,Toy Story,\"Woody, a \"\"cowboy\"\" doll,\nmeets Buzz.\"\n"
                     "999,Unknown,\"not in the dataset\"\n"
                     "3,Heat,\n",
                     0);
    ck_assert_ok(gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_100K, &ds));
    ck_assert_ok(gatrec_dataset_load_item_texts(ds, csv, "movie_id", "overview", &matched));
    ck_assert_uint_eq(matched, 1);
    ck_assert_ok(gatrec_dataset_item_index(ds, 1, &i1));
    ck_assert_str_eq(gatrec_dataset_item_text(ds, i1), "Woody, a \"cowboy\" doll,\nmeets Buzz.");
    ck_assert_ptr_null(gatrec_dataset_item_text(ds, 2));
    ck_assert_status(gatrec_dataset_load_item_texts(ds, csv, "movie_id", "plot", NULL), GATREC_ENOTFOUND);
    ck_assert_error_mentions("plot");
    free(csv);
    csv = write_file(dir, "bad.csv", "movie_id,overview\n1,\"never closed\n", 0);
    ck_assert_status(gatrec_dataset_load_item_texts(ds, csv, "movie_id", "overview", NULL), GATREC_EFORMAT);
    ck_assert_error_mentions("bad.csv");
    free(csv);
    gatrec_dataset_free(ds);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_from_arrays)
{
    int64_t users[] = {10, 10, 20}, items[] = {1, 2, 1}, ts[] = {5, 6, 7};
    float ratings[] = {5, 3, 4};
    gatrec_dataset *ds;
    ck_assert_ok(gatrec_dataset_from_arrays(3, users, items, ratings, ts, &ds));
    ck_assert_uint_eq(gatrec_dataset_num_users(ds), 2);
    ck_assert_int_eq(gatrec_dataset_user_id(ds, 1), 20);
    gatrec_dataset_free(ds);
    items[2] = 2;
    users[2] = 10;
    ck_assert_status(gatrec_dataset_from_arrays(3, users, items, ratings, ts, &ds), GATREC_EDUPLICATE);
    users[2] = -1;
    ck_assert_status(gatrec_dataset_from_arrays(3, users, items, ratings, ts, &ds), GATREC_ENUMBER);
    ck_assert_status(gatrec_dataset_from_arrays(3, NULL, items, ratings, ts, &ds), GATREC_EINVAL);
    gatrec_dataset_free(NULL);
}
END_TEST


/* ---- gatrec data import: an application's own log (issue 23) ---- */
int gatrec__parse_time(const char *s, int64_t *out); /* lib/data/dataset.h */

START_TEST(test_import_string_ids_quoting)
{
    char *dir = make_temp_dir(), *ev, *cat, *out;
    gatrec_import_options o;
    gatrec_dataset *ds = NULL, *back = NULL;
    size_t missing = 9;
    int32_t u, i, ru, ri;
    float r, liked, disliked;
    int64_t t;
    int implicit;
    const char *domain;
    /* a BOM, CRLF, a quoted id with a comma and doubled quotes, non-ASCII UTF-8, ISO and Unix times */
    ev = write_file(dir, "ev.csv",
                    "\xEF\xBB\xBFuser,item,rating,time\r\n"
                    "\"sku, \"\"a\"\"\",item 1,5,2024-05-01T12:00:00Z\r\n"
                    "\xC3\xBC-user,item-2,1,1714567200\r\n"
                    "\xC3\xBC-user,item 1,4,2024-05-02\r\n"
                    "\r\n"
                    "\"sku, \"\"a\"\"\",item-2,3,1714567300\r\n"
                    "\xC3\xBC-user,item-2,2,2024-05-01T00:00:00+02:00\r\n", 0);
    cat = write_file(dir, "cat.tsv", "item\ttitle\tdescription\tgenres\nitem 1\tThe First\tA \"long\" text\tDrama|Comedy\n"
                                     "item-3\tThird\tx\tDrama\n", 0);
    ck_assert_ok(gatrec_import_options_init(&o, GATREC_IMPORT_OPTIONS_VERSION));
    o.rating_column = "rating";
    o.items_path = cat;
    o.domain = "books";
    ck_assert_ok(gatrec_dataset_import(ev, &o, &ds, &missing));
    ck_assert_uint_eq(missing, 1);                       /* item-2: not in the catalogue, kept */
    ck_assert_uint_eq(gatrec_dataset_num_items(ds), 3);  /* the catalogue's order first */
    ck_assert_uint_eq(gatrec_dataset_num_users(ds), 2);
    ck_assert_uint_eq(gatrec_dataset_num_ratings(ds), 4); /* a repeated pair: the latest (LAST) */
    ck_assert_str_eq(gatrec_dataset_item_key(ds, 0), "item 1");
    ck_assert_str_eq(gatrec_dataset_item_key(ds, 1), "item-3");
    ck_assert_str_eq(gatrec_dataset_user_key(ds, 0), "sku, \"a\"");
    ck_assert_str_eq(gatrec_dataset_user_key(ds, 1), "\xC3\xBC-user");
    ck_assert_str_eq(gatrec_dataset_item_title(ds, 0), "The First");
    ck_assert_ptr_nonnull(strstr(gatrec_dataset_item_text(ds, 0), "description: A \"long\" text"));
    ck_assert_uint_eq(gatrec_dataset_num_genres(ds), 2);
    ck_assert_ok(gatrec_dataset_find_user(ds, "\xC3\xBC-user", &u));
    ck_assert_ok(gatrec_dataset_find_item(ds, "item-2", &i));
    ck_assert_status(gatrec_dataset_find_item(ds, "item-9", &i), GATREC_ENOTFOUND);
    ck_assert_ok(gatrec_dataset_find_item(ds, "item-2", &i));
    for (size_t k = 0; k < gatrec_dataset_num_ratings(ds); k++) {
        ck_assert_ok(gatrec_dataset_rating(ds, k, &ru, &ri, &r, &t));
        if (ru == u && ri == i) { /* 1 at 1714567200, then 2 at 2024-05-01T00:00+02:00 = 1714514400: the first is later */
            ck_assert_float_eq(r, 1.0f);
            ck_assert_int_eq(t, 1714567200);
        }
        if (ru == 0 && ri == 0)
            ck_assert_int_eq(t, 1714564800); /* 2024-05-01T12:00:00Z */
    }
    ck_assert_ok(gatrec_dataset_semantics(ds, &liked, &disliked, &implicit, &domain));
    ck_assert_float_eq(liked, 4.0f);
    ck_assert_float_eq(disliked, 2.0f);
    ck_assert_int_eq(implicit, 0);
    ck_assert_str_eq(domain, "books");
    /* saved and loaded: the same data, keys and fingerprint */
    out = malloc(strlen(dir) + 8);
    sprintf(out, "%s/saved", dir);
    ck_assert_ok(gatrec_dataset_save(ds, out));
    ck_assert_ok(gatrec_dataset_load(out, &back));
    {
        char a[65], b[65];
        ck_assert_ok(gatrec_dataset_fingerprint(ds, a));
        ck_assert_ok(gatrec_dataset_fingerprint(back, b));
        ck_assert_str_eq(a, b);
    }
    ck_assert_str_eq(gatrec_dataset_user_key(back, 0), "sku, \"a\"");
    ck_assert_str_eq(gatrec_dataset_item_title(back, 0), "The First");
    ck_assert_str_eq(gatrec_dataset_item_text(back, 0), gatrec_dataset_item_text(ds, 0));
    ck_assert_str_eq(gatrec_dataset_genre_name(back, 1), gatrec_dataset_genre_name(ds, 1));
    ck_assert_str_eq(gatrec_dataset_name(back), "ev");
    ck_assert_ok(gatrec_dataset_semantics(back, &liked, NULL, NULL, &domain));
    ck_assert_str_eq(domain, "books");
    gatrec_dataset_free(back);
    /* a damaged file is refused whole */
    {
        char *file = malloc(strlen(out) + 20);
        sprintf(file, "%s/dataset.gatrec", out);
        FILE *f = fopen(file, "r+b");
        ck_assert_ptr_nonnull(f);
        fseek(f, 40, SEEK_SET);
        fputc('X', f);
        fclose(f);
        back = NULL;
        ck_assert_status(gatrec_dataset_load(out, &back), GATREC_ECHECKSUM);
        ck_assert_ptr_null(back);
        ck_assert_int_eq(truncate(file, 30), 0);
        ck_assert_status(gatrec_dataset_load(out, &back), GATREC_ETRUNCATED);
        free(file);
    }
    gatrec_dataset_free(ds);
    free(ev), free(cat), free(out);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_import_implicit_counts)
{
    char *dir = make_temp_dir(), *ev = write_file(dir, "plays.tsv", "ts\tsong\tlistener\tn\n"
                                                                      "2024-01-01T00:00:00Z\ts1\ta\t2\n"
                                                                      "2024-01-02T00:00:00Z\ts1\ta\t3\n"
                                                                      "2024-01-01T00:00:00Z\ts2\ta\t1\n"
                                                                      "2024-01-01T00:00:00Z\ts1\tb\t1\n", 0);
    gatrec_import_options o = GATREC_IMPORT_OPTIONS_INIT;
    gatrec_dataset *ds = NULL;
    gatrec_graph *g = NULL;
    float r, liked, disliked;
    int implicit;
    int32_t u, i;
    int64_t t;
    o.user_column = "listener";
    o.item_column = "song";
    o.weight_column = "n";
    o.time_column = "ts";
    ck_assert_ok(gatrec_dataset_import(ev, &o, &ds, NULL)); /* tab sniffed */
    ck_assert_uint_eq(gatrec_dataset_num_ratings(ds), 3);
    ck_assert_ok(gatrec_dataset_rating(ds, 0, &u, &i, &r, &t));
    ck_assert_float_eq(r, 5.0f); /* summed */
    ck_assert_int_eq(t, 1704153600); /* the latest */
    ck_assert_ok(gatrec_dataset_semantics(ds, &liked, &disliked, &implicit, NULL));
    ck_assert_int_eq(implicit, 1);
    ck_assert_float_eq(liked, 1.0f); /* every event liked: the smallest weight */
    ck_assert(disliked < 1.0f);
    /* the graph takes the dataset's thresholds: every edge liked */
    ck_assert_ok(gatrec_graph_new(ds, NULL, NULL, &g));
    {
        gatrec_graph_stats st = {.version = GATREC_GRAPH_STATS_VERSION};
        ck_assert_ok(gatrec_graph_stats_get(g, &st));
        ck_assert_uint_eq(st.liked_edges, 3);
        ck_assert_uint_eq(st.disliked_edges, 0);
    }
    gatrec_graph_free(g);
    gatrec_dataset_free(ds);
    o.duplicates = GATREC_DUPLICATES_MAX;
    ck_assert_ok(gatrec_dataset_import(ev, &o, &ds, NULL));
    ck_assert_ok(gatrec_dataset_rating(ds, 0, NULL, NULL, &r, NULL));
    ck_assert_float_eq(r, 3.0f);
    gatrec_dataset_free(ds);
    o.duplicates = GATREC_DUPLICATES_ERROR;
    ds = NULL;
    ck_assert_status(gatrec_dataset_import(ev, &o, &ds, NULL), GATREC_EDUPLICATE);
    ck_assert_error_mentions("plays.tsv:3: user 'a' and item 's1' again (first at line 2");
    ck_assert_ptr_null(ds);
    free(ev);
    rm_tree(dir);
    free(dir);
}
END_TEST

static const struct bad_import {
    const char *text, *mention;
    int status;
} bad_imports[] = {
    {"", "e.csv: empty file", GATREC_EEMPTY},
    {"user,item,rating\n", "e.csv: a header and no events", GATREC_EEMPTY},
    {"user,item\n1,2\n", "e.csv:1: no column named 'rating'", GATREC_ENOTFOUND},
    {"user,item,rating\na,b,5\nc,d\n", "e.csv:3: 2 fields; the header has 3", GATREC_EFIELDS},
    {"user,item,rating\n,b,5\n", "e.csv:2: empty user id", GATREC_EFORMAT},
    {"user,item,rating\na,b,9\n", "e.csv:2: rating 9 outside 1..5", GATREC_ERATING},
    {"user,item,rating\na,b,x\n", "e.csv:2: rating 'x' is not a number", GATREC_ENUMBER},
    {"user,item,rating,time\na,b,5,2024-13-01\n", "e.csv:2: time '2024-13-01' is neither Unix seconds nor ISO 8601",
     GATREC_ENUMBER},
    {"user,item,rating\na,\xff\xfe,5\n", "e.csv:2: not valid UTF-8", GATREC_EFORMAT},
    {"user,item,rating\na,\"open,5\n", "quoted field is not closed", GATREC_EFORMAT},
    {"user,item,rating\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,b,5\n",
     "bytes; at most 256 are accepted", GATREC_EOVERFLOW},
};

START_TEST(test_import_bad_input)
{
    const struct bad_import *c = &bad_imports[_i];
    char *dir = make_temp_dir(), *path = write_file(dir, "e.csv", c->text, 0);
    gatrec_import_options o = GATREC_IMPORT_OPTIONS_INIT;
    gatrec_dataset *ds = NULL;
    o.rating_column = "rating";
    ck_assert_status(gatrec_dataset_import(path, &o, &ds, NULL), c->status);
    ck_assert_ptr_null(ds);
    ck_assert_error_mentions(c->mention);
    free(path);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* A log longer than the import's read window (4 MiB): records with quoted line breaks and CRLF
 * cross the window's edges whole, and a record past 1 MiB is refused at its own line. */
START_TEST(test_import_window)
{
    enum { N = 25000 }; /* rows of about 230 bytes: 5.7 MB */
    char *dir = make_temp_dir(), *path = malloc(strlen(dir) + 8), key[256], pad[181];
    gatrec_import_options o = GATREC_IMPORT_OPTIONS_INIT;
    gatrec_dataset *ds = NULL;
    FILE *f;
    int32_t u, i;
    float r;
    memset(pad, 'x', 180);
    pad[180] = '\0';
    sprintf(path, "%s/e.csv", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "wb"));
    fputs("user,item,rating\r\n", f);
    for (int k = 0; k < N; k++) /* a pair per row: user k % 1000, item k / 1000 */
        fprintf(f, "\"u \"\"%d\"\"\n%s\",item-%d,%d\r\n", k % 1000, pad, k / 1000, k % 5 + 1);
    ck_assert_int_eq(fclose(f), 0);
    o.rating_column = "rating";
    ck_assert_ok(gatrec_dataset_import(path, &o, &ds, NULL));
    ck_assert_uint_eq(gatrec_dataset_num_ratings(ds), N);
    ck_assert_uint_eq(gatrec_dataset_num_users(ds), 1000);
    for (size_t k = 0; k < N; k++) {
        ck_assert_ok(gatrec_dataset_rating(ds, k, &u, &i, &r, NULL));
        snprintf(key, sizeof key, "u \"%zu\"\n%s", k % 1000, pad);
        ck_assert_str_eq(gatrec_dataset_user_key(ds, u), key);
        snprintf(key, sizeof key, "item-%zu", k / 1000);
        ck_assert_str_eq(gatrec_dataset_item_key(ds, i), key);
        ck_assert_float_eq(r, (float)(k % 5 + 1));
    }
    gatrec_dataset_free(ds);
    ds = NULL;
    ck_assert_ptr_nonnull(f = fopen(path, "ab")); /* then a quote left open: 1.5 MiB without its end */
    fputs("\"open", f);
    for (int k = 0; k < 3 << 15; k++)
        fputs("0123456789abcdef", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_status(gatrec_dataset_import(path, &o, &ds, NULL), GATREC_EFORMAT);
    snprintf(key, sizeof key, "e.csv:%d: a record of more", 2 + 2 * N);
    ck_assert_error_mentions(key);
    ck_assert_ptr_null(ds);
    free(path);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Events held in memory with string ids: the same dataset as the import of the same log */
START_TEST(test_from_key_arrays)
{
    static const char *const users[] = {"sku, \"a\"", "\xC3\xBC-user", "\xC3\xBC-user", "sku, \"a\"", "\xC3\xBC-user"};
    static const char *const items[] = {"item 1", "item-2", "item 1", "item-2", "item-2"};
    static const float stars[] = {5, 1, 4, 3, 2};
    static const int64_t times[] = {1714564800, 1714567200, 1714608000, 1714567300, 1714514400};
    const char *bad_users[] = {"a", NULL}, *bad_items[] = {"b", "c"};
    gatrec_import_options o = GATREC_IMPORT_OPTIONS_INIT;
    gatrec_dataset *ds = NULL, *imp = NULL;
    char *dir = make_temp_dir(), *ev, a[65], b[65];
    float liked, r, w[] = {2, 3};
    int implicit;
    ev = write_file(dir, "ev.csv", "user,item,rating,time\n\"sku, \"\"a\"\"\",item 1,5,1714564800\n"
                                   "\xC3\xBC-user,item-2,1,1714567200\n\xC3\xBC-user,item 1,4,1714608000\n"
                                   "\"sku, \"\"a\"\"\",item-2,3,1714567300\n\xC3\xBC-user,item-2,2,1714514400\n", 0);
    o.rating_column = "rating";
    o.name = "ev";
    ck_assert_ok(gatrec_dataset_from_key_arrays(5, users, items, stars, times, &o, &ds));
    ck_assert_ok(gatrec_dataset_import(ev, &o, &imp, NULL));
    ck_assert_ok(gatrec_dataset_fingerprint(ds, a));
    ck_assert_ok(gatrec_dataset_fingerprint(imp, b));
    ck_assert_str_eq(a, b); /* the same ratings, order and times: the repeated pair kept by time */
    ck_assert_str_eq(gatrec_dataset_user_key(ds, 0), "sku, \"a\"");
    ck_assert_ok(gatrec_dataset_semantics(ds, &liked, NULL, &implicit, NULL));
    ck_assert_float_eq(liked, 4.0f);
    ck_assert_int_eq(implicit, 0);
    gatrec_dataset_free(ds);
    gatrec_dataset_free(imp);
    /* implicit (no options): weights summed */
    ck_assert_ok(gatrec_dataset_from_key_arrays(2, bad_items, (const char *const[]){"x", "x"}, NULL, NULL, NULL, &ds));
    ck_assert_uint_eq(gatrec_dataset_num_users(ds), 2);
    gatrec_dataset_free(ds);
    ck_assert_ok(gatrec_dataset_from_key_arrays(2, (const char *const[]){"u", "u"}, (const char *const[]){"x", "x"}, w,
                                                NULL, NULL, &ds));
    ck_assert_ok(gatrec_dataset_rating(ds, 0, NULL, NULL, &r, NULL));
    ck_assert_float_eq(r, 5.0f);
    ck_assert_ok(gatrec_dataset_semantics(ds, NULL, NULL, &implicit, NULL));
    ck_assert_int_eq(implicit, 1);
    gatrec_dataset_free(ds);
    ds = NULL;
    /* refused: a NULL id, an empty id, a rating out of range, invalid UTF-8, no events, a repeat under ERROR */
    ck_assert_status(gatrec_dataset_from_key_arrays(2, bad_users, bad_items, NULL, NULL, NULL, &ds), GATREC_EINVAL);
    ck_assert_error_mentions("arrays: event #2: a NULL user id");
    ck_assert_status(gatrec_dataset_from_key_arrays(1, (const char *const[]){""}, bad_items, NULL, NULL, NULL, &ds),
                     GATREC_EFORMAT);
    ck_assert_error_mentions("arrays: event #1: empty user id");
    ck_assert_status(gatrec_dataset_from_key_arrays(1, users, items, (const float[]){6}, NULL, &o, &ds), GATREC_ERATING);
    ck_assert_error_mentions("arrays: event #1: rating 6 outside 1..5");
    ck_assert_status(gatrec_dataset_from_key_arrays(1, (const char *const[]){"\xff"}, items, NULL, NULL, NULL, &ds),
                     GATREC_EFORMAT);
    ck_assert_status(gatrec_dataset_from_key_arrays(0, users, items, NULL, NULL, NULL, &ds), GATREC_EEMPTY);
    o.duplicates = GATREC_DUPLICATES_ERROR;
    ck_assert_status(gatrec_dataset_from_key_arrays(5, users, items, stars, times, &o, &ds), GATREC_EDUPLICATE);
    ck_assert_error_mentions("arrays: event #5: user '\xC3\xBC-user' and item 'item-2' again (first at event #2");
    ck_assert_ptr_null(ds);
    free(ev);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_import_options_refused)
{
    gatrec_import_options o = GATREC_IMPORT_OPTIONS_INIT;
    gatrec_dataset *ds = NULL;
    o.rating_column = "r";
    o.weight_column = "w";
    ck_assert_status(gatrec_dataset_import("x.csv", &o, &ds, NULL), GATREC_EINVAL);
    o.weight_column = NULL;
    o.duplicates = GATREC_DUPLICATES_SUM;
    ck_assert_status(gatrec_dataset_import("x.csv", &o, &ds, NULL), GATREC_EINVAL);
    ck_assert_error_mentions("ratings cannot be summed");
    o.duplicates = 0;
    o.delimiter = 'x';
    ck_assert_status(gatrec_dataset_import("x.csv", &o, &ds, NULL), GATREC_EINVAL);
    o.delimiter = 0;
    o.version = 99;
    ck_assert_status(gatrec_dataset_import("x.csv", &o, &ds, NULL), GATREC_EINVAL);
    ck_assert_ptr_null(ds);
}
END_TEST

START_TEST(test_import_iso_times)
{
    static const struct {
        const char *s;
        long long t;
    } ok[] = {{"0", 0},
              {"1714567200", 1714567200},
              {"1714567200.9", 1714567200},
              {"1970-01-02", 86400},
              {"2000-02-29T23:59:59Z", 951868799},
              {"2024-05-01 12:00", 1714564800},
              {"2024-05-01T12:00:00.250+01:30", 1714559400},
              {"1969-12-31T23:59:59Z", -1}};
    int64_t t;
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        ck_assert_msg(gatrec__parse_time(ok[k].s, &t) == GATREC_OK, "%s refused", ok[k].s);
        ck_assert_msg(t == ok[k].t, "%s: %lld, want %lld", ok[k].s, (long long)t, ok[k].t);
    }
    ck_assert_int_ne(gatrec__parse_time("2024-05-01T25:00", &t), GATREC_OK);
    ck_assert_int_ne(gatrec__parse_time("yesterday", &t), GATREC_OK);
    ck_assert_int_ne(gatrec__parse_time("2024-05-01Tx", &t), GATREC_OK);
}
END_TEST

Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *t = tcase_create("loaders");
    tcase_add_test(t, test_ml100k_layout);
    tcase_add_test(t, test_dataset_fingerprint);
    tcase_add_test(t, test_ml100k_missing_file);
    tcase_add_test(t, test_ml100k_strict);
    tcase_add_test(t, test_ml1m_layout);
    tcase_add_loop_test(t, test_delimited_bad_input, 0, sizeof bad_cases / sizeof *bad_cases);
    tcase_add_test(t, test_delimiter_hint);
    tcase_add_test(t, test_delimited_crlf_header_columns);
    tcase_add_test(t, test_implicit_and_multichar_delimiter);
    tcase_add_test(t, test_item_texts_csv);
    tcase_add_test(t, test_from_arrays);
    tcase_add_test(t, test_import_string_ids_quoting);
    tcase_add_test(t, test_import_implicit_counts);
    tcase_add_loop_test(t, test_import_bad_input, 0, sizeof bad_imports / sizeof *bad_imports);
    tcase_add_test(t, test_import_window);
    tcase_add_test(t, test_from_key_arrays);
    tcase_add_test(t, test_import_options_refused);
    tcase_add_test(t, test_import_iso_times);
    suite_add_tcase(s, t);
    return s;
}
