/* Importing an application's own log at ML-20M scale (issue 23, docs/data.md): `gatrec data import`
 * of the generic ML-20M-shaped log - 23.8 million events (20.0 million user-item pairs) with
 * string ids, counts and ISO 8601 times, 1.08 GB of CSV, written by `bench_synth --generic` - its
 * wall time and peak RSS against the targets (60 s, 2 GiB), the load of the dataset file it
 * writes, and, when a python3 with pandas is found, what a Python user does for the same step
 * measured in the same run: pandas.read_csv + factorize of both id columns, then with the rest of
 * the import's work (times parsed, repeated pairs summed). Each program runs in its own child, so
 * its peak is its own. Prints figures; asserts nothing.
 *
 * The command line is $GATREC_CLI, else ../gatrec beside this program. The log goes to
 * $GATREC_BENCH_DIR (and is reused from there by the next run), else to a temporary directory
 * removed at the end; it needs 1.5 GB of disk. GATREC_BENCH_IMPORT=0 skips the whole benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "child.h"
#include "synth.h"

#define OUT_SIZE (1 << 16)

static const char *const pandas_script =
    "import sys, time\n"
    "import pandas as pd\n"
    "t0 = time.perf_counter()\n"
    "df = pd.read_csv(sys.argv[1])\n"
    "u, users = pd.factorize(df['customer'])\n"
    "i, items = pd.factorize(df['sku'])\n"
    "t1 = time.perf_counter()\n"
    "if sys.argv[2] == 'all':\n"
    "    df['u'] = u; df['i'] = i\n"
    "    df['t'] = pd.to_datetime(df['when'], utc=True).astype('int64') // 10**9\n"
    "    pairs = df.groupby(['u', 'i'], sort=False).agg(plays=('plays', 'sum'), t=('t', 'max'))\n"
    "    assert len(pairs) > 0\n"
    "print('%.2f %.2f %d %d %d' % (t1 - t0, time.perf_counter() - t0, len(df), len(users), len(items)))\n";

/* The first of $GATREC_PYTHON, python3 on the PATH and /usr/bin/python3 that imports pandas: its
 * command's first words into py[0..1] (py[1] NULL when one word); 0 when none does */
static int find_pandas(const char *py[2])
{
    const char *cands[][2] = {{getenv("GATREC_PYTHON"), NULL}, {"/usr/bin/env", "python3"}, {"/usr/bin/python3", NULL}};
    char out[256];
    long kb;
    for (size_t c = 0; c < sizeof cands / sizeof *cands; c++) {
        char *av[5] = {(char *)cands[c][0], (char *)cands[c][1], NULL, NULL, NULL}, **a = av + (cands[c][1] ? 2 : 1);
        a[0] = "-c";
        a[1] = "try:\n    import pandas\nexcept ImportError:\n    raise SystemExit(1)";
        if (cands[c][0] && *cands[c][0] && run_child(av, out, sizeof out, &kb) == 0) {
            py[0] = cands[c][0];
            py[1] = cands[c][1];
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    char cli[4096], synth[4096], dir[4096], events[4200], items[4200], ds[4200], *out;
    const char *py[2];
    const char *env = getenv("GATREC_BENCH_DIR");
    int own = !env || !*env;
    struct stat st;
    double t;
    long kb;
    (void)argc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("GATREC_BENCH_IMPORT") && strcmp(getenv("GATREC_BENCH_IMPORT"), "0") == 0) {
        printf("import of the ML-20M-shaped generic log: skipped (GATREC_BENCH_IMPORT=0)\n");
        return 0;
    }
    if (!(out = malloc(OUT_SIZE)))
        return 1;
    bench_programs(argv[0], cli, synth, sizeof cli);
    if (!own)
        snprintf(dir, sizeof dir, "%s", env);
    else if (!mkdtemp(strcpy(dir, "/tmp/gatrec-import-XXXXXX")))
        return perror("mkdtemp"), 1;
    snprintf(events, sizeof events, "%s/events.csv", dir);
    snprintf(items, sizeof items, "%s/items.csv", dir);
    snprintf(ds, sizeof ds, "%s/shop", dir);
    if (stat(events, &st) != 0) { /* the log, unless an earlier run left it */
        char *w[] = {synth, "--generic", dir, "ml20m", NULL};
        mkdir(dir, 0755);
        t = now();
        if (run_child(w, out, OUT_SIZE, &kb))
            return fprintf(stderr, "%s --generic %s ml20m failed\n", synth, dir), 1;
        printf("the log written by bench_synth --generic %s ml20m in %.1f s\n", dir, now() - t);
        stat(events, &st);
    }
    printf("import of the ML-20M-shaped generic log (%s, %.2f GB: string ids, plays, ISO 8601 times, "
           "a catalogue of 26,744 items), 2 cores:\n", events, (double)st.st_size / 1e9);
    {
        char *av[] = {cli, "data", "import", "--events", events, "--user-column", "customer", "--item-column", "sku",
                      "--weight-column", "plays", "--time-column", "when", "--items", items, "--domain", "products",
                      "--out", ds, NULL};
        t = now();
        if (run_child(av, out, OUT_SIZE, &kb))
            return fprintf(stderr, "gatrec data import failed\n"), 1;
        t = now() - t;
        printf("  gatrec data import                %6.1f s, peak RSS %.2f GiB (targets: 60 s, 2 GiB): %s",
               t, (double)kb / (1024.0 * 1024.0), out);
    }
    {
        char *av[] = {cli, "data", "info", "--dataset", ds, NULL};
        t = now();
        if (run_child(av, out, OUT_SIZE, &kb))
            return fprintf(stderr, "gatrec data info failed\n"), 1;
        printf("  gatrec data info (loads the dataset file) %.1f s, peak RSS %.2f GiB\n", now() - t,
               (double)kb / (1024.0 * 1024.0));
    }
    if (!find_pandas(py)) {
        printf("  pandas: not measured (no python3 with pandas; apt-get install python3-pandas, or GATREC_PYTHON)\n");
    } else {
        for (int all = 0; all < 2; all++) {
            char *av[8] = {(char *)py[0], (char *)py[1]}, **a = av + (py[1] ? 2 : 1);
            double read, whole;
            a[0] = "-c";
            a[1] = (char *)pandas_script;
            a[2] = events;
            a[3] = all ? "all" : "ids";
            t = now();
            if (run_child(av, out, OUT_SIZE, &kb) || sscanf(out, "%lf %lf", &read, &whole) != 2) {
                printf("  pandas: the script failed\n");
                break;
            }
            printf("  pandas %-26s %6.1f s (%.1f s in Python), peak RSS %.2f GiB\n",
                   all ? "+ times parsed, pairs summed" : "read_csv + factorize", now() - t, all ? whole : read,
                   (double)kb / (1024.0 * 1024.0));
        }
    }
    if (own) {
        static const char *const files[] = {"events.csv", "items.csv", "users.csv", "shop/dataset.gatrec", "shop"};
        for (int f = 0; f < 5; f++) {
            snprintf(out, OUT_SIZE, "%s/%s", dir, files[f]);
            f < 4 ? unlink(out) : rmdir(out);
        }
        rmdir(dir);
    }
    free(out);
    return 0;
}
