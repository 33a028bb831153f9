/* gatrec recommend: one user's list with its evidence and justifications (reranked and
 * explained by the LLM when one is set), every user's as CSV, and new users folded in. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "par.h"

static const char recommend_usage[] =
    "usage: gatrec recommend --model MODEL --user ID [-k K] [--evidence] [--json]\n"
    "                        [--rerank list|pairwise|batch|score] [--candidates N]\n"
    "                        [--fusion code|paper|none|WEIGHT] [--explain] [--profiles FILE]\n"
    "                        [--llm URL] [--cache DIR] [--timeout S] [--retries N]\n"
    "                        [--response-format schema|object|none] [--max-tokens N]\n"
    "       gatrec recommend --model MODEL --new-user TEXT --rated ID:STARS[,ID:STARS...] [-k K]\n"
    "       gatrec recommend --model MODEL --user ID --rated ID:STARS[,...] [-k K] (and the options above)\n"
    "       (with --user or --new-user: [--exclude FILE|ID,...] [--only FILE|ID,...])\n"
    "       gatrec recommend --model MODEL --all [-k K] --csv [--out FILE]\n"
    "                        [--rerank ... --candidates N --fusion ... --profiles FILE --llm URL]\n"
    "\n"
    "The K best items the user has not rated in training, each with why it was chosen: for a\n"
    "learned model, the user's rated items that most support it (--evidence lists them with\n"
    "their weights: for attn and the GAT, the attention the user gave each item times its similarity to\n"
    "the recommendation) and the genres they share; for popularity, how popular it is.\n"
    "--timeout S bounds each LLM request (default $GATREC_LLM_TIMEOUT, else 60 seconds), --retries N\n"
    "its retries (default $GATREC_LLM_RETRIES, else 4); an endpoint that cannot be reached three\n"
    "times in a row is given up for the run. --response-format: how JSON is asked for (schema,\n"
    "default: a JSON schema of each answer, which servers enforce; object; none: the prompt alone).\n"
    "--max-tokens N: the longest answer asked for (default $GATREC_LLM_MAX_TOKENS, else 700).\n"
    "--rerank asks the LLM ($GATREC_LLM_BASE_URL or --llm; answers cached in --cache, default\n"
    "~/.cache/gatrec/llm) to reorder the model's top --candidates (default 20) with one of the\n"
    "paper's strategies, fused with the model's order (--fusion code: the authors' rank-dependent\n"
    "weights, default; paper: 80% LLM; none: the LLM alone; a number: that weight on the LLM).\n"
    "--explain has the LLM write each justification from the user's profile and the evidence\n"
    "(the template above when no LLM is set or its answer is unusable). Profiles come from\n"
    "--profiles FILE (gatrec profiles ...), else templates written from the data.\n"
    "--new-user folds a user who is not in the model into it without retraining (attn, gat,\n"
    "content, ease, pop; bpr and lightgcn cannot): TEXT is\n"
    "their profile, embedded with the embedder the model carries (train --embedder; \"\": no\n"
    "profile, the mean user's text, as 'gatrec eval' folds in a cold-users split), and\n"
    "--rated lists their ratings by item id (at least one; a disliked item, at or below 2 stars,\n"
    "pushes its neighbourhood down for attn, ease and content). A user the model holds no\n"
    "ratings of gets the popular items, and the reason says so.\n"
    "--exclude FILE|ID,ID,...: items not to recommend this time (bought, out of stock; ids the\n"
    "model does not know are skipped); --only FILE|ID,ID,...: rank only these. Exactly K items\n"
    "come back whenever K are eligible.\n"
    "--user ID --rated ...: a returning user's ratings since the model was trained join theirs\n"
    "for this list (not saved; 'gatrec update' saves them), as gatrec_model_update_user().\n"
    "--all --csv writes user_id,item_id,rank for every user (to FILE, or standard output),\n"
    "the format 'gatrec eval --recs' reads; with --rerank each user's first --candidates are\n"
    "reordered by the LLM first (the rest of the top K stays in the model's order). Default -k 10.\n";

#define EVIDENCE_K 3

typedef struct rec_args {
    const char *new_user, *rated;
    long long uid;
    size_t k, candidates;
    int json, evidence, explain;
    const char *rerank, *fusion, *profiles, *llm, *cache;
    cli_llm_limits limits;
    const char *exclude_s, *only_s;  /* --exclude, --only: FILE or ID,ID,... */
    gatrec_request_options rules;    /* their items, read once the model is loaded */
} rec_args;

/* --exclude / --only: a file of item ids (one or more per line, separated by commas or blanks)
 * when such a file exists, else the ids themselves; into model item indices. An unknown id is
 * skipped for --exclude (it cannot be recommended anyway, said once) and refused for --only. */
static int read_item_rule(const gatrec_model *m, const char *opt, const char *arg, int strict, int32_t **out,
                          size_t *n_out)
{
    char *text = NULL;
    size_t len = 0, n = 0, cap = 16, unknown = 0;
    int32_t *idx = malloc(cap * sizeof *idx);
    int rc = EXIT_OK;
    if (!idx)
        return GATREC_ENOMEM;
    if (cli_read_file(arg, &text, &len) != 0 && errno != ENOENT) { /* no such file: the ids themselves */
        fprintf(stderr, "gatrec recommend: %s: cannot read %s: %s\n", opt, arg, strerror(errno));
        free(idx);
        return EXIT_FAIL;
    }
    const char *p = text ? text : arg, *seps = cli_keyed_items(m) ? ",\r\n" : ", \t\r\n"; /* keys may hold blanks */
    while (!rc && *p) {
        size_t tok;
        int32_t i;
        int found;
        p += strspn(p, seps);
        if (!*p)
            break;
        tok = strcspn(p, seps);
        found = cli_model_item(m, p, tok, &i);
        if (found > 0) {
            rc = found;
            break;
        }
        if (found < 0) {
            gatrec_error_clear();
            if (strict) {
                fprintf(stderr, "gatrec recommend: %s: item %.*s is not in the model\n", opt, (int)tok, p);
                rc = EXIT_FAIL;
            }
            unknown++;
            p += tok;
            continue;
        }
        p += tok;
        if (n == cap) {
            int32_t *grown = realloc(idx, 2 * cap * sizeof *idx);
            if (!grown) {
                rc = GATREC_ENOMEM;
                break;
            }
            idx = grown, cap *= 2;
        }
        idx[n++] = i;
    }
    free(text);
    if (!rc && unknown)
        fprintf(stderr, "gatrec recommend: note: %s: %zu item id%s not in the model, skipped\n", opt, unknown,
                unknown == 1 ? " is" : "s are");
    if (!rc && strict && n == 0)
        rc = cli_usage_error("recommend", "%s lists no item: nothing could be recommended", opt);
    if (rc) {
        free(idx);
        return rc;
    }
    *out = idx;
    *n_out = n;
    return EXIT_OK;
}

/* The dataset, split graph and profiles the model was trained on, for texts; NULL parts when
 * the dataset is gone. */
typedef struct context {
    gatrec_dataset *ds;
    gatrec_split *split;
    gatrec_graph *g;
    gatrec_profiles *p;
} context;

static int open_context(const gatrec_model *m, const rec_args *a, int need_profiles, context *c)
{
    char buf[4200];
    const char *dir = cli_model_dataset_dir(m, "recommend", buf, sizeof buf), *sp = gatrec_model_info(m, "split"),
               *seed = gatrec_model_info(m, "seed");
    int rc;
    memset(c, 0, sizeof *c);
    if (dir)
        cli_load_dataset_dir(dir, &c->ds);
    if (!need_profiles)
        return EXIT_OK;
    if (a->profiles ? (rc = gatrec_profiles_load(a->profiles, &c->p)) : (rc = gatrec_profiles_new(&c->p)))
        return cli_fail("recommend", rc);
    if (!c->ds || !sp)
        return EXIT_OK;
    if ((rc = gatrec_split_parse(c->ds, sp, seed ? (uint64_t)strtoull(seed, NULL, 10) : 1, &c->split)) ||
        (rc = gatrec_graph_new(c->ds, c->split, NULL, &c->g)) ||
        (rc = gatrec_profiles_fill_templates(c->p, c->ds, c->g, NULL)))
        return cli_fail("recommend", rc);
    return EXIT_OK;
}

static void close_context(context *c)
{
    gatrec_profiles_free(c->p);
    gatrec_graph_free(c->g);
    gatrec_split_free(c->split);
    gatrec_dataset_free(c->ds);
}

static int parse_rerank(const rec_args *a, gatrec_reranker_options *ro)
{
    static const char *const names[] = {"list", "pairwise", "batch", "score"};
    char *end;
    if ((ro->strategy = cli_choice("recommend", "--rerank", a->rerank, names, 4)) < 0)
        return EXIT_USAGE;
    if (strcmp(a->fusion, "code") == 0)
        ro->fusion = GATREC_FUSION_RANK_DEPENDENT;
    else if (strcmp(a->fusion, "paper") == 0)
        ro->fusion = GATREC_FUSION_FLAT;
    else if (strcmp(a->fusion, "none") == 0)
        ro->fusion = GATREC_FUSION_NONE;
    else {
        ro->fusion = GATREC_FUSION_WEIGHT;
        ro->llm_weight = strtof(a->fusion, &end);
        if (*end || end == a->fusion || !(ro->llm_weight >= 0 && ro->llm_weight <= 1))
            return cli_usage_error("recommend", "--fusion must be code, paper, none or a weight in [0, 1], not '%s'",
                                   a->fusion);
    }
    return EXIT_OK;
}

/* "Title: profile" for a candidate (the template genres line when there is no profile). */
static char *item_text(const gatrec_model *m, const context *c, int32_t item)
{
    const char *title = cli_item_title(m, c->ds, item), *prof = gatrec_profiles_get(c->p, GATREC_NODE_ITEM,
                                                                                gatrec_model_item_id(m, item));
    size_t n = (title ? strlen(title) : 24) + (prof ? strlen(prof) : 0) + 8;
    char *t = malloc(n);
    if (t)
        snprintf(t, n, "%s: %s", title ? title : "untitled", prof ? prof : "");
    return t;
}

/* What --rerank and --explain need: the texts (context), the LLM and the reranker. */
typedef struct llm_session {
    context c;
    gatrec_llm *llm;
    gatrec_reranker *rr;
} llm_session;

static void close_session(llm_session *s)
{
    gatrec_reranker_free(s->rr);
    gatrec_llm_free(s->llm);
    close_context(&s->c);
}

/* Opens what `a` asks for (nothing but the dataset without --rerank or --explain); an exit code. */
static int open_session(const gatrec_model *m, const rec_args *a, llm_session *s)
{
    gatrec_reranker_options ro = GATREC_RERANKER_OPTIONS_INIT;
    int need = a->rerank || a->explain, rc;
    memset(s, 0, sizeof *s);
    if ((a->rerank && (rc = parse_rerank(a, &ro))) || (rc = open_context(m, a, need, &s->c)))
        return rc;
    if (need && (rc = cli_open_llm(a->llm, a->cache, 8, &a->limits, &s->llm)))
        return cli_fail("recommend", rc);
    if (a->rerank && !s->llm)
        return cli_usage_error("recommend", "%s", "--rerank needs an LLM: set $GATREC_LLM_BASE_URL or --llm URL");
    if (s->c.ds) /* the prompts speak of what the catalogue holds (movies, or an imported --domain) */
        gatrec_dataset_semantics(s->c.ds, NULL, NULL, NULL, &ro.domain);
    if (s->llm && (rc = gatrec_reranker_new(s->llm, &ro, &s->rr)))
        return cli_fail("recommend", rc);
    return EXIT_OK;
}

/* Have the LLM reorder the first min(n, 64) of `items` (the model's order, model indices) for
 * user `uid`. An unusable answer leaves the model's order, says why on standard error and sets
 * *note; only running out of memory is an error. */
static int rerank_items(const gatrec_model *m, const context *c, gatrec_reranker *rr, long long uid, int32_t *items,
                        size_t n, const char **note)
{
    const char *profile = c->p ? gatrec_profiles_get(c->p, GATREC_NODE_USER, uid) : NULL;
    int64_t ids[64], out[64];
    char *texts[64];
    size_t nc = n < 64 ? n : 64;
    int rc = GATREC_OK;
    for (size_t j = 0; j < nc; j++) {
        out[j] = ids[j] = gatrec_model_item_id(m, items[j]); /* whatever fails leaves the model's order */
        if (!(texts[j] = item_text(m, c, items[j])))
            rc = GATREC_ENOMEM;
    }
    if (!rc)
        rc = gatrec_reranker_rerank(rr, profile ? profile : "(no profile)", ids, (const char *const *)texts, nc, out);
    for (size_t j = 0; j < nc; j++) {
        gatrec_model_item_index(m, out[j], &items[j]);
        free(texts[j]);
    }
    if (rc && rc != GATREC_ENOMEM) {
        static unsigned told; /* the first few users' reasons; the rest are counted at the end */
        *note = gatrec_last_error();
        if (told++ < 3)
            fprintf(stderr, "gatrec recommend: user %lld: %s\n", uid, *note);
        rc = GATREC_OK;
    }
    return rc;
}

/* When the LLM gave nothing usable to a command that asked it something, the command fails
 * (its output stands: the model's order, template justifications), naming the endpoint, the
 * model, why (counted by reason) and what to do. */
static int llm_gave_nothing(const rec_args *a, gatrec_llm *llm)
{
    const char *env = getenv("GATREC_LLM_BASE_URL");
    fprintf(stderr, "gatrec recommend: the LLM at %s (model %s) gave nothing usable; the output is the model's order "
            "and template justifications. Why:\n", a->llm ? a->llm : env ? env : "?", gatrec_llm_model(llm));
    cli_print_llm_failures(llm, 3);
    fprintf(stderr, "Check the endpoint, the key ($GATREC_LLM_API_KEY) and the model ($GATREC_LLM_MODEL), or run "
            "without --rerank/--explain.\n");
    return EXIT_FAIL;
}

static int recommend_user(const gatrec_model *m, const rec_args *a)
{
    llm_session S;
    const context *c = &S.c;
    size_t want = a->rerank && a->candidates > a->k ? a->candidates : a->k, n = 0;
    int32_t u, *items = malloc(want * sizeof *items), ev[EVIDENCE_K];
    float *scores = malloc(want * sizeof *scores), w[EVIDENCE_K];
    const char *note = NULL;
    int rc;
    memset(&S, 0, sizeof S);
    if (!items || !scores) {
        rc = cli_fail("recommend", GATREC_ENOMEM);
        goto done;
    }
    if ((rc = gatrec_model_user_index(m, a->uid, &u)) || (rc = gatrec_model_recommend_request(m, u, want, &a->rules, items, scores, &n))) {
        rc = cli_fail("recommend", rc);
        goto done;
    }
    if (n < a->k)
        fprintf(stderr, "gatrec recommend: note: %zu item%s could be recommended: the user rated the others%s\n", n,
                n == 1 ? "" : "s", a->rules.only || a->rules.nexclude ? ", or --only / --exclude left them out" : "");
    char ubuf[32], iname[32];
    const char *uname = cli_user_name(m, u, ubuf, sizeof ubuf);
    {
        size_t held = 0;
        if (!a->new_user && gatrec_model_user_ratings(m, u, NULL, NULL, 0, &held) == 0 && held == 0)
            fprintf(stderr, "gatrec recommend: note: the model holds no ratings of user %s (a held-out user of its "
                    "split?), so these are the popular items; give their ratings to fold them in: --new-user \"\" "
                    "--rated ID:STARS,...\n", uname);
    }
    if ((rc = open_session(m, a, &S)))
        goto done;
    const char *user_profile = c->p ? gatrec_profiles_get(c->p, GATREC_NODE_USER, a->uid) : NULL;
    if (a->rerank && (rc = rerank_items(m, c, S.rr, a->uid, items, n, &note))) {
        rc = cli_fail("recommend", rc);
        goto done;
    }
    if (n > a->k)
        n = a->k;
    if (a->json) { /* say what happened: reranked, or the model's order and why */
        printf("{\"user_id\": ");
        cli_json_user(stdout, m, u);
        if (S.llm) {
            printf(", \"llm_model\": ");
            cli_json_string(stdout, gatrec_llm_model(S.llm));
        }
        if (a->rerank) {
            printf(", \"reranked\": %s", note ? "false" : "true");
            if (note) {
                printf(", \"rerank_note\": ");
                cli_json_string(stdout, note);
            }
        }
        printf(", \"recommendations\": [");
    }
    else
        printf("Top %zu for user %s%s:\n", n, uname, a->rerank ? (note ? " (model order: the LLM's answer was unusable)"
                                                                           : " (reranked by the LLM)")
                                                                 : "");
    size_t llm_failed = 0;
    char first_failure[512] = "";
    for (size_t j = 0; j < n; j++) {
        const char *title = cli_item_title(m, c->ds, items[j]);
        char *why = NULL;
        size_t nev = 0;
        float sc = 0;
        gatrec_model_score(m, u, &items[j], 1, &sc);
        if (gatrec_model_evidence(m, u, items[j], EVIDENCE_K, ev, w, &nev) != GATREC_OK)
            nev = 0;
        if (a->explain && S.rr && title) {
            const char *et[EVIDENCE_K];
            char *itext = item_text(m, c, items[j]);
            for (size_t e = 0; e < nev; e++) {
                const char *t = cli_item_title(m, c->ds, ev[e]);
                et[e] = t ? t : "";
            }
            if (gatrec_reranker_justify(S.rr, user_profile ? user_profile : "(no profile)", title, itext, et, nev, &why)) {
                why = NULL; /* unusable: the template below, and a note after the list */
                if (!llm_failed++)
                    snprintf(first_failure, sizeof first_failure, "%s", gatrec_last_error());
            }
            free(itext);
        }
        int by_llm = why != NULL;
        if (!why && (rc = gatrec_model_explain(m, c->ds, u, items[j], &why))) {
            rc = cli_fail("recommend", rc);
            goto done;
        }
        if (a->json) {
            printf("%s{\"rank\": %zu, \"item_id\": ", j ? ", " : "", j + 1);
            cli_json_item(stdout, m, items[j]);
            printf(", \"score\": %.6g, \"title\": ", sc);
            cli_json_string(stdout, title);
            printf(", \"justification\": ");
            cli_json_string(stdout, why);
            if (a->explain)
                printf(", \"justified_by\": \"%s\"", by_llm ? "llm" : "template");
            if (a->evidence) {
                printf(", \"evidence\": [");
                for (size_t e = 0; e < nev; e++) {
                    printf("%s{\"item_id\": ", e ? ", " : "");
                    cli_json_item(stdout, m, ev[e]);
                    printf(", \"weight\": %.4f, \"title\": ", w[e]);
                    cli_json_string(stdout, cli_item_title(m, c->ds, ev[e]));
                    printf("}");
                }
                printf("]");
            }
            printf("}");
        } else {
            printf("%3zu. %s (item %s, score %.4g)\n     why: %s\n", j + 1, title ? title : "",
                   cli_item_name(m, items[j], iname, sizeof iname), sc, why);
            for (size_t e = 0; a->evidence && e < nev; e++) {
                const char *t = cli_item_title(m, c->ds, ev[e]);
                printf("     evidence: %.3f  item %s  %s\n", w[e], cli_item_name(m, ev[e], iname, sizeof iname),
                       t ? t : "");
            }
        }
        gatrec_string_free(why);
    }
    if (llm_failed)
        fprintf(stderr, "gatrec recommend: note: %zu of %zu justifications by the LLM failed (first: %s); template "
                "justifications stand in\n", llm_failed, n, first_failure);
    if (a->json)
        printf("]}\n");
    rc = EXIT_OK;
    if (S.llm && (!a->rerank || note) && (!a->explain || (n && llm_failed == n)) && (a->rerank || a->explain)) {
        fflush(stdout);
        rc = llm_gave_nothing(a, S.llm);
    }
done:
    close_session(&S);
    free(items);
    free(scores);
    return rc;
}

/* --all --csv --rerank: every user's top K with the first --candidates reordered by the LLM
 * (answers cached, so a rerun asks nothing twice). */
static int recommend_all_reranked(const gatrec_model *m, const rec_args *a, gatrec_reclist **out)
{
    llm_session S;
    gatrec_reclist *list = NULL;
    size_t want = a->candidates > a->k ? a->candidates : a->k, nu = gatrec_model_num_users(m), fell_back = 0;
    int32_t *items = malloc(want * sizeof *items);
    float *scores = malloc(want * sizeof *scores);
    int tty = isatty(2), rc;
    memset(&S, 0, sizeof S);
    if (!items || !scores) {
        rc = cli_fail("recommend", GATREC_ENOMEM);
        goto done;
    }
    if ((rc = open_session(m, a, &S)))
        goto done;
    if ((rc = gatrec_reclist_new(nu, &list))) {
        rc = cli_fail("recommend", rc);
        goto done;
    }
    for (int32_t u = 0; (size_t)u < nu; u++) {
        const char *note = NULL;
        size_t n = 0;
        if ((rc = gatrec_model_recommend(m, u, want, items, scores, &n)) ||
            (rc = rerank_items(m, &S.c, S.rr, (long long)gatrec_model_user_id(m, u), items,
                               n < a->candidates ? n : a->candidates, &note)) ||
            (rc = gatrec_reclist_set(list, u, items, n < a->k ? n : a->k))) {
            rc = cli_fail("recommend", rc);
            goto done;
        }
        fell_back += note != NULL;
        if (tty)
            fprintf(stderr, "\rreranking: %zu/%zu users", (size_t)u + 1, nu);
    }
    fprintf(stderr, "%sreranked %zu of %zu users' top %zu by the LLM (%s, model %s); %zu kept the model's order\n",
            tty ? "\n" : "", nu - fell_back, nu, a->candidates, a->rerank, gatrec_llm_model(S.llm), fell_back);
    if (fell_back && fell_back < nu) { /* why, by reason: failed requests and unusable answers (the
                                          * reranker counts those in the same report); all failing,
                                          * llm_gave_nothing says it */
        fprintf(stderr, "why they kept it:\n");
        cli_print_llm_failures(S.llm, 8);
    }
    *out = list;
    list = NULL;
    rc = nu && fell_back == nu ? llm_gave_nothing(a, S.llm) : EXIT_OK; /* the list is still written */
done:
    gatrec_reclist_free(list);
    close_session(&S);
    free(items);
    free(scores);
    return rc;
}

/* The library writes files atomically (temporary file + rename), which must never be aimed at
 * /dev/stdout: write to a private temporary file and copy it out. */
static int csv_to_stdout(const gatrec_reclist *list, const gatrec_model *m)
{
    char path[] = "/tmp/gatrec-recs-XXXXXX", buf[65536];
    int fd = mkstemp(path), rc;
    FILE *f;
    size_t n;
    if (fd < 0) {
        perror("gatrec recommend: temporary file");
        return GATREC_EIO;
    }
    close(fd);
    if ((rc = gatrec_reclist_save_csv(list, m, NULL, path)) == GATREC_OK && (f = fopen(path, "rb"))) {
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, stdout);
        fclose(f);
    }
    unlink(path);
    return rc;
}

/* --new-user TEXT --rated ID:STARS,...: fold the user in (a.uid becomes its new id) and
 * recommend; returns an exit status. */
static int fold_in(gatrec_model *m, rec_args *a);

static int fold_in_user(gatrec_model *m, rec_args *a)
{
    int rc = fold_in(m, a);
    return rc < 0 ? cli_fail("recommend", rc) : rc;
}

/* --rated ID:STARS,...: model item indices and stars (free both); an exit status or a library status */
static int parse_rated(const gatrec_model *m, const char *rated, int32_t **items_out, float **stars_out, size_t *n_out)
{
    int32_t *items;
    float *stars;
    size_t n = 0, cap = 1;
    int rc = GATREC_OK;
    if (!rated[strspn(rated, " \t")])
        return cli_usage_error("recommend", "%s", "--rated needs at least one ID:STARS (a user without ratings "
                               "gets the popular items: nothing to fold in)");
    for (const char *p = rated; *p; p++) /* every entry, however many: none is dropped */
        cap += *p == ',';
    items = malloc(cap * sizeof *items);
    stars = malloc(cap * sizeof *stars);
    if (!items || !stars) {
        free(items), free(stars);
        return GATREC_ENOMEM;
    }
    for (const char *p = rated; *p && !rc;) { /* ITEM:STARS; an item id holding ',' or ':' in "double quotes" */
        char key[GATREC_CLI_MAX_KEY + 1], *end;
        size_t kn = 0;
        double r;
        const char *q = p;
        if (*q == '"') { /* RFC 4180 style: "" is a quote */
            for (q++; *q && !(q[0] == '"' && q[1] != '"'); q++) {
                if (q[0] == '"')
                    q++;
                if (kn < sizeof key - 1)
                    key[kn++] = *q;
            }
            if (*q == '"')
                q++;
        } else { /* up to the entry's last ':' */
            const char *e = p + strcspn(p, ","), *colon = NULL;
            for (const char *c = p; c < e; c++)
                colon = *c == ':' ? c : colon;
            q = colon ? colon : e;
            kn = (size_t)(q - p) < sizeof key - 1 ? (size_t)(q - p) : sizeof key - 1;
            memcpy(key, p, kn);
        }
        key[kn] = '\0';
        if (*q != ':' || !kn) {
            rc = cli_usage_error("recommend", "--rated: expected ITEM:STARS,... (an item id with ',' or ':' in double "
                                 "quotes), at '%.40s'", p);
            break;
        }
        r = strtod(q + 1, &end);
        if (end == q + 1 || (*end && *end != ',') || !(r >= 0.5 && r <= 5))
            rc = cli_usage_error("recommend", "--rated: item %s: stars must be a number from 0.5 to 5", key);
        else if (!(rc = cli_model_item(m, key, kn, &items[n])))
            stars[n++] = (float)r;
        p = *end == ',' ? end + 1 : end;
    }
    if (rc) {
        free(items), free(stars);
        return rc;
    }
    *items_out = items;
    *stars_out = stars;
    *n_out = n;
    return GATREC_OK;
}

/* --user ID --rated ...: the user's extra ratings join the loaded model (not saved), then the list */
static int with_extra_ratings(gatrec_model *m, rec_args *a)
{
    int32_t *items, u;
    float *stars;
    size_t n;
    int rc = parse_rated(m, a->rated, &items, &stars, &n);
    if (rc)
        return rc > 0 ? rc : cli_fail("recommend", rc);
    if ((rc = gatrec_model_user_index(m, a->uid, &u)) || (rc = gatrec_model_update_user(m, u, items, stars, n)))
        rc = cli_fail("recommend", rc);
    free(items);
    free(stars);
    return rc ? rc : recommend_user(m, a);
}

static int fold_in(gatrec_model *m, rec_args *a)
{
    gatrec_embedder *e = NULL;
    int32_t *items, idx;
    float *stars, *features = NULL;
    size_t n = 0;
    int64_t id = 0;
    int rc = parse_rated(m, a->rated, &items, &stars, &n);
    if (rc)
        return rc;
    rc = gatrec_model_get_embedder(m, &e);
    if (rc == GATREC_ENOTFOUND) { /* no embedder: the profile cannot enter; the ratings still do */
        gatrec_error_clear();
        rc = GATREC_OK;
    } else if (rc) {
        free(items), free(stars);
        return rc;
    }
    gatrec_llm *llm = NULL;
    if (e && gatrec_embedder_remote_model(e)) { /* the profile embeds at the endpoint it was trained with */
        if ((rc = cli_open_llm(a->llm, a->cache, 1, &a->limits, &llm)) == GATREC_OK && !llm) {
            fprintf(stderr, "gatrec recommend: the model's embedder is remote (model %s): set $GATREC_LLM_BASE_URL "
                    "or --llm URL to embed the --new-user text\n", gatrec_embedder_remote_model(e));
            rc = EXIT_FAIL; /* reported here */
        }
        if (!rc)
            rc = gatrec_embedder_bind_llm(e, llm);
    }
    if (e && !a->new_user[strspn(a->new_user, " \t\r\n")]) { /* no text: the mean user text, as eval's fold-in */
        gatrec_embedder_free(e);
        e = NULL;
    }
    if (e && !rc) {
        const char *texts[] = {a->new_user};
        if (!(features = malloc(gatrec_embedder_dim(e) * sizeof *features)))
            rc = GATREC_ENOMEM;
        else
            rc = gatrec_embedder_embed(e, texts, 1, features);
    }
    id = cli_fresh_user_id(m);
    if (!rc)
        rc = gatrec_model_add_user_checked(m, id, items, stars, n, features, e ? gatrec_embedder_dim(e) : 0, &idx);
    free(features);
    free(items);
    free(stars);
    if (!rc && !e && a->new_user[strspn(a->new_user, " \t\r\n")])
        fprintf(stderr, "gatrec recommend: note: %s, so the --new-user text is not used: the list comes from "
                "the ratings alone\n",
                gatrec_model_feature_dim(m) ? "the model carries no embedder (train --embedder)"
                                            : "the model was trained without input features");
    gatrec_embedder_free(e);
    gatrec_llm_free(llm);
    if (rc)
        return rc;
    a->uid = id;
    return recommend_user(m, a);
}

int cmd_recommend(int argc, char **argv)
{
    const char *model_path = NULL, *max_tokens_s = NULL, *user_s = NULL, *k_s = "10", *out = NULL, *cand_s = "20", *timeout_s = NULL,
               *retries_s = NULL, *format_s = NULL;
    rec_args a = {NULL, NULL, 0, 10, 20, 0, 0, 0, NULL, "code", NULL, NULL, NULL, {60.0f, 4, 0, NULL, 0}, NULL, NULL,
                  GATREC_REQUEST_OPTIONS_INIT};
    int all = 0, csv = 0, rc;
    cli_opt opts[] = {{"--model", &model_path, NULL},  {"--user", &user_s, NULL},       {"-k", &k_s, NULL},
                      {"--json", NULL, &a.json},        {"--all", NULL, &all},           {"--csv", NULL, &csv},
                      {"--out", &out, NULL},            {"--evidence", NULL, &a.evidence}, {"--rerank", &a.rerank, NULL},
                      {"--candidates", &cand_s, NULL},  {"--fusion", &a.fusion, NULL},   {"--explain", NULL, &a.explain},
                      {"--profiles", &a.profiles, NULL}, {"--llm", &a.llm, NULL},         {"--cache", &a.cache, NULL},
                      {"--new-user", &a.new_user, NULL}, {"--rated", &a.rated, NULL},     {"--timeout", &timeout_s, NULL},
                      {"--retries", &retries_s, NULL},  {"--response-format", &format_s, NULL},
                      {"--max-tokens", &max_tokens_s, NULL},
                      {"--exclude", &a.exclude_s, NULL}, {"--only", &a.only_s, NULL},
                      {NULL, NULL, NULL}};
    gatrec_model *m = NULL;
    gatrec_reclist *list = NULL;
    long long k, cand;
    rc = cli_parse(argc, argv, 2, opts, NULL, 0, NULL);
    if (rc)
        return rc < 0 ? (fputs(recommend_usage, stdout), EXIT_OK) : rc;
    if (!model_path)
        return cli_usage_error("recommend", "%s", "--model MODEL is required");
    if (all + !!user_s + !!a.new_user != 1)
        return cli_usage_error("recommend", "%s", "give one of --user ID, --new-user TEXT or --all");
    if (a.new_user && !a.rated)
        return cli_usage_error("recommend", "%s", "--new-user TEXT goes with --rated ID:STARS,...");
    if (a.rated && all)
        return cli_usage_error("recommend", "%s", "--rated goes with --new-user TEXT or --user ID (one user's ratings)");
    if (all && !csv)
        return cli_usage_error("recommend", "%s", "--all writes CSV: add --csv");
    if (all && (a.exclude_s || a.only_s))
        return cli_usage_error("recommend", "%s", "--exclude and --only are one request's rules: with --user or "
                               "--new-user");
    if (all && a.json)
        return cli_usage_error("recommend", "%s", "--all writes CSV, not JSON: drop --json");
    if (!all && (csv || out))
        return cli_usage_error("recommend", "%s", "--csv and --out go with --all (one user's list prints)");
    if (all && par_ranks() > 1 && (a.rerank || a.explain))
        return cli_usage_error("recommend", "%s", "under mpirun, --all shards the model's lists over the ranks; "
                               "--rerank and --explain run in one process");
    if ((k = cli_number("recommend", "-k", k_s, 1, 100000)) < 0)
        return EXIT_USAGE;
    if ((cand = cli_number("recommend", "--candidates", cand_s, 2, 64)) < 0)
        return EXIT_USAGE;
    if (cli_llm_limits_parse("recommend", timeout_s, retries_s, format_s, max_tokens_s, &a.limits))
        return EXIT_USAGE;
    a.k = (size_t)k;
    a.candidates = (size_t)cand;
    {
        const char *inputs[] = {model_path, a.profiles};
        if (out && ((rc = cli_check_output("recommend", out)) || (rc = cli_check_not_input("recommend", out, inputs, 2))))
            return rc;
    }
    if ((rc = gatrec_model_load(model_path, &m)))
        return cli_fail("recommend", rc);
    if (user_s) { /* a string key for a model of an imported dataset, else the numeric id */
        int32_t ui;
        if ((rc = cli_model_user(m, user_s, strlen(user_s), &ui))) {
            gatrec_model_free(m);
            return rc < 0 ? cli_fail("recommend", rc) : rc;
        }
        a.uid = gatrec_model_user_id(m, ui);
    }
    {
        int32_t *ex = NULL, *on = NULL;
        if ((a.exclude_s && (rc = read_item_rule(m, "--exclude", a.exclude_s, 0, &ex, &a.rules.nexclude))) ||
            (a.only_s && (rc = read_item_rule(m, "--only", a.only_s, 1, &on, &a.rules.nonly)))) {
            free(ex);
            gatrec_model_free(m);
            return rc < 0 ? cli_fail("recommend", rc) : rc;
        }
        a.rules.exclude = ex;
        a.rules.only = on;
    }
    if (a.new_user) {
        rc = fold_in_user(m, &a);
    } else if (!all && a.rated) {
        rc = with_extra_ratings(m, &a);
    } else if (!all) {
        rc = recommend_user(m, &a);
    } else if (a.rerank) {
        int wrc;
        rc = recommend_all_reranked(m, &a, &list); /* a list even when the LLM gave nothing (its exit says so) */
        if (list && (wrc = out ? gatrec_reclist_save_csv(list, m, NULL, out) : csv_to_stdout(list, m)))
            rc = cli_fail("recommend", wrc);
    } else if ((rc = par_recommend_all(m, (size_t)k, NULL, 0, &list)) ||
               (par_rank() == 0 && (rc = out ? gatrec_reclist_save_csv(list, m, NULL, out) : csv_to_stdout(list, m)))) {
        rc = cli_fail("recommend", rc);
    }
    gatrec_reclist_free(list);
    gatrec_model_free(m);
    free((void *)a.rules.exclude);
    free((void *)a.rules.only);
    return rc;
}
