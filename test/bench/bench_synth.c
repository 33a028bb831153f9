/* The synthetic rating logs of test/bench/synth_log.h (issue 15): for each shape, the time to
 * generate it, its size, degree statistics and star histogram; on the ML-1M-shaped log, that the
 * planted structure is learnable: standard NDCG@10 of popularity, EASE and BPR-MF on a seeded
 * random 80/20 split. `bench_synth --100m` adds the 100M-rating log (about 3 GB);
 * `bench_synth --write DIR [ml1m|ml20m|100m]` writes a log in ML-1M's layout for the CLI;
 * `bench_synth --generic DIR [small|ml1m|ml20m]` writes it as an application's own data (string
 * ids, implicit events, a catalogue: gatrec data import, examples/own_data.sh).
 * Prints figures; asserts nothing. */
#include <gatrec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synth.h"
#include "synth_log.h"

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* min / median / max of n counts (sorted in place), and the share of the top 1% in the total */
static void degrees(const char *what, size_t *c, size_t n, size_t total)
{
    size_t top = 0, k = n / 100 ? n / 100 : 1;
    qsort(c, n, sizeof *c, cmp_size);
    for (size_t j = n - k; j < n; j++)
        top += c[j];
    printf("    %-5s ratings each: min %zu, median %.1f, mean %.1f, max %zu; the top 1%% hold %.1f%%\n", what, c[0],
           n % 2 ? (double)c[n / 2] : 0.5 * (double)(c[n / 2 - 1] + c[n / 2]), (double)total / (double)n, c[n - 1],
           100.0 * (double)top / (double)total);
}

static double ndcg10(const gatrec_dataset *ds, const gatrec_split *split, const gatrec_graph *g, int kind)
{
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    gatrec_eval_options eo = GATREC_EVAL_OPTIONS_INIT;
    gatrec_metrics m = {.version = GATREC_METRICS_VERSION};
    gatrec_model *model;
    gatrec_reclist *lists;
    o.kind = kind;
    o.threads = 2;
    if (kind == GATREC_MODEL_BPR)
        o.epochs = 20;
    if (gatrec_model_train(g, &o, &model) || gatrec_model_recommend_all(model, 10, &lists) ||
        gatrec_evaluate(ds, split, lists, &eo, &m)) {
        fprintf(stderr, "%s\n", gatrec_last_error());
        return -1;
    }
    gatrec_reclist_free(lists);
    gatrec_model_free(model);
    return m.ndcg;
}

static int one(const synth_spec *spec, int quality)
{
    int32_t *u, *i;
    float *r;
    size_t n, hist[6] = {0};
    double t0 = now();
    if (synth_log(spec, &u, &i, &r, &n))
        return fprintf(stderr, "%s: out of memory\n", spec->name), 1;
    double secs = now() - t0;
    size_t *ud = calloc(spec->users, sizeof *ud), *id = calloc(spec->items, sizeof *id);
    for (size_t e = 0; e < n; e++)
        ud[u[e]]++, id[i[e]]++, hist[(int)r[e]]++;
    printf("  %s: %zu users, %zu items, %zu ratings, generated in %.1f s (peak RSS %.0f MB)\n", spec->name,
           spec->users, spec->items, n, secs, peak_rss_kb() / 1024.0);
    degrees("user", ud, spec->users, n);
    degrees("item", id, spec->items, n);
    printf("    stars 1..5: %.1f%% %.1f%% %.1f%% %.1f%% %.1f%%\n", 100.0 * hist[1] / n, 100.0 * hist[2] / n,
           100.0 * hist[3] / n, 100.0 * hist[4] / n, 100.0 * hist[5] / n);
    free(ud);
    free(id);
    if (quality) {
        int64_t *uid = malloc(n * sizeof *uid), *iid = malloc(n * sizeof *iid);
        gatrec_dataset *ds;
        gatrec_split *split;
        gatrec_graph *g;
        for (size_t e = 0; e < n; e++)
            uid[e] = u[e] + 1, iid[e] = i[e] + 1;
        if (gatrec_dataset_from_arrays(n, uid, iid, r, NULL, &ds) || gatrec_split_random(ds, 0.2, 0.0, 1, &split) ||
            gatrec_graph_new(ds, split, NULL, &g))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        double t1 = now(), pop = ndcg10(ds, split, g, GATREC_MODEL_POP), ease = ndcg10(ds, split, g, GATREC_MODEL_EASE);
        double bpr = ndcg10(ds, split, g, GATREC_MODEL_BPR);
        printf("    planted structure, random 80/20 split, standard NDCG@10: popularity %.4f, EASE %.4f (%.2fx), "
               "BPR-MF (20 epochs) %.4f (%.2fx) [%.0f s]\n", pop, ease, pop > 0 ? ease / pop : 0.0, bpr,
               pop > 0 ? bpr / pop : 0.0, now() - t1);
        gatrec_graph_free(g);
        gatrec_split_free(split);
        gatrec_dataset_free(ds);
        free(uid);
        free(iid);
    }
    free(u);
    free(i);
    free(r);
    return 0;
}

/* dir/name opened for writing into *f (its path in path); 0, or 1 after saying why */
static int create_in(const char *dir, const char *name, char *path, size_t size, FILE **f)
{
    snprintf(path, size, "%s/%s", dir, name);
    if (!(*f = fopen(path, "w")))
        return perror(path), 1;
    return 0;
}

/* close f, written to path: 0, or 1 after saying why (a full disk) */
static int close_written(FILE *f, const char *path)
{
    if (fclose(f))
        return perror(path), 1;
    return 0;
}

/* `--write DIR`: the log in ML-1M's file layout (ratings.dat, movies.dat, users.dat with
 * placeholder titles and demographics), so that the CLI reads it as `--dataset DIR`. */
static int write_dir(const synth_spec *spec, const char *dir)
{
    int32_t *u, *i;
    float *r;
    size_t n;
    char path[4096];
    FILE *f;
    if (synth_log(spec, &u, &i, &r, &n))
        return fprintf(stderr, "%s: out of memory\n", spec->name), 1;
    if (create_in(dir, "ratings.dat", path, sizeof path, &f))
        return 1;
    for (size_t e = 0; e < n; e++) /* a timestamp that grows with the position in the log */
        fprintf(f, "%d::%d::%d::%zu\n", u[e] + 1, i[e] + 1, (int)r[e], 956703932 + e);
    if (close_written(f, path))
        return 1;
    if (create_in(dir, "movies.dat", path, sizeof path, &f))
        return 1;
    for (size_t j = 0; j < spec->items; j++)
        fprintf(f, "%zu::Synthetic item %zu (2000)::Drama\n", j + 1, j + 1);
    if (close_written(f, path))
        return 1;
    if (create_in(dir, "users.dat", path, sizeof path, &f))
        return 1;
    for (size_t a = 0; a < spec->users; a++)
        fprintf(f, "%zu::%c::25::%zu::00000\n", a + 1, a % 2 ? 'F' : 'M', a % 21);
    if (close_written(f, path))
        return 1;
    printf("%s: %zu ratings written to %s (ML-1M layout)\n", spec->name, n, dir);
    free(u), free(i), free(r);
    return 0;
}

/* `--generic DIR [small|ml1m|ml20m]`: the log as an application's own data would come (issue 23):
 * events.csv with string ids, implicit events (plays, a repeated pair split over two rows), ISO 8601
 * times; items.csv, a catalogue whose words carry the planted taste (an item's three strongest
 * latent directions, each a word for its sign); users.csv with one attribute. */
static const char *const POS[16] = {"bright", "fast", "bold", "sweet", "modern", "loud", "warm", "light",
                                    "playful", "sharp", "rich", "urban", "epic", "smooth", "wild", "deep"};
static const char *const NEG[16] = {"dark", "slow", "subtle", "bitter", "classic", "quiet", "cool", "heavy",
                                    "serious", "soft", "plain", "rural", "intimate", "rough", "tame", "shallow"};

static void iso_time(long long t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void item_key(size_t j, char *buf, size_t size)
{
    if (j % 97 == 5) /* a few ids a CSV must quote, with non-ASCII UTF-8 */
        snprintf(buf, size, "\"sku-%05zu, \xc3\xa9" "dition \"\"deluxe\"\"\"", j);
    else
        snprintf(buf, size, "sku-%05zu", j);
}

static int write_generic(const synth_spec *spec, const char *dir)
{
    int32_t *u, *i;
    float *r;
    size_t n, rows = 0, k = (size_t)spec->rank;
    char path[4096], when[32], key[64];
    FILE *f;
    if (synth_log(spec, &u, &i, &r, &n))
        return fprintf(stderr, "%s: out of memory\n", spec->name), 1;
    if (create_in(dir, "events.csv", path, sizeof path, &f))
        return 1;
    fprintf(f, "customer,sku,plays,when\n");
    for (size_t e = 0; e < n; e++) {
        int plays = (int)r[e];
        item_key((size_t)i[e], key, sizeof key);
        iso_time(1704067200LL + (long long)e * 60, when, sizeof when);
        if (plays >= 4 && e % 3 == 0) { /* the same pair twice: the import sums them */
            fprintf(f, "cust-%06d,%s,%d,%s\n", u[e] + 1, key, plays - 1, when);
            rows++;
            plays = 1;
        }
        fprintf(f, "cust-%06d,%s,%d,%s\n", u[e] + 1, key, plays, when);
        rows++;
    }
    if (close_written(f, path))
        return 1;
    if (create_in(dir, "items.csv", path, sizeof path, &f))
        return 1;
    fprintf(f, "sku,title,description,category\n");
    for (size_t j = 0; j < spec->items; j++) {
        size_t top[3] = {0, 0, 0};
        double y[64], best[3] = {-1, -1, -1};
        for (size_t c = 0; c < k && c < 64; c++) { /* the item's latent, as synth_log draws it */
            y[c] = synth_normal(spec->seed, 2, j * k + c) / sqrt((double)k) * 1.7;
            for (int t = 0; t < 3; t++)
                if (fabs(y[c]) > best[t]) {
                    for (int s2 = 2; s2 > t; s2--)
                        best[s2] = best[s2 - 1], top[s2] = top[s2 - 1];
                    best[t] = fabs(y[c]), top[t] = c;
                    break;
                }
        }
#define WORD(t) (y[top[t]] > 0 ? POS[top[t] % 16] : NEG[top[t] % 16])
        item_key(j, key, sizeof key);
        fprintf(f, "%s,Product %zu,\"A %s, %s piece with a %s finish.\",%s|%s\n", key, j + 1, WORD(0), WORD(1), WORD(2),
                WORD(0), j % 2 ? "catalogue" : "new");
#undef WORD
    }
    if (close_written(f, path))
        return 1;
    if (create_in(dir, "users.csv", path, sizeof path, &f))
        return 1;
    fprintf(f, "customer,region\n");
    for (size_t a = 0; a < spec->users; a++)
        fprintf(f, "cust-%06zu,%s\n", a + 1, a % 3 ? "north" : "south");
    if (close_written(f, path))
        return 1;
    printf("%s: %zu user-item pairs as %zu events (string ids, plays, ISO times) in %s/events.csv, a catalogue of "
           "%zu items in %s/items.csv, users in %s/users.csv\n", spec->name, n, rows, dir, spec->items, dir, dir);
    free(u), free(i), free(r);
    return 0;
}

int main(int argc, char **argv)
{
    int big = argc > 1 && strcmp(argv[1], "--100m") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0); /* each figure as it comes */
    if (argc > 2 && strcmp(argv[1], "--write") == 0) {
        const char *shape = argc > 3 ? argv[3] : "ml1m";
        const synth_spec *spec = strcmp(shape, "ml20m") == 0  ? &SYNTH_ML20M
                                 : strcmp(shape, "100m") == 0 ? &SYNTH_100M
                                 : strcmp(shape, "ml1m") == 0 ? &SYNTH_ML1M
                                                              : NULL;
        if (!spec)
            return fprintf(stderr, "usage: %s --write DIR [ml1m|ml20m|100m]\n", argv[0]), 2;
        return write_dir(spec, argv[2]);
    }
    if (argc > 2 && strcmp(argv[1], "--generic") == 0) {
        static const synth_spec small = {"small", 1200, 900, 60000, 600, 480, 1.0, 1.5, 16, 3.0, 4};
        const char *shape = argc > 3 ? argv[3] : "small";
        const synth_spec *spec = strcmp(shape, "ml20m") == 0  ? &SYNTH_ML20M
                                 : strcmp(shape, "ml1m") == 0 ? &SYNTH_ML1M
                                 : strcmp(shape, "small") == 0 ? &small
                                                              : NULL;
        if (!spec)
            return fprintf(stderr, "usage: %s --generic DIR [small|ml1m|ml20m]\n", argv[0]), 2;
        return write_generic(spec, argv[2]);
    }
    printf("Synthetic MovieLens-shaped rating logs (test/bench/synth_log.h; seeded, no MovieLens data):\n");
    if (one(&SYNTH_ML1M, 1) || one(&SYNTH_ML20M, 0) || (big && one(&SYNTH_100M, 0)))
        return 1;
    if (!big)
        printf("  (the 100M-rating log: %s --100m; a log as files for the CLI: %s --write DIR [ml1m|ml20m|100m])\n",
               argv[0], argv[0]);
    return 0;
}
