/* gatrec serve under load (issue 25, docs/serve.md): GET /v1/recommend (a list with a template
 * reason per item, as the command line's --json) for random users of the generator's shop (1,200
 * users, 900 products; no MovieLens needed), attn and EASE, k = 10 and 50, at 1, 8 and 64
 * connections kept alive - throughput, p50 and p99 latency, failures - next to the same work done
 * in-process through the C API on one thread, so that the HTTP overhead is a ratio; then attn
 * top-10 at 8 connections while the model is reloaded every second, and 100 reloads in a row under
 * that load. The load generator is libcurl's multi interface on one thread. Prints figures;
 * asserts nothing.
 *
 *   bench_serve [SECONDS per measurement, default 3]
 *
 * The command line is $GATREC_CLI, else ../gatrec beside this program (gatrec-serve beside it). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "gatrec.h"
#include "synth.h"

#define MAX_CONNS 64

static char dir[64], cli[4096];

static int sh(const char *cmd)
{
    int st = system(cmd);
    if (st)
        fprintf(stderr, "bench_serve: failed: %s\n", cmd);
    return st;
}

typedef struct server {
    pid_t pid;
    int port;
} server;

static int start(server *s, const char *model)
{
    char cmd[8400], line[512] = "";
    int fd[2];
    FILE *f;
    if (pipe(fd))
        return -1;
    if ((s->pid = fork()) == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        snprintf(cmd, sizeof cmd, "cd %s && exec '%s' serve --model %s --listen 127.0.0.1:0 --threads 2 "
                 "--max-connections 256 2>>serve.log", dir, cli, model);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    f = fdopen(fd[0], "r");
    if (!fgets(line, sizeof line, f) || !strstr(line, "127.0.0.1:")) {
        fclose(f);
        return -1;
    }
    fclose(f);
    s->port = atoi(strstr(line, "127.0.0.1:") + 10);
    return 0;
}

static void stop(server *s)
{
    int st;
    kill(s->pid, SIGTERM);
    waitpid(s->pid, &st, 0);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p, (void)ctx;
    return size * n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reloads through the admin route every `every` seconds, up to `max`, until told to stop */
typedef struct reloader {
    int port;
    double every;
    long max, failed;
    atomic_long done;
    atomic_int stop;
} reloader;

static void *reloads(void *arg)
{
    reloader *r = arg;
    char url[128];
    double next = now() + r->every;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/admin/reload", r->port);
    while (!atomic_load(&r->stop) && r->done < r->max) {
        CURL *e;
        long code = 0;
        if (now() < next) {
            usleep(1000);
            continue;
        }
        e = curl_easy_init();
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        if (curl_easy_perform(e) != CURLE_OK || (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code), code != 200))
            r->failed++;
        curl_easy_cleanup(e);
        r->done++;
        next += r->every;
    }
    return NULL;
}

typedef struct result {
    double rps, p50_ms, p99_ms, seconds;
    long done, failed, reloads;
} result;

/* `conns` clients without pause for `seconds` against s, k items; reloads every `every` seconds
 * (0: none) through the admin route, at most max_reloads (seconds 0: until they are done) */
static result run(const server *s, int conns, int k, double seconds, double every, long max_reloads)
{
    CURLM *multi = curl_multi_init();
    CURL *h[MAX_CONNS];
    double *lat = malloc(sizeof *lat * 4000000), t0 = now(), started[MAX_CONNS];
    long n = 0, failed = 0;
    char url[MAX_CONNS][256];
    reloader rl = {s->port, every, max_reloads, 0, 0, 0};
    pthread_t rt;
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    result r = {0};
    int running;
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conns);
    if (every > 0)
        pthread_create(&rt, NULL, reloads, &rl);
    for (int c = 0; c < conns; c++) {
        h[c] = curl_easy_init();
        curl_easy_setopt(h[c], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h[c], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h[c], CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(h[c], CURLOPT_PRIVATE, (char *)NULL + c);
    }
    for (int c = 0; c < conns; c++) {
        snprintf(url[c], sizeof url[c], "http://127.0.0.1:%d/v1/recommend?user=cust-%06d&k=%d", s->port,
                 (int)(synth_next(&rng) % 1200) + 1, k);
        curl_easy_setopt(h[c], CURLOPT_URL, url[c]);
        started[c] = now();
        curl_multi_add_handle(multi, h[c]);
    }
    for (;;) {
        CURLMsg *m;
        int left;
        curl_multi_perform(multi, &running);
        while ((m = curl_multi_info_read(multi, &left))) {
            char *priv;
            long code = 0;
            int c;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            c = (int)(priv - (char *)NULL);
            curl_easy_getinfo(h[c], CURLINFO_RESPONSE_CODE, &code);
            if (m->data.result != CURLE_OK || code != 200)
                failed++;
            else if (n < 4000000)
                lat[n++] = now() - started[c];
            curl_multi_remove_handle(multi, h[c]);
            if (now() - t0 < seconds || (seconds <= 0 && atomic_load(&rl.done) < rl.max)) {
                snprintf(url[c], sizeof url[c], "http://127.0.0.1:%d/v1/recommend?user=cust-%06d&k=%d", s->port,
                         (int)(synth_next(&rng) % 1200) + 1, k);
                curl_easy_setopt(h[c], CURLOPT_URL, url[c]);
                started[c] = now();
                curl_multi_add_handle(multi, h[c]);
            }
        }
        if (!running && now() - t0 >= seconds && (seconds > 0 || atomic_load(&rl.done) >= rl.max))
            break;
        curl_multi_poll(multi, NULL, 0, 5, NULL);
    }
    r.seconds = now() - t0;
    if (every > 0) {
        atomic_store(&rl.stop, 1);
        pthread_join(rt, NULL);
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    r.done = n;
    r.failed = failed + rl.failed;
    r.reloads = atomic_load(&rl.done);
    r.rps = n / r.seconds;
    r.p50_ms = n ? lat[n / 2] * 1e3 : 0;
    r.p99_ms = n ? lat[(size_t)(n * 0.99)] * 1e3 : 0;
    for (int c = 0; c < conns; c++)
        curl_easy_cleanup(h[c]);
    curl_multi_cleanup(multi);
    free(lat);
    return r;
}

/* The same work in-process: a list and a template reason per item, one thread; requests per second */
static double in_process(const char *model_path, const char *shop, int k, double seconds)
{
    gatrec_model *m;
    gatrec_dataset *ds = NULL;
    gatrec_request_options rules = GATREC_REQUEST_OPTIONS_INIT;
    int32_t items[64];
    rules.flags = GATREC_REQUEST_ALONE; /* as the service scores */
    float scores[64];
    uint64_t rng = 0x12345;
    long n = 0;
    double t0;
    if (gatrec_model_load(model_path, &m) || gatrec_dataset_load(shop, &ds))
        return 0;
    t0 = now();
    while (now() - t0 < seconds) {
        int32_t u = (int32_t)(synth_next(&rng) % gatrec_model_num_users(m));
        size_t got = 0;
        gatrec_model_recommend_request(m, u, (size_t)k, &rules, items, scores, &got);
        for (size_t j = 0; j < got; j++) {
            char *why = NULL;
            gatrec_model_explain(m, ds, u, items[j], &why);
            gatrec_string_free(why);
        }
        n++;
    }
    t0 = now() - t0;
    gatrec_model_free(m);
    gatrec_dataset_free(ds);
    return n / t0;
}

int main(int argc, char **argv)
{
    static const char *const models[] = {"attn", "ease"};
    char synth[4096], cmd[40000], serve[4200], path[200], shop[200];
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    struct stat st;
    setvbuf(stdout, NULL, _IOLBF, 0);
    bench_programs(argv[0], cli, synth, sizeof cli);
    { /* absolute: the commands run in the work directory */
        char abs[4096];
        if (realpath(cli, abs))
            snprintf(cli, sizeof cli, "%s", abs);
        if (realpath(synth, abs))
            snprintf(synth, sizeof synth, "%s", abs);
    }
    snprintf(serve, sizeof serve, "%.*s/gatrec-serve", (int)(strrchr(cli, '/') - cli), cli);
    if (stat(serve, &st) != 0) {
        printf("gatrec serve under load: skipped (gatrec-serve was not built: apt-get install libmicrohttpd-dev)\n");
        return 0;
    }
    if (!(seconds > 0))
        seconds = 3.0;
    if (!mkdtemp(strcpy(dir, "/tmp/gatrec-serve-XXXXXX")))
        return perror("mkdtemp"), 1;
    snprintf(cmd, sizeof cmd,
             "set -e; cd %s; '%s' --generic . small > /dev/null; "
             "'%s' data import --events events.csv --user-column customer --item-column sku --weight-column plays "
             "--time-column when --items items.csv --domain products --out shop > /dev/null; "
             "'%s' profiles generate --dataset ./shop --split random:0.2 --out p.jsonl > /dev/null; "
             "'%s' embed --dataset ./shop --profiles p.jsonl --embedder lsa --embedder-out e.bin --out f.tsv > /dev/null; "
             "'%s' train --dataset ./shop --split random:0.2 --model attn --epochs 5 --features f.tsv --embedder e.bin "
             "--out attn.gatrec > /dev/null; "
             "'%s' train --dataset ./shop --split random:0.2 --model ease --out ease.gatrec > /dev/null",
             dir, synth, cli, cli, cli, cli, cli);
    if (sh(cmd))
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(shop, sizeof shop, "%s/shop", dir);
    printf("gatrec serve under load: GET /v1/recommend (a list with a template reason per item) for random users "
           "of the generator's shop (1,200 users, 900 products); the server on 2 threads, one libcurl multi client "
           "on this machine's 2 cores too; %.0f s a measurement\n", seconds);
    printf("  %-5s %3s %6s %10s %9s %9s %7s %14s\n", "model", "k", "conns", "req/s", "p50 ms", "p99 ms", "failed",
           "in-process/s");
    for (size_t mi = 0; mi < 2; mi++)
        for (int k = 10; k <= 50; k += 40) {
            server s;
            double ip;
            snprintf(path, sizeof path, "%s/%s.gatrec", dir, models[mi]);
            ip = in_process(path, shop, k, seconds);
            snprintf(path, sizeof path, "%s.gatrec", models[mi]);
            if (start(&s, path))
                return fprintf(stderr, "bench_serve: gatrec serve did not start (see %s/serve.log)\n", dir), 1;
            for (int conns = 1; conns <= 64; conns *= 8) {
                result r = run(&s, conns, k, seconds, 0, 0);
                printf("  %-5s %3d %6d %10.0f %9.3f %9.3f %7ld %14.0f (HTTP: %.2fx the in-process rate)\n",
                       models[mi], k, conns, r.rps, r.p50_ms, r.p99_ms, r.failed, ip, r.rps / ip);
            }
            stop(&s);
        }
    {
        server s;
        result r;
        if (start(&s, "attn.gatrec"))
            return 1;
        r = run(&s, 8, 10, seconds * 3, 1.0, 1000);
        printf("  attn top-10, 8 connections, a reload every second: %.0f req/s, p50 %.3f ms, p99 %.3f ms, "
               "%ld reloads, %ld failed of %ld\n", r.rps, r.p50_ms, r.p99_ms, r.reloads, r.failed, r.done + r.failed);
        r = run(&s, 8, 10, 0, 0.02, 100);
        printf("  attn top-10, 8 connections, 100 reloads in a row (one every 20 ms, or as fast as they load): %.0f "
               "req/s, p99 %.3f ms, %ld reloads in %.1f s, %ld failed of %ld\n", r.rps, r.p99_ms, r.reloads, r.seconds,
               r.failed, r.done + r.failed);
        stop(&s);
    }
    printf("  (targets: >= 5,000 req/s for attn top-10 at 8 connections with p99 <= 5 ms; no failed request "
           "across 100 reloads; test/bench/bench_serve.c)\n");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    sh(cmd);
    curl_global_cleanup();
    return 0;
}
