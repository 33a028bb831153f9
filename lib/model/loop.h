/* Inside the training loop (train.c): its state, shared by the pieces it is made of - the BPR
 * loss (loss_bpr.c), the softmax loss (loss_softmax.c) and the optimisers (optim.c). Nothing here
 * is for the model kinds: they see train.h. */
#ifndef GATREC_LOOP_H
#define GATREC_LOOP_H

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

static inline double uniform01(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return gatrec__rng_unit(seed, stream, counter);
}

typedef struct pair {
    int32_t u, i;
} pair;

enum { /* scratch buffers of the losses: BPR's per-pair terms, then the softmax's */
    SC_COEF, SC_BPR, SC_CS, SC_CAND, SC_SLOT, SC_USERS, SC_FIRST, SC_NEXT, SC_U, SC_I, SC_C, SC_S, SC_DU, SC_DI, SC_DC, SC_NU, SC_NI, SC_NC,
    SC_G, SC_UP, SC_DUP, SC_MX, SC_Z, SC_WSUM, SC_MASK, SCRATCH_COUNT
};

typedef struct loop {
    gatrec_model *m;
    const gatrec_graph *g;
    gatrec__trainer *t;
    gatrec_model_options o;
    pair *pos;
    size_t npos;
    double *pop_cdf; /* popularity sampler */
    float *demb, *adam_m, *adam_v, *best;
    int32_t *negs;
    int32_t *known;  /* items with training ratings: the only negatives (a new item is no negative) */
    size_t nknown;
    /* the lazy optimiser: demb is zero outside rows[0..nrows) (marked), and row r last had its
     * update at step last[r] */
    int lazy;       /* 1: BPR-MF (theta is the table, its gradient demb); 2: the table theta[0 .. T) of a
                       sampled kind (its gradient in grad), the rest of theta dense */
    size_t T, rw;   /* the table's length and row width */
    float row_wd;   /* the table's weight decay */
    int sampled;    /* neighbour sampling: seen marks a step's nodes */
    uint8_t *seen;
    uint8_t *mark;
    int32_t *rows;
    size_t nrows;
    uint64_t *last;
    /* the losses' buffers, kept from step to step: a fresh large block every step costs its
     * page faults every time (about a tenth of an ML-20M-shaped attn epoch) */
    struct {
        void *p;
        size_t cap;  /* elements */
        size_t size; /* their size (debug builds check that an id keeps one) */
    } scratch[SCRATCH_COUNT];
} loop;

/* Buffer `id` of at least n elements of `size` bytes (kept and grown; zeroed when `zero`), or NULL.
 * An id always holds elements of one size: its capacity counts them. */
void *gatrec__scratch(loop *L, int id, size_t n, size_t size, int zero);
/* demb back to zero before a step writes it: every row, or (lazy) the rows the last step wrote */
void gatrec__clear_demb(loop *L);

/* row r of demb is written this step */
static inline void touch(loop *L, size_t r)
{
    if (L->lazy && !L->mark[r]) {
        L->mark[r] = 1;
        L->rows[L->nrows++] = (int32_t)r;
    }
}

/* Is item i among u's training items with a rating that excludes it as a negative? */
static inline int excluded(const loop *L, int32_t u, int32_t i)
{
    const gatrec__csr *c = &L->g->by_user;
    size_t at;
    if (L->g->by_item.off[i + 1] == L->g->by_item.off[i]) /* no training ratings: not in the catalogue yet */
        return 1;
    if ((at = gatrec__csr_find(c, (size_t)u, i)) == SIZE_MAX)
        return 0;
    if (c->val[at] >= L->g->liked)
        return 1;
    return L->o.negative_sampling != GATREC_NEG_UNIFORM && c->val[at] <= L->g->disliked;
}

/* Eight partial sums, so that the compiler vectorises the loop without reassociating. */
static inline float dot(const float *a, const float *b, size_t d)
{
    float s[8] = {0}, t = 0;
    size_t k = 0;
    for (; k + 8 <= d; k += 8)
        for (int q = 0; q < 8; q++)
            s[q] += a[k + q] * b[k + q];
    for (; k < d; k++)
        t += a[k] * b[k];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + t;
}

/* ---- the BPR loss (loss_bpr.c) ---- */
/* Pairs per round of the BPR loss: its per-pair terms are kept for one round at a time. */
#define LOSS_ROUND ((size_t)1 << 16)
/* One negative for pair number p (global counter base), by rejection. */
int32_t gatrec__negative(const loop *L, int32_t u, uint64_t base);
/* Loss of the pairs pos[b0..b1) and its gradient into demb; returns the loss parts. */
int gatrec__loss_bpr(loop *L, size_t b0, size_t b1, size_t norm, uint64_t step, double *bpr_out, double *cos_out);

/* ---- the softmax loss (loss_softmax.c) ---- */
/* Candidate column c of a step's sampled softmax (one of the known items). */
int32_t gatrec__softmax_candidate(const loop *L, uint64_t step, size_t c);
int gatrec__loss_softmax(loop *L, size_t b0, size_t b1, size_t norm, uint64_t step, double *ce_out,
                         double *unif_out);

/* ---- the optimisers (optim.c) ---- */
void gatrec__adamw(loop *L, float lr, uint64_t step, size_t k0, size_t k1);
void gatrec__lazy_catch_up(loop *L, size_t r, float lr, uint64_t now);
long gatrec__lazy_adamw(loop *L, float lr, uint64_t step);

#endif
