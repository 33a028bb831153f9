/* gatrec profiles / embed: profile texts and the input features (attn, the GAT, content) made from them. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "par.h"

static const char profiles_usage[] =
    "usage: gatrec profiles import [--dataset NAME|DIR] [--split SPEC] [--seed N]\n"
    "                              [--users CSV] [--user-id-column C] [--user-text-column C]\n"
    "                              [--items CSV] [--item-id-column C] [--item-text-column C]\n"
    "                              [--item-texts CSV] [--no-templates] --out FILE\n"
    "       gatrec profiles generate [--dataset NAME|DIR] [--split SPEC] [--seed N]\n"
    "                              [--item-texts CSV] [--llm URL] [--cache DIR] [--concurrency N]\n"
    "                              [--form integrated|structured] [--timeout S] [--retries N]\n"
    "                              [--allow-failures R] [--response-format schema|object|none]\n"
    "                              [--max-tokens N] [--limit N] [--only users|items]\n"
    "                              --out FILE\n"
    "       gatrec profiles show --profiles FILE (--user ID | --item ID) [--dataset DIR: string ids]\n"
    "\n"
    "import    takes existing profile texts from CSV files (RFC 4180, a header row; defaults\n"
    "          user_id/summary for users and movie_id/movie_info for items, the columns of the\n"
    "          recorded LLM profiles) and writes every user's and item's profile to FILE\n"
    "          (JSON Lines). Nodes without an imported text get a template profile written\n"
    "          from the data (title, year, genres, item text; a user's latest liked and\n"
    "          disliked training items), unless --no-templates.\n"
    "generate  has the LLM write every user's and item's profile when an endpoint is set\n"
    "          ($GATREC_LLM_BASE_URL or --llm URL; key in $GATREC_LLM_API_KEY or\n"
    "          $OPENAI_API_KEY; model $GATREC_LLM_MODEL), with --concurrency requests in flight\n"
    "          (default 8) and answers cached in --cache DIR (default ~/.cache/gatrec/llm), so\n"
    "          a rerun asks nothing twice. --form integrated (one paragraph, default) or\n"
    "          structured (Markdown over several turns). Nodes the LLM could not profile, and\n"
    "          every node when no endpoint is set, get template profiles.\n"
    "          --timeout S bounds each request (default $GATREC_LLM_TIMEOUT, else 60 seconds) and\n"
    "          --retries N its retries (default $GATREC_LLM_RETRIES, else 4); after 3 requests\n"
    "          in a row fail to reach the endpoint at all, the rest are not sent. Failures are\n"
    "          counted by reason on standard error, and the command fails (exit 1, the file\n"
    "          still written with templates in their place) when more than a share R of the\n"
    "          LLM's profiles failed (--allow-failures R, default 0). --response-format: how\n"
    "          JSON is asked for (schema, default: a JSON schema servers enforce; object:\n"
    "          json_object; none: the prompt alone; a server refusing one gets the next).\n"
    "          --max-tokens N: the longest answer asked for (default $GATREC_LLM_MAX_TOKENS,\n"
    "          else 700); an answer cut at it is refused and asked again on a rerun.\n"
    "          A trial run: --limit N asks for at most N items and N users (the first), --only\n"
    "          users|items one kind; the others get templates.\n"
    "User profiles use the training part of the split (default u1) only.\n"
    "--item-texts CSV attaches item texts (movie_id, overview columns) to the templates.\n";

typedef struct prof_args {
    const char *spec, *sp, *seed_s, *users, *uid_col, *utext_col, *items, *iid_col, *itext_col, *item_texts, *out;
    const char *llm_url, *cache, *conc_s, *form, *timeout_s, *retries_s, *allow_s, *format_s;
    int no_templates;
    cli_llm_limits limits;
    float allow; /* the share of LLM profiles that may fail before the command fails */
    int llm_used;
    char model[256]; /* the model that wrote them */
    long long limit; /* --limit N: at most N items and N users asked (0: all) */
    int kinds;       /* --only users|items: 1 users, 2 items, 3 both */
} prof_args;

/* Draw "generated k of n" on a terminal. */
static int llm_progress(void *payload, uint64_t done, uint64_t total)
{
    return cli_progress(payload, done, total);
}

/* LLM-written profiles when an endpoint is configured; *written and *failed count them. */
static int generate_with_llm(const char *cmd, prof_args *a, gatrec_profiles **p, const gatrec_dataset *ds,
                             const gatrec_graph *g, size_t *written, size_t *failed)
{
    gatrec_llm *llm = NULL;
    gatrec_profile_options po = GATREC_PROFILE_OPTIONS_INIT;
    char label[] = "profiles";
    int rc;
    (void)cmd;
    po.user_form = strcmp(a->form, "structured") == 0 ? GATREC_PROFILE_STRUCTURED : GATREC_PROFILE_INTEGRATED;
    if ((rc = cli_open_llm(a->llm_url, a->cache, (int)strtol(a->conc_s, NULL, 10), &a->limits, &llm)) || !llm)
        return rc; /* a failure (reported by the caller), or no endpoint: templates only */
    po.progress = llm_progress;
    po.payload = label;
    po.limit = (size_t)a->limit;
    po.users = (a->kinds & 1) != 0;
    po.items = (a->kinds & 2) != 0;
    po.shards = par_ranks(); /* under mpirun: each rank its share of the items and users */
    po.shard = par_rank();
    a->llm_used = 1;
    rc = gatrec_profiles_generate(*p, llm, ds, g, &po, written, failed);
    if (!rc && par_ranks() > 1) { /* rank 0 gathers them; the counts are the sums */
        rc = par_gather_profiles(p, ds);
        *written = par_sum(*written);
        *failed = par_sum(*failed);
    }
    snprintf(a->model, sizeof a->model, "%s", gatrec_llm_model(llm));
    if (!rc && *failed) { /* never silent: how many, and why */
        fprintf(stderr, "gatrec %s: the LLM failed %zu of %zu profiles (templates stand in for them%s); why:\n", cmd,
                *failed, *failed + *written, a->no_templates ? ", unless --no-templates" : "");
        cli_print_llm_failures(llm, 5);
    }
    gatrec_llm_free(llm);
    return rc;
}

/* Imported profiles of ids the dataset lacks are dropped, and said; when they are most of a file,
 * the file is for another dataset (the ids that match would be other people's): refused. Returns
 * a library status, or EXIT_FAIL when refused (said here). */
static int keep_known(const char *cmd, gatrec_profiles *p, const gatrec_dataset *ds, const char *dataset, int kind,
                      const char *file, size_t *imported)
{
    const char *what = kind == GATREC_NODE_USER ? "user" : "item";
    size_t dropped = 0;
    int rc = file ? gatrec_profiles_keep_known(p, ds, kind, &dropped) : GATREC_OK;
    if (rc || !dropped)
        return rc;
    if (2 * dropped > *imported) {
        fprintf(stderr, "gatrec %s: %zu of the %zu %s profiles in %s are for %ss that %s does not have: is it a file "
                "for another dataset? (its other rows would give %ss other people's profiles)\n", cmd, dropped,
                *imported, what, file, what, dataset, what);
        return EXIT_FAIL;
    }
    fprintf(stderr, "gatrec %s: note: %zu of the %zu %s profiles in %s are for %ss that %s does not have: left out\n",
            cmd, dropped, *imported, what, file, what, dataset);
    *imported -= dropped;
    return GATREC_OK;
}

static int build_profiles(const char *cmd, prof_args *a, int import)
{
    gatrec_dataset *ds = NULL;
    gatrec_split *split = NULL;
    gatrec_graph *g = NULL;
    gatrec_profiles *p = NULL;
    char dir[4096];
    size_t nu = 0, ni = 0, filled = 0, matched = 0;
    long long seed;
    int rc;
    if (!a->out)
        return cli_usage_error(cmd, "%s", "--out FILE is required");
    const char *inputs[] = {a->users, a->items};
    if ((rc = cli_check_output(cmd, a->out)) || /* before any request is sent, not after */
        (rc = cli_check_not_input(cmd, a->out, inputs, 2)))
        return rc;
    if ((seed = cli_number(cmd, "--seed", a->seed_s, 0, 0x7fffffffffffffffLL)) < 0)
        return EXIT_USAGE;
    if ((rc = cli_open_dataset(cmd, a->spec, &ds, dir, sizeof dir)))
        return rc;
    if ((rc = cli_split(cmd, ds, a->sp, (uint64_t)seed, &split))) {
        gatrec_dataset_free(ds);
        return rc;
    }
    if ((rc = gatrec_graph_new(ds, split, NULL, &g)) ||
        (rc = gatrec_profiles_new(&p)) ||
        (a->item_texts && (rc = gatrec_dataset_load_item_texts(ds, a->item_texts, "movie_id", "overview", &matched))) ||
        (import && a->users &&
         (rc = gatrec_profiles_import_csv(p, GATREC_NODE_USER, a->users, a->uid_col, a->utext_col, &nu))) ||
        (import && a->items &&
         (rc = gatrec_profiles_import_csv(p, GATREC_NODE_ITEM, a->items, a->iid_col, a->itext_col, &ni))) ||
        (import && (rc = keep_known(cmd, p, ds, a->spec, GATREC_NODE_USER, a->users, &nu)) != 0) ||
        (import && (rc = keep_known(cmd, p, ds, a->spec, GATREC_NODE_ITEM, a->items, &ni)) != 0) ||
        (!import && (rc = generate_with_llm(cmd, a, &p, ds, g, &nu, &ni))) ||
        (!a->no_templates && (rc = gatrec_profiles_fill_templates(p, ds, g, &filled))) ||
        (par_rank() == 0 && (rc = gatrec_profiles_save(p, a->out)))) {
        rc = rc == EXIT_FAIL ? EXIT_FAIL : cli_fail(cmd, rc); /* EXIT_FAIL: refused and said by keep_known */
    } else {
        printf("%zu user and %zu item profiles -> %s (%zu %s%s%s%s, %zu failed, %zu templates)\n",
               gatrec_profiles_count(p, GATREC_NODE_USER), gatrec_profiles_count(p, GATREC_NODE_ITEM), a->out,
               import ? nu + ni : nu, import ? "imported" : "written by the LLM", a->llm_used ? " (model " : "",
               a->llm_used ? a->model : "", a->llm_used ? ")" : "", import ? 0 : ni, filled);
        rc = EXIT_OK;
        if (!import && a->llm_used && ni > (size_t)((double)a->allow * (double)(nu + ni))) {
            fprintf(stderr, "gatrec %s: %zu of %zu LLM profiles failed, more than --allow-failures %g allows: "
                    "fix the cause above and rerun (answers already received are cached)\n", cmd, ni, nu + ni,
                    (double)a->allow);
            rc = EXIT_FAIL;
        }
    }
    gatrec_profiles_free(p);
    gatrec_graph_free(g);
    gatrec_split_free(split);
    gatrec_dataset_free(ds);
    return rc;
}

/* A profile by id; with --dataset an imported dataset's string id is looked up there (profile files
 * hold the dataset's numbers) */
static int show_profile(const char *path, const char *user_s, const char *item_s, const char *spec)
{
    const char *flag = user_s ? "--user" : "--item", *val = user_s ? user_s : item_s, *text;
    gatrec_profiles *p;
    gatrec_dataset *ds = NULL;
    long long id = -1;
    int rc;
    if (!path || !user_s == !item_s)
        return cli_usage_error("profiles show", "%s", "give --profiles FILE and one of --user ID, --item ID");
    char dir[4096];
    if (spec && (rc = cli_open_dataset("profiles show", spec, &ds, dir, sizeof dir)))
        return rc;
    if (ds && (user_s ? gatrec_dataset_user_key(ds, 0) : gatrec_dataset_item_key(ds, 0))) { /* string ids */
        int32_t index;
        rc = user_s ? gatrec_dataset_find_user(ds, val, &index) : gatrec_dataset_find_item(ds, val, &index);
        if (!rc)
            id = user_s ? gatrec_dataset_user_id(ds, index) : gatrec_dataset_item_id(ds, index);
        gatrec_dataset_free(ds);
        if (rc) {
            fprintf(stderr, "gatrec profiles show: %s '%s' is not in the dataset %s\n", user_s ? "user" : "item", val,
                    spec);
            return EXIT_FAIL;
        }
    } else {
        gatrec_dataset_free(ds);
        if (!spec && val[strspn(val, "0123456789")])
            return cli_usage_error("profiles show", "%s '%s' is not a number: for a string id, give the --dataset DIR it "
                                   "was imported into", flag, val);
        if ((id = cli_number("profiles show", flag, val, 0, 0x7fffffffffffffffLL)) < 0)
            return EXIT_USAGE;
    }
    if ((rc = gatrec_profiles_load(path, &p)))
        return cli_fail("profiles show", rc);
    text = gatrec_profiles_get(p, user_s ? GATREC_NODE_USER : GATREC_NODE_ITEM, id);
    if (text)
        printf("%s\n", text);
    else
        fprintf(stderr, "gatrec profiles show: %s %s has no profile in %s\n", user_s ? "user" : "item", val, path);
    gatrec_profiles_free(p);
    return text ? EXIT_OK : EXIT_FAIL;
}

int cmd_profiles(int argc, char **argv)
{
    prof_args a = {"ml-100k", "u1",  "1",        NULL, "user_id", "summary", NULL,          "movie_id", "movie_info",
                   NULL,      NULL,  NULL, NULL, "8",    "integrated", NULL, NULL, NULL, NULL, 0, {60.0f, 4, 0, NULL, 0}, 0.0f, 0, "", 0, 3};
    const char *path = NULL, *max_tokens_s = NULL, *limit_s = NULL, *only_s = NULL, *user_s = NULL, *item_s = NULL, *sub = argc >= 3 ? argv[2] : "";
    cli_opt opts[] = {{"--dataset", &a.spec, NULL},
                      {"--split", &a.sp, NULL},
                      {"--seed", &a.seed_s, NULL},
                      {"--users", &a.users, NULL},
                      {"--user-id-column", &a.uid_col, NULL},
                      {"--user-text-column", &a.utext_col, NULL},
                      {"--items", &a.items, NULL},
                      {"--item-id-column", &a.iid_col, NULL},
                      {"--item-text-column", &a.itext_col, NULL},
                      {"--item-texts", &a.item_texts, NULL},
                      {"--no-templates", NULL, &a.no_templates},
                      {"--out", &a.out, NULL},
                      {"--profiles", &path, NULL},
                      {"--user", &user_s, NULL},
                      {"--item", &item_s, NULL},
                      {"--llm", &a.llm_url, NULL},
                      {"--cache", &a.cache, NULL},
                      {"--concurrency", &a.conc_s, NULL},
                      {"--form", &a.form, NULL},
                      {"--timeout", &a.timeout_s, NULL},
                      {"--retries", &a.retries_s, NULL},
                      {"--allow-failures", &a.allow_s, NULL},
                      {"--response-format", &a.format_s, NULL},
                      {"--max-tokens", &max_tokens_s, NULL},
                      {"--limit", &limit_s, NULL},
                      {"--only", &only_s, NULL},
                      {NULL, NULL, NULL}};
    int rc;
    if (strcmp(sub, "import") != 0 && strcmp(sub, "generate") != 0 && strcmp(sub, "show") != 0) {
        if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
            return fputs(profiles_usage, stdout), EXIT_OK;
        return cli_usage_error("profiles", "%s", "expected 'import', 'generate' or 'show' (see --help)");
    }
    const char *default_spec = a.spec;
    rc = cli_parse(argc, argv, 3, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(profiles_usage, stdout), EXIT_OK) : rc;
    if (strcmp(sub, "show") == 0) /* the dataset only when named: it maps string ids */
        return show_profile(path, user_s, item_s, a.spec != default_spec ? a.spec : NULL);
    if (cli_llm_limits_parse("profiles", a.timeout_s, a.retries_s, a.format_s, max_tokens_s, &a.limits) ||
        (a.allow_s && cli_float("profiles", "--allow-failures", a.allow_s, 0, 1, &a.allow)))
        return EXIT_USAGE;
    if (cli_number("profiles", "--concurrency", a.conc_s, 1, 256) < 0)
        return EXIT_USAGE;
    a.kinds = 3;
    if (limit_s && (a.limit = cli_number("profiles", "--limit", limit_s, 1, 0x7fffffffffffffffLL)) < 0)
        return EXIT_USAGE;
    if (only_s) {
        static const char *const kinds[] = {"users", "items"};
        int k = cli_choice("profiles", "--only", only_s, kinds, 2);
        if (k < 0)
            return EXIT_USAGE;
        a.kinds = k + 1;
    }
    if ((limit_s || only_s) && strcmp(sub, "generate") != 0)
        return cli_usage_error("profiles", "%s", "--limit and --only bound what 'profiles generate' asks the LLM");
    static const char *const forms[] = {"integrated", "structured"};
    if (cli_choice("profiles", "--form", a.form, forms, 2) < 0)
        return EXIT_USAGE;
    return build_profiles(strcmp(sub, "import") == 0 ? "profiles import" : "profiles generate", &a,
                          strcmp(sub, "import") == 0);
}

static const char embed_usage[] =
    "usage: gatrec embed --profiles FILE [--dataset NAME|DIR] [--embedder hashed|lsa|remote] [--dim N]\n"
    "                    [--ngrams N] [--embedder-in FILE] [--embedder-out FILE] --out FEATURES\n"
    "                    [--llm URL] [--embedding-model NAME] [--cache DIR] [--timeout S] [--retries N]\n"
    "\n"
    "Embeds every user's and item's profile and writes the input features in the format\n"
    "'gatrec train --features' reads (its first line, a comment, names the embedder).\n"
    "hashed: TF-IDF over word n-grams hashed into --dim buckets, L2-normalised (the default).\n"
    "lsa:    latent semantic analysis: TF-IDF over the n-grams found in at least two profiles,\n"
    "        projected on the corpus's top --dim singular directions (randomised SVD).\n"
    "remote: a sentence-embedding model behind an OpenAI-compatible /v1/embeddings endpoint\n"
    "        ($GATREC_LLM_BASE_URL or --llm URL; model --embedding-model NAME, else\n"
    "        $GATREC_LLM_EMBEDDING_MODEL, else text-embedding-3-small; --dim: the endpoint's\n"
    "        width unless given), answers cached like chats (--cache DIR).\n"
    "The embedder learns from these profiles, or reuses a saved one (--embedder-in);\n"
    "--embedder-out saves it (a remote one as its model's name and width) so that later\n"
    "profiles (a new user's: train --embedder, recommend --new-user) embed the same way.\n"
    "Defaults: --dataset ml-100k --embedder hashed --dim 384 --ngrams 2.\n";

/* The features file's first line: which embedder made it (a comment the loader skips). */
static int record_embedder(const char *path, const gatrec_embedder *e, const char *kind, size_t dim)
{
    char *data = NULL, tmp[4200];
    size_t len = 0;
    FILE *out;
    int ok = cli_read_file(path, &data, &len) == 0;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (ok && (out = fopen(tmp, "wb"))) {
        const char *model = gatrec_embedder_remote_model(e);
        fprintf(out, "# gatrec embed: %s embedder, %zu dimensions%s%s\n", kind, dim, model ? ", model " : "",
                model ? model : "");
        ok = fwrite(data, 1, len, out) == len;
        ok = fclose(out) == 0 && ok && rename(tmp, path) == 0;
        if (!ok)
            remove(tmp);
    } else {
        ok = 0;
    }
    free(data);
    return ok ? EXIT_OK : (fprintf(stderr, "gatrec embed: cannot write %s\n", path), EXIT_FAIL);
}

int cmd_embed(int argc, char **argv)
{
    const char *spec = "ml-100k", *path = NULL, *dim_s = NULL, *ng_s = NULL, *ein = NULL, *eout = NULL, *out = NULL,
               *kind_s = NULL, *llm_url = NULL, *cache = NULL, *timeout_s = NULL, *retries_s = NULL,
               *emodel = NULL;
    cli_opt opts[] = {{"--dataset", &spec, NULL},    {"--profiles", &path, NULL},   {"--dim", &dim_s, NULL},
                      {"--ngrams", &ng_s, NULL},     {"--embedder-in", &ein, NULL}, {"--embedder-out", &eout, NULL},
                      {"--out", &out, NULL},         {"--embedder", &kind_s, NULL}, {"--llm", &llm_url, NULL},
                      {"--cache", &cache, NULL},     {"--timeout", &timeout_s, NULL}, {"--retries", &retries_s, NULL},
                      {"--embedding-model", &emodel, NULL}, {NULL, NULL, NULL}};
    static const char *const kinds[] = {"hashed", "lsa", "remote"};
    int which;
    gatrec_llm *llm = NULL;
    cli_llm_limits limits;
    gatrec_embedder_options eo = GATREC_EMBEDDER_OPTIONS_INIT;
    gatrec_dataset *ds = NULL;
    gatrec_graph *g = NULL;
    gatrec_profiles *p = NULL;
    gatrec_embedder *e = NULL;
    float *F = NULL;
    size_t dim;
    long long d, ng;
    char dir[4096];
    int rc = cli_parse(argc, argv, 2, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(embed_usage, stdout), EXIT_OK) : rc;
    if (!path || !out)
        return cli_usage_error("embed", "%s", "--profiles FILE and --out FEATURES are required");
    if (ein && (kind_s || dim_s || ng_s))
        return cli_usage_error("embed", "%s", "--embedder-in FILE brings its kind, width and n-grams: --embedder, --dim "
                               "and --ngrams do not go with it");
    if ((which = cli_choice("embed", "--embedder", kind_s ? kind_s : "hashed", kinds, 3)) < 0)
        return EXIT_USAGE;
    if ((d = dim_s ? cli_number("embed", "--dim", dim_s, 1, 1 << 24) : which == 2 ? 0 : 384) < 0 ||
        (ng = cli_number("embed", "--ngrams", ng_s ? ng_s : "2", 1, 8)) < 0 ||
        cli_llm_limits_parse("embed", timeout_s, retries_s, NULL, NULL, &limits))
        return EXIT_USAGE;
    if (which != 2 && !ein && (llm_url || emodel))
        return cli_usage_error("embed", "%s", "--llm and --embedding-model go with --embedder remote");
    if (ein && emodel)
        return cli_usage_error("embed", "%s", "--embedder-in FILE names its embeddings model: --embedding-model does "
                               "not go with it");
    {
        const char *inputs[] = {path, ein};
        if ((rc = cli_check_output("embed", out)) || (eout && (rc = cli_check_output("embed", eout))) ||
            (rc = cli_check_not_input("embed", out, inputs, 2)) || (rc = cli_check_not_input("embed", eout, inputs, 2)))
            return rc;
    }
    eo.dim = (size_t)d;
    eo.max_ngram = (int)ng;
    limits.embedding_model = emodel;
    if ((rc = cli_open_dataset("embed", spec, &ds, dir, sizeof dir)))
        return rc;
    if ((rc = gatrec_graph_new(ds, NULL, NULL, &g)) || (rc = gatrec_profiles_load(path, &p)))
        goto fail;
    if (ein) {
        if ((rc = gatrec_embedder_load(ein, &e)))
            goto fail;
        which = gatrec_embedder_remote_model(e) ? 2 : which;
        if (which != 2 && llm_url) {
            rc = cli_usage_error("embed", "--llm: %s is an offline embedder, it asks no endpoint", ein);
            goto done;
        }
    }
    if (which == 2) { /* the endpoint: a remote embedder made here, or one loaded, bound to it */
        if ((rc = cli_open_llm(llm_url, cache, 8, &limits, &llm)))
            goto fail;
        if (!llm) {
            rc = cli_usage_error("embed", "%s", "--embedder remote needs an endpoint: set $GATREC_LLM_BASE_URL or --llm URL");
            goto done;
        }
        if ((rc = e ? gatrec_embedder_bind_llm(e, llm) : gatrec_embedder_new_remote(llm, eo.dim, &e)))
            goto fail;
    } else if (!e && (rc = which == 1 ? gatrec_embedder_new_lsa(&eo, &e) : gatrec_embedder_new_hashed(&eo, &e))) {
        goto fail;
    }
    if ((rc = gatrec_features_from_profiles(g, p, e, &F, &dim)) || (rc = gatrec_features_save(g, F, dim, out)) ||
        (eout && (rc = gatrec_embedder_save(e, eout))))
        goto fail;
    if ((rc = record_embedder(out, e, ein && which != 2 ? "saved" : kinds[which], dim)))
        goto done;
    printf("%zu users and %zu items embedded (%zu dimensions%s%s) -> %s\n", gatrec_graph_num_users(g),
           gatrec_graph_num_items(g), dim, which == 2 ? ", model " : "", which == 2 ? gatrec_embedder_remote_model(e) : "",
           out);
    if (llm) { /* texts the server found too large were cut or batches split: never silent (issue 24, 12) */
        char *why = gatrec_llm_failure_report(llm, 5);
        if (why) {
            fprintf(stderr, "gatrec embed: note: the endpoint needed help with some texts:\n");
            cli_print_llm_failures(llm, 5);
        }
        gatrec_string_free(why);
    }
    rc = EXIT_OK;
    goto done;
fail:
    rc = cli_fail("embed", rc);
done:
    gatrec_features_free(F);
    gatrec_embedder_free(e);
    gatrec_llm_free(llm);
    gatrec_profiles_free(p);
    gatrec_graph_free(g);
    gatrec_dataset_free(ds);
    return rc;
}
