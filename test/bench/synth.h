/* Shared by the benchmark programs: a clock, peak RSS, and an ML-1M-sized synthetic graph. */
#ifndef GATREC_BENCH_SYNTH_H
#define GATREC_BENCH_SYNTH_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

enum { USERS = 6040, ITEMS = 3706, EDGES = 1000209 };

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static inline uint64_t synth_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* 6,040 users, 3,706 items, 1,000,209 distinct ratings 1..5: item popularity ~ 1 / rank^0.9,
 * a dense head of 600 active users drawing one rating in seven, the rest uniform. */
static inline void synth_ml1m(int32_t **users, int32_t **items, float **ratings)
{
    int32_t *u = malloc(EDGES * sizeof *u), *i = malloc(EDGES * sizeof *i);
    float *r = malloc(EDGES * sizeof *r);
    double *cdf = malloc(ITEMS * sizeof *cdf), sum = 0;
    unsigned char *seen = calloc((size_t)USERS * ITEMS, 1);
    uint64_t s = 88172645463325252ull;
    size_t e = 0;
    for (int k = 0; k < ITEMS; k++)
        sum += pow(k + 1, -0.9), cdf[k] = sum;
    while (e < EDGES) {
        int32_t user = (int32_t)(synth_next(&s) % USERS);
        if (user % 7 == 0)
            user = (int32_t)(synth_next(&s) % 600);
        double x = (double)(synth_next(&s) >> 11) / 9007199254740992.0 * sum;
        int lo = 0, hi = ITEMS - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (cdf[mid] < x)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (seen[(size_t)user * ITEMS + lo])
            continue;
        seen[(size_t)user * ITEMS + lo] = 1;
        u[e] = user, i[e] = lo, r[e] = (float)(1 + synth_next(&s) % 5), e++;
    }
    free(seen);
    free(cdf);
    *users = u;
    *items = i;
    *ratings = r;
}

#endif
