"""ctypes binding of libgatrec's public API: standard library only, no build step.

    import gatrec
    ds = gatrec.Dataset.from_arrays(users, items, ratings)
    split = gatrec.Split.random(ds, test=0.2, seed=1)
    model = gatrec.Model.train(gatrec.Graph(ds, split), kind="pop")
    recs = model.recommend_all(k=10)
    print(gatrec.evaluate(ds, split, recs, protocol="paper", k=10))

Text features: Profiles (templates, or a JSON Lines file from `gatrec profiles`), an Embedder
(LSA or hashed, or a saved one) and features_from_profiles(graph, profiles, embedder) give the
rows Model.train(..., features=rows) takes. New and returning users: Model.add_user,
Model.update_user, Model.user_ratings, recommend(user, k, exclude=, only=).

The library is found through $GATREC_LIBRARY, else the system's libgatrec.so.0.
Every failing call raises gatrec.Error with the library's status and message; a k that is not a
whole number from 1, or an unknown protocol or part, raises ValueError before the call.
"""
import ctypes
import ctypes.util
import os

_here = os.path.dirname(os.path.abspath(__file__))
_path = os.environ.get("GATREC_LIBRARY") or ctypes.util.find_library("gatrec") or "libgatrec.so.0"
_lib = ctypes.CDLL(_path)

c_int, c_size, c_i32, c_i64, c_u64, c_f32, c_f64, c_char_p, c_void_p = (
    ctypes.c_int, ctypes.c_size_t, ctypes.c_int32, ctypes.c_int64, ctypes.c_uint64,
    ctypes.c_float, ctypes.c_double, ctypes.c_char_p, ctypes.c_void_p)
P = ctypes.POINTER

PART_TRAIN, PART_VALID, PART_TEST, PART_NONE = 0, 1, 2, 3
PROTOCOL_STANDARD, PROTOCOL_PAPER = 1, 2
MODEL_POP = 1


class EvalOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("protocol", c_int), ("k", c_size),
                ("relevance_threshold", c_f32), ("part", c_int),
                ("min_train_ratings", c_size), ("max_train_ratings", c_size)]  # version 2


class ImportOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("delimiter", ctypes.c_char), ("user_column", c_char_p),
                ("item_column", c_char_p), ("rating_column", c_char_p), ("weight_column", c_char_p),
                ("time_column", c_char_p), ("rating_min", c_f64), ("rating_max", c_f64),
                ("liked_threshold", c_f64), ("duplicates", c_int), ("items_path", c_char_p),
                ("item_id_column", c_char_p), ("title_column", c_char_p), ("category_column", c_char_p),
                ("users_path", c_char_p), ("user_id_column", c_char_p), ("domain", c_char_p),
                ("name", c_char_p)]  # version 1


DUPLICATES = {None: 0, "sum": 1, "max": 2, "last": 3, "error": 4}


class Metrics(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("protocol", c_int), ("k", c_size), ("users", c_size),
                ("precision", c_f64), ("recall", c_f64), ("ndcg", c_f64), ("map", c_f64),
                ("hit_rate", c_f64), ("mrr", c_f64), ("coverage", c_f64), ("novelty", c_f64)]


class ModelOptions(ctypes.Structure):
    """gatrec_model_options version 7 (version 1 is its first four fields)."""
    _fields_ = [("version", ctypes.c_uint), ("kind", c_int), ("seed", c_u64), ("threads", c_int),
                ("epochs", c_int), ("dim", c_size), ("layers", c_char_p), ("propagation", c_int),
                ("lr", c_f32), ("weight_decay", c_f32), ("cos_weight", c_f32), ("dropout", c_f32),
                ("negatives", c_int), ("negative_sampling", c_int), ("batch_size", c_size), ("patience", c_int),
                ("lr_patience", c_int), ("lr_factor", c_f32), ("eval_k", c_size), ("validation", c_void_p),
                ("features", P(c_f32)), ("feature_dim", c_size), ("freeze_features", c_int), ("gat_flags", c_int),
                ("attention_slope", c_f32), ("activation_slope", c_f32), ("kernels", c_char_p),
                ("on_epoch", c_void_p), ("payload", c_void_p), ("feature_weight_decay", c_f32),
                ("lambda_", c_f32), ("loss", c_int), ("temperature", c_f32), ("uniformity", c_f32),
                ("inputs", c_int), ("attn_flags", c_int), ("attention_dim", c_size), ("id_dropout", c_f32),
                ("align", c_f32), ("optimizer", c_int), ("ranks", c_int), ("rank", c_int),
                ("allreduce", c_void_p), ("allreduce_payload", c_void_p), ("fanout", c_size),
                ("dislike_weight", c_f32), ("new_user_share", c_f32), ("new_user_ratings", c_size),
                ("popularity_prior", c_f32)]

class RequestOptions(ctypes.Structure):
    """gatrec_request_options (version 1)."""
    _fields_ = [("version", ctypes.c_uint), ("exclude", P(c_i32)), ("nexclude", c_size), ("only", P(c_i32)),
                ("nonly", c_size)]


LOSSES = {"bpr": 0, "softmax": 1}
OPTIMIZERS = {"auto": 0, "dense": 1, "lazy": 2}  # gatrec_optimizer
INPUTS = {"id+text": 1, "id": 2, "text": 3}  # gatrec_inputs
ATTN_UNIFORM, ATTN_NO_EDGE_ATTR = 1, 2


def _check_k(k):
    """K as the C API and the command line take it: a whole number from 1."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError("k must be a whole number from 1, not %r" % (k,))
    return k


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_strerror = _fn("gatrec_strerror", c_char_p, c_int)
_last_error = _fn("gatrec_last_error", c_char_p)
version_string = lambda: _fn("gatrec_version_string", c_char_p)().decode()


class Error(Exception):
    """A libgatrec failure: .status is the gatrec_status code."""

    def __init__(self, status):
        self.status = status
        super().__init__("%s (%s)" % (_last_error().decode(), _strerror(status).decode()))


def _check(rc):
    if rc < 0:
        raise Error(rc)
    return rc


def _c(name, *argtypes):
    f = _fn(name, c_int, *argtypes)
    return lambda *a: _check(f(*a))


_ds_from_arrays = _c("gatrec_dataset_from_arrays", c_size, P(c_i64), P(c_i64), P(c_f32), P(c_i64), P(c_void_p))
_ds_from_key_arrays = _c("gatrec_dataset_from_key_arrays", c_size, P(c_char_p), P(c_char_p), P(c_f32), P(c_i64),
                         P(ImportOptions), P(c_void_p))
_import_options_init = _c("gatrec_import_options_init", P(ImportOptions), ctypes.c_uint)
_ds_load_ml = _c("gatrec_dataset_load_movielens", c_char_p, c_int, P(c_void_p))
_ds_free = _fn("gatrec_dataset_free", None, c_void_p)
_ds_load = _c("gatrec_dataset_load", c_char_p, P(c_void_p))
_ds_save = _c("gatrec_dataset_save", c_void_p, c_char_p)
_ds_user_key = _fn("gatrec_dataset_user_key", c_char_p, c_void_p, c_i32)
_ds_item_key = _fn("gatrec_dataset_item_key", c_char_p, c_void_p, c_i32)
_ds_find_user = _c("gatrec_dataset_find_user", c_void_p, c_char_p, P(c_i32))
_ds_find_item = _c("gatrec_dataset_find_item", c_void_p, c_char_p, P(c_i32))
_ds_counts = {k: _fn("gatrec_dataset_num_" + k, c_size, c_void_p) for k in ("users", "items", "ratings")}
_ds_user_index = _c("gatrec_dataset_user_index", c_void_p, c_i64, P(c_i32))
_ds_item_index = _c("gatrec_dataset_item_index", c_void_p, c_i64, P(c_i32))
_ds_item_id = _fn("gatrec_dataset_item_id", c_i64, c_void_p, c_i32)
_ds_user_id = _fn("gatrec_dataset_user_id", c_i64, c_void_p, c_i32)
_ds_rating = _c("gatrec_dataset_rating", c_void_p, c_size, P(c_i32), P(c_i32), P(c_f32), P(c_i64))
_ds_item_title = _fn("gatrec_dataset_item_title", c_char_p, c_void_p, c_i32)
_split_random = _c("gatrec_split_random", c_void_p, c_f64, c_f64, c_u64, P(c_void_p))
_split_parse = _c("gatrec_split_parse", c_void_p, c_char_p, c_u64, P(c_void_p))
_split_from_parts = _c("gatrec_split_from_parts", c_void_p, P(ctypes.c_uint8), P(c_void_p))
_split_count = _fn("gatrec_split_count", c_size, c_void_p, c_int)
_split_part = _fn("gatrec_split_part", c_int, c_void_p, c_size)
_split_free = _fn("gatrec_split_free", None, c_void_p)
_graph_new = _c("gatrec_graph_new", c_void_p, c_void_p, c_void_p, P(c_void_p))
_graph_free = _fn("gatrec_graph_free", None, c_void_p)
_graph_edges = _fn("gatrec_graph_num_edges", c_size, c_void_p)
_graph_users = _fn("gatrec_graph_num_users", c_size, c_void_p)
_graph_items = _fn("gatrec_graph_num_items", c_size, c_void_p)
_model_kind_from_name = _fn("gatrec_model_kind_from_name", c_int, c_char_p)
_model_train = _c("gatrec_model_train", c_void_p, P(ModelOptions), P(c_void_p))
_model_free = _fn("gatrec_model_free", None, c_void_p)
_model_recommend = _c("gatrec_model_recommend", c_void_p, c_i32, c_size, P(c_i32), P(c_f32), P(c_size))
_model_recommend_request = _c("gatrec_model_recommend_request", c_void_p, c_i32, c_size, P(RequestOptions), P(c_i32),
                              P(c_f32), P(c_size))
_model_recommend_all = _c("gatrec_model_recommend_all", c_void_p, c_size, P(c_void_p))
_model_recommend_among = _c("gatrec_model_recommend_all_among", c_void_p, c_size, P(c_i32), c_size, P(c_void_p))
_model_fold_in_revealed = _c("gatrec_model_fold_in_revealed", c_void_p, c_void_p, c_void_p, P(c_size))
_model_user_index = _c("gatrec_model_user_index", c_void_p, c_i64, P(c_i32))
_model_item_id = _fn("gatrec_model_item_id", c_i64, c_void_p, c_i32)
_model_save = _c("gatrec_model_save", c_void_p, c_char_p)
_model_item_index = _c("gatrec_model_item_index", c_void_p, c_i64, P(c_i32))
_model_find_user = _c("gatrec_model_find_user", c_void_p, c_char_p, P(c_i32))
_model_find_item = _c("gatrec_model_find_item", c_void_p, c_char_p, P(c_i32))
_model_item_key = _fn("gatrec_model_item_key", c_char_p, c_void_p, c_i32)
_model_user_key = _fn("gatrec_model_user_key", c_char_p, c_void_p, c_i32)
_model_set_user_key = _c("gatrec_model_set_user_key", c_void_p, c_i32, c_char_p)
_model_user_id = _fn("gatrec_model_user_id", c_i64, c_void_p, c_i32)
_model_num_users = _fn("gatrec_model_num_users", c_size, c_void_p)
_model_explain = _c("gatrec_model_explain", c_void_p, c_void_p, c_i32, c_i32, P(c_void_p))
_model_add_user = _c("gatrec_model_add_user_checked", c_void_p, c_i64, P(c_i32), P(c_f32), c_size, P(c_f32), c_size,
                     P(c_i32))
_model_update_user = _c("gatrec_model_update_user", c_void_p, c_i32, P(c_i32), P(c_f32), c_size)
_model_user_ratings = _c("gatrec_model_user_ratings", c_void_p, c_i32, P(c_i32), P(c_f32), c_size, P(c_size))
_model_add_item = _c("gatrec_model_add_item_checked", c_void_p, c_i64, P(c_f32), c_size, P(c_i32))
_string_free = _fn("gatrec_string_free", None, c_void_p)
_model_load = _c("gatrec_model_load", c_char_p, P(c_void_p))
_reclist_new = _c("gatrec_reclist_new", c_size, P(c_void_p))
_reclist_set = _c("gatrec_reclist_set", c_void_p, c_i32, P(c_i32), c_size)
_reclist_get = _c("gatrec_reclist_get", c_void_p, c_i32, P(P(c_i32)), P(c_size))
_reclist_load_csv = _c("gatrec_reclist_load_csv", c_void_p, c_char_p, P(c_void_p))
_reclist_free = _fn("gatrec_reclist_free", None, c_void_p)
_evaluate = _c("gatrec_evaluate", c_void_p, c_void_p, c_void_p, P(EvalOptions), P(Metrics))


class _Handle:
    _free = None

    def __init__(self, ptr, *keep):
        self._ptr = ptr
        self._keep = keep  # handles this one borrows from stay alive as long as it does

    def close(self):
        if self._ptr:
            type(self)._free(self._ptr)
            self._ptr = None

    def __del__(self):
        self.close()

    @property
    def _as_parameter_(self):
        if not self._ptr:
            raise ValueError("%s is closed" % type(self).__name__)
        return self._ptr


def _keys(xs):
    """The ids as a list of bytes when they are strings, else None (numbers)."""
    kind = getattr(getattr(xs, "dtype", None), "kind", None)
    if kind is not None and kind not in "OUS":
        return None  # a numeric numpy array or pandas column
    xs = xs.tolist() if hasattr(xs, "tolist") else list(xs)
    if not any(isinstance(x, (str, bytes)) for x in xs[:1]):
        return None
    out = []
    for j, x in enumerate(xs):
        if isinstance(x, str):
            out.append(x.encode())
        elif isinstance(x, bytes):
            out.append(x)
        else:
            raise ValueError("from_arrays: id #%d is %r, not a string like the first" % (j + 1, x))
    return out


_NUMPY_TYPES = {c_i64: "int64", c_f32: "float32"}


def _carray(t, xs, keep):
    """xs as a C array of t (numpy arrays and pandas columns without a copy when they can);
    datetime64 columns as Unix seconds. `keep` holds what must outlive the call."""
    if xs is None:
        return None
    if hasattr(xs, "__array__") and not isinstance(xs, (list, tuple)):
        import numpy
        dt = getattr(xs, "dt", None)  # a pandas column of times with a zone: in UTC, without it
        if dt is not None and getattr(dt, "tz", None) is not None:
            xs = dt.tz_convert(None)
        a = numpy.asarray(xs)
        if a.dtype.kind == "M":
            a = a.astype("datetime64[s]").astype("int64")
        if t is c_i64 and a.dtype.kind == "f" and not (numpy.floor(a) == a).all():
            raise ValueError("from_arrays: ids and timestamps are whole numbers (a column of floats with "
                             "fractions or NaN was given)")
        a = numpy.ascontiguousarray(a, dtype=_NUMPY_TYPES[t])
        keep.append(a)
        return a.ctypes.data_as(P(t))
    return (t * len(xs))(*xs)


class Dataset(_Handle):
    _free = staticmethod(_ds_free)

    @classmethod
    def from_arrays(cls, users, items, ratings=None, timestamps=None, *, weights=None, rating_range=(1, 5),
                    liked=None, duplicates=None, domain=None, name=None):
        """A dataset from columns of equal length: lists, numpy arrays or pandas Series.

        Numeric ids (non-negative integers) keep their numbers. String ids (str or bytes, numpy
        'U'/'S' or object arrays, pandas string columns) are kept byte for byte as the keys every
        output gives back, as `gatrec data import` does: `ratings` are then explicit stars in
        `rating_range` (liked from `liked`, else three quarters of the way up); without them the
        events are implicit, each 1 or its `weights` (counts); `duplicates` ("sum", "max",
        "last", "error") combines a repeated pair (default: last for ratings, sum for events).
        `timestamps`: Unix seconds, or a numpy/pandas datetime64 column."""
        n = len(users)
        for what, xs in (("items", items), ("ratings", ratings), ("timestamps", timestamps), ("weights", weights)):
            if xs is not None and len(xs) != n:  # ctypes would pad the short one with zeros
                raise ValueError("from_arrays: %d users but %d %s: the arrays must have one entry per rating"
                                 % (n, len(xs), what))
        if ratings is not None and weights is not None:
            raise ValueError("from_arrays: ratings (explicit) or weights (implicit), not both")
        if duplicates not in DUPLICATES:
            raise ValueError("from_arrays: duplicates is one of 'sum', 'max', 'last', 'error', not %r" % (duplicates,))
        ukeys, ikeys = _keys(users), _keys(items)
        keep = []
        out = c_void_p()
        if ukeys is None and ikeys is None:
            if weights is not None or liked is not None or duplicates or domain or name or \
                    tuple(rating_range) != (1, 5):
                raise ValueError("from_arrays: weights, rating_range, liked, duplicates, domain and name go with "
                                 "string ids (numeric ids: a rating per pair, as gatrec_dataset_from_arrays)")
            _ds_from_arrays(n, _carray(c_i64, users, keep), _carray(c_i64, items, keep),
                            _carray(c_f32, ratings, keep), _carray(c_i64, timestamps, keep), ctypes.byref(out))
            return cls(out)
        if ukeys is None or ikeys is None:
            raise ValueError("from_arrays: the %s ids are strings but the %s ids are not: give both as strings"
                             % (("user", "item") if ukeys is not None else ("item", "user")))
        o = ImportOptions()
        _import_options_init(ctypes.byref(o), 1)
        if ratings is not None:
            o.rating_column = b"rating"
            o.rating_min, o.rating_max = float(rating_range[0]), float(rating_range[1])
            if liked is not None:
                o.liked_threshold = float(liked)
        o.duplicates = DUPLICATES[duplicates]
        o.domain = domain.encode() if domain else None
        o.name = name.encode() if name else None
        _ds_from_key_arrays(n, (c_char_p * n)(*ukeys), (c_char_p * n)(*ikeys),
                            _carray(c_f32, ratings if ratings is not None else weights, keep),
                            _carray(c_i64, timestamps, keep), ctypes.byref(o), ctypes.byref(out))
        return cls(out)

    @classmethod
    def load(cls, directory):
        """A dataset directory written by `gatrec data import` (or Dataset.save)."""
        out = c_void_p()
        _ds_load(os.fsencode(directory), ctypes.byref(out))
        return cls(out)

    def save(self, directory):
        _ds_save(self, os.fsencode(directory))

    def user_key(self, index):
        """The user's string id (an imported dataset), or None."""
        k = _ds_user_key(self, index)
        return k.decode() if k is not None else None

    def item_key(self, index):
        k = _ds_item_key(self, index)
        return k.decode() if k is not None else None

    def find_user(self, key):
        """The index of the user whose string id is `key` (gatrec.Error, status -12, when none)."""
        i = c_i32()
        _ds_find_user(self, key.encode(), ctypes.byref(i))
        return i.value

    def find_item(self, key):
        i = c_i32()
        _ds_find_item(self, key.encode(), ctypes.byref(i))
        return i.value

    @classmethod
    def load_movielens(cls, directory):
        out = c_void_p()
        _ds_load_ml(directory.encode(), 0, ctypes.byref(out))
        return cls(out)

    num_users = property(lambda self: _ds_counts["users"](self))
    num_items = property(lambda self: _ds_counts["items"](self))
    num_ratings = property(lambda self: _ds_counts["ratings"](self))

    def user_index(self, user_id):
        i = c_i32()
        _ds_user_index(self, user_id, ctypes.byref(i))
        return i.value

    def item_index(self, item_id):
        i = c_i32()
        _ds_item_index(self, item_id, ctypes.byref(i))
        return i.value

    def item_id(self, index):
        return _ds_item_id(self, index)

    def rating(self, r):
        """Rating number r as (user_id, item_id, stars)."""
        u, i, v = c_i32(), c_i32(), c_f32()
        _ds_rating(self, r, ctypes.byref(u), ctypes.byref(i), ctypes.byref(v), None)
        return _ds_user_id(self, u.value), _ds_item_id(self, i.value), v.value

    def item_title(self, index):
        t = _ds_item_title(self, index)
        return t.decode() if t is not None else None


class Split(_Handle):
    _free = staticmethod(_split_free)

    @classmethod
    def random(cls, ds, test=0.2, valid=0.0, seed=1):
        out = c_void_p()
        _split_random(ds, test, valid, seed, ctypes.byref(out))
        return cls(out, ds)

    @classmethod
    def parse(cls, ds, spec, seed=1):
        out = c_void_p()
        _split_parse(ds, spec.encode(), seed, ctypes.byref(out))
        return cls(out, ds)

    @classmethod
    def from_parts(cls, ds, parts):
        out = c_void_p()
        _split_from_parts(ds, (ctypes.c_uint8 * len(parts))(*parts), ctypes.byref(out))
        return cls(out, ds)

    def count(self, part):
        return _split_count(self, part)

    def part(self, r):
        """The part (0 train, 1 valid, 2 test, 4 reveal) rating number r is in."""
        return _split_part(self, r)


class Graph(_Handle):
    _free = staticmethod(_graph_free)

    def __init__(self, ds, split=None):
        out = c_void_p()
        _graph_new(ds, split, None, ctypes.byref(out))
        super().__init__(out)

    num_edges = property(lambda self: _graph_edges(self))
    num_users = property(lambda self: _graph_users(self))
    num_items = property(lambda self: _graph_items(self))


class RecList(_Handle):
    _free = staticmethod(_reclist_free)

    @classmethod
    def new(cls, num_users):
        out = c_void_p()
        _reclist_new(num_users, ctypes.byref(out))
        return cls(out)

    @classmethod
    def load_csv(cls, ds, path):
        out = c_void_p()
        _reclist_load_csv(ds, path.encode(), ctypes.byref(out))
        return cls(out)

    def set(self, user, items):
        _reclist_set(self, user, (c_i32 * len(items))(*items), len(items))

    def get(self, user):
        p, n = P(c_i32)(), c_size()
        _reclist_get(self, user, ctypes.byref(p), ctypes.byref(n))
        return [p[j] for j in range(n.value)]


class Model(_Handle):
    _free = staticmethod(_model_free)

    @classmethod
    def train(cls, graph, kind="pop", seed=1, threads=0, features=None, **options):
        """Train `kind` ("pop", "bpr", "lightgcn", "gat", "ease", "content", "attn"). `features`:
        a list of rows (users then items, the graph's order) for the GAT, attn and the content
        model; other options are gatrec_model_options fields (epochs=, layers="64x4,64x4,64x1",
        lr=, cos_weight=, dropout=, lambda_= for EASE, loss="softmax", temperature=; for attn
        inputs="id+text"|"id"|"text", attn_flags=ATTN_UNIFORM, id_dropout=, align=, propagation=,
        dislike_weight=, new_user_share=, popularity_prior= (0: the default; negative: none),
        new_user_ratings=,
        optimizer="auto"|"dense"|"lazy" for BPR-MF, ...)."""
        k = _check(_model_kind_from_name(kind.encode()))
        opts = ModelOptions(7, k, seed, threads, 0, 0, None, 0, 0.0, -1.0, -1.0, -1.0)
        opts.feature_weight_decay = -1.0
        opts.loss = -1  # GATREC_LOSS_DEFAULT: the kind's own
        opts.id_dropout = -1.0
        for name, value in options.items():
            if name == "loss":
                value = LOSSES[value]
            if name == "inputs":
                value = INPUTS[value]
            if name == "optimizer":
                value = OPTIMIZERS[value]
            setattr(opts, name, value.encode() if isinstance(value, str) else value)
        if features is not None:
            flat = [float(x) for row in features for x in row]
            opts.features = (c_f32 * len(flat))(*flat)
            opts.feature_dim = len(features[0])
        out = c_void_p()
        _model_train(graph, ctypes.byref(opts), ctypes.byref(out))
        return cls(out)

    def explain(self, user_id, item_id, dataset=None):
        """Why `item_id` suits `user_id`: evidence and shared genres (or popularity)."""
        u, i, text = c_i32(), c_i32(), c_void_p()
        _model_user_index(self, user_id, ctypes.byref(u))
        _model_item_index(self, item_id, ctypes.byref(i))
        _model_explain(self, dataset, u, i, ctypes.byref(text))
        try:
            return ctypes.string_at(text).decode()
        finally:
            _string_free(text)

    def add_user(self, user_id, ratings, features=None):
        """Fold a new user into the model from {item_id: stars} (and a feature row, or None: the
        mean user's, as fold_in_revealed); no retraining. A string user_id becomes the new user's
        key (a model with string ids); a number, its id. Returns its model index."""
        idx = self._item_indices(ratings)
        n = len(idx)
        f = (c_f32 * len(features))(*features) if features is not None else None
        out = c_i32()
        key = user_id.encode() if isinstance(user_id, str) else None
        if key is not None:  # a fresh number under the key, as `gatrec recommend --new-user` does
            user_id = 1 + max((_model_user_id(self, u) for u in range(_model_num_users(self))), default=-1)
        _model_add_user(self, user_id, (c_i32 * n)(*idx), (c_f32 * n)(*ratings.values()), n, f,
                        len(features) if features is not None else 0, ctypes.byref(out))
        if key is not None:
            _model_set_user_key(self, out.value, key)
        return out.value

    def _user(self, user_id):
        """The model index of a user: by string key or by numeric id."""
        return self._index(user_id, _model_find_user, _model_user_index)

    def _item(self, item_id):
        return self._index(item_id, _model_find_item, _model_item_index)

    def _index(self, node_id, by_key, by_id):
        out = c_i32()
        if isinstance(node_id, str):
            by_key(self, node_id.encode(), ctypes.byref(out))
        else:
            by_id(self, node_id, ctypes.byref(out))
        return out.value

    def item_name(self, index):
        """How outputs name the item at a model index: its string key, else its numeric id."""
        k = _model_item_key(self, index)
        return k.decode() if k is not None else _model_item_id(self, index)

    def _item_indices(self, ratings):
        return [self._item(item_id) for item_id in ratings]

    def update_user(self, user_id, ratings):
        """A known user's new ratings {item_id: stars} join the model without retraining (an item
        rated again takes its new rating); their list is computed again and excludes them."""
        u = self._user(user_id)
        idx = self._item_indices(ratings)
        n = len(idx)
        _model_update_user(self, u, (c_i32 * n)(*idx), (c_f32 * n)(*ratings.values()), n)

    def user_ratings(self, user_id):
        """{item_id: stars} the model holds of a user (training, folded in or updated)."""
        u, n = self._user(user_id), c_size()
        _model_user_ratings(self, u, None, None, 0, ctypes.byref(n))
        items, stars = (c_i32 * n.value)(), (c_f32 * n.value)()
        _model_user_ratings(self, u, items, stars, n.value, ctypes.byref(n))
        return {self.item_name(items[j]): stars[j] for j in range(n.value)}

    @classmethod
    def load(cls, path):
        out = c_void_p()
        _model_load(path.encode(), ctypes.byref(out))
        return cls(out)

    def save(self, path):
        _model_save(self, path.encode())

    def add_item(self, item_id, features=None):
        """Fold a new item into a GAT, attn or content model from its feature row (its text
        embedded like the training items'); it has no ratings. Returns its model index."""
        f = (c_f32 * len(features))(*features) if features is not None else None
        out = c_i32()
        _model_add_item(self, item_id, f, len(features) if features is not None else 0, ctypes.byref(out))
        return out.value

    def recommend(self, user_id, k=10, exclude=None, only=None):
        """[(item_id, score), ...] best first, for a user id (or string key: a model with string ids,
        whose items are then named by their keys): k of them whenever k items are eligible. exclude=[item ids] never returns those this time (ids the model does not
        know are skipped); only=[item ids] ranks those alone."""
        n = c_size()
        items, scores = (c_i32 * _check_k(k))(), (c_f32 * k)()
        u = self._user(user_id)
        rules = RequestOptions(1, None, 0, None, 0)
        if exclude is not None:
            ex = []
            for item_id in exclude:
                try:
                    ex.append(self._item(item_id))
                except Error:
                    pass
            rules.exclude, rules.nexclude = (c_i32 * len(ex))(*ex), len(ex)
        if only is not None:
            on = self._item_indices(dict.fromkeys(only))
            rules.only, rules.nonly = (c_i32 * len(on))(*on), len(on)
        _model_recommend_request(self, u, k, ctypes.byref(rules), items, scores, ctypes.byref(n))
        return [(self.item_name(items[j]), scores[j]) for j in range(n.value)]

    def recommend_all(self, k=10, among=None):
        """Every user's top k; among=[item indices] ranks only those (e.g. a cold-items split's)."""
        out = c_void_p()
        _check_k(k)
        if among is None:
            _model_recommend_all(self, k, ctypes.byref(out))
        else:
            _model_recommend_among(self, k, (c_i32 * len(among))(*among), len(among), ctypes.byref(out))
        return RecList(out)

    def fold_in_revealed(self, ds, split):
        """Fold in the cold users of a "cold-users:R[:N]" split from their revealed ratings; returns how many."""
        n = c_size()
        _model_fold_in_revealed(self, ds, split, ctypes.byref(n))
        return n.value


_prof_new = _c("gatrec_profiles_new", P(c_void_p))
_prof_free = _fn("gatrec_profiles_free", None, c_void_p)
_prof_load = _c("gatrec_profiles_load", c_char_p, P(c_void_p))
_prof_save = _c("gatrec_profiles_save", c_void_p, c_char_p)
_prof_set = _c("gatrec_profiles_set", c_void_p, c_int, c_i64, c_char_p)
_prof_get = _fn("gatrec_profiles_get", c_char_p, c_void_p, c_int, c_i64)
_prof_count = _fn("gatrec_profiles_count", c_size, c_void_p, c_int)
_prof_templates = _c("gatrec_profiles_fill_templates", c_void_p, c_void_p, c_void_p, P(c_size))
_emb_lsa = _c("gatrec_embedder_new_lsa", c_void_p, P(c_void_p))
_emb_hashed = _c("gatrec_embedder_new_hashed", c_void_p, P(c_void_p))
_emb_load = _c("gatrec_embedder_load", c_char_p, P(c_void_p))
_emb_save = _c("gatrec_embedder_save", c_void_p, c_char_p)
_emb_free = _fn("gatrec_embedder_free", None, c_void_p)
_emb_dim = _fn("gatrec_embedder_dim", c_size, c_void_p)
_emb_fit = _c("gatrec_embedder_fit", c_void_p, P(c_char_p), c_size)
_emb_embed = _c("gatrec_embedder_embed", c_void_p, P(c_char_p), c_size, P(c_f32))
_feat_from_profiles = _c("gatrec_features_from_profiles", c_void_p, c_void_p, c_void_p, P(P(c_f32)), P(c_size))
_feat_free = _fn("gatrec_features_free", None, P(c_f32))
NODE_USER, NODE_ITEM = 0, 1  # gatrec_node_kind


class EmbedderOptions(ctypes.Structure):
    """gatrec_embedder_options (version 1)."""
    _fields_ = [("version", ctypes.c_uint), ("dim", c_size), ("max_ngram", c_int), ("sublinear_tf", c_int)]


class Profiles(_Handle):
    """User and item texts (LLM-written, imported or templates), by node kind and dataset id."""
    _free = staticmethod(_prof_free)

    @classmethod
    def new(cls):
        out = c_void_p()
        _prof_new(ctypes.byref(out))
        return cls(out)

    @classmethod
    def load(cls, path):
        """A JSON Lines file from `gatrec profiles` or save()."""
        out = c_void_p()
        _prof_load(path.encode(), ctypes.byref(out))
        return cls(out)

    def save(self, path):
        _prof_save(self, path.encode())

    def fill_templates(self, ds, graph):
        """Template profiles for every node of the graph that has none; returns how many."""
        n = c_size()
        _prof_templates(self, ds, graph, ctypes.byref(n))
        return n.value

    def set(self, kind, node_id, text):
        _prof_set(self, kind, node_id, text.encode())

    def get(self, kind, node_id):
        t = _prof_get(self, kind, node_id)
        return t.decode() if t is not None else None

    def count(self, kind):
        return _prof_count(self, kind)


class Embedder(_Handle):
    """Texts -> feature rows: the offline hashed or LSA embedder (fitted on the profiles), or a saved one."""
    _free = staticmethod(_emb_free)

    @classmethod
    def lsa(cls, dim=0):
        return cls._new(_emb_lsa, dim)

    @classmethod
    def hashed(cls, dim=0):
        return cls._new(_emb_hashed, dim)

    @classmethod
    def _new(cls, ctor, dim):
        out = c_void_p()
        opts = EmbedderOptions(1, dim or 384, 2, 1)
        ctor(ctypes.byref(opts), ctypes.byref(out))
        return cls(out)

    @classmethod
    def load(cls, path):
        out = c_void_p()
        _emb_load(path.encode(), ctypes.byref(out))
        return cls(out)

    def save(self, path):
        _emb_save(self, path.encode())

    @property
    def dim(self):
        return _emb_dim(self)

    def fit(self, texts):
        arr = (c_char_p * len(texts))(*[t.encode() for t in texts])
        _emb_fit(self, arr, len(texts))

    def embed(self, texts):
        """One row of `dim` floats per text."""
        arr = (c_char_p * len(texts))(*[t.encode() for t in texts])
        out = (c_f32 * (len(texts) * self.dim))()
        _emb_embed(self, arr, len(texts), out)
        return [list(out[r * self.dim:(r + 1) * self.dim]) for r in range(len(texts))]


def features_from_profiles(graph, profiles, embedder):
    """Every node's profile embedded (users then items, the graph's order): the rows Model.train's
    features= takes. An LSA embedder is fitted on the profiles first."""
    f, dim = P(c_f32)(), c_size()
    _feat_from_profiles(graph, profiles, embedder, ctypes.byref(f), ctypes.byref(dim))
    try:
        n, d = graph.num_users + graph.num_items, dim.value
        flat = f[:n * d]
        return [flat[r * d:(r + 1) * d] for r in range(n)]
    finally:
        _feat_free(f)


def evaluate(ds, split, reclist, protocol="standard", k=10, threshold=4.0, min_train=0, max_train=0, part="test"):
    """Metrics as a dict (see docs/evaluation.md for what each protocol averages over).
    min_train/max_train keep only users with that many training ratings (0: no bound);
    part="valid" scores against the split's validation part instead of its test part."""
    protocols = {"standard": PROTOCOL_STANDARD, "paper": PROTOCOL_PAPER}
    parts = {"test": PART_TEST, "valid": PART_VALID}
    if protocol not in protocols or part not in parts:
        raise ValueError("protocol must be 'standard' or 'paper' and part 'test' or 'valid', not %r and %r"
                         % (protocol, part))
    opts = EvalOptions(2, protocols[protocol], _check_k(k), threshold, parts[part], min_train, max_train)
    m = Metrics(version=1)
    _evaluate(ds, split, reclist, ctypes.byref(opts), ctypes.byref(m))
    out = {name: getattr(m, name) for name, _ in Metrics._fields_ if name != "version"}
    if "protocol" in out:  # its name, as it was asked for, not the C enum's number
        out["protocol"] = {v: n for n, v in protocols.items()}.get(out["protocol"], out["protocol"])
    return out
