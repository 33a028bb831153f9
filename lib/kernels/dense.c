/* Dense linear algebra on BLIS: see dense.h. */
#include <blis.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dense.h"

#define GEMM_ROWS 256 /* rows of C per gemm job */
#define NB 256        /* block size of the factorisations */

/* Jobs of uneven cost, handed out one at a time from a shared counter. A job's result depends
 * on the job alone (no sums across jobs), so the order threads take them in changes nothing. */
typedef struct dyn {
    void (*fn)(void *ctx, size_t job);
    void *ctx;
    size_t njobs;
    atomic_size_t next;
} dyn;

static void dyn_worker(void *ctx, size_t unused)
{
    dyn *D = ctx;
    (void)unused;
    for (size_t j; (j = atomic_fetch_add(&D->next, 1)) < D->njobs;)
        D->fn(D->ctx, j);
}

static void parallel_dynamic(int threads, size_t njobs, void (*fn)(void *ctx, size_t job), void *ctx)
{
    dyn D = {fn, ctx, njobs, 0};
    size_t nt = threads > 0 ? (size_t)threads : (size_t)gatrec__default_threads();
    gatrec__parallel((int)(nt < njobs ? nt : njobs), nt < njobs ? nt : njobs, dyn_worker, &D);
}

static rntm_t one_thread(void)
{
    rntm_t r = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &r);
    return r;
}

typedef struct gemm_job {
    int ta, tb;
    size_t m, n, k, rsa, csa, rsb, csb, rsc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} gemm_job;

static void one_gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t rsa,
                     size_t csa, const float *b, size_t rsb, size_t csb, float beta, float *c, size_t rsc)
{
    rntm_t rntm = one_thread();
    bli_sgemm_ex(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, (dim_t)m,
                 (dim_t)n, (dim_t)k, &alpha, (float *)a, (inc_t)rsa, (inc_t)csa, (float *)b, (inc_t)rsb, (inc_t)csb,
                 &beta, c, (inc_t)rsc, 1, NULL, &rntm);
}

static void gemm_block(void *ctx, size_t blk)
{
    gemm_job *J = ctx;
    size_t r0 = blk * GEMM_ROWS, rows = J->m - r0 < GEMM_ROWS ? J->m - r0 : GEMM_ROWS;
    /* row r of op(A) starts at r * rsa when A is not transposed, at r * csa when it is */
    const float *a = J->a + r0 * (J->ta ? J->csa : J->rsa);
    one_gemm(J->ta, J->tb, rows, J->n, J->k, J->alpha, a, J->rsa, J->csa, J->b, J->rsb, J->csb, J->beta,
             J->c + r0 * J->rsc, J->rsc);
}

void gatrec__sgemm(int threads, int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                   size_t rsa, size_t csa, const float *b, size_t rsb, size_t csb, float beta, float *c, size_t rsc)
{
    /* Blocks of GEMM_ROWS rows, fixed by m alone: BLIS may take a different path for a
     * different shape, so the blocks must not depend on the thread count. */
    gemm_job J = {ta, tb, m, n, k, rsa, csa, rsb, csb, rsc, alpha, beta, a, b, c};
    if (!m || !n)
        return;
    gatrec__parallel(threads, (m + GEMM_ROWS - 1) / GEMM_ROWS, gemm_block, &J);
}

void gatrec__sdot_rows(size_t n, size_t d, const float *x, const float *b, size_t rsb, float *out)
{
    for (size_t i = 0; i < n; i++) {
        const float *y = b + i * rsb;
        float acc[8] = {0};
        size_t k = 0;
        for (; k + 8 <= d; k += 8)
            for (size_t l = 0; l < 8; l++)
                acc[l] += x[k + l] * y[k + l];
        for (; k < d; k++)
            acc[k % 8] += x[k] * y[k];
        out[i] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    }
}

/* ---- Cholesky ---- */

typedef struct chol_job {
    float *a;
    size_t n, k0, kb, s; /* s = k0 + kb: the first row below the panel */
    size_t nblk;         /* blocks of NB rows from s */
} chol_job;

/* Unblocked Cholesky of the kb x kb diagonal block at a (row stride lda), in double. */
static int potrf_diag(float *a, size_t lda, size_t kb, size_t k0)
{
    for (size_t j = 0; j < kb; j++) {
        double d = a[j * lda + j];
        for (size_t p = 0; p < j; p++)
            d -= (double)a[j * lda + p] * a[j * lda + p];
        if (!(d > 0) || !isfinite(d))
            return gatrec__error(GATREC_EINVAL,
                                 "the matrix is not positive definite (pivot %zu is %g): raise the regularisation",
                                 k0 + j, d);
        double l = sqrt(d);
        a[j * lda + j] = (float)l;
        for (size_t i = j + 1; i < kb; i++) {
            double s = a[i * lda + j];
            for (size_t p = 0; p < j; p++)
                s -= (double)a[i * lda + p] * a[j * lda + p];
            a[i * lda + j] = (float)(s / l);
        }
    }
    return GATREC_OK;
}

/* A21 := A21 L11^-T for one block of NB rows below the panel. */
static void panel_block(void *ctx, size_t blk)
{
    chol_job *J = ctx;
    size_t r0 = J->s + blk * NB, rows = J->n - r0 < NB ? J->n - r0 : NB;
    float one = 1.0f;
    rntm_t rntm = one_thread();
    bli_strsm_ex(BLIS_RIGHT, BLIS_LOWER, BLIS_TRANSPOSE, BLIS_NONUNIT_DIAG, (dim_t)rows, (dim_t)J->kb, &one,
                 J->a + J->k0 * J->n + J->k0, (inc_t)J->n, 1, J->a + r0 * J->n + J->k0, (inc_t)J->n, 1, NULL, &rntm);
}

/* Tile number t of the lower triangle of blocks (row-major: (0,0), (1,0), (1,1), (2,0), ...). */
static void tile_of(size_t t, size_t *I, size_t *Jc)
{
    size_t i = (size_t)((sqrt(8.0 * (double)t + 1.0) - 1.0) / 2.0);
    while (i * (i + 1) / 2 > t)
        i--;
    while ((i + 1) * (i + 2) / 2 <= t)
        i++;
    *I = i;
    *Jc = t - i * (i + 1) / 2;
}

/* A22 -= A21 A21^T on one tile of the trailing lower triangle. */
static void trailing_tile(void *ctx, size_t t)
{
    chol_job *J = ctx;
    size_t I, Jc;
    tile_of(t, &I, &Jc);
    size_t i0 = J->s + I * NB, j0 = J->s + Jc * NB;
    size_t rows = J->n - i0 < NB ? J->n - i0 : NB, cols = J->n - j0 < NB ? J->n - j0 : NB;
    one_gemm(0, 1, rows, cols, J->kb, -1.0f, J->a + i0 * J->n + J->k0, J->n, 1, J->a + j0 * J->n + J->k0, J->n, 1,
             1.0f, J->a + i0 * J->n + j0, J->n);
}

int gatrec__cholesky(int threads, size_t n, float *a)
{
    for (size_t k0 = 0; k0 < n; k0 += NB) {
        chol_job J = {a, n, k0, n - k0 < NB ? n - k0 : NB, 0, 0};
        int rc = potrf_diag(a + k0 * n + k0, n, J.kb, k0);
        if (rc)
            return rc;
        J.s = k0 + J.kb;
        if (J.s == n)
            break;
        J.nblk = (n - J.s + NB - 1) / NB;
        gatrec__parallel(threads, J.nblk, panel_block, &J);
        parallel_dynamic(threads, J.nblk * (J.nblk + 1) / 2, trailing_tile, &J);
    }
    return GATREC_OK;
}

/* ---- the inverse of an SPD matrix ---- */

typedef struct inv_job {
    const float *l;
    float *y, *p;
    size_t n, nblk;
} inv_job;

/* Columns [c0, c1) of Y = L^-1: solve L[c0:, c0:] Y[c0:, c0:c1] = the identity's columns. The
 * costliest block comes first (job 0), so dynamic scheduling balances the threads. */
static void inverse_block(void *ctx, size_t blk)
{
    inv_job *J = ctx;
    size_t n = J->n, c0 = blk * NB, cb = n - c0 < NB ? n - c0 : NB;
    float one = 1.0f, *y = J->y + c0 * n + c0;
    rntm_t rntm = one_thread();
    for (size_t r = 0; r < n - c0; r++) {
        memset(y + r * n, 0, cb * sizeof *y);
        if (r < cb)
            y[r * n + r] = 1.0f;
    }
    bli_strsm_ex(BLIS_LEFT, BLIS_LOWER, BLIS_NO_TRANSPOSE, BLIS_NONUNIT_DIAG, (dim_t)(n - c0), (dim_t)cb, &one,
                 (float *)J->l + c0 * n + c0, (inc_t)n, 1, y, (inc_t)n, 1, NULL, &rntm);
}

/* Tile (I, J <= I) of P = Y^T Y: sum over rows K >= I0 of Y[K, I]^T Y[K, J] (Y is lower). */
static void gram_tile(void *ctx, size_t t)
{
    inv_job *J = ctx;
    size_t I, Jc, n = J->n;
    tile_of(t, &I, &Jc);
    size_t i0 = I * NB, j0 = Jc * NB, rows = n - i0 < NB ? n - i0 : NB, cols = n - j0 < NB ? n - j0 : NB;
    one_gemm(1, 0, rows, cols, n - i0, 1.0f, J->y + i0 * n + i0, n, 1, J->y + i0 * n + j0, n, 1, 0.0f,
             J->p + i0 * n + j0, n);
}

int gatrec__spd_inverse(int threads, size_t n, float *a)
{
    inv_job J = {a, NULL, a, n, (n + NB - 1) / NB};
    int rc;
    if (!n)
        return GATREC_OK;
    if ((rc = gatrec__cholesky(threads, n, a)))
        return rc;
    if (!(J.y = gatrec__malloc_array(n * n, sizeof *J.y)))
        return gatrec__error(GATREC_ENOMEM, "out of memory inverting a %zu x %zu matrix", n, n);
    parallel_dynamic(threads, J.nblk, inverse_block, &J);
    /* L is no longer needed: P overwrites it, tile by tile, biggest first */
    parallel_dynamic(threads, J.nblk * (J.nblk + 1) / 2, gram_tile, &J);
    free(J.y);
    for (size_t i = 0; i < n; i++) /* mirror the lower triangle */
        for (size_t j = i + 1; j < n; j++)
            a[i * n + j] = a[j * n + i];
    return GATREC_OK;
}

/* ---- orthonormal columns (CholQR2) ---- */

typedef struct qr_job {
    const float *l;
    float *y;
    size_t m, n;
} qr_job;

/* Rows [r0, r0 + NB) of y := y L^-T. */
static void qr_block(void *ctx, size_t blk)
{
    qr_job *J = ctx;
    size_t r0 = blk * NB, rows = J->m - r0 < NB ? J->m - r0 : NB;
    float one = 1.0f;
    rntm_t rntm = one_thread();
    bli_strsm_ex(BLIS_RIGHT, BLIS_LOWER, BLIS_TRANSPOSE, BLIS_NONUNIT_DIAG, (dim_t)rows, (dim_t)J->n, &one, (float *)J->l,
                 (inc_t)J->n, 1, J->y + r0 * J->n, (inc_t)J->n, 1, NULL, &rntm);
}

int gatrec__orthonormalise(int threads, size_t m, size_t n, float *y)
{
    float *g = gatrec__malloc_array(n * n + 1, sizeof *g);
    int rc = GATREC_OK;
    if (!g)
        return GATREC_ENOMEM;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        double trace = 0;
        gatrec__sgemm(threads, 1, 0, n, n, m, 1.0f, y, n, 1, y, n, 1, 0.0f, g, n); /* y^T y */
        for (size_t i = 0; i < n; i++)
            trace += g[i * n + i];
        for (size_t i = 0; i < n; i++)
            g[i * n + i] += (float)(1e-6 * trace / (double)n + 1e-30);
        if (!(rc = gatrec__cholesky(threads, n, g))) {
            qr_job J = {g, y, m, n};
            gatrec__parallel(threads, (m + NB - 1) / NB, qr_block, &J);
        }
    }
    free(g);
    return rc;
}

/* ---- symmetric eigen-decomposition (Jacobi) ---- */

int gatrec__sym_eigen(size_t n, double *a, double *w, double *v)
{
    size_t *order;
    double *tmp;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            v[i * n + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, total = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                *(i == j ? &total : &off) += a[i * n + j] * a[i * n + j];
        total += off;
        if (off <= 1e-24 * total || off == 0)
            break;
        for (size_t p = 0; p < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (fabs(apq) < 1e-300)
                    continue;
                double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < n; k++) { /* columns p and q */
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < n; k++) { /* rows p and q */
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < n; k++) {
                    double vkp = v[k * n + p], vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    order = gatrec__malloc_array(n + 1, sizeof *order);
    tmp = gatrec__malloc_array(n * n + 1, sizeof *tmp);
    if (!order || !tmp) {
        free(order);
        free(tmp);
        return GATREC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) /* insertion sort, descending eigenvalue */
        for (size_t j = i; j > 0 && a[order[j] * n + order[j]] > a[order[j - 1] * n + order[j - 1]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    memcpy(tmp, v, n * n * sizeof *tmp);
    for (size_t j = 0; j < n; j++) {
        w[j] = a[order[j] * n + order[j]];
        for (size_t i = 0; i < n; i++)
            v[i * n + j] = tmp[i * n + order[j]];
    }
    free(order);
    free(tmp);
    return GATREC_OK;
}
