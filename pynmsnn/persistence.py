"""Save and load fitted estimators in a file that cannot carry code.

A pickle runs whatever code its author put in it, so ``pickle.load`` of a file
from elsewhere is as risky as running a script from there. :func:`save` writes a
torch file that holds only a dict of tensors (the network's weights) and one
JSON string (everything else: the parameters, the input scaling, the classes,
the training history); :func:`load` reads it with ``torch.load(...,
weights_only=True)``, which builds nothing but tensors and plain containers, and
rebuilds the estimator from a fixed list of known classes.

The estimator describes itself (``get_fitted_state``) and rebuilds itself
(``from_fitted_state``), checking every field as ``fit`` would have made it;
this module only turns that description into bytes and back. The JSON holds
plain values; numpy arrays, numpy scalars, tuples and ``RandomState``
instances are written as small tagged objects (``{"__type__": "ndarray",
"dtype": "<i8", ...}``) so that they come back with their exact type: integer,
string and boolean labels stay what they were.

A SHA-256 checksum of the JSON and of every tensor's name, dtype, shape and
bytes is written beside them and checked on load, so a file changed after it
was written (a flipped bit, an edit) is refused. Files written before the
checksum existed have the same layout without it and still load, with every
other check.
"""

import collections
import hashlib
import json
import os
import pickle
import re
import secrets
import stat
import warnings

import numpy as np
import torch

from .estimators import SNNClassifier, SNNRegressor
from .preprocessing import TableScaler

__all__ = ["load", "read_metadata", "save"]

#: Version of the file layout; bumped when a file written now could be misread. Format 2
#: holds a Pipeline or a search; a lone estimator is still written in format 1, which
#: older versions read.
FORMAT_VERSION = 2
ESTIMATOR_FORMAT_VERSION = 1

#: The only classes :func:`load` builds; a file names one of these keys.
ESTIMATORS = {cls.__name__: cls for cls in (SNNClassifier, SNNRegressor)}
#: pynmsnn's transformers a Pipeline in a file may hold.
TRANSFORMERS = {cls.__name__: cls for cls in (TableScaler,)}

_MAGIC = "pynmsnn model"
# The entries of a model file; "checksum" is absent from files written before it existed.
_ENTRIES = {"format", "metadata", "state_dict", "checksum"}
_ARRAY_KINDS = "biufUO"
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


# ---------------------------------------------------------------- values <-> JSON
class _Encoder:
    """Turns values into JSON-ready forms; with ``objects``, estimators too, their tensors collected.

    A fitted pynmsnn estimator becomes its fitted state, its tensors kept in
    ``tensors`` under a prefix of its own; a scikit-learn estimator, transformer
    or cross-validation splitter becomes its public class path and its
    attributes. Anything else that is not plain data is refused.
    """

    def __init__(self, objects=False):
        self.objects = objects
        self.tensors = {}
        self._n_estimators = 0

    def encode(self, value, where):
        """A JSON-ready form of ``value``; ``where`` names it in error messages."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic):
            return {"__type__": "scalar", "dtype": value.dtype.str, "value": self.encode(value.item(), where)}
        if isinstance(value, np.ma.MaskedArray) and self.objects:  # the param_ columns of cv_results_
            return {"__type__": "masked", "data": self.encode(np.ma.getdata(value), where),
                    "mask": self.encode(np.ma.getmaskarray(value), where)}
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, tuple):
            return {"__type__": "tuple", "items": [self.encode(v, where) for v in value]}
        if isinstance(value, (list, collections.UserList)):  # a UserList (scikit-learn 1.6's remainder columns) as a list
            return [self.encode(v, where) for v in value]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"__type__": "dict", "items": {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}}
        if isinstance(value, dict):  # keys of other types, such as the labels of class_weight
            return {"__type__": "mapping",
                    "items": [[self.encode(k, where), self.encode(v, where)] for k, v in value.items()]}
        if isinstance(value, torch.device):
            return {"__type__": "device", "value": str(value)}
        if isinstance(value, np.random.RandomState):
            return {"__type__": "RandomState", "state": self.encode(value.get_state(), where)}
        if self.objects:
            return self._object(value, where)
        raise _unsupported(value, where)

    def _array(self, array, where):
        if array.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(
                f"Cannot save {where}: numpy arrays of dtype {array.dtype} have no safe file format; "
                "use numbers, strings or booleans."
            )
        flat = array.ravel()
        data = [self.encode(v, where) for v in flat] if array.dtype.kind == "O" else flat.tolist()
        return {"__type__": "ndarray", "dtype": array.dtype.str, "shape": list(array.shape), "data": data}

    def _object(self, value, where):
        """An estimator, a splitter, a slice or a numpy dtype, tagged."""
        if type(value) in ESTIMATORS.values():
            return self._estimator(value, where)
        if type(value) in TRANSFORMERS.values():
            return self._transformer(value, where)
        if isinstance(value, slice):
            return {"__type__": "slice", "items": [self.encode(v, where) for v in (value.start, value.stop, value.step)]}
        if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
            return {"__type__": "dtype", "dtype": _safe_dtype(np.dtype(value).str).str, "type": isinstance(value, type)}
        path = _public_sklearn_path(type(value))
        if path is None:
            raise _unsupported(value, where)
        state = _sklearn_state(value, where)
        return {"__type__": "sklearn", "class": path,
                "state": {name: self.encode(item, f"{where}.{name}") for name, item in state.items()}}

    def estimator_state(self, est):
        """The JSON-ready fitted state of a pynmsnn estimator and its tensors, as save writes them."""
        state, state_dict = est.get_fitted_state()
        return {
            "estimator": state["estimator"],
            "params": self.encode(state["params"], "the parameters"),
            "network": state["network"],
            "scaler": self.encode(state["scaler"], "the input scaling"),
            "attributes": {name: self.encode(value, f"attribute {name}") for name, value in state["attributes"].items()},
        }, state_dict

    def _transformer(self, step, where):
        """A pynmsnn transformer: its parameters, and its fitted state when fitted."""
        fitted = step.get_fitted_state() if hasattr(step, "n_features_in_") else None
        return {"__type__": "pynmsnn-transformer", "class": type(step).__name__,
                "params": self.encode(step.get_params(deep=False), f"{where} parameters"),
                "fitted": self.encode(fitted, f"{where} fitted state")}

    def _estimator(self, est, where):
        """A pynmsnn estimator in a larger object: its parameters, and its fitted state when fitted."""
        if not hasattr(est, "module_"):
            return {"__type__": "pynmsnn", "estimator": type(est).__name__,
                    "params": self.encode(est.get_params(deep=False), f"{where} parameters")}
        state, state_dict = self.estimator_state(est)
        prefix = f"{self._n_estimators}/"
        self._n_estimators += 1
        self.tensors.update({prefix + name: tensor for name, tensor in state_dict.items()})
        return {"__type__": "pynmsnn", "tensors": prefix, **state}


def _unsupported(value, where):
    return TypeError(
        f"Cannot save {where}: a value of type {type(value).__name__} has no safe file format; "
        "give it a number, string, list or numpy array, or use pickle for such estimators."
    )


def _encode(value, where):
    """A JSON-ready form of plain data ``value``; ``where`` names it in error messages."""
    return _Encoder().encode(value, where)


class _Decoder:
    """Inverse of :class:`_Encoder`: plain data, and with ``objects`` the estimators of a trusted list.

    Only two kinds of class are ever built: pynmsnn's estimators, through
    ``from_fitted_state``, which checks every field, and the public classes
    of scikit-learn's estimator modules (:func:`_trusted_sklearn_class`),
    given their attributes as ``pickle`` would. A value never becomes a
    function: the file holds data, and only names of trusted classes.
    """

    def __init__(self, state_dict=None, objects=False):
        self.objects = objects
        self.state_dict = state_dict or {}
        self.used = set()

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        kind = value.get("__type__")
        if kind == "scalar":
            return np.dtype(_safe_dtype(value["dtype"])).type(self.decode(value["value"]))
        if kind == "ndarray":
            return self._array(value)
        if kind == "tuple":
            return tuple(self.decode(v) for v in value["items"])
        if kind == "dict":
            return {k: self.decode(v) for k, v in value["items"].items()}
        if kind == "mapping":
            return {self.decode(k): self.decode(v) for k, v in value["items"]}
        if kind == "device":
            if not isinstance(value["value"], str) or not _DEVICE.match(value["value"]):
                raise ValueError(f"unexpected device {value['value']!r}")
            return torch.device(value["value"])
        if kind == "RandomState":
            random_state = np.random.RandomState()
            random_state.set_state(self.decode(value["state"]))
            return random_state
        if self.objects and kind in _OBJECT_TAGS:
            return getattr(self, _OBJECT_TAGS[kind])(value)
        raise ValueError(f"unknown value tag {kind!r}")

    def _array(self, value):
        dtype = _safe_dtype(value["dtype"])
        if dtype.kind == "O":
            # Filled item by item: np.array(list_of_tuples, dtype=object) would nest.
            array = np.empty(len(value["data"]), dtype=object)
            array[:] = [self.decode(v) for v in value["data"]] if value["data"] else []
        else:
            array = np.array(value["data"], dtype=dtype)
        return array.reshape(value["shape"])

    def _masked(self, value):
        return np.ma.MaskedArray(self.decode(value["data"]), mask=self.decode(value["mask"]))

    def _slice(self, value):
        start, stop, step = (self.decode(v) for v in value["items"])
        if not all(v is None or isinstance(v, int) for v in (start, stop, step)):
            raise ValueError(f"a slice must hold integers or None, got {value['items']!r:.80}")
        return slice(start, stop, step)

    def _dtype(self, value):
        dtype = _safe_dtype(value["dtype"])
        return dtype.type if value["type"] else dtype

    def _estimator(self, value):
        """A pynmsnn estimator: rebuilt from its fitted state, or made from its parameters."""
        name = value["estimator"]
        if name not in ESTIMATORS:
            raise ValueError(f"unknown estimator class {name!r}; this pynmsnn loads {sorted(ESTIMATORS)}.")
        cls = ESTIMATORS[name]
        if "tensors" not in value:
            _check_entries(value, {"__type__", "estimator", "params"}, f"the {name}")
            est = cls().set_params(**self.decode(value["params"]))  # an unknown name is a ValueError
            est.check_params()
            return est
        _check_entries(value, {"__type__", "tensors", "estimator", "params", "network", "scaler", "attributes"},
                       f"the {name}")
        prefix = value["tensors"]
        if not isinstance(prefix, str) or prefix in self.used:
            raise ValueError(f"the {name}'s weights must have a prefix of their own, got {prefix!r}")
        self.used.add(prefix)
        tensors = {key[len(prefix):]: t for key, t in self.state_dict.items() if key.startswith(prefix)}
        return _rebuild(value, tensors)

    def _transformer(self, value):
        """A pynmsnn transformer: made from its parameters, its fitted state checked."""
        _check_entries(value, {"__type__", "class", "params", "fitted"}, "a pynmsnn transformer")
        name = value["class"]
        if name not in TRANSFORMERS:
            raise ValueError(f"unknown transformer class {name!r:.80}; this pynmsnn loads {sorted(TRANSFORMERS)}.")
        cls = TRANSFORMERS[name]
        fitted = self.decode(value["fitted"])
        step = cls() if fitted is None else cls.from_fitted_state(fitted)
        return step.set_params(**self.decode(value["params"]))  # an unknown name is a ValueError

    def _sklearn(self, value):
        """A scikit-learn object of a trusted class, given its attributes as pickle gives them."""
        _check_entries(value, {"__type__", "class", "state"}, "a scikit-learn object")
        cls = _trusted_sklearn_class(value["class"])
        state = value["state"]
        if not isinstance(state, dict):
            raise ValueError(f"the attributes of a {value['class']} must be a dict")
        for name in state:
            if not isinstance(name, str) or not _ATTRIBUTE_NAME.match(name) or _names_behaviour(cls, name):
                raise ValueError(f"unexpected attribute name {name!r} of a {value['class']}")
        attributes = {name: self.decode(item) for name, item in state.items()}
        if not hasattr(cls, "get_params"):  # a splitter, made from its parameters
            return cls(**attributes)
        obj = cls.__new__(cls)
        obj.__setstate__(attributes)  # scikit-learn's own: it warns when another version wrote the file
        _rebuild_scorer(obj)
        return obj


_OBJECT_TAGS = {"masked": "_masked", "slice": "_slice", "dtype": "_dtype", "pynmsnn": "_estimator",
                "pynmsnn-transformer": "_transformer", "sklearn": "_sklearn"}
_ATTRIBUTE_NAME = re.compile(r"^_{0,2}[A-Za-z][A-Za-z0-9_]*$")


def _decode(value):
    """Inverse of :func:`_encode`."""
    return _Decoder().decode(value)


def _check_entries(mapping, keys, what):
    if not isinstance(mapping, dict) or set(mapping) != keys:
        found = sorted(mapping) if isinstance(mapping, dict) else type(mapping).__name__
        raise ValueError(f"{what} must hold exactly {sorted(keys)}, got {found}")


def _safe_dtype(text):
    dtype = np.dtype(text)
    if dtype.kind not in _ARRAY_KINDS:
        raise ValueError(f"unexpected dtype {text!r}")
    return dtype


# ---------------------------------------------------------------- scikit-learn objects
#: scikit-learn's modules of estimators, transformers and splitters: the classes a file may name.
SKLEARN_MODULES = (
    "calibration", "cluster", "compose", "covariance", "cross_decomposition", "decomposition",
    "discriminant_analysis", "dummy", "ensemble", "feature_extraction", "feature_selection", "frozen",
    "gaussian_process", "impute", "isotonic", "kernel_approximation", "kernel_ridge", "linear_model",
    "manifold", "mixture", "model_selection", "multiclass", "multioutput", "naive_bayes", "neighbors",
    "neural_network", "pipeline", "preprocessing", "random_projection", "semi_supervised", "svm", "tree",
)
_SKLEARN_CLASS = re.compile(r"^sklearn\.([a-z_]+)\.([A-Za-z][A-Za-z0-9]*)$")


def _trusted_sklearn_class(path):
    """The class a file names, when it is public in one of :data:`SKLEARN_MODULES`, else a ValueError.

    A public class is in its module's ``__all__``; it must be an estimator
    (it has ``get_params``) or a cross-validation splitter (it has ``split``).
    No other module is imported, and nothing the file names is called.
    """
    import importlib

    found = _SKLEARN_CLASS.match(path) if isinstance(path, str) else None
    refusal = ValueError(
        f"unknown class {path!r:.100}; a pynmsnn model file may name pynmsnn's estimators and the public "
        "estimators, transformers and cross-validation splitters of scikit-learn, nothing else"
    )
    if not found or found.group(1) not in SKLEARN_MODULES:
        raise refusal
    module = importlib.import_module(f"sklearn.{found.group(1)}")
    if found.group(2) not in getattr(module, "__all__", ()):
        raise refusal
    try:
        cls = getattr(module, found.group(2))
    except ImportError:  # an experimental class that was not enabled
        raise refusal from None
    if not isinstance(cls, type) or not (hasattr(cls, "get_params") or hasattr(cls, "split")):
        raise refusal
    return cls


def _public_sklearn_path(cls):
    """``'sklearn.<module>.<Class>'`` for a public scikit-learn class that a file may name, else None."""
    parts = cls.__module__.split(".")
    if parts[0] != "sklearn" or len(parts) < 2:
        return None
    path = f"sklearn.{parts[1]}.{cls.__name__}"
    try:
        return path if _trusted_sklearn_class(path) is cls else None
    except ValueError:
        return None


def _names_behaviour(cls, name):
    """Whether ``name`` is a method or property of ``cls``, which an attribute must not hide."""
    import inspect

    found = inspect.getattr_static(cls, name, None)
    return callable(found) or hasattr(found, "__get__")


def _sklearn_state(obj, where):
    """The attributes of a scikit-learn object to write: pickle's state, less what is rebuilt or refused.

    A splitter, which has no ``get_params``, is written as its constructor's parameters.
    """
    if not hasattr(obj, "get_params"):
        import inspect

        names = [p for p in inspect.signature(type(obj)).parameters if p not in ("self", "args", "kwargs")]
        missing = [name for name in names if not hasattr(obj, name)]
        if missing:
            raise TypeError(
                f"Cannot save {where}: a {type(obj).__name__} does not keep its parameters {missing}; "
                "give the search cv=an integer, or a splitter such as KFold or StratifiedKFold."
            )
        return {name: getattr(obj, name) for name in names}
    state = dict(obj.__getstate__())
    state.pop("_metadata_request", None)  # routing requests: set them again after loading
    if state.get("memory") is not None and hasattr(obj, "steps"):
        raise TypeError(
            f"Cannot save {where}: a Pipeline with memory={state['memory']!r} reads cached pickles; "
            "set memory=None before saving."
        )
    if "scorer_" in state and "cv_results_" in state:  # a fitted search: its scorer is rebuilt on load
        if state.get("scoring") is not None and not isinstance(state.get("scoring"), str):
            raise TypeError(
                f"Cannot save {where}: a search's scoring must be None or the name of a scorer to be "
                f"saved, got {type(state['scoring']).__name__}; refit it with one scoring name."
            )
        del state["scorer_"]
    return state


def _rebuild_scorer(obj):
    """Give a loaded search the scorer its ``scoring`` names, as its fit made it."""
    if hasattr(obj, "cv_results_") and hasattr(obj, "scoring") and not hasattr(obj, "scorer_"):
        from sklearn.metrics import check_scoring

        if obj.scoring is not None and not isinstance(obj.scoring, str):
            raise ValueError(f"a search's scoring must be None or a scorer's name, got {obj.scoring!r:.80}")
        obj.scorer_ = check_scoring(obj.estimator, scoring=obj.scoring)


# ------------------------------------------------------------------ saving
def save(est, path):
    """Save a fitted estimator, Pipeline or search to ``path`` in a format that cannot carry code.

    The file is a torch file of the networks' weights plus a JSON description
    of the rest (parameters, input scaling, classes, training history,
    versions). It is written to a temporary file in the same folder and then
    moved into place, so an interrupted save leaves any older file intact.

    A Pipeline, or a fitted search (GridSearchCV, RandomizedSearchCV), is
    written as a tree: its pynmsnn estimators as above, and every
    scikit-learn object in it (steps, ColumnTransformers, splitters) as its
    public class name and its attributes, which must be data: numbers,
    strings, arrays, lists, dicts and other such objects. A value of another
    kind (a function, a tree of a forest, a callable scoring) is refused with
    a TypeError that names it. scikit-learn's metadata routing requests are
    not written: set them again after loading.

    Parameters
    ----------
    est : SNNClassifier, SNNRegressor, Pipeline or fitted search
        A fitted estimator, or a fitted Pipeline or search made of
        scikit-learn objects and pynmsnn estimators.
    path : str or os.PathLike
        Where to write; ``.pnm`` is the customary suffix.

    Returns
    -------
    None

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from pynmsnn import SNNClassifier, save, load
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SNNClassifier((16,), n_steps=6, max_iter=20, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.pnm")
    >>> save(clf, path)
    >>> (load(path).predict(X) == clf.predict(X)).all()
    np.True_
    >>> pipe = make_pipeline(StandardScaler(), SNNClassifier((16,), n_steps=6, max_iter=20, random_state=0))
    >>> save(pipe.fit(X, y), path)
    >>> (load(path).predict(X) == pipe.predict(X)).all()
    np.True_
    """
    if type(est) in ESTIMATORS.values():
        metadata, state_dict = _estimator_file(est)
    elif _is_pipeline_or_search(est):
        metadata, state_dict = _tree_file(est)
    else:
        raise TypeError(
            f"save() writes {' and '.join(ESTIMATORS)} estimators, and Pipelines and fitted searches "
            f"made of scikit-learn objects and pynmsnn estimators, got {type(est).__name__}; use "
            "skops.io, pickle or joblib for other objects."
        )
    metadata = json.dumps(metadata)
    payload = {
        "format": _MAGIC,
        "metadata": metadata,
        "state_dict": state_dict,
        "checksum": _checksum(metadata, state_dict),
    }
    _write_atomically(payload, os.fspath(path))


def _is_pipeline_or_search(obj):
    """Whether ``obj`` is a scikit-learn Pipeline, GridSearchCV or RandomizedSearchCV."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline

    return isinstance(obj, (Pipeline, GridSearchCV, RandomizedSearchCV))


def _estimator_file(est):
    """The metadata and tensors of a file that holds one estimator (format 1)."""
    if not hasattr(est, "module_"):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(f"This {type(est).__name__} instance is not fitted yet; call fit before save.")
    state, state_dict = _Encoder().estimator_state(est)
    return {**_versions(ESTIMATOR_FORMAT_VERSION), **state}, state_dict


def _tree_file(obj):
    """The metadata and tensors of a file that holds a Pipeline or a search (format 2)."""
    import sklearn
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(obj)
    encoder = _Encoder(objects=True)
    tree = encoder.encode(obj, f"the {type(obj).__name__}")
    return {**_versions(FORMAT_VERSION), "sklearn_version": sklearn.__version__, "object": tree}, encoder.tensors


def _versions(format_version):
    from . import __version__

    return {
        "format_version": format_version,
        "pynmsnn_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
    }


def _checksum(metadata, state_dict):
    """``'sha256:...'`` of the metadata text and of each tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256(metadata.encode("utf-8"))
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"\0{name}\0{tensor.dtype}\0{list(tensor.shape)}\0".encode("utf-8"))
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def _write_atomically(payload, path):
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``.

    A file that is replaced keeps its permission bits; a new one gets those of
    any new file (``0o666`` less the umask).
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot save to {path!r}: the folder {folder!r} does not exist; create it first.")
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        # os.open with mode 0o666 gives the file the same permissions as any new file.
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as stream:
            torch.save(payload, stream)
            stream.flush()
            os.fsync(stream.fileno())
        _keep_permissions(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _keep_permissions(path, temporary):
    """Give ``temporary`` the permission bits of the file at ``path``, when there is one."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    os.chmod(temporary, mode)


# ------------------------------------------------------------------ loading
def load(path):
    """Load an estimator, Pipeline or search written by :func:`save`.

    The file is read with ``torch.load(weights_only=True)``, which builds only
    tensors and plain containers: a file crafted to run code is refused. The
    estimator is rebuilt from its saved parameters; its predictions are those
    of the saved one. A Pipeline or search is rebuilt from classes of a fixed
    list only: pynmsnn's estimators, and the public estimators, transformers
    and splitters of scikit-learn's modules (:data:`SKLEARN_MODULES`), which
    receive their saved attributes as a pickle would give them, but never a
    function or an object of another class. A search's scorer is made anew
    from its ``scoring``. It runs on a CUDA GPU when its ``device`` parameter
    allows and torch sees one, else on the CPU (a model trained on a GPU loads
    on a machine without one). A fresh optimizer is made, so ``partial_fit``
    continues training, with Adam's running averages starting anew.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save`.

    Returns
    -------
    SNNClassifier, SNNRegressor, Pipeline or search
        The fitted estimator, or the fitted Pipeline or search.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When ``path`` is not a pynmsnn model file, is damaged or was changed
        after it was written (its checksum differs), holds Python objects (a
        pickle), was written in a format this version does not read, or
        describes a model ``fit`` could not have made: a parameter out of
        range, non-finite weights, an input scaling or targets of the wrong
        shape. The message names the field.

    See Also
    --------
    save : Write the file.

    Notes
    -----
    Predictions are identical to the saved estimator's on the same kind of
    device. A GPU and a CPU sum in different orders, so a model trained on a
    GPU and loaded on a CPU agrees with its GPU predictions up to float32
    rounding.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_diabetes
    >>> from pynmsnn import SNNRegressor, save, load
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = SNNRegressor((16,), n_steps=6, max_iter=20, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "diabetes.pnm")
    >>> save(reg, path)
    >>> loaded = load(path)
    >>> type(loaded).__name__, (loaded.predict(X) == reg.predict(X)).all()
    ('SNNRegressor', np.True_)
    """
    path = os.fspath(path)
    metadata, state_dict = _read(path)
    try:
        return _rebuild_file(metadata, state_dict)
    except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as error:
        detail = f"it lacks the entry {error}" if isinstance(error, KeyError) else _first_line(error)
        raise ValueError(
            f"{path!r} is a damaged or invalid pynmsnn model file: {detail.rstrip('.')}. "
            "Save the model again or refit it."
        ) from None


def _read(path):
    """The decoded metadata and the state dict of a model file, checked."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such model file: {path!r}.")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a folder, not a pynmsnn model file.")
    try:
        with warnings.catch_warnings():
            # torch warns about the pickle protocol of foreign files; the error below says more.
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{path!r} is not a pynmsnn model file: it holds Python objects that a safe load "
            f"refuses to build ({_refused_object(error)}). A pickle or joblib file can run code "
            "when loaded: open it with pickle.load or joblib.load only if you trust where it came from."
        ) from None
    except PermissionError:
        raise
    except Exception:  # noqa: BLE001 - a weights-only read runs no code; any failure means a bad file
        raise ValueError(
            f"{path!r} is not a pynmsnn model file, or it is truncated or damaged; "
            "save the model again with pynmsnn.save."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != _MAGIC:
        raise ValueError(
            f"{path!r} is a torch file but not a pynmsnn model file (no pynmsnn header); "
            "write models with pynmsnn.save."
        )
    unknown = sorted(set(payload) - _ENTRIES, key=str)
    if unknown:
        raise ValueError(f"{path!r} is a damaged pynmsnn model file (unexpected entries {unknown}).")
    try:
        metadata = json.loads(payload["metadata"])
        state_dict = dict(payload["state_dict"])
        version = metadata["format_version"]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path!r} is a damaged pynmsnn model file ({_first_line(error)}).") from None
    _check_version(path, version, metadata.get("pynmsnn_version", "unknown"))
    _check_checksum(path, payload, state_dict)
    return metadata, state_dict


def _check_checksum(path, payload, state_dict):
    """Refuse a file whose metadata or tensors differ from what was written (files without a checksum pass)."""
    if "checksum" not in payload:
        return
    not_tensors = [name for name, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise ValueError(f"{path!r} is a damaged pynmsnn model file (weights {not_tensors} are not tensors).")
    if payload["checksum"] != _checksum(payload["metadata"], state_dict):
        raise ValueError(
            f"{path!r} is damaged or was changed after it was written: its checksum does not match "
            "its contents. Save the model again from the estimator, or refit it."
        )


def _refused_object(error):
    """The object a weights-only load refused, named from torch's message."""
    found = re.search(r"GLOBAL ([\w.]+)", str(error))
    if found:
        return f"it refers to {found.group(1)}"
    return "a plain pickle, or pickle features that a weights-only load does not read"


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _check_version(path, version, written_by):
    from . import __version__

    if version in (ESTIMATOR_FORMAT_VERSION, FORMAT_VERSION):
        return
    if isinstance(version, int) and version > FORMAT_VERSION:
        advice = (f"load it with the pynmsnn that wrote it ({written_by}), installed from that version's "
                  "source with bash setup.sh, or refit the model with this one")
    else:
        advice = f"load it with pynmsnn {written_by} and save it again, or refit the model"
    raise ValueError(
        f"{path!r} has pynmsnn model format {version!r} (written by pynmsnn {written_by}); "
        f"this pynmsnn {__version__} reads format {FORMAT_VERSION} and format {ESTIMATOR_FORMAT_VERSION}: {advice}."
    )


def _rebuild_file(metadata, state_dict):
    """What a file holds: one estimator (format 1), or a Pipeline or search (format 2)."""
    if metadata["format_version"] == ESTIMATOR_FORMAT_VERSION:
        return _rebuild(metadata, state_dict)
    _check_entries(metadata, {"format_version", "pynmsnn_version", "torch_version", "numpy_version",
                              "sklearn_version", "object"}, "the file's description")
    decoder = _Decoder(state_dict, objects=True)
    obj = decoder.decode(metadata["object"])
    unused = sorted({name for name in state_dict if not any(name.startswith(p) for p in decoder.used)})
    if unused or not _is_pipeline_or_search(obj):
        raise ValueError(f"it holds weights {unused[:5]} of no estimator, or no Pipeline or search")
    return obj


def _rebuild(metadata, state_dict):
    """A fitted estimator from the file's metadata and weights; the estimator checks them."""
    name = metadata["estimator"]
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator class {name!r}; this pynmsnn loads {sorted(ESTIMATORS)}.")
    state = {
        "estimator": name,
        "params": _decode(metadata["params"]),
        "network": metadata["network"],
        "scaler": _decode(metadata["scaler"]),
        "attributes": {key: _decode(value) for key, value in metadata["attributes"].items()},
    }
    return ESTIMATORS[name].from_fitted_state(_with_settings_added_since(state), state_dict)


def _with_settings_added_since(state):
    """A file's state with the settings added after it was written, set to what the model did then.

    Files of pynmsnn 0.1.0 predate ``reset``: their neurons subtract. Files written
    before ``preprocess`` existed scaled their inputs.
    """
    network, params = state["network"], state["params"]
    if isinstance(network, dict) and isinstance(params, dict) and "reset" not in network and "reset" not in params:
        state = {**state, "network": {**network, "reset": "subtract"}, "params": {**params, "reset": "subtract"}}
    if isinstance(state["params"], dict) and "preprocess" not in state["params"]:
        state = {**state, "params": {**state["params"], "preprocess": True}}
    return state


def read_metadata(path):
    """The description of a saved model, without building it.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save`.

    Returns
    -------
    dict
        ``format_version``, ``pynmsnn_version``, ``torch_version``,
        ``estimator``, ``params``, ``network``, ``scaler`` and ``attributes``
        (fitted attributes), with numpy arrays and tuples restored. For a
        Pipeline or a search (format 2): ``format_version``, the versions,
        ``sklearn_version`` and ``object``, the tree as the file describes
        it (JSON values, nothing built).
    """
    path = os.fspath(path)
    metadata, _ = _read(path)
    if metadata.get("format_version") == FORMAT_VERSION:
        return metadata
    try:
        for key in ("params", "scaler"):
            metadata[key] = _decode(metadata[key])
        metadata["attributes"] = {key: _decode(value) for key, value in metadata["attributes"].items()}
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path!r} is a damaged pynmsnn model file ({_first_line(error)}).") from None
    return metadata

