/* Helpers shared by the Check suites: scratch directories and files. */
#ifndef GATREC_CHECK_UTIL_H
#define GATREC_CHECK_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatrec.h"

/* A fresh directory under $TMPDIR, removed by rm_tree. */
char *make_temp_dir(void);
void rm_tree(const char *dir);
/* Write `text` (len bytes, or strlen when len is 0) to dir/name; returns the malloc'd path. */
char *write_file(const char *dir, const char *name, const char *text, size_t len);
/* Read a whole file (NUL-terminated); NULL when missing. */
char *slurp(const char *path);
/* Whether two files hold the same bytes (a model saved before and after something that must not
 * change it); a file that cannot be read fails the test. */
int same_file_bytes(const char *a, const char *b);
/* A 2-user, 3-item MovieLens 100K directory (titles, genres, times) and its dataset (check_embed.c). */
gatrec_dataset *tiny_movielens(char **dir_out);
/* `n` writable bytes that end where an unreadable page begins, so that reading past them faults:
 * a caller's struct of an older, shorter version (free with free_page_end(*map, *maplen)). */
unsigned char *at_page_end(size_t n, void **map, size_t *maplen);
void free_page_end(void *map, size_t maplen);
/* The shared data directory, or NULL when absent (tests then skip, saying so). */
const char *test_data_dir(void);

#define ck_assert_status(expr, expected)                                                                     \
    do {                                                                                                     \
        int ck_rc_ = (expr);                                                                                 \
        ck_assert_msg(ck_rc_ == (expected), "%s returned %d (%s), expected %d; last error: %s", #expr, ck_rc_, \
                      gatrec_strerror(ck_rc_), (int)(expected), gatrec_last_error());                        \
    } while (0)
#define ck_assert_ok(expr) ck_assert_status(expr, GATREC_OK)
#define ck_assert_error_mentions(text)                                                                       \
    ck_assert_msg(strstr(gatrec_last_error(), text) != NULL, "last error '%s' does not mention '%s'",         \
                  gatrec_last_error(), text)

Suite *common_suite(void);
Suite *data_suite(void);
Suite *split_suite(void);
Suite *graph_suite(void);
Suite *eval_suite(void);
Suite *model_suite(void);
Suite *zip_suite(void);
Suite *movielens_suite(void);
Suite *kernels_suite(void);
Suite *learn_suite(void);
Suite *embed_suite(void);
Suite *llm_suite(void);
Suite *rerank_suite(void);
Suite *anchors_suite(void);
Suite *faults_suite(void);
Suite *serve_suite(void);

#endif
