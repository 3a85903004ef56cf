"""TableEncoding: categories matched by value, column kinds that drift, rows named as the user sees them.

The property tests change a column's type between fit and transform without
changing its values (integers as floats, booleans as 0/1, numbers as text,
any column as a category) and check that the encoding stays the same or is
refused with an error naming the column and both types, never silently
changed.
"""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynmsnn._tabular import (
    MOSTLY_NUMBERS_MIN_DISTINCT,
    TableEncoding,
    check_labels,
    check_table_input,
    one_hot_rows,
)
from pynmsnn.persistence import _decode, _encode

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


def _frame(column):
    return pd.DataFrame({"c": column})


def _encoding(fit, predict):
    """The transform of ``predict`` by a scaler fitted on ``fit`` (one column 'c')."""
    scaler = TableEncoding().fit(_frame(fit))
    return scaler.transform(_frame(fit)), scaler.transform(_frame(predict))


# ------------------------------------------------------------------ drift: pair by pair
CATEGORY_INTS = pd.Series(pd.Categorical([1, 2, 3, 1, 2]))
BOOLS = pd.Series([True, False, True, True, False])
TEXT = pd.Series(["x", "y", "z", "x", "y"], dtype=object)
FLOATS = pd.Series([1.5, 2.5, 3.5, 1.5, 2.0])
FLAGS = pd.Series([0, 1, 1, 0, 1])  # numeric, from 0 to 1

SAME_MEANING = {
    "category of ints -> floats": (CATEGORY_INTS, lambda s: s.astype(float)),
    "category of ints -> Int64": (CATEGORY_INTS, lambda s: s.astype("Int64")),
    "category of ints -> text": (CATEGORY_INTS, lambda s: s.astype(str)),
    "category of ints -> object": (CATEGORY_INTS, lambda s: s.astype(object)),
    "bool -> ints 0/1": (BOOLS, lambda s: s.astype(int)),
    "bool -> floats 0/1": (BOOLS, lambda s: s.astype(float)),
    "bool -> text 'True'": (BOOLS, lambda s: s.astype(str)),
    "bool -> text '1'": (BOOLS, lambda s: s.astype(int).astype(str)),
    "bool -> nullable boolean": (BOOLS, lambda s: s.astype("boolean")),
    "bool -> category": (BOOLS, lambda s: s.astype("category")),
    "text -> category": (TEXT, lambda s: s.astype("category")),
    "text -> string": (TEXT, lambda s: s.astype("string")),
    "numbers -> text": (FLOATS, lambda s: s.map(repr)),
    "numbers -> category": (FLOATS, lambda s: s.astype("category")),
    "numbers -> Float64": (FLOATS, lambda s: s.astype("Float64")),
    "0/1 numbers -> bool": (FLAGS, lambda s: s.astype(bool)),
    "category of text numbers -> ints": (pd.Series(pd.Categorical(["1", "2", "3", "1", "2"])),
                                         lambda s: s.astype(int)),
}

REFUSED = {
    "text -> label codes": (TEXT, lambda s: s.map({"x": 0, "y": 1, "z": 2}), r"text in fit \('x', 'y', 'z'"),
    "bool -> ints other than 0/1": (BOOLS, lambda s: s.astype(int) + 1, r"booleans in fit .* holds 2 \(int"),
    "category of ints -> words": (CATEGORY_INTS, lambda s: s.map({1: "one", 2: "two", 3: "three"}).astype(object),
                                  r"numbers in fit \(1, 2, 3; dtype category\) but holds 'one' \(str"),
    "category of ints -> bool": (CATEGORY_INTS, lambda s: s.astype(int) > 1, r"holds False \(bool; dtype bool\)"),
    "numbers -> bool": (FLOATS, lambda s: s > 2, r"numbers from 1.5 to 3.5 in fit \(dtype float64\) but holds booleans"),
    "numbers -> words": (FLOATS, lambda s: s.map(lambda v: "high" if v > 2 else "low"),
                         r"numbers in fit \(dtype float64\) but holds 'low' \(str"),
}


@pytest.mark.parametrize("fit, convert", SAME_MEANING.values(), ids=SAME_MEANING)
def test_a_column_of_another_type_with_equal_values_keeps_its_encoding(fit, convert):
    """A type change that keeps every value (1 -> 1.0, True -> 1, 2.5 -> '2.5') keeps the encoding."""
    expected, got = _encoding(fit, convert(fit))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("fit, convert, message", REFUSED.values(), ids=REFUSED)
def test_a_column_of_another_type_with_unknown_meaning_is_refused(fit, convert, message):
    """Values of a new type that equal none of fit's (0/1/2 for 'x'/'y'/'z') are refused, with both dtypes."""
    scaler = TableEncoding().fit(_frame(fit))
    drifted = convert(fit)
    with pytest.raises(ValueError, match=message) as error:
        scaler.transform(_frame(drifted))
    assert str(error.value).startswith("Column 'c' held ")
    assert str(drifted.dtype) in str(error.value) and f"dtype {fit.dtype}" in str(error.value)


def test_an_unseen_value_of_the_type_of_fit_is_all_zeros():
    """A new value of a kind the column held (a new word, a new number) is an unseen category, not an error."""
    _, got = _encoding(TEXT, ["w", "x"])
    np.testing.assert_array_equal(got, [[0, 0, 0], [1, 0, 0]])
    _, got = _encoding(CATEGORY_INTS, [4.0, 1.0])
    np.testing.assert_array_equal(got, [[0, 0, 0], [1, 0, 0]])
    _, got = _encoding(CATEGORY_INTS, ["7", "2"])  # numbers written as text count as numbers
    np.testing.assert_array_equal(got, [[0, 0, 0], [0, 1, 0]])


# ------------------------------------------------------------------ drift: every pairing
POOLS = {
    "ints": [-2, 0, 1, 3, 7],
    "floats": [-1.5, 0.0, 0.25, 1.0, 3.0],
    "bools": [True, False],
    "bools and missing": [True, False, None],
    "words": ["a", "b", "c d", "1x"],
    "words and missing": ["a", "b", None],
    "numbers as text": ["1", "2.5", "-3"],
}
FIT_DTYPES = ["category", "object", "int64", "float64", "bool", "Int64", "boolean", "string", "str"]
PREDICT_TYPES = ["category", "object", "int64", "float64", "bool", "Int64", "Float64", "boolean", "string",
                 "text"]


def _as_type(values, dtype):
    """``values`` as a Series of ``dtype``, or None when pandas cannot convert them without loss."""
    series = pd.Series(values, dtype=object)
    try:
        converted = series.map(str) if dtype == "text" else series.astype(dtype)
    except (TypeError, ValueError):
        return None
    if dtype == "text":
        return converted
    # A lossy conversion (2.5 -> 2, 'a' -> True, None -> 'None') changes values, not only their type.
    same = all(_same_value(a, b) for a, b in zip(converted.astype(object).tolist(), values))
    return converted if same else None


def _same_value(a, b):
    """Equal values of the same sort (both missing, both numbers or booleans, or equal text)."""
    if pd.isna(a) or pd.isna(b):
        return bool(pd.isna(a) and pd.isna(b))
    number_like = lambda v: isinstance(v, (bool, int, float, np.number, np.bool_))  # noqa: E731
    return number_like(a) == number_like(b) and a == b


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    pool=st.sampled_from(sorted(POOLS)),
    fit_dtype=st.sampled_from(FIT_DTYPES),
    predict_type=st.sampled_from(PREDICT_TYPES),
    data=st.data(),
)
def test_type_drift_keeps_the_encoding_or_is_refused_by_name(pool, fit_dtype, predict_type, data):
    """Any pairing of fit and predict types over the same values: the same encoding, or a clear refusal.

    The refusal is a ValueError that names the column and both dtypes; nothing
    is silently encoded differently.
    """
    values = data.draw(st.lists(st.sampled_from(POOLS[pool]), min_size=4, max_size=12))
    fit, predict = _as_type(values, fit_dtype), _as_type(values, predict_type)
    if fit is None or predict is None:
        return  # pandas cannot hold these values in that type
    try:
        scaler = TableEncoding().fit(_frame(fit))
    except ValueError:
        return  # a column that cannot be fitted (a subject of other tests)
    expected = scaler.transform(_frame(fit))
    try:
        got = scaler.transform(_frame(predict))
    except ValueError as error:
        message = str(error)
        assert message.startswith("Column 'c' held ") and str(predict.dtype) in message
        assert f"dtype {fit.dtype}" in message
        return
    np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------ numbers with stray values
@SETTINGS
@given(
    numbers=st.lists(st.integers(0, 99), min_size=MOSTLY_NUMBERS_MIN_DISTINCT, max_size=40, unique=True),
    strays=st.lists(st.sampled_from(["unknown", "n/a", "?", "missing"]), min_size=1, max_size=4, unique=True),
    as_objects=st.booleans(),
)
def test_numbers_with_a_few_stray_values_are_refused_naming_them(numbers, strays, as_objects):
    """An age column with 'unknown' in it: an error names the strays and their rows, not dozens of one-hot inputs."""
    values = [str(n) for n in numbers] + strays
    if as_objects:  # as Excel gives it: ints and strings in one object column
        values = numbers + strays
    index = pd.Index([f"r{k}" for k in range(len(values))])
    column = pd.Series(values, index=index, dtype=object)
    with pytest.raises(ValueError, match=r"Column 'c' holds numbers .* but also ") as error:
        TableEncoding().fit(_frame(column))
    message = str(error.value)
    assert all(repr(stray) in message for stray in strays)
    assert f"rows with index labels ['r{len(numbers)}'" in message  # the first stray's label
    assert "pd.to_numeric(X['c'], errors='coerce')" in message and "astype('category')" in message
    # Declared a category, it is one-hot encoded: one input per distinct value.
    declared = TableEncoding().fit(_frame(column.astype("category")))
    assert declared.n_outputs == len(values)


def test_a_few_numbers_among_words_stay_categories():
    """Sizes like 'S', 'M', 'L', '10': mostly words, so a category, not an error."""
    column = pd.Series(["S", "M", "L", "XL", "10", "12"] * 3)
    scaler = TableEncoding().fit(_frame(column))
    assert scaler.categorical_ == [0] and scaler.n_outputs == 6


# ------------------------------------------------------------------ subnormal and constant ranges
@SETTINGS
@given(steps=st.lists(st.integers(0, 2**20), min_size=2, max_size=30).filter(lambda v: len(set(v)) > 1))
def test_a_subnormal_range_scales_to_the_whole_unit_interval(steps):
    """Values near 1e-310 scale to [0, 1] in order, as larger values would: min to 0, max to 1."""
    tiny = np.array(steps, dtype=np.float64) * 2.0**-1074  # multiples of the smallest subnormal
    X = tiny.reshape(-1, 1)
    scaled = TableEncoding().fit(X).transform(X)[:, 0]
    assert scaled.min() == 0.0 and scaled.max() == 1.0
    order = np.argsort(tiny, kind="stable")
    assert (np.diff(scaled[order]) >= 0).all()
    reference = TableEncoding().fit(np.array(steps, dtype=np.float64).reshape(-1, 1))
    np.testing.assert_allclose(scaled, reference.transform(np.array(steps, float).reshape(-1, 1))[:, 0], atol=1e-6)


def test_a_constant_column_scales_to_zero_whatever_comes_at_predict():
    """A constant column carries nothing: 0 at fit, 0 at predict, even for other values."""
    scaler = TableEncoding().fit(np.array([[5.0, 1.0], [5.0, 2.0]]))
    np.testing.assert_array_equal(scaler.transform(np.array([[5.0, 1.0], [-1e308, 2.0], [7.0, 1.5]]))[:, 0], 0.0)


# ------------------------------------------------------------------ encode: rows, not categories
@SETTINGS
@given(n_categories=st.integers(1, 300), n_rows=st.integers(1, 50), seed=st.integers(0, 2**16))
def test_encode_grows_with_rows_not_categories_and_one_hot_gives_transform(n_categories, n_rows, seed):
    """encode's codes are one int per row and column; one_hot of them is transform exactly."""
    rng = np.random.default_rng(seed)
    fit = pd.DataFrame({"size": rng.normal(size=2 * n_categories + 2),
                        "kind": [f"k{i % n_categories}" for i in range(2 * n_categories + 2)]})
    scaler = TableEncoding().fit(fit)
    X = pd.DataFrame({"size": rng.normal(size=n_rows), "kind": rng.choice([f"k{i}" for i in range(n_categories + 3)], n_rows)})
    numeric, codes = scaler.encode(X)
    assert numeric.shape == (n_rows, 1) and codes.shape == (n_rows, 1)
    assert ((codes >= -1) & (codes < n_categories)).all()
    np.testing.assert_array_equal(scaler.one_hot(numeric, codes), scaler.transform(X))
    np.testing.assert_array_equal(one_hot_rows(numeric, codes, scaler.category_counts), scaler.transform(X))


def test_missing_values_are_a_category_of_their_own():
    """None, NaN and pandas' NA are one 'missing' category, apart from the text '<missing>'."""
    fit = pd.Series(["a", None, "<missing>", "b"], dtype=object)
    scaler = TableEncoding().fit(_frame(fit))
    assert scaler.output_names == ["c=<missing>", "c=a", "c=b", "c=<missing>"]
    got = scaler.transform(_frame(pd.Series([np.nan, pd.NA, "<missing>"], dtype=object)))
    np.testing.assert_array_equal(got, [[0, 0, 0, 1], [0, 0, 0, 1], [1, 0, 0, 0]])


def test_fitted_state_survives_the_json_of_a_saved_model():
    """Categories of every kind, missing ones and subnormal units come back equal through save's JSON."""
    frame = pd.DataFrame({
        "tiny": np.array([1.0, 3.0, 2.0, 5.0]) * 1e-310,
        "flag": [True, False, None, True],
        "code": pd.Categorical([1, 2, 2, 10]),
        "ratio": pd.Categorical([0.5, 1.5, 0.5, 2.0]),
        "word": ["a", "b", None, "a"],
    })
    scaler = TableEncoding().fit(frame)
    restored = TableEncoding()
    for name, value in _decode(json.loads(json.dumps(_encode(dict(vars(scaler)), "the scaler")))).items():
        setattr(restored, name, value)
    assert restored.output_names == scaler.output_names
    np.testing.assert_array_equal(restored.transform(frame), scaler.transform(frame))
    drifted = frame.assign(code=[1.0, 2.0, 2.0, 10.0], flag=[1, 0, None, 1])
    np.testing.assert_array_equal(restored.transform(drifted), scaler.transform(frame))


# ------------------------------------------------------------------ rows and containers
def test_rows_are_named_by_index_label_after_a_shuffle():
    """A NaN found in a shuffled DataFrame is named by its index label, not by its position."""
    frame = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0)})
    frame.loc[7, "b"] = np.nan
    shuffled = frame.sample(frac=1.0, random_state=3)
    assert shuffled.index.get_loc(7) != 7
    with pytest.raises(ValueError, match=r"NaN in column 'b' \(rows with index labels \[7\]\)"):
        TableEncoding().fit(shuffled)
    named = shuffled.rename_axis("CSV line")
    with pytest.raises(ValueError, match=r"\(rows with CSV line \[7\]\)"):
        TableEncoding().fit(named)


def test_target_rows_are_named_by_the_series_index():
    """A missing or infinite target in a Series is named by its index label."""
    y = pd.Series([1.0, np.inf, 2.0], index=[10, 20, 30])
    with pytest.raises(ValueError, match=r"infinity at rows with index labels \[20\]"):
        check_labels(y, "targets")
    with pytest.raises(ValueError, match=r"at rows with index labels \['q'\]"):
        check_labels(pd.Series(["a", None], index=["p", "q"]))


@pytest.mark.parametrize(
    "X, error, message",
    [
        ({"a": [1, 2]}, TypeError, r"X is a dict; .*pd\.DataFrame\(X\)"),
        ([{"a": 1}, {"a": 2}], TypeError, r"X is a list of dicts \(records\); .*pd\.DataFrame\(X\)"),
        (pd.Series([1.0, 2.0, 3.0]), ValueError, r"pandas Series of 3 values.*frame\.iloc\[\[i\]\].*X\.to_frame\(\)"),
        (pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"]), ValueError,
         r"duplicated column names \['a'\] \(at positions \[0, 2\]\).*X\.columns\.duplicated\(\)"),
    ],
    ids=["dict", "records", "series", "duplicated-columns"],
)
def test_containers_that_are_not_tables_are_refused_with_the_fix(X, error, message):
    """A dict, records, a Series or duplicated column names: what X is and what to pass instead."""
    with pytest.raises(error, match=message):
        check_table_input(X)


def test_a_sparse_dok_matrix_is_not_taken_for_a_dict():
    """scipy's dok_matrix subclasses dict; it is left to the sparse-input check, not called a dict."""
    from scipy import sparse

    check_table_input(sparse.dok_matrix(np.eye(3)))


def test_a_series_indexed_by_the_columns_of_fit_is_a_row():
    """frame.iloc[i] is one row: the message says frame.iloc[[i]]."""
    row = pd.Series({"a": 1.0, "b": 2.0})
    with pytest.raises(ValueError, match=r"indexed by the columns of fit, that is a single row; .*iloc\[\[i\]\]"):
        check_table_input(row, feature_names=["a", "b"])
