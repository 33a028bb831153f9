/* Seeded synthetic rating logs shaped like MovieLens (issue 15), for the benchmarks and
 * docs/scale.md: users x items x ratings at the scale asked, with
 *   - user activity: every user at least 20 ratings (as in MovieLens) plus a log-normal excess
 *     whose spread is fitted to the published median/mean ratio and which is capped at the
 *     published maximum, scaled so that the degrees add up to the published total;
 *   - item popularity: log-normal weights (spread fitted to the published item median/mean);
 *   - a planted low-rank taste: each user a latent x_u and each item a latent y_i (rank 16,
 *     Gaussian); a user draws distinct items by popularity and keeps item i with probability
 *     min(1, exp(beta (<x_u, y_i> - 1))), so which popular items a user rates follows taste;
 *   - stars 1..5: the quantiles of <x_u, y_i> + noise mapped onto MovieLens-1M's histogram
 *     (5.6%, 10.8%, 26.1%, 34.9%, 22.6%), so stars and choices say the same thing.
 * Every draw is a function of (seed, stream, counter): the log does not depend on the order in
 * which anything else runs. No MovieLens data is read or copied. */
#ifndef GATREC_BENCH_SYNTH_LOG_H
#define GATREC_BENCH_SYNTH_LOG_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct synth_spec {
    const char *name;
    size_t users, items, ratings;
    size_t user_max;    /* the most ratings one user gives (published maximum) */
    size_t item_cap;    /* caps an item's weight at item_cap / ratings of the total (fitted to the maximum) */
    double user_spread; /* sigma of the log-normal excess over 20 ratings */
    double item_spread; /* sigma of the log-normal item popularity */
    int rank;           /* planted taste dimensions */
    double beta;        /* how strongly taste steers the choice */
    uint64_t seed;
} synth_spec;

/* The shapes of issue 15. Published figures (GroupLens): ML-1M 6,040 users, 3,706 items,
 * 1,000,209 ratings, per user median 96 / mean 165.6 / max 2,314, per item median 123.5 / mean
 * 269.9; ML-20M 138,493 users, 26,744 items, 20,000,263 ratings, per user median 68 / mean 144.4 /
 * max 9,254, per item median 18 / mean 747.8. The 100M log keeps ML-20M's ratios at five times
 * the users and items. The spreads and weight caps were fitted so that the generated medians and
 * maxima come near the published ones (bench_synth prints them; docs/scale.md has both). */
static const synth_spec SYNTH_ML1M = {"ML-1M-shaped", 6040, 3706, 1000209, 2314, 8000, 1.14, 1.75, 16, 3.0, 1};
static const synth_spec SYNTH_ML20M = {"ML-20M-shaped", 138493, 26744, 20000263, 9254, 160000, 1.38, 3.5, 16, 3.0, 2};
static const synth_spec SYNTH_100M = {"100M-rating", 692465, 133720, 100001315, 9254, 800000, 1.38, 3.5, 16, 3.0, 3};

static inline uint64_t synth_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* uniform in [0, 1) from (seed, stream, counter) */
static inline double synth_u01(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return (double)(synth_mix(seed ^ synth_mix(stream * 0x632be59bd9b4e019ull + counter)) >> 11) * 0x1p-53;
}

static inline double synth_normal(uint64_t seed, uint64_t stream, uint64_t counter)
{
    double a = synth_u01(seed, stream, 2 * counter) + 1e-300, b = synth_u01(seed, stream, 2 * counter + 1);
    return sqrt(-2.0 * log(a)) * cos(6.283185307179586 * b);
}

typedef struct synth_key {
    double key;
    float s;
    int32_t item;
} synth_key;

static int synth_cmp_key(const void *a, const void *b) /* descending key */
{
    double x = ((const synth_key *)a)->key, y = ((const synth_key *)b)->key;
    return (x < y) - (x > y);
}

static int synth_cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int synth_cmp_double_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* the users' degrees: 20 + c exp(spread z), capped, with c found by bisection so that they add up */
static void synth_degrees(const synth_spec *spec, size_t *deg)
{
    size_t U = spec->users, cap = spec->user_max < spec->items ? spec->user_max : spec->items;
    double lo = 0, hi = (double)cap, want = (double)(spec->ratings - 20 * U);
    for (int it = 0; it < 200; it++) {
        double c = 0.5 * (lo + hi), sum = 0;
        for (size_t a = 0; a < U; a++)
            sum += fmin(c * exp(spec->user_spread * synth_normal(spec->seed, 3, a)), (double)(cap - 20));
        if (sum < want)
            lo = c;
        else
            hi = c;
    }
    size_t total = 0;
    for (size_t a = 0; a < U; a++) {
        double x = fmin(lo * exp(spec->user_spread * synth_normal(spec->seed, 3, a)), (double)(cap - 20));
        deg[a] = 20 + (size_t)x;
        total += deg[a];
    }
    for (size_t a = 0; total < spec->ratings; a = (a + 1) % U) /* the rounding's remainder */
        if (deg[a] < cap)
            deg[a]++, total++;
}

/* The log of `spec`: n ratings (user, item, stars), users 0..users-1 and items 0..items-1 (item 0
 * the most popular). Returns 0, or -1 when out of memory. */
static int synth_log(const synth_spec *spec, int32_t **users, int32_t **items, float **stars, size_t *n)
{
    size_t U = spec->users, I = spec->items, N = spec->ratings, k = (size_t)spec->rank, e = 0;
    double *cdf = malloc(I * sizeof *cdf), total = 0;
    /* room for one more rating per item: an item nobody drew gets one (MovieLens lists rated items) */
    float *x = malloc(U * k * sizeof *x), *y = malloc(I * k * sizeof *y), *score = malloc((N + I) * sizeof *score);
    float *sorted = NULL, *r = malloc((N + I) * sizeof *r);
    size_t *deg = malloc(U * sizeof *deg);
    int32_t *u = malloc((N + I) * sizeof *u), *it = malloc((N + I) * sizeof *it), *mark = malloc(I * sizeof *mark);
    synth_key *key = malloc(I * sizeof *key);
    int rc = -1;
    if (!cdf || !x || !y || !score || !deg || !u || !it || !mark || !r || !key)
        goto done;
    for (size_t i = 0; i < I; i++)
        cdf[i] = exp(spec->item_spread * synth_normal(spec->seed, 7, i));
    qsort(cdf, I, sizeof *cdf, synth_cmp_double_desc); /* item 0 the most popular */
    for (int pass = 0; pass < 50; pass++) { /* no item's share above item_cap / ratings */
        double sum = 0, cap;
        for (size_t i = 0; i < I; i++)
            sum += cdf[i];
        cap = sum * (double)spec->item_cap / (double)N;
        for (size_t i = 0; i < I && cdf[i] > cap; i++)
            cdf[i] = cap;
    }
    for (size_t i = 0; i < I; i++)
        total += cdf[i], cdf[i] = total;
    for (size_t v = 0; v < U * k; v++)
        x[v] = (float)(synth_normal(spec->seed, 1, v) / sqrt((double)k));
    for (size_t v = 0; v < I * k; v++)
        y[v] = (float)(synth_normal(spec->seed, 2, v) / sqrt((double)k) * 1.7);
    synth_degrees(spec, deg);
    for (size_t i = 0; i < I; i++)
        mark[i] = -1;
    for (size_t a = 0; a < U; a++) {
        size_t want = deg[a], got = 0;
        const float *xu = x + a * k;
        if (want > I / 16) { /* a heavy user: the same law without replacement (Gumbel top-k) */
            for (size_t j = 0; j < I; j++) {
                double s = 0, g = -log(-log(synth_u01(spec->seed, 100 + 2 * a, j) + 1e-300) + 1e-300);
                for (size_t c = 0; c < k; c++)
                    s += (double)xu[c] * y[j * k + c];
                double w = (cdf[j] - (j ? cdf[j - 1] : 0.0)) * fmin(1.0, exp(spec->beta * (s - 1.0)));
                key[j] = (synth_key){log(w) + g, (float)s, (int32_t)j};
            }
            qsort(key, I, sizeof *key, synth_cmp_key);
            for (size_t j = 0; j < want; j++, e++) {
                u[e] = (int32_t)a;
                it[e] = key[j].item;
                score[e] = key[j].s + (float)(0.35 * synth_normal(spec->seed, 5, e));
            }
            continue;
        }
        for (uint64_t t = 0; got < want; t++) {
            double p = synth_u01(spec->seed, 101 + 2 * a, 2 * t) * total;
            size_t lo = 0, hi = I - 1;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (cdf[mid] < p)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (mark[lo] == (int32_t)a)
                continue;
            double s = 0;
            for (size_t c = 0; c < k; c++)
                s += (double)xu[c] * y[lo * k + c];
            /* taste steers the choice; after many refusals (a narrow user) anything goes */
            if (t < 64 * want && synth_u01(spec->seed, 101 + 2 * a, 2 * t + 1) >= exp(spec->beta * (s - 1.0)))
                continue;
            mark[lo] = (int32_t)a;
            u[e] = (int32_t)a;
            it[e] = (int32_t)lo;
            score[e] = (float)(s + 0.35 * synth_normal(spec->seed, 5, e));
            e++;
            got++;
        }
    }
    for (size_t i = 0; i < I; i++)
        mark[i] = 0;
    for (size_t j = 0; j < e; j++)
        mark[it[j]] = 1;
    for (size_t i = 0; i < I; i++) {
        if (mark[i])
            continue;
        size_t a = (size_t)(synth_u01(spec->seed, 8, i) * (double)U);
        double s = 0;
        for (size_t c = 0; c < k; c++)
            s += (double)x[a * k + c] * y[i * k + c];
        u[e] = (int32_t)a, it[e] = (int32_t)i, score[e] = (float)(s + 0.35 * synth_normal(spec->seed, 5, e)), e++;
    }
    /* stars: the score's quantiles onto ML-1M's histogram */
    if (!(sorted = malloc(e * sizeof *sorted)))
        goto done;
    memcpy(sorted, score, e * sizeof *sorted);
    qsort(sorted, e, sizeof *sorted, synth_cmp_float);
    {
        static const double share[4] = {0.056, 0.164, 0.425, 0.774}; /* cumulative: 1, 2, 3, 4 stars */
        float cut[4];
        for (int q = 0; q < 4; q++)
            cut[q] = sorted[(size_t)(share[q] * (double)(e - 1))];
        for (size_t j = 0; j < e; j++) {
            int s = 1;
            while (s < 5 && score[j] > cut[s - 1])
                s++;
            r[j] = (float)s;
        }
    }
    *users = u, *items = it, *stars = r, *n = e;
    u = it = NULL, r = NULL;
    rc = 0;
done:
    free(cdf), free(x), free(y), free(score), free(sorted), free(deg), free(u), free(it), free(mark), free(r);
    free(key);
    return rc;
}

#endif
