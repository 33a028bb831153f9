/* gatrec serve (examples/serve, docs/serve.md): every route with good and bad input, reloads
 * (SIGHUP, the admin route, a damaged file kept out), reloads under load without a failed request,
 * slow and vanishing clients, and SIGTERM's drain. The server runs as a child on a free loopback
 * port, on models of the generator's shop (no MovieLens needed). */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_util.h"
#include "llm_server.h"

static char work[4096]; /* the shop and its models, made once for every test */

/* Runs a shell command; fails the test when it fails */
static void sh(const char *cmd)
{
    int st = system(cmd);
    ck_assert_msg(st == 0, "failed (%d): %s", st, cmd);
}

/* The serve program beside $GATREC_CLI, or NULL (libmicrohttpd was missing at build time) */
static const char *serve_program(void)
{
    static char path[4200];
    const char *cli = getenv("GATREC_CLI");
    struct stat st;
    if (!cli)
        return NULL;
    snprintf(path, sizeof path, "%.*s/gatrec-serve", (int)(strrchr(cli, '/') - cli), cli);
    return stat(path, &st) == 0 ? path : NULL;
}

#define SKIP_WITHOUT_SERVE()                                                                              \
    do {                                                                                                  \
        if (!serve_program()) {                                                                           \
            printf("SKIP %s: gatrec-serve was not built (apt-get install libmicrohttpd-dev)\n", __func__); \
            return;                                                                                       \
        }                                                                                                 \
    } while (0)

static void make_shop(void)
{
    const char *cli = getenv("GATREC_CLI"), *synth = getenv("GATREC_SYNTH");
    char cmd[16384];
    char *dir;
    if (!serve_program() || !cli || !synth)
        return;
    dir = make_temp_dir();
    snprintf(work, sizeof work, "%s", dir);
    free(dir);
    snprintf(cmd, sizeof cmd,
             "set -e; cd '%s'; '%s' --generic . small > /dev/null; "
             "'%s' data import --events events.csv --user-column customer --item-column sku --weight-column plays "
             "--time-column when --items items.csv --domain products --out shop > /dev/null; "
             "'%s' train --dataset ./shop --split random:0.2 --model ease --out ease.gatrec > /dev/null; "
             "'%s' train --dataset ./shop --split random:0.2 --model pop --out pop.gatrec > /dev/null; "
             "cp ease.gatrec served.gatrec",
             work, synth, cli, cli, cli);
    if (system(cmd) != 0)
        work[0] = '\0';
}

static void drop_shop(void)
{
    if (work[0])
        rm_tree(work);
}

typedef struct server {
    pid_t pid;
    int port;
} server;

/* gatrec serve on the served model, on a free port read from its first line */
static server start(const char *extra)
{
    char cmd[8192], line[512] = "";
    server s = {0, 0};
    int fd[2];
    FILE *f;
    ck_assert_msg(work[0], "the shop could not be made (bench_synth, gatrec data import, train)");
    ck_assert_int_eq(pipe(fd), 0);
    if ((s.pid = fork()) == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        snprintf(cmd, sizeof cmd, "cd '%s' && exec '%s' serve --model served.gatrec --listen 127.0.0.1:0 %s 2>serve.log",
                 work, getenv("GATREC_CLI"), extra);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    f = fdopen(fd[0], "r");
    ck_assert_msg(fgets(line, sizeof line, f) != NULL, "gatrec serve said nothing (see %s/serve.log)", work);
    fclose(f);
    ck_assert_msg(sscanf(strstr(line, "127.0.0.1:") ? strstr(line, "127.0.0.1:") + 10 : "", "%d", &s.port) == 1,
                  "no port in: %s", line);
    return s;
}

/* SIGTERM, and its exit status (with its log when it is not 0) */
static int stop(server s)
{
    char path[4200], *log;
    int st, rc;
    kill(s.pid, SIGTERM);
    ck_assert_int_eq(waitpid(s.pid, &st, 0), s.pid);
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (rc) {
        snprintf(path, sizeof path, "%s/serve.log", work);
        log = slurp(path);
        printf("gatrec serve exited %d; its log:\n%.6000s\n", rc, log ? log : "(none)");
        free(log);
    }
    return rc;
}

static size_t gather(char *p, size_t size, size_t n, void *ctx)
{
    char **buf = ctx;
    size_t old = *buf ? strlen(*buf) : 0;
    char *b = realloc(*buf, old + size * n + 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b + old, p, size * n);
    b[old + size * n] = '\0';
    *buf = b;
    return size * n;
}

/* One request: its body (free it) and *status (0 when the connection failed) */
static char *http(const server *s, const char *method, const char *path, const char *body, long *status)
{
    CURL *c = curl_easy_init();
    char url[4300], *out = calloc(1, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, gather);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    *status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    return out;
}

static void expect(const server *s, const char *method, const char *path, const char *body, long status,
                   const char *needle)
{
    long st;
    char *out = http(s, method, path, body, &st);
    ck_assert_msg(st == status && (!needle || strstr(out, needle)), "%s %s: %ld (expected %ld), said: %.600s", method,
                  path, st, status, out);
    free(out);
}

/* Replace the served file whole (as a deploy would: a copy, then a rename) */
static void serve_file(const char *name)
{
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "cd '%s' && cp %s next.tmp && mv next.tmp served.gatrec", work, name);
    sh(cmd);
}

START_TEST(every_route)
{
    server s;
    SKIP_WITHOUT_SERVE();
    serve_file("ease.gatrec");
    s = start("--threads 2");
    expect(&s, "GET", "/healthz", NULL, 200, "\"status\":\"ok\"");
    expect(&s, "GET", "/v1/model", NULL, 200, "\"kind\":\"ease\"");
    expect(&s, "GET", "/v1/recommend?user=cust-000002&k=3", NULL, 200, "\"user_id\":\"cust-000002\"");
    expect(&s, "GET", "/v1/recommend?user=cust-000002&k=3", NULL, 200, "\"rank\":3,\"item_id\":\"sku-");
    expect(&s, "GET", "/v1/recommend?user=cust-000002&k=2&only=sku-00001,sku-00002", NULL, 200, "\"rank\":2");
    expect(&s, "GET", "/v1/recommend?user=cust-000002&k=900&exclude=nope", NULL, 200, "\"justification\":\"because");
    expect(&s, "GET", "/v1/similar?item=sku-00040&k=2", NULL, 200, "\"similar\":[{\"rank\":1");
    expect(&s, "POST", "/v1/recommend", "{\"rated\": [[\"sku-00040\", 5], [\"sku-00005, \\u00e9dition \\\"deluxe\\\"\", 2]], "
           "\"text\": \"bold\", \"k\": 2}", 200, "\"user_id\":null,\"recommendations\":[{\"rank\":1");
    expect(&s, "POST", "/v1/explain", "{\"user\": \"cust-000002\", \"item\": \"sku-00022\"}", 200,
           "\"justified_by\":\"template\"");
    expect(&s, "GET", "/metrics", NULL, 200, "gatrec_requests_total{route=\"recommend\"} 4");
    /* bad input: 400 with a message; unknown routes 404, wrong methods 405 */
    expect(&s, "GET", "/v1/recommend?user=nobody", NULL, 400, "unknown user 'nobody'");
    expect(&s, "GET", "/v1/recommend?user=cust-000002&k=0", NULL, 400, "k must be a whole number from 1 to 1000");
    expect(&s, "GET", "/v1/recommend?user=cust-000002&k=1001", NULL, 400, "k must be");
    expect(&s, "GET", "/v1/recommend?user=cust-000002&only=nope", NULL, 400, "unknown item 'nope'");
    expect(&s, "GET", "/v1/recommend", NULL, 400, "give the user");
    expect(&s, "GET", "/v1/similar?item=nope", NULL, 400, "unknown item");
    expect(&s, "POST", "/v1/recommend", "{\"rated\": [[\"sku-00040\"", 400, "malformed JSON");
    expect(&s, "POST", "/v1/recommend", "[1, 2]", 400, "must be a JSON object");
    expect(&s, "POST", "/v1/recommend", "{\"rated\": [[\"nope\", 5]]}", 400, "[0]: unknown item 'nope'");
    expect(&s, "POST", "/v1/recommend", "{\"rated\": [[\"sku-00040\", \"five\"]]}", 400, "not an [item, stars] pair");
    expect(&s, "POST", "/v1/recommend", "{\"rated\": [[\"sku-00040\", 5], [\"sku-00040\", 4]]}", 400, "rated twice");
    expect(&s, "POST", "/v1/recommend", "{\"k\": 0}", 400, "k\\\" must be");
    expect(&s, "POST", "/v1/explain", "{\"user\": \"\xff\", \"item\": 1}", 400, "malformed JSON");
    /* a message quoting bytes that are not UTF-8 is still JSON (found by make fuzz) */
    expect(&s, "POST", "/v1/recommend", "{\"rated\": [[\"b,\\\xe2\x9c\xa3\xdd\", 1]]}", 400, "malformed JSON");
    expect(&s, "POST", "/v1/explain", "{\"user\": 1}", 400, "ID, \\\"item\\\": ID}");
    {
        char *big = malloc(70000);
        memset(big, ' ', 69999);
        big[0] = '{';
        big[69998] = '}';
        big[69999] = '\0';
        expect(&s, "POST", "/v1/recommend", big, 400, "the body is over 65536 bytes");
        free(big);
    }
    expect(&s, "GET", "/v2/anything", NULL, 404, "no route /v2/anything");
    expect(&s, "DELETE", "/v1/model", NULL, 405, "does not take DELETE");
    expect(&s, "GET", "/metrics", NULL, 200, "gatrec_request_errors_total{route=\"recommend_new_user\"} 8");
    /* a new user's request kept nothing: the model has the users it had */
    expect(&s, "GET", "/v1/model", NULL, 200, "\"users\":1200");
    /* reloads: the admin route with a new file, a damaged file kept out, SIGHUP */
    serve_file("pop.gatrec");
    expect(&s, "POST", "/v1/admin/reload", "", 200, "\"reloaded\":true");
    expect(&s, "GET", "/v1/model", NULL, 200, "\"kind\":\"pop\"");
    {
        char cmd[8400];
        snprintf(cmd, sizeof cmd, "cd '%s' && head -c 2000 ease.gatrec > next.tmp && mv next.tmp served.gatrec", work);
        sh(cmd);
    }
    expect(&s, "POST", "/v1/admin/reload", "", 500, "stays");
    expect(&s, "GET", "/v1/model", NULL, 200, "\"kind\":\"pop\"");
    expect(&s, "GET", "/v1/recommend?user=cust-000002&k=1", NULL, 200, "\"rank\":1");
    serve_file("ease.gatrec");
    kill(s.pid, SIGHUP);
    for (int t = 0; t < 100; t++) { /* the reload is the main thread's: wait for it */
        long st;
        char *out = http(&s, "GET", "/v1/model", NULL, &st);
        int done = strstr(out, "\"kind\":\"ease\"") != NULL;
        free(out);
        if (done)
            break;
        usleep(50000);
    }
    expect(&s, "GET", "/v1/model", NULL, 200, "\"serial\":3");
    ck_assert_int_eq(stop(s), 0);
}
END_TEST

START_TEST(admin_route_needs_the_token)
{
    server s;
    SKIP_WITHOUT_SERVE();
    serve_file("ease.gatrec");
    s = start("--threads 1 --admin-token 0123456789abcdef0123");
    expect(&s, "POST", "/v1/admin/reload", "", 403, "Authorization: Bearer");
    ck_assert_int_eq(stop(s), 0);
}
END_TEST

static char *justify(const char *body, void *ctx)
{
    (void)body, (void)ctx;
    return strdup("{\"justification\": \"Another calm, modern piece, as the ones you played.\"}");
}

/* Started with an LLM endpoint, /v1/explain answers in the LLM's words; when the endpoint fails,
 * in the template's, saying why */
START_TEST(explain_with_an_llm)
{
    llm_server *l;
    server s;
    char extra[4800];
    SKIP_WITHOUT_SERVE();
    l = llm_server_start();
    llm_server_set_chat(l, justify, NULL);
    serve_file("ease.gatrec");
    snprintf(extra, sizeof extra, "--threads 2 --llm %s --cache %s/llm-cache", llm_server_url(l), work);
    s = start(extra);
    expect(&s, "POST", "/v1/explain", "{\"user\": \"cust-000002\", \"item\": \"sku-00022\"}", 200,
           "\"justification\":\"Another calm, modern piece, as the ones you played.\",\"justified_by\":\"llm\"");
    ck_assert_uint_ge(llm_server_requests(l), 1);
    llm_server_set_failure(l, 500, "down");
    expect(&s, "POST", "/v1/explain", "{\"user\": \"cust-000003\", \"item\": \"sku-00022\"}", 200,
           "\"justified_by\":\"template\"");
    expect(&s, "POST", "/v1/explain", "{\"user\": \"cust-000003\", \"item\": \"sku-00022\"}", 200, "\"llm_note\":");
    ck_assert_int_eq(stop(s), 0);
    llm_server_stop(l);
}
END_TEST

typedef struct loader {
    server *s;
    atomic_int *stop;
    long ok, failed;
    char first_failure[256];
} loader;

static void *load(void *arg)
{
    loader *l = arg;
    static const char *const paths[] = {"/v1/recommend?user=cust-000007&k=10", "/v1/similar?item=sku-00003&k=5",
                                        "/v1/model"};
    for (unsigned n = 0; !atomic_load(l->stop); n++) {
        long st;
        char *out = n % 5 == 4 ? http(l->s, "POST", "/v1/recommend", "{\"rated\": [[\"sku-00010\", 4]], \"k\": 5}", &st)
                               : http(l->s, "GET", paths[n % 3], NULL, &st);
        if (st == 200) {
            l->ok++;
        } else if (!l->failed++) {
            snprintf(l->first_failure, sizeof l->first_failure, "%ld: %.200s", st, out);
        }
        free(out);
    }
    return NULL;
}

/* 4 clients ask without pause while the file changes and is reloaded 20 times: every answer is
 * a 200, and the last model is the one served at the end */
START_TEST(reload_under_load)
{
    server s;
    pthread_t t[4];
    loader l[4];
    atomic_int halt = 0;
    SKIP_WITHOUT_SERVE();
    serve_file("ease.gatrec");
    s = start("--threads 4");
    for (int k = 0; k < 4; k++) {
        memset(&l[k], 0, sizeof l[k]);
        l[k].s = &s;
        l[k].stop = &halt;
        ck_assert_int_eq(pthread_create(&t[k], NULL, load, &l[k]), 0);
    }
    for (int r = 0; r < 20; r++) {
        serve_file(r % 2 ? "ease.gatrec" : "pop.gatrec");
        expect(&s, "POST", "/v1/admin/reload", "", 200, "\"reloaded\":true");
        usleep(20000);
    }
    atomic_store(&halt, 1);
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(pthread_join(t[k], NULL), 0);
        ck_assert_msg(l[k].failed == 0, "client %d: %ld of %ld requests failed (first: %s)", k, l[k].failed,
                      l[k].ok + l[k].failed, l[k].first_failure);
        ck_assert_msg(l[k].ok > 0, "client %d got no answer", k);
    }
    expect(&s, "GET", "/v1/model", NULL, 200, "\"kind\":\"ease\"");
    expect(&s, "GET", "/v1/model", NULL, 200, "\"serial\":21");
    ck_assert_int_eq(stop(s), 0);
}
END_TEST

static int raw_connect(const server *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* A client that sends half a request and waits, and one that promises a body and vanishes: the
 * others are answered meanwhile, and SIGTERM still ends the server within its timeout */
START_TEST(slow_and_vanishing_clients)
{
    static const char half[] = "GET /v1/recommend?user=cust-0000", cut[] =
        "POST /v1/recommend HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"rated\": [";
    server s;
    int slow, gone;
    SKIP_WITHOUT_SERVE();
    serve_file("ease.gatrec");
    s = start("--threads 2 --timeout 2");
    slow = raw_connect(&s);
    ck_assert_int_eq(write(slow, half, sizeof half - 1), (ssize_t)(sizeof half - 1));
    gone = raw_connect(&s);
    ck_assert_int_eq(write(gone, cut, sizeof cut - 1), (ssize_t)(sizeof cut - 1));
    close(gone);
    for (int k = 0; k < 20; k++)
        expect(&s, "GET", "/v1/recommend?user=cust-000003&k=5", NULL, 200, "\"rank\":5");
    expect(&s, "GET", "/healthz", NULL, 200, NULL);
    ck_assert_int_eq(stop(s), 0); /* the slow client is cut at its timeout */
    close(slow);
}
END_TEST

Suite *serve_suite(void)
{
    Suite *s = suite_create("serve");
    TCase *t = tcase_create("http");
    tcase_add_unchecked_fixture(t, make_shop, drop_shop);
    tcase_set_timeout(t, 300);
    tcase_add_test(t, every_route);
    tcase_add_test(t, admin_route_needs_the_token);
    tcase_add_test(t, explain_with_an_llm);
    tcase_add_test(t, reload_under_load);
    tcase_add_test(t, slow_and_vanishing_clients);
    suite_add_tcase(s, t);
    return s;
}
