/* Every learned kind on the ML-20M-shaped log (docs/scale.md): time per epoch and peak RSS of
 * `gatrec train` on a random 80/20 split, one process, each run in its own child so that its
 * peak is its own. It takes about half an hour and 0.5 GB of disk, so `make bench` only says how to
 * run it; `make bench-scale` (or GATREC_BENCH_SCALE=1) runs it. Prints figures; asserts nothing.
 *
 *   bench_scale [KIND...]   (bpr lightgcn attn gat ease; default: all)
 *
 * The command line is $GATREC_CLI, else ../gatrec beside this program; the log is written by
 * bench_synth (beside this program) into $GATREC_BENCH_DIR, else a temporary directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "child.h"

typedef struct config {
    const char *kind, *what;
    const char *args[16]; /* NULL-terminated */
} config;

static const config configs[] = {
    {"bpr", "BPR-MF, 256-d, lazy optimiser (auto)", {"--model", "bpr", "--epochs", "1"}},
    {"lightgcn", "LightGCN, 64-d, 3 layers, batches of 262,144", {"--model", "lightgcn", "--batch", "262144", "--epochs", "1"}},
    {"attn", "attn, ID only, fanout 5, batches of 16,384, 256 negatives",
     {"--model", "attn", "--inputs", "id", "--fanout", "5", "--batch", "16384", "--negatives", "256", "--epochs", "1"}},
    {"gat", "the paper's GAT, full batch (one step an epoch)", {"--model", "gat", "--epochs", "2"}},
    {"ease", "EASE, lambda 250, 26,744 items (closed form: the whole fit)", {"--model", "ease"}},
};

int main(int argc, char **argv)
{
    char cli[4096], synth[4096], dir[4096], model[4200], *out = malloc(1 << 20);
    const char *env = getenv("GATREC_BENCH_DIR");
    int own = !env || !*env; /* a directory of our own goes at the end */
    long kb;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!getenv("GATREC_BENCH_SCALE") || strcmp(getenv("GATREC_BENCH_SCALE"), "1") != 0) {
        printf("every kind on the ML-20M-shaped log: skipped (about 30 minutes and 0.5 GB of disk; run "
               "`make bench-scale`, or GATREC_BENCH_SCALE=1 %s)\n", argv[0]);
        free(out);
        return 0;
    }
    bench_programs(argv[0], cli, synth, sizeof cli);
    if (env && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else if (!mkdtemp(strcpy(dir, "/tmp/gatrec-scale-XXXXXX")))
        return perror("mkdtemp"), 1;
    snprintf(model, sizeof model, "%s/model.gatrec", dir);
    struct stat st;
    snprintf(out, 1 << 20, "%s/ratings.dat", dir);
    if (stat(out, &st) != 0) { /* the log, unless an earlier run left it */
        char *w[] = {synth, "--write", dir, "ml20m", NULL};
        mkdir(dir, 0755);
        if (run_child(w, out, 1 << 20, &kb))
            return fprintf(stderr, "%s --write %s ml20m failed\n", synth, dir), 1;
    }
    printf("every kind on the ML-20M-shaped log (%s), --split random:0.2, one process on every core:\n", dir);
    for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) {
        const config *k = &configs[c];
        int want = argc == 1;
        for (int a = 1; a < argc; a++)
            want |= strcmp(argv[a], k->kind) == 0;
        if (!want)
            continue;
        char *av[32] = {cli, "train", "--dataset", dir, "--split", "random:0.2", "--json", "--out", model};
        size_t n = 9;
        for (size_t a = 0; k->args[a]; a++)
            av[n++] = (char *)k->args[a];
        av[n] = NULL;
        int rc = run_child(av, out, 1 << 20, &kb);
        printf("  %-9s %s:", k->kind, k->what);
        if (rc) {
            printf(" gatrec train failed (exit %d)\n", rc);
            continue;
        }
        /* the epochs' seconds, then the whole command's */
        for (const char *p = out; (p = strstr(p, "{\"epoch\": ")); p++) {
            const char *s = strstr(p, "\"seconds\": ");
            if (s)
                printf(" epoch %d %.1f s,", atoi(p + 10), atof(s + 11));
        }
        const char *total = strstr(out, "{\"model\": ");
        total = total ? strstr(total, "\"seconds\": ") : NULL;
        printf(" all %.1f s (from the split on), peak RSS %.2f GiB\n", total ? atof(total + 11) : 0.0,
               (double)kb / (1024.0 * 1024.0));
    }
    printf("  (the command: gatrec train --dataset %s --split random:0.2 --json plus each kind's flags, "
           "test/bench/bench_scale.c)\n", dir);
    unlink(model);
    for (int f = 0; own && f < 3; f++) {
        static const char *const files[] = {"ratings.dat", "movies.dat", "users.dat"};
        snprintf(out, 1 << 20, "%s/%s", dir, files[f]);
        unlink(out);
    }
    if (own)
        rmdir(dir);
    free(out);
    return 0;
}
