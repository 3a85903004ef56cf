"""The checks every table that enters pynmsnn goes through: estimators and :class:`~pynmsnn.preprocessing.TableScaler` alike.

:func:`check_X` takes what a user may pass as ``X`` (a DataFrame, a numpy
array, a list of lists, a sparse matrix, a torch tensor) and gives back a
DataFrame as it is or a float array, or raises a ``ValueError`` or
``TypeError`` that names the column, value or shape and says what to do. The
object it checks for (``owner``) keeps scikit-learn's ``n_features_in_`` and
``feature_names_in_``, set when ``reset`` and compared otherwise.
"""

import numpy as np
import torch
from scipy import sparse
from sklearn.utils.validation import check_array, validate_data

from ._tabular import check_finite, check_table_input, is_dataframe, non_number_error

__all__ = ["SPARSE_DENSE_LIMIT", "check_X", "shorten", "untracked"]

# A sparse X larger than this many bytes as a dense float64 array is refused.
SPARSE_DENSE_LIMIT = 2**31


def untracked(values):
    """A torch tensor as a numpy array, detached from autograd and on the CPU; anything else as is."""
    if not isinstance(values, torch.Tensor):
        return values
    tensor = values.detach().cpu()
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


def shorten(names, limit=10):
    """A list for a message, cut after ``limit`` items."""
    names = [str(name) for name in names]
    return str(names) if len(names) <= limit else f"{names[:limit]} and {len(names) - limit} more"


def check_X(owner, X, reset, min_rows=1):
    """``X`` checked for ``owner``: a DataFrame as it is, anything else as a float array.

    Parameters
    ----------
    owner : object
        The estimator or transformer ``X`` is for: its class name is in the
        messages, and it holds ``n_features_in_`` and ``feature_names_in_``.
    X : {array-like, sparse matrix, DataFrame, torch.Tensor}
        The table.
    reset : bool
        True in fit: record the columns. False after: compare with them.
    min_rows : int, default=1
        The fewest rows a fit learns from.

    Returns
    -------
    DataFrame or ndarray of float64 or float32

    Raises
    ------
    ValueError or TypeError
        Naming the column, value or shape at fault and the fix. DataFrame
        columns are matched by position, as in scikit-learn: missing, extra
        or reordered columns are an error that says to pass
        ``X[model.feature_names_in_]``.
    """
    X = untracked(X)
    check_table_input(X, None if reset else getattr(owner, "feature_names_in_", None))
    _check_column_names(owner, X, reset)
    if is_dataframe(X):
        if X.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}); X must have rows.")
        if X.shape[1] == 0:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required; "
                "X must have at least one column."
            )
    else:
        X = _check_array(owner, X)
    _check_shape(owner, X, reset, min_rows)
    return X


def _check_column_names(owner, X, reset):
    """scikit-learn's check of DataFrame column names, its message ending with the fix."""
    try:
        # Names only (ensure_2d=False skips the count): _check_shape checks the count.
        validate_data(owner, X, reset=reset, skip_check_array=True, ensure_2d=False)
    except ValueError as error:
        if not hasattr(owner, "feature_names_in_"):
            raise
        names = list(owner.feature_names_in_)
        raise ValueError(
            f"{error}Pass the columns of fit, in their order: X[model.feature_names_in_], "
            f"which is {shorten(names)}."
        ) from None


def _check_array(owner, X):
    """A numeric array from ``X``, or an error that says which value is wrong and the fix."""
    if sparse.issparse(X):
        X = _densify(owner, X)
    kind = getattr(getattr(X, "dtype", None), "kind", None)
    if kind in ("M", "m"):
        raise TypeError(
            f"X holds dates or times (dtype {X.dtype}); the network needs numbers. Convert "
            "them first, e.g. to seconds: (X - X.min()) / np.timedelta64(1, 's')."
        )
    if kind == "c":
        raise ValueError(
            f"Complex data not supported: X has dtype {X.dtype}; use its real part or "
            "magnitude instead (X.real or abs(X))."
        )
    try:
        X = check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=False,
                        estimator=owner, input_name="X")
    except (TypeError, ValueError) as error:
        clear = non_number_error(X)
        if clear is None:
            raise error
        raise clear from None
    check_finite(X, list(range(X.shape[1])))
    return X


def _densify(owner, X):
    """A sparse ``X`` as a dense array, as MLPClassifier accepts it; refused above SPARSE_DENSE_LIMIT bytes."""
    size = X.shape[0] * X.shape[1] * 8
    if size > SPARSE_DENSE_LIMIT:
        raise TypeError(
            f"X is a sparse matrix of shape {X.shape}; {type(owner).__name__} computes on dense rows and "
            f"this one would take {size / 2**30:,.1f} GiB as float64. Reduce its columns first "
            "(sklearn.decomposition.TruncatedSVD), or pass it in chunks to partial_fit."
        )
    return X.toarray()


def _check_shape(owner, X, reset, min_rows):
    """Enough rows to learn from; the number of columns of fit."""
    name = type(owner).__name__
    if reset and X.shape[0] < min_rows:
        raise ValueError(
            f"X has {X.shape[0]} sample (shape={X.shape}); {name} needs at least {min_rows} rows to learn "
            "each column's range. If X is one feature, pass X.reshape(-1, 1)."
        )
    n_features = getattr(owner, "n_features_in_", None)
    if not reset and n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but {name} is expecting {n_features} "
            f"features as input; pass rows with the {n_features} columns of fit, "
            "in the same order."
        )
    if reset:
        owner.n_features_in_ = X.shape[1]
