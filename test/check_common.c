/* Version, statuses and errors, versioned structs, SHA-256, number parsing, CSV, RNG. */
#include <locale.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/common/common.h"
#include "check_util.h"

START_TEST(test_version)
{
    ck_assert_uint_eq(gatrec_version(), GATREC_VERSION_NUMBER);
    ck_assert_str_eq(gatrec_version_string(), GATREC_VERSION_STRING);
}
END_TEST

START_TEST(test_statuses_distinct)
{
    for (int a = GATREC_EUNSUPPORTED; a <= GATREC_OK; a++) {
        ck_assert_str_ne(gatrec_strerror(a), "unknown status");
        for (int b = a + 1; b <= GATREC_OK; b++)
            ck_assert_str_ne(gatrec_strerror(a), gatrec_strerror(b));
    }
    ck_assert_str_eq(gatrec_strerror(-999), "unknown status");
}
END_TEST

START_TEST(test_last_error)
{
    gatrec_dataset *ds = NULL;
    gatrec_error_clear();
    ck_assert_str_eq(gatrec_last_error(), "no error");
    ck_assert_int_eq(gatrec_last_error_status(), GATREC_OK);
    ck_assert_status(gatrec_dataset_load_delimited("/nonexistent/ratings.csv", NULL, &ds), GATREC_ENOENT);
    ck_assert_ptr_null(ds);
    ck_assert_int_eq(gatrec_last_error_status(), GATREC_ENOENT);
    ck_assert_error_mentions("/nonexistent/ratings.csv");
}
END_TEST

static void sha_hex(const char *msg, size_t repeat, char *hex)
{
    gatrec__sha256 s;
    unsigned char d[32];
    gatrec__sha256_init(&s);
    for (size_t i = 0; i < repeat; i++)
        gatrec__sha256_update(&s, msg, strlen(msg));
    gatrec__sha256_final(&s, d);
    gatrec__hex(d, 32, hex);
}

START_TEST(test_sha256_vectors)
{
    char hex[65];
    sha_hex("", 1, hex); /* FIPS 180-4 examples */
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex("abc", 1, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1, hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    sha_hex("a", 1000000, hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_parse_numbers)
{
    int64_t v;
    double d;
    ck_assert_ok(gatrec__parse_id("42", 2, &v));
    ck_assert_int_eq(v, 42);
    ck_assert_ok(gatrec__parse_id(" 7 ", 3, &v));
    ck_assert_int_eq(v, 7);
    ck_assert_ok(gatrec__parse_id("9223372036854775807", 19, &v));
    ck_assert_int_eq(v, INT64_MAX);
    ck_assert_int_eq(gatrec__parse_id("9223372036854775808", 19, &v), GATREC_EOVERFLOW);
    ck_assert_int_eq(gatrec__parse_id("99999999999999999999x", 21, &v), GATREC_ENUMBER);
    ck_assert_int_eq(gatrec__parse_id("-1", 2, &v), GATREC_ENUMBER);
    ck_assert_int_eq(gatrec__parse_id("", 0, &v), GATREC_ENUMBER);
    ck_assert_int_eq(gatrec__parse_id("1a", 2, &v), GATREC_ENUMBER);
    ck_assert_ok(gatrec__parse_i64("-9223372036854775808", 20, &v));
    ck_assert_int_eq(v, INT64_MIN);
    ck_assert_ok(gatrec__parse_double("3.5", 3, &d));
    ck_assert_double_eq(d, 3.5);
    ck_assert_int_eq(gatrec__parse_double("nan", 3, &d), GATREC_ENUMBER);
    ck_assert_int_eq(gatrec__parse_double("4x", 2, &d), GATREC_ENUMBER);
}
END_TEST

START_TEST(test_latin1_utf8)
{
    char *s = gatrec__latin1_to_utf8("Caf\xe9", 4);
    ck_assert_str_eq(s, "Caf\xc3\xa9");
    ck_assert(gatrec__is_utf8(s, strlen(s)));
    ck_assert(!gatrec__is_utf8("Caf\xe9", 4));
    free(s);
}
END_TEST

START_TEST(test_csv_rfc4180)
{
    const char *text = "id,text\r\n1,\"a, \"\"quoted\"\"\nsecond line\"\n2,plain\n3,\"unterminated";
    gatrec__csv c;
    gatrec__csv_init(&c, text, strlen(text));
    ck_assert_int_eq(gatrec__csv_next(&c), 1);
    ck_assert_str_eq(gatrec__csv_field(&c, 1), "text");
    ck_assert_int_eq(gatrec__csv_next(&c), 1);
    ck_assert_uint_eq(c.line, 2);
    ck_assert_str_eq(gatrec__csv_field(&c, 1), "a, \"quoted\"\nsecond line");
    ck_assert_int_eq(gatrec__csv_next(&c), 1);
    ck_assert_uint_eq(c.line, 4);
    ck_assert_str_eq(gatrec__csv_field(&c, 0), "2");
    ck_assert_ptr_null(gatrec__csv_field(&c, 2));
    ck_assert_int_eq(gatrec__csv_next(&c), GATREC_EFORMAT);
    gatrec__csv_free(&c);
}
END_TEST

static const gatrec__versions *const all_versions[] = {
    &gatrec__gatrec_delimited_options_versions, &gatrec__gatrec_graph_options_versions,
    &gatrec__gatrec_eval_options_versions,      &gatrec__gatrec_model_options_versions,
    &gatrec__gatrec_llm_transport_versions,     &gatrec__gatrec_http_options_versions,
    &gatrec__gatrec_llm_options_versions,       &gatrec__gatrec_profile_options_versions,
    &gatrec__gatrec_reranker_options_versions,  &gatrec__gatrec_embedder_options_versions,
    &gatrec__gatrec_request_options_versions,   &gatrec__gatrec_import_options_versions,
};

/* The size of every published version, as it shipped (LP64). A version's size never changes once
 * published: a caller compiled against it hands in exactly that many bytes. Changing a number
 * here is an ABI break; adding one is how a new version is published (lib/common/options.c). */
START_TEST(test_versioned_sizes_pinned)
{
    static const struct {
        const char *name;
        unsigned current;
        size_t sizes[8];
    } pinned[] = {
        {"gatrec_delimited_options", GATREC_DELIMITED_OPTIONS_VERSION, {56}},
        {"gatrec_graph_options", GATREC_GRAPH_OPTIONS_VERSION, {12, 16}},
        {"gatrec_eval_options", GATREC_EVAL_OPTIONS_VERSION, {24, 40}},
        {"gatrec_model_options", GATREC_MODEL_OPTIONS_VERSION, {20, 168, 172, 188, 216, 256, 280}},
        {"gatrec_llm_transport", GATREC_LLM_TRANSPORT_VERSION, {32}},
        {"gatrec_http_options", GATREC_HTTP_OPTIONS_VERSION, {64}},
        {"gatrec_llm_options", GATREC_LLM_OPTIONS_VERSION, {48, 56}},
        {"gatrec_profile_options", GATREC_PROFILE_OPTIONS_VERSION, {56, 64, 72}},
        {"gatrec_reranker_options", GATREC_RERANKER_OPTIONS_VERSION, {20, 32}},
        {"gatrec_embedder_options", GATREC_EMBEDDER_OPTIONS_VERSION, {24}},
        {"gatrec_request_options", GATREC_REQUEST_OPTIONS_VERSION, {40, 48}},
        {"gatrec_import_options", GATREC_IMPORT_OPTIONS_VERSION, {144}},
    };
    const size_t last[] = {sizeof(gatrec_delimited_options), sizeof(gatrec_graph_options), sizeof(gatrec_eval_options),
                           sizeof(gatrec_model_options),     sizeof(gatrec_llm_transport), sizeof(gatrec_http_options),
                           sizeof(gatrec_llm_options),       sizeof(gatrec_profile_options),
                           sizeof(gatrec_reranker_options),  sizeof(gatrec_embedder_options),
                           sizeof(gatrec_request_options),   sizeof(gatrec_import_options)};
    ck_assert_uint_eq(sizeof pinned / sizeof pinned[0], sizeof all_versions / sizeof all_versions[0]);
    for (size_t k = 0; k < sizeof pinned / sizeof pinned[0]; k++) {
        const gatrec__versions *v = all_versions[k];
        ck_assert_str_eq(v->name, pinned[k].name);
        ck_assert_msg(v->current == pinned[k].current, "%s: the table knows %u versions, gatrec.h %u", v->name,
                      v->current, pinned[k].current);
        ck_assert_msg(v->sizes[v->current - 1] == last[k], "%s: the newest version's size is not sizeof", v->name);
        if (sizeof(void *) != 8 || sizeof(size_t) != 8)
            continue; /* the numbers are LP64's */
        for (unsigned ver = 1; ver <= v->current; ver++)
            ck_assert_msg(v->sizes[ver - 1] == pinned[k].sizes[ver - 1], "%s version %u: %zu bytes, published %zu",
                          v->name, ver, v->sizes[ver - 1], pinned[k].sizes[ver - 1]);
    }
}
END_TEST

START_TEST(test_versioned_copy_reads_only_its_version)
{
    unsigned char dst[512];
    for (size_t k = 0; k < sizeof all_versions / sizeof all_versions[0]; k++) {
        const gatrec__versions *v = all_versions[k];
        size_t whole = v->sizes[v->current - 1];
        ck_assert_uint_le(whole, sizeof dst);
        for (unsigned ver = 1; ver <= v->current; ver++) {
            void *map;
            size_t maplen, n = v->sizes[ver - 1];
            unsigned char *src = at_page_end(n, &map, &maplen);
            unsigned got;
            memset(src, 0xAB, n);
            memcpy(src, &ver, sizeof ver);
            memset(dst, 0x11, sizeof dst);
            ck_assert_ok(gatrec__versions_read(dst, src, v));
            memcpy(&got, dst, sizeof got);
            ck_assert_uint_eq(got, v->current);
            for (size_t b = sizeof ver; b < whole; b++) /* the caller's bytes, then the defaults */
                ck_assert_msg(dst[b] == (b < n ? 0xAB : 0x11), "%s v%u: byte %zu", v->name, ver, b);
            ver += 1000;
            memcpy(src, &ver, sizeof ver);
            ck_assert_status(gatrec__versions_read(dst, src, v), GATREC_EINVAL);
            ck_assert_error_mentions(v->name);
            ver -= 1000;
            free_page_end(map, maplen);
        }
        ck_assert_ok(gatrec__versions_read(dst, NULL, v));
    }
}
END_TEST

START_TEST(test_rng_counter_based)
{
    uint64_t a = gatrec__rng_u64(1, 2, 3), hist[4] = {0};
    ck_assert_uint_eq(a, gatrec__rng_u64(1, 2, 3));
    ck_assert_uint_ne(a, gatrec__rng_u64(1, 2, 4));
    ck_assert_uint_ne(a, gatrec__rng_u64(1, 3, 3));
    ck_assert_uint_ne(a, gatrec__rng_u64(2, 2, 3));
    for (uint64_t i = 0; i < 40000; i++)
        hist[gatrec__rng_below(7, 0, i, 4)]++;
    for (int b = 0; b < 4; b++) /* 10000 expected; 5 sigma is about 433 */
        ck_assert_msg(hist[b] > 9500 && hist[b] < 10500, "bucket %d has %llu", b, (unsigned long long)hist[b]);
}
END_TEST

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Two purposes never share a stream, whatever their indices (the layouts this replaced collided:
 * the epoch-65 permutation drew the stream of a 4-layer GAT's initialiser, a random split's user
 * 1 that of the first epoch's permutation); inside a stream, node t's draws never meet node
 * t + 1's (the sampler's draw 64 of node t was draw 0 of node t + 1 with a fanout above 64). */
START_TEST(test_rng_streams_disjoint)
{
    static const uint64_t index[] = {0, 1, 2, 3, 16, 40, 41, 42, 64, 65, 1000, 1041, 4096, 786899,
                                     (uint64_t)1 << 32, ((uint64_t)1 << 48) - 1};
    const size_t ni = sizeof index / sizeof index[0], np = GATREC__RNG_PURPOSES - 1;
    uint64_t *all = malloc(np * ni * sizeof *all), *counters = malloc(200 * 300 * sizeof *counters);
    size_t n = 0;
    ck_assert_ptr_nonnull(all);
    ck_assert_ptr_nonnull(counters);
    ck_assert_uint_lt(GATREC__RNG_PURPOSES, 1u << (64 - GATREC__RNG_INDEX_BITS));
    for (int p = 1; p < GATREC__RNG_PURPOSES; p++)
        for (size_t i = 0; i < ni; i++)
            all[n++] = gatrec__stream((enum gatrec__rng_purpose)p, index[i]);
    qsort(all, n, sizeof *all, cmp_u64);
    for (size_t k = 1; k < n; k++)
        ck_assert_msg(all[k] != all[k - 1], "two (purpose, index) pairs share stream %llu", (unsigned long long)all[k]);
    ck_assert_uint_ne(gatrec__stream(GATREC__RNG_EPOCH_ORDER, 65), gatrec__stream(GATREC__RNG_INIT, 41));
    ck_assert_uint_ne(gatrec__stream(GATREC__RNG_SPLIT_SHUFFLE, 1), gatrec__stream(GATREC__RNG_EPOCH_ORDER, 0));
    n = 0;
    for (uint64_t t = 0; t < 200; t++)
        for (uint64_t j = 0; j < 300; j++)
            counters[n++] = gatrec__node_counter(t, j);
    qsort(counters, n, sizeof *counters, cmp_u64);
    for (size_t k = 1; k < n; k++)
        ck_assert_uint_ne(counters[k], counters[k - 1]);
    /* and the streams of two purposes draw different numbers at the same seed and counter */
    ck_assert_uint_ne(gatrec__rng_u64(1, gatrec__stream(GATREC__RNG_FANOUT_DRAW, 7), 5),
                      gatrec__rng_u64(1, gatrec__stream(GATREC__RNG_FANOUT_SHUFFLE, 7), 5));
    free(all);
    free(counters);
}
END_TEST

/* Numbers mean the same whatever locale the host set (issue 24, item 15): under a comma-decimal
 * locale (de_DE, built here with localedef: no system locale is assumed) the library reads
 * "3.5", writes "0.5" and keeps its split specs. */
START_TEST(test_numbers_in_a_comma_locale)
{
    char *dir = make_temp_dir(), cmd[4300], path[4200], buf[32], *text;
    gatrec__buf b = {0};
    gatrec_dataset *ds;
    gatrec_graph *g;
    gatrec_split *split;
    float feat[2 * 6], *back; /* 3 users and 3 items */
    size_t dim;
    double v;
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", dir);
    if (system(cmd) != 0 || setenv("LOCPATH", dir, 1) != 0 || !setlocale(LC_ALL, "de_DE.UTF-8") ||
        strcmp(localeconv()->decimal_point, ",") != 0) {
        printf("SKIP %s: no comma-decimal locale could be built here (localedef and the locales package's "
               "de_DE source are needed)\n", __func__);
        rm_tree(dir);
        free(dir);
        return;
    }
    ck_assert_double_eq(strtod("3,5", NULL), 3.5); /* the host's locale is in force */
    ck_assert_ok(gatrec__parse_double("3.5", 3, &v));
    ck_assert_double_eq(v, 3.5);
    ck_assert_status(gatrec__parse_double("3,5", 3, &v), GATREC_ENUMBER);
    gatrec__snprintf(buf, sizeof buf, "%g|%.2f", 0.5, 1.25);
    ck_assert_str_eq(buf, "0.5|1.25");
    ck_assert_ok(gatrec__buf_printf(&b, "%.9g", 0.25));
    ck_assert_ok(gatrec__buf_put(&b, "", 1));
    ck_assert_str_eq((const char *)b.data, "0.25");
    gatrec__buf_free(&b);
    /* the public paths: a delimited log with half stars, a split spec, a features file */
    free(write_file(dir, "r.csv", "1,10,3.5\n1,11,4\n2,10,2.5\n2,12,5\n3,11,1.5\n3,12,4.5\n", 0));
    snprintf(path, sizeof path, "%s/r.csv", dir);
    ck_assert_ok(gatrec_dataset_load_delimited(path, NULL, &ds));
    ck_assert_ok(gatrec_split_parse(ds, "random:0.25", 1, &split));
    ck_assert_ok(gatrec_graph_new(ds, NULL, NULL, &g));
    for (size_t k = 0; k < 2 * 6; k++)
        feat[k] = 0.5f + (float)k;
    snprintf(path, sizeof path, "%s/f.tsv", dir);
    ck_assert_ok(gatrec_features_save(g, feat, 2, path));
    text = slurp(path);
    ck_assert_msg(strstr(text, "0.5 1.5") && !strstr(text, "0,5"), "features written as: %s", text);
    free(text);
    ck_assert_ok(gatrec_features_load(g, path, &back, &dim));
    ck_assert_uint_eq(dim, 2);
    ck_assert_mem_eq(back, feat, sizeof feat);
    gatrec_features_free(back);
    gatrec_graph_free(g);
    gatrec_split_free(split);
    gatrec_dataset_free(ds);
    setlocale(LC_ALL, "C");
    rm_tree(dir);
    free(dir);
}
END_TEST

static void remove_temporaries_and_die(int sig)
{
    gatrec_remove_temporaries();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* An interrupted save leaves nothing behind (issue 24, item 8): a signal handler removes the
 * temporaries being written, and the next save to a path removes what a killed process left. */
START_TEST(test_temporaries_removed_and_swept)
{
    char *dir = make_temp_dir(), path[4200], dead_tmp[4300], mine[4300], other[4300], *p;
    pid_t dead = fork(), child;
    int st;
    ck_assert_int_ge(dead, 0);
    if (dead == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(dead, &st, 0), dead); /* a pid that is gone */
    snprintf(path, sizeof path, "%s/m.gatrec", dir);
    snprintf(dead_tmp, sizeof dead_tmp, "%s.tmp.%ld.3", path, (long)dead);
    snprintf(mine, sizeof mine, "%s.tmp.%ld.9", path, (long)getpid());
    snprintf(other, sizeof other, "%s/m.gatrec2.tmp.%ld.1", dir, (long)dead);
    free(write_file(dir, strrchr(dead_tmp, '/') + 1, "half", 0));
    free(write_file(dir, strrchr(mine, '/') + 1, "mine, being written", 0));
    free(write_file(dir, strrchr(other, '/') + 1, "another file's", 0));
    ck_assert_ok(gatrec__write_file_atomic(path, "whole", 5));
    ck_assert_int_ne(access(dead_tmp, F_OK), 0); /* swept */
    ck_assert_int_eq(access(mine, F_OK), 0);      /* a live process's: kept */
    ck_assert_int_eq(access(other, F_OK), 0);     /* another path's: kept */
    p = slurp(path);
    ck_assert_str_eq(p, "whole");
    free(p);
    /* the registry: what is being written now, removed from a signal handler */
    int slot = gatrec__temp_register(mine);
    ck_assert_int_ge(slot, 0);
    ck_assert_uint_eq(gatrec_remove_temporaries(), 1);
    ck_assert_int_ne(access(mine, F_OK), 0);
    gatrec__temp_release(slot);
    ck_assert_uint_eq(gatrec_remove_temporaries(), 0);
    /* a process killed while writing: the handler removes its temporary, the signal still kills */
    free(write_file(dir, "killed.tmp", "half a model", 0));
    snprintf(other, sizeof other, "%s/killed.tmp", dir);
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        signal(SIGTERM, remove_temporaries_and_die);
        gatrec__temp_register(other);
        raise(SIGTERM);
        _exit(3); /* not reached */
    }
    ck_assert_int_eq(waitpid(child, &st, 0), child);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    ck_assert_int_ne(access(other, F_OK), 0);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *common_suite(void)
{
    Suite *s = suite_create("common");
    TCase *t = tcase_create("core");
    tcase_add_test(t, test_version);
    tcase_add_test(t, test_statuses_distinct);
    tcase_add_test(t, test_last_error);
    tcase_add_test(t, test_versioned_sizes_pinned);
    tcase_add_test(t, test_versioned_copy_reads_only_its_version);
    tcase_add_test(t, test_sha256_vectors);
    tcase_add_test(t, test_parse_numbers);
    tcase_add_test(t, test_latin1_utf8);
    tcase_add_test(t, test_csv_rfc4180);
    tcase_add_test(t, test_rng_counter_based);
    tcase_add_test(t, test_rng_streams_disjoint);
    tcase_add_test(t, test_numbers_in_a_comma_locale);
    tcase_add_test(t, test_temporaries_removed_and_swept);
    suite_add_tcase(s, t);
    return s;
}
