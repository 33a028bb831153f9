/* Dumps what the numpy oracle (test/ease_oracle.py) recomputes independently: a random SPD
 * matrix with its Cholesky factor from gatrec__cholesky(), and a random rating graph with the
 * scores of a trained EASE model for every user (x_u B). Sizes cross the 256 block of the
 * factorisation. */
#include <stdio.h>
#include <stdlib.h>

#include "../lib/kernels/dense.h"
#include "gatrec.h"

#define N 300     /* the SPD matrix */
#define USERS 260
#define ITEMS 530
#define LAMBDA 7.5f

int main(void)
{
    float *a = malloc(N * N * sizeof *a), *x = malloc(N * N * sizeof *x);
    int32_t *u = malloc(USERS * 40 * sizeof *u), *it = malloc(USERS * 40 * sizeof *it), *all = malloc(ITEMS * sizeof *all);
    float *r = malloc(USERS * 40 * sizeof *r), *s = malloc(ITEMS * sizeof *s);
    gatrec_graph *g;
    gatrec_model *m;
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    size_t n = 0;
    srand(3);
    for (size_t k = 0; k < N * N; k++)
        x[k] = (float)rand() / RAND_MAX - 0.5f;
    gatrec__sgemm(1, 0, 1, N, N, N, 1.0f, x, N, 1, x, N, 1, 0.0f, a, N);
    for (size_t i = 0; i < N; i++)
        a[i * N + i] += 1.0f;
    printf("spd %d\n", N);
    for (size_t k = 0; k < N * N; k++)
        printf("%.9g%c", a[k], k % N == N - 1 ? '\n' : ' ');
    if (gatrec__cholesky(2, N, a))
        return 1;
    printf("chol %d\n", N);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            printf("%.9g%c", j <= i ? a[i * N + j] : 0.0f, j == N - 1 ? '\n' : ' ');
    /* a skewed random graph: user v rates up to 40 items drawn with a preference for low ids */
    for (int32_t v = 0; v < USERS; v++) {
        int cnt = 5 + rand() % 35;
        unsigned char seen[ITEMS] = {0};
        for (int k = 0; k < cnt; k++) {
            int32_t i = (int32_t)((double)rand() / RAND_MAX * (double)rand() / RAND_MAX * (ITEMS - 1));
            if (seen[i])
                continue;
            seen[i] = 1;
            u[n] = v, it[n] = i, r[n++] = (float)(1 + rand() % 5);
        }
    }
    if (gatrec_graph_from_edges(USERS, ITEMS, n, u, it, r, NULL, &g))
        return 1;
    o.kind = GATREC_MODEL_EASE;
    o.lambda = LAMBDA;
    if (gatrec_model_train(g, &o, &m)) {
        fprintf(stderr, "ease_dump: %s\n", gatrec_last_error());
        return 1;
    }
    printf("ease %d %d %zu %g\n", USERS, ITEMS, n, (double)LAMBDA);
    for (size_t e = 0; e < n; e++)
        printf("%d %d %g\n", u[e], it[e], (double)r[e]);
    for (int32_t i = 0; i < ITEMS; i++)
        all[i] = i;
    for (int32_t v = 0; v < USERS; v++) {
        if (gatrec_model_score(m, v, all, ITEMS, s))
            return 1;
        for (int32_t i = 0; i < ITEMS; i++)
            printf("%.9g%c", s[i], i == ITEMS - 1 ? '\n' : ' ');
    }
    gatrec_model_free(m);
    gatrec_graph_free(g);
    free(a), free(x), free(u), free(it), free(all), free(r), free(s);
    return 0;
}
