/* gatrec_profiles_generate: profiles written by the LLM - one prompt per item, one (integrated)
 * or up to four turns (structured) per user - run in rounds on the client's threads, replies
 * cleaned, templates kept where the LLM gives nothing usable. */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../profiles/profiles.h"
#include "llm.h"

GATREC__OPTIONS_INIT_FN(gatrec_profile_options_init, gatrec_profile_options, GATREC_PROFILE_OPTIONS_VERSION, GATREC_PROFILE_OPTIONS_INIT)

static const char ITEM_PROMPT[] =
    "Write a profile of the movie below for a recommender system, in Markdown with exactly these sections:\n"
    "## Overview (one sentence)\n## Attributes (Genre: ...; Tags: up to 8 comma-separated tags)\n"
    "## Description (one paragraph: narrative, tone, characters)\n"
    "## Dislikes (attributes this movie does NOT have)\n\n"
    "Movie: {title}\nYear: {year}\nGenres: {genres}\nOverview: {overview}\n";

static const char USER_PROMPT[] =
    "A user rated these movies 5 stars (most recent first):\n{liked}\n\n"
    "and these 1 or 2 stars:\n{disliked}\n\n"
    "Write one paragraph describing this user's taste for a recommender system: genres, themes, tone, "
    "eras, what they avoid. Do not list the titles. Answer as JSON: {\"user_profile\": \"...\"}";

static const char USER_FIRST[] =
    "Build a profile of a user's movie taste in Markdown with exactly these sections: ## Overview, "
    "## Attributes (Genre: ...; Tags: ...), ## Description, ## Dislikes. Use only words that could "
    "describe movies. The user {verb} these movies:\n{items}\n\nReturn the profile only.";

static const char USER_REFINE[] =
    "Here is a user's current taste profile:\n\n{profile}\n\nThe user also {verb} these movies:\n{items}\n\n"
    "Return the whole updated profile, same sections{dislikes}. Use only words that could describe movies.";

/* The same prompts for a catalogue of anything else (an imported dataset's domain, docs/llm.md):
 * {domain} is its plural noun ("books"), and the columns of the catalogue are the details. */
static const char ITEM_PROMPT_GENERIC[] =
    "Write a profile of the item below, from a catalogue of {domain}, for a recommender system, in Markdown "
    "with exactly these sections:\n"
    "## Overview (one sentence)\n## Attributes (Category: ...; Tags: up to 8 comma-separated tags)\n"
    "## Description (one paragraph: what it is, its style, who it suits)\n"
    "## Dislikes (attributes this item does NOT have)\n\n"
    "Item: {title}\nCategories: {genres}\nDetails:\n{overview}\n";

static const char USER_PROMPT_GENERIC[] =
    "A user of a catalogue of {domain} liked these (most recent first):\n{liked}\n\n"
    "and disliked these:\n{disliked}\n\n"
    "Write one paragraph describing this user's taste for a recommender system: categories, themes, style, "
    "what they avoid. Do not list the names. Answer as JSON: {\"user_profile\": \"...\"}";

static const char USER_FIRST_GENERIC[] =
    "Build a profile of a user's taste in {domain} in Markdown with exactly these sections: ## Overview, "
    "## Attributes (Category: ...; Tags: ...), ## Description, ## Dislikes. Use only words that could "
    "describe {domain}. The user {verb} these {domain}:\n{items}\n\nReturn the profile only.";

static const char USER_REFINE_GENERIC[] =
    "Here is a user's current taste profile:\n\n{profile}\n\nThe user also {verb} these {domain}:\n{items}\n\n"
    "Return the whole updated profile, same sections{dislikes}. Use only words that could describe {domain}.";

/* template with {name} placeholders -> text */
static int fill(gatrec__buf *b, const char *tpl, const char *const *keys, const char *const *vals, size_t n)
{
    int rc = GATREC_OK;
    for (const char *p = tpl; *p && !rc;) {
        size_t k = n;
        if (*p == '{')
            for (k = 0; k < n; k++)
                if (strncmp(p + 1, keys[k], strlen(keys[k])) == 0 && p[1 + strlen(keys[k])] == '}')
                    break;
        if (k < n) {
            rc = gatrec__buf_printf(b, "%s", vals[k]);
            p += strlen(keys[k]) + 2;
        } else {
            rc = gatrec__buf_put(b, p++, 1);
        }
    }
    return rc ? rc : gatrec__buf_put(b, "", 1);
}

static int item_prompt(gatrec__buf *b, const char *tpl, const gatrec_dataset *ds, int32_t di)
{
    gatrec__buf genres = {0};
    char year[16];
    const char *title = gatrec_dataset_item_title(ds, di), *text = gatrec_dataset_item_text(ds, di);
    int rc = gatrec__profiles_put_genres(&genres, ds, di);
    if (!rc)
        rc = gatrec__buf_put(&genres, "", 1);
    snprintf(year, sizeof year, "%d", gatrec_dataset_item_year(ds, di));
    if (!rc) {
        const char *keys[] = {"title", "year", "genres", "overview", "domain"};
        const char *key = gatrec_dataset_item_key(ds, di), *domain;
        gatrec_dataset_semantics(ds, NULL, NULL, NULL, &domain);
        const char *vals[] = {title ? title : key ? key : "", gatrec_dataset_item_year(ds, di) > 0 ? year : "unknown",
                              genres.len > 1 ? (const char *)genres.data : gatrec__profiles_generic(ds) ? "(none)" : "",
                              text ? text : "(none)", domain};
        if (tpl == ITEM_PROMPT && gatrec__profiles_generic(ds))
            tpl = ITEM_PROMPT_GENERIC;
        rc = fill(b, tpl, keys, vals, 5);
    }
    gatrec__buf_free(&genres);
    return rc;
}

/* One turn of a user's profile: `what` 0..3 = liked 1-5, liked 6-10, disliked 1-5, disliked 6-10;
 * `profile` NULL on the first turn. Empty buffer when the user has no such items. */
static int structured_prompt(gatrec__buf *b, const gatrec_dataset *ds, const gatrec_graph *g, const rated *r, size_t n,
                             int what, const char *profile)
{
    gatrec__buf items = {0};
    size_t listed;
    int liked = what < 2, rc = gatrec__profiles_list_items(&items, ds, r, n, liked, g->liked, g->disliked, "\n- ", (size_t)(what % 2) * 5,
                                          5, &listed);
    if (!rc && listed) {
        gatrec__buf list = {0};
        if (!(rc = gatrec__buf_printf(&list, "- %.*s", (int)items.len, (const char *)items.data)) &&
            !(rc = gatrec__buf_put(&list, "", 1))) {
            const char *keys[] = {"verb", "items", "profile", "dislikes", "domain"}, *domain;
            int generic = gatrec__profiles_generic(ds);
            gatrec_dataset_semantics(ds, NULL, NULL, NULL, &domain);
            const char *vals[] = {liked ? "liked" : "disliked", (const char *)list.data, profile ? profile : "",
                                  liked ? "" : ", and extend ## Dislikes", domain};
            rc = fill(b, profile ? (generic ? USER_REFINE_GENERIC : USER_REFINE) : generic ? USER_FIRST_GENERIC : USER_FIRST,
                      keys, vals, 5);
        }
        gatrec__buf_free(&list);
    }
    gatrec__buf_free(&items);
    return rc;
}

static int user_prompt(gatrec__buf *b, const char *tpl, const gatrec_dataset *ds, const gatrec_graph *g, const rated *r,
                       size_t n)
{
    gatrec__buf liked = {0}, disliked = {0};
    size_t nl, nd;
    int rc = gatrec__profiles_list_items(&liked, ds, r, n, 1, 5.0f, g->disliked, "\n", 0, TEMPLATE_ITEMS, &nl);
    if (!rc && !nl) /* nobody rated 5: the liked threshold then */
        rc = gatrec__profiles_list_items(&liked, ds, r, n, 1, g->liked, g->disliked, "\n", 0, TEMPLATE_ITEMS, &nl);
    if (!rc)
        rc = gatrec__profiles_list_items(&disliked, ds, r, n, 0, g->liked, g->disliked, "\n", 0, TEMPLATE_ITEMS, &nd);
    if (!rc && !(rc = gatrec__buf_printf(&liked, "%s", nl ? "" : "(none)")) &&
        !(rc = gatrec__buf_put(&liked, "", 1)) && !(rc = gatrec__buf_printf(&disliked, "%s", nd ? "" : "(none)")) &&
        !(rc = gatrec__buf_put(&disliked, "", 1))) {
        const char *keys[] = {"liked", "disliked", "domain"}, *domain;
        gatrec_dataset_semantics(ds, NULL, NULL, NULL, &domain);
        const char *vals[] = {(const char *)liked.data, (const char *)disliked.data, domain};
        if (tpl == USER_PROMPT && gatrec__profiles_generic(ds))
            tpl = USER_PROMPT_GENERIC;
        rc = fill(b, tpl, keys, vals, 3);
    }
    gatrec__buf_free(&liked);
    gatrec__buf_free(&disliked);
    return rc;
}

/* The LLM's answer is data: trim it, strip a code fence, and for JSON answers take the field. */
static char *clean_reply(const char *reply, const char *json_key)
{
    const char *p = reply, *e;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    if (strncmp(p, "```", 3) == 0) {
        p = strchr(p, '\n');
        p = p ? p + 1 : reply + strlen(reply);
    }
    e = p + strlen(p);
    while (e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t'))
        e--;
    if (e - p >= 3 && strncmp(e - 3, "```", 3) == 0)
        e -= 3;
    while (e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
    if (json_key) {
        json_t *j = json_loadb(p, (size_t)(e - p), 0, NULL), *v = json_object_get(j, json_key);
        char *out = json_is_string(v) && json_string_length(v) ? gatrec__strdup(json_string_value(v)) : NULL;
        json_decref(j);
        return out;
    }
    return e > p ? gatrec__strndup(p, (size_t)(e - p)) : NULL;
}

/* The checks of the LLM's answers (gatrec__llm_check): an unusable answer fails and is not cached */
static const char *check_words(const char *reply)
{
    char *clean = clean_reply(reply, NULL);
    const char *why = !clean || gatrec__llm_too_few_words(clean)
                          ? "fewer than 3 words: no profile"
                          : NULL;
    free(clean);
    return why;
}

static const char *check_markdown(const char *reply) /* the default prompts' sections */
{
    char *clean = clean_reply(reply, NULL);
    const char *why = !clean || (strncmp(clean, "## Overview", 11) != 0 && !strstr(clean, "\n## Overview"))
                          ? "no '## Overview' section: not the profile format asked for"
                      : gatrec__llm_too_few_words(clean) ? "fewer than 3 words: no profile"
                                                                              : NULL;
    free(clean);
    return why;
}

static const char *check_user_json(const char *reply)
{
    char *clean = clean_reply(reply, "user_profile");
    const char *why = !clean ? "not the JSON object asked for, or an empty user_profile"
                      : gatrec__llm_too_few_words(clean) ? "a user_profile of fewer than 3 words"
                                                                              : NULL;
    free(clean);
    return why;
}

typedef struct job {
    int kind;
    int64_t id;
    int32_t node; /* graph user index for users */
    char *prompt, *profile;
    rated *r;
    size_t n;
} job;

/* Send the prompts of jobs[..] that have one; store cleaned answers in profile (NULL: failed). */
static int run_round(gatrec_llm *llm, job *jobs, size_t n, const gatrec_profile_options *o, const char *json_key,
                     gatrec__llm_check check, size_t *done_so_far)
{
    const char **prompts = gatrec__malloc_array(n + 1, sizeof *prompts);
    size_t *which = gatrec__malloc_array(n + 1, sizeof *which), m = 0;
    char **replies;
    int *st, rc = GATREC_OK;
    if (!prompts || !which) {
        free(prompts);
        free(which);
        return GATREC_ENOMEM;
    }
    for (size_t k = 0; k < n; k++)
        if (jobs[k].prompt)
            prompts[m] = jobs[k].prompt, which[m++] = k;
    replies = gatrec__calloc(m + 1, sizeof *replies);
    st = gatrec__calloc(m + 1, sizeof *st);
    if (!replies || !st)
        rc = GATREC_ENOMEM;
    if (!rc && m) {
        /* failures of single requests are the nodes' (they stay without a profile); a cancel is the caller's */
        if (gatrec__llm_chat_many_shaped(llm, m, NULL, prompts, o->temperature,
                                         json_key ? gatrec__shape_user_profile : NULL, check, replies, st, o->progress,
                                         o->payload) == GATREC_ECANCELLED)
            rc = GATREC_ECANCELLED;
    }
    for (size_t q = 0; q < m; q++) {
        job *j = &jobs[which[q]];
        char *clean = !st[q] && replies[q] ? clean_reply(replies[q], json_key) : NULL;
        if (!st[q] && !clean)
            gatrec__llm_note_failure(llm, json_key ? "an answer held no usable profile (not the JSON object asked for, "
                                                     "or an empty user_profile)"
                                                   : "an answer held no usable profile (empty)");
        free(j->profile);
        j->profile = clean; /* NULL: this node failed */
        gatrec_string_free(replies[q]);
        free(j->prompt);
        j->prompt = NULL;
    }
    *done_so_far += m;
    free(replies);
    free(st);
    free(prompts);
    free(which);
    return rc;
}

GATREC_API int gatrec_profiles_generate(gatrec_profiles *p, gatrec_llm *llm, const gatrec_dataset *ds,
                                        const gatrec_graph *g, const gatrec_profile_options *opts, size_t *generated,
                                        size_t *failed)
{
    gatrec_profile_options o;
    job *jobs;
    size_t nj = 0, done = 0, ok = 0, bad = 0, nu, ni;
    int rc = GATREC_OK;
    gatrec_profile_options_init(&o, GATREC_PROFILE_OPTIONS_VERSION);
    if (!p || !llm || !ds || !g)
        return gatrec__error(GATREC_EINVAL, "gatrec_profiles_generate: NULL argument");
    if (GATREC__READ_VERSIONED(&o, opts, gatrec_profile_options))
        return GATREC_EINVAL;
    if (o.shards < 0 || (o.shards > 1 && (o.shard < 0 || o.shard >= o.shards)))
        return gatrec__error(GATREC_EINVAL, "gatrec_profile_options: shards must be >= 0 and shard in 0 .. shards - 1 "
                             "(shards %d, shard %d)", o.shards, o.shard);
    if (o.temperature < 0)
        o.temperature = 0.7f;
    if (o.user_form != GATREC_PROFILE_INTEGRATED && o.user_form != GATREC_PROFILE_STRUCTURED)
        return gatrec__error(GATREC_EINVAL, "user_form must be GATREC_PROFILE_INTEGRATED or GATREC_PROFILE_STRUCTURED");
    nu = g->users.count;
    ni = g->items.count;
    if (!(jobs = gatrec__calloc(nu + ni + 1, sizeof *jobs)))
        return GATREC_ENOMEM;
    /* items: one prompt each */
    for (size_t i = 0; o.items && i < ni && !rc && (!o.limit || nj < o.limit); i++) {
        int32_t di;
        gatrec__buf b = {0};
        if ((o.shards > 1 && i % (size_t)o.shards != (size_t)o.shard) ||
            (!o.overwrite && gatrec_profiles_get(p, GATREC_NODE_ITEM, g->items.ids[i])) ||
            gatrec_dataset_item_index(ds, g->items.ids[i], &di))
            continue;
        if (!(rc = item_prompt(&b, o.item_prompt ? o.item_prompt : ITEM_PROMPT, ds, di)))
            jobs[nj++] = (job){GATREC_NODE_ITEM, g->items.ids[i], -1, (char *)b.data, NULL, NULL, 0};
        else
            gatrec__buf_free(&b);
    }
    if (!rc && nj)
        rc = run_round(llm, jobs, nj, &o, NULL, o.item_prompt ? check_words : check_markdown, &done);
    for (size_t k = 0; k < nj && !rc; k++) {
        if (jobs[k].profile && !(rc = gatrec_profiles_set(p, GATREC_NODE_ITEM, jobs[k].id, jobs[k].profile)))
            ok++;
        else
            bad += !jobs[k].profile;
    }
    for (size_t k = 0; k < nj; k++)
        free(jobs[k].profile), free(jobs[k].prompt);
    memset(jobs, 0, (nu + ni + 1) * sizeof *jobs);
    nj = 0;
    /* users: one prompt (integrated), or up to four turns (structured) */
    for (size_t u = 0; o.users && u < nu && !rc && (!o.limit || nj < o.limit); u++) {
        if ((o.shards > 1 && u % (size_t)o.shards != (size_t)o.shard) ||
            (!o.overwrite && gatrec_profiles_get(p, GATREC_NODE_USER, g->users.ids[u])))
            continue;
        job *j = &jobs[nj++];
        j->kind = GATREC_NODE_USER;
        j->id = g->users.ids[u];
        j->node = (int32_t)u;
        if ((rc = gatrec__profiles_collect_rated(ds, g, (int32_t)u, &j->r, &j->n)))
            break;
        if (o.user_form == GATREC_PROFILE_INTEGRATED) {
            gatrec__buf b = {0};
            if ((rc = user_prompt(&b, o.user_prompt ? o.user_prompt : USER_PROMPT, ds, g, j->r, j->n)))
                gatrec__buf_free(&b);
            j->prompt = (char *)b.data;
        }
    }
    unsigned char *asked = gatrec__calloc(nj + 1, 1); /* a user some prompt went out for */
    if (!asked)
        rc = GATREC_ENOMEM;
    if (!rc && o.user_form == GATREC_PROFILE_INTEGRATED) {
        memset(asked, 1, nj);
        rc = run_round(llm, jobs, nj, &o, "user_profile", check_user_json, &done);
    } else if (!rc) {
        unsigned char *dead = gatrec__calloc(nj + 1, 1); /* a failed turn ends that user's profile */
        rc = dead ? rc : GATREC_ENOMEM;
        for (int what = 0; what < 4 && !rc; what++) {
            for (size_t k = 0; k < nj && !rc; k++) {
                gatrec__buf b = {0};
                if (dead[k] || (what > 0 && !jobs[k].profile && what != 2))
                    continue;
                rc = structured_prompt(&b, ds, g, jobs[k].r, jobs[k].n, what, jobs[k].profile);
                jobs[k].prompt = b.len ? (char *)b.data : NULL;
                asked[k] |= b.len > 0;
                if (!b.len)
                    gatrec__buf_free(&b);
            }
            char **before = gatrec__calloc(nj + 1, sizeof *before);
            for (size_t k = 0; before && k < nj; k++) /* keep the last good profile of a failing turn */
                if (jobs[k].prompt)
                    before[k] = jobs[k].profile, jobs[k].profile = NULL;
            if (!rc)
                rc = before ? run_round(llm, jobs, nj, &o, NULL, check_markdown, &done) : GATREC_ENOMEM;
            for (size_t k = 0; before && k < nj; k++) {
                if (before[k] && !jobs[k].profile)
                    dead[k] = 1, jobs[k].profile = before[k];
                else
                    free(before[k]);
            }
            free(before);
        }
        free(dead);
    }
    for (size_t k = 0; k < nj && !rc; k++) {
        if (jobs[k].profile && !(rc = gatrec_profiles_set(p, GATREC_NODE_USER, jobs[k].id, jobs[k].profile)))
            ok++;
        else /* a user with nothing to describe (no liked or disliked rating: no turn asked) did not fail */
            bad += !jobs[k].profile && asked[k];
    }
    free(asked);
    for (size_t k = 0; k < nj; k++) {
        free(jobs[k].profile);
        free(jobs[k].prompt);
        free(jobs[k].r);
    }
    free(jobs);
    if (generated)
        *generated = ok;
    if (failed)
        *failed = bad;
    return rc;
}
