/* GAT training speed and memory: ML-100K fold u1 with the paper's network (64x4, 64x4, 64x1 on
 * 384-d inputs, full batch, hybrid loss), fast kernels on 1 and 2 threads and the reference
 * kernels; the same model in PyTorch (test/bench/torch_gat.py) on the same threads; and an
 * ML-1M-sized synthetic graph. Each configuration runs in its own process so that peak RSS is
 * its own. Prints figures; asserts nothing. */
#include <gatrec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

typedef struct timing {
    double sum;
    double t[64];
    int n;
} timing;

static int on_epoch(void *payload, const gatrec_epoch *ep)
{
    timing *t = payload;
    if (t->n < 64)
        t->t[t->n++] = ep->seconds;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One configuration in this process: prints "seconds_per_epoch peak_rss_kb epochs". */
static int run_one(const char *data, const char *kernels, int threads, int epochs)
{
    gatrec_graph *g = NULL;
    gatrec_model *m = NULL;
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    timing t = {0};
    if (strcmp(data, "ml-1m-synthetic") == 0) {
        int32_t *u, *i;
        float *r;
        synth_ml1m(&u, &i, &r);
        if (gatrec_graph_from_edges(USERS, ITEMS, EDGES, u, i, r, NULL, &g))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        free(u), free(i), free(r);
    } else {
        gatrec_dataset *ds;
        gatrec_split *s;
        if (gatrec_dataset_load_movielens(data, GATREC_MOVIELENS_AUTO, &ds) || gatrec_split_official(ds, "u1", &s) ||
            gatrec_graph_new(ds, s, NULL, &g))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        gatrec_split_free(s);
        gatrec_dataset_free(ds);
    }
    o.kind = GATREC_MODEL_GAT;
    o.layers = "64x4,64x4,64x1";
    o.dim = 384;
    o.epochs = epochs;
    o.negatives = 1; /* one negative per pair, as test/bench/torch_gat.py draws */
    o.patience = -1;
    o.threads = threads;
    o.kernels = kernels;
    o.on_epoch = on_epoch;
    o.payload = &t;
    if (gatrec_model_train(g, &o, &m))
        return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
    /* the median epoch after the first (which pays for first-touch page faults) */
    double *ts = t.n > 1 ? t.t + 1 : t.t;
    int n = t.n > 1 ? t.n - 1 : t.n;
    qsort(ts, (size_t)n, sizeof *ts, cmp_double);
    /* fold-in: a copy of user 0 (its training ratings) joins, then gets its top 10 */
    double fold_ms = 0;
    {
        const int32_t *items;
        const float *ratings;
        size_t count, got;
        int32_t idx, top[10];
        enum { REPS = 100 };
        gatrec_graph_user_items(g, 0, &items, &ratings, &count);
        double t0 = now();
        for (int r = 0; r < REPS; r++)
            if (gatrec_model_add_user(m, 1000000 + r, items, ratings, count, NULL, &idx) ||
                gatrec_model_recommend(m, idx, 10, top, NULL, &got))
                return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        fold_ms = (now() - t0) * 1e3 / REPS;
    }
    printf("%.4f %ld %d %.3f\n", ts[n / 2], peak_rss_kb(), t.n, fold_ms);
    gatrec_model_free(m);
    gatrec_graph_free(g);
    return 0;
}

static double fold_ms = -1;

/* Run a command that prints "seconds rss_kb [epochs fold_ms]" and read the figures. */
static int measure(const char *cmd, double *sec, long *rss)
{
    FILE *p = popen(cmd, "r");
    int epochs, ok = p && fscanf(p, "%lf %ld", sec, rss) == 2;
    if (ok && fscanf(p, "%d %lf", &epochs, &fold_ms) != 2)
        fold_ms = -1;
    if (p)
        pclose(p);
    return ok;
}

int main(int argc, char **argv)
{
    const char *d = getenv("GATREC_TEST_DATA"), *py = getenv("ORACLE_PYTHON");
    char dir[4096], cmd[8192];
    double s_fast2 = 0, s_fast1, s_ref, s_torch, s_1m;
    long r_fast2 = 0, r_fast1, r_ref, r_torch, r_1m;
    if (argc == 6 && strcmp(argv[1], "--one") == 0)
        return run_one(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
    snprintf(dir, sizeof dir, "%s/ml-100k", d && d[0] ? d : "../shared/data");
    printf("GAT training, paper network (64x4, 64x4, 64x1 on 384-d trainable inputs), full batch, BPR + cosine:\n");
    snprintf(cmd, sizeof cmd, "'%s' --one '%s' fast 2 8", argv[0], dir);
    if (!measure(cmd, &s_fast2, &r_fast2)) {
        printf("  ML-100K: skipped (no data at %s)\n", dir);
    } else {
        printf("  ML-100K u1, fast kernels, 2 threads:      %7.3f s/epoch, peak RSS %6.1f MB\n", s_fast2, r_fast2 / 1024.0);
        if (fold_ms >= 0)
            printf("  fold-in of a new user (its ratings through the trained layers) + its top 10: %.3f ms\n", fold_ms);
        snprintf(cmd, sizeof cmd, "'%s' --one '%s' fast 1 6", argv[0], dir);
        if (measure(cmd, &s_fast1, &r_fast1))
            printf("  ML-100K u1, fast kernels, 1 thread:       %7.3f s/epoch, peak RSS %6.1f MB\n", s_fast1,
                   r_fast1 / 1024.0);
        snprintf(cmd, sizeof cmd, "'%s' --one '%s' reference 1 2", argv[0], dir);
        if (measure(cmd, &s_ref, &r_ref))
            printf("  ML-100K u1, reference kernels, 1 thread:  %7.3f s/epoch, peak RSS %6.1f MB\n", s_ref,
                   r_ref / 1024.0);
        if (py && py[0]) {
            snprintf(cmd, sizeof cmd, "'%s' test/bench/torch_gat.py '%s/u1.base' 384 64x4,64x4,64x1 2 5", py, dir);
            if (measure(cmd, &s_torch, &r_torch))
                printf("  ML-100K u1, PyTorch (same model), 2 threads: %7.3f s/epoch, peak RSS %6.1f MB\n"
                       "    -> libgatrec is %.1fx faster per epoch with %.1fx less peak memory\n",
                       s_torch, r_torch / 1024.0, s_torch / s_fast2, (double)r_torch / (double)r_fast2);
            else
                printf("  PyTorch comparison FAILED: %s did not finish (its error is above)\n", cmd);
        } else {
            printf("  PyTorch comparison skipped (no python3 with torch: apt-get install python3-torch)\n");
        }
    }
    snprintf(cmd, sizeof cmd, "'%s' --one ml-1m-synthetic fast 2 4", argv[0]);
    if (measure(cmd, &s_1m, &r_1m))
        printf("  ML-1M-sized synthetic (%d users, %d items, %d ratings), fast, 2 threads: %.3f s/epoch, "
               "peak RSS %.1f MB\n",
               USERS, ITEMS, EDGES, s_1m, r_1m / 1024.0);
    return 0;
}
