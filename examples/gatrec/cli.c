/* Argument parsing, error reporting and output helpers of the gatrec command line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_parse(int argc, char **argv, int first, const cli_opt *opts, const char **pos, int npos, int *npos_out)
{
    int np = 0;
    for (int a = first; a < argc; a++) {
        const char *arg = argv[a], *eq;
        const cli_opt *o = NULL;
        size_t nlen;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return -1;
        if (arg[0] != '-' || arg[1] == '\0') {
            if (np >= npos)
                return cli_usage_error(argv[first - 1], "unexpected argument '%s'", arg);
            pos[np++] = arg;
            continue;
        }
        eq = strchr(arg, '=');
        nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        for (const cli_opt *p = opts; p->name; p++)
            if (strlen(p->name) == nlen && strncmp(p->name, arg, nlen) == 0)
                o = p;
        if (!o)
            return cli_usage_error(argv[first - 1], "unknown option '%s' (see --help)", arg);
        if (!o->value) {
            if (eq)
                return cli_usage_error(argv[first - 1], "option '%s' takes no value", arg);
            *o->flag = 1;
        } else if (eq) {
            *o->value = eq + 1;
        } else if (a + 1 < argc && strncmp(argv[a + 1], "--", 2) == 0 && argv[a + 1][2]) {
            /* "--epochs --out x": the value is missing, not "x" unexpected */
            return cli_usage_error(argv[first - 1], "option '%s' needs a value (got the option '%s')", arg, argv[a + 1]);
        } else if (a + 1 < argc) {
            *o->value = argv[++a];
        } else {
            return cli_usage_error(argv[first - 1], "option '%s' needs a value", arg);
        }
    }
    if (npos_out)
        *npos_out = np;
    return EXIT_OK;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gatrec %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

int cli_choice(const char *cmd, const char *name, const char *s, const char *const *names, int n)
{
    for (int k = 0; k < n; k++)
        if (strcmp(s, names[k]) == 0)
            return k;
    fprintf(stderr, "gatrec %s: %s must be ", cmd, name);
    for (int k = 0; k < n; k++)
        fprintf(stderr, "%s%s", names[k], k + 2 < n ? ", " : k + 2 == n ? " or " : "");
    fprintf(stderr, ", not '%s'\n", s);
    return -1;
}

int cli_fail(const char *cmd, int status)
{
    fprintf(stderr, "gatrec %s: %s (%s)\n", cmd, gatrec_last_error(), gatrec_strerror(status));
    return EXIT_FAIL;
}

long long cli_number(const char *cmd, const char *name, const char *s, long long min, long long max)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "gatrec %s: %s must be a whole number from %lld to %lld, not '%s'\n", cmd, name, min, max, s);
        return -1;
    }
    return v;
}

int cli_split(const char *cmd, const gatrec_dataset *ds, const char *spec, uint64_t seed, gatrec_split **out)
{
    int rc = gatrec_split_parse(ds, spec, seed, out);
    if (rc == GATREC_EINVAL) /* a malformed spec is a bad option value */
        return cli_usage_error(cmd, "%s", gatrec_last_error());
    return rc ? cli_fail(cmd, rc) : EXIT_OK;
}

int cli_check_output(const char *cmd, const char *path)
{
    struct stat st;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!*path)
        return cli_usage_error(cmd, "%s", "--out needs a file name, not an empty one");
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "gatrec %s: --out %s is a directory: give a file name in it\n", cmd, path);
        return EXIT_FAIL;
    }
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "gatrec %s: --out %s: the directory %s does not exist\n", cmd, path, dir);
        return EXIT_FAIL;
    }
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "gatrec %s: --out %s: the directory %s is not writable\n", cmd, path, dir);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cli_check_not_input(const char *cmd, const char *out, const char *const *inputs, size_t n)
{
    struct stat so, si;
    if (!out || stat(out, &so) != 0)
        return EXIT_OK; /* a new file is nobody's input */
    for (size_t k = 0; k < n; k++)
        if (inputs[k] && stat(inputs[k], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return cli_usage_error(cmd, "--out %s is this command's input %s%s: its own output would overwrite it; "
                                   "write to another file", out, inputs[k],
                                   strcmp(out, inputs[k]) == 0 ? "" : " (the same file)");
    return EXIT_OK;
}

int cli_close_stdout(int rc)
{
    int pending = __fpending(stdout) != 0, failed = ferror(stdout) != 0, err;
    errno = 0;
    if (fclose(stdout) != 0 && (pending || errno != EBADF))
        failed = 1;
    err = errno;
    if (!failed)
        return rc;
    fprintf(stderr, "gatrec: writing the output to standard output failed%s%s: the output is incomplete (is the "
            "disk full, or the pipe closed?)\n", err ? ": " : "", err ? strerror(err) : "");
    return rc ? rc : EXIT_FAIL;
}

static int cli_not_an_id(int is_user, const char *s)
{
    fprintf(stderr, "gatrec: '%s' is not a%s %s id: this model's ids are whole numbers from 0\n", s, is_user ? "" : "n",
            is_user ? "user" : "item");
    return EXIT_USAGE;
}

int cli_load_dataset_dir(const char *dir, gatrec_dataset **ds)
{
    char file[4200];
    struct stat st;
    snprintf(file, sizeof file, "%s/dataset.gatrec", dir);
    return stat(file, &st) == 0 ? gatrec_dataset_load(dir, ds) /* gatrec data import's (docs/data.md) */
                                : gatrec_dataset_load_movielens(dir, GATREC_MOVIELENS_AUTO, ds);
}

int cli_open_dataset(const char *cmd, const char *spec, gatrec_dataset **ds, char *dir, size_t dirsize)
{
    struct stat st;
    int rc;
    /* A path has a slash; a bare name is under the data directory, even when a folder of that
     * name sits in the working directory (docs/data.md): write ./NAME to mean that one. */
    if (strchr(spec, '/')) {
        snprintf(dir, dirsize, "%s", spec);
    } else {
        char base[4096];
        if ((rc = gatrec_data_dir(base, sizeof base)))
            return cli_fail(cmd, rc);
        snprintf(dir, dirsize, "%s/%s", base, spec);
        if (stat(dir, &st) != 0 && stat(spec, &st) == 0 && S_ISDIR(st.st_mode))
            fprintf(stderr, "gatrec %s: note: --dataset %s names %s under the data directory; the folder %s here is "
                    "used only as --dataset ./%s\n", cmd, spec, dir, spec, spec);
    }
    if ((rc = cli_load_dataset_dir(dir, ds)))
        return cli_fail(cmd, rc);
    return EXIT_OK;
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

int cli_progress(void *payload, uint64_t done, uint64_t total)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(STDERR_FILENO);
    if (!tty)
        return 0;
    if (total) {
        int width = 40, fill = (int)(done * (uint64_t)width / total);
        fprintf(stderr, "\r%s [%.*s%*s] %3d%% ", (const char *)payload, fill, "########################################",
                width - fill, "", (int)(done * 100 / total));
    } else {
        fprintf(stderr, "\r%s %llu bytes ", (const char *)payload, (unsigned long long)done);
    }
    if (total && done >= total)
        fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

int cli_float(const char *cmd, const char *name, const char *s, double lo, double hi, float *out)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "gatrec %s: %s must be a number from %g to %g, not '%s'\n", cmd, name, lo, hi, s);
        return EXIT_USAGE;
    }
    *out = (float)v;
    return EXIT_OK;
}

int cli_llm_limits_parse(const char *cmd, const char *timeout_s, const char *retries_s, const char *format_s,
                         const char *max_tokens_s, cli_llm_limits *out)
{
    static const char *const formats[] = {"schema", "object", "none"}; /* gatrec_llm_format order */
    const char *et = getenv("GATREC_LLM_TIMEOUT"), *er = getenv("GATREC_LLM_RETRIES"),
               *ef = getenv("GATREC_LLM_RESPONSE_FORMAT"), *em = getenv("GATREC_LLM_MAX_TOKENS");
    out->timeout_s = 60.0f;
    out->retries = 4;
    out->max_tokens = 0;
    if (!max_tokens_s && em && em[0])
        max_tokens_s = em;
    if (max_tokens_s && (out->max_tokens = cli_number(cmd, max_tokens_s == em ? "$GATREC_LLM_MAX_TOKENS" :
                                                      "--max-tokens", max_tokens_s, 16, 1000000)) < 0)
        return EXIT_USAGE;
    out->format = GATREC_LLM_FORMAT_SCHEMA;
    if (!format_s && ef && ef[0])
        format_s = ef;
    if (format_s && (out->format = cli_choice(cmd, format_s == ef ? "$GATREC_LLM_RESPONSE_FORMAT" : "--response-format",
                                              format_s, formats, 3)) < 0)
        return EXIT_USAGE;
    if (!timeout_s && et && et[0])
        timeout_s = et;
    if (!retries_s && er && er[0])
        retries_s = er;
    if (timeout_s && cli_float(cmd, timeout_s == et ? "$GATREC_LLM_TIMEOUT" : "--timeout", timeout_s, 0.1, 86400,
                               &out->timeout_s))
        return EXIT_USAGE;
    if (retries_s && (out->retries = cli_number(cmd, retries_s == er ? "$GATREC_LLM_RETRIES" : "--retries", retries_s,
                                                0, 100)) < 0)
        return EXIT_USAGE;
    return EXIT_OK;
}

int cli_read_file(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0, got;
    char *buf = f ? malloc(cap) : NULL;
    if (!f || !buf) {
        if (f)
            fclose(f), errno = ENOMEM;
        return -1;
    }
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0)
        if ((n += got) + 1 == cap) {
            char *more = realloc(buf, cap *= 2);
            if (!more) {
                free(buf), fclose(f), errno = ENOMEM;
                return -1;
            }
            buf = more;
        }
    if (ferror(f)) {
        int e = errno;
        free(buf), fclose(f), errno = e ? e : EIO;
        return -1;
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

void cli_print_llm_failures(gatrec_llm *llm, size_t max)
{
    char *why = gatrec_llm_failure_report(llm, max);
    for (const char *line = why ? why : "(no request failed: every answer was unusable)"; *line;) {
        size_t n = strcspn(line, "\n");
        fprintf(stderr, "  %.*s\n", (int)n, line);
        line += n + (line[n] == '\n');
    }
    gatrec_string_free(why);
}

int cli_open_llm(const char *url, const char *cache, int concurrency, const cli_llm_limits *limits, gatrec_llm **out)
{
    gatrec_http_options h = GATREC_HTTP_OPTIONS_INIT;
    gatrec_llm_options o = GATREC_LLM_OPTIONS_INIT;
    gatrec_llm_transport t;
    char dir[4096];
    const char *env = getenv("GATREC_LLM_BASE_URL");
    int rc;
    *out = NULL;
    if (!url && !(env && env[0]))
        return EXIT_OK; /* no LLM configured */
    h.base_url = url;
    int defaulted = !cache;
    if (!cache) { /* answers are kept, so that a rerun asks nothing twice */
        const char *home = getenv("XDG_CACHE_HOME");
        if (home && home[0])
            snprintf(dir, sizeof dir, "%s/gatrec/llm", home);
        else
            snprintf(dir, sizeof dir, "%s/.cache/gatrec/llm", getenv("HOME") ? getenv("HOME") : ".");
        cache = dir;
    }
    o.cache_dir = cache;
    o.concurrency = concurrency;
    o.timeout_ms = (long)(limits->timeout_s * 1000.0f);
    o.response_format = limits->format;
    o.max_tokens = (int)limits->max_tokens;
    o.embedding_model = limits->embedding_model;
    h.max_retries = (int)limits->retries;
    if (h.connect_timeout_ms > o.timeout_ms)
        h.connect_timeout_ms = o.timeout_ms;
    if ((rc = gatrec_llm_transport_http(&h, &t)))
        return rc;
    if ((rc = gatrec_llm_new(&t, &o, out)) == GATREC_EIO && defaulted) { /* a --cache given must work; ours may not */
        fprintf(stderr, "gatrec: note: %s; answers will not be cached (give --cache DIR)\n", gatrec_last_error());
        o.cache_dir = NULL;
        rc = gatrec_llm_new(&t, &o, out);
    }
    if (rc)
        t.free(t.userdata);
    return rc;
}

/* s (len bytes) as a whole number from 0 into *id */
static int is_number(const char *s, long long *id)
{
    char *end;
    errno = 0;
    *id = strtoll(s, &end, 10);
    return !errno && end != s && !*end && *id >= 0;
}

int cli_find_node(const gatrec_model *m, int is_user, const char *s, size_t len, int32_t *index)
{
    char buf[GATREC_CLI_MAX_KEY + 1];
    long long id;
    int rc, keyed = is_user ? gatrec_model_user_key(m, 0) != NULL : gatrec_model_item_key(m, 0) != NULL;
    len = len < sizeof buf ? len : sizeof buf - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (keyed) { /* a user folded in without a key answers to its number */
        rc = is_user ? gatrec_model_find_user(m, buf, index) : gatrec_model_find_item(m, buf, index);
        if (rc != GATREC_ENOTFOUND || !is_number(buf, &id))
            return rc;
        gatrec_error_clear();
    } else if (!is_number(buf, &id)) {
        return EXIT_USAGE;
    }
    return is_user ? gatrec_model_user_index(m, id, index) : gatrec_model_item_index(m, id, index);
}

static int model_node(const gatrec_model *m, int is_user, const char *s, size_t len, int32_t *index)
{
    int rc = cli_find_node(m, is_user, s, len, index);
    if (rc == EXIT_USAGE) {
        char buf[GATREC_CLI_MAX_KEY + 1];
        len = len < sizeof buf ? len : sizeof buf - 1;
        memcpy(buf, s, len);
        buf[len] = '\0';
        return cli_not_an_id(is_user, buf);
    }
    return rc;
}

const char *cli_item_title(const gatrec_model *m, const gatrec_dataset *ds, int32_t item)
{
    int32_t di;
    return ds && gatrec_dataset_item_index(ds, gatrec_model_item_id(m, item), &di) == 0 ? gatrec_dataset_item_title(ds, di)
                                                                                        : NULL;
}

int64_t cli_fresh_user_id(const gatrec_model *m)
{
    int64_t id = 0;
    for (int32_t u = 0; (size_t)u < gatrec_model_num_users(m); u++)
        if (gatrec_model_user_id(m, u) >= id)
            id = gatrec_model_user_id(m, u) + 1;
    return id;
}

/* The model's dataset folder: the absolute path it recorded, or - when that folder has moved -
 * the same name under the data directory. NULL (with a warning) when neither exists. */
const char *cli_model_dataset_dir(const gatrec_model *m, const char *cmd, char *buf, size_t size)
{
    const char *dir = gatrec_model_info(m, "dataset_dir"), *name = gatrec_model_info(m, "dataset");
    struct stat st;
    char base[4096];
    if (dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return dir;
    if (name && !strchr(name, '/') && gatrec_data_dir(base, sizeof base) == 0) {
        snprintf(buf, size, "%s/%s", base, name);
        if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
            return buf;
    }
    if (dir || name)
        fprintf(stderr, "gatrec %s: note: the model's dataset folder %s is gone (and no %s under the data "
                "directory): titles and genres are missing; set GATREC_DATA_DIR to the folder holding %s\n",
                cmd, dir ? dir : "?", name ? name : "?", name ? name : "the dataset");
    return NULL;
}

int cli_model_user(const gatrec_model *m, const char *s, size_t len, int32_t *index)
{
    return model_node(m, 1, s, len, index);
}

int cli_model_item(const gatrec_model *m, const char *s, size_t len, int32_t *index)
{
    return model_node(m, 0, s, len, index);
}

int cli_keyed_items(const gatrec_model *m)
{
    return gatrec_model_item_key(m, 0) != NULL;
}

static const char *node_name(const char *key, long long id, char *buf, size_t size)
{
    if (key)
        return key;
    snprintf(buf, size, "%lld", id);
    return buf;
}

const char *cli_item_name(const gatrec_model *m, int32_t item, char *buf, size_t size)
{
    return node_name(gatrec_model_item_key(m, item), (long long)gatrec_model_item_id(m, item), buf, size);
}

const char *cli_user_name(const gatrec_model *m, int32_t user, char *buf, size_t size)
{
    return node_name(gatrec_model_user_key(m, user), (long long)gatrec_model_user_id(m, user), buf, size);
}

static void json_node(FILE *f, const char *key, long long id)
{
    if (key)
        cli_json_string(f, key);
    else
        fprintf(f, "%lld", id);
}

void cli_json_item(FILE *f, const gatrec_model *m, int32_t item)
{
    json_node(f, gatrec_model_item_key(m, item), (long long)gatrec_model_item_id(m, item));
}

void cli_json_user(FILE *f, const gatrec_model *m, int32_t user)
{
    json_node(f, gatrec_model_user_key(m, user), (long long)gatrec_model_user_id(m, user));
}
