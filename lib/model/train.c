/* The shared training loop: see train.h; its pieces share loop.h. */
#include "../kernels/dense.h"
#include "loop.h"

int gatrec__set_embeddings(gatrec_model *m, const float *emb, size_t dim)
{
    size_t nu = m->users.count, ni = m->items.count;
    float *u = gatrec__malloc_array(nu * dim + 1, sizeof *u), *i = gatrec__malloc_array(ni * dim + 1, sizeof *i);
    if (!u || !i) {
        free(u);
        free(i);
        return GATREC_ENOMEM;
    }
    memcpy(u, emb, nu * dim * sizeof *u);
    memcpy(i, emb + nu * dim, ni * dim * sizeof *i);
    free(m->uemb);
    free(m->iemb);
    m->uemb = u;
    m->iemb = i;
    m->dim = dim;
    return GATREC_OK;
}

/* Buffer `id` of at least n elements of `size` bytes (kept and grown; zeroed when `zero`), or NULL.
 * An id always holds elements of one size: its capacity counts them. */
void *gatrec__scratch(loop *L, int id, size_t n, size_t size, int zero)
{
    GATREC_ASSERT(id >= 0 && id < SCRATCH_COUNT);
    GATREC_ASSERT(!L->scratch[id].size || L->scratch[id].size == size); /* one element size per id */
#if defined(GATREC_DEBUG) && GATREC_DEBUG
    L->scratch[id].size = size;
#endif
    if (gatrec__reserve(&L->scratch[id].p, &L->scratch[id].cap, n ? n : 1, size))
        return NULL;
    if (zero)
        memset(L->scratch[id].p, 0, n * size);
    return L->scratch[id].p;
}

/* demb back to zero before a step writes it: every row, or (lazy) the rows the last step wrote */
void gatrec__clear_demb(loop *L)
{
    size_t d = L->t->dim;
    if (!L->lazy) {
        memset(L->demb, 0, (L->g->users.count + L->g->items.count) * d * sizeof *L->demb);
        return;
    }
    for (size_t k = 0; k < L->nrows; k++) {
        memset(L->demb + (size_t)L->rows[k] * d, 0, d * sizeof *L->demb);
        L->mark[L->rows[k]] = 0;
    }
    L->nrows = 0;
}

/* The configured loss of pairs pos[b0..b1), normalised by a batch of `norm` pairs, and its
 * gradient into demb: (BPR, cosine term) or (cross-entropy, uniformity term). */
static int batch_loss(loop *L, size_t b0, size_t b1, size_t norm, uint64_t step, double *main_part,
                      double *second_part)
{
    return L->o.loss == GATREC_LOSS_SOFTMAX ? gatrec__loss_softmax(L, b0, b1, norm, step, main_part, second_part)
                                            : gatrec__loss_bpr(L, b0, b1, norm, step, main_part, second_part);
}

/* Data-parallel training: this rank's share [s0, s1) of the batch [b0, b1), a contiguous block
 * (the shares of ranks 0 .. P-1 follow one another), its loss normalised by the whole batch,
 * so that the sum over ranks is the batch's loss and gradient. An empty share writes nothing. */
static void share_of(const loop *L, size_t b0, size_t b1, size_t *s0, size_t *s1)
{
    size_t P = L->o.ranks > 1 ? (size_t)L->o.ranks : 1, R = P > 1 ? (size_t)L->o.rank : 0, B = b1 - b0;
    *s0 = b0 + B * R / P;
    *s1 = b0 + B * (R + 1) / P;
}

/* Neighbour sampling: the nodes this step's loss reads (its share's users and positives, the
 * step's candidates), each once, then the kind's forward on them alone. */
static int forward_sampled(loop *L, size_t b0, size_t b1, uint64_t step)
{
    size_t s0, s1, nu = L->g->users.count, n = 0, N = (size_t)L->o.negatives;
    int32_t *nodes;
    int rc;
    share_of(L, b0, b1, &s0, &s1);
    int bpr = L->o.loss == GATREC_LOSS_BPR;
    size_t k = bpr ? (size_t)L->o.negatives : 0;
    if (!(nodes = gatrec__malloc_array((2 + k) * (s1 - s0) + (bpr ? 0 : N) + 1, sizeof *nodes)))
        return GATREC_ENOMEM;
#define SEED(v)                                   \
    do {                                          \
        size_t v_ = (v);                          \
        if (!L->seen[v_])                         \
            L->seen[v_] = 1, nodes[n++] = (int32_t)v_; \
    } while (0)
    for (size_t p = s0; p < s1; p++) {
        SEED((size_t)L->pos[p].u);
        SEED(nu + (size_t)L->pos[p].i);
        for (size_t n2 = 0; n2 < k; n2++) /* BPR's negatives: the draws pair_terms will make */
            SEED(nu + (size_t)gatrec__negative(L, L->pos[p].u, (step * L->npos + p) * k + n2));
    }
    for (size_t c = 0; !bpr && c < N; c++)
        SEED(nu + (size_t)gatrec__softmax_candidate(L, step, c));
#undef SEED
    for (size_t q = 0; q < n; q++)
        L->seen[nodes[q]] = 0;
    rc = L->t->forward_batch(L->t->ctx, step, nodes, n);
    free(nodes);
    return rc;
}

static int share_loss(loop *L, size_t b0, size_t b1, uint64_t step, double *main_part, double *second_part)
{
    size_t B = b1 - b0, s0, s1;
    share_of(L, b0, b1, &s0, &s1);
    *main_part = *second_part = 0;
    if (s0 == s1) {
        gatrec__clear_demb(L);
        return GATREC_OK;
    }
    return batch_loss(L, s0, s1, B, step, main_part, second_part);
}

static int reduce(loop *L, float *data, size_t n)
{
    if (L->o.allreduce(L->o.allreduce_payload, data, n))
        return gatrec__error(GATREC_ERROR, "data-parallel training: rank %d of %d: the allreduce of %zu values failed",
                             L->o.rank, L->o.ranks, n);
    return GATREC_OK;
}

/* The lazy step across ranks: the union of the rows the ranks touched (a 0/1 vector summed), then
 * their gradient rows (of buf: demb or grad) summed; afterwards every rank holds the same rows
 * and the same gradient. */
static int reduce_rows(loop *L, float *buf)
{
    size_t N = L->g->users.count + L->g->items.count, d = L->rw, n = 0;
    float *flag = gatrec__calloc(N, sizeof *flag), *pack;
    int rc;
    if (!flag)
        return GATREC_ENOMEM;
    for (size_t q = 0; q < L->nrows; q++)
        flag[L->rows[q]] = 1.0f;
    if ((rc = reduce(L, flag, N))) {
        free(flag);
        return rc;
    }
    for (size_t r = 0; r < N; r++)
        if (flag[r] > 0) {
            L->mark[r] = 1;
            L->rows[n++] = (int32_t)r;
        }
    L->nrows = n;
    free(flag);
    if (!(pack = gatrec__malloc_array(n * d + 1, sizeof *pack)))
        return GATREC_ENOMEM;
    for (size_t q = 0; q < n; q++)
        memcpy(pack + q * d, buf + (size_t)L->rows[q] * d, d * sizeof *pack);
    if (!(rc = reduce(L, pack, n * d)))
        for (size_t q = 0; q < n; q++)
            memcpy(buf + (size_t)L->rows[q] * d, pack + q * d, d * sizeof *pack);
    free(pack);
    return rc;
}

/* Which tensor at or after offset `from` holds a non-finite value, or NULL. */
static const char *non_finite(const gatrec__trainer *t, const float *v, size_t from)
{
    for (size_t k = 0; k < t->ntensors; k++)
        for (size_t j = 0; t->tensors[k].off >= from && j < t->tensors[k].len; j++)
            if (!isfinite(v[t->tensors[k].off + j]))
                return t->tensors[k].name;
    return NULL;
}

typedef struct ndcg_job {
    const loop *L;
    const gatrec__csr *valid;
    size_t k;
    double *per_user;
    atomic_int failed; /* set by any worker */
} ndcg_job;

static void ndcg_user(void *ctx, size_t u)
{
    ndcg_job *J = ctx;
    const loop *L = J->L;
    const gatrec__csr *v = J->valid, *seen = &L->g->by_user;
    size_t d = L->t->dim, nu = L->g->users.count, ni = L->g->items.count, nrel = 0, k = J->k;
    const float *eu = L->t->emb + u * d;
    float *row;
    int32_t *ids;
    J->per_user[u] = -1;
    for (size_t e = v->off[u]; e < v->off[u + 1]; e++)
        nrel += v->val[e] >= L->g->liked;
    if (!nrel)
        return;
    row = gatrec__malloc_array(ni, sizeof *row);
    ids = gatrec__malloc_array(k, sizeof *ids);
    if (!row || !ids) {
        J->failed = 1;
        free(row);
        free(ids);
        return;
    }
    for (size_t i = 0; i < ni; i++)
        row[i] = dot(eu, L->t->emb + (nu + i) * d, d);
    size_t h = gatrec__top_k(row, ni, seen->col + seen->off[u], seen->off[u + 1] - seen->off[u], NULL, k, ids, NULL);
    double dcg = 0, idcg = gatrec__ideal_dcg(nrel, k);
    for (size_t r = 0; r < h; r++)
        for (size_t e = v->off[u]; e < v->off[u + 1]; e++)
            if (v->col[e] == ids[r] && v->val[e] >= L->g->liked)
                dcg += 1.0 / log2((double)r + 2.0);
    J->per_user[u] = dcg / idcg;
    free(row);
    free(ids);
}

static int valid_ndcg(const loop *L, double *out)
{
    size_t nu = L->g->users.count;
    ndcg_job J = {L, &L->o.validation->by_user, L->o.eval_k, gatrec__malloc_array(nu, sizeof(double)), 0};
    double sum = 0;
    size_t n = 0;
    if (!J.per_user)
        return GATREC_ENOMEM;
    gatrec__parallel(L->o.threads, nu, ndcg_user, &J);
    for (size_t u = 0; u < nu; u++)
        if (J.per_user[u] >= 0)
            sum += J.per_user[u], n++;
    free(J.per_user);
    if (J.failed)
        return gatrec__error(GATREC_ENOMEM, "out of memory computing the validation NDCG");
    *out = n ? sum / (double)n : 0;
    return GATREC_OK;
}

static int resolve(loop *L, const gatrec_model *m, const gatrec_graph *g, const gatrec__trainer *t)
{
    gatrec_model_options *o = &L->o;
    *o = m->opts;
    if (!o->epochs)
        o->epochs = t->default_epochs;
    if (o->lr == 0)
        o->lr = t->default_lr;
    if (o->weight_decay < 0)
        o->weight_decay = t->default_wd;
    if (o->loss == GATREC_LOSS_SOFTMAX) { /* the cosine term is BPR's; negatives 0 = every known item */
        if (o->cos_weight > 0)
            return gatrec__error(GATREC_EINVAL, "the cosine term (cos_weight %g) goes with the BPR loss, not the softmax",
                                 o->cos_weight);
        o->cos_weight = 0;
        if (o->temperature == 0)
            o->temperature = 0.2f;
    } else {
        if (o->cos_weight < 0)
            o->cos_weight = t->default_cos;
        if (!o->negatives)
            o->negatives = t->default_negatives > 0 ? t->default_negatives : 1;
    }
    if (!o->batch_size)
        o->batch_size = t->default_batch;
    if (!o->patience) /* validation NDCG moves by +-0.01 between epochs: give it time */
        o->patience = o->validation ? (t->default_patience ? t->default_patience : 50) : 15;
    if (!o->lr_patience)
        o->lr_patience = 5;
    if (o->lr_factor == 0)
        o->lr_factor = 0.4f;
    if (!o->eval_k)
        o->eval_k = 10;
    if (o->fanout > 0) { /* neighbour sampling: the batch's nodes must be known before the loss */
        if (!t->forward_batch)
            return gatrec__error(GATREC_EINVAL, "fanout (neighbour sampling) is for attn and the GAT");
        if (!o->batch_size) /* a full batch would reach every node: mini-batches */
            o->batch_size = 4096;
        if (o->loss == GATREC_LOSS_BPR && o->negative_sampling == GATREC_NEG_HARD)
            return gatrec__error(GATREC_EINVAL, "fanout (neighbour sampling) and hard negatives: a hard negative is "
                                 "chosen by scores the subgraph has not computed");
        if (o->loss == GATREC_LOSS_SOFTMAX && !o->negatives)
            o->negatives = 1024;
        L->sampled = 1;
    }
    {
        size_t Nn = g->users.count + g->items.count, T = t->feature_len;
        /* a sampled kind whose theta starts with a table of one row per node (attn's ID table,
         * the GAT's trainable input features) */
        int table = L->sampled && t->rows_touched && T > 0 && T % Nn == 0;
        if (t->row_sparse)
            T = Nn * t->dim;
        if (o->optimizer == GATREC_OPTIMIZER_LAZY && !t->row_sparse && !table)
            return gatrec__error(GATREC_EINVAL, "the lazy optimizer needs a row-sparse gradient (BPR-MF, or attn or the "
                                 "GAT with fanout and a trainable table)");
        /* auto: a dense step costs a pass over the whole table; past 2^24 parameters (ML-20M's
         * 165,237 rows x 256) that pass, not the batch, is the epoch's time (docs/scale.md) */
        int want = o->optimizer == GATREC_OPTIMIZER_LAZY || (o->optimizer == GATREC_OPTIMIZER_AUTO && T > ((size_t)1 << 24));
        L->lazy = t->row_sparse && want ? 1 : table && want ? 2 : 0;
        L->T = L->lazy == 2 ? T : 0;
        L->rw = L->lazy == 2 ? T / Nn : t->dim;
        L->row_wd = L->lazy == 2 && o->feature_weight_decay >= 0 ? o->feature_weight_decay : o->weight_decay;
    }
    if (o->epochs < 0 || o->negatives < 0 || o->lr < 0 || !(o->lr_factor > 0 && o->lr_factor <= 1) ||
        o->lr_patience < 0 || o->negative_sampling < GATREC_NEG_ROBUST || o->negative_sampling > GATREC_NEG_HARD)
        return gatrec__error(GATREC_EINVAL,
                             "model options: epochs, negatives, lr and lr_patience must be >= 0, lr_factor in (0, 1], "
                             "negative_sampling a gatrec_negatives");
    if (o->validation && (o->validation->users.count != g->users.count ||
                          o->validation->items.count != g->items.count))
        return gatrec__error(GATREC_EINVAL,
                             "the validation graph has %zu users and %zu items, the training graph %zu and %zu "
                             "(build both from the same dataset)",
                             o->validation->users.count, o->validation->items.count, g->users.count, g->items.count);
    return GATREC_OK;
}

static int setup(loop *L, const gatrec_graph *g, gatrec__trainer *t)
{
    size_t n = 0, N = g->users.count + g->items.count;
    const gatrec__csr *c = &g->by_user;
    for (size_t e = 0; e < c->off[c->nrows]; e++)
        n += c->val[e] >= g->liked;
    if (!n)
        return gatrec__error(GATREC_EEMPTY, "no training rating reaches the liked threshold %g: nothing to learn from",
                             g->liked);
    L->pos = gatrec__malloc_array(n, sizeof *L->pos);
    L->negs = gatrec__malloc_array(L->o.loss == GATREC_LOSS_BPR ? (n < LOSS_ROUND ? n : LOSS_ROUND) * (size_t)L->o.negatives
                                                                : 1,
                                   sizeof *L->negs);
    L->known = gatrec__malloc_array(g->items.count + 1, sizeof *L->known);
    L->demb = gatrec__calloc(N * t->dim, sizeof *L->demb);
    if (L->sampled && !(L->seen = gatrec__calloc(N, sizeof *L->seen)))
        return GATREC_ENOMEM;
    if (L->lazy == 2) /* the table's gradient rows are zeroed as they are used: start from zero */
        memset(t->grad, 0, t->nparams * sizeof *t->grad);
    if (L->lazy) {
        L->mark = gatrec__calloc(N, sizeof *L->mark);
        L->rows = gatrec__malloc_array(N, sizeof *L->rows);
        L->last = gatrec__calloc(N, sizeof *L->last);
        if (!L->mark || !L->rows || !L->last)
            return GATREC_ENOMEM;
    }
    L->adam_m = gatrec__calloc(t->nparams, sizeof *L->adam_m);
    L->adam_v = gatrec__calloc(t->nparams, sizeof *L->adam_v);
    L->best = gatrec__malloc_array(t->nparams, sizeof *L->best);
    if (!L->pos || !L->negs || !L->known || !L->demb || !L->adam_m || !L->adam_v || !L->best)
        return GATREC_ENOMEM;
    for (size_t i = 0; i < g->items.count; i++)
        if (g->by_item.off[i + 1] > g->by_item.off[i])
            L->known[L->nknown++] = (int32_t)i;
    L->npos = 0;
    for (size_t u = 0; u < c->nrows; u++)
        for (size_t e = c->off[u]; e < c->off[u + 1]; e++)
            if (c->val[e] >= g->liked)
                L->pos[L->npos++] = (pair){(int32_t)u, c->col[e]};
    if (L->o.negative_sampling == GATREC_NEG_POPULARITY) {
        size_t ni = g->items.count;
        double acc = 0;
        if (!(L->pop_cdf = gatrec__malloc_array(ni, sizeof *L->pop_cdf)))
            return GATREC_ENOMEM;
        for (size_t i = 0; i < ni; i++)
            L->pop_cdf[i] = acc += pow((double)(g->by_item.off[i + 1] - g->by_item.off[i]) + 1.0, 0.75);
    }
    return GATREC_OK;
}

static void shuffle(loop *L, uint64_t epoch)
{
    for (size_t p = L->npos; p > 1; p--) {
        size_t q = (size_t)gatrec__rng_below(L->o.seed, gatrec__stream(GATREC__RNG_EPOCH_ORDER, epoch), p, p);
        pair tmp = L->pos[p - 1];
        L->pos[p - 1] = L->pos[q];
        L->pos[q] = tmp;
    }
}

static int run(loop *L)
{
    gatrec__trainer *t = L->t;
    const gatrec_model_options *o = &L->o;
    double best_metric = NAN, plateau_best = NAN;
    int since_best = 0, bad = 0, best_epoch = 0;
    float lr = o->lr;
    uint64_t step = 0;
    int rc, softmax = o->loss == GATREC_LOSS_SOFTMAX, parallel = o->ranks > 1;
    size_t B = o->batch_size && o->batch_size < L->npos ? o->batch_size : L->npos;
    size_t N = L->g->users.count + L->g->items.count;
    memcpy(L->best, t->theta, t->nparams * sizeof *L->best);
    for (int epoch = 1; epoch <= o->epochs; epoch++) {
        double t0 = gatrec__now(), bpr_sum = 0, cos_sum = 0, metric, vndcg = NAN;
        const char *bad_tensor;
        if (B < L->npos)
            shuffle(L, (uint64_t)epoch);
        if (L->lazy == 1 && (rc = t->forward(t->ctx, 1, step))) /* emb = theta; the steps copy their rows */
            return rc;
        for (size_t b0 = 0; b0 < L->npos; b0 += B) {
            size_t b1 = b0 + B < L->npos ? b0 + B : L->npos;
            double bpr, cs;
            step++;
            if (L->lazy != 1 && (rc = L->sampled ? forward_sampled(L, b0, b1, step) : t->forward(t->ctx, 1, step)))
                return rc;
            if ((rc = share_loss(L, b0, b1, step, &bpr, &cs)))
                return rc;
            if (parallel) { /* the batch's loss: the sum of the shares' */
                float parts[2] = {(float)bpr, (float)cs};
                if ((rc = reduce(L, parts, 2)))
                    return rc;
                bpr = parts[0], cs = parts[1];
            }
            if (!isfinite(bpr + cs)) {
                for (size_t k = 0; k < N * t->dim; k++)
                    if (!isfinite(t->emb[k]))
                        return gatrec__error(GATREC_ERROR, "epoch %d: the final embeddings hold NaN or Inf", epoch);
                return gatrec__error(GATREC_ERROR, "epoch %d: the loss is NaN or Inf", epoch);
            }
            if (L->lazy == 1) {
                if (parallel && (rc = reduce_rows(L, L->demb)))
                    return rc;
                long row = gatrec__lazy_adamw(L, lr, step);
                if (row >= 0)
                    return gatrec__error(GATREC_ERROR, "epoch %d: embedding row %ld (or its gradient) holds NaN or "
                                         "Inf after the update", epoch, row);
            } else if (L->lazy == 2) { /* the table's rows the step reached; the rest dense */
                size_t n;
                const int32_t *rows;
                memset(t->grad + L->T, 0, (t->nparams - L->T) * sizeof *t->grad); /* table rows: zeroed when used */
                if ((rc = t->backward(t->ctx, L->demb)))
                    return rc;
                for (size_t q = 0; q < L->nrows; q++) /* demb back to zero: the loss wrote these rows */
                    memset(L->demb + (size_t)L->rows[q] * t->dim, 0, t->dim * sizeof *L->demb);
                rows = t->rows_touched(t->ctx, &n);
                for (size_t q = 0; q < n; q++)
                    touch(L, (size_t)rows[q]);
                if (parallel && ((rc = reduce(L, t->grad + L->T, t->nparams - L->T)) || (rc = reduce_rows(L, t->grad))))
                    return rc;
                if ((bad_tensor = non_finite(t, t->grad, L->T)))
                    return gatrec__error(GATREC_ERROR, "epoch %d: the gradient of %s holds NaN or Inf", epoch,
                                         bad_tensor);
                long row = gatrec__lazy_adamw(L, lr, step);
                gatrec__adamw(L, lr, step, L->T, t->nparams);
                if (row >= 0)
                    return gatrec__error(GATREC_ERROR, "epoch %d: row %ld of %s (or its gradient) holds NaN or Inf "
                                         "after the update", epoch, row, t->tensors[0].name);
                if ((bad_tensor = non_finite(t, t->theta, L->T)))
                    return gatrec__error(GATREC_ERROR, "epoch %d: %s holds NaN or Inf after the update", epoch,
                                         bad_tensor);
            } else {
                memset(t->grad, 0, t->nparams * sizeof *t->grad);
                if ((rc = t->backward(t->ctx, L->demb)))
                    return rc;
                if (parallel && (rc = reduce(L, t->grad, t->nparams)))
                    return rc;
                if ((bad_tensor = non_finite(t, t->grad, 0)))
                    return gatrec__error(GATREC_ERROR, "epoch %d: the gradient of %s holds NaN or Inf", epoch,
                                         bad_tensor);
                gatrec__adamw(L, lr, step, 0, t->nparams);
                if ((bad_tensor = non_finite(t, t->theta, 0)))
                    return gatrec__error(GATREC_ERROR, "epoch %d: %s holds NaN or Inf after the update", epoch,
                                         bad_tensor);
            }
            bpr_sum += bpr * (double)(b1 - b0);
            cos_sum += cs * (double)(b1 - b0);
        }
        for (size_t r = 0; L->lazy && r < N; r++) /* every row up to date: the epoch's parameters are whole */
            gatrec__lazy_catch_up(L, r, lr, step);
        double bpr = bpr_sum / (double)L->npos, cs = cos_sum / (double)L->npos, lossv = bpr + o->cos_weight * cs;
        if (softmax) { /* the second part is the uniformity term */
            lossv = bpr + o->uniformity * cs;
            cs = 0;
        }
        if (o->validation) {
            if ((rc = t->forward(t->ctx, 0, step)))
                return rc;
            if (softmax) /* the softmax scores by cosine */
                gatrec__normalise_rows(t->emb, N, t->dim, NULL);
            if ((rc = valid_ndcg(L, &vndcg)))
                return rc;
            metric = vndcg;
        } else {
            metric = -lossv;
        }
        /* the best parameters so far are kept; ReduceLROnPlateau (relative threshold 1e-4) */
        if (isnan(best_metric) || metric > best_metric) {
            best_metric = metric;
            best_epoch = epoch;
            since_best = 0;
            memcpy(L->best, t->theta, t->nparams * sizeof *L->best);
        } else {
            since_best++;
        }
        /* the learning rate follows the training loss even when stopping follows validation:
         * validation NDCG stays flat for the first epochs, and cutting the rate then would
         * stall training before it starts */
        if (isnan(plateau_best) || -lossv > plateau_best + 1e-4 * fabs(plateau_best)) {
            plateau_best = -lossv;
            bad = 0;
        } else if (++bad > o->lr_patience) {
            lr *= o->lr_factor;
            bad = 0;
        }
        if (o->on_epoch) {
            gatrec_epoch ep = {GATREC_EPOCH_VERSION, epoch, o->epochs, lossv, bpr, cs, vndcg, lr, 0, best_epoch};
            ep.seconds = gatrec__now() - t0;
            if (o->on_epoch(o->payload, &ep))
                return gatrec__error(GATREC_ECANCELLED, "training cancelled by the epoch callback after epoch %d",
                                     epoch);
        }
        if (o->patience > 0 && since_best >= o->patience)
            break;
    }
    memcpy(t->theta, L->best, t->nparams * sizeof *L->best);
    /* the optimiser's state is done with: room for the whole graph's last forward */
    free(L->adam_m);
    free(L->adam_v);
    free(L->demb);
    L->adam_m = L->adam_v = L->demb = NULL;
    if ((rc = t->forward(t->ctx, 0, step)))
        return rc;
    if (softmax) /* serving ranks by dot products: unit rows make them the cosines it trained on */
        gatrec__normalise_rows(t->emb, N, t->dim, NULL);
    return gatrec__set_embeddings(L->m, t->emb, t->dim);
}

static void loop_free(loop *L)
{
    for (int k = 0; k < SCRATCH_COUNT; k++)
        free(L->scratch[k].p);
    free(L->pos);
    free(L->negs);
    free(L->known);
    free(L->pop_cdf);
    free(L->demb);
    free(L->adam_m);
    free(L->adam_v);
    free(L->best);
    free(L->seen);
    free(L->mark);
    free(L->rows);
    free(L->last);
}

int gatrec__train(gatrec_model *m, const gatrec_graph *g, gatrec__trainer *t)
{
    loop L = {0};
    int rc;
    L.m = m;
    L.g = g;
    L.t = t;
    if (!(rc = resolve(&L, m, g, t)) && !(rc = setup(&L, g, t)))
        rc = run(&L);
    loop_free(&L);
    return rc;
}

/* For the gradient tests: the loss of every liked pair of g (one batch, step 1) at the
 * embeddings emb ((users + items) x dim) and its gradient into demb. */
int gatrec__loss_probe(const gatrec_graph *g, const gatrec_model_options *o, float *emb, size_t dim, double *value,
                       float *demb)
{
    gatrec_model m = {0};
    gatrec__trainer t = {0};
    loop L = {0};
    double a = 0, b = 0;
    int rc;
    m.opts = *o;
    t.dim = dim;
    t.emb = emb;
    t.default_epochs = 1;
    t.default_lr = 1e-3f;
    t.default_negatives = 1;
    L.m = &m;
    L.g = g;
    L.t = &t;
    if (!(rc = resolve(&L, &m, g, &t)) && !(rc = setup(&L, g, &t))) {
        if (!(rc = batch_loss(&L, 0, L.npos, L.npos, 1, &a, &b))) {
            *value = L.o.loss == GATREC_LOSS_SOFTMAX ? a + L.o.uniformity * b : a + L.o.cos_weight * b;
            memcpy(demb, L.demb, (g->users.count + g->items.count) * dim * sizeof *demb);
        }
    }
    loop_free(&L);
    return rc;
}
