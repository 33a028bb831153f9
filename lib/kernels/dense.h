/* Dense linear algebra on BLIS, threaded by the library's own fork-join helper.
 *
 * BLIS is always called with one thread on a fixed block of the result, and our threads run
 * the blocks: BLIS's OpenMP pool never starts (its idle spinning would steal the cores the
 * rest of the library uses) and no host setting is touched. Blocks are fixed by the shapes
 * alone, never by the thread count, so every result is bitwise the same for any thread count.
 * Matrices are row-major with an explicit row stride. */
#ifndef GATREC_DENSE_H
#define GATREC_DENSE_H

#include "../common/common.h"

/* C (m x n, row stride rsc) = alpha op(A) op(B) + beta C. op(A) is m x k: A is stored with row
 * stride rsa and column stride csa (transposed when ta). Likewise B (k x n) with tb. */
void gatrec__sgemm(int threads, int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                   size_t rsa, size_t csa, const float *b, size_t rsb, size_t csb, float beta, float *c, size_t rsc);

/* out[i] = <x, row i of B> for the n rows of B (row stride rsb), each of d floats: one vector
 * against many, without a GEMM's packing (one user's scores). Each sum runs in eight lanes in a
 * fixed order, so a row's result depends on nothing but its two vectors. */
void gatrec__sdot_rows(size_t n, size_t d, const float *x, const float *b, size_t rsb, float *out);

/* Cholesky factorisation A = L L^T of the symmetric positive definite n x n matrix in `a` (row
 * stride n; only the lower triangle is read), blocked on BLIS trsm and gemm. L overwrites the
 * lower triangle. GATREC_EINVAL (naming the pivot) when A is not positive definite. */
int gatrec__cholesky(int threads, size_t n, float *a);

/* The inverse of the symmetric positive definite matrix in `a` (n x n), in place, as a full
 * symmetric matrix: Cholesky, the inverse of L by triangular solves, then L^-T L^-1 on the
 * lower triangle only (about n^3 flops in all). Needs n x n floats of scratch beside `a`. */
int gatrec__spd_inverse(int threads, size_t n, float *a);

/* Orthonormalise the columns of the m x n matrix y (row stride n, m >= n) in place by Cholesky
 * QR, twice (CholQR2), with a tiny ridge so that a rank-deficient y still factors. */
int gatrec__orthonormalise(int threads, size_t m, size_t n, float *y);

/* Eigen-decomposition of the symmetric n x n matrix `a` (row-major, double; destroyed) by
 * cyclic Jacobi rotations: eigenvalues into w (descending) and the matching eigenvectors into
 * the columns of v (n x n). For the small matrices of a randomised SVD. */
int gatrec__sym_eigen(size_t n, double *a, double *w, double *v);

#endif
