"""The same GAT as libgatrec's (test/oracle.py's formulas, float32, nn parameters), trained the
same way (full batch, BPR + cosine, one robust negative, AdamW), for bench_gat's comparison.
Usage: torch_gat.py RATINGS_FILE INPUT_DIM LAYERS THREADS EPOCHS
Prints: "seconds_per_epoch PEAK_RSS_KB"."""
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # test/oracle.py
import oracle  # noqa: E402


def params(n, fdim, layers, gen):
    P, fin = {"input features": torch.randn(n * fdim, generator=gen)}, fdim
    for l, spec in enumerate(layers.split(",")):
        units, heads = spec.rstrip("m").split("x")
        C, H = int(units), int(heads)
        out = H * C if not spec.endswith("m") else C
        g = lambda rows, cols: (torch.rand(rows * cols, generator=gen) * 2 - 1) * math.sqrt(6.0 / (rows + cols))
        name = lambda what: "layer %d %s" % (l + 1, what)
        P[name("W_source")], P[name("b_source")] = g(H * C, fin), torch.zeros(H * C)
        P[name("W_target")], P[name("b_target")] = g(H * C, fin), torch.zeros(H * C)
        P[name("W_edge")], P[name("attention")] = g(H * C, 1), g(H, C)
        P[name("bias")], P[name("norm gain")], P[name("norm bias")] = torch.zeros(out), torch.ones(out), torch.zeros(out)
        if fin != out:
            P[name("W_residual")] = g(out, fin)
        fin = out
    return {k: torch.nn.Parameter(v) for k, v in P.items()}


def main():
    path, fdim, layers, threads, epochs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    rows = [line.split("\t") for line in open(path)]
    users = {u: k for k, u in enumerate(sorted({int(r[0]) for r in rows}))}
    items = {i: k for k, i in enumerate(sorted({int(r[1]) for r in rows}))}
    ratings = [(users[int(r[0])], items[int(r[1])], float(r[2])) for r in rows]
    nu, ni = len(users), len(items)
    n = nu + ni
    src, dst, attr = oracle.message_edges(nu, ni, ratings, 0, torch.float32)
    pos_u = torch.tensor([u for u, i, r in ratings if r >= 4])
    pos_i = torch.tensor([i for u, i, r in ratings if r >= 4])
    banned = torch.zeros(nu, ni, dtype=torch.bool)  # liked or disliked: never a sampled negative
    for u, i, r in ratings:
        if r >= 4 or r <= 2:
            banned[u, i] = True
    gen = torch.Generator().manual_seed(1)
    P = params(n, fdim, layers, gen)
    opt = torch.optim.AdamW(P.values(), lr=1e-3, weight_decay=1e-5)
    times = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        neg = torch.randint(ni, pos_u.shape, generator=gen)
        for _ in range(8):  # robust negatives by rejection
            bad = banned[pos_u, neg]
            if not bad.any():
                break
            neg[bad] = torch.randint(ni, (int(bad.sum()),), generator=gen)
        h = oracle.forward(P, layers, 0, n, src, dst, attr, 0.2, 0.01)
        hu, hi, hj = h[pos_u], h[nu + pos_i], h[nu + neg]
        loss = -F.logsigmoid((hu * hi).sum(1) - (hu * hj).sum(1)).mean() + (1 - F.cosine_similarity(hu, hi)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    steady = sorted(times[1:]) if len(times) > 1 else times
    print("%.4f %d" % (steady[len(steady) // 2], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


if __name__ == "__main__":
    main()
