/* Ranking metrics under the standard protocol and the protocol of arXiv 2508.01514 (the
 * authors' RecEvaluator, kept exactly, including which users each mean runs over). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset.h"
#include "../data/reclist.h"

GATREC__OPTIONS_INIT_FN(gatrec_eval_options_init, gatrec_eval_options, GATREC_EVAL_OPTIONS_VERSION, GATREC_EVAL_OPTIONS_INIT)

/* Running means: sum and count per metric. */
typedef struct mean {
    double sum;
    size_t n;
} mean;

static void add(mean *m, double v)
{
    m->sum += v;
    m->n++;
}

static double avg(const mean *m)
{
    return m->n ? m->sum / (double)m->n : 0.0;
}

/* One running mean per metric; each protocol decides which users feed which. */
typedef struct means {
    mean p, r, nd, map, hr, mrr, nov;
} means;

static void store(gatrec_metrics *out, const means *m)
{
    out->precision = avg(&m->p);
    out->recall = avg(&m->r);
    out->ndcg = avg(&m->nd);
    out->map = avg(&m->map);
    out->hit_rate = avg(&m->hr);
    out->mrr = avg(&m->mrr);
    out->novelty = avg(&m->nov);
}

typedef struct eval_ctx {
    const gatrec_dataset *ds;
    const gatrec_reclist *list;
    size_t k;
    float threshold;
    /* test ratings by user */
    size_t *off;
    uint32_t *idx;
    /* per item: the user whose test set was marked last, and whether relevant */
    int32_t *mark_user;
    uint8_t *mark_rel;
    size_t *train_count, *test_count;
    size_t ntest;
    uint8_t *skip_user; /* outside the training-size slice the caller asked for */
} eval_ctx;

/* Mark user u's test items: afterwards "is item i in u's test set" is mark_user[i] == u, and
 * mark_rel[i] says whether it is relevant. Returns the number of relevant test items. */
static size_t mark_user_tests(const eval_ctx *c, size_t u)
{
    size_t nrel = 0;
    for (size_t t = c->off[u]; t < c->off[u + 1]; t++) {
        uint32_t ri = c->idx[t];
        int32_t it = c->ds->r_item[ri];
        c->mark_user[it] = (int32_t)u;
        c->mark_rel[it] = c->ds->r_value[ri] >= c->threshold;
        nrel += c->mark_rel[it];
    }
    return nrel;
}

/* The user's list cut at rank <= k, into buf; returns its length. */
static size_t top_k(const eval_ctx *c, int32_t u, int32_t *buf)
{
    size_t m = 0;
    if ((size_t)u >= c->list->nusers)
        return 0;
    for (size_t j = 0; j < c->list->n[u] && (size_t)c->list->ranks[u][j] <= c->k; j++)
        buf[m++] = c->list->items[u][j];
    return m;
}

static int evaluate_standard(const eval_ctx *c, gatrec_metrics *out, int32_t *buf, uint8_t *seen_item)
{
    means a;
    memset(&a, 0, sizeof a);
    size_t covered = 0, nu = c->ds->users.count, ni = c->ds->items.count;
    for (size_t u = 0; u < nu; u++) {
        size_t nrel, hits = 0, m;
        double dcg = 0, ap = 0, rr = 0, si = 0;
        if (c->skip_user[u] || (nrel = mark_user_tests(c, u)) == 0)
            continue;
        m = top_k(c, (int32_t)u, buf);
        for (size_t j = 0; j < m; j++) {
            int32_t it = buf[j];
            size_t cnt = c->train_count[it] ? c->train_count[it] : 1;
            si += -log2((double)cnt / (double)nu);
            if (!seen_item[it]) {
                seen_item[it] = 1;
                covered++;
            }
            if (c->mark_user[it] == (int32_t)u && c->mark_rel[it]) {
                hits++;
                dcg += 1.0 / log2((double)j + 2.0);
                ap += (double)hits / (double)(j + 1);
                if (rr == 0)
                    rr = 1.0 / (double)(j + 1);
            }
        }
        add(&a.p, (double)hits / (double)c->k);
        add(&a.r, (double)hits / (double)nrel);
        add(&a.nd, dcg / gatrec__ideal_dcg(nrel, c->k));
        add(&a.map, ap / (double)(nrel < c->k ? nrel : c->k));
        add(&a.hr, hits > 0);
        add(&a.mrr, rr);
        if (m)
            add(&a.nov, si / (double)m);
    }
    out->users = a.p.n;
    store(out, &a);
    out->coverage = ni ? (double)covered / (double)ni : 0.0;
    return GATREC_OK;
}

static int evaluate_paper(const eval_ctx *c, gatrec_metrics *out, int32_t *buf, uint8_t *seen_item)
{
    means a;
    memset(&a, 0, sizeof a);
    size_t covered = 0, test_items = 0, users = 0, nu = c->ds->users.count, ni = c->ds->items.count;
    for (size_t i = 0; i < ni; i++)
        test_items += c->test_count[i] > 0;
    for (size_t u = 0; u < nu; u++) {
        size_t nrel, hits = 0, m, f = 0;
        double dcg = 0, ap = 0, rr = 0, si = 0;
        /* evaluated: users in the test part who also appear in the recommendations */
        if (c->skip_user[u] || c->off[u] == c->off[u + 1] || (size_t)u >= c->list->nusers || c->list->n[u] == 0)
            continue;
        users++;
        nrel = mark_user_tests(c, u);
        m = top_k(c, (int32_t)u, buf);
        for (size_t j = 0; j < m; j++) {
            int32_t it = buf[j];
            if (c->mark_user[it] != (int32_t)u)
                continue; /* not in this user's test set: filtered out */
            f++;
            si += -log2((double)c->test_count[it] / (double)c->ntest);
            if (!seen_item[it]) {
                seen_item[it] = 1;
                covered++;
            }
            if (c->mark_rel[it]) {
                hits++;
                dcg += 1.0 / log2((double)f + 1.0);
                ap += (double)hits / (double)f;
                if (rr == 0)
                    rr = 1.0 / (double)f;
            }
        }
        if (f) {
            add(&a.p, (double)hits / (double)f);
            add(&a.nov, si / (double)f);
        }
        if (nrel) {
            add(&a.r, (double)hits / (double)nrel);
            add(&a.hr, hits > 0);
            if (f)
                add(&a.nd, dcg / gatrec__ideal_dcg(nrel, c->k));
            if (hits)
                add(&a.map, ap / (double)nrel);
        }
        if (rr > 0)
            add(&a.mrr, rr);
    }
    out->users = users;
    store(out, &a);
    out->coverage = test_items ? (double)covered / (double)test_items : 0.0;
    return GATREC_OK;
}

GATREC_API int gatrec_evaluate(const gatrec_dataset *ds, const gatrec_split *split, const gatrec_reclist *list,
                               const gatrec_eval_options *opts, gatrec_metrics *metrics)
{
    gatrec_eval_options o;
    gatrec_metrics m;
    eval_ctx c;
    int32_t *buf = NULL;
    uint8_t *seen_item = NULL;
    size_t *all_off = NULL, longest = 1;
    uint32_t *all_idx = NULL;
    int rc;
    if (!ds || !split || !list || !metrics)
        return gatrec__error(GATREC_EINVAL, "gatrec_evaluate: NULL argument");
    if (split->ds != ds)
        return gatrec__error(GATREC_EINVAL, "gatrec_evaluate: the split belongs to another dataset");
    if (metrics->version == 0 || metrics->version > GATREC_METRICS_VERSION)
        return gatrec__error(GATREC_EINVAL, "gatrec_metrics: unsupported version %u", metrics->version);
    gatrec_eval_options_init(&o, GATREC_EVAL_OPTIONS_VERSION);
    if (GATREC__READ_VERSIONED(&o, opts, gatrec_eval_options))
        return GATREC_EINVAL;
    if (o.max_train_ratings && o.min_train_ratings > o.max_train_ratings)
        return gatrec__error(GATREC_EINVAL, "min_train_ratings %zu is above max_train_ratings %zu",
                             o.min_train_ratings, o.max_train_ratings);
    if (o.protocol != GATREC_PROTOCOL_STANDARD && o.protocol != GATREC_PROTOCOL_PAPER)
        return gatrec__error(GATREC_EINVAL, "unknown evaluation protocol %d", o.protocol);
    if (o.k == 0 || o.k > INT32_MAX)
        return gatrec__error(GATREC_EINVAL, "K must be in 1..%d", INT32_MAX);
    if (o.part < GATREC_PART_TRAIN || o.part > GATREC_PART_TEST)
        return gatrec__error(GATREC_EINVAL, "unknown split part %d", o.part);
    if (list->nusers > ds->users.count)
        return gatrec__error(GATREC_EINVAL, "the list has %zu users, the dataset %zu", list->nusers, ds->users.count);
    for (size_t u = 0; u < list->nusers; u++) {
        longest = list->n[u] > longest ? list->n[u] : longest;
        for (size_t j = 0; j < list->n[u]; j++)
            if ((size_t)list->items[u][j] >= ds->items.count)
                return gatrec__error(GATREC_EINVAL, "the list of user %zu names item index %d, beyond the dataset",
                                     u, list->items[u][j]);
    }
    if (split->counts[o.part] == 0)
        return gatrec__error(GATREC_EEMPTY, "the split has no %s ratings to evaluate against",
                             o.part == GATREC_PART_TEST ? "test" : o.part == GATREC_PART_VALID ? "validation" : "train");

    memset(&c, 0, sizeof c);
    c.ds = ds;
    c.list = list;
    c.k = o.k;
    c.threshold = o.relevance_threshold;
    if ((rc = gatrec__dataset_by_user(ds, &all_off, &all_idx)))
        return rc;
    c.off = gatrec__calloc(ds->users.count + 1, sizeof *c.off);
    c.idx = gatrec__malloc_array(split->counts[o.part], sizeof *c.idx);
    c.mark_user = gatrec__malloc_array(ds->items.count, sizeof *c.mark_user);
    c.mark_rel = gatrec__calloc(ds->items.count, 1);
    c.train_count = gatrec__calloc(ds->items.count, sizeof *c.train_count);
    c.test_count = gatrec__calloc(ds->items.count, sizeof *c.test_count);
    buf = gatrec__malloc_array(longest, sizeof *buf); /* a user's top K never outgrows their list */
    seen_item = gatrec__calloc(ds->items.count, 1);
    c.skip_user = gatrec__calloc(ds->users.count ? ds->users.count : 1, 1);
    if (!c.off || !c.idx || !c.mark_user || !c.mark_rel || !c.train_count || !c.test_count || !buf || !seen_item ||
        !c.skip_user) {
        rc = GATREC_ENOMEM;
        goto done;
    }
    /* The test ratings of each user, and popularity counts. */
    for (size_t u = 0, n = 0; u < ds->users.count; u++) {
        size_t trained = 0;
        for (size_t t = all_off[u]; t < all_off[u + 1]; t++) {
            uint32_t ri = all_idx[t];
            if (split->parts[ri] == o.part) {
                c.idx[n++] = ri;
                c.test_count[ds->r_item[ri]]++;
                c.ntest++;
            } else if (split->parts[ri] == GATREC_PART_TRAIN) {
                c.train_count[ds->r_item[ri]]++;
                trained++;
            }
        }
        c.off[u + 1] = n;
        c.skip_user[u] = trained < o.min_train_ratings || (o.max_train_ratings && trained > o.max_train_ratings);
    }
    for (size_t i = 0; i < ds->items.count; i++)
        c.mark_user[i] = -1;
    memset(&m, 0, sizeof m);
    m.version = metrics->version;
    m.protocol = o.protocol;
    m.k = o.k;
    rc = o.protocol == GATREC_PROTOCOL_PAPER ? evaluate_paper(&c, &m, buf, seen_item)
                                             : evaluate_standard(&c, &m, buf, seen_item);
    if (!rc)
        *metrics = m;
done:
    free(all_off);
    free(all_idx);
    free(c.off);
    free(c.idx);
    free(c.mark_user);
    free(c.mark_rel);
    free(c.train_count);
    free(c.test_count);
    free(buf);
    free(seen_item);
    free(c.skip_user);
    return rc;
}
