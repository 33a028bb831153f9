/* See par.h. The MPI code is built only with -DGATREC_CLI_MPI (make MPI=1). */
#include "par.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef GATREC_CLI_MPI
#include <mpi.h>

static int rank_, ranks_ = 1;
static MPI_Op ordered_sum;

/* inout = in + inout, in ascending rank order (MPI applies a non-commutative operation so) */
static void sum_in_order(void *in, void *inout, int *len, MPI_Datatype *type)
{
    const float *a = in;
    float *b = inout;
    (void)type;
    for (int k = 0; k < *len; k++)
        b[k] = a[k] + b[k];
}

void par_init(int *argc, char ***argv)
{
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks_);
    MPI_Op_create(sum_in_order, 0, &ordered_sum);
    if (rank_ > 0 && !freopen("/dev/null", "w", stdout))
        fprintf(stderr, "gatrec: rank %d: cannot silence standard output\n", rank_);
}

int par_finish(int status)
{
    if (status != 0 && ranks_ > 1) {
        fflush(NULL);
        MPI_Abort(MPI_COMM_WORLD, status);
    }
    MPI_Op_free(&ordered_sum);
    MPI_Finalize();
    return status;
}

int par_rank(void)
{
    return rank_;
}

int par_local_ranks(void)
{
    MPI_Comm node;
    int n = 1;
    if (ranks_ > 1 && MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node) ==
                          MPI_SUCCESS) {
        MPI_Comm_size(node, &n);
        MPI_Comm_free(&node);
    }
    return n;
}

int par_ranks(void)
{
    return ranks_;
}

int par_allreduce(void *payload, float *data, size_t n)
{
    (void)payload;
    for (size_t at = 0; at < n; at += (size_t)1 << 28) { /* counts are ints */
        int len = (int)(n - at < ((size_t)1 << 28) ? n - at : (size_t)1 << 28);
        if (MPI_Allreduce(MPI_IN_PLACE, data + at, len, MPI_FLOAT, ordered_sum, MPI_COMM_WORLD) != MPI_SUCCESS)
            return -1;
    }
    return 0;
}

size_t par_sum(size_t x)
{
    unsigned long long in = x, out = x;
    if (ranks_ > 1)
        MPI_Allreduce(&in, &out, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    return (size_t)out;
}

/* A rank that cannot take part in a collective the others are in: every rank ends, with this
 * rank's reason said (the others would wait for it forever, or read a buffer it never had). */
static void abort_all(const char *why)
{
    fprintf(stderr, "gatrec: rank %d of %d: %s; every rank stops\n", rank_, ranks_, why);
    fflush(NULL);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1); /* not reached */
}

/* Rank 0 receives every rank's bytes, one after another in rank order (*all, *total); the
 * others send theirs. */
static int gather_bytes(const char *mine, size_t n, char **all, size_t *total)
{
    int len = (int)n, *lens = NULL, *offs = NULL;
    if (n > INT32_MAX) /* MPI counts are ints: checked before the first collective, not after */
        abort_all("more than 2 GiB to gather on one rank");
    *all = NULL;
    *total = 0;
    if (rank_ == 0 && (!(lens = calloc((size_t)ranks_, sizeof *lens)) || !(offs = calloc((size_t)ranks_, sizeof *offs))))
        abort_all("out of memory gathering the other ranks' results");
    MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank_ == 0) {
        size_t sum = 0;
        for (int r = 0; r < ranks_; r++)
            offs[r] = (int)(sum < INT32_MAX ? sum : 0), sum += (size_t)lens[r];
        if (sum > INT32_MAX)
            abort_all("the ranks' results exceed 2 GiB: gather them in one process (no mpirun)");
        if (!(*all = malloc(sum + 1)))
            abort_all("out of memory gathering the other ranks' results");
        *total = sum;
    }
    MPI_Gatherv(mine, len, MPI_CHAR, *all, lens, offs, MPI_CHAR, 0, MPI_COMM_WORLD);
    free(lens);
    free(offs);
    return GATREC_OK;
}

int par_recommend_all(const gatrec_model *m, size_t k, const int32_t *cand, size_t ncand, gatrec_reclist **out)
{
    size_t nu = gatrec_model_num_users(m), first, count, used = 0, total;
    gatrec_reclist *list;
    int32_t *buf = NULL;
    char *all = NULL;
    int rc;
    if (ranks_ == 1)
        return cand ? gatrec_model_recommend_all_among(m, k, cand, ncand, out) : gatrec_model_recommend_all(m, k, out);
    /* contiguous shares in whole blocks of 32 users (the scoring block) */
    size_t blocks = (nu + 31) / 32, b0 = blocks * (size_t)rank_ / (size_t)ranks_,
           b1 = blocks * (size_t)(rank_ + 1) / (size_t)ranks_;
    first = b0 * 32 < nu ? b0 * 32 : nu;
    count = (b1 * 32 < nu ? b1 * 32 : nu) - first;
    if ((rc = gatrec_reclist_new(nu, &list)))
        return rc;
    if (!(rc = gatrec_model_recommend_range(m, k, (int32_t)first, count, cand, cand ? ncand : 0, list)) &&
        !(buf = malloc((count * (k + 2) + 1) * sizeof *buf)))
        rc = GATREC_ENOMEM;
    for (size_t u = first; !rc && u < first + count; u++) { /* user, n, items... */
        const int32_t *items;
        size_t n;
        gatrec_reclist_get(list, (int32_t)u, &items, &n);
        buf[used++] = (int32_t)u;
        buf[used++] = (int32_t)n;
        memcpy(buf + used, items, n * sizeof *items);
        used += n;
    }
    if (rc) /* a failed rank ends everyone (par_finish) */
        used = 0;
    int grc = gather_bytes((const char *)buf, used * sizeof *buf, &all, &total);
    rc = rc ? rc : grc;
    for (size_t at = 0; !rc && rank_ == 0 && at < total / sizeof *buf;) {
        const int32_t *w = (const int32_t *)all + at;
        if (w[0] < (int32_t)first || (size_t)w[0] >= first + count) /* rank 0's own are set */
            rc = gatrec_reclist_set(list, w[0], w + 2, (size_t)w[1]);
        at += 2 + (size_t)w[1];
    }
    free(buf);
    free(all);
    if (rc)
        gatrec_reclist_free(list);
    else
        *out = list;
    return rc;
}

/* The profiles of p in ds's order of users, then items (the order one process writes them in) */
static int in_dataset_order(gatrec_profiles **pp, const gatrec_dataset *ds)
{
    gatrec_profiles *q;
    int rc = gatrec_profiles_new(&q);
    for (int kind = GATREC_NODE_USER; !rc && kind <= GATREC_NODE_ITEM; kind++) {
        size_t n = kind == GATREC_NODE_USER ? gatrec_dataset_num_users(ds) : gatrec_dataset_num_items(ds);
        for (size_t j = 0; !rc && j < n; j++) {
            int64_t id = kind == GATREC_NODE_USER ? gatrec_dataset_user_id(ds, (int32_t)j)
                                                  : gatrec_dataset_item_id(ds, (int32_t)j);
            const char *text = gatrec_profiles_get(*pp, kind, id);
            if (text)
                rc = gatrec_profiles_set(q, kind, id, text);
        }
    }
    if (rc) {
        gatrec_profiles_free(q);
        return rc;
    }
    gatrec_profiles_free(*pp);
    *pp = q;
    return GATREC_OK;
}

int par_gather_profiles(gatrec_profiles **pp, const gatrec_dataset *ds)
{
    gatrec_profiles *p = *pp;
    /* kind byte, id (decimal), a tab, the text, a NUL - for every profile of this rank */
    size_t cap = 1 << 16, used = 0, total;
    char *buf = malloc(cap), *all = NULL;
    int rc = buf ? GATREC_OK : GATREC_ENOMEM;
    if (ranks_ == 1) {
        free(buf);
        return GATREC_OK;
    }
    for (int kind = GATREC_NODE_USER; !rc && kind <= GATREC_NODE_ITEM; kind++) {
        size_t n = kind == GATREC_NODE_USER ? gatrec_dataset_num_users(ds) : gatrec_dataset_num_items(ds);
        for (size_t j = 0; !rc && j < n; j++) {
            int64_t id = kind == GATREC_NODE_USER ? gatrec_dataset_user_id(ds, (int32_t)j)
                                                  : gatrec_dataset_item_id(ds, (int32_t)j);
            const char *text = gatrec_profiles_get(p, kind, id);
            if (!text)
                continue;
            size_t need = used + strlen(text) + 32;
            if (need > cap) {
                char *more = realloc(buf, need * 2);
                if (!more) {
                    rc = GATREC_ENOMEM;
                    break;
                }
                buf = more, cap = need * 2;
            }
            used += (size_t)sprintf(buf + used, "%c%lld\t%s", kind == GATREC_NODE_USER ? 'u' : 'i', (long long)id,
                                    text) + 1;
        }
    }
    if (rc)
        used = 0;
    int grc = gather_bytes(buf, used, &all, &total);
    rc = rc ? rc : grc;
    for (size_t at = 0; !rc && rank_ == 0 && at < total;) {
        const char *rec = all + at, *tab = strchr(rec, '\t');
        int kind = rec[0] == 'u' ? GATREC_NODE_USER : GATREC_NODE_ITEM;
        long long id = strtoll(rec + 1, NULL, 10);
        if (!gatrec_profiles_get(p, kind, id))
            rc = gatrec_profiles_set(p, kind, id, tab + 1);
        at += strlen(rec) + 1;
    }
    free(buf);
    free(all);
    return rc || rank_ > 0 ? rc : in_dataset_order(pp, ds);
}

#else /* one process */

void par_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}

int par_finish(int status)
{
    return status;
}

int par_rank(void)
{
    return 0;
}

int par_local_ranks(void)
{
    return 1;
}

int par_ranks(void)
{
    return 1;
}

int par_allreduce(void *payload, float *data, size_t n)
{
    (void)payload;
    (void)data;
    (void)n;
    return 0;
}

size_t par_sum(size_t x)
{
    return x;
}

int par_recommend_all(const gatrec_model *m, size_t k, const int32_t *cand, size_t ncand, gatrec_reclist **out)
{
    return cand ? gatrec_model_recommend_all_among(m, k, cand, ncand, out) : gatrec_model_recommend_all(m, k, out);
}

int par_gather_profiles(gatrec_profiles **p, const gatrec_dataset *ds)
{
    (void)p;
    (void)ds;
    return GATREC_OK;
}

#endif
