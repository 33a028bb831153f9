/* The user-item graph's representation (CSR by user and by item, the liked and disliked
 * thresholds), read directly by the layers above it. */
#ifndef GATREC_GRAPH_H
#define GATREC_GRAPH_H

#include "../common/common.h"

/* One direction of the bipartite graph in CSR form: row r's neighbours are
 * col[off[r] .. off[r+1]) in ascending order, with the rating of each edge in val. */
typedef struct gatrec__csr {
    size_t nrows;
    size_t *off;
    int32_t *col;
    float *val;
} gatrec__csr;

struct gatrec_graph {
    gatrec__idmap users, items;
    gatrec__csr by_user; /* user -> items */
    gatrec__csr by_item; /* item -> users */
    size_t nedges;
    float liked, disliked;
};

void gatrec__csr_free(gatrec__csr *c);
/* The position of `col` in row `row` (binary search: columns are sorted), or SIZE_MAX. */
size_t gatrec__csr_find(const gatrec__csr *c, size_t row, int32_t col);
/* Build a CSR of nrows rows from n (row, col, val) triples; cols sorted within each row.
 * Returns the index of a repeated (row, col) in *dup (or SIZE_MAX) and GATREC_EDUPLICATE. */
int gatrec__csr_build(gatrec__csr *c, size_t nrows, size_t ncols, size_t n, const int32_t *row, const int32_t *col,
                      const float *val, size_t *dup);

#endif
