"""Table -> [0, 1] matrix: min-max scaling of numeric columns, one-hot of categorical ones.

Spiking inputs want values in [0, 1] (a firing probability, a current below a
few thresholds), so every estimator scales its input itself, fitted on the
training data and clipped at predict time. Columns of a pandas DataFrame with a
category, object, string or bool dtype are one-hot encoded; a category not seen
in fit becomes all zeros. Text columns whose every value is a number (``'1.5'``)
are read as numbers.

The checks here turn bad input into a ``ValueError`` or ``TypeError`` that
names the column, the value or the rows and says how to fix it: missing or
infinite values, dates, complex numbers, free text, and targets that mix label
types or lack labels.
"""

import numpy as np
import pandas as pd

__all__ = ["TableScaler", "check_finite", "check_labels", "is_dataframe", "mean_std", "non_number_error"]

MISSING_CATEGORY = "<missing>"

# An object column with more distinct values than this, and more than this
# share of its rows distinct, is free text (names, comments, ids), not a category.
FREE_TEXT_MIN_DISTINCT = 50
FREE_TEXT_MIN_DISTINCT_SHARE = 0.5

# Rows scaled at a time: bounds the float64 work space of a transform.
TRANSFORM_BLOCK_ROWS = 2**16

# What pandas.api.types.infer_dtype says of object columns of dates and times.
_TEMPORAL_KINDS = {"datetime", "datetime64", "date", "time", "timedelta", "timedelta64", "period"}
# ... and of object columns of plain numbers.
_NUMBER_KINDS = {"integer", "floating", "mixed-integer-float", "decimal"}


#: The fitted attributes of a :class:`TableScaler`, what :meth:`TableScaler.get_state` gives.
SCALER_STATE = ("names_", "numeric_", "categorical_", "categories_", "min_", "scale_")


def is_dataframe(X):
    """Whether ``X`` is a pandas DataFrame."""
    return isinstance(X, pd.DataFrame)


def _first_rows(mask, limit=5):
    return np.flatnonzero(mask)[:limit].tolist()


def check_finite(values, names, what="X", first_row=0):
    """Raise a ValueError naming the column and rows of the first NaN or infinity.

    Parameters
    ----------
    values : ndarray of shape (n_samples, n_columns)
        Numbers to check.
    names : list of str
        Name of each column, used in the message.
    what : str, default='X'
        Name of the input in the message.
    first_row : int, default=0
        Row number of ``values[0]`` in the message (for blocks of a larger input).

    Examples
    --------
    >>> import numpy as np
    >>> from pynmsnn._tabular import check_finite
    >>> check_finite(np.array([[1.0, np.nan]]), ["a", "b"])
    Traceback (most recent call last):
    ...
    ValueError: Input X contains NaN in column 'b' (rows [0]); ...
    """
    with np.errstate(over="ignore", invalid="ignore"):
        # A finite sum needs no temporary array; only a NaN, an inf or an overflowing
        # sum of huge values takes the exact look below.
        if np.isfinite(values.sum(dtype=np.float64)):
            return
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    column = int(np.flatnonzero(bad.any(axis=0))[0])
    column_bad = bad[:, column]
    kind = "NaN" if np.isnan(values[column_bad, column]).any() else "infinity"
    rows = [first_row + row for row in _first_rows(column_bad)]
    raise ValueError(
        f"Input {what} contains {kind} in column {names[column]!r} (rows {rows}); "
        "impute or drop them first, e.g. with sklearn.impute.SimpleImputer."
    )


def non_number_error(X):
    """A clear ValueError for the first text or missing value of a 2-D array-like, else None.

    Called once converting ``X`` to floats has failed, to say which value and
    where; other values (a dict, say) are left to the original error.

    Examples
    --------
    >>> from pynmsnn._tabular import non_number_error
    >>> print(non_number_error([[1.0, "high"]]))
    X holds text that is not a number: 'high' in column 1 (row 0). ...
    """
    try:
        values = np.asarray(X, dtype=object)
    except (TypeError, ValueError):
        return None
    if values.ndim != 2:
        return None
    for row, values_of_row in enumerate(values):
        for column, value in enumerate(values_of_row):
            try:
                float(value)
            except (TypeError, ValueError):
                return _non_number_error(value, row, column)
    return None


def _non_number_error(value, row, column):
    if isinstance(value, (str, bytes)):
        return ValueError(
            f"X holds text that is not a number: {value!r} in column {column} (row {row}). "
            "Arrays must be numeric: pass a pandas DataFrame (text columns are then one-hot "
            "encoded) or encode the text first."
        )
    if value is None or value is pd.NA or value is pd.NaT:
        return ValueError(
            f"Input X contains a missing value ({value}) in column {column} (row {row}); "
            "impute or drop them first, e.g. with sklearn.impute.SimpleImputer."
        )
    return None


def _temporal_error(name, dtype):
    column = f"X[{name!r}]"
    if "timedelta" in str(dtype):
        fix = f"{column}.dt.total_seconds()"
    else:
        fix = f"({column} - {column}.min()).dt.total_seconds() or {column}.dt.dayofyear"
    return TypeError(
        f"Column {name!r} holds dates or times ({dtype}); the network needs numbers. "
        f"Convert it first, e.g. with {fix}, or drop it."
    )


def _complex_error(name):
    return ValueError(
        f"Complex data not supported: column {name!r} holds complex numbers; "
        f"use its real part or magnitude instead (X[{name!r}].real or abs(X[{name!r}]))."
    )


def _parse_numbers(column):
    """A text or object column as float64, and which non-missing values were not numbers."""
    parsed = pd.to_numeric(column, errors="coerce")
    values = np.asarray(parsed, dtype=np.float64)
    not_numbers = np.isnan(values) & np.asarray(column.notna())
    return values, not_numbers


def _all_numbers(column):
    """Whether every present value of a text column reads as a number (and one is present)."""
    present = column[column.notna()]
    if present.empty:
        return False
    # Words show in the first rows: parse a few before parsing them all.
    for rows in (present.iloc[:64], present):
        _, not_numbers = _parse_numbers(rows)
        if not_numbers.any():
            return False
    return True


def _check_not_free_text(column, name):
    present = column[column.notna()]
    try:
        n_distinct = present.nunique()
    except TypeError:  # unhashable values (lists, dicts) count by their text
        n_distinct = present.astype(str).nunique()
    if n_distinct > FREE_TEXT_MIN_DISTINCT and n_distinct > FREE_TEXT_MIN_DISTINCT_SHARE * len(present):
        example = str(present.iloc[0])
        example = example if len(example) <= 40 else example[:37] + "..."
        raise ValueError(
            f"Column {name!r} looks like free text: {n_distinct} distinct values in {len(present)} "
            f"rows (e.g. {example!r}), too many to one-hot encode. Drop it "
            f"(X.drop(columns=[{name!r}])) or turn it into numbers first (a length, a count, "
            f"sklearn.feature_extraction.text.TfidfVectorizer); if it is a category, "
            f"say so with X[{name!r}].astype('category')."
        )


def _is_numeric(column, name):
    """Whether a DataFrame column is scaled as numbers (True) or one-hot encoded (False).

    Raises a clear error for dates, complex numbers and free text.
    """
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return False
    if pd.api.types.is_complex_dtype(dtype):
        raise _complex_error(name)
    if pd.api.types.is_numeric_dtype(dtype):
        return True
    if (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or isinstance(dtype, pd.PeriodDtype)):
        raise _temporal_error(name, dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        return False  # declared a category: one-hot, whatever its values
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind in _TEMPORAL_KINDS:
        raise _temporal_error(name, f"{kind} objects")
    if kind == "complex":
        raise _complex_error(name)
    if kind in _NUMBER_KINDS:
        return True
    if kind == "string" and _all_numbers(column):
        return True  # numbers stored as text, such as '1.5'
    _check_not_free_text(column, name)
    return False


def _as_strings(column):
    """A categorical column as plain strings; missing values become one category."""
    values = column.astype(object)
    return np.where(pd.isna(values), MISSING_CATEGORY, values.astype(str)).astype(object)


def _numeric_column(column, name, first_row=0):
    """One numeric column as float64; text must parse as numbers."""
    dtype = column.dtype
    if pd.api.types.is_complex_dtype(dtype):
        raise _complex_error(name)
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    if (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or isinstance(dtype, pd.PeriodDtype)):
        raise _temporal_error(name, dtype)
    values, not_numbers = _parse_numbers(column)
    if not_numbers.any():
        rows = [first_row + row for row in _first_rows(not_numbers)]
        value = column.iloc[rows[0] - first_row]
        raise ValueError(
            f"Column {name!r} held numbers in fit but holds {value!r} (row {rows[0]}), which "
            f"is not a number; fix or drop those rows (rows {rows})."
        )
    return values


def _numeric_values(frame, columns, names, first_row=0):
    """Numeric columns as float64, refusing NaN and infinity by column name."""
    values = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, column in enumerate(columns):
        values[:, j] = _numeric_column(frame.iloc[:, column], names[column], first_row)
    check_finite(values, [names[column] for column in columns], first_row=first_row)
    return values


def _half_span(numeric, low):
    """Half the range of each column: halves cannot overflow, even for values near 1e308."""
    high = numeric.max(axis=0) if len(numeric) else low
    return high * 0.5 - low * 0.5


class TableScaler:
    """Scale numeric columns to [0, 1]; one-hot encode categorical DataFrame columns.

    Scaling runs in float64 on halved values, so columns with values near the
    largest float (1e308) scale without overflowing; a constant column scales
    to 0.

    Examples
    --------
    >>> import pandas as pd
    >>> from pynmsnn._tabular import TableScaler
    >>> frame = pd.DataFrame({"size": [1.0, 3.0, 2.0], "colour": ["red", "blue", "red"]})
    >>> TableScaler().fit(frame).transform(frame)
    array([[0. , 0. , 1. ],
           [1. , 1. , 0. ],
           [0.5, 0. , 1. ]], dtype=float32)
    """

    def fit(self, X):
        """Learn column kinds, numeric ranges and categories from ``X``."""
        if is_dataframe(X):
            self.names_ = [str(name) for name in X.columns]
            kinds = [_is_numeric(X.iloc[:, j], self.names_[j]) for j in range(X.shape[1])]
            self.numeric_ = [j for j, numeric in enumerate(kinds) if numeric]
            self.categorical_ = [j for j, numeric in enumerate(kinds) if not numeric]
            self.categories_ = [np.unique(_as_strings(X.iloc[:, j])) for j in self.categorical_]
            numeric = _numeric_values(X, self.numeric_, self.names_)
        else:
            self.names_ = [f"x{j}" for j in range(X.shape[1])]
            self.numeric_, self.categorical_, self.categories_ = list(range(X.shape[1])), [], []
            numeric = np.asarray(X, dtype=np.float64)
        self.min_ = numeric.min(axis=0) if len(numeric) else np.zeros(numeric.shape[1])
        half_span = _half_span(numeric, self.min_)
        with np.errstate(divide="ignore", over="ignore"):
            scale = 0.5 / np.where(half_span > 0, half_span, 1.0)
        # A constant column (or one whose range is too small to invert) scales to 0.
        self.scale_ = np.where((half_span > 0) & np.isfinite(scale), scale, 0.0)
        return self

    def get_state(self):
        """The fitted state as plain values: lists, and numpy arrays of numbers and text.

        Returns
        -------
        dict
            The keys of :data:`SCALER_STATE`; :meth:`from_state` rebuilds the scaler.
        """
        return {name: getattr(self, name) for name in SCALER_STATE}

    @classmethod
    def from_state(cls, state):
        """A fitted scaler from :meth:`get_state`'s dict, checked.

        Parameters
        ----------
        state : dict
            The keys of :data:`SCALER_STATE`.

        Returns
        -------
        TableScaler

        Raises
        ------
        ValueError
            When a field is missing, unknown, of the wrong type or shape, or
            not finite; the message names it.
        """
        _check_state_keys(state)
        scaler = cls()
        scaler.names_ = _string_list(state["names_"], "names_")
        scaler.numeric_ = _index_list(state["numeric_"], "numeric_")
        scaler.categorical_ = _index_list(state["categorical_"], "categorical_")
        if sorted(scaler.numeric_ + scaler.categorical_) != list(range(len(scaler.names_))):
            raise ValueError(
                f"the input scaling's numeric_ {scaler.numeric_} and categorical_ {scaler.categorical_} "
                f"must number its {len(scaler.names_)} columns 0..{len(scaler.names_) - 1}, each once."
            )
        scaler.categories_ = _category_arrays(state["categories_"], len(scaler.categorical_))
        n_numeric = len(scaler.numeric_)
        scaler.min_ = _finite_vector(state["min_"], "min_", n_numeric)
        scaler.scale_ = _finite_vector(state["scale_"], "scale_", n_numeric)
        if (scaler.scale_ < 0).any():
            raise ValueError(f"the input scaling's scale_ holds negative values {scaler.scale_.tolist()}.")
        return scaler

    @property
    def n_outputs(self):
        """Width of the transformed matrix."""
        return len(self.numeric_) + sum(len(c) for c in self.categories_)

    @property
    def output_names(self):
        """Name of each transformed column (``column=value`` for one-hot ones)."""
        names = [self.names_[j] for j in self.numeric_]
        for j, categories in zip(self.categorical_, self.categories_):
            names.extend(f"{self.names_[j]}={value}" for value in categories)
        return names

    def transform(self, X):
        """Scaled float32 matrix; values outside the fitted range are clipped.

        Rows go through in blocks of ``TRANSFORM_BLOCK_ROWS``, so the float64
        work space stays bounded however many rows ``X`` has; only the float32
        result grows with them.
        """
        scaled = np.empty((len(X), self.n_outputs), dtype=np.float32)
        rows = X.iloc if is_dataframe(X) else X
        for start in range(0, len(X), TRANSFORM_BLOCK_ROWS):
            block = rows[start : start + TRANSFORM_BLOCK_ROWS]
            scaled[start : start + len(block)] = self._transform_block(block, start)
        return scaled

    def _transform_block(self, X, first_row):
        if is_dataframe(X):
            numeric = _numeric_values(X, self.numeric_, self.names_, first_row)
        else:
            numeric = np.asarray(X, dtype=np.float64)
        # (x/2 - min/2) * scale * 2 equals (x - min) * scale, and cannot overflow
        # for a value far outside the fitted range; clipping takes any inf to 1.
        with np.errstate(over="ignore"):
            scaled = (numeric * 0.5 - self.min_ * 0.5) * self.scale_ * 2.0
        blocks = [np.clip(scaled, 0.0, 1.0, out=scaled)]
        for j, categories in zip(self.categorical_, self.categories_):
            values = _as_strings(X.iloc[:, j])
            # Unseen categories match no column: all zeros.
            blocks.append(values[:, None] == categories[None, :])
        return np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]


def _check_state_keys(state):
    if not isinstance(state, dict):
        raise ValueError(f"the input scaling must be a dict of {list(SCALER_STATE)}, got {type(state).__name__}.")
    missing = [name for name in SCALER_STATE if name not in state]
    unknown = sorted(set(state) - set(SCALER_STATE))
    if missing or unknown:
        raise ValueError(
            f"the input scaling lacks fields {missing} or has unknown fields {unknown}; "
            f"it holds exactly {list(SCALER_STATE)}."
        )


def _string_list(value, name):
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"the input scaling's {name} must be a non-empty list of column names, got {value!r}.")
    return value


def _index_list(value, name):
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"the input scaling's {name} must be a list of column numbers, got {value!r}.")
    return value


def _category_arrays(value, n_categorical):
    if not isinstance(value, list) or len(value) != n_categorical:
        raise ValueError(
            f"the input scaling's categories_ must be a list of {n_categorical} arrays, one per "
            f"categorical column, got {value!r:.200}."
        )
    for j, categories in enumerate(value):
        if not isinstance(categories, np.ndarray) or categories.ndim != 1 or categories.dtype.kind not in "UO":
            raise ValueError(
                f"the input scaling's categories_[{j}] must be a 1-D array of text, got "
                f"{getattr(categories, 'dtype', type(categories).__name__)} of shape {np.shape(categories)}."
            )
    return value


def _finite_vector(value, name, length):
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.shape != (length,):
        raise ValueError(
            f"the input scaling's {name} must be a float array of shape ({length},), one value per "
            f"numeric column, got {getattr(value, 'dtype', type(value).__name__)} of shape {np.shape(value)}."
        )
    if not np.isfinite(value).all():
        raise ValueError(f"the input scaling's {name} holds NaN or infinity: {value.tolist()}.")
    return value


def _label_kind(value):
    """'number', 'text' or 'other' for one present label (bools count as numbers, as in numpy)."""
    if isinstance(value, (str, bytes, np.str_, np.bytes_)):
        return "text"
    return "number" if isinstance(value, (bool, int, float, np.number, np.bool_)) else "other"


def mean_std(values):
    """Mean and standard deviation of each column, finite even for values near 1e308.

    Examples
    --------
    >>> import numpy as np
    >>> from pynmsnn._tabular import mean_std
    >>> mean_std(np.array([[-1e308], [1e308]]))
    (array([0.]), array([1.e+308]))
    """
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = values.mean(axis=0), values.std(axis=0)
    if np.isfinite(mean).all() and np.isfinite(std).all():
        return mean, std
    unit = np.abs(values).max(axis=0)  # squares of huge values overflow: work in units of the peak
    unit = np.where(unit > 0, unit, 1.0)
    return (values / unit).mean(axis=0) * unit, (values / unit).std(axis=0) * unit


def _check_finite_targets(values, what):
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    rows = bad.reshape(len(values), -1).any(axis=1)
    kind = "NaN" if np.isnan(values[bad]).any() else "infinity"
    raise ValueError(
        f"Input y contains {kind} at rows {_first_rows(rows)}; drop those rows "
        f"(X, y = X[mask], y[mask] with mask = np.isfinite(y)) or give them {what}."
    )


def check_labels(y, what="labels"):
    """Raise a clear ValueError when targets are missing or mix text and numbers.

    numpy would turn ``[1, 'a']`` into the strings ``['1', 'a']`` without a word,
    and scikit-learn calls an object array with a None an "unknown" target;
    this says what is wrong and what to do.

    Parameters
    ----------
    y : array-like
        Labels or targets as given to fit.
    what : str, default='labels'
        What to call them in messages ('labels' or 'targets').

    Examples
    --------
    >>> from pynmsnn._tabular import check_labels
    >>> check_labels(["cat", "dog"])
    >>> check_labels([1, "a"])
    Traceback (most recent call last):
    ...
    ValueError: y mixes label types: 1 (int) and 'a' (str); ...
    """
    dtype = getattr(y, "dtype", None)
    if dtype is not None and dtype != object and not isinstance(dtype, pd.StringDtype):
        values = np.asarray(y)
        if values.dtype.kind == "f":
            _check_finite_targets(values, what)
        if values.dtype.kind != "O":  # nullable pandas columns with NA become objects
            return
    values = np.asarray(y, dtype=object)
    if values.ndim == 0 or len(values) == 0:
        return  # not a column of labels: scikit-learn's checks say so
    missing = np.asarray(pd.isna(values), dtype=bool).reshape(len(values), -1).any(axis=1)
    if missing.any():
        raise ValueError(
            f"y has missing {what} (None or NaN) at rows {_first_rows(missing)}; "
            f"drop those rows or give them {what}."
        )
    values = values.ravel()
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind in _NUMBER_KINDS:  # a list or object array of numbers: infinity too
        _check_finite_targets(values.astype(np.float64), what)
    if kind not in {"mixed", "mixed-integer"}:
        return  # one type throughout, found in C without a Python loop
    kinds = np.array([_label_kind(value) for value in values])
    if (kinds == "text").any() and (kinds == "number").any():
        a, b = values[np.argmax(kinds == "number")], values[np.argmax(kinds == "text")]
        raise ValueError(
            f"y mixes label types: {a!r} ({type(a).__name__}) and {b!r} ({type(b).__name__}); "
            "make every label one type, e.g. y.astype(str), or numbers only."
        )
