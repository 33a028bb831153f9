"""PyTorch oracle for libgatrec's GAT and attn models: rebuild each network written by oracle_dump from its
parameters alone, run it with autograd, and compare the forward values and every gradient.

This is an independent implementation of the same definition (docs/model.md): PyTorch's own
linear algebra, LayerNorm, leaky ReLU and autograd, with a scatter softmax over each node's
incoming edges. Usage: python3 oracle.py DUMP   (exit 0 when everything agrees)."""
import sys

import torch
import torch.nn.functional as F

RTOL = 1e-4  # relative to the largest magnitude of the compared tensor


def parse(path):
    nets, cur = [], None
    for line in open(path):
        kind, _, rest = line.rstrip("\n").partition(" ")
        if kind == "net":
            f = rest.split()
            cur = {"layers": f[0], "flags": int(f[1]), "nu": int(f[2]), "ni": int(f[3]),
                   "att_slope": float(f[5]), "act_slope": float(f[6]), "edges": [], "param": {}, "grad": {}}
        elif kind == "anet":
            f = rest.split()
            cur = {"attn": True, "inputs": int(f[0]), "flags": int(f[1]), "L": int(f[2]), "nu": int(f[3]),
                   "ni": int(f[4]), "att_slope": float(f[6]), "d": int(f[7]), "f": int(f[8]),
                   "dislike": float(f[9]) if len(f) > 9 else 0.0, "edges": [], "param": {}, "grad": {}}
        elif kind == "edge":
            u, i, r = rest.split()
            cur["edges"].append((int(u), int(i), float(r)))
        elif kind in ("param", "grad"):
            name, _, vals = rest.partition("|")
            cur[kind][name] = torch.tensor([float(x) for x in vals.split()[1:]], dtype=torch.float64)
        elif kind in ("emb", "R", "feat"):
            cur[kind] = torch.tensor([float(x) for x in rest.split()[1:]], dtype=torch.float64)
        elif kind == "end":
            nets.append(cur)
    return nets


NO_ATTR, NO_LN, NO_RES, NO_SELF = 1, 2, 4, 8


def message_edges(nu, ni, ratings, flags, dtype=torch.float64):
    """Both directions of every (user, item, rating), plus self loops with the mean rating."""
    n = nu + ni
    src, dst, attr = [], [], []
    for u, i, r in ratings:
        src += [nu + i, u]
        dst += [u, nu + i]
        attr += [r, r]
    src, dst, attr = torch.tensor(src), torch.tensor(dst), torch.tensor(attr, dtype=dtype)
    if not flags & NO_SELF:
        total = torch.zeros(n, dtype=dtype).index_add(0, dst, attr)
        count = torch.zeros(n, dtype=dtype).index_add(0, dst, torch.ones_like(attr))
        loop = torch.arange(n)
        src, dst = torch.cat([src, loop]), torch.cat([dst, loop])
        attr = torch.cat([attr, torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total))])
    return src, dst, attr


def forward(P, layers, flags, n, src, dst, attr, att_slope, act_slope):
    """The network of docs/model.md; P maps libgatrec's tensor names to (flat) tensors."""
    h = P["input features"].view(n, -1)
    for l, spec in enumerate(layers.split(",")):
        units, heads = spec.rstrip("m").split("x")
        C, H, concat = int(units), int(heads), not spec.endswith("m")
        p = lambda what: P["layer %d %s" % (l + 1, what)]
        fin = h.shape[1]
        xl = h @ p("W_source").view(H * C, fin).T + p("b_source")
        xr = h @ p("W_target").view(H * C, fin).T + p("b_target")
        m = xl[src] + xr[dst]
        if not flags & NO_ATTR:
            m = m + attr[:, None] * p("W_edge")[None, :]
        s = (F.leaky_relu(m, att_slope).view(-1, H, C) * p("attention").view(1, H, C)).sum(-1)
        e = torch.exp(s - s.max(0).values)  # the softmax is shift-invariant: one shift per head
        den = torch.zeros(n, H, dtype=s.dtype).index_add(0, dst, e)
        alpha = e / den[dst]
        agg = torch.zeros(n, H, C, dtype=s.dtype).index_add(0, dst, alpha[:, :, None] * xl[src].view(-1, H, C))
        out = (agg.reshape(n, H * C) if concat else agg.mean(1)) + p("bias")
        z = out if flags & NO_LN else F.layer_norm(out, (out.shape[1],), p("norm gain"), p("norm bias"), 1e-5)
        act = F.leaky_relu(z, act_slope)
        if flags & NO_RES:
            h = act
        elif ("layer %d W_residual" % (l + 1)) in P:
            h = act + h @ p("W_residual").view(out.shape[1], fin).T
        else:
            h = act + h
    return h


A_UNIFORM, A_NO_ATTR = 1, 2


def attn_forward(P, net):
    """The attn model of docs/model.md: layer 0 = ID + per-type linear map of the text; edge
    weights alpha * sqrt(deg t / deg s) * g(rating) (g = -dislike for 2 stars or fewer, else 1)
    with alpha a softmax over each target's incoming edges
    (1 / deg t when uniform); L weight-free propagations; the mean of the layers."""
    nu, ni, d, f = net["nu"], net["ni"], net["d"], net["f"]
    n = nu + ni
    has = lambda name: name in P and P[name].numel() > 0
    h0 = torch.zeros(n, d, dtype=torch.float64)
    if has("ID embeddings"):
        h0 = h0 + P["ID embeddings"].view(n, d)
    if has("W_user (text map)"):
        feat = net["feat"].view(n, f)
        text = torch.cat([feat[:nu] @ P["W_user (text map)"].view(d, f).T,
                          feat[nu:] @ P["W_item (text map)"].view(d, f).T])
        h0 = h0 + text
    src, dst, attr = message_edges(nu, ni, net["edges"], NO_SELF)
    deg = torch.zeros(n, dtype=torch.float64).index_add(0, dst, torch.ones_like(attr))
    if net["flags"] & A_UNIFORM:
        alpha = 1.0 / deg[dst]
    else:
        ha = P["att (attention)"].numel()
        xs = h0 @ P["P_source (attention)"].view(ha, d).T
        xd = h0 @ P["P_target (attention)"].view(ha, d).T
        m = xs[src] + xd[dst]
        if not net["flags"] & A_NO_ATTR:
            m = m + attr[:, None] * P["w_edge (attention)"][None, :]
        s = (F.leaky_relu(m, net["att_slope"]) * P["att (attention)"][None, :]).sum(-1)
        e = torch.exp(s - s.max())
        alpha = e / torch.zeros(n, dtype=e.dtype).index_add(0, dst, e)[dst]
    w = alpha * torch.sqrt(deg[dst] / deg[src])
    if net["dislike"] > 0:  # the star rule: an edge of 2 stars or fewer propagates with gain -dislike
        w = w * torch.where(attr <= 2, -net["dislike"] * torch.ones_like(attr), torch.ones_like(attr))
    layers = [h0]
    for _ in range(net["L"]):
        layers.append(torch.zeros(n, d, dtype=torch.float64).index_add(0, dst, w[:, None] * layers[-1][src]))
    return torch.stack(layers).mean(0)


def run(net):
    if net.get("attn"):
        P = {k: v.clone().requires_grad_(True) for k, v in net["param"].items()}
        return attn_forward(P, net).reshape(-1), P
    nu, ni, flags = net["nu"], net["ni"], net["flags"]
    src, dst, attr = message_edges(nu, ni, net["edges"], flags)
    P = {k: v.clone().requires_grad_(True) for k, v in net["param"].items()}
    h = forward(P, net["layers"], flags, nu + ni, src, dst, attr, net["att_slope"], net["act_slope"])
    return h.reshape(-1), P


def close(name, ours, theirs):
    if theirs.numel() == 0:  # a part the configuration leaves out (e.g. attn's ID table when text only)
        return ours.numel() == 0
    scale = max(float(theirs.abs().max()), 1e-6)
    err = float((ours - theirs).abs().max()) / scale
    ok = err <= RTOL
    print("  %-26s max relative difference %.2e %s" % (name, err, "ok" if ok else "MISMATCH"))
    return ok


def main():
    ok = True
    for k, net in enumerate(parse(sys.argv[1])):
        if net.get("attn"):
            print("attn net %d: inputs %d flags %d, %d layers, %d ratings" % (k, net["inputs"], net["flags"], net["L"],
                                                                             len(net["edges"])))
        else:
            print("net %d: layers %s flags %d, %d ratings" % (k, net["layers"], net["flags"], len(net["edges"])))
        emb, P = run(net)
        ok &= close("forward (final embeddings)", net["emb"], emb.detach())
        (emb * net["R"]).sum().backward()
        for name, g in net["grad"].items():
            # a parameter the configuration does not use (e.g. the norm gain without LayerNorm)
            # has no gradient in PyTorch; ours must then be exactly zero
            theirs = P[name].grad if P[name].grad is not None else torch.zeros_like(g)
            ok &= close("d/d " + name, g, theirs)
    print("pytorch oracle (torch %s): %s" % (torch.__version__, "agrees" if ok else "DISAGREES"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
