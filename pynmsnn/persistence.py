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

__all__ = ["load", "read_metadata", "save"]

#: Version of the file layout; bumped when a file written now could be misread.
FORMAT_VERSION = 1

#: The only classes :func:`load` builds; a file names one of these keys.
ESTIMATORS = {cls.__name__: cls for cls in (SNNClassifier, SNNRegressor)}

_MAGIC = "pynmsnn model"
# The entries of a model file; "checksum" is absent from files written before it existed.
_ENTRIES = {"format", "metadata", "state_dict", "checksum"}
_ARRAY_KINDS = "biufUO"
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


# ---------------------------------------------------------------- values <-> JSON
def _encode(value, where):
    """A JSON-ready form of ``value``; ``where`` names it in error messages."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return {"__type__": "scalar", "dtype": value.dtype.str, "value": _encode(value.item(), where)}
    if isinstance(value, np.ndarray):
        return _encode_array(value, where)
    if isinstance(value, tuple):
        return {"__type__": "tuple", "items": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__type__": "dict", "items": {k: _encode(v, where) for k, v in value.items()}}
    if isinstance(value, dict):  # keys of other types, such as the labels of class_weight
        return {"__type__": "mapping", "items": [[_encode(k, where), _encode(v, where)] for k, v in value.items()]}
    if isinstance(value, torch.device):
        return {"__type__": "device", "value": str(value)}
    if isinstance(value, np.random.RandomState):
        return {"__type__": "RandomState", "state": _encode(value.get_state(), where)}
    raise TypeError(
        f"Cannot save {where}: a value of type {type(value).__name__} has no safe file format; "
        "give it a number, string, list or numpy array, or use pickle for such estimators."
    )


def _encode_array(array, where):
    if array.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(
            f"Cannot save {where}: numpy arrays of dtype {array.dtype} have no safe file format; "
            "use numbers, strings or booleans."
        )
    flat = array.ravel()
    data = [_encode(v, where) for v in flat] if array.dtype.kind == "O" else flat.tolist()
    return {"__type__": "ndarray", "dtype": array.dtype.str, "shape": list(array.shape), "data": data}


def _decode(value):
    """Inverse of :func:`_encode`."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("__type__")
    if kind == "scalar":
        return np.dtype(_safe_dtype(value["dtype"])).type(_decode(value["value"]))
    if kind == "ndarray":
        return _decode_array(value)
    if kind == "tuple":
        return tuple(_decode(v) for v in value["items"])
    if kind == "dict":
        return {k: _decode(v) for k, v in value["items"].items()}
    if kind == "mapping":
        return {_decode(k): _decode(v) for k, v in value["items"]}
    if kind == "device":
        if not isinstance(value["value"], str) or not _DEVICE.match(value["value"]):
            raise ValueError(f"unexpected device {value['value']!r}")
        return torch.device(value["value"])
    if kind == "RandomState":
        random_state = np.random.RandomState()
        random_state.set_state(_decode(value["state"]))
        return random_state
    raise ValueError(f"unknown value tag {kind!r}")


def _safe_dtype(text):
    dtype = np.dtype(text)
    if dtype.kind not in _ARRAY_KINDS:
        raise ValueError(f"unexpected dtype {text!r}")
    return dtype


def _decode_array(value):
    dtype = _safe_dtype(value["dtype"])
    if dtype.kind == "O":
        # Filled item by item: np.array(list_of_tuples, dtype=object) would nest.
        array = np.empty(len(value["data"]), dtype=object)
        array[:] = [_decode(v) for v in value["data"]] if value["data"] else []
    else:
        array = np.array(value["data"], dtype=dtype)
    return array.reshape(value["shape"])


# ------------------------------------------------------------------ saving
def save(est, path):
    """Save a fitted estimator to ``path`` in a format that cannot carry code.

    The file is a torch file of the network's weights plus a JSON description
    of the rest (parameters, input scaling, classes, training history,
    versions). It is written to a temporary file in the same folder and then
    moved into place, so an interrupted save leaves any older file intact.

    Parameters
    ----------
    est : SNNClassifier or SNNRegressor
        A fitted estimator.
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
    >>> from pynmsnn import SNNClassifier, save, load
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SNNClassifier((16,), n_steps=6, max_iter=20, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.pnm")
    >>> save(clf, path)
    >>> (load(path).predict(X) == clf.predict(X)).all()
    np.True_
    """
    if type(est) not in ESTIMATORS.values():
        raise TypeError(
            f"save() writes {' and '.join(ESTIMATORS)} estimators, got {type(est).__name__}; "
            "use pickle or joblib for other objects."
        )
    if not hasattr(est, "module_"):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(f"This {type(est).__name__} instance is not fitted yet; call fit before save.")
    state, state_dict = est.get_fitted_state()
    metadata = json.dumps(_metadata(state))
    payload = {
        "format": _MAGIC,
        "metadata": metadata,
        "state_dict": state_dict,
        "checksum": _checksum(metadata, state_dict),
    }
    _write_atomically(payload, os.fspath(path))


def _metadata(state):
    """The estimator's fitted state but the weights, with versions, as a JSON-ready dict."""
    from . import __version__

    return {
        "format_version": FORMAT_VERSION,
        "pynmsnn_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "estimator": state["estimator"],
        "params": _encode(state["params"], "the parameters"),
        "network": state["network"],
        "scaler": _encode(state["scaler"], "the input scaling"),
        "attributes": {name: _encode(value, f"attribute {name}") for name, value in state["attributes"].items()},
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
    """Load an estimator written by :func:`save`.

    The file is read with ``torch.load(weights_only=True)``, which builds only
    tensors and plain containers: a file crafted to run code is refused. The
    estimator is rebuilt from its saved parameters; its predictions are those
    of the saved one. It runs on a CUDA GPU when its ``device`` parameter
    allows and torch sees one, else on the CPU (a model trained on a GPU loads
    on a machine without one). A fresh optimizer is made, so ``partial_fit``
    continues training, with Adam's running averages starting anew.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save`.

    Returns
    -------
    SNNClassifier or SNNRegressor
        The fitted estimator.

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
        return _rebuild(metadata, state_dict)
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

    if version == FORMAT_VERSION:
        return
    if isinstance(version, int) and version > FORMAT_VERSION:
        advice = "upgrade pynmsnn (pip install --upgrade pynmsnn) to load it"
    else:
        advice = f"load it with pynmsnn {written_by} and save it again, or refit the model"
    raise ValueError(
        f"{path!r} has pynmsnn model format {version!r} (written by pynmsnn {written_by}); "
        f"this pynmsnn {__version__} reads format {FORMAT_VERSION}: {advice}."
    )


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
    return ESTIMATORS[name].from_fitted_state(state, state_dict)


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
        (fitted attributes), with numpy arrays and tuples restored.
    """
    path = os.fspath(path)
    metadata, _ = _read(path)
    try:
        for key in ("params", "scaler"):
            metadata[key] = _decode(metadata[key])
        metadata["attributes"] = {key: _decode(value) for key, value in metadata["attributes"].items()}
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path!r} is a damaged pynmsnn model file ({_first_line(error)}).") from None
    return metadata

