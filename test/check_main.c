/* The Check test runner: every suite in one process tree, one summary line. */
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_util.h"

char *make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/gatrec-test-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(path));
    return path;
}

void rm_tree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

char *write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char *path = malloc(4096);
    FILE *f;
    snprintf(path, 4096, "%s/%s", dir, name);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(text, 1, len ? len : strlen(text), f);
    fclose(f);
    return path;
}

char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    buf[fread(buf, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return buf;
}

int same_file_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int ca, cb;
    ck_assert_msg(fa && fb, "cannot read %s or %s", a, b);
    do {
        ca = fgetc(fa);
        cb = fgetc(fb);
    } while (ca == cb && ca != EOF);
    fclose(fa);
    fclose(fb);
    return ca == cb;
}

unsigned char *at_page_end(size_t n, void **map, size_t *maplen)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *p;
    *maplen = 2 * page;
    *map = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(*map, MAP_FAILED);
    p = (unsigned char *)*map;
    ck_assert_int_eq(mprotect(p + page, page, PROT_NONE), 0);
    return p + page - n;
}

void free_page_end(void *map, size_t maplen)
{
    munmap(map, maplen);
}

const char *test_data_dir(void)
{
    static char path[4096];
    const char *d = getenv("GATREC_TEST_DATA");
    struct stat st;
    if (!d || !d[0])
        d = "../shared/data";
    snprintf(path, sizeof path, "%s/ml-100k/u.data", d);
    if (stat(path, &st) != 0)
        return NULL;
    return d;
}

int main(void)
{
    SRunner *sr = srunner_create(common_suite());
    int failed;
    srunner_add_suite(sr, data_suite());
    srunner_add_suite(sr, split_suite());
    srunner_add_suite(sr, graph_suite());
    srunner_add_suite(sr, eval_suite());
    srunner_add_suite(sr, model_suite());
    srunner_add_suite(sr, zip_suite());
    srunner_add_suite(sr, movielens_suite());
    srunner_add_suite(sr, kernels_suite());
    srunner_add_suite(sr, learn_suite());
    srunner_add_suite(sr, embed_suite());
    srunner_add_suite(sr, llm_suite());
    srunner_add_suite(sr, rerank_suite());
    srunner_add_suite(sr, anchors_suite());
    srunner_add_suite(sr, faults_suite());
    srunner_add_suite(sr, serve_suite());
    if (!test_data_dir())
        printf("SKIP: MovieLens 100K not found (GATREC_TEST_DATA or ../shared/data): integration tests skip\n");
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
