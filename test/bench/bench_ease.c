/* EASE's cost: the closed-form solve on BLIS (blocked Cholesky, triangular inverse, the lower
 * half of L^-T L^-1: n^3 flops in all) against the machine's sgemm rate on the same threads,
 * and whole trainings - ML-100K u1 when the data is present, an ML-1M-sized synthetic graph
 * (3,706 items) and 20,000 items (ML-20M's order). Each configuration runs in its own process
 * so its peak RSS is its own. Prints figures; asserts nothing. */
#include <gatrec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/kernels/dense.h"
#include "synth.h"

/* sgemm rate (GFLOP/s) on n x n x n, the best of three */
static double sgemm_rate(int threads, size_t n)
{
    float *a = malloc(n * n * sizeof *a), *c = malloc(n * n * sizeof *c);
    double best = 1e9;
    for (size_t k = 0; k < n * n; k++)
        a[k] = (float)(k % 7) - 3.0f;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        gatrec__sgemm(threads, 0, 1, n, n, n, 1.0f, a, n, 1, a, n, 1, 0.0f, c, n);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    free(a), free(c);
    return 2.0 * (double)n * n * n / best / 1e9;
}

/* A synthetic log: `users` users rating `per_user` items on average (Zipf-like items, 1..5). */
static gatrec_graph *synth_graph(size_t users, size_t items, size_t per_user)
{
    size_t n = users * per_user, e = 0;
    int32_t *u = malloc(n * sizeof *u), *it = malloc(n * sizeof *it);
    float *r = malloc(n * sizeof *r);
    double *cdf = malloc(items * sizeof *cdf), sum = 0;
    uint64_t s = 0x9E3779B97F4A7C15ull;
    unsigned char *seen = calloc(items, 1);
    gatrec_graph *g;
    for (size_t k = 0; k < items; k++)
        sum += pow((double)k + 1, -0.8), cdf[k] = sum;
    for (size_t v = 0; v < users; v++) {
        size_t cnt = 1 + synth_next(&s) % (2 * per_user - 1), got = 0;
        memset(seen, 0, items);
        for (size_t tries = 0; got < cnt && tries < 4 * cnt; tries++) {
            double x = (double)(synth_next(&s) >> 11) / 9007199254740992.0 * sum;
            size_t lo = 0, hi = items - 1;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (cdf[mid] < x)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (seen[lo] || e == n)
                continue;
            seen[lo] = 1, got++;
            u[e] = (int32_t)v, it[e] = (int32_t)lo, r[e++] = (float)(1 + synth_next(&s) % 5);
        }
    }
    if (gatrec_graph_from_edges(users, items, e, u, it, r, NULL, &g))
        g = NULL;
    free(u), free(it), free(r), free(cdf), free(seen);
    return g;
}

static int train(const char *what, gatrec_graph *g, int threads)
{
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    gatrec_model *m;
    gatrec_reclist *l;
    size_t n = gatrec_graph_num_items(g);
    o.kind = GATREC_MODEL_EASE;
    o.threads = threads;
    double t0 = now();
    if (!g || gatrec_model_train(g, &o, &m)) {
        fprintf(stderr, "bench_ease: %s\n", gatrec_last_error());
        return 1;
    }
    double dt = now() - t0;
    t0 = now();
    if (gatrec_model_recommend_all(m, 10, &l))
        return 1;
    double dr = now() - t0;
    printf("EASE, %s: %zu users, %zu items, %zu ratings, %d threads: trained in %.2f s (solve %.1f GFLOP), "
           "top 10 for every user %.2f s, peak RSS %.0f MB\n", what, gatrec_graph_num_users(g), n,
           gatrec_graph_num_edges(g), threads, dt, (double)n * n * n / 1e9, dr, peak_rss_kb() / 1024.0);
    gatrec_reclist_free(l);
    gatrec_model_free(m);
    return 0;
}

static int solve_only(size_t n, int threads)
{
    float *a = malloc(n * n * sizeof *a);
    uint64_t s = 7;
    for (size_t i = 0; i < n; i++) /* a diagonally dominant SPD matrix: the cost does not depend on it */
        for (size_t j = 0; j <= i; j++) {
            float v = i == j ? (float)n : (float)(synth_next(&s) % 1000) / 1000.0f;
            a[i * n + j] = a[j * n + i] = v;
        }
    double t0 = now();
    if (gatrec__spd_inverse(threads, n, a)) {
        fprintf(stderr, "bench_ease: %s\n", gatrec_last_error());
        return 1;
    }
    double dt = now() - t0, rate = sgemm_rate(threads, 2048);
    printf("SPD inverse of %zu x %zu (Cholesky + triangular inverse + L^-T L^-1), %d threads: %.2f s, %.1f GFLOP/s "
           "against sgemm's %.1f GFLOP/s on 2048^3 (%.0f%%), peak RSS %.0f MB\n", n, n, threads, dt,
           (double)n * n * n / dt / 1e9, rate, 100.0 * (double)n * n * n / dt / 1e9 / rate, peak_rss_kb() / 1024.0);
    free(a);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--solve") == 0)
        return solve_only((size_t)atol(argv[2]), 2);
    if (argc == 2 && strcmp(argv[1], "--ml1m") == 0)
        return train("ML-1M-sized synthetic", synth_graph(6040, 3706, 165), 2);
    if (argc == 2 && strcmp(argv[1], "--20k") == 0)
        return train("20,000 items (ML-20M's order), synthetic", synth_graph(60000, 20000, 80), 2);
    if (argc == 2 && strcmp(argv[1], "--ml100k") == 0) {
        const char *d = getenv("GATREC_TEST_DATA");
        char dir[4096];
        gatrec_dataset *ds;
        gatrec_split *sp;
        gatrec_graph *g;
        snprintf(dir, sizeof dir, "%s/ml-100k", d && d[0] ? d : "../shared/data");
        if (gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, &ds)) {
            printf("EASE, ML-100K: skipped (%s)\n", gatrec_last_error());
            return 0;
        }
        if (gatrec_split_official(ds, "u1", &sp) || gatrec_graph_new(ds, sp, NULL, &g))
            return 1;
        return train("ML-100K u1", g, 2);
    }
    /* each configuration in a process of its own */
    static const char *const runs[][2] = {{"--ml100k", NULL}, {"--ml1m", NULL}, {"--solve", "4096"},
                                          {"--20k", NULL}};
    for (size_t k = 0; k < sizeof runs / sizeof *runs; k++) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "'%s' %s %s", argv[0], runs[k][0], runs[k][1] ? runs[k][1] : "");
        fflush(stdout);
        if (system(cmd) != 0)
            return 1;
    }
    return 0;
}
