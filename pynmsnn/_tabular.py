"""Table -> [0, 1] matrix: min-max scaling of numeric columns, one-hot of categorical ones.

Spiking inputs want values in [0, 1] (a firing probability, a current below a
few thresholds), so every estimator scales its input itself, fitted on the
training data and clipped at predict time. Columns of a pandas DataFrame with a
category, object, string or bool dtype are one-hot encoded; a category not seen
in fit becomes all zeros. Text columns whose every value is a number (``'1.5'``)
are read as numbers; a text column of numbers with a few other values
(``'unknown'`` in an age column) is refused with those values named, rather
than one-hot encoded into an input per number.

Categories are matched by value, as scikit-learn's ``OneHotEncoder`` matches
them: ``1``, ``1.0``, ``True`` and the text ``'1'`` are one value, so a column
that comes back at predict time as another type (integers as floats, booleans
as 0/1, numbers as their text) keeps its meaning. A value of a kind the column
did not hold in fit (text in a column of numbers, 2 in a column of booleans)
that equals none of its categories is refused with the column, both types and
the rows, rather than read as an unseen category. Rows are named as the user
sees them: a DataFrame's index labels, an array's positions.

The checks here turn bad input into a ``ValueError`` or ``TypeError`` that
names the column, the value or the rows and says how to fix it: missing or
infinite values, dates, complex numbers, free text, duplicated column names,
a dict or a Series given for a table, and targets that mix label types or lack
labels.
"""

import decimal
import functools
import numbers

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = [
    "TableEncoding",
    "check_finite",
    "check_labels",
    "check_table_input",
    "is_dataframe",
    "mean_std",
    "non_number_error",
    "one_hot_rows",
    "rows_text",
]

MISSING_CATEGORY = "<missing>"

# An object column with more distinct values than this, and more than this
# share of its rows distinct, is free text (names, comments, ids), not a category.
FREE_TEXT_MIN_DISTINCT = 50
FREE_TEXT_MIN_DISTINCT_SHARE = 0.5

# A text column with at least this many distinct numbers, which outnumber its
# distinct other values, is a numeric column with stray values, not a category.
MOSTLY_NUMBERS_MIN_DISTINCT = 5

# Rows scaled at a time: bounds the float64 work space of a transform.
TRANSFORM_BLOCK_ROWS = 2**16

# A column whose half range is below the smallest normal float (a subnormal
# range) is multiplied by this power of two first, so that the inverse of its
# range is a float; multiplying by a power of two is exact.
SUBNORMAL_UNIT = 2.0**64

# What pandas.api.types.infer_dtype says of object columns of dates and times.
_TEMPORAL_KINDS = {"datetime", "datetime64", "date", "time", "timedelta", "timedelta64", "period"}
# ... and of object columns of plain numbers.
_NUMBER_KINDS = {"integer", "floating", "mixed-integer-float", "decimal"}
# ... and of object columns that may hold numbers written as text.
_TEXT_KINDS = {"string", "mixed", "mixed-integer"}

# How str() writes a missing value (``X[c].astype(str)`` makes None 'None').
_MISSING_WORDS = {"nan", "NaN", "None", "<NA>", "NaT"}

# How messages name the kinds of values a categorical column holds.
_KIND_NAMES = {"bool": "booleans", "number": "numbers", "text": "text"}
_KIND_ORDER = {"bool": 0, "number": 1, "text": 2}


#: The fitted attributes of a :class:`TableEncoding`, what :meth:`TableEncoding.get_state` gives.
SCALER_STATE = ("names_", "numeric_", "categorical_", "categories_", "min_", "scale_", "dtypes_", "unit_", "scaling_")
# Fields that older files do not have, and how from_state fills them: the dtypes as
# pynmsnn 0.1.0's categories were matched (numbers, and text), no rescaling, and
# min-max scaling (every model scaled its inputs before ``preprocess`` existed).
_STATE_ADDED_SINCE_0_1 = ("dtypes_", "unit_", "scaling_")
#: What :meth:`TableEncoding.fit` may do to numeric columns.
SCALINGS = ("minmax", "none")


def is_dataframe(X):
    """Whether ``X`` is a pandas DataFrame."""
    return isinstance(X, pd.DataFrame)


def _first_rows(mask, limit=5):
    return np.flatnonzero(mask)[:limit].tolist()


def rows_text(positions, index=None, first_row=0, limit=5):
    """How a message names rows: by an array's positions, or by a DataFrame's index labels.

    Parameters
    ----------
    positions : sequence of int
        Positions of the rows (in ``index`` when given).
    index : pandas.Index, default=None
        The DataFrame's index; its labels name the rows, and its name, when
        set (the command line sets ``'CSV line'``), says what they are.
    first_row : int, default=0
        Position of the first row, added to ``positions`` when there is no index.
    limit : int, default=5
        Rows named at most.

    Examples
    --------
    >>> import pandas as pd
    >>> from pynmsnn._tabular import rows_text
    >>> rows_text([0, 2])
    'rows [0, 2]'
    >>> rows_text([0, 2], pd.Index([10, 11, 12]))
    'rows with index labels [10, 12]'
    >>> rows_text([0], pd.RangeIndex(2, 5, name="CSV line"))
    'rows with CSV line [2]'
    """
    positions = [int(p) for p in list(positions)[:limit]]
    if index is None:
        return f"rows {[first_row + p for p in positions]}"
    labels = index[positions].tolist()
    if index.name is not None:
        return f"rows with {index.name} {labels}"
    return f"rows with index labels {labels}"


def check_finite(values, names, what="X", first_row=0, index=None):
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
        Row number of ``values[0]`` in the message (for blocks of a larger array).
    index : pandas.Index, default=None
        Index of the DataFrame the values come from: rows are named by its labels.

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
    rows = rows_text(_first_rows(column_bad), index, first_row)
    raise ValueError(
        f"Input {what} contains {kind} in column {names[column]!r} ({rows}); "
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


# ------------------------------------------------------------------ what X is
def check_table_input(X, feature_names=None):
    """Refuse, with the fix, containers that are not a table: a dict, records, a Series.

    Also refuses a DataFrame with duplicated column names, which could not be
    told apart at predict time.

    Parameters
    ----------
    X : object
        What was passed as ``X``.
    feature_names : array-like of str, default=None
        The columns of fit, if the model was fitted on a DataFrame: a Series
        indexed by them is a single row.

    Examples
    --------
    >>> import pandas as pd
    >>> from pynmsnn._tabular import check_table_input
    >>> check_table_input({"age": [31, 45]})
    Traceback (most recent call last):
    ...
    TypeError: X is a dict; pass a table instead: pd.DataFrame(X) makes one with a column per key.
    """
    if isinstance(X, dict) and not sparse.issparse(X):  # scipy's dok_matrix is a dict too
        raise TypeError("X is a dict; pass a table instead: pd.DataFrame(X) makes one with a column per key.")
    if isinstance(X, (list, tuple)) and len(X) and isinstance(X[0], dict):
        raise TypeError(
            f"X is a {type(X).__name__} of dicts (records); pass a table instead: pd.DataFrame(X) "
            "makes one with a column per key."
        )
    if isinstance(X, pd.Series):
        raise ValueError(_series_message(X, feature_names))
    if is_dataframe(X) and X.columns.has_duplicates:
        duplicated = X.columns[X.columns.duplicated()].unique().tolist()
        positions = np.flatnonzero(X.columns.isin(duplicated)).tolist()
        raise ValueError(
            f"X has duplicated column names {duplicated} (at positions {positions[:10]}); each column "
            "needs a name of its own. Rename them (X.columns = [...]) or drop the copies: "
            "X.loc[:, ~X.columns.duplicated()]."
        )


def _series_message(X, feature_names):
    """Why a Series is not a table, and what to pass: one row or one column."""
    one_row = "a DataFrame of one row: frame.iloc[[i]] instead of frame.iloc[i] (which keeps the column types)"
    if feature_names is not None and list(X.index) == list(feature_names):
        return (
            f"X is a pandas Series indexed by the columns of fit, that is a single row; pass "
            f"{one_row}, or X.to_frame().T."
        )
    return (
        f"X is a pandas Series of {len(X)} values, but X must be a table of rows and columns. For "
        f"one row, pass {one_row}; for one column, pass X.to_frame()."
    )


# ------------------------------------------------------------------ column kinds
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


def _is_temporal(dtype):
    return (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or isinstance(dtype, pd.PeriodDtype))


def _parse_numbers(column):
    """A text or object column as float64, and which non-missing values were not numbers."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    parsed = pd.to_numeric(column, errors="coerce")
    values = np.asarray(parsed, dtype=np.float64)
    not_numbers = np.isnan(values) & np.asarray(column.notna())
    return values, not_numbers


def _factorize(column):
    """A code per row (-1 where missing) and the distinct values of a column.

    Values equal by value share a code (``1``, ``1.0`` and ``True``); values
    that cannot be hashed (lists, dicts) count by their text.
    """
    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
    except TypeError:
        codes, uniques = pd.factorize(column.map(lambda v: v if _hashable(v) else str(v)), use_na_sentinel=True)
    return np.asarray(codes, dtype=np.intp), list(uniques.tolist() if hasattr(uniques, "tolist") else uniques)


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _check_not_mostly_numbers(column, name):
    """Refuse a text column of numbers with a few stray values, naming them and the fix."""
    codes, uniques = _factorize(column)
    parsed, _ = _parse_numbers(pd.Series(uniques, dtype=object))
    is_number = ~np.isnan(parsed) & np.array([not isinstance(v, (bool, np.bool_)) for v in uniques], dtype=bool)
    n_numbers, strays = int(is_number.sum()), np.flatnonzero(~is_number)
    if not len(strays) or n_numbers < MOSTLY_NUMBERS_MIN_DISTINCT or n_numbers <= len(strays):
        return
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    strays = strays[np.argsort(-counts[strays], kind="stable")]
    shown = ", ".join(f"{uniques[k]!r} ({counts[k]} row{'' if counts[k] == 1 else 's'})" for k in strays[:5])
    more = f" and {len(strays) - 5} more" if len(strays) > 5 else ""
    rows = rows_text(np.flatnonzero(np.isin(codes, strays)), column.index)
    raise ValueError(
        f"Column {name!r} holds numbers ({n_numbers} distinct) but also {shown}{more}, which are not "
        f"numbers ({rows}); one-hot encoding it would make an input of every number. If those "
        f"values mean missing, make them NaN and impute: X[{name!r}] = pd.to_numeric(X[{name!r}], "
        f"errors='coerce'), then sklearn.impute.SimpleImputer; if the column is a category, say "
        f"so: X[{name!r}].astype('category')."
    )


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

    Raises a clear error for dates, complex numbers, free text and numbers
    with a few stray values.
    """
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return False
    if pd.api.types.is_complex_dtype(dtype):
        raise _complex_error(name)
    if pd.api.types.is_numeric_dtype(dtype):
        return True
    if _is_temporal(dtype):
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
    if kind in _TEXT_KINDS:
        _, not_numbers = _parse_numbers(column)
        if column.notna().any() and not not_numbers.any():
            return True  # numbers stored as text, such as '1.5'
        _check_not_mostly_numbers(column, name)
    _check_not_free_text(column, name)
    return False


# ------------------------------------------------------------------ categories by value
def _is_missing(value):
    if value is None or isinstance(value, (str, bytes, list, tuple, dict, set, np.ndarray)):
        return value is None
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _canonical(value):
    """A category as a plain value: bool, int, float or str; None when missing.

    Other objects count by their text, as they are saved with the model as text.
    """
    if _is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (numbers.Real, decimal.Decimal)):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _kind(value):
    """'bool', 'number' or 'text' for a canonical value."""
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, (int, float)) else "text"


def _text_number(text):
    """The number a text stands for ('1', ' 2.5', '1e3'), or None."""
    if "_" in text:
        return None  # float() reads '1_000'; pandas and CSV readers do not
    try:
        number = float(text)
    except ValueError:
        return None
    return None if np.isnan(number) else number


def _fit_categories(column):
    """The categories of a column: its distinct present values, then None if any is missing.

    Booleans come first, then numbers in order, then text in order.
    """
    codes, uniques = _factorize(column)
    values = {}  # a dict keeps one of the values equal by value (1 and 1.0)
    for value in uniques:
        value = _canonical(value)
        if value is not None:
            values.setdefault(value, value)
    ordered = sorted(values, key=lambda v: (_KIND_ORDER[_kind(v)], v))
    if (codes < 0).any():
        ordered.append(None)
    return _object_array(ordered)


class _Lookup:
    """Where each value of a categorical column goes: the fitted categories, indexed by value."""

    def __init__(self, categories):
        self.categories = categories
        self.position, self.missing, self.kinds = {}, -1, set()
        for position, value in enumerate(categories):
            if value is None:
                self.missing = position
            else:
                self.kinds.add(_kind(value))
                self.position.setdefault(value, position)

    @functools.cached_property
    def written(self):
        """The numbers and booleans that text categories write ('1', 'True'), with their positions."""
        numbers, booleans, ambiguous = {}, {}, set()
        for position, value in enumerate(self.categories):
            if not isinstance(value, str):
                continue
            number = _text_number(value)
            if number is not None:
                if number in numbers:
                    ambiguous.add(number)  # '1' and '1.0': a number cannot say which
                numbers[number] = position
            if value.strip().lower() in ("true", "false"):
                booleans[value.strip().lower() == "true"] = position
        for number in ambiguous:
            del numbers[number]
        return numbers, booleans

    def match(self, value):
        """Position of the category equal to ``value``; -1 when unseen; None when its kind is new.

        A value of a kind the column held in fit that equals no category is
        unseen (all zeros). One of another kind is matched by value where it
        can be (the number 1 and the text '1', True and 1); else its meaning
        is unknown and the caller refuses it.
        """
        value = _canonical(value)
        if value is None:
            return self.missing
        found = self.position.get(value)
        if found is not None:
            return found
        kind = _kind(value)
        if kind == "text":
            found, kind = self._match_text(value)
        else:
            numbers, booleans = self.written
            found = (numbers if kind == "number" else booleans).get(value)
        if found is not None:
            return found
        return -1 if kind in self.kinds else None

    def _match_text(self, text):
        """A text matched as the number, boolean or missing value it writes, where the column held those."""
        if text in _MISSING_WORDS and self.missing >= 0:
            return self.missing, "text"
        number = _text_number(text)
        if number is not None:
            found = self.position.get(number)
            return found, ("text" if "text" in self.kinds else "number")
        word = text.strip().lower()
        if word in ("true", "false") and "bool" in self.kinds and "text" not in self.kinds:
            return self.position.get(word == "true"), "bool"
        return None, "text"

    def describe(self, fit_dtype, limit=5):
        """The kinds and first values of the categories, for a message."""
        present = [value for value in self.categories if value is not None]
        if not present:
            return f"only missing values in fit (dtype {fit_dtype})"
        kinds = " and ".join(_KIND_NAMES[k] for k in sorted(self.kinds, key=_KIND_ORDER.get))
        values = ", ".join(repr(v) for v in present[:limit]) + (", ..." if len(present) > limit else "")
        return f"{kinds} in fit ({values}; dtype {fit_dtype})"


def _category_codes(column, categories, name, fit_dtype):
    """The position of each row's category (-1 when unseen), refusing values of a new kind.

    Values equal to a category as they are (1.0 to 1) are found by pandas'
    hash table; only the others (unseen values, text that writes a number)
    go through :meth:`_Lookup.match` one distinct value at a time.
    """
    codes, uniques = _factorize(column)
    positions = np.empty(len(uniques) + 1, dtype=np.int32)
    positions[:-1] = _equal_positions(uniques, categories)
    lookup = _Lookup(categories)
    positions[-1] = lookup.missing  # code -1: a missing value
    for k in np.flatnonzero(positions[:-1] < 0):
        found = lookup.match(uniques[k])
        if found is None:
            rows = rows_text(np.flatnonzero(codes == k), column.index)
            raise _kind_changed_error(name, fit_dtype, lookup, uniques[k], column.dtype, rows)
        positions[k] = found
    return positions[codes]


def _equal_positions(values, categories):
    """Position of the category equal to each value (Python's ==, so 1.0 finds 1), else -1."""
    present = pd.Index(_object_array([v for v in categories if v is not None]), dtype=object)
    if not present.is_unique:
        return np.full(len(values), -1)
    return present.get_indexer(_object_array(values))


def _object_array(values):
    """A 1-D object array of ``values`` (tuples stay items, not rows)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _kind_changed_error(name, fit_dtype, lookup, value, dtype, rows):
    return ValueError(
        f"Column {name!r} held {lookup.describe(fit_dtype)} but holds {value!r} "
        f"({type(value).__name__}; dtype {dtype}) in the {rows}: a value of another type that "
        "equals none of those of fit has no known meaning. Pass the column as in fit: values "
        "of fit, or new values of their type (which count as unseen)."
    )


def _category_names(name, categories):
    return [f"{name}={MISSING_CATEGORY if value is None else value}" for value in categories]


# ------------------------------------------------------------------ numeric columns
def _numeric_column(column, name, fit_dtype="float64", fit_range=None):
    """One numeric column as float64; text must parse as numbers.

    Booleans count as 0 and 1 where those are the ends of the range of fit
    (``fit_range``, None at fit time); elsewhere their meaning is unknown.
    """
    dtype = column.dtype
    if pd.api.types.is_complex_dtype(dtype):
        raise _complex_error(name)
    if pd.api.types.is_bool_dtype(dtype) or (
        dtype == object and pd.api.types.infer_dtype(column, skipna=True) == "boolean"
    ):
        _check_booleans_fit(column, name, fit_dtype, fit_range)
        return column.astype(object).to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_numeric_dtype(dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    if _is_temporal(dtype):
        raise _temporal_error(name, dtype)
    values, not_numbers = _parse_numbers(column)
    if not_numbers.any():
        rows = _first_rows(not_numbers)
        value = column.iloc[rows[0]]
        raise ValueError(
            f"Column {name!r} held numbers in fit (dtype {fit_dtype}) but holds {value!r} "
            f"({type(value).__name__}; dtype {dtype}) in the {rows_text(rows, column.index)}, "
            "which is not a number; fix or drop those rows."
        )
    return values


def _check_booleans_fit(column, name, fit_dtype, fit_range):
    """Refuse booleans for a numeric column whose range in fit was not 0 to 1."""
    if fit_range is None or tuple(fit_range) == (0.0, 1.0):
        return
    low, high = fit_range
    raise ValueError(
        f"Column {name!r} held numbers from {low:g} to {high:g} in fit (dtype {fit_dtype}) but "
        f"holds booleans (dtype {column.dtype}); as 0 and 1 they would have another meaning. "
        "Pass the numbers of fit."
    )


def _numeric_values(frame, columns, names, dtypes, ranges=None):
    """Numeric columns as float64, refusing NaN and infinity by column name."""
    values = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, column in enumerate(columns):
        fit_range = None if ranges is None else ranges[j]
        values[:, j] = _numeric_column(frame.iloc[:, column], names[column], dtypes[column], fit_range)
    check_finite(values, [names[column] for column in columns], index=frame.index)
    return values


def one_hot_rows(numeric, codes, category_counts):
    """The numeric columns, then for each categorical column a 1 in the column of the row's category.

    Parameters
    ----------
    numeric : ndarray of shape (n_samples, n_numeric)
        Scaled numeric columns.
    codes : ndarray of shape (n_samples, n_categorical), int
        Position of each row's category, -1 when unseen (a row of zeros).
    category_counts : list of int
        Number of categories of each categorical column.

    Returns
    -------
    ndarray of shape (n_samples, n_numeric + sum(category_counts)), float32

    Examples
    --------
    >>> import numpy as np
    >>> from pynmsnn._tabular import one_hot_rows
    >>> one_hot_rows(np.array([[0.5], [1.0]]), np.array([[2], [-1]]), [3])
    array([[0.5, 0. , 0. , 1. ],
           [1. , 0. , 0. , 0. ]], dtype=float32)
    """
    rows = np.zeros((len(numeric), numeric.shape[1] + sum(category_counts)), dtype=np.float32)
    rows[:, : numeric.shape[1]] = numeric
    offset, index = numeric.shape[1], np.arange(len(numeric))
    for k, count in enumerate(category_counts):
        seen = codes[:, k] >= 0
        rows[index[seen], offset + codes[seen, k]] = 1.0
        offset += count
    return rows


def _half_span(numeric, low):
    """Half the range of each column: halves cannot overflow, even for values near 1e308."""
    high = numeric.max(axis=0) if len(numeric) else low
    return high * 0.5 - low * 0.5


class TableEncoding:
    """Scale numeric columns to [0, 1]; one-hot encode categorical DataFrame columns.

    Scaling runs in float64 on halved values, so columns with values near the
    largest float (1e308) scale without overflowing; a column whose range is
    subnormal (values near 1e-310) is first multiplied by ``SUBNORMAL_UNIT``,
    so it scales to [0, 1] as well; a constant column scales to 0.

    Categories are matched by value (``1``, ``1.0``, ``True`` and ``'1'`` are
    one value); a value of a kind the column did not hold in fit that equals
    none of its categories is refused (see the module's docstring).

    Attributes
    ----------
    names_ : list of str
        Name of each column.
    dtypes_ : list of str
        Dtype of each column in fit, for messages.
    numeric_, categorical_ : list of int
        Positions of the scaled and of the one-hot encoded columns.
    categories_ : list of ndarray of object
        Categories of each categorical column: booleans, ints, floats and
        strings, then None for missing values if fit had any.
    min_, scale_, unit_ : ndarray of shape (n_numeric,)
        A value ``x`` scales to ``(x * unit_ - min_ * unit_) * scale_``,
        clipped to [0, 1]; ``unit_`` is 1 but for subnormal ranges.
    scaling_ : {'minmax', 'none'}
        'none' when fitted by :meth:`fit_identity`: numbers pass unchanged,
        unclipped.

    Examples
    --------
    >>> import pandas as pd
    >>> from pynmsnn._tabular import TableEncoding
    >>> frame = pd.DataFrame({"size": [1.0, 3.0, 2.0], "colour": ["red", "blue", "red"]})
    >>> TableEncoding().fit(frame).transform(frame)
    array([[0. , 0. , 1. ],
           [1. , 1. , 0. ],
           [0.5, 0. , 1. ]], dtype=float32)
    """

    def fit(self, X, scale=True):
        """Learn column kinds, numeric ranges and categories from ``X``.

        With ``scale=False`` every column must be numeric and passes as it is
        (see :meth:`fit_identity`).
        """
        if not scale:
            return self.fit_identity(X)
        self.scaling_ = "minmax"
        if is_dataframe(X):
            self.names_ = [str(name) for name in X.columns]
            self.dtypes_ = [str(dtype) for dtype in X.dtypes]
            kinds = [_is_numeric(X.iloc[:, j], self.names_[j]) for j in range(X.shape[1])]
            self.numeric_ = [j for j, numeric in enumerate(kinds) if numeric]
            self.categorical_ = [j for j, numeric in enumerate(kinds) if not numeric]
            self.categories_ = [_fit_categories(X.iloc[:, j]) for j in self.categorical_]
            numeric = _numeric_values(X, self.numeric_, self.names_, self.dtypes_)
        else:
            self.names_ = [f"x{j}" for j in range(X.shape[1])]
            self.dtypes_ = [str(X.dtype)] * X.shape[1]
            self.numeric_, self.categorical_, self.categories_ = list(range(X.shape[1])), [], []
            numeric = np.asarray(X, dtype=np.float64)
        self.min_ = numeric.min(axis=0) if len(numeric) else np.zeros(numeric.shape[1])
        half_span = _half_span(numeric, self.min_)
        self.unit_ = np.where((half_span > 0) & (half_span < np.finfo(np.float64).tiny), SUBNORMAL_UNIT, 1.0)
        if (self.unit_ != 1.0).any():
            half_span = _half_span(numeric * self.unit_, self.min_ * self.unit_)
        with np.errstate(divide="ignore", over="ignore"):
            scale = 0.5 / np.where(half_span > 0, half_span, 1.0)
        # A constant column scales to 0.
        self.scale_ = np.where((half_span > 0) & np.isfinite(scale), scale, 0.0)
        return self

    def fit_identity(self, X):
        """Take ``X``'s columns as they are: numbers in, the same numbers out (as float32).

        For users who scale and encode their table themselves. Booleans are 0
        and 1; a categorical column is refused, naming it.
        """
        self.names_ = [str(name) for name in X.columns] if is_dataframe(X) else [f"x{j}" for j in range(X.shape[1])]
        self.dtypes_ = [str(dtype) for dtype in X.dtypes] if is_dataframe(X) else [str(X.dtype)] * X.shape[1]
        if is_dataframe(X):
            text = [name for j, name in enumerate(self.names_)
                    if not (pd.api.types.is_bool_dtype(X.dtypes.iloc[j]) or _is_numeric(X.iloc[:, j], name))]
            if text:
                raise ValueError(
                    f"preprocess=False takes numbers only, but columns {text} are categorical "
                    f"(dtypes {[self.dtypes_[self.names_.index(name)] for name in text]}). Encode them in "
                    "your pipeline first (sklearn.preprocessing.OneHotEncoder), or set preprocess=True to "
                    "let the estimator one-hot encode them."
                )
        n_columns = len(self.names_)
        self.numeric_, self.categorical_, self.categories_ = list(range(n_columns)), [], []
        self.min_, self.scale_, self.unit_ = np.zeros(n_columns), np.ones(n_columns), np.ones(n_columns)
        self.scaling_ = "none"
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
        TableEncoding

        Raises
        ------
        ValueError
            When a field is missing, unknown, of the wrong type or shape, or
            not finite; the message names it.
        """
        _check_state_keys(state)
        state = _with_fields_added_since_0_1(state)
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
        scaler.dtypes_ = _string_list(state["dtypes_"], "dtypes_")
        if len(scaler.dtypes_) != len(scaler.names_):
            raise ValueError(f"the input scaling's dtypes_ has {len(scaler.dtypes_)} entries for "
                             f"{len(scaler.names_)} columns.")
        scaler.unit_ = _finite_vector(state["unit_"], "unit_", n_numeric)
        if (scaler.unit_ <= 0).any():
            raise ValueError(f"the input scaling's unit_ must be positive, got {scaler.unit_.tolist()}.")
        scaler.scaling_ = state["scaling_"]
        identity = (not scaler.categorical_ and (scaler.min_ == 0).all() and (scaler.scale_ == 1).all()
                    and (scaler.unit_ == 1).all())
        if scaler.scaling_ not in SCALINGS or (scaler.scaling_ == "none" and not identity):
            raise ValueError(
                f"the input scaling's scaling_ must be one of {list(SCALINGS)}, and 'none' only with numeric "
                f"columns taken as they are (min_ 0, scale_ 1), got {scaler.scaling_!r}."
            )
        return scaler

    @property
    def n_outputs(self):
        """Width of the transformed matrix."""
        return len(self.numeric_) + sum(self.category_counts)

    @property
    def category_counts(self):
        """Number of categories (one-hot columns) of each categorical column."""
        return [len(categories) for categories in self.categories_]

    @property
    def output_names(self):
        """Name of each transformed column (``column=value`` for one-hot ones)."""
        return self.output_names_for(self.names_)

    def output_names_for(self, names):
        """The output names when the input columns are called ``names``."""
        out = [names[j] for j in self.numeric_]
        for j, categories in zip(self.categorical_, self.categories_):
            out.extend(_category_names(names[j], categories))
        return out

    def check_container(self, X, owner):
        """Refuse a non-DataFrame ``X`` when fit had categorical columns, which only a DataFrame can hold."""
        if self.categorical_ and not is_dataframe(X):
            columns = [self.names_[j] for j in self.categorical_]
            shown = str(columns) if len(columns) <= 10 else f"{columns[:10]} and {len(columns) - 10} more"
            raise TypeError(
                f"{owner} was fitted on a DataFrame with categorical columns {shown}; pass a "
                f"DataFrame with the columns of fit, not a {type(X).__name__}."
            )

    def transform(self, X):
        """Scaled float32 matrix; values outside the fitted range are clipped.

        Rows go through in blocks of ``TRANSFORM_BLOCK_ROWS``, so the float64
        work space stays bounded however many rows ``X`` has; only the float32
        result grows with them.
        """
        return self.one_hot(*self.encode(X))

    def encode(self, X):
        """The scaled numeric columns and the category of each row: transform before one-hot.

        Its size grows with the rows and columns, not with the number of
        categories.

        Returns
        -------
        numeric : ndarray of shape (n_samples, n_numeric), float32
            The numeric columns scaled to [0, 1].
        codes : ndarray of shape (n_samples, n_categorical), int32
            Position of each row's value in ``categories_``, -1 when unseen.
        """
        numeric = np.empty((len(X), len(self.numeric_)), dtype=np.float32)
        rows = X.iloc if is_dataframe(X) else X
        for start in range(0, len(X), TRANSFORM_BLOCK_ROWS):
            block = rows[start : start + TRANSFORM_BLOCK_ROWS]
            numeric[start : start + len(block)] = self._transform_block(block, start)
        codes = np.empty((len(X), len(self.categorical_)), dtype=np.int32)
        for k, (j, categories) in enumerate(zip(self.categorical_, self.categories_)):
            codes[:, k] = _category_codes(X.iloc[:, j], categories, self.names_[j], self.dtypes_[j])
        return numeric, codes

    def one_hot(self, numeric, codes):
        """The transformed matrix from :meth:`encode`'s output (see :func:`one_hot_rows`)."""
        return one_hot_rows(numeric, codes, self.category_counts)

    def ranges(self):
        """The (min, max) of each numeric column in fit (max is min for a constant column)."""
        with np.errstate(divide="ignore"):
            span = np.where(self.scale_ > 0, 1.0 / self.scale_, 0.0) / self.unit_
        return list(zip(self.min_.tolist(), (self.min_ + span).tolist()))

    def _transform_block(self, X, first_row):
        """The numeric columns of some rows, scaled and clipped to [0, 1]."""
        if is_dataframe(X):
            numeric = _numeric_values(X, self.numeric_, self.names_, self.dtypes_, self.ranges())
        else:
            numeric = np.asarray(X, dtype=np.float64)
        unit = self.unit_
        # (x/2 - min/2) * scale * 2 equals (x - min) * scale, and cannot overflow
        # for a value far outside the fitted range; clipping takes any inf to 1.
        with np.errstate(over="ignore", invalid="ignore"):
            if np.any(unit != 1.0):
                numeric = numeric * unit
            scaled = (numeric * 0.5 - self.min_ * unit * 0.5) * self.scale_ * 2.0
        return np.clip(scaled, 0.0, 1.0, out=scaled) if self.scaling_ == "minmax" else scaled


def _with_fields_added_since_0_1(state):
    """``state`` with the fields a file of pynmsnn 0.1.0 lacks filled in as that version worked."""
    if all(name in state for name in _STATE_ADDED_SINCE_0_1):
        return state
    if "dtypes_" in state and "unit_" in state:  # a file written before ``scaling_`` existed
        return {**state, "scaling_": "minmax"}
    numeric = state["numeric_"]
    n_columns = len(state["names_"]) if isinstance(state["names_"], (list, tuple, np.ndarray)) else 0
    filled = {
        "dtypes_": ["float64" if j in numeric else "object" for j in range(n_columns)],
        "unit_": np.ones(len(numeric) if isinstance(numeric, (list, tuple, np.ndarray)) else 0),
        "scaling_": "minmax",
    }
    return {**filled, **state}


def _check_state_keys(state):
    if not isinstance(state, dict):
        raise ValueError(f"the input scaling must be a dict of {list(SCALER_STATE)}, got {type(state).__name__}.")
    missing = [name for name in SCALER_STATE if name not in state and name not in _STATE_ADDED_SINCE_0_1]
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


def _check_finite_targets(values, what, index=None):
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    rows = bad.reshape(len(values), -1).any(axis=1)
    kind = "NaN" if np.isnan(values[bad]).any() else "infinity"
    raise ValueError(
        f"Input y contains {kind} at {rows_text(_first_rows(rows), index)}; drop those rows "
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
    index = y.index if isinstance(y, (pd.Series, pd.DataFrame)) else None  # rows by their labels
    dtype = getattr(y, "dtype", None)
    if dtype is not None and dtype != object and not isinstance(dtype, pd.StringDtype):
        values = np.asarray(y)
        if values.dtype.kind == "f":
            _check_finite_targets(values, what, index)
        if values.dtype.kind != "O":  # nullable pandas columns with NA become objects
            return
    values = np.asarray(y, dtype=object)
    if values.ndim == 0 or len(values) == 0:
        return  # not a column of labels: scikit-learn's checks say so
    missing = np.asarray(pd.isna(values), dtype=bool).reshape(len(values), -1).any(axis=1)
    if missing.any():
        raise ValueError(
            f"y has missing {what} (None or NaN) at {rows_text(_first_rows(missing), index)}; "
            f"drop those rows or give them {what}."
        )
    values = values.ravel()
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind in _NUMBER_KINDS:  # a list or object array of numbers: infinity too
        _check_finite_targets(values.astype(np.float64), what, index)
    if kind not in {"mixed", "mixed-integer"}:
        return  # one type throughout, found in C without a Python loop
    kinds = np.array([_label_kind(value) for value in values])
    if (kinds == "text").any() and (kinds == "number").any():
        a, b = values[np.argmax(kinds == "number")], values[np.argmax(kinds == "text")]
        raise ValueError(
            f"y mixes label types: {a!r} ({type(a).__name__}) and {b!r} ({type(b).__name__}); "
            "make every label one type, e.g. y.astype(str), or numbers only."
        )
