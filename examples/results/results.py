#!/usr/bin/env python3
"""libgatrec's evaluation matrix: `make results` runs it and writes docs/results.md + SVG charts.

Everything goes through the `gatrec` command line, so every number in the report comes with the
command that reproduces it. Runs are cached under --work (one JSON file per run): an interrupted
matrix resumes where it stopped, and a rerun with the same arguments only rewrites the report.
Python 3 standard library only; the charts are plain SVG written here.
"""
import argparse
import concurrent.futures
import datetime
import json
import math
import os
import platform
import shlex
import statistics
import shutil
import subprocess
import sys
import threading
import time

SOFTMAX_BPR_ARGS = ["--model", "bpr", "--loss", "softmax", "--weight-decay", "0", "--lr", "5e-3", "--epochs", "30"]
SOFTMAX_LIGHTGCN_ARGS = ["--model", "lightgcn", "--loss", "softmax", "--dim", "256", "--propagation", "2",
                         "--weight-decay", "0", "--lr", "5e-3", "--epochs", "30"]
# attn overfits within tens of epochs like every softmax model, and make results trains on whole
# folds (no validation part): the epoch count comes from its search on u1+valid:0.1 (docs/model.md)
ATTN_ARGS = ["--model", "attn", "--epochs", "25"]
# name -> (label, gatrec train arguments, input features: None or "llm" / "template", with
# "-lsa" when the profiles are embedded by the LSA embedder instead of the hashed one, and
# "-shuffled" when the item rows are shuffled between items: the control)
MODELS = {
    "pop": ("Popularity", ["--model", "pop"], None),
    "bpr": ("BPR-MF (tuned)", ["--model", "bpr"], None),
    "lightgcn": ("LightGCN (tuned)", ["--model", "lightgcn"], None),
    "ease": ("EASE (lambda 250)", ["--model", "ease"], None),
    # the softmax loss overfits within tens of epochs: the epoch count comes from its search on
    # u1+valid:0.1 (docs/model.md), as nothing else may look at the test fold
    "bpr-softmax": ("BPR-MF, softmax loss", SOFTMAX_BPR_ARGS, None),
    "lightgcn-softmax": ("LightGCN (256-d, 2 layers), softmax loss", SOFTMAX_LIGHTGCN_ARGS, None),
    "gat-random": ("GAT, random features", ["--model", "gat"], None),
    "gat-template": ("GAT, template-profile features", ["--model", "gat"], "template"),
    "gat-llm-nocos": ("GAT, LLM-profile features, no cosine term", ["--model", "gat", "--cos-weight", "0"], "llm"),
    "gat-llm": ("GAT, LLM-profile features (the paper's model)", ["--model", "gat"], "llm"),
    "attn": ("attn, LLM profiles, LSA embedder (libgatrec's model)", ATTN_ARGS, "llm-lsa"),
    "attn-idonly": ("attn, no text (ID only)", ATTN_ARGS + ["--inputs", "id"], None),
    "attn-uniform": ("attn, no attention (LightGCN's weights + text)", ATTN_ARGS + ["--uniform-attention"], "llm-lsa"),
    "attn-textonly": ("attn, no ID (text only)", ATTN_ARGS + ["--inputs", "text"], "llm-lsa"),
    "attn-shuffled": ("attn, item text rows shuffled between items (control)", ATTN_ARGS, "llm-lsa-shuffled"),
    "attn-bpr": ("attn, BPR loss instead of the softmax (100 epochs)", ["--model", "attn", "--loss", "bpr", "--epochs", "100"],
                 "llm-lsa"),
}
MAIN_MODELS = ["pop", "bpr", "bpr-softmax", "lightgcn", "lightgcn-softmax", "ease", "gat-random", "gat-llm", "attn"]
DETERMINISTIC = {"pop", "ease"}  # no random choice: one seed says it all
ABLATION_MODELS = ["gat-random", "gat-template", "gat-llm-nocos", "gat-llm"]
# attn's ablations (issue 13): each part removed, the text control, the profile source, the
# embedder, the loss
ATTN_ABLATION_MODELS = ["attn", "attn-idonly", "attn-uniform", "attn-textonly", "attn-shuffled",
                        "attn-template-lsa", "attn-llm", "attn-bpr"]
CURVE_MODELS = ["bpr", "lightgcn", "gat-random", "gat-llm", "attn"]
IMPLICIT_MODELS = ["pop", "bpr", "lightgcn", "ease", "gat-random", "gat-llm", "attn"]
# Strict cold start: whole items (or users) leave training. Each model with each profile source
# (template or the recorded LLM profiles; users always get template profiles from the training
# part, which the recorded ones would leak into) and each offline embedder (hashed or LSA).
COLD_SPLITS = ["cold-items:0.2", "cold-users:0.2:5"]
COLD_FEATURES = ["template", "llm", "template-lsa", "llm-lsa"]
COLD_MODELS = ["pop", "ease"] + ["%s-%s" % (k, f) for k in ("content", "gat", "attn") for f in COLD_FEATURES] + \
    ["attn-shuffled", "attn-idonly"]
NO_NEW_ITEMS = {"attn-idonly"}  # learned kinds that cannot score a new item either (no text)
TRANSDUCTIVE = {"pop", "ease", "bpr", "lightgcn"}  # cannot score an item without training ratings
# Returning users (issue 22): attn trained on a split with a validation part, evaluated on the test
# part without and with `gatrec update` folding the validation ratings in - each user's newer
# ratings reaching the model without retraining. (split, what is held out, what is folded in)
RETURNING_SPLITS = [("leave-last:valid", "each user's last rating", "each user's second-to-last"),
                    ("temporal:0.2:0.1", "the last 20% of ratings in time", "the 10% before them")]
# Issue 22's references, from the report it was filed against (attn before its new-user defaults):
# the paper's GAT on new users, attn on known users (u1 standard) and on new items (among them)
BEFORE_ISSUE22 = {"gat_new_users": 0.5099, "known_users": 0.4723, "new_items": 0.2414}
ML1M_MODELS = ["pop", "bpr", "lightgcn", "gat-random"]  # no recorded LLM item profiles for ML-1M
ML1M_SPLIT = "random:0.2"  # ML-1M has no official folds
KS = [5, 10, 20, 50]
COLD_MAX = 20  # cold-start slice: users with at most this many training ratings

# docs/paper.md: the authors' result files, paper protocol, fold u1, K = 10
PAPER_TABLE = [
    ("paper's model (LLM features + GAT + hybrid loss)", 0.7624, 0.2147, 0.5236, 0.2108),
    ("paper's GAT without LLM", 0.7508, 0.1489, 0.4424, 0.1614),
    ("paper's NGCF", 0.7156, 0.1914, 0.4826, 0.1841),
    ("paper's LightGCN", 0.6918, 0.1530, 0.4192, 0.1566),
    ("paper's ALS", 0.6863, 0.1629, 0.3993, 0.1585),
]
PAPER_MODEL = PAPER_TABLE[0][1:]
# Microsoft Recommenders, ML-100K, per-user stratified 75/25, all ratings implicit, K = 10
MSR_TABLE = [("BiVAE", 0.4751, 0.4118, 0.2191), ("BPR", 0.4420, 0.3882, 0.2125), ("LightGCN", 0.4198, 0.3796, 0.1443)]
for _kind, _label, _args in (("content", "Content (cosine to liked items)", ["--model", "content"]),
                             ("gat", "GAT", ["--model", "gat"]), ("attn", "attn", ATTN_ARGS)):
    for _f in COLD_FEATURES:
        MODELS.setdefault("%s-%s" % (_kind, _f), ("%s, %s profiles, %s embedder" % (
            _label, "LLM" if _f.startswith("llm") else "template", "LSA" if _f.endswith("lsa") else "hashed"), _args, _f))
LLM_ITEMS = "movies_structured_100K.csv"
LLM_USERS = "updated_users_with_summary_df_100k.csv"
COLOR = {"pop": "#7f7f7f", "bpr": "#1f77b4", "bpr-softmax": "#17becf", "lightgcn": "#2ca02c",
         "lightgcn-softmax": "#98df8a", "ease": "#bcbd22",
         "gat-random": "#ff7f0e",
         "gat-template": "#9467bd", "gat-llm-nocos": "#8c564b", "gat-llm": "#d62728", "attn": "#e377c2"}


def log(msg):
    print(msg, flush=True)


def store(path, rec):
    """A run's record, written whole or not at all (an interrupted matrix resumes from these)."""
    with open(path + ".tmp", "w") as f:
        json.dump(rec, f)
    os.replace(path + ".tmp", path)


def last_value(command, flag):
    """The value given to the last `flag` in a recorded command line."""
    words = shlex.split(command)
    return words[max(i for i, w in enumerate(words) if w == flag) + 1]


class Runner:
    def __init__(self, args):
        self.a = args
        self.gatrec = os.path.abspath(args.gatrec)
        self.llm_env = dict(os.environ, GATREC_DATA_DIR=os.path.abspath(args.data))  # for reranking only
        self.env = dict(self.llm_env)
        self.env.pop("GATREC_LLM_BASE_URL", None)  # profiles here are recorded or templates; never a live LLM
        self.work = os.path.abspath(args.work)
        os.makedirs(os.path.join(self.work, "runs"), exist_ok=True)
        os.makedirs(os.path.join(self.work, "features"), exist_ok=True)
        # the commit the binary was built from (`gatrec version` says it), else this checkout's
        ver = subprocess.run([self.gatrec, "version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        self.commit = ver.split("(commit ", 1)[1].split(")")[0] if "(commit " in ver else git_commit()

    def run(self, argv, env=None):
        cmd = [self.gatrec] + argv
        p = subprocess.run(cmd, env=env or self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit("results: `gatrec %s` failed (%d):\n%s" % (" ".join(map(shlex.quote, argv)), p.returncode,
                                                                  p.stderr.strip()))
        return p.stdout

    _features_lock = threading.Lock()  # with --jobs, two runs may want the same file

    def features(self, kind, split, seed):
        """The input features for a split: profiles (recorded LLM or templates) -> offline embedder."""
        with self._features_lock:
            return self._features(kind, split, seed)

    def _features(self, kind, split, seed):
        key = "%s_%s_%d" % (kind, split.replace(":", "-").replace("+", "_"), seed)
        if kind.endswith("-shuffled"):  # the control: every item gets another item's text
            tsv = os.path.join(self.work, "features", key + ".tsv")
            if not os.path.exists(tsv):
                base = self._features(kind[:-len("-shuffled")], split, seed)
                with open(base) as f:
                    lines = f.read().splitlines()
                items = [k for k, l in enumerate(lines) if l.startswith("item\t")]
                vectors = [lines[k].split("\t", 2)[2] for k in items]
                order = list(range(len(items)))
                random_state = 12345 + seed  # a fixed permutation per seed (Fisher-Yates, LCG draws)
                for n in range(len(order) - 1, 0, -1):
                    random_state = (random_state * 6364136223846793005 + 1442695040888963407) % 2 ** 64
                    j = (random_state >> 33) % (n + 1)
                    order[n], order[j] = order[j], order[n]
                for k, src in zip(items, order):
                    kind_, ident, _ = lines[k].split("\t", 2)
                    lines[k] = "%s\t%s\t%s" % (kind_, ident, vectors[src])
                with open(tsv + ".tmp", "w") as f:
                    f.write("\n".join(lines) + "\n")
                os.replace(tsv + ".tmp", tsv)
            return tsv
        source, lsa = kind.split("-")[0], kind.endswith("-lsa")
        tsv = os.path.join(self.work, "features", key + ".tsv")
        if os.path.exists(tsv):
            return tsv
        jsonl = os.path.join(self.work, "features", key + ".jsonl")
        base = ["--dataset", "ml-100k", "--split", split, "--seed", str(seed), "--out", jsonl]
        if source == "template":
            self.run(["profiles", "generate"] + base)
        else:
            llm = os.path.join(os.path.abspath(self.a.data), "llm-profiles")
            argv = ["profiles", "import"] + base + ["--items", os.path.join(llm, LLM_ITEMS)]
            # The recorded user profiles were written from u1.base: on any other split they would
            # leak test ratings, so there users get template profiles from their training part.
            if split.split("+")[0] == "u1":
                argv += ["--users", os.path.join(llm, LLM_USERS)]
            self.run(argv)
        self.run(["embed", "--dataset", "ml-100k", "--profiles", jsonl, "--out", tsv + ".tmp"]
                 + (["--embedder", "lsa"] if lsa else []))
        os.replace(tsv + ".tmp", tsv)
        return tsv

    def train_tail(self, kind):
        """What every training adds: the --epochs cap, and one thread each when runs go side by side."""
        tail = []
        if self.a.epochs and kind not in ("pop", "ease", "content"):  # kinds trained in epochs only
            tail += ["--epochs", str(self.a.epochs)]
        if self.a.jobs > 1:
            tail += ["--threads", "1"]
        return tail

    def train_eval(self, group, model, split, seed, dataset="ml-100k", implicit=False, keep=False):
        """Train one model and evaluate it; cached in work/runs (the model file too when `keep`)."""
        key = "%s__%s__%s__%s__s%d" % (group, dataset, model, split.replace(":", "-").replace("+", "_"), seed)
        path = os.path.join(self.work, "runs", key + ".json")
        mfile = os.path.join(self.work, "runs", key + ".gatrec")
        if os.path.exists(path) and (not keep or os.path.exists(mfile)):
            with open(path) as f:
                return json.load(f)
        label, targs, feat = MODELS[model]
        argv = ["train", "--dataset", dataset, "--split", split, "--seed", str(seed)] + targs
        if feat:
            argv += ["--features", self.features(feat, split, seed)]
        if implicit:
            argv += ["--liked", "1"]
        argv += self.train_tail(targs[1]) + ["--json", "--out", mfile]
        t0 = time.time()
        log("== %s %s %s seed %d" % (group, model, split, seed))
        lines = [json.loads(l) for l in self.run(argv).splitlines() if l.strip()]
        rec = {"group": group, "model": model, "split": split, "seed": seed, "dataset": dataset,
               "train_command": "gatrec " + " ".join(shlex.quote(x) for x in argv),
               "epochs": [l for l in lines if "epoch" in l], "summary": lines[-1], "eval": {}}
        evals = [("paper", "paper", []), ("standard", "standard", [])] if not implicit else \
            [("standard", "standard", ["--threshold", "1"])]
        if group == "cold":  # full ranking; among the held-out items too on a cold-items split
            evals = [("standard", "standard", [])]
            if split.startswith("cold-items") and model.split("-")[0] not in TRANSDUCTIVE and model not in NO_NEW_ITEMS:
                evals.append(("standard-among-cold", "standard", ["--rank-among", "cold"]))
        for name, proto, extra in evals:
            out = self.run(["eval", "--model", mfile, "--protocol", proto, "-k", ",".join(map(str, KS)), "--json"]
                           + extra)
            rec["eval"][name] = {str(m["k"]): m for m in map(json.loads, out.splitlines())}
            if group == "main" and split == "u1":
                out = self.run(["eval", "--model", mfile, "--protocol", proto, "-k", "10",
                                "--max-train", str(COLD_MAX), "--json"])
                rec["eval"][proto + "-cold"] = json.loads(out)
            if name == "standard" and group == "cold":
                rec["folded_users"] = json.loads(out.splitlines()[0]).get("folded_users")
        rec["wall_seconds"] = round(time.time() - t0, 1)
        rec["commit"] = self.commit
        rec["model_file"] = mfile
        if not keep:
            os.remove(mfile)
        store(path, rec)
        return rec


    def returning(self, split, seed):
        """attn on a split with a validation part: the test part scored without, then with the
        validation ratings folded in by `gatrec update` (no retraining); cached in work/runs."""
        key = "returning__ml-100k__attn__%s__s%d" % (split.replace(":", "-"), seed)
        path = os.path.join(self.work, "runs", key + ".json")
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        log("== returning attn %s seed %d" % (split, seed))
        t0 = time.time()
        base = os.path.join(self.work, "runs", key)
        argv = ["train", "--dataset", "ml-100k", "--split", split, "--seed", str(seed)] + ATTN_ARGS + \
            ["--patience", "1000", "--features", self.features("llm-lsa", split, seed)] + self.train_tail("attn")
        self.run(argv + ["--json", "--out", base + ".gatrec"])
        self.run(["split", "--dataset", "ml-100k", "--split", split, "--seed", str(seed), "--out", base + ".d"])
        self.run(["update", "--model", base + ".gatrec", "--ratings", os.path.join(base + ".d", "valid.tsv"),
                  "--out", base + ".updated.gatrec"])
        rec = {"group": "returning", "model": "attn", "split": split, "seed": seed, "dataset": "ml-100k",
               "train_command": "gatrec " + " ".join(shlex.quote(x) for x in argv), "eval": {}}
        for name, m in (("without", base + ".gatrec"), ("with", base + ".updated.gatrec")):
            out = self.run(["eval", "--model", m, "--protocol", "standard", "-k", "10", "--json"])
            rec["eval"][name] = {"10": json.loads(out.splitlines()[0])}
        rec["wall_seconds"] = round(time.time() - t0, 1)
        rec["commit"] = self.commit
        shutil.rmtree(base + ".d")
        os.remove(base + ".gatrec")
        os.remove(base + ".updated.gatrec")
        store(path, rec)
        return rec

    def rerank(self, base, strategy):
        """Every user's candidates from a kept model reordered by the LLM, then evaluated as a list."""
        key = "rerank__%s__%s__s%d" % (strategy, base["model"], base["seed"])
        path = os.path.join(self.work, "runs", key + ".json")
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        feat = MODELS[base["model"]][2]
        profiles = os.path.join(self.work, "features", "%s_%s_%d.jsonl" % (feat, base["split"], base["seed"]))
        csv = os.path.join(self.work, "runs", key + ".csv")
        argv = ["recommend", "--model", base["model_file"], "--all", "-k", str(max(KS)), "--csv", "--rerank", strategy,
                "--candidates", "20", "--profiles", profiles, "--out", csv]
        log("== rerank %s on %s %s seed %d" % (strategy, base["model"], base["split"], base["seed"]))
        self.run(argv, env=self.llm_env)
        rec = {"group": "rerank", "model": base["model"], "strategy": strategy, "split": base["split"],
               "seed": base["seed"], "train_command": "gatrec " + " ".join(shlex.quote(x) for x in argv), "eval": {},
               "llm": "%s (model %s)" % (self.llm_env.get("GATREC_LLM_BASE_URL", "?"),
                                         self.llm_env.get("GATREC_LLM_MODEL", "the default"))}
        for proto in ("paper", "standard"):
            out = self.run(["eval", "--recs", csv, "--dataset", "ml-100k", "--split", base["split"], "--protocol", proto,
                            "-k", ",".join(map(str, KS)), "--json"])
            rec["eval"][proto] = {str(m["k"]): m for m in map(json.loads, out.splitlines())}
        store(path, rec)
        return rec


# ---------------------------------------------------------------------------------------------
# statistics and tables


def mean_sd(xs):
    if not xs:
        return float("nan"), float("nan")
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def fmt(xs, digits=4):
    """Mean (± sd when there are several runs) as .7624; "-" without runs."""
    m, sd = mean_sd(xs)
    if math.isnan(m):
        return "-"
    short = lambda v: ("%.*f" % (digits, v)).lstrip("0") or "0"  # noqa: E731
    return short(m) + (" ± " + short(sd) if len(xs) > 1 else "")


def metric(runs, proto, k, name):
    return [r["eval"][proto][str(k)][name] for r in runs if proto in r["eval"]]


def select(runs, group, model=None, split=None):
    return [r for r in runs if r["group"] == group and (model is None or r["model"] == model)
            and (split is None or r["split"] == split)]


# ---------------------------------------------------------------------------------------------
# SVG


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_ticks(lo, hi, n=5):
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    t = math.floor(lo / step) * step
    ticks = [round(t, 10)]
    while ticks[-1] < hi - 1e-12:  # the last tick at or above the highest value
        t += step
        ticks.append(round(t, 10))
    return ticks


def panel(x0, y0, w, h, title, xs_label, series, xlog=False, ylabel=""):
    """A line chart: series = [(label, color, [(x, y) or (x, y, sd), ...]), ...]; an sd draws a
    +-1 sd bar at its point. Returns SVG elements."""
    pts = [p for _, _, ps in series for p in ps if not math.isnan(p[1])]
    if not pts:
        return []
    sd = lambda p: p[2] if len(p) > 2 and not math.isnan(p[2]) else 0.0  # noqa: E731
    fx = (lambda v: math.log(v)) if xlog else (lambda v: v)
    xmin, xmax = min(fx(p[0]) for p in pts), max(fx(p[0]) for p in pts)
    yt = nice_ticks(min(p[1] - sd(p) for p in pts), max(p[1] + sd(p) for p in pts))
    ymin, ymax = yt[0], yt[-1]
    L, R, T, B = 52, 10, 24, 36
    def sx(v):
        return x0 + L + (fx(v) - xmin) / ((xmax - xmin) or 1) * (w - L - R)
    def sy(v):
        return y0 + h - B - (v - ymin) / ((ymax - ymin) or 1) * (h - T - B)
    el = ['<text x="%.1f" y="%.1f" class="t">%s</text>' % (x0 + w / 2, y0 + 15, esc(title))]
    for t in yt:
        el.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="g"/>' % (x0 + L, x0 + w - R, sy(t), sy(t)))
        el.append('<text x="%.1f" y="%.1f" class="yl">%s</text>' % (x0 + L - 4, sy(t) + 4, ("%g" % t)))
    xticks = sorted({p[0] for p in pts})
    if len(xticks) > 8:
        xticks = [v for v in nice_ticks(min(xticks), max(xticks), 6) if min(xticks) <= v <= max(xticks)]
    for t in xticks:
        el.append('<text x="%.1f" y="%.1f" class="xl">%g</text>' % (sx(t), y0 + h - B + 16, t))
    el.append('<text x="%.1f" y="%.1f" class="xl">%s</text>' % (x0 + L + (w - L - R) / 2, y0 + h - 4, esc(xs_label)))
    if ylabel:
        el.append('<text transform="translate(%.1f,%.1f) rotate(-90)" class="xl">%s</text>'
                  % (x0 + 12, y0 + T + (h - T - B) / 2, esc(ylabel)))
    el.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="f"/>' % (x0 + L, y0 + T, w - L - R, h - T - B))
    for _, color, ps in series:
        ps = [p for p in ps if not math.isnan(p[1])]
        if not ps:
            continue
        d = " ".join("%s%.1f,%.1f" % ("M" if i == 0 else "L", sx(p[0]), sy(p[1])) for i, p in enumerate(ps))
        el.append('<path d="%s" stroke="%s" class="l"/>' % (d, color))
        if len(ps) <= 10:
            r = 5 if color == "#000000" else 3  # a published reference point stands out
            el += ['<circle cx="%.1f" cy="%.1f" r="%d" fill="%s"/>' % (sx(p[0]), sy(p[1]), r, color) for p in ps]
            el += ['<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"/>'
                   % (sx(p[0]), sx(p[0]), sy(p[1] - sd(p)), sy(p[1] + sd(p)), color) for p in ps if sd(p) > 0]
    return el


def legend(x, y, items, cols=2, colw=330):
    el = []
    for i, (label, color, dashed) in enumerate(items):
        cx, cy = x + (i % cols) * colw, y + (i // cols) * 18
        el.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"%s/>'
                  % (cx, cx + 22, cy - 4, cy - 4, color, ' stroke-dasharray="5,3"' if dashed else ""))
        el.append('<text x="%d" y="%d" class="lg">%s</text>' % (cx + 28, cy, esc(label)))
    return el


def svg(path, w, h, elements, title):
    style = ("text{font-family:sans-serif;font-size:12px;fill:#222}.t{font-size:13px;font-weight:bold;"
             "text-anchor:middle}.yl{text-anchor:end;font-size:11px}.xl{text-anchor:middle;font-size:11px}"
             ".lg{font-size:12px}.g{stroke:#ddd;stroke-width:1}.f{fill:none;stroke:#999}"
             ".l{fill:none;stroke-width:2}")
    with open(path, "w") as f:
        f.write('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">\n'
                % (w, h, w, h))
        f.write("<title>%s</title><style>%s</style>\n" % (esc(title), style))
        f.write('<rect width="100%" height="100%" fill="white"/>\n')
        f.write("\n".join(elements) + "\n</svg>\n")


def chart_metric_vs_k(path, runs, models, proto, split):
    names = [("precision", "Precision@K"), ("recall", "Recall@K"), ("ndcg", "NDCG@K"), ("map", "MAP@K")]
    el = []
    for j, (m, title) in enumerate(names):
        series = []
        for model in models:
            rs = select(runs, "main", model, split)
            if rs:
                series.append((MODELS[model][0], COLOR[model],
                               [(k,) + mean_sd(metric(rs, proto, k, m)) for k in KS]))
        if proto == "paper" and split == "u1":  # the paper's model: K = 10 is all it tabulates
            series.append(("paper's model", "#000000", [(10, PAPER_MODEL[j])]))
        el += panel((j % 2) * 360, 30 + (j // 2) * 250, 360, 250, title, "K", series, xlog=True)
    el.insert(0, '<text x="360" y="20" class="t">ML-100K %s, %s protocol: metric versus K (mean over seeds, '
              'bars +-1 sd)</text>' % (esc(split), proto))
    items = [(MODELS[model][0], COLOR[model], False) for model in models]
    if proto == "paper" and split == "u1":
        items.append(("the paper's model (published, K = 10 only)", "#000000", False))
    el += legend(20, 550, items)
    svg(path, 720, 550 + 18 * ((len(items) + 1) // 2) + 8, el,
        "metric versus K, %s protocol, ML-100K %s, mean over seeds" % (proto, split))


def chart_curves(path, runs, models):
    el, items = [], []
    for j, (field, title, ylab) in enumerate([("loss", "training loss", "loss"),
                                              ("valid_ndcg", "validation NDCG@10 (u1+valid:0.1)", "NDCG@10")]):
        series = []
        for model in models:
            rs = select(runs, "curves", model)
            if rs:
                ps = [(e["epoch"], e.get(field, float("nan"))) for e in rs[0]["epochs"]]
                if field == "loss":  # each kind's loss has its own scale: relative to its first epoch
                    first = ps[0][1] if ps and ps[0][1] else 1.0
                    ps = [(x, y / first) for x, y in ps]
                series.append((MODELS[model][0], COLOR[model], ps))
                if j == 0:
                    items.append((MODELS[model][0], COLOR[model], False))
        el += panel(j * 360, 0, 360, 270, title if field != "loss" else "training loss / first epoch's",
                    "epoch", series, ylabel=ylab)
    el += legend(20, 290, items)
    svg(path, 720, 290 + 18 * ((len(items) + 1) // 2) + 8, el, "training curves")


def chart_ablation(path, runs, models, split):
    """One bar panel per metric, each on its own axis around its values (not from 0: the
    variants differ by a few hundredths, which a 0-0.8 axis hides), with +-1 sd bars and the
    paper's model as a black line."""
    names = [("precision", "P@10"), ("recall", "R@10"), ("ndcg", "NDCG@10"), ("map", "MAP@10")]
    el, W, H, PW = [], 760, 300, 190
    T, B = 40, 30
    vals = {m: {n: mean_sd(metric(select(runs, "ablation", m, split), "paper", 10, n)) for n, _ in names}
            for m in models}
    el.append('<text x="%d" y="18" class="t">ML-100K %s, paper protocol, K = 10, mean +- sd over seeds; black: the '
              'paper\'s model; zoomed axes</text>' % (W // 2, esc(split)))
    for g, (n, label) in enumerate(names):
        x0, L = g * PW, 44
        vs = [vals[m][n] for m in models if not math.isnan(vals[m][n][0])]
        if not vs:
            continue
        lo = min([v - s_ for v, s_ in vs] + [PAPER_MODEL[g]])
        hi = max([v + s_ for v, s_ in vs] + [PAPER_MODEL[g]])
        pad = (hi - lo) * 0.15 or 0.01
        yt = nice_ticks(max(0.0, lo - pad), hi + pad, 4)
        def sy(v, yt=yt):
            return T + (H - T - B) * (1 - (v - yt[0]) / ((yt[-1] - yt[0]) or 1))
        el.append('<text x="%.1f" y="%d" class="t">%s</text>' % (x0 + L + (PW - L) / 2, T - 8, label))
        for t in yt:
            el.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="g"/>' % (x0 + L, x0 + PW - 6, sy(t), sy(t)))
            el.append('<text x="%d" y="%.1f" class="yl">%g</text>' % (x0 + L - 4, sy(t) + 4, t))
        bw = (PW - L - 14) / len(models)
        for i, m in enumerate(models):
            v, s_ = vals[m][n]
            if math.isnan(v):
                continue
            x = x0 + L + 4 + i * bw
            el.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s %.4f</title></rect>'
                      % (x, sy(v), bw - 3, sy(yt[0]) - sy(v), COLOR[m], esc(MODELS[m][0]), label, v))
            el.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#000"/>'
                      % (x + bw / 2 - 1.5, x + bw / 2 - 1.5, sy(v + s_), sy(max(v - s_, yt[0]))))
        el.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#000" stroke-width="2"/>'
                  % (x0 + L, x0 + PW - 6, sy(PAPER_MODEL[g]), sy(PAPER_MODEL[g])))
    items = [(MODELS[m][0], COLOR[m], False) for m in models]
    el += legend(20, H + 10, items, colw=370)
    svg(path, W, H + 10 + 18 * ((len(items) + 1) // 2) + 8, el, "ablation")


# ---------------------------------------------------------------------------------------------
# the report


def git_commit():
    """The short commit of the checkout this script is in, or "unknown"."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip() or "unknown"


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = "%.0f GiB" % (int(f.readline().split()[1]) / 2**20)
    except (OSError, ValueError, IndexError):
        pass
    osname = platform.platform()
    try:
        with open("/etc/debian_version") as f:
            osname = "Debian " + f.read().strip()
    except OSError:
        pass
    return "%s, %d cores (%s), %s RAM, no GPU" % (osname, os.cpu_count() or 0, cpu, mem)


def beats(ours, ref):
    return "**%s**" % ours if ours != "-" and float(ours.split(" ")[0]) > ref else ours


LABEL = {"precision": "P", "recall": "R", "ndcg": "NDCG", "map": "MAP", "hit_rate": "HR", "mrr": "MRR"}


def write_strict_cold(w, runs):
    """The strict cold-start tables: whole items, then whole users, held out of training."""
    cold = select(runs, "cold")
    w("## Strict cold start: new items and new users")
    w("")
    if not cold:
        w("Not in this report (`--skip cold`).")
        w("")
        return
    seeds = sorted({r["seed"] for r in cold})
    made = sorted({r.get("commit", "?") for r in cold})
    w("Runs made at commit %s, seeds %s (each seed its own held-out set). `gatrec train --split SPLIT --seed S "
      "...` then `gatrec eval --model M --protocol standard -k 10,20` (standard protocol: full ranking, "
      "relevant = rating >= 4). Profiles: template ones are written from the data (title, year, genres; a "
      "user's latest liked and disliked training items); LLM ones are the recorded item profiles - users get "
      "template profiles from their training part on these splits, because the recorded user profiles were "
      "written from u1.base and would carry held-out ratings. Embedders: hashed TF-IDF (384 buckets) or LSA "
      "(`gatrec embed --embedder lsa`, 384 dimensions)." % (", ".join(made), ", ".join(map(str, seeds))))
    w("")
    ci = [r for r in cold if r["split"].startswith("cold-items")]
    if ci:
        w("**New items** (`--split %s`: a fifth of the items leave training with all their ratings; the test "
          "part is exactly their ratings). *Among new items* ranks only the held-out items "
          "(`gatrec eval --rank-among cold`); *among all* ranks every item a user has not rated in training. "
          "Popularity has nothing to rank new items by and is left out; EASE, BPR-MF and LightGCN cannot score "
          "an item without training ratings (they rank it last: 0 among all items), and ranking among new items "
          "is refused for them." % ci[0]["split"])
        w("")
        w("| model | n | among new items: NDCG@10 | R@10 | P@10 | among all items: NDCG@10 | R@20 |")
        w("|---|---|---|---|---|---|---|")
        for name in COLD_MODELS:
            rs = select(ci, "cold", name)
            if rs:
                among = [r for r in rs if "standard-among-cold" in r["eval"]]
                w("| %s | %d | %s | %s | %s | %s | %s |" % (
                    MODELS[name][0], len(rs), fmt(metric(among, "standard-among-cold", 10, "ndcg")),
                    fmt(metric(among, "standard-among-cold", 10, "recall")),
                    fmt(metric(among, "standard-among-cold", 10, "precision")), fmt(metric(rs, "standard", 10, "ndcg")),
                    fmt(metric(rs, "standard", 20, "recall"))))
        w("")
    cu = [r for r in cold if r["split"].startswith("cold-users")]
    if cu:
        w("**New users** (`--split %s`: a fifth of the users leave training; each reveals 5 of their ratings, "
          "which `gatrec eval` folds into the model - `gatrec_model_fold_in_revealed()` - before ranking; the "
          "rest of their ratings are the test part). Popularity needs no fold-in; EASE, the content model and "
          "the GAT fold in." % cu[0]["split"])
        w("")
        w("| model | n | NDCG@10 | R@10 | P@10 | NDCG@20 | users folded in |")
        w("|---|---|---|---|---|---|---|")
        for name in COLD_MODELS:
            rs = select(cu, "cold", name)
            if rs:
                w("| %s | %d | %s | %s | %s | %s | %s |" % (
                    MODELS[name][0], len(rs), fmt(metric(rs, "standard", 10, "ndcg")),
                    fmt(metric(rs, "standard", 10, "recall")), fmt(metric(rs, "standard", 10, "precision")),
                    fmt(metric(rs, "standard", 20, "ndcg")),
                    "/".join(sorted({str(r.get("folded_users", "?")) for r in rs}))))
        w("")
    # where the LLM profiles help: the same model and embedder, LLM against template profiles
    said = []
    for part, rows, key in (("new items (ranked among new items)", ci, "standard-among-cold"),
                            ("new users", cu, "standard")):
        for kind in ("content", "gat", "attn"):
            for emb in ("", "-lsa"):
                t = metric(select(rows, "cold", "%s-template%s" % (kind, emb)), key, 10, "ndcg")
                l_ = metric(select(rows, "cold", "%s-llm%s" % (kind, emb)), key, 10, "ndcg")
                if t and l_:
                    (mt, st), (ml, sl) = mean_sd(t), mean_sd(l_)
                    verdict = "help" if ml - mt > max(st, sl) else "hurt" if mt - ml > max(st, sl) else \
                        "make no difference beyond the seed spread"
                    said.append("on %s, for the %s model with the %s embedder, LLM item profiles %s (NDCG@10 %.4f "
                                "against %.4f with templates)" % (part, {"gat": "GAT", "attn": "attn"}.get(kind, "content"),
                                                                  "LSA" if emb else "hashed", verdict, ml, mt))
    if said:
        w("Where the LLM profiles help and where they do not, read off the tables above (a difference counts when "
          "it exceeds the larger of the two standard deviations): " + "; ".join(said) + ".")
        w("")


def write_returning(w, runs):
    """Returning users: the test part without and with the validation ratings folded in."""
    ret = select(runs, "returning")
    if not ret:
        return
    w("## Returning users: new ratings without retraining")
    w("")
    epochs = sorted({last_value(r["train_command"], "--epochs") for r in ret})
    w("attn (the defaults, LLM item profiles through LSA, %s epochs, `--patience 1000`: the validation part "
      "does not stop training) is trained on a split with a validation part, then evaluated on the test part "
      "(standard protocol) as trained, and after `gatrec update --model M --ratings valid.tsv --out M2` "
      "(`gatrec split ... --out DIR` writes the parts) folds the validation ratings in - "
      "`gatrec_model_update_user()` for each known user, no retraining. Runs made at commit %s, seeds %s." % (
          "/".join(epochs), ", ".join(sorted({r.get("commit", "?") for r in ret})),
          ", ".join(map(str, sorted({r["seed"] for r in ret})))))
    w("")
    w("| split | held out | folded in before scoring | n | NDCG@10 without | with | R@10 without | with |")
    w("|---|---|---|---|---|---|---|---|")
    for split, held, folded in RETURNING_SPLITS:
        rs = [r for r in ret if r["split"] == split]
        if rs:
            w("| `%s` | %s | %s | %d | %s | %s | %s | %s |" % (
                split, held, folded, len(rs), fmt(metric(rs, "without", 10, "ndcg")), fmt(metric(rs, "with", 10, "ndcg")),
                fmt(metric(rs, "without", 10, "recall")), fmt(metric(rs, "with", 10, "recall"))))
    w("")


def write_report(a, runs, out_dir):
    R = []
    w = R.append
    def m_row(label, rs, proto, k, names, refs=None):
        cells = []
        for j, n in enumerate(names):
            c = fmt(metric(rs, proto, k, n))
            cells.append(beats(c, refs[j]) if refs else c)
        return "| %s | %d | %s |" % (label, len(rs), " | ".join(cells))

    commit = git_commit()
    run_commits = sorted({r["commit"] for r in runs if r.get("commit")})
    unrecorded = sum(1 for r in runs if not r.get("commit"))
    made_at = "runs made at commit%s %s" % ("s" if len(run_commits) > 1 else "", ", ".join(run_commits)) \
        if run_commits else ""
    if unrecorded:
        made_at += ("%s%d run%s from before runs recorded their commit" %
                    ("; " if made_at else "", unrecorded, "s" if unrecorded > 1 else ""))
    names4 = ["precision", "recall", "ndcg", "map"]
    seeds = sorted({r["seed"] for r in runs if r["group"] == "main"})
    folds = sorted({r["split"] for r in runs if r["group"] == "main"})
    w("# Results")
    w("")
    w("Generated by `make results` (`examples/results/results.py`) on %s at libgatrec commit %s (%s), "
      "%s; the runs took %.0f minutes in all. Folds: %s; seeds: %s. Every number below "
      "is a mean over seeds (and folds where said) ± its standard deviation; `n` counts the runs. "
      "**Bold**: above the paper's model." % (datetime.date.today().isoformat(), commit, made_at, machine(),
                                                sum(r.get("wall_seconds", 0) for r in runs) / 60,
                                                ", ".join(folds), ", ".join(map(str, seeds))))
    w("")
    w("## The targets at a glance")
    w("")
    w("| target | ours | reference | met |")
    w("|---|---|---|---|")
    misses = []
    def target(what, ours_runs, proto, k, name, ref, ref_label):
        xs = metric(ours_runs, proto, k, name)
        if not xs or ref is None:
            return
        m = mean_sd(xs)[0]
        if m <= ref:
            misses.append(what)
        w("| %s | %s | %s %.4f | %s |" % (what, fmt(xs), ref_label, ref, "yes" if m > ref else "**no**"))
    # attn, libgatrec's model (issue 13): the paper's model on all four, and the best baseline
    attn_u1 = select(runs, "main", "attn", "u1")
    for j, n in enumerate(names4):
        target("attn: paper protocol, u1, %s@10" % LABEL[n], attn_u1, "paper", 10, n, PAPER_MODEL[j], "paper's model")
    base_means = [(mean_sd(metric(select(runs, "main", b, "u1"), "standard", 10, "ndcg"))[0], b)
                  for b in ("bpr", "bpr-softmax", "lightgcn", "lightgcn-softmax", "ease")
                  if metric(select(runs, "main", b, "u1"), "standard", 10, "ndcg")]
    if base_means:
        best, bname = max(base_means)
        bsd = mean_sd(metric(select(runs, "main", bname, "u1"), "standard", 10, "ndcg"))[1]
        target("attn: standard protocol, u1, NDCG@10 (level: within one sd %.4f below)" % bsd, attn_u1, "standard",
               10, "ndcg", best - bsd, "the best baseline, %s, %.4f, less one sd:" % (MODELS[bname][0], best))
    if len(folds) > 1:
        for b in ("bpr-softmax", "lightgcn-softmax", "ease"):
            ref = metric(select(runs, "main", b), "standard", 10, "ndcg")
            if ref:
                target("attn: standard protocol, 5 folds, NDCG@10", select(runs, "main", "attn"), "standard", 10, "ndcg",
                       mean_sd(ref)[0], MODELS[b][0] + " (5 folds)")
    target("attn: Microsoft Recommenders' 75/25 implicit split, NDCG@10", select(runs, "implicit", "attn"), "standard",
           10, "ndcg", MSR_TABLE[0][1], "BiVAE")
    ci = [r for r in runs if r["group"] == "cold" and r["split"].startswith("cold-items") and r["model"] == "attn-llm-lsa"]
    ci_xs = [r["eval"]["standard-among-cold"]["10"]["ndcg"] for r in ci if "standard-among-cold" in r["eval"]]
    if ci_xs:
        content = [r["eval"]["standard-among-cold"]["10"]["ndcg"] for r in runs if r["group"] == "cold" and
                   r["split"].startswith("cold-items") and r["model"].startswith("content-") and
                   "standard-among-cold" in r["eval"]]
        m = mean_sd(ci_xs)[0]
        best_content = max(statistics.mean([r["eval"]["standard-among-cold"]["10"]["ndcg"] for r in runs
                                            if r["group"] == "cold" and r["model"] == c and r["split"].startswith("cold-items")
                                            and "standard-among-cold" in r["eval"]])
                           for c in {r["model"] for r in runs if r["group"] == "cold" and r["model"].startswith("content-")}) \
            if content else 0.09
        for ref, label in ((0.09, "the issue's floor"), (best_content, "the best content baseline")):
            if m <= ref:
                misses.append("cold items")
            w("| attn: cold items (`cold-items:0.2`), NDCG@10 among the new items | %s | %s %.4f | %s |" % (
                fmt(ci_xs), label, ref, "yes" if m > ref else "**no**"))
    # new and returning users (issue 22): attn above the paper's GAT and .52 on new users, the item
    # profiles above the shuffled control there, the known users and new items no lower than before
    cu = [r for r in runs if r["group"] == "cold" and r["split"].startswith("cold-users")]
    cu_attn = [r for r in cu if r["model"] == "attn-llm-lsa"]
    target("attn: new users (`cold-users:0.2:5`), NDCG@10", cu_attn, "standard", 10, "ndcg", 0.52, "issue 22's aim")
    gats = [(mean_sd(metric([r for r in cu if r["model"] == g], "standard", 10, "ndcg"))[0], g)
            for g in sorted({r["model"] for r in cu if r["model"].startswith("gat-")})]
    target("attn: new users (`cold-users:0.2:5`), NDCG@10", cu_attn, "standard", 10, "ndcg", BEFORE_ISSUE22["gat_new_users"],
           "the paper's GAT in the report issue 22 was filed against:")
    if gats:
        best, gname = max(gats)
        target("attn: new users (`cold-users:0.2:5`), NDCG@10", cu_attn, "standard", 10, "ndcg", best,
               "the best GAT (%s)" % MODELS[gname][0])
    shuf = {r["seed"]: r["eval"]["standard"]["10"]["ndcg"] for r in cu if r["model"] == "attn-shuffled"}
    diffs = [r["eval"]["standard"]["10"]["ndcg"] - shuf[r["seed"]] for r in cu_attn if r["seed"] in shuf]
    if len(diffs) > 1:
        md, sd = statistics.mean(diffs), statistics.stdev(diffs)
        met = md > sd / math.sqrt(len(diffs))  # above its standard error
        if not met:
            misses.append("new users: item profiles over the shuffled control")
        w("| attn: new users, the LLM item profiles over their rows shuffled between items (paired by seed; higher "
          "on %d of %d) | %+.4f ± %.4f | its standard error %.4f | %s |" % (
              sum(d > 0 for d in diffs), len(diffs), md, sd, sd / math.sqrt(len(diffs)), "yes" if met else "**no**"))
    xs = metric(attn_u1, "standard", 10, "ndcg")
    if len(xs) > 1:
        target("attn: known users, standard protocol, u1, NDCG@10 (no lower than before issue 22, within one sd "
               "%.4f)" % mean_sd(xs)[1], attn_u1, "standard", 10, "ndcg", BEFORE_ISSUE22["known_users"] - mean_sd(xs)[1],
               "before issue 22, %.4f, less one sd:" % BEFORE_ISSUE22["known_users"])
    if ci_xs:
        m = mean_sd(ci_xs)[0]
        before = BEFORE_ISSUE22["new_items"]
        if m < before:
            misses.append("cold items against before")
        w("| attn: cold items, NDCG@10 among the new items (no lower than before issue 22) | %s | before issue 22 "
          "%.4f | %s |" % (fmt(ci_xs), before, "yes" if m >= before else "**no**"))
    for split, _, _ in RETURNING_SPLITS:
        rs = [r for r in runs if r["group"] == "returning" and r["split"] == split]
        if rs:
            target("attn: returning users (`%s`), NDCG@10 with the newer ratings folded in by `gatrec update`" % split,
                   rs, "with", 10, "ndcg", mean_sd(metric(rs, "without", 10, "ndcg"))[0], "the same models without:")
    # the paper's network as reproduced (issues 4 and 5)
    ours_u1 = select(runs, "main", "gat-llm", "u1")
    for j, n in enumerate(names4):
        target("GAT: paper protocol, u1, %s@10" % LABEL[n], ours_u1, "paper", 10, n, PAPER_MODEL[j], "paper's model")
    ours_all = select(runs, "main", "gat-llm")
    if len(folds) > 1:
        for j, n in enumerate(names4):
            target("GAT: paper protocol, 5 folds, %s@10" % LABEL[n], ours_all, "paper", 10, n, PAPER_MODEL[j],
                   "paper's model on u1 (it reports no other fold: indicative only)")
    for base in ("bpr", "bpr-softmax", "lightgcn", "lightgcn-softmax", "ease"):
        for k in (10, 20):
            ref = metric(select(runs, "main", base, "u1"), "standard", k, "ndcg")
            if ref:
                target("GAT: standard protocol, u1, NDCG@%d" % k, ours_u1, "standard", k, "ndcg", mean_sd(ref)[0],
                       MODELS[base][0])
    imp = select(runs, "implicit", "gat-llm")
    for j, n in enumerate(["ndcg", "precision", "recall"]):
        target("GAT: Microsoft Recommenders' 75/25 implicit split, %s@10" % LABEL[n], imp, "standard", 10, n,
               MSR_TABLE[0][1 + j], "BiVAE")
    if misses:
        w("")
        w("%d of these targets are not met. docs/model.md lists the searches behind both models on a validation "
          "tenth of u1 (`--split u1+valid:0.1`; the paper's protocol through `gatrec eval --part valid`): for the "
          "paper's GAT none lifted its full ranking past BPR-MF's (the paper protocol's recall is that same "
          "ranking's recall, docs/evaluation.md); attn is the redesign." % len(misses))
    w("")
    w("How each model is trained (defaults of `gatrec train` unless said; docs/model.md has the searches "
      "behind them):")
    w("")
    for name in MAIN_MODELS + ["gat-template", "gat-llm-nocos"] + [m for m in ATTN_ABLATION_MODELS if m != "attn"]:
        label, targs, feat = MODELS[name]
        extra = ""
        if feat == "llm":
            extra = (" + `--features` from the recorded LLM profiles (`%s` for items, title and genres for the 91 "
                     "items without one; `%s` for users on u1, where they were written from u1.base; template "
                     "user profiles from the training part on every other split, which the recorded ones would "
                     "leak test ratings into), embedded by `gatrec embed` (hashed TF-IDF, 384-d)" % (LLM_ITEMS, LLM_USERS))
        elif feat == "template":
            extra = " + `--features` from template profiles (`gatrec profiles generate` without an LLM) embedded the same way"
        elif feat and feat.startswith("llm-lsa"):
            extra = (" + `--features` from the same LLM profiles embedded by `gatrec embed --embedder lsa` (384-d)%s"
                     % ("; then each item's row given to another item (a fixed permutation)" if feat.endswith("shuffled") else ""))
        elif feat == "template-lsa":
            extra = " + `--features` from template profiles embedded by `gatrec embed --embedder lsa`"
        w("- **%s**: `gatrec train %s`%s" % (label, " ".join(targs), extra))
    w("")
    w("Protocols (docs/evaluation.md): **paper** = the authors' `RecEvaluator` (top-K filtered to the user's "
      "test items, their uneven user sets; relevant = rating ≥ 4); **standard** = full ranking over unseen "
      "items, denominators K, users with a relevant test item. Training stops on the training loss "
      "(the test fold is never looked at while training).")
    w("")
    for k in (10, 20):
        w("## Paper protocol, ML-100K fold u1, K = %d" % k)
        w("")
        w("| model | n | P@%d | R@%d | NDCG@%d | MAP@%d |" % (k, k, k, k))
        w("|---|---|---|---|---|---|")
        if k == 10:
            for row in PAPER_TABLE:
                w("| %s (published) | - | %s |" % (row[0], " | ".join("%.4f" % v for v in row[1:])))
        for name in MAIN_MODELS:
            rs = select(runs, "main", name, "u1")
            if rs:
                w(m_row(MODELS[name][0], rs, "paper", k, names4, PAPER_MODEL if k == 10 else None))
        w("")
    if k == 20:
        w("The paper gives its numbers at K = 10 only (its Figure 2 plots other K without a table), "
          "so K = 20 is shown for our models without a published reference.")
        w("")
    w("![metric versus K, paper protocol](results-k-paper.svg)")
    w("")
    w("![metric versus K, standard protocol](results-k-standard.svg)")
    w("")
    if len(folds) > 1:
        w("## 5-fold average (u1..u5)")
        w("")
        w("Mean ± standard deviation over %d folds × %d seeds." % (len(folds), len(seeds)))
        w("")
        for proto, k, names, heads in (("paper", 10, names4, "P@10 | R@10 | NDCG@10 | MAP@10"),
                                       ("paper", 20, names4, "P@20 | R@20 | NDCG@20 | MAP@20"),
                                       ("standard", 10, names4, "P@10 | R@10 | NDCG@10 | MAP@10"),
                                       ("standard", 20, names4, "P@20 | R@20 | NDCG@20 | MAP@20")):
            w("%s protocol, K = %d:" % (proto.capitalize(), k))
            w("")
            w("| model | n | %s |" % heads)
            w("|---|---|---|---|---|---|")
            for name in MAIN_MODELS:
                rs = select(runs, "main", name)
                if rs:
                    w(m_row(MODELS[name][0], rs, proto, k, names, PAPER_MODEL if proto == "paper" and k == 10 else None))
            w("")
        w("Per fold (NDCG@10, paper protocol, mean over seeds):")
        w("")
        w("| model | %s |" % " | ".join(folds))
        w("|---|%s" % ("---|" * len(folds)))
        for name in MAIN_MODELS:
            w("| %s | %s |" % (MODELS[name][0], " | ".join(fmt(metric(select(runs, "main", name, f), "paper", 10, "ndcg"))
                                                          for f in folds)))
        w("")
    w("## Standard protocol, ML-100K fold u1")
    w("")
    for k in (10, 20):
        w("| model | n | P@%d | R@%d | NDCG@%d | HR@%d | MAP@%d | MRR@%d |" % ((k,) * 6))
        w("|---|---|---|---|---|---|---|---|")
        for name in MAIN_MODELS:
            rs = select(runs, "main", name, "u1")
            if rs:
                w(m_row(MODELS[name][0], rs, "standard", k, ["precision", "recall", "ndcg", "hit_rate", "map", "mrr"]))
        w("")
    w("The paper's model rescored under this protocol on its own lists ([paper.md](paper.md)): P@10 0.358, R@10 0.215, "
      "NDCG@10 0.425, HR@10 0.897.")
    w("")
    w("## Ablations (fold u1)")
    w("")
    w("| variant | n | P@10 | R@10 | NDCG@10 | MAP@10 | standard NDCG@10 |")
    w("|---|---|---|---|---|---|---|")
    for name in ABLATION_MODELS:
        rs = select(runs, "ablation", name, "u1")
        if rs:
            w(m_row(MODELS[name][0], rs, "paper", 10, names4, PAPER_MODEL)[:-2] + " | %s |"
              % fmt(metric(rs, "standard", 10, "ndcg")))
    w("")
    w("![ablation bars](results-ablation.svg)")
    w("")
    w("### attn's ablations (fold u1)")
    w("")
    w("Each part of libgatrec's model removed in turn, the text control (every item given another item's text), "
      "the profile source and embedder, and the loss. The learned attention's distance from uniform is the mean "
      "total variation of each node's attention from `1 / degree` (`attention_tv`, 0 = LightGCN's weights).")
    w("")
    w("| variant | n | P@10 | R@10 | NDCG@10 | MAP@10 | standard NDCG@10 | attention_tv |")
    w("|---|---|---|---|---|---|---|---|")
    for name in ATTN_ABLATION_MODELS:
        rs = select(runs, "ablation", name, "u1")
        if rs:
            tv = [float(r["summary"]["attention_tv"]) for r in rs if "attention_tv" in r["summary"]]
            w(m_row(MODELS[name][0], rs, "paper", 10, names4, PAPER_MODEL)[:-2] + " | %s | %s |"
              % (fmt(metric(rs, "standard", 10, "ndcg")), fmt(tv) if tv else "-"))
    w("")
    w("## Training curves")
    w("")
    w("Seed 1 on `u1+valid:0.1` (10% of each user's training ratings held out for validation; early "
      "stopping on validation NDCG@10 standard protocol, the curves below). Each loss is divided by its "
      "first epoch's (BPR-MF and LightGCN have no cosine term, and mini-batches).")
    w("")
    w("![training curves](results-curves.svg)")
    w("")
    for name in CURVE_MODELS:
        rs = select(runs, "curves", name)
        if rs:
            best = max(rs[0]["epochs"], key=lambda e: e.get("valid_ndcg", 0))
            w("- %s: best validation NDCG@10 %.4f at epoch %d of %d (%.1f s)" % (
                MODELS[name][0], best.get("valid_ndcg", float("nan")), best["epoch"], len(rs[0]["epochs"]),
                rs[0]["summary"].get("seconds", float("nan"))))
    w("")
    w("## Cold start (fold u1)")
    w("")
    cold = select(runs, "main", None, "u1")
    n_std = {r["eval"]["standard-cold"]["users"] for r in cold if "standard-cold" in r["eval"]}
    n_pap = {r["eval"]["paper-cold"]["users"] for r in cold if "paper-cold" in r["eval"]}
    w("Users with at most %d training ratings in u1.base: %s of them are evaluated under the paper protocol and "
      "%s under the standard one (those with a relevant test item), out of the 459 users of the u1 test fold. A small slice: a "
      "difference of .02 between two models here is within the seed spread." % (
          COLD_MAX, "/".join(map(str, sorted(n_pap))) or "-", "/".join(map(str, sorted(n_std))) or "-"))
    w("")
    w("| model | n | paper P@10 | paper R@10 | paper NDCG@10 | standard R@10 | standard NDCG@10 |")
    w("|---|---|---|---|---|---|---|")
    for name in MAIN_MODELS:
        rs = [r for r in select(runs, "main", name, "u1") if "paper-cold" in r["eval"]]
        if rs:
            w("| %s | %d | %s |" % (MODELS[name][0], len(rs), " | ".join(
                fmt([r["eval"][p][n] for r in rs]) for p, n in (("paper-cold", "precision"), ("paper-cold", "recall"),
                                                                   ("paper-cold", "ndcg"), ("standard-cold", "recall"),
                                                                   ("standard-cold", "ndcg")))))
    w("")
    write_strict_cold(w, runs)
    write_returning(w, runs)
    imp = select(runs, "implicit")
    if imp:
        w("## Microsoft Recommenders' split: per-user 75/25, all ratings implicit")
        w("")
        w("`--split random:0.25` (per user, seeded) and `--liked 1` (every rating a positive), evaluated with "
          "`--protocol standard --threshold 1 -k 10`. Their figures come from one split of their own; ours are "
          "the mean over %d seeds, each its own split." % len({r["seed"] for r in imp}))
        w("")
        w("| model | n | NDCG@10 | P@10 | R@10 |")
        w("|---|---|---|---|---|")
        for row in MSR_TABLE:
            w("| Microsoft Recommenders %s (published) | - | %.4f | %.4f | %.4f |" % row)
        for name in IMPLICIT_MODELS:
            rs = select(runs, "implicit", name)
            if rs:
                w("| %s | %d | %s |" % (MODELS[name][0], len(rs), " | ".join(
                    beats(fmt(metric(rs, "standard", 10, n)), MSR_TABLE[0][1 + j])
                    for j, n in enumerate(["ndcg", "precision", "recall"]))))
        w("")
        w("Bold here: above BiVAE's figure.")
        w("")
    w("## ML-1M")
    w("")
    m1 = select(runs, "ml1m")
    if m1:
        w("`--dataset ml-1m --split %s` (per user, seeded; ML-1M has no official folds), %d seeds. The "
          "paper's ML-1M figures (P@10 0.8452, R@10 0.1626, NDCG@10 0.4631, MAP@10 0.1956, paper protocol) "
          "come from its own split, so they are a landmark rather than a like-for-like reference. The GAT "
          "runs on random features: there are no recorded LLM item profiles for ML-1M." % (
              ML1M_SPLIT, len({x["seed"] for x in m1})))
        w("")
        w("| model | n | paper P@10 | paper R@10 | paper NDCG@10 | paper MAP@10 | standard NDCG@10 |")
        w("|---|---|---|---|---|---|---|")
        for name in ML1M_MODELS:
            rs = select(runs, "ml1m", name)
            if rs:
                w("| %s | %d | %s | %s |" % (MODELS[name][0], len(rs), " | ".join(
                    fmt(metric(rs, "paper", 10, n)) for n in names4), fmt(metric(rs, "standard", 10, "ndcg"))))
    elif a.ml1m_present:
        w("ML-1M ratings were found, but this report was written with `--skip ml1m` or before its runs.")
    else:
        w("Not run: `ml-1m/ratings.dat` is not in the data directory on this machine (only the user and "
          "movie files are), so there is nothing to train on; `make results` runs it where the file is present "
          "(`gatrec data fetch ml-1m` downloads it from GroupLens with its checksum).")
    w("")
    w("## LLM reranking")
    w("")
    rr = select(runs, "rerank")
    if rr:
        w("The GAT's top 20 of every user (LLM-profile features, u1, seed %d) reordered by the LLM at `%s` "
          "(`gatrec recommend --all --csv --rerank S --candidates 20`, the authors' rank-dependent fusion), "
          "then evaluated as lists (`gatrec eval --recs`)." % (rr[0]["seed"], rr[0].get("llm", "?")))
        w("")
        w("| strategy | paper P@10 | paper R@10 | paper NDCG@10 | paper MAP@10 | standard NDCG@10 |")
        w("|---|---|---|---|---|---|")
        base = [x for x in select(runs, "main", "gat-llm", "u1") if x["seed"] == rr[0]["seed"]]
        for x in base + rr:
            w("| %s | %s | %s |" % (x.get("strategy", "none (the GAT's order)"), " | ".join(
                beats(fmt(metric([x], "paper", 10, n)), PAPER_MODEL[j]) for j, n in enumerate(names4)),
                fmt(metric([x], "standard", 10, "ndcg"))))
    else:
        w("Not run: no LLM endpoint is reachable from this machine (`GATREC_LLM_BASE_URL` unset), and no "
          "recorded reranking exists. With an endpoint set, `make results` reranks every user's top 20 from "
          "the GAT with each of the four strategies (`gatrec recommend --model M --all --csv --rerank "
          "list|pairwise|batch|score`) and adds a table here; the strategies themselves are tested against the "
          "scripted server (docs/rerank.md).")
    w("")
    w("## Commands")
    w("")
    w("```sh")
    w("make results                                   # the matrix above (cached runs are reused)")
    w("make results RESULTS_ARGS='--folds u1 --seeds 1'   # a quick slice")
    w("```")
    w("")
    w("Each run, for example:")
    w("")
    w("```sh")
    ex = select(runs, "main", "gat-llm", "u1") or runs
    if ex:
        w(ex[0]["train_command"].replace(os.path.abspath(a.work), "$WORK"))
        w("gatrec eval --model MODEL --protocol paper -k 5,10,20,50 --json")
        w("gatrec eval --model MODEL --protocol standard -k 5,10,20,50 --json")
        w("gatrec eval --model MODEL --protocol paper -k 10 --max-train %d --json   # cold start" % COLD_MAX)
    w("```")
    w("")
    w("The features for `--features` come from `gatrec profiles import|generate` and `gatrec embed` "
      "(docs/embedder.md); every run's full command and per-epoch log is kept in `%s/runs/*.json`." %
      os.path.relpath(a.work))
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write("\n".join(R) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gatrec", default="build/gatrec")
    p.add_argument("--data", default=os.environ.get("GATREC_DATA_DIR", "../shared/data"))
    p.add_argument("--work", default="build/results")
    p.add_argument("--out", default="docs")
    p.add_argument("--folds", default="u1,u2,u3,u4,u5")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--epochs", type=int, default=0, help="cap every training (0: each model's default)")
    p.add_argument("--cold-seeds", default="1,2,3,4,5", help="seeds of the strict cold-start splits")
    p.add_argument("--cold-features", default=",".join(COLD_FEATURES),
                   help="the profile/embedder variants of the cold-start tables (a quick run: one)")
    p.add_argument("--skip", default="", help="groups to leave out: ablation,curves,implicit,cold,returning,rerank,ml1m")
    p.add_argument("--report-only", action="store_true", help="write the report from the cached runs")
    p.add_argument("--jobs", type=int, default=1, help="runs side by side, one thread each (the runs are the same; "
                   "on 2 cores, 2 jobs of one thread do about 1.4x the work of one job of two)")
    a = p.parse_args()
    if not os.path.exists(os.path.join(a.data, "ml-100k", "u1.base")):
        sys.exit("results: no ML-100K in %s (set GATREC_DATA_DIR or --data)" % a.data)
    a.ml1m_present = os.path.exists(os.path.join(a.data, "ml-1m", "ratings.dat"))
    folds, seeds, skip = a.folds.split(","), [int(s) for s in a.seeds.split(",")], set(filter(None, a.skip.split(",")))
    cold_seeds = [int(s) for s in a.cold_seeds.split(",")]
    cold_features = set(filter(None, a.cold_features.split(",")))
    if not cold_features <= set(COLD_FEATURES):
        sys.exit("results: --cold-features takes some of %s" % ",".join(COLD_FEATURES))
    a.cold_seeds_list = cold_seeds
    r = Runner(a)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs))
    pending = []
    if a.jobs > 1:  # queue the runs in the order below; each is a subprocess, so threads suffice
        real_train_eval, real_returning = r.train_eval, r.returning
        r.train_eval = lambda *args, **kw: pending.append(pool.submit(real_train_eval, *args, **kw))
        r.returning = lambda *args: pending.append(pool.submit(real_returning, *args))
    if not a.report_only:
        llm = bool(os.environ.get("GATREC_LLM_BASE_URL")) and "rerank" not in skip
        if llm and a.jobs > 1:
            sys.exit("results: --jobs runs side by side, but reranking needs its model first: use --jobs 1 "
                     "(or --skip rerank)")
        if "cold" not in skip:
            for seed in cold_seeds:
                for split in COLD_SPLITS:
                    for model in COLD_MODELS:
                        if model == "pop" and split.startswith("cold-items"):
                            continue  # popularity has nothing to rank new items by
                        if MODELS[model][2] and MODELS[model][2].replace("-shuffled", "") not in cold_features:
                            continue
                        r.train_eval("cold", model, split, seed)  # every seed: the held-out part differs

        for seed in seeds:  # seed-major: a partial matrix still has every part for the first seeds
            for fold in folds:
                for model in MAIN_MODELS:
                    if model not in DETERMINISTIC or seed == seeds[0]:
                        keep = llm and model == "gat-llm" and fold == "u1" and seed == seeds[0]
                        base = r.train_eval("main", model, fold, seed, keep=keep)
                        for strategy in ("list", "pairwise", "batch", "score") if keep else ():
                            r.rerank(base, strategy)
            if "ablation" not in skip:
                for model in ABLATION_MODELS + ATTN_ABLATION_MODELS:
                    if model not in MAIN_MODELS:  # the others are the main runs on u1
                        r.train_eval("ablation", model, "u1", seed)
            if "curves" not in skip and seed == seeds[0]:
                for model in CURVE_MODELS:
                    r.train_eval("curves", model, "u1+valid:0.1", seed)
            if "implicit" not in skip:
                for model in IMPLICIT_MODELS:
                    if model not in DETERMINISTIC or seed == seeds[0]:
                        r.train_eval("implicit", model, "random:0.25", seed, implicit=True)
            if "returning" not in skip:
                for split, _, _ in RETURNING_SPLITS:
                    r.returning(split, seed)
        if a.ml1m_present and "ml1m" not in skip:
            for seed in seeds:
                for model in ML1M_MODELS:
                    if model != "pop" or seed == seeds[0]:
                        r.train_eval("ml1m", model, ML1M_SPLIT, seed, dataset="ml-1m")
    for f in pending:
        f.result()  # a failed run stops the matrix with its message
    pool.shutdown()
    runs = []
    for fn in sorted(os.listdir(os.path.join(r.work, "runs"))):
        if fn.endswith(".json"):
            with open(os.path.join(r.work, "runs", fn)) as f:
                rec = json.load(f)
            if rec["group"] == "cold":
                if rec["seed"] in cold_seeds:
                    runs.append(rec)
            elif rec["seed"] in seeds and (rec["group"] != "main" or rec["split"] in folds):
                runs.append(rec)
    # Ablations reuse the main runs of the same model, fold and seed.
    for rec in list(runs):
        if rec["group"] == "main" and rec["split"] == "u1" and rec["model"] in ABLATION_MODELS + ATTN_ABLATION_MODELS and \
                not any(x["group"] == "ablation" and x["model"] == rec["model"] and x["seed"] == rec["seed"]
                        for x in runs):
            runs.append(dict(rec, group="ablation"))
    os.makedirs(a.out, exist_ok=True)
    chart_metric_vs_k(os.path.join(a.out, "results-k-paper.svg"), runs, MAIN_MODELS, "paper", "u1")
    chart_metric_vs_k(os.path.join(a.out, "results-k-standard.svg"), runs, MAIN_MODELS, "standard", "u1")
    chart_curves(os.path.join(a.out, "results-curves.svg"), runs, CURVE_MODELS)
    chart_ablation(os.path.join(a.out, "results-ablation.svg"), runs, ABLATION_MODELS, "u1")
    write_report(a, runs, a.out)
    log("results: %d runs -> %s" % (len(runs), os.path.join(a.out, "results.md")))


if __name__ == "__main__":
    main()
