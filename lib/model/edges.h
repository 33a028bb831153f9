/* The message graph of the graph models (GAT, attn): users 0..nu then items nu..nu+ni, every
 * training rating an edge each way with the rating as its attribute, grouped by target and by
 * source (see gatrec__edges). */
#ifndef GATREC_EDGES_H
#define GATREC_EDGES_H

#include "../kernels/kernels.h"
#include "model.h"

typedef struct gatrec__edge_store {
    gatrec__edges E;
    size_t *off, *soff;
    int32_t *src, *dst;
    uint32_t *sedge;
    float *attr;
} gatrec__edge_store;

/* Build the edges of the first nu rows of by_user and the first ni rows of by_item; self_loops:
 * every node also gets an edge from itself whose attribute is the mean of its incoming ones. */
int gatrec__edges_build(gatrec__edge_store *s, size_t nu, size_t ni, const gatrec__csr *by_user,
                        const gatrec__csr *by_item, int self_loops);
void gatrec__edges_free(gatrec__edge_store *s);

#endif
