/* The gatrec command line across processes: under `mpirun -np P` in the MPI build (make MPI=1),
 * `train` trains data-parallel, `recommend --all` and `eval` shard the users, `profiles generate`
 * shards the items and users, and rank 0 writes every output (docs/scale.md). In the default
 * build, and under plain execution, there is one process and these are no-ops. */
#ifndef GATREC_CLI_PAR_H
#define GATREC_CLI_PAR_H

#include <stddef.h>

#include "gatrec.h"

/* Start (MPI_Init in the MPI build); ranks other than 0 send their standard output to /dev/null. */
void par_init(int *argc, char ***argv);
/* End with `status`: with several ranks a failing one aborts them all (so that none waits in a
 * collective for it forever), else MPI_Finalize. Returns the status to exit with. */
int par_finish(int status);
int par_rank(void);
int par_ranks(void);
/* How many ranks share this rank's machine (1 without MPI): --threads 0 divides its cores by it. */
int par_local_ranks(void);
/* gatrec_model_options.allreduce: a sum in rank order (a non-commutative MPI operation), the
 * same bits on every rank */
int par_allreduce(void *payload, float *data, size_t n);
/* The sum over ranks of x */
size_t par_sum(size_t x);
/* recommend_all (or _all_among with the candidates), each rank on its share of the users; rank 0
 * receives the whole list (the others' hold their share only). A library status. */
int par_recommend_all(const gatrec_model *m, size_t k, const int32_t *cand, size_t ncand, gatrec_reclist **out);
/* Every rank's profiles (of the users and items of ds) into rank 0's, which keeps its own, in
 * the order one process writes them (*p may be replaced). A library status. */
int par_gather_profiles(gatrec_profiles **p, const gatrec_dataset *ds);

#endif
