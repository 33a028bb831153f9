/* The optimisers of the training loop (loop.h): AdamW over every parameter, and the lazy AdamW
 * that updates only the rows a step touched, the skipped steps' decay applied on return. */
#include "loop.h"

#define ADAM_B1 0.9f
#define ADAM_B2 0.999f

/* One parameter's AdamW step (decoupled decay wd; c1, c2 the bias corrections of the step) */
static inline void adamw_one(float *theta, float *m, float *v, float g, float lr, float wd, float c1, float c2)
{
    *theta -= lr * wd * *theta;
    *m = ADAM_B1 * *m + (1 - ADAM_B1) * g;
    *v = ADAM_B2 * *v + (1 - ADAM_B2) * g * g;
    *theta -= lr * (*m / c1) / (sqrtf(*v / c2) + 1e-8f);
}

/* AdamW on theta[k0 .. k1) */
void gatrec__adamw(loop *L, float lr, uint64_t step, size_t k0, size_t k1)
{
    gatrec__trainer *t = L->t;
    const float wd = L->o.weight_decay, fwd = L->o.feature_weight_decay < 0 ? wd : L->o.feature_weight_decay;
    float c1 = 1.0f - powf(ADAM_B1, (float)step), c2 = 1.0f - powf(ADAM_B2, (float)step);
    for (size_t k = k0; k < k1; k++)
        adamw_one(t->theta + k, L->adam_m + k, L->adam_v + k, t->grad[k], lr, k < t->feature_len ? fwd : wd, c1, c2);
}

/* The decay of the steps row r sat out (decoupled weight decay at the rate lr, the moments'
 * decay), applied up to step `now`: after it the row is where dense AdamW would have left it
 * but for the momentum's drift over those steps. */
void gatrec__lazy_catch_up(loop *L, size_t r, float lr, uint64_t now)
{
    uint64_t s = now - L->last[r];
    if (!s)
        return;
    gatrec__trainer *t = L->t;
    size_t d = L->rw, o = r * d;
    float keep = powf(1.0f - lr * L->row_wd, (float)s), m = powf(ADAM_B1, (float)s), v = powf(ADAM_B2, (float)s);
    for (size_t k = o; k < o + d; k++) {
        t->theta[k] *= keep;
        L->adam_m[k] *= m;
        L->adam_v[k] *= v;
    }
    L->last[r] = now;
}

typedef struct lazy_job {
    loop *L;
    float lr;
    uint64_t step;
} lazy_job;

/* One touched row of the lazy step: brought up to date, AdamW with its gradient (demb's row for
 * BPR-MF, copied on to emb; grad's for a table), which is then zeroed. A row whose gradient or
 * new value is not finite is marked 2. */
static void lazy_row(void *ctx, size_t q)
{
    lazy_job *J = ctx;
    loop *L = J->L;
    gatrec__trainer *t = L->t;
    const float wd = L->row_wd, lr = J->lr;
    float c1 = 1.0f - powf(ADAM_B1, (float)J->step), c2 = 1.0f - powf(ADAM_B2, (float)J->step);
    float *src = L->lazy == 1 ? L->demb : t->grad;
    size_t d = L->rw, r = (size_t)L->rows[q], o = r * d;
    int finite = 1;
    gatrec__lazy_catch_up(L, r, lr, J->step - 1);
    for (size_t k = o; k < o + d; k++) {
        finite &= isfinite(src[k]) != 0;
        adamw_one(t->theta + k, L->adam_m + k, L->adam_v + k, src[k], lr, wd, c1, c2);
        finite &= isfinite(t->theta[k]) != 0;
        if (L->lazy == 1)
            t->emb[k] = t->theta[k];
        src[k] = 0;
    }
    L->last[r] = J->step;
    L->mark[r] = finite ? 0 : 2;
}

/* The lazy step: AdamW on the rows the loss touched (gradient = demb: row-sparse kinds only),
 * rows in parallel (each row's arithmetic is its own: the same bits for any thread count). It
 * leaves demb zero. Returns the first row that went non-finite, or -1. */
long gatrec__lazy_adamw(loop *L, float lr, uint64_t step)
{
    lazy_job J = {L, lr, step};
    long bad = -1;
    gatrec__parallel(L->o.threads, L->nrows, lazy_row, &J);
    for (size_t q = 0; q < L->nrows; q++)
        if (L->mark[L->rows[q]] == 2) {
            if (bad < 0)
                bad = L->rows[q];
            L->mark[L->rows[q]] = 0;
        }
    L->nrows = 0;
    return bad;
}
