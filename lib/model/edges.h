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
/* Room for n targets and m edges (off and soff zeroed); a status. */
int gatrec__edges_alloc(gatrec__edge_store *s, size_t n, size_t m);
/* With off (N + 1), src, dst, attr of m edges grouped by target filled in, and soff (N + 2
 * zeros) and sedge (m) allocated: group the edges by source and set s->E. */
void gatrec__edges_index(gatrec__edge_store *s, size_t N, size_t m);

/* A step's sampled subgraph (neighbour sampling, gatrec_model_options.fanout). From the seeds,
 * `hops` - 1 hops of sampled neighbours and their own samples: each node reached within hops - 1
 * keeps at most `fanout` of its incoming edges (uniform without replacement, drawn from (seed,
 * step, node): a node's sample does not depend on which batch reaches it; keep_self: its self
 * loop always, the fanout among the others). Nodes are numbered users first, by global id; each
 * target's edges keep their global order. */
typedef struct gatrec__subgraph {
    int32_t *loc;        /* N: global -> local, -1 outside (kept from step to step) */
    int32_t *glob, *gid; /* the n locals' global ids; each edge's global edge id */
    size_t n, nu;        /* nodes, users among them (they come first) */
    gatrec__edge_store es;
    uint32_t *pick;      /* scratch of the largest degree, kept from step to step with loc */
} gatrec__subgraph;

int gatrec__subgraph_sample(gatrec__subgraph *S, const gatrec__edges *E, size_t nu, size_t N, size_t hops,
                            size_t fanout, int keep_self, uint64_t seed, uint64_t step, const int32_t *seeds,
                            size_t nseeds);
/* Forget the step's subgraph (loc stays, all -1) / free everything. */
void gatrec__subgraph_clear(gatrec__subgraph *S);
void gatrec__subgraph_free(gatrec__subgraph *S);

#endif
