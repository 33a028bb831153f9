/* A minimal fork-join helper: the library's only thread pool is "start, run, join". */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

int gatrec__default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

typedef struct block {
    void (*fn)(void *, size_t);
    void *ctx;
    size_t begin, end;
} block;

typedef struct shifted {
    void (*fn)(void *, size_t);
    void *ctx;
    size_t base;
} shifted;

static void run_shifted(void *ctx, size_t job)
{
    shifted *s = ctx;
    s->fn(s->ctx, s->base + job);
}

static void *run_block(void *arg)
{
    block *b = arg;
    for (size_t j = b->begin; j < b->end; j++)
        b->fn(b->ctx, j);
    return NULL;
}

#define MAX_THREADS 64

void gatrec__parallel(int threads, size_t njobs, void (*fn)(void *ctx, size_t job), void *ctx)
{
    block blocks[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    int started[MAX_THREADS];
    size_t nt = threads > 0 ? (size_t)threads : (size_t)gatrec__default_threads();
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    if (nt > njobs)
        nt = njobs;
    if (nt <= 1) {
        for (size_t j = 0; j < njobs; j++)
            fn(ctx, j);
        return;
    }
    for (size_t t = 0; t < nt; t++) {
        blocks[t] = (block){fn, ctx, njobs * t / nt, njobs * (t + 1) / nt};
        started[t] = t > 0 && pthread_create(&tids[t], NULL, run_block, &blocks[t]) == 0;
    }
    run_block(&blocks[0]);
    for (size_t t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            run_block(&blocks[t]);
    }
}

double gatrec__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void gatrec__parallel_range(int threads, size_t begin, size_t end, void (*fn)(void *ctx, size_t job), void *ctx)
{
    shifted s = {fn, ctx, begin};
    gatrec__parallel(threads, end - begin, run_shifted, &s);
}
