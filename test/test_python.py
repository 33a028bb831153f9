"""The ctypes binding against the built library: the hand-worked example of check_eval.c,
a popularity model end to end, and errors surfacing as gatrec.Error."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "python"))
import gatrec  # noqa: E402

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail))


def close(a, b):
    return abs(a - b) < 1e-6


ds = gatrec.Dataset.from_arrays([1, 1, 1, 1, 1, 2, 2, 2, 3, 3], [10, 11, 12, 13, 14, 12, 10, 15, 10, 11],
                                [5, 3, 5, 4, 2, 4, 1, 5, 4, 2])
split = gatrec.Split.from_parts(ds, [0, 0, 2, 2, 2, 0, 2, 2, 0, 2])
recs = gatrec.RecList.new(3)
recs.set(0, [5, 2, 4, 3])
recs.set(1, [1, 5, 3])
recs.set(2, [1])
check("reclist round trip", recs.get(1) == [1, 5, 3], recs.get(1))
paper = gatrec.evaluate(ds, split, recs, protocol="paper", k=3)
std = gatrec.evaluate(ds, split, recs, protocol="standard", k=3)
check("paper users", paper["users"] == 3, paper)
check("paper precision", close(paper["precision"], 0.5), paper)
check("paper ndcg", close(paper["ndcg"], 0.806574), paper)
check("paper map", close(paper["map"], 0.75), paper)
check("standard precision", close(std["precision"], 1 / 3), std)
check("standard ndcg", close(std["ndcg"], 0.508891), std)
check("standard recall", close(std["recall"], 0.75), std)
cold = gatrec.evaluate(ds, split, recs, protocol="standard", k=3, max_train=1)
check("cold-start slice", cold["users"] == 1 and close(cold["ndcg"], 0.630930), cold)
# the same ratings held out as validation instead of test score the same through part="valid"
vsplit = gatrec.Split.from_parts(ds, [0, 0, 1, 1, 1, 0, 1, 1, 0, 1])
check("validation part", gatrec.evaluate(ds, vsplit, recs, protocol="paper", k=3, part="valid") == paper)
try:
    gatrec.evaluate(ds, vsplit, recs, protocol="paper", k=3)
    check("no test part is an error", False)
except gatrec.Error as e:
    check("no test part is an error", "no test ratings" in str(e), str(e))

graph = gatrec.Graph(ds, split)
check("graph edges", graph.num_edges == 4, graph.num_edges)
gat = gatrec.Model.train(graph, kind="gat", epochs=5, layers="4x2,4x1", dim=8, threads=1)
check("gat trains", len(gat.recommend(1, k=2)) == 2, gat.recommend(1, k=2))
check("gat explains", gat.explain(1, 11).startswith("because you liked"), gat.explain(1, 11))
check("gat folds in", gat.add_user(99, {10: 5.0, 12: 4.0}) == 3)
check("folded-in user recommends", len(gat.recommend(99, k=2)) == 2, gat.recommend(99, k=2))
try:  # a GAT on its own random features takes no features: a stray row is refused, not read past
    gat.add_user(98, {10: 5.0}, features=[0.0])
    check("stray features raise", False)
except gatrec.Error as e:
    check("stray features raise EINVAL", e.status == -3 and "without input features" in str(e), str(e))
try:
    gatrec.Model.train(graph, kind="gat", layers="4y2")
    check("bad layers raise", False)
except gatrec.Error as e:
    check("bad layers raise EINVAL", e.status == -3 and "UNITSxHEADS" in str(e), str(e))
model = gatrec.Model.train(graph, kind="pop")
check("pop explains", gatrec.Model.explain(model, 2, 10).startswith("popular"), model.explain(2, 10))
top = model.recommend(2, k=2)  # user 2 trained on item 12; item 10 is the most popular left
check("recommend", [i for i, _ in top] == [10, 11], top)
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "m.gatrec")
    model.save(path)
    again = gatrec.Model.load(path)
    check("save/load", again.recommend(2, k=2) == top)
    m = gatrec.evaluate(ds, split, model.recommend_all(k=3), protocol="standard", k=3)
    check("evaluate model lists", m["users"] == 2, m)
    try:
        gatrec.Model.load(os.path.join(d, "missing"))
        check("missing model raises", False)
    except gatrec.Error as e:
        check("missing model raises ENOENT", e.status == -4 and "missing" in str(e), str(e))
try:
    gatrec.Dataset.from_arrays([1, 1], [2, 2], [5, 4])
    check("duplicate raises", False)
except gatrec.Error as e:
    check("duplicate raises EDUPLICATE", e.status == -10, str(e))
try:
    gatrec.Dataset.from_arrays([1, 2, 3], [7], [5, 4, 3])
    check("arrays of different lengths raise", False)
except ValueError as e:
    check("arrays of different lengths raise ValueError", "3 users but 1 items" in str(e), str(e))
# an imported dataset with string ids: saved, loaded, keys both ways
with tempfile.TemporaryDirectory() as d:
    ev = os.path.join(d, "ev.csv")
    with open(ev, "w", encoding="utf-8") as f:
        f.write('user,item\nalice,"sku, 1"\nalice,b\nbob,b\n')
    ds2 = gatrec.Dataset.from_arrays([1, 1, 2], [5, 6, 5])
    check("numeric dataset has no keys", ds2.user_key(0) is None)
    ds2.save(os.path.join(d, "num"))
    check("saved and loaded", gatrec.Dataset.load(os.path.join(d, "num")).num_ratings == 3)
    out = os.path.join(d, "shop")
    import subprocess
    cli = os.environ.get("GATREC_CLI")
    if cli:
        subprocess.run([cli, "data", "import", "--events", ev, "--out", out], check=True, stdout=subprocess.DEVNULL)
        kd = gatrec.Dataset.load(out)
        check("string keys", kd.user_key(kd.find_user("bob")) == "bob" and kd.item_key(kd.find_item("sku, 1")) == "sku, 1")
        try:
            kd.find_user("carol")
            check("unknown key raises", False)
        except gatrec.Error as e:
            check("unknown key raises ENOTFOUND", e.status == -12, str(e))
# string ids from memory (gatrec_dataset_from_key_arrays): the same dataset as the import of the
# same log, a model that takes and gives the keys, a new user under a key
sd = gatrec.Dataset.from_arrays(["alice", "alice", "bob", "bob", "carol", "carol", "dan"],
                                ["sku, 1", "b", "b", "c", "sku, 1", "c", "b"], weights=[1, 2, 3, 1, 2, 2, 1],
                                timestamps=[5, 6, 7, 8, 9, 10, 11])
check("keyed arrays", sd.num_ratings == 7 and sd.user_key(0) == "alice" and sd.item_key(sd.find_item("sku, 1")) == "sku, 1")
km = gatrec.Model.train(gatrec.Graph(sd), kind="ease", lambda_=1.0)
top = km.recommend("dan", k=2)
check("a keyed model speaks keys", [type(i) for i, _ in top] == [str, str] and "b" not in dict(top), top)
check("a keyed user's ratings", km.user_ratings("alice") == {"sku, 1": 1.0, "b": 2.0}, km.user_ratings("alice"))
check("exclude by key", "c" not in dict(km.recommend("dan", k=2, exclude=["c", "nope"])))
new_u = km.add_user("erin", {"c": 5.0})
check("a new user under a key", km.recommend("erin", k=1)[0][0] in ("b", "sku, 1") and new_u == 4, km.recommend("erin", k=1))
for bad, what in ((lambda: gatrec.Dataset.from_arrays(["a", 2], ["x", "y"]), "not a string like the first"),
                  (lambda: gatrec.Dataset.from_arrays(["a"], [1]), "give both as strings"),
                  (lambda: gatrec.Dataset.from_arrays([1], [2], weights=[3]), "go with string ids"),
                  (lambda: gatrec.Dataset.from_arrays(["a"], ["x"], [5], weights=[1]), "not both"),
                  (lambda: gatrec.Dataset.from_arrays(["a"], ["x"], duplicates="first"), "duplicates is one of")):
    try:
        bad()
        check("refused: " + what, False)
    except ValueError as e:
        check("refused: " + what, what in str(e), str(e))
try:
    gatrec.Dataset.from_arrays(["a", "b"], ["x", "y"], [5, 9])
    check("a rating out of range raises", False)
except gatrec.Error as e:
    check("a rating out of range names the event", "arrays: event #2: rating 9 outside 1..5" in str(e), str(e))
try:
    import numpy
except ImportError:
    numpy = None
if numpy is not None:  # numpy columns: strings, datetime64 times, integer ids without a copy
    nd = gatrec.Dataset.from_arrays(numpy.array(["u1", "u1", "u2"]), numpy.array(["i1", "i2", "i1"]),
                                    numpy.array([5, 3, 4], dtype=numpy.float64), rating_range=(1, 5),
                                    timestamps=numpy.array(["2024-05-01T12:00:00", "2024-05-02", "2024-05-03"],
                                                           dtype="datetime64[s]"))
    check("numpy string columns", nd.num_users == 2 and nd.rating(0)[2] == 5.0 and nd.user_key(1) == "u2")
    nn = gatrec.Dataset.from_arrays(numpy.arange(1, 4), numpy.array([7, 8, 7]), numpy.array([5.0, 4.0, 3.0]))
    check("numpy numeric columns", nn.num_ratings == 3 and nn.user_key(0) is None)
    try:
        gatrec.Dataset.from_arrays(numpy.array([1.5]), numpy.array([2]))
        check("fractional ids refused", False)
    except ValueError as e:
        check("fractional ids refused", "whole numbers" in str(e), str(e))
try:
    import pandas
except ImportError:
    pandas = None
if pandas is not None:  # what an application holds: a DataFrame with string ids and times
    df = pandas.DataFrame({"customer": ["c-1", "c-1", "c-2"], "sku": ["s, 1", "s-2", "s, 1"], "plays": [2, 1, 4],
                           "when": pandas.to_datetime(["2024-05-01", "2024-05-02T10:00Z", "2024-05-03"], utc=True)})
    pd_ds = gatrec.Dataset.from_arrays(df["customer"], df["sku"], weights=df["plays"], timestamps=df["when"])
    check("pandas columns", pd_ds.num_ratings == 3 and pd_ds.item_key(0) == "s, 1" and pd_ds.rating(1)[2] == 1.0)
check("version", gatrec.version_string().count(".") == 2, gatrec.version_string())

# the anchors: EASE, the softmax loss, a cold-users split folded in, ranking among candidates
cds = gatrec.Dataset.from_arrays([u for u in range(1, 9) for _ in range(4)],
                                 [10 + (u * 3 + j) % 7 for u in range(1, 9) for j in range(4)],
                                 [5.0, 4.0, 5.0, 2.0] * 8)
cold = gatrec.Split.parse(cds, "cold-users:0.25:2", seed=3)
check("cold-users split reveals", cold.count(4) == 4 and cold.count(2) == 4, (cold.count(4), cold.count(2)))
ease = gatrec.Model.train(gatrec.Graph(cds, cold), kind="ease", lambda_=2.0)
check("ease folds in revealed users", ease.fold_in_revealed(cds, cold) == 2)
# one fold-in: the revealed ratings folded in by the split and the same ratings given to add_user
# (and to recommend --new-user "" in the CLI: the same C call) give the same lists
crow = [[1.0, 0.0, 0.1] if k % 2 else [0.0, 1.0, 0.1] for k in range(8 + 7)]
revealed = {}
for r in range(cds.num_ratings):
    if cold.part(r) == 4:
        u, i, stars = cds.rating(r)
        revealed.setdefault(u, {})[i] = stars
for kind in ("attn", "ease"):
    opts = dict(features=crow, epochs=3, dim=8, attention_dim=4) if kind == "attn" else dict(lambda_=2.0)
    with tempfile.TemporaryDirectory() as td:
        a = gatrec.Model.train(gatrec.Graph(cds, cold), kind=kind, **opts)
        a.save(os.path.join(td, "m"))
        b = gatrec.Model.load(os.path.join(td, "m"))
    a.fold_in_revealed(cds, cold)
    for u, rated in revealed.items():
        b.add_user(1000 + u, rated)
        check("%s: fold_in_revealed and add_user agree for user %d" % (kind, u),
              [i for i, _ in a.recommend(u, k=3)] == [i for i, _ in b.recommend(1000 + u, k=3)],
              (a.recommend(u, k=3), b.recommend(1000 + u, k=3)))
# returning users: new ratings without retraining
ease.update_user(1, {13: 5.0})
check("update_user holds the rating", ease.user_ratings(1).get(13) == 5.0, ease.user_ratings(1))
check("update_user excludes it", all(i != 13 for i, _ in ease.recommend(1, k=7)), ease.recommend(1, k=7))
# one request's rules
plain = [i for i, _ in ease.recommend(2, k=7)]
check("exclude drops, and k still come back", [i for i, _ in ease.recommend(2, k=2, exclude=[plain[0], 777])] ==
      plain[1:3], (plain, ease.recommend(2, k=2, exclude=[plain[0]])))
check("only ranks those alone", [i for i, _ in ease.recommend(2, k=5, only=[plain[2], plain[0]])] ==
      [plain[0], plain[2]], ease.recommend(2, k=5, only=[plain[2], plain[0]]))
lists = ease.recommend_all(k=3, among=[0, 1])
check("ranked among candidates", all(set(lists.get(u)) <= {0, 1} for u in range(8)))
sm = gatrec.Model.train(gatrec.Graph(cds), kind="bpr", loss="softmax", temperature=0.3, epochs=3, dim=8)
check("softmax trains", len(sm.recommend(1, k=2)) == 2)
lazy = gatrec.Model.train(gatrec.Graph(cds), kind="bpr", optimizer="lazy", epochs=3, dim=8, batch_size=4)
check("lazy optimizer trains", len(lazy.recommend(1, k=2)) == 2)
try:
    gatrec.Model.train(gatrec.Graph(cds), kind="lightgcn", optimizer="lazy", epochs=1)
    check("lazy refused for lightgcn", False)
except gatrec.Error as e:
    check("lazy refused for lightgcn", "row-sparse" in str(e), str(e))
# attn: ID + text, a new item from its text alone, the ablations' switches
rows = [[1.0, 0.0, 0.1] if k % 2 else [0.0, 1.0, 0.1] for k in range(8 + 7)]  # users, then items
attn = gatrec.Model.train(gatrec.Graph(cds), kind="attn", features=rows, epochs=5, dim=8, attention_dim=4)
check("attn trains", len(attn.recommend(1, k=2)) == 2)
new = attn.add_item(99, [1.0, 0.0, 0.1])
check("attn folds in an item from text", new == 7 and any(i == 99 for i, _ in attn.recommend(1, k=8)), new)
uni = gatrec.Model.train(gatrec.Graph(cds), kind="attn", features=rows, epochs=2, dim=8, inputs="text",
                         attn_flags=gatrec.ATTN_UNIFORM, id_dropout=0.0, align=0.5)
check("attn text only, uniform", len(uni.recommend(2, k=3)) == 3)
samp = gatrec.Model.train(gatrec.Graph(cds), kind="attn", features=rows, epochs=3, dim=8, fanout=2, negatives=4,
                          optimizer="lazy")
check("attn with neighbour sampling", len(samp.recommend(1, k=2)) == 2)
try:
    attn.add_item(98, [1.0])
    check("short item features raise", False)
except gatrec.Error as e:
    check("short item features raise EINVAL", e.status == -3, str(e))
try:
    gatrec.Model.train(gatrec.Graph(cds), kind="ease", lambda_=-1.0)
    check("bad lambda raises", False)
except gatrec.Error as e:
    check("bad lambda raises EINVAL", e.status == -3, str(e))

# the checks a caller meets (issue 24, item 23): k as the CLI takes it, the protocol by name
for bad in (0, -1, 2.5):
    try:
        ease.recommend(1, k=bad)
        check("k=%r refused" % (bad,), False)
    except ValueError as e:
        check("k=%r refused" % (bad,), "whole number from 1" in str(e), str(e))
m = gatrec.evaluate(cds, cold, ease.recommend_all(k=3), protocol="paper", k=3)
check("metrics name their protocol", m["protocol"] == "paper", m)
# profiles and embedders from Python: templates, LSA features, a model trained on them
pg = gatrec.Graph(cds)
prof = gatrec.Profiles.new()
check("template profiles", prof.fill_templates(cds, pg) == 8 + 7 and prof.count(gatrec.NODE_ITEM) == 7)
prof.set(gatrec.NODE_USER, 1, "likes quiet dramas")
check("profile text", prof.get(gatrec.NODE_USER, 1) == "likes quiet dramas" and prof.get(gatrec.NODE_USER, 99) is None)
emb = gatrec.Embedder.lsa(dim=8)
rows = gatrec.features_from_profiles(pg, prof, emb)
check("features from profiles", len(rows) == 8 + 7 and all(len(r) == emb.dim for r in rows), (len(rows), emb.dim))
check("an embedded text", len(emb.embed(["a quiet drama"])[0]) == emb.dim)
with tempfile.TemporaryDirectory() as td:
    prof.save(os.path.join(td, "p.jsonl"))
    emb.save(os.path.join(td, "e.emb"))
    back = gatrec.Profiles.load(os.path.join(td, "p.jsonl"))
    check("profiles saved and loaded", back.get(gatrec.NODE_USER, 1) == "likes quiet dramas")
    check("embedder saved and loaded", gatrec.Embedder.load(os.path.join(td, "e.emb")).embed(["a quiet drama"]) ==
          emb.embed(["a quiet drama"]))
tm = gatrec.Model.train(pg, kind="attn", features=rows, epochs=2, dim=8, attention_dim=4)
check("attn on Python-made features", len(tm.recommend(1, k=2)) == 2)

print("python binding: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
