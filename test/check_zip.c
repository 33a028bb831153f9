/* Unpacking zips this test builds itself, and the download path against a local HTTP server. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../lib/common/common.h"
#include "../lib/data/fetch.h"
#include "check_util.h"

typedef struct entry {
    const char *name, *data;
    int deflate;
} entry;

static void put16(gatrec__buf *b, uint32_t v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    gatrec__buf_put(b, x, 2);
}

/* A zip with the given entries (stored or raw-deflated), as an archiver writes it. */
static gatrec__buf build_zip(const entry *e, size_t n)
{
    gatrec__buf z = {0}, cd = {0};
    for (size_t k = 0; k < n; k++) {
        size_t len = strlen(e[k].data), clen = len;
        unsigned char *comp = malloc(len + 64);
        uint32_t crc = gatrec__crc32(e[k].data, len), off = (uint32_t)z.len;
        if (e[k].deflate) {
            z_stream s;
            memset(&s, 0, sizeof s);
            ck_assert_int_eq(deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
            s.next_in = (Bytef *)(uintptr_t)e[k].data;
            s.avail_in = (uInt)len;
            s.next_out = comp;
            s.avail_out = (uInt)len + 64;
            ck_assert_int_eq(deflate(&s, Z_FINISH), Z_STREAM_END);
            clen = s.total_out;
            deflateEnd(&s);
        } else {
            memcpy(comp, e[k].data, len);
        }
        gatrec__buf_put_u32(&z, 0x04034b50u);
        put16(&z, 20), put16(&z, 0), put16(&z, e[k].deflate ? 8 : 0), put16(&z, 0), put16(&z, 0);
        gatrec__buf_put_u32(&z, crc), gatrec__buf_put_u32(&z, (uint32_t)clen), gatrec__buf_put_u32(&z, (uint32_t)len);
        put16(&z, (uint32_t)strlen(e[k].name)), put16(&z, 0);
        gatrec__buf_put(&z, e[k].name, strlen(e[k].name));
        gatrec__buf_put(&z, comp, clen);
        gatrec__buf_put_u32(&cd, 0x02014b50u);
        put16(&cd, 20), put16(&cd, 20), put16(&cd, 0), put16(&cd, e[k].deflate ? 8 : 0), put16(&cd, 0), put16(&cd, 0);
        gatrec__buf_put_u32(&cd, crc), gatrec__buf_put_u32(&cd, (uint32_t)clen), gatrec__buf_put_u32(&cd, (uint32_t)len);
        put16(&cd, (uint32_t)strlen(e[k].name)), put16(&cd, 0), put16(&cd, 0), put16(&cd, 0), put16(&cd, 0);
        gatrec__buf_put_u32(&cd, 0), gatrec__buf_put_u32(&cd, off);
        gatrec__buf_put(&cd, e[k].name, strlen(e[k].name));
        free(comp);
    }
    {
        uint32_t cd_off = (uint32_t)z.len;
        gatrec__buf_put(&z, cd.data, cd.len);
        gatrec__buf_put_u32(&z, 0x06054b50u);
        put16(&z, 0), put16(&z, 0), put16(&z, (uint32_t)n), put16(&z, (uint32_t)n);
        gatrec__buf_put_u32(&z, (uint32_t)cd.len), gatrec__buf_put_u32(&z, cd_off), put16(&z, 0);
    }
    gatrec__buf_free(&cd);
    return z;
}

START_TEST(test_unzip_stored_and_deflated)
{
    static const entry e[] = {{"ml-tiny/", "", 0},
                              {"ml-tiny/u.data", "1\t2\t5\t100\n1\t3\t4\t101\n1\t3\t4\t101\n1\t3\t4\t101\n", 1},
                              {"ml-tiny/README", "hello", 0}};
    char *dir = make_temp_dir(), *text, path[4200];
    gatrec__buf z = build_zip(e, 3);
    size_t nfiles = 0;
    char *zpath = write_file(dir, "t.zip", (const char *)z.data, z.len);
    ck_assert_ok(gatrec__zip_extract(zpath, dir, &nfiles));
    ck_assert_uint_eq(nfiles, 2);
    snprintf(path, sizeof path, "%s/ml-tiny/u.data", dir);
    text = slurp(path);
    ck_assert_str_eq(text, e[1].data);
    free(text);
    snprintf(path, sizeof path, "%s/ml-tiny/README", dir);
    text = slurp(path);
    ck_assert_str_eq(text, "hello");
    free(text);
    /* a damaged byte inside the deflated data: CRC or inflate failure, never a crash */
    z.data[85] ^= 0xff; /* inside u.data's deflated bytes (its local header ends at 82) */
    ck_assert_int_lt(gatrec__zip_extract_mem(z.data, z.len, dir, "damaged", NULL), 0);
    ck_assert_status(gatrec__zip_extract_mem("PK", 2, dir, "short", NULL), GATREC_EFORMAT);
    gatrec__buf_free(&z);
    free(zpath);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_unzip_refuses_escaping_names)
{
    static const char *names[] = {"../evil", "/abs/evil", "a/../../evil", "a\\evil", "./x"};
    char *dir = make_temp_dir();
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        entry e = {names[k], "x", 0};
        gatrec__buf z = build_zip(&e, 1);
        ck_assert_status(gatrec__zip_extract_mem(z.data, z.len, dir, "evil.zip", NULL), GATREC_EFORMAT);
        ck_assert_error_mentions("not a safe relative path");
        gatrec__buf_free(&z);
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

/* A one-shot HTTP server on 127.0.0.1 answering every request with a fixed response. */
typedef struct server {
    int fd, port, requests;
    const char *status;
    gatrec__buf body;
    pthread_t thread;
} server;

static void *serve(void *arg)
{
    server *s = arg;
    for (;;) {
        char req[4096], head[256];
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        if (read(c, req, sizeof req) <= 0) {
            close(c);
            continue;
        }
        s->requests++;
        snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", s->status,
                 s->body.len);
        ck_assert_int_gt(write(c, head, strlen(head)), 0);
        if (s->body.len)
            ck_assert_int_gt(write(c, s->body.data, s->body.len), 0);
        close(c);
    }
}

static void server_start(server *s)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    char url[64];
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s->fd, 0);
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s->fd, 4), 0);
    ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/movielens", s->port);
    setenv("GATREC_FETCH_BASE_URL", url, 1);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, serve, s), 0);
    pthread_detach(s->thread);
}

START_TEST(test_fetch_rejects_wrong_checksum)
{
    static const entry e = {"ml-100k/u.data", "1\t1\t5\t1\n", 1};
    server s = {.status = "200 OK"};
    char *dir = make_temp_dir(), path[4200];
    s.body = build_zip(&e, 1);
    server_start(&s);
    ck_assert_status(gatrec_data_fetch("ml-100k", dir, NULL, NULL), GATREC_ECHECKSUM);
    ck_assert_error_mentions("nothing was unpacked");
    snprintf(path, sizeof path, "%s/ml-100k", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_eq(s.requests, 1);
    s.status = "404 Not Found";
    ck_assert_status(gatrec_data_fetch("ml-1m", dir, NULL, NULL), GATREC_ENETWORK);
    ck_assert_error_mentions("point GATREC_DATA_DIR at a folder holding the unpacked dataset"); /* issue 14, point 14 */
    ck_assert_error_mentions("404");
    ck_assert_status(gatrec_data_fetch("ml-20m", dir, NULL, NULL), GATREC_ENOTFOUND);
    /* already present: no request at all */
    snprintf(path, sizeof path, "%s/ml-100k", dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    free(write_file(path, "u.data", "1\t1\t5\t1\n", 0));
    ck_assert_ok(gatrec_data_fetch("ml-100k", dir, NULL, NULL));
    ck_assert_int_eq(s.requests, 2);
    close(s.fd);
    gatrec__buf_free(&s.body);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_data_directory)
{
    char buf[4096];
    setenv("GATREC_DATA_DIR", "/some/where", 1);
    ck_assert_ok(gatrec_data_dir(buf, sizeof buf));
    ck_assert_str_eq(buf, "/some/where");
    ck_assert_status(gatrec_data_dir(buf, 4), GATREC_EOVERFLOW);
    unsetenv("GATREC_DATA_DIR");
    setenv("HOME", "/home/x", 1);
    ck_assert_ok(gatrec_data_dir(buf, sizeof buf));
    ck_assert_str_eq(buf, "/home/x/.cache/gatrec");
}
END_TEST

Suite *zip_suite(void)
{
    Suite *s = suite_create("fetch");
    TCase *t = tcase_create("zip");
    tcase_add_test(t, test_unzip_stored_and_deflated);
    tcase_add_test(t, test_unzip_refuses_escaping_names);
    tcase_add_test(t, test_fetch_rejects_wrong_checksum);
    tcase_add_test(t, test_data_directory);
    suite_add_tcase(s, t);
    return s;
}
