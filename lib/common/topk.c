/* Ranking: the best k of a row of scores (the one top-k of recommend, recommend_all, similar
 * items, evidence and the validation NDCG) and the ideal DCG the NDCGs divide by. */
#include <math.h>

#include "common.h"

/* "a ranks before b": higher score, then lower index. */
static inline int before(float sa, int32_t a, float sb, int32_t b)
{
    return sa > sb || (sa == sb && a < b);
}

/* Restore the heap property below `c` in heap[0..n): the root holds the worst kept item. */
static void sift_down(const float *scores, int32_t *heap, size_t n, size_t c)
{
    for (;;) {
        size_t l = 2 * c + 1, r = l + 1, w = c;
        if (l < n && before(scores[heap[w]], heap[w], scores[heap[l]], heap[l]))
            w = l;
        if (r < n && before(scores[heap[w]], heap[w], scores[heap[r]], heap[r]))
            w = r;
        if (w == c)
            return;
        int32_t t = heap[w];
        heap[w] = heap[c];
        heap[c] = t;
        c = w;
    }
}

/* Top-k of `scores` skipping `seen` (ascending) and, when `allowed` is not NULL, the items it
 * marks 0, with a binary min-heap of the best k so far. Writes best first; returns the count. */
size_t gatrec__top_k(const float *scores, size_t nitems, const int32_t *seen, size_t nseen, const uint8_t *allowed,
                    size_t k, int32_t *heap, float *out_scores)
{
    size_t h = 0, s = 0;
    for (int32_t i = 0; (size_t)i < nitems; i++) {
        if (s < nseen && seen[s] == i) {
            s++;
            continue;
        }
        if (allowed && !allowed[i])
            continue;
        if (h < k) {
            size_t c = h++;
            heap[c] = i;
            while (c > 0) {
                size_t p = (c - 1) / 2;
                if (!before(scores[heap[p]], heap[p], scores[heap[c]], heap[c]))
                    break;
                int32_t t = heap[p];
                heap[p] = heap[c];
                heap[c] = t;
                c = p;
            }
        } else if (k && before(scores[i], i, scores[heap[0]], heap[0])) {
            heap[0] = i;
            sift_down(scores, heap, h, 0);
        }
    }
    /* Heap sort: move the worst to the back each time, leaving the best first. */
    for (size_t n = h; n > 1; n--) {
        int32_t t = heap[0];
        heap[0] = heap[n - 1];
        heap[n - 1] = t;
        sift_down(scores, heap, n - 1, 0);
    }
    if (out_scores)
        for (size_t j = 0; j < h; j++)
            out_scores[j] = scores[heap[j]];
    return h;
}

double gatrec__ideal_dcg(size_t relevant, size_t k)
{
    double s = 0.0;
    for (size_t i = 1; i <= relevant && i <= k; i++)
        s += 1.0 / log2((double)i + 1.0);
    return s;
}
