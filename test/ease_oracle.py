#!/usr/bin/env python3
"""The numpy oracle of the dense solver and EASE: reads what build/ease_dump printed and
recomputes it independently in float64 (numpy.linalg.cholesky, numpy.linalg.solve).

Tolerances (float32 library against float64 numpy): the Cholesky factor within 1e-4 of the
largest entry of L; EASE's scores within 1e-3 of the largest score. Items nobody liked must
score -inf (EASE cannot score them). Exits non-zero on a disagreement."""
import sys

import numpy as np


def main(path):
    lines = open(path).read().split("\n")
    pos = 0

    def matrix(n):
        nonlocal pos
        m = np.array([[float(v) for v in lines[pos + i].split()] for i in range(n)])
        pos += n
        return m

    assert lines[pos].startswith("spd ")
    n = int(lines[pos].split()[1])
    pos += 1
    a = matrix(n)
    assert lines[pos].startswith("chol ")
    pos += 1
    L = matrix(n)
    ref = np.linalg.cholesky(a)
    err = np.abs(L - ref).max() / np.abs(ref).max()
    ok = err < 1e-4
    print("numpy oracle: Cholesky of a %dx%d SPD matrix, max |L - numpy| / max |L| = %.2e %s" % (
        n, n, err, "ok" if ok else "FAILED"))
    _, users, items, nr, lam = lines[pos].split()
    users, items, nr, lam = int(users), int(items), int(nr), float(lam)
    pos += 1
    X = np.zeros((users, items))  # B is learned from the liked ratings
    Xs = np.zeros((users, items))  # a user's scores read x_u: liked 1, disliked (2 stars or fewer) -0.1
    rated = np.zeros(items, dtype=bool)  # items with any training rating
    for k in range(nr):
        u, i, r = lines[pos + k].split()
        X[int(u), int(i)] = 1.0 if float(r) >= 4 else 0.0
        Xs[int(u), int(i)] = 1.0 if float(r) >= 4 else (-0.1 if float(r) <= 2 else 0.0)
        rated[int(i)] = True
    pos += nr
    S = matrix(users)
    G = X.T @ X + lam * np.eye(items)
    P = np.linalg.solve(G, np.eye(items))
    B = -P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    want = Xs @ B
    known = X.sum(axis=0) > 0  # items somebody liked; the others score -inf
    unrated_ok = bool(np.all(np.isneginf(S[:, ~rated]))) if (~rated).any() else True
    err2 = np.abs(S[:, rated] - want[:, rated]).max() / np.abs(want[:, known]).max()
    ok2 = err2 < 1e-3 and unrated_ok
    print("numpy oracle: EASE on %d users x %d items (lambda %g), max |scores - numpy| / max |score| = %.2e, "
          "unrated items at -inf: %s %s" % (users, items, lam, err2, unrated_ok, "ok" if ok2 else "FAILED"))
    if ok and ok2:
        print("numpy oracle: agrees")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
